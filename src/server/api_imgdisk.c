/* A disk made from an image of the store: POST /api/v1/disks {"name", "from_image"}. The
 * image is converted into a dynamic VHD by `vsrv img convert -f FMT -O vpc` (FMT from the
 * image's kind: vhd, qcow2, vmdk, vhdx, else raw) as a task (kind disk-from-image, object the
 * new disk) whose progress is the converter's. Before the task starts, `vsrv img info`
 * must read the image: one it cannot (a format it does not know) is a 400 naming why. The
 * disk's file name is reserved at once (DATA/disks/NAME.vhd, empty) and the image held
 * (imgstore_hold: not deletable) while the task runs; the data goes into a hidden
 * temporary file renamed over the reservation at the end, then the disk's row and its
 * disk-created event are committed. A failed task leaves no file and no row; one cut short
 * by a daemon restart leaves an empty reservation, reclaimed by the next request. */
#include "server/api.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/imgacl.h"
#include "server/imgstore.h"
#include "server/inv.h"
#include "server/quota.h"
#include "server/space.h"
#include "server/tasks.h"
#include "server/valid.h"
#include "disk/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct imgdisk_job {
	struct imgstore *store;
	char image[256];
	char vsrv[4096];
	char src[4400], fmt[16];
	char dst[4400], tmp[4400];
	char name[64], who[64];
	int64_t owner;           /* user id holding full rights on the new disk, or 0 */
};

/* What run_tool reads from the program's stderr: the last line that is not progress, and
 * the progress ("(  12.5/100%)" pieces) handed to a task. */
struct tool_out {
	char out[8192];          /* stdout */
	size_t out_len;
	char last[512];          /* the last message line of stderr */
	char line[512];          /* the line being read */
	size_t line_len;
	struct task *task;       /* progress goes here, or NULL */
};

static void err_piece(struct tool_out *o, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = b[i];

		if (ch != '\n' && ch != '\r') {
			if (o->line_len + 1 < sizeof(o->line))
				o->line[o->line_len++] = ch;
			continue;
		}
		o->line[o->line_len] = '\0';
		{
			const char *p = strchr(o->line, '(');
			double pct;

			if (p && sscanf(p, "(%lf/100%%)", &pct) == 1) {
				if (o->task)
					task_progress(o->task, pct / 100);
			} else if (o->line_len) {
				const char *m = o->line;

				if (!strncmp(m, "vsrv img: ", 10))
					m += 10;
				snprintf(o->last, sizeof(o->last), "%s", m);
			}
		}
		o->line_len = 0;
	}
}

/* Run argv (argv[0] the vsrv binary) with stdin from /dev/null, gathering its stdout and
 * stderr into o; with progress, VSRV_IMG_PROGRESS=1 in its environment. Returns its exit
 * status (0 success), or -errno when it could not run. */
static int run_tool(char *const argv[], bool progress, struct tool_out *o)
{
	posix_spawn_file_actions_t fa;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, status = 0, rc;
	size_t ne = 0;
	char **envp;
	pid_t pid;

	while (environ[ne])
		ne++;
	envp = calloc(ne + 2, sizeof(*envp));
	if (!envp)
		return -ENOMEM;
	memcpy(envp, environ, ne * sizeof(*envp));
	if (progress)
		envp[ne] = "VSRV_IMG_PROGRESS=1";
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	/* nothing else of the daemon's: libcurl's etcd handles keep sockets that are not
	 * close-on-exec (its internal socket pair), as hooks.c and sup_spawn.c close them */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	rc = -posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	if (rc)
		goto out;
	for (int open_fds = 2; open_fds;) {
		struct pollfd p[2] = { { outp[0], POLLIN, 0 }, { errp[0], POLLIN, 0 } };
		char b[4096];

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int k = 0; k < 2; k++) {
			ssize_t n;

			if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[k].fd, b, sizeof(b));
			if (n <= 0) {
				close(k ? errp[0] : outp[0]);
				if (k)
					errp[0] = -1;
				else
					outp[0] = -1;
				open_fds--;
			} else if (k) {
				err_piece(o, b, n);
			} else if (o->out_len + n < sizeof(o->out)) {
				memcpy(o->out + o->out_len, b, n);
				o->out_len += n;
				o->out[o->out_len] = '\0';
			}
		}
	}
	err_piece(o, "\n", 1);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out:
	for (int k = 0; k < 2; k++) {
		if (outp[k] >= 0)
			close(outp[k]);
		if (errp[k] >= 0)
			close(errp[k]);
	}
	free(envp);
	return rc;
}

