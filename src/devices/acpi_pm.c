#include "devices/acpi_pm.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "devices/host.h"

#define STS_PWRBTN   0x0100
#define EN_PWRBTN    0x0100
#define CNT_SCI_EN   0x0001
#define CNT_SLP_EN   0x2000
#define CNT_SLP_TYP(v) (((v) >> 10) & 7)

#define PM_TMR_HZ    3579545ULL
#define ICH9_PM_TMR  0x08    /* in the ICH9 layout: the 24-bit ACPI PM timer */
#define ICH9_SMI_EN  0x30    /* SMI_EN; APMC_EN (bit 5) reads as set: no SMM here */
#define SMI_EN_APMC  0x20

struct acpi_pm {
	const struct device_host *host;
	pthread_mutex_t lock;
	struct acpi_pm_state st;
	bool sci;               /* the level last put on the SCI line */
	uint32_t sci_gsi;       /* ACPI_SCI_GSI unless the LPC bridge routes it elsewhere */
	uint16_t base, len;     /* where the block is on the port bus (base 0: nowhere) */
};

/* The ACPI PM timer: 3.579545 MHz, 24 bits, free-running from the host's monotonic clock. */
static uint32_t pm_timer(void)
{
	struct timespec ts;
	uint64_t t;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = (uint64_t)ts.tv_sec * PM_TMR_HZ + (uint64_t)ts.tv_nsec * PM_TMR_HZ / 1000000000ULL;
	return (uint32_t)t & 0xffffff;
}

/* The SCI is a level: asserted while an enabled event's status bit is set. Under lock. */
static void sci_update(struct acpi_pm *pm)
{
	bool level = (pm->st.pm1_sts & pm->st.pm1_en & STS_PWRBTN) != 0;

	if (level != pm->sci) {
		pm->sci = level;
		pm->host->irq_line(pm->host->opaque, pm->sci_gsi, level);
	}
}

static void acpi_pm_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	uint32_t v = 0, i;
	bool off_req = false;
	unsigned typ = 0;

	if (off >= 8) {
		/* the rest of an ICH9 block: the timer and SMI_EN read, all else is zero */
		uint32_t tmr = pm_timer();

		for (i = 0; !is_write && i < len; i++) {
			uint64_t o = off + i;

			data[i] = o >= ICH9_PM_TMR && o < ICH9_PM_TMR + 4 ?
				  (uint8_t)(tmr >> (8 * (o - ICH9_PM_TMR))) :
				  o == ICH9_SMI_EN ? SMI_EN_APMC : 0;
		}
		return;
	}
	if (is_write)
		memcpy(&v, data, len > 4 ? 4 : len);
	pthread_mutex_lock(&pm->lock);
	/* Byte-granular registers: PM1_STS (0-1, write 1 to clear), PM1_EN (2-3), PM1_CNT (4-5). */
	for (i = 0; i < len && off + i < 8; i++) {
		uint64_t o = off + i;
		uint8_t b = (uint8_t)(v >> (8 * i));
		uint16_t *reg = o < 2 ? &pm->st.pm1_sts : o < 4 ? &pm->st.pm1_en :
				o < 6 ? &pm->st.pm1_cnt : NULL;
		unsigned sh = (o & 1) * 8;

		if (!reg) {
			if (!is_write)
				data[i] = 0;
			continue;
		}
		if (!is_write) {
			data[i] = (uint8_t)(*reg >> sh);
		} else if (reg == &pm->st.pm1_sts) {
			*reg &= (uint16_t)~(b << sh);
		} else {
			*reg = (uint16_t)((*reg & ~(0xff << sh)) | (b << sh));
		}
	}
	if (is_write && (pm->st.pm1_cnt & CNT_SLP_EN)) {
		typ = CNT_SLP_TYP(pm->st.pm1_cnt);
		pm->st.pm1_cnt &= (uint16_t)~CNT_SLP_EN; /* write-only bit */
		off_req = true;
	}
	pm->st.pm1_cnt |= CNT_SCI_EN;
	if (is_write)
		sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
	if (off_req) {
		if (typ == ACPI_SLP_TYP_S5)
			pm->host->request_stop(pm->host->opaque, 0); /* power off */
		else
			vsrv_log("acpi: guest asked for sleep type %u, which this VM does not have", typ);
	}
}

int acpi_pm_create(const struct device_host *h, struct acpi_pm **out)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	int ret;

	if (!pm)
		return -ENOMEM;
	pm->host = h;
	pthread_mutex_init(&pm->lock, NULL);
	pm->st.pm1_cnt = CNT_SCI_EN;
	pm->sci_gsi = ACPI_SCI_GSI;
	pm->base = ACPI_PM_BASE;
	pm->len = 8;
	ret = bus_register(h->pio, ACPI_PM_BASE, 8, acpi_pm_io, pm, "acpi-pm");
	if (ret < 0) {
		pthread_mutex_destroy(&pm->lock);
		free(pm);
		return ret;
	}
	*out = pm;
	return 0;
}

int acpi_pm_move(struct acpi_pm *pm, uint16_t base, bool ich9)
{
	uint16_t len = ich9 ? ACPI_PM_ICH9_LEN : 8;
	int ret = 0;

	if (base && (base & (len - 1)))
		return -EINVAL;
	pthread_mutex_lock(&pm->lock);
	if (pm->base == base && (pm->len == len || !base))
		goto out;
	if (pm->base)
		bus_unregister(pm->host->pio, pm->base);
	pm->base = 0;
	if (base) {
		ret = bus_register(pm->host->pio, base, len, acpi_pm_io, pm, "acpi-pm");
		if (ret)
			goto out;
		pm->base = base;
		pm->len = len;
	}
out:
	pthread_mutex_unlock(&pm->lock);
	return ret;
}

uint16_t acpi_pm_base(struct acpi_pm *pm)
{
	uint16_t b;

	pthread_mutex_lock(&pm->lock);
	b = pm->base;
	pthread_mutex_unlock(&pm->lock);
	return b;
}

void acpi_pm_set_sci(struct acpi_pm *pm, uint32_t gsi)
{
	pthread_mutex_lock(&pm->lock);
	if (gsi != pm->sci_gsi) {
		if (pm->sci)
			pm->host->irq_line(pm->host->opaque, pm->sci_gsi, 0);
		pm->sci_gsi = gsi;
		if (pm->sci)
			pm->host->irq_line(pm->host->opaque, gsi, 1);
	}
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

void acpi_pm_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->st.pm1_sts |= STS_PWRBTN;
	sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_state *st)
{
	pthread_mutex_lock(&pm->lock);
	*st = pm->st;
	pthread_mutex_unlock(&pm->lock);
}

int acpi_pm_restore(struct acpi_pm *pm, const struct acpi_pm_state *st)
{
	pthread_mutex_lock(&pm->lock);
	pm->st = *st;
	pm->st.pm1_cnt |= CNT_SCI_EN;
	sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}
