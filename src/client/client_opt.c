/* The option-table parser of the client's commands and their --help (client_opt.h). */
#include "client/client_opt.h"
#include "util/size.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const bool_yes[] = { "yes", "true", "on", "1", NULL };
static const char *const bool_no[] = { "no", "false", "off", "0", NULL };

static int in_list(const char *s, const char *const *l)
{
	for (; *l; l++)
		if (!strcmp(s, *l))
			return 1;
	return 0;
}

static void cmd_title(const struct opt_res *r, char *buf, size_t n)
{
	if (r->cmd && r->cmd->name[0])
		snprintf(buf, n, "vsrv %s %s", r->group->name, r->cmd->name);
	else
		snprintf(buf, n, "vsrv %s", r->group->name);
}

int opt_usage_error(const struct opt_res *r, const char *fmt, ...)
{
	char title[128];
	va_list ap;

	cmd_title(r, title, sizeof(title));
	fprintf(stderr, "%s: ", title);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", title);
	return 2;
}

const struct opt_val *opt_get(const struct opt_res *r, const char *name)
{
	const struct opt *o;
	int i;

	for (o = r->cmd->opts, i = 0; o && o->name; o++, i++)
		if (!strcmp(o->name, name))
			return r->v[i].count ? &r->v[i] : NULL;
	return NULL;
}

/* Check and store one option's value. Returns 0 or 2 (usage error printed). */
static int set_value(struct opt_res *r, const struct opt *o, struct opt_val *v, const char *s)
{
	char *end;

	switch (o->type) {
	case OPT_INT:
		errno = 0;
		v->num = strtoll(s, &end, 10);
		if (!*s || *end || errno)
			return opt_usage_error(r, "--%s: '%s' is not a number", o->name, s);
		break;
	case OPT_SIZE: {
		uint64_t b;
		if (size_parse(s, &b) || b > INT64_MAX)
			return opt_usage_error(r, "--%s: '%s' is not a size (a number with an "
					       "optional K, M, G or T)", o->name, s);
		v->num = (long long)b;
		break;
	}
	case OPT_BOOL:
		if (in_list(s, bool_yes))
			v->on = true;
		else if (in_list(s, bool_no))
			v->on = false;
		else
			return opt_usage_error(r, "--%s: '%s' is not yes or no (yes, no, true, false, "
					       "on, off, 1, 0)", o->name, s);
		break;
	case OPT_CHOICE:
		if (!in_list(s, o->choices)) {
			char l[256] = "";
			const char *const *c;
			for (c = o->choices; *c; c++)
				snprintf(l + strlen(l), sizeof(l) - strlen(l), "%s%s", c == o->choices ? "" : ", ", *c);
			return opt_usage_error(r, "--%s: '%s' is not one of %s", o->name, s, l);
		}
		break;
	default:
		break;
	}
	if (v->count && !o->repeat)
		return opt_usage_error(r, "--%s given twice", o->name);
	if (o->repeat) {
		if ((size_t)v->count >= sizeof(v->all) / sizeof(v->all[0]))
			return opt_usage_error(r, "--%s given too many times", o->name);
		v->all[v->count] = s;
	}
	v->str = s;
	v->count++;
	return 0;
}

static int is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* Options and arguments of one command, from argv[0] on. */
static int parse_cmd(struct opt_res *r, int argc, char **argv)
{
	const struct opt_cmd *c = r->cmd;
	bool opts_done = false;
	int i, k;

	for (k = 0; c->opts && c->opts[k].name; k++)
		;
	if (k > OPT_MAX) /* a table this parser cannot hold: a programming error */
		return opt_usage_error(r, "internal error: %d options, at most %d", k, OPT_MAX);
	/* --help anywhere (before "--") wins over every other problem. */
	for (i = 0; i < argc && strcmp(argv[i], "--"); i++)
		if (is_help(argv[i])) {
			opt_help(stdout, r->group, c);
			return 1;
		}
	r->nargs = 0;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		const struct opt *o = NULL;
		size_t len;

		if (opts_done || a[0] != '-' || !a[1]) {
			argv[r->nargs++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			opts_done = true;
			continue;
		}
		if (a[1] == '-') {
			eq = strchr(a, '=');
			len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			for (k = 0; c->opts && c->opts[k].name; k++)
				if (strlen(c->opts[k].name) == len && !strncmp(c->opts[k].name, a + 2, len)) {
					o = &c->opts[k];
					break;
				}
			if (o && eq)
				val = eq + 1;
		} else {
			for (k = 0; c->opts && c->opts[k].name; k++)
				if (c->opts[k].letter && c->opts[k].letter == a[1]) {
					o = &c->opts[k];
					break;
				}
			if (o && a[2])
				val = a + 2;
		}
		if (!o)
			return opt_usage_error(r, "unknown option '%s'", a);
		if (o->type == OPT_FLAG) {
			if (val)
				return opt_usage_error(r, "--%s takes no value", o->name);
			if (r->v[k].count && !o->repeat)
				return opt_usage_error(r, "--%s given twice", o->name);
			r->v[k].count++;
			continue;
		}
		if (!val) {
			if (i + 1 >= argc)
				return opt_usage_error(r, "--%s needs a value (%s)", o->name, o->metavar);
			val = argv[++i];
		}
		if (set_value(r, o, &r->v[k], val))
			return 2;
	}
	r->args = argv;
	if (r->nargs < c->min_args)
		return opt_usage_error(r, "missing %s", c->args ? c->args : "arguments");
	if (r->nargs > c->max_args)
		return opt_usage_error(r, "unexpected argument '%s'", argv[c->max_args]);
	return 0;
}

