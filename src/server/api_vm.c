/* VM endpoints: list, create, show, edit, delete, status, actions. */
#include "server/api.h"
#include "server/cluster.h"
#include "server/auth.h"
#include "server/cgroup.h"
#include "server/clone.h"
#include "server/diskuse.h"
#include "server/dynmem.h"
#include "server/events.h"
#include "server/inv.h"
#include "server/sup.h"
#include "server/sup_exit.h"
#include "server/undo.h"
#include "server/valid.h"
#include "server/network.h"
#include "server/quota.h"
#include "server/snapshot.h"
#include "server/vmrow.h"
#include "server/vmagent.h"
#include "server/vmdir.h"
#include "server/vmsave.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const policies[] = { "never", "on-failure", "always", NULL };
static const char *const undo_modes[] = { "off", "keep", "commit", "discard", NULL };
static const char *const buses[] = { "virtio-blk", "scsi", "ahci", "ide", NULL };

/* Fields of a VM in create and edit requests, by name (an edit request changes what is
 * required). Hardware limits follow `vsrv run`. */
enum vm_field {
	VMF_NAME, VMF_DESCRIPTION, VMF_CPUS, VMF_MEMORY_MIB, VMF_KERNEL, VMF_INITRD, VMF_CMDLINE,
	VMF_RESTART_POLICY, VMF_AUTOSTART, VMF_UNDO_DISKS, VMF_CPU_LIMIT, VMF_CPU_WEIGHT,
	VMF_MEMORY_RESERVE_MIB, VMF_DISKS, VMF_NICS, VMF_TEMPLATE, VMF_CDROMS, VMF_FIRMWARE,
	VMF_BOOT, VMF_OS_TYPE, VMF_BALLOON, VMF_DISPLAY, VMF_ENLIGHTENMENTS, VMF_MEM_MERGE,
	VMF_MEMORY_MIN_MIB, VMF_MEMORY_BUFFER_PCT, VMF_END,
};
static const struct valid_field vm_fields[VMF_END + 1] = {
	[VMF_NAME] = { "name", V_STR, 1, 0, 63, K_NAME, NULL },
	[VMF_DESCRIPTION] = { "description", V_STR, 0, 0, 1024, K_TEXT, NULL },
	[VMF_CPUS] = { "cpus", V_INT, 0, 1, 64, 0, NULL },
	[VMF_MEMORY_MIB] = { "memory_mib", V_INT, 0, 16, 1 << 20, 0, NULL },
	[VMF_KERNEL] = { "kernel", V_STR, 1, 0, 4095, K_PATH, NULL },
	[VMF_INITRD] = { "initrd", V_STR, 0, 0, 4095, K_PATH, NULL },
	[VMF_CMDLINE] = { "cmdline", V_STR, 0, 0, 2048, K_TEXT, NULL },
	[VMF_RESTART_POLICY] = { "restart_policy", V_STR, 0, 0, 16, K_ENUM, policies },
	[VMF_AUTOSTART] = { "autostart", V_BOOL, 0, 0, 0, 0, NULL },
	[VMF_UNDO_DISKS] = { "undo_disks", V_STR, 0, 0, 16, K_ENUM, undo_modes },
	[VMF_CPU_LIMIT] = { "cpu_limit", V_INT, 0, 0, 6400, 0, NULL },
	[VMF_CPU_WEIGHT] = { "cpu_weight", V_INT, 0, 1, 10000, 0, NULL },
	[VMF_MEMORY_RESERVE_MIB] = { "memory_reserve_mib", V_INT, 0, 0, 1 << 20, 0, NULL },
	[VMF_DISKS] = { "disks", V_ARRAY, 0, 0, 16, 0, NULL },
	[VMF_NICS] = { "nics", V_ARRAY, 0, 0, 8, 0, NULL },
	[VMF_TEMPLATE] = { "template", V_BOOL, 0, 0, 0, 0, NULL },
	[VMF_CDROMS] = { "cdroms", V_ARRAY, 0, 0, VM_CDROMS_MAX, 0, NULL },
	[VMF_FIRMWARE] = { "firmware", V_STR, 0, 0, 8, K_ENUM, vmhw_firmwares },
	[VMF_BOOT] = { "boot", V_ARRAY, 0, 0, 3, 0, NULL },
	[VMF_OS_TYPE] = { "os_type", V_STR, 0, 0, 16, K_ENUM, vmhw_os_types },
	[VMF_BALLOON] = { "balloon", V_BOOL, 0, 0, 0, 0, NULL },
	[VMF_DISPLAY] = { "display", V_STR, 0, 0, 8, K_ENUM, vmhw_displays },
	[VMF_ENLIGHTENMENTS] = { "enlightenments", V_STR, 0, 0, 8, K_ENUM, vmhw_enlightenments },
	[VMF_MEM_MERGE] = { "mem_merge", V_BOOL, 0, 0, 0, 0, NULL },
	/* dynamic memory (api_vmhw.c: the floor and memory_mib are checked there) */
	[VMF_MEMORY_MIN_MIB] = { "memory_min_mib", V_INT, 0, 1, 1 << 20, 0, NULL },
	[VMF_MEMORY_BUFFER_PCT] = { "memory_buffer_pct", V_INT, 0, 0, DYNMEM_BUFFER_MAX, 0, NULL },
	[VMF_END] = { NULL, 0, 0, 0, 0, 0, NULL },
};
static const struct valid_field disk_ref_fields[] = {
	{ "disk", V_STR, 1, 0, 63, K_NAME, NULL },
	{ "bus", V_STR, 0, 0, 16, K_ENUM, buses },
	{ "readonly", V_BOOL, 0, 0, 0, 0, NULL },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};
