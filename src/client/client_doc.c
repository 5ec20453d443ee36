/* The documents made from the option tables (client_opt.h): a man page per command group
 * and the bash completion script. `make` writes them into build/man/ and build/completion/
 * (mk/cli.mk) through the hidden `vsrv-server __man GROUP` and `__completion TOP`. */
#include "client/client_opt.h"

#include <string.h>

/* Text for roff: backslashes and hyphens escaped, a line starting with '.' or '\'' guarded. */
static void roff(FILE *f, const char *s)
{
	bool bol = true;

	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		bol = *s == '\n';
		if (bol)
			fputs("\n.br", f); /* a line break of the help text stays one */
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

static void upper(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s >= 'a' && *s <= 'z' ? *s - 32 : *s, f);
}

static void man_opts(FILE *f, const struct opt *o)
{
	for (; o && o->name; o++) {
		fputs(".TP\n\\fB", f);
		if (o->letter)
			fprintf(f, "\\-%c\\fR, \\fB", o->letter);
		fputs("\\-\\-", f);
		roff(f, o->name);
		fputs("\\fR", f);
		if (o->type != OPT_FLAG) {
			fputs(" \\fI", f);
			roff(f, o->metavar ? o->metavar : "VALUE");
			fputs("\\fR", f);
		}
		fputc('\n', f);
		roff(f, o->help);
		if (o->repeat)
			fputs(" (repeatable)", f);
		fputc('\n', f);
	}
}

static void man_synopsis(FILE *f, const struct opt_group *g, const struct opt_cmd *c)
{
	fprintf(f, ".B vsrv %s", g->name);
	if (c->name[0])
		fprintf(f, " %s", c->name);
	fputc('\n', f);
	if (c->args || c->opts) {
		if (c->args)
			roff(f, c->args);
		if (c->opts)
			fputs(c->args ? " [\\fIOPTIONS\\fR]" : "[\\fIOPTIONS\\fR]", f);
		fputc('\n', f);
	}
	fputs(".br\n", f);
}

void opt_man(FILE *f, const struct opt_group *g)
{
	const struct opt_cmd *c;
	bool single = !g->cmds[0].name[0];

	fputs(".TH VSRV\\-", f);
	upper(f, g->name);
	fputs(" 1 \"\" \"vsrv\" \"vsrv manual\"\n.SH NAME\n", f);
	fprintf(f, "vsrv\\-%s \\- ", g->name);
	roff(f, g->summary);
	fputs("\n.SH SYNOPSIS\n", f);
	for (c = g->cmds; c->name; c++)
		man_synopsis(f, g, c);
	fputs(".SH DESCRIPTION\n", f);
	roff(f, single ? g->cmds[0].summary : g->summary);
	fputc('\n', f);
	if (g->more) {
		fputs(".PP\n", f);
		roff(f, g->more);
		fputc('\n', f);
	}
	if (single) {
		if (g->cmds[0].more) {
			fputs(".PP\n", f);
			roff(f, g->cmds[0].more);
			fputc('\n', f);
		}
		if (g->cmds[0].opts) {
			fputs(".SH OPTIONS\n", f);
			man_opts(f, g->cmds[0].opts);
		}
	} else {
		fputs(".SH COMMANDS\n", f);
		for (c = g->cmds; c->name; c++) {
			fprintf(f, ".TP\n.B %s", c->name);
			if (c->args) {
				fputs(" \\fI", f);
				roff(f, c->args);
				fputs("\\fR", f);
			}
			fputc('\n', f);
			roff(f, c->summary);
			fputc('\n', f);
			if (c->more) {
				fputs(".IP\n", f);
				roff(f, c->more);
				fputc('\n', f);
			}
			if (c->opts) {
				fputs(".RS\n", f);
				man_opts(f, c->opts);
				fputs(".RE\n", f);
			}
		}
	}
	fputs(".SH GLOBAL OPTIONS\n", f);
	man_opts(f, client_global_opts);
	fputs(".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nshow the help of a group or a command on standard output and exit 0\n", f);
	fputs(".SH EXIT STATUS\n0 success; 1 the request failed (the reason is printed); "
	      "2 a usage error (the reason is printed).\n", f);
	fputs(".SH ENVIRONMENT\n"
	      ".TP\n.B VSRV_SERVER\nthe server's URL (http://HOST:PORT or https://...); without it, and "
	      "without a saved login, the local Unix socket\n"
	      ".TP\n.B VSRV_TOKEN\nthe bearer token (from \\fBvsrv login\\fR)\n"
	      ".TP\n.B VSRV_SOCKET\nthe server's Unix socket (default /var/lib/vsrv/vsrv.sock)\n"
	      ".TP\n.B VSRV_CACERT\na CA certificate file for a server with its own TLS certificate\n"
	      ".TP\n.B VSRV_PASSWORD\nthe password for \\fBvsrv login\\fR and \\fBvsrv user\\fR "
	      "without \\-\\-password\n"
	      ".PP\nThe command line overrides the environment, which overrides the saved login.\n"
	      ".SH FILES\n"
	      ".TP\n.I $XDG_CONFIG_HOME/vsrv/login.json\n(default ~/.config/vsrv/login.json, mode 0600) "
	      "the login saved by \\fBvsrv login\\fR: the server and the token; "
	      "\\fBvsrv logout\\fR removes it\n", f);
	fputs(".SH SEE ALSO\n", f);
	{
		const struct opt_group *const *o;
		bool first = true;
		for (o = client_groups; *o; o++)
			if (*o != g) {
				fprintf(f, "%s\\fBvsrv\\-%s\\fR(1)", first ? "" : ", ", (*o)->name);
				first = false;
			}
		fputc('\n', f);
	}
}

