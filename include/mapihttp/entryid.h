/*
 * EntryIDs: Exchange store EntryIDs (v1, v2, v3) made and read byte for byte
 * as Outlook does, IExchangeManageStore(Ex)'s CreateStoreEntryID and
 * CreateStoreEntryID2, and the folder, message, address-book, ephemeral,
 * one-off, contact and WAB EntryIDs a mailbox client meets.
 *
 * Over MAPI/HTTP only a version 3 store EntryID can be opened: it is the
 * only one that carries the mailbox's SMTP address, which the client needs
 * to Autodiscover the mailbox's own endpoint.
 */
#ifndef MAPIHTTP_ENTRYID_H
#define MAPIHTTP_ENTRYID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapihttp/common.h"
#include "mapihttp/mapidefs.h"

MH_BEGIN_DECLS

/* Provider UIDs, bytes in wire order. */
#define MH_MUID_STORE_WRAP                                                                      \
	{                                                                                       \
		{                                                                               \
			0x38, 0xA1, 0xBB, 0x10, 0x05, 0xE5, 0x10, 0x1A, 0xA1, 0xBB, 0x08, 0x00, \
			    0x2B, 0x2A, 0x56, 0xC2                                              \
		}                                                                               \
	}
#define MH_MUID_STORE_PRIVATE                                                                   \
	{                                                                                       \
		{                                                                               \
			0x1B, 0x55, 0xFA, 0x20, 0xAA, 0x66, 0x11, 0xCD, 0x9B, 0xC8, 0x00, 0xAA, \
			    0x00, 0x2F, 0xC4, 0x5A                                              \
		}                                                                               \
	}
#define MH_MUID_STORE_PUBLIC                                                                    \
	{                                                                                       \
		{                                                                               \
			0x1C, 0x83, 0x02, 0x10, 0xAA, 0x66, 0x11, 0xCD, 0x9B, 0xC8, 0x00, 0xAA, \
			    0x00, 0x2F, 0xC4, 0x5A                                              \
		}                                                                               \
	}
#define MH_MUID_EMSAB                                                                           \
	{                                                                                       \
		{                                                                               \
			0xDC, 0xA7, 0x40, 0xC8, 0xC0, 0x42, 0x10, 0x1A, 0xB4, 0xB9, 0x08, 0x00, \
			    0x2B, 0x2F, 0xE1, 0x82                                              \
		}                                                                               \
	}
#define MH_MUID_ONE_OFF                                                                         \
	{                                                                                       \
		{                                                                               \
			0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, \
			    0x01, 0x0F, 0x54, 0x02                                              \
		}                                                                               \
	}
#define MH_MUID_CONTAB                                                                          \
	{                                                                                       \
		{                                                                               \
			0xFE, 0x42, 0xAA, 0x0A, 0x18, 0xC7, 0x1A, 0x10, 0xE8, 0x85, 0x0B, 0x65, \
			    0x1C, 0x24, 0x00, 0x00                                              \
		}                                                                               \
	}
#define MH_MUID_WAB                                                                             \
	{                                                                                       \
		{                                                                               \
			0xC0, 0x91, 0xAD, 0xD3, 0x51, 0x9D, 0xCF, 0x11, 0xA4, 0xA9, 0x00, 0xAA, \
			    0x00, 0x47, 0xFA, 0xA4                                              \
		}                                                                               \
	}
/* pbLongTermNonPrivateGuid: ProviderUID of public-folder folder/message EntryIDs */
#define MH_MUID_LONG_TERM_NON_PRIVATE                                                           \
	{                                                                                       \
		{                                                                               \
			0x1A, 0x44, 0x73, 0x90, 0xAA, 0x66, 0x11, 0xCD, 0x9B, 0xC8, 0x00, 0xAA, \
			    0x00, 0x2F, 0xC4, 0x5A                                              \
		}                                                                               \
	}

/* Folder and message EntryID object types ([MS-OXCDATA] 2.2.4) */
#define eitLTPrivateFolder      0x0001u
#define eitLTPublicFolder       0x0003u
#define eitLTWackyFolder        0x0005u
#define eitLTPrivateMessage     0x0007u
#define eitLTPublicMessage      0x0009u
#define eitLTWackyMessage       0x000Bu
#define eitLTPublicFolderByName 0x000Cu

/* One-off EntryID flags, as the uint16 at offset 22 ([MS-OXCDATA] 2.2.5.1) */
#define MH_ONE_OFF_NO_RICH_INFO 0x0001u
#define MH_ONE_OFF_FORMAT_MASK  0x001Eu
#define MH_ONE_OFF_MAE_MASK     0x0060u
#define MH_ONE_OFF_DONT_LOOKUP  0x1000u
#define MH_ONE_OFF_UNICODE      0x8000u

