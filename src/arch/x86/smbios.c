/* SMBIOS structure table and 3.0 entry point (smbios.h). Layouts from the DMTF SMBIOS
 * reference specification 3.0 (DSP0134): each structure is {u8 type, u8 length, u16 handle},
 * its formatted area (length bytes in all), then its strings, each NUL-terminated, and one
 * more NUL (two NULs when it has no string). Handles follow QEMU's numbering. */
#include "arch/x86/smbios.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIMM_MAX      (16ULL << 30)  /* a type 17 device holds at most this */
#define KIB           1024ULL

/* The table being built: a growing buffer; the structure being written starts at cur. */
struct sb {
	uint8_t *p;
	size_t len, cap;
	size_t cur;            /* offset of the current structure */
	unsigned nr_str;       /* strings of the current structure */
	size_t max_struct;     /* the largest structure, strings included */
	int err;
};

static void *sb_grow(struct sb *b, size_t n)
{
	if (b->err)
		return NULL;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	b->len += n;
	return b->p + b->len - n;
}

/* Start a structure with a zeroed formatted area of len bytes. */
static void sb_begin(struct sb *b, uint8_t type, uint8_t len, uint16_t handle)
{
	uint8_t *s;

	b->cur = b->len;
	b->nr_str = 0;
	s = sb_grow(b, len);
	if (!s)
		return;
	memset(s, 0, len);
	s[0] = type;
	s[1] = len;
	s[2] = (uint8_t)handle;
	s[3] = (uint8_t)(handle >> 8);
}

/* Field at offset off of the current structure, little-endian, n bytes. */
static void sb_put(struct sb *b, size_t off, uint64_t v, int n)
{
	if (b->err)
		return;
	for (int i = 0; i < n; i++)
		b->p[b->cur + off + i] = (uint8_t)(v >> (8 * i));
}

/* Append string s to the current structure and put its number in the byte at off (0, "no
 * string", for NULL or ""). */
static void sb_str(struct sb *b, size_t off, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	uint8_t *d;

	if (!n)
		return;
	if (n > SMBIOS_STR_MAX) {
		b->err = b->err ? b->err : -EINVAL;
		return;
	}
	d = sb_grow(b, n + 1);
	if (!d)
		return;
	memcpy(d, s, n + 1);
	sb_put(b, off, ++b->nr_str, 1);
}

static void sb_end(struct sb *b)
{
	uint8_t *d = sb_grow(b, b->nr_str ? 1 : 2);

	if (!d)
		return;
	d[0] = 0;
	if (!b->nr_str)
		d[1] = 0;
	if (b->len - b->cur > b->max_struct)
		b->max_struct = b->len - b->cur;
}

static const char *or_default(const char *s, const char *def)
{
	return s && *s ? s : def;
}

static void type0(struct sb *b, const struct smbios_info *in)
{
	sb_begin(b, 0, 0x18, 0x0000);
	sb_str(b, 0x04, or_default(in->bios_vendor, "vsrv"));
	sb_str(b, 0x05, in->bios_version);
	sb_put(b, 0x06, 0xe800, 2);            /* starting segment */
	sb_str(b, 0x08, in->bios_date);
	sb_put(b, 0x09, 0, 1);                 /* ROM size: 64 KiB */
	sb_put(b, 0x0a, 1ULL << 3, 8);         /* characteristics not supported */
	sb_put(b, 0x12, 0, 1);
	sb_put(b, 0x13, (1 << 2) | (1 << 4), 1); /* targeted content distribution; a VM */
	sb_put(b, 0x14, 0, 1);                 /* system BIOS release 0.0 */
	sb_put(b, 0x15, 0, 1);
	sb_put(b, 0x16, 0xff, 1);              /* no embedded controller */
	sb_put(b, 0x17, 0xff, 1);
	sb_end(b);
}

static void type1(struct sb *b, const struct smbios_info *in)
{
	uint8_t u[16];

	/* SMBIOS 2.6+: the first three fields of the UUID are little-endian. */
	memcpy(u, in->uuid, 16);
	for (int i = 0; i < 2; i++) {
		uint8_t t = u[i];
		u[i] = u[3 - i];
		u[3 - i] = t;
	}
	u[4] = in->uuid[5], u[5] = in->uuid[4];
	u[6] = in->uuid[7], u[7] = in->uuid[6];
	sb_begin(b, 1, 0x1b, 0x0100);
	sb_str(b, 0x04, or_default(in->manufacturer, "vsrv"));
	sb_str(b, 0x05, in->product);
	sb_str(b, 0x06, in->version);
	sb_str(b, 0x07, in->serial);
	if (!b->err)
		memcpy(b->p + b->cur + 0x08, u, 16);
	sb_put(b, 0x18, 0x06, 1);              /* wake-up type: power switch */
	sb_str(b, 0x19, in->sku);
	sb_str(b, 0x1a, in->family);
	sb_end(b);
}

