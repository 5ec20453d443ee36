#!/usr/bin/env bash
# A VM's end on the etcd inventory with two hosts: a restart's commit lost, an end while
# another start's commit is held, a migration's hand-over not recorded, a fence after its VMs
# went on elsewhere.
exec python3 "$(dirname "$0")/server/etcdexit.py"
