/*
 * ROP codec: ROP input/output buffers (RopSize, RopsList, server object
 * handle table) and the request and response of each ROP a mailbox browser
 * needs (wire.md §4.2-§4.6, §5), both ways. Sans-I/O: pull from an
 * mh_cursor into an mh_arena, push to an mh_buf.
 */
#ifndef MH_CODEC_ROP_H
#define MH_CODEC_ROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/propval.h"
#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/cursor.h"

/* RopId values ([MS-OXCROPS] 2.2.2). */
#define MH_ROP_RELEASE                 0x01u
#define MH_ROP_OPEN_FOLDER             0x02u
#define MH_ROP_OPEN_MESSAGE            0x03u
#define MH_ROP_GET_HIERARCHY_TABLE     0x04u
#define MH_ROP_GET_CONTENTS_TABLE      0x05u
#define MH_ROP_GET_PROPERTIES_SPECIFIC 0x07u
#define MH_ROP_GET_PROPERTIES_ALL      0x08u
#define MH_ROP_GET_PROPERTIES_LIST     0x09u
#define MH_ROP_READ_RECIPIENTS         0x0Fu
#define MH_ROP_SET_COLUMNS             0x12u
#define MH_ROP_SORT_TABLE              0x13u
#define MH_ROP_QUERY_ROWS              0x15u
#define MH_ROP_SEEK_ROW                0x18u
#define MH_ROP_GET_ATTACHMENT_TABLE    0x21u
#define MH_ROP_GET_RECEIVE_FOLDER      0x27u
#define MH_ROP_OPEN_STREAM             0x2Bu
#define MH_ROP_READ_STREAM             0x2Cu
#define MH_ROP_QUERY_COLUMNS_ALL       0x37u
#define MH_ROP_GET_PERMISSIONS_TABLE   0x3Eu
#define MH_ROP_GET_RULES_TABLE         0x3Fu
#define MH_ROP_LONG_TERM_ID_FROM_ID    0x43u
#define MH_ROP_ID_FROM_LONG_TERM_ID    0x44u
#define MH_ROP_PENDING                 0x6Eu /* response only */
#define MH_ROP_RESET_TABLE             0x81u
#define MH_ROP_BACKOFF                 0xF9u /* response only */
#define MH_ROP_LOGON                   0xFEu
#define MH_ROP_BUFFER_TOO_SMALL        0xFFu /* response only */

/* RopLogon LogonFlags. */
#define MH_LOGON_FLAG_PRIVATE    0x01u
#define MH_LOGON_FLAG_UNDERCOVER 0x02u
#define MH_LOGON_FLAG_GHOSTED    0x04u

/* RopReadStream ByteCount value that makes MaximumByteCount follow. */
#define MH_READ_STREAM_USE_MAX 0xBABEu

/* RopBufferTooSmall, RopBackoff and RopPending carry no ReturnValue. */
#define MH_ROP_HAS_GENERIC_HEADER(id) \
	((id) != MH_ROP_BUFFER_TOO_SMALL && (id) != MH_ROP_BACKOFF && (id) != MH_ROP_PENDING)

/* ---- requests ------------------------------------------------------------------------ */

typedef struct mh_rop_sort_order {
	uint32_t tag; /* PropertyType(2) then PropertyId(2) on the wire, i.e. the tag */
	uint8_t order;
} mh_rop_sort_order;

/*
 * One ROP request. in_handle_index is meaningful for every ROP but RopLogon;
 * out_handle_index only for the ROPs that create an object
 * (mh_rop_creates_object()): pull leaves it 0 for the others and push
 * ignores it there. A request [MS-OXCROPS] defines but this codec does not
 * decode (mh_rop_request_kind() == MH_ROP_KIND_SKIPPED) uses u.unsupported;
 * its in_handle_index is its InputHandleIndex (SourceHandleIndex of the
 * copy and move ROPs).
 */
