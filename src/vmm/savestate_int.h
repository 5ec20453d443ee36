/* The saved-VM file's headers, private to the savestate_*.c modules (docs/savestate.md). */
#ifndef VSRV_VMM_SAVESTATE_INT_H
#define VSRV_VMM_SAVESTATE_INT_H

#include <stdint.h>

/* On disk, little endian, 64 bytes. crc covers the 60 bytes before it. */
struct file_hdr {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t layout;
	uint32_t nr_sections;
	uint32_t flags;
	uint64_t created;        /* Unix time of the save */
	uint8_t reserved[20];
	uint32_t crc;
};

/* Before each section's payload, 32 bytes. hdr_crc covers the 20 bytes before it. */
struct sec_hdr {
	uint32_t type;
	uint32_t index;
	uint64_t length;         /* payload bytes that follow */
	uint32_t crc;            /* CRC32 of the payload */
	uint32_t hdr_crc;
	uint64_t reserved;
};

/* The CRC check can be turned off for fuzzing, so that the fuzzer reaches the checks that
 * come after it (a real file with a bad CRC is always refused). */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define CRC_BAD(a, b) ((void)(a), (void)(b), 0)
#else
#define CRC_BAD(a, b) ((a) != (b))
/* The RUN section at *off when the next section is one (savestate_run.c): read, its CRC
 * checked, parsed into s->run_parsed, *off past it and *n_out 1; else *n_out 0 and *off
 * unchanged. 0, or -errno and *why. */
struct savestate;
int savestate_read_run_at(int fd, uint64_t fsize, uint64_t *off, struct savestate *s,
			  uint32_t *n_out, const char **why);

#endif

/* Write a section (header and payload) at fd's position; *off grows by its size. 0 or
 * -errno. */
int savestate_write_section(int fd, uint32_t type, uint32_t index, const void *p,
			    uint64_t len, uint64_t *off);

/* The section header at off of a file of fsize bytes, its CRC checked: 0, -EINVAL (*why:
 * missing, corrupt, a payload beyond the file's end) or -EIO. */
int savestate_peek_section(int fd, uint64_t fsize, uint64_t off, struct sec_hdr *h,
			   const char **why);

/* The RUN section at *off when the next section is one (savestate_run.c): read, its CRC
 * checked, parsed into s->run_parsed, *off past it and *n_out 1; else *n_out 0 and *off
 * unchanged. 0, or -errno and *why. */
struct savestate;
int savestate_read_run_at(int fd, uint64_t fsize, uint64_t *off, struct savestate *s,
			  uint32_t *n_out, const char **why);

/* Checks of a parsed file's parts (savestate_check.c): 0, or -EINVAL and *why. */
struct savestate_config;
struct savestate_legacy;
struct vm_devices_state;
int savestate_check_legacy(const struct savestate_legacy *l, const char **why);
int savestate_check_devices(const struct savestate_config *c, const struct vm_devices_state *d,
			    const char **why);

#endif
