/* The user that server-started VMs run as: `vsrv run --run-as USER`, which switches the VM's
 * sandboxed process to USER once the VM is built (its disks, /dev/kvm and TAPs are opened
 * as root before; they reach it as file descriptors, so its files stay root's). */
#ifndef VSRV_SERVER_RUNAS_H
#define VSRV_SERVER_RUNAS_H

#include <stddef.h>

#define RUNAS_DEFAULT_USER "vsrv"

/* Decide the user VMs run as, from `vsrv serve --run-as` (opt, or NULL when not given), into
 * out (n bytes): "" means no switch (they run as the server's own user). As root the default
 * is RUNAS_DEFAULT_USER, created as a system user (useradd --system, no home, no login) when
 * missing; a user with uid 0 (`--run-as root`) keeps VMs as root. Not as root, only no option
 * (or the server's own user) is possible. Returns 0, or -ENOENT (no such user), -EPERM (not
 * root), -errno (useradd failed); the reason is printed on stderr. */
int runas_resolve(const char *opt, char *out, size_t n);

#endif
