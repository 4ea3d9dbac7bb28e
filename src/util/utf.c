/*
 * UTF-8 <-> UTF-16LE and Windows-1252 -> UTF-8, strict: invalid input is
 * reported with its byte offset, never replaced.
 */
#include <string.h>

#include "util/diag.h"
#include "util/utf.h"

/* Decodes one UTF-8 scalar at s[*i]; returns 0 on success, else a reason. */
static const char *utf8_next(const uint8_t *s, size_t len, size_t *i, uint32_t *cp)
{
	uint8_t b0 = s[*i];
	size_t n;
	uint32_t min, c;

	if (b0 < 0x80) {
		*cp = b0;
		(*i)++;
		return NULL;
	} else if (b0 < 0xC2) {
		return b0 < 0xC0 ? "stray continuation byte" : "overlong encoding";
	} else if (b0 < 0xE0) {
		n = 1;
		min = 0x80;
		c = b0 & 0x1F;
	} else if (b0 < 0xF0) {
		n = 2;
		min = 0x800;
		c = b0 & 0x0F;
	} else if (b0 < 0xF5) {
		n = 3;
		min = 0x10000;
		c = b0 & 0x07;
	} else {
		return "byte not used in UTF-8";
	}
	if (len - *i - 1 < n)
		return "truncated sequence";
	for (size_t k = 1; k <= n; k++) {
		uint8_t b = s[*i + k];
		if ((b & 0xC0) != 0x80)
			return "truncated sequence";
		c = (c << 6) | (b & 0x3F);
	}
	if (c < min)
		return "overlong encoding";
	if (c >= 0xD800 && c <= 0xDFFF)
		return "encoded surrogate code point";
	if (c > 0x10FFFF)
		return "code point above U+10FFFF";
	*cp = c;
	*i += n + 1;
	return NULL;
}

bool mh_utf8_valid(const char *s, size_t len)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0;
	uint32_t cp;
	while (i < len)
		if (utf8_next(u, len, &i, &cp) != NULL)
			return false;
	return true;
}

mh_status mh_utf8_to_utf16le(uint8_t *dst, size_t dst_cap, const char *src, size_t src_len,
                             size_t *out_len)
{
	const uint8_t *s = (const uint8_t *)src;
	size_t i = 0, o = 0;
	uint32_t cp;

	while (i < src_len) {
		size_t at = i;
		const char *why = utf8_next(s, src_len, &i, &cp);
		if (why != NULL)
			return mh_error_set(MAPI_E_INVALID_PARAMETER, (int64_t)at,
			                    "invalid UTF-8 at byte %zu: %s", at, why);
		size_t need = cp >= 0x10000 ? 4 : 2;
		if (dst != NULL) {
			if (dst_cap - o < need)
				return mh_error_set(
				    MAPI_E_INVALID_PARAMETER, -1,
				    "UTF-16 output buffer of %zu bytes is too small", dst_cap);
			if (cp >= 0x10000) {
				uint32_t v = cp - 0x10000;
				uint16_t hi = (uint16_t)(0xD800 | (v >> 10));
				uint16_t lo = (uint16_t)(0xDC00 | (v & 0x3FF));
				dst[o] = (uint8_t)hi;
				dst[o + 1] = (uint8_t)(hi >> 8);
				dst[o + 2] = (uint8_t)lo;
				dst[o + 3] = (uint8_t)(lo >> 8);
			} else {
				dst[o] = (uint8_t)cp;
				dst[o + 1] = (uint8_t)(cp >> 8);
			}
		}
		o += need;
	}
	*out_len = o;
	return S_OK;
}

static size_t utf8_put(char *dst, size_t o, uint32_t cp)
{
	uint8_t *d = (uint8_t *)dst + o;
	if (cp < 0x80) {
		d[0] = (uint8_t)cp;
		return 1;
	} else if (cp < 0x800) {
		d[0] = (uint8_t)(0xC0 | (cp >> 6));
		d[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	} else if (cp < 0x10000) {
		d[0] = (uint8_t)(0xE0 | (cp >> 12));
		d[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		d[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	d[0] = (uint8_t)(0xF0 | (cp >> 18));
	d[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
	d[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	d[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

static size_t utf8_len(uint32_t cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

static mh_status out_too_small(size_t cap)
{
	return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
	                    "UTF-8 output buffer of %zu bytes is too small", cap);
}

/* Appends cp at dst[*o] (or only counts it when dst is NULL), keeping room for a NUL. */
static bool utf8_emit(char *dst, size_t cap, size_t *o, uint32_t cp)
{
	if (dst == NULL) {
		*o += utf8_len(cp);
		return true;
	}
	if (cap - *o < utf8_len(cp) + 1)
		return false;
	*o += utf8_put(dst, *o, cp);
	return true;
}

static mh_status utf8_finish(char *dst, size_t cap, size_t o, size_t *out_len)
{
	if (dst != NULL) {
		if (cap - o < 1)
			return out_too_small(cap);
		dst[o] = '\0';
	}
	*out_len = o;
	return S_OK;
}

mh_status mh_utf16le_to_utf8(char *dst, size_t dst_cap, const uint8_t *src, size_t units,
                             size_t *out_len)
{
	size_t o = 0;
	for (size_t i = 0; i < units; i++) {
		uint32_t cp = (uint32_t)src[2 * i] | ((uint32_t)src[2 * i + 1] << 8);
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			uint32_t lo = 0;
			if (i + 1 < units)
				lo = (uint32_t)src[2 * i + 2] | ((uint32_t)src[2 * i + 3] << 8);
			if (lo < 0xDC00 || lo > 0xDFFF)
				return mh_error_set(MAPI_E_CORRUPT_DATA, (int64_t)(2 * i),
				                    "invalid UTF-16 at byte %zu: unpaired high "
				                    "surrogate 0x%04X",
				                    2 * i, (unsigned)cp);
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			i++;
		} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
			return mh_error_set(MAPI_E_CORRUPT_DATA, (int64_t)(2 * i),
			                    "invalid UTF-16 at byte %zu: unpaired low surrogate "
			                    "0x%04X",
			                    2 * i, (unsigned)cp);
		}
		if (!utf8_emit(dst, dst_cap, &o, cp))
			return out_too_small(dst_cap);
	}
	return utf8_finish(dst, dst_cap, o, out_len);
}

/* Windows-1252 0x80..0x9F; 0 marks the five undefined bytes (kept as C1 controls). */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

mh_status mh_cp1252_to_utf8(char *dst, size_t dst_cap, const uint8_t *src, size_t len,
                            size_t *out_len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		uint32_t cp = src[i];
		if (cp >= 0x80 && cp <= 0x9F && cp1252_high[cp - 0x80] != 0)
			cp = cp1252_high[cp - 0x80];
		if (!utf8_emit(dst, dst_cap, &o, cp))
			return out_too_small(dst_cap);
	}
	return utf8_finish(dst, dst_cap, o, out_len);
}
