/* The block layer's VMDK reader (VMware) through libvmdk: read-only; monolithic sparse and
 * stream-optimized files, and descriptor files with their extent files (flat or sparse,
 * found in the descriptor's directory); a delta disk's parent (parentFileNameHint) followed
 * with libvmdk_handle_set_parent_handle. */
#include "disk/disk_int.h"

/* Debian's libvmdk-dev declares the libbfio entry points but ships no libbfio.h: we use
 * none of them. */
#include <libvmdk/features.h>
#undef LIBVMDK_HAVE_BFIO
#include <libvmdk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void vk_err(libvmdk_error_t **e, const char *what, char *err, size_t n)
{
	char bt[4096] = "", msg[256];

	if (*e && libvmdk_error_backtrace_sprint(*e, bt, sizeof(bt)) > 0)
		disk_foreign_errmsg(bt, msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "unknown error");
	if (what)
		snprintf(err, n, "%s: %s", what, msg);
	else
		snprintf(err, n, "%s", msg);
	libvmdk_error_free(e);
}

static void vk_close(void *h)
{
	libvmdk_handle_t *v = h;

	libvmdk_handle_close(v, NULL);
	libvmdk_handle_free(&v, NULL);
}

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
	libvmdk_error_t *e = NULL;
	libvmdk_handle_t *v = NULL;
	const char *slash = strrchr(path, '/');
	size64_t size = 0;
	size_t bn = 0;
	int type = 0;

	*h = NULL;
	if (libvmdk_handle_initialize(&v, &e) != 1) {
		vk_err(&e, "initialize", err, n);
		return -ENOMEM;
	}
	if (libvmdk_handle_open(v, path, LIBVMDK_OPEN_READ, &e) != 1) {
		vk_err(&e, NULL, err, n);
		libvmdk_handle_free(&v, NULL);
		return -EINVAL;
	}
	*h = v;
	/* extent files named by the descriptor live beside it */
	if (libvmdk_handle_set_extent_data_files_path(v, slash ? path : ".",
						       slash ? (size_t)(slash - path) : 1, &e) != 1 ||
	    libvmdk_handle_open_extent_data_files(v, &e) != 1) {
		vk_err(&e, "extent files", err, n);
		goto err;
	}
	if (libvmdk_handle_get_media_size(v, &size, &e) != 1 ||
	    libvmdk_handle_get_disk_type(v, &type, &e) != 1) {
		vk_err(&e, "descriptor", err, n);
		goto err;
	}
	if (type == LIBVMDK_DISK_TYPE_DEVICE || type == LIBVMDK_DISK_TYPE_DEVICE_PARITIONED ||
	    type == LIBVMDK_DISK_TYPE_VMFS_RAW || type == LIBVMDK_DISK_TYPE_VMFS_RDM ||
	    type == LIBVMDK_DISK_TYPE_VMFS_RDMP) {
		snprintf(err, n, "a raw device mapping (its data is a host device): not supported");
		vk_close(v);
		*h = NULL;
		return -ENOTSUP;
	}
	l->size = size;
	snprintf(l->subformat, sizeof(l->subformat), "%s", vk_type_name(type));
	if (libvmdk_handle_get_utf8_parent_filename_size(v, &bn, &e) == 1 && bn > 1) {
		l->backing = malloc(bn);
		if (!l->backing) {
			snprintf(err, n, "out of memory");
			vk_close(v);
			*h = NULL;
			return -ENOMEM;
		}
		if (libvmdk_handle_get_utf8_parent_filename(v, (uint8_t *)l->backing, bn, &e) != 1) {
			vk_err(&e, "parent file name", err, n);
			goto err;
		}
	}
	libvmdk_error_free(&e);
	return 0;
err:
	vk_close(v);
	*h = NULL;
	return -EINVAL;
}

static int vk_set_parent(void *child, void *parent, char *err, size_t n)
{
	libvmdk_error_t *e = NULL;

	if (libvmdk_handle_set_parent_handle(child, parent, &e) != 1) {
		vk_err(&e, "set parent", err, n);
		return -EINVAL;
	}
	return 0;
}

static ssize_t vk_read(void *h, void *buf, size_t len, uint64_t off, char *err, size_t n)
{
	libvmdk_error_t *e = NULL;
	ssize_t k = libvmdk_handle_read_buffer_at_offset(h, buf, len, (off64_t)off, &e);

	if (k < 0) {
		vk_err(&e, "read", err, n);
		return -EIO;
	}
	return k;
}

const struct foreign_ops disk_vmdk_ops = {
	.format = "vmdk",
	.library = "libvmdk",
	.open = vk_open,
	.set_parent = vk_set_parent,
	.read = vk_read,
	.close = vk_close,
};
