/* A VM's hardware in its configuration (create, edit, show): "firmware" (none: the VMM
 * loads the VM's kernel; bios or uefi: the firmware boots from the VM's drives), "boot" (the
 * firmware's boot order), "uuid" (its SMBIOS UUID, given at creation), a NIC's "model", a
 * CD/DVD drive's "bus" (a disk's "bus" is the attachment's own, api_vm.c), "balloon" (a
 * memory balloon: on by default for every new VM, whatever its os_type: it costs nothing to
 * a guest without a driver, Linux has one built in and Windows gets one from virtio-win;
 * the server then sets the VM's memory target, api_balloon.c), "enlightenments" (the
 * paravirtual interfaces, `vsrv run --enlightenments`: kvm, hyperv, xen, none; not set: hyperv
 * for os_type windows, kvm otherwise), "mem_merge" (KSM for its RAM, off unless asked for:
 * shared pages let guests time each other), "memory_min_mib" and "memory_buffer_pct" (dynamic
 * memory, dynmem.h: the floor the server balloons the running guest down to, its memory_mib
 * unless set (off), at least DYNMEM_MIN_FLOOR_MIB; the free memory the guest keeps, percent
 * of its use, 0 to DYNMEM_BUFFER_MAX, default 20; changed at any time), and the "os_type"
 * presets that fill what a create request leaves out:
 *
 *   os_type  firmware  boot        disks' bus  drives' bus  NICs' model
 *   linux    none      -           virtio-blk  virtio-scsi  virtio
 *   windows  uefi      cdrom,disk  ahci        ahci         e1000
 *   legacy   bios      cdrom,disk  ide         ide          e1000
 *
 * (legacy: systems older than AHCI drivers, Windows XP, DOS and the like, find their disks
 * and CD on the PIIX IDE controller; at most 4 drives there)
 *
 * What `vsrv run` accepts decides the rules: a firmware VM has no kernel, initrd or cmdline;
 * a boot order is for a firmware VM only. */
#include "server/api.h"
#include "server/dynmem.h"
#include "server/inv.h"
#include "server/vmrow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VMHW_AHCI_PORTS 6
#define VMHW_IDE_DRIVES 4 /* the PIIX3 IDE controller: 2 channels, master and slave */

static const struct preset {
	const char *name, *firmware, *boot, *disk_bus, *cd_bus, *nic_model;
} presets[] = {
	{ "linux", "none", NULL, "virtio-blk", "virtio-scsi", "virtio" },
	{ "windows", "uefi", "cdrom,disk", "ahci", "ahci", "e1000" },
	{ "legacy", "bios", "cdrom,disk", "ide", "ide", "e1000" },
};

const char *const vmhw_firmwares[] = { "none", "bios", "uefi", NULL };
const char *const vmhw_os_types[] = { "linux", "windows", "legacy", NULL };
const char *const vmhw_nic_models[] = { "virtio", "e1000", NULL };
const char *const vmhw_cd_buses[] = { "virtio-scsi", "ahci", "ide", NULL };
const char *const vmhw_displays[] = { "none", "bochs", NULL };
const char *const vmhw_enlightenments[] = { "kvm", "hyperv", "xen", "none", NULL };
static const char *const boot_devices[] = { "cdrom", "disk", "net", NULL };

/* Set key of every object of array a to val where it is not given. */
static void fill_each(json_t *a, const char *key, const char *val)
{
	json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_is_object(v) && !json_object_get(v, key))
			json_object_set_new(v, key, json_string(val));
}

int vmhw_preset(struct req *r, char *err, size_t errlen)
{
	const json_t *os = json_object_get(r->body, "os_type");
	const struct preset *p = NULL;
	json_t *b;

	if (!os)
		return 0;
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (json_is_string(os) && !strcmp(json_string_value(os), presets[i].name))
			p = &presets[i];
	if (!p) {
		snprintf(err, errlen, "os_type: one of linux, windows, legacy");
		return -EINVAL;
	}
	b = json_deep_copy(r->body);
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!json_object_get(b, "firmware"))
		json_object_set_new(b, "firmware", json_string(p->firmware));
	if (p->boot && !json_object_get(b, "boot") &&
	    !strcmp(json_string_value(json_object_get(b, "firmware")) ?: "", p->firmware))
		json_object_set_new(b, "boot", json_pack("[s,s]", "cdrom", "disk"));
	fill_each(json_object_get(b, "disks"), "bus", p->disk_bus);
	fill_each(json_object_get(b, "cdroms"), "bus", p->cd_bus);
	fill_each(json_object_get(b, "nics"), "model", p->nic_model);
	json_decref(r->body);
	r->body = b;
	return 0;
}

