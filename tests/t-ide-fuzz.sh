#!/usr/bin/env bash
# Replays the IDE controller's fuzz corpus (fuzz/corpus/ide_io) through the controller under
# ASan/UBSan (build/tests/replay-ide-io, from fuzz/ide_io.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-ide-io
if [ ! -x "$bin" ]; then
  fail ide-fuzz-corpus "missing $bin (run make)"
elif out=$(UBSAN_OPTIONS=halt_on_error=1 timeout 300 "$bin" "$ROOT/fuzz/corpus/ide_io" 2>&1) &&
     grep -q "ran [1-9]" <<<"$out"; then
  pass "ide-fuzz-corpus ($(tail -n1 <<<"$out"))"
else
  echo "$out" | tail -30
  fail ide-fuzz-corpus "sanitizer report, crash or nothing replayed"
fi
finish
