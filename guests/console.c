/* console: echoes each line received on COM1, taking receive interrupts through the I/O APIC
 * (ISA IRQ 4). Prints "console: ready" once interrupts are on; for every line prints
 * "echo: LINE"; the line "quit" ends the guest with the pass status. It also takes the ACPI
 * power button (vsrv's PM1 registers at 0x600, the SCI on GSI 9): a press prints
 * "console: power button" and powers off through PM1a_CNT (S5), so `vsrv run` ends with 0.
 * Elsewhere (QEMU microvm) nothing answers at 0x600 and the button never comes.
 * With `prompt=STR` on the command line (the demo VM of `make run`), it says how to use it
 * and prints STR and a space before each line it waits for. */
#include "rt/rt.h"

#define COM1 0x3f8
#define VEC_COM1 0x24
#define VEC_SCI  0x29
#define PM1_STS  0x600
#define PM1_EN   0x602
#define PM1_CNT  0x604
#define PWRBTN   0x0100

static char line[256], prompt[32];
static size_t len;
static volatile int quit;
static uint64_t bytes, lines, irq_bytes;

static void take(char c)
{
	bytes++;
	if (c == '\n' || c == '\r') {
		if (!len)
			return;
		line[len] = 0;
		lines++;
		if (!strcmp(line, "quit"))
			quit = 1;
		else
			rt_printf("echo: %s\n", line);
		if (prompt[0] && !quit)
			rt_printf("%s ", prompt);
		len = 0;
	} else if (len < sizeof(line) - 1) {
		line[len++] = c;
	}
}

static void drain(void)
{
	while (rt_inb(COM1 + 5) & 1)
		take((char)rt_inb(COM1));
}

static int on_com1(struct rt_frame *f)
{
	(void)f;
	uint64_t b = bytes;
	drain();
	irq_bytes += bytes - b;
	rt_lapic_eoi();
	return 1;
}

static int on_sci(struct rt_frame *f)
{
	(void)f;
	if (rt_inw(PM1_STS) & PWRBTN) {
		rt_outw(PM1_STS, PWRBTN); /* write 1 to clear: the SCI goes down */
		quit = 2;
	}
	rt_lapic_eoi();
	return 1;
}

int main(void)
{
	rt_irq_init();
	rt_set_handler(VEC_COM1, on_com1);
	rt_ioapic_route(4, VEC_COM1, rt_lapic_id(), 0);
	rt_set_handler(VEC_SCI, on_sci);
	rt_ioapic_route(9, VEC_SCI, rt_lapic_id(), 0);
	rt_outw(PM1_EN, PWRBTN);
	for (size_t i = 0; i < rt_serial_early_len; i++)
		take(rt_serial_early[i]);
	rt_outb(COM1 + 2, 0x01); /* FIFOs stay on (not cleared), interrupt at 1 byte */
	rt_outb(COM1 + 4, 0x0b); /* DTR, RTS, OUT2 (the IRQ line on PCs) */
	rt_outb(COM1 + 1, 0x01); /* interrupt on received data */
	drain();                 /* anything that arrived before the interrupt was on */
	rt_puts("console: ready\n");
	if (rt_param("prompt", prompt, sizeof(prompt)) >= 0 && prompt[0])
		rt_printf("console: type a line and it comes back as \"echo: LINE\"; \"quit\" ends "
			  "the guest\n%s ", prompt);
	while (!quit)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	rt_outb(COM1 + 1, 0x00);
	rt_printf("console: %lu bytes (%lu through interrupts), %lu lines received\n", bytes, irq_bytes, lines);
	if (quit == 2) {
		rt_puts("console: power button\n");
		rt_outw(PM1_CNT, (5 << 10) | (1 << 13)); /* SLP_TYP S5, SLP_EN */
	}
	return 0;
}
