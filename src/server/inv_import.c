/* Import a host's inventory into a cluster's (inv_import.h): a check of everything first,
 * then the writes, object kind by object kind, each VM in one transaction. */
#include "server/inv_import.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Old id -> new id, for one kind of object. */
struct idmap {
	int64_t (*pair)[2];
	size_t n, cap;
};

static int map_put(struct idmap *m, int64_t old, int64_t new_id)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		void *p = realloc(m->pair, cap * sizeof(*m->pair));

		if (!p)
			return -ENOMEM;
		m->pair = p;
		m->cap = cap;
	}
	m->pair[m->n][0] = old;
	m->pair[m->n][1] = new_id;
	m->n++;
	return 0;
}

/* The new id of old; 0 for 0 (no object) and for an id the map has not (a dangling
 * reference of the source). */
static int64_t map_get(const struct idmap *m, int64_t old)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->pair[i][0] == old)
			return m->pair[i][1];
	return 0;
}

struct imp {
	struct dbc *s, *d;                 /* source (SQLite), destination (the cluster's) */
	const char *data_dir;
	struct idmap users, groups, nets, disks, vms, snaps;
	struct inv_import_counts *n;
	char *err;
	size_t errlen;
	/* the check: what is taken, as one message */
	char taken[512];
	int ntaken;
	/* what the walks collect */
	int64_t *ids;
	size_t nids, capids;
	int64_t new_id;                    /* the object being written (a VM, a snapshot) */
	int64_t current;                   /* the source VM's current snapshot (old id) */
	const char *otype;                 /* the grants being copied */
	int64_t oid;
};

static void say(struct imp *im, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(im->err, im->errlen, fmt, ap);
	va_end(ap);
}

static void taken(struct imp *im, const char *what, const char *name)
{
	size_t l = strlen(im->taken);

	if (im->ntaken++ < 6)
		snprintf(im->taken + l, sizeof(im->taken) - l, "%s%s %s", l ? ", " : "", what, name);
}

static int add_id(struct imp *im, int64_t id)
{
	if (im->nids == im->capids) {
		size_t cap = im->capids ? im->capids * 2 : 64;
		void *p = realloc(im->ids, cap * sizeof(*im->ids));

		if (!p)
			return -ENOMEM;
		im->ids = p;
		im->capids = cap;
	}
	im->ids[im->nids++] = id;
	return 0;
}

/* --- the check ------------------------------------------------------------------------- */

static int check_vm(const struct inv_vm *v, void *arg)
{
	struct imp *im = arg;
	int64_t id;
	int rc;

	if (inv_vm_state_up(v->state)) {
		say(im, "VM %s is %s: stop this host's VMs before importing its inventory",
		    v->name, v->state);
		return -EBUSY;
	}
	rc = inv_vm_id(im->d, v->name, &id);
	if (rc == 0)
		taken(im, "VM", v->name);
	else if (rc != -ENOENT)
		return rc;
	return add_id(im, v->id);
}

static int check_disk(const struct inv_disk *dk, void *arg)
{
	struct imp *im = arg;
	int64_t id;
	int rc = inv_object_id(im->d, "disk", dk->name, &id);

	if (rc == 0)
		taken(im, "disk", dk->name);
	return rc == -ENOENT || rc == 0 ? 0 : rc;
}

/* The cluster's disks' images, one per line (read once). */
struct paths {
	char *buf;
	size_t len;
};

static int add_path(const struct inv_disk *dk, void *arg)
{
	struct paths *p = arg;
	size_t l = strlen(dk->path);
	char *b = realloc(p->buf, p->len + l + 3);

	if (!b)
		return -ENOMEM;
	p->buf = b;
	b[p->len] = '\n';
	memcpy(b + p->len + 1, dk->path, l);
	p->len += l + 1;
	memcpy(b + p->len, "\n", 2);
	return 0;
}

struct path_check {
	struct imp *im;
	struct paths *cluster;
};

