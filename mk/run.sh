#!/usr/bin/env bash
# `make run`: boot the demo guest under `vsrv run` and show its console.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== vsrv run --kernel build/guests/hello.elf --serial stdio"
exec ./build/vsrv run --kernel build/guests/hello.elf --memory 64M --serial stdio
