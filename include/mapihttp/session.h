/*
 * Sessions, stores, folders, tables and messages over MAPI/HTTP: one identity opens its own
 * mailbox and, hub and spoke, every other mailbox it has rights to.
 */
#ifndef MAPIHTTP_SESSION_H
#define MAPIHTTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapihttp/common.h"
#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"
#include "mapihttp/sys/transport.h"

MH_BEGIN_DECLS

/*
 * Every call below is synchronous: it runs the session's event loop until its work is done.
 * A session and everything opened from it belong to one thread at a time. Objects opened from
 * a store (folders, tables, messages) must be closed before the store (they are not tracked:
 * one left open dangles); stores may be left to mh_session_close, which closes them before
 * the session. Results handed back as pointers are MAPI buffers (free with MAPIFreeBuffer)
 * unless a comment says otherwise; strings are UTF-8. After a failure, mh_session_errmsg()
 * says what happened, naming the server's own code where there was one; it never holds a
 * password, token or cookie.
 */

typedef struct mh_session mh_session;
typedef struct mh_store mh_store;
typedef struct mh_folder mh_folder;
typedef struct mh_table mh_table;
typedef struct mh_message mh_message;

/* ---- session ---------------------------------------------------------------------------- */

typedef struct mh_session_options {
	unsigned version; /* 1 */
	/* The identity's SMTP address: discovered, and the primary mailbox opened. */
	const char *user;
	/* Credentials for Autodiscover and MAPI/HTTP (copied; wiped on close). */
	mh_transport_auth auth;
	/* An Autodiscover POX URL used in place of the candidate search (wire.md §7.1). */
	const char *autodiscover_url;
	/* Send credentials to an http:// autodiscover_url (a plain-HTTP test server only). */
	bool allow_http;
	/*
	 * The transport (borrowed; it must outlive the session). NULL: a libcurl transport made
	 * with cacert and insecure below, owned by the session.
	 */
	mh_transport *transport;
	const char *cacert; /* a CA file for TLS verification; NULL: the system's */
	bool insecure;      /* skip TLS verification (never by default) */
	/* A directory for the on-disk Autodiscover cache; NULL: in-process cache only. */
	const char *cache_dir;
	uint32_t connect_timeout_ms; /* per connection; 0: 15 s */
	uint32_t request_timeout_ms; /* per HTTP request, whole answer; 0: 60 s */
	uint32_t timeout_ms;         /* per call (open, open store, query...); 0: 120 s */
	/* Sends of one request (after 503/429 or a network failure); 0: 4. */
	unsigned max_attempts;
	uint32_t backoff_cap_ms; /* longest wait honoured (Retry-After, RopBackoff); 0: 30 s */
	/* Keep idle session contexts alive with PING; true is what a MAPI client does. */
	bool keep_alive;
	/* X-ClientApplication; NULL: mapihttp's. */
	const char *client_application;
} mh_session_options;

#define MH_SESSION_OPTIONS_INIT                                                                  \
	{                                                                                        \
		1, NULL, {MH_AUTH_NONE, NULL, NULL}, NULL, false, NULL, NULL, false, NULL, 0, 0, \
		    0, 0, 0, true, NULL                                                          \
	}

/**
 * Opens a session: Autodiscovers opts->user, Connects to its MailStore URL with the identity's
 * own DN and logs on to its primary mailbox (mh_session_primary).
 *
 * @return S_OK; MAPI_E_INVALID_PARAMETER (no options, version, no user or credentials);
 *         MAPI_E_LOGON_FAILED (wrong password, expired token: HTTP 401 anywhere);
 *         MAPI_E_NOT_FOUND (Autodiscover knows no such mailbox); MAPI_E_NETWORK_ERROR,
 *         MAPI_E_TIMEOUT, the TLS failures of the transport (certificate that does not
 *         verify: MAPI_E_NETWORK_ERROR with the reason); MAPI_E_CALL_FAILED. On failure *out is
 *         NULL and mh_error_last() says why.
 */
