/* The PIIX3 IDE controller (ide.h): its PCI function, the legacy ports of both channels,
 * the bus-master registers, interrupts, resets, the I/O thread and the life cycle. What a
 * command does is ide_cmd.c's, save and restore ide_state.c's.
 *
 * Register reads with no drive selected follow what drivers probe for (as QEMU's): a
 * channel without drives reads 0, an absent slave beside a master has status 0. */
#include "devices/ide.h"

#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint16_t chan_base[IDE_CHANNELS] = { IDE_PRIMARY, IDE_SECONDARY };
static const uint32_t chan_irq[IDE_CHANNELS] = { IDE_IRQ_PRIMARY, IDE_IRQ_SECONDARY };

void ide_kick(struct ide *d)
{
	pthread_cond_signal(&d->wake);
}

/* --- interrupts --- */

static void irq_update(struct ide_channel *c)
{
	struct ide *d = c->ide;
	int level = c->r.irq && !(c->r.ctl & IDE_CTL_NIEN);

	if (level == c->level)
		return;
	c->level = level;
	if (level)
		d->irqs++;
	if (d->irq.irq_line && d->irq.irq_line(d->irq.vm, chan_irq[c->idx], level))
		vsrv_log("%s: IRQ %u: cannot set its level", d->name, chan_irq[c->idx]);
}

void ide_irq_raise(struct ide_channel *c)
{
	c->r.irq = 1;
	c->r.bm_status |= BM_ST_INTR;
	irq_update(c);
}

void ide_irq_sync(struct ide_channel *c)
{
	c->level = -1;
	irq_update(c);
}

static void irq_clear(struct ide_channel *c)
{
	c->r.irq = 0;
	irq_update(c);
}

/* --- drives and resets --- */

struct ide_unit *ide_selected(struct ide_channel *c)
{
	struct ide_unit *u = &c->ide->unit[c->idx * 2 + !!(c->r.select & 0x10)];

	return u->drive == IDE_NONE ? NULL : u;
}

static bool channel_empty(const struct ide_channel *c)
{
	return c->ide->unit[c->idx * 2].drive == IDE_NONE &&
	       c->ide->unit[c->idx * 2 + 1].drive == IDE_NONE;
}

/* The signature a drive leaves in the task file after a reset or DEVICE RESET. */
void ide_signature(struct ide_channel *c, struct ide_unit *u)
{
	struct ide_tf *t = &c->r.tf[u->idx % 2];

	t->nsect = t->lbal = 1;
	if (u->drive == IDE_CD) {
		t->lbam = 0x14;
		t->lbah = 0xeb;
	} else {
		t->lbam = t->lbah = 0;
	}
	c->r.select &= 0xf0;
}

/* hard: power-on (settings back to their defaults); else a software reset, which keeps
 * the settings a driver made (SET FEATURES, SET MULTIPLE: ATA8-ACS 4.?: unless it
 * disabled reverting, drivers redo them anyway). */
void ide_unit_reset(struct ide_unit *u, bool hard)
{
	u->r.status = u->drive == IDE_CD ? 0 : ATA_DRDY | ATA_DSC;
	u->r.error = 0x01; /* diagnostics passed */
	u->r.sense_valid = 0;
	if (hard) {
		u->r.wcache = 1;
		u->r.xfer_mode = 0;
		u->r.multiple = 0;
		u->r.heads = 0;
		u->r.cyls = u->r.spt = 0;
	}
	if (u->drive == IDE_CD) {
		u->mmc.prevent = false;
		u->lun.ua_asc = 0x29; /* POWER ON, RESET, OR BUS DEVICE RESET OCCURRED */
		u->lun.ua_ascq = 0;
	}
}

/* Reset the channel: both drives, the task file and the transfer (SRST, power-on). */
static void channel_reset(struct ide_channel *c, bool hard)
{
	uint8_t ctl = c->r.ctl, bm_cmd = c->r.bm_cmd, bm_status = c->r.bm_status;
	uint32_t prd = c->r.bm_prd;

	c->gen++;
	memset(&c->r, 0, sizeof(c->r));
	if (!hard) {
		c->r.ctl = ctl;
		c->r.bm_cmd = bm_cmd & ~BM_CMD_START;
		c->r.bm_status = bm_status & ~BM_ST_ACTIVE;
		c->r.bm_prd = prd;
	}
	c->r.select = 0xa0;
	for (unsigned i = 0; i < 2; i++) {
		struct ide_unit *u = &c->ide->unit[c->idx * 2 + i];

		if (u->drive != IDE_NONE)
			ide_unit_reset(u, hard);
	}
	for (unsigned i = 0; i < 2; i++)
		if (c->ide->unit[c->idx * 2 + i].drive != IDE_NONE)
			ide_signature(c, &c->ide->unit[c->idx * 2 + i]);
	irq_clear(c);
}

