/* The commands behind an AHCI port (ahci.h), on the controller's I/O thread: ATA (ATA8-ACS)
 * for a SATA disk on the block layer, and for an ATAPI CD/DVD drive PACKET commands whose
 * CDBs go to the shared SCSI/MMC code (scsi_exec), with the sense of the last failed one
 * kept here, in the transport, for REQUEST SENSE (the MMC code answers REQUEST SENSE with
 * its current state, as SPC says a target without autosense does not).
 *
 * Results: c->status / c->error as the task file holds them at the end (DRDY | DSC, or ERR
 * with ABRT, IDNF or UNC), c->done the bytes moved through the PRDs, c->is PxIS.OFS when
 * the device would move more than the PRDs hold. */
#include "devices/ahci.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DSM_BLOCKS 8 /* of 64 ranges each (IDENTIFY word 105) */

static void ok(struct ahci_cmd *c)
{
	c->status = ATA_DRDY | ATA_DSC;
	c->error = 0;
}

static void fail(struct ahci_cmd *c, uint8_t error)
{
	c->status = ATA_DRDY | ATA_ERR;
	c->error = error;
}

bool ahci_ata_is_ncq(const uint8_t *fis)
{
	return fis[0] == FIS_H2D && (fis[1] & 0x80) && (fis[2] == 0x60 || fis[2] == 0x61);
}

/* Copy len bytes of src into the PRD buffers: the bytes copied. */
static size_t to_prd(struct ahci_cmd *c, const void *src, size_t len)
{
	size_t n = 0;

	for (int i = 0; i < c->niov && n < len; i++) {
		size_t k = c->iov[i].iov_len < len - n ? c->iov[i].iov_len : len - n;

		memcpy(c->iov[i].iov_base, (const uint8_t *)src + n, k);
		guest_mem_track(c->p->hba->mem, c->iov[i].iov_base, k);
		n += k;
	}
	return n;
}

static size_t from_prd(struct ahci_cmd *c, void *dst, size_t len)
{
	size_t n = 0;

	for (int i = 0; i < c->niov && n < len; i++) {
		size_t k = c->iov[i].iov_len < len - n ? c->iov[i].iov_len : len - n;

		memcpy((uint8_t *)dst + n, c->iov[i].iov_base, k);
		n += k;
	}
	return n;
}

/* The first len bytes of the PRD buffers as an iovec list in out (at most c->niov entries):
 * the count, or -1 when they hold less. */
