#!/usr/bin/env bash
# kill -9 of the daemon during a burst of creates: consistent inventory, nothing acknowledged lost.
exec python3 "$(dirname "$0")/server/crash.py"
