/* The Intel MultiProcessor Specification 1.4 table: how SMP guests without ACPI find their
 * CPUs, the IOAPIC and the ISA interrupt wiring. Written into the BIOS area at 0xF0000,
 * which the e820 map marks reserved. ISA IRQ n is IOAPIC pin n, the PIT's IRQ 0 included, as
 * KVM routes them by default (QEMU instead reroutes IRQ 0 to pin 2); the PIC reaches the
 * CPUs through LINT0 (ExtINT). */
#include "arch/x86/tables.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "util/log.h"
#include "vmm/vm.h"

struct mpf {               /* floating pointer */
	char sig[4];
	uint32_t physptr;
	uint8_t length, spec_rev, checksum, feature1;
	uint8_t feature2, feature3, feature4, feature5;
} __attribute__((packed));

struct mpc_header {
	char sig[4];
	uint16_t length;
	uint8_t spec_rev, checksum;
	char oem[8], product[12];
	uint32_t oem_ptr;
	uint16_t oem_size, count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum, reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type, apic_id, apic_ver, flags;
	uint32_t signature, features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type, id;
	char name[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type, id, ver, flags;
	uint32_t addr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type, irqtype;
	uint16_t flags;
	uint8_t src_bus, src_irq, dst_apic, dst_pin;
} __attribute__((packed));

enum { MP_CPU, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

static uint8_t checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (n--)
		s += *b++;
	return (uint8_t)-s;
}

int x86_mptable_write(struct vm *vm)
{
	unsigned nr = vm->cfg->nr_cpus, i, ioapic_id = nr;
	size_t size = sizeof(struct mpf) + sizeof(struct mpc_header) +
		      nr * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
		      sizeof(struct mpc_ioapic) + 16 * sizeof(struct mpc_intsrc) +
		      2 * sizeof(struct mpc_intsrc);
	uint8_t *base = guest_mem_ptr(vm->mem, BOOT_MPTABLE_ADDR, size), *p;
	struct mpf *mpf;
	struct mpc_header *h;
	uint16_t count = 0;

	if (!base) {
		vsrv_log("no room for the MP table");
		return -ENOMEM;
	}
	memset(base, 0, size);
	mpf = (struct mpf *)base;
	h = (struct mpc_header *)(mpf + 1);
	p = (uint8_t *)(h + 1);

	for (i = 0; i < nr; i++) {
		struct mpc_cpu *c = (struct mpc_cpu *)p;
		c->type = MP_CPU;
		c->apic_id = (uint8_t)i;
		c->apic_ver = 0x14;
		c->flags = 1 | (i == 0 ? 2 : 0); /* enabled, BSP */
		c->signature = 0x600;            /* family 6 */
		c->features = 0x201;             /* FPU, APIC */
		p += sizeof(*c);
		count++;
	}
	{
		struct mpc_bus *b = (struct mpc_bus *)p;
		b->type = MP_BUS;
		b->id = 0;
		memcpy(b->name, "ISA   ", 6);
		p += sizeof(*b);
		count++;
	}
	{
		struct mpc_ioapic *io = (struct mpc_ioapic *)p;
		io->type = MP_IOAPIC;
		io->id = (uint8_t)ioapic_id;
		io->ver = 0x11;
		io->flags = 1;
		io->addr = X86_IOAPIC_ADDR;
		p += sizeof(*io);
		count++;
	}
	/* ISA IRQs 0..15 on the same IOAPIC pins, but IRQ 2 (the PIC cascade). */
	for (i = 0; i < 16; i++) {
		struct mpc_intsrc *s = (struct mpc_intsrc *)p;
		if (i == 2)
			continue;
		s->type = MP_INTSRC;
		s->irqtype = MP_INT;
		s->flags = 0; /* conforms to the bus: ISA is edge-triggered, active high */
		s->src_bus = 0;
		s->src_irq = (uint8_t)i;
		s->dst_apic = (uint8_t)ioapic_id;
		s->dst_pin = (uint8_t)i;
		p += sizeof(*s);
		count++;
	}
	/* Local interrupts: ExtINT on LINT0, NMI on LINT1, on every CPU. */
	for (i = 0; i < 2; i++) {
		struct mpc_intsrc *s = (struct mpc_intsrc *)p;
		s->type = MP_LINTSRC;
		s->irqtype = i == 0 ? MP_EXTINT : MP_NMI;
		s->src_bus = 0;
		s->src_irq = 0;
		s->dst_apic = 0xff;
		s->dst_pin = (uint8_t)i;
		p += sizeof(*s);
		count++;
	}

	memcpy(h->sig, "PCMP", 4);
	h->length = (uint16_t)(p - (uint8_t *)h);
	h->spec_rev = 4;
	memcpy(h->oem, "VSRV    ", 8);
	memcpy(h->product, "VSRV VM     ", 12);
	h->count = count;
	h->lapic = 0xfee00000u;
	h->checksum = checksum(h, h->length);

	memcpy(mpf->sig, "_MP_", 4);
	mpf->physptr = BOOT_MPTABLE_ADDR + sizeof(*mpf);
	mpf->length = 1;
	mpf->spec_rev = 4;
	mpf->checksum = checksum(mpf, sizeof(*mpf));
	return 0;
}
