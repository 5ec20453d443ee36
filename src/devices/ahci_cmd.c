/* The AHCI controller's command list walker and its I/O thread (ahci.h): the commands of
 * the ports' command lists read from guest memory, run (ahci_ata.c), on the ring (NCQ) and
 * their ends written back. Moved out of ahci.c; the registers and FISes are its. */
#include "devices/ahci.h"

#include "util/log.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PRD_MAX_BYTES (64u << 20) /* PRDs looked at per command: more than any command moves */

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* --- the command walker (I/O thread, without the lock but where noted) --- */

/* Read the header and table of slot s into c: 0, or the PxIS bits of the failure. */
static uint32_t cmd_load(struct ahci_port *p, uint64_t clb, unsigned s, struct ahci_cmd *c)
{
	struct guest_mem *m = p->hba->mem;
	const uint8_t *hdr = guest_mem_ptr(m, clb + s * 32u, 32), *tbl, *prd;
	uint32_t dw0, prdtl, cfl;
	uint64_t ctba;

	if (!hdr)
		return PX_IS_HBFS;
	dw0 = rd32(hdr);
	ctba = (rd32(hdr + 8) & ~0x7fu) | (uint64_t)rd32(hdr + 12) << 32;
	cfl = dw0 & 0x1f;
	prdtl = dw0 >> 16;
	c->write = dw0 & (1u << 6);
	tbl = guest_mem_ptr(m, ctba, 0x80 + prdtl * 16ull);
	if (!tbl)
		return PX_IS_HBFS;
	memcpy(c->fis, tbl, sizeof(c->fis));
	memcpy(c->acmd, tbl + 0x40, sizeof(c->acmd));
	if (cfl < 5)
		memset(c->fis, 0, sizeof(c->fis)); /* too short for a register FIS: refused */
	c->iov = NULL;
	c->niov = 0;
	c->prd_bytes = 0;
	if (!prdtl)
		return 0;
	c->iov = calloc(prdtl, sizeof(*c->iov));
	if (!c->iov)
		return PX_IS_HBFS;
	prd = tbl + 0x80;
	for (uint32_t i = 0; i < prdtl && c->prd_bytes < PRD_MAX_BYTES; i++, prd += 16) {
		uint64_t dba = (rd32(prd) & ~1u) | (uint64_t)rd32(prd + 4) << 32;
		uint32_t dw3 = rd32(prd + 12), dbc = (dw3 & 0x3fffff) + 1;
		void *buf = guest_mem_ptr(m, dba, dbc);

		if (!buf)
			return PX_IS_HBDS;
		c->iov[c->niov].iov_base = buf;
		c->iov[c->niov].iov_len = dbc;
		c->niov++;
		c->prd_bytes += dbc;
		if (dw3 & (1u << 31))
			c->prd_intr = true;
	}
	return 0;
}

