#include "devices/virtio/blk.h"
#include "devices/virtio/kind.h"
#include "devices/virtio/stats.h"
#include "devices/disk_uring.h"

#include "util/log.h"

#include <errno.h>
#include <liburing.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BLK_F_SIZE_MAX 1
#define BLK_F_SEG_MAX 2
#define BLK_F_RO 5
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH 9
#define BLK_F_MQ 12
#define BLK_F_DISCARD 13
#define BLK_F_WRITE_ZEROES 14

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13

#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2

#define QUEUE_MAX 256
#define SEG_MAX (QUEUE_MAX - 2)
#define MAX_DISCARD_SEG 32
#define MAX_DISCARD_SECTORS (1u << 22) /* 2 GiB per segment */
#define URING_DEPTH 256

struct blk_config {
	uint64_t capacity;
	uint32_t size_max, seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback, unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap, unused1[3];
} __attribute__((packed));

struct blk_req {
	struct blk_req *next_free;
	unsigned q;
	uint32_t gen;
	uint8_t *status;
	uint32_t used_len;
	uint32_t type;
	uint64_t sector;
	uint64_t len;      /* data bytes */
	struct iovec *iov; /* data buffers, inside el.iov */
	int niov;
	struct virtq_elem el;
};

struct virtio_blk {
	struct virtio_dev dev;
	struct disk *disk;
	struct blk_config cfg;
	char serial[20];
	bool uring_ok;
	struct io_uring ring;
	int ring_efd;
	unsigned inflight;           /* on io_uring, all queues */
	unsigned to_submit;          /* SQEs prepared, not submitted yet */
	unsigned q_inflight[16];     /* per queue: while > 0 the queue needs no notification */
	struct blk_req *free_reqs;
	bool logged_bad;
	unsigned poll_miss;          /* consecutive polls that found nothing (see BLK_POLL_NS) */
	unsigned poll_skipped;       /* polls skipped since polling was given up */
	struct vdisk_stats st;       /* written on the I/O thread only (not saved) */
};

static void blk_config_access(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len,
			      bool is_write)
{
	struct virtio_blk *b = d->priv;

	if (is_write) {
		/* writeback is the only writable field; we always honour flush anyway */
		return;
	}
	virtio_config_copy(&b->cfg, sizeof(b->cfg), off, data, len);
}

static struct blk_req *req_get(struct virtio_blk *b)
{
	struct blk_req *r = b->free_reqs;

	if (r) {
		b->free_reqs = r->next_free;
		return r;
	}
	return malloc(sizeof(*r));
}

static void req_put(struct virtio_blk *b, struct blk_req *r)
{
	r->next_free = b->free_reqs;
	b->free_reqs = r;
}

static void req_count(struct virtio_blk *b, const struct blk_req *r, uint8_t status)
{
	struct vdisk_stats *st = &b->st;

	if (status != S_OK) {
		vstat_add(&st->errors, 1);
		return;
	}
	switch (r->type) {
	case T_IN:
		vstat_add(&st->read_ops, 1);
		vstat_add(&st->read_bytes, r->len);
		break;
	case T_OUT:
		vstat_add(&st->write_ops, 1);
		vstat_add(&st->write_bytes, r->len);
		break;
	case T_FLUSH:
		vstat_add(&st->flush_ops, 1);
		break;
	case T_DISCARD:
	case T_WRITE_ZEROES:
		vstat_add(&st->discard_ops, 1);
		break;
	}
}

static void req_complete(struct virtio_blk *b, struct blk_req *r, uint8_t status)
{
	req_count(b, r, status);
	if (r->status)
		*r->status = status;
	virtio_push(&b->dev, r->q, r->gen, r->el.head, r->used_len);
	req_put(b, r);
}

static bool range_ok(struct virtio_blk *b, uint64_t sector, uint64_t nsec)
{
	uint64_t cap = b->cfg.capacity;

	return sector <= cap && nsec <= cap - sector;
}

