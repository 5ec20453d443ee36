/* An AHCI 1.3 SATA controller as Intel's ICH9 has it (8086:2922, class 01 06 01), at the PCI
 * address firmware and in-box drivers expect (00:1f.2): the registers of ABAR (BAR 5, generic
 * host control and six ports), the command lists, command tables and PRD tables a driver
 * builds in guest memory, the FISes the HBA writes back into each port's received-FIS area,
 * and MSI. Behind each port: a SATA disk (ATA/ATA8-ACS commands on the block layer, NCQ,
 * TRIM where the image can discard) or an ATAPI CD/DVD drive whose PACKET commands go to the
 * shared SCSI/MMC command code (scsi_emu.h, scsi_mmc.h), the same the virtio-scsi CD uses.
 *
 * Threads: registers are read and written from vCPU threads (the ABAR handler) under
 * a->lock; commands run on the controller's own I/O thread (guest memory, disk I/O), never on
 * a vCPU thread, and never under the lock. */
#ifndef VSRV_DEVICES_AHCI_H
#define VSRV_DEVICES_AHCI_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/ata.h"
#include "devices/pci.h"
#include "devices/virtio/scsi_emu.h"
#include "devices/virtio/scsi_mmc.h"
#include "devices/virtio/stats.h"
#include "disk/disk.h"
#include "vmm/mem.h"

#define AHCI_PORTS 6        /* ICH9's */
#define AHCI_SLOTS 32
#define AHCI_ABAR_SIZE 0x1000
#define AHCI_SLOT 0x1f      /* 00:1f.2 */
#define AHCI_FN 2

/* HBA registers */
#define AHCI_CAP 0x00
#define AHCI_GHC 0x04
#define AHCI_IS 0x08
#define AHCI_PI 0x0c
#define AHCI_VS 0x10
#define AHCI_CAP2 0x24
#define AHCI_GHC_HR (1u << 0)
#define AHCI_GHC_IE (1u << 1)
#define AHCI_GHC_AE (1u << 31)

/* Port registers, at 0x100 + port * 0x80 */
#define AHCI_PORT(p) (0x100 + (p) * 0x80)
#define PX_CLB 0x00
#define PX_CLBU 0x04
#define PX_FB 0x08
#define PX_FBU 0x0c
#define PX_IS 0x10
#define PX_IE 0x14
#define PX_CMD 0x18
#define PX_TFD 0x20
#define PX_SIG 0x24
#define PX_SSTS 0x28
#define PX_SCTL 0x2c
#define PX_SERR 0x30
#define PX_SACT 0x34
#define PX_CI 0x38
#define PX_SNTF 0x3c

#define PX_CMD_ST (1u << 0)
#define PX_CMD_SUD (1u << 1)
#define PX_CMD_POD (1u << 2)
#define PX_CMD_CLO (1u << 3)
#define PX_CMD_FRE (1u << 4)
#define PX_CMD_FR (1u << 14)
#define PX_CMD_CR (1u << 15)
#define PX_CMD_ATAPI (1u << 24)

#define PX_IS_DHRS (1u << 0)  /* D2H register FIS with I */
#define PX_IS_PSS (1u << 1)   /* PIO setup FIS with I */
#define PX_IS_SDBS (1u << 3)  /* set device bits FIS with I */
#define PX_IS_UFS (1u << 4)
#define PX_IS_DPS (1u << 5)   /* a PRD with I was processed */
#define PX_IS_OFS (1u << 24)  /* overflow: more data than the PRDs hold */
#define PX_IS_IFS (1u << 27)  /* interface fatal */
#define PX_IS_HBDS (1u << 28) /* host bus data error */
#define PX_IS_HBFS (1u << 29) /* host bus fatal error */
#define PX_IS_TFES (1u << 30) /* task file error */
#define PX_IS_FATAL (PX_IS_OFS | PX_IS_IFS | PX_IS_HBDS | PX_IS_HBFS | PX_IS_TFES)

#define AHCI_SIG_DISK 0x00000101u
#define AHCI_SIG_ATAPI 0xeb140101u

/* FIS types */
#define FIS_H2D 0x27
#define FIS_D2H 0x34
#define FIS_SDB 0xa1
#define FIS_PIO 0x5f

/* Received-FIS area offsets */
#define RFIS_PIO 0x20
#define RFIS_D2H 0x40
#define RFIS_SDB 0x58

enum ahci_drive { AHCI_NONE, AHCI_DISK, AHCI_CD };

