#!/usr/bin/env bash
# Cluster mode on a real local 3-member etcd cluster: hosts, ownership keys, the lease watchdog.
# tests/run: alone (lease and watchdog deadlines checked in seconds)
exec python3 "$(dirname "$0")/server/cluster.py"
