/* Internals of `vsrv img`: the sub-commands (one file per concern, img_*.c), the image
 * handle they share (raw or VHD behind one small interface with allocation status) and
 * helpers for option parsing and output. Not a public API: only src/cli/img*.c use it. */
#ifndef VSRV_CLI_IMG_H
#define VSRV_CLI_IMG_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

struct vhd;
struct disk;

/* An open image. Owned by whoever called img_open; close with img_close. */
struct img {
	char *path;           /* owned copy */
	const char *format;   /* "raw", "vhd", or read-only "qcow2", "vmdk", "vhdx" (static) */
	uint64_t size;        /* virtual size in bytes */
	bool writable;
	int fd;               /* raw: the file; otherwise -1 */
	struct vhd *vhd;      /* vhd: the library's handle; otherwise NULL */
	struct disk *disk;    /* qcow2, vmdk, vhdx: the block layer's reader; otherwise NULL */
};

#define IMG_RDWR   0x1 /* open for writing (default read-only, never writes) */
#define IMG_NOCHAIN 0x2 /* vhd: do not open the parent chain (info/check of one file) */
#define IMG_NOSYNC 0x4  /* vhd: keep write ordering but never fdatasync (convert, as
                         * qemu-img's default cache=unsafe for its target) */
#define IMG_PARENT_RW 0x8 /* vhd: open the immediate parent read-write (commit) */
#define IMG_SHARE 0x10    /* -U (qemu-img's force-share): take no image lock, so an image a
                           * VM writes can be read (and may read inconsistent) */

/* Allocation status of a range, as img_status reports it. */
enum img_kind {
	IMG_DATA,    /* this image holds data here (may still be zeros) */
	IMG_ZERO,    /* reads as zeros, no data stored (hole, unallocated in a dynamic VHD) */
	IMG_PARENT,  /* unallocated here, read from the parent chain (differencing VHD) */
};

/* Open path. format: "raw", "vhd", "qcow2", "vmdk", "vhdx" or NULL to probe (img_probe).
 * The last three are read-only (read through libqcow, libvmdk, libvhdi; -EROFS with
 * IMG_RDWR), and their reasons for refusing an image (encryption, unsupported features, a
 * missing backing file) are printed by the block layer, naming the file.
 * Unless IMG_SHARE, the image is locked while open (lib/vhd's image locks, as qemu-img):
 * shared for reading, exclusive with IMG_RDWR, its parents shared (-EBUSY when a VM or
 * another program uses it: the message names the image).
 * Returns 0 and *out, or -errno after printing one message naming the file. */
int img_open(const char *path, const char *format, unsigned flags, struct img **out);
/* Close im and free it (NULL is fine). Does not flush. */
void img_close(struct img *im);
/* Read/write len bytes at off (both within size; any alignment for raw, 512 for vhd).
 * 0 or -errno. */
int img_read(struct img *im, void *buf, size_t len, uint64_t off);
int img_write(struct img *im, const void *buf, size_t len, uint64_t off);
/* How many threads may call img_read on im at once, want at most (>= 1): qcow2, VMDK and
 * VHDX sources open their chain once more per extra reader (disk_parallel_reads); raw and
 * VHD images say 1. Call before those threads start. */
int img_readers(struct img *im, int want);
/* Make every write durable. 0 or -errno. */
int img_flush(struct img *im);
/* Status of [off, off + len): *kind for the first byte and *pnum > 0 bytes from off with
 * that same kind. With chain, IMG_PARENT is resolved through the parents (IMG_DATA or
 * IMG_ZERO as the chain reads); without, it is reported as such. *file_off (may be NULL)
 * gets the offset of the data in this image's file for IMG_DATA, else UINT64_MAX. */
int img_status(struct img *im, uint64_t off, uint64_t len, bool chain, enum img_kind *kind,
	       uint64_t *pnum, uint64_t *file_off);
/* Bytes the file occupies on disk (st_blocks * 512) or 0 if unknown. */
uint64_t img_file_disk_size(const char *path);

/* Probe a file's format without opening it as an image: "vhd", "raw", "qcow2", "vmdk" or
 * "vhdx"; NULL and *err = -errno if it cannot be read, or -EMEDIUMTYPE (message printed)
 * for a format vsrv does not read (vdi). */
const char *img_probe(const char *path, int *err);
/* True for the formats vsrv reads but never writes: qcow2, vmdk, vhdx. */
bool img_format_foreign(const char *fmt);

/* Options of `create` and `convert -O` given with -o key=value,... */
struct img_create_opts {
	bool fixed;           /* subformat=fixed (default dynamic) */
	uint32_t block_size;  /* 0 = the library's default */
	bool force_size;      /* force_size=on: current size exactly SIZE, no CHS rounding */
	const char *parent;   /* -b */
	const char *parent_fmt;/* -F */
	char parent_buf[4096];  /* -o backing_file=... (parent points here) */
	char parent_fmt_buf[16];
};
/* Parse one -o string into o (several -o accumulate). Returns 0 or -EINVAL after printing
 * the offending option. "help" or "?" prints the list and returns 1. */
int img_parse_create_opts(const char *s, const char *format, struct img_create_opts *o);
/* Create an image of fmt ("raw"/"vhd") at path with size bytes. 0 or -errno (printed). */
int img_create_file(const char *path, const char *fmt, uint64_t size,
		    const struct img_create_opts *o);

/* Parse SIZE as qemu-img does: digits with optional fraction and suffix k/K, M, G, T, P, E
 * (binary), 'b' or none for bytes. 0 or -EINVAL / -ERANGE. */
int img_parse_size(const char *s, uint64_t *out);
/* Human size as qemu-img prints it ("100 MiB", "1.5 GiB", "512 B") into buf. */
const char *img_size_str(uint64_t v, char *buf, size_t n);
/* Parse --output=FMT's value: 0 human, 1 json, -1 unknown (printed). */
int img_parse_output(const char *s);
/* The format name as qemu-img and users spell it: accepts "vpc" as "vhd"; "raw", and the
 * read-only "qcow2", "vmdk", "vhdx". NULL if unknown. */
const char *img_format_name(const char *s);

/* The sub-commands: argc/argv start at the sub-command's name; they return the exit status. */
int img_cmd_create(int argc, char **argv);
int img_cmd_info(int argc, char **argv);
int img_cmd_check(int argc, char **argv);
int img_cmd_convert(int argc, char **argv);
int img_cmd_commit(int argc, char **argv);
int img_cmd_compare(int argc, char **argv);
int img_cmd_resize(int argc, char **argv);
int img_cmd_map(int argc, char **argv);
int img_cmd_compact(int argc, char **argv);

/* A saved-VM file (vsrv run's save, docs/savestate.md) for `img info` (img_save.c):
 * _is_ says whether path starts with the file's magic; _info_ checks it as a restore does
 * and prints what it holds, its run configuration among it (JSON with json). Exit status. */
bool img_is_savestate(const char *path);
int img_info_savestate(const char *path, bool json);

/* Message to stderr prefixed "vsrv img: ". */
void img_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True when the n bytes at p (n a multiple of 8, p 8-byte aligned) are all zero. */
bool img_is_zero(const void *p, size_t n);

/* Progress bar on stderr when enabled and stderr is a terminal (or VSRV_IMG_PROGRESS is
 * set: "\r    ( 12.5/100%) [###...]" pieces for a program to read). */
struct img_progress {
	bool on;
	uint64_t total, done;
	int last_permille;
};
void img_progress_init(struct img_progress *p, bool enable, uint64_t total);
void img_progress_add(struct img_progress *p, uint64_t n);
void img_progress_end(struct img_progress *p);

#endif
