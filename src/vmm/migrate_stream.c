/* The live-migration stream: framing, sender and receiver (see migrate_stream.h and
 * docs/migration.md). */
#include "vmm/migrate_stream.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/enlight.h"

#include "vmm/migrate_disk.h"
#include "vmm/vm.h"

/* The stream header: the save file's header layout with its own magic. */
struct stream_hdr {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t layout;
	uint32_t page_size;
	uint32_t flags;
	uint64_t created;
	uint8_t reserved[20];
	uint32_t crc;            /* of the 60 bytes before it */
};

/* A frame header: the save file's section header. */
struct frame_hdr {
	uint32_t type;
	uint32_t index;
	uint64_t length;
	uint32_t crc;            /* of the payload */
	uint32_t hdr_crc;        /* of the 20 bytes before it */
	uint64_t reserved;
};

_Static_assert(sizeof(struct stream_hdr) == 64, "stream header is 64 bytes");
_Static_assert(sizeof(struct frame_hdr) == 32, "frame header is 32 bytes");
_Static_assert(sizeof(struct migrate_end) == 24, "END payload is 24 bytes");

#define PAGE SAVESTATE_PAGE

/* As in savestate_file.c: fuzz builds do not compare CRCs, so inputs reach the checks
 * behind them. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CRC_BAD(a, b) ((void)(a), (void)(b), 0)
#else
#define CRC_BAD(a, b) ((a) != (b))
#endif

static uint32_t crc(uint32_t c, const void *p, size_t n)
{
	return savestate_crc32(c, p, n);
}

/* ---- I/O ---- */

/* A socket with a send timeout reports it as EWOULDBLOCK: a timeout to the caller. */
static int writev_all(int fd, struct iovec *iov, int n)
{
	int ret = savestate_writev_all(fd, iov, n);

	return ret == -EWOULDBLOCK ? -ETIMEDOUT : ret;
}

/* Read exactly n bytes: 0, -ECONNRESET at the end of the stream, -EAGAIN on the socket's
 * timeout, -errno. */
static int read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n) {
		ssize_t r = read(fd, b, n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static void frame_seal(struct frame_hdr *h)
{
	h->hdr_crc = crc(0, h, offsetof(struct frame_hdr, hdr_crc));
}

/* ---- sender ---- */

int mstream_send_header(int fd, uint32_t flags)
{
	struct stream_hdr h = { .version = MIGRATE_VERSION, .header_size = sizeof(h),
				.page_size = PAGE, .flags = flags };
	struct iovec iov = { &h, sizeof(h) };

	memcpy(h.magic, MIGRATE_MAGIC, 8);
	h.layout = savestate_layout();
	h.created = (uint64_t)time(NULL);
	h.crc = crc(0, &h, offsetof(struct stream_hdr, crc));
	return writev_all(fd, &iov, 1);
}

int mstream_send(int fd, uint32_t type, uint32_t index, const void *p, uint64_t len)
{
	struct frame_hdr h = { .type = type, .index = index, .length = len };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)p, len } };

	h.crc = crc(0, p, len);
	frame_seal(&h);
	return writev_all(fd, iov, len ? 2 : 1);
}

int mstream_send2(int fd, uint32_t type, uint32_t index, const void *p, uint64_t len,
		  const void *p2, uint64_t len2)
{
	struct frame_hdr h = { .type = type, .index = index, .length = len + len2 };
	struct iovec iov[3] = { { &h, sizeof(h) }, { (void *)p, len }, { (void *)p2, len2 } };

	h.crc = crc(crc(0, p, len), p2, len2);
	frame_seal(&h);
	return writev_all(fd, iov, len2 ? 3 : 2);
}

int mstream_sendv(int fd, uint32_t type, uint32_t index, const struct iovec *iov, int n)
{
	struct frame_hdr h = { .type = type, .index = index };
	struct iovec v[8];

	if (n < 0 || n > 7)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		h.length += iov[i].iov_len;
		h.crc = crc(h.crc, iov[i].iov_base, iov[i].iov_len);
		v[i + 1] = iov[i];
	}
	frame_seal(&h);
	v[0] = (struct iovec){ &h, sizeof(h) };
	return writev_all(fd, v, n + 1);
}

