/* A VM's CD/DVD drives: the "cdroms" list of its configuration (create, edit, show) and
 * POST /api/v1/vms/{name}/media, which changes the medium of one drive: through the VMM's
 * control socket (its `media` command) when the VM runs, in the inventory always, so the
 * next start has the same medium. A drive holds an image of the image store (imgstore.h)
 * by name, of kind iso or raw, or nothing. */
#include "server/api.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/imgacl.h"
#include "server/imgstore.h"
#include "server/inv.h"
#include "server/valid.h"
#include "server/vmctl.h"
#include "server/vmrow.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MEDIA_TIMEOUT_MS 5000

/* Image name may go in a CD/DVD drive: it exists in the store (and the caller may see it)
 * and is an ISO or a raw image of at least one 2048-byte block (what the VMM's drive
 * reads). 0, or -EINVAL with err set (prefixed by field). */
static int check_image(struct req *r, const char *field, const char *name, char *err,
		       size_t errlen)
{
	struct imgstore_info i;
	char m[200];

	if (valid_name(name, m, sizeof(m))) {
		snprintf(err, errlen, "%s: %s", field, m);
		return -EINVAL;
	}
	/* another user's private image is a missing one (imgacl.h; an inventory error too) */
	if (imgstore_get(r->srv->images, name, &i) ||
	    imgacl_visible(r->c, &r->who, name, imgacl_host(r->srv)) != 1) {
		snprintf(err, errlen, "%s: no image named '%s' in the image store", field, name);
		return -EINVAL;
	}
	if (strcmp(i.kind, "iso") && strcmp(i.kind, "raw")) {
		snprintf(err, errlen, "%s: image '%s' is a %s image; a CD/DVD drive takes an ISO "
			 "or a raw image", field, name, i.kind);
		return -EINVAL;
	}
	if (i.size < 2048) {
		snprintf(err, errlen, "%s: image '%s' is smaller than one 2048-byte block", field,
			 name);
		return -EINVAL;
	}
	return 0;
}

int vmcd_check(struct req *r, const json_t *body, char *err, size_t errlen)
{
	const json_t *a = json_object_get(body, "cdroms"), *v;
	char field[48];
	size_t i;

	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > VM_CDROMS_MAX) {
		snprintf(err, errlen, "cdroms: an array of at most %d drives", VM_CDROMS_MAX);
		return -EINVAL;
	}
	json_array_foreach(a, i, v) {
		const json_t *img = json_object_get(v, "image"), *bus = json_object_get(v, "bus");
		const char *const *k;

		snprintf(field, sizeof(field), "cdroms[%zu]", i);
		if (!json_is_object(v) || json_object_size(v) != 1u + !!bus || !img ||
		    !(json_is_null(img) || json_is_string(img))) {
			snprintf(err, errlen, "%s: an object {\"image\": NAME or null, \"bus\": "
				 "virtio-scsi, ahci or ide (optional)}", field);
			return -EINVAL;
		}
		for (k = vmhw_cd_buses; bus && *k && strcmp(*k, json_string_value(bus) ?: ""); k++)
			;
		if (bus && !*k) {
			snprintf(err, errlen, "%s.bus: one of virtio-scsi, ahci, ide", field);
			return -EINVAL;
		}
		snprintf(field, sizeof(field), "cdroms[%zu].image", i);
		if (json_is_string(img) && check_image(r, field, json_string_value(img), err, errlen))
			return -EINVAL;
	}
	return 0;
}

/* Whether image name is (still) in the store: under the caller's write transaction this
 * holds until its commit, as DELETE /api/v1/images/NAME removes a file in one (it checks the
 * image's users in it). 0 or -EINVAL with err set. */
static int still_there(struct req *r, const char *field, const char *name, char *err,
		       size_t errlen)
{
	struct imgstore_info i;

	if (!name || !imgstore_get(r->srv->images, name, &i))
		return 0;
	snprintf(err, errlen, "%s: no image named '%s' in the image store (deleted meanwhile)",
		 field, name);
	return -EINVAL;
}

int vmcd_write(struct req *r, int64_t id, const json_t *body, char *err, size_t errlen)
{
	const json_t *a = json_object_get(body, "cdroms"), *v;
	char field[48];
	size_t i;
	int rc;

	if (!a)
		return 0;
	rc = inv_vm_cdroms_clear(r->c, id);
	json_array_foreach(a, i, v) {
		const char *img = json_string_value(json_object_get(v, "image"));

		snprintf(field, sizeof(field), "cdroms[%zu].image", i);
		if (!rc)
			rc = still_there(r, field, img, err, errlen);
		if (!rc)
			rc = inv_vm_cdrom_add(r->c, id, (int)i, img);
	}
	return rc;
}

