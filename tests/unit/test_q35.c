/* Unit tests of the q35 MCH registers (devices/q35.c) on the PCI host bridge, through
 * configuration mechanism #1 as SeaBIOS and OVMF write them: PCIEXBAR moving ECAM (and
 * hostile values: reserved bits, the reserved length, over RAM, past the I/O APIC, above
 * 4 GiB, over another device, random writes), PAM as SeaBIOS's shadow.c unlocks and locks
 * the BIOS area, SMRAM/ESMRAMC, save and restore; and that direct boot's fixed ECAM is as
 * before. */
#include "check.h"
#include "q35rig.h"

#include <errno.h>

static void dummy_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w)
{
	(void)o; (void)off; (void)w;
	if (!w)
		memset(d, 0x77, len);
}

static void pciexbar_write(struct rig *r, uint64_t v)
{
	/* SeaBIOS mch_mem_addr_setup: low 0, high, then low with the enable bit */
	pcicfg_write(&r->pio, 0, Q35_PCIEXBAR, 4, 0);
	pcicfg_write(&r->pio, 0, Q35_PCIEXBAR + 4, 4, (uint32_t)(v >> 32));
	pcicfg_write(&r->pio, 0, Q35_PCIEXBAR, 4, (uint32_t)v);
}

static uint64_t pciexbar_read(struct rig *r)
{
	return pcicfg_read(&r->pio, 0, Q35_PCIEXBAR, 4) |
	       (uint64_t)pcicfg_read(&r->pio, 0, Q35_PCIEXBAR + 4, 4) << 32;
}

static void test_ecam_seabios_ovmf(void)
{
	struct rig r;
	uint64_t len;
	int ret;

	rig_init(&r);
	CHECK_EQ(pcicfg_read(&r.pio, 0, 0, 4), 0x29c08086);
	CHECK_EQ(pcicfg_read(&r.pio, 31, 0, 4), 0x29188086);
	CHECK_EQ(pciexbar_read(&r), 0);
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0);
	mmio_read32(&r, 0xb0000000ULL, &ret);
	CHECK_EQ(ret, -ENOENT);                         /* no ECAM before the firmware */
	pciexbar_write(&r, 0xb0000001ULL);
	CHECK_EQ(pciexbar_read(&r), 0xb0000001ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, &len), 0xb0000000ULL);
	CHECK_EQ(len, 256 << 20);
	CHECK_EQ(mmio_read32(&r, 0xb0000000ULL, NULL), 0x29c08086);
	CHECK_EQ(mmio_read32(&r, 0xb0000000ULL + (31 << 15), NULL), 0x29188086);
	/* other buses: claimed by the window, no device */
	CHECK_EQ(mmio_read32(&r, 0xb0100000ULL, &ret), 0xffffffffu);
	CHECK_EQ(ret, 0);
	CHECK_EQ(mmio_read32(&r, 0xbffffffcULL, &ret), 0xffffffffu);
	CHECK_EQ(ret, 0);
	mmio_read32(&r, 0xc0000000ULL, &ret);
	CHECK_EQ(ret, -ENOENT);
	/* ECAM writes reach config space: the command register of 00:1f.0 */
	{
		uint16_t cmd = 0x0007;

		bus_dispatch(&r.mmio, 0xb0000000ULL + (31 << 15) + 4, (uint8_t *)&cmd, 2, true);
		CHECK_EQ(pcicfg_read(&r.pio, 31, 4, 2), 0x0007);
	}
	/* OVMF (PlatformInitLib): high half first, then the low half with the enable bit */
	pcicfg_write(&r.pio, 0, Q35_PCIEXBAR, 4, 0);
	mmio_read32(&r, 0xb0000000ULL, &ret);
	CHECK_EQ(ret, -ENOENT);                         /* disabled: gone */
	pcicfg_write(&r.pio, 0, Q35_PCIEXBAR + 4, 4, 0);
	pcicfg_write(&r.pio, 0, Q35_PCIEXBAR, 4, 0xb0000001u);
	CHECK_EQ(mmio_read32(&r, 0xb0000000ULL, NULL), 0x29c08086);
	/* moved, 128 and 64 MiB lengths */
	pciexbar_write(&r, 0xc0000003ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, &len), 0xc0000000ULL);
	CHECK_EQ(len, 128 << 20);
	mmio_read32(&r, 0xb0000000ULL, &ret);
	CHECK_EQ(ret, -ENOENT);
	CHECK_EQ(mmio_read32(&r, 0xc0000000ULL, NULL), 0x29c08086);
	mmio_read32(&r, 0xc8000000ULL, &ret);
	CHECK_EQ(ret, -ENOENT);                         /* past 128 MiB */
	pciexbar_write(&r, 0xe4000005ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, &len), 0xe4000000ULL);
	CHECK_EQ(len, 64 << 20);
	CHECK_EQ(mmio_read32(&r, 0xe4000000ULL, NULL), 0x29c08086);
	/* moved from within ECAM itself (the handler re-registers its own range) */
	pciexbar_write(&r, 0xb0000001ULL);
	{
		uint32_t v = 0xc0000001u;

		CHECK_EQ(bus_dispatch(&r.mmio, 0xb0000000ULL + Q35_PCIEXBAR, (uint8_t *)&v, 4, true), 0);
		CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0xc0000000ULL);
		CHECK_EQ(mmio_read32(&r, 0xc0000000ULL, NULL), 0x29c08086);
		mmio_read32(&r, 0xb0000000ULL, &ret);
		CHECK_EQ(ret, -ENOENT);
	}
	/* byte writes too */
	pcicfg_write(&r.pio, 0, Q35_PCIEXBAR, 1, 0x00);
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0);
	pcicfg_write(&r.pio, 0, Q35_PCIEXBAR + 3, 1, 0xb0);
	pcicfg_write(&r.pio, 0, Q35_PCIEXBAR, 1, 0x01);
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0xb0000000ULL);
	rig_free(&r);
}

