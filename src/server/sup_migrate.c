/* Live migration between the hosts of a cluster (migrate.h; docs/cluster.md "Live
 * migration"): the destination's preparation, abort and take-over, and the source's task. */
#include "server/migrate.h"
#include "server/sup.h"
#include "server/sup_int.h"
#include "server/cgroup.h"
#include "server/cluster.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/diskimg.h"
#include "server/layers.h"
#include "server/sup_exit.h"
#include "server/tasks.h"
#include "server/vmagent.h"
#include "server/vmctl.h"
#include "server/vmdir.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/unixsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MIG_READY_MS 15000          /* an incoming VMM listens within this */
#define MIG_INCOMING_MAX_S (3600 + 300) /* the source's migrate ends within an hour */

struct reaper {
	struct server *srv;
	int64_t id;
	pid_t pid;
	char name[64], from[64];
};

static int commit_alone(struct reaper *r)
{
	struct dbc *c = inv_get(r->srv->db);
	char err[600] = "";
	int rc = c ? migrate_incoming_commit(r->srv, c, r->id, r->name, NULL, err, sizeof(err))
		   : -EIO;

	if (!rc)
		vsrv_log("vm %s: handed over here but no commit came from the source: its run "
			 "here recorded", r->name);
	else if (rc != -ENOENT)
		vsrv_log("vm %s: cannot record its run here: %s", r->name, err);
	if (c)
		inv_put(c);
	return rc;
}

/* An incoming run lives only while the VM's ownership key is the source's: once it is
 * nobody's (the source died, its lease gone: failover may start the VM elsewhere) or a
 * third host's, its VMM is killed. One that no source committed or aborted is killed too
 * once the source's migrate must have ended (migrate_task.c waits up to an hour for its
 * VMM; the VMM waits for a connection for ever). Once the key is this host's (the
 * hand-over), the source's commit is waited for 10 s, then this host commits by itself,
 * again every second while that cannot be recorded (etcd does not answer). Ends then, or
 * when the run has gone. */
static void *reap_incoming(void *arg)
{
	struct reaper *r = arg;
	const char *me = cluster_name(r->srv->cluster);
	char owner[64];
	const char *why = NULL;
	int s, rc, handed = -1;

	for (s = 0; s < MIG_INCOMING_MAX_S && !r->srv->stopping && !why; s++) {
		sleep(1);
		if (r->srv->stopping || !sup_incoming_add(r->srv, r->id, "", 0, false))
			break;          /* no run of it here any more */
		rc = cluster_vm_owner(r->srv->cluster, r->name, owner, sizeof(owner));
		if (!rc && !strcmp(owner, me)) {
			/* handed over: the source's commit makes it this host's run; without
			 * one within 10 s (the source died after the Txn), this host does */
			if (handed < 0)
				handed = s;
			if (s - handed >= 10 && (rc = commit_alone(r)) != -EAGAIN && rc != -EIO &&
			    rc != -ETIMEDOUT)
				break;
			continue;
		}
		if (rc == -ENOENT)
			why = "its ownership key has gone (the source's lease ended)";
		else if (!rc && strcmp(owner, r->from))
			why = "another host holds its ownership key";
	}
	if (s >= MIG_INCOMING_MAX_S)
		why = "not handed over within the migration's time";
	if (why && !r->srv->stopping && !sup_incoming_add(r->srv, r->id, "", r->pid, true))
		vsrv_log("vm %s: the incoming migration's VMM (monitor pid %d) killed: %s",
			 r->name, (int)r->pid, why);
	free(r);
	return NULL;
}

/* A free TCP port on host (the kernel's choice for a bind to port 0): 0 and *port, -errno. */
static int free_port(const char *host, char *ip, size_t iplen, int *port)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, rc = 0;

	if (getaddrinfo(host, "0", &hints, &ai) || !ai)
		return -EADDRNOTAVAIL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		rc = -errno;
	if (!rc && !inet_ntop(AF_INET, &sa.sin_addr, ip, (socklen_t)iplen))
		rc = -errno;
	if (!rc)
		*port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

/* Whether a VMM listens on VM id's control socket (it opens it after its incoming socket:
 * src/cli/run.c), without a command: only connect. */
static bool control_listens(struct server *srv, int64_t id)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;

	if (vmctl_path(srv, id, path, sizeof(path)) || unixsock_connect(path, false, &fd))
		return false;
	close(fd);
	return true;
}

