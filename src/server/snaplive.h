/* A live snapshot's switch (docs/server.md "Snapshots of a running VM"): a VM that runs or
 * is paused takes a snapshot without memory with its guest going on. snapshot.c makes each
 * writable disk's new top (a differencing VHD over the image the VMM writes) and commits
 * the snapshot with the VM's disks on them; here, after the commit, the guest's file
 * systems are frozen through the guest agent when one answers (bounded, and always
 * thawed), and the VMM's disk-switch command puts every disk on its new top at once (all
 * or none: vmm/control.h); a switch refused is undone in the inventory (snaplive_undo). */
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
 * for writing). 0, or -errno with err. *sent says whether any byte of the command went
 * to the VMM: when false, it switched nothing (whatever the error: a new top not opened,
 * no VMM listening, out of memory before the send...). When true: -EIO, the VMM refused
 * (all or none: every disk stays on its image, the guest runs on); any other error
 * (-ETIMEDOUT: no answer in time and the VMM not seen on the new tops after,
 * snaplive_settled; -EPROTO: an answer that could not be read; -ECONNRESET: the connection
 * lost before one; -ENOMEM while the answer was read...) says nothing of whether the VMM
 * switched, or still will. */
int snaplive_switch(struct server *srv, int64_t id, const char *name, json_t *disks,
		    bool *frozen, bool *sent, char *err, size_t errlen);

/* After a disk-switch of disks (as snaplive_switch's) that got no answer in time: whether
 * VM id's VMM went onto the new tops. Its control loop serves one command at a time, so a
 * "status" answered (within timeout_ms) says the switch is over; then every new top held
 * locked exclusively by another (the VMM: the server closed its descriptors) says it
 * switched. 1 switched, 0 not known (no answer, or a top not so held: not switched, or a
 * file system without locks). snaplive_switch answers 0 after its timeout when this says 1. */
int snaplive_settled(struct server *srv, int64_t id, json_t *disks, int timeout_ms);

/* Claim VM id of srv for a live snapshot, from before its commit until its switch and
 * undo are over (snaplive_release): while claimed, a second live snapshot of it and a
 * migration of it are refused, and so are what needs it off (snapshot deletes, reverts,
 * clones: snapshot_check_off), as either would act on the chain the inventory names
 * while the VMM still writes the image under it. The claim is the inventory's
 * (inv_claim_take, SNAPLIVE_CLAIM), so it holds across every server sharing it (a
 * cluster's on etcd), for snaplive_claim_ttl seconds at most: a server that dies holding
 * it holds it no longer. 0, -EBUSY (claimed already, here or by another server, or too
 * many live snapshots at once on this server), -EIO (the inventory failed). */
#define SNAPLIVE_CLAIM "snaplive"
int snaplive_claim(struct server *srv, int64_t id);
void snaplive_release(struct server *srv, int64_t id);

/* At a daemon's start: end the claims its host's previous daemon left (it died holding
 * them; a cluster's host names are unique, and one daemon serves a data directory). How
 * many, or -errno. */
int snaplive_sweep(struct server *srv);

/* How long a claim of srv lasts at most, s: srv->snaplive_claim_s, or (0) the bound of
 * the window (freeze, switch, settle, thaw) and two minutes for the commits. */
int snaplive_claim_ttl(const struct server *srv);

/* Whether VM id is claimed by a live snapshot (or a migration starting), by any server
 * sharing srv's inventory. */
bool snaplive_running(struct server *srv, int64_t id);

/* A live snapshot's new tops once committed (snapshot.c): snapshot sid; sw, the VMM's
 * disk-switch "disks" ([{"drive":"diskN","path":NEWTOP}]); undo, for each the same disk's
 * {"disk_id", "path": NEWTOP, "frozen": the image under it, "was_top": whether that image
 * was a top layer (else the disk's own file)}. init 0 or -ENOMEM; clear frees the arrays. */
struct snaplive_tops {
	int64_t sid;
	json_t *sw, *undo;
};

int snaplive_tops_init(struct snaplive_tops *t);
void snaplive_tops_clear(struct snaplive_tops *t);

/* Undo live snapshot snap (t, as committed) of VM id (named name) whose switch the VMM
 * refused or never got, so that it switched nothing: in one transaction (run again when its
 * commit meets a concurrent write, at most INV_COMMIT_TRIES times) the snapshot's rows go,
 * each disk's frozen image is its top again and the new tops' rows go, with the event
 * vm-snapshot-deleted; then the new tops' files. Done only while the inventory is as the
 * snapshot left it (the snapshot the VM's current one, every new top its disk's top with
 * nothing over it and no process holding it locked, as a VMM started on it would; no
 * undo-commit, clone or snapshot-delete task on the VM: task_images_busy): else,
 * or when no commit succeeds, everything stays as committed, which loses nothing (each new
 * top is empty and reads as the image under it, which the VMM writes), and err says so.
 * 0, or -errno with err. */
int snaplive_undo(struct server *srv, struct dbc *c, int64_t id, const char *name,
		  const char *snap, const struct snaplive_tops *t, const char *who, char *err,
		  size_t errlen);

#endif
