/* Save and restore of all the devices of the device table (see devstate.h), through their
 * kinds' descriptors (kind.h). */
#include "devices/virtio/devstate.h"
#include "disk/disk.h"
#include "util/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <string.h>

static int each_dev(struct vm *vm, int (*fn)(struct virtio_dev *d))
{
	struct vdevs *v = vm->devices_priv;
	unsigned i;
	int ret = 0, r;

	for (i = 0; v && i < v->n; i++) {
		struct virtio_dev *d = v->e[i].dev;

		if (d && (r = fn(d)) && !ret)
			ret = r;
	}
	return ret;
}

/* The kinds that are not virtio but take work on a thread of their own (an AHCI
 * controller) quiesce themselves (kind->quiesce). */
static void each_other(struct vm *vm, bool on)
{
	struct vdevs *v = vm->devices_priv;

	for (unsigned i = 0; v && i < v->n; i++)
		if (v->e[i].kind && v->e[i].kind->quiesce)
			v->e[i].kind->quiesce(&v->e[i], on);
}

int vm_devices_quiesce(struct vm *vm)
{
	each_other(vm, true);
	return each_dev(vm, virtio_dev_quiesce);
}

int vm_devices_resume(struct vm *vm)
{
	each_other(vm, false);
	return each_dev(vm, virtio_dev_resume);
}

int vm_devices_flush_disks(struct vm *vm)
{
	struct vdevs *v = vm->devices_priv;
	int ret = 0, r;

	for (unsigned i = 0; v && i < v->n; i++)
		if (v->e[i].disk && (r = disk_flush(v->e[i].disk))) {
			vsrv_log("%s (%s): flush: %s", v->e[i].label, v->e[i].disk->path,
				 strerror(-r));
			if (!ret)
				ret = r;
		}
	return ret;
}

int vm_devices_reopen_disks(struct vm *vm)
{
	struct vdevs *v = vm->devices_priv;
	int r;

	for (unsigned i = 0; v && i < v->n; i++)
		if (v->e[i].disk && (r = disk_reopen(v->e[i].disk))) {
			vsrv_log("%s (%s): cannot open it again: %s", v->e[i].label,
				 v->e[i].disk->path, strerror(-r));
			return r;
		}
	return 0;
}

int vm_devices_lock_disks(struct vm *vm, bool on)
{
	struct vdevs *v = vm->devices_priv;
	unsigned i;
	int ret = 0;

	for (i = 0; v && i < v->n && !ret; i++)
		if (v->e[i].disk) {
			if (on)
				ret = disk_lock(v->e[i].disk);
			else
				disk_unlock(v->e[i].disk);
		}
	if (ret)
		while (i-- > 0)
			if (v->e[i].disk)
				disk_unlock(v->e[i].disk);
	return ret;
}

struct disk *vm_devices_disk(struct vm *vm, unsigned i, const char **label)
{
	struct vdevs *v = vm->devices_priv;

	if (!v || i >= v->n || !v->e[i].disk)
		return NULL;
	if (label)
		*label = v->e[i].label;
	return v->e[i].disk;
}

unsigned vm_devices_count(struct vm *vm)
{
	struct vdevs *v = vm->devices_priv;

	return v ? v->n : 0;
}

void vm_devices_describe(struct vm *vm, struct vm_devices_desc *d)
{
	struct vdevs *v = vm->devices_priv;
	unsigned i;

	memset(d, 0, sizeof(*d));
	if (!v)
		return;
	d->n = v->n;
	d->has_pci = v->pci != NULL;
	for (i = 0; i < v->n; i++) {
		d->e[i].kind = v->e[i].kind->id;
		d->e[i].on_pci = v->e[i].pci != NULL;
	}
}

static int save_entry(struct device_entry *e, struct vdev_entry_state *s)
{
	const struct device_kind *k = e->kind;
	int ret;

	s->kind = k->id;
	s->on_pci = e->pci != NULL;
	if (!k->save) {
		if (!e->dev)
			return 0; /* nothing of its own (a SCSI disk: its controller saves it) */
		vsrv_log("%s: saving this device is not supported", e->name);
		return -EOPNOTSUPP;
	}
	ret = k->save(e, s->dev.bytes);
	if (e->pci)
		virtio_pci_save(e->pci, &s->tr.pci);
	else if (e->mmio)
		virtio_mmio_save(e->mmio, &s->tr.mmio);
	return ret;
}

int vm_devices_save(struct vm *vm, struct vm_devices_state *st)
{
	struct vdevs *v = vm->devices_priv;
	unsigned i;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	if (!v)
		return 0;
	/* all at one point: none moves on while another is saved */
	vm_devices_quiesce(vm);
	st->n = v->n;
	st->has_pci = v->pci != NULL;
	if (v->pci)
		pci_host_save(v->pci, &st->pci);
	for (i = 0; i < v->n && !ret; i++)
		ret = save_entry(&v->e[i], &st->e[i]);
	vm_devices_resume(vm);
	return ret;
}

static int check_entry(struct device_entry *e, const struct vdev_entry_state *s)
{
	if (s->kind != e->kind->id || s->on_pci != (e->pci != NULL))
		return -EINVAL;
	if (!e->kind->save)
		return e->dev ? -EOPNOTSUPP : 0;
	if (!e->dev) /* no virtio core: its own checks (the rest are its restore's) */
		return e->kind->state_check ? e->kind->state_check(e, s->dev.bytes) : 0;
	/* the device's own checks run in its restore, before it changes anything; the
	 * core's part (the start of every kind's state) is checked here for all first */
	return virtio_dev_check(e->dev, (const struct virtio_dev_state *)s->dev.bytes) == 0 ?
	       0 : -EINVAL;
}

static int restore_entry(struct device_entry *e, const struct vdev_entry_state *s)
{
	int ret;

	if (!e->kind->restore)
		return 0;
	ret = e->kind->restore(e, s->dev.bytes);
	if (!ret && e->pci)
		ret = virtio_pci_restore(e->pci, &s->tr.pci);
	else if (!ret && e->mmio)
		ret = virtio_mmio_restore(e->mmio, &s->tr.mmio);
	if (ret)
		vsrv_log("%s: saved state refused: %s", e->name[0] || !e->dev ? e->name : e->dev->name,
			 strerror(-ret));
	return ret;
}

int vm_devices_restore(struct vm *vm, const struct vm_devices_state *st)
{
	struct vdevs *v = vm->devices_priv;
	unsigned i;
	int ret;

	if (!v)
		return st->n ? -EINVAL : 0;
	if (st->n != v->n || st->has_pci != (v->pci != NULL))
		return -EINVAL;
	for (i = 0; i < v->n; i++) {
		ret = check_entry(&v->e[i], &st->e[i]);
		if (ret)
			return ret;
	}
	if (v->pci) {
		ret = pci_host_restore(v->pci, &st->pci);
		if (ret)
			return ret;
	}
	for (i = 0; i < v->n; i++) {
		ret = restore_entry(&v->e[i], &st->e[i]);
		if (ret)
			return ret;
	}
	return 0;
}

uint8_t *vm_devices_devmem(struct vm *vm, unsigned i, size_t *len)
{
	struct vdevs *v = vm->devices_priv;
	struct device_entry *e;

	if (!v || i >= v->n)
		return NULL;
	e = &v->e[i];
	return e->kind && e->kind->devmem && e->priv ? e->kind->devmem(e, len) : NULL;
}
