/* Reads and writes of the etcd inventory made straight on etcd, beside the row layer
 * (inv_etcd.h), for what the row layer has no call for: a range of keys between two
 * bounds or with a limit, several prefixes read in one round trip (the permission checks),
 * deletions of many keys at once, a key put with a lease. The keys are the row layer's
 * (PREFIX "t/" TABLE "/" KEY) and the values its JSON objects.
 *
 * Outside the session's transaction: these see the last committed state (not the
 * session's own writes), do not join its compare list, and what they write is committed at
 * once, whatever becomes of the session's transaction. The files of the users, grants,
 * sessions and events use them only where that is what the inventory means (housekeeping
 * such as dropping expired sessions or old events; reads of a log that only grows), or,
 * for ied_spans, only outside a transaction. Only inv_etcd_*.c include this file. */
#ifndef VSRV_SERVER_INV_ETCD_DIRECT_H
#define VSRV_SERVER_INV_ETCD_DIRECT_H

#include "server/inv_etcd.h"

/* The full key of row table/key (NULL key: the table's prefix, ending in "/"). Malloc'd;
 * NULL on ENOMEM. */
char *ied_key(struct dbc *c, const char *table, const char *key);

/* A row as the direct walks give it: its key within its table, the row (borrowed for the
 * call), its mod revision and its lease (0: none). A non-zero return ends the walk and is
 * returned. */
typedef int (*ied_fn)(const char *key, json_t *row, uint64_t rev, int64_t lease, void *arg);

/* The committed rows of table from key from (inclusive; "" the table's first) to key to
 * (exclusive; NULL the table's end), at most limit of them (0: all), in key order, to fn.
 * 0, fn's value, -EIO (logged; also for a value that is not a JSON object) or -ENOMEM. */
int ied_range(struct dbc *c, const char *table, const char *from, const char *to,
	      int64_t limit, ied_fn fn, void *arg);

/* The same walk of keys alone (fn gets no row: NULL), cheaper when the values are not
 * needed (a row's lease tells a placeholder, inv_etcd_event.c). */
int ied_range_keys(struct dbc *c, const char *table, const char *from, const char *to,
		   int64_t limit, ied_fn fn, void *arg);

/* Delete the rows of table from key from to key to (as ied_range), committed at once.
 * 0, -EIO or -ENOMEM. */
int ied_delete_range(struct dbc *c, const char *table, const char *from, const char *to);

/* Delete the full keys (ied_key's) keys[0..n), committed at once (in Txns of at most 100
 * deletions each). 0, -EIO or -ENOMEM. */
int ied_delete_keys(struct dbc *c, char *const *keys, size_t n);

/* Several prefixes of rows: table/prefix for each span. Inside the session's transaction
 * each is an ie_row_each (its own writes seen, the ranges joining its compare list);
 * outside, all are read by one etcd Txn of ranges (one round trip, one revision). fn gets
 * the span's index and the row's key within its table, span by span in order, each in key
 * order; a non-zero return ends the walk and is returned. 0, fn's value, -EIO, -ENOMEM. */
struct ied_span {
	const char *table;
	const char *prefix;
};
int ied_spans(struct dbc *c, const struct ied_span *spans, int n,
	      int (*fn)(int span, const char *key, json_t *row, void *arg), void *arg);

/* etcd's answer as the inventory's error: -ENOMEM stays, anything else is -EIO, logged
 * once with what (the operation) and etcd_errmsg(). */
int ied_fail(int rc, const char *what);

/* --- what the files of users, groups, sessions and grants share ------------------------ */

/* Every row of table ("users", "groups": rows with a name) sorted by name as SQLite's
 * ORDER BY name (bytes): *rows[0..*n) each a JSON array [id, row], held by *hold (json_decref
 * it, and free *rows, also after an error). 0, -EIO or -ENOMEM. */
int ieb_rows_by_name(struct dbc *c, const char *table, json_t ***rows, size_t *n,
		     json_t **hold);

/* Fill *out with user id's row. */
void ieb_user_fill(int64_t id, json_t *row, struct inv_user *out);

/* Create the row of table ("users", "groups") whose name field is name, claimed in the unique
 * index: a new id (none for a taken name), then the claim and the row as one write
 * (ie_write). row is borrowed. 0 and *id (NULL allowed), -EEXIST, -EIO or -ENOMEM. */
int ieb_named_create(struct dbc *c, const char *table, const char *index, const char *name,
		     json_t *row, int64_t *id);

/* Drop every grant to the principal (ptype "user" or "group", pid), in the session's
 * transaction (inv_etcd_grant.c). 0 or -errno. */
int ieb_grants_drop_principal(struct dbc *c, const char *ptype, int64_t pid);

#endif
