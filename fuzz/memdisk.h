/* An in-memory disk for the fuzz targets of disk controllers (fuzz/ahci_cmd.c,
 * fuzz/ide_io.c): its reads, writes and discards abort outside the disk (a controller that
 * goes past its disk is the bug the fuzzer looks for) and a write to a read-only disk
 * aborts. The image is the includer's: it sets memdisk_image before any I/O. One includer
 * per program. */
#ifndef VSRV_FUZZ_MEMDISK_H
#define VSRV_FUZZ_MEMDISK_H

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "disk/disk.h"

static uint8_t *memdisk_image;

static void memdisk_range(struct disk *d, uint64_t sector, uint64_t bytes)
{
	if (sector * 512 > d->size || bytes > d->size - sector * 512)
		abort(); /* the device went past its disk */
}

static int memdisk_readv(struct disk *d, uint64_t sector, const struct iovec *iov, int n)
{
	uint64_t off = sector * 512;

	for (int i = 0; i < n; i++) {
		memdisk_range(d, off / 512, iov[i].iov_len);
		memcpy(iov[i].iov_base, memdisk_image + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}

static int memdisk_writev(struct disk *d, uint64_t sector, const struct iovec *iov, int n)
{
	uint64_t off = sector * 512;

	if (d->readonly)
		abort();
	for (int i = 0; i < n; i++) {
		memdisk_range(d, off / 512, iov[i].iov_len);
		memcpy(memdisk_image + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return 0;
}

static int memdisk_discard(struct disk *d, uint64_t sector, uint64_t n)
{
	memdisk_range(d, sector, n * 512);
	memset(memdisk_image + sector * 512, 0, n * 512);
	return 0;
}

static int memdisk_flush(struct disk *d)
{
	(void)d;
	return 0;
}

static void memdisk_close(struct disk *d)
{
	(void)d;
}

static const struct disk_ops memdisk_ops = { .readv = memdisk_readv,
					     .writev = memdisk_writev,
					     .flush = memdisk_flush,
					     .discard = memdisk_discard,
					     .close = memdisk_close };

#endif