static void test_ecam_hostile(void)
{
	struct rig r;
	unsigned i, seed = 7;
	uint64_t len;
	int ret;

	rig_init(&r);
	/* reserved bits read back as zero; the value still decodes */
	pciexbar_write(&r, 0xfffff00fb0fffff9ULL);
	CHECK_EQ(pciexbar_read(&r), 0x0000000fb0000001ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0);          /* that is above 4 GiB: refused */
	pciexbar_write(&r, 0xb0fffff9ULL);
	CHECK_EQ(pciexbar_read(&r), 0xb0000001ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0xb0000000ULL);
	/* the reserved length */
	pciexbar_write(&r, 0xb0000007ULL);
	CHECK_EQ(pciexbar_read(&r), 0xb0000007ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0);
	mmio_read32(&r, 0xb0000000ULL, &ret);
	CHECK_EQ(ret, -ENOENT);
	/* over RAM (low RAM ends at 0xb0000000 here), at 0 */
	pciexbar_write(&r, 0x80000001ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0);
	pciexbar_write(&r, 0xac000005ULL);               /* 64 MiB ending in RAM */
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0);
	pciexbar_write(&r, 0x00000001ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0);
	/* past the I/O APIC, across 4 GiB, above 4 GiB */
	pciexbar_write(&r, 0xf0000001ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0);
	pciexbar_write(&r, 0xfc000005ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0);
	pciexbar_write(&r, 0x100000001ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0);
	pciexbar_write(&r, 0xe0000001ULL);               /* 0xe0000000 + 256 MiB: fits */
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0xe0000000ULL);
	/* over another MMIO device: refused, the device keeps its range */
	CHECK_EQ(bus_register(&r.mmio, 0xc8000000ULL, 0x1000, dummy_io, NULL, "other"), 0);
	pciexbar_write(&r, 0xc0000001ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, NULL), 0);
	CHECK_EQ(mmio_read32(&r, 0xc8000000ULL, NULL), 0x77777777u);
	mmio_read32(&r, 0xc0000000ULL, &ret);
	CHECK_EQ(ret, -ENOENT);
	/* an unaligned base is aligned down (the low base bits are not part of the base) */
	pciexbar_write(&r, 0xb4000001ULL);
	CHECK_EQ(q35_mch_ecam(r.mch, &len), 0xb0000000ULL);
	/* random writes of every width to the register and around it */
	for (i = 0; i < 20000; i++) {
		unsigned off, w;

		seed = seed * 1103515245 + 12345;
		off = Q35_PCIEXBAR - 4 + (seed >> 8) % 16;
		w = 1u << ((seed >> 20) % 3);
		seed = seed * 1103515245 + 12345;
		pcicfg_write(&r.pio, 0, off & ~(w - 1), w, seed);
		len = 0;
		if (q35_mch_ecam(r.mch, &len)) {
			CHECK(q35_mch_ecam(r.mch, NULL) >= RIG_LOW_RAM);
			CHECK(q35_mch_ecam(r.mch, NULL) + len <= Q35_MMIO_END);
		}
	}
	CHECK_EQ(pciexbar_read(&r) & ~Q35_PCIEXBAR_MASK, 0);
	pciexbar_write(&r, 0xb0000001ULL);
	CHECK_EQ(mmio_read32(&r, 0xb0000000ULL, NULL), 0x29c08086);
	CHECK_EQ(mmio_read32(&r, 0xc8000000ULL, NULL), 0x77777777u);
	rig_free(&r);
}

