/* Long operations (undo-disk commits, conversions, copies) run as tasks: a row in the
 * inventory's tasks table (kind, object, state running/done/failed, progress 0..1, error)
 * and a thread of their own; progress and the end are also events (task-progress,
 * task-done, task-failed), so /api/v1/events followers see them. */
#ifndef VSRV_SERVER_TASKS_H
#define VSRV_SERVER_TASKS_H

#include "server/server.h"

struct task;

/* The work: runs on the task's thread with its own inventory connection available through
 * task_db. Returns 0 or -errno (then task_error's message, or strerror, is recorded). */
typedef int (*task_fn)(struct task *t, void *arg);

/* Record a running task and start fn(t, arg) on a detached thread. arg is owned by the task
 * from then on and freed with arg_free (may be NULL) when it ends, also when the start
 * fails. Returns 0 and *id (may be NULL) or -errno. */
int task_start(struct server *srv, const char *kind, const char *object, const char *who,
	       task_fn fn, void *arg, void (*arg_free)(void *), int64_t *id);

/* Report progress (0..1) from fn. Written to the inventory (and a task-progress event) when
 * task_progress_due says so; the end (task-done, task-failed) is always written. */
void task_progress(struct task *t, double fraction);

/* Whether progress f at time now (seconds) is worth a task-progress event, the last one
 * having said last_f at last_t: a step of 10% or more, at most one a second; or, for a slow
 * task, any advance after 10 s. So a task makes at most about ten progress events plus one
 * per 10 s, however often it reports. */
bool task_progress_due(double last_f, double last_t, double f, double now);

/* Set the message recorded when fn fails. */
void task_error(struct task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The server of a task (for fn). */
struct server *task_server(struct task *t);

/* Whether a task of kind on object is running. */
bool task_running(struct dbc *c, const char *kind, const char *object);

/* Whether a task that changes VM vm's images runs (an undo commit, a snapshot delete, a
 * full clone copying it): the VM then cannot start, change snapshots or be deleted. */
bool task_images_busy(struct dbc *c, const char *vm);

/* At start-up: tasks a previous daemon left running are marked failed ("interrupted by a
 * daemon restart"): in a cluster only this host's (and those of no host), the other hosts'
 * run on. Returns how many. */
int tasks_recover(struct server *srv, struct dbc *c);

#endif
