/* The VMM's control socket (`vsrv run --control PATH`): a listening Unix socket (mode
 * 0600) on which a supervisor (the server's shim or a person with socat) sends one JSON
 * object per line and gets one JSON object per line back:
 *
 *   {"cmd":"status"}        {"ok":true,"state":"running"|"paused","uptime":S,"vcpus":N,...}
 *   {"cmd":"pause"}         every vCPU leaves KVM_RUN and parks; replies once all are parked
 *   {"cmd":"resume"}        the vCPUs run again
 *   {"cmd":"stats"}         per-vCPU exits and CPU seconds, guest memory, process RSS,
 *                           "disks": [{name, device, bus, read_ops, write_ops, flush_ops,
 *                           discard_ops, read_bytes, write_bytes, errors}], "nics": [{name,
 *                           device, mac, backend, ifname, rx/tx_packets, rx/tx_bytes, drops}],
 *                           and with a balloon "balloon": what the balloon command answers
 *   {"cmd":"save","path":P}  saves the VM to the file P (vmm/savestate.h; `vsrv run
 *                           --restore P` goes on from there) and ends it (status 0); with
 *                           "keep_running":true a checkpoint: the VM goes on. Answers
 *                           {"ok":true,"path","state","bytes","pages","seconds"}; on an error
 *                           the VM goes on
 *   {"cmd":"migrate","to":"unix:PATH"|"tcp:HOST:PORT"}  live migration to a `vsrv run
 *                           --incoming` (vmm/migrate.h); answers when done: {"ok":true,
 *                           "total_ms","downtime_ms","bytes","pages","rounds"}, then the VM
 *                           ends (status 0); or an error, and the VM goes on here
 *   {"cmd":"media"[,"drive":"diskN"]}  the CD/DVD drives: {"ok":true,"drives":[{drive,
 *                           device, path (null: empty), bytes, tray, locked}]}; with
 *                           "eject":true (and "force":true for a drive the guest locked)
 *                           or "insert":PATH the medium changes first (vm_devices_media)
 *   {"cmd":"disk-switch","disks":[{"drive":"diskN","path":P},...]}  a live snapshot's
 *                           step: each disk named goes onto its new top P (a differencing
 *                           VHD over its image, made beforehand), all or none, the guest
 *                           stopped for the flush and the switch (vm_devices_disk_switch).
 *                           The VMM opens nothing: the sender opens each P read-write and
 *                           passes the descriptors with the line (SCM_RIGHTS, one sendmsg,
 *                           one per disk in the order of "disks"); each must be P's file (a
 *                           reset and a save reopen P by name). {"ok":true,"disks":
 *                           [{drive,path}],"seconds"}; on an error every disk stays on its
 *                           image and the descriptors are closed. Descriptors sent with
 *                           any other command are closed and the command refused
 *   {"cmd":"screenshot"}    the VM's display (--display) as a PNG (8-bit RGB, vmm/screenshot.h):
 *                           {"ok":true,"width":W,"height":H,"png":"<base64>"}; an error when
 *                           the VM has no display or the guest has set no mode (blank)
 *   {"cmd":"balloon"[,"target_mib":N]}  the memory balloon (--device balloon): {"ok":true,
 *                           "ram_mib", "target_mib" (what the guest is asked to keep),
 *                           "actual_mib" (what it keeps: RAM less the balloon it reports),
 *                           "balloon_mib", "driver" (a driver runs it), "deflate_on_oom",
 *                           "free_page_reporting" (negotiated), "inflated_pages",
 *                           "inflate_pages", "deflate_pages", "bad_pfns" (refused: outside
 *                           RAM), "reported_mib" (released by free page reporting),
 *                           "stats_updates", "stats": {swap_in, swap_out, major_faults,
 *                           minor_faults, free, total, available, caches (bytes),
 *                           hugetlb_allocations, hugetlb_failures, age_seconds: those the
 *                           guest sent}}; with "target_mib" (1..RAM) the guest is asked to
 *                           keep that much first (a config-change interrupt)
 *   {"cmd":"power-button"}  presses the ACPI power button (see devices/acpi_pm.h)
 *   {"cmd":"quit"}          ends the VM at once: `vsrv run` exits with status 0
 *
 * An optional "id" member is echoed in the reply. Errors reply {"ok":false,"error":"..."}.
 * A line longer than 4 KiB, bad JSON or an unknown command gets an error, never a crash.
 * Everything runs on the control loop's thread; the socket outlives guest resets (the
 * VM is rebuilt, the socket stays: attach it to each new VM). */
#ifndef VSRV_VMM_CONTROL_H
#define VSRV_VMM_CONTROL_H

struct vm;
struct control;

/* Create the listening socket at path (an existing socket file there is replaced).
 * Returns 0 and *out (free with control_close), or -errno after logging. */
int control_open(const char *path, struct control **out);

/* Watch the socket and its clients on vm's control loop; vm is borrowed until
 * control_detach. Returns 0 or -errno. */
int control_attach(struct control *c, struct vm *vm);

/* Count one more boot of the VM before it is attached in another process (the sandboxed
 * `vsrv run` forks one child per boot, which attaches its copy): "boots" and "uptime" in
 * status then go on across guest resets. */
void control_count_boot(struct control *c);

/* Stop watching (before the VM is destroyed). Clients stay connected. */
void control_detach(struct control *c);

/* Close the socket and its clients and remove the socket file. NULL is allowed. */
void control_close(struct control *c);

#endif