MH_EXTERN mh_status mh_session_open(mh_session **out, const mh_session_options *opts);

/* Closes every store still open (Disconnect, Unbind), frees the session. NULL is a no-op. */
MH_EXTERN void mh_session_close(mh_session *s);

/* The last failure of this session, one line; "" when none. Valid until the next call. */
MH_EXTERN const char *mh_session_errmsg(const mh_session *s);

/* Who the session is. Strings live as long as the session. */
typedef struct mh_session_info {
	const char *smtp_address;
	const char *display_name;
	const char *mailbox_dn; /* the identity's legacyExchangeDN (the Connect UserDN) */
	const char *mdb_dn;     /* its home MDB DN, when Autodiscover or NSPI gave one */
	const char *mailstore_url;
	const char *addressbook_url;
} mh_session_info;

MH_EXTERN void mh_session_get_info(const mh_session *s, mh_session_info *out);

/* The primary mailbox, opened by mh_session_open; owned by the session (do not close it). */
MH_EXTERN mh_store *mh_session_primary(mh_session *s);

/* HTTP requests this session sent so far (every retry, PING, Autodiscover included). */
MH_EXTERN uint64_t mh_session_request_count(const mh_session *s);

/* ---- finding mailboxes ----------------------------------------------------------------- */

/* One address book entry (NSPI ResolveNames). */
typedef struct mh_address_entry {
	bool resolved;    /* false: no entry matched the name (the rest are NULL) */
	bool ambiguous;   /* more than one matched */
	const char *name; /* the name asked for */
	const char *display_name;
	const char *mailbox_dn; /* legacyExchangeDN */
	const char *smtp_address;
	const char *mdb_dn; /* home MDB DN (PR_EMS_AB_HOME_MDB) */
	uint32_t display_type;
} mh_address_entry;

/**
 * Resolves count names (SMTP addresses, display names, aliases) through NSPI, as the
 * identity. *entries: count entries in one MAPI buffer, in the order of names.
 * @return S_OK (even when some did not resolve); MAPI_E_INVALID_PARAMETER; the session's
 *         network and logon statuses.
 */
MH_EXTERN mh_status mh_session_resolve(mh_session *s, const char *const *names, uint32_t count,
                                       mh_address_entry **entries);

typedef enum mh_mailbox_kind {
	MH_MAILBOX_PRIMARY = 0,
	MH_MAILBOX_ARCHIVE = 1,
	MH_MAILBOX_DELEGATE = 2, /* a mailbox the identity was given rights on */
	MH_MAILBOX_SHARED = 3,
	MH_MAILBOX_OTHER = 4
} mh_mailbox_kind;

/* "primary", "archive", "delegate", "shared", "other". */
MH_EXTERN const char *mh_mailbox_kind_str(mh_mailbox_kind kind);

/* A mailbox the identity can open, with the v3 EntryID that opens it over MAPI/HTTP. */
typedef struct mh_mailbox_ref {
	mh_mailbox_kind kind;
	const char *display_name;
	const char *smtp_address; /* the address that Autodiscovers it */
	const char *mailbox_dn;   /* its Essdn */
	const char *owner_smtp;   /* archives and delegates: whose it is, when known */
	uint32_t cb_entryid;
	ENTRYID *entryid; /* v3, as CreateStoreEntryID2 makes it */
} mh_mailbox_ref;

/**
 * The identity's primary mailbox, its archive and every AlternativeMailbox Autodiscover lists
 * (delegates, shared), each with its v3 store EntryID. *refs: *count entries in one MAPI
 * buffer. An entry Autodiscover gives in the RPC form (LegacyDN + Server) gets its SMTP
 * address from NSPI.
 */
MH_EXTERN mh_status mh_session_list_mailboxes(mh_session *s, mh_mailbox_ref **refs,
                                              uint32_t *count);

