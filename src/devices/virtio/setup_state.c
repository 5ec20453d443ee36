/* Save and restore of all the devices the device hook built (see devstate.h). */
#include "devices/virtio/devstate.h"
#include "util/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <string.h>

static struct virtio_dev *entry_dev(struct vdevs *v, struct vdev_entry *e)
{
	if (e->kind == VDEV_SCSI_DISK)
		return NULL; /* a disk of the controller, which has its own entry */
	if (e->kind == VDEV_SCSI_CTRL)
		return v->scsi ? e->dev : NULL;
	return e->dev;
}

static int each_dev(struct vm *vm, int (*fn)(struct virtio_dev *d))
{
	struct vdevs *v = vm->devices_priv;
	unsigned i;
	int ret = 0, r;

	for (i = 0; v && i < v->n; i++) {
		struct virtio_dev *d = entry_dev(v, &v->e[i]);

		if (d && (r = fn(d)) && !ret)
			ret = r;
	}
	return ret;
}

int vm_devices_quiesce(struct vm *vm)
{
	return each_dev(vm, virtio_dev_quiesce);
}

int vm_devices_resume(struct vm *vm)
{
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
		d->e[i].kind = v->e[i].kind;
		d->e[i].on_pci = v->e[i].pci != NULL;
	}
}

static int save_entry(struct vdevs *v, struct vdev_entry *e, struct vdev_entry_state *s)
{
	int ret;

	s->kind = e->kind;
	s->on_pci = e->pci != NULL;
	switch (e->kind) {
	case VDEV_BLK: ret = virtio_blk_save(e->blk, &s->dev.blk); break;
	case VDEV_RNG: ret = virtio_rng_save(e->rng, &s->dev.rng); break;
	case VDEV_CONSOLE: ret = virtio_console_save(e->console, &s->dev.console); break;
	case VDEV_SCSI_CTRL: ret = virtio_scsi_save(v->scsi, &s->dev.scsi); break;
	case VDEV_NET: virtio_net_save(e->net, &s->dev.net); ret = 0; break;
	case VDEV_SCSI_DISK: return 0;
	default:
		vsrv_log("%s: saving this device is not supported", e->name);
		return -EOPNOTSUPP;
	}
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
		ret = save_entry(v, &v->e[i], &st->e[i]);
	vm_devices_resume(vm);
	return ret;
}

/* The device core's part of an entry's state. */
static const struct virtio_dev_state *core_of(const struct vdev_entry_state *s)
{
	switch (s->kind) {
	case VDEV_BLK: return &s->dev.blk.dev;
	case VDEV_RNG: return &s->dev.rng.dev;
	case VDEV_CONSOLE: return &s->dev.console.dev;
	case VDEV_SCSI_CTRL: return &s->dev.scsi.dev;
	case VDEV_NET: return &s->dev.net.dev;
	default: return NULL;
	}
}

static int check_entry(struct vdevs *v, struct vdev_entry *e, const struct vdev_entry_state *s)
{
	if (s->kind != (uint32_t)e->kind || s->on_pci != (e->pci != NULL))
		return -EINVAL;
	switch (e->kind) {
	case VDEV_BLK: case VDEV_RNG: case VDEV_CONSOLE: case VDEV_SCSI_CTRL: case VDEV_NET:
		/* the device's own checks run in its restore, before it changes anything;
		 * the core's part is checked here for all devices first */
		return virtio_dev_check(e->dev, core_of(s)) == 0 ? 0 : -EINVAL;
	case VDEV_SCSI_DISK:
		return 0;
	default:
		(void)v;
		return -EOPNOTSUPP;
	}
}

static int restore_entry(struct vdevs *v, struct vdev_entry *e, const struct vdev_entry_state *s)
{
	int ret;

	switch (e->kind) {
	case VDEV_BLK: ret = virtio_blk_restore(e->blk, &s->dev.blk); break;
	case VDEV_RNG: ret = virtio_rng_restore(e->rng, &s->dev.rng); break;
	case VDEV_CONSOLE: ret = virtio_console_restore(e->console, &s->dev.console); break;
	case VDEV_SCSI_CTRL: ret = virtio_scsi_restore(v->scsi, &s->dev.scsi); break;
	case VDEV_NET: ret = virtio_net_restore(e->net, &s->dev.net); break;
	case VDEV_SCSI_DISK: return 0;
	default: return -EOPNOTSUPP;
	}
	if (!ret && e->pci)
		ret = virtio_pci_restore(e->pci, &s->tr.pci);
	else if (!ret && e->mmio)
		ret = virtio_mmio_restore(e->mmio, &s->tr.mmio);
	if (ret)
		vsrv_log("%s: saved state refused: %s", e->name[0] ? e->name : e->dev->name,
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
		ret = check_entry(v, &v->e[i], &st->e[i]);
		if (ret)
			return ret;
	}
	if (v->pci) {
		ret = pci_host_restore(v->pci, &st->pci);
		if (ret)
			return ret;
	}
	for (i = 0; i < v->n; i++) {
		ret = restore_entry(v, &v->e[i], &st->e[i]);
		if (ret)
			return ret;
	}
	return 0;
}
