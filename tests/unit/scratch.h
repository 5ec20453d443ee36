/* Shared set-up for unit tests that work on files: a scratch directory, paths inside it,
 * and a deterministic byte pattern.
 *   int main(void) { if (scratch_make("vsrv-foo")) return 1; RUN(...); scratch_remove(); ... }
 * Everything here is static to the including test program. */
#ifndef VSRV_TESTS_UNIT_SCRATCH_H
#define VSRV_TESTS_UNIT_SCRATCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The scratch directory's path, set by scratch_make(); owned by this header. */
static char scratch_dir[64];

/* Create /tmp/<prefix>-XXXXXX as the scratch directory. 0, or -1 after printing
 * "FAIL setup: mkdtemp". */
static inline int scratch_make(const char *prefix)
{
	snprintf(scratch_dir, sizeof(scratch_dir), "/tmp/%s-XXXXXX", prefix);
	if (!mkdtemp(scratch_dir)) {
		printf("FAIL setup: mkdtemp\n");
		return -1;
	}
	return 0;
}

/* Remove the scratch directory and everything in it (best effort). */
static inline void scratch_remove(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", scratch_dir);
	if (system(cmd)) {}
}

/* The path of name inside the scratch directory. The result lives in one of 8 static buffers
 * that are reused in turn: it stays valid for the next 7 calls. */
static inline const char *P(const char *name)
{
	static char buf[8][512];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", scratch_dir, name);
	return buf[i];
}

/* Fill b[0..len) with a pattern that depends on seed and on the offset:
 * b[i] = seed * 131 + i * 7 + i / 512 + bias (mod 256). */
static inline void pattern_fill(uint8_t *b, size_t len, unsigned seed, unsigned bias)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9) + bias);
}

#endif
