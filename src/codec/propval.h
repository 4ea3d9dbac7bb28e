/*
 * Property values, tagged/typed/flagged values, property rows, tag arrays,
 * problem arrays and folder/message ids on the wire, in both layouts
 * mapihttp meets: ROP buffers and MAPI/HTTP NSPI bodies (wire.md §5.8,
 * §6.1). Sans-I/O: pull from an mh_cursor into an mh_arena, push to an mh_buf.
 * PT_UNICODE values are UTF-8 in memory and UTF-16LE on the wire;
 * PT_STRING8 values are 8-bit bytes in both.
 */
#ifndef MH_CODEC_PROPVAL_H
#define MH_CODEC_PROPVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/cursor.h"

/* Longest string or binary value accepted from the wire, in bytes. */
#define MH_PV_MAX_VALUE_BYTES ((size_t)16 << 20)

typedef enum mh_pv_flavor {
	/* ROP buffers: PtypBinary COUNT(2), MV COUNT(4), MV binary elements COUNT(2), Boolean 1
	   byte, PtypServerId COUNT(2), PtypObject not encodable. */
	MH_PV_ROP = 0,
	/*
	 * NSPI over MAPI/HTTP (AddressBookPropertyValue): a HasValue byte before
	 * PtypString, PtypString8, PtypBinary, PtypGuid and every multi-valued
	 * type, and before each element of MV string/binary/guid; PtypBinary
	 * COUNT(4), MV COUNT(4); Boolean 1 byte; PtypServerId COUNT(2) without
	 * HasValue; PtypObject no bytes.
	 */
	MH_PV_NSPI = 1,
} mh_pv_flavor;

/*
 * One value of type `type` (no tag, no flag). With MH_PV_NSPI an absent
 * value (HasValue 0) sets *present false and leaves v zeroed; present may
 * be NULL for MH_PV_ROP. PT_UNSPECIFIED and PT_MV_INSTANCE bits are not
 * value types: MAPI_E_CORRUPT_DATA (pull) / MAPI_E_INVALID_TYPE (push).
 * Pull errors: MAPI_E_CORRUPT_DATA (truncated, count larger than the bytes
 * left, invalid UTF-16, unknown type), MAPI_E_NO_SUPPORT (PT_SRESTRICT,
 * PT_ACTIONS; PT_OBJECT with MH_PV_ROP, which has no ROP encoding),
 * MAPI_E_TOO_BIG (arena cap), MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_pv_value_pull(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, uint16_t type, union _PV *v,
                           bool *present);
/* Writes v; with MH_PV_NSPI a NULL string/array pointer with count 0 is written as absent.
 * PT_SRESTRICT, PT_ACTIONS and (MH_PV_ROP) PT_OBJECT: MAPI_E_NO_SUPPORT on b. */
void mh_pv_value_push(mh_buf *b, mh_pv_flavor fl, uint16_t type, const union _PV *v);

/* TypedPropertyValue: Type(2) + value; the result's tag is PROP_TAG(type, 0). */
mh_status mh_pv_typed_pull(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, SPropValue *out);
void mh_pv_typed_push(mh_buf *b, mh_pv_flavor fl, const SPropValue *pv);

/* TaggedPropertyValue: Tag(4) + value. */
mh_status mh_pv_tagged_pull(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, SPropValue *out);
void mh_pv_tagged_push(mh_buf *b, mh_pv_flavor fl, const SPropValue *pv);

/*
 * A counted list of TaggedPropertyValues: COUNT(count_width = 2 for ROP
 * GetPropertiesAll, 4 for NSPI PropertyValueList) then the values.
 */
mh_status mh_pv_list_pull(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, unsigned count_width,
                          uint32_t *count, SPropValue **props);
void mh_pv_list_push(mh_buf *b, mh_pv_flavor fl, unsigned count_width, uint32_t count,
                     const SPropValue *props);

/*
 * PropertyTagArray: COUNT(count_width: 2 in ROPs, 4 for NSPI
 * LargePropertyTagArray) then 4-byte tags; at most max_count tags.
 */
mh_status mh_pv_tags_pull(mh_cursor *c, mh_arena *a, unsigned count_width, uint32_t max_count,
                          SPropTagArray **tags);
void mh_pv_tags_push(mh_buf *b, unsigned count_width, const SPropTagArray *tags);

/* Flag byte of FlaggedPropertyValue and per-column status of a flagged row. */
#define MH_PV_FLAG_VALUE       0x00u
#define MH_PV_FLAG_UNAVAILABLE 0x01u
#define MH_PV_FLAG_ERROR       0x0Au

/*
 * A PropertyRow (rows of QueryRows, GetPropertiesSpecific, NSPI rows).
 * flag 0x00: StandardPropertyRow; 0x01: FlaggedPropertyRow.
 * lpProps[i] has the column's property id and the type actually sent
 * (the column's type, or the wire type for a PT_UNSPECIFIED column). In a
 * flagged row, colflags[i] is MH_PV_FLAG_*; an unavailable column is
 * PT_ERROR with MAPI_E_NOT_FOUND, an error column PT_ERROR with its code.
 * colflags is NULL for a standard row.
 */
typedef struct mh_prop_row {
	uint8_t flag;
	uint32_t cValues;
	SPropValue *lpProps;
	uint8_t *colflags;
} mh_prop_row;

mh_status mh_pv_row_pull(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, const SPropTagArray *cols,
                         mh_prop_row *row);
/*
 * Writes row against cols (row->cValues must equal cols->cValues). A
 * standard row is written when row->flag is 0; otherwise a flagged row,
 * with colflags if given, else flags derived from the values (a PT_ERROR
 * value in a non-PT_ERROR column gets MH_PV_FLAG_ERROR).
 */
void mh_pv_row_push(mh_buf *b, mh_pv_flavor fl, const SPropTagArray *cols, const mh_prop_row *row);

/* PropertyProblem: Index(2), PropertyTag(4), ErrorCode(4). */
typedef struct mh_prop_problem {
	uint16_t index;
	uint32_t tag;
	mh_status err;
} mh_prop_problem;

/* PropertyProblemArray: COUNT(2) then the problems. */
mh_status mh_pv_problems_pull(mh_cursor *c, mh_arena *a, uint16_t *count,
                              mh_prop_problem **problems);
void mh_pv_problems_push(mh_buf *b, uint16_t count, const mh_prop_problem *problems);

/*
 * Folder and message ids (FID/MID): 8 bytes on the wire, ReplicaId(2, LE)
 * then GlobalCounter(6, big-endian). In memory mapihttp keeps the uint64 as
 * read little-endian from those 8 bytes, the form MAPI's PR_FID values
 * have; these helpers take it apart and build it.
 */
uint16_t mh_id_replid(uint64_t id);
uint64_t mh_id_counter(uint64_t id); /* the 48-bit GlobalCounter as a number */
uint64_t mh_id_make(uint16_t replid, uint64_t counter);

/* LongTermId: DatabaseGuid(16), GlobalCounter(6, big-endian), Pad(2). */
typedef struct mh_long_term_id {
	GUID database_guid;
	uint64_t global_counter;
	uint16_t pad;
} mh_long_term_id;

mh_status mh_long_term_id_pull(mh_cursor *c, mh_long_term_id *out);
void mh_long_term_id_push(mh_buf *b, const mh_long_term_id *lt);

/* True when the two values of type `type` are equal (deep; strings by bytes). For tests. */
bool mh_pv_value_equal(uint16_t type, const union _PV *x, const union _PV *y);

#endif
