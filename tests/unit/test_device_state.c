/* The state conformance test: every device kind of the table (src/devices/virtio/kinds.c)
 * through the VMM's own device level (vm_devices_init on a VM built by hand, no KVM
 * needed): a device driven by a guest (tests/unit/vdrv.h) on virtio-mmio, or a PCI NIC
 * (e1000) driven through its BAR, is saved with a request queued and not served (mid-I/O), the VM is destroyed, a fresh VM built from the
 * same options gets the guest memory and the state back, and saving it again gives the
 * same state (but the device generation, which a restore moves on from the device's
 * own). Corrupt states are refused, through the device table and through each kind's own
 * restore, and leave the fresh devices as they were. Specs no kind takes are refused.
 * Also the table's own rules (ids, sizes, hooks) and that every kind with state is
 * exercised: one sample spec per kind below ("@" stands for a scratch path; an AHCI
 * controller is mid-I/O with a command issued in a port's CI, which runs after the
 * restore); a new kind
 * needs one here (the coverage check fails otherwise). And a file saved by an earlier
 * build still loads (the format is the table's). */
#include "check.h"
#include "handvm.h"
#include "devices/ahci.h"
#include "devices/bochs_display.h"
#include "devices/ide.h"
#include "vdrv.h"
#include "devices/e1000.h"
#include "devices/virtio/devstate.h"
#include "devices/virtio/mmio.h"
#include "devices/virtio/net.h"
#include "devices/virtio/scsi.h"
#include "disk/disk.h"
#include "vmm/savestate_file.h"
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MEM (16 << 20)

static const struct sample {
	const char *option, *spec;
} samples[] = {
	{ "disk", "@,format=raw" },
	{ "disk", "@,format=raw,bus=scsi" },
	{ "disk", "@,media=cdrom" },
	{ "disk", ",media=cdrom" },
	{ "net", "user,mac=52:54:00:aa:bb:cc" },
	{ "net", "user,mac=52:54:00:aa:bb:cd,model=e1000" },
	{ "device", "rng" },
	{ "device", "console,socket=@.sock" },
	{ "device", "vport,socket=@.vp.sock,name=org.qemu.guest_agent.0" },
	{ "disk", "@,format=raw,bus=ahci" },
	{ "disk", ",media=cdrom,bus=ahci" },
	{ "device", "virtio-keyboard" },
	{ "device", "virtio-tablet" },
	{ "display", "bochs,vram=4,rom=" },
	{ "device", "balloon,deflate-on-oom=on,free-page-reporting=on" },
	{ "disk", "@,format=raw,bus=ide" },
	{ "disk", ",media=cdrom,bus=ide" },
};
#define NR_SAMPLES (sizeof(samples) / sizeof(samples[0]))

static char scratch[64], scratch2[72], spec[128];
static const char *specs[1] = { spec };
static bool covered[VDEV_KINDS_MAX];

static int kind_index(const struct device_kind *k)
{
	for (int i = 0; device_kinds[i]; i++)
		if (device_kinds[i] == k)
			return i;
	return -1;
}

static void table_rules(void)
{
	int n = 0;

	for (int i = 0; device_kinds[i]; i++, n++) {
		const struct device_kind *k = device_kinds[i];

		CHECK(k->name && k->id != 0 && k->destroy);
		CHECK(device_kind_by_id(k->id) == k); /* ids are unique */
		CHECK(k->state_size <= VDEV_STATE_MAX);
		CHECK(!k->state_size == !k->save && !k->save == !k->restore);
		if (k->bus == DEVICE_BUS_VIRTIO)
			CHECK(k->state_size == 0 || k->state_size >= sizeof(struct virtio_dev_state));
		if (k->option)
			CHECK(k->words && k->parse && k->opts_free && k->create);
		else
			CHECK(!k->parse && !k->create);
	}
	CHECK(n > 0 && n <= VDEV_KINDS_MAX);
	CHECK(!device_kind_by_id(0));
}

/* A VM as vm_create builds it up to the device level, without KVM. */
static struct vm *vm_new(struct vm_config *cfg)
{
	struct vm *vm = handvm_new_devices(cfg, MEM);

