#!/usr/bin/env bash
# Replay the virtqueue fuzz corpus under ASan/UBSan (build/tests/replay-virtq).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-virtq
if [ ! -x "$bin" ]; then
  skip virtq_corpus "replayer not built (make)"
else
  out=$("$bin" "$ROOT/fuzz/corpus/virtq" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q "ran [1-9]" <<<"$out"; then pass virtq_corpus
  else fail virtq_corpus "rc=$rc: $(tail -n 5 <<<"$out" | tr '\n' ' ')"; fi
fi
finish
