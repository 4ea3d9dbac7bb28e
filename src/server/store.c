/*
 * mapihttpd's SQLite store: schema, loading an organisation model, and the lookups for
 * Autodiscover, EMSMDB and NSPI. Every query is a cached prepared statement with bound values.
 */
#define _DEFAULT_SOURCE /* crypt_r, strcasecmp, strncasecmp */
#include <crypt.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec/propval.h"
#include "server/store.h"
#include "util/diag.h"

/* 2: token.expires. A version 1 file gains the column (NULL: never expires) when opened. */
#define SCHEMA_VERSION 2
/* Lookup keys longer than this cannot match anything stored; refuse them before SQLite. */
#define MAX_KEY 1024

static const char schema_sql[] =
    "CREATE TABLE organisation ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " domain TEXT NOT NULL, name TEXT NOT NULL, dn_prefix TEXT NOT NULL);"
    "CREATE TABLE recipient ("
    " id INTEGER PRIMARY KEY,"
    " kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
    " alias TEXT NOT NULL,"
    " smtp TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " display_name TEXT NOT NULL,"
    " legacy_dn TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " password_hash TEXT);"
    "CREATE TABLE token ("
    " hash TEXT PRIMARY KEY,"
    " recipient_id INTEGER NOT NULL REFERENCES recipient(id) ON DELETE CASCADE,"
    " expires INTEGER) WITHOUT ROWID;" /* seconds since 1970 UTC; NULL: never */
    "CREATE TABLE mailbox ("
    " id INTEGER PRIMARY KEY,"
    " guid TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
    " owner_id INTEGER NOT NULL REFERENCES recipient(id) ON DELETE CASCADE,"
    " display_name TEXT NOT NULL,"
    " legacy_dn TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " repl_guid TEXT NOT NULL,"
    " next_counter INTEGER NOT NULL,"
    " UNIQUE (owner_id, kind));"
    "CREATE TABLE full_access ("
    " principal_id INTEGER NOT NULL REFERENCES recipient(id) ON DELETE CASCADE,"
    " recipient_id INTEGER NOT NULL REFERENCES recipient(id) ON DELETE CASCADE,"
    " automapping INTEGER NOT NULL,"
    " PRIMARY KEY (principal_id, recipient_id)) WITHOUT ROWID;"
    "CREATE TABLE folder ("
    " id INTEGER PRIMARY KEY,"
    " mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
    " counter INTEGER NOT NULL,"
    " parent_id INTEGER REFERENCES folder(id) ON DELETE CASCADE,"
    " depth INTEGER NOT NULL,"
    " special INTEGER CHECK (special BETWEEN 0 AND 12),"
    " display_name TEXT NOT NULL,"
    " container_class TEXT NOT NULL,"
    " UNIQUE (mailbox_id, counter), UNIQUE (mailbox_id, special));"
    "CREATE UNIQUE INDEX folder_name ON folder(mailbox_id, parent_id, display_name COLLATE "
    "NOCASE);"
    "CREATE INDEX folder_parent ON folder(parent_id);"
    "CREATE TABLE folder_permission ("
    " folder_id INTEGER NOT NULL REFERENCES folder(id) ON DELETE CASCADE,"
    " member_id INTEGER REFERENCES recipient(id) ON DELETE CASCADE," /* NULL: Default */
    " rights INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX folder_permission_member ON folder_permission(folder_id, "
    "ifnull(member_id, 0));"
    "CREATE TABLE message ("
    " id INTEGER PRIMARY KEY,"
    " mailbox_id INTEGER NOT NULL REFERENCES mailbox(id) ON DELETE CASCADE,"
    " folder_id INTEGER NOT NULL REFERENCES folder(id) ON DELETE CASCADE,"
    " counter INTEGER NOT NULL,"
    " subject TEXT NOT NULL, message_class TEXT NOT NULL,"
    " delivery_time INTEGER NOT NULL, size INTEGER NOT NULL,"
    " sender_name TEXT NOT NULL, sender_smtp TEXT NOT NULL,"
    " body TEXT NOT NULL, read INTEGER NOT NULL,"
    " UNIQUE (mailbox_id, counter));"
    "CREATE INDEX message_folder ON message(folder_id, delivery_time);"
    "CREATE TABLE message_property ("
    " message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,"
    " tag INTEGER NOT NULL,"
    " type INTEGER GENERATED ALWAYS AS (tag & 65535) VIRTUAL,"
    " value BLOB NOT NULL,"
    " PRIMARY KEY (message_id, tag)) WITHOUT ROWID;"
    "CREATE TABLE message_recipient ("
    " message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,"
    " position INTEGER NOT NULL, type INTEGER NOT NULL,"
    " display_name TEXT NOT NULL, smtp TEXT NOT NULL,"
    " PRIMARY KEY (message_id, position)) WITHOUT ROWID;"
    "CREATE TABLE attachment ("
    " message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,"
    " num INTEGER NOT NULL, filename TEXT NOT NULL, content_type TEXT NOT NULL,"
    " data BLOB NOT NULL,"
    " PRIMARY KEY (message_id, num)) WITHOUT ROWID;";

#define RCPT_COLS "r.id, r.kind, r.alias, r.smtp, r.display_name, r.legacy_dn, r.password_hash "
#define MBX_COLS                                                                                  \
	"m.id, m.kind, m.guid, m.repl_guid, m.display_name, m.legacy_dn, r.id, r.kind, r.alias, " \
	"r.smtp, r.display_name, r.legacy_dn, r.password_hash "
#define MBX_FROM " FROM mailbox m JOIN recipient r ON r.id = m.owner_id "
#define FOLDER_COLS                                                                      \
	"f.id, f.mailbox_id, f.counter, p.counter, f.special, f.depth, f.display_name, " \
	"f.container_class, "                                                            \
	"(SELECT count(*) FROM message x WHERE x.folder_id = f.id), "                    \
	"(SELECT count(*) FROM message x WHERE x.folder_id = f.id AND x.read = 0), "     \
	"(SELECT count(*) FROM folder c WHERE c.parent_id = f.id), "                     \
	"(SELECT coalesce(sum(x.size), 0) FROM message x WHERE x.folder_id = f.id) "
#define MSG_COLS                                                                                   \
	"id, counter, (SELECT counter FROM folder WHERE id = folder_id), subject, message_class, " \
	"delivery_time, size, sender_name, sender_smtp, body, read "

enum {
	Q_ORG_GET,
	Q_ORG_COUNT,
	Q_ORG_INSERT,
	Q_RCPT_INSERT,
	Q_TOKEN_INSERT,
	Q_MBX_INSERT,
	Q_MBX_COUNTER,
	Q_FOLDER_INSERT,
	Q_FOLDER_CHILD,
	Q_PERM_INSERT,
	Q_FA_INSERT,
	Q_MSG_INSERT,
	Q_MSGPROP_INSERT,
	Q_MSGRCPT_INSERT,
	Q_ATT_INSERT,
	Q_RCPT_BY_SMTP,
	Q_RCPT_BY_DN,
	Q_RCPT_BY_ID,
	Q_RCPT_BY_TOKEN,
	Q_RCPT_ALL,
	Q_MBX_BY_GUID,
	Q_MBX_BY_DN,
	Q_MBX_OF,
	Q_MBX_AUTOMAPPED,
	Q_MBX_OWNER,
	Q_FA_GET,
	Q_FOLDER_MAILBOX,
	Q_PERM_MEMBER,
	Q_PERM_DEFAULT,
	Q_SPECIAL_FIDS,
	Q_FOLDERS,
	Q_FOLDER_BY_COUNTER,
	Q_MSGS,
	Q_MSG_BY_COUNTER,
	Q_MSG_RCPTS,
	Q_MSG_ATTS,
	Q_MSG_PROPS,
	Q_PERMS,
	Q_MSG_IDS,
	Q_MBX_SIZE,
	Q_COUNT
};

