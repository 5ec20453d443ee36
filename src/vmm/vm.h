/* One KVM virtual machine: its file descriptors, guest memory, I/O buses, control loop,
 * vCPUs and interrupt plumbing. A VM is built by walking the init table in vm.c (core,
 * memory, irqchip, base devices, device level, boot, vCPUs) and torn down in reverse.
 *
 * Threads: vm_create/vm_run/vm_destroy run on the main thread, which runs the control loop
 * (vm->loop). Each vCPU has its own thread. The interrupt functions below (vm_irq_*,
 * vm_irqfd_*, vm_ioeventfd_*, vm_msi_*) may be called from any thread: they only issue
 * ioctls on the VM fd, and the routing table they keep is under vm->irq_lock. */
#ifndef VSRV_VMM_VM_H
#define VSRV_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/host.h"
#include "devices/serial.h"
#include "devices/virtio/stats.h"
#include "vmm/bus.h"
#include "vmm/evloop.h"
#include "vmm/mem.h"

#define VM_MAX_VCPUS 64
#define VM_MIN_MEM   (2ULL << 20)   /* 2 MiB */
#define VM_MAX_MEM   (1ULL << 40)   /* 1 TiB */

enum vm_serial_mode {
	VM_SERIAL_STDIO = SERIAL_STDIO, /* default: the terminal (raw mode while the VM runs) */
	VM_SERIAL_NONE = SERIAL_NONE,   /* output dropped, no input */
	VM_SERIAL_FILE = SERIAL_FILE,   /* output appended to serial_path, no input */
	VM_SERIAL_UNIX = SERIAL_UNIX,   /* a listening Unix socket at serial_path: one client */
};

/* The parsed options of `vsrv run`. Strings are not owned (they point into argv). */
enum vm_mem_merge {
	/* Off by default: merging pages across VMs lets one guest time another's memory
	 * (deduplication side channels), as VMware turned its inter-VM page sharing off. */
	VM_MEM_MERGE_OFF = 0,
	VM_MEM_MERGE_ON,          /* on, and an error where the host has no KSM */
};

struct vm_config {
	const char *kernel;       /* required */
	const char *initrd;       /* or NULL */
	const char *cmdline;      /* or NULL (empty) */
	unsigned nr_cpus;         /* 1..VM_MAX_VCPUS */
	uint64_t mem_size;        /* bytes, VM_MIN_MEM..VM_MAX_MEM, a multiple of 4 KiB */
	enum vm_serial_mode serial;
	const char *serial_path;  /* file: or unix: path */
	bool no_reboot;           /* guest reset ends the VM (status 0) instead of restarting it */
	/* --disk SPEC and --net SPEC, in command-line order; parsed by the virtio devices. */
	const char **disks;
	unsigned nr_disks;
	const char **nets;
	unsigned nr_nets;
	const char **devices;     /* --device SPEC (KIND[,...]: devices/virtio/kind.h) */
	unsigned nr_devices;
	const char **displays;    /* --display SPEC (bochs[,...]: devices/bochs_display.h) */
	unsigned nr_displays;
	const char *control;      /* --control PATH (vmm/control.h), or NULL */
	const char *vnc;          /* --vnc SPEC (vmm/vnc.h), or NULL */
	/* --restore FILE (vmm/savestate.h), or NULL: the VM is built without loading a kernel
	 * or writing boot tables and boot registers (guest memory stays zero), for the saved
	 * state to be loaded into it. */
	const char *restore;
	/* --restore-memory read: guest memory is read from the file and its CRC checked before
	 * the guest runs, instead of mapped lazily and checked beside it (vmm/savestate.h). */
	bool restore_read;
	/* --incoming URI (vmm/migrate.h), or NULL: like restore, nothing is booted; the
	 * state arrives from a migration source. */
	const char *incoming;
	/* --firmware bios|uefi|PATH[,vars=FILE] (arch/x86/firmware.h), resolved: the ROM file
	 * booted at the reset vector on the firmware layout, or NULL (direct kernel boot on
	 * the default layout, unchanged). */
	const char *firmware;
	const char *firmware_vars;    /* the UEFI variable store (CFI flash), or NULL */
	const char *firmware_vars_template; /* copied to firmware_vars when it is missing */
	/* SMBIOS type 1 for the firmware: --uuid, --name, --serial-number. */
	bool has_uuid;
	uint8_t uuid[16];             /* RFC 4122 byte order */
	const char *name;             /* or NULL ("vsrv") */
	const char *serial_number;    /* or NULL */
	uint8_t boot_order[3];        /* --boot: rtc_cmos_boot_order codes; all 0: the default */
	unsigned enlightenments;      /* --enlightenments: enum x86_enlight (arch/x86/enlight.h) */
	enum vm_mem_merge mem_merge;  /* --mem-merge: KSM for the guest's RAM (vmm/mem.h) */
	/* The options above that make the VM, as `vsrv run` arguments ("--memory=128M": none
	 * of a run's own, like --control or --serial), written into a save file's RUN section
	 * (vmm/savestate_run.h) for a restore without options. Not owned. */
	const char *const *run_args;
	unsigned nr_run_args;
};

