/* Failover's choice (cluster_failover_order, src/server/cluster_failover.c): every host
 * computes the same order from the same alive keys, so only the first choice acts. */
#include "check.h"
#include "server/cluster.h"

#include <string.h>

static void set(struct cluster_fo_host *h, const char *name, long long free_mib)
{
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->free_mib = free_mib;
	h->draining = false;
}

static void test_most_free_first(void)
{
	struct cluster_fo_host h[3];

	set(&h[0], "a", 512);
	set(&h[1], "b", 2048);
	set(&h[2], "c", 1024);
	CHECK_EQ(cluster_failover_order(h, 3, 256), 3);
	CHECK(!strcmp(h[0].name, "b") && !strcmp(h[1].name, "c") && !strcmp(h[2].name, "a"));
}

static void test_ties_by_name(void)
{
	struct cluster_fo_host h[3];

	set(&h[0], "zed", 1024);
	set(&h[1], "alpha", 1024);
	set(&h[2], "mid", 1024);
	CHECK_EQ(cluster_failover_order(h, 3, 1024), 3);
	CHECK(!strcmp(h[0].name, "alpha") && !strcmp(h[1].name, "mid") && !strcmp(h[2].name, "zed"));
}

static void test_only_those_that_fit(void)
{
	struct cluster_fo_host h[3];

	set(&h[0], "a", 512);
	set(&h[1], "b", 2048);
	set(&h[2], "c", 1024);
	/* c's 1024 MiB do not hold 1500: b alone */
	CHECK_EQ(cluster_failover_order(h, 3, 1500), 1);
	CHECK(!strcmp(h[0].name, "b"));
	/* none holds 4096 */
	CHECK_EQ(cluster_failover_order(h, 3, 4096), 0);
	/* no host at all */
	CHECK_EQ(cluster_failover_order(h, 0, 1), 0);
}

static void test_same_order_from_any_input_order(void)
{
	struct cluster_fo_host x[4], y[4];

	set(&x[0], "d", 100);
	set(&x[1], "c", 300);
	set(&x[2], "b", 300);
	set(&x[3], "a", 200);
	y[0] = x[3];
	y[1] = x[1];
	y[2] = x[0];
	y[3] = x[2];
	CHECK_EQ(cluster_failover_order(x, 4, 150), 3);
	CHECK_EQ(cluster_failover_order(y, 4, 150), 3);
	for (int i = 0; i < 4; i++)
		CHECK(!strcmp(x[i].name, y[i].name));
	CHECK(!strcmp(x[0].name, "b") && !strcmp(x[1].name, "c") && !strcmp(x[2].name, "a"));
}

/* a draining host (docs/cluster.md "Drain") never fits, whatever its free memory: last */
static void test_draining_skipped(void)
{
	struct cluster_fo_host h[3];

	set(&h[0], "a", 512);
	set(&h[1], "b", 4096);
	set(&h[2], "c", 1024);
	h[1].draining = true;
	CHECK_EQ(cluster_failover_order(h, 3, 256), 2);
	CHECK(!strcmp(h[0].name, "c") && !strcmp(h[1].name, "a") && !strcmp(h[2].name, "b"));
	CHECK_EQ(cluster_failover_order(h, 3, 2048), 0);
	h[0].draining = h[1].draining = true;
	CHECK_EQ(cluster_failover_order(h, 3, 1), 0);
}

int main(void)
{
	RUN(test_most_free_first);
	RUN(test_ties_by_name);
	RUN(test_only_those_that_fit);
	RUN(test_same_order_from_any_input_order);
	RUN(test_draining_skipped);
	return check_done();
}