static void type3(struct sb *b, const struct smbios_info *in)
{
	sb_begin(b, 3, 0x16, 0x0300);
	sb_str(b, 0x04, or_default(in->manufacturer, "vsrv"));
	sb_put(b, 0x05, 0x01, 1);              /* type: other */
	sb_str(b, 0x06, in->version);
	sb_str(b, 0x07, in->serial);
	sb_put(b, 0x09, 0x03, 1);              /* boot-up, power supply, thermal: safe */
	sb_put(b, 0x0a, 0x03, 1);
	sb_put(b, 0x0b, 0x03, 1);
	sb_put(b, 0x0c, 0x02, 1);              /* security: unknown */
	sb_put(b, 0x12, 0, 1);                 /* height: unspecified */
	sb_put(b, 0x13, 0, 1);                 /* no contained elements (record length 3) */
	sb_put(b, 0x14, 3, 1);
	sb_end(b);                             /* SKU (0x15): none */
}

static void type4(struct sb *b, const struct smbios_info *in, unsigned cpu)
{
	char socket[16];

	snprintf(socket, sizeof(socket), "CPU %u", cpu);
	sb_begin(b, 4, 0x30, (uint16_t)(0x0400 + cpu));
	sb_str(b, 0x04, socket);
	sb_put(b, 0x05, 0x03, 1);              /* central processor */
	sb_put(b, 0x06, 0xfe, 1);              /* family: see family 2 */
	sb_str(b, 0x07, or_default(in->manufacturer, "vsrv"));
	sb_str(b, 0x10, "vsrv virtual CPU");
	sb_put(b, 0x12, 0, 2);                 /* external clock: unknown */
	sb_put(b, 0x14, 2000, 2);              /* max and current speed, MHz (as QEMU) */
	sb_put(b, 0x16, 2000, 2);
	sb_put(b, 0x18, 0x41, 1);              /* socket populated, CPU enabled */
	sb_put(b, 0x19, 0x01, 1);              /* upgrade: other */
	sb_put(b, 0x1a, 0xffff, 2);            /* no cache information */
	sb_put(b, 0x1c, 0xffff, 2);
	sb_put(b, 0x1e, 0xffff, 2);
	sb_put(b, 0x23, 1, 1);                 /* cores, enabled, threads */
	sb_put(b, 0x24, 1, 1);
	sb_put(b, 0x25, 1, 1);
	sb_put(b, 0x26, 0x02, 2);              /* characteristics: unknown */
	sb_put(b, 0x28, 0x01, 2);              /* family 2: other */
	sb_put(b, 0x2a, 1, 2);
	sb_put(b, 0x2c, 1, 2);
	sb_put(b, 0x2e, 1, 2);
	sb_end(b);
}

static void type16(struct sb *b, uint64_t total, unsigned nr_dimms)
{
	uint64_t kib = total / KIB;

	sb_begin(b, 16, 0x17, 0x1000);
	sb_put(b, 0x04, 0x01, 1);              /* location: other */
	sb_put(b, 0x05, 0x03, 1);              /* use: system memory */
	sb_put(b, 0x06, 0x06, 1);              /* error correction: multi-bit ECC (as QEMU) */
	if (kib < 0x80000000ULL) {
		sb_put(b, 0x07, kib, 4);
	} else {
		sb_put(b, 0x07, 0x80000000ULL, 4);
		sb_put(b, 0x0f, total, 8);     /* extended maximum capacity, bytes */
	}
	sb_put(b, 0x0b, 0xfffe, 2);            /* no error information */
	sb_put(b, 0x0d, nr_dimms, 2);
	sb_end(b);
}

