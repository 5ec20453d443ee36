/* The RUN section of a save file (vmm/savestate_run.h, docs/savestate.md "The run
 * configuration") without KVM: arguments encoded and parsed back byte for byte; the
 * parser's refusals (another version, counts that do not add up, an argument cut short or
 * not one, bytes left over); a file written with the section reads back through
 * savestate_read and savestate_read_run, a file without it (the format before) still reads
 * and has none, a flipped byte in it is a CRC refusal. Then `vsrv run --restore`'s side
 * (cli/run_args.h): the VM's options come from the file, the same options given again (also
 * written otherwise: --memory 64 for 64M) are accepted, others refused naming the option. */
#include "check.h"
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/run_args.h"
#include "vmm/savestate_file.h"
#include "vmm/savestate_run.h"

#define SMEM (2u << 20)

static const char *const args[] = {
	"--kernel=/boot/guest.elf", "--memory=64M", "--cpus=1",
	"--disk=/var/lib/a.vhd,format=vhd,bus=virtio-blk", "--disk=,media=cdrom",
	"--cmdline=console=ttyS0 quiet x=\"a b\"", "--device=balloon", "--enlightenments=kvm",
};
#define NARGS (sizeof(args) / sizeof(args[0]))

static void test_round_trip(void)
{
	struct savestate_run r;
	const char *why = "";
	uint8_t *p = NULL;
	uint64_t len = 0;

	CHECK_EQ(savestate_run_encode(args, NARGS, &p, &len), 0);
	CHECK_EQ(savestate_run_parse(p, len, &r, &why), 0);
	CHECK_EQ(r.n, NARGS);
	for (uint32_t i = 0; i < r.n && i < NARGS; i++)
		CHECK(!strcmp(r.args[i], args[i]));
	free(r.args);
	free(p);
	/* none at all is a valid section too */
	CHECK_EQ(savestate_run_encode(NULL, 0, &p, &len), 0);
	CHECK_EQ(len, sizeof(struct savestate_run_hdr));
	CHECK_EQ(savestate_run_parse(p, len, &r, &why), 0);
	CHECK_EQ(r.n, 0);
	free(r.args);
	free(p);
}

static void test_bad_args(void)
{
	static const char *const bad[] = { "memory=64M", "--", "-x", "--=64M", "--me mory=1",
					   "--cmdline=a\nb", "--cmdline=\x7f", "--name=\x01" };
	char *longarg = malloc(SAVESTATE_RUN_MAX_ARG + 8);
	uint8_t *p = NULL;
	uint64_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!savestate_run_arg_ok(bad[i]));
		CHECK_EQ(savestate_run_encode(&bad[i], 1, &p, &len), -EINVAL);
	}
	CHECK(savestate_run_arg_ok("--balloon"));
	CHECK(savestate_run_arg_ok("--disk="));
	memset(longarg, 'a', SAVESTATE_RUN_MAX_ARG + 7);
	memcpy(longarg, "--cmdline=", 10);
	longarg[SAVESTATE_RUN_MAX_ARG] = '\0';
	CHECK(!savestate_run_arg_ok(longarg));
	longarg[SAVESTATE_RUN_MAX_ARG - 1] = '\0';
	CHECK(savestate_run_arg_ok(longarg));
	free(longarg);
}

/* A payload of hdr then text[0..n), parsed: the return value, *why. */
static int parse_raw(uint32_t version, uint32_t count, uint32_t bytes, uint32_t reserved,
		     const char *text, size_t n, const char **why)
{
	struct savestate_run_hdr h = { version, count, bytes, reserved };
	uint8_t buf[256];
	struct savestate_run r;
	int ret;

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), text, n);
	*why = "";
	ret = savestate_run_parse(buf, sizeof(h) + n, &r, why);
	free(r.args);
	CHECK(ret || r.n == count);
	return ret;
}

