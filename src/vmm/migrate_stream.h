/* The live-migration stream (docs/migration.md): a 64-byte stream header, then frames in
 * the save file's section format (savestate_file.h: a 32-byte header with type, index,
 * length, payload CRC32 and header CRC32, then the payload). The source sends CONFIG, the
 * destination answers OK or REFUSE before any memory moves (a source that copies its disks
 * sends a DISKS frame after CONFIG and DISKDATA frames among the PAGES: migrate_disk.h);
 * then PAGES frames (sparse batches of 4 KiB pages, in any number and order of rounds), the
 * sections of the save file (VM, VCPU 0..n-1, LEGACY, DEVICES, FIRMWARE for a VM booted
 * with --firmware, DEVMEM of the devices with memory), END; the destination answers READY (everything
 * loaded, its guest not started) or REFUSE; the source answers GO and ends its VM, and the
 * destination runs the guest on.
 *
 * This module only frames and parses: it knows nothing of KVM (migrate.h drives a VM, and
 * the receiver's effects go through struct migrate_sink), so the receiver can be fuzzed on
 * its own (fuzz/migrate.c). */
#ifndef VSRV_VMM_MIGRATE_STREAM_H
#define VSRV_VMM_MIGRATE_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/savestate_file.h"

#define MIGRATE_MAGIC    "VSRVMIGR"
#define MIGRATE_VERSION  1
#define MIGRATE_BATCH    256u          /* pages per PAGES frame, at most */
#define MIGRATE_MSG_MAX  512u          /* a REFUSE frame's text, at most */

/* Frame types. 1-5 are the save file's sections (enum savestate_section), same payloads. */
enum migrate_frame {
	MIGRATE_FR_CONFIG  = SAVESTATE_SEC_CONFIG,
	MIGRATE_FR_VM      = SAVESTATE_SEC_VM,
	MIGRATE_FR_VCPU    = SAVESTATE_SEC_VCPU,
	MIGRATE_FR_LEGACY  = SAVESTATE_SEC_LEGACY,
	MIGRATE_FR_DEVICES = SAVESTATE_SEC_DEVICES,
	/* a device's own memory (a display's VRAM), raw, index = its device-table entry: zero
	 * or more after DEVICES, in ascending entry order, before END */
	MIGRATE_FR_DEVMEM  = SAVESTATE_SEC_DEVMEM,
	/* the firmware layout (struct savestate_firmware, then the UEFI variable store), as
	 * the save file's section: after DEVICES, before DEVMEM, exactly when the stream
	 * header has MIGRATE_FLAG_FIRMWARE */
	MIGRATE_FR_FIRMWARE = SAVESTATE_SEC_FIRMWARE,
	MIGRATE_FR_XEN     = SAVESTATE_SEC_XEN,  /* a Xen VM's: after DEVICES */
	MIGRATE_FR_PAGES   = 16,  /* u32 count, u32 0, u64 page[count] ascending, the pages */
	MIGRATE_FR_END     = 17,  /* struct migrate_end */
	MIGRATE_FR_GO      = 18,  /* empty: the source ends its VM, the destination runs on */
	MIGRATE_FR_DISKS   = 19,  /* the disks copied: struct migrate_disks, then entries */
	MIGRATE_FR_DISKDATA = 20, /* a range of a disk: struct migrate_disk_rec [+ data] */
	MIGRATE_FR_OK      = 32,  /* destination: the configuration fits, send memory */
	MIGRATE_FR_READY   = 33,  /* destination: all loaded, waiting for GO */
	MIGRATE_FR_REFUSE  = 34,  /* destination: the reason, text (no NUL) */
};

/* Stream header flags. A receiver refuses flags it does not know. DISKS: the source copies
 * its disks (no shared storage): a DISKS frame follows CONFIG, DISKDATA frames come among
 * the PAGES (vmm/migrate_disk.h). */
#define MIGRATE_FLAG_FIRMWARE 0x1u  /* the source VM was booted with --firmware */
#define MIGRATE_FLAG_DISKS    0x2u  /* the source copies its disks */

struct migrate_end {
	uint64_t pages;      /* pages sent in all PAGES frames (with repeats) */
	uint32_t rounds;     /* rounds of memory sent */
	uint32_t verify;     /* 1: mem_crc is the CRC32 of all of the guest RAM, check it */
	uint32_t mem_crc;
	uint32_t reserved;
};

/* ---- sender (the source, and the destination's replies). Each returns 0 or -errno. ---- */

/* The stream header (magic, version, the build's state layout signature, flags: the
 * MIGRATE_FLAG_* that apply). */
int mstream_send_header(int fd, uint32_t flags);