/* Contact address EntryID types */
#define MH_CONTAB_CONTAINER 3u
#define MH_CONTAB_USER      4u
#define MH_CONTAB_DISTLIST  5u

typedef enum mh_entryid_kind {
	MH_ENTRYID_UNKNOWN = 0,
	MH_ENTRYID_STORE,     /**< wrapped Exchange store EntryID, v1/v2/v3 */
	MH_ENTRYID_FOLDER,    /**< 46-byte folder EntryID */
	MH_ENTRYID_MESSAGE,   /**< 70-byte message EntryID */
	MH_ENTRYID_AB,        /**< permanent address-book EntryID (muidEMSAB) */
	MH_ENTRYID_EPHEMERAL, /**< NSPI ephemeral EntryID, abFlags[0] 0x87 */
	MH_ENTRYID_ONE_OFF,   /**< one-off recipient (muidOOP) */
	MH_ENTRYID_CONTACT,   /**< contact address (muidContabDLL) */
	MH_ENTRYID_WAB,       /**< WAB-wrapped EntryID */
} mh_entryid_kind;

/**
 * A store EntryID ([MS-OXCDATA] 2.2.4.3 plus the v2/v3 trailers). Strings
 * are NUL-terminated. server, mailbox_dn and server_dn are 8-bit strings
 * as stored; server_fqdn and smtp_address are UTF-8 (UTF-16LE in the
 * EntryID). The ext_* fields report the trailer as read; the encoder
 * ignores them and writes the canonical Size and offsets.
 */
typedef struct mh_store_entryid {
	uint8_t abFlags[4];
	MAPIUID provider_uid;         /**< muidStoreWrap */
	uint8_t wrap_version;         /**< byte 20, 0 */
	uint8_t wrap_flag;            /**< byte 21, 0 (MAPIMDB_NORMAL) */
	char dll[16];                 /**< "EMSMDB.DLL" as stored */
	uint32_t wrapped_flags;       /**< 0 */
	MAPIUID wrapped_provider_uid; /**< MH_MUID_STORE_PRIVATE or _PUBLIC */
	bool is_public;               /**< wrapped_provider_uid is the public one */
	uint32_t wrapped_type;        /**< OPENSTORE_* flags */
	char *server;                 /**< ServerShortname (v3: the SMTP address) */
	char *mailbox_dn;             /**< MailboxDN, NULL when absent */
	unsigned version;             /**< 1, 2 or 3 */
	uint32_t ext_size;            /**< trailer Size field as read */
	uint32_t ext_version;         /**< trailer Version field (1 for v2, 2 for v3) */
	uint32_t ext_offset_dn;       /**< v2 OffsetDN as read, 0 = absent */
	uint32_t ext_offset_fqdn;     /**< v2 OffsetFQDN as read, 0 = absent */
	uint32_t ext_offset_smtp;     /**< v3 OffsetSmtpAddress as read */
	bool ext_size_matches;        /**< Size equals the bytes from magic to end */
	char *server_dn;              /**< v2 ServerDN, 8-bit; NULL when absent */
	char *server_fqdn;            /**< v2 ServerFQDN, UTF-8; NULL when absent */
	char *smtp_address;           /**< v3 SmtpAddress, UTF-8 */
	SBinary ext_tail;             /**< trailer bytes after its last string (Reserved) */
} mh_store_entryid;

/** Folder EntryID, 46 bytes ([MS-OXCDATA] 2.2.4.1). */
typedef struct mh_folder_entryid {
	uint8_t abFlags[4];
	MAPIUID provider_uid;    /**< mailbox GUID, or MH_MUID_LONG_TERM_NON_PRIVATE */
	uint16_t folder_type;    /**< eitLT* */
	GUID database_guid;      /**< the GUID the FID's ReplicaId maps to */
	uint64_t global_counter; /**< 48 bits, big-endian on the wire */
	uint16_t pad;
} mh_folder_entryid;

/** Message EntryID, 70 bytes ([MS-OXCDATA] 2.2.4.2). */
typedef struct mh_message_entryid {
	uint8_t abFlags[4];
	MAPIUID provider_uid;
	uint16_t message_type;
	GUID folder_database_guid;
	uint64_t folder_global_counter;
	uint16_t pad1;
	GUID message_database_guid;
	uint64_t message_global_counter;
	uint16_t pad2;
} mh_message_entryid;

/** Permanent address-book EntryID ([MS-OXCDATA] 2.2.5.2). */
typedef struct mh_ab_entryid {
	uint8_t abFlags[4];
	MAPIUID provider_uid;  /**< muidEMSAB */
	uint32_t version;      /**< 1 */
	uint32_t display_type; /**< DT_* */
	char *x500dn;          /**< 8-bit, as stored */
} mh_ab_entryid;

