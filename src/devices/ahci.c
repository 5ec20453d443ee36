/* The AHCI controller (ahci.h): PCI functions, ABAR registers, the FISes written back,
 * interrupts (MSI), the life cycle. The command list walker and the I/O thread are
 * ahci_cmd.c's, the commands themselves ahci_ata.c's, save and restore ahci_state.c's.
 *
 * Errors as AHCI 1.3.1 section 6 has them: a command the device fails (status ERR) sets
 * PxIS.TFES; a command list, command table or PRD outside guest RAM sets PxIS.HBFS / HBDS,
 * data past what the PRDs hold PxIS.OFS. Each of these stops the port's command list (the
 * failed slot stays in PxCI) until the driver clears PxCMD.ST, as drivers' error handlers
 * do; the other ports and every other device go on. */
#include "devices/ahci.h"

#include "devices/disk_uring.h"
#include "util/log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CAP_S64A (1u << 31)
#define CAP_SNCQ (1u << 30)
#define CAP_SSNTF (1u << 29)
#define CAP_SCLO (1u << 24)  /* command list override (PxCMD.CLO) */
#define CAP_SAM (1u << 18)
#define CAP_ISS_GEN1 (1u << 20)
#define AHCI_CAP_VAL (CAP_S64A | CAP_SNCQ | CAP_SSNTF | CAP_SCLO | CAP_SAM | CAP_ISS_GEN1 | \
		      (AHCI_SLOTS - 1) << 8 | (AHCI_PORTS - 1))
#define AHCI_VS_VAL 0x00010300u /* 1.3 */
#define SSTS_PRESENT 0x113u     /* DET 3 (device, phy up), SPD 1, IPM 1 (active) */
#define MSI_CAP_LEN 14
#define PCI_CAP_ID_MSI 0x05

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* Wake the I/O thread. */
void ahci_kick(struct ahci *a)
{
	uint64_t one = 1;

	if (write(a->kick_fd, &one, 8) != 8)
		vsrv_log("%s: kick eventfd: write failed", a->name);
}

/* --- interrupts --- */

/* The MSI capability as the guest set it: route it (KVM) when it changed. Under the host's
 * config lock (cfg_written) or before the guest runs. */
void ahci_msi_update(struct ahci *a)
{
	const uint8_t *c = a->pci.cfg + a->msi_cap;
	uint64_t addr = rd32(c + 4) | (uint64_t)rd32(c + 8) << 32;
	uint32_t data = c[12] | c[13] << 8;

	if (!(c[2] & 1) || !a->irq.msi_route)
		return;
	if (a->msi_routed && addr == a->msi_addr && data == a->msi_data)
		return;
	if (a->irq.msi_route(a->irq.vm, &a->msi_gsi, addr, data)) {
		vsrv_log("%s: no MSI route", a->name);
		return;
	}
	if (!a->msi_routed && a->irq.irqfd(a->irq.vm, a->irq_fd, a->msi_gsi, true)) {
		vsrv_log("%s: no irqfd for MSI", a->name);
		return;
	}
	a->msi_routed = true;
	a->msi_addr = addr;
	a->msi_data = data;
}

static void cfg_written(struct pci_dev *d, uint32_t off, uint32_t len)
{
	struct ahci *a = d->opaque;

	if (off < (uint32_t)a->msi_cap + MSI_CAP_LEN && off + len > a->msi_cap)
		ahci_msi_update(a);
}

/* Under a->lock: the HBA's IS from its ports, and a message when a new cause arrived
 * (edge) and the driver wants interrupts. Without MSI enabled the controller has no line to
 * raise (no INTx route: vm->pci.intx_gsi is for DEVICE_BUS_PCI kinds): drivers that poll
 * (firmware) see IS all the same. */
