/* A VM's saved state: the file, the save through the VMM's control socket, the discard, and
 * the events of the supervisor's exits that end in it. See vmsave.h. */
#include "server/vmsave.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/sup_int.h"
#include "server/undo.h"
#include "server/vmctl.h"
#include "server/vmdir.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long a save may take before the server stops waiting: the VMM writes (and syncs) the
 * guest's memory, a few hundred MiB a second on a slow disk. */
#define SAVE_TIMEOUT_MS (10 * 60 * 1000)
/* Then the VMM ends, and the supervisor records the exit. */
#define SAVE_EXIT_WAIT_MS 20000

int vmsave_path(struct server *srv, int64_t id, char *buf, size_t n)
{
	return snprintf(buf, n, "%s/vms/%lld/" VMSAVE_DIR "/" VMSAVE_FILE, srv->data_dir,
			(long long)id) >= (int)n ? -ENAMETOOLONG : 0;
}

/* Let group gid search path (and nothing more than before): its group becomes gid with
 * search permission only. 0 or -errno. */
static int group_search(const char *path, gid_t gid)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (st.st_gid == gid && (st.st_mode & 070) == 010)
		return 0;
	if (chown(path, (uid_t)-1, gid) < 0 || chmod(path, (st.st_mode & 07707) | 010) < 0)
		return -errno;
	return 0;
}

int vmsave_prepare(struct server *srv, int64_t id)
{
	char dir[4096], p[4200];
	struct passwd *pw;
	int rc = vmdir_path(srv, id, dir, sizeof(dir));

	if (rc)
		return rc;
	snprintf(p, sizeof(p), "%s/" VMSAVE_DIR, dir);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	pw = srv->run_as ? getpwnam(srv->run_as) : NULL;
	if (!pw || pw->pw_uid == geteuid())
		return 0;
	if (chown(p, pw->pw_uid, pw->pw_gid) < 0 || chmod(p, 0700) < 0)
		return -errno;
	rc = group_search(dir, pw->pw_gid);
	if (!rc) {
		snprintf(p, sizeof(p), "%s/vms", srv->data_dir);
		rc = group_search(p, pw->pw_gid);
	}
	return rc;
}

bool vmsave_exists(struct server *srv, int64_t id, struct stat *st)
{
	struct stat tmp;
	char p[4200];

	return !vmsave_path(srv, id, p, sizeof(p)) && stat(p, st ? st : &tmp) == 0;
}

json_t *vmsave_json(struct server *srv, int64_t id)
{
	struct stat st;

	if (!vmsave_exists(srv, id, &st))
		return NULL;
	return json_pack("{s:I,s:I}", "bytes", (json_int_t)st.st_size, "saved_at",
			 (json_int_t)st.st_mtime);
}

int vmsave_remove(struct server *srv, int64_t id)
{
	char dir[4096], p[4400];
	struct dirent *e;
	DIR *d;
	int rc = vmdir_path(srv, id, dir, sizeof(dir));

	if (rc)
		return rc;
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/" VMSAVE_DIR);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			if (unlink(p) < 0 && errno != ENOENT && !rc)
				rc = -errno;
		}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT && !rc)
		rc = -errno;
	return rc;
}

bool vmsave_state_saved(struct dbc *c, int64_t id)
{
	struct inv_vm_status st;
	bool saved;

	if (inv_vm_get_status(c, id, &st))
		return false;
	saved = !strcmp(st.state, INV_VM_SAVED);
	inv_vm_status_clear(&st);
	return saved;
}

/* VM id's state into state (n bytes): 0, -ENOENT or -EIO. */
static int state_of(struct dbc *c, int64_t id, char *state, size_t n, char *name, size_t nn)
{
	struct inv_vm_status st;
	int rc = inv_vm_get_status(c, id, &st);

	if (rc)
		return rc;
	snprintf(state, n, "%s", st.state);
	if (name)
		snprintf(name, nn, "%s", st.name);
	inv_vm_status_clear(&st);
	return 0;
}