/* SeaBIOS shadow.c: unlock (PAM1-6 = 0x33 byte by byte, PAM0 = 0x30), then lock with two
 * 32-bit writes at 0x90 and 0x94 (0x11 per PAM1-6, PAM0 0x10). */
static void test_pam_seabios(void)
{
	struct rig r;
	uint32_t base, size;
	unsigned i;

	rig_init(&r);
	for (i = 0; i < Q35_PAM_REGIONS; i++)
		CHECK_EQ(q35_mch_pam_attr(r.mch, i), Q35_PAM_ROM);
	CHECK_EQ(pcicfg_read(&r.pio, 0, Q35_PAM0, 1) & 0x10, 0);  /* no RAM at 0xf0000 yet */
	for (i = 0; i < 6; i++)
		pcicfg_write(&r.pio, 0, Q35_PAM0 + 1 + i, 1, 0x33);
	pcicfg_write(&r.pio, 0, Q35_PAM0, 1, 0x30);
	CHECK_EQ(r.pam_calls, Q35_PAM_REGIONS);
	for (i = 0; i < Q35_PAM_REGIONS; i++) {
		CHECK_EQ(r.pam[i], Q35_PAM_RAM);
		CHECK_EQ(q35_mch_pam_attr(r.mch, i), Q35_PAM_RAM);
	}
	r.pam_calls = 0;
	pcicfg_write(&r.pio, 0, 0x90, 4, 0x11111110);
	pcicfg_write(&r.pio, 0, 0x94, 4, 0x00111111);    /* 0x97 is not a PAM: ignored */
	CHECK_EQ(r.pam_calls, Q35_PAM_REGIONS);
	for (i = 0; i < Q35_PAM_REGIONS; i++)
		CHECK_EQ(r.pam[i], Q35_PAM_READ);
	CHECK_EQ(pcicfg_read(&r.pio, 0, 0x94, 4), 0x00111111);
	/* one region alone: PAM3's high half (0xd4000; its low half 0xd0000 stays READ) */
	r.pam_calls = 0;
	pcicfg_write(&r.pio, 0, Q35_PAM0 + 3, 1, 0x21);
	CHECK_EQ(r.pam_calls, 1);
	CHECK_EQ(r.pam[6], Q35_PAM_WRITE);
	q35_pam_region(6, &base, &size);
	CHECK_EQ(base, 0xd4000);
	CHECK_EQ(r.pam[5], Q35_PAM_READ);
	CHECK_EQ(size, 0x4000);
	q35_pam_region(0, &base, &size);
	CHECK_EQ(base, 0xf0000);
	CHECK_EQ(size, 0x10000);
	q35_pam_region(12, &base, &size);
	CHECK_EQ(base + size, 0xf0000);
	/* reserved bits: read as zero, change nothing */
	r.pam_calls = 0;
	pcicfg_write(&r.pio, 0, Q35_PAM0 + 3, 1, 0xed);  /* = 0x21 | reserved bits */
	CHECK_EQ(pcicfg_read(&r.pio, 0, Q35_PAM0 + 3, 1), 0x21);
	CHECK_EQ(r.pam_calls, 0);
	pcicfg_write(&r.pio, 0, Q35_PAM0, 1, 0xcf);
	CHECK_EQ(pcicfg_read(&r.pio, 0, Q35_PAM0, 1), 0x00);
	CHECK_EQ(r.pam[0], Q35_PAM_ROM);
	/* SMRAM: bits 6:3 writable, 2:0 fixed; ESMRAMC read-only */
	pcicfg_write(&r.pio, 0, Q35_SMRAM, 1, 0xff);
	CHECK_EQ(pcicfg_read(&r.pio, 0, Q35_SMRAM, 1), 0x7a);
	pcicfg_write(&r.pio, 0, Q35_SMRAM, 1, 0x02 | 0x48);
	CHECK_EQ(pcicfg_read(&r.pio, 0, Q35_SMRAM, 1), 0x4a);
	pcicfg_write(&r.pio, 0, Q35_ESMRAMC, 1, 0);
	CHECK_EQ(pcicfg_read(&r.pio, 0, Q35_ESMRAMC, 1), 0x38);
	rig_free(&r);
}

