/* vm_devices_save / vm_devices_restore (devstate.h) on VMs made by vm_create with KVM: a
 * virtio-blk on virtio-mmio, virtio-rng on virtio-pci, a SCSI disk behind virtio-scsi on
 * virtio-pci and a virtio-console. The test plays the guest through the VM's buses (the
 * vCPUs never run). The guest memory and the device state are saved, the VM destroyed, a
 * VM created from the same configuration gets both back, and a request queued at the
 * save is served there. Needs /dev/kvm (skips without). */
#include "check.h"
#include "vdrv.h"
#include "devices/virtio/devstate.h"
#include "devices/virtio/net.h"
#include "devices/virtio/blk.h"
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEM (32 << 20)
#define MMIO0 0xd0000000ULL
#define ECAM 0xe0000000ULL
#define HDR (VDRV_DATA)
#define STATUS (VDRV_DATA + 0x100)
#define BUF (VDRV_DATA + 0x1000)

static char disk1[64], disk2[64], sock[64], dspec[2][128], devspec[2][128];
static const char *disks[2] = { dspec[0], dspec[1] }, *devs[2] = { devspec[0], devspec[1] };
static const char *nets[1] = { "user,mac=52:54:00:aa:bb:cc" };

static void cfg_init(struct vm_config *c)
{
	*c = (struct vm_config){ .kernel = "build/vmm-guests/hello.elf", .nr_cpus = 1,
				 .mem_size = MEM, .serial = VM_SERIAL_NONE, .disks = disks,
				 .nr_disks = 2, .devices = devs, .nr_devices = 2, .nets = nets,
				 .nr_nets = 1 };
}

static void ecam_wr(struct vm *vm, unsigned slot, unsigned off, unsigned len, uint32_t val)
{
	bus_dispatch(&vm->mmio, ECAM + (slot << 15) + off, (uint8_t *)&val, len, true);
}

static uint32_t ecam_rd(struct vm *vm, unsigned slot, unsigned off, unsigned len)
{
	uint32_t x = 0;

	bus_dispatch(&vm->mmio, ECAM + (slot << 15) + off, (uint8_t *)&x, len, false);
	return x;
}

static void blk_req(struct vdrv *v, uint32_t type, uint64_t sector, bool wait)
{
	uint32_t *h = (uint32_t *)(v->mem->host + HDR);
	struct vdrv_buf b[3] = { { HDR, 16, false }, { BUF, 4096, type == 0 },
				 { STATUS, 1, true } };

	h[0] = type;
	h[1] = 0;
	*(uint64_t *)(h + 2) = sector;
	v->mem->host[STATUS] = 0xee;
	vdrv_submit(v, 0, b, 3);
	if (wait)
		CHECK(vdrv_wait(v, 0, NULL) >= 0);
}

