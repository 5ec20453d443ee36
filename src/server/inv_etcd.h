/* What the etcd implementation's files (inv_etcd*.c) share; nothing above the inventory
 * includes it. The backend's model (docs/cluster.md has the key layout):
 *
 * Rows. Every inventory object is one key whose value is a JSON object of its fields:
 *   PREFIX "t/" TABLE "/" KEY
 * TABLE names a kind of row ("vms", "vm_status", "disks", "users", ...); KEY is the row's
 * key within it: for objects with a numeric id, ie_id_key's zero-padded decimal, so that
 * key order is id order; for rows that belong to another (a VM's disks), the owner's key,
 * "/", and the row's own. A row's revision (struct inv_*'s rev) is the key's mod_revision.
 *
 * Unique values. A name (or any field the SQLite schema declares UNIQUE) is claimed by a key
 *   PREFIX "u/" INDEX "/" VALUE         (INDEX: "vms.name", "nics.mac", ...)
 * whose value is the id of the row that holds it, written in the same Txn as the row.
 *
 * Ids. PREFIX "id/" TABLE is a counter (etcd_next_id): ids are unique across the cluster,
 * increasing, never reused; a rolled-back create leaves a gap.
 *
 * Sessions and transactions. A session (struct inv_etcd_sess) is either outside a
 * transaction (reads see the last committed state; each write function commits its writes
 * as one Txn of its own: ie_write_begin/ie_write_end) or inside one (inv_begin: an
 * etcd_txn; reads see the session's own writes and join the Txn's compare list, so the
 * commit fails with -EAGAIN, changing nothing, when anything read has changed since).
 *
 * Errors as inv.h says: -ENOENT, -EEXIST, -EAGAIN, -EINVAL, -EIO (etcd failed: logged once
 * with etcd_errmsg()), -ENOMEM. */
#ifndef VSRV_SERVER_INV_ETCD_H
#define VSRV_SERVER_INV_ETCD_H

#include "server/inv_ops.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <pthread.h>

#include "server/etcd.h"

struct etcd;
struct etcd_txn;

#define IE_HINTS 256
#define IE_PRE 8
#define IE_PEV 8
#define IE_SIDE_RANGES 2

/* The store: the etcd client and the key prefix of this inventory. */
struct inv_etcd {
	struct db base;              /* ops: inv_etcd_ops */
	struct etcd *e;              /* owned */
	char *prefix;                /* "/vsrv/inv/" by default; owned */
	atomic_uint_fast64_t gen;    /* raised by every commit through this store (and by an
				      * inv_generation that cannot read etcd's revision) */
	pthread_mutex_t hint_mu;     /* guards hints and user_hints */
	struct ie_hint {             /* a VM name key's last id (inv_etcd_prefetch.c) */
		uint64_t hash;
		int64_t id;
	} hints[IE_HINTS],
	  user_hints[IE_HINTS];      /* a session key's user (inv_etcd_session.c) */
	atomic_int_fast64_t born_cut; /* the cut of ie_born_prune's last walk (0: none yet) */
};

/* A session: the store, and the open transaction (NULL outside inv_begin/inv_commit). */
struct inv_etcd_sess {
	struct dbc base;
	struct etcd_txn *t;
	int64_t commit_vm;           /* the VM whose rows the commit reads (0: none) */
	int64_t ev[4];               /* event ids reserved in the transaction (placeholders) */
	int nev;
	struct ie_pev {              /* events whose ids the commit takes (inv_etcd_event.c) */
		json_t *row;
		char *born;          /* a creation's events_born key (full, owned), or NULL */
		inv_event_fn *then;
		void *arg;
	} pev[IE_PEV];
	int npev;
	int64_t pev_first;           /* the first of their ids, at the commit */
	struct ie_pre {              /* reads ahead (inv_etcd_prefetch.c; key NULL: none) */
		char *key;           /* a full key, or with prefix a full key prefix */
		bool prefix;
		struct etcd_kvs kvs; /* what was read (a key: n 0, absent, or 1) */
	} pre[IE_PRE];
	char *side_key;              /* inv_side_want's key (NULL: none), read with the rows */
	bool side_got;               /* side holds its read (n 0: absent) */
	struct etcd_kvs side;
	struct ie_side_range {       /* inv_side_want_range's (prefix NULL: none) */
		char *prefix;
		bool got;            /* kvs holds its read */
		struct etcd_kvs kvs;
	} side_rng[IE_SIDE_RANGES];
};