	CHECK(vm != NULL);
	return vm;
}

static struct virtio_dev_state *core(struct vdev_entry_state *s)
{
	return (struct virtio_dev_state *)s->dev.bytes;
}

/* A kind with state whose state begins with the virtio core's. */
static bool virtio_state(const struct device_kind *k)
{
	return k && k->save && k->bus == DEVICE_BUS_VIRTIO;
}

/* --- a PCI NIC that is not virtio (e1000), driven through its BAR0 --- */

static uint64_t e1000_bar0(struct vm *vm, struct device_entry *e)
{
	struct vdevs *v = vm->devices_priv;
	uint32_t bar;

	pci_cfg_access(v->pci, pci_dev_devfn(e->pcidev), 0x10, (uint8_t *)&bar, 4, false);
	return bar & ~0xfu;
}

static void e1000_wr(struct vm *vm, struct device_entry *e, uint32_t off, uint32_t val)
{
	bus_dispatch(&vm->mmio, e1000_bar0(vm, e) + off, (uint8_t *)&val, 4, true);
}

/* Mid-I/O: a transmit ring with a packet queued whose end is not written yet (so not
 * taken), a receive ring with buffers, interrupts enabled and one cause pending. */
static void e1000_drive(struct vm *vm, struct device_entry *e)
{
	struct vdevs *v = vm->devices_priv;
	uint16_t cmd = PCI_CMD_MEM | PCI_CMD_IO | 4;
	uint8_t *d = vm->mem->host + VDRV_DATA;
	uint64_t buf = VDRV_DATA + 0x1000;

	/* INTA# on the entry's GSI: the interrupt line register and the ACPI _PRT say so */
	CHECK(e->gsi_allocated && e->gsi >= 5 && e->gsi < 24);
	CHECK_EQ(e->pcidev->cfg[0x3c], e->gsi);
	CHECK_EQ(e->pcidev->cfg[0x3d], 1);
	CHECK_EQ(vm->pci.intx_gsi[e->pcidev->slot], e->gsi);
	pci_cfg_access(v->pci, pci_dev_devfn(e->pcidev), 4, (uint8_t *)&cmd, 2, true);
	memset(d, 0, 256);
	memcpy(d, &buf, 8);
	d[8] = 60;                     /* 60 bytes, no EOP yet */
	e1000_wr(vm, e, E1000_TDBAL, VDRV_DATA);
	e1000_wr(vm, e, E1000_TDLEN, 128);
	e1000_wr(vm, e, E1000_TCTL, TCTL_EN);
	e1000_wr(vm, e, E1000_TDT, 1);
	e1000_wr(vm, e, E1000_RDBAL, VDRV_DATA + 0x800);
	e1000_wr(vm, e, E1000_RDLEN, 128);
	e1000_wr(vm, e, E1000_RDT, 4);
	e1000_wr(vm, e, E1000_RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC);
	e1000_wr(vm, e, E1000_IMS, ICR_RXT0 | ICR_TXDW);
	e1000_wr(vm, e, E1000_ITR, 500);
	e1000_wr(vm, e, E1000_ICS, ICR_LSC);
	e1000_sync(e->priv);
	/* the VM's NIC list shows it like any NIC */
	{
		struct vm_nic_stats ns[4];

		CHECK_EQ(vm_devices_nic_stats(vm, ns, 4), 1);
		CHECK(!strcmp(ns[0].name, "net0") && !strcmp(ns[0].device, "e1000-0"));
		CHECK(!strcmp(ns[0].backend, "user"));
		CHECK(!memcmp(ns[0].mac, "\x52\x54\x00\xaa\xbb\xcd", 6));
	}
}

static void e1000_saved(struct vdev_entry_state *s)
{
	struct e1000_state *st = (void *)s->dev.bytes;

	CHECK_EQ(st->tdt, 1);
	CHECK_EQ(st->tdh, 0);             /* queued, not taken */
	CHECK_EQ(st->rdt, 4);
	CHECK_EQ(st->icr, ICR_LSC);
	CHECK_EQ(st->ims, ICR_RXT0 | ICR_TXDW);
	CHECK_EQ(st->ra[1] & 0xffff, 0xcdbb); /* the MAC given */
	CHECK(st->pci_cfg[4] & PCI_CMD_MEM);
}

