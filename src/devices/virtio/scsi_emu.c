#include "devices/virtio/scsi_emu.h"
#include "devices/virtio/scsi_mmc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BLK 512u
#define MAX_XFER_BLOCKS 65536u   /* 32 MiB per command (VPD 0xb0) */
#define MAX_UNMAP_BLOCKS (1u << 22)
#define MAX_UNMAP_DESC 32u

static uint16_t be16(const uint8_t *p) { return p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }
static void put64(uint8_t *p, uint64_t v) { put32(p, v >> 32); put32(p + 4, v); }

void scsi_set_sense(struct scsi_result *res, uint8_t key, uint8_t asc, uint8_t ascq)
{
	memset(res->sense, 0, sizeof(res->sense));
	res->sense[0] = 0x70; /* current error, fixed format */
	res->sense[2] = key;
	res->sense[7] = SCSI_SENSE_LEN - 8;
	res->sense[12] = asc;
	res->sense[13] = ascq;
	res->sense_len = SCSI_SENSE_LEN;
	res->status = SCSI_CHECK_CONDITION;
}

static void invalid_field(struct scsi_result *r) { scsi_set_sense(r, SK_ILLEGAL_REQUEST, 0x24, 0); }
static void invalid_opcode(struct scsi_result *r) { scsi_set_sense(r, SK_ILLEGAL_REQUEST, 0x20, 0); }
static void lba_range(struct scsi_result *r) { scsi_set_sense(r, SK_ILLEGAL_REQUEST, 0x21, 0); }
static void param_len(struct scsi_result *r) { scsi_set_sense(r, SK_ILLEGAL_REQUEST, 0x1a, 0); }
static void write_protected(struct scsi_result *r) { scsi_set_sense(r, SK_DATA_PROTECT, 0x27, 0); }

void scsi_reply(const struct scsi_buf *in, const void *src, size_t len, size_t alloc,
		struct scsi_result *res)
{
	size_t n = len < alloc ? len : alloc, done = 0;
	int i;

	if (n > in->len)
		n = in->len;
	for (i = 0; i < in->n && done < n; i++) {
		size_t l = in->iov[i].iov_len < n - done ? in->iov[i].iov_len : n - done;

		memcpy(in->iov[i].iov_base, (const uint8_t *)src + done, l);
		done += l;
	}
	res->in_done = done;
}

static size_t gather(const struct scsi_buf *out, void *dst, size_t len)
{
	size_t done = 0;
	int i;

	for (i = 0; i < out->n && done < len; i++) {
		size_t l = out->iov[i].iov_len < len - done ? out->iov[i].iov_len : len - done;

		memcpy((uint8_t *)dst + done, out->iov[i].iov_base, l);
		done += l;
	}
	return done;
}

/* The first len bytes of a buffer list as a new iovec array (in tmp, up to cap entries). */
static int clip(const struct scsi_buf *b, size_t len, struct iovec *tmp, int cap)
{
	size_t done = 0;
	int i, n = 0;

	for (i = 0; i < b->n && done < len && n < cap; i++) {
		size_t l = b->iov[i].iov_len < len - done ? b->iov[i].iov_len : len - done;

		if (!l)
			continue;
		tmp[n].iov_base = b->iov[i].iov_base;
		tmp[n++].iov_len = l;
		done += l;
	}
	return done == len ? n : -1;
}

static void inquiry(struct scsi_lun *l, const uint8_t *cdb, const struct scsi_buf *in,
		    struct scsi_result *res)
{
	uint8_t b[256];
	size_t alloc = be16(cdb + 3), n;

