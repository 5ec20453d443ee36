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
#  3. The same source as a qcow2, a VMDK and a VHDX (made by qemu-img: what users bring)
#     converted to a dynamic VHD: `vsrv img convert -O vpc` (reading through libqcow, libvmdk,
#     libvhdi: two reader threads) versus `qemu-img convert -O vpc`.
# Page cache warm for everyone (one untimed run of each first); `sync` between runs so that
# writeback of one run does not land in the next. Temp files under $BENCH_TMP (default /tmp).
# Each part runs quiet, then under each load of BENCH_CONTEND (bench/lib/contend.sh; default
# "busy guests": busy loops on every core, and guests computing where /dev/kvm is; "" for
# quiet only), the same load for vsrv and qemu-img, their runs interleaved; one table row per
# figure: quiet vsrv / qemu-img / ratio, then the same under each load.
# Usage: bench/img-convert.sh [RUNS]   (env: VSRV, QEMU_IMG, BENCH_TMP, SIZE_MIB, BENCH_CONTEND)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VSRV=${VSRV:-$ROOT/build/vsrv}
QEMU_IMG=${QEMU_IMG:-qemu-img}
RUNS=${1:-${RUNS:-7}}
SIZE_MIB=${SIZE_MIB:-1024}
REGION_MIB=4
DIR=$(mktemp -d "${BENCH_TMP:-/tmp}/vsrv-bench-img.XXXXXX")
. "$ROOT/bench/lib/contend.sh"
trap 'contend_stop; rm -rf "$DIR"' EXIT
# The variants: quiet, then each contended load usable here (the others are named with why not).
VARIANTS=(quiet)
for k in ${BENCH_CONTEND-busy guests}; do
	why=$(contend_why_not "$k")
	if [ -z "$why" ]; then VARIANTS+=("$k"); else echo "img-convert: $k-contended variant skipped: $why"; fi
done

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
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores before the run (quiet figures are noisy when other work runs); variants: ${VARIANTS[*]}"
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

# report LABEL OURS PEER UNIT PEERNAME: one figure of the current part and $variant, kept
# for the part's table (ratio peer/ours: >1 is vsrv better).
report() { printf '%s|%s|%s|%s|%s|%s\n' "$1" "$variant" "$2" "$3" "$4" "$5" >>"$DIR/part"; }

# table TITLE: the current part's figures, one row each, the variants side by side.
table() {
	echo "$1"
	awk -F'|' -v vs="${VARIANTS[*]}" 'BEGIN { nv = split(vs, V, " ") }
	{ if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
	  a[$1, $2] = $3; b[$1, $2] = $4; u[$1] = $5; p[$1] = $6 }
	END {
		printf "  %-36s", "figure (unit, peer)"
		for (i = 1; i <= nv; i++) printf " | %-6s %8s %8s %6s", V[i] ":", "vsrv", "peer", "ratio"
		printf "\n"
		for (j = 1; j <= n; j++) {
			l = order[j]; fmt = (u[l] == "s") ? "%8.3f" : "%8.0f"
			printf "  %-36s", l " (" u[l] ", " p[l] ")"
			for (i = 1; i <= nv; i++) {
				k = V[i]
				if ((l, k) in a) printf " | %-6s " fmt " " fmt " %5.2fx", "", a[l, k], b[l, k], (a[l, k] > 0 ? b[l, k] / a[l, k] : 0)
				else printf " | %-6s %8s %8s %6s", "", "-", "-", "-"
			}
			printf "\n"
		}
	}' "$DIR/part"
	: >"$DIR/part"
}

# under VARIANT: start that variant's load (none for quiet).
under() { variant=$1; [ "$variant" = quiet ] || contend_start "$variant"; }
: >"$DIR/part"

