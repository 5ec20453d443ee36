/* A tiny AHCI driver for unit tests: it plays the guest against the controller
 * (src/devices/ahci.h) through PCI configuration mechanism #1 (a test's port bus) and ABAR
 * (its MMIO bus), with command lists, command tables, PRDs and received-FIS areas in a
 * test's guest memory. No KVM needed. The test creates mem, the buses (dpio, dmmio) and the
 * controller and sets abar (BAR 5). */
#ifndef VSRV_TESTS_UNIT_AHCIDRV_H
#define VSRV_TESTS_UNIT_AHCIDRV_H

#include "check.h"
#include "devices/ahci.h"
#include "vmm/bus.h"

#include <string.h>
#include <time.h>

#define MEM (16 << 20)
#define DISK_BYTES (4 << 20)
#define CLB(p) (0x100000ULL + (p) * 0x1000ULL)
#define FB(p) (0x100800ULL + (p) * 0x1000ULL)
#define CT(p, s) (0x200000ULL + ((p) * 32 + (s)) * 0x1000ULL)
#define DATA 0x800000ULL
#define DEVFN (AHCI_SLOT << 3 | AHCI_FN)

static struct guest_mem *mem;
static struct bus *dpio, *dmmio; /* the buses the controller is on */
static uint64_t abar;

static inline uint8_t *g(uint64_t gpa) { return mem->host + gpa; }

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

static inline uint32_t rd(unsigned off)
{
	uint32_t v = 0;

	bus_dispatch(dmmio, abar + off, (uint8_t *)&v, 4, false);
	return v;
}

static inline void wr(unsigned off, uint32_t v)
{
	bus_dispatch(dmmio, abar + off, (uint8_t *)&v, 4, true);
}

static inline uint32_t prd(unsigned p, unsigned off) { return rd(AHCI_PORT(p) + off); }
static inline void pwr(unsigned p, unsigned off, uint32_t v) { wr(AHCI_PORT(p) + off, v); }

static inline void port_start(unsigned p)
{
	pwr(p, PX_CMD, 0);
	pwr(p, PX_CLB, (uint32_t)CLB(p));
	pwr(p, PX_CLBU, 0);
	pwr(p, PX_FB, (uint32_t)FB(p));
	pwr(p, PX_FBU, 0);
	pwr(p, PX_IS, ~0u);
	pwr(p, PX_SERR, ~0u);
	pwr(p, PX_IE, ~0u);
	pwr(p, PX_CMD, PX_CMD_FRE | PX_CMD_ST);
}

/* The error recovery drivers do: stop the list, clear the status, start again. */
static inline void port_recover(unsigned p)
{
	pwr(p, PX_CMD, PX_CMD_FRE);
	CHECK_EQ(prd(p, PX_CMD) & PX_CMD_CR, 0);
	CHECK_EQ(prd(p, PX_CI), 0);
	pwr(p, PX_IS, ~0u);
	pwr(p, PX_CMD, PX_CMD_FRE | PX_CMD_ST);
}

struct prd_ent {
	uint64_t gpa;
	uint32_t len;
	bool intr;
};

/* Build slot s of port p: command FIS fis, ATAPI command acmd (or NULL), the PRDs. */
static inline void build(unsigned p, unsigned s, const uint8_t fis[20], const uint8_t *acmd,
		  const struct prd_ent *pr, unsigned n, bool write)
{
	uint8_t *h = g(CLB(p) + s * 32), *t = g(CT(p, s));
	uint32_t dw0 = 5 | (acmd ? 1u << 5 : 0) | (write ? 1u << 6 : 0) | n << 16;
	uint64_t ct = CT(p, s);

	memset(h, 0, 32);
	memcpy(h, &dw0, 4);
	memcpy(h + 8, &ct, 8);
	memset(t, 0, 0x80 + n * 16);
	memcpy(t, fis, 20);
	if (acmd)
		memcpy(t + 0x40, acmd, 16);
	for (unsigned i = 0; i < n; i++) {
		uint32_t dw3 = (pr[i].len - 1) | (pr[i].intr ? 1u << 31 : 0);

		memcpy(t + 0x80 + i * 16, &pr[i].gpa, 8);
		memcpy(t + 0x80 + i * 16 + 12, &dw3, 4);
	}
}

static inline void h2d(uint8_t f[20], uint8_t cmd, uint64_t lba, uint16_t count, uint8_t feat)
{
	memset(f, 0, 20);
	f[0] = FIS_H2D;
	f[1] = 0x80;
	f[2] = cmd;
	f[3] = feat;
	f[4] = lba, f[5] = lba >> 8, f[6] = lba >> 16;
	f[7] = 0x40;
	f[8] = lba >> 24, f[9] = lba >> 32, f[10] = lba >> 40;
	f[12] = count, f[13] = count >> 8;
}

/* Wait (as a driver polls) until the slot bits in CI (and SACT) are clear or the port
 * stopped on an error; returns PxIS. */
static inline uint32_t wait_done(unsigned p, uint32_t bits)
{
	for (int i = 0; i < 20000; i++) {
		uint32_t is = prd(p, PX_IS);

		if (!((prd(p, PX_CI) | prd(p, PX_SACT)) & bits) || (is & PX_IS_FATAL))
			return is;
		nanosleep(&(struct timespec){ 0, 500000 }, NULL);
	}
	CHECK(!"the command never ended");
	return 0;
}

/* Issue one command in slot 0 and wait: PxIS. */
static inline uint32_t issue(unsigned p, const uint8_t fis[20], const uint8_t *acmd,
		      const struct prd_ent *pr, unsigned n, bool write)
{
	pwr(p, PX_IS, ~0u);
	build(p, 0, fis, acmd, pr, n, write);
	pwr(p, PX_CI, 1);
	return wait_done(p, 1);
}

static inline uint32_t prdbc(unsigned p, unsigned s)
{
	uint32_t v;

	memcpy(&v, g(CLB(p) + s * 32 + 4), 4);
	return v;
}

#endif
