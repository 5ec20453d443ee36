/* The inventory's tasks on etcd: rows tasks/ID {kind, object, state, progress, error, user,
 * created, finished (null while it runs)}, and for each running task a row
 * task_running/ID {kind, object}, so that the questions about running tasks (is one running
 * on this object; fail them all) read only those, never the whole history. See inv.h. */
#include "server/inv_etcd_direct.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int inv_etcd_task_create(struct dbc *c, const char *kind, const char *object, const char *user,
			 double created, int64_t *id)
{
	json_t *row, *run;
	int64_t nid = 0;
	char key[21];
	bool own;
	int rc;

	/* SQLite's NOT NULL kind */
	if (!kind)
		return -EEXIST;
	row = json_pack("{s:s,s:s?,s:s,s:f,s:n,s:s?,s:f,s:n}", "kind", kind, "object", object,
			"state", "running", "progress", 0.0, "error", "user", user,
			"created", created, "finished");
	run = json_pack("{s:s,s:s?}", "kind", kind, "object", object);
	rc = row && run ? ie_new_id(c, "tasks", &nid) : -ENOMEM;
	if (!rc)
		rc = ie_write_begin(c, &own);
	if (!rc) {
		rc = ie_row_put(c, "tasks", ie_id_key(nid, key), row, IE_ABSENT);
		if (!rc)
			rc = ie_row_put(c, "task_running", key, run, 0);
		rc = ie_write_end(c, own, rc);
	}
	if (!rc)
		*id = nid;
	json_decref(row);
	json_decref(run);
	return rc;
}

int inv_etcd_task_update(struct dbc *c, int64_t id, const char *state, double progress,
			 const char *error, double finished)
{
	json_t *row = NULL, *run = NULL;
	uint64_t rev;
	char key[21];
	bool own;
	int rc;

	/* SQLite's NOT NULL state */
	if (!state)
		return -EEXIST;
	rc = ie_write_begin(c, &own);
	if (rc)
		return rc;
	rc = ie_row_get(c, "tasks", ie_id_key(id, key), &row, &rev);
	if (rc == -ENOENT) {
		rc = 0;     /* an UPDATE of no row */
		goto out;
	}
	if (!rc && (ie_set_str(row, "state", state) || ie_set_real(row, "progress", progress) ||
		    ie_set_str(row, "error", error) ||
		    (finished >= 0 ? ie_set_real(row, "finished", finished) :
				     json_object_set_new(row, "finished", json_null()))))
		rc = -ENOMEM;
	if (!rc)
		rc = ie_row_put(c, "tasks", key, row, rev);
	if (!rc && !strcmp(state, "running")) {
		run = json_pack("{s:s?,s:s?}", "kind", ie_str(row, "kind"), "object",
				ie_str(row, "object"));
		rc = run ? ie_row_put(c, "task_running", key, run, 0) : -ENOMEM;
	} else if (!rc) {
		rc = ie_row_delete(c, "task_running", key, false);
		if (rc == -ENOENT)
			rc = 0;
	}
out:
	json_decref(row);
	json_decref(run);
	return ie_write_end(c, own, rc);
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

/* inv_etcd_task_fail_running: the running tasks' ids. */
static int collect_id(const char *key, json_t *row, uint64_t rev, void *arg)
{
	(void)row;
	(void)rev;
	return json_array_append_new(arg, json_integer(strtoll(key, NULL, 10))) ? -ENOMEM : 0;
}

/* A task row that says running but has no task_running row (it cannot happen through these
 * functions) is not found by the questions about running tasks. */
int inv_etcd_task_fail_running(struct dbc *c, const char *error, double finished)
{
	json_t *ids = json_array(), *v;
	size_t i;
	bool own;
	int n = 0, rc = ids ? ie_write_begin(c, &own) : -ENOMEM;

	if (rc) {
		json_decref(ids);
		return rc;
	}
	rc = ie_row_each(c, "task_running", "", collect_id, ids);
	json_array_foreach(ids, i, v) {
		json_t *row = NULL;
		uint64_t rev;
		char key[21];

		if (rc)
			break;
		rc = ie_row_get(c, "tasks", ie_id_key(json_integer_value(v), key), &row, &rev);
		if (!rc && ie_str(row, "state") && !strcmp(ie_str(row, "state"), "running")) {
			if (ie_set_str(row, "state", "failed") || ie_set_str(row, "error", error) ||
			    ie_set_real(row, "finished", finished))
				rc = -ENOMEM;
			if (!rc)
				rc = ie_row_put(c, "tasks", key, row, rev);
			if (!rc)
				n++;
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
	rc = ie_write_end(c, own, rc);
	return rc ? rc : n;
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
