/* libFuzzer target: an etcd answer as the inventory reads it, from the JSON gateway's
 * bytes to rows: a Txn's range response (server/etcd_kv.c etcd_range_resp: its kvs, each
 * key and value base64, server/etcd_conn.c etcd_kv_parse), then each value as a row
 * (server/inv_etcd_json.c ie_row_parse, and its "name" and "id" fields as the decoders read
 * them). Input: the response's JSON ({"response_range": {"kvs": [...]}}). A corrupt or
 * hostile answer must come out as an error or as kvs whose bytes are what the base64 says.
 * Checked: each kv's key and value are NUL-terminated at their length, no longer than the
 * text allows, and where the text is strict base64 (a reference decoder here) equal to its
 * bytes (a key: up to its first NUL). Seeds:
 * fuzz/etcd_kv_seeds.py. */
#include "server/etcd.h"
#include "server/etcd_int.h"
#include "server/inv_etcd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int b64_val(char c)
{
	const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(a, c) : NULL;

	return p ? (int)(p - a) : -1;
}

/* Strict base64 of s into out (room for strlen(s) / 4 * 3): its length, or -1. */
static long b64_ref(const char *s, unsigned char *out)
{
	size_t n = strlen(s), o = 0;

	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;

		for (int k = 0; k < 4; k++) {
			v[k] = b64_val(s[i + k]);
			if (s[i + k] == '=' && i + 4 == n && k >= 2 && (k == 3 || s[i + 3] == '='))
				v[k] = 0, pad++;
			else if (v[k] < 0 || pad)
				return -1;
		}
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (unsigned char)(v[1] << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (unsigned char)(v[2] << 6 | v[3]);
	}
	return (long)o;
}

/* The kv's bytes (p, len) against the base64 text it came from; cstr: a key, kept as a C
 * string (its bytes up to the first NUL). */
static void same(const char *text, const char *p, size_t len, bool cstr)
{
	unsigned char *ref;
	long n;

	if (!text)
		text = "";
	if (!p || p[len] != '\0' || len > strlen(text) / 4 * 3)
		abort();
	ref = malloc(strlen(text) / 4 * 3 + 1);
	if (!ref)
		abort();
	n = b64_ref(text, ref);
	if (n >= 0 && cstr)
		n = (long)strnlen((const char *)ref, (size_t)n);
	if (n >= 0 && ((size_t)n != len || memcmp(ref, p, len)))
		abort(); /* strict base64 decoded to other bytes */
	free(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *resp = json_loadb((const char *)data, size, 0, NULL), *kvs;
	struct etcd_kvs out;
	int rc;

	if (!resp)
		return 0;
	rc = etcd_range_resp(resp, &out);
	if (rc && (rc != -EIO || out.n || out.kv))
		abort();
	kvs = json_object_get(json_object_get(resp, "response_range"), "kvs");
	for (size_t i = 0; i < out.n; i++) {
		json_t *o = json_array_get(kvs, i), *row;
		const struct etcd_kv *kv = &out.kv[i];

		same(json_string_value(json_object_get(o, "key")), kv->key, strlen(kv->key), true);
		same(json_string_value(json_object_get(o, "value")), kv->value, kv->value_len, false);
		if (!ie_row_parse(kv->key, kv->value, kv->value_len, &row)) {
			char name[64];

			ie_str_copy(row, "name", name, sizeof(name));
			(void)ie_int(row, "id");
			json_decref(row);
		}
	}
	etcd_kvs_clear(&out);
	json_decref(resp);
	return 0;
}
