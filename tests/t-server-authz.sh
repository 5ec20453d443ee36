#!/usr/bin/env bash
# Authorization rules of the API: administrators stay administrators' business, grants
# within what one holds, attaching disks and networks, grants dying with their object.
exec python3 "$(dirname "$0")/server/authz.py"