/* Codes for evloop_stop(vm->loop, code) besides a plain exit status 0..255. */
#define VM_STOP_RESET  DEVICE_STOP_RESET  /* guest reset: restart unless no_reboot */

/* Well-known ISA interrupt lines (GSIs) used by the base devices. */
#define VM_GSI_SERIAL0 4
#define VM_GSI_RTC     8
#define VM_NR_IOAPIC_PINS 24

struct vcpu;
struct serial;
struct i8042;
struct rtc;
struct debug_exit;
struct acpi_pm;
struct kvm_irq_routing;
struct kvm_cpuid2;
struct x86_xen;
struct x86_xen_timers;
struct x86_firmware;
struct pci_host;
struct input_router;
struct display;
struct vm_memcheck;

struct vm {
	int kvm_fd;                 /* /dev/kvm */
	int vm_fd;                  /* KVM_CREATE_VM */
	int run_size;               /* KVM_GET_VCPU_MMAP_SIZE */
	const struct vm_config *cfg;/* not owned; outlives the VM */
	struct guest_mem *mem;
	/* A lazy restore's memory CRC check (vmm/savestate.h), or NULL; owned, stopped by the
	 * memory level's exit before the memory goes. */
	struct vm_memcheck *memcheck;
	struct bus pio, mmio;
	struct evloop *loop;        /* the control loop, run by vm_run on the calling thread */
	unsigned nr_vcpus;
	struct vcpu *vcpus[VM_MAX_VCPUS];
	struct kvm_cpuid2 *cpuid;   /* KVM_GET_SUPPORTED_CPUID, fetched once (owned) */
	struct kvm_cpuid2 *hv_cpuid; /* KVM_GET_SUPPORTED_HV_CPUID for --enlightenments hyperv,
				      * fetched with the first vCPU (owned), else NULL */
	struct x86_xen *xen;        /* --enlightenments xen: the Xen platform (arch/x86/xen.h),
				     * created before the vCPUs (owned), else NULL */
	struct x86_xen_timers *xen_timers; /* its host timers (arch/x86/xen_kvm.c), or NULL */

	/* Interrupt plumbing (any thread, under irq_lock). */
	pthread_mutex_t irq_lock;
	uint32_t gsi_used[8];       /* bitmap of GSIs 0..255 handed out (pins and MSI routes) */
	struct kvm_irq_routing *routes; /* the full table last given to KVM_SET_GSI_ROUTING */

	/* Kernel command line as handed to the guest: cfg->cmdline plus device additions
	 * (vm_cmdline_append), built before the boot level. Owned. */
	char *cmdline;

