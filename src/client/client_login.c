/* `vsrv login` and `vsrv logout`, and the saved login they write and remove
 * ($XDG_CONFIG_HOME/vsrv/login.json, mode 0600). */
#include "client/client_opt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static int config_dir(char *buf, size_t n)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");

	if (x && x[0] == '/')
		snprintf(buf, n, "%s/vsrv", x);
	else if (h && *h)
		snprintf(buf, n, "%s/.config/vsrv", h);
	else
		return -ENOENT;
	return 0;
}

int client_login_path(char *buf, size_t n)
{
	char d[4000];
	int rc = config_dir(d, sizeof(d));

	if (!rc)
		snprintf(buf, n, "%s/login.json", d);
	return rc;
}

int client_login_load(json_t **out)
{
	char p[4096];
	json_error_t e;
	json_t *v;

	*out = NULL;
	if (client_login_path(p, sizeof(p)))
		return -ENOENT;
	if (access(p, F_OK))
		return -errno;
	v = json_load_file(p, 0, &e);
	if (!json_is_object(v)) {
		fprintf(stderr, "vsrv: ignoring %s: %s\n", p, v ? "not a JSON object" : e.text);
		json_decref(v);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* mkdir -p for the configuration directory (0700 for what it creates). */
static int mkdirs(char *d)
{
	char *s;

	for (s = strchr(d + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		if (mkdir(d, 0700) && errno != EEXIST)
			return -errno;
		if (!s)
			return 0;
		*s = '/';
	}
}

/* Write login atomically with mode 0600: a temporary file in the directory, renamed. */
static int login_save(const json_t *login, char *path, size_t n)
{
	char d[4000], tmp[4200];
	int fd, rc;

	if (config_dir(d, sizeof(d)))
		return -ENOENT;
	if ((rc = mkdirs(d)))
		return rc;
	snprintf(path, n, "%s/login.json", d);
	snprintf(tmp, sizeof(tmp), "%s/.login.json.%d", d, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) || json_dumpfd(login, fd, JSON_INDENT(2)) || write(fd, "\n", 1) != 1 ||
	    fsync(fd)) {
		rc = errno ? -errno : -EIO;
		close(fd);
		unlink(tmp);
		return rc;
	}
	close(fd);
	if (rename(tmp, path)) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	return 0;
}

static int login_run(struct client *cl, struct opt_res *r)
{
	const struct opt_val *u = opt_get(r, "user"), *p = opt_get(r, "password");
	json_t *out = NULL, *body, *saved;
	const char *pw, *tok;
	char path[4096];
	int rc;

	pw = client_password(p ? p->str : NULL);
	body = json_pack("{s:s,s:s}", "user", u->str, "password", pw ? pw : "");
	cl->token = NULL; /* a login needs none, and an old one must not be sent */
	rc = client_call(cl, "POST", "/api/v1/login", body, &out);
	json_decref(body);
	if (rc)
		goto out;
	tok = json_string_value(json_object_get(out, "token"));
	if (!tok) {
		fprintf(stderr, "vsrv: the server answered no token\n");
		rc = 1;
		goto out;
	}
	if (cl->json) {
		client_print_json(out);
		if (opt_get(r, "no-save"))
			goto out;
	} else if (opt_get(r, "no-save")) {
		printf("export VSRV_TOKEN=%s\n", tok);
		if (cl->server)
			printf("export VSRV_SERVER=%s\n", cl->server);
		else
			printf("export VSRV_SOCKET=%s\n", cl->socket);
		goto out;
	}
	saved = json_pack("{s:s,s:s}", "user", u->str, "token", tok);
	json_object_set_new(saved, cl->server ? "server" : "socket",
			    json_string(cl->server ? cl->server : cl->socket));
	rc = login_save(saved, path, sizeof(path));
	json_decref(saved);
	if (rc) {
		char d[4096] = "the configuration directory";
		client_login_path(d, sizeof(d));
		fprintf(stderr, "vsrv: cannot save the login in %s: %s (use --no-save)\n", d, strerror(-rc));
		rc = 1;
		goto out;
	}
	fprintf(stderr, "logged in to %s as %s; saved in %s (vsrv logout forgets it)\n",
		cl->server ? cl->server : cl->socket, u->str, path);
out:
	json_decref(out);
	return rc;
}

/* The saved login if there is one (its token, on its server; the file goes), else the
 * token of --token or VSRV_TOKEN. */
static int logout_run(struct client *cl, struct opt_res *r)
{
	const char *tok = json_string_value(json_object_get(cl->saved, "token"));
	char path[4096];
	json_t *out = NULL;
	int rc = 0;

	(void)r;
	if (client_login_path(path, sizeof(path)))
		path[0] = '\0';
	if (tok) {
		cl->server = json_string_value(json_object_get(cl->saved, "server"));
		cl->socket = json_string_value(json_object_get(cl->saved, "socket"));
		cl->token = tok;
	} else if (!cl->token) {
		fprintf(stderr, "vsrv: not logged in (no saved login%s%s, no --token or VSRV_TOKEN)\n",
			path[0] ? " in " : "", path);
		return 1;
	}
	if (!cl->server && !cl->socket) {
		fprintf(stderr, "vsrv: the saved login %s names no server; removing it\n", path);
	} else if (client_call(cl, "POST", "/api/v1/logout", NULL, &out)) {
		/* the token ends on the server first; the file goes whatever the server says */
		fprintf(stderr, "vsrv: the server did not end the token%s\n", tok ? "; forgetting it here anyway" : "");
		rc = tok ? 0 : 1;
	}
	json_decref(out);
	if (!tok) {
		fprintf(stderr, "logged out (the token of --token or VSRV_TOKEN)\n");
		return rc;
	}
	if (unlink(path) && errno != ENOENT) {
		fprintf(stderr, "vsrv: cannot remove %s: %s\n", path, strerror(errno));
		return 1;
	}
	fprintf(stderr, "logged out; removed %s\n", path);
	return rc;
}

static const struct opt login_opts[] = {
	{ "user", 'u', OPT_STR, "NAME", "the user to log in as (required)", NULL, false },
	{ "password", 'p', OPT_STR, "PASSWORD",
	  "the password (else VSRV_PASSWORD, else asked on the terminal, else read from stdin)", NULL, false },
	{ "no-save", 0, OPT_FLAG, NULL,
	  "do not save the login; print export VSRV_TOKEN=... and VSRV_SERVER=... lines for a shell", NULL,
	  false },
	{ NULL },
};

static int login_check(struct client *cl, struct opt_res *r)
{
	if (!opt_get(r, "user"))
		return opt_usage_error(r, "--user NAME is required");
	return login_run(cl, r);
}

static const struct opt_cmd login_cmds[] = {
	{ "", NULL, 0, 0, "Log in to a server and save the login for the next commands.",
	  "The server is --server URL (or VSRV_SERVER), else the local Unix socket. The login (the "
	  "server and a bearer token) is saved in $XDG_CONFIG_HOME/vsrv/login.json (default "
	  "~/.config/vsrv/login.json, mode 0600); later commands use it unless --server, --socket, "
	  "--token or VSRV_SERVER, VSRV_SOCKET, VSRV_TOKEN say otherwise. The token expires on the "
	  "server's schedule; log in again then.",
	  login_opts, login_check },
	{ NULL },
};

static const struct opt_cmd logout_cmds[] = {
	{ "", NULL, 0, 0, "End the saved login: the server forgets its token and the saved file is removed.",
	  "Without a saved login, the token of --token or VSRV_TOKEN ends.", NULL, logout_run },
	{ NULL },
};

const struct opt_group login_group = { "login", "log in to a vsrv server", NULL, login_cmds };
const struct opt_group logout_group = { "logout", "end the saved login", NULL, logout_cmds };
