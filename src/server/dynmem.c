/* The dynamic memory policy: see dynmem.h. */
#include "server/dynmem.h"

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

const char *dynmem_why_name(enum dynmem_why w)
{
	static const char *const names[] = {
		[DYNMEM_HOLD] = "hold", [DYNMEM_GROW] = "grow", [DYNMEM_GROW_LIMITED] = "grow-limited",
		[DYNMEM_SHRINK] = "shrink", [DYNMEM_PRESSURE] = "pressure", [DYNMEM_CLAMP] = "clamp",
		[DYNMEM_NO_STATS] = "no-stats", [DYNMEM_STALE] = "stale", [DYNMEM_ABSURD] = "absurd",
	};

	return (unsigned)w < sizeof(names) / sizeof(names[0]) ? names[w] : "?";
}

/* The guest's RAM it does not see with an empty balloon (its firmware's, its kernel's). */
static int64_t hidden(const struct dynmem_vm *v)
{
	return v->max_mib - v->total_mib - (v->balloon_in_total ? 0 : v->balloon_mib);
}

/* Whether v's statistics can be used: DYNMEM_HOLD, or why not (and used, want unset). */
static enum dynmem_why check(const struct dynmem_host *h, const struct dynmem_vm *v)
{
	if (!v->stats)
		return DYNMEM_NO_STATS;
	if (!(v->stats_age >= 0 && v->stats_age <= h->stale_s))
		return DYNMEM_STALE;
	if (v->total_mib <= 0 || v->avail_mib < 0 || v->avail_mib > v->total_mib ||
	    v->total_mib > v->max_mib || v->balloon_mib < 0 || v->balloon_mib > v->max_mib ||
	    hidden(v) < 0 ||
	    v->total_mib - v->avail_mib - (v->balloon_in_total ? v->balloon_mib : 0) < 0)
		return DYNMEM_ABSURD;
	return DYNMEM_HOLD;
}

/* The least a VM keeps under pressure: what its guest uses, without a buffer. */
static int64_t bare(const struct dynmem_vm *v)
{
	return max64(v->min_mib, min64(v->max_mib, hidden(v) + v->used_mib));
}

/* First phase of one VM: bounds, statistics, want; a grow marked (granted later), a
 * shrink planned. */
static void plan_one(const struct dynmem_host *h, struct dynmem_vm *v)
{
	int64_t buf, hyst, step;
	enum dynmem_why why;

	v->new_target_mib = v->target_mib;
	v->used_mib = v->want_mib = -1;
	v->why = DYNMEM_HOLD;
	if (v->max_mib < 1)
		v->max_mib = 1;
	if (v->min_mib > v->max_mib)
		v->min_mib = v->max_mib;
	if (v->min_mib < 1)
		v->min_mib = 1;
	if (v->target_mib < v->min_mib || v->target_mib > v->max_mib) {
		v->new_target_mib = v->target_mib < v->min_mib ? v->min_mib : v->max_mib;
		v->why = DYNMEM_CLAMP;
		return;
	}
	why = check(h, v);
	if (why != DYNMEM_HOLD) {
		v->why = why;
		return;
	}
	v->used_mib = v->total_mib - v->avail_mib - (v->balloon_in_total ? v->balloon_mib : 0);
	buf = (v->used_mib * (v->buffer_pct < 0 ? 0 : v->buffer_pct) + 99) / 100;
	v->want_mib = max64(v->min_mib, min64(v->max_mib, hidden(v) + v->used_mib + buf));
	if (v->want_mib - v->target_mib >= DYNMEM_GROW_MIN_MIB ||
	    (v->want_mib > v->target_mib && v->want_mib == v->max_mib)) {
		v->why = DYNMEM_GROW;
		return;
	}
	hyst = max64(DYNMEM_HYST_MIN_MIB, v->target_mib * DYNMEM_HYST_PCT / 100);
	step = max64(DYNMEM_STEP_MIN_MIB, v->max_mib * DYNMEM_STEP_PCT / 100);
	if (v->target_mib - v->want_mib > hyst && v->since_change >= DYNMEM_SETTLE_S &&
	    v->stats_age < v->since_change) {
		v->new_target_mib = max64(v->want_mib, v->target_mib - step);
		v->why = DYNMEM_SHRINK;
	}
}