	/* Boot: filled by the boot level, applied to vCPU 0 when it is created. */
	struct vm_boot {
		int mode;           /* BOOT_MODE_* in arch/x86/boot.h */
		uint64_t entry;     /* guest-physical entry point */
		uint64_t arg;       /* EBX (multiboot info) or RSI (boot_params) */
	} boot;

	/* What the base devices get from the VM (vm_host_init), and the output syncs they
	 * asked for (vm_sync_output). */
	struct device_host host;
	struct vm_sync { void (*fn)(void *dev); void *dev; } syncs[DEVICE_HOST_MAX_SYNCS];
	unsigned nr_syncs;

	/* Console input (vmm/input_router.h), created with the control loop: input devices add
	 * their sinks, front-ends (VNC) send events. Owned. */
	struct input_router *input;

	/* Base devices (src/devices/), each with its own lock. */
	struct serial *serial;
	struct i8042 *i8042;
	struct rtc *rtc;
	struct debug_exit *debug_exit;
	struct acpi_pm *acpi_pm;    /* power-off through ACPI PM1a_CNT */

	/* Coalesced I/O (coalesced.c): KVM's ring of queued writes (in vCPU 0's kvm_run
	 * mapping, NULL until it exists), drained under coalesced_lock; the loop's flush timer. */
	struct kvm_coalesced_mmio_ring *coalesced_ring;
	pthread_mutex_t coalesced_lock;
	bool coalesced_timer_on;    /* coalesced_timer is open and watched by the loop */
	int coalesced_timer;        /* timerfd */
	long coalesced_ns;          /* its current interval (loop thread) */

	/* The PCI host bridge as the firmware tables describe it (ACPI DSDT root bridge, MCFG,
	 * e820): set by the device level when it creates one; ecam_base 0 means no PCI. ECAM
	 * covers bus 0 (1 MiB); BARs are assigned from [mem_base, mem_end). */
	struct vm_pci_info {
		uint64_t ecam_base, mem_base, mem_end;
		uint8_t intx_gsi[32]; /* slot's INTA# line (IOAPIC pin), 0: none (MSI-X only) */
	} pci;

	/* The firmware layout (arch/x86/firmware.h), owned by the firmware level; NULL for
	 * direct kernel boot. pci_host_fw is its host bridge (with the q35 MCH and the LPC
	 * bridge), which the device level then uses instead of creating one. */
	struct x86_firmware *fw;
	struct pci_host *pci_host_fw;

	/* The device table (devices/virtio/kind.h: struct vdevs), owned by the device level. */
	void *devices_priv;

	/* The screen of the VM's display device (vmm/display.h), or NULL: set by the device
	 * (vm_display_set), read by consumers (vm_display_get). Not owned. */
	const struct display *display;

	int init_done;              /* how many init-table levels succeeded */
	int stopping;               /* atomic: vm_request_stop was called; vCPUs leave their loop */
};

/* Create a VM from cfg (validated by the caller) and load the kernel: every init level up
 * to and including the vCPUs (their threads are not started yet). Returns 0 and *out (free
 * with vm_destroy), or -errno after logging one line naming what failed. */
int vm_create(const struct vm_config *cfg, struct vm **out);

/* Start the vCPU threads and run the control loop until the VM ends. Returns the stop code:
 * 0..255 (exit status), VM_STOP_RESET, or a negative -errno on a host failure (logged). The
 * vCPU threads are stopped and joined before it returns. Call once per VM. */
int vm_run(struct vm *vm);

/* Tear down whatever vm_create built, in reverse order. NULL is allowed. */
void vm_destroy(struct vm *vm);

/* Like vm_destroy, but the kernel's own teardown of the KVM VM (tens of milliseconds of
 * RCU grace periods on some hosts) runs in a detached child process that holds the last
 * reference to the VM fd, so the caller can exit (or build its next VM) at once. The child
 * closes every other fd first (so it holds no pipe or terminal open), waits until this
 * process has closed its own references, and exits when the teardown is done; the caller
 * does not wait for it (it is reparented to init, or to the nearest subreaper, when the
 * caller exits; until then the caller should reap it, e.g. with SIGCHLD ignored). Call on
 * the main thread after vm_run. */
