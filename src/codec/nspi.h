/*
 * NSPI (address book) request and response bodies of MAPI/HTTP (wire.md §6,
 * MS-OXCMAPIHTTP 2.2.5). Sans-I/O and two-way: pull from an mh_cursor into an
 * mh_arena, push to an mh_buf; the client and mapihttpd share it.
 */
#ifndef MH_CODEC_NSPI_H
#define MH_CODEC_NSPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/propval.h"
#include "codec/restriction.h"
#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/cursor.h"

/* Most MIds, names, tags or rows one array may hold (the spec's limit for tag arrays). */
#define MH_NSPI_MAX_COUNT 100000u

/* ResolveNames results (MS-OXNSPI 2.2.1.x): what each input name became. */
#define MH_NSPI_MID_UNRESOLVED 0u
#define MH_NSPI_MID_AMBIGUOUS  1u
#define MH_NSPI_MID_RESOLVED   2u
/* STAT.CurrentRec positions. */
#define MH_NSPI_MID_BEGINNING_OF_TABLE 0u
#define MH_NSPI_MID_CURRENT            1u
#define MH_NSPI_MID_END_OF_TABLE       2u

/* NSPI ErrorCode values that are not failures. */
#define MH_NSPI_SUCCESS         0x00000000u
#define MH_NSPI_UNBIND_SUCCESS  0x00000001u
#define MH_NSPI_UNBIND_FAILURE  0x00000002u
#define MH_NSPI_ERRORS_RETURNED 0x00040380u

/* Request flags. */
#define MH_NSPI_BIND_ANONYMOUS             0x00000020u /* Bind: fAnonymousLogin */
#define MH_NSPI_SKIP_OBJECTS               0x00000001u /* GetProps/QueryRows: fSkipObjects */
#define MH_NSPI_EPHID                      0x00000002u /* GetProps/QueryRows: fEphID */
#define MH_NSPI_ADDRESS_CREATION_TEMPLATES 0x00000002u /* GetSpecialTable */
#define MH_NSPI_UNICODE_STRINGS            0x00000004u /* GetSpecialTable */
#define MH_NSPI_STAT_DEFAULT_CODEPAGE      1252u
#define MH_NSPI_STAT_DEFAULT_LOCALE        0x0409u

/* The X-RequestType an NSPI body belongs to. */
typedef enum mh_nspi_kind {
	MH_NSPI_BIND = 0,
	MH_NSPI_UNBIND,
	MH_NSPI_COMPARE_MIDS,
	MH_NSPI_DN_TO_MID,
	MH_NSPI_GET_MATCHES,
	MH_NSPI_GET_PROP_LIST,
	MH_NSPI_GET_PROPS,
	MH_NSPI_GET_SPECIAL_TABLE,
	MH_NSPI_GET_TEMPLATE_INFO,
	MH_NSPI_MOD_PROPS,
	MH_NSPI_QUERY_COLUMNS,
	MH_NSPI_QUERY_ROWS,
	MH_NSPI_RESOLVE_NAMES,
	MH_NSPI_RESORT_RESTRICTION,
	MH_NSPI_SEEK_ENTRIES,
	MH_NSPI_UPDATE_STAT,
	MH_NSPI_GET_MAILBOX_URL,
	MH_NSPI_GET_ADDRESS_BOOK_URL,
	MH_NSPI_MOD_LINK_ATT, /* appended: kinds keep their numbers */
	MH_NSPI_KIND_COUNT
} mh_nspi_kind;

/*
 * The kind named by an X-RequestType value ("Bind", "ResolveNames", ...),
 * compared case-insensitively as servers do. MAPI_E_NO_SUPPORT for a name
 * this codec does not handle (PING, which has no body, and unknown names).
 */
mh_status mh_nspi_kind_from_name(const char *name, mh_nspi_kind *out);
/* The spec's spelling of the X-RequestType, or NULL for an invalid kind. */
const char *mh_nspi_kind_name(mh_nspi_kind kind);

/* STAT (36 bytes): a position in an address book container. */
typedef struct mh_nspi_stat {
	uint32_t sort_type;
	uint32_t container_id; /* 0: the global address list */
	uint32_t cur_rec;      /* MH_NSPI_MID_* position or a MId */
	int32_t delta;
	uint32_t num_pos;
	uint32_t total_recs;
	uint32_t codepage;
	uint32_t template_locale;
	uint32_t sort_locale;
} mh_nspi_stat;