/* e1000 states the device must refuse (its restore checks them all first). */
static void e1000_corrupt(struct vdev_entry_state *s, int how)
{
	struct e1000_state *st = (void *)s->dev.bytes;

	switch (how) {
	case 0: st->magic++; break;
	case 1: st->status &= ~STATUS_LU; break;       /* read-only */
	case 2: st->eeprom[0] ^= 1; break;             /* another MAC: other options */
	case 3: st->icr |= 1u << 30; break;            /* no such cause */
	case 4: st->rdlen = 1u << 24; break;           /* past the field */
	case 5: st->tdt = 0x10000; break;
	case 6: st->pci_cfg[0] ^= 1; break;            /* vendor id */
	case 7: st->pci_cfg[0x10] |= 0x4; break;       /* BAR0 says 64-bit */
	case 8: st->ee_reading = 5; break;
	case 9: st->delayed = ICR_LSC; break;
	}
}

/* Equal but for the device generation (a restore moves it on). */
static bool same_state(const struct vm_devices_state *a, const struct vm_devices_state *b)
{
	static struct vm_devices_state x, y;

	x = *a;
	y = *b;
	if (x.n != y.n || x.has_pci != y.has_pci)
		return false;
	for (unsigned i = 0; i < x.n; i++) {
		if (virtio_state(device_kind_by_id(x.e[i].kind)))
			core(&x.e[i])->generation = core(&y.e[i])->generation = 0;
		if (memcmp(&x.e[i], &y.e[i], sizeof(x.e[i])))
			return false;
	}
	return true;
}

/* Core corruptions every kind must refuse (virtio_dev_check). */
static void corrupt(struct virtio_dev_state *c, int how)
{
	switch (how) {
	case 0: c->vq[0].size = 3; break;                       /* not a power of two */
	case 1: c->vq[0].size = 1024; break;                    /* more than offered */
	case 2: c->vq[0].desc_gpa = MEM - 0x100; break;         /* ring outside memory */
	case 3: c->vq[0].avail_gpa |= 1; break;                 /* misaligned */
	case 4: c->driver_features |= 1ULL << 50; break;        /* never offered */
	case 5: c->driver_features &= ~(1ULL << VIRTIO_F_VERSION_1); break;
	case 6: c->status |= 0x100; break;
	case 7: c->isr = 0x80; break;
	case 8: c->vq[VIRTIO_MAX_QUEUES - 1].ready = 1; break;  /* a queue it does not have */
	case 9: c->vq[0].ready = 7; break;
	}
}
#define NR_CORRUPT 10

/* What one kind's state must show (from the former VM-level test): virtio-net keeps the
 * MAC address given and its receive modes. */
static void kind_extras(struct vdevs *v, struct vm_devices_state *st)
{
	for (unsigned i = 0; i < st->n; i++)
		if (!strcmp(v->e[i].kind->name, "virtio-net")) {
			struct virtio_net_state *n = (void *)st->e[i].dev.bytes;

			CHECK_EQ(n->net.cfg.mac[5], 0xcc);
			CHECK_EQ(n->net.promisc, 1);
		}
}

/* The AHCI controller's entry of v, or NULL. */
static struct ahci *ahci_of(struct vdevs *v)
{
	for (unsigned i = 0; i < v->n; i++)
		if (!strcmp(v->e[i].kind->name, "AHCI controller"))
			return v->e[i].priv;
	return NULL;
}

static void ahci_reg(struct ahci *h, unsigned off, uint32_t *v, bool w)
{
	ahci_mmio(h, off, (uint8_t *)v, 4, w);
}

/* Mid-I/O for an AHCI controller (quiesced): port 0 started and a READ DMA EXT of 8
 * sectors issued in slot 0, not run yet. */
