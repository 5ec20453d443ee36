/* vsrv: a virtual machine server. This file only dispatches to the sub-commands. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "run", cmd_run, "run one VM in the foreground (vsrv run --help)" },
	{ "img", cmd_img, "create, inspect, check and convert disk images (vsrv img --help)" },
	{ "serve", cmd_server_exec, "the virtual server daemon: API, inventory, VMs (vsrv serve --help)" },
	{ "vm", cmd_server_exec, "manage VMs through the server (vsrv vm --help)" },
	{ "disk", cmd_server_exec, "manage disks through the server" },
	{ "net", cmd_server_exec, "manage virtual networks through the server" },
	{ "user", cmd_server_exec, "manage users through the server" },
	{ "events", cmd_server_exec, "show or follow the server's events" },
	{ "login", cmd_server_exec, "log in to a server over TCP; prints a token" },
	{ "monitor", cmd_monitor, "(internal) the per-VM supervisor shim of vsrv serve" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: vsrv COMMAND [ARGS...]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vsrv: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
