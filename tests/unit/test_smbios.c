/* Unit tests of the SMBIOS tables (arch/x86/smbios.c): the structure walk and the entry
 * point checksum here, and Debian's dmidecode as the oracle: the tables are written in
 * dmidecode's --dump-bin layout (entry point at 0 with the table address patched to 0x20,
 * the table at 0x20) and `dmidecode --from-dump` must decode every structure without a
 * complaint and print the UUID, product name and serial number given. */
#include "check.h"
#include "scratch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/smbios.h"

static const char *dmidecode_bin(void)
{
	static const char *c[] = { "/usr/sbin/dmidecode", "/sbin/dmidecode", "/usr/bin/dmidecode" };

	for (unsigned i = 0; i < 3; i++)
		if (!access(c[i], X_OK))
			return c[i];
	return NULL;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

/* Walk the table: count structures per type, check lengths and handles. Returns the number
 * of structures, or -1 when the walk leaves the table or misses type 127. */
static int walk(const uint8_t *t, size_t len, unsigned counts[128], size_t *max_struct)
{
	size_t off = 0;
	int n = 0;
	uint16_t handles[8192];

	*max_struct = 0;
	while (off + 4 <= len) {
		const uint8_t *s = t + off;
		size_t end = off + s[1];
		uint16_t h = (uint16_t)(s[2] | s[3] << 8);

		if (s[1] < 4 || end > len)
			return -1;
		for (int i = 0; i < n; i++)
			if (handles[i] == h)
				return -1;          /* duplicate handle */
		handles[n++] = h;
		while (end + 1 < len && (t[end] || t[end + 1]))
			end++;
		end += 2;
		if (end > len)
			return -1;
		if (end - off > *max_struct)
			*max_struct = end - off;
		counts[s[0] & 127]++;
		if (s[0] == 127)
			return end == len ? n : -1;
		off = end;
	}
	return -1;
}

struct cfg {
	const char *uuid, *product, *serial;
	unsigned cpus;
	uint64_t low, high;
	unsigned dimms;
};

static void check_cfg(const struct cfg *c, const char *tag)
{
	struct smbios_info in = {
		.product = c->product, .version = "pc-vsrv-0.1", .serial = c->serial,
		.sku = "vsrv-sku", .family = "vsrv VMs", .bios_version = "0.1",
		.bios_date = "12/06/2026", .nr_cpus = c->cpus, .mem_low = c->low, .mem_high = c->high,
	};
	unsigned counts[128] = { 0 };
	uint8_t *ep, *t, dump_ep[32] = { 0 };
	size_t len, max_struct;
	char cmd[1024], line[512], path[64];
	const char *dmi = dmidecode_bin();
	FILE *f;
	int n, handles = 0, bad = 0, uuid_ok = 0, product_ok = 0, serial_ok = 0, vm_ok = 0;

	CHECK_EQ(smbios_uuid_parse(c->uuid, in.uuid), 0);
	CHECK_EQ(smbios_build(&in, &ep, &t, &len), 0);
	if (check_case_failed)
		return;
	/* entry point: anchor, length, version 3.0, checksum, table max size, address 0 */
	CHECK(!memcmp(ep, "_SM3_", 5));
	CHECK_EQ(ep[6], SMBIOS_EP3_LEN);
	CHECK_EQ(ep[7], 3);
	CHECK_EQ(sum(ep, SMBIOS_EP3_LEN), 0);
	CHECK_EQ(ep[12] | ep[13] << 8 | ep[14] << 16 | (uint32_t)ep[15] << 24, len);
	for (int i = 16; i < 24; i++)
		CHECK_EQ(ep[i], 0);
	n = walk(t, len, counts, &max_struct);
	CHECK_EQ(n, 3 + c->cpus + 1 + c->dimms + (c->low != 0) + (c->high != 0) + 2);
	CHECK_EQ(counts[0], 1);
	CHECK_EQ(counts[1], 1);
	CHECK_EQ(counts[3], 1);
	CHECK_EQ(counts[4], c->cpus);
	CHECK_EQ(counts[16], 1);
	CHECK_EQ(counts[17], c->dimms);
	CHECK_EQ(counts[19], (c->low != 0) + (c->high != 0));
	CHECK_EQ(counts[32], 1);
	CHECK_EQ(counts[127], 1);

	if (!dmi) {
		printf("SKIP dmidecode_%s: dmidecode is not installed (mk/deps.sh test)\n", tag);
		goto out;
	}
	/* dmidecode's --dump-bin layout */
	memcpy(dump_ep, ep, SMBIOS_EP3_LEN);
	dump_ep[16] = 0x20;
	dump_ep[5] = 0;
	dump_ep[5] = (uint8_t)-sum(dump_ep, SMBIOS_EP3_LEN);
	snprintf(path, sizeof(path), "smbios-%s.bin", tag);
	f = fopen(P(path), "wb");
	CHECK(f && fwrite(dump_ep, 1, 32, f) == 32 && fwrite(t, 1, len, f) == len);
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd), "%s --from-dump %s 2>&1", dmi, P(path));
	f = popen(cmd, "r");
	CHECK(f);
	while (f && fgets(line, sizeof(line), f)) {
		char want[128];

		if (!strncmp(line, "Handle 0x", 9))
			handles++;
		/* what dmidecode says of a malformed table */
		if (strstr(line, "OUT OF SPEC") || strstr(line, "Invalid") || strstr(line, "Wrong") ||
		    strstr(line, "broken") || strstr(line, "not fully supported") ||
		    strstr(line, "Bad ") || strstr(line, "BAD INDEX") || strstr(line, "Unknown Type") ||
		    strstr(line, "unreachable") || strstr(line, "Truncated") || strstr(line, "nvalid")) {
			printf("dmidecode: %s", line);
			bad++;
		}
		snprintf(want, sizeof(want), "\tUUID: %s\n", c->uuid);
		if (!strcasecmp(line, want))
			uuid_ok++;
		snprintf(want, sizeof(want), "\tProduct Name: %s\n", c->product);
		if (!strcmp(line, want))
			product_ok++;
		snprintf(want, sizeof(want), "\tSerial Number: %s\n", c->serial);
		if (!strcmp(line, want))
			serial_ok++;      /* system and chassis */
		if (!strcmp(line, "\t\tSystem is a virtual machine\n"))
			vm_ok++;
	}
	CHECK(f && pclose(f) == 0);
	CHECK_EQ(bad, 0);
	CHECK_EQ(handles, n);
	CHECK_EQ(uuid_ok, 1);
	CHECK_EQ(product_ok, 1);
	CHECK_EQ(serial_ok, 2);
	CHECK_EQ(vm_ok, 1);