static inline struct inv_etcd *ie_store(struct dbc *c)
{
	return (struct inv_etcd *)c->db;
}

static inline struct inv_etcd_sess *ie_sess(struct dbc *c)
{
	return (struct inv_etcd_sess *)c;
}

/* The backend: its table, and inv_etcd_<name> for every operation of INV_OPS. */
extern const struct inv_ops inv_etcd_ops;
#define INV_ETCD_DECLARE(name, params, args) INV_OPS_DECLARE_ONE(inv_etcd, name, params)
INV_OPS(INV_ETCD_DECLARE)
#undef INV_ETCD_DECLARE

/* Open the inventory under prefix (NULL: "/vsrv/inv/") of the etcd members in endpoints
 * (etcd_open's list), each call bounded by timeout_ms. Contacts etcd once to check it is
 * reachable. 0 and *out (inv_close it), -EINVAL, -ENOMEM, or the etcd error. */
int inv_etcd_open(const char *endpoints, const char *prefix, unsigned timeout_ms,
		  struct db **out);

/* An etcd call's failure as the inventory's errors: 0, -ENOENT, -EEXIST, -EAGAIN and
 * -ENOMEM pass; anything else becomes -EIO, logged once with what (and key) and
 * etcd_errmsg(). */
int ie_etcd_err(int rc, const char *what, const char *key);

/* --- reads ahead (inv_etcd_prefetch.c) ----------------------------------------------------- */

/* The id of the VM name key (full key), read fresh, with the rows of the id it held last
 * time read in the same Txn and kept on the session: 0 and *id, -ENOENT, -EIO. */
int ie_vm_name_get(struct dbc *c, const char *key, int64_t *id);

/* The id last seen for key in a hint table (st->hints, st->user_hints): 0 when none; a
 * hint is never an answer (what it names is read and checked). ie_hint_set: remember id
 * (0: forget). */
int64_t ie_hint_get(struct inv_etcd *st, struct ie_hint *table, const char *key);
void ie_hint_set(struct inv_etcd *st, struct ie_hint *table, const char *key, int64_t id);

/* A kept row of key, taken (once): true with *rc 0 and *kv (the caller's), or *rc -ENOENT
 * (it was absent then); false when none is kept or a transaction is open (any other read
 * drops the kept rows). */
bool ie_pre_take(struct dbc *c, const char *key, struct etcd_kv *kv, int *rc);

/* The kept rows under prefix (a full key prefix), taken (once): true and *kvs (the
 * caller's: etcd_kvs_clear it); false as ie_pre_take. */
bool ie_pre_take_range(struct dbc *c, const char *prefix, struct etcd_kvs *kvs);

/* Keep the n reads r answered with kvs (moved in: cleared; at most IE_PRE) on the session,
 * in place of what it kept. 0 or -ENOMEM (nothing kept). */
int ie_pre_keep(struct dbc *c, const struct etcd_read *r, struct etcd_kvs *kvs, size_t n);

/* Whether the row table/key is kept on the session (read ahead, not taken yet). */
bool ie_pre_kept(struct dbc *c, const char *table, const char *key);

/* A VM's name now holds id (its create): the lookups' hint (no read). */
void ie_vm_name_hint(struct dbc *c, const char *name, int64_t id);

/* The wanted side key (inv_side_want) into r[*n] when it is to be read (*n raised), and
 * its read kvs (moved in: cleared) kept for inv_side_take. ie_side_drop: at the session's
 * end. */
