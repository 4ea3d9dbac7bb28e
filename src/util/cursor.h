/*
 * mh_cursor: the only reader of untrusted bytes. Every read is bounds-checked;
 * a failed read records a precise message (field and byte offset) in the
 * thread-local error and returns the cursor's error status.
 */
#ifndef MH_UTIL_CURSOR_H
#define MH_UTIL_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"

#define MH_CURSOR_MAX_DEPTH 16

typedef struct mh_cursor {
	const uint8_t *data;
	size_t len;
	size_t pos;
	size_t base;    /* offset of data[0] in the outermost input, for messages */
	mh_status err;  /* status returned for malformed input */
	unsigned depth; /* nesting level, see mh_cursor_enter() */
} mh_cursor;

/* Starts reading len bytes at data; malformed input fails with err. */
void mh_cursor_init(mh_cursor *c, const void *data, size_t len, mh_status err);

static inline size_t mh_cursor_remaining(const mh_cursor *c)
{
	return c->len - c->pos;
}

/* Absolute offset of the next byte, for messages. */
static inline size_t mh_cursor_offset(const mh_cursor *c)
{
	return c->base + c->pos;
}

/* Fails unless n bytes remain. */
mh_status mh_cursor_need(mh_cursor *c, size_t n, const char *field);

mh_status mh_cursor_u8(mh_cursor *c, uint8_t *v, const char *field);
mh_status mh_cursor_u16(mh_cursor *c, uint16_t *v, const char *field);
mh_status mh_cursor_u32(mh_cursor *c, uint32_t *v, const char *field);
mh_status mh_cursor_u64(mh_cursor *c, uint64_t *v, const char *field);
/* A 48-bit big-endian counter (GlobalCounter of FIDs and MIDs). */
mh_status mh_cursor_u48be(mh_cursor *c, uint64_t *v, const char *field);
mh_status mh_cursor_guid(mh_cursor *c, GUID *g, const char *field);
mh_status mh_cursor_muid(mh_cursor *c, MAPIUID *u, const char *field);
/* Points *p at the next n bytes (no copy) and moves past them. */
mh_status mh_cursor_bytes(mh_cursor *c, size_t n, const uint8_t **p, const char *field);
mh_status mh_cursor_skip(mh_cursor *c, size_t n, const char *field);

/* Reads a uint32 at the current position without moving; false if < 4 bytes remain. */
bool mh_cursor_peek_u32(const mh_cursor *c, uint32_t *v);

/*
 * A NUL-terminated 8-bit string of at most max_len bytes before the NUL.
 * *s points into the input (at a NUL-terminated string), *len is its length.
 */
mh_status mh_cursor_str8(mh_cursor *c, size_t max_len, const char **s, size_t *len,
                         const char *field);

/*
 * A NUL-terminated UTF-16LE string of at most max_units code units before
 * the 2-byte NUL. *p points at its first byte in the input, *units is its
 * length in code units (the NUL excluded). Not yet checked for validity.
 */
mh_status mh_cursor_str16(mh_cursor *c, size_t max_units, const uint8_t **p, size_t *units,
                          const char *field);

/* Moves to absolute position pos within this cursor (0..len). */
mh_status mh_cursor_seek(mh_cursor *c, size_t pos, const char *field);

/* A cursor over the next n bytes; this cursor moves past them. */
mh_status mh_cursor_sub(mh_cursor *c, size_t n, mh_cursor *sub, const char *field);

/* Nesting guard for recursive structures: fails past MH_CURSOR_MAX_DEPTH. */
mh_status mh_cursor_enter(mh_cursor *c, const char *what);
void mh_cursor_leave(mh_cursor *c);

/* Records a malformed-input error at the cursor's position; returns c->err. */
mh_status mh_cursor_fail(mh_cursor *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
