/* No host path in what a non-administrator reads: http_scrub_paths (server.h). */
#include "server/server.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether c can go on a file name (so dir followed by it names another directory). */
static bool name_char(char c)
{
	return c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') ||
	       ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* s with every occurrence of dir (followed by '/' or the end, or by nothing else a path
 * goes on with, or by a '.' that ends a sentence) replaced by "DATA": a new string, or NULL
 * when there is none (or no memory: then s is kept). */
static char *scrub_str(const char *s, const char *dir, size_t n)
{
	const char *p = s, *q;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	if (!n || !strstr(s, dir))
		return NULL;
	f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	while ((q = strstr(p, dir))) {
		fwrite(p, 1, (size_t)(q - p), f);
		if (!name_char(q[n]) ||
		    (q[n] == '.' && q[n + 1] != '/' && !name_char(q[n + 1])))
			fputs("DATA", f);
		else
			fwrite(q, 1, n, f);         /* another directory that starts the same */
		p = q + n;
	}
	fputs(p, f);
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

void http_scrub_paths(const struct server *srv, json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	if (!srv || !srv->data_dir || !v)
		return;
	if (json_is_string(v)) {
		char *t = scrub_str(json_string_value(v), srv->data_dir, strlen(srv->data_dir));

		if (t)
			json_string_set(v, t);
		free(t);
	} else if (json_is_object(v)) {
		json_object_foreach(v, k, x)
			http_scrub_paths(srv, x);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			http_scrub_paths(srv, x);
	}
}
