/* A live snapshot's claim across the servers sharing one inventory (snaplive_claim, on the
 * inventory's claims: inv_claim_take/drop/get), on each backend (SQLite: two stores on one
 * file, as two daemons on one inventory; etcd when installed: two stores on one prefix of
 * a real member). (1) The claims themselves: one owner at a time, its owner told, dropped
 * only by its owner. (2) Two servers: while server A holds VM 7 for a live snapshot, server
 * B is refused a live snapshot of it (409: -EBUSY, before anything is written), a migration
 * of it, and what needs it off (a snapshot delete, revert, clone: snapshot_check_off); once
 * A releases it, B claims it. (3) A server killed (SIGKILL) while it held two claims, one
 * with a short time (2 s) and one with a long one (600 s): the short one ends by itself
 * and B takes it, the long one still holds B off, so it is the claim's time that ends it,
 * not the death alone (a crashed server holds nothing for longer than its claim's time);
 * and a daemon of the same host starting again drops the long one at once (snaplive_sweep;
 * inv_claim_sweep drops the claims of one host's owners, no other's).
 * Without KVM: no VM runs, the claims are the inventory's. */
#include "check.h"
#include "etcdrig.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/migrate.h"
#include "server/server.h"
#include "server/snaplive.h"
#include "server/snapshot.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/vsrv-claim-XXXXXX";
static struct etcdrig rig;
static bool etcd_up;

/* A new store on the inventory of backend ("sqlite": dir/NAME.db; "etcd": the rig's prefix
 * /test/claim/NAME/): 0 and *db. */
static int store(const char *backend, const char *name, struct db **db)
{
	char p[160];

	if (!strcmp(backend, "sqlite")) {
		snprintf(p, sizeof(p), "%s/%s.db", dir, name);
		return inv_open(p, db);
	}
	snprintf(p, sizeof(p), "/test/claim/%s/", name);
	return inv_etcd_open(rig.endpoints, p, 3000, db);
}

/* (1) The claims of the inventory of backend. */
static void claims(const char *backend)
{
	struct db *a = NULL, *b = NULL;
	struct dbc *ca, *cb;
	char who[128] = "";

	CHECK_EQ(store(backend, "claims", &a), 0);
	CHECK_EQ(store(backend, "claims", &b), 0);
	ca = a ? inv_get(a) : NULL;
	cb = b ? inv_get(b) : NULL;
	CHECK(ca && cb);
	if (ca && cb) {
		CHECK_EQ(inv_claim_get(cb, "snaplive", 3, who, sizeof(who)), -ENOENT);
		CHECK_EQ(inv_claim_take(ca, "snaplive", 3, "host-a 1", 600, NULL, 0), 0);
		CHECK_EQ(inv_claim_take(cb, "snaplive", 3, "host-b 2", 600, who, sizeof(who)),
			 -EBUSY);
		CHECK(!strcmp(who, "host-a 1"));
		/* the same owner again: one claim at a time all the same */
		CHECK_EQ(inv_claim_take(ca, "snaplive", 3, "host-a 1", 600, NULL, 0), -EBUSY);
		CHECK_EQ(inv_claim_get(cb, "snaplive", 3, who, sizeof(who)), 0);
		CHECK(!strcmp(who, "host-a 1"));
		/* another VM, another kind: free */
		CHECK_EQ(inv_claim_take(cb, "snaplive", 4, "host-b 2", 600, NULL, 0), 0);
		CHECK_EQ(inv_claim_take(cb, "other", 3, "host-b 2", 600, NULL, 0), 0);
		/* dropped by its owner only */
		CHECK_EQ(inv_claim_drop(cb, "snaplive", 3, "host-b 2"), -ENOENT);
		CHECK_EQ(inv_claim_get(cb, "snaplive", 3, NULL, 0), 0);
		CHECK_EQ(inv_claim_drop(ca, "snaplive", 3, "host-a 1"), 0);
		CHECK_EQ(inv_claim_get(cb, "snaplive", 3, NULL, 0), -ENOENT);
		CHECK_EQ(inv_claim_take(cb, "snaplive", 3, "host-b 2", 600, NULL, 0), 0);
		CHECK_EQ(inv_claim_drop(cb, "snaplive", 3, "host-b 2"), 0);
		CHECK_EQ(inv_claim_drop(cb, "snaplive", 4, "host-b 2"), 0);
		CHECK_EQ(inv_claim_drop(cb, "other", 3, "host-b 2"), 0);
		/* bad input */
		CHECK_EQ(inv_claim_take(ca, "snaplive", 3, "", 600, NULL, 0), -EINVAL);
		CHECK_EQ(inv_claim_take(ca, "snaplive", 3, "x", 0, NULL, 0), -EINVAL);
		CHECK_EQ(inv_claim_sweep(ca, ""), -EINVAL);
		/* a host's daemon starting again drops its host's claims, no other's */
		CHECK_EQ(inv_claim_take(ca, "snaplive", 30, "h1 pid 5 claim 1", 600, NULL, 0), 0);
		CHECK_EQ(inv_claim_take(ca, "snaplive", 31, "h1 pid 5 claim 2", 600, NULL, 0), 0);
		CHECK_EQ(inv_claim_take(cb, "snaplive", 32, "h2 pid 7 claim 1", 600, NULL, 0), 0);
		CHECK_EQ(inv_claim_take(cb, "snaplive", 33, "h10 pid 1 claim 1", 600, NULL, 0), 0);
		CHECK_EQ(inv_claim_sweep(cb, "h1 pid "), 2);
		CHECK_EQ(inv_claim_get(cb, "snaplive", 30, NULL, 0), -ENOENT);
		CHECK_EQ(inv_claim_get(cb, "snaplive", 31, NULL, 0), -ENOENT);
		CHECK_EQ(inv_claim_get(cb, "snaplive", 32, NULL, 0), 0);
		CHECK_EQ(inv_claim_get(cb, "snaplive", 33, NULL, 0), 0);
		CHECK_EQ(inv_claim_sweep(cb, "h1 pid "), 0);
	}
	if (ca)
		inv_put(ca);
	if (cb)
		inv_put(cb);
	inv_close(a);
	inv_close(b);
}

