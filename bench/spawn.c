/* spawn N CMD...: run CMD N times (stdin, stdout and stderr on /dev/null) and print
 * "median_ms peak_rss_kib status": the median wall time from just before fork to the
 * child's exit, the largest peak RSS of the runs, and the last exit status. Between runs
 * it idles SETTLE_MS (default 50) so that what one run left behind (the kernel tearing
 * down a VM) does not slow the next: each figure is one launch on an otherwise idle VMM. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[1]) : 0, i, status = 0;
	long rss = 0;
	double *t;

	if (n < 1) {
		fprintf(stderr, "usage: spawn N CMD...\n");
		return 2;
	}
	const char *env = getenv("SETTLE_MS");
	long settle = env ? atol(env) : 50;

	t = calloc((size_t)n, sizeof(*t));
	for (i = 0; i < n; i++) {
		struct timespec a, b, pause = { settle / 1000, (settle % 1000) * 1000000L };
		nanosleep(&pause, NULL);
		struct rusage ru;
		pid_t pid;

		clock_gettime(CLOCK_MONOTONIC, &a);
		pid = fork();
		if (pid == 0) {
			int fd = open("/dev/null", O_RDWR);
			dup2(fd, 0); dup2(fd, 1); dup2(fd, 2);
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) {
			perror("spawn");
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		t[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
		if (ru.ru_maxrss > rss)
			rss = ru.ru_maxrss;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("%.2f %ld %d\n", n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2, rss,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