/* --- the command block (0x1f0-0x1f7) and the control block (0x3f6) --- */

static uint8_t status_of(struct ide_channel *c)
{
	struct ide_unit *u = ide_selected(c);

	if (!u)
		return 0;
	return u->r.status;
}

static uint32_t data_read(struct ide_channel *c, uint32_t len)
{
	uint32_t v = 0;

	if (c->r.xfer != X_PIO_IN || c->r.pos >= c->r.end)
		return len == 4 ? 0xffffffffu : 0xffff; /* no data: the bus floats */
	if (len > (uint32_t)(c->r.end - c->r.pos))
		len = c->r.end - c->r.pos;
	memcpy(&v, c->r.buf + c->r.pos, len);
	c->r.pos += len;
	if (c->r.pos >= c->r.end)
		ide_window_done(c);
	return v;
}

static void data_write(struct ide_channel *c, uint32_t v, uint32_t len)
{
	if ((c->r.xfer != X_PIO_OUT && c->r.xfer != X_PACKET) || c->r.pos >= c->r.end)
		return; /* ignored */
	if (len > (uint32_t)(c->r.end - c->r.pos))
		len = c->r.end - c->r.pos;
	memcpy(c->r.buf + c->r.pos, &v, len);
	c->r.pos += len;
	if (c->r.pos >= c->r.end)
		ide_window_done(c);
}

static uint8_t reg_read(struct ide_channel *c, unsigned reg)
{
	bool hob = c->r.ctl & IDE_CTL_HOB;
	struct ide_unit *u = ide_selected(c);
	const struct ide_tf *t = &c->r.tf[!!(c->r.select & 0x10)];

	if (channel_empty(c))
		return 0;
	switch (reg) {
	case 1: return u ? (hob ? t->hob_feature : u->r.error) : 0;
	case 2: return hob ? t->hob_nsect : t->nsect;
	case 3: return hob ? t->hob_lbal : t->lbal;
	case 4: return hob ? t->hob_lbam : t->lbam;
	case 5: return hob ? t->hob_lbah : t->lbah;
	case 6: return c->r.select;
	default: /* 7: status, which acknowledges the interrupt */
		irq_clear(c);
		return status_of(c);
	}
}

static bool busy(struct ide_channel *c)
{
	struct ide_unit *u = ide_selected(c);

	return u && (u->r.status & (ATA_BSY | ATA_DRQ));
}

static void reg_write(struct ide_channel *c, unsigned reg, uint8_t v)
{
	/* writes to the task file while a command runs are lost (the drive ignores them) */
	if (reg >= 1 && reg <= 6 && busy(c))
		return;
	c->r.ctl &= ~IDE_CTL_HOB; /* a write clears HOB (ATA8-ACS) */
	for (unsigned i = 0; i < 2 && reg >= 1 && reg <= 5; i++) {
		struct ide_tf *t = &c->r.tf[i];

		switch (reg) {
		case 1: t->hob_feature = t->feature; t->feature = v; break;
		case 2: t->hob_nsect = t->nsect; t->nsect = v; break;
		case 3: t->hob_lbal = t->lbal; t->lbal = v; break;
		case 4: t->hob_lbam = t->lbam; t->lbam = v; break;
		case 5: t->hob_lbah = t->lbah; t->lbah = v; break;
		}
	}
	if (reg == 6)
		c->r.select = v | 0xa0;
	else if (reg == 7)
		ide_cmd_start(c, v);
}

void ide_cmd_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct ide_channel *c = opaque;
	struct ide *d = c->ide;
	uint32_t v = 0;

	if (len > 4)
		len = 4;
	if (is_write)
		memcpy(&v, data, len);
	pthread_mutex_lock(&d->lock);
	if (off == 0 && len > 1) {
		if (is_write)
			data_write(c, v, len);
		else
			v = data_read(c, len);
	} else if (off < 8) {
		/* a wider access to a register reaches that one register */
		if (is_write)
			reg_write(c, off, (uint8_t)v);
		else
			v = off ? reg_read(c, off) : 0xff;
	}
	pthread_mutex_unlock(&d->lock);
	if (!is_write)
		memcpy(data, &v, len);
}

