/* The descriptors a unit test's process has open, to check that code under test closes
 * what it should (the disk-switch tests). Static to the including test program. */
#ifndef VSRV_TESTS_UNIT_FDCOUNT_H
#define VSRV_TESTS_UNIT_FDCOUNT_H

#include <dirent.h>

/* The descriptors this process has open (/proc/self/fd counted), or -1. */
static inline int nfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the directory's own */
}

#endif
