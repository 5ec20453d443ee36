#!/usr/bin/env bash
# Failover on a shared etcd inventory: three hosts, one killed, its VMs restarted by the survivor
# the rule picks (docs/cluster.md "Failover"). Without /dev/kvm it proves the decision and the
# claim, not the guest. Then (tests/server/failover_undo.py) a VM with undo disks moved by a
# failover: the dead host's undo disks still count in its owner's disk_bytes.
# tests/run: alone (failover within a bound of seconds after a kill)
d="$(dirname "$0")/server"
rc=0
python3 "$d/failover.py" || rc=1
python3 "$d/failover_undo.py" || rc=1
exit $rc
