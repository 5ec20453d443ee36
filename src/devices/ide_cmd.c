/* What an IDE channel does with a command (ide.h): the PIO state machine (DRQ blocks
 * through the channel's window), bus-master DMA through the PRD table, ATAPI packets, and
 * the work the I/O thread does for each (disk I/O, the shared ATA code, ata.h).
 *
 * A bad PRD table (an entry or a buffer outside RAM, no end-of-table mark in 8192 entries,
 * fewer bytes than the command moves) ends the command with ERR/ABRT and the bus master's
 * error bit; nothing outside guest RAM is touched. */
#include "devices/ide.h"

#include <stdlib.h>
#include <string.h>

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* The task file of the drive that runs the channel's command (c->r.unit). */
#define TF(c) (&(c)->r.tf[(c)->r.unit])

static struct ide_unit *unit_of(struct ide_channel *c)
{
	return &c->ide->unit[c->idx * 2 + c->r.unit];
}

void ide_unit_view(struct ide_unit *u, struct ata_dev *v)
{
	*v = (struct ata_dev){
		.cd = u->drive == IDE_CD, .disk = u->drive == IDE_DISK ? u->disk : NULL,
		.multiple = u->r.multiple, .max_multiple = IDE_MAX_MULTIPLE,
		.cur_cyls = u->r.cyls, .cur_heads = u->r.heads, .cur_spt = u->r.spt,
		.wcache = &u->r.wcache, .xfer_mode = &u->r.xfer_mode,
		.sense_valid = &u->r.sense_valid, .sense = u->r.sense, .lock = &u->ide->lock,
		.mem = u->ide->mem, .lun = &u->lun, .serial = u->serial, .model = u->model,
		.st = &u->st,
	};
}

static bool is_lba48(uint8_t cmd)
{
	switch (cmd) {
	case 0x24: case 0x25: case 0x29: case 0x34: case 0x35: case 0x39: case 0x42: case 0x27:
		return true;
	}
	return false;
}

static bool is_pio_in(uint8_t cmd)
{
	return cmd == 0x20 || cmd == 0x21 || cmd == 0xc4 || cmd == 0x24 || cmd == 0x29;
}

static bool is_pio_out(uint8_t cmd)
{
	return cmd == 0x30 || cmd == 0x31 || cmd == 0xc5 || cmd == 0x34 || cmd == 0x39;
}

static bool is_dma(uint8_t cmd)
{
	return cmd == 0xc8 || cmd == 0xc9 || cmd == 0xca || cmd == 0xcb || cmd == 0x25 ||
	       cmd == 0x35;
}

static bool is_multiple(uint8_t cmd)
{
	return cmd == 0xc4 || cmd == 0xc5 || cmd == 0x29 || cmd == 0x39;
}

/* The task file as a register FIS (ata.h), with CHS turned into an LBA for an LBA28
 * command of a driver that addresses by cylinder, head and sector: false when that address
 * is outside the geometry. */
static bool build_tf(struct ide_channel *c, struct ide_unit *u, uint8_t *tf)
{
	const struct ide_channel_state *r = &c->r;

	memset(tf, 0, 20);
	tf[0] = 0x27;
	tf[1] = 0x80;
	tf[ATA_TF_CMD] = r->cmd;
	tf[ATA_TF_FEAT] = r->tf[r->unit].feature;
	tf[4] = r->tf[r->unit].lbal;
	tf[5] = r->tf[r->unit].lbam;
	tf[6] = r->tf[r->unit].lbah;
	tf[ATA_TF_DEV] = r->select;
	tf[8] = r->tf[r->unit].hob_lbal;
	tf[9] = r->tf[r->unit].hob_lbam;
	tf[10] = r->tf[r->unit].hob_lbah;
	tf[ATA_TF_FEAT_EXP] = r->tf[r->unit].hob_feature;
	tf[12] = r->tf[r->unit].nsect;
	tf[13] = r->tf[r->unit].hob_nsect;
	if (u->drive == IDE_DISK && !(r->select & 0x40) && !is_lba48(r->cmd)) {
		uint32_t heads = u->r.heads ? u->r.heads : 16, spt = u->r.heads ? u->r.spt : 63;
		const struct ide_tf *t = &r->tf[r->unit];
		uint32_t cyl = t->lbam | t->lbah << 8, head = r->select & 0xf, sect = t->lbal;
		uint64_t lba;

		if (!sect || sect > spt || head >= heads)
			return false;
		lba = ((uint64_t)cyl * heads + head) * spt + sect - 1;
		tf[4] = lba;
		tf[5] = lba >> 8;
		tf[6] = lba >> 16;
		tf[ATA_TF_DEV] = (r->select & 0xf0) | 0x40 | ((lba >> 24) & 0xf);
	}
	return true;
}