static int check_disk_path(const struct inv_disk *dk, void *arg)
{
	struct path_check *pc = arg;
	char line[4404];

	snprintf(line, sizeof(line), "\n%s\n", dk->path);
	if (pc->cluster->buf && strstr(pc->cluster->buf, line))
		taken(pc->im, "disk image", dk->path);
	return 0;
}

static int found(const struct inv_layer *l, void *arg)
{
	(void)l;
	(void)arg;
	return 1;
}

static int check_layer(const struct inv_layer *l, void *arg)
{
	struct imp *im = arg;
	int rc = inv_layer_get(im->d, l->path, found, NULL);

	if (rc == 1)
		taken(im, "disk layer", l->path);
	return rc == 1 || rc == -ENOENT ? 0 : rc;
}

/* A network of the same name is the cluster's when it is the same network. */
static int same_net(struct imp *im, const struct inv_net *n, int64_t *id)
{
	struct inv_net o;
	int rc = inv_object_id(im->d, "network", n->name, id);

	if (rc)
		return rc;
	rc = inv_net_get(im->d, *id, &o);
	if (rc)
		return rc;
	return !strcmp(o.kind, n->kind) && !strcmp(o.bridge, n->bridge) &&
	       !strcmp(o.subnet, n->subnet) ? 1 : 0;
}

static int check_net(const struct inv_net *n, void *arg)
{
	struct imp *im = arg;
	int64_t id;
	int rc = same_net(im, n, &id);

	if (rc == 0)
		taken(im, "network (another kind, bridge or subnet)", n->name);
	return rc == 1 || rc == 0 || rc == -ENOENT ? 0 : rc;
}

static int check_nic(const struct inv_vm_nic *nic, void *arg)
{
	struct imp *im = arg;
	int rc = inv_mac_used(im->d, nic->mac);

	if (rc == 1)
		taken(im, "MAC", nic->mac);
	return rc < 0 ? rc : 0;
}

static int check(struct imp *im)
{
	int rc = inv_vm_each(im->s, check_vm, im);

	for (size_t i = 0; !rc && i < im->nids; i++)
		rc = inv_vm_nics(im->s, im->ids[i], check_nic, im);
	if (!rc)
		rc = inv_disk_each(im->s, check_disk, im);
	if (!rc) {
		struct paths cl = { 0 };
		struct path_check pc = { im, &cl };

		rc = inv_disk_each(im->d, add_path, &cl);
		if (!rc)
			rc = inv_disk_each(im->s, check_disk_path, &pc);
		free(cl.buf);
	}
	if (!rc)
		rc = inv_net_each(im->s, check_net, im);
	if (!rc)
		rc = inv_layer_each(im->s, check_layer, im);
	if (rc == -EBUSY)
		return rc;
	if (rc) {
		say(im, "cannot read the inventories: %s", strerror(-rc));
		return rc;
	}
	if (im->ntaken) {
		say(im, "the cluster has already %s%s: rename or remove them on one side first "
		    "(nothing was imported)", im->taken,
		    im->ntaken > 6 ? " and more" : "");
		return -EEXIST;
	}
	return 0;
}

/* --- principals ------------------------------------------------------------------------ */

static int copy_user(const struct inv_user *u, void *arg)
{
	struct imp *im = arg;
	struct inv_user o;
	int64_t id;
	int rc = inv_user_by_name(im->d, u->name, &o);

	if (rc == 0) {
		im->n->users_merged++;
		return map_put(&im->users, u->id, o.id);
	}
	if (rc != -ENOENT)
		return rc;
	rc = inv_user_create(im->d, u->name, u->password, u->admin, &id);
	if (!rc) {
		/* its quota comes with it (a user the cluster has keeps the cluster's) */
		struct inv_quota q;

		rc = inv_quota_get(im->s, u->id, &q);
		if (!rc)
			rc = inv_quota_put(im->d, id, &q);
	}
	if (rc)
		return rc;
	im->n->users++;
	return map_put(&im->users, u->id, id);
}

static int copy_group(int64_t gid, const char *name, void *arg)
{
	struct imp *im = arg;
	int64_t id;
	int rc = inv_principal_id(im->d, "group", name, &id);

	if (rc == 0)
		im->n->groups_merged++;
	else if (rc == -ENOENT && !(rc = inv_group_create(im->d, name, &id)))
		im->n->groups++;
	if (!rc)
		rc = map_put(&im->groups, gid, id);
	return rc ? rc : add_id(im, gid);
}

