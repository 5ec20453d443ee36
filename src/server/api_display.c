/* A VM's display: GET /api/v1/vms/{name}/console/vnc, a WebSocket to the VNC server of its
 * VMM (DIR/vnc.sock, `vsrv run --vnc unix:PATH`), and GET /api/v1/vms/{name}/screenshot,
 * a PNG through the control socket's "screenshot" command. Both for a VM that is up
 * (running or paused) with a display ("display" not none: api_vmhw.c). */
#include "server/api.h"
#include "server/auth.h"
#include "server/inv.h"
#include "server/vmctl.h"
#include "server/vmdir.h"
#include "server/vmrow.h"
#include "server/ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>

/* 0 when VM id is running or paused with a display, else sets 409 on r. */
static int display_up(struct req *r, int64_t id)
{
	struct inv_vm_status st;
	struct inv_vm_hw hw;
	bool up;

	if (inv_vm_get_status(r->c, id, &st))
		return req_error(r, -EIO, "inventory error"), -EIO;
	up = !strcmp(st.state, INV_VM_RUNNING) || !strcmp(st.state, INV_VM_PAUSED);
	inv_vm_status_clear(&st);
	if (!up)
		return req_error(r, -EBUSY, "%s is not running", r->args[0]), -EBUSY;
	if (inv_vm_hw_get(r->c, id, &hw))
		return req_error(r, -EIO, "inventory error"), -EIO;
	if (!strcmp(vmhw_display(&hw), "none"))
		return req_error(r, -EBUSY, "%s has no display (its setting display is none)",
				 r->args[0]), -EBUSY;
	return 0;
}

/* GET console/vnc: the WebSocket (ws.h) carries the RFB protocol (3.8, with the QEMU
 * extended key event) of the VM's VNC server as it is: noVNC speaks it. Needs control. */
int api_vm_console_vnc(struct req *r)
{
	const char *why;
	int64_t id;
	int fd;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_CONTROL))
		return r->status;
	if (ws_handshake_check(r->conn, &why))
		return req_error(r, -EINVAL, "%s", why);
	if (display_up(r, id))
		return r->status;
	fd = vmdir_connect(r->srv, id, "vnc.sock");
	if (fd < 0)
		return req_error(r, -EBUSY, "%s has no VNC server (started without a display?)",
				 r->args[0]);
	r->upgrade = true;
	r->upgrade_fd = fd;
	r->status = 101;
	return 101;
}

#define SCREENSHOT_TIMEOUT_MS 5000

/* GET screenshot: the VM's screen as a PNG. Needs view. */
int api_vm_screenshot(struct req *r)
{
	static const unsigned char png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	json_t *rep = NULL;
	const char *b64;
	size_t len;
	int64_t id;
	int rc, n;

	if (vm_lookup(r, &id) || auth_require_object(r, "vm", id, r->args[0], PERM_VIEW))
		return r->status;
	if (display_up(r, id))
		return r->status;
	rc = vmctl_call(r->srv, id, "screenshot", SCREENSHOT_TIMEOUT_MS, &rep);
	if (rc == -ENOENT || rc == -ECONNREFUSED) {
		json_decref(rep);
		return req_error(r, -EBUSY, "%s is not running", r->args[0]);
	}
	if (rc == -EPROTO && rep) {
		const char *e = json_string_value(json_object_get(rep, "error"));

		rc = req_error(r, -EBUSY, "%s: the VMM took no screenshot: %s", r->args[0],
			       e ? e : "no reason given");
		json_decref(rep);
		return rc;
	}
	if (rc) {
		json_decref(rep);
		return req_error(r, 503, "%s: no answer from the VMM: %s", r->args[0], strerror(-rc));
	}
	b64 = json_string_value(json_object_get(rep, "png"));
	len = b64 ? strlen(b64) : 0;
	if (!len || len % 4 || !(r->text = malloc(len / 4 * 3 + 1)) ||
	    (n = EVP_DecodeBlock((unsigned char *)r->text, (const unsigned char *)b64, (int)len)) < 0) {
		json_decref(rep);
		return req_error(r, 503, "%s: the VMM's screenshot is not base64", r->args[0]);
	}
	/* EVP_DecodeBlock counts the padding's zero bytes too */
	n -= (b64[len - 1] == '=') + (b64[len - 2] == '=');
	json_decref(rep);
	if (n < 8 || memcmp(r->text, png_sig, 8))
		return req_error(r, 503, "%s: the VMM's screenshot is not a PNG", r->args[0]);
	r->text_len = (size_t)n;
	r->content_type = "image/png";
	return 200;
}
