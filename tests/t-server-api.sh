#!/usr/bin/env bash
# The server's API over real HTTP: auth, bad requests, permissions walk, TLS, SSE, CLI.
# tests/run: alone (200 event streams parked within 8 s)
exec python3 "$(dirname "$0")/server/api.py"
