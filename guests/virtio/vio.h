/* Virtio drivers for the test-guest kit: virtio-mmio (version 2) and virtio-pci (modern,
 * configuration mechanism #1) transports, the split virtqueue (EVENT_IDX, indirect
 * descriptors), the packed virtqueue (`ring=packed` on the command line: VIRTIO_F_RING_PACKED
 * is then asked for, see vio_ring_packed) and small helpers for blk, scsi, net and rng.
 *
 * Where the code runs: on the PVM hosts we develop on, guest ring 3 computes natively and
 * ring 0 is emulated (~0.35-3 us per instruction). The drivers run in ring 3 (inside
 * rt_user_call) and touch the device registers straight from there (the TSS I/O bitmap allows
 * port I/O). A ring-0 stub reached by `int3` (#BP through a DPL-3 gate) can do the access
 * instead (`vio_gate` on the command line), but measured slower here (guests/README.md);
 * called in ring 0, the functions access the registers directly.
 *
 * Memory: vio_alloc() hands out zeroed, physically contiguous memory (identity-mapped) from
 * the RAM above the guest image; nothing is ever freed. The driver keeps no interrupts: it
 * polls the used rings (interrupts stay masked, MSI-X vectors unset).
 *
 * Everything here is single-CPU (no locking). */
#ifndef VSRV_GUESTS_VIRTIO_VIO_H
#define VSRV_GUESTS_VIRTIO_VIO_H

#include <stddef.h>
#include <stdint.h>

/* Device IDs. */
#define VIO_ID_NET     1
#define VIO_ID_BLK     2
#define VIO_ID_CONSOLE 3
#define VIO_ID_RNG     4
#define VIO_ID_SCSI    8

/* Common feature bits. */
#define VIO_F_INDIRECT  28
#define VIO_F_EVENT_IDX 29
#define VIO_F_VERSION_1 32
#define VIO_F_RING_PACKED 34

/* Status bits. */
#define VIO_S_ACK         1
#define VIO_S_DRIVER      2
#define VIO_S_DRIVER_OK   4
#define VIO_S_FEATURES_OK 8
#define VIO_S_NEEDS_RESET 64
#define VIO_S_FAILED      128

#define VIO_MMIO 1
#define VIO_PCI  2

#define VIO_MAX_QUEUES 4

struct vdev {
	int transport;          /* VIO_MMIO or VIO_PCI */
	uint32_t device_id;
	uint64_t base;          /* mmio: the register window; pci: common config */
	uint64_t notify;        /* pci: notify area, notify_mul: its multiplier */
	uint32_t notify_mul;
	uint64_t isr, devcfg;   /* pci: ISR status and device-specific config */
	unsigned pci_slot;      /* pci: device number on bus 0 */
	uint64_t features;      /* negotiated */
	char name[24];          /* "blk@mmio:0xd0000000" */
};

/* Split virtqueue (virtio 1.2 section 2.7). */
struct vq_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
#define VQ_DESC_F_NEXT     1
#define VQ_DESC_F_WRITE    2
#define VQ_DESC_F_INDIRECT 4

/* Packed virtqueue (section 2.8): descriptor ring entries and flags. */
struct vq_pdesc { uint64_t addr; uint32_t len; uint16_t id, flags; };
#define VQ_DESC_F_AVAIL (1 << 7)
#define VQ_DESC_F_USED  (1 << 15)
#define VQ_EVENT_ENABLE  0
#define VQ_EVENT_DISABLE 1
#define VQ_EVENT_DESC    2

