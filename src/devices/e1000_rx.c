/* The e1000's data path glue: reception into the legacy receive ring (filters, VLAN
 * stripping, checksum status, the FCS), the TAP queue read on the I/O thread, the
 * transmit batch that a TDT write asks for (the walker is e1000_tx.c), and e1000_sync. */
#include "devices/e1000_int.h"
#include "devices/virtio/net.h"
#include "util/log.h"
#include "vmm/evloop.h"
#include "vmm/mem.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

static void put16le(uint8_t *p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
static uint16_t get16be(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void add64(struct e1000_state *s, unsigned lo, uint64_t v)
{
	uint64_t x = ((uint64_t)s->stats[lo + 1] << 32 | s->stats[lo]) + v;

	s->stats[lo] = (uint32_t)x;
	s->stats[lo + 1] = (uint32_t)(x >> 32);
}

static void stat_inc(struct e1000_state *s, unsigned i)
{
	if (s->stats[i] != UINT32_MAX)
		s->stats[i]++;
}

/* The receive filter: exact addresses (RAL/RAH), the multicast table, broadcast and the
 * promiscuous modes. */
static bool accept(const struct e1000_state *s, const uint8_t *f)
{
	static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	unsigned mo = (s->rctl >> RCTL_MO_SHIFT) & 3, h;

	for (int i = 0; i < 16; i++) {
		uint32_t lo = s->ra[2 * i], hi = s->ra[2 * i + 1];
		uint8_t a[6] = { lo, lo >> 8, lo >> 16, lo >> 24, hi, hi >> 8 };

		if ((hi & RAH_AV) && !memcmp(a, f, 6))
			return true;
	}
	if (!memcmp(f, bc, 6))
		return (s->rctl & (RCTL_BAM | RCTL_MPE)) != 0;
	if (f[0] & 1) {
		if (s->rctl & RCTL_MPE)
			return true;
		/* 12 bits of the address picked by the multicast offset */
		h = ((unsigned)f[4] >> (4 - mo) | (unsigned)f[5] << (4 + mo)) & 0xfff;
		return (s->mta[h >> 5] >> (h & 31)) & 1;
	}
	return (s->rctl & RCTL_UPE) != 0;
}

/* The checksum status of an IPv4 frame f (len bytes, no VLAN tag) as the descriptor
 * reports it. */
static void rx_csum(const struct e1000_state *s, const uint8_t *f, size_t len,
		    uint8_t *status, uint8_t *err)
{
	size_t ihl, tot;
	uint32_t ps;
	unsigned proto;

	if (!(s->rxcsum & (RXCSUM_IPOFLD | RXCSUM_TUOFLD))) {
		*status |= RXD_STAT_IXSM;
		return;
	}
	if (len < 34 || get16be(f + 12) != 0x0800 || (f[14] >> 4) != 4)
		return;
	ihl = (size_t)(f[14] & 15) * 4;
	tot = get16be(f + 16);
	if (ihl < 20 || 14 + ihl > len || tot < ihl || 14 + tot > len)
		return;
	if (s->rxcsum & RXCSUM_IPOFLD) {
		*status |= RXD_STAT_IPCS;
		if (e1000_csum_fold(e1000_csum_add(0, f + 14, ihl)))
			*err |= RXD_ERR_IPE;
	}
	proto = f[23];
	if (!(s->rxcsum & RXCSUM_TUOFLD) || (get16be(f + 20) & 0x3fff) ||
	    (proto != 6 && proto != 17) || tot - ihl < (proto == 6 ? 20u : 8u))
		return;
	if (proto == 17 && !get16be(f + 14 + ihl + 6))
		return; /* UDP without a checksum */
	ps = e1000_csum_add(0, f + 26, 8) + proto + (uint32_t)(tot - ihl);
	*status |= RXD_STAT_TCPCS;
	if (e1000_csum_fold(e1000_csum_add(ps, f + 14 + ihl, tot - ihl)))
		*err |= RXD_ERR_TCPE;
}

static size_t buf_size(uint32_t rctl)
{
	static const size_t plain[4] = { 2048, 1024, 512, 256 }, ext[4] = { 2048, 16384, 8192, 4096 };
	unsigned b = (rctl >> RCTL_BSIZE_SHIFT) & 3;

	return rctl & RCTL_BSEX ? ext[b] : plain[b];
}

static void count_rx(struct e1000_state *s, const uint8_t *f, size_t wire)
{
	static const unsigned lim[] = { 64, 127, 255, 511, 1023 };
	unsigned i;

	stat_inc(s, ST_GPRC);
	stat_inc(s, ST_TPR);
	add64(s, ST_GORCL, wire);
	add64(s, ST_TORL, wire);
	for (i = 0; i < 5 && wire > lim[i]; i++)
		;
	stat_inc(s, ST_PRC64 + i);
	if (!memcmp(f, "\xff\xff\xff\xff\xff\xff", 6))
		stat_inc(s, ST_BPRC);
	else if (f[0] & 1)
		stat_inc(s, ST_MPRC);
}

/* Descriptors the guest has given (RDH up to RDT), or -1 when the ring is bad. */
static long rx_free(struct e1000 *e)
{
	struct e1000_state *s = &e->s;
	uint64_t base = (uint64_t)s->rdbah << 32 | s->rdbal;
	uint32_t n = s->rdlen / E1000_DESC;

	if (e->rx_stopped)
		return -1;
	if (!s->rdlen || s->rdlen % 128 || !guest_mem_ptr(e->mem, base, s->rdlen) ||
	    s->rdh >= n || s->rdt >= n) {
		e->rx_stopped = true;
		e1000_ring_error(e, "receive ring outside RAM, of a bad length, or head/tail past it");
		return -1;
	}
	return (long)((s->rdt + n - s->rdh) % n);
}

/* Deliver one frame (under lock). 0: delivered or dropped as hardware would (counted);
 * -EAGAIN: the ring has too few descriptors now (nothing done). */
static int rx_one(struct e1000 *e, const uint8_t *frame, size_t len)
{
	struct e1000_state *s = &e->s;
	uint64_t base = (uint64_t)s->rdbah << 32 | s->rdbal;
	uint8_t *p = e->rxbuf, status = 0, err = 0;
	uint16_t special = 0;
	size_t bs = buf_size(s->rctl), total, done = 0, max;
	uint32_t n, i, need, pcs;
	long avail;

	if (!(s->rctl & RCTL_EN))
		return 0;
	if (e->quiesced)
		return -EAGAIN;
	if (len < 14) {
		stat_inc(s, ST_RUC);
		return 0;
	}
	max = (s->rctl & RCTL_LPE) ? RX_MAX : 1518;
	if (len > max + (get16be(frame + 12) == s->vet ? 4 : 0)) {
		stat_inc(s, ST_ROC);
		return 0;
	}
	if (!accept(s, frame))
		return 0;
	avail = rx_free(e);
	if (avail < 0) {
		stat_inc(s, ST_MPC);
		return 0;
	}
	memcpy(p, frame, len);
	if ((s->ctrl & CTRL_VME) && len >= 18 && get16be(p + 12) == (uint16_t)s->vet) {
		special = get16be(p + 14);
		memmove(p + 12, p + 16, len - 16);
		len -= 4;
		status |= RXD_STAT_VP;
	}
	if (len < 60) { /* the shortest frame on the wire */
		memset(p + len, 0, 60 - len);
		len = 60;
	}
	total = len;
	if (!(s->rctl & RCTL_SECRC)) { /* the FCS stays, as on the wire */
		uint32_t crc = (uint32_t)crc32(0, p, (uInt)len);

		memcpy(p + len, &crc, 4);
		total += 4;
	}
	n = s->rdlen / E1000_DESC;
	need = (uint32_t)((total + bs - 1) / bs);
	if ((long)need > avail) {
		stat_inc(s, ST_RNBC);
		return -EAGAIN;
	}
	rx_csum(s, p, len, &status, &err);
	pcs = s->rxcsum & 0xff;
	pcs = pcs < len ? e1000_csum_add(0, p + pcs, len - pcs) : 0;
	while (pcs >> 16)
		pcs = (pcs & 0xffff) + (pcs >> 16);
	for (i = 0; i < need; i++) {
		uint8_t *d = guest_mem_ptr(e->mem, base + (uint64_t)s->rdh * E1000_DESC, E1000_DESC);
		size_t chunk = total - done < bs ? total - done : bs;
		uint64_t addr;
		void *dst;
		uint8_t st = RXD_STAT_DD, er = 0;

		memcpy(&addr, d, 8);
		dst = guest_mem_ptr(e->mem, addr, chunk);
		if (dst) {
			memcpy(dst, p + done, chunk);
			guest_mem_track(e->mem, dst, chunk);
		} else {
			er = 0x80; /* RXE: the driver drops the frame */
			e->errors++;
			if (!e->logged)
				vsrv_log("%s: receive buffer outside guest RAM", e->name);
			e->logged = true;
		}
		done += chunk;
		if (i == need - 1) {
			st |= RXD_STAT_EOP | status;
			er |= err;
		}
		put16le(d + 8, (uint16_t)chunk);
		put16le(d + 10, (uint16_t)pcs);
		d[13] = er;
		put16le(d + 14, special);
		__atomic_store_n(&d[12], st, __ATOMIC_RELEASE);
		guest_mem_track(e->mem, d + 8, 8);
		s->rdh = (s->rdh + 1) % n;
	}
	count_rx(s, p, len + 4); /* on the wire: with the FCS */
	vstat_add(&e->st.rx_packets, 1);
	vstat_add(&e->st.rx_bytes, len);
	if (!s->rdtr)
		e1000_set_cause(e, ICR_RXT0);
	else
		e1000_delay_cause(e, ICR_RXT0, s->rdtr, s->radv, &e->dl_rx, &e->rx_first);
	if ((uint32_t)((s->rdt + n - s->rdh) % n) < n >> (1 + ((s->rctl >> RCTL_RDMTS_SHIFT) & 3)))
		e1000_set_cause(e, ICR_RXDMT0);
	return 0;
}

void e1000_receive(void *opaque, const uint8_t *frame, size_t len)
{
	struct e1000 *e = opaque;

	pthread_mutex_lock(&e->lock);
	if (rx_one(e, frame, len) == -EAGAIN) {
		stat_inc(&e->s, ST_MPC); /* a callback backend cannot wait: dropped */
		vstat_add(&e->st.rx_drops, 1);
	}
	pthread_mutex_unlock(&e->lock);
}

void e1000_on_tap(void *opaque, uint32_t events)
{
	struct e1000 *e = opaque;
	int fd = e->be->fd[0];
	size_t hdr = e->be->vnet_hdr ? VNET_HDR_LEN : 0;

	(void)events;
	for (int i = 0; i < RX_BATCH; i++) {
		ssize_t got;
		int r;

		pthread_mutex_lock(&e->lock);
		if ((e->s.rctl & RCTL_EN) && (e->quiesced || rx_free(e) == 0)) {
			/* no buffers: the TAP's queue holds the frames until RDT moves */
			if (!e->quiesced)
				stat_inc(&e->s, ST_RNBC);
			e->rx_blocked = true;
			pthread_mutex_unlock(&e->lock);
			evloop_mod(e->loop, fd, 0);
			return;
		}
		pthread_mutex_unlock(&e->lock);
		got = read(fd, e->tapbuf, sizeof(e->tapbuf));
		if (got <= (ssize_t)hdr)
			return;
		pthread_mutex_lock(&e->lock);
		r = rx_one(e, e->tapbuf + hdr, (size_t)got - hdr);
		if (r == -EAGAIN) { /* a frame longer than the buffers left: dropped */
			stat_inc(&e->s, ST_MPC);
			vstat_add(&e->st.rx_drops, 1);
		}
		pthread_mutex_unlock(&e->lock);
	}
}

static int tx_send(void *opaque, const uint8_t *frame, size_t len)
{
	struct e1000 *e = opaque;
	static const uint8_t zero_hdr[VNET_HDR_LEN];
	struct iovec iov[2] = { { (void *)zero_hdr, VNET_HDR_LEN }, { (void *)frame, len } };
	int ret;

	if (e->be->vnet_hdr)
		ret = e->be->send(e->be, 0, iov, 2, VNET_HDR_LEN + len);
	else
		ret = e->be->send(e->be, 0, iov + 1, 1, len);
	if (ret) {
		vstat_add(&e->st.tx_drops, 1);
	} else {
		vstat_add(&e->st.tx_packets, 1);
		vstat_add(&e->st.tx_bytes, len);
	}
	return ret;
}

void e1000_tx(struct e1000 *e)
{
	struct e1000_state *s = &e->s;
	struct e1000_txctx ctx;
	struct e1000_tx t;
	uint32_t gen, old_head;
	int ret;

	pthread_mutex_lock(&e->tx_lock);
	pthread_mutex_lock(&e->lock);
	if (!(s->tctl & TCTL_EN) || e->tx_stopped || e->quiesced || s->tdh == s->tdt) {
		pthread_mutex_unlock(&e->lock);
		pthread_mutex_unlock(&e->tx_lock);
		return;
	}
	ctx = s->ctx;
	gen = e->gen;
	memset(&t, 0, sizeof(t));
	t.mem = e->mem;
	t.base = (uint64_t)s->tdbah << 32 | s->tdbal;
	t.len = s->tdlen;
	t.head = old_head = s->tdh;
	t.tail = s->tdt;
	t.vet = s->vet;
	t.vme = s->ctrl & CTRL_VME;
	t.ctx = &ctx;
	t.send = tx_send;
	t.opaque = e;
	t.buf = e->txbuf;
	t.seg = e->txseg;
	pthread_mutex_unlock(&e->lock);
	/* the guest's descriptors and buffers, and the backend, without the lock */
	ret = e1000_tx_run(&t);
	pthread_mutex_lock(&e->lock);
	if (gen != e->gen) {
		/* reset meanwhile: what was sent is gone with the old rings */
	} else if (ret) {
		e->tx_stopped = true;
		e1000_ring_error(e, "transmit ring outside RAM, of a bad length, or head/tail past it");
	} else {
		s->tdh = t.head;
		s->ctx = ctx;
		for (int i = 0; i < E1000_NSTATS; i++)
			if (t.stats[i])
				s->stats[i] += t.stats[i];
		add64(s, ST_GOTCL, t.bytes);
		add64(s, ST_TOTL, t.bytes);
		if (t.bad) {
			e->errors += t.bad;
			if (!e->logged)
				vsrv_log("%s: %s; packet dropped", e->name, t.why);
			e->logged = true;
		}
		if (t.causes)
			e1000_set_cause(e, t.causes);
		if (t.delay)
			e1000_delay_cause(e, ICR_TXDW, s->tidv, s->tadv, &e->dl_tx, &e->tx_first);
		if (s->tdh == s->tdt && s->tdh != old_head)
			e1000_set_cause(e, ICR_TXQE);
	}
	pthread_mutex_unlock(&e->lock);
	pthread_mutex_unlock(&e->tx_lock);
}

void e1000_on_kick(void *opaque, uint32_t events)
{
	struct e1000 *e = opaque;
	uint64_t v;
	bool unblock = false;

	(void)events;
	if (read(e->kickfd, &v, 8) < 0 && errno != EAGAIN)
		return;
	e1000_tx(e);
	pthread_mutex_lock(&e->lock);
	if (e->rx_blocked && !e->quiesced && (!(e->s.rctl & RCTL_EN) || rx_free(e) != 0)) {
		e->rx_blocked = false;
		unblock = true;
	}
	pthread_mutex_unlock(&e->lock);
	if (unblock)
		evloop_mod(e->loop, e->be->fd[0], EPOLLIN);
}

/* A test waits for the I/O thread: what a kick would have done, then it answers. */
static void sync_fn(void *opaque)
{
	struct e1000 *e = opaque;

	e1000_on_kick(e, 0); /* what a kick would have done, whether or not it came yet */
	pthread_mutex_lock(&e->sync_lock);
	e->sync_done++;
	pthread_cond_broadcast(&e->sync_cond);
	pthread_mutex_unlock(&e->sync_lock);
}

void e1000_sync(struct e1000 *e)
{
	unsigned want;

	pthread_mutex_lock(&e->sync_lock);
	want = e->sync_done + 1;
	pthread_mutex_unlock(&e->sync_lock);
	if (evloop_post(e->loop, sync_fn, e))
		return;
	pthread_mutex_lock(&e->sync_lock);
	while ((int)(e->sync_done - want) < 0)
		pthread_cond_wait(&e->sync_cond, &e->sync_lock);
	pthread_mutex_unlock(&e->sync_lock);
}
