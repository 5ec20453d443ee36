/* The control socket's internals shared by its files (control.c, control_disk.c,
 * control_fds.c). */
#ifndef VSRV_VMM_CONTROL_INT_H
#define VSRV_VMM_CONTROL_INT_H

#include "util/fdpass.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct vm;

/* Park every vCPU (bounded: CTL_PARK_MS each; on a timeout all run again). 0, -ESHUTDOWN
 * (the VM is ending) or -ETIMEDOUT. */
int control_vcpus_park(struct vm *vm);
void control_vcpus_unpark(struct vm *vm);

/* ---- descriptors passed with a command (SCM_RIGHTS): disk-switch's new tops ----
 * A client sends a command line and its descriptors in one sendmsg (they ride on its first
 * byte) and waits for the answer before the next command. The descriptors received wait in
 * a client's queue until the line they came with ends: the first line that ends at or after
 * the position in the client's buffer where the read that brought them began. */
/* descriptors one command may carry (a VM's disks at most): what one message of a sender
 * carries at most (util/fdpass.h), the one limit of both ends */
#define CTL_FDS_MAX FDPASS_MAX

struct ctl_fds {
	int fd[CTL_FDS_MAX];
	unsigned n;
	bool lost;   /* more came than fit (or the kernel truncated them): the command is
		      * refused (those beyond were closed) */
	size_t at;   /* buffer offset where the read that brought the first of them began */
};

/* read() from the client socket sock into buf (len bytes at buffer offset at), the
 * descriptors that come with the bytes (MSG_CMSG_CLOEXEC) appended to q: those beyond
 * CTL_FDS_MAX closed at once (q->lost). Returns what read() returns (errno set). */
ssize_t control_fds_recv(int sock, void *buf, size_t len, size_t at, struct ctl_fds *q);

/* Whether q's descriptors (or a loss) belong to the line ending at buffer offset end. */
bool control_fds_for(const struct ctl_fds *q, size_t end);

/* used bytes left the front of the client's buffer. */
void control_fds_shift(struct ctl_fds *q, size_t used);

/* Close every descriptor in q and empty it. */
void control_fds_close(struct ctl_fds *q);

/* {"cmd":"disk-switch","disks":[{"drive":"diskN","path":NEWTOP},...]} with the new tops'
 * descriptors fds (nfds of them, one per disk in the order of "disks"; every one is used
 * or closed before the return, whatever the answer): the reply (a new reference). paused:
 * the vCPUs are parked already (the pause command). */
json_t *control_disk_switch(struct vm *vm, json_t *msg, bool paused, int *fds, unsigned nfds);

#endif