void ide_ctl_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct ide_channel *c = opaque;
	struct ide *d = c->ide;

	pthread_mutex_lock(&d->lock);
	if (off != 0) {
		if (!is_write)
			memset(data, 0xff, len);
	} else if (is_write) {
		uint8_t v = data[0];

		if ((v & IDE_CTL_SRST) && !(c->r.ctl & IDE_CTL_SRST)) {
			c->r.ctl = v;
			channel_reset(c, false);
			for (unsigned i = 0; i < 2; i++)
				if (c->ide->unit[c->idx * 2 + i].drive != IDE_NONE)
					c->ide->unit[c->idx * 2 + i].r.status |= ATA_BSY;
		} else if (!(v & IDE_CTL_SRST) && (c->r.ctl & IDE_CTL_SRST)) {
			/* the reset ends: the drives are ready (a CD drive: no DRDY until
			 * IDENTIFY PACKET DEVICE) */
			for (unsigned i = 0; i < 2; i++) {
				struct ide_unit *u = &c->ide->unit[c->idx * 2 + i];

				if (u->drive != IDE_NONE)
					u->r.status = u->drive == IDE_CD ? 0 : ATA_DRDY | ATA_DSC;
			}
		}
		c->r.ctl = v;
		irq_update(c);
	} else {
		memset(data, 0, len);
		data[0] = channel_empty(c) ? 0 : status_of(c); /* without acknowledging */
	}
	pthread_mutex_unlock(&d->lock);
}

/* --- bus master (BAR 4) --- */

static void bm_cmd_write(struct ide_channel *c, uint8_t v)
{
	bool start = v & BM_CMD_START, was = c->r.bm_cmd & BM_CMD_START;

	c->r.bm_cmd = v & (BM_CMD_START | BM_CMD_READ);
	if (start && !was) {
		c->r.bm_status |= BM_ST_ACTIVE;
		if (c->r.xfer == X_DMA_WAIT) {
			c->r.xfer = X_DMA;
			ide_kick(c->ide);
		}
	} else if (!start && was) {
		/* stopped: a transfer still waiting does not run (one running ends as it
		 * would: its result is kept) */
		c->r.bm_status &= ~BM_ST_ACTIVE;
	}
}

void ide_bm_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct ide *d = opaque;
	struct ide_channel *c;
	uint8_t b[4] = { 0 };

	if (off >= IDE_BM_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	c = &d->ch[off >= 8];
	off &= 7;
	pthread_mutex_lock(&d->lock);
	if (is_write) {
		for (uint32_t i = 0; i < len && off + i < 8; i++) {
			uint8_t v = data[i];

			switch (off + i) {
			case BM_CMD: bm_cmd_write(c, v); break;
			case BM_STATUS:
				c->r.bm_status = (c->r.bm_status & ~(BM_ST_CAP | (v & (BM_ST_ERROR |
							BM_ST_INTR)))) | (v & BM_ST_CAP);
				break;
			case 4: case 5: case 6: case 7: {
				unsigned sh = (off + i - 4) * 8;

				c->r.bm_prd = (c->r.bm_prd & ~(0xffu << sh)) | (uint32_t)v << sh;
				c->r.bm_prd &= ~3u;
				break;
			}
			}
		}
	} else {
		uint8_t r[8] = { c->r.bm_cmd, 0, c->r.bm_status, 0, (uint8_t)c->r.bm_prd,
				 (uint8_t)(c->r.bm_prd >> 8), (uint8_t)(c->r.bm_prd >> 16),
				 (uint8_t)(c->r.bm_prd >> 24) };

		for (uint32_t i = 0; i < len && i < 4; i++)
			b[i] = off + i < 8 ? r[off + i] : 0xff;
		memcpy(data, b, len < 4 ? len : 4);
	}
	pthread_mutex_unlock(&d->lock);
}

/* --- the I/O thread --- */

static struct ide_channel *work_next(struct ide *d)
{
	for (unsigned i = 0; i < IDE_CHANNELS; i++) {
		struct ide_channel *c = &d->ch[i];
		uint8_t x = c->r.xfer;

		if (!c->busy && (x == X_EXEC || x == X_NEXT_IN || x == X_WRITE || x == X_DMA))
			return c;
	}
	return NULL;
}

void ide_run(struct ide *d)
{
	struct ide_channel *c;

	pthread_mutex_lock(&d->lock);
	while (!d->paused && (c = work_next(d)))
		ide_work(c); /* drops and takes the lock */
	pthread_mutex_unlock(&d->lock);
}

static void *io_thread(void *arg)
{
	struct ide *d = arg;
	struct ide_channel *c;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		if (!d->paused && (c = work_next(d))) {
			d->running = true;
			ide_work(c);
			continue;
		}
		d->running = false;
		pthread_cond_broadcast(&d->idle);
		pthread_cond_wait(&d->wake, &d->lock);
	}
	d->running = false;
	pthread_cond_broadcast(&d->idle);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

