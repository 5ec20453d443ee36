/* The VMM's device hook (vm_devices_init/vm_devices_exit, see vm.h): builds the virtio
 * devices named by --disk, --net and --device, puts each on its transport (virtio-mmio,
 * announced on the kernel command line, or virtio-pci behind the host bridge), and wires
 * notifications to KVM ioeventfds and interrupts to irqfds / MSI routes. */
#include "devices/pci.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"
#include "devices/virtio/options.h"
#include "devices/virtio/pci_transport.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/setup.h"
#include "util/log.h"
#include "vmm/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MMIO_BASE 0xd0000000ULL  /* virtio-mmio windows, 4 KiB apart */
#define ECAM_BASE 0xe0000000ULL  /* bus 0 only */
#define PCI_BAR_BASE 0xe1000000ULL
#define PCI_BAR_END 0xfe000000ULL

static int h_ioeventfd(void *vm, int efd, uint64_t addr, uint32_t len, bool match,
		       uint64_t data, bool assign)
{
	return assign ? vm_ioeventfd_add(vm, addr, len, false, match, data, efd) :
			vm_ioeventfd_del(vm, addr, len, false, match, data, efd);
}

static int h_irqfd(void *vm, int efd, uint32_t gsi, bool assign)
{
	return assign ? vm_irqfd_add(vm, gsi, efd, -1) : vm_irqfd_del(vm, gsi, efd);
}

static int h_msi_route(void *vm, uint32_t *gsi, uint64_t addr, uint32_t data)
{
	return *gsi ? vm_msi_route_update(vm, *gsi, addr, data) :
		      vm_msi_route_add(vm, addr, data, gsi);
}

/* Put d on its transport. */
int setup_attach(struct vdevs *v, struct vdev_entry *e, enum vopt_transport t,
		  uint32_t class_code)
{
	struct vm *vm = v->vm;
	char word[96];
	int ret;

	if (t == VOPT_PCI) {
		if (!v->pci) {
			ret = pci_host_create(&vm->pio, &vm->mmio, ECAM_BASE, PCI_BAR_BASE,
					      PCI_BAR_END, &v->pci);
			if (ret)
				return ret;
			/* For the ACPI tables (a root bridge, MCFG) and the e820 map. */
			vm->pci = (struct vm_pci_info){ ECAM_BASE, PCI_BAR_BASE, PCI_BAR_END };
		}
		return virtio_pci_create(e->dev, v->pci, class_code, &e->pci);
	}
	ret = vm_irq_alloc(vm, &e->gsi);
	if (ret) {
		vsrv_log("%s: no free interrupt line for virtio-mmio", e->dev->name);
		return ret;
	}
	e->gsi_allocated = true;
	ret = virtio_mmio_create(e->dev, MMIO_BASE + 0x1000ULL * v->nr_mmio, e->gsi, &e->mmio);
	if (ret)
		return ret;
	v->nr_mmio++;
	virtio_mmio_cmdline(e->mmio, word, sizeof(word));
	return vm_cmdline_append(vm, word);
}

static struct vdev_entry *entry_new(struct vdevs *v)
{
	struct vdev_entry *e;