/* A client's usual STAT: zeros, CodePage 1252, both locales 0x409. */
void mh_nspi_stat_default(mh_nspi_stat *s);
mh_status mh_nspi_stat_pull(mh_cursor *c, mh_nspi_stat *s);
void mh_nspi_stat_push(mh_buf *b, const mh_nspi_stat *s);

/* Count(4) + MinimalEntryIDs (4 each). */
typedef struct mh_nspi_mids {
	uint32_t count;
	uint32_t *mids;
} mh_nspi_mids;

/*
 * Count(4) + NUL-terminated strings: 8-bit (StringsArray, kept as sent) or
 * UTF-16LE (WStringsArray, UTF-8 in memory), per request field.
 */
typedef struct mh_nspi_strings {
	uint32_t count;
	char **values;
} mh_nspi_strings;

/* Columns (LargePropertyTagArray) + RowCount(4) + AddressBookPropertyRows. */
typedef struct mh_nspi_rowset {
	SPropTagArray *columns;
	uint32_t count;
	mh_prop_row *rows;
} mh_nspi_rowset;

/* AddressBookPropertyValueList: Count(4) + AddressBookTaggedPropertyValues. */
typedef struct mh_nspi_proplist {
	uint32_t count;
	SPropValue *props;
} mh_nspi_proplist;

/* AuxiliaryBufferSize(4) + AuxiliaryBuffer, kept opaque. */
typedef struct mh_nspi_aux {
	uint32_t cb;
	uint8_t *data;
} mh_nspi_aux;

/*
 * Request bodies. A has_* member mirrors the wire's Has* byte: the field
 * after it is meaningful (and on the wire) only when it is true.
 */
typedef struct mh_nspi_bind_req {
	uint32_t flags; /* MH_NSPI_BIND_ANONYMOUS or 0 */
	bool has_state;
	mh_nspi_stat state;
} mh_nspi_bind_req;

typedef struct mh_nspi_unbind_req {
	uint32_t reserved;
} mh_nspi_unbind_req;

typedef struct mh_nspi_compare_mids_req {
	uint32_t reserved;
	bool has_state;
	mh_nspi_stat state;
	uint32_t mid1;
	uint32_t mid2;
} mh_nspi_compare_mids_req;

typedef struct mh_nspi_dn_to_mid_req {
	uint32_t reserved;
	bool has_names;
	mh_nspi_strings names; /* 8-bit DNs */
} mh_nspi_dn_to_mid_req;

/*
 * GetMatches. With has_filter, filter is the Filter restriction in the
 * NSPI layout (codec/restriction.h: 4-byte And/Or counts, NSPI property
 * values); a property-name match (has_prop_name) may come with it or alone.
 */
typedef struct mh_nspi_get_matches_req {
	uint32_t reserved;
	bool has_state;
	mh_nspi_stat state;
	bool has_mids;
	mh_nspi_mids mids;
	uint32_t reserved2; /* InterfaceOptionFlags */
	bool has_filter;
	mh_restriction *filter; /* non-NULL when has_filter */
	bool has_prop_name;
	GUID prop_guid;
	uint32_t prop_id;
	uint32_t row_count;
	bool has_columns;
	SPropTagArray *columns;
} mh_nspi_get_matches_req;

typedef struct mh_nspi_get_prop_list_req {
	uint32_t flags;
	uint32_t mid;
	uint32_t codepage;
} mh_nspi_get_prop_list_req;

typedef struct mh_nspi_get_props_req {
	uint32_t flags; /* MH_NSPI_SKIP_OBJECTS, MH_NSPI_EPHID */
	bool has_state;
	mh_nspi_stat state; /* state.cur_rec: the object */
	bool has_tags;
	SPropTagArray *tags;
} mh_nspi_get_props_req;

typedef struct mh_nspi_get_special_table_req {
	uint32_t flags; /* MH_NSPI_UNICODE_STRINGS, MH_NSPI_ADDRESS_CREATION_TEMPLATES */
	bool has_state;
	mh_nspi_stat state;
	bool has_version;
	uint32_t version;
} mh_nspi_get_special_table_req;