/* The request's boot order as "cdrom,disk" into out: a list of distinct boot devices. 0 or
 * -EINVAL with err set. */
static int boot_string(const json_t *a, char *out, size_t n, char *err, size_t errlen)
{
	const json_t *v;
	size_t i;

	out[0] = '\0';
	json_array_foreach(a, i, v) {
		const char *d = json_string_value(v);
		const char *const *k;

		for (k = boot_devices; d && *k && strcmp(*k, d); k++)
			;
		if (!d || !*k) {
			snprintf(err, errlen, "boot[%zu]: one of cdrom, disk, net", i);
			return -EINVAL;
		}
		if (strstr(out, d)) {
			snprintf(err, errlen, "boot[%zu]: %s is already in the boot order", i, d);
			return -EINVAL;
		}
		snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", d);
	}
	return 0;
}

/* What a VM with firmware fw may have in body b: with a firmware no kernel, initrd or
 * cmdline (empty ones are fine: nothing); without one no boot order. 0 or -EINVAL. */
static int check_firmware(const json_t *b, const char *fw, char *err, size_t errlen)
{
	static const char *const kernel_fields[] = { "kernel", "initrd", "cmdline", NULL };
	const json_t *boot = json_object_get(b, "boot");
	char order[32];

	if (boot && boot_string(boot, order, sizeof(order), err, errlen))
		return -EINVAL;
	if (!strcmp(fw, "none")) {
		if (boot && json_array_size(boot)) {
			snprintf(err, errlen, "boot: a boot order is for firmware bios or uefi (a VM "
				 "with firmware none boots its kernel)");
			return -EINVAL;
		}
		return 0;
	}
	for (const char *const *k = kernel_fields; *k; k++) {
		const char *s = json_string_value(json_object_get(b, *k));

		if (s && *s) {
			snprintf(err, errlen, "%s: not with firmware %s (the firmware boots from the "
				 "VM's drives)", *k, fw);
			return -EINVAL;
		}
	}
	return 0;
}

/* Replace the string *p (a struct inv_vm's own) with "". 0 or -ENOMEM. */
static int set_empty(char **p)
{
	char *e = strdup("");

	if (!e)
		return -ENOMEM;
	free(*p);
	*p = e;
	return 0;
}

const char *vmhw_body_firmware(const json_t *b)
{
	return json_string_value(json_object_get(b, "firmware")) ?: "none";
}

int vmhw_check_create(const json_t *b, char *err, size_t errlen)
{
	return check_firmware(b, vmhw_body_firmware(b), err, errlen);
}

/* Set the per-NIC models and per-drive buses of body b on VM id's (just written) NICs and
 * drives. 0 or -errno. */
static int write_devices(struct req *r, int64_t id, const json_t *b)
{
	const json_t *v;
	size_t i;
	int rc = 0;

	json_array_foreach(json_object_get(b, "nics"), i, v) {
		const char *m = json_string_value(json_object_get(v, "model"));

		if (!rc && m && strcmp(m, "virtio"))
			rc = inv_vm_nic_set_model(r->c, id, (int)i, m);
	}
	json_array_foreach(json_object_get(b, "cdroms"), i, v) {
		const char *bus = json_string_value(json_object_get(v, "bus"));

		if (!rc && bus && strcmp(bus, "virtio-scsi"))
			rc = inv_vm_cdrom_set_bus(r->c, id, (int)i, bus);
	}
	return rc;
}

/* inv_vm_disks, inv_vm_cdroms: count the drives on the AHCI bus (n[0]) and on the IDE bus
 * (n[1]) into arg. */
static int count_disk(const struct inv_vm_disk *d, void *arg)
{
	((int *)arg)[0] += d->bus && !strcmp(d->bus, "ahci");
	((int *)arg)[1] += d->bus && !strcmp(d->bus, "ide");
	return 0;
}