	if (v->n == VDEVS_MAX)
		return NULL;
	e = &v->e[v->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* A disk whose lock is refused: say so when it is one of this VM's own disks already. */
static void same_disk_twice(struct vdevs *v, const char *path, unsigned idx)
{
	struct stat a, b;

	if (stat(path, &a))
		return;
	for (unsigned i = 0; i < v->n; i++)
		if (v->e[i].disk && !stat(v->e[i].disk->path, &b) && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			vsrv_log("disk%u (%s): the same image as %s: a disk is given to a VM once",
				 idx, path, v->e[i].label);
			return;
		}
}

static int add_disk(struct vdevs *v, const char *spec, unsigned idx)
{
	struct vopt_disk o;
	struct vdev_entry *e;
	struct virtio_blk_opts bo = { 0 };
	unsigned flags = 0;
	int ret;

	ret = vopt_parse_disk(spec, &o);
	if (ret)
		return ret;
	e = entry_new(v);
	ret = -ENOSPC;
	if (!e)
		goto out;
	if (o.readonly)
		flags |= DISK_RDONLY;
	if (o.nocache)
		flags |= DISK_NOCACHE;
	/* a migration's destination takes the disks' locks when the source hands them over
	 * (vm_devices_reopen_disks): the source still runs on them now */
	if (v->vm->cfg->incoming)
		flags |= DISK_NOLOCK;
	ret = disk_open(o.path, o.format, flags, &e->disk);
	if (ret == -EBUSY)
		same_disk_twice(v, o.path, idx);
	if (ret)
		goto out; /* the disk layer logged the reason, naming the file */
	snprintf(e->label, sizeof(e->label), "disk%u", idx);
	if (o.bus == VOPT_SCSI) {
		e->bus_or_backend = "scsi";
		ret = setup_scsi_disk(v, e, &o, idx);
		goto out;
	}
	e->bus_or_backend = "virtio-blk";
	snprintf(e->name, sizeof(e->name), "virtio-blk%u", idx);
	bo.queues = o.queues;
	bo.serial = o.serial;
	e->kind = VDEV_BLK;
	ret = virtio_blk_create(&v->host, e->disk, e->name, &bo, &e->blk);
	if (ret) {
		vsrv_log("%s (%s): cannot create: %s", e->name, o.path, strerror(-ret));
		goto out;
	}
	e->dev = virtio_blk_dev(e->blk);
	e->dstats = virtio_blk_stats(e->blk);
	ret = setup_attach(v, e, o.transport, 0x018000);
out:
	vopt_disk_free(&o);
	return ret;
}

static int add_device(struct vdevs *v, const char *spec, unsigned idx)
{
	struct vopt_dev o;
	struct vdev_entry *e;
	int ret;

	ret = vopt_parse_dev(spec, &o);
	if (ret)
		return ret;
	e = entry_new(v);
	ret = -ENOSPC;
	if (!e)
		goto out;
	if (o.kind == VOPT_DEV_RNG) {
		e->kind = VDEV_RNG;
		ret = virtio_rng_create(&v->host, &e->rng);
		if (ret)
			goto out;
		e->dev = virtio_rng_dev(e->rng);
		ret = setup_attach(v, e, o.transport, 0x00ff00);
	} else {
		ret = setup_console(v, e, o.socket, idx);
		if (!ret)
			ret = setup_attach(v, e, o.transport, 0x078000);
	}
out:
	vopt_dev_free(&o);
	return ret;
}

static int add_net(struct vdevs *v, const char *spec, unsigned idx)
{
	struct vopt_net o;
	struct vdev_entry *e;
	int ret;

	ret = vopt_parse_net(spec, &o);
	if (ret)
		return ret;
	e = entry_new(v);
	ret = -ENOSPC;
	if (e)
		ret = setup_net(v, e, &o, idx);
	if (!ret)
		ret = setup_attach(v, e, o.transport, 0x020000);
	vopt_net_free(&o);
	return ret;
}

int vm_devices_init(struct vm *vm)
{
	const struct vm_config *c = vm->cfg;
	struct vdevs *v;
	unsigned i;
	int ret = 0;

	if (!c->nr_disks && !c->nr_nets && !c->nr_devices)
		return 0;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->host.mem = vm->mem;
	v->host.mmio = &vm->mmio;
	v->host.pio = &vm->pio;
	v->host.vm = vm;
	v->host.ioeventfd = h_ioeventfd;
	v->host.irqfd = h_irqfd;
	v->host.msi_route = h_msi_route;
	vm->devices_priv = v;
	for (i = 0; i < c->nr_disks && !ret; i++)
		ret = add_disk(v, c->disks[i], i);
	for (i = 0; i < c->nr_nets && !ret; i++)
		ret = add_net(v, c->nets[i], i);
	for (i = 0; i < c->nr_devices && !ret; i++)
		ret = add_device(v, c->devices[i], i);
	if (!ret)
		ret = setup_scsi_finish(v);
	if (ret) {
		vm_devices_exit(vm);
		return ret;
	}
	return 0;
}

void vm_devices_exit(struct vm *vm)
{
	struct vdevs *v = vm->devices_priv;
	unsigned i;

	if (!v)
		return;
	/* a controller that never got its transport goes before the disks it borrows */
	if (v->scsi && (v->n == 0 || v->e[v->n - 1].kind != VDEV_SCSI_CTRL))
		setup_scsi_destroy(v);
	for (i = v->n; i-- > 0;) {
		struct vdev_entry *e = &v->e[i];

		virtio_pci_destroy(e->pci);
		virtio_mmio_destroy(e->mmio);
		if (e->gsi_allocated)
			vm_irq_free(vm, e->gsi);
		if (e->kind == VDEV_SCSI_CTRL)
			setup_scsi_destroy(v); /* before the disks it uses are closed */
		switch (e->kind) {
		case VDEV_BLK: virtio_blk_destroy(e->blk); break;
		case VDEV_RNG: virtio_rng_destroy(e->rng); break;
		default: setup_destroy_other(v, e); break;
		}
		disk_close(e->disk);
	}
	setup_scsi_destroy(v);
	pci_host_destroy(v->pci);
	free(v);
	vm->devices_priv = NULL;
}

unsigned vm_devices_disk_stats(struct vm *vm, struct vm_disk_stats *out, unsigned max)
{
	struct vdevs *v = vm->devices_priv;
	unsigned i, n = 0;

	for (i = 0; v && i < v->n && n < max; i++) {
		struct vdev_entry *e = &v->e[i];

		if (!e->dstats)
			continue;
		memcpy(out[n].name, e->label, sizeof(out[n].name));
		memcpy(out[n].device, e->name, sizeof(out[n].device));
		out[n].bus = e->bus_or_backend;
		vdisk_stats_read(e->dstats, &out[n].io);
		n++;
	}
	return n;
}

unsigned vm_devices_nic_stats(struct vm *vm, struct vm_nic_stats *out, unsigned max)
{
	struct vdevs *v = vm->devices_priv;
	unsigned i, n = 0;

	for (i = 0; v && i < v->n && n < max; i++) {
		struct vdev_entry *e = &v->e[i];

		if (e->kind != VDEV_NET || !e->nstats)
			continue;
		memcpy(out[n].name, e->label, sizeof(out[n].name));
		memcpy(out[n].device, e->name, sizeof(out[n].device));
		memcpy(out[n].ifname, e->ifname, sizeof(out[n].ifname));
		out[n].backend = e->bus_or_backend;
		virtio_net_mac(e->net, out[n].mac);
		vnet_stats_read(e->nstats, &out[n].io);
		n++;
	}
	return n;
}
