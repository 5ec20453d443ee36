/* The web console: serves the files of web/ that mk/web-embed.sh embedded into the
 * binary. Names are looked up in a fixed table, so a url can only ever reach one of
 * those files (no path is built from it, no file system access). */
#include "server/web.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct web_file {
	const char *name;
	const char *start, *end;
};

#include "web_assets.h"

#define NFILES (sizeof(web_files) / sizeof(web_files[0]) - 1)

/* Strict: everything from this origin only, no inline script, no framing. Images also from
 * blob: (screenshots the page fetched with its token) and data: (noVNC draws the guest's
 * pointer into a data: URL cursor). Inline style
 * only: xterm.js (the serial console) writes its colours and cell sizes into <style>
 * elements and style attributes it makes itself, and has no way to take a nonce; script
 * stays 'self' only, and nothing from the server or a guest becomes markup (web/dom.mjs). */
#define CSP "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " \
	    "img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " \
	    "frame-ancestors 'none'"

static char etags[NFILES + 1][24];
static pthread_once_t etag_once = PTHREAD_ONCE_INIT;

/* An ETag per file: FNV-1a over its bytes, computed once. */
static void etag_init(void)
{
	for (size_t i = 0; i < NFILES; i++) {
		uint64_t h = 0xcbf29ce484222325ULL;

		for (const char *p = web_files[i].start; p < web_files[i].end; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
		snprintf(etags[i], sizeof(etags[i]), "\"%016llx\"", (unsigned long long)h);
	}
}

static const char *mime_of(const char *name)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },      /* noVNC's modules */
		{ ".svg", "image/svg+xml" },
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

bool web_owns(const char *url)
{
	return !strcmp(url, "/") || !strcmp(url, "/ui") || !strncmp(url, "/ui/", 4);
}

static void add_security_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", CSP);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
}

void web_transport_headers(struct MHD_Connection *conn, struct MHD_Response *resp)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);

	if (ci && ci->tls_session)
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
}

static int queue(struct MHD_Connection *conn, unsigned status, const char *type,
		 const char *body, size_t len, const char *etag, const char *location)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	add_security_headers(resp);
	web_transport_headers(conn, resp);
	if (type)
		MHD_add_response_header(resp, "Content-Type", type);
	if (etag) {
		/* Revalidate every time (cheap: 304), so a new server never runs old script. */
		MHD_add_response_header(resp, "ETag", etag);
		MHD_add_response_header(resp, "Cache-Control", "no-cache");
	} else {
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	}
	if (location)
		MHD_add_response_header(resp, "Location", location);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, "Allow", "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

#define ERR_JSON(code, msg) "{\"error\":{\"code\":\"" code "\",\"message\":\"" msg "\"}}\n"

int web_serve(struct MHD_Connection *conn, const char *method, const char *url)
{
	static const char not_found[] = ERR_JSON("not_found", "no such file in the web console");
	static const char bad_method[] = ERR_JSON("method_not_allowed",
						  "the web console's files take GET and HEAD only");
	const char *name, *inm;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return queue(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", bad_method,
			     sizeof(bad_method) - 1, NULL, NULL);
	if (!strcmp(url, "/") || !strcmp(url, "/ui"))
		return queue(conn, MHD_HTTP_FOUND, "text/plain; charset=utf-8", "", 0, NULL, "/ui/");
	name = url + 4;
	if (!*name)
		name = "index.html";
	pthread_once(&etag_once, etag_init);
	for (size_t i = 0; i < NFILES; i++) {
		if (strcmp(name, web_files[i].name))
			continue;
		inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
		if (inm && !strcmp(inm, etags[i]))
			return queue(conn, MHD_HTTP_NOT_MODIFIED, NULL, "", 0, etags[i], NULL);
		return queue(conn, MHD_HTTP_OK, mime_of(name), web_files[i].start,
			     web_files[i].end - web_files[i].start, etags[i], NULL);
	}
	return queue(conn, MHD_HTTP_NOT_FOUND, "application/json", not_found,
		     sizeof(not_found) - 1, NULL, NULL);
}
