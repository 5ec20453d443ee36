/* libvhd internals shared by the library's files (not a public header). */
#ifndef VSRV_VHD_VHD_INT_H
#define VSRV_VHD_VHD_INT_H

#include "vhd/vhd.h"
#include <pthread.h>
#include <stdarg.h>
#include <sys/types.h>

#define VHD_BAT_FREE 0xFFFFFFFFu
#define VHD_MAX_ENTRIES (1u << 25)
#define VHD_MIN_BLOCK 512u
#define VHD_MAX_BLOCK (256u << 20)
#define VHD_MAX_DEPTH 256
#define VHD_CHS_MAX (65535ULL * 16 * 255)

/* Parsed footer (host byte order). */
struct vhd_footer {
	uint32_t features, version;
	uint64_t data_offset;
	uint32_t timestamp;
	char creator_app[4];
	uint32_t creator_version;
	char creator_os[4];
	uint64_t original_size, current_size;
	uint16_t cyls;
	uint8_t heads, spt;
	uint32_t type;
	uint32_t checksum;
	uint8_t uuid[16];
	uint8_t saved_state;
};

struct vhd_locator {
	uint32_t code, space, length;
	uint64_t offset;
};

/* Parsed dynamic header. */
struct vhd_dynhdr {
	uint64_t data_offset, bat_offset;
	uint32_t version, max_entries, block_size, checksum;
	uint8_t parent_uuid[16];
	uint32_t parent_ts;
	uint8_t parent_name[512]; /* raw UTF-16BE */
	struct vhd_locator loc[8];
};

/* A sector bitmap held in memory: loaded (clean) or changed since the last flush (dirty). */
struct vhd_bm {
	uint32_t block;
	bool dirty;
	struct vhd_bm *next;  /* hash chain */
	uint8_t bits[];       /* bm_bytes */
};

#define VHD_BM_HASH 1024
#define VHD_BM_CLEAN_MAX 1024 /* clean bitmaps kept before the cache is trimmed */
#define VHD_BM_DIRTY_MAX 2048 /* dirty bitmaps that force a metadata flush */

struct vhd {
	char *path;
	int fd;
	int flags;
	bool rdonly;
	int depth;
	dev_t dev;
	ino_t ino;
	enum vhd_type type;
	struct vhd_footer f;
	uint8_t footer_raw[512];  /* serialised f, written at the end (and at 0) */
	uint64_t size;            /* virtual size, bytes */
	uint64_t nsectors;
	/* dynamic / differencing */
	struct vhd_dynhdr h;
	uint32_t spb;             /* sectors per block */
	uint32_t bm_sectors;      /* sectors of a block's bitmap */
	uint32_t bm_bytes;        /* bm_sectors * 512 */
	uint32_t *bat;            /* host order, max_entries, accessed with __atomic */
	uint32_t bat_sectors;
	uint8_t *bat_dirty;       /* one flag per BAT sector */
	bool bat_any_dirty;
	uint8_t *full;            /* per block: 1 = bitmap known all ones */
	uint64_t end;             /* offset of the trailing footer (next block goes here) */
	pthread_mutex_t lock;     /* BAT, end, bitmaps, dirty flags */
	pthread_mutex_t flush_lock;
	struct vhd_bm *bm_hash[VHD_BM_HASH];
	unsigned bm_clean, bm_dirty;
	struct vhd *parent;
	struct vhd *child;         /* the image that opened us as its parent */
	char parent_path[4096];
	bool parent_was_rw;        /* vhd_open_over made the parent read-only (undone by
	                            * vhd_close_over) */
};

/* format.c */
void vhd_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint32_t vhd_be32(const uint8_t *p);
uint64_t vhd_be64(const uint8_t *p);
void vhd_put32(uint8_t *p, uint32_t v);
void vhd_put64(uint8_t *p, uint64_t v);
uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t csum_off);
/* Parse 512 bytes; 0, or -EINVAL with *why set to a static reason. */
int vhd_footer_parse(const uint8_t *buf, struct vhd_footer *f, const char **why);
void vhd_footer_build(const struct vhd_footer *f, uint8_t *buf); /* sets checksum */
int vhd_dynhdr_parse(const uint8_t *buf, struct vhd_dynhdr *h, const char **why);
void vhd_dynhdr_build(const struct vhd_dynhdr *h, uint8_t *buf);
uint64_t vhd_footer_vsize(const struct vhd_footer *f);
uint32_t vhd_now(void);
void vhd_uuid_random(uint8_t *uuid);
/* UTF-16 (be or le) to UTF-8; returns the length written (dst NUL-terminated). */
size_t vhd_utf16_to_utf8(const uint8_t *src, size_t srclen, bool be, char *dst, size_t dstlen);
/* UTF-8 to UTF-16; returns bytes written or -EINVAL if it does not fit / is invalid. */
long vhd_utf8_to_utf16(const char *src, bool be, uint8_t *dst, size_t dstlen);
int vhd_pread_full(int fd, void *buf, size_t len, uint64_t off);
int vhd_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
bool vhd_is_zero(const void *buf, size_t len);

/* open.c */
int vhd_open_depth(const char *path, int flags, int depth, struct vhd *child, struct vhd **out);

/* io.c */
int vhd_flush_meta(struct vhd *v, bool sync);
void vhd_bm_drop_all(struct vhd *v);
int vhd_write_footer_at(struct vhd *v, uint64_t off);

/* bitmap.c: the sector bitmap cache of allocated blocks (call with v->lock held). */
struct vhd_bm *vhd_bm_find(struct vhd *v, uint32_t b);
struct vhd_bm *vhd_bm_insert(struct vhd *v, uint32_t b);
void vhd_bm_trim_clean(struct vhd *v);
/* The cached bitmap of allocated block b, read from the file on a miss. 0 or -errno. */
int vhd_bm_get(struct vhd *v, uint32_t b, struct vhd_bm **out);
void vhd_bm_mark_dirty(struct vhd *v, struct vhd_bm *m);
/* Set bits [s, s + n) of block b's bitmap, marking it dirty. 0 or -errno. */
int vhd_bm_set_range(struct vhd *v, uint32_t b, uint32_t s, uint32_t n);
bool vhd_bit_get(const uint8_t *bits, uint32_t i);
bool vhd_bits_all_set(const uint8_t *bits, uint32_t n);

/* maint.c: move blocks down over unreferenced space, then shorten the file (crash-safe). */
int vhd_relocate(struct vhd *v, vhd_progress_fn progress, void *opaque);

#endif
