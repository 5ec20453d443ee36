/* The block layer's qcow2 reader (QEMU, Proxmox, cloud images) through libqcow: read-only,
 * a backing chain of qcow2 files followed with libqcow_file_set_parent_file. Encrypted
 * images are refused (libqcow would need the key; vsrv has no way to ask for one), and so are
 * images with zero clusters, which libqcow reads wrongly (qcow_zero.h). */
#include "disk/yal_load.h"
#include "disk/qcow_zero.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libqcow refused the image's incompatible features by number: name the ones QEMU writes,
 * from the header's incompatible_features (big-endian, byte 72 of a version 3 header). */
static void qc_features_hint(const char *path, char *err, size_t n)
{
	static const char *const names[] = { "dirty", "corrupt", "an external data file",
					      "zstd compression", "extended L2 entries" };
	char list[160] = "";
	uint8_t b[8];
	uint64_t bits = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k = fd < 0 ? -1 : pread(fd, b, sizeof(b), 72);

	if (fd >= 0)
		close(fd);
	if (k != 8)
		return;
	for (int i = 0; i < 8; i++)
		bits = bits << 8 | b[i];
	/* dirty and corrupt are not refused: the others are the features libqcow lacks */
	for (unsigned i = 2; i < sizeof(names) / sizeof(names[0]); i++)
		if (bits & (1ull << i))
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 list[0] ? ", " : "", names[i]);
	if (list[0])
		snprintf(err + strlen(err), n - strlen(err), " (%s)", list);
}

static int qc_open(const char *path, void **h, struct disk_layer *l, char *err, size_t n)
{
	const struct yal_qcow *y = &yal_qcow;
	libqcow_error_t *e = NULL;
	libqcow_file_t *f = NULL;
	uint32_t version = 0, enc = 0;
	size64_t size = 0;
	size_t bn = 0;

	*h = NULL;
	if (y->libqcow_file_initialize(&f, &e) != 1) {
		disk_foreign_liberr(&disk_qcow_ops, &e, "initialize", err, n);
		return -ENOMEM;
	}
	if (y->libqcow_file_open(f, path, LIBQCOW_OPEN_READ, &e) != 1) {
		disk_foreign_liberr(&disk_qcow_ops, &e, NULL, err, n);
		y->lib.free(&f, NULL);
		if (strstr(err, "incompatible features")) {
			qc_features_hint(path, err, n);
			return -ENOTSUP;
		}
		return -EINVAL;
	}
	*h = f;
	if (y->libqcow_file_get_format_version(f, &version, &e) != 1 ||
	    y->libqcow_file_get_encryption_method(f, &enc, &e) != 1 ||
	    y->libqcow_file_get_media_size(f, &size, &e) != 1) {
		disk_foreign_liberr(&disk_qcow_ops, &e, "header", err, n);
		goto err;
	}
	if (enc != LIBQCOW_ENCRYPTION_METHOD_NONE) {
		snprintf(err, n, "encrypted (%s): not supported (decrypt it with qemu-img convert "
			 "--object secret,... first)",
			 enc == LIBQCOW_ENCRYPTION_METHOD_LUKS ? "LUKS" : "AES-CBC");
		goto err_unsup;
	}
	if (version < 2) {
		snprintf(err, n, "qcow version %u: only qcow2 images are read", version);
		goto err_unsup;
	}
	if (version >= 3) {
		int fd = open(path, O_RDONLY | O_CLOEXEC), z;
		uint64_t at = 0;

		z = fd < 0 ? -errno : qcow_zero_find(fd, &at);
		if (fd >= 0)
			close(fd);
		if (z == 1) {
			snprintf(err, n, "holds zero clusters (the first at guest offset %llu: left "
				 "by discard, write-zeroes or detect-zeroes), which libqcow reads as "
				 "other bytes, so it is refused rather than read wrong; `qemu-img "
				 "convert -O qcow2` it to a new image first (that leaves none where no "
				 "backing file is), or convert it with qemu-img", (unsigned long long)at);
			goto err_unsup;
		}
		if (z < 0) {
			snprintf(err, n, "its L1 or L2 tables cannot be read (%s)",
				 z == -EINVAL ? "they point outside the file" : strerror(-z));
			goto err;
		}
	}
	snprintf(l->subformat, sizeof(l->subformat), "v%u", version);
	l->size = size;
	if (y->libqcow_file_get_utf8_backing_filename_size(f, &bn, &e) == 1 && bn > 1) {
		l->backing = malloc(bn);
		if (!l->backing)
			goto err_nomem;
		if (y->libqcow_file_get_utf8_backing_filename(f, (uint8_t *)l->backing, bn,
							   &e) != 1) {
			disk_foreign_liberr(&disk_qcow_ops, &e, "backing file name", err, n);
			goto err;
		}
	}
	y->lib.error_free(&e);
	return 0;
err_nomem:
	snprintf(err, n, "out of memory");
	disk_foreign_libclose(&disk_qcow_ops, f);
	*h = NULL;
	return -ENOMEM;
err_unsup:
	disk_foreign_libclose(&disk_qcow_ops, f);
	*h = NULL;
	return -ENOTSUP;
err:
	disk_foreign_libclose(&disk_qcow_ops, f);
	*h = NULL;
	return -EINVAL;
}

/* The cluster size, from the header's cluster_bits (big-endian, byte 20): libqcow does not
 * give it, and reads across clusters of a child are only right cluster by cluster. 512
 * (always right, slower) if the header cannot be read. */
static uint32_t qc_grain(void *h, const char *path)
{
	uint8_t b[4];
	uint32_t bits;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k = fd < 0 ? -1 : pread(fd, b, sizeof(b), 20);

	(void)h;
	if (fd >= 0)
		close(fd);
	if (k != 4)
		return 512;
	bits = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return bits >= 9 && bits <= 21 ? 1u << bits : 512;
}

const struct foreign_ops disk_qcow_ops = {
	.format = "qcow2",
	.library = "libqcow",
	.load = yal_qcow_load,
	.open = qc_open,
	.grain = qc_grain,
	.lib = &yal_qcow.lib,
};

