/* The FIRMWARE section in the save file and the migration stream (docs/savestate.md,
 * docs/migration.md), without KVM. The state of a UEFI VM built by hand (fwvm.h), its flash
 * programmed, goes through savestate_write / savestate_read and through the sender's frames
 * into migrate_recv: the section and the variable store come back byte for byte. Files and
 * streams without it (every one before) still read, with has_fw 0. Refused with a reason:
 * a flipped byte (CRC), another section version (CRC made right), a section count that
 * does not match, a second FIRMWARE section, a stream flagged for firmware without the
 * frame, unknown stream flags, a destination whose sink refuses the flag; a file with the
 * section restored into a VM configured without --firmware and the other way round
 * (vm_restore_open, vm_restore_state). Needs Debian's ovmf (make test-deps). */
#include "check.h"
#include "fwvm.h"
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/migrate_stream.h"
#include "vmm/savestate.h"
#include "vmm/savestate_file.h"

#define SMEM (4u << 20)   /* the saved VM's RAM in the file and the stream */

static struct savestate_firmware fw;
static uint8_t *vars, *ram;

/* A UEFI VM's FIRMWARE section with a programmed variable store, into fw and vars. */
static void make_fw(void)
{
	static const uint8_t data[4] = { 0xde, 0xad, 0xbe, 0xef };
	struct vm_config c;
	char spec[600];
	const uint8_t *v;
	struct vm *a;
	uint64_t base;

	snprintf(spec, sizeof(spec), "uefi,vars=%s", P("a_VARS.fd"));
	a = mk(&c, spec, "vm-f", 1, 0);
	x86_firmware_save(a, &fw, &v);
	base = (1ULL << 32) - fw.rom_size - fw.vars_size;
	mmio8(a, base + 0x2000, 0x20);
	mmio8(a, base + 0x2000, 0xd0);
	mmio8(a, base + 0x2004, 0x10);
	bus_dispatch(&a->mmio, base + 0x2004, (uint8_t *)data, 4, true);
	x86_firmware_save(a, &fw, &v);
	vars = malloc(fw.vars_size);
	memcpy(vars, v, fw.vars_size);
	CHECK(!memcmp(vars + 0x2004, data, 4));
	rm(a);
}

static struct savestate *state(bool with_fw)
{
	struct savestate *s = NULL;

	CHECK_EQ(savestate_alloc(1, &s), 0);
	s->config.mem_size = SMEM;
	s->config.nr_cpus = 1;
	if (with_fw) {
		s->has_fw = 1;
		s->fw = fw;
		s->fw_vars = vars;
	}
	return s;
}

/* The FIRMWARE section's header offset in a file of state() (1 vCPU, no devices). */
static off_t fw_off(void)
{
	return 64 + 5 * 32 + sizeof(struct savestate_config) + sizeof(struct x86_vm_state) +
	       sizeof(struct x86_vcpu_state) + sizeof(struct savestate_legacy) +
	       (off_t)savestate_devices_len(0);
}

static int write_file(bool with_fw, const char *path)
{
	struct savestate *s = state(with_fw);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0);
	CHECK_EQ(savestate_write(fd, s, ram, NULL), 0);
	savestate_free(s);
	return fd;
}

static int read_file(int fd, struct savestate **s, const char **why)
{
	*s = NULL;
	*why = "";
	return savestate_read(fd, s, why);
}

/* Change n bytes at off of the file and make the section's CRCs right again (the section
 * header at sec). */
static void patch(int fd, off_t sec, off_t off, const void *p, size_t n)
{
	uint8_t h[32], *pay;
	uint64_t len;
	uint32_t c;

	CHECK(pwrite(fd, p, n, off) == (ssize_t)n);
	CHECK(pread(fd, h, 32, sec) == 32);
	memcpy(&len, h + 8, 8);
	pay = malloc(len);
	CHECK(pread(fd, pay, len, sec + 32) == (ssize_t)len);
	c = savestate_crc32(0, pay, len);
	memcpy(h + 16, &c, 4);
	c = savestate_crc32(0, h, 20);
	memcpy(h + 20, &c, 4);
	CHECK(pwrite(fd, h, 32, sec) == 32);
	free(pay);
}

