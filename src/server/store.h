/*
 * mapihttpd's store: the organisation (recipients, mailboxes, rights, credentials) and the
 * mailbox contents in one SQLite database, with the lookups the protocol handlers need.
 *
 * Results are allocated in an mh_arena the caller passes and owns: they stay valid until the
 * caller frees (or reuses) that arena. One store may be used from several threads; calls are
 * serialised by a mutex inside the store. Every failure records a one-line message
 * (mh_error_last()).
 */
#ifndef MH_SERVER_STORE_H
#define MH_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"
#include "server/org.h"
#include "util/arena.h"

typedef struct mh_srv_store mh_srv_store;

/* The 13 special folders of a private mailbox, in RopLogon's FolderIds order. */
typedef enum mh_srv_special_folder {
	MH_SRV_FOLDER_ROOT = 0,
	MH_SRV_FOLDER_DEFERRED_ACTION,
	MH_SRV_FOLDER_SPOOLER_QUEUE,
	MH_SRV_FOLDER_IPM_SUBTREE,
	MH_SRV_FOLDER_INBOX,
	MH_SRV_FOLDER_OUTBOX,
	MH_SRV_FOLDER_SENT_ITEMS,
	MH_SRV_FOLDER_DELETED_ITEMS,
	MH_SRV_FOLDER_COMMON_VIEWS,
	MH_SRV_FOLDER_SCHEDULE,
	MH_SRV_FOLDER_FINDER,
	MH_SRV_FOLDER_VIEWS,
	MH_SRV_FOLDER_SHORTCUTS,
	MH_SRV_SPECIAL_FOLDERS /* 13 */
} mh_srv_special_folder;

typedef enum mh_srv_mailbox_kind {
	MH_SRV_MAILBOX_PRIMARY = 1,
	MH_SRV_MAILBOX_ARCHIVE = 2
} mh_srv_mailbox_kind;

/* Every folder and message ID of a mailbox carries this replica id. */
#define MH_SRV_REPLID 1

typedef struct mh_srv_org_info {
	const char *domain;    /* lowercase, e.g. "contoso.test" */
	const char *name;      /* e.g. "Contoso" */
	const char *dn_prefix; /* "/o=<name>/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)" */
} mh_srv_org_info;

typedef struct mh_srv_recipient {
	int64_t id; /* the principal id used by the rights calls */
	mh_srv_recipient_kind kind;
	const char *alias;
	const char *smtp;
	const char *display_name;
	const char *legacy_dn; /* dn_prefix + "/cn=Recipients/cn=<alias>" */
	int can_logon;         /* has a password (shared mailboxes never do) */
} mh_srv_recipient;

typedef struct mh_srv_mailbox {
	int64_t id;
	mh_srv_mailbox_kind kind;
	GUID guid;      /* MailboxGuid of RopLogon */
	GUID repl_guid; /* ReplGuid of RopLogon, for ReplId MH_SRV_REPLID */
	const char *display_name;
	const char *legacy_dn;  /* Essdn: the owner's DN; an archive adds "/guid=<guid>" */
	const char *mailbox_id; /* "<guid>@<domain>", the MailboxId of its URLs */
	const char *server_dn;  /* dn_prefix + "/cn=Configuration/cn=Servers/cn=<mailbox_id>" */
	const char *mdb_dn;     /* server_dn + "/cn=Microsoft Private MDB" */
	mh_srv_recipient owner;
} mh_srv_mailbox;

typedef struct mh_srv_folder {
	int64_t id;
	int64_t mailbox_id;
	uint64_t fid;        /* FID as a little-endian 64-bit value: ReplId, then GlobalCounter */
	uint64_t parent_fid; /* 0 for the root */
	int special;         /* an mh_srv_special_folder, or -1 */
	unsigned depth;      /* 0 for the root */
	const char *display_name;
	const char *container_class; /* "" when none */
	uint32_t content_count;
	uint32_t unread_count;
	uint32_t subfolder_count;
	uint64_t message_size; /* the sum of its messages' sizes */
} mh_srv_folder;

typedef struct mh_srv_prop {
	uint32_t tag;         /* tag & 0xFFFF is the type */
	const uint8_t *value; /* encoding: docs/internals/server-store.md */
	size_t len;
} mh_srv_prop;

typedef struct mh_srv_msg_recipient {
	int type; /* MH_SRV_MAPI_TO/CC/BCC */
	const char *display_name;
	const char *smtp;
} mh_srv_msg_recipient;

typedef struct mh_srv_attachment {
	uint32_t num;
	const char *filename;
	const char *content_type;
	const uint8_t *data;
	size_t len;
} mh_srv_attachment;

