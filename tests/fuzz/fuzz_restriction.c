/*
 * Round-trip fuzz target for the restriction codec: whatever pulls must
 * push, pull again to an equal tree and push to the same bytes.
 * Byte 0 bit 0 picks the layout (0 ROP, 1 NSPI); the rest is the restriction.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/restriction.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps one input's decoded size bounded so the fuzzer stays fast. */
#define ARENA_CAP ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mh_pv_flavor fl;
	mh_arena a1, a2;
	mh_cursor c;
	mh_restriction *r1 = NULL, *r2 = NULL;
	mh_buf b1 = MH_BUF_INIT, b2 = MH_BUF_INIT;

	if (size < 1)
		return 0;
	fl = (data[0] & 1) ? MH_PV_NSPI : MH_PV_ROP;
	mh_arena_init(&a1, ARENA_CAP);
	mh_arena_init(&a2, ARENA_CAP);
	mh_cursor_init(&c, data + 1, size - 1, MAPI_E_CORRUPT_DATA);
	if (mh_restriction_pull(&c, &a1, fl, &r1) != S_OK) {
		if (r1 != NULL)
			abort();
		goto out;
	}
	if (c.pos > c.len)
		abort();
	mh_restriction_push(&b1, fl, r1);
	if (mh_buf_status(&b1) != S_OK)
		abort();
	/* The first encoding may differ from the input (any nonzero HasValue or
	   RestrictionPresent, absent NSPI MV elements); from then on it is fixed. */
	mh_cursor_init(&c, b1.data, b1.len, MAPI_E_CORRUPT_DATA);
	if (mh_restriction_pull(&c, &a2, fl, &r2) != S_OK || c.pos != b1.len)
		abort();
	if (!mh_restriction_equal(r1, r2))
		abort();
	mh_restriction_push(&b2, fl, r2);
	if (mh_buf_status(&b2) != S_OK || b2.len != b1.len || memcmp(b1.data, b2.data, b1.len) != 0)
		abort();
out:
	mh_buf_free(&b1);
	mh_buf_free(&b2);
	mh_arena_free(&a1);
	mh_arena_free(&a2);
	return 0;
}
