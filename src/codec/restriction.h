/*
 * MAPI restrictions ([MS-OXCDATA] 2.12) on the wire, in the ROP layout and
 * the MAPI/HTTP NSPI layout (GetMatches Filter). Sans-I/O: pull a tree
 * from an mh_cursor into an mh_arena, push a tree to an mh_buf.
 */
#ifndef MH_CODEC_RESTRICTION_H
#define MH_CODEC_RESTRICTION_H

#include <stdbool.h>
#include <stdint.h>

#include "codec/propval.h"
#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/cursor.h"

/* RestrictType values, with MAPI's names. */
#define RES_AND            0x00u
#define RES_OR             0x01u
#define RES_NOT            0x02u
#define RES_CONTENT        0x03u
#define RES_PROPERTY       0x04u
#define RES_COMPAREPROPS   0x05u
#define RES_BITMASK        0x06u
#define RES_SIZE           0x07u
#define RES_EXIST          0x08u
#define RES_SUBRESTRICTION 0x09u
#define RES_COMMENT        0x0Au
#define RES_COUNT          0x0Bu

/* RelOp of property, compare-properties and size restrictions. */
#define RELOP_LT           0x00u
#define RELOP_LE           0x01u
#define RELOP_GT           0x02u
#define RELOP_GE           0x03u
#define RELOP_EQ           0x04u
#define RELOP_NE           0x05u
#define RELOP_RE           0x06u
#define RELOP_MEMBER_OF_DL 0x64u

/* BitmapRelOp of a bitmask restriction. */
#define BMR_EQZ 0x00u
#define BMR_NEZ 0x01u

/* FuzzyLevelLow (low 16 bits) and FuzzyLevelHigh (high 16 bits) of a content restriction. */
#define FL_FULLSTRING     0x00000000u
#define FL_SUBSTRING      0x00000001u
#define FL_PREFIX         0x00000002u
#define FL_IGNORECASE     0x00010000u
#define FL_IGNORENONSPACE 0x00020000u
#define FL_LOOSE          0x00040000u

/*
 * Deepest tree either direction handles: one level per restriction, the
 * cursor's nesting limit. A tree that pushes always pulls again.
 */
#define MH_RESTRICTION_MAX_DEPTH MH_CURSOR_MAX_DEPTH

/*
 * One node. rt selects the member of u; a pulled tree lives in the arena
 * it was pulled into. Values (prop of content/property, comment props) are
 * TaggedPropertyValues carrying their own tag, which the wire keeps apart
 * from prop_tag.
 */
typedef struct mh_restriction mh_restriction;
struct mh_restriction {
	uint8_t rt; /* RES_* */
	union {
		struct { /* RES_AND, RES_OR */
			uint32_t count;
			mh_restriction *res;
		} and_or;
		struct { /* RES_NOT */
			mh_restriction *res;
		} not_;
		struct {                      /* RES_CONTENT */
			uint32_t fuzzy_level; /* FuzzyLevelLow | FuzzyLevelHigh << 16 */
			uint32_t prop_tag;
			SPropValue prop;
		} content;
		struct { /* RES_PROPERTY */
			uint8_t relop;
			uint32_t prop_tag;
			SPropValue prop;
		} property;
		struct { /* RES_COMPAREPROPS */
			uint8_t relop;
			uint32_t prop_tag1;
			uint32_t prop_tag2;
		} compare_props;
		struct {               /* RES_BITMASK */
			uint8_t relop; /* BMR_* */
			uint32_t prop_tag;
			uint32_t mask;
		} bitmask;
		struct { /* RES_SIZE */
			uint8_t relop;
			uint32_t prop_tag;
			uint32_t size;
		} size;
		struct { /* RES_EXIST */
			uint32_t prop_tag;
		} exist;
		struct {                    /* RES_SUBRESTRICTION */
			uint32_t subobject; /* PR_MESSAGE_RECIPIENTS or PR_MESSAGE_ATTACHMENTS */
			mh_restriction *res;
		} sub;
		struct { /* RES_COMMENT */
			uint8_t count;
			SPropValue *props;
			mh_restriction *res; /* NULL: RestrictionPresent 0 */
		} comment;
		struct { /* RES_COUNT */
			uint32_t count;
			mh_restriction *res;
		} count;
	} u;
};

/*
 * Reads one restriction (and its subtree) into *out, allocated in a.
 * fl picks the layout: MH_PV_ROP has 2-byte And/Or RestrictCount and ROP
 * property values; MH_PV_NSPI has 4-byte RestrictCount and NSPI
 * (AddressBookPropertyValue) values. Each level takes one step of the
 * cursor's nesting budget (mh_cursor_enter).
 * Errors: MAPI_E_CORRUPT_DATA (c->err, in fact) for a truncated buffer, an
 * unknown RestrictType, a RestrictCount or TaggedValuesCount larger than
 * the bytes left can hold, nesting past MH_CURSOR_MAX_DEPTH, or a bad
 * property value; MAPI_E_NO_SUPPORT for a value type propval does not
 * decode (PT_SRESTRICT, PT_ACTIONS, PT_OBJECT in ROP); MAPI_E_TOO_BIG
 * (arena cap); MAPI_E_NOT_ENOUGH_MEMORY. *out is NULL on failure.
 */
mh_status mh_restriction_pull(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, mh_restriction **out);

/*
 * Writes r in layout fl. Failures are recorded on b (sticky):
 * MAPI_E_INVALID_PARAMETER for a NULL node or child, an unknown rt, an
 * And/Or count above 0xFFFF in ROP layout, a comment with count > 0 but
 * no props, or a tree deeper than MH_RESTRICTION_MAX_DEPTH; errors of
 * mh_pv_tagged_push (MAPI_E_NO_SUPPORT, MAPI_E_INVALID_TYPE,
 * MAPI_E_INVALID_PARAMETER); MAPI_E_NOT_ENOUGH_MEMORY.
 */
void mh_restriction_push(mh_buf *b, mh_pv_flavor fl, const mh_restriction *r);

/* True when the two trees are equal (values compared deeply). NULL equals only NULL. */
bool mh_restriction_equal(const mh_restriction *x, const mh_restriction *y);

#endif
