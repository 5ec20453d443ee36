#!/usr/bin/env bash
# Virtual networks under the server: a VM on a NAT network gets its DHCP lease from the
# network's range; two VMs on an internal network echo frames through the bridge the daemon
# created; a bridged network runs on the administrator's bridge. The daemon runs in a
# network namespace of its own (removed afterwards), so its bridges never touch the host.
# tests/run: alone (a network namespace with bridges and NAT)
. "$(dirname "$0")/lib.sh"
if ! have_kvm; then skip server-net "$kvm_reason"; exit 0; fi
NS=vsrvn$$
if [ "$(id -u)" -ne 0 ] || ! ip netns add "$NS" 2>/dev/null; then
	skip server-net "needs root and network namespaces (ip netns add)"
	exit 0
fi
trap 'ip netns del "$NS" 2>/dev/null' EXIT
ip -n "$NS" link set lo up
ip netns exec "$NS" python3 "$(dirname "$0")/server/net.py"
