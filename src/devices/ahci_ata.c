/* The commands behind an AHCI port (ahci.h), on the controller's I/O thread: the shared ATA
 * and ATAPI code (ata.h) on a view of the port, and what is AHCI's own: NCQ (FPDMA QUEUED,
 * also on io_uring) and READ LOG EXT with its NCQ command error page.
 *
 * Results: c->status / c->error as the task file holds them at the end (DRDY | DSC, or ERR
 * with ABRT, IDNF or UNC), c->done the bytes moved through the PRDs, c->is PxIS.OFS when
 * the device would move more than the PRDs hold. */
#include "devices/ahci.h"

#include <stdlib.h>
#include <string.h>

bool ahci_ata_is_ncq(const uint8_t *fis)
{
	return fis[0] == FIS_H2D && (fis[1] & 0x80) && (fis[2] == 0x60 || fis[2] == 0x61);
}

/* The port as the shared command code sees it. */
static void port_view(struct ahci_port *p, struct ata_dev *d)
{
	*d = (struct ata_dev){
		.cd = p->drive == AHCI_CD, .disk = p->disk, .trim = p->trim,
		.queue_depth = AHCI_SLOTS, .sata = true,
		.wcache = &p->r.wcache, .xfer_mode = &p->r.xfer_mode,
		.sense_valid = &p->r.sense_valid, .sense = p->r.sense, .lock = &p->hba->lock,
		.mem = p->hba->mem, .lun = &p->lun, .serial = p->serial, .model = p->model,
		.st = &p->st,
	};
}

static struct ata_cmd cmd_view(struct ahci_cmd *c)
{
	return (struct ata_cmd){ .tf = c->fis, .acmd = c->acmd, .write = c->write, .iov = c->iov,
				 .niov = c->niov, .buf_bytes = c->prd_bytes };
}

static void cmd_results(struct ahci_cmd *c, const struct ata_cmd *a)
{
	c->status = a->status;
	c->error = a->error;
	c->done = a->done;
	c->pio = a->pio;
	if (a->overflow)
		c->is |= PX_IS_OFS;
}

bool ahci_ata_async_prep(struct ahci_cmd *c)
{
	struct ahci_port *p = c->p;
	const uint8_t *f = c->fis;
	uint32_t n = f[3] | f[11] << 8;
	uint64_t sectors = p->disk ? p->disk->size / DISK_SECTOR : 0;

	if (!p->disk || p->disk->direct_fd < 0 || (f[12] >> 3) != c->slot || !c->niov ||
	    (f[2] == 0x61 && p->disk->readonly))
		return false;
	c->lba = ata_tf_lba48(f);
	c->count = n ? n : 65536;
	if (c->lba > sectors || c->count > sectors - c->lba)
		return false;
	c->dio = malloc(c->niov * sizeof(*c->dio));
	if (!c->dio)
		return false;
	c->ndio = ata_iov_slice(c->iov, c->niov, (size_t)c->count * DISK_SECTOR, c->dio);
	return c->ndio > 0;
}

void ahci_ata_async_done(struct ahci_cmd *c, int res)
{
	struct ahci_port *p = c->p;
	bool write = c->fis[2] == 0x61, fua = c->fis[7] & 0x80;
	size_t len = (size_t)c->count * DISK_SECTOR;
	struct ata_cmd a = cmd_view(c);
	struct ata_dev d;

	port_view(p, &d);
	/* a write that went around the disk layer: its blocks are dirty now (a migration
	 * copying the disk sends them again) */
	if (write)
		disk_dirty_mark(p->disk, c->lba, c->count);
	if (res < 0 || (size_t)res != len) {
		ata_rw(&d, &a, c->lba, c->count, write, fua); /* short, or refused: plainly */
	} else {
		for (int i = 0; !write && i < c->ndio; i++)
			guest_mem_track(p->hba->mem, c->dio[i].iov_base, c->dio[i].iov_len);
		ata_rw_done(&d, &a, len, write, fua);
	}
	cmd_results(c, &a);
}

/* READ LOG EXT: the log directory and the NCQ command error log (page 10h). */
static void read_log(struct ahci_cmd *c, const struct ata_dev *d, struct ata_cmd *a)
{
	struct ahci_port *p = c->p;
	uint8_t b[512] = { 0 }, sum = 0;
	unsigned count = c->fis[12] | c->fis[13] << 8;

	/* page 0 of each log, one page (the page number: LBA 15:8 and 47:40) */
	if (count != 1 || c->fis[5] || c->fis[10]) {
		ata_fail(a, ATA_E_ABRT);
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
		ata_fail(a, ATA_E_ABRT);
		return;
	}
	a->done = ata_to_buf(d, a, b, sizeof(b));
	a->pio = true;
	ata_ok(a);
}

void ahci_ata_exec(struct ahci_cmd *c)
{
	struct ahci_port *p = c->p;
	uint8_t *f = c->fis;
	struct ata_cmd a = cmd_view(c);
	struct ata_dev d;

	port_view(p, &d);
	if (f[0] != FIS_H2D || !(f[1] & 0x80)) {
		ata_fail(&a, ATA_E_ABRT); /* not a register FIS carrying a command */
	} else if (p->drive == AHCI_DISK && (f[2] == 0x60 || f[2] == 0x61)) { /* FPDMA QUEUED */
		uint32_t n = f[3] | f[11] << 8;

		if (!c->ncq || (f[12] >> 3) != c->slot)
			ata_fail(&a, ATA_E_ABRT); /* without SACT, or a tag that is not its slot */
		else
			ata_rw(&d, &a, ata_tf_lba48(f), n ? n : 65536, f[2] == 0x61, f[7] & 0x80);
	} else if (p->drive == AHCI_DISK && f[2] == 0x2f) {
		read_log(c, &d, &a);
	} else if (!ata_exec(&d, &a)) {
		ata_fail(&a, ATA_E_ABRT); /* NOP, PACKET on a disk, and everything not known */
	}
	cmd_results(c, &a);
}
