/* Unit tests of the disk copy of a migration without shared storage (src/vmm/migrate_disk.c):
 * the sender and the receiver over a socketpair, while a writer thread writes into the
 * source disk (data, zeros, discards) during the copy's rounds; after the final round the
 * destination equals the source byte for byte (`qemu-img compare`), raw and dynamic VHD, and
 * a dynamic VHD destination allocates only blocks that carry data. Then hostile records:
 * offsets past the end, bad lengths, flags, disk numbers, a bad CRC, a DISKS frame whose
 * sizes or disks do not match: each refused with a clear reason, the disk left unchanged.
 * And the whole stream as migrate.c sends it with disks=copy through migrate_recv (the
 * receiver `vsrv run --incoming` uses), with a sink that names the destination's disk. */
#include "check.h"
#include "scratch.h"
#include "disk/disk.h"
#include "vhd/vhd.h"
#include "vmm/migrate_disk.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define DSIZE ((16ULL << 20) + 5 * 512) /* 16 MiB and a 2.5 KiB tail: a short last block */
#define WSPAN (4ULL << 20)                /* the writer writes in the first 4 MiB only */

static int sh(const char *cmd)
{
	int r = system(cmd);

	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static struct disk *make_disk(const char *name, bool vhd)
{
	struct disk *d = NULL;

	if (vhd) {
		struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = DSIZE,
					     .force_size = true };

		CHECK_EQ(vhd_create(P(name), &o, NULL), 0);
	} else {
		int fd = open(P(name), O_CREAT | O_RDWR | O_TRUNC, 0644);

		CHECK(fd >= 0 && ftruncate(fd, (off_t)DSIZE) == 0);
		close(fd);
	}
	CHECK_EQ(disk_open(P(name), vhd ? "vhd" : "raw", 0, &d), 0);
	return d;
}

static void write_at(struct disk *d, uint64_t off, size_t len, unsigned seed)
{
	uint8_t *b = malloc(len);
	struct iovec v = { b, len };

	pattern_fill(b, len, seed, (unsigned)(off >> 9));
	CHECK_EQ(disk_writev(d, off / 512, &v, 1), 0);
	free(b);
}

/* ---- the copy, with a writer ---- */

struct copy {
	struct disk *src;
	int fd;
	/* the writer: writes until stop, counting them */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned writes;
	bool stop;
	int sender_ret;
	unsigned rounds;
};

