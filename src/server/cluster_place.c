/* The placement rule and the balance plan (cluster.h, docs/cluster.md "Placement" and
 * "Balance"): pure functions of the hosts' alive keys and the VMs' needs, so that every host
 * computes the same choice from the same keys. */
#include "server/cluster_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cluster_fo_host_read(struct cluster_fo_host *h, json_t *alive)
{
	json_t *b = json_object_get(alive, "bridges"), *m = json_object_get(alive, "missing_disks");

	h->free_mib = json_integer_value(json_object_get(alive, "free_memory_mib"));
	h->draining = json_is_true(json_object_get(alive, "draining"));
	h->no_kvm = json_is_false(json_object_get(alive, "kvm"));
	h->cpus = (int)json_integer_value(json_object_get(alive, "cpus"));
	h->bridges = json_is_array(b) ? json_incref(b) : NULL;
	h->missing = json_is_array(m) && json_array_size(m) ? json_incref(m) : NULL;
	h->fits = false;
}

void cluster_fo_hosts_clear(struct cluster_fo_host *h, size_t n)
{
	for (size_t i = 0; h && i < n; i++) {
		json_decref(h[i].bridges);
		json_decref(h[i].missing);
		h[i].bridges = h[i].missing = NULL;
	}
}

/* Append ", " (unless at the start) and the formatted text to buf (n bytes), truncating. */
static void __attribute__((format(printf, 4, 5)))
add(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (!buf || *len + 1 >= n)
		return;
	if (*len) {
		w = snprintf(buf + *len, n - *len, ", ");
		*len += (size_t)w < n - *len ? (size_t)w : n - *len - 1;
	}
	va_start(ap, fmt);
	w = vsnprintf(buf + *len, n - *len, fmt, ap);
	va_end(ap);
	if (w > 0)
		*len += (size_t)w < n - *len ? (size_t)w : n - *len - 1;
}

static bool has_string(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (!strcmp(json_string_value(v) ?: "", s))
			return true;
	return false;
}

static bool has_id(json_t *a, int64_t id)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (json_integer_value(v) == id)
			return true;
	return false;
}

bool cluster_host_fits(const struct cluster_fo_host *h, const struct cluster_need *need,
		       char *why, size_t n)
{
	size_t len = 0, i;
	bool ok = true;

	if (why && n)
		*why = '\0';
	if (h->no_kvm) {
		ok = false;
		add(why, n, &len, "no KVM (no usable /dev/kvm: its GET /api/v1/host says why)");
	}
	if (h->draining) {
		ok = false;
		add(why, n, &len, "draining");
	}
	if (h->free_mib < need->mib) {
		ok = false;
		add(why, n, &len, "%" PRId64 " MiB free, the VM needs %" PRId64, h->free_mib,
		    need->mib);
	}
	if (h->cpus > 0 && h->cpus < need->cpus) {
		ok = false;
		add(why, n, &len, "%d CPU%s, the VM has %d", h->cpus, h->cpus == 1 ? "" : "s",
		    need->cpus);
	}
	for (i = 0; h->bridges && i < need->nbridges && i < CLUSTER_NEED_MAX; i++)
		if (!has_string(h->bridges, need->bridges[i])) {
			ok = false;
			add(why, n, &len, "no bridge %s", need->bridges[i]);
		}
	for (i = 0; h->missing && i < need->ndisks && i < CLUSTER_NEED_MAX; i++)
		if (has_id(h->missing, need->disks[i])) {
			ok = false;
			add(why, n, &len, "disk %s not there", need->disk_names[i]);
		}
	return ok;
}

static int cmp_host(const void *a, const void *b)
{
	const struct cluster_fo_host *x = a, *y = b;

	if (x->fits != y->fits)
		return x->fits ? -1 : 1;
	if (x->fits && x->free_mib != y->free_mib)
		return x->free_mib > y->free_mib ? -1 : 1;
	return strcmp(x->name, y->name);
}

