/* Live migration of local disks: the DISKS and DISKDATA frames, sender and receiver (see
 * migrate_disk.h and docs/migration.md). */
#include "vmm/migrate_disk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk/disk.h"

_Static_assert(sizeof(struct migrate_disks) == 16, "DISKS head is 16 bytes");
_Static_assert(sizeof(struct migrate_disk_desc) == 16, "a DISKS entry is 16 bytes");
_Static_assert(sizeof(struct migrate_disk_rec) == 24, "a DISKDATA record is 24 bytes");
_Static_assert(MIGRATE_DISK_DATA_MAX % DISK_DIRTY_BLOCK == 0, "whole blocks per record");

/* As in migrate_stream.c: fuzz builds do not compare CRCs. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CRC_BAD(a, b) ((void)(a), (void)(b), 0)
#else
#define CRC_BAD(a, b) ((a) != (b))
#endif

#define RANGE_BLOCKS (MIGRATE_DISK_DATA_MAX / DISK_DIRTY_BLOCK) /* blocks read at once */

static int say(char *why, size_t whylen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return ret;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t acc = 0;

	if (n && (p[0] | p[n - 1]))
		return false;
	for (size_t i = 0; i < n / 8; i++)
		acc |= w[i];
	return acc == 0;
}

/* ---- source ---- */

struct mdisk_tx {
	uint32_t n;
	struct mdisk_tx_disk d[MIGRATE_DISKS_MAX];
	bool started;
	uint8_t *buf;                 /* MIGRATE_DISK_DATA_MAX bytes, page-aligned (O_DIRECT) */
	struct mdisk_tx_stats st;
};

