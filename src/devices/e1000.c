/* The e1000 (Intel 82540EM) device model: registers, EEPROM, PHY, interrupts and their
 * moderation, reception, the I/O thread, save/restore and its device kind (--net
 * ...,model=e1000). Transmission's descriptor walker is in e1000_tx.c. See e1000.h. */
#include "devices/e1000_int.h"
#include "devices/virtio/kind.h"
#include "devices/virtio/net.h"
#include "util/log.h"
#include "vmm/evloop.h"
#include "vmm/mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

uint64_t e1000_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void e1000_ring_error(struct e1000 *e, const char *what)
{
	e->errors++;
	if (!e->logged)
		vsrv_log("%s: %s; the ring stops until the driver sets it up again", e->name, what);
	e->logged = true;
}

/* --- interrupts and moderation (under lock) --- */

static void arm_timer(struct e1000 *e)
{
	uint64_t t = 0, d[3] = { e->dl_itr, e->dl_rx, e->dl_tx };
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	for (int i = 0; i < 3; i++)
		if (d[i] && (!t || d[i] < t))
			t = d[i];
	if (t) {
		its.it_value.tv_sec = (time_t)(t / 1000000000ull);
		its.it_value.tv_nsec = (long)(t % 1000000000ull);
	}
	if (e->timerfd >= 0)
		timerfd_settime(e->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void set_line(struct e1000 *e, int level)
{
	if (e->level == level)
		return;
	e->level = level;
	if (e->irq_line)
		e->irq_line(e->vm, e->gsi, level);
}

/* The line follows ICR & IMS, but rises no sooner than ITR allows after the last rise. */
static void update_irq(struct e1000 *e)
{
	uint64_t now;

	if (!(e->s.icr & e->s.ims)) {
		set_line(e, 0);
		return;
	}
	if (e->level)
		return;
	now = e->s.itr ? e1000_now() : 0;
	if (e->s.itr && now < e->irq_next) {
		if (!e->dl_itr) {
			e->dl_itr = e->irq_next;
			arm_timer(e);
		}
		return;
	}
	e->irq_next = now + (uint64_t)(e->s.itr & 0xffff) * 256;
	set_line(e, 1);
}

void e1000_set_cause(struct e1000 *e, uint32_t c)
{
	e->s.icr |= c;
	update_irq(e);
}

/* Timers in 1.024 us: the delayed cause fires at now + delay, not later than first + abs
 * (abs 0: no bound). */
void e1000_delay_cause(struct e1000 *e, uint32_t cause, uint32_t delay, uint32_t abs,
			uint64_t *dl, uint64_t *first)
{
	uint64_t now = e1000_now(), t = now + (uint64_t)(delay & 0xffff) * 1024;

	if (!(e->s.delayed & cause))
		*first = now;
	if ((abs & 0xffff) && t > *first + (uint64_t)(abs & 0xffff) * 1024)
		t = *first + (uint64_t)(abs & 0xffff) * 1024;
	e->s.delayed |= cause;
	*dl = t;
	arm_timer(e);
}

static void on_timer(void *opaque, uint32_t events)
{
	struct e1000 *e = opaque;
	uint64_t v, now = e1000_now();

	(void)events;
	if (read(e->timerfd, &v, 8) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&e->lock);
	if (e->dl_rx && e->dl_rx <= now) {
		e->dl_rx = 0;
		e->s.delayed &= ~ICR_RXT0;
		e->s.icr |= ICR_RXT0;
	}
	if (e->dl_tx && e->dl_tx <= now) {
		e->dl_tx = 0;
		e->s.delayed &= ~ICR_TXDW;
		e->s.icr |= ICR_TXDW;
	}
	if (e->dl_itr && e->dl_itr <= now)
		e->dl_itr = 0;
	update_irq(e);
	arm_timer(e);
	pthread_mutex_unlock(&e->lock);
}

/* --- EEPROM, PHY --- */

static void eeprom_init(struct e1000_state *s, const uint8_t mac[6])
{
	static const uint16_t words[16] = {
		0, 0, 0, 0x0000, 0xffff, 0x0000, 0x0000, 0x0000,
		0x3000, 0x1000, 0x6403, 0x100e, 0x8086, 0x100e, 0x8086, 0x3040,
	};
	uint16_t sum = 0;

	memcpy(s->eeprom, words, sizeof(words));
	for (int i = 16; i < EE_WORDS; i++)
		s->eeprom[i] = 0xffff;
	for (int i = 0; i < 3; i++)
		s->eeprom[i] = (uint16_t)(mac[2 * i] | mac[2 * i + 1] << 8);
	for (int i = 0; i < EE_WORDS - 1; i++)
		sum += s->eeprom[i];
	s->eeprom[EE_WORDS - 1] = (uint16_t)(EE_CHECKSUM_SUM - sum);
}

static const uint16_t phy_reset_values[32] = {
	[PHY_CTRL] = 0x1140,      /* autonegotiation on, full duplex, 1000 Mb/s */
	[PHY_STATUS] = 0x796d,    /* link up, autonegotiation complete */
	[PHY_ID1] = 0x0141,       /* Marvell M88E1011, the 82540EM's PHY */
	[PHY_ID2] = 0x0c20,
	[4] = 0x0de1, [5] = 0x45e0, [6] = 0x0001, [9] = 0x0e00, [10] = 0x3c00, [15] = 0x3000,
	[16] = 0x0368, [17] = 0xac00, [20] = 0x0c60, [26] = 0x000a,
};

static bool phy_read_only(unsigned r)
{
	return r == PHY_STATUS || r == PHY_ID1 || r == PHY_ID2 || r == 5 || r == 6 ||
	       r == 10 || r == 15 || r == 17;
}

static void mdic_write(struct e1000 *e, uint32_t v)
{
	unsigned reg = (v >> 16) & 31, phy = (v >> 21) & 31, op = v & (3u << 26);

	if (phy != PHY_ADDR || (op != MDIC_OP_READ && op != MDIC_OP_WRITE)) {
		e->s.mdic = (v & ~MDIC_ERROR) | MDIC_READY | MDIC_ERROR;
	} else if (op == MDIC_OP_READ) {
		e->s.mdic = (v & 0xffff0000u & ~MDIC_ERROR) | MDIC_READY | e->s.phy[reg];
	} else {
		uint16_t d = v & 0xffff;

		if (reg == PHY_CTRL) /* reset and restart complete at once */
			d &= ~(PHY_CTRL_RESET | PHY_CTRL_AN_RESTART);
		if (!phy_read_only(reg))
			e->s.phy[reg] = d;
		e->s.mdic = (v & ~MDIC_ERROR) | MDIC_READY;
	}
	if (v & (1u << 29)) /* I: interrupt at the end */
		e1000_set_cause(e, ICR_MDAC);
}

/* The Microwire EEPROM: CS high, then start bit, opcode and 6 address bits clocked in on
 * SK's rising edges, then 16 data bits out (DO) on the following edges. */
static void eecd_write(struct e1000 *e, uint32_t v)
{
	struct e1000_state *s = &e->s;
	uint32_t old = s->eecd;

	s->eecd = v & EECD_WRITABLE;
	if (!(v & EECD_CS))
		return;
	if (!(old & EECD_CS)) {
		s->ee_in = s->ee_bits_in = s->ee_bit_out = s->ee_reading = 0;
	}
	if (!((v ^ old) & EECD_SK))
		return;
	if (!(v & EECD_SK)) { /* falling edge: the next output bit */
		s->ee_bit_out++;
		return;
	}
	s->ee_in = (s->ee_in << 1 | !!(v & EECD_DI)) & 0x1ff;
	if (++s->ee_bits_in == 9 && !s->ee_reading) {
		s->ee_reading = (s->ee_in >> 6) == EE_READ_OPCODE;
		s->ee_bit_out = ((s->ee_in & 0x3f) << 4) - 1;
	}
}

static uint32_t eecd_read(struct e1000 *e)
{
	struct e1000_state *s = &e->s;
	uint32_t v = s->eecd | EECD_PRES | EECD_GNT;
	uint32_t b = s->ee_bit_out;

	if (!s->ee_reading || ((s->eeprom[(b >> 4) & 0x3f] >> (15 - (b & 15))) & 1))
		v |= EECD_DO;
	return v;
}

/* --- reset --- */

static void regs_reset(struct e1000 *e)
{
	struct e1000_state *s = &e->s;
	uint8_t cfg[PCI_CFG_SIZE];

	memcpy(cfg, s->pci_cfg, sizeof(cfg));
	memset(s, 0, sizeof(*s));
	memcpy(s->pci_cfg, cfg, sizeof(cfg));
	s->magic = E1000_STATE_MAGIC;
	s->ctrl = CTRL_FD | CTRL_SLU | CTRL_SPD_1000;
	s->status = STATUS_FD | STATUS_LU | STATUS_SPEED_1000 | STATUS_ASDV_1000;
	s->ledctl = 0x07068302;
	s->pba = 0x00100030;
	s->vet = 0x8100;
	s->rxcsum = RXCSUM_IPOFLD | RXCSUM_TUOFLD;
	memcpy(s->phy, phy_reset_values, sizeof(s->phy));
	eeprom_init(s, e->mac0);
	s->ra[0] = (uint32_t)e->mac0[0] | e->mac0[1] << 8 | e->mac0[2] << 16 |
		   (uint32_t)e->mac0[3] << 24;
	s->ra[1] = (uint32_t)(e->mac0[4] | e->mac0[5] << 8) | RAH_AV;
	e->tx_stopped = e->rx_stopped = false;
	e->dl_itr = e->dl_rx = e->dl_tx = 0;
	e->irq_next = 0;
	e->gen++;
	set_line(e, 0);
	arm_timer(e);
}

/* --- registers --- */

static void kick(struct e1000 *e)
{
	uint64_t one = 1;

	if (write(e->kickfd, &one, 8) < 0)
		return; /* the counter is already non-zero */
}

/* Read-to-clear statistics: a 64-bit pair's high half clears both. */
static uint32_t stat_read(struct e1000 *e, unsigned i)
{
	uint32_t v = e->s.stats[i];

	e->s.stats[i] = 0;
	if (i == ST_GORCH || i == ST_GOTCH || i == ST_TORH || i == ST_TOTH)
		e->s.stats[i - 1] = 0;
	return v;
}

static uint32_t *plain_reg(struct e1000_state *s, uint32_t off)
{
	switch (off) {
	case E1000_CTRL_EXT: return &s->ctrl_ext;
	case E1000_FCAL: return &s->fcal;
	case E1000_FCAH: return &s->fcah;
	case E1000_FCT: return &s->fct;
	case E1000_VET: return &s->vet;
	case E1000_ITR: return &s->itr;
	case E1000_RCTL: return &s->rctl;
	case E1000_FCTTV: return &s->fcttv;
	case E1000_TXCW: return &s->txcw;
	case E1000_RXCW: return &s->rxcw;
	case E1000_TCTL: return &s->tctl;
	case E1000_TIPG: return &s->tipg;
	case E1000_LEDCTL: return &s->ledctl;
	case E1000_PBA: return &s->pba;
	case E1000_FCRTL: return &s->fcrtl;
	case E1000_FCRTH: return &s->fcrth;
	case E1000_RDBAL: return &s->rdbal;
	case E1000_RDBAH: return &s->rdbah;
	case E1000_RDLEN: return &s->rdlen;
	case E1000_RDH: return &s->rdh;
	case E1000_RDT: return &s->rdt;
	case E1000_RDTR: return &s->rdtr;
	case E1000_RXDCTL: return &s->rxdctl;
	case E1000_RADV: return &s->radv;
	case E1000_RSRPD: return &s->rsrpd;
	case E1000_TDBAL: return &s->tdbal;
	case E1000_TDBAH: return &s->tdbah;
	case E1000_TDLEN: return &s->tdlen;
	case E1000_TDH: return &s->tdh;
	case E1000_TDT: return &s->tdt;
	case E1000_TIDV: return &s->tidv;
	case E1000_TXDCTL: return &s->txdctl;
	case E1000_TADV: return &s->tadv;
	case E1000_RXCSUM: return &s->rxcsum;
	case E1000_WUC: return &s->wuc;
	case E1000_WUFC: return &s->wufc;
	case E1000_MANC: return &s->manc;
	}
	if (off >= E1000_MTA && off < E1000_MTA + 512)
		return &s->mta[(off - E1000_MTA) / 4];
	if (off >= E1000_RA && off < E1000_RA + 128)
		return &s->ra[(off - E1000_RA) / 4];
	if (off >= E1000_VFTA && off < E1000_VFTA + 512)
		return &s->vfta[(off - E1000_VFTA) / 4];
	return NULL;
}

static uint32_t reg_read(struct e1000 *e, uint32_t off)
{
	struct e1000_state *s = &e->s;
	uint32_t *r, v;

	switch (off) {
	case E1000_CTRL: return s->ctrl;
	case E1000_STATUS: return s->status;
	case E1000_EECD: return eecd_read(e);
	case E1000_EERD: return s->eerd;
	case E1000_MDIC: return s->mdic;
	case E1000_ICR:
		v = s->icr;
		s->icr = 0;
		update_irq(e);
		return v;
	case E1000_ICS: return s->icr;
	case E1000_IMS: return s->ims;
	}
	if (off >= E1000_STATS && off < E1000_STATS + 4 * E1000_NSTATS)
		return stat_read(e, (off - E1000_STATS) / 4);
	r = plain_reg(s, off);
	return r ? *r : 0;
}

static void reg_write(struct e1000 *e, uint32_t off, uint32_t v)
{
	struct e1000_state *s = &e->s;
	uint32_t *r;

	switch (off) {
	case E1000_CTRL:
		if (v & CTRL_RST) {
			regs_reset(e);
			return;
		}
		if (v & CTRL_PHY_RST)
			memcpy(s->phy, phy_reset_values, sizeof(s->phy));
		s->ctrl = v & ~(CTRL_RST | CTRL_PHY_RST);
		return;
	case E1000_EECD: eecd_write(e, v); return;
	case E1000_EERD:
		if (v & EERD_START) {
			unsigned a = (v >> 8) & 0xff;

			s->eerd = (a << 8) | EERD_DONE |
				  (uint32_t)(a < EE_WORDS ? s->eeprom[a] : 0) << 16;
		}
		return;
	case E1000_MDIC: mdic_write(e, v); return;
	case E1000_ICR: s->icr &= ~v; update_irq(e); return; /* write 1 to clear */
	case E1000_ICS: e1000_set_cause(e, v & ICR_VALID); return;
	case E1000_IMS: s->ims |= v & ICR_VALID; update_irq(e); return;
	case E1000_IMC: s->ims &= ~v; update_irq(e); return;
	case E1000_STATUS: return;
	case E1000_RDTR:
		s->rdtr = v & 0xffff;
		if ((v & RDTR_FPD) && (s->delayed & ICR_RXT0)) { /* flush: fire now */
			s->delayed &= ~ICR_RXT0;
			e->dl_rx = 0;
			e1000_set_cause(e, ICR_RXT0);
		}
		return;
	case E1000_RDLEN: case E1000_TDLEN: v &= 0xfffff; break;
	case E1000_RDH: case E1000_RDT: case E1000_TDH: case E1000_TDT: v &= 0xffff; break;
	}
	r = plain_reg(s, off);
	if (!r)
		return;
	*r = v;
	switch (off) {
	case E1000_TDBAL: case E1000_TDBAH: case E1000_TDLEN: case E1000_TDH:
		e->tx_stopped = false;
		break;
	case E1000_RDBAL: case E1000_RDBAH: case E1000_RDLEN: case E1000_RDH:
		e->rx_stopped = false;
		break;
	case E1000_TDT:
		kick(e); /* the I/O thread sends everything up to TDT */
		break;
	case E1000_TCTL:
		if (v & TCTL_EN)
			kick(e); /* what was queued while the transmitter was off */
		break;
	case E1000_RDT: case E1000_RCTL:
		if (e->rx_blocked)
			kick(e);
		break;
	case E1000_ITR:
		update_irq(e);
		break;
	}
}

void e1000_mmio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct e1000 *e = opaque;
	uint32_t reg = (uint32_t)off & ~3u, sh = (uint32_t)(off & 3) * 8, v;

	if (len > 4 || (off & 3) + len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&e->lock);
	if (!is_write) {
		v = reg_read(e, reg) >> sh;
		memcpy(data, &v, len);
	} else if (len == 4) {
		memcpy(&v, data, 4);
		reg_write(e, reg, v);
	} else {
		/* a narrow write: merged into what a side-effect-free read gives */
		uint32_t *r = plain_reg(&e->s, reg), m = (len == 4 ? ~0u : (1u << len * 8) - 1) << sh;

		v = 0;
		memcpy(&v, data, len);
		if (r)
			reg_write(e, reg, (*r & ~m) | (v << sh & m));
	}
	pthread_mutex_unlock(&e->lock);
}

void e1000_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct e1000 *e = opaque;
	uint32_t a;

	if (off == 0 && len == 4) { /* IOADDR */
		pthread_mutex_lock(&e->lock);
		if (is_write)
			memcpy(&e->s.ioaddr, data, 4);
		else
			memcpy(data, &e->s.ioaddr, 4);
		pthread_mutex_unlock(&e->lock);
		return;
	}
	if (off == 4 && len == 4) { /* IODATA: the register IOADDR names */
		pthread_mutex_lock(&e->lock);
		a = e->s.ioaddr & (E1000_MMIO_SIZE - 4);
		pthread_mutex_unlock(&e->lock);
		e1000_mmio(e, a, data, 4, is_write);
		return;
	}
	if (!is_write)
		memset(data, 0, len);
}

