#!/usr/bin/env bash
# The server's black-box tests (tests/server/*.py, those the t-server-*.sh scripts run) on
# the etcd inventory: each runs with VSRV_TEST_INVENTORY=etcd, so lib.py's daemons serve
# with `--cluster EP --inventory etcd` on an etcd member of their own (docs/cluster.md).
# One line per test file: PASS etcd-NAME when all its cases pass, else FAIL etcd-NAME with
# the counts and its first failures (indented, not counted). (That every operation of the
# etcd backend exists is the build's to say: inv_etcd_ops names each, inv_ops.h.)
# A test file that opens DATA/inventory.db itself (sqlite3: to look at a table or to make
# an old schema) fails there on etcd: its FAIL line says so.
# Before them, inv_etcd.py: two hosts on one inventory see each other's VMs and users; and
# inv_import.py: a host joins the cluster with its SQLite inventory (--import-inventory); and
# etcd_calls.py: how many etcd round trips a GET status makes.
# Not run here: cluster.py, failover.py and migrate.py (cluster mode itself: they give their own
# --cluster and read DATA/daemon.log). VSRV_INV_ETCD_TESTS="api vms": only those files (the default: below).
# A file that fails on etcd runs again on SQLite; when it fails there the same way (the
# same FAIL names, the same exit), it is PASS "same as SQLite" (a host without KVM fails
# some cases of net.py on either). VSRV_INV_ETCD_BASELINE=0: no second run.
# tests/run: alone (runs seven server test programs at once)
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

# --- two hosts on one inventory (tests/server/inv_etcd.py) ----------------------------------
# (it, inv_import.py and the test files below run at the same time: each process has its own
# etcd member, data directories and ports; their results are read in this order)
mkdir -p "$tmp/logs/shared"
(VSRV_TEST_LOG_DIR="$tmp/logs/shared" timeout -k 5 120 python3 tests/server/inv_etcd.py \
  </dev/null >"$tmp/shared.out" 2>&1; echo $? >"$tmp/shared.rc") &

# --- a host joins with its inventory (tests/server/inv_import.py) ----------------------------
mkdir -p "$tmp/logs/import"
(VSRV_TEST_LOG_DIR="$tmp/logs/import" timeout -k 5 180 python3 tests/server/inv_import.py \
  </dev/null >"$tmp/import.out" 2>&1; echo $? >"$tmp/import.rc") &

# --- etcd calls per request (tests/server/etcd_calls.py) --------------------------------------
mkdir -p "$tmp/logs/calls"
(VSRV_TEST_LOG_DIR="$tmp/logs/calls" timeout -k 5 120 python3 tests/server/etcd_calls.py \
  </dev/null >"$tmp/calls.out" 2>&1; echo $? >"$tmp/calls.rc") &

# --- the server's tests on the etcd inventory -----------------------------------------------
# By default the files that reach most parts of the etcd backend through the API (VMs,
# disks, networks, events: api; users, groups, grants and sessions: authz; layers,
# snapshots and drives: snapshots; CD/DVD drives and hardware: cdroms; hooks and tasks are
# the unit tests'), so that `make test` stays within its time; VSRV_INV_ETCD_ALL=1: every
# server test file (about four minutes).
names=${VSRV_INV_ETCD_TESTS:-}
if [ -z "$names" ] && [ -z "${VSRV_INV_ETCD_ALL:-}" ]; then
  names="api authz snapshots cdroms"
fi
if [ -z "$names" ]; then
  for s in tests/t-server-*.sh; do
    py=$(grep -o 'server/[a-z_]*\.py' "$s" | head -n 1)
    [ -n "$py" ] || continue
    n=$(basename "$py" .py)
    case $n in cluster|failover|migrate|inv_etcd) continue;; esac
    names="$names $n"
  done
fi
for n in $names; do
  mkdir -p "$tmp/logs/$n"
  while [ "$(jobs -rp | wc -l)" -ge 5 ]; do wait -n; done   # (VSRV_INV_ETCD_ALL: 5 at a time)
  (VSRV_TEST_INVENTORY=etcd VSRV_TEST_LOG_DIR="$tmp/logs/$n" \
    timeout -k 5 300 python3 "tests/server/$n.py" </dev/null >"$tmp/$n.out" 2>&1; echo $? >"$tmp/$n.rc") &
done
wait

grep -E '^(PASS|FAIL|SKIP) ' "$tmp/shared.out"
rc=$(cat "$tmp/shared.rc")
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$tmp/shared.out"; then
  echo "FAIL inv-etcd-shared: exit $rc: $(tail -n 1 "$tmp/shared.out" | cut -c1-200)"
fi
grep -E '^(PASS|FAIL|SKIP) ' "$tmp/import.out"
rc=$(cat "$tmp/import.rc")
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$tmp/import.out"; then
  echo "FAIL inv-import: exit $rc: $(tail -n 1 "$tmp/import.out" | cut -c1-200)"
fi
grep -E '^(PASS|FAIL|SKIP) ' "$tmp/calls.out" | grep -v openapi-answers
rc=$(cat "$tmp/calls.rc")
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$tmp/calls.out"; then
  echo "FAIL etcd-calls: exit $rc: $(tail -n 1 "$tmp/calls.out" | cut -c1-200)"
fi
for n in $names; do
  out="$tmp/$n.out"
  rc=$(cat "$tmp/$n.rc")
  np=$(grep -c '^PASS ' "$out"); nf=$(grep -c '^FAIL ' "$out"); ns=$(grep -c '^SKIP ' "$out")
  if [ "$rc" -eq 0 ] && [ "$nf" -eq 0 ] && [ "$np" -gt 0 ]; then
    echo "PASS etcd-$n ($np passed, $ns skipped)"
    continue
  fi
  if [ "$rc" -eq 0 ] && [ "$nf" -eq 0 ] && [ "$ns" -gt 0 ]; then
    echo "SKIP etcd-$n: $(grep -m1 '^SKIP ' "$out" | cut -c6-200)"
    continue
  fi
  why="$np passed, $nf failed, $ns skipped, exit $rc"
  if grep -qE 'sqlite3\.|inventory\.db' "$out"; then
    why="$why; it reads DATA/inventory.db itself (SQLite only)"
  fi
  if [ "${VSRV_INV_ETCD_BASELINE:-1}" != 0 ]; then
    base="$tmp/$n.sqlite"
    VSRV_TEST_INVENTORY=sqlite timeout -k 5 300 python3 "tests/server/$n.py" </dev/null >"$base" 2>&1
    brc=$?
    if [ "$brc" -eq "$rc" ] &&
       [ "$(grep '^FAIL ' "$out" | cut -d: -f1 | sort)" = "$(grep '^FAIL ' "$base" | cut -d: -f1 | sort)" ]; then
      echo "PASS etcd-$n ($np passed, $ns skipped; the same $nf failures and exit $rc on SQLite)"
      continue
    fi
    why="$why; on SQLite: $(grep -c '^PASS ' "$base") passed, $(grep -c '^FAIL ' "$base") failed, exit $brc"
  fi
  echo "FAIL etcd-$n: $why"
  { grep '^FAIL ' "$out" | head -n 5
    [ "$nf" -eq 0 ] && tail -n 3 "$out"
  } | cut -c1-300 | sed 's/^/    | /'
done
exit 0