static int copy_member(int64_t uid, const char *name, void *arg)
{
	struct imp *im = arg;

	(void)name;
	return inv_member_add(im->d, im->new_id, map_get(&im->users, uid));
}

static int copy_principals(struct imp *im)
{
	int rc = inv_user_each(im->s, copy_user, im);

	im->nids = 0;
	if (!rc)
		rc = inv_group_each(im->s, copy_group, im);
	for (size_t i = 0; !rc && i < im->nids; i++) {
		im->new_id = map_get(&im->groups, im->ids[i]);
		rc = inv_members(im->s, false, im->ids[i], copy_member, im);
	}
	if (rc)
		say(im, "cannot import the users and groups: %s", strerror(-rc));
	return rc;
}

/* --- networks and disks ---------------------------------------------------------------- */

static int copy_net(const struct inv_net *n, void *arg)
{
	struct imp *im = arg;
	int64_t id;
	int rc = same_net(im, n, &id);

	if (rc == 1) {
		im->n->networks_merged++;
		return map_put(&im->nets, n->id, id);
	}
	if (rc != -ENOENT)
		return rc ? rc : -EEXIST;   /* taken since the check */
	rc = inv_net_create(im->d, n, &id);
	if (!rc)
		im->n->networks++;
	return rc ? rc : map_put(&im->nets, n->id, id);
}

/* The owner of the source's object (kind, old) for the new one (quota.h). */
static int copy_owner(struct imp *im, const char *kind, int64_t old, int64_t new_id)
{
	int64_t uid = 0;
	int rc = inv_owner_get(im->s, kind, old, &uid);

	return rc || !uid ? rc : inv_owner_set(im->d, kind, new_id, map_get(&im->users, uid));
}

static int copy_disk(const struct inv_disk *dk, void *arg)
{
	struct imp *im = arg;
	int64_t id;
	int rc = inv_disk_create(im->d, dk, &id);

	if (!rc)
		rc = copy_owner(im, "disk", dk->id, id);
	if (!rc)
		im->n->disks++;
	return rc ? rc : map_put(&im->disks, dk->id, id);
}

/* --- VMs ------------------------------------------------------------------------------- */

static int copy_vm_disk(const struct inv_vm_disk *a, void *arg)
{
	struct imp *im = arg;

	return inv_vm_disk_add(im->d, im->new_id, a->idx, map_get(&im->disks, a->disk_id), a->bus,
			       a->readonly);
}

static int copy_vm_nic(const struct inv_vm_nic *a, void *arg)
{
	struct imp *im = arg;
	int rc = inv_vm_nic_add(im->d, im->new_id, a->idx, map_get(&im->nets, a->network_id),
				a->mac);

	return rc ? rc : inv_vm_nic_set_model(im->d, im->new_id, a->idx, a->model);
}

static int copy_vm_cdrom(const struct inv_vm_cdrom *a, void *arg)
{
	struct imp *im = arg;
	int rc = inv_vm_cdrom_add(im->d, im->new_id, a->idx, a->image);

	return rc ? rc : inv_vm_cdrom_set_bus(im->d, im->new_id, a->idx, a->bus);
}

