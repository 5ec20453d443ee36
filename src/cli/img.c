/* vsrv img: disk images with qemu-img's command syntax and exit codes. This file dispatches
 * to the sub-commands (img_*.c) and holds the helpers they share: sizes, -o options,
 * --output, messages, zero detection and the progress bar. */
#include "cli/cli.h"
#include "cli/img.h"
#include "util/log.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct img_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
};

static const struct img_command img_commands[] = {
	{ "create", img_cmd_create,
	  "create [-f vhd|raw] [-o subformat=dynamic|fixed,block_size=N,force_size=on]\n"
	  "         [-b PARENT [-F FMT]] FILE [SIZE]" },
	{ "info", img_cmd_info, "info [-f FMT] [--output=human|json] [--backing-chain] [-U] FILE" },
	{ "check", img_cmd_check, "check [-f FMT] [--output=human|json] [-r leaks|all] [-U] FILE" },
	{ "convert", img_cmd_convert,
	  "convert [-f FMT] -O vhd|raw [-o OPTIONS] [-B PARENT] [-p] [-n] [-t CACHE]\n"
	  "          [-U] SRC DST" },
	{ "commit", img_cmd_commit, "commit [-f FMT] [-p] FILE" },
	{ "compare", img_cmd_compare, "compare [-f FMT] [-F FMT] [-p] [-s] [-U] A B" },
	{ "resize", img_cmd_resize, "resize [-f FMT] [--shrink] FILE [+|-]SIZE" },
	{ "map", img_cmd_map, "map [-f FMT] [--output=human|json] [-U] FILE" },
	{ "compact", img_cmd_compact, "compact [-f FMT] [-p] FILE" },
};

#define N_IMG_COMMANDS (sizeof(img_commands) / sizeof(img_commands[0]))

static void img_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: vsrv img COMMAND [ARGS...]\n\ncommands:\n");
	for (i = 0; i < N_IMG_COMMANDS; i++)
		fprintf(f, "  %s\n", img_commands[i].synopsis);
	fprintf(f, "\nFormats: vhd (alias vpc; subformats dynamic, fixed; differencing with -b), raw;\n"
		"read only (info, convert's source, compare): qcow2 (libqcow), vmdk (libvmdk),\n"
		"vhdx (libvhdi).\n"
		"-U reads an image that another process uses (qemu-img's force-share; it may read\n"
		"inconsistent while it is written); commands that write refuse an image in use.\n"
		"Sizes take the suffixes k, M, G, T (binary). Exit status as qemu-img: 0 success,\n"
		"1 error; check: 2 corruptions, 3 leaks only, 63 not checked (raw, qcow2, vmdk,\n"
		"vhdx); compare: 1 different, 2 error.\n");
}

int cmd_img(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		img_usage(stderr);
		return 1;
	}
	/* the block layer's messages (foreign images) read as this command's */
	vsrv_log_set_prefix("vsrv img");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		img_usage(stdout);
		return 0;
	}
	for (i = 0; i < N_IMG_COMMANDS; i++) {
		if (!strcmp(argv[1], img_commands[i].name)) {
			/* getopt state is global: reset it for the sub-command's own parsing. */
			optind = 0;
			opterr = 1;
			return img_commands[i].fn(argc - 1, argv + 1);
		}
	}
	img_err("unknown command '%s'", argv[1]);
	img_usage(stderr);
	return 1;
}