void ahci_irq_update(struct ahci *a, bool edge)
{
	uint64_t one = 1;

	for (unsigned i = 0; i < AHCI_PORTS; i++) {
		struct ahci_port *p = &a->port[i];

		if (p->r.is & p->r.ie)
			a->is |= 1u << i;
		if (p->ev & p->r.ie)
			edge = true; /* a cause the driver enabled arrived */
		p->ev = 0;
	}
	if (!edge || !a->is || !(a->ghc & AHCI_GHC_IE))
		return;
	if (!(a->pci.cfg[a->msi_cap + 2] & 1))
		return;
	a->irqs++;
	if (write(a->irq_fd, &one, 8) != 8)
		vsrv_log("%s: interrupt eventfd: write failed", a->name);
}

/* --- ports --- */

/* Cause bits of PxIS arrive (under the lock): the next irq_update signals them. */
void ahci_port_event(struct ahci_port *p, uint32_t bits)
{
	p->r.is |= bits;
	p->ev |= bits;
}

bool ahci_port_present(const struct ahci_port *p)
{
	return p->drive != AHCI_NONE;
}

/* The state after a COMRESET (or the HBA's reset): the device sent its signature. */
static void port_comreset(struct ahci_port *p)
{
	p->gen++;
	p->r.sact = p->r.ci = 0;
	p->r.halted = 0;
	p->r.sense_valid = 0;
	p->r.ncq_err = 0;
	p->r.wcache = 1;
	p->r.xfer_mode = 0;
	if (ahci_port_present(p)) {
		p->r.ssts = SSTS_PRESENT;
		p->r.sig = p->drive == AHCI_CD ? AHCI_SIG_ATAPI : AHCI_SIG_DISK;
		p->r.tfd = ATA_DRDY | ATA_DSC;
		if (p->drive == AHCI_CD) {
			p->mmc.prevent = false; /* a reset unlocks the tray */
			p->lun.ua_asc = 0x29; /* POWER ON, RESET, OR BUS DEVICE RESET OCCURRED */
			p->lun.ua_ascq = 0;
		}
	} else {
		p->r.ssts = 0;
		p->r.sig = 0xffffffffu;
		p->r.tfd = 0x7f;
	}
}

static void port_reset(struct ahci_port *p)
{
	struct ahci_port_state keep = p->r;

	memset(&p->r, 0, sizeof(p->r));
	p->r.cmd = PX_CMD_SUD | PX_CMD_POD;
	p->r.tray_open = keep.tray_open;
	p->r.prevent = 0;
	port_comreset(p);
	p->busy = 0; /* commands running now are dropped when they end (gen) */
}

static void hba_reset(struct ahci *a)
{
	a->ghc = AHCI_GHC_AE;
	a->is = 0;
	for (unsigned i = 0; i < AHCI_PORTS; i++)
		port_reset(&a->port[i]);
}

/* Write a FIS of len bytes at off of port p's received-FIS area (when FRE is on). */
static void rfis_write(struct ahci_port *p, unsigned off, const uint8_t *fis, unsigned len)
{
	struct ahci *a = p->hba;
	uint64_t fb = (uint64_t)p->r.fbu << 32 | (p->r.fb & ~0xffu);
	uint8_t *dst;

	if (!(p->r.cmd & PX_CMD_FRE))
		return;
	dst = guest_mem_ptr(a->mem, fb + off, len);
	if (!dst)
		return; /* a received-FIS area outside RAM: nothing is written */
	memcpy(dst, fis, len);
	guest_mem_track(a->mem, dst, len);
}

void ahci_d2h_fis(struct ahci_port *p, const uint8_t *h2d, uint8_t status, uint8_t error,
		    bool intr)
{
	uint8_t f[20] = { FIS_D2H, intr ? 0x40 : 0, status, error };

	if (h2d) {
		memcpy(f + 4, h2d + 4, 7);  /* LBA and device */
		memcpy(f + 12, h2d + 12, 2); /* count */
	}
	rfis_write(p, RFIS_D2H, f, sizeof(f));
	if (intr)
		ahci_port_event(p, PX_IS_DHRS);
}