/* VM old of the source, as one transaction of the destination. */
static int copy_vm(struct imp *im, int64_t old)
{
	struct inv_vm v;
	struct inv_vm_hw hw;
	int rc = inv_vm_get(im->s, old, &v), tmpl;

	if (rc)
		return rc;
	rc = inv_vm_hw_get(im->s, old, &hw);
	tmpl = rc ? 0 : inv_vm_template(im->s, old);
	if (!rc && tmpl < 0)
		rc = tmpl;
	if (!rc)
		rc = inv_begin(im->d);
	if (rc) {
		inv_vm_clear(&v);
		return rc;
	}
	rc = inv_vm_create(im->d, &v, &im->new_id);
	if (!rc)
		rc = inv_vm_hw_put(im->d, im->new_id, &hw);
	if (!rc)
		rc = inv_vm_hw_set_uuid(im->d, im->new_id, hw.uuid);
	if (!rc)
		rc = inv_vm_disks(im->s, old, copy_vm_disk, im);
	if (!rc)
		rc = inv_vm_nics(im->s, old, copy_vm_nic, im);
	if (!rc)
		rc = inv_vm_cdroms(im->s, old, copy_vm_cdrom, im);
	if (!rc && tmpl)
		rc = inv_vm_set_template(im->d, im->new_id, true);
	if (!rc)
		rc = copy_owner(im, "vm", old, im->new_id);
	/* a saved VM stays saved: its file moves with its directory (move_dirs), and a start
	 * that did not find the VM saved would drop the file as stale */
	if (!rc && !strcmp(v.state, INV_VM_SAVED))
		rc = inv_vm_set_state(im->d, im->new_id, INV_VM_SAVED, 0, v.last_exit);
	if (!rc)
		rc = inv_commit(im->d);
	else
		inv_rollback(im->d);
	if (rc)
		say(im, "cannot import VM %s: %s", v.name, strerror(-rc));
	inv_vm_clear(&v);
	if (!rc)
		im->n->vms++;
	return rc ? rc : map_put(&im->vms, old, im->new_id);
}

/* --- layers and snapshots -------------------------------------------------------------- */

static int copy_layer(const struct inv_layer *l, void *arg)
{
	struct imp *im = arg;
	struct inv_layer c = *l;
	int rc;

	c.vm_id = map_get(&im->vms, l->vm_id);
	c.disk_id = map_get(&im->disks, l->disk_id);
	rc = inv_layer_add(im->d, &c);
	if (!rc)
		im->n->layers++;
	return rc;
}

static int copy_snap_image(int64_t disk_id, const char *path, void *arg)
{
	struct imp *im = arg;

	return inv_snap_image_add(im->d, im->new_id, map_get(&im->disks, disk_id), path);
}

static int copy_snap(const struct inv_snapshot *s, void *arg)
{
	struct imp *im = arg;
	struct inv_snapshot c = *s;
	int64_t vm = map_get(&im->vms, s->vm_id), id;
	int rc;

	c.vm_id = vm;
	c.parent_id = map_get(&im->snaps, s->parent_id);
	rc = inv_snap_create(im->d, &c, &id);
	if (rc)
		return rc;
	im->n->snapshots++;
	if (s->current)
		im->current = s->id;
	rc = map_put(&im->snaps, s->id, id);
	im->new_id = id;
	return rc ? rc : inv_snap_images(im->s, s->id, copy_snap_image, im);
}

static int copy_snaps(struct imp *im, int64_t old_vm)
{
	size_t before = im->snaps.n;
	int rc;

	im->current = 0;
	rc = inv_snap_each(im->s, old_vm, copy_snap, im);
	/* inv_snap_create made each the current one: the source's is */
	if (!rc && im->snaps.n > before)
		rc = inv_snap_set_current(im->d, map_get(&im->vms, old_vm),
					  map_get(&im->snaps, im->current));
	return rc;
}

/* --- grants and hooks ------------------------------------------------------------------ */

static int copy_grant(const struct inv_grant *g, void *arg)
{
	struct imp *im = arg;
	bool user = !strcmp(g->ptype, "user");
	int64_t pid = map_get(user ? &im->users : &im->groups, g->pid);
	int rc;

	if (!pid)
		return 0;   /* a grant to a principal gone */
	rc = inv_grant_add(im->d, im->otype, im->oid, g->ptype, pid, g->perms);
	if (rc == -EEXIST && g->pname)   /* the cluster's principal holds one: add to it */
		rc = inv_grant_merge(im->d, im->otype, im->oid, g->ptype, g->pname, g->perms);
	if (!rc)
		im->n->grants++;
	return rc;
}

