/*
 * Round-trip fuzz target for the ROP codec. The first byte chooses a
 * request (even) or a response (odd) buffer in the rest: pull, push, pull
 * again; both decodings must be equal ROP by ROP and the two encodings
 * byte for byte (a request's encoding must also be the input itself).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/rop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	uint32_t cValues;
	uint32_t aulPropTag[4];
} cols = {4, {0x0037001Fu, 0x0E080003u, 0x30080040u, 0x674A0014u}};

static const SPropTagArray *columns(uint8_t logon_id, uint32_t handle, void *payload)
{
	(void)logon_id;
	(void)handle;
	(void)payload;
	return (const SPropTagArray *)(const void *)&cols;
}

static void requests(const uint8_t *data, size_t size)
{
	mh_arena a;
	mh_cursor c;
	mh_rop_request_buffer x, y;
	mh_buf b = MH_BUF_INIT, b2 = MH_BUF_INIT;
	mh_arena_init(&a, 1 << 20);
	mh_cursor_init(&c, data, size, MAPI_E_CORRUPT_DATA);
	if (mh_rop_request_buffer_pull(&c, &a, &x, NULL) == S_OK) {
		mh_rop_request_buffer_push(&b, &x);
		if (mh_buf_status(&b) != S_OK || b.len != size || memcmp(b.data, data, size) != 0)
			abort();
		mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
		if (mh_rop_request_buffer_pull(&c, &a, &y, NULL) != S_OK || y.count != x.count ||
		    y.handle_count != x.handle_count)
			abort();
		for (uint32_t i = 0; i < x.count; i++)
			if (!mh_rop_request_equal(&x.rops[i], &y.rops[i]))
				abort();
		mh_rop_request_buffer_push(&b2, &y);
		if (b2.len != b.len || memcmp(b2.data, b.data, b.len) != 0)
			abort();
	}
	mh_buf_free(&b);
	mh_buf_free(&b2);
	mh_arena_free(&a);
}

static void responses(const uint8_t *data, size_t size)
{
	mh_arena a;
	mh_cursor c;
	mh_rop_response_buffer x, y;
	mh_buf b = MH_BUF_INIT, b2 = MH_BUF_INIT;
	mh_rop_response_ctx ctx = {NULL, 0, columns, NULL};
	mh_arena_init(&a, 1 << 20);
	mh_cursor_init(&c, data, size, MAPI_E_CORRUPT_DATA);
	if (mh_rop_response_buffer_pull(&c, &a, &ctx, &x) == S_OK) {
		mh_rop_response_buffer_push(&b, &x);
		/* Not always the input bytes: values are canonical (a Boolean 4 becomes 1). */
		if (mh_buf_status(&b) != S_OK)
			abort();
		mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
		if (mh_rop_response_buffer_pull(&c, &a, &ctx, &y) != S_OK || y.count != x.count ||
		    y.raw_tail != x.raw_tail)
			abort();
		for (uint32_t i = 0; i < x.count; i++)
			if (!mh_rop_response_equal(&x.rops[i], &y.rops[i]))
				abort();
		mh_rop_response_buffer_push(&b2, &y);
		if (b2.len != b.len || memcmp(b2.data, b.data, b.len) != 0)
			abort();
	}
	mh_buf_free(&b);
	mh_buf_free(&b2);
	mh_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		responses(data + 1, size - 1);
	else
		requests(data + 1, size - 1);
	return 0;
}
