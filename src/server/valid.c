/* Request validation. */
#include "server/valid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t len, const char *field, const char *what)
{
	if (err)
		snprintf(err, len, "%s%s%s", field ? field : "", field ? ": " : "", what);
	return -EINVAL;
}

int valid_name(const char *s, char *err, size_t errlen)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 63)
		return fail(err, errlen, NULL, "a name has 1 to 63 characters");
	for (i = 0; i < n; i++) {
		char ch = s[i];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || (i > 0 && (ch == '.' || ch == '_' || ch == '-'));
		if (!ok)
			return fail(err, errlen, NULL, "a name has only letters, digits, '.', '_' and '-' "
				    "and starts with a letter or digit");
	}
	return 0;
}

int valid_text(const char *s, size_t max, char *err, size_t errlen)
{
	const unsigned char *p;

	if (strlen(s) > max) {
		char m[64];
		snprintf(m, sizeof(m), "longer than %zu bytes", max);
		return fail(err, errlen, NULL, m);
	}
	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return fail(err, errlen, NULL, "control characters are not allowed");
	return 0;
}

int valid_path(const char *s, char *err, size_t errlen)
{
	const char *p = s;
	int rc = valid_text(s, 4095, err, errlen);

	if (rc)
		return rc;
	if (!*s)
		return fail(err, errlen, NULL, "empty path");
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return fail(err, errlen, NULL, "'..' is not allowed in a path");
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

static const char *type_name(enum valid_type t)
{
	switch (t) {
	case V_STR: return "a string";
	case V_INT: return "an integer";
	case V_BOOL: return "a boolean";
	case V_ARRAY: return "an array";
	default: return "an object";
	}
}

int valid_object(const json_t *obj, const struct valid_field *fields, char *err, size_t errlen)
{
	const struct valid_field *f;
	const char *key;
	json_t *v;
	char m[200];

	if (!json_is_object(obj))
		return fail(err, errlen, NULL, "the request body must be a JSON object");
	json_object_foreach((json_t *)obj, key, v) {
		for (f = fields; f->name; f++)
			if (!strcmp(f->name, key))
				break;
		if (!f->name) {
			char k[80];
			snprintf(k, sizeof(k), "%.60s%s", key, strlen(key) > 60 ? "..." : "");
			for (char *q = k; *q; q++)
				if ((unsigned char)*q < 0x20 || *q == 0x7f)
					*q = '?';
			snprintf(m, sizeof(m), "unknown field '%s'", k);
			return fail(err, errlen, NULL, m);
		}
		switch (f->type) {
		case V_STR:
			if (!json_is_string(v))
				goto wrong_type;
			{
				const char *s = json_string_value(v);
				int64_t max = f->max ? f->max : 1024;
				int rc;

				if (strlen(s) != json_string_length(v))
					return fail(err, errlen, f->name, "NUL characters are not allowed");
				if (f->kind == K_NAME)
					rc = valid_name(s, m, sizeof(m));
				else if (f->kind == K_PATH)
					rc = valid_path(s, m, sizeof(m));
				else if (f->kind == K_SECRET) {
					rc = strlen(s) > (size_t)max ? -EINVAL : 0;
					snprintf(m, sizeof(m), "longer than %lld bytes", (long long)max);
				} else
					rc = valid_text(s, max, m, sizeof(m));
				if (!rc && f->kind == K_ENUM) {
					const char *const *c;
					for (c = f->choices; *c; c++)
						if (!strcmp(*c, s))
							break;
					if (!*c) {
						size_t o = snprintf(m, sizeof(m), "must be one of");
						for (c = f->choices; *c && o < sizeof(m); c++)
							o += snprintf(m + o, sizeof(m) - o, " %s", *c);
						rc = -EINVAL;
					}
				}
				if (rc)
					return fail(err, errlen, f->name, m);
			}
			break;
		case V_INT:
			if (!json_is_integer(v))
				goto wrong_type;
			if (json_integer_value(v) < f->min || json_integer_value(v) > f->max) {
				snprintf(m, sizeof(m), "must be between %lld and %lld",
					 (long long)f->min, (long long)f->max);
				return fail(err, errlen, f->name, m);
			}
			break;
		case V_BOOL:
			if (!json_is_boolean(v))
				goto wrong_type;
			break;
		case V_ARRAY:
			if (!json_is_array(v))
				goto wrong_type;
			if ((int64_t)json_array_size(v) > f->max) {
				snprintf(m, sizeof(m), "at most %lld items", (long long)f->max);
				return fail(err, errlen, f->name, m);
			}
			break;
		case V_OBJECT:
			if (!json_is_object(v))
				goto wrong_type;
			break;
		}
		continue;
wrong_type:
		snprintf(m, sizeof(m), "must be %s", type_name(f->type));
		return fail(err, errlen, f->name, m);
	}
	for (f = fields; f->name; f++)
		if (f->required && !json_object_get(obj, f->name))
			return fail(err, errlen, f->name, "is required");
	return 0;
}
