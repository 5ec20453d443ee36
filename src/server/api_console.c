/* The VM console: GET /api/v1/vms/{name}/console (the log, or the live output) and POST
 * (typing into the guest's serial console), through the monitor's console.sock. */
#include "server/api.h"
#include "server/auth.h"
#include "server/vmdir.h"
#include "server/vmrow.h"
#include "server/ws.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct cons {
	int fd;
};

static void cons_free(void *p)
{
	struct cons *x = p;

	if (x) {
		close(x->fd);
		free(x);
	}
}

static int cons_stream(struct req *r, char *buf, size_t max, uint64_t pos, ssize_t *n)
{
	struct cons *x = r->stream_state;

	(void)pos;
	if (!r->srv->stopping) {
		struct pollfd p = { .fd = x->fd, .events = POLLIN };
		int k = poll(&p, 1, 0);
		ssize_t got;

		if (k == 0)
			return 1;   /* nothing yet: parked, polled again within 250 ms */
		if (k < 0)
			return -1;
		got = read(x->fd, buf, max);
		if (got <= 0)
			return -1;   /* the VM ended */
		*n = got;
		return 0;
	}
	return -1;
}

/* GET console: the last ?bytes= of the console log (default 16 KiB), or with ?follow=1
 * the live output as a byte stream until the VM ends or the client goes. */
int api_vm_console_get(struct req *r)
{
	const char *follow = req_query(r, "follow"), *bs = req_query(r, "bytes");
	long want = bs ? strtol(bs, NULL, 10) : 16384;
	char dir[4096], p[4200];
	int64_t id;
	int fd;

	if (vm_lookup(r, &id) ||
	    auth_require_object(r, "vm", id, r->args[0], follow ? PERM_CONTROL : PERM_VIEW))
		return r->status;
	if (want < 1 || want > (1 << 20))
		return req_error(r, -EINVAL, "bytes is 1 to 1048576");
	if (follow && !strcmp(follow, "1")) {
		struct cons *x;
		fd = vmdir_connect(r->srv, id, "console.sock");
		if (fd < 0)
			return req_error(r, -EBUSY, "%s is not running", r->args[0]);
		x = calloc(1, sizeof(*x));
		if (!x) {
			close(fd);
			return req_error(r, -ENOMEM, "out of memory");
		}
		x->fd = fd;
		r->stream = cons_stream;
		r->stream_state = x;
		r->stream_free = cons_free;
		r->content_type = "application/octet-stream";
		return 200;
	}
	vmdir_path(r->srv, id, dir, sizeof(dir));
	snprintf(p, sizeof(p), "%s/console.log", dir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	r->content_type = "text/plain; charset=utf-8";
	if (fd < 0) {
		r->status = 200;
		r->text = strdup("");
		r->text_len = 0;
		return 200;
	}
	{
		off_t end = lseek(fd, 0, SEEK_END), from = end > want ? end - want : 0;
		ssize_t got;

		r->text = malloc(end - from + 1);
		got = r->text ? pread(fd, r->text, end - from, from) : -1;
		close(fd);
		if (got < 0)
			return req_error(r, -EIO, "cannot read the console log");
		r->text_len = got;
	}
	return 200;
}

/* GET console/serial: a WebSocket to the guest's serial console (ws.h): the bytes the
 * guest writes, escape sequences and all, as binary messages; what the client sends is
 * typed into the guest. Needs what following the console does (control). */
int api_vm_console_serial(struct req *r)
{
	const char *why;
	int64_t id;
	int fd;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_CONTROL))
		return r->status;
	if (ws_handshake_check(r->conn, &why))
		return req_error(r, -EINVAL, "%s", why);
	fd = vmdir_connect(r->srv, id, "console.sock");
	if (fd < 0)
		return req_error(r, -EBUSY, "%s is not running", r->args[0]);
	r->upgrade = true;
	r->upgrade_fd = fd;
	r->status = 101;
	return 101;
}

/* POST console {"input": "..."}: type into the guest's serial console. */
int api_vm_console_put(struct req *r)
{
	json_t *in;
	int64_t id;
	int fd;
	size_t len;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_CONTROL))
		return r->status;
	if (!json_is_object(r->body) || json_object_size(r->body) != 1 ||
	    !json_is_string(in = json_object_get(r->body, "input")) ||
	    (len = json_string_length(in)) > 4096)
		return req_error(r, -EINVAL, "the body must be {\"input\": TEXT} with at most 4096 bytes");
	fd = vmdir_connect(r->srv, id, "console.sock");
	if (fd < 0)
		return req_error(r, -EBUSY, "%s is not running", r->args[0]);
	if (send(fd, json_string_value(in), len, MSG_NOSIGNAL) != (ssize_t)len) {
		close(fd);
		return req_error(r, -EIO, "the console did not take the input");
	}
	close(fd);
	r->status = 204;
	return 204;
}
