/* The ATA and ATAPI commands shared by the AHCI and IDE controllers (ata.h); moved out of
 * ahci_ata.c, which keeps what is AHCI's own (NCQ, its log).
 *
 * Results: c->status / c->error as the task file holds them at the end (DRDY | DSC, or ERR
 * with ABRT, IDNF or UNC), c->done the bytes moved through the buffers, c->overflow when
 * the device would move more than the buffers hold. */
#include "devices/ata.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DSM_BLOCKS 8 /* of 64 ranges each (IDENTIFY word 105) */

void ata_ok(struct ata_cmd *c)
{
	c->status = ATA_DRDY | ATA_DSC;
	c->error = 0;
}

void ata_fail(struct ata_cmd *c, uint8_t error)
{
	c->status = ATA_DRDY | ATA_ERR;
	c->error = error;
}

size_t ata_to_buf(const struct ata_dev *d, struct ata_cmd *c, const void *src, size_t len)
{
	size_t n = 0;

	for (int i = 0; i < c->niov && n < len; i++) {
		size_t k = c->iov[i].iov_len < len - n ? c->iov[i].iov_len : len - n;

		memcpy(c->iov[i].iov_base, (const uint8_t *)src + n, k);
		guest_mem_track(d->mem, c->iov[i].iov_base, k);
		n += k;
	}
	return n;
}

static size_t from_buf(struct ata_cmd *c, void *dst, size_t len)
{
	size_t n = 0;

	for (int i = 0; i < c->niov && n < len; i++) {
		size_t k = c->iov[i].iov_len < len - n ? c->iov[i].iov_len : len - n;

		memcpy((uint8_t *)dst + n, c->iov[i].iov_base, k);
		n += k;
	}
	return n;
}

int ata_iov_slice(const struct iovec *iov, int niov, size_t len, struct iovec *out)
{
	size_t n = 0;
	int k = 0;

	for (int i = 0; i < niov && n < len; i++, k++) {
		out[k] = iov[i];
		if (out[k].iov_len > len - n)
			out[k].iov_len = len - n;
		n += out[k].iov_len;
	}
	return n == len ? k : -1;
}

static void put_str(uint16_t *w, const char *s, unsigned words)
{
	for (unsigned i = 0; i < words; i++) {
		char a = *s ? *s++ : ' ', b = *s ? *s++ : ' ';

		w[i] = (uint16_t)((uint8_t)a << 8 | (uint8_t)b); /* ATA strings: swapped bytes */
	}
}

static void checksum(uint16_t *w)
{
	uint8_t *b = (uint8_t *)w, sum = 0;

	w[255] = 0x00a5;
	for (int i = 0; i < 511; i++)
		sum += b[i];
	b[511] = (uint8_t)-sum;
}

uint64_t ata_sectors(const struct ata_dev *d)
{
	return d->disk ? d->disk->size / DISK_SECTOR : 0;
}

static void identify_common(const struct ata_dev *d, uint16_t *w)
{
	uint8_t mode = *d->xfer_mode;

	put_str(w + 10, d->serial, 10);
	put_str(w + 23, "1.0", 4);
	put_str(w + 27, d->model, 20);
	w[49] = 0x0300;     /* LBA, DMA */
	w[53] = 0x0006;     /* words 64-70 and 88 valid */
	w[63] = 0x0007 | (mode >> 3 == 4 ? 0x100u << (mode & 7) : 0);
	w[64] = 0x0003;     /* PIO 3 and 4 */
	w[65] = w[66] = w[67] = w[68] = 120;
	if (d->sata)
		w[76] = 0x0006; /* SATA 1.5 and 3 Gb/s */
	w[80] = 0x01f0;     /* ATA/ATAPI-4 to ATA8-ACS */
	w[88] = 0x003f | (mode >> 3 == 8 ? 0x100u << (mode & 7) : 0x2000);
}

