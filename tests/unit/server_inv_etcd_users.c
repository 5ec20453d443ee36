/* The etcd inventory's users, groups, memberships, sessions, grants and permission checks
 * (inv_etcd_user.c, _group.c, _session.c, _grant.c) against the SQLite backend: the same
 * sequence of inv_* calls runs on both (inv_open on a temporary file, inv_etcd_open on a
 * fresh prefix of a real etcd member, etcdrig.h), each writing what it got into a trace,
 * and the traces must be equal (and hold what inv.h promises: checked on each backend).
 * Then what only etcd has: two sessions whose transactions write the same row (one commit
 * fails with -EAGAIN and changes nothing), a check inside a transaction that sees the
 * transaction's own grants, and the keys a grant and a session are made of. SKIPs when
 * etcd is not installed. */
#include "check.h"
#include "etcdrig.h"
#include "invtrace.h"
#include "server/etcd.h"
#include "server/inv_etcd.h"
#include "server/server.h"

#include <curl/curl.h>
#include <pthread.h>
#include <time.h>

static struct etcdrig rig;

static int user_line(const struct inv_user *u, void *arg)
{
	trace(arg, "  user %lld %s admin=%d pw=%s", (long long)u->id, u->name, u->admin,
	      u->password);
	return 0;
}

static int named_line(int64_t id, const char *name, void *arg)
{
	trace(arg, "  %lld %s", (long long)id, name);
	return 0;
}

static int grant_line(const struct inv_grant *g, void *arg)
{
	trace(arg, "  %s %lld %s %d", g->ptype, (long long)g->pid, g->pname ? g->pname : "(null)",
	      g->perms);
	return 0;
}

/* inv_principal_grants has no order: the lines are sorted before they join the trace. */
static int pgrant_line(const char *otype, int64_t oid, int perms, void *arg)
{
	trace(arg, "  %s %lld %d", otype, (long long)oid, perms);
	return 0;
}

static int stop_at_first(int64_t id, const char *name, void *arg)
{
	(void)id;
	(void)name;
	(void)arg;
	return 7;
}

