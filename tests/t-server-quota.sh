#!/usr/bin/env bash
# Per-user quotas (tests/server/quota.py): on the SQLite inventory, then on the etcd
# inventory (VSRV_TEST_INVENTORY=etcd: its checks are named etcd-quota-*), where the check
# of a user's usage and the create must be atomic through the Txn's compare of the user's
# quota row (inv_etcd_quota.c).
d="$(dirname "$0")/server"
rc=0
python3 "$d/quota.py" || rc=1
if [ -x /usr/bin/etcd ]; then
  VSRV_TEST_INVENTORY=etcd python3 "$d/quota.py" || rc=1
else
  echo "SKIP etcd-quota: /usr/bin/etcd is not installed (etcd-server)"
fi
exit $rc
