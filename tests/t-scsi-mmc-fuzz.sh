#!/usr/bin/env bash
# Replays the CD/DVD drive's MMC fuzz corpus (fuzz/corpus/scsi_mmc) through the SCSI
# emulation under ASan/UBSan (build/tests/replay-scsi-mmc, from fuzz/scsi_mmc.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-scsi-mmc
if [ ! -x "$bin" ]; then
  fail scsi-mmc-fuzz-corpus "missing $bin (run make)"
elif out=$(UBSAN_OPTIONS=halt_on_error=1 timeout 120 "$bin" "$ROOT/fuzz/corpus/scsi_mmc" 2>&1) &&
     grep -q "ran [1-9]" <<<"$out"; then
  pass "scsi-mmc-fuzz-corpus ($(tail -n1 <<<"$out"))"
else
  echo "$out" | tail -30
  fail scsi-mmc-fuzz-corpus "sanitizer report, crash or nothing replayed"
fi
finish