static void test_claims_sqlite(void)
{
	claims("sqlite");
}

static void test_claims_etcd(void)
{
	if (!etcd_up) {
		printf("SKIP %s: no etcd member could be started (%s)\n", check_case_name,
		       ETCDRIG_BIN);
		return;
	}
	claims("etcd");
}

/* A VM named name in state state on c: its id. */
static int64_t new_vm(struct dbc *c, const char *name, const char *state)
{
	struct inv_vm vm = { .cpus = 1, .memory_mib = 64, .kernel = "/k", .cpu_weight = 100 };
	int64_t id = 0;

	snprintf(vm.name, sizeof(vm.name), "%s", name);
	snprintf(vm.restart_policy, sizeof(vm.restart_policy), "never");
	snprintf(vm.undo_disks, sizeof(vm.undo_disks), "off");
	CHECK_EQ(inv_begin(c), 0);
	CHECK_EQ(inv_vm_create(c, &vm, &id), 0);
	CHECK_EQ(inv_vm_set_state(c, id, state, 0, NULL), 0);
	CHECK_EQ(inv_commit(c), 0);
	return id;
}

/* (2) Servers a and b on the inventory of backend. */
static void two_servers(const char *backend)
{
	struct server a = { .data_dir = dir }, b = { .data_dir = dir };
	struct migrate_req q = { .to = "c", .who = "tester" };
	struct dbc *cb = NULL;
	char err[600] = "";
	int64_t up, off, task = 0;

	CHECK_EQ(store(backend, "two", &a.db), 0);
	CHECK_EQ(store(backend, "two", &b.db), 0);
	CHECK_EQ(events_create(&b.ev), 0);
	cb = b.db ? inv_get(b.db) : NULL;
	CHECK(a.db && cb);
	if (!a.db || !cb)
		goto out;
	up = new_vm(cb, "up", INV_VM_RUNNING);
	off = new_vm(cb, "off", INV_VM_STOPPED);

	/* a live snapshot of "up" in its window on a */
	CHECK_EQ(snaplive_claim(&a, up), 0);
	CHECK(snaplive_running(&b, up));
	/* b: another live snapshot, refused before anything is written */
	CHECK_EQ(snapshot_take(&b, cb, up, "up", "s2", NULL, 0, "tester", NULL, err,
			       sizeof(err)),
		 -EBUSY);
	CHECK(strstr(err, "live snapshot") != NULL);
	/* b: a migration (unclaimed, it would go on to the cluster b has not) */
	q.id = up;
	snprintf(q.name, sizeof(q.name), "up");
	if (snaplive_running(&b, up))
		CHECK_EQ(migrate_task_start(&b, &q, &task), -EBUSY);
	CHECK_EQ(task, 0);
	/* once a releases it, b claims it */
	snaplive_release(&a, up);
	CHECK(!snaplive_running(&b, up));
	CHECK_EQ(snaplive_claim(&b, up), 0);
	CHECK_EQ(snaplive_claim(&a, up), -EBUSY);
	snaplive_release(&b, up);

	/* a VM off: what needs it off (delete, revert, clone) waits while a claims it */
	CHECK_EQ(snapshot_check_off(&b, cb, off, "off", err, sizeof(err)), 0);
	CHECK_EQ(snaplive_claim(&a, off), 0);
	CHECK_EQ(snapshot_check_off(&b, cb, off, "off", err, sizeof(err)), -EBUSY);
	CHECK(strstr(err, "live snapshot") != NULL);
	CHECK_EQ(snapshot_delete(&b, cb, off, "off", "s1", "tester", &task, err, sizeof(err)),
		 -EBUSY);
	snaplive_release(&a, off);
	CHECK_EQ(snapshot_check_off(&b, cb, off, "off", err, sizeof(err)), 0);
out:
	if (cb)
		inv_put(cb);
	inv_close(a.db);
	inv_close(b.db);
	events_destroy(b.ev);
}

