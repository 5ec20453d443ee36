/* Where POST /api/v1/vms/{name}/start runs (docs/cluster.md "Placement on start"): on a
 * shared inventory the VM starts on the host the caller names ({"host": NAME}) or, without
 * one, on the host failover would choose (the most free memory that holds it, ties by
 * name); a start meant for another host is sent there with the caller's Authorization
 * header (sessions live in the shared inventory) and its answer is the answer. */
#include "server/api.h"
#include "server/cluster.h"
#include "server/etcd.h"
#include "server/inv.h"
#include "server/vmrow.h"
#include "util/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FWD_MAX_ANSWER (1 << 20)
#define FWD_TIMEOUT_MS 15000

struct answer {
	char *buf;
	size_t len;
};

static size_t take(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	char *nb;

	if (a->len + size * n > FWD_MAX_ANSWER || !(nb = realloc(a->buf, a->len + size * n + 1)))
		return 0;
	memcpy(nb + a->len, p, size * n);
	a->buf = nb;
	a->len += size * n;
	a->buf[a->len] = '\0';
	return size * n;
}

/* Send the start to host's url with {"host": host} and the caller's Authorization; its
 * status and JSON answer become r's. */
static int forward(struct req *r, const char *host, const char *base, const char *vm)
{
	const char *auth = req_header(r, "Authorization");
	struct curl_slist *hd = NULL, *h2;
	struct answer a = { 0 };
	char url[1200], hdr[1100], *body, *seg;
	json_t *b;
	long status = 0;
	CURLcode cc;
	CURL *cu;

	if (!auth)
		return req_error(r, -EBUSY, "%s is to start on host %s, and this request carries no "
				 "token to pass on: send it to host %s (%s) or name this host", vm, host,
				 host, base);
	cu = curl_easy_init();
	seg = cu ? curl_easy_escape(cu, vm, 0) : NULL;
	b = json_pack("{s:s}", "host", host);
	body = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (!seg || !body) {
		curl_free(seg);
		free(body);
		if (cu)
			curl_easy_cleanup(cu);
		return req_error(r, -ENOMEM, "out of memory");
	}
	if (snprintf(url, sizeof(url), "%s/api/v1/vms/%s/start", base, seg) >= (int)sizeof(url) ||
	    snprintf(hdr, sizeof(hdr), "Authorization: %s", auth) >= (int)sizeof(hdr)) {
		curl_free(seg);
		free(body);
		curl_easy_cleanup(cu);
		return req_error(r, -EINVAL, "the host's URL or the Authorization header is too long");
	}
	curl_free(seg);
	hd = curl_slist_append(hd, "Content-Type: application/json");
	h2 = hd ? curl_slist_append(hd, hdr) : NULL;
	if (!h2) {
		curl_slist_free_all(hd);
		curl_easy_cleanup(cu);
		free(body);
		return req_error(r, -ENOMEM, "out of memory");
	}
	hd = h2;
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, (long)FWD_TIMEOUT_MS);
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, take);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(cu, CURLOPT_USERAGENT, "vsrv-cluster");
	cc = curl_easy_perform(cu);
	if (cc == CURLE_OK)
		curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(cu);
	free(body);
	r->out = cc == CURLE_OK && a.buf ? json_loadb(a.buf, a.len, 0, NULL) : NULL;
	free(a.buf);
	if (!r->out || status < 200 || status > 599) {
		json_decref(r->out);
		r->out = NULL;
		return req_error(r, 503, "%s is to start on host %s, which does not answer at %s: %s",
				 vm, host, base, cc == CURLE_OK ? "not a JSON answer" :
				 curl_easy_strerror(cc));
	}
	vsrv_log("vm %s: start sent to host %s (%s): %ld", vm, host, base, status);
	r->status = (int)status;
	return r->status;
}

int api_vm_start_placed(struct req *r, int64_t id, const char *want, bool *local)
{
	struct server *srv = r->srv;
	struct cluster_fo_host h[64];
	char url[1024], target[64];
	const char *me = srv->cluster ? cluster_name(srv->cluster) : NULL;
	size_t n = 0, fit;
	struct inv_vm v;
	int64_t need;
	int rc;

	*local = false;
	if (!srv->cluster || strcmp(inv_backend(srv->db), "etcd")) {
		/* every host has its own inventory: the VM can start here only */
		if (want && (!me || strcmp(want, me)))
			return req_error(r, -EINVAL, "host: a start on another host needs a cluster on "
					 "a shared inventory (--inventory etcd)");
		*local = true;
		return 0;
	}
	if (want) {
		snprintf(target, sizeof(target), "%s", want);
	} else {
		rc = inv_vm_get(r->c, id, &v);
		if (rc)
			return req_error(r, rc, "%s: cannot read it", r->args[0]);
		need = inv_vm_reserved_mib(&v);
		inv_vm_clear(&v);
		rc = cluster_alive_hosts(srv->cluster, h, 64, &n);
		if (rc)
			return req_error(r, 503, "the cluster's store (etcd) does not answer: %s",
					 etcd_errmsg());
		fit = cluster_failover_order(h, n, need);
		if (!fit)
			return req_error(r, -ENOSPC, "%s: no host of the cluster has the %lld MiB it "
					 "needs free", r->args[0], (long long)need);
		snprintf(target, sizeof(target), "%s", h[0].name);
	}
	if (!strcmp(target, me)) {
		*local = true;
		return 0;
	}
	rc = cluster_host_api_url(srv->cluster, target, url, sizeof(url));
	if (rc == -ENOENT)
		return req_error(r, -EINVAL, "host: no host %s in the cluster", target);
	if (rc == -EHOSTDOWN)
		return req_error(r, -EBUSY, "host %s is not alive (its lease is gone)", target);
	if (rc)
		return req_error(r, 503, "the cluster's store (etcd) does not answer: %s",
				 etcd_errmsg());
	return forward(r, target, url, r->args[0]);
}
