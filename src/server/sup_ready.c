/* The start-up watcher: 'starting' -> 'running' when the VMM answers. See sup_ready.h. */
#include "server/sup_ready.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/vmagent.h"
#include "server/vmctl.h"
#include "server/vmsave.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/unixsock.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READY_POLL_MS   20     /* between two looks at a VMM that is not up yet */
#define READY_GIVE_UP_S 600    /* a VMM still not answering: left 'starting', logged */

struct ready_vm {
	struct ready_vm *next;
	int64_t id;
	pid_t mon_pid;
	int fd;                 /* a connection to its control socket with "status" sent, or -1 */
	size_t got;
	char reply[512];
	double since;
	char name[64];
	char who[64];
	bool has_who;
};

struct sup_ready {
	struct server *srv;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	struct ready_vm *vms;
};

/* The VMM of e answered: mark it running. 1 when e is settled (promoted, or its state was
 * decided otherwise), 0 to look again (the start that set 'starting' is not committed yet). */
static int promote(struct sup_ready *r, struct ready_vm *e)
{
	struct dbc *c = inv_get(r->srv->db);
	struct inv_vm vm;
	int done = 0, rc;

	if (!c)
		return 0;
	if (inv_begin(c))
		goto out;
	rc = inv_vm_promote(c, e->id, e->mon_pid);
	if (!rc) {
		events_emit(r->srv, c, "vm-started", "vm", e->name, e->has_who ? e->who : NULL,
			    json_pack("{s:i}", "monitor_pid", (int)e->mon_pid), "%s started", e->name);
		done = inv_commit(c) == 0;
		if (done)
			vmagent_watch(r->srv, e->id, e->name); /* its heartbeat (vmagent.h) */
		/* Restored from its saved state and running: the file has served (its memory
		 * stays mapped while the VMM holds it; vmsave.h). A failed restore never gets
		 * here and keeps it. */
		if (done && vmsave_exists(r->srv, e->id, NULL) && vmsave_remove(r->srv, e->id))
			vsrv_log("vm %s: cannot remove its saved state after the restore", e->name);
		goto out;
	}
	inv_rollback(c);
	rc = inv_vm_get(c, e->id, &vm);
	if (rc == -ENOENT) {
		done = 1; /* deleted */
		goto out;
	}
	if (rc)
		goto out;
	/* Its own run, in another state now (stopping, running again after a re-attach); or
	 * another state for longer than a start's transaction could take to commit. */
	if (strcmp(vm.state, INV_VM_STARTING) &&
	    (vm.monitor_pid == e->mon_pid || clock_mono() - e->since > 10))
		done = 1;
	inv_vm_clear(&vm);
out:
	inv_put(c);
	return done;
}

static void hang_up(struct ready_vm *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	e->got = 0;
}

/* Connect to e's control socket and ask for its status, without waiting: the VMM accepts
 * and answers once the VM is built. One connection per VM at a time, kept until then. */
static void ask(struct sup_ready *r, struct ready_vm *e)
{
	static const char req[] = "{\"cmd\":\"status\"}\n";
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	/* ENOENT, ECONNREFUSED: not (re)bound yet; EAGAIN: its backlog is full. */
	if (vmctl_path(r->srv, e->id, path, sizeof(path)) || unixsock_connect(path, true, &e->fd))
		return;
	if (send(e->fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
		hang_up(e);
}

/* Look at e once. 1 when it is settled (drop it), 0 to look again. */
static int look(struct sup_ready *r, struct ready_vm *e)
{
	ssize_t n;

	if (kill(e->mon_pid, 0) < 0 && errno == ESRCH)
		return 1; /* its monitor ended: the supervisor records how */
	if (clock_mono() - e->since > READY_GIVE_UP_S) {
		vsrv_log("vm %s: its VMM did not answer on its control socket in %d s; it stays "
			 "'starting'", e->name, READY_GIVE_UP_S);
		return 1;
	}
	if (e->fd < 0) {
		ask(r, e);
		if (e->fd < 0)
			return 0;
	}
	n = read(e->fd, e->reply + e->got, sizeof(e->reply) - 1 - e->got);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;  /* the VM is still being built */
	if (n <= 0) {
		hang_up(e); /* this VMM went away (a new one may come: its monitor decides) */
		return 0;
	}
	e->got += (size_t)n;
	e->reply[e->got] = '\0';
	if (!strchr(e->reply, '\n') && e->got < sizeof(e->reply) - 1)
		return 0;
	{
		json_t *rep = json_loads(e->reply, JSON_DISABLE_EOF_CHECK, NULL);
		bool up = json_is_true(json_object_get(rep, "ok"));

		json_decref(rep);
		hang_up(e);
		return up ? promote(r, e) : 0;
	}
}

static void *ready_thread(void *arg)
{
	struct sup_ready *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		struct ready_vm *e, **pp;
		struct timespec ts;

		if (!r->vms) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		/* Entries are only added at the head and removed here: walking the list
		 * without the lock held across the look is safe. */
		for (pp = &r->vms; (e = *pp) && !r->stop;) {
			int done;

			pthread_mutex_unlock(&r->lock);
			done = look(r, e);
			pthread_mutex_lock(&r->lock);
			if (done) {
				for (pp = &r->vms; *pp != e; pp = &(*pp)->next)
					;
				*pp = e->next;
				hang_up(e);
				free(e);
			} else {
				pp = &e->next;
			}
		}
		if (!r->vms || r->stop)
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += READY_POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int sup_ready_create(struct server *srv, struct sup_ready **out)
{
	struct sup_ready *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->srv = srv;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if (pthread_create(&r->thread, NULL, ready_thread, r)) {
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return -EAGAIN;
	}
	*out = r;
	return 0;
}

void sup_ready_destroy(struct sup_ready *r)
{
	struct ready_vm *e, *n;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	for (e = r->vms; e; e = n) {
		n = e->next;
		hang_up(e);
		free(e);
	}
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void sup_ready_watch(struct sup_ready *r, int64_t id, pid_t mon_pid, const char *name,
		     const char *who)
{
	struct ready_vm *e;

	if (!r)
		return;
	e = calloc(1, sizeof(*e));
	if (!e) {
		vsrv_log("vm %s: out of memory: it stays 'starting'", name);
		return;
	}
	e->id = id;
	e->mon_pid = mon_pid;
	e->fd = -1;
	e->since = clock_mono();
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (who) {
		snprintf(e->who, sizeof(e->who), "%s", who);
		e->has_who = true;
	}
	pthread_mutex_lock(&r->lock);
	e->next = r->vms;
	r->vms = e;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}