static const char *const query_sql[Q_COUNT] = {
    [Q_ORG_GET] = "SELECT domain, name, dn_prefix FROM organisation WHERE id = 1",
    [Q_ORG_COUNT] = "SELECT count(*) FROM organisation",
    [Q_ORG_INSERT] = "INSERT INTO organisation (id, domain, name, dn_prefix) VALUES (1, ?, ?, ?)",
    [Q_RCPT_INSERT] = "INSERT INTO recipient (kind, alias, smtp, display_name, legacy_dn, "
                      "password_hash) VALUES (?, ?, ?, ?, ?, ?)",
    [Q_TOKEN_INSERT] = "INSERT INTO token (hash, recipient_id, expires) VALUES (?, ?, ?)",
    [Q_MBX_INSERT] = "INSERT INTO mailbox (guid, kind, owner_id, display_name, legacy_dn, "
                     "repl_guid, next_counter) VALUES (?, ?, ?, ?, ?, ?, 1)",
    [Q_MBX_COUNTER] = "UPDATE mailbox SET next_counter = ? WHERE id = ?",
    [Q_FOLDER_INSERT] = "INSERT INTO folder (mailbox_id, counter, parent_id, depth, special, "
                        "display_name, container_class) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [Q_FOLDER_CHILD] = "SELECT id, depth FROM folder WHERE mailbox_id = ? AND parent_id = ? AND "
                       "display_name = ? COLLATE NOCASE",
    [Q_PERM_INSERT] = "INSERT INTO folder_permission (folder_id, member_id, rights) "
                      "VALUES (?, ?, ?)",
    [Q_FA_INSERT] = "INSERT INTO full_access (principal_id, recipient_id, automapping) "
                    "VALUES (?, ?, ?)",
    [Q_MSG_INSERT] = "INSERT INTO message (mailbox_id, folder_id, counter, subject, "
                     "message_class, delivery_time, size, sender_name, sender_smtp, body, read) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [Q_MSGPROP_INSERT] = "INSERT INTO message_property (message_id, tag, value) VALUES (?, ?, ?)",
    [Q_MSGRCPT_INSERT] = "INSERT INTO message_recipient (message_id, position, type, "
                         "display_name, smtp) VALUES (?, ?, ?, ?, ?)",
    [Q_ATT_INSERT] = "INSERT INTO attachment (message_id, num, filename, content_type, data) "
                     "VALUES (?, ?, ?, ?, ?)",
    [Q_RCPT_BY_SMTP] = "SELECT " RCPT_COLS "FROM recipient r WHERE r.smtp = ?",
    [Q_RCPT_BY_DN] = "SELECT " RCPT_COLS "FROM recipient r WHERE r.legacy_dn = ?",
    [Q_RCPT_BY_ID] = "SELECT " RCPT_COLS "FROM recipient r WHERE r.id = ?",
    [Q_RCPT_BY_TOKEN] =
        "SELECT " RCPT_COLS ", t.expires FROM token t JOIN recipient r ON r.id = t.recipient_id "
        "WHERE t.hash = ?",
    [Q_RCPT_ALL] = "SELECT " RCPT_COLS "FROM recipient r "
                   "ORDER BY r.display_name COLLATE NOCASE, r.id",
    [Q_MBX_BY_GUID] = "SELECT " MBX_COLS MBX_FROM "WHERE m.guid = ?",
    [Q_MBX_BY_DN] = "SELECT " MBX_COLS MBX_FROM "WHERE m.legacy_dn = ?",
    [Q_MBX_OF] = "SELECT " MBX_COLS MBX_FROM "WHERE m.owner_id = ? AND m.kind = ?",
    [Q_MBX_AUTOMAPPED] =
        "SELECT " MBX_COLS MBX_FROM "JOIN full_access fa ON fa.recipient_id = r.id "
        "WHERE fa.principal_id = ? AND fa.automapping = 1 AND m.kind = 1 "
        "ORDER BY r.smtp",
    [Q_MBX_OWNER] = "SELECT owner_id FROM mailbox WHERE id = ?",
    [Q_FA_GET] = "SELECT 1 FROM full_access WHERE principal_id = ? AND recipient_id = ?",
    [Q_FOLDER_MAILBOX] = "SELECT mailbox_id FROM folder WHERE id = ?",
    [Q_PERM_MEMBER] = "SELECT rights FROM folder_permission WHERE folder_id = ? AND "
                      "member_id = ?",
    [Q_PERM_DEFAULT] = "SELECT rights FROM folder_permission WHERE folder_id = ? AND "
                       "member_id IS NULL",
    [Q_SPECIAL_FIDS] = "SELECT special, counter FROM folder WHERE mailbox_id = ? AND "
                       "special IS NOT NULL",
    [Q_FOLDERS] = "WITH RECURSIVE t(id, k) AS ("
                  " SELECT id, printf('%012x', counter) FROM folder"
                  "  WHERE mailbox_id = ?1 AND parent_id IS NULL"
                  " UNION ALL SELECT c.id, t.k || '/' || printf('%012x', c.counter)"
                  "  FROM folder c JOIN t ON c.parent_id = t.id)"
                  "SELECT " FOLDER_COLS "FROM t JOIN folder f ON f.id = t.id "
                  "LEFT JOIN folder p ON p.id = f.parent_id ORDER BY t.k",
    [Q_FOLDER_BY_COUNTER] = "SELECT " FOLDER_COLS "FROM folder f LEFT JOIN folder p ON "
                            "p.id = f.parent_id WHERE f.mailbox_id = ? AND f.counter = ?",
    [Q_MSGS] = "SELECT " MSG_COLS "FROM message WHERE folder_id = ? "
               "ORDER BY delivery_time DESC, id DESC",
    [Q_MSG_BY_COUNTER] = "SELECT " MSG_COLS "FROM message WHERE mailbox_id = ? AND counter = ?",
    [Q_MSG_RCPTS] = "SELECT type, display_name, smtp FROM message_recipient WHERE "
                    "message_id = ? ORDER BY position",
    [Q_MSG_ATTS] = "SELECT num, filename, content_type, data FROM attachment WHERE "
                   "message_id = ? ORDER BY num",
    [Q_MSG_PROPS] = "SELECT tag, value FROM message_property WHERE message_id = ? ORDER BY tag",
    [Q_PERMS] = "SELECT p.member_id, p.rights, " RCPT_COLS "FROM folder_permission p "
                "LEFT JOIN recipient r ON r.id = p.member_id WHERE p.folder_id = ? "
                "ORDER BY p.member_id IS NOT NULL, r.display_name COLLATE NOCASE, p.member_id",
    [Q_MSG_IDS] = "SELECT counter FROM message WHERE folder_id = ? "
                  "ORDER BY delivery_time DESC, id DESC",
    [Q_MBX_SIZE] = "SELECT (SELECT count(*) FROM mailbox WHERE id = ?1), "
                   "(SELECT coalesce(sum(size), 0) FROM message WHERE mailbox_id = ?1), "
                   "(SELECT count(*) FROM message WHERE mailbox_id = ?1)",
};

struct mh_srv_store {
	sqlite3 *db;
	pthread_mutex_t mu;
	sqlite3_stmt *q[Q_COUNT];
	int have_org;
	char *domain;
	char *dn_prefix;
};

/* ---- IDs ---------------------------------------------------------------------------------- */

uint64_t mh_srv_filetime(int64_t unix_seconds)
{
	return (uint64_t)(unix_seconds + 11644473600LL) * 10000000u;
}

/* ---- SQLite plumbing ---------------------------------------------------------------------- */

static mh_status db_fail(const mh_srv_store *st, const char *what)
{
	int rc = sqlite3_errcode(st->db);
	if (rc == SQLITE_NOMEM)
		return mh_error_oom();
	return mh_error_set(MAPI_E_DISK_ERROR, -1, "store: %s: %s", what, sqlite3_errmsg(st->db));
}

static mh_status query(mh_srv_store *st, int which, sqlite3_stmt **out)
{
	*out = NULL;
	if (st->q[which] == NULL &&
	    sqlite3_prepare_v3(st->db, query_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
	                       &st->q[which], NULL) != SQLITE_OK)
		return db_fail(st, "prepare");
	*out = st->q[which];
	return S_OK;
}

static void finish(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Runs a statement that returns no rows, then resets it. */
static mh_status run(mh_srv_store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	finish(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, what);
	return S_OK;
}

static mh_status col_text(mh_arena *a, sqlite3_stmt *s, int i, const char **out)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t n = (size_t)sqlite3_column_bytes(s, i);
	char *p = NULL;
	mh_status ms = mh_arena_strndup(a, t ? (const char *)t : "", t ? n : 0, &p);
	*out = p;
	return ms;
}

static mh_status col_blob(mh_arena *a, sqlite3_stmt *s, int i, const uint8_t **out, size_t *len)
{
	const void *b = sqlite3_column_blob(s, i);
	*len = (size_t)sqlite3_column_bytes(s, i);
	void *p = NULL;
	mh_status ms = mh_arena_memdup(a, b, *len, &p);
	*out = p;
	return ms;
}

static mh_status load_org_info(mh_srv_store *st)
{
	sqlite3_stmt *s;
	mh_status ms = query(st, Q_ORG_GET, &s);
	int rc;
	if (ms != S_OK)
		return ms;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		free(st->domain);
		free(st->dn_prefix);
		st->domain = strdup((const char *)sqlite3_column_text(s, 0));
		st->dn_prefix = strdup((const char *)sqlite3_column_text(s, 2));
		if (st->domain == NULL || st->dn_prefix == NULL) {
			finish(s);
			return mh_error_oom();
		}
		st->have_org = 1;
	}
	finish(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, "reading the organisation");
	return S_OK;
}

void mh_srv_store_free(mh_srv_store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st->domain);
	free(st->dn_prefix);
	free(st);
}

