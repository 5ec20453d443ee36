/* A live migration's hand-over (cluster_vm_move, src/server/cluster_migrate.c) on a real
 * local etcd (etcdrig.h): the VM's ownership key moves from the source to the destination in
 * one Txn, bound to the destination's lease, with its placement, only while the key is the
 * source's and the destination is alive; refused otherwise with nothing written. Two
 * registered hosts in one process. SKIPs when etcd is not installed. */
#include "check.h"
#include "etcdrig.h"
#include "server/cluster.h"
#include "server/etcd.h"

#include <curl/curl.h>

static struct etcdrig rig;
static struct etcd *cli;

static int64_t free_mib(void *arg)
{
	(void)arg;
	return 1024;
}

static int fence(void *arg, const char *why)
{
	(void)arg;
	(void)why;
	return 0;
}

static struct cluster *host(const char *name)
{
	struct cluster_config cfg = {
		.endpoints = rig.endpoints, .name = name, .api_url = "http://127.0.0.1:9",
		.ttl = 10, .cpus = 1, .memory_mib = 1024, .free_mib = free_mib, .fence = fence,
		.inventory = "/vsrv-unit-migrate/",
	};
	struct cluster *cl = NULL;

	CHECK_EQ(cluster_start(&cfg, &cl), 0);
	return cl;
}

/* The key's value's "host" and its lease. */
static void key_of(const char *key, char *host, size_t n, int64_t *lease)
{
	struct etcd_kv kv = { 0 };
	json_t *v;

	*host = '\0';
	*lease = -1;
	if (etcd_get(cli, key, &kv))
		return;
	v = json_loadb(kv.value, kv.value_len, 0, NULL);
	snprintf(host, n, "%s", json_string_value(json_object_get(v, "host")) ?: "");
	*lease = kv.lease;
	json_decref(v);
	etcd_kv_clear(&kv);
}

static void test_move(void)
{
	struct cluster *a = host("ma"), *b = host("mb"), *c = host("mc");
	char h[64], owner[64];
	int64_t lease, lease_a, lease_b, rev0, rev1;

	if (!a || !b || !c)
		return;
	key_of("/vsrv/hosts/ma/alive", h, sizeof(h), &lease_a);
	key_of("/vsrv/hosts/mb/alive", h, sizeof(h), &lease_b);
	CHECK(lease_a > 0 && lease_b > 0 && lease_a != lease_b);
	CHECK_EQ(cluster_vm_claim(a, "vm1", NULL, 0), 0);
	CHECK_EQ(cluster_vm_place(a, "vm1"), 0);
	/* refusals: nothing written */
	CHECK_EQ(etcd_revision(cli, &rev0), 0);
	CHECK_EQ(cluster_vm_move(b, "vm1", "mc"), -EADDRINUSE);     /* not b's */
	CHECK_EQ(cluster_vm_move(a, "vm1", "nosuch"), -EHOSTDOWN);  /* no such host alive */
	CHECK_EQ(cluster_vm_move(a, "vm2", "mb"), -ENOLINK);        /* no key at all */
	CHECK_EQ(cluster_vm_move(a, "a/b", "mb"), -EINVAL);
	cluster_stop(c);                                            /* info stays, alive goes */
	CHECK_EQ(cluster_vm_move(a, "vm1", "mc"), -EHOSTDOWN);
	CHECK_EQ(etcd_revision(cli, &rev1), 0);
	/* (c's stop revoked its lease: one revision, its alive key's delete) */
	CHECK(rev1 - rev0 <= 1);
	key_of("/vsrv/vms/vm1/owner", h, sizeof(h), &lease);
	CHECK(!strcmp(h, "ma") && lease == lease_a);
	/* the move: the key is b's, under b's lease; the placement says b, meant to run */
	CHECK_EQ(cluster_vm_move(a, "vm1", "mb"), 0);
	key_of("/vsrv/vms/vm1/owner", h, sizeof(h), &lease);
	CHECK(!strcmp(h, "mb") && lease == lease_b);
	CHECK_EQ(cluster_vm_owner(a, "vm1", owner, sizeof(owner)), 0);
	CHECK(!strcmp(owner, "mb"));
	key_of("/vsrv/vms/vm1/placement", h, sizeof(h), &lease);
	CHECK(!strcmp(h, "mb") && lease == 0);
	/* a cannot take it back nor move it again; b's claim of it stands */
	CHECK_EQ(cluster_vm_claim(a, "vm1", owner, sizeof(owner)), -EADDRINUSE);
	CHECK(!strcmp(owner, "mb"));
	CHECK_EQ(cluster_vm_move(a, "vm1", "ma"), -EADDRINUSE);
	CHECK_EQ(cluster_vm_claim(b, "vm1", NULL, 0), 0);
	/* a's release of it (its run there ended) leaves b's key alone */
	CHECK_EQ(cluster_vm_release(a, "vm1"), 0);
	CHECK_EQ(cluster_vm_owner(a, "vm1", owner, sizeof(owner)), 0);
	CHECK(!strcmp(owner, "mb"));
	/* bound to b's lease: it goes with b */
	cluster_stop(b);
	CHECK_EQ(cluster_vm_owner(a, "vm1", owner, sizeof(owner)), -ENOENT);
	cluster_stop(a);
}

int main(void)
{
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = etcdrig_start_main(&rig, 1, "migrate-handover");
	if (rc)
		return rc - 1;
	if (etcd_open(rig.endpoints, 2000, &cli)) {
		printf("FAIL etcd-open: %s\n", etcd_errmsg());
		etcdrig_stop(&rig);
		return 1;
	}
	RUN(test_move);
	etcd_close(cli);
	etcdrig_stop(&rig);
	return check_done();
}
