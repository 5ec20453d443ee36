/* Shared set-up for unit tests that work on files: a scratch directory, paths inside it,
 * and a deterministic byte pattern.
 *   int main(void) { if (scratch_make("vsrv-foo")) return 1; RUN(...); scratch_remove(); ... }
 * Everything here is static to the including test program. */
#ifndef VSRV_TESTS_UNIT_SCRATCH_H
#define VSRV_TESTS_UNIT_SCRATCH_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The whole file at path (a firmware image, a vars file) into a new buffer (the caller
 * frees it; at least 1 byte), its size into *len. Aborts when it cannot be read whole: a
 * test's inputs are there or the test is broken. */
static inline uint8_t *file_slurp(const char *path, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *b;

	if (fd < 0 || fstat(fd, &st))
		abort();
	b = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!b || read(fd, b, st.st_size) != st.st_size)
		abort();
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

#endif
