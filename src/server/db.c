/* SQLite inventory: connection pool, statement cache, migrations. */
#include "server/db.h"
#include "server/inv_ops.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The store and a pooled connection; base first, so a struct db or dbc of this backend
 * converts back with a cast (SDB, S). */
struct sdb {
	struct db base;          /* ops: inv_sqlite_ops */
	char *path;
	pthread_mutex_t lock;
	struct sdbc *free;       /* idle connections */
	atomic_uint_fast64_t gen;
};

struct sdbc {
	struct dbc base;         /* base.db: the pool's store */
	sqlite3 *c;
	struct sdbc *next;       /* pool link, owned by the pool */
	int nstmt;
	/* More than the server has statements: evicting one could finalize a statement an
	 * outer loop is still stepping (lists check permissions row by row). */
	struct { const char *sql; sqlite3_stmt *s; } stmt[256];
};

static struct sdbc *S(struct dbc *c)
{
	return (struct sdbc *)c;
}

static struct sdb *SDB(struct db *db)
{
	return (struct sdb *)db;
}

/* Schema migrations: migrations[i] brings user_version i to i + 1. Never edit a shipped
 * entry; append a new one. */
static const char *const migrations[] = {
	/* 1: the first inventory */
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, password TEXT,"
	"  admin INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
	"CREATE TABLE groups ("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created INTEGER NOT NULL);"
	"CREATE TABLE group_members ("
	"  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  PRIMARY KEY (group_id, user_id));"
	"CREATE TABLE sessions ("
	"  token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  expires INTEGER NOT NULL);"
	"CREATE TABLE networks ("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,"
	"  bridge TEXT, subnet TEXT, dhcp_start TEXT, dhcp_end TEXT, created INTEGER NOT NULL);"
	"CREATE TABLE disks ("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, format TEXT NOT NULL,"
	"  size INTEGER NOT NULL, path TEXT NOT NULL UNIQUE, created INTEGER NOT NULL);"
	"CREATE TABLE vms ("
	"  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '',"
	"  cpus INTEGER NOT NULL, memory_mib INTEGER NOT NULL,"
	"  kernel TEXT NOT NULL, initrd TEXT, cmdline TEXT NOT NULL DEFAULT '',"
	"  restart_policy TEXT NOT NULL DEFAULT 'never', autostart INTEGER NOT NULL DEFAULT 0,"
	"  undo_disks TEXT NOT NULL DEFAULT 'off',"
	"  cpu_limit INTEGER NOT NULL DEFAULT 0, cpu_weight INTEGER NOT NULL DEFAULT 100,"
	"  memory_reserve_mib INTEGER NOT NULL DEFAULT 0,"
	"  state TEXT NOT NULL DEFAULT 'stopped', monitor_pid INTEGER NOT NULL DEFAULT 0,"
	"  started INTEGER NOT NULL DEFAULT 0, last_exit TEXT,"
	"  restarts INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL, updated INTEGER NOT NULL);"
	"CREATE TABLE vm_disks ("
	"  vm_id INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE, idx INTEGER NOT NULL,"
	"  disk_id INTEGER NOT NULL REFERENCES disks(id), bus TEXT NOT NULL DEFAULT 'virtio-blk',"
	"  readonly INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (vm_id, idx));"
	"CREATE TABLE vm_nics ("
	"  vm_id INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE, idx INTEGER NOT NULL,"
	"  network_id INTEGER NOT NULL REFERENCES networks(id), mac TEXT NOT NULL,"
	"  PRIMARY KEY (vm_id, idx));"
	"CREATE TABLE acl ("
	"  object_type TEXT NOT NULL, object_id INTEGER NOT NULL,"
	"  principal_type TEXT NOT NULL, principal_id INTEGER NOT NULL, perms INTEGER NOT NULL,"
	"  PRIMARY KEY (object_type, object_id, principal_type, principal_id));"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, type TEXT NOT NULL,"
	"  object_type TEXT, object_name TEXT, user TEXT, message TEXT NOT NULL, data TEXT);"
	"CREATE TABLE tasks ("
	"  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, object TEXT, state TEXT NOT NULL,"
	"  progress REAL NOT NULL DEFAULT 0, error TEXT, user TEXT,"
	"  created REAL NOT NULL, finished REAL);"
	"CREATE TABLE hooks ("
	"  id INTEGER PRIMARY KEY, event_type TEXT NOT NULL, command TEXT NOT NULL);",
	/* 2: unique MACs; hooks are commands or webhooks */
	"CREATE UNIQUE INDEX vm_nics_mac ON vm_nics(mac);"
	"ALTER TABLE hooks ADD COLUMN url TEXT;"
	"ALTER TABLE hooks ADD COLUMN timeout INTEGER NOT NULL DEFAULT 5;"
	"ALTER TABLE hooks ADD COLUMN created INTEGER NOT NULL DEFAULT 0;",
	/* 3: grants go with their object or principal, and ids are never reused (after
	 * autoincrement_ids; see migration_code): grants left by the previous version's
	 * deletions go now. */
	"DELETE FROM acl WHERE (object_type = 'vm' AND object_id NOT IN (SELECT id FROM vms))"
	"  OR (object_type = 'disk' AND object_id NOT IN (SELECT id FROM disks))"
	"  OR (object_type = 'network' AND object_id NOT IN (SELECT id FROM networks))"
	"  OR (object_type = 'server' AND object_id != 0)"
	"  OR object_type NOT IN ('server', 'vm', 'disk', 'network')"
	"  OR (principal_type = 'user' AND principal_id NOT IN (SELECT id FROM users))"
	"  OR (principal_type = 'group' AND principal_id NOT IN (SELECT id FROM groups))"
	"  OR principal_type NOT IN ('user', 'group');"
	"CREATE TRIGGER vms_grants AFTER DELETE ON vms BEGIN"
	"  DELETE FROM acl WHERE object_type = 'vm' AND object_id = OLD.id; END;"
	"CREATE TRIGGER disks_grants AFTER DELETE ON disks BEGIN"
	"  DELETE FROM acl WHERE object_type = 'disk' AND object_id = OLD.id; END;"
	"CREATE TRIGGER networks_grants AFTER DELETE ON networks BEGIN"
	"  DELETE FROM acl WHERE object_type = 'network' AND object_id = OLD.id; END;"
	"CREATE TRIGGER users_grants AFTER DELETE ON users BEGIN"
	"  DELETE FROM acl WHERE principal_type = 'user' AND principal_id = OLD.id; END;"
	"CREATE TRIGGER groups_grants AFTER DELETE ON groups BEGIN"
	"  DELETE FROM acl WHERE principal_type = 'group' AND principal_id = OLD.id; END;",
	/* 4: a revision per VM, raised by every write through the inventory interface (inv.h) */
	"ALTER TABLE vms ADD COLUMN rev INTEGER NOT NULL DEFAULT 1;",
	/* 5: disk layers (differencing images of snapshot trees and linked clones), snapshots
	 * with the image each froze per disk, templates (layers.h, snapshot.h) */
	"CREATE TABLE layers ("
	"  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, parent TEXT, kind TEXT NOT NULL,"
	"  vm_id INTEGER NOT NULL DEFAULT 0, disk_id INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX layers_parent ON layers(parent);"
	"CREATE UNIQUE INDEX layers_top ON layers(vm_id, disk_id) WHERE kind = 'top';"
	"CREATE TABLE snapshots ("
	"  id INTEGER PRIMARY KEY, vm_id INTEGER NOT NULL, name TEXT NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '', parent_id INTEGER NOT NULL DEFAULT 0,"
	"  current INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, UNIQUE (vm_id, name));"
	"CREATE TABLE snapshot_images ("
	"  snapshot_id INTEGER NOT NULL, disk_id INTEGER NOT NULL, path TEXT NOT NULL,"
	"  PRIMARY KEY (snapshot_id, disk_id));"
	"CREATE INDEX snapshot_images_path ON snapshot_images(path);"
	"CREATE TABLE vm_templates (vm_id INTEGER PRIMARY KEY);"
	/* A deleted VM's snapshots go with it; its tops become frozen layers that the layer
	 * collection deletes once nothing needs them (a linked clone may). */
	"CREATE TRIGGER vms_layers AFTER DELETE ON vms BEGIN"
	"  DELETE FROM snapshot_images WHERE snapshot_id IN"
	"    (SELECT id FROM snapshots WHERE vm_id = OLD.id);"
	"  DELETE FROM snapshots WHERE vm_id = OLD.id;"
	"  DELETE FROM vm_templates WHERE vm_id = OLD.id;"
	"  UPDATE layers SET kind = 'frozen', vm_id = 0, disk_id = 0"
	"    WHERE kind = 'top' AND vm_id = OLD.id; END;"
	/* A deleted disk's own layer row (a linked clone's disk) goes with it. */
	"CREATE TRIGGER disks_layers AFTER DELETE ON disks BEGIN"
	"  DELETE FROM layers WHERE kind = 'disk' AND disk_id = OLD.id; END;",
	/* 6: CD/DVD drives of VMs: an image of the image store by name, NULL for an empty
	 * drive (inv_vm_cdroms) */
	"CREATE TABLE vm_cdroms ("
	"  vm_id INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE, idx INTEGER NOT NULL,"
	"  image TEXT, PRIMARY KEY (vm_id, idx));"
	"CREATE INDEX vm_cdroms_image ON vm_cdroms(image);",
	/* 7: VM hardware (inv_vm_hw): firmware, boot order, SMBIOS UUID (one for every VM that
	 * exists, random version 4), the os_type preset it was created with; a CD/DVD drive's
	 * bus, a NIC's model */
	"CREATE TABLE vm_hw ("
	"  vm_id INTEGER PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,"
	"  firmware TEXT NOT NULL DEFAULT 'none', boot TEXT NOT NULL DEFAULT '',"
	"  uuid TEXT NOT NULL, os_type TEXT);"
	"INSERT INTO vm_hw (vm_id, uuid) SELECT id, " INV_SQL_UUID " FROM vms;"
	"ALTER TABLE vm_cdroms ADD COLUMN bus TEXT NOT NULL DEFAULT 'virtio-scsi';"
	"ALTER TABLE vm_nics ADD COLUMN model TEXT NOT NULL DEFAULT 'virtio';",
	/* 8: a VM's memory balloon (inv_vm_hw.balloon): on for VMs created from now on, off
	 * for those that exist (their hardware, and the saved states that name it, stay) */
	"ALTER TABLE vm_hw ADD COLUMN balloon INTEGER NOT NULL DEFAULT 1;"
	"UPDATE vm_hw SET balloon = 0;",
	/* 9: a VM's display (inv_vm_hw): none or bochs; NULL: by its firmware */
	"ALTER TABLE vm_hw ADD COLUMN display TEXT;",
	/* 10: a VM's enlightenments (kvm, hyperv, none; NULL: by its os_type) and same-page
	 * merging of its memory (off unless asked for) */
	"ALTER TABLE vm_hw ADD COLUMN enlightenments TEXT;"
	"ALTER TABLE vm_hw ADD COLUMN mem_merge INTEGER NOT NULL DEFAULT 0;",
	/* 11: the cluster host that runs a task (NULL: a host alone) */
	"ALTER TABLE tasks ADD COLUMN host TEXT;",
	/* 12: a VM's dynamic memory (dynmem.h): its minimum (NULL: its memory_mib, dynamic
	 * memory off, what every VM that exists keeps) and its memory buffer in percent */
	"ALTER TABLE vm_hw ADD COLUMN memory_min_mib INTEGER;"
	"ALTER TABLE vm_hw ADD COLUMN memory_buffer_pct INTEGER NOT NULL DEFAULT 20;",
	/* 13: a snapshot's memory and device state (snapmem.h): its state file's size, 0 for
	 * none (every snapshot that exists: disks only) */
	"ALTER TABLE snapshots ADD COLUMN memory_bytes INTEGER NOT NULL DEFAULT 0;",
	/* 14: per-user quotas (inv_quota: NULL is unlimited) and the owner of each VM and disk
	 * (the user whose quota it counts against: its creator unless an administrator). The
	 * objects that exist get as owner the user their creator's grant names (full rights
	 * given to a user who is no administrator; the oldest such user when several hold
	 * one). IF NOT EXISTS: a test that lowers user_version runs it again. */
	"CREATE TABLE IF NOT EXISTS quotas ("
	"  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
	"  vms INTEGER, cpus INTEGER, memory_mib INTEGER, disks INTEGER, disk_bytes INTEGER,"
	"  snapshots INTEGER);"
	"CREATE TABLE IF NOT EXISTS owners ("
	"  object_type TEXT NOT NULL, object_id INTEGER NOT NULL, user_id INTEGER NOT NULL,"
	"  PRIMARY KEY (object_type, object_id));"
	"CREATE INDEX IF NOT EXISTS owners_user ON owners(user_id, object_type);"
	"CREATE TRIGGER IF NOT EXISTS vms_owner AFTER DELETE ON vms BEGIN"
	"  DELETE FROM owners WHERE object_type = 'vm' AND object_id = OLD.id; END;"
	"CREATE TRIGGER IF NOT EXISTS disks_owner AFTER DELETE ON disks BEGIN"
	"  DELETE FROM owners WHERE object_type = 'disk' AND object_id = OLD.id; END;"
	"CREATE TRIGGER IF NOT EXISTS users_owner AFTER DELETE ON users BEGIN"
	"  DELETE FROM owners WHERE user_id = OLD.id; END;"
	"INSERT OR IGNORE INTO owners (object_type, object_id, user_id)"
	"  SELECT a.object_type, a.object_id, MIN(a.principal_id) FROM acl a"
	"  JOIN users u ON u.id = a.principal_id AND u.admin = 0"
	"  WHERE a.principal_type = 'user' AND (a.perms & 31) = 31"
	"    AND a.object_type IN ('vm', 'disk')"
	"  GROUP BY a.object_type, a.object_id;",
	/* 15: images' owners (inv_image): an image of the image store without a row is public
	 * (what the host placed; every image that exists) */
	"CREATE TABLE IF NOT EXISTS images ("
	"  name TEXT PRIMARY KEY, owner INTEGER NOT NULL DEFAULT 0,"
	"  public INTEGER NOT NULL DEFAULT 0);",
	/* 16: the newest creation event (type OBJECT_TYPE "-created") of every object name
	 * (inv_event_born): an event read by name is told from a deleted namesake's in one
	 * lookup per name, not by reading the history. Kept when retention drops the event. */
	"CREATE TABLE IF NOT EXISTS events_born ("
	"  object_type TEXT NOT NULL, object_name TEXT NOT NULL, event_id INTEGER NOT NULL,"
	"  PRIMARY KEY (object_type, object_name)) WITHOUT ROWID;"
	"CREATE TRIGGER IF NOT EXISTS events_born AFTER INSERT ON events"
	"  WHEN NEW.object_name IS NOT NULL AND NEW.type = NEW.object_type || '-created' BEGIN"
	"  INSERT OR REPLACE INTO events_born (object_type, object_name, event_id)"
	"    VALUES (NEW.object_type, NEW.object_name, NEW.id); END;"
	"INSERT OR REPLACE INTO events_born (object_type, object_name, event_id)"
	"  SELECT object_type, object_name, max(id) FROM events"
	"  WHERE object_name IS NOT NULL AND type = object_type || '-created'"
	"  GROUP BY object_type, object_name;",
	/* 17: the bytes of each image (inv_image.bytes; an upload's reservation while it
	 * streams): its owner's usage counts a private image's (after images_bytes, which adds
	 * the column when it lacks) */
	"CREATE INDEX IF NOT EXISTS images_owner ON images(owner, public);",
	/* 18: claims (inv_claim_take): a server's hold on an object for a short job, until
	 * it drops it or its time (expires, Unix time) is over */
	"CREATE TABLE IF NOT EXISTS claims ("
	"  what TEXT NOT NULL, object_id INTEGER NOT NULL, owner TEXT NOT NULL,"
	"  expires REAL NOT NULL, PRIMARY KEY (what, object_id)) WITHOUT ROWID;"
	/* events_born's rows by event: retention drops a name's row with its creation event
	 * (inv_event_drop_upto), in one range of this index */
	"CREATE INDEX IF NOT EXISTS events_born_event ON events_born(event_id);",
	/* 19: the bytes of each VM's undo disks on its host (inv_vm_set_undo_bytes): its
	 * owner's usage counts them in disk_bytes */
	"CREATE TABLE IF NOT EXISTS vm_undo ("
	"  vm_id INTEGER PRIMARY KEY REFERENCES vms(id) ON DELETE CASCADE,"
	"  bytes INTEGER NOT NULL);",
};