static const struct valid_field nic_fields[] = {
	{ "network", V_STR, 1, 0, 63, K_NAME, NULL },
	{ "mac", V_STR, 0, 0, 17, K_TEXT, NULL },
	{ "model", V_STR, 0, 0, 8, K_ENUM, vmhw_nic_models },
	{ NULL, 0, 0, 0, 0, 0, NULL },
};

int vm_lookup(struct req *r, int64_t *id)
{
	int rc = inv_vm_id(r->c, r->args[0], id);

	if (rc == -ENOENT)
		return auth_missing(r, "vm", r->args[0]);
	if (rc)
		return req_error(r, -EIO, "inventory error"), -EIO;
	return 0;
}

/* Validate the nested lists and resolve names to ids, before anything is written. */
static int check_lists(struct req *r, const json_t *body, char *err, size_t errlen)
{
	json_t *a, *v;
	size_t i;
	char m[256];

	a = json_object_get(body, "disks");
	json_array_foreach(a, i, v) {
		if (valid_object(v, disk_ref_fields, m, sizeof(m))) {
			snprintf(err, errlen, "disks[%zu]: %s", i, m);
			return -EINVAL;
		}
		/* one disk, one attachment: two would be two writers of one image */
		for (size_t k = 0; k < i; k++)
			if (json_equal(json_object_get(json_array_get(a, k), "disk"),
				       json_object_get(v, "disk"))) {
				snprintf(err, errlen, "disks[%zu]: disk '%s' is already disks[%zu] (a "
					 "disk is attached to a VM once)", i,
					 json_string_value(json_object_get(v, "disk")), k);
				return -EINVAL;
			}
	}
	a = json_object_get(body, "nics");
	json_array_foreach(a, i, v) {
		const char *mac;
		unsigned b[6];
		char tail;

		if (valid_object(v, nic_fields, m, sizeof(m))) {
			snprintf(err, errlen, "nics[%zu]: %s", i, m);
			return -EINVAL;
		}
		mac = json_string_value(json_object_get(v, "mac"));
		if (mac && (strlen(mac) != 17 ||
			    sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				   &b[4], &b[5], &tail) != 6 || (b[0] & 1))) {
			snprintf(err, errlen, "nics[%zu]: mac: must be a unicast MAC like 52:54:00:12:34:56", i);
			return -EINVAL;
		}
	}
	(void)r;
	return 0;
}