typedef struct mh_rop_request {
	uint8_t rop_id;
	uint8_t logon_id;
	uint8_t in_handle_index;
	uint8_t out_handle_index;
	union {
		struct {
			uint8_t logon_flags;
			uint32_t open_flags;
			uint32_t store_state;
			char *essdn; /* ASCII; NULL when EssdnSize is 0 */
		} logon;
		struct {
			uint64_t folder_id;
			uint8_t open_mode_flags;
		} open_folder;
		struct {
			uint16_t code_page_id;
			uint64_t folder_id;
			uint8_t open_mode_flags;
			uint64_t message_id;
		} open_message;
		/* GetHierarchyTable, GetContentsTable, GetPermissionsTable, GetRulesTable,
		 * GetAttachmentTable */
		struct {
			uint8_t table_flags;
		} get_table;
		struct {
			uint16_t property_size_limit;
			uint16_t want_unicode;
			SPropTagArray *tags; /* COUNT(2) */
		} get_props_specific;
		struct {
			uint16_t property_size_limit;
			uint16_t want_unicode;
		} get_props_all;
		struct {
			uint32_t row_id;
			uint16_t reserved;
		} read_recipients;
		struct {
			uint8_t flags;
			SPropTagArray *tags;
		} set_columns;
		struct {
			uint8_t flags;
			uint16_t categorized_count;
			uint16_t expanded_count;
			uint16_t sort_order_count;
			mh_rop_sort_order *sort_orders;
		} sort_table;
		struct {
			uint8_t flags;
			uint8_t forward_read;
			uint16_t row_count;
		} query_rows;
		struct {
			uint8_t origin;
			int32_t row_count;
			uint8_t want_row_moved_count;
		} seek_row;
		struct {
			char *message_class; /* ASCII, "" for the default */
		} get_receive_folder;
		struct {
			uint32_t property_tag;
			uint8_t open_mode_flags;
		} open_stream;
		struct {
			uint16_t byte_count;
			uint32_t
			    maximum_byte_count; /* on the wire only when byte_count is 0xBABE */
		} read_stream;
		struct {
			uint64_t object_id;
		} long_term_id_from_id;
		struct {
			mh_long_term_id long_term_id;
		} id_from_long_term_id;
		/* A skipped request: what its failure response needs, and its bytes. */
		struct {
			uint8_t response_rop_id; /* RopId of its response (see mh_rop_skip_info) */
			uint8_t response_index;  /* the index byte its response echoes */
			uint8_t
			    response_extra; /* bytes after ReturnValue in its failure response */
			bool has_response;
			SBinary raw; /* the whole request, RopId included; push writes it back */
		} unsupported;
	} u;
} mh_rop_request;

/* ---- responses ----------------------------------------------------------------------- */

/* LogonTime of a private RopLogon response. */
typedef struct mh_rop_logon_time {
	uint8_t seconds, minutes, hour, day_of_week, day, month;
	uint16_t year;
} mh_rop_logon_time;

/* The 13 FolderIds of a RopLogon response, in wire order. */
enum {
	MH_LOGON_FID_ROOT = 0,
	MH_LOGON_FID_DEFERRED_ACTION,
	MH_LOGON_FID_SPOOLER_QUEUE,
	MH_LOGON_FID_IPM_SUBTREE,
	MH_LOGON_FID_INBOX,
	MH_LOGON_FID_OUTBOX,
	MH_LOGON_FID_SENT_ITEMS,
	MH_LOGON_FID_DELETED_ITEMS,
	MH_LOGON_FID_COMMON_VIEWS,
	MH_LOGON_FID_SCHEDULE,
	MH_LOGON_FID_SEARCH,
	MH_LOGON_FID_VIEWS,
	MH_LOGON_FID_SHORTCUTS,
	MH_LOGON_FID_COUNT
};

/* TypedString of RopOpenMessage: StringType then the string. */
#define MH_TYPED_STRING_NONE    0x00u
#define MH_TYPED_STRING_EMPTY   0x01u
#define MH_TYPED_STRING_8BIT    0x02u
#define MH_TYPED_STRING_REDUCED 0x03u /* "reduced Unicode", 8-bit on the wire */
#define MH_TYPED_STRING_UNICODE 0x04u /* UTF-16LE on the wire, UTF-8 in memory */

typedef struct mh_rop_typed_string {
	uint8_t type;
	char *value; /* NULL for types 0 and 1 */
} mh_rop_typed_string;

/*
 * A recipient row of RopOpenMessage (row_id unused) or RopReadRecipients.
 * The RecipientRow itself is kept as bytes: it needs the message's
 * RecipientColumns and the flags inside it to decode ([MS-OXCDATA] 2.8.3).
 */
typedef struct mh_rop_recipient_row {
	uint32_t row_id;
	uint8_t recipient_type;
	uint16_t code_page_id;
	uint16_t reserved;
	SBinary row; /* RecipientRowSize(2) + bytes */
} mh_rop_recipient_row;

typedef struct mh_rop_backoff_rop {
	uint8_t rop_id;
	uint32_t duration;
} mh_rop_backoff_rop;

/*
 * One ROP response. handle_index is the index byte the response echoes
 * (InputHandleIndex or OutputHandleIndex); return_value is ReturnValue.
 * When return_value is not 0 nothing of the union is on the wire except:
 * RopLogon ecWrongServer (u.logon redirect fields) and RopReadStream (its
 * data is always present). RopBufferTooSmall, RopBackoff and RopPending
 * have neither handle_index nor return_value on the wire (both 0 after pull).
 */
