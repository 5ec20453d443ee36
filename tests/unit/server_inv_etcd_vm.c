/* The etcd inventory's VMs, VM status, templates, disks, networks and object ids
 * (inv_etcd_vm.c, inv_etcd_vm_status.c, inv_etcd_disk.c, inv_etcd_net.c) against the SQLite
 * backend: the same sequence of inv_* calls runs on a fresh SQLite inventory and on a fresh
 * prefix of a real etcd member (etcdrig.h), each result (return codes, fields, lists in
 * their order) is a line of a transcript, and the two transcripts must be the same; the
 * values that matter (-EEXIST on a taken name or path, -EAGAIN on a stale rev, -ESRCH,
 * the order of lists) are checked on their own too, so two backends broken the same way do
 * not pass. Plus, on etcd alone: conflicts of two sessions in transactions, a user's edit
 * and the supervisor's status write that do not conflict, deletes refused while a disk or
 * a network is in use; a VM's delete with its reads made at once (inv_vm_delete_read, as
 * DELETE /api/v1/vms/NAME does): the delete itself then reads nothing more, and a task
 * started or a layer made by another session between those reads and the commit fails
 * the commit (nothing deleted). SKIPs when etcd is not installed. */
#include "check.h"
#include "etcdrig.h"
#include "server/etcd.h"
#include "server/inv.h"
#include "server/inv_etcd.h"
#include "server/inv_log.h"

#include <curl/curl.h>
#include <stdarg.h>

static struct etcdrig rig;
static char tmpdir[64];
static int nprefix;

struct lg {
	char buf[32768];
	size_t len;
};

static void L(struct lg *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void L(struct lg *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0 && l->len + n + 1 < sizeof(l->buf)) {
		l->len += n;
		l->buf[l->len++] = '\n';
		l->buf[l->len] = '\0';
	}
}

static bool has(const struct lg *l, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	return strstr(l->buf, want) || !strncmp(l->buf, want + 1, strlen(want + 1));
}

#define S(s) ((s) ? (s) : "NULL")

static struct db *open_sqlite(void)
{
	char path[128];
	struct db *db = NULL;

	snprintf(path, sizeof(path), "%s/inv%d.db", tmpdir, nprefix++);
	return inv_open(path, &db) ? NULL : db;
}

static struct db *open_etcd(void)
{
	char prefix[64];
	struct db *db = NULL;

	snprintf(prefix, sizeof(prefix), "/test/vm%d/", nprefix++);
	return inv_etcd_open(rig.endpoints, prefix, 3000, &db) ? NULL : db;
}

static void vm_init(struct inv_vm *v, const char *name, int cpus)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->description = "a VM";
	v->cpus = cpus;
	v->memory_mib = 256;
	v->kernel = "/boot/k";
	v->cmdline = "console=ttyS0";
	snprintf(v->restart_policy, sizeof(v->restart_policy), "on-failure");
	snprintf(v->undo_disks, sizeof(v->undo_disks), "off");
	v->cpu_weight = 100;
}

static void log_vm(struct lg *l, const struct inv_vm *v)
{
	L(l, "vm %s desc=%s cpus=%d mem=%lld kernel=%s initrd=%s cmdline=%s policy=%s auto=%d "
	  "undo=%s limit=%d weight=%d reserve=%lld state=%s pid=%d started=%d exit=%s "
	  "restarts=%d times=%d", v->name, S(v->description), v->cpus, (long long)v->memory_mib,
	  S(v->kernel), S(v->initrd), S(v->cmdline), v->restart_policy, v->autostart,
	  v->undo_disks, v->cpu_limit, v->cpu_weight, (long long)v->memory_reserve_mib, v->state,
	  (int)v->monitor_pid, v->started > 0, S(v->last_exit), v->restarts,
	  v->created > 0 && v->updated >= v->created);
}

static int each_vm(const struct inv_vm *v, void *arg)
{
	log_vm(arg, v);
	return 0;
}

static int stop_vm(const struct inv_vm *v, void *arg)
{
	(void)v;
	(void)arg;
	return 42;
}

static int each_disk(const struct inv_disk *d, void *arg)
{
	L(arg, "disk %s %s %lld %s %d", d->name, d->format, (long long)d->size, d->path,
	  d->created > 0);
	return 0;
}