/* The id of the disk or network named name that the caller may attach to VM vm: one it
 * holds control on, or one already attached to vm (a disk as writable as asked). Returns
 * the id; -ENOENT for one that does not exist or that the caller may not see (not
 * auth_visible; the same answer: names of what one may not see stay unknown); -EACCES for
 * one it sees but may not use; -EIO. */
/* What has_disk and has_nic look for among a VM's attachments. */
struct kept {
	int64_t id;                 /* the disk or network */
	bool writable;              /* a disk attached writable (or the request is read-only) */
};

static int has_disk(const struct inv_vm_disk *d, void *arg)
{
	const struct kept *k = arg;

	return d->disk_id == k->id && (!d->readonly || !k->writable);
}

static int has_nic(const struct inv_vm_nic *n, void *arg)
{
	return n->network_id == ((const struct kept *)arg)->id;
}

static int64_t attachable(struct req *r, int64_t vm, bool disk, const char *name, bool writable)
{
	struct kept k = { .writable = writable };
	int64_t id;
	int have, kept, rc;
	bool visible;

	rc = inv_object_id(r->c, disk ? "disk" : "network", name, &id);
	if (rc)
		return rc;
	have = auth_perms(r->c, &r->who, disk ? "disk" : "network", id);
	visible = auth_visible(r->c, &r->who, disk ? "disk" : "network", id);
	if (visible && (have & PERM_CONTROL))
		return id;
	k.id = id;
	kept = disk ? inv_vm_disks(r->c, vm, has_disk, &k) : inv_vm_nics(r->c, vm, has_nic, &k);
	if (kept < 0)
		return kept;
	if (kept)
		return id;
	return visible ? -EACCES : -ENOENT;
}

/* attachable() for entry i of the disks or nics list, with the error message in err. */
static int64_t attach_check(struct req *r, int64_t vm, bool disk, size_t i, const json_t *v,
			    char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(v, disk ? "disk" : "network"));
	int64_t id = attachable(r, vm, disk, name,
				disk && !json_is_true(json_object_get(v, "readonly")));

	if (id == -ENOENT)
		snprintf(err, errlen, "%s[%zu]: no %s named '%s'", disk ? "disks" : "nics", i,
			 disk ? "disk" : "network", name);
	else if (id == -EACCES)
		snprintf(err, errlen, "%s[%zu]: attaching %s '%s' needs control on it",
			 disk ? "disks" : "nics", i, disk ? "disk" : "network", name);
	return id == -ENOENT ? -EINVAL : id;
}

/* The NICs of a VM before an edit: network and MAC by index (the first 8). */
struct old_nics {
	char (*mac)[18];
	int64_t *net;
};

static int old_nic(const struct inv_vm_nic *n, void *arg)
{
	struct old_nics *o = arg;

	if (n->idx >= 0 && n->idx < 8) {
		o->net[n->idx] = n->network_id;
		snprintf(o->mac[n->idx], sizeof(o->mac[0]), "%s", n->mac);
	}
	return 0;
}

/* Write the VM's disk and NIC lists (replacing them), each disk and network checked by
 * attachable(). Under the caller's transaction. */
