/* The API client: transport and output. */
#include "client/client.h"

#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct buf {
	char *p;
	size_t n;
};

static size_t collect(char *data, size_t sz, size_t nm, void *arg)
{
	struct buf *b = arg;
	size_t k = sz * nm;
	char *q = realloc(b->p, b->n + k + 1);

	if (!q)
		return 0;
	b->p = q;
	memcpy(b->p + b->n, data, k);
	b->n += k;
	b->p[b->n] = '\0';
	return k;
}

/* Whether the saved login is for the server or socket cl uses. */
static bool saved_matches(const struct client *cl)
{
	const char *s = json_string_value(json_object_get(cl->saved, "server"));
	const char *k = json_string_value(json_object_get(cl->saved, "socket"));

	if (cl->server)
		return s && !strcmp(s, cl->server);
	return k && cl->socket && !strcmp(k, cl->socket);
}

int client_init(int *argc, char **argv, struct client *cl)
{
	const char *const names[] = { "--server", "--token", "--socket", "--output" };
	const char *arg[4] = { NULL, NULL, NULL, NULL };
	int i, j = 1;

	memset(cl, 0, sizeof(*cl));
	for (i = 1; i < *argc; i++) {
		const char *a = argv[i];
		const char *v = NULL;
		int k, hit = -1;

		if (!strcmp(a, "--")) {
			/* the rest are arguments, "--" included (the command's parser sees it) */
			while (i < *argc)
				argv[j++] = argv[i++];
			break;
		}
		if (!strcmp(a, "--json")) {
			cl->json = true;
			continue;
		}
		for (k = 0; k < 4; k++) {
			size_t l = strlen(names[k]);
			if (!strncmp(a, names[k], l) && (a[l] == '=' || a[l] == '\0')) {
				hit = k;
				if (a[l] == '=')
					v = a + l + 1;
				else if (i + 1 < *argc)
					v = argv[++i];
				break;
			}
		}
		if (hit < 0) {
			argv[j++] = argv[i];
			continue;
		}
		if (!v) {
			fprintf(stderr, "vsrv: %s needs a value\n", names[hit]);
			return 2;
		}
		arg[hit] = v;
		if (hit == 3 && !strcmp(v, "json"))
			cl->json = true;
		else if (hit == 3 && strcmp(v, "table")) {
			fprintf(stderr, "vsrv: --output: '%s' is not json or table\n", v);
			return 2;
		}
	}
	*argc = j;
	argv[j] = NULL;
	/* the command line, then the environment, then the saved login */
	if (arg[0] || arg[2]) {
		cl->server = arg[0];
		cl->socket = arg[2];
	} else {
		cl->server = getenv("VSRV_SERVER");
		cl->socket = getenv("VSRV_SOCKET");
		if (cl->server && !*cl->server)
			cl->server = NULL;
	}
	cl->token = arg[1] ? arg[1] : getenv("VSRV_TOKEN");
	if (client_login_load(&cl->saved) == 0) {
		if (!cl->server && !cl->socket) {
			cl->server = json_string_value(json_object_get(cl->saved, "server"));
			cl->socket = json_string_value(json_object_get(cl->saved, "socket"));
		}
		if (!cl->token && saved_matches(cl))
			cl->token = json_string_value(json_object_get(cl->saved, "token"));
	}
	if (!cl->server && !cl->socket) {
		cl->socket = "/var/lib/vsrv/vsrv.sock";
		cl->fallback = true;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	cl->curl = curl_easy_init();
	return cl->curl ? 0 : 1;
}

void client_close(struct client *cl)
{
	if (cl->curl)
		curl_easy_cleanup(cl->curl);
	cl->curl = NULL;
	json_decref(cl->saved);
	cl->saved = NULL;
	curl_global_cleanup();
}

static struct curl_slist *prepare(struct client *cl, const char *method, const char *path,
				  const char *body)
{
	CURL *c = cl->curl;
	struct curl_slist *h = NULL;
	char url[4096], auth[512];

	curl_easy_reset(c);
	if (cl->server) {
		snprintf(url, sizeof(url), "%s%s", cl->server, path);
	} else {
		snprintf(url, sizeof(url), "http://localhost%s", path);
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, cl->socket);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (cl->token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cl->token);
		h = curl_slist_append(h, auth);
	}
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	if (getenv("VSRV_CACERT"))
		curl_easy_setopt(c, CURLOPT_CAINFO, getenv("VSRV_CACERT"));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	return h;
}