static int each_net(const struct inv_net *n, void *arg)
{
	L(arg, "net %s %s bridge=%s subnet=%s dhcp=%s-%s", n->name, n->kind, n->bridge,
	  n->subnet, n->dhcp_start, n->dhcp_end);
	return 0;
}

/* Whether the parts of other helpers a delete needs exist yet (inv_etcd_pending.c). */
static bool deletes_pending(void)
{
	struct db *db = open_etcd();
	struct dbc *c = db ? inv_get(db) : NULL;
	bool pending = !c || inv_grants_clear(c, "vm", 999) == -EOPNOTSUPP ||
		       ie_vm_drop_children(c, 999) == -EOPNOTSUPP ||
		       ie_disk_drop_children(c, 999) == -EOPNOTSUPP;

	if (c)
		inv_put(c);
	inv_close(db);
	return pending;
}

static bool with_deletes;

/* The sequence: VMs, status, templates. */
static void seq_vms(struct db *db, struct lg *l)
{
	struct dbc *c = inv_get(db), *c2 = inv_get(db);
	struct inv_vm v, got;
	struct inv_vm_status st;
	int64_t web = 0, alpha = 0, id = 0, total = -1, nope = 0;
	int rc;

	vm_init(&v, "web", 2);
	L(l, "create web %d", inv_vm_create(c, &v, &web));
	vm_init(&v, "alpha", 1);
	v.initrd = "/boot/i";
	v.autostart = true;
	v.cpu_limit = 50;
	v.memory_reserve_mib = 128;
	L(l, "create alpha %d", inv_vm_create(c, &v, &alpha));
	vm_init(&v, "web", 3);
	L(l, "create web twice %d", inv_vm_create(c, &v, &nope));
	L(l, "ids distinct %d", web > 0 && alpha > 0 && web != alpha);
	rc = inv_vm_id(c, "web", &id);
	L(l, "vm_id web %d same %d", rc, id == web);
	L(l, "vm_id nope %d", inv_vm_id(c, "nope", &id));
	rc = inv_object_id(c, "vm", "alpha", &id);
	L(l, "object vm %d same %d", rc, id == alpha);
	L(l, "object vm of disk kind %d", inv_object_id(c, "disk", "alpha", &id));
	L(l, "object other kind %d", inv_object_id(c, "user", "alpha", &id));
	L(l, "get web %d", inv_vm_get(c, web, &got));
	log_vm(l, &got);
	L(l, "get missing %d", inv_vm_get(c, 9999, &v));
	L(l, "-- each");
	L(l, "each %d", inv_vm_each(c, each_vm, l));
	L(l, "each stops %d", inv_vm_each(c, stop_vm, NULL));
	L(l, "-- page");
	L(l, "page %d total=%lld", inv_vm_page(c, -1, 0, 10, &total, each_vm, l), (long long)total);
	L(l, "page 1,1 %d total=%lld", inv_vm_page(c, -1, 1, 1, &total, each_vm, l),
	  (long long)total);
	L(l, "page 5,1 %d total=%lld", inv_vm_page(c, -1, 5, 1, &total, each_vm, l),
	  (long long)total);
	/* put: the rev read, a stale one, any */
	vm_init(&v, "ignored", 4);
	v.id = web;
	v.rev = got.rev;
	v.description = "edited";
	L(l, "put %d", inv_vm_put(c, &v, true));
	L(l, "put stale %d", inv_vm_put(c, &v, true));
	v.cpus = 5;
	L(l, "put any %d", inv_vm_put(c, &v, false));
	v.rev = 0;
	L(l, "put rev 0 %d", inv_vm_put(c, &v, true));
	inv_vm_clear(&got);
	L(l, "get %d", inv_vm_get(c, web, &got));
	log_vm(l, &got);
	L(l, "rev raised %d", got.rev > v.rev);
	inv_vm_clear(&got);
	v.id = 9999;
	L(l, "put missing %d", inv_vm_put(c, &v, true));
	L(l, "put missing any %d", inv_vm_put(c, &v, false));
	/* status */
	L(l, "-- status");
	L(l, "set_state starting %d", inv_vm_set_state(c, web, INV_VM_STARTING, 100, NULL));
	L(l, "promote wrong pid %d", inv_vm_promote(c, web, 101));
	L(l, "promote %d", inv_vm_promote(c, web, 100));
	L(l, "promote again %d", inv_vm_promote(c, web, 100));
	L(l, "promote missing %d", inv_vm_promote(c, 9999, 100));
	L(l, "status %d", inv_vm_get_status(c, web, &st));
	L(l, "status %s %s pid=%d started=%d exit=%s restarts=%d", st.name, st.state,
	  (int)st.monitor_pid, st.started > 0, S(st.last_exit), st.restarts);
	inv_vm_status_clear(&st);
	L(l, "set_state paused %d", inv_vm_set_state(c, web, INV_VM_PAUSED, 100, NULL));
	L(l, "mark_stopping %d", inv_vm_mark_stopping(c, web));
	L(l, "set_state stopped %d", inv_vm_set_state(c, web, INV_VM_STOPPED, 0,
						       "{\"code\":3}"));
	L(l, "mark_stopping stopped %d", inv_vm_mark_stopping(c, web));
	L(l, "count_restart %d %d", inv_vm_count_restart(c, web), inv_vm_count_restart(c, web));
	L(l, "set_pid %d", inv_vm_set_pid(c, web, 77));
	L(l, "set_state crashed, exit kept %d", inv_vm_set_state(c, web, INV_VM_CRASHED, 77, NULL));
	L(l, "mark_stopping crashed %d", inv_vm_mark_stopping(c, web));
	/* saved (vmsave.h): a final state as stopped and crashed, kept by mark_stopping */
	L(l, "set_state saved %d", inv_vm_set_state(c, web, INV_VM_SAVED, 0, NULL));
	L(l, "mark_stopping saved %d", inv_vm_mark_stopping(c, web));
	L(l, "status %d", inv_vm_get_status(c, web, &st));
	L(l, "status saved %s %s pid=%d exit=%s", st.name, st.state, (int)st.monitor_pid,
	  S(st.last_exit));
	inv_vm_status_clear(&st);
	L(l, "set_state crashed, exit kept %d", inv_vm_set_state(c, web, INV_VM_CRASHED, 77, NULL));
	L(l, "status %d", inv_vm_get_status(c, web, &st));
	L(l, "status %s %s pid=%d started=%d exit=%s restarts=%d", st.name, st.state,
	  (int)st.monitor_pid, st.started > 0, S(st.last_exit), st.restarts);
	inv_vm_status_clear(&st);
	L(l, "status alpha %d", inv_vm_get_status(c, alpha, &st));
	L(l, "status %s %s pid=%d started=%d exit=%s restarts=%d", st.name, st.state,
	  (int)st.monitor_pid, st.started > 0, S(st.last_exit), st.restarts);
	inv_vm_status_clear(&st);
	L(l, "status missing %d", inv_vm_get_status(c, 9999, &st));
	L(l, "writes of a missing VM %d %d %d %d", inv_vm_set_state(c, 9999, "running", 1, NULL),
	  inv_vm_set_pid(c, 9999, 1), inv_vm_count_restart(c, 9999),
	  inv_vm_mark_stopping(c, 9999));
	L(l, "get %d", inv_vm_get(c, web, &got));
	log_vm(l, &got);
	inv_vm_clear(&got);
	/* templates */
	L(l, "-- templates");
	L(l, "template %d", inv_vm_template(c, alpha));
	L(l, "set %d %d", inv_vm_set_template(c, alpha, true), inv_vm_set_template(c, alpha, true));
	L(l, "template %d other %d", inv_vm_template(c, alpha), inv_vm_template(c, web));
	L(l, "unset %d %d", inv_vm_set_template(c, alpha, false),
	  inv_vm_set_template(c, alpha, false));
	L(l, "template %d", inv_vm_template(c, alpha));
	/* a transaction rolled back leaves nothing; a committed one all */
	L(l, "-- transactions");
	vm_init(&v, "zeta", 1);
	L(l, "begin %d", inv_begin(c));
	L(l, "create %d", inv_vm_create(c, &v, &id));
	inv_rollback(c);
	L(l, "after rollback %d", inv_vm_id(c2, "zeta", &id));
	L(l, "begin %d", inv_begin(c));
	L(l, "create %d", inv_vm_create(c, &v, &id));
	L(l, "other session before commit %d", inv_vm_id(c2, "zeta", &id));
	L(l, "commit %d", inv_commit(c));
	L(l, "after commit %d", inv_vm_id(c2, "zeta", &id));
	if (with_deletes) {
		L(l, "-- delete");
		L(l, "set template %d", inv_vm_set_template(c, alpha, true));
		L(l, "delete %d", inv_vm_delete(c, alpha));
		L(l, "delete again %d", inv_vm_delete(c, alpha));
		L(l, "vm_id %d", inv_vm_id(c, "alpha", &id));
		L(l, "template of deleted %d", inv_vm_template(c, alpha));
		L(l, "get %d status %d", inv_vm_get(c, alpha, &got), inv_vm_get_status(c, alpha, &st));
		vm_init(&v, "alpha", 1);
		L(l, "name free again %d", inv_vm_create(c, &v, &id));
		L(l, "new id %d", id != alpha);
	}
	L(l, "each %d", inv_vm_each(c, each_vm, l));
	inv_put(c2);
	inv_put(c);
}