int mstream_send_pages(int fd, const uint8_t *mem, const uint64_t *idx, uint32_t n,
		       uint8_t *buf, uint64_t *bytes)
{
	struct frame_hdr h = { .type = MIGRATE_FR_PAGES };
	uint32_t cnt[2] = { n, 0 };
	struct iovec iov[4];
	uint32_t c;

	if (n < 1 || n > MIGRATE_BATCH)
		return -EINVAL;
	/* a copy: the guest may write the pages while they are sent (a page it changes is
	 * dirty again and goes in a later round), but CRC and data must agree */
	for (uint32_t i = 0; i < n; i++)
		memcpy(buf + (size_t)i * PAGE, mem + idx[i] * PAGE, PAGE);
	h.length = sizeof(cnt) + (uint64_t)n * 8 + (uint64_t)n * PAGE;
	c = crc(0, cnt, sizeof(cnt));
	c = crc(c, idx, (size_t)n * 8);
	h.crc = crc(c, buf, (size_t)n * PAGE);
	frame_seal(&h);
	iov[0] = (struct iovec){ &h, sizeof(h) };
	iov[1] = (struct iovec){ cnt, sizeof(cnt) };
	iov[2] = (struct iovec){ (void *)idx, (size_t)n * 8 };
	iov[3] = (struct iovec){ buf, (size_t)n * PAGE };
	*bytes += sizeof(h) + h.length;
	return writev_all(fd, iov, 4);
}

/* Read one frame header and check its CRC. */
static int read_frame_hdr(int fd, struct frame_hdr *h)
{
	int ret = read_all(fd, h, sizeof(*h));

	if (ret)
		return ret;
	if (CRC_BAD(h->hdr_crc, crc(0, h, offsetof(struct frame_hdr, hdr_crc))) || h->reserved)
		return -EPROTO;
	return 0;
}

int mstream_recv_frame(int fd, struct mstream_frame *f)
{
	struct frame_hdr h;
	int ret = read_frame_hdr(fd, &h);

	if (ret)
		return ret;
	*f = (struct mstream_frame){ h.type, h.index, h.length, h.crc };
	return 0;
}

int mstream_recv_bytes(int fd, void *p, size_t n)
{
	return read_all(fd, p, n);
}

int mstream_recv_reply(int fd, uint32_t *type, char *msg, size_t msglen)
{
	char text[MIGRATE_MSG_MAX + 1];
	struct frame_hdr h;
	int ret;

	msg[0] = '\0';
	ret = read_frame_hdr(fd, &h);
	if (ret)
		return ret;
	if ((h.type != MIGRATE_FR_OK && h.type != MIGRATE_FR_READY && h.type != MIGRATE_FR_REFUSE) ||
	    h.index || h.length > MIGRATE_MSG_MAX || (h.type != MIGRATE_FR_REFUSE && h.length))
		return -EPROTO;
	ret = read_all(fd, text, h.length);
	if (ret)
		return ret;
	if (CRC_BAD(h.crc, crc(0, text, h.length)))
		return -EPROTO;
	text[h.length] = '\0';
	for (size_t i = 0; i < h.length; i++)
		if (text[i] < 0x20 || text[i] > 0x7e)
			text[i] = '?';
	snprintf(msg, msglen, "%s", text);
	*type = h.type;
	return 0;
}

/* ---- receiver ---- */

struct rx {
	int in, out;
	char *why;
	size_t whylen;
	struct migrate_recv_stats *st;
	uint8_t *mem;
	uint64_t npages;
	const struct migrate_sink *sink;
	void *opaque;
	uint32_t flags;             /* the stream header's */
	struct mdisk_rx *disks;     /* with MIGRATE_FLAG_DISKS: where DISKDATA goes */
};

/* Set the reason (printf-style) and return ret. */
static int rx_fail(struct rx *x, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->why, x->whylen, fmt, ap);
	va_end(ap);
	return ret;
}

/* A read error as a reason. */
static int rx_io(struct rx *x, int ret, const char *what)
{
	if (ret == -ECONNRESET)
		return rx_fail(x, -EPROTO, "the stream ended early (%s)", what);
	if (ret == -EAGAIN)
		return rx_fail(x, -ETIMEDOUT, "the source went silent (%s)", what);
	if (ret == -EPROTO)
		return rx_fail(x, ret, "a corrupt frame header (%s)", what);
	return rx_fail(x, ret, "cannot read the stream (%s): %s", what, strerror(-ret));
}

static void rx_refuse(struct rx *x)
{
	size_t n = strlen(x->why);

	mstream_send(x->out, MIGRATE_FR_REFUSE, 0, x->why, n > MIGRATE_MSG_MAX ? MIGRATE_MSG_MAX : n);
}