static void test_mch_save_restore(void)
{
	struct rig a, b;
	struct q35_mch_state st, bad, st2;
	struct pci_host_state hs;
	unsigned i;

	rig_init(&a);
	rig_init(&b);
	pciexbar_write(&a, 0xb0000001ULL);
	for (i = 0; i < 6; i++)
		pcicfg_write(&a.pio, 0, Q35_PAM0 + 1 + i, 1, i & 1 ? 0x13 : 0x31);
	pcicfg_write(&a.pio, 0, Q35_PAM0, 1, 0x20);
	pcicfg_write(&a.pio, 0, Q35_SMRAM, 1, 0x0a);
	q35_mch_save(a.mch, &st);
	pci_host_save(a.ph, &hs);
	CHECK_EQ(st.pciexbar, 0xb0000001ULL);
	/* into a fresh chipset, as the VMM would: the bridge's bytes, then the MCH */
	CHECK_EQ(pci_host_restore(b.ph, &hs), 0);
	CHECK_EQ(q35_mch_restore(b.mch, &st), 0);
	CHECK_EQ(q35_mch_ecam(b.mch, NULL), 0xb0000000ULL);
	CHECK_EQ(mmio_read32(&b, 0xb0000000ULL + (31 << 15), NULL), 0x29188086);
	CHECK_EQ(b.pam_calls, Q35_PAM_REGIONS);          /* the VMM hears every region */
	for (i = 0; i < Q35_PAM_REGIONS; i++)
		CHECK_EQ(b.pam[i], (int)q35_mch_pam_attr(a.mch, i));
	CHECK_EQ(b.pam[0], Q35_PAM_WRITE);
	CHECK_EQ(pcicfg_read(&b.pio, 0, Q35_SMRAM, 1), 0x0a);
	q35_mch_save(b.mch, &st2);
	CHECK(!memcmp(&st, &st2, sizeof(st)));
	/* states no guest can make */
	bad = st;
	bad.pciexbar |= 0x100;
	CHECK_EQ(q35_mch_restore(b.mch, &bad), -EINVAL);
	bad = st;
	bad.pam[4] = 0x44;
	CHECK_EQ(q35_mch_restore(b.mch, &bad), -EINVAL);
	bad = st;
	bad.pam[0] = 0x03;
	CHECK_EQ(q35_mch_restore(b.mch, &bad), -EINVAL);
	bad = st;
	bad.smram = 0x00;
	CHECK_EQ(q35_mch_restore(b.mch, &bad), -EINVAL);
	bad = st;
	bad.reserved[7] = 1;
	CHECK_EQ(q35_mch_restore(b.mch, &bad), -EINVAL);
	q35_mch_save(b.mch, &st2);
	CHECK(!memcmp(&st, &st2, sizeof(st)));
	/* a refused window restores as refused */
	pciexbar_write(&a, 0x80000001ULL);
	q35_mch_save(a.mch, &st);
	CHECK_EQ(q35_mch_restore(b.mch, &st), 0);
	CHECK_EQ(q35_mch_ecam(b.mch, NULL), 0);
	rig_free(&a);
	rig_free(&b);
}