static void ahci_prepare(struct vm *vm)
{
	struct ahci *h = ahci_of(vm->devices_priv);
	uint8_t *hdr = vm->mem->host + 0x100000, *t = vm->mem->host + 0x102000;
	uint32_t v, dw0 = 5 | 1u << 16, dw3 = 4095;
	uint64_t ct = 0x102000, buf = VDRV_DATA;

	if (!h)
		return;
	memset(hdr, 0, 32);
	memcpy(hdr, &dw0, 4);
	memcpy(hdr + 8, &ct, 8);
	memset(t, 0, 0x90);
	t[0] = 0x27, t[1] = 0x80, t[2] = 0x25, t[7] = 0x40, t[12] = 8;
	memcpy(t + 0x80, &buf, 8);
	memcpy(t + 0x8c, &dw3, 4);
	v = 0x100000, ahci_reg(h, AHCI_PORT(0) + PX_CLB, &v, true);
	v = 0x101000, ahci_reg(h, AHCI_PORT(0) + PX_FB, &v, true);
	v = PX_CMD_FRE | PX_CMD_ST, ahci_reg(h, AHCI_PORT(0) + PX_CMD, &v, true);
	v = 1, ahci_reg(h, AHCI_PORT(0) + PX_CI, &v, true);
}

/* After the restore and resume: the pending command ran in the fresh controller (a disk
 * read it; an empty CD/DVD drive refused it, the slot staying in CI as after any error). */
static void ahci_after(struct vm *vm)
{
	struct ahci *h = ahci_of(vm->devices_priv);
	uint32_t ci = 1, is = 0;

	if (!h)
		return;
	for (int i = 0; i < 20000 && ci && !(is & PX_IS_TFES); i++) {
		ahci_reg(h, AHCI_PORT(0) + PX_CI, &ci, false);
		ahci_reg(h, AHCI_PORT(0) + PX_IS, &is, false);
		if (ci && !(is & PX_IS_TFES))
			nanosleep(&(struct timespec){ 0, 500000 }, NULL);
	}
	if (h->port[0].drive == AHCI_DISK)
		CHECK(ci == 0 && (is & PX_IS_DHRS) && !(is & PX_IS_FATAL));
	else
		CHECK(ci == 1 && (is & PX_IS_TFES));
}

/* Before the save: a CD/DVD drive gets another medium (2 MiB + 1124 bytes: 1024 blocks and a tail)
 * through the control socket's path (vm_devices_media). */
static void kind_prepare(struct vm *a)
{
	struct vdevs *v = a->devices_priv;
	char err[256];
	int fd;

	ahci_prepare(a);
	for (unsigned i = 0; i < v->n; i++)
		if (v->e[i].kind->media) {
			fd = open(scratch2, O_RDWR | O_CREAT | O_TRUNC, 0644);
			CHECK(fd >= 0 && ftruncate(fd, (2 << 20) + 1024 + 100) == 0);
			close(fd);
			CHECK_EQ(vm_devices_media(a, v->e[i].label, scratch2, false, err,
						  sizeof(err)), 0);
			{
				struct vm_media_info mi;

				CHECK_EQ(vm_devices_media_list(a, &mi, 1), 1);
				CHECK(mi.path && !strcmp(mi.path, scratch2));
				CHECK(!mi.locked && !mi.tray_open);
			}
		}
}

/* The CD/DVD drive's state shows the medium put in before the save, and the drive of VM b
 * holds expect (NULL: nothing): its own before the restore, the saved one after it. */
static void cd_extras(struct vm *b, struct vdevs *v, const struct vm_devices_state *st,
		      const char *expect)
{
	for (unsigned i = 0; i < st->n; i++) {
		const struct scsi_cd_state *c = (const void *)st->e[i].dev.bytes;
		struct vm_media_info mi;

		if (!v->e[i].kind->media)
			continue;
		CHECK_EQ(c->medium, 1);
		CHECK(!strcmp(c->path, scratch2));
		CHECK_EQ(c->bytes, (2 << 20) + 1024); /* the disk layer's 512-byte sectors */
		CHECK_EQ(c->event, MMC_EV_NEW_MEDIA);
		CHECK_EQ(vm_devices_media_list(b, &mi, 1), 1);
		CHECK(expect ? mi.path && !strcmp(mi.path, expect) : !mi.path);
		if (expect) { /* held with a shared lock: other readers, no writer */
			struct disk *d;

			CHECK_EQ(disk_open(expect, "raw", DISK_RDONLY, &d), 0);
			disk_close(d);
			CHECK_EQ(disk_open(expect, "raw", 0, &d), -EBUSY);
		}
	}
}

