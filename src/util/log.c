#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *log_prefix = "vsrv";

void vsrv_log_set_prefix(const char *prefix)
{
	log_prefix = prefix;
}

void vsrv_log(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "%s: ", log_prefix);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	if (n == 0 || buf[n - 1] != '\n') {
		buf[n++] = '\n';
		buf[n] = 0;
	}
	/* One write so lines from several threads do not interleave. */
	fputs(buf, stderr);
}