static void log_bad(struct virtio_blk *b, const char *why, uint64_t a)
{
	if (!b->logged_bad)
		vsrv_log("%s: bad request: %s (%llu); failing it", b->dev.name, why,
			 (unsigned long long)a);
	b->logged_bad = true;
}

/* Discard and write-zeroes: a table of {sector, num_sectors, flags} segments. */
static uint8_t do_ranges(struct virtio_blk *b, struct blk_req *r)
{
	struct { uint64_t sector; uint32_t num, flags; } seg;
	uint64_t n = (r->el.out_len - 16) / 16, i;
	struct disk *dk = b->disk;
	int ret;

	if (dk->readonly)
		return S_IOERR;
	if ((r->el.out_len - 16) % 16 || n == 0 || n > MAX_DISCARD_SEG) {
		log_bad(b, "discard/write-zeroes segment table", n);
		return S_UNSUPP;
	}
	for (i = 0; i < n; i++) {
		virtq_elem_read(&r->el, 16 + 16 * i, &seg, 16);
		if (!range_ok(b, seg.sector, seg.num) || seg.num > MAX_DISCARD_SECTORS) {
			log_bad(b, "discard/write-zeroes range beyond the disk", seg.sector);
			return S_IOERR;
		}
		if (r->type == T_DISCARD) {
			if (seg.flags) /* unmap flag is reserved for discard */
				return S_UNSUPP;
			ret = dk->ops->discard ? dk->ops->discard(dk, seg.sector, seg.num) : -ENOTSUP;
		} else {
			if (seg.flags & ~1u)
				return S_UNSUPP;
			ret = dk->ops->write_zeroes ?
			      dk->ops->write_zeroes(dk, seg.sector, seg.num, seg.flags & 1) : -ENOTSUP;
		}
		if (ret == -ENOTSUP || ret == -EOPNOTSUPP)
			return S_UNSUPP;
		if (ret)
			return S_IOERR;
	}
	return S_OK;
}

static uint8_t do_sync(struct virtio_blk *b, struct blk_req *r)
{
	int ret;

	switch (r->type) {
	case T_IN:
		ret = disk_readv(b->disk, r->sector, r->iov, r->niov);
		return ret ? S_IOERR : S_OK;
	case T_OUT:
		ret = disk_writev(b->disk, r->sector, r->iov, r->niov);
		return ret ? S_IOERR : S_OK;
	case T_FLUSH:
		return disk_flush(b->disk) ? S_IOERR : S_OK;
	case T_DISCARD:
	case T_WRITE_ZEROES:
		return do_ranges(b, r);
	default:
		return S_UNSUPP;
	}
}

/* Parse the chain: header, data, status byte. Returns -1 if the request may proceed, or
 * the status to complete it with at once. */
