#!/usr/bin/env bash
# bench/lib/contend.sh, the load of the benchmarks' contended variants: it starts the number
# of load processes asked for, they are running while the command runs, and none is left
# afterwards, whether the command ends, fails, or the helper itself is killed. No timing.
. "$(dirname "$0")/lib.sh"
C=$ROOT/bench/lib/contend.sh

# alive PID: running (not gone, not a zombie waiting to be reaped).
alive() { [ -e "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# gone PID...: every PID ended, within 10 s.
gone() {
	local i p left
	for ((i = 0; i < 1000; i++)); do
		left=0
		for p in "$@"; do alive "$p" && left=1; done
		[ $left = 0 ] && return 0
		sleep 0.01
	done
	return 1
}
# The busy loops the helper started: its children running sh -c 'while ...'.
LIST='for c in $(cat /proc/$PPID/task/*/children); do tr "\0" " " </proc/$c/cmdline | grep -q "^sh -c while" && echo $c; done'

# run: N load processes during the command, none after, the command's exit status
bash "$C" run busy 3 -- sh -c "$LIST >'$TMP/pids'; exit 7"
rc=$?
mapfile -t pids <"$TMP/pids"
[ ${#pids[@]} -eq 3 ] && pass contend-run-starts-n || fail contend-run-starts-n "load during the command: ${pids[*]}"
[ $rc -eq 7 ] && pass contend-run-exit-status || fail contend-run-exit-status "status $rc, want 7"
[ ${#pids[@]} -gt 0 ] && gone "${pids[@]}" && pass contend-run-stops || fail contend-run-stops "left running: ${pids[*]}"

# run without N: one load process per online CPU
bash "$C" run busy -- sh -c "$LIST >'$TMP/pids'"
n=$(wc -l <"$TMP/pids")
[ "$n" -eq "$(getconf _NPROCESSORS_ONLN)" ] && pass contend-default-n-cpus ||
	fail contend-default-n-cpus "$n load processes for $(getconf _NPROCESSORS_ONLN) CPUs"

# the helper killed with SIGKILL mid-run (no trap runs): its load dies with it
bash "$C" run busy 2 -- sh -c "$LIST >'$TMP/pids'; exec sleep 60" &
hp=$!
for ((i = 0; i < 1000; i++)); do [ "$(wc -l <"$TMP/pids" 2>/dev/null)" = 2 ] && break; sleep 0.01; done
mapfile -t pids <"$TMP/pids"
kill -KILL $hp
wait $hp 2>/dev/null
[ ${#pids[@]} -eq 2 ] && gone "${pids[@]}" && pass contend-killed-helper-stops-load ||
	fail contend-killed-helper-stops-load "load ${pids[*]} after the helper's SIGKILL"
pkill -P $$ -x sleep 2>/dev/null

# hold: ready line with the pids; the load stays until stdin closes, SIGTERM stops it too
for how in eof term; do
	mkfifo "$TMP/in.$how"
	bash "$C" hold busy 2 <"$TMP/in.$how" >"$TMP/hold.$how" 2>&1 &
	hp=$!
	exec 5>"$TMP/in.$how"
	for ((i = 0; i < 1000; i++)); do grep -q ready "$TMP/hold.$how" && break; sleep 0.01; done
	read -r -a pids < <(sed -n 's/^contend: ready busy 2 pids //p' "$TMP/hold.$how")
	running=1
	for p in "${pids[@]}"; do alive "$p" || running=0; done
	if [ $how = eof ]; then exec 5>&-; else kill -TERM $hp; exec 5>&-; fi
	wait $hp
	rc=$?
	if [ ${#pids[@]} -eq 2 ] && [ $running = 1 ] && [ $rc -eq 0 ] && gone "${pids[@]}" &&
		grep -q '^contend: stopped' "$TMP/hold.$how"; then
		pass contend-hold-$how
	else
		fail contend-hold-$how "rc $rc pids '${pids[*]}' running $running: $(cat "$TMP/hold.$how")"
	fi
done

# sourced: contend_start / contend_stop (in a script under set -euo pipefail, as benchmarks are)
(
	set -euo pipefail
	. "$C"
	contend_start busy 2 || exit 1
	[ ${#CONTEND_PIDS[@]} -eq 2 ] || exit 2
	for p in "${CONTEND_PIDS[@]}"; do alive "$p" || exit 3; done
	saved=("${CONTEND_PIDS[@]}")
	contend_stop
	[ ${#CONTEND_PIDS[@]} -eq 0 ] || exit 4
	for p in "${saved[@]}"; do alive "$p" && exit 5; done
	exit 0
)
rc=$?
[ $rc -eq 0 ] && pass contend-sourced || fail contend-sourced "step $rc"

# the Python benchmarks' wrapper (bench/lib/contend.py): the load inside the block, none after
out=$(python3 - "$ROOT/bench/lib" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[1])
import contend
def load():
    me = str(os.getpid())
    kids = []
    for t in os.listdir("/proc/%s/task" % me):
        for c in open("/proc/%s/task/%s/children" % (me, t)).read().split():
            for g in open("/proc/%s/task/%s/children" % (c, c)).read().split():
                if open("/proc/%s/cmdline" % g).read().startswith("sh\0-c\0while"):
                    kids.append(g)
    return kids
with contend.Load("busy", 2):
    inside = load()
print(len(inside), all(not os.path.exists("/proc/%s" % p) or open("/proc/%s/stat" % p).read().split()[2] == "Z"
                        for p in inside), " ".join(contend.variants("t")))
PY
)
out=$(tail -n1 <<<"$out")
[ "$out" = "2 True quiet busy" ] || [ "$out" = "2 True quiet busy guests" ] && pass contend-python-load ||
	fail contend-python-load "$out"
[ -z "$(bash "$C" why busy)" ] && [ "$(bash "$C" why spin; echo $?)" = "unknown load kind 'spin' (busy or guests)
1" ] && pass contend-why || fail contend-why "$(bash "$C" why busy; bash "$C" why spin)"

# bad input: a clear error, nothing started
for args in "busy 0" "busy x" "spin"; do
	out=$(bash "$C" run $args -- sh -c "$LIST" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && [[ "$out" == contend:* ]] && ! grep -q '^[0-9]' <<<"$out"; then
		pass "contend-bad-${args// /-}"
	else
		fail "contend-bad-${args// /-}" "rc $rc: $out"
	fi
done

# guests: two other guests computing, or the reason it cannot run here
if have_kvm && [ -x "$VSRV" ] && [ -e "$GUESTS/savecount.elf" ]; then
	bash "$C" run guests 2 -- sh -c 'for c in $(cat /proc/$PPID/task/*/children); do tr "\0" " " </proc/$c/cmdline | grep -q " run .*savecount" && echo $c; done >'"'$TMP/g'"
	[ "$(wc -l <"$TMP/g")" = 2 ] && pass contend-guests || fail contend-guests "$(cat "$TMP/g")"
else
	out=$(bash "$C" run guests 2 -- true 2>&1)
	rc=$?
	[ $rc -eq 1 ] && [[ "$out" == *"no usable /dev/kvm"* || "$out" == *missing* ]] &&
		! bash "$C" kinds | grep -qx guests && pass contend-guests-refused ||
		fail contend-guests-refused "rc $rc: $out"
	skip contend-guests "$kvm_reason"
fi
[ $_fails -eq 0 ]