/* Read a frame of type/index whose payload is exactly len bytes into p. */
static int rx_section(struct rx *x, uint32_t type, uint32_t index, void *p, uint64_t len,
		      const char *what)
{
	struct frame_hdr h;
	int ret = read_frame_hdr(x->in, &h);

	if (ret)
		return rx_io(x, ret, what);
	if (h.type != type || h.index != index)
		return rx_fail(x, -EPROTO, "frames out of order: expected %s", what);
	/* the legacy devices' state grew (savestate_legacy.ps2): a sender of the first format
	 * sends the shorter one */
	if (h.length != len && !(type == MIGRATE_FR_LEGACY && h.length == SAVESTATE_LEGACY_V1))
		return rx_fail(x, -EPROTO, "%s has the wrong length", what);
	len = h.length;
	ret = read_all(x->in, p, len);
	if (ret)
		return rx_io(x, ret, what);
	x->st->bytes += sizeof(h) + len;
	if (CRC_BAD(h.crc, crc(0, p, len)))
		return rx_fail(x, -EPROTO, "%s is corrupt (CRC mismatch)", what);
	return 0;
}

/* The payload of a PAGES frame whose header h was read. */
static int rx_pages(struct rx *x, const struct frame_hdr *h, uint64_t *idx)
{
	struct iovec iov[MIGRATE_BATCH];
	uint32_t cnt[2], c, i, j;
	int niov = 0, ret;

	if (h->length < sizeof(cnt))
		return rx_fail(x, -EPROTO, "a page batch is too short");
	ret = read_all(x->in, cnt, sizeof(cnt));
	if (ret)
		return rx_io(x, ret, "a page batch");
	if (cnt[0] < 1 || cnt[0] > MIGRATE_BATCH || cnt[1] ||
	    h->length != sizeof(cnt) + (uint64_t)cnt[0] * (8 + PAGE))
		return rx_fail(x, -EPROTO, "a page batch has a bad count or length");
	ret = read_all(x->in, idx, (size_t)cnt[0] * 8);
	if (ret)
		return rx_io(x, ret, "a page batch");
	for (i = 0; i < cnt[0]; i++)
		if (idx[i] >= x->npages || (i && idx[i] <= idx[i - 1]))
			return rx_fail(x, -EPROTO, "a page batch names pages outside the RAM or "
				       "out of order");
	/* the pages go straight into guest memory (which no vCPU runs yet: a bad CRC ends
	 * the migration before it could) */
	for (i = 0; i < cnt[0]; i = j) {
		for (j = i + 1; j < cnt[0] && idx[j] == idx[j - 1] + 1; j++)
			;
		iov[niov++] = (struct iovec){ x->mem + idx[i] * PAGE, (size_t)(j - i) * PAGE };
	}
	for (i = 0; i < (uint32_t)niov; i++) {
		ret = read_all(x->in, iov[i].iov_base, iov[i].iov_len);
		if (ret)
			return rx_io(x, ret, "a page batch");
	}
	c = crc(0, cnt, sizeof(cnt));
	c = crc(c, idx, (size_t)cnt[0] * 8);
	for (i = 0; i < (uint32_t)niov; i++)
		c = crc(c, iov[i].iov_base, iov[i].iov_len);
	if (CRC_BAD(h->crc, c))
		return rx_fail(x, -EPROTO, "a page batch is corrupt (CRC mismatch)");
	x->st->bytes += sizeof(*h) + h->length;
	x->st->pages += cnt[0];
	return 0;
}

static int rx_header(struct rx *x)
{
	struct stream_hdr h;
	int ret = read_all(x->in, &h, sizeof(h));

	if (ret)
		return rx_io(x, ret, "the stream header");
	x->st->bytes += sizeof(h);
	if (memcmp(h.magic, MIGRATE_MAGIC, 8))
		return rx_fail(x, -EPROTO, "not a vsrv migration stream (bad magic)");
	if (CRC_BAD(h.crc, crc(0, &h, offsetof(struct stream_hdr, crc))))
		return rx_fail(x, -EPROTO, "the stream header is corrupt (CRC mismatch)");
	if (h.version != MIGRATE_VERSION)
		return rx_fail(x, -EPROTO, "the source speaks migration version %u, this vsrv %u",
			       h.version, MIGRATE_VERSION);
	if (h.header_size != sizeof(h) || h.page_size != PAGE ||
	    (h.flags & ~(MIGRATE_FLAG_FIRMWARE | MIGRATE_FLAG_DISKS)))
		return rx_fail(x, -EPROTO, "the stream header is malformed");
	if ((h.flags & MIGRATE_FLAG_DISKS) && !x->sink->disk)
		return rx_fail(x, -EINVAL, "the source copies its disks, which this destination "
			       "does not take");
	if (h.layout != savestate_layout())
		return rx_fail(x, -EPROTO, "the source is a vsrv build with other state layouts");
	x->flags = h.flags;
	return 0;
}

