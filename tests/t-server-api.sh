#!/usr/bin/env bash
# The server's API over real HTTP: auth, bad requests, permissions walk, TLS, SSE, CLI.
exec python3 "$(dirname "$0")/server/api.py"
