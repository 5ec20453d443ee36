#!/usr/bin/env bash
# Replay the VNC framing corpus under ASan/UBSan (build/tests/replay-vnc-frame): the lengths
# of a hostile client's messages as the relay finds them (src/vmm/vnc_frame.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-vnc-frame
if [ ! -x "$bin" ]; then
  skip vnc_frame_corpus "replayer not built (make)"
else
  out=$(timeout 120 "$bin" "$ROOT/fuzz/corpus/vnc_frame" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -q "ran [1-9]" <<<"$out"; then pass vnc_frame_corpus
  else fail vnc_frame_corpus "rc=$rc: $(tail -n 5 <<<"$out" | tr '\n' ' ')"; fi
fi
finish