static int cdrom_json(const struct inv_vm_cdrom *d, void *arg)
{
	json_array_append_new(arg, json_pack("{s:o,s:s}", "image", d->image ? json_string(d->image)
									   : json_null(),
					     "bus", d->bus ? d->bus : "virtio-scsi"));
	return 0;
}

json_t *vmcd_json(struct dbc *c, int64_t id)
{
	json_t *a = json_array();

	if (a && inv_vm_cdroms(c, id, cdrom_json, a)) {
		json_decref(a);
		a = NULL;
	}
	return a;
}

static int count_drive(const struct inv_vm_cdrom *d, void *arg)
{
	(void)d;
	++*(int *)arg;
	return 0;
}

/* The VMM's label ("diskN") of CD/DVD drive idx: the idx-th drive of its media list (the
 * supervisor passes the drives in order, after the disks). 0, or -errno with err set. */
static int vmm_drive(struct server *srv, int64_t id, int idx, char *label, size_t n, char *err,
		     size_t errlen)
{
	json_t *msg = json_pack("{s:s}", "cmd", "media"), *rep = NULL, *d;
	int rc = msg ? vmctl_send(srv, id, msg, MEDIA_TIMEOUT_MS, &rep) : -ENOMEM;

	json_decref(msg);
	if (rc) {
		snprintf(err, errlen, "the VMM did not answer its media command: %s",
			 rc == -EPROTO && rep ? json_string_value(json_object_get(rep, "error"))
					      : strerror(-rc));
		json_decref(rep);
		return rc == -EPROTO ? -EIO : rc;
	}
	d = json_array_get(json_object_get(rep, "drives"), (size_t)idx);
	if (!json_is_string(json_object_get(d, "drive"))) {
		snprintf(err, errlen, "the VMM has no CD/DVD drive %d", idx);
		json_decref(rep);
		return -EIO;
	}
	snprintf(label, n, "%s", json_string_value(json_object_get(d, "drive")));
	json_decref(rep);
	return 0;
}

void vmcd_runtime(struct server *srv, struct dbc *c, int64_t id, json_t *rt)
{
	json_t *msg, *rep = NULL, *d, *a;
	char prefix[4200];
	int drives = 0;
	size_t i, n;

	if (json_is_null(json_object_get(rt, "pid")) || inv_vm_cdroms(c, id, count_drive, &drives) ||
	    !drives)
		return;
	msg = json_pack("{s:s}", "cmd", "media");
	if (!msg || vmctl_send(srv, id, msg, 1000, &rep)) {
		json_decref(msg);
		json_decref(rep);
		return;
	}
	json_decref(msg);
	n = (size_t)snprintf(prefix, sizeof(prefix), "%s/", srv->images_dir);
	a = json_array();
	json_array_foreach(json_object_get(rep, "drives"), i, d) {
		const char *path = json_string_value(json_object_get(d, "path"));

		/* an image of the store by its name; anything else (a VMM started by hand) as is */
		if (path && !strncmp(path, prefix, n) && !strchr(path + n, '/'))
			path += n;
		json_array_append_new(a, json_pack("{s:s?,s:O,s:O}", "image", path, "tray",
						   json_object_get(d, "tray"), "locked",
						   json_object_get(d, "locked")));
	}
	json_object_set_new(rt, "cdroms", a);
	json_decref(rep);
}

/* Send one media command (eject, or insert path) for drive label to VM id's VMM. 0,
 * -EBUSY (the guest locked the drive) or -errno, with the VMM's message in err. */
static int vmm_media(struct server *srv, int64_t id, const char *label, const char *path,
		     bool force, char *err, size_t errlen)
{
	json_t *msg = path ? json_pack("{s:s,s:s,s:s}", "cmd", "media", "drive", label, "insert", path)
			   : json_pack("{s:s,s:s,s:b,s:b}", "cmd", "media", "drive", label, "eject", 1,
				       "force", force);
	json_t *rep = NULL;
	const char *why;
	int rc = msg ? vmctl_send(srv, id, msg, MEDIA_TIMEOUT_MS, &rep) : -ENOMEM;

	json_decref(msg);
	why = rep ? json_string_value(json_object_get(rep, "error")) : NULL;
	if (rc == -EPROTO && why) {
		snprintf(err, errlen, "%s", why);
		rc = strstr(why, "locked") ? -EBUSY : -EIO;
	} else if (rc) {
		snprintf(err, errlen, "the VMM did not answer: %s", strerror(-rc));
	}
	json_decref(rep);
	return rc;
}

