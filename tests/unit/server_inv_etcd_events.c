/* The etcd inventory's events, hooks and tasks (inv_etcd_event.c, _hook.c, _task.c) against
 * the SQLite backend: the same calls on both (a temporary file; a fresh prefix of a real
 * etcd member, etcdrig.h), traced and compared line by line (invtrace.h). Then what only
 * etcd has: an event recorded in a transaction takes its id at the commit (ids in commit
 * order, so a follower never skips one); past the ids a commit takes, a placeholder holds
 * back the events after it from the followers (inv_event_each, inv_event_last) until it
 * commits, or its lease ends (revoked by the test: the same end for etcd as its expiry);
 * two sessions updating the same task: one commit fails with -EAGAIN; retention drops a
 * name's creation row (inv_event_born) with its creation event, on both backends alike.
 * SKIPs when etcd is not installed. */
#include "check.h"
#include "etcdrig.h"
#include "invtrace.h"
#include "server/etcd.h"
#include "server/inv_etcd.h"

#include <curl/curl.h>
#include <time.h>
#include <unistd.h>

static struct etcdrig rig;

static int event_line(const struct inv_event *e, void *arg)
{
	trace(arg, "  event %lld %.2f %s %s %s %s %s %s", (long long)e->id, e->time, e->type,
	      e->object_type ? e->object_type : "(null)", e->object ? e->object : "(null)",
	      e->user ? e->user : "(null)", e->message, e->data ? e->data : "(null)");
	return 0;
}

static int hook_line(const struct inv_hook *h, void *arg)
{
	trace(arg, "  hook %lld %s cmd=%s url=%s timeout=%d", (long long)h->id, h->event,
	      h->command ? h->command : "(null)", h->url ? h->url : "(null)", h->timeout);
	return 0;
}

static int task_line(const struct inv_task *k, void *arg)
{
	trace(arg, "  task %lld %s %s %s %.2f %s %s %s %.2f %.2f", (long long)k->id, k->kind,
	      k->object ? k->object : "(null)", k->state, k->progress,
	      k->error ? k->error : "(null)", k->user ? k->user : "(null)",
	      k->host ? k->host : "(null)", k->created, k->finished);
	return 0;
}

static int stop_hook(const struct inv_hook *h, void *arg)
{
	(void)h;
	(void)arg;
	return 5;
}

static void got_id(int64_t id, void *arg)
{
	*(int64_t *)arg = id;
}

/* Record an event: its id once known (*got: -1 until then, 0 when not committed), or the
 * error; the id when it is known at once (else -1). */
static int64_t add_event_then(struct dbc *c, double time, const char *type,
			      const char *object, const char *data, int64_t *got)
{
	int64_t now = -1;
	int rc;

	*got = -1;
	rc = inv_event_add(c, &(struct inv_event){ .time = time, .type = type,
				.object_type = object ? "vm" : NULL, .object = object,
				.user = object ? "alice" : NULL, .message = "something",
				.data = data }, &now, got_id, got);
	return rc ? rc : now ? now : -1;
}

static int64_t add_event(struct dbc *c, double time, const char *type, const char *object,
			 const char *data)
{
	int64_t got;
	int64_t rc = add_event_then(c, time, type, object, data, &got);

	return rc < -1 ? rc : got;
}