int mdisk_tx_new(const struct mdisk_tx_disk *d, uint32_t n, struct mdisk_tx **out)
{
	struct mdisk_tx *t;

	if (n > MIGRATE_DISKS_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (!d[i].d || d[i].d->readonly || (i && d[i].entry <= d[i - 1].entry))
			return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (posix_memalign((void **)&t->buf, 4096, MIGRATE_DISK_DATA_MAX)) {
		free(t);
		return -ENOMEM;
	}
	memcpy(t->d, d, n * sizeof(*d));
	t->n = n;
	*out = t;
	return 0;
}

int mdisk_tx_send_disks(struct mdisk_tx *t, int fd)
{
	struct migrate_disks h = { MIGRATE_DISK_VERSION, t->n, DISK_DIRTY_BLOCK, 0 };
	struct migrate_disk_desc e[MIGRATE_DISKS_MAX];
	struct iovec iov[2] = { { &h, sizeof(h) }, { e, t->n * sizeof(e[0]) } };

	for (uint32_t i = 0; i < t->n; i++)
		e[i] = (struct migrate_disk_desc){ t->d[i].entry, 0, t->d[i].d->size };
	t->st.bytes += 32 + sizeof(h) + t->n * sizeof(e[0]);
	return mstream_sendv(fd, MIGRATE_FR_DISKS, 0, iov, t->n ? 2 : 1);
}

int mdisk_tx_start(struct mdisk_tx *t)
{
	for (uint32_t i = 0; i < t->n; i++) {
		int ret = disk_dirty_start(t->d[i].d, true);

		if (ret) {
			while (i-- > 0)
				disk_dirty_stop(t->d[i].d);
			return ret;
		}
	}
	t->started = true;
	return 0;
}

/* One record of disk i: [off, off + len), from buf (NULL: a ZERO record). */
static int send_rec(struct mdisk_tx *t, int fd, uint32_t i, uint64_t off, uint64_t len,
		    const uint8_t *buf)
{
	struct migrate_disk_rec r = { off, len, buf ? 0 : MIGRATE_DISK_ZERO, 0 };
	struct iovec iov[2] = { { &r, sizeof(r) }, { (void *)buf, buf ? len : 0 } };

	t->st.bytes += 32 + sizeof(r) + (buf ? len : 0);
	if (buf)
		t->st.data += len;
	else
		t->st.zero += len;
	return mstream_sendv(fd, MIGRATE_FR_DISKDATA, i, iov, buf ? 2 : 1);
}

/* Send [off, off + len) of disk i, which may hold data: read it, then runs of blocks with
 * data as data records, runs of all-zero blocks as ZERO records. */
static int send_data(struct mdisk_tx *t, int fd, uint32_t i, uint64_t off, uint64_t len,
		     char *why, size_t whylen)
{
	struct disk *d = t->d[i].d;
	struct iovec v = { t->buf, len };
	uint64_t run = 0;      /* bytes of buf in the current run */
	bool run_zero = false;
	int ret = disk_readv(d, off / DISK_SECTOR, &v, 1);

	if (ret)
		return say(why, whylen, ret, "cannot read %s (%s) at byte %llu: %s", t->d[i].label,
			   d->path, (unsigned long long)off, strerror(-ret));
	for (uint64_t p = 0; p < len; p += DISK_DIRTY_BLOCK) {
		uint64_t n = len - p < DISK_DIRTY_BLOCK ? len - p : DISK_DIRTY_BLOCK;
		bool z = all_zero(t->buf + p, n);

		if (run && z != run_zero) {
			ret = send_rec(t, fd, i, off + p - run, run,
				       run_zero ? NULL : t->buf + p - run);
			if (ret)
				return ret;
			run = 0;
		}
		run_zero = z;
		run += n;
	}
	return send_rec(t, fd, i, off + len - run, run, run_zero ? NULL : t->buf + len - run);
}

/* Send nblocks blocks of disk i from block b: the image's holes (a raw file's, a dynamic
 * VHD's unallocated blocks: disk_block_status) as ZERO records without reading them, the
 * rest read (send_data). */
static int send_range(struct mdisk_tx *t, int fd, uint32_t i, uint64_t b, uint32_t nblocks,
		      char *why, size_t whylen)
{
	struct disk *d = t->d[i].d;
	uint64_t off = b << DISK_DIRTY_SHIFT, end = (b + nblocks) << DISK_DIRTY_SHIFT;
	int ret = 0;

	if (end > d->size)
		end = d->size;
	while (!ret && off < end) {
		uint64_t len;
		bool hole;

		disk_block_status(d, off / DISK_SECTOR, (end - off) / DISK_SECTOR, &hole, &len);
		len *= DISK_SECTOR;
		if (!len || len > end - off)
			len = end - off;
		ret = hole ? send_rec(t, fd, i, off, len, NULL) :
			     send_data(t, fd, i, off, len, why, whylen);
		off += len;
	}
	return ret;
}

int mdisk_tx_round(struct mdisk_tx *t, int fd, const int *cancel, char *why, size_t whylen)
{
	int ret;

	why[0] = '\0';
	for (uint32_t i = 0; i < t->n; i++) {
		struct disk *d = t->d[i].d;
		uint64_t words = disk_dirty_words(d);

		for (uint64_t w = 0; w < words; w++) {
			uint64_t bits = disk_dirty_take(d, w);

			while (bits) {
				uint32_t lo = (uint32_t)__builtin_ctzll(bits), hi = lo;

				while (hi + 1 < 64 && hi + 1 - lo < RANGE_BLOCKS &&
				       (bits >> (hi + 1) & 1))
					hi++;
				bits &= ~((hi == 63 ? ~0ULL : (1ULL << (hi + 1)) - 1) &
					  ~((1ULL << lo) - 1));
				if (cancel && __atomic_load_n(cancel, __ATOMIC_ACQUIRE))
					return -ECANCELED;
				ret = send_range(t, fd, i, w * 64 + lo, hi - lo + 1, why, whylen);
				if (ret)
					return ret;
			}
		}
	}
	t->st.rounds++;
	return 0;
}

uint64_t mdisk_tx_dirty_bytes(struct mdisk_tx *t)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < t->n; i++)
		n += disk_dirty_count(t->d[i].d);
	return n << DISK_DIRTY_SHIFT;
}

