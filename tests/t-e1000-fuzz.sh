#!/usr/bin/env bash
# Replay the e1000 fuzz corpora under ASan/UBSan: the transmit descriptor walker
# (build/tests/replay-e1000_tx) and the whole device under a hostile guest and network
# (build/tests/replay-e1000_dev).
. "$(dirname "$0")/lib.sh"
for t in e1000_tx e1000_dev; do
  bin=$ROOT/build/tests/replay-$t
  if [ ! -x "$bin" ]; then
    skip ${t}_corpus "replayer not built (make)"
    continue
  fi
  out=$("$bin" "$ROOT/fuzz/corpus/$t" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q "ran [1-9]" <<<"$out"; then pass ${t}_corpus
  else fail ${t}_corpus "rc=$rc: $(tail -n 5 <<<"$out" | tr '\n' ' ')"; fi
done
finish