mh_status mh_srv_store_open(mh_srv_store **out, const char *path)
{
	mh_srv_store *st;
	int memory = path == NULL || strcmp(path, ":memory:") == 0, version = -1;
	sqlite3_stmt *s;
	mh_status ms;
	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return mh_error_oom();
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		free(st);
		return mh_error_set(MAPI_E_CALL_FAILED, -1, "store: cannot create its mutex");
	}
	if (sqlite3_open_v2(memory ? ":memory:" : path, &st->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		ms = mh_error_set(MAPI_E_DISK_ERROR, -1, "store: cannot open %s: %s",
		                  memory ? ":memory:" : path,
		                  st->db ? sqlite3_errmsg(st->db) : "out of memory");
		mh_srv_store_free(st);
		return ms;
	}
	sqlite3_extended_result_codes(st->db, 0);
	if (sqlite3_exec(st->db, "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;", NULL,
	                 NULL, NULL) != SQLITE_OK ||
	    (!memory &&
	     sqlite3_exec(st->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL,
	                  NULL, NULL) != SQLITE_OK)) {
		ms = db_fail(st, "setting up");
		mh_srv_store_free(st);
		return ms;
	}
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			version = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	if (version == 0) {
		if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(st->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(st->db, "PRAGMA user_version = 2; COMMIT", NULL, NULL, NULL) !=
		        SQLITE_OK) {
			ms = db_fail(st, "creating the schema");
			mh_srv_store_free(st);
			return ms;
		}
	} else if (version == 1) {
		if (sqlite3_exec(st->db,
		                 "BEGIN; ALTER TABLE token ADD COLUMN expires INTEGER; "
		                 "PRAGMA user_version = 2; COMMIT",
		                 NULL, NULL, NULL) != SQLITE_OK) {
			ms = db_fail(st, "upgrading the schema to version 2");
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			mh_srv_store_free(st);
			return ms;
		}
	} else if (version != SCHEMA_VERSION) {
		ms = version < 0 ? db_fail(st, "reading the schema version")
		                 : mh_error_set(MAPI_E_VERSION, -1,
		                                "store: %s has schema version %d; this mapihttpd "
		                                "reads version %d",
		                                path, version, SCHEMA_VERSION);
		mh_srv_store_free(st);
		return ms;
	}
	if ((ms = load_org_info(st)) != S_OK) {
		mh_srv_store_free(st);
		return ms;
	}
	*out = st;
	return S_OK;
}

/* ---- loading ------------------------------------------------------------------------------ */

static const struct {
	const char *name;
	const char *container_class;
	int parent; /* special index, -1 for none */
} specials[MH_SRV_SPECIAL_FOLDERS] = {
    {"Root Container", "", -1},
    {"Deferred Action", "", MH_SRV_FOLDER_ROOT},
    {"Spooler Queue", "", MH_SRV_FOLDER_ROOT},
    {"Top of Information Store", "", MH_SRV_FOLDER_ROOT},
    {"Inbox", "IPF.Note", MH_SRV_FOLDER_IPM_SUBTREE},
    {"Outbox", "IPF.Note", MH_SRV_FOLDER_IPM_SUBTREE},
    {"Sent Items", "IPF.Note", MH_SRV_FOLDER_IPM_SUBTREE},
    {"Deleted Items", "IPF.Note", MH_SRV_FOLDER_IPM_SUBTREE},
    {"Common Views", "", MH_SRV_FOLDER_ROOT},
    {"Schedule", "", MH_SRV_FOLDER_ROOT},
    {"Finder", "", MH_SRV_FOLDER_ROOT},
    {"Views", "", MH_SRV_FOLDER_ROOT},
    {"Shortcuts", "", MH_SRV_FOLDER_ROOT},
};

typedef struct loader {
	mh_srv_store *st;
	const mh_srv_org *org;
	char *dn_prefix;
	int64_t *rcpt_ids;   /* per user */
	int64_t *primary;    /* per user: primary mailbox id */
	int64_t ipm_subtree; /* of the mailbox being filled */
	int64_t counter;     /* next global counter of that mailbox */
} loader;

static mh_status insert_folder(loader *l, int64_t mailbox, int64_t parent, int depth, int special,
                               const char *name, const char *cls, int64_t *id)
{
	sqlite3_stmt *s;
	mh_status ms = query(l->st, Q_FOLDER_INSERT, &s);
	if (ms != S_OK)
		return ms;
	sqlite3_bind_int64(s, 1, mailbox);
	sqlite3_bind_int64(s, 2, l->counter++);
	if (parent != 0)
		sqlite3_bind_int64(s, 3, parent);
	sqlite3_bind_int(s, 4, depth);
	if (special >= 0)
		sqlite3_bind_int(s, 5, special);
	sqlite3_bind_text(s, 6, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, cls, -1, SQLITE_STATIC);
	if ((ms = run(l->st, s, "inserting a folder")) != S_OK)
		return ms;
	*id = sqlite3_last_insert_rowid(l->st->db);
	return S_OK;
}

/* The folder at a path below Top of Information Store; *id is 0 when a level is missing. */
static mh_status walk(loader *l, int64_t mailbox, const char *path, size_t len, int64_t *id,
                      int *depth)
{
	int64_t cur = l->ipm_subtree;
	int d = 1;
	size_t pos = 0;
	*id = 0;
	while (pos <= len) {
		const char *seg = path + pos;
		const char *end = memchr(seg, '/', len - pos);
		size_t sl = end ? (size_t)(end - seg) : len - pos;
		sqlite3_stmt *s;
		mh_status ms = query(l->st, Q_FOLDER_CHILD, &s);
		int rc;
		if (ms != S_OK)
			return ms;
		sqlite3_bind_int64(s, 1, mailbox);
		sqlite3_bind_int64(s, 2, cur);
		sqlite3_bind_text(s, 3, seg, (int)sl, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			cur = sqlite3_column_int64(s, 0);
			d = sqlite3_column_int(s, 1);
		}
		finish(s);
		if (rc == SQLITE_DONE)
			return S_OK;
		if (rc != SQLITE_ROW)
			return db_fail(l->st, "finding a folder");
		pos += sl + 1;
	}
	*id = cur;
	*depth = d;
	return S_OK;
}

static mh_status insert_message(loader *l, int64_t mailbox, const mh_srv_org_message *m)
{
	sqlite3_stmt *s;
	int64_t folder, msg_id;
	int depth;
	uint64_t size = strlen(m->subject) + strlen(m->body);
	mh_status ms = walk(l, mailbox, m->folder, strlen(m->folder), &folder, &depth);
	if (ms != S_OK)
		return ms;
	if (folder == 0)
		return mh_error_set(MAPI_E_NOT_FOUND, -1, "store: no folder \"%s\"", m->folder);
	for (size_t i = 0; i < m->n_attachments; i++)
		size += m->attachments[i].len;
	if ((ms = query(l->st, Q_MSG_INSERT, &s)) != S_OK)
		return ms;
	sqlite3_bind_int64(s, 1, mailbox);
	sqlite3_bind_int64(s, 2, folder);
	sqlite3_bind_int64(s, 3, l->counter++);
	sqlite3_bind_text(s, 4, m->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, m->message_class, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, m->delivery_time);
	sqlite3_bind_int64(s, 7, size > UINT32_MAX ? UINT32_MAX : (int64_t)size);
	sqlite3_bind_text(s, 8, m->sender_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, m->sender_smtp, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 10, m->body, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 11, m->read != 0);
	if ((ms = run(l->st, s, "inserting a message")) != S_OK)
		return ms;
	msg_id = sqlite3_last_insert_rowid(l->st->db);
	for (size_t i = 0; i < m->n_rcpts; i++) {
		if ((ms = query(l->st, Q_MSGRCPT_INSERT, &s)) != S_OK)
			return ms;
		sqlite3_bind_int64(s, 1, msg_id);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		sqlite3_bind_int(s, 3, m->rcpts[i].type);
		sqlite3_bind_text(s, 4, m->rcpts[i].display_name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, m->rcpts[i].smtp, -1, SQLITE_STATIC);
		if ((ms = run(l->st, s, "inserting a recipient")) != S_OK)
			return ms;
	}
	for (size_t i = 0; i < m->n_attachments; i++) {
		const mh_srv_org_attachment *a = &m->attachments[i];
		if ((ms = query(l->st, Q_ATT_INSERT, &s)) != S_OK)
			return ms;
		sqlite3_bind_int64(s, 1, msg_id);
		sqlite3_bind_int64(s, 2, (int64_t)i);
		sqlite3_bind_text(s, 3, a->filename, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, a->content_type, -1, SQLITE_STATIC);
		sqlite3_bind_blob64(s, 5, a->data ? (const void *)a->data : "", a->len,
		                    SQLITE_STATIC);
		if ((ms = run(l->st, s, "inserting an attachment")) != S_OK)
			return ms;
	}
	for (size_t i = 0; i < m->n_props; i++) {
		const mh_srv_org_prop *p = &m->props[i];
		if ((ms = query(l->st, Q_MSGPROP_INSERT, &s)) != S_OK)
			return ms;
		sqlite3_bind_int64(s, 1, msg_id);
		sqlite3_bind_int64(s, 2, p->tag);
		sqlite3_bind_blob64(s, 3, p->value ? (const void *)p->value : "", p->len,
		                    SQLITE_STATIC);
		if ((ms = run(l->st, s, "inserting a property")) != S_OK)
			return ms;
	}
	return S_OK;
}

