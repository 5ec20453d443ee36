/* libvhd: footer and dynamic header encoding, checksums, geometry, UTF-16, small helpers. */
#include "vhd/vhd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static __thread char errbuf[512];

void vhd_seterr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
}

const char *vhd_errmsg(void)
{
	return errbuf;
}

uint32_t vhd_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t vhd_be64(const uint8_t *p)
{
	return (uint64_t)vhd_be32(p) << 32 | vhd_be32(p + 4);
}

void vhd_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

void vhd_put64(uint8_t *p, uint64_t v)
{
	vhd_put32(p, v >> 32);
	vhd_put32(p + 4, (uint32_t)v);
}

uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t csum_off)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i++)
		if (i < csum_off || i >= csum_off + 4)
			sum += buf[i];
	return ~sum;
}

int vhd_footer_parse(const uint8_t *b, struct vhd_footer *f, const char **why)
{
	if (memcmp(b, "conectix", 8)) {
		*why = "no footer cookie \"conectix\"";
		return -EINVAL;
	}
	memset(f, 0, sizeof(*f));
	f->features = vhd_be32(b + 8);
	f->version = vhd_be32(b + 12);
	f->data_offset = vhd_be64(b + 16);
	f->timestamp = vhd_be32(b + 24);
	memcpy(f->creator_app, b + 28, 4);
	f->creator_version = vhd_be32(b + 32);
	memcpy(f->creator_os, b + 36, 4);
	f->original_size = vhd_be64(b + 40);
	f->current_size = vhd_be64(b + 48);
	f->cyls = (uint16_t)(b[56] << 8 | b[57]);
	f->heads = b[58];
	f->spt = b[59];
	f->type = vhd_be32(b + 60);
	f->checksum = vhd_be32(b + 64);
	memcpy(f->uuid, b + 68, 16);
	f->saved_state = b[84];
	if (vhd_checksum(b, 512, 64) != f->checksum) {
		*why = "footer checksum mismatch";
		return -EINVAL;
	}
	if (f->version >> 16 != 1) {
		*why = "unsupported footer version";
		return -EINVAL;
	}
	if (f->type != VHD_TYPE_FIXED && f->type != VHD_TYPE_DYNAMIC && f->type != VHD_TYPE_DIFF) {
		*why = "unknown disk type in footer";
		return -EINVAL;
	}
	return 0;
}

void vhd_footer_build(const struct vhd_footer *f, uint8_t *b)
{
	memset(b, 0, 512);
	memcpy(b, "conectix", 8);
	vhd_put32(b + 8, f->features);
	vhd_put32(b + 12, f->version);
	vhd_put64(b + 16, f->data_offset);
	vhd_put32(b + 24, f->timestamp);
	memcpy(b + 28, f->creator_app, 4);
	vhd_put32(b + 32, f->creator_version);
	memcpy(b + 36, f->creator_os, 4);
	vhd_put64(b + 40, f->original_size);
	vhd_put64(b + 48, f->current_size);
	b[56] = f->cyls >> 8;
	b[57] = (uint8_t)f->cyls;
	b[58] = f->heads;
	b[59] = f->spt;
	vhd_put32(b + 60, f->type);
	memcpy(b + 68, f->uuid, 16);
	b[84] = f->saved_state;
	vhd_put32(b + 64, vhd_checksum(b, 512, 64));
}

int vhd_dynhdr_parse(const uint8_t *b, struct vhd_dynhdr *h, const char **why)
{
	if (memcmp(b, "cxsparse", 8)) {
		*why = "no dynamic header cookie \"cxsparse\"";
		return -EINVAL;
	}
	memset(h, 0, sizeof(*h));
	h->data_offset = vhd_be64(b + 8);
	h->bat_offset = vhd_be64(b + 16);
	h->version = vhd_be32(b + 24);
	h->max_entries = vhd_be32(b + 28);
	h->block_size = vhd_be32(b + 32);
	h->checksum = vhd_be32(b + 36);
	memcpy(h->parent_uuid, b + 40, 16);
	h->parent_ts = vhd_be32(b + 56);
	memcpy(h->parent_name, b + 64, 512);
	for (int i = 0; i < 8; i++) {
		const uint8_t *l = b + 576 + 24 * i;
		h->loc[i].code = vhd_be32(l);
		h->loc[i].space = vhd_be32(l + 4);
		h->loc[i].length = vhd_be32(l + 8);
		h->loc[i].offset = vhd_be64(l + 16);
	}
	if (vhd_checksum(b, 1024, 36) != h->checksum) {
		*why = "dynamic header checksum mismatch";
		return -EINVAL;
	}
	if (h->version >> 16 != 1) {
		*why = "unsupported dynamic header version";
		return -EINVAL;
	}
	if (h->block_size < VHD_MIN_BLOCK || h->block_size > VHD_MAX_BLOCK ||
	    (h->block_size & (h->block_size - 1))) {
		*why = "block size is not a power of two between 512 bytes and 256 MiB";
		return -EINVAL;
	}
	if (h->max_entries == 0 || h->max_entries > VHD_MAX_ENTRIES) {
		*why = "absurd number of BAT entries";
		return -EINVAL;
	}
	if (h->bat_offset % 512 || h->bat_offset < 512) {
		*why = "BAT offset is not a sector offset";
		return -EINVAL;
	}
	return 0;
}

