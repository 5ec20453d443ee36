/* A live snapshot's switch. See snaplive.h. */
#include "server/snaplive.h"
#include "server/agent.h"
#include "server/cluster.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/layers.h"
#include "server/tasks.h"
#include "server/vmagent.h"
#include "server/vmctl.h"
#include "util/fdpass.h"
#include "util/log.h"
#include "vhd/vhd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The claims this process holds (snaplive_claim): a slot each, with the owner text its
 * inventory claim was taken under (the release drops that one only). */
#define SNAPLIVE_CLAIMS 64
static struct {
	struct server *srv;
	int64_t id;
	char owner[128];
} claims[SNAPLIVE_CLAIMS];
static pthread_mutex_t claims_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long claims_seq;

/* The slot of VM id of srv, or -1 (claims_lock held). */
static int claim_slot(struct server *srv, int64_t id)
{
	for (int i = 0; i < SNAPLIVE_CLAIMS; i++)
		if (claims[i].srv == srv && claims[i].id == id)
			return i;
	return -1;
}

int snaplive_claim_ttl(const struct server *srv)
{
	int sw = srv->snaplive_switch_ms > 0 ? srv->snaplive_switch_ms : SNAPLIVE_SWITCH_MS;

	if (srv->snaplive_claim_s > 0)
		return srv->snaplive_claim_s;
	/* the window's bound (freeze, switch, settle, thaw), and time for the commit and an
	 * undo around it */
	return (2 * SNAPLIVE_FREEZE_MS + sw + SNAPLIVE_SETTLE_MS) / 1000 + 120;
}

/* The owner text's start for srv's host ("HOST pid "), into buf. */
static void owner_host(struct server *srv, char *buf, size_t n)
{
	char host[64] = "";

	if (srv->cluster)
		snprintf(host, sizeof(host), "%s", cluster_name(srv->cluster));
	else if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "?");
	snprintf(buf, n, "%s pid ", host);
}

int snaplive_sweep(struct server *srv)
{
	char prefix[80];
	struct dbc *c = inv_get(srv->db);
	int rc;

	owner_host(srv, prefix, sizeof(prefix));
	rc = c ? inv_claim_sweep(c, prefix) : -EIO;
	if (c)
		inv_put(c);
	return rc;
}

int snaplive_claim(struct server *srv, int64_t id)
{
	char owner[128], host[80];
	struct dbc *c = NULL;
	int i, rc = -EBUSY;

	pthread_mutex_lock(&claims_lock);
	if (claim_slot(srv, id) < 0 && (i = claim_slot(NULL, 0)) >= 0) {
		claims[i].srv = srv;
		claims[i].id = id;
		claims[i].owner[0] = '\0';
		rc = 0;
	}
	/* the host, and what tells this claim from any other (a process, a number) */
	owner_host(srv, host, sizeof(host));
	snprintf(owner, sizeof(owner), "%s%ld claim %lu", host, (long)getpid(), ++claims_seq);
	pthread_mutex_unlock(&claims_lock);
	if (rc)
		return rc;
	/* then in the inventory, for every server that shares it */
	c = inv_get(srv->db);
	rc = c ? inv_claim_take(c, SNAPLIVE_CLAIM, id, owner, snaplive_claim_ttl(srv), NULL, 0) :
	     -EIO;
	if (c)
		inv_put(c);
	pthread_mutex_lock(&claims_lock);
	i = claim_slot(srv, id); /* (its caller's until it returns: never released meanwhile) */
	if (i >= 0 && rc) {
		claims[i].srv = NULL;
		claims[i].id = 0;
	} else if (i >= 0) {
		snprintf(claims[i].owner, sizeof(claims[i].owner), "%s", owner);
	}
	pthread_mutex_unlock(&claims_lock);
	return rc == -EBUSY ? -EBUSY : rc ? -EIO : 0;
}

