/* The balance plan (cluster_balance_plan, src/server/cluster_place.c; docs/cluster.md
 * "Balance"): moves from the least free hosts to the most free one while a move narrows the
 * gap, never onto a draining host, never a VM that cannot move, only where the placement
 * rule accepts the VM; the same plan from the same input. */
#include "check.h"
#include "server/cluster.h"

#include <errno.h>
#include <string.h>

static void host(struct cluster_fo_host *h, const char *name, long long free_mib, int cpus)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->free_mib = free_mib;
	h->cpus = cpus;
}

static void vm(struct cluster_bal_vm *v, const char *name, size_t on, long long mib, int cpus)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->host = on;
	v->need.mib = mib;
	v->need.cpus = cpus;
	v->movable = true;
}

/* the move i is vm from -> to (by names) */
static int is(const struct cluster_bal_move *m, const struct cluster_fo_host *h,
	      const struct cluster_bal_vm *v, const char *name, const char *from, const char *to)
{
	return !strcmp(v[m->vm].name, name) && !strcmp(h[m->from].name, from) &&
	       !strcmp(h[m->to].name, to);
}

/* the layout of tests/server/balance.py: a holds 2048 MiB of VMs, one of them 4 vCPUs */
static void test_most_loaded_to_least(void)
{
	struct cluster_fo_host h[3];
	struct cluster_bal_vm v[4];
	struct cluster_bal_move m[16];
	size_t n;

	host(&h[0], "a", 2048, 8);
	host(&h[1], "b", 8192, 2);
	host(&h[2], "c", 10240, 8);
	vm(&v[0], "v1", 0, 1024, 1);
	vm(&v[1], "v2", 0, 512, 1);
	vm(&v[2], "v3", 0, 256, 4);
	vm(&v[3], "vu", 0, 256, 1);
	v[3].movable = false;
	CHECK_EQ(cluster_balance_plan(h, 3, v, 4, m, 16, &n), 0);
	CHECK_EQ(n, 3);
	CHECK(is(&m[0], h, v, "v1", "a", "c"));
	CHECK(is(&m[1], h, v, "v2", "a", "c"));
	CHECK(is(&m[2], h, v, "v3", "a", "c"));
	CHECK_EQ(h[0].free_mib, 3840);
	CHECK_EQ(h[1].free_mib, 8192);
	CHECK_EQ(h[2].free_mib, 8448);
}

/* c without KVM (its alive key says "kvm": false): never a destination, though it has the
 * most free memory; b takes what fits it */
static void test_no_kvm_not_a_destination(void)
{
	struct cluster_fo_host h[3];
	struct cluster_bal_vm v[2];
	struct cluster_bal_move m[16];
	size_t n;

	host(&h[0], "a", 2048, 8);
	host(&h[1], "b", 8192, 8);
	host(&h[2], "c", 10240, 8);
	h[2].no_kvm = true;
	vm(&v[0], "v1", 0, 1024, 1);
	vm(&v[1], "v2", 0, 512, 1);
	CHECK_EQ(cluster_balance_plan(h, 3, v, 2, m, 16, &n), 0);
	CHECK(n >= 1);
	for (size_t i = 0; i < n; i++)
		CHECK(strcmp(h[m[i].to].name, "c"));
	CHECK(is(&m[0], h, v, "v1", "a", "b"));
}

/* c draining: never a destination; b has 2 CPUs: v3 (4 vCPUs) stays */
static void test_draining_and_rule(void)
{
	struct cluster_fo_host h[3];
	struct cluster_bal_vm v[4];
	struct cluster_bal_move m[16];
	size_t n;

	host(&h[0], "a", 2048, 8);
	host(&h[1], "b", 8192, 2);
	host(&h[2], "c", 10240, 8);
	h[2].draining = true;
	vm(&v[0], "v1", 0, 1024, 1);
	vm(&v[1], "v2", 0, 512, 1);
	vm(&v[2], "v3", 0, 256, 4);
	vm(&v[3], "vu", 0, 256, 1);
	v[3].movable = false;
	CHECK_EQ(cluster_balance_plan(h, 3, v, 4, m, 16, &n), 0);
	CHECK_EQ(n, 2);
	CHECK(is(&m[0], h, v, "v1", "a", "b"));
	CHECK(is(&m[1], h, v, "v2", "a", "b"));
	CHECK_EQ(h[0].free_mib, 3584);
	CHECK_EQ(h[1].free_mib, 6656);
	CHECK_EQ(h[2].free_mib, 10240);
}

