/* `vsrv run --help` (run_usage.c). */
#ifndef VSRV_CLI_RUN_USAGE_H
#define VSRV_CLI_RUN_USAGE_H

#include <stdio.h>

/* Print the usage of `vsrv run` to f. */
void run_usage(FILE *f);

#endif