static void test_file(void)
{
	struct savestate *s;
	const char *why;
	struct vm_config cfg = { .nr_cpus = 1, .mem_size = SMEM };
	struct vm_restore *r = NULL;
	int fd;

	fd = write_file(true, P("fw.state"));
	CHECK_EQ(read_file(fd, &s, &why), 0);
	if (s) {
		CHECK_EQ(s->has_fw, 1);
		CHECK(!memcmp(&s->fw, &fw, sizeof(fw)));
		CHECK(s->fw_vars && !memcmp(s->fw_vars, vars, fw.vars_size));
		CHECK_EQ(savestate_load_memory(fd, s, ram, &why), 0);
		CHECK_EQ(savestate_check(s, &why), 0);
	}
	savestate_free(s);
	close(fd);
	/* a file without it (as every file before) reads, without firmware */
	fd = write_file(false, P("direct.state"));
	CHECK_EQ(read_file(fd, &s, &why), 0);
	CHECK(s && !s->has_fw && !s->fw_vars);
	savestate_free(s);
	close(fd);

	/* restored into a VM configured the other way: refused before anything is built */
	CHECK(vm_restore_open(P("fw.state"), &cfg, &r) < 0);
	cfg.firmware = X86_FW_UEFI;
	CHECK(vm_restore_open(P("direct.state"), &cfg, &r) < 0);
	CHECK_EQ(vm_restore_open(P("fw.state"), &cfg, &r), 0);
	vm_restore_close(r);

	/* a flipped byte of the variable store */
	fd = write_file(true, P("bad.state"));
	{
		uint8_t x;
		off_t at = fw_off() + 32 + sizeof(fw) + 0x2005;

		CHECK(pread(fd, &x, 1, at) == 1);
		x ^= 0x10;
		CHECK(pwrite(fd, &x, 1, at) == 1);
	}
	CHECK(read_file(fd, &s, &why) < 0);
	CHECK(strstr(why, "CRC") != NULL);
	close(fd);
	/* another section version, its CRCs right */
	fd = write_file(true, P("bad.state"));
	{
		uint32_t v = 2;

		patch(fd, fw_off(), fw_off() + 32, &v, 4);
	}
	CHECK(read_file(fd, &s, &why) < 0);
	CHECK(strstr(why, "version") != NULL);
	close(fd);
	/* a reserved field set, CRCs right */
	fd = write_file(true, P("bad.state"));
	{
		uint32_t v = 1;

		patch(fd, fw_off(), fw_off() + 32 + offsetof(struct savestate_firmware, reserved2),
		      &v, 4);
	}
	CHECK(read_file(fd, &s, &why) < 0);
	CHECK(strstr(why, "reserved") != NULL);
	close(fd);
	/* the header counting one section less (its CRC right): the firmware section is one
	 * too many */
	fd = write_file(true, P("bad.state"));
	{
		uint8_t h[64];
		uint32_t n, c;

		CHECK(pread(fd, h, 64, 0) == 64);
		memcpy(&n, h + 24, 4);
		n--;
		memcpy(h + 24, &n, 4);
		c = savestate_crc32(0, h, 60);
		memcpy(h + 60, &c, 4);
		CHECK(pwrite(fd, h, 64, 0) == 64);
	}
	CHECK(read_file(fd, &s, &why) < 0);
	CHECK(why[0] != 0);
	close(fd);
	/* the section's type changed to DEVMEM (CRCs right): refused, not read as memory */
	fd = write_file(true, P("bad.state"));
	{
		uint8_t h[32];
		uint32_t t = SAVESTATE_SEC_DEVMEM, c;

		CHECK(pread(fd, h, 32, fw_off()) == 32);
		memcpy(h, &t, 4);
		c = savestate_crc32(0, h, 20);
		memcpy(h + 20, &c, 4);
		CHECK(pwrite(fd, h, 32, fw_off()) == 32);
	}
	CHECK(read_file(fd, &s, &why) < 0);
	close(fd);
	/* every truncation inside the section */
	fd = write_file(true, P("bad.state"));
	for (off_t cut = fw_off(); cut < fw_off() + 32 + (off_t)(sizeof(fw) + fw.vars_size);
	     cut += 4093) {
		CHECK_EQ(ftruncate(fd, cut), 0);
		CHECK(read_file(fd, &s, &why) < 0);
		CHECK(why[0] != 0);
	}
	close(fd);
}

