#!/usr/bin/env bash
# Snapshots with memory (POST .../snapshots {"memory"}; docs/server.md "Snapshots with
# memory"): refusals, a saved VM's state taken by a snapshot (laid out without KVM), the
# listing's memory, a revert that starts the VM with --restore of the snapshot's state
# (twice), a hardware change refused, delete drops the file, the CLI; under KVM a counting
# guest snapshotted with memory, counting on, reverted: the count goes back and on
# (tests/server/memsnap.py).
exec python3 "$(dirname "$0")/server/memsnap.py"