/* The same kind's own refusals, through the device table. */
static void kind_refusals(struct vm *b, struct vdevs *v, const struct vm_devices_state *st)
{
	static struct vm_devices_state bad;

	for (unsigned i = 0; i < st->n; i++) {
		struct scsi_cd_state *c = (void *)bad.e[i].dev.bytes;

		if (!strcmp(v->e[i].kind->name, "virtio-net")) {
			bad = *st;
			((struct virtio_net_state *)bad.e[i].dev.bytes)->net.active_pairs = 9;
			CHECK_EQ(vm_devices_restore(b, &bad), -EINVAL);
		}
		if (!strcmp(v->e[i].kind->name, "bochs-display")) {
			struct bochs_display_state *d = (void *)bad.e[i].dev.bytes;
			const struct bochs_display_state *g = (const void *)st->e[i].dev.bytes;

			CHECK_EQ(g->dispi[DISPI_XRES], 640); /* the mode display_drive set */
			for (int how = 0; how < 6; how++) {
				bad = *st;
				switch (how) {
				case 0: d->magic ^= 1; break;
				case 1: d->vram_size <<= 1; break;
				case 2: d->dispi[DISPI_BANK] = 64; break; /* 4 MiB: banks 0..63 */
				case 3: d->dispi[DISPI_ENABLE] |= 0x100; break;
				case 4: d->big_endian = 2; break;
				case 5: d->pci_cfg[0x10] |= 0x1; break; /* BAR0 an I/O BAR */
				}
				CHECK_EQ(vm_devices_restore(b, &bad), -EINVAL);
				CHECK_EQ(v->e[i].kind->restore(&v->e[i], bad.e[i].dev.bytes), -EINVAL);
			}
		}
		if (!strcmp(v->e[i].kind->name, "AHCI controller")) {
			struct ahci_state *h = (void *)bad.e[i].dev.bytes;

			CHECK_EQ(((const struct ahci_state *)st->e[i].dev.bytes)->port[0].ci, 1);
			for (int how = 0; how < 6; how++) {
				bad = *st;
				switch (how) {
				case 0: h->nports = 5; break;
				case 1: h->drive[0] ^= 3; break;
				case 2: h->port[0].cmd &= ~PX_CMD_ST; break; /* CI, not started */
				case 3: h->port[0].fb |= 0x10; break;
				case 4: h->cfg[2] ^= 1; break;
				case 5: h->is = 1u << 7; break;
				}
				CHECK_EQ(vm_devices_restore(b, &bad), -EINVAL);
				CHECK_EQ(v->e[i].kind->restore(&v->e[i], bad.e[i].dev.bytes), -EINVAL);
			}
		}
		if (!strcmp(v->e[i].kind->name, "IDE controller")) {
			struct ide_state *h = (void *)bad.e[i].dev.bytes;

			for (int how = 0; how < 6; how++) {
				bad = *st;
				switch (how) {
				case 0: h->drive[0] ^= 3; break;
				case 1: h->ch[0].xfer = X_MAX; break;
				case 2: h->ch[1].end = IDE_WINDOW + 2; break;
				case 3: h->dr[0].multiple = 3; break;
				case 4: h->cfg[2] ^= 1; break;
				case 5: h->ch[0].xfer = X_PIO_IN, h->ch[0].unit = 1; break; /* no slave */
				}
				CHECK_EQ(vm_devices_restore(b, &bad), -EINVAL);
				CHECK_EQ(v->e[i].kind->restore(&v->e[i], bad.e[i].dev.bytes), -EINVAL);
			}
		}
		if (!v->e[i].kind->media)
			continue;
		for (int how = 0; how < 8; how++) {
			bad = *st;
			switch (how) {
			case 0: c->medium = 2; break;
			case 1: c->event = 9; break;
			case 2: c->prevent = 3; break;
			case 3: c->reserved = 1; break;
			case 4: memset(c->path, 'x', sizeof(c->path)); break; /* no NUL */
			case 5: c->bytes += 2048; break;     /* not the image's size */
			case 6: c->medium = 0; break;        /* no medium but a path */
			case 7: strcat(c->path, ".gone"); break; /* no such image */
			}
			CHECK(vm_devices_restore(b, &bad) < 0);
			CHECK(v->e[i].kind->restore(&v->e[i], bad.e[i].dev.bytes) < 0);
		}
	}
}

