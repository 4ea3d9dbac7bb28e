/*
 * MS-XCA's plain LZ77 decoding loop transcribed one byte at a time, bounds-checked: the
 * "careful byte-loop decoder" class that bench_codec measures mapihttp's decoder against, and
 * the oracle the LZ77 tests compare it with. Two forms: the bounds of a match checked once
 * before its copy, and (as Samba's and gromox's decoders do) before each byte it copies.
 */
#ifndef MH_BENCH_LZ77_BYTELOOP_H
#define MH_BENCH_LZ77_BYTELOOP_H

#include <stddef.h>
#include <stdint.h>

struct mh_lz77_ref_stats {
	size_t long_matches;  /* matches with a length nibble */
	size_t longest_chain; /* long matches in a row, nothing between them */
};

/*
 * Decodes n bytes at s into d (at most cap bytes; stops at cap like mh_lz77_decompress) and
 * sets *outl. 0, or -1 for a malformed stream. st may be NULL.
 */
int mh_lz77_ref_decode(const uint8_t *s, size_t n, uint8_t *d, size_t cap, size_t *outl,
                       struct mh_lz77_ref_stats *st);

/* The same, with a match's bounds checked before each byte it copies. */
int mh_lz77_ref_decode_per_byte(const uint8_t *s, size_t n, uint8_t *d, size_t cap, size_t *outl,
                                struct mh_lz77_ref_stats *st);

typedef int (*mh_lz77_ref_fn)(const uint8_t *s, size_t n, uint8_t *d, size_t cap, size_t *outl,
                              struct mh_lz77_ref_stats *st);

/* Each at mh_lz77_ref_ncopies code placements, for the benchmark (see the .c). */
extern const mh_lz77_ref_fn mh_lz77_ref_copies[];
extern const mh_lz77_ref_fn mh_lz77_ref_per_byte_copies[];
extern const size_t mh_lz77_ref_ncopies;

#endif
