#!/usr/bin/env bash
# Replay the etcd answer corpus under ASan/UBSan (build/tests/replay-etcd-kv): range
# responses, their base64 keys and values, each value then read as a row (fuzz/etcd_kv.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-etcd-kv
if [ ! -x "$bin" ]; then
  skip etcd_kv_corpus "replayer not built (make)"
else
  out=$(timeout 120 "$bin" "$ROOT/fuzz/corpus/etcd_kv" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q "ran [1-9]" <<<"$out"; then pass etcd_kv_corpus
  else fail etcd_kv_corpus "rc=$rc: $(grep -v '^vsrv: ' <<<"$out" | tail -n 5 | tr '\n' ' ')"; fi
fi
finish
