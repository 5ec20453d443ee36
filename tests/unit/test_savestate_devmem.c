/* A display's VRAM in the save file (docs/savestate.md, DEVMEM sections), without KVM: a VM
 * built by hand with `--display bochs,vram=4` through the device level, a pattern drawn
 * through BAR0, the state written by savestate_write with the device memory the save
 * collects (vm_save_collect_devmem), read back by savestate_read and loaded into a fresh VM
 * (vm_restore_devmem): the pattern is there. Refused: another VRAM size, a corrupt or cut
 * short section, sections naming entries the file does not have or out of order. Files
 * without such sections (every file before) still read. */
#include "check.h"
#include "handvm.h"
#include "pcicfg.h"

#include "devices/bochs_display.h"
#include "devices/virtio/devstate.h"
#include "vmm/savestate.h"
#include "vmm/savestate_file.h"
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MEM (4 << 20)

static char dir[64], path[96];

static struct vm *vm_new(struct vm_config *cfg)
{
	struct vm *vm = handvm_new_devices(cfg, MEM);

	CHECK(vm != NULL);
	return vm;
}

static uint32_t pattern(uint32_t i) { return i * 2654435761u; }

/* Write a save of vm to path (nr_devmem forced to `force` when >= 0, the first section's
 * index to `index` when >= 0). */
static void save(struct vm *vm, int force, int index)
{
	struct savestate *s = NULL;
	int fd;

	CHECK_EQ(savestate_alloc(1, &s), 0);
	if (!s)
		return;
	s->config.mem_size = MEM;
	s->config.nr_cpus = 1;
	CHECK_EQ(vm_devices_save(vm, s->devices), 0);
	s->config.nr_devs = s->devices->n;
	s->config.has_pci = s->devices->has_pci;
	for (uint32_t i = 0; i < s->devices->n; i++) {
		s->config.dev[i].kind = s->devices->e[i].kind;
		s->config.dev[i].on_pci = s->devices->e[i].on_pci;
	}
	vm_save_collect_devmem(vm, s);
	if (force >= 0) {
		if (force > (int)s->nr_devmem) /* a second section of the same memory */
			s->devmem[1] = s->devmem[0];
		s->nr_devmem = (uint32_t)force;
	}
	if (index >= 0)
		s->devmem[0].index = (uint32_t)index;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(savestate_write(fd, s, vm->mem->host, NULL), 0);
	close(fd);
	savestate_free(s);
}

/* Read path and load it into vm: savestate_read's result, then vm_restore_devmem's. */
static int load(struct vm *vm, int *restore_ret)
{
	struct savestate *s = NULL;
	const char *why = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	*restore_ret = -1;
	ret = savestate_read(fd, &s, &why);
	if (!ret) {
		CHECK_EQ(savestate_load_memory(fd, s, vm->mem->host, &why), 0);
		*restore_ret = vm_restore_devmem(vm, fd, s, "test");
	}
	savestate_free(s);
	close(fd);
	return ret;
}

static void test_vram_saved(void)
{
	const char *displays[] = { "bochs,vram=4,rom=" }, *big[] = { "bochs,vram=8,rom=" };
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = MEM, .displays = displays,
				 .nr_displays = 1 };
	struct vm_config cfg8 = cfg;
	struct vm *a, *b;
	uint32_t bar0, *vram;
	size_t len = 0;
	unsigned slot;
	int rr, fd;
	struct stat st;

	cfg8.displays = big;
	snprintf(dir, sizeof(dir), "/tmp/vsrv-devmem.%d", getpid());
	snprintf(path, sizeof(path), "%s/vm.state", dir);
	CHECK_EQ(mkdir(dir, 0700), 0);
	a = vm_new(&cfg);
	slot = ((struct vdevs *)a->devices_priv)->e[0].pcidev->slot;
	bar0 = pcicfg_read(&a->pio, slot, 0x10, 4) & ~0xfu;
	pcicfg_write(&a->pio, slot, 4, 2, PCI_CMD_MEM);
	for (uint32_t i = 0; i < (4u << 20) / 4; i += 97) { /* through BAR0, as the guest */
		uint32_t v = pattern(i);

		bus_dispatch(&a->mmio, bar0 + 4 * i, (uint8_t *)&v, 4, true);
	}
	save(a, -1, -1);

	/* into a fresh VM of the same options */
	b = vm_new(&cfg);
	CHECK_EQ(load(b, &rr), 0);
	CHECK_EQ(rr, 0);
	vram = (uint32_t *)vm_devices_devmem(b, 0, &len);
	CHECK_EQ(len, 4u << 20);
	if (vram) {
		size_t bad = 0;

		for (uint32_t i = 0; i < (4u << 20) / 4; i++)
			bad += vram[i] != (i % 97 ? 0 : pattern(i));
		CHECK_EQ(bad, 0);
	}
	handvm_free_devices(b);

	/* another VRAM size: refused */
	b = vm_new(&cfg8);
	CHECK_EQ(load(b, &rr), 0);
	CHECK_EQ(rr, -EINVAL);
	handvm_free_devices(b);

	/* a flipped byte in the VRAM's payload: the CRC refuses it */
	fd = open(path, O_RDWR);
	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	{
		uint8_t x;
		off_t at = st.st_size - MEM / 2; /* inside the VRAM: the memory section is small */
		struct savestate *s = NULL;
		const char *why;

		CHECK_EQ(savestate_read(fd, &s, &why), 0);
		if (s && s->nr_devmem == 1)
			at = (off_t)(s->devmem[0].off + 12345);
		savestate_free(s);
		CHECK(pread(fd, &x, 1, at) == 1);
		x ^= 0x40;
		CHECK(pwrite(fd, &x, 1, at) == 1);
	}
	close(fd);
	b = vm_new(&cfg);
	CHECK_EQ(load(b, &rr), 0);
	CHECK_EQ(rr, -EINVAL);
	handvm_free_devices(b);

	/* sections naming an entry the file does not have, or twice */
	save(a, -1, 3);
	b = vm_new(&cfg);
	CHECK_EQ(load(b, &rr), -EINVAL);
	save(a, 2, -1);
	CHECK_EQ(load(b, &rr), -EINVAL);
	/* cut short inside the section */
	save(a, -1, -1);
	CHECK_EQ(truncate(path, 64 + 4096), 0);
	CHECK_EQ(load(b, &rr), -EINVAL);
	/* no device memory section (a file of an earlier build): reads, VRAM stays zero */
	save(a, 0, -1);
	CHECK_EQ(load(b, &rr), 0);
	CHECK_EQ(rr, 0);
	vram = (uint32_t *)vm_devices_devmem(b, 0, &len);
	CHECK(vram && vram[97] == 0);
	handvm_free_devices(b);
	handvm_free_devices(a);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	RUN(test_vram_saved);
	return check_done();
}