void ie_side_add(struct dbc *c, struct etcd_read *r, size_t *n);
void ie_side_keep(struct dbc *c, struct etcd_kvs *kvs);
void ie_side_drop(struct dbc *c);

/* The wanted side ranges (inv_side_want_range) not read yet into r[*n] (*n raised, r room
 * for IE_SIDE_RANGES more), and their reads kvs[0..) in that order (moved in: cleared)
 * kept for inv_side_take_range. ie_side_ranges_drop: at the session's end. */
void ie_side_ranges_add(struct dbc *c, struct etcd_read *r, size_t *n);
void ie_side_ranges_keep(struct dbc *c, struct etcd_kvs *kvs);
void ie_side_ranges_drop(struct dbc *c);

/* Drop the session's kept rows (at a write, the session's end). */
void ie_pre_drop(struct dbc *c);

/* Commit the session's transaction t (taken) as etcd_txn_commit, reading with it the rows
 * inv_vm_read_ahead asked for during it (kept for the reads that follow). */
int ie_pre_commit(struct dbc *c, struct etcd_txn *t);

/* A transaction begins on the session: its kept rows are offered to the transaction as
 * its reads (etcd_txn_seed: compared at the commit once the transaction reads them), then
 * go from the session. 0 or -ENOMEM. */
int ie_pre_seed(struct dbc *c);

/* The transaction's reserved event ids (inv_etcd_event.c) when it will not commit (rolled
 * back, or its commit refused: -EAGAIN): their placeholders go at once, so that the events
 * after them wait no longer. With done (committed, or outcome unknown): forgotten. */
void ie_events_unreserve(struct dbc *c, bool done);

/* The events recorded in the transaction t (the session's, at its commit) take their ids
 * in its Txn (etcd_txn_take_ids). 0 or -ENOMEM. ie_events_done after the commit (rc its
 * value; also at a rollback, rc -EAGAIN): each event's then with its id, or 0 when rc. */
int ie_events_commit(struct dbc *c, struct etcd_txn *t);
void ie_events_done(struct dbc *c, int rc);

/* --- rows -------------------------------------------------------------------------------- */

/* KEY of id: 20 decimal digits, zero-padded (buf of at least 21 bytes). Returns buf. */
char *ie_id_key(int64_t id, char *buf);

/* The full key PREFIX PART "/" TABLE "/" KEY (PART "t": a row, "u": a unique value), malloc'd
 * (free it), or NULL. */
char *ie_full_key(struct dbc *c, const char *part, const char *table, const char *key);

/* Read the row table/key: 0, *row (a new reference: json_decref it) and *rev (NULL
 * allowed); -ENOENT; -EIO (also for a value that is not a JSON object: logged). */
int ie_row_get(struct dbc *c, const char *table, const char *key, json_t **row,
	       uint64_t *rev);
int ie_row_get_id(struct dbc *c, const char *table, int64_t id, json_t **row, uint64_t *rev);

/* Every row of table whose key starts with key_prefix ("" for all), in key order, to fn
 * (row is borrowed for the call; a non-zero return stops the walk and is returned).
 * Inside a transaction the walk sees the session's own writes, and the whole range joins
 * the compare list. */
int ie_row_each(struct dbc *c, const char *table, const char *key_prefix,
		int (*fn)(const char *key, json_t *row, uint64_t rev, void *arg), void *arg);

/* ie_row_each beside the transaction: one range read of etcd as it is now, not joining the
 * compare list (etcd takes at most 128 compares in a Txn) and without the session's own
 * writes; for reads whose atomicity another compare keeps (inv_usage_tree). */
int ie_row_each_side(struct dbc *c, const char *table, const char *key_prefix,
		     int (*fn)(const char *key, json_t *row, uint64_t rev, void *arg),
		     void *arg);

/* Write the row table/key (row borrowed). expect_rev: 0 any; IE_ABSENT only if the row
 * does not exist (else -EEXIST); otherwise only if its revision is still expect_rev (else
 * -EAGAIN; -ENOENT when it is gone). */