static void identify_disk(const struct ata_dev *d, uint16_t *w)
{
	uint64_t n = ata_sectors(d);

	memset(w, 0, 512);
	identify_common(d, w);
	w[0] = 0x0040;       /* fixed */
	w[1] = 16383;
	w[3] = 16;
	w[6] = 63;
	if (n < 16383ull * 16 * 63)
		w[1] = (uint16_t)(n / (16 * 63));
	w[47] = 0x8000 | (d->max_multiple ? d->max_multiple : 16); /* READ/WRITE MULTIPLE */
	w[50] = 0x4000;
	/* the current block: what SET MULTIPLE chose on a transport that keeps it (IDE), else
	 * the largest (AHCI moves any count) */
	w[59] = d->max_multiple ? (d->multiple ? 0x0100 | d->multiple : 0) : 0x0110;
	if (d->cur_heads) {
		uint32_t chs = (uint32_t)d->cur_cyls * d->cur_heads * d->cur_spt;

		w[53] |= 0x0001; /* words 54-58 valid */
		w[54] = d->cur_cyls;
		w[55] = d->cur_heads;
		w[56] = d->cur_spt;
		w[57] = (uint16_t)chs;
		w[58] = (uint16_t)(chs >> 16);
	}
	w[60] = (uint16_t)(n > 0x0fffffff ? 0xffff : n);
	w[61] = (uint16_t)((n > 0x0fffffff ? 0x0fffffff : n) >> 16);
	if (d->queue_depth) {
		w[75] = d->queue_depth - 1;
		w[76] |= 0x0100; /* NCQ */
	}
	w[82] = 0x0060;      /* write cache, look-ahead */
	w[83] = 0x7400;      /* FLUSH CACHE EXT, FLUSH CACHE, 48-bit */
	w[84] = 0x4000;
	w[85] = 0x0040 | (*d->wcache ? 0x0020 : 0);
	w[86] = 0x3400;
	w[87] = 0x4000;
	for (int i = 0; i < 4; i++)
		w[100 + i] = (uint16_t)(n >> (16 * i));
	w[106] = 0x4000;     /* 512-byte logical and physical sectors */
	if (d->trim) {
		w[105] = MAX_DSM_BLOCKS;
		w[169] = 0x0001; /* DATA SET MANAGEMENT: TRIM */
		w[217] = 0x0001; /* not rotating */
	}
	checksum(w);
}

static void identify_packet(const struct ata_dev *d, uint16_t *w)
{
	memset(w, 0, 512);
	identify_common(d, w);
	w[0] = 0x85c0;       /* ATAPI, CD-ROM, removable, DRQ in 50 us, 12-byte packets */
	w[82] = 0x0010;      /* PACKET */
	w[83] = w[84] = w[87] = 0x4000;
	w[85] = 0x0010;
	checksum(w);
}

uint64_t ata_tf_lba48(const uint8_t *f)
{
	return (uint64_t)f[4] | (uint64_t)f[5] << 8 | (uint64_t)f[6] << 16 |
	       (uint64_t)f[8] << 24 | (uint64_t)f[9] << 32 | (uint64_t)f[10] << 40;
}

uint64_t ata_tf_lba28(const uint8_t *f)
{
	return (uint64_t)f[4] | (uint64_t)f[5] << 8 | (uint64_t)f[6] << 16 |
	       (uint64_t)(f[7] & 0xf) << 24;
}

static void set_tf_lba(uint8_t *f, uint64_t lba)
{
	f[4] = lba;
	f[5] = lba >> 8;
	f[6] = lba >> 16;
	f[8] = lba >> 24;
	f[9] = lba >> 32;
	f[10] = lba >> 40;
	f[7] = (f[7] & 0xf0) | ((lba >> 24) & 0xf);
}

void ata_rw_done(const struct ata_dev *d, struct ata_cmd *c, size_t len, bool write, bool fua)
{
	if (write && (fua || !*d->wcache) && disk_flush(d->disk)) {
		ata_fail(c, ATA_E_ABRT);
		vstat_add(&d->st->errors, 1);
		return;
	}
	c->done = len;
	vstat_add(write ? &d->st->write_ops : &d->st->read_ops, 1);
	vstat_add(write ? &d->st->write_bytes : &d->st->read_bytes, len);
	ata_ok(c);
}

void ata_rw(const struct ata_dev *d, struct ata_cmd *c, uint64_t lba, uint32_t count,
	    bool write, bool fua)
{
	size_t len = (size_t)count * DISK_SECTOR;
	struct iovec *iov;
	int n, ret;

	if (lba > ata_sectors(d) || count > ata_sectors(d) - lba) {
		ata_fail(c, ATA_E_IDNF);
		vstat_add(&d->st->errors, 1);
		return;
	}
	iov = malloc((c->niov ? c->niov : 1) * sizeof(*iov));
	if (!iov) {
		ata_fail(c, ATA_E_ABRT);
		return;
	}
	n = ata_iov_slice(c->iov, c->niov, len, iov);
	if (n < 0) {
		free(iov);
		/* the buffers hold less than the command moves */
		if (write)
			ata_fail(c, ATA_E_ABRT);
		else
			c->overflow = true;
		vstat_add(&d->st->errors, 1);
		return;
	}
	if (write) {
		ret = disk_writev(d->disk, lba, iov, n);
	} else {
		ret = disk_readv(d->disk, lba, iov, n);
		for (int i = 0; !ret && i < n; i++)
			guest_mem_track(d->mem, iov[i].iov_base, iov[i].iov_len);
	}
	free(iov);
	if (ret) {
		ata_fail(c, write ? ATA_E_ABRT : ATA_E_UNC);
		vstat_add(&d->st->errors, 1);
		return;
	}
	ata_rw_done(d, c, len, write, fua);
}

