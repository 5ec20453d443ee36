/* How a VM's last run ended, for people: the `last_exit` object of GET /api/v1/vms,
 * /vms/NAME and /vms/NAME/status, kept as JSON text in the vms.last_exit column. */
#ifndef VSRV_SERVER_SUP_EXIT_H
#define VSRV_SERVER_SUP_EXIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The record of one exit, as JSON text (malloc'd, the caller frees it; NULL without memory):
 * {"exit": ex as the monitor wrote it ("exited 33", "signal 9", "monitor died"),
 *  "status": the VMM's exit status or null, "signal": the signal that ended it or null,
 *  "reason": one sentence, "at_start": true when the VMM ended before it was up,
 *  "time": Unix time}. requested: the server was asked to stop it (off, shutdown, reset).
 * console: the last lines of its console, where the VMM logs why it failed ("vsrv: ..."). */
char *sup_exit_record(const char *ex, int code, int sig, bool requested, bool at_start,
		      const char *console);

/* The last_exit object from the column's text: null for none; a text of an older server
 * ("exited 33") becomes {"exit", "status", "signal", "reason", "at_start": false, "time":
 * null}. New reference. */
json_t *sup_exit_json(const char *stored);

/* The last lines of VM id's console (DIR/console.log: at most 2 KiB, 10 lines), made
 * printable, for its exit record. malloc'd (the caller frees it; "" when there is none),
 * NULL without memory. */
struct server;
char *sup_exit_console_tail(struct server *srv, int64_t id);

#endif