/**
 * The v3 EntryID of the mailbox of smtp_address (archive true: of its archive), from its
 * Autodiscover answer: what a caller feeds mh_session_open_msg_store to open it.
 * MAPI_E_NOT_FOUND when there is no such mailbox (or it has no archive).
 */
MH_EXTERN mh_status mh_session_mailbox_entryid(mh_session *s, const char *smtp_address,
                                               bool archive, uint32_t *cb, ENTRYID **eid);

/* ---- stores ----------------------------------------------------------------------------- */

/* With mh_session_open_msg_store: open a v1 (or v2) EntryID by resolving its mailbox DN to an
 * SMTP address through NSPI, in place of failing as Outlook does. A bit no MDB_*, MAPI_* or
 * OPENSTORE_* flag uses (0x80000000 is MAPI_UNICODE). */
#define MH_OPENSTORE_UPGRADE_V1 0x40000000u

/**
 * IMAPISession::OpenMsgStore for a store EntryID (MDB_* / OPENSTORE_* flags are accepted and
 * otherwise ignored; mapihttp opens stores read-only).
 * - v3: Autodiscovers the SMTP address it carries, Connects to that mailbox's endpoint (with
 *   the identity's DN) and logs on with its mailbox DN; follows ecWrongServer up to 3 times.
 * - v1/v2 (no SMTP address): MAPI_E_CALL_FAILED, as Outlook over MAPI/HTTP; the message says
 *   why and how to make a v3 EntryID; with MH_OPENSTORE_UPGRADE_V1, the mailbox DN is resolved
 *   through NSPI and the store opened as for v3.
 * @return S_OK; MAPI_E_INVALID_ENTRYID (not a store EntryID); MAPI_E_CALL_FAILED;
 *         MAPI_E_NO_ACCESS (no rights: ecLoginPerm, ecAccessDenied); MAPI_E_UNKNOWN_ENTRYID
 *         (no such mailbox); MAPI_E_LOGON_FAILED; MAPI_E_UNCONFIGURED (more than 3 redirects);
 *         the network statuses. The server's code is in mh_session_errmsg().
 */
MH_EXTERN mh_status mh_session_open_msg_store(mh_store **out, mh_session *s, uint32_t cb,
                                              const ENTRYID *eid, uint32_t flags);

/* Logs off: RopRelease of the logon while other stores share its session context, else
 * Disconnect (which ends the logon with the context). NULL and the primary store are no-ops. */
MH_EXTERN void mh_store_close(mh_store *st);

/* What the logon said. Strings live as long as the store. */
typedef struct mh_store_info {
	mh_mailbox_kind kind; /* as known when opened (primary, archive, other) */
	const char *mailbox_dn;
	const char *smtp_address;
	const char *display_name; /* the mailbox's, when known */
	const char *mailstore_url;
	uint8_t response_flags; /* RopLogon: 0x01 Reserved, 0x02 OwnerRight, 0x04 SendAsRight */
	bool owner;             /* OwnerRight: the identity owns the store or has FullAccess */
	GUID mailbox_guid;
	uint64_t ipm_subtree_fid;
} mh_store_info;

MH_EXTERN void mh_store_get_info(const mh_store *st, mh_store_info *out);

/**
 * IExchangeManageStore::CreateStoreEntryID on an open store: the same bytes as
 * mh_create_store_entryid (a v1 EntryID).
 */
MH_EXTERN mh_status mh_store_create_entryid(mh_store *st, const char *store_dn,
                                            const char *mailbox_dn, uint32_t flags, uint32_t *cb,
                                            ENTRYID **eid);

/** IExchangeManageStoreEx::CreateStoreEntryID2: the same bytes as mh_create_store_entryid2. */
MH_EXTERN mh_status mh_store_create_entryid2(mh_store *st, uint32_t cValues,
                                             const SPropValue *props, uint32_t flags, uint32_t *cb,
                                             ENTRYID **eid);

