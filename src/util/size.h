/* Parsing sizes such as "64M", "1G", "512", "4096K" (binary multiples). */
#ifndef VSRV_UTIL_SIZE_H
#define VSRV_UTIL_SIZE_H

#include <stdint.h>

/* Parse a size: decimal digits, optional suffix K, M, G, T (either case, optional trailing
 * 'B' or 'iB'). No suffix means bytes. Returns 0, or -EINVAL on malformed input or
 * -ERANGE when the value does not fit in 64 bits. */
int size_parse(const char *s, uint64_t *out);

#endif
