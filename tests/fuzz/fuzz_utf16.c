/*
 * Round-trip fuzzer for the text conversions: UTF-16LE -> UTF-8 -> UTF-16LE,
 * UTF-8 -> UTF-16LE -> UTF-8, and Windows-1252 -> UTF-8 must be lossless
 * whenever the input is accepted, and never read or write out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

/* The input as UTF-16LE code units (a trailing odd byte is ignored). */
static void utf16_roundtrip(const uint8_t *data, size_t size)
{
	size_t units = size / 2, len8 = 0, len16 = 0;
	if (mh_utf16le_to_utf8(NULL, 0, data, units, &len8) != S_OK)
		return;
	/* Exactly sized: one byte more than the text for the NUL. */
	char *u8 = xmalloc(len8 + 1);
	size_t got = 0;
	if (mh_utf16le_to_utf8(u8, len8 + 1, data, units, &got) != S_OK || got != len8 ||
	    u8[len8] != '\0')
		abort();
	if (!mh_utf8_valid(u8, len8))
		abort();
	/* One byte short must be refused. */
	if (mh_utf16le_to_utf8(u8, len8, data, units, &got) != MAPI_E_INVALID_PARAMETER)
		abort();
	if (mh_utf8_to_utf16le(NULL, 0, u8, len8, &len16) != S_OK || len16 != 2 * units)
		abort();
	uint8_t *back = xmalloc(len16);
	if (mh_utf8_to_utf16le(back, len16, u8, len8, &got) != S_OK || got != len16 ||
	    memcmp(back, data, len16) != 0)
		abort();
	free(back);
	free(u8);
}

/* The input as UTF-8. */
static void utf8_roundtrip(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t len16 = 0, len8 = 0;
	bool valid = mh_utf8_valid(s, size);
	mh_status st = mh_utf8_to_utf16le(NULL, 0, s, size, &len16);
	if ((st == S_OK) != valid)
		abort();
	if (!valid) {
		if (st != MAPI_E_INVALID_PARAMETER)
			abort();
		return;
	}
	uint8_t *u16 = xmalloc(len16);
	size_t got = 0;
	if (mh_utf8_to_utf16le(u16, len16, s, size, &got) != S_OK || got != len16 || got % 2 != 0)
		abort();
	if (len16 > 0 &&
	    mh_utf8_to_utf16le(u16, len16 - 1, s, size, &got) != MAPI_E_INVALID_PARAMETER)
		abort();
	if (mh_utf16le_to_utf8(NULL, 0, u16, len16 / 2, &len8) != S_OK || len8 != size)
		abort();
	char *back = xmalloc(len8 + 1);
	if (mh_utf16le_to_utf8(back, len8 + 1, u16, len16 / 2, &got) != S_OK || got != size ||
	    memcmp(back, data, size) != 0)
		abort();
	free(back);
	free(u16);
}

/* Every byte string is valid Windows-1252 (undefined bytes map to C1 controls). */
static void cp1252_convert(const uint8_t *data, size_t size)
{
	size_t len8 = 0, got = 0;
	if (mh_cp1252_to_utf8(NULL, 0, data, size, &len8) != S_OK)
		abort();
	if (len8 < size || len8 > 3 * size)
		abort();
	char *u8 = xmalloc(len8 + 1);
	if (mh_cp1252_to_utf8(u8, len8 + 1, data, size, &got) != S_OK || got != len8 ||
	    u8[len8] != '\0' || !mh_utf8_valid(u8, len8))
		abort();
	free(u8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	utf16_roundtrip(data, size);
	utf8_roundtrip(data, size);
	cp1252_convert(data, size);
	return 0;
}
