/*
 * The byte-at-a-time MS-XCA decoders of lz77_byteloop.h.
 */
#include "lz77_byteloop.h"

#include <string.h>

#if defined(__GNUC__)
#define REF_INLINE static inline __attribute__((always_inline))
#else
#define REF_INLINE static inline
#endif

/*
 * per_byte chooses where a match's bounds are checked: false, once per match
 * before its copy; true, before every byte it copies (the distance against
 * the output so far, and the room left), as Samba's and gromox's decoders
 * do. Both reject the same streams and decode the rest alike.
 */
REF_INLINE int ref_decode(const uint8_t *s, size_t n, uint8_t *d, size_t cap, size_t *outl,
                          struct mh_lz77_ref_stats *st, int per_byte)
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
		if (!per_byte && (dist > o || len > cap - o))
			return -1;
		for (uint64_t k = 0; k < len; k++, o++) {
			if (per_byte && (dist > o || o == cap))
				return -1;
			d[o] = d[o - dist];
		}
	}
	*outl = o;
	return 0;
}

int mh_lz77_ref_decode(const uint8_t *s, size_t n, uint8_t *d, size_t cap, size_t *outl,
                       struct mh_lz77_ref_stats *st)
{
	return ref_decode(s, n, d, cap, outl, st, 0);
}

int mh_lz77_ref_decode_per_byte(const uint8_t *s, size_t n, uint8_t *d, size_t cap, size_t *outl,
                                struct mh_lz77_ref_stats *st)
{
	return ref_decode(s, n, d, cap, outl, st, 1);
}

/*
 * The same loops at several code placements. Where the loop sits in a
 * 256-byte block moves its speed by up to 15 % on the benchmark machine
 * (AMD EPYC, gcc 12 -O2), differently for each payload, so a single copy
 * makes a yardstick that gains or loses by where the linker put it. Copy k
 * starts on a 256-byte boundary and jumps over 16 * k bytes before its
 * code, which moves all of it by that much and keeps every alignment gcc
 * chose inside it; bench_codec measures the copies and keeps the fastest.
 * Copy k of the per-byte loop sits 8 bytes further than copy k of the other.
 */
#if defined(__GNUC__) && defined(__x86_64__)
#define REF_PLACED(name, skip, per_byte)                                      \
	__attribute__((aligned(256), noinline)) static int name(              \
	    const uint8_t *s, size_t n, uint8_t *d, size_t cap, size_t *outl, \
	    struct mh_lz77_ref_stats *st)                                     \
	{                                                                     \
		__asm__ volatile("jmp 1f\n\t.skip " skip ", 0xcc\n1:");       \
		return ref_decode(s, n, d, cap, outl, st, per_byte);          \
	}
#define REF_COPY(k)                             \
	REF_PLACED(ref_copy_##k, #k " * 16", 0) \
	REF_PLACED(per_byte_copy_##k, #k " * 16 + 8", 1)
REF_COPY(0)
REF_COPY(1)
REF_COPY(2)
REF_COPY(3)
REF_COPY(4)
REF_COPY(5)
REF_COPY(6)
REF_COPY(7)
REF_COPY(8)
REF_COPY(9)
REF_COPY(10)
REF_COPY(11)
REF_COPY(12)
REF_COPY(13)
REF_COPY(14)
REF_COPY(15)

#define REF_COPIES(f)                                                                         \
	{                                                                                     \
		f##_0, f##_1, f##_2, f##_3, f##_4, f##_5, f##_6, f##_7, f##_8, f##_9, f##_10, \
		    f##_11, f##_12, f##_13, f##_14, f##_15                                    \
	}
const mh_lz77_ref_fn mh_lz77_ref_copies[] = REF_COPIES(ref_copy);
const mh_lz77_ref_fn mh_lz77_ref_per_byte_copies[] = REF_COPIES(per_byte_copy);
const size_t mh_lz77_ref_ncopies = sizeof(mh_lz77_ref_copies) / sizeof(mh_lz77_ref_copies[0]);
#else
const mh_lz77_ref_fn mh_lz77_ref_copies[] = {mh_lz77_ref_decode};
const mh_lz77_ref_fn mh_lz77_ref_per_byte_copies[] = {mh_lz77_ref_decode_per_byte};
const size_t mh_lz77_ref_ncopies = 1;
#endif