static int count_cd(const struct inv_vm_cdrom *d, void *arg)
{
	((int *)arg)[0] += d->bus && !strcmp(d->bus, "ahci");
	((int *)arg)[1] += d->bus && !strcmp(d->bus, "ide");
	return 0;
}

/* The body's dynamic memory settings into hw against the VM's memory_mib (vmhw_write). */
static int write_memory(const json_t *b, int64_t memory_mib, struct inv_vm_hw *hw, char *err,
			size_t errlen)
{
	const json_t *min = json_object_get(b, "memory_min_mib");

	if (json_object_get(b, "memory_buffer_pct"))
		hw->memory_buffer_pct = (int)json_integer_value(json_object_get(b, "memory_buffer_pct"));
	if (min)
		hw->memory_min_mib = json_integer_value(min);
	if (hw->memory_min_mib > memory_mib) {
		snprintf(err, errlen, "memory_min_mib: %lld is more than memory_mib (%lld)%s",
			 (long long)hw->memory_min_mib, (long long)memory_mib,
			 min ? "" : ": lower memory_min_mib in the same request");
		return -EINVAL;
	}
	if (min && hw->memory_min_mib < DYNMEM_MIN_FLOOR_MIB && hw->memory_min_mib != memory_mib) {
		snprintf(err, errlen, "memory_min_mib: at least %d MiB (what a guest's kernel needs), "
			 "or memory_mib (%lld: dynamic memory off)", DYNMEM_MIN_FLOOR_MIB,
			 (long long)memory_mib);
		return -EINVAL;
	}
	if (hw->memory_min_mib == memory_mib)
		hw->memory_min_mib = 0;
	return 0;
}

int vmhw_write(struct req *r, int64_t id, const json_t *b, bool create, int64_t memory_mib,
	       char *err, size_t errlen)
{
	struct inv_vm_hw hw;
	const json_t *boot = json_object_get(b, "boot");
	int rc;

	if (!json_object_get(b, "firmware") && !boot && !json_object_get(b, "os_type") &&
	    !json_object_get(b, "disks") && !json_object_get(b, "nics") &&
	    !json_object_get(b, "cdroms") && !json_object_get(b, "balloon") &&
	    !json_object_get(b, "display") && !json_object_get(b, "enlightenments") &&
	    !json_object_get(b, "mem_merge") && !json_object_get(b, "memory_min_mib") &&
	    !json_object_get(b, "memory_buffer_pct") && !json_object_get(b, "memory_mib"))
		return 0;
	rc = inv_vm_hw_get(r->c, id, &hw);
	if (rc)
		return rc;
	if ((rc = write_memory(b, memory_mib, &hw, err, errlen)))
		return rc;
	if (json_object_get(b, "firmware"))
		snprintf(hw.firmware, sizeof(hw.firmware), "%s", vmhw_body_firmware(b));
	if (boot && (rc = boot_string(boot, hw.boot, sizeof(hw.boot), err, errlen)))
		return rc;
	if (json_object_get(b, "display"))
		snprintf(hw.display, sizeof(hw.display), "%s",
			 json_string_value(json_object_get(b, "display")));
	if (!strcmp(hw.firmware, "none"))
		hw.boot[0] = '\0';
	if (json_object_get(b, "balloon"))
		hw.balloon = json_is_true(json_object_get(b, "balloon"));
	if (json_object_get(b, "enlightenments"))
		snprintf(hw.enlightenments, sizeof(hw.enlightenments), "%s",
			 json_string_value(json_object_get(b, "enlightenments")));
	if (json_object_get(b, "mem_merge"))
		hw.mem_merge = json_is_true(json_object_get(b, "mem_merge"));
	if (create && json_object_get(b, "os_type"))
		snprintf(hw.os_type, sizeof(hw.os_type), "%s",
			 json_string_value(json_object_get(b, "os_type")));
	rc = inv_vm_hw_put(r->c, id, &hw);
	if (!rc)
		rc = write_devices(r, id, b);
	if (!rc && (json_object_get(b, "disks") || json_object_get(b, "cdroms"))) {
		/* The VMM's AHCI controller has the 6 ports of an ICH9 (src/devices/ahci.h), its
		 * IDE controller 4 drives (src/devices/ide.h). */
		int n[2] = { 0, 0 };

		rc = inv_vm_disks(r->c, id, count_disk, n);
		if (!rc)
			rc = inv_vm_cdroms(r->c, id, count_cd, n);
		if (!rc && n[0] > VMHW_AHCI_PORTS) {
			snprintf(err, errlen, "disks, cdroms: %d drives on the ahci bus; the AHCI "
				 "controller has %d ports", n[0], VMHW_AHCI_PORTS);
			rc = -EINVAL;
		} else if (!rc && n[1] > VMHW_IDE_DRIVES) {
			snprintf(err, errlen, "disks, cdroms: %d drives on the ide bus; the IDE "
				 "controller has %d (2 channels, master and slave)", n[1],
				 VMHW_IDE_DRIVES);
			rc = -EINVAL;
		}
	}
	return rc;
}

