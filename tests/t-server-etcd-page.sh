#!/usr/bin/env bash
# Range reads of the etcd inventory in pages (tests/server/etcd_page.py): VSRV_ETCD_PAGE=3,
# more users, VMs, disks, grants and events than a page, listed whole, and no etcd answer
# with more keys of one range than a page.
d="$(dirname "$0")/server"
if [ ! -x /usr/bin/etcd ]; then
  echo "SKIP etcd-page: /usr/bin/etcd is not installed (etcd-server)"
  exit 0
fi
exec python3 "$d/etcd_page.py"