/* Direct boot: a fixed ECAM at 0xe0000000 (1 MiB, bus 0) exactly as before, which the MCH
 * does not take over; pci_host_add_at's checks. */
static void test_direct_boot_unchanged(void)
{
	struct bus pio, mmio;
	struct pci_host *ph;
	struct q35_mch *m = NULL;
	struct pci_dev d;
	uint32_t v = 0;
	uint8_t b = 0;

	bus_init(&pio);
	bus_init(&mmio);
	CHECK_EQ(pci_host_create(&pio, &mmio, 0xe0000000ULL, 0xe1000000ULL, 0xfe000000ULL, &ph), 0);
	CHECK_EQ(bus_dispatch(&mmio, 0xe0000000ULL, (uint8_t *)&v, 4, false), 0);
	CHECK_EQ(v, 0x29c08086);
	CHECK_EQ(bus_dispatch(&mmio, 0xe0100000ULL, (uint8_t *)&v, 4, false), -ENOENT);
	CHECK_EQ(q35_mch_create(ph, 0x80000000ULL, NULL, NULL, &m), -EBUSY);
	CHECK_EQ(pcicfg_read(&pio, 0, Q35_PCIEXBAR, 4), 0);
	pcicfg_write(&pio, 0, Q35_PCIEXBAR, 4, 0xb0000001u);  /* no such register here */
	CHECK_EQ(pcicfg_read(&pio, 0, Q35_PCIEXBAR, 4), 0);
	CHECK_EQ(bus_dispatch(&mmio, 0xb0000000ULL, (uint8_t *)&v, 4, false), -ENOENT);
	/* 0xcf9 without an LPC bridge: ignored, reads all ones, as before */
	CHECK_EQ(bus_dispatch(&pio, 0xcf9, &b, 1, false), 0);
	CHECK_EQ(b, 0xff);
	pci_dev_init(&d, "t", 0x1af4, 0x1000, 0, 0, 0, 0);
	CHECK_EQ(pci_host_add_at(ph, &d, 32, 0), -EINVAL);
	CHECK_EQ(pci_host_add_at(ph, &d, 31, 0), 0);
	CHECK_EQ(pcicfg_read(&pio, 31, 0, 4), 0x10001af4);
	CHECK_EQ(pci_host_add_at(ph, &d, 31, 0), -EBUSY);
	pci_host_remove(ph, &d);
	CHECK_EQ(pci_host_set_ecam(ph, 0xe0080000ULL, 1 << 20), -EINVAL);  /* misaligned */
	CHECK_EQ(pci_host_set_ecam(ph, 0xe0000000ULL, 3 << 19), -EINVAL);  /* not whole buses */
	CHECK_EQ(pci_host_set_ecam(ph, 0xfffffffff0000000ULL, 256 << 20), -EINVAL); /* wraps */
	pci_host_destroy(ph);
	bus_destroy(&mmio);
	bus_destroy(&pio);
}

int main(void)
{
	RUN(test_ecam_seabios_ovmf);
	RUN(test_ecam_hostile);
	RUN(test_pam_seabios);
	RUN(test_mch_save_restore);
	RUN(test_direct_boot_unchanged);
	return check_done();
}
