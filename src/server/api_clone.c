/* Clones and templates (clone.h): POST /api/v1/vms/{name}/clone {"name", "linked",
 * "description"} needs control on the source (as Proxmox's VM.Clone and libvirt's
 * virt-clone, which reads and freezes the source's disks) and modify on the server (it
 * creates a VM); POST /api/v1/vms {"from_template", "name", "linked", "description"} needs
 * view on the template (granting view publishes a template) and modify on the server.
 * Both need view on every disk of the source (what GET /api/v1/disks/NAME needs): a clone
 * copies or shares them; else 403, naming the disk by its index only. And every image of
 * the store the source uses (kernel, initrd, CD/DVD media) must be one the caller may use
 * (imgacl.h): else 403. */
#include "server/api.h"
#include "server/auth.h"
#include "server/clone.h"
#include "server/imgacl.h"
#include "server/inv.h"
#include "server/valid.h"
#include "server/vmrow.h"

#include <errno.h>
#include <string.h>

/* clone_req.may_read: what GET /api/v1/disks/NAME asks of its caller. */
static bool may_read_disk(void *arg, int64_t disk_id)
{
	struct req *r = arg;

	return auth_visible(r->c, &r->who, "disk", disk_id) &&
	       (auth_perms(r->c, &r->who, "disk", disk_id) & PERM_VIEW);
}

/* The image of the store that a VM's kernel or initrd f is (its name, or an older row's
 * path under DATA/images), or NULL. */
static const char *store_name(struct req *r, const char *f)
{
	size_t n = strlen(r->srv->images_dir);

	if (!f || !*f)
		return NULL;
	if (f[0] != '/')
		return f;
	return !strncmp(f, r->srv->images_dir, n) && f[n] == '/' && !strchr(f + n + 1, '/') ?
	       f + n + 1 : NULL;
}

/* inv_vm_cdroms: 1 (ends the walk) at a drive holding an image the caller may not see. */
static int hidden_cd(const struct inv_vm_cdrom *d, void *arg)
{
	struct req *r = arg;

	return d->image && imgacl_visible(r->c, &r->who, d->image, imgacl_host(r->srv)) != 1;
}

/* Whether the caller may use every image of the store VM src boots from or holds in a
 * drive (imgacl.h): a clone uses them too. 0, or -EACCES (an answer set on r) or -EIO. */
static int images_usable(struct req *r, int64_t src, const char *src_name)
{
	struct inv_vm v;
	const char *k, *i;
	int rc = inv_vm_get(r->c, src, &v);

	if (rc)
		return req_error(r, -EIO, "inventory error"), -EIO;
	k = store_name(r, v.kernel);
	i = store_name(r, v.initrd);
	rc = (k && imgacl_visible(r->c, &r->who, k, imgacl_host(r->srv)) != 1) ||
	     (i && imgacl_visible(r->c, &r->who, i, imgacl_host(r->srv)) != 1);
	inv_vm_clear(&v);
	if (!rc)
		rc = inv_vm_cdroms(r->c, src, hidden_cd, r);
	if (rc < 0)
		return req_error(r, -EIO, "inventory error"), -EIO;
	if (rc)
		return req_error(r, -EACCES, "cannot clone %s: it boots from or holds an image you "
				 "may not use (another user's private image)", src_name), -EACCES;
	return 0;
}

/* Clone VM src (named src_name) as the request's body says; linked_default when the body
 * has no "linked". Every disk of the source must be one the caller may read, and every
 * image of the store it uses one the caller may use. */
static int do_clone(struct req *r, int64_t src, const char *src_name, bool linked_default)
{
	char err[600];
	const json_t *l = json_object_get(r->body, "linked");
	struct clone_req q = {
		.src = src, .src_name = src_name,
		.name = json_string_value(json_object_get(r->body, "name")),
		.description = json_string_value(json_object_get(r->body, "description")),
		.linked = l ? json_is_true(l) : linked_default,
		.owner = !r->who.admin ? r->who.user_id : 0,
		.who = r->who.name,
		.may_read = may_read_disk, .may_read_arg = r,
	};
	int64_t id = 0, task = 0;
	int tries = 0, rc;

	if (images_usable(r, src, src_name))
		return r->status;
	/* etcd: a linked clone whose commit lost to another write of the owner (the quota's
	 * usage read: inv_etcd_quota.c) made nothing; again, from the check */
	while ((rc = clone_vm(r->srv, r->c, &q, &id, &task, err, sizeof(err))) == -EAGAIN &&
	       ++tries < INV_COMMIT_TRIES)
		;

	if (rc)
		return req_error(r, rc == -ENOSPC ? 507 : rc == -ENOENT ? -EIO : rc, "cannot clone "
				 "%s: %s", src_name, err);
	if (!q.linked) {
		r->out = json_pack("{s:I,s:s,s:s,s:b}", "task", (json_int_t)task, "vm", q.name,
				   "source", src_name, "linked", 0);
		r->status = 202;
		return 202;
	}
	r->out = vm_json(r->srv, r->c, id, 0);
	r->status = 201;
	return 201;
}

int api_vm_clone(struct req *r)
{
	static const struct valid_field f[] = {
		{ "name", V_STR, 1, 0, 63, K_NAME, NULL },
		{ "description", V_STR, 0, 0, 1024, K_TEXT, NULL },
		{ "linked", V_BOOL, 0, 0, 0, 0, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
	char err[512];
	int64_t id;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_CONTROL) ||
	    auth_require(r, "server", 0, PERM_MODIFY))
		return r->status;
	if (!r->body || valid_object(r->body, f, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s", r->body ? err : "the body must be {\"name\": ...}");
	return do_clone(r, id, r->args[0], false);
}

int api_vm_from_template(struct req *r)
{
	static const struct valid_field f[] = {
		{ "from_template", V_STR, 1, 0, 63, K_NAME, NULL },
		{ "name", V_STR, 1, 0, 63, K_NAME, NULL },
		{ "description", V_STR, 0, 0, 1024, K_TEXT, NULL },
		{ "linked", V_BOOL, 0, 0, 0, 0, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
	const char *tname;
	char err[512];
	int64_t id;
	int rc;

	if (auth_require(r, "server", 0, PERM_MODIFY))
		return r->status;
	if (valid_object(r->body, f, err, sizeof(err)))
		return req_error(r, -EINVAL, "%s (a VM made from a template takes from_template, "
				 "name, description and linked)", err);
	tname = json_string_value(json_object_get(r->body, "from_template"));
	rc = inv_vm_id(r->c, tname, &id);
	if (rc == -ENOENT)
		return auth_missing(r, "vm", tname);
	if (rc)
		return req_error(r, -EIO, "inventory error");
	if (auth_require_object(r, "vm", id, tname, PERM_VIEW))
		return r->status;
	rc = inv_vm_template(r->c, id);
	if (rc < 0)
		return req_error(r, -EIO, "inventory error");
	if (!rc)
		return req_error(r, -EINVAL, "from_template: VM %s is not a template (PATCH it with "
				 "{\"template\": true} first)", tname);
	return do_clone(r, id, tname, true);
}