static int write_lists(struct req *r, int64_t id, const json_t *body, char *err, size_t errlen)
{
	json_t *a, *v;
	size_t i;
	int rc;

	if ((a = json_object_get(body, "disks"))) {
		int64_t disk[16];

		/* Checked against the list as it was, before it is replaced. */
		json_array_foreach(a, i, v) {
			if (i >= sizeof(disk) / sizeof(disk[0]))
				return -E2BIG;
			disk[i] = attach_check(r, id, true, i, v, err, errlen);
			if (disk[i] < 0)
				return disk[i];
		}
		rc = inv_vm_disks_clear(r->c, id);
		if (rc)
			return rc;
		json_array_foreach(a, i, v) {
			const char *bus = json_string_value(json_object_get(v, "bus"));

			rc = inv_vm_disk_add(r->c, id, (int)i, disk[i], bus ? bus : "virtio-blk",
					     json_is_true(json_object_get(v, "readonly")));
			if (rc)
				return rc;
		}
	}
	if ((a = json_object_get(body, "nics"))) {
		/* A NIC keeps its MAC while it stays on the same network at the same index. */
		char old[8][18] = { { 0 } };
		int64_t oldnet[8] = { 0 }, net[8];


		json_array_foreach(a, i, v) {
			if (i >= sizeof(net) / sizeof(net[0]))
				return -E2BIG;
			net[i] = attach_check(r, id, false, i, v, err, errlen);
			if (net[i] < 0)
				return net[i];
		}
		rc = inv_vm_nics(r->c, id, old_nic, &(struct old_nics){ old, oldnet });
		if (rc)
			return rc;
		rc = inv_vm_nics_clear(r->c, id);
		if (rc)
			return rc;
		json_array_foreach(a, i, v) {
			const char *mac = json_string_value(json_object_get(v, "mac"));
			int64_t nid = net[i];
			char gen[18];

			if (!mac && i < 8 && oldnet[i] == nid && old[i][0]) {
				mac = old[i];
			} else if (!mac) {
				rc = network_new_mac(r->c, gen);
				if (rc)
					return rc;
				mac = gen;
			}
			rc = inv_vm_nic_add(r->c, id, (int)i, nid, mac);
			if (rc == -EEXIST) {
				snprintf(err, errlen, "nics[%zu]: mac %s is taken by another NIC", i, mac);
				return -EEXIST;
			}
			if (rc)
				return rc;
		}
	}
	return 0;
}

