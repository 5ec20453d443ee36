#!/usr/bin/env bash
# The VMM's control socket receiving command lines with descriptors passed (SCM_RIGHTS),
# fuzz/control_fds.c: its corpus (fuzz/corpus/control_fds, by fuzz/control_fds_seeds.py)
# replayed under ASan/UBSan (build/tests/replay-control-fds, built by make), then the
# libFuzzer target (build-fuzz/fuzz-control-fds: make fuzz, or make test's test-prep when
# clang is installed) for a fixed number of runs from a fixed seed, inputs of at most 2 KiB
# (longer seeds cut), new ones into a scratch directory: a few seconds. Each input must
# leave no descriptor open and nothing crashed or hung. And make test's step that builds
# the target (fuzz-test-prep) with a clang that cannot link libFuzzer (its runtime not
# found: a real clang pointed at an empty resource directory, as one without
# libclang-rt-dev): make goes on, saying why, and builds nothing.
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
  skip control-fds-fuzz-runs "no $fz (make fuzz; it needs clang and libFuzzer: libclang-rt-dev)"
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
if ! command -v clang >/dev/null; then
  skip control-fds-fuzz-prep-no-libfuzzer "no clang"
else
  mkdir -p "$TMP/none"
  if out=$(make -C "$ROOT" --no-print-directory fuzz-test-prep FUZZ_BUILD="$TMP/bf" \
             FUZZ_CC="clang -resource-dir=$TMP/none" 2>&1) &&
     grep -q "fuzz-control-fds not built: .*libFuzzer" <<<"$out" && [ ! -e "$TMP/bf" ]; then
    pass control-fds-fuzz-prep-no-libfuzzer
  else
    echo "$out" | tail -10
    fail control-fds-fuzz-prep-no-libfuzzer "make's fuzz-test-prep failed or built with a clang that cannot link libFuzzer"
  fi
fi
finish