static void seq_disks_nets(struct db *db, struct lg *l)
{
	struct dbc *c = inv_get(db);
	struct inv_disk d = { .size = 1 << 20 }, got;
	struct inv_net n = { 0 }, ng;
	int64_t a = 0, b = 0, id = 0;
	int rc;

	snprintf(d.name, sizeof(d.name), "zz");
	snprintf(d.format, sizeof(d.format), "raw");
	snprintf(d.path, sizeof(d.path), "/d/zz.img");
	L(l, "disk create %d", inv_disk_create(c, &d, &a));
	snprintf(d.name, sizeof(d.name), "aa");
	snprintf(d.format, sizeof(d.format), "vhd");
	snprintf(d.path, sizeof(d.path), "/d/aa.vhd");
	L(l, "disk create %d", inv_disk_create(c, &d, &b));
	snprintf(d.path, sizeof(d.path), "/d/other");
	L(l, "disk name taken %d", inv_disk_create(c, &d, &id));
	snprintf(d.name, sizeof(d.name), "bb");
	snprintf(d.path, sizeof(d.path), "/d/zz.img");
	L(l, "disk path taken %d", inv_disk_create(c, &d, &id));
	L(l, "disk each %d", inv_disk_each(c, each_disk, l));
	L(l, "disk get %d", inv_disk_get(c, a, &got));
	each_disk(&got, l);
	L(l, "disk get missing %d", inv_disk_get(c, 9999, &got));
	L(l, "set_size %d missing %d", inv_disk_set_size(c, a, 5 << 20),
	  inv_disk_set_size(c, 9999, 1));
	L(l, "disk get %d", inv_disk_get(c, a, &got));
	each_disk(&got, l);
	rc = inv_object_id(c, "disk", "aa", &id);
	L(l, "object disk %d same %d", rc, id == b);
	/* networks */
	snprintf(n.name, sizeof(n.name), "natnet");
	snprintf(n.kind, sizeof(n.kind), "nat");
	snprintf(n.subnet, sizeof(n.subnet), "10.0.5.0/24");
	snprintf(n.dhcp_start, sizeof(n.dhcp_start), "10.0.5.10");
	snprintf(n.dhcp_end, sizeof(n.dhcp_end), "10.0.5.99");
	L(l, "net create %d", inv_net_create(c, &n, &a));
	memset(&n, 0, sizeof(n));
	snprintf(n.name, sizeof(n.name), "br");
	snprintf(n.kind, sizeof(n.kind), "bridged");
	snprintf(n.bridge, sizeof(n.bridge), "br0");
	L(l, "net create %d", inv_net_create(c, &n, &b));
	L(l, "net name taken %d", inv_net_create(c, &n, &id));
	L(l, "net each %d", inv_net_each(c, each_net, l));
	L(l, "net get %d", inv_net_get(c, a, &ng));
	each_net(&ng, l);
	L(l, "net get missing %d", inv_net_get(c, 9999, &ng));
	L(l, "set_bridge %d missing %d", inv_net_set_bridge(c, a, "vsrvbr1"),
	  inv_net_set_bridge(c, 9999, "x"));
	L(l, "net get %d", inv_net_get(c, a, &ng));
	each_net(&ng, l);
	rc = inv_object_id(c, "network", "br", &id);
	L(l, "object network %d same %d", rc, id == b);
	L(l, "object network missing %d", inv_object_id(c, "network", "zz", &id));
	if (with_deletes) {
		rc = inv_net_delete(c, b);
		L(l, "net delete %d again %d", rc, inv_net_delete(c, b));
		L(l, "object network deleted %d", inv_object_id(c, "network", "br", &id));
		L(l, "net each %d", inv_net_each(c, each_net, l));
		rc = inv_disk_delete(c, a);
		L(l, "disk delete %d again %d", rc, inv_disk_delete(c, a));
		snprintf(d.name, sizeof(d.name), "zz");
		snprintf(d.path, sizeof(d.path), "/d/zz.img");
		L(l, "disk name and path free again %d", inv_disk_create(c, &d, &id));
		L(l, "disk each %d", inv_disk_each(c, each_disk, l));
	}
	inv_put(c);
}