void ahci_pio_fis(struct ahci_port *p, const uint8_t *h2d, uint8_t status, uint32_t count)
{
	uint8_t f[20] = { FIS_PIO, 0x40 | 0x20, status | ATA_DRQ, 0 };

	memcpy(f + 4, h2d + 4, 7);
	memcpy(f + 12, h2d + 12, 2);
	f[15] = status; /* E_Status: the status at the end of the transfer */
	f[16] = count & 0xff;
	f[17] = (count >> 8) & 0xff;
	rfis_write(p, RFIS_PIO, f, sizeof(f));
	ahci_port_event(p, PX_IS_PSS);
}

void ahci_sdb_fis(struct ahci_port *p, uint32_t done, uint8_t status, uint8_t error)
{
	uint8_t f[8] = { FIS_SDB, 0x40, status & 0x77, error };

	wr32(f + 4, done);
	rfis_write(p, RFIS_SDB, f, sizeof(f));
	ahci_port_event(p, PX_IS_SDBS);
}

/* ST went 0: the command list stops (what runs now is dropped when it ends). */
static void port_stop(struct ahci_port *p)
{
	p->r.ci = p->r.sact = 0;
	p->r.halted = 0;
	p->r.cmd &= ~(0x1fu << 8); /* CCS */
	if (!p->busy)
		p->r.cmd &= ~PX_CMD_CR;
	p->gen++;
}

static void port_cmd_write(struct ahci *a, struct ahci_port *p, uint32_t v)
{
	uint32_t old = p->r.cmd, rw = PX_CMD_ST | PX_CMD_FRE | PX_CMD_ATAPI | 0xfc000000u |
				      (1u << 26) | (1u << 22);

	p->r.cmd = (old & ~rw) | (v & rw);
	if ((v & PX_CMD_ST) && !(old & PX_CMD_ST)) {
		p->r.cmd |= PX_CMD_CR;
		p->r.halted = 0;
	} else if (!(v & PX_CMD_ST) && (old & PX_CMD_ST)) {
		port_stop(p);
	}
	if (p->r.cmd & PX_CMD_FRE)
		p->r.cmd |= PX_CMD_FR;
	else
		p->r.cmd &= ~PX_CMD_FR;
	if ((v & PX_CMD_CLO) && !(p->r.cmd & PX_CMD_ST))
		p->r.tfd &= ~(ATA_BSY | ATA_DRQ); /* command list override */
	p->r.cmd &= ~PX_CMD_CLO;
	(void)a;
}

static uint32_t port_read(struct ahci_port *p, unsigned off)
{
	switch (off) {
	case PX_CLB: return p->r.clb;
	case PX_CLBU: return p->r.clbu;
	case PX_FB: return p->r.fb;
	case PX_FBU: return p->r.fbu;
	case PX_IS: return p->r.is;
	case PX_IE: return p->r.ie;
	case PX_CMD: return p->r.cmd;
	case PX_TFD: return p->r.tfd;
	case PX_SIG: return p->r.sig;
	case PX_SSTS: return p->r.ssts;
	case PX_SCTL: return p->r.sctl;
	case PX_SERR: return p->r.serr;
	case PX_SACT: return p->r.sact;
	case PX_CI: return p->r.ci;
	case PX_SNTF: return p->r.sntf;
	default: return 0;
	}
}