/* The users and groups, their memberships and sessions. */
static void users_scenario(struct db *db, struct trace *t)
{
	struct dbc *c = inv_get(db);
	struct inv_user u;
	int64_t alice = 0, bob = 0, carol = 0, zed = 0, staff = 0, ops = 0, adm = 0, id = 0, n = 0;
	int64_t now = time(NULL);
	int rc;
	const char *th1 = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *th2 = "2222222222222222222222222222222222222222222222222222222222222222";
	const char *th3 = "3333333333333333333333333333333333333333333333333333333333333333";
	const char *th4 = "4444444444444444444444444444444444444444444444444444444444444444";

	CHECK(c != NULL);
	if (!c)
		return;
	trace(t, "create alice %d", inv_user_create(c, "alice", "pa", false, &alice));
	trace(t, "create bob %d", inv_user_create(c, "bob", "pb", true, &bob));
	trace(t, "create carol %d", inv_user_create(c, "carol", "", false, &carol));
	trace(t, "create Zed %d", inv_user_create(c, "Zed", "pz", false, &zed));
	trace(t, "create alice again %d", inv_user_create(c, "alice", "x", true, &id));
	trace(t, "create no id %d", inv_user_create(c, "dan", "pd", false, NULL));
	trace(t, "ids %lld %lld %lld %lld", (long long)alice, (long long)bob, (long long)carol,
	      (long long)zed);
	CHECK(alice > 0 && bob > alice && carol > bob && zed > carol);
	rc = inv_user_count(c, &n);
	trace(t, "count %d %lld", rc, (long long)n);
	CHECK_EQ(n, 5);
	rc = inv_admin_count(c, &n);
	trace(t, "admins %d %lld", rc, (long long)n);
	CHECK_EQ(n, 1);
	memset(&u, 0, sizeof(u));
	trace(t, "by name alice %d", inv_user_by_name(c, "alice", &u));
	user_line(&u, t);
	CHECK(u.id == alice && !strcmp(u.password, "pa") && !u.admin && u.created >= now);
	trace(t, "by name nobody %d", inv_user_by_name(c, "nobody", &u));
	trace(t, "get bob %d", inv_user_get(c, bob, &u));
	user_line(&u, t);
	trace(t, "get 999 %d", inv_user_get(c, 999, &u));
	trace(t, "admin alice %d bob %d 999 %d", inv_user_admin(c, alice), inv_user_admin(c, bob),
	      inv_user_admin(c, 999));
	trace(t, "each %d", inv_user_each(c, user_line, t));
	trace(t, "set password %d", inv_user_set_password(c, alice, "new"));
	trace(t, "set admin %d", inv_user_set_admin(c, carol, true));
	trace(t, "set missing %d %d", inv_user_set_password(c, 999, "x"),
	      inv_user_set_admin(c, 999, true));
	trace(t, "each %d", inv_user_each(c, user_line, t));
	rc = inv_admin_count(c, &n);
	trace(t, "admins %d %lld", rc, (long long)n);
	trace(t, "set admin %d", inv_user_set_admin(c, carol, false));

	/* groups */
	trace(t, "principal staff %d", inv_principal_id(c, "group", "staff", &id));
	trace(t, "group staff %d", inv_group_create(c, "staff", &staff));
	trace(t, "group ops %d", inv_group_create(c, "ops", &ops));
	trace(t, "group Admins %d", inv_group_create(c, "Admins", &adm));
	trace(t, "group staff again %d", inv_group_create(c, "staff", &id));
	trace(t, "group ids %lld %lld %lld", (long long)staff, (long long)ops, (long long)adm);
	trace(t, "groups %d", inv_group_each(c, named_line, t));
	trace(t, "groups stop %d", inv_group_each(c, stop_at_first, NULL));
	id = 0;
	rc = inv_principal_id(c, "group", "staff", &id);
	trace(t, "principal staff %d %lld", rc, (long long)id);
	CHECK_EQ(id, staff);
	rc = inv_principal_id(c, "user", "alice", &id);
	trace(t, "principal alice %d %lld", rc, (long long)id);
	trace(t, "principal user staff %d", inv_principal_id(c, "user", "staff", &id));

	/* memberships */
	trace(t, "add %d %d %d %d", inv_member_add(c, staff, alice), inv_member_add(c, staff, bob),
	      inv_member_add(c, ops, alice), inv_member_add(c, staff, zed));
	trace(t, "add again %d", inv_member_add(c, staff, alice));
	trace(t, "add to no group %d", inv_member_add(c, 999, alice));
	trace(t, "add no user %d", inv_member_add(c, staff, 999));
	trace(t, "members of staff %d", inv_members(c, false, staff, named_line, t));
	trace(t, "groups of alice %d", inv_members(c, true, alice, named_line, t));
	trace(t, "groups of carol %d", inv_members(c, true, carol, named_line, t));
	trace(t, "members stop %d", inv_members(c, false, staff, stop_at_first, NULL));
	trace(t, "has admin staff %d ops %d Admins %d", inv_group_has_admin(c, staff),
	      inv_group_has_admin(c, ops), inv_group_has_admin(c, adm));
	CHECK_EQ(inv_group_has_admin(c, staff), 1);
	CHECK_EQ(inv_group_has_admin(c, ops), 0);
	trace(t, "clear alice's %d", inv_members_clear(c, true, alice));
	trace(t, "members of staff %d", inv_members(c, false, staff, named_line, t));
	trace(t, "members of ops %d", inv_members(c, false, ops, named_line, t));
	trace(t, "clear staff %d", inv_members_clear(c, false, staff));
	trace(t, "groups of bob %d", inv_members(c, true, bob, named_line, t));
	trace(t, "add %d %d %d", inv_member_add(c, staff, alice), inv_member_add(c, ops, alice),
	      inv_member_add(c, staff, carol));

	/* sessions */
	trace(t, "session add %d %d %d", inv_session_add(c, th1, alice, now + 100),
	      inv_session_add(c, th2, alice, now + 200), inv_session_add(c, th3, bob, now - 10));
	trace(t, "session add again %d", inv_session_add(c, th1, bob, now + 100));
	trace(t, "session of no user %d", inv_session_add(c, th4, 999, now + 100));
	memset(&u, 0, sizeof(u));
	trace(t, "session user th1 %d", inv_session_user(c, th1, now, &u));
	user_line(&u, t);
	trace(t, "session user th3 %d", inv_session_user(c, th3, now, &u));
	trace(t, "session user th3 before %d", inv_session_user(c, th3, now - 20, &u));
	trace(t, "session user th2 late %d", inv_session_user(c, th2, now + 200, &u));
	trace(t, "sweep %d", inv_session_sweep(c, now));
	trace(t, "session user th3 swept %d", inv_session_user(c, th3, now - 20, &u));
	trace(t, "session user th2 %d", inv_session_user(c, th2, now, &u));
	trace(t, "drop th2 %d", inv_session_drop(c, th2));
	trace(t, "drop th2 again %d", inv_session_drop(c, th2));
	trace(t, "drop unknown %d", inv_session_drop(c, th4));
	trace(t, "session user th2 %d", inv_session_user(c, th2, now, &u));
	trace(t, "session add %d", inv_session_add(c, th2, bob, now + 100));
	trace(t, "drop alice's %d", inv_session_drop_user(c, alice));
	trace(t, "session user th1 %d th2 %d", inv_session_user(c, th1, now, &u),
	      inv_session_user(c, th2, now, &u));
	trace(t, "session add %d", inv_session_add(c, th1, alice, now + 100));
	inv_put(c);
}