#define IE_ABSENT UINT64_MAX
int ie_row_put(struct dbc *c, const char *table, const char *key, json_t *row,
	       uint64_t expect_rev);

/* The JSON object of key's value (a row): 0 and *row (json_decref it), or -EIO (logged). */
int ie_row_parse(const char *key, const char *value, size_t len, json_t **row);

/* Read these rows (key, or with prefix every row whose key starts with it) of the tables
 * in one call, for the session's reads that follow: in a transaction (etcd_txn_read) each
 * is then answered without a call and compared at the commit as its own read would be;
 * outside one they are kept as the rows read ahead (ie_pre_keep: n at most IE_PRE), for
 * the reads that follow at once. 0, -EIO or -ENOMEM. */
struct ie_read {
	const char *table;
	const char *key;
	bool prefix;
};
int ie_rows_read(struct dbc *c, const struct ie_read *r, size_t n);

/* In a transaction: take the row table/key as read absent without reading it (a row of an
 * id just taken from its counter, which no one can have written): the commit still
 * compares it (fails when it exists). Outside one: nothing. 0 or -ENOMEM. */
int ie_row_assume_absent(struct dbc *c, const char *table, const char *key);

/* Delete the row table/key: 0 or -ENOENT. With prefix true, every row whose key starts
 * with key (0 also when there was none). */
int ie_row_delete(struct dbc *c, const char *table, const char *key, bool prefix);

/* A new id of table (ids/ counter): 0 and *id, or -EIO. Taken at once, outside the
 * session's transaction. */
int ie_new_id(struct dbc *c, const char *table, int64_t *id);

/* Every row of table (each with a "name" field), sorted by name as SQLite's ORDER BY name:
 * 0 and *rows, *n (free with ie_rows_free), or -errno. */
int ie_rows_by_name(struct dbc *c, const char *table, json_t ***rows, size_t *n);
void ie_rows_free(json_t **rows, size_t n);

/* In a transaction: ie_new_id, with the claim of value in index read in the same round
 * trip and taken as the transaction's read of it (etcd_txn_seed: the commit compares it),
 * so that ie_unique_claim of it reads nothing more. Outside one: ie_new_id. */
int ie_new_id_claim(struct dbc *c, const char *table, const char *index, const char *value,
		    int64_t *id);

/* --- unique values ----------------------------------------------------------------------- */

/* Claim value in index for the row id: 0, or -EEXIST when another row holds it. */
int ie_unique_claim(struct dbc *c, const char *index, const char *value, int64_t id);

/* The id holding value in index: 0 and *id, or -ENOENT. */
int ie_unique_get(struct dbc *c, const char *index, const char *value, int64_t *id);

/* Release value in index (when it is held). 0 or -EIO. */
int ie_unique_release(struct dbc *c, const char *index, const char *value);

/* --- writes outside a transaction ---------------------------------------------------------- */

/* Around the writes of one inventory function: when the session has no transaction, start
 * one (*own = true) so the function's writes commit together; ie_write_end then commits it
 * when rc is 0 (returning the commit's result) or drops it (returning rc). Inside the
 * caller's transaction both do nothing but pass rc on. */
int ie_write_begin(struct dbc *c, bool *own);
int ie_write_end(struct dbc *c, bool own, int rc);

/* Run body(c, arg) as one write: in the caller's transaction when it has one (body's
 * value), else in one of its own (ie_write_begin/ie_write_end) that is run again, a few
 * times, when its commit meets a concurrent write (-EAGAIN), as an SQLite writer waits for
 * the other. body's value or the commit's error. */
int ie_write(struct dbc *c, int (*body)(struct dbc *c, void *arg), void *arg);

/* --- cascades ------------------------------------------------------------------------------ */

