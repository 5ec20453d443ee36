#include "check.h"
#include "util/size.h"

#include <errno.h>

static void test_size_parse(void)
{
	uint64_t v = 0;

	CHECK_EQ(size_parse("512", &v), 0); CHECK_EQ(v, 512);
	CHECK_EQ(size_parse("64M", &v), 0); CHECK_EQ(v, 64ULL << 20);
	CHECK_EQ(size_parse("1g", &v), 0); CHECK_EQ(v, 1ULL << 30);
	CHECK_EQ(size_parse("4KiB", &v), 0); CHECK_EQ(v, 4096);
	CHECK_EQ(size_parse("2T", &v), 0); CHECK_EQ(v, 2ULL << 40);
	CHECK_EQ(size_parse("", &v), -EINVAL);
	CHECK_EQ(size_parse("M", &v), -EINVAL);
	CHECK_EQ(size_parse("12Q", &v), -EINVAL);
	CHECK_EQ(size_parse("12MX", &v), -EINVAL);
	CHECK_EQ(size_parse("-1", &v), -EINVAL);
	CHECK_EQ(size_parse("99999999999999999999", &v), -ERANGE);
	CHECK_EQ(size_parse("99999999999T", &v), -ERANGE);
}

int main(void)
{
	RUN(test_size_parse);
	return check_done();
}
