/* Unit tests of the fw_cfg device (devices/fw_cfg.c) through its ports, as SeaBIOS and
 * OVMF drive it: signature, ID, file directory, legacy keys, byte reads, DMA read, skip,
 * select and write, hostile DMA (outside RAM, across the 32-bit hole, overflowing and
 * wrapping ranges, writes to read-only items and to absent keys), save and restore. */
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/fw_cfg.h"
#include "devices/host.h"
#include "vmm/bus.h"
#include "vmm/mem.h"

/* 3 GiB + 64 MiB: RAM below the hole and 64 MiB above 4 GiB (MAP_NORESERVE: free). */
#define MEM_SIZE (MEM_HOLE_START + (64ULL << 20))

struct rig {
	struct bus pio;
	struct device_host host;
	struct guest_mem *mem;
	struct fw_cfg *fw;
};

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	bus_init(&r->pio);
	r->host.pio = &r->pio;
	if (guest_mem_create(MEM_SIZE, &r->mem) || fw_cfg_create(&r->host, r->mem, &r->fw))
		abort();
}

static void rig_free(struct rig *r)
{
	fw_cfg_destroy(r->fw);
	guest_mem_destroy(r->mem);
	bus_destroy(&r->pio);
}

static void sel(struct rig *r, uint16_t key)
{
	uint8_t d[2] = { (uint8_t)key, (uint8_t)(key >> 8) };
	bus_dispatch(&r->pio, FW_CFG_PORT_SEL, d, 2, true);
}

static uint8_t inb(struct rig *r, uint16_t port)
{
	uint8_t v = 0xaa;
	bus_dispatch(&r->pio, port, &v, 1, false);
	return v;
}

static void read_bytes(struct rig *r, void *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)buf)[i] = inb(r, FW_CFG_PORT_DATA);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* The guest's outl(0x518, cpu_to_be32(addr)) (and outl(0x514, high) when high != 0). */
static void dma_kick(struct rig *r, uint64_t at)
{
	uint8_t d[4];

	if (at >> 32) {
		put_be(d, at >> 32, 4);
		bus_dispatch(&r->pio, FW_CFG_PORT_DMA, d, 4, true);
	}
	put_be(d, (uint32_t)at, 4);
	bus_dispatch(&r->pio, FW_CFG_PORT_DMA + 4, d, 4, true);
}

/* Write an access struct at guest address at, run it, return the control word back. */
static uint32_t dma(struct rig *r, uint64_t at, uint32_t control, uint32_t len, uint64_t addr)
{
	uint8_t *p = guest_mem_ptr(r->mem, at, 16);

	put_be(p, control, 4);
	put_be(p + 4, len, 4);
	put_be(p + 8, addr, 8);
	dma_kick(r, at);
	return be32(p);
}

static uint8_t *gp(struct rig *r, uint64_t gpa, uint64_t len)
{
	return guest_mem_ptr(r->mem, gpa, len);
}

#define SEL_READ(key) ((uint32_t)(key) << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ)

static void test_signature(void)
{
	struct rig r;
	char s[5] = { 0 }, dsig[9] = { 0 };
	uint8_t w[4];

	rig_init(&r);
	sel(&r, FW_CFG_SIGNATURE);
	read_bytes(&r, s, 4);
	CHECK(!strcmp(s, "QEMU"));
	CHECK_EQ(inb(&r, FW_CFG_PORT_DATA), 0);           /* past the end: 0 */
	CHECK_EQ(inb(&r, FW_CFG_PORT_DATA), 0);
	sel(&r, FW_CFG_SIGNATURE);
	CHECK_EQ(inb(&r, FW_CFG_PORT_SEL), 'Q');           /* 0x510 reads data too (QEMU) */
	CHECK_EQ(inb(&r, FW_CFG_PORT_DATA), 'E');
	for (int i = 0; i < 8; i++)
		dsig[i] = (char)inb(&r, FW_CFG_PORT_DMA + i);
	CHECK(!strcmp(dsig, "QEMU CFG"));
	bus_dispatch(&r.pio, FW_CFG_PORT_DMA, w, 4, false);
	CHECK(!memcmp(w, "QEMU", 4));
	bus_dispatch(&r.pio, FW_CFG_PORT_DMA + 4, w, 4, false);
	CHECK(!memcmp(w, " CFG", 4));
	/* a byte written to the selector port or the data port selects nothing */
	sel(&r, FW_CFG_SIGNATURE);
	w[0] = FW_CFG_ID;
	bus_dispatch(&r.pio, FW_CFG_PORT_SEL, w, 1, true);
	bus_dispatch(&r.pio, FW_CFG_PORT_DATA, w, 1, true);
	CHECK_EQ(inb(&r, FW_CFG_PORT_DATA), 'Q');
	/* a 4-byte read of the data port is not a data read: no byte is consumed */
	bus_dispatch(&r.pio, FW_CFG_PORT_DATA, w, 4, false);
	CHECK_EQ(inb(&r, FW_CFG_PORT_DATA), 'E');
	rig_free(&r);
}

