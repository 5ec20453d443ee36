/* vsrv img info and vsrv img map: describe an image (json keys as qemu-img's where they
 * exist, VHD specifics under "format-specific"; qcow2, VMDK and VHDX images with what
 * their library tells: size, backing file, subformat) and its allocated ranges. */
#include "cli/img.h"
#include "disk/disk.h"
#include "vhd/vhd.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void img_uuid_str(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

/* VHD timestamps count from 2000-01-01 00:00 UTC. */
static void img_vhd_time_str(uint32_t ts, char *out, size_t n)
{
	time_t t = (time_t)946684800 + (time_t)ts;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The creator application as printable text: NULs and controls become spaces, trimmed. */
static void img_creator_str(const char *app, char out[5])
{
	int i;

	for (i = 0; i < 4; i++)
		out[i] = app[i] >= 0x20 && app[i] < 0x7f ? app[i] : ' ';
	out[4] = 0;
	for (i = 3; i >= 0 && out[i] == ' '; i--)
		out[i] = 0;
}

static json_t *img_info_json(struct img *im, const struct vhd_info *in)
{
	json_t *o = json_object(), *fs, *d, *g;
	char buf[64];

	json_object_set_new(o, "virtual-size", json_integer((json_int_t)im->size));
	json_object_set_new(o, "filename", json_string(im->path));
	if (in && in->block_size)
		json_object_set_new(o, "cluster-size", json_integer(in->block_size));
	json_object_set_new(o, "format", json_string(im->format));
	json_object_set_new(o, "actual-size", json_integer((json_int_t)img_file_disk_size(im->path)));
	json_object_set_new(o, "dirty-flag", json_false());
	if (!in)
		return o;
	if (in->type == VHD_TYPE_DIFF) {
		json_object_set_new(o, "backing-filename", json_string(in->parent_name));
		if (in->parent_path[0])
			json_object_set_new(o, "full-backing-filename", json_string(in->parent_path));
		json_object_set_new(o, "backing-filename-format", json_string("vhd"));
	}
	fs = json_object();
	d = json_object();
	g = json_object();
	json_object_set_new(fs, "type", json_string("vhd"));
	json_object_set_new(d, "subformat", json_string(vhd_type_name(in->type)));
	json_object_set_new(g, "cylinders", json_integer(in->cylinders));
	json_object_set_new(g, "heads", json_integer(in->heads));
	json_object_set_new(g, "sectors", json_integer(in->sectors_per_track));
	json_object_set_new(d, "geometry", g);
	json_object_set_new(d, "current-size", json_integer((json_int_t)in->current_size));
	json_object_set_new(d, "original-size", json_integer((json_int_t)in->original_size));
	img_creator_str(in->creator_app, buf);
	json_object_set_new(d, "creator-app", json_string(buf));
	snprintf(buf, sizeof(buf), "%u.%u", in->creator_version >> 16, in->creator_version & 0xffff);
	json_object_set_new(d, "creator-version", json_string(buf));
	img_creator_str(in->creator_os, buf);
	json_object_set_new(d, "creator-os", json_string(buf));
	img_vhd_time_str(in->timestamp, buf, sizeof(buf));
	json_object_set_new(d, "timestamp", json_string(buf));
	img_uuid_str(in->uuid, buf);
	json_object_set_new(d, "uuid", json_string(buf));
	json_object_set_new(d, "saved-state", json_boolean(in->saved_state));
	json_object_set_new(d, "file-size", json_integer((json_int_t)in->file_size));
	if (in->type != VHD_TYPE_FIXED) {
		json_object_set_new(d, "block-size", json_integer(in->block_size));
		json_object_set_new(d, "max-table-entries", json_integer(in->max_table_entries));
		json_object_set_new(d, "allocated-blocks", json_integer(in->allocated_blocks));
		json_object_set_new(d, "bat-offset", json_integer((json_int_t)in->bat_offset));
	}
	if (in->type == VHD_TYPE_DIFF) {
		img_uuid_str(in->parent_uuid, buf);
		json_object_set_new(d, "parent-uuid", json_string(buf));
		img_vhd_time_str(in->parent_timestamp, buf, sizeof(buf));
		json_object_set_new(d, "parent-timestamp", json_string(buf));
		json_object_set_new(d, "parent-name", json_string(in->parent_name));
	}
	json_object_set_new(fs, "data", d);
	json_object_set_new(o, "format-specific", fs);
	return o;
}

static void img_info_human(struct img *im, const struct vhd_info *in)
{
	char a[32], b[40];

	printf("image: %s\n", im->path);
	printf("file format: %s\n", im->format);
	printf("virtual size: %s (%" PRIu64 " bytes)\n", img_size_str(im->size, a, sizeof(a)), im->size);
	printf("disk size: %s\n", img_size_str(img_file_disk_size(im->path), a, sizeof(a)));
	if (!in)
		return;
	if (in->block_size)
		printf("cluster_size: %u\n", in->block_size);
	if (in->type == VHD_TYPE_DIFF) {
		printf("backing file: %s", in->parent_name);
		if (in->parent_path[0] && strcmp(in->parent_path, in->parent_name))
			printf(" (actual path: %s)", in->parent_path);
		printf("\nbacking file format: vhd\n");
	}
	printf("Format specific information:\n");
	printf("    subformat: %s\n", vhd_type_name(in->type));
	printf("    geometry (C/H/S): %u/%u/%u\n", in->cylinders, in->heads, in->sectors_per_track);
	printf("    current size: %" PRIu64 "\n", in->current_size);
	img_creator_str(in->creator_app, a);
	img_creator_str(in->creator_os, b);
	printf("    creator: \"%s\" %u.%u on \"%s\"\n", a, in->creator_version >> 16,
	       in->creator_version & 0xffff, b);
	img_vhd_time_str(in->timestamp, a, sizeof(a));
	printf("    timestamp: %s\n", a);
	img_uuid_str(in->uuid, b);
	printf("    uuid: %s\n", b);
	if (in->type != VHD_TYPE_FIXED)
		printf("    blocks: %u allocated of %u, BAT at %" PRIu64 "\n", in->allocated_blocks,
		       in->max_table_entries, in->bat_offset);
	if (in->type == VHD_TYPE_DIFF) {
		img_uuid_str(in->parent_uuid, b);
		printf("    parent uuid: %s\n", b);
	}
}

/* A foreign image's file i of its chain: qemu-img's keys where they exist ("compat" of a
 * qcow2, "create-type" of a VMDK), the library that read it. */
static const char *img_foreign_library(const char *fmt)
{
	return !strcmp(fmt, "qcow2") ? "libqcow" : !strcmp(fmt, "vmdk") ? "libvmdk" : "libvhdi";
}

static json_t *img_foreign_json(const struct disk_layer *l, int i, int n)
{
	json_t *o = json_object(), *fs = json_object(), *d = json_object();

	json_object_set_new(o, "virtual-size", json_integer((json_int_t)l[i].size));
	json_object_set_new(o, "filename", json_string(l[i].path));
	json_object_set_new(o, "format", json_string(l[i].format));
	json_object_set_new(o, "actual-size", json_integer((json_int_t)img_file_disk_size(l[i].path)));
	json_object_set_new(o, "dirty-flag", json_false());
	if (l[i].backing) {
		json_object_set_new(o, "backing-filename", json_string(l[i].backing));
		if (i + 1 < n) {
			json_object_set_new(o, "full-backing-filename", json_string(l[i + 1].path));
			json_object_set_new(o, "backing-filename-format", json_string(l[i + 1].format));
		}
	}
	json_object_set_new(fs, "type", json_string(l[i].format));
	if (!strcmp(l[i].format, "qcow2"))
		json_object_set_new(d, "compat", json_string(strcmp(l[i].subformat, "v2") ? "1.1" : "0.10"));
	else if (!strcmp(l[i].format, "vmdk"))
		json_object_set_new(d, "create-type", json_string(l[i].subformat));
	json_object_set_new(d, "subformat", json_string(l[i].subformat));
	json_object_set_new(d, "read-through", json_string(img_foreign_library(l[i].format)));
	json_object_set_new(fs, "data", d);
	json_object_set_new(o, "format-specific", fs);
	return o;
}

static void img_foreign_human(const struct disk_layer *l, int i, int n)
{
	char a[32];

	printf("image: %s\n", l[i].path);
	printf("file format: %s\n", l[i].format);
	printf("virtual size: %s (%" PRIu64 " bytes)\n", img_size_str(l[i].size, a, sizeof(a)), l[i].size);
	printf("disk size: %s\n", img_size_str(img_file_disk_size(l[i].path), a, sizeof(a)));
	if (l[i].backing) {
		printf("backing file: %s", l[i].backing);
		if (i + 1 < n && strcmp(l[i + 1].path, l[i].backing))
			printf(" (actual path: %s)", l[i + 1].path);
		printf("\n");
		if (i + 1 < n)
			printf("backing file format: %s\n", l[i + 1].format);
	}
	printf("Format specific information:\n");
	if (!strcmp(l[i].format, "qcow2"))
		printf("    compat: %s\n", strcmp(l[i].subformat, "v2") ? "1.1" : "0.10");
	else if (!strcmp(l[i].format, "vmdk"))
		printf("    create type: %s\n", l[i].subformat);
	else
		printf("    subformat: %s\n", l[i].subformat);
	printf("    read through: %s (read-only)\n", img_foreign_library(l[i].format));
}

/* info of a foreign image: its file, or with chain every file of its backing chain. */
static void img_info_foreign(struct img *im, bool chain, int json, json_t *arr)
{
	int n, i;
	const struct disk_layer *l = disk_layers(im->disk, &n);

	for (i = 0; i < (chain ? n : 1); i++) {
		if (json) {
			json_t *o = img_foreign_json(l, i, n);

			if (arr) {
				json_array_append_new(arr, o);
			} else {
				json_dumpf(o, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
				printf("\n");
				json_decref(o);
			}
		} else {
			if (i)
				printf("\n");
			img_foreign_human(l, i, n);
		}
	}
}

int img_cmd_info(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'O' },
		{ "backing-chain", no_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *fmt = NULL;
	bool chain = false;
	unsigned share = 0;
	int json = 0, c, ret = 1;
	struct img *im;
	json_t *arr = NULL;

	while ((c = getopt_long(argc, argv, "+f:Uh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'U': share = IMG_SHARE; break; /* qemu-img's force-share: no lock */
		case 'O':
			json = img_parse_output(optarg);
			if (json < 0)
				return 1;
			break;
		case 'B': chain = true; break;
		case 'h':
			printf("usage: vsrv img info [-f FMT] [--output=human|json] [--backing-chain] FILE\n");
			return 0;
		default: return 1;
		}
	}
	if (argc - optind != 1) {
		img_err("info: expecting one file name");
		return 1;
	}
	/* a saved VM (vsrv run's save) is not a disk image: what it holds */
	if (!fmt && img_is_savestate(argv[optind]))
		return img_info_savestate(argv[optind], json > 0);
	/* The whole chain is opened: a missing or broken parent is an error here. */
	if (img_open(argv[optind], fmt, share, &im) < 0)
		return 1;
	if (json && chain)
		arr = json_array();
	if (im->disk) {
		img_info_foreign(im, chain, json, arr);
	} else if (im->vhd) {
		struct vhd *v;
		bool first = true;

		for (v = im->vhd; v; v = chain ? vhd_parent(v) : NULL) {
			struct vhd_info in;
			struct img view = *im;

			vhd_get_info(v, &in);
			view.path = (char *)vhd_path(v);
			view.size = in.virtual_size;
			if (json) {
				json_t *o = img_info_json(&view, &in);

				if (arr) {
					json_array_append_new(arr, o);
				} else {
					json_dumpf(o, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
					printf("\n");
					json_decref(o);
				}
			} else {
				if (!first)
					printf("\n");
				img_info_human(&view, &in);
			}
			first = false;
		}
	} else if (json) {
		json_t *o = img_info_json(im, NULL);

		if (arr) {
			json_array_append_new(arr, o);
		} else {
			json_dumpf(o, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
			printf("\n");
			json_decref(o);
		}
	} else {
		img_info_human(im, NULL);
	}
	if (arr) {
		json_dumpf(arr, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("\n");
		json_decref(arr);
	}
	ret = fflush(stdout) ? 1 : 0;
	img_close(im);
	return ret;
}

/* One run of map output. */
struct img_map_run {
	uint64_t start, length, offset;
	int depth;
	bool data, zero, present, mapped; /* mapped: offset is valid */
	const char *file;  /* the image holding the data (owned by the image handle) */
};

/* Split a run the image maps to its file at r->offset where that file has a hole, as
 * qemu-img does: a hole reads as zeros although the image format calls it data. */
static void img_map_holes(int fd, struct img_map_run *r)
{
	off_t data, hole;

	data = lseek(fd, (off_t)r->offset, SEEK_DATA);
	if (data < 0 && errno != ENXIO)
		return; /* no SEEK_DATA here: everything is data */
	if (data < 0 || (uint64_t)data > r->offset) {
		/* a hole (up to the end of the file when ENXIO) */
		if (data >= 0 && (uint64_t)data - r->offset < r->length)
			r->length = (uint64_t)data - r->offset;
		r->zero = true;
		return;
	}
	hole = lseek(fd, (off_t)r->offset, SEEK_HOLE);
	if (hole > data && (uint64_t)hole - r->offset < r->length)
		r->length = (uint64_t)hole - r->offset;
}

static bool img_map_extend(struct img_map_run *a, const struct img_map_run *b)
{
	if (a->data != b->data || a->zero != b->zero || a->present != b->present ||
	    a->depth != b->depth || a->start + a->length != b->start)
		return false;
	if (a->mapped != b->mapped || (a->mapped && a->offset + a->length != b->offset))
		return false;
	a->length += b->length;
	return true;
}

static void img_map_print(const struct img_map_run *r, bool json, bool first)
{
	if (json) {
		json_t *o = json_object();
		char *s;

		json_object_set_new(o, "start", json_integer((json_int_t)r->start));
		json_object_set_new(o, "length", json_integer((json_int_t)r->length));
		json_object_set_new(o, "depth", json_integer(r->depth));
		json_object_set_new(o, "present", json_boolean(r->present));
		json_object_set_new(o, "zero", json_boolean(r->zero));
		json_object_set_new(o, "data", json_boolean(r->data));
		if (r->mapped)
			json_object_set_new(o, "offset", json_integer((json_int_t)r->offset));
		s = json_dumps(o, JSON_PRESERVE_ORDER);
		printf("%s%s", first ? "[" : ",\n", s ? s : "{}");
		free(s);
		json_decref(o);
	} else if (r->data && !r->zero) { /* as qemu-img: data that is not known zeros */
		printf("%#-15" PRIx64 " %#-15" PRIx64 " %#-15" PRIx64 " %s\n", r->start, r->length,
		       r->offset, r->file);
	}
}

int img_cmd_map(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *fmt = NULL;
	int json = 0, c, r, ret = 1, maxdepth = 0;
	unsigned share = 0;
	struct img *im;
	struct img_map_run cur = { 0 };
	bool have = false, first = true;
	uint64_t off = 0;

	while ((c = getopt_long(argc, argv, "+f:Uh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'U': share = IMG_SHARE; break;
		case 'O':
			json = img_parse_output(optarg);
			if (json < 0)
				return 1;
			break;
		case 'h':
			printf("usage: vsrv img map [-f FMT] [--output=human|json] FILE\n");
			return 0;
		default: return 1;
		}
	}
	if (argc - optind != 1) {
		img_err("map: expecting one file name");
		return 1;
	}
	if (img_open(argv[optind], fmt, share, &im) < 0)
		return 1;
	if (im->disk) {
		/* libqcow, libvmdk and libvhdi do not expose which clusters are allocated */
		img_err("map: '%s': the allocation map of %s images is not known to vsrv "
			"(qemu-img map shows it)", im->path, im->format);
		goto out;
	}
	if (im->vhd) {
		struct vhd *v;

		for (v = vhd_parent(im->vhd); v; v = vhd_parent(v))
			maxdepth++;
	}
	if (!json)
		printf("%-15s %-15s %-15s %s\n", "Offset", "Length", "Mapped to", "File");
	while (off < im->size) {
		struct img_map_run run = { .start = off, .file = im->path };

		if (im->vhd) {
			struct vhd_extent e;
			uint64_t sec = off / VHD_SECTOR;
			struct vhd *v = im->vhd;
			int i, fd;

			r = vhd_map(im->vhd, sec, (im->size - off + VHD_SECTOR - 1) / VHD_SECTOR, &e);
			if (r < 0) {
				img_err("map: '%s' at offset %" PRIu64 ": %s", im->path, off, vhd_errmsg());
				goto out;
			}
			run.length = e.nsectors * VHD_SECTOR;
			run.data = e.depth >= 0;
			run.zero = e.depth < 0;
			run.present = e.depth >= 0;
			run.depth = e.depth >= 0 ? e.depth : maxdepth;
			run.offset = e.file_offset;
			run.mapped = e.depth >= 0;
			for (i = 0; i < e.depth && v; i++)
				v = vhd_parent(v);
			if (v)
				run.file = vhd_path(v);
			/* a fixed image is raw data behind a footer: its file's holes are
			 * zeros, as qemu-img says (not so for a dynamic image's blocks) */
			if (v && run.mapped && (fd = vhd_fixed_fd(v, NULL)) >= 0)
				img_map_holes(fd, &run);
		} else {
			enum img_kind k;

			r = img_status(im, off, im->size - off, true, &k, &run.length, &run.offset);
			if (r < 0) {
				img_err("map: '%s' at offset %" PRIu64 ": %s", im->path, off, strerror(-r));
				goto out;
			}
			run.data = k == IMG_DATA;
			run.zero = !run.data;
			run.present = true;
			run.offset = off;
			run.mapped = true; /* raw: every byte is at its own offset, as qemu-img says */
		}
		if (run.length > im->size - off)
			run.length = im->size - off;
		off += run.length;
		if (have && img_map_extend(&cur, &run))
			continue;
		if (have) {
			img_map_print(&cur, json, first);
			first = false;
		}
		cur = run;
		have = true;
	}
	if (have) {
		img_map_print(&cur, json, first);
		first = false;
	}
	if (json)
		printf(first ? "[]\n" : "]\n");
	ret = fflush(stdout) ? 1 : 0;
out:
	img_close(im);
	return ret;
}
