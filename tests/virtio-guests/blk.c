/* End-to-end virtio-blk test guest (ring 0, 32-bit, polling): finds the disk on
 * virtio-mmio at 0xd0000000 or, failing that, on PCI (mechanism #1), writes a pattern to
 * sectors 1..8, flushes, reads it back and compares, reads the GET_ID string, and exits
 * with 0x10 on success (status 33) or a small error code. Prints progress on COM1. */
#include <stdint.h>

#define MMIO 0xd0000000u
#define DESC 0x200000u
#define AVAIL 0x201000u
#define USED 0x202000u
#define HDR 0x210000u
#define DATA 0x211000u
#define STATUS 0x214000u
#define RDATA 0x215000u
#define QSZ 8

static inline void outb(uint16_t p, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outl(uint16_t p, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(p)); }
static inline uint32_t inl(uint16_t p) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
#define R32(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define R16(a) (*(volatile uint16_t *)(uintptr_t)(a))
#define R8(a) (*(volatile uint8_t *)(uintptr_t)(a))

static void puts(const char *s) { while (*s) outb(0x3f8, *s++); }

static uint32_t pci_cfg(unsigned slot, unsigned off)
{
	outl(0xcf8, 0x80000000u | slot << 11 | off);
	return inl(0xcfc);
}

static void pci_cfg_w(unsigned slot, unsigned off, uint32_t v)
{
	outl(0xcf8, 0x80000000u | slot << 11 | off);
	outl(0xcfc, v);
}

static int pci;
static uint32_t base;
static uint16_t avail_idx, used_seen;

static void status(uint32_t s)
{
	if (pci) R8(base + 0x14) = s; else R32(base + 0x70) = s;
}

static uint32_t get_status(void)
{
	return pci ? R8(base + 0x14) : R32(base + 0x70);
}

static int request(uint32_t type, uint32_t sector, uint32_t buf, uint32_t len, int dev_writes)
{
	volatile uint64_t *d = (volatile uint64_t *)DESC;
	uint32_t i;

	R32(HDR) = type;
	R32(HDR + 4) = 0;
	R32(HDR + 8) = sector;
	R32(HDR + 12) = 0;
	R8(STATUS) = 0xee;
	/* desc: addr(8) len(4) flags(2) next(2) */
	d[0] = HDR; d[1] = 16 | (uint64_t)1 << 32 | (uint64_t)1 << 48;
	if (len) {
		d[2] = buf; d[3] = len | (uint64_t)(1 | (dev_writes ? 2 : 0)) << 32 | (uint64_t)2 << 48;
		d[4] = STATUS; d[5] = 1 | (uint64_t)2 << 32;
	} else {
		d[1] = 16 | (uint64_t)1 << 32 | (uint64_t)2 << 48;
		d[4] = STATUS; d[5] = 1 | (uint64_t)2 << 32;
		d[2] = STATUS; d[3] = 1 | (uint64_t)2 << 32;
	}
	R16(AVAIL + 4 + 2 * (avail_idx % QSZ)) = 0;
	avail_idx++;
	__asm__ volatile("" ::: "memory");
	R16(AVAIL + 2) = avail_idx;
	if (pci) R16(base + 0x3000) = 0; else R32(base + 0x50) = 0;
	for (i = 0; i < 100000000u; i++)
		if (R16(USED + 2) != used_seen)
			break;
	if (R16(USED + 2) == used_seen)
		return -1;
	used_seen++;
	return R8(STATUS);
}

static int find_pci(void)
{
	unsigned s;

	for (s = 1; s < 32; s++) {
		if (pci_cfg(s, 0) == 0x10421af4u) {
			base = pci_cfg(s, 0x10) & ~0xfu;
			pci_cfg_w(s, 4, 0x6); /* memory space, bus master */
			pci = 1;
			return 0;
		}
	}
	return -1;
}

int main(void)
{
	uint32_t i;

	if (R32(MMIO) == 0x74726976u && R32(MMIO + 8) == 2) {
		base = MMIO;
		puts("virtio-blk on mmio\n");
	} else if (find_pci() == 0) {
		puts("virtio-blk on pci\n");
	} else {
		puts("no virtio-blk\n");
		return 1;
	}
	for (i = 0; i < 0x3000; i += 4)
		R32(DESC + i) = 0;
	status(0);
	status(3);
	if (pci) {
		R32(base + 0x08) = 1; R32(base + 0x0c) = 1; /* VERSION_1 */
	} else {
		R32(base + 0x24) = 1; R32(base + 0x20) = 1;
	}
	status(11);
	if (!(get_status() & 8))
		return 2;
	if (pci) {
		R16(base + 0x16) = 0;
		R16(base + 0x18) = QSZ;
		R32(base + 0x20) = DESC; R32(base + 0x24) = 0;
		R32(base + 0x28) = AVAIL; R32(base + 0x2c) = 0;
		R32(base + 0x30) = USED; R32(base + 0x34) = 0;
		R16(base + 0x1c) = 1;
	} else {
		R32(base + 0x30) = 0;
		R32(base + 0x38) = QSZ;
		R32(base + 0x80) = DESC; R32(base + 0x84) = 0;
		R32(base + 0x90) = AVAIL; R32(base + 0x94) = 0;
		R32(base + 0xa0) = USED; R32(base + 0xa4) = 0;
		R32(base + 0x44) = 1;
	}
	status(15);
	for (i = 0; i < 4096; i += 4)
		R32(DATA + i) = 0x5a000000u | i;
	if (request(1, 1, DATA, 4096, 0) != 0)
		return 3;
	if (request(4, 0, 0, 0, 0) != 0)
		return 4;
	if (request(0, 1, RDATA, 4096, 1) != 0)
		return 5;
	for (i = 0; i < 4096; i += 4)
		if (R32(RDATA + i) != (0x5a000000u | i))
			return 6;
	if (request(8, 0, RDATA, 20, 1) != 0)
		return 7;
	if (request(0, 0xffffff00u, RDATA, 512, 1) != 1) /* beyond the end: I/O error */
		return 8;
	puts("virtio-blk ok\n");
	return 0x10;
}
