#!/usr/bin/env bash
# Replays the chipset fuzz corpus (fuzz/corpus/chipset: CFI flash, q35 MCH, ICH9 LPC, ACPI
# PM block, CMOS driven by a hostile guest) under ASan/UBSan (build/tests/replay-chipset,
# from fuzz/chipset.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-chipset
if [ ! -x "$bin" ]; then
  fail chipset-fuzz-corpus "missing $bin (run make)"
else
  replay_corpus "$bin" chipset-fuzz-corpus "$ROOT/fuzz/corpus/chipset"
fi
finish