/* The result of a command: the drive's status and error, and an interrupt. */
static void finish(struct ide_channel *c, struct ide_unit *u, uint8_t status, uint8_t error)
{
	u->r.status = status;
	u->r.error = error;
	c->r.xfer = X_IDLE;
	ide_irq_raise(c);
}

static void abort_cmd(struct ide_channel *c, struct ide_unit *u)
{
	finish(c, u, ATA_DRDY | ATA_ERR, ATA_E_ABRT);
}

/* Sectors per DRQ block of the running PIO command. */
static uint32_t block_sectors(struct ide_channel *c, struct ide_unit *u)
{
	uint32_t n = is_multiple(c->r.cmd) ? u->r.multiple : 1;

	return n < c->r.left ? n : c->r.left;
}

static void busy_for(struct ide_channel *c, struct ide_unit *u, enum ide_xfer x)
{
	u->r.status = ATA_BSY | ATA_DRDY;
	c->r.xfer = x;
	ide_kick(c->ide);
}

/* A DMA command (or an ATAPI packet by DMA) is ready: it runs once the bus master is
 * started. */
static void dma_ready(struct ide_channel *c, struct ide_unit *u)
{
	busy_for(c, u, (c->r.bm_cmd & BM_CMD_START) ? X_DMA : X_DMA_WAIT);
}

/* A disk transfer command: its range into c->r.lba and c->r.left; false after failing it. */
static bool transfer_range(struct ide_channel *c, struct ide_unit *u)
{
	uint8_t tf[20];
	uint64_t sectors = u->disk ? u->disk->size / DISK_SECTOR : 0;

	if (!build_tf(c, u, tf)) {
		finish(c, u, ATA_DRDY | ATA_ERR, ATA_E_IDNF);
		return false;
	}
	if (is_lba48(c->r.cmd)) {
		c->r.lba = ata_tf_lba48(tf);
		c->r.left = tf[12] | tf[13] << 8;
		if (!c->r.left)
			c->r.left = 65536;
	} else {
		c->r.lba = ata_tf_lba28(tf);
		c->r.left = tf[12] ? tf[12] : 256;
	}
	if (c->r.lba > sectors || c->r.left > sectors - c->r.lba) {
		finish(c, u, ATA_DRDY | ATA_ERR, ATA_E_IDNF);
		vstat_add(&u->st.errors, 1);
		return false;
	}
	return true;
}

static void window(struct ide_channel *c, uint16_t fill, uint16_t end)
{
	c->r.pos = 0;
	c->r.fill = fill;
	c->r.end = end;
}

