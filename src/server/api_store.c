/* Disks (image files in the server's storage directory) and virtual networks. */
#include "server/api.h"
#include "server/auth.h"
#include "server/diskimg.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/layers.h"
#include "server/quota.h"
#include "server/space.h"
#include "server/valid.h"
#include "server/network.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DISK_MAX ((int64_t)2040 << 30)   /* the VHD limit, for raw images too */

static const char *const disk_formats[] = { "raw", "vhd", NULL };
static const char *const disk_subformats[] = { "dynamic", "fixed", NULL };
static const struct valid_field disk_fields[] = {
	{ "name", V_STR, 1, 0, 63, K_NAME, NULL },
	{ "size", V_INT, 1, 512, DISK_MAX, 0, NULL },
	{ "format", V_STR, 0, 0, 8, K_ENUM, disk_formats },
	{ "subformat", V_STR, 0, 0, 8, K_ENUM, disk_subformats },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};
static const char *const net_kinds[] = { "nat", "bridged", "internal", NULL };
static const struct valid_field net_fields[] = {
	{ "name", V_STR, 1, 0, 63, K_NAME, NULL },
	{ "kind", V_STR, 1, 0, 16, K_ENUM, net_kinds },
	{ "bridge", V_STR, 0, 0, 15, K_NAME, NULL },
	{ "subnet", V_STR, 0, 0, 18, K_TEXT, NULL },
	{ "dhcp_start", V_STR, 0, 0, 15, K_TEXT, NULL },
	{ "dhcp_end", V_STR, 0, 0, 15, K_TEXT, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* The id of the object of kind ("disk", "network") the request names, or -1. */
static int64_t id_by_name(struct req *r, const char *kind)
{
	int64_t id;

	return inv_object_id(r->c, kind, r->args[0], &id) ? -1 : id;
}

/* The VMs using disk id, as the caller may see them: "used_by" names those it may see
 * (comma-separated, or null), "used_by_others" counts the others (their names stay
 * unknown to it). */
/* inv_disk_users: whether a VM that is not off (stopped or crashed) has the disk, writable
 * only when *(bool *)arg says so; 1 ends the walk. */
static int used_by_up_vm(const struct inv_vm *v, const struct inv_vm_disk *d, void *arg)
{
	bool writable_only = *(bool *)arg;

	if (!strcmp(v->state, INV_VM_STOPPED) || !strcmp(v->state, INV_VM_CRASHED))
		return 0;
	return writable_only && d->readonly ? 0 : 1;
}

/* What disk_users gathers: the VMs the caller sees (names into f) and the others. */
struct users {
	struct req *r;
	FILE *f;
	int64_t last;               /* a VM with the disk twice counts once */
	int others, n;
};

static int add_user(const struct inv_vm *v, const struct inv_vm_disk *d, void *arg)
{
	struct users *u = arg;

	(void)d;
	if (v->id == u->last)
		return 0;
	u->last = v->id;
	if (!auth_visible(u->r->c, &u->r->who, "vm", v->id))
		u->others++;
	else
		fprintf(u->f, "%s%s", u->n++ ? "," : "", v->name);
	return 0;
}

static int disk_users(struct req *r, int64_t id, json_t *o)
{
	struct users u = { .r = r, .last = -1 };
	char *names = NULL;
	size_t len = 0;
	int others, n, rc;
	FILE *f;

	f = open_memstream(&names, &len);
	if (!f)
		return -ENOMEM;
	u.f = f;
	rc = inv_disk_users(r->c, id, add_user, &u);
	others = u.others;
	n = u.n;
	if (fclose(f) || rc) {
		free(names);
		return rc ? rc : -ENOMEM;
	}
	json_object_set_new(o, "used_by", n ? json_string(names) : json_null());
	json_object_set_new(o, "used_by_others", json_integer(others));
	free(names);
	return 0;
}

static json_t *disk_row_json(struct req *r, const struct inv_disk *d)
{
	struct stat st;
	json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:I}", "name", d->name, "format", d->format,
			      "size", (json_int_t)d->size, "allocated",
			      (json_int_t)(stat(d->path, &st) == 0 ? (int64_t)st.st_blocks * 512 : 0),
			      "created", (json_int_t)d->created);

	if (o && disk_users(r, d->id, o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static json_t *disk_json(struct req *r, int64_t id)
{
	struct inv_disk d;

	return inv_disk_get(r->c, id, &d) ? NULL : disk_row_json(r, &d);
}

/* What disk_add appends the disks a caller may see to. */
struct disk_fill {
	struct req *r;
	bool all;
	json_t *a;
};

static int disk_add(const struct inv_disk *d, void *arg)
{
	struct disk_fill *f = arg;

	if (f->all || (auth_perms(f->r->c, &f->r->who, "disk", d->id) & PERM_VIEW))
		json_array_append_new(f->a, disk_row_json(f->r, d));
	return 0;
}

int api_disk_list(struct req *r)
{
	struct disk_fill f = { .r = r, .all = auth_perms(r->c, &r->who, "server", 0) & PERM_VIEW,
			       .a = json_array() };

	if (inv_disk_each(r->c, disk_add, &f)) {
		json_decref(f.a);
		return req_error(r, -EIO, "inventory error");
	}
	r->out = json_pack("{s:o}", "disks", f.a);
	return 200;
}

int api_disk_create(struct req *r)
{
	char err[512], path[4400];
	const char *name, *format, *sub;
	int64_t size, id;
	uint64_t actual = 0;
	struct inv_disk *d;
	int tries = 0, rc;

	if (json_object_get(r->body, "from_image"))
		return api_disk_from_image(r);  /* a VHD made from an image, as a task */
	if (auth_require(r, "server", 0, PERM_MODIFY))
		return r->status;
	if (!r->body || valid_object(r->body, disk_fields, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", r->body ? err : "the body must be a disk object");
	name = json_string_value(json_object_get(r->body, "name"));
	size = json_integer_value(json_object_get(r->body, "size"));
	format = json_string_value(json_object_get(r->body, "format"));
	sub = json_string_value(json_object_get(r->body, "subformat"));
	if (!format)
		format = "raw";
	if (sub && strcmp(format, "vhd"))
		return req_error(r, -EINVAL, "subformat: only for format vhd");
	if (size % 512)
		return req_error(r, -EINVAL, "size: a multiple of 512 bytes");
	snprintf(path, sizeof(path), "%s/disks/%s.%s", r->srv->data_dir, name, format);
again:
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	rc = space_admit(r->srv, r->c, (uint64_t)size, err, sizeof(err));
	/* the size the image will have: a VHD's is rounded up to its geometry */
	if (!rc)
		rc = quota_admit(r->c, quota_owner(&r->who), &(struct inv_quota){ .disks = 1,
				 .disk_bytes = (int64_t)diskimg_rounded(format, (uint64_t)size) },
				 err, sizeof(err));
	if (rc) {
		inv_rollback(r->c);
		return req_error(r, rc == -ENOSPC ? 507 : rc, "cannot create disk %s: %s", name, err);
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		goto err_io;
	d->size = size;
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->format, sizeof(d->format), "%s", format);
	snprintf(d->path, sizeof(d->path), "%s", path);
	rc = inv_disk_create(r->c, d, &id);
	free(d);
	if (rc == -EEXIST) {
		inv_rollback(r->c);
		return req_error(r, -EEXIST, "a disk named '%s' exists", name);
	}
	if (rc)
		goto err_io;
	/* The file first (sparse), then the commit: a crash leaves at worst an orphan file,
	 * never a disk row without its file. */
	rc = diskimg_create(path, format, sub, (uint64_t)size, &actual, err, sizeof(err));
	if (rc) {
		inv_rollback(r->c);
		return req_error(r, rc == -EEXIST ? -EEXIST : -EIO, "cannot create %s.%s: %s", name,
				 format, err);
	}
	if ((int64_t)actual != size) {
		/* VHD sizes are rounded up to a CHS geometry: record what the guest sees. */
		if (inv_disk_set_size(r->c, id, (int64_t)actual))
			goto err_file;
	}
	if (!r->who.admin && r->who.user_id &&
	    (inv_grant_add(r->c, "disk", id, "user", r->who.user_id, PERM_FULL) ||
	     inv_owner_set(r->c, "disk", id, r->who.user_id)))
		goto err_file;
	if (events_emit(r->srv, r->c, "disk-created", "disk", name, r->who.name, NULL,
			"disk %s created by %s", name, r->who.name))
		goto err_file;
	rc = inv_commit(r->c);
	/* etcd: another create of the same owner (whose usage the quota check read) committed
	 * first: nothing was written; the file goes, and again from the check */
	if (rc == -EAGAIN && ++tries < INV_COMMIT_TRIES) {
		unlink(path);
		goto again;
	}
	if (rc)
		goto err_file;
	r->out = disk_json(r, id);
	r->status = 201;
	return 201;
err_file:
	unlink(path);
err_io:
	inv_rollback(r->c);
	return req_error(r, -EIO, "inventory error; nothing was created");
}

/* inv_disk_each: stops at the disk whose file is the real path arg->want (its id). */
struct by_path {
	char want[PATH_MAX];
	int64_t id;
};

static int disk_at(const struct inv_disk *d, void *arg)
{
	struct by_path *b = arg;
	char have[PATH_MAX];

	if (!realpath(d->path, have) || strcmp(have, b->want))
		return 0;
	b->id = d->id;
	return 1;
}

/* inv_layer_get: the layer's disk and parent. */
struct layer_at {
	int64_t disk_id;
	char parent[4400];
};

static int layer_at(const struct inv_layer *l, void *arg)
{
	struct layer_at *a = arg;

	a->disk_id = l->disk_id;
	snprintf(a->parent, sizeof(a->parent), "%s", l->parent ? l->parent : "");
	return 0;
}

/* The name of the disk whose data the image at path holds (a linked clone's parent): the
 * inventory disk whose file it is, or whose frozen layer it is, down its chain; null when
 * none, or when the caller may not see that disk. Never the path: a host path is no
 * tenant's business (administrators see it beside, as parent_path). */
static json_t *parent_name(struct req *r, const char *path)
{
	struct by_path *b = calloc(1, sizeof(*b));
	struct layer_at *l = calloc(1, sizeof(*l));
	struct inv_disk *d = calloc(1, sizeof(*d));
	char *cur = strdup(path);
	json_t *out = json_null();
	int64_t id = 0;

	for (int depth = 0; b && l && d && cur && *cur && depth < 64 && !id; depth++) {
		if (realpath(cur, b->want) && inv_disk_each(r->c, disk_at, b) == 1)
			id = b->id;
		else if (inv_layer_get(r->c, cur, layer_at, l))
			break;
		else if (l->disk_id)
			id = l->disk_id;
		else {
			free(cur);
			cur = strdup(l->parent);    /* down the chain */
		}
	}
	if (id && auth_visible(r->c, &r->who, "disk", id) && !inv_disk_get(r->c, id, d))
		out = json_string(d->name);
	free(cur);
	free(b);
	free(l);
	free(d);
	return out;
}

int api_disk_get(struct req *r)
{
	int64_t id = id_by_name(r, "disk");

	if (id < 0)
		return auth_missing(r, "disk", r->args[0]);
	if (auth_require_object(r, "disk", id, r->args[0], PERM_VIEW))
		return r->status;
	r->out = disk_json(r, id);
	/* The image's own view (not in the list: it opens the file). */
	{
		struct inv_disk d;

		if (r->out && !inv_disk_get(r->c, id, &d)) {
			json_t *img = diskimg_info_json(d.path, d.format);
			const char *p = json_string_value(json_object_get(img, "parent"));

			if (p) {
				if (r->who.admin)
					json_object_set_new(img, "parent_path", json_string(p));
				json_object_set_new(img, "parent", parent_name(r, p));
			}
			json_object_set_new(r->out, "image", img);
		}
	}
	return 200;
}

/* PATCH {"size": N}: grow a disk that no running VM uses. */
int api_disk_update(struct req *r)
{
	static const struct valid_field f[] = {
		{ "size", V_INT, 1, 512, DISK_MAX, 0, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
	int64_t id = id_by_name(r, "disk"), size, old = 0;
	char err[512], path[4400] = "", format[16] = "raw";
	uint64_t actual = 0, before = 0;
	int busy = 0, tries = 0, rc;

	if (id < 0)
		return auth_missing(r, "disk", r->args[0]);
	if (auth_require_object(r, "disk", id, r->args[0], PERM_MODIFY))
		return r->status;
	if (!r->body || valid_object(r->body, f, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", r->body ? err : "the body must be {\"size\": N}");
	size = json_integer_value(json_object_get(r->body, "size"));
	if (size % 512)
		return req_error(r, -EINVAL, "size: a multiple of 512 bytes");
again:
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	{
		struct inv_disk d;

		rc = inv_disk_get(r->c, id, &d);
		if (rc == -EIO)
			goto err_io;
		if (!rc) {
			old = d.size;
			snprintf(path, sizeof(path), "%s", d.path);
			snprintf(format, sizeof(format), "%s", d.format);
		}
	}
	{
		bool writable_only = false;
		int u = inv_disk_users(r->c, id, used_by_up_vm, &writable_only);

		if (u < 0)
			goto err_io;
		busy = u == 1;
	}
	if (!busy && path[0] && layers_frozen(r->c, path)) {
		inv_rollback(r->c);
		return req_error(r, -EBUSY, "disk %s is frozen: snapshots or linked clones sit over "
				 "it, and a differencing image keeps its parent's size", r->args[0]);
	}
	if (busy || size < old) {
		inv_rollback(r->c);
		return req_error(r, busy ? -EBUSY : -EINVAL, busy ? "the disk is in use by a running VM" :
				 "size: shrinking a disk loses data; only growing is allowed");
	}
	rc = space_admit(r->srv, r->c, (uint64_t)(size - old), err, sizeof(err));
	if (!rc)
		rc = quota_admit_owner(r->c, "disk", id, &(struct inv_quota){ .disk_bytes =
				       (int64_t)diskimg_rounded(format, (uint64_t)size) - old },
				       err, sizeof(err));
	if (rc) {
		inv_rollback(r->c);
		return req_error(r, rc == -ENOSPC ? 507 : rc, "cannot grow disk %s: %s", r->args[0], err);
	}
	/* The file grows first: a crash before the commit leaves a larger image than the
	 * inventory says, which the next resize or start tolerates; never a smaller one. */
	if (diskimg_size(path, format, &before))
		before = UINT64_MAX;    /* unknown (the resize says why): never shrunk back */
	rc = diskimg_resize(path, format, (uint64_t)size, &actual, err, sizeof(err));
	if (rc) {
		inv_rollback(r->c);
		return req_error(r, rc == -EINVAL || rc == -EBUSY ? rc : -EIO, "cannot resize %s: %s",
				 r->args[0], err);
	}
	if (inv_disk_set_size(r->c, id, (int64_t)actual))
		goto err_io;
	if (events_emit(r->srv, r->c, "disk-resized", "disk", r->args[0], r->who.name, NULL,
			"disk %s resized to %lld bytes by %s", r->args[0], (long long)size, r->who.name))
		goto err_io;
	rc = inv_commit(r->c);
	/* etcd: a write of the same owner committed first (inv_etcd_quota.c): the file goes
	 * back to its size (else a refusal of the check below would leave it grown past the
	 * quota, the inventory keeping the old size), and again, from the check */
	if (rc == -EAGAIN && actual > before &&
	    diskimg_shrink_back(path, format, before, err, sizeof(err)))
		vsrv_log("disk %s: cannot shrink back what a failed resize grew: %s", r->args[0], err);
	else if (rc == -EAGAIN && ++tries < INV_COMMIT_TRIES)
		goto again;
	if (rc)
		goto err_io; /* the grown file stays; the inventory keeps the old size */
	r->out = disk_json(r, id);
	return 200;
err_io:
	inv_rollback(r->c);
	return req_error(r, -EIO, "inventory or file error; nothing was changed");
}

int api_disk_delete(struct req *r)
{
	struct layer_files lf = { NULL, NULL, false };
	int64_t id = id_by_name(r, "disk");
	char path[4400] = "";
	int rc;

	if (id < 0)
		return auth_missing(r, "disk", r->args[0]);
	if (auth_require_object(r, "disk", id, r->args[0], PERM_REMOVE))
		return r->status;
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	{
		struct inv_disk d;

		rc = inv_disk_get(r->c, id, &d);
		if (rc == -EIO)
			goto err_io;
		if (!rc)
			snprintf(path, sizeof(path), "%s", d.path);
	}
	if (path[0] && (rc = layers_frozen(r->c, path)) != 0) {
		inv_rollback(r->c);
		return rc < 0 ? req_error(r, -EIO, "inventory error") : req_error(r, -EBUSY,
			"disk %s is frozen: snapshots or linked clones sit over it", r->args[0]);
	}
	rc = inv_disk_delete(r->c, id);
	if (rc == -EEXIST) {
		inv_rollback(r->c);
		return req_error(r, -EBUSY, "disk %s is attached to a VM", r->args[0]);
	}
	if (rc == -ENOENT) {
		inv_rollback(r->c);
		return auth_missing(r, "disk", r->args[0]);
	}
	if (rc)
		goto err_io;
	/* a linked clone's disk: the frozen images under it may be needed no more */
	if (layer_files_init(&lf) || layers_collect(r->c, &lf))
		goto err_io;
	if (events_emit(r->srv, r->c, "disk-deleted", "disk", r->args[0], r->who.name, NULL,
			"disk %s deleted by %s", r->args[0], r->who.name) || inv_commit(r->c))
		goto err_io;
	unlink(path);
	layer_files_end(&lf, true);
	r->status = 204;
	return 204;
err_io:
	inv_rollback(r->c);
	if (lf.gone)
		layer_files_end(&lf, false);
	return req_error(r, -EIO, "inventory error; nothing was deleted");
}

static const char *or_null(const char *t)
{
	return *t ? t : NULL;
}

static json_t *net_json(const struct inv_net *n)
{
	return json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s?}", "name", n->name, "kind", n->kind,
			 "bridge", or_null(n->bridge), "subnet", or_null(n->subnet),
			 "dhcp_start", or_null(n->dhcp_start), "dhcp_end", or_null(n->dhcp_end));
}

/* What net_add appends the networks a caller may see to. */
struct net_fill {
	struct req *r;
	bool all;
	json_t *a;
};

static int net_add(const struct inv_net *n, void *arg)
{
	struct net_fill *f = arg;

	if (f->all || (auth_perms(f->r->c, &f->r->who, "network", n->id) & PERM_VIEW))
		json_array_append_new(f->a, net_json(n));
	return 0;
}

int api_net_list(struct req *r)
{
	struct net_fill f = { .r = r, .all = auth_perms(r->c, &r->who, "server", 0) & PERM_VIEW,
			      .a = json_array() };

	if (inv_net_each(r->c, net_add, &f)) {
		json_decref(f.a);
		return req_error(r, -EIO, "inventory error");
	}
	r->out = json_pack("{s:o}", "networks", f.a);
	return 200;
}

int api_net_create(struct req *r)
{
	char err[256], dstart[16] = "", dend[16] = "", br[16];
	const json_t *b = r->body;
	const char *kind, *name;
	struct inv_net n = { 0 };
	int64_t id;
	int rc;

	if (auth_require(r, "server", 0, PERM_MODIFY))
		return r->status;
	if (!b || valid_object(b, net_fields, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", b ? err : "the body must be a network object");
	kind = json_string_value(json_object_get(b, "kind"));
	name = json_string_value(json_object_get(b, "name"));
	if (!strcmp(kind, "bridged") != !!json_object_get(b, "bridge"))
		return req_error(r, -EINVAL, "bridge: required for (and only for) kind bridged");
	/* A bridged network puts VMs on a host bridge, the host's LAN: a host-level act. */
	if (!strcmp(kind, "bridged") && !r->who.admin)
		return req_error(r, -EACCES, "bridged networks are for administrators (their VMs "
				 "join a host bridge)");
	if (strcmp(kind, "nat") && (json_object_get(b, "subnet") || json_object_get(b, "dhcp_start") ||
				    json_object_get(b, "dhcp_end")))
		return req_error(r, -EINVAL, "subnet, dhcp_start, dhcp_end: only for kind nat (a bridged "
				 "network's addresses are its LAN's; an internal one has no DHCP server)");
	if (!strcmp(kind, "nat")) {
		const char *e = json_string_value(json_object_get(b, "dhcp_end"));

		if (network_nat_check(json_string_value(json_object_get(b, "subnet")),
				   json_string_value(json_object_get(b, "dhcp_start")), dstart, dend, err,
				   sizeof(err)))
			return req_error(r, -EINVAL, "%s", err);
		if (e && strcmp(e, dend))
			return req_error(r, -EINVAL, "dhcp_end: libslirp leases 16 addresses, from %s to %s",
					 dstart, dend);
	}
	snprintf(n.name, sizeof(n.name), "%s", name);
	snprintf(n.kind, sizeof(n.kind), "%s", kind);
	if (json_object_get(b, "bridge"))
		snprintf(n.bridge, sizeof(n.bridge), "%s",
			 json_string_value(json_object_get(b, "bridge")));
	if (json_object_get(b, "subnet"))
		snprintf(n.subnet, sizeof(n.subnet), "%s",
			 json_string_value(json_object_get(b, "subnet")));
	else if (!strcmp(kind, "nat"))
		snprintf(n.subnet, sizeof(n.subnet), "10.0.2.0/24");
	snprintf(n.dhcp_start, sizeof(n.dhcp_start), "%s", dstart);
	snprintf(n.dhcp_end, sizeof(n.dhcp_end), "%s", dend);
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	rc = inv_net_create(r->c, &n, &id);
	if (rc == -EEXIST) {
		inv_rollback(r->c);
		return req_error(r, -EEXIST, "a network named '%s' exists", name);
	}
	if (!rc && !strcmp(kind, "internal")) {
		/* Its bridge is named now and created when the first VM on it starts. */
		network_internal_bridge(r->srv, id, br, sizeof(br));
		rc = inv_net_set_bridge(r->c, id, br);
	}
	if (!rc && !r->who.admin && r->who.user_id)
		/* The creator holds every permission on what it creates (as for VMs and disks). */
		rc = inv_grant_add(r->c, "network", id, "user", r->who.user_id, PERM_FULL);
	if (rc || events_emit(r->srv, r->c, "network-created", "network", name, r->who.name, NULL,
			      "network %s created by %s", name, r->who.name) || inv_commit(r->c))
		goto err_io;
	r->args[0] = name;
	return api_net_get(r) == 200 ? (r->status = 201) : r->status;
err_io:
	inv_rollback(r->c);
	return req_error(r, -EIO, "inventory error; nothing was created");
}

int api_net_get(struct req *r)
{
	struct inv_net n;
	int64_t id = -1;
	int rc = inv_object_id(r->c, "network", r->args[0], &id);

	if (!rc)
		rc = inv_net_get(r->c, id, &n);
	if (rc == -EIO)
		return req_error(r, -EIO, "inventory error");
	if (rc)
		return auth_missing(r, "network", r->args[0]);
	r->out = net_json(&n);
	if (auth_require_object(r, "network", id, r->args[0], PERM_VIEW))
		return r->status;
	return 200;
}

int api_net_delete(struct req *r)
{
	int64_t id = id_by_name(r, "network");
	char br[16] = "";
	int rc, internal = 0;

	if (id < 0)
		return auth_missing(r, "network", r->args[0]);
	if (auth_require_object(r, "network", id, r->args[0], PERM_REMOVE))
		return r->status;
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	{
		struct inv_net n;

		rc = inv_net_get(r->c, id, &n);
		if (rc == -EIO)
			goto err_io;
		internal = !rc && !strcmp(n.kind, "internal");
	}
	rc = inv_net_delete(r->c, id);
	if (rc == -EEXIST) {
		inv_rollback(r->c);
		return req_error(r, -EBUSY, "network %s has VMs attached", r->args[0]);
	}
	if (rc == -ENOENT) {
		inv_rollback(r->c);
		return auth_missing(r, "network", r->args[0]);
	}
	if (rc || events_emit(r->srv, r->c, "network-deleted", "network", r->args[0], r->who.name, NULL,
			      "network %s deleted by %s", r->args[0], r->who.name) || inv_commit(r->c))
		goto err_io;
	/* An internal network's bridge goes with it (no VM is on it: none is attached). */
	if (internal) {
		network_internal_bridge(r->srv, id, br, sizeof(br));
		rc = network_bridge_remove(br);
		if (rc)
			vsrv_log("network %s: cannot remove bridge %s: %s", r->args[0], br, strerror(-rc));
	}
	r->status = 204;
	return 204;
err_io:
	inv_rollback(r->c);
	return req_error(r, -EIO, "inventory error; nothing was deleted");
}
