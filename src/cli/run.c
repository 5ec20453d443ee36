/* Placeholder until the run command lands; replaced by its real implementation. */
#include "cli/cli.h"
#include <stdio.h>

int cmd_run(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "vsrv run: not built yet\n");
	return 1;
}
