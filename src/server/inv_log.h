/* The inventory interface (inv.h, which includes this part), continued: what happened and
 * what runs: events (the log every change a user sees is written to, events.h), hooks
 * (what runs on an event, hooks.h) and tasks (long jobs, tasks.h). Same sessions,
 * transactions and errors as inv.h says. */
#ifndef VSRV_SERVER_INV_LOG_H
#define VSRV_SERVER_INV_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dbc;

/* --- events ---------------------------------------------------------------------------- */

/* One event (events.h). In a callback the strings are valid during the call only. */
struct inv_event {
	int64_t id;                 /* raised by every event: the log's order */
	double time;                /* Unix time */
	const char *type;
	const char *object_type;    /* may be NULL, as object, user and data */
	const char *object;
	const char *user;
	const char *message;
	const char *data;           /* JSON text */
};

/* Record e (its id is ignored) through c, in the caller's transaction when one is open.
 * 0 or -EIO. The event's id is given to then(id, arg) (NULL: none; not called on an
 * error) once it is known, and to *id too when that is at once: at once on SQLite and
 * outside a transaction; on etcd in a transaction, at its commit (*id is 0 meanwhile: the
 * id is taken in the commit's own Txn, in commit order), or then(0, arg) when the
 * transaction does not commit (rolled back, refused). then may use c (no transaction is
 * open on it by then at the commit). */
typedef void inv_event_fn(int64_t id, void *arg);
int inv_event_add(struct dbc *c, const struct inv_event *e, int64_t *id, inv_event_fn *then,
		  void *arg);

/* Whether event id is stored and committed (as c sees it). 1, 0 or -EIO. */
int inv_event_exists(struct dbc *c, int64_t id);

/* The newest event's id (0: none) into *id. 0 or -EIO. */
int inv_event_last(struct dbc *c, int64_t *id);

/* Call fn for at most limit events, oldest first, until it returns non-zero (that value is
 * returned): those after id after, or the newest limit when after < 0. 0, fn's value or
 * -EIO. */
int inv_event_each(struct dbc *c, int64_t after, int64_t limit,
		   int (*fn)(const struct inv_event *e, void *arg), void *arg);

/* Drop the events up to id upto (inclusive), or older than time before (all those before
 * the first one at or after it). 0 or -EIO. */
int inv_event_drop_upto(struct dbc *c, int64_t upto);
int inv_event_drop_before(struct dbc *c, double before);

/* An event that creates its object: type is its object_type followed by "-created"
 * ("vm-created" of object_type "vm"), with an object name. */
#define INV_EVENT_CREATED "-created"

/* An object name asked of inv_event_born: its kind and name (in, the caller's), and the
 * id of the newest creation event ever recorded for that name (out; 0: none). */
struct inv_born {
	const char *object_type;
	const char *object;
	int64_t born;
};

/* The newest creation event of each of the n names of names[] (committed state), so that
 * an event about a name is told from one about a deleted namesake (older than the name's
 * newest creation) without reading the history: an index both backends keep with the
 * events, one entry per name, written with its creation event. O(n): one indexed lookup
 * per name (SQLite), one etcd Txn per 128 names. 0 (names[i].born set), -EIO or -ENOMEM.
 * Retention (inv_event_drop_upto, inv_event_drop_before) drops a name's entry once its
 * creation event is INV_BORN_MARGIN ids behind the first event it keeps: every event of
 * the name older than the creation is gone by then, so the entry hides nothing any more;
 * the margin is for a reader that read events before a drop and asks their names' entries
 * after it (it would see the namesake's events it read as the name's otherwise). */
#define INV_BORN_MARGIN 512
int inv_event_born(struct dbc *c, struct inv_born *names, size_t n);

/* --- hooks ----------------------------------------------------------------------------- */

/* One hook (hooks.h): a command or a webhook (exactly one of command and url is set; a
 * stored command of a webhook reads ""). In a callback the strings are valid during the
 * call only. */
struct inv_hook {
	int64_t id;
	const char *event;          /* an event type, or "*" */
	const char *command;
	const char *url;
	int timeout;                /* seconds */
	int64_t created;            /* Unix time */
};

/* Call fn for every hook (type NULL) or for those of event type type and of "*", by id,
 * until it returns non-zero (that value is returned). 0, fn's value or -EIO. */
int inv_hook_each(struct dbc *c, const char *type,
		  int (*fn)(const struct inv_hook *h, void *arg), void *arg);

/* Call fn for hook id: fn's value, -ENOENT or -EIO. */
int inv_hook_get(struct dbc *c, int64_t id, int (*fn)(const struct inv_hook *h, void *arg),
		 void *arg);