static void events_scenario(struct db *db, struct trace *t)
{
	struct dbc *c = inv_get(db);
	int64_t last = -1;
	int rc;

	if (!c)
		return;
	rc = inv_event_last(c, &last);
	trace(t, "last of none %d %lld", rc, (long long)last);
	rc = inv_event_each(c, -1, 10, event_line, t);
	trace(t, "newest of none %d", rc);
	trace(t, "add %lld", (long long)add_event(c, 100, "vm.created", "vm1", "{\"a\":1}"));
	trace(t, "add %lld", (long long)add_event(c, 101, "vm.started", "vm1", NULL));
	trace(t, "add %lld", (long long)add_event(c, 102.5, "user.login", NULL, NULL));
	trace(t, "add %lld", (long long)add_event(c, 103, "vm.stopped", "vm2", "[1,2]"));
	trace(t, "add %lld", (long long)add_event(c, 104, "vm.deleted", "vm2", NULL));
	trace(t, "add no type %d", inv_event_add(c, &(struct inv_event){ .time = 1,
						  .message = "m" }, &last, NULL, NULL));
	rc = inv_event_last(c, &last);
	trace(t, "last %d %lld", rc, (long long)last);
	trace(t, "exists 3 %d 99 %d 0 %d", inv_event_exists(c, 3), inv_event_exists(c, 99),
	      inv_event_exists(c, 0));
	trace(t, "after 2 limit 2 %d", inv_event_each(c, 2, 2, event_line, t));
	trace(t, "after 0 limit 100 %d", inv_event_each(c, 0, 100, event_line, t));
	trace(t, "after 5 %d", inv_event_each(c, 5, 100, event_line, t));
	trace(t, "after 50 %d", inv_event_each(c, 50, 100, event_line, t));
	trace(t, "newest 3 %d", inv_event_each(c, -1, 3, event_line, t));
	trace(t, "newest 10 %d", inv_event_each(c, -1, 10, event_line, t));
	trace(t, "drop upto 2 %d", inv_event_drop_upto(c, 2));
	trace(t, "newest 10 %d", inv_event_each(c, -1, 10, event_line, t));
	trace(t, "after 0 limit 1 %d", inv_event_each(c, 0, 1, event_line, t));
	trace(t, "exists 2 %d 3 %d", inv_event_exists(c, 2), inv_event_exists(c, 3));
	trace(t, "drop before 103.5 %d", inv_event_drop_before(c, 103.5));
	trace(t, "newest 10 %d", inv_event_each(c, -1, 10, event_line, t));
	trace(t, "drop before 1000 %d", inv_event_drop_before(c, 1000));
	trace(t, "newest 10 %d", inv_event_each(c, -1, 10, event_line, t));
	trace(t, "add %lld", (long long)add_event(c, 105, "vm.created", "vm3", NULL));
	rc = inv_event_last(c, &last);
	trace(t, "last %d %lld", rc, (long long)last);
	/* in a transaction: visible to itself, committed with it */
	trace(t, "begin %d", inv_begin(c));
	{
		int64_t got;

		/* (its id: at once on SQLite, at the commit on etcd) */
		trace(t, "add %d", add_event_then(c, 106, "vm.started", "vm3", NULL, &got) < -1);
		trace(t, "commit %d", inv_commit(c));
		trace(t, "its id %lld", (long long)got);
	}
	trace(t, "after 5 %d", inv_event_each(c, 5, 100, event_line, t));
	trace(t, "drop upto 100 %d", inv_event_drop_upto(c, 100));
	rc = inv_event_last(c, &last);
	trace(t, "last of dropped %d %lld", rc, (long long)last);
	trace(t, "newest 10 %d", inv_event_each(c, -1, 10, event_line, t));
	inv_put(c);
}

/* inv_event_born: the newest creation event of each name asked (vm/b1, disk/b1, vm/b2,
 * vm/none, user/carol) into got, traced. */
static void trace_born(struct dbc *c, struct trace *t, const char *what, int64_t got[5])
{
	struct inv_born n[] = { { "vm", "b1", -1 }, { "disk", "b1", -1 }, { "vm", "b2", -1 },
				{ "vm", "none", -1 }, { "user", "carol", -1 } };
	int rc = inv_event_born(c, n, sizeof(n) / sizeof(n[0]));

	CHECK_EQ(rc, 0);
	for (int i = 0; i < 5; i++)
		got[i] = n[i].born;
	trace(t, "born %s %d: vm/b1 %lld disk/b1 %lld vm/b2 %lld vm/none %lld user/carol %lld",
	      what, rc, (long long)n[0].born, (long long)n[1].born, (long long)n[2].born,
	      (long long)n[3].born, (long long)n[4].born);
}

/* Record an event: *got its id once known (-1 until then: in a transaction, its commit;
 * 0 when not committed). 0 or the error. */
static int add_typed_then(struct dbc *c, const char *type, const char *otype, const char *name,
			  int64_t *got)
{
	int64_t now = -1;

	*got = -1;
	return inv_event_add(c, &(struct inv_event){ .time = 200, .type = type,
				.object_type = otype, .object = name, .message = "m" }, &now,
			     got_id, got);
}

/* Record an event outside a transaction: its id, or the error. */
static int64_t add_typed(struct dbc *c, const char *type, const char *otype, const char *name)
{
	int64_t id;
	int rc = add_typed_then(c, type, otype, name, &id);

	return rc ? rc : id;
}

