/* Entry points of the server binary (build/vsrv-server). */
#ifndef VSRV_SERVER_SERVE_H
#define VSRV_SERVER_SERVE_H

#include <stdio.h>

int cmd_serve(int argc, char **argv);   /* vsrv serve: the daemon */

/* vsrv serve's options, said on f (--help: stdout; a wrong option: stderr). */
void serve_usage(FILE *f);

#endif
