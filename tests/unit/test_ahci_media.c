/* An AHCI CD/DVD drive built by the VMM's device level from `--cdrom ,bus=ahci` (an empty
 * drive; a VM built by hand, no KVM) and driven by the test's AHCI driver (ahcidrv.h) while
 * the control socket's path (vm_devices_media) changes its medium: NOT READY without a
 * disc, UNIT ATTENTION 06/28/00 after an insert, the new disc's volume descriptor, a lock
 * the guest set refusing an eject unless forced, and the sense of each failure kept by the
 * port for REQUEST SENSE. */
#include "ahcidrv.h"
#include "devices/virtio/kind.h"
#include "vmm/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], iso[96];

static uint32_t packet(const uint8_t *cdb, uint32_t len)
{
	struct prd_ent pr = { DATA, len ? len : 2, false };
	uint8_t f[20], acmd[16] = { 0 };

	memcpy(acmd, cdb, 12);
	h2d(f, 0xa0, 0, 0, 1);
	return issue(0, f, acmd, &pr, len ? 1 : 0, false);
}

/* A command that fails: TFES; after the driver's recovery, REQUEST SENSE gives key/asc. */
static void expect_sense(const uint8_t *cdb, uint8_t key, uint8_t asc)
{
	uint8_t rs[12] = { 0x03, 0, 0, 0, 18 };

	CHECK_EQ(packet(cdb, 0) & PX_IS_TFES, PX_IS_TFES);
	CHECK_EQ(prd(0, PX_TFD) >> 12, key);
	port_recover(0);
	CHECK_EQ(packet(rs, 18) & PX_IS_FATAL, 0);
	CHECK_EQ(g(DATA)[2] & 0xf, key);
	CHECK_EQ(g(DATA)[12], asc);
}

static void test_media(void)
{
	const char *disks[1] = { ",media=cdrom,bus=ahci" };
	struct vm_config vc = { .nr_cpus = 1, .mem_size = MEM, .serial = VM_SERIAL_NONE,
				 .disks = disks, .nr_disks = 1 };
	struct vm *vm = calloc(1, sizeof(*vm));
	uint8_t tur[12] = { 0 }, rd10[12] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1 };
	uint8_t lock[12] = { 0x1e, 0, 0, 0, 1 }, unlock[12] = { 0x1e };
	struct vm_media_info mi;
	char err[256], cmd[512];

	snprintf(dir, sizeof(dir), "/tmp/vsrv-ahci-media.%d", getpid());
	snprintf(iso, sizeof(iso), "%s/one.iso", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/a && echo a > %s/a/f && xorriso -as mkisofs "
		 "-quiet -V VSRV_AHCI_ONE -o %s %s/a 2>/dev/null", dir, dir, iso, dir);
	if (system(cmd)) {
		printf("SKIP test_media: cannot make the ISO (xorriso: make test-deps)\n");
		free(vm);
		return;
	}
	/* a VM as vm_create builds it up to the device level, without KVM */
	vm->kvm_fd = vm->vm_fd = -1;
	vm->cfg = &vc;
	bus_init(&vm->pio);
	bus_init(&vm->mmio);
	pthread_mutex_init(&vm->irq_lock, NULL);
	vm->cmdline = strdup("");
	CHECK_EQ(guest_mem_create(MEM, &vm->mem), 0);
	CHECK_EQ(vm_devices_init(vm), 0);
	mem = vm->mem;
	dpio = &vm->pio;
	dmmio = &vm->mmio;
	cfg_wr(DEVFN, 0x04, 2, 0x6);
	abar = cfg(DEVFN, 0x24, 4) & ~0xfu;
	CHECK_EQ(prd(0, PX_SIG), AHCI_SIG_ATAPI);
	port_start(0);
	/* the reset's unit attention, then no disc */
	expect_sense(tur, SK_UNIT_ATTENTION, 0x29);
	expect_sense(tur, SK_NOT_READY, 0x3a);
	/* a disc goes in: one unit attention, then it reads */
	CHECK_EQ(vm_devices_media(vm, NULL, iso, false, err, sizeof(err)), 0);
	CHECK_EQ(vm_devices_media_list(vm, &mi, 1), 1);
	CHECK(mi.path && !strcmp(mi.path, iso) && !mi.tray_open && !mi.locked);
	expect_sense(tur, SK_UNIT_ATTENTION, 0x28);
	CHECK_EQ(packet(rd10, 2048) & PX_IS_FATAL, 0);
	CHECK(!memcmp(g(DATA) + 1, "CD001", 5) && !memcmp(g(DATA) + 40, "VSRV_AHCI_ONE", 13));
	/* the guest locks the tray: an eject is refused unless forced */
	CHECK_EQ(packet(lock, 0) & PX_IS_FATAL, 0);
	CHECK_EQ(vm_devices_media(vm, "disk0", NULL, false, err, sizeof(err)), -EBUSY);
	CHECK(strstr(err, "locked") != NULL);
	CHECK_EQ(vm_devices_media_list(vm, &mi, 1), 1);
	CHECK(mi.path && mi.locked);
	CHECK_EQ(packet(rd10, 2048) & PX_IS_FATAL, 0); /* still in */
	CHECK_EQ(packet(unlock, 0) & PX_IS_FATAL, 0);
	CHECK_EQ(vm_devices_media(vm, "disk0", NULL, false, err, sizeof(err)), 0);
	CHECK_EQ(vm_devices_media_list(vm, &mi, 1), 1);
	CHECK(!mi.path && mi.tray_open);
	expect_sense(rd10, SK_NOT_READY, 0x3a);
	/* a path the next boot's spec cannot hold is refused */
	CHECK_EQ(vm_devices_media(vm, NULL, "/tmp/a,b.iso", false, err, sizeof(err)), -EINVAL);
	vm_devices_exit(vm);
	guest_mem_destroy(vm->mem);
	bus_destroy(&vm->mmio);
	bus_destroy(&vm->pio);
	pthread_mutex_destroy(&vm->irq_lock);
	free(vm->cmdline);
	free(vm);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ(system(cmd), 0);
}

int main(void)
{
	RUN(test_media);
	return check_done();
}
