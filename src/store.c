/* store.c: the SQLite store. Every change that must be atomic with
 * another (reports + outbox + notices + position) is one transaction. */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "report.h"
#include "store.h"
#include "util.h"

#define STORE_SCHEMA_VERSION	1

struct store {
	sqlite3	*db;
	char	*path;
};

static const char *schema =
    "CREATE TABLE IF NOT EXISTS meta("
    "  key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS positions("
    "  network INTEGER NOT NULL, account TEXT NOT NULL, room TEXT NOT NULL,"
    "  position TEXT NOT NULL, updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY(network, account, room));"
    "CREATE TABLE IF NOT EXISTS seen("
    "  network INTEGER NOT NULL, room TEXT NOT NULL, msgid TEXT NOT NULL,"
    "  at INTEGER NOT NULL, report_id TEXT,"
    "  PRIMARY KEY(network, room, msgid));"
    "CREATE TABLE IF NOT EXISTS reports("
    "  id TEXT PRIMARY KEY, created_at INTEGER NOT NULL,"
    "  network INTEGER NOT NULL, account TEXT NOT NULL, room TEXT NOT NULL,"
    "  msgid TEXT, category TEXT NOT NULL, urgency TEXT NOT NULL,"
    "  json TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS outbox("
    "  id INTEGER PRIMARY KEY, report_id TEXT NOT NULL REFERENCES reports(id)"
    "  ON DELETE CASCADE, desk TEXT NOT NULL, state TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,"
    "  last_error TEXT, created_at INTEGER NOT NULL, done_at INTEGER,"
    "  version INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT"
    "  'new', remote_ref TEXT, UNIQUE(report_id, desk, version));"
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_at);"
    "CREATE TABLE IF NOT EXISTS chat_out("
    "  id INTEGER PRIMARY KEY, network INTEGER NOT NULL,"
    "  account TEXT NOT NULL, room TEXT NOT NULL, body TEXT NOT NULL,"
    "  reply_to TEXT, txn_id TEXT NOT NULL UNIQUE, state TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, sent_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS chat_pending ON chat_out(state, network,"
    "  account);"
    "CREATE TABLE IF NOT EXISTS audit("
    "  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, what TEXT NOT NULL,"
    "  report_id TEXT, detail TEXT);";

static int
exec(struct store *s, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("store %s: %s", s->path, err ? err : "error");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* Prepares sql; NULL (logged) on error. Caller finalizes. */
static sqlite3_stmt *
prep(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("store: %s: %s", sqlite3_errmsg(s->db), sql);
		return NULL;
	}
	return st;
}

