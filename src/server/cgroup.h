/* Resource limits per VM through cgroups: v2 where it is mounted at /sys/fs/cgroup,
 * v1 cpu/memory/freezer hierarchies otherwise. Everything is best effort: a host without
 * writable cgroups runs VMs without limits (logged once). */
#ifndef VSRV_SERVER_CGROUP_H
#define VSRV_SERVER_CGROUP_H

#include "server/server.h"

#define CGROUP_MAX_FDS 4

/* Create VM id's groups and write its CPU limit and weight and memory limit from the
 * inventory. Returns 0 or -errno (logged). */
int cgroup_setup(struct server *srv, struct dbc *c, int64_t id);

/* Open the cgroup.procs files of VM id's groups for writing, into fds; returns how many.
 * A child writes "0" to each to move itself in (see sup.c's spawn). */
int cgroup_procs_fds(struct server *srv, int64_t id, int fds[CGROUP_MAX_FDS]);

/* Freeze or thaw VM id (the freezer; SIGSTOP/SIGCONT of pid without one). */
int cgroup_freeze(struct server *srv, int64_t id, pid_t pid, int freeze);

/* Remove VM id's groups (when the VM is deleted). */
void cgroup_remove(struct server *srv, int64_t id);

/* "v2", "v1" or "none". */
const char *cgroup_mode(void);

#endif
