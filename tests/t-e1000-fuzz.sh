#!/usr/bin/env bash
# Replay the e1000 transmit-walker fuzz corpus under ASan/UBSan (build/tests/replay-e1000_tx).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-e1000_tx
if [ ! -x "$bin" ]; then
  skip e1000_tx_corpus "replayer not built (make)"
else
  out=$("$bin" "$ROOT/fuzz/corpus/e1000_tx" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q "ran [1-9]" <<<"$out"; then pass e1000_tx_corpus
  else fail e1000_tx_corpus "rc=$rc: $(tail -n 5 <<<"$out" | tr '\n' ' ')"; fi
fi
finish