/* --- the I/O thread --- */

static void *io_main(void *arg)
{
	struct e1000 *e = arg;

	evloop_run(e->loop);
	return NULL;
}

/* --- life cycle --- */

int e1000_create(struct virtio_host *h, struct net_backend *b, const uint8_t *mac,
		 uint32_t gsi, const char *name, struct e1000 **out)
{
	struct e1000 *e = calloc(1, sizeof(*e));
	int ret = -ENOMEM;

	if (!e)
		goto err_be;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->mem = h->mem;
	e->vm = h->vm;
	e->irq_line = h->irq_line;
	e->gsi = gsi;
	e->be = b;
	e->kickfd = e->timerfd = -1;
	pthread_mutex_init(&e->lock, NULL);
	pthread_mutex_init(&e->tx_lock, NULL);
	pthread_mutex_init(&e->sync_lock, NULL);
	pthread_cond_init(&e->sync_cond, NULL);
	if (mac) {
		memcpy(e->mac0, mac, 6);
	} else {
		if (getrandom(e->mac0, 6, 0) != 6)
			memset(e->mac0, 0x5a, 6);
		e->mac0[0] = 0x52; /* locally administered, unicast: 52:54:xx like QEMU */
		e->mac0[1] = 0x54;
	}
	e->txbuf = malloc(E1000_TX_MAX);
	e->txseg = malloc(E1000_TX_MAX);
	if (!e->txbuf || !e->txseg)
		goto err;
	/* 00:xx.0 Intel 82540EM Gigabit Ethernet, as the drivers know it */
	pci_dev_init(&e->pci, e->name, 0x8086, 0x100e, 0x020000, 3, 0x8086, 0x001e);
	pci_dev_set_bar32(&e->pci, 0, E1000_MMIO_SIZE, e1000_mmio, e);
	pci_dev_set_io_bar(&e->pci, 1, E1000_IO_SIZE, e1000_pio, e);
	e->pci.cfg[0x3d] = 1; /* INTA# */
	e->pci.opaque = e;
	regs_reset(e);
	ret = -errno;
	e->kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (e->kickfd < 0 || e->timerfd < 0)
		goto err;
	ret = evloop_create(&e->loop);
	if (ret)
		goto err;
	ret = evloop_add(e->loop, e->kickfd, EPOLLIN, e1000_on_kick, e);
	if (!ret)
		ret = evloop_add(e->loop, e->timerfd, EPOLLIN, on_timer, e);
	if (!ret && b->nfd)
		ret = evloop_add(e->loop, b->fd[0], EPOLLIN, e1000_on_tap, e);
	if (ret)
		goto err;
	ret = -pthread_create(&e->thread, NULL, io_main, e);
	if (ret)
		goto err;
	e->running = true;
	if (b->start) {
		ret = b->start(b, e1000_receive, e);
		if (ret)
			goto err;
	}
	*out = e;
	return 0;
err:
	e1000_destroy(e);
	return ret;
err_be:
	b->destroy(b);
	return ret;
}