/* DATA SET MANAGEMENT with TRIM: count blocks of 64 ranges (LBA: 48 bits, length: 16). */
static void dsm(const struct ata_dev *d, struct ata_cmd *c, uint32_t blocks)
{
	uint64_t r[MAX_DSM_BLOCKS * 64];
	size_t len = (size_t)blocks * 512;

	if (!d->trim || !(c->tf[ATA_TF_FEAT] & 1) || !blocks || blocks > MAX_DSM_BLOCKS ||
	    from_buf(c, r, len) != len) {
		ata_fail(c, ATA_E_ABRT);
		return;
	}
	for (size_t i = 0; i < len / 8; i++) {
		uint64_t lba = r[i] & 0xffffffffffffULL, n = r[i] >> 48;

		if (n && (lba > ata_sectors(d) || n > ata_sectors(d) - lba)) {
			ata_fail(c, ATA_E_IDNF);
			return;
		}
	}
	for (size_t i = 0; i < len / 8; i++) {
		uint64_t lba = r[i] & 0xffffffffffffULL, n = r[i] >> 48;

		if (n && d->disk->ops->discard(d->disk, lba, n)) {
			ata_fail(c, ATA_E_ABRT);
			vstat_add(&d->st->errors, 1);
			return;
		}
	}
	vstat_add(&d->st->discard_ops, 1);
	c->done = len;
	ata_ok(c);
}

static void set_features(const struct ata_dev *d, struct ata_cmd *c)
{
	uint8_t mode = c->tf[ATA_TF_COUNT];

	switch (c->tf[ATA_TF_FEAT]) {
	case 0x02: *d->wcache = 1; break;
	case 0x82:
		*d->wcache = 0;
		if (d->disk && disk_flush(d->disk)) {
			ata_fail(c, ATA_E_ABRT);
			return;
		}
		break;
	case 0x03: /* transfer mode: PIO default/0-4, multiword DMA 0-2, UDMA 0-5 */
		if (!(mode <= 1 || (mode >> 3 == 1 && (mode & 7) <= 4) ||
		      (mode >> 3 == 4 && (mode & 7) <= 2) || (mode >> 3 == 8 && (mode & 7) <= 5))) {
			ata_fail(c, ATA_E_ABRT);
			return;
		}
		if (mode >> 3 >= 4)
			*d->xfer_mode = mode;
		break;
	case 0x05: case 0x85: case 0x55: case 0xaa: case 0x66: case 0xcc:
	case 0x10: case 0x90:
		break;
	default:
		ata_fail(c, ATA_E_ABRT);
		return;
	}
	ata_ok(c);
}

/* PACKET: the CDB to the MMC code; the sense of a failure stays for REQUEST SENSE. */
static void packet(const struct ata_dev *d, struct ata_cmd *c)
{
	struct scsi_buf none = { NULL, 0, 0 };
	struct scsi_buf data = { c->iov, c->niov, c->buf_bytes };
	struct scsi_result res = { 0 };
	uint8_t sense[SCSI_SENSE_LEN];
	bool have = false;

	if (c->acmd[0] == 0x03) { /* REQUEST SENSE: the failed command's, once */
		pthread_mutex_lock(d->lock);
		have = *d->sense_valid;
		memcpy(sense, d->sense, sizeof(sense));
		*d->sense_valid = 0;
		pthread_mutex_unlock(d->lock);
	}
	if (have) {
		size_t alloc = c->acmd[4];

		c->done = ata_to_buf(d, c, sense, alloc < sizeof(sense) ? alloc : sizeof(sense));
		ata_ok(c);
		return;
	}
	scsi_exec(d->lun, 1, 0, c->acmd, 16, c->write ? &data : &none,
		  c->write ? &none : &data, &res);
	pthread_mutex_lock(d->lock);
	*d->sense_valid = res.status != SCSI_GOOD;
	if (*d->sense_valid)
		memcpy(d->sense, res.sense, SCSI_SENSE_LEN);
	pthread_mutex_unlock(d->lock);
	if (res.status != SCSI_GOOD) {
		/* ATAPI: the sense key in the error register's high nibble */
		ata_fail(c, (res.sense[2] & 0xf) << 4 | ((res.sense[2] & 0xf) == SK_ILLEGAL_REQUEST ?
							 ATA_E_ABRT : 0));
		return;
	}
	c->done = c->write ? c->buf_bytes : res.in_done;
	ata_ok(c);
}

