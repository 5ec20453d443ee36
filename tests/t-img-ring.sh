#!/usr/bin/env bash
# vsrv img convert's ring of buffers (8 MiB) is advised for transparent huge pages, so that
# filling it costs a few page faults instead of one per 4 KiB page (2048): on a virtualized
# host those faults were a quarter of the CPU time of reading a VHD (issue 18,
# docs/architecture.md). Proven by counting: the page faults of a convert of a VHD with
# 16 MiB of data into /dev/null, less those of `vsrv img info` of the same file (the
# program's start), stay under half of what the ring costs in 4 KiB pages.
# The same for the heap libqcow's cluster caches come from (two reader lanes of 128 clusters
# of 64 KiB: 4096 faults in 4 KiB pages), advised for huge pages too (conv_heap_huge).
. "$(dirname "$0")/lib.sh"
cd "$TMP"

thp=/sys/kernel/mm/transparent_hugepage/enabled
if [ ! -r $thp ] || grep -q '\[never\]' $thp; then
	skip img-ring-huge-pages "transparent huge pages are off on this host ($thp)"
	exit 0
fi

# 16 MiB of random data (8 chunks of 2 MiB: every ring slot is filled twice) in a dynamic VHD
dd if=/dev/urandom of=src.raw bs=1M count=16 status=none
$VSRV img convert -O vhd src.raw d.vhd || { fail img-ring-huge-pages "convert to vhd failed"; exit 1; }

# minflt CMD...: the fewest minor page faults of CMD in 3 runs (its own rusage).
minflt() {
	python3 - "$@" <<'EOF'
import os, subprocess, sys
best = None
for _ in range(3):
    p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    if status:
        sys.exit("%s failed" % sys.argv[1:])
    best = ru.ru_minflt if best is None else min(best, ru.ru_minflt)
print(best)
EOF
}
# The kernel's count of huge-page faults it could not serve (no free 2 MiB page: memory
# fragmented) and served with 4 KiB pages instead.
fallbacks() { awk '$1 == "thp_fault_fallback" { print $2 }' /proc/vmstat; }
fb0=$(fallbacks)
base=$(minflt $VSRV img info d.vhd) && conv=$(minflt $VSRV img convert -O raw d.vhd /dev/null) ||
	{ fail img-ring-huge-pages "vsrv img failed"; exit 1; }
fb1=$(fallbacks)
# The ring in 4 KiB pages is 2048 faults; huge pages make it a handful.
if [ $((conv - base)) -lt 1024 ]; then
	pass img-ring-huge-pages
elif [ -n "$fb0" ] && [ "$fb1" != "$fb0" ]; then
	skip img-ring-huge-pages "the kernel had no free huge page for the ring (thp_fault_fallback $fb0 -> $fb1): $conv page faults, not a vsrv fault"
else
	fail img-ring-huge-pages "convert took $conv page faults, img info $base: the ring is faulted in 4 KiB pages"
fi

# qcow2 (64 KiB clusters) with 32 MiB of data: 512 clusters, each lane's cache filled twice
if command -v qemu-img >/dev/null; then
	dd if=/dev/urandom of=src32.raw bs=1M count=32 status=none
	qemu-img convert -f raw -O qcow2 src32.raw q.qcow2
	fb0=$(fallbacks)
	base=$(minflt $VSRV img info q.qcow2) && conv=$(minflt $VSRV img convert -O raw q.qcow2 /dev/null) ||
		{ fail img-ring-qcow2-cache-huge-pages "vsrv img failed"; exit 1; }
	fb1=$(fallbacks)
	if [ $((conv - base)) -lt 2048 ]; then
		pass img-ring-qcow2-cache-huge-pages
	elif [ -n "$fb0" ] && [ "$fb1" != "$fb0" ]; then
		skip img-ring-qcow2-cache-huge-pages "the kernel had no free huge page (thp_fault_fallback $fb0 -> $fb1): $conv page faults, not a vsrv fault"
	else
		fail img-ring-qcow2-cache-huge-pages "convert took $conv page faults, img info $base: libqcow's caches are faulted in 4 KiB pages"
	fi
else
	skip img-ring-qcow2-cache-huge-pages "qemu-img not installed (make test-deps)"
fi
finish