void e1000_destroy(struct e1000 *e)
{
	if (!e)
		return;
	if (e->be->stop) /* callback backends stop delivering first */
		e->be->stop(e->be);
	if (e->running) {
		evloop_stop(e->loop, 0);
		pthread_join(e->thread, NULL);
	}
	evloop_destroy(e->loop);
	e->be->destroy(e->be);
	if (e->kickfd >= 0)
		close(e->kickfd);
	if (e->timerfd >= 0)
		close(e->timerfd);
	free(e->txbuf);
	free(e->txseg);
	pthread_cond_destroy(&e->sync_cond);
	pthread_mutex_destroy(&e->sync_lock);
	pthread_mutex_destroy(&e->tx_lock);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

struct pci_dev *e1000_pci(struct e1000 *e) { return &e->pci; }
const struct vnet_stats *e1000_stats(const struct e1000 *e) { return &e->st; }

void e1000_mac(struct e1000 *e, uint8_t mac[6])
{
	pthread_mutex_lock(&e->lock);
	for (int i = 0; i < 3; i++) {
		mac[2 * i] = e->s.eeprom[i] & 0xff;
		mac[2 * i + 1] = e->s.eeprom[i] >> 8;
	}
	if (e->s.ra[1] & RAH_AV) /* what the driver programmed */
		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)(e->s.ra[i / 4] >> (8 * (i % 4)));
	pthread_mutex_unlock(&e->lock);
}