static void type17(struct sb *b, const struct smbios_info *in, unsigned i, uint64_t size)
{
	char loc[16];
	uint64_t mib = (size + (1 << 20) - 1) >> 20;

	snprintf(loc, sizeof(loc), "DIMM %u", i);
	sb_begin(b, 17, 0x28, (uint16_t)(0x1100 + i));
	sb_put(b, 0x04, 0x1000, 2);            /* the array */
	sb_put(b, 0x06, 0xfffe, 2);
	sb_put(b, 0x08, 64, 2);                /* total and data width */
	sb_put(b, 0x0a, 64, 2);
	if (size % (1 << 20) && size / KIB < 0x7fff)
		sb_put(b, 0x0c, 0x8000 | size / KIB, 2);   /* KiB units */
	else if (mib < 0x7fff)
		sb_put(b, 0x0c, mib, 2);
	else {
		sb_put(b, 0x0c, 0x7fff, 2);
		sb_put(b, 0x1c, mib, 4);       /* extended size, MiB */
	}
	sb_put(b, 0x0e, 0x09, 1);              /* form factor: DIMM */
	sb_str(b, 0x10, loc);
	sb_put(b, 0x12, 0x07, 1);              /* type: RAM */
	sb_put(b, 0x13, 0x02, 2);              /* detail: other */
	sb_str(b, 0x17, or_default(in->manufacturer, "vsrv"));
	sb_end(b);
}

static void type19(struct sb *b, unsigned i, uint64_t start, uint64_t len, unsigned nr_dimms)
{
	uint64_t end = start + len - 1;

	sb_begin(b, 19, 0x1f, (uint16_t)(0x1300 + i));
	if (end / KIB < 0xffffffffULL) {
		sb_put(b, 0x04, start / KIB, 4);
		sb_put(b, 0x08, end / KIB, 4);
	} else {
		sb_put(b, 0x04, 0xffffffffULL, 4);
		sb_put(b, 0x08, 0xffffffffULL, 4);
		sb_put(b, 0x0f, start, 8);     /* extended, bytes */
		sb_put(b, 0x17, end, 8);
	}
	sb_put(b, 0x0c, 0x1000, 2);
	sb_put(b, 0x0e, nr_dimms > 255 ? 255 : nr_dimms, 1);  /* partition width */
	sb_end(b);
}

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return (uint8_t)-s;
}

int smbios_build(const struct smbios_info *in, uint8_t **ep_out, uint8_t **table,
		 size_t *table_len)
{
	struct sb b = { 0 };
	uint64_t total = in->mem_low + in->mem_high, left;
	unsigned nr_dimms, i;
	uint8_t *ep;

	if (!in->nr_cpus || in->nr_cpus > 4096 || !total)
		return -EINVAL;
	nr_dimms = (unsigned)((total + DIMM_MAX - 1) / DIMM_MAX);
	type0(&b, in);
	type1(&b, in);
	type3(&b, in);
	for (i = 0; i < in->nr_cpus; i++)
		type4(&b, in, i);
	type16(&b, total, nr_dimms);
	for (i = 0, left = total; i < nr_dimms; i++, left -= DIMM_MAX)
		type17(&b, in, i, left < DIMM_MAX ? left : DIMM_MAX);
	i = 0;
	if (in->mem_low)
		type19(&b, i++, 0, in->mem_low, nr_dimms);
	if (in->mem_high)
		type19(&b, i++, 1ULL << 32, in->mem_high, nr_dimms);
	sb_begin(&b, 32, 0x0b, 0x2000);       /* boot status (0x0a): no errors */
	sb_end(&b);
	sb_begin(&b, 127, 0x04, 0x7f00);
	sb_end(&b);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	ep = calloc(1, SMBIOS_EP3_LEN);
	if (!ep) {
		free(b.p);
		return -ENOMEM;
	}
	memcpy(ep, "_SM3_", 5);
	ep[6] = SMBIOS_EP3_LEN;
	ep[7] = 3;                             /* SMBIOS 3.0.0 */
	ep[8] = 0;
	ep[9] = 0;
	ep[10] = 1;                            /* entry point revision */
	for (i = 0; i < 4; i++)                /* structure table maximum size */
		ep[12 + i] = (uint8_t)(b.len >> (8 * i));
	ep[5] = checksum(ep, SMBIOS_EP3_LEN);  /* table address (16..23): 0 */
	*ep_out = ep;
	*table = b.p;
	*table_len = b.len;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int smbios_uuid_parse(const char *s, uint8_t out[16])
{
	unsigned n = 0;

	if (!s || strlen(s) != 36)
		return -EINVAL;
	for (unsigned i = 0; i < 36; ) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i++] != '-')
				return -EINVAL;
			continue;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return 0;
}
