/* Dynamic memory (Virtual Server's and Hyper-V's): a VM has a minimum (memory_min_mib), a
 * maximum (memory_mib, what it starts with) and a memory buffer (memory_buffer_pct: the
 * free memory its guest should keep, in percent of what its programs use, as Hyper-V's);
 * the server moves each running VM's balloon target between the two from its guest's
 * statistics and the host's free memory (sup_dynmem.c runs it; api_balloon.c's PUT is the
 * manual way). This file is the policy alone: a pure function of its inputs, no I/O and no
 * clock, so that tests/unit/server_dynmem.c can drive it through every case.
 *
 * The figures of one VM (MiB unless said):
 *   used = total - available - (balloon when the balloon's pages count in total: Linux
 *          with deflate-on-oom keeps them in MemTotal as used pages)
 *   hidden = max - total seen with an empty balloon (the firmware's and the kernel's own)
 *   want = hidden + used + used * buffer_pct / 100, within [min, max]
 * A guest below its want grows at once (up to want; a host short of memory grants only what
 * it has to spare, to the largest shortfalls first). A guest whose target is above its want
 * by more than the hysteresis (max(DYNMEM_HYST_MIN_MIB, DYNMEM_HYST_PCT of the target))
 * shrinks toward want by at most one step (max(DYNMEM_STEP_MIN_MIB, DYNMEM_STEP_PCT of max))
 * per plan, and only DYNMEM_SETTLE_S after its last change with statistics newer than that
 * change: what it does between two statistics does not make it flap. A host short of
 * memory (host_avail below host_low, less what the guests are still inflating) takes the
 * deficit from the VMs with the most surplus over their want first (no step bound), then
 * from their buffers (down to hidden + used), never below min.
 * A target below min or above max is brought back in bounds whatever the statistics say.
 * Otherwise a VM without statistics, with statistics older than stale_s, or with absurd
 * ones (available > total, total or the balloon beyond max, used below 0) is left alone. */
#ifndef VSRV_SERVER_DYNMEM_H
#define VSRV_SERVER_DYNMEM_H

#include "server/inv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DYNMEM_MIN_FLOOR_MIB 64    /* the least memory_min_mib (a guest kernel needs about that) */
#define DYNMEM_BUFFER_DEFAULT INV_MEMORY_BUFFER_PCT /* memory_buffer_pct's default (inv.h) */
#define DYNMEM_BUFFER_MAX 2000     /* Hyper-V's bound */
#define DYNMEM_HYST_PCT 10
#define DYNMEM_HYST_MIN_MIB 32
#define DYNMEM_STEP_PCT 10
#define DYNMEM_STEP_MIN_MIB 32
#define DYNMEM_GROW_MIN_MIB 8      /* a shortfall smaller than this waits (no event per MiB) */
#define DYNMEM_PRESSURE_MIN_MIB 8  /* nor is a VM asked for less than this under pressure */
#define DYNMEM_SETTLE_S 10.0
#define DYNMEM_STALE_S 30.0        /* 6 of the balloon's 5-second statistics intervals */

/* What the plan did with a VM (dynmem_why_name: its name in the API and the events). */
enum dynmem_why {
	DYNMEM_HOLD,       /* within its hysteresis, or waiting to settle */
	DYNMEM_GROW,       /* below its want */
	DYNMEM_GROW_LIMITED, /* below its want, the host had less to spare */
	DYNMEM_SHRINK,     /* far above its want: one step down */
	DYNMEM_PRESSURE,   /* the host is short of memory */
	DYNMEM_CLAMP,      /* its target was outside [min, max] */
	DYNMEM_NO_STATS,   /* left alone: the guest sends no statistics */
	DYNMEM_STALE,      /* left alone: its statistics are older than stale_s */
	DYNMEM_ABSURD,     /* left alone: its statistics cannot be true */
};

/* The host's side of a plan. */
struct dynmem_host {
	int64_t avail_mib;         /* its available memory now (MemAvailable); < 0: unknown */
	int64_t low_mib;           /* below this it is short of memory */
	double stale_s;            /* statistics older than this are not used */
};

/* One running VM: the caller fills the inputs, dynmem_plan the outputs. */
struct dynmem_vm {
	/* inputs */
	int64_t min_mib, max_mib;  /* its settings (min <= max; max: its RAM) */
	int buffer_pct;
	int64_t target_mib;        /* the balloon's target now: RAM less the balloon asked for */
	int64_t balloon_mib;       /* the balloon the guest says it has */
	bool balloon_in_total;     /* its pages count in the guest's total (deflate-on-oom) */
	bool stats;                /* total and available arrived */
	double stats_age;          /* seconds since they arrived */
	int64_t total_mib, avail_mib; /* the guest's total and available (else free) memory */
	double since_change;       /* seconds since its target last changed (large: never) */
	/* outputs */
	int64_t new_target_mib;    /* target_mib: no change */
	int64_t used_mib, want_mib; /* -1 when the statistics were not used */
	enum dynmem_why why;
};

/* Plan new targets for the n VMs of one host. Every VM's outputs are set. */
void dynmem_plan(const struct dynmem_host *h, struct dynmem_vm *vms, size_t n);

/* "hold", "grow", "grow-limited", "shrink", "pressure", "clamp", "no-stats", "stale",
 * "absurd". */
const char *dynmem_why_name(enum dynmem_why w);

#endif
