/* The API's routes and the handlers behind them (api_*.c). */
#ifndef VSRV_SERVER_API_H
#define VSRV_SERVER_API_H

#include "server/server.h"

/* ROUTE_UPLOAD: the body is streamed to the handler (struct req's upload_*), not parsed
 * as JSON nor bounded by the 64 KiB of other requests. */
/* ROUTE_WS: a WebSocket (ws.h); besides the bearer token it takes the session cookie that
 * login sets (a browser's WebSocket cannot send headers), then only from a page of this
 * server (its Origin is the request's Host). */
/* ROUTE_PEER: only the cluster's hosts call it, with their own credential (`Authorization:
 * VsrvHost NAME TOKEN`, cluster_peer.c; the caller's who.host is set): a user's token is
 * refused with 403, and the credential is taken nowhere else. */
enum { ROUTE_NOAUTH = 1, ROUTE_UPLOAD = 2, ROUTE_WS = 4, ROUTE_PEER = 8 };

struct route {
	const char *method;
	const char *pattern;       /* "/api/v1/vms/{}/start": {} matches one segment */
	int (*fn)(struct req *r);  /* returns the HTTP status it set */
	unsigned flags;
};

/* The table, terminated by a NULL method. */
extern const struct route api_routes[];

/* Find the route for method and path; fills r->args. Returns its index, -1 when no
 * pattern matches the path (404) or -2 when the path matches with another method (405). */
int api_route(const char *method, const char *path, struct req *r);

/* The number of routes (for metrics). */
int api_nroutes(void);

/* The method and pattern of route idx (metrics_route_fn). */
void api_route_name(int idx, const char **method, const char **pattern);

/* Handlers, by file. */
int api_health(struct req *r);
int api_login(struct req *r);
int api_logout(struct req *r);
int api_whoami(struct req *r);
int api_openapi(struct req *r);
int api_host(struct req *r);
int api_hosts(struct req *r);
int api_host_drain(struct req *r);
int api_cluster_balance(struct req *r);
int api_metrics(struct req *r);
int api_image_list(struct req *r);
int api_image_get(struct req *r);
int api_image_put(struct req *r);
int api_image_delete(struct req *r);
int api_image_update(struct req *r);
int api_disk_from_image(struct req *r);

struct task;
struct dbc;
/* A task's new disk (the file at path, done) into the inventory in the transaction open on
 * c: its row, full rights for the user owner (0: none), its "disk-created" event by who
 * ("... (from FROM)"); committed, or rolled back with the task's error set. 0 or -errno. */
int api_disk_record(struct task *t, struct dbc *c, const char *name, const char *format,
		    uint64_t size, const char *path, int64_t owner, const char *who,
		    const char *from);

int api_vm_list(struct req *r);
int api_vm_create(struct req *r);
int api_vm_get(struct req *r);
int api_vm_update(struct req *r);
int api_vm_delete(struct req *r);
int api_vm_status(struct req *r);
int api_vm_action(struct req *r);
/* The save and discard-saved actions of VM id (api_vmsave.c), called by api_vm_action once
 * the caller holds control on it. */
int api_vm_save_action(struct req *r, int64_t id);
/* The start action of VM id (api_vmstart.c), likewise; parks r while another start of this
 * host holds the start lock. */
int api_vm_start_action(struct req *r, int64_t id);
/* Run locked(r, id, arg) once this host's start lock (sup.h) is r's: at once when it is
 * free, else r is parked (struct req's resume) until its turn, holding none of the HTTP
 * threads, and locked runs only if r->args[0] still names VM id (404 when it was deleted
 * meanwhile, even if another VM of its name was made), and (unless r->resume_must is set:
 * the step ends what the handler did) only if r's client is still there. locked runs with the lock held and
 * gives it up (sup_start_unlock) before it answers; its return is the handler's. arg (from
 * malloc, or NULL) is r's from the call on: freed once r has ended. (api_vmstart.c) */
int api_start_locked(struct req *r, int64_t id, int (*locked)(struct req *r, int64_t id,
							     void *arg), void *arg);
/* The answer to action a of VM id, whose call returned rc (meant: it was not running here
 * but meant to): an error, or 202 with the VM. */
int api_vm_action_answer(struct req *r, const char *a, int64_t id, int rc, bool meant);
int api_vm_media(struct req *r);
int api_vm_balloon_get(struct req *r);
int api_vm_balloon_put(struct req *r);
int api_vm_console_get(struct req *r);
int api_vm_console_put(struct req *r);
int api_vm_console_serial(struct req *r);
int api_vm_console_vnc(struct req *r);
int api_vm_screenshot(struct req *r);
int api_vm_undo_list(struct req *r);
int api_vm_undo_action(struct req *r);
int api_vm_snapshot_list(struct req *r);
int api_vm_snapshot_create(struct req *r);
int api_vm_snapshot_revert(struct req *r);
int api_vm_snapshot_delete(struct req *r);
int api_vm_clone(struct req *r);
int api_vm_from_template(struct req *r);
int api_vm_agent_get(struct req *r);
int api_vm_agent_post(struct req *r);
/* Live migration (api_migrate.c, migrate.h). */
int api_vm_migrate(struct req *r);
int api_vm_incoming(struct req *r);
int api_vm_incoming_commit(struct req *r);

int api_perm_get(struct req *r);
int api_perm_set(struct req *r);

int api_user_list(struct req *r);
int api_user_create(struct req *r);
int api_user_get(struct req *r);
int api_user_update(struct req *r);
int api_user_delete(struct req *r);
/* Quotas (api_quota.c): PUT a user's; and its "quota" and "usage" objects added to o (a
 * user's JSON): 0, -EIO or -ENOMEM. */
int api_user_quota_put(struct req *r);
int api_quota_fill(struct dbc *c, int64_t uid, json_t *o);
int api_group_list(struct req *r);
int api_group_create(struct req *r);
int api_group_get(struct req *r);
int api_group_update(struct req *r);
int api_group_delete(struct req *r);

int api_disk_list(struct req *r);
int api_disk_create(struct req *r);
int api_disk_get(struct req *r);
int api_disk_update(struct req *r);
int api_disk_delete(struct req *r);
int api_disk_action(struct req *r);
int api_net_list(struct req *r);
int api_net_create(struct req *r);
int api_net_get(struct req *r);
int api_net_delete(struct req *r);

int api_event_list(struct req *r);
int api_task_list(struct req *r);
int api_task_get(struct req *r);

int api_hook_list(struct req *r);
int api_hook_create(struct req *r);
int api_hook_get(struct req *r);
int api_hook_delete(struct req *r);

#endif
