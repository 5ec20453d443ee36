#!/usr/bin/env bash
# Live migration between two hosts on a shared etcd inventory (docs/cluster.md "Live
# migration"). Without /dev/kvm it proves the refusals and that a failed migration leaves the
# VM's status, ownership key and placement untouched; with /dev/kvm a counting guest moves.
# Then a host's drain (drain.py; docs/cluster.md "Drain"), and placement by CPUs, bridges and
# disks with balance on request (balance.py; docs/cluster.md "Placement", "Balance").
python3 "$(dirname "$0")/server/migrate.py"; rc=$?
python3 "$(dirname "$0")/server/drain.py" || rc=1
python3 "$(dirname "$0")/server/balance.py" || rc=1
exit $rc
