/* Debug-exit port, compatible with QEMU's isa-debug-exit: a guest write of V ends the VM
 * with exit status (V << 1) | 1. Reads return all ones. */
#ifndef VSRV_DEVICES_DEBUG_EXIT_H
#define VSRV_DEVICES_DEBUG_EXIT_H

#include <stdint.h>

struct device_host;
struct debug_exit;

/* The device has no state to save: there is nothing between writes. */
struct debug_exit_state { uint16_t port; };

/* Register the port on h->pio (h: the VM's, kept until destroy). Returns 0 and *out (free with debug_exit_destroy) or -errno. */
int debug_exit_create(const struct device_host *h, uint16_t port, struct debug_exit **out);
void debug_exit_destroy(struct debug_exit *d);
void debug_exit_save(const struct debug_exit *d, struct debug_exit_state *st);
int debug_exit_restore(struct debug_exit *d, const struct debug_exit_state *st);

#endif
