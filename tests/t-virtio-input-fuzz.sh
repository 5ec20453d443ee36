#!/usr/bin/env bash
# Replays the virtio-input fuzz corpus (fuzz/corpus/virtio_input: garbage chains on the
# eventq and statusq, config accesses, resets, event floods) through the real device under
# ASan/UBSan (build/tests/replay-virtio-input, from fuzz/virtio_input.c; the target aborts
# when the event ring leaves its bound or a saved state does not restore).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-virtio-input
if [ ! -x "$bin" ]; then
  fail virtio-input-fuzz-corpus "missing $bin (run make)"
else
  replay_corpus "$bin" virtio-input-fuzz-corpus "$ROOT/fuzz/corpus/virtio_input"
fi
finish
