#!/usr/bin/env bash
# Replay the API text corpus under ASan/UBSan (build/tests/replay-api-text): request bodies,
# names, texts, paths, sizes and quotas through the server's checks, each compared with a
# plain reference (fuzz/api_text.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-api-text
if [ ! -x "$bin" ]; then
  skip api_text_corpus "replayer not built (make)"
else
  out=$(timeout 120 "$bin" "$ROOT/fuzz/corpus/api_text" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q "ran [1-9]" <<<"$out"; then pass api_text_corpus
  else fail api_text_corpus "rc=$rc: $(grep -v '^vsrv: ' <<<"$out" | tail -n 5 | tr '\n' ' ')"; fi
fi
finish