static int prd_slice(const struct ahci_cmd *c, size_t len, struct iovec *out)
{
	size_t n = 0;
	int k = 0;

	for (int i = 0; i < c->niov && n < len; i++, k++) {
		out[k] = c->iov[i];
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

static uint64_t sectors(const struct ahci_port *p)
{
	return p->disk ? p->disk->size / DISK_SECTOR : 0;
}

static void identify_common(const struct ahci_port *p, uint16_t *w)
{
	put_str(w + 10, p->serial, 10);
	put_str(w + 23, "1.0", 4);
	put_str(w + 27, p->model, 20);
	w[49] = 0x0300;     /* LBA, DMA */
	w[53] = 0x0006;     /* words 64-70 and 88 valid */
	w[63] = 0x0007 | (p->r.xfer_mode >> 3 == 4 ? 0x100u << (p->r.xfer_mode & 7) : 0);
	w[64] = 0x0003;     /* PIO 3 and 4 */
	w[65] = w[66] = w[67] = w[68] = 120;
	w[76] = 0x0006;     /* SATA 1.5 and 3 Gb/s */
	w[80] = 0x01f0;     /* ATA/ATAPI-4 to ATA8-ACS */
	w[88] = 0x003f | (p->r.xfer_mode >> 3 == 8 ? 0x100u << (p->r.xfer_mode & 7) : 0x2000);
}

static void identify_disk(const struct ahci_port *p, uint16_t *w)
{
	uint64_t n = sectors(p);

	memset(w, 0, 512);
	identify_common(p, w);
	w[0] = 0x0040;       /* fixed */
	w[1] = 16383;
	w[3] = 16;
	w[6] = 63;
	w[47] = 0x8010;      /* READ/WRITE MULTIPLE: 16 sectors */
	w[50] = 0x4000;
	w[59] = 0x0110;
	w[60] = (uint16_t)(n > 0x0fffffff ? 0xffff : n);
	w[61] = (uint16_t)((n > 0x0fffffff ? 0x0fffffff : n) >> 16);
	w[75] = AHCI_SLOTS - 1; /* queue depth - 1 */
	w[76] |= 0x0100;     /* NCQ */
	w[82] = 0x0060;      /* write cache, look-ahead */
	w[83] = 0x7400;      /* FLUSH CACHE EXT, FLUSH CACHE, 48-bit */
	w[84] = 0x4000;
	w[85] = 0x0040 | (p->r.wcache ? 0x0020 : 0);
	w[86] = 0x3400;
	w[87] = 0x4000;
	for (int i = 0; i < 4; i++)
		w[100 + i] = (uint16_t)(n >> (16 * i));
	w[106] = 0x4000;     /* 512-byte logical and physical sectors */
	if (p->trim) {
		w[105] = MAX_DSM_BLOCKS;
		w[169] = 0x0001; /* DATA SET MANAGEMENT: TRIM */
		w[217] = 0x0001; /* not rotating */
	}
	checksum(w);
}

static void identify_packet(const struct ahci_port *p, uint16_t *w)
{
	memset(w, 0, 512);
	identify_common(p, w);
	w[0] = 0x85c0;       /* ATAPI, CD-ROM, removable, DRQ in 50 us, 12-byte packets */
	w[82] = 0x0010;      /* PACKET */
	w[83] = w[84] = w[87] = 0x4000;
	w[85] = 0x0010;
	checksum(w);
}

static uint64_t fis_lba48(const uint8_t *f)
{
	return (uint64_t)f[4] | (uint64_t)f[5] << 8 | (uint64_t)f[6] << 16 |
	       (uint64_t)f[8] << 24 | (uint64_t)f[9] << 32 | (uint64_t)f[10] << 40;
}

static uint64_t fis_lba28(const uint8_t *f)
{
	return (uint64_t)f[4] | (uint64_t)f[5] << 8 | (uint64_t)f[6] << 16 |
	       (uint64_t)(f[7] & 0xf) << 24;
}

static void set_fis_lba(uint8_t *f, uint64_t lba)
{
	f[4] = lba;
	f[5] = lba >> 8;
	f[6] = lba >> 16;
	f[8] = lba >> 24;
	f[9] = lba >> 32;
	f[10] = lba >> 40;
	f[7] = (f[7] & 0xf0) | ((lba >> 24) & 0xf);
}

/* READ or WRITE of count sectors at lba (DMA, PIO or NCQ alike). */
static void rw(struct ahci_cmd *c, uint64_t lba, uint32_t count, bool write, bool fua)
{
	struct ahci_port *p = c->p;
	size_t len = (size_t)count * DISK_SECTOR;
	struct iovec *iov;
	int n, ret;

	if (lba > sectors(p) || count > sectors(p) - lba) {
		fail(c, ATA_E_IDNF);
		vstat_add(&p->st.errors, 1);
		return;
	}
	iov = malloc((c->niov ? c->niov : 1) * sizeof(*iov));
	if (!iov) {
		fail(c, ATA_E_ABRT);
		return;
	}
	n = prd_slice(c, len, iov);
	if (n < 0) {
		free(iov);
		/* the PRDs hold less than the command moves */
		if (write)
			fail(c, ATA_E_ABRT);
		else
			c->is = PX_IS_OFS;
		vstat_add(&p->st.errors, 1);
		return;
	}
	if (write) {
		ret = disk_writev(p->disk, lba, iov, n);
		if (!ret && (fua || !p->r.wcache))
			ret = disk_flush(p->disk);
	} else {
		ret = disk_readv(p->disk, lba, iov, n);
		for (int i = 0; !ret && i < n; i++)
			guest_mem_track(p->hba->mem, iov[i].iov_base, iov[i].iov_len);
	}
	free(iov);
	if (ret) {
		fail(c, write ? ATA_E_ABRT : ATA_E_UNC);
		vstat_add(&p->st.errors, 1);
		return;
	}
	c->done = len;
	vstat_add(write ? &p->st.write_ops : &p->st.read_ops, 1);
	vstat_add(write ? &p->st.write_bytes : &p->st.read_bytes, len);
	ok(c);
}

bool ahci_ata_async_prep(struct ahci_cmd *c)
{
	struct ahci_port *p = c->p;
	const uint8_t *f = c->fis;
	uint32_t n = f[3] | f[11] << 8;

	if (!p->disk || p->disk->direct_fd < 0 || (f[12] >> 3) != c->slot || !c->niov ||
	    (f[2] == 0x61 && p->disk->readonly))
		return false;
	c->lba = fis_lba48(f);
	c->count = n ? n : 65536;
	if (c->lba > sectors(p) || c->count > sectors(p) - c->lba)
		return false;
	c->dio = malloc(c->niov * sizeof(*c->dio));
	if (!c->dio)
		return false;
	c->ndio = prd_slice(c, (size_t)c->count * DISK_SECTOR, c->dio);
	return c->ndio > 0;
}

void ahci_ata_async_done(struct ahci_cmd *c, int res)
{
	struct ahci_port *p = c->p;
	bool write = c->fis[2] == 0x61, fua = c->fis[7] & 0x80;
	size_t len = (size_t)c->count * DISK_SECTOR;

	if (res < 0 || (size_t)res != len) {
		rw(c, c->lba, c->count, write, fua); /* short, or refused (O_DIRECT): plainly */
		return;
	}
	if (write && (fua || !p->r.wcache) && disk_flush(p->disk)) {
		fail(c, ATA_E_ABRT);
		vstat_add(&p->st.errors, 1);
		return;
	}
	for (int i = 0; !write && i < c->ndio; i++)
		guest_mem_track(p->hba->mem, c->dio[i].iov_base, c->dio[i].iov_len);
	c->done = len;
	vstat_add(write ? &p->st.write_ops : &p->st.read_ops, 1);
	vstat_add(write ? &p->st.write_bytes : &p->st.read_bytes, len);
	ok(c);
}

/* DATA SET MANAGEMENT with TRIM: count blocks of 64 ranges (LBA: 48 bits, length: 16). */
static void dsm(struct ahci_cmd *c, uint32_t blocks)
{
	struct ahci_port *p = c->p;
	uint64_t r[MAX_DSM_BLOCKS * 64];
	size_t len = (size_t)blocks * 512;

	if (!p->trim || !(c->fis[3] & 1) || !blocks || blocks > MAX_DSM_BLOCKS ||
	    from_prd(c, r, len) != len) {
		fail(c, ATA_E_ABRT);
		return;
	}
	for (size_t i = 0; i < len / 8; i++) {
		uint64_t lba = r[i] & 0xffffffffffffULL, n = r[i] >> 48;

		if (n && (lba > sectors(p) || n > sectors(p) - lba)) {
			fail(c, ATA_E_IDNF);
			return;
		}
	}
	for (size_t i = 0; i < len / 8; i++) {
		uint64_t lba = r[i] & 0xffffffffffffULL, n = r[i] >> 48;

		if (n && p->disk->ops->discard(p->disk, lba, n)) {
			fail(c, ATA_E_ABRT);
			vstat_add(&p->st.errors, 1);
			return;
		}
	}
	vstat_add(&p->st.discard_ops, 1);
	c->done = len;
	ok(c);
}

/* READ LOG EXT: the log directory and the NCQ command error log (page 10h). */
static void read_log(struct ahci_cmd *c)
{
	struct ahci_port *p = c->p;
	uint8_t b[512] = { 0 }, sum = 0;
	unsigned count = c->fis[12] | c->fis[13] << 8;

	/* page 0 of each log, one page (the page number: LBA 15:8 and 47:40) */
	if (count != 1 || c->fis[5] || c->fis[10]) {
		fail(c, ATA_E_ABRT);
		return;
	}
	if (c->fis[4] == 0x00) {
		b[0] = 1;             /* version */
		b[0x10 * 2] = 1;      /* log 10h: one page */
	} else if (c->fis[4] == 0x10) {
		pthread_mutex_lock(&p->hba->lock);
		if (p->r.ncq_err) {
			b[0] = p->r.ncq_err - 1;
			b[2] = p->r.ncq_status;
			b[3] = p->r.ncq_error;
		} else {
			b[0] = 0x80; /* NQ: no queued command failed */
		}
		p->r.ncq_err = 0;
		pthread_mutex_unlock(&p->hba->lock);
		for (int i = 0; i < 511; i++)
			sum += b[i];
		b[511] = (uint8_t)-sum;
	} else {
		fail(c, ATA_E_ABRT);
		return;
	}
	c->done = to_prd(c, b, sizeof(b));
	c->pio = true;
	ok(c);
}

static void set_features(struct ahci_cmd *c)
{
	struct ahci_port *p = c->p;
	uint8_t mode = c->fis[12];

	switch (c->fis[3]) {
	case 0x02: p->r.wcache = 1; break;
	case 0x82:
		p->r.wcache = 0;
		if (p->disk && disk_flush(p->disk)) {
			fail(c, ATA_E_ABRT);
			return;
		}
		break;
	case 0x03: /* transfer mode: PIO default/0-4, multiword DMA 0-2, UDMA 0-5 */
		if (!(mode <= 1 || (mode >> 3 == 1 && (mode & 7) <= 4) ||
		      (mode >> 3 == 4 && (mode & 7) <= 2) || (mode >> 3 == 8 && (mode & 7) <= 5))) {
			fail(c, ATA_E_ABRT);
			return;
		}
		if (mode >> 3 >= 4)
			p->r.xfer_mode = mode;
		break;
	case 0x05: case 0x85: case 0x55: case 0xaa: case 0x66: case 0xcc:
	case 0x10: case 0x90:
		break;
	default:
		fail(c, ATA_E_ABRT);
		return;
	}
	ok(c);
}

/* PACKET: the CDB to the MMC code; the sense of a failure stays for REQUEST SENSE. */
static void packet(struct ahci_cmd *c)
{
	struct ahci_port *p = c->p;
	struct scsi_buf none = { NULL, 0, 0 };
	struct scsi_buf data = { c->iov, c->niov, c->prd_bytes };
	struct scsi_result res = { 0 };
	uint8_t sense[SCSI_SENSE_LEN];
	bool have = false;

	if (c->acmd[0] == 0x03) { /* REQUEST SENSE: the failed command's, once */
		pthread_mutex_lock(&p->hba->lock);
		have = p->r.sense_valid;
		memcpy(sense, p->r.sense, sizeof(sense));
		p->r.sense_valid = 0;
		pthread_mutex_unlock(&p->hba->lock);
	}
	if (have) {
		size_t alloc = c->acmd[4];

		c->done = to_prd(c, sense, alloc < sizeof(sense) ? alloc : sizeof(sense));
		ok(c);
		return;
	}
	scsi_exec(&p->lun, 1, 0, c->acmd, sizeof(c->acmd), c->write ? &data : &none,
		  c->write ? &none : &data, &res);
	pthread_mutex_lock(&p->hba->lock);
	p->r.sense_valid = res.status != SCSI_GOOD;
	if (p->r.sense_valid)
		memcpy(p->r.sense, res.sense, sizeof(p->r.sense));
	pthread_mutex_unlock(&p->hba->lock);
	if (res.status != SCSI_GOOD) {
		/* ATAPI: the sense key in the error register's high nibble */
		fail(c, (res.sense[2] & 0xf) << 4 | ((res.sense[2] & 0xf) == SK_ILLEGAL_REQUEST ?
						     ATA_E_ABRT : 0));
		return;
	}
	c->done = c->write ? c->prd_bytes : res.in_done;
	ok(c);
}

static void exec_cd(struct ahci_cmd *c)
{
	uint16_t id[256];

	switch (c->fis[2]) {
	case 0xa0:
		packet(c);
		return;
	case 0xa1: /* IDENTIFY PACKET DEVICE */
		identify_packet(c->p, id);
		c->done = to_prd(c, id, sizeof(id));
		c->pio = true;
		ok(c);
		return;
	case 0x08: /* DEVICE RESET */
	case 0x90: /* EXECUTE DEVICE DIAGNOSTIC */
	case 0xec: /* IDENTIFY DEVICE: aborted with the ATAPI signature */
		c->fis[4] = 0x01;
		c->fis[5] = 0x14;
		c->fis[6] = 0xeb;
		c->fis[12] = 0x01;
		if (c->fis[2] == 0xec) {
			fail(c, ATA_E_ABRT);
		} else {
			c->status = 0;
			c->error = 0x01;
		}
		return;
	case 0xef:
		set_features(c);
		return;
	case 0xe0: case 0xe1: case 0xe7: case 0xea:
		ok(c);
		return;
	default:
		fail(c, ATA_E_ABRT);
	}
}

void ahci_ata_exec(struct ahci_cmd *c)
{
	struct ahci_port *p = c->p;
	uint8_t *f = c->fis;
	uint16_t id[256];
	uint32_t n48 = f[12] | f[13] << 8, n28 = f[12];

	if (f[0] != FIS_H2D || !(f[1] & 0x80)) {
		fail(c, ATA_E_ABRT); /* not a register FIS carrying a command */
		return;
	}
	if (p->drive == AHCI_CD) {
		exec_cd(c);
		return;
	}
	if (!n48)
		n48 = 65536;
	if (!n28)
		n28 = 256;
	switch (f[2]) {
	case 0xec: /* IDENTIFY DEVICE */
		identify_disk(p, id);
		c->done = to_prd(c, id, sizeof(id));
		c->pio = true;
		ok(c);
		break;
	case 0xc8: rw(c, fis_lba28(f), n28, false, false); break;          /* READ DMA */
	case 0x20: case 0xc4:                                               /* PIO */
		rw(c, fis_lba28(f), n28, false, false);
		c->pio = !(c->status & ATA_ERR);
		break;
	case 0x25: rw(c, fis_lba48(f), n48, false, false); break;          /* READ DMA EXT */
	case 0x24: case 0x29:
		rw(c, fis_lba48(f), n48, false, false);
		c->pio = !(c->status & ATA_ERR);
		break;
	case 0xca: case 0x30: case 0xc5: rw(c, fis_lba28(f), n28, true, false); break;
	case 0x35: case 0x34: case 0x39: rw(c, fis_lba48(f), n48, true, false); break;
	case 0x3d: rw(c, fis_lba48(f), n48, true, true); break;            /* WRITE DMA FUA EXT */
	case 0x60: case 0x61: {                                             /* FPDMA QUEUED */
		uint32_t n = f[3] | f[11] << 8;

		if (!c->ncq || (f[12] >> 3) != c->slot) {
			fail(c, ATA_E_ABRT); /* without SACT, or a tag that is not its slot */
			break;
		}
		rw(c, fis_lba48(f), n ? n : 65536, f[2] == 0x61, f[7] & 0x80);
		break;
	}
	case 0xe7: case 0xea:                                               /* FLUSH CACHE */
		vstat_add(&p->st.flush_ops, 1);
		if (disk_flush(p->disk))
			fail(c, ATA_E_ABRT);
		else
			ok(c);
		break;
	case 0x06: dsm(c, n48 == 65536 ? 0 : n48); break;                  /* DATA SET MGMT */
	case 0xef: set_features(c); break;
	case 0x2f: read_log(c); break;
	case 0x40: case 0x42: {                                             /* READ VERIFY */
		uint64_t lba = f[2] == 0x42 ? fis_lba48(f) : fis_lba28(f);
		uint32_t n = f[2] == 0x42 ? n48 : n28;

		if (lba > sectors(p) || n > sectors(p) - lba)
			fail(c, ATA_E_IDNF);
		else
			ok(c);
		break;
	}
	case 0x27: case 0xf8:                                  /* READ NATIVE MAX ADDRESS */
		set_fis_lba(f, sectors(p) - 1);
		ok(c);
		break;
	case 0xe5: f[12] = 0xff; ok(c); break;                 /* CHECK POWER MODE: active */
	case 0xc6:                                             /* SET MULTIPLE MODE */
		if (n28 > 16 || (n28 & (n28 - 1)))
			fail(c, ATA_E_ABRT);
		else
			ok(c);
		break;
	case 0x90: c->status = ATA_DRDY | ATA_DSC; c->error = 0x01; break; /* diagnostics */
	case 0x91: case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0x10:
		ok(c);
		break;
	default:
		fail(c, ATA_E_ABRT); /* NOP, PACKET on a disk, and everything not known */
	}
}