static void born_scenario(struct db *db, struct trace *t)
{
	struct dbc *c = inv_get(db);
	int64_t vm1, disk1, vm2, carol, rolled, got[5];

	if (!c)
		return;
	trace(t, "born of none %d", inv_event_born(c, NULL, 0));
	trace_born(c, t, "empty", got);
	CHECK(!got[0] && !got[1] && !got[2] && !got[3] && !got[4]);
	vm1 = add_typed(c, "vm-created", "vm", "b1");
	add_typed(c, "vm-updated", "vm", "b1");
	disk1 = add_typed(c, "disk-created", "disk", "b1");
	vm2 = add_typed(c, "vm-created", "vm", "b2");
	/* not creations: another kind's type, a snapshot's, no object */
	add_typed(c, "disk-created", "vm", "b2");
	add_typed(c, "vm-snapshot-created", "vm", "b2");
	add_typed(c, "vm-created", NULL, NULL);
	carol = add_typed(c, "user-created", "user", "carol");
	trace(t, "added %lld %lld %lld %lld", (long long)vm1, (long long)disk1, (long long)vm2,
	      (long long)carol);
	trace_born(c, t, "first", got);
	CHECK(vm1 > 0 && got[0] == vm1 && got[1] == disk1 && got[2] == vm2 && !got[3] &&
	      got[4] == carol);
	/* deleted and made again: the newest creation; also one in a transaction, seen once
	 * committed; none of one rolled back */
	add_typed(c, "vm-deleted", "vm", "b1");
	vm1 = add_typed(c, "vm-created", "vm", "b1");
	trace(t, "begin %d", inv_begin(c));
	trace(t, "add in txn %d", add_typed_then(c, "vm-created", "vm", "b2", &vm2));
	trace(t, "commit %d", inv_commit(c));
	trace(t, "begin %d", inv_begin(c));
	trace(t, "add in txn %d", add_typed_then(c, "user-created", "user", "carol", &rolled));
	inv_rollback(c);
	trace(t, "added %lld %lld", (long long)vm1, (long long)vm2);
	trace_born(c, t, "again", got);
	CHECK(got[0] == vm1 && got[1] == disk1 && got[2] == vm2 && !got[3] && got[4] == carol);
	/* retention drops each name's creation row INV_BORN_MARGIN ids after its creation
	 * event: every event of the name older than it is dropped, so it hides nothing any
	 * more (etcd: the walk of the rows made, IE_BORN_BATCH ids past the store's last) */
	trace(t, "drop upto 1000 %d", inv_event_drop_upto(c, 1000));
	trace_born(c, t, "dropped", got);
	CHECK(!got[0] && !got[1] && !got[2] && !got[3] && !got[4]);
	inv_put(c);
}

/* Record an event at time (outside a transaction), traced: its id, or the error. */
static int64_t add_at(struct dbc *c, struct trace *t, double time, const char *type,
		      const char *otype, const char *name)
{
	int64_t id = -1;
	int rc = inv_event_add(c, &(struct inv_event){ .time = time, .type = type,
			       .object_type = otype, .object = name, .message = "m" }, &id,
			       NULL, NULL);

	trace(t, "add %s %s/%s: %d %lld", type, otype, name, rc, (long long)id);
	return rc ? rc : id;
}

/* Retention by count on a fresh store: the creation rows of the creations INV_BORN_MARGIN
 * ids behind the first event it keeps go (vm/b1's first, disk/b1's, vm/b2's), the others
 * stay (vm/b1's second, which hides its deleted namesake's events; user/carol's). */
static void born_count_scenario(struct db *db, struct trace *t)
{
	struct dbc *c = inv_get(db);
	int64_t vm1b, vm2, carol, got[5];

	if (!c)
		return;
	add_at(c, t, 200, "vm-created", "vm", "b1");
	add_at(c, t, 200, "disk-created", "disk", "b1");
	vm2 = add_at(c, t, 200, "vm-created", "vm", "b2");
	add_at(c, t, 200, "vm-deleted", "vm", "b1");
	vm1b = add_at(c, t, 200, "vm-created", "vm", "b1");
	carol = add_at(c, t, 200, "user-created", "user", "carol");
	trace_born(c, t, "count before", got);
	trace(t, "drop upto b2's creation + margin %d",
	      inv_event_drop_upto(c, vm2 + INV_BORN_MARGIN));
	trace_born(c, t, "count", got);
	trace(t, "left %d", inv_event_each(c, 0, 100, event_line, t));
	trace(t, "kept vm/b1 %lld user/carol %lld", (long long)vm1b, (long long)carol);
	CHECK(vm2 > 0 && got[0] == vm1b && !got[1] && !got[2] && !got[3] && got[4] == carol);
	inv_put(c);
}

/* Retention by age on a fresh store: the same, from the first event young enough (past
 * INV_BORN_MARGIN events between: a row of a creation less far behind stays). */