static void test_id(void)
{
	struct rig r;
	uint8_t id[4];

	rig_init(&r);
	sel(&r, FW_CFG_ID);
	read_bytes(&r, id, 4);
	CHECK_EQ(id[0], FW_CFG_VERSION | FW_CFG_VERSION_DMA);
	CHECK(id[0] & 2);
	CHECK_EQ(id[1] | id[2] | id[3], 0);
	rig_free(&r);
}

static void test_directory(void)
{
	static const char *names[] = { "etc/e820", "bootorder", "etc/acpi/tables",
				       "etc/acpi/rsdp", "etc/table-loader", "a" };
	static const char *sorted[] = { "a", "bootorder", "etc/acpi/rsdp", "etc/acpi/tables",
					"etc/e820", "etc/table-loader" };
	struct rig r;
	uint8_t cnt[4], e[64], data[64];
	char long_name[FW_CFG_NAME_MAX + 1];

	rig_init(&r);
	sel(&r, FW_CFG_FILE_DIR);
	read_bytes(&r, cnt, 4);
	CHECK_EQ(be32(cnt), 0);
	for (unsigned i = 0; i < 6; i++)
		CHECK_EQ(fw_cfg_add_file(r.fw, names[i], names[i], (uint32_t)strlen(names[i])), 0);
	CHECK_EQ(fw_cfg_add_file(r.fw, "bootorder", "x", 1), -EEXIST);
	CHECK_EQ(fw_cfg_add_file(r.fw, "", "x", 1), -EINVAL);
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[FW_CFG_NAME_MAX] = 0;
	CHECK_EQ(fw_cfg_add_file(r.fw, long_name, "x", 1), -EINVAL);
	long_name[FW_CFG_NAME_MAX - 1] = 0;             /* 55 characters: the longest */
	CHECK_EQ(fw_cfg_add_file(r.fw, long_name, "x", 1), 0);

	sel(&r, FW_CFG_FILE_DIR);
	read_bytes(&r, cnt, 4);
	CHECK_EQ(be32(cnt), 7);
	for (unsigned i = 0; i < 7; i++) {
		const char *want = i < 6 ? sorted[i] : long_name;
		read_bytes(&r, e, 64);
		CHECK_EQ(be32(e), i < 6 ? strlen(want) : 1);
		CHECK_EQ(e[4] << 8 | e[5], FW_CFG_FILE_FIRST + i);
		CHECK_EQ(e[6] | e[7], 0);
		CHECK(!strcmp((char *)e + 8, want));
		CHECK_EQ(fw_cfg_file_key(r.fw, want), FW_CFG_FILE_FIRST + (int)i);
	}
	CHECK_EQ(inb(&r, FW_CFG_PORT_DATA), 0);         /* the directory ends there */
	/* each key reads its file */
	for (unsigned i = 0; i < 6; i++) {
		memset(data, 0, sizeof(data));
		sel(&r, (uint16_t)(FW_CFG_FILE_FIRST + i));
		read_bytes(&r, data, strlen(sorted[i]) + 1);
		CHECK(!strcmp((char *)data, sorted[i]));
	}
	CHECK_EQ(fw_cfg_file_key(r.fw, "nope"), -ENOENT);
	CHECK_EQ(fw_cfg_file_read(r.fw, "etc/e820", data, 3), 8);
	CHECK(!memcmp(data, "etc", 3));
	rig_free(&r);
}

