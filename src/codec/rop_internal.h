/*
 * Helpers shared by the ROP codec's files (rop.c, rop_request.c,
 * rop_response.c, rop_equal.c); not part of the codec's interface.
 */
#ifndef MH_CODEC_ROP_INTERNAL_H
#define MH_CODEC_ROP_INTERNAL_H

#include "codec/rop.h"

/* Every decoder stops at the first failure: st is an mh_status lvalue. */
#define ROP_TRY(expr)                           \
	do {                                    \
		mh_status rop_try_st_ = (expr); \
		if (rop_try_st_ != S_OK)        \
			return rop_try_st_;     \
	} while (0)

/* [MS-OXCROPS] name of a request RopId the codec walks or cannot walk (rop_request.c);
 * NULL for decoded and undefined ids. */
const char *mh_rop_other_name(uint8_t rop_id);

/* True when such a request carries an OutputHandleIndex. */
bool mh_rop_other_creates_object(uint8_t rop_id);

/* A NUL-terminated 8-bit string copied into a (no size field). */
mh_status mh_rop_str8_pull(mh_cursor *c, mh_arena *a, char **out, const char *field);

/*
 * An 8-bit string of exactly size bytes including its NUL (size 0: NULL).
 * A missing final NUL or an embedded one is MAPI_E_CORRUPT_DATA.
 */
mh_status mh_rop_sized_str8_pull(mh_cursor *c, mh_arena *a, size_t size, char **out,
                                 const char *field);

/* An 8-bit z-string behind a size field of width bytes (1 or 2) that counts the NUL;
 * NULL writes size 0. Too long: MAPI_E_TOO_BIG on b. */
void mh_rop_sized_str8_push(mh_buf *b, const char *s, unsigned width);

/* COUNT(2) + bytes, copied into a. */
mh_status mh_rop_bin16_pull(mh_cursor *c, mh_arena *a, SBinary *out, const char *field);
void mh_rop_bin16_push(mh_buf *b, const SBinary *bin);

/* PropertyTagArray with COUNT(2); NULL writes 0 tags; over 0xFFFF: MAPI_E_TOO_BIG on b. */
void mh_rop_tags_push(mh_buf *b, const SPropTagArray *tags);

/* Copies cols into a (columns must not point into caller memory). */
mh_status mh_rop_tags_dup(mh_arena *a, const SPropTagArray *cols, const SPropTagArray **out);

#endif