static void port_write(struct ahci *a, struct ahci_port *p, unsigned off, uint32_t v)
{
	switch (off) {
	case PX_CLB: p->r.clb = v & ~0x3ffu; break;
	case PX_CLBU: p->r.clbu = v; break;
	case PX_FB: p->r.fb = v & ~0xffu; break;
	case PX_FBU: p->r.fbu = v; break;
	case PX_IS:
		p->r.is &= ~v;
		a->is &= ~(1u << p->idx); /* set again below while causes remain */
		ahci_irq_update(a, false);
		return;
	case PX_IE:
		p->r.ie = v & 0xfdc000ffu;
		ahci_irq_update(a, (p->r.is & p->r.ie) != 0);
		return;
	case PX_CMD: port_cmd_write(a, p, v); break;
	case PX_SCTL:
		if ((p->r.sctl & 0xf) == 1 && (v & 0xf) != 1)
			port_comreset(p); /* the end of a COMRESET: the device is back */
		else if ((v & 0xf) == 1) {
			p->r.ssts = 0;     /* in reset: no device until DET goes 0 */
			p->r.tfd = ATA_BSY | 0x7f;
			p->gen++;
		}
		p->r.sctl = v & 0xfff;
		break;
	case PX_SERR: p->r.serr &= ~v; break;
	case PX_SACT:
		if (p->r.cmd & PX_CMD_ST)
			p->r.sact |= v;
		break;
	case PX_CI:
		if (p->r.cmd & PX_CMD_ST) {
			p->r.ci |= v;
			ahci_kick(a);
		}
		break;
	case PX_SNTF: p->r.sntf &= ~v; break;
	default: break;
	}
}

static uint32_t hba_read(struct ahci *a, unsigned off)
{
	switch (off) {
	case AHCI_CAP: return AHCI_CAP_VAL;
	case AHCI_GHC: return a->ghc;
	case AHCI_IS: return a->is;
	case AHCI_PI: return (1u << AHCI_PORTS) - 1;
	case AHCI_VS: return AHCI_VS_VAL;
	default: return 0; /* CCC, EM, CAP2, BOHC: none */
	}
}

static void hba_write(struct ahci *a, unsigned off, uint32_t v)
{
	switch (off) {
	case AHCI_GHC:
		if (v & AHCI_GHC_HR) {
			hba_reset(a); /* HR reads 0 again at once: the reset is done */
			return;
		}
		a->ghc = AHCI_GHC_AE | (v & AHCI_GHC_IE);
		ahci_irq_update(a, true);
		break;
	case AHCI_IS:
		a->is &= ~v;
		ahci_irq_update(a, false);
		break;
	default: break;
	}
}

void ahci_mmio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct ahci *a = opaque;
	uint32_t v = 0;

	/* dword registers: other sizes and misaligned accesses read zeros, writes are dropped */
	if (len != 4 || (off & 3) || off >= AHCI_ABAR_SIZE) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&a->lock);
	if (is_write)
		memcpy(&v, data, 4);
	if (off < AHCI_PORT(0)) {
		if (is_write)
			hba_write(a, off, v);
		else
			v = hba_read(a, off);
	} else if (off < AHCI_PORT(AHCI_PORTS)) {
		struct ahci_port *p = &a->port[(off - AHCI_PORT(0)) / 0x80];

		if (is_write)
			port_write(a, p, (off - AHCI_PORT(0)) % 0x80, v);
		else
			v = port_read(p, (off - AHCI_PORT(0)) % 0x80);
	}
	pthread_mutex_unlock(&a->lock);
	if (!is_write)
		memcpy(data, &v, 4);
}


/* --- life cycle --- */

static void lpc_init(struct pci_dev *d)
{
	/* an ISA bridge as function 0 of slot 0x1f (config space only): operating systems
	 * look at the other functions of a slot only when it has one */
	pci_dev_init(d, "isa-bridge", 0x1af4, 0x1100, 0x060100, 0, 0x1af4, 0x1100);
}

int ahci_create(struct pci_host *h, struct guest_mem *mem, const struct ahci_irq_host *irq,
		struct ahci **out)
{
	struct ahci *a = calloc(1, sizeof(*a));
	uint8_t cap;
	int ret;

