/* The web console's files (web/, embedded into the server at build time), served at /ui/. */
#ifndef VSRV_SERVER_WEB_H
#define VSRV_SERVER_WEB_H

#include <stdbool.h>

struct MHD_Connection;
struct MHD_Response;

/* Is url one the web console answers: "/", "/ui" or anything under "/ui/"? */
bool web_owns(const char *url);

/* Queue the answer for a url web_owns: "/" and "/ui" redirect to /ui/; GET or HEAD of
 * /ui/ (index.html) or /ui/NAME, NAME one of the embedded files (compared as a whole
 * string: no path is ever built from the url), gets the file with its type, an ETag
 * (304 on If-None-Match) and the security headers; other names 404, other methods 405.
 * The files are public: the API behind them still wants its bearer token. Returns
 * libmicrohttpd's MHD_YES or MHD_NO (as an int). The response is MHD's; nothing to free. */
int web_serve(struct MHD_Connection *conn, const char *method, const char *url);

/* Add the headers that depend on the transport to resp: over TLS, Strict-Transport-Security
 * (browsers then never fall back to plain HTTP for this host). Every response of the
 * server goes through it. */
void web_transport_headers(struct MHD_Connection *conn, struct MHD_Response *resp);

#endif
