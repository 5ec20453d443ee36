#!/usr/bin/env bash
# The VMM's control socket receiving command lines with descriptors passed (SCM_RIGHTS),
# fuzz/control_fds.c: its corpus (fuzz/corpus/control_fds, by fuzz/control_fds_seeds.py)
# replayed under ASan/UBSan (build/tests/replay-control-fds, built by make), then the
# libFuzzer target (build-fuzz/fuzz-control-fds: make fuzz, or make test's test-prep when
# clang is installed) for a fixed number of runs from a fixed seed, inputs of at most 2 KiB
# (longer seeds cut), new ones into a scratch directory: a few seconds. Each input must
# leave no descriptor open and nothing crashed or hung.
. "$(dirname "$0")/lib.sh"
bin=$ROOT/build/tests/replay-control-fds
fz=$ROOT/build-fuzz/fuzz-control-fds
RUNS=${CONTROL_FDS_FUZZ_RUNS:-1000}
if [ ! -x "$bin" ]; then
  fail control-fds-fuzz-corpus "missing $bin (run make)"
elif out=$(UBSAN_OPTIONS=halt_on_error=1 timeout 120 "$bin" "$ROOT/fuzz/corpus/control_fds" 2>&1) &&
     grep -q "ran [1-9]" <<<"$out"; then
  pass "control-fds-fuzz-corpus ($(tail -n1 <<<"$out"))"
else
  echo "$out" | grep -v '^vsrv: ' | tail -30
  fail control-fds-fuzz-corpus "sanitizer report, a descriptor left open, crash or nothing replayed"
fi
if [ ! -x "$fz" ]; then
  skip control-fds-fuzz-runs "no $fz (make fuzz; it needs clang)"
else
  mkdir -p "$TMP/new"
  if out=$(timeout 120 "$fz" -runs="$RUNS" -seed=1 -max_len=2048 "$TMP/new" \
             "$ROOT/fuzz/corpus/control_fds" 2>&1) && grep -q "^Done $RUNS runs" <<<"$out"; then
    pass "control-fds-fuzz-runs ($(grep '^Done' <<<"$out"))"
  else
    echo "$out" | grep -v '^vsrv: ' | tail -30
    fail control-fds-fuzz-runs "libFuzzer found a crash, a leak or a hang in $RUNS runs"
  fi
fi
finish
