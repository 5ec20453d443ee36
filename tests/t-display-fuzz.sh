#!/usr/bin/env bash
# Replays the bochs-display fuzz corpus (fuzz/corpus/bochs_display: driver sequences and
# hostile modes, fuzz/bochs_display_seeds.py) through the real device, the screen callbacks
# and screenshots under ASan/UBSan (build/tests/replay-bochs_display, from fuzz/bochs_display.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-bochs_display
if [ ! -x "$bin" ]; then
  fail display-fuzz-corpus "missing $bin (run make)"
else
  replay_corpus "$bin" display-fuzz-corpus "$ROOT/fuzz/corpus/bochs_display"
fi
finish