static void test_legacy_keys(void)
{
	struct rig r;
	uint8_t b[8];

	rig_init(&r);
	CHECK_EQ(fw_cfg_add_i64(r.fw, FW_CFG_RAM_SIZE, 0x123456789aULL), 0);
	CHECK_EQ(fw_cfg_add_i16(r.fw, FW_CFG_NB_CPUS, 3), 0);
	CHECK_EQ(fw_cfg_add_i16(r.fw, FW_CFG_MAX_CPUS, 4), 0);
	CHECK_EQ(fw_cfg_add_i16(r.fw, FW_CFG_NOGRAPHIC, 1), 0);
	CHECK_EQ(fw_cfg_add_i16(r.fw, FW_CFG_BOOT_MENU, 0), 0);
	CHECK_EQ(fw_cfg_add_i32(r.fw, FW_CFG_ARCH_LOCAL | 2, 7), 0);
	CHECK_EQ(fw_cfg_add_i16(r.fw, FW_CFG_NB_CPUS, 2), 0);  /* replaces */
	CHECK_EQ(fw_cfg_add_i16(r.fw, FW_CFG_FILE_DIR, 0), -EINVAL);
	CHECK_EQ(fw_cfg_add_i16(r.fw, FW_CFG_SIGNATURE, 0), -EINVAL);
	CHECK_EQ(fw_cfg_add_i16(r.fw, FW_CFG_FILE_FIRST, 0), -EINVAL);
	sel(&r, FW_CFG_RAM_SIZE);
	read_bytes(&r, b, 8);
	CHECK(!memcmp(b, "\x9a\x78\x56\x34\x12\0\0\0", 8));
	sel(&r, FW_CFG_NB_CPUS);
	read_bytes(&r, b, 3);
	CHECK(!memcmp(b, "\x02\x00\x00", 3));
	sel(&r, FW_CFG_MAX_CPUS);
	CHECK_EQ(inb(&r, FW_CFG_PORT_DATA), 4);
	sel(&r, FW_CFG_NOGRAPHIC);
	CHECK_EQ(inb(&r, FW_CFG_PORT_DATA), 1);
	sel(&r, FW_CFG_ARCH_LOCAL | 2);
	CHECK_EQ(inb(&r, FW_CFG_PORT_DATA), 7);
	sel(&r, 0x0d);                                   /* absent: zeros */
	read_bytes(&r, b, 8);
	CHECK(!memcmp(b, "\0\0\0\0\0\0\0\0", 8));
	sel(&r, 0x7fff);
	CHECK_EQ(inb(&r, FW_CFG_PORT_DATA), 0);
	rig_free(&r);
}

static int writes_seen;
static uint32_t write_off, write_len;
static void on_write(void *opaque, const uint8_t *data, uint32_t off, uint32_t len)
{
	(void)data;
	*(int *)opaque += 1;
	write_off = off;
	write_len = len;
}

