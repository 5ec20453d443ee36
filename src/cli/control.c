/* `vsrv control SOCKET JSON`: one command to the control socket of a VM started by hand
 * (`vsrv run --control SOCKET`, vmm/control.h), its answer printed. A disk-switch's new tops
 * are opened here, read-write, and passed with the command (SCM_RIGHTS, in the order of
 * "disks"): the VMM opens no file itself (its sandbox lets it open none for writing). */
#include "cli/cli.h"
#include "util/fdpass.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONTROL_WAIT_MS 120000 /* a save or a disk-switch's flushes may take a while */
#define CONTROL_REPLY_MAX (32 << 20)

static void usage(FILE *f)
{
	fprintf(f, "usage: vsrv control SOCKET JSON\n"
		"Send one command (a JSON object, vmm/control.h) to the control socket of a VM\n"
		"started with 'vsrv run --control SOCKET' and print its answer. Exit status 0 when it\n"
		"answers \"ok\":true, 1 otherwise.\n"
		"A disk-switch opens each disk's new top here and passes it to the VMM:\n"
		"  vsrv control vm.sock '{\"cmd\":\"disk-switch\",\"disks\":[{\"drive\":\"disk0\","
		"\"path\":\"/vms/a-2.vhd\"}]}'\n");
}

/* The new tops of a disk-switch, opened read-write into fds (*n of them). 0, or 1 with a
 * message (those opened closed). */
static int open_tops(json_t *msg, int *fds, unsigned *n)
{
	json_t *disks = json_object_get(msg, "disks"), *d;
	size_t i;

	*n = 0;
	if (!json_is_array(disks) || json_array_size(disks) > FDPASS_MAX)
		return 0; /* the VMM says what is wrong with it */
	json_array_foreach(disks, i, d) {
		const char *p = json_string_value(json_object_get(d, "path"));

		if (!p)
			continue; /* refused by the VMM: the count will not match either */
		fds[*n] = open(p, O_RDWR | O_CLOEXEC);
		if (fds[*n] < 0) {
			fprintf(stderr, "vsrv control: %s: %s\n", p, strerror(errno));
			while (*n > 0)
				close(fds[--*n]);
			return 1;
		}
		++*n;
	}
	return 0;
}

int cmd_control(int argc, char **argv)
{
	int fds[FDPASS_MAX], rc, ok;
	unsigned n = 0;
	char *line, *reply = NULL;
	const char *cmd;
	json_t *msg, *r;
	json_error_t je;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 3) {
		usage(stderr);
		return 2;
	}
	msg = json_loads(argv[2], JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(msg)) {
		fprintf(stderr, "vsrv control: the command is not a JSON object: %s\n",
			msg ? "another JSON value" : je.text);
		json_decref(msg);
		return 2;
	}
	cmd = json_string_value(json_object_get(msg, "cmd"));
	if (cmd && !strcmp(cmd, "disk-switch") && open_tops(msg, fds, &n)) {
		json_decref(msg);
		return 1;
	}
	line = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	rc = line ? fdpass_call(argv[1], line, fds, n, CONTROL_WAIT_MS, CONTROL_REPLY_MAX, &reply,
				  NULL)
		  : -ENOMEM;
	free(line);
	while (n > 0)
		close(fds[--n]); /* the VMM holds its own */
	if (rc) {
		fprintf(stderr, "vsrv control: %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	fputs(reply, stdout);
	r = json_loads(reply, JSON_DISABLE_EOF_CHECK, NULL);
	ok = json_is_true(json_object_get(r, "ok"));
	json_decref(r);
	free(reply);
	return ok ? 0 : 1;
}