static mh_status insert_mailbox(loader *l, int64_t owner, const char *owner_dn,
                                mh_srv_mailbox_kind kind, const mh_srv_org_mailbox *m, int64_t *out)
{
	char guid[37], repl[37], dn[1024];
	int64_t mbx, ids[MH_SRV_SPECIAL_FOLDERS];
	sqlite3_stmt *s;
	mh_status ms;
	mh_srv_guid_text(guid, &m->guid);
	mh_srv_guid_text(repl, &m->repl_guid);
	if (kind == MH_SRV_MAILBOX_ARCHIVE)
		snprintf(dn, sizeof(dn), "%s/guid=%s", owner_dn, guid);
	else
		snprintf(dn, sizeof(dn), "%s", owner_dn);
	if ((ms = query(l->st, Q_MBX_INSERT, &s)) != S_OK)
		return ms;
	sqlite3_bind_text(s, 1, guid, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)kind);
	sqlite3_bind_int64(s, 3, owner);
	sqlite3_bind_text(s, 4, m->display_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, dn, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, repl, -1, SQLITE_STATIC);
	if ((ms = run(l->st, s, "inserting a mailbox")) != S_OK)
		return ms;
	mbx = sqlite3_last_insert_rowid(l->st->db);
	l->counter = 1;
	for (int i = 0; i < MH_SRV_SPECIAL_FOLDERS; i++) {
		int p = specials[i].parent;
		ms = insert_folder(l, mbx, p < 0 ? 0 : ids[p],
		                   p < 0    ? 0
		                   : p == 0 ? 1
		                            : 2,
		                   i, specials[i].name, specials[i].container_class, &ids[i]);
		if (ms != S_OK)
			return ms;
	}
	l->ipm_subtree = ids[MH_SRV_FOLDER_IPM_SUBTREE];
	for (size_t i = 0; i < m->n_folders; i++) {
		const char *path = m->folders[i], *last = strrchr(path, '/');
		int64_t parent = l->ipm_subtree, id;
		int depth = 2;
		if (last != NULL) {
			if ((ms = walk(l, mbx, path, (size_t)(last - path), &parent, &depth)) !=
			    S_OK)
				return ms;
			if (parent == 0)
				return mh_error_set(MAPI_E_NOT_FOUND, -1,
				                    "store: no parent for \"%s\"", path);
			depth++;
		}
		ms = insert_folder(l, mbx, parent, depth, -1, last ? last + 1 : path, "IPF.Note",
		                   &id);
		if (ms != S_OK)
			return ms;
	}
	for (size_t i = 0; i < m->n_messages; i++)
		if ((ms = insert_message(l, mbx, &m->messages[i])) != S_OK)
			return ms;
	if ((ms = query(l->st, Q_MBX_COUNTER, &s)) != S_OK)
		return ms;
	sqlite3_bind_int64(s, 1, l->counter);
	sqlite3_bind_int64(s, 2, mbx);
	if ((ms = run(l->st, s, "updating a mailbox")) != S_OK)
		return ms;
	*out = mbx;
	return S_OK;
}

static mh_status insert_user(loader *l, size_t idx)
{
	const mh_srv_org_user *u = &l->org->users[idx];
	char dn[1024];
	int64_t rid, archive;
	sqlite3_stmt *s;
	mh_status ms = query(l->st, Q_RCPT_INSERT, &s);
	if (ms != S_OK)
		return ms;
	snprintf(dn, sizeof(dn), "%s/cn=Recipients/cn=%s", l->dn_prefix, u->alias);
	sqlite3_bind_int(s, 1, (int)u->kind);
	sqlite3_bind_text(s, 2, u->alias, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, u->smtp, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, u->display_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, dn, -1, SQLITE_STATIC);
	if (u->password_hash != NULL)
		sqlite3_bind_text(s, 6, u->password_hash, -1, SQLITE_STATIC);
	if ((ms = run(l->st, s, "inserting a recipient")) != S_OK)
		return ms;
	rid = l->rcpt_ids[idx] = sqlite3_last_insert_rowid(l->st->db);
	for (size_t i = 0; i < u->n_tokens; i++) {
		if ((ms = query(l->st, Q_TOKEN_INSERT, &s)) != S_OK)
			return ms;
		sqlite3_bind_text(s, 1, u->token_hashes[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, rid);
		if (u->token_expires != NULL && u->token_expires[i] != MH_SRV_TOKEN_NEVER)
			sqlite3_bind_int64(s, 3, u->token_expires[i]);
		if ((ms = run(l->st, s, "inserting a token")) != S_OK)
			return ms;
	}
	ms = insert_mailbox(l, rid, dn, MH_SRV_MAILBOX_PRIMARY, &u->primary, &l->primary[idx]);
	if (ms == S_OK && u->has_archive)
		ms = insert_mailbox(l, rid, dn, MH_SRV_MAILBOX_ARCHIVE, &u->archive, &archive);
	return ms;
}

static mh_status insert_rights(loader *l)
{
	const mh_srv_org *org = l->org;
	sqlite3_stmt *s;
	mh_status ms = S_OK;
	for (size_t i = 0; ms == S_OK && i < org->n_full_access; i++) {
		const mh_srv_org_full_access *fa = &org->full_access[i];
		if ((ms = query(l->st, Q_FA_INSERT, &s)) != S_OK)
			return ms;
		sqlite3_bind_int64(s, 1, l->rcpt_ids[fa->principal]);
		sqlite3_bind_int64(s, 2, l->rcpt_ids[fa->mailbox]);
		sqlite3_bind_int(s, 3, fa->automapping != 0);
		ms = run(l->st, s, "inserting full access");
	}
	for (size_t i = 0; ms == S_OK && i < org->n_folder_perms; i++) {
		const mh_srv_org_folder_perm *fp = &org->folder_perms[i];
		int64_t mbx = l->primary[fp->mailbox], folder;
		int depth;
		sqlite3_stmt *q;
		/* walk() starts from Top of Information Store, counter 4 (special index 3). */
		if ((ms = query(l->st, Q_FOLDER_BY_COUNTER, &q)) != S_OK)
			return ms;
		sqlite3_bind_int64(q, 1, mbx);
		sqlite3_bind_int64(q, 2, MH_SRV_FOLDER_IPM_SUBTREE + 1);
		if (sqlite3_step(q) != SQLITE_ROW) {
			finish(q);
			return db_fail(l->st, "finding Top of Information Store");
		}
		l->ipm_subtree = sqlite3_column_int64(q, 0);
		finish(q);
		if ((ms = walk(l, mbx, fp->folder, strlen(fp->folder), &folder, &depth)) != S_OK)
			return ms;
		if (folder == 0)
			return mh_error_set(MAPI_E_NOT_FOUND, -1, "store: no folder \"%s\"",
			                    fp->folder);
		if ((ms = query(l->st, Q_PERM_INSERT, &s)) != S_OK)
			return ms;
		sqlite3_bind_int64(s, 1, folder);
		if (fp->has_member)
			sqlite3_bind_int64(s, 2, l->rcpt_ids[fp->member]);
		sqlite3_bind_int64(s, 3, fp->rights);
		ms = run(l->st, s, "inserting a folder permission");
	}
	return ms;
}

static mh_status load_org_locked(mh_srv_store *st, const mh_srv_org *org)
{
	loader l = {st, org, NULL, NULL, NULL, 0, 0};
	sqlite3_stmt *s;
	size_t n;
	mh_status ms;
	if (st->have_org)
		return mh_error_set(
		    MAPI_E_COLLISION, -1,
		    "store: it already holds an organisation (%s); use a new database", st->domain);
	n = strlen(org->name) + 64;
	l.dn_prefix = malloc(n);
	l.rcpt_ids = calloc(org->n_users ? org->n_users : 1, sizeof(int64_t));
	l.primary = calloc(org->n_users ? org->n_users : 1, sizeof(int64_t));
	if (l.dn_prefix == NULL || l.rcpt_ids == NULL || l.primary == NULL) {
		ms = mh_error_oom();
		goto out;
	}
	snprintf(l.dn_prefix, n, "/o=%s/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)",
	         org->name);
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		ms = db_fail(st, "starting a transaction");
		goto out;
	}
	if ((ms = query(st, Q_ORG_INSERT, &s)) != S_OK)
		goto rollback;
	sqlite3_bind_text(s, 1, org->domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, org->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, l.dn_prefix, -1, SQLITE_STATIC);
	if ((ms = run(st, s, "inserting the organisation")) != S_OK)
		goto rollback;
	for (size_t i = 0; i < org->n_users; i++)
		if ((ms = insert_user(&l, i)) != S_OK)
			goto rollback;
	if ((ms = insert_rights(&l)) != S_OK)
		goto rollback;
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		ms = db_fail(st, "committing");
		goto rollback;
	}
	ms = load_org_info(st);
	goto out;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	free(l.dn_prefix);
	free(l.rcpt_ids);
	free(l.primary);
	return ms;
}

mh_status mh_srv_store_load_org(mh_srv_store *st, const mh_srv_org *org)
{
	mh_status ms;
	pthread_mutex_lock(&st->mu);
	ms = load_org_locked(st, org);
	pthread_mutex_unlock(&st->mu);
	return ms;
}

static mh_status load_and_free(mh_srv_store *st, mh_status ms, mh_srv_org *org)
{
	if (ms == S_OK)
		ms = mh_srv_store_load_org(st, org);
	mh_srv_org_free(org);
	return ms;
}

mh_status mh_srv_store_load_json(mh_srv_store *st, const char *json, size_t len)
{
	mh_srv_org *org;
	mh_status ms = mh_srv_org_parse(&org, json, len, NULL);
	return load_and_free(st, ms, org);
}

mh_status mh_srv_store_load_file(mh_srv_store *st, const char *path)
{
	mh_srv_org *org;
	mh_status ms = mh_srv_org_parse_file(&org, path);
	return load_and_free(st, ms, org);
}

mh_status mh_srv_store_load_sample(mh_srv_store *st)
{
	mh_srv_org *org;
	mh_status ms = mh_srv_org_sample(&org);
	return load_and_free(st, ms, org);
}

mh_status mh_srv_store_generate(mh_srv_store *st, unsigned users, unsigned messages_per_user,
                                uint64_t seed)
{
	mh_srv_org *org;
	mh_status ms = mh_srv_org_generate(&org, users, messages_per_user, seed);
	return load_and_free(st, ms, org);
}

/* ---- reading rows -------------------------------------------------------------------------- */

