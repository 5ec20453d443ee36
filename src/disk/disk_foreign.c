/* The block layer's read-only backends for the formats people bring (qcow2, VMDK, VHDX),
 * the part they share: opening the backing chain (each file through its library, locked
 * shared like any image vsrv reads), reads, the locks, and closing. Each library's own calls
 * are in disk_qcow.c, disk_vmdk.c and disk_vhdx.c; yal_load.c loads the library (dlopen) when
 * the first image of its format is opened.
 *
 * A library handle keeps a current offset and caches, so one read at a time goes through
 * it. The libraries read cluster by cluster (libqcow: one lseek + read of 64 KiB per
 * cluster, then a copy out of its cache), which makes one reader CPU-bound; so the chain
 * can be opened more than once (disk_parallel_reads): each "lane" is a chain of handles of
 * its own, and concurrent reads each take a free lane. */
#include "disk/disk_int.h"
#include "util/log.h"
#include "vhd/vhd.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FG_MAX_LANES 8

struct foreign {
	const struct foreign_ops *ops;
	pthread_mutex_t lock;     /* guards busy */
	pthread_cond_t free;      /* a lane was given back */
	int waiting;              /* readers waiting for a lane */
	int nlane;                /* lanes open (>= 1) */
	bool busy[FG_MAX_LANES];  /* lane in use by a read */
	int n;                    /* files in the chain */
	uint32_t grain;           /* reads are split at multiples of this (0: not at all) */
	void *lane[FG_MAX_LANES][DISK_MAX_CHAIN]; /* the libraries' handles, top first */
	int fd[DISK_MAX_CHAIN];   /* each file opened once more to hold its image lock */
	struct disk_layer layer[DISK_MAX_CHAIN];
};

void disk_foreign_errmsg(const char *bt, char *out, size_t n)
{
	const char *end = strchr(bt, '\n'), *colon;
	size_t len;

	if (!end)
		end = bt + strlen(bt);
	/* "libqcow_file_header_read_data: unsupported ... flags: 0x8." -> the part after the
	 * function name (the first ": " before any space) */
	colon = strstr(bt, ": ");
	if (colon && colon < end && !memchr(bt, ' ', (size_t)(colon - bt)))
		bt = colon + 2;
	len = (size_t)(end - bt);
	while (len && (bt[len - 1] == '.' || bt[len - 1] == ' ' || bt[len - 1] == '\r'))
		len--;
	if (!len) {
		snprintf(out, n, "unknown error");
		return;
	}
	snprintf(out, n, "%.*s", (int)len, bt);
}

void disk_foreign_liberr(const struct foreign_ops *ops, intptr_t **e, const char *what,
			 char *err, size_t n)
{
	char bt[4096] = "", msg[256];

	if (*e && ops->lib->error_sprint(*e, bt, sizeof(bt)) > 0)
		disk_foreign_errmsg(bt, msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "unknown error");
	if (what)
		snprintf(err, n, "%s: %s", what, msg);
	else
		snprintf(err, n, "%s", msg);
	ops->lib->error_free(e);
}

void disk_foreign_libclose(const struct foreign_ops *ops, void *h)
{
	intptr_t *p = h;

	if (!p)
		return;
	ops->lib->close(p, NULL);
	ops->lib->free(&p, NULL);
}

/* Read n bytes at off from h: the count read (short only at the end), or -EIO, err set. */
static ssize_t fg_lib_read(const struct foreign_ops *ops, void *h, void *buf, size_t n,
			   uint64_t off, char *err, size_t errn)
{
	intptr_t *e = NULL;
	ssize_t k = ops->lib->read(h, buf, n, (off64_t)off, &e);

	if (k < 0) {
		disk_foreign_liberr(ops, &e, "read", err, errn);
		return -EIO;
	}
	return k;
}

/* Read from parent where child has no data (both open). 0 or -EINVAL, err set. */
static int fg_lib_set_parent(const struct foreign_ops *ops, void *child, void *parent,
			     char *err, size_t errn)
{
	intptr_t *e = NULL;

	if (ops->lib->set_parent(child, parent, &e) != 1) {
		disk_foreign_liberr(ops, &e, "set parent", err, errn);
		return -EINVAL;
	}
	return 0;
}