/* The grants and the checks, then the deletion of principals with what goes with them. */
static void grants_scenario(struct db *db, struct trace *t)
{
	struct dbc *c = inv_get(db);
	int64_t alice = 0, bob = 0, carol = 0, staff = 0, ops = 0;
	struct inv_user u;
	const char *th1 = "1111111111111111111111111111111111111111111111111111111111111111";
	int64_t n;
	int rc;

	if (!c)
		return;
	inv_principal_id(c, "user", "alice", &alice);
	inv_principal_id(c, "user", "bob", &bob);
	inv_principal_id(c, "user", "carol", &carol);
	inv_principal_id(c, "group", "staff", &staff);
	inv_principal_id(c, "group", "ops", &ops);
	/* alice: staff, ops; carol: staff; bob: none */
	trace(t, "grant %d", inv_grant_add(c, "vm", 1, "user", alice, PERM_VIEW));
	trace(t, "grant again %d", inv_grant_add(c, "vm", 1, "user", alice, PERM_CONTROL));
	trace(t, "grant %d", inv_grant_add(c, "vm", 1, "group", staff, PERM_CONTROL));
	trace(t, "grant %d", inv_grant_add(c, "server", 0, "group", ops, PERM_MODIFY));
	trace(t, "grant %d", inv_grant_add(c, "vm", 2, "user", 999, PERM_VIEW));
	trace(t, "grant %d", inv_grant_add(c, "disk", 1, "user", bob, PERM_REMOVE));
	trace(t, "grant %d", inv_grant_add(c, "vm", 10, "user", bob, PERM_VIEW));
	trace(t, "merge %d", inv_grant_merge(c, "vm", 1, "user", "bob", PERM_REMOVE));
	trace(t, "merge %d", inv_grant_merge(c, "vm", 1, "user", "bob", PERM_CHANGE_PERMS));
	trace(t, "merge %d", inv_grant_merge(c, "vm", 1, "group", "ops", PERM_VIEW));
	trace(t, "merge nobody %d", inv_grant_merge(c, "vm", 1, "user", "nobody", PERM_VIEW));
	trace(t, "merge no group %d", inv_grant_merge(c, "vm", 1, "group", "alice", PERM_VIEW));
	trace(t, "on vm 1 %d", inv_grant_each(c, "vm", 1, grant_line, t));
	trace(t, "on vm 2 %d", inv_grant_each(c, "vm", 2, grant_line, t));
	trace(t, "on vm 3 %d", inv_grant_each(c, "vm", 3, grant_line, t));
	trace(t, "on server %d", inv_grant_each(c, "server", 0, grant_line, t));
	trace(t, "perms alice vm1 %d", inv_perms(c, alice, "vm", 1));
	CHECK_EQ(inv_perms(c, alice, "vm", 1), PERM_VIEW | PERM_CONTROL | PERM_MODIFY);
	trace(t, "perms bob vm1 %d", inv_perms(c, bob, "vm", 1));
	CHECK_EQ(inv_perms(c, bob, "vm", 1), PERM_REMOVE | PERM_CHANGE_PERMS);
	trace(t, "perms carol vm1 %d vm2 %d", inv_perms(c, carol, "vm", 1), inv_perms(c, carol, "vm", 2));
	trace(t, "perms alice vm2 %d disk1 %d server %d", inv_perms(c, alice, "vm", 2),
	      inv_perms(c, alice, "disk", 1), inv_perms(c, alice, "server", 0));
	trace(t, "perms bob disk1 %d vm10 %d vm1x %d", inv_perms(c, bob, "disk", 1),
	      inv_perms(c, bob, "vm", 10), inv_perms(c, bob, "vm", 100));
	trace(t, "perms 999 vm2 %d", inv_perms(c, 999, "vm", 2));
	trace(t, "named alice vm1 %d vm2 %d server %d", inv_named(c, alice, "vm", 1),
	      inv_named(c, alice, "vm", 2), inv_named(c, alice, "server", 0));
	CHECK_EQ(inv_named(c, alice, "vm", 2), 0);
	trace(t, "named carol vm1 %d bob vm1 %d bob vm10 %d", inv_named(c, carol, "vm", 1),
	      inv_named(c, bob, "vm", 1), inv_named(c, bob, "vm", 10));
	trace_sorted_begin(t);
	trace(t, "grants of alice %d", inv_principal_grants(c, "user", alice, pgrant_line, t));
	trace_sorted_end(t);
	trace_sorted_begin(t);
	trace(t, "grants of bob %d", inv_principal_grants(c, "user", bob, pgrant_line, t));
	trace_sorted_end(t);
	trace_sorted_begin(t);
	trace(t, "grants of ops %d", inv_principal_grants(c, "group", ops, pgrant_line, t));
	trace_sorted_end(t);
	trace(t, "clear vm1 %d", inv_grants_clear(c, "vm", 1));
	trace(t, "on vm 1 %d", inv_grant_each(c, "vm", 1, grant_line, t));
	trace(t, "perms alice vm1 %d bob vm1 %d", inv_perms(c, alice, "vm", 1), inv_perms(c, bob, "vm", 1));
	trace_sorted_begin(t);
	trace(t, "grants of bob %d", inv_principal_grants(c, "user", bob, pgrant_line, t));
	trace_sorted_end(t);
	trace(t, "clear none %d", inv_grants_clear(c, "vm", 77));
	trace(t, "grant %d %d", inv_grant_add(c, "vm", 1, "user", alice, PERM_VIEW),
	      inv_grant_add(c, "vm", 1, "user", carol, PERM_VIEW));

	/* a user goes with its memberships, sessions and grants */
	trace(t, "delete alice %d", inv_principal_delete(c, "user", alice));
	trace(t, "by name alice %d", inv_user_by_name(c, "alice", &u));
	trace(t, "get alice %d", inv_user_get(c, alice, &u));
	trace(t, "session alice %d", inv_session_user(c, th1, time(NULL), &u));
	trace(t, "members of staff %d", inv_members(c, false, staff, named_line, t));
	trace(t, "members of ops %d", inv_members(c, false, ops, named_line, t));
	trace(t, "on vm 1 %d", inv_grant_each(c, "vm", 1, grant_line, t));
	trace(t, "perms alice server %d", inv_perms(c, alice, "server", 0));
	rc = inv_user_count(c, &n);
	trace(t, "count %d %lld", rc, (long long)n);
	trace(t, "delete missing %d", inv_principal_delete(c, "user", 999));
	/* the name is free again */
	trace(t, "create alice %d", inv_user_create(c, "alice", "pa", false, NULL));
	trace(t, "groups of new alice %d", inv_members(c, true, alice + 100, named_line, t));
	/* a group goes with its memberships and grants */
	trace(t, "grant %d", inv_grant_add(c, "vm", 3, "group", staff, PERM_VIEW));
	trace(t, "delete staff %d", inv_principal_delete(c, "group", staff));
	trace(t, "principal staff %d", inv_principal_id(c, "group", "staff", &n));
	trace(t, "groups of carol %d", inv_members(c, true, carol, named_line, t));
	trace(t, "on vm 3 %d", inv_grant_each(c, "vm", 3, grant_line, t));
	trace(t, "perms carol vm1 %d", inv_perms(c, carol, "vm", 1));
	trace(t, "groups %d", inv_group_each(c, named_line, t));
	trace(t, "group staff %d", inv_group_create(c, "staff", &n));
	inv_put(c);
}

