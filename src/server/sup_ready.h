/* Start-up of a VM: a started VM is 'starting' until its VMM answers on its control socket
 * (the VMM attaches the socket once the VM is built, its kernel loaded), then 'running'
 * with the event vm-started. A VMM that fails before that never was running: the supervisor
 * records its exit as a failure to start (sup_exit.h). A guest that ends by itself (or
 * crashes) sooner than the watcher looks did run: its exit is recorded as such, without a
 * vm-started event. One thread watches every starting VM. */
#ifndef VSRV_SERVER_SUP_READY_H
#define VSRV_SERVER_SUP_READY_H

#include "server/server.h"

#include <sys/types.h>

struct sup_ready;

/* Create the watcher and its thread. Returns 0 and *out (end with sup_ready_destroy), or
 * -errno. */
int sup_ready_create(struct server *srv, struct sup_ready **out);

/* Stop the thread and free the watcher. NULL is allowed. */
void sup_ready_destroy(struct sup_ready *r);

/* Watch VM id, whose monitor is mon_pid, until its VMM answers (then state 'starting' becomes
 * 'running', if it still is 'starting' with that monitor) or its monitor ends. name and who
 * (NULL: the server) are copied, for the event. May be called under the caller's transaction:
 * the watcher waits for it to commit. */
void sup_ready_watch(struct sup_ready *r, int64_t id, pid_t mon_pid, const char *name,
		     const char *who);

#endif