void vm_destroy_detached(struct vm *vm);

/* Ask the VM to stop with code (see vm_run). Any thread; the first request wins. */
void vm_request_stop(struct vm *vm, int code);

/* Fill vm->host (struct device_host) for the base devices, once vm->loop exists: the base
 * level does it; a VM built by hand (tests) calls it before creating devices. */
void vm_host_init(struct vm *vm);


/* Run the output syncs the devices registered (device_host.add_sync): before a message
 * about why the VM ends. Any thread. */
void vm_sync_output(struct vm *vm);

/* --- Device level ---------------------------------------------------------------------
 * The init table's "devices" level calls vm_devices_init(vm) after the base devices and
 * before the kernel is loaded (so it may append to the command line), and teardown calls
 * vm_devices_exit(vm). src/devices/virtio/devices.c builds the devices of --disk, --net
 * and --device from the table of device kinds (devices/virtio/kind.h). */
int vm_devices_init(struct vm *vm);
/* Before any VM is built: every --disk, --net and --device spec of c is taken by a kind,
 * parses, and passes its kind's check (a disk's image exists). 0, or -errno after logging
 * one line naming the spec. Nothing is opened or created. */
int vm_devices_check(const struct vm_config *c);
/* Whether one of c's --disk specs is a drive with removable media (a CD/DVD): the VMM then
 * opens images while it runs (the control socket's media command). */
bool vm_devices_have_media(const struct vm_config *c);
/* Whether one of c's --net specs serves files to the guest (user,tftp=DIR): libslirp's TFTP
 * server then opens them, read-only, while the VMM runs. */
bool vm_devices_serve_files(const struct vm_config *c);
void vm_devices_exit(struct vm *vm);

/* The I/O counters of the VM's disks (virtio-blk and SCSI) and NICs, in --disk / --net
 * order: up to max entries are copied into out (strings point into the device table,
 * valid until vm_devices_exit). Returns how many. Any thread between vm_devices_init and
 * vm_devices_exit (the control loop); no locks (see devices/virtio/stats.h). */
struct vm_disk_stats {
	char name[16];    /* "disk<i>": the i-th --disk */
	char device[32];  /* "virtio-blk<i>" or "virtio-scsi T:L" */
	const char *bus;  /* "virtio-blk" or "scsi" */
	struct vdisk_stats io;
};
struct vm_nic_stats {
	char name[16];        /* "net<i>": the i-th --net */
	char device[32];      /* "virtio-net<i>" */
	const char *backend;  /* "tap", "bridge" or "user" */
	char ifname[16];      /* the TAP interface, or "" */
	uint8_t mac[6];
	struct vnet_stats io;
};
unsigned vm_devices_disk_stats(struct vm *vm, struct vm_disk_stats *out, unsigned max);

/* The VM's drives with removable media (CD/DVD), in --disk order: up to max entries into out
 * (strings point into the device table, valid until the next media change or
 * vm_devices_exit). Returns how many. Main thread (the control loop). */
struct vm_media_info {
	char drive[16];    /* "disk<i>": the i-th --disk (--cdrom counts as one) */
	char device[32];   /* "virtio-scsi T:L" */
	const char *path;  /* the medium's image, or NULL: none */
	uint64_t bytes;    /* its size (2048-byte blocks: bytes / 2048) */
	bool tray_open;
	bool locked;       /* the guest prevents medium removal */
};
unsigned vm_devices_media_list(struct vm *vm, struct vm_media_info *out, unsigned max);
/* The OpenFirmware paths of the VM's PCI devices of one kind, as QEMU writes them into
 * fw_cfg's bootorder (SeaBIOS and OVMF's QemuBootOrderLib match them), one a line to f, in
 * command-line order: VM_BOOT_DISK virtio-blk `/pci@i0cf8/scsi@S/disk@0,0` and SCSI disks,
 * VM_BOOT_CDROM CD/DVD drives (`/pci@i0cf8/scsi@S/channel@0/disk@T,L`), VM_BOOT_NET
 * the NICs on PCI, virtio-net and e1000 (`/pci@i0cf8/ethernet@S/ethernet-phy@0`) (hex).
 * Returns how many. Main thread, after the device level. */