/* Each scenario on both backends: the same trace. */
static void test_same_as_sqlite(void)
{
	static void (*const scen[])(struct db *db, struct trace *t) = { users_scenario, grants_scenario, NULL };

	trace_both(rig.endpoints, "/test/users-same", "users", scen);
}

/* Two sessions in transactions write the same user: the second commit fails with -EAGAIN
 * and none of its writes are made. */
static void test_conflict(void)
{
	struct db *db = NULL;
	struct dbc *a, *b;
	struct inv_user u;
	int64_t uid = 0, gid = 0, n = 0;

	CHECK_EQ(inv_etcd_open(rig.endpoints, "/test/users-conflict", 2000, &db), 0);
	if (!db)
		return;
	a = inv_get(db);
	b = inv_get(db);
	CHECK_EQ(inv_user_create(a, "ann", "p0", false, &uid), 0);
	CHECK_EQ(inv_group_create(a, "team", &gid), 0);
	CHECK_EQ(inv_begin(a), 0);
	CHECK_EQ(inv_begin(b), 0);
	CHECK_EQ(inv_user_set_password(a, uid, "pa"), 0);
	CHECK_EQ(inv_user_set_password(b, uid, "pb"), 0);
	CHECK_EQ(inv_member_add(b, gid, uid), 0);
	CHECK_EQ(inv_user_create(b, "bea", "x", false, NULL), 0);
	CHECK_EQ(inv_commit(a), 0);
	CHECK_EQ(inv_commit(b), -EAGAIN);
	CHECK_EQ(inv_user_get(a, uid, &u), 0);
	CHECK(!strcmp(u.password, "pa"));
	CHECK_EQ(inv_members(a, false, gid, stop_at_first, NULL), 0);
	CHECK_EQ(inv_user_by_name(a, "bea", &u), -ENOENT);
	CHECK_EQ(inv_user_count(a, &n), 0);
	CHECK_EQ(n, 1);
	/* the same name created by two transactions: one of them */
	CHECK_EQ(inv_begin(a), 0);
	CHECK_EQ(inv_begin(b), 0);
	CHECK_EQ(inv_user_create(a, "cid", "x", false, NULL), 0);
	CHECK_EQ(inv_user_create(b, "cid", "y", true, NULL), 0);
	CHECK_EQ(inv_commit(b), 0);
	CHECK_EQ(inv_commit(a), -EAGAIN);
	CHECK_EQ(inv_user_by_name(a, "cid", &u), 0);
	CHECK(u.admin && !strcmp(u.password, "y"));
	CHECK_EQ(inv_user_count(a, &n), 0);
	CHECK_EQ(n, 2);
	/* a grant merged by two transactions: the second one is refused, not lost */
	CHECK_EQ(inv_begin(a), 0);
	CHECK_EQ(inv_begin(b), 0);
	CHECK_EQ(inv_grant_merge(a, "vm", 5, "user", "ann", PERM_VIEW), 0);
	CHECK_EQ(inv_grant_merge(b, "vm", 5, "user", "ann", PERM_CONTROL), 0);
	CHECK_EQ(inv_commit(a), 0);
	CHECK_EQ(inv_commit(b), -EAGAIN);
	CHECK_EQ(inv_perms(a, uid, "vm", 5), PERM_VIEW);
	inv_put(a);
	inv_put(b);
	inv_close(db);
}