/* One word list for bash: every option of c (and the global ones). */
static void words(FILE *f, const struct opt *o)
{
	for (; o && o->name; o++) {
		fprintf(f, " --%s", o->name);
		if (o->letter)
			fprintf(f, " -%c", o->letter);
	}
}

/* The values of options that take one: choices, booleans, files. */
static void value_cases(FILE *f, const char *key, const struct opt *o)
{
	const char *const *ch;

	for (; o && o->name; o++) {
		if (o->type == OPT_FLAG)
			continue;
		if (!strcmp(key, "*"))
			fprintf(f, "\t*\" --%s\")", o->name);
		else
			fprintf(f, "\t\"%s --%s\")", key, o->name);
		if (o->type == OPT_BOOL)
			fputs(" COMPREPLY=($(compgen -W \"yes no\" -- \"$cur\")); return;;\n", f);
		else if (o->type == OPT_CHOICE) {
			fputs(" COMPREPLY=($(compgen -W \"", f);
			for (ch = o->choices; *ch; ch++)
				fprintf(f, "%s%s", ch == o->choices ? "" : " ", *ch);
			fputs("\" -- \"$cur\")); return;;\n", f);
		} else if (o->metavar && (strstr(o->metavar, "FILE") || strstr(o->metavar, "PATH")))
			fputs(" COMPREPLY=($(compgen -f -- \"$cur\")); return;;\n", f);
		else
			fputs(" COMPREPLY=(); return;;\n", f);
	}
}