int e1000_irq_level(struct e1000 *e)
{
	int l;

	pthread_mutex_lock(&e->lock);
	l = e->level;
	pthread_mutex_unlock(&e->lock);
	return l;
}

unsigned e1000_errors(struct e1000 *e)
{
	unsigned n;

	pthread_mutex_lock(&e->lock);
	n = e->errors;
	pthread_mutex_unlock(&e->lock);
	return n;
}

/* --- state --- */

void e1000_quiesce(struct e1000 *e, bool on)
{
	pthread_mutex_lock(&e->tx_lock); /* a batch under way ends first */
	pthread_mutex_lock(&e->lock);
	e->quiesced = on;
	if (!on)
		kick(e); /* what was asked meanwhile */
	pthread_mutex_unlock(&e->lock);
	pthread_mutex_unlock(&e->tx_lock);
}

int e1000_save(struct e1000 *e, struct e1000_state *st)
{
	pthread_mutex_lock(&e->tx_lock); /* no transmit batch half done */
	pthread_mutex_lock(&e->lock);
	*st = e->s;
	pthread_mutex_unlock(&e->lock);
	pthread_mutex_unlock(&e->tx_lock);
	if (e->pci.host)
		pci_dev_cfg_save(&e->pci, st->pci_cfg);
	else
		memcpy(st->pci_cfg, e->pci.cfg, PCI_CFG_SIZE);
	return 0;
}