int api_vm_create(struct req *r)
{
	char err[512], kernel[4096], initrd[4096];
	const json_t *b = r->body;
	const char *name, *s_initrd;
	struct inv_vm vm;
	int64_t id, mem;
	int rc, tries = 0;

	if (b && json_object_get(b, "from_template"))
		return api_vm_from_template(r);
	if (auth_require(r, "server", 0, PERM_MODIFY))
		return r->status;
	if (!b || !json_is_object(b))
		return req_error(r, -EINVAL, "the body must be a VM object");
	if ((rc = vmhw_preset(r, err, sizeof(err))))
		return req_error(r, rc, "%s", err);
	b = r->body;
	{
		/* A VM with a firmware boots from its drives: no kernel (api_vmhw.c). */
		struct valid_field f[VMF_END + 1];

		memcpy(f, vm_fields, sizeof(f));
		f[VMF_KERNEL].required = json_is_string(json_object_get(b, "firmware")) &&
					 strcmp(vmhw_body_firmware(b), "none") ? 0 : 1;
		if (valid_object(b, f, err, sizeof(err)) || vmhw_check_create(b, err, sizeof(err)) ||
		    check_lists(r, b, err, sizeof(err)) || vmcd_check(r, b, err, sizeof(err)))
			return req_error(r, -EINVAL, "%s", err);
	}
	name = json_string_value(json_object_get(b, "name"));
	kernel[0] = '\0';
	rc = json_object_get(b, "kernel") ? vm_resolve_path(r, "kernel", json_string_value(
			json_object_get(b, "kernel")), kernel, sizeof(kernel), err, sizeof(err)) : 0;
	if (!rc && kernel[0])
		rc = vm_check_kernel(kernel, json_string_value(json_object_get(b, "kernel")), err,
				     sizeof(err));
	if (rc)
		return req_error(r, rc == -EACCES ? -EACCES : -EINVAL, "%s", err);
	/* an image of the store is kept by its name (vm_resolve_path) */
	if (kernel[0] && json_string_value(json_object_get(b, "kernel"))[0] != '/')
		snprintf(kernel, sizeof(kernel), "%s", json_string_value(json_object_get(b, "kernel")));
	s_initrd = json_string_value(json_object_get(b, "initrd"));
	if (s_initrd && (rc = vm_resolve_path(r, "initrd", s_initrd, initrd, sizeof(initrd), err,
					       sizeof(err))))
		return req_error(r, rc == -EACCES ? -EACCES : -EINVAL, "%s", err);
	if (s_initrd && s_initrd[0] != '/')
		snprintf(initrd, sizeof(initrd), "%s", s_initrd);
	mem = json_object_get(b, "memory_mib") ? json_integer_value(json_object_get(b, "memory_mib")) : 128;
	if (json_integer_value(json_object_get(b, "memory_reserve_mib")) > mem)
		return req_error(r, -EINVAL, "memory_reserve_mib: more than memory_mib");

	vm = (struct inv_vm){ .cpus = 1, .memory_mib = mem, .kernel = kernel, .cmdline = "",
			      .description = "", .restart_policy = "never", .undo_disks = "off",
			      .cpu_weight = 100 };
	snprintf(vm.name, sizeof(vm.name), "%s", name);
	if (json_object_get(b, "description"))
		vm.description = (char *)json_string_value(json_object_get(b, "description"));
	if (json_object_get(b, "cpus"))
		vm.cpus = (int)json_integer_value(json_object_get(b, "cpus"));
	if (s_initrd)
		vm.initrd = initrd;
	if (json_object_get(b, "cmdline"))
		vm.cmdline = (char *)json_string_value(json_object_get(b, "cmdline"));
	if (json_object_get(b, "restart_policy"))
		snprintf(vm.restart_policy, sizeof(vm.restart_policy), "%s",
			 json_string_value(json_object_get(b, "restart_policy")));
	vm.autostart = json_is_true(json_object_get(b, "autostart"));
	if (json_object_get(b, "undo_disks"))
		snprintf(vm.undo_disks, sizeof(vm.undo_disks), "%s",
			 json_string_value(json_object_get(b, "undo_disks")));
	if (json_object_get(b, "cpu_limit"))
		vm.cpu_limit = (int)json_integer_value(json_object_get(b, "cpu_limit"));
	if (json_object_get(b, "cpu_weight"))
		vm.cpu_weight = (int)json_integer_value(json_object_get(b, "cpu_weight"));
	vm.memory_reserve_mib = json_integer_value(json_object_get(b, "memory_reserve_mib"));

again:
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	rc = quota_admit(r->c, quota_owner(&r->who), &(struct inv_quota){ .vms = 1,
			 .cpus = vm.cpus, .memory_mib = vm.memory_mib }, err, sizeof(err));
	if (rc) {
		inv_rollback(r->c);
		return req_error(r, rc, "cannot create VM %s: %s", name, err);
	}
	rc = inv_vm_create(r->c, &vm, &id);
	if (rc == -EEXIST) {
		inv_rollback(r->c);
		return req_error(r, -EEXIST, "a VM named '%s' exists", name);
	}
	if (rc)
		goto err_io;
	err[0] = '\0';
	rc = write_lists(r, id, b, err, sizeof(err));
	if (!rc)
		rc = vmcd_write(r, id, b, err, sizeof(err));
	if (!rc)
		rc = vmhw_write(r, id, b, true, mem, err, sizeof(err));
	if (rc) {
		inv_rollback(r->c);
		if (err[0])
			return req_error(r, rc == -EEXIST || rc == -EACCES ? rc : -EINVAL, "%s", err);
		return req_error(r, rc, "cannot attach the VM's disks or NICs");
	}
	if (json_is_true(json_object_get(b, "template")) && inv_vm_set_template(r->c, id, true))
		goto err_io;
	if (!r->who.admin && r->who.user_id) {
		/* The creator holds every permission on what it creates, and owns it (quota.h). */
		if (inv_grant_add(r->c, "vm", id, "user", r->who.user_id, PERM_FULL) ||
		    inv_owner_set(r->c, "vm", id, r->who.user_id))
			goto err_io;
	}
	inv_vm_read_ahead(r->c, id);        /* (on etcd: with the commit) for vm_json */
	sup_cluster_owner_want(r->srv, r->c, name);
	if (events_emit(r->srv, r->c, "vm-created", "vm", name, r->who.name, NULL, "%s created by %s",
			name, r->who.name))
		goto err_io;
	rc = inv_commit(r->c);
	/* etcd: something read here changed before the commit (another create of the same
	 * owner, whose usage the quota check read): nothing was written; again, from the check */
	if (rc == -EAGAIN && ++tries < INV_COMMIT_TRIES)
		goto again;
	if (rc == -EAGAIN) {
		/* on etcd the name's claim is checked at the commit too: another host's create of
		 * the same name won the race (nothing of this one was written) */
		int64_t other;

		if (!inv_vm_id(r->c, name, &other))
			return req_error(r, -EEXIST, "a VM named '%s' exists", name);
		return req_error(r, -EBUSY, "the inventory changed meanwhile; nothing was created: "
				 "try again");
	}
	if (rc)
		goto err_io;
	r->out = vm_json(r->srv, r->c, id, 0);
	r->status = 201;
	return 201;
err_io:
	inv_rollback(r->c);
	return req_error(r, -EIO, "inventory error; nothing was created");
}

