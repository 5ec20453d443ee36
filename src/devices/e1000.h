/* The e1000 NIC: an Intel 82540EM (8086:100E) as a PCI function, for guests without
 * virtio drivers (Windows' and most systems' in-box driver). BAR0: the 128 KiB register
 * space; BAR1: I/O ports IOADDR/IODATA; INTA#. The MAC address and the 0xBABA checksum in a
 * Microwire EEPROM (and EERD), an M88E1011 PHY behind MDIC (link up, 1000 Mb/s full
 * duplex, autonegotiation complete), legacy receive descriptors with receive address,
 * multicast table, broadcast and promiscuous filtering, legacy and extended transmit
 * descriptors with IP/TCP/UDP checksum offload and TCP segmentation (TSO), interrupt
 * moderation (ITR and the RDTR/RADV/TIDV/TADV delay timers) and the read-to-clear
 * statistics.
 *
 * Frames go through the network backends virtio-net uses (devices/virtio/net.h: TAP,
 * bridge, user-mode NAT). Threads: registers are accessed from vCPU threads (the bus
 * handlers); transmission (after a TDT write: one batch up to TDT per write), TAP
 * reception and the moderation timers run on the device's own I/O thread; user-mode NAT
 * hands frames over on its own thread. A vCPU never waits for the network. */
#ifndef VSRV_DEVICES_E1000_H
#define VSRV_DEVICES_E1000_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/e1000_regs.h"
#include "devices/pci.h"
#include "devices/virtio/stats.h"

struct guest_mem;
struct net_backend;
struct virtio_host;
struct e1000;

/* The offload context of the last context descriptor (e1000_tx.c). */
struct e1000_txctx {
	uint8_t ipcss, ipcso, tucss, tucso;
	uint16_t ipcse, tucse;
	uint32_t paylen;
	uint8_t hdrlen, tucmd;  /* TXD_CMD_TSE | TXD_TUCMD_IP | TXD_TUCMD_TCP */
	uint16_t mss;
};

/* Everything save/restore keeps: registers, EEPROM, PHY, offload context, PCI config. */
struct e1000_state {
	uint32_t magic;              /* E1000_STATE_MAGIC */
	uint32_t ctrl, status, eecd, ctrl_ext, mdic, eerd, fcal, fcah, fct, vet;
	uint32_t icr, itr, ims, rctl, fcttv, txcw, rxcw, tctl, tipg, ledctl, pba, fcrtl, fcrth;
	uint32_t rdbal, rdbah, rdlen, rdh, rdt, rdtr, rxdctl, radv, rsrpd;
	uint32_t tdbal, tdbah, tdlen, tdh, tdt, tidv, txdctl, tadv;
	uint32_t rxcsum, wuc, wufc, manc, ioaddr;
	uint32_t delayed;            /* causes waiting for their delay timers (RXT0, TXDW) */
	uint32_t stats[E1000_NSTATS];
	uint32_t mta[128], ra[32], vfta[128];
	uint16_t eeprom[EE_WORDS];
	uint16_t phy[32];
	/* the EEPROM's Microwire shift state */
	uint32_t ee_in, ee_bits_in, ee_bit_out, ee_reading;
	struct e1000_txctx ctx;
	uint8_t pci_cfg[PCI_CFG_SIZE];
};
#define E1000_STATE_MAGIC 0x30303031u /* "1000" */

/* Create an e1000 on host h (guest memory, the interrupt line callback) using backend b
 * (owned from then on, also on failure), INTA# on gsi. mac may be NULL (a random local
 * address). The PCI function (e1000_pci) is ready to be added to a host bridge. Returns 0
 * and *out (free with e1000_destroy), or -errno. */
int e1000_create(struct virtio_host *h, struct net_backend *b, const uint8_t *mac,
		 uint32_t gsi, const char *name, struct e1000 **out);
/* Stop the I/O thread and the backend, free. The PCI function must be off its host
 * bridge. NULL allowed. */
void e1000_destroy(struct e1000 *e);
struct pci_dev *e1000_pci(struct e1000 *e);
const struct vnet_stats *e1000_stats(const struct e1000 *e);
void e1000_mac(struct e1000 *e, uint8_t mac[6]);

/* For tests: the interrupt line's level, the ring errors counted so far (descriptor
 * rings or buffers outside RAM, bad lengths, heads or tails), and the BARs' handlers
 * (offset inside the BAR). */
int e1000_irq_level(struct e1000 *e);
unsigned e1000_errors(struct e1000 *e);
void e1000_mmio(void *e, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void e1000_pio(void *e, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
/* Wait until the I/O thread has served everything asked of it so far (tests). */
void e1000_sync(struct e1000 *e);
/* Hand a frame to the guest (what a callback backend calls). Any one thread. */
void e1000_receive(void *e, const uint8_t *frame, size_t len);

/* Stop walking the rings (on: a transmit batch under way completes first; frames that
 * arrive meanwhile wait in a TAP's queue or, from user-mode NAT, are dropped) or go on. */
void e1000_quiesce(struct e1000 *e, bool on);

/* Save the whole state (the device quiesced around the copy): 0. Restore: the state is
 * checked first (magic, read-only registers, EEPROM, ring registers inside their
 * fields, the PCI config space): -EINVAL with the device unchanged, else 0. */
int e1000_save(struct e1000 *e, struct e1000_state *st);
int e1000_restore(struct e1000 *e, const struct e1000_state *st);

/* --- the transmit descriptor walker (e1000_tx.c), also driven by fuzz/e1000_tx.c --- */

#define E1000_TX_MAX (65536 + 256) /* one packet's bytes (TSO: headers + 64 KiB) */

struct e1000_tx {
	/* in */
	struct guest_mem *mem;
	uint64_t base;          /* TDBA */
	uint32_t len;           /* TDLEN */
	uint32_t head, tail;    /* TDH (updated), TDT */
	uint32_t vet;
	bool vme;               /* CTRL.VME: VLE inserts a tag */
	struct e1000_txctx *ctx;
	int (*send)(void *opaque, const uint8_t *frame, size_t len);
	void *opaque;
	uint8_t *buf, *seg;     /* E1000_TX_MAX bytes each */
	/* out */
	uint32_t causes;        /* ICR_TXDW now */
	bool delay;             /* a descriptor asked for the delayed interrupt (IDE) */
	uint32_t stats[E1000_NSTATS]; /* transmit counters to add */
	uint64_t bytes;         /* octets sent */
	unsigned bad;           /* packets dropped as malformed (bad buffers, TSO) */
	const char *why;        /* the first reason, for the log */
};

/* Process descriptors head .. tail: each complete packet (up to its EOP) is built,
 * offloaded and sent; a packet whose EOP is not before tail waits. Returns 0, or -EINVAL
 * when the ring itself is bad (length 0 or not a multiple of 128, outside RAM, head or
 * tail past its end): nothing is done then. */
int e1000_tx_run(struct e1000_tx *t);

/* One's complement sum of p[0..n) (big-endian words) added to sum, not folded; and the
 * folded, inverted checksum of such a sum. */
uint32_t e1000_csum_add(uint32_t sum, const uint8_t *p, size_t n);
uint16_t e1000_csum_fold(uint32_t sum);

#endif