size_t cluster_failover_order(struct cluster_fo_host *h, size_t n,
			      const struct cluster_need *need, char *why, size_t whylen)
{
	size_t fit = 0, i, len = 0;
	char one[400];

	for (i = 0; i < n; i++)
		fit += h[i].fits = cluster_host_fits(&h[i], need, NULL, 0);
	qsort(h, n, sizeof(*h), cmp_host);
	if (!why || !whylen)
		return fit;
	*why = '\0';
	if (!n)
		snprintf(why, whylen, "no host is alive");
	/* the others are by name: their reasons, in that order */
	for (i = fit; i < n; i++) {
		cluster_host_fits(&h[i], need, one, sizeof(one));
		if (len + 1 < whylen) {
			int w = snprintf(why + len, whylen - len, "%s%s: %s", len ? "; " : "",
					 h[i].name, one);

			len += w > 0 && (size_t)w < whylen - len ? (size_t)w : whylen - len - 1;
		}
	}
	return fit;
}

/* --- balance ------------------------------------------------------------------------------ */

static int64_t dist(int64_t d, int64_t m)
{
	int64_t x = d - 2 * m;

	return x < 0 ? -x : x;
}

/* The index of the host with the least (most: sign -1) free memory that is not draining, not
 * skip and not marked in not (may be NULL), ties by name; n when none. */
static size_t pick(const struct cluster_fo_host *h, size_t n, int sign, size_t skip,
		   const bool *not)
{
	size_t best = n;

	for (size_t i = 0; i < n; i++) {
		if (i == skip || h[i].draining || h[i].no_kvm || (not && not[i]))
			continue;
		if (best == n || sign * (h[i].free_mib - h[best].free_mib) < 0 ||
		    (h[i].free_mib == h[best].free_mib && strcmp(h[i].name, h[best].name) < 0))
			best = i;
	}
	return best;
}

/* The VM on host src that qualifies to move to host dst (cluster.h), or nvms. */
static size_t best_vm(const struct cluster_fo_host *h, size_t src, size_t dst,
		      const struct cluster_bal_vm *vms, size_t nvms, const size_t *at,
		      const bool *moved)
{
	int64_t d = h[dst].free_mib - h[src].free_mib;
	size_t best = nvms;

	for (size_t k = 0; d > 0 && k < nvms; k++) {
		int64_t mib = vms[k].need.mib;

		if (at[k] != src || moved[k] || !vms[k].movable || mib <= 0 || mib >= d ||
		    !cluster_host_fits(&h[dst], &vms[k].need, NULL, 0))
			continue;
		if (best == nvms || dist(d, mib) < dist(d, vms[best].need.mib) ||
		    (dist(d, mib) == dist(d, vms[best].need.mib) &&
		     strcmp(vms[k].name, vms[best].name) < 0))
			best = k;
	}
	return best;
}

int cluster_balance_plan(struct cluster_fo_host *h, size_t n, const struct cluster_bal_vm *vms,
			 size_t nvms, struct cluster_bal_move *moves, size_t max, size_t *nmoves)
{
	size_t *at = NULL, i, m = 0;
	bool *moved = NULL, *tried = NULL;
	int rc = 0;

	*nmoves = 0;
	for (i = 0; i < nvms; i++)
		if (vms[i].host >= n)
			return -EINVAL;
	at = calloc(nvms + 1, sizeof(*at));
	moved = calloc(nvms + 1, sizeof(*moved));
	tried = calloc(n + 1, sizeof(*tried));
	if (!at || !moved || !tried) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nvms; i++)
		at[i] = vms[i].host;
	while (m < max) {
		size_t dst = pick(h, n, -1, n, NULL), src = n, vm = nvms;

		if (dst == n)
			break;
		/* the sources, the least free first: the first that has a VM to move */
		memset(tried, 0, n * sizeof(*tried));
		while (vm == nvms && (src = pick(h, n, 1, dst, tried)) < n) {
			tried[src] = true;
			vm = best_vm(h, src, dst, vms, nvms, at, moved);
		}
		if (vm == nvms)
			break;
		moves[m].vm = vm;
		moves[m].from = src;
		moves[m].to = dst;
		m++;
		h[src].free_mib += vms[vm].need.mib;
		h[dst].free_mib -= vms[vm].need.mib;
		at[vm] = dst;
		moved[vm] = true;
	}
	*nmoves = m;
out:
	free(at);
	free(moved);
	free(tried);
	return rc;
}
