/* A client of the VMM's control socket: one connection per call. See vmctl.h. */
#include "server/vmctl.h"
#include "server/vmdir.h"
#include "util/clock.h"
#include "util/fdpass.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A reply is one line of at most this (a screenshot's PNG in base64 is the largest). */
#define VMCTL_REPLY_MAX (24 << 20)

int vmctl_path(struct server *srv, int64_t id, char *buf, size_t n)
{
	char dir[4096];
	int rc = vmdir_path(srv, id, dir, sizeof(dir));

	if (rc)
		return rc;
	if (n > sizeof(((struct sockaddr_un *)0)->sun_path))
		n = sizeof(((struct sockaddr_un *)0)->sun_path);
	return snprintf(buf, n, "%s/control.sock", dir) >= (int)n ? -ENAMETOOLONG : 0;
}

int vmctl_call(struct server *srv, int64_t id, const char *cmd, int timeout_ms, json_t **reply)
{
	json_t *msg = json_pack("{s:s}", "cmd", cmd);
	int rc;

	*reply = NULL;
	if (!msg)
		return -ENOMEM;
	rc = vmctl_send(srv, id, msg, timeout_ms, reply);
	json_decref(msg);
	return rc;
}

int vmctl_send(struct server *srv, int64_t id, const json_t *msg, int timeout_ms, json_t **reply)
{
	return vmctl_send_fds(srv, id, msg, NULL, 0, timeout_ms, reply, NULL);
}

int vmctl_send_fds(struct server *srv, int64_t id, const json_t *msg, const int *fds,
		   unsigned nfds, int timeout_ms, json_t **reply, bool *sent)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)], *req, *buf;
	json_t *r;
	int rc;

	*reply = NULL;
	if (sent)
		*sent = false;
	rc = vmctl_path(srv, id, path, sizeof(path));
	if (rc)
		return rc;
	req = json_dumps(msg, JSON_COMPACT);   /* one line: the compact form has no newline */
	if (!req)
		return -ENOMEM;
	rc = fdpass_call(path, req, fds, nfds, timeout_ms, VMCTL_REPLY_MAX, &buf, sent);
	free(req);
	if (rc)
		return rc == -EMSGSIZE ? -EPROTO : rc; /* callers know a bad reply as -EPROTO */
	r = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	free(buf);
	if (!json_is_object(r)) {
		json_decref(r);
		return -EPROTO;
	}
	*reply = r;
	return json_is_true(json_object_get(r, "ok")) ? 0 : -EPROTO;
}

/* The stats cache: open addressing on the VM id, a slot per running VM. */
#define SCACHE 4096
static struct scache {
	int64_t id;
	pid_t pid;
	double t;
	bool busy;
	json_t *st;
} scache[SCACHE];
static pthread_mutex_t scache_lock = PTHREAD_MUTEX_INITIALIZER;

static struct scache *slot(int64_t id)
{
	unsigned h = (unsigned)(id * 2654435761u) % SCACHE;

	for (unsigned i = 0; i < SCACHE; i++) {
		struct scache *e = &scache[(h + i) % SCACHE];
		if (e->id == id || e->id == 0)
			return e;
	}
	return NULL;
}

int vmctl_stats(struct server *srv, int64_t id, pid_t pid, json_t **reply)
{
	struct scache *e;
	double now = clock_mono();
	json_t *st = NULL;
	int rc;

	pthread_mutex_lock(&scache_lock);
	e = slot(id);
	if (e && e->id == id && e->pid == pid && e->st && (now - e->t < 1.0 || e->busy)) {
		*reply = json_incref(e->st);
		pthread_mutex_unlock(&scache_lock);
		return 0;
	}
	if (e) {
		e->id = id;
		e->busy = true;
	}
	pthread_mutex_unlock(&scache_lock);
	rc = vmctl_call(srv, id, "stats", 1000, &st);
	pthread_mutex_lock(&scache_lock);
	if (e && e->id == id) {
		e->busy = false;
		json_decref(e->st);
		e->st = rc ? NULL : json_incref(st);
		e->pid = pid;
		e->t = clock_mono();
	}
	pthread_mutex_unlock(&scache_lock);
	if (rc)
		return rc;
	*reply = st;
	return 0;
}

void vmctl_stats_forget(int64_t id)
{
	struct scache *e;

	pthread_mutex_lock(&scache_lock);
	e = slot(id);
	if (e && e->id == id) {
		json_decref(e->st);
		e->st = NULL;
		e->t = 0;
	}
	pthread_mutex_unlock(&scache_lock);
}