static int fg_readv(struct disk *d, uint64_t sector, const struct iovec *iov, int iovcnt)
{
	struct foreign *f = d->priv;
	uint64_t off = sector * DISK_SECTOR, total = 0;
	char err[256];
	int ret = 0;

	void *h;
	int ln;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total % DISK_SECTOR || off > d->size || total > d->size - off)
		return -EINVAL;
	pthread_mutex_lock(&f->lock);
	for (;;) {
		for (ln = 0; ln < f->nlane && f->busy[ln]; ln++)
			;
		if (ln < f->nlane)
			break;
		f->waiting++;
		pthread_cond_wait(&f->free, &f->lock);
		f->waiting--;
	}
	f->busy[ln] = true;
	h = f->lane[ln][0];
	pthread_mutex_unlock(&f->lock);
	for (int i = 0; i < iovcnt && !ret; i++) {
		uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left) {
			size_t want = left;
			ssize_t k;

			if (f->grain && want > f->grain - off % f->grain)
				want = f->grain - off % f->grain;
			k = fg_lib_read(f->ops, h, p, want, off, err, sizeof(err));

			if (k <= 0) {
				if (k == 0)
					snprintf(err, sizeof(err), "unexpected end of data");
				vsrv_log("disk %s: reading byte %llu through %s: %s", d->path,
					 (unsigned long long)off, f->ops->library, err);
				ret = k < 0 ? (int)k : -EIO;
				break;
			}
			p += k;
			left -= (size_t)k;
			off += (uint64_t)k;
		}
	}
	pthread_mutex_lock(&f->lock);
	f->busy[ln] = false;
	if (f->waiting)
		pthread_cond_signal(&f->free);
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static int fg_writev(struct disk *d, uint64_t s, const struct iovec *iov, int n)
{
	(void)d, (void)s, (void)iov, (void)n;
	return -EROFS;
}

static int fg_flush(struct disk *d)
{
	(void)d;
	return 0;
}

static int fg_discard(struct disk *d, uint64_t s, uint64_t n)
{
	(void)d, (void)s, (void)n;
	return -EROFS;
}

static int fg_zero(struct disk *d, uint64_t s, uint64_t n, bool may_unmap)
{
	(void)d, (void)s, (void)n, (void)may_unmap;
	return -EROFS;
}

static void fg_free(struct foreign *f)
{
	/* children first: each holds a pointer to its parent's handle */
	for (int ln = 0; ln < f->nlane; ln++)
		for (int i = 0; i < f->n; i++)
			disk_foreign_libclose(f->ops, f->lane[ln][i]);
	for (int i = 0; i < f->n; i++) {
		if (f->fd[i] >= 0)
			close(f->fd[i]);
		free(f->layer[i].path);
		free(f->layer[i].backing);
	}
	pthread_cond_destroy(&f->free);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static void fg_close(struct disk *d)
{
	fg_free(d->priv);
}

static const struct disk_ops foreign_ops = {
	.readv = fg_readv,
	.writev = fg_writev,
	.flush = fg_flush,
	.discard = fg_discard,
	.write_zeroes = fg_zero,
	.close = fg_close,
};

/* The backing file name of an image, as a path: relative names are relative to the
 * directory of the image that names them (as QEMU does); Windows separators (a VHDX's
 * ".\parent.vhdx") become '/'. Returns a malloc'd path or NULL. */
static char *fg_backing_path(const char *child, const char *name, bool windows)
{
	const char *slash = strrchr(child, '/');
	char *p, *q;

	if (name[0] == '/' || !slash) {
		p = strdup(name);
	} else if (asprintf(&p, "%.*s/%s", (int)(slash - child), child, name) < 0) {
		p = NULL;
	}
	if (p && windows) {
		for (q = p; *q; q++)
			if (*q == '\\')
				*q = '/';
		/* "./x" stays as it is: a valid relative path */
	}
	return p;
}

/* Open one file of the chain at index i (path owned by the caller, copied). */
static int fg_open_one(struct foreign *f, int i, const char *path, unsigned flags,
		       const char *top)
{
	struct disk_layer *l = &f->layer[i];
	char err[256] = "";
	int ret;

	l->path = strdup(path);
	l->format = f->ops->format;
	f->n = i + 1;
	if (!l->path)
		return -ENOMEM;
	f->fd[i] = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd[i] < 0) {
		ret = -errno;
		if (i)
			vsrv_log("disk %s: backing file %s: %s", top, path, strerror(errno));
		else
			vsrv_log("disk %s: %s", path, strerror(errno));
		return ret;
	}
	if (!(flags & DISK_NOLOCK) && (ret = vhd_lock_fd(f->fd[i], VHD_LOCK_SHARED, path))) {
		vsrv_log("disk %s", vhd_errmsg());
		return ret;
	}
	ret = f->ops->open(path, &f->lane[0][i], l, err, sizeof(err));
	if (ret) {
		if (i)
			vsrv_log("disk %s: backing file %s: %s cannot read it: %s", top, path,
				 f->ops->library, err);
		else
			vsrv_log("disk %s: %s cannot read it: %s", path, f->ops->library, err);
		f->lane[0][i] = NULL;
		return ret;
	}
	if (l->size % DISK_SECTOR) {
		vsrv_log("disk %s: virtual size %llu is not a multiple of 512", path,
			 (unsigned long long)l->size);
		return -ENOTSUP;
	}
	return 0;
}

