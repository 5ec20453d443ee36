/* A display's VRAM in the live-migration stream (src/vmm/migrate_stream.c, DEVMEM frames
 * between DEVICES and END), without KVM: a stream made with the sender's own functions as
 * migrate.c sends it (header, CONFIG naming one bochs-display, the state sections, a DEVMEM
 * frame, END, GO) goes through migrate_recv into a sink: the device memory arrives whole.
 * Refused with a reason: a frame naming an entry the VM does not have, the same entry
 * twice, a corrupt payload, a sink that takes no device memory. Streams without DEVMEM
 * frames (every source before) still go through. */
#include "check.h"

#include "vmm/migrate_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM (2u << 20)
#define VRAM (64u << 10)

static uint8_t *guest, vram[VRAM], got[VRAM];
static int loads;

static int s_config(void *o, const struct savestate_config *c, uint8_t **mem, char *why,
		    size_t whylen)
{
	(void)o, (void)why, (void)whylen;
	CHECK_EQ(c->mem_size, MEM);
	*mem = guest;
	return 0;
}

static int s_load(void *o, const struct savestate *s, char *why, size_t whylen)
{
	(void)o, (void)s, (void)why, (void)whylen;
	loads++;
	return 0;
}

static uint8_t *s_devmem(void *o, uint32_t index, uint64_t len, char *why, size_t whylen)
{
	(void)o;
	if (index != 0 || len != VRAM) {
		snprintf(why, whylen, "device %u has no %llu bytes of memory", index,
			 (unsigned long long)len);
		return NULL;
	}
	return got;
}

/* The stream into a memfd. how: 0 good, 1 entry 1 (the VM has one), 2 entry 0 twice,
 * 3 a flipped payload byte, 4 no DEVMEM frame. */
static int stream(int how)
{
	struct savestate *s = NULL;
	struct migrate_end end = { 0 };
	int fd = memfd_create("mig", MFD_CLOEXEC), ret;

	CHECK_EQ(savestate_alloc(1, &s), 0);
	s->config.mem_size = MEM;
	s->config.nr_cpus = 1;
	s->config.nr_devs = 1;
	s->config.dev[0].kind = 13; /* bochs-display */
	s->devices->n = 1;
	s->devices->e[0].kind = 13;
	ret = mstream_send_header(fd, 0);
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_CONFIG, 0, &s->config, sizeof(s->config));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_VM, 0, &s->vm, sizeof(s->vm));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_VCPU, 0, &s->vcpus[0], sizeof(s->vcpus[0]));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_LEGACY, 0, &s->legacy, sizeof(s->legacy));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_DEVICES, 0, s->devices,
				       savestate_devices_len(1));
	if (how != 4)
		ret = ret ? ret : mstream_send(fd, MIGRATE_FR_DEVMEM, how == 1, vram, VRAM);
	if (how == 2)
		ret = ret ? ret : mstream_send(fd, MIGRATE_FR_DEVMEM, 0, vram, VRAM);
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_END, 0, &end, sizeof(end));
	ret = ret ? ret : mstream_send(fd, MIGRATE_FR_GO, 0, NULL, 0);
	CHECK_EQ(ret, 0);
	if (how == 3) { /* a byte in the middle of the DEVMEM payload */
		off_t at = lseek(fd, 0, SEEK_END) - 32 - (off_t)sizeof(end) - 32 - VRAM / 2;
		uint8_t x;

		CHECK(pread(fd, &x, 1, at) == 1);
		x ^= 1;
		CHECK(pwrite(fd, &x, 1, at) == 1);
	}
	lseek(fd, 0, SEEK_SET);
	savestate_free(s);
	return fd;
}

static int recv_one(int how, const struct migrate_sink *sink, char *why, size_t whylen)
{
	struct migrate_recv_stats st;
	int in = stream(how), out = memfd_create("ans", MFD_CLOEXEC), ret;

	memset(got, 0, sizeof(got));
	memset(guest, 0, MEM);
	ret = migrate_recv(in, out, sink, NULL, &st, why, whylen);
	close(in);
	close(out);
	return ret;
}

static void test_devmem_frames(void)
{
	const struct migrate_sink sink = { s_config, s_load, s_devmem, NULL, NULL };
	const struct migrate_sink nodev = { s_config, s_load, NULL, NULL, NULL };
	char why[600];

	guest = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (unsigned i = 0; i < VRAM; i++)
		vram[i] = (uint8_t)(i * 7 + (i >> 9));
	CHECK_EQ(recv_one(0, &sink, why, sizeof(why)), 0);
	CHECK(!memcmp(got, vram, VRAM));
	CHECK_EQ(loads, 1);
	CHECK(recv_one(1, &sink, why, sizeof(why)) < 0);
	CHECK(strstr(why, "bad entry") != NULL);
	CHECK(recv_one(2, &sink, why, sizeof(why)) < 0);
	CHECK(strstr(why, "bad entry") != NULL);
	CHECK(recv_one(3, &sink, why, sizeof(why)) < 0);
	CHECK(strstr(why, "CRC") != NULL);
	CHECK(recv_one(0, &nodev, why, sizeof(why)) < 0);
	CHECK(strstr(why, "refused") != NULL);
	CHECK_EQ(loads, 1); /* nothing loaded after a refusal */
	CHECK_EQ(recv_one(4, &sink, why, sizeof(why)), 0);
	CHECK_EQ(got[1], 0);
	CHECK_EQ(loads, 2);
	munmap(guest, MEM);
}

int main(void)
{
	RUN(test_devmem_frames);
	return check_done();
}
