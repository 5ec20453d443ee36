/* The etcd inventory's JSON: a key's value parsed into a row, and the field helpers (a
 * row's fields to and from C values) (inv_etcd.h). What etcd holds is never trusted: any
 * value, however corrupt or hostile, reads as an error or as fields of a sane value
 * (fuzz/etcd_row.c). */
#include "server/inv_etcd.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ie_row_parse(const char *key, const char *value, size_t len, json_t **row)
{
	json_error_t err;
	json_t *j = json_loadb(value, len, 0, &err);

	if (!json_is_object(j)) {
		json_decref(j);
		vsrv_log("inventory: etcd: %s does not hold a JSON object", key);
		return -EIO;
	}
	*row = j;
	return 0;
}

int64_t ie_int(json_t *row, const char *field)
{
	json_t *v = json_object_get(row, field);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v)) {
		double d = json_real_value(v);

		/* truncated when an int64 holds it; a real none holds is mistyped (the cast
		 * would be undefined) */
		return d >= -9223372036854775808.0 && d < 9223372036854775808.0 ? (int64_t)d : 0;
	}
	if (json_is_true(v))
		return 1;
	return 0;
}

bool ie_bool(json_t *row, const char *field)
{
	json_t *v = json_object_get(row, field);

	if (json_is_boolean(v))
		return json_is_true(v);
	return ie_int(row, field) != 0;
}

double ie_real(json_t *row, const char *field)
{
	json_t *v = json_object_get(row, field);

	return json_is_number(v) ? json_number_value(v) : 0;
}

const char *ie_str(json_t *row, const char *field)
{
	return json_string_value(json_object_get(row, field));
}

char *ie_str_dup(json_t *row, const char *field, bool *oom)
{
	const char *s = ie_str(row, field);
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d && oom)
		*oom = true;
	return d;
}

void ie_str_copy(json_t *row, const char *field, char *buf, size_t size)
{
	const char *s = ie_str(row, field);

	snprintf(buf, size, "%s", s ? s : "");
}

int ie_set_int(json_t *row, const char *field, int64_t v)
{
	return json_object_set_new(row, field, json_integer(v)) ? -ENOMEM : 0;
}

int ie_set_bool(json_t *row, const char *field, bool v)
{
	return json_object_set_new(row, field, json_boolean(v)) ? -ENOMEM : 0;
}

int ie_set_real(json_t *row, const char *field, double v)
{
	return json_object_set_new(row, field, json_real(v)) ? -ENOMEM : 0;
}

int ie_set_str(json_t *row, const char *field, const char *v)
{
	return json_object_set_new(row, field, v ? json_string(v) : json_null()) ? -ENOMEM : 0;
}
