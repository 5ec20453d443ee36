/* A tiny IDE driver for unit tests: it plays the guest against the PIIX3 IDE controller
 * (src/devices/ide.h) through the legacy ports and the bus-master BAR on a test's port bus,
 * with PRD tables and buffers in a test's guest memory. No KVM needed. The test creates mem,
 * the port bus (dpio) and the controller, and sets bmide (BAR 4). */
#ifndef VSRV_TESTS_UNIT_IDEDRV_H
#define VSRV_TESTS_UNIT_IDEDRV_H

#include "check.h"
#include "devices/ide.h"
#include "vmm/bus.h"

#include <string.h>
#include <time.h>

#define MEM (16 << 20)
#define PRD_TABLE 0x100000ULL
#define DATA 0x800000ULL

static struct guest_mem *mem;
static struct bus *dpio;
static uint32_t bmide;

static inline uint8_t *g(uint64_t gpa) { return mem->host + gpa; }

static inline uint32_t in(uint16_t port, unsigned len)
{
	uint32_t v = 0;

	if (bus_dispatch(dpio, port, (uint8_t *)&v, len, false))
		v = 0xffffffffu;
	return v;
}

static inline void out(uint16_t port, unsigned len, uint32_t v)
{
	bus_dispatch(dpio, port, (uint8_t *)&v, len, true);
}

static inline uint32_t cfg(unsigned devfn, unsigned off, unsigned len)
{
	uint32_t adr = 0x80000000u | devfn << 8 | (off & 0xfc), v = 0;

	bus_dispatch(dpio, 0xcf8, (uint8_t *)&adr, 4, true);
	bus_dispatch(dpio, 0xcfc + (off & 3), (uint8_t *)&v, len, false);
	return v;
}

static inline void cfg_wr(unsigned devfn, unsigned off, unsigned len, uint32_t v)
{
	uint32_t adr = 0x80000000u | devfn << 8 | (off & 0xfc);

	bus_dispatch(dpio, 0xcf8, (uint8_t *)&adr, 4, true);
	bus_dispatch(dpio, 0xcfc + (off & 3), (uint8_t *)&v, len, true);
}

static inline uint16_t base(unsigned ch) { return ch ? IDE_SECONDARY : IDE_PRIMARY; }

/* The alternate status once BSY is gone (5 s at most: 0xff then). */
static inline uint8_t wait_ready(unsigned ch)
{
	struct timespec t0, t;
	uint8_t s;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		s = in(base(ch) + IDE_CTL_OFF, 1);
		if (!(s & ATA_BSY))
			return s;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 5)
			return 0xff;
		nanosleep(&(struct timespec){ 0, 100000 }, NULL);
	}
}

static inline void select_unit(unsigned ch, unsigned slave, uint8_t head)
{
	out(base(ch) + 6, 1, 0xa0 | 0x40 | slave << 4 | (head & 0xf));
}

/* Set up the task file for an LBA28 (lba48: both halves) command and write cmd. */
static inline void issue(unsigned ch, unsigned slave, uint8_t cmd, uint64_t lba, uint32_t count,
			 bool lba48, uint8_t feature)
{
	uint16_t b = base(ch);

	select_unit(ch, slave, lba48 ? 0 : (lba >> 24) & 0xf);
	if (lba48) {
		out(b + 1, 1, 0);
		out(b + 2, 1, count >> 8);
		out(b + 3, 1, lba >> 24);
		out(b + 4, 1, lba >> 32);
		out(b + 5, 1, lba >> 40);
	}
	out(b + 1, 1, feature);
	out(b + 2, 1, count & 0xff);
	out(b + 3, 1, lba & 0xff);
	out(b + 4, 1, (lba >> 8) & 0xff);
	out(b + 5, 1, (lba >> 16) & 0xff);
	out(b + 7, 1, cmd);
}

/* Read n bytes of PIO data (16-bit accesses) once DRQ shows; the status after each block
 * of bs bytes. Returns the last status (ERR, or no DRQ when data was wanted: 0x100). */
static inline unsigned pio_in(unsigned ch, void *buf, size_t n, size_t bs)
{
	uint8_t *p = buf;
	uint8_t s = 0;

	for (size_t done = 0; done < n; done += bs) {
		s = wait_ready(ch);
		if (s & ATA_ERR)
			return s;
		if (!(s & ATA_DRQ))
			return 0x100 | s;
		for (size_t i = 0; i < bs; i += 2) {
			uint16_t w = in(base(ch), 2);

			memcpy(p + done + i, &w, 2);
		}
	}
	s = wait_ready(ch);
	(void)in(base(ch) + 7, 1); /* acknowledge */
	return s;
}

