/* The image store (imgstore.h). */
#include "server/imgstore.h"
#include "arch/x86/boot_probe.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UPLOAD_PREFIX ".upload-"
#define META_DIR ".meta"
#define HASH_CHUNK (1 << 20)

/* An upload in flight or an image held by a task: one entry of the store's list. */
struct entry {
	char name[256];
	bool upload;             /* an upload (else a hold) */
	int holds;
	uint64_t left;           /* upload: bytes it may still write (for admission) */
	struct entry *next;
};

struct imgstore {
	char dir[4096];
	int dfd;
	uint64_t max;
	pthread_mutex_t lock;
	struct entry *entries;
	/* the hashing thread: runs while some image has no cached SHA-256 */
	pthread_t hasher;
	bool hasher_on;          /* started and not joined */
	bool hashing;            /* running (it clears this when it ends) */
	bool rescan;             /* asked again while running */
	bool stop;
};

struct imgup {
	struct imgstore *s;
	struct entry *e;
	char name[256];
	char tmp[300];           /* relative to the store's directory */
	int fd;
	uint64_t len;
	int64_t expect_len;
	bool has_expect;
	uint8_t expect[32];
	EVP_MD_CTX *md;
};

const char *imgup_name(const struct imgup *u)
{
	return u->name;
}

static bool plain_name(const char *n)
{
	if (n[0] == '.' || !n[0])
		return false;
	for (const char *p = n; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/')
			return false;
	return true;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
			return -EINVAL;
		out[i] = v;
	}
	return s[2 * n] ? -EINVAL : 0;
}

static struct entry *find(struct imgstore *s, const char *name)
{
	for (struct entry *e = s->entries; e; e = e->next)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

static void unlink_entry(struct imgstore *s, struct entry *e)
{
	for (struct entry **p = &s->entries; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			free(e);
			return;
		}
}

int imgstore_create(const char *dir, uint64_t max_size, struct imgstore **out)
{
	struct imgstore *s = calloc(1, sizeof(*s));
	struct dirent *de;
	DIR *d;
	int fd;

	if (!s)
		return -ENOMEM;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->max = max_size;
	pthread_mutex_init(&s->lock, NULL);
	s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dfd < 0) {
		int rc = -errno;

		free(s);
		return rc;
	}
	mkdirat(s->dfd, META_DIR, 0700);
	/* what an upload of an earlier run left */
	fd = openat(s->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, UPLOAD_PREFIX, strlen(UPLOAD_PREFIX)))
			unlinkat(s->dfd, de->d_name, 0);
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	*out = s;
	return 0;
}

void imgstore_destroy(struct imgstore *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_mutex_unlock(&s->lock);
	if (s->hasher_on)
		pthread_join(s->hasher, NULL);
	while (s->entries)
		unlink_entry(s, s->entries);
	close(s->dfd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

uint64_t imgstore_max_size(const struct imgstore *s)
{
	return s->max;
}

int imgstore_path(const struct imgstore *s, const char *name, char *buf, size_t n)
{
	return (size_t)snprintf(buf, n, "%s/%s", s->dir, name) >= n ? -ENAMETOOLONG : 0;
}

/* The cache entry of a file: its key (size, mtime, inode) and SHA-256. */
static void meta_key(const struct stat *st, char *buf, size_t n)
{
	snprintf(buf, n, "%" PRIu64 " %lld.%09ld %" PRIu64, (uint64_t)st->st_size,
		 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (uint64_t)st->st_ino);
}

static int meta_read(struct imgstore *s, const char *name, const struct stat *st, char sha[65])
{
	char path[600], key[128], line[256], want[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), META_DIR "/%s", name);
	fd = openat(s->dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -ENOENT;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	line[n] = '\0';
	meta_key(st, key, sizeof(key));
	snprintf(want, sizeof(want), "%.64s %s\n", line, key);
	if (n < 66 || strcmp(line, want))
		return -ENOENT;      /* another file's, or damaged */
	memcpy(sha, line, 64);
	sha[64] = '\0';
	return 0;
}

/* Write the cache entry of name through a temporary file and a rename. */
static int meta_write(struct imgstore *s, const char *name, const struct stat *st, const char *sha)
{
	char path[600], tmp[620], key[128], line[256];
	int fd, len, rc = 0;

	snprintf(path, sizeof(path), META_DIR "/%s", name);
	snprintf(tmp, sizeof(tmp), META_DIR "/.%s.%lu", name, (unsigned long)pthread_self());
	meta_key(st, key, sizeof(key));
	len = snprintf(line, sizeof(line), "%s %s\n", sha, key);
	fd = openat(s->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, line, len) != len)
		rc = -EIO;
	close(fd);
	if (!rc && renameat(s->dfd, tmp, s->dfd, path) < 0)
		rc = -errno;
	if (rc)
		unlinkat(s->dfd, tmp, 0);
	return rc;
}

static bool has_magic(int fd, off_t at, const char *magic, size_t n)
{
	char b[32];

	return pread(fd, b, n, at) == (ssize_t)n && !memcmp(b, magic, n);
}

const char *imgstore_kind(const char *path)
{
	struct stat st;
	const char *kind = "raw";
	char why[160];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), k;

	if (fd < 0)
		return "raw";
	if (fstat(fd, &st) < 0)
		goto out;
	if (has_magic(fd, 0, "QFI\xfb", 4))
		kind = "qcow2";
	else if (has_magic(fd, 0, "vhdxfile", 8))
		kind = "vhdx";
	else if (has_magic(fd, 0, "KDMV", 4) || has_magic(fd, 0, "# Disk DescriptorFile", 21))
		kind = "vmdk";
	else if (has_magic(fd, 0x8001, "CD001", 5))
		kind = "iso";
	else if (has_magic(fd, 0, "conectix", 8) ||
		 (st.st_size >= 512 && has_magic(fd, st.st_size - 512, "conectix", 8)) ||
		 (st.st_size >= 511 && has_magic(fd, st.st_size - 511, "conectix", 8)))
		kind = "vhd";        /* a footer (511 bytes: a pre-Virtual PC 2004 one) */
	else if ((k = x86_boot_probe_file(path, why, sizeof(why))) > 0 || k == -ENOTSUP)
		kind = "kernel";     /* one vsrv boots, or a kernel of a kind it cannot */
out:
	close(fd);
	return kind;
}