static void job_free(void *arg)
{
	struct imgdisk_job *j = arg;

	imgstore_release(j->store, j->image);
	free(j);
}

/* The task: convert, move into place, record the disk. */
static int job_run(struct task *t, void *arg)
{
	struct imgdisk_job *j = arg;
	struct server *srv = task_server(t);
	char *argv[] = { j->vsrv, "img", "convert", "-f", j->fmt, "-O", "vpc", "-p", j->src, j->tmp, NULL };
	struct tool_out *o = calloc(1, sizeof(*o));
	struct disk *dk = NULL;
	struct dbc *c = NULL;
	int64_t size = 0;
	int rc;

	if (!o)
		return -ENOMEM;
	o->task = t;
	rc = run_tool(argv, true, o);
	if (rc) {
		task_error(t, "vsrv img convert of image %s: %s", j->image,
			   rc < 0 ? strerror(-rc) : o->last[0] ? o->last : "failed");
		rc = -EIO;
		goto err_file;
	}
	if (rename(j->tmp, j->dst) < 0) {
		rc = -errno;
		task_error(t, "cannot move %s into place: %s", j->dst, strerror(errno));
		goto err_file;
	}
	rc = disk_open(j->dst, "vhd", DISK_RDONLY, &dk);
	if (rc) {
		task_error(t, "the new disk %s cannot be opened: %s", j->dst, strerror(-rc));
		goto err_file;
	}
	size = (int64_t)dk->size;
	disk_close(dk);
	c = inv_get(srv->db);
	rc = c ? inv_begin(c) : -EIO;
	if (!rc) {
		char from[300];

		snprintf(from, sizeof(from), "image %s", j->image);
		rc = api_disk_record(t, c, j->name, "vhd", (uint64_t)size, j->dst, j->owner, j->who,
				     from);
	}
	if (c)
		inv_put(c);
err_file:
	if (rc) {
		unlink(j->tmp);
		unlink(j->dst);
	}
	free(o);
	return rc;
}

/* The `vsrv img convert -f` format of an image kind. */
static const char *kind_format(const char *kind)
{
	static const char *const own[] = { "vhd", "qcow2", "vmdk", "vhdx", NULL };

	for (size_t i = 0; own[i]; i++)
		if (!strcmp(kind, own[i]))
			return own[i];
	return "raw";
}

