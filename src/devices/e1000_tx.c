/* The e1000 transmit descriptor walker: legacy descriptors (with their optional checksum
 * insertion), context descriptors and data descriptors (IP/TCP/UDP checksum insertion,
 * TCP/UDP segmentation), as the 8254x manual describes and Linux's e1000 driver sends them.
 * Everything the guest wrote is checked before it is used: a bad ring stops the walk, a bad
 * packet is dropped (its descriptors still complete). */
#include "devices/e1000.h"
#include "vmm/mem.h"

#include <errno.h>
#include <string.h>

static uint16_t get16be(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16be(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static uint32_t get32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put32be(uint8_t *p, uint32_t v)
{
	put16be(p, v >> 16);
	put16be(p + 2, v & 0xffff);
}

uint32_t e1000_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += get16be(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

uint16_t e1000_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Insert the checksum of f[css .. cse] (cse 0: to the end) at f[cso]. false when the
 * offsets do not fit the frame. */
static bool put_csum(uint8_t *f, size_t len, unsigned css, unsigned cso, unsigned cse,
		     bool udp)
{
	size_t end = cse ? (size_t)cse + 1 : len;
	uint16_t c;

	if (css >= len || (size_t)cso + 2 > len || end > len || end <= css)
		return false;
	c = e1000_csum_fold(e1000_csum_add(0, f + css, end - css));
	if (udp && c == 0)
		c = 0xffff;
	put16be(f + cso, c);
	return true;
}

static void count_sent(struct e1000_tx *t, const uint8_t *f, size_t len)
{
	static const unsigned lim[] = { 64, 127, 255, 511, 1023 };
	size_t wire = len + 4; /* with the FCS */
	unsigned i;

	t->stats[ST_GPTC]++;
	t->stats[ST_TPT]++;
	t->bytes += wire;
	for (i = 0; i < 5 && wire > lim[i]; i++)
		;
	t->stats[ST_PTC64 + i]++;
	if (f[0] == 0xff && !memcmp(f, "\xff\xff\xff\xff\xff\xff", 6))
		t->stats[ST_BPTC]++;
	else if (f[0] & 1)
		t->stats[ST_MPTC]++;
}

/* Send f (len >= 14), with a VLAN tag inserted when asked. */
static void emit(struct e1000_tx *t, uint8_t *f, size_t len, bool vle, uint16_t special)
{
	if (vle && t->vme && len >= 12 && len + 4 <= E1000_TX_MAX) {
		memmove(f + 16, f + 12, len - 12);
		put16be(f + 12, (uint16_t)t->vet);
		put16be(f + 14, special);
		len += 4;
	}
	if (len < 14)
		return;
	if (t->send(t->opaque, f, len) == 0)
		count_sent(t, f, len);
}

static void bad(struct e1000_tx *t, const char *why)
{
	t->bad++;
	if (!t->why)
		t->why = why;
}

/* Segment the packet in t->buf (len bytes: headers of ctx->hdrlen, then the payload) by
 * ctx->mss, each segment with its own IP length, id and checksum and TCP sequence number,
 * flags and checksum (or UDP length and checksum). */
static void tso(struct e1000_tx *t, size_t len, uint8_t popts, bool vle, uint16_t special)
{
	const struct e1000_txctx *c = t->ctx;
	bool v4 = c->tucmd & TXD_TUCMD_IP, tcp = c->tucmd & TXD_TUCMD_TCP;
	size_t hl = c->hdrlen, off;
	uint8_t *h = t->buf;
	uint16_t id = 0, seg = 0;
	uint32_t seq = 0;

	/* what the segments rewrite must lie inside the headers */
	if (!c->mss || hl < 14 || hl >= len || c->ipcss + (v4 ? 20u : 40u) > hl ||
	    c->tucss + (tcp ? 20u : 8u) > hl || c->tucso + 2u > hl ||
	    ((popts & TXD_POPTS_IXSM) && c->ipcso + 2u > hl) || c->tucss <= c->ipcss) {
		bad(t, "TSO context that does not fit the packet's headers");
		return;
	}
	if (v4)
		id = get16be(h + c->ipcss + 4);
	if (tcp)
		seq = get32be(h + c->tucss + 4);
	for (off = hl; off < len; off += c->mss, seg++) {
		size_t n = len - off < c->mss ? len - off : c->mss, sl = hl + n;
		uint8_t *s = t->seg;
		bool last = off + n >= len;
		uint32_t ph;

		memcpy(s, h, hl);
		memcpy(s + hl, h + off, n);
		if (v4) {
			put16be(s + c->ipcss + 2, (uint16_t)(sl - c->ipcss));
			put16be(s + c->ipcss + 4, (uint16_t)(id + seg));
		} else {
			put16be(s + c->ipcss + 4, (uint16_t)(sl - c->ipcss - 40));
		}
		if (tcp) {
			put32be(s + c->tucss + 4, seq + (uint32_t)(off - hl));
			if (!last) /* FIN and PSH on the last segment only */
				s[c->tucss + 13] &= ~0x09;
		} else {
			put16be(s + c->tucss + 4, (uint16_t)(sl - c->tucss));
		}
		if (v4 && (popts & TXD_POPTS_IXSM)) {
			put16be(s + c->ipcso, 0);
			put_csum(s, sl, c->ipcss, c->ipcso, c->ipcse, false);
		}
		if (popts & TXD_POPTS_TXSM) {
			/* the field holds the pseudo-header sum without the length: add it */
			ph = get16be(s + c->tucso) + (uint32_t)(sl - c->tucss);
			put16be(s + c->tucso, (uint16_t)((ph & 0xffff) + (ph >> 16)));
			put_csum(s, sl, c->tucss, c->tucso, 0, !tcp);
		}
		emit(t, s, sl, vle, special);
	}
	t->stats[ST_TSCTC]++;
}

static uint8_t *desc(struct e1000_tx *t, uint32_t i)
{
	return guest_mem_ptr(t->mem, t->base + (uint64_t)i * E1000_DESC, E1000_DESC);
}

/* A context descriptor: the offload context of the packets after it. */
static void context(struct e1000_tx *t, const uint8_t *d)
{
	struct e1000_txctx *c = t->ctx;

	c->ipcss = d[0];
	c->ipcso = d[1];
	c->ipcse = (uint16_t)(d[2] | d[3] << 8);
	c->tucss = d[4];
	c->tucso = d[5];
	c->tucse = (uint16_t)(d[6] | d[7] << 8);
	c->paylen = (uint32_t)(d[8] | d[9] << 8 | (d[10] & 0x0f) << 16);
	c->tucmd = d[11] & (TXD_CMD_TSE | TXD_TUCMD_IP | TXD_TUCMD_TCP);
	c->hdrlen = d[13];
	c->mss = (uint16_t)(d[14] | d[15] << 8);
}

/* The packet of descriptors first .. eop (inclusive, ring order): gather, offload, send. */
static void packet(struct e1000_tx *t, uint32_t first, uint32_t eop, uint32_t n)
{
	size_t len = 0;
	uint8_t popts = 0, *d, cmd = 0;
	uint16_t special = 0;
	bool ok = true, legacy = true, tse = false;
	unsigned css = 0, cso = 0;
	uint32_t i;

	for (i = first;; i = (i + 1) % n) {
		uint64_t addr;
		uint32_t blen;
		void *src;

		d = desc(t, i);
		memcpy(&addr, d, 8);
		cmd = d[11];
		if (cmd & TXD_CMD_DEXT) {
			if ((d[10] >> 4) != TXD_DTYP_DATA) {
				context(t, d); /* a context descriptor inside a packet */
				goto next;
			}
			blen = d[8] | d[9] << 8 | (d[10] & 0x0f) << 16;
			if (legacy) /* the first data descriptor sets the options */
				popts = d[13];
			legacy = false;
			tse = tse || (cmd & TXD_CMD_TSE);
		} else {
			blen = d[8] | d[9] << 8;
			cso = d[10];
			css = d[13];
		}
		if (!blen)
			goto next; /* allowed: nothing to gather */
		src = guest_mem_ptr(t->mem, addr, blen);
		if (!src) {
			if (ok)
				bad(t, "transmit buffer outside guest RAM");
			ok = false;
		} else if (len + blen > E1000_TX_MAX) {
			if (ok)
				bad(t, "transmit packet over 64 KiB");
			ok = false;
		} else if (ok) {
			memcpy(t->buf + len, src, blen);
			len += blen;
		}
next:
		if (cmd & TXD_CMD_IDE)
			t->delay = true;
		if (i == eop)
			break;
	}
	special = (uint16_t)(d[14] | d[15] << 8);
	if (!ok)
		return;
	if (len < 14) {
		bad(t, "transmit packet shorter than an Ethernet header");
		return;
	}
	if (tse) {
		tso(t, len, popts, cmd & TXD_CMD_VLE, special);
		return;
	}
	if (legacy && (cmd & TXD_CMD_IC) && !put_csum(t->buf, len, css, cso, 0, false))
		bad(t, "legacy checksum offsets outside the packet");
	if (!legacy && (popts & TXD_POPTS_IXSM) &&
	    !put_csum(t->buf, len, t->ctx->ipcss, t->ctx->ipcso, t->ctx->ipcse, false))
		bad(t, "IP checksum offsets outside the packet");
	if (!legacy && (popts & TXD_POPTS_TXSM) &&
	    !put_csum(t->buf, len, t->ctx->tucss, t->ctx->tucso, t->ctx->tucse,
		      !(t->ctx->tucmd & TXD_TUCMD_TCP)))
		bad(t, "TCP/UDP checksum offsets outside the packet");
	emit(t, t->buf, len, cmd & TXD_CMD_VLE, special);
}

/* Write back DD on the descriptors first .. last that asked for it (RS). */
static void done(struct e1000_tx *t, uint32_t first, uint32_t last, uint32_t n)
{
	for (uint32_t i = first;; i = (i + 1) % n) {
		uint8_t *d = desc(t, i);

		if (d[11] & TXD_CMD_RS) {
			__atomic_store_n(&d[12], (uint8_t)(d[12] | TXD_STAT_DD), __ATOMIC_RELEASE);
			guest_mem_track(t->mem, d + 12, 1);
		}
		if (i == last)
			break;
	}
}

int e1000_tx_run(struct e1000_tx *t)
{
	uint32_t n = t->len / E1000_DESC, i;

	if (!t->len || t->len % 128 || !guest_mem_ptr(t->mem, t->base, t->len) ||
	    t->head >= n || t->tail >= n)
		return -EINVAL;
	while (t->head != t->tail) {
		uint8_t *d = desc(t, t->head);

		if ((d[11] & TXD_CMD_DEXT) && (d[10] >> 4) != TXD_DTYP_DATA) {
			/* a context descriptor on its own */
			context(t, d);
			if (d[11] & TXD_CMD_IDE)
				t->delay = true;
			else if (d[11] & TXD_CMD_RS)
				t->causes |= ICR_TXDW;
			done(t, t->head, t->head, n);
			t->head = (t->head + 1) % n;
			continue;
		}
		/* a packet: only once its EOP is before tail */
		for (i = t->head; i != t->tail && !(desc(t, i)[11] & TXD_CMD_EOP); i = (i + 1) % n)
			;
		if (i == t->tail)
			break;
		packet(t, t->head, i, n);
		done(t, t->head, i, n);
		if (!(desc(t, i)[11] & TXD_CMD_IDE))
			t->causes |= ICR_TXDW;
		t->head = (i + 1) % n;
	}
	return 0;
}
