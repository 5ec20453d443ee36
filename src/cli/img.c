/* Placeholder until the img command lands; replaced by its real implementation. */
#include "cli/cli.h"
#include <stdio.h>

int cmd_img(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "vsrv img: not built yet\n");
	return 1;
}
