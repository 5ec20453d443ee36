/* The inventory's tasks on etcd: rows tasks/ID {kind, object, state, progress, error, user,
 * host, created, finished (null while it runs)}, and for each running task a row
 * task_running/ID {kind, object, host}, so that the questions about running tasks (is one running
 * on this object; fail them all) read only those, never the whole history. See inv.h. */
#include "server/inv_etcd_direct.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A task's rows to write: the task, and its row among the running ones. */
struct task_w {
	int64_t id;
	json_t *row, *run;
	const char *state, *error, *host;
	double progress, finished;
	int n;
};

static int create_body(struct dbc *c, void *arg)
{
	struct task_w *a = arg;
	char key[21];
	int rc = ie_row_put(c, "tasks", ie_id_key(a->id, key), a->row, IE_ABSENT);

	return rc ? rc : ie_row_put(c, "task_running", key, a->run, 0);
}

int inv_etcd_task_create(struct dbc *c, const char *kind, const char *object, const char *user,
			 const char *host, double created, int64_t *id)
{
	struct task_w a = { 0 };
	int rc;

	/* SQLite's NOT NULL kind */
	if (!kind)
		return -EEXIST;
	a.row = json_pack("{s:s,s:s?,s:s,s:f,s:n,s:s?,s:s?,s:f,s:n}", "kind", kind, "object",
			  object, "state", "running", "progress", 0.0, "error", "user", user,
			  "host", host, "created", created, "finished");
	a.run = json_pack("{s:s,s:s?,s:s?}", "kind", kind, "object", object, "host", host);
	rc = a.row && a.run ? ie_new_id(c, "tasks", &a.id) : -ENOMEM;
	if (!rc)
		rc = ie_write(c, create_body, &a);
	if (!rc)
		*id = a.id;
	json_decref(a.row);
	json_decref(a.run);
	return rc;
}

static int update_body(struct dbc *c, void *arg)
{
	struct task_w *a = arg;
	json_t *row = NULL, *run = NULL;
	uint64_t rev;
	char key[21];
	int rc = ie_row_get(c, "tasks", ie_id_key(a->id, key), &row, &rev);

	if (rc == -ENOENT)
		return 0;   /* an UPDATE of no row */
	if (!rc && (ie_set_str(row, "state", a->state) || ie_set_real(row, "progress", a->progress) ||
		    ie_set_str(row, "error", a->error) ||
		    (a->finished >= 0 ? ie_set_real(row, "finished", a->finished) :
					json_object_set_new(row, "finished", json_null()))))
		rc = -ENOMEM;
	if (!rc)
		rc = ie_row_put(c, "tasks", key, row, rev);
	if (!rc && !strcmp(a->state, "running")) {
		run = json_pack("{s:s?,s:s?,s:s?}", "kind", ie_str(row, "kind"), "object",
				ie_str(row, "object"), "host", ie_str(row, "host"));
		rc = run ? ie_row_put(c, "task_running", key, run, 0) : -ENOMEM;
	} else if (!rc) {
		rc = ie_row_delete(c, "task_running", key, false);
		if (rc == -ENOENT)
			rc = 0;
	}
	json_decref(row);
	json_decref(run);
	return rc;
}

int inv_etcd_task_update(struct dbc *c, int64_t id, const char *state, double progress,
			 const char *error, double finished)
{
	struct task_w a = { .id = id, .state = state, .progress = progress, .error = error,
			    .finished = finished };

	/* SQLite's NOT NULL state */
	return state ? ie_write(c, update_body, &a) : -EEXIST;
}

/* inv_etcd_task_running: whether a running task is of kind on object. */
struct match {
	const char *kind, *object;
};

static int running_row(const char *key, json_t *row, uint64_t rev, void *arg)
{
	struct match *m = arg;
	const char *k = ie_str(row, "kind"), *o = ie_str(row, "object");

	(void)key;
	(void)rev;
	return k && o && !strcmp(k, m->kind) && !strcmp(o, m->object);
}

int inv_etcd_task_running(struct dbc *c, const char *kind, const char *object)
{
	struct match m = { kind, object };

	/* SQLite: "kind = ? AND object = ?" is never true of a NULL */
	if (!kind || !object)
		return 0;
	return ie_row_each(c, "task_running", "", running_row, &m);
}