static void test_vm_save_restore(void)
{
	struct vm_devices_state *st = calloc(1, sizeof(*st)), *bad = calloc(1, sizeof(*bad));
	struct vm_config cfg;
	struct vm *a = NULL, *b = NULL;
	struct vdrv vb, vr;
	uint8_t *saved_mem = malloc(MEM);
	uint32_t bar;
	unsigned i, bad_net = 0;
	int fd;

	snprintf(disk1, sizeof(disk1), "/tmp/vsrv-vmstate-1.%d", getpid());
	snprintf(disk2, sizeof(disk2), "/tmp/vsrv-vmstate-2.%d", getpid());
	snprintf(sock, sizeof(sock), "/tmp/vsrv-vmstate-con.%d", getpid());
	for (i = 0; i < 2; i++) {
		fd = open(i ? disk2 : disk1, O_RDWR | O_CREAT | O_TRUNC, 0644);
		CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
		close(fd);
	}
	snprintf(dspec[0], sizeof(dspec[0]), "%s,format=raw", disk1);
	snprintf(dspec[1], sizeof(dspec[1]), "%s,format=raw,bus=scsi,transport=pci", disk2);
	snprintf(devspec[0], sizeof(devspec[0]), "rng,transport=pci");
	snprintf(devspec[1], sizeof(devspec[1]), "console,socket=%s", sock);
	cfg_init(&cfg);
	CHECK_EQ(vm_create(&cfg, &a), 0);
	if (!a)
		goto out;
	/* virtio-blk at the first virtio-mmio window: a write served before the save */
	vb = (struct vdrv){ .bus = &a->mmio, .mem = a->mem, .base = MMIO0 };
	CHECK_EQ(vdrv_rd(&vb, 8, 4), VIRTIO_ID_BLOCK);
	CHECK_EQ(vdrv_setup(&vb, ~0ULL, 1), 15);
	for (i = 0; i < 4096; i++)
		a->mem->host[BUF + i] = (uint8_t)(i * 5 + 1);
	blk_req(&vb, 1, 16, true);
	CHECK_EQ(a->mem->host[STATUS], 0);
	/* virtio-rng in PCI slot 1 with memory decoding on; the SCSI controller in slot 2 */
	CHECK_EQ(ecam_rd(a, 1, 2, 2), 0x1040 + VIRTIO_ID_RNG);
	bar = ecam_rd(a, 1, 0x10, 4) & ~0xfu;
	ecam_wr(a, 1, 4, 2, PCI_CMD_MEM | 4);
	vr = (struct vdrv){ .bus = &a->mmio, .mem = a->mem, .base = bar, .pci = true };
	CHECK_EQ(vdrv_rd(&vr, 0x12, 2), 1); /* num_queues */
	CHECK_EQ(ecam_rd(a, 2, 2, 2), 0x1040 + VIRTIO_ID_SCSI);
	/* queued at the save: a read of what was written */
	CHECK_EQ(vm_devices_quiesce(a), 0);
	memset(a->mem->host + BUF, 0, 4096);
	blk_req(&vb, 0, 16, false);
	CHECK_EQ(vm_devices_save(a, st), 0);
	CHECK_EQ(st->n, 6); /* blk, the SCSI disk, rng, console, net, the SCSI controller */
	CHECK_EQ(st->has_pci, 1);
	for (i = 0; i < st->n && strcmp(device_kind_by_id(st->e[i].kind)->name, "virtio-net"); i++)
		;
	CHECK(i < st->n);
	if (i < st->n) {
		CHECK_EQ(((struct virtio_net_state *)st->e[i].dev.bytes)->net.cfg.mac[5], 0xcc);
		CHECK_EQ(((struct virtio_net_state *)st->e[i].dev.bytes)->net.promisc, 1);
		bad_net = i;
	}
	CHECK_EQ(((struct virtio_blk_state *)st->e[0].dev.bytes)->dev.vq[0].last_avail, 1);
	memcpy(saved_mem, a->mem->host, MEM);
	vm_destroy(a); /* still quiesced: the queued read is not served here */
	a = NULL;
	CHECK_EQ(vm_create(&cfg, &b), 0);
	if (!b)
		goto out;
	memcpy(b->mem->host, saved_mem, MEM);
	*bad = *st;
	bad->n = 3;
	CHECK_EQ(vm_devices_restore(b, bad), -EINVAL);
	*bad = *st;
	for (i = 0; i < st->n && strcmp(device_kind_by_id(st->e[i].kind)->name, "virtio-rng"); i++)
		;
	CHECK(i < st->n);
	bad->e[i < st->n ? i : 0].on_pci = 0; /* rng was on virtio-pci */
	CHECK_EQ(vm_devices_restore(b, bad), -EINVAL);
	*bad = *st;
	((struct virtio_blk_state *)bad->e[0].dev.bytes)->dev.vq[0].used_gpa = (uint64_t)MEM - 8;
	CHECK_EQ(vm_devices_restore(b, bad), -EINVAL);
	*bad = *st;
	((struct virtio_net_state *)bad->e[bad_net].dev.bytes)->net.active_pairs = 9; /* more than the device has */
	CHECK_EQ(vm_devices_restore(b, bad), -EINVAL);
	CHECK_EQ(vm_devices_restore(b, st), 0);
	vb = (struct vdrv){ .bus = &b->mmio, .mem = b->mem, .base = MMIO0 };
	vb.avail_idx[0] = 2;
	vb.next_desc[0] = 6;
	vb.used_seen[0] = 1;
	CHECK(vdrv_wait(&vb, 0, NULL) == 4097);
	CHECK_EQ(b->mem->host[STATUS], 0);
	for (i = 0; i < 4096 && b->mem->host[BUF + i] == (uint8_t)(i * 5 + 1); i++)
		;
	CHECK_EQ(i, 4096);
	CHECK_EQ(vdrv_status(&vb), 15);
	/* the PCI functions are decoded where they were */
	CHECK_EQ(ecam_rd(b, 1, 4, 2) & PCI_CMD_MEM, PCI_CMD_MEM);
	vr = (struct vdrv){ .bus = &b->mmio, .mem = b->mem, .base = bar, .pci = true };
	CHECK_EQ(vdrv_rd(&vr, 0x12, 2), 1);
out:
	vm_destroy(a);
	vm_destroy(b);
	unlink(disk1);
	unlink(disk2);
	unlink(sock);
	free(saved_mem);
	free(st);
	free(bad);
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (kvm < 0) {
		printf("SKIP virtio_state_vm: /dev/kvm is not usable here\n");
		return 0;
	}
	close(kvm);
	if (access("build/vmm-guests/hello.elf", R_OK) != 0) {
		printf("SKIP virtio_state_vm: build/vmm-guests/hello.elf not built\n");
		return 0;
	}
	RUN(test_vm_save_restore);
	return check_done();
}
