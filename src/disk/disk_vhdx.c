/* The block layer's VHDX reader (Hyper-V) through libvhdi: read-only; fixed, dynamic and
 * differencing images, a differencing image's parent (a VHDX) followed with
 * libvhdi_file_set_parent_file. (VHD, the format vsrv writes, is lib/vhd's: disk_vhd.c.) */
#include "disk/yal_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vx_open(const char *path, void **h, struct disk_layer *l, char *err, size_t n)
{
	const struct yal_vhdi *y = &yal_vhdi;
	libvhdi_error_t *e = NULL;
	libvhdi_file_t *f = NULL;
	uint32_t type = 0;
	size64_t size = 0;
	size_t bn = 0;
	int ftype = 0;

	*h = NULL;
	if (y->libvhdi_file_initialize(&f, &e) != 1) {
		disk_foreign_liberr(&disk_vhdx_ops, &e, "initialize", err, n);
		return -ENOMEM;
	}
	if (y->libvhdi_file_open(f, path, LIBVHDI_OPEN_READ, &e) != 1) {
		disk_foreign_liberr(&disk_vhdx_ops, &e, NULL, err, n);
		y->lib.free(&f, NULL);
		return -EINVAL;
	}
	*h = f;
	if (y->libvhdi_file_get_file_type(f, &ftype, &e) != 1 ||
	    y->libvhdi_file_get_disk_type(f, &type, &e) != 1 ||
	    y->libvhdi_file_get_media_size(f, &size, &e) != 1) {
		disk_foreign_liberr(&disk_vhdx_ops, &e, "header", err, n);
		goto err;
	}
	if (ftype != LIBVHDI_FILE_TYPE_VHDX) {
		snprintf(err, n, "not a VHDX file");
		goto err;
	}
	l->size = size;
	snprintf(l->subformat, sizeof(l->subformat), "%s",
		 type == LIBVHDI_DISK_TYPE_FIXED ? "fixed" :
		 type == LIBVHDI_DISK_TYPE_DYNAMIC ? "dynamic" :
		 type == LIBVHDI_DISK_TYPE_DIFFERENTIAL ? "differencing" : "unknown");
	if (type == LIBVHDI_DISK_TYPE_DIFFERENTIAL) {
		if (y->libvhdi_file_get_utf8_parent_filename_size(f, &bn, &e) != 1 ||
		    bn <= 1) {
			disk_foreign_liberr(&disk_vhdx_ops, &e,
					    "differencing image without a parent file name", err, n);
			goto err;
		}
		l->backing = malloc(bn);
		if (!l->backing) {
			snprintf(err, n, "out of memory");
			disk_foreign_libclose(&disk_vhdx_ops, f);
			*h = NULL;
			return -ENOMEM;
		}
		if (y->libvhdi_file_get_utf8_parent_filename(f, (uint8_t *)l->backing, bn,
							  &e) != 1) {
			disk_foreign_liberr(&disk_vhdx_ops, &e, "parent file name", err, n);
			goto err;
		}
	}
	y->lib.error_free(&e);
	return 0;
err:
	disk_foreign_libclose(&disk_vhdx_ops, f);
	*h = NULL;
	return -EINVAL;
}

/* A differencing VHDX marks present data sector by sector: without a differencing image
 * from Hyper-V to prove that libvhdi reads a request that spans present and absent
 * sectors right (libqcow does not, for clusters), reads of a chain go sector by sector. */
static uint32_t vx_grain(void *h, const char *path)
{
	const struct yal_vhdi *y = &yal_vhdi;
	libvhdi_error_t *e = NULL;
	uint32_t bps = 0;

	(void)path;
	if (y->libvhdi_file_get_bytes_per_sector(h, &bps, &e) != 1 || bps < 512 ||
	    (bps & (bps - 1)))
		bps = 512;
	y->lib.error_free(&e);
	return bps;
}

const struct foreign_ops disk_vhdx_ops = {
	.format = "vhdx",
	.library = "libvhdi",
	.load = yal_vhdi_load,
	.open = vx_open,
	.grain = vx_grain,
	.lib = &yal_vhdi.lib,
};