static int
step_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		log_warnx("store: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* Prepares sql and binds the parameters in order as types says: 'I'
 * int64_t, 't' const char * (NULL binds NULL). NULL on error. Caller
 * finalizes. */
static sqlite3_stmt *
prepv(struct store *s, const char *sql, const char *types, va_list ap)
{
	sqlite3_stmt *st;
	int i = 1;

	if ((st = prep(s, sql)) == NULL)
		return NULL;
	for (const char *t = types; *t; t++, i++) {
		if (*t == 'I')
			sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
		else
			bind_text(st, i, va_arg(ap, const char *));
	}
	return st;
}

/* Runs one statement (parameters as for prepv). Returns the number of
 * rows changed, or -1. */
static int
run(struct store *s, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	va_start(ap, types);
	st = prepv(s, sql, types, ap);
	va_end(ap);
	if (st == NULL)
		return -1;
	rc = step_done(s, st);
	sqlite3_finalize(st);
	return rc == 0 ? sqlite3_changes(s->db) : -1;
}

/* The integer in the first column of the first row of a query
 * (parameters as for prepv), or -1. */
static int64_t
count(struct store *s, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int64_t n = -1;

	va_start(ap, types);
	st = prepv(s, sql, types, ap);
	va_end(ap);
	if (st == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Copy of column i or NULL; caller frees. */
static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? xstrdup((const char *)t) : NULL;
}

struct store *
store_open(const char *path, char **errp)
{
	struct store *s = xcalloc(1, sizeof(*s));

	s->path = xstrdup(path);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*errp = xasprintf("%s: %s", path, s->db ?
		    sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if (exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;") == -1 ||
	    exec(s, "BEGIN IMMEDIATE") == -1)
		goto schema_fail;
	if (exec(s, schema) == -1 ||
	    exec(s, "INSERT OR IGNORE INTO meta VALUES('schema', '1')") == -1) {
		exec(s, "ROLLBACK");
		goto schema_fail;
	}
	if (exec(s, "COMMIT") == -1)
		goto schema_fail;
	return s;
schema_fail:
	*errp = xasprintf("%s: cannot set up the database: %s", path,
	    sqlite3_errmsg(s->db));
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

char *
store_position_get(struct store *s, enum network net, const char *account,
    const char *room)
{
	sqlite3_stmt *st;
	char *pos = NULL;

	st = prep(s, "SELECT position FROM positions WHERE network=? AND "
	    "account=? AND room=?");
	if (st == NULL)
		return NULL;
	sqlite3_bind_int(st, 1, net);
	bind_text(st, 2, account);
	bind_text(st, 3, room);
	if (sqlite3_step(st) == SQLITE_ROW)
		pos = col_dup(st, 0);
	sqlite3_finalize(st);
	return pos;
}

static int
position_put(struct store *s, enum network net, const char *account,
    const char *room, const char *position)
{
	return run(s, "INSERT INTO positions VALUES(?,?,?,?,?) ON CONFLICT"
	    "(network, account, room) DO UPDATE SET position=excluded.position,"
	    " updated_at=excluded.updated_at", "ItttI", (int64_t)net, account,
	    room, position, now_ms()) < 0 ? -1 : 0;
}

int
store_position_set(struct store *s, enum network net, const char *account,
    const char *room, const char *position)
{
	return position_put(s, net, account, room, position);
}

int
store_seen(struct store *s, enum network net, const char *room,
    const char *msgid)
{
	int64_t n = count(s, "SELECT count(*) FROM seen WHERE network=? AND "
	    "room=? AND msgid=?", "Itt", (int64_t)net, room, msgid);

	return n < 0 ? -1 : n > 0;
}

static int
chat_insert(struct store *s, enum network net, const char *account,
    const char *room, const char *body, const char *reply_to,
    const char *txn_id)
{
	return run(s, "INSERT OR IGNORE INTO chat_out(network, account, room,"
	    " body, reply_to, txn_id, state, created_at) VALUES(?,?,?,?,?,?,"
	    "'pending',?)", "ItttttI", (int64_t)net,
	    account, room, body, reply_to, txn_id, now_ms()) < 0 ? -1 : 0;
}

static int
audit(struct store *s, const char *what, const char *report_id,
    const char *detail)
{
	return run(s, "INSERT INTO audit(at, what, report_id, detail) "
	    "VALUES(?,?,?,?)", "Ittt", now_ms(), what, report_id, detail) < 0 ?
	    -1 : 0;
}

static int
seen_put(struct store *s, const struct message *m, const char *report_id,
    int64_t now)
{
	sqlite3_stmt *st;
	int rc;

	if (m->msgid == NULL)
		return 0;
	st = prep(s, "INSERT OR IGNORE INTO seen VALUES(?,?,?,?,?)");
	if (st == NULL)
		return -1;
	sqlite3_bind_int(st, 1, m->network);
	bind_text(st, 2, m->room);
	bind_text(st, 3, m->msgid);
	sqlite3_bind_int64(st, 4, now);
	bind_text(st, 5, report_id);
	rc = step_done(s, st);
	sqlite3_finalize(st);
	return rc;
}

/* The rest of a processed message, inside its transaction: the room
 * notices, the dedup key (when it belongs to report_id) and the room
 * position. */
static int
message_done(struct store *s, const struct message *m,
    const struct chat_notice *notices, size_t nnotices,
    const char *report_id, int64_t now)
{
	for (size_t i = 0; i < nnotices; i++)
		if (chat_insert(s, m->network, m->account, m->room,
		    notices[i].body, notices[i].reply_to,
		    notices[i].txn_id) == -1)
			return -1;
	if (report_id && seen_put(s, m, report_id, now) == -1)
		return -1;
	if (m->position && position_put(s, m->network, m->account, m->room,
	    m->position) == -1)
		return -1;
	return 0;
}

static int
insert_report(struct store *s, const struct message *m,
    const struct report *r, int64_t now, int held)
{
	sqlite3_stmt *st;

	st = prep(s, "INSERT INTO reports VALUES(?,?,?,?,?,?,?,?,?)");
	if (st == NULL)
		return -1;
	bind_text(st, 1, r->id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, m->network);
	bind_text(st, 4, m->account);
	bind_text(st, 5, m->room);
	bind_text(st, 6, m->msgid);
	bind_text(st, 7, r->category);
	bind_text(st, 8, urgency_name(r->urgency));
	bind_text(st, 9, r->json);
	if (step_done(s, st) == -1)
		goto fail;
	sqlite3_finalize(st);
	st = prep(s, "INSERT OR IGNORE INTO outbox(report_id, desk, state,"
	    " next_at, created_at) VALUES(?,?,?,?,?)");
	if (st == NULL)
		return -1;
	for (size_t i = 0; i < r->ndesks; i++) {
		sqlite3_reset(st);
		bind_text(st, 1, r->id);
		bind_text(st, 2, r->desks[i]);
		bind_text(st, 3, held ? "held" : "pending");
		sqlite3_bind_int64(st, 4, now);
		sqlite3_bind_int64(st, 5, now);
		if (step_done(s, st) == -1)
			goto fail;
	}
	sqlite3_finalize(st);
	return audit(s, "report", r->id, r->category);
fail:
	sqlite3_finalize(st);
	return -1;
}

int
store_commit(struct store *s, const struct message *m,
    struct report *const *reports, size_t nreports,
    const struct chat_notice *notices, size_t nnotices)
{
	return store_commit_held(s, m, reports, nreports, notices, nnotices,
	    0);
}

int64_t
store_room_reports_since(struct store *s, enum network net, const char *room,
    int64_t since)
{
	return count(s, "SELECT count(*) FROM reports WHERE network=? AND "
	    "room=? AND created_at >= ?", "ItI", (int64_t)net, room, since);
}

int64_t
store_desk_delivered_since(struct store *s, const char *desk, int64_t since)
{
	return count(s, "SELECT count(*) FROM outbox WHERE desk=? AND "
	    "state='delivered' AND done_at >= ?", "tI", desk, since);
}

int
store_commit_held(struct store *s, const struct message *m,
    struct report *const *reports, size_t nreports,
    const struct chat_notice *notices, size_t nnotices, int held)
{
	int64_t now = now_ms();

	if (exec(s, "BEGIN IMMEDIATE") == -1)
		return -1;
	for (size_t i = 0; i < nreports; i++)
		if (insert_report(s, m, reports[i], now, held) == -1)
			goto fail;
	if (message_done(s, m, notices, nnotices, nreports > 0 ?
	    reports[0]->id : NULL, now) == -1)
		goto fail;
	if (exec(s, "COMMIT") == -1)
		goto fail;
	return 0;
fail:
	exec(s, "ROLLBACK");
	return -1;
}

/* The id and JSON of the first report a query (parameters as for prepv)
 * yields: 1 with *idp and *jsonp set (caller frees), 0 if none, -1. */
static int
fetch_report(struct store *s, char **idp, char **jsonp, const char *sql,
    const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc = 0;

	va_start(ap, types);
	st = prepv(s, sql, types, ap);
	va_end(ap);
	if (st == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*idp = col_dup(st, 0);
		*jsonp = col_dup(st, 1);
		rc = 1;
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_open_report(struct store *s, enum network net, const char *room,
    const char *category, int64_t since, const char *reply_to,
    char **idp, char **jsonp)
{
	int rc;

	*idp = *jsonp = NULL;
	if (reply_to && (rc = fetch_report(s, idp, jsonp, "SELECT r.id, "
	    "r.json FROM seen s JOIN reports r ON r.id = s.report_id WHERE "
	    "s.network=? AND s.room=? AND s.msgid=?", "Itt", (int64_t)net,
	    room, reply_to)) != 0)
		return rc;
	if (category == NULL)
		return 0;
	return fetch_report(s, idp, jsonp, "SELECT id, json FROM reports "
	    "WHERE network=? AND room=? AND category=? AND created_at >= ? "
	    "ORDER BY created_at DESC LIMIT 1", "IttI", (int64_t)net, room,
	    category, since);
}

/* Queues the report for desk: nothing if a row is still pending (it will
 * carry the latest JSON), version 0 "new" if the desk never had it, else
 * the next version as "updated". */
static int
outbox_update_for(struct store *s, const char *report_id, const char *desk,
    int64_t now)
{
	sqlite3_stmt *st;
	int pending = 0, maxv = -1, rc;

	st = prep(s, "SELECT coalesce(sum(state IN ('pending','held')), 0), "
	    "coalesce(max(version), -1) FROM outbox WHERE report_id=? AND "
	    "desk=?");
	if (st == NULL)
		return -1;
	bind_text(st, 1, report_id);
	bind_text(st, 2, desk);
	if (sqlite3_step(st) == SQLITE_ROW) {
		pending = sqlite3_column_int(st, 0);
		maxv = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	if (pending)
		return 0;
	st = prep(s, "INSERT INTO outbox(report_id, desk, state, next_at, "
	    "created_at, version, status) VALUES(?,?,'pending',?,?,?,?)");
	if (st == NULL)
		return -1;
	bind_text(st, 1, report_id);
	bind_text(st, 2, desk);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int(st, 5, maxv + 1);
	bind_text(st, 6, maxv < 0 ? "new" : "updated");
	rc = step_done(s, st);
	sqlite3_finalize(st);
	return rc;
}

int
store_update_report(struct store *s, const struct message *m,
    const char *report_id, const char *json, const char *urgency,
    char *const *desks, size_t ndesks, const struct chat_notice *notices,
    size_t nnotices)
{
	int64_t now = now_ms();
	sqlite3_stmt *st;

	if (exec(s, "BEGIN IMMEDIATE") == -1)
		return -1;
	st = prep(s, "UPDATE reports SET json=?, urgency=? WHERE id=?");
	if (st == NULL)
		goto fail;
	bind_text(st, 1, json);
	bind_text(st, 2, urgency);
	bind_text(st, 3, report_id);
	if (step_done(s, st) == -1) {
		sqlite3_finalize(st);
		goto fail;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < ndesks; i++)
		if (outbox_update_for(s, report_id, desks[i], now) == -1)
			goto fail;
	if (audit(s, "corroborated", report_id, m->msgid) == -1 ||
	    message_done(s, m, notices, nnotices, report_id, now) == -1)
		goto fail;
	if (exec(s, "COMMIT") == -1)
		goto fail;
	return 0;
fail:
	exec(s, "ROLLBACK");
	return -1;
}

int
store_chat_pending(struct store *s, enum network net, const char *account,
    struct chat_out ***out, size_t max)
{
	sqlite3_stmt *st;
	struct chat_out **rows = NULL;
	size_t n = 0;

	*out = NULL;
	st = prep(s, "SELECT id, room, body, reply_to, txn_id FROM chat_out "
	    "WHERE state='pending' AND network=? AND account=? ORDER BY id "
	    "LIMIT ?");
	if (st == NULL)
		return -1;
	sqlite3_bind_int(st, 1, net);
	bind_text(st, 2, account);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct chat_out *c = xcalloc(1, sizeof(*c));
		c->id = sqlite3_column_int64(st, 0);
		c->network = net;
		c->account = xstrdup(account);
		c->room = col_dup(st, 1);
		c->body = col_dup(st, 2);
		c->reply_to = col_dup(st, 3);
		c->txn_id = col_dup(st, 4);
		rows = xrealloc(rows, (n + 1) * sizeof(*rows));
		rows[n++] = c;
	}
	sqlite3_finalize(st);
	*out = rows;
	return (int)n;
}

int
store_chat_sent(struct store *s, int64_t id)
{
	return run(s, "UPDATE chat_out SET state='sent', sent_at=? WHERE id=?",
	    "II", now_ms(), id) < 0 ? -1 : 0;
}

int
store_chat_add(struct store *s, enum network net, const char *account,
    const char *room, const char *body, const char *reply_to,
    const char *txn_id)
{
	return chat_insert(s, net, account, room, body, reply_to, txn_id);
}

void
store_outbox_free(struct outbox_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].report_id);
		free(items[i].desk);
		free(items[i].report_json);
		free(items[i].state);
		free(items[i].last_error);
		free(items[i].account);
		free(items[i].room);
		free(items[i].msgid);
		free(items[i].status);
		free(items[i].remote_ref);
	}
	free(items);
}

#define OUTBOX_COLS "o.id, o.report_id, o.desk, r.json, o.state, " \
	"o.attempts, o.next_at, o.last_error, r.network, r.account, r.room, " \
	"r.msgid, o.version, o.status, o.remote_ref, (SELECT remote_ref FROM " \
	"outbox p WHERE p.report_id = o.report_id AND p.desk = o.desk AND " \
	"p.remote_ref IS NOT NULL ORDER BY p.version LIMIT 1) " \
	"FROM outbox o JOIN reports r ON r.id = o.report_id "

static int
outbox_fetch(sqlite3_stmt *st, struct outbox_item **out)
{
	struct outbox_item *items = NULL;
	size_t n = 0;

	while (sqlite3_step(st) == SQLITE_ROW) {
		struct outbox_item *it;

		items = xrealloc(items, (n + 1) * sizeof(*items));
		it = &items[n++];
		it->id = sqlite3_column_int64(st, 0);
		it->report_id = col_dup(st, 1);
		it->desk = col_dup(st, 2);
		it->report_json = col_dup(st, 3);
		it->state = col_dup(st, 4);
		it->attempts = sqlite3_column_int(st, 5);
		it->next_at = sqlite3_column_int64(st, 6);
		it->last_error = col_dup(st, 7);
		it->network = (enum network)sqlite3_column_int(st, 8);
		it->account = col_dup(st, 9);
		it->room = col_dup(st, 10);
		it->msgid = col_dup(st, 11);
		it->version = sqlite3_column_int(st, 12);
		it->status = col_dup(st, 13);
		it->remote_ref = col_dup(st, 15);
	}
	sqlite3_finalize(st);
	*out = items;
	return (int)n;
}

int
store_outbox_due(struct store *s, int64_t now, struct outbox_item **out,
    size_t max)
{
	sqlite3_stmt *st;

	*out = NULL;
	st = prep(s, "SELECT " OUTBOX_COLS "WHERE o.state='pending' AND "
	    "o.next_at <= ? ORDER BY o.next_at, o.id LIMIT ?");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	return outbox_fetch(st, out);
}

int
store_outbox_list(struct store *s, const char *state,
    struct outbox_item **out, size_t max)
{
	sqlite3_stmt *st;

	*out = NULL;
	st = prep(s, "SELECT " OUTBOX_COLS "WHERE (?1 IS NULL OR o.state=?1)"
	    " ORDER BY o.id LIMIT ?2");
	if (st == NULL)
		return -1;
	bind_text(st, 1, state);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	return outbox_fetch(st, out);
}

int64_t
store_outbox_next_at(struct store *s)
{
	sqlite3_stmt *st;
	int64_t next = -1;

	st = prep(s, "SELECT min(next_at) FROM outbox WHERE state='pending'");
	if (st == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		next = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return next;
}


int
store_outbox_delivered(struct store *s, int64_t id, int64_t now,
    const char *notice, const char *txn_id)
{
	struct outbox_item *it = NULL;
	sqlite3_stmt *st;
	int n;

	if (exec(s, "BEGIN IMMEDIATE") == -1)
		return -1;
	st = prep(s, "SELECT " OUTBOX_COLS "WHERE o.id=?");
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if ((n = outbox_fetch(st, &it)) != 1)
		goto fail;
	if (run(s, "UPDATE outbox SET state='delivered', done_at=?, "
	    "attempts=attempts+1, last_error=NULL WHERE id=?", "II", now,
	    id) == -1)
		goto fail;
	if (notice && chat_insert(s, it->network, it->account, it->room,
	    notice, it->msgid, txn_id) == -1)
		goto fail;
	if (audit(s, "delivered", it->report_id, it->desk) == -1)
		goto fail;
	if (exec(s, "COMMIT") == -1)
		goto fail;
	store_outbox_free(it, 1);
	return 0;
fail:
	exec(s, "ROLLBACK");
	if (it)
		store_outbox_free(it, 1);
	return -1;
}

int
store_outbox_set_ref(struct store *s, int64_t id, const char *ref)
{
	return run(s, "UPDATE outbox SET remote_ref=? WHERE id=?", "tI", ref,
	    id) < 0 ? -1 : 0;
}

int
store_outbox_retry(struct store *s, int64_t id, int attempts, int64_t next_at,
    const char *error)
{
	return run(s, "UPDATE outbox SET attempts=?, next_at=?, last_error=? "
	    "WHERE id=? AND state='pending'", "IItI", (int64_t)attempts,
	    next_at, error, id) < 0 ? -1 : 0;
}

int
store_outbox_dead(struct store *s, int64_t id, int attempts, const char *error)
{
	return run(s, "UPDATE outbox SET state='dead', attempts=?, done_at=?, "
	    "last_error=? WHERE id=?", "IItI", (int64_t)attempts, now_ms(),
	    error, id) < 0 ? -1 : 0;
}

int
store_outbox_set_retry(struct store *s, int64_t id, int64_t now)
{
	return run(s, "UPDATE outbox SET state='pending', next_at=? WHERE "
	    "id=? AND state IN ('dead','pending','held')", "II", now, id);
}

int
store_outbox_drop(struct store *s, int64_t id)
{
	return run(s, "UPDATE outbox SET state='dropped', done_at=? WHERE "
	    "id=? AND state IN ('dead','pending','held')", "II", now_ms(), id);
}


int
store_counts(struct store *s, struct store_counts *c)
{
	c->reports = count(s, "SELECT count(*) FROM reports", "");
	c->pending = count(s, "SELECT count(*) FROM outbox WHERE "
	    "state='pending'", "");
	c->delivered = count(s, "SELECT count(*) FROM outbox WHERE "
	    "state='delivered'", "");
	c->dead = count(s, "SELECT count(*) FROM outbox WHERE state='dead'",
	    "");
	c->chat_pending = count(s, "SELECT count(*) FROM chat_out WHERE "
	    "state='pending'", "");
	return c->reports < 0 || c->pending < 0 ? -1 : 0;
}

int
store_expire(struct store *s, int64_t before)
{
	int rc;

	if (exec(s, "BEGIN IMMEDIATE") == -1)
		return -1;
	/* Reports whose delivery is still pending or held are kept. */
	rc = run(s, "DELETE FROM reports WHERE created_at < ? AND id NOT IN "
	    "(SELECT report_id FROM outbox WHERE state IN ('pending','held'))",
	    "I", before) < 0 || run(s, "DELETE FROM seen WHERE at < ? AND "
	    "(report_id IS NULL OR report_id NOT IN (SELECT id FROM reports))",
	    "I", before) < 0 || run(s, "DELETE FROM chat_out WHERE "
	    "state='sent' AND created_at < ?", "I", before) < 0 ||
	    run(s, "DELETE FROM audit WHERE at < ?", "I", before) < 0 ? -1 : 0;
	exec(s, rc == 0 ? "COMMIT" : "ROLLBACK");
	return rc;
}
