/*
 * RPC_HEADER_EXT chains: writing (split, compress when it pays, XOR) and
 * reading (validate every header first, then un-XOR and decompress).
 */
#include <string.h>

#include "codec/rpc_ext.h"
#include "mapihttp/lz77.h"
#include "util/diag.h"

mh_status mh_rpc_ext_header_pull(mh_cursor *c, mh_rpc_ext_header *h)
{
	mh_status st;
	if ((st = mh_cursor_need(c, MH_RPC_EXT_HEADER_SIZE, "RPC_HEADER_EXT")) != S_OK)
		return st;
	/* The need() above makes these four reads infallible. */
	(void)mh_cursor_u16(c, &h->version, "RPC_HEADER_EXT.Version");
	(void)mh_cursor_u16(c, &h->flags, "RPC_HEADER_EXT.Flags");
	(void)mh_cursor_u16(c, &h->size, "RPC_HEADER_EXT.Size");
	(void)mh_cursor_u16(c, &h->size_actual, "RPC_HEADER_EXT.SizeActual");
	return S_OK;
}

void mh_rpc_ext_header_push(mh_buf *b, const mh_rpc_ext_header *h)
{
	mh_buf_u16(b, h->version);
	mh_buf_u16(b, h->flags);
	mh_buf_u16(b, h->size);
	mh_buf_u16(b, h->size_actual);
}

static const mh_rpc_ext_options default_options = MH_RPC_EXT_OPTIONS_INIT;

static mh_status check_options(const mh_rpc_ext_options *o)
{
	if (o->version != 1)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_rpc_ext_options.version is %u, expected 1", o->version);
	if (o->max_payload > MH_RPC_EXT_MAX_PAYLOAD)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_rpc_ext_options.max_payload %zu exceeds %u bytes",
		                    o->max_payload, MH_RPC_EXT_MAX_PAYLOAD);
	return S_OK;
}

mh_status mh_rpc_ext_push_one(mh_buf *b, const void *payload, size_t len,
                              const mh_rpc_ext_options *opts, bool last)
{
	mh_status st;
	if (opts == NULL)
		opts = &default_options;
	if ((st = check_options(opts)) != S_OK)
		return mh_buf_fail(b, st);
	if (len > MH_RPC_EXT_MAX_PAYLOAD)
		return mh_buf_fail(b, mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                                   "extended buffer payload of %zu bytes exceeds "
		                                   "the %u-byte limit",
		                                   len, MH_RPC_EXT_MAX_PAYLOAD));
	if (payload == NULL && len > 0)
		return mh_buf_fail(b, mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                                   "extended buffer payload is NULL"));
	if ((st = mh_buf_reserve(b, MH_RPC_EXT_HEADER_SIZE + len)) != S_OK)
		return st;

	mh_rpc_ext_header h = {MH_RPC_EXT_VERSION, last ? MH_RPC_EXT_LAST : 0, (uint16_t)len,
	                       (uint16_t)len};
	size_t hdr_pos = b->len;
	uint8_t *body = b->data + hdr_pos + MH_RPC_EXT_HEADER_SIZE;
	size_t sent = len;
	bool compressed = false;
	/* Compress straight into the reserved room; a result of len - 1 bytes
	 * or more is refused by the encoder itself, so success means it pays. */
	if (opts->compress && len > 1) {
		size_t clen = 0;
		if (mh_lz77_compress(body, len - 1, payload, len, &clen) == S_OK) {
			compressed = true;
			sent = clen;
		}
	}
	if (!compressed && len > 0)
		memcpy(body, payload, len);
	if (compressed)
		h.flags |= MH_RPC_EXT_COMPRESSED;
	if (opts->xor_magic) {
		h.flags |= MH_RPC_EXT_XORMAGIC;
		mh_xor_magic(body, sent);
	}
	h.size = (uint16_t)sent;
	b->len += MH_RPC_EXT_HEADER_SIZE + sent;
	/* Header written last: the payload bytes were placed behind it already. */
	uint8_t *hp = b->data + hdr_pos;
	uint16_t f[4] = {h.version, h.flags, h.size, h.size_actual};
	for (int i = 0; i < 4; i++) {
		hp[2 * i] = (uint8_t)(f[i] & 0xFF);
		hp[2 * i + 1] = (uint8_t)(f[i] >> 8);
	}
	return mh_buf_status(b);
}