typedef struct mh_rop_response {
	uint8_t rop_id;
	uint8_t handle_index;
	mh_status return_value;
	union {
		struct mh_rop_logon_resp {
			/* Layout: true = private mailbox, false = public folders. Pull takes
			 * it from the matched request's LogonFlags, else from the echoed
			 * LogonFlags; push writes the layout it names. */
			bool is_private;
			uint8_t logon_flags;
			uint64_t folder_ids[MH_LOGON_FID_COUNT];
			uint8_t response_flags;       /* private */
			GUID mailbox_guid;            /* private */
			uint16_t repl_id;             /* both */
			GUID repl_guid;               /* both */
			mh_rop_logon_time logon_time; /* private */
			uint64_t gwart_time;          /* private; opaque */
			uint32_t store_state;         /* private */
			GUID per_user_guid;           /* public */
			char *server_name;            /* ecWrongServer: ASCII server DN */
		} logon;
		struct {
			uint8_t has_rules;
			uint8_t is_ghosted;
			uint16_t server_count;       /* when is_ghosted != 0 */
			uint16_t cheap_server_count; /* when is_ghosted != 0 */
			char **servers;              /* server_count ASCII strings */
		} open_folder;
		struct {
			uint8_t has_named_properties;
			mh_rop_typed_string subject_prefix;
			mh_rop_typed_string normalized_subject;
			uint16_t recipient_count;
			SPropTagArray *recipient_columns; /* ColumnCount(2) */
			uint8_t row_count;
			mh_rop_recipient_row *rows;
		} open_message;
		/* GetHierarchyTable, GetContentsTable */
		struct {
			uint32_t row_count;
		} get_table;
		/* GetPropertiesSpecific: one PropertyRow over the requested tags. Without them
		 * (no matched request), raw holds every remaining byte of the RopsList. */
		struct {
			const SPropTagArray *columns; /* NULL: undecoded, see raw */
			mh_prop_row row;
			SBinary raw;
		} get_props_specific;
		struct {
			uint16_t count;
			SPropValue *props;
		} get_props_all;
		/* GetPropertiesList, QueryColumnsAll */
		struct {
			SPropTagArray *tags;
		} prop_list;
		struct {
			uint8_t row_count;
			mh_rop_recipient_row *rows;
		} read_recipients;
		/* SetColumns, SortTable */
		struct {
			uint8_t table_status;
		} table_status;
		/* QueryRows: rows over the SetColumns columns; without them raw holds every
		 * remaining byte of the RopsList (see mh_rop_rows_decode). */
		struct {
			uint8_t origin;
			uint16_t row_count;
			const SPropTagArray *columns; /* NULL: undecoded, see raw */
			mh_prop_row *rows;
			SBinary raw;
		} query_rows;
		struct {
			uint8_t has_sought_less;
			int32_t rows_sought;
		} seek_row;
		struct {
			uint64_t folder_id;
			char *explicit_message_class;
		} get_receive_folder;
		struct {
			uint32_t stream_size;
		} open_stream;
		struct {
			SBinary data; /* DataSize(2) + bytes */
		} read_stream;
		struct {
			mh_long_term_id long_term_id;
		} long_term_id_from_id;
		struct {
			uint64_t object_id;
		} id_from_long_term_id;
		struct {
			uint16_t size_needed;
			SBinary request_buffers; /* the rest of the RopsList */
		} buffer_too_small;
		struct {
			uint8_t logon_id;
			uint32_t duration;
			uint8_t rop_count;
			mh_rop_backoff_rop *rops;
			SBinary additional_data; /* AdditionalDataSize(2) + bytes */
		} backoff;
		struct {
			uint16_t session_index;
		} pending;
	} u;
} mh_rop_response;

/* ---- buffers ------------------------------------------------------------------------- */

/* A ROP input or output buffer: RopSize(2) + RopsList + ServerObjectHandleTable. */
typedef struct mh_rop_request_buffer {
	uint32_t count;
	mh_rop_request *rops;
	uint32_t handle_count;
	uint32_t *handles;
} mh_rop_request_buffer;

typedef struct mh_rop_response_buffer {
	uint32_t count;
	mh_rop_response *rops;
	uint32_t handle_count;
	uint32_t *handles;
	/* True when a QueryRows or GetPropertiesSpecific response had no column
	 * context: its raw bytes run to the end of the RopsList, so any later
	 * responses are inside them and not in rops. */
	bool raw_tail;
} mh_rop_response_buffer;

