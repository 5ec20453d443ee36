/* Which member of an etcd test cluster (etcdrig.h) leads now, asked of each member directly
 * (not through the client under test): etcdlead_now(&rig, hosts), hosts the members' client
 * addresses (NULL: all 127.0.0.1). The index, or -1. */
#ifndef VSRV_TEST_ETCDLEAD_H
#define VSRV_TEST_ETCDLEAD_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "etcdrig.h"

static size_t etcdlead_sink(char *p, size_t size, size_t n, void *arg)
{
	char *b = arg;
	size_t have = strlen(b), add = size * n;

	if (have + add >= 4096)
		add = 4095 - have;
	memcpy(b + have, p, add);
	b[have + add] = '\0';
	return size * n;
}

static int etcdlead_now(const struct etcdrig *r, const char *const *hosts)
{
	int i, lead = -1;

	for (i = 0; i < r->n; i++) {
		char url[96], ans[4096] = "";
		CURL *h = curl_easy_init();
		json_t *j;

		snprintf(url, sizeof(url), "http://%s:%d/v3/maintenance/status",
			 hosts ? hosts[i] : "127.0.0.1", r->cport[i]);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{}");
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, etcdlead_sink);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, ans);
		curl_easy_perform(h);
		curl_easy_cleanup(h);
		j = json_loads(ans, 0, NULL);
		if (j && json_string_value(json_object_get(j, "leader")) &&
		    !strcmp(json_string_value(json_object_get(j, "leader")),
			    json_string_value(json_object_get(json_object_get(j, "header"),
							      "member_id")) ?: ""))
			lead = i;
		json_decref(j);
	}
	return lead;
}

#endif
