/* The guest agent's wire protocol, without I/O. See agent_proto.h. */
#include "server/agent_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VIEW_STR_MAX 255

void agent_rx_init(struct agent_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

void agent_rx_free(struct agent_rx *rx)
{
	free(rx->buf);
	memset(rx, 0, sizeof(*rx));
}

void agent_rx_resync(struct agent_rx *rx)
{
	rx->len = 0;
	rx->overlong = false;
	rx->await_ff = true;
}

static int append(struct agent_rx *rx, const char *p, size_t n)
{
	if (rx->overlong)
		return 0;
	if (rx->len + n > AGENT_LINE_MAX) {
		rx->overlong = true;
		rx->len = 0;
		return 0;
	}
	if (rx->len + n + 1 > rx->cap) {
		size_t cap = rx->cap ? rx->cap : 4096;
		char *b;

		while (cap < rx->len + n + 1)
			cap *= 2;
		b = realloc(rx->buf, cap);
		if (!b) {
			rx->overlong = true; /* dropped up to its end */
			rx->len = 0;
			return -ENOMEM;
		}
		rx->buf = b;
		rx->cap = cap;
	}
	memcpy(rx->buf + rx->len, p, n);
	rx->len += n;
	return 0;
}

int agent_rx_feed(struct agent_rx *rx, const char *p, size_t n,
		  void (*line)(void *arg, const char *s, size_t len), void *arg)
{
	const char *end = p + n;
	int rc = 0;

	while (p < end) {
		const char *ff = memchr(p, 0xff, (size_t)(end - p));
		const char *nl;

		if (rx->await_ff) {
			if (!ff)
				return rc;
			rx->await_ff = false;
			rx->len = 0;
			rx->overlong = false;
			p = ff + 1;
			continue;
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		if (ff && (!nl || ff < nl)) {
			/* a 0xFF starts over: what came before it is no line */
			rx->len = 0;
			rx->overlong = false;
			p = ff + 1;
			continue;
		}
		if (!nl) {
			if (append(rx, p, (size_t)(end - p)))
				rc = -ENOMEM;
			return rc;
		}
		if (append(rx, p, (size_t)(nl - p)))
			rc = -ENOMEM;
		p = nl + 1;
		if (rx->overlong) {
			rx->dropped++;
			rx->overlong = false;
		} else if (rx->len) {
			rx->buf[rx->len] = '\0';
			line(arg, rx->buf, rx->len);
			/* the callback may have asked for a resync: it cleared len then */
		}
		rx->len = 0;
	}
	return rc;
}

/* Control characters (a terminal's escapes, a log's line breaks) from the guest become '?'. */
static void defang(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = '?';
}

static void copy_str(char *dst, size_t n, json_t *s)
{
	const char *v = json_string_value(s);

	snprintf(dst, n, "%s", v ? v : "");
	defang(dst, strlen(dst));
}

int agent_reply_parse(const char *s, size_t len, struct agent_reply *r)
{
	json_t *o, *ret, *err, *id;
	size_t keys;

	memset(r, 0, sizeof(*r));
	o = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
	if (!o)
		return -EPROTO;
	if (!json_is_object(o))
		goto bad;
	ret = json_object_get(o, "return");
	err = json_object_get(o, "error");
	id = json_object_get(o, "id");
	keys = json_object_size(o);
	if (!!ret == !!err || keys != 1u + !!id)
		goto bad;
	if (err) {
		if (!json_is_object(err))
			goto bad;
		r->is_error = true;
		copy_str(r->err_class, sizeof(r->err_class), json_object_get(err, "class"));
		copy_str(r->err_desc, sizeof(r->err_desc), json_object_get(err, "desc"));
	} else {
		r->ret = json_incref(ret);
	}
	if (id) {
		r->has_id = true;
		if (json_is_integer(id)) {
			r->id_int = true;
			r->id = json_integer_value(id);
		}
	}
	json_decref(o);
	return 0;
bad:
	json_decref(o);
	return -EPROTO;
}

void agent_reply_clear(struct agent_reply *r)
{
	json_decref(r->ret);
	memset(r, 0, sizeof(*r));
}

bool agent_cmd_valid(const char *cmd)
{
	size_t n = cmd ? strlen(cmd) : 0;

	if (n <= 6 || n >= AGENT_CMD_MAX || strncmp(cmd, "guest-", 6))
		return false;
	for (size_t i = 6; i < n; i++)
		if (!((cmd[i] >= 'a' && cmd[i] <= 'z') || (cmd[i] >= '0' && cmd[i] <= '9') ||
		      cmd[i] == '-'))
			return false;
	return true;
}

static char *dump_line(json_t *o, size_t *len, bool ff)
{
	char *s, *out;
	size_t n;

	if (!o)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return NULL;
	n = strlen(s);
	out = malloc(n + 3);
	if (out) {
		size_t k = 0;

		if (ff)
			out[k++] = (char)0xff;
		memcpy(out + k, s, n);
		k += n;
		out[k++] = '\n';
		out[k] = '\0';
		*len = k;
	}
	free(s);
	return out;
}

char *agent_request(const char *cmd, json_t *args, int64_t id, size_t *len)
{
	json_t *o;

	if (!agent_cmd_valid(cmd) || (args && !json_is_object(args)))
		return NULL;
	o = json_pack("{s:s,s:I}", "execute", cmd, "id", (json_int_t)id);
	if (o && args && json_object_set(o, "arguments", args)) {
		json_decref(o);
		return NULL;
	}
	return dump_line(o, len, false);
}

char *agent_sync_request(int64_t id, size_t *len)
{
	return dump_line(json_pack("{s:s,s:{s:I}}", "execute", "guest-sync-delimited",
				   "arguments", "id", (json_int_t)id), len, true);
}

bool agent_sync_match(const struct agent_reply *r, int64_t id)
{
	return !r->is_error && json_is_integer(r->ret) && json_integer_value(r->ret) == id;
}

/* A string of o's key, bounded, as a new json string or null. */
static json_t *str_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	char buf[VIEW_STR_MAX + 1];

	if (!s || n > VIEW_STR_MAX)
		return json_null();
	memcpy(buf, s, n); /* a "\u0000" inside is a control character too */
	defang(buf, n);
	return json_stringn(buf, n);
}

json_t *agent_view_osinfo(json_t *ret)
{
	if (!json_is_object(ret))
		return NULL;
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "name", str_of(ret, "name"),
			 "pretty_name", str_of(ret, "pretty-name"), "version", str_of(ret, "version"),
			 "id", str_of(ret, "id"), "kernel_release", str_of(ret, "kernel-release"),
			 "machine", str_of(ret, "machine"));
}

