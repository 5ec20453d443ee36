/* libFuzzer target: the parser of a save file's RUN section (src/vmm/savestate_run.c), the
 * VM's configuration as `vsrv run` arguments. The input is the section's payload:
 * savestate_run_parse checks it, and whatever it accepts must encode back
 * (savestate_run_encode) to exactly the input (the format has one spelling of each list of
 * arguments) and every argument must pass savestate_run_arg_ok; a refusal must come with a
 * reason. Nothing may crash, leak or read out of bounds. With fuzz/run_corpus.c instead of
 * libFuzzer it replays files under ASan/UBSan (tests/t-savestate-fuzz.sh replays
 * fuzz/corpus/savestate_run). */
#include "vmm/savestate_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct savestate_run r;
	const char *why = NULL;
	uint8_t *p = NULL;
	uint64_t len = 0;
	int ret;

	ret = savestate_run_parse(data, size, &r, &why);
	if (ret) {
		if (!why || !*why)
			abort(); /* every refusal names its reason */
		return 0;
	}
	for (uint32_t i = 0; i < r.n; i++)
		if (!savestate_run_arg_ok(r.args[i]))
			abort();
	if (savestate_run_encode((const char *const *)r.args, r.n, &p, &len) ||
	    len != size || memcmp(p, data, size))
		abort(); /* accepted, so it must be what the writer writes */
	free(p);
	free(r.args);
	return 0;
}
