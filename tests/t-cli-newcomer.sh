#!/usr/bin/env bash
# What a newcomer reads from the CLI, checked against what it does (tests/server/cli_newcomer.py).
exec python3 "$(dirname "$0")/server/cli_newcomer.py"
