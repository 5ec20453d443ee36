/* The CLI client of the server's API (`vsrv vm|disk|net|user|events|login`): libcurl
 * over the local Unix socket by default, or --server URL with a bearer token. */
#ifndef VSRV_CLIENT_CLIENT_H
#define VSRV_CLIENT_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct client {
	void *curl;
	const char *server;      /* base URL, or NULL for the Unix socket */
	const char *socket;
	const char *token;
	bool json;               /* --output=json, --json */
	json_t *saved;           /* the saved login (client_login_load), or NULL */
	bool fallback;           /* no server given, none saved: the default socket */
};

/* Take the global options (--server URL, --token T, --socket PATH, --output json|table,
 * --json) out of argv, wherever they are, and set up cl. The command line overrides the
 * environment (VSRV_SERVER, VSRV_TOKEN, VSRV_SOCKET), which overrides the login saved by
 * `vsrv login`; the saved token is sent only to the server it was issued by. Returns 0,
 * or 2 for a usage error (printed). */
int client_init(int *argc, char **argv, struct client *cl);
void client_close(struct client *cl);

/* One API call. body may be NULL (its reference is not stolen). On 2xx returns 0 with
 * *out (may be NULL for 204; caller frees); on an API error prints "vsrv: MESSAGE" and
 * returns 1; on a transport error prints it and returns 1. */
int client_call(struct client *cl, const char *method, const char *path, json_t *body, json_t **out);

/* PUT path with the open file f as the body (size bytes; -1 when unknown: chunked), read
 * as libcurl sends it, never whole in memory; f stays the caller's. Otherwise as
 * client_call. */
int client_upload(struct client *cl, const char *path, FILE *f, long long size, json_t **out);

/* GET path and pass the bytes to fn as they arrive, until the server ends the stream or
 * fn returns non-zero. fn is first called once with n == 0 when the server accepted the
 * stream (its 200 headers arrived). Returns 0 or 1 (error printed). */
int client_stream(struct client *cl, const char *path, int (*fn)(const char *buf, size_t n, void *arg),
		  void *arg);

/* Print v as JSON (pretty) on stdout. */
void client_print_json(const json_t *v);

/* Print a table of the objects in array a, with the given columns (field names; the
 * header is the upper-cased name). */
void client_print_table(const json_t *a, const char *const *cols);

/* Print an object as "key value" lines; the times "created", "modified" and "updated"
 * (Unix times) in local time; a field that is an object as its own lines, indented under
 * the field's name; a list of strings comma-separated, of objects one a line, an empty
 * one "none". */
void client_print_object(const json_t *o);

/* URL-escape one path segment into buf. */
const char *client_seg(const char *s, char *buf, size_t n);

/* A password: given (--password) if not NULL, else VSRV_PASSWORD, else asked on the
 * terminal without echo, else a line of stdin. Returns a static buffer or NULL. */
char *client_password(const char *given);

/* The saved login: $XDG_CONFIG_HOME/vsrv/login.json (default ~/.config/vsrv/), mode 0600,
 * {"server" or "socket", "user", "token"}. The path into buf: 0, or -ENOENT when neither
 * XDG_CONFIG_HOME nor HOME is set. */
int client_login_path(char *buf, size_t n);
/* Read the saved login into *out (caller frees): 0, -ENOENT when there is none, or -errno
 * (-EINVAL for a file that is not a JSON object). */
int client_login_load(json_t **out);

/* Print a VM's last exit ("exited 2", "signal 9", ...) for people into buf: what it means
 * for a VM run by `vsrv run`. Returns buf ("-" when there is none). */
const char *client_exit_text(const json_t *last_exit, char *buf, size_t n);

#endif
