/*
 * mapihttpd's organisation model: what an organisation file (JSON) describes, validated,
 * with passwords and tokens already hashed; also the sample and the synthetic organisation.
 */
#ifndef MH_SERVER_ORG_H
#define MH_SERVER_ORG_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"
#include "util/arena.h"

/* Limits every organisation file is checked against (docs/internals/server-store.md). */
#define MH_SRV_ORG_MAX_FILE        ((size_t)64 << 20) /* bytes of JSON */
#define MH_SRV_ORG_MAX_USERS       100000u
#define MH_SRV_ORG_MAX_ALIAS       64u  /* bytes */
#define MH_SRV_ORG_MAX_NAME        256u /* display names, folder names, file names */
#define MH_SRV_ORG_MAX_PASSWORD    256u /* bytes of a plaintext password */
#define MH_SRV_ORG_MAX_TOKEN       512u /* bytes of a bearer token */
#define MH_SRV_ORG_MIN_TOKEN       8u
#define MH_SRV_ORG_MAX_SUBJECT     1024u
#define MH_SRV_ORG_MAX_BODY        ((size_t)1 << 20)
#define MH_SRV_ORG_MAX_ATTACHMENT  ((size_t)4 << 20)
#define MH_SRV_ORG_MAX_FOLDER_PATH 8u /* levels below Top of Information Store */

/* The expiry of a token that has none (a plain string in the organisation file). */
#define MH_SRV_TOKEN_NEVER INT64_MAX

typedef enum mh_srv_recipient_kind {
	MH_SRV_RECIPIENT_USER = 1,  /* a person or service account; may log on */
	MH_SRV_RECIPIENT_SHARED = 2 /* a shared mailbox; no logon of its own */
} mh_srv_recipient_kind;

/* PidTagMemberRights bits (MS-OXCPERM) a folder permission may grant. */
#define MH_SRV_RIGHT_READ_ANY          0x0001u
#define MH_SRV_RIGHT_CREATE            0x0002u
#define MH_SRV_RIGHT_EDIT_OWNED        0x0008u
#define MH_SRV_RIGHT_DELETE_OWNED      0x0010u
#define MH_SRV_RIGHT_EDIT_ANY          0x0020u
#define MH_SRV_RIGHT_DELETE_ANY        0x0040u
#define MH_SRV_RIGHT_CREATE_SUBFOLDER  0x0080u
#define MH_SRV_RIGHT_FOLDER_OWNER      0x0100u
#define MH_SRV_RIGHT_FOLDER_CONTACT    0x0200u
#define MH_SRV_RIGHT_FOLDER_VISIBLE    0x0400u
#define MH_SRV_RIGHT_FREEBUSY_SIMPLE   0x0800u
#define MH_SRV_RIGHT_FREEBUSY_DETAILED 0x1000u
/* Every bit above: what an owner or a holder of FullAccess has on every folder. */
#define MH_SRV_RIGHTS_ALL_MASK 0x1FFBu

/* Recipient types of a message (PidTagRecipientType values). */
#define MH_SRV_MAPI_TO  1
#define MH_SRV_MAPI_CC  2
#define MH_SRV_MAPI_BCC 3

typedef struct mh_srv_org_prop {
	uint32_t tag;         /* property tag; tag & 0xFFFF is the type */
	const uint8_t *value; /* encoded as docs/internals/server-store.md says */
	size_t len;
} mh_srv_org_prop;

typedef struct mh_srv_org_rcpt {
	int type; /* MH_SRV_MAPI_TO/CC/BCC */
	const char *display_name;
	const char *smtp;
} mh_srv_org_rcpt;

typedef struct mh_srv_org_attachment {
	const char *filename;
	const char *content_type;
	const uint8_t *data;
	size_t len;
} mh_srv_org_attachment;

typedef struct mh_srv_org_message {
	const char *folder; /* path below Top of Information Store, e.g. "Inbox/Projects" */
	const char *subject;
	const char *message_class;
	const char *sender_name;
	const char *sender_smtp;
	const char *body;
	int64_t delivery_time; /* seconds since 1970-01-01 UTC */
	int read;
	mh_srv_org_rcpt *rcpts;
	size_t n_rcpts;
	mh_srv_org_attachment *attachments;
	size_t n_attachments;
	mh_srv_org_prop *props;
	size_t n_props;
} mh_srv_org_message;

typedef struct mh_srv_org_mailbox {
	GUID guid;
	GUID repl_guid;
	const char *display_name;
	const char **folders; /* extra folder paths, parents first */
	size_t n_folders;
	mh_srv_org_message *messages;
	size_t n_messages;
} mh_srv_org_mailbox;

