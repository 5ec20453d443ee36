#!/usr/bin/env bash
# A VM's kept undo disks through the API: listed, committed (a task) and discarded after the
# VM ended; permissions and hiding; a damaged undo disk; for real with a guest under KVM.
exec python3 "$(dirname "$0")/server/undo.py"