static inline unsigned pio_out(unsigned ch, const void *buf, size_t n, size_t bs)
{
	const uint8_t *p = buf;
	uint8_t s = 0;

	for (size_t done = 0; done < n; done += bs) {
		s = wait_ready(ch);
		if (s & ATA_ERR)
			return s;
		if (!(s & ATA_DRQ))
			return 0x100 | s;
		for (size_t i = 0; i < bs; i += 4) {
			uint32_t w;

			memcpy(&w, p + done + i, 4);
			out(base(ch), 4, w);
		}
	}
	s = wait_ready(ch);
	(void)in(base(ch) + 7, 1);
	return s;
}

/* A PRD table at PRD_TABLE: n entries of len bytes each from DATA (0: 64 KiB). */
static inline void prd_table(unsigned n, uint32_t len)
{
	for (unsigned i = 0; i < n; i++) {
		uint32_t e[2] = { (uint32_t)(DATA + (uint64_t)i * (len ? len : 65536)),
				  (len & 0xffff) | (i == n - 1 ? 0x80000000u : 0) };

		memcpy(g(PRD_TABLE + i * 8), e, 8);
	}
}

/* Start the bus master of ch (read: the device writes memory) on table and wait for the
 * command's end: the drive's status; *bms the bus master's status. */
static inline uint8_t dma_run(unsigned ch, uint32_t table, bool read, uint8_t *bms)
{
	uint16_t bm = bmide + ch * 8;
	uint8_t s;

	out(bm + BM_STATUS, 1, BM_ST_ERROR | BM_ST_INTR);
	out(bm + BM_PRD, 4, table);
	out(bm + BM_CMD, 1, BM_CMD_START | (read ? BM_CMD_READ : 0));
	s = wait_ready(ch);
	*bms = in(bm + BM_STATUS, 1);
	out(bm + BM_CMD, 1, 0);
	(void)in(base(ch) + 7, 1);
	return s;
}

/* An ATAPI PACKET by PIO on unit slave of ch: the reply (at most cap bytes) into buf,
 * with byte count limit lim; returns the bytes read, or -(status | error << 8) on failure. */
static inline long atapi_pio(unsigned ch, unsigned slave, const uint8_t *cdb, void *buf,
			     size_t cap, uint16_t lim)
{
	uint16_t b = base(ch);
	uint8_t *p = buf, s;
	size_t got = 0;

	select_unit(ch, slave, 0);
	out(b + 1, 1, 0);
	out(b + 4, 1, lim & 0xff);
	out(b + 5, 1, lim >> 8);
	out(b + 7, 1, 0xa0);
	s = wait_ready(ch);
	if (!(s & ATA_DRQ) || (in(b + 2, 1) & 3) != 1)
		return -0x1000;
	for (int i = 0; i < 12; i += 2)
		out(b, 2, cdb[i] | cdb[i + 1] << 8);
	for (;;) {
		s = wait_ready(ch);
		if (s & ATA_ERR) {
			uint8_t e = in(b + 1, 1);

			(void)in(b + 7, 1);
			return -(long)(s | e << 8);
		}
		if (!(s & ATA_DRQ))
			break;
		{
			unsigned n = in(b + 4, 1) | in(b + 5, 1) << 8;

			if ((in(b + 2, 1) & 3) != 2 || n > lim)
				return -0x2000;
			for (unsigned i = 0; i < n; i += 2) {
				uint16_t w = in(b, 2);

				if (got + 2 <= cap)
					memcpy(p + got, &w, 2);
				got += 2;
			}
		}
	}
	(void)in(b + 7, 1);
	if ((in(b + 2, 1) & 3) != 3)
		return -0x3000;
	return (long)got;
}

/* The same by DMA into DATA (PRDs: one table of n bytes); the drive's status. */
static inline uint8_t atapi_dma(unsigned ch, unsigned slave, const uint8_t *cdb, uint32_t n,
				uint8_t *bms)
{
	uint16_t b = base(ch);

	prd_table(1, n);
	select_unit(ch, slave, 0);
	out(b + 1, 1, 1); /* DMA */
	out(b + 7, 1, 0xa0);
	if (!(wait_ready(ch) & ATA_DRQ))
		return 0xff;
	for (int i = 0; i < 12; i += 2)
		out(b, 2, cdb[i] | cdb[i + 1] << 8);
	return dma_run(ch, PRD_TABLE, true, bms);
}

#endif
