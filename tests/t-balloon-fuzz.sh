#!/usr/bin/env bash
# Replays the virtio-balloon queue fuzz corpus (fuzz/corpus/balloon) through the real
# device under ASan/UBSan (build/tests/replay-balloon, from fuzz/balloon.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-balloon
if [ ! -x "$bin" ]; then
  fail balloon-fuzz-corpus "missing $bin (run make)"
elif out=$(UBSAN_OPTIONS=halt_on_error=1 timeout 120 "$bin" "$ROOT/fuzz/corpus/balloon" 2>&1) &&
     grep -q "ran [1-9]" <<<"$out"; then
  pass "balloon-fuzz-corpus ($(tail -n1 <<<"$out"))"
else
  echo "$out" | tail -30
  fail balloon-fuzz-corpus "sanitizer report, crash or nothing replayed"
fi
finish