/* The last non-empty line of DIR/console.log (the VMM's messages go there too) into buf. */
static void log_tail(const char *dir, char *buf, size_t n)
{
	char p[4200], b[2048], *e, *s;
	FILE *f;
	size_t r;

	snprintf(buf, n, "no message");
	snprintf(p, sizeof(p), "%s/console.log", dir);
	f = fopen(p, "re");
	if (!f)
		return;
	if (fseek(f, -(long)(sizeof(b) - 1), SEEK_END))
		rewind(f);
	r = fread(b, 1, sizeof(b) - 1, f);
	fclose(f);
	b[r] = '\0';
	for (e = b + r; e > b && (e[-1] == '\n' || e[-1] == ' '); e--)
		*(e - 1) = '\0';
	s = strrchr(b, '\n');
	s = s ? s + 1 : b;
	if (*s)
		snprintf(buf, n, "%.300s", s);
}

/* Whether process pid lives (not a zombie). Its state, not its command line: that reads as
 * empty for a moment while it execs. */
static bool alive(pid_t pid)
{
	char path[64], b[256], *rp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (sup_read_small(path, b, sizeof(b)))
		return false;
	rp = strrchr(b, ')');
	return rp && rp[1] == ' ' && rp[2] && rp[2] != 'Z' && rp[2] != 'X';
}

/* Append --incoming URI to argv (NULL-terminated, sup_build_argv's: room for it). */
static int add_incoming(char **argv, const char *uri)
{
	size_t n = 0;

	while (argv[n])
		n++;
	if (n + 2 >= 110)
		return -E2BIG;
	argv[n] = strdup("--incoming");
	argv[n + 1] = strdup(uri);
	return argv[n] && argv[n + 1] ? 0 : -ENOMEM;
}

/* The incoming run of VM id whose monitor is pid: the record names the source's monitor
 * (prior, when > 0: its end recorded all the same once handed over: sup.c), and with again it is
 * incoming again (a hand-over whose commit failed: the source's next try, or this host's
 * own, records it). */
static void incoming_prior(struct server *srv, int64_t id, pid_t pid, pid_t prior, bool again)
{
	struct supervisor *s = srv->sup;
	struct runvm *v;

	pthread_mutex_lock(&s->lock);
	v = sup_find(s, id);
	if (v && v->mon_pid == pid) {
		if (prior > 0)
			v->prior_pid = prior;
		v->incoming |= again;
	}
	pthread_mutex_unlock(&s->lock);
}