int api_disk_from_image(struct req *r)
{
	static const struct valid_field f[] = {
		{ "name", V_STR, 1, 0, 63, K_NAME, NULL },
		{ "from_image", V_STR, 1, 0, 255, K_TEXT, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
	struct imgstore_info info;
	struct imgdisk_job *j;
	struct tool_out *o = NULL;
	json_t *js;
	char err[512];
	int64_t tid = 0, other;
	uint64_t vsize;
	int rc, fd;

	if (auth_require(r, "server", 0, PERM_MODIFY))
		return r->status;
	if (valid_object(r->body, f, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", err);
	j = calloc(1, sizeof(*j));
	o = calloc(1, sizeof(*o));
	if (!j || !o) {
		free(j);
		free(o);
		return req_error(r, -ENOMEM, "out of memory");
	}
	j->store = r->srv->images;
	snprintf(j->name, sizeof(j->name), "%s", json_string_value(json_object_get(r->body, "name")));
	snprintf(j->image, sizeof(j->image), "%s", json_string_value(json_object_get(r->body, "from_image")));
	snprintf(j->who, sizeof(j->who), "%s", r->who.name);
	snprintf(j->vsrv, sizeof(j->vsrv), "%s", r->srv->vmm_path);
	j->owner = !r->who.admin ? r->who.user_id : 0;
	/* another user's private image is a missing one (imgacl.h) */
	if (imgstore_get(r->srv->images, j->image, &info) ||
	    imgacl_visible(r->c, &r->who, j->image, imgacl_host(r->srv)) != 1) {
		rc = req_error(r, -ENOENT, "from_image: no image named '%s'", j->image);
		goto err;
	}
	imgstore_path(r->srv->images, j->image, j->src, sizeof(j->src));
	snprintf(j->fmt, sizeof(j->fmt), "%s", kind_format(info.kind));
	if (inv_object_id(r->c, "disk", j->name, &other) == 0 ||
	    task_running(r->c, "disk-from-image", j->name)) {
		rc = req_error(r, -EEXIST, "a disk named '%s' exists", j->name);
		goto err;
	}
	/* Can vsrv img read it? (Its format, its size.) */
	{
		char *argv[] = { j->vsrv, "img", "info", "-f", j->fmt, "--output=json", j->src, NULL };

		rc = run_tool(argv, false, o);
		js = rc ? NULL : json_loads(o->out, 0, NULL);
		vsize = json_integer_value(json_object_get(js, "virtual-size"));
		/* A differencing image (a qcow2, VMDK, VHDX or VHD over a backing file) would make
		 * the converter read a file the uploader names, anywhere on the host. */
		if (json_object_get(js, "backing-filename")) {
			rc = req_error(r, -EINVAL, "from_image: image %s has a backing file (%s): only "
				       "standalone images are imported", j->image,
				       json_string_value(json_object_get(js, "backing-filename")) ?: "?");
			json_decref(js);
			goto err;
		}
		json_decref(js);
		if (rc || !vsize) {
			rc = req_error(r, -EINVAL, "from_image: vsrv img cannot read image %s (%s): %s",
				       j->image, info.kind, rc < 0 ? strerror(-rc) : o->last[0] ? o->last :
				       "no size");
			goto err;
		}
	}
	rc = space_admit(r->srv, r->c, vsize, err, sizeof(err));
	/* (the task checks again when it records the disk: api_disk_record) */
	if (!rc)
		rc = quota_admit(r->c, j->owner, &(struct inv_quota){ .disks = 1,
				 .disk_bytes = (int64_t)vsize }, err, sizeof(err));
	if (rc) {
		rc = req_error(r, rc == -ENOSPC ? 507 : rc, "cannot create disk %s: %s", j->name, err);
		goto err;
	}
	snprintf(j->dst, sizeof(j->dst), "%s/disks/%s.vhd", r->srv->data_dir, j->name);
	snprintf(j->tmp, sizeof(j->tmp), "%s/disks/.%s.vhd.from-image", r->srv->data_dir, j->name);
	/* An empty reservation with no disk row and no task behind it (checked above) is what a
	 * task interrupted by a daemon restart left: reclaimed. (A VHD is never empty.) */
	{
		struct stat st;

		if (stat(j->dst, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
			unlink(j->dst);
	}
	fd = open(j->dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = req_error(r, errno == EEXIST ? -EEXIST : -EIO, "cannot create %s: %s", j->dst,
			       strerror(errno));
		goto err;
	}
	close(fd);
	unlink(j->tmp);          /* what a crashed daemon's task left */
	if (imgstore_hold(r->srv->images, j->image)) {
		unlink(j->dst);
		rc = req_error(r, -ENOMEM, "out of memory");
		goto err;
	}
	free(o);
	{
		char dst[4400], name[64];

		snprintf(dst, sizeof(dst), "%s", j->dst);
		snprintf(name, sizeof(name), "%s", j->name);
		rc = task_start(r->srv, "disk-from-image", j->name, r->who.name, job_run, j, job_free, &tid);
		if (rc) {
			unlink(dst);   /* j is freed by task_start (the hold released), not its file */
			return req_error(r, rc, "cannot start the task");
		}
		r->out = json_pack("{s:I,s:s,s:s}", "task", (json_int_t)tid, "disk", name, "image",
				   info.name);
	}
	r->status = 202;
	return 202;
err:
	free(o);
	free(j);
	return rc;
}