/* The ATAPI signature in the task file (count 1, LBA 1, 0x14, 0xeb). */
static void atapi_signature(uint8_t *f)
{
	f[4] = 0x01;
	f[5] = 0x14;
	f[6] = 0xeb;
	f[12] = 0x01;
}

static bool exec_cd(const struct ata_dev *d, struct ata_cmd *c)
{
	uint16_t id[256];

	switch (c->tf[ATA_TF_CMD]) {
	case 0xa0:
		packet(d, c);
		return true;
	case 0xa1: /* IDENTIFY PACKET DEVICE */
		identify_packet(d, id);
		c->done = ata_to_buf(d, c, id, sizeof(id));
		c->pio = true;
		ata_ok(c);
		return true;
	case 0x08: /* DEVICE RESET */
	case 0x90: /* EXECUTE DEVICE DIAGNOSTIC */
	case 0xec: /* IDENTIFY DEVICE: aborted with the ATAPI signature */
		atapi_signature(c->tf);
		if (c->tf[ATA_TF_CMD] == 0xec) {
			ata_fail(c, ATA_E_ABRT);
		} else {
			c->status = 0;
			c->error = 0x01;
		}
		return true;
	case 0xef:
		set_features(d, c);
		return true;
	case 0xe0: case 0xe1: case 0xe7: case 0xea:
		ata_ok(c);
		return true;
	default:
		return false;
	}
}

bool ata_exec(const struct ata_dev *d, struct ata_cmd *c)
{
	uint8_t *f = c->tf;
	uint16_t id[256];
	uint32_t n48 = f[12] | f[13] << 8, n28 = f[12];

	if (d->cd)
		return exec_cd(d, c);
	if (!n48)
		n48 = 65536;
	if (!n28)
		n28 = 256;
	switch (f[ATA_TF_CMD]) {
	case 0xec: /* IDENTIFY DEVICE */
		identify_disk(d, id);
		c->done = ata_to_buf(d, c, id, sizeof(id));
		c->pio = true;
		ata_ok(c);
		break;
	case 0xc8: ata_rw(d, c, ata_tf_lba28(f), n28, false, false); break;   /* READ DMA */
	case 0x20: case 0xc4:                                                 /* PIO */
		ata_rw(d, c, ata_tf_lba28(f), n28, false, false);
		c->pio = !(c->status & ATA_ERR);
		break;
	case 0x25: ata_rw(d, c, ata_tf_lba48(f), n48, false, false); break;   /* READ DMA EXT */
	case 0x24: case 0x29:
		ata_rw(d, c, ata_tf_lba48(f), n48, false, false);
		c->pio = !(c->status & ATA_ERR);
		break;
	case 0xca: case 0x30: case 0xc5: ata_rw(d, c, ata_tf_lba28(f), n28, true, false); break;
	case 0x35: case 0x34: case 0x39: ata_rw(d, c, ata_tf_lba48(f), n48, true, false); break;
	case 0x3d: ata_rw(d, c, ata_tf_lba48(f), n48, true, true); break; /* WRITE DMA FUA EXT */
	case 0xe7: case 0xea:                                               /* FLUSH CACHE */
		vstat_add(&d->st->flush_ops, 1);
		if (disk_flush(d->disk))
			ata_fail(c, ATA_E_ABRT);
		else
			ata_ok(c);
		break;
	case 0x06: dsm(d, c, n48 == 65536 ? 0 : n48); break;               /* DATA SET MGMT */
	case 0xef: set_features(d, c); break;
	case 0x40: case 0x42: {                                             /* READ VERIFY */
		uint64_t lba = f[2] == 0x42 ? ata_tf_lba48(f) : ata_tf_lba28(f);
		uint32_t n = f[2] == 0x42 ? n48 : n28;

		if (lba > ata_sectors(d) || n > ata_sectors(d) - lba)
			ata_fail(c, ATA_E_IDNF);
		else
			ata_ok(c);
		break;
	}
	case 0x27: case 0xf8:                                  /* READ NATIVE MAX ADDRESS */
		set_tf_lba(f, ata_sectors(d) - 1);
		ata_ok(c);
		break;
	case 0xe5: f[12] = 0xff; ata_ok(c); break;             /* CHECK POWER MODE: active */
	case 0xc6:                                             /* SET MULTIPLE MODE */
		if (n28 > 16 || (n28 & (n28 - 1)))
			ata_fail(c, ATA_E_ABRT);
		else
			ata_ok(c);
		break;
	case 0x90: c->status = ATA_DRDY | ATA_DSC; c->error = 0x01; break; /* diagnostics */
	case 0x91: case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0x10:
		ata_ok(c);
		break;
	default:
		return false;
	}
	return true;
}