void ide_quiesce(struct ide *d)
{
	pthread_mutex_lock(&d->lock);
	d->paused++;
	while (d->running)
		pthread_cond_wait(&d->idle, &d->lock);
	pthread_mutex_unlock(&d->lock);
}

void ide_resume(struct ide *d)
{
	pthread_mutex_lock(&d->lock);
	if (d->paused)
		d->paused--;
	ide_kick(d);
	pthread_mutex_unlock(&d->lock);
}

/* --- life cycle --- */

static void ports_remove(struct ide *d)
{
	for (unsigned i = 0; i < IDE_CHANNELS; i++) {
		bus_unregister(d->pio, chan_base[i]);
		bus_unregister(d->pio, chan_base[i] + IDE_CTL_OFF);
	}
}

int ide_create(struct pci_host *h, struct bus *pio, struct guest_mem *mem,
	       const struct ide_irq_host *irq, struct ide **out)
{
	struct ide *d = calloc(1, sizeof(*d));
	int ret = 0;

	if (!d)
		return -ENOMEM;
	snprintf(d->name, sizeof(d->name), "ide");
	d->host = h;
	d->pio = pio;
	d->mem = mem;
	if (irq)
		d->irq = *irq;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	pthread_cond_init(&d->idle, NULL);
	for (unsigned i = 0; i < IDE_UNITS; i++) {
		d->unit[i].ide = d;
		d->unit[i].idx = i;
	}
	for (unsigned i = 0; i < IDE_CHANNELS && !ret; i++) {
		d->ch[i].ide = d;
		d->ch[i].idx = i;
		channel_reset(&d->ch[i], true);
		ret = bus_register(pio, chan_base[i], 8, ide_cmd_io, &d->ch[i], "ide");
		if (!ret) {
			ret = bus_register(pio, chan_base[i] + IDE_CTL_OFF, 1, ide_ctl_io, &d->ch[i],
					   "ide-ctl");
			if (ret)
				bus_unregister(pio, chan_base[i]);
		}
	}
	if (ret) {
		vsrv_log("ide: the legacy IDE ports are taken");
		goto err_ports;
	}
	/* PIIX3's IDE function: both channels in legacy mode, bus master */
	pci_dev_init(&d->pci, d->name, 0x8086, 0x7010, 0x010180, 0x00, 0x1af4, 0x1100);
	d->pci.opaque = d;
	d->pci.cfg[0x3d] = 0;                  /* no INTx pin: IRQ 14 and 15 */
	d->pci.cfg[0x41] = d->pci.cfg[0x43] = 0x80; /* IDETIM: both channels decoded */
	memset(d->pci.wmask + 0x40, 0xff, 0x10); /* timing registers: kept, not acted on */
	pci_dev_set_io_bar(&d->pci, 4, IDE_BM_SIZE, ide_bm_io, d);
	ret = pci_host_add(h, &d->pci);
	if (ret)
		goto err_ports;
	*out = d;
	return 0;
err_ports:
	ports_remove(d);
	pthread_cond_destroy(&d->idle);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d);
	return ret;
}

int ide_attach(struct ide *d, unsigned unit, enum ide_drive drive, struct disk *disk,
	       const char *serial)
{
	struct ide_unit *u;

	if (unit >= IDE_UNITS || drive == IDE_NONE || (drive == IDE_DISK && !disk))
		return -EINVAL;
	u = &d->unit[unit];
	if (u->drive != IDE_NONE)
		return -EBUSY;
	u->drive = drive;
	u->disk = disk;
	snprintf(u->serial, sizeof(u->serial), "%s", serial ? serial : "");
	if (drive == IDE_CD) {
		scsi_mmc_init(&u->lun, &u->mmc, disk);
		snprintf(u->lun.serial, sizeof(u->lun.serial), "%s", serial ? serial : "");
		snprintf(u->model, sizeof(u->model), "VSRV DVD-ROM");
	} else {
		snprintf(u->model, sizeof(u->model), "VSRV HARDDISK");
	}
	pthread_mutex_lock(&d->lock);
	channel_reset(&d->ch[unit / 2], true);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int ide_start(struct ide *d)
{
	int ret = pthread_create(&d->thread, NULL, io_thread, d);

	if (ret)
		return -ret;
	d->started = true;
	return 0;
}

void ide_destroy(struct ide *d)
{
	if (!d)
		return;
	if (d->started) {
		pthread_mutex_lock(&d->lock);
		d->stop = true;
		ide_kick(d);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->thread, NULL);
	}
	pci_host_remove(d->host, &d->pci);
	ports_remove(d);
	pthread_cond_destroy(&d->idle);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
