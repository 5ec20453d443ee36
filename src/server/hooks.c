/* Event hooks: the queue and the runner thread. See hooks.h; the /api/v1/hooks endpoints
 * are api_hook.c. */
#include "server/hooks.h"
#include "server/inv.h"
#include "server/valid.h"
#include "util/clock.h"
#include "util/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define QMAX 4096
#define NCHILD 64

struct qent {
	int64_t id;
	char *type;
	char *json;
};

struct child {
	pid_t pid;
	double deadline;
	char what[64];
};

struct hooks {
	struct server *srv;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct qent q[QMAX];
	unsigned head, n;
	bool dropping, stop;
	struct child kids[NCHILD];   /* hook thread only */
};

void hooks_queue(struct server *srv, int64_t id, json_t *event)
{
	struct hooks *h = srv->hooks;
	const char *type = json_string_value(json_object_get(event, "type"));
	char *js, *t;

	if (!h || !type)
		return;
	js = json_dumps(event, JSON_COMPACT);
	t = strdup(type);
	pthread_mutex_lock(&h->lock);
	if (!js || !t || h->n == QMAX) {
		if (!h->dropping)
			vsrv_log("event %lld: the hook queue is full; hooks of events are dropped until "
				 "it drains", (long long)id);
		h->dropping = true;
		pthread_mutex_unlock(&h->lock);
		free(js);
		free(t);
		return;
	}
	h->dropping = false;
	h->q[(h->head + h->n) % QMAX] = (struct qent){ id, t, js };
	h->n++;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* Reap finished commands; kill those past their timeout. */
static void reap(struct hooks *h)
{
	double now = clock_mono();

	for (int i = 0; i < NCHILD; i++) {
		struct child *k = &h->kids[i];
		int st;

		if (!k->pid)
			continue;
		if (waitpid(k->pid, &st, WNOHANG) == k->pid) {
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				vsrv_log("hook %s: ended with %s %d", k->what,
					 WIFEXITED(st) ? "status" : "signal",
					 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			k->pid = 0;
		} else if (now > k->deadline) {
			vsrv_log("hook %s: no end after its timeout: killed", k->what);
			kill(-k->pid, SIGKILL);
			kill(k->pid, SIGKILL);
			k->deadline = now + 3600;   /* reaped on a later round */
		}
	}
}

static void run_command(struct hooks *h, int64_t hid, const char *cmd, int timeout,
			const struct qent *e, json_t *ev)
{
	const char *o = json_string_value(json_object_get(ev, "object"));
	const char *m = json_string_value(json_object_get(ev, "message"));
	char *env[7] = { NULL }, *argv[] = { "sh", "-c", (char *)cmd, NULL };
	struct child *k = NULL;
	sigset_t none;
	int p[2], i;
	pid_t pid;

	for (i = 0; i < NCHILD; i++)
		if (!h->kids[i].pid) {
			k = &h->kids[i];
			break;
		}
	if (!k) {
		vsrv_log("hook %lld: %d hook commands still run: event %lld skipped", (long long)hid,
			 NCHILD, (long long)e->id);
		return;
	}
	if (asprintf(&env[0], "VSRV_EVENT=%s", e->json) < 0 ||
	    asprintf(&env[1], "VSRV_EVENT_TYPE=%s", e->type) < 0 ||
	    asprintf(&env[2], "VSRV_EVENT_ID=%lld", (long long)e->id) < 0 ||
	    asprintf(&env[3], "VSRV_EVENT_OBJECT=%s", o ? o : "") < 0 ||
	    asprintf(&env[4], "VSRV_EVENT_MESSAGE=%s", m ? m : "") < 0 ||
	    asprintf(&env[5], "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") < 0)
		goto out;
	if (pipe2(p, O_CLOEXEC) < 0)
		goto out;
	sigemptyset(&none);
	pid = fork();
	if (pid == 0) {
		/* The daemon's threads block its signals (sigwait); the command gets none. */
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		dup2(p[0], 0);
		/* Nothing else of the daemon's: not every fd of its libraries is close-on-exec
		 * (libcurl's socket pair of each etcd client handle kept for the next call). */
		close_range(3, ~0U, 0);
		execve("/bin/sh", argv, env);
		_exit(127);
	}
	close(p[0]);
	if (pid > 0) {
		/* Events are small (messages 1 KiB, console tails 2 KiB): the pipe holds one;
		 * a command that never reads gets EPIPE, not the daemon. */
		size_t len = strlen(e->json), off = 0;

		fcntl(p[1], F_SETFL, O_NONBLOCK);
		while (off < len) {
			ssize_t w = write(p[1], e->json + off, len - off);
			if (w <= 0)
				break;
			off += w;
		}
		k->pid = pid;
		k->deadline = clock_mono() + timeout;
		snprintf(k->what, sizeof(k->what), "%lld (event %lld)", (long long)hid, (long long)e->id);
	}
	close(p[1]);
out:
	for (i = 0; i < 6; i++)
		free(env[i]);
}

static size_t discard(void *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

static void run_webhook(int64_t hid, const char *url, int timeout, const struct qent *e)
{
	CURL *cu = curl_easy_init();
	struct curl_slist *hd = NULL;
	long code = 0;
	char ua[64];
	CURLcode rc;

	if (!cu)
		return;
	snprintf(ua, sizeof(ua), "X-Vsrv-Event: %s", e->type);
	hd = curl_slist_append(hd, "Content-Type: application/json");
	hd = curl_slist_append(hd, ua);
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(cu, CURLOPT_POSTFIELDS, e->json);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT, (long)timeout);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(cu, CURLOPT_USERAGENT, "vsrv-hooks");
	rc = curl_easy_perform(cu);
	if (rc == CURLE_OK)
		curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK || code < 200 || code > 299)
		vsrv_log("hook %lld: POST of event %lld to %s: %s", (long long)hid, (long long)e->id, url,
			 rc != CURLE_OK ? curl_easy_strerror(rc) : "status not 2xx");
	curl_slist_free_all(hd);
	curl_easy_cleanup(cu);
}

/* Whether event id is committed: its writer's transaction may still be open for a moment
 * (the event is recorded with the change it reports); one rolled back never shows. */
static bool committed(struct dbc *c, int64_t id)
{
	for (int i = 0; i < 250; i++) {
		int found = inv_event_exists(c, id);

		if (found < 0)
			return false;
		if (found)
			return true;
		usleep(20000);
	}
	return false;
}

/* What run_hook runs a hook for. */
struct firing {
	struct hooks *h;
	const struct qent *e;
	json_t *ev;
};

static int run_hook(const struct inv_hook *hk, void *arg)
{
	struct firing *f = arg;

	if (hk->url)
		run_webhook(hk->id, hk->url, hk->timeout, f->e);
	else if (hk->command && *hk->command)
		run_command(f->h, hk->id, hk->command, hk->timeout, f->e, f->ev);
	return 0;
}

static void fire(struct hooks *h, struct dbc *c, const struct qent *e)
{
	struct firing f = { .h = h, .e = e };

	if (!committed(c, e->id))
		return;
	f.ev = json_loads(e->json, 0, NULL);
	if (!f.ev)
		return;
	inv_hook_each(c, e->type, run_hook, &f);
	json_decref(f.ev);
}

static void *hooks_thread(void *arg)
{
	struct hooks *h = arg;

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		struct qent e;
		struct dbc *c;

		if (!h->n) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += 200000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&h->cond, &h->lock, &ts);
			pthread_mutex_unlock(&h->lock);
			reap(h);
			pthread_mutex_lock(&h->lock);
			continue;
		}
		e = h->q[h->head];
		h->head = (h->head + 1) % QMAX;
		h->n--;
		pthread_mutex_unlock(&h->lock);
		c = inv_get(h->srv->db);
		if (c) {
			fire(h, c, &e);
			inv_put(c);
		}
		free(e.type);
		free(e.json);
		reap(h);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

int hooks_create(struct server *srv, struct hooks **out)
{
	struct hooks *h = calloc(1, sizeof(*h));
	pthread_condattr_t a;

	if (!h)
		return -ENOMEM;
	h->srv = srv;
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &a);
	pthread_condattr_destroy(&a);
	if (pthread_create(&h->thread, NULL, hooks_thread, h)) {
		pthread_cond_destroy(&h->cond);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return -EAGAIN;
	}
	*out = h;
	return 0;
}

void hooks_destroy(struct hooks *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	h->srv->hooks = NULL;
	for (unsigned i = 0; i < h->n; i++) {
		free(h->q[(h->head + i) % QMAX].type);
		free(h->q[(h->head + i) % QMAX].json);
	}
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
