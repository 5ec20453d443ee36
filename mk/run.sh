#!/usr/bin/env bash
# `make run`: boot the demo guest under `vsrv run` and show its console.
set -uo pipefail
cd "$(dirname "$0")/.."
echo "== vsrv run --kernel build/guests/hello.elf --serial stdio   (Ctrl-A x quits)"
./build/vsrv run --kernel build/guests/hello.elf --memory 64M --serial stdio
rc=$?
# The demo guest reports success through the debug-exit port: status (0x10 << 1) | 1 = 33.
if [ "$rc" -eq 33 ]; then
	echo "== the guest exited with its pass status (33)"
	exit 0
fi
echo "== vsrv run exited with status $rc"
exit "$rc"
