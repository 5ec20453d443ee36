/* The VMM's device level (vm_devices_init/vm_devices_exit, see vm.h): walks the table of
 * device kinds (kind.h, kinds.c) to build the devices named by --disk, --net and --device,
 * puts each on its transport (virtio-mmio, announced on the kernel command line, or
 * virtio-pci behind the host bridge), and wires notifications to KVM ioeventfds and
 * interrupts to irqfds / MSI routes. Knows no kind by name. */
#include "devices/ide.h"
#include "devices/pci.h"
#include "devices/pci_rom.h"
#include "devices/virtio/kind.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/options.h"
#include "devices/virtio/pci_transport.h"
#include "disk/disk.h"
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

int devices_pci_host(struct vdevs *v, struct pci_host **out)
{
	struct vm *vm = v->vm;
	int ret;

	if (!v->pci && vm->pci_host_fw) {
		/* the firmware layout's host bridge (its level owns it) */
		v->pci = vm->pci_host_fw;
	} else if (!v->pci) {
		ret = pci_host_create(&vm->pio, &vm->mmio, ECAM_BASE, PCI_BAR_BASE, PCI_BAR_END,
				      &v->pci);
		if (ret)
			return ret;
		/* For the ACPI tables (a root bridge, MCFG, the INTx routes) and the e820 map. */
		vm->pci = (struct vm_pci_info){ ECAM_BASE, PCI_BAR_BASE, PCI_BAR_END, { 0 } };
	}
	*out = v->pci;
	return 0;
}

/* A DEVICE_BUS_PCI device: behind the host bridge, INTA# wired to e->gsi (the interrupt
 * line register says so, and the ACPI _PRT). */
static int pci_fn_attach(struct vdevs *v, struct device_entry *e)
{
	struct pci_host *h;
	int ret = devices_pci_host(v, &h);

	if (ret)
		return ret;
	e->pcidev->cfg[0x3c] = (uint8_t)e->gsi;
	e->pcidev->cfg[0x3d] = 1; /* INTA# */
	if (e->rom)
		pci_rom_attach(e->pcidev, e->rom);
	ret = pci_host_add(h, e->pcidev);
	if (ret) {
		vsrv_log("%s: no free PCI slot or BAR space", e->name);
		return ret;
	}
	e->pcidev_added = true;
	v->vm->pci.intx_gsi[e->pcidev->slot] = (uint8_t)e->gsi;
	return 0;
}