static void born_age_scenario(struct db *db, struct trace *t)
{
	struct dbc *c = inv_get(db);
	struct inv_born b3 = { "vm", "b3", -1 };
	int64_t vm2, vm3, got[5];

	if (!c)
		return;
	add_at(c, t, 100, "vm-created", "vm", "b1");
	add_at(c, t, 110, "disk-created", "disk", "b1");
	for (int i = 0; i < INV_BORN_MARGIN + 8; i++)
		inv_event_add(c, &(struct inv_event){ .time = 150, .type = "vm-updated",
			      .object_type = "vm", .object = "f", .message = "m" }, &(int64_t){ 0 },
			      NULL, NULL);
	b3.born = add_at(c, t, 160, "vm-created", "vm", "b3");
	vm3 = b3.born;
	vm2 = add_at(c, t, 300, "vm-created", "vm", "b2");
	add_at(c, t, 310, "vm-updated", "vm", "b1");
	add_at(c, t, 320, "user-created", "user", "carol");
	trace_born(c, t, "age before", got);
	trace(t, "drop before 200 %d", inv_event_drop_before(c, 200));
	trace_born(c, t, "age", got);
	trace(t, "left %d", inv_event_each(c, 0, 100, event_line, t));
	CHECK(vm2 > 0 && !got[0] && !got[1] && got[2] == vm2 && !got[3] && got[4] > vm2);
	/* b3's creation, dropped but less than the margin behind: its row stays */
	CHECK_EQ(inv_event_born(c, &b3, 1), 0);
	trace(t, "vm/b3 %lld", (long long)b3.born);
	CHECK(vm3 > 0 && b3.born == vm3);
	inv_put(c);
}

static void test_born_pruned(void)
{
	static void (*const count[])(struct db *db, struct trace *t) = { born_count_scenario,
									 NULL };
	static void (*const age[])(struct db *db, struct trace *t) = { born_age_scenario, NULL };

	trace_both(rig.endpoints, "/test/events-born-count", "born-count", count);
	trace_both(rig.endpoints, "/test/events-born-age", "born-age", age);
}

static void hooks_tasks_scenario(struct db *db, struct trace *t)
{
	struct dbc *c = inv_get(db);
	int64_t id = 0;
	int rc;

	if (!c)
		return;
	rc = inv_hook_create(c, &(struct inv_hook){ .event = "vm.started", .command = "/bin/true",
						     .timeout = 5 }, &id);
	trace(t, "hook %d %lld", rc, (long long)id);
	rc = inv_hook_create(c, &(struct inv_hook){ .event = "*", .url = "http://h/x",
						     .timeout = 3 }, &id);
	trace(t, "hook %d %lld", rc, (long long)id);
	rc = inv_hook_create(c, &(struct inv_hook){ .event = "vm.stopped", .command = "echo",
						     .timeout = 9 }, &id);
	trace(t, "hook %d %lld", rc, (long long)id);
	trace(t, "hook no event %d", inv_hook_create(c, &(struct inv_hook){ .command = "x" }, &id));
	trace(t, "all %d", inv_hook_each(c, NULL, hook_line, t));
	trace(t, "vm.started %d", inv_hook_each(c, "vm.started", hook_line, t));
	trace(t, "other %d", inv_hook_each(c, "other", hook_line, t));
	trace(t, "stop %d", inv_hook_each(c, NULL, stop_hook, NULL));
	trace(t, "get 2 %d", inv_hook_get(c, 2, hook_line, t));
	trace(t, "get 99 %d", inv_hook_get(c, 99, hook_line, t));
	trace(t, "delete 1 %d", inv_hook_delete(c, 1));
	trace(t, "delete 1 again %d", inv_hook_delete(c, 1));
	trace(t, "all %d", inv_hook_each(c, NULL, hook_line, t));

	rc = inv_task_create(c, "clone", "vm1", "alice", NULL, 10.5, &id);
	trace(t, "task %d %lld", rc, (long long)id);
	rc = inv_task_create(c, "resize", "disk1", NULL, NULL, 11, &id);
	trace(t, "task %d %lld", rc, (long long)id);
	rc = inv_task_create(c, "clone", NULL, "bob", NULL, 12, &id);
	trace(t, "task %d %lld", rc, (long long)id);
	rc = inv_task_create(c, "import", "img", "bob", NULL, 13, &id);
	trace(t, "task %d %lld", rc, (long long)id);
	trace(t, "task no kind %d", inv_task_create(c, NULL, "x", NULL, NULL, 1, &id));
	trace(t, "running clone vm1 %d clone vm2 %d clone null %d resize disk1 %d",
	      inv_task_running(c, "clone", "vm1"), inv_task_running(c, "clone", "vm2"),
	      inv_task_running(c, "clone", NULL), inv_task_running(c, "resize", "disk1"));
	trace(t, "progress %d", inv_task_update(c, 1, "running", 0.5, NULL, -1));
	trace(t, "running clone vm1 %d", inv_task_running(c, "clone", "vm1"));
	trace(t, "done %d", inv_task_update(c, 1, "done", 1, NULL, 20));
	trace(t, "running clone vm1 %d", inv_task_running(c, "clone", "vm1"));
	trace(t, "failed %d", inv_task_update(c, 4, "failed", 0.25, "no space", 21));
	trace(t, "missing %d", inv_task_update(c, 99, "done", 1, NULL, 22));
	trace(t, "each %d", inv_task_each(c, task_line, t));
	trace(t, "fail running %d", inv_task_fail_running(c, NULL, "server restarted", 30));
	trace(t, "fail running again %d", inv_task_fail_running(c, NULL, "server restarted", 31));
	trace(t, "running resize disk1 %d", inv_task_running(c, "resize", "disk1"));
	trace(t, "each %d", inv_task_each(c, task_line, t));
	trace(t, "get 2 %d", inv_task_get(c, 2, task_line, t));
	trace(t, "get 99 %d", inv_task_get(c, 99, task_line, t));
	/* back to running (a retry): found running again */
	trace(t, "rerun %d", inv_task_update(c, 2, "running", 0, NULL, -1));
	trace(t, "running resize disk1 %d", inv_task_running(c, "resize", "disk1"));
	trace(t, "get 2 %d", inv_task_get(c, 2, task_line, t));
	/* a shared inventory: a restarting host fails its own tasks and those of no host, never
	 * another host's */
	rc = inv_task_create(c, "clone", "vm5", "alice", "h1", 40, &id);
	trace(t, "task h1 %d %lld", rc, (long long)id);
	rc = inv_task_create(c, "clone", "vm6", "alice", "h2", 41, &id);
	trace(t, "task h2 %d %lld", rc, (long long)id);
	trace(t, "fail running h1 %d", inv_task_fail_running(c, "h1", "h1 restarted", 42));
	trace(t, "running vm5 %d vm6 %d resize disk1 %d", inv_task_running(c, "clone", "vm5"),
	      inv_task_running(c, "clone", "vm6"), inv_task_running(c, "resize", "disk1"));
	trace(t, "progress h2 %d", inv_task_update(c, id, "running", 0.5, NULL, -1));
	trace(t, "fail running h3 %d", inv_task_fail_running(c, "h3", "h3 restarted", 43));
	trace(t, "each %d", inv_task_each(c, task_line, t));
	trace(t, "fail running all %d", inv_task_fail_running(c, NULL, "all", 44));
	trace(t, "running vm6 %d", inv_task_running(c, "clone", "vm6"));
	inv_put(c);
}

