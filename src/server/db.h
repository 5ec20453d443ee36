/* The server's inventory on SQLite: one database (WAL, foreign keys, versioned migrations)
 * under the data directory, reached through a small pool of connections so that request
 * threads never share one. Its store and connections are the inventory's struct db and
 * struct dbc (inv_ops.h) of the SQLite backend: every function here takes only those. */
#ifndef VSRV_SERVER_DB_H
#define VSRV_SERVER_DB_H

#include <sqlite3.h>
#include <stdint.h>

struct db;

/* Open (creating when missing) the database at path and bring its schema to the newest
 * version, in one transaction per migration. Returns 0 and *out (free with db_close), or
 * -errno (-EIO for an SQLite error, logged with the path). */
int db_open(const char *path, struct db **out);

/* Close every pooled connection and free the db. No connection may be held. */
void db_close(struct db *db);

struct dbc;

/* Take a connection from the pool (opening a new one when all are busy). Returns NULL
 * only when a connection cannot be opened (logged). Give it back with db_put. */
struct dbc *db_get(struct db *db);
void db_put(struct dbc *c);

/* Begin a write transaction (BEGIN IMMEDIATE, waiting for the lock), commit or roll back.
 * Return 0 or -EIO. */
int db_begin(struct dbc *c);
int db_commit(struct dbc *c);
void db_rollback(struct dbc *c);

/* Prepare sql on c; sql must be a string literal (statements are cached per connection,
 * keyed by the pointer). The statement belongs to the connection: finish with db_done
 * (reset + clear bindings). Returns NULL on error (logged). */
sqlite3_stmt *db_stmt(struct dbc *c, const char *sql);
void db_done(sqlite3_stmt *s);

/* Execute sql with no result rows; returns 0, -EEXIST for a constraint violation,
 * or -EIO. */
int db_exec(struct dbc *c, const char *sql);

/* Run sql (a string literal, as for db_stmt) with ?1 bound to id; for statements without
 * result rows. Returns 0, -EEXIST (constraint) or -EIO (also when sql cannot be prepared). */
int db_exec_id(struct dbc *c, const char *sql, int64_t id);

/* Run sql (a string literal, as for db_stmt; no parameters) and read the first column of
 * its one row into *out. 0, or -EIO (also when sql cannot be prepared or gives no row). */
int db_int64(struct dbc *c, const char *sql, int64_t *out);

/* The SQLite connection of c (for sqlite3_changes, sqlite3_last_insert_rowid). */
sqlite3 *db_handle(struct dbc *c);

/* Map the result of sqlite3_step to 0 (SQLITE_DONE/ROW), -EEXIST (constraint) or -EIO. */
int db_rc(struct dbc *c, int rc);

/* A monotonic counter bumped by every committed write through db_commit: readers use it
 * to validate caches. */
uint64_t db_generation(struct db *db);

/* An SQL expression for a random version-4 UUID in lower case (the inventory's VM UUIDs). */
#define INV_SQL_UUID "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || " \
	"substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + abs(random() % 4), 1) || " \
	"substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"

#endif
