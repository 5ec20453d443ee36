/* libFuzzer target: a value read back from etcd as an inventory row (server/inv_etcd_json.c):
 * ie_row_parse, then every field the etcd backend's decoders read (and every field the row
 * has) through the field helpers, as each of its types. A corrupt or hostile value in etcd
 * must read as an error (-EIO) or as fields of sane values, never crash the server. Input:
 * the value's bytes. Checked: a row is a JSON object; each helper's value agrees with the
 * field's JSON (an integer as itself, a real truncated when an int64 holds it, else 0; a
 * string copied whole or cut with its NUL); a value read, set into a new row and read again
 * is the same; a row written back (json_dumps, as the server writes rows) parses again to
 * an equal row. Built with -fsanitize=float-cast-overflow (gcc's undefined set lacks it).
 * Seeds: fuzz/etcd_row_seeds.py. */
#include "server/inv_etcd.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fields the backend's decoders read (ie_int, ie_str, ... in src/server/inv_etcd*.c). */
static const char *const fields[] = {
	"admin", "autostart", "bridge", "bus", "bytes", "cmdline", "command", "cpu_limit",
	"cpu_weight", "cpus", "created", "current", "data", "description", "dhcp_end",
	"dhcp_start", "disk_id", "epoch", "error", "event", "expires", "finished", "format",
	"host", "id", "idx", "image", "initrd", "kernel", "kind", "last_exit", "mac",
	"memory_buffer_pct", "memory_bytes", "memory_mib", "memory_min_mib",
	"memory_reserve_mib", "message", "model", "monitor_pid", "name", "network_id", "object",
	"object_type", "owner", "parent", "parent_id", "password", "path", "pending", "perms",
	"progress", "readonly", "restart_policy", "restarts", "sessions", "size", "snapshot_id",
	"started", "state", "subnet", "time", "timeout", "type", "undo_disks", "updated", "upto",
	"url", "user", "vm_id",
};

/* What a helper must make of a real: truncated when an int64 holds it, else 0. */
static int64_t real_int(double d)
{
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
		return 0;
	return (int64_t)d;
}

static void field(json_t *row, json_t *out, const char *f)
{
	json_t *v = json_object_get(row, f);
	int64_t i = ie_int(row, f);
	bool b = ie_bool(row, f), oom = false;
	double r = ie_real(row, f);
	const char *s = ie_str(row, f);
	char *dup = ie_str_dup(row, f, &oom), buf[16];

	if (json_is_integer(v) ? i != json_integer_value(v) :
	    json_is_real(v) ? i != real_int(json_real_value(v)) : i != (json_is_true(v) ? 1 : 0))
		abort();
	if (b != (json_is_boolean(v) ? json_is_true(v) : i != 0))
		abort();
	if (r != (json_is_number(v) ? json_number_value(v) : 0) || !isfinite(r))
		abort();
	if (s != json_string_value(v) || (s ? !dup || strcmp(s, dup) : !!dup) || oom)
		abort();
	for (size_t n = 1; n <= sizeof(buf); n += 7) {
		ie_str_copy(row, f, buf, n);
		if (strlen(buf) >= n || strncmp(buf, s ? s : "", n - 1))
			abort();
	}
	free(dup);

	/* each value set into a new row reads the same */
	if (ie_set_int(out, f, i) || ie_int(out, f) != i)
		abort();
	if (ie_set_bool(out, f, b) || ie_bool(out, f) != b)
		abort();
	if (ie_set_real(out, f, r) || ie_real(out, f) != r)
		abort();
	if (ie_set_str(out, f, s) || (s ? strcmp(ie_str(out, f), s) : ie_str(out, f) != NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *row, *out, *again, *v;
	const char *key;
	char *text;
	int rc;

	rc = ie_row_parse("/vsrv/inv/t/fuzz/1", (const char *)data, size, &row);
	if (rc)
		return rc == -EIO ? 0 : (abort(), 0);
	out = json_object();
	if (!json_is_object(row) || !out)
		abort();
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
		field(row, out, fields[k]);
	json_object_foreach(row, key, v)
		field(row, out, key);

	/* written back as the server writes rows, it reads back equal */
	text = json_dumps(row, JSON_COMPACT);
	if (!text || ie_row_parse("/vsrv/inv/t/fuzz/1", text, strlen(text), &again) ||
	    !json_equal(row, again))
		abort();
	json_decref(again);
	free(text);
	json_decref(out);
	json_decref(row);
	return 0;
}