/* Writes outside transactions from two threads at once, each a read-modify-write of the
 * same rows (a grant's bits, a user's fields): none is lost and none fails (a write whose
 * commit meets the other's is run again, as SQLite's writer waits). Each thread has 8
 * writes, so one write can lose at most 8 times: under ie_write's 20 tries. */
struct writer {
	struct db *db;
	int first_bit;
	int64_t uid;
	int failures;
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	struct dbc *c = inv_get(w->db);
	char pw[16];

	for (int i = 0; c && i < 8; i++) {
		if (inv_grant_merge(c, "vm", 9, "user", "ann", 1 << (w->first_bit + i)))
			w->failures++;
		snprintf(pw, sizeof(pw), "p%d", w->first_bit + i);
		if (w->first_bit ? inv_user_set_password(c, w->uid, pw) :
				   inv_user_set_admin(c, w->uid, i % 2 == 0))
			w->failures++;
	}
	if (c)
		inv_put(c);
	return NULL;
}

static void test_concurrent_writes(void)
{
	struct db *db = NULL;
	struct dbc *c;
	struct writer w[2];
	pthread_t th[2];
	struct inv_user u;

	CHECK_EQ(inv_etcd_open(rig.endpoints, "/test/users-writers", 2000, &db), 0);
	if (!db)
		return;
	c = inv_get(db);
	memset(w, 0, sizeof(w));
	CHECK_EQ(inv_user_create(c, "ann", "p", true, &w[0].uid), 0);
	w[1].uid = w[0].uid;
	for (int i = 0; i < 2; i++) {
		w[i].db = db;
		w[i].first_bit = i * 8;
		CHECK_EQ(pthread_create(&th[i], NULL, writer_run, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ(w[0].failures + w[1].failures, 0);
	CHECK_EQ(inv_perms(c, w[0].uid, "vm", 9), 0xffff);
	CHECK_EQ(inv_user_get(c, w[0].uid, &u), 0);
	CHECK(!strcmp(u.password, "p15"));     /* the last of thread 1's */
	CHECK(!u.admin);                        /* the last of thread 0's: i = 7 */
	inv_put(c);
	inv_close(db);
}

/* Inside a transaction a check sees the transaction's own grants and memberships, and
 * reads what it checked: a grant changed meanwhile by another session fails the commit. */
static void test_check_in_txn(void)
{
	struct db *db = NULL;
	struct dbc *a, *b;
	int64_t uid = 0, gid = 0;

	CHECK_EQ(inv_etcd_open(rig.endpoints, "/test/users-txn", 2000, &db), 0);
	if (!db)
		return;
	a = inv_get(db);
	b = inv_get(db);
	CHECK_EQ(inv_user_create(a, "ann", "p", false, &uid), 0);
	CHECK_EQ(inv_group_create(a, "team", &gid), 0);
	CHECK_EQ(inv_begin(a), 0);
	CHECK_EQ(inv_member_add(a, gid, uid), 0);
	CHECK_EQ(inv_grant_add(a, "vm", 3, "group", gid, PERM_CONTROL), 0);
	CHECK_EQ(inv_perms(a, uid, "vm", 3), PERM_CONTROL);
	CHECK_EQ(inv_named(a, uid, "vm", 3), 1);
	CHECK_EQ(inv_perms(b, uid, "vm", 3), 0);        /* not committed yet */
	CHECK_EQ(inv_commit(a), 0);
	CHECK_EQ(inv_perms(b, uid, "vm", 3), PERM_CONTROL);
	/* a decision on a check that another session's grant has changed: refused */
	CHECK_EQ(inv_begin(a), 0);
	CHECK_EQ(inv_perms(a, uid, "vm", 3), PERM_CONTROL);
	CHECK_EQ(inv_user_set_admin(a, uid, true), 0);
	CHECK_EQ(inv_grants_clear(b, "vm", 3), 0);
	CHECK_EQ(inv_commit(a), -EAGAIN);
	CHECK_EQ(inv_user_admin(b, uid), 0);
	inv_put(a);
	inv_put(b);
	inv_close(db);
}

/* The keys: a grant is found from its object and from its principal; a session from its
 * token, its user and its expiry; memberships from both sides. */
static void test_keys(void)
{
	struct db *db = NULL;
	struct etcd *raw = NULL;
	struct etcd_kv kv;
	struct dbc *c;
	int64_t uid = 0, gid = 0;
	const char *th = "abababababababababababababababababababababababababababababababab";

	CHECK_EQ(inv_etcd_open(rig.endpoints, "/test/users-keys", 2000, &db), 0);
	CHECK_EQ(etcd_open(rig.endpoints, 2000, &raw), 0);
	if (!db || !raw)
		goto out;
	c = inv_get(db);
	CHECK_EQ(inv_user_create(c, "ann", "p", false, &uid), 0);
	CHECK_EQ(inv_group_create(c, "team", &gid), 0);
	CHECK_EQ(inv_member_add(c, gid, uid), 0);
	CHECK_EQ(inv_grant_add(c, "vm", 7, "user", uid, PERM_VIEW), 0);
	CHECK_EQ(inv_session_add(c, th, uid, 2000000000), 0);
	CHECK_EQ(etcd_get(raw, "/test/users-keys/t/users/00000000000000000001", &kv), 0);
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_get(raw, "/test/users-keys/t/acl/vm/00000000000000000007/user/"
			  "00000000000000000001", &kv), 0);
	CHECK(kv.value && strstr(kv.value, "\"perms\":1") && strstr(kv.value, "\"ann\""));
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_get(raw, "/test/users-keys/t/acl_by/user/00000000000000000001/vm/"
			  "00000000000000000007", &kv), 0);
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_get(raw, "/test/users-keys/t/group_members/00000000000000000001/"
			  "00000000000000000001", &kv), 0);
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_get(raw, "/test/users-keys/t/member_of/00000000000000000001/"
			  "00000000000000000001", &kv), 0);
	etcd_kv_clear(&kv);
	CHECK_EQ(etcd_get(raw, "/test/users-keys/t/session_exp/00000000002000000000/"
			  "abababababababababababababababababababababababababababababababab", &kv), 0);
	etcd_kv_clear(&kv);
	/* the user's deletion leaves nothing of it but its sessions' rows, which are no
	 * sessions any more and go at their expiry */
	CHECK_EQ(inv_principal_delete(c, "user", uid), 0);
	{
		int left = 0, sessions = 0;
		const char *tables[] = { "users/", "acl/", "acl_by/", "group_members/", "member_of/" };
		char k[96];
		int64_t rev;
		struct inv_user u;

		for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
			snprintf(k, sizeof(k), "/test/users-keys/t/%s", tables[i]);
			CHECK_EQ(etcd_range(raw, k, count_kv, &left, &rev), 0);
		}
		CHECK_EQ(left, 0);
		CHECK_EQ(inv_session_user(c, th, 1000, &u), -ENOENT);
		CHECK_EQ(inv_session_drop(c, th), -ENOENT);
		CHECK_EQ(etcd_range(raw, "/test/users-keys/t/session", count_kv, &sessions, &rev), 0);
		CHECK_EQ(sessions, 2);
		CHECK_EQ(inv_session_sweep(c, 2000000000), 0);
		sessions = 0;
		CHECK_EQ(etcd_range(raw, "/test/users-keys/t/session", count_kv, &sessions, &rev), 0);
		CHECK_EQ(sessions, 0);
	}
	CHECK_EQ(etcd_get(raw, "/test/users-keys/u/users.name/ann", &kv), -ENOENT);
	inv_put(c);
