#!/usr/bin/env bash
# A cluster where one host has no KVM: its alive key says so, GET /api/v1/hosts shows it for
# every host, placement and failover choose only hosts with KVM (tests/server/kvmplace.py).
# tests/run: alone (failover within a bound of seconds after a kill)
exec python3 "$(dirname "$0")/server/kvmplace.py"