void vhd_dynhdr_build(const struct vhd_dynhdr *h, uint8_t *b)
{
	memset(b, 0, 1024);
	memcpy(b, "cxsparse", 8);
	vhd_put64(b + 8, h->data_offset);
	vhd_put64(b + 16, h->bat_offset);
	vhd_put32(b + 24, h->version);
	vhd_put32(b + 28, h->max_entries);
	vhd_put32(b + 32, h->block_size);
	memcpy(b + 40, h->parent_uuid, 16);
	vhd_put32(b + 56, h->parent_ts);
	memcpy(b + 64, h->parent_name, 512);
	for (int i = 0; i < 8; i++) {
		uint8_t *l = b + 576 + 24 * i;
		vhd_put32(l, h->loc[i].code);
		vhd_put32(l + 4, h->loc[i].space);
		vhd_put32(l + 8, h->loc[i].length);
		vhd_put64(l + 16, h->loc[i].offset);
	}
	vhd_put32(b + 36, vhd_checksum(b, 1024, 36));
}

/* The spec's CHS algorithm (Appendix: CHS calculation). */
void vhd_geometry(uint64_t sectors, uint16_t *cyls, uint8_t *heads, uint8_t *spt)
{
	uint64_t cth;
	unsigned h, s;

	if (sectors > VHD_CHS_MAX)
		sectors = VHD_CHS_MAX;
	if (sectors >= 65535ULL * 16 * 63) {
		s = 255;
		h = 16;
		cth = sectors / s;
	} else {
		s = 17;
		cth = sectors / s;
		h = (unsigned)((cth + 1023) / 1024);
		if (h < 4)
			h = 4;
		if (cth >= h * 1024ULL || h > 16) {
			s = 31;
			h = 16;
			cth = sectors / s;
		}
		if (cth >= h * 1024ULL) {
			s = 63;
			h = 16;
			cth = sectors / s;
		}
	}
	*cyls = (uint16_t)(cth / h);
	*heads = (uint8_t)h;
	*spt = (uint8_t)s;
}

uint64_t vhd_round_size(uint64_t size, bool force_size)
{
	uint64_t sectors = (size + 511) / 512;
	uint16_t c;
	uint8_t h, s;

	if (force_size || sectors == 0)
		return sectors * 512;
	if (sectors >= VHD_CHS_MAX)
		return sectors * 512; /* QEMU keeps current size at the maximum geometry */
	/* Smallest CHS product >= the size (as qemu-img rounds). */
	for (uint64_t n = sectors;; n++) {
		vhd_geometry(n, &c, &h, &s);
		uint64_t p = (uint64_t)c * h * s;
		if (p >= sectors)
			return p * 512;
		if (n - sectors > 65536) /* cannot happen with the spec's tables */
			return sectors * 512;
	}
}

/* Virtual size as QEMU reads it: CHS product unless the creator sizes by current size or
 * the geometry is the maximum. */
uint64_t vhd_footer_vsize(const struct vhd_footer *f)
{
	static const char cs[][4] = { "win ", "qem2", "d2v ", "CTXS", { 't', 'a', 'p', 0 } };
	uint64_t chs = (uint64_t)f->cyls * f->heads * f->spt;
	bool use_chs = true;

	for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++)
		if (!memcmp(f->creator_app, cs[i], 4))
			use_chs = false;
	if (!use_chs || chs == VHD_CHS_MAX || chs == 0)
		return f->current_size / 512 * 512;
	return chs * 512;
}

