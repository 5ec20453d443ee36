/* i8042 keyboard controller, reduced to what guests use: the status and data ports
 * (0x64/0x60), the command byte, self-test, and the reset line (command 0xFE, or bit 0 of
 * the output port cleared through command 0xD1), which ends or restarts the VM
 * (DEVICE_STOP_RESET). No keyboard or mouse is attached. */
#ifndef VSRV_DEVICES_I8042_H
#define VSRV_DEVICES_I8042_H

#include <stdbool.h>
#include <stdint.h>

struct device_host;
struct i8042;

struct i8042_state {
	uint8_t cmd_byte;   /* controller configuration byte */
	uint8_t pending;    /* command waiting for its data byte (0: none) */
	uint8_t out;        /* output buffer */
	bool out_full;
	uint8_t outport;
};

/* Register ports 0x60 and 0x64 on h->pio (h: the VM's, kept until destroy). 0 and *out, or -errno. */
int i8042_create(const struct device_host *h, struct i8042 **out);
void i8042_destroy(struct i8042 *k);
void i8042_save(struct i8042 *k, struct i8042_state *st);
int i8042_restore(struct i8042 *k, const struct i8042_state *st);

#endif