/* --- a display (bochs-display), programmed through its BAR2 as a driver does --- */
static void display_drive(struct vm *vm, struct device_entry *e)
{
	uint32_t bar2 = 0, cmd = PCI_CMD_MEM;
	const uint16_t regs[][2] = { { DISPI_XRES, 640 }, { DISPI_YRES, 480 }, { DISPI_BPP, 32 },
				     { DISPI_BANK, 5 }, { DISPI_ENABLE, DISPI_ENABLED } };
	struct display_mode m;
	const struct display *d = vm_display_get(vm);

	pci_cfg_access(e->pcidev->host, pci_dev_devfn(e->pcidev), 0x18, (uint8_t *)&bar2, 4, false);
	pci_cfg_access(e->pcidev->host, pci_dev_devfn(e->pcidev), 4, (uint8_t *)&cmd, 2, true);
	for (unsigned k = 0; k < sizeof(regs) / sizeof(regs[0]); k++) {
		uint16_t v = regs[k][1];

		bus_dispatch(&vm->mmio, (bar2 & ~0xfu) + BOCHS_DISPI_OFF + 2 * regs[k][0],
			     (uint8_t *)&v, 2, true);
	}
	CHECK(d != NULL);
	CHECK(d && d->ops->get_mode(d->opaque, &m) == 0 && m.width == 640);
}