/* A port's guest-visible registers and its device's state: what save keeps. */
struct ahci_port_state {
	uint32_t clb, clbu, fb, fbu, is, ie, cmd, tfd, sig, ssts, sctl, serr, sact, ci, sntf;
	uint8_t halted;      /* an error stopped the command list (until ST goes 0) */
	uint8_t wcache;      /* SET FEATURES: the write cache is on (the default) */
	uint8_t xfer_mode;   /* SET FEATURES 03h: the transfer mode chosen (0: default) */
	uint8_t sense_valid; /* ATAPI: sense holds the last failed PACKET command's */
	uint8_t sense[SCSI_SENSE_LEN];
	uint8_t ncq_err;     /* the tag of the last failed NCQ command + 1 (0: none), for */
	uint8_t ncq_status;  /* READ LOG EXT page 10h, with its status and error */
	uint8_t ncq_error;
	uint8_t tray_open, prevent, event; /* a CD/DVD drive's (struct scsi_mmc) */
	uint8_t ua_asc, ua_ascq;           /* and its pending unit attention */
	uint8_t reserved[2];
};

struct ahci_state {
	uint8_t cfg[PCI_CFG_SIZE];  /* the controller's PCI config space (BAR, MSI) */
	uint32_t ghc, is;
	uint32_t nports;            /* the drives it was made with (a check on restore) */
	uint8_t drive[AHCI_PORTS];  /* enum ahci_drive per port (checked on restore) */
	uint8_t reserved[2];
	struct ahci_port_state port[AHCI_PORTS];
};

struct ahci;

struct ahci_port {
	struct ahci *hba;
	unsigned idx;
	enum ahci_drive drive;
	struct disk *disk;       /* borrowed; NULL for none (an empty CD drive) */
	bool trim;               /* the image can discard: DATA SET MANAGEMENT is offered */
	struct ahci_port_state r;
	uint32_t busy;           /* slots the I/O thread runs now */
	uint32_t ev;             /* PxIS causes not signalled yet */
	uint32_t gen;            /* bumped by resets: results of older commands are dropped */
	struct scsi_lun lun;     /* a CD/DVD drive's, for the MMC code */
	struct scsi_mmc mmc;
	char serial[21], model[41];
	struct vdisk_stats st;   /* bumped by the I/O thread */
};

/* What the VMM hands the controller for interrupts (KVM's; NULL callbacks in tests: the
 * interrupt eventfd is only written). */
struct ahci_irq_host {
	void *vm;
	int (*irqfd)(void *vm, int efd, uint32_t gsi, bool assign);
	int (*msi_route)(void *vm, uint32_t *gsi, uint64_t addr, uint32_t data);
};

struct ahci {
	struct pci_dev pci;        /* 00:1f.2 */
	/* 00:1f.0, function 0 of the slot (config space only), when the slot has none yet
	 * (the firmware layout's ICH9 LPC bridge is there already) */
	struct pci_dev lpc;
	bool lpc_added;
	struct pci_host *host;     /* borrowed */
	struct guest_mem *mem;     /* borrowed */
	struct ahci_irq_host irq;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	pthread_t thread;
	bool started, stop;
	unsigned paused;           /* quiesce depth */
	bool running;              /* the I/O thread is busy (a command, or some on io_uring) */
	int kick_fd;               /* eventfd: wakes the I/O thread (CI written, resume, stop) */
	struct io_uring ring;      /* NCQ reads and writes of raw images and fixed VHDs */
	bool uring_ok;
	unsigned inflight;         /* commands on the ring */
	uint64_t ring_cmds;        /* commands that went through the ring (tests) */
	uint32_t ghc, is;
	struct ahci_port port[AHCI_PORTS];
	unsigned nports;           /* ports with a drive (0..nports-1) */
	int irq_fd;                /* eventfd: MSI (an irqfd under KVM) */
	uint32_t msi_gsi;
	uint64_t msi_addr;
	uint32_t msi_data;
	bool msi_routed;
	uint8_t msi_cap;           /* its offset in config space */
	uint64_t irqs;             /* interrupts raised (tests) */
	char name[32];
};

/* Create a controller for guest memory mem (borrowed) and put it on PCI host h at 00:1f.2
 * (with a placeholder ISA bridge as function 0 at 00:1f.0 unless a function is there
 * already, as the ICH9 LPC bridge of the firmware layout); irq may be NULL (no KVM).
 * Drives are attached with ahci_attach before ahci_start. Returns 0 and *out (free with
 * ahci_destroy), or -errno (-EBUSY: 00:1f.2 is taken). */
int ahci_create(struct pci_host *h, struct guest_mem *mem, const struct ahci_irq_host *irq,
		struct ahci **out);
/* Put drive (AHCI_DISK: disk required; AHCI_CD: disk may be NULL, an empty drive) on the next
 * port; disk is borrowed until ahci_destroy. serial: up to 20 characters. 0, or -ENOSPC. */