/* What the SQLite schema's ON DELETE CASCADE and triggers do, written in the files that own
 * the rows, called in the deleting function's transaction:
 * - ie_vm_drop_children (inv_etcd_attach*.c): a deleted VM's drives (vm_disks), NICs (and
 *   their MACs' claims), CD/DVD drives, hardware row, snapshots and their images; its top
 *   layers become frozen (kind "frozen", vm 0, disk 0), as the vms_layers trigger does.
 *   inv_etcd_vm_delete calls it, with inv_etcd_grants_clear(c, "vm", id).
 * - ie_disk_drop_children (inv_etcd_layer.c): a deleted disk's own layer row (kind "disk").
 *   inv_etcd_disk_delete calls it, with inv_etcd_grants_clear(c, "disk", id).
 * inv_etcd_net_delete calls inv_etcd_grants_clear(c, "network", id); deleting a user or a
 * group (inv_etcd_principal_delete) drops its grants, memberships and sessions itself.
 * 0 or -errno. */
int ie_vm_drop_children(struct dbc *c, int64_t vm);
int ie_disk_drop_children(struct dbc *c, int64_t disk);

/* The owner of a deleted VM or disk (kind "vm", "disk") goes with it; a deleted user's
 * quota goes with it, while its objects' owner rows stay until the objects go, naming an
 * id no user has any more: nobody's (inv_etcd_quota.c). In the caller's transaction. 0 or
 * -errno. */
int ie_owner_drop(struct dbc *c, const char *kind, int64_t id);
int ie_owner_drop_user(struct dbc *c, int64_t uid);

/* An inventory from before quotas gets its objects' owners once, as SQLite's migration 14
 * (a VM or disk belongs to the oldest non-administrator holding full rights on it; the row
 * meta/owners says it was done). 0 or -errno (to try again at the next open). */
int ie_owners_backfill(struct dbc *c);

/* The key events_born/TYPE/NAME of a creation event (type TYPE-created of object type
 * otype, named name; malloc'd), NULL for another event (*oom set when memory ran out). */
char *ie_born_key(const char *type, const char *otype, const char *name, bool *oom);

/* Each name's newest creation event read from the events' history into events_born where
 * its row is older or missing (inv_etcd_born.c), from the id the last catch-up reached (the
 * row meta/born {"done", "upto"}; none: the whole history, as SQLite's migration 16): an
 * inventory from before inv_event_born, and the creations a host of before it recorded
 * since (a cluster of mixed versions: such a host writes no row). At every open, and with
 * every ie_born_prune walk. 0 or -errno (to try again the next time). */
int ie_born_backfill(struct dbc *c);

/* Retention: the rows events_born/TYPE/NAME whose id is INV_BORN_MARGIN below cut (the
 * first event id retention keeps) go (inv_etcd_born.c), each only as read (a name created
 * again meanwhile keeps its new row). A walk of every name's row, so made once IE_BORN_BATCH events went
 * since the store's last walk (and at its first drop); outside any transaction, at once.
 * 0 or -errno (the next drop tries again). */
#define IE_BORN_BATCH 512
int ie_born_prune(struct dbc *c, int64_t cut);

/* --- JSON fields ------------------------------------------------------------------------- */

/* Field helpers for row <-> struct: a missing or mistyped field reads as 0, false or NULL
 * (ie_int: a real truncated, 0 when no int64 holds it).
 * ie_str_dup returns a malloc'd copy (NULL for a missing field or on ENOMEM: *oom set);
 * ie_str_copy copies into a fixed buffer (truncating). ie_set_* return 0 or -ENOMEM; a NULL
 * string is stored as JSON null. */
int64_t ie_int(json_t *row, const char *field);
bool ie_bool(json_t *row, const char *field);
double ie_real(json_t *row, const char *field);
const char *ie_str(json_t *row, const char *field);
char *ie_str_dup(json_t *row, const char *field, bool *oom);
void ie_str_copy(json_t *row, const char *field, char *buf, size_t size);
int ie_set_int(json_t *row, const char *field, int64_t v);
int ie_set_bool(json_t *row, const char *field, bool v);
int ie_set_real(json_t *row, const char *field, double v);
int ie_set_str(json_t *row, const char *field, const char *v);

#endif