/* Under the lock: the end of command c on port p (slot s), taken at generation gen. */
static void cmd_complete(struct ahci_port *p, struct ahci_cmd *c, uint64_t clb, uint32_t gen,
			 uint32_t load_is)
{
	struct ahci *a = p->hba;
	uint32_t bit = 1u << c->slot;
	uint8_t *hdr;

	p->busy &= ~bit;
	if (gen != p->gen || !(p->r.cmd & PX_CMD_ST)) {
		if (!(p->r.cmd & PX_CMD_ST) && !p->busy)
			p->r.cmd &= ~PX_CMD_CR; /* stopped meanwhile: dropped */
		return;
	}
	hdr = guest_mem_ptr(a->mem, clb + c->slot * 32u, 32);
	if (hdr && !load_is) {
		wr32(hdr + 4, c->done); /* PRDBC */
		guest_mem_track(a->mem, hdr + 4, 4);
	}
	if (load_is || c->is) {
		/* the HBA's own error: the command list stops here */
		ahci_port_event(p, load_is | c->is);
		p->r.tfd = ATA_E_ABRT << 8 | ATA_DRDY | ATA_ERR;
		p->r.halted = 1;
	} else if (c->status & ATA_ERR) {
		p->r.tfd = c->error << 8 | c->status;
		if (c->ncq) {
			p->r.ncq_err = c->slot + 1;
			p->r.ncq_status = c->status;
			p->r.ncq_error = c->error;
			ahci_sdb_fis(p, 0, c->status, c->error);
		} else {
			ahci_d2h_fis(p, c->fis, c->status, c->error, true);
		}
		ahci_port_event(p, PX_IS_TFES);
		p->r.halted = 1;
	} else {
		p->r.tfd = c->error << 8 | c->status;
		if (c->ncq) {
			p->r.sact &= ~bit;
			ahci_sdb_fis(p, bit, c->status, 0);
		} else if (c->pio) {
			ahci_pio_fis(p, c->fis, c->status, c->done);
			p->r.ci &= ~bit;
		} else {
			ahci_d2h_fis(p, c->fis, c->status, c->error, true);
			p->r.ci &= ~bit;
		}
		if (c->prd_intr)
			ahci_port_event(p, PX_IS_DPS);
	}
	ahci_irq_update(a, false);
}

/* Under the lock: the next command ready to run, marked busy; false when none. A port runs
 * one command at a time, but queued ones (marked in SACT) alongside each other. */
static bool cmd_next(struct ahci *a, struct ahci_port **pp, unsigned *slot)
{
	for (unsigned i = 0; i < AHCI_PORTS; i++) {
		struct ahci_port *p = &a->port[i];
		uint32_t ready = p->r.ci & ~p->busy;

		if (!(p->r.cmd & PX_CMD_ST) || p->r.halted || !ready)
			continue;
		if (p->busy && ((p->busy & ~p->r.sact) || !(ready & p->r.sact)))
			continue; /* a plain command runs, or waits for the queued ones */
		if (p->busy)
			ready &= p->r.sact;
		*pp = p;
		*slot = __builtin_ctz(ready);
		p->busy |= 1u << *slot;
		p->r.cmd = (p->r.cmd & ~(0x1fu << 8)) | *slot << 8; /* CCS */
		return true;
	}
	return false;
}

/* Put an NCQ command on the ring (I/O thread, without the lock): true when it went. */
static bool submit(struct ahci *a, struct ahci_cmd *c)
{
	struct disk *d = c->p->disk;
	uint64_t off = d->direct_offset + c->lba * DISK_SECTOR;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a->ring);

	if (!sqe)
		return false;
	if (c->fis[2] == 0x61)
		io_uring_prep_writev(sqe, d->direct_fd, c->dio, c->ndio, off);
	else
		io_uring_prep_readv(sqe, d->direct_fd, c->dio, c->ndio, off);
	io_uring_sqe_set_data(sqe, c);
	return io_uring_submit(&a->ring) == 1;
}

static void cmd_free(struct ahci_cmd *c)
{
	free(c->iov);
	free(c->dio);
	free(c);
}

/* Run one command of port p, slot s (busy), the lock held on entry and exit: to its end, or
 * (NCQ on a raw image or fixed VHD) onto the ring, which ends it later (reap). */
