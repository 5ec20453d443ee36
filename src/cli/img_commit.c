/* vsrv img commit (merge a differencing image into its parent: an undo disk's "commit")
 * and vsrv img compact (give back blocks that hold only zeros). */
#include "cli/img.h"
#include "vhd/vhd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void img_vhd_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct img_progress *pg = opaque;

	pg->total = total ? total : 1;
	if (done > pg->done)
		img_progress_add(pg, done - pg->done);
}

int img_cmd_commit(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *fmt = NULL;
	bool progress = false, quiet = false;
	struct img_progress pg;
	struct img *im;
	int c, r;

	while ((c = getopt_long(argc, argv, "+f:t:pqdh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'p': progress = true; break;
		case 'q': quiet = true; break;
		case 't': case 'd': break; /* cache mode; -d: the image is never emptied anyway */
		case 'h':
			printf("usage: vsrv img commit [-f FMT] [-p] [-q] FILE\n");
			return 0;
		default: return 1;
		}
	}
	if (argc - optind != 1) {
		img_err("commit: expecting one file name");
		return 1;
	}
	if (fmt && (!img_format_name(fmt) || strcmp(img_format_name(fmt), "vhd"))) {
		img_err("commit: '%s' has no parent to commit to (format %s)", argv[optind], fmt);
		return 1;
	}
	if (!fmt && (fmt = img_probe(argv[optind], &r)) && img_format_foreign(fmt)) {
		img_err("commit: '%s' is a %s image: read-only in vsrv (its parent is never "
			"written); qemu-img commit does that", argv[optind], fmt);
		return 1;
	}
	/* The child is only read; its parent is written. */
	if (img_open(argv[optind], "vhd", IMG_PARENT_RW, &im) < 0)
		return 1;
	if (!vhd_parent(im->vhd)) {
		img_err("commit: '%s' is not a differencing image: there is no parent to commit to",
			im->path);
		img_close(im);
		return 1;
	}
	img_progress_init(&pg, progress, im->size / VHD_SECTOR);
	r = vhd_commit(im->vhd, img_vhd_progress, &pg);
	if (r < 0) {
		img_err("commit: '%s' into '%s': %s", im->path, vhd_path(vhd_parent(im->vhd)),
			*vhd_errmsg() ? vhd_errmsg() : strerror(-r));
		img_close(im);
		return 1;
	}
	img_progress_end(&pg);
	img_close(im);
	if (!quiet)
		printf("Image committed.\n");
	return 0;
}

/* Raw files: punch holes where whole 64 KiB chunks of data are zeros. */
static int img_compact_raw(struct img *im, uint64_t *freed)
{
	const uint64_t chunk = 64 << 10;
	uint8_t *buf = malloc(chunk);
	uint64_t off = 0;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	*freed = 0;
	while (off < im->size) {
		enum img_kind k;
		uint64_t n, end;

		r = img_status(im, off, im->size - off, false, &k, &n, NULL);
		if (r < 0)
			break;
		end = off + n;
		for (; k == IMG_DATA && off < end; off += chunk) {
			uint64_t len = end - off < chunk ? end - off : chunk;

			if (len < chunk && off + len < im->size)
				break; /* a partial chunk in the middle: keep it */
			r = img_read(im, buf, len, off);
			if (r < 0)
				goto out;
			if (!img_is_zero(buf, len))
				continue;
			if (fallocate(im->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				      (off_t)len) < 0) {
				r = -errno;
				goto out;
			}
			*freed += len;
		}
		off = end;
	}
out:
	free(buf);
	return r;
}

int img_cmd_compact(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *fmt = NULL;
	bool progress = false, quiet = false;
	struct img_progress pg;
	struct img *im;
	uint64_t before, after, freed_bytes = 0;
	uint32_t freed = 0;
	char a[32], b[32];
	int c, r;

	while ((c = getopt_long(argc, argv, "+f:pqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'p': progress = true; break;
		case 'q': quiet = true; break;
		case 'h':
			printf("usage: vsrv img compact [-f FMT] [-p] [-q] FILE\n");
			return 0;
		default: return 1;
		}
	}
	if (argc - optind != 1) {
		img_err("compact: expecting one file name");
		return 1;
	}
	if (img_open(argv[optind], fmt, IMG_RDWR, &im) < 0)
		return 1;
	before = img_file_disk_size(im->path);
	img_progress_init(&pg, progress, im->size / VHD_SECTOR);
	if (im->vhd) {
		struct vhd_info in;

		vhd_get_info(im->vhd, &in);
		if (in.type == VHD_TYPE_FIXED) {
			img_err("compact: '%s' is a fixed VHD: it has no blocks to give back "
				"(convert it with -o subformat=dynamic)", im->path);
			img_close(im);
			return 1;
		}
		r = vhd_compact(im->vhd, &freed, img_vhd_progress, &pg);
	} else {
		r = img_compact_raw(im, &freed_bytes);
	}
	if (r == 0)
		r = img_flush(im);
	if (r < 0) {
		img_err("compact: '%s': %s", im->path,
			im->vhd && *vhd_errmsg() ? vhd_errmsg() : strerror(-r));
		img_close(im);
		return 1;
	}
	img_progress_end(&pg);
	img_close(im);
	after = img_file_disk_size(argv[optind]);
	if (!quiet) {
		printf("Image compacted: ");
		if (freed || !freed_bytes)
			printf("%u blocks released", freed);
		else
			printf("%" PRIu64 " bytes of zeros released", freed_bytes);
		printf(", disk size %s -> %s\n", img_size_str(before, a, sizeof(a)),
		       img_size_str(after, b, sizeof(b)));
	}
	return 0;
}
