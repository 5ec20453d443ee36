/* No host path for non-administrators (src/server/http_scrub.c): the data directory in any
 * string of an answer becomes "DATA", and only where it is that directory, not another one
 * whose name starts the same. */
#include "check.h"
#include "server/server.h"

#include <string.h>

static struct server srv = { .data_dir = "/var/lib/vsrv" };

/* s scrubbed as an answer's string, compared with want. */
static int scrubbed_is(const char *s, const char *want)
{
	json_t *v = json_pack("{s:[s]}", "k", s);
	int ok;

	http_scrub_paths(&srv, v);
	ok = !strcmp(json_string_value(json_array_get(json_object_get(v, "k"), 0)), want);
	if (!ok)
		printf("    got \"%s\"\n", json_string_value(json_array_get(json_object_get(v, "k"), 0)));
	json_decref(v);
	return ok;
}

static void test_dir_and_paths_below(void)
{
	CHECK(scrubbed_is("/var/lib/vsrv", "DATA"));
	CHECK(scrubbed_is("/var/lib/vsrv/disks/a.vhd", "DATA/disks/a.vhd"));
	CHECK(scrubbed_is("open /var/lib/vsrv/x: no; /var/lib/vsrv/y", "open DATA/x: no; DATA/y"));
	CHECK(scrubbed_is("in '/var/lib/vsrv'", "in 'DATA'"));
}

static void test_dir_ending_a_sentence(void)
{
	CHECK(scrubbed_is("no space left on /var/lib/vsrv.", "no space left on DATA."));
	CHECK(scrubbed_is("on /var/lib/vsrv. Try again", "on DATA. Try again"));
	CHECK(scrubbed_is("(/var/lib/vsrv.)", "(DATA.)"));
}

static void test_other_directories_kept(void)
{
	CHECK(scrubbed_is("/var/lib/vsrv2/a", "/var/lib/vsrv2/a"));
	CHECK(scrubbed_is("/var/lib/vsrv-old", "/var/lib/vsrv-old"));
	CHECK(scrubbed_is("/var/lib/vsrv.bak/a", "/var/lib/vsrv.bak/a"));
	CHECK(scrubbed_is("/var/lib/vsrv_x", "/var/lib/vsrv_x"));
	CHECK(scrubbed_is("no path here", "no path here"));
}

static void test_non_strings_untouched(void)
{
	json_t *v = json_pack("{s:i,s:b,s:n}", "a", 1, "b", 1, "c");

	http_scrub_paths(&srv, v);
	CHECK_EQ(json_integer_value(json_object_get(v, "a")), 1);
	CHECK(json_is_true(json_object_get(v, "b")));
	CHECK(json_is_null(json_object_get(v, "c")));
	json_decref(v);
	http_scrub_paths(&srv, NULL);
	http_scrub_paths(NULL, NULL);
}

int main(void)
{
	RUN(test_dir_and_paths_below);
	RUN(test_dir_ending_a_sentence);
	RUN(test_other_directories_kept);
	RUN(test_non_strings_untouched);
	return check_done();
}
