#!/usr/bin/env bash
# Replays the virtio-net control-queue fuzz corpus (fuzz/corpus/net_ctrl) through the real
# device under ASan/UBSan (build/tests/replay-net-ctrl, from fuzz/net_ctrl.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-net-ctrl
if [ ! -x "$bin" ]; then
  fail net-ctrl-fuzz-corpus "missing $bin (run make)"
elif out=$(UBSAN_OPTIONS=halt_on_error=1 timeout 120 "$bin" "$ROOT/fuzz/corpus/net_ctrl" 2>&1) &&
     grep -q "ran [1-9]" <<<"$out"; then
  pass "net-ctrl-fuzz-corpus ($(tail -n1 <<<"$out"))"
else
  echo "$out" | tail -30
  fail net-ctrl-fuzz-corpus "sanitizer report, crash or nothing replayed"
fi
finish