/* Where a request buffer pull stopped (filled on every return). */
typedef struct mh_rop_pull_info {
	uint32_t index; /* RopsList index of the failing ROP (== ROPs decoded) */
	uint8_t rop_id; /* its RopId (0 if the failure was before any ROP) */
	size_t offset;  /* its offset from the start of RopSize, i.e. bytes consumed
	                   before it */
} mh_rop_pull_info;

/*
 * What a response needs from its request. Responses are matched to the
 * requests in order by RopId and echoed handle index (RopRelease has no
 * response and is skipped). A QueryRows response's columns come from a
 * successful SetColumns earlier in the same buffer on the same handle index,
 * else from columns(logon_id, handle, payload) where handle is the response
 * table's entry at the QueryRows input index (0xFFFFFFFF if absent); a NULL
 * result leaves the rows raw.
 */
typedef struct mh_rop_response_ctx {
	const mh_rop_request *requests; /* may be NULL */
	uint32_t request_count;
	const SPropTagArray *(*columns)(uint8_t logon_id, uint32_t handle, void *payload);
	void *payload;
} mh_rop_response_ctx;

/*
 * For pulling a single response: the request it answers (NULL if unknown)
 * and, for QueryRows, the table's columns (NULL if unknown).
 */
typedef struct mh_rop_response_hint {
	const mh_rop_request *request;
	const SPropTagArray *columns;
} mh_rop_response_hint;

/* "RopLogon", ... or NULL for an id this codec does not know. */
const char *mh_rop_name(uint8_t rop_id);

/* True when rop_id is a request this codec decodes. */
bool mh_rop_request_known(uint8_t rop_id);

/* What the codec can do with a request RopId. */
typedef enum mh_rop_kind {
	/* Not a request in [MS-OXCROPS] 2.2.2 (reserved, or response-only such as RopNotify,
	 * RopPending, RopBackoff, RopBufferTooSmall): its length cannot be known. */
	MH_ROP_KIND_UNDEFINED = 0,
	/* Decoded field by field into its own member of mh_rop_request.u. */
	MH_ROP_KIND_DECODED,
	/* Defined; its length is found from its own bytes, its fields are not decoded
	 * (mh_rop_request_skip, u.unsupported). */
	MH_ROP_KIND_SKIPPED,
	/* Defined, but its length depends on session state the codec does not have
	 * (RopSetMessageReadFlag, RopWritePerUserInformation: whether the logon is private). */
	MH_ROP_KIND_STATEFUL,
} mh_rop_kind;

mh_rop_kind mh_rop_request_kind(uint8_t rop_id);

/* A skipped request ([MS-OXCROPS] layout walked, nothing decoded). */
typedef struct mh_rop_skip_info {
	uint8_t rop_id;
	uint8_t logon_id;
	uint8_t in_handle_index;  /* InputHandleIndex; SourceHandleIndex of copy/move ROPs */
	uint8_t out_handle_index; /* OutputHandleIndex when creates_object, else 0 */
	bool creates_object;
	/* Its response: RopId (0x20 for RopGetMessageStatus, whose response is
	 * RopSetMessageStatus's), the index byte it echoes (OutputHandleIndex,
	 * ResponseHandleIndex of the SaveChanges ROPs, else InputHandleIndex), and
	 * the bytes that follow ReturnValue in a failure response (PartialCompletion,
	 * WrittenSize, ...; written as zeros). has_response is false only for a ROP
	 * without a response. */
	bool has_response;
	uint8_t response_rop_id;
	uint8_t response_index;
	uint8_t response_extra;
	size_t size; /* bytes of the request, RopId included */
} mh_rop_skip_info;

/*
 * Walks one MH_ROP_KIND_SKIPPED request at c (RopId first) and moves c past
 * it; out says what it was. Counted arrays, sized blobs, z-strings,
 * PropertyNames and TaggedPropertyValues (propval.h, ROP layout; PT_SRESTRICT
 * through restriction.h, PT_ACTIONS by its block sizes) are walked, not kept;
 * a restriction behind a size field is skipped by that size.
 * MAPI_E_NO_SUPPORT: the RopId is not MH_ROP_KIND_SKIPPED, or a property
 * value has a type propval.h cannot read (PT_OBJECT); nothing is consumed.
 * MAPI_E_CORRUPT_DATA (c->err): truncated or malformed (message names the ROP
 * and its offset). MAPI_E_TOO_BIG / MAPI_E_NOT_ENOUGH_MEMORY: values walked
 * into a (arena cap / heap).
 */
mh_status mh_rop_request_skip(mh_cursor *c, mh_arena *a, mh_rop_skip_info *out);