static void compare(const char *what, void (*seq)(struct db *db, struct lg *l),
		    struct lg *ls, struct lg *le)
{
	struct db *sq = open_sqlite(), *et = open_etcd();

	CHECK(sq && et);
	if (!sq || !et)
		return;
	seq(sq, ls);
	seq(et, le);
	inv_close(sq);
	inv_close(et);
	if (strcmp(ls->buf, le->buf)) {
		/* print where they part */
		const char *a = ls->buf, *b = le->buf;

		while (*a && *a == *b)
			a++, b++;
		while (a > ls->buf && a[-1] != '\n')
			a--, b--;
		printf("# %s: sqlite: %.*s\n# %s: etcd:   %.*s\n", what,
		       (int)strcspn(a, "\n"), a, what, (int)strcspn(b, "\n"), b);
	}
	CHECK(!strcmp(ls->buf, le->buf));
}

static struct lg ls, le;

static void test_vms_same(void)
{
	memset(&ls, 0, sizeof(ls));
	memset(&le, 0, sizeof(le));
	compare("vms", seq_vms, &ls, &le);
	/* the values that matter, on their own */
	CHECK(has(&le, "create web 0"));
	CHECK(has(&le, "create web twice -17"));
	CHECK(has(&le, "vm_id nope -2"));
	CHECK(has(&le, "put stale -11"));
	CHECK(has(&le, "put rev 0 0"));
	CHECK(has(&le, "put missing -2"));
	CHECK(has(&le, "promote wrong pid -3"));
	CHECK(has(&le, "promote missing -2"));
	CHECK(has(&le, "rev raised 1"));
	CHECK(has(&le, "status saved web saved pid=0 exit={\"code\":3}"));
	CHECK(has(&le, "mark_stopping saved 0"));
	CHECK(has(&le, "template 1 other 0"));
	CHECK(has(&le, "after rollback -2"));
	CHECK(has(&le, "after commit 0"));
	CHECK(has(&le, "page 1,1 0 total=2"));
	/* by id for each, by name for a page */
	CHECK(strstr(le.buf, "-- each\nvm web") && strstr(le.buf, "-- page\nvm alpha"));
	CHECK(strstr(le.buf, "status web running pid=100 started=1 exit=NULL restarts=0"));
	CHECK(strstr(le.buf, "status web crashed pid=77 started=1 exit={\"code\":3} "
			     "restarts=2"));
	if (with_deletes) {
		CHECK(has(&le, "delete 0"));
		CHECK(has(&le, "delete again -2"));
		CHECK(has(&le, "name free again 0"));
	}
}

