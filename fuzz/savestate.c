/* libFuzzer target: the saved-VM file parser (src/vmm/savestate_file.c). The input is a
 * whole file: it goes into a memfd, savestate_read parses and checks it, and when it is
 * accepted and names at most 64 MiB of RAM, savestate_load_memory loads the pages into a
 * fresh mapping, and savestate_map_memory (src/vmm/savestate_map.c, the lazy restore, with a
 * budget of 3 mappings so that runs are both mapped and read) into a fresh guest memory:
 * both must give the same memory; whatever it accepts (a FIRMWARE section with its variable
 * store among it) must pass savestate_check too. Nothing may crash, hang, leak or read out
 * of bounds; every refusal must come with a reason. Built with
 * FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, the parser does not compare CRCs (mutated inputs
 * get past them to the checks behind), everything else is the same. With fuzz/run_corpus.c
 * instead of libFuzzer it replays files: the test suite runs fuzz/corpus/savestate that way
 * under ASan/UBSan (tests/t-savestate-fuzz.sh). */
#include "vmm/savestate_file.h"
#include "vmm/savestate_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_MAX_MEM (64ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct savestate *s = NULL;
	const char *why = NULL;
	int fd, ret;

	fd = memfd_create("savestate-fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	ret = savestate_read(fd, &s, &why);
	if (ret) {
		if (!why || !*why)
			abort(); /* a refusal without a reason */
	} else if (savestate_check(s, &why) ||
		   (s->has_fw && s->fw.vars_size && !s->fw_vars)) {
		abort(); /* accepted by the parser, refused by the checks a migration makes */
	} else if (s->config.mem_size <= FUZZ_MAX_MEM) {
		uint8_t *mem = mmap(NULL, s->config.mem_size, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		struct guest_mem *g = NULL;

		if (mem != MAP_FAILED) {
			why = NULL;
			ret = savestate_load_memory(fd, s, mem, &why);
			if (ret && (!why || !*why))
				abort();
			if (!ret && !guest_mem_create(s->config.mem_size, &g)) {
				why = NULL;
				if (savestate_map_memory(fd, s, g, 3, NULL, &why)) {
					if (!why || !*why)
						abort();
				} else if (memcmp(g->host, mem, s->config.mem_size)) {
					abort(); /* mapped and read memory differ */
				}
				why = NULL;
				if (savestate_check_memory(fd, s, NULL, &why) && (!why || !*why))
					abort();
				guest_mem_destroy(g);
			}
			munmap(mem, s->config.mem_size);
		}
	}
	savestate_free(s);
	close(fd);
	return 0;
}