static int parse_req(struct virtio_blk *b, struct blk_req *r)
{
	struct { uint32_t type, reserved; uint64_t sector; } hdr;
	struct virtq_elem *e = &r->el;
	struct iovec *last;
	unsigned i;
	uint64_t skip;

	r->status = NULL;
	r->used_len = 0;
	r->type = T_GET_ID; /* counted as nothing until the header is read */
	if (e->in_len < 1 || virtq_elem_read(e, 0, &hdr, 16) != 16) {
		log_bad(b, "no header or no status byte", e->head);
		return S_IOERR;
	}
	last = &e->iov[e->n_out + e->n_in - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->used_len = 1;
	r->type = hdr.type;
	r->sector = hdr.sector;
	switch (hdr.type) {
	case T_IN:
		last->iov_len--; /* the status byte is not data */
		r->iov = &e->iov[e->n_out];
		r->niov = e->n_in - (last->iov_len == 0);
		r->len = e->in_len - 1;
		break;
	case T_OUT:
		if (b->disk->readonly)
			return S_IOERR;
		/* drop the 16 header bytes from the front of the readable buffers */
		for (i = 0, skip = 16; i < e->n_out && skip; i++) {
			uint64_t l = e->iov[i].iov_len < skip ? e->iov[i].iov_len : skip;

			e->iov[i].iov_base = (uint8_t *)e->iov[i].iov_base + l;
			e->iov[i].iov_len -= l;
			skip -= l;
		}
		r->iov = e->iov;
		r->niov = e->n_out;
		while (r->niov > 0 && r->iov[0].iov_len == 0) {
			r->iov++;
			r->niov--;
		}
		r->len = e->out_len - 16;
		break;
	case T_GET_ID: {
		size_t n = e->in_len - 1 < 20 ? e->in_len - 1 : 20;

		virtq_elem_write(e, 0, b->serial, n);
		r->used_len = n + 1;
		return S_OK;
	}
	case T_FLUSH:
	case T_DISCARD:
	case T_WRITE_ZEROES:
		return -1;
	default:
		return S_UNSUPP;
	}
	if (r->len % DISK_SECTOR || !range_ok(b, r->sector, r->len / DISK_SECTOR)) {
		log_bad(b, "unaligned length or beyond the end of the disk", r->sector);
		return S_IOERR;
	}
	if (hdr.type == T_IN)
		r->used_len = r->len + 1;
	return -1;
}

static bool uring_submit(struct virtio_blk *b, struct blk_req *r)
{
	struct io_uring_sqe *sqe;
	uint64_t off = b->disk->direct_offset + r->sector * DISK_SECTOR;
	int fd = b->disk->direct_fd;

	/* fd < 0: the disk went to a new top that is not a flat file (disk-switch) */
	if (!b->uring_ok || fd < 0 || (r->type != T_IN && r->type != T_OUT) || r->len == 0 ||
	    b->inflight >= URING_DEPTH)
		return false;
	sqe = io_uring_get_sqe(&b->ring);
	if (!sqe)
		return false;
	/* One buffer (the common case for large requests): plain read/write, no iovec. */
	if (r->niov == 1 && r->type == T_IN)
		io_uring_prep_read(sqe, fd, r->iov[0].iov_base, r->iov[0].iov_len, off);
	else if (r->niov == 1)
		io_uring_prep_write(sqe, fd, r->iov[0].iov_base, r->iov[0].iov_len, off);
	else if (r->type == T_IN)
		io_uring_prep_readv(sqe, fd, r->iov, r->niov, off);
	else
		io_uring_prep_writev(sqe, fd, r->iov, r->niov, off);
	io_uring_sqe_set_data(sqe, r);
	b->inflight++;
	b->q_inflight[r->q]++;
	b->to_submit++;
	return true;
}

static void blk_submit(struct virtio_blk *b)
{
	if (b->to_submit) {
		io_uring_submit(&b->ring);
		b->to_submit = 0;
	}
}

static void blk_reap(struct virtio_blk *b, unsigned *done_q)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&b->ring, &cqe) == 0) {
		struct blk_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		uint8_t st;

		io_uring_cqe_seen(&b->ring, cqe);
		b->inflight--;
		b->q_inflight[r->q]--;
		/* a write that went around the disk layer: its blocks are dirty now (a
		 * migration copying the disk sends them again) */
		if (r->type == T_OUT)
			disk_dirty_mark(b->disk, r->sector, r->len / DISK_SECTOR);
		if (res >= 0 && (uint64_t)res == r->len)
			st = S_OK;
		else
			st = do_sync(b, r); /* short transfer or O_DIRECT refusal: retry plainly */
		*done_q |= 1u << r->q;
		req_complete(b, r, st);
	}
}

/* After completions, a queue watches its avail ring this long before it stops looking
 * (requests still in flight: their completions bring it back) or asks the driver for a
 * notification (idle). A driver that queues its next request as soon as it sees a
 * completion is then served without a notification, which costs the guest 8-100 us on
 * hosts like ours, and with requests in flight the refill is submitted at once rather than
 * at the next completion. The watch ends early when io_uring has completions to reap. */
#define BLK_POLL_NS 15000
/* Polling only pays while the vCPU runs on another core. When the scheduler puts the I/O
 * thread on the vCPU's core (seen on our loaded 2-core hosts: every poll then misses), the
 * watch only takes 15 us from the vCPU per request: after this many misses in a row, poll
 * only once per BLK_POLL_RETRY chances until a poll finds work again. */