const char *vhd_type_name(enum vhd_type t)
{
	switch (t) {
	case VHD_TYPE_FIXED: return "fixed";
	case VHD_TYPE_DYNAMIC: return "dynamic";
	case VHD_TYPE_DIFF: return "differencing";
	}
	return "unknown";
}

uint32_t vhd_now(void)
{
	time_t t = time(NULL);

	return t > 946684800 ? (uint32_t)(t - 946684800) : 0;
}

void vhd_uuid_random(uint8_t *u)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && vhd_pread_full(fd, u, 16, 0) == 0;

	/* pread on /dev/urandom ignores the offset */
	if (fd >= 0)
		close(fd);
	if (!ok) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)getpid() << 48;
		for (int i = 0; i < 16; i++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			u[i] = (uint8_t)x;
		}
	}
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
}

static size_t put_utf8(uint32_t c, char *d, size_t room)
{
	if (c < 0x80 && room >= 1) {
		d[0] = (char)c;
		return 1;
	}
	if (c < 0x800 && room >= 2) {
		d[0] = (char)(0xc0 | c >> 6);
		d[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000 && c >= 0x800 && room >= 3) {
		d[0] = (char)(0xe0 | c >> 12);
		d[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		d[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	if (c >= 0x10000 && room >= 4) {
		d[0] = (char)(0xf0 | c >> 18);
		d[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		d[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		d[3] = (char)(0x80 | (c & 0x3f));
		return 4;
	}
	return 0;
}

size_t vhd_utf16_to_utf8(const uint8_t *s, size_t n, bool be, char *d, size_t dl)
{
	size_t o = 0;

	if (dl == 0)
		return 0;
	for (size_t i = 0; i + 1 < n; i += 2) {
		uint32_t c = be ? (uint32_t)(s[i] << 8 | s[i + 1]) : (uint32_t)(s[i + 1] << 8 | s[i]);
		if (c == 0)
			break;
		if (c >= 0xd800 && c < 0xdc00 && i + 3 < n) {
			uint32_t c2 = be ? (uint32_t)(s[i + 2] << 8 | s[i + 3])
					 : (uint32_t)(s[i + 3] << 8 | s[i + 2]);
			if (c2 >= 0xdc00 && c2 < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (c2 - 0xdc00);
				i += 2;
			} else {
				c = 0xfffd;
			}
		} else if (c >= 0xd800 && c < 0xe000) {
			c = 0xfffd;
		}
		size_t k = put_utf8(c, d + o, dl - 1 - o);
		if (k == 0)
			break;
		o += k;
	}
	d[o] = 0;
	return o;
}

long vhd_utf8_to_utf16(const char *src, bool be, uint8_t *d, size_t dl)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;

	while (*s) {
		uint32_t c;
		int extra;
		if (*s < 0x80) { c = *s; extra = 0; }
		else if ((*s & 0xe0) == 0xc0) { c = *s & 0x1f; extra = 1; }
		else if ((*s & 0xf0) == 0xe0) { c = *s & 0x0f; extra = 2; }
		else if ((*s & 0xf8) == 0xf0) { c = *s & 0x07; extra = 3; }
		else return -EINVAL;
		s++;
		for (int k = 0; k < extra; k++, s++) {
			if ((*s & 0xc0) != 0x80)
				return -EINVAL;
			c = c << 6 | (*s & 0x3f);
		}
		uint32_t u[2];
		int nu = 1;
		if (c >= 0x10000) {
			c -= 0x10000;
			u[0] = 0xd800 + (c >> 10);
			u[1] = 0xdc00 + (c & 0x3ff);
			nu = 2;
		} else {
			u[0] = c;
		}
		for (int k = 0; k < nu; k++) {
			if (o + 2 > dl)
				return -EINVAL;
			d[o + (be ? 0 : 1)] = (uint8_t)(u[k] >> 8);
			d[o + (be ? 1 : 0)] = (uint8_t)u[k];
			o += 2;
		}
	}
	return (long)o;
}

int vhd_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t r = pread(fd, p, len, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO; /* short file */
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int vhd_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t r = pwrite(fd, p, len, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

bool vhd_is_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	const uint64_t *q;

	while (len && ((uintptr_t)p & 7)) {
		if (*p++)
			return false;
		len--;
	}
	q = (const uint64_t *)p;
	for (; len >= 64; len -= 64, q += 8)
		if (q[0] | q[1] | q[2] | q[3] | q[4] | q[5] | q[6] | q[7])
			return false;
	p = (const uint8_t *)q;
	while (len--)
		if (*p++)
			return false;
	return true;
}