/* After DEVICES of a source with MIGRATE_FLAG_FIRMWARE: the FIRMWARE frame into s (its
 * variable store into s->fw_vars_buf). */
static int rx_firmware(struct rx *x, struct savestate *s)
{
	struct frame_hdr h;
	const char *cwhy;
	uint32_t c;
	int ret = read_frame_hdr(x->in, &h);

	if (ret)
		return rx_io(x, ret, "the firmware's state");
	if (h.type != MIGRATE_FR_FIRMWARE || h.index)
		return rx_fail(x, -EPROTO, "frames out of order: expected the firmware's state");
	if (h.length < sizeof(s->fw) || h.length > sizeof(s->fw) + SAVESTATE_FW_VARS_MAX)
		return rx_fail(x, -EPROTO, "the firmware's state has the wrong length");
	ret = read_all(x->in, &s->fw, sizeof(s->fw));
	if (ret)
		return rx_io(x, ret, "the firmware's state");
	ret = savestate_check_firmware(&s->fw, h.length, &cwhy);
	if (ret)
		return rx_fail(x, -EPROTO, "%s", cwhy);
	c = crc(0, &s->fw, sizeof(s->fw));
	if (s->fw.vars_size) {
		s->fw_vars_buf = malloc(s->fw.vars_size);
		if (!s->fw_vars_buf)
			return rx_fail(x, -ENOMEM, "out of memory");
		ret = read_all(x->in, s->fw_vars_buf, s->fw.vars_size);
		if (ret)
			return rx_io(x, ret, "the UEFI variable store");
		c = crc(c, s->fw_vars_buf, s->fw.vars_size);
		s->fw_vars = s->fw_vars_buf;
	}
	x->st->bytes += sizeof(h) + h.length;
	if (CRC_BAD(h.crc, c))
		return rx_fail(x, -EPROTO, "the firmware's state is corrupt (CRC mismatch)");
	s->has_fw = 1;
	return 0;
}

/* After DEVICES: DEVMEM frames into the devices' memory (the sink says where), until the
 * header of another frame, which is left in *h. */
static int rx_devmem(struct rx *x, const struct savestate *s, struct frame_hdr *h)
{
	uint32_t n = 0, last = 0;
	uint8_t *dst;
	int ret;

	for (;;) {
		ret = read_frame_hdr(x->in, h);
		if (ret)
			return rx_io(x, ret, "device memory or the end frame");
		if (h->type != MIGRATE_FR_DEVMEM)
			return 0;
		if (h->index >= s->config.nr_devs || (n && h->index <= last) || !h->length ||
		    h->length > SAVESTATE_DEVMEM_MAX)
			return rx_fail(x, -EPROTO, "a device memory frame names a bad entry or has "
				       "a bad length");
		dst = x->sink->devmem ? x->sink->devmem(x->opaque, h->index, h->length, x->why,
							x->whylen) : NULL;
		if (!dst)
			return x->why[0] ? -EINVAL :
			       rx_fail(x, -EINVAL, "device %u's memory is refused", h->index);
		ret = read_all(x->in, dst, h->length);
		if (ret)
			return rx_io(x, ret, "a device's memory");
		x->st->bytes += sizeof(*h) + h->length;
		if (CRC_BAD(h->crc, crc(0, dst, h->length)))
			return rx_fail(x, -EPROTO, "a device's memory is corrupt (CRC mismatch)");
		last = h->index;
		n++;
	}
}

/* With MIGRATE_FLAG_DISKS, after CONFIG: the DISKS frame, checked against the destination's
 * disks (the sink names them). */
