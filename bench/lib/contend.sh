#!/usr/bin/env bash
# A fixed CPU load for the contended variants of the benchmarks (issue 18): the same load for
# vsrv's and the peer's runs, started before a benchmark's interleaved rounds and stopped after.
#
# Kinds of load:
#   busy    N busy-looping processes at normal priority (nice 0, SCHED_OTHER), N = online CPUs
#           by default: every core has one runnable task besides the benchmark's.
#   guests  N other guests computing: `vsrv run` of build/guests/savecount.elf, whose vCPU runs
#           a hash chain in guest ring 3 without halting (N = online CPUs by default: two on a
#           2-core host; 4096 links of 2e9 iterations, hours of work). Needs /dev/kvm: without
#           it starting this load fails with a reason.
# Each load process gets SIGKILL when the process that started it dies (setpriv --pdeathsig),
# so a benchmark that is killed does not leave its load running.
#
# Sourced (bash):  contend_start KIND [N]   starts the load; CONTEND_PIDS holds the pids
#                  contend_stop             stops it and waits until every process is gone
# Executed:        contend.sh run KIND [N] -- CMD...   CMD under the load; CMD's exit status
#                  contend.sh hold KIND [N]            starts the load, prints "contend: ready
#                      KIND N pids P...", keeps it until stdin closes or SIGTERM/SIGINT, then
#                      stops it and prints "contend: stopped" (for Python benchmarks)
#                  contend.sh kinds                    the kinds usable here, one per line
#                      (busy always; guests where /dev/kvm and vsrv's savecount guest are there)
#                  contend.sh why KIND                 why KIND cannot run here (status 1), or
#                      nothing (status 0)
# Env: VSRV (default build/vsrv), CONTEND_GUEST (default build/guests/savecount.elf).
# Safe to source in scripts under `set -euo pipefail`.

CONTEND_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONTEND_PIDS=()

contend_ncpu() { getconf _NPROCESSORS_ONLN 2>/dev/null || nproc; }

# contend_why_not KIND: empty when KIND can run here, else the reason.
contend_why_not() {
	case $1 in
	busy) command -v setpriv >/dev/null || echo "setpriv (util-linux) is missing" ;;
	guests)
		local vsrv=${VSRV:-$CONTEND_ROOT/build/vsrv} g=${CONTEND_GUEST:-$CONTEND_ROOT/build/guests/savecount.elf}
		if [ ! -w /dev/kvm ]; then echo "no usable /dev/kvm (the load is guests)"
		elif [ ! -x "$vsrv" ] || [ ! -e "$g" ]; then echo "$vsrv or $g is missing (make)"
		else contend_why_not busy
		fi ;;
	*) echo "unknown load kind '$1' (busy or guests)" ;;
	esac
}

# contend_start KIND [N]: 0 once every load process runs, else 1 with the reason on stderr.
contend_start() {
	local kind=$1 n=${2:-$(contend_ncpu)} why i argv0
	why=$(contend_why_not "$kind")
	[ -z "$why" ] || { echo "contend: $why" >&2; return 1; }
	[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "contend: N must be a positive number, not '$n'" >&2; return 1; }
	[ ${#CONTEND_PIDS[@]} -eq 0 ] || { echo "contend: a load is already running" >&2; return 1; }
	for ((i = 0; i < n; i++)); do
		if [ "$kind" = busy ]; then
			argv0='sh'
			setpriv --pdeathsig KILL sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &
		else
			argv0=${VSRV:-$CONTEND_ROOT/build/vsrv}
			setpriv --pdeathsig KILL "${VSRV:-$CONTEND_ROOT/build/vsrv}" run --sandbox off \
				--kernel "${CONTEND_GUEST:-$CONTEND_ROOT/build/guests/savecount.elf}" --memory 64M \
				--serial none --cmdline "steps=4096 work=2000000000 cpus=1" </dev/null >/dev/null 2>&1 &
		fi
		CONTEND_PIDS+=("$!")
	done
	# Running: each one has exec'd its program (its argv[0] is the load's, not this shell's
	# or setpriv's) and is alive.
	local p ok a0
	for ((i = 0; i < 500; i++)); do
		ok=1
		for p in "${CONTEND_PIDS[@]}"; do
			if ! kill -0 "$p" 2>/dev/null; then
				echo "contend: load process $p ($kind) ended at start" >&2
				contend_stop
				return 1
			fi
			a0=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | head -n1) || true
			[ "$a0" = "$argv0" ] || ok=0
		done
		[ $ok = 1 ] && return 0
		sleep 0.01
	done
	echo "contend: the load processes did not start" >&2
	contend_stop
	return 1
}

# contend_stop: SIGKILL to every load process, waited for (none is left running).
contend_stop() {
	local p
	for p in "${CONTEND_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in "${CONTEND_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	CONTEND_PIDS=()
	return 0
}

# contend_kinds: the kinds usable on this host, one per line.
contend_kinds() {
	local k
	for k in busy guests; do [ -z "$(contend_why_not "$k")" ] && echo "$k"; done
	return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	usage() { echo "usage: contend.sh run KIND [N] -- CMD... | hold KIND [N] | kinds | why KIND" >&2; exit 2; }
	cmd=${1:-}
	shift || true
	case $cmd in
	kinds) contend_kinds ;;
	why)
		[ $# -eq 1 ] || usage
		why=$(contend_why_not "$1")
		[ -z "$why" ] || { echo "$why"; exit 1; } ;;
	run)
		kind=${1:-}; shift || usage
		n=
		[ "${1:-}" != "--" ] && { n=${1:-}; shift || usage; }
		[ "${1:-}" = "--" ] || usage
		shift
		[ $# -gt 0 ] || usage
		trap 'contend_stop; exit 130' INT TERM
		contend_start "$kind" $n || exit 1
		"$@"
		rc=$?
		contend_stop
		exit $rc ;;
	hold)
		[ $# -ge 1 ] || usage
		reader=
		trap '[ -n "$reader" ] && kill "$reader" 2>/dev/null; contend_stop; echo "contend: stopped"; exit 0' INT TERM
		contend_start "$1" ${2:-} || exit 1
		echo "contend: ready $1 ${#CONTEND_PIDS[@]} pids ${CONTEND_PIDS[*]}"
		# until stdin closes (read in the background, so that a signal is handled at once;
		# through fd 3: a background command's stdin would be /dev/null)
		exec 3<&0
		cat <&3 >/dev/null &
		reader=$!
		wait $reader
		contend_stop
		echo "contend: stopped" ;;
	*) usage ;;
	esac
fi
