/* The image store's endpoints (imgstore.h): GET /api/v1/images (and /images/{name}), PUT
 * /api/v1/images/{name} (the file as the request body, streamed to disk), PATCH and DELETE.
 * VMs name these files as their kernel or initrd and hold them in their CD/DVD drives (by
 * name, api_vmcd.c); disks are made from them (api_imgdisk.c).
 * Everything needs server modify, as creating a VM from an image does; delete needs
 * server remove too, and the image's ownership (an administrator's, or the uploader's). An
 * image is its uploader's (imgacl.h): a private one is, to the other users, a missing one;
 * PATCH {"public"} is the administrators'. */
#include "server/api.h"
#include "server/auth.h"
#include "server/cluster.h"
#include "server/events.h"
#include "server/imgacl.h"
#include "server/imgstore.h"
#include "server/inv.h"
#include "server/space.h"
#include "server/valid.h"
#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMAGES_MAX 1000

/* The VMs that use an image (kernel, initrd or in a CD/DVD drive), as the caller may see
 * them. */
struct users {
	struct req *r;
	const char *path, *name;
	FILE *f;
	int n, others;
	int64_t last;               /* the VM add_cd_user counted last */
};

/* The VM's kernel or initrd is the image: by its name (as rows keep it) or by its path. */
static bool is_image(const char *f, const struct users *u)
{
	return f && (!strcmp(f, u->path) || !strcmp(f, u->name));
}

static bool boots_from(const struct inv_vm *v, const struct users *u)
{
	return is_image(v->kernel, u) || is_image(v->initrd, u);
}

static int count_user(struct users *u, const struct inv_vm *v)
{
	if (!auth_visible(u->r->c, &u->r->who, "vm", v->id))
		u->others++;
	else
		fprintf(u->f, "%s%s", u->n++ ? "," : "", v->name);
	return 0;
}

static int add_user(const struct inv_vm *v, void *arg)
{
	return boots_from(v, arg) ? count_user(arg, v) : 0;
}

/* inv_image_cdrom_users: a VM once, also with the image in two drives or as its kernel. */
static int add_cd_user(const struct inv_vm *v, int idx, void *arg)
{
	struct users *u = arg;

	(void)idx;
	if (v->id == u->last || boots_from(v, u))
		return 0;
	u->last = v->id;
	return count_user(u, v);
}

/* "used_by" (the names, comma-separated, or null) and "used_by_others" (VMs the caller may
 * not see) into o; *count: all of them. 0 or -errno. */
static int image_users(struct req *r, const char *name, json_t *o, int *count)
{
	char path[4400], *names = NULL;
	size_t len = 0;
	struct users u = { .r = r, .path = path, .name = name };
	int rc;

	if (imgstore_path(r->srv->images, name, path, sizeof(path)))
		return -ENAMETOOLONG;
	u.f = open_memstream(&names, &len);
	if (!u.f)
		return -ENOMEM;
	rc = inv_vm_each(r->c, add_user, &u);
	if (!rc)
		rc = inv_image_cdrom_users(r->c, name, add_cd_user, &u);
	if (fclose(u.f) || rc) {
		free(names);
		return rc ? rc : -ENOMEM;
	}
	if (o) {
		json_object_set_new(o, "used_by", u.n ? json_string(names) : json_null());
		json_object_set_new(o, "used_by_others", json_integer(u.others));
	}
	if (count)
		*count = u.n + u.others;
	free(names);
	return 0;
}