static void one_sample(const struct sample *s)
{
	static struct vm_devices_state st, fresh, again, bad;
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM, .serial = VM_SERIAL_NONE };
	struct vdevs *v;
	struct vm *a, *b;
	uint8_t *saved_mem = malloc(MEM);
	char *at;
	unsigned i;
	int fd;

	/* the spec, with the scratch path for "@" */
	at = strchr(s->spec, '@');
	if (at)
		snprintf(spec, sizeof(spec), "%.*s%s%s", (int)(at - s->spec), s->spec, scratch,
			 at + 1);
	else
		snprintf(spec, sizeof(spec), "%s", s->spec);
	if (!strcmp(s->option, "disk")) {
		cfg.disks = specs, cfg.nr_disks = 1;
		fd = open(scratch, O_RDWR | O_CREAT | O_TRUNC, 0644);
		CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
		close(fd);
	} else if (!strcmp(s->option, "net")) {
		cfg.nets = specs, cfg.nr_nets = 1;
	} else if (!strcmp(s->option, "display")) {
		cfg.displays = specs, cfg.nr_displays = 1;
	} else {
		cfg.devices = specs, cfg.nr_devices = 1;
	}
	a = vm_new(&cfg);
	v = a->devices_priv;
	CHECK(v && v->n > 0);
	if (!v || !v->n)
		goto out;
	/* a driver sets every device up; one buffer is queued on queue 0, not served */
	CHECK_EQ(vm_devices_quiesce(a), 0);
	for (i = 0; i < v->n; i++) {
		struct device_entry *e = &v->e[i];
		struct vdrv d = { .bus = &a->mmio, .mem = a->mem };
		struct vdrv_buf buf = { VDRV_DATA, 512, true };

		covered[kind_index(e->kind)] = true;
		if (!strcmp(e->kind->name, "e1000"))
			e1000_drive(a, e);
		if (!strcmp(e->kind->name, "bochs-display"))
			display_drive(a, e);
		if (!e->mmio)
			continue;
		d.base = e->mmio->base;
		CHECK_EQ(vdrv_setup(&d, ~0ULL, e->dev->nq), 15);
		vdrv_submit(&d, 0, &buf, 1);
	}
	kind_prepare(a);
	CHECK_EQ(vm_devices_save(a, &st), 0);
	CHECK_EQ(st.n, v->n);
	for (i = 0; i < st.n; i++) {
		CHECK_EQ(st.e[i].kind, v->e[i].kind->id);
		if (!strcmp(v->e[i].kind->name, "e1000"))
			e1000_saved(&st.e[i]);
		if (!virtio_state(v->e[i].kind))
			continue;
		if (v->e[i].dev) {
			CHECK_EQ(core(&st.e[i])->status, 15);
			CHECK_EQ(core(&st.e[i])->vq[0].last_avail, 0); /* queued, not taken */
			CHECK_EQ(*(uint16_t *)(a->mem->host + vdrv_ring(0, 1) + 2), 1);
		}
		for (size_t j = v->e[i].kind->state_size; j < VDEV_STATE_MAX; j++)
			if (st.e[i].dev.bytes[j]) {
				CHECK(!"the state is zero after state_size bytes");
				break;
			}
	}
	kind_extras(v, &st);
	memcpy(saved_mem, a->mem->host, MEM);
	handvm_free_devices(a); /* still quiesced: nothing more is taken from the rings */

	b = vm_new(&cfg);
	v = b->devices_priv;
	memcpy(b->mem->host, saved_mem, MEM);
	CHECK_EQ(vm_devices_save(b, &fresh), 0);
	/* refused, and nothing changes: the device table's checks ... */
	bad = st;
	bad.n = st.n + 1;
	CHECK_EQ(vm_devices_restore(b, &bad), -EINVAL);
	for (i = 0; i < st.n; i++) {
		bad = st;
		bad.e[i].kind += 100; /* another kind */
		CHECK_EQ(vm_devices_restore(b, &bad), -EINVAL);
		bad = st;
		bad.e[i].on_pci = 1; /* it was on virtio-mmio */
		CHECK_EQ(vm_devices_restore(b, &bad), -EINVAL);
		if (!v->e[i].kind->save || !v->e[i].dev)
			continue;
		for (int how = 0; how < NR_CORRUPT; how++) {
			bad = st;
			if (virtio_state(v->e[i].kind))
				corrupt(core(&bad.e[i]), how);
			else if (!strcmp(v->e[i].kind->name, "e1000"))
				e1000_corrupt(&bad.e[i], how);
			else
				CHECK(!"a kind without corruptions to refuse");
			CHECK_EQ(vm_devices_restore(b, &bad), -EINVAL);
			/* ... and the kind's own restore */
			CHECK_EQ(v->e[i].kind->restore(&v->e[i], bad.e[i].dev.bytes), -EINVAL);
		}
	}
	kind_refusals(b, v, &st);
	CHECK_EQ(vm_devices_save(b, &again), 0);
	CHECK(same_state(&fresh, &again));
	cd_extras(b, v, &st, strchr(s->spec, '@') ? scratch : NULL); /* its own medium */
	/* the good state: saved again, it is the same */
	CHECK_EQ(vm_devices_quiesce(b), 0);
	CHECK_EQ(vm_devices_restore(b, &st), 0);
	CHECK_EQ(vm_devices_save(b, &again), 0);
	CHECK(same_state(&st, &again));
	cd_extras(b, v, &st, scratch2); /* the saved VM's */
	for (i = 0; i < st.n; i++)
		if (virtio_state(v->e[i].kind) && v->e[i].dev)
			CHECK(core(&again.e[i])->generation != core(&fresh.e[i])->generation);
	CHECK_EQ(vm_devices_resume(b), 0);
	ahci_after(b);
	handvm_free_devices(b);
out:
	free(saved_mem);
	unlink(scratch);
	unlink(scratch2);
}