#define VM_BOOT_DISK  2  /* the codes of vm_config.boot_order */
#define VM_BOOT_CDROM 3
#define VM_BOOT_NET   4
unsigned vm_devices_ofw_paths(struct vm *vm, int what, FILE *f);
/* Eject (path NULL; force: even when the guest locked the drive) or insert the image at path
 * in drive ("disk<i>"; NULL: the VM's only drive). Main thread (the control loop).
 * 0, or -errno with a one-line reason in err (-ENOENT: no such drive, -EBUSY: locked by the
 * guest, who is asked to eject; others: the image could not be opened). */
int vm_devices_media(struct vm *vm, const char *drive, const char *path, bool force, char *err,
		     size_t errlen);
unsigned vm_devices_nic_stats(struct vm *vm, struct vm_nic_stats *out, unsigned max);
/* The VM's memory balloon (--device balloon): with target, ask the guest for a balloon of
 * *target bytes (a config-change interrupt); with out, its figures (devices/virtio/balloon.h).
 * Any thread. 0, -ENOENT (no balloon) or -EINVAL (target past guest RAM). */
struct vballoon_info;
int vm_devices_balloon(struct vm *vm, const uint64_t *target, struct vballoon_info *out);

/* --- Memory slots and the display ----------------------------------------------------
 * Slots 0 and 1 are guest RAM (below and above the hole), 2 and 3 the firmware's ROM and
 * flash (arch/x86/firmware.c); a display's framebuffer is VM_SLOT_DISPLAY. */
#define VM_SLOT_DISPLAY 4

/* Map host memory [host, host + size) at guest-physical gpa as KVM memory slot `slot`
 * (size 0: remove the slot), with KVM's dirty page log when log_dirty. The memory stays the
 * caller's and must outlive the slot. A VM without KVM (tests: vm_fd < 0) has no slots:
 * -ENODEV. Any thread. 0 or -errno. */
int vm_mem_slot_set(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host,
		    bool log_dirty);
/* KVM_GET_DIRTY_LOG of a slot mapped with log_dirty: one bit per 4 KiB page of the slot
 * set into bitmap (64-bit words covering the slot), the log cleared. 0 or -errno. */
int vm_mem_slot_dirty(struct vm *vm, uint32_t slot, uint64_t *bitmap);

/* The VM's screen (one display per VM): a display device registers its struct display
 * (valid until it calls vm_display_set(vm, NULL) as it is destroyed); the VNC server and
 * the control socket's screenshot read it. Any thread. */
struct display;
void vm_display_set(struct vm *vm, const struct display *d);
const struct display *vm_display_get(struct vm *vm);

/* Append " s" to the guest kernel command line (before the boot level). Returns 0 or
 * -ENOMEM / -E2BIG. */
int vm_cmdline_append(struct vm *vm, const char *s);

/* --- Interrupts -------------------------------------------------------------------------
 * GSIs 0..23 are the IOAPIC pins (0..15 also the PIC's ISA IRQs; GSI n is IOAPIC pin n, the
 * PIT's GSI 0 included, as the MP table describes). Legacy devices use fixed ISA GSIs (VM_GSI_*); other line-based devices
 * (virtio-mmio, PCI INTx) allocate a free pin. MSI routes get GSIs 24 and up. */