const struct mdisk_tx_stats *mdisk_tx_stats(const struct mdisk_tx *t)
{
	return &t->st;
}

void mdisk_tx_free(struct mdisk_tx *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; t->started && i < t->n; i++)
		disk_dirty_stop(t->d[i].d);
	free(t->buf);
	free(t);
}

/* ---- destination ---- */

struct mdisk_rx {
	uint32_t n;
	struct {
		struct disk *d;
		uint32_t entry;
	} d[MIGRATE_DISKS_MAX];
	uint8_t *buf;                 /* the record and its data, page-aligned data */
	uint64_t data, zero;
};

int mdisk_rx_open(const void *p, uint64_t len, mdisk_lookup_fn lookup, void *opaque,
		  struct mdisk_rx **out, char *why, size_t whylen)
{
	struct migrate_disks h;
	struct mdisk_rx *r;
	int ret = -EPROTO;

	*out = NULL;
	why[0] = '\0';
	if (len < sizeof(h))
		return say(why, whylen, -EPROTO, "the disks frame is too short");
	memcpy(&h, p, sizeof(h));
	if (h.version != MIGRATE_DISK_VERSION)
		return say(why, whylen, -EPROTO, "the source copies disks with version %u of the "
			   "records, this vsrv reads version %u", h.version, MIGRATE_DISK_VERSION);
	if (h.count > MIGRATE_DISKS_MAX || h.reserved ||
	    len != sizeof(h) + (uint64_t)h.count * sizeof(struct migrate_disk_desc))
		return say(why, whylen, -EPROTO, "the disks frame is malformed (count or length)");
	r = calloc(1, sizeof(*r));
	if (!r || posix_memalign((void **)&r->buf, 4096, MIGRATE_DISK_DATA_MAX + 4096)) {
		free(r);
		return say(why, whylen, -ENOMEM, "out of memory");
	}
	for (uint32_t i = 0; i < h.count; i++) {
		struct migrate_disk_desc e;
		struct disk *d;

		memcpy(&e, (const uint8_t *)p + sizeof(h) + i * sizeof(e), sizeof(e));
		if (e.reserved || (i && e.entry <= r->d[i - 1].entry) || !e.size ||
		    e.size % DISK_SECTOR) {
			say(why, whylen, -EPROTO, "the disks frame is malformed (entry %u)", i);
			goto err;
		}
		r->d[i].entry = e.entry;
		r->n = i + 1;
		why[0] = '\0';
		d = lookup(opaque, e.entry, why, whylen);
		if (!d) {
			ret = -EINVAL;
			if (!why[0])
				say(why, whylen, 0, "the destination has no disk at device %u to copy "
				    "the source's into", e.entry);
			goto err;
		}
		if (d->readonly) {
			ret = say(why, whylen, -EROFS, "the destination's disk at device %u (%s) is "
				  "read-only: it cannot receive the source's copy", e.entry, d->path);
			goto err;
		}
		if (d->size != e.size) {
			ret = say(why, whylen, -EINVAL, "the source's disk at device %u is %llu bytes, "
				  "the destination's (%s) %llu bytes (create it with the same virtual "
				  "size)", e.entry, (unsigned long long)e.size, d->path,
				  (unsigned long long)d->size);
			goto err;
		}
		r->d[i].d = d;
	}
	*out = r;
	return 0;
err:
	mdisk_rx_free(r);
	return ret;
}

/* Make [off, off + len) of d read as zeros: write_zeroes (which leaves a dynamic VHD's
 * unallocated blocks unallocated), else zeros written from buf. */