static void test_two_servers_sqlite(void)
{
	two_servers("sqlite");
}

static void test_two_servers_etcd(void)
{
	if (!etcd_up) {
		printf("SKIP %s: no etcd member could be started (%s)\n", check_case_name,
		       ETCDRIG_BIN);
		return;
	}
	two_servers("etcd");
}

/* (3) A server killed while it held claims on VMs 20 (600 s) and 21 (2 s). */
static void killed(const char *backend)
{
	struct server b = { .data_dir = dir };
	int p[2], st = 0, rc = -1;
	char ok = 0;
	pid_t pid;

	CHECK_EQ(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		struct server a = { .data_dir = dir, .snaplive_claim_s = 600 };

		close(p[0]);
		if (store(backend, "killed", &a.db) || snaplive_claim(&a, 20))
			_exit(1);
		a.snaplive_claim_s = 2;
		if (snaplive_claim(&a, 21))
			_exit(1);
		if (write(p[1], "k", 1) != 1)
			_exit(1);
		for (;;)
			pause(); /* killed holding both */
	}
	close(p[1]);
	CHECK(pid > 0);
	CHECK_EQ(read(p[0], &ok, 1), 1);
	close(p[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	CHECK_EQ(ok, 'k');
	CHECK_EQ(store(backend, "killed", &b.db), 0);
	if (ok != 'k' || !b.db) {
		inv_close(b.db);
		return;
	}
	b.snaplive_claim_s = 600;
	/* the short claim ends by itself (its 2 s, and etcd's lease granularity: well
	 * within a minute), while the long one holds */
	for (int i = 0; i < 600 && (rc = snaplive_claim(&b, 21)) == -EBUSY; i++)
		usleep(100000);
	CHECK_EQ(rc, 0);
	CHECK_EQ(snaplive_claim(&b, 20), -EBUSY);
	CHECK(snaplive_running(&b, 20));
	if (!rc)
		snaplive_release(&b, 21);
	CHECK(!snaplive_running(&b, 21));
	/* a daemon of this host starting again drops what the killed one left */
	CHECK_EQ(snaplive_sweep(&b), 1);
	CHECK(!snaplive_running(&b, 20));
	CHECK_EQ(snaplive_claim(&b, 20), 0);
	snaplive_release(&b, 20);
	inv_close(b.db);
}

static void test_killed_sqlite(void)
{
	killed("sqlite");
}

static void test_killed_etcd(void)
{
	if (!etcd_up) {
		printf("SKIP %s: no etcd member could be started (%s)\n", check_case_name,
		       ETCDRIG_BIN);
		return;
	}
	killed("etcd");
}

int main(void)
{
	char cmd[128];

	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	etcd_up = etcdrig_start(&rig, 1) == 0;
	RUN(test_claims_sqlite);
	RUN(test_claims_etcd);
	RUN(test_two_servers_sqlite);
	RUN(test_two_servers_etcd);
	RUN(test_killed_sqlite);
	RUN(test_killed_etcd);
	if (etcd_up)
		etcdrig_stop(&rig);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return check_done();
}
