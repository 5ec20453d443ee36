/* Save and restore of the AHCI controller (ahci.h): its PCI config space, the HBA's
 * registers and every port's, checked whole before anything changes. */
#include "devices/ahci.h"

#include <errno.h>
#include <string.h>

void ahci_save(struct ahci *a, struct ahci_state *st)
{
	memset(st, 0, sizeof(*st));
	ahci_quiesce(a);
	pci_dev_cfg_save(&a->pci, st->cfg);
	pthread_mutex_lock(&a->lock);
	st->ghc = a->ghc;
	st->is = a->is;
	st->nports = a->nports;
	for (unsigned i = 0; i < AHCI_PORTS; i++) {
		struct ahci_port *p = &a->port[i];

		st->drive[i] = p->drive;
		st->port[i] = p->r;
		if (p->drive == AHCI_CD) {
			st->port[i].tray_open = p->mmc.tray_open;
			st->port[i].prevent = p->mmc.prevent;
			st->port[i].event = p->mmc.event;
			st->port[i].ua_asc = p->lun.ua_asc;
			st->port[i].ua_ascq = p->lun.ua_ascq;
		}
	}
	pthread_mutex_unlock(&a->lock);
	ahci_resume(a);
}

static int port_check(const struct ahci_port *p, const struct ahci_port_state *r)
{
	static const uint8_t zero[sizeof(r->reserved)];

	if (r->halted > 1 || r->wcache > 1 || r->sense_valid > 1 || r->ncq_err > AHCI_SLOTS ||
	    r->tray_open > 1 || r->prevent > 1 || r->event > MMC_EV_MEDIA_REMOVAL ||
	    memcmp(r->reserved, zero, sizeof(zero)))
		return -EINVAL;
	if ((r->clb & 0x3ff) || (r->fb & 0xff) || (r->cmd & PX_CMD_CR) != (r->cmd & PX_CMD_ST) << 15)
		return -EINVAL;
	if ((r->ci | r->sact) && !(r->cmd & PX_CMD_ST))
		return -EINVAL;
	if (p->drive != AHCI_CD && (r->tray_open || r->prevent || r->event || r->sense_valid ||
				    r->ua_asc || r->ua_ascq))
		return -EINVAL;
	return 0;
}

int ahci_state_check(struct ahci *a, const struct ahci_state *st)
{
	if (st->nports != a->nports || (st->ghc & ~(AHCI_GHC_AE | AHCI_GHC_IE)) ||
	    !(st->ghc & AHCI_GHC_AE) || st->is >> AHCI_PORTS || st->reserved[0] || st->reserved[1])
		return -EINVAL;
	for (unsigned i = 0; i < AHCI_PORTS; i++)
		if (st->drive[i] != a->port[i].drive || port_check(&a->port[i], &st->port[i]))
			return -EINVAL;
	return pci_dev_cfg_check(&a->pci, st->cfg);
}

int ahci_restore(struct ahci *a, const struct ahci_state *st)
{
	int ret = ahci_state_check(a, st);

	if (ret)
		return ret;
	ahci_quiesce(a);
	ret = pci_dev_cfg_load(&a->pci, st->cfg);
	pthread_mutex_lock(&a->host->lock);
	ahci_msi_update(a);
	pthread_mutex_unlock(&a->host->lock);
	pthread_mutex_lock(&a->lock);
	a->ghc = st->ghc;
	a->is = st->is;
	for (unsigned i = 0; i < AHCI_PORTS; i++) {
		struct ahci_port *p = &a->port[i];

		p->r = st->port[i];
		p->busy = 0;
		p->gen++;
		if (p->drive == AHCI_CD) {
			p->mmc.tray_open = p->r.tray_open;
			p->mmc.prevent = p->r.prevent;
			p->mmc.event = p->r.event;
			p->lun.ua_asc = p->r.ua_asc;
			p->lun.ua_ascq = p->r.ua_ascq;
		}
	}
	pthread_mutex_unlock(&a->lock);
	ahci_resume(a); /* commands pending in CI run now */
	return ret;
}
