/* Retention of the rows events_born/TYPE/NAME {"id": ID} (inv_etcd_event.c writes them with
 * each name's creation event): a row goes INV_BORN_MARGIN ids after its creation event
 * (inv_log.h). Every event of that name older than its creation is dropped by then (ids
 * only grow), so the row hides nothing any more, and the name's next creation writes a new
 * one. So the rows of names deleted long ago do not pile up. See inv_etcd.h
 * (ie_born_prune). */
#include "server/inv_etcd_direct.h"

#include <errno.h>
#include <stdbool.h>
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
	if (cut <= 1 || (last && cut - last < IE_BORN_BATCH) ||
	    !atomic_compare_exchange_strong(&st->born_cut, &last, cut))
		return 0;
	g.keys = json_array();
	if (!g.keys)
		return -ENOMEM;
	rc = g.cut > 1 ? ied_range(c, "events_born", "", NULL, 0, gone_row, &g) : 0;
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
	/* and the creations a host of before the rows recorded since the last catch-up: at
	 * once too, on a session of its own (c may be in its caller's transaction: events.c's
	 * retention runs there for an event past the ids a commit takes), so the caller's
	 * rollback does not undo it, nor its reads join the caller's compares */
	if (!rc) {
		struct dbc *own = inv_get(c->db);

		rc = own ? ie_born_backfill(own) : -ENOMEM;
		if (own)
			inv_put(own);
	}
	if (rc)
		atomic_store(&st->born_cut, last); /* the next drop tries again */
	return rc;
}

/* ie_born_backfill: the newest creation event of each name among the events from an id. */
struct backfill {
	json_t *born;            /* {"TYPE/NAME": id} */
	int64_t next;            /* the id to read from next */
	int64_t upto;            /* read up to here, before the first event in flight */
	bool held;               /* an event in flight met: upto stays before it */
};

static int backfill_row(const char *key, json_t *row, uint64_t rev, int64_t lease, void *arg)
{
	struct backfill *b = arg;
	int64_t id = strtoll(key, NULL, 10);
	bool oom;
	char *k;

	(void)rev;
	b->next = id + 1;
	if (lease || ie_bool(row, "pending")) {
		b->held = true; /* it may commit as a creation: read again next time */
		return 0;
	}
	if (!b->held)
		b->upto = id;
	k = ie_born_key(ie_str(row, "type"), ie_str(row, "object_type"), ie_str(row, "object"),
			&oom);
	if (k && json_object_set_new(b->born, k, json_integer(id)))
		oom = true;
	free(k);
	return oom ? -ENOMEM : 0;
}

int ie_born_backfill(struct dbc *c)
{
	struct backfill b = { .born = json_object(), .next = 1 };
	json_t *row = NULL, *v;
	uint64_t mrev = IE_ABSENT;
	const char *k;
	char from[21];
	int64_t first;
	int rc = b.born ? ie_row_get(c, "meta", "born", &row, &mrev) : -ENOMEM;

	if (rc == -ENOENT) {
		mrev = IE_ABSENT;
		rc = 0;
	}
	/* from the id the last catch-up reached (none: the whole history) */
	b.next = rc ? 1 : ie_int(row, "upto") + 1;
	b.upto = first = b.next - 1;
	json_decref(row);
	for (; !rc;) {
		int64_t at = b.next;

		rc = ied_range(c, "events", ie_id_key(at, from), NULL, 500, backfill_row, &b);
		if (b.next == at)
			break;
	}
	/* each name's row unless one at least as new is there (a creation recorded meanwhile
	 * by another host); a conflict is such a creation */
	json_object_foreach(b.born, k, v) {
		uint64_t rev = 0;
		json_t *now = NULL, *put;

		if (rc)
			break;
		rc = ie_row_get(c, "events_born", k, &now, &rev);
		if (rc == -ENOENT)
			rev = IE_ABSENT;
		else if (rc || ie_int(now, "id") >= json_integer_value(v))
			rev = 0;
		json_decref(now);
		if (rc && rc != -ENOENT)
			break;
		rc = 0;
		if (!rev)
			continue;
		put = json_pack("{s:O}", "id", v);
		rc = put ? ie_row_put(c, "events_born", k, put, rev) : -ENOMEM;
		json_decref(put);
		if (rc == -EEXIST || rc == -EAGAIN)
			rc = 0;
	}
	json_decref(b.born);
	/* how far it read, unless another host's catch-up moved it meanwhile (it read the
	 * same) */
	if (!rc && (b.upto > first || mrev == IE_ABSENT)) {
		row = json_pack("{s:b,s:I}", "done", 1, "upto", (json_int_t)b.upto);
		rc = row ? ie_row_put(c, "meta", "born", row, mrev) : -ENOMEM;
		json_decref(row);
		if (rc == -EAGAIN || rc == -EEXIST || rc == -ENOENT)
			rc = 0;
	}
	return rc;
}
