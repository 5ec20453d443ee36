/* A live snapshot's switch (docs/server.md "Snapshots of a running VM"): a VM that runs or
 * is paused takes a snapshot without memory with its guest going on. snapshot.c makes each
 * writable disk's new top (a differencing VHD over the image the VMM writes) in its
 * transaction; here, before the commit, the guest's file systems are frozen through the
 * guest agent when one answers (bounded, and always thawed), and the VMM's disk-switch
 * command puts every disk on its new top at once (all or none: vmm/control.h). */
#ifndef VSRV_SERVER_SNAPLIVE_H
#define VSRV_SERVER_SNAPLIVE_H

#include "server/server.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SNAPLIVE_FREEZE_MS 10000 /* guest-fsfreeze-freeze and -thaw, each */
#define SNAPLIVE_SWITCH_MS 30000 /* the VMM's disk-switch (flushes, opens) */
#define SNAPLIVE_SETTLE_MS 120000 /* then, when it did not answer, a status after it */

/* Switch VM id's (named name) disks as disks says ([{"drive":"diskN","path":NEWTOP}],
 * borrowed), the file systems frozen around it when its agent answers (*frozen says
 * whether they were). Each new top is opened here (read-write) and its descriptor passed
 * with the VMM's disk-switch command: the VMM opens no file (its sandbox lets it open none
 * for writing). 0, or -errno with err: -EIO (a new top could not be opened, or the VMM
 * refused: every disk stays on its image, the guest runs on), -ENOENT/-ECONNREFUSED (no
 * VMM), -ETIMEDOUT (no answer in time, and the VMM not seen on the new tops after:
 * snaplive_settled). */
int snaplive_switch(struct server *srv, int64_t id, const char *name, json_t *disks,
		    bool *frozen, char *err, size_t errlen);

/* After a disk-switch of disks (as snaplive_switch's) that got no answer in time: whether
 * VM id's VMM went onto the new tops. Its control loop serves one command at a time, so a
 * "status" answered (within timeout_ms) says the switch is over; then every new top held
 * locked exclusively by another (the VMM: the server closed its descriptors) says it
 * switched. 1 switched, 0 not known (no answer, or a top not so held: not switched, or a
 * file system without locks). snaplive_switch answers 0 after its timeout when this says 1. */
int snaplive_settled(struct server *srv, int64_t id, json_t *disks, int timeout_ms);

#endif