/* The answer of a call performed with rc, its body in b (freed here): as client_call. */
static int answer(struct client *cl, CURLcode rc, struct buf *b, json_t **out)
{
	long status = 0;
	json_t *v;

	if (rc != CURLE_OK) {
		fprintf(stderr, "vsrv: cannot reach the server at %s: %s\n",
			cl->server ? cl->server : cl->socket, curl_easy_strerror(rc));
		if (rc == CURLE_COULDNT_CONNECT && !cl->fallback)
			fprintf(stderr, "vsrv: is vsrv serve running there? ('make run' starts one to "
				"try vsrv; as a service: systemctl start vsrv)\n");
		if (cl->fallback)
			fprintf(stderr, "vsrv: no login is saved and no server given: log in with "
					"'vsrv login --server URL' (or --socket PATH), or set VSRV_SERVER or "
					"VSRV_SOCKET, or give --server or --socket\n");
		free(b->p);
		return 1;
	}
	curl_easy_getinfo(cl->curl, CURLINFO_RESPONSE_CODE, &status);
	v = b->n ? json_loadb(b->p, b->n, 0, NULL) : NULL;
	if (status >= 200 && status < 300) {
		if (!v && b->n) {
			/* not JSON (the console log, the OpenAPI text): hand back as a string */
			v = json_stringn(b->p, b->n);
		}
		free(b->p);
		*out = v;
		return 0;
	}
	{
		const char *msg = json_string_value(json_object_get(json_object_get(v, "error"), "message"));
		fprintf(stderr, "vsrv: %s (HTTP %ld)\n", msg ? msg : "request failed", status);
	}
	json_decref(v);
	free(b->p);
	return 1;
}

int client_call(struct client *cl, const char *method, const char *path, json_t *body, json_t **out)
{
	struct buf b = { 0 };
	struct curl_slist *h;
	char *js = body ? json_dumps(body, JSON_COMPACT) : NULL;
	CURLcode rc;

	*out = NULL;
	h = prepare(cl, method, path, js);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(cl->curl);
	curl_slist_free_all(h);
	free(js);
	return answer(cl, rc, &b, out);
}

static size_t upload_read(char *buf, size_t sz, size_t nm, void *arg)
{
	FILE *f = arg;
	size_t n = fread(buf, 1, sz * nm, f);

	return n == 0 && ferror(f) ? CURL_READFUNC_ABORT : n;
}

int client_upload(struct client *cl, const char *path, FILE *f, long long size, json_t **out)
{
	struct buf b = { 0 };
	struct curl_slist *h;
	CURLcode rc;

	*out = NULL;
	h = prepare(cl, "PUT", path, NULL);
	h = curl_slist_append(h, "Content-Type: application/octet-stream");
	curl_easy_setopt(cl->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(cl->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(cl->curl, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(cl->curl, CURLOPT_READDATA, f);
	if (size >= 0)
		curl_easy_setopt(cl->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEDATA, &b);
	rc = curl_easy_perform(cl->curl);
	curl_slist_free_all(h);
	if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_READ_ERROR) {
		fprintf(stderr, "vsrv: cannot read the file to upload\n");
		free(b.p);
		return 1;
	}
	return answer(cl, rc, &b, out);
}

struct sink {
	int (*fn)(const char *, size_t, void *);
	void *arg;
	long status;
	struct buf err;
	CURL *c;
	bool opened;
};

/* The end of a 200's headers: the stream is open (fn(NULL, 0)). */
static size_t stream_hdr(char *data, size_t sz, size_t nm, void *arg)
{
	struct sink *s = arg;
	long st = 0;

	if (sz * nm <= 2 && (data[0] == '\r' || data[0] == '\n') && !s->opened) {
		curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &st);
		if (st == 200) {
			s->opened = true;
			if (s->fn("", 0, s->arg))
				return 0;
		}
	}
	return sz * nm;
}

static size_t stream_cb(char *data, size_t sz, size_t nm, void *arg)
{
	struct sink *s = arg;
	size_t k = sz * nm;

	if (!s->status)
		curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200)
		return collect(data, sz, nm, &s->err);
	return s->fn(data, k, s->arg) ? 0 : k;
}

