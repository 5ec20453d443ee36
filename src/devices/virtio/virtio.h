/* The virtio device core shared by every device and both transports (virtio-mmio v2 and
 * virtio-pci modern): feature negotiation, the status state machine, the queues, the
 * device's I/O thread, and interrupts.
 *
 * Threads: transport registers are accessed from vCPU threads (bus handlers); queues are
 * served on the device's own I/O thread (one per device, an epoll loop over the queues'
 * kick eventfds and the device's own fds). Both sides take dev->lock only briefly: no
 * guest-visible I/O ever runs under it, so a vCPU never waits for disk or network.
 * A device never blocks a vCPU: kicks arrive through eventfds (KVM ioeventfds when the
 * host provides them), interrupts leave through eventfds (KVM irqfds). */
#ifndef VSRV_DEVICES_VIRTIO_VIRTIO_H
#define VSRV_DEVICES_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtq.h"
#include "vmm/bus.h"
#include "vmm/mem.h"

#define VIRTIO_F_INDIRECT_DESC  28
#define VIRTIO_F_EVENT_IDX      29
#define VIRTIO_F_VERSION_1      32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED    34

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

#define VIRTIO_ISR_QUEUE  1
#define VIRTIO_ISR_CONFIG 2

#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_SCSI    8

#define VIRTIO_MAX_QUEUES 17

/* What the VMM provides to devices. Callbacks may be NULL when the host has no KVM (unit
 * tests): transports then signal kick eventfds from their bus handlers, and interrupt
 * eventfds are only written (a test reads them). */
struct virtio_host {
	struct guest_mem *mem;
	struct bus *mmio;
	struct bus *pio;
	void *vm; /* passed back to the callbacks */
	/* KVM_IOEVENTFD: efd fires on a guest write of len bytes to MMIO addr (with datamatch,
	 * only when the written value equals data). assign=false removes it. 0 or -errno. */
	int (*ioeventfd)(void *vm, int efd, uint64_t addr, uint32_t len, bool datamatch,
			 uint64_t data, bool assign);
	/* KVM_IRQFD: writing efd raises gsi (edge). assign=false detaches. 0 or -errno. */
	int (*irqfd)(void *vm, int efd, uint32_t gsi, bool assign);
	/* Route an MSI: *gsi == 0 allocates a GSI for it (returned in *gsi), otherwise
	 * updates that GSI's route. 0 or -errno. */
	int (*msi_route)(void *vm, uint32_t *gsi, uint64_t addr, uint32_t data);
	/* KVM_IRQ_LINE: set the level of gsi (a PCI INTx line: 1 asserted). 0 or -errno.
	 * NULL without KVM: devices keep the level for a test to read. */
	int (*irq_line)(void *vm, uint32_t gsi, int level);
};

struct virtio_dev;

struct virtio_dev_ops {
	uint32_t device_id;
	/* Device config space access (offset inside the device config, len 1/2/4/8). Reads
	 * out of range return zeros, writes out of range are ignored. Called under dev->lock. */
	void (*config_access)(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len,
			      bool is_write);
	/* Queue q was kicked (or has work): serve it. Called on the device's I/O thread,
	 * without dev->lock. */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
	/* The driver reset the device (status 0) or set DRIVER_OK (active = true). Called under
	 * dev->lock: only flip state, never block. May be NULL. */
	void (*status_change)(struct virtio_dev *d, bool active);
	/* virtio_dev_quiesce: finish every request already taken from the rings (complete it
	 * and push it to the used ring, interrupting as usual) without taking new ones.
	 * Called on the I/O thread, without dev->lock. 0 or -errno. May be NULL for devices
	 * that complete each request before they return to their event loop. */
	int (*quiesce)(struct virtio_dev *d);
};

/* How a transport raises interrupts: q >= 0 for queue q, -1 for a config change. Called
 * under dev->lock. */
typedef void (*virtio_signal_fn)(struct virtio_dev *d, int q);

struct virtio_worker;

/* Plain state, what save/restore keeps for the transport-independent part (the queues'
 * registers, including those of queues configured but not enabled yet, are in vq[]). */