/* The libraries are not hardened against every damaged file (libqcow 20201213 reads past
 * its buffer on a qcow2 cut inside a data cluster). Only `vsrv img` opens these formats (a
 * VM's disk never does), so a fault while one is open ends the command with a message
 * naming the image and exit status 1, as any other unreadable image does, instead of a
 * crash. Not under the sanitizers, whose own reports must win. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
static void fault_guard(const char *path, const char *library)
{
	(void)path;
	(void)library;
}
#else
static char fault_msg[PATH_MAX + 256];
static size_t fault_len;

static void fault_exit(int sig)
{
	(void)sig;
	if (write(STDERR_FILENO, fault_msg, fault_len) < 0)
		_exit(1);
	_exit(1);
}

static void fault_guard(const char *path, const char *library)
{
	struct sigaction sa = { .sa_handler = fault_exit };
	int n = snprintf(fault_msg, sizeof(fault_msg), "vsrv: %s: the image is damaged: %s "
			 "failed reading it (run qemu-img check on it)\n", path, library);

	fault_len = n < 0 ? 0 : (size_t)n < sizeof(fault_msg) ? (size_t)n : sizeof(fault_msg) - 1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}
#endif

int disk_foreign_open(struct disk *d, const struct foreign_ops *ops, unsigned flags)
{
	const char *path = d->path;
	char err[512] = "", *next = NULL;
	struct foreign *f;
	int ret, i;

	/* the library is loaded by the first image of its format (yal_load.h) */
	ret = ops->load(err, sizeof(err));
	if (ret) {
		vsrv_log("disk %s: %s", d->path, err);
		return ret;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->ops = ops;
	fault_guard(d->path, ops->library);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->free, NULL);
	f->nlane = 1;
	for (i = 0; i < DISK_MAX_CHAIN; i++)
		f->fd[i] = -1;
	for (i = 0;; i++) {
		const char *bfmt;
		struct stat st;

		ret = fg_open_one(f, i, path, flags, d->path);
		free(next);
		next = NULL;
		if (ret)
			goto err;
		if (i && (ret = fg_lib_set_parent(ops, f->lane[0][i - 1], f->lane[0][i], err,
						  sizeof(err)))) {
			vsrv_log("disk %s: %s cannot follow backing file %s: %s", d->path,
				 ops->library, f->layer[i].path, err);
			goto err;
		}
		if (!f->layer[i].backing)
			break;
		if (i + 1 == DISK_MAX_CHAIN) {
			vsrv_log("disk %s: backing chain deeper than %d files (a loop?)", d->path,
				 DISK_MAX_CHAIN);
			ret = -ELOOP;
			goto err;
		}
		next = fg_backing_path(f->layer[i].path, f->layer[i].backing,
				       !strcmp(ops->format, "vhdx"));
		if (!next) {
			ret = -ENOMEM;
			goto err;
		}
		if (stat(next, &st)) {
			ret = -errno;
			vsrv_log("disk %s: backing file '%s' of %s: %s", d->path, f->layer[i].backing,
				 f->layer[i].path, strerror(errno));
			goto err;
		}
		ret = disk_probe(next, &bfmt);
		if (!ret && strcmp(bfmt, ops->format)) {
			vsrv_log("disk %s: backing file %s is %s: %s follows only %s backing files "
				 "(convert the chain with qemu-img first)", d->path, next, bfmt,
				 ops->library, ops->format);
			ret = -ENOTSUP;
		}
		if (ret) {
			if (ret != -ENOTSUP)
				vsrv_log("disk %s: backing file %s: %s", d->path, next, strerror(-ret));
			goto err;
		}
		path = next;
	}
	/* every file with a parent below it bounds the reads (see foreign_ops.grain) */
	for (i = 0; ops->grain && i + 1 < f->n; i++) {
		uint32_t g = ops->grain(f->lane[0][i], f->layer[i].path);

		if (g && (!f->grain || g < f->grain))
			f->grain = g;
	}
	d->ops = &foreign_ops;
	d->priv = f;
	d->format = ops->format;
	d->size = f->layer[0].size;
	return 0;