static mh_status read_recipient(mh_arena *a, sqlite3_stmt *s, int c0, mh_srv_recipient *r)
{
	mh_status ms;
	r->id = sqlite3_column_int64(s, c0);
	r->kind = (mh_srv_recipient_kind)sqlite3_column_int(s, c0 + 1);
	r->can_logon = sqlite3_column_type(s, c0 + 6) != SQLITE_NULL;
	if ((ms = col_text(a, s, c0 + 2, &r->alias)) != S_OK ||
	    (ms = col_text(a, s, c0 + 3, &r->smtp)) != S_OK ||
	    (ms = col_text(a, s, c0 + 4, &r->display_name)) != S_OK)
		return ms;
	return col_text(a, s, c0 + 5, &r->legacy_dn);
}

static mh_status arena_fmt(mh_arena *a, const char **out, const char *fmt, ...) MH_PRINTF(3, 4);

static mh_status arena_fmt(mh_arena *a, const char **out, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;
	mh_status ms;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return mh_error_set(MAPI_E_CALL_FAILED, -1, "store: cannot format a string");
	if ((ms = mh_arena_alloc(a, (size_t)n + 1, (void **)&p)) != S_OK)
		return ms;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	*out = p;
	return S_OK;
}

static mh_status read_mailbox(mh_srv_store *st, mh_arena *a, sqlite3_stmt *s, mh_srv_mailbox *m)
{
	const char *guid = (const char *)sqlite3_column_text(s, 2);
	const char *repl = (const char *)sqlite3_column_text(s, 3);
	mh_status ms;
	m->id = sqlite3_column_int64(s, 0);
	m->kind = (mh_srv_mailbox_kind)sqlite3_column_int(s, 1);
	if (guid == NULL || repl == NULL ||
	    mh_srv_guid_parse(&m->guid, guid, strlen(guid)) != S_OK ||
	    mh_srv_guid_parse(&m->repl_guid, repl, strlen(repl)) != S_OK)
		return mh_error_set(MAPI_E_CORRUPT_STORE, -1, "store: mailbox %lld has a bad GUID",
		                    (long long)m->id);
	if ((ms = col_text(a, s, 4, &m->display_name)) != S_OK ||
	    (ms = col_text(a, s, 5, &m->legacy_dn)) != S_OK ||
	    (ms = read_recipient(a, s, 6, &m->owner)) != S_OK)
		return ms;
	if ((ms = arena_fmt(a, &m->mailbox_id, "%s@%s", guid, st->domain)) != S_OK ||
	    (ms = arena_fmt(a, &m->server_dn, "%s/cn=Configuration/cn=Servers/cn=%s", st->dn_prefix,
	                    m->mailbox_id)) != S_OK)
		return ms;
	return arena_fmt(a, &m->mdb_dn, "%s/cn=Microsoft Private MDB", m->server_dn);
}

/* Runs a one-row recipient query whose parameters are bound. */
static mh_status one_recipient(mh_srv_store *st, mh_arena *a, sqlite3_stmt *s, const char *what,
                               mh_srv_recipient *out)
{
	int rc = sqlite3_step(s);
	mh_status ms;
	if (rc == SQLITE_ROW)
		ms = read_recipient(a, s, 0, out);
	else if (rc == SQLITE_DONE)
		ms = mh_error_set(MAPI_E_NOT_FOUND, -1, "store: no recipient with that %s", what);
	else
		ms = db_fail(st, "reading a recipient");
	finish(s);
	return ms;
}

static mh_status one_mailbox(mh_srv_store *st, mh_arena *a, sqlite3_stmt *s, const char *what,
                             mh_srv_mailbox *out)
{
	int rc = sqlite3_step(s);
	mh_status ms;
	if (rc == SQLITE_ROW)
		ms = read_mailbox(st, a, s, out);
	else if (rc == SQLITE_DONE)
		ms = mh_error_set(MAPI_E_NOT_FOUND, -1, "store: no mailbox with that %s", what);
	else
		ms = db_fail(st, "reading a mailbox");
	finish(s);
	return ms;
}

static mh_status need_org(const mh_srv_store *st)
{
	if (!st->have_org)
		return mh_error_set(MAPI_E_NOT_INITIALIZED, -1, "store: no organisation is loaded");
	return S_OK;
}

static mh_status check_key(const char *key, const char *what)
{
	if (key == NULL || strlen(key) > MAX_KEY)
		return mh_error_set(MAPI_E_NOT_FOUND, -1,
		                    "store: no recipient or mailbox with that %s", what);
	return S_OK;
}

/* ---- lookups ------------------------------------------------------------------------------- */

mh_status mh_srv_store_org_info(mh_srv_store *st, mh_arena *arena, mh_srv_org_info *out)
{
	sqlite3_stmt *s;
	mh_status ms;
	int rc;
	pthread_mutex_lock(&st->mu);
	ms = need_org(st);
	if (ms == S_OK && (ms = query(st, Q_ORG_GET, &s)) == S_OK) {
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW)
			ms = db_fail(st, "reading the organisation");
		else if ((ms = col_text(arena, s, 0, &out->domain)) == S_OK &&
		         (ms = col_text(arena, s, 1, &out->name)) == S_OK)
			ms = col_text(arena, s, 2, &out->dn_prefix);
		finish(s);
	}
	pthread_mutex_unlock(&st->mu);
	return ms;
}

static mh_status recipient_by_text(mh_srv_store *st, mh_arena *arena, int which, const char *key,
                                   const char *what, mh_srv_recipient *out)
{
	sqlite3_stmt *s;
	mh_status ms = check_key(key, what);
	if (ms != S_OK)
		return ms;
	pthread_mutex_lock(&st->mu);
	if ((ms = query(st, which, &s)) == S_OK) {
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		ms = one_recipient(st, arena, s, what, out);
	}
	pthread_mutex_unlock(&st->mu);
	return ms;
}

mh_status mh_srv_store_recipient_by_smtp(mh_srv_store *st, mh_arena *arena, const char *smtp,
                                         mh_srv_recipient *out)
{
	return recipient_by_text(st, arena, Q_RCPT_BY_SMTP, smtp, "SMTP address", out);
}

mh_status mh_srv_store_recipient_by_dn(mh_srv_store *st, mh_arena *arena, const char *dn,
                                       mh_srv_recipient *out)
{
	return recipient_by_text(st, arena, Q_RCPT_BY_DN, dn, "legacy DN", out);
}

mh_status mh_srv_store_recipient_by_id(mh_srv_store *st, mh_arena *arena, int64_t id,
                                       mh_srv_recipient *out)
{
	sqlite3_stmt *s;
	mh_status ms;
	pthread_mutex_lock(&st->mu);
	if ((ms = query(st, Q_RCPT_BY_ID, &s)) == S_OK) {
		sqlite3_bind_int64(s, 1, id);
		ms = one_recipient(st, arena, s, "id", out);
	}
	pthread_mutex_unlock(&st->mu);
	return ms;
}

/*
 * Room for element n of list (cap allocated, size bytes each): the same list while n < *cap,
 * else a copy with twice the room (first elements the first time) in the arena. NULL with *ms
 * set when the arena refuses.
 */
static void *grow(mh_arena *a, void *list, size_t n, size_t *cap, size_t size, size_t first,
                  mh_status *ms)
{
	if (n < *cap)
		return list;
	size_t c = *cap ? *cap * 2 : first;
	void *bigger = NULL;
	if ((*ms = mh_arena_array(a, c, size, &bigger)) != S_OK)
		return NULL;
	if (n > 0)
		memcpy(bigger, list, n * size);
	*cap = c;
	return bigger;
}

mh_status mh_srv_store_recipients(mh_srv_store *st, mh_arena *arena, mh_srv_recipient **out,
                                  size_t *count)
{
	sqlite3_stmt *s;
	mh_srv_recipient *list = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE;
	mh_status ms;
	*out = NULL;
	*count = 0;
	pthread_mutex_lock(&st->mu);
	if ((ms = need_org(st)) != S_OK || (ms = query(st, Q_RCPT_ALL, &s)) != S_OK)
		goto out;
	while (ms == S_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap && (list = grow(arena, list, n, &cap, sizeof(*list), 16, &ms)) == NULL)
			break;
		ms = read_recipient(arena, s, 0, &list[n++]);
	}
	if (ms == S_OK && rc != SQLITE_DONE)
		ms = db_fail(st, "listing recipients");
	finish(s);
	if (ms == S_OK) {
		*out = n ? list : NULL;
		*count = n;
	}
out:
	pthread_mutex_unlock(&st->mu);
	return ms;
}

static mh_status mailbox_by_guid_locked(mh_srv_store *st, mh_arena *arena, const GUID *g,
                                        mh_srv_mailbox *out)
{
	char text[37];
	sqlite3_stmt *s;
	mh_status ms = query(st, Q_MBX_BY_GUID, &s);
	if (ms != S_OK)
		return ms;
	mh_srv_guid_text(text, g);
	sqlite3_bind_text(s, 1, text, -1, SQLITE_TRANSIENT);
	return one_mailbox(st, arena, s, "GUID", out);
}

static mh_status mailbox_of_locked(mh_srv_store *st, mh_arena *arena, int64_t rid,
                                   mh_srv_mailbox_kind kind, mh_srv_mailbox *out)
{
	sqlite3_stmt *s;
	mh_status ms = query(st, Q_MBX_OF, &s);
	if (ms != S_OK)
		return ms;
	sqlite3_bind_int64(s, 1, rid);
	sqlite3_bind_int(s, 2, (int)kind);
	return one_mailbox(st, arena, s,
	                   kind == MH_SRV_MAILBOX_ARCHIVE ? "owner (archive)" : "owner", out);
}