static void test_every_kind(void)
{
	table_rules();
	snprintf(scratch, sizeof(scratch), "/tmp/vsrv-devstate-test.%d", getpid());
	snprintf(scratch2, sizeof(scratch2), "%s.cd2", scratch);
	for (unsigned i = 0; i < NR_SAMPLES; i++)
		one_sample(&samples[i]);
	for (int i = 0; device_kinds[i]; i++) {
		if (device_kinds[i]->state_size && !covered[i])
			printf("# %s: no sample spec builds one\n", device_kinds[i]->name);
		CHECK(!device_kinds[i]->state_size || covered[i]);
	}
}

/* A file saved by the build that introduced the save format (fuzz/corpus/savestate/
 * devices-4m: a 1 MiB raw disk "small.raw" on virtio-pci and virtio-rng on virtio-mmio)
 * still loads into this build's devices, and they save the same state again: the device
 * table, its kind ids and state layouts are the file's. */
static void test_old_file(void)
{
	static struct vm_devices_state again;
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = 4 << 20, .serial = VM_SERIAL_NONE };
	const char *dev[1] = { "rng" }, *disk[1] = { spec };
	struct savestate *st = NULL;
	const char *why = "";
	char dir[64];
	struct vm *vm;
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/vsrv-devstate-old.%d", getpid());
	CHECK_EQ(mkdir(dir, 0700), 0);
	snprintf(spec, sizeof(spec), "%s/small.raw", dir);
	fd = open(spec, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), ",format=raw,transport=pci");
	cfg.disks = disk, cfg.nr_disks = 1;
	cfg.devices = dev, cfg.nr_devices = 1;
	fd = open("fuzz/corpus/savestate/devices-4m", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(savestate_read(fd, &st, &why), 0);
	if (!st) {
		close(fd);
		return;
	}
	vm = vm_new(&cfg);
	CHECK_EQ(savestate_load_memory(fd, st, vm->mem->host, &why), 0);
	CHECK_EQ(st->devices->n, 2);
	CHECK_EQ(vm_devices_restore(vm, st->devices), 0);
	CHECK_EQ(vm_devices_save(vm, &again), 0);
	CHECK(same_state(st->devices, &again));
	handvm_free_devices(vm);
	savestate_free(st);
	close(fd);
	*strchr(spec, ',') = 0;
	unlink(spec);
	rmdir(dir);
}

/* Specs no kind claims, or that their kind refuses: the device level fails and leaves
 * nothing behind. */
static void test_refused_specs(void)
{
	static const struct sample bad[] = {
		{ "device", "gpu" }, { "device", "" }, { "device", "rng,socket=x" },
		{ "device", "console" }, { "disk", "x.raw,bus=floppy" },
		{ "disk", "x.iso,media=cdrom,bus=virtio-blk" }, { "disk", ",media=disk" },
		{ "disk", "x.iso,media=tape" }, { "net", "tap=" },
		{ "net", "user,model=rtl8139" }, { "net", "tap=t0,queues=2,model=e1000" },
		{ "net", "user,model=e1000,transport=mmio" },
	};
	struct vm vm0 = { .vm_fd = -1 };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM };
		struct vm vm = vm0;

		snprintf(spec, sizeof(spec), "%s", bad[i].spec);
		if (!strcmp(bad[i].option, "disk"))
			cfg.disks = specs, cfg.nr_disks = 1;
		else if (!strcmp(bad[i].option, "net"))
			cfg.nets = specs, cfg.nr_nets = 1;
		else
			cfg.devices = specs, cfg.nr_devices = 1;
		vm.cfg = &cfg;
		bus_init(&vm.pio);
		bus_init(&vm.mmio);
		pthread_mutex_init(&vm.irq_lock, NULL);
		vm.cmdline = strdup("");
		CHECK_EQ(guest_mem_create(MEM, &vm.mem), 0);
		CHECK_EQ(vm_devices_init(&vm), -EINVAL);
		CHECK(vm.devices_priv == NULL);
		guest_mem_destroy(vm.mem);
		bus_destroy(&vm.mmio);
		bus_destroy(&vm.pio);
		pthread_mutex_destroy(&vm.irq_lock);
		free(vm.cmdline);
	}
}

int main(void)
{
	RUN(test_refused_specs);
	RUN(test_every_kind);
	RUN(test_old_file);
	return check_done();
}
