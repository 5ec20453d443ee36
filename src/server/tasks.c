/* Tasks: inventory rows plus a detached thread each. See tasks.h. */
#include "server/tasks.h"
#include "server/cluster.h"
#include "server/events.h"
#include "server/inv.h"
#include "util/clock.h"
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct task {
	struct server *srv;
	int64_t id;
	char kind[32], object[64], who[64];
	task_fn fn;
	void *arg;
	void (*arg_free)(void *);
	double last_time, last_fraction;
	char error[4096];      /* (a balance or drain names each VM with its reason: the VMM's
				 * no-KVM reason alone is 300 bytes) */
};

struct server *task_server(struct task *t)
{
	return t->srv;
}

void task_error(struct task *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->error, sizeof(t->error), fmt, ap);
	va_end(ap);
}

static int task_update(struct task *t, const char *state, double progress, const char *error)
{
	struct dbc *c = inv_get(t->srv->db);
	bool end = strcmp(state, "running") != 0;
	int rc = -EIO;

	if (!c)
		return -EIO;
	if (inv_begin(c))
		goto out;
	rc = inv_task_update(c, t->id, state, progress, error, end ? clock_real() : -1);
	if (!rc)
		rc = events_emit(t->srv, c, end ? (error ? "task-failed" : "task-done") : "task-progress",
				 "task", t->object, t->who,
				 json_pack("{s:I,s:s,s:f,s:s?}", "task", (json_int_t)t->id, "kind", t->kind,
					   "progress", progress, "error", error),
				 "task %lld (%s of %s): %s %.0f%%%s%s", (long long)t->id, t->kind,
				 t->object, state, progress * 100, error ? ": " : "", error ? error : "");
	if (rc || inv_commit(c))
		inv_rollback(c);
out:
	inv_put(c);
	return rc;
}

bool task_progress_due(double last_f, double last_t, double f, double now)
{
	if (f <= last_f)
		return false;
	if (f - last_f >= 0.1 - 1e-9 && now - last_t >= 1.0)
		return true;
	return now - last_t >= 10.0;
}

void task_progress(struct task *t, double f)
{
	double now = clock_mono();

	if (f < 0)
		f = 0;
	if (f > 1)
		f = 1;
	if (!task_progress_due(t->last_fraction, t->last_time, f, now))
		return;
	t->last_fraction = f;
	t->last_time = now;
	task_update(t, "running", f, NULL);
}

static void *task_thread(void *p)
{
	struct task *t = p;
	int rc = t->fn(t, t->arg);

	if (rc && !t->error[0])
		snprintf(t->error, sizeof(t->error), "%s", strerror(-rc));
	task_update(t, rc ? "failed" : "done", rc ? t->last_fraction : 1.0, rc ? t->error : NULL);
	vsrv_log("task %lld (%s of %s): %s%s", (long long)t->id, t->kind, t->object,
		 rc ? "failed: " : "done", rc ? t->error : "");
	if (t->arg_free)
		t->arg_free(t->arg);
	free(t);
	return NULL;
}

int task_start(struct server *srv, const char *kind, const char *object, const char *who,
	       task_fn fn, void *arg, void (*arg_free)(void *), int64_t *id)
{
	struct task *t = calloc(1, sizeof(*t));
	struct dbc *c = NULL;
	pthread_attr_t at;
	pthread_t th;
	int rc = -ENOMEM;

	if (!t)
		goto err;
	t->srv = srv;
	t->fn = fn;
	t->arg = arg;
	t->arg_free = arg_free;
	t->last_time = clock_mono();
	snprintf(t->kind, sizeof(t->kind), "%s", kind);
	snprintf(t->object, sizeof(t->object), "%s", object);
	snprintf(t->who, sizeof(t->who), "%s", who ? who : "");
	rc = -EIO;
	c = inv_get(srv->db);
	if (!c || inv_begin(c))
		goto err;
	rc = inv_task_create(c, kind, object, who, srv->cluster ? cluster_name(srv->cluster) : NULL,
			     clock_real(), &t->id);
	if (!rc)
		rc = events_emit(srv, c, "task-started", "task", object, who,
				 json_pack("{s:I,s:s}", "task", (json_int_t)t->id, "kind", kind),
				 "task %lld: %s of %s", (long long)t->id, kind, object);
	if (rc || (rc = inv_commit(c))) {
		inv_rollback(c);
		goto err;
	}
	inv_put(c);
	c = NULL;
	if (id)
		*id = t->id;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	rc = -pthread_create(&th, &at, task_thread, t);
	pthread_attr_destroy(&at);
	if (rc) {
		task_update(t, "failed", 0, "cannot start a thread");
		goto err;
	}
	return 0;
err:
	if (c)
		inv_put(c);
	if (arg_free)
		arg_free(arg);
	free(t);
	return rc;
}

bool task_running(struct dbc *c, const char *kind, const char *object)
{
	return inv_task_running(c, kind, object) == 1;
}

bool task_images_busy(struct dbc *c, const char *vm)
{
	return task_running(c, "undo-commit", vm) || task_running(c, "vm-clone", vm) ||
	       task_running(c, "vm-snapshot-delete", vm);
}

int tasks_recover(struct server *srv, struct dbc *c)
{
	/* in a cluster, the other hosts' tasks run on */
	return inv_task_fail_running(c, srv->cluster ? cluster_name(srv->cluster) : NULL,
				     "interrupted by a daemon restart", clock_real());
}