void snaplive_release(struct server *srv, int64_t id)
{
	char owner[128] = "";
	struct dbc *c;
	int i, rc;

	pthread_mutex_lock(&claims_lock);
	i = claim_slot(srv, id);
	if (i >= 0)
		snprintf(owner, sizeof(owner), "%s", claims[i].owner);
	pthread_mutex_unlock(&claims_lock);
	if (i < 0)
		return;
	c = owner[0] ? inv_get(srv->db) : NULL;
	rc = c ? inv_claim_drop(c, SNAPLIVE_CLAIM, id, owner) : owner[0] ? -EIO : 0;
	if (c)
		inv_put(c);
	if (rc == -ENOENT)
		vsrv_log("vm %lld: the live snapshot's claim had ended before its release (it "
			 "took longer than %d s)", (long long)id, snaplive_claim_ttl(srv));
	else if (rc)
		vsrv_log("vm %lld: the live snapshot's claim could not be dropped: it ends in %d s "
			 "at most", (long long)id, snaplive_claim_ttl(srv));
	pthread_mutex_lock(&claims_lock);
	i = claim_slot(srv, id);
	if (i >= 0) {
		claims[i].srv = NULL;
		claims[i].id = 0;
		claims[i].owner[0] = '\0';
	}
	pthread_mutex_unlock(&claims_lock);
}

bool snaplive_running(struct server *srv, int64_t id)
{
	struct dbc *c = inv_get(srv->db);
	bool on = c && inv_claim_get(c, SNAPLIVE_CLAIM, id, NULL, 0) == 0;

	if (c)
		inv_put(c);
	return on;
}

/* Freeze the guest's file systems when its agent answers: true when they are frozen (or
 * may be: a freeze that timed out). *asked: whether the freeze was asked of the agent, in
 * which case the guest may be frozen whatever the answer (one lost with the connection, a
 * timeout) and must be thawed. */
static bool freeze(struct server *srv, int64_t id, const char *name, bool *asked)
{
	json_t *st = vmagent_json(srv, id, name, INV_VM_RUNNING), *ret = NULL;
	char err[256];
	int rc;

	*asked = false;
	if (strcmp(json_string_value(json_object_get(st, "status")) ?: "", "responding")) {
		json_decref(st);
		return false; /* no agent: the disks as a power cut would leave them */
	}
	json_decref(st);
	rc = vmagent_call(srv, id, "guest-fsfreeze-freeze", NULL, 0, SNAPLIVE_FREEZE_MS, &ret,
			  err, sizeof(err));
	json_decref(ret);
	/* not sent: no agent socket, or its queue full */
	*asked = rc != -ENOENT && rc != -ECONNREFUSED && rc != -EBUSY && rc != -ECANCELED;
	if (rc)
		vsrv_log("vm %s: guest-fsfreeze-freeze: %s; the snapshot goes on unfrozen", name,
			 err);
	return rc == 0 || rc == -ETIMEDOUT;
}

static void thaw(struct server *srv, int64_t id, const char *name)
{
	json_t *ret = NULL;
	char err[256];

	if (vmagent_call(srv, id, "guest-fsfreeze-thaw", NULL, 0, SNAPLIVE_FREEZE_MS, &ret, err,
			 sizeof(err)))
		vsrv_log("vm %s: guest-fsfreeze-thaw: %s", name, err);
	json_decref(ret);
}

/* Open each new top of disks for the VMM (it opens nothing itself: its sandbox lets it
 * not), into fds. 0, or -errno with err (nothing left open). */
static int open_tops(json_t *disks, int *fds, char *err, size_t errlen)
{
	size_t i, n = json_array_size(disks);

	if (n > FDPASS_MAX)
		return snprintf(err, errlen, "more than %d disks", FDPASS_MAX), -EINVAL;
	for (i = 0; i < n; i++) {
		const char *p = json_string_value(json_object_get(json_array_get(disks, i), "path"));

		fds[i] = p ? open(p, O_RDWR | O_CLOEXEC | O_NOFOLLOW) : -1;
		if (fds[i] < 0) {
			snprintf(err, errlen, "cannot open the new top %s: %s", p ? p : "?",
				 p ? strerror(errno) : "no path");
			while (i-- > 0)
				close(fds[i]);
			return -EIO;
		}
	}
	return 0;
}