static bool vm_is_off(struct req *r, int64_t id)
{
	struct inv_vm_status v;
	bool off;

	if (inv_vm_get_status(r->c, id, &v))
		return false;
	off = !strcmp(v.state, INV_VM_STOPPED) || !strcmp(v.state, INV_VM_CRASHED);
	inv_vm_status_clear(&v);
	return off;
}

/* Replace the string *dst (vm's own, from inv_vm_get) with a copy of val. 0 or -ENOMEM. */
static int set_str(char **dst, const char *val)
{
	char *c = strdup(val);

	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

/* Apply field key (a validated vm_fields name) of an edit request to vm. name, disks and nics
 * are not vm's (left alone). kernel and initrd are resolved as at create. 0, or -EINVAL,
 * -EACCES, -ENOMEM with a message in err. */
static int vm_set_field(struct req *r, struct inv_vm *vm, const char *key, const json_t *v,
			char *err, size_t errlen)
{
	char path[4096];
	int rc = 0;

	snprintf(err, errlen, "out of memory");
	if (!strcmp(key, "kernel") || !strcmp(key, "initrd")) {
		rc = vm_resolve_path(r, key, json_string_value(v), path, sizeof(path), err, errlen);
		if (!rc && !strcmp(key, "kernel"))
			rc = vm_check_kernel(path, json_string_value(v), err, errlen);
		/* an image of the store is kept by its name (vm_resolve_path) */
		if (!rc)
			rc = set_str(!strcmp(key, "kernel") ? &vm->kernel : &vm->initrd,
				     json_string_value(v)[0] == '/' ? path : json_string_value(v));
	} else if (!strcmp(key, "description")) {
		rc = set_str(&vm->description, json_string_value(v));
	} else if (!strcmp(key, "cmdline")) {
		rc = set_str(&vm->cmdline, json_string_value(v));
	} else if (!strcmp(key, "restart_policy")) {
		snprintf(vm->restart_policy, sizeof(vm->restart_policy), "%s", json_string_value(v));
	} else if (!strcmp(key, "undo_disks")) {
		snprintf(vm->undo_disks, sizeof(vm->undo_disks), "%s", json_string_value(v));
	} else if (!strcmp(key, "autostart")) {
		vm->autostart = json_is_true(v);
	} else if (!strcmp(key, "cpus")) {
		vm->cpus = (int)json_integer_value(v);
	} else if (!strcmp(key, "memory_mib")) {
		vm->memory_mib = json_integer_value(v);
	} else if (!strcmp(key, "cpu_limit")) {
		vm->cpu_limit = (int)json_integer_value(v);
	} else if (!strcmp(key, "cpu_weight")) {
		vm->cpu_weight = (int)json_integer_value(v);
	} else if (!strcmp(key, "memory_reserve_mib")) {
		vm->memory_reserve_mib = json_integer_value(v);
	}
	return rc;
}

int api_vm_update(struct req *r)
{
	/* (dynamic memory's settings too: a running VM's apply at the policy's next step) */
	static const char *const anytime[] = { "description", "restart_policy", "autostart",
					       "memory_min_mib", "memory_buffer_pct", NULL };
	char err[512];
	const char *key;
	json_t *v, *b = r->body;
	struct inv_vm vm;
	int64_t id, old_mem;
	int rc, old_cpus, tries = 0;
	bool hw = false;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_MODIFY))
		return r->status;
	if (!b || !json_is_object(b))
		return req_error(r, -EINVAL, "the body must be an object with the fields to change");
	/* name and kernel are not required here (name must not change) */
	{
		struct valid_field f[VMF_END + 1];
		memcpy(f, vm_fields, sizeof(f));
		f[VMF_NAME].required = 0;
		f[VMF_KERNEL].required = 0;
		if (valid_object(b, f, err, sizeof(err)) || check_lists(r, b, err, sizeof(err)) ||
		    vmcd_check(r, b, err, sizeof(err)))
			return req_error(r, -EINVAL, "%s", err);
	}
	if ((v = json_object_get(b, "name")) && strcmp(json_string_value(v), r->args[0]))
		return req_error(r, -EINVAL, "name: a VM cannot be renamed");
	json_object_foreach(b, key, v) {
		const char *const *a;
		for (a = anytime; *a && strcmp(*a, key); a++)
			;
		if (!*a && strcmp(key, "name"))
			hw = true;
	}