static void test_disks_nets_same(void)
{
	memset(&ls, 0, sizeof(ls));
	memset(&le, 0, sizeof(le));
	compare("disks", seq_disks_nets, &ls, &le);
	CHECK(has(&le, "disk name taken -17"));
	CHECK(has(&le, "disk path taken -17"));
	CHECK(has(&le, "net name taken -17"));
	CHECK(strstr(le.buf, "disk each 0") && strstr(le.buf, "disk aa vhd 1048576 /d/aa.vhd 1\n"
							       "disk zz raw"));
	CHECK(strstr(le.buf, "net br bridged bridge=br0 subnet= dhcp=-\n"
			     "net natnet nat bridge= subnet=10.0.5.0/24"));
	CHECK(has(&le, "net natnet nat bridge=vsrvbr1 subnet=10.0.5.0/24 dhcp=10.0.5.10-10.0.5.99"));
	if (with_deletes) {
		CHECK(has(&le, "net delete 0 again -2"));
		CHECK(has(&le, "disk delete 0 again -2"));
		CHECK(has(&le, "disk name and path free again 0"));
	}
}

/* etcd alone: two sessions, the same row. */
static void test_conflicts(void)
{
	struct db *db = open_etcd();
	struct dbc *c1 = db ? inv_get(db) : NULL, *c2 = db ? inv_get(db) : NULL;
	struct inv_vm v, got;
	int64_t id = 0, id2 = 0;

	CHECK(c1 && c2);
	if (!c1 || !c2)
		return;
	vm_init(&v, "x", 1);
	CHECK_EQ(inv_vm_create(c1, &v, &id), 0);
	/* two transactions edit the VM: the second commit fails and changes nothing */
	v.id = id;
	CHECK_EQ(inv_begin(c1), 0);
	CHECK_EQ(inv_begin(c2), 0);
	v.cpus = 2;
	CHECK_EQ(inv_vm_put(c1, &v, false), 0);
	v.cpus = 3;
	CHECK_EQ(inv_vm_put(c2, &v, false), 0);
	CHECK_EQ(inv_commit(c1), 0);
	CHECK_EQ(inv_commit(c2), -EAGAIN);
	CHECK_EQ(inv_vm_get(c1, id, &got), 0);
	CHECK_EQ(got.cpus, 2);
	/* a stale rev across sessions */
	v.rev = got.rev;
	inv_vm_clear(&got);
	v.cpus = 4;
	CHECK_EQ(inv_vm_put(c2, &v, true), 0);
	v.cpus = 5;
	CHECK_EQ(inv_vm_put(c1, &v, true), -EAGAIN);
	/* the user's edit and the supervisor's status write do not conflict */
	CHECK_EQ(inv_vm_get(c1, id, &got), 0);
	v.rev = got.rev;
	inv_vm_clear(&got);
	CHECK_EQ(inv_begin(c1), 0);
	v.cpus = 6;
	CHECK_EQ(inv_vm_put(c1, &v, true), 0);
	CHECK_EQ(inv_vm_set_state(c2, id, INV_VM_STARTING, 5, NULL), 0);
	CHECK_EQ(inv_commit(c1), 0);
	CHECK_EQ(inv_vm_get(c1, id, &got), 0);
	CHECK_EQ(got.cpus, 6);
	CHECK(!strcmp(got.state, INV_VM_STARTING));
	inv_vm_clear(&got);
	/* the same name created by two transactions: one commits */
	vm_init(&v, "same", 1);
	CHECK_EQ(inv_begin(c1), 0);
	CHECK_EQ(inv_begin(c2), 0);
	CHECK_EQ(inv_vm_create(c1, &v, &id), 0);
	CHECK_EQ(inv_vm_create(c2, &v, &id2), 0);
	CHECK_EQ(inv_commit(c2), 0);
	CHECK_EQ(inv_commit(c1), -EAGAIN);
	CHECK_EQ(inv_vm_id(c1, "same", &id), 0);
	CHECK_EQ(id, id2);
	CHECK_EQ(inv_vm_get(c1, id2 - 1, &got), -ENOENT);    /* the loser's id stays a gap */
	/* outside transactions, concurrent status writes all land (retried, not lost) */
	CHECK_EQ(inv_vm_count_restart(c1, id), 0);
	CHECK_EQ(inv_vm_count_restart(c2, id), 0);
	CHECK_EQ(inv_vm_get(c1, id, &got), 0);
	CHECK_EQ(got.restarts, 2);
	inv_vm_clear(&got);
	inv_put(c1);
	inv_put(c2);
	inv_close(db);
}