/* a VM as big as the gap or bigger does not move (it would not narrow it); the one that
 * leaves the two closest does; an even cluster has nothing to do */
static void test_narrows_only(void)
{
	struct cluster_fo_host h[2];
	struct cluster_bal_vm v[3];
	struct cluster_bal_move m[16];
	size_t n;

	host(&h[0], "a", 1000, 0);
	host(&h[1], "b", 2000, 0);
	vm(&v[0], "big", 0, 1000, 1);
	vm(&v[1], "mid", 0, 400, 1);
	vm(&v[2], "small", 0, 100, 1);
	CHECK_EQ(cluster_balance_plan(h, 2, v, 3, m, 16, &n), 0);
	/* mid: |1000 - 800| = 200; then a 1400, b 1600: small (|200 - 200| = 0) */
	CHECK_EQ(n, 2);
	CHECK(is(&m[0], h, v, "mid", "a", "b"));
	CHECK(is(&m[1], h, v, "small", "a", "b"));
	CHECK_EQ(h[0].free_mib, 1500);
	CHECK_EQ(h[1].free_mib, 1500);
	CHECK_EQ(cluster_balance_plan(h, 2, v, 0, m, 16, &n), 0);
	CHECK_EQ(n, 0);
}

/* max bounds the plan; a VM on no host is refused */
static void test_bounds(void)
{
	struct cluster_fo_host h[2];
	struct cluster_bal_vm v[4];
	struct cluster_bal_move m[1];
	size_t n;

	host(&h[0], "a", 0, 0);
	host(&h[1], "b", 4000, 0);
	for (int i = 0; i < 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "v%d", i);
		vm(&v[i], name, 0, 100, 1);
	}
	CHECK_EQ(cluster_balance_plan(h, 2, v, 4, m, 1, &n), 0);
	CHECK_EQ(n, 1);
	v[2].host = 2;
	CHECK_EQ(cluster_balance_plan(h, 2, v, 4, m, 1, &n), -EINVAL);
	CHECK_EQ(n, 0);
}

/* ties: by name, whatever the input order */
static void test_same_plan_any_order(void)
{
	struct cluster_fo_host x[3], y[3];
	struct cluster_bal_vm vx[2], vy[2];
	struct cluster_bal_move mx[4], my[4];
	size_t nx, ny;

	host(&x[0], "a", 1000, 0);
	host(&x[1], "b", 3000, 0);
	host(&x[2], "c", 3000, 0);
	y[0] = x[2];
	y[1] = x[0];
	y[2] = x[1];
	vm(&vx[0], "p", 0, 500, 1);
	vm(&vx[1], "q", 0, 500, 1);
	vm(&vy[0], "q", 1, 500, 1);
	vm(&vy[1], "p", 1, 500, 1);
	CHECK_EQ(cluster_balance_plan(x, 3, vx, 2, mx, 4, &nx), 0);
	CHECK_EQ(cluster_balance_plan(y, 3, vy, 2, my, 4, &ny), 0);
	CHECK_EQ(nx, 2);
	CHECK_EQ(ny, 2);
	CHECK(is(&mx[0], x, vx, "p", "a", "b") && is(&my[0], y, vy, "p", "a", "b"));
	CHECK(is(&mx[1], x, vx, "q", "a", "c") && is(&my[1], y, vy, "q", "a", "c"));
}

int main(void)
{
	RUN(test_most_loaded_to_least);
	RUN(test_draining_and_rule);
	RUN(test_no_kvm_not_a_destination);
	RUN(test_narrows_only);
	RUN(test_bounds);
	RUN(test_same_plan_any_order);
	return check_done();
}
