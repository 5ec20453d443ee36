/* I/O buses: the port-I/O bus and the MMIO bus. A device registers the range it owns with a
 * handler; a vCPU exit is dispatched to the handler owning the address.
 * Handlers run on vCPU threads, possibly several at once: a device protects its own state
 * (its own mutex) and never blocks on I/O in a handler. Ranges may be (un)registered while
 * vCPUs run, even from inside a handler (PCI BAR moves): dispatch reads an immutable table
 * through one atomic pointer, and a change publishes a new table. Old tables are kept until
 * bus_destroy (changes are rare: a few per boot). */
#ifndef VSRV_VMM_BUS_H
#define VSRV_VMM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* offset: address minus the range's base. data: len bytes (1, 2, 4 or 8 for port I/O and
 * most MMIO), to fill on a read, to consume on a write (little-endian as the guest wrote). */
typedef void (*bus_io_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			  bool is_write);

struct bus_range {
	uint64_t base, len;
	bus_io_fn fn;
	void *opaque;
	const char *name; /* not owned: a string literal or the device's own */
};

struct bus_table {
	struct bus_table *older; /* retired tables, freed by bus_destroy */
	size_t n;
	struct bus_range r[];    /* sorted by base, non-overlapping */
};

struct bus {
	pthread_mutex_t lock;     /* serialises changes, never taken by dispatch */
	struct bus_table *table;  /* current table, read with an acquire load */
};

void bus_init(struct bus *b);
void bus_destroy(struct bus *b);

/* Claim [base, base + len). Returns 0, -EINVAL (len 0 or wrapping), -EEXIST (overlaps a
 * registered range) or -ENOMEM. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque,
		 const char *name);

/* Release the range that starts at base. Returns 0 or -ENOENT. */
int bus_unregister(struct bus *b, uint64_t base);

/* Deliver one access. Returns 0, or -ENOENT when no device owns addr (the caller then
 * ignores a write and returns all ones for a read). An access that straddles the end of a
 * range goes to the range holding its first byte. */
int bus_dispatch(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