#define BLK_POLL_GIVEUP 8
#define BLK_POLL_RETRY 32

static bool blk_poll_avail(struct virtio_blk *b, unsigned q)
{
	struct timespec t0, t;
	long ns;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (virtio_has_avail(&b->dev, q))
			return true;
		if (io_uring_cq_ready(&b->ring))
			return false;
		clock_gettime(CLOCK_MONOTONIC, &t);
		ns = (t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec);
		if (ns >= BLK_POLL_NS)
			return false;
		__builtin_ia32_pause();
	}
}

/* Take every available request of queue q. While requests of q are in flight the driver's
 * notifications stay off (the completions bring us back here); when the queue goes idle,
 * re-enable them and look once more. poll: just after completions (see BLK_POLL_NS). */
static void blk_serve(struct virtio_blk *b, unsigned q, unsigned *done, bool poll)
{
	struct virtio_dev *d = &b->dev;

	for (;;) {
		struct blk_req *r = req_get(b);
		int st;

		if (!r)
			break;
		st = virtio_pop_busy(d, q, &r->el, &r->gen);
		if (st != 1) {
			req_put(b, r);
			if (st < 0)
				break;
			if (poll && b->uring_ok && virtio_dev_running(d)) {
				poll = false;
				if (b->to_submit)
					blk_submit(b); /* what we have goes to the disk first */
				if (b->poll_miss >= BLK_POLL_GIVEUP &&
				    ++b->poll_skipped % BLK_POLL_RETRY)
					goto idle;
				if (blk_poll_avail(b, q)) {
					b->poll_miss = 0;
					continue;
				}
				b->poll_miss++;
			}
idle:
			if (b->q_inflight[q] || !virtio_arm(d, q))
				break;
			continue;
		}
		r->q = q;
		st = parse_req(b, r);
		if (st < 0 && uring_submit(b, r))
			continue;
		if (st < 0)
			st = do_sync(b, r);
		req_complete(b, r, st);
		*done |= 1u << q;
	}
}

static void blk_notify(struct virtio_blk *b, unsigned done)
{
	unsigned q;

	for (q = 0; q < b->dev.nq; q++)
		if (done & (1u << q))
			virtio_notify(&b->dev, q);
}

/* After taking requests or seeing completions: submit, reap, interrupt (a driver waiting
 * for the interrupt queues its next request on it), then serve again the queues that
 * completed something, until nothing moves. */
static void blk_progress(struct virtio_blk *b, unsigned done)
{
	unsigned more, q;

	for (;;) {
		blk_submit(b);
		if (b->uring_ok)
			blk_reap(b, &done);
		if (!done)
			break;
		blk_notify(b, done);
		more = 0;
		for (q = 0; q < b->dev.nq; q++)
			if (done & (1u << q))
				blk_serve(b, q, &more, true);
		done = more;
	}
}

static void blk_queue(struct virtio_dev *d, unsigned q)
{
	struct virtio_blk *b = d->priv;
	unsigned done = 0;

	blk_serve(b, q, &done, false);
	blk_progress(b, done);
}

static void blk_ring_event(struct virtio_dev *d, int fd, uint32_t events)
{
	struct virtio_blk *b = d->priv;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	blk_progress(b, 0);
}

/* virtio_dev_quiesce: complete what is on io_uring (pushed, interrupt raised) and take
 * nothing new. The queues may be left with notifications off: the resume looks at them. */
static int blk_quiesce(struct virtio_dev *d)
{
	struct virtio_blk *b = d->priv;
	unsigned done = 0;
	int ret = 0;

	blk_submit(b);
	while (b->uring_ok && b->inflight) {
		struct io_uring_cqe *cqe;

		ret = io_uring_wait_cqe(&b->ring, &cqe);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret) {
			vsrv_log("%s: cannot wait for %u requests in flight: %s", d->name,
				 b->inflight, strerror(-ret));
			break;
		}
		blk_reap(b, &done);
	}
	blk_notify(b, done);
	return ret;
}

