/* vsrv: a virtual machine server. This file only dispatches to the sub-commands. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

/* The release; `vsrv --version` prints it. */
#define VSRV_VERSION "0.1"

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
	{ "image", cmd_server_exec, "manage the server's image store: upload ISOs, disk images, kernels" },
	{ "user", cmd_server_exec, "manage users through the server" },
	{ "events", cmd_server_exec, "show or follow the server's events" },
	{ "hosts", cmd_server_exec, "show the hosts of the server's cluster" },
	{ "login", cmd_server_exec, "log in to a server and save the login (vsrv login --help)" },
	{ "logout", cmd_server_exec, "end the saved login" },
	{ "control", cmd_control, "send one command to the control socket of a VM started by hand (vsrv run --control)" },
	{ "monitor", cmd_monitor, "(internal) the per-VM supervisor shim of vsrv serve" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: vsrv COMMAND [ARGS...]\n       vsrv --help | --version\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'vsrv COMMAND --help' shows a command's options.\n"
		   "The client (vm, disk, net, image, user, events, hosts, login, logout) reaches the\n"
		   "server of --server URL or --socket PATH, else of VSRV_SERVER or VSRV_SOCKET, else\n"
		   "of the login saved by 'vsrv login', else the local socket /var/lib/vsrv/vsrv.sock;\n"
		   "with the token of --token, else VSRV_TOKEN, else the saved login's. VSRV_CACERT\n"
		   "names a CA certificate for TLS.\n");
}

/* build/man/vsrv.1 (mk/cli.mk): the same table as roff. The client's groups have pages of
 * their own (vsrv-vm.1, ...), made from their option tables. */
static void man(void)
{
	size_t i;
	int k = 0;

	printf(".TH VSRV 1 \"\" \"vsrv %s\" \"vsrv manual\"\n.SH NAME\nvsrv \\- a virtual machine "
	       "server for Linux hosts, on KVM\n.SH SYNOPSIS\n.B vsrv\n\\fICOMMAND\\fR [\\fIARGS\\fR...]\n"
	       ".br\n.B vsrv \\-\\-help\\fR | \\fB\\-\\-version\\fR\n.SH COMMANDS\n", VSRV_VERSION);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		printf(".TP\n.B %s\n", commands[i].name);
		for (const char *p = commands[i].help; *p; p++)
			printf(*p == '-' ? "\\-" : "%c", *p);
		printf("\n");
	}
	printf(".PP\n\\fBvsrv\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR shows a command's options.\n"
	       ".SH EXIT STATUS\n0 success; a usage error: 2 for the client's commands, serve and "
	       "control, 1 for run and img (as qemu\\-img: run's 2 is a guest crash); see each "
	       "command's page for the rest.\n"
	       ".SH SEE ALSO\n");
	/* a page each: the client's groups (from their option tables), run, img, serve and
	 * control (from their --help: help_man.c); not the internal monitor */
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, "monitor"))
			printf("%s\\fBvsrv\\-%s\\fR(1)", k++ ? ", " : "", commands[i].name);
	printf("\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "vsrv: missing command\n");
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "__man") && argc == 2) {
		man();
		return 0;
	}
	/* `vsrv __man CMD <HELP`: CMD's page from its --help text (mk/cli.mk) */
	if (!strcmp(argv[1], "__man")) {
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[2], commands[i].name))
				return help_man(argv[2], commands[i].help, stdin, stdout) ? 1 : 0;
		fprintf(stderr, "vsrv: no command '%s'\n", argv[2]);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("vsrv %s\n", VSRV_VERSION);
		return 0;
	}
	/* `vsrv help CMD` is `vsrv CMD --help` */
	if (!strcmp(argv[1], "help") && argc == 3) {
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[2], commands[i].name))
				return commands[i].fn(2, (char *[]){ argv[2], "--help", NULL });
		fprintf(stderr, "vsrv: unknown command '%s'\n", argv[2]);
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
