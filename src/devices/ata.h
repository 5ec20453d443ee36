/* The ATA (ATA8-ACS) and ATAPI command code shared by the AHCI and IDE controllers: one
 * implementation of IDENTIFY (DEVICE and PACKET DEVICE), READ/WRITE (DMA, PIO, MULTIPLE,
 * LBA28 and LBA48), FLUSH CACHE, SET FEATURES, READ VERIFY, DATA SET MANAGEMENT, and PACKET
 * for a CD/DVD drive (its CDBs go to the SCSI/MMC code, scsi_emu.h / scsi_mmc.h, with the
 * sense of the last failed one kept for REQUEST SENSE). The transport hands over a command
 * as a task file in the layout of a SATA register FIS (H2D) and the data buffers (an AHCI
 * command's PRDs, an IDE bus-master table's or a PIO bounce buffer), and keeps what is its
 * own (NCQ and its log on AHCI; SET MULTIPLE, the PIO state machine and the device control
 * register on IDE). Runs synchronously on the transport's I/O thread, never a vCPU's. */
#ifndef VSRV_DEVICES_ATA_H
#define VSRV_DEVICES_ATA_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/scsi_emu.h"
#include "devices/virtio/stats.h"
#include "disk/disk.h"
#include "vmm/mem.h"

/* ATA status and error bits */
#define ATA_ERR 0x01
#define ATA_DRQ 0x08
#define ATA_DSC 0x10
#define ATA_DF 0x20
#define ATA_DRDY 0x40
#define ATA_BSY 0x80
#define ATA_E_ABRT 0x04
#define ATA_E_IDNF 0x10
#define ATA_E_UNC 0x40

/* Offsets of the task file in a register FIS (what ata_cmd.tf holds) */
#define ATA_TF_CMD 2
#define ATA_TF_FEAT 3
#define ATA_TF_LBA0 4   /* 4..6: LBA 7:0, 15:8, 23:16 */
#define ATA_TF_DEV 7
#define ATA_TF_LBA3 8   /* 8..10: LBA 31:24, 39:32, 47:40 */
#define ATA_TF_FEAT_EXP 11
#define ATA_TF_COUNT 12 /* 12..13: count 7:0, 15:8 */

/* A drive as the command code sees it, filled by the transport for each command: the
 * pointers are the transport's (its saved state, its lock), borrowed for the call. */
struct ata_dev {
	bool cd;                  /* an ATAPI CD/DVD drive (else a disk) */
	struct disk *disk;        /* a disk's image; NULL on a CD drive (lun has its medium) */
	bool trim;                /* DATA SET MANAGEMENT is offered (the image can discard) */
	unsigned queue_depth;     /* NCQ: IDENTIFY words 75 and 76 (0: no NCQ) */
	uint8_t multiple;         /* READ/WRITE MULTIPLE block set (IDENTIFY word 59; 0: none) */
	uint8_t max_multiple;     /* its largest (IDENTIFY word 47; 0: 16, any count moves) */
	bool sata;                /* IDENTIFY word 76: SATA speeds (else parallel ATA) */
	/* the CHS translation in use (INITIALIZE DEVICE PARAMETERS; IDENTIFY words 54-58),
	 * or 0 heads: not reported */
	uint16_t cur_cyls, cur_heads, cur_spt;
	uint8_t *wcache;          /* saved state: the write cache is on */
	uint8_t *xfer_mode;       /* SET FEATURES 03h: the mode chosen (0: default) */
	uint8_t *sense_valid;     /* ATAPI: sense holds the last failed PACKET command's */
	uint8_t *sense;           /* SCSI_SENSE_LEN bytes */
	pthread_mutex_t *lock;    /* guards sense_valid and sense */
	struct guest_mem *mem;    /* for dirty tracking of the buffers (outside RAM: ignored) */
	struct scsi_lun *lun;     /* a CD drive's, for the MMC code */
	const char *serial, *model;
	struct vdisk_stats *st;
};

/* One command. */
struct ata_cmd {
	uint8_t *tf;              /* 20 bytes, a register FIS's layout; results written back
				   * (READ NATIVE MAX's LBA, a device signature) */
	const uint8_t *acmd;      /* PACKET: the 16-byte CDB */
	bool write;               /* PACKET: data from the host */
	struct iovec *iov;        /* the data buffers */
	int niov;
	uint64_t buf_bytes;       /* what they hold */
	/* results */
	uint8_t status, error;    /* the task file's at the end */
	uint32_t done;            /* bytes moved */
	bool overflow;            /* the device would move more than the buffers hold */
	bool pio;                 /* a PIO data-in command (AHCI: a PIO setup FIS) */
};

/* Execute c on d: true, with c's results set; false: a command this code does not know
 * (the transport's own, or aborted by it). Called with none of the transport's locks. */
bool ata_exec(const struct ata_dev *d, struct ata_cmd *c);
/* READ or WRITE of count sectors at lba through c's buffers (fua: flush after). */
void ata_rw(const struct ata_dev *d, struct ata_cmd *c, uint64_t lba, uint32_t count,
	    bool write, bool fua);
/* The end of a transfer that went around ata_rw (on io_uring): account it, flush if the
 * cache is off or fua; the status in c. */
void ata_rw_done(const struct ata_dev *d, struct ata_cmd *c, size_t len, bool write, bool fua);
/* The first len bytes of iov[0..n) as an iovec list in out (at most n entries): the count,
 * or -1 when they hold less. */
int ata_iov_slice(const struct iovec *iov, int n, size_t len, struct iovec *out);
/* Copy len bytes of src into c's buffers: the bytes copied. */
size_t ata_to_buf(const struct ata_dev *d, struct ata_cmd *c, const void *src, size_t len);
void ata_ok(struct ata_cmd *c);
void ata_fail(struct ata_cmd *c, uint8_t error);
uint64_t ata_tf_lba48(const uint8_t *tf);
uint64_t ata_tf_lba28(const uint8_t *tf);
/* 512-byte sectors of d's disk (0 without one). */
uint64_t ata_sectors(const struct ata_dev *d);

#endif
