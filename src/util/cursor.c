/*
 * Bounds-checked little-endian reader over untrusted bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/cursor.h"
#include "util/diag.h"

void mh_cursor_init(mh_cursor *c, const void *data, size_t len, mh_status err)
{
	/* Never NULL, so that data + pos and memchr() stay defined on empty input. */
	static const uint8_t empty[1];
	c->data = data != NULL ? data : empty;
	c->len = data != NULL ? len : 0;
	c->pos = 0;
	c->base = 0;
	c->err = err;
	c->depth = 0;
}

mh_status mh_cursor_fail(mh_cursor *c, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mh_error_set(c->err, (int64_t)mh_cursor_offset(c), "%s", msg);
}

mh_status mh_cursor_need(mh_cursor *c, size_t n, const char *field)
{
	size_t left = mh_cursor_remaining(c);
	if (n <= left)
		return S_OK;
	return mh_cursor_fail(c, "truncated at byte %zu: %s needs %zu byte%s, %zu remain%s",
	                      mh_cursor_offset(c), field, n, n == 1 ? "" : "s", left,
	                      left == 1 ? "s" : "");
}

mh_status mh_cursor_u8(mh_cursor *c, uint8_t *v, const char *field)
{
	mh_status st = mh_cursor_need(c, 1, field);
	if (st != S_OK)
		return st;
	*v = c->data[c->pos++];
	return S_OK;
}

mh_status mh_cursor_u16(mh_cursor *c, uint16_t *v, const char *field)
{
	mh_status st = mh_cursor_need(c, 2, field);
	if (st != S_OK)
		return st;
	const uint8_t *p = c->data + c->pos;
	*v = (uint16_t)(p[0] | (p[1] << 8));
	c->pos += 2;
	return S_OK;
}

mh_status mh_cursor_u32(mh_cursor *c, uint32_t *v, const char *field)
{
	mh_status st = mh_cursor_need(c, 4, field);
	if (st != S_OK)
		return st;
	const uint8_t *p = c->data + c->pos;
	*v = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	     ((uint32_t)p[3] << 24);
	c->pos += 4;
	return S_OK;
}

mh_status mh_cursor_u64(mh_cursor *c, uint64_t *v, const char *field)
{
	mh_status st = mh_cursor_need(c, 8, field);
	if (st != S_OK)
		return st;
	const uint8_t *p = c->data + c->pos;
	uint64_t x = 0;
	for (int i = 7; i >= 0; i--)
		x = (x << 8) | p[i];
	*v = x;
	c->pos += 8;
	return S_OK;
}

mh_status mh_cursor_u48be(mh_cursor *c, uint64_t *v, const char *field)
{
	mh_status st = mh_cursor_need(c, 6, field);
	if (st != S_OK)
		return st;
	const uint8_t *p = c->data + c->pos;
	uint64_t x = 0;
	for (int i = 0; i < 6; i++)
		x = (x << 8) | p[i];
	*v = x;
	c->pos += 6;
	return S_OK;
}

mh_status mh_cursor_guid(mh_cursor *c, GUID *g, const char *field)
{
	mh_status st = mh_cursor_need(c, 16, field);
	if (st != S_OK)
		return st;
	const uint8_t *p = c->data + c->pos;
	g->Data1 = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	           ((uint32_t)p[3] << 24);
	g->Data2 = (uint16_t)(p[4] | (p[5] << 8));
	g->Data3 = (uint16_t)(p[6] | (p[7] << 8));
	memcpy(g->Data4, p + 8, 8);
	c->pos += 16;
	return S_OK;
}

mh_status mh_cursor_muid(mh_cursor *c, MAPIUID *u, const char *field)
{
	mh_status st = mh_cursor_need(c, 16, field);
	if (st != S_OK)
		return st;
	memcpy(u->ab, c->data + c->pos, 16);
	c->pos += 16;
	return S_OK;
}