	memset(b, 0, sizeof(b));
	if (!l) { /* no such LUN: peripheral qualifier 3, type 0x1f */
		if (cdb[1] & 1) {
			invalid_field(res);
			return;
		}
		b[0] = 0x7f;
		b[3] = 2;
		b[4] = 31;
		scsi_reply(in, b, 36, alloc, res);
		return;
	}
	if (!(cdb[1] & 1)) {
		if (cdb[2]) {
			invalid_field(res);
			return;
		}
		b[0] = l->mmc ? 0x05 : 0x00; /* CD/DVD device or direct-access block device */
		b[1] = l->mmc ? 0x80 : 0x00; /* RMB: removable medium */
		b[2] = 0x05;      /* SPC-3 */
		b[3] = 0x02;      /* response data format 2 */
		b[4] = 36 - 5;
		b[7] = l->mmc ? 0 : 0x02; /* CmdQue */
		memcpy(b + 8, "VSRV    ", 8);
		memcpy(b + 16, l->mmc ? "VIRTUAL CD-ROM  " : "VIRTUAL DISK    ", 16);
		memcpy(b + 32, "1.0 ", 4);
		scsi_reply(in, b, 36, alloc, res);
		return;
	}
	b[0] = l->mmc ? 0x05 : 0x00;
	b[1] = cdb[2];
	if (l->mmc && cdb[2] >= 0xb0) { /* the block device pages are SBC's */
		invalid_field(res);
		return;
	}
	switch (cdb[2]) {
	case 0x00: {
		static const uint8_t pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };

		n = l->mmc ? 3 : sizeof(pages);
		memcpy(b + 4, pages, n);
		break;
	}
	case 0x80:
		n = strlen(l->serial);
		memcpy(b + 4, l->serial, n);
		break;
	case 0x83:
		/* NAA IEEE registered identifier, binary, LUN association */
		b[4] = 0x01;
		b[5] = 0x03;
		b[7] = 8;
		put64(b + 8, l->naa);
		/* T10 vendor id, ASCII */
		b[16] = 0x02;
		b[17] = 0x01;
		n = strlen(l->serial);
		b[19] = 8 + n;
		memcpy(b + 20, "VSRV    ", 8);
		memcpy(b + 28, l->serial, n);
		n = 24 + n;
		break;
	case 0xb0: /* block limits (SBC-4 6.6.4) */
		put16(b + 2, 0x3c);
		put16(b + 6, 8);                    /* optimal transfer length granularity */
		put32(b + 8, MAX_XFER_BLOCKS);      /* maximum transfer length */
		put32(b + 12, MAX_XFER_BLOCKS);     /* optimal transfer length */
		put32(b + 20, MAX_UNMAP_BLOCKS);    /* maximum unmap LBA count */
		put32(b + 24, MAX_UNMAP_DESC);      /* maximum unmap descriptors */
		put32(b + 28, 8);                   /* optimal unmap granularity */
		put64(b + 36, MAX_UNMAP_BLOCKS);    /* maximum write same length */
		n = 0x3c;
		break;
	case 0xb1: /* block device characteristics: non-rotating */
		put16(b + 4, 1);
		n = 0x3c;
		break;
	case 0xb2: /* logical block provisioning: UNMAP and WRITE SAME with UNMAP */
		b[5] = 0x80 | 0x40 | 0x20 | 0x04; /* LBPU, LBPWS, LBPWS10, LBPRZ */
		b[6] = 0x02;                      /* thin provisioned */
		n = 4;
		break;
	default:
		invalid_field(res);
		return;
	}
	if (cdb[2] != 0xb0 && cdb[2] != 0xb1)
		put16(b + 2, n);
	scsi_reply(in, b, n + 4, alloc, res);
}

static void report_luns(struct scsi_lun *luns, unsigned nluns, const uint8_t *cdb,
			const struct scsi_buf *in, struct scsi_result *res)
{
	uint8_t b[8 + 8 * SCSI_MAX_LUNS];
	unsigned i, n = 0;

	if (be32(cdb + 6) < 16) {
		invalid_field(res);
		return;
	}
	memset(b, 0, sizeof(b));
	for (i = 0; i < nluns && i < SCSI_MAX_LUNS; i++) {
		if (!scsi_lun_present(&luns[i]))
			continue;
		b[8 + 8 * n + 1] = i; /* peripheral device addressing */
		n++;
	}
	put32(b, 8 * n);
	scsi_reply(in, b, 8 + 8 * n, be32(cdb + 6), res);
}

