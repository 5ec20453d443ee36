/* An IDE CD/DVD drive built by the VMM's device level from `--cdrom ,bus=ide` (an empty
 * drive at the primary master; a VM built by hand, no KVM) and driven by the test's IDE
 * driver (idedrv.h) while the control socket's path (vm_devices_media) changes its medium:
 * NOT READY without a disc, UNIT ATTENTION 06/28/00 after an insert, the new disc's volume
 * descriptor by PIO and DMA, a lock the guest set refusing an eject unless forced. */
#include "handvm.h"
#include "idedrv.h"
#include "devices/virtio/kind.h"
#include "vmm/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], iso[96];
static uint8_t buf[65536];

/* A command that fails with sense key/asc (REQUEST SENSE tells it). */
static void expect_sense(const uint8_t *cdb, uint8_t key, uint8_t asc)
{
	uint8_t rs[12] = { 0x03, 0, 0, 0, 18 };
	long n = atapi_pio(0, 0, cdb, buf, sizeof(buf), 2048);

	CHECK(n < 0 && -n != 0x1000 && -n != 0x2000 && -n != 0x3000);
	CHECK_EQ((-n >> 12) & 0xf, key);
	CHECK_EQ(atapi_pio(0, 0, rs, buf, sizeof(buf), 2048), 18);
	CHECK_EQ(buf[2] & 0xf, key);
	CHECK_EQ(buf[12], asc);
}

static void test_media(void)
{
	const char *disks[1] = { ",media=cdrom,bus=ide" };
	struct vm_config vc = { .nr_cpus = 1, .mem_size = MEM, .serial = VM_SERIAL_NONE,
				 .disks = disks, .nr_disks = 1 };
	struct vm *vm;
	uint8_t tur[12] = { 0 }, rd10[12] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1 };
	uint8_t lock[12] = { 0x1e, 0, 0, 0, 1 }, unlock[12] = { 0x1e };
	struct vm_media_info mi;
	char err[256], cmd[512];
	uint8_t bms;

	snprintf(dir, sizeof(dir), "/tmp/vsrv-ide-media.%d", getpid());
	snprintf(iso, sizeof(iso), "%s/one.iso", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/a && echo a > %s/a/f && xorriso -as mkisofs "
		 "-quiet -V VSRV_IDE_ONE -o %s %s/a 2>/dev/null", dir, dir, iso, dir);
	if (system(cmd)) {
		printf("SKIP test_media: cannot make the ISO (xorriso: make test-deps)\n");
		return;
	}
	/* a VM as vm_create builds it up to the device level, without KVM */
	vm = handvm_new(&vc, MEM);
	CHECK(vm != NULL);
	if (!vm)
		return;
	CHECK_EQ(vm_devices_init(vm), 0);
	mem = vm->mem;
	dpio = &vm->pio;
	{
		struct vdevs *v = vm->devices_priv;
		struct ide *d = NULL;

		for (unsigned i = 0; i < v->n; i++)
			if (!strcmp(v->e[i].kind->name, "IDE controller"))
				d = v->e[i].priv;
		CHECK(d != NULL);
		if (!d)
			return;
		cfg_wr(pci_dev_devfn(&d->pci), 0x04, 2, 0x5);
		bmide = cfg(pci_dev_devfn(&d->pci), 0x20, 4) & ~3u;
	}
	CHECK_EQ(in(IDE_PRIMARY + 5, 1), 0xeb); /* the ATAPI signature */
	/* the reset's unit attention, then no disc */
	expect_sense(tur, SK_UNIT_ATTENTION, 0x29);
	expect_sense(tur, SK_NOT_READY, 0x3a);
	/* a disc goes in: one unit attention, then it reads, by PIO and by DMA */
	CHECK_EQ(vm_devices_media(vm, NULL, iso, false, err, sizeof(err)), 0);
	CHECK_EQ(vm_devices_media_list(vm, &mi, 1), 1);
	CHECK(mi.path && !strcmp(mi.path, iso) && !mi.tray_open && !mi.locked);
	expect_sense(tur, SK_UNIT_ATTENTION, 0x28);
	CHECK_EQ(atapi_pio(0, 0, rd10, buf, sizeof(buf), 2048), 2048);
	CHECK(!memcmp(buf + 1, "CD001", 5) && !memcmp(buf + 40, "VSRV_IDE_ONE", 12));
	memset(g(DATA), 0, 2048);
	CHECK_EQ(atapi_dma(0, 0, rd10, 2048, &bms) & ATA_ERR, 0);
	CHECK(!memcmp(g(DATA) + 40, "VSRV_IDE_ONE", 12));
	/* the guest locks the tray: an eject is refused unless forced */
	CHECK_EQ(atapi_pio(0, 0, lock, buf, sizeof(buf), 2048), 0);
	CHECK_EQ(vm_devices_media(vm, "disk0", NULL, false, err, sizeof(err)), -EBUSY);
	CHECK(strstr(err, "locked") != NULL);
	CHECK_EQ(atapi_pio(0, 0, rd10, buf, sizeof(buf), 2048), 2048); /* still in */
	CHECK_EQ(atapi_pio(0, 0, unlock, buf, sizeof(buf), 2048), 0);
	CHECK_EQ(vm_devices_media(vm, "disk0", NULL, false, err, sizeof(err)), 0);
	CHECK_EQ(vm_devices_media_list(vm, &mi, 1), 1);
	CHECK(!mi.path && mi.tray_open);
	expect_sense(rd10, SK_NOT_READY, 0x3a);
	vm_devices_exit(vm);
	handvm_free(vm);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ(system(cmd), 0);
}

/* Two channels, master and slave: a fifth drive on the ide bus is refused, and the device
 * level leaves nothing behind. */
static void test_five_drives(void)
{
	const char *disks[5] = { ",media=cdrom,bus=ide", ",media=cdrom,bus=ide",
				 ",media=cdrom,bus=ide", ",media=cdrom,bus=ide",
				 ",media=cdrom,bus=ide" };
	struct vm_config vc = { .nr_cpus = 1, .mem_size = MEM, .serial = VM_SERIAL_NONE,
				 .disks = disks, .nr_disks = 5 };
	struct vm *vm = handvm_new(&vc, MEM);

	CHECK(vm != NULL);
	if (!vm)
		return;
	CHECK_EQ(vm_devices_init(vm), -ENOSPC);
	CHECK(vm->devices_priv == NULL);
	vc.nr_disks = 4; /* four are fine */
	CHECK_EQ(vm_devices_init(vm), 0);
	vm_devices_exit(vm);
	handvm_free(vm);
}

int main(void)
{
	RUN(test_media);
	RUN(test_five_drives);
	return check_done();
}