int snaplive_settled(struct server *srv, int64_t id, json_t *disks, int timeout_ms)
{
	json_t *rep = NULL, *d;
	size_t i;
	int rc = vmctl_call(srv, id, "status", timeout_ms, &rep);

	json_decref(rep);
	if (rc || !json_array_size(disks))
		return 0; /* the switch may still run, or the VMM is gone: not known */
	json_array_foreach(disks, i, d) {
		const char *p = json_string_value(json_object_get(d, "path"));

		/* held exclusively by another: the VMM's new top (nobody else has it open) */
		if (!p || vhd_lock_path_test(p, VHD_LOCK_SHARED) != -EBUSY)
			return 0;
	}
	return 1;
}

int snaplive_switch(struct server *srv, int64_t id, const char *name, json_t *disks,
		    bool *frozen, bool *sent, char *err, size_t errlen)
{
	json_t *msg = json_pack("{s:s,s:O}", "cmd", "disk-switch", "disks", disks), *rep = NULL;
	size_t n = json_array_size(disks);
	int fds[FDPASS_MAX];
	const char *why;
	bool asked;
	int rc;

	*frozen = false;
	*sent = false;
	if (!msg)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	rc = open_tops(disks, fds, err, errlen);
	if (rc) {
		json_decref(msg);
		return rc;
	}
	*frozen = freeze(srv, id, name, &asked);
	rc = vmctl_send_fds(srv, id, msg, fds, (unsigned)n, srv->snaplive_switch_ms > 0 ?
			    srv->snaplive_switch_ms : SNAPLIVE_SWITCH_MS, &rep, sent);
	for (size_t i = 0; i < n; i++)
		close(fds[i]); /* the VMM holds its own */
	if (asked)
		thaw(srv, id, name);
	json_decref(msg);
	/* no answer in time: the VMM may have switched since (it serves one command at a
	 * time); when it did, the snapshot stands (its inventory must name the tops the VMM
	 * writes, or the next start goes back to the old images and loses what was written) */
	if (rc == -ETIMEDOUT && snaplive_settled(srv, id, disks, SNAPLIVE_SETTLE_MS)) {
		vsrv_log("vm %s: the VMM's disk-switch answered late, but it runs on the new tops",
			 name);
		json_decref(rep);
		return 0;
	}
	why = rep ? json_string_value(json_object_get(rep, "error")) : NULL;
	if (rc == -EPROTO && !rep) {
		snprintf(err, errlen, "the VMM's answer to its disk-switch could not be read");
	} else if (rc == -EPROTO) {
		snprintf(err, errlen, "the VMM did not switch the disks: %s", why ? why : "?");
		rc = -EIO;
	} else if (rc) {
		snprintf(err, errlen, "the VMM did not answer its disk-switch: %s", strerror(-rc));
		if (*sent && rc == -EIO)
			rc = -EPROTO; /* -EIO is its refusal only */
	}
	json_decref(rep);
	return rc;
}

int snaplive_tops_init(struct snaplive_tops *t)
{
	t->sid = 0;
	t->sw = json_array();
	t->undo = json_array();
	if (t->sw && t->undo)
		return 0;
	snaplive_tops_clear(t);
	return -ENOMEM;
}

void snaplive_tops_clear(struct snaplive_tops *t)
{
	json_decref(t->sw);
	json_decref(t->undo);
	t->sw = t->undo = NULL;
}

/* One new top's undo in the caller's transaction (u: an entry of snaplive_tops' undo):
 * 0, -ESTALE (the disk's top is no longer it, something sits over it, or a process holds
 * it locked) or -EIO. Its file into f->gone. */