/* ---- folders ---------------------------------------------------------------------------- */

/**
 * The FID of a well-known folder from the FIDs RopLogon returned (so it works whatever the
 * mailbox's language): "root", "ipmsubtree", "inbox", "outbox", "sentitems", "deleteditems",
 * "drafts", "calendar", "contacts", "tasks", "notes", "journal", "junkemail", "search",
 * "views", "commonviews", "schedule", "shortcuts", "spooler". Names of the Inbox's siblings
 * the logon does not give (calendar, contacts, ...) are read from the Inbox's or the root's
 * PidTagIpm*EntryId properties. MAPI_E_NOT_FOUND for an unknown name or a folder the mailbox
 * does not have.
 */
MH_EXTERN mh_status mh_store_well_known_fid(mh_store *st, const char *name, uint64_t *fid);

MH_EXTERN mh_status mh_store_open_folder(mh_folder **out, mh_store *st, uint64_t fid);
/* A folder EntryID (PidTagEntryId of a folder). MAPI_E_INVALID_ENTRYID, MAPI_E_NOT_FOUND. */
MH_EXTERN mh_status mh_store_open_folder_entryid(mh_folder **out, mh_store *st, uint32_t cb,
                                                 const ENTRYID *eid);
/**
 * A folder by path: "/" separated display names under the IPM subtree ("Inbox/Projects"),
 * compared case-insensitively; a first element that is a well-known name in angle brackets
 * ("<inbox>/Projects") starts from that folder instead. A "/" inside a name is written "\/" and a
 * "\" is written "\\". MAPI_E_NOT_FOUND names the first element that did not match.
 */
MH_EXTERN mh_status mh_store_open_folder_path(mh_folder **out, mh_store *st, const char *path);
MH_EXTERN void mh_folder_close(mh_folder *f);
MH_EXTERN uint64_t mh_folder_id(const mh_folder *f);

/* One folder of a tree. */
typedef struct mh_folder_entry {
	const char *path; /* "/"-separated display names under the IPM subtree, "/" and "\" escaped
	                     as "\/" and "\\" */
	const char *display_name;
	const char *container_class; /* "IPF.Note", ...; NULL when unset */
	uint64_t folder_id;
	uint32_t depth; /* 1 for the IPM subtree's children */
	uint32_t content_count;
	uint32_t child_count;
	uint64_t message_size; /* PidTagMessageSizeExtended, 0 when the server has none */
} mh_folder_entry;

/**
 * Every folder under the IPM subtree, depth first, in one Execute (OpenFolder,
 * GetHierarchyTable with Depth, SetColumns, QueryRows; more only when the rows do not fit).
 * *entries: *count entries in one MAPI buffer.
 */
MH_EXTERN mh_status mh_store_folder_tree(mh_store *st, mh_folder_entry **entries, uint32_t *count);

/* ---- properties ------------------------------------------------------------------------- */

/* Any open object (folder or message) for the property calls. */
typedef enum mh_object_kind { MH_OBJECT_FOLDER = 1, MH_OBJECT_MESSAGE = 2 } mh_object_kind;

/**
 * GetPropertiesSpecific: *props has tags->cValues values in tag order, each the asked tag or
 * PT_ERROR with the code (MAPI_E_NOT_FOUND, MAPI_E_NOT_ENOUGH_MEMORY for a value too large:
 * read it with mh_*_read_stream). One MAPI buffer.
 */
MH_EXTERN mh_status mh_folder_get_props(mh_folder *f, const SPropTagArray *tags, uint32_t *count,
                                        SPropValue **props);
MH_EXTERN mh_status mh_folder_get_all_props(mh_folder *f, uint32_t *count, SPropValue **props);
MH_EXTERN mh_status mh_message_get_props(mh_message *m, const SPropTagArray *tags, uint32_t *count,
                                         SPropValue **props);
