#!/usr/bin/env bash
# Authorization rules of the API: administrators stay administrators' business, grants
# within what one holds, attaching disks and networks, grants dying with their object;
# then a hostile tenant against the newer endpoints (tenant2.py), and a third wave: host
# paths, images' owners, clones of disks one may not read (tenant3.py).
d="$(dirname "$0")/server"
rc=0
python3 "$d/authz.py" || rc=1
python3 "$d/tenant2.py" || rc=1
python3 "$d/tenant3.py" || rc=1
exit $rc
