/* linuxboot: a guest in Linux boot-protocol form (build/guests/linuxboot.bzImage and
 * linuxboot.vmlinux) that checks what the loader handed over in boot_params:
 *   - it was entered through the 64-bit Linux entry with RSI = boot_params;
 *   - the command line arrived (the checks below are parameters on it);
 *   - e820: usable RAM within [ram - 2 MiB, ram] for `ram=SIZE`;
 *   - the initrd: `initrd_size=N` and `initrd_cksum=C`, C as printed by POSIX cksum(1);
 *     the checksum is computed in ring 3 (native speed on PVM hosts).
 * Every given check must hold; `ram=` is required so a run without parameters fails. */
#include "rt/rt.h"

struct span {
	const uint8_t *p;
	uint64_t n;
};

/* POSIX cksum: CRC-32 (polynomial 0x04c11db7, MSB first) over the data, then its length. */
static long cksum(long arg)
{
	const struct span *s = (const struct span *)arg;
	uint32_t crc = 0;
	uint64_t i, n;
	for (i = 0; i < s->n; i++) {
		crc ^= (uint32_t)s->p[i] << 24;
		for (int b = 0; b < 8; b++)
			crc = crc & 0x80000000u ? (crc << 1) ^ 0x04c11db7u : crc << 1;
	}
	for (n = s->n; n; n >>= 8) {
		crc ^= (uint32_t)(n & 0xff) << 24;
		for (int b = 0; b < 8; b++)
			crc = crc & 0x80000000u ? (crc << 1) ^ 0x04c11db7u : crc << 1;
	}
	return (long)(uint32_t)~crc;
}

int main(void)
{
	if (rt_boot.protocol != RT_BOOT_LINUX)
		rt_fail("not entered through the Linux 64-bit boot protocol");
	const uint8_t *bp = (const uint8_t *)rt_boot.boot_params;
	rt_printf("linuxboot: boot_params at %#lx, loader type %#x, protocol %#x, cmdline \"%s\"\n",
		  rt_boot.boot_params, bp[0x210], *(const uint16_t *)(bp + 0x206), rt_boot.cmdline);
	for (int i = 0; i < rt_boot.nmem; i++)
		rt_printf("linuxboot: e820 %#012lx-%#012lx type %u\n", rt_boot.mem[i].base,
			  rt_boot.mem[i].base + rt_boot.mem[i].len - 1, rt_boot.mem[i].type);
	uint64_t ram = rt_ram_bytes(), want = rt_param_u64("ram", 0);
	rt_printf("linuxboot: usable RAM %lu KiB\n", ram >> 10);
	if (!want)
		rt_fail("no ram=SIZE on the command line");
	if (ram > want || ram + (2 << 20) < want)
		rt_fail("e820 usable RAM %lu bytes, expected about %lu", ram, want);

	rt_printf("linuxboot: initrd at %#lx, %lu bytes\n", rt_boot.initrd_addr, rt_boot.initrd_size);
	uint64_t isize = rt_param_u64("initrd_size", ~0ull);
	if (isize != ~0ull) {
		if (rt_boot.initrd_size != isize)
			rt_fail("initrd size %lu, expected %lu", rt_boot.initrd_size, isize);
		if (isize && (rt_boot.initrd_addr < 0x100000 || rt_boot.initrd_addr + isize > want))
			rt_fail("initrd at %#lx is outside RAM", rt_boot.initrd_addr);
	}
	uint64_t want_sum = rt_param_u64("initrd_cksum", ~0ull);
	if (want_sum != ~0ull) {
		struct span s = { (const uint8_t *)rt_boot.initrd_addr, rt_boot.initrd_size };
		long sum = 0;
		uint64_t t0 = rt_rdtsc();
		rt_user_call(cksum, (long)&s, &sum);
		rt_printf("linuxboot: initrd cksum %lu (ring 3, %lu Mcycles)\n", (uint64_t)sum,
			  (rt_rdtsc() - t0) >> 20);
		if ((uint64_t)sum != want_sum)
			rt_fail("initrd cksum %lu, expected %lu", (uint64_t)sum, want_sum);
	}
	return 0;
}