static void test_dma(void)
{
	struct rig r;
	const char *txt = "0123456789abcdef";
	uint8_t buf[32];
	int key, ro;

	rig_init(&r);
	CHECK_EQ(fw_cfg_add_file(r.fw, "test/ro", txt, 16), 0);
	CHECK_EQ(fw_cfg_add_file_writable(r.fw, "test/rw", "........", 8, on_write, &writes_seen), 0);
	ro = fw_cfg_file_key(r.fw, "test/ro");
	key = fw_cfg_file_key(r.fw, "test/rw");

	/* select + read of the signature, as SeaBIOS's qemu_cfg_read_entry */
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(FW_CFG_SIGNATURE), 4, 0x2000), 0);
	CHECK(!memcmp(gp(&r, 0x2000, 4), "QEMU", 4));
	/* read 4, skip 4, read 4 more, then past the end: zeros */
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(ro), 4, 0x2000), 0);
	CHECK(!memcmp(gp(&r, 0x2000, 4), "0123", 4));
	CHECK_EQ(dma(&r, 0x1000, FW_CFG_DMA_SKIP, 4, 0), 0);
	CHECK_EQ(dma(&r, 0x1000, FW_CFG_DMA_READ, 4, 0x2000), 0);
	CHECK(!memcmp(gp(&r, 0x2000, 4), "89ab", 4));
	memset(gp(&r, 0x3000, 16), 0xee, 16);
	CHECK_EQ(dma(&r, 0x1000, FW_CFG_DMA_READ, 12, 0x3000), 0);
	CHECK(!memcmp(gp(&r, 0x3000, 16), "cdef\0\0\0\0\0\0\0\0\xee\xee\xee\xee", 16));
	/* the port sees the offset DMA left */
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(ro), 2, 0x2000), 0);
	CHECK_EQ(inb(&r, FW_CFG_PORT_DATA), '2');
	/* a control word with no operation does nothing but select */
	CHECK_EQ(dma(&r, 0x1000, (uint32_t)ro << 16 | FW_CFG_DMA_SELECT, 100, 0), 0);
	CHECK_EQ(inb(&r, FW_CFG_PORT_DATA), '0');
	/* DMA into RAM above 4 GiB (the high half of the DMA address too) */
	CHECK_EQ(dma(&r, MEM_HIGH_START + 0x100, SEL_READ(ro), 16, MEM_HIGH_START + 0x1000), 0);
	CHECK(!memcmp(gp(&r, MEM_HIGH_START + 0x1000, 16), txt, 16));
	/* the DMA address starts again from 0: writing only the low half works */
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(ro), 1, 0x2000), 0);
	CHECK_EQ(*gp(&r, 0x2000, 1), '0');

	/* write into the writable file: select, skip 2, write 3 */
	memcpy(gp(&r, 0x4000, 3), "XYZ", 3);
	CHECK_EQ(dma(&r, 0x1000, (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_SKIP, 2, 0), 0);
	CHECK_EQ(dma(&r, 0x1000, FW_CFG_DMA_WRITE, 3, 0x4000), 0);
	CHECK_EQ(writes_seen, 1);
	CHECK_EQ(write_off, 2);
	CHECK_EQ(write_len, 3);
	CHECK_EQ(fw_cfg_file_read(r.fw, "test/rw", buf, sizeof(buf)), 8);
	CHECK(!memcmp(buf, "..XYZ...", 8));
	/* select + write in one access, as SeaBIOS's WRITE_POINTER does */
	CHECK_EQ(dma(&r, 0x1000, (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_WRITE, 8, 0x4000), 0);
	CHECK_EQ(writes_seen, 2);
	rig_free(&r);
	writes_seen = 0;
}

static void test_dma_hostile(void)
{
	struct rig r;
	uint64_t low = MEM_HOLE_START;
	uint8_t buf[16];
	int key, ro;

	rig_init(&r);
	CHECK_EQ(fw_cfg_add_file(r.fw, "test/ro", "0123456789abcdef", 16), 0);
	CHECK_EQ(fw_cfg_add_file_writable(r.fw, "test/rw", "........", 8, on_write, &writes_seen), 0);
	ro = fw_cfg_file_key(r.fw, "test/ro");
	key = fw_cfg_file_key(r.fw, "test/rw");

	/* data ranges outside RAM, in the hole, across its start, overflowing, wrapping */
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(ro), 16, 0xfee00000), FW_CFG_DMA_ERROR);
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(ro), 16, low - 8), FW_CFG_DMA_ERROR);
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(ro), 16, MEM_SIZE - low + MEM_HIGH_START - 8),
		 FW_CFG_DMA_ERROR);
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(ro), 16, MEM_HIGH_START + (1ULL << 40)), FW_CFG_DMA_ERROR);
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(ro), 0x20, 0xfffffffffffffff0ULL), FW_CFG_DMA_ERROR);
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(ro), 0xffffffffu, 0x2000), FW_CFG_DMA_ERROR);
	/* the zero fill past an item's end is checked too: item in RAM, the rest not */
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(ro), 0x100, low - 0x20), FW_CFG_DMA_ERROR);
	/* a skip moves no data: no range to check, and it can go past the end */
	CHECK_EQ(dma(&r, 0x1000, (uint32_t)ro << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_SKIP,
		     0xffffffffu, 0xfffffffffffffff0ULL), 0);

	/* writes: to a read-only file, to an absent key, past a writable file's end, from
	 * outside RAM; none changes anything */
	memset(gp(&r, 0x4000, 16), 'W', 16);
	CHECK_EQ(dma(&r, 0x1000, (uint32_t)ro << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_WRITE, 4, 0x4000),
		 FW_CFG_DMA_ERROR);
	CHECK_EQ(fw_cfg_file_read(r.fw, "test/ro", buf, 16), 16);
	CHECK(!memcmp(buf, "0123456789abcdef", 16));
	CHECK_EQ(dma(&r, 0x1000, 0x1234u << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_WRITE, 4, 0x4000),
		 FW_CFG_DMA_ERROR);
	CHECK_EQ(dma(&r, 0x1000, FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_WRITE, 4,
		     0x4000), FW_CFG_DMA_ERROR);
	CHECK_EQ(dma(&r, 0x1000, (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_WRITE, 9, 0x4000),
		 FW_CFG_DMA_ERROR);
	CHECK_EQ(dma(&r, 0x1000, (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_WRITE, 8,
		     0xfee00000), FW_CFG_DMA_ERROR);
	CHECK_EQ(fw_cfg_file_read(r.fw, "test/rw", buf, 16), 8);
	CHECK(!memcmp(buf, "........", 8));
	CHECK_EQ(writes_seen, 0);
	/* reading an absent key gives zeros without an error (QEMU; SeaBIOS relies on it) */
	memset(gp(&r, 0x2000, 8), 0xee, 8);
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(0x0d), 8, 0x2000), 0);
	CHECK(!memcmp(gp(&r, 0x2000, 8), "\0\0\0\0\0\0\0\0", 8));

	/* the access struct itself: outside RAM (nothing written anywhere, no crash), its
	 * control word in RAM but the rest not (ERROR written there), in the hole, above RAM */
	dma_kick(&r, 0xfee00000);
	dma_kick(&r, 0xfffffffffffffff8ULL);
	dma_kick(&r, MEM_HIGH_START + MEM_SIZE);
	put_be(gp(&r, low - 8, 8), FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 4);
	dma_kick(&r, low - 8);
	CHECK_EQ(be32(gp(&r, low - 8, 4)), FW_CFG_DMA_ERROR);
	/* a read whose data lands on its own access struct: the struct was read once before,
	 * the data goes in, the control word is written last */
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(ro), 16, 0x1000), 0);
	CHECK(!memcmp(gp(&r, 0x1004, 12), "456789abcdef", 12));
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(ro), 16, 0x0ff8), 0);
	CHECK(!memcmp(gp(&r, 0x0ff8, 8), "01234567", 8));
	CHECK(!memcmp(gp(&r, 0x1004, 4), "cdef", 4));
	/* the device still works */
	CHECK_EQ(dma(&r, 0x1000, SEL_READ(FW_CFG_SIGNATURE), 4, 0x2000), 0);
	CHECK(!memcmp(gp(&r, 0x2000, 4), "QEMU", 4));
	/* widths the device does not decode are ignored */
	{
		uint8_t d[2] = { 0x10, 0x00 };
		bus_dispatch(&r.pio, FW_CFG_PORT_DMA + 2, d, 2, true);
		bus_dispatch(&r.pio, FW_CFG_PORT_DMA + 4, d, 1, true);
	}
	rig_free(&r);
}