static void *writer(void *arg)
{
	struct copy *c = arg;
	unsigned seed = 12345, i = 0;

	for (;;) {
		uint64_t off = (uint64_t)(rand_r(&seed) % (WSPAN / 512 - 256)) * 512;
		size_t len = (size_t)(1 + rand_r(&seed) % 256) * 512;
		unsigned kind = (unsigned)rand_r(&seed) % 8;

		pthread_mutex_lock(&c->lock);
		if (c->stop) {
			pthread_mutex_unlock(&c->lock);
			return NULL;
		}
		pthread_mutex_unlock(&c->lock);
		if (kind == 0)
			CHECK_EQ(c->src->ops->write_zeroes(c->src, off / 512, len / 512, false), 0);
		else if (kind == 1)
			CHECK_EQ(c->src->ops->discard(c->src, off / 512, len / 512), 0);
		else
			write_at(c->src, off, len, 1000 + i);
		i++;
		pthread_mutex_lock(&c->lock);
		c->writes++;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
}

/* Wait until the writer has done n more writes. */
static void wait_writes(struct copy *c, unsigned n)
{
	pthread_mutex_lock(&c->lock);
	n += c->writes;
	while (c->writes < n)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

/* The source: DISKS, the full copy and two rounds while the writer writes (each after the
 * writer wrote 100 times more, so writes land after blocks were sent), then the writer
 * stops and the final round goes; GO ends the stream. */
static void *sender(void *arg)
{
	struct copy *c = arg;
	struct mdisk_tx_disk dd = { c->src, 3, "disk0" };
	struct mdisk_tx *t = NULL;
	pthread_t w;
	char why[300];
	int ret;

	ret = mdisk_tx_new(&dd, 1, &t);
	if (!ret)
		ret = mdisk_tx_send_disks(t, c->fd);
	if (!ret)
		ret = mdisk_tx_start(t);
	if (!ret)
		ret = pthread_create(&w, NULL, writer, c) ? -EAGAIN : 0;
	if (ret)
		goto out;
	ret = mdisk_tx_round(t, c->fd, NULL, why, sizeof(why));
	for (int r = 0; !ret && r < 2; r++) {
		wait_writes(c, 100);
		ret = mdisk_tx_round(t, c->fd, NULL, why, sizeof(why));
	}
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_mutex_unlock(&c->lock);
	pthread_join(w, NULL);
	if (!ret)
		ret = mdisk_tx_round(t, c->fd, NULL, why, sizeof(why)); /* the final one */
	if (!ret)
		ret = mstream_send(c->fd, MIGRATE_FR_GO, 0, NULL, 0);
	c->rounds = mdisk_tx_stats(t)->rounds;
out:
	c->sender_ret = ret;
	mdisk_tx_free(t);
	shutdown(c->fd, SHUT_WR);
	return NULL;
}

struct dst {
	struct disk *d;
	uint32_t entry;
};

static struct disk *lookup(void *opaque, uint32_t entry, char *why, size_t whylen)
{
	struct dst *x = opaque;

	if (entry != x->entry) {
		snprintf(why, whylen, "no disk at device %u here", entry);
		return NULL;
	}
	return x->d;
}

/* Receive DISKS, then DISKDATA until GO, into dst. 0 or -errno with why. */
static int receive(int fd, struct dst *x, char *why, size_t whylen, uint64_t *zero)
{
	uint8_t p[MIGRATE_DISKS_LEN_MAX];
	struct mdisk_rx *r = NULL;
	struct mstream_frame f;
	uint64_t data;
	int ret = mstream_recv_frame(fd, &f);

	if (ret || f.type != MIGRATE_FR_DISKS || f.length > sizeof(p) ||
	    mstream_recv_bytes(fd, p, f.length)) {
		snprintf(why, whylen, "no DISKS frame");
		return -EPROTO;
	}
	ret = mdisk_rx_open(p, f.length, lookup, x, &r, why, whylen);
	while (!ret) {
		ret = mstream_recv_frame(fd, &f);
		if (ret) {
			snprintf(why, whylen, "stream: %d", ret);
			break;
		}
		if (f.type == MIGRATE_FR_GO)
			break;
		ret = mdisk_rx_frame(r, fd, &f, why, whylen);
	}
	if (!ret)
		ret = mdisk_rx_finish(r, why, whylen);
	if (r) {
		mdisk_rx_counts(r, &data, zero);
		mdisk_rx_free(r);
	}
	return ret;
}

static void copy_case(bool vhd)
{
	const char *ext = vhd ? "vhd" : "raw", *fmt = vhd ? "vpc" : "raw";
	char src_name[32], dst_name[32], cmd[1400];
	struct copy c = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	struct dst x = { NULL, 3 };
	int sv[2];
	pthread_t th;
	char why[400] = "";
	uint64_t zero = 0;
	int ret;

	snprintf(src_name, sizeof(src_name), "src.%s", ext);
	snprintf(dst_name, sizeof(dst_name), "dst.%s", ext);
	c.src = make_disk(src_name, vhd);
	x.d = make_disk(dst_name, vhd);
	if (!c.src || !x.d)
		return;
	/* the source: data in a few places (the tail block too), zeros elsewhere */
	write_at(c.src, 0, 4096, 1);
	write_at(c.src, 3 << 20, 200 << 10, 2);
	write_at(c.src, DSIZE - 2048, 2048, 3);
	/* the destination had data where the source has zeros: the copy must clear it */
	write_at(x.d, 6 << 20, 64 << 10, 9);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	c.fd = sv[0];
	CHECK_EQ(pthread_create(&th, NULL, sender, &c), 0);
	ret = receive(sv[1], &x, why, sizeof(why), &zero);
	pthread_join(th, NULL);
	close(sv[0]);
	close(sv[1]);
	CHECK_EQ(c.sender_ret, 0);
	CHECK_EQ(c.rounds, 4);
	if (ret)
		printf("# receive: %s\n", why);
	CHECK_EQ(ret, 0);
	CHECK(zero > 0);
	CHECK_EQ(disk_flush(c.src), 0);
	disk_close(c.src);
	disk_close(x.d);
	snprintf(cmd, sizeof(cmd), "qemu-img compare -q -f %s -F %s %s %s", fmt, fmt,
		 P(src_name), P(dst_name));
	CHECK_EQ(sh(cmd), 0);
	if (vhd) {
		/* blocks never written on either side stay unallocated on the destination, and
		 * it has no more blocks than the source (zero blocks were not written) */
		struct vhd *s = NULL, *v = NULL;
		struct vhd_info si, di;
		struct vhd_extent e;
		int unalloc = 0;

		CHECK_EQ(vhd_open(P(src_name), VHD_RDONLY, &s), 0);
		CHECK_EQ(vhd_open(P(dst_name), VHD_RDONLY, &v), 0);
		if (!s || !v) {
			vhd_close(s);
			vhd_close(v);
			return;
		}
		vhd_get_info(s, &si);
		vhd_get_info(v, &di);
		CHECK(di.allocated_blocks <= si.allocated_blocks + 1);
		for (uint64_t sec = 0; sec < DSIZE / 512; sec += e.nsectors) {
			struct vhd_extent se;

			CHECK_EQ(vhd_map(v, sec, DSIZE / 512 - sec, &e), 0);
			CHECK_EQ(vhd_map(s, sec, e.nsectors, &se), 0);
			if (e.depth < 0)
				unalloc++;
			/* allocated on the destination, not on the source: only the block
			 * the destination had written before */
			if (e.depth >= 0 && se.depth < 0)
				CHECK(sec >= (6 << 20) / 512 && sec < (8 << 20) / 512);
		}
		CHECK(unalloc > 0);
		vhd_close(s);
		vhd_close(v);
	}
}

static void test_copy_raw(void)
{
	copy_case(false);
}

static void test_copy_vhd(void)
{
	copy_case(true);
}

/* A 1 GiB sparse raw disk with a little data: the holes go as ZERO records (not read), the
 * copy equals the source, and the destination's own data in a hole is cleared. */
static void test_copy_sparse(void)
{
	const uint64_t G = 1ULL << 30;
	struct disk *src = NULL;
	struct dst x = { NULL, 3 };
	struct mdisk_tx_disk dd;
	struct mdisk_tx *t = NULL;
	char why[400] = "", cmd[1200];
	uint64_t zero = 0;
	int fd, ret;

	for (int k = 0; k < 2; k++) {
		fd = open(P(k ? "sp-dst.raw" : "sp-src.raw"), O_CREAT | O_RDWR | O_TRUNC, 0644);
		CHECK(fd >= 0 && ftruncate(fd, (off_t)G) == 0);
		close(fd);
	}
	CHECK_EQ(disk_open(P("sp-src.raw"), "raw", 0, &src), 0);
	CHECK_EQ(disk_open(P("sp-dst.raw"), "raw", 0, &x.d), 0);
	if (!src || !x.d)
		return;
	write_at(src, 0, 512, 1);
	write_at(src, 300 << 20, 100 << 10, 2);
	write_at(src, G - 4096, 4096, 3);
	write_at(x.d, 700 << 20, 8192, 4);
	dd = (struct mdisk_tx_disk){ src, 3, "disk0" };
	fd = memfd_create("sparse", MFD_CLOEXEC);
	CHECK_EQ(mdisk_tx_new(&dd, 1, &t), 0);
	if (!t)
		return;
	CHECK_EQ(mdisk_tx_send_disks(t, fd), 0);
	CHECK_EQ(mdisk_tx_start(t), 0);
	CHECK_EQ(mdisk_tx_round(t, fd, NULL, why, sizeof(why)), 0);
	CHECK_EQ(mstream_send(fd, MIGRATE_FR_GO, 0, NULL, 0), 0);
	/* only the blocks with data went as data; the stream is small */
	CHECK(mdisk_tx_stats(t)->data <= 4 * DISK_DIRTY_BLOCK);
	CHECK_EQ(mdisk_tx_stats(t)->data + mdisk_tx_stats(t)->zero, G);
	CHECK(mdisk_tx_stats(t)->bytes < (1 << 20));
	mdisk_tx_free(t);
	lseek(fd, 0, SEEK_SET);
	ret = receive(fd, &x, why, sizeof(why), &zero);
	if (ret)
		printf("# receive: %s\n", why);
	CHECK_EQ(ret, 0);
	close(fd);
	disk_close(src);
	disk_close(x.d);
	snprintf(cmd, sizeof(cmd), "qemu-img compare -q -f raw -F raw %s %s", P("sp-src.raw"),
		 P("sp-dst.raw"));
	CHECK_EQ(sh(cmd), 0);
}

/* ---- hostile records ---- */

/* A frame with the right header CRC and the payload CRC given; the payload only when it is
 * at most 64 KiB (larger ones are refused before they are read: nobody reads them here). */
static void send_raw(int fd, uint32_t type, uint32_t index, const void *p, uint64_t len,
		     uint32_t crc)
{
	struct { uint32_t type, index; uint64_t length; uint32_t crc, hdr_crc; uint64_t r; } h =
		{ type, index, len, crc, 0, 0 };

	h.hdr_crc = savestate_crc32(0, &h, 20);
	CHECK_EQ(write(fd, &h, sizeof(h)), (ssize_t)sizeof(h));
	if (len && len <= 65536)
		CHECK_EQ(write(fd, p, len), (ssize_t)len);
}

/* One DISKDATA frame (record rec, data of dlen bytes, CRC good or bad) to a fresh
 * receiver of a 1 MiB raw disk at entry 3: the reason, "" when accepted. */
static const char *one_record(struct disk *d, uint32_t index, struct migrate_disk_rec rec,
			      uint64_t dlen, bool bad_crc)
{
	static char why[400];
	struct migrate_disks h = { MIGRATE_DISK_VERSION, 1, DISK_DIRTY_BLOCK, 0 };
	struct migrate_disk_desc e = { 3, 0, d->size };
	uint8_t buf[sizeof(h) + sizeof(e)], *p = calloc(1, sizeof(rec) + dlen);
	struct dst x = { d, 3 };
	struct mdisk_rx *r = NULL;
	struct mstream_frame f;
	int sv[2], ret;

	why[0] = '\0';
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &e, sizeof(e));
	CHECK_EQ(mdisk_rx_open(buf, sizeof(buf), lookup, &x, &r, why, sizeof(why)), 0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memcpy(p, &rec, sizeof(rec));
	memset(p + sizeof(rec), 0xee, dlen);
	send_raw(sv[0], MIGRATE_FR_DISKDATA, index, p, sizeof(rec) + dlen,
		 savestate_crc32(0, p, sizeof(rec) + dlen) ^ (bad_crc ? 1 : 0));
	shutdown(sv[0], SHUT_WR);
	ret = r && !mstream_recv_frame(sv[1], &f) ? mdisk_rx_frame(r, sv[1], &f, why, sizeof(why))
						  : -1;
	if (ret && !why[0])
		snprintf(why, sizeof(why), "(refused without a reason)");
	if (!ret)
		why[0] = '\0';
	mdisk_rx_free(r);
	close(sv[0]);
	close(sv[1]);
	free(p);
	return why;
}

static bool disk_is_zero(struct disk *d)
{
	static uint8_t b[1 << 20];
	struct iovec v = { b, sizeof(b) };

	if (disk_readv(d, 0, &v, 1))
		return false;
	for (size_t i = 0; i < sizeof(b); i++)
		if (b[i])
			return false;
	return true;
}

static void test_hostile_records(void)
{
	struct disk *d = NULL;
	int fd = open(P("h.raw"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	const uint64_t M = 1 << 20;
	const char *w;

	CHECK(fd >= 0 && ftruncate(fd, (off_t)M) == 0);
	close(fd);
	CHECK_EQ(disk_open(P("h.raw"), "raw", 0, &d), 0);
	if (!d)
		return;
	/* a good one first: accepted and written */
	w = one_record(d, 0, (struct migrate_disk_rec){ M - 4096, 4096, 0, 0 }, 4096, false);
	CHECK(!w[0]);
	CHECK(!disk_is_zero(d));
	CHECK(!one_record(d, 0, (struct migrate_disk_rec){ 0, M, MIGRATE_DISK_ZERO, 0 }, 0,
			  false)[0]);
	CHECK(disk_is_zero(d));
	/* each of these is refused with its reason, and nothing is written */
	w = one_record(d, 0, (struct migrate_disk_rec){ M, 512, 0, 0 }, 512, false);
	CHECK(strstr(w, "beyond the end"));
	w = one_record(d, 0, (struct migrate_disk_rec){ M - 512, 1024, 0, 0 }, 1024, false);
	CHECK(strstr(w, "beyond the end"));
	w = one_record(d, 0, (struct migrate_disk_rec){ UINT64_MAX - 511, 1024,
							MIGRATE_DISK_ZERO, 0 }, 0, false);
	CHECK(strstr(w, "beyond the end"));
	w = one_record(d, 0, (struct migrate_disk_rec){ 0, 2 * M, MIGRATE_DISK_ZERO, 0 }, 0, false);
	CHECK(strstr(w, "beyond the end"));
	w = one_record(d, 0, (struct migrate_disk_rec){ 100, 512, 0, 0 }, 512, false);
	CHECK(strstr(w, "multiple of 512"));
	w = one_record(d, 0, (struct migrate_disk_rec){ 0, 700, 0, 0 }, 700, false);
	CHECK(strstr(w, "multiple of 512"));
	w = one_record(d, 0, (struct migrate_disk_rec){ 0, 0, 0, 0 }, 0, false);
	CHECK(strstr(w, "malformed"));
	w = one_record(d, 0, (struct migrate_disk_rec){ 0, 512, 4, 0 }, 512, false);
	CHECK(strstr(w, "malformed"));
	w = one_record(d, 0, (struct migrate_disk_rec){ 0, 512, 0, 7 }, 512, false);
	CHECK(strstr(w, "malformed"));
	w = one_record(d, 0, (struct migrate_disk_rec){ 0, 1024, 0, 0 }, 512, false);
	CHECK(strstr(w, "does not match"));
	w = one_record(d, 0, (struct migrate_disk_rec){ 0, 512, MIGRATE_DISK_ZERO, 0 }, 512, false);
	CHECK(strstr(w, "does not match"));
	w = one_record(d, 1, (struct migrate_disk_rec){ 0, 512, 0, 0 }, 512, false);
	CHECK(strstr(w, "bad disk"));
	w = one_record(d, 0, (struct migrate_disk_rec){ 0, 512, 0, 0 }, 512, true);
	CHECK(strstr(w, "CRC mismatch"));
	/* more data than a record may carry: refused before it is read */
	w = one_record(d, 0, (struct migrate_disk_rec){ 0, 2 * M, 0, 0 }, MIGRATE_DISK_DATA_MAX + 512,
		       false);
	CHECK(strstr(w, "bad length"));
	CHECK(disk_is_zero(d));
	disk_close(d);
}

/* DISKS frames that do not fit the destination. */
static const char *disks_frame(struct disk *d, struct migrate_disks h,
			       const struct migrate_disk_desc *e, unsigned n, size_t len)
{
	static char why[400];
	uint8_t buf[sizeof(h) + 4 * sizeof(*e)];
	struct dst x = { d, 3 };
	struct mdisk_rx *r = NULL;
	int ret;

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), e, n * sizeof(*e));
	why[0] = '\0';
	ret = mdisk_rx_open(buf, len ? len : sizeof(h) + n * sizeof(*e), lookup, &x, &r, why,
			    sizeof(why));
	mdisk_rx_free(r);
	if (ret && !why[0])
		snprintf(why, sizeof(why), "(refused without a reason)");
	return ret ? why : "";
}

static void test_hostile_disks(void)
{
	struct migrate_disks h = { MIGRATE_DISK_VERSION, 1, DISK_DIRTY_BLOCK, 0 };
	struct migrate_disk_desc e[2] = { { 3, 0, 1 << 20 }, { 3, 0, 1 << 20 } };
	struct disk *d = NULL, *ro = NULL;
	const char *w;
	int fd = open(P("k.raw"), O_CREAT | O_RDWR | O_TRUNC, 0644);

	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	CHECK_EQ(disk_open(P("k.raw"), "raw", 0, &d), 0);
	CHECK_EQ(disk_open(P("k.raw"), "raw", DISK_RDONLY | DISK_NOLOCK, &ro), 0);
	if (!d || !ro)
		return;
	CHECK(!disks_frame(d, h, e, 1, 0)[0]);
	e[0].size = 2 << 20;
	w = disks_frame(d, h, e, 1, 0);
	CHECK(strstr(w, "2097152 bytes") && strstr(w, "1048576 bytes") && strstr(w, "same virtual"));
	e[0].size = 1 << 20;
	w = disks_frame(ro, h, e, 1, 0);
	CHECK(strstr(w, "read-only"));
	e[0].entry = 4;
	w = disks_frame(d, h, e, 1, 0);
	CHECK(strstr(w, "device 4"));
	e[0].entry = 3;
	h.count = 2; /* entries not ascending */
	CHECK(strstr(disks_frame(d, h, e, 2, 0), "malformed"));
	h.count = MIGRATE_DISKS_MAX + 1;
	CHECK(strstr(disks_frame(d, h, e, 1, 0), "malformed"));
	h.count = 1;
	CHECK(strstr(disks_frame(d, h, e, 1, sizeof(h) + 3), "malformed"));
	CHECK(strstr(disks_frame(d, h, e, 1, 8), "too short"));
	h.version = 2;
	CHECK(strstr(disks_frame(d, h, e, 1, 0), "version 2"));
	h.version = MIGRATE_DISK_VERSION;
	e[0].size = 1000; /* not a multiple of 512 */
	CHECK(strstr(disks_frame(d, h, e, 1, 0), "malformed"));
	h.count = 0; /* no disks: accepted */
	CHECK(!disks_frame(d, h, e, 0, 0)[0]);
	disk_close(ro);
	disk_close(d);
}

/* ---- the whole stream: migrate_recv with a disk sink ---- */

#define SMEM (2u << 20)
static uint8_t *sguest;
static int sloads;
static struct disk *sdst;

static int s_config(void *o, const struct savestate_config *c, uint8_t **mem, char *why,
		    size_t whylen)
{
	(void)o, (void)c, (void)why, (void)whylen;
	*mem = sguest;
	return 0;
}

static int s_load(void *o, const struct savestate *st, char *why, size_t whylen)
{
	(void)o, (void)st, (void)why, (void)whylen;
	sloads++;
	return 0;
}

static struct disk *s_disk(void *o, uint32_t index, char *why, size_t whylen)
{
	(void)o;
	if (index != 0) {
		snprintf(why, whylen, "no disk at device %u", index);
		return NULL;
	}
	return sdst;
}

/* A stream as migrate.c sends it with disks=copy, into a memfd: the header (with the DISKS
 * flag unless noflag), CONFIG, DISKS, the disk's full copy, the state sections, END, GO. */
static int disk_stream(struct disk *src, bool noflag)
{
	struct mdisk_tx_disk dd = { src, 0, "disk0" };
	struct mdisk_tx *t = NULL;
	struct savestate *st = NULL;
	struct migrate_end end = { 0 };
	char why[200];
	int fd = memfd_create("mig", MFD_CLOEXEC), ret;

	CHECK_EQ(savestate_alloc(1, &st), 0);
	CHECK_EQ(mdisk_tx_new(&dd, 1, &t), 0);
	if (!st || !t)
		return fd;
	st->config.mem_size = SMEM;
	st->config.nr_cpus = 1;
	st->config.nr_devs = 1;
	st->config.dev[0].kind = 1; /* virtio-blk */
	st->devices->n = 1;
	st->devices->e[0].kind = 1;
	ret = mstream_send_header(fd, noflag ? 0 : MIGRATE_FLAG_DISKS);
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_CONFIG, 0, &st->config, sizeof(st->config));
	if (!noflag)
		ret = ret ? ret : mdisk_tx_send_disks(t, fd);
	ret = ret ? ret : mdisk_tx_start(t);
	ret = ret ? ret : mdisk_tx_round(t, fd, NULL, why, sizeof(why));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_VM, 0, &st->vm, sizeof(st->vm));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_VCPU, 0, &st->vcpus[0], sizeof(st->vcpus[0]));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_LEGACY, 0, &st->legacy, sizeof(st->legacy));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_DEVICES, 0, st->devices,
				       savestate_devices_len(1));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_END, 0, &end, sizeof(end));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_GO, 0, NULL, 0);
	CHECK_EQ(ret, 0);
	mdisk_tx_free(t);
	savestate_free(st);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static struct migrate_recv_stats sst;

