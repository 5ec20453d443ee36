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
/* The record of a VMM that ended after a save (vmsave.h; status 0). */
char *sup_exit_record_saved(const char *ex);

/* The last_exit object from the column's text: null for none; a text of an older server
 * ("exited 33") becomes {"exit", "status", "signal", "reason", "at_start": false, "time":
 * null}. New reference. */
json_t *sup_exit_json(const char *stored);

/* The last lines of the console of the VM whose directory is dir (DIR/console.log: at most
 * 2 KiB, 10 lines), control characters but newline and tab as '?'. malloc'd (the caller
 * frees it); "" when there is none, NULL without memory. */
char *sup_console_tail(const char *dir);

#endif