typedef struct mh_nspi_get_template_info_req {
	uint32_t flags;
	uint32_t display_type;
	bool has_template_dn;
	char *template_dn; /* 8-bit */
	uint32_t codepage;
	uint32_t locale_id;
} mh_nspi_get_template_info_req;

typedef struct mh_nspi_mod_props_req {
	uint32_t reserved;
	bool has_state;
	mh_nspi_stat state;
	bool has_tags_to_remove;
	SPropTagArray *tags_to_remove;
	bool has_values;
	mh_nspi_proplist values;
} mh_nspi_mod_props_req;

/*
 * ModLinkAtt (MS-OXCMAPIHTTP 2.2.5.10.1): add or remove (flags bit 0x1
 * fDelete) the EntryIDs of a link property of the row MinimalId. Each
 * EntryID goes on the wire as a Binary_r: Count(4) + bytes.
 */
#define MH_NSPI_MOD_LINK_ATT_DELETE 0x00000001u
#define MH_NSPI_MAX_ENTRYID_BYTES   65536u
typedef struct mh_nspi_mod_link_att_req {
	uint32_t flags;
	uint32_t prop_tag;
	uint32_t mid;
	bool has_entry_ids;
	uint32_t count;
	SBinary *entry_ids;
} mh_nspi_mod_link_att_req;

typedef struct mh_nspi_query_columns_req {
	uint32_t reserved;
	uint32_t flags; /* MapiFlags */
} mh_nspi_query_columns_req;

typedef struct mh_nspi_query_rows_req {
	uint32_t flags;
	bool has_state;
	mh_nspi_stat state;
	mh_nspi_mids explicit_table; /* always on the wire; count 0: read from state */
	uint32_t row_count;
	bool has_columns;
	SPropTagArray *columns;
} mh_nspi_query_rows_req;

typedef struct mh_nspi_resolve_names_req {
	uint32_t reserved;
	bool has_state;
	mh_nspi_stat state;
	bool has_tags;
	SPropTagArray *tags;
	bool has_names;
	mh_nspi_strings names; /* UTF-8; UTF-16LE on the wire */
} mh_nspi_resolve_names_req;

typedef struct mh_nspi_resort_restriction_req {
	uint32_t reserved;
	bool has_state;
	mh_nspi_stat state;
	bool has_mids;
	mh_nspi_mids mids;
} mh_nspi_resort_restriction_req;

typedef struct mh_nspi_seek_entries_req {
	uint32_t reserved;
	bool has_state;
	mh_nspi_stat state;
	bool has_target;
	SPropValue target; /* AddressBookTaggedPropertyValue */
	bool has_explicit_table;
	mh_nspi_mids explicit_table;
	bool has_columns;
	SPropTagArray *columns;
} mh_nspi_seek_entries_req;

typedef struct mh_nspi_update_stat_req {
	uint32_t reserved;
	bool has_state;
	mh_nspi_stat state;
	uint8_t delta_requested;
} mh_nspi_update_stat_req;

/* GetMailboxUrl (server_dn) and GetAddressBookUrl (user DN): Flags + a UTF-16 DN. */
typedef struct mh_nspi_get_url_req {
	uint32_t flags;
	char *dn; /* UTF-8; UTF-16LE on the wire */
} mh_nspi_get_url_req;

typedef struct mh_nspi_request {
	mh_nspi_kind kind;
	union {
		mh_nspi_bind_req bind;
		mh_nspi_unbind_req unbind;
		mh_nspi_compare_mids_req compare_mids;
		mh_nspi_dn_to_mid_req dn_to_mid;
		mh_nspi_get_matches_req get_matches;
		mh_nspi_get_prop_list_req get_prop_list;
		mh_nspi_get_props_req get_props;
		mh_nspi_get_special_table_req get_special_table;
		mh_nspi_get_template_info_req get_template_info;
		mh_nspi_mod_props_req mod_props;
		mh_nspi_mod_link_att_req mod_link_att;
		mh_nspi_query_columns_req query_columns;
		mh_nspi_query_rows_req query_rows;
		mh_nspi_resolve_names_req resolve_names;
		mh_nspi_resort_restriction_req resort_restriction;
		mh_nspi_seek_entries_req seek_entries;
		mh_nspi_update_stat_req update_stat;
		mh_nspi_get_url_req get_url; /* GetMailboxUrl and GetAddressBookUrl */
	} u;
	mh_nspi_aux aux;
} mh_nspi_request;

