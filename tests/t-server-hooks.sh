#!/usr/bin/env bash
# Event hooks through the API: a command hook (event on stdin, VSRV_EVENT_* in the
# environment), a webhook POSTed to a tiny HTTP server on 127.0.0.1, a webhook to a server
# that never answers (the request path is not held up), administrators only, bad hooks.
# tests/run: alone (a request answered within 2.5 s while a hook hangs)
exec python3 "$(dirname "$0")/server/hooks.py"