static int state_check(struct e1000 *e, const struct e1000_state *st)
{
	if (st->magic != E1000_STATE_MAGIC || st->status != e->s.status ||
	    memcmp(st->eeprom, e->s.eeprom, sizeof(st->eeprom)) ||
	    st->phy[PHY_ID1] != phy_reset_values[PHY_ID1] ||
	    st->phy[PHY_ID2] != phy_reset_values[PHY_ID2] ||
	    (st->icr | st->ims) & ~ICR_VALID || st->delayed & ~(ICR_RXT0 | ICR_TXDW) ||
	    st->rdlen > 0xfffff || st->tdlen > 0xfffff || st->rdh > 0xffff || st->rdt > 0xffff ||
	    st->tdh > 0xffff || st->tdt > 0xffff || st->ee_reading > 1 || st->ee_bits_in > 0xffff ||
	    st->eecd & ~EECD_WRITABLE || st->ctrl & (CTRL_RST | CTRL_PHY_RST))
		return -EINVAL;
	if (e->pci.host)
		return pci_dev_cfg_check(&e->pci, st->pci_cfg);
	return memcmp(st->pci_cfg, e->pci.cfg, 0x10) ? -EINVAL : 0;
}

int e1000_restore(struct e1000 *e, const struct e1000_state *st)
{
	int ret;

	pthread_mutex_lock(&e->tx_lock);
	pthread_mutex_lock(&e->lock);
	ret = state_check(e, st);
	if (!ret && e->pci.host)
		ret = pci_dev_cfg_load(&e->pci, st->pci_cfg);
	if (!ret) {
		e->s = *st;
		if (!e->pci.host)
			memcpy(e->pci.cfg, st->pci_cfg, PCI_CFG_SIZE);
		/* what waited for a delay timer is due now */
		e->s.icr |= e->s.delayed;
		e->s.delayed = 0;
		e->dl_itr = e->dl_rx = e->dl_tx = 0;
		e->irq_next = 0;
		e->tx_stopped = e->rx_stopped = false;
		e->gen++;
		e->level = -1; /* set the line again, whatever it was */
		set_line(e, 0);
		update_irq(e);
		arm_timer(e);
		kick(e);
	}
	pthread_mutex_unlock(&e->lock);
	pthread_mutex_unlock(&e->tx_lock);
	return ret;
}

