/* Images' owners: who may see and use an image of the image store (imgstore.h), from its
 * row in the inventory (inv_image). An image uploaded by a user is private to that user and
 * the administrators; one an administrator uploads, or that the host placed in the images
 * directory (no row), is public: every user may list and use it. Administrators make an
 * image public or private. A private image is, to everyone else, a missing one: every
 * place that names an image (GET, PATCH and DELETE /api/v1/images/NAME, a VM's kernel,
 * initrd and CD/DVD media, a disk made from an image) asks imgacl_visible first and
 * answers as for a name the store has not. */
#ifndef VSRV_SERVER_IMGACL_H
#define VSRV_SERVER_IMGACL_H

#include "server/server.h"

#include <jansson.h>
#include <stdbool.h>

/* This host's name in its cluster (the hosts of an image's row), NULL alone. */
const char *imgacl_host(const struct server *srv);

/* Whether who may see image name of host's store (imgacl_host): 1 or 0, or -EIO. In a
 * cluster, a row whose hosts (inv_image) name others but not host is not the row of the
 * file here (a copy that was gone when the name was taken on another host, back since):
 * only administrators see it. */
int imgacl_visible(struct dbc *c, const struct caller *who, const char *name, const char *host);

/* Whether who may delete image name (it sees it): an administrator, or its owner (a public
 * image is every user's to use, not to delete): 1 or 0, or -EIO. */
int imgacl_may_delete(struct dbc *c, const struct caller *who, const char *name);

/* Every image's row at once (for a listing): a JSON object NAME -> {"owner": ID,
 * "owner_name": NAME or null, "public": B} (a new reference), or NULL on an inventory
 * error. */
json_t *imgacl_rows(struct dbc *c);

/* imgacl_visible by rows (imgacl_rows). */
bool imgacl_rows_visible(const json_t *rows, const struct caller *who, const char *name,
			 const char *host);

/* Add image name's "owner" (the user's name; null for none, or a user deleted since) and
 * "public" to o, from rows (imgacl_rows; NULL: read from the inventory). 0 or -EIO. */
int imgacl_json(struct dbc *c, const json_t *rows, const char *name, json_t *o);

/* Name is being uploaded by who (this host's store has no file of that name) on cluster
 * host host (NULL: a server alone): the image will be who's, private, or public when who is
 * an administrator (or no user: the Unix socket's root). Written before the file takes its
 * name, so that it is never seen without its owner; *wrote says whether this call wrote
 * the row (then a failed upload releases it, imgacl_release). A row already there, whose
 * hosts (inv_image: "HOST=BYTES,...", imgacl.c) have none other than host, is a stale one
 * (a file removed by hand, an upload a crash cut, every host's copy gone at its start):
 * replaced. One another host holds a copy of keeps its owner: the upload joins it (its
 * host added) when it says what this upload would (the same owner and visibility), else
 * -EEXIST. -EIO. */
int imgacl_upload(struct dbc *c, const struct caller *who, const char *name, const char *host,
		  bool *wrote);

/* An upload of image name (its row written, imgacl_upload) by who has written need bytes
 * and would hold want (>= need): the bytes its row holds against its owner's quota
 * (disk_bytes, quota.h) grow to want, or as far as the quota allows when that is at least
 * need. An administrator's upload (public, nobody's) and a user without a disk_bytes limit
 * hold nothing while they stream: *got INT64_MAX (nothing more to ask). One write
 * transaction through c (run again on a concurrent write). 0 and *got; -EDQUOT (err names
 * the limit, the usage and what was asked); -ENOENT (the row went); -EIO. */
int imgacl_reserve(struct dbc *c, const struct caller *who, const char *name, int64_t want,
		   int64_t need, int64_t *got, char *err, size_t errlen);

/* The upload of image name ended (or the start found its file of bytes): its row records
 * the file's bytes as host's copy (this one's cluster name, NULL alone), and counts the
 * biggest copy of its hosts. 0, -ENOENT or -EIO. */
int imgacl_set_bytes(struct dbc *c, const char *name, int64_t bytes, const char *host);

/* At the server's start: the rows of images this host's store (s) has no file of, an upload
 * a crash cut (its row holding bytes of its owner's quota) or a file away (removed by hand,
 * a store not mounted yet), lose this host (the copies left counted) and, with no copy
 * left, count nothing of their owner's quota any more; they keep their owner and
 * visibility (a file back later stays private) but hold no host: stale, the next upload of
 * the name on any host replaces it (imgacl_upload). The others record their file's size
 * as this host's copy (rows from before it was kept), and a stale row (no host: imported,
 * or every copy gone) of a file this store has is adopted as this host's. On a cluster's
 * shared inventory only rows naming this host among their hosts, and the stale ones; a
 * host's own (SQLite) inventory keeps no hosts: host NULL, every row is this host's. 0 or
 * -EIO. */
struct imgstore;
int imgacl_sweep(struct dbc *c, struct imgstore *s, const char *host);

/* An administrator makes image name (a file of host host's store; NULL: a server alone)
 * public or private (its owner kept). 0, -EEXIST (the name's row holds copies on other
 * hosts only: this host's file is another image, left as it is) or -EIO. */
int imgacl_set_public(struct dbc *c, const char *name, bool public, const char *host);

/* Image name is gone from host host's store (NULL: a server alone), deleted or its upload
 * failed: host leaves its row, which counts the biggest copy left at once (its owner's
 * disk_bytes) and goes with the last of its hosts (at once alone, or with an inventory that
 * keeps none: SQLite). 0 or -EIO. */
int imgacl_release(struct dbc *c, const char *name, const char *host);

#endif