out:
	etcd_close(raw);
	inv_close(db);
}

/* A user's sessions end together in one write, however many there are (etcd takes at most
 * 128 writes in one transaction by default: 150 sessions of two rows each would not do). */
static void test_many_sessions(void)
{
	struct db *db = NULL;
	struct dbc *c;
	struct inv_user u;
	int64_t uid = 0, other = 0;
	char th[65];
	int bad = 0;

	CHECK_EQ(inv_etcd_open(rig.endpoints, "/test/users-sessions", 2000, &db), 0);
	if (!db)
		return;
	c = inv_get(db);
	CHECK_EQ(inv_user_create(c, "ann", "p", false, &uid), 0);
	CHECK_EQ(inv_user_create(c, "bob", "p", false, &other), 0);
	for (int i = 0; i < 150; i++) {
		snprintf(th, sizeof(th), "%064x", i);
		bad += inv_session_add(c, th, i == 149 ? other : uid, 2000000000 + i) != 0;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(inv_session_user(c, th, 1000, &u), 0);
	CHECK_EQ(u.id, other);
	snprintf(th, sizeof(th), "%064x", 7);
	CHECK_EQ(inv_session_user(c, th, 1000, &u), 0);
	CHECK_EQ(u.id, uid);
	CHECK_EQ(inv_user_set_password(c, uid, "new"), 0);
	CHECK_EQ(inv_session_drop_user(c, uid), 0);
	for (int i = 0; i < 149; i++) {
		snprintf(th, sizeof(th), "%064x", i);
		bad += inv_session_user(c, th, 1000, &u) != -ENOENT;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(inv_user_get(c, uid, &u), 0);
	CHECK(!strcmp(u.password, "new"));
	snprintf(th, sizeof(th), "%064x", 149);
	CHECK_EQ(inv_session_user(c, th, 1000, &u), 0);  /* another user's stays */
	/* a session started after the drop is valid */
	snprintf(th, sizeof(th), "%064x", 1000);
	CHECK_EQ(inv_session_add(c, th, uid, 2000000000), 0);
	CHECK_EQ(inv_session_user(c, th, 1000, &u), 0);
	CHECK_EQ(inv_principal_delete(c, "user", uid), 0);
	CHECK_EQ(inv_session_user(c, th, 1000, &u), -ENOENT);
	inv_put(c);
	inv_close(db);
}

/* What api_user.c does in one transaction: a user's new password, the end of its sessions
 * and its administrator flag (three writes of the user's row); its groups replaced (each
 * membership deleted, then written again). Each row must be written once in the Txn etcd
 * gets (etcd refuses a key twice: "duplicate key given in txn request"). */
static void test_row_written_twice(void)
{
	struct db *db = NULL;
	struct dbc *c;
	struct inv_user u;
	int64_t uid = 0, gid = 0;
	const char *th = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
	int rc;

	CHECK_EQ(inv_etcd_open(rig.endpoints, "/test/users-twice", 2000, &db), 0);
	if (!db)
		return;
	c = inv_get(db);
	CHECK_EQ(inv_user_create(c, "ann", "p", false, &uid), 0);
	CHECK_EQ(inv_group_create(c, "team", &gid), 0);
	CHECK_EQ(inv_member_add(c, gid, uid), 0);
	CHECK_EQ(inv_session_add(c, th, uid, 2000000000), 0);
	CHECK_EQ(inv_begin(c), 0);
	CHECK_EQ(inv_user_set_password(c, uid, "new"), 0);
	CHECK_EQ(inv_session_drop_user(c, uid), 0);
	CHECK_EQ(inv_user_set_admin(c, uid, true), 0);
	rc = inv_commit(c);
	if (rc)
		printf("  the row layer sent users/%lld twice in one Txn (etcd_txn.c queues every "
		       "write of a key: it should keep the last one only)\n", (long long)uid);
	CHECK_EQ(rc, 0);
	CHECK_EQ(inv_user_get(c, uid, &u), 0);
	CHECK(u.admin && !strcmp(u.password, "new"));
	CHECK_EQ(inv_session_user(c, th, 1000, &u), -ENOENT);
	CHECK_EQ(inv_begin(c), 0);
	CHECK_EQ(inv_members_clear(c, true, uid), 0);
	CHECK_EQ(inv_member_add(c, gid, uid), 0);
	CHECK_EQ(inv_commit(c), 0);
	CHECK_EQ(inv_members(c, false, gid, stop_at_first, NULL), 7);
	inv_put(c);
	inv_close(db);
}

/* etcd's count of the KV calls of method it has answered (its /metrics). */
struct body {
	char *p;
	size_t n;
};

static size_t body_add(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	char *q = realloc(b->p, b->n + size * n + 1);

	if (!q)
		return 0;
	memcpy(q + b->n, p, size * n);
	b->n += size * n;
	q[b->n] = '\0';
	b->p = q;
	return size * n;
}

static long long etcd_calls(const char *method)
{
	struct body b = { 0 };
	char url[128], want[96];
	CURL *cu = curl_easy_init();
	long long total = 0;
	const char *p;

	snprintf(url, sizeof(url), "%.*s/metrics", (int)strcspn(rig.endpoints, ","), rig.endpoints);
	snprintf(want, sizeof(want), "grpc_method=\"%s\",grpc_service=\"etcdserverpb.KV\"", method);
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, body_add);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(cu) != CURLE_OK || !b.p)
		total = -1;
	curl_easy_cleanup(cu);
	/* grpc_server_handled_total{grpc_code="OK",grpc_method="Txn",...} N, per code */
	for (p = b.p; total >= 0 && (p = strstr(p, "\ngrpc_server_handled_total{")); p++) {
		const char *end = strchr(p, '}'), *m = strstr(p, want);

		if (end && m && m < end)
			total += strtoll(end + 1, NULL, 10);
	}
	free(b.p);
	return total;
}