MH_EXTERN mh_status mh_message_get_all_props(mh_message *m, uint32_t *count, SPropValue **props);

/**
 * A property read whole through RopOpenStream/RopReadStream (strings come back as the server
 * stores them: UTF-16LE for PT_UNICODE, which is converted to UTF-8 here; binary as is).
 * *data is a MAPI buffer with a NUL after the *len bytes.
 */
MH_EXTERN mh_status mh_folder_read_stream(mh_folder *f, uint32_t tag, void **data, size_t *len);
MH_EXTERN mh_status mh_message_read_stream(mh_message *m, uint32_t tag, void **data, size_t *len);

/* ---- tables ----------------------------------------------------------------------------- */

/* Table flags. */
#define MH_TABLE_DEEP       0x04u /* hierarchy: every level below (Depth) */
#define MH_TABLE_ASSOCIATED 0x02u /* contents: the folder's associated messages */

MH_EXTERN mh_status mh_folder_hierarchy_table(mh_table **out, mh_folder *f, uint32_t flags);
MH_EXTERN mh_status mh_folder_contents_table(mh_table **out, mh_folder *f, uint32_t flags);
MH_EXTERN mh_status mh_message_recipient_table(mh_table **out, mh_message *m);
MH_EXTERN mh_status mh_message_attachment_table(mh_table **out, mh_message *m);
MH_EXTERN void mh_table_close(mh_table *t);

/* The columns rows come back with (sent with the next query). A copy is kept. */
MH_EXTERN mh_status mh_table_set_columns(mh_table *t, const SPropTagArray *columns);

typedef struct mh_sort_order {
	uint32_t tag;
	bool descending;
} mh_sort_order;

MH_EXTERN mh_status mh_table_sort(mh_table *t, const mh_sort_order *orders, uint32_t count);

/* Rows the server's table holds (RowCount of the Get*Table answer). */
MH_EXTERN uint32_t mh_table_row_count(const mh_table *t);

/*
 * One row. truncated[i] is true when column i is a string or binary value the server may have
 * cut short (Exchange cuts table values at 255 characters or 510 bytes): do not take it for
 * the real value; mh_table_read_full reads it whole.
 */
typedef struct mh_row {
	uint32_t count;
	SPropValue *props;
	bool *truncated;
} mh_row;

typedef struct mh_rowset {
	uint32_t count;
	mh_row *rows;
} mh_rowset;

/**
 * QueryRows of at most max rows from the cursor (forward), paging through as many Executes
 * as it takes; *rows is one MAPI buffer (count 0 at the end of the table). Rows sent whole
 * in the order of the table.
 */
MH_EXTERN mh_status mh_table_query_rows(mh_table *t, uint32_t max, mh_rowset **rows);

/* SeekRow from the beginning (origin 0), the cursor (1) or the end (2). */
MH_EXTERN mh_status mh_table_seek(mh_table *t, uint8_t origin, int32_t rows);

/**
 * The whole value of column col of row: opens the row's object (PidTagFolderId of a
 * hierarchy row, PidTagMid of a contents row, which the table must have among its columns)
 * and reads the property through GetPropertiesSpecific, or a stream when that is cut too.
 * *value is a MAPI buffer. MAPI_E_INVALID_PARAMETER when the table has no ID column.
 */
MH_EXTERN mh_status mh_table_read_full(mh_table *t, const mh_row *row, uint32_t col,
                                       SPropValue **value);

/* ---- messages --------------------------------------------------------------------------- */

MH_EXTERN mh_status mh_folder_open_message(mh_message **out, mh_folder *f, uint64_t mid);
/* A message EntryID (PidTagEntryId of a message). */
MH_EXTERN mh_status mh_store_open_message_entryid(mh_message **out, mh_store *st, uint32_t cb,
                                                  const ENTRYID *eid);
MH_EXTERN void mh_message_close(mh_message *m);

MH_END_DECLS

#endif
