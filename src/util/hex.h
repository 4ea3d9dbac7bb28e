/*
 * Hexadecimal text <-> bytes, for the tool, tests and vectors.
 */
#ifndef MH_UTIL_HEX_H
#define MH_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/status.h"

/*
 * Decodes hex digits (either case) from text[0..len), ignoring ASCII
 * whitespace, into a new malloc()ed buffer *out of *out_len bytes (free()
 * it). MAPI_E_INVALID_PARAMETER with the offending character's offset for
 * a non-hex character or an odd number of digits; MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_hex_decode(uint8_t **out, size_t *out_len, const char *text, size_t len);

/* Writes 2*len lowercase hex digits and a NUL to dst (2*len+1 bytes). */
void mh_hex_encode(char *dst, const uint8_t *src, size_t len);

#endif