/* Store h (its id and created are set here). 0 and *id, or -EIO. */
int inv_hook_create(struct dbc *c, const struct inv_hook *h, int64_t *id);

/* Delete hook id. 0, -ENOENT or -EIO. */
int inv_hook_delete(struct dbc *c, int64_t id);

/* --- tasks ----------------------------------------------------------------------------- */

/* One task (tasks.h). In a callback the strings are valid during the call only. */
struct inv_task {
	int64_t id;
	const char *kind;
	const char *object;         /* may be NULL, as error and user */
	const char *state;          /* running, done, failed */
	double progress;            /* 0..1 */
	const char *error;
	const char *user;
	const char *host;           /* the cluster host running it; NULL alone (or before) */
	double created;             /* Unix time */
	double finished;            /* Unix time; < 0 while it runs */
};

/* Record a running task (progress 0) created at created, run by cluster host host (NULL:
 * a host alone). 0 and *id, or -EIO. */
int inv_task_create(struct dbc *c, const char *kind, const char *object, const char *user,
		    const char *host, double created, int64_t *id);

/* Set task id's state, progress and error (NULL: none), and finished (< 0: not finished).
 * 0 or -EIO. */
int inv_task_update(struct dbc *c, int64_t id, const char *state, double progress,
		    const char *error, double finished);

/* Whether a task of kind on object runs. 1, 0 or -EIO. */
int inv_task_running(struct dbc *c, const char *kind, const char *object);

/* Mark running tasks failed with error, finished at finished: with host NULL every one,
 * else those of cluster host host and those of no host (a shared inventory's other hosts'
 * tasks run on). How many, or -EIO. */
int inv_task_fail_running(struct dbc *c, const char *host, const char *error,
			  double finished);

/* Call fn for every task, newest first, until it returns non-zero (that value is
 * returned). 0, fn's value or -EIO. */
int inv_task_each(struct dbc *c, int (*fn)(const struct inv_task *t, void *arg), void *arg);

/* Call fn for task id: fn's value, -ENOENT or -EIO. */
int inv_task_get(struct dbc *c, int64_t id, int (*fn)(const struct inv_task *t, void *arg),
		 void *arg);

/* --- claims ---------------------------------------------------------------------------- */

/* A claim: one server's hold on an object (what: its kind of job, as "snaplive", a live
 * snapshot's window, snaplive.h; id: the object's, a VM's id) for a short job that no other
 * server sharing the inventory may run beside, with its owner (a text the taker chose: its
 * host, and what tells its claim from another's) and an expiry, so that a server that dies
 * holding one does not hold it forever: SQLite, a row of the claims table with the time it
 * ends (this host's clock); etcd, a key PREFIX "t/claims/" WHAT "/" ID under a lease of its
 * own, which etcd ends (docs/cluster.md).
 *
 * inv_claim_take: claim what/id for owner for ttl_s seconds (1 to 86400), at once, in a
 * step of its own (etcd: outside the session's transaction, whatever becomes of it;
 * SQLite: inside it when the session has one open, as BEGIN IMMEDIATE serialises it: no
 * caller takes, drops or sweeps inside a transaction): 0, or -EBUSY
 * when another claim on it has not ended (its owner into holder, n bytes, when not NULL),
 * -EINVAL, -EIO. A claim whose time is over is taken over.
 * inv_claim_drop: end owner's claim on what/id, at once; one no longer owner's (ended,
 * and taken by another since) stays. 0, -ENOENT (not owner's) or -EIO.
 * inv_claim_get: whether what/id is claimed now: 0 and its owner into holder (n bytes;
 * NULL allowed), -ENOENT, -EIO. Inside a transaction the read is the transaction's (etcd:
 * its commit fails with -EAGAIN when a claim was taken or dropped since; SQLite: writers
 * are serialised), so a check made there still holds at the commit. */
int inv_claim_take(struct dbc *c, const char *what, int64_t id, const char *owner, int ttl_s,
		   char *holder, size_t n);
int inv_claim_drop(struct dbc *c, const char *what, int64_t id, const char *owner);
int inv_claim_get(struct dbc *c, const char *what, int64_t id, char *holder, size_t n);

/* End at once every claim whose owner begins with prefix (not empty): a daemon starting
 * again drops its host's claims, which a previous daemon of it left when it died (they
 * would hold until their time is over otherwise). How many, or -EINVAL, -EIO. */
int inv_claim_sweep(struct dbc *c, const char *prefix);

#endif
