#!/usr/bin/env bash
# Exclusive disks: image locks (lib/vhd/lock.c, QEMU's protocol). `vsrv img` against an
# image another process writes (qemu-io, as a hand-started QEMU VM holds it): readers and
# writers refused with a message naming the image, -U reads, nothing changed. With
# /dev/kvm: two `vsrv run` on one disk, `vsrv img` against a running VM's disk, one disk
# twice in one VM, a writer on the parent of a running VM's differencing disk, readers
# sharing, QEMU refused by a running VM, the lock gone with the VM.
. "$(dirname "$0")/lib.sh"
cd "$TMP"
V=$VSRV

# rc CMD...: run CMD, print its exit status (stderr to rc.err).
rc() { "$@" </dev/null >rc.out 2>rc.err; echo $?; }
# refused NAME FILE CMD...: PASS when CMD fails with a message naming FILE and its lock.
refused() {
	local n=$1 f=$2; shift 2
	if [ "$(rc "$@")" != 0 ] && grep -q "$f" rc.err && grep -q "lock" rc.err; then pass "$n"
	else fail "$n" "status/message: $(cat rc.err)"; fi
}
# wait_locked FILE: until FILE's lock is held by someone (at most 20 s).
wait_locked() {
	for _ in $(seq 200); do
		$V img info "$1" >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	return 1
}

# ---- vsrv img against an image another process writes (QEMU's qemu-io) --------------------
if ! command -v qemu-io >/dev/null; then
	skip img-vs-qemu "no qemu-io"
else
	$V img create -q -f vhd base.vhd 8M && $V img create -q -f vhd -b base.vhd child.vhd &&
		$V img create -q -f raw held.raw 4M
	# qemu-io holds held.raw and base.vhd (read-write) until its standard input closes
	mkfifo f1 f2
	qemu-io -f raw held.raw <f1 >q1.out 2>&1 & q1=$!
	qemu-io -f vpc base.vhd <f2 >q2.out 2>&1 & q2=$!
	exec 7>f1 8>f2
	echo "read 0 512" >&7; echo "read 0 512" >&8
	for _ in $(seq 300); do grep -q "read 512/512" q1.out && grep -q "read 512/512" q2.out && break; sleep 0.1; done
	sum=$(md5sum <held.raw)
	refused img-info-refused held.raw $V img info held.raw
	[ "$(rc $V img info -U held.raw)" = 0 ] && pass img-info-U-reads || fail img-info-U-reads "$(cat rc.err)"
	refused img-create-over-refused held.raw $V img create -f raw held.raw 1M
	refused img-resize-refused held.raw $V img resize -f raw held.raw 8M
	$V img create -q -f raw src.raw 4M
	refused img-convert-n-refused held.raw $V img convert -n -O raw src.raw held.raw
	[ "$(md5sum <held.raw)" = "$sum" ] && [ "$(stat -c %s held.raw)" = 4194304 ] &&
		pass img-held-image-unchanged || fail img-held-image-unchanged "$(stat -c %s held.raw)"
	bsum=$(md5sum <base.vhd)
	refused img-create-vhd-over-refused base.vhd $V img create -f vhd base.vhd 16M
	[ "$(md5sum <base.vhd)" = "$bsum" ] && pass img-held-vhd-unchanged || fail img-held-vhd-unchanged "changed"
	refused img-check-r-refused base.vhd $V img check -r leaks base.vhd
	refused img-compact-refused base.vhd $V img compact base.vhd
	refused img-commit-into-held-parent base.vhd $V img commit child.vhd
	refused img-map-of-child-refused base.vhd $V img map child.vhd
	[ "$(rc $V img compare -U held.raw src.raw)" = 0 ] && pass img-compare-U || fail img-compare-U "$(cat rc.out rc.err)"
	exec 7>&- 8>&-
	wait $q1 $q2
	[ "$(rc $V img resize -f raw held.raw 8M)" = 0 ] && [ "$(rc $V img commit child.vhd)" = 0 ] &&
		pass img-after-qemu-let-go || fail img-after-qemu-let-go "$(cat rc.err)"
fi

# ---- vsrv run (needs /dev/kvm) --------------------------------------------------------------
if ! have_kvm; then skip disk-lock-run "$kvm_reason"; finish; exit; fi
K="--kernel $GUESTS/console.elf --memory 32M"
$V img create -q -f raw d.raw 4M
$V img create -q -f vhd b2.vhd 8M && $V img create -q -f vhd -b b2.vhd c2.vhd
$V run $K --serial file:vm1.out --disk d.raw </dev/null 2>vm1.err & vm1=$!
$V run $K --serial file:vm2.out --disk c2.vhd </dev/null 2>vm2.err & vm2=$!
if wait_locked d.raw && wait_locked c2.vhd; then pass run-holds-its-disks
else fail run-holds-its-disks "$(cat vm1.err vm2.err)"; fi
refused second-run-same-disk d.raw timeout 30 $V run $K --disk d.raw
refused second-run-reader-refused d.raw timeout 30 $V run $K --disk d.raw,readonly=on
refused run-same-disk-twice-in-one-vm x.raw sh -c "$V img create -q -f raw x.raw 1M && timeout 30 $V run $K --disk x.raw --disk x.raw"
grep -q "the same image as disk0" rc.err && pass run-same-disk-twice-says-so || fail run-same-disk-twice-says-so "$(cat rc.err)"
refused img-info-on-running-disk d.raw $V img info d.raw
refused img-create-on-running-disk d.raw $V img create -f raw d.raw 1M
refused run-writer-on-running-parent b2.vhd timeout 30 $V run $K --disk b2.vhd
# a reader of the parent shares it with the running child: its guest comes up
$V run $K --serial file:r.out --disk b2.vhd,readonly=on </dev/null 2>r.err & vr=$!
for _ in $(seq 300); do grep -q "console: ready" r.out 2>/dev/null && break; kill -0 $vr 2>/dev/null || break; sleep 0.1; done
grep -q "console: ready" r.out 2>/dev/null && pass run-reader-shares-parent ||
	fail run-reader-shares-parent "$(cat r.err)"
kill $vr 2>/dev/null; wait $vr 2>/dev/null
if command -v qemu-io >/dev/null; then
	refused qemu-refused-by-running-vm d.raw qemu-io -f raw -c "read 0 512" d.raw
fi
kill $vm1 $vm2; wait $vm1 $vm2 2>/dev/null
[ "$(rc $V img info d.raw)" = 0 ] && [ "$(rc $V img resize -f raw d.raw 8M)" = 0 ] &&
	pass lock-gone-with-the-vm || fail lock-gone-with-the-vm "$(cat rc.err)"
finish