/* A permission check (inv_perms, inv_named: called for every object of a list) is one
 * etcd call outside a transaction, whatever the grants and groups. */
static void test_check_is_one_call(void)
{
	struct db *db = NULL;
	struct dbc *c;
	int64_t uid = 0, gid = 0;
	long long txn0, range0, txn1, range1;
	int perms = 0, named = 0;

	CHECK_EQ(inv_etcd_open(rig.endpoints, "/test/users-calls", 2000, &db), 0);
	if (!db)
		return;
	c = inv_get(db);
	CHECK_EQ(inv_user_create(c, "ann", "p", false, &uid), 0);
	for (int i = 0; i < 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "g%d", i);
		CHECK_EQ(inv_group_create(c, name, &gid), 0);
		CHECK_EQ(inv_member_add(c, gid, uid), 0);
		CHECK_EQ(inv_grant_add(c, "vm", i, "group", gid, 1 << i), 0);
	}
	CHECK_EQ(inv_grant_add(c, "vm", 2, "user", uid, PERM_CHANGE_PERMS), 0);
	CHECK_EQ(inv_grant_add(c, "server", 0, "group", gid, PERM_GUEST_AGENT), 0);
	txn0 = etcd_calls("Txn");
	range0 = etcd_calls("Range");
	for (int i = 0; i < 10; i++) {
		perms |= inv_perms(c, uid, "vm", i % 5);
		named += inv_named(c, uid, "vm", i);
	}
	txn1 = etcd_calls("Txn");
	range1 = etcd_calls("Range");
	CHECK(txn0 > 0 && range0 > 0);
	CHECK_EQ(perms, PERM_FULL | PERM_GUEST_AGENT);
	CHECK_EQ(named, 5);
	CHECK_EQ(txn1 - txn0, 20);
	CHECK_EQ(range1 - range0, 0);
	inv_put(c);
	inv_close(db);
}

int main(void)
{
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = etcdrig_start_main(&rig, 1, "inv-etcd-users");
	if (rc)
		return rc - 1;
	RUN(test_same_as_sqlite);
	RUN(test_conflict);
	RUN(test_concurrent_writes);
	RUN(test_check_in_txn);
	RUN(test_check_is_one_call);
	RUN(test_keys);
	RUN(test_many_sessions);
	RUN(test_row_written_twice);
	etcdrig_stop(&rig);
	return check_done();
}