struct vq {
	struct vdev *dev;
	uint16_t index, size;
	volatile struct vq_desc *desc;
	volatile uint16_t *avail;   /* flags, idx, ring[size], used_event */
	volatile uint32_t *used;    /* flags|idx, then {id, len} pairs, then avail_event */
	uint64_t notify_addr;       /* mmio: QueueNotify; pci: notify area + off * mul */
	uint16_t free_head, num_free;
	uint16_t avail_idx;         /* our copy of avail->idx */
	uint16_t kicked_idx;        /* avail->idx at the last notification decision */
	uint16_t last_used;
	int event_idx, indirect;    /* negotiated and wanted */
	volatile struct vq_desc *ind;  /* size * ind_max indirect descriptors, one table per head */
	unsigned ind_max;
	void **cookie;              /* per head */
	uint16_t *chain_len;        /* per head: descriptors used in the ring */
	uint64_t kicks, kicks_skipped; /* notifications written / suppressed by the device */
	/* Packed ring (packed != 0): ring and the two event suppression areas replace desc,
	 * avail and used; avail_idx/last_used are ring slots with their wrap counters, buffer
	 * ids come from a free list (id_next, free_head) and chain_len/cookie are per id. */
	int packed;
	volatile struct vq_pdesc *ring;
	volatile uint16_t *drv_evt;     /* ours: off_wrap, flags (we poll: DISABLE) */
	volatile uint16_t *dev_evt;     /* the device's: off_wrap, flags */
	uint16_t *id_next;
	uint8_t avail_wrap, used_wrap;
	uint16_t kicked_pos;            /* avail_idx + (wrap ? 0 : size) at the last kick */
};

/* One buffer of a request: device-readable (out) or device-writable (in). */
struct vio_sg { uint64_t addr; uint32_t len; };

/* --- setup -------------------------------------------------------------------------------- */
/* Install the ring-0 access stub (#BP gate). Call once in ring 0 before any other vio_ call. */
void vio_init(void);
/* Zeroed memory (never reused), `align` a power of two; fails the guest (rt_fail) when RAM runs out. */
void *vio_alloc(size_t size, size_t align);

/* Find the nth (from 0) device with this ID. `transport` is VIO_MMIO, VIO_PCI or 0 for
 * either (mmio first). Looks at `virtio_mmio.device=` on the command line, vsrv's windows
 * at 0xd0000000 (4 KiB apart) and QEMU microvm's at 0xfeb00000 (512 bytes apart), then PCI
 * bus 0. Fills *d; returns 0 or -1 when there is no such device. */
int vio_find(uint32_t device_id, int nth, int transport, struct vdev *d);
/* Transport wanted by the command line: `transport=mmio|pci`, else 0 (either). */
int vio_param_transport(void);
/* 1 when the command line says `ring=packed` (set by vio_init): vio_negotiate then asks for
 * VIRTIO_F_RING_PACKED and fails the guest when the device does not offer it. A guest may
 * clear it to drive rings itself. */
extern int vio_ring_packed;

/* Reset, ACK, DRIVER, offer `want & device features` (VERSION_1 always, RING_PACKED with
 * vio_ring_packed), FEATURES_OK.
 * Returns 0, or -1 (status FAILED set) when the device refuses. */
int vio_negotiate(struct vdev *d, uint64_t want);
/* Set up queue `index` with at most `size` entries (rounded down to the device's maximum,
 * and for split rings to a power of two), packed when RING_PACKED was negotiated. ind_max > 0 gives every head an indirect table of that many
 * descriptors (used when INDIRECT was negotiated). Returns 0 or -1. */
int vq_setup(struct vdev *d, struct vq *q, uint16_t index, uint16_t size, unsigned ind_max);
void vio_driver_ok(struct vdev *d);
uint8_t vio_status(struct vdev *d);
void vio_set_status(struct vdev *d, uint8_t s);
void vio_reset(struct vdev *d);
int vio_has(struct vdev *d, unsigned bit);

/* Device-specific configuration space. */
uint32_t vio_cfg_read(struct vdev *d, unsigned off, int width);  /* width 1, 2 or 4 */
uint64_t vio_cfg_read64(struct vdev *d, unsigned off);
void vio_cfg_write(struct vdev *d, unsigned off, int width, uint32_t v);

/* --- queues ------------------------------------------------------------------------------- */
/* Queue a request of n_out device-readable then n_in device-writable buffers; returns 0, or
 * -1 when the ring is full. Uses an indirect table when there are several buffers and
 * INDIRECT was negotiated. Split rings: nothing reaches the device before vq_kick; packed
 * rings: the request is available at once, vq_kick only notifies. */
