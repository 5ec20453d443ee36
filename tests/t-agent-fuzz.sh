#!/usr/bin/env bash
# Replay the guest agent reply corpus under ASan/UBSan (build/tests/replay-agent-reply): the
# server's reader of what a guest agent writes (src/server/agent_proto.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-agent-reply
if [ ! -x "$bin" ]; then
  skip agent_reply_corpus "replayer not built (make)"
else
  out=$("$bin" "$ROOT/fuzz/corpus/agent_reply" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q "ran [1-9]" <<<"$out"; then pass agent_reply_corpus
  else fail agent_reply_corpus "rc=$rc: $(tail -n 5 <<<"$out" | tr '\n' ' ')"; fi
fi
finish
