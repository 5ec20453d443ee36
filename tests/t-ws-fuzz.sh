#!/usr/bin/env bash
# Replay the WebSocket frame corpus under ASan/UBSan (build/tests/replay-ws-frames): the
# server's bridge (src/server/ws.c) reading a client's frames through wslay.
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-ws-frames
if [ ! -x "$bin" ]; then
  skip ws_frames_corpus "replayer not built (make)"
else
  out=$(timeout 120 "$bin" "$ROOT/fuzz/corpus/ws-frames" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q "ran [1-9]" <<<"$out"; then pass ws_frames_corpus
  else fail ws_frames_corpus "rc=$rc: $(tail -n 5 <<<"$out" | tr '\n' ' ')"; fi
fi
finish
