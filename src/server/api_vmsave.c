/* POST /api/v1/vms/{name}/save and /discard-saved: a VM's saved state (vmsave.h). */
#include "server/api.h"
#include "server/vmrow.h"
#include "server/vmsave.h"

#include <errno.h>
#include <string.h>

int api_vm_save_action(struct req *r, int64_t id)
{
	char err[512] = "";
	json_t *rep = NULL, *o;
	int rc;

	/* done when answered: 200 with the VM as it is now */
	if (!strcmp(r->args[1], "save")) {
		rc = sup_save(r->srv, r->c, id, r->who.name, &rep, err, sizeof(err));
		if (rc)
			return req_error(r, rc == -ETIMEDOUT ? -EIO : rc, "%s", err);
		/* the file's size and time: GET .../status "saved" and the event vm-saved */
		json_decref(rep);
		o = vm_json(r->srv, r->c, id, 0);
		r->out = o;
		return o ? 200 : req_error(r, -ENOENT, "the VM went away");
	}
	rc = sup_discard_saved(r->srv, r->c, id, r->who.name, err, sizeof(err));
	if (rc)
		return req_error(r, rc, "%s", err);
	r->out = vm_json(r->srv, r->c, id, 0);
	return r->out ? 200 : req_error(r, -ENOENT, "the VM went away");
}
