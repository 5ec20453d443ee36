/* A read-only CD/DVD drive (MMC-6 subset) on the SCSI command emulation (scsi_emu.h): a
 * struct scsi_lun whose mmc points to a struct scsi_mmc, its disk to the medium's image (or
 * NULL), 2048-byte logical blocks. The transport hands CDBs to scsi_exec as for a disk
 * (virtio-scsi today; the ATAPI of AHCI and IDE takes the same path).
 *
 * Commands: INQUIRY (peripheral type 5, removable), REPORT LUNS, TEST UNIT READY, REQUEST
 * SENSE, READ CAPACITY(10), READ(10), READ(12), READ CD (user data), SEEK(10), READ TOC/PMA/
 * ATIP (formats 0 and 1, LBA and MSF), GET CONFIGURATION (profiles CD-ROM and DVD-ROM; the
 * current one by the medium's size), GET EVENT STATUS NOTIFICATION (polled, media class),
 * MODE SENSE(6/10) (pages 0x01, 0x0d, 0x2a, 0x3f), READ DISC INFORMATION, READ TRACK
 * INFORMATION, MECHANISM STATUS, PREVENT ALLOW MEDIUM REMOVAL, START STOP UNIT (LoEj),
 * SET CD SPEED, READ DVD STRUCTURE (formats 0 and 1), SYNCHRONIZE CACHE. Commands that
 * write end with DATA PROTECT, WRITE PROTECTED (07/27/00); without a medium, those that need
 * one with NOT READY, MEDIUM NOT PRESENT (02/3A/01 tray closed, 02/3A/02 tray open). A medium
 * change leaves one UNIT ATTENTION, NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED
 * (06/28/00) and a media event for GET EVENT STATUS NOTIFICATION.
 *
 * Threads: everything here runs on the one thread that executes the LUN's commands, or with
 * that thread quiesced (the media changes of scsi_mmc_load / scsi_mmc_unload). */
#ifndef VSRV_DEVICES_VIRTIO_SCSI_MMC_H
#define VSRV_DEVICES_VIRTIO_SCSI_MMC_H

#include "devices/virtio/scsi_emu.h"

#define MMC_BLOCK 2048u
/* A medium above an 80-minute CD's 360000 blocks is a DVD (GET CONFIGURATION's current
 * profile, READ DVD STRUCTURE, the TOC's disc type). */
#define MMC_CD_MAX_BLOCKS 360000u

/* Media event codes of GET EVENT STATUS NOTIFICATION (MMC-6 table 5.27). */
enum mmc_media_event {
	MMC_EV_NONE = 0,
	MMC_EV_EJECT_REQUEST = 1, /* the host asked to eject a locked drive */
	MMC_EV_NEW_MEDIA = 2,
	MMC_EV_MEDIA_REMOVAL = 3,
};

struct scsi_mmc {
	bool tray_open;
	bool prevent;        /* PREVENT ALLOW MEDIUM REMOVAL: the guest locked the tray */
	uint8_t event;       /* the pending media event (enum mmc_media_event), reported once */
};

/* Make l (zeroed but for its serial and naa) a CD/DVD drive with state m (borrowed) and
 * medium disk (borrowed, or NULL for an empty drive; see scsi_mmc_blocks), tray closed, no
 * event pending. */
void scsi_mmc_init(struct scsi_lun *l, struct scsi_mmc *m, struct disk *disk);

/* The 2048-byte blocks of an image of bytes bytes (rounded down: a tail shorter than a
 * block is not on the disc). */
static inline uint64_t scsi_mmc_blocks(uint64_t bytes)
{
	return bytes / MMC_BLOCK;
}

/* Put disk (borrowed; at least one block) into the drive and close its tray, as a user
 * does: the guest sees a unit attention 06/28/00 and a new-media event. A medium already in
 * the drive is replaced (take it with scsi_mmc_unload first to close it). */
void scsi_mmc_load(struct scsi_lun *l, struct disk *disk);

/* Open the tray and take the medium out (*old: the disk it held, or NULL, for the caller to
 * close), as the eject button does: a media-removal event. When the guest prevents removal
 * and force is false, nothing changes but an eject-request event for the guest, and the
 * result is -EBUSY. Returns 0 or -EBUSY. */
int scsi_mmc_unload(struct scsi_lun *l, bool force, struct disk **old);

/* Execute one command on the CD/DVD drive l (called by scsi_exec, which answers INQUIRY and
 * REPORT LUNS itself). */
void scsi_mmc_exec(struct scsi_lun *l, const uint8_t *cdb, size_t cdb_len,
		   const struct scsi_buf *out, const struct scsi_buf *in, struct scsi_result *res);

#endif
