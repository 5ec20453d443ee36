/* The placement rule (cluster_failover_order, src/server/cluster_place.c), the choice of a
 * start without a host, failover and drain: every host computes the same order from the
 * same alive keys, so only the first choice acts. Memory, CPUs, bridges and disks. */
#include "check.h"
#include "server/cluster.h"

#include <string.h>

static void set(struct cluster_fo_host *h, const char *name, long long free_mib)
{
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->free_mib = free_mib;
	h->draining = false;
	h->no_kvm = false;
	h->cpus = 0;
	h->bridges = h->missing = NULL;
}

/* a need of mib MiB only */
static struct cluster_need mem(long long mib)
{
	struct cluster_need n = { .mib = mib };

	return n;
}

static size_t order(struct cluster_fo_host *h, size_t n, long long mib)
{
	struct cluster_need nd = mem(mib);

	return cluster_failover_order(h, n, &nd, NULL, 0);
}

static void test_most_free_first(void)
{
	struct cluster_fo_host h[3];

	set(&h[0], "a", 512);
	set(&h[1], "b", 2048);
	set(&h[2], "c", 1024);
	CHECK_EQ(order(h, 3, 256), 3);
	CHECK(!strcmp(h[0].name, "b") && !strcmp(h[1].name, "c") && !strcmp(h[2].name, "a"));
}

static void test_ties_by_name(void)
{
	struct cluster_fo_host h[3];

	set(&h[0], "zed", 1024);
	set(&h[1], "alpha", 1024);
	set(&h[2], "mid", 1024);
	CHECK_EQ(order(h, 3, 1024), 3);
	CHECK(!strcmp(h[0].name, "alpha") && !strcmp(h[1].name, "mid") && !strcmp(h[2].name, "zed"));
}

static void test_only_those_that_fit(void)
{
	struct cluster_fo_host h[3];

	set(&h[0], "a", 512);
	set(&h[1], "b", 2048);
	set(&h[2], "c", 1024);
	/* c's 1024 MiB do not hold 1500: b alone */
	CHECK_EQ(order(h, 3, 1500), 1);
	CHECK(!strcmp(h[0].name, "b"));
	/* none holds 4096 */
	CHECK_EQ(order(h, 3, 4096), 0);
	/* no host at all */
	CHECK_EQ(order(h, 0, 1), 0);
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
	CHECK_EQ(order(x, 4, 150), 3);
	CHECK_EQ(order(y, 4, 150), 3);
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
	CHECK_EQ(order(h, 3, 256), 2);
	CHECK(!strcmp(h[0].name, "c") && !strcmp(h[1].name, "a") && !strcmp(h[2].name, "b"));
	CHECK_EQ(order(h, 3, 2048), 0);
	/* (the hosts that do not fit come by name) */
	CHECK(!strcmp(h[0].name, "a") && !strcmp(h[1].name, "b") && !strcmp(h[2].name, "c"));
	h[0].draining = h[2].draining = true;
	CHECK_EQ(order(h, 3, 1), 0);
}

/* a host whose alive key says "kvm": false never fits, whatever its free memory: last, with
 * its reason; one that does not say (an older vsrv) is not checked */
static void test_no_kvm_skipped(void)
{
	struct cluster_fo_host h[3];
	struct cluster_need nd = mem(256);
	char why[256];

	set(&h[0], "a", 512);
	set(&h[1], "b", 8192);
	set(&h[2], "c", 1024);
	h[1].no_kvm = true;
	CHECK_EQ(order(h, 3, 256), 2);
	CHECK(!strcmp(h[0].name, "c") && !strcmp(h[1].name, "a") && !strcmp(h[2].name, "b"));
	CHECK_EQ(cluster_failover_order(h, 3, &nd, why, sizeof(why)), 2);
	CHECK(!strcmp(why, "b: no KVM (no usable /dev/kvm: its GET /api/v1/host says why)"));
	h[0].no_kvm = h[1].no_kvm = true;
	CHECK_EQ(order(h, 3, 4096), 0);
}

/* CPUs: a host with fewer online CPUs than the VM's vCPUs is refused; 0 (an older host that
 * does not say) is not checked */
static void test_cpus(void)
{
	struct cluster_fo_host h[3];
	struct cluster_need nd = mem(256);
	char why[512];

	set(&h[0], "a", 512);
	set(&h[1], "b", 4096);
	set(&h[2], "c", 1024);
	h[0].cpus = 8;
	h[1].cpus = 2;
	nd.cpus = 4;
	CHECK_EQ(cluster_failover_order(h, 3, &nd, why, sizeof(why)), 2);
	CHECK(!strcmp(h[0].name, "c") && !strcmp(h[1].name, "a") && !strcmp(h[2].name, "b"));
	CHECK(!strcmp(why, "b: 2 CPUs, the VM has 4"));
	nd.cpus = 2;
	CHECK_EQ(cluster_failover_order(h, 3, &nd, why, sizeof(why)), 3);
	CHECK(!strcmp(h[0].name, "b") && !strcmp(why, ""));
}

