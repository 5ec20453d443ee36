#!/usr/bin/env bash
# What a quota check costs on the SQLite inventory (tests/server/quota_cost.py): the
# statements of a create checked against a delegated manager's limits do not grow with the
# manager's users (issue 18). On etcd tests/server/etcd_calls.py counts its calls.
d="$(dirname "$0")/server"
python3 "$d/quota_cost.py"
