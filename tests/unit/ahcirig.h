/* The AHCI controller's unit tests' rig (test_ahci.c, test_ahci_hostile.c): the disks (raw
 * images, a differencing VHD over a dynamic one, an ISO made by xorriso) on the ports of a
 * controller in a test's guest memory with no KVM, set up by up() and taken down by down(),
 * driven through ahcidrv.h. */
#ifndef VSRV_TESTS_UNIT_AHCIRIG_H
#define VSRV_TESTS_UNIT_AHCIRIG_H

#include "check.h"
#include "devices/ahci.h"
#include "devices/virtio/kind.h"
#include "disk/disk.h"
#include "vmm/bus.h"
#include "vmm/vm.h"
#include "vhd/vhd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ahcidrv.h"

static struct bus pio, mmio;
static struct pci_host *host;
static struct ahci *a;
static struct disk *d0, *d2, *cd, *dv;
static char p0[64], p2[64], iso[64], isodir[64], vb[64], vd[64];
static bool have_iso;

static void mkfile(const char *path, size_t bytes)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	uint8_t *b = malloc(bytes);

	for (size_t i = 0; i < bytes; i++)
		b[i] = (uint8_t)(i * 7 + i / 512);
	CHECK(fd >= 0 && write(fd, b, bytes) == (ssize_t)bytes);
	close(fd);
	free(b);
}

static void up(void)
{
	char cmd[512];

	snprintf(p0, sizeof(p0), "/tmp/vsrv-ahci-test.%d.0", getpid());
	snprintf(p2, sizeof(p2), "/tmp/vsrv-ahci-test.%d.2", getpid());
	snprintf(iso, sizeof(iso), "/tmp/vsrv-ahci-test.%d.iso", getpid());
	snprintf(isodir, sizeof(isodir), "/tmp/vsrv-ahci-test.%d.d", getpid());
	mkfile(p0, DISK_BYTES);
	mkfile(p2, DISK_BYTES);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && echo hello > %s/hello.txt && "
		 "xorriso -as mkisofs -quiet -V VSRV_AHCI -o %s %s 2>/dev/null", isodir, isodir,
		 iso, isodir);
	have_iso = system(cmd) == 0;
	/* port 3: a differencing VHD over a dynamic one whose first MiB holds 0x33 */
	snprintf(vb, sizeof(vb), "/tmp/vsrv-ahci-test.%d.base.vhd", getpid());
	snprintf(vd, sizeof(vd), "/tmp/vsrv-ahci-test.%d.diff.vhd", getpid());
	{
		struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = DISK_BYTES };
		struct vhd_create_opts od = { .type = VHD_TYPE_DIFF, .parent = vb };
		uint8_t *b = malloc(1 << 20);
		struct vhd *v = NULL;

		unlink(vb);
		unlink(vd);
		memset(b, 0x33, 1 << 20);
		CHECK_EQ(vhd_create(vb, &o, &v), 0);
		if (v)
			CHECK_EQ(vhd_write(v, 0, b, 2048), 0);
		vhd_close(v);
		CHECK_EQ(vhd_create(vd, &od, NULL), 0);
		free(b);
	}
	CHECK_EQ(guest_mem_create(MEM, &mem), 0);
	bus_init(&pio);
	bus_init(&mmio);
	dpio = &pio;
	dmmio = &mmio;
	CHECK_EQ(pci_host_create(&pio, &mmio, 0xe0000000ULL, 0xe1000000ULL, 0xfe000000ULL,
				 &host), 0);
	CHECK_EQ(disk_open(p0, "raw", 0, &d0), 0);
	CHECK_EQ(disk_open(p2, "raw", 0, &d2), 0);
	cd = NULL;
	if (have_iso)
		CHECK_EQ(disk_open(iso, "raw", DISK_RDONLY, &cd), 0);
	CHECK_EQ(ahci_create(host, mem, NULL, &a), 0);
	CHECK_EQ(ahci_attach(a, AHCI_DISK, d0, "SER-ZERO"), 0);
	CHECK_EQ(ahci_attach(a, AHCI_CD, cd, "SER-CD"), 0);
	CHECK_EQ(ahci_attach(a, AHCI_DISK, d2, "SER-TWO"), 0);
	CHECK_EQ(disk_open(vd, NULL, 0, &dv), 0);
	CHECK_EQ(ahci_attach(a, AHCI_DISK, dv, "SER-VHD"), 0);
	CHECK_EQ(ahci_start(a), 0);
	/* firmware's part: BAR 5, memory decoding and bus mastering */
	cfg_wr(DEVFN, 0x04, 2, 0x6);
	abar = cfg(DEVFN, 0x24, 4) & ~0xfu;
	for (unsigned p = 0; p < 4; p++)
		port_start(p);
}

static void down(void)
{
	ahci_destroy(a);
	disk_close(d0);
	disk_close(d2);
	disk_close(cd);
	disk_close(dv);
	unlink(vd);
	unlink(vb);
	pci_host_destroy(host);
	bus_destroy(&mmio);
	bus_destroy(&pio);
	guest_mem_destroy(mem);
	unlink(p0);
	unlink(p2);
	unlink(iso);
	unlink(iso);
	{
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", isodir);
		CHECK_EQ(system(cmd), 0);
	}
}

static bool file_equals(const char *path, uint64_t off, const uint8_t *b, size_t len)
{
	uint8_t *x = malloc(len);
	int fd = open(path, O_RDONLY);
	bool same = fd >= 0 && pread(fd, x, len, off) == (ssize_t)len && !memcmp(x, b, len);

	close(fd);
	free(x);
	return same;
}

#endif
