#include "devices/ich9_lpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/acpi_pm.h"
#include "devices/host.h"
#include "util/log.h"

#define PMBASE_MASK  0x0000ff80u
#define PMBASE_IO    0x1u
#define ACPI_CNTL_WMASK 0x87
#define PIRQ_WMASK   0x8f
#define PIRQ_DEFAULT 0x80
#define RCBA_MASK    0xffffc001u
#define RST_CNT_KEEP 0x0a
#define LPC_LOG_MAX  8      /* refusals logged per device */

struct ich9_lpc {
	struct pci_dev dev;
	struct pci_host *h;
	const struct device_host *host;
	struct acpi_pm *pm;
	uint8_t rst_cnt;         /* under the host's lock */
	uint32_t refused;        /* the last PMBASE refused */
	unsigned logged;         /* refusals logged (a guest cannot flood the log) */
};

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static uint8_t *pirq_reg(struct ich9_lpc *l, unsigned i)
{
	return l->dev.cfg + (i < 4 ? ICH9_LPC_PIRQA + i : ICH9_LPC_PIRQE + i - 4);
}

uint32_t ich9_lpc_sci_gsi(uint8_t acpi_cntl)
{
	static const uint8_t gsi[8] = { 9, 10, 11, 9, 20, 21, 22, 23 };

	return gsi[acpi_cntl & 7];
}

/* Put the PM block where PMBASE and ACPI_CNTL say. Under the host's lock. */
static void pm_apply(struct ich9_lpc *l)
{
	uint32_t pmbase = get32(l->dev.cfg + ICH9_LPC_PMBASE);
	uint8_t cntl = l->dev.cfg[ICH9_LPC_ACPI_CNTL];
	uint16_t base = (uint16_t)(pmbase & PMBASE_MASK);
	int ret = 0;

	acpi_pm_set_sci(l->pm, ich9_lpc_sci_gsi(cntl));
	if (!(cntl & ICH9_LPC_ACPI_EN)) {
		acpi_pm_move(l->pm, 0, true);
		return;
	}
	if (base)
		ret = acpi_pm_move(l->pm, base, true);
	if ((!base || ret) && pmbase != l->refused && l->logged < LPC_LOG_MAX) {
		vsrv_log("ich9-lpc: PMBASE 0x%x refused (%s): ACPI PM block off%s", base,
			 base ? "overlaps other ports" : "port 0",
			 ++l->logged == LPC_LOG_MAX ? " (further refusals are not logged)" : "");
		l->refused = pmbase;
	}
	if (!base || ret)
		acpi_pm_move(l->pm, 0, true);
}

static void lpc_cfg_written(struct pci_dev *d, uint32_t off, uint32_t len)
{
	struct ich9_lpc *l = d->opaque;

	if (off <= ICH9_LPC_ACPI_CNTL && off + len > ICH9_LPC_PMBASE)
		pm_apply(l);
}

static void rst_cnt_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct ich9_lpc *l = opaque;
	bool reset = false;

	(void)off;
	(void)len;
	/* Called from the host's port handler, which holds no lock: take the host's. */
	pthread_mutex_lock(&l->h->lock);
	if (!is_write) {
		data[0] = l->rst_cnt;
	} else if (data[0] & ICH9_RST_CPU) {
		reset = true;
		l->rst_cnt = 0;
	} else {
		l->rst_cnt = data[0] & RST_CNT_KEEP;
	}
	pthread_mutex_unlock(&l->h->lock);
	if (reset)
		l->host->request_stop(l->host->opaque, DEVICE_STOP_RESET);
}

int ich9_lpc_create(struct pci_host *h, const struct device_host *host, struct acpi_pm *pm,
		    struct ich9_lpc **out)
{
	struct ich9_lpc *l = calloc(1, sizeof(*l));
	struct pci_dev *d;
	unsigned i;
	int ret;

	if (!l)
		return -ENOMEM;
	l->h = h;
	l->host = host;
	l->pm = pm;
	d = &l->dev;
	pci_dev_init(d, "ich9-lpc", 0x8086, 0x2918, 0x060100, 2, 0x1af4, 0x1100);
	put32(d->cfg + ICH9_LPC_PMBASE, PMBASE_IO);
	put32(d->wmask + ICH9_LPC_PMBASE, PMBASE_MASK);
	d->wmask[ICH9_LPC_ACPI_CNTL] = ACPI_CNTL_WMASK;
	for (i = 0; i < 8; i++) {
		*pirq_reg(l, i) = PIRQ_DEFAULT;
		d->wmask[pirq_reg(l, i) - d->cfg] = PIRQ_WMASK;
	}
	put32(d->wmask + ICH9_LPC_RCBA, RCBA_MASK);
	d->opaque = l;
	d->cfg_written = lpc_cfg_written;
	ret = pci_host_add_at(h, d, PCI_SLOT_LPC, 0);
	if (ret) {
		free(l);
		return ret;
	}
	acpi_pm_move(pm, 0, true);
	pci_host_set_cf9(h, rst_cnt_io, l);
	*out = l;
	return 0;
}

void ich9_lpc_destroy(struct ich9_lpc *l)
{
	if (!l)
		return;
	pci_host_set_cf9(l->h, NULL, NULL);
	pci_host_remove(l->h, &l->dev);
	free(l);
}

void ich9_lpc_save(struct ich9_lpc *l, struct ich9_lpc_state *st)
{
	memset(st, 0, sizeof(*st));
	pci_dev_cfg_save(&l->dev, st->cfg);
	pthread_mutex_lock(&l->h->lock);
	st->rst_cnt = l->rst_cnt;
	pthread_mutex_unlock(&l->h->lock);
}

int ich9_lpc_check(struct ich9_lpc *l, const struct ich9_lpc_state *st)
{
	unsigned i;

	if (st->rst_cnt & ~RST_CNT_KEEP)
		return -EINVAL;
	for (i = 0; i < sizeof(st->reserved); i++)
		if (st->reserved[i])
			return -EINVAL;
	return pci_dev_cfg_check(&l->dev, st->cfg);
}

int ich9_lpc_restore(struct ich9_lpc *l, const struct ich9_lpc_state *st)
{
	int ret = ich9_lpc_check(l, st);

	if (ret)
		return ret;
	ret = pci_dev_cfg_load(&l->dev, st->cfg);
	if (ret)
		return ret;
	pthread_mutex_lock(&l->h->lock);
	l->rst_cnt = st->rst_cnt;
	l->refused = 0;
	pm_apply(l);
	pthread_mutex_unlock(&l->h->lock);
	return 0;
}
