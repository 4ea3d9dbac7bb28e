/*
 * Fuzz target for mh_lz77_decompress: the first two bytes (little-endian)
 * give the expected output size, the rest is the compressed stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mapihttp/lz77.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t cap = (size_t)data[0] | (size_t)data[1] << 8;
	if (cap == 0)
		cap = 65536;
	/* Exactly sized heap copies so the sanitizers see any overrun. */
	size_t n = size - 2;
	uint8_t *src = malloc(n ? n : 1);
	uint8_t *dst = malloc(cap);
	if (src == NULL || dst == NULL)
		abort();
	memcpy(src, data + 2, n);
	size_t out = 0;
	mh_status st = mh_lz77_decompress(dst, cap, src, n, &out);
	if (st == S_OK) {
		if (out > cap)
			abort();
		/* Every produced byte must be defined (MSan/valgrind would object). */
		volatile uint8_t acc = 0;
		for (size_t i = 0; i < out; i++)
			acc ^= dst[i];
		(void)acc;
	} else if (st != MAPI_E_CORRUPT_DATA || out != 0) {
		abort();
	}
	free(src);
	free(dst);
	return 0;
}