static void test_parse_refusals(void)
{
	const char *why;

	CHECK_EQ(parse_raw(1, 2, 12, 0, "--a=1\0--bc=\0", 12, &why), 0);
	CHECK_EQ(parse_raw(2, 2, 12, 0, "--a=1\0--bc=\0", 12, &why), -EINVAL);
	CHECK(strstr(why, "version"));
	CHECK_EQ(parse_raw(1, 2, 12, 1, "--a=1\0--bc=\0", 12, &why), -EINVAL);
	CHECK_EQ(parse_raw(1, 2, 13, 0, "--a=1\0--bc=\0", 12, &why), -EINVAL);
	CHECK(strstr(why, "counts"));
	CHECK_EQ(parse_raw(1, 3, 12, 0, "--a=1\0--bc=\0", 12, &why), -EINVAL);
	CHECK(strstr(why, "cut short"));
	CHECK_EQ(parse_raw(1, 1, 12, 0, "--a=1\0--bc=\0", 12, &why), -EINVAL);
	CHECK(strstr(why, "bytes after"));
	CHECK_EQ(parse_raw(1, 2, 11, 0, "--a=1\0--bc=", 11, &why), -EINVAL);
	CHECK(strstr(why, "cut short"));
	CHECK_EQ(parse_raw(1, 2, 12, 0, "--a=1\0-xbc=\0", 12, &why), -EINVAL);
	CHECK(strstr(why, "bad argument"));
	CHECK_EQ(parse_raw(1, 2, 12, 0, "--a=1\0--b\t=\0", 12, &why), -EINVAL);
	CHECK_EQ(parse_raw(1, SAVESTATE_RUN_MAX_ARGS + 1, 12, 0, "--a=1\0--bc=\0", 12, &why),
		 -EINVAL);
	CHECK_EQ(parse_raw(1, 0, 0, 0, "", 0, &why), 0);
	CHECK_EQ(parse_raw(1, 0, 1, 0, "", 1, &why), -EINVAL);
	{
		struct savestate_run r;
		uint8_t b[8] = { 1 };

		CHECK_EQ(savestate_run_parse(b, sizeof(b), &r, &why), -EINVAL);
		CHECK(strstr(why, "too short"));
	}
}

/* Write a 1-vCPU state (no devices) to path, with the RUN section of a[0..n) when a. */
static void write_file(const char *path, const char *const *a, uint32_t n)
{
	static uint8_t ram[SMEM];
	struct savestate *s = NULL;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	CHECK_EQ(savestate_alloc(1, &s), 0);
	s->config.mem_size = SMEM;
	s->config.nr_cpus = 1;
	ram[4096] = 0x5a;
	if (a) {
		CHECK_EQ(savestate_run_encode(a, n, &s->run_buf, &s->run_len), 0);
		s->run = s->run_buf;
	}
	CHECK_EQ(savestate_write(fd, s, ram, NULL), 0);
	savestate_free(s);
	close(fd);
}

static void test_file(void)
{
	struct savestate *s = NULL;
	struct savestate_run r;
	const char *why = "";
	int fd;

	write_file(P("with.state"), args, NARGS);
	fd = open(P("with.state"), O_RDONLY | O_CLOEXEC);
	CHECK_EQ(savestate_read(fd, &s, &why), 0);
	CHECK(s && s->run_parsed.n == NARGS);
	for (uint32_t i = 0; s && i < s->run_parsed.n && i < NARGS; i++)
		CHECK(!strcmp(s->run_parsed.args[i], args[i]));
	savestate_free(s);
	CHECK_EQ(savestate_read_run(fd, &r, &why), 0);
	CHECK_EQ(r.n, NARGS);
	CHECK(r.n == NARGS && !strcmp(r.args[NARGS - 1], args[NARGS - 1]));
	free(r.args);
	close(fd);

	/* the format before the section: still read, no run configuration */
	write_file(P("without.state"), NULL, 0);
	fd = open(P("without.state"), O_RDONLY | O_CLOEXEC);
	s = NULL;
	CHECK_EQ(savestate_read(fd, &s, &why), 0);
	CHECK(s && s->run_parsed.n == 0 && !s->run_parsed.args);
	savestate_free(s);
	CHECK_EQ(savestate_read_run(fd, &r, &why), -ENOENT);
	close(fd);
}

/* The offset of the RUN section's header in path (found by walking the headers). */
static off_t run_off(int fd)
{
	uint8_t h[32];
	off_t off = 64;
	uint64_t len;
	uint32_t type;

	while (pread(fd, h, 32, off) == 32) {
		memcpy(&type, h, 4);
		memcpy(&len, h + 8, 8);
		if (type == SAVESTATE_SEC_RUN)
			return off;
		off += 32 + (off_t)len;
	}
	return -1;
}

static void test_file_corrupt(void)
{
	struct savestate *s = NULL;
	struct savestate_run r;
	const char *why = "";
	uint8_t b;
	off_t off;
	int fd;

	write_file(P("flip.state"), args, NARGS);
	fd = open(P("flip.state"), O_RDWR | O_CLOEXEC);
	off = run_off(fd);
	CHECK(off > 0);
	CHECK(pread(fd, &b, 1, off + 32 + 20) == 1);
	b ^= 0x04;
	CHECK(pwrite(fd, &b, 1, off + 32 + 20) == 1);
	CHECK_EQ(savestate_read(fd, &s, &why), -EINVAL);
	CHECK(strstr(why, "CRC"));
	CHECK_EQ(savestate_read_run(fd, &r, &why), -EINVAL);
	CHECK(strstr(why, "CRC"));
	/* the section header itself */
	b ^= 0x04;
	CHECK(pwrite(fd, &b, 1, off + 32 + 20) == 1);
	CHECK(pread(fd, &b, 1, off + 8) == 1);
	b ^= 0x01;
	CHECK(pwrite(fd, &b, 1, off + 8) == 1);
	CHECK_EQ(savestate_read_run(fd, &r, &why), -EINVAL);
	CHECK(strstr(why, "header is corrupt"));
	close(fd);
}

