#!/usr/bin/env bash
# Replay the qcow2 zero-cluster scan corpus under ASan/UBSan (build/tests/replay-qcow-zero): the
# L1 and L2 tables of hostile qcow2 files (src/disk/qcow_zero.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-qcow-zero
if [ ! -x "$bin" ]; then
  skip qcow_zero_corpus "replayer not built (make)"
else
  out=$(timeout 120 "$bin" "$ROOT/fuzz/corpus/qcow-zero" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q "ran [1-9]" <<<"$out"; then pass qcow_zero_corpus
  else fail qcow_zero_corpus "rc=$rc: $(tail -n 5 <<<"$out" | tr '\n' ' ')"; fi
fi
finish
