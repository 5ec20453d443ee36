/* A man page from a command's --help text (cli.h: help_man): build/man/vsrv-run.1,
 * vsrv-img.1, vsrv-serve.1 and vsrv-control.1 (mk/cli.mk), so that what `man vsrv-run` says
 * is what `vsrv run --help` says.
 *
 * The help text's shape, as run_usage, img's usage, serve_usage and control's give it: the
 * "usage:" line and the lines under it (indented, or "       vsrv ...") are the synopsis; a
 * line "  -x, --opt ARG   text" begins an option (.TP), whose text goes on in the more deeply
 * indented lines after it; every line of text keeps its place (no fill: the help's lines,
 * laid out for 80 columns, fit the page's). */
#include "cli/cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text for roff: backslashes and hyphens escaped, a line's leading '.' or '\'' guarded. */
static void roff(FILE *f, const char *s, size_t n)
{
	size_t i;

	if (n && (s[0] == '.' || s[0] == '\''))
		fputs("\\&", f);
	for (i = 0; i < n; i++) {
		if (s[i] == '\\')
			fputs("\\e", f);
		else if (s[i] == '-')
			fputs("\\-", f);
		else
			fputc(s[i], f);
	}
}

static size_t indent(const char *l)
{
	return strspn(l, " ");
}

/* "  -..." or "  --...": an option's first line */
static bool option_line(const char *l)
{
	return indent(l) == 2 && l[2] == '-';
}

/* The column where most options' text begins ("  --data-dir DIR     inventory..."): an
 * option wider than its column ("  --listen HOST:PORT the API...") has its text from there. */
static size_t text_column(char **lines, size_t n)
{
	size_t count[80] = { 0 }, i, best = 0;

	for (i = 0; i < n; i++) {
		char *gap = option_line(lines[i]) ? strstr(lines[i] + 2, "  ") : NULL;
		size_t col = gap ? (size_t)(gap - lines[i]) + strspn(gap, " ") : 0;

		if (col && col < 80)
			count[col]++;
	}
	for (i = 1; i < 80; i++)
		if (count[i] > count[best])
			best = i;
	return best;
}

/* One option's first line: ".TP", the option in bold, its text (to the first two spaces, or
 * to the text column when one space comes just before it) */
static void option(FILE *out, const char *l, size_t col)
{
	const char *gap = strstr(l + 2, "  ");
	size_t len = strlen(l);

	if (!gap && col > 3 && len > col && l[col - 1] == ' ' && l[col] != ' ')
		gap = l + col - 1;
	fputs(".TP\n\\fB", out);
	roff(out, l + 2, gap ? (size_t)(gap - l) - 2 : len - 2);
	fputs("\\fR\n.nf\n", out);
	if (gap) {
		gap += strspn(gap, " ");
		roff(out, gap, strlen(gap));
		fputc('\n', out);
	}
}

int help_man(const char *name, const char *summary, FILE *in, FILE *out)
{
	char **lines = NULL, **nl, *line = NULL;
	const char *p, *q;
	size_t cap = 0, n = 0, i, col, cut;
	ssize_t len;
	int rc = -1, mode = 0;

	while ((len = getline(&line, &cap, in)) >= 0) {
		if (len && line[len - 1] == '\n')
			line[len - 1] = '\0';
		nl = realloc(lines, (n + 1) * sizeof(*lines));
		if (!nl)
			goto out;
		lines = nl;
		lines[n] = line;
		n++;
		line = NULL;
		cap = 0;
	}
	col = text_column(lines, n);
	fputs(".TH VSRV\\-", out);
	for (q = name; *q; q++)
		fputc(*q >= 'a' && *q <= 'z' ? *q - 32 : *q, out);
	fprintf(out, " 1 \"\" \"vsrv\" \"vsrv manual\"\n.SH NAME\nvsrv\\-%s \\- ", name);
	/* the summary of src/main.c's table, without its "(vsrv CMD --help)" */
	p = strstr(summary, " (vsrv ");
	roff(out, summary, p ? (size_t)(p - summary) : strlen(summary));
	fputc('\n', out);
	i = 0;
	if (n && !strncmp(lines[0], "usage: ", 7)) {
		/* the usage line and those under it ("       vsrv run ...", continuations),
		 * aligned as under "usage: " */
		fputs(".SH SYNOPSIS\n.nf\n", out);
		for (; i < n && (!i || (indent(lines[i]) > 2 && !option_line(lines[i]))); i++) {
			cut = i ? (indent(lines[i]) < 7 ? indent(lines[i]) : 7) : 7;
			roff(out, lines[i] + cut, strlen(lines[i]) - cut);
			fputc('\n', out);
		}
		fputs(".fi\n", out);
	}
	/* mode: 0 nothing open, 1 an option's text, 2 other text (each in no-fill: the help's
	 * own lines, laid out for 80 columns, fit the page's) */
	fputs(".SH DESCRIPTION\n", out);
	for (; i < n; i++) {
		if (option_line(lines[i])) {
			fputs(mode ? ".fi\n" : "", out);
			option(out, lines[i], col);
			mode = 1;
		} else if (mode == 1 && indent(lines[i]) > 2) {
			roff(out, lines[i] + indent(lines[i]), strlen(lines[i]) - indent(lines[i]));
			fputc('\n', out);
		} else {
			if (mode != 2)
				fputs(mode ? ".fi\n.PP\n.nf\n" : ".PP\n.nf\n", out);
			mode = 2;
			roff(out, lines[i], strlen(lines[i]));
			fputc('\n', out);
		}
	}
	fputs(mode ? ".fi\n.SH SEE ALSO\n\\fBvsrv\\fR(1)\n" : ".SH SEE ALSO\n\\fBvsrv\\fR(1)\n", out);
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(line);
	return rc;
}