int client_stream(struct client *cl, const char *path, int (*fn)(const char *, size_t, void *), void *arg)
{
	struct sink s = { .fn = fn, .arg = arg, .c = cl->curl };
	struct curl_slist *h = prepare(cl, "GET", path, NULL);
	CURLcode rc;

	curl_easy_setopt(cl->curl, CURLOPT_WRITEFUNCTION, stream_cb);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(cl->curl, CURLOPT_HEADERFUNCTION, stream_hdr);
	curl_easy_setopt(cl->curl, CURLOPT_HEADERDATA, &s);
	rc = curl_easy_perform(cl->curl);
	curl_slist_free_all(h);
	if (s.status && s.status != 200) {
		json_t *v = json_loadb(s.err.p ? s.err.p : "", s.err.n, 0, NULL);
		const char *msg = json_string_value(json_object_get(json_object_get(v, "error"), "message"));
		fprintf(stderr, "vsrv: %s (HTTP %ld)\n", msg ? msg : "request failed", s.status);
		json_decref(v);
		free(s.err.p);
		return 1;
	}
	free(s.err.p);
	if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR) {
		fprintf(stderr, "vsrv: stream ended: %s\n", curl_easy_strerror(rc));
		return 1;
	}
	return 0;
}

void client_print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s) {
		puts(s);
		free(s);
	}
}

static void cell(const json_t *v, char *buf, size_t n)
{
	if (json_is_string(v))
		snprintf(buf, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, n, "%.2f", json_real_value(v));
	else if (json_is_true(v))
		snprintf(buf, n, "yes");
	else if (json_is_false(v))
		snprintf(buf, n, "no");
	else if (!v || json_is_null(v))
		snprintf(buf, n, "-");
	else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, n, "%s", s ? s : "?");
		free(s);
	}
}

void client_print_table(const json_t *a, const char *const *cols)
{
	size_t w[16] = { 0 }, i, k, ncol = 0;
	char b[256];
	json_t *o;

	while (cols[ncol] && ncol < 16) {
		w[ncol] = strlen(cols[ncol]);
		ncol++;
	}
	json_array_foreach(a, i, o)
		for (k = 0; k < ncol; k++) {
			cell(json_object_get(o, cols[k]), b, sizeof(b));
			if (strlen(b) > w[k])
				w[k] = strlen(b);
		}
	for (k = 0; k < ncol; k++) {
		for (const char *p = cols[k]; *p; p++)
			putchar(toupper((unsigned char)*p));
		printf("%*s", k + 1 < ncol ? (int)(w[k] - strlen(cols[k]) + 2) : 0, "");
	}
	putchar('\n');
	json_array_foreach(a, i, o) {
		for (k = 0; k < ncol; k++) {
			cell(json_object_get(o, cols[k]), b, sizeof(b));
			printf("%-*s", k + 1 < ncol ? (int)w[k] + 2 : 0, b);
		}
		putchar('\n');
	}
}

/* A field that is a list (not empty): strings on the field's line, comma-separated
 * (permissions: "full, guest-agent"); objects one a line under its name, each as its
 * "key value" pairs (vm show's disks: "disk root, bus virtio-blk, readonly no") */
