/* What the AHCI and IDE device kinds (ahci_kind.c, ide_kind.c) share about one drive's
 * entry: its --disk options, opening its disk or CD/DVD medium, its serial number, and the
 * checks of a CD/DVD drive's saved medium. The controllers differ; the drives do not. */
#ifndef VSRV_DEVICES_ATA_DRIVE_H
#define VSRV_DEVICES_ATA_DRIVE_H

#include <stdbool.h>

#include "devices/virtio/scsi.h"

struct vdevs;
struct device_entry;

/* A drive's entry (e->priv), made by ata_drive_create and freed by ata_drive_destroy. */
struct ata_drive_priv {
	struct cd_drive cd;            /* first: a CD/DVD drive's, for the code it shares with
					* virtio-scsi's (scsi.h), filled in by the controller's
					* finish */
	bool is_cd;
	char serial[21];
	char path[VSCSI_CD_PATH_MAX];  /* a CD/DVD drive's medium ("" without) */
};

/* Parse a --disk spec for the controller named bus ("AHCI", "IDE": for the message): the
 * disk options (kind.h's parse), refusing virtio's transport= and queues=. 0 and *opts
 * (devices_free_disk_opts frees them), or -errno (logged). */
int ata_drive_parse(const char *spec, const char *bus, void **opts);

/* A drive's create (kind.h) on the bus named bus ("ahci", "ide": the entry's
 * bus_or_backend, a static string), a CD/DVD drive when cd: e->priv becomes a new struct
 * ata_drive_priv, e->disk the disk (devices_open_disk) or the medium (cd_medium_open, none
 * for an empty drive), e->label "diskIDX". 0 or -errno (logged); on failure what was made
 * stays in e for the kind's destroy. */
int ata_drive_create(struct vdevs *v, struct device_entry *e, const void *opts, unsigned idx,
		     bool cd, const char *bus);

/* Free e->priv (the disk is the device table's to close). */
void ata_drive_destroy(struct vdevs *v, struct device_entry *e);

/* A CD/DVD drive's saved medium state (struct scsi_cd_state) as kind.h's state_check. */
int ata_drive_cd_state_check(struct device_entry *e, const void *st);

#endif
