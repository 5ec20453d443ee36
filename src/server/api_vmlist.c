/* GET /api/v1/vms: the VM list, paged, filtered by the caller's permissions, cached. */
#include "server/api.h"
#include "server/auth.h"
#include "server/cluster.h"
#include "server/etcd.h"
#include "server/inv.h"
#include "server/sup.h"
#include "server/sup_exit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The answers of GET /api/v1/vms, cached until the next committed write (any write bumps
 * the inventory's generation). Keyed by who may see what, limit and offset. */
#define LIST_CACHE 8
static struct {
	pthread_mutex_t lock;
	struct { uint64_t gen; char key[96]; char *body; size_t len; } e[LIST_CACHE];
	unsigned next;
} list_cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static bool list_cache_get(struct req *r, uint64_t gen, const char *key)
{
	bool hit = false;

	pthread_mutex_lock(&list_cache.lock);
	for (int i = 0; i < LIST_CACHE; i++)
		if (list_cache.e[i].body && list_cache.e[i].gen == gen && !strcmp(list_cache.e[i].key, key)) {
			r->text = malloc(list_cache.e[i].len);
			if (r->text) {
				memcpy(r->text, list_cache.e[i].body, list_cache.e[i].len);
				r->text_len = list_cache.e[i].len;
				r->content_type = "application/json";
				hit = true;
			}
			break;
		}
	pthread_mutex_unlock(&list_cache.lock);
	return hit;
}

/* Cache s (a JSON text of len bytes, taken) under gen and key; a copy of it into r's
 * answer (r->text), as a hit serves it. */
static void list_cache_put(struct req *r, uint64_t gen, const char *key, char *s, size_t len)
{
	unsigned i;

	r->text = malloc(len);
	if (r->text) {
		memcpy(r->text, s, len);
		r->text_len = len;
		r->content_type = "application/json";
	}
	pthread_mutex_lock(&list_cache.lock);
	i = list_cache.next++ % LIST_CACHE;
	free(list_cache.e[i].body);
	list_cache.e[i].gen = gen;
	snprintf(list_cache.e[i].key, sizeof(list_cache.e[i].key), "%s", key);
	list_cache.e[i].body = s;
	list_cache.e[i].len = len;
	pthread_mutex_unlock(&list_cache.lock);
}

struct list {
	struct server *srv;
	json_t *vms;
	json_t *owners;             /* in a cluster: VM name -> the host holding its key */
};

/* One VM of the list: its summary, appended to the list arg. */
static int list_add(const struct inv_vm *v, void *arg)
{
	struct list *l = arg;

	json_array_append_new(l->vms, json_pack("{s:s,s:s,s:o,s:i,s:I,s:o}", "name", v->name,
						"state", v->state, "host",
						sup_vm_host_json(l->srv, NULL, v->name, v->state, l->owners),
						"cpus", v->cpus,
						"memory_mib", (json_int_t)v->memory_mib, "last_exit",
						sup_exit_json(v->last_exit)));
	return 0;
}

int api_vm_list(struct req *r)
{
	const char *ls = req_query(r, "limit"), *os = req_query(r, "offset");
	long limit = ls ? strtol(ls, NULL, 10) : 1000, offset = os ? strtol(os, NULL, 10) : 0;
	int rc;
	bool all;
	struct list l = { .srv = r->srv };
	int64_t total = 0, orev = 0;
	/* an inventory on the cluster's etcd: its generation is etcd's revision, which the
	 * owners' read below gives (no read of its own) */
	bool same = r->srv->cluster && !strcmp(inv_backend(r->srv->db), "etcd");
	uint64_t gen = same ? 0 : inv_generation(r->srv->db);
	char key[96], *text;

	if (limit < 1 || limit > 10000 || offset < 0)
		return req_error(r, -EINVAL, "limit is 1 to 10000, offset at least 0");
	all = r->who.admin || (auth_perms(r->c, &r->who, "server", 0) & PERM_VIEW);
	/* in a cluster the hosts' claims are read first (one range): the cached answer is
	 * keyed by that read's revision too, which every claim and release raises */
	if (r->srv->cluster && cluster_vm_owners(r->srv->cluster, &l.owners, &orev))
		return req_error(r, 503, "the cluster's store (etcd) does not answer: %s",
				 etcd_errmsg());
	if (same)
		gen = (uint64_t)orev;
	/* administrators apart: only their answers keep host paths (http_scrub_paths) */
	snprintf(key, sizeof(key), "%s%lld/%ld/%ld/%lld", r->who.admin ? "A" : "",
		 all ? -1LL : (long long)r->who.user_id, limit, offset, (long long)orev);
	if (list_cache_get(r, gen, key)) {
		json_decref(l.owners);
		return 200;
	}
	l.vms = json_array();
	if (!l.vms) {
		json_decref(l.owners);
		return req_error(r, -ENOMEM, "out of memory");
	}
	rc = inv_vm_page(r->c, all ? -1 : r->who.user_id, offset, limit, &total, list_add, &l);
	json_decref(l.owners);
	if (rc) {
		json_decref(l.vms);
		return req_error(r, -EIO, "inventory error");
	}
	r->out = json_pack("{s:o,s:I,s:I,s:I}", "vms", l.vms, "total", (json_int_t)total,
			   "offset", (json_int_t)offset, "limit", (json_int_t)limit);
	/* scrubbed here, as cached: served as the cache's text (one serialization, and
	 * http.c's scrub of r->out not again) */
	if (r->out && !r->who.admin)
		http_scrub_paths(r->srv, r->out);
	/* Cached under gen, read before the list: the list was read after it, so an answer
	 * read over a newer commit is newer than gen; but it is only ever served while the
	 * generation is still gen, that is while no commit came after gen, and then the list
	 * read exactly gen's state (a generation is raised by every commit, never lowered:
	 * on etcd its revision; no second read of it needed here). */
	if (r->out && (text = json_dumps(r->out, JSON_COMPACT))) {
		size_t n = strlen(text);
		char *t = realloc(text, n + 2);     /* with queue_json's newline */

		if (t) {
			text = t;
			text[n++] = '\n';
			text[n] = '\0';
		}
		list_cache_put(r, gen, key, text, n);
		if (r->text) {
			json_decref(r->out);
			r->out = NULL;
		}
	}
	return 200;
}

