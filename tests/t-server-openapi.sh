#!/usr/bin/env bash
# docs/api.yaml as served: valid for a standard OpenAPI validator (npm, into build/npm), a
# client generated from it works against the server, the answer checker of every server test
# catches mismatches, and the web console and the CLI call only documented operations.
exec python3 "$(dirname "$0")/server/openapi.py"