void ide_cmd_start(struct ide_channel *c, uint8_t cmd)
{
	struct ide_unit *u = ide_selected(c);

	if (!u)
		return; /* no drive answers */
	if ((u->r.status & (ATA_BSY | ATA_DRQ)) && cmd != 0x08)
		return; /* only DEVICE RESET while busy */
	c->r.cmd = cmd;
	c->r.unit = !!(c->r.select & 0x10);
	c->r.write = 0;
	c->r.atapi_dma = 0;
	c->r.left = 0;
	u->r.error = 0;
	if (cmd == 0x90) { /* EXECUTE DEVICE DIAGNOSTIC: both drives, the master's signature */
		for (unsigned i = 0; i < 2; i++) {
			struct ide_unit *v = &c->ide->unit[c->idx * 2 + i];

			if (v->drive != IDE_NONE) {
				v->r.error = 0x01;
				v->r.status = v->drive == IDE_CD ? 0 : ATA_DRDY | ATA_DSC;
			}
		}
		for (unsigned i = 0; i < 2; i++)
			if (c->ide->unit[c->idx * 2 + i].drive != IDE_NONE)
				ide_signature(c, &c->ide->unit[c->idx * 2 + i]);
		c->r.select &= ~0x10;
		c->r.xfer = X_IDLE;
		ide_irq_raise(c);
		return;
	}
	if (u->drive == IDE_CD) {
		switch (cmd) {
		case 0xa0: /* PACKET: the 12-byte command comes through the data port */
			c->r.atapi_dma = TF(c)->feature & 1;
			c->r.limit = TF(c)->lbam | TF(c)->lbah << 8;
			if (!c->r.limit || c->r.limit == 0xffff)
				c->r.limit = 0xfffe;
			c->r.limit &= ~1;
			TF(c)->nsect = 0x01; /* CoD: a command is wanted */
			window(c, 12, 12);
			c->r.xfer = X_PACKET;
			u->r.status = ATA_DRDY | ATA_DRQ;
			return;
		case 0x08: /* DEVICE RESET: what the I/O thread still does for it is dropped */
			c->gen++;
			ide_unit_reset(u, false);
			ide_signature(c, u);
			c->r.xfer = X_IDLE;
			return; /* no interrupt */
		default:
			busy_for(c, u, X_EXEC);
			return;
		}
	}
	if (is_pio_in(cmd) || is_pio_out(cmd) || is_dma(cmd)) {
		if (is_multiple(cmd) && !u->r.multiple) {
			abort_cmd(c, u); /* READ/WRITE MULTIPLE before SET MULTIPLE */
			return;
		}
		if (!transfer_range(c, u))
			return;
		c->r.write = is_pio_out(cmd) || cmd == 0xca || cmd == 0xcb || cmd == 0x35;
		if (c->r.write && u->disk->readonly) {
			abort_cmd(c, u);
			return;
		}
		if (is_dma(cmd)) {
			dma_ready(c, u);
		} else if (c->r.write) {
			uint16_t n = block_sectors(c, u) * DISK_SECTOR;

			window(c, n, n);
			c->r.xfer = X_PIO_OUT;
			u->r.status = ATA_DRDY | ATA_DSC | ATA_DRQ; /* no interrupt: data first */
		} else {
			busy_for(c, u, X_NEXT_IN);
		}
		return;
	}
	switch (cmd) {
	case 0xc6: /* SET MULTIPLE MODE: 0 turns it off */
		if (TF(c)->nsect > IDE_MAX_MULTIPLE || (TF(c)->nsect & (TF(c)->nsect - 1))) {
			abort_cmd(c, u);
		} else {
			u->r.multiple = TF(c)->nsect;
			finish(c, u, ATA_DRDY | ATA_DSC, 0);
		}
		return;
	case 0x91: { /* INITIALIZE DEVICE PARAMETERS: the CHS translation */
		uint64_t n = u->disk->size / DISK_SECTOR, cyls;

		if (!TF(c)->nsect) {
			abort_cmd(c, u);
			return;
		}
		u->r.heads = (c->r.select & 0xf) + 1;
		u->r.spt = TF(c)->nsect;
		cyls = n / (u->r.heads * u->r.spt);
		u->r.cyls = cyls > 65535 ? 65535 : cyls;
		finish(c, u, ATA_DRDY | ATA_DSC, 0);
		return;
	}
	case 0x70: /* SEEK */
		finish(c, u, ATA_DRDY | ATA_DSC, 0);
		return;
	default:
		if ((cmd & 0xf0) == 0x10) { /* RECALIBRATE */
			finish(c, u, ATA_DRDY | ATA_DSC, 0);
			return;
		}
		busy_for(c, u, X_EXEC);
	}
}

