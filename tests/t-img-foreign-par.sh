#!/usr/bin/env bash
# vsrv img convert reads a qcow2, VMDK or VHDX source with more than one thread, each through
# its own library handles (the libraries serve one read at a time per handle, cluster by
# cluster: one reader thread was the bottleneck under CPU contention, issue 18), and the
# result is still the source's bytes.
# How parallel reading is proven without timing: a preloaded read(2) wrapper holds the first
# large read of the source file until a second thread is inside a read of the same file too
# (or 20 s have passed: then there was only one reader; reads of the main thread, which
# opens the image, do not count) and records the most reads of the
# source that were in flight at once. One reader thread gives 1; parallel readers give 2.
. "$(dirname "$0")/lib.sh"
cd "$TMP"

for t in qemu-img qemu-io cc; do
	command -v $t >/dev/null || { skip "img-foreign-par" "$t not installed (make test-deps)"; exit 0; }
done

cat >shim.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static ssize_t (*real_read)(int, void *, size_t);
static int inside, most, tried;

static void record(void)
{
	const char *out = getenv("PAR_OUT");
	char s[16];
	int fd, n;

	if (!out || (fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		return;
	n = snprintf(s, sizeof(s), "%d\n", __atomic_load_n(&most, __ATOMIC_SEQ_CST));
	if (write(fd, s, (size_t)n) < 0)
		n = 0;
	close(fd);
}

ssize_t read(int fd, void *buf, size_t n)
{
	const char *watch = getenv("PAR_WATCH");
	char link[64], path[4096];
	ssize_t k, r;
	int now, m;

	if (!real_read)
		real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	/* the main thread's reads (opening the image) are not the reader threads' */
	if (!watch || n < 4096 || gettid() == getpid())
		return real_read(fd, buf, n);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	k = readlink(link, path, sizeof(path) - 1);
	if (k <= 0 || (path[k] = 0, strcmp(path, watch)))
		return real_read(fd, buf, n);
	now = __atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST);
	while ((m = __atomic_load_n(&most, __ATOMIC_SEQ_CST)) < now)
		if (__atomic_compare_exchange_n(&most, &m, now, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
			record();
			break;
		}
	if (!__atomic_exchange_n(&tried, 1, __ATOMIC_SEQ_CST)) {
		/* the first read waits for a second reader (20 s at most) */
		struct timespec ms = { 0, 1000000 };

		for (int i = 0; i < 20000 && __atomic_load_n(&most, __ATOMIC_SEQ_CST) < 2; i++)
			nanosleep(&ms, NULL);
	}
	r = real_read(fd, buf, n);
	__atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
	return r;
}
EOF
if ! cc -O1 -shared -fPIC -o shim.so shim.c -ldl 2>cc.txt; then
	fail "img-foreign-par-shim" "cannot build the read wrapper: $(cat cc.txt)"
	exit 1
fi

# 24 MiB of data in 1 MiB runs every other MiB (several 2 MiB chunks), some clusters partial
w() { qemu-io -f "$1" -c "write -P $2 $3 $4" "$5" >/dev/null; }
qemu-img create -q -f qcow2 s.qcow2 48M
for i in $(seq 0 2 46); do w qcow2 $((i + 1)) ${i}M 1M s.qcow2; done
w qcow2 0x5a 47M 3k s.qcow2
# a chain: the top has data of its own, the rest comes from the base
qemu-img create -q -f qcow2 -b s.qcow2 -F qcow2 top.qcow2
for i in $(seq 1 4 45); do w qcow2 0x77 ${i}M 512k top.qcow2; done
qemu-img convert -O vmdk s.qcow2 s.vmdk
# a chain over a compressed base, the top with data of its own (whole clusters and parts of
# clusters): compressed and plain clusters, read by two threads
qemu-img convert -c -O qcow2 s.qcow2 sc.qcow2
qemu-img create -q -f qcow2 -b sc.qcow2 -F qcow2 cc.qcow2
for i in $(seq 0 8 40); do w qcow2 0x3c $((i + 2))M 192k cc.qcow2; done
w qcow2 0x4d $((20 << 20 | 4096)) 5k cc.qcow2
qemu-img convert -O vhdx s.qcow2 s.vhdx

# par IMG NAME: convert IMG to a VHD under the wrapper; PASS when two reads of the source
# file (the top of a chain) were in flight at once and the VHD reads as IMG does
par() {
	local img=$1 name=$2 most rc
	rm -f out.vhd most.txt
	PAR_WATCH=$(readlink -f "$img") PAR_OUT=$TMP/most.txt LD_PRELOAD=$TMP/shim.so \
		timeout 120 "$VSRV" img convert -O vpc "$img" out.vhd >o.txt 2>e.txt
	rc=$?
	most=$(cat most.txt 2>/dev/null || echo 0)
	if [ $rc != 0 ]; then
		fail "$name" "convert exit $rc: $(cat e.txt)"
	elif [ "$most" -lt 2 ]; then
		fail "$name" "at most $most read(s) of $img at once: one reader thread"
	elif ! qemu-img compare -q "$img" out.vhd; then
		fail "$name" "the VHD differs from $img"
	else
		pass "$name"
	fi
}
par s.qcow2 img-foreign-par-qcow2
par top.qcow2 img-foreign-par-qcow2-chain
par s.vmdk img-foreign-par-vmdk
par s.vhdx img-foreign-par-vhdx
par cc.qcow2 img-foreign-par-qcow2-compressed-chain
if qemu-img check --output=json sc.qcow2 | grep -q '"compressed-clusters": [1-9]'; then
	pass "img-foreign-par-qcow2-compressed-kind"
else
	fail "img-foreign-par-qcow2-compressed-kind" "sc.qcow2 has no compressed cluster"
fi

# the same bytes as the one-reader output of before: a raw conversion equals qemu-img's
"$VSRV" img convert -O raw top.qcow2 v.raw && qemu-img convert -O raw top.qcow2 q.raw &&
	cmp -s v.raw q.raw && pass "img-foreign-par-raw-identical" ||
	fail "img-foreign-par-raw-identical" "vsrv's raw conversion of the chain differs from qemu-img's"
rm -f v.raw q.raw
"$VSRV" img convert -O raw cc.qcow2 v.raw && qemu-img convert -O raw cc.qcow2 q.raw &&
	cmp -s v.raw q.raw && pass "img-foreign-par-raw-compressed-chain" ||
	fail "img-foreign-par-raw-compressed-chain" "vsrv's raw conversion of cc.qcow2 differs from qemu-img's"

# damage where the data is: every reader fails or stops, one clear error naming the file,
# exit 1, no hang
head -c $(($(stat -c %s s.qcow2) / 2)) s.qcow2 >bad.qcow2
rm -f out.vhd
timeout 120 "$VSRV" img convert -O vpc bad.qcow2 out.vhd >o.txt 2>e.txt
rc=$?
if [ $rc = 1 ] && grep -q "bad.qcow2" e.txt; then
	pass "img-foreign-par-damaged"
else
	fail "img-foreign-par-damaged" "exit $rc (want 1, 124 is a hang): $(head -c 400 e.txt)"
fi
exit $((_fails > 0))
