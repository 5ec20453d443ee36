/* What the etcd backend's files of a VM's attachments, hardware, layers and snapshots
 * (inv_etcd_attach.c, inv_etcd_cdrom.c, inv_etcd_vmhw.c, inv_etcd_layer.c,
 * inv_etcd_snap.c) share, on the row layer of inv_etcd.h. Their rows:
 *   vm_disks/VM/IDX    {vm_id, idx, disk_id, bus, readonly}
 *   vm_nics/VM/IDX     {vm_id, idx, network_id, mac, model}     u/nics.mac/MAC -> VM
 *   vm_cdroms/VM/IDX   {vm_id, idx, image (null: empty), bus}
 *   vm_hw/VM           {firmware, boot, uuid, os_type, balloon, display, enlightenments,
 *                       mem_merge, memory_min_mib, memory_buffer_pct} (a field missing
 *                       reads as the SQLite column's default)
 *   layers/ID          {id, path, parent, kind, vm_id, disk_id, created}
 *                      u/layers.path/PATH -> ID, u/layers.top/"VM/DISK" -> ID (kind top)
 *   snapshots/VM/ID    {id, vm_id, parent_id, current, created, name, description}
 *                      u/snapshots.name/"VM/NAME" -> ID
 *   snapshot_images/SNAP/DISK {snapshot_id, disk_id, path}
 * VM, IDX, ID, SNAP and DISK are ie_id_key's (so key order is number order); the values
 * of the unique indexes "VM/DISK" and "VM/NAME" use plain decimal ids. Field names are the
 * SQLite columns' (db.c), so a row reads like the table's. */
#ifndef VSRV_SERVER_INV_ETCD_ATTACH_H
#define VSRV_SERVER_INV_ETCD_ATTACH_H

#include "server/inv_etcd.h"

/* KEY of a row owned by a: "A/B" (buf of at least 42 bytes), or the prefix "A/" of all
 * rows of a (buf of at least 22 bytes). Return buf. */
char *iea_key2(int64_t a, int64_t b, char *buf);
char *iea_prefix(int64_t a, char *buf);

/* Every row of table under key_prefix ("" all) that keep(row, arg) accepts (keep NULL: all),
 * in key order, appended to *rows (a new JSON array: json_decref it). 0 or -errno (then
 * *rows is NULL). */
int iea_rows(struct dbc *c, const char *table, const char *key_prefix,
	     bool (*keep)(json_t *row, const void *arg), const void *arg, json_t **rows);

/* 0 when row table/id exists, -EEXIST when it does not (what SQLite's foreign keys say
 * of an attachment that names a missing VM, disk or network), or the read's error. */
int iea_must_exist(struct dbc *c, const char *table, int64_t id);

/* 0 when row table/key does not exist, -EEXIST when it does, or the read's error. */
int iea_must_be_free(struct dbc *c, const char *table, const char *key);

/* Set the string field of the row table/"ID/IDX" (a NIC's or a drive's) to value: 0,
 * -ENOENT (no such row), or -errno. In the caller's transaction (inv_etcd_cdrom.c). */
int iea_attach_set(struct dbc *c, const char *table, int64_t id, int idx, const char *field,
		   const char *value);

/* For ie_vm_drop_children (the vms_layers trigger): drop VM vm's snapshots, their images
 * and their names' claims (inv_etcd_snap.c); make its top layers frozen, of no VM and no
 * disk, releasing their claims (inv_etcd_layer.c). In the caller's transaction. 0 or
 * -errno. */
int iea_snap_drop_vm(struct dbc *c, int64_t vm);
int iea_layer_freeze_vm(struct dbc *c, int64_t vm);

/* Attachments with their VMs, in the order of the SQLite backend's "ORDER BY v.name,
 * idx": iea_users_load reads the VM (vm_id) of every row of rows (attachments whose VM is
 * gone are left out, as a JOIN does) and sorts them; iea_users_free frees them. */
struct iea_use {
	struct inv_vm v;
	int idx;
	json_t *row;                /* borrowed from rows */
};
struct iea_users {
	struct iea_use *a;
	size_t n;
};
int iea_users_load(struct dbc *c, json_t *rows, struct iea_users *out);
void iea_users_free(struct iea_users *u);

/* A string field as the SQLite backend gives it: NULL for a missing field and, when
 * empty_null, for "". */
const char *iea_str(json_t *row, const char *field, bool empty_null);

#endif
