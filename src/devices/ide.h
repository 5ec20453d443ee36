/* A PCI IDE controller as Intel's PIIX3 has it (8086:7010, class 01 01 80: both channels in
 * legacy mode, bus-master capable): the primary channel at ports 0x1f0-0x1f7 and 0x3f6 on
 * IRQ 14, the secondary at 0x170-0x177 and 0x376 on IRQ 15, and bus-master DMA (BMIDE: BAR 4,
 * 16 ports) through PRD tables in guest memory. Behind each channel a master and a slave:
 * ATA disks (PIO, READ/WRITE MULTIPLE, DMA, LBA28 and LBA48, CHS for old systems) or ATAPI
 * CD/DVD drives (PACKET, by PIO or DMA). The ATA and ATAPI commands are the code shared with
 * AHCI (ata.h), the CDBs go to the SCSI/MMC code shared with virtio-scsi.
 *
 * Threads: the ports are read and written from vCPU threads under d->lock; disk I/O and
 * DMA run on the controller's own I/O thread, never a vCPU's, never under the lock (a
 * command shows BSY meanwhile). A PIO transfer moves through a 2 KiB window per channel,
 * which is all the state a transfer has between two DRQ blocks (so it is saved whole):
 * READ/WRITE MULTIPLE blocks are at most 4 sectors, an ATAPI READ goes one 2 KiB block per
 * DRQ, other ATAPI replies are cut to 2 KiB (their allocation lengths allow it). */
#ifndef VSRV_DEVICES_IDE_H
#define VSRV_DEVICES_IDE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/ata.h"
#include "devices/pci.h"
#include "devices/virtio/scsi_emu.h"
#include "devices/virtio/scsi_mmc.h"
#include "devices/virtio/stats.h"
#include "disk/disk.h"
#include "vmm/bus.h"
#include "vmm/mem.h"

#define IDE_CHANNELS 2
#define IDE_UNITS 4              /* channel * 2 + (0 master, 1 slave) */
#define IDE_WINDOW 2048          /* the PIO window of a channel */
#define IDE_MAX_MULTIPLE 4       /* sectors per READ/WRITE MULTIPLE block */
#define IDE_PRIMARY 0x1f0
#define IDE_SECONDARY 0x170
#define IDE_CTL_OFF 0x206        /* device control / alternate status: base + 0x206 */
#define IDE_IRQ_PRIMARY 14
#define IDE_IRQ_SECONDARY 15
#define IDE_BM_SIZE 16

/* Device control register */
#define IDE_CTL_NIEN 0x02
#define IDE_CTL_SRST 0x04
#define IDE_CTL_HOB 0x80

/* Bus-master registers, per channel at BAR 4 + channel * 8 */
#define BM_CMD 0
#define BM_STATUS 2
#define BM_PRD 4
#define BM_CMD_START 0x01
#define BM_CMD_READ 0x08         /* the device writes memory (a read command) */
#define BM_ST_ACTIVE 0x01
#define BM_ST_ERROR 0x02
#define BM_ST_INTR 0x04
#define BM_ST_CAP 0x60           /* drive 0/1 DMA capable (software's bits) */
#define IDE_PRD_MAX 8192         /* entries looked at per transfer (one 64 KiB table) */

enum ide_drive { IDE_NONE, IDE_DISK, IDE_CD };

/* What a channel is doing (struct ide_channel_state.xfer). */
enum ide_xfer {
	X_IDLE,
	X_EXEC,      /* the I/O thread runs the command (BSY) */
	X_PIO_IN,    /* the guest reads the window */
	X_NEXT_IN,   /* the I/O thread fills the window with the next block (BSY) */
	X_PIO_OUT,   /* the guest writes the window */
	X_WRITE,     /* the I/O thread writes the window out (BSY) */
	X_PACKET,    /* the guest writes the 12-byte ATAPI packet */
	X_DMA_WAIT,  /* a DMA command waits for the bus master's start bit */
	X_DMA,       /* the I/O thread moves its data (BSY) */
	X_MAX
};

/* A drive's own state. */
struct ide_drive_state {
	uint8_t status, error;
	uint8_t wcache, xfer_mode, sense_valid;
	uint8_t sense[SCSI_SENSE_LEN];
	uint8_t multiple;          /* READ/WRITE MULTIPLE block (0: not set) */
	uint8_t tray_open, prevent, event, ua_asc, ua_ascq; /* a CD drive's (scsi_mmc) */
	uint8_t reserved;
	uint16_t cyls, heads, spt; /* INITIALIZE DEVICE PARAMETERS (heads 0: not set) */
};

/* A channel's registers and transfer: what save keeps. */
/* A drive's task file: a write reaches both drives', a read the selected one's (after a
 * reset each shows its own signature). */
struct ide_tf {
	uint8_t feature, nsect, lbal, lbam, lbah;
	uint8_t hob_feature, hob_nsect, hob_lbal, hob_lbam, hob_lbah; /* written before */
};

struct ide_channel_state {
	struct ide_tf tf[2];        /* master's, slave's */
	uint8_t select;             /* device/head: bit 4 the drive, bit 6 LBA, 3:0 head / LBA */
	uint8_t ctl;                /* device control */
	uint8_t irq;                /* INTRQ pending (cleared by a status read) */
	uint8_t bm_cmd, bm_status;
	uint8_t xfer;               /* enum ide_xfer */
	uint8_t cmd;                /* the command running */
	uint8_t unit;               /* its drive (0 master, 1 slave) */
	uint8_t write;              /* its data goes to the drive */
	uint8_t atapi_dma;          /* a PACKET command's data by DMA */
	uint8_t reserved[2];
	uint32_t bm_prd;            /* PRD table address */
	uint64_t lba;               /* the transfer's next sector (an ATAPI READ: CD block) */
	uint32_t left;              /* sectors (CD blocks) not moved yet */
	uint16_t pos, end, fill;    /* window: next byte, end of this DRQ block, bytes valid */
	uint16_t limit;             /* ATAPI byte count limit */
	uint8_t acmd[16];           /* the ATAPI packet */
	uint8_t buf[IDE_WINDOW];
};