struct virtio_dev_state {
	uint64_t driver_features;
	uint32_t status;
	uint32_t config_gen;
	uint32_t isr;
	uint32_t generation; /* bumped by every reset: completions of older requests are dropped */
	struct virtq_state vq[VIRTIO_MAX_QUEUES];
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;                 /* the device's own state */
	char name[48];              /* e.g. "virtio-blk0 (disk.vhd)" */
	struct virtio_host *host;   /* not owned */
	pthread_mutex_t lock;
	uint64_t host_features;
	uint16_t queue_max;
	unsigned nq;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	char vq_name[VIRTIO_MAX_QUEUES][72];
	int kick_fd[VIRTIO_MAX_QUEUES]; /* eventfds, owned */
	struct virtio_dev_state st;
	bool bad_notify_logged;
	virtio_signal_fn signal;     /* set by the transport */
	void *transport;             /* the transport's state */
	struct virtio_worker *worker;
	/* Counters for VSRV_STATS (printed by virtio_dev_destroy): notifications the I/O
	 * thread received (ioeventfd or bus), those that came through the bus handler (a
	 * user-space exit, already in the vCPU's exit count), interrupts raised. */
	uint64_t stat_kicks, stat_bus_kicks, stat_irqs;
	uint64_t stat_own_kicks; /* kicks the device core gave itself (DRIVER_OK, restore) */
};

/* Set up d (caller-allocated, e.g. inside the device's struct): nq queues of up to
 * queue_max entries, the given device features (VERSION_1, INDIRECT_DESC, EVENT_IDX and
 * RING_PACKED are added). Creates the kick eventfds; the I/O thread starts with virtio_dev_start.
 * Returns 0 or -errno. */
int virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *priv,
		    struct virtio_host *host, const char *name, unsigned nq, uint16_t queue_max,
		    uint64_t features);

/* Start the I/O thread. Returns 0 or -errno. */
int virtio_dev_start(struct virtio_dev *d);

/* Watch an extra fd on the device's I/O thread (before virtio_dev_start or from the I/O
 * thread). fn runs on the I/O thread without dev->lock. Returns 0 or -errno. */
int virtio_dev_watch(struct virtio_dev *d, int fd, uint32_t events,
		     void (*fn)(struct virtio_dev *d, int fd, uint32_t events));

/* Stop watching fd (I/O thread or before start). Returns 0 or -ENOENT. */
int virtio_dev_unwatch(struct virtio_dev *d, int fd);

/* Change the events watched on fd. */
int virtio_dev_watch_mod(struct virtio_dev *d, int fd, uint32_t events);

/* Stop the I/O thread and close the kick eventfds. The caller frees d. */
void virtio_dev_destroy(struct virtio_dev *d);

/* --- used by transports (under dev->lock unless stated) --- */
uint32_t virtio_dev_features_read(struct virtio_dev *d, uint32_t sel);
void virtio_dev_features_write(struct virtio_dev *d, uint32_t sel, uint32_t val);
void virtio_dev_set_status(struct virtio_dev *d, uint32_t status);
/* Enable queue q as configured in d->vq[q].s, split or packed as negotiated. Sets
 * NEEDS_RESET on bad rings. */
void virtio_dev_queue_enable(struct virtio_dev *d, unsigned q);
/* A notification arrived through the bus (no ioeventfd): kick queue q. Any thread;
 * unknown queues are logged once and ignored. No lock needed. */
void virtio_dev_kick(struct virtio_dev *d, uint32_t q);
/* Mark the device broken: NEEDS_RESET, config interrupt, one log line with why. */
void virtio_dev_needs_reset(struct virtio_dev *d, const char *why);

/* --- used by devices on their I/O thread (these take dev->lock) --- */

/* Pop the next chain of queue q. Returns 1 (*e filled, *gen the device generation), 0 when
 * there is nothing to do (empty, not ready, device not running), -EIO when the ring is
 * malformed (the device then needs reset). An empty ring re-enables the driver's
 * notifications (virtq_arm) and is looked at once more: devices that finish every request
 * before popping the next use this. */