/* Response bodies: the part after StatusCode and ErrorCode. */
typedef struct mh_nspi_bind_resp {
	GUID server_guid; /* MIds are meaningful only with this server */
} mh_nspi_bind_resp;

typedef struct mh_nspi_compare_mids_resp {
	int32_t result; /* <0, 0, >0: MId1 before, at, after MId2 */
	/* Result came before ErrorCode on the wire (gromox; see MH_NSPI_PULL_CMP_*). */
	bool gromox_order;
} mh_nspi_compare_mids_resp;

typedef struct mh_nspi_dn_to_mid_resp {
	bool has_mids;
	mh_nspi_mids mids; /* one per DN; 0 for an unknown DN */
} mh_nspi_dn_to_mid_resp;

typedef struct mh_nspi_get_matches_resp {
	bool has_state;
	mh_nspi_stat state;
	bool has_mids;
	mh_nspi_mids mids;
	bool has_rows;
	mh_nspi_rowset rows;
} mh_nspi_get_matches_resp;

typedef struct mh_nspi_get_prop_list_resp {
	bool has_tags;
	SPropTagArray *tags;
} mh_nspi_get_prop_list_resp;

typedef struct mh_nspi_get_props_resp {
	uint32_t codepage;
	bool has_values;
	mh_nspi_proplist values; /* tagged; missing ones as PT_ERROR */
} mh_nspi_get_props_resp;

typedef struct mh_nspi_get_special_table_resp {
	uint32_t codepage;
	bool has_version;
	uint32_t version;
	bool has_rows;
	uint32_t count;
	mh_nspi_proplist *rows; /* each row a tagged list */
} mh_nspi_get_special_table_resp;

typedef struct mh_nspi_get_template_info_resp {
	uint32_t codepage;
	bool has_row;
	mh_nspi_proplist row;
} mh_nspi_get_template_info_resp;

typedef struct mh_nspi_query_columns_resp {
	bool has_columns;
	SPropTagArray *columns;
} mh_nspi_query_columns_resp;

/* QueryRows and SeekEntries. */
typedef struct mh_nspi_query_rows_resp {
	bool has_state;
	mh_nspi_stat state;
	bool has_rows;
	mh_nspi_rowset rows;
} mh_nspi_query_rows_resp;

typedef struct mh_nspi_resolve_names_resp {
	uint32_t codepage; /* gromox sends 1200; strings are decoded by property type */
	bool has_mids;
	mh_nspi_mids mids; /* one MH_NSPI_MID_* per name */
	bool has_rows;
	mh_nspi_rowset rows; /* one row per resolved name, in order */
} mh_nspi_resolve_names_resp;

typedef struct mh_nspi_resort_restriction_resp {
	bool has_state;
	mh_nspi_stat state;
	bool has_mids;
	mh_nspi_mids mids;
} mh_nspi_resort_restriction_resp;

typedef struct mh_nspi_update_stat_resp {
	bool has_state;
	mh_nspi_stat state;
	bool has_delta;
	int32_t delta;
} mh_nspi_update_stat_resp;

typedef struct mh_nspi_get_url_resp {
	char *server_url; /* UTF-8; UTF-16LE on the wire */
} mh_nspi_get_url_resp;

/*
 * A response. status_code is the transport-level StatusCode: when it is
 * nonzero the body is the failure layout (StatusCode, AuxBuf) and
 * error_code and u are unused (zero after a pull). Otherwise error_code is
 * the NSPI result and u the kind's fields.
 */
