#include "devices/q35.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci.h"
#include "util/log.h"

#define SMRAM_FIXED   0x02   /* C_BASE_SEG: compatible SMRAM at 0xA0000 */
#define SMRAM_WMASK   0x78   /* D_OPEN, D_CLS, D_LCK, G_SMRAME */
#define ESMRAMC_VALUE 0x38
#define Q35_LOG_MAX   8      /* refusals logged per device */

struct q35_mch {
	struct pci_host *h;
	q35_pam_fn on_pam;
	void *opaque;
	uint64_t low_ram_end;
	uint8_t pam_attr[Q35_PAM_REGIONS];  /* what the VMM was last told */
	uint64_t refused;                   /* the last PCIEXBAR value refused */
	unsigned logged;                    /* refusals logged (a guest cannot flood the log) */
};

static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

void q35_pam_region(unsigned i, uint32_t *base, uint32_t *size)
{
	if (i == 0) {
		*base = 0xf0000;
		*size = 0x10000;
	} else {
		*base = 0xc0000 + (i - 1) * 0x4000;
		*size = 0x4000;
	}
}

/* Region i's attribute in config space cfg. */
static unsigned pam_of(const uint8_t *cfg, unsigned i)
{
	if (i == 0)
		return (cfg[Q35_PAM0] >> 4) & 3;
	return (cfg[Q35_PAM0 + (i + 1) / 2] >> ((i & 1) ? 0 : 4)) & 3;
}

/* Decode PCIEXBAR into the ECAM window, or refuse it. Under the host's lock. */
static void ecam_apply(struct q35_mch *m)
{
	uint64_t v = get64(m->h->bridge.cfg + Q35_PCIEXBAR), base = 0, len = 0;
	const char *why = NULL;
	int ret;

	if (v & Q35_PCIEXBAR_EN) {
		unsigned l = (unsigned)(v >> 1) & 3;

		if (l == 3) {
			why = "reserved length";
		} else {
			len = (256ULL << 20) >> l;
			base = v & Q35_PCIEXBAR_MASK & ~(len - 1);
			if (base < m->low_ram_end)
				why = "overlaps RAM";
			else if (base + len > Q35_MMIO_END)
				why = "not below 0xfec00000";
		}
	}
	if (why) {
		base = len = 0;
	}
	ret = pci_host_set_ecam(m->h, base, len);
	if (ret && !why)
		why = ret == -EEXIST ? "overlaps another device" : "not decodable";
	if (why && v != m->refused && m->logged < Q35_LOG_MAX) {
		vsrv_log("q35: PCIEXBAR 0x%llx refused (%s): PCI ECAM is off%s",
			 (unsigned long long)v, why,
			 ++m->logged == Q35_LOG_MAX ? " (further refusals are not logged)" : "");
		m->refused = v;
	}
}

/* Tell the VMM of every region whose attribute changed (all when force). Under the lock. */
static void pam_apply(struct q35_mch *m, bool force)
{
	unsigned i, a;

	for (i = 0; i < Q35_PAM_REGIONS; i++) {
		a = pam_of(m->h->bridge.cfg, i);
		if (a == m->pam_attr[i] && !force)
			continue;
		m->pam_attr[i] = (uint8_t)a;
		if (m->on_pam)
			m->on_pam(m->opaque, i, a);
	}
}

static void mch_cfg_written(struct pci_dev *d, uint32_t off, uint32_t len)
{
	struct q35_mch *m = d->opaque;

	if (off < Q35_PCIEXBAR + 8 && off + len > Q35_PCIEXBAR)
		ecam_apply(m);
	if (off < Q35_PAM0 + Q35_PAM_COUNT && off + len > Q35_PAM0)
		pam_apply(m, false);
}

int q35_mch_create(struct pci_host *h, uint64_t low_ram_end, q35_pam_fn on_pam, void *opaque,
		   struct q35_mch **out)
{
	struct pci_dev *d = &h->bridge;
	struct q35_mch *m;
	unsigned i;

	if (h->ecam_base)
		return -EBUSY;  /* a fixed ECAM (direct boot) is not the MCH's to move */
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->h = h;
	m->on_pam = on_pam;
	m->opaque = opaque;
	m->low_ram_end = low_ram_end;
	pthread_mutex_lock(&h->lock);
	put64(d->wmask + Q35_PCIEXBAR, Q35_PCIEXBAR_MASK);
	put64(d->cfg + Q35_PCIEXBAR, 0);
	d->wmask[Q35_PAM0] = 0x30;
	for (i = 1; i < Q35_PAM_COUNT; i++)
		d->wmask[Q35_PAM0 + i] = 0x33;
	memset(d->cfg + Q35_PAM0, 0, Q35_PAM_COUNT);
	d->cfg[Q35_SMRAM] = SMRAM_FIXED;
	d->wmask[Q35_SMRAM] = SMRAM_WMASK;
	d->cfg[Q35_ESMRAMC] = ESMRAMC_VALUE;
	d->opaque = m;
	d->cfg_written = mch_cfg_written;
	pthread_mutex_unlock(&h->lock);
	*out = m;
	return 0;
}

void q35_mch_destroy(struct q35_mch *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->h->lock);
	m->h->bridge.cfg_written = NULL;
	m->h->bridge.opaque = NULL;
	pthread_mutex_unlock(&m->h->lock);
	free(m);
}

unsigned q35_mch_pam_attr(struct q35_mch *m, unsigned i)
{
	unsigned a;

	pthread_mutex_lock(&m->h->lock);
	a = i < Q35_PAM_REGIONS ? m->pam_attr[i] : 0;
	pthread_mutex_unlock(&m->h->lock);
	return a;
}

uint64_t q35_mch_ecam(struct q35_mch *m, uint64_t *len)
{
	uint64_t b;

	pthread_mutex_lock(&m->h->lock);
	b = m->h->ecam_base;
	if (len)
		*len = m->h->ecam_len;
	pthread_mutex_unlock(&m->h->lock);
	return b;
}

void q35_mch_save(struct q35_mch *m, struct q35_mch_state *st)
{
	const uint8_t *cfg = m->h->bridge.cfg;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&m->h->lock);
	st->pciexbar = get64(cfg + Q35_PCIEXBAR);
	memcpy(st->pam, cfg + Q35_PAM0, Q35_PAM_COUNT);
	st->smram = cfg[Q35_SMRAM];
	pthread_mutex_unlock(&m->h->lock);
}

int q35_mch_state_check(const struct q35_mch_state *st)
{
	unsigned i;

	if ((st->pciexbar & ~Q35_PCIEXBAR_MASK) || (st->pam[0] & ~0x30) ||
	    (st->smram & ~SMRAM_WMASK) != SMRAM_FIXED)
		return -EINVAL;
	for (i = 1; i < Q35_PAM_COUNT; i++)
		if (st->pam[i] & ~0x33)
			return -EINVAL;
	for (i = 0; i < sizeof(st->reserved); i++)
		if (st->reserved[i])
			return -EINVAL;
	return 0;
}

int q35_mch_restore(struct q35_mch *m, const struct q35_mch_state *st)
{
	uint8_t *cfg = m->h->bridge.cfg;

	if (q35_mch_state_check(st))
		return -EINVAL;
	pthread_mutex_lock(&m->h->lock);
	put64(cfg + Q35_PCIEXBAR, st->pciexbar);
	memcpy(cfg + Q35_PAM0, st->pam, Q35_PAM_COUNT);
	cfg[Q35_SMRAM] = st->smram;
	m->refused = 0;
	ecam_apply(m);
	pam_apply(m, true);
	pthread_mutex_unlock(&m->h->lock);
	return 0;
}