/** NSPI ephemeral EntryID ([MS-OXNSPI] 2.2.9.2); valid in one session only. */
typedef struct mh_ephemeral_entryid {
	uint8_t abFlags[4];    /**< 0x87 0 0 0 */
	MAPIUID provider_uid;  /**< the issuing server's GUID */
	uint32_t version;      /**< 1 */
	uint32_t display_type; /**< DT_* */
	uint32_t mid;          /**< Minimal Entry ID */
} mh_ephemeral_entryid;

/**
 * One-off EntryID ([MS-OXCDATA] 2.2.5.1). The strings are UTF-8 when
 * flags has MH_ONE_OFF_UNICODE, else 8-bit as stored.
 */
typedef struct mh_one_off_entryid {
	uint8_t abFlags[4];
	MAPIUID provider_uid; /**< muidOOP */
	uint16_t version;     /**< 0 */
	uint16_t flags;       /**< MH_ONE_OFF_* */
	char *display_name;
	char *address_type;
	char *email_address;
} mh_one_off_entryid;

struct mh_entryid;

/**
 * Contact address EntryID ([MS-OXCDATA] 2.2.5.3). For MH_CONTAB_CONTAINER
 * there is no index or count: a GUID (muid) then the inner EntryID.
 */
typedef struct mh_contact_entryid {
	uint8_t abFlags[4];
	MAPIUID provider_uid;     /**< muidContabDLL */
	uint32_t version;         /**< 3 */
	uint32_t type;            /**< MH_CONTAB_* */
	uint32_t index;           /**< 0..5 = Email1..3, Fax1..3 (user and distlist) */
	uint32_t entryid_count;   /**< byte length of the inner EntryID as stored */
	GUID muid;                /**< container only */
	SBinary inner_bytes;      /**< the inner EntryID's bytes */
	struct mh_entryid *inner; /**< the inner EntryID parsed, NULL if not recognised */
} mh_contact_entryid;

/** WAB-wrapped EntryID: one type byte, then an inner EntryID. */
typedef struct mh_wab_entryid {
	uint8_t abFlags[4];
	MAPIUID provider_uid; /**< WAB GUID */
	uint8_t type;
	SBinary inner_bytes;
	struct mh_entryid *inner; /**< NULL if not recognised */
} mh_wab_entryid;

/** Any EntryID mapihttp recognises. */
typedef struct mh_entryid {
	mh_entryid_kind kind;
	uint32_t cb;      /**< length of the EntryID that was parsed */
	SBinary trailing; /**< bytes after the structure (cb 0 if none) */
	union {
		mh_store_entryid store;
		mh_folder_entryid folder;
		mh_message_entryid message;
		mh_ab_entryid ab;
		mh_ephemeral_entryid ephemeral;
		mh_one_off_entryid one_off;
		mh_contact_entryid contact;
		mh_wab_entryid wab;
	} u;
} mh_entryid;

/** "store", "folder", "message", "ab", "ephemeral", "oneoff", "contab", "wab" or "unknown". */
MH_EXTERN const char *mh_entryid_kind_str(mh_entryid_kind kind);

/**
 * Decodes any EntryID listed in mh_entryid_kind. The result and all its
 * strings live in one MAPI buffer stored in *out: free it with
 * MAPIFreeBuffer. It does not point into eid.
 *
 * Store EntryIDs are read leniently, as real ones need: a Size or offset
 * that disagrees with the bytes present, missing Reserved bytes and one pad
 * byte before a trailer magic are accepted.
 *
 * @return S_OK; MAPI_E_INVALID_PARAMETER for NULL pointers;
 *         MAPI_E_INVALID_ENTRYID when the bytes are not a well-formed
 *         EntryID of a known kind (truncated, unknown ProviderUID, bad DLL
 *         name, string without NUL, ...); MAPI_E_CORRUPT_DATA for a string
 *         that is not valid UTF-16LE; MAPI_E_NOT_ENOUGH_MEMORY. The detail,
 *         with the byte offset, is in mh_error_last().
 */
MH_EXTERN mh_status mh_entryid_parse(mh_entryid **out, uint32_t cb, const void *eid);

/**
 * As mh_entryid_parse, but fails with MAPI_E_INVALID_ENTRYID unless the
 * EntryID is a store EntryID; *out then points to its mh_store_entryid
 * at the start of the MAPI buffer (free with MAPIFreeBuffer(*out)).
 */
MH_EXTERN mh_status mh_store_entryid_parse(mh_store_entryid **out, uint32_t cb, const void *eid);

