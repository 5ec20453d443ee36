/* A VM as the API shows it: vm_json (GET /api/v1/vms/{name}, and the answers of the calls
 * that change it), GET /api/v1/vms/{name} and GET /api/v1/vms/{name}/status. */
#include "server/api.h"
#include "server/auth.h"
#include "server/inv.h"
#include "server/sup.h"
#include "server/sup_exit.h"
#include "server/vmrow.h"
#include "server/vmagent.h"
#include "server/vmsave.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *str_or_null(const char *t)
{
	return t ? json_string(t) : json_null();
}

/* The part of path under directory dir ("DIR/NAME..." -> "NAME..."), or NULL. */
static const char *under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && path[n] == '/' && path[n + 1] ? path + n + 1 : NULL;
}

/* A VM's kernel or initrd file as the API shows it: its name in the image store (as rows
 * keep it, or the path under DATA/images of an older row), or null for a file elsewhere,
 * which only an administrator names (by path: GET /api/v1/vms/{name} shows it to
 * administrators in kernel_path and initrd_path). No host path reaches a
 * non-administrator. */
static json_t *image_name(struct server *srv, const char *path)
{
	char real[PATH_MAX];
	const char *name;

	if (!path || path[0] != '/')
		return str_or_null(path);
	name = under(path, srv->images_dir);
	if (!name && realpath(path, real))
		name = under(real, srv->images_dir);
	return str_or_null(name);
}

/* inv_vm_disks: d as an entry of a VM's "disks", appended to the array arg. */
static int disk_json(const struct inv_vm_disk *d, void *arg)
{
	json_array_append_new(arg, json_pack("{s:o,s:o,s:b}", "disk", str_or_null(d->disk),
					     "bus", str_or_null(d->bus), "readonly", d->readonly));
	return 0;
}

/* inv_vm_nics: n as an entry of a VM's "nics", appended to the array arg. */
static int nic_json(const struct inv_vm_nic *n, void *arg)
{
	json_array_append_new(arg, json_pack("{s:o,s:o,s:o}", "network", str_or_null(n->network),
					     "mac", str_or_null(n->mac), "model",
					     str_or_null(n->model)));
	return 0;
}

json_t *vm_json(struct server *srv, struct dbc *c, int64_t id, int full)
{
	struct inv_vm v;
	json_t *o, *a;

	/* its rows are read next (on etcd: in one round trip; a failure: each is read alone) */
	inv_vm_read_ahead(c, id);
	if (inv_vm_get(c, id, &v))
		return NULL;
	o = json_object();
	json_object_set_new(o, "name", json_string(v.name));
	json_object_set_new(o, "description", str_or_null(v.description));
	json_object_set_new(o, "cpus", json_integer(v.cpus));
	json_object_set_new(o, "memory_mib", json_integer(v.memory_mib));
	json_object_set_new(o, "kernel", image_name(srv, v.kernel));
	json_object_set_new(o, "initrd", image_name(srv, v.initrd));
	json_object_set_new(o, "cmdline", str_or_null(v.cmdline));
	json_object_set_new(o, "restart_policy", json_string(v.restart_policy));
	json_object_set_new(o, "autostart", json_boolean(v.autostart));
	json_object_set_new(o, "undo_disks", json_string(v.undo_disks));
	json_object_set_new(o, "cpu_limit", json_integer(v.cpu_limit));
	json_object_set_new(o, "cpu_weight", json_integer(v.cpu_weight));
	json_object_set_new(o, "memory_reserve_mib", json_integer(v.memory_reserve_mib));
	json_object_set_new(o, "state", json_string(v.state));
	json_object_set_new(o, "host", sup_vm_host_json(srv, c, v.name, v.state, NULL));
	json_object_set_new(o, "monitor_pid", json_integer(v.monitor_pid));
	json_object_set_new(o, "started", json_integer(v.started));
	json_object_set_new(o, "last_exit", sup_exit_json(v.last_exit));
	json_object_set_new(o, "restarts", json_integer(v.restarts));
	json_object_set_new(o, "created", json_integer(v.created));
	json_object_set_new(o, "updated", json_integer(v.updated));
	json_object_set_new(o, "template", json_boolean(inv_vm_template(c, id) == 1));
	inv_vm_clear(&v);
	a = json_array();
	inv_vm_disks(c, id, disk_json, a);
	json_object_set_new(o, "disks", a);
	a = json_array();
	inv_vm_nics(c, id, nic_json, a);
	json_object_set_new(o, "nics", a);
	json_object_set_new(o, "cdroms", vmcd_json(c, id));
	vmhw_json(c, id, o);
	if (full) {
		/* What the running VMM reports goes under "runtime", never over the configuration
		 * (its disks and nics are counters, the VM's are the attached disks and NICs). */
		json_t *rt = json_pack("{s:O}", "monitor_pid", json_object_get(o, "monitor_pid"));

		if (rt) {
			sup_runtime_json(srv, id, rt);
			vmcd_runtime(srv, c, id, rt);
			json_object_del(rt, "monitor_pid");
			json_object_set_new(o, "runtime", rt);
		}
		/* min, target and the guest's figures, and what the policy made of them */
		json_object_set_new(o, "dynamic_memory", sup_dynmem_json(srv, id, o));
		json_object_set_new(o, "agent", vmagent_json(srv, id, json_string_value(json_object_get(
			o, "name")), json_string_value(json_object_get(o, "state"))));
	}
	return o;
}

