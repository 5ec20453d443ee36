#!/usr/bin/env bash
# tests/t-run.sh again against the AddressSanitizer/UBSan build (`make asan`), when built.
source "$(dirname "$0")/lib.sh"
if [ ! -x "$ROOT/build-asan/vsrv" ]; then
	skip asan-run "build-asan/vsrv not built (make asan)"
	exit 0
fi
VSRV=$ROOT/build-asan/vsrv bash "$ROOT/tests/t-run.sh" | sed -E 's/^(PASS|FAIL|SKIP) /\1 asan-/'
exit "${PIPESTATUS[0]}"
