/* `vsrv run`'s value parsers and the restore's configuration from the save file (see
 * run_args.h and docs/savestate.md "The run configuration"). */
#include "cli/run_args.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/enlight.h"
#include "arch/x86/smbios.h"
#include "util/log.h"
#include "util/size.h"
#include "vmm/savestate_run.h"

int run_parse_cpus(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < 1 || v > VM_MAX_VCPUS) {
		vsrv_log("--cpus %s: must be a whole number from 1 to %d", s, VM_MAX_VCPUS);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

int run_parse_memory(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	uint64_t v;
	int ret;

	ret = size_parse(s, &v);
	if (!ret && n && s[n - 1] >= '0' && s[n - 1] <= '9') {
		if (v > VM_MAX_MEM >> 20)
			ret = -ERANGE;
		v <<= 20; /* a bare number is MiB, as with qemu -m */
	}
	if (ret == -EINVAL) {
		vsrv_log("--memory %s: not a size (use e.g. 64M or 2G)", s);
		return ret;
	}
	if (ret < 0 || v < VM_MIN_MEM || v > VM_MAX_MEM) {
		vsrv_log("--memory %s: out of range (%llu MiB to %llu GiB)", s,
			 VM_MIN_MEM >> 20, VM_MAX_MEM >> 30);
		return -ERANGE;
	}
	if (v & 4095) {
		vsrv_log("--memory %s: not a multiple of 4 KiB", s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int run_parse_serial(const char *s, struct vm_config *c)
{
	if (!strcmp(s, "stdio"))
		c->serial = VM_SERIAL_STDIO;
	else if (!strcmp(s, "none"))
		c->serial = VM_SERIAL_NONE;
	else if (!strncmp(s, "file:", 5) && s[5])
		c->serial = VM_SERIAL_FILE, c->serial_path = s + 5;
	else if (!strncmp(s, "unix:", 5) && s[5])
		c->serial = VM_SERIAL_UNIX, c->serial_path = s + 5;
	else {
		vsrv_log("--serial %s: expected stdio, none, file:PATH or unix:PATH", s);
		return -EINVAL;
	}
	return 0;
}

int run_parse_uuid(const char *s, struct vm_config *c)
{
	if (smbios_uuid_parse(s, c->uuid)) {
		vsrv_log("--uuid %s: expected a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", s);
		return -EINVAL;
	}
	c->has_uuid = true;
	return 0;
}

int run_parse_smbios_str(const char *opt, const char *s, const char **out)
{
	if (!s[0] || strlen(s) > SMBIOS_STR_MAX) {
		vsrv_log("%s: 1 to %d characters", opt, SMBIOS_STR_MAX);
		return -EINVAL;
	}
	*out = s;
	return 0;
}

int run_parse_enlightenments(const char *s, struct vm_config *c)
{
	enum x86_enlight e;

	if (x86_enlight_parse(s, &e)) {
		vsrv_log("--enlightenments %s: expected kvm, hyperv, xen or none", s);
		return -EINVAL;
	}
	c->enlightenments = e;
	return 0;
}


/* The options that make the VM, as a save file keeps them ("cdrom" and "balloon" are kept
 * as the --disk and --device they stand for). */
static const char *const vm_options[] = {
	"kernel", "initrd", "cmdline", "cpus", "memory", "disk", "cdrom", "net", "device",
	"display", "balloon", "firmware", "boot", "uuid", "name", "serial-number",
	"enlightenments", "mem-merge", NULL,
};

int run_args_is_vm_option(const char *name)
{
	for (int i = 0; vm_options[i]; i++)
		if (!strcmp(name, vm_options[i]))
			return 1;
	return 0;
}

int run_args_note(struct run_opts *o, const char *name, const char *value)
{
	char **a, *arg;

	if (!run_args_is_vm_option(name))
		return 0;
	if ((value ? asprintf(&arg, "--%s=%s", name, value) :
		     asprintf(&arg, "--%s", name)) < 0)
		return -ENOMEM;
	a = realloc(o->vm_args, (o->nr_vm_args + 1) * sizeof(*a));
	if (!a) {
		free(arg);
		return -ENOMEM;
	}
	a[o->nr_vm_args++] = arg;
	o->vm_args = a;
	return 0;
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Whether a --disk spec is a CD/DVD drive's (an item media=cdrom). */
static bool is_cd(const char *spec)
{
	for (const char *p = strchr(spec, ','); p; p = strchr(p + 1, ','))
		if (!strncmp(p + 1, "media=cdrom", 11) && (!p[12] || p[12] == ','))
			return true;
	return false;
}

/* A --disk spec without its file name: from its first comma ("" when none). */
static const char *disk_items(const char *spec)
{
	const char *c = strchr(spec, ',');

	return c ? c : "";
}

/* The same lists as text, in order. With disks, the file names may differ (a copy of the
 * disks, or a CD/DVD drive's image: the drive holds the medium its saved state names), not
 * the rest of each spec, and a CD/DVD drive stays one. */
static bool list_same(const char **a, unsigned na, const char **b, unsigned nb, bool disks)
{
	if (na != nb)
		return false;
	for (unsigned i = 0; i < na; i++) {
		if (disks ? strcmp(disk_items(a[i]), disk_items(b[i])) || is_cd(a[i]) != is_cd(b[i])
			  : strcmp(a[i], b[i]))
			return false;
	}
	return true;
}

/* Whether option name (as recorded: "cdrom" is "disk", "balloon" "device") has the same
 * effect in the given configuration g and the saved one f. */
static bool same_effect(const char *name, const struct vm_config *g, const struct vm_config *f)
{
	if (!strcmp(name, "kernel"))
		return str_same(g->kernel, f->kernel);
	if (!strcmp(name, "initrd"))
		return str_same(g->initrd, f->initrd);
	if (!strcmp(name, "cmdline"))
		return str_same(g->cmdline, f->cmdline);
	if (!strcmp(name, "cpus"))
		return g->nr_cpus == f->nr_cpus;
	if (!strcmp(name, "memory"))
		return g->mem_size == f->mem_size;
	if (!strcmp(name, "disk"))
		return list_same(g->disks, g->nr_disks, f->disks, f->nr_disks, true);
	if (!strcmp(name, "net"))
		return list_same(g->nets, g->nr_nets, f->nets, f->nr_nets, false);
	if (!strcmp(name, "device"))
		return list_same(g->devices, g->nr_devices, f->devices, f->nr_devices, false);
	if (!strcmp(name, "display"))
		return list_same(g->displays, g->nr_displays, f->displays, f->nr_displays, false);
	if (!strcmp(name, "firmware")) /* the ROM; the vars file may be another (below) */
		return str_same(g->firmware, f->firmware) &&
		       !g->firmware_vars == !f->firmware_vars;
	if (!strcmp(name, "boot"))
		return !memcmp(g->boot_order, f->boot_order, sizeof(g->boot_order));
	if (!strcmp(name, "uuid"))
		return g->has_uuid == f->has_uuid && !memcmp(g->uuid, f->uuid, sizeof(g->uuid));
	if (!strcmp(name, "name"))
		return str_same(g->name, f->name);
	if (!strcmp(name, "serial-number"))
		return str_same(g->serial_number, f->serial_number);
	if (!strcmp(name, "enlightenments"))
		return g->enlightenments == f->enlightenments;
	if (!strcmp(name, "mem-merge"))
		return g->mem_merge == f->mem_merge;
	return false;
}

/* "--disk=a --disk=b": the saved arguments of option name, for a message (static buffer;
 * "not given: the default" when the saved VM was started without it). */
static const char *saved_text(const struct savestate_run *run, const char *name)
{
	static char buf[1024];
	size_t n = strlen(name), len = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < run->n && len + 8 < sizeof(buf); i++) {
		const char *a = run->args[i] + 2;

		if (strncmp(a, name, n) || (a[n] && a[n] != '='))
			continue;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? " " : "",
					run->args[i]);
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
	}
	return buf[0] ? buf : "not given: the default";
}

/* The length of arg's option name (after "--", up to '=' or the end). */
static size_t name_len(const char *arg)
{
	return strcspn(arg + 2, "=");
}

/* Whether option name (of arg) is one of o's given VM options. */
static bool given(const struct run_opts *o, const char *arg)
{
	size_t n = name_len(arg);

	for (unsigned i = 0; i < o->nr_vm_args; i++)
		if (name_len(o->vm_args[i]) == n && !strncmp(o->vm_args[i] + 2, arg + 2, n))
			return true;
	return false;
}

/* How many of the file's arguments the given options replace. */
static unsigned merged_dropped(const struct savestate_run *run, const struct run_opts *o)
{
	unsigned k = 0;

	for (uint32_t i = 0; i < run->n; i++)
		k += given(o, run->args[i]);
	return k;
}

/* o->merged_args: the file's arguments but those of the options given, then the given
 * ones. 0 or -ENOMEM. */
static int merge_args(const struct savestate_run *run, struct run_opts *o)
{
	const char **m = calloc(run->n + o->nr_vm_args + 1, sizeof(*m));
	unsigned k = 0;

	if (!m)
		return -ENOMEM;
	for (uint32_t i = 0; i < run->n; i++)
		if (!given(o, run->args[i]))
			m[k++] = run->args[i];
	for (unsigned i = 0; i < o->nr_vm_args; i++)
		m[k++] = o->vm_args[i];
	o->merged_args = m;
	return 0;
}

int run_args_restore(const char *argv0, struct vm_config *cfg, struct run_opts *o)
{
	struct vm_config f = { .nr_cpus = 1, .mem_size = DEFAULT_MEM, .serial = VM_SERIAL_STDIO };
	struct savestate_run run;
	struct run_opts *fo;
	const char *why = "";
	char **argv;
	int fd, ret;

	fd = open(cfg->restore, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* vm_restore_open says why */
	ret = savestate_read_run(fd, &run, &why);
	close(fd);
	if (ret == -ENOENT || ret == -EINVAL) {
		/* a file of before the section (the options given make the VM), or not a
		 * good one: vm_restore_open's full check names the fault */
		cfg->run_args = (const char *const *)o->vm_args;
		cfg->nr_run_args = o->nr_vm_args;
		return 0;
	}
	if (ret) {
		vsrv_log("--restore %s: %s", cfg->restore, why[0] ? why : strerror(-ret));
		return ret;
	}
	/* only options that make the VM: a file cannot choose this run's sockets, files or
	 * sandbox, nor another file to restore */
	for (uint32_t i = 0; i < run.n; i++) {
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(run.args[i] + 2, "="),
			 run.args[i] + 2);
		if (!run_args_is_vm_option(name)) {
			vsrv_log("--restore %s: the VM's configuration in the file has %s, which is "
				 "not an option that makes the VM", cfg->restore, run.args[i]);
			free(run.args);
			return -EINVAL;
		}
	}
	fo = calloc(1, sizeof(*fo));
	argv = calloc(run.n + 2, sizeof(*argv));
	if (!fo || !argv) {
		free(fo);
		free(argv);
		free(run.args);
		return -ENOMEM;
	}
	argv[0] = (char *)argv0;
	memcpy(argv + 1, run.args, run.n * sizeof(*argv));
	fo->sandbox = -1;
	o->file_opts = fo;
	o->file_args = run.args;
	f.restore = cfg->restore; /* a VM restored from an old file has no --kernel */
	ret = run_parse_args((int)run.n + 1, argv, &f, fo);
	free(argv);
	if (ret) {
		vsrv_log("--restore %s: the VM's configuration in the file is not one this vsrv "
			 "takes (above)", cfg->restore);
		run_args_free(&f, NULL);
		return -EINVAL;
	}
	for (unsigned i = 0; i < o->nr_vm_args; i++) {
		char name[64];
		size_t n = strcspn(o->vm_args[i] + 2, "=");

		snprintf(name, sizeof(name), "%.*s", (int)n, o->vm_args[i] + 2);
		if (same_effect(name, cfg, &f))
			continue;
		vsrv_log("--restore %s: %s is not what the saved VM has (%s): leave the VM's "
			 "options out (the file has them) or give the same", cfg->restore,
			 o->vm_args[i], saved_text(&run, name));
		run_args_free(&f, NULL);
		return -EINVAL;
	}
	/* The file's VM with this run's own options, and the files given for it: disks (the
	 * same specs but for their file names: a copy's) and a UEFI variable store (the saved
	 * variables are written into it). */
	for (unsigned i = 0, swapped = 0; i < o->nr_vm_args; i++) {
		if (!strncmp(o->vm_args[i], "--disk=", 7) && !swapped++) {
			const char **t = f.disks;

			f.disks = cfg->disks;
			cfg->disks = t;
		} else if (!strncmp(o->vm_args[i], "--firmware=", 11)) {
			f.firmware_vars = cfg->firmware_vars;
			f.firmware_vars_template = cfg->firmware_vars_template;
		}
	}
	f.serial = cfg->serial;
	f.serial_path = cfg->serial_path;
	f.no_reboot = cfg->no_reboot;
	f.control = cfg->control;
	f.vnc = cfg->vnc;
	f.restore_read = cfg->restore_read;
	f.run_args = (const char *const *)run.args;
	f.nr_run_args = run.n;
	if (o->nr_vm_args) {
		ret = merge_args(&run, o);
		if (ret) {
			run_args_free(&f, NULL);
			return ret;
		}
		f.run_args = o->merged_args;
		f.nr_run_args = (unsigned)(run.n + o->nr_vm_args) - merged_dropped(&run, o);
	}
	run_args_free(cfg, NULL);
	*cfg = f;
	return 0;
}

void run_args_free(struct vm_config *cfg, struct run_opts *o)
{
	if (cfg) {
		free(cfg->disks);
		free(cfg->nets);
		free(cfg->devices);
		free(cfg->displays);
		cfg->disks = cfg->nets = cfg->devices = cfg->displays = NULL;
	}
	if (!o)
		return;
	for (unsigned i = 0; i < o->nr_owned; i++)
		free(o->owned[i]);
	free(o->owned);
	for (unsigned i = 0; i < o->nr_vm_args; i++)
		free(o->vm_args[i]);
	free(o->vm_args);
	free(o->file_args);
	free(o->merged_args);
	if (o->file_opts)
		run_args_free(NULL, o->file_opts);
	free(o->file_opts);
}
