/* hello: the demo guest. Prints a banner and exits with the pass status (debug-exit value 0x10,
 * exit status 33). Kept short: every instruction here runs in emulated ring 0 on PVM hosts,
 * and `make bench` times this guest from process start to exit. */
#include "rt/rt.h"

int main(void)
{
	rt_printf("Hello from the vsrv test guest (%s boot, cmdline \"%s\")\n",
		  rt_boot.protocol == RT_BOOT_LINUX ? "Linux" : "multiboot", rt_boot.cmdline);
	return 0;
}
