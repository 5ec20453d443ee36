/* 16550A UART (the PC's COM1 at 0x3f8, IRQ 4): transmit and receive with interrupts, a
 * receive FIFO, loopback, scratch and divisor registers. The backend is chosen by the VM's
 * config: the terminal (raw mode while the VM runs, restored on destroy; Ctrl-A x quits),
 * nothing, an output file, or a listening Unix socket (one client at a time).
 * Registers are accessed on vCPU threads; input arrives on the control-loop thread. Both
 * take the device's mutex. */
#ifndef VSRV_DEVICES_SERIAL_H
#define VSRV_DEVICES_SERIAL_H

#include <stdbool.h>
#include <stdint.h>

struct device_host;
struct serial;

#define SERIAL_RX_FIFO 64

/* Where the UART's bytes go (vm_config's serial mode has the same values). */
enum serial_backend {
	SERIAL_STDIO, /* the terminal (raw mode while the VM runs) */
	SERIAL_NONE,  /* output dropped, no input */
	SERIAL_FILE,  /* output appended to path, no input */
	SERIAL_UNIX,  /* a listening Unix socket at path: one client at a time */
};

struct serial_state {
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	bool thri;                       /* transmitter-empty interrupt pending */
	bool irq_level;                  /* level last driven on the GSI */
	uint8_t rx[SERIAL_RX_FIFO];      /* receive FIFO (ring) */
	unsigned rx_head, rx_count;
};

/* Create the UART at port base on h's port bus, raising gsi through h, with backend be
 * (path: the file or socket, not owned, used during the call). It asks h to sync its
 * output (write out what the guest has sent so far, without waiting) before a message
 * about why the VM ends.
 * Returns 0 and *out (free with serial_destroy) or -errno after logging one line. */
int serial_create(const struct device_host *h, enum serial_backend be, const char *path,
		  uint16_t base, uint32_t gsi, struct serial **out);

/* Stop watching the backend, restore the terminal, close the backend. NULL allowed.
 * Call on the loop thread (or after the loop has stopped). */
void serial_destroy(struct serial *s);

void serial_save(struct serial *s, struct serial_state *st);
int serial_restore(struct serial *s, const struct serial_state *st);

#endif