mh_status mh_srv_store_mailbox_of(mh_srv_store *st, mh_arena *arena, int64_t recipient_id,
                                  mh_srv_mailbox_kind kind, mh_srv_mailbox *out)
{
	mh_status ms;
	pthread_mutex_lock(&st->mu);
	ms = need_org(st);
	if (ms == S_OK)
		ms = mailbox_of_locked(st, arena, recipient_id, kind, out);
	pthread_mutex_unlock(&st->mu);
	return ms;
}

/* Splits "<local>@<domain>" at the last '@' and checks the domain is the organisation's. */
static int split_address(const mh_srv_store *st, const char *addr, size_t *local_len)
{
	const char *at = strrchr(addr, '@');
	if (at == NULL || at == addr || strcasecmp(at + 1, st->domain) != 0)
		return 0;
	*local_len = (size_t)(at - addr);
	return 1;
}

mh_status mh_srv_store_mailbox_by_address(mh_srv_store *st, mh_arena *arena, const char *address,
                                          mh_srv_mailbox *out)
{
	static const char prefix[] = "ExchangeGuid+";
	const size_t plen = sizeof(prefix) - 1;
	size_t local;
	GUID g;
	mh_status ms = check_key(address, "address");
	if (ms != S_OK)
		return ms;
	pthread_mutex_lock(&st->mu);
	ms = need_org(st);
	if (ms != S_OK)
		goto out;
	if (split_address(st, address, &local)) {
		if (local > plen && strncasecmp(address, prefix, plen) == 0) {
			if (mh_srv_guid_parse(&g, address + plen, local - plen) != S_OK) {
				ms =
				    mh_error_set(MAPI_E_NOT_FOUND, -1,
				                 "store: %s: no GUID after ExchangeGuid+", address);
				goto out;
			}
			ms = mailbox_by_guid_locked(st, arena, &g, out);
			goto out;
		}
		if (local == 36 && mh_srv_guid_parse(&g, address, 36) == S_OK) {
			ms = mailbox_by_guid_locked(st, arena, &g, out);
			goto out;
		}
	}
	{
		sqlite3_stmt *s;
		mh_srv_recipient r;
		if ((ms = query(st, Q_RCPT_BY_SMTP, &s)) != S_OK)
			goto out;
		sqlite3_bind_text(s, 1, address, -1, SQLITE_STATIC);
		if ((ms = one_recipient(st, arena, s, "SMTP address", &r)) != S_OK)
			goto out;
		ms = mailbox_of_locked(st, arena, r.id, MH_SRV_MAILBOX_PRIMARY, out);
	}
out:
	pthread_mutex_unlock(&st->mu);
	return ms;
}

mh_status mh_srv_store_mailbox_by_dn(mh_srv_store *st, mh_arena *arena, const char *dn,
                                     mh_srv_mailbox *out)
{
	sqlite3_stmt *s;
	mh_status ms = check_key(dn, "legacy DN");
	if (ms != S_OK)
		return ms;
	pthread_mutex_lock(&st->mu);
	if ((ms = need_org(st)) == S_OK && (ms = query(st, Q_MBX_BY_DN, &s)) == S_OK) {
		sqlite3_bind_text(s, 1, dn, -1, SQLITE_STATIC);
		ms = one_mailbox(st, arena, s, "legacy DN", out);
	}
	pthread_mutex_unlock(&st->mu);
	return ms;
}

mh_status mh_srv_store_mailbox_by_id(mh_srv_store *st, mh_arena *arena, const char *mailbox_id,
                                     mh_srv_mailbox *out)
{
	size_t local;
	GUID g;
	mh_status ms = check_key(mailbox_id, "MailboxId");
	if (ms != S_OK)
		return ms;
	pthread_mutex_lock(&st->mu);
	ms = need_org(st);
	if (ms == S_OK) {
		if (!split_address(st, mailbox_id, &local) ||
		    mh_srv_guid_parse(&g, mailbox_id, local) != S_OK)
			ms = mh_error_set(MAPI_E_NOT_FOUND, -1, "store: MailboxId is not <guid>@%s",
			                  st->domain);
		else
			ms = mailbox_by_guid_locked(st, arena, &g, out);
	}
	pthread_mutex_unlock(&st->mu);
	return ms;
}

mh_status mh_srv_store_automapped(mh_srv_store *st, mh_arena *arena, int64_t principal,
                                  mh_srv_mailbox **out, size_t *count)
{
	sqlite3_stmt *s;
	mh_srv_mailbox *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	mh_status ms;
	*out = NULL;
	*count = 0;
	pthread_mutex_lock(&st->mu);
	if ((ms = need_org(st)) != S_OK || (ms = query(st, Q_MBX_AUTOMAPPED, &s)) != S_OK)
		goto out;
	sqlite3_bind_int64(s, 1, principal);
	while (ms == S_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap && (list = grow(arena, list, n, &cap, sizeof(*list), 8, &ms)) == NULL)
			break;
		ms = read_mailbox(st, arena, s, &list[n++]);
	}
	if (ms == S_OK && rc != SQLITE_DONE)
		ms = db_fail(st, "listing auto-mapped mailboxes");
	finish(s);
	if (ms == S_OK) {
		*out = n ? list : NULL;
		*count = n;
	}
out:
	pthread_mutex_unlock(&st->mu);
	return ms;
}

/* ---- rights -------------------------------------------------------------------------------- */

static mh_status full_access_locked(mh_srv_store *st, int64_t principal, int64_t mailbox, int *out)
{
	sqlite3_stmt *s;
	int64_t owner;
	int rc;
	mh_status ms = query(st, Q_MBX_OWNER, &s);
	*out = 0;
	if (ms != S_OK)
		return ms;
	sqlite3_bind_int64(s, 1, mailbox);
	rc = sqlite3_step(s);
	owner = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	finish(s);
	if (rc == SQLITE_DONE)
		return mh_error_set(MAPI_E_NOT_FOUND, -1, "store: no mailbox %lld",
		                    (long long)mailbox);
	if (rc != SQLITE_ROW)
		return db_fail(st, "reading a mailbox");
	if (owner == principal) {
		*out = 1;
		return S_OK;
	}
	if ((ms = query(st, Q_FA_GET, &s)) != S_OK)
		return ms;
	sqlite3_bind_int64(s, 1, principal);
	sqlite3_bind_int64(s, 2, owner);
	rc = sqlite3_step(s);
	finish(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, "reading full access");
	*out = rc == SQLITE_ROW;
	return S_OK;
}

mh_status mh_srv_store_has_full_access(mh_srv_store *st, int64_t principal, int64_t mailbox_id,
                                       int *out)
{
	mh_status ms;
	pthread_mutex_lock(&st->mu);
	ms = full_access_locked(st, principal, mailbox_id, out);
	pthread_mutex_unlock(&st->mu);
	return ms;
}

/* *found = 1 and *rights when the bound permission query has a row. */
static mh_status perm_row(mh_srv_store *st, sqlite3_stmt *s, int *found, uint32_t *rights)
{
	int rc = sqlite3_step(s);
	*found = rc == SQLITE_ROW;
	if (*found)
		*rights = (uint32_t)sqlite3_column_int64(s, 0);
	finish(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, "reading a folder permission");
	return S_OK;
}

static mh_status folder_rights_locked(mh_srv_store *st, int64_t principal, int64_t folder,
                                      uint32_t *out)
{
	sqlite3_stmt *s;
	int64_t mailbox;
	int rc, full, found;
	mh_status ms = query(st, Q_FOLDER_MAILBOX, &s);
	*out = 0;
	if (ms != S_OK)
		return ms;
	sqlite3_bind_int64(s, 1, folder);
	rc = sqlite3_step(s);
	mailbox = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	finish(s);
	if (rc == SQLITE_DONE)
		return mh_error_set(MAPI_E_NOT_FOUND, -1, "store: no folder %lld",
		                    (long long)folder);
	if (rc != SQLITE_ROW)
		return db_fail(st, "reading a folder");
	if ((ms = full_access_locked(st, principal, mailbox, &full)) != S_OK)
		return ms;
	if (full) {
		*out = MH_SRV_RIGHTS_ALL_MASK;
		return S_OK;
	}
	if ((ms = query(st, Q_PERM_MEMBER, &s)) != S_OK)
		return ms;
	sqlite3_bind_int64(s, 1, folder);
	sqlite3_bind_int64(s, 2, principal);
	if ((ms = perm_row(st, s, &found, out)) != S_OK || found)
		return ms;
	if ((ms = query(st, Q_PERM_DEFAULT, &s)) != S_OK)
		return ms;
	sqlite3_bind_int64(s, 1, folder);
	return perm_row(st, s, &found, out);
}

mh_status mh_srv_store_folder_rights(mh_srv_store *st, int64_t principal, int64_t folder_id,
                                     uint32_t *out)
{
	mh_status ms;
	pthread_mutex_lock(&st->mu);
	ms = folder_rights_locked(st, principal, folder_id, out);
	pthread_mutex_unlock(&st->mu);
	return ms;
}

/* ---- folders and messages ------------------------------------------------------------------ */