int vmhw_edit(struct req *r, int64_t id, const json_t *b, struct inv_vm *vm, char *err,
	      size_t errlen)
{
	struct inv_vm_hw hw;
	const char *fw;
	int rc;

	if (json_object_get(b, "os_type")) {
		snprintf(err, errlen, "os_type: a preset for creating a VM; edit the fields it "
			 "set instead");
		return -EINVAL;
	}
	rc = inv_vm_hw_get(r->c, id, &hw);
	if (rc)
		return rc;
	fw = json_object_get(b, "firmware") ? vmhw_body_firmware(b) : hw.firmware;
	/* A boot order kept from before goes with the firmware (vmhw_write), not an error. */
	if (check_firmware(b, fw, err, errlen))
		return -EINVAL;
	if (strcmp(fw, "none")) {
		/* The firmware boots from the drives: the kernel the VM had goes. */
		free(vm->initrd);
		vm->initrd = NULL;
		if (set_empty(&vm->kernel) || set_empty(&vm->cmdline)) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	} else if (!vm->kernel || !*vm->kernel) {
		if (!json_string_value(json_object_get(b, "kernel"))) {
			snprintf(err, errlen, "kernel: required with firmware none (the VMM boots "
				 "the VM's kernel)");
			return -EINVAL;
		}
	}
	return 0;
}

const char *vmhw_display(const struct inv_vm_hw *hw)
{
	if (hw->display[0])
		return hw->display;
	return strcmp(hw->firmware, "none") && hw->firmware[0] ? "bochs" : "none";
}

const char *vmhw_enlightenment(const struct inv_vm_hw *hw)
{
	if (hw->enlightenments[0])
		return hw->enlightenments;
	return !strcmp(hw->os_type, "windows") ? "hyperv" : "kvm";
}

void vmhw_json(struct dbc *c, int64_t id, json_t *o)
{
	struct inv_vm_hw hw;
	json_t *boot;
	char *save = NULL;

	if (inv_vm_hw_get(c, id, &hw))
		return;
	boot = json_array();
	for (char *t = strtok_r(hw.boot, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(boot, json_string(t));
	json_object_set_new(o, "firmware", json_string(hw.firmware));
	json_object_set_new(o, "boot", boot);
	json_object_set_new(o, "uuid", json_string(hw.uuid));
	json_object_set_new(o, "os_type", hw.os_type[0] ? json_string(hw.os_type) : json_null());
	json_object_set_new(o, "balloon", json_boolean(hw.balloon));
	json_object_set_new(o, "display", json_string(vmhw_display(&hw)));
	json_object_set_new(o, "enlightenments", json_string(vmhw_enlightenment(&hw)));
	json_object_set_new(o, "mem_merge", json_boolean(hw.mem_merge));
	json_object_set_new(o, "memory_min_mib", hw.memory_min_mib > 0 ?
			    json_integer(hw.memory_min_mib) :
			    json_incref(json_object_get(o, "memory_mib")));
	json_object_set_new(o, "memory_buffer_pct", json_integer(hw.memory_buffer_pct));
	if (!strcmp(json_string_value(json_object_get(o, "kernel")) ?: "", ""))
		json_object_set(o, "kernel", json_null());
}