/* ATAPI: the reply in the window goes out in DRQ chunks of at most the byte count limit. */
static void atapi_chunk(struct ide_channel *c, struct ide_unit *u)
{
	uint32_t n = c->r.fill - c->r.pos;

	if (n > c->r.limit)
		n = c->r.limit;
	c->r.end = c->r.pos + n;
	TF(c)->lbam = (uint8_t)n;
	TF(c)->lbah = (uint8_t)(n >> 8);
	TF(c)->nsect = 0x02; /* IO: data to the host */
	c->r.xfer = X_PIO_IN;
	u->r.status = ATA_DRDY | ATA_DSC | ATA_DRQ;
	ide_irq_raise(c);
}

static void atapi_end(struct ide_channel *c, struct ide_unit *u, uint8_t status, uint8_t error)
{
	TF(c)->nsect = 0x03; /* IO and CoD: the status */
	finish(c, u, status, error);
}

void ide_window_done(struct ide_channel *c)
{
	struct ide_unit *u = unit_of(c);

	switch (c->r.xfer) {
	case X_PIO_IN:
		if (u->drive == IDE_CD && c->r.cmd == 0xa0) {
			if (c->r.pos < c->r.fill)
				atapi_chunk(c, u);
			else if (c->r.left)
				busy_for(c, u, X_NEXT_IN);
			else
				atapi_end(c, u, ATA_DRDY | ATA_DSC, 0);
		} else if (c->r.left) {
			busy_for(c, u, X_NEXT_IN);
		} else {
			u->r.status = ATA_DRDY | ATA_DSC; /* data-in ends without an interrupt */
			c->r.xfer = X_IDLE;
		}
		break;
	case X_PIO_OUT:
		busy_for(c, u, X_WRITE);
		break;
	case X_PACKET:
		memset(c->r.acmd, 0, sizeof(c->r.acmd));
		memcpy(c->r.acmd, c->r.buf, 12);
		if (c->r.atapi_dma)
			dma_ready(c, u);
		else
			busy_for(c, u, X_EXEC);
		break;
	default:
		break;
	}
}

/* --- the I/O thread's work (without the lock) --- */

/* The PRD table at table as host buffers: 0, or -1 (an entry or buffer outside RAM, no
 * end of table). */
static int prd_map(struct ide *d, uint32_t table, struct iovec **out, int *n, uint64_t *bytes)
{
	struct iovec *iov = NULL;
	int k = 0, cap = 0;

	*bytes = 0;
	for (unsigned i = 0; i < IDE_PRD_MAX; i++) {
		const uint8_t *e = guest_mem_ptr(d->mem, (uint64_t)table + i * 8ull, 8);
		uint32_t addr, cnt, flags;
		void *buf;

		if (!e)
			break;
		addr = rd32(e) & ~1u;
		flags = rd32(e + 4);
		cnt = flags & 0xffff;
		if (!cnt)
			cnt = 0x10000;
		buf = guest_mem_ptr(d->mem, addr, cnt);
		if (!buf)
			break;
		if (k == cap) {
			struct iovec *m = realloc(iov, (cap = cap ? cap * 2 : 16) * sizeof(*iov));

			if (!m)
				break;
			iov = m;
		}
		iov[k].iov_base = buf;
		iov[k].iov_len = cnt;
		k++;
		*bytes += cnt;
		if (flags & 0x80000000u) {
			*out = iov;
			*n = k;
			return 0;
		}
	}
	free(iov);
	return -1;
}

/* What the work produced, applied under the lock. */
struct work {
	struct ata_cmd a;
	uint8_t tf[20];
	uint8_t win[IDE_WINDOW];
	uint32_t n;       /* sectors (CD blocks) moved */
	bool prd_bad;
	bool cd_read;     /* an ATAPI READ: lba and left describe it */
	uint64_t lba;
	uint32_t left;
};