/* inv_layer_each: count the layers of VM arg[0] into arg[1]. */
static int count_layer(const struct inv_layer *l, void *arg)
{
	int64_t *a = arg;

	a[1] += l->vm_id == a[0];
	return 0;
}

/* One delete of VM id on c1 as DELETE /api/v1/vms/NAME makes it (its reads at once, then
 * the checks: no task of kind on it, no layer; the delete), and between the reads and the
 * commit what other does on c2 (0: nothing, 1: a task on the VM, 2: a layer of its disk).
 * The commit's rc. */
static int delete_raced(struct dbc *c1, struct dbc *c2, int64_t id, const char *name,
			int other)
{
	struct inv_layer top = { .path = "/l/raced", .kind = "top", .vm_id = id, .disk_id = 9 };
	unsigned long calls;
	int64_t task, n[2] = { id, 0 };

	CHECK_EQ(inv_begin(c1), 0);
	CHECK_EQ(inv_vm_delete_read(c1, id), 0);
	calls = etcd_thread_calls();
	CHECK_EQ(inv_task_running(c1, "vm-snapshot-delete", name), 0);
	CHECK_EQ(inv_layer_each(c1, count_layer, n), 0);
	CHECK_EQ(n[1], 0);
	CHECK_EQ(etcd_thread_calls(), calls); /* read already */
	if (other) {
		CHECK_EQ(inv_begin(c2), 0);
		if (other == 1)
			CHECK_EQ(inv_task_create(c2, "vm-snapshot-delete", name, "tester", NULL, 1,
						 &task), 0);
		else
			CHECK_EQ(inv_layer_add(c2, &top), 0);
		CHECK_EQ(inv_commit(c2), 0);
	}
	calls = etcd_thread_calls();
	CHECK_EQ(inv_vm_delete(c1, id), 0);
	CHECK_EQ(etcd_thread_calls(), calls); /* the cascades' reads were made with the checks' */
	return inv_commit(c1);
}

