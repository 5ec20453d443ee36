/* VM rows as JSON, shared by the VM endpoints. */
#ifndef VSRV_SERVER_VMROW_H
#define VSRV_SERVER_VMROW_H

#include "server/server.h"

struct inv_vm;

/* Look up the VM named r->args[0]: 0 and *id, or sets 404 on r and returns -ENOENT. */
int vm_lookup(struct req *r, int64_t *id);

/* The VM as JSON (hardware, disks, NICs, state); full adds "runtime" (the VMM's pid and usage
 * and its device counters, see sup_runtime_json). New reference
 * or NULL when it does not exist. */
json_t *vm_json(struct server *srv, struct dbc *c, int64_t id, int full);

/* Where a start of VM id runs (api_place.c): want (the body's "host", or NULL) names the
 * host; without it, on a shared inventory, the host with the most free memory that holds
 * the VM. *local: start it here (0 returned, nothing set on r); else another host's name
 * into target (n bytes; 0 returned, nothing set on r: the caller sends the start there
 * with api_vm_start_forward, once it holds nothing of this host's), or r holds an error
 * (*local false, target "") and its status is returned. */
int api_vm_start_placed(struct req *r, int64_t id, const char *want, bool *local,
			char *target, size_t n);

/* Send the start of VM r->args[0] to host target (api_vm_start_placed's) with the
 * caller's token: its answer becomes r's, whose status is returned. */
int api_vm_start_forward(struct req *r, const char *target);

/* Resolve a kernel/initrd/disk path from a request: relative paths live under the
 * server's images directory (a non-administrator's: an image it may see, imgacl.h, with no
 * hidden component); absolute ones are for administrators. The file must exist and be a
 * regular file. Writes the resolved path into out. Returns 0 or -EINVAL/-EACCES with a
 * message in err. The VM's row keeps a relative path as given (each host of a cluster
 * resolves it in its own images directory, sup_build_argv), an absolute one as it is. */
int vm_resolve_path(struct req *r, const char *field, const char *path, char *out, size_t n,
		    char *err, size_t errlen);

/* The kernel at path (resolved from the request's value given, named in the message) must
 * be one that `vsrv run` boots: the same probe (boot_probe.h). 0 or -EINVAL with err set. */
int vm_check_kernel(const char *path, const char *given, char *err, size_t errlen);

/* A PATCH's body as its event keeps it (every user who may view the VM reads it): a kernel
 * or initrd given by absolute path (an administrator's) as the VM's fields show it, its
 * name in the image store or null, never the path (GET /api/v1/vms/NAME has it for
 * administrators). A new reference (the caller's), NULL without memory. */
json_t *vm_event_body(const struct server *srv, json_t *b);

/* CD/DVD drives (api_vmcd.c): at most VM_CDROMS_MAX per VM, LUNs on the VMM's virtio-scsi
 * controller beside the SCSI disks (16 disks + 4 drives are well within its 128 LUNs). */
#define VM_CDROMS_MAX 4

/* Check the request body's "cdroms" (when present): at most VM_CDROMS_MAX objects
 * {"image": NAME or null}, each image in the store and an ISO or raw image. 0 or -EINVAL
 * with a message in err. */
int vmcd_check(struct req *r, const json_t *body, char *err, size_t errlen);

/* Replace VM id's drives with the body's "cdroms" (checked; absent: left alone), under the
 * caller's transaction; an image deleted since the check: -EINVAL with a message in err.
 * 0 or -errno. */
int vmcd_write(struct req *r, int64_t id, const json_t *body, char *err, size_t errlen);

/* What the running VMM of VM id says of its drives, as rt's (a "runtime" object with its
 * "pid") "cdroms": [{image, tray, locked}]; nothing when no VMM runs, the VM has no drives
 * or the VMM does not answer. */
void vmcd_runtime(struct server *srv, struct dbc *c, int64_t id, json_t *rt);

/* The running VMM of VM id puts image (an image of the store by name; NULL: eject) in its
 * CD/DVD drive idx (the idx-th of its media list); with force a drive the guest locked is
 * ejected anyway first. 0, -EBUSY (the guest locked the drive), -EIO (the VMM refused, or
 * has no such drive), -errno (no answer), with a message in err. */
int vmcd_media_change(struct server *srv, int64_t id, int idx, const char *image, bool force,
		      char *err, size_t errlen);

/* VM id's drives as the "cdroms" array (new reference), NULL on an inventory error. */
json_t *vmcd_json(struct dbc *c, int64_t id);

/* A VM's hardware (api_vmhw.c): firmware, boot order, UUID, os_type presets, NIC models
 * and drive buses. The choices of the enumerated fields, NULL-terminated. */
extern const char *const vmhw_firmwares[];
extern const char *const vmhw_os_types[];
extern const char *const vmhw_nic_models[];
extern const char *const vmhw_cd_buses[];
extern const char *const vmhw_displays[];
extern const char *const vmhw_enlightenments[];

/* The display a VM with hardware hw has: its "display" setting, or by default bochs with a
 * firmware (bios, uefi) and none without (a static string or hw's own). */
struct inv_vm_hw;
const char *vmhw_display(const struct inv_vm_hw *hw);

/* The enlightenments a VM with hardware hw gets (`vsrv run --enlightenments`): its setting,
 * or hyperv for os_type windows and kvm otherwise (a static string or hw's own). */
const char *vmhw_enlightenment(const struct inv_vm_hw *hw);

/* A create request's "os_type" (when given) fills the fields its preset sets that the body
 * does not give: r->body is replaced by the filled copy. 0, -EINVAL (an unknown os_type) or
 * -ENOMEM with a message in err. */
int vmhw_preset(struct req *r, char *err, size_t errlen);

/* The body's "firmware", "none" when not given. */
const char *vmhw_body_firmware(const json_t *b);

/* A create request's firmware against its kernel, initrd, cmdline and boot order. 0 or
 * -EINVAL with a message in err. */
int vmhw_check_create(const json_t *b, char *err, size_t errlen);

/* An edit request of VM id (under the caller's transaction, before its fields are applied
 * to vm, the VM's row): os_type refused, the firmware the VM will have against the kernel
 * fields and boot order; a VM given a firmware loses its kernel, initrd and cmdline (in vm).
 * 0, -EINVAL, -ENOMEM with a message in err, or -EIO. */
int vmhw_edit(struct req *r, int64_t id, const json_t *b, struct inv_vm *vm, char *err,
	      size_t errlen);

/* Write the body's firmware, boot order (os_type at create), dynamic memory settings and the
 * models and buses of the NICs and drives it lists (after they are written) for VM id, under
 * the caller's transaction. memory_mib: the VM's (after the edit): memory_min_mib must be at
 * most that and at least DYNMEM_MIN_FLOOR_MIB (or all of it); equal to it is stored as 0
 * (off: it follows memory_mib). 0 or -errno (a message in err for -EINVAL). */
int vmhw_write(struct req *r, int64_t id, const json_t *b, bool create, int64_t memory_mib,
	       char *err, size_t errlen);

/* Add VM id's "firmware", "boot", "uuid", "os_type", "display", "memory_min_mib" (o's
 * memory_mib when it is off) and "memory_buffer_pct" to its JSON o (and a null "kernel" for
 * none). */
void vmhw_json(struct dbc *c, int64_t id, json_t *o);

#endif
