#!/usr/bin/env bash
# Disk convert and copy as tasks through the API: data kept (vsrv img compare), the target
# sparse and clean (vsrv img check), progress and the end as events, bad requests, a corrupt
# source fails the task leaving nothing behind.
exec python3 "$(dirname "$0")/server/disks.py"