/* sup_int.h */
int sup_mark_migrate(struct server *srv, int64_t id, int set)
{
	struct supervisor *s = srv->sup;
	struct runvm *v;
	int rc = -EBUSY;

	pthread_mutex_lock(&s->lock);
	v = sup_find(s, id);
	if (v && v->mon_pid > 0 && !v->stop_req && !v->reset_req && !v->save_req &&
	    (set < 0 ? v->incoming : set ? !v->migrate_req && !v->incoming : v->migrate_req)) {
		if (set < 0)
			v->incoming = false;
		else
			v->migrate_req = set;
		rc = v->mon_pid;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sup_incoming_add(struct server *srv, int64_t id, const char *name, pid_t pid, bool kill_it)
{
	struct supervisor *s = srv->sup;
	struct runvm *v;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	v = sup_find(s, id);
	if (kill_it) {
		if (v && v->incoming && v->mon_pid > 0 && (pid <= 0 || v->mon_pid == pid))
			sup_kill_session(v);
		else
			rc = -ENOENT;
	} else if (v) {
		rc = -EBUSY;
	} else if (pid <= 0) {
		rc = 0;         /* only asked whether it has a run here */
	} else if (!(v = calloc(1, sizeof(*v)))) {
		rc = -ENOMEM;
	} else {
		*v = (struct runvm){ .next = s->vms, .id = id, .mon_pid = pid, .ours = true,
				     .incoming = true, .started = clock_mono(), .pidfd = -1 };
		snprintf(v->name, sizeof(v->name), "%s", name);
		s->vms = v;
		if (sup_watch(s, v))
			vsrv_log("vm %s: cannot watch its monitor (pid %d)", name, (int)pid);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

struct copy_prep {
	struct dbc *c;
	int64_t id;
	char *err;
	size_t errlen;
	int made;
};

/* inv_vm_disks: a writable disk whose contents the source copies needs an image of its
 * own here at the same path with the same virtual size: made (empty, sparse: a dynamic
 * VHD or a sparse raw file) when missing; one that exists is left to the VMM's check. */
static int copy_prep_disk(const struct inv_vm_disk *d, void *arg)
{
	struct copy_prep *cp = arg;
	struct inv_disk disk;
	char top[4400];
	uint64_t actual;
	bool is_top = false;
	int rc;

	if (d->readonly)
		return 0;       /* not copied: the destination needs its own copy (docs) */
	rc = layers_top_path(cp->c, cp->id, d->disk_id, d->path, top, sizeof(top), &is_top);
	if (rc)
		return rc;
	if (is_top) {
		snprintf(cp->err, cp->errlen, "disk %s runs on a snapshot's layer: a copy of its "
			 "disks needs flat images (migrate it with shared storage)", d->disk);
		return -EBUSY;
	}
	if (!access(d->path, F_OK))
		return 0;
	rc = inv_disk_get(cp->c, d->disk_id, &disk);
	if (!rc)
		rc = diskimg_create(d->path, d->format, !strcmp(d->format, "vhd") ? "dynamic" :
				    NULL, (uint64_t)disk.size, &actual, cp->err, cp->errlen);
	if (rc) {
		if (!*cp->err)
			snprintf(cp->err, cp->errlen, "disk %s: cannot make its image %s here: %s",
				 d->disk, d->path, strerror(-rc));
		return rc;
	}
	cp->made++;
	return 0;
}

bool sup_incoming_handed_over(struct server *srv, const char *name)
{
	char owner[64];

	return srv->cluster && !cluster_vm_owner(srv->cluster, name, owner, sizeof(owner)) &&
	       !strcmp(owner, cluster_name(srv->cluster));
}

int migrate_incoming_prepare(struct server *srv, struct dbc *c, int64_t id, const char *name,
			     const char *from, const char *disks, char *addr, size_t addrlen,
			     char *err, size_t errlen)
{
	char owner[64] = "", dir[4096], link[4200], ip[64], uri[128], nm[64], tail[400];
	const char *me = cluster_name(srv->cluster), *deadline;
	struct inv_vm vm;
	char **argv = NULL;
	int64_t need;
	pid_t pid = 0, source;
	int rc, port, ms;
	bool up;

	rc = cluster_vm_owner(srv->cluster, name, owner, sizeof(owner));
	if (rc == -ENOENT || (!rc && !strcmp(owner, me)) || (!rc && from && strcmp(owner, from))) {
		snprintf(err, errlen, "%s: %s", name, rc ? "runs on no host (no host holds its "
			 "ownership key)" : !strcmp(owner, me) ? "runs on this host already" :
			 "runs on another host than the source");
		return -EBUSY;
	}
	if (rc) {
		snprintf(err, errlen, "the cluster's store (etcd) does not answer: %s",
			 strerror(-rc));
		return rc;
	}
	rc = inv_vm_get(c, id, &vm);
	if (rc) {
		snprintf(err, errlen, "%s: cannot read it: %s", name, strerror(-rc));
		return rc;
	}
	up = inv_vm_state_up(vm.state);
	need = inv_vm_reserved_mib(&vm);
	source = vm.monitor_pid;
	inv_vm_clear(&vm);
	if (!up) {
		snprintf(err, errlen, "%s: it is not running", name);
		return -EBUSY;
	}
	if (sup_incoming_add(srv, id, name, 0, false)) {
		snprintf(err, errlen, "%s: a run of it is under this host's supervisor already",
			 name);
		return -EBUSY;
	}
	if (sup_reservation_used(srv, c, id) + need > (int64_t)srv->host_mem_mib) {
		snprintf(err, errlen, "%s: its memory reservation (%lld MiB) exceeds what host %s "
			 "has left", name, (long long)need, me);
		return -ENOSPC;
	}
	rc = vmdir_path(srv, id, dir, sizeof(dir));
	if (!rc && mkdir(dir, 0750) < 0 && errno != EEXIST)
		rc = -errno;
	if (!rc && snprintf(link, sizeof(link), "%s/lease.deadline", dir) >= (int)sizeof(link))
		rc = -ENAMETOOLONG;
	if (rc) {
		snprintf(err, errlen, "%s: its directory: %s", name, strerror(-rc));
		return rc;
	}
	rc = sup_kill_stale(srv, id, name, 5000);
	if (rc < 0) {
		snprintf(err, errlen, "%s: processes of an earlier run here do not end", name);
		return rc;
	}
	/* the watchdog's deadline holds for it as for any VM here (monitor.c) */
	unlink(link);
	deadline = cluster_deadline_file(srv->cluster);
	if (deadline && symlink(deadline, link) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot link %s: %s", name, link, strerror(-rc));
		return rc;
	}
	if (!strcmp(disks, "copy")) {
		struct copy_prep cp = { .c = c, .id = id, .err = err, .errlen = errlen };

		*err = '\0';
		rc = inv_vm_disks(c, id, copy_prep_disk, &cp);
		if (rc)
			return rc == -EBUSY ? rc : -EIO;
		if (cp.made)
			vsrv_log("vm %s: made %d empty image(s) for the copy of its disks", name,
				 cp.made);
	}
	rc = free_port(cluster_address(srv->cluster), ip, sizeof(ip), &port);
	if (rc) {
		snprintf(err, errlen, "no port free on %s (this host's API address): %s",
			 cluster_address(srv->cluster), strerror(-rc));
		return rc;
	}
	snprintf(uri, sizeof(uri), "tcp:%s:%d", ip, port);
	rc = sup_build_argv(srv, c, id, dir, &argv, nm, sizeof(nm));
	if (!rc)
		rc = add_incoming(argv, uri);
	if (!rc) {
		cgroup_setup(srv, c, id);
		rc = sup_spawn(srv, argv, dir, id, &pid);
	}
	sup_free_argv(argv);
	if (!rc && (rc = sup_incoming_add(srv, id, name, pid, false)))
		kill(-pid, SIGKILL);
	if (!rc)
		incoming_prior(srv, id, pid, source, true);
	if (rc) {
		snprintf(err, errlen, "%s: cannot start its VMM: %s", name, strerror(-rc));
		return rc;
	}
	/* answered once it listens: its control socket comes after the incoming one */
	for (ms = 0; ms < MIG_READY_MS; ms += 20) {
		if (!alive(pid)) {
			log_tail(dir, tail, sizeof(tail));
			snprintf(err, errlen, "%s: its VMM on host %s ended before listening: %s",
				 name, me, tail);
			return -EIO;
		}
		if (control_listens(srv, id))
			break;
		usleep(20000);
	}
	if (ms >= MIG_READY_MS) {
		migrate_incoming_abort(srv, id);
		snprintf(err, errlen, "%s: its VMM on host %s does not listen after %d s", name, me,
			 MIG_READY_MS / 1000);
		return -ETIMEDOUT;
	}
	{
		struct reaper *r = malloc(sizeof(*r));
		pthread_t th;

		if (r) {
			*r = (struct reaper){ .srv = srv, .id = id, .pid = pid };
			snprintf(r->name, sizeof(r->name), "%s", name);
			snprintf(r->from, sizeof(r->from), "%s", from ? from : "");
			if (pthread_create(&th, NULL, reap_incoming, r))
				free(r);
			else
				pthread_detach(th);
		}
	}
	vsrv_log("vm %s: incoming migration from %s on %s (monitor pid %d)", name,
		 from ? from : "?", uri, (int)pid);
	snprintf(addr, addrlen, "%s", uri);
	return 0;
}

int migrate_incoming_abort(struct server *srv, int64_t id)
{
	return sup_incoming_add(srv, id, "", 0, true);
}

int migrate_incoming_commit(struct server *srv, struct dbc *c, int64_t id, const char *name,
			    const char *who, char *err, size_t errlen)
{
	char owner[64] = "";
	int rc = cluster_vm_owner(srv->cluster, name, owner, sizeof(owner));
	pid_t pid;

	if (rc == -ENOENT || (!rc && strcmp(owner, cluster_name(srv->cluster)))) {
		snprintf(err, errlen, "%s: its ownership key is %s%s, not this host's", name,
			 rc ? "nobody's" : "host ", rc ? "" : owner);
		return -EADDRINUSE;
	}
	if (rc) {
		snprintf(err, errlen, "the cluster's store (etcd) does not answer: %s",
			 strerror(-rc));
		return rc;
	}
	pid = sup_mark_migrate(srv, id, -1);
	if (pid < 0) {
		snprintf(err, errlen, "%s: no incoming migration of it on this host", name);
		return -ENOENT;
	}
	rc = inv_begin(c);
	if (!rc) {
		rc = inv_vm_set_state(c, id, INV_VM_RUNNING, pid, NULL);
		if (!rc)
			rc = events_emit(srv, c, "vm-migrated-in", "vm", name, who,
					 json_pack("{s:s}", "host", cluster_name(srv->cluster)),
					 "%s runs on host %s now", name, cluster_name(srv->cluster));
		if (rc)
			inv_rollback(c);
		else
			rc = inv_commit(c);
	}
	if (rc) {
		/* it runs here and the key is this host's: its status says so at the next try
		 * (the source's, or this host's own: reap_incoming), incoming until then; its
		 * end meanwhile is recorded over the source's monitor named there */
		incoming_prior(srv, id, pid, 0, true);
		snprintf(err, errlen, "%s: cannot record its run here: %s", name, strerror(-rc));
		return rc;
	}
	vmagent_watch(srv, id, name);
	return 0;
}