/* Memory the VM's guest is still to give back: the balloon asked for, less the one it has. */
static int64_t pending(const struct dynmem_vm *v)
{
	if (v->balloon_mib < 0 || v->balloon_mib > v->max_mib)
		return 0;
	return max64(0, v->max_mib - v->target_mib - v->balloon_mib);
}

/* Grant the grows, the largest shortfall first, within headroom. */
static void grant(struct dynmem_vm *vms, size_t n, int64_t headroom)
{
	for (;;) {
		struct dynmem_vm *best = NULL;
		int64_t give;

		for (size_t i = 0; i < n; i++)
			if (vms[i].why == DYNMEM_GROW && vms[i].new_target_mib == vms[i].target_mib &&
			    (!best || vms[i].want_mib - vms[i].target_mib >
					      best->want_mib - best->target_mib))
				best = &vms[i];
		if (!best)
			return;
		if (headroom <= 0) {
			best->why = DYNMEM_GROW_LIMITED;
			continue;
		}
		give = min64(best->want_mib - best->target_mib, headroom);
		best->new_target_mib = best->target_mib + give;
		if (best->new_target_mib < best->want_mib)
			best->why = DYNMEM_GROW_LIMITED;
		headroom -= give;
	}
}

/* Take deficit from the VMs down to floor (want, then bare), the most surplus first.
 * Returns what is left of it. */
static int64_t take(struct dynmem_vm *vms, size_t n, int64_t deficit, bool to_bare)
{
	while (deficit > 0) {
		struct dynmem_vm *best = NULL;
		int64_t best_surplus = DYNMEM_PRESSURE_MIN_MIB - 1, got;

		for (size_t i = 0; i < n; i++) {
			struct dynmem_vm *v = &vms[i];
			int64_t floor, surplus;

			if (v->why != DYNMEM_HOLD && v->why != DYNMEM_SHRINK &&
			    v->why != DYNMEM_PRESSURE)
				continue;
			floor = to_bare ? bare(v) : v->want_mib;
			surplus = v->new_target_mib - floor;
			if (surplus > best_surplus) {
				best = v;
				best_surplus = surplus;
			}
		}
		if (!best)
			break;
		got = min64(best_surplus, deficit);
		best->new_target_mib -= got;
		best->why = DYNMEM_PRESSURE;
		deficit -= got;
	}
	return deficit;
}

void dynmem_plan(const struct dynmem_host *h, struct dynmem_vm *vms, size_t n)
{
	int64_t avail, headroom, deficit, given = 0;
	size_t i;

	for (i = 0; i < n; i++)
		plan_one(h, &vms[i]);
	if (h->avail_mib < 0) {
		grant(vms, n, INT64_MAX);
		return;
	}
	/* What the guests still inflate comes back; what clamps give out goes. */
	avail = h->avail_mib;
	for (i = 0; i < n; i++) {
		avail += pending(&vms[i]);
		if (vms[i].why == DYNMEM_CLAMP)
			avail -= vms[i].new_target_mib - vms[i].target_mib;
		if (vms[i].why == DYNMEM_SHRINK)
			given += vms[i].target_mib - vms[i].new_target_mib;
	}
	headroom = avail - h->low_mib;
	grant(vms, n, headroom);
	/* Short of memory: what this plan's shrinks give counts; the rest is taken. */
	deficit = -headroom - given;
	if (deficit > 0 && (deficit = take(vms, n, deficit, false)) > 0)
		take(vms, n, deficit, true);
}
