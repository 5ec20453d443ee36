/* Unit tests of the image store (src/server/imgstore.c) on a scratch directory: uploads
 * appear only whole and never replace, aborted and refused ones leave nothing, the size
 * limit, the checksum, the SHA-256 cache follows the file, holds refuse a delete, kinds by
 * content. */
#include "check.h"
#include "scratch.h"
#include "server/imgstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct imgstore *s;
static char err[300];

/* Entries of directory dir (default: the scratch directory) other than .meta. */
static int entries_of(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, ".meta"))
			n++;
	if (d)
		closedir(d);
	return n;
}

static int entries(void)
{
	return entries_of(scratch_dir);
}

static void sha_hex(const void *p, size_t n, char out[65])
{
	unsigned char d[32];
	unsigned l;

	EVP_Digest(p, n, d, &l, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static int upload_to(struct imgstore *s, const char *name, const void *p, size_t n, const char *expect, struct imgstore_info *i)
{
	struct imgup *u;
	uint64_t pending;
	int rc = imgup_begin(s, name, n, expect, &u, &pending, err, sizeof(err));

	if (rc)
		return rc;
	for (size_t off = 0; off < n; off += 1000) {
		rc = imgup_write(u, (const char *)p + off, n - off < 1000 ? n - off : 1000, err, sizeof(err));
		if (rc) {
			imgup_abort(u);
			return rc;
		}
	}
	return imgup_finish(u, i, err, sizeof(err));
}

static int upload(const char *name, const void *p, size_t n, const char *expect, struct imgstore_info *i)
{
	return upload_to(s, name, p, n, expect, i);
}

static void test_upload_whole_with_sha256(void)
{
	static char data[100000];
	struct imgstore_info i, g;
	char want[65];

	memset(data, 'a', sizeof(data));
	sha_hex(data, sizeof(data), want);
	CHECK_EQ(upload("a.raw", data, sizeof(data), NULL, &i), 0);
	CHECK(!strcmp(i.sha256, want));
	CHECK_EQ(i.size, sizeof(data));
	CHECK_EQ(imgstore_get(s, "a.raw", &g), 0);
	CHECK(!strcmp(g.sha256, want));
	CHECK_EQ(entries(), 1);
}

static void test_never_replaces(void)
{
	struct imgstore_info i;
	struct imgup *u;
	uint64_t pending;
	int fd;

	CHECK_EQ(upload("a.raw", "x", 1, NULL, &i), -EEXIST);
	/* the name taken while an upload was in flight: its rename refuses, nothing is kept */
	CHECK_EQ(imgup_begin(s, "late.raw", 5, NULL, &u, &pending, err, sizeof(err)), 0);
	CHECK_EQ(imgup_begin(s, "late.raw", 5, NULL, &(struct imgup *){ NULL }, &pending, err, sizeof(err)),
		 -EEXIST);
	CHECK_EQ(imgup_write(u, "hello", 5, err, sizeof(err)), 0);
	fd = open(P("late.raw"), O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0 && write(fd, "other", 5) == 5);
	close(fd);
	CHECK_EQ(imgup_finish(u, &i, err, sizeof(err)), -EEXIST);
	CHECK_EQ(entries(), 2);
	CHECK_EQ(imgstore_delete(s, "late.raw"), 0);
}

static void test_refusals_leave_nothing(void)
{
	static char big[5000];
	struct imgstore_info i;
	struct imgstore *sm;     /* a store with a limit of 4999 bytes */
	struct imgup *u;
	uint64_t pending;
	const char *dir = P("small");
	int n = entries();

	CHECK_EQ(upload("m.raw", "abc", 3, "0000000000000000000000000000000000000000000000000000000000000000", &i),
		 -EINVAL);
	CHECK_EQ(upload("m.raw", "abc", 3, "xyz", &i), -EINVAL);
	CHECK_EQ(imgup_begin(s, "gone.raw", 10, NULL, &u, &pending, err, sizeof(err)), 0);
	CHECK_EQ(imgup_write(u, "12345", 5, err, sizeof(err)), 0);
	imgup_abort(u);          /* the client went away */
	CHECK_EQ(imgup_begin(s, ".hidden", 1, NULL, &u, &pending, err, sizeof(err)), -EINVAL);
	CHECK_EQ(imgup_begin(s, "a/b", 1, NULL, &u, &pending, err, sizeof(err)), -EINVAL);
	CHECK_EQ(entries(), n);
	CHECK(mkdir(dir, 0700) == 0 && imgstore_create(dir, 4999, &sm) == 0);
	CHECK_EQ(imgup_begin(sm, "big.raw", sizeof(big), NULL, &u, &pending, err, sizeof(err)), -E2BIG);
	CHECK_EQ(upload_to(sm, "big.raw", big, sizeof(big) - 1, NULL, &i), 0);      /* the limit */
	CHECK_EQ(imgstore_delete(sm, "big.raw"), 0);
	CHECK_EQ(imgup_begin(sm, "big.raw", -1, NULL, &u, &pending, err, sizeof(err)), 0);
	CHECK_EQ(imgup_write(u, big, 4000, err, sizeof(err)), 0);
	CHECK_EQ(imgup_write(u, big, 1000, err, sizeof(err)), -E2BIG);
	imgup_abort(u);
	CHECK_EQ(entries_of(dir), 0);
	imgstore_destroy(sm);
}

static void test_pending_counts_uploads_in_flight(void)
{
	struct imgup *a, *b;
	uint64_t pending = 1;

	CHECK_EQ(imgup_begin(s, "p1", 3000, NULL, &a, &pending, err, sizeof(err)), 0);
	CHECK_EQ(pending, 0);
	CHECK_EQ(imgup_write(a, "0123456789", 10, err, sizeof(err)), 0);
	CHECK_EQ(imgup_begin(s, "p2", 10, NULL, &b, &pending, err, sizeof(err)), 0);
	CHECK_EQ(pending, 2990);
	imgup_abort(a);
	imgup_abort(b);
}

static void test_cache_follows_the_file(void)
{
	struct imgstore_info i;
	char want[65];
	int fd;

	/* a file written behind the store's back: the old hash is not served for it */
	fd = open(P("a.raw"), O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "new content", 11) == 11);
	close(fd);
	CHECK_EQ(imgstore_get(s, "a.raw", &i), 0);
	sha_hex("new content", 11, want);
	for (int k = 0; k < 400 && strcmp(i.sha256, want); k++) {
		CHECK(i.sha256[0] == '\0');   /* unknown until the hasher is done, never stale */
		usleep(10000);
		CHECK_EQ(imgstore_get(s, "a.raw", &i), 0);
	}
	CHECK(!strcmp(i.sha256, want));
}

static void test_hold_refuses_delete(void)
{
	CHECK_EQ(imgstore_hold(s, "a.raw"), 0);
	CHECK_EQ(imgstore_delete(s, "a.raw"), -EBUSY);
	imgstore_release(s, "a.raw");
	CHECK_EQ(imgstore_delete(s, "a.raw"), 0);
	CHECK_EQ(imgstore_delete(s, "a.raw"), -ENOENT);
	CHECK_EQ(access(P(".meta/a.raw"), F_OK), -1);
}

static void put_file(const char *name, off_t at, const void *magic, size_t n, off_t size)
{
	int fd = open(P(name), O_CREAT | O_WRONLY | O_TRUNC, 0644);

	CHECK(fd >= 0 && ftruncate(fd, size) == 0 && pwrite(fd, magic, n, at) == (ssize_t)n);
	close(fd);
}

static void test_kinds(void)
{
	put_file("k.iso", 0x8001, "CD001", 5, 64 * 1024);
	put_file("k.qcow2", 0, "QFI\xfb", 4, 4096);
	put_file("k.vhdx", 0, "vhdxfile", 8, 4096);
	put_file("k.vmdk", 0, "KDMV", 4, 4096);
	put_file("k.vhd", 1024 * 1024, "conectix", 8, 1024 * 1024 + 512);
	put_file("k.raw", 0, "hello", 5, 4096);
	CHECK(!strcmp(imgstore_kind(P("k.iso")), "iso"));
	CHECK(!strcmp(imgstore_kind(P("k.qcow2")), "qcow2"));
	CHECK(!strcmp(imgstore_kind(P("k.vhdx")), "vhdx"));
	CHECK(!strcmp(imgstore_kind(P("k.vmdk")), "vmdk"));
	CHECK(!strcmp(imgstore_kind(P("k.vhd")), "vhd"));
	CHECK(!strcmp(imgstore_kind(P("k.raw")), "raw"));
}

static void test_leftovers_removed_at_create(void)
{
	struct imgstore *s2;

	put_file(".upload-x-ABCDEF", 0, "junk", 4, 4);
	CHECK_EQ(imgstore_create(scratch_dir, 1000, &s2), 0);
	CHECK_EQ(access(P(".upload-x-ABCDEF"), F_OK), -1);
	imgstore_destroy(s2);
}

int main(void)
{
	if (scratch_make("vsrv-imgstore"))
		return 1;
	if (imgstore_create(scratch_dir, 1 << 20, &s)) {
		printf("FAIL setup: imgstore_create\n");
		return 1;
	}
	RUN(test_upload_whole_with_sha256);
	RUN(test_never_replaces);
	RUN(test_refusals_leave_nothing);
	RUN(test_pending_counts_uploads_in_flight);
	RUN(test_cache_follows_the_file);
	RUN(test_hold_refuses_delete);
	RUN(test_kinds);
	RUN(test_leftovers_removed_at_create);
	imgstore_destroy(s);
	scratch_remove();
	return check_done();
}