static int recv_stream(struct disk *src, bool noflag, const struct migrate_sink *sink,
		       char *why, size_t whylen)
{
	int in = disk_stream(src, noflag), out = memfd_create("ans", MFD_CLOEXEC), ret;

	ret = migrate_recv(in, out, sink, NULL, &sst, why, whylen);
	close(in);
	close(out);
	return ret;
}

static bool same_contents(struct disk *a, struct disk *b)
{
	static uint8_t x[1 << 20], y[1 << 20];
	bool same = a->size == b->size;

	for (uint64_t off = 0; same && off < a->size; off += sizeof(x)) {
		struct iovec u = { x, a->size - off < sizeof(x) ? a->size - off : sizeof(x) };
		struct iovec v = { y, u.iov_len };

		same = !disk_readv(a, off / 512, &u, 1) && !disk_readv(b, off / 512, &v, 1) &&
		       !memcmp(x, y, u.iov_len);
	}
	return same;
}

static void test_stream(void)
{
	const struct migrate_sink sink = { s_config, s_load, NULL, NULL, s_disk };
	const struct migrate_sink nodisk = { s_config, s_load, NULL, NULL, NULL };
	struct disk *src = NULL, *other = NULL;
	char why[600] = "";
	int fd;

	sguest = calloc(1, SMEM);
	src = make_disk("s-src.raw", false);
	sdst = make_disk("s-dst.raw", false);
	fd = open(P("s-other.raw"), O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	CHECK_EQ(disk_open(P("s-other.raw"), "raw", 0, &other), 0);
	if (!sguest || !src || !sdst || !other)
		return;
	write_at(src, 0, 8192, 1);
	write_at(src, 5 << 20, 300 << 10, 2);
	write_at(sdst, 10 << 20, 4096, 3); /* zero on the source: cleared by the copy */
	CHECK_EQ(recv_stream(src, false, &sink, why, sizeof(why)), 0);
	if (why[0])
		printf("# %s\n", why);
	CHECK_EQ(sloads, 1);
	CHECK(same_contents(src, sdst));
	/* what holds data went as data (8 KiB and 300 KiB: at most their 1 and 5 blocks; the
	 * file's holes around them may be finer), the rest as zeros */
	CHECK(sst.disk_data >= (308 << 10) && sst.disk_data <= 6 * DISK_DIRTY_BLOCK);
	CHECK_EQ(sst.disk_data + sst.disk_zero, src->size);
	/* a destination that takes no disks refuses the stream */
	CHECK(recv_stream(src, false, &nodisk, why, sizeof(why)) < 0);
	CHECK(strstr(why, "copies its disks"));
	/* disk records in a stream without the flag */
	CHECK(recv_stream(src, true, &sink, why, sizeof(why)) < 0);
	CHECK(strstr(why, "expected pages or the VM state"));
	/* a destination disk of another size: refused before anything is written or loaded */
	write_at(other, 0, 4096, 7);
	disk_close(sdst);
	sdst = other;
	CHECK(recv_stream(src, false, &sink, why, sizeof(why)) < 0);
	CHECK(strstr(why, "same virtual size"));
	CHECK_EQ(sloads, 1);
	disk_close(src);
	disk_close(other);
	free(sguest);
}

int main(void)
{
	if (scratch_make("vsrv-mdisk"))
		return 1;
	RUN(test_copy_raw);
	RUN(test_copy_vhd);
	RUN(test_copy_sparse);
	RUN(test_hostile_records);
	RUN(test_hostile_disks);
	RUN(test_stream);
	scratch_remove();
	return check_done();
}