out:
	free(ep);
	free(t);
}

static void test_smbios_small(void)
{
	struct cfg c = { "12345678-9abc-def0-1122-334455667788", "web1", "VSRV-0001", 1,
			 64ULL << 20, 0, 1 };
	check_cfg(&c, "small");
}

static void test_smbios_large(void)
{
	/* 3 GiB below the hole and 61 GiB above: 4 DIMMs of 16 GiB, two type 19 ranges */
	struct cfg c = { "a0b1c2d3-e4f5-4607-8899-aabbccddeeff", "db-server.example", "S/N 42",
			 8, 3ULL << 30, 61ULL << 30, 4 };
	check_cfg(&c, "large");
}

static void test_smbios_huge(void)
{
	/* more than 2 TiB (the extended capacity fields) and many CPUs; odd sizes in KiB */
	struct cfg c = { "ffffffff-0000-4000-8000-000000000001", "big", "x", 64,
			 (3ULL << 30) - 4096, (5ULL << 40) + 4096, 321 };
	check_cfg(&c, "huge");
}

static void test_smbios_bad_input(void)
{
	struct smbios_info in = { .nr_cpus = 1, .mem_low = 1 << 20 };
	char longs[SMBIOS_STR_MAX + 2];
	uint8_t *ep, *t, u[16];
	size_t len;

	memset(longs, 'x', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = 0;
	in.product = longs;
	CHECK_EQ(smbios_build(&in, &ep, &t, &len), -EINVAL);
	in.product = "ok";
	in.nr_cpus = 0;
	CHECK_EQ(smbios_build(&in, &ep, &t, &len), -EINVAL);
	in.nr_cpus = 1;
	in.mem_low = 0;
	CHECK_EQ(smbios_build(&in, &ep, &t, &len), -EINVAL);
	CHECK_EQ(smbios_uuid_parse("12345678-9abc-def0-1122-33445566778", u), -EINVAL);
	CHECK_EQ(smbios_uuid_parse("12345678-9abc-def0-1122+334455667788", u), -EINVAL);
	CHECK_EQ(smbios_uuid_parse("g2345678-9abc-def0-1122-334455667788", u), -EINVAL);
	CHECK_EQ(smbios_uuid_parse("12345678-9ABC-def0-1122-334455667788", u), 0);
	CHECK_EQ(u[0], 0x12);
	CHECK_EQ(u[5], 0xbc);
	CHECK_EQ(u[15], 0x88);
}

int main(void)
{
	if (scratch_make("vsrv-smbios"))
		return 1;
	RUN(test_smbios_small);
	RUN(test_smbios_large);
	RUN(test_smbios_huge);
	RUN(test_smbios_bad_input);
	scratch_remove();
	return check_done();
}
