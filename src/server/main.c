/* build/vsrv-server: the virtual server daemon and the CLI client of its API. `vsrv serve`,
 * `vsrv vm`, ... exec this binary (src/cli/client_exec.c), so that `vsrv run` never loads
 * the server's libraries. */
#include "cli/client.h"
#include "server/serve.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "serve", cmd_serve },
	{ "vm", cmd_vm },
	{ "disk", cmd_disk },
	{ "net", cmd_net },
	{ "user", cmd_user },
	{ "events", cmd_events },
	{ "login", cmd_login },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "usage: vsrv-server serve|vm|disk|net|user|events|login ...\n");
		return 2;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vsrv: unknown command '%s'\n", argv[1]);
	return 2;
}