/* One frame: type, index, payload p of len bytes. */
int mstream_send(int fd, uint32_t type, uint32_t index, const void *p, uint64_t len);
/* One frame whose payload is p of len bytes, then p2 of len2. */
int mstream_send2(int fd, uint32_t type, uint32_t index, const void *p, uint64_t len,
		  const void *p2, uint64_t len2);

/* One frame whose payload is the n buffers of iov, one after the other. */
int mstream_sendv(int fd, uint32_t type, uint32_t index, const struct iovec *iov, int n);

/* One PAGES frame with the n (1..MIGRATE_BATCH) pages idx[] (ascending page numbers of the
 * host mapping) of mem, copied first into buf (MIGRATE_BATCH pages, the caller's) so that
 * a guest writing them meanwhile cannot make data and CRC disagree. Adds the frame's bytes
 * to *bytes. */
int mstream_send_pages(int fd, const uint8_t *mem, const uint64_t *idx, uint32_t n,
		       uint8_t *buf, uint64_t *bytes);

/* Read the destination's answer: *type is MIGRATE_FR_OK, _READY or _REFUSE (its text,
 * NUL-terminated, in msg). -EPROTO for anything else or a corrupt frame, -ECONNRESET when
 * the stream ends, -EAGAIN when the socket's receive timeout passed, other -errno. */
int mstream_recv_reply(int fd, uint32_t *type, char *msg, size_t msglen);

/* ---- receiver (the destination) ---- */

/* A frame header as read (its CRC and reserved field checked). */
struct mstream_frame {
	uint32_t type, index;
	uint64_t length;         /* of the payload, which follows */
	uint32_t crc;            /* the payload's CRC32 */
};

/* Read one frame header: 0, -EPROTO (corrupt), -ECONNRESET (the stream ended), -EAGAIN (the
 * socket's receive timeout), -errno. */
int mstream_recv_frame(int fd, struct mstream_frame *f);

/* Read exactly n bytes of payload: 0 or the errors of mstream_recv_frame. */
int mstream_recv_bytes(int fd, void *p, size_t n);

struct disk;

/* What the receiver does with what arrives; opaque is passed back. Each returns 0 or
 * -errno with a one-line reason in why (sent to the source in a REFUSE frame). */
struct migrate_sink {
	/* CONFIG arrived and passed savestate_check_config: accept it by pointing *mem at
	 * config->mem_size bytes of zeroed guest memory that the pages go to. */
	int (*config)(void *opaque, const struct savestate_config *config, uint8_t **mem,
		      char *why, size_t whylen);
	/* END arrived; s (its memory fields unused) passed savestate_check and memory is all
	 * in *mem: load it, without running the guest. */
	int (*load)(void *opaque, const struct savestate *s, char *why, size_t whylen);
	/* A DEVMEM frame of len bytes for device-table entry index arrived: where its payload
	 * goes (the device's memory, len bytes), or NULL with a reason in why to refuse it.
	 * NULL: DEVMEM frames are refused. */
	uint8_t *(*devmem)(void *opaque, uint32_t index, uint64_t len, char *why, size_t whylen);
	/* The stream header's flags (MIGRATE_FLAG_*), before CONFIG: refuse a source this VM
	 * cannot take (booted with --firmware or not, unlike this one). NULL: any. */
	int (*flags)(void *opaque, uint32_t flags, char *why, size_t whylen);
	/* A stream with MIGRATE_FLAG_DISKS: the DISKS frame names device-table entry index:
	 * the destination's disk that the source's copy goes into (writable, and its own: not
	 * the image the source runs on), or NULL with a reason in why. The receiver checks its
	 * size. NULL: streams that copy disks are refused. */
	struct disk *(*disk)(void *opaque, uint32_t index, char *why, size_t whylen);
};

struct migrate_recv_stats {
	uint64_t bytes;      /* stream bytes read */
	uint64_t pages;      /* pages received (with repeats) */
	uint32_t rounds;     /* as the source counted them */
	uint64_t disk_data;  /* disk bytes written from DISKDATA data records (with repeats) */
	uint64_t disk_zero;  /* disk bytes zeroed by ZERO records */
};

/* Receive one migration from in_fd (answers go to out_fd; a socket is both): checks the
 * header, every frame's header CRC, type, order, length and payload CRC, the page numbers
 * (inside RAM, ascending in a frame); answers OK/READY/REFUSE; returns 0 once GO arrived
 * (run the guest), else -errno with a one-line reason in why (a refusal is also sent to the
 * source, best effort). A corrupt, short or hostile stream is refused, never trusted. */
int migrate_recv(int in_fd, int out_fd, const struct migrate_sink *sink, void *opaque,
		 struct migrate_recv_stats *st, char *why, size_t whylen);

#endif
