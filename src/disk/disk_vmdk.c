/* The block layer's VMDK reader (VMware) through libvmdk: read-only; monolithic sparse and
 * stream-optimized files, and descriptor files with their extent files (flat or sparse,
 * found in the descriptor's directory); a delta disk's parent (parentFileNameHint) followed
 * with libvmdk_handle_set_parent_handle. */
#include "disk/yal_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The descriptor's createType, as VMware and qemu-img spell it. */
static const char *vk_type_name(int t)
{
	switch (t) {
	case LIBVMDK_DISK_TYPE_2GB_EXTENT_FLAT: return "twoGbMaxExtentFlat";
	case LIBVMDK_DISK_TYPE_2GB_EXTENT_SPARSE: return "twoGbMaxExtentSparse";
	case LIBVMDK_DISK_TYPE_MONOLITHIC_FLAT: return "monolithicFlat";
	case LIBVMDK_DISK_TYPE_MONOLITHIC_SPARSE: return "monolithicSparse";
	case LIBVMDK_DISK_TYPE_STREAM_OPTIMIZED: return "streamOptimized";
	case LIBVMDK_DISK_TYPE_VMFS_FLAT: return "vmfs";
	case LIBVMDK_DISK_TYPE_VMFS_SPARSE: return "vmfsSparse";
	default: return "other";
	}
}

static int vk_open(const char *path, void **h, struct disk_layer *l, char *err, size_t n)
{
	const struct yal_vmdk *y = &yal_vmdk;
	libvmdk_error_t *e = NULL;
	libvmdk_handle_t *v = NULL;
	const char *slash = strrchr(path, '/');
	size64_t size = 0;
	size_t bn = 0;
	int type = 0;

	*h = NULL;
	if (y->libvmdk_handle_initialize(&v, &e) != 1) {
		disk_foreign_liberr(&disk_vmdk_ops, &e, "initialize", err, n);
		return -ENOMEM;
	}
	if (y->libvmdk_handle_open(v, path, LIBVMDK_OPEN_READ, &e) != 1) {
		disk_foreign_liberr(&disk_vmdk_ops, &e, NULL, err, n);
		y->lib.free(&v, NULL);
		return -EINVAL;
	}
	*h = v;
	/* extent files named by the descriptor live beside it */
	if (y->libvmdk_handle_set_extent_data_files_path(v, slash ? path : ".",
							 slash ? (size_t)(slash - path) : 1,
							 &e) != 1 ||
	    y->libvmdk_handle_open_extent_data_files(v, &e) != 1) {
		disk_foreign_liberr(&disk_vmdk_ops, &e, "extent files", err, n);
		goto err;
	}
	if (y->libvmdk_handle_get_media_size(v, &size, &e) != 1 ||
	    y->libvmdk_handle_get_disk_type(v, &type, &e) != 1) {
		disk_foreign_liberr(&disk_vmdk_ops, &e, "descriptor", err, n);
		goto err;
	}
	if (type == LIBVMDK_DISK_TYPE_DEVICE || type == LIBVMDK_DISK_TYPE_DEVICE_PARITIONED ||
	    type == LIBVMDK_DISK_TYPE_VMFS_RAW || type == LIBVMDK_DISK_TYPE_VMFS_RDM ||
	    type == LIBVMDK_DISK_TYPE_VMFS_RDMP) {
		snprintf(err, n, "a raw device mapping (its data is a host device): not supported");
		disk_foreign_libclose(&disk_vmdk_ops, v);
		*h = NULL;
		return -ENOTSUP;
	}
	l->size = size;
	snprintf(l->subformat, sizeof(l->subformat), "%s", vk_type_name(type));
	if (y->libvmdk_handle_get_utf8_parent_filename_size(v, &bn, &e) == 1 && bn > 1) {
		l->backing = malloc(bn);
		if (!l->backing) {
			snprintf(err, n, "out of memory");
			disk_foreign_libclose(&disk_vmdk_ops, v);
			*h = NULL;
			return -ENOMEM;
		}
		if (y->libvmdk_handle_get_utf8_parent_filename(v, (uint8_t *)l->backing, bn,
							    &e) != 1) {
			disk_foreign_liberr(&disk_vmdk_ops, &e, "parent file name", err, n);
			goto err;
		}
	}
	y->lib.error_free(&e);
	return 0;
err:
	disk_foreign_libclose(&disk_vmdk_ops, v);
	*h = NULL;
	return -EINVAL;
}

const struct foreign_ops disk_vmdk_ops = {
	.format = "vmdk",
	.library = "libvmdk",
	.load = yal_vmdk_load,
	.open = vk_open,
	.lib = &yal_vmdk.lib,
};