int devices_attach(struct vdevs *v, struct device_entry *e)
{
	struct vm *vm = v->vm;
	struct pci_host *h;
	char word[96];
	int ret;

	/* Firmware finds PCI devices only: every device goes there (vm->pci_host_fw, the
	 * firmware layout's host bridge, which the firmware level owns; devices_pci_host). */
	if (e->transport == VOPT_PCI || vm->pci_host_fw) {
		ret = devices_pci_host(v, &h);
		if (ret)
			return ret;
		return virtio_pci_create_rom(e->dev, h, e->kind->pci_class, e->rom, &e->pci);
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

struct device_entry *devices_entry_new(struct vdevs *v)
{
	struct device_entry *e;

	if (v->n == VDEVS_MAX)
		return NULL;
	e = &v->e[v->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

static int kind_index(const struct device_kind *k)
{
	for (int i = 0; device_kinds[i]; i++)
		if (device_kinds[i] == k)
			return i;
	return -1;
}

void *devices_kind_priv(struct vdevs *v, const struct device_kind *k)
{
	int i = kind_index(k);

	if (i < 0 || i >= VDEV_KINDS_MAX || !k->vm_priv_size)
		return NULL;
	if (!v->kind_priv[i])
		v->kind_priv[i] = calloc(1, k->vm_priv_size);
	return v->kind_priv[i];
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

int devices_open_disk(struct vdevs *v, struct device_entry *e, const struct vopt_disk *o,
		      unsigned idx)
{
	unsigned flags = 0;
	int ret;

	if (o->readonly)
		flags |= DISK_RDONLY;
	if (o->nocache)
		flags |= DISK_NOCACHE;
	/* a migration's destination takes the disks' locks when the source hands them over
	 * (vm_devices_reopen_disks): the source still runs on them now */
	if (v->vm->cfg->incoming)
		flags |= DISK_NOLOCK;
	ret = disk_open(o->path, o->format, flags, &e->disk);
	if (ret == -EBUSY)
		same_disk_twice(v, o->path, idx);
	if (ret)
		return ret; /* the disk layer logged the reason, naming the file */
	snprintf(e->label, sizeof(e->label), "disk%u", idx);
	return 0;
}

const struct device_kind *device_kind_by_id(uint32_t id)
{
	for (int i = 0; id && device_kinds[i]; i++)
		if (device_kinds[i]->id == id)
			return device_kinds[i];
	return NULL;
}

/* The word of spec that selects its kind: the first item of a --device spec, the value of
 * a --disk spec's bus= item or "cdrom" for one with media=cdrom, of a --net spec's model=
 * item; "" for none. */
static void spec_word(const char *option, const char *spec, char *w, size_t n)
{
	const char *p = NULL, *end;

	if (!strcmp(option, "device") || !strcmp(option, "display")) {
		p = spec;
	} else if (!strcmp(option, "disk") || !strcmp(option, "net")) {
		const char *key = option[0] == 'd' ? "bus=" : "model=";

		/* a --net spec's items come in any order; a --disk's first is its path */
		if (option[0] == 'n' && !strncmp(spec, key, strlen(key)))
			p = spec + strlen(key);
		for (const char *c = strchr(spec, ','); c; c = strchr(c + 1, ','))
			if (!strncmp(c + 1, key, strlen(key)))
				p = c + 1 + strlen(key);
		if (option[0] == 'd')
			for (const char *c = strchr(spec, ','); c; c = strchr(c + 1, ','))
				if (!strncmp(c + 1, "media=cdrom", 11) && (!c[12] || c[12] == ','))
					p = "cdrom";
	}
	if (!p)
		p = "";
	end = strchrnul(p, ',');
	snprintf(w, n, "%.*s", (int)(end - p), p);
}

static const struct device_kind *kind_for_word(const char *option, const char *w)
{
	for (int i = 0; device_kinds[i]; i++) {
		const struct device_kind *k = device_kinds[i];

		if (!k->option || strcmp(k->option, option) || !k->words)
			continue;
		for (const char *const *x = k->words; *x; x++)
			if (!strcmp(*x, w))
				return k;
	}
	return NULL;
}

const struct device_kind *device_kind_for(const char *option, const char *spec)
{
	const struct device_kind *k;
	char w[64], bus[64], bw[80];

	spec_word(option, spec, w, sizeof(w));
	/* a CD/DVD drive on a bus whose kind claims "BUS-cdrom" (ahci-cdrom), else "cdrom" */
	if (!strcmp(w, "cdrom") && strstr(spec, ",bus=")) {
		const char *b = strstr(spec, ",bus=") + 5;

		snprintf(bus, sizeof(bus), "%.*s", (int)(strchrnul(b, ',') - b), b);
		snprintf(bw, sizeof(bw), "%s-cdrom", bus);
		if (*bus && (k = kind_for_word(option, bw)))
			return k;
	}
	return kind_for_word(option, w);
}

/* No kind takes spec: one line with the syntax of every kind of the option. */
static int unknown_spec(const char *option, const char *spec)
{
	char usage[512] = "";
	size_t len = 0;

	for (int i = 0; device_kinds[i]; i++) {
		const struct device_kind *k = device_kinds[i];

		if (k->option && !strcmp(k->option, option) && k->usage && len < sizeof(usage))
			len += snprintf(usage + len, sizeof(usage) - len, "%s%s", len ? " or " : "",
					k->usage);
	}
	vsrv_log("--%s %s: expected %s", option, spec, usage);
	return -EINVAL;
}

static int add_spec(struct vdevs *v, const char *option, const char *spec, unsigned idx)
{
	const struct device_kind *k = device_kind_for(option, spec);
	struct device_entry *e;
	void *opts = NULL;
	int ret;

	if (!k)
		return unknown_spec(option, spec);
	ret = k->parse(spec, &opts);
	if (ret)
		return ret;
	e = devices_entry_new(v);
	ret = -ENOSPC;
	if (e) {
		e->kind = k;
		ret = 0;
		if (k->bus == DEVICE_BUS_PCI) {
			ret = vm_irq_alloc(v->vm, &e->gsi);
			if (ret)
				vsrv_log("--%s %s: no free interrupt line", option, spec);
			e->gsi_allocated = !ret;
		}
		if (!ret)
			ret = k->create(v, e, opts, idx);
	}
	if (!ret && k->bus == DEVICE_BUS_VIRTIO)
		ret = devices_attach(v, e);
	else if (!ret && k->bus == DEVICE_BUS_PCI)
		ret = pci_fn_attach(v, e);
	k->opts_free(opts);
	return ret;
}

int devices_parse_disk(const char *spec, void **opts)
{
	struct vopt_disk *o = malloc(sizeof(*o));
	int ret;

	if (!o)
		return -ENOMEM;
	ret = vopt_parse_disk(spec, o);
	if (ret) {
		free(o);
		return ret;
	}
	*opts = o;
	return 0;
}

void devices_free_disk_opts(void *opts)
{
	if (opts)
		vopt_disk_free(opts);
	free(opts);
}

int devices_check_disk(const void *opts)
{
	const struct vopt_disk *o = opts;
	struct stat st;

	if (stat(o->path, &st) < 0) {
		vsrv_log("disk %s: %s", o->path, strerror(errno));
		return -errno;
	}
	return 0;
}

int vm_devices_check(const struct vm_config *c)
{
	static const char *const options[] = { "disk", "net", "device", "display" };
	const char *const *specs[] = { c->disks, c->nets, c->devices, c->displays };
	const unsigned counts[] = { c->nr_disks, c->nr_nets, c->nr_devices, c->nr_displays };
	int ret = 0;

	for (unsigned o = 0; o < 4 && !ret; o++)
		for (unsigned i = 0; i < counts[o] && !ret; i++) {
			const struct device_kind *k = device_kind_for(options[o], specs[o][i]);
			void *opts = NULL;

			if (!k)
				return unknown_spec(options[o], specs[o][i]);
			ret = k->parse(specs[o][i], &opts);
			if (ret)
				return ret;
			if (k->check)
				ret = k->check(opts);
			k->opts_free(opts);
		}
	return ret;
}

bool vm_devices_have_media(const struct vm_config *c)
{
	for (unsigned i = 0; i < c->nr_disks; i++) {
		const struct device_kind *k = device_kind_for("disk", c->disks[i]);

		if (k && k->media)
			return true;
	}
	return false;
}

bool vm_devices_serve_files(const struct vm_config *c)
{
	bool tftp = false;

	for (unsigned i = 0; i < c->nr_nets && !tftp; i++) {
		struct vopt_net o;

		if (vopt_parse_net(c->nets[i], &o))
			continue;
		tftp = o.tftp != NULL;
		vopt_net_free(&o);
	}
	return tftp;
}

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

static int h_irq_line(void *vm, uint32_t gsi, int level)
{
	return vm_irq_line(vm, gsi, level);
}

int vm_devices_init(struct vm *vm)
{
	const struct vm_config *c = vm->cfg;
	struct vdevs *v;
	unsigned i;
	int ret = 0;

	if (!c->nr_disks && !c->nr_nets && !c->nr_devices && !c->nr_displays)
		return 0;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->host.mem = vm->mem;
	v->host.mmio = &vm->mmio;
	v->host.pio = &vm->pio;
	v->host.vm = vm;
	if (vm->vm_fd >= 0) { /* a VM built by hand without KVM (tests): bus kicks only */
		v->host.ioeventfd = h_ioeventfd;
		v->host.irqfd = h_irqfd;
		v->host.msi_route = h_msi_route;
		v->host.irq_line = h_irq_line;
	}
	vm->devices_priv = v;
	for (i = 0; i < c->nr_disks && !ret; i++)
		ret = add_spec(v, "disk", c->disks[i], i);
	for (i = 0; i < c->nr_nets && !ret; i++)
		ret = add_spec(v, "net", c->nets[i], i);
	for (i = 0; i < c->nr_devices && !ret; i++)
		ret = add_spec(v, "device", c->devices[i], i);
	for (i = 0; i < c->nr_displays && !ret; i++)
		ret = add_spec(v, "display", c->displays[i], i);
	for (i = 0; device_kinds[i] && !ret; i++)
		if (device_kinds[i]->finish)
			ret = device_kinds[i]->finish(v);
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
	for (i = v->n; i-- > 0;) {
		struct device_entry *e = &v->e[i];

		virtio_pci_destroy(e->pci);
		virtio_mmio_destroy(e->mmio);
		if (e->pcidev_added)
			pci_host_remove(v->pci, e->pcidev);
		if (e->pcidev_added && e->pcidev->slot < 32)
			vm->pci.intx_gsi[e->pcidev->slot] = 0;
		if (e->gsi_allocated)
			vm_irq_free(vm, e->gsi);
		if (e->kind)
			e->kind->destroy(v, e);
		disk_close(e->disk);
		pci_rom_free(e->rom);
	}
	if (v->pci != vm->pci_host_fw)
		pci_host_destroy(v->pci); /* the firmware's host bridge is the firmware level's */
	for (i = 0; i < VDEV_KINDS_MAX; i++)
		free(v->kind_priv[i]);
	free(v);
	vm->devices_priv = NULL;
}

unsigned vm_devices_disk_stats(struct vm *vm, struct vm_disk_stats *out, unsigned max)
{
	struct vdevs *v = vm->devices_priv;
	unsigned i, n = 0;

	for (i = 0; v && i < v->n && n < max; i++) {
		struct device_entry *e = &v->e[i];

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
		struct device_entry *e = &v->e[i];

		if (!e->nstats)
			continue;
		memcpy(out[n].name, e->label, sizeof(out[n].name));
		memcpy(out[n].device, e->name, sizeof(out[n].device));
		memcpy(out[n].ifname, e->ifname, sizeof(out[n].ifname));
		out[n].backend = e->bus_or_backend;
		memset(out[n].mac, 0, sizeof(out[n].mac));
		if (e->kind->mac)
			e->kind->mac(e, out[n].mac);
		vnet_stats_read(e->nstats, &out[n].io);
		n++;
	}
	return n;
}

unsigned vm_devices_media_list(struct vm *vm, struct vm_media_info *out, unsigned max)
{
	struct vdevs *v = vm->devices_priv;
	unsigned i, n = 0;

	for (i = 0; v && i < v->n && n < max; i++) {
		struct device_entry *e = &v->e[i];

		if (!e->kind || !e->kind->media_info)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		memcpy(out[n].drive, e->label, sizeof(out[n].drive));
		memcpy(out[n].device, e->name, sizeof(out[n].device));
		e->kind->media_info(e, &out[n]);
		n++;
	}
	return n;
}

int vm_devices_media(struct vm *vm, const char *drive, const char *path, bool force, char *err,
		     size_t errlen)
{
	struct vdevs *v = vm->devices_priv;
	struct device_entry *found = NULL;
	unsigned i, drives = 0;

	for (i = 0; v && i < v->n; i++) {
		struct device_entry *e = &v->e[i];

		if (!e->kind || !e->kind->media)
			continue;
		drives++;
		if (!drive || !strcmp(drive, e->label))
			found = e;
	}
	if (!drives) {
		snprintf(err, errlen, "the VM has no drive with removable media (--cdrom)");
		return -ENOENT;
	}
	if (!drive && drives > 1) {
		snprintf(err, errlen, "the VM has %u CD/DVD drives: say which (\"drive\")", drives);
		return -EINVAL;
	}
	if (!found) {
		snprintf(err, errlen, "no CD/DVD drive %s", drive);
		return -ENOENT;
	}
	return found->kind->media(v, found, path, force, err, errlen);
}

extern const struct device_kind virtio_scsi_kind, scsi_cd_kind, virtio_net_kind, e1000_kind;
extern const struct device_kind ide_kind, ide_cd_kind, ide_disk_kind;

/* An IDE drive's OpenFirmware path (SeaBIOS's build_ata_path: channel and master/slave),
 * or false for another entry. */
static bool ide_path(const struct vdevs *v, const struct device_entry *e, int what, FILE *f)
{
	const struct ide *d = NULL;

	if (!((what == VM_BOOT_DISK && e->kind == &ide_disk_kind) ||
	      (what == VM_BOOT_CDROM && e->kind == &ide_cd_kind)))
		return false;
	for (unsigned i = 0; i < v->n; i++)
		if (v->e[i].kind == &ide_kind)
			d = v->e[i].priv;
	for (unsigned u = 0; d && u < IDE_UNITS; u++)
		if (e->dstats == &d->unit[u].st) {
			fprintf(f, "/pci@i0cf8/ide@%x/drive@%x/disk@%x\n", d->pci.slot, u / 2, u % 2);
			return true;
		}
	return false;
}

unsigned vm_devices_ofw_paths(struct vm *vm, int what, FILE *f)
{
	struct vdevs *v = vm->devices_priv;
	unsigned i, n = 0, t, l;
	int scsi_slot = -1;

	if (!v)
		return 0;
	for (i = 0; i < v->n; i++)
		if (v->e[i].kind == &virtio_scsi_kind && v->e[i].pci)
			scsi_slot = (int)v->e[i].pci->pci.slot;
	for (i = 0; i < v->n; i++) {
		const struct device_entry *e = &v->e[i];
		bool scsi = e->bus_or_backend && !strcmp(e->bus_or_backend, "scsi") &&
			    sscanf(e->name, "virtio-scsi %u:%u", &t, &l) == 2 && scsi_slot >= 0;

		if (what == VM_BOOT_DISK && e->pci && e->bus_or_backend &&
		    !strcmp(e->bus_or_backend, "virtio-blk"))
			fprintf(f, "/pci@i0cf8/scsi@%x/disk@0,0\n", e->pci->pci.slot);
		else if (scsi && (what == VM_BOOT_CDROM) == (e->kind == &scsi_cd_kind) &&
			 (what == VM_BOOT_DISK || what == VM_BOOT_CDROM))
			fprintf(f, "/pci@i0cf8/scsi@%x/channel@0/disk@%x,%x\n", scsi_slot, t, l);
		else if (what == VM_BOOT_NET && e->kind == &virtio_net_kind && e->pci)
			/* QEMU's path of a NIC with a bootindex (its ROM: SeaBIOS's *@S) */
			fprintf(f, "/pci@i0cf8/ethernet@%x/ethernet-phy@0\n", e->pci->pci.slot);
		else if (what == VM_BOOT_NET && e->kind == &e1000_kind && e->pcidev_added)
			fprintf(f, "/pci@i0cf8/ethernet@%x/ethernet-phy@0\n", e->pcidev->slot);
		else if (!ide_path(v, e, what, f))
			continue;
		n++;
	}
	return n;
}

int vm_devices_balloon(struct vm *vm, const uint64_t *target, struct vballoon_info *out)
{
	struct vdevs *v = vm->devices_priv;

	for (unsigned i = 0; v && i < v->n; i++)
		if (v->e[i].kind && v->e[i].kind->balloon)
			return v->e[i].kind->balloon(&v->e[i], target, out);
	return -ENOENT;
}