static int rx_disks(struct rx *x)
{
	struct frame_hdr h;
	uint8_t *p;
	int ret = read_frame_hdr(x->in, &h);

	if (ret)
		return rx_io(x, ret, "the disks");
	if (h.type != MIGRATE_FR_DISKS || h.index || h.length > MIGRATE_DISKS_LEN_MAX)
		return rx_fail(x, -EPROTO, "frames out of order or malformed: expected the disks");
	p = malloc(h.length ? h.length : 1);
	if (!p)
		return rx_fail(x, -ENOMEM, "out of memory");
	ret = read_all(x->in, p, h.length);
	if (ret) {
		free(p);
		return rx_io(x, ret, "the disks");
	}
	x->st->bytes += sizeof(h) + h.length;
	if (CRC_BAD(h.crc, crc(0, p, h.length)))
		ret = rx_fail(x, -EPROTO, "the disks frame is corrupt (CRC mismatch)");
	else
		ret = mdisk_rx_open(p, h.length, x->sink->disk, x->opaque, &x->disks, x->why,
				    x->whylen);
	free(p);
	return ret;
}

/* After CONFIG and OK: PAGES frames, then the state sections and END into s. */
static int rx_body(struct rx *x, struct savestate *s, struct migrate_end *end)
{
	uint64_t *idx = malloc(MIGRATE_BATCH * sizeof(*idx));
	struct frame_hdr h;
	const char *cwhy;
	int ret;

	if (!idx)
		return rx_fail(x, -ENOMEM, "out of memory");
	for (;;) {
		ret = read_frame_hdr(x->in, &h);
		if (ret) {
			ret = rx_io(x, ret, "memory or state");
			goto out;
		}
		if (h.type == MIGRATE_FR_DISKDATA && x->disks) {
			struct mstream_frame f = { h.type, h.index, h.length, h.crc };

			ret = mdisk_rx_frame(x->disks, x->in, &f, x->why, x->whylen);
			if (ret)
				goto out;
			x->st->bytes += sizeof(h) + h.length;
			continue;
		}
		if (h.type != MIGRATE_FR_PAGES)
			break;
		if (h.index > 100000) {
			ret = rx_fail(x, -EPROTO, "a page batch names a bad round");
			goto out;
		}
		ret = rx_pages(x, &h, idx);
		if (ret)
			goto out;
	}
	/* the VM section's header is read: its payload next */
	if (h.type != MIGRATE_FR_VM || h.index || h.length != sizeof(s->vm)) {
		ret = rx_fail(x, -EPROTO, "frames out of order or malformed: expected pages or "
			      "the VM state");
		goto out;
	}
	ret = read_all(x->in, &s->vm, sizeof(s->vm));
	if (ret) {
		ret = rx_io(x, ret, "the VM state");
		goto out;
	}
	x->st->bytes += sizeof(h) + sizeof(s->vm);
	if (CRC_BAD(h.crc, crc(0, &s->vm, sizeof(s->vm)))) {
		ret = rx_fail(x, -EPROTO, "the VM state is corrupt (CRC mismatch)");
		goto out;
	}
	for (uint32_t i = 0; !ret && i < s->config.nr_cpus; i++)
		ret = rx_section(x, MIGRATE_FR_VCPU, i, &s->vcpus[i], sizeof(s->vcpus[i]),
				 "a vCPU's state");
	if (!ret)
		ret = rx_section(x, MIGRATE_FR_LEGACY, 0, &s->legacy, sizeof(s->legacy),
				 "the legacy devices' state");
	if (!ret)
		ret = rx_section(x, MIGRATE_FR_DEVICES, 0, s->devices,
				 savestate_devices_len(s->config.nr_devs), "the devices' state");
	if (!ret && s->config.enlightenments == X86_ENLIGHT_XEN)
		ret = rx_section(x, MIGRATE_FR_XEN, 0, &s->xen, sizeof(s->xen),
				 "the Xen platform's state");
	if (!ret && (x->flags & MIGRATE_FLAG_FIRMWARE))
		ret = rx_firmware(x, s);
	if (!ret)
		ret = rx_devmem(x, s, &h);
	if (ret)
		goto out;
	/* the end frame's header is read: its payload next */
	if (h.type != MIGRATE_FR_END || h.index || h.length != sizeof(*end)) {
		ret = rx_fail(x, -EPROTO, "frames out of order: expected the end frame");
		goto out;
	}
	ret = read_all(x->in, end, sizeof(*end));
	if (ret) {
		ret = rx_io(x, ret, "the end frame");
		goto out;
	}
	x->st->bytes += sizeof(h) + sizeof(*end);
	if (CRC_BAD(h.crc, crc(0, end, sizeof(*end)))) {
		ret = rx_fail(x, -EPROTO, "the end frame is corrupt (CRC mismatch)");
		goto out;
	}
	if (end->verify > 1 || end->reserved) {
		ret = rx_fail(x, -EPROTO, "the end frame is malformed");
		goto out;
	}
	x->st->rounds = end->rounds;
	ret = savestate_check(s, &cwhy);
	if (ret) {
		ret = rx_fail(x, ret, "%s", cwhy);
		goto out;
	}
	if (end->verify && CRC_BAD(end->mem_crc, crc(0, x->mem, s->config.mem_size))) {
		ret = rx_fail(x, -EPROTO, "the guest memory differs from the source's (CRC "
			      "mismatch over all of the RAM)");
		goto out;
	}
	/* the disks' copies are complete (the source sent the last blocks with its guest
	 * stopped): make them durable before anything loads */
	if (x->disks)
		ret = mdisk_rx_finish(x->disks, x->why, x->whylen);
out:
	free(idx);
	return ret;
}