static void mode_sense(struct scsi_lun *l, const uint8_t *cdb, bool ten,
		       const struct scsi_buf *in, struct scsi_result *res)
{
	uint8_t b[128];
	unsigned page = cdb[2] & 0x3f, pc = cdb[2] >> 6, hdr = ten ? 8 : 4, n;
	bool dbd = cdb[1] & 0x08;
	size_t alloc = ten ? be16(cdb + 7) : cdb[4];

	if (pc == 3) { /* saved values */
		scsi_set_sense(res, SK_ILLEGAL_REQUEST, 0x39, 0);
		return;
	}
	if (page != 0x08 && page != 0x0a && page != 0x3f) {
		invalid_field(res);
		return;
	}
	memset(b, 0, sizeof(b));
	n = hdr;
	if (l->readonly)
		b[ten ? 3 : 2] = 0x80; /* WP */
	if (!dbd) {
		uint64_t nb = l->nblocks > 0xffffffffu ? 0xffffffffu : l->nblocks;

		b[ten ? 7 : 3] = 8;
		put32(b + n, (uint32_t)nb);
		put32(b + n + 4, BLK);
		n += 8;
	}
	if (page == 0x08 || page == 0x3f) { /* caching: write cache enabled */
		b[n] = 0x08;
		b[n + 1] = 0x12;
		if (pc != 1)
			b[n + 2] = 0x04; /* WCE (changeable mask: none) */
		n += 20;
	}
	if (page == 0x0a || page == 0x3f) { /* control */
		b[n] = 0x0a;
		b[n + 1] = 0x0a;
		n += 12;
	}
	if (ten)
		put16(b, n - 2);
	else
		b[0] = n - 1;
	scsi_reply(in, b, n, alloc, res);
}

static void rw(struct scsi_lun *l, bool write, uint64_t lba, uint32_t nb,
	       const struct scsi_buf *out, const struct scsi_buf *in, struct scsi_result *res)
{
	struct iovec tmp[1024];
	const struct scsi_buf *b = write ? out : in;
	size_t len = (size_t)nb * BLK;
	int n, ret;

	if (lba > l->nblocks || nb > l->nblocks - lba) {
		lba_range(res);
		return;
	}
	if (write && l->readonly) {
		write_protected(res);
		return;
	}
	if (nb == 0)
		return;
	if (b->len < len || (n = clip(b, len, tmp, 1024)) < 0) {
		invalid_field(res);
		return;
	}
	ret = write ? disk_writev(l->disk, lba, tmp, n) : disk_readv(l->disk, lba, tmp, n);
	if (ret) {
		scsi_set_sense(res, SK_MEDIUM_ERROR, write ? 0x0c : 0x11, 0);
		return;
	}
	vstat_add(write ? &l->st.write_bytes : &l->st.read_bytes, len);
	if (!write)
		res->in_done = len;
}

void scsi_read_blocks(struct scsi_lun *l, uint64_t lba, uint32_t nb, const struct scsi_buf *in,
		      struct scsi_result *res)
{
	static const struct scsi_buf none;

	rw(l, false, lba, nb, &none, in, res);
}

static int zero_range(struct scsi_lun *l, uint64_t lba, uint64_t nb, bool unmap)
{
	struct disk *d = l->disk;

	if (unmap && d->ops->discard && !d->ops->write_zeroes)
		return d->ops->discard(d, lba, nb);
	return d->ops->write_zeroes ? d->ops->write_zeroes(d, lba, nb, unmap) : -ENOTSUP;
}

static void unmap(struct scsi_lun *l, const uint8_t *cdb, const struct scsi_buf *out,
		  struct scsi_result *res)
{
	uint8_t p[8 + 16 * MAX_UNMAP_DESC];
	size_t plen = be16(cdb + 7), got;
	unsigned nd, i;