/* bridges: every bridge of the VM's bridged NICs must be on the host; a host that does not
 * say (NULL) is not checked */
static void test_bridges(void)
{
	struct cluster_fo_host h[3];
	struct cluster_need nd = mem(64);
	char why[512];

	set(&h[0], "a", 1024);
	set(&h[1], "b", 4096);
	set(&h[2], "c", 2048);
	h[0].bridges = json_pack("[s,s]", "br0", "br1");
	h[1].bridges = json_pack("[s]", "br0");
	h[2].bridges = json_array();
	nd.nbridges = 2;
	snprintf(nd.bridges[0], sizeof(nd.bridges[0]), "br0");
	snprintf(nd.bridges[1], sizeof(nd.bridges[1]), "br1");
	CHECK_EQ(cluster_failover_order(h, 3, &nd, why, sizeof(why)), 1);
	CHECK(!strcmp(h[0].name, "a"));
	CHECK(!strcmp(why, "b: no bridge br1; c: no bridge br0, no bridge br1"));
	cluster_fo_hosts_clear(h, 3);
	CHECK(!h[0].bridges && !h[1].bridges && !h[2].bridges);
	/* not said: not checked */
	CHECK_EQ(cluster_failover_order(h, 3, &nd, why, sizeof(why)), 3);
	CHECK(!strcmp(h[0].name, "b"));
}

/* disks: a host that lists one of the VM's disks as missing is refused */
static void test_disks(void)
{
	struct cluster_fo_host h[2];
	struct cluster_need nd = mem(64);
	char why[512];

	set(&h[0], "a", 1024);
	set(&h[1], "b", 4096);
	h[1].missing = json_pack("[i,i]", 3, 7);
	nd.ndisks = 2;
	nd.disks[0] = 5;
	nd.disks[1] = 7;
	snprintf(nd.disk_names[0], sizeof(nd.disk_names[0]), "d5");
	snprintf(nd.disk_names[1], sizeof(nd.disk_names[1]), "data");
	CHECK_EQ(cluster_failover_order(h, 2, &nd, why, sizeof(why)), 1);
	CHECK(!strcmp(h[0].name, "a"));
	CHECK(!strcmp(why, "b: disk data not there"));
	nd.disks[1] = 6;
	CHECK_EQ(cluster_failover_order(h, 2, &nd, why, sizeof(why)), 2);
	CHECK(!strcmp(h[0].name, "b"));
	cluster_fo_hosts_clear(h, 2);
}

/* every reason of every host, by name, when none fits */
static void test_why_every_host(void)
{
	struct cluster_fo_host h[3];
	struct cluster_need nd = mem(2048);
	char why[512];

	set(&h[0], "c", 4096);
	set(&h[1], "a", 1024);
	set(&h[2], "b", 8192);
	h[0].bridges = json_array();
	h[1].cpus = 1;
	h[2].draining = true;
	nd.cpus = 2;
	nd.nbridges = 1;
	snprintf(nd.bridges[0], sizeof(nd.bridges[0]), "br1");
	CHECK_EQ(cluster_failover_order(h, 3, &nd, why, sizeof(why)), 0);
	CHECK(!strcmp(why, "a: 1024 MiB free, the VM needs 2048, 1 CPU, the VM has 2; "
		      "b: draining; c: no bridge br1"));
	CHECK(!cluster_host_fits(&h[2], &nd, why, sizeof(why)) && !strcmp(why, "no bridge br1"));
	CHECK_EQ(cluster_failover_order(h, 0, &nd, why, sizeof(why)), 0);
	CHECK(!strcmp(why, "no host is alive"));
	/* a short buffer is cut, never overrun */
	CHECK_EQ(cluster_failover_order(h, 3, &nd, why, 12), 0);
	CHECK_EQ(strlen(why), 11);
	cluster_fo_hosts_clear(h, 3);
}

int main(void)
{
	RUN(test_most_free_first);
	RUN(test_ties_by_name);
	RUN(test_only_those_that_fit);
	RUN(test_same_order_from_any_input_order);
	RUN(test_draining_skipped);
	RUN(test_no_kvm_skipped);
	RUN(test_cpus);
	RUN(test_bridges);
	RUN(test_disks);
	RUN(test_why_every_host);
	return check_done();
}
