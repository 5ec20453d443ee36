#!/usr/bin/env bash
# The server's abuse limits: login throttling and event retention, connection limits and
# slow clients, secrets off the command line and a private data directory, disk-space
# admission and logins on a full disk.
# tests/run: alone (slow clients: the health check answered within a second)
exec python3 "$(dirname "$0")/server/abuse.py"
