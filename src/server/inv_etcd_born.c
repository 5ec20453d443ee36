/* Retention of the rows events_born/TYPE/NAME {"id": ID} (inv_etcd_event.c writes them with
 * each name's creation event): a row goes INV_BORN_MARGIN ids after its creation event
 * (inv_log.h). Every event of that name older than its creation is dropped by then (ids
 * only grow), so the row hides nothing any more, and the name's next creation writes a new
 * one. So the rows of names deleted long ago do not pile up. See inv_etcd.h
 * (ie_born_prune). */
#include "server/inv_etcd_direct.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The rows to drop: those naming an id below cut, with their revisions. */
struct gone {
	int64_t cut;
	json_t *keys;               /* [[key, rev], ...] */
};

static int gone_row(const char *key, json_t *row, uint64_t rev, int64_t lease, void *arg)
{
	struct gone *g = arg;

	(void)lease;
	if (ie_int(row, "id") >= g->cut)
		return 0;
	return json_array_append_new(g->keys, json_pack("[s,I]", key, (json_int_t)rev)) ?
	       -ENOMEM : 0;
}

int ie_born_prune(struct dbc *c, int64_t cut)
{
	struct inv_etcd *st = ie_store(c);
	struct gone g = { .cut = cut - INV_BORN_MARGIN };
	int_fast64_t last = atomic_load(&st->born_cut);
	json_t *k;
	size_t i;
	int rc;

	/* a walk of every name's row: once IE_BORN_BATCH events went since the last (and at
	 * the first drop of this store), by one thread at a time */
	if (g.cut <= 1 || (last && cut - last < IE_BORN_BATCH) ||
	    !atomic_compare_exchange_strong(&st->born_cut, &last, cut))
		return 0;
	g.keys = json_array();
	if (!g.keys)
		return -ENOMEM;
	rc = ied_range(c, "events_born", "", NULL, 0, gone_row, &g);
	json_array_foreach(g.keys, i, k) {
		char *key = rc ? NULL : ied_key(c, "events_born",
						json_string_value(json_array_get(k, 0)));
		int r;

		if (rc)
			break;
		if (!key) {
			rc = -ENOMEM;
			break;
		}
		/* only as read: a creation meanwhile wrote the name's new row (-EAGAIN: it stays) */
		r = etcd_delete_if(st->e, key, json_integer_value(json_array_get(k, 1)));
		free(key);
		if (r && r != -EAGAIN)
			rc = ied_fail(r, "drop the creation row of a name");
	}
	json_decref(g.keys);
	if (rc)
		atomic_store(&st->born_cut, last); /* the next drop tries again */
	return rc;
}