static void test_same_as_sqlite(void)
{
	static void (*const scen[])(struct db *db, struct trace *t) = { events_scenario, born_scenario,
									hooks_tasks_scenario, NULL };

	trace_both(rig.endpoints, "/test/events-same", "events", scen);
}

/* inv_event_each: the ids, as text. */
static int id_line(const struct inv_event *e, void *arg)
{
	sprintf((char *)arg + strlen(arg), "%lld ", (long long)e->id);
	return 0;
}

static const char *ids_after(struct dbc *c, int64_t after, char *buf)
{
	buf[0] = '\0';
	if (inv_event_each(c, after, 100, id_line, buf))
		strcpy(buf, "error");
	return buf;
}

/* The type of event id as c sees it, into buf ("" when none). */
static int type_line(const struct inv_event *e, void *arg)
{
	snprintf(arg, 64, "%s", e->type);
	return 1;
}

static const char *type_of(struct dbc *c, int64_t id, char *buf)
{
	buf[0] = '\0';
	inv_event_each(c, id - 1, 1, type_line, buf);
	return buf;
}

/* A follower never skips an event: an event recorded in a transaction takes its id at the
 * commit, in the commit's Txn (so ids are in commit order) and shows then; one whose
 * transaction is refused or rolled back takes none and holds nothing back. Past the ids a
 * commit takes (IE_PEV), an event takes a reservation at once (a placeholder under a
 * lease) that holds the events after it back until it commits or its lease ends. */