int vq_add(struct vq *q, const struct vio_sg *sg, unsigned n_out, unsigned n_in, void *cookie);
/* Publish the added requests and notify the device unless it asked not to be (EVENT_IDX's
 * avail_event, or VIRTQ_USED_F_NO_NOTIFY; packed: the device event suppression's DISABLE,
 * or DESC at an offset the new requests did not reach). Returns 1 when it notified. */
int vq_kick(struct vq *q);
/* Notify unconditionally. */
void vq_notify(struct vq *q);

/* The packed ring's halves of vq_add, vq_kick and vq_get (pvirtq.c); call those instead. */
int vq_add_packed(struct vq *q, const struct vio_sg *sg, unsigned n_out, unsigned n_in, void *cookie);
int vq_kick_packed(struct vq *q);
void *vq_get_packed(struct vq *q, uint32_t *len);
/* Set up the packed parts of q (size and dev set); the transport registers come after. */
void vq_setup_packed(struct vq *q, unsigned ind_max);
/* Next completed request: its cookie and the length written (len may be NULL), or NULL. */
void *vq_get(struct vq *q, uint32_t *len);
/* Poll until a request completes or `ms` milliseconds pass (0: wait forever); NULL on time-out. */
void *vq_wait(struct vq *q, uint32_t *len, unsigned ms);

/* --- register access (ring 0 direct, ring 3 through the #BP stub) ----------------------- */
uint32_t vio_rd(uint64_t addr, int width);
void vio_wr(uint64_t addr, int width, uint32_t v);
uint32_t vio_inl(uint16_t port);
void vio_outl(uint16_t port, uint32_t v);
uint32_t vio_pci_cfg(unsigned slot, unsigned off);
void vio_pci_cfg_w(unsigned slot, unsigned off, uint32_t v);
/* 1: ring-3 accesses go through the #BP stub (`vio_gate` on the command line); 0 (default):
 * straight from ring 3. */
extern int vio_use_gate;
/* Register accesses made since boot (both rings), for the benchmarks. */
extern uint64_t vio_reg_accesses;

/* --- time --------------------------------------------------------------------------------- */
/* TSC ticks per millisecond (calibrated by vio_init). */
extern uint64_t vio_tsc_per_ms;
uint64_t vio_now_us(void);

static inline void vio_mb(void) { __asm__ volatile("lock addl $0, (%%rsp)" ::: "memory", "cc"); }
static inline void vio_barrier(void) { __asm__ volatile("" ::: "memory"); }

/* --- device helpers ------------------------------------------------------------------------- */
/* virtio-blk request types and status. */
#define VBLK_T_IN      0
#define VBLK_T_OUT     1
#define VBLK_T_FLUSH   4
#define VBLK_T_GET_ID  8
#define VBLK_T_DISCARD 11
#define VBLK_T_WZEROES 13
#define VBLK_S_OK     0
#define VBLK_S_IOERR  1
#define VBLK_S_UNSUPP 2
#define VBLK_F_RO            5
#define VBLK_F_FLUSH         9
#define VBLK_F_DISCARD       13
#define VBLK_F_WRITE_ZEROES  14

struct vblk_hdr { uint32_t type, ioprio; uint64_t sector; };
/* One in-flight virtio-blk request: header, status byte, and the caller's data buffer. */
struct vblk_req {
	struct vblk_hdr hdr;
	uint8_t status;
	uint8_t pad[7];
	uint64_t seg[2];        /* discard/write-zeroes segment: sector, num_sectors|flags<<32 */
	uint64_t buf;
	uint32_t len;
	int done;
};
/* Queue one request (data = buf/len, direction from the type); 0 or -1 when full. */
int vblk_queue(struct vq *q, struct vblk_req *r, uint32_t type, uint64_t sector, void *buf,
	       uint32_t len);
/* Run one request to completion (kick and poll); returns its status byte or -1 on time-out. */
int vblk_sync(struct vq *q, struct vblk_req *r, uint32_t type, uint64_t sector, void *buf,
	      uint32_t len);

#endif
