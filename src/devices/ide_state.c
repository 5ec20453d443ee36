/* Save and restore of the IDE controller (ide.h): its PCI config space, both channels'
 * registers and PIO windows, every drive's settings, checked whole before anything
 * changes. Work the I/O thread had not started (a command showing BSY) runs after the
 * restore. */
#include "devices/ide.h"

#include <errno.h>
#include <string.h>

_Static_assert(sizeof(struct ide_state) <= 4816, "fits a device state entry (VDEV_STATE_MAX)");

void ide_save(struct ide *d, struct ide_state *st)
{
	memset(st, 0, sizeof(*st));
	ide_quiesce(d);
	pci_dev_cfg_save(&d->pci, st->cfg);
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < IDE_CHANNELS; i++)
		st->ch[i] = d->ch[i].r;
	for (unsigned i = 0; i < IDE_UNITS; i++) {
		struct ide_unit *u = &d->unit[i];

		st->drive[i] = u->drive;
		st->dr[i] = u->r;
		if (u->drive == IDE_CD) {
			st->dr[i].tray_open = u->mmc.tray_open;
			st->dr[i].prevent = u->mmc.prevent;
			st->dr[i].event = u->mmc.event;
			st->dr[i].ua_asc = u->lun.ua_asc;
			st->dr[i].ua_ascq = u->lun.ua_ascq;
		}
	}
	pthread_mutex_unlock(&d->lock);
	ide_resume(d);
}

static int channel_check(const struct ide_channel_state *r, const uint8_t *drive)
{
	if (r->xfer >= X_MAX || r->unit > 1 || r->write > 1 || r->atapi_dma > 1 || r->irq > 1 ||
	    r->reserved[0] || r->reserved[1] || (r->bm_prd & 3) ||
	    (r->bm_cmd & ~(BM_CMD_START | BM_CMD_READ)) ||
	    (r->bm_status & ~(BM_ST_ACTIVE | BM_ST_ERROR | BM_ST_INTR | BM_ST_CAP)))
		return -EINVAL;
	if (r->pos > r->end || r->end > IDE_WINDOW || r->fill > IDE_WINDOW)
		return -EINVAL;
	if (r->xfer != X_IDLE && drive[r->unit] == IDE_NONE)
		return -EINVAL;
	if (r->xfer == X_IDLE)
		return 0;
	/* a window being written out holds whole sectors of what is left */
	if ((r->xfer == X_WRITE || r->xfer == X_PIO_OUT) &&
	    (r->end % DISK_SECTOR || !r->end || r->end / DISK_SECTOR > r->left))
		return -EINVAL;
	if (r->xfer == X_NEXT_IN && !r->left)
		return -EINVAL;
	if (r->xfer == X_PIO_IN && r->end > r->fill)
		return -EINVAL;
	if (r->xfer == X_PACKET && (r->end != 12 || r->cmd != 0xa0))
		return -EINVAL;
	/* a transfer is a disk's ATA command or a CD drive's packet */
	if (r->xfer != X_EXEC && r->xfer != X_PIO_IN &&
	    (r->cmd == 0xa0) != (drive[r->unit] == IDE_CD))
		return -EINVAL;
	return 0;
}

static int drive_check(const struct ide_drive_state *r, uint8_t drive)
{
	if (r->wcache > 1 || r->sense_valid > 1 || r->multiple > IDE_MAX_MULTIPLE ||
	    (r->multiple & (r->multiple - 1)) || r->tray_open > 1 || r->prevent > 1 ||
	    r->event > MMC_EV_MEDIA_REMOVAL || r->reserved || r->heads > 16)
		return -EINVAL;
	if (drive != IDE_CD && (r->tray_open || r->prevent || r->event || r->sense_valid ||
				r->ua_asc || r->ua_ascq))
		return -EINVAL;
	return 0;
}

int ide_state_check(struct ide *d, const struct ide_state *st)
{
	if (st->reserved)
		return -EINVAL;
	for (unsigned i = 0; i < IDE_UNITS; i++)
		if (st->drive[i] != d->unit[i].drive || drive_check(&st->dr[i], st->drive[i]))
			return -EINVAL;
	for (unsigned i = 0; i < IDE_CHANNELS; i++)
		if (channel_check(&st->ch[i], st->drive + i * 2))
			return -EINVAL;
	return pci_dev_cfg_check(&d->pci, st->cfg);
}

int ide_restore(struct ide *d, const struct ide_state *st)
{
	int ret = ide_state_check(d, st);

	if (ret)
		return ret;
	ide_quiesce(d);
	ret = pci_dev_cfg_load(&d->pci, st->cfg);
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < IDE_UNITS; i++) {
		struct ide_unit *u = &d->unit[i];

		u->r = st->dr[i];
		if (u->drive == IDE_CD) {
			u->mmc.tray_open = u->r.tray_open;
			u->mmc.prevent = u->r.prevent;
			u->mmc.event = u->r.event;
			u->lun.ua_asc = u->r.ua_asc;
			u->lun.ua_ascq = u->r.ua_ascq;
		}
	}
	for (unsigned i = 0; i < IDE_CHANNELS; i++) {
		struct ide_channel *c = &d->ch[i];

		c->r = st->ch[i];
		c->gen++;
		ide_irq_sync(c);
	}
	pthread_mutex_unlock(&d->lock);
	ide_resume(d);
	return ret;
}
