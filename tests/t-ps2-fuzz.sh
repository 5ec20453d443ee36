#!/usr/bin/env bash
# Replays the PS/2 fuzz corpus (fuzz/corpus/ps2: the i8042 with its keyboard and mouse under
# a hostile guest, command floods, keys and motion) under ASan/UBSan (build/tests/replay-ps2,
# from fuzz/ps2.c; the target aborts when a queue or mode leaves its range).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-ps2
if [ ! -x "$bin" ]; then
  fail ps2-fuzz-corpus "missing $bin (run make)"
else
  replay_corpus "$bin" ps2-fuzz-corpus "$ROOT/fuzz/corpus/ps2"
fi
finish