# 1. convert raw -> dynamic VHD
VHD=$DIR/vsrv.vhd QVHD=$DIR/qemu.vhd
"$VSRV" img convert -O vhd "$SRC" "$VHD"; rm -f "$VHD"; sync
"$QEMU_IMG" convert -O vpc "$SRC" "$QVHD"; rm -f "$QVHD"; sync
# convert_runs SRC OUR_FORMAT: RUNS runs of each converter into ours/peer, the order alternating.
convert_runs() {
	ours=() peer=()
	for ((i = 0; i < RUNS; i++)); do
		if ((i % 2 == 0)); then
			rm -f "$VHD"; sync; run_timed ours "$VSRV" img convert -O "$2" "$1" "$VHD"
			rm -f "$QVHD"; sync; run_timed peer "$QEMU_IMG" convert -O vpc "$1" "$QVHD"
		else
			rm -f "$QVHD"; sync; run_timed peer "$QEMU_IMG" convert -O vpc "$1" "$QVHD"
			rm -f "$VHD"; sync; run_timed ours "$VSRV" img convert -O "$2" "$1" "$VHD"
		fi
	done
	sync
}
# report_convert: the figures of a conversion part (convert_runs' ours and peer).
report_convert() {
	report "time" "$(median 1 "${ours[@]}")" "$(median 1 "${peer[@]}")" s qemu-img
	report "cpu time (user+sys)" "$(median 3 "${ours[@]}")" "$(median 3 "${peer[@]}")" s qemu-img
	report "peak RSS" "$(median 2 "${ours[@]}")" "$(median 2 "${peer[@]}")" KiB qemu-img
}
for v in "${VARIANTS[@]}"; do
	under "$v"
	convert_runs "$SRC" vhd
	contend_stop
	report_convert
done
"$QEMU_IMG" compare -f raw -F vpc "$SRC" "$VHD" >/dev/null ||
	{ echo "img-convert: vsrv's VHD differs from the source" >&2; exit 1; }
table "convert raw -> dynamic VHD (median of $RUNS; ratio = qemu-img / vsrv, >1: vsrv better):"

# 2. sequential read of the dynamic VHD
vsize=$("$QEMU_IMG" info -f vpc --output=json "$VHD" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
"$VSRV" img convert -O raw "$VHD" /dev/null
"$QEMU_IMG" convert -n -f vpc "$VHD" --target-image-opts "driver=null-co,size=$vsize"
cat "$SRC" >/dev/null
for v in "${VARIANTS[@]}"; do
	under "$v"
	ours=() peer=() floor=()
	for ((i = 0; i < RUNS; i++)); do
		if ((i % 2 == 0)); then
			run_timed ours "$VSRV" img convert -O raw "$VHD" /dev/null
			run_timed peer "$QEMU_IMG" convert -n -f vpc "$VHD" --target-image-opts "driver=null-co,size=$vsize"
		else
			run_timed peer "$QEMU_IMG" convert -n -f vpc "$VHD" --target-image-opts "driver=null-co,size=$vsize"
			run_timed ours "$VSRV" img convert -O raw "$VHD" /dev/null
		fi
		run_timed floor cat "$SRC"
	done
	contend_stop
	report "time vs qemu-img" "$(median 1 "${ours[@]}")" "$(median 1 "${peer[@]}")" s qemu-img
	report "time vs cat of the raw file" "$(median 1 "${ours[@]}")" "$(median 1 "${floor[@]}")" s cat
	report "cpu time vs qemu-img" "$(median 3 "${ours[@]}")" "$(median 3 "${peer[@]}")" s qemu-img
	report "cpu time vs cat" "$(median 3 "${ours[@]}")" "$(median 3 "${floor[@]}")" s cat
	report "peak RSS vs qemu-img" "$(median 2 "${ours[@]}")" "$(median 2 "${peer[@]}")" KiB qemu-img
done
table "read dynamic VHD sequentially into a null target (median of $RUNS; ratio = peer / vsrv):"

# 3. qcow2, VMDK and VHDX (made by qemu-img from the same source) -> dynamic VHD
for sfmt in qcow2 vmdk vhdx; do
	FSRC=$DIR/src.$sfmt
	"$QEMU_IMG" convert -f raw -O "$sfmt" "$SRC" "$FSRC"
	rm -f "$VHD" "$QVHD"
	"$VSRV" img convert -O vpc "$FSRC" "$VHD"; rm -f "$VHD"; sync
	"$QEMU_IMG" convert -O vpc "$FSRC" "$QVHD"; rm -f "$QVHD"; sync
	for v in "${VARIANTS[@]}"; do
		under "$v"
		convert_runs "$FSRC" vpc
		contend_stop
		report_convert
	done
	"$QEMU_IMG" compare -f "$sfmt" -F vpc "$FSRC" "$VHD" >/dev/null ||
		{ echo "img-convert: vsrv's VHD differs from the $sfmt source" >&2; exit 1; }
	table "convert $sfmt -> dynamic VHD (median of $RUNS; ratio = qemu-img / vsrv):"
	rm -f "$FSRC"
done
