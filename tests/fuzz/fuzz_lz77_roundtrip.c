/*
 * Round-trip fuzz target for the LZ77 encoder: any input must compress,
 * decompress to itself, and the "is it worth it" probe (room for one byte
 * less than the input) must either refuse or give a stream that decodes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mapihttp/lz77.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Worst case: every byte a literal, one 4-byte flag word per 32 items, the end marker. */
	size_t cap = size + (size / 32 + 2) * 4;
	uint8_t *c = malloc(cap);
	uint8_t *d = malloc(size ? size : 1);
	if (c == NULL || d == NULL)
		abort();
	size_t clen = 0, dlen = 0;
	if (mh_lz77_compress(c, cap, data, size, &clen) != S_OK || clen > cap)
		abort();
	/* Decode from an exactly sized copy so reads past the stream are caught. */
	uint8_t *cx = malloc(clen);
	if (cx == NULL)
		abort();
	memcpy(cx, c, clen);
	if (mh_lz77_decompress(size ? d : NULL, size, cx, clen, &dlen) != S_OK || dlen != size ||
	    (size && memcmp(d, data, size) != 0))
		abort();
	free(cx);

	if (size > 0) {
		uint8_t *p = malloc(size - 1 ? size - 1 : 1);
		if (p == NULL)
			abort();
		size_t plen = 0;
		mh_status st = mh_lz77_compress(size - 1 ? p : NULL, size - 1, data, size, &plen);
		if (st == S_OK) {
			if (plen > size - 1 || plen != clen || memcmp(p, c, plen) != 0)
				abort();
			if (mh_lz77_decompress(d, size, p, plen, &dlen) != S_OK || dlen != size ||
			    memcmp(d, data, size) != 0)
				abort();
		} else if (st != MAPI_E_TOO_BIG || clen <= size - 1) {
			abort();
		}
		free(p);
	}
	free(c);
	free(d);
	return 0;
}
