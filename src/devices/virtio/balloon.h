/* virtio-balloon (virtio 1.2, 5.5; device id 5): the host asks the guest to give memory
 * back (the target in num_pages), the guest gives 4 KiB pages (the inflate queue) whose
 * host memory is released at once (guest_mem_discard), takes them back (the deflate queue:
 * nothing to do, a page comes back zeroed on its next touch), reports its memory figures
 * (the statistics queue) and, with free page reporting, hands over ranges of free memory
 * that are released the same way.
 *
 * Queues: 0 inflate, 1 deflate, then the statistics queue (VIRTIO_BALLOON_F_STATS_VQ) and
 * the reporting queue (VIRTIO_BALLOON_F_REPORTING), each present only when negotiated, in
 * that order (as Linux numbers them: an absent queue takes no index).
 * Features offered: STATS_VQ always, DEFLATE_ON_OOM and REPORTING when asked for.
 *
 * Everything the guest sends is untrusted: a PFN outside guest RAM (past its end, in the
 * 32-bit device hole, huge) is ignored and counted in bad_pfns, never acted on; reported
 * ranges come through the virtqueue walker, which only hands out ranges inside RAM.
 * Statistics are taken as the guest says them (absurd values included); tags the device
 * does not know are ignored. */
#ifndef VSRV_DEVICES_VIRTIO_BALLOON_H
#define VSRV_DEVICES_VIRTIO_BALLOON_H

#include "devices/virtio/virtio.h"

#define VIRTIO_ID_BALLOON 5

#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ       1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON    4
#define VIRTIO_BALLOON_F_REPORTING      5

/* The statistics tags (5.5.6.3), as the driver sends them. */
#define VBALLOON_S_SWAP_IN  0
#define VBALLOON_S_SWAP_OUT 1
#define VBALLOON_S_MAJFLT   2
#define VBALLOON_S_MINFLT   3
#define VBALLOON_S_MEMFREE  4
#define VBALLOON_S_MEMTOT   5
#define VBALLOON_S_AVAIL    6
#define VBALLOON_S_CACHES   7
#define VBALLOON_S_HTLB_PGALLOC 8
#define VBALLOON_S_HTLB_PGFAIL  9
#define VBALLOON_S_NR       10 /* the tags kept; later ones (OOM kills...) are ignored */

#define VBALLOON_PAGE 4096ULL

struct virtio_balloon;

/* Creation options (`--device balloon[,deflate-on-oom=on][,free-page-reporting=on]
 * [,stats-interval=S]`). */
struct vballoon_opts {
	bool deflate_on_oom;
	bool reporting;
	unsigned stats_interval; /* seconds between statistics requests; 0: only the guest's own */
};

/* What the device says of itself (virtio_balloon_info). Byte figures. */
struct vballoon_info {
	uint64_t ram;          /* guest RAM */
	uint64_t target;       /* balloon size the host asked for (num_pages) */
	uint64_t actual;       /* balloon size the guest says it has (actual), at most ram */
	uint64_t inflated;     /* pages taken by the inflate queue less those deflated (at
				* most RAM's: the guest may give the same page twice) */
	uint64_t inflate_pages, deflate_pages; /* totals of valid PFNs */
	uint64_t bad_pfns;     /* PFNs refused (outside guest RAM) */
	uint64_t reported;     /* bytes released by free page reporting */
	bool driver_ok;        /* a driver runs the device */
	bool deflate_on_oom, reporting; /* negotiated */
	/* the latest statistics: stats_mask bit t set when tag t arrived */
	uint32_t stats_mask;
	uint64_t stats[VBALLOON_S_NR];
	double stats_age;      /* seconds since they arrived (when stats_mask) */
	uint64_t stats_updates;/* statistics buffers received */
};

/* What virtio_balloon_save keeps: the device core, the config (target and actual) and the
 * counters. The statistics buffer the device held is handed back to the driver by the
 * quiesce before a save (the driver sends it again), so nothing is in flight. The pages
 * inflated are known by count only: the guest keeps its own list. */
struct virtio_balloon_state {
	struct virtio_dev_state dev;
	uint32_t num_pages, actual;
	uint32_t opts;           /* VBALLOON_OPT_*: checked against the device's */
	uint32_t stats_interval; /* checked */
	uint64_t inflated, inflate_pages, deflate_pages, bad_pfns, reported;
	uint32_t stats_mask, pad;
	uint64_t stats[VBALLOON_S_NR];
	uint64_t stats_updates;
};
#define VBALLOON_OPT_DEFLATE_ON_OOM 1
#define VBALLOON_OPT_REPORTING      2

/* Create the device over h->mem (not yet on a transport). 0 and *out (free with
 * virtio_balloon_destroy after its transport), or -errno after logging. */
int virtio_balloon_create(struct virtio_host *h, const struct vballoon_opts *o,
			  const char *name, struct virtio_balloon **out);
struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b);
void virtio_balloon_destroy(struct virtio_balloon *b);

/* Ask the guest for a balloon of bytes (rounded down to 4 KiB pages): num_pages changes
 * and the driver gets a config-change interrupt. -EINVAL when bytes exceeds guest RAM (or
 * the 32-bit page count of the config).
 * Any thread. */
int virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes);
/* Fill *out. Any thread. */
void virtio_balloon_info(struct virtio_balloon *b, struct vballoon_info *out);

/* Save (0 or -errno; the copy is made anyway) and restore (0, or -EINVAL with b unchanged:
 * other options, num_pages past RAM, or virtio_dev_check refuses the core state). */
int virtio_balloon_save(struct virtio_balloon *b, struct virtio_balloon_state *st);
int virtio_balloon_restore(struct virtio_balloon *b, const struct virtio_balloon_state *st);

/* The name of statistics tag t (< VBALLOON_S_NR), as the control socket reports it. */
const char *virtio_balloon_stat_name(unsigned t);

/* For the fuzz target: serve queue q now, on the calling thread (as the I/O thread would). */
void virtio_balloon_serve(struct virtio_balloon *b, unsigned q);

#endif
