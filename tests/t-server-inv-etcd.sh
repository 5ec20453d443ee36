#!/usr/bin/env bash
# The server's black-box tests (tests/server/*.py, those the t-server-*.sh scripts run) on
# the etcd inventory: each runs with VSRV_TEST_INVENTORY=etcd, so lib.py's daemons serve
# with `--cluster EP --inventory etcd` on an etcd member of their own (docs/cluster.md).
# One line per test file: PASS etcd-NAME when all its cases pass, else FAIL etcd-NAME with
# the counts, the inventory operations it met that are still inv_etcd_pending.c's
# -EOPNOTSUPP (the daemons log them), and its first failures (indented, not counted).
# First, inv-etcd-complete: every operation of the etcd backend is written (no inv_etcd_
# or ie_ symbol of build/vsrv-server is still inv_etcd_pending.c's weak one).
# Not run here: cluster.py (cluster mode itself: it gives its own --cluster and reads
# DATA/daemon.log). VSRV_INV_ETCD_TESTS="api vms": only those files.
set -u
cd "$(dirname "$0")/.."
bin=build/vsrv-server

if [ ! -x "$bin" ]; then
  echo "FAIL inv-etcd-build: $bin is not built (make all)"
  exit 1
fi
if [ ! -x /usr/bin/etcd ]; then
  echo "SKIP inv-etcd: /usr/bin/etcd is not installed (etcd-server)"
  exit 0
fi

# --- every operation written ---------------------------------------------------------------
weak=$(nm "$bin" | awk '$2 ~ /^[WwVv]$/ && $3 ~ /^(inv_etcd_|ie_)/ { print $3 }' | sort)
if [ -z "$weak" ]; then
  echo "PASS inv-etcd-complete"
else
  echo "FAIL inv-etcd-complete: $(echo "$weak" | wc -l) functions are still inv_etcd_pending.c's -EOPNOTSUPP: $(echo $weak | sed 's/inv_etcd_//g')"
fi

tmp=$(mktemp -d /tmp/vsrv-inv-etcd.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# --- the options ----------------------------------------------------------------------------
# check NAME EXPECTED-STATUS EXPECTED-TEXT ARGS...
check() {
  local name=$1 want=$2 text=$3 out st
  shift 3
  out=$(timeout 20 "$bin" serve --data-dir "$tmp/opt" --no-tcp "$@" </dev/null 2>&1); st=$?
  if [ "$st" -eq "$want" ] && [[ "$out" == *"$text"* ]]; then
    echo "PASS $name"
  else
    echo "FAIL $name: exit $st, wanted $want and '$text': $(echo "$out" | head -n 2 | tr '\n' ' ')"
  fi
}
check inv-etcd-option-bad 2 "--inventory is sqlite or etcd" --inventory mysql
check inv-etcd-option-needs-cluster 2 "--inventory etcd needs --cluster" --inventory etcd
check inv-etcd-option-prefix-alone 2 "--inventory-prefix is for --inventory etcd" \
  --inventory-prefix /x/
check inv-etcd-option-prefix-bad 2 "--inventory-prefix wants a key prefix" \
  --cluster http://127.0.0.1:1 --host-url http://127.0.0.1:2 --inventory etcd \
  --inventory-prefix x
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
check inv-etcd-unreachable 1 "cannot open the inventory on etcd http://127.0.0.1:$port" \
  --cluster "http://127.0.0.1:$port" --host-url http://127.0.0.1:2 --inventory etcd

# --- the server's tests on the etcd inventory -----------------------------------------------
names=${VSRV_INV_ETCD_TESTS:-}
if [ -z "$names" ]; then
  for s in tests/t-server-*.sh; do
    py=$(grep -o 'server/[a-z_]*\.py' "$s" | head -n 1)
    [ -n "$py" ] || continue
    n=$(basename "$py" .py)
    [ "$n" = cluster ] && continue
    names="$names $n"
  done
fi
for n in $names; do
  mkdir -p "$tmp/logs/$n"
  out="$tmp/$n.out"
  VSRV_TEST_INVENTORY=etcd VSRV_TEST_LOG_DIR="$tmp/logs/$n" \
    timeout -k 5 300 python3 "tests/server/$n.py" </dev/null >"$out" 2>&1
  rc=$?
  np=$(grep -c '^PASS ' "$out"); nf=$(grep -c '^FAIL ' "$out"); ns=$(grep -c '^SKIP ' "$out")
  pending=$(cat "$tmp/logs/$n"/*.log 2>/dev/null | grep -o '[a-z_]*: not written yet' |
            sed 's/: not written yet//' | sort -u | tr '\n' ' ')
  if [ "$rc" -eq 0 ] && [ "$nf" -eq 0 ] && [ "$np" -gt 0 ]; then
    echo "PASS etcd-$n ($np passed, $ns skipped)"
    continue
  fi
  if [ "$rc" -eq 0 ] && [ "$nf" -eq 0 ] && [ "$ns" -gt 0 ]; then
    echo "SKIP etcd-$n: $(grep -m1 '^SKIP ' "$out" | cut -c6-200)"
    continue
  fi
  why="$np passed, $nf failed, $ns skipped, exit $rc"
  [ -n "$pending" ] && why="$why; not written yet: $pending"
  echo "FAIL etcd-$n: $why"
  { grep '^FAIL ' "$out" | head -n 5
    [ "$nf" -eq 0 ] && tail -n 3 "$out"
  } | cut -c1-300 | sed 's/^/    | /'
done
exit 0
