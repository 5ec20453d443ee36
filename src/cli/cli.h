/* The vsrv sub-commands. Each takes the arguments after its own name (argv[0] is the
 * sub-command's name) and returns the process exit status. Only main() exits. */
#ifndef VSRV_CLI_CLI_H
#define VSRV_CLI_CLI_H

#include <stdio.h>

int cmd_run(int argc, char **argv); /* vsrv run: one VM in the foreground */
int cmd_img(int argc, char **argv); /* vsrv img: disk images, qemu-img's syntax */

/* The man page (roff, on out) of top-level command name, whose one-line summary is summary,
 * from its --help text read from in (help_man.c). 0, or -1 out of memory. */
int help_man(const char *name, const char *summary, FILE *in, FILE *out);

int cmd_control(int argc, char **argv); /* vsrv control: one command to a VMM's socket */
int cmd_monitor(int argc, char **argv); /* vsrv monitor: the per-VM shim under vsrv serve */
/* vsrv serve|vm|disk|net|user|events|login: exec build/vsrv-server with the same arguments */
int cmd_server_exec(int argc, char **argv);

#endif