/* Allocate a free IOAPIC pin (GSI 5..23, not one of the fixed ISA lines). Returns 0 and
 * *gsi, or -ENOSPC. */
int vm_irq_alloc(struct vm *vm, uint32_t *gsi);

/* Free a GSI from vm_irq_alloc. */
void vm_irq_free(struct vm *vm, uint32_t gsi);

/* Set the level of a GSI (KVM_IRQ_LINE). For an edge-triggered line, raise then lower.
 * Returns 0 or -errno. */
int vm_irq_line(struct vm *vm, uint32_t gsi, int level);
static inline int vm_irq_raise(struct vm *vm, uint32_t gsi) { return vm_irq_line(vm, gsi, 1); }
static inline int vm_irq_lower(struct vm *vm, uint32_t gsi) { return vm_irq_line(vm, gsi, 0); }

/* Make a write to eventfd efd inject gsi (KVM_IRQFD). With resample_fd >= 0 the line is
 * level-triggered: KVM lowers it on EOI and signals resample_fd. The VM does not own the
 * fds. Returns 0 or -errno. */
int vm_irqfd_add(struct vm *vm, uint32_t gsi, int efd, int resample_fd);
int vm_irqfd_del(struct vm *vm, uint32_t gsi, int efd);

/* Make a guest write of len bytes (1, 2, 4, 8; 0 = any length for MMIO) to addr signal
 * eventfd efd instead of exiting (KVM_IOEVENTFD). pio selects port I/O, else MMIO. With
 * match, only writes of value datamatch. The VM does not own efd. Returns 0 or -errno. */
int vm_ioeventfd_add(struct vm *vm, uint64_t addr, uint32_t len, bool pio, bool match,
		     uint64_t datamatch, int efd);
int vm_ioeventfd_del(struct vm *vm, uint64_t addr, uint32_t len, bool pio, bool match,
		     uint64_t datamatch, int efd);

/* Allocate a GSI routed to the MSI message (addr, data) (KVM_SET_GSI_ROUTING with the
 * whole table). Returns 0 and *gsi, or -errno. Use with vm_irqfd_add for MSI-X vectors. */
int vm_msi_route_add(struct vm *vm, uint64_t addr, uint32_t data, uint32_t *gsi);

/* Point an MSI route at a new message (the guest reprogrammed the vector). 0 or -errno. */
int vm_msi_route_update(struct vm *vm, uint32_t gsi, uint64_t addr, uint32_t data);

/* Remove an MSI route and free its GSI. 0 or -ENOENT. */
int vm_msi_route_del(struct vm *vm, uint32_t gsi);

/* Inject one MSI directly (KVM_SIGNAL_MSI). 0 or -errno. */
int vm_msi_signal(struct vm *vm, uint64_t addr, uint32_t data);

/* --- Coalesced I/O (coalesced.c) ---------------------------------------------------------
 * Writes of a guest to [port, port + len) are queued by KVM instead of exiting (for
 * write-only data registers whose writes have no side effect the guest could observe
 * before its next exit, like a UART's transmit register). They reach the bus handler, in
 * order, before any later exit of any vCPU is handled, or from the control loop within
 * 5-100 ms. Call before the vCPUs start, on the main thread. Returns 0, -ENOTSUP when KVM
 * cannot, or -errno. */
int vm_coalesced_pio_add(struct vm *vm, uint16_t port, uint32_t len);

/* Replay the queued writes on the buses. Any thread. Returns how many were replayed. */
int vm_coalesced_flush(struct vm *vm);

/* Loop thread: more writes are expected soon (e.g. echo after console input); flush at the
 * fast rate again. */
void vm_coalesced_kick(struct vm *vm);

/* Internal to the init table: flush, stop the timer, forget the ring (before the vCPUs'
 * mappings go). */
void vm_coalesced_exit(struct vm *vm);

/* Internal to the init table: set up the routing table (irq.c). 0 or -errno. */
int vm_irq_routing_init(struct vm *vm);

#endif
