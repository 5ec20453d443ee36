/* The RUN section of a saved-VM file (docs/savestate.md "The run configuration"): the VM's
 * configuration as the `vsrv run` arguments it was started with, so that `vsrv run --restore
 * FILE` needs no options given again by hand. Only what makes the VM is in it (memory, vCPUs,
 * disks, NICs, devices, displays, firmware, kernel...); what belongs to one run (control,
 * serial, VNC sockets, sandbox, run-as, --no-reboot) is not.
 *
 * Payload: struct savestate_run_hdr, then hdr.bytes bytes holding hdr.count NUL-terminated
 * arguments, each "--NAME" or "--NAME=VALUE" (getopt_long's long form), printable (no byte
 * below 0x20, no 0x7f), nothing after the last. This module writes and parses it without
 * KVM (fuzz/savestate_run.c fuzzes the parser). */
#ifndef VSRV_VMM_SAVESTATE_RUN_H
#define VSRV_VMM_SAVESTATE_RUN_H

#include <stddef.h>
#include <stdint.h>

#define SAVESTATE_RUN_VERSION   1
#define SAVESTATE_RUN_MAX_ARGS  1024
#define SAVESTATE_RUN_MAX_BYTES (256u << 10)  /* of the arguments' text */
#define SAVESTATE_RUN_MAX_ARG   8192          /* bytes of one argument, its NUL included */

struct savestate_run_hdr {
	uint32_t version;     /* SAVESTATE_RUN_VERSION */
	uint32_t count;       /* arguments */
	uint32_t bytes;       /* bytes of text after this header */
	uint32_t reserved;    /* 0 */
};

/* The parsed section: args[0..n) point into the same allocation (free args alone). */
struct savestate_run {
	uint32_t n;
	char **args;
};

/* Whether a is an argument the section can hold: "--" then a name of letters, digits and
 * '-', then nothing or '=' and a value; printable; at most SAVESTATE_RUN_MAX_ARG bytes with
 * its NUL. */
int savestate_run_arg_ok(const char *a);

/* The payload for args[0..n): 0 and *out (malloc'd, *len bytes; free it), -EINVAL (an
 * argument savestate_run_arg_ok refuses, or more than the limits), -ENOMEM. */
int savestate_run_encode(const char *const *args, uint32_t n, uint8_t **out, uint64_t *len);

/* Parse and check the payload p[0..len): 0 and *out (free out->args), or -EINVAL and *why
 * (a static string: a bad version, counts or limits, an argument that is not one, bytes
 * left over), -ENOMEM. */
int savestate_run_parse(const uint8_t *p, uint64_t len, struct savestate_run *out,
			const char **why);

/* The RUN section of the save file fd, found by walking the section headers (their CRCs
 * checked; payloads other than RUN's are not read), its CRC checked and parsed: 0 and *out,
 * -ENOENT (a valid file without one: written before the section existed), -EINVAL and *why
 * (not a save file, corrupt, truncated), -ENOMEM or -EIO. The full check of the file is
 * savestate_read's. */
int savestate_read_run(int fd, struct savestate_run *out, const char **why);

#endif