static int undo_top(struct dbc *c, struct layer_files *f, int64_t id, json_t *u)
{
	int64_t disk = json_integer_value(json_object_get(u, "disk_id"));
	const char *top = json_string_value(json_object_get(u, "path"));
	const char *frozen = json_string_value(json_object_get(u, "frozen"));
	char now[4400];
	bool is_top = false;
	int rc;

	if (!top || !frozen || layers_top_path(c, id, disk, "", now, sizeof(now), &is_top))
		return -EIO;
	if (!is_top || strcmp(now, top))
		return -ESTALE;
	rc = layers_frozen(c, top);
	if (rc)
		return rc < 0 ? rc : -ESTALE;
	/* held by another (a VMM started on it meanwhile: a restart after a crash reads the
	 * committed tops): its writes are there */
	if (vhd_lock_path_test(top, VHD_LOCK_SHARED) == -EBUSY)
		return -ESTALE;
	rc = inv_layer_delete(c, top);
	if (!rc && json_is_true(json_object_get(u, "was_top")))
		rc = inv_layer_set_kind(c, frozen, "top", id, disk);
	if (!rc && json_array_append_new(f->gone, json_string(top)))
		rc = -ENOMEM;
	return rc ? (rc == -ENOMEM ? rc : -EIO) : 0;
}

/* snaplive_undo's one attempt: 0, -EAGAIN (the commit met a concurrent write), -ESTALE
 * (the inventory is no longer as the snapshot left it) or -EIO; rolled back but for 0. */
static int undo_once(struct server *srv, struct dbc *c, int64_t id, const char *name,
		     const char *snap, const struct snaplive_tops *t, const char *who)
{
	struct inv_snapshot *s = malloc(sizeof(*s));
	struct layer_files f;
	json_t *u;
	size_t i;
	int rc;

	if (!s || layer_files_init(&f)) {
		free(s);
		return -ENOMEM;
	}
	rc = inv_begin(c) ? -EIO : 0;
	if (rc) {
		free(s);
		layer_files_end(&f, false);
		return rc;
	}
	rc = inv_snap_get(c, id, snap, s);
	if (rc == -ENOENT || (!rc && (s->id != t->sid || !s->current)))
		rc = -ESTALE;
	/* the VM off in the window, and a task (a delete of this snapshot, a clone, an undo
	 * commit) started on its images: they are that task's */
	if (!rc && task_images_busy(c, name))
		rc = -ESTALE;
	json_array_foreach(t->undo, i, u)
		if (!rc)
			rc = undo_top(c, &f, id, u);
	if (!rc && (inv_snap_delete(c, s->id) || inv_snap_set_current(c, id, s->parent_id)))
		rc = -EIO;
	if (!rc && events_emit(srv, c, "vm-snapshot-deleted", "vm", name, who,
			       json_pack("{s:s}", "snapshot", snap), "snapshot %s of %s undone "
			       "(its VMM did not switch its disks) by %s", snap, name, who))
		rc = -EIO;
	if (!rc && (rc = inv_commit(c)))
		rc = rc == -EAGAIN ? -EAGAIN : -EIO;
	if (rc)
		inv_rollback(c);
	layer_files_end(&f, !rc);
	free(s);
	return rc;
}

int snaplive_undo(struct server *srv, struct dbc *c, int64_t id, const char *name,
		  const char *snap, const struct snaplive_tops *t, const char *who, char *err,
		  size_t errlen)
{
	int tries = 0, rc;

	while ((rc = undo_once(srv, c, id, name, snap, t, who)) == -EAGAIN &&
	       ++tries < INV_COMMIT_TRIES)
		;
	if (!rc)
		return 0;
	snprintf(err, errlen, "snapshot %s is recorded but its VMM did not switch, and it could "
		 "not be undone (%s): it stays, the VM's disks on its new images in the "
		 "inventory (nothing is lost: the VM writes either them or the images under "
		 "them, which they read as until written; delete the snapshot once the VM is "
		 "off)", snap, rc == -ESTALE ? "the inventory changed meanwhile, a task works on "
		 "its images, or a VMM runs on its new images" : rc == -EAGAIN ? "concurrent writes" : "inventory error");
	vsrv_log("vm %s: %s", name, err);
	return rc == -EAGAIN ? -EIO : rc;
}
