/*
 * Text conversion between the API's UTF-8 and the wire's UTF-16LE and
 * 8-bit code pages. Invalid input is rejected, never repaired.
 */
#ifndef MH_UTIL_UTF_H
#define MH_UTIL_UTF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapihttp/status.h"

/*
 * Converts src_len bytes of UTF-8 to UTF-16LE (no NUL added). *out_len
 * receives the byte count; with dst NULL only the length is computed.
 * Rejects overlong forms, surrogate code points (U+D800..U+DFFF), values
 * above U+10FFFF, truncated and stray continuation bytes with
 * MAPI_E_INVALID_PARAMETER (the API's strings come from the caller) and a
 * message naming the byte offset. MAPI_E_INVALID_PARAMETER also when
 * dst_cap is too small.
 */
mh_status mh_utf8_to_utf16le(uint8_t *dst, size_t dst_cap, const char *src, size_t src_len,
                             size_t *out_len);

/*
 * Converts units UTF-16LE code units at src (2*units bytes) to UTF-8 and
 * NUL-terminates it. *out_len receives the UTF-8 length without the NUL;
 * with dst NULL only the length is computed (add 1 for the NUL). Rejects
 * unpaired surrogates with MAPI_E_CORRUPT_DATA (UTF-16 comes from the
 * wire); MAPI_E_INVALID_PARAMETER when dst_cap < *out_len + 1.
 */
mh_status mh_utf16le_to_utf8(char *dst, size_t dst_cap, const uint8_t *src, size_t units,
                             size_t *out_len);

/* True if the len bytes at s are valid UTF-8 by the rules above. */
bool mh_utf8_valid(const char *s, size_t len);

/*
 * Converts 8-bit Windows-1252 text to UTF-8 (NUL-terminated; dst NULL to
 * measure). Bytes 0x81, 0x8D, 0x8F, 0x90 and 0x9D, which Windows-1252
 * leaves undefined, become U+0081 etc. so that no byte is lost.
 */
mh_status mh_cp1252_to_utf8(char *dst, size_t dst_cap, const uint8_t *src, size_t len,
                            size_t *out_len);

#endif