/* `vsrv run ARGV...` parsed as run.c does, then run_args_restore: its return value, cfg
 * and o for the caller to look at (free with run_args_free). */
static int restore(const char *const *argv, int argc, struct vm_config *cfg, struct run_opts *o)
{
	int ret;

	*cfg = (struct vm_config){ .nr_cpus = 1, .mem_size = DEFAULT_MEM,
				   .serial = VM_SERIAL_STDIO };
	*o = (struct run_opts){ .sandbox = -1 };
	ret = run_parse_args(argc, (char **)argv, cfg, o);
	CHECK_EQ(ret, 0);
	return ret ? ret : run_args_restore(argv[0], cfg, o);
}

static void test_restore_options(void)
{
	static const char *const saved[] = { "--kernel=/boot/guest.elf", "--memory=64M",
					     "--disk=/var/lib/a.vhd,format=vhd", "--disk=,media=cdrom",
					     "--net=user", "--device=balloon" };
	struct vm_config c;
	struct run_opts o;
	const char *path = P("cfg.state");

	write_file(path, saved, sizeof(saved) / sizeof(saved[0]));
	{	/* nothing but the run's own options: the VM is the file's */
		const char *argv[] = { "run", "--restore", path, "--serial", "none",
				       "--control", "/run/x.ctl", "--no-reboot" };
		CHECK_EQ(restore(argv, 8, &c, &o), 0);
		CHECK_EQ(c.mem_size, 64ULL << 20);
		CHECK(c.kernel && !strcmp(c.kernel, "/boot/guest.elf"));
		CHECK_EQ(c.nr_disks, 2);
		CHECK(c.nr_disks == 2 && !strcmp(c.disks[1], ",media=cdrom"));
		CHECK(c.nr_nets == 1 && !strcmp(c.nets[0], "user"));
		CHECK(c.nr_devices == 1 && !strcmp(c.devices[0], "balloon"));
		CHECK(c.serial == VM_SERIAL_NONE && c.no_reboot);
		CHECK(c.control && !strcmp(c.control, "/run/x.ctl"));
		CHECK(c.restore && !strcmp(c.restore, path));
		/* a save of the restored VM keeps the same configuration */
		CHECK_EQ(c.nr_run_args, 6);
		CHECK(c.nr_run_args == 6 && !strcmp(c.run_args[2], saved[2]));
		run_args_free(&c, &o);
	}
	{	/* the same options again, --memory written otherwise, a --cdrom for the drive */
		const char *argv[] = { "run", "--restore", path, "--memory", "64",
				       "--disk", "/var/lib/a.vhd,format=vhd", "--cdrom",
				       "--balloon" };
		CHECK_EQ(restore(argv, 9, &c, &o), 0);
		CHECK_EQ(c.nr_disks, 2);
		/* a save of it keeps the file's other options and the given ones */
		CHECK_EQ(c.nr_run_args, 6);
		CHECK(c.nr_run_args == 6 && !strcmp(c.run_args[0], "--kernel=/boot/guest.elf") &&
		      !strcmp(c.run_args[1], "--net=user") && !strcmp(c.run_args[2], "--memory=64"));
		run_args_free(&c, &o);
	}
	{	/* the disks' file names may differ (a copy; a CD/DVD drive's image: its saved
		 * state names its medium): the given ones are used and kept by a save */
		const char *argv[] = { "run", "--restore", path, "--disk",
				       "/copy/a.vhd,format=vhd", "--cdrom", "/images/new.iso" };
		CHECK_EQ(restore(argv, 7, &c, &o), 0);
		CHECK(c.nr_disks == 2 && !strcmp(c.disks[0], "/copy/a.vhd,format=vhd") &&
		      !strcmp(c.disks[1], "/images/new.iso,media=cdrom"));
		CHECK(c.nr_run_args == 6 && !strcmp(c.run_args[4], "--disk=/copy/a.vhd,format=vhd"));
		run_args_free(&c, &o);
	}
	{	/* ...not the rest of a disk's spec, nor a disk for a CD/DVD drive */
		const char *argv[] = { "run", "--restore", path, "--disk",
				       "/var/lib/a.vhd,format=raw", "--cdrom" };
		const char *argv2[] = { "run", "--restore", path, "--disk",
				       "/var/lib/a.vhd,format=vhd", "--disk", "/x.iso" };
		CHECK_EQ(restore(argv, 6, &c, &o), -EINVAL);
		run_args_free(&c, &o);
		CHECK_EQ(restore(argv2, 7, &c, &o), -EINVAL);
		run_args_free(&c, &o);
	}
	{	/* another memory size */
		const char *argv[] = { "run", "--restore", path, "--memory", "32M" };
		CHECK_EQ(restore(argv, 5, &c, &o), -EINVAL);
		run_args_free(&c, &o);
	}
	{	/* another disk list: one disk left out */
		const char *argv[] = { "run", "--restore", path, "--disk",
				       "/var/lib/a.vhd,format=vhd" };
		CHECK_EQ(restore(argv, 5, &c, &o), -EINVAL);
		run_args_free(&c, &o);
	}
	{	/* an option the saved VM did not have */
		const char *argv[] = { "run", "--restore", path, "--cpus", "2" };
		CHECK_EQ(restore(argv, 5, &c, &o), -EINVAL);
		run_args_free(&c, &o);
	}
	{	/* ...but the default given explicitly is the same */
		const char *argv[] = { "run", "--restore", path, "--cpus", "1" };
		CHECK_EQ(restore(argv, 5, &c, &o), 0);
		run_args_free(&c, &o);
	}
	{	/* a file whose configuration names a run's own options: refused, whatever is given */
		static const char *const bad[] = { "--memory=64M", "--restore=/elsewhere.state",
						   "--control=/run/other.ctl" };
		const char *argv[] = { "run", "--restore", P("bad.state"), "--serial", "none" };

		write_file(P("bad.state"), bad, 3);
		CHECK_EQ(restore(argv, 5, &c, &o), -EINVAL);
		CHECK(c.restore && !strcmp(c.restore, P("bad.state")));
		run_args_free(&c, &o);
	}
	{	/* a file of before the section: the options given make the VM, as before */
		const char *argv[] = { "run", "--restore", P("without.state"), "--memory", "32M" };
		CHECK_EQ(restore(argv, 5, &c, &o), 0);
		CHECK_EQ(c.mem_size, 32ULL << 20);
		CHECK(!c.kernel && c.nr_disks == 0);
		CHECK(c.nr_run_args == 1 && !strcmp(c.run_args[0], "--memory=32M"));
		run_args_free(&c, &o);
	}
}