int ahci_attach(struct ahci *a, enum ahci_drive drive, struct disk *disk, const char *serial);
/* Start the I/O thread. 0 or -errno. */
int ahci_start(struct ahci *a);
/* Stop the thread, take the functions off the bus, free. NULL allowed. */
void ahci_destroy(struct ahci *a);

/* Stop taking commands and wait until none runs (nesting); registers keep working, a command
 * the guest issues meanwhile waits. ahci_resume undoes one ahci_quiesce. */
void ahci_quiesce(struct ahci *a);
void ahci_resume(struct ahci *a);

/* The whole state (quiesced around the copy), and back into a controller made with the same
 * drives: 0, or -EINVAL with a unchanged. Commands pending in CI run after the restore.
 * ahci_state_check: whether ahci_restore would take st (0 or -EINVAL), changing nothing. */
void ahci_save(struct ahci *a, struct ahci_state *st);
int ahci_restore(struct ahci *a, const struct ahci_state *st);
int ahci_state_check(struct ahci *a, const struct ahci_state *st);

/* The ABAR handler (for the fuzz target and tests that bypass PCI). */
void ahci_mmio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
/* Run every command that is ready now, on the calling thread (the I/O thread's work; for the
 * fuzz target, which has no thread). */
void ahci_run(struct ahci *a);

/* --- internal --- */

/* Route the MSI capability as the guest set it (a change only), under the PCI host's lock
 * or with the guest stopped (ahci_state.c's restore). */
void ahci_msi_update(struct ahci *a);

/* ahci.c, for the command walker (ahci_cmd.c): */

/* Wake the I/O thread. */
void ahci_kick(struct ahci *a);
/* Under a->lock: the HBA's IS from its ports, and a message when a new cause arrived. */
void ahci_irq_update(struct ahci *a, bool edge);
/* Cause bits of PxIS arrive (under the lock): the next ahci_irq_update signals them. */
void ahci_port_event(struct ahci_port *p, uint32_t bits);
bool ahci_port_present(const struct ahci_port *p);
/* The FISes written to a port's received-FIS area. */
void ahci_d2h_fis(struct ahci_port *p, const uint8_t *h2d, uint8_t status, uint8_t error,
		  bool intr);
void ahci_pio_fis(struct ahci_port *p, const uint8_t *h2d, uint8_t status, uint32_t count);
void ahci_sdb_fis(struct ahci_port *p, uint32_t done, uint8_t status, uint8_t error);

/* ahci_cmd.c: the I/O thread (pthread_create's start routine, ahci_start). */
void *ahci_io_thread(void *arg);

/* ahci_ata.c, called by the command walker: */

/* One command being run: its header, table and the data buffers the PRDs describe. */
struct ahci_cmd {
	struct ahci_port *p;
	unsigned slot;
	uint64_t clb;             /* the command list it came from */
	uint32_t gen;             /* the port's generation when it was taken */
	uint32_t load_is;         /* PxIS bits of a command list or table the HBA cannot read */
	struct iovec *dio;        /* an NCQ transfer's PRDs cut to its length (io_uring) */
	int ndio;
	uint64_t lba;
	uint32_t count;
	uint8_t fis[20];          /* the H2D register FIS */
	uint8_t acmd[16];         /* ATAPI command */
	bool write;               /* header W: data from the host */
	bool ncq;
	struct iovec *iov;        /* the PRDs as host buffers */
	int niov;
	uint64_t prd_bytes;       /* what they hold */
	bool prd_intr;            /* a PRD has I set */
	/* results */
	uint8_t status, error;
	uint32_t done;            /* bytes moved (PRDBC) */
	uint32_t is;              /* fatal PxIS bits (HBDS, OFS) */
	bool pio;                 /* a PIO data-in command: PIO setup FIS instead of D2H */
};

/* Execute c (an ATA command, or PACKET for a CD/DVD drive); sets its results. */
void ahci_ata_exec(struct ahci_cmd *c);
/* Whether the FIS is a queued (NCQ) read or write. */
bool ahci_ata_is_ncq(const uint8_t *fis);
/* An NCQ command that can go to io_uring as it is (a disk with direct_fd, in range, PRDs
 * holding the transfer): fills c->lba, count, dio and ndio and returns true; false: run it
 * with ahci_ata_exec (which also reports its errors). */
bool ahci_ata_async_prep(struct ahci_cmd *c);
/* The end of such a command: res is the ring's result (bytes or -errno); a short or failed
 * transfer is done again through the disk layer. Sets c's results. */
void ahci_ata_async_done(struct ahci_cmd *c, int res);

#endif