static void hasher_kick(struct imgstore *s);

/* Fill i for name (st: its lstat); without a cached hash, ask the hasher. */
static void fill_info(struct imgstore *s, const char *name, const struct stat *st,
		      struct imgstore_info *i)
{
	char path[4400];

	snprintf(i->name, sizeof(i->name), "%s", name);
	i->size = st->st_size;
	i->modified = st->st_mtime;
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	i->kind = imgstore_kind(path);
	if (meta_read(s, name, st, i->sha256)) {
		i->sha256[0] = '\0';
		hasher_kick(s);
	}
}

int imgstore_get(struct imgstore *s, const char *name, struct imgstore_info *out)
{
	struct stat st;

	if (!plain_name(name) || strlen(name) >= sizeof(out->name))
		return -ENOENT;
	if (fstatat(s->dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	fill_info(s, name, &st, out);
	return 0;
}

int imgstore_each(struct imgstore *s, size_t max, int (*fn)(const struct imgstore_info *i, void *arg),
		  void *arg)
{
	struct imgstore_info *i = malloc(sizeof(*i));
	struct dirent *de;
	size_t n = 0;
	int fd = openat(s->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d || !i) {
		if (fd >= 0 && !d)
			close(fd);
		if (d)
			closedir(d);
		free(i);
		return -EIO;
	}
	while (!rc && n < max && (de = readdir(d))) {
		struct stat st;

		if (!plain_name(de->d_name) || strlen(de->d_name) >= sizeof(i->name) ||
		    fstatat(s->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		fill_info(s, de->d_name, &st, i);
		rc = fn(i, arg);
		n++;
	}
	closedir(d);
	free(i);
	return rc;
}

/* SHA-256 of the open file fd into sha (hex). 0 or -errno; -ECANCELED when stopping. */
static int hash_fd(struct imgstore *s, int fd, char sha[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t *buf = malloc(HASH_CHUNK), dig[32];
	unsigned dl = 0;
	ssize_t n;
	int rc = 0;

	if (!md || !buf || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf, HASH_CHUNK)) > 0) {
		bool stop;

		EVP_DigestUpdate(md, buf, n);
		pthread_mutex_lock(&s->lock);
		stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		if (stop) {
			rc = -ECANCELED;
			goto out;
		}
	}
	if (n < 0 || !EVP_DigestFinal_ex(md, dig, &dl)) {
		rc = n < 0 ? -errno : -EIO;
		goto out;
	}
	hex(dig, 32, sha);
out:
	free(buf);
	EVP_MD_CTX_free(md);
	return rc;
}

/* One pass over the directory: hash every image without a valid cache entry. Returns
 * whether it hashed something (a file may have changed meanwhile: another pass). */
static bool hash_pass(struct imgstore *s)
{
	int fd = openat(s->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	bool did = false;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while ((de = readdir(d))) {
		struct stat st, st2;
		char sha[65];
		int f;

		if (!plain_name(de->d_name) || fstatat(s->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || !meta_read(s, de->d_name, &st, sha))
			continue;
		f = openat(s->dfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (f < 0)
			continue;
		if (fstat(f, &st) == 0 && hash_fd(s, f, sha) == 0 && fstat(f, &st2) == 0 &&
		    st2.st_size == st.st_size && st2.st_mtim.tv_sec == st.st_mtim.tv_sec &&
		    st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec) {
			meta_write(s, de->d_name, &st, sha);
			did = true;
		}
		close(f);
		pthread_mutex_lock(&s->lock);
		did = did && !s->stop;
		if (s->stop) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		pthread_mutex_unlock(&s->lock);
	}
	closedir(d);
	return did;
}

static void *hasher_main(void *arg)
{
	struct imgstore *s = arg;

	for (;;) {
		hash_pass(s);
		pthread_mutex_lock(&s->lock);
		if (!s->rescan || s->stop) {
			s->hashing = false;
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		s->rescan = false;
		pthread_mutex_unlock(&s->lock);
	}
}

static void hasher_kick(struct imgstore *s)
{
	pthread_mutex_lock(&s->lock);
	if (s->stop) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (s->hashing) {
		s->rescan = true;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (s->hasher_on) {
		/* the last run ended (hashing is false): reap it before the next */
		pthread_join(s->hasher, NULL);
		s->hasher_on = false;
	}
	s->hashing = true;
	s->rescan = false;
	if (pthread_create(&s->hasher, NULL, hasher_main, s) == 0)
		s->hasher_on = true;
	else
		s->hashing = false;
	pthread_mutex_unlock(&s->lock);
}

int imgup_begin(struct imgstore *s, const char *name, int64_t length, const char *expect,
		struct imgup **out, uint64_t *pending, char *err, size_t errlen)
{
	struct imgup *u;
	struct entry *e;
	struct stat st;
	int rc;

	if (!plain_name(name) || strlen(name) >= sizeof(e->name)) {
		snprintf(err, errlen, "'%s' is not a valid image name", name);
		return -EINVAL;
	}
	if (length >= 0 && (uint64_t)length > s->max) {
		snprintf(err, errlen, "the image (%lld bytes) is larger than the server's limit of "
			 "%" PRIu64 " bytes (vsrv serve --image-max-size)", (long long)length, s->max);
		return -E2BIG;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->fd = -1;
	u->s = s;
	u->expect_len = length;
	snprintf(u->name, sizeof(u->name), "%s", name);
	if (expect) {
		if (strlen(expect) != 64 || unhex(expect, u->expect, 32)) {
			snprintf(err, errlen, "sha256: '%.80s' is not 64 hexadecimal digits", expect);
			free(u);
			return -EINVAL;
		}
		u->has_expect = true;
	}
	pthread_mutex_lock(&s->lock);
	e = find(s, name);
	if ((e && e->upload) || fstatat(s->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		pthread_mutex_unlock(&s->lock);
		snprintf(err, errlen, e && e->upload ? "an upload of image '%s' is in progress" :
			 "an image named '%s' exists (delete it first)", name);
		free(u);
		return -EEXIST;
	}
	*pending = 0;
	for (struct entry *o = s->entries; o; o = o->next)
		*pending += o->left;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			pthread_mutex_unlock(&s->lock);
			free(u);
			return -ENOMEM;
		}
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->next = s->entries;
		s->entries = e;
	}
	e->upload = true;
	e->left = length >= 0 ? (uint64_t)length : 0;
	u->e = e;
	pthread_mutex_unlock(&s->lock);
	snprintf(u->tmp, sizeof(u->tmp), UPLOAD_PREFIX "%.200s-XXXXXX", name);
	{
		char path[4400];
		size_t dl = strlen(s->dir);

		snprintf(path, sizeof(path), "%s/%s", s->dir, u->tmp);
		u->fd = mkostemp(path, O_CLOEXEC);
		if (u->fd >= 0)
			memcpy(u->tmp, path + dl + 1, strlen(u->tmp));
	}
	u->md = EVP_MD_CTX_new();
	if (u->fd < 0 || !u->md || !EVP_DigestInit_ex(u->md, EVP_sha256(), NULL)) {
		rc = u->fd < 0 ? -errno : -ENOMEM;
		snprintf(err, errlen, "cannot create a file in %s: %s", s->dir, strerror(-rc));
		imgup_abort(u);
		return rc;
	}
	fchmod(u->fd, 0644);
	*out = u;
	return 0;
}

int imgup_write(struct imgup *u, const void *buf, size_t n, char *err, size_t errlen)
{
	const char *p = buf;

	if (u->len + n > u->s->max) {
		snprintf(err, errlen, "the image is larger than the server's limit of %" PRIu64
			 " bytes (vsrv serve --image-max-size)", u->s->max);
		return -E2BIG;
	}
	EVP_DigestUpdate(u->md, buf, n);
	while (n) {
		ssize_t w = write(u->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int rc = w < 0 && (errno == ENOSPC || errno == EDQUOT) ? -ENOSPC : -EIO;

			snprintf(err, errlen, "cannot write image '%s': %s", u->name,
				 w < 0 ? strerror(errno) : "short write");
			return rc;
		}
		p += w;
		n -= w;
		u->len += w;
	}
	pthread_mutex_lock(&u->s->lock);
	u->e->left = u->expect_len > (int64_t)u->len ? (uint64_t)u->expect_len - u->len : 0;
	pthread_mutex_unlock(&u->s->lock);
	return 0;
}

/* Move the upload's file into place without replacing anything: renameat2 NOREPLACE, or
 * where the filesystem lacks it a hard link and the unlink of the temporary name. */
static int place(struct imgup *u)
{
	struct imgstore *s = u->s;

	if (renameat2(s->dfd, u->tmp, s->dfd, u->name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (linkat(s->dfd, u->tmp, s->dfd, u->name, 0) < 0)
		return -errno;
	unlinkat(s->dfd, u->tmp, 0);
	return 0;
}

int imgup_finish(struct imgup *u, struct imgstore_info *info, char *err, size_t errlen)
{
	struct imgstore *s = u->s;
	uint8_t dig[32];
	unsigned dl = 0;
	char sha[65], want[65];
	struct stat st;
	int rc;

	if (!EVP_DigestFinal_ex(u->md, dig, &dl)) {
		snprintf(err, errlen, "cannot compute the SHA-256");
		rc = -EIO;
		goto err;
	}
	hex(dig, 32, sha);
	if (u->has_expect && memcmp(dig, u->expect, 32)) {
		hex(u->expect, 32, want);
		snprintf(err, errlen, "sha256 mismatch: the upload's is %s, %s was expected; nothing "
			 "was kept", sha, want);
		rc = -EINVAL;
		goto err;
	}
	if (fsync(u->fd) < 0 || fstat(u->fd, &st) < 0) {
		rc = errno == ENOSPC ? -ENOSPC : -EIO;
		snprintf(err, errlen, "cannot sync image '%s': %m", u->name);
		goto err;
	}
	rc = place(u);
	if (rc) {
		snprintf(err, errlen, rc == -EEXIST ? "an image named '%s' appeared meanwhile" :
			 "cannot move image '%s' into place: %s", u->name, strerror(-rc));
		goto err;
	}
	u->tmp[0] = '\0';
	fsync(s->dfd);
	meta_write(s, u->name, &st, sha);
	snprintf(info->name, sizeof(info->name), "%s", u->name);
	info->size = st.st_size;
	info->modified = st.st_mtime;
	snprintf(info->sha256, sizeof(info->sha256), "%s", sha);
	{
		char path[4400];

		snprintf(path, sizeof(path), "%s/%s", s->dir, u->name);
		info->kind = imgstore_kind(path);
	}
	vsrv_log("image %s uploaded: %" PRIu64 " bytes, sha256 %s", u->name, (uint64_t)st.st_size, sha);
	imgup_abort(u);          /* frees what is left: the entry, the descriptor */
	return 0;
err:
	imgup_abort(u);
	return rc;
}

void imgup_abort(struct imgup *u)
{
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	if (u->tmp[0] && u->fd >= 0)
		unlinkat(u->s->dfd, u->tmp, 0);
	if (u->e) {
		pthread_mutex_lock(&u->s->lock);
		u->e->upload = false;
		u->e->left = 0;
		if (!u->e->holds)
			unlink_entry(u->s, u->e);
		pthread_mutex_unlock(&u->s->lock);
	}
	EVP_MD_CTX_free(u->md);
	free(u);
}

int imgstore_hold(struct imgstore *s, const char *name)
{
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	e = find(s, name);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			pthread_mutex_unlock(&s->lock);
			return -ENOMEM;
		}
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->next = s->entries;
		s->entries = e;
	}
	e->holds++;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void imgstore_release(struct imgstore *s, const char *name)
{
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	e = find(s, name);
	if (e && e->holds > 0 && --e->holds == 0 && !e->upload)
		unlink_entry(s, e);
	pthread_mutex_unlock(&s->lock);
}

int imgstore_delete(struct imgstore *s, const char *name)
{
	struct entry *e;
	struct stat st;
	char meta[600];
	int rc = 0;

	if (!plain_name(name))
		return -ENOENT;
	pthread_mutex_lock(&s->lock);
	e = find(s, name);
	if (e && e->holds)
		rc = -EBUSY;
	else if (fstatat(s->dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		rc = -ENOENT;
	else if (unlinkat(s->dfd, name, 0) < 0)
		rc = -errno;
	if (!rc) {
		snprintf(meta, sizeof(meta), META_DIR "/%s", name);
		unlinkat(s->dfd, meta, 0);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