	if (!a)
		return -ENOMEM;
	snprintf(a->name, sizeof(a->name), "ahci");
	a->host = h;
	a->mem = mem;
	if (irq)
		a->irq = *irq;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->idle, NULL);
	a->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->kick_fd < 0) {
		ret = -errno;
		goto err_free;
	}
	a->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->irq_fd < 0) {
		ret = -errno;
		close(a->kick_fd);
		goto err_free;
	}
	for (unsigned i = 0; i < AHCI_PORTS; i++) {
		a->port[i].hba = a;
		a->port[i].idx = i;
	}
	hba_reset(a);
	/* ICH9's SATA controller in AHCI mode */
	pci_dev_init(&a->pci, a->name, 0x8086, 0x2922, 0x010601, 0x02, 0x1af4, 0x1100);
	a->pci.opaque = a;
	a->pci.cfg[0x3d] = 1; /* INTA# */
	a->pci.cfg_written = cfg_written;
	pci_dev_set_bar32(&a->pci, 5, AHCI_ABAR_SIZE, ahci_mmio, a);
	cap = pci_dev_add_cap(&a->pci, PCI_CAP_ID_MSI, MSI_CAP_LEN);
	a->msi_cap = cap;
	a->pci.cfg[cap + 2] = 0x80; /* 64-bit addresses, one message */
	a->pci.wmask[cap + 2] = 0x01; /* enable */
	memset(a->pci.wmask + cap + 4, 0xff, 8);
	a->pci.wmask[cap + 4] = 0xfc;
	memset(a->pci.wmask + cap + 12, 0xff, 2);
	/* a placeholder function 0 unless 00:1f.0 is taken (-EBUSY: the ICH9 LPC bridge of
	 * the firmware layout, which then says multi-function) */
	lpc_init(&a->lpc);
	ret = pci_host_add_at(h, &a->lpc, AHCI_SLOT, 0);
	if (ret && ret != -EBUSY)
		goto err_fd;
	a->lpc_added = !ret;
	ret = pci_host_add_at(h, &a->pci, AHCI_SLOT, AHCI_FN);
	if (ret)
		goto err_lpc;
	*out = a;
	return 0;
err_lpc:
	if (a->lpc_added)
		pci_host_remove(h, &a->lpc);
err_fd:
	close(a->irq_fd);
	close(a->kick_fd);
err_free:
	free(a);
	if (ret == -EBUSY)
		vsrv_log("ahci: PCI slot 00:1f is taken");
	return ret;
}

int ahci_attach(struct ahci *a, enum ahci_drive drive, struct disk *disk, const char *serial)
{
	struct ahci_port *p;

	if (a->nports == AHCI_PORTS)
		return -ENOSPC;
	p = &a->port[a->nports++];
	p->drive = drive;
	p->disk = disk;
	snprintf(p->serial, sizeof(p->serial), "%s", serial ? serial : "");
	if (drive == AHCI_CD) {
		scsi_mmc_init(&p->lun, &p->mmc, disk);
		snprintf(p->lun.serial, sizeof(p->lun.serial), "%s", serial ? serial : "");
		snprintf(p->model, sizeof(p->model), "VSRV DVD-ROM");
	} else {
		p->trim = !disk->readonly && disk->ops->discard;
		snprintf(p->model, sizeof(p->model), "VSRV HARDDISK");
	}
	port_reset(p);
	return 0;
}

int ahci_start(struct ahci *a)
{
	int ret;

	/* without a ring (old kernels, the sandbox's limits) NCQ runs through the disk layer */
	a->uring_ok = disk_uring_init(&a->ring, 2 * AHCI_SLOTS) == 0;
	ret = pthread_create(&a->thread, NULL, ahci_io_thread, a);
	if (ret) {
		if (a->uring_ok)
			io_uring_queue_exit(&a->ring);
		a->uring_ok = false;
		return -ret;
	}
	a->started = true;
	return 0;
}

void ahci_destroy(struct ahci *a)
{
	if (!a)
		return;
	if (a->started) {
		pthread_mutex_lock(&a->lock);
		a->stop = true;
		ahci_kick(a);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->thread, NULL);
	}
	if (a->uring_ok)
		io_uring_queue_exit(&a->ring);
	pci_host_remove(a->host, &a->pci);
	if (a->lpc_added)
		pci_host_remove(a->host, &a->lpc);
	if (a->msi_routed)
		a->irq.irqfd(a->irq.vm, a->irq_fd, a->msi_gsi, false);
	close(a->irq_fd);
	close(a->kick_fd);
	pthread_cond_destroy(&a->idle);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