/**
 * Encodes an EntryID into a new MAPI buffer *eid of *cb bytes (free with
 * MAPIFreeBuffer). Store EntryIDs are written as entryid->u.store.version
 * says, with canonical trailer Size and offsets and no padding; the
 * trailing bytes of a parsed EntryID are not written.
 *
 * @return S_OK; MAPI_E_INVALID_PARAMETER for NULL pointers, a missing
 *         string the kind requires, a string too long for its field, or
 *         invalid UTF-8 where UTF-16LE must be written; MAPI_E_NO_SUPPORT
 *         for MH_ENTRYID_UNKNOWN; MAPI_E_NOT_ENOUGH_MEMORY.
 */
MH_EXTERN mh_status mh_entryid_encode(uint32_t *cb, ENTRYID **eid, const mh_entryid *entryid);

/**
 * Tells whether two store EntryIDs name the same store, as
 * IMAPISession::CompareEntryIDs does for Exchange stores: the v1, v2 and
 * v3 forms of one store differ in bytes but compare equal. Same wrapped
 * provider and, for mailboxes, MailboxDNs equal ignoring ASCII case;
 * ServerShortname and the trailers are ignored.
 *
 * @return S_OK with *equal set; MAPI_E_INVALID_PARAMETER for NULL pointers;
 *         MAPI_E_INVALID_ENTRYID (or another mh_entryid_parse error) when
 *         either is not a store EntryID.
 */
MH_EXTERN mh_status mh_store_entryid_compare(bool *equal, uint32_t cb1, const void *eid1,
                                             uint32_t cb2, const void *eid2);

/**
 * IExchangeManageStore::CreateStoreEntryID: a version 1 store EntryID,
 * which MAPI/HTTP cannot open (it carries no SMTP address).
 *
 * @param store_dn   DN of the message store, ".../cn=Servers/cn=<server>/cn=Microsoft
 *                   Private MDB"; ServerShortname is the cn after cn=Servers.
 * @param mailbox_dn legacyExchangeDN of the mailbox; NULL or "" makes a
 *                   public-store EntryID (OPENSTORE_PUBLIC is added to flags).
 * @param flags      OPENSTORE_* flags, stored as WrappedType.
 * @param cb         receives the length.
 * @param eid        receives a MAPI buffer; free with MAPIFreeBuffer.
 * @return S_OK; MAPI_E_INVALID_PARAMETER for NULL out-pointers, a store DN
 *         without "cn=Servers/cn=<name>", or strings too long;
 *         MAPI_E_NOT_ENOUGH_MEMORY.
 */
MH_EXTERN mh_status mh_create_store_entryid(const char *store_dn, const char *mailbox_dn,
                                            uint32_t flags, uint32_t *cb, ENTRYID **eid);

/**
 * IExchangeManageStoreEx::CreateStoreEntryID2. Reads, by tag, from the
 * cValues properties:
 * - PR_PROFILE_MAILBOX (PT_STRING8): the mailbox DN; required unless flags
 *   has OPENSTORE_PUBLIC;
 * - PR_PROFILE_MDB_DN (PT_STRING8): the store DN; required without an SMTP
 *   address;
 * - PR_PROFILE_USER_SMTP_EMAIL_ADDRESS_W (PT_UNICODE, UTF-8) or _A
 *   (PT_STRING8): when present and non-empty the result is version 3, with
 *   the address in the trailer and in ServerShortname, as Outlook writes it;
 * - PR_FORCE_USE_ENTRYID_SERVER (PT_BOOLEAN): accepted; it changes how the
 *   store is opened, not the bytes;
 * - PR_PROFILE_SERVER_FQDN_W (PT_UNICODE): mapihttp's addition, the v2
 *   ServerFQDN; without it a v2 EntryID has an empty FQDN, as Outlook's.
 * Without an SMTP address the result is version 2 with the MDB DN as
 * ServerDN. ServerShortname is otherwise taken from the MDB DN as in
 * mh_create_store_entryid. Other properties are ignored.
 *
 * @return S_OK; MAPI_E_INVALID_PARAMETER for NULL pointers, a missing
 *         required property, a property of the wrong PT_ type or with an
 *         invalid string; MAPI_E_NOT_ENOUGH_MEMORY.
 */
MH_EXTERN mh_status mh_create_store_entryid2(uint32_t cValues, const SPropValue *props,
                                             uint32_t flags, uint32_t *cb, ENTRYID **eid);

/** Formats a GUID as "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" into buf (39 bytes). */
MH_EXTERN char *mh_guid_format(char buf[39], const GUID *guid);

MH_END_DECLS

#endif