/* The tables whose ids grants name, with the ids (as x) that grants name in them. */
static const struct { const char *table, *acl_ids; } granted_tables[] = {
	{ "vms", "SELECT object_id AS x FROM acl WHERE object_type = 'vm'" },
	{ "disks", "SELECT object_id AS x FROM acl WHERE object_type = 'disk'" },
	{ "networks", "SELECT object_id AS x FROM acl WHERE object_type = 'network'" },
	{ "users", "SELECT principal_id AS x FROM acl WHERE principal_type = 'user'" },
	{ "groups", "SELECT principal_id AS x FROM acl WHERE principal_type = 'group'" },
};

/* db_exec of an sqlite3_mprintf format (%q, %w quote strings and identifiers). */
static int exec_fmt(struct dbc *c, const char *fmt, ...)
{
	va_list ap;
	char *sql;
	int rc;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	if (!sql)
		return -ENOMEM;
	rc = db_exec(c, sql);
	sqlite3_free(sql);
	return rc;
}

/* Rebuild table (its stored definition, whatever columns later migrations added) with
 * "id INTEGER PRIMARY KEY AUTOINCREMENT", keeping its rows and indexes, and start its
 * sequence past every id it holds or a grant names (an id a grant still names was used
 * by a deleted row). Runs inside the migration's transaction, foreign keys off. */