static void setup_files(struct rig *r)
{
	CHECK_EQ(fw_cfg_add_file(r->fw, "etc/b", "bbbbbbbbbbbbbbbb", 16), 0);
	CHECK_EQ(fw_cfg_add_file(r->fw, "etc/a", "0123456789abcdef", 16), 0);
}

static void test_save_restore(void)
{
	struct rig a, b;
	struct fw_cfg_state st, st2;
	uint8_t d[4];
	int key;

	rig_init(&a);
	setup_files(&a);
	key = fw_cfg_file_key(a.fw, "etc/a");
	sel(&a, (uint16_t)key);
	CHECK_EQ(inb(&a, FW_CFG_PORT_DATA), '0');
	CHECK_EQ(inb(&a, FW_CFG_PORT_DATA), '1');
	CHECK_EQ(inb(&a, FW_CFG_PORT_DATA), '2');
	put_be(d, 1, 4);                                /* a DMA high half, pending */
	bus_dispatch(&a.pio, FW_CFG_PORT_DMA, d, 4, true);
	fw_cfg_save(a.fw, &st);
	CHECK_EQ(st.selector, key);
	CHECK_EQ(st.offset, 3);
	CHECK_EQ(st.dma_addr, 1ULL << 32);

	rig_init(&b);                                   /* the same configuration, fresh */
	setup_files(&b);
	CHECK_EQ(fw_cfg_restore(b.fw, &st), 0);
	fw_cfg_save(b.fw, &st2);
	CHECK(!memcmp(&st, &st2, sizeof(st)));
	CHECK_EQ(inb(&b, FW_CFG_PORT_DATA), '3');
	/* the pending high half survives: the low half now runs an access at 4 GiB + 0x100 */
	put_be(gp(&b, MEM_HIGH_START + 0x100, 16), FW_CFG_DMA_READ, 4);
	put_be(gp(&b, MEM_HIGH_START + 0x104, 4), 2, 4);
	put_be(gp(&b, MEM_HIGH_START + 0x108, 8), 0x2000, 8);
	put_be(d, 0x100, 4);
	bus_dispatch(&b.pio, FW_CFG_PORT_DMA + 4, d, 4, true);
	CHECK_EQ(be32(gp(&b, MEM_HIGH_START + 0x100, 4)), 0);
	CHECK(!memcmp(gp(&b, 0x2000, 2), "45", 2));
	st.reserved = 1;
	CHECK_EQ(fw_cfg_restore(b.fw, &st), -EINVAL);
	fw_cfg_reset(b.fw);
	fw_cfg_save(b.fw, &st2);
	CHECK_EQ(st2.selector | st2.offset | st2.dma_addr, 0);
	CHECK_EQ(inb(&b, FW_CFG_PORT_DATA), 'Q');
	rig_free(&a);
	rig_free(&b);
}

int main(void)
{
	RUN(test_signature);
	RUN(test_id);
	RUN(test_directory);
	RUN(test_legacy_keys);
	RUN(test_dma);
	RUN(test_dma_hostile);
	RUN(test_save_restore);
	return check_done();
}