/* etcd alone: a VM's delete with its reads made at once (inv_vm_delete_read) */
static void test_delete_read(void)
{
	struct db *db = open_etcd();
	struct dbc *c1 = db ? inv_get(db) : NULL, *c2 = db ? inv_get(db) : NULL;
	struct inv_vm v, got;
	int64_t a = 0, b = 0, c = 0;

	CHECK(c1 && c2);
	if (!c1 || !c2)
		return;
	vm_init(&v, "del-a", 1);
	CHECK_EQ(inv_vm_create(c1, &v, &a), 0);
	vm_init(&v, "del-b", 1);
	CHECK_EQ(inv_vm_create(c1, &v, &b), 0);
	vm_init(&v, "del-c", 1);
	CHECK_EQ(inv_vm_create(c1, &v, &c), 0);
	/* a task started on the VM meanwhile: the commit fails, the VM stays */
	CHECK_EQ(delete_raced(c1, c2, a, "del-a", 1), -EAGAIN);
	CHECK_EQ(inv_vm_get(c1, a, &got), 0);
	inv_vm_clear(&got);
	/* a layer made meanwhile: the same */
	CHECK_EQ(delete_raced(c1, c2, b, "del-b", 2), -EAGAIN);
	CHECK_EQ(inv_vm_get(c1, b, &got), 0);
	inv_vm_clear(&got);
	/* nothing meanwhile: deleted */
	CHECK_EQ(delete_raced(c1, c2, c, "del-c", 0), 0);
	CHECK_EQ(inv_vm_get(c1, c, &got), -ENOENT);
	/* outside a transaction the hint reads nothing */
	{
		unsigned long calls = etcd_thread_calls();

		CHECK_EQ(inv_vm_delete_read(c1, a), 0);
		CHECK_EQ(etcd_thread_calls(), calls);
	}
	inv_put(c1);
	inv_put(c2);
	inv_close(db);
}

/* etcd alone: the generation follows every write to etcd, another host's too; a VM's
 * status row has its name (inv_vm_get_status reads it alone). */
static void test_generation(void)
{
	struct db *a = open_etcd(), *b = NULL;
	struct dbc *ca = a ? inv_get(a) : NULL, *cb;
	struct inv_vm v;
	struct inv_vm_status st;
	json_t *row = NULL;
	uint64_t g0, g1;
	int64_t id = 0;
	char prefix[64];

	CHECK(ca != NULL);
	if (!ca)
		return;
	/* a second store on the same prefix: another host */
	snprintf(prefix, sizeof(prefix), "/test/vm%d/", nprefix - 1);
	CHECK_EQ(inv_etcd_open(rig.endpoints, prefix, 3000, &b), 0);
	if (!b)
		return;
	cb = inv_get(b);
	g0 = inv_generation(a);
	CHECK_EQ(inv_generation(a), g0);            /* nothing written: the same */
	vm_init(&v, "g", 1);
	CHECK_EQ(inv_vm_create(cb, &v, &id), 0);    /* written through b */
	g1 = inv_generation(a);
	CHECK(g1 > g0);
	CHECK_EQ(inv_vm_set_state(cb, id, INV_VM_STARTING, 9, NULL), 0);
	CHECK(inv_generation(a) > g1);
	CHECK_EQ(ie_row_get_id(ca, "vm_status", id, &row, NULL), 0);
	CHECK(row && ie_str(row, "name") && !strcmp(ie_str(row, "name"), "g"));
	json_decref(row);
	CHECK_EQ(inv_vm_get_status(ca, id, &st), 0);
	CHECK(!strcmp(st.name, "g") && !strcmp(st.state, INV_VM_STARTING) && st.monitor_pid == 9);
	inv_vm_status_clear(&st);
	inv_put(cb);
	inv_put(ca);
	inv_close(b);
	inv_close(a);
}