/* FIRMWARE between DEVICES and a device's memory (DEVMEM): both read back. */
static void test_file_with_devmem(void)
{
	static uint8_t vram[8192];
	struct savestate *s = state(true), *r = NULL;
	const char *why = "";
	uint8_t got[8192];
	int fd = open(P("devmem.state"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	for (unsigned i = 0; i < sizeof(vram); i++)
		vram[i] = (uint8_t)(i * 13);
	s->config.nr_devs = 1;
	s->config.dev[0].kind = 13;                       /* bochs-display */
	s->devices->n = 1;
	s->devices->e[0].kind = 13;
	s->nr_devmem = 1;
	s->devmem[0] = (struct savestate_devmem){ .index = 0, .len = sizeof(vram), .p = vram };
	CHECK_EQ(savestate_write(fd, s, ram, NULL), 0);
	CHECK_EQ(read_file(fd, &r, &why), 0);
	if (r) {
		CHECK_EQ(r->has_fw, 1);
		CHECK(!memcmp(&r->fw, &fw, sizeof(fw)));
		CHECK(!memcmp(r->fw_vars, vars, fw.vars_size));
		CHECK_EQ(r->nr_devmem, 1);
		CHECK_EQ(savestate_load_devmem(fd, r, 0, got, &why), 0);
		CHECK(!memcmp(got, vram, sizeof(vram)));
	}
	savestate_free(r);
	savestate_free(s);
	close(fd);
}

/* vm_restore_state refuses a state with a FIRMWARE section for a VM without a firmware
 * (and the other way), before anything reaches KVM. */
static void test_restore_state_mismatch(void)
{
	struct vm_config c;
	struct vm *b = mk(&c, "bios", "vm-x", 1, 1);
	struct vm *d = calloc(1, sizeof(*d));
	struct savestate *s = state(false);
	struct guest_mem *m = NULL;

	s->config.mem_size = MEM;
	b->nr_vcpus = 1;
	CHECK_EQ(vm_restore_state(b, s, "test"), -EINVAL);  /* none for a firmware VM */
	b->nr_vcpus = 0;
	CHECK_EQ(guest_mem_create(MEM, &m), 0);
	d->mem = m;
	d->nr_vcpus = 1;
	d->vm_fd = d->kvm_fd = -1;
	s->has_fw = 1;
	s->fw = fw;
	s->fw_vars = vars;
	CHECK_EQ(vm_restore_state(d, s, "test"), -EINVAL);  /* one for a direct-boot VM */
	guest_mem_destroy(m);
	free(d);
	savestate_free(s);
	rm(b);
}

/* ---- the migration stream ---- */
static uint8_t *guest;
static struct savestate_firmware got;
static uint8_t *got_vars;
static int got_has_fw, loads;
static uint32_t refuse_flags = ~0u;

static int s_config(void *o, const struct savestate_config *c, uint8_t **mem, char *why,
		    size_t whylen)
{
	(void)o, (void)c, (void)why, (void)whylen;
	*mem = guest;
	return 0;
}

static int s_load(void *o, const struct savestate *s, char *why, size_t whylen)
{
	(void)o, (void)why, (void)whylen;
	loads++;
	got_has_fw = (int)s->has_fw;
	got = s->fw;
	free(got_vars);
	got_vars = NULL;
	if (s->fw_vars) {
		got_vars = malloc(s->fw.vars_size);
		memcpy(got_vars, s->fw_vars, s->fw.vars_size);
	}
	return 0;
}

static int s_flags(void *o, uint32_t flags, char *why, size_t whylen)
{
	(void)o;
	if (flags == refuse_flags) {
		snprintf(why, whylen, "flags %u refused by the test", flags);
		return -EINVAL;
	}
	return 0;
}

/* how: 0 good with firmware, 1 good without, 2 flagged without the frame, 3 the frame
 * without the flag, 4 unknown flag, 5 a flipped byte of the variables, 6 version 2 */
static int stream(int how)
{
	struct savestate *s = state(how != 1);
	struct migrate_end end = { 0 };
	struct savestate_firmware f = fw;
	uint32_t flags = how == 1 || how == 3 ? 0 : how == 4 ? MIGRATE_FLAG_FIRMWARE | 0x80u :
			 MIGRATE_FLAG_FIRMWARE;
	int fd = memfd_create("mig", MFD_CLOEXEC), ret;

	ret = mstream_send_header(fd, flags);
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_CONFIG, 0, &s->config, sizeof(s->config));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_VM, 0, &s->vm, sizeof(s->vm));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_VCPU, 0, &s->vcpus[0], sizeof(s->vcpus[0]));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_LEGACY, 0, &s->legacy, sizeof(s->legacy));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_DEVICES, 0, s->devices,
				       savestate_devices_len(0));
	if (how == 6)
		f.version = 2;
	if (how == 0 || how == 3 || how >= 5)
		ret = ret ? ret : mstream_send2(fd, MIGRATE_FR_FIRMWARE, 0, &f, sizeof(f), vars,
						fw.vars_size);
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_END, 0, &end, sizeof(end));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_GO, 0, NULL, 0);
	CHECK_EQ(ret, 0);
	if (how == 5) { /* a byte of the variables, inside the FIRMWARE frame */
		off_t at = lseek(fd, 0, SEEK_END) - 32 - 32 - (off_t)sizeof(end) - 100;
		uint8_t x;

		CHECK(pread(fd, &x, 1, at) == 1);
		x ^= 4;
		CHECK(pwrite(fd, &x, 1, at) == 1);
	}
	lseek(fd, 0, SEEK_SET);
	savestate_free(s);
	return fd;
}

