/* The placement rule's inputs from this server (placement.h). */
#include "server/placement.h"
#include "server/hostkvm.h"
#include "server/inv.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct need_walk {
	struct cluster_need *need;
	bool in_place;
	int rc;
};

static int need_nic(const struct inv_vm_nic *nic, void *arg)
{
	struct need_walk *w = arg;
	struct cluster_need *n = w->need;

	if (strcmp(nic->kind, "bridged") || !nic->bridge || !*nic->bridge)
		return 0;
	for (size_t i = 0; i < n->nbridges; i++)
		if (!strcmp(n->bridges[i], nic->bridge))
			return 0;
	if (n->nbridges == CLUSTER_NEED_MAX)
		return w->rc = -E2BIG;
	snprintf(n->bridges[n->nbridges++], sizeof(n->bridges[0]), "%s", nic->bridge);
	return 0;
}

static int need_disk(const struct inv_vm_disk *d, void *arg)
{
	struct need_walk *w = arg;
	struct cluster_need *n = w->need;

	if (!w->in_place && !d->readonly)
		return 0;
	for (size_t i = 0; i < n->ndisks; i++)
		if (n->disks[i] == d->disk_id)
			return 0;
	if (n->ndisks == CLUSTER_NEED_MAX)
		return w->rc = -E2BIG;
	n->disks[n->ndisks] = d->disk_id;
	snprintf(n->disk_names[n->ndisks++], sizeof(n->disk_names[0]), "%s", d->disk);
	return 0;
}

int placement_need(struct dbc *c, int64_t id, bool in_place, struct cluster_need *need)
{
	struct need_walk w = { .need = need, .in_place = in_place };
	struct inv_vm v;
	int rc;

	memset(need, 0, sizeof(*need));
	rc = inv_vm_get(c, id, &v);
	if (rc)
		return rc;
	need->mib = inv_vm_reserved_mib(&v);
	need->cpus = v.cpus;
	inv_vm_clear(&v);
	rc = inv_vm_nics(c, id, need_nic, &w);
	if (!rc)
		rc = inv_vm_disks(c, id, need_disk, &w);
	return w.rc ? w.rc : rc < 0 ? rc : 0;
}

/* --- this host's facts ------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The Linux bridges of this host (/sys/class/net/NAME/bridge), sorted. */
static json_t *bridges(void)
{
	DIR *d = opendir("/sys/class/net");
	struct dirent *e;
	char *names[256], p[300];
	size_t n = 0, i;
	struct stat st;
	json_t *a = json_array();

	while (d && a && n < 256 && (e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) > 15)
			continue;
		snprintf(p, sizeof(p), "/sys/class/net/%s/bridge", e->d_name);
		if (!stat(p, &st) && (names[n] = strdup(e->d_name)))
			n++;
	}
	if (d)
		closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (i = 0; i < n; i++) {
		if (a)
			json_array_append_new(a, json_string(names[i]));
		free(names[i]);
	}
	return a;
}

/* The disks' ids this host cannot reach, and the inventory's generation they were found at:
 * looked at again only when the inventory changed (a disk added, a layer made...). */
static pthread_mutex_t miss_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t miss_gen;
static json_t *miss_val;

/* the image is not there: its id (decimal text) -> true in the object arg */
static void mark(json_t *ids, int64_t id, const char *path)
{
	char k[24];

	if (!id || !(access(path, F_OK) && errno == ENOENT))
		return;
	snprintf(k, sizeof(k), "%lld", (long long)id);
	json_object_set_new(ids, k, json_true());
}

static int miss_disk(const struct inv_disk *d, void *arg)
{
	mark(arg, d->id, d->path);
	return 0;
}

/* a VM's top layer over a disk (its snapshots): the VM opens it, not the disk's image */
static int miss_layer(const struct inv_layer *l, void *arg)
{
	if (!strcmp(l->kind, "top"))
		mark(arg, l->disk_id, l->path);
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static json_t *missing_disks(struct server *srv, int64_t rev)
{
	uint64_t gen = rev > 0 ? (uint64_t)rev : inv_generation(srv->db);
	json_t *ids = json_object(), *out = NULL, *v;
	struct dbc *c = NULL;
	int64_t *sorted = NULL;
	const char *k;
	size_t n = 0;
	int rc = -ENOMEM;

	pthread_mutex_lock(&miss_lock);
	if (miss_val && miss_gen == gen)
		goto cached;
	pthread_mutex_unlock(&miss_lock);
	if (ids && (c = inv_get(srv->db)))
		rc = inv_disk_each(c, miss_disk, ids);
	if (!rc)
		rc = inv_layer_each(c, miss_layer, ids);
	if (c)
		inv_put(c);
	if (!rc && json_object_size(ids) &&
	    !(sorted = calloc(json_object_size(ids), sizeof(*sorted))))
		rc = -ENOMEM;
	if (!rc) {
		json_object_foreach(ids, k, v)
			sorted[n++] = strtoll(k, NULL, 10);
		if (n)
			qsort(sorted, n, sizeof(*sorted), cmp_id);
		out = json_array();
		for (size_t i = 0; out && i < n; i++)
			json_array_append_new(out, json_integer(sorted[i]));
	}
	free(sorted);
	pthread_mutex_lock(&miss_lock);
	if (out) {
		json_decref(miss_val);
		miss_val = json_copy(out);
		miss_gen = gen;
		pthread_mutex_unlock(&miss_lock);
		json_decref(ids);
		return out;
	}
	/* the inventory did not answer: the last answer stands */
	vsrv_log("cluster: cannot read the inventory's disks to say which are not here");
cached:
	out = miss_val ? json_copy(miss_val) : NULL;
	pthread_mutex_unlock(&miss_lock);
	json_decref(ids);
	return out;
}

json_t *placement_facts(void *arg, int64_t rev)
{
	struct server *srv = arg;
	/* kvm: whether a VM can run here at all (checked again at each call: T/3) */
	json_t *o = json_pack("{s:i,s:o,s:b}", "cpus", (int)srv->host_cpus, "bridges", bridges(),
			      "kvm", !hostkvm_check(NULL, 0));

	if (o && !strcmp(inv_backend(srv->db), "etcd")) {
		json_t *m = missing_disks(srv, rev);

		if (m)
			json_object_set_new(o, "missing_disks", m);
	}
	return o;
}