/* etcd alone: a disk with a VM's drive on it, a network with a NIC on it, stay. */
static void test_in_use(void)
{
	struct db *db = open_etcd();
	struct dbc *c = db ? inv_get(db) : NULL;
	struct inv_disk d = { .size = 1 };
	struct inv_net n = { 0 };
	int64_t disk = 0, net = 0;
	json_t *row;
	char key[48];

	CHECK(c != NULL);
	if (!c)
		return;
	snprintf(d.name, sizeof(d.name), "d");
	snprintf(d.format, sizeof(d.format), "raw");
	snprintf(d.path, sizeof(d.path), "/d");
	snprintf(n.name, sizeof(n.name), "n");
	snprintf(n.kind, sizeof(n.kind), "internal");
	CHECK_EQ(inv_disk_create(c, &d, &disk), 0);
	CHECK_EQ(inv_net_create(c, &n, &net), 0);
	/* the rows inv_etcd_attach.c writes (inv_etcd_attach.h) */
	row = json_pack("{s:I,s:i,s:I,s:s,s:b}", "vm_id", (json_int_t)1, "idx", 0, "disk_id",
			(json_int_t)disk, "bus", "virtio-blk", "readonly", 0);
	CHECK_EQ(ie_row_put(c, "vm_disks", "00000000000000000001/00000000000000000000", row, 0), 0);
	json_decref(row);
	row = json_pack("{s:I,s:i,s:I,s:s,s:s}", "vm_id", (json_int_t)1, "idx", 0, "network_id",
			(json_int_t)net, "mac", "52:54:00:00:00:01", "model", "virtio");
	CHECK_EQ(ie_row_put(c, "vm_nics", "00000000000000000001/00000000000000000000", row, 0), 0);
	json_decref(row);
	CHECK_EQ(inv_disk_delete(c, disk), -EEXIST);
	CHECK_EQ(inv_net_delete(c, net), -EEXIST);
	CHECK_EQ(inv_disk_get(c, disk, &d), 0);
	CHECK_EQ(inv_object_id(c, "network", "n", &net), 0);
	snprintf(key, sizeof(key), "00000000000000000001/");
	CHECK_EQ(ie_row_delete(c, "vm_disks", key, true), 0);
	CHECK_EQ(ie_row_delete(c, "vm_nics", key, true), 0);
	if (with_deletes) {
		CHECK_EQ(inv_disk_delete(c, disk), 0);
		CHECK_EQ(inv_net_delete(c, net), 0);
	}
	inv_put(c);
	inv_close(db);
}

int main(void)
{
	char cmd[96];
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = etcdrig_start_main(&rig, 1, "inv-etcd-vm");
	if (rc)
		return rc - 1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vsrv-invvm.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		printf("FAIL inv-etcd-vm: mkdtemp\n");
		etcdrig_stop(&rig);
		return 1;
	}
	with_deletes = !deletes_pending();
	if (!with_deletes)
		printf("SKIP deletes: inv_etcd_grants_clear or the cascades (ie_vm_drop_children, "
		       "ie_disk_drop_children) are still inv_etcd_pending.c's -EOPNOTSUPP\n");
	RUN(test_vms_same);
	RUN(test_disks_nets_same);
	RUN(test_conflicts);
	RUN(test_delete_read);
	RUN(test_in_use);
	RUN(test_generation);
	etcdrig_stop(&rig);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd)) {}
	return check_done();
}
