#!/usr/bin/env bash
# Benchmark: `vsrv img convert` against `qemu-img convert`, in one run, same files.
#
#  1. A 1 GiB raw image, half of it data (4 MiB regions of random bytes at random places,
#     the rest holes), converted to a dynamic VHD: `vsrv img convert -O vhd` versus
#     `qemu-img convert -O vpc`. Median wall time and median peak RSS of RUNS runs each.
#  2. Sequential read of the dynamic VHD (the one vsrv made; qemu-img reads it too):
#     `vsrv img convert -O raw IMG /dev/null` versus `qemu-img convert -O raw` into its
#     null-co driver (qemu-img cannot write to /dev/null), and `cat` of the raw file into
#     /dev/null (the floor).
#  3. The same source as a qcow2 (made by qemu-img: what users bring) converted to a dynamic
#     VHD: `vsrv img convert -O vpc` (reading through libqcow) versus `qemu-img convert -O vpc`.
# Page cache warm for everyone (one untimed run of each first); `sync` between runs so that
# writeback of one run does not land in the next. Temp files under $BENCH_TMP (default /tmp).
# Usage: bench/img-convert.sh [RUNS]   (env: VSRV, QEMU_IMG, BENCH_TMP, SIZE_MIB)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VSRV=${VSRV:-$ROOT/build/vsrv}
QEMU_IMG=${QEMU_IMG:-qemu-img}
RUNS=${1:-${RUNS:-7}}
SIZE_MIB=${SIZE_MIB:-1024}
REGION_MIB=4
DIR=$(mktemp -d "${BENCH_TMP:-/tmp}/vsrv-bench-img.XXXXXX")
trap 'rm -rf "$DIR"' EXIT

for t in "$VSRV" /usr/bin/time; do
	[ -x "$t" ] || { echo "img-convert: $t not found (make; apt-get install time)" >&2; exit 1; }
done
command -v "$QEMU_IMG" >/dev/null || { echo "img-convert: qemu-img not found (qemu-utils)" >&2; exit 1; }

