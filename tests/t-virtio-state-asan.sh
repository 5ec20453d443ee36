#!/usr/bin/env bash
# The device state-conformance test (tests/unit/test_device_state.c: every kind of the table,
# with corrupt states), the virtio device save/restore unit tests (test_virtio_state*.c) and
# the other virtio unit tests again, against the AddressSanitizer/
# UBSan build (`make asan`, part of `make test`), when built.
source "$(dirname "$0")/lib.sh"
found=0
for t in "$ROOT"/build-asan/tests/unit-device_state "$ROOT"/build-asan/tests/unit-virtio_*; do
	[ -x "$t" ] || continue
	[[ "$t" == *.d ]] && continue
	found=1
	name=$(basename "$t")
	ASAN_OPTIONS=detect_leaks=1 timeout -k 5 120 "$t" >"$ROOT/build/test-logs/asan-$name.out" 2>&1
	rc=$?
	sed -nE 's/^(PASS|FAIL|SKIP) /\1 asan-/p' "$ROOT/build/test-logs/asan-$name.out"
	if [ "$rc" -ne 0 ]; then
		fail "asan-$name" "exit status $rc: $(grep -m1 -E 'ERROR|runtime error' "$ROOT/build/test-logs/asan-$name.out")"
	fi
done
[ "$found" = 1 ] || skip asan-virtio-units "build-asan/tests not built (make asan)"
finish