mh_status mh_srv_store_special_fids(mh_srv_store *st, int64_t mailbox_id,
                                    uint64_t fids[MH_SRV_SPECIAL_FOLDERS])
{
	sqlite3_stmt *s;
	unsigned seen = 0;
	int rc;
	mh_status ms;
	memset(fids, 0, sizeof(uint64_t) * MH_SRV_SPECIAL_FOLDERS);
	pthread_mutex_lock(&st->mu);
	if ((ms = query(st, Q_SPECIAL_FIDS, &s)) == S_OK) {
		sqlite3_bind_int64(s, 1, mailbox_id);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			int i = sqlite3_column_int(s, 0);
			if (i >= 0 && i < MH_SRV_SPECIAL_FOLDERS) {
				fids[i] =
				    mh_id_make(MH_SRV_REPLID, (uint64_t)sqlite3_column_int64(s, 1));
				seen |= 1u << i;
			}
		}
		finish(s);
		if (rc != SQLITE_DONE)
			ms = db_fail(st, "reading special folders");
		else if (seen != (1u << MH_SRV_SPECIAL_FOLDERS) - 1)
			ms = mh_error_set(MAPI_E_NOT_FOUND, -1,
			                  "store: mailbox %lld has no special folders",
			                  (long long)mailbox_id);
	}
	pthread_mutex_unlock(&st->mu);
	return ms;
}

static mh_status read_folder(mh_arena *a, sqlite3_stmt *s, mh_srv_folder *f)
{
	mh_status ms;
	f->id = sqlite3_column_int64(s, 0);
	f->mailbox_id = sqlite3_column_int64(s, 1);
	f->fid = mh_id_make(MH_SRV_REPLID, (uint64_t)sqlite3_column_int64(s, 2));
	f->parent_fid = sqlite3_column_type(s, 3) == SQLITE_NULL
	                    ? 0
	                    : mh_id_make(MH_SRV_REPLID, (uint64_t)sqlite3_column_int64(s, 3));
	f->special = sqlite3_column_type(s, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 4);
	f->depth = (unsigned)sqlite3_column_int(s, 5);
	f->content_count = (uint32_t)sqlite3_column_int64(s, 8);
	f->unread_count = (uint32_t)sqlite3_column_int64(s, 9);
	f->subfolder_count = (uint32_t)sqlite3_column_int64(s, 10);
	f->message_size = (uint64_t)sqlite3_column_int64(s, 11);
	if ((ms = col_text(a, s, 6, &f->display_name)) != S_OK)
		return ms;
	return col_text(a, s, 7, &f->container_class);
}

mh_status mh_srv_store_folders(mh_srv_store *st, mh_arena *arena, int64_t mailbox_id,
                               mh_srv_folder **out, size_t *count)
{
	sqlite3_stmt *s;
	mh_srv_folder *list = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE;
	mh_status ms;
	*out = NULL;
	*count = 0;
	pthread_mutex_lock(&st->mu);
	if ((ms = query(st, Q_FOLDERS, &s)) != S_OK)
		goto out;
	sqlite3_bind_int64(s, 1, mailbox_id);
	while (ms == S_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap && (list = grow(arena, list, n, &cap, sizeof(*list), 32, &ms)) == NULL)
			break;
		ms = read_folder(arena, s, &list[n++]);
	}
	if (ms == S_OK && rc != SQLITE_DONE)
		ms = db_fail(st, "listing folders");
	finish(s);
	if (ms == S_OK && n == 0)
		ms = mh_error_set(MAPI_E_NOT_FOUND, -1, "store: no mailbox %lld",
		                  (long long)mailbox_id);
	if (ms == S_OK) {
		*out = list;
		*count = n;
	}
out:
	pthread_mutex_unlock(&st->mu);
	return ms;
}

mh_status mh_srv_store_folder_by_fid(mh_srv_store *st, mh_arena *arena, int64_t mailbox_id,
                                     uint64_t fid, mh_srv_folder *out)
{
	sqlite3_stmt *s;
	int rc;
	mh_status ms;
	if ((fid & 0xFFFF) != MH_SRV_REPLID)
		return mh_error_set(MAPI_E_NOT_FOUND, -1, "store: FID has replica id %u, not %u",
		                    (unsigned)(fid & 0xFFFF), MH_SRV_REPLID);
	pthread_mutex_lock(&st->mu);
	if ((ms = query(st, Q_FOLDER_BY_COUNTER, &s)) == S_OK) {
		sqlite3_bind_int64(s, 1, mailbox_id);
		sqlite3_bind_int64(s, 2, (int64_t)mh_id_counter(fid));
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			ms = read_folder(arena, s, out);
		else if (rc == SQLITE_DONE)
			ms = mh_error_set(MAPI_E_NOT_FOUND, -1,
			                  "store: no folder with FID 0x%016llx",
			                  (unsigned long long)fid);
		else
			ms = db_fail(st, "reading a folder");
		finish(s);
	}
	pthread_mutex_unlock(&st->mu);
	return ms;
}

/* Fills recipients, attachments and properties of a message whose scalar columns are read. */
static mh_status read_message_parts(mh_srv_store *st, mh_arena *a, mh_srv_message *m)
{
	static const int which[3] = {Q_MSG_RCPTS, Q_MSG_ATTS, Q_MSG_PROPS};
	mh_status ms = S_OK;
	for (int k = 0; k < 3 && ms == S_OK; k++) {
		sqlite3_stmt *s;
		size_t n = 0, cap = 0,
		       size = k == 0   ? sizeof(mh_srv_msg_recipient)
		              : k == 1 ? sizeof(mh_srv_attachment)
		                       : sizeof(mh_srv_prop);
		void *list = NULL;
		int rc = SQLITE_DONE;
		if ((ms = query(st, which[k], &s)) != S_OK)
			return ms;
		sqlite3_bind_int64(s, 1, m->id);
		while (ms == S_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (n == cap && (list = grow(a, list, n, &cap, size, 4, &ms)) == NULL)
				break;
			if (k == 0) {
				mh_srv_msg_recipient *r = (mh_srv_msg_recipient *)list + n;
				r->type = sqlite3_column_int(s, 0);
				if ((ms = col_text(a, s, 1, &r->display_name)) == S_OK)
					ms = col_text(a, s, 2, &r->smtp);
			} else if (k == 1) {
				mh_srv_attachment *at = (mh_srv_attachment *)list + n;
				at->num = (uint32_t)sqlite3_column_int64(s, 0);
				if ((ms = col_text(a, s, 1, &at->filename)) == S_OK &&
				    (ms = col_text(a, s, 2, &at->content_type)) == S_OK)
					ms = col_blob(a, s, 3, &at->data, &at->len);
			} else {
				mh_srv_prop *p = (mh_srv_prop *)list + n;
				p->tag = (uint32_t)sqlite3_column_int64(s, 0);
				ms = col_blob(a, s, 1, &p->value, &p->len);
			}
			n++;
		}
		if (ms == S_OK && rc != SQLITE_DONE)
			ms = db_fail(st, "reading message parts");
		finish(s);
		if (k == 0) {
			m->recipients = list;
			m->n_recipients = n;
		} else if (k == 1) {
			m->attachments = list;
			m->n_attachments = n;
		} else {
			m->props = list;
			m->n_props = n;
		}
	}
	return ms;
}

static mh_status read_message(mh_arena *a, sqlite3_stmt *s, mh_srv_message *m)
{
	mh_status ms;
	m->id = sqlite3_column_int64(s, 0);
	m->mid = mh_id_make(MH_SRV_REPLID, (uint64_t)sqlite3_column_int64(s, 1));
	m->fid = mh_id_make(MH_SRV_REPLID, (uint64_t)sqlite3_column_int64(s, 2));
	m->delivery_time = sqlite3_column_int64(s, 5);
	m->size = (uint32_t)sqlite3_column_int64(s, 6);
	m->read = sqlite3_column_int(s, 10);
	if ((ms = col_text(a, s, 3, &m->subject)) != S_OK ||
	    (ms = col_text(a, s, 4, &m->message_class)) != S_OK ||
	    (ms = col_text(a, s, 7, &m->sender_name)) != S_OK ||
	    (ms = col_text(a, s, 8, &m->sender_smtp)) != S_OK)
		return ms;
	return col_text(a, s, 9, &m->body);
}

mh_status mh_srv_store_messages(mh_srv_store *st, mh_arena *arena, int64_t folder_id,
                                mh_srv_message **out, size_t *count)
{
	sqlite3_stmt *s;
	mh_srv_message *list = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE;
	mh_status ms;
	*out = NULL;
	*count = 0;
	pthread_mutex_lock(&st->mu);
	if ((ms = query(st, Q_FOLDER_MAILBOX, &s)) != S_OK)
		goto out;
	sqlite3_bind_int64(s, 1, folder_id);
	rc = sqlite3_step(s);
	finish(s);
	if (rc != SQLITE_ROW) {
		ms = rc == SQLITE_DONE ? mh_error_set(MAPI_E_NOT_FOUND, -1, "store: no folder %lld",
		                                      (long long)folder_id)
		                       : db_fail(st, "reading a folder");
		goto out;
	}
	/* The scalar rows first: the part queries must not run while this one is open. */
	if ((ms = query(st, Q_MSGS, &s)) != S_OK)
		goto out;
	sqlite3_bind_int64(s, 1, folder_id);
	while (ms == S_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap && (list = grow(arena, list, n, &cap, sizeof(*list), 16, &ms)) == NULL)
			break;
		ms = read_message(arena, s, &list[n++]);
	}
	if (ms == S_OK && rc != SQLITE_DONE)
		ms = db_fail(st, "listing messages");
	finish(s);
	for (size_t i = 0; ms == S_OK && i < n; i++)
		ms = read_message_parts(st, arena, &list[i]);
	if (ms == S_OK) {
		*out = list;
		*count = n;
	}
