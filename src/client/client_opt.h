/* One parser convention for the client's commands (`vsrv vm|disk|net|user|events|login|
 * logout`). Every command declares its options, arguments and help text once, in a table;
 * the same tables give the parser, `--help`, the man pages (build/man/) and the bash
 * completion (build/completion/vsrv).
 *
 * The convention: `--help`/`-h` prints the help on stdout, exit 0; a usage error prints
 * "vsrv GROUP CMD: REASON" and a hint on stderr, exit 2; booleans take yes/no/true/false/
 * on/off/1/0 and refuse anything else; numbers refuse what is not a number; `--` ends the
 * options. */
#ifndef VSRV_CLIENT_CLIENT_OPT_H
#define VSRV_CLIENT_CLIENT_OPT_H

#include "client/client.h"

#include <stdbool.h>
#include <stdio.h>

enum opt_type {
	OPT_FLAG,   /* no value */
	OPT_STR,    /* any text */
	OPT_INT,    /* a decimal integer */
	OPT_BOOL,   /* yes/no/true/false/on/off/1/0 */
	OPT_SIZE,   /* 512, 64K, 1G (util/size.h) */
	OPT_CHOICE, /* one of choices */
};

struct opt {
	const char *name;            /* long name without "--"; NULL ends a table */
	char letter;                 /* short name, or 0 */
	enum opt_type type;
	const char *metavar;         /* the value's name in the help (N, SIZE, FILE) */
	const char *help;
	const char *const *choices;  /* OPT_CHOICE: NULL-terminated */
	bool repeat;                 /* may be given more than once (values collected) */
};

#define OPT_MAX 32

/* What the parser found for one option. */
struct opt_val {
	int count;            /* times given (0: not given) */
	const char *str;      /* the last value as typed */
	long long num;        /* OPT_INT, OPT_SIZE */
	bool on;              /* OPT_BOOL */
	const char *all[16];  /* repeatable options: every value, in order */
};

struct opt_res;

struct opt_cmd {
	const char *name;     /* "create"; "" for a group that is one command (events) */
	const char *args;     /* the positional arguments' synopsis ("NAME SIZE"), or NULL */
	int min_args, max_args;
	const char *summary;  /* one line */
	const char *more;     /* further text for --help and the man page, or NULL */
	const struct opt *opts;
	int (*run)(struct client *cl, struct opt_res *r);
};

struct opt_group {
	const char *name;     /* "vm" */
	const char *summary;
	const char *more;     /* further text, or NULL */
	const struct opt_cmd *cmds; /* ended by name NULL */
};

struct opt_res {
	const struct opt_group *group;
	const struct opt_cmd *cmd;
	int nargs;
	char **args;          /* the positional arguments (pointers into argv) */
	struct opt_val v[OPT_MAX];
};

/* The client's command groups, ended by NULL (src/client/client_main.c), each defined by
 * the file of its commands. */
extern const struct opt_group *const client_groups[];
extern const struct opt_group vm_group, disk_group, net_group, user_group, events_group,
	login_group, logout_group, image_group, hosts_group;
/* Wait for server task id to end (client_vm.c): 0 when it is done, 1 (said on stderr)
 * when it failed. */
int client_task_wait(struct client *cl, json_int_t id);
/* `vm snapshot` and `vm clone` (client_snap.c), listed in vm_group's commands. */
int client_vm_snapshot(struct client *cl, struct opt_res *r);
int client_vm_clone(struct client *cl, struct opt_res *r);
extern const struct opt client_snapshot_opts[], client_clone_opts[];
/* `vm migrate` (client_migrate.c). */
int client_vm_migrate(struct client *cl, struct opt_res *r);
extern const struct opt client_migrate_opts[];
/* `vm agent` (client_agent.c): its options and its command. */
extern const struct opt client_agent_opts[];
int client_vm_agent(struct client *cl, struct opt_res *r);
extern const struct opt client_balloon_opts[];
int client_vm_balloon(struct client *cl, struct opt_res *r);
/* The global options client_init() takes out of argv (for help, man and completion). */
extern const struct opt client_global_opts[];

/* Parse argv (argv[0] is the group's name; client_init() already took the global options
 * out) for group g into r: finds the command, its options and arguments. Returns 0, 1 when
 * help was printed on stdout (exit 0), or 2 for a usage error (printed on stderr). */
int opt_parse(const struct opt_group *g, int argc, char **argv, struct opt_res *r);

/* The value of option name in r, or NULL when it was not given. */
const struct opt_val *opt_get(const struct opt_res *r, const char *name);

/* Print "vsrv GROUP CMD: FMT..." and the --help hint on stderr; returns 2 (usage error). */
int opt_usage_error(const struct opt_res *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print the help of group g (cmd NULL: the group's overview) on f. */
void opt_help(FILE *f, const struct opt_group *g, const struct opt_cmd *cmd);

/* The documents made from the tables: a man page (roff) for group g, and the bash
 * completion script for `vsrv` (top: the top-level commands that are not client groups,
 * "run img serve"). Both print on f. */
void opt_man(FILE *f, const struct opt_group *g);
void opt_completion(FILE *f, const char *top);

/* `vsrv-server` for everything but `serve`: the client's groups, and the hidden
 * `__man GROUP` and `__completion TOP` that write the documents. */
int client_main(int argc, char **argv);

#endif