static void test_commit_order(void)
{
	struct db *db = NULL;
	struct dbc *a, *b;
	int64_t id1, id2, id3, last = -1;
	char buf[256], ty[64];

	CHECK_EQ(inv_etcd_open(rig.endpoints, "/test/events-order", 2000, &db), 0);
	if (!db)
		return;
	a = inv_get(db);
	b = inv_get(db);
	id1 = add_event(b, 1, "one", NULL, NULL);
	CHECK_EQ(id1, 1);
	CHECK_EQ(inv_begin(a), 0);
	CHECK_EQ(add_event_then(a, 2, "two", NULL, NULL, &id2), -1);    /* no id yet */
	CHECK_EQ(id2, -1);
	id3 = add_event(b, 3, "three", NULL, NULL);     /* committed first: the next id */
	CHECK_EQ(id3, 2);
	CHECK(!strcmp(ids_after(b, 0, buf), "1 2 "));
	CHECK_EQ(inv_event_last(b, &last), 0);
	CHECK_EQ(last, 2);
	CHECK_EQ(inv_commit(a), 0);
	CHECK_EQ(id2, 3);
	CHECK(!strcmp(ids_after(b, 2, buf), "3 "));
	CHECK(!strcmp(ids_after(b, 0, buf), "1 2 3 "));
	CHECK(!strcmp(type_of(b, 3, ty), "two"));
	CHECK_EQ(inv_event_last(b, &last), 0);
	CHECK_EQ(last, 3);
	/* a transaction that fails (another session changed what it read) records nothing
	 * and takes no id */
	{
		int64_t id4, id5, tid = 0;
		struct etcd_kv kv = { 0 };
		char key[96];

		CHECK_EQ(inv_task_create(b, "k", "o", NULL, NULL, 1, &tid), 0);
		CHECK_EQ(inv_begin(a), 0);
		CHECK_EQ(inv_task_update(a, tid, "done", 1, NULL, 2), 0);
		CHECK_EQ(add_event_then(a, 4, "four", NULL, NULL, &id4), -1);
		CHECK_EQ(inv_task_update(b, tid, "failed", 0, "x", 3), 0);
		id5 = add_event(b, 5, "five", NULL, NULL);
		CHECK_EQ(id5, 4);
		CHECK_EQ(inv_commit(a), -EAGAIN);
		CHECK_EQ(id4, 0);
		snprintf(key, sizeof(key), "/test/events-order/t/events/%020lld", 5LL);
		CHECK_EQ(etcd_get(ie_store(a)->e, key, &kv), -ENOENT);
		CHECK(!strcmp(ids_after(b, 3, buf), "4 "));
		CHECK(!strcmp(type_of(b, 4, ty), "five"));
		CHECK_EQ(inv_event_last(b, &last), 0);
		CHECK_EQ(last, 4);
	}
	/* another server's events meanwhile (its own store: this one's counter hint is stale):
	 * the commit meets the counter moved and is sent again from its new value; with a
	 * key it read changed too, it is refused all the same */
	{
		struct db *db2 = NULL;
		struct dbc *o;
		int64_t g, tid = 0;

		CHECK_EQ(inv_etcd_open(rig.endpoints, "/test/events-order", 2000, &db2), 0);
		o = db2 ? inv_get(db2) : NULL;
		CHECK(o != NULL);
		if (o) {
			CHECK_EQ(inv_begin(a), 0);
			CHECK_EQ(add_event_then(a, 4.1, "mine", NULL, NULL, &g), -1);
			CHECK_EQ(add_event(o, 4.2, "other", NULL, NULL), 5);
			CHECK_EQ(add_event(o, 4.3, "other", NULL, NULL), 6);
			CHECK_EQ(inv_commit(a), 0);
			CHECK_EQ(g, 7);
			CHECK(!strcmp(ids_after(b, 4, buf), "5 6 7 "));
			CHECK(!strcmp(type_of(b, 7, ty), "mine"));
			CHECK_EQ(inv_task_create(b, "k2", "o", NULL, NULL, 1, &tid), 0);
			CHECK_EQ(inv_begin(a), 0);
			CHECK_EQ(inv_task_update(a, tid, "done", 1, NULL, 2), 0);
			CHECK_EQ(add_event_then(a, 4.4, "refused", NULL, NULL, &g), -1);
			CHECK_EQ(inv_task_update(b, tid, "failed", 0, "x", 3), 0);
			CHECK_EQ(add_event(o, 4.5, "other", NULL, NULL), 8);
			CHECK_EQ(inv_commit(a), -EAGAIN);
			CHECK_EQ(g, 0);
			CHECK(!strcmp(ids_after(b, 7, buf), "8 "));
			/* the events after: from the counter as it is */
			CHECK_EQ(add_event(b, 4.6, "after", NULL, NULL), 9);
			inv_put(o);
		}
		inv_close(db2);
	}
	/* rolled back: no id, nothing written */
	{
		struct etcd_kv kv = { 0 };
		char key[96];
		int64_t id6;

		CHECK_EQ(inv_begin(a), 0);
		CHECK_EQ(add_event_then(a, 6, "six", NULL, NULL, &id6), -1);
		inv_rollback(a);
		CHECK_EQ(id6, 0);
		snprintf(key, sizeof(key), "/test/events-order/t/events/%020lld", 10LL);
		CHECK_EQ(etcd_get(ie_store(a)->e, key, &kv), -ENOENT);
	}
	/* more events in one transaction than its commit takes ids for: the next one is
	 * reserved at once (id 10, a placeholder); one whose process died holds the events
	 * after it back until its lease ends (revoked here rather than waited for:
	 * PENDING_TTL, 15 s; for etcd both are the same end) */
	{
		struct etcd_kv kv = { 0 };
		struct timespec ts;
		int64_t g[IE_PEV + 1], id8;
		double t0;
		char key[96];
		int i;

		CHECK_EQ(inv_begin(a), 0);
		for (i = 0; i < IE_PEV; i++)
			CHECK_EQ(add_event_then(a, 7, "seven", NULL, NULL, &g[i]), -1);
		CHECK_EQ(add_event_then(a, 7, "seven", NULL, NULL, &g[IE_PEV]), 10);
		CHECK_EQ(g[IE_PEV], 10);
		id8 = add_event(b, 8, "eight", NULL, NULL);
		CHECK_EQ(id8, 11);
		CHECK(!strcmp(ids_after(b, 9, buf), ""));      /* 10 in flight */
		snprintf(key, sizeof(key), "/test/events-order/t/events/%020lld", 10LL);
		CHECK_EQ(etcd_get(ie_store(a)->e, key, &kv), 0);
		CHECK(kv.lease != 0);
		if (kv.lease)
			CHECK_EQ(etcd_lease_revoke(ie_store(a)->e, kv.lease), 0);
		etcd_kv_clear(&kv);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		t0 = ts.tv_sec;
		while (!strcmp(ids_after(b, 9, buf), "") && ts.tv_sec - t0 < 40) {
			usleep(200 * 1000);
			clock_gettime(CLOCK_MONOTONIC, &ts);
		}
		CHECK(!strcmp(ids_after(b, 9, buf), "11 "));
		inv_rollback(a);
		for (i = 0; i < IE_PEV; i++)
			CHECK_EQ(g[i], 0);
	}
	inv_put(a);
	inv_put(b);
	inv_close(db);
}