out:
	pthread_mutex_unlock(&st->mu);
	return ms;
}

mh_status mh_srv_store_message_by_mid(mh_srv_store *st, mh_arena *arena, int64_t mailbox_id,
                                      uint64_t mid, mh_srv_message *out)
{
	sqlite3_stmt *s;
	int rc;
	mh_status ms;
	if ((mid & 0xFFFF) != MH_SRV_REPLID)
		return mh_error_set(MAPI_E_NOT_FOUND, -1, "store: MID has replica id %u, not %u",
		                    (unsigned)(mid & 0xFFFF), MH_SRV_REPLID);
	pthread_mutex_lock(&st->mu);
	if ((ms = query(st, Q_MSG_BY_COUNTER, &s)) == S_OK) {
		sqlite3_bind_int64(s, 1, mailbox_id);
		sqlite3_bind_int64(s, 2, (int64_t)mh_id_counter(mid));
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			ms = read_message(arena, s, out);
		else if (rc == SQLITE_DONE)
			ms = mh_error_set(MAPI_E_NOT_FOUND, -1,
			                  "store: no message with MID 0x%016llx",
			                  (unsigned long long)mid);
		else
			ms = db_fail(st, "reading a message");
		finish(s);
		if (ms == S_OK)
			ms = read_message_parts(st, arena, out);
	}
	pthread_mutex_unlock(&st->mu);
	return ms;
}

/* ---- authentication ------------------------------------------------------------------------ */

/* Compares without an early exit, so the time taken says nothing about where strings differ. */
static int equal_ct(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;
	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

mh_status mh_srv_store_verify_password(mh_srv_store *st, mh_arena *arena, const char *smtp,
                                       const char *password, mh_srv_recipient *out)
{
	/* Hashed when the address is unknown, so both paths cost about the same. */
	static const char dummy[] = "$6$mapihttpd.none$";
	struct crypt_data *cd;
	sqlite3_stmt *s;
	char *stored = NULL;
	int rc = SQLITE_DONE, ok = 0;
	mh_status ms = S_OK;
	if (smtp == NULL || password == NULL || strlen(smtp) > MAX_KEY ||
	    strlen(password) > MH_SRV_ORG_MAX_PASSWORD)
		return mh_error_set(MAPI_E_LOGON_FAILED, -1, "wrong user name or password");
	cd = calloc(1, sizeof(*cd));
	if (cd == NULL)
		return mh_error_oom();
	pthread_mutex_lock(&st->mu);
	if ((ms = query(st, Q_RCPT_BY_SMTP, &s)) == S_OK) {
		sqlite3_bind_text(s, 1, smtp, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			ms = read_recipient(arena, s, 0, out);
			if (ms == S_OK && sqlite3_column_type(s, 6) != SQLITE_NULL) {
				stored = strdup((const char *)sqlite3_column_text(s, 6));
				if (stored == NULL)
					ms = mh_error_oom();
			}
		} else if (rc != SQLITE_DONE) {
			ms = db_fail(st, "reading a recipient");
		}
		finish(s);
	}
	pthread_mutex_unlock(&st->mu);
	if (ms == S_OK) {
		/* crypt_r runs outside the lock: it is the slow part and needs no store. */
		const char *h = crypt_r(password, stored ? stored : dummy, cd);
		ok = stored != NULL && h != NULL && h[0] == '$' && equal_ct(h, stored);
		if (!ok)
			ms = mh_error_set(MAPI_E_LOGON_FAILED, -1, "wrong user name or password");
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	free(stored);
	return ms;
}

mh_status mh_srv_store_principal_by_token(mh_srv_store *st, mh_arena *arena, const char *token,
                                          int64_t now, int *expired, mh_srv_recipient *out)
{
	char hash[65];
	sqlite3_stmt *s;
	mh_status ms;
	if (expired != NULL)
		*expired = 0;
	if (token == NULL || strlen(token) > MH_SRV_ORG_MAX_TOKEN)
		return mh_error_set(MAPI_E_LOGON_FAILED, -1, "unknown bearer token");
	mh_srv_token_hash(hash, token, strlen(token));
	pthread_mutex_lock(&st->mu);
	if ((ms = query(st, Q_RCPT_BY_TOKEN, &s)) == S_OK) {
		sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && sqlite3_column_type(s, 7) != SQLITE_NULL &&
		    now >= sqlite3_column_int64(s, 7)) {
			if (expired != NULL)
				*expired = 1;
			ms = mh_error_set(MAPI_E_LOGON_FAILED, -1, "bearer token expired");
		} else if (rc == SQLITE_ROW) {
			ms = read_recipient(arena, s, 0, out);
		} else if (rc == SQLITE_DONE) {
			ms = mh_error_set(MAPI_E_LOGON_FAILED, -1, "unknown bearer token");
		} else {
			ms = db_fail(st, "reading a recipient");
		}
		finish(s);
	}
	pthread_mutex_unlock(&st->mu);
	return ms;
}

/* ---- lookups for the ROP processor ------------------------------------------------------- */

/* Checks that a folder id exists; MAPI_E_NOT_FOUND otherwise. Called with the lock held. */
static mh_status folder_exists_locked(mh_srv_store *st, int64_t folder_id)
{
	sqlite3_stmt *s;
	int rc;
	mh_status ms = query(st, Q_FOLDER_MAILBOX, &s);
	if (ms != S_OK)
		return ms;
	sqlite3_bind_int64(s, 1, folder_id);
	rc = sqlite3_step(s);
	finish(s);
	if (rc == SQLITE_DONE)
		return mh_error_set(MAPI_E_NOT_FOUND, -1, "store: no folder %lld",
		                    (long long)folder_id);
	return rc == SQLITE_ROW ? S_OK : db_fail(st, "reading a folder");
}

mh_status mh_srv_store_folder_permissions(mh_srv_store *st, mh_arena *arena, int64_t folder_id,
                                          mh_srv_permission **out, size_t *count)
{
	sqlite3_stmt *s;
	mh_srv_permission *list = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE;
	mh_status ms;
	*out = NULL;
	*count = 0;
	pthread_mutex_lock(&st->mu);
	if ((ms = folder_exists_locked(st, folder_id)) != S_OK ||
	    (ms = query(st, Q_PERMS, &s)) != S_OK)
		goto out;
	sqlite3_bind_int64(s, 1, folder_id);
	while (ms == S_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap && (list = grow(arena, list, n, &cap, sizeof(*list), 8, &ms)) == NULL)
			break;
		mh_srv_permission *p = &list[n++];
		memset(p, 0, sizeof(*p));
		p->rights = (uint32_t)sqlite3_column_int64(s, 1);
		p->is_default = sqlite3_column_type(s, 0) == SQLITE_NULL;
		if (!p->is_default)
			ms = read_recipient(arena, s, 2, &p->member);
	}
	if (ms == S_OK && rc != SQLITE_DONE)
		ms = db_fail(st, "listing folder permissions");
	finish(s);
	if (ms == S_OK) {
		*out = list;
		*count = n;
	}
out:
	pthread_mutex_unlock(&st->mu);
	return ms;
}

mh_status mh_srv_store_message_mids(mh_srv_store *st, mh_arena *arena, int64_t folder_id,
                                    uint64_t **out, size_t *count)
{
	sqlite3_stmt *s;
	uint64_t *list = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE;
	mh_status ms;
	*out = NULL;
	*count = 0;
	pthread_mutex_lock(&st->mu);
	if ((ms = folder_exists_locked(st, folder_id)) != S_OK ||
	    (ms = query(st, Q_MSG_IDS, &s)) != S_OK)
		goto out;
	sqlite3_bind_int64(s, 1, folder_id);
	while (ms == S_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap && (list = grow(arena, list, n, &cap, sizeof(*list), 32, &ms)) == NULL)
			break;
		list[n++] = mh_id_make(MH_SRV_REPLID, (uint64_t)sqlite3_column_int64(s, 0));
	}
	if (ms == S_OK && rc != SQLITE_DONE)
		ms = db_fail(st, "listing message ids");
	finish(s);
	if (ms == S_OK) {
		*out = list;
		*count = n;
	}
out:
	pthread_mutex_unlock(&st->mu);
	return ms;
}

mh_status mh_srv_store_mailbox_totals(mh_srv_store *st, int64_t mailbox_id, uint64_t *bytes,
                                      uint32_t *messages)
{
	sqlite3_stmt *s;
	int rc;
	mh_status ms;
	*bytes = 0;
	*messages = 0;
	pthread_mutex_lock(&st->mu);
	if ((ms = query(st, Q_MBX_SIZE, &s)) == S_OK) {
		sqlite3_bind_int64(s, 1, mailbox_id);
		rc = sqlite3_step(s);
		if (rc != SQLITE_ROW)
			ms = db_fail(st, "summing message sizes");
		else if (sqlite3_column_int64(s, 0) == 0)
			ms = mh_error_set(MAPI_E_NOT_FOUND, -1, "store: no mailbox %lld",
			                  (long long)mailbox_id);
		else {
			*bytes = (uint64_t)sqlite3_column_int64(s, 1);
			*messages = (uint32_t)sqlite3_column_int64(s, 2);
		}
		finish(s);
	}
	pthread_mutex_unlock(&st->mu);
	return ms;
}
