#!/usr/bin/env bash
# Replays the Xen hypercall fuzz corpus (fuzz/corpus/xen_hcall: a Linux PVHVM guest's boot
# hypercalls and hostile ones) through the real dispatch and port table under ASan/UBSan
# (build/tests/replay-xen_hcall, from fuzz/xen_hcall.c).
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-xen_hcall
if [ ! -x "$bin" ]; then
  fail xen-fuzz-corpus "missing $bin (run make)"
elif out=$(UBSAN_OPTIONS=halt_on_error=1 timeout 120 "$bin" "$ROOT/fuzz/corpus/xen_hcall" 2>&1) &&
     grep -q "ran [1-9]" <<<"$out"; then
  pass "xen-fuzz-corpus ($(tail -n1 <<<"$out"))"
else
  echo "$out" | tail -30
  fail xen-fuzz-corpus "sanitizer report, crash or nothing replayed"
fi
finish
