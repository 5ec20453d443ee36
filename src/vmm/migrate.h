/* Live migration of a running VM to another `vsrv run` process (docs/migration.md).
 *
 * Source: the control socket's {"cmd":"migrate","to":URI} calls migrate_start on the control
 * loop; a migration thread connects, sends the configuration (the destination refuses a
 * mismatch before any memory moves), turns on KVM's dirty log for guest RAM and the VMM's
 * record of device writes (guest_mem_track), sends all memory while the guest runs, then
 * the pages dirtied since, in rounds, until few remain (or a round or time limit is hit);
 * then it parks the vCPUs, quiesces the devices, flushes the disks, sends the last dirty
 * pages, every page a device wrote during the migration, and the save-state sections; the
 * destination loads them and answers READY; the source sends GO and its VM ends. On any
 * failure before GO (destination gone or refusing, a timeout) the devices and vCPUs go on,
 * unharmed. The result comes back on the control loop through the done callback.
 *
 * Destination: `vsrv run --incoming URI`: migrate_listen before the VM is built, then
 * migrate_incoming with the built VM (cfg->incoming set: nothing booted); then vm_run.
 *
 * URIs: unix:PATH or tcp:HOST:PORT (HOST a name or an IPv4/IPv6 address; [v6]:PORT too). */
#ifndef VSRV_VMM_MIGRATE_H
#define VSRV_VMM_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct migration;

struct migrate_opts {
	const char *to;           /* the URI (copied) */
	bool paused;              /* the VM is paused by the control socket: it stays so */
	unsigned max_rounds;      /* dirty rounds after the first full pass (0: 30) */
	unsigned timeout_s;       /* the whole migration; also each wait for the peer (0: 60) */
	uint64_t max_downtime_ms; /* stop-and-copy once the rest takes this long (0: 50) */
	bool copy_disks;          /* no shared storage: the writable disks' contents go in the
	                           * stream into the destination's own images (migrate_disk.h) */
};

struct migrate_result {
	int ret;                  /* 0: handed over (end the VM), else -errno */
	char error[512];          /* the reason when ret < 0 */
	double total_ms, downtime_ms;
	uint64_t bytes;           /* stream bytes sent */
	uint64_t pages;           /* pages sent (with repeats) */
	unsigned rounds;          /* memory rounds: the full pass, dirty rounds, the final one */
	uint64_t disk_bytes;      /* copy_disks: disk bytes sent as data (with repeats) */
	unsigned disk_rounds;     /* copy_disks: disk rounds: the full copy ... the final one */
};

/* Start migrating vm on a new thread. done(opaque, res) is called later on vm's control
 * loop, once, with the result (res is valid during the call); then call migrate_free. The
 * vCPUs and devices are running (or paused, opts->paused) and must be left alone by the
 * caller until done. Loop thread. Returns 0 and *out, or -errno (nothing started). */
int migrate_start(struct vm *vm, const struct migrate_opts *opts,
		  void (*done)(void *opaque, const struct migrate_result *res), void *opaque,
		  struct migration **out);

/* Abandon a migration that has not called done (the VM is ending): the thread stops at its
 * next step and is joined; done is not called. Then free. NULL is allowed. Loop thread or
 * after the loop ended. */
void migrate_free(struct migration *m);

/* Destination. migrate_listen: listen on uri (unix: the socket file is created 0600,
 * replacing one there). 0 and *lfd, or -errno after logging. */
int migrate_listen(const char *uri, int *lfd);

/* Wait for one connection on lfd (and for signals on sigfd, when >= 0: then -EINTR and
 * *signo), receive the migration into vm (built from the same configuration with
 * cfg->incoming set, vCPUs not started) and answer the source. Returns 0 when the guest
 * may run (the source handed over), else -errno after logging one line. lfd stays the
 * caller's. Main thread. */
int migrate_incoming(int lfd, int sigfd, struct vm *vm, const char *uri, int *signo);

#endif