# The source: half of the 4 MiB regions, picked by a fixed seed, filled with random bytes.
SRC=$DIR/src.raw
nreg=$((SIZE_MIB / REGION_MIB))
truncate -s "${SIZE_MIB}M" "$SRC"
python3 - "$SRC" "$nreg" "$REGION_MIB" <<'EOF'
import os, random, sys
path, nreg, reg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) << 20
rnd = random.Random(20240601)
with open(path, "r+b") as f:
    for i in sorted(rnd.sample(range(nreg), nreg // 2)):
        f.seek(i * reg)
        f.write(os.urandom(reg))
EOF
sync
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (figures are noisy when busy)"
echo "source: $SIZE_MIB MiB raw, $((nreg / 2)) data regions of $REGION_MIB MiB, runs: $RUNS"

# run_timed OUTVAR CMD...: runs CMD, appends "seconds rss_kib cpu_seconds" to the array
# named OUTVAR (wall time, peak RSS, user + system CPU time: robust on a busy machine).
run_timed() {
	local var=$1; shift
	local t0 t1 rss cpu
	t0=$(date +%s.%N)
	/usr/bin/time -f '%M %U %S' -o "$DIR/rss" "$@" >/dev/null
	t1=$(date +%s.%N)
	read -r rss cpu < <(tail -n1 "$DIR/rss" | awk '{print $1, $2 + $3}')
	eval "$var+=(\"$(echo "$t1 - $t0" | bc) $rss $cpu\")"
}

# median FIELD ENTRIES...: median of field 1 (seconds), 2 (RSS KiB) or 3 (CPU seconds).
median() {
	local f=$1; shift
	printf '%s\n' "$@" | awk -v f="$f" '{print $f}' | sort -g |
		awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# report LABEL OURS PEER UNIT PEERNAME: both figures and the ratio peer/ours (>1: vsrv better).
report() {
	awk -v l="$1" -v a="$2" -v b="$3" -v u="$4" -v p="$5" 'BEGIN {
		fmt = (u == "s") ? "%.3f" : "%.0f"
		printf "  %-30s vsrv " fmt " %-3s   %-8s " fmt " %-3s   ratio %.2fx\n", l, a, u, p, b, u, (a > 0 ? b / a : 0)
	}'
}

# 1. convert raw -> dynamic VHD
VHD=$DIR/vsrv.vhd QVHD=$DIR/qemu.vhd
"$VSRV" img convert -O vhd "$SRC" "$VHD"; rm -f "$VHD"; sync
"$QEMU_IMG" convert -O vpc "$SRC" "$QVHD"; rm -f "$QVHD"; sync
ours=() peer=()
for ((i = 0; i < RUNS; i++)); do
	rm -f "$VHD"; sync
	run_timed ours "$VSRV" img convert -O vhd "$SRC" "$VHD"
	rm -f "$QVHD"; sync
	run_timed peer "$QEMU_IMG" convert -O vpc "$SRC" "$QVHD"
done
sync
"$QEMU_IMG" compare -f raw -F vpc "$SRC" "$VHD" >/dev/null ||
	{ echo "img-convert: vsrv's VHD differs from the source" >&2; exit 1; }
echo "convert raw -> dynamic VHD (median of $RUNS):"
report "time" "$(median 1 "${ours[@]}")" "$(median 1 "${peer[@]}")" s qemu-img
report "cpu time (user+sys)" "$(median 3 "${ours[@]}")" "$(median 3 "${peer[@]}")" s qemu-img
report "peak RSS" "$(median 2 "${ours[@]}")" "$(median 2 "${peer[@]}")" KiB qemu-img

# 2. sequential read of the dynamic VHD
vsize=$("$QEMU_IMG" info -f vpc --output=json "$VHD" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
"$VSRV" img convert -O raw "$VHD" /dev/null
"$QEMU_IMG" convert -n -f vpc "$VHD" --target-image-opts "driver=null-co,size=$vsize"
cat "$SRC" >/dev/null
ours=() peer=() floor=()
for ((i = 0; i < RUNS; i++)); do
	run_timed ours "$VSRV" img convert -O raw "$VHD" /dev/null
	run_timed peer "$QEMU_IMG" convert -n -f vpc "$VHD" --target-image-opts "driver=null-co,size=$vsize"
	run_timed floor cat "$SRC"
done
echo "read dynamic VHD sequentially into a null target (median of $RUNS):"
report "time vs qemu-img" "$(median 1 "${ours[@]}")" "$(median 1 "${peer[@]}")" s qemu-img
report "time vs cat of the raw file" "$(median 1 "${ours[@]}")" "$(median 1 "${floor[@]}")" s cat
report "cpu time vs qemu-img" "$(median 3 "${ours[@]}")" "$(median 3 "${peer[@]}")" s qemu-img
report "cpu time vs cat" "$(median 3 "${ours[@]}")" "$(median 3 "${floor[@]}")" s cat
report "peak RSS vs qemu-img" "$(median 2 "${ours[@]}")" "$(median 2 "${peer[@]}")" KiB qemu-img

# 3. qcow2 (made by qemu-img from the same source) -> dynamic VHD
QCOW=$DIR/src.qcow2
"$QEMU_IMG" convert -f raw -O qcow2 "$SRC" "$QCOW"
rm -f "$VHD" "$QVHD"
"$VSRV" img convert -O vpc "$QCOW" "$VHD"; rm -f "$VHD"; sync
"$QEMU_IMG" convert -O vpc "$QCOW" "$QVHD"; rm -f "$QVHD"; sync
ours=() peer=()
for ((i = 0; i < RUNS; i++)); do
	rm -f "$VHD"; sync
	run_timed ours "$VSRV" img convert -O vpc "$QCOW" "$VHD"
	rm -f "$QVHD"; sync
	run_timed peer "$QEMU_IMG" convert -O vpc "$QCOW" "$QVHD"
done
sync
"$QEMU_IMG" compare -f qcow2 -F vpc "$QCOW" "$VHD" >/dev/null ||
	{ echo "img-convert: vsrv's VHD differs from the qcow2 source" >&2; exit 1; }
echo "convert qcow2 -> dynamic VHD (median of $RUNS):"
report "time" "$(median 1 "${ours[@]}")" "$(median 1 "${peer[@]}")" s qemu-img
report "cpu time (user+sys)" "$(median 3 "${ours[@]}")" "$(median 3 "${peer[@]}")" s qemu-img
report "peak RSS" "$(median 2 "${ours[@]}")" "$(median 2 "${peer[@]}")" KiB qemu-img
