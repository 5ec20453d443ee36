/* libFuzzer target: the PIIX3 IDE controller (src/devices/ide.c, ide_cmd.c, the shared ATA
 * code ata.c and for ATAPI the SCSI/MMC code) driven by a hostile guest through its ports.
 * Input: byte 0 = the drives (2 bits per unit, primary master first: 0 none, 1 a disk, 2 a
 * CD/DVD drive with a medium, 3 an empty one); bytes 1-2 = L (little-endian); the next L bytes
 * are guest memory from 0x10000 on (PRD tables, data; the rest of the 1 MiB of RAM is
 * zeros); then 6-byte port accesses: byte 0 the port (modulo 34: 0-7 the primary command
 * block, 8 its device control, 9-16 and 17 the secondary's, 18-33 the bus-master BAR), byte
 * 1 bit 0 write, bits 1-2 the width (1, 2, 4 bytes), bit 3 a burst (the access 256 times),
 * bytes 2-5 the value; each followed by a run of the work that is ready (the I/O thread's,
 * here on the fuzzer's thread). The disks are in-memory images whose reads and writes abort
 * outside them, so a range check the device misses is a crash, as is anything ASan sees in
 * guest memory. Built with fuzz/run_corpus.c it replays fuzz/corpus/ide_io
 * (tests/t-ide-fuzz.sh); seeds: fuzz/ide_io_seeds.py. */
#include "devices/ide.h"
#include "vmm/bus.h"
#include "memdisk.h"

#include <stdlib.h>
#include <string.h>

#define RAM (1u << 20)
#define DISK_SECTORS 512u
#define CD_BYTES (64u * 2048)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const uint16_t ports[18] = { 0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4, 0x1f5, 0x1f6, 0x1f7,
				    0x3f6, 0x170, 0x171, 0x172, 0x173, 0x174, 0x175, 0x176,
				    0x177, 0x376 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem *mem;
	static struct disk disk = { .ops = &memdisk_ops, .size = DISK_SECTORS * 512, .direct_fd = -1 };
	static struct disk cd = { .ops = &memdisk_ops, .size = CD_BYTES, .readonly = true,
				  .direct_fd = -1 };
	struct bus pio, mmio;
	struct pci_host *h;
	struct ide *d;
	size_t len, pos;
	uint16_t bm;

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
	    ide_create(h, &pio, mem, NULL, &d))
		abort();
	for (unsigned u = 0; u < IDE_UNITS; u++) {
		unsigned kind = (data[0] >> (2 * u)) & 3;

		if (kind == 1)
			ide_attach(d, u, IDE_DISK, &disk, "fuzz");
		else if (kind)
			ide_attach(d, u, IDE_CD, kind == 2 ? &cd : NULL, "fuzz-cd");
	}
	{
		uint16_t cmd = PCI_CMD_IO; /* the firmware's part: the bus-master BAR decoded */

		pci_cfg_access(h, pci_dev_devfn(&d->pci), 4, (uint8_t *)&cmd, 2, true);
	}
	bm = d->pci.bar[4].addr;
	for (pos = 3 + len; pos + 6 <= size; pos += 6) {
		unsigned sel = data[pos] % 34, flags = data[pos + 1], n = flags & 8 ? 256 : 1;
		uint32_t width = 1u << ((flags >> 1) & 3), v;
		uint16_t port = sel < 18 ? ports[sel] : (uint16_t)(bm + sel - 18);

		if (width > 4)
			width = 4;
		for (unsigned i = 0; i < n; i++) {
			memcpy(&v, data + pos + 2, 4);
			if (bus_dispatch(&pio, port, (uint8_t *)&v, width, flags & 1) && sel >= 18)
				abort(); /* the bus-master BAR is where the controller said */
		}
		ide_run(d);
		for (unsigned c = 0; c < IDE_CHANNELS; c++)
			if (d->ch[c].busy)
				abort(); /* work left half-done */
	}
	ide_destroy(d);
	pci_host_destroy(h);
	bus_destroy(&mmio);
	bus_destroy(&pio);
	return 0;
}