static const struct virtio_dev_ops blk_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.config_access = blk_config_access,
	.queue_notify = blk_queue,
	.quiesce = blk_quiesce,
};

int virtio_blk_create(struct virtio_host *h, struct disk *disk, const char *name,
		      const struct virtio_blk_opts *o, struct virtio_blk **out)
{
	struct virtio_blk *b;
	unsigned nq = o && o->queues ? o->queues : 1;
	uint64_t feat;
	const char *base;
	int ret;

	if (nq > 16)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->ring_efd = -1;
	feat = 1ULL << BLK_F_SEG_MAX | 1ULL << BLK_F_BLK_SIZE | 1ULL << BLK_F_FLUSH |
	       1ULL << BLK_F_DISCARD | 1ULL << BLK_F_WRITE_ZEROES;
	if (disk->readonly)
		feat |= 1ULL << BLK_F_RO;
	if (nq > 1)
		feat |= 1ULL << BLK_F_MQ;
	b->cfg.capacity = disk->size / DISK_SECTOR;
	b->cfg.seg_max = SEG_MAX;
	b->cfg.blk_size = DISK_SECTOR;
	b->cfg.num_queues = nq;
	b->cfg.writeback = 1;
	b->cfg.max_discard_sectors = MAX_DISCARD_SECTORS;
	b->cfg.max_discard_seg = MAX_DISCARD_SEG;
	b->cfg.discard_sector_alignment = 8;
	b->cfg.max_write_zeroes_sectors = MAX_DISCARD_SECTORS;
	b->cfg.max_write_zeroes_seg = MAX_DISCARD_SEG;
	b->cfg.write_zeroes_may_unmap = 1;
	if (o && o->serial) {
		base = o->serial;
	} else {
		base = strrchr(disk->path ? disk->path : "disk", '/');
		base = base ? base + 1 : (disk->path ? disk->path : "disk");
	}
	memcpy(b->serial, base, strnlen(base, sizeof(b->serial)));
	ret = virtio_dev_init(&b->dev, &blk_ops, b, h, name, nq, QUEUE_MAX, feat);
	if (ret)
		goto err_free;
	if (disk->direct_fd >= 0 && !(o && o->no_uring)) {
		b->ring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (b->ring_efd >= 0 && disk_uring_init(&b->ring, URING_DEPTH) == 0) {
			if (io_uring_register_eventfd(&b->ring, b->ring_efd) == 0 &&
			    virtio_dev_watch(&b->dev, b->ring_efd, EPOLLIN, blk_ring_event) == 0)
				b->uring_ok = true;
			else
				io_uring_queue_exit(&b->ring);
		}
		if (!b->uring_ok)
			vsrv_log("%s: io_uring unavailable, using synchronous I/O", name);
	}
	b->disk = disk;
	ret = virtio_dev_start(&b->dev);
	if (ret)
		goto err_dev;
	*out = b;
	return 0;
err_dev:
	if (b->uring_ok)
		io_uring_queue_exit(&b->ring);
	virtio_dev_destroy(&b->dev);
err_free:
	if (b->ring_efd >= 0)
		close(b->ring_efd);
	free(b);
	return ret;
}

struct virtio_dev *virtio_blk_dev(struct virtio_blk *b)
{
	return &b->dev;
}

bool virtio_blk_uses_uring(const struct virtio_blk *b)
{
	return b->uring_ok;
}

const struct vdisk_stats *virtio_blk_stats(const struct virtio_blk *b)
{
	return &b->st;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	struct blk_req *r;
	unsigned done = 0;

	if (!b)
		return;
	virtio_dev_destroy(&b->dev); /* joins the I/O thread */
	if (b->uring_ok) {
		while (b->inflight) {
			struct io_uring_cqe *cqe;

			if (io_uring_wait_cqe(&b->ring, &cqe))
				break;
			blk_reap(b, &done);
		}
		io_uring_queue_exit(&b->ring);
	}
	if (b->ring_efd >= 0)
		close(b->ring_efd);
	while ((r = b->free_reqs)) {
		b->free_reqs = r->next_free;
		free(r);
	}
	disk_flush(b->disk);
	free(b);
}