	if (l->readonly) {
		write_protected(res);
		return;
	}
	if (plen == 0)
		return;
	if (plen < 8 || plen > sizeof(p) || out->len < plen) {
		param_len(res);
		return;
	}
	got = gather(out, p, plen);
	nd = be16(p + 2) / 16;
	if (got < 8 + 16u * nd || nd > MAX_UNMAP_DESC) {
		param_len(res);
		return;
	}
	for (i = 0; i < nd; i++) {
		uint64_t lba = be64(p + 8 + 16 * i);
		uint32_t nb = be32(p + 16 + 16 * i);

		if (lba > l->nblocks || nb > l->nblocks - lba || nb > MAX_UNMAP_BLOCKS) {
			lba_range(res);
			return;
		}
	}
	for (i = 0; i < nd; i++) {
		uint64_t lba = be64(p + 8 + 16 * i);
		uint32_t nb = be32(p + 16 + 16 * i);
		struct disk *d = l->disk;
		int ret = 0;

		if (nb && d->ops->discard)
			ret = d->ops->discard(d, lba, nb);
		if (ret && ret != -ENOTSUP && ret != -EOPNOTSUPP) {
			scsi_set_sense(res, SK_MEDIUM_ERROR, 0x0c, 0);
			return;
		}
	}
}

static void write_same(struct scsi_lun *l, const uint8_t *cdb, bool sixteen,
		       const struct scsi_buf *out, struct scsi_result *res)
{
	uint8_t blk[BLK];
	uint64_t lba = sixteen ? be64(cdb + 2) : be32(cdb + 2);
	uint64_t nb = sixteen ? be32(cdb + 10) : be16(cdb + 7), i;
	bool unmap_bit = cdb[1] & 0x08, zero = true;
	int ret = 0;

	if (l->readonly) {
		write_protected(res);
		return;
	}
	if (cdb[1] & 0x06) { /* PBDATA / LBDATA: not supported */
		invalid_field(res);
		return;
	}
	if (nb == 0)
		nb = l->nblocks - (lba < l->nblocks ? lba : l->nblocks);
	if (lba > l->nblocks || nb > l->nblocks - lba || nb > MAX_UNMAP_BLOCKS) {
		lba_range(res);
		return;
	}
	if (out->len < BLK || gather(out, blk, BLK) != BLK) {
		param_len(res);
		return;
	}
	for (i = 0; i < BLK && zero; i++)
		zero = blk[i] == 0;
	if (zero) {
		ret = zero_range(l, lba, nb, unmap_bit);
	} else if (unmap_bit) {
		invalid_field(res); /* UNMAP with non-zero data */
		return;
	}
	if (!zero || ret == -ENOTSUP || ret == -EOPNOTSUPP) {
		struct iovec v = { blk, BLK };

		for (i = 0, ret = 0; i < nb && !ret; i++)
			ret = disk_writev(l->disk, lba + i, &v, 1);
	}
	if (ret)
		scsi_set_sense(res, SK_MEDIUM_ERROR, 0x0c, 0);
}

static void exec_cmd(struct scsi_lun *luns, unsigned nluns, unsigned lun_id, const uint8_t *cdb,
		     size_t cdb_len, const struct scsi_buf *out, const struct scsi_buf *in,
		     struct scsi_result *res)
{
	struct scsi_lun *l = lun_id < nluns && scsi_lun_present(&luns[lun_id]) ? &luns[lun_id] :
			     NULL;
	static const uint8_t cdb_len_of[8] = { 6, 10, 10, 0, 16, 12, 0, 0 };
	uint8_t op = cdb_len ? cdb[0] : 0xff, need = cdb_len_of[op >> 5];
	uint8_t b[32];