/*
 * True for the ROPs that create an object: their request carries an
 * OutputHandleIndex and their response echoes it (others echo
 * InputHandleIndex).
 */
bool mh_rop_creates_object(uint8_t rop_id);

/*
 * One ROP request at c into out (strings and arrays in a). A
 * MH_ROP_KIND_SKIPPED request is walked by mh_rop_request_skip() and kept in
 * u.unsupported (its bytes copied into a).
 * MAPI_E_NO_SUPPORT: RopId MH_ROP_KIND_UNDEFINED or MH_ROP_KIND_STATEFUL (or
 * a skipped request holding a value propval.h cannot read); nothing is consumed.
 * MAPI_E_CORRUPT_DATA (the cursor's error status): truncated or malformed
 * field. MAPI_E_TOO_BIG / MAPI_E_NOT_ENOUGH_MEMORY: arena cap / heap.
 */
mh_status mh_rop_request_pull(mh_cursor *c, mh_arena *a, mh_rop_request *out);

/* Writes r. A skipped request is written from u.unsupported.raw, which must start
 * with its rop_id and hold at least its header; otherwise, and for any other rop_id
 * the codec does not decode: MAPI_E_INVALID_PARAMETER on b. A string too long for
 * its size field: MAPI_E_TOO_BIG on b. */
void mh_rop_request_push(mh_buf *b, const mh_rop_request *r);

/*
 * One ROP response at c. hint may be NULL. Unknown RopId:
 * MAPI_E_CORRUPT_DATA (nothing consumed). MAPI_E_NO_SUPPORT: a property
 * value of a type propval.h does not decode. Other errors as
 * mh_rop_request_pull.
 */
mh_status mh_rop_response_pull(mh_cursor *c, mh_arena *a, const mh_rop_response_hint *hint,
                               mh_rop_response *out);

/* Writes r (unknown rop_id: MAPI_E_INVALID_PARAMETER on b). */
void mh_rop_response_push(mh_buf *b, const mh_rop_response *r);

/*
 * A ROP input buffer: c must span exactly the (decompressed) payload. The
 * handle table is everything after RopSize; its length must be a multiple
 * of 4. Requests the codec does not decode but [MS-OXCROPS] defines are
 * skipped (u.unsupported) and the pull goes on. On MAPI_E_NO_SUPPORT (a
 * RopId MH_ROP_KIND_UNDEFINED or MH_ROP_KIND_STATEFUL, whose length is
 * unknown) out holds the info->index ROPs before it and the whole handle
 * table, so a server can run those and answer that one; info says which id
 * at which offset. info may be NULL. Errors: MAPI_E_NO_SUPPORT, MAPI_E_CORRUPT_DATA (RopSize < 2 or
 * past the end, a handle table not a multiple of 4, a truncated ROP), MAPI_E_TOO_BIG,
 * MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_rop_request_buffer_pull(mh_cursor *c, mh_arena *a, mh_rop_request_buffer *out,
                                     mh_rop_pull_info *info);

/*
 * A ROP output buffer (c spans exactly the payload). ctx may be NULL (no
 * context: rows stay raw). An unknown RopId, like any malformed response,
 * is MAPI_E_CORRUPT_DATA; MAPI_E_NO_SUPPORT here only means a property
 * value of a type propval.h cannot decode (PT_SRESTRICT, PT_ACTIONS,
 * PT_OBJECT).
 * Other errors as mh_rop_request_buffer_pull.
 */
mh_status mh_rop_response_buffer_pull(mh_cursor *c, mh_arena *a, const mh_rop_response_ctx *ctx,
                                      mh_rop_response_buffer *out);

/* Write a whole buffer; a RopsList over 0xFFFD bytes fails MAPI_E_TOO_BIG on b. */
void mh_rop_request_buffer_push(mh_buf *b, const mh_rop_request_buffer *rb);
void mh_rop_response_buffer_push(mh_buf *b, const mh_rop_response_buffer *rb);

/*
 * Decodes row_count PropertyRows over cols from raw (e.g. a QueryRows
 * response's raw bytes once the columns are known); *consumed tells how many
 * bytes they took. Errors: MAPI_E_CORRUPT_DATA, MAPI_E_TOO_BIG,
 * MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_rop_rows_decode(mh_arena *a, const SBinary *raw, uint16_t row_count,
                             const SPropTagArray *cols, mh_prop_row **rows, size_t *consumed);

/* Deep equality, for tests and fuzzers. */
bool mh_rop_request_equal(const mh_rop_request *x, const mh_rop_request *y);
bool mh_rop_response_equal(const mh_rop_response *x, const mh_rop_response *y);

#endif