static int grants_of(struct imp *im, const char *otype, const struct idmap *m)
{
	int rc = 0;

	im->otype = otype;
	if (!m) {
		im->oid = 0;
		return inv_grant_each(im->s, otype, 0, copy_grant, im);
	}
	for (size_t i = 0; !rc && i < m->n; i++) {
		im->oid = m->pair[i][1];
		rc = inv_grant_each(im->s, otype, m->pair[i][0], copy_grant, im);
	}
	return rc;
}

static int copy_hook(const struct inv_hook *h, void *arg)
{
	struct imp *im = arg;
	int64_t id;
	int rc = inv_hook_create(im->d, h, &id);

	if (!rc)
		im->n->hooks++;
	return rc;
}

/* An image's owner, as the user's new id (a user not imported: none, an administrators'
 * image). */
static int copy_image(const struct inv_image *i, void *arg)
{
	struct imp *im = arg;
	struct inv_image c = *i;

	c.owner = map_get(&im->users, i->owner);
	return inv_image_put(im->d, &c);
}

/* --- the VMs' directories -------------------------------------------------------------- */

/* DATA/vms/OLD -> DATA/vms/NEW for every VM, through DATA/vms/.import-NEW so that an old
 * id that is another VM's new one is never overwritten; a directory already at NEW (a VM
 * deleted long ago) is moved aside. */
static int move_dirs(struct imp *im)
{
	char from[4200], to[4200], aside[4300];
	struct stat st;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < im->vms.n; i++) {
			long long o = (long long)im->vms.pair[i][0], nw = (long long)im->vms.pair[i][1];

			if (pass == 0)
				snprintf(from, sizeof(from), "%s/vms/%lld", im->data_dir, o);
			else
				snprintf(from, sizeof(from), "%s/vms/.import-%lld", im->data_dir, nw);
			if (pass == 0)
				snprintf(to, sizeof(to), "%s/vms/.import-%lld", im->data_dir, nw);
			else
				snprintf(to, sizeof(to), "%s/vms/%lld", im->data_dir, nw);
			if (stat(from, &st))
				continue;       /* a VM that never ran has none */
			if (pass == 1 && !stat(to, &st)) {
				snprintf(aside, sizeof(aside), "%s.before-import-%lld", to,
					 (long long)time(NULL));
				if (rename(to, aside))
					goto err;
			}
			if (rename(from, to))
				goto err;
		}
	}
	return 0;
err:
	say(im, "the inventory is imported, but %s cannot become %s: %s (move it by hand)",
	    from, to, strerror(errno));
	return -errno;
}

/* The state files of snapshots with memory (snapmem.h), DIR/snapshots/ID.vsav and ID.hw in
 * each moved VM directory, renamed after their snapshots' new ids: through .import-NEW.EXT
 * first, as move_dirs does, so that no file with an old id that is another's new one is
 * overwritten. A file of no imported snapshot is left as it is. 0 or -errno. */
static int move_snapmem(struct imp *im)
{
	char dir[4200], from[4500], to[4500];

	for (size_t i = 0; i < im->vms.n; i++) {
		snprintf(dir, sizeof(dir), "%s/vms/%lld/snapshots", im->data_dir,
			 (long long)im->vms.pair[i][1]);
		for (int pass = 0; pass < 2; pass++) {
			DIR *d = opendir(dir);
			struct dirent *e;

			if (!d)
				break;          /* none: no snapshot of it has memory */
			while ((e = readdir(d))) {
				long long old, nw;
				char ext[8];
				int n = 0;

				if (pass == 0 && (sscanf(e->d_name, "%lld.%7[a-z]%n", &old, ext, &n) != 2 ||
						  e->d_name[n] || !(nw = map_get(&im->snaps, old))))
					continue;
				if (pass == 1 && (sscanf(e->d_name, ".import-%lld.%7[a-z]%n", &nw, ext,
							 &n) != 2 || e->d_name[n]))
					continue;
				snprintf(from, sizeof(from), "%s/%s", dir, e->d_name);
				snprintf(to, sizeof(to), pass ? "%s/%lld.%s" : "%s/.import-%lld.%s", dir,
					 nw, ext);
				if (rename(from, to)) {
					closedir(d);
					say(im, "the inventory is imported, but %s cannot become %s: %s "
					    "(move it by hand)", from, to, strerror(errno));
					return -errno;
				}
			}
			closedir(d);
		}
	}
	return 0;
}