again:
	if (inv_begin(r->c))
		return req_error(r, -EIO, "inventory busy");
	if (hw && vmsave_state_saved(r->c, id)) {
		inv_rollback(r->c);
		return req_error(r, -EBUSY, "%s has a saved state (its memory and devices as they "
				 "were): start it, or discard the saved state, before changing its "
				 "hardware", r->args[0]);
	}
	if (hw && !vm_is_off(r, id)) {
		inv_rollback(r->c);
		return req_error(r, -EBUSY, "%s is running: turn it off before changing its hardware",
				 r->args[0]);
	}
	rc = inv_vm_get(r->c, id, &vm);
	if (rc) {
		inv_rollback(r->c);
		return rc == -ENOENT ? req_error(r, -ENOENT, "the VM went away")
				     : req_error(r, -EIO, "inventory error; nothing was changed");
	}
	err[0] = '\0';
	rc = vmhw_edit(r, id, b, &vm, err, sizeof(err));
	if (rc) {
		inv_vm_clear(&vm);
		inv_rollback(r->c);
		/* -ENOENT: its hardware row went with it (a delete between the reads) */
		return rc == -EIO ? req_error(r, -EIO, "inventory error; nothing was changed")
		       : rc == -ENOENT ? req_error(r, -ENOENT, "the VM went away")
				       : req_error(r, rc, "%s", err);
	}
	old_cpus = vm.cpus;
	old_mem = vm.memory_mib;
	json_object_foreach(b, key, v) {
		rc = vm_set_field(r, &vm, key, v, err, sizeof(err));
		if (rc) {
			inv_vm_clear(&vm);
			inv_rollback(r->c);
			return req_error(r, rc == -EACCES ? -EACCES : rc == -ENOMEM ? -ENOMEM : -EINVAL,
					 "%s", err);
		}
	}
	/* more vCPUs or memory count against the VM's owner's quota */
	rc = quota_admit_owner(r->c, "vm", id, &(struct inv_quota){
			.cpus = vm.cpus > old_cpus ? vm.cpus - old_cpus : 0,
			.memory_mib = vm.memory_mib > old_mem ? vm.memory_mib - old_mem : 0 },
			err, sizeof(err));
	if (rc) {
		inv_vm_clear(&vm);
		inv_rollback(r->c);
		return req_error(r, rc, "cannot change %s: %s", r->args[0], err);
	}
	err[0] = '\0';
	rc = json_object_get(b, "disks") ? snapshot_check_disks(r->c, id, json_object_get(b, "disks"),
								 err, sizeof(err)) : 0;
	if (!rc)
		rc = write_lists(r, id, b, err, sizeof(err));
	if (!rc)
		rc = vmcd_write(r, id, b, err, sizeof(err));
	if (!rc)
		rc = vmhw_write(r, id, b, false, vm.memory_mib, err, sizeof(err));
	if (!rc && json_object_get(b, "template"))
		rc = inv_vm_set_template(r->c, id, json_is_true(json_object_get(b, "template")));
	if (rc) {
		inv_vm_clear(&vm);
		inv_rollback(r->c);
		return req_error(r, err[0] && rc != -EEXIST && rc != -EACCES && rc != -EBUSY ? -EINVAL :
				 rc, "%s",
				 err[0] ? err : "inventory error");
	}
	if (vm.memory_reserve_mib > vm.memory_mib) {
		inv_vm_clear(&vm);
		inv_rollback(r->c);
		return req_error(r, -EINVAL, "memory_reserve_mib: more than memory_mib");
	}
	sup_cluster_owner_want(r->srv, r->c, vm.name);     /* with the commit too */
	rc = inv_vm_put(r->c, &vm, true);
	inv_vm_clear(&vm);
	if (rc)
		goto err_io;
	inv_vm_read_ahead(r->c, id);        /* (on etcd: with the commit) for vm_json */
	if (events_emit(r->srv, r->c, "vm-updated", "vm", r->args[0], r->who.name,
			vm_event_body(r->srv, b),
			"%s changed by %s", r->args[0], r->who.name))
		goto err_io;
	rc = inv_commit(r->c);
	/* etcd: a write read here (another check of the owner's usage) committed first:
	 * nothing was written; again, from the start */
	if (rc == -EAGAIN && ++tries < INV_COMMIT_TRIES)
		goto again;
	/* what it read changed before its commit (on etcd: another request, maybe another
	 * host's, changed the VM meanwhile) */
	if (rc == -EAGAIN)
		return req_error(r, -EBUSY, "%s changed meanwhile; nothing was changed: try again",
				 r->args[0]);
	if (rc)
		goto err_io;
	/* a manual balloon target gives way to the policy again (api_balloon.c) */
	if (json_object_get(b, "memory_min_mib") || json_object_get(b, "memory_buffer_pct") ||
	    json_object_get(b, "memory_mib"))
		sup_dynmem_manual(r->srv, id, false, 0, 0, 0);
	r->out = vm_json(r->srv, r->c, id, 0);
	return 200;
