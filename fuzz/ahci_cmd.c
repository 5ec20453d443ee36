/* libFuzzer target: the AHCI controller's register interface and command list walker
 * (src/devices/ahci.c, ahci_ata.c, and for ATAPI the shared SCSI/MMC code) driven by a
 * hostile guest.
 * Input: byte 0 = the drives (bits 0-1 port 0, 2-3 port 1, 4-5 port 2: 0 none, 1 a disk, 2 a
 * CD/DVD drive with a medium, 3 an empty one); bytes 1-2 = L (little-endian); the next L bytes
 * are guest memory from 0x10000 on (command lists, tables, PRDs, data; the rest of the 1 MiB
 * of RAM is zeros); then 6-byte register writes (ABAR offset: 2 bytes, value: 4), each
 * followed by a run of every command ready (the I/O thread's work, here on the fuzzer's
 * thread). The disks are in-memory images whose reads, writes and discards abort outside
 * them, so a range check the device misses is a crash, as is anything ASan sees in guest
 * memory. Built with fuzz/run_corpus.c it replays fuzz/corpus/ahci_cmd
 * (tests/t-ahci-fuzz.sh); seeds: fuzz/ahci_cmd_seeds.py. */
#include "devices/ahci.h"
#include "vmm/bus.h"
#include "memdisk.h"

#include <stdlib.h>
#include <string.h>

#define RAM (1u << 20)
#define DISK_SECTORS 512u
#define CD_BYTES (64u * 2048)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem *mem;
	static struct disk disk = { .ops = &memdisk_ops, .size = DISK_SECTORS * 512, .direct_fd = -1 };
	static struct disk cd = { .ops = &memdisk_ops, .size = CD_BYTES, .readonly = true,
				  .direct_fd = -1 };
	struct bus pio, mmio;
	struct pci_host *h;
	struct ahci *a;
	size_t len, pos;

	if (size < 3)
		return 0;
	if (!mem) {
		memdisk_image = malloc(CD_BYTES > DISK_SECTORS * 512 ? CD_BYTES : DISK_SECTORS * 512);
		if (!memdisk_image || guest_mem_create(RAM, &mem))
			abort();
	}
	for (unsigned i = 0; i < CD_BYTES; i++)
		memdisk_image[i] = (uint8_t)(i * 7 + i / 512);
	memset(mem->host, 0, RAM);
	len = data[1] | data[2] << 8;
	if (len > size - 3)
		len = size - 3;
	if (len > RAM - 0x10000)
		len = RAM - 0x10000;
	memcpy(mem->host + 0x10000, data + 3, len);
	bus_init(&pio);
	bus_init(&mmio);
	if (pci_host_create(&pio, &mmio, 0xe0000000ULL, 0xe1000000ULL, 0xfe000000ULL, &h) ||
	    ahci_create(h, mem, NULL, &a))
		abort();
	for (unsigned p = 0; p < 3; p++) {
		unsigned kind = (data[0] >> (2 * p)) & 3;

		if (kind == 1)
			ahci_attach(a, AHCI_DISK, &disk, "fuzz");
		else if (kind)
			ahci_attach(a, AHCI_CD, kind == 2 ? &cd : NULL, "fuzz-cd");
	}
	for (pos = 3 + len; pos + 6 <= size; pos += 6) {
		uint32_t off = (data[pos] | data[pos + 1] << 8) & (AHCI_ABAR_SIZE - 1) & ~3u, v;

		memcpy(&v, data + pos + 2, 4);
		ahci_mmio(a, off, (uint8_t *)&v, 4, true);
		ahci_run(a);
		for (unsigned p = 0; p < AHCI_PORTS; p++)
			if (a->port[p].busy)
				abort(); /* a command left half-done */
	}
	ahci_destroy(a);
	pci_host_destroy(h);
	bus_destroy(&mmio);
	bus_destroy(&pio);
	return 0;
}