mh_status mh_cursor_bytes(mh_cursor *c, size_t n, const uint8_t **p, const char *field)
{
	mh_status st = mh_cursor_need(c, n, field);
	if (st != S_OK)
		return st;
	*p = c->data + c->pos;
	c->pos += n;
	return S_OK;
}

mh_status mh_cursor_skip(mh_cursor *c, size_t n, const char *field)
{
	mh_status st = mh_cursor_need(c, n, field);
	if (st != S_OK)
		return st;
	c->pos += n;
	return S_OK;
}

bool mh_cursor_peek_u32(const mh_cursor *c, uint32_t *v)
{
	if (mh_cursor_remaining(c) < 4)
		return false;
	const uint8_t *p = c->data + c->pos;
	*v = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	     ((uint32_t)p[3] << 24);
	return true;
}

mh_status mh_cursor_str8(mh_cursor *c, size_t max_len, const char **s, size_t *len,
                         const char *field)
{
	size_t left = mh_cursor_remaining(c);
	/* max_len + 1 would wrap for SIZE_MAX ("no cap"). */
	size_t scan = left <= max_len ? left : max_len + 1;
	const uint8_t *start = c->data + c->pos;
	const uint8_t *nul = memchr(start, 0, scan);
	if (nul == NULL) {
		if (scan == left) {
			size_t end = c->base + c->len;
			return mh_error_set(c->err, (int64_t)end,
			                    "truncated at byte %zu: %s has no terminating NUL", end,
			                    field);
		}
		return mh_cursor_fail(c, "%s at byte %zu is longer than %zu bytes", field,
		                      mh_cursor_offset(c), max_len);
	}
	*s = (const char *)start;
	*len = (size_t)(nul - start);
	c->pos += *len + 1;
	return S_OK;
}

mh_status mh_cursor_str16(mh_cursor *c, size_t max_units, const uint8_t **p, size_t *units,
                          const char *field)
{
	const uint8_t *start = c->data + c->pos;
	size_t avail = mh_cursor_remaining(c) / 2;
	size_t n = 0;
	for (;;) {
		if (n == avail) {
			size_t end = c->base + c->len;
			return mh_error_set(
			    c->err, (int64_t)end,
			    "truncated at byte %zu: %s has no terminating UTF-16 NUL", end, field);
		}
		if (start[2 * n] == 0 && start[2 * n + 1] == 0)
			break;
		if (n == max_units)
			return mh_cursor_fail(c, "%s at byte %zu is longer than %zu UTF-16 units",
			                      field, mh_cursor_offset(c), max_units);
		n++;
	}
	*p = start;
	*units = n;
	c->pos += 2 * n + 2;
	return S_OK;
}

mh_status mh_cursor_seek(mh_cursor *c, size_t pos, const char *field)
{
	if (pos > c->len)
		return mh_cursor_fail(c, "%s points to byte %zu, past the end at byte %zu", field,
		                      c->base + pos, c->base + c->len);
	c->pos = pos;
	return S_OK;
}

mh_status mh_cursor_sub(mh_cursor *c, size_t n, mh_cursor *sub, const char *field)
{
	mh_status st = mh_cursor_need(c, n, field);
	if (st != S_OK)
		return st;
	sub->data = c->data + c->pos;
	sub->len = n;
	sub->pos = 0;
	sub->base = mh_cursor_offset(c);
	sub->err = c->err;
	sub->depth = c->depth;
	c->pos += n;
	return S_OK;
}

mh_status mh_cursor_enter(mh_cursor *c, const char *what)
{
	if (c->depth >= MH_CURSOR_MAX_DEPTH)
		return mh_cursor_fail(c, "%s at byte %zu nested deeper than %d levels", what,
		                      mh_cursor_offset(c), MH_CURSOR_MAX_DEPTH);
	c->depth++;
	return S_OK;
}

void mh_cursor_leave(mh_cursor *c)
{
	if (c->depth > 0)
		c->depth--;
}
