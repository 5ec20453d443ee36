#!/usr/bin/env bash
# Replays the libvhd fuzz corpus (fuzz/corpus/vhd, plus any crash reproducers in
# fuzz/regress/) through the gcc ASan/UBSan build of the fuzz target.
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-vhd
if [ ! -x "$bin" ]; then
  fail vhd-fuzz-corpus "missing $bin (run make)"
else
  dirs=("$ROOT/fuzz/corpus/vhd")
  [ -d "$ROOT/fuzz/regress" ] && dirs+=("$ROOT/fuzz/regress")
  if out=$(ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 timeout 120 "$bin" "${dirs[@]}" 2>&1); then
    pass "vhd-fuzz-corpus ($out)"
  else
    echo "$out" | tail -30
    fail vhd-fuzz-corpus "sanitizer report or crash"
  fi
fi
finish