err:
	free(next);
	fg_free(f);
	return ret;
}

/* Open the chain once more as lane ln: each file by the path it was opened by, if that
 * path still names the same file (the one whose lock fd[i] holds). 0 or -errno (logged). */
static int fg_open_lane(struct disk *d, struct foreign *f, int ln)
{
	char err[256] = "";
	int ret = 0, i;

	for (i = 0; i < f->n && !ret; i++) {
		struct disk_layer l = { 0 };
		struct stat a, b;

		if (stat(f->layer[i].path, &a) || fstat(f->fd[i], &b) || a.st_dev != b.st_dev ||
		    a.st_ino != b.st_ino) {
			vsrv_log("disk %s: %s changed while open: reading it with one handle",
				 d->path, f->layer[i].path);
			ret = -ESTALE;
			break;
		}
		ret = f->ops->open(f->layer[i].path, &f->lane[ln][i], &l, err, sizeof(err));
		free(l.backing);
		if (ret) {
			vsrv_log("disk %s: %s cannot open %s again: %s", d->path, f->ops->library,
				 f->layer[i].path, err);
			f->lane[ln][i] = NULL;
		} else if (l.size != f->layer[i].size) {
			vsrv_log("disk %s: %s changed while open: reading it with one handle",
				 d->path, f->layer[i].path);
			ret = -ESTALE;
		} else if (i) {
			ret = fg_lib_set_parent(f->ops, f->lane[ln][i - 1], f->lane[ln][i], err,
						sizeof(err));
			if (ret)
				vsrv_log("disk %s: %s cannot follow backing file %s: %s", d->path,
					 f->ops->library, f->layer[i].path, err);
		}
	}
	if (ret) {
		for (i = 0; i < f->n; i++) {
			disk_foreign_libclose(f->ops, f->lane[ln][i]);
			f->lane[ln][i] = NULL;
		}
	}
	return ret;
}

int disk_foreign_parallel(struct disk *d, int want)
{
	struct foreign *f = d->priv;
	int have;

	pthread_mutex_lock(&f->lock);
	have = f->nlane;
	pthread_mutex_unlock(&f->lock);
	if (want > FG_MAX_LANES)
		want = FG_MAX_LANES;
	/* lanes are only added here, and callers add them from one thread */
	for (; have < want; have++) {
		if (fg_open_lane(d, f, have))
			break;
		pthread_mutex_lock(&f->lock);
		f->nlane = have + 1;
		if (f->waiting)
			pthread_cond_signal(&f->free);
		pthread_mutex_unlock(&f->lock);
	}
	return have;
}

int disk_foreign_lock(struct disk *d)
{
	struct foreign *f = d->priv;
	int ret;

	for (int i = 0; i < f->n; i++) {
		if ((ret = vhd_lock_fd(f->fd[i], VHD_LOCK_SHARED, f->layer[i].path))) {
			vsrv_log("disk %s", vhd_errmsg());
			while (i--)
				vhd_unlock_fd(f->fd[i]);
			return ret;
		}
	}
	return 0;
}

void disk_foreign_unlock(struct disk *d)
{
	struct foreign *f = d->priv;

	for (int i = 0; i < f->n; i++)
		vhd_unlock_fd(f->fd[i]);
}

const struct disk_layer *disk_foreign_layers(struct disk *d, int *n)
{
	struct foreign *f = d->priv;

	*n = f->n;
	return f->layer;
}