typedef struct mh_srv_org_user {
	mh_srv_recipient_kind kind;
	const char *alias; /* local part; the SMTP address is alias@domain */
	const char *smtp;
	const char *display_name;
	const char *password_hash; /* crypt(3) string; NULL: no password logon */
	const char **token_hashes; /* mh_srv_token_hash() of each bearer token */
	/*
	 * When each token stops being accepted, in seconds since 1970-01-01 UTC (refused from
	 * that second on), or MH_SRV_TOKEN_NEVER. NULL: none of them expires.
	 */
	const int64_t *token_expires;
	size_t n_tokens;
	mh_srv_org_mailbox primary;
	int has_archive;
	mh_srv_org_mailbox archive;
} mh_srv_org_user;

typedef struct mh_srv_org_full_access {
	size_t principal; /* index into users */
	size_t mailbox;   /* index into users: their primary mailbox and archive */
	int automapping;
} mh_srv_org_full_access;

typedef struct mh_srv_org_folder_perm {
	size_t mailbox; /* index into users; a folder of the primary mailbox */
	const char *folder;
	int has_member;  /* 0: the Default entry (everyone without their own entry) */
	size_t member;   /* index into users */
	uint32_t rights; /* PidTagMemberRights bits */
} mh_srv_org_folder_perm;

/* A validated organisation. Everything lives in arena; free with mh_srv_org_free(). */
typedef struct mh_srv_org {
	mh_arena arena;
	const char *domain; /* lowercase */
	const char *name;   /* organisation name, the /o= of every DN */
	mh_srv_org_user *users;
	size_t n_users;
	mh_srv_org_full_access *full_access;
	size_t n_full_access;
	mh_srv_org_folder_perm *folder_perms;
	size_t n_folder_perms;
} mh_srv_org;

/*
 * Parses and validates an organisation file held in json[0..len). Plaintext passwords are
 * hashed with crypt(3) SHA-512 and a random salt; tokens with mh_srv_token_hash(). source
 * (e.g. the file name, may be NULL) prefixes error messages.
 * Returns S_OK and *out (free with mh_srv_org_free), or:
 *   MAPI_E_CORRUPT_DATA      not JSON (message has line and column);
 *   MAPI_E_INVALID_PARAMETER a schema violation; the message names the JSON path and the
 *                            fault, e.g. "users[2].password: missing";
 *   MAPI_E_TOO_BIG           input over MH_SRV_ORG_MAX_FILE;
 *   MAPI_E_CALL_FAILED       libcrypt refused to hash; MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_srv_org_parse(mh_srv_org **out, const char *json, size_t len, const char *source);

/* As mh_srv_org_parse for a file; MAPI_E_NOT_FOUND/MAPI_E_DISK_ERROR when it cannot be read. */
mh_status mh_srv_org_parse_file(mh_srv_org **out, const char *path);

/* The built-in sample organisation (server/sample/org.json, compiled in). */
mh_status mh_srv_org_sample(mh_srv_org **out);

/*
 * A synthetic organisation for benchmarks: users user00001.. (password "Pass-<alias>"),
 * each with an archive, messages_per_user messages in the primary mailbox (Inbox: the
 * larger half, Sent Items: the rest) and half as many (rounded up) in the archive's Inbox,
 * plus the service account svc (password "Svc-Pass-1", token "svc-token-0001") holding
 * FullAccess without auto-mapping on every user. The same arguments give the same
 * organisation, except for password salts. MAPI_E_INVALID_PARAMETER when users is 0 or over
 * MH_SRV_ORG_MAX_USERS or messages_per_user over 100000.
 */
mh_status mh_srv_org_generate(mh_srv_org **out, unsigned users, unsigned messages_per_user,
                              uint64_t seed);

/* Frees an organisation; NULL is a no-op. */
void mh_srv_org_free(mh_srv_org *org);

/*
 * The name-based GUID the organisation gives a mailbox when the file names none: the first
 * 16 bytes of SHA-256("mapihttpd-guid" 0 purpose 0 domain 0 alias) as an RFC 9562 version 8
 * UUID. purpose is "mailbox", "archive", "replica" or "archive-replica".
 */
void mh_srv_name_guid(GUID *out, const char *purpose, const char *domain, const char *alias);

/* 36 characters of lowercase 8-4-4-4-12 text and a NUL. */
void mh_srv_guid_text(char out[37], const GUID *g);

/* Parses exactly 36 characters of 8-4-4-4-12 hex (either case); MAPI_E_INVALID_PARAMETER. */
mh_status mh_srv_guid_parse(GUID *out, const char *s, size_t len);

/* SHA-256 of n bytes. */
void mh_srv_sha256(uint8_t out[32], const void *data, size_t n);

/* The stored form of a bearer token: 64 lowercase hex digits of its SHA-256, and a NUL. */
void mh_srv_token_hash(char out[65], const char *token, size_t len);

/*
 * Hashes a password with crypt(3) SHA-512 ("$6$") and a random salt; rounds 0 means
 * libcrypt's default. *out is allocated in arena. MAPI_E_CALL_FAILED when libcrypt fails.
 */
mh_status mh_srv_password_hash(mh_arena *arena, const char *password, unsigned rounds,
                               const char **out);

#endif