static void print_array(const char *k, const json_t *a, int depth)
{
	char b[4096], c[512];
	const char *f;
	size_t i, n = 0;
	json_t *e, *v;

	b[0] = '\0';
	json_array_foreach(a, i, e) {
		if (json_is_object(e))
			break;
		cell(e, c, sizeof(c));
		if (n < sizeof(b))
			n += snprintf(b + n, sizeof(b) - n, "%s%s", i ? ", " : "", c);
	}
	if (i == json_array_size(a)) {
		printf("%*s%-*s %s\n", depth * 2, "", 20 - depth * 2, k, b);
		return;
	}
	printf("%*s%s\n", depth * 2, "", k);
	json_array_foreach(a, i, e) {
		n = 0;
		b[0] = '\0';
		if (!json_is_object(e))
			cell(e, b, sizeof(b));
		else
			json_object_foreach(e, f, v) {
				cell(v, c, sizeof(c));
				if (n < sizeof(b))
					n += snprintf(b + n, sizeof(b) - n, "%s%s %s", n ? ", " : "", f, c);
			}
		printf("%*s%s\n", depth * 2 + 2, "", b);
	}
}

/* o's fields, indented by depth levels: an object in a field (disk show's image) as its own
 * fields under the field's name, one a line, rather than as JSON */
static void print_fields(const json_t *o, int depth)
{
	const char *k;
	json_t *v;
	char b[4096];

	json_object_foreach((json_t *)o, k, v) {
		time_t t = json_is_integer(v) ? (time_t)json_integer_value(v) : 0;
		struct tm tm;

		/* the API's times are Unix times: shown in local time, as vm show and events do */
		bool when = t > 0 && (!strcmp(k, "created") || !strcmp(k, "modified") || !strcmp(k, "updated"));

		if (json_is_object(v) && json_object_size(v) && depth < 4) {
			printf("%*s%s\n", depth * 2, "", k);
			print_fields(v, depth + 1);
			continue;
		}
		if (json_is_array(v) && json_array_size(v)) {
			print_array(k, v, depth);
			continue;
		}
		if (json_is_array(v))
			snprintf(b, sizeof(b), "none");
		else
		if (!when || !localtime_r(&t, &tm) || !strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S", &tm))
			cell(v, b, sizeof(b));
		printf("%*s%-*s %s\n", depth * 2, "", 20 - depth * 2, k, b);
	}
}

void client_print_object(const json_t *o)
{
	print_fields(o, 0);
}

const char *client_seg(const char *s, char *buf, size_t n)
{
	size_t o = 0;

	for (; *s && o + 4 < n; s++) {
		unsigned char ch = *s;
		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~')
			buf[o++] = ch;
		else
			o += snprintf(buf + o, n - o, "%%%02X", ch);
	}
	buf[o] = '\0';
	return buf;
}

const char *client_exit_text(const json_t *le, char *buf, size_t n)
{
	const char *s = json_string_value(le);
	int code;

	if (json_is_object(le)) {
		/* the server's record (LastExit): its reason for people, with the monitor's record */
		const char *reason = json_string_value(json_object_get(le, "reason"));
		const char *ex = json_string_value(json_object_get(le, "exit"));
		if (reason && *reason) {
			if (ex && *ex && !strstr(reason, ex))
				snprintf(buf, n, "%s (%s)", reason, ex);
			else
				snprintf(buf, n, "%s", reason);
			return buf;
		}
		s = ex;
	}
	if (!s || !*s) {
		snprintf(buf, n, "-");
		return buf;
	}
	/* `vsrv run`'s status: 0 power-off, (V << 1) | 1 the guest's debug-exit value V, 1 a
	 * host-side failure, 2 a guest crash, 128 + N signal N. */
	if (sscanf(s, "exited %d", &code) == 1) {
		if (code == 0)
			snprintf(buf, n, "powered off (%s)", s);
		else if (code == 1)
			snprintf(buf, n, "failed on the host (%s; see vsrv events)", s);
		else if (code == 2)
			snprintf(buf, n, "guest crashed (%s; see vsrv events)", s);
		else if (code >= 128)
			snprintf(buf, n, "killed by signal %d, %s (%s)", code - 128, strsignal(code - 128), s);
		else if (code & 1)
			snprintf(buf, n, "guest ended with value %d (%s)", code >> 1, s);
		else
			snprintf(buf, n, "%s", s);
	} else if (sscanf(s, "signal %d", &code) == 1) {
		snprintf(buf, n, "killed by signal %d, %s (%s)", code, strsignal(code), s);
	} else {
		snprintf(buf, n, "%s", s);
	}
	return buf;
}
