/* Calls from one host's API to another's (migrate.h), on libcurl: with the caller's
 * Authorization header (a drain's, and a start placed on another host: api_place.c), or
 * with the host's own credential and the user it acts for (a live migration's calls to the
 * destination: cluster_peer.c). */
#include "server/migrate.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_MAX_ANSWER (1 << 20)

struct answer {
	char *buf;
	size_t len;
};

static size_t take(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	char *nb;

	if (a->len + size * n > PEER_MAX_ANSWER || !(nb = realloc(a->buf, a->len + size * n + 1)))
		return 0;
	memcpy(nb + a->len, p, size * n);
	a->buf = nb;
	a->len += size * n;
	a->buf[a->len] = '\0';
	return size * n;
}

int migrate_peer_call(const char *base, const char *method, const char *path, const char *auth,
		      json_t *body, long timeout_ms, long *status, json_t **answer, char *err,
		      size_t errlen)
{
	return migrate_peer_call_by(base, method, path, auth, NULL, body, timeout_ms, status,
				    answer, err, errlen);
}

int migrate_peer_call_by(const char *base, const char *method, const char *path,
			 const char *auth, const char *by, json_t *body, long timeout_ms,
			 long *status, json_t **answer, char *err, size_t errlen)
{
	struct curl_slist *hd = NULL, *h2;
	struct answer a = { 0 };
	char url[1400], hdr[1200], byh[200], *text = NULL;
	CURLcode cc;
	CURL *cu;
	int rc = 0;

	*status = 0;
	*answer = NULL;
	if (snprintf(url, sizeof(url), "%s%s", base, path) >= (int)sizeof(url) ||
	    snprintf(hdr, sizeof(hdr), "Authorization: %s", auth) >= (int)sizeof(hdr)) {
		snprintf(err, errlen, "the host's URL or the Authorization header is too long");
		return -EINVAL;
	}
	text = body ? json_dumps(body, JSON_COMPACT) : strdup("");
	cu = curl_easy_init();
	hd = curl_slist_append(NULL, "Content-Type: application/json");
	h2 = hd ? curl_slist_append(hd, hdr) : NULL;
	if (!text || !cu || !h2) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	hd = h2;
	if (by) {
		snprintf(byh, sizeof(byh), "X-Vsrv-By: %.150s", by);
		if (!(h2 = curl_slist_append(hd, byh))) {
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
	}
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hd);
	if (strcmp(method, "GET") && strcmp(method, "DELETE"))
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, take);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(cu, CURLOPT_USERAGENT, "vsrv-cluster");
	cc = curl_easy_perform(cu);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		rc = cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EHOSTUNREACH;
		goto out;
	}
	curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, status);
	*answer = a.buf ? json_loadb(a.buf, a.len, 0, NULL) : NULL;
	if (!*answer) {
		snprintf(err, errlen, "not a JSON answer (HTTP %ld)", *status);
		rc = -EPROTO;
	}
out:
	curl_slist_free_all(hd);
	if (cu)
		curl_easy_cleanup(cu);
	free(text);
	free(a.buf);
	return rc;
}
