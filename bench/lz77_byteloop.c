/*
 * The byte-at-a-time MS-XCA decoder of lz77_byteloop.h.
 */
#include "lz77_byteloop.h"

#include <string.h>

/*
 * Aligned, so that the yardstick does not gain or lose by where it was linked: at 64-byte
 * alignment this loop still ran about 15 % slower in one of the four 64-byte slots of a
 * 256-byte block (AMD EPYC, gcc 12 -O2); at 256 it runs at its best in every build.
 */
#if defined(__GNUC__)
__attribute__((aligned(256)))
#endif
int mh_lz77_ref_decode(const uint8_t *s, size_t n, uint8_t *d, size_t cap, size_t *outl,
                       struct mh_lz77_ref_stats *st)
{
	size_t i = 0, o = 0, chain = 0;
	uint32_t flags = 0;
	unsigned nbits = 0;
	int64_t half = -1;
	struct mh_lz77_ref_stats dummy;
	if (st == NULL)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	*outl = 0;
	for (;;) {
		if (o == cap)
			break;
		if (nbits == 0) {
			if (n - i < 4)
				break;
			flags = (uint32_t)s[i] | (uint32_t)s[i + 1] << 8 |
			        (uint32_t)s[i + 2] << 16 | (uint32_t)s[i + 3] << 24;
			i += 4;
			nbits = 32;
		}
		nbits--;
		unsigned bit = (flags >> nbits) & 1;
		if (i == n)
			break;
		if (!bit) {
			d[o++] = s[i++];
			chain = 0;
			continue;
		}
		if (n - i < 2)
			return -1;
		uint64_t m = (uint64_t)s[i] | (uint64_t)s[i + 1] << 8;
		i += 2;
		uint64_t dist = (m >> 3) + 1, len = m & 7;
		if (len == 7) {
			st->long_matches++;
			if (++chain > st->longest_chain)
				st->longest_chain = chain;
			if (half < 0) {
				if (i == n)
					return -1;
				half = (int64_t)i;
				len = s[i++] & 15;
			} else {
				len = s[half] >> 4;
				half = -1;
			}
			if (len == 15) {
				if (i == n)
					return -1;
				len = s[i++];
				if (len == 255) {
					if (n - i < 2)
						return -1;
					len = (uint64_t)s[i] | (uint64_t)s[i + 1] << 8;
					i += 2;
					if (len == 0) {
						if (n - i < 4)
							return -1;
						len = (uint64_t)s[i] | (uint64_t)s[i + 1] << 8 |
						      (uint64_t)s[i + 2] << 16 |
						      (uint64_t)s[i + 3] << 24;
						i += 4;
					}
					if (len < 22)
						return -1;
					len -= 22;
				}
				len += 15;
			}
			len += 7;
		} else {
			chain = 0;
		}
		len += 3;
		if (dist > o || len > cap - o)
			return -1;
		for (uint64_t k = 0; k < len; k++, o++)
			d[o] = d[o - dist];
	}
	*outl = o;
	return 0;
}
