/*
 * Fuzz target for the ROP output buffer decoder, without context (rows stay
 * raw) and with a fixed column set for every QueryRows; whatever parses must
 * encode again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/rop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	uint32_t cValues;
	uint32_t aulPropTag[5];
} cols = {5, {0x3001001Fu, 0x67480014u, 0x36020003u, 0x0FFF0102u, 0x0E060040u}};

static const SPropTagArray *columns(uint8_t logon_id, uint32_t handle, void *payload)
{
	(void)logon_id;
	(void)handle;
	(void)payload;
	return (const SPropTagArray *)(const void *)&cols;
}

static void one(const uint8_t *data, size_t size, const mh_rop_response_ctx *ctx)
{
	mh_arena a;
	mh_cursor c;
	mh_rop_response_buffer rs;
	mh_arena_init(&a, 1 << 20);
	mh_cursor_init(&c, data, size, MAPI_E_CORRUPT_DATA);
	mh_status st = mh_rop_response_buffer_pull(&c, &a, ctx, &rs);
	if (st == S_OK) {
		mh_buf b = MH_BUF_INIT;
		mh_rop_response_buffer_push(&b, &rs);
		if (mh_buf_status(&b) != S_OK)
			abort();
		mh_buf_free(&b);
	} else if (st != MAPI_E_CORRUPT_DATA && st != MAPI_E_TOO_BIG && st != MAPI_E_NO_SUPPORT) {
		abort();
	}
	mh_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mh_rop_response_ctx ctx = {NULL, 0, columns, NULL};
	one(data, size, NULL);
	one(data, size, &ctx);
	return 0;
}
