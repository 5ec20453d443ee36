/* Disk layers: the differencing VHDs that snapshot trees and linked clones are made of.
 * A VM's writable VHD disk runs on its top layer when it has one (DATA/layers/..., a
 * differencing image over the file it froze), else on the disk's own file. Freezing a
 * top (a snapshot, a linked clone) makes it read-only for good and puts a new top over
 * it; a frozen image is kept while anything sits over it (a layer, a linked clone's disk)
 * or a snapshot holds its state, and deleted by layers_collect when nothing does. An
 * inventory disk whose file has layers over it is frozen too: no VM may write it, it
 * cannot be resized or deleted, and deleting it with its VM keeps its file as a layer. */
#ifndef VSRV_SERVER_LAYERS_H
#define VSRV_SERVER_LAYERS_H

#include "server/server.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Files a layer operation created (to remove when its transaction rolls back) and files
 * it made unused (to remove once it committed). */
struct layer_files {
	json_t *created, *gone;
	/* new images read their parent without its lock (false after init): a live snapshot's
	 * new tops over images the VM's VMM holds (snaplive.h) */
	bool parent_nolock;
};

/* Start (0 or -ENOMEM), and end: after a commit (ok) the unused files are removed, else
 * the created ones; the struct is freed either way. */
int layer_files_init(struct layer_files *f);
void layer_files_end(struct layer_files *f, bool ok);

/* The image VM vm runs on for its disk disk_id whose own file is disk_path: the path of
 * its top layer, or disk_path. Into out (n bytes); *is_top (may be NULL) says which.
 * 0 or -EIO. */
int layers_top_path(struct dbc *c, int64_t vm, int64_t disk_id, const char *disk_path,
		    char *out, size_t n, bool *is_top);

/* Whether anything sits over the image at path (a layer, a linked clone's disk): 1, 0 or
 * -EIO. */
int layers_frozen(struct dbc *c, const char *path);

/* Freeze what VM vm runs on for disk disk_id (its top, or disk_path) and give the VM a new
 * top over it; the frozen image's path into frozen (n bytes). Under the caller's
 * transaction; the new file is recorded in f. 0 or -errno with a message in err. */
int layers_push(struct server *srv, struct dbc *c, struct layer_files *f, int64_t vm,
		int64_t disk_id, const char *disk_path, char *frozen, size_t n, char *err,
		size_t errlen);

/* A frozen image holding what VM vm's disk disk_id reads now, for a linked clone: the
 * parent of its top when that top is empty (so that clones of a template that never runs
 * share one image and its chain does not grow), else as layers_push. */
int layers_frozen_image(struct server *srv, struct dbc *c, struct layer_files *f, int64_t vm,
			int64_t disk_id, const char *disk_path, char *frozen, size_t n, char *err,
			size_t errlen);

/* Make VM vm run on a new empty top over parent for disk disk_id; its old top (never
 * frozen, so nothing sits over it) is dropped into f->gone. 0 or -errno with err. */
int layers_retop(struct server *srv, struct dbc *c, struct layer_files *f, int64_t vm,
		 int64_t disk_id, const char *parent, char *err, size_t errlen);

/* A new differencing image over parent at a fresh path (dir: a directory, or NULL for
 * DATA/layers), recorded in f->created; the path into out. 0 or -errno with err. */
int layers_new_image(struct server *srv, struct layer_files *f, const char *dir,
		     const char *stem, const char *parent, char *out, size_t n, char *err,
		     size_t errlen);

/* Merging the single image k over a frozen image under into it (a snapshot delete), in
 * three steps so that the long copy holds no inventory transaction. The plan (read from the
 * inventory): todo is false when under has no or several images over it, or its one is
 * neither frozen nor VM vm's top (a linked clone's disk stays over it). The files: k's
 * data is committed into under (vhd_commit; under keeps its unique id) and what sat over k
 * is pointed at under (vhd_set_parent): every image reads as before, and k is no longer
 * needed; -EBUSY when one of them is in use. The rows (in the caller's transaction): what
 * sat over k sits over under, snapshots of k's state hold under's, under becomes VM vm's
 * top when k was, and k goes (its file into f->gone). 0 or -errno (err set). */
#define LAYER_MERGE_MAX 8
struct layer_merge {
	bool todo;
	char under[4400], k[4400], kkind[16];
	int64_t kdisk;
	int nover;
	char over[LAYER_MERGE_MAX][4400];
};

int layers_merge_plan(struct dbc *c, int64_t vm, const char *under, struct layer_merge *m,
		      char *err, size_t errlen);
int layers_merge_files(const struct layer_merge *m, void (*progress)(void *opaque,
		       uint64_t done, uint64_t total), void *opaque, char *err, size_t errlen);
int layers_merge_rows(struct dbc *c, struct layer_files *f, int64_t vm,
		      const struct layer_merge *m);

/* Drop every frozen layer that nothing needs any more (the inventory rows now, the files
 * into f->gone). 0 or -EIO. */
int layers_collect(struct dbc *c, struct layer_files *f);

/* The inventory disk at path is deleted: when layers sit over its file, the file stays as
 * a frozen base layer (1: the caller keeps the file), else 0; -EIO. */
int layers_keep_base(struct dbc *c, const char *path);

/* Bytes the top layers may still grow by (their disk's size less what they hold), added
 * to *promised (for space.c). 0 or -EIO. */
int layers_promised(struct dbc *c, double *promised);

/* A VM's disk as layer operations need it (copied out of the inventory). */
struct layer_disk {
	int idx;
	int64_t disk_id;
	char name[64];
	char format[16];
	char bus[16];
	bool readonly;
	int64_t size;
	char path[4400];            /* the disk's own file */
};

/* The disks of VM id, by index, into *out (malloc'd, at most 16; free it) and *n.
 * 0 or -errno. */
int layers_vm_disks(struct dbc *c, int64_t id, struct layer_disk **out, int *n);

/* How many top layers VM vm runs on (>= 0), or -EIO. */
int layers_vm_tops(struct dbc *c, int64_t vm);

#endif
