/* vsrv img create and vsrv img resize. */
#include "cli/img.h"
#include "vhd/vhd.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static bool img_has_vhd_suffix(const char *path)
{
	size_t n = strlen(path);

	return n > 4 && !strcasecmp(path + n - 4, ".vhd");
}

int img_cmd_create(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct img_create_opts o = { 0 };
	const char *fmt = NULL, *path;
	uint64_t size = 0;
	bool quiet = false, have_size;
	char sbuf[32];
	int c, r;

	while ((c = getopt_long(argc, argv, "+f:o:b:F:quh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			fmt = img_format_name(optarg);
			if (!fmt) {
				img_err("unknown format '%s' (vhd, vpc or raw)", optarg);
				return 1;
			}
			if (img_format_foreign(fmt)) {
				img_err("create: vsrv creates vhd (vpc) and raw images; %s is read-only "
					"here (qemu-img create -f %s makes one)", fmt, fmt);
				return 1;
			}
			break;
		case 'o':
			/* Format-specific: resolved once -f is known, see below. */
			break;
		case 'b': o.parent = optarg; break;
		case 'F':
			o.parent_fmt = optarg;
			break;
		case 'q': quiet = true; break;
		case 'u': break; /* qemu-img's "unsafe: do not open the parent": we always check */
		case 'h':
			printf("usage: vsrv img create [-f vhd|raw] [-o OPTIONS] [-b PARENT [-F vhd]] FILE [SIZE]\n");
			return 0;
		default:
			return 1;
		}
	}
	if (optind >= argc) {
		img_err("create: expecting a file name");
		return 1;
	}
	path = argv[optind];
	have_size = optind + 1 < argc;
	if (optind + 2 < argc) {
		img_err("create: unexpected argument '%s'", argv[optind + 2]);
		return 1;
	}
	/* qemu-img's default is raw; a parent or a ".vhd" name can only mean a VHD. */
	if (!fmt)
		fmt = o.parent || img_has_vhd_suffix(path) ? "vhd" : "raw";
	/* Second pass for -o now that the format is known. */
	optind = 0;
	while ((c = getopt_long(argc, argv, "+f:o:b:F:quh", longopts, NULL)) != -1) {
		if (c != 'o')
			continue;
		r = img_parse_create_opts(optarg, fmt, &o);
		if (r)
			return r > 0 ? 0 : 1;
	}
	if (o.parent && strcmp(fmt, "vhd")) {
		img_err("create: format %s cannot have a parent (-b needs -f vhd)", fmt);
		return 1;
	}
	if (o.parent_fmt && !(img_format_name(o.parent_fmt) &&
			      !strcmp(img_format_name(o.parent_fmt), "vhd"))) {
		img_err("create: a differencing VHD's parent must be a VHD, not '%s'", o.parent_fmt);
		return 1;
	}
	if (o.parent && o.fixed) {
		img_err("create: a differencing image cannot be fixed");
		return 1;
	}
	if (have_size) {
		r = img_parse_size(argv[optind + 1], &size);
		if (r < 0) {
			img_err("create: invalid size '%s': %s", argv[optind + 1],
				r == -ERANGE ? "too large" : "use digits with an optional k, M, G, T suffix");
			return 1;
		}
	} else if (!o.parent) {
		img_err("create: size required (only a differencing image takes its parent's)");
		return 1;
	}
	if (!strcmp(fmt, "vhd") && size > VHD_MAX_SIZE) {
		img_err("create: size %" PRIu64 " is above the VHD maximum of 2040 GiB", size);
		return 1;
	}
	if (o.parent && !have_size) {
		struct img *p;

		/* Open the parent (and its chain) to take its size and fail early and clearly. */
		if (img_open(o.parent, "vhd", 0, &p) < 0)
			return 1;
		size = p->size;
		img_close(p);
	}
	if (!quiet) {
		printf("Formatting '%s', fmt=%s size=%" PRIu64, path, fmt, size);
		if (o.parent)
			printf(" backing_file=%s backing_fmt=vhd", o.parent);
		if (!strcmp(fmt, "vhd") && !o.parent)
			printf(" subformat=%s", o.fixed ? "fixed" : "dynamic");
		if (o.block_size)
			printf(" block_size=%s", img_size_str(o.block_size, sbuf, sizeof(sbuf)));
		if (o.force_size)
			printf(" force_size=on");
		printf("\n");
		fflush(stdout);
	}
	return img_create_file(path, fmt, size, &o) < 0 ? 1 : 0;
}

/* The VHD creators that QEMU and Hyper-V read by the current size field: an image from one
 * of them keeps an exact size when resized (no CHS rounding). */
static bool img_vhd_exact_size(const struct vhd_info *in)
{
	static const char *const exact[] = { "win ", "qem2", "d2v ", "CTXS" };
	size_t i;

	if (!memcmp(in->creator_app, "tap", 4))
		return true;
	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!memcmp(in->creator_app, exact[i], 4))
			return true;
	return false;
}

int img_cmd_resize(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "shrink", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *fmt = NULL, *sizearg;
	bool shrink = false;
	struct img *im;
	uint64_t delta, size;
	int c, r, sign = 0;

	while ((c = getopt_long(argc, argv, "+f:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'q': break;
		case 's': shrink = true; break;
		case 'h':
			printf("usage: vsrv img resize [-f FMT] [--shrink] FILE [+|-]SIZE\n");
			return 0;
		default: return 1;
		}
	}
	if (argc - optind != 2) {
		img_err("resize: expecting FILE and SIZE");
		return 1;
	}
	sizearg = argv[optind + 1];
	if (*sizearg == '+' || *sizearg == '-')
		sign = *sizearg++ == '+' ? 1 : -1;
	r = img_parse_size(sizearg, &delta);
	if (r < 0) {
		img_err("resize: invalid size '%s'", argv[optind + 1]);
		return 1;
	}
	if (img_open(argv[optind], fmt, IMG_RDWR, &im) < 0)
		return 1;
	size = delta;
	if (sign > 0) {
		if (im->size > UINT64_MAX - delta)
			goto err_range;
		size = im->size + delta;
	} else if (sign < 0) {
		if (delta > im->size)
			goto err_range;
		size = im->size - delta;
	}
	if (size < im->size && !shrink) {
		img_err("resize: use the --shrink option to make '%s' smaller; data beyond the new "
			"size is lost", im->path);
		goto err_close;
	}
	if (im->vhd) {
		struct vhd_info in;

		vhd_get_info(im->vhd, &in);
		if (size > VHD_MAX_SIZE)
			goto err_range;
		r = vhd_resize(im->vhd, size, img_vhd_exact_size(&in),
			       size < im->size ? VHD_RESIZE_SHRINK : 0);
		if (r < 0) {
			img_err("resize: '%s': %s", im->path, *vhd_errmsg() ? vhd_errmsg() : strerror(-r));
			goto err_close;
		}
	} else {
		struct stat st;

		if (fstat(im->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			img_err("resize: '%s' is not a regular file", im->path);
			goto err_close;
		}
		if (ftruncate(im->fd, (off_t)size) < 0) {
			img_err("resize: '%s': %s", im->path, strerror(errno));
			goto err_close;
		}
	}
	r = img_flush(im);
	if (r < 0) {
		img_err("resize: '%s': %s", im->path, strerror(-r));
		goto err_close;
	}
	img_close(im);
	printf("Image resized.\n");
	return 0;

err_range:
	img_err("resize: size out of range for '%s'", im->path);
err_close:
	img_close(im);
	return 1;
}