json_t *agent_view_hostname(json_t *ret)
{
	json_t *h = str_of(ret, "host-name");

	if (json_is_null(h)) {
		json_decref(h);
		return NULL;
	}
	return h;
}

static json_t *view_addresses(json_t *list)
{
	json_t *a = json_array(), *e;
	size_t i;

	json_array_foreach(list, i, e) {
		json_t *p = json_object_get(e, "prefix");

		if (i == 64 || !a)
			break;
		if (!json_is_object(e))
			continue;
		json_array_append_new(a, json_pack("{s:o,s:o,s:o}", "type",
						   str_of(e, "ip-address-type"), "address",
						   str_of(e, "ip-address"), "prefix",
						   json_is_integer(p) && json_integer_value(p) >= 0 &&
						   json_integer_value(p) <= 128 ? json_incref(p) :
						   json_null()));
	}
	return a;
}

json_t *agent_view_interfaces(json_t *ret)
{
	json_t *a, *e;
	size_t i;

	if (!json_is_array(ret) || !(a = json_array()))
		return NULL;
	json_array_foreach(ret, i, e) {
		if (i == 64)
			break;
		if (!json_is_object(e))
			continue;
		json_array_append_new(a, json_pack("{s:o,s:o,s:o}", "name", str_of(e, "name"),
						   "hardware_address", str_of(e, "hardware-address"),
						   "ip_addresses",
						   view_addresses(json_object_get(e, "ip-addresses"))));
	}
	return a;
}

json_t *agent_view_users(json_t *ret)
{
	json_t *a, *e;
	size_t i;

	if (!json_is_array(ret) || !(a = json_array()))
		return NULL;
	json_array_foreach(ret, i, e) {
		json_t *t = json_object_get(e, "login-time");

		if (i == 256)
			break;
		if (!json_is_object(e))
			continue;
		json_array_append_new(a, json_pack("{s:o,s:o,s:o}", "user", str_of(e, "user"),
						   "domain", str_of(e, "domain"), "login_time",
						   json_is_number(t) && json_number_value(t) >= 0 &&
						   json_number_value(t) < 1e12 ?
						   json_integer((json_int_t)json_number_value(t)) :
						   json_null()));
	}
	return a;
}