static void cmd_run(struct ahci *a, struct ahci_port *p, unsigned s)
{
	struct ahci_cmd *c = calloc(1, sizeof(*c));

	if (!c) {
		struct ahci_cmd none = { .p = p, .slot = s };

		cmd_complete(p, &none, 0, p->gen, PX_IS_HBFS);
		return;
	}
	c->p = p;
	c->slot = s;
	c->clb = (uint64_t)p->r.clbu << 32 | p->r.clb;
	c->gen = p->gen;
	pthread_mutex_unlock(&a->lock);
	c->load_is = cmd_load(p, c->clb, s, c);
	c->ncq = !c->load_is && ahci_ata_is_ncq(c->fis) && p->drive == AHCI_DISK;
	if (c->ncq) {
		/* the device took the queued command: CI goes, SACT stays until it ends */
		pthread_mutex_lock(&a->lock);
		if (c->gen == p->gen && (p->r.sact & (1u << s))) {
			p->r.ci &= ~(1u << s);
			ahci_d2h_fis(p, c->fis, ATA_DRDY | ATA_DSC, 0, false);
		} else {
			c->ncq = false; /* not marked in SACT: refused as a plain command */
		}
		pthread_mutex_unlock(&a->lock);
	}
	if (!c->load_is) {
		if (!ahci_port_present(p)) {
			c->status = ATA_DRDY | ATA_ERR;
			c->error = ATA_E_ABRT;
		} else if (c->ncq && a->uring_ok && ahci_ata_async_prep(c) && submit(a, c)) {
			pthread_mutex_lock(&a->lock);
			a->inflight++;
			a->ring_cmds++;
			return;
		} else {
			ahci_ata_exec(c);
		}
	}
	pthread_mutex_lock(&a->lock);
	cmd_complete(p, c, c->clb, c->gen, c->load_is);
	cmd_free(c);
}

/* The ring's completions (I/O thread, without the lock). */
static void reap(struct ahci *a)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&a->ring, &cqe) == 0) {
		struct ahci_cmd *c = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&a->ring, cqe);
		ahci_ata_async_done(c, res);
		pthread_mutex_lock(&a->lock);
		a->inflight--;
		cmd_complete(c->p, c, c->clb, c->gen, 0);
		pthread_mutex_unlock(&a->lock);
		cmd_free(c);
	}
}

void ahci_run(struct ahci *a)
{
	struct ahci_port *p;
	unsigned s;

	pthread_mutex_lock(&a->lock);
	while (!a->paused && cmd_next(a, &p, &s))
		cmd_run(a, p, s);
	pthread_mutex_unlock(&a->lock);
}

/* The I/O thread: commands as they are issued, several NCQ commands of a port at once on
 * the ring; parks (idle) when quiesced or out of work with nothing on the ring. */
void *ahci_io_thread(void *arg)
{
	struct ahci *a = arg;
	struct pollfd pf[2] = { { a->kick_fd, POLLIN, 0 }, { a->ring.ring_fd, POLLIN, 0 } };
	struct ahci_port *p;
	uint64_t n;
	unsigned s;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		if (a->stop && !a->inflight)
			break;
		if (!a->stop && !a->paused && cmd_next(a, &p, &s)) {
			a->running = true;
			cmd_run(a, p, s);
			continue;
		}
		a->running = a->inflight != 0;
		if (!a->running)
			pthread_cond_broadcast(&a->idle);
		pthread_mutex_unlock(&a->lock);
		if (poll(pf, a->uring_ok ? 2 : 1, -1) < 0 && errno != EINTR)
			vsrv_log("%s: poll: %s", a->name, strerror(errno));
		if (read(a->kick_fd, &n, 8) < 0 && errno != EAGAIN)
			vsrv_log("%s: kick eventfd: %s", a->name, strerror(errno));
		if (a->uring_ok)
			reap(a);
		pthread_mutex_lock(&a->lock);
	}
	a->running = false;
	pthread_cond_broadcast(&a->idle);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

void ahci_quiesce(struct ahci *a)
{
	pthread_mutex_lock(&a->lock);
	a->paused++;
	ahci_kick(a);
	while (a->running || a->inflight)
		pthread_cond_wait(&a->idle, &a->lock);
	pthread_mutex_unlock(&a->lock);
}

void ahci_resume(struct ahci *a)
{
	pthread_mutex_lock(&a->lock);
	if (a->paused)
		a->paused--;
	ahci_kick(a);
	pthread_mutex_unlock(&a->lock);
}