static int write_zero(struct mdisk_rx *r, struct disk *d, uint64_t off, uint64_t len)
{
	int ret = -ENOTSUP;

	if (d->ops->write_zeroes)
		ret = d->ops->write_zeroes(d, off / DISK_SECTOR, len / DISK_SECTOR, true);
	if (ret != -ENOTSUP && ret != -EOPNOTSUPP)
		return ret;
	memset(r->buf, 0, MIGRATE_DISK_DATA_MAX);
	for (uint64_t p = 0; p < len; p += MIGRATE_DISK_DATA_MAX) {
		struct iovec v = { r->buf, len - p < MIGRATE_DISK_DATA_MAX ? len - p :
					    MIGRATE_DISK_DATA_MAX };

		ret = disk_writev(d, (off + p) / DISK_SECTOR, &v, 1);
		if (ret)
			return ret;
	}
	return 0;
}

int mdisk_rx_frame(struct mdisk_rx *r, int fd, const struct mstream_frame *f, char *why,
		   size_t whylen)
{
	struct migrate_disk_rec rec;
	uint8_t *data = r->buf + 4096 - sizeof(rec); /* the data lands page-aligned */
	struct disk *d;
	uint32_t c;
	int ret;

	if (f->index >= r->n || f->length < sizeof(rec) ||
	    f->length > sizeof(rec) + MIGRATE_DISK_DATA_MAX)
		return say(why, whylen, -EPROTO, "a disk record names a bad disk (%u) or has a bad "
			   "length", f->index);
	ret = mstream_recv_bytes(fd, data, f->length);
	if (ret == -ECONNRESET)
		return say(why, whylen, -EPROTO, "the stream ended early (a disk record)");
	if (ret)
		return say(why, whylen, ret == -EAGAIN ? -ETIMEDOUT : ret, "cannot read a disk "
			   "record: %s", ret == -EAGAIN ? "the source went silent" : strerror(-ret));
	memcpy(&rec, data, sizeof(rec));
	d = r->d[f->index].d;
	if (rec.reserved || (rec.flags & ~MIGRATE_DISK_ZERO) || !rec.length ||
	    rec.offset % DISK_SECTOR || rec.length % DISK_SECTOR)
		return say(why, whylen, -EPROTO, "a disk record is malformed (flags, or a length "
			   "or offset not a multiple of 512)");
	if (rec.offset > d->size || rec.length > d->size - rec.offset)
		return say(why, whylen, -EPROTO, "a disk record names bytes %llu+%llu, beyond the "
			   "end of disk %u (%llu bytes)", (unsigned long long)rec.offset,
			   (unsigned long long)rec.length, f->index, (unsigned long long)d->size);
	if (f->length != sizeof(rec) + (rec.flags & MIGRATE_DISK_ZERO ? 0 : rec.length))
		return say(why, whylen, -EPROTO, "a disk record's length does not match its data");
	c = savestate_crc32(0, data, f->length);
	if (CRC_BAD(f->crc, c))
		return say(why, whylen, -EPROTO, "a disk record is corrupt (CRC mismatch)");
	if (rec.flags & MIGRATE_DISK_ZERO) {
		ret = write_zero(r, d, rec.offset, rec.length);
		r->zero += rec.length;
	} else {
		struct iovec v = { data + sizeof(rec), rec.length };

		ret = disk_writev(d, rec.offset / DISK_SECTOR, &v, 1);
		r->data += rec.length;
	}
	if (ret)
		return say(why, whylen, -EIO, "cannot write the destination's disk at device %u "
			   "(%s): %s", r->d[f->index].entry, d->path, strerror(-ret));
	return 0;
}

int mdisk_rx_finish(struct mdisk_rx *r, char *why, size_t whylen)
{
	for (uint32_t i = 0; i < r->n; i++) {
		int ret = disk_flush(r->d[i].d);

		if (ret)
			return say(why, whylen, -EIO, "cannot flush the destination's disk at device "
				   "%u (%s): %s", r->d[i].entry, r->d[i].d->path, strerror(-ret));
	}
	return 0;
}

void mdisk_rx_counts(const struct mdisk_rx *r, uint64_t *data, uint64_t *zero)
{
	*data = r->data;
	*zero = r->zero;
}

void mdisk_rx_free(struct mdisk_rx *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}