int sup_save(struct server *srv, struct dbc *c, int64_t id, const char *who, json_t **out,
	     char *err, size_t errlen)
{
	char state[16], name[64], path[4200];
	json_t *msg, *rep = NULL;
	int rc;

	*out = NULL;
	rc = state_of(c, id, state, sizeof(state), name, sizeof(name));
	if (rc)
		return snprintf(err, errlen, "%s", strerror(-rc)), rc;
	if (strcmp(state, INV_VM_RUNNING) && strcmp(state, INV_VM_PAUSED))
		return snprintf(err, errlen, "%s is %s: only a running or paused VM can be saved",
				name, state), -EBUSY;
	rc = vmsave_path(srv, id, path, sizeof(path));
	if (rc)
		return snprintf(err, errlen, "the data directory's path is too long"), rc;
	rc = vmsave_prepare(srv, id);
	if (rc)
		return snprintf(err, errlen, "cannot prepare %s/%s of its directory: %s",
				VMSAVE_DIR, VMSAVE_FILE, strerror(-rc)), rc;
	if (sup_mark_save(srv, id, true, who))
		return snprintf(err, errlen, "%s is being stopped or reset", name), -EBUSY;
	msg = json_pack("{s:s,s:s}", "cmd", "save", "path", path);
	rc = msg ? vmctl_send(srv, id, msg, SAVE_TIMEOUT_MS, &rep) : -ENOMEM;
	json_decref(msg);
	if (rc) {
		const char *e = json_string_value(json_object_get(rep, "error"));

		sup_mark_save(srv, id, false, NULL);
		snprintf(err, errlen, "%s: the save failed: %s", name, e ? e : strerror(-rc));
		vsrv_log("vm %s: %s", name, err);
		json_decref(rep);
		/* no VMM listening (it is ending, or older than its control socket): the state's */
		return rc == -ENOENT || rc == -ECONNREFUSED ? -EBUSY : rc == -ENOMEM ? rc : -EIO;
	}
	/* The VMM ends after the save: wait for the supervisor to record it (sup.c). */
	for (int waited = 0; waited < SAVE_EXIT_WAIT_MS; waited += 20) {
		if (state_of(c, id, state, sizeof(state), NULL, 0) == 0 &&
		    !inv_vm_state_up(state))
			break;
		usleep(20000);
	}
	if (strcmp(state, INV_VM_SAVED)) {
		json_decref(rep);
		snprintf(err, errlen, "%s: saved, but its state is %s", name, state);
		return inv_vm_state_up(state) ? -ETIMEDOUT : -EIO;
	}
	*out = rep;
	return 0;
}

int sup_discard_saved(struct server *srv, struct dbc *c, int64_t id, const char *who,
		      char *err, size_t errlen)
{
	char state[16], name[64], undo[16] = "off";
	struct inv_vm vm;
	int rc;

	rc = inv_begin(c);
	if (rc)
		return snprintf(err, errlen, "inventory busy"), rc;
	rc = state_of(c, id, state, sizeof(state), name, sizeof(name));
	if (!rc && strcmp(state, INV_VM_SAVED)) {
		inv_rollback(c);
		return snprintf(err, errlen, "%s has no saved state (it is %s)", name, state), -EBUSY;
	}
	if (!rc && inv_vm_get(c, id, &vm) == 0) {
		snprintf(undo, sizeof(undo), "%s", vm.undo_disks);
		inv_vm_clear(&vm);
	}
	if (!rc)
		rc = inv_vm_set_state(c, id, INV_VM_STOPPED, 0, NULL);
	if (!rc)
		rc = events_emit(srv, c, "vm-saved-discarded", "vm", name, who, NULL,
				 "%s: saved state discarded%s%s", name, who ? " by " : "",
				 who ? who : "");
	if (!rc)
		rc = inv_commit(c);
	else
		inv_rollback(c);
	if (rc)
		return snprintf(err, errlen, "inventory error; nothing was changed"), rc;
	/* The file goes after the commit: a crash in between leaves a file that nothing uses
	 * (the next save replaces it, a start of the stopped VM boots afresh). */
	rc = vmsave_remove(srv, id);
	if (rc)
		vsrv_log("vm %s: cannot remove its saved state: %s", name, strerror(-rc));
	/* Its undo disks as after a power-off (the saved run has ended for good). */
	if (strcmp(undo, "off") && (rc = undo_finish(srv, id, name, undo, who)))
		vsrv_log("vm %s: undo disks (%s): %s; they are kept", name, undo, strerror(-rc));
	return 0;
}

void sup_save_exit_event(struct server *srv, struct dbc *c, int64_t id, const char *name,
			 const char *who, bool unrestored, json_t *data, const char *why)
{
	json_t *f = vmsave_json(srv, id);

	if (data && f)
		json_object_set(data, "saved", f);
	if (unrestored)
		events_emit(srv, c, "vm-restore-failed", "vm", name, NULL, data,
			    "%s: restoring its saved state failed (%s); it stays saved: start it "
			    "again, or discard the saved state to start it afresh", name, why);
	else
		events_emit(srv, c, "vm-saved", "vm", name, who, data, "%s saved (%lld MiB)%s%s",
			    name, (long long)(json_integer_value(json_object_get(f, "bytes")) >> 20),
			    who ? " by " : "", who ? who : "");
	json_decref(f);
}