static int autoincrement_table(struct dbc *c, const char *table, const char *acl_ids)
{
	static const char pk[] = "id INTEGER PRIMARY KEY";
	sqlite3_stmt *s = NULL;
	char *def = NULL, *idx[16] = { NULL };
	const char *open, *at;
	int nidx = 0, i, rc = -EIO;

	if (sqlite3_prepare_v2(S(c)->c, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
			       -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
		def = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	if (!def)
		return -EIO;
	open = strchr(def, '(');
	at = strstr(def, pk);
	if (strstr(def, "AUTOINCREMENT")) {
		rc = 0;
		goto out;
	}
	if (!open || !at || at < open) {
		vsrv_log("inventory: table %s has no \"%s\" to make AUTOINCREMENT", table, pk);
		goto out;
	}
	if (sqlite3_prepare_v2(S(c)->c, "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
			       "AND tbl_name = ? AND sql IS NOT NULL", -1, &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (nidx == (int)(sizeof(idx) / sizeof(idx[0]))) {
			vsrv_log("inventory: table %s has too many indexes and triggers to rebuild", table);
			sqlite3_finalize(s);
			goto out;
		}
		idx[nidx++] = strdup((const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	for (i = 0; i < nidx; i++)
		if (!idx[i])
			goto out;
	rc = exec_fmt(c, "CREATE TABLE \"%w_autoinc\" %.*s AUTOINCREMENT%s", table,
		      (int)(at + sizeof(pk) - 1 - open), open, at + sizeof(pk) - 1);
	if (!rc)
		rc = exec_fmt(c, "INSERT INTO \"%w_autoinc\" SELECT * FROM \"%w\"", table, table);
	if (!rc)
		rc = exec_fmt(c, "DROP TABLE \"%w\"", table);
	if (!rc)
		rc = exec_fmt(c, "ALTER TABLE \"%w_autoinc\" RENAME TO \"%w\"", table, table);
	for (i = 0; !rc && i < nidx; i++)
		rc = db_exec(c, idx[i]);
	if (!rc)
		rc = exec_fmt(c, "DELETE FROM sqlite_sequence WHERE name = '%q'", table);
	if (!rc)
		rc = exec_fmt(c, "INSERT INTO sqlite_sequence (name, seq) SELECT '%q', max(coalesce("
			      "(SELECT max(id) FROM \"%w\"), 0), coalesce((SELECT max(x) FROM (%s)), 0))",
			      table, table, acl_ids);
out:
	for (i = 0; i < nidx; i++)
		free(idx[i]);
	free(def);
	return rc;
}

static int autoincrement_ids(struct dbc *c)
{
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < sizeof(granted_tables) / sizeof(granted_tables[0]); i++)
		rc = autoincrement_table(c, granted_tables[i].table, granted_tables[i].acl_ids);
	return rc;
}

/* Migration 17's column, unless the table has it (a test that lowers user_version runs
 * the migrations again). */
static int images_bytes(struct dbc *c)
{
	sqlite3_stmt *s = NULL;
	bool has;

	if (sqlite3_prepare_v2(S(c)->c, "SELECT 1 FROM pragma_table_info('images') WHERE "
			       "name = 'bytes'", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	has = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return has ? 0 : db_exec(c, "ALTER TABLE images ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0");
}

/* Steps SQL cannot say, run (in the same transaction) before the SQL of migration
 * version: the whole migration runs with foreign keys off, checked before the commit. */
static const struct { int version; int (*run)(struct dbc *c); } migration_code[] = {
	{ 3, autoincrement_ids },
	{ 17, images_bytes },
};

static int conn_open(struct db *db, struct dbc **out)
{
	struct sdbc *s = calloc(1, sizeof(*s));
	const char *path = SDB(db)->path;
	char *err = NULL;

	if (!s)
		return -ENOMEM;
	s->base.ops = db->ops;
	s->base.db = db;
	if (sqlite3_open_v2(path, &s->c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		vsrv_log("inventory %s: %s", path, s->c ? sqlite3_errmsg(s->c) : "cannot open");
		sqlite3_close(s->c);
		free(s);
		return -EIO;
	}
	sqlite3_busy_timeout(s->c, 10000);
	/* temp_store: the temporary tables of a query (the usage read's CTEs, sorts) in memory.
	 * With the default (a temporary file, opened only when its cache spills) each statement
	 * sets up and drops a temporary pager whose page cache goes back to the system: the
	 * quota check's usage read of a manager with 1 or 50 users took 1.6 to 1.8 ms instead of
	 * 0.05 to 0.2, of 1000 users 11 ms instead of 7.8, of 5000 users 53 instead of 47; never
	 * slower (bench/quota_tempstore.py: medians, SQLite 3.40) */
	if (sqlite3_exec(s->c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;", NULL, NULL,
			 &err) != SQLITE_OK) {
		vsrv_log("inventory %s: %s", path, err);
		sqlite3_free(err);
		sqlite3_close(s->c);
		free(s);
		return -EIO;
	}
	*out = &s->base;
	return 0;
}

static void conn_close(struct dbc *c)
{
	struct sdbc *s = S(c);
	int i;

	for (i = 0; i < s->nstmt; i++)
		sqlite3_finalize(s->stmt[i].s);
	sqlite3_close(s->c);
	free(s);
}

static int migrate_to(struct dbc *c, int version, char **err)
{
	size_t k;
	int rc;

	for (k = 0; k < sizeof(migration_code) / sizeof(migration_code[0]); k++)
		if (migration_code[k].version == version) {
			rc = migration_code[k].run(c);
			if (rc) {
				*err = sqlite3_mprintf("%s", strerror(-rc));
				return rc;
			}
		}
	if (sqlite3_exec(S(c)->c, migrations[version - 1], NULL, NULL, err) != SQLITE_OK)
		return -EIO;
	return 0;
}

/* Foreign keys are off while migrations rebuild tables (a dropped table would cascade),
 * and checked before the commit. */
static int migrate(struct db *db, struct dbc *c)
{
	sqlite3_stmt *s;
	int ver, i, n = sizeof(migrations) / sizeof(migrations[0]), rc = -EIO;
	char *err = NULL;

	if (db_exec(c, "PRAGMA foreign_keys=OFF"))
		return -EIO;
	if (db_begin(c))
		goto out;
	s = db_stmt(c, "PRAGMA user_version");
	if (!s || sqlite3_step(s) != SQLITE_ROW) {
		db_rollback(c);
		goto out;
	}
	ver = sqlite3_column_int(s, 0);
	db_done(s);
	if (ver > n) {
		vsrv_log("inventory %s: schema version %d is newer than this vsrv (%d)",
			 SDB(db)->path, ver, n);
		db_rollback(c);
		rc = -EPROTO;
		goto out;
	}
	for (i = ver; i < n; i++) {
		char pragma[64];

		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", i + 1);
		if (migrate_to(c, i + 1, &err) ||
		    sqlite3_exec(S(c)->c, pragma, NULL, NULL, &err) != SQLITE_OK) {
			vsrv_log("inventory %s: migration %d: %s", SDB(db)->path, i + 1, err ? err : "failed");
			sqlite3_free(err);
			db_rollback(c);
			goto out;
		}
		vsrv_log("inventory %s: migrated to schema version %d", SDB(db)->path, i + 1);
	}
	s = ver < n ? db_stmt(c, "PRAGMA foreign_key_check") : NULL;
	if (ver < n && (!s || sqlite3_step(s) != SQLITE_DONE)) {
		vsrv_log("inventory %s: foreign keys broken after migration", SDB(db)->path);
		db_done(s);
		db_rollback(c);
		goto out;
	}
	db_done(s);
	rc = db_commit(c);
out:
	if (db_exec(c, "PRAGMA foreign_keys=ON"))
		rc = rc ? rc : -EIO;
	return rc;
}

int db_open(const char *path, struct db **out)
{
	struct sdb *d = calloc(1, sizeof(*d));
	struct dbc *c;
	int rc;

	if (!d)
		return -ENOMEM;
	d->path = strdup(path);
	if (!d->path) {
		free(d);
		return -ENOMEM;
	}
	pthread_mutex_init(&d->lock, NULL);
	rc = conn_open(&d->base, &c);
	if (rc)
		goto err_free;
	rc = migrate(&d->base, c);
	if (rc) {
		conn_close(c);
		goto err_free;
	}
	db_put(c);
	*out = &d->base;
	return 0;
err_free:
	pthread_mutex_destroy(&d->lock);
	free(d->path);
	free(d);
	return rc;
}

void db_close(struct db *db)
{
	struct sdb *d = SDB(db);
	struct sdbc *s, *n;

	if (!db)
		return;
	for (s = d->free; s; s = n) {
		n = s->next;
		conn_close(&s->base);
	}
	pthread_mutex_destroy(&d->lock);
	free(d->path);
	free(d);
}

struct dbc *db_get(struct db *db)
{
	struct sdb *d = SDB(db);
	struct sdbc *s;
	struct dbc *c;

	pthread_mutex_lock(&d->lock);
	s = d->free;
	if (s)
		d->free = s->next;
	pthread_mutex_unlock(&d->lock);
	if (s) {
		s->base.ops = db->ops; /* set by inv_open after db_open */
		return &s->base;
	}
	if (conn_open(db, &c))
		return NULL;
	return c;
}

void db_put(struct dbc *c)
{
	struct sdb *d = SDB(c->db);
	struct sdbc *s = S(c);

	if (!sqlite3_get_autocommit(s->c)) {
		vsrv_log("inventory: connection returned inside a transaction; rolling back");
		db_rollback(c);
	}
	pthread_mutex_lock(&d->lock);
	s->next = d->free;
	d->free = s;
	pthread_mutex_unlock(&d->lock);
}

int db_exec(struct dbc *c, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(S(c)->c, sql, NULL, NULL, &err);

	if (rc == SQLITE_OK)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		sqlite3_free(err);
		return -EEXIST;
	}
	vsrv_log("inventory: %s: %s", sql, err ? err : sqlite3_errstr(rc));
	sqlite3_free(err);
	return -EIO;
}

int db_begin(struct dbc *c)
{
	return db_exec(c, "BEGIN IMMEDIATE");
}

int db_commit(struct dbc *c)
{
	int rc = db_exec(c, "COMMIT");

	if (rc) {
		db_rollback(c);
		return rc;
	}
	atomic_fetch_add(&SDB(c->db)->gen, 1);
	return 0;
}

void db_rollback(struct dbc *c)
{
	if (!sqlite3_get_autocommit(S(c)->c))
		sqlite3_exec(S(c)->c, "ROLLBACK", NULL, NULL, NULL);
}

/* db_stmt's calls on this thread (inv_thread_statements). */
static __thread unsigned long thread_statements;

unsigned long inv_thread_statements(void)
{
	return thread_statements;
}

sqlite3_stmt *db_stmt(struct dbc *c, const char *sql)
{
	struct sdbc *d = S(c);
	sqlite3_stmt *s = NULL;
	int i;

	thread_statements++;
	for (i = 0; i < d->nstmt; i++)
		if (d->stmt[i].sql == sql)
			return d->stmt[i].s;
	if (sqlite3_prepare_v3(d->c, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
		vsrv_log("inventory: cannot prepare \"%s\": %s", sql, sqlite3_errmsg(d->c));
		return NULL;
	}
	if (d->nstmt < (int)(sizeof(d->stmt) / sizeof(d->stmt[0]))) {
		d->stmt[d->nstmt].sql = sql;
		d->stmt[d->nstmt].s = s;
		d->nstmt++;
	} else {
		/* Cache full: replace the oldest entry (rare; the API has fewer statements). */
		sqlite3_finalize(d->stmt[0].s);
		memmove(&d->stmt[0], &d->stmt[1], sizeof(d->stmt[0]) * (d->nstmt - 1));
		d->stmt[d->nstmt - 1].sql = sql;
		d->stmt[d->nstmt - 1].s = s;
	}
	return s;
}

void db_done(sqlite3_stmt *s)
{
	if (!s)
		return;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

int db_rc(struct dbc *c, int rc)
{
	if (rc == SQLITE_DONE || rc == SQLITE_ROW || rc == SQLITE_OK)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return -EEXIST;
	vsrv_log("inventory: %s", sqlite3_errmsg(S(c)->c));
	return -EIO;
}

int db_exec_id(struct dbc *c, const char *sql, int64_t id)
{
	sqlite3_stmt *s = db_stmt(c, sql);
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	rc = db_rc(c, sqlite3_step(s));
	db_done(s);
	return rc;
}

int db_int64(struct dbc *c, const char *sql, int64_t *out)
{
	sqlite3_stmt *s = db_stmt(c, sql);
	int rc = -EIO;

	if (!s)
		return -EIO;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = 0;
	}
	db_done(s);
	return rc;
}

uint64_t db_generation(struct db *db)
{
	return atomic_load(&SDB(db)->gen);
}

sqlite3 *db_handle(struct dbc *c)
{
	return S(c)->c;
}
