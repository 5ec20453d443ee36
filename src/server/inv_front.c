/* The inventory's front: every inv_NAME call goes to the backend of its store or session
 * (inv_ops.h); and what is the same whatever the backend. See inv.h. */
#include "server/inv_ops.h"

#include <stdlib.h>
#include <string.h>

void inv_close(struct db *db)
{
	if (db)
		db->ops->close(db);
}

struct dbc *inv_get(struct db *db)
{
	return db->ops->get(db);
}

void inv_put(struct dbc *c)
{
	c->ops->put(c);
}

uint64_t inv_generation(struct db *db)
{
	return db->ops->generation(db);
}

void inv_rollback(struct dbc *c)
{
	c->ops->rollback(c);
}

const char *inv_backend(struct db *db)
{
	return db->ops->name;
}

void inv_set_usage_extra(struct db *db,
			 int (*fn)(struct dbc *c, int64_t uid, int64_t *bytes, void *arg),
			 void *arg)
{
	db->extra = fn;
	db->extra_arg = arg;
}

int inv_usage_extra(struct dbc *c, int64_t uid, int64_t *bytes)
{
	*bytes = 0;
	return c->db->extra ? c->db->extra(c, uid, bytes, c->db->extra_arg) : 0;
}

#define INV_CALL(name, params, args) \
	int inv_##name params \
	{ \
		return c->ops->name args; \
	}
INV_OPS(INV_CALL)
#undef INV_CALL

void inv_vm_clear(struct inv_vm *v)
{
	if (!v)
		return;
	free(v->description);
	free(v->kernel);
	free(v->initrd);
	free(v->cmdline);
	free(v->last_exit);
	memset(v, 0, sizeof(*v));
}

bool inv_vm_state_up(const char *state)
{
	return !strcmp(state, INV_VM_STARTING) || !strcmp(state, INV_VM_RUNNING) ||
	       !strcmp(state, INV_VM_PAUSED) || !strcmp(state, INV_VM_STOPPING);
}

int64_t inv_vm_reserved_mib(const struct inv_vm *v)
{
	return v->memory_reserve_mib > 0 ? v->memory_reserve_mib : v->memory_mib;
}

void inv_vm_status_clear(struct inv_vm_status *st)
{
	if (!st)
		return;
	free(st->last_exit);
	memset(st, 0, sizeof(*st));
}
