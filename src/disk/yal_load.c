/* Loading the libyal libraries (yal_load.h): dlopen by soname, then every entry point of the
 * library's table resolved with dlsym, by the names the headers declare. */
#include "disk/yal_load.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct yal_qcow yal_qcow;
struct yal_vmdk yal_vmdk;
struct yal_vhdi yal_vhdi;

/* One entry point: its name in the library, where its pointer goes in the table. */
struct yal_sym {
	const char *name;
	size_t off;
};

/* An entry named as the library's function f; LIB: one of the shared ones (struct
 * foreign_lib's member m), f's type checked against m's. */
#define SYM(T, f) { #f, offsetof(struct T, f) }
#define LIB(T, f, m) { #f, offsetof(struct T, lib.m) + 0 * sizeof(struct { int x; \
	_Static_assert(__builtin_types_compatible_p(__typeof__(&f), \
		       __typeof__(((struct foreign_lib *)0)->m)), #f " as foreign_lib." #m); }) }

static const struct yal_sym qcow_syms[] = {
	LIB(yal_qcow, libqcow_error_backtrace_sprint, error_sprint),
	LIB(yal_qcow, libqcow_error_free, error_free),
	LIB(yal_qcow, libqcow_file_set_parent_file, set_parent),
	LIB(yal_qcow, libqcow_file_read_buffer_at_offset, read),
	LIB(yal_qcow, libqcow_file_close, close),
	LIB(yal_qcow, libqcow_file_free, free),
	SYM(yal_qcow, libqcow_file_initialize),
	SYM(yal_qcow, libqcow_file_open),
	SYM(yal_qcow, libqcow_file_get_format_version),
	SYM(yal_qcow, libqcow_file_get_encryption_method),
	SYM(yal_qcow, libqcow_file_get_media_size),
	SYM(yal_qcow, libqcow_file_get_utf8_backing_filename_size),
	SYM(yal_qcow, libqcow_file_get_utf8_backing_filename),
};

static const struct yal_sym vmdk_syms[] = {
	LIB(yal_vmdk, libvmdk_error_backtrace_sprint, error_sprint),
	LIB(yal_vmdk, libvmdk_error_free, error_free),
	LIB(yal_vmdk, libvmdk_handle_set_parent_handle, set_parent),
	LIB(yal_vmdk, libvmdk_handle_read_buffer_at_offset, read),
	LIB(yal_vmdk, libvmdk_handle_close, close),
	LIB(yal_vmdk, libvmdk_handle_free, free),
	SYM(yal_vmdk, libvmdk_handle_initialize),
	SYM(yal_vmdk, libvmdk_handle_open),
	SYM(yal_vmdk, libvmdk_handle_set_extent_data_files_path),
	SYM(yal_vmdk, libvmdk_handle_open_extent_data_files),
	SYM(yal_vmdk, libvmdk_handle_get_media_size),
	SYM(yal_vmdk, libvmdk_handle_get_disk_type),
	SYM(yal_vmdk, libvmdk_handle_get_utf8_parent_filename_size),
	SYM(yal_vmdk, libvmdk_handle_get_utf8_parent_filename),
};

static const struct yal_sym vhdi_syms[] = {
	LIB(yal_vhdi, libvhdi_error_backtrace_sprint, error_sprint),
	LIB(yal_vhdi, libvhdi_error_free, error_free),
	LIB(yal_vhdi, libvhdi_file_set_parent_file, set_parent),
	LIB(yal_vhdi, libvhdi_file_read_buffer_at_offset, read),
	LIB(yal_vhdi, libvhdi_file_close, close),
	LIB(yal_vhdi, libvhdi_file_free, free),
	SYM(yal_vhdi, libvhdi_file_initialize),
	SYM(yal_vhdi, libvhdi_file_open),
	SYM(yal_vhdi, libvhdi_file_get_file_type),
	SYM(yal_vhdi, libvhdi_file_get_disk_type),
	SYM(yal_vhdi, libvhdi_file_get_media_size),
	SYM(yal_vhdi, libvhdi_file_get_bytes_per_sector),
	SYM(yal_vhdi, libvhdi_file_get_utf8_parent_filename_size),
	SYM(yal_vhdi, libvhdi_file_get_utf8_parent_filename),
};

struct yal_lib {
	const char *format, *soname, *package;
	void *table;
	const struct yal_sym *syms;
	size_t nsyms;
	bool loaded;
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct yal_lib qcow = { "qcow2", "libqcow.so.1", "libqcow1", &yal_qcow, qcow_syms,
			       N(qcow_syms), false };
static struct yal_lib vmdk = { "VMDK", "libvmdk.so.1", "libvmdk1", &yal_vmdk, vmdk_syms,
			       N(vmdk_syms), false };
static struct yal_lib vhdi = { "VHDX", "libvhdi.so.1", "libvhdi1", &yal_vhdi, vhdi_syms,
			       N(vhdi_syms), false };

static pthread_mutex_t yal_lock = PTHREAD_MUTEX_INITIALIZER;

static int yal_load(struct yal_lib *l, char *err, size_t n)
{
	void *dl = NULL;
	int ret = 0;

	pthread_mutex_lock(&yal_lock);
	if (l->loaded)
		goto out;
	dl = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		goto err;
	for (size_t i = 0; i < l->nsyms; i++) {
		void *p = dlsym(dl, l->syms[i].name);

		if (!p)
			goto err;
		/* POSIX: a function's address fits and round-trips through void * */
		memcpy((char *)l->table + l->syms[i].off, &p, sizeof(p));
	}
	l->loaded = true;
	goto out;
err:
	snprintf(err, n, "%s images need %s (Debian's %s): %s", l->format, l->soname, l->package,
		 dlerror());
	if (dl)
		dlclose(dl);
	ret = -ENOTSUP;
out:
	pthread_mutex_unlock(&yal_lock);
	return ret;
}

int yal_qcow_load(char *err, size_t n)
{
	return yal_load(&qcow, err, n);
}

int yal_vmdk_load(char *err, size_t n)
{
	return yal_load(&vmdk, err, n);
}

int yal_vhdi_load(char *err, size_t n)
{
	return yal_load(&vhdi, err, n);
}