/* An inventory from before inv_event_born (no events_born/ rows, no meta/born): its next
 * open reads each name's newest creation from the history, once. */
static void test_born_backfill(void)
{
	struct db *db = NULL;
	struct dbc *c;
	int64_t vm1, vm1b, disk1, got[5];
	struct trace t = { 0 };

	CHECK_EQ(inv_etcd_open(rig.endpoints, "/test/events-backfill", 2000, &db), 0);
	if (!db)
		return;
	c = inv_get(db);
	vm1 = add_typed(c, "vm-created", "vm", "b1");
	disk1 = add_typed(c, "disk-created", "disk", "b1");
	add_typed(c, "vm-deleted", "vm", "b1");
	vm1b = add_typed(c, "vm-created", "vm", "b1");
	CHECK(vm1 > 0 && vm1b > vm1);
	inv_put(c);
	/* as an older vsrv left it */
	CHECK_EQ(etcd_delete(((struct inv_etcd *)db)->e, "/test/events-backfill/t/events_born/", true,
			     NULL), 0);
	CHECK_EQ(etcd_delete(((struct inv_etcd *)db)->e, "/test/events-backfill/t/meta/born", false,
			     NULL), 0);
	c = inv_get(db);
	trace_born(c, &t, "before", got);
	CHECK(!got[0] && !got[1]);
	inv_put(c);
	inv_close(db);
	db = NULL;
	CHECK_EQ(inv_etcd_open(rig.endpoints, "/test/events-backfill", 2000, &db), 0);
	if (!db)
		return;
	c = inv_get(db);
	trace_born(c, &t, "after", got);
	CHECK(got[0] == vm1b && got[1] == disk1 && !got[2] && !got[3] && !got[4]);
	inv_put(c);
	inv_close(db);
	trace_free(&t);
}

/* The row events_born/vm/m1 put back to id (as a host of before the rows leaves it: it
 * writes none with its creation). */
static void old_host_row(struct db *db, const char *prefix, int64_t id)
{
	char key[120], val[40];

	snprintf(key, sizeof(key), "%s/t/events_born/vm/m1", prefix);
	snprintf(val, sizeof(val), "{\"id\":%lld}", (long long)id);
	CHECK_EQ(etcd_put(((struct inv_etcd *)db)->e, key, val, strlen(val), 0, NULL), 0);
}

static int64_t born_m1(struct db *db)
{
	struct inv_born n = { "vm", "m1", -1 };
	struct dbc *c = inv_get(db);

	CHECK(c && inv_event_born(c, &n, 1) == 0);
	if (c)
		inv_put(c);
	return n.born;
}

/* A cluster of mixed versions: a host of before events_born creates vm m1 again after its
 * namesake was deleted, and writes no row (the row still names the namesake's creation, so
 * the namesake's events would show to the new m1's tenant). The catch-up from where the
 * last one reached (meta/born's upto) finds the creation: at the next open, and with the
 * next walk of retention. */