/* An ATAPI READ(10)/(12) by PIO goes one CD block per window: its first block, or the
 * next, as a READ(10) of one block. */
static void cd_read_block(const struct ata_dev *v, struct work *w, uint64_t lba)
{
	uint8_t cdb[16] = { 0x28, 0, lba >> 24, lba >> 16, lba >> 8, lba, 0, 0, 1 };

	w->a.acmd = cdb;
	w->a.tf[ATA_TF_CMD] = 0xa0;
	if (!ata_exec(v, &w->a))
		ata_fail(&w->a, ATA_E_ABRT);
	w->a.acmd = NULL;
}

static void work_exec(struct ide_channel_state *r, const struct ata_dev *v, struct work *w)
{
	const uint8_t *p = r->acmd;

	if (r->cmd == 0xa0 && (p[0] == 0x28 || p[0] == 0xa8)) {
		uint64_t lba = (uint32_t)p[2] << 24 | (uint32_t)p[3] << 16 | p[4] << 8 | p[5];
		uint32_t n = p[0] == 0x28 ? (uint32_t)(p[7] << 8 | p[8]) :
			     (uint32_t)p[6] << 24 | (uint32_t)p[7] << 16 | p[8] << 8 | p[9];

		w->cd_read = true;
		if (!n) {
			/* nothing to read: what the MMC code says of the command itself */
			w->a.acmd = p;
			ata_exec(v, &w->a);
			w->lba = lba;
			w->left = 0;
			return;
		}
		cd_read_block(v, w, lba);
		w->lba = lba + 1;
		w->left = n - 1;
		return;
	}
	w->a.acmd = p;
	if (!ata_exec(v, &w->a))
		ata_fail(&w->a, ATA_E_ABRT);
}

/* Results a command leaves in the task file (a signature, a native max, a power mode). */
static void tf_back(struct ide_channel *c, const uint8_t *tf, uint8_t cmd)
{
	if (cmd != 0xec && cmd != 0x27 && cmd != 0xf8 && cmd != 0xe5)
		return;
	TF(c)->nsect = tf[12];
	TF(c)->lbal = tf[4];
	TF(c)->lbam = tf[5];
	TF(c)->lbah = tf[6];
	TF(c)->hob_lbal = tf[8];
	TF(c)->hob_lbam = tf[9];
	TF(c)->hob_lbah = tf[10];
	if (cmd == 0xf8)
		c->r.select = (c->r.select & 0xf0) | (tf[ATA_TF_DEV] & 0x0f);
}

