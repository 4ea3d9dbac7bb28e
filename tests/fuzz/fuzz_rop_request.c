/*
 * Fuzz target for the ROP input buffer decoder: whatever parses must encode
 * back to the same bytes (the request encoding is canonical), and an
 * unknown ROP must be reported with its index and offset.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/rop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mh_arena a;
	mh_cursor c;
	mh_rop_request_buffer rb;
	mh_rop_pull_info info;
	mh_arena_init(&a, 1 << 20);
	mh_cursor_init(&c, data, size, MAPI_E_CORRUPT_DATA);
	mh_status st = mh_rop_request_buffer_pull(&c, &a, &rb, &info);
	if (st == S_OK) {
		mh_buf b = MH_BUF_INIT;
		mh_rop_request_buffer_push(&b, &rb);
		if (mh_buf_status(&b) != S_OK || b.len != size || memcmp(b.data, data, size) != 0)
			abort();
		mh_buf_free(&b);
	} else if (st == MAPI_E_NO_SUPPORT) {
		if (info.index != rb.count || info.offset < 2 || info.offset >= size ||
		    data[info.offset] != info.rop_id || mh_rop_request_known(info.rop_id))
			abort();
	} else if (st != MAPI_E_CORRUPT_DATA && st != MAPI_E_TOO_BIG) {
		abort();
	}
	mh_arena_free(&a);
	return 0;
}
