#!/usr/bin/env bash
# Admission control under concurrent starts: of two VMs started at once on a host with
# memory for one, one is admitted, the other refused (409), on SQLite and on etcd.
exec python3 "$(dirname "$0")/server/memres.py"