void opt_completion(FILE *f, const char *top)
{
	const struct opt_group *const *g;
	const struct opt_cmd *c;

	fputs("# bash completion for vsrv, generated from the client's option tables\n"
	      "# (vsrv-server __completion): source it, or install it as\n"
	      "# /usr/share/bash-completion/completions/vsrv.\n"
	      "_vsrv() {\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	      "\tlocal group=${COMP_WORDS[1]} key subs opts\n"
	      "\tCOMPREPLY=()\n"
	      "\tif ((COMP_CWORD == 1)); then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"", f);
	for (g = client_groups; *g; g++)
		fprintf(f, "%s ", (*g)->name);
	fprintf(f, "%s --help --version\" -- \"$cur\"))\n\t\treturn\n\tfi\n", top);
	fputs("\tcase $group in\n", f);
	for (g = client_groups; *g; g++) {
		if (!(*g)->cmds[0].name[0] && !(*g)->cmds[1].name) {
			fprintf(f, "\t%s) key=%s;;\n", (*g)->name, (*g)->name);
			continue;
		}
		if (!(*g)->cmds[0].name[0]) {
			/* a command of its own (`vsrv hosts`) and named ones (`vsrv hosts drain`) */
			fprintf(f, "\t%s)\n\t\tsubs=\"", (*g)->name);
			for (c = (*g)->cmds + 1; c->name; c++)
				fprintf(f, "%s%s", c == (*g)->cmds + 1 ? "" : " ", c->name);
			fputs("\"\n\t\tif ((COMP_CWORD == 2)) && [[ $cur != -* ]]; then\n"
			      "\t\t\tCOMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
			      "\t\t\treturn\n\t\tfi\n", f);
			fprintf(f, "\t\tif ((COMP_CWORD > 2)) && [[ \" $subs \" == *\" ${COMP_WORDS[2]} \"* ]]; "
				   "then key=\"%s ${COMP_WORDS[2]}\"; else key=%s; fi;;\n", (*g)->name,
				(*g)->name);
			continue;
		}
		fprintf(f, "\t%s)\n\t\tsubs=\"", (*g)->name);
		for (c = (*g)->cmds; c->name; c++)
			fprintf(f, "%s%s", c == (*g)->cmds ? "" : " ", c->name);
		fputs("\"\n\t\tif ((COMP_CWORD == 2)); then\n"
		      "\t\t\tCOMPREPLY=($(compgen -W \"$subs --help\" -- \"$cur\"))\n"
		      "\t\t\treturn\n\t\tfi\n", f);
		fprintf(f, "\t\tkey=\"%s ${COMP_WORDS[2]}\";;\n", (*g)->name);
	}
	/* The commands outside the tables: their words from their own --help. */
	fputs("\timg)\n"
	      "\t\tif ((COMP_CWORD == 2)); then\n"
	      "\t\t\tCOMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" img --help 2>/dev/null | "
	      "sed -n 's/^  \\([a-z]\\+\\) .*/\\1/p')\" -- \"$cur\"))\n"
	      "\t\telif [[ $cur == -* ]]; then\n"
	      "\t\t\tCOMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" img --help 2>/dev/null | "
	      "awk -v s=\"${COMP_WORDS[2]}\" '/^  [a-z]/ { p = $1 == s } p' | grep -oE -- '[[ ]--?[a-zA-Z][a-z_-]*' | tr -d '[ ' | "
	      "sort -u)\" -- \"$cur\"))\n"
	      "\t\telse\n\t\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\t\tfi\n\t\treturn;;\n", f);
	fputs("\t*)\n"
	      "\t\tif [[ $cur == -* ]]; then\n"
	      "\t\t\tCOMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" \"$group\" --help 2>/dev/null | "
	      "grep -o -- '--[a-z][a-z-]*' | sort -u)\" -- \"$cur\"))\n"
	      "\t\telse\n\t\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\t\tfi\n\t\treturn;;\n\tesac\n", f);
	fputs("\tcase \"$key $prev\" in\n", f);
	for (g = client_groups; *g; g++)
		for (c = (*g)->cmds; c->name; c++) {
			char key[96];
			snprintf(key, sizeof(key), "%s%s%s", (*g)->name, c->name[0] ? " " : "", c->name);
			value_cases(f, key, c->opts);
		}
	value_cases(f, "*", client_global_opts);
	/* NAME of an existing object: asked of the server (`vsrv GROUP list`), quietly */
	fputs("\tesac\n\tif ((COMP_CWORD == 3)) && [[ $cur != -* ]]; then\n\t\tcase \"$key\" in\n", f);
	for (g = client_groups; *g; g++) {
		bool listed = false;
		for (c = (*g)->cmds; c->name; c++)
			listed |= !strcmp(c->name, "list");
		for (c = (*g)->cmds; listed && c->name; c++)
			if (c->args && !strncmp(c->args, "NAME", 4) && strcmp(c->name, "create"))
				fprintf(f, "\t\t\"%s %s\") COMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" %s list "
					   "2>/dev/null | tail -n +2 | cut -d' ' -f1)\" -- \"$cur\")); return;;\n",
					(*g)->name, c->name, (*g)->name);
	}
	/* a command whose first argument is one of its words (`vm snapshot list|create|...`):
	 * those words, as its synopsis gives them, then NAME from the server */
	for (g = client_groups; *g; g++)
		for (c = (*g)->cmds; c->name; c++) {
			size_t n = c->args ? strcspn(c->args, " ") : 0;

			if (!n || !memchr(c->args, '|', n))
				continue;
			fprintf(f, "\t\t\"%s %s\") COMPREPLY=($(compgen -W \"", (*g)->name, c->name);
			for (const char *w = c->args; w < c->args + n; w++)
				fputc(*w == '|' ? ' ' : *w, f);
			fputs("\" -- \"$cur\")); return;;\n", f);
		}
	fputs("\t\tesac\n\tfi\n", f);
	/* ... and after that word, its NAME (`vm snapshot list NAME`), as the commands whose
	 * first argument it is complete it */
	fputs("\tif ((COMP_CWORD == 4)) && [[ $cur != -* ]]; then\n\t\tcase \"$key\" in\n", f);
	for (g = client_groups; *g; g++) {
		bool listed = false;

		for (c = (*g)->cmds; c->name; c++)
			listed |= !strcmp(c->name, "list");
		for (c = (*g)->cmds; listed && c->name; c++) {
			size_t n = c->args ? strcspn(c->args, " ") : 0;

			if (n && memchr(c->args, '|', n) && !strncmp(c->args + n, " NAME", 5))
				fprintf(f, "\t\t\"%s %s\") COMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" %s "
					   "list 2>/dev/null | tail -n +2 | cut -d' ' -f1)\" -- \"$cur\")); "
					   "return;;\n", (*g)->name, c->name, (*g)->name);
		}
	}
	fputs("\t\tesac\n\tfi\n\tcase \"$key\" in\n", f);
	for (g = client_groups; *g; g++)
		for (c = (*g)->cmds; c->name; c++) {
			fprintf(f, "\t\"%s%s%s\") opts=\"", (*g)->name, c->name[0] ? " " : "", c->name);
			words(f, c->opts);
			fputs("\";;\n", f);
		}
	fputs("\t*) return;;\n\tesac\n\tCOMPREPLY=($(compgen -W \"$opts", f);
	words(f, client_global_opts);
	fputs(" --help -h\" -- \"$cur\"))\n}\ncomplete -F _vsrv vsrv\n", f);
}