mh_status mh_rpc_ext_push(mh_buf *b, const void *payload, size_t len,
                          const mh_rpc_ext_options *opts)
{
	mh_status st;
	if (opts == NULL)
		opts = &default_options;
	if ((st = check_options(opts)) != S_OK)
		return mh_buf_fail(b, st);
	size_t piece = opts->max_payload ? opts->max_payload : MH_RPC_EXT_MAX_PAYLOAD;
	const uint8_t *p = payload;
	size_t done = 0;
	do {
		size_t n = len - done < piece ? len - done : piece;
		st = mh_rpc_ext_push_one(b, n ? p + done : NULL, n, opts, done + n == len);
		if (st != S_OK)
			return st;
		done += n;
	} while (done < len);
	return mh_buf_status(b);
}

/* Checks one header against the rules; h was read at byte offset off. */
static mh_status check_header(mh_cursor *c, const mh_rpc_ext_header *h, size_t off,
                              size_t max_actual)
{
	if (h->version != MH_RPC_EXT_VERSION)
		return mh_error_set(c->err, (int64_t)off,
		                    "RPC_HEADER_EXT at byte %zu: Version 0x%04x, expected 0x0000",
		                    off, h->version);
	if (h->flags & ~(MH_RPC_EXT_COMPRESSED | MH_RPC_EXT_XORMAGIC | MH_RPC_EXT_LAST))
		return mh_error_set(c->err, (int64_t)off + 2,
		                    "RPC_HEADER_EXT at byte %zu: unknown Flags bits 0x%04x", off,
		                    h->flags & ~0x7u);
	if (h->size > mh_cursor_remaining(c))
		return mh_error_set(
		    c->err, (int64_t)off + 4,
		    "RPC_HEADER_EXT at byte %zu: Size %u exceeds the %zu bytes that "
		    "remain",
		    off, h->size, mh_cursor_remaining(c));
	if (h->size_actual > max_actual)
		return mh_error_set(
		    c->err, (int64_t)off + 6,
		    "RPC_HEADER_EXT at byte %zu: SizeActual %u exceeds the %zu-byte "
		    "limit",
		    off, h->size_actual, max_actual);
	if (!(h->flags & MH_RPC_EXT_COMPRESSED) && h->size != h->size_actual)
		return mh_error_set(c->err, (int64_t)off + 4,
		                    "RPC_HEADER_EXT at byte %zu: uncompressed but Size %u != "
		                    "SizeActual %u",
		                    off, h->size, h->size_actual);
	return S_OK;
}

