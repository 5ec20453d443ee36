/* `vsrv run`'s options (run.c parses them) and what a restore takes from the save file
 * (run_args.c): the VM's configuration kept in the file's RUN section
 * (vmm/savestate_run.h, docs/savestate.md "The run configuration"). */
#ifndef VSRV_CLI_RUN_ARGS_H
#define VSRV_CLI_RUN_ARGS_H

#include <stdint.h>

#include "vmm/sandbox.h"
#include "vmm/vm.h"

#define DEFAULT_MEM (128ULL << 20)

/* The options of `vsrv run` that are about the process rather than the VM, and the record
 * of the VM's own options. */
struct run_opts {
	int sandbox;              /* 1 on, 0 off, -1 not given (on where supported) */
	struct sandbox_config sb; /* run_as, uid, gid from --run-as */
	char **owned;             /* the --disk specs made of --cdrom options (freed at the end) */
	unsigned nr_owned;
	struct vnc *vnc;          /* --vnc: its listening socket, served by each boot's VM */
	/* The options given that make the VM, as "--NAME=VALUE" (run_args_note; owned): what
	 * a save writes (vm_config.run_args) and what a restore compares with the file's. */
	char **vm_args;
	unsigned nr_vm_args;
	/* A restore's configuration from the file (run_args_restore; owned): its arguments
	 * and what parsing them allocated. */
	char **file_args;
	struct run_opts *file_opts;
	/* What a save of the restored VM keeps: the file's arguments, those of the options
	 * given replaced by the given ones (pointers into file_args and vm_args; owned). */
	const char **merged_args;
};

/* Parse argv into c and o (run.c). Returns 0, 1 for --help, or -errno after logging. */
int run_parse_args(int argc, char **argv, struct vm_config *c, struct run_opts *o);

/* Value parsers of the VM's options: 0, or -EINVAL/-ERANGE after logging "--OPT VALUE: ...". */
int run_parse_cpus(const char *s, unsigned *out);
int run_parse_memory(const char *s, uint64_t *out);
int run_parse_serial(const char *s, struct vm_config *c);
int run_parse_uuid(const char *s, struct vm_config *c);
int run_parse_smbios_str(const char *opt, const char *s, const char **out);
int run_parse_enlightenments(const char *s, struct vm_config *c);

/* Whether --name is an option that makes the VM (kept in a save file) rather than one of a
 * run's own (control, serial, VNC, sandbox, --no-reboot, --restore...). */
int run_args_is_vm_option(const char *name);

/* Record option name (without "--") with value (NULL: none) in o->vm_args when it makes the
 * VM. 0 or -ENOMEM. */
int run_args_note(struct run_opts *o, const char *name, const char *value);

/* For `--restore FILE` (cfg->restore): the VM's options come from the file's RUN section.
 * Those given on the command line as well must have the same effect (the same value; for
 * --disk/--cdrom, --net, --device/--balloon and --display the same list, as text in the
 * same order), else the restore is refused with a line naming the option and the saved
 * value. On success *cfg holds the file's configuration with the command line's per-run
 * options (serial, control, VNC, --no-reboot, --restore-memory), and cfg->run_args the
 * file's arguments (owned by o). A file without the section (written before it existed)
 * or one that cannot be read is left to vm_restore_open: 0 and cfg unchanged. Returns 0 or
 * -errno after logging. */
int run_args_restore(const char *argv0, struct vm_config *cfg, struct run_opts *o);

/* Free what o owns (and the arrays of cfg, which run_parse_args allocated). */
void run_args_free(struct vm_config *cfg, struct run_opts *o);

#endif