typedef struct mh_srv_message {
	int64_t id;
	uint64_t mid; /* same layout as a FID */
	uint64_t fid;
	const char *subject;
	const char *message_class;
	int64_t delivery_time; /* seconds since 1970-01-01 UTC */
	uint32_t size;         /* subject + body + attachment bytes */
	const char *sender_name;
	const char *sender_smtp;
	const char *body;
	int read;
	mh_srv_msg_recipient *recipients;
	size_t n_recipients;
	mh_srv_attachment *attachments;
	size_t n_attachments;
	mh_srv_prop *props; /* ordered by tag */
	size_t n_props;
} mh_srv_message;

/* Seconds since 1970 as a FILETIME (100 ns since 1601). */
uint64_t mh_srv_filetime(int64_t unix_seconds);

/*
 * Opens (creating when needed) a store. path NULL or ":memory:" keeps it in memory; a file
 * is put in WAL mode. MAPI_E_DISK_ERROR when SQLite cannot open or set it up;
 * MAPI_E_VERSION when the file holds a schema of another version.
 */
mh_status mh_srv_store_open(mh_srv_store **out, const char *path);

/* Closes the store; NULL is a no-op. */
void mh_srv_store_free(mh_srv_store *st);

/*
 * Loads a validated organisation in one transaction (all or nothing).
 * MAPI_E_COLLISION when the store already holds one; MAPI_E_DISK_ERROR on SQLite failures.
 */
mh_status mh_srv_store_load_org(mh_srv_store *st, const mh_srv_org *org);

/* mh_srv_org_parse() then mh_srv_store_load_org(); statuses of both. */
mh_status mh_srv_store_load_json(mh_srv_store *st, const char *json, size_t len);

/* mh_srv_org_parse_file() then mh_srv_store_load_org(); statuses of both. */
mh_status mh_srv_store_load_file(mh_srv_store *st, const char *path);

/* The built-in sample organisation (docs/internals/server-store.md lists its contents). */
mh_status mh_srv_store_load_sample(mh_srv_store *st);

/* mh_srv_org_generate() then mh_srv_store_load_org(); statuses of both. */
mh_status mh_srv_store_generate(mh_srv_store *st, unsigned users, unsigned messages_per_user,
                                uint64_t seed);

/* The organisation's names. MAPI_E_NOT_INITIALIZED when none is loaded. */
mh_status mh_srv_store_org_info(mh_srv_store *st, mh_arena *arena, mh_srv_org_info *out);

/*
 * Recipient lookups, case-insensitive. MAPI_E_NOT_FOUND when there is none;
 * MAPI_E_DISK_ERROR; MAPI_E_TOO_BIG / MAPI_E_NOT_ENOUGH_MEMORY from the arena.
 */
mh_status mh_srv_store_recipient_by_smtp(mh_srv_store *st, mh_arena *arena, const char *smtp,
                                         mh_srv_recipient *out);
mh_status mh_srv_store_recipient_by_dn(mh_srv_store *st, mh_arena *arena, const char *dn,
                                       mh_srv_recipient *out);
mh_status mh_srv_store_recipient_by_id(mh_srv_store *st, mh_arena *arena, int64_t id,
                                       mh_srv_recipient *out);

/*
 * Every recipient, in address-book order: display name (ASCII case ignored), then id. *out is
 * NULL when there are none. MAPI_E_NOT_INITIALIZED; MAPI_E_DISK_ERROR; arena statuses.
 */
mh_status mh_srv_store_recipients(mh_srv_store *st, mh_arena *arena, mh_srv_recipient **out,
                                  size_t *count);

/*
 * The mailbox an Autodiscover address names: a recipient's SMTP address gives its primary
 * mailbox; "ExchangeGuid+<guid>@<domain>" and "<guid>@<domain>" give the mailbox (primary or
 * archive) with that GUID. Case-insensitive; the domain must be the organisation's.
 * MAPI_E_NOT_FOUND; MAPI_E_DISK_ERROR; arena statuses.
 */
mh_status mh_srv_store_mailbox_by_address(mh_srv_store *st, mh_arena *arena, const char *address,
                                          mh_srv_mailbox *out);

/* The mailbox a RopLogon Essdn names (its legacy_dn, case-insensitive). As above. */
mh_status mh_srv_store_mailbox_by_dn(mh_srv_store *st, mh_arena *arena, const char *dn,
                                     mh_srv_mailbox *out);

/* The mailbox a URL's MailboxId "<guid>@<domain>" names. As above. */
mh_status mh_srv_store_mailbox_by_id(mh_srv_store *st, mh_arena *arena, const char *mailbox_id,
                                     mh_srv_mailbox *out);

/* A recipient's primary or archive mailbox. MAPI_E_NOT_FOUND when it has none. As above. */
mh_status mh_srv_store_mailbox_of(mh_srv_store *st, mh_arena *arena, int64_t recipient_id,
                                  mh_srv_mailbox_kind kind, mh_srv_mailbox *out);

