#!/usr/bin/env bash
# Failover on a shared etcd inventory: three hosts, one killed, its VMs restarted by the survivor
# the rule picks (docs/cluster.md "Failover"). Without /dev/kvm it proves the decision and the
# claim, not the guest.
# tests/run: alone (failover within a bound of seconds after a kill)
exec python3 "$(dirname "$0")/server/failover.py"
