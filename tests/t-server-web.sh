#!/usr/bin/env bash
# The web console's files served by the server (types, security headers, ETag, 404,
# traversal refused, the API still wanting its token), and GET /api/v1/images.
exec python3 "$(dirname "$0")/server/web.py"
