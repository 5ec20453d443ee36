#!/usr/bin/env bash
# A VM's start on the etcd inventory with two hosts: its ownership key taken before its
# commit, two starts of one VM on one host, its commit lost or its answer lost.
exec python3 "$(dirname "$0")/server/etcdstart.py"
