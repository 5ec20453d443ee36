# Shared helpers for shell tests: source it from tests/t-*.sh.
# A test prints one line per case: PASS name / FAIL name: reason / SKIP name: reason.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VSRV=${VSRV:-$ROOT/build/vsrv}
GUESTS=${GUESTS:-$ROOT/build/guests}
TMP=$(mktemp -d /tmp/vsrv-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
_fails=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: ${2:-failed}"; _fails=$((_fails + 1)); }
skip() { echo "SKIP $1: $2"; }

# check NAME CMD...: PASS when CMD succeeds, FAIL otherwise.
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }

# have_kvm: /dev/kvm is present and usable by us.
have_kvm() { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }
kvm_reason="no usable /dev/kvm on this machine"

# need_linux_guest NAME FILE...: the small Linux guest's files (in build/guests/linux) that a
# test of NAME boots; without /dev/kvm the test skips (exit 0), with a file missing it fails
# (make test builds them; exit 1). Sets LG to their folder.
need_linux_guest() {
	local name=$1 f; shift
	LG=$GUESTS/linux
	if ! have_kvm; then skip "$name" "$kvm_reason"; exit 0; fi
	for f in "$@"; do
		if [ ! -s "$LG/$f" ]; then fail "$name" "$LG/$f not built (make linux-guest; make test builds it)"; exit 1; fi
	done
}

# http_serve DIR: serve DIR over HTTP on 127.0.0.1 (a free port) until the test exits; sets
# $http_port, empty when the server did not start (its log is $TMP/http.log).
http_serve() {
	python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$1" >"$TMP/http.log" 2>&1 &
	local pid=$!
	trap 'kill '"$pid"' 2>/dev/null; rm -rf "$TMP"' EXIT
	http_port=
	for _ in $(seq 50); do
		http_port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$TMP/http.log" | head -n1)
		[ -n "$http_port" ] && break
		sleep 0.1
	done
}

# replay_corpus BIN NAME INPUT...: run a fuzz target's corpus replayer (fuzz/run_corpus.c,
# built with ASan/UBSan) over files and directories: PASS when it ran inputs without a
# sanitizer report or a crash (leaks count), FAIL with the end of its output otherwise.
replay_corpus() {
	local bin=$1 name=$2 out; shift 2
	if out=$(ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 timeout 300 "$bin" "$@" 2>&1) &&
	   grep -q "ran [1-9]" <<<"$out"; then
		pass "$name ($(tail -n1 <<<"$out"))"
	else
		echo "$out" | tail -30
		fail "$name" "sanitizer report, crash or nothing replayed"
	fi
}

# Independent parts of one test run at the same time (mostly waiting, or one CPU each),
# their lines printed in the order the parts were started:
#   par_start NAME CMD...  runs CMD in the background in a new empty directory $TMP/par-NAME,
#                          its output (stdout and stderr) kept in $TMP/par-NAME.out
#   par_wait               waits for every part, prints their output, counts their FAILs; a
#                          part that ended with a non-zero status is a FAIL of its own
# A part must not write files outside its directory that another part uses.
_par=()
par_start() {
	local n=$1; shift
	rm -rf "$TMP/par-$n"; mkdir -p "$TMP/par-$n"
	( cd "$TMP/par-$n" && "$@"; exit 0 ) >"$TMP/par-$n.out" 2>&1 </dev/null &
	_par+=("$n:$!")
}
par_wait() {
	local p n rc
	for p in "${_par[@]}"; do
		n=${p%%:*}
		wait "${p#*:}"; rc=$?
		cat "$TMP/par-$n.out"
		_fails=$((_fails + $(grep -c '^FAIL ' "$TMP/par-$n.out")))
		[ $rc = 0 ] || fail "$n" "this part of the test ended with status $rc"
	done
	_par=()
}

# finish: exit status reflects the failures counted above.
finish() { [ "$_fails" -eq 0 ]; }