mh_status mh_rpc_ext_pull(mh_cursor *c, mh_arena *a, size_t max_actual, mh_rpc_ext_chain *out)
{
	mh_status st;
	memset(out, 0, sizeof(*out));
	if (max_actual == 0)
		max_actual = MH_RPC_EXT_MAX_PAYLOAD;

	/* Pass 1: validate every header and size the output. */
	size_t start = c->pos, n = 0, total = 0;
	for (;;) {
		mh_rpc_ext_header h;
		size_t off = mh_cursor_offset(c);
		if (mh_cursor_remaining(c) == 0 && n > 0) {
			c->pos = start;
			return mh_error_set(
			    c->err, (int64_t)off,
			    "extended buffer chain ends at byte %zu without a buffer "
			    "flagged Last",
			    off);
		}
		if ((st = mh_rpc_ext_header_pull(c, &h)) != S_OK ||
		    (st = check_header(c, &h, off, max_actual)) != S_OK) {
			c->pos = start;
			return st;
		}
		c->pos += h.size;
		n++;
		total += h.size_actual;
		if (h.flags & MH_RPC_EXT_LAST)
			break;
	}
	size_t end = c->pos;
	c->pos = start;

	mh_rpc_ext_segment *segs;
	uint8_t *data = NULL;
	if ((st = mh_arena_array(a, n, sizeof(*segs), (void **)&segs)) != S_OK)
		return st;
	if (total > 0 && (st = mh_arena_alloc(a, total, (void **)&data)) != S_OK)
		return st;

	/* Pass 2: transform each payload into its place. */
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		mh_rpc_ext_segment *s = &segs[i];
		const uint8_t *src;
		s->offset = mh_cursor_offset(c);
		(void)mh_rpc_ext_header_pull(c, &s->hdr);
		size_t poff = mh_cursor_offset(c);
		(void)mh_cursor_bytes(c, s->hdr.size, &src, "extended buffer payload");
		s->data = data != NULL ? data + at : NULL;
		s->len = s->hdr.size_actual;
		if (!(s->hdr.flags & MH_RPC_EXT_COMPRESSED)) {
			if (s->len > 0) {
				memcpy(data + at, src, s->len);
				if (s->hdr.flags & MH_RPC_EXT_XORMAGIC)
					mh_xor_magic(data + at, s->len);
			}
		} else {
			/* XOR comes off first, so the compressed bytes need a copy of
			 * their own; the arena end is scratch we may keep. */
			const uint8_t *z = src;
			uint8_t *tmp = NULL;
			if ((s->hdr.flags & MH_RPC_EXT_XORMAGIC) && s->hdr.size > 0) {
				if ((st = mh_arena_memdup(a, src, s->hdr.size, (void **)&tmp)) !=
				    S_OK) {
					c->pos = start;
					return st;
				}
				mh_xor_magic(tmp, s->hdr.size);
				z = tmp;
			}
			size_t got = 0;
			st = mh_lz77_decompress(s->len ? data + at : NULL, s->len,
			                        s->hdr.size ? z : NULL, s->hdr.size, &got);
			if (st != S_OK) {
				c->pos = start;
				/* The codec names an offset inside the payload; rebase it. */
				const mh_error *e = mh_error_last();
				int64_t rel = e != NULL && e->offset >= 0 ? e->offset : 0;
				return mh_error_set(
				    c->err, (int64_t)poff + rel,
				    "extended buffer at byte %zu: LZ77 payload corrupt "
				    "near byte %zu",
				    s->offset, poff + (size_t)rel);
			}
			if (got != s->len) {
				c->pos = start;
				return mh_error_set(
				    c->err, (int64_t)poff,
				    "extended buffer at byte %zu: payload decompresses "
				    "to %zu bytes, SizeActual says %zu",
				    s->offset, got, s->len);
			}
		}
		at += s->len;
	}
	c->pos = end;
	out->segs = segs;
	out->n_segs = n;
	out->data = data;
	out->len = total;
	return S_OK;
}

mh_status mh_rpc_ext_decode(const uint8_t *data, size_t len, size_t base, mh_arena *a,
                            size_t max_actual, mh_rpc_ext_chain *out)
{
	mh_cursor c;
	mh_status st;
	mh_cursor_init(&c, data, len, MAPI_E_CORRUPT_DATA);
	c.base = base;
	if (len == 0) {
		memset(out, 0, sizeof(*out));
		return mh_error_set(MAPI_E_CORRUPT_DATA, (int64_t)base,
		                    "extended buffer chain at byte %zu is empty", base);
	}
	if ((st = mh_rpc_ext_pull(&c, a, max_actual, out)) != S_OK)
		return st;
	if (mh_cursor_remaining(&c) != 0) {
		memset(out, 0, sizeof(*out));
		return mh_cursor_fail(&c,
		                      "%zu unexpected bytes at byte %zu after the extended "
		                      "buffer flagged Last",
		                      mh_cursor_remaining(&c), mh_cursor_offset(&c));
	}
	return S_OK;
}