int migrate_recv(int in_fd, int out_fd, const struct migrate_sink *sink, void *opaque,
		 struct migrate_recv_stats *st, char *why, size_t whylen)
{
	struct rx x = { .in = in_fd, .out = out_fd, .why = why, .whylen = whylen, .st = st,
			.sink = sink, .opaque = opaque };
	struct savestate_config cfg;
	struct savestate *s = NULL;
	struct migrate_end end;
	const char *cwhy;
	struct frame_hdr h;
	int ret;

	memset(st, 0, sizeof(*st));
	why[0] = '\0';
	ret = rx_header(&x);
	if (ret)
		goto refuse;
	if (sink->flags && (ret = sink->flags(opaque, x.flags, why, whylen))) {
		if (!why[0])
			rx_fail(&x, ret, "the source is refused");
		goto refuse;
	}
	ret = rx_section(&x, MIGRATE_FR_CONFIG, 0, &cfg, sizeof(cfg), "the configuration");
	if (ret)
		goto refuse;
	ret = savestate_check_config(&cfg, &cwhy);
	if (ret) {
		rx_fail(&x, ret, "%s", cwhy);
		goto refuse;
	}
	ret = sink->config(opaque, &cfg, &x.mem, why, whylen);
	if (ret) {
		if (!why[0])
			rx_fail(&x, ret, "the configuration is refused");
		goto refuse;
	}
	x.npages = cfg.mem_size / PAGE;
	if (x.flags & MIGRATE_FLAG_DISKS) {
		ret = rx_disks(&x);
		if (ret)
			goto refuse;
	}
	ret = savestate_alloc(cfg.nr_cpus, &s);
	if (ret) {
		rx_fail(&x, ret, "out of memory");
		goto refuse;
	}
	s->config = cfg;
	ret = mstream_send(out_fd, MIGRATE_FR_OK, 0, NULL, 0);
	if (ret) {
		rx_fail(&x, ret, "cannot answer the source: %s", strerror(-ret));
		goto out;
	}
	ret = rx_body(&x, s, &end);
	if (ret)
		goto refuse;
	ret = sink->load(opaque, s, why, whylen);
	if (ret) {
		if (!why[0])
			rx_fail(&x, ret, "the state is refused");
		goto refuse;
	}
	ret = mstream_send(out_fd, MIGRATE_FR_READY, 0, NULL, 0);
	if (ret) {
		rx_fail(&x, ret, "cannot answer the source: %s", strerror(-ret));
		goto out;
	}
	/* The source ends its VM once it has sent GO: only then may this one run. */
	ret = read_frame_hdr(in_fd, &h);
	if (ret) {
		rx_io(&x, ret, "waiting for the source to hand over");
		ret = -ECONNABORTED;
		goto out;
	}
	if (h.type != MIGRATE_FR_GO || h.index || h.length) {
		ret = rx_fail(&x, -EPROTO, "the source did not hand over (a bad frame after END)");
		goto out;
	}
	st->bytes += sizeof(h);
	if (x.disks)
		mdisk_rx_counts(x.disks, &st->disk_data, &st->disk_zero);
	savestate_free(s);
	mdisk_rx_free(x.disks);
	return 0;
refuse:
	rx_refuse(&x);
out:
	savestate_free(s);
	mdisk_rx_free(x.disks);
	return ret;
}
