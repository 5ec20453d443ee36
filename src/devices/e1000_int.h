/* Internal to the e1000 device (e1000.c: registers, interrupts, life cycle, state, kind;
 * e1000_rx.c: reception and the I/O thread's handlers). Not for other files. */
#ifndef VSRV_DEVICES_E1000_INT_H
#define VSRV_DEVICES_E1000_INT_H

#include "devices/e1000.h"

#include <pthread.h>

#define RX_MAX 16384          /* the longest frame accepted (LPE): the largest buffer */
#define RX_BATCH 64           /* TAP frames per wake-up */

struct e1000 {
	struct pci_dev pci;
	char name[32];
	struct guest_mem *mem;
	void *vm;
	int (*irq_line)(void *vm, uint32_t gsi, int level);
	uint32_t gsi;
	uint8_t mac0[6];
	struct net_backend *be;
	/* lock: the registers (s), the line, the deadlines. Never held across a send. */
	pthread_mutex_t lock;
	struct e1000_state s;
	int level;
	uint32_t gen;              /* moves on at every reset and restore */
	bool tx_stopped, rx_stopped; /* a ring error: until the driver sets the ring again */
	bool rx_blocked;           /* TAP not read until the guest gives receive buffers */
	bool logged;
	bool quiesced;             /* no ring is walked (save, migration) */
	unsigned errors;
	/* moderation (CLOCK_MONOTONIC ns; 0: not armed) */
	uint64_t irq_next;         /* ITR: no interrupt before */
	uint64_t dl_itr, dl_rx, dl_tx, rx_first, tx_first;
	/* the I/O thread */
	struct evloop *loop;
	pthread_t thread;
	bool running;
	int kickfd, timerfd;
	pthread_mutex_t tx_lock;   /* held for a transmit batch (save waits for it) */
	uint8_t *txbuf, *txseg;
	uint8_t rxbuf[RX_MAX + 64];     /* the frame being delivered (under lock) */
	uint8_t tapbuf[RX_MAX + 64];    /* read from the TAP (I/O thread) */
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;
	unsigned sync_done;
	struct vnet_stats st;
};


/* e1000.c, under lock: */
uint64_t e1000_now(void);
/* Count a ring error and log the first one. */
void e1000_ring_error(struct e1000 *e, const char *what);
/* Set cause c in ICR (the line follows, as moderation allows). */
void e1000_set_cause(struct e1000 *e, uint32_t c);
/* Set cause in delay (1.024 us units) from now, at most abs after the first delayed one. */
void e1000_delay_cause(struct e1000 *e, uint32_t cause, uint32_t delay, uint32_t abs,
		       uint64_t *dl, uint64_t *first);

/* e1000_rx.c, on the I/O thread (on_tap, on_kick) or a callback backend's thread: */
void e1000_on_tap(void *opaque, uint32_t events);
void e1000_on_kick(void *opaque, uint32_t events);
/* Send everything up to TDT (I/O thread). */
void e1000_tx(struct e1000 *e);

#endif