/*
 * The primary mailboxes principal holds FullAccess with auto-mapping on (Autodiscover's
 * Delegate entries), ordered by SMTP address; *out is NULL when there are none.
 */
mh_status mh_srv_store_automapped(mh_srv_store *st, mh_arena *arena, int64_t principal,
                                  mh_srv_mailbox **out, size_t *count);

/*
 * *out = 1 when principal owns the mailbox or holds FullAccess on its owner (an archive
 * shares its owner's rights), else 0. MAPI_E_NOT_FOUND for an unknown mailbox id.
 */
mh_status mh_srv_store_has_full_access(mh_srv_store *st, int64_t principal, int64_t mailbox_id,
                                       int *out);

/*
 * principal's PidTagMemberRights on a folder (a folder id, not a FID): MH_SRV_RIGHTS_ALL_MASK
 * with full access, else the principal's own permission entry, else the folder's Default
 * entry, else 0. MAPI_E_NOT_FOUND for an unknown folder id.
 */
mh_status mh_srv_store_folder_rights(mh_srv_store *st, int64_t principal, int64_t folder_id,
                                     uint32_t *out);

/* The FIDs of the 13 special folders in RopLogon order. MAPI_E_NOT_FOUND. */
mh_status mh_srv_store_special_fids(mh_srv_store *st, int64_t mailbox_id,
                                    uint64_t fids[MH_SRV_SPECIAL_FOLDERS]);

/* Every folder of a mailbox, depth-first from the root (parents before children). */
mh_status mh_srv_store_folders(mh_srv_store *st, mh_arena *arena, int64_t mailbox_id,
                               mh_srv_folder **out, size_t *count);

/* One folder by FID. MAPI_E_NOT_FOUND. */
mh_status mh_srv_store_folder_by_fid(mh_srv_store *st, mh_arena *arena, int64_t mailbox_id,
                                     uint64_t fid, mh_srv_folder *out);

/*
 * The messages of a folder (a folder id), newest first, with recipients, attachments and
 * properties. *out is NULL when the folder is empty. MAPI_E_NOT_FOUND for an unknown folder.
 */
mh_status mh_srv_store_messages(mh_srv_store *st, mh_arena *arena, int64_t folder_id,
                                mh_srv_message **out, size_t *count);

/* One message by MID. MAPI_E_NOT_FOUND. */
mh_status mh_srv_store_message_by_mid(mh_srv_store *st, mh_arena *arena, int64_t mailbox_id,
                                      uint64_t mid, mh_srv_message *out);

/* One permission entry of a folder. */
typedef struct mh_srv_permission {
	int is_default;          /* the folder's Default entry (member is zeroed) */
	mh_srv_recipient member; /* the member, when not is_default */
	uint32_t rights;         /* PidTagMemberRights */
} mh_srv_permission;

/*
 * A folder's permission entries (a folder id): the Default entry first when there is one,
 * then the members by display name. *out is NULL when there are none. MAPI_E_NOT_FOUND for
 * an unknown folder; MAPI_E_DISK_ERROR; arena statuses.
 */
mh_status mh_srv_store_folder_permissions(mh_srv_store *st, mh_arena *arena, int64_t folder_id,
                                          mh_srv_permission **out, size_t *count);

/*
 * The MIDs of a folder's messages (a folder id), in mh_srv_store_messages order, without
 * loading the messages. *out is NULL when the folder is empty. As above.
 */
mh_status mh_srv_store_message_mids(mh_srv_store *st, mh_arena *arena, int64_t folder_id,
                                    uint64_t **out, size_t *count);

/*
 * A mailbox's message count and the sum of its messages' sizes in bytes. MAPI_E_NOT_FOUND;
 * MAPI_E_DISK_ERROR.
 */
mh_status mh_srv_store_mailbox_totals(mh_srv_store *st, int64_t mailbox_id, uint64_t *bytes,
                                      uint32_t *messages);

/*
 * Basic authentication: the recipient whose SMTP address is smtp (case-insensitive) and
 * whose password hash password matches. MAPI_E_LOGON_FAILED, with one message for every
 * cause (unknown address, no logon, wrong password), which names neither secret.
 */
mh_status mh_srv_store_verify_password(mh_srv_store *st, mh_arena *arena, const char *smtp,
                                       const char *password, mh_srv_recipient *out);

/*
 * Bearer authentication: the recipient holding token, unless the token has expired at now
 * (seconds since 1970-01-01 UTC; a token is refused from its expiry second on).
 * MAPI_E_LOGON_FAILED otherwise: "unknown bearer token", or "bearer token expired" with
 * *expired (may be NULL) set to 1; neither message contains the token. MAPI_E_DISK_ERROR.
 */
mh_status mh_srv_store_principal_by_token(mh_srv_store *st, mh_arena *arena, const char *token,
                                          int64_t now, int *expired, mh_srv_recipient *out);

#endif