typedef struct mh_nspi_response {
	mh_nspi_kind kind;
	uint32_t status_code;
	uint32_t error_code;
	union {
		mh_nspi_bind_resp bind;
		mh_nspi_compare_mids_resp compare_mids;
		mh_nspi_dn_to_mid_resp dn_to_mid;
		mh_nspi_get_matches_resp get_matches;
		mh_nspi_get_prop_list_resp get_prop_list;
		mh_nspi_get_props_resp get_props;
		mh_nspi_get_special_table_resp get_special_table;
		mh_nspi_get_template_info_resp get_template_info;
		mh_nspi_query_columns_resp query_columns;
		mh_nspi_query_rows_resp query_rows; /* QueryRows and SeekEntries */
		mh_nspi_resolve_names_resp resolve_names;
		mh_nspi_resort_restriction_resp resort_restriction;
		mh_nspi_update_stat_resp update_stat;
		mh_nspi_get_url_resp get_url; /* GetMailboxUrl and GetAddressBookUrl */
	} u;
	mh_nspi_aux aux;
} mh_nspi_response;

/*
 * CompareMIds response order (pull flags). The spec writes StatusCode,
 * ErrorCode, Result; gromox writes StatusCode, Result, ErrorCode.
 * 0 (MH_NSPI_PULL_CMP_SPEC): spec order.
 * MH_NSPI_PULL_CMP_GROMOX: gromox order.
 * MH_NSPI_PULL_CMP_AUTO: gromox order only when the spec reading is
 * impossible: the word in the ErrorCode position is neither 0 nor a known
 * NSPI failure code while the other word is, or it is 0 and the other word
 * is a known failure code (a Result that far from 0 would need a table of
 * 2^31 rows). Otherwise spec order. See docs/internals/nspi.md.
 */
#define MH_NSPI_PULL_CMP_SPEC   0x0u
#define MH_NSPI_PULL_CMP_GROMOX 0x1u
#define MH_NSPI_PULL_CMP_AUTO   0x2u

/*
 * Decodes a whole request body of `kind` (every byte must be used) into
 * *out; strings, arrays and the auxiliary buffer live in `a`.
 * Errors: c->err (normally MAPI_E_CORRUPT_DATA) for truncated input, a count
 * above MH_NSPI_MAX_COUNT or above what the bytes left can hold, invalid
 * UTF-16, a bad property value, an EntryID over MH_NSPI_MAX_ENTRYID_BYTES,
 * bytes after the auxiliary buffer, or a malformed GetMatches Filter (see
 * mh_restriction_pull: unknown type, hostile count, nesting too deep);
 * MAPI_E_NO_SUPPORT for an invalid kind and for a property value type the
 * codec does not decode (PT_SRESTRICT, PT_ACTIONS), in a Filter too;
 * MAPI_E_TOO_BIG when the arena cap is reached; MAPI_E_NOT_ENOUGH_MEMORY.
 * The message (mh_error_last) names the field and its byte offset.
 */
mh_status mh_nspi_request_pull(mh_cursor *c, mh_arena *a, mh_nspi_kind kind, mh_nspi_request *out);

/*
 * Encodes req (req->kind chooses the layout). Has* bytes are written 0x01 in
 * requests, as Microsoft's clients do. Returns mh_buf_status(b) afterwards:
 * MAPI_E_INVALID_PARAMETER for a count with a NULL array, a count above
 * MH_NSPI_MAX_COUNT, invalid UTF-8, an invalid kind, or has_filter with a
 * NULL or unencodable filter (see mh_restriction_push);
 * MAPI_E_NOT_ENOUGH_MEMORY; errors from propval's push.
 */
mh_status mh_nspi_request_push(mh_buf *b, const mh_nspi_request *req);

/*
 * Decodes a whole response body of `kind`. flags: MH_NSPI_PULL_CMP_*.
 * A nonzero StatusCode is read leniently: the AuxBuf is taken only when its
 * size matches the bytes left, else the rest is skipped (S_OK; gromox
 * repeats StatusCode there). Errors as mh_nspi_request_pull.
 */
mh_status mh_nspi_response_pull(mh_cursor *c, mh_arena *a, mh_nspi_kind kind, unsigned flags,
                                mh_nspi_response *out);

/*
 * Encodes resp: the failure layout when status_code is nonzero. Has* bytes
 * are written 0xFF, as servers do. CompareMIds follows
 * u.compare_mids.gromox_order. Errors as mh_nspi_request_push.
 */
mh_status mh_nspi_response_push(mh_buf *b, const mh_nspi_response *resp);

#endif
