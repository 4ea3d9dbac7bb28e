/*
 * mh_buf: a growable little-endian writer. Errors are sticky: after the
 * first failure every put is a no-op and mh_buf_status() reports it, so an
 * encoder checks once at the end.
 */
#ifndef MH_UTIL_BUF_H
#define MH_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"

typedef struct mh_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	mh_status err;
} mh_buf;

#define MH_BUF_INIT              \
	{                        \
		NULL, 0, 0, S_OK \
	}

void mh_buf_free(mh_buf *b);
/* Makes room for n more bytes. */
mh_status mh_buf_reserve(mh_buf *b, size_t n);
static inline mh_status mh_buf_status(const mh_buf *b)
{
	return b->err;
}
/* Records a failure (first one wins); returns b->err. */
mh_status mh_buf_fail(mh_buf *b, mh_status st);

void mh_buf_put(mh_buf *b, const void *p, size_t n);
void mh_buf_u8(mh_buf *b, uint8_t v);
void mh_buf_u16(mh_buf *b, uint16_t v);
void mh_buf_u32(mh_buf *b, uint32_t v);
void mh_buf_u64(mh_buf *b, uint64_t v);
void mh_buf_u48be(mh_buf *b, uint64_t v);
void mh_buf_guid(mh_buf *b, const GUID *g);
void mh_buf_muid(mh_buf *b, const MAPIUID *u);
void mh_buf_zeros(mh_buf *b, size_t n);
/* Writes the 8-bit string s and its NUL. */
void mh_buf_str8z(mh_buf *b, const char *s);
/* Writes UTF-8 s as UTF-16LE plus a 2-byte NUL; invalid UTF-8 fails with MAPI_E_INVALID_PARAMETER.
 */
void mh_buf_utf16z(mh_buf *b, const char *s);
/* Overwrites 4 bytes at pos (already written) with v. */
void mh_buf_set_u32(mh_buf *b, size_t pos, uint32_t v);

#endif
