#!/usr/bin/env bash
# The CLI as a newcomer meets it: parser convention, --version, man pages, bash completion,
# saved login, console through a pty, foreign image formats, disk formats, undo-disk
# options, last exits, the events table (tests/server/cli.py).
exec python3 "$(dirname "$0")/server/cli.py"