/* --- the device kind: --net tap=NAME|bridge=BR|user[,...],model=e1000 --- */

static int kind_parse(const char *spec, void **opts)
{
	struct vopt_net *o;
	int ret = net_opts_parse(spec, &o);

	if (ret)
		return ret;
	if (!o->model || strcmp(o->model, "e1000")) { /* another kind's spec */
		vsrv_log("--net %s: not an e1000 spec (no model=e1000)", spec);
		net_opts_free(o);
		return -EINVAL;
	}
	if (o->queues > 1 || o->has_transport) {
		vsrv_log("--net %s: the e1000 is a PCI device with one queue: no queues= or "
			 "transport=", spec);
		net_opts_free(o);
		return -EINVAL;
	}
	*opts = o;
	return 0;
}

static int kind_create(struct vdevs *v, struct device_entry *en, const void *opts,
		       unsigned idx)
{
	const struct vopt_net *o = opts;
	struct net_backend *be;
	struct e1000 *e;
	int ret;

	snprintf(en->name, sizeof(en->name), "e1000-%u", idx);
	snprintf(en->label, sizeof(en->label), "net%u", idx);
	ret = net_rom_load(v, en, o, NET_ROM_E1000); /* iPXE with --firmware */
	if (!ret)
		ret = net_backend_open(o, &be);
	if (ret)
		return ret;
	en->bus_or_backend = net_backend_word(o);
	memcpy(en->ifname, be->ifname, sizeof(en->ifname));
	ret = e1000_create(&v->host, be, o->has_mac ? o->mac : NULL, en->gsi, en->name, &e);
	if (ret)
		return ret;
	en->priv = e;
	en->pcidev = e1000_pci(e);
	en->nstats = e1000_stats(e);
	return 0;
}

