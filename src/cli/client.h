/* The CLI client of the server's API (`vsrv vm|disk|net|user|events|login`): libcurl
 * over the local Unix socket by default, or --server URL with a bearer token. */
#ifndef VSRV_CLI_CLIENT_H
#define VSRV_CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

struct client {
	void *curl;
	const char *server;      /* base URL, or NULL for the Unix socket */
	const char *socket;
	const char *token;
	bool json;               /* --output=json */
};

/* Take the global options (--server URL, --token T, --socket PATH, --output json|table)
 * out of argv, wherever they are, and set up cl. Environment: VSRV_SERVER, VSRV_TOKEN,
 * VSRV_SOCKET. Returns 0, or 2 for a usage error (printed). */
int client_init(int *argc, char **argv, struct client *cl);
void client_close(struct client *cl);

/* One API call. body may be NULL (its reference is not stolen). On 2xx returns 0 with
 * *out (may be NULL for 204; caller frees); on an API error prints "vsrv: MESSAGE" and
 * returns 1; on a transport error prints it and returns 1. */
int client_call(struct client *cl, const char *method, const char *path, json_t *body, json_t **out);

/* GET path and pass the bytes to fn as they arrive, until the server ends the stream or
 * fn returns non-zero. Returns 0 or 1 (error printed). */
int client_stream(struct client *cl, const char *path, int (*fn)(const char *buf, size_t n, void *arg),
		  void *arg);

/* Print v as JSON (pretty) on stdout. */
void client_print_json(const json_t *v);

/* Print a table of the objects in array a, with the given columns (field names; the
 * header is the upper-cased name). */
void client_print_table(const json_t *a, const char *const *cols);

/* Print an object as "key: value" lines. */
void client_print_object(const json_t *o);

/* URL-escape one path segment into buf. */
const char *client_seg(const char *s, char *buf, size_t n);

int cmd_vm(int argc, char **argv);
int cmd_disk(int argc, char **argv);
int cmd_net(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_login(int argc, char **argv);

#endif