err_io:
	inv_rollback(r->c);
	return req_error(r, -EIO, "inventory error; nothing was changed");
}

int api_vm_action(struct req *r)
{
	const char *a = r->args[1], *undo;
	bool meant = false;
	int64_t id;
	int rc;

	if (strcmp(a, "start") && strcmp(a, "shutdown") && strcmp(a, "off") && strcmp(a, "reset") &&
	    strcmp(a, "pause") && strcmp(a, "resume") && strcmp(a, "save") &&
	    strcmp(a, "discard-saved"))
		return req_error(r, -ENOENT, "no such action; actions are start, shutdown, off, "
				 "reset, pause, resume, save, discard-saved");
	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_CONTROL))
		return r->status;
	if (r->body && !(json_is_object(r->body) && json_object_size(r->body) == 0) &&
	    (strcmp(a, "start") || !json_is_object(r->body) || json_object_size(r->body) != 1 ||
	     !json_is_string(json_object_get(r->body, "host"))))
		return req_error(r, -EINVAL, "actions take no body (or {}); start may name the "
				 "host to run on: {\"host\": NAME}");
	undo = req_query(r, "undo");
	if (undo && (strcmp(a, "off") && strcmp(a, "shutdown")))
		return req_error(r, -EINVAL, "undo=: only for off and shutdown");
	if (undo && strcmp(undo, "keep") && strcmp(undo, "commit") && strcmp(undo, "discard"))
		return req_error(r, -EINVAL, "undo: keep, commit or discard");
	if (!strcmp(a, "save") || !strcmp(a, "discard-saved"))
		return api_vm_save_action(r, id);
	if (!strcmp(a, "start")) {
		return api_vm_start_action(r, id);
	}
	if (!strcmp(a, "pause") || !strcmp(a, "resume"))
		rc = sup_pause(r->srv, r->c, id, !strcmp(a, "pause"), r->who.name);
	else if (strcmp(a, "reset") && (rc = sup_cluster_unplace(r->srv, r->args[0], &meant)))
		;       /* -EADDRINUSE: it runs on another host, which is to stop it */
	else
		rc = sup_stop(r->srv, r->c, id, !strcmp(a, "off") ? SUP_OFF : !strcmp(a, "reset") ?
			      SUP_RESET : SUP_SHUTDOWN, undo, r->who.name);
	return api_vm_action_answer(r, a, id, rc, meant);
}
