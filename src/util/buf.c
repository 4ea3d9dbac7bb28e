/*
 * Growable little-endian writer with a sticky error.
 */
#include <stdlib.h>
#include <string.h>

#include "util/alloc_internal.h"
#include "util/buf.h"
#include "util/diag.h"
#include "util/utf.h"

void mh_buf_free(mh_buf *b)
{
	mh_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->err = S_OK;
}

mh_status mh_buf_fail(mh_buf *b, mh_status st)
{
	if (b->err == S_OK)
		b->err = st;
	return b->err;
}

mh_status mh_buf_reserve(mh_buf *b, size_t n)
{
	if (b->err != S_OK)
		return b->err;
	if (n <= b->cap - b->len)
		return S_OK;
	if (n > SIZE_MAX / 2 - b->len)
		return mh_buf_fail(b, mh_error_oom());
	size_t cap = b->cap ? b->cap : 64;
	while (cap - b->len < n)
		cap *= 2;
	uint8_t *p = mh_realloc(b->data, cap);
	if (p == NULL)
		return mh_buf_fail(b, mh_error_oom());
	b->data = p;
	b->cap = cap;
	return S_OK;
}

void mh_buf_put(mh_buf *b, const void *p, size_t n)
{
	if (n == 0 || mh_buf_reserve(b, n) != S_OK)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void mh_buf_u8(mh_buf *b, uint8_t v)
{
	mh_buf_put(b, &v, 1);
}

void mh_buf_u16(mh_buf *b, uint16_t v)
{
	uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	mh_buf_put(b, p, 2);
}

void mh_buf_u32(mh_buf *b, uint32_t v)
{
	uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	mh_buf_put(b, p, 4);
}

void mh_buf_u64(mh_buf *b, uint64_t v)
{
	uint8_t p[8];
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	mh_buf_put(b, p, 8);
}

void mh_buf_u48be(mh_buf *b, uint64_t v)
{
	uint8_t p[6];
	for (int i = 0; i < 6; i++)
		p[i] = (uint8_t)(v >> (8 * (5 - i)));
	mh_buf_put(b, p, 6);
}

void mh_buf_guid(mh_buf *b, const GUID *g)
{
	mh_buf_u32(b, g->Data1);
	mh_buf_u16(b, g->Data2);
	mh_buf_u16(b, g->Data3);
	mh_buf_put(b, g->Data4, 8);
}

void mh_buf_muid(mh_buf *b, const MAPIUID *u)
{
	mh_buf_put(b, u->ab, 16);
}

void mh_buf_zeros(mh_buf *b, size_t n)
{
	if (n == 0 || mh_buf_reserve(b, n) != S_OK)
		return;
	memset(b->data + b->len, 0, n);
	b->len += n;
}

void mh_buf_str8z(mh_buf *b, const char *s)
{
	mh_buf_put(b, s, strlen(s) + 1);
}

void mh_buf_utf16z(mh_buf *b, const char *s)
{
	size_t n = strlen(s), need = 0;
	mh_status st = mh_utf8_to_utf16le(NULL, 0, s, n, &need);
	if (st != S_OK) {
		mh_buf_fail(b, st);
		return;
	}
	if (mh_buf_reserve(b, need + 2) != S_OK)
		return;
	st = mh_utf8_to_utf16le(b->data + b->len, b->cap - b->len, s, n, &need);
	if (st != S_OK) {
		mh_buf_fail(b, st);
		return;
	}
	b->len += need;
	mh_buf_zeros(b, 2);
}

void mh_buf_set_u32(mh_buf *b, size_t pos, uint32_t v)
{
	if (b->err != S_OK)
		return;
	/* Patching bytes not yet written is an encoder bug; dropping it would emit a wrong size. */
	if (pos > b->len || b->len - pos < 4) {
		mh_buf_fail(
		    b, mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_buf_set_u32: 4 bytes at %zu not written yet (%zu written)",
		                    pos, b->len));
		return;
	}
	b->data[pos] = (uint8_t)v;
	b->data[pos + 1] = (uint8_t)(v >> 8);
	b->data[pos + 2] = (uint8_t)(v >> 16);
	b->data[pos + 3] = (uint8_t)(v >> 24);
}