/* Image i as the API shows it; rows: imgacl_rows, or NULL (read its own). */
static json_t *image_json(struct req *r, const json_t *rows, const struct imgstore_info *i)
{
	json_t *o = json_pack("{s:s,s:I,s:I,s:s,s:o}", "name", i->name, "size", (json_int_t)i->size,
			      "modified", (json_int_t)i->modified, "kind", i->kind, "sha256",
			      i->sha256[0] ? json_string(i->sha256) : json_null());

	if (o && (image_users(r, i->name, o, NULL) || imgacl_json(r->c, rows, i->name, o))) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

struct fill {
	struct req *r;
	json_t *rows;               /* imgacl_rows */
	json_t *items[IMAGES_MAX];
	size_t n;
};

static int add_image(const struct imgstore_info *i, void *arg)
{
	struct fill *f = arg;
	json_t *o;

	if (!imgacl_rows_visible(f->rows, &f->r->who, i->name, imgacl_host(f->r->srv)))
		return 0;
	o = image_json(f->r, f->rows, i);
	if (!o)
		return -EIO;
	f->items[f->n++] = o;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* Regular files only (symbolic links are not followed), with plain names (no leading
 * dot, no control characters), those the caller may see: at most 1000, sorted by name. */
int api_image_list(struct req *r)
{
	struct fill *f;
	json_t *a;
	int rc;

	if (auth_require(r, "server", 0, PERM_MODIFY))
		return r->status;
	f = calloc(1, sizeof(*f));
	if (!f)
		return req_error(r, -ENOMEM, "out of memory");
	f->r = r;
	f->rows = imgacl_rows(r->c);
	rc = f->rows ? imgstore_each(r->srv->images, IMAGES_MAX, add_image, f) : -EIO;
	json_decref(f->rows);
	if (rc) {
		while (f->n)
			json_decref(f->items[--f->n]);
		free(f);
		return req_error(r, -EIO, "cannot read the images directory");
	}
	qsort(f->items, f->n, sizeof(f->items[0]), by_name);
	a = json_array();
	for (size_t i = 0; i < f->n; i++)
		json_array_append_new(a, f->items[i]);
	free(f);
	r->out = json_pack("{s:o,s:I}", "images", a, "max_size",
			   (json_int_t)imgstore_max_size(r->srv->images));
	return 200;
}

static int no_image(struct req *r, const char *name)
{
	return req_error(r, -ENOENT, "no image named '%s'", name);
}

/* Image name of the store into *i when the caller may see it: 0; else the answer for a
 * missing image (also for another user's private one) is set on r: -ENOENT, or -EIO. */
static int visible_image(struct req *r, const char *name, struct imgstore_info *i)
{
	int rc = imgstore_get(r->srv->images, name, i) ? 0 :
		 imgacl_visible(r->c, &r->who, name, imgacl_host(r->srv));

	if (rc < 0)
		return req_error(r, -EIO, "inventory error"), -EIO;
	if (!rc)
		return no_image(r, name), -ENOENT;
	return 0;
}

int api_image_get(struct req *r)
{
	struct imgstore_info i;

	if (auth_require(r, "server", 0, PERM_MODIFY) || visible_image(r, r->args[0], &i))
		return r->status;
	r->out = image_json(r, NULL, &i);
	return r->out ? 200 : req_error(r, -EIO, "inventory error");
}

/* This host's name in its cluster (the hosts of an image's row, imgacl.h), NULL alone. */
static const char *this_host(const struct server *srv)
{
	return srv->cluster ? cluster_name(srv->cluster) : NULL;
}

/* An upload in flight (r->upload_state): the store's, and whether its owner row is its own
 * (imgacl_upload wrote it). */
struct put {
	struct imgup *u;
	bool row;
	char name[256];
	int64_t written;            /* the body's bytes so far */
	int64_t held;               /* what the owner's quota holds for them (imgacl_reserve) */
};

/* A body of unknown length (chunked) holds this much more of its owner's quota at a time
 * while it streams (one inventory write per step), as far as the quota allows. */
#define UPLOAD_STEP (64LL << 20)

/* An upload that ended, failed or not: p freed; on failure its image's owner row goes when
 * the upload wrote it. The body's callbacks run without the request's inventory session
 * (nor its args): a session of their own then. */
static void put_done(struct req *r, struct put *p, bool failed)
{
	struct dbc *c;

	r->upload_state = NULL;
	if (failed && p->row) {
		c = r->c ? r->c : inv_get(r->srv->db);
		if (!c || imgacl_release(c, p->name, this_host(r->srv)))
			vsrv_log("image %s: its upload failed, and its owner was not forgotten", p->name);
		if (c && c != r->c)
			inv_put(c);
	}
	free(p);
}

/* PUT's body, piece by piece. */
static int put_data(struct req *r, const char *buf, size_t n)
{
	struct put *p = r->upload_state;
	char err[300] = "";
	int rc = 0;

	/* past what the quota holds for it (a body whose size was not said): more, before the
	 * bytes are written */
	p->written += (int64_t)n;
	if (p->written > p->held) {
		struct dbc *c = inv_get(r->srv->db);

		rc = c ? imgacl_reserve(c, &r->who, p->name, p->written + UPLOAD_STEP, p->written,
					&p->held, err, sizeof(err)) : -EIO;
		if (c)
			inv_put(c);
		if (rc == -EDQUOT)
			snprintf(err + strlen(err), sizeof(err) - strlen(err), " (image %s: %" PRId64
				 " bytes so far)", p->name, p->written);
		else if (rc)
			rc = -EIO;
	}
	if (!rc)
		rc = imgup_write(p->u, buf, n, err, sizeof(err));
	if (!rc)
		return 0;
	imgup_abort(p->u);
	put_done(r, p, true);
	req_error(r, rc == -ENOSPC ? 507 : rc == -E2BIG ? 413 : rc == -EDQUOT ? -EDQUOT : -EIO,
		  "%s", err);
	return -1;
}

static void put_end(struct req *r)
{
	struct put *p = r->upload_state;
	struct imgstore_info i;
	char err[300];
	/* failed, also when a file took the name meanwhile (placed by hand: the host's, not
	 * the uploader's; no other upload holds the name, imgup_begin) */
	int rc = imgup_finish(p->u, &i, err, sizeof(err));

	put_done(r, p, rc != 0);
	if (rc) {
		req_error(r, rc == -ENOSPC ? 507 : rc, "%s", err);
		return;
	}
	/* what its owner's quota counts from now on: the file's bytes */
	if (imgacl_set_bytes(r->c, i.name, (int64_t)i.size, this_host(r->srv)) == -EIO)
		vsrv_log("image %s: uploaded, but its size was not recorded for its owner's quota",
			 i.name);
	events_emit(r->srv, r->c, "image-uploaded", "image", i.name, r->who.name, NULL,
		    "image %s uploaded by %s (%" PRIu64 " bytes, sha256 %s)", i.name, r->who.name,
		    i.size, i.sha256);
	r->out = image_json(r, NULL, &i);
	r->status = 201;
	if (!r->out)
		req_error(r, -EIO, "inventory error (the image was kept)");
}

static void put_free(struct req *r)
{
	struct put *p = r->upload_state;

	if (!p)
		return;
	imgup_abort(p->u);      /* the client went away: nothing is kept */
	put_done(r, p, true);
}

/* PUT /api/v1/images/{name}?sha256=HEX: runs when the headers have arrived; the body
 * streams through put_data into the store. */
int api_image_put(struct req *r)
{
	const char *clen = req_header(r, "Content-Length"), *expect = req_query(r, "sha256");
	char err[512];
	int64_t len = -1;
	uint64_t pending = 0;
	struct put *p;
	int rc;

	if (auth_require(r, "server", 0, PERM_MODIFY))
		return r->status;
	if (valid_name(r->args[0], err, sizeof(err)))
		return req_error(r, -EINVAL, "image name: %s", err);
	if (clen) {
		char *end;

		errno = 0;
		len = strtoll(clen, &end, 10);
		if (errno || *end || len < 0)
			return req_error(r, -EINVAL, "Content-Length: '%s' is not a size", clen);
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return req_error(r, -ENOMEM, "out of memory");
	snprintf(p->name, sizeof(p->name), "%s", r->args[0]);
	rc = imgup_begin(r->srv->images, r->args[0], len, expect, &p->u, &pending, err, sizeof(err));
	if (rc) {
		free(p);
		return req_error(r, rc, "%s", err);
	}
	/* The name is the upload's now: its owner first, so the image never shows without (in
	 * a cluster, another host's image of that name keeps its owner). */
	rc = imgacl_upload(r->c, &r->who, r->args[0], this_host(r->srv), &p->row);
	if (rc) {
		imgup_abort(p->u);
		free(p);
		if (rc == -EEXIST)
			return req_error(r, -EEXIST, "an image named '%s' exists on another host of the "
					 "cluster (another user's, or of another visibility): choose "
					 "another name", r->args[0]);
		return req_error(r, -EIO, "inventory error; nothing was stored");
	}
	/* The disks' admission (space.h), with what other uploads may still write. */
	rc = space_admit(r->srv, r->c, pending + (len > 0 ? (uint64_t)len : 0), err, sizeof(err));
	if (rc) {
		imgup_abort(p->u);
		put_done(r, p, true);
		return req_error(r, rc == -ENOSPC ? 507 : rc, "cannot store image %s: %s", r->args[0], err);
	}
	/* A user's private image counts in its disk_bytes quota: its size when said, else a
	 * step at a time while it streams (put_data) */
	err[0] = '\0';
	rc = imgacl_reserve(r->c, &r->who, r->args[0], len >= 0 ? len : UPLOAD_STEP,
			    len >= 0 ? len : 0, &p->held, err, sizeof(err));
	if (rc) {
		imgup_abort(p->u);
		put_done(r, p, true);
		return req_error(r, rc == -EDQUOT ? -EDQUOT : -EIO, "cannot store image %s: %s",
				 r->args[0], err);
	}
	r->upload_state = p;
	r->upload_data = put_data;
	r->upload_end = put_end;
	r->upload_free = put_free;
	return 200;
}

int api_image_delete(struct req *r)
{
	struct imgstore_info i;
	json_t *o;
	int users = 0, rc;

	if (auth_require(r, "server", 0, PERM_MODIFY | PERM_REMOVE) ||
	    visible_image(r, r->args[0], &i))
		return r->status;
	rc = imgacl_may_delete(r->c, &r->who, r->args[0]);
	if (rc < 0)
		return req_error(r, -EIO, "inventory error");
	if (!rc)
		return req_error(r, -EACCES, "image %s is not yours: a public image is deleted by its "
				 "owner or an administrator", r->args[0]);
	/* Users checked and the file removed in one write transaction: a VM that names the
	 * image (kernel, CD/DVD drive: api_vmcd.c checks it in its own) is written before or
	 * after, never in between. */
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	o = json_object();
	rc = o ? image_users(r, r->args[0], o, &users) : -ENOMEM;
	if (rc) {
		json_decref(o);
		inv_rollback(r->c);
		return req_error(r, -EIO, "inventory error");
	}
	if (users) {
		const char *names = json_string_value(json_object_get(o, "used_by"));
		int others = json_integer_value(json_object_get(o, "used_by_others"));

		req_error(r, -EBUSY, "image %s is the kernel, initrd or CD/DVD medium of %s%s%s",
			  r->args[0],
			  names ? names : "", names && others ? " and " : "",
			  others ? "VMs you may not see" : "");
		json_decref(o);
		inv_rollback(r->c);
		return r->status;
	}
	json_decref(o);
	rc = imgstore_delete(r->srv->images, r->args[0]);
	if (rc) {
		inv_rollback(r->c);
		if (rc == -ENOENT)
			return no_image(r, r->args[0]);
		if (rc == -EBUSY)
			return req_error(r, -EBUSY, "image %s is being read by a task (a disk made "
					 "from it)", r->args[0]);
		return req_error(r, -EIO, "cannot delete image %s: %s", r->args[0], strerror(-rc));
	}
	/* its owner goes with it, unless another host of the cluster holds it too */
	if (imgacl_release(r->c, r->args[0], this_host(r->srv)) ||
	    events_emit(r->srv, r->c, "image-deleted", "image", r->args[0], r->who.name, NULL,
			"image %s deleted by %s", r->args[0], r->who.name) || inv_commit(r->c)) {
		inv_rollback(r->c);
		vsrv_log("image %s: deleted, but its event was not recorded", r->args[0]);
	}
	r->status = 204;
	return 204;
}

/* PATCH /api/v1/images/{name} {"public": B}: administrators only (another user gets 403 for
 * an image it sees, and the missing image's 404 for one it does not). */
int api_image_update(struct req *r)
{
	const json_t *p = json_object_get(r->body, "public");
	struct imgstore_info i;
	int rc;

	if (auth_require(r, "server", 0, PERM_MODIFY) || visible_image(r, r->args[0], &i))
		return r->status;
	if (!r->who.admin)
		return req_error(r, -EACCES, "only administrators make an image public or private");
	if (!json_is_object(r->body) || json_object_size(r->body) != 1 || !json_is_boolean(p))
		return req_error(r, -EINVAL, "the body must be {\"public\": true or false}");
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	rc = imgacl_set_public(r->c, r->args[0], json_is_true(p), this_host(r->srv));
	if (rc == -EEXIST) {
		inv_rollback(r->c);
		return req_error(r, -EEXIST, "image %s of this host is not the cluster's image of "
				 "that name (whose copies are on other hosts): delete or rename the "
				 "file here, or change the image on a host that holds it",
				 r->args[0]);
	}
	if (rc || events_emit(r->srv, r->c, "image-updated", "image", r->args[0], r->who.name, NULL,
			"image %s made %s by %s", r->args[0], json_is_true(p) ? "public" : "private",
			r->who.name) || inv_commit(r->c)) {
		inv_rollback(r->c);
		return req_error(r, -EIO, "inventory error; nothing was changed");
	}
	r->out = image_json(r, NULL, &i);
	return r->out ? 200 : req_error(r, -EIO, "inventory error");
}
