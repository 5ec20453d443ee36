/* The inventory's networks on etcd: networks/ID {id, name, kind, bridge, subnet,
 * dhcp_start, dhcp_end, created} ("" stored as null, as the SQLite backend stores NULL),
 * with the claim u/networks.name/NAME. See inv.h, inv_etcd.h. */
#include "server/inv_etcd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void net_fill(json_t *r, struct inv_net *n)
{
	memset(n, 0, sizeof(*n));
	n->id = ie_int(r, "id");
	ie_str_copy(r, "name", n->name, sizeof(n->name));
	ie_str_copy(r, "kind", n->kind, sizeof(n->kind));
	ie_str_copy(r, "bridge", n->bridge, sizeof(n->bridge));
	ie_str_copy(r, "subnet", n->subnet, sizeof(n->subnet));
	ie_str_copy(r, "dhcp_start", n->dhcp_start, sizeof(n->dhcp_start));
	ie_str_copy(r, "dhcp_end", n->dhcp_end, sizeof(n->dhcp_end));
}

int inv_etcd_net_get(struct dbc *c, int64_t id, struct inv_net *out)
{
	json_t *r;
	int rc = ie_row_get_id(c, "networks", id, &r, NULL);

	if (rc)
		return rc;
	net_fill(r, out);
	json_decref(r);
	return 0;
}

int inv_etcd_net_each(struct dbc *c, int (*fn)(const struct inv_net *n, void *arg), void *arg)
{
	struct inv_net n;
	json_t **rows = NULL;
	size_t cnt = 0, i;
	int rc = ie_rows_by_name(c, "networks", &rows, &cnt);

	for (i = 0; !rc && i < cnt; i++) {
		net_fill(rows[i], &n);
		rc = fn(&n, arg);
	}
	ie_rows_free(rows, cnt);
	return rc;
}

/* "" as null */
static const char *opt(const char *s)
{
	return s && *s ? s : NULL;
}

struct create {
	const struct inv_net *n;
	int64_t id;
};

static int create_body(struct dbc *c, void *arg)
{
	struct create *a = arg;
	const struct inv_net *n = a->n;
	json_t *row = json_object();
	char key[24];
	int rc = row ? 0 : -ENOMEM;

	if (!rc)
		rc = ie_set_int(row, "id", a->id);
	if (!rc)
		rc = ie_set_str(row, "name", n->name);
	if (!rc)
		rc = ie_set_str(row, "kind", n->kind);
	if (!rc)
		rc = ie_set_str(row, "bridge", opt(n->bridge));
	if (!rc)
		rc = ie_set_str(row, "subnet", opt(n->subnet));
	if (!rc)
		rc = ie_set_str(row, "dhcp_start", opt(n->dhcp_start));
	if (!rc)
		rc = ie_set_str(row, "dhcp_end", opt(n->dhcp_end));
	if (!rc)
		rc = ie_set_int(row, "created", time(NULL));
	if (!rc)
		rc = ie_unique_claim(c, "networks.name", n->name, a->id);
	if (!rc)
		rc = ie_row_put(c, "networks", ie_id_key(a->id, key), row, IE_ABSENT);
	json_decref(row);
	return rc;
}

int inv_etcd_net_create(struct dbc *c, const struct inv_net *n, int64_t *id)
{
	struct create a = { .n = n };
	int rc = ie_new_id(c, "networks", &a.id);

	if (!rc)
		rc = ie_write(c, create_body, &a);
	if (!rc)
		*id = a.id;
	return rc;
}

struct bridge {
	int64_t id;
	const char *bridge;
};

static int bridge_body(struct dbc *c, void *arg)
{
	struct bridge *a = arg;
	json_t *row;
	char key[24];
	int rc = ie_row_get(c, "networks", ie_id_key(a->id, key), &row, NULL);

	if (rc == -ENOENT)          /* an UPDATE of no row */
		return 0;
	if (rc)
		return rc;
	rc = ie_set_str(row, "bridge", a->bridge);
	if (!rc)
		rc = ie_row_put(c, "networks", key, row, 0);
	json_decref(row);
	return rc;
}

int inv_etcd_net_set_bridge(struct dbc *c, int64_t id, const char *bridge)
{
	struct bridge a = { id, bridge };

	return ie_write(c, bridge_body, &a);
}

/* -EEXIST when a NIC is on the network (the SQLite foreign key of vm_nics.network_id). */
static int nic_on(const char *key, json_t *row, uint64_t rev, void *arg)
{
	(void)key;
	(void)rev;
	return ie_int(row, "network_id") == *(int64_t *)arg ? -EEXIST : 0;
}

static int delete_body(struct dbc *c, void *arg)
{
	int64_t id = *(int64_t *)arg;
	json_t *row;
	char key[24];
	int rc = ie_row_get(c, "networks", ie_id_key(id, key), &row, NULL);

	if (rc)
		return rc;
	rc = ie_row_each(c, "vm_nics", "", nic_on, &id);
	if (!rc)
		rc = ie_row_delete(c, "networks", key, false);
	if (!rc && ie_str(row, "name"))
		rc = ie_unique_release(c, "networks.name", ie_str(row, "name"));
	if (!rc)
		rc = inv_etcd_grants_clear(c, "network", id);
	json_decref(row);
	return rc;
}

int inv_etcd_net_delete(struct dbc *c, int64_t id)
{
	return ie_write(c, delete_body, &id);
}