int opt_parse(const struct opt_group *g, int argc, char **argv, struct opt_res *r)
{
	const struct opt_cmd *c;

	memset(r, 0, sizeof(*r));
	r->group = g;
	if (!g->cmds[0].name[0]) {
		/* a group that is one command, and may have named ones besides (hosts drain) */
		for (c = g->cmds + 1; argc >= 2 && c->name; c++)
			if (!strcmp(c->name, argv[1])) {
				r->cmd = c;
				return parse_cmd(r, argc - 2, argv + 2);
			}
		r->cmd = &g->cmds[0];
		return parse_cmd(r, argc - 1, argv + 1);
	}
	if (argc < 2)
		return opt_usage_error(r, "missing command (%s)", "see --help for the list");
	if (is_help(argv[1]) || !strcmp(argv[1], "help")) {
		opt_help(stdout, g, NULL);
		return 1;
	}
	for (c = g->cmds; c->name; c++)
		if (!strcmp(c->name, argv[1])) {
			r->cmd = c;
			return parse_cmd(r, argc - 2, argv + 2);
		}
	if (argv[1][0] == '-')
		return opt_usage_error(r, "unknown option '%s' (a command comes first)", argv[1]);
	return opt_usage_error(r, "unknown command '%s'", argv[1]);
}

/* text on f, lines of at most 79 columns; col: where the cursor is, indent: the column
 * continuation lines start at. A newline in text is kept. */
static void wrap(FILE *f, const char *text, int col, int indent)
{
	const char *p = text;

	while (*p) {
		size_t w = strcspn(p, " \n");

		if (col > indent && col + 1 + (int)w > 79) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, w, f);
		col += w;
		p += w;
		if (*p == '\n') {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		}
		if (*p)
			p++;
	}
	fputc('\n', f);
}

/* "--name METAVAR" or "-l, --name METAVAR" into buf. */
static void opt_label(const struct opt *o, char *buf, size_t n)
{
	char l[8] = "";

	if (o->letter)
		snprintf(l, sizeof(l), "-%c, ", o->letter);
	if (o->type == OPT_FLAG)
		snprintf(buf, n, "%s--%s", l, o->name);
	else
		snprintf(buf, n, "%s--%s %s", l, o->name, o->metavar ? o->metavar : "VALUE");
}

static void print_opts(FILE *f, const struct opt *opts)
{
	char label[96];

	char text[512];

	for (; opts && opts->name; opts++) {
		opt_label(opts, label, sizeof(label));
		snprintf(text, sizeof(text), "%s%s", opts->help, opts->repeat ? " (repeatable)" : "");
		if (strlen(label) > 24)
			fprintf(f, "  %s\n%27s", label, "");
		else
			fprintf(f, "  %-24s ", label);
		wrap(f, text, 27, 27);
	}
}

static void synopsis(FILE *f, const char *lead, const struct opt_group *g, const struct opt_cmd *c)
{
	fprintf(f, "%svsrv %s%s%s%s%s%s\n", lead, g->name, c->name[0] ? " " : "", c->name,
		c->args ? " " : "", c->args ? c->args : "", c->opts ? " [OPTIONS]" : "");
}

void opt_help(FILE *f, const struct opt_group *g, const struct opt_cmd *cmd)
{
	const struct opt_cmd *c;

	if (cmd) {
		synopsis(f, "usage: ", g, cmd);
		fputc('\n', f);
		wrap(f, cmd->summary, 0, 0);
		if (cmd->more) {
			fputc('\n', f);
			wrap(f, cmd->more, 0, 0);
		}
		if (cmd->opts) {
			fprintf(f, "\noptions:\n");
			print_opts(f, cmd->opts);
		}
	} else {
		fprintf(f, "usage: vsrv %s COMMAND [ARGS...] [OPTIONS]\n\n%s\n\ncommands:\n", g->name,
			g->summary);
		for (c = g->cmds; c->name; c++) {
			char s[160];
			snprintf(s, sizeof(s), "%s%s%s", c->name, c->args ? " " : "", c->args ? c->args : "");
			/* a name wider than its column gets a line of its own, as a long option does */
			if (strlen(s) > 24)
				fprintf(f, "  %s\n%27s", s, "");
			else
				fprintf(f, "  %-24s ", s);
			wrap(f, c->summary, 27, 27);
		}
		if (g->more) {
			fputc('\n', f);
			wrap(f, g->more, 0, 0);
		}
		fprintf(f, "\n'vsrv %s COMMAND --help' shows a command's options.\n", g->name);
	}
	fprintf(f, "\nglobal options (any command):\n");
	print_opts(f, client_global_opts);
	fprintf(f, "  %-24s %s\n", "-h, --help", "show this help");
	fprintf(f, "\nenvironment: VSRV_SERVER, VSRV_TOKEN, VSRV_SOCKET, VSRV_CACERT, VSRV_PASSWORD;\n"
		   "the login saved by 'vsrv login' (see 'vsrv login --help').\n");
}
