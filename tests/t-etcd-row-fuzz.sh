#!/usr/bin/env bash
# Replay the etcd row corpus under ASan/UBSan (build/tests/replay-etcd-row): values read back
# from etcd, corrupt or hostile, through ie_row_parse and the field helpers
# (src/server/inv_etcd_json.c; fuzz/etcd_row.c says what is checked).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-etcd-row
if [ ! -x "$bin" ]; then
  skip etcd_row_corpus "replayer not built (make)"
else
  out=$(timeout 120 "$bin" "$ROOT/fuzz/corpus/etcd_row" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q "ran [1-9]" <<<"$out"; then pass etcd_row_corpus
  else fail etcd_row_corpus "rc=$rc: $(grep -v '^vsrv: ' <<<"$out" | tail -n 5 | tr '\n' ' ')"; fi
fi
finish
