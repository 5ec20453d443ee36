/* The hosts' own credential (cluster.h, docs/cluster.md "Host credentials"): the calls one
 * host makes on another's server-only endpoints (a live migration's .../incoming) carry
 * `Authorization: VsrvHost NAME TOKEN`, not a user's token. Each host draws its TOKEN
 * (32 random bytes, hex) when it starts, keeps it in memory only, and publishes its SHA-256
 * as "peer_key" in its /vsrv/hosts/NAME/info key; the called host hashes what it is sent and
 * compares it with that key, and wants NAME alive. A restart draws a new token (the old
 * one is dead once the info key is rewritten); GET /api/v1/hosts never shows peer_key. */
#include "server/cluster_int.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static void to_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static void sha256_hex(const char *s, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = sizeof(md);

	EVP_Digest(s, len, md, &n, EVP_sha256(), NULL);
	to_hex(md, sizeof(md), out);
}

int cluster_peer_init(struct cluster *cl)
{
	unsigned char raw[32];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	to_hex(raw, sizeof(raw), cl->peer_token);
	OPENSSL_cleanse(raw, sizeof(raw));
	sha256_hex(cl->peer_token, strlen(cl->peer_token), cl->peer_key);
	return 0;
}

int cluster_peer_auth(const struct cluster *cl, char *buf, size_t n)
{
	return snprintf(buf, n, "VsrvHost %s %s", cl->name, cl->peer_token) < (int)n ? 0 : -EINVAL;
}

int cluster_peer_check(struct cluster *cl, const char *cred, char *host, size_t n)
{
	struct etcd_kv kv = { 0 };
	const char *sp = strchr(cred, ' '), *key;
	char name[64], k[160], got[65];
	json_t *info;
	int rc;

	if (!sp || sp == cred || (size_t)(sp - cred) >= sizeof(name) || strlen(sp + 1) != 64)
		return -EACCES;
	snprintf(name, sizeof(name), "%.*s", (int)(sp - cred), cred);
	if (strchr(name, '/'))
		return -EACCES;
	snprintf(k, sizeof(k), "%s%s/info", CLUSTER_HOSTS, name);
	rc = etcd_get(cl->etcd, k, &kv);
	if (rc)
		return rc == -ENOENT ? -EACCES : rc;
	info = json_loadb(kv.value, kv.value_len, 0, NULL);
	etcd_kv_clear(&kv);
	key = json_string_value(json_object_get(info, "peer_key"));
	sha256_hex(sp + 1, 64, got);
	rc = key && strlen(key) == 64 && !CRYPTO_memcmp(key, got, 64) ? 0 : -EACCES;
	json_decref(info);
	if (rc)
		return rc;
	/* a host that is gone (its lease ended) calls no one: its token died with it */
	snprintf(k, sizeof(k), "%s%s/alive", CLUSTER_HOSTS, name);
	rc = etcd_get(cl->etcd, k, &kv);
	etcd_kv_clear(&kv);
	if (rc)
		return rc == -ENOENT ? -EACCES : rc;
	snprintf(host, n, "%s", name);
	return 0;
}
