/*
 * Hexadecimal text <-> bytes, for the tool, tests and vectors.
 */
#include <stdlib.h>

#include "util/diag.h"
#include "util/hex.h"

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int is_space(char ch)
{
	/* ASCII only: isspace() would follow the locale. */
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

mh_status mh_hex_decode(uint8_t **out, size_t *out_len, const char *text, size_t len)
{
	if (out == NULL || out_len == NULL || (text == NULL && len > 0))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_hex_decode: NULL argument");
	*out = NULL;
	*out_len = 0;

	/* First pass validates and counts, so the buffer is allocated once. */
	size_t digits = 0, last_digit = 0;
	for (size_t i = 0; i < len; i++) {
		if (is_space(text[i]))
			continue;
		if (hex_value(text[i]) < 0) {
			unsigned char ch = (unsigned char)text[i];
			if (ch >= 0x20 && ch < 0x7F)
				return mh_error_set(MAPI_E_INVALID_PARAMETER, (int64_t)i,
				                    "hex text: '%c' at byte %zu is not a hex digit",
				                    (char)ch, i);
			return mh_error_set(
			    MAPI_E_INVALID_PARAMETER, (int64_t)i,
			    "hex text: character 0x%02X at byte %zu is not a hex digit", ch, i);
		}
		digits++;
		last_digit = i;
	}
	if (digits % 2 != 0)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, (int64_t)last_digit,
		                    "hex text: odd number of digits (%zu); the digit at byte %zu "
		                    "has no partner",
		                    digits, last_digit);

	/* At least one byte so that an empty result is still a freeable pointer. */
	uint8_t *p = malloc(digits / 2 > 0 ? digits / 2 : 1);
	if (p == NULL)
		return mh_error_oom();
	size_t n = 0;
	int hi = -1;
	for (size_t i = 0; i < len; i++) {
		int v = hex_value(text[i]);
		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			p[n++] = (uint8_t)((hi << 4) | v);
			hi = -1;
		}
	}
	*out = p;
	*out_len = n;
	return S_OK;
}

void mh_hex_encode(char *dst, const uint8_t *src, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 0x0F];
	}
	dst[2 * len] = '\0';
}
