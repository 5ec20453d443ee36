/* In-memory disks for the migration receivers' fuzz targets (fuzz/migrate.c,
 * fuzz/migrate_disk.c): what the destination's disks would be. Any access outside the disk
 * aborts (the receiver must have refused the record), as does a write to a read-only one. */
#ifndef VSRV_FUZZ_MIGDISK_H
#define VSRV_FUZZ_MIGDISK_H

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "disk/disk.h"

static void migdisk_range(struct disk *d, uint64_t sector, uint64_t bytes)
{
	if (sector > d->size / 512 || bytes > d->size - sector * 512)
		abort(); /* the receiver went past its disk */
}

static int migdisk_rw(struct disk *d, uint64_t sector, const struct iovec *iov, int n, int w)
{
	uint8_t *img = d->priv;
	uint64_t off = sector * 512;

	if (w && d->readonly)
		abort();
	for (int i = 0; i < n; i++) {
		migdisk_range(d, off / 512, iov[i].iov_len);
		if (w)
			memcpy(img + off, iov[i].iov_base, iov[i].iov_len);
		else
			memcpy(iov[i].iov_base, img + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}

static int migdisk_readv(struct disk *d, uint64_t s, const struct iovec *iov, int n)
{
	return migdisk_rw(d, s, iov, n, 0);
}

static int migdisk_writev(struct disk *d, uint64_t s, const struct iovec *iov, int n)
{
	return migdisk_rw(d, s, iov, n, 1);
}

static int migdisk_zero(struct disk *d, uint64_t s, uint64_t n, bool unmap)
{
	(void)unmap;
	if (d->readonly)
		abort();
	migdisk_range(d, s, n * 512);
	memset((uint8_t *)d->priv + s * 512, 0, n * 512);
	return 0;
}

static int migdisk_flush(struct disk *d)
{
	(void)d;
	return 0;
}

static void migdisk_close(struct disk *d)
{
	free(d->priv);
}

static const struct disk_ops migdisk_ops = { .readv = migdisk_readv, .writev = migdisk_writev,
					     .flush = migdisk_flush, .write_zeroes = migdisk_zero,
					     .close = migdisk_close };

/* A zeroed disk of size bytes (NULL when out of memory); free with migdisk_free. */
static struct disk *migdisk_new(uint64_t size, bool readonly)
{
	struct disk *d = calloc(1, sizeof(*d));

	if (!d || !(d->priv = calloc(1, size ? size : 1))) {
		free(d);
		return NULL;
	}
	d->ops = &migdisk_ops;
	d->path = (char *)"memdisk";
	d->format = "raw";
	d->size = size;
	d->readonly = readonly;
	d->direct_fd = -1;
	return d;
}

static void migdisk_free(struct disk *d)
{
	if (d) {
		free(d->priv);
		free(d);
	}
}

#endif
