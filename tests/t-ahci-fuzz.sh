#!/usr/bin/env bash
# Replays the AHCI command walker's fuzz corpus (fuzz/corpus/ahci_cmd) through the controller
# under ASan/UBSan (build/tests/replay-ahci-cmd, from fuzz/ahci_cmd.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-ahci-cmd
if [ ! -x "$bin" ]; then
  fail ahci-fuzz-corpus "missing $bin (run make)"
elif out=$(UBSAN_OPTIONS=halt_on_error=1 timeout 300 "$bin" "$ROOT/fuzz/corpus/ahci_cmd" 2>&1) &&
     grep -q "ran [1-9]" <<<"$out"; then
  pass "ahci-fuzz-corpus ($(tail -n1 <<<"$out"))"
else
  echo "$out" | tail -30
  fail ahci-fuzz-corpus "sanitizer report, crash or nothing replayed"
fi
finish
