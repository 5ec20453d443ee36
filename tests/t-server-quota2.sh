#!/usr/bin/env bash
# Quotas of delegated managers (tests/server/quota2.py), and their usage against the sums of
# what the API lists (tests/server/quota_diff.py): on the SQLite inventory, then on the etcd
# inventory (VSRV_TEST_INVENTORY=etcd: its checks are named etcd-quota-*, etcd-quotadiff-*),
# where the check against a manager's limits and the create must be atomic through the Txn's
# compare of the manager's quota row (inv_etcd_quota.c).
d="$(dirname "$0")/server"
rc=0
python3 "$d/quota2.py" || rc=1
python3 "$d/quota_diff.py" || rc=1
if [ -x /usr/bin/etcd ]; then
  VSRV_TEST_INVENTORY=etcd python3 "$d/quota2.py" || rc=1
  VSRV_TEST_INVENTORY=etcd python3 "$d/quota_diff.py" || rc=1
else
  echo "SKIP etcd-quota2: /usr/bin/etcd is not installed (etcd-server)"
fi
exit $rc