void ide_work(struct ide_channel *c)
{
	struct ide *d = c->ide;
	struct ide_unit *u = unit_of(c);
	struct ide_channel_state r = c->r; /* the registers as the command left them */
	uint32_t gen = c->gen;
	struct work *w = calloc(1, sizeof(*w));
	struct ata_dev v;
	struct iovec wio, *prd = NULL;
	int nprd = 0;
	uint8_t x = r.xfer, multiple;

	if (!w) {
		abort_cmd(c, u);
		return;
	}
	c->busy = true;
	multiple = u->r.multiple;
	ide_unit_view(u, &v);
	build_tf(c, u, w->tf);
	if (x == X_WRITE)
		memcpy(w->win, r.buf, r.end);
	pthread_mutex_unlock(&d->lock);

	wio = (struct iovec){ w->win, sizeof(w->win) };
	w->a = (struct ata_cmd){ .tf = w->tf, .iov = &wio, .niov = 1, .buf_bytes = sizeof(w->win) };
	switch (x) {
	case X_EXEC:
		work_exec(&r, &v, w);
		break;
	case X_NEXT_IN:
		if (r.cmd == 0xa0) {
			cd_read_block(&v, w, r.lba);
			w->cd_read = true;
			w->lba = r.lba + 1;
			w->left = r.left - 1;
		} else {
			w->n = !is_multiple(r.cmd) ? 1 : multiple < r.left ? multiple : r.left;
			if (w->n > r.left)
				w->n = r.left;
			wio.iov_len = w->n * DISK_SECTOR;
			ata_rw(&v, &w->a, r.lba, w->n, false, false);
		}
		break;
	case X_WRITE:
		w->n = r.end / DISK_SECTOR;
		wio.iov_len = r.end;
		ata_rw(&v, &w->a, r.lba, w->n, true, false);
		break;
	case X_DMA:
		if (prd_map(d, r.bm_prd, &prd, &nprd, &w->a.buf_bytes)) {
			w->prd_bad = true;
			break;
		}
		w->a.iov = prd;
		w->a.niov = nprd;
		if (r.cmd == 0xa0) {
			w->a.acmd = r.acmd;
			if (!ata_exec(&v, &w->a))
				ata_fail(&w->a, ATA_E_ABRT);
		} else {
			ata_rw(&v, &w->a, r.lba, r.left, r.write, false);
		}
		w->prd_bad = w->a.overflow;
		break;
	}
	free(prd);

	pthread_mutex_lock(&d->lock);
	c->busy = false;
	if (gen != c->gen || c->r.xfer != x) {
		free(w); /* a reset came meanwhile: the result goes */
		return;
	}
	if (x == X_DMA) {
		c->r.bm_status &= ~BM_ST_ACTIVE;
		if (w->prd_bad) {
			c->r.bm_status |= BM_ST_ERROR;
			ata_fail(&w->a, ATA_E_ABRT);
		}
		if (r.cmd == 0xa0)
			atapi_end(c, u, w->a.status, w->a.error);
		else
			finish(c, u, w->a.status, w->a.error);
	} else if (w->a.status & ATA_ERR) {
		if (r.cmd == 0xec && u->drive == IDE_CD)
			tf_back(c, w->tf, r.cmd); /* the ATAPI signature */
		if (r.cmd == 0xa0)
			atapi_end(c, u, w->a.status, w->a.error);
		else
			finish(c, u, w->a.status, w->a.error);
	} else if (r.cmd == 0xa0 && u->drive == IDE_CD) {
		uint32_t n = w->a.done < IDE_WINDOW ? w->a.done : IDE_WINDOW;

		if (w->cd_read) {
			c->r.lba = w->lba;
			c->r.left = w->left;
		}
		memcpy(c->r.buf, w->win, n);
		window(c, n, 0);
		if (n)
			atapi_chunk(c, u);
		else
			atapi_end(c, u, w->a.status, w->a.error);
	} else if (x == X_NEXT_IN) {
		c->r.lba += w->n;
		c->r.left -= w->n;
		memcpy(c->r.buf, w->win, w->n * DISK_SECTOR);
		window(c, w->n * DISK_SECTOR, w->n * DISK_SECTOR);
		c->r.xfer = X_PIO_IN;
		u->r.status = ATA_DRDY | ATA_DSC | ATA_DRQ;
		ide_irq_raise(c);
	} else if (x == X_WRITE) {
		c->r.lba += w->n;
		c->r.left -= w->n;
		if (c->r.left) {
			uint16_t n = block_sectors(c, u) * DISK_SECTOR;

			window(c, n, n);
			c->r.xfer = X_PIO_OUT;
			u->r.status = ATA_DRDY | ATA_DSC | ATA_DRQ;
			ide_irq_raise(c);
		} else {
			finish(c, u, w->a.status, w->a.error);
		}
	} else if (w->a.pio && w->a.done) { /* IDENTIFY (PACKET) DEVICE */
		uint32_t n = w->a.done < IDE_WINDOW ? w->a.done : IDE_WINDOW;

		memcpy(c->r.buf, w->win, n);
		window(c, n, n);
		c->r.xfer = X_PIO_IN;
		u->r.status = ATA_DRDY | ATA_DSC | ATA_DRQ;
		if (u->drive == IDE_CD)
			u->r.status &= ~ATA_DSC;
		ide_irq_raise(c);
	} else {
		tf_back(c, w->tf, r.cmd);
		finish(c, u, w->a.status, w->a.error);
	}
	free(w);
}
