/* SCSI block command emulation for one logical unit (SPC-3/SBC-3 subset) on the block
 * layer, independent of the transport: virtio-scsi hands it a CDB and the data buffers.
 * Commands: TEST UNIT READY, REQUEST SENSE, INQUIRY (standard and VPD 0x00, 0x80, 0x83,
 * 0xb0, 0xb1, 0xb2), REPORT LUNS, READ CAPACITY 10/16, READ/WRITE 6/10/16, SYNCHRONIZE
 * CACHE 10/16, UNMAP, WRITE SAME 10/16, MODE SENSE 6/10, START STOP UNIT, VERIFY 10/16;
 * anything else ends with CHECK CONDITION, ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE.
 * A LUN with an mmc part is a read-only CD/DVD drive instead: its commands are MMC's
 * (scsi_mmc.h), with INQUIRY and REPORT LUNS shared. Any transport that hands over CDBs
 * (virtio-scsi, ATAPI) uses the same code.
 * Runs synchronously (call it from an I/O thread, never a vCPU thread). */
#ifndef VSRV_DEVICES_VIRTIO_SCSI_EMU_H
#define VSRV_DEVICES_VIRTIO_SCSI_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/stats.h"
#include "disk/disk.h"

#define SCSI_GOOD 0x00
#define SCSI_CHECK_CONDITION 0x02

#define SK_NO_SENSE 0x0
#define SK_NOT_READY 0x2
#define SK_MEDIUM_ERROR 0x3
#define SK_ILLEGAL_REQUEST 0x5
#define SK_UNIT_ATTENTION 0x6
#define SK_DATA_PROTECT 0x7

#define SCSI_SENSE_LEN 18
#define SCSI_MAX_LUNS 8

struct scsi_mmc;

struct scsi_lun {
	/* borrowed; NULL for a LUN that does not exist (a disk) or has no medium (a CD) */
	struct disk *disk;
	uint64_t nblocks;    /* 512-byte blocks (a CD: its medium's, a multiple of 4) */
	bool readonly;
	char serial[24];     /* unit serial number (VPD 0x80), NUL-terminated */
	uint64_t naa;        /* NAA identifier for VPD 0x83 */
	struct vdisk_stats st; /* bumped by scsi_exec (its one I/O thread); not saved */
	/* A pending UNIT ATTENTION condition (additional sense code and qualifier; asc 0 is
	 * none), set by a reset: the next command other than INQUIRY, REPORT LUNS and REQUEST
	 * SENSE ends with CHECK CONDITION and this sense, REQUEST SENSE returns it; both clear
	 * it (SPC-3 5.8.7, one initiator). Saved state. */
	uint8_t ua_asc, ua_ascq;
	struct scsi_mmc *mmc; /* borrowed: a CD/DVD drive's own state (scsi_mmc.h), or NULL */
};

/* Whether l is a logical unit (a disk, or a CD/DVD drive with or without a medium). */
static inline bool scsi_lun_present(const struct scsi_lun *l)
{
	return l->disk || l->mmc;
}

/* Data buffers of a command: a list of iovecs and their total length. */
struct scsi_buf {
	const struct iovec *iov;
	int n;
	size_t len;
};

struct scsi_result {
	uint8_t status;                 /* SCSI_GOOD or SCSI_CHECK_CONDITION */
	uint8_t sense[SCSI_SENSE_LEN];  /* fixed-format sense when CHECK CONDITION */
	uint32_t sense_len;
	size_t in_done;                 /* bytes transferred to the initiator (data-in) */
};

/* Execute one command on LUN number lun_id of a target whose LUNs are luns[0..nluns)
 * (luns[i].disk NULL = absent; REPORT LUNS lists the present ones). out: data from the
 * initiator (WRITE, UNMAP, ...), in: buffers for data to the initiator. */
void scsi_exec(struct scsi_lun *luns, unsigned nluns, unsigned lun_id, const uint8_t *cdb,
	       size_t cdb_len, const struct scsi_buf *out, const struct scsi_buf *in,
	       struct scsi_result *res);

/* Fill a fixed-format sense buffer. */
void scsi_set_sense(struct scsi_result *res, uint8_t key, uint8_t asc, uint8_t ascq);

/* For the command sets (scsi_mmc.c). Copy len bytes of src to the data-in buffers, at most
 * alloc (the CDB's allocation length) and what they hold; sets res->in_done. */
void scsi_reply(const struct scsi_buf *in, const void *src, size_t len, size_t alloc,
		struct scsi_result *res);
/* Read nb 512-byte blocks at lba of l->disk into the data-in buffers (range checked against
 * l->nblocks; counted in l->st): GOOD, or the sense of the failure in res. */
void scsi_read_blocks(struct scsi_lun *l, uint64_t lba, uint32_t nb, const struct scsi_buf *in,
		      struct scsi_result *res);

#endif
