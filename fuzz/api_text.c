/* libFuzzer target: the server's hand-written checks of what clients send and admins type
 * (server/valid.c: request bodies, names, free text, paths; util/size.c: sizes such as
 * "64M"; server/quota.c: quota objects and --default-quota text). Input: one byte choosing
 * the parser, then its text (a C string: up to the first NUL). Each parser's answer is
 * compared with a reference written here in the plainest way (a name's characters, a size
 * computed in 128 bits, ...): a parser may refuse only what the reference refuses, and says
 * why in a NUL-terminated message that fits its buffer. Seeds: fuzz/api_text_seeds.py. */
#include "server/quota.h"
#include "server/valid.h"
#include "util/size.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* size_parse's reference: 0 and *out, -EINVAL or -ERANGE. */
static int size_ref(const char *s, uint64_t *out)
{
	unsigned __int128 v = 0, mul = 1;
	const char *p = s, *sfx = "KMGT";
	bool big = false;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > UINT64_MAX)
			big = true, v = (unsigned __int128)UINT64_MAX + 1;
	}
	if (*p) {
		const char *x = strchr(sfx, toupper((unsigned char)*p));
		if (!x)
			return -EINVAL;
		mul = (unsigned __int128)1 << (10 * (x - sfx + 1));
		p++;
		if (*p && strcasecmp(p, "B") && strcasecmp(p, "iB"))
			return -EINVAL;
	}
	if (big || v * mul > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)(v * mul);
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isascii((unsigned char)s[i]) ||
		    !(isalnum((unsigned char)s[i]) || (i && strchr("._-", s[i]))))
			return false;
	return true;
}

static bool text_ok(const char *s, size_t max)
{
	if (strlen(s) > max)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool path_ok(const char *s)
{
	const char *c = s;

	if (!text_ok(s, 4095) || !*s)
		return false;
	for (; (c = strstr(c, "..")); c++)
		if ((c == s || c[-1] == '/') && (c[2] == '/' || !c[2]))
			return false;
	return true;
}

/* A refusal's message: NUL-terminated within its buffer, not empty. */
static void said(const char *err, size_t len, int rc)
{
	if (rc && (!memchr(err, '\0', len) || !err[0]))
		abort();
}

static const char *const colors[] = { "red", "green", "blue", NULL };
static const struct valid_field fields[] = {
	{ "name", V_STR, 1, 0, 0, K_NAME, NULL },
	{ "description", V_STR, 0, 0, 100, K_TEXT, NULL },
	{ "path", V_STR, 0, 0, 0, K_PATH, NULL },
	{ "color", V_STR, 0, 0, 0, K_ENUM, colors },
	{ "password", V_STR, 0, 0, 16, K_SECRET, NULL },
	{ "cpus", V_INT, 0, 1, 64, 0, NULL },
	{ "big", V_INT, 0, INT64_MIN, INT64_MAX, 0, NULL },
	{ "on", V_BOOL, 0, 0, 0, 0, NULL },
	{ "disks", V_ARRAY, 0, 0, 3, 0, NULL },
	{ "opts", V_OBJECT, 0, 0, 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

static void json_checks(const char *s, bool quota)
{
	json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
	struct inv_quota q;
	char err[24];
	int rc;

	if (!j)
		return;
	memset(err, 0x55, sizeof(err));
	if (quota) {
		rc = quota_parse(j, &q, err, sizeof(err));
		if (!rc && (q.vms < -1 || q.cpus < -1 || q.memory_mib < -1 || q.disks < -1 ||
			    q.disk_bytes < -1 || q.snapshots < -1))
			abort();
	} else {
		rc = valid_object(j, fields, err, sizeof(err));
		if (!rc && (!json_is_object(j) || !name_ok(json_string_value(json_object_get(j,
											"name")))))
			abort(); /* accepted without its required, valid name */
	}
	if (rc && rc != -EINVAL)
		abort();
	said(err, sizeof(err), rc);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, err[40];
	uint64_t v = 0, r = 0;
	struct inv_quota q;
	int rc;

	if (size < 1)
		return 0;
	s = strndup((const char *)data + 1, size - 1);
	if (!s)
		abort();
	memset(err, 0x55, sizeof(err));
	switch (data[0] % 7) {
	case 0:
		rc = size_parse(s, &v);
		if (rc != size_ref(s, &r) || (!rc && v != r))
			abort();
		break;
	case 1:
		rc = valid_name(s, err, sizeof(err));
		if (!rc != name_ok(s))
			abort();
		said(err, sizeof(err), rc);
		break;
	case 2:
		rc = valid_text(s, data[0] >> 3, err, sizeof(err));
		if (!rc != text_ok(s, data[0] >> 3))
			abort();
		said(err, sizeof(err), rc);
		break;
	case 3:
		rc = valid_path(s, err, sizeof(err));
		if (!rc != path_ok(s))
			abort();
		said(err, sizeof(err), rc);
		break;
	case 4:
		json_checks(s, false);
		break;
	case 5:
		json_checks(s, true);
		break;
	default:
		rc = quota_parse_text(s, &q, err, sizeof(err));
		if (rc && rc != -EINVAL)
			abort();
		if (!rc && (q.vms < -1 || q.cpus < -1 || q.memory_mib < -1 || q.disks < -1 ||
			    q.disk_bytes < -1 || q.snapshots < -1))
			abort();
		said(err, sizeof(err), rc);
		break;
	}
	free(s);
	return 0;
}