int virtio_pop(struct virtio_dev *d, unsigned q, struct virtq_elem *e, uint32_t *gen);
/* The same without re-enabling notifications when the ring is empty: for a device with
 * requests in flight, which looks at the ring again when they complete and calls
 * virtio_arm only when it goes idle. */
int virtio_pop_busy(struct virtio_dev *d, unsigned q, struct virtq_elem *e, uint32_t *gen);
/* Re-enable notifications on queue q (see virtq_arm); true when entries are waiting. */
bool virtio_arm(struct virtio_dev *d, unsigned q);
/* Whether queue q holds entries not popped yet (false when not running). */
bool virtio_has_avail(struct virtio_dev *d, unsigned q);
/* Complete a chain popped at generation gen; dropped if the device was reset since. */
void virtio_push(struct virtio_dev *d, unsigned q, uint32_t gen, uint16_t head, uint32_t len);
/* Interrupt the driver for queue q if it wants one. */
void virtio_notify(struct virtio_dev *d, unsigned q);
/* Raise a config-change interrupt (config_gen bumped). */
void virtio_config_changed(struct virtio_dev *d);
/* Whether the driver has set DRIVER_OK and the device is not broken. */
bool virtio_dev_running(struct virtio_dev *d);
/* Whether feature bit is negotiated. */
static inline bool virtio_has(const struct virtio_dev *d, unsigned bit)
{
	return (d->st.driver_features >> bit) & 1;
}

/* --- state (virtio_state.c) --- */

/* Bring d to a quiescent point for save: the I/O thread stops taking new work, the
 * device's quiesce op completes every request already popped (pushed to the used ring,
 * interrupt raised), then the thread parks. Requests still in the avail rings stay there
 * (the saved last_avail says where the device is). Transport registers keep working (the
 * vCPUs should be stopped anyway); kicks that arrive are served after virtio_dev_resume.
 * Calls nest: each needs its virtio_dev_resume. Not from d's own I/O thread (-EDEADLK).
 * Returns 0 or the quiesce op's -errno (the device is parked all the same). */
int virtio_dev_quiesce(struct virtio_dev *d);
/* Undo one virtio_dev_quiesce; the last one lets the I/O thread go and makes it look at
 * every queue. Returns 0, or -EINVAL when d is not quiesced. */
int virtio_dev_resume(struct virtio_dev *d);
bool virtio_dev_quiesced(struct virtio_dev *d);
/* Make the I/O thread look at every queue (as if each had been notified). Any thread. */
void virtio_dev_kick_all(struct virtio_dev *d);

/* Save the transport-independent state (negotiated features, status, ISR, config
 * generation, every queue's registers and progress, including queues configured but not
 * enabled yet) into *s. Quiesces d around the copy, so every popped request is completed
 * first. Not saved: host features and queue_max (they come with the device's creation
 * options and are checked on restore), the I/O thread, eventfds and counters.
 * Returns 0, or the quiesce error (the state is copied all the same). */
int virtio_dev_save(struct virtio_dev *d, struct virtio_dev_state *s);
/* Check *s against d without changing anything: -EINVAL for feature bits d does not offer,
 * unknown status or ISR bits, and enabled queues (of any index) whose size, alignment or
 * ring areas in guest memory are wrong. 0 when virtio_dev_restore would accept it. */
int virtio_dev_check(struct virtio_dev *d, const struct virtio_dev_state *s);
/* Load *s into d (created with the same options, on the same guest memory), after
 * virtio_dev_check: nothing is changed when it fails (-EINVAL). The enabled queues get
 * their host views rebuilt, the device generation moves on (a completion of a request
 * popped before the restore is dropped), and every queue is looked at once. d should be
 * quiesced or not yet driven by a guest; the call quiesces it itself around the load. */
int virtio_dev_restore(struct virtio_dev *d, const struct virtio_dev_state *s);

/* Helpers for config space: copy from/to a little-endian buffer of size n. */
void virtio_config_copy(const void *cfg, uint32_t n, uint32_t off, uint8_t *data,
			uint32_t len);

#endif