int virtio_blk_save(struct virtio_blk *b, struct virtio_blk_state *st)
{
	int ret;

	memset(st, 0, sizeof(*st));
	ret = virtio_dev_save(&b->dev, &st->dev); /* drains io_uring first */
	pthread_mutex_lock(&b->dev.lock);
	st->capacity = b->cfg.capacity;
	st->num_queues = b->cfg.num_queues;
	st->writeback = b->cfg.writeback;
	st->readonly = b->disk->readonly;
	memcpy(st->serial, b->serial, sizeof(st->serial));
	pthread_mutex_unlock(&b->dev.lock);
	return ret;
}

int virtio_blk_restore(struct virtio_blk *b, const struct virtio_blk_state *st)
{
	int ret;

	if (st->capacity != b->cfg.capacity || st->num_queues != b->cfg.num_queues ||
	    st->writeback > 1 || st->readonly != b->disk->readonly ||
	    memcmp(st->serial, b->serial, sizeof(st->serial)))
		return -EINVAL; /* not the disk the guest knew */
	ret = virtio_dev_check(&b->dev, &st->dev);
	if (ret)
		return ret;
	ret = virtio_dev_quiesce(&b->dev);
	if (ret == -EDEADLK)
		return ret;
	pthread_mutex_lock(&b->dev.lock);
	b->cfg.writeback = st->writeback;
	pthread_mutex_unlock(&b->dev.lock);
	ret = virtio_dev_restore(&b->dev, &st->dev);
	virtio_dev_resume(&b->dev);
	return ret;
}

/* --- the device kind (kind.h): --disk PATH[,bus=virtio-blk] (the default bus) --- */

static int blk_kind_create(struct vdevs *v, struct device_entry *e, const void *opts,
			   unsigned idx)
{
	const struct vopt_disk *o = opts;
	struct virtio_blk_opts bo = { .queues = o->queues, .serial = o->serial };
	struct virtio_blk *b;
	int ret;

	ret = devices_open_disk(v, e, o, idx);
	if (ret)
		return ret;
	e->bus_or_backend = "virtio-blk";
	snprintf(e->name, sizeof(e->name), "virtio-blk%u", idx);
	ret = virtio_blk_create(&v->host, e->disk, e->name, &bo, &b);
	if (ret) {
		vsrv_log("%s (%s): cannot create: %s", e->name, o->path, strerror(-ret));
		return ret;
	}
	e->priv = b;
	e->dev = virtio_blk_dev(b);
	e->dstats = virtio_blk_stats(b);
	e->transport = o->transport;
	return 0;
}

static void blk_kind_destroy(struct vdevs *v, struct device_entry *e)
{
	(void)v;
	virtio_blk_destroy(e->priv);
}

static int blk_kind_save(struct device_entry *e, void *st)
{
	return virtio_blk_save(e->priv, st);
}

static int blk_kind_restore(struct device_entry *e, const void *st)
{
	return virtio_blk_restore(e->priv, st);
}

_Static_assert(offsetof(struct virtio_blk_state, dev) == 0, "the core's state comes first");
_Static_assert(sizeof(struct virtio_blk_state) <= VDEV_STATE_MAX, "fits a state entry");

const struct device_kind virtio_blk_kind = {
	.name = "virtio-blk",
	.id = 1,
	.option = "disk",
	.words = (const char *const[]){ "", "virtio-blk", "blk", NULL },
	.usage = "PATH[,bus=virtio-blk]",
	.bus = DEVICE_BUS_VIRTIO,
	.pci_class = 0x018000,
	.parse = devices_parse_disk,
	.check = devices_check_disk,
	.opts_free = devices_free_disk_opts,
	.create = blk_kind_create,
	.destroy = blk_kind_destroy,
	.state_size = sizeof(struct virtio_blk_state),
	.save = blk_kind_save,
	.restore = blk_kind_restore,
};
