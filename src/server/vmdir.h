/* A VM's runtime directory, DATA/vms/ID: its console.log, console.sock, control.sock,
 * monitor.pid, undo disks. Below the supervisor, so that everything that reaches into the
 * directory (vmctl, undo, the console endpoints) need not include it. */
#ifndef VSRV_SERVER_VMDIR_H
#define VSRV_SERVER_VMDIR_H

#include "server/server.h"

#include <stddef.h>
#include <stdint.h>

/* The directory of VM id, into buf. 0 or -ENAMETOOLONG. */
int vmdir_path(struct server *srv, int64_t id, char *buf, size_t n);

/* Connect to the Unix socket name (console.sock, vnc.sock) in VM id's directory, where its
 * monitor or VMM listens. The connected fd (the caller's), -ENAMETOOLONG, -EBUSY (nobody
 * listens: the VM does not run, or runs without it) or -errno. */
int vmdir_connect(struct server *srv, int64_t id, const char *name);

#endif