/* inv_etcd_task_fail_running: the ids of the running tasks of host (struct task_w) or of
 * no host; every one when host is NULL. */
struct fail_ids {
	json_t *ids;
	const char *host;
};

static int collect_id(const char *key, json_t *row, uint64_t rev, void *arg)
{
	struct fail_ids *f = arg;
	const char *h = ie_str(row, "host");

	(void)rev;
	if (f->host && h && strcmp(h, f->host))
		return 0;
	return json_array_append_new(f->ids, json_integer(strtoll(key, NULL, 10))) ? -ENOMEM : 0;
}

/* A task row that says running but has no task_running row (it cannot happen through these
 * functions) is not found by the questions about running tasks. */
static int fail_body(struct dbc *c, void *arg)
{
	struct task_w *a = arg;
	json_t *ids = json_array(), *v;
	struct fail_ids f = { ids, a->host };
	size_t i;
	int rc = ids ? ie_row_each(c, "task_running", "", collect_id, &f) : -ENOMEM;

	a->n = 0;
	json_array_foreach(ids, i, v) {
		json_t *row = NULL;
		uint64_t rev;
		char key[21];

		if (rc)
			break;
		rc = ie_row_get(c, "tasks", ie_id_key(json_integer_value(v), key), &row, &rev);
		if (!rc && ie_str(row, "state") && !strcmp(ie_str(row, "state"), "running")) {
			if (ie_set_str(row, "state", "failed") || ie_set_str(row, "error", a->error) ||
			    ie_set_real(row, "finished", a->finished))
				rc = -ENOMEM;
			if (!rc)
				rc = ie_row_put(c, "tasks", key, row, rev);
			if (!rc)
				a->n++;
		}
		if (rc == -ENOENT)
			rc = 0;
		if (!rc)
			rc = ie_row_delete(c, "task_running", key, false);
		if (rc == -ENOENT)
			rc = 0;
		json_decref(row);
	}
	json_decref(ids);
	return rc;
}

int inv_etcd_task_fail_running(struct dbc *c, const char *host, const char *error,
			       double finished)
{
	struct task_w a = { .error = error, .finished = finished, .host = host };
	int rc = ie_write(c, fail_body, &a);

	return rc ? rc : a.n;
}

static void task_fill(int64_t id, json_t *row, struct inv_task *t)
{
	json_t *fin = json_object_get(row, "finished");

	*t = (struct inv_task){
		.id = id,
		.kind = ie_str(row, "kind"),
		.object = ie_str(row, "object"),
		.state = ie_str(row, "state"),
		.progress = ie_real(row, "progress"),
		.error = ie_str(row, "error"),
		.user = ie_str(row, "user"),
		.host = ie_str(row, "host"),
		.created = ie_real(row, "created"),
		.finished = json_is_number(fin) ? ie_real(row, "finished") : -1,
	};
}

static int collect_task(const char *key, json_t *row, uint64_t rev, void *arg)
{
	(void)rev;
	return json_array_append_new(arg, json_pack("[I,O]", (json_int_t)strtoll(key, NULL, 10),
						     row)) ? -ENOMEM : 0;
}

int inv_etcd_task_each(struct dbc *c, int (*fn)(const struct inv_task *t, void *arg), void *arg)
{
	json_t *a = json_array();
	size_t i;
	int rc = a ? ie_row_each(c, "tasks", "", collect_task, a) : -ENOMEM;

	/* newest first: the rows came by id */
	for (i = json_array_size(a); !rc && i-- > 0;) {
		json_t *p = json_array_get(a, i);
		struct inv_task t;

		task_fill(json_integer_value(json_array_get(p, 0)), json_array_get(p, 1), &t);
		rc = fn(&t, arg);
	}
	json_decref(a);
	return rc;
}

int inv_etcd_task_get(struct dbc *c, int64_t id, int (*fn)(const struct inv_task *t, void *arg),
		      void *arg)
{
	struct inv_task t;
	json_t *row;
	int rc = ie_row_get_id(c, "tasks", id, &row, NULL);

	if (rc)
		return rc;
	task_fill(id, row, &t);
	rc = fn(&t, arg);
	json_decref(row);
	return rc;
}