int vmcd_media_change(struct server *srv, int64_t id, int idx, const char *image, bool force,
		      char *err, size_t errlen)
{
	char label[32], path[4400];
	int rc = vmm_drive(srv, id, idx, label, sizeof(label), err, errlen);

	if (rc)
		return rc;
	if (image && imgstore_path(srv->images, image, path, sizeof(path))) {
		snprintf(err, errlen, "image path too long");
		return -EINVAL;
	}
	/* An insert takes out what the drive holds; force takes it from a locked drive first. */
	if (!image || force)
		rc = vmm_media(srv, id, label, NULL, force, err, errlen);
	if (!rc && image)
		rc = vmm_media(srv, id, label, path, false, err, errlen);
	return rc;
}

/* The body's fields but "image" (a name or null, checked apart). */
static const struct valid_field media_fields[] = {
	{ "drive", V_INT, 0, 0, VM_CDROMS_MAX - 1, 0, NULL },
	{ "force", V_BOOL, 0, 0, 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

/* The media request's body: {"drive": N (0), "image": NAME or null, "force": B}. 0 or
 * -EINVAL with err set. */
static int media_body(struct req *r, const json_t *b, char *err, size_t errlen)
{
	json_t *rest;
	const json_t *img = json_object_get(b, "image");
	int rc;

	if (!b || !json_is_object(b) || !img || !(json_is_null(img) || json_is_string(img))) {
		snprintf(err, errlen, "the body must be {\"drive\": N, \"image\": NAME or null"
			 "[, \"force\": true]}");
		return -EINVAL;
	}
	rest = json_copy((json_t *)b);
	if (!rest) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	json_object_del(rest, "image");
	rc = valid_object(rest, media_fields, err, errlen);
	json_decref(rest);
	if (!rc && json_is_string(img))
		rc = check_image(r, "image", json_string_value(img), err, errlen);
	return rc;
}

int api_vm_media(struct req *r)
{
	const json_t *b = r->body, *img = json_object_get(b, "image");
	const char *image = json_string_value(img);
	int idx = (int)json_integer_value(json_object_get(b, "drive")), drives = 0, rc;
	bool force = json_is_true(json_object_get(b, "force"));
	struct inv_vm_status st;
	char err[600];
	int64_t id;
	bool off;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_CONTROL))
		return r->status;
	rc = media_body(r, b, err, sizeof(err));
	if (rc)
		return req_error(r, rc, "%s", err);
	if (inv_vm_cdroms(r->c, id, count_drive, &drives) || inv_vm_get_status(r->c, id, &st))
		return req_error(r, -EIO, "inventory error");
	off = !strcmp(st.state, INV_VM_STOPPED) || !strcmp(st.state, INV_VM_CRASHED);
	if (idx >= drives) {
		inv_vm_status_clear(&st);
		return req_error(r, -EINVAL, "drive: %s has %d CD/DVD drive%s (numbered from 0)",
				 r->args[0], drives, drives == 1 ? "" : "s");
	}
	if (!off && strcmp(st.state, INV_VM_RUNNING) && strcmp(st.state, INV_VM_PAUSED)) {
		req_error(r, -EBUSY, "%s is %s: change its media when it runs or is off",
			  r->args[0], st.state);
		inv_vm_status_clear(&st);
		return r->status;
	}
	inv_vm_status_clear(&st);
	if (!off) {
		rc = vmcd_media_change(r->srv, id, idx, image, force, err, sizeof(err));
		if (rc == -EBUSY)
			return req_error(r, -EBUSY, "%s: drive %d: %s (force takes the medium anyway)",
					 r->args[0], idx, err);
		if (rc)
			return req_error(r, rc == -EINVAL ? -EINVAL : -EIO, "%s: drive %d: %s",
					 r->args[0], idx, err);
	}
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	if (still_there(r, "image", image, err, sizeof(err))) {
		inv_rollback(r->c);
		return req_error(r, -EINVAL, "%s", err);
	}
	rc = inv_vm_cdrom_set(r->c, id, idx, image);
	if (!rc)
		rc = events_emit(r->srv, r->c, "vm-media-changed", "vm", r->args[0], r->who.name,
				 json_pack("{s:i,s:O,s:b,s:b}", "drive", idx, "image", img, "force",
					   force, "running", !off),
				 "%s: drive %d: %s%s by %s", r->args[0], idx, image ? "inserted " : "ejected",
				 image ? image : "", r->who.name);
	if (rc || inv_commit(r->c)) {
		inv_rollback(r->c);
		return req_error(r, -EIO, "inventory error%s", off ? "; nothing was changed" :
				 " (the running VM has the new medium; the next start may not)");
	}
	r->out = vm_json(r->srv, r->c, id, 0);
	return r->out ? 200 : req_error(r, -ENOENT, "the VM went away");
}