/* The path on this host of a VM's kernel or initrd (an image's name resolved in this host's
 * images directory), null for none. */
static json_t *host_path(struct server *srv, const char *f)
{
	if (!f || !*f)
		return json_null();
	return f[0] == '/' ? json_string(f) : json_sprintf("%s/%s", srv->images_dir, f);
}

int api_vm_get(struct req *r)
{
	int64_t id;

	sup_cluster_owner_want(r->srv, r->c, r->args[0]);  /* (cluster) with the name's lookup */
	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_VIEW))
		return r->status;
	r->out = vm_json(r->srv, r->c, id, 1);
	if (!r->out)
		return req_error(r, -ENOENT, "the VM went away");
	json_object_set_new(r->out, "permissions", auth_perm_names(auth_perms(r->c, &r->who, "vm", id)));
	/* the files' paths, beside their names: for administrators only */
	if (r->who.admin) {
		struct inv_vm v;

		if (!inv_vm_get(r->c, id, &v)) {
			json_object_set_new(r->out, "kernel_path", host_path(r->srv, v.kernel));
			json_object_set_new(r->out, "initrd_path", host_path(r->srv, v.initrd));
			inv_vm_clear(&v);
		}
	}
	return 200;
}

int api_vm_status(struct req *r)
{
	struct inv_vm_status v;
	int64_t id;
	json_t *o = NULL;
	int rc;

	/* its ownership key (cluster) read with the name's lookup */
	sup_cluster_owner_want(r->srv, r->c, r->args[0]);
	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_VIEW))
		return r->status;
	rc = inv_vm_get_status(r->c, id, &v);
	if (rc == -EIO)
		return req_error(r, -EIO, "inventory error");
	if (!rc) {
		bool up = !strcmp(v.state, INV_VM_RUNNING) || !strcmp(v.state, INV_VM_PAUSED);

		o = json_pack("{s:s,s:s,s:i,s:I,s:o,s:i}", "name", v.name,
			      "state", v.state, "monitor_pid", (int)v.monitor_pid,
			      "uptime", (json_int_t)(up && v.started ? time(NULL) - v.started : 0),
			      "last_exit", sup_exit_json(v.last_exit), "restarts", v.restarts);
		if (o)
			json_object_set_new(o, "host", sup_vm_host_json(r->srv, r->c, v.name, v.state, NULL));
		inv_vm_status_clear(&v);
	}
	if (!o)
		return req_error(r, -ENOENT, "the VM went away");
	sup_runtime_json(r->srv, id, o);
	json_object_del(o, "monitor_pid");
	/* the saved state's file (vmsave.h): null when none */
	{
		json_t *sv = vmsave_json(r->srv, id);

		json_object_set_new(o, "saved", sv ? sv : json_null());
	}
	r->out = o;
	return 200;
}