	memset(res, 0, sizeof(*res));
	if (!cdb_len || (need && cdb_len < need)) {
		invalid_opcode(res);
		return;
	}
	/* Commands valid on any LUN number */
	if (op == 0x12) {
		inquiry(l, cdb, in, res);
		return;
	}
	if (op == 0xa0) {
		report_luns(luns, nluns, cdb, in, res);
		return;
	}
	if (l && l->mmc) {
		scsi_mmc_exec(l, cdb, cdb_len, out, in, res);
		return;
	}
	if (op == 0x03) { /* REQUEST SENSE: a pending unit attention, else nothing (sense is
			   * returned with errors) */
		memset(b, 0, sizeof(b));
		b[0] = 0x70;
		b[7] = 10;
		if (!l) {
			b[2] = SK_ILLEGAL_REQUEST;
			b[12] = 0x25;
		} else if (l->ua_asc) {
			b[2] = SK_UNIT_ATTENTION;
			b[12] = l->ua_asc;
			b[13] = l->ua_ascq;
			l->ua_asc = l->ua_ascq = 0;
		}
		scsi_reply(in, b, SCSI_SENSE_LEN, cdb[4], res);
		return;
	}
	if (!l) {
		scsi_set_sense(res, SK_ILLEGAL_REQUEST, 0x25, 0); /* LOGICAL UNIT NOT SUPPORTED */
		return;
	}
	if (l->ua_asc) {
		scsi_set_sense(res, SK_UNIT_ATTENTION, l->ua_asc, l->ua_ascq);
		l->ua_asc = l->ua_ascq = 0;
		return;
	}
	switch (op) {
	case 0x00: /* TEST UNIT READY */
	case 0x1b: /* START STOP UNIT */
		return;
	case 0x25: /* READ CAPACITY 10 */
		memset(b, 0, 8);
		put32(b, l->nblocks - 1 > 0xffffffffu ? 0xffffffffu : (uint32_t)(l->nblocks - 1));
		put32(b + 4, BLK);
		scsi_reply(in, b, 8, 8, res);
		return;
	case 0x9e: /* SERVICE ACTION IN 16 */
		if ((cdb[1] & 0x1f) != 0x10) {
			invalid_field(res);
			return;
		}
		memset(b, 0, 32);
		put64(b, l->nblocks - 1);
		put32(b + 8, BLK);
		b[14] = 0x80 | 0x40; /* LBPME, LBPRZ */
		scsi_reply(in, b, 32, be32(cdb + 10), res);
		return;
	case 0x08: case 0x0a: { /* READ/WRITE 6 */
		uint32_t nb = cdb[4] ? cdb[4] : 256;

		rw(l, op == 0x0a, (cdb[1] & 0x1f) << 16 | be16(cdb + 2), nb, out, in, res);
		return;
	}
	case 0x28: case 0x2a: /* READ/WRITE 10 */
		rw(l, op == 0x2a, be32(cdb + 2), be16(cdb + 7), out, in, res);
		return;
	case 0x88: case 0x8a: /* READ/WRITE 16 */
		rw(l, op == 0x8a, be64(cdb + 2), be32(cdb + 10), out, in, res);
		return;
	case 0x2f: /* VERIFY 10: the medium is always readable; only check the range */
		if (be32(cdb + 2) > l->nblocks || be16(cdb + 7) > l->nblocks - be32(cdb + 2))
			lba_range(res);
		return;
	case 0x35: case 0x91: /* SYNCHRONIZE CACHE 10/16 */
		if (disk_flush(l->disk))
			scsi_set_sense(res, SK_MEDIUM_ERROR, 0x0c, 0);
		return;
	case 0x42:
		unmap(l, cdb, out, res);
		return;
	case 0x41: case 0x93:
		write_same(l, cdb, op == 0x93, out, res);
		return;
	case 0x1a: case 0x5a:
		mode_sense(l, cdb, op == 0x5a, in, res);
		return;
	default:
		invalid_opcode(res);
		return;
	}
}

void scsi_exec(struct scsi_lun *luns, unsigned nluns, unsigned lun_id, const uint8_t *cdb,
	       size_t cdb_len, const struct scsi_buf *out, const struct scsi_buf *in,
	       struct scsi_result *res)
{
	struct scsi_lun *l = lun_id < nluns && scsi_lun_present(&luns[lun_id]) ? &luns[lun_id] :
			     NULL;
	uint64_t *op_count = NULL;

	exec_cmd(luns, nluns, lun_id, cdb, cdb_len, out, in, res);
	if (!l || !cdb_len)
		return;
	/* Only the data commands count; probes the unit refuses are not errors of the disk. */
	switch (cdb[0]) {
	case 0x08: case 0x28: case 0x88: op_count = &l->st.read_ops; break;
	case 0xa8: case 0xbe: if (!l->mmc) return; op_count = &l->st.read_ops; break;
	case 0x0a: case 0x2a: case 0x8a: op_count = &l->st.write_ops; break;
	case 0x35: case 0x91: op_count = &l->st.flush_ops; break;
	case 0x42: case 0x41: case 0x93: op_count = &l->st.discard_ops; break;
	default: return;
	}
	vstat_add(res->status == SCSI_GOOD ? op_count : &l->st.errors, 1);
}
