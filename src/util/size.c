#include "util/size.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <strings.h>

int size_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0, mul = 1;
	const char *p = s;
	bool big = false; /* too many digits: -ERANGE, once the rest is seen to be well formed */

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			big = true;
		else
			v = v * 10 + d;
	}
	switch (toupper((unsigned char)*p)) {
	case 0: break;
	case 'K': mul = 1ULL << 10; p++; break;
	case 'M': mul = 1ULL << 20; p++; break;
	case 'G': mul = 1ULL << 30; p++; break;
	case 'T': mul = 1ULL << 40; p++; break;
	default: return -EINVAL;
	}
	if (*p && mul != 1 && strcasecmp(p, "B") && strcasecmp(p, "iB"))
		return -EINVAL;
	if (*p && mul == 1)
		return -EINVAL;
	if (big || (v && mul > UINT64_MAX / v))
		return -ERANGE;
	*out = v * mul;
	return 0;
}
