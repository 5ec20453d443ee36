/* A trace of what a sequence of inventory calls returned, one line each, so that the same
 * sequence run on two backends (SQLite, etcd) can be compared line by line:
 *   struct trace t = { 0 };
 *   trace(&t, "create %d", inv_user_create(...));
 *   trace_compare(&sqlite_trace, &etcd_trace);   -> CHECK of the first line that differs
 * trace_sorted_begin/end sort the lines traced between them (for lists in no set order).
 * Include after check.h. */
#ifndef VSRV_TESTS_UNIT_INVTRACE_H
#define VSRV_TESTS_UNIT_INVTRACE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/etcd.h"
#include "server/inv.h"

#include <unistd.h>

struct trace {
	char *buf;
	size_t len, cap;
	size_t sort_from;
	int lines;
};

static void __attribute__((format(printf, 2, 3))) trace(struct trace *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (t->len + n + 2 > t->cap) {
		size_t cap = (t->len + n + 2) * 2;
		char *b = realloc(t->buf, cap);

		if (!b)
			abort();
		t->buf = b;
		t->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, n + 1, fmt, ap);
	va_end(ap);
	t->len += n;
	t->buf[t->len++] = '\n';
	t->buf[t->len] = '\0';
	t->lines++;
}

static void __attribute__((unused)) trace_sorted_begin(struct trace *t)
{
	t->sort_from = t->len;
}

static int trace_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void __attribute__((unused)) trace_sorted_end(struct trace *t)
{
	char *part, *p, **v = NULL, *out;
	size_t n = 0, i, off = 0, plen = t->len - t->sort_from;

	if (!plen)
		return;
	part = strndup(t->buf + t->sort_from, plen);
	out = malloc(plen + 1);
	if (!part || !out)
		abort();
	for (p = strtok(part, "\n"); p; p = strtok(NULL, "\n")) {
		v = realloc(v, (n + 1) * sizeof(*v));
		if (!v)
			abort();
		v[n++] = p;
	}
	qsort(v, n, sizeof(*v), trace_cmp);
	for (i = 0; i < n; i++)
		off += sprintf(out + off, "%s\n", v[i]);
	memcpy(t->buf + t->sort_from, out, off);
	t->len = t->sort_from + off;
	t->buf[t->len] = '\0';
	free(v);
	free(part);
	free(out);
}

/* CHECK that a (the reference) and b hold the same lines; print the first that differs. */
#define trace_compare(a, b) do { \
	const char *_x = (a)->buf ? (a)->buf : "", *_y = (b)->buf ? (b)->buf : ""; \
	int _line = 1; \
	while (*_x && *_x == *_y) { if (*_x == '\n') _line++; _x++; _y++; } \
	if (*_x || *_y) { \
		printf("  trace line %d differs:\n    sqlite: %.*s\n    etcd:   %.*s\n", _line, \
		       (int)strcspn(_x, "\n"), _x, (int)strcspn(_y, "\n"), _y); \
		while (_x > ((a)->buf ? (a)->buf : "") && _x[-1] != '\n') _x--; \
		while (_y > ((b)->buf ? (b)->buf : "") && _y[-1] != '\n') _y--; \
		printf("    sqlite line: %.*s\n    etcd line:   %.*s\n", \
		       (int)strcspn(_x, "\n"), _x, (int)strcspn(_y, "\n"), _y); \
	} \
	CHECK(!*_x && !*_y); \
	CHECK((a)->lines > 10); \
} while (0)

/* With INVTRACE_DIR set, write the trace to $INVTRACE_DIR/name (to diff by hand). */
static void __attribute__((unused)) trace_dump(const struct trace *t, const char *name)
{
	const char *dir = getenv("INVTRACE_DIR");
	char path[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(t->buf ? t->buf : "", f);
		fclose(f);
	}
}

static void __attribute__((unused)) trace_free(struct trace *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

/* etcd_range: count the keys. */
static int __attribute__((unused)) count_kv(const struct etcd_kv *kv, void *arg)
{
	(void)kv;
	(*(int *)arg)++;
	return 0;
}

/* Run the scenarios (NULL-terminated) on a fresh SQLite inventory and on the etcd
 * inventory under prefix of endpoints, dump both traces (NAME-sqlite, NAME-etcd) and compare
 * them: the same calls must give the same trace. */
static void __attribute__((unused)) trace_both(const char *endpoints, const char *prefix,
					       const char *name,
					       void (*const *scen)(struct db *db, struct trace *t))
{
	struct trace ts = { 0 }, te = { 0 };
	struct db *sq = NULL, *et = NULL;
	char path[] = "/tmp/vsrv-inv-trace-XXXXXX", label[64];
	int fd = mkstemp(path), i;

	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_EQ(inv_open(path, &sq), 0);
	CHECK_EQ(inv_etcd_open(endpoints, prefix, 2000, &et), 0);
	if (sq && et) {
		for (i = 0; scen[i]; i++)
			scen[i](sq, &ts);
		for (i = 0; scen[i]; i++)
			scen[i](et, &te);
		snprintf(label, sizeof(label), "%s-sqlite", name);
		trace_dump(&ts, label);
		snprintf(label, sizeof(label), "%s-etcd", name);
		trace_dump(&te, label);
		trace_compare(&ts, &te);
	}
	inv_close(sq);
	inv_close(et);
	unlink(path);
	trace_free(&ts);
	trace_free(&te);
}

#endif
