/* The client's command groups and their dispatch: `vsrv vm|disk|net|user|events|login|
 * logout` arrive here through build/vsrv-server (src/server/main.c). */
#include "client/client_opt.h"

#include <string.h>

const struct opt_group *const client_groups[] = {
	&vm_group, &disk_group, &net_group, &user_group, &events_group, &login_group, &logout_group,
	&image_group, &hosts_group, NULL,
};

const struct opt client_global_opts[] = {
	{ "server", 0, OPT_STR, "URL", "the server's API, http://HOST:PORT or https://HOST:PORT (VSRV_SERVER)",
	  NULL, false },
	{ "token", 0, OPT_STR, "TOKEN", "the bearer token (VSRV_TOKEN; else the saved login's)", NULL, false },
	{ "socket", 0, OPT_STR, "PATH", "the server's Unix socket (VSRV_SOCKET; default /var/lib/vsrv/vsrv.sock)",
	  NULL, false },
	{ "output", 0, OPT_CHOICE, "FORMAT", "table (for people, the default) or json",
	  (const char *const[]){ "table", "json", NULL }, false },
	{ "json", 0, OPT_FLAG, NULL, "the same as --output json", NULL, false },
	{ NULL },
};

int client_main(int argc, char **argv)
{
	const struct opt_group *const *g;
	struct opt_res r;
	struct client cl;
	int rc;

	if (argc >= 2 && !strcmp(argv[0], "__man")) {
		for (g = client_groups; *g; g++)
			if (!strcmp((*g)->name, argv[1])) {
				opt_man(stdout, *g);
				return 0;
			}
		fprintf(stderr, "vsrv: no group '%s'\n", argv[1]);
		return 2;
	}
	if (argc >= 1 && !strcmp(argv[0], "__completion")) {
		opt_completion(stdout, argc >= 2 ? argv[1] : "");
		return 0;
	}
	for (g = client_groups; *g; g++)
		if (!strcmp((*g)->name, argv[0]))
			break;
	if (!*g) {
		fprintf(stderr, "vsrv: unknown command '%s'\nTry 'vsrv --help'.\n", argv[0]);
		return 2;
	}
	rc = client_init(&argc, argv, &cl);
	if (rc)
		return rc;
	rc = opt_parse(*g, argc, argv, &r);
	if (rc == 1)
		rc = 0;
	else if (!rc)
		rc = r.cmd->run(&cl, &r);
	client_close(&cl);
	return rc;
}