void img_err(const char *fmt, ...)
{
	va_list ap;

	fputs("vsrv img: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int img_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double frac = 0;
	uint64_t whole, mul = 1;
	const char *p;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	whole = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	p = end;
	if (*p == '.') {
		const char *q = p + 1;
		double scale = 0.1;

		if (!isdigit((unsigned char)*q))
			return -EINVAL;
		for (; isdigit((unsigned char)*q); q++, scale /= 10)
			frac += (*q - '0') * scale;
		p = q;
	}
	switch (*p) {
	case 0: case 'b': case 'B': break;
	case 'k': case 'K': mul = 1ULL << 10; break;
	case 'm': case 'M': mul = 1ULL << 20; break;
	case 'g': case 'G': mul = 1ULL << 30; break;
	case 't': case 'T': mul = 1ULL << 40; break;
	case 'p': case 'P': mul = 1ULL << 50; break;
	case 'e': case 'E': mul = 1ULL << 60; break;
	default: return -EINVAL;
	}
	if (*p) {
		p++;
		/* qemu-img takes "1G"; we also accept "1GB"/"1GiB" like the rest of vsrv. */
		if (mul != 1 && *p && strcasecmp(p, "B") && strcasecmp(p, "iB"))
			return -EINVAL;
		if (mul == 1 && *p)
			return -EINVAL;
	}
	if (frac > 0 && mul == 1)
		return -EINVAL; /* a fraction of a byte */
	if (whole && mul > UINT64_MAX / whole)
		return -ERANGE;
	whole *= mul;
	if (frac > 0) {
		uint64_t f = (uint64_t)(frac * (double)mul);

		if (whole > UINT64_MAX - f)
			return -ERANGE;
		whole += f;
	}
	*out = whole;
	return 0;
}

const char *img_size_str(uint64_t v, char *buf, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	int i = 0;

	/* Switch to the next unit at 1000 of the smaller one, as qemu-img does, so that
	 * the number shown has at most 3 significant digits before the point. */
	while (i < 6 && v >= (1000ULL << (10 * i)))
		i++;
	snprintf(buf, n, "%0.3g %s", (double)v / (double)(1ULL << (i * 10)), units[i]);
	return buf;
}

int img_parse_output(const char *s)
{
	if (!strcmp(s, "human"))
		return 0;
	if (!strcmp(s, "json"))
		return 1;
	img_err("--output must be used with human or json as argument, not '%s'", s);
	return -1;
}

const char *img_format_name(const char *s)
{
	if (!s)
		return NULL;
	if (!strcmp(s, "vhd") || !strcmp(s, "vpc"))
		return "vhd";
	if (!strcmp(s, "raw"))
		return "raw";
	if (!strcmp(s, "qcow2"))
		return "qcow2";
	if (!strcmp(s, "vmdk"))
		return "vmdk";
	if (!strcmp(s, "vhdx"))
		return "vhdx";
	return NULL;
}

static bool img_opt_bool(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		*out = false;
	else
		return false;
	return true;
}

static void img_opts_help(const char *format)
{
	printf("Supported options:\n");
	if (!strcmp(format, "vhd"))
		printf("  subformat=<str>   - dynamic (default) or fixed\n"
		       "  block_size=<size> - block size of a dynamic image, a power of two\n"
		       "                      from 512 bytes, default 2 MiB\n"
		       "  force_size=<bool> - current size exactly SIZE, no CHS rounding\n"
		       "  size=<size>       - virtual disk size\n");
	else
		printf("  size=<size>       - virtual disk size\n");
}

int img_parse_create_opts(const char *s, const char *format, struct img_create_opts *o)
{
	char *copy, *save = NULL, *tok;
	int ret = 0;

	if (!strcmp(s, "help") || !strcmp(s, "?")) {
		img_opts_help(format);
		return 1;
	}
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *v = strchr(tok, '=');
		bool vhd = !strcmp(format, "vhd");

		if (!v) {
			img_err("invalid option '%s': expected key=value", tok);
			ret = -EINVAL;
			break;
		}
		*v++ = 0;
		if (vhd && !strcmp(tok, "subformat")) {
			if (!strcmp(v, "fixed"))
				o->fixed = true;
			else if (!strcmp(v, "dynamic"))
				o->fixed = false;
			else {
				img_err("invalid subformat '%s': use dynamic or fixed", v);
				ret = -EINVAL;
				break;
			}
		} else if (vhd && !strcmp(tok, "block_size")) {
			uint64_t bs;

			if (img_parse_size(v, &bs) || bs < 512 || bs > (1ULL << 31) || (bs & (bs - 1))) {
				img_err("invalid block_size '%s': a power of two from 512 bytes to 2 GiB", v);
				ret = -EINVAL;
				break;
			}
			o->block_size = (uint32_t)bs;
		} else if (vhd && !strcmp(tok, "force_size")) {
			if (!img_opt_bool(v, &o->force_size)) {
				img_err("invalid force_size '%s': use on or off", v);
				ret = -EINVAL;
				break;
			}
		} else if (!strcmp(tok, "backing_file") || !strcmp(tok, "backing_fmt")) {
			bool file = !strcmp(tok, "backing_file");
			char *dst = file ? o->parent_buf : o->parent_fmt_buf;
			size_t n = file ? sizeof(o->parent_buf) : sizeof(o->parent_fmt_buf);

			if (strlen(v) >= n) {
				img_err("option %s too long", tok);
				ret = -EINVAL;
				break;
			}
			strcpy(dst, v);
			if (file)
				o->parent = o->parent_buf;
			else
				o->parent_fmt = o->parent_fmt_buf;
		} else {
			img_err("invalid option '%s' for format %s", tok, format);
			ret = -EINVAL;
			break;
		}
	}
	free(copy);
	return ret;
}

bool img_is_zero(const void *p, size_t n)
{
	const uint64_t *w = p;
	size_t i;

	/* Check the first word, then the rest in unrolled groups: data regions usually fail
	 * at the first word, zero regions run at memory speed. */
	if (n >= 8 && w[0])
		return false;
	for (i = 0; i + 8 <= n / 8; i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
			return false;
	for (; i < n / 8; i++)
		if (w[i])
			return false;
	for (i = n & ~(size_t)7; i < n; i++)
		if (((const unsigned char *)p)[i])
			return false;
	return true;
}

void img_progress_init(struct img_progress *p, bool enable, uint64_t total)
{
	/* VSRV_IMG_PROGRESS=1: also into a pipe (the server's tasks read it) */
	p->on = enable && (isatty(STDERR_FILENO) || getenv("VSRV_IMG_PROGRESS"));
	p->total = total ? total : 1;
	p->done = 0;
	p->last_permille = -1;
	img_progress_add(p, 0);
}

void img_progress_add(struct img_progress *p, uint64_t n)
{
	int permille, width = 40, filled;

	if (!p->on)
		return;
	p->done += n;
	if (p->done > p->total)
		p->done = p->total;
	permille = (int)(p->done * 1000 / p->total);
	if (permille == p->last_permille)
		return;
	p->last_permille = permille;
	filled = permille * width / 1000;
	fprintf(stderr, "\r    (%5.1f/100%%) [%.*s%*s]", permille / 10.0, filled,
		"########################################", width - filled, "");
	fflush(stderr);
}

void img_progress_end(struct img_progress *p)
{
	if (!p->on)
		return;
	p->done = p->total;
	p->last_permille = -1;
	img_progress_add(p, 0);
	fputc('\n', stderr);
}