struct ide_state {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t drive[IDE_UNITS];   /* enum ide_drive per unit (checked on restore) */
	uint32_t reserved;
	struct ide_channel_state ch[IDE_CHANNELS];
	struct ide_drive_state dr[IDE_UNITS];
};

struct ide;

struct ide_unit {
	struct ide *ide;
	unsigned idx;                /* channel * 2 + unit */
	enum ide_drive drive;
	struct disk *disk;           /* borrowed; NULL: no drive or an empty CD drive */
	struct ide_drive_state r;
	struct scsi_lun lun;         /* a CD drive's, for the MMC code */
	struct scsi_mmc mmc;
	char serial[21], model[41];
	struct vdisk_stats st;       /* bumped by the I/O thread */
};

struct ide_channel {
	struct ide *ide;
	unsigned idx;
	struct ide_channel_state r;
	uint32_t gen;                /* bumped by resets: results of older work are dropped */
	bool busy;                   /* the I/O thread works for it now */
	int level;                   /* the IRQ line as last set */
};

/* The VMM's interrupt lines (KVM_IRQ_LINE); NULL irq_line in tests: the level is kept in
 * each channel's level for the test to read. */
struct ide_irq_host {
	void *vm;
	int (*irq_line)(void *vm, uint32_t gsi, int level);
};

struct ide {
	struct pci_dev pci;
	struct pci_host *host;       /* borrowed */
	struct bus *pio;             /* borrowed: the legacy ports are on it */
	struct guest_mem *mem;       /* borrowed */
	struct ide_irq_host irq;
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	pthread_t thread;
	bool started, stop, ports;
	unsigned paused;             /* quiesce depth */
	bool running;                /* the I/O thread works now */
	struct ide_channel ch[IDE_CHANNELS];
	struct ide_unit unit[IDE_UNITS];
	uint64_t irqs;               /* interrupts raised (tests) */
	char name[16];
};

/* Create a controller for guest memory mem (borrowed), put it on PCI host h (the first free
 * slot) and claim the legacy ports on pio; irq may be NULL (no KVM). Drives are attached
 * with ide_attach before ide_start. 0 and *out (free with ide_destroy), or -errno (-EEXIST:
 * a legacy port is taken). */
int ide_create(struct pci_host *h, struct bus *pio, struct guest_mem *mem,
	       const struct ide_irq_host *irq, struct ide **out);
/* Put drive (IDE_DISK: disk required; IDE_CD: disk may be NULL) at unit (channel * 2 +
 * slave); disk is borrowed until ide_destroy. serial: up to 20 characters. 0, -EINVAL or
 * -EBUSY (the unit has a drive). */
int ide_attach(struct ide *d, unsigned unit, enum ide_drive drive, struct disk *disk,
	       const char *serial);
/* Start the I/O thread. 0 or -errno. */
int ide_start(struct ide *d);
/* Stop the thread, take the ports and the function off their buses, free. NULL allowed. */
void ide_destroy(struct ide *d);

/* Stop taking work and wait until none runs (nesting); ports keep working, a command the
 * guest issues meanwhile stays BSY. ide_resume undoes one ide_quiesce. */
void ide_quiesce(struct ide *d);
void ide_resume(struct ide *d);

/* The whole state (quiesced around the copy), and back into a controller with the same
 * drives: 0, or -EINVAL with d unchanged; ide_state_check: whether ide_restore would take
 * st, changing nothing. */
void ide_save(struct ide *d, struct ide_state *st);
int ide_restore(struct ide *d, const struct ide_state *st);
int ide_state_check(struct ide *d, const struct ide_state *st);

/* Port handlers (for the fuzz target and tests): a channel's command block (offset 0-7), its
 * control block (offset 0: device control / alternate status) and the bus-master BAR. */
void ide_cmd_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void ide_ctl_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void ide_bm_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
/* Run the work that is ready now on the calling thread (the I/O thread's; for the fuzz
 * target and tests without a thread). */
void ide_run(struct ide *d);

/* --- internal: ide.c for ide_cmd.c --- */

/* Under the lock: raise the channel's interrupt (and the bus master's INTR bit). */
void ide_irq_raise(struct ide_channel *c);
/* Under the lock: set the IRQ line to what the channel's registers say (after a restore). */
void ide_irq_sync(struct ide_channel *c);
/* Under the lock: wake the I/O thread. */
void ide_kick(struct ide *d);
/* ide_cmd.c: a command written to the channel (under the lock); the PIO window ran out
 * (a block read or written by the guest, a packet complete); the I/O thread's work for c. */
void ide_cmd_start(struct ide_channel *c, uint8_t cmd);
void ide_window_done(struct ide_channel *c);
void ide_work(struct ide_channel *c);
void ide_unit_view(struct ide_unit *u, struct ata_dev *v);
/* The selected drive of c, or NULL when none is there. */
struct ide_unit *ide_selected(struct ide_channel *c);
/* A drive's state after power-on or a reset (its signature in the channel's task file). */
void ide_unit_reset(struct ide_unit *u, bool hard);
void ide_signature(struct ide_channel *c, struct ide_unit *u);

#endif