static int recv_one(int how, char *why, size_t whylen)
{
	static const struct migrate_sink sink = { s_config, s_load, NULL, s_flags, NULL };
	struct migrate_recv_stats st;
	int in = stream(how), out = memfd_create("ans", MFD_CLOEXEC), ret;

	got_has_fw = -1;
	ret = migrate_recv(in, out, &sink, NULL, &st, why, whylen);
	close(in);
	close(out);
	return ret;
}

static void test_stream(void)
{
	char why[600];

	guest = mmap(NULL, SMEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_EQ(recv_one(0, why, sizeof(why)), 0);
	CHECK_EQ(got_has_fw, 1);
	CHECK(!memcmp(&got, &fw, sizeof(fw)));
	CHECK(got_vars && !memcmp(got_vars, vars, fw.vars_size));
	CHECK_EQ(recv_one(1, why, sizeof(why)), 0);         /* a source without firmware */
	CHECK_EQ(got_has_fw, 0);
	CHECK_EQ(loads, 2);
	CHECK(recv_one(2, why, sizeof(why)) < 0);
	CHECK(strstr(why, "firmware") != NULL);
	CHECK(recv_one(3, why, sizeof(why)) < 0);            /* not expected: out of order */
	CHECK(why[0] != 0);
	CHECK(recv_one(4, why, sizeof(why)) < 0);
	CHECK(strstr(why, "malformed") != NULL);
	CHECK(recv_one(5, why, sizeof(why)) < 0);
	CHECK(strstr(why, "CRC") != NULL);
	CHECK(recv_one(6, why, sizeof(why)) < 0);
	CHECK(strstr(why, "version") != NULL);
	refuse_flags = MIGRATE_FLAG_FIRMWARE;                /* a destination without firmware */
	CHECK(recv_one(0, why, sizeof(why)) < 0);
	CHECK(strstr(why, "refused by the test") != NULL);
	refuse_flags = 0;                                    /* a destination with firmware */
	CHECK(recv_one(1, why, sizeof(why)) < 0);
	refuse_flags = ~0u;
	CHECK_EQ(loads, 2);                                  /* nothing loaded after a refusal */
	munmap(guest, SMEM);
	free(got_vars);
}

int main(void)
{
	if (access(X86_FW_UEFI, R_OK) || access(X86_FW_UEFI_VARS, R_OK) ||
	    access(X86_FW_BIOS, R_OK)) {
		printf("SKIP savestate-firmware: Debian's seabios and ovmf are not installed\n");
		return 0;
	}
	if (scratch_make("vsrv-ssfw"))
		return 1;
	ram = calloc(1, SMEM);
	make_fw();
	RUN(test_file);
	RUN(test_file_with_devmem);
	RUN(test_restore_state_mismatch);
	RUN(test_stream);
	free(vars);
	free(ram);
	scratch_remove();
	return check_done();
}