static void kind_destroy(struct vdevs *v, struct device_entry *en)
{
	(void)v;
	e1000_destroy(en->priv);
}

static int kind_save(struct device_entry *en, void *st)
{
	return e1000_save(en->priv, st);
}

static int kind_restore(struct device_entry *en, const void *st)
{
	return e1000_restore(en->priv, st);
}

static void kind_quiesce(struct device_entry *en, bool on)
{
	e1000_quiesce(en->priv, on);
}

static void kind_mac(struct device_entry *en, uint8_t mac[6])
{
	e1000_mac(en->priv, mac);
}

_Static_assert(sizeof(struct e1000_state) <= VDEV_STATE_MAX, "fits a state entry");

const struct device_kind e1000_kind = {
	.name = "e1000",
	.id = 9,
	.option = "net",
	.words = (const char *const[]){ "e1000", NULL },
	.usage = "tap=NAME|bridge=BR|user[,...],model=e1000",
	.bus = DEVICE_BUS_PCI,
	.parse = kind_parse,
	.opts_free = net_opts_free,
	.check = net_opts_check,
	.create = kind_create,
	.destroy = kind_destroy,
	.state_size = sizeof(struct e1000_state),
	.save = kind_save,
	.restore = kind_restore,
	.quiesce = kind_quiesce,
	.mac = kind_mac,
};