/* --- the import ------------------------------------------------------------------------ */

static int collect_vm(const struct inv_vm *v, void *arg)
{
	return add_id(arg, v->id);
}

static int write_all(struct imp *im)
{
	int rc = copy_principals(im);
	const char *step = "networks";

	if (rc)
		return rc;
	rc = inv_net_each(im->s, copy_net, im);
	if (!rc && (step = "disks"))
		rc = inv_disk_each(im->s, copy_disk, im);
	im->nids = 0;
	if (!rc && (step = "VMs"))
		rc = inv_vm_each(im->s, collect_vm, im);
	for (size_t i = 0; !rc && i < im->nids; i++) {
		rc = copy_vm(im, im->ids[i]);
		if (rc)
			return rc;   /* copy_vm said which */
	}
	if (!rc && (step = "disk layers"))
		rc = inv_layer_each(im->s, copy_layer, im);
	for (size_t i = 0; !rc && i < im->nids; i++) {
		step = "snapshots";
		rc = copy_snaps(im, im->ids[i]);
	}
	if (!rc && (step = "grants"))
		rc = grants_of(im, "server", NULL);
	if (!rc)
		rc = grants_of(im, "vm", &im->vms);
	if (!rc)
		rc = grants_of(im, "disk", &im->disks);
	if (!rc)
		rc = grants_of(im, "network", &im->nets);
	if (!rc && (step = "hooks"))
		rc = inv_hook_each(im->s, NULL, copy_hook, im);
	if (!rc && (step = "images' owners"))
		rc = inv_image_each(im->s, copy_image, im);
	if (rc)
		say(im, "cannot import the %s: %s (what came before them is imported)", step,
		    strerror(-rc));
	return rc;
}

int inv_import(struct db *src, struct db *dst, const char *data_dir,
	       struct inv_import_counts *counts, char *err, size_t errlen)
{
	struct imp im = { .data_dir = data_dir, .n = counts, .err = err, .errlen = errlen };
	int rc = -EIO;

	memset(counts, 0, sizeof(*counts));
	snprintf(err, errlen, "cannot open the inventories");
	im.s = inv_get(src);
	im.d = inv_get(dst);
	if (!im.s || !im.d)
		goto out;
	rc = check(&im);
	if (!rc)
		rc = write_all(&im);
	if (!rc)
		rc = move_dirs(&im);
	if (!rc)
		rc = move_snapmem(&im);
out:
	if (im.s)
		inv_put(im.s);
	if (im.d)
		inv_put(im.d);
	free(im.users.pair);
	free(im.groups.pair);
	free(im.nets.pair);
	free(im.disks.pair);
	free(im.vms.pair);
	free(im.snaps.pair);
	free(im.ids);
	return rc;
}

int inv_import_data_dir(struct db *dst, const char *data_dir,
			struct inv_import_counts *counts, char *err, size_t errlen)
{
	static const char *const ext[] = { "", "-wal", "-shm" };
	char path[4200], from[4300], to[4300];
	struct db *src;
	int rc;

	memset(counts, 0, sizeof(*counts));
	snprintf(path, sizeof(path), "%s/inventory.db", data_dir);
	if (access(path, F_OK)) {
		snprintf(err, errlen, "%s: no inventory to import (already imported?)", path);
		return -ENOENT;
	}
	rc = inv_open(path, &src);
	if (rc) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = inv_import(src, dst, data_dir, counts, err, errlen);
	inv_close(src);
	for (size_t i = 0; !rc && i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(from, sizeof(from), "%s%s", path, ext[i]);
		snprintf(to, sizeof(to), "%s.imported%s", path, ext[i]);
		if (rename(from, to) && errno != ENOENT) {
			rc = -errno;
			snprintf(err, errlen, "imported, but %s cannot become %s: %s (rename it by "
				 "hand before the next --import-inventory)", from, to, strerror(errno));
		}
	}
	return rc;
}
