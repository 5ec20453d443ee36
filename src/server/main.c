/* build/vsrv-server: the virtual server daemon and the CLI client of its API. `vsrv serve`,
 * `vsrv vm`, ... exec this binary (src/cli/server_exec.c), so that `vsrv run` never loads
 * the server's libraries. */
#include "client/client_opt.h"
#include "server/serve.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: vsrv-server serve|vm|disk|net|image|user|events|login|logout ...\n");
		return 2;
	}
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	/* the client's commands (src/client/client_main.c) */
	return client_main(argc - 1, argv + 1);
}
