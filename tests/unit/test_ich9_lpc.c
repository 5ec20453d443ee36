/* Unit tests of the ICH9 LPC bridge (devices/ich9_lpc.c) and the ACPI PM block it places
 * (devices/acpi_pm.c), through configuration mechanism #1 and the port bus as SeaBIOS
 * (mch_isa_bridge_setup, smm.c) and OVMF (PlatformInitLib) use them: PMBASE and ACPI_EN
 * moving the block, the PM timer, SMI_EN, power-off through the moved block, SCI routing,
 * the reset control register 0xcf9, hostile PMBASE values and random config writes,
 * save and restore; an AHCI controller beside it at 00:1f.2 (the LPC bridge is the slot's
 * function 0, no placeholder). */
#include "check.h"
#include "devices/ahci.h"
#include "q35rig.h"

#include <errno.h>
#include <time.h>

static void dummy_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w)
{
	(void)o; (void)off; (void)w;
	if (!w)
		memset(d, 0x77, len);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

static void seabios_setup(struct rig *r, uint16_t pm_base)
{
	static const uint8_t irqs[4] = { 10, 10, 11, 11 };

	for (int i = 0; i < 4; i++) {
		pcicfg_write(&r->pio, 31, ICH9_LPC_PIRQA + i, 1, irqs[i]);
		pcicfg_write(&r->pio, 31, ICH9_LPC_PIRQE + i, 1, irqs[i]);
	}
	pcicfg_write(&r->pio, 31, ICH9_LPC_PMBASE, 4, pm_base | 1u);
	pcicfg_write(&r->pio, 31, ICH9_LPC_ACPI_CNTL, 1, ICH9_LPC_ACPI_EN);
}

static void test_ids_and_seabios(void)
{
	struct rig r;
	uint32_t t1, t2;
	int ret;

	rig_init(&r);
	CHECK_EQ(pcicfg_read(&r.pio, 31, 0, 4), 0x29188086);
	CHECK_EQ(pcicfg_read(&r.pio, 31, 0x0a, 2), 0x0601);      /* ISA bridge */
	CHECK_EQ(pcicfg_read(&r.pio, 31, ICH9_LPC_PMBASE, 4), 1);
	CHECK_EQ(pcicfg_read(&r.pio, 31, ICH9_LPC_PIRQA, 4), 0x80808080);
	inl_(&r, 0x600, 2, &ret);
	CHECK_EQ(ret, -ENOENT);          /* the PM block waits for the firmware */
	seabios_setup(&r, 0x600);
	CHECK_EQ(pcicfg_read(&r.pio, 31, ICH9_LPC_PIRQA, 4), 0x0b0b0a0a);
	CHECK_EQ(pcicfg_read(&r.pio, 31, ICH9_LPC_PIRQE, 4), 0x0b0b0a0a);
	CHECK_EQ(pcicfg_read(&r.pio, 31, ICH9_LPC_PMBASE, 4), 0x601);
	CHECK_EQ(acpi_pm_base(r.pm), 0x600);
	CHECK_EQ(inl_(&r, 0x604, 2, NULL) & 1, 1);               /* PM1_CNT: SCI_EN */
	/* the ACPI PM timer at +8: 24 bits at 3.58 MHz, moving */
	t1 = inl_(&r, 0x608, 4, NULL);
	sleep_ms(2);
	t2 = inl_(&r, 0x608, 4, NULL);
	CHECK(t1 <= 0xffffff && t2 <= 0xffffff);
	CHECK(((t2 - t1) & 0xffffff) >= 7000);                   /* >= 2 ms of ticks */
	/* SMI_EN: APMC_EN already set, so SeaBIOS's smm.c leaves SMM alone */
	CHECK_EQ(inl_(&r, 0x630, 4, NULL), 0x20);
	outl_(&r, 0x630, 4, 0);
	CHECK_EQ(inl_(&r, 0x630, 4, NULL), 0x20);
	CHECK_EQ(inl_(&r, 0x620, 4, NULL), 0);                   /* GPE0: nothing */
	inl_(&r, 0x67f, 1, &ret);
	CHECK_EQ(ret, 0);                                        /* 128 bytes claimed */
	inl_(&r, 0x680, 1, &ret);
	CHECK_EQ(ret, -ENOENT);
	/* power off through the block where the firmware put it */
	outl_(&r, 0x604, 2, (5 << 10) | 0x2000);
	CHECK_EQ(r.stop, 0);
	rig_free(&r);
}

/* OVMF PlatformInitLib: PMBASE and-then-or (0x600), then ACPI_CNTL |= ACPI_EN; later
 * moved and disabled. */
static void test_ovmf_and_moves(void)
{
	struct rig r;
	uint32_t v;
	int ret;

	rig_init(&r);
	v = pcicfg_read(&r.pio, 31, ICH9_LPC_PMBASE, 4);
	pcicfg_write(&r.pio, 31, ICH9_LPC_PMBASE, 4, (v & ~0xffc0u) | 0x600);
	v = pcicfg_read(&r.pio, 31, ICH9_LPC_ACPI_CNTL, 1);
	pcicfg_write(&r.pio, 31, ICH9_LPC_ACPI_CNTL, 1, v | ICH9_LPC_ACPI_EN);
	CHECK_EQ(acpi_pm_base(r.pm), 0x600);
	CHECK_EQ(inl_(&r, 0x604, 2, NULL) & 1, 1);
	/* SeaBIOS's historical 0xb000 */
	pcicfg_write(&r.pio, 31, ICH9_LPC_PMBASE, 4, 0xb001);
	CHECK_EQ(acpi_pm_base(r.pm), 0xb000);
	inl_(&r, 0x604, 2, &ret);
	CHECK_EQ(ret, -ENOENT);
	CHECK_EQ(inl_(&r, 0xb004, 2, NULL) & 1, 1);
	/* ACPI_EN off: gone; on again: back */
	pcicfg_write(&r.pio, 31, ICH9_LPC_ACPI_CNTL, 1, 0);
	inl_(&r, 0xb004, 2, &ret);
	CHECK_EQ(ret, -ENOENT);
	CHECK_EQ(acpi_pm_base(r.pm), 0);
	pcicfg_write(&r.pio, 31, ICH9_LPC_ACPI_CNTL, 1, ICH9_LPC_ACPI_EN);
	CHECK_EQ(acpi_pm_base(r.pm), 0xb000);
	/* the PM state travels with the block: PM1_EN written at one place, read at another */
	outl_(&r, 0xb002, 2, 0x0100);
	pcicfg_write(&r.pio, 31, ICH9_LPC_PMBASE, 4, 0x601);
	CHECK_EQ(inl_(&r, 0x602, 2, NULL), 0x0100);
	rig_free(&r);
}

static void test_sci_routing(void)
{
	struct rig r;

	rig_init(&r);
	seabios_setup(&r, 0x600);
	outl_(&r, 0x602, 2, 0x0100);                 /* PWRBTN_EN */
	acpi_pm_power_button(r.pm);
	CHECK_EQ(r.irq[9], 1);                       /* SCI on IRQ 9 (ACPI_CNTL bits 2:0 = 0) */
	pcicfg_write(&r.pio, 31, ICH9_LPC_ACPI_CNTL, 1, ICH9_LPC_ACPI_EN | 1);
	CHECK_EQ(r.irq[9], 0);                       /* moved while asserted: old line low */
	CHECK_EQ(r.irq[10], 1);
	pcicfg_write(&r.pio, 31, ICH9_LPC_ACPI_CNTL, 1, ICH9_LPC_ACPI_EN | 7);
	CHECK_EQ(r.irq[10], 0);
	CHECK_EQ(r.irq[23], 1);
	outl_(&r, 0x600, 2, 0x0100);                 /* the OS acknowledges */
	CHECK_EQ(r.irq[23], 0);
	CHECK_EQ(ich9_lpc_sci_gsi(3), 9);            /* reserved: 9 */
	CHECK_EQ(ich9_lpc_sci_gsi(2), 11);
	CHECK_EQ(ich9_lpc_sci_gsi(4), 20);
	/* reserved ACPI_CNTL bits read as zero */
	pcicfg_write(&r.pio, 31, ICH9_LPC_ACPI_CNTL, 1, 0xf8);
	CHECK_EQ(pcicfg_read(&r.pio, 31, ICH9_LPC_ACPI_CNTL, 1), 0x80);
	rig_free(&r);
}

static void test_reset_register(void)
{
	struct rig r;
	uint8_t b;

	rig_init(&r);
	outl_(&r, ICH9_RST_CNT_PORT, 1, 0x02);       /* SYS_RST: recorded, no reset */
	CHECK_EQ(r.stop, -1);
	CHECK_EQ(inl_(&r, ICH9_RST_CNT_PORT, 1, NULL), 0x02);
	outl_(&r, ICH9_RST_CNT_PORT, 1, 0xf9);       /* only bits 1 and 3 are kept */
	CHECK_EQ(inl_(&r, ICH9_RST_CNT_PORT, 1, NULL), 0x08);
	CHECK_EQ(r.stop, -1);
	outl_(&r, ICH9_RST_CNT_PORT, 1, 0x06);       /* SYS_RST | RST_CPU: the usual reset */
	CHECK_EQ(r.stop, DEVICE_STOP_RESET);
	CHECK_EQ(inl_(&r, ICH9_RST_CNT_PORT, 1, NULL), 0);
	/* wider accesses over 0xcf8-0xcfb stay the address latch; PCI still works */
	r.stop = -1;
	outl_(&r, 0xcf8, 4, 0x80000000u | 31 << 11);
	CHECK_EQ(inl_(&r, 0xcfc, 4, NULL), 0x29188086);
	outl_(&r, ICH9_RST_CNT_PORT, 2, 0x0606);     /* a 16-bit write at 0xcf9: not RST_CNT */
	CHECK_EQ(r.stop, -1);
	b = (uint8_t)inl_(&r, ICH9_RST_CNT_PORT, 1, NULL);
	CHECK_EQ(b, 0);
	rig_free(&r);
}

static void test_hostile_pmbase(void)
{
	struct rig r;
	unsigned i, seed = 99;
	int ret;

	rig_init(&r);
	CHECK_EQ(bus_register(&r.pio, 0x3f8, 8, dummy_io, NULL, "uart"), 0);
	pcicfg_write(&r.pio, 31, ICH9_LPC_ACPI_CNTL, 1, ICH9_LPC_ACPI_EN);
	/* PMBASE 0 with ACPI_EN: not at port 0 */
	CHECK_EQ(acpi_pm_base(r.pm), 0);
	inl_(&r, 0x4, 2, &ret);
	CHECK_EQ(ret, -ENOENT);
	/* over the PCI config ports: refused, config access keeps working */
	pcicfg_write(&r.pio, 31, ICH9_LPC_PMBASE, 4, 0xc81);
	CHECK_EQ(pcicfg_read(&r.pio, 31, ICH9_LPC_PMBASE, 4), 0xc81);
	CHECK_EQ(acpi_pm_base(r.pm), 0);
	CHECK_EQ(pcicfg_read(&r.pio, 31, 0, 4), 0x29188086);
	/* over the UART */
	pcicfg_write(&r.pio, 31, ICH9_LPC_PMBASE, 4, 0x381);
	CHECK_EQ(acpi_pm_base(r.pm), 0);
	CHECK_EQ(inl_(&r, 0x3f8, 1, NULL), 0x77);
	/* reserved bits read as they must: bit 0 set, only 15:7 writable */
	pcicfg_write(&r.pio, 31, ICH9_LPC_PMBASE, 4, 0xffffffffu);
	CHECK_EQ(pcicfg_read(&r.pio, 31, ICH9_LPC_PMBASE, 4), 0xff81);
	CHECK_EQ(acpi_pm_base(r.pm), 0xff80);
	inl_(&r, 0xffff, 1, &ret);
	CHECK_EQ(ret, 0);
	pcicfg_write(&r.pio, 31, ICH9_LPC_PMBASE, 4, 0xfffe);
	CHECK_EQ(pcicfg_read(&r.pio, 31, ICH9_LPC_PMBASE, 4), 0xff81);
	/* RCBA and the PIRQs keep only their bits */
	pcicfg_write(&r.pio, 31, ICH9_LPC_RCBA, 4, 0xffffffffu);
	CHECK_EQ(pcicfg_read(&r.pio, 31, ICH9_LPC_RCBA, 4), 0xffffc001u);
	pcicfg_write(&r.pio, 31, ICH9_LPC_PIRQA, 4, 0xffffffffu);
	CHECK_EQ(pcicfg_read(&r.pio, 31, ICH9_LPC_PIRQA, 4), 0x8f8f8f8fu);
	/* random writes over the whole config space of 00:1f.0 */
	for (i = 0; i < 20000; i++) {
		unsigned off, w;

		seed = seed * 1103515245 + 12345;
		off = (seed >> 8) & 0xff;
		w = 1u << ((seed >> 20) % 3);
		seed = seed * 1103515245 + 12345;
		pcicfg_write(&r.pio, 31, off & ~(w - 1), w, seed);
		if (acpi_pm_base(r.pm)) {
			CHECK(acpi_pm_base(r.pm) % ACPI_PM_ICH9_LEN == 0);
			CHECK(acpi_pm_base(r.pm) > 0x3ff || acpi_pm_base(r.pm) + 0x80 <= 0x3f8);
		}
	}
	CHECK_EQ(pcicfg_read(&r.pio, 31, 0, 4), 0x29188086);    /* ids are read-only */
	CHECK_EQ(inl_(&r, 0x3f8, 1, NULL), 0x77);
	seabios_setup(&r, 0x600);
	CHECK_EQ(acpi_pm_base(r.pm), 0x600);
	CHECK_EQ(inl_(&r, 0x630, 1, NULL), 0x20);
	rig_free(&r);
}

static void test_lpc_save_restore(void)
{
	struct rig a, b;
	struct ich9_lpc_state st, bad, st2;

	rig_init(&a);
	rig_init(&b);
	seabios_setup(&a, 0xb000);
	pcicfg_write(&a.pio, 31, ICH9_LPC_ACPI_CNTL, 1, ICH9_LPC_ACPI_EN | 2);
	pcicfg_write(&a.pio, 31, ICH9_LPC_RCBA, 4, 0xfed1c001u);
	pcicfg_write(&a.pio, 31, 4, 2, 0x0007);
	outl_(&a, ICH9_RST_CNT_PORT, 1, 0x02);
	ich9_lpc_save(a.lpc, &st);
	CHECK_EQ(st.rst_cnt, 0x02);
	CHECK_EQ(ich9_lpc_restore(b.lpc, &st), 0);
	CHECK_EQ(acpi_pm_base(b.pm), 0xb000);
	CHECK_EQ(pcicfg_read(&b.pio, 31, ICH9_LPC_RCBA, 4), 0xfed1c001u);
	CHECK_EQ(pcicfg_read(&b.pio, 31, ICH9_LPC_PIRQE, 4), 0x0b0b0a0a);
	CHECK_EQ(pcicfg_read(&b.pio, 31, 4, 2), 0x0007);
	CHECK_EQ(inl_(&b, ICH9_RST_CNT_PORT, 1, NULL), 0x02);
	outl_(&b, 0xb002, 2, 0x0100);
	acpi_pm_power_button(b.pm);
	CHECK_EQ(b.irq[11], 1);                      /* the restored SCI route */
	ich9_lpc_save(b.lpc, &st2);
	CHECK(!memcmp(&st, &st2, sizeof(st)));
	/* states no guest can make */
	bad = st;
	bad.cfg[0] ^= 1;                             /* vendor id */
	CHECK_EQ(ich9_lpc_restore(b.lpc, &bad), -EINVAL);
	bad = st;
	bad.cfg[ICH9_LPC_PMBASE] = 0x00;             /* the I/O bit is read-only 1 */
	CHECK_EQ(ich9_lpc_restore(b.lpc, &bad), -EINVAL);
	bad = st;
	bad.cfg[ICH9_LPC_ACPI_CNTL] = 0x40;
	CHECK_EQ(ich9_lpc_restore(b.lpc, &bad), -EINVAL);
	bad = st;
	bad.rst_cnt = ICH9_RST_CPU;
	CHECK_EQ(ich9_lpc_restore(b.lpc, &bad), -EINVAL);
	bad = st;
	bad.reserved[0] = 1;
	CHECK_EQ(ich9_lpc_restore(b.lpc, &bad), -EINVAL);
	ich9_lpc_save(b.lpc, &st2);
	CHECK(!memcmp(&st, &st2, sizeof(st)));
	CHECK_EQ(b.stop, -1);
	rig_free(&a);
	rig_free(&b);
}

/* With --firmware the LPC bridge is 00:1f.0: an AHCI controller goes to 00:1f.2 without
 * its placeholder ISA bridge, the bridge's header says multi-function (operating systems
 * then scan 1f.2), and the controller's teardown leaves the bridge in place. */
static void test_ahci_beside_lpc(void)
{
	struct rig r, r2;
	struct ahci *a, *a2;
	struct ich9_lpc_state st;
	uint32_t v = 0;
	int ret;

	rig_init(&r);
	CHECK_EQ(pcicfg_read(&r.pio, 31, 0x0e, 1) & 0x80, 0);
	ret = ahci_create(r.ph, NULL, NULL, &a);
	CHECK_EQ(ret, 0);   /* not -EBUSY: 00:1f.0 is taken, 00:1f.2 is free */
	if (ret) {
		rig_free(&r);
		return;
	}
	CHECK(!a->lpc_added);
	CHECK_EQ(pcicfg_read(&r.pio, 31, 0, 4), 0x29188086);     /* still the LPC bridge */
	CHECK_EQ(pcicfg_read(&r.pio, 31, 0x0e, 1) & 0x80, 0x80); /* multi-function */
	pci_cfg_access(r.ph, 31 << 3 | 2, 0, (uint8_t *)&v, 4, false);
	CHECK_EQ(v, 0x29228086);                                 /* the AHCI controller */
	pci_cfg_access(r.ph, 31 << 3 | 1, 0, (uint8_t *)&v, 4, false);
	CHECK_EQ(v, 0xffffffff);
	/* the bridge's state moves to a VM built the same way */
	seabios_setup(&r, 0x600);
	ich9_lpc_save(r.lpc, &st);
	rig_init(&r2);
	CHECK_EQ(ahci_create(r2.ph, NULL, NULL, &a2), 0);
	CHECK_EQ(ich9_lpc_restore(r2.lpc, &st), 0);
	CHECK_EQ(acpi_pm_base(r2.pm), 0x600);
	ahci_destroy(a2);
	rig_free(&r2);
	ahci_destroy(a);
	CHECK_EQ(pcicfg_read(&r.pio, 31, 0, 4), 0x29188086);
	pci_cfg_access(r.ph, 31 << 3 | 2, 0, (uint8_t *)&v, 4, false);
	CHECK_EQ(v, 0xffffffff);
	rig_free(&r);
}

int main(void)
{
	RUN(test_ids_and_seabios);
	RUN(test_ovmf_and_moves);
	RUN(test_sci_routing);
	RUN(test_reset_register);
	RUN(test_hostile_pmbase);
	RUN(test_lpc_save_restore);
	RUN(test_ahci_beside_lpc);
	return check_done();
}