static void test_born_mixed(void)
{
	static const char prefix[] = "/test/events-mixed";
	struct db *db = NULL;
	struct dbc *c;
	int64_t n1, n2, n3;

	CHECK_EQ(inv_etcd_open(rig.endpoints, prefix, 2000, &db), 0);
	if (!db)
		return;
	c = inv_get(db);
	n1 = add_typed(c, "vm-created", "vm", "m1");
	add_typed(c, "vm-updated", "vm", "m1");
	add_typed(c, "vm-deleted", "vm", "m1");
	n2 = add_typed(c, "vm-created", "vm", "m1");
	inv_put(c);
	old_host_row(db, prefix, n1);
	CHECK(n1 > 0 && n2 > n1 && born_m1(db) == n1); /* stale: what the catch-up mends */
	/* a host opens the inventory (a restart) */
	inv_close(db);
	db = NULL;
	CHECK_EQ(inv_etcd_open(rig.endpoints, prefix, 2000, &db), 0);
	if (!db)
		return;
	CHECK_EQ(born_m1(db), n2);
	/* again, and retention's walk (the store's first) finds it */
	c = inv_get(db);
	add_typed(c, "vm-deleted", "vm", "m1");
	n3 = add_typed(c, "vm-created", "vm", "m1");
	old_host_row(db, prefix, n2);
	CHECK(n3 > n2 && born_m1(db) == n2);
	CHECK_EQ(inv_event_drop_upto(c, 1), 0);
	inv_put(c);
	CHECK_EQ(born_m1(db), n3);
	inv_close(db);
}

/* Retention called inside a transaction (events.c's prune, from an event recorded past the
 * ids a commit takes: in its caller's transaction): the walk's catch-up is housekeeping done
 * at once, as the drop itself, so the caller's rollback does not undo the creation row it
 * mended (nor its commit carry the catch-up's reads as compares). */
static void test_born_in_txn(void)
{
	static const char prefix[] = "/test/events-born-txn";
	struct db *db = NULL;
	struct dbc *c;
	int64_t n1, n2;

	CHECK_EQ(inv_etcd_open(rig.endpoints, prefix, 2000, &db), 0);
	if (!db)
		return;
	c = inv_get(db);
	n1 = add_typed(c, "vm-created", "vm", "m1");
	add_typed(c, "vm-deleted", "vm", "m1");
	n2 = add_typed(c, "vm-created", "vm", "m1");
	old_host_row(db, prefix, n1);
	CHECK(n1 > 0 && n2 > n1 && born_m1(db) == n1);
	/* the store's first walk, from within a transaction that is then rolled back */
	CHECK_EQ(inv_begin(c), 0);
	CHECK_EQ(inv_event_drop_upto(c, 1), 0);
	inv_rollback(c);
	inv_put(c);
	CHECK_EQ(born_m1(db), n2);
	inv_close(db);
}

/* Two sessions update the same task in transactions: the second commit is refused. */
static void test_conflict(void)
{
	struct db *db = NULL;
	struct dbc *a, *b;
	int64_t id = 0;
	char buf[512] = "";
	struct trace t = { 0 };

	CHECK_EQ(inv_etcd_open(rig.endpoints, "/test/events-conflict", 2000, &db), 0);
	if (!db)
		return;
	a = inv_get(db);
	b = inv_get(db);
	CHECK_EQ(inv_task_create(a, "clone", "vm1", NULL, NULL, 1, &id), 0);
	CHECK_EQ(inv_begin(a), 0);
	CHECK_EQ(inv_begin(b), 0);
	CHECK_EQ(inv_task_update(a, id, "running", 0.5, NULL, -1), 0);
	CHECK_EQ(inv_task_update(b, id, "done", 1, NULL, 9), 0);
	CHECK_EQ(inv_commit(b), 0);
	CHECK_EQ(inv_commit(a), -EAGAIN);
	CHECK_EQ(inv_task_get(a, id, task_line, &t), 0);
	CHECK(t.buf && strstr(t.buf, " done ") != NULL);
	CHECK_EQ(inv_task_running(a, "clone", "vm1"), 0);
	/* a hook deleted twice at once: one of the two */
	CHECK_EQ(inv_hook_create(a, &(struct inv_hook){ .event = "*", .command = "x" }, &id), 0);
	CHECK_EQ(inv_begin(a), 0);
	CHECK_EQ(inv_begin(b), 0);
	CHECK_EQ(inv_hook_delete(a, id), 0);
	CHECK_EQ(inv_hook_delete(b, id), 0);
	CHECK_EQ(inv_commit(a), 0);
	CHECK_EQ(inv_commit(b), -EAGAIN);
	CHECK_EQ(inv_hook_get(a, id, hook_line, &t), -ENOENT);
	(void)buf;
	trace_free(&t);
	inv_put(a);
	inv_put(b);
	inv_close(db);
}

int main(void)
{
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = etcdrig_start_main(&rig, 1, "inv-etcd-events");
	if (rc)
		return rc - 1;
	RUN(test_same_as_sqlite);
	RUN(test_commit_order);
	RUN(test_conflict);
	RUN(test_born_backfill);
	RUN(test_born_pruned);
	RUN(test_born_mixed);
	RUN(test_born_in_txn);
	etcdrig_stop(&rig);
	return check_done();
}
