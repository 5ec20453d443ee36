/* libqcow, libvmdk and libvhdi (the libyal readers of qcow2, VMDK and VHDX images behind
 * disk_qcow.c, disk_vmdk.c and disk_vhdx.c), loaded with dlopen by their sonames when the
 * first image of their format is opened: a process that opens none (`vsrv run`, `vsrv img` on
 * a VHD, the CLI) never loads them, nor libbfio behind them. Each library's entry points are
 * resolved in one place, yal_load.c, into one table per library; the headers (the -dev
 * packages) give the tables their types. */
#ifndef VSRV_DISK_YAL_LOAD_H
#define VSRV_DISK_YAL_LOAD_H

#include "disk/disk_int.h"

#include <libqcow.h>
/* Debian's libvmdk-dev declares the libbfio entry points but ships no libbfio.h: we use
 * none of them. */
#include <libvmdk/features.h>
#undef LIBVMDK_HAVE_BFIO
#include <libvmdk.h>
#include <libvhdi.h>

/* A table entry: a pointer to the library function f, named and typed as the header does. */
#define YAL_FN(f) __typeof__(f) *f

/* Each table starts with the entry points disk_foreign.c calls for every library (the
 * foreign_ops' lib points there); the others are named as in the library. */
struct yal_qcow {
	struct foreign_lib lib;
	YAL_FN(libqcow_file_initialize);
	YAL_FN(libqcow_file_open);
	YAL_FN(libqcow_file_get_format_version);
	YAL_FN(libqcow_file_get_encryption_method);
	YAL_FN(libqcow_file_get_media_size);
	YAL_FN(libqcow_file_get_utf8_backing_filename_size);
	YAL_FN(libqcow_file_get_utf8_backing_filename);
};

struct yal_vmdk {
	struct foreign_lib lib;
	YAL_FN(libvmdk_handle_initialize);
	YAL_FN(libvmdk_handle_open);
	YAL_FN(libvmdk_handle_set_extent_data_files_path);
	YAL_FN(libvmdk_handle_open_extent_data_files);
	YAL_FN(libvmdk_handle_get_media_size);
	YAL_FN(libvmdk_handle_get_disk_type);
	YAL_FN(libvmdk_handle_get_utf8_parent_filename_size);
	YAL_FN(libvmdk_handle_get_utf8_parent_filename);
};

struct yal_vhdi {
	struct foreign_lib lib;
	YAL_FN(libvhdi_file_initialize);
	YAL_FN(libvhdi_file_open);
	YAL_FN(libvhdi_file_get_file_type);
	YAL_FN(libvhdi_file_get_disk_type);
	YAL_FN(libvhdi_file_get_media_size);
	YAL_FN(libvhdi_file_get_bytes_per_sector);
	YAL_FN(libvhdi_file_get_utf8_parent_filename_size);
	YAL_FN(libvhdi_file_get_utf8_parent_filename);
};

/* The tables: valid (every entry set) once the library's load returned 0, and from then on
 * for the rest of the process (the library is never unloaded). */
extern struct yal_qcow yal_qcow;
extern struct yal_vmdk yal_vmdk;
extern struct yal_vhdi yal_vhdi;

/* Load libqcow.so.1 (libvmdk.so.1, libvhdi.so.1) and resolve every entry of its table; once
 * loaded, later calls return 0 at once. 0, or -ENOTSUP with the reason in err, e.g. "qcow2
 * images need libqcow.so.1 (Debian's libqcow1): <dlerror>" (nothing is kept: a later call tries
 * again). Any thread (they serialize on one lock). */
int yal_qcow_load(char *err, size_t n);
int yal_vmdk_load(char *err, size_t n);
int yal_vhdi_load(char *err, size_t n);

#endif