/* `vsrv img info FILE` (cli/img_save.c) of a save file: its output, run by the binary next to
 * this one (build/vsrv; the tests run from the tree's root). */
static void img_info(const char *path, const char *opt, char *out, size_t n)
{
	char cmd[1024];
	size_t got = 0, r;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "build/vsrv img info %s %s 2>&1", opt, path);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	while (p && got + 1 < n && (r = fread(out + got, 1, n - 1 - got, p)) > 0)
		got += r;
	out[got] = '\0';
	if (p)
		pclose(p);
}

static void test_img_info(void)
{
	static char out[16384];

	if (access("build/vsrv", X_OK)) {
		printf("SKIP test_img_info: no build/vsrv (run from the tree's root after make)\n");
		return;
	}
	write_file(P("info.state"), args, NARGS);
	img_info(P("info.state"), "--output=json", out, sizeof(out));
	CHECK(strstr(out, "\"format\": \"vsrv-save\""));
	CHECK(strstr(out, "\"vcpus\": 1"));
	CHECK(strstr(out, "\"memory\": 2097152"));
	CHECK(strstr(out, "\"--disk=/var/lib/a.vhd,format=vhd,bus=virtio-blk\""));
	CHECK(strstr(out, "\"--cmdline=console=ttyS0 quiet x=\\\"a b\\\"\""));
	img_info(P("info.state"), "", out, sizeof(out));
	CHECK(strstr(out, "file format: vsrv saved VM"));
	CHECK(strstr(out, "run configuration: --kernel=/boot/guest.elf\n    --memory=64M\n"));
	/* the format before: none, and how to restore it */
	img_info(P("without.state"), "", out, sizeof(out));
	CHECK(strstr(out, "run configuration: none"));
	/* a corrupt one: refused with the parser's reason, status not 0 */
	{
		int fd = open(P("info.state"), O_RDWR | O_CLOEXEC);
		off_t off = run_off(fd);
		uint8_t b = 0;

		CHECK(pread(fd, &b, 1, off + 40) == 1);
		b ^= 1;
		CHECK(pwrite(fd, &b, 1, off + 40) == 1);
		close(fd);
		img_info(P("info.state"), "", out, sizeof(out));
		CHECK(strstr(out, "a vsrv save file, but a section is corrupt (CRC mismatch)"));
	}
}

int main(void)
{
	if (scratch_make("vsrv-saverun"))
		return 1;
	RUN(test_round_trip);
	RUN(test_bad_args);
	RUN(test_parse_refusals);
	RUN(test_file);
	RUN(test_file_corrupt);
	RUN(test_restore_options);
	RUN(test_img_info);
	scratch_remove();
	return check_done();
}
