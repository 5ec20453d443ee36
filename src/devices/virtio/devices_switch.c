/* A live snapshot's disk switch over the device table (devstate.h, vm_devices_disk_switch):
 * every disk kind (virtio-blk, virtio-scsi, AHCI, IDE) keeps its image in e->disk, a
 * struct disk the device holds by address; disk_switch changes what is behind it in place,
 * so no device is told. */
#include "devices/virtio/devstate.h"
#include "devices/virtio/kind.h"
#include "disk/disk.h"
#include "util/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SWITCH_MAX VDEVS_MAX

static struct device_entry *disk_entry(struct vdevs *v, const char *drive)
{
	for (unsigned i = 0; v && i < v->n; i++)
		if (v->e[i].kind && !strcmp(v->e[i].label, drive) &&
		    (v->e[i].disk || v->e[i].kind->media))
			return &v->e[i];
	return NULL;
}

int vm_devices_disk_switch(struct vm *vm, struct vm_disk_switch *sw, unsigned n, char *err,
			   size_t errlen)
{
	struct vdevs *v = vm->devices_priv;
	struct device_entry *e[SWITCH_MAX];
	struct disk *old[SWITCH_MAX];
	unsigned i, j;
	int ret;

	if (!n || n > SWITCH_MAX) {
		snprintf(err, errlen, "disk-switch takes 1 to %d disks", SWITCH_MAX);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		e[i] = disk_entry(v, sw[i].drive);
		if (!e[i]) {
			snprintf(err, errlen, "no disk %s", sw[i].drive);
			return -ENOENT;
		}
		if (e[i]->kind->media) {
			snprintf(err, errlen, "%s is a CD/DVD drive (read-only): it takes no new top",
				 sw[i].drive);
			return -EINVAL;
		}
		for (j = 0; j < i; j++)
			if (e[j] == e[i]) {
				snprintf(err, errlen, "%s named twice", sw[i].drive);
				return -EINVAL;
			}
	}
	for (i = 0; i < n; i++) {
		char why[768];

		ret = disk_switch(e[i]->disk, sw[i].path, sw[i].fd, &old[i], why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "%s (%s): %s", sw[i].drive, e[i]->disk->path, why);
			while (i-- > 0) {
				disk_switch_undo(e[i]->disk, old[i]); /* closes the fd it took */
				sw[i].fd = -1;
			}
			return ret;
		}
	}
	for (i = 0; i < n; i++) {
		e[i]->disk_switched = true;
		sw[i].fd = -1; /* the disk's now */
		vsrv_log("%s: on a new top %s (over %s)", e[i]->label, e[i]->disk->path,
			 old[i]->path);
		disk_switch_done(old[i]);
	}
	return 0;
}

unsigned vm_devices_switched(struct vm *vm, struct vm_disk_top *out, unsigned max)
{
	struct vdevs *v = vm->devices_priv;
	unsigned n = 0;

	for (unsigned i = 0; v && i < v->n && n < max; i++)
		if (v->e[i].disk_switched && v->e[i].disk) {
			out[n].drive = v->e[i].label;
			out[n].path = v->e[i].disk->path;
			n++;
		}
	return n;
}


int vm_devices_run_args(struct vm *vm, const char *const *args, unsigned n, char ***out)
{
	struct vm_disk_top top[SWITCH_MAX];
	unsigned nt = vm_devices_switched(vm, top, SWITCH_MAX), idx = 0, i, t;
	size_t bytes = (n + 1) * sizeof(char *);
	char **a, *p;

	*out = NULL;
	if (!nt)
		return 0;
	for (i = 0; i < n; i++)
		bytes += strlen(args[i]) + 1;
	for (t = 0; t < nt; t++)
		bytes += strlen(top[t].path) + 8;
	a = malloc(bytes);
	if (!a)
		return -ENOMEM;
	p = (char *)(a + n + 1);
	for (i = 0; i < n; i++) {
		const char *spec = NULL;
		char label[16];

		/* every drive is a --disk= among the args (a --cdrom is noted as one) */
		if (!strncmp(args[i], "--disk=", 7)) {
			snprintf(label, sizeof(label), "disk%u", idx++);
			for (t = 0; t < nt; t++)
				if (!strcmp(top[t].drive, label))
					spec = top[t].path;
		}
		a[i] = p;
		if (spec) {
			const char *rest = strchr(args[i] + 7, ',');

			p += sprintf(p, "--disk=%s%s", spec, rest ? rest : "") + 1;
		} else {
			p = stpcpy(p, args[i]) + 1;
		}
	}
	a[n] = NULL;
	*out = a;
	return 0;
}
