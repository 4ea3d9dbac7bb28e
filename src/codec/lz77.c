/*
 * Plain LZ77 (MS-XCA 2.3/2.4, "DIRECT2" in MS-OXCRPC): a bounds-safe fast
 * decoder, a greedy hash-table encoder, and XorMagic.
 */
#include <stdbool.h>
#include <string.h>

#include "codec/lz77_internal.h"
#include "mapihttp/lz77.h"
#include "util/diag.h"

/*
 * This file is the one place where untrusted bytes are read without
 * mh_cursor: a per-byte cursor call would cost the decoder an order of
 * magnitude. Every raw read below is covered by an explicit margin check;
 * docs/internals/lz77.md explains the argument.
 */

#define LZ77_WINDOW    8192u
#define LZ77_MIN_MATCH 3u
/* 0xFFFF + 3: the largest length the 16-bit extension can carry. */
#define LZ77_MAX_MATCH 65538u

#if defined(__GNUC__)
#define LZ77_LIKELY(x)   __builtin_expect(!!(x), 1)
#define LZ77_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define LZ77_LIKELY(x)   (x)
#define LZ77_UNLIKELY(x) (x)
#endif

/*
 * LZ77_ALIGN64 starts the decoders on a cache line: otherwise their speed
 * moves by several percent with where the linker happens to put them in a
 * 64-byte line, from one build or program to the next.
 *
 * LZ77_OPAQUE hides where a value came from: gcc otherwise narrows the tests
 * of a 16-bit match word to 16-bit compares and extracts its length bits
 * twice, and folds the BMI2 decoder's shift count and mask back into
 * immediates (see lz77_decode).
 */
#if defined(__GNUC__)
#define LZ77_OPAQUE(v)     __asm__("" : "+r"(v))
#define LZ77_NOINLINE      __attribute__((noinline))
#define LZ77_ALWAYS_INLINE __attribute__((always_inline))
#define LZ77_ALIGN64       __attribute__((aligned(64)))
#else
#define LZ77_OPAQUE(v) ((void)0)
#define LZ77_NOINLINE
#define LZ77_ALWAYS_INLINE
#define LZ77_ALIGN64
#endif

/*
 * On x86-64 the decoder is compiled twice, for any CPU and for CPUs with
 * BMI1/BMI2 (2013 on), and picks one at run time; MH_LZ77_NO_DISPATCH keeps
 * only the first (for fuzzing it alone). A build that targets BMI2 anyway
 * needs no second copy.
 */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__BMI2__) && !defined(MH_LZ77_NO_DISPATCH)
#define LZ77_BMI2_CLONE 1
#else
#define LZ77_BMI2_CLONE 0
#endif

/*
 * LZ77_ASM_LOADS: the word loop reads match words with an instruction of
 * its own (load_le16_at), x86-64 with gcc or clang only, and never under a
 * sanitizer, which would not see those reads.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define LZ77_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define LZ77_SANITIZED 1
#endif
#if defined(__GNUC__) && defined(__x86_64__) && !defined(LZ77_SANITIZED)
#define LZ77_ASM_LOADS 1
#else
#define LZ77_ASM_LOADS 0
#endif

#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LZ77_BIG_ENDIAN 1
#else
#define LZ77_BIG_ENDIAN 0
#endif

static inline uint32_t load_le16(const uint8_t *p)
{
#if LZ77_BIG_ENDIAN
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
#else
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
#endif
}

static inline uint32_t load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t load_le32(const uint8_t *p)
{
#if LZ77_BIG_ENDIAN
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
#else
	return load32(p);
#endif
}

static inline void store_le16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void store_le32(uint8_t *p, uint32_t v)
{
#if LZ77_BIG_ENDIAN
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
#else
	memcpy(p, &v, sizeof(v));
#endif
}

static inline void copy8(uint8_t *d, const uint8_t *s)
{
	uint64_t v;
	memcpy(&v, s, 8);
	memcpy(d, &v, 8);
}

static inline void copy16(uint8_t *d, const uint8_t *s)
{
	uint8_t v[16];
	memcpy(v, s, 16);
	memcpy(d, v, 16);
}

/* Number of equal low-order bytes given x = a ^ b != 0 of two little-endian loads. */
static inline unsigned equal_bytes(uint64_t x)
{
#if LZ77_BIG_ENDIAN && defined(__GNUC__)
	return (unsigned)__builtin_clzll(x) >> 3;
#elif defined(__GNUC__)
	return (unsigned)__builtin_ctzll(x) >> 3;
#else
	unsigned n = 0;
#if LZ77_BIG_ENDIAN
	while (!(x & 0xFF00000000000000u)) {
		x <<= 8;
		n++;
	}
#else
	while (!(x & 0xFF)) {
		x >>= 8;
		n++;
	}
#endif
	return n;
#endif
}

/* ---- decoder ------------------------------------------------------------------------ */

/*
 * Flag words are read MSB first. The decoder bit-reverses each word once and
 * adds a sentinel bit above it, so that the next item is always bit 0: the
 * literals before the next match are ctz(x), and a shift consumes them. When
 * only the sentinel is left (x == 1), the word is used up.
 */
static inline uint32_t rev32(uint32_t v)
{
	v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
	v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
	v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
#if defined(__GNUC__)
	return __builtin_bswap32(v);
#else
	return (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) | (v << 24);
#endif
}

static inline uint64_t flag_word(const uint8_t *p)
{
	return (uint64_t)rev32(load_le32(p)) | ((uint64_t)1 << 32);
}

#if LZ77_BMI2_CLONE
/* ~a & b in one instruction (BMI1); only ever run by the BMI2 copy of the decoder. */
static inline LZ77_ALWAYS_INLINE size_t andn64(size_t a, size_t b)
{
	size_t r;
	__asm__("andnq %2, %1, %0" : "=r"(r) : "r"(a), "r"(b) : "cc");
	return r;
}
#endif

/*
 * load_le16(b + i), the match word of the word loop. With LZ77_ASM_LOADS
 * the load forms b + i in its own addressing: gcc would otherwise keep the
 * sum in a register for the literal copy that follows too, one instruction
 * more per match (2 % of the decoding time of text). The asm reads the input
 * without telling the compiler, which is sound because nothing writes the
 * input while it is decoded (src and dst do not overlap) and every position
 * the loop can form is inside the word's input margin.
 */
static inline LZ77_ALWAYS_INLINE size_t load_le16_at(const uint8_t *b, size_t i)
{
	size_t r;
#if LZ77_ASM_LOADS
	__asm__("movzwl (%1,%2), %k0" : "=r"(r) : "r"(b), "r"(i));
#else
	r = load_le16(b + i);
	LZ77_OPAQUE(r);
#endif
	return r;
}

/* v != 0. */
static inline LZ77_ALWAYS_INLINE size_t ctz64(uint64_t v)
{
#if defined(__GNUC__) && defined(__x86_64__)
	/* tzcnt, which is bsf on CPUs without BMI1 (the same for v != 0):
	 * __builtin_ctzll adds a register clear and a sign extension. */
	uint64_t r;
	__asm__("rep bsfq %1, %0" : "=r"(r) : "r"(v) : "cc");
	return (size_t)r;
#elif defined(__GNUC__)
	return (size_t)__builtin_ctzll(v);
#else
	size_t n = 0;
	while (!(v & 1)) {
		v >>= 1;
		n++;
	}
	return n;
#endif
}

/*
 * False when no literal run in the flag word can be longer than 16, so that
 * every run after a match fits in one 16-byte block, which saves the word
 * loop a load and a store per match. A run of 17 or more items covers
 * items 15 and 16 wherever it starts (bits 16 and 15, in either order), so
 * one test rules runs out in about nine words of text in ten.
 */
static inline bool may_have_long_run(uint32_t w)
{
	return (w & 0x00018000u) == 0;
}

/*
 * The item loop runs only while this much input and output remain: one
 * item reads at most a 32-byte literal block, then a flag word or a match
 * header of at most 10 bytes, and writes at most 32 literal bytes or a
 * match plus 32 bytes of overrun (matches longer than the margin take the
 * exact copy).
 */
#define IN_MARGIN  48
#define OUT_MARGIN 64

/*
 * The word loop checks its margins once per flag word instead of once per
 * item, just after reading a flag word. An item reads at most 4 bytes (a
 * literal 1; a match word 2, a nibble byte 1 and a length byte 1) unless
 * its length has a 16- or 32-bit field (10 bytes), so item 31 starts at
 * most 124 bytes in and, after its own bytes, a literal block reads 32:
 * nothing is read 124 + 4 + 32 = 160 bytes or more past the check (the
 * next flag word ends at most 132 bytes in; a match with a 16- or 32-bit
 * length at most 134). After such a match the word goes on only if the
 * whole input margin is still there. Only a match of 3..9 bytes skips the
 * output check: each item adds at most 9 bytes and no write is wider than
 * 32 (a literal block; such a match writes 16), so nothing is written
 * 32 * 9 + 32 = 320 bytes or more past the check. A longer match checks
 * that the whole output margin is still there after it.
 * test_lz77__worst_case_items runs into both bounds.
 */
#define WORD_IN_MARGIN  160
#define WORD_OUT_MARGIN 320

/* Smallest multiple of d (1..7) that is at least 8: the step of a pattern copy. */
static const uint8_t pattern_step[8] = {0, 8, 8, 9, 8, 10, 12, 14};

/*
 * Copies len bytes from op - dist; may write up to 15 bytes past op + len.
 * Each chunk reads only bytes that are already final, because the chunk
 * size never exceeds the (effective) distance.
 */
static inline void copy_match_fast(uint8_t *op, size_t dist, size_t len)
{
	const uint8_t *m = op - dist;
	if (LZ77_LIKELY(dist >= 16)) {
		copy16(op, m);
		if (LZ77_UNLIKELY(len > 16)) {
			copy16(op + 16, m + 16);
			for (size_t k = 32; k < len; k += 16)
				copy16(op + k, m + k);
		}
	} else if (dist >= 8) {
		copy8(op, m);
		copy8(op + 8, m + 8);
		for (size_t k = 16; k < len; k += 8)
			copy8(op + k, m + k);
	} else if (dist == 1) {
		memset(op, m[0], len);
	} else {
		/* The first 8 bytes one by one; after them the output repeats with
		 * a period that is a multiple of dist and at least 8. */
		for (size_t k = 0; k < 8; k++)
			op[k] = m[k];
		size_t step = pattern_step[dist];
		for (size_t k = 8; k < len; k += 8)
			copy8(op + k, op + k - step);
	}
}

/* A match of 3..9 bytes at distance 1..8, given its match word m; writes 16 bytes. */
static LZ77_NOINLINE void copy_short_match(uint8_t *op, size_t m)
{
	copy_match_fast(op, (m >> 3) + 1, (m & 7) + LZ77_MIN_MATCH);
}

/*
 * Copies len bytes from op - dist to op, writing nothing past op + len. A
 * long overlapping match (a run near the end of the output) goes through the
 * block copy up to 32 bytes before its end, whose overrun stays inside the
 * match and is then overwritten by the exact tail.
 */
static void copy_match_exact(uint8_t *op, size_t dist, size_t len)
{
	const uint8_t *m = op - dist;
	if (dist >= len) {
		memcpy(op, m, len);
	} else if (dist == 1) {
		memset(op, m[0], len);
	} else {
		size_t i = 0;
		if (len > 64) {
			i = len - 32;
			copy_match_fast(op, dist, i);
		}
		for (; i < len; i++)
			op[i] = m[i];
	}
}

/*
 * The length of a match whose 3-bit length is 7 (nibble, byte, u16, u32),
 * read without bounds checks: the caller guarantees 8 readable bytes at
 * *ipp. Returns 0 for an extended length below 22 or beyond cap.
 */
static inline size_t long_length(const uint8_t **ipp, const uint8_t **halfp, size_t cap)
{
	const uint8_t *ip = *ipp;
	size_t len;
	if (*halfp == NULL) {
		*halfp = ip;
		len = *ip++ & 0x0F;
	} else {
		len = **halfp >> 4;
		*halfp = NULL;
	}
	if (len == 15) {
		len = *ip++;
		if (len == 255) {
			len = load_le16(ip);
			ip += 2;
			if (len == 0) {
				uint32_t l32 = load_le32(ip);
				ip += 4;
				if (l32 > cap)
					len = 0;
				else
					len = l32;
			}
			if (len < 15 + 7) {
				*ipp = ip;
				return 0;
			}
			len -= 15 + 7;
		}
		len += 15;
	}
	*ipp = ip;
	return len + 7 + LZ77_MIN_MATCH;
}

/*
 * One flag word's items in the word loop (x holds the word, see flag_word).
 *
 * Matches are found by clearing x's lowest 1-bit rather than by shifting x:
 * the next match is item p_ = ctz(x), and x &= x - 1 is the only work the
 * next item waits for, where a shift would have to wait for the count. The
 * input and output positions are kept as ib_ and ob_, the positions minus
 * the items consumed so far: a literal moves both by one, like the item
 * index, so they change only at matches, and match p_ starts at ib_ + p_
 * and writes at ob_ + p_. Each match copies the literals that follow it as
 * one 16-byte block, or two when LONG_RUNS (the word may hold a run longer
 * than 16, see may_have_long_run), so a literal run costs nothing of its
 * own.
 *
 * A short match (3..9 bytes) at distance 9 or more is one 16-byte block:
 * the distance is at least the length, so the bytes it needs are final
 * (what it reads beyond them, and writes beyond the match, the literal
 * block overwrites). Distances 1..8 take copy_short_match, out of line.
 * The match word is split into t_ (length - 3) and nd_ (minus the
 * distance), which addresses the source with no subtraction.
 *
 * CHECK_DIST is 0 once 8192 bytes are out: no distance can reach before
 * the start of the output any more, so the common short match needs no
 * check beyond m_ >= 64 (distance 9 or more). Before that, one unsigned
 * compare of the match word takes both bounds: m_ - 64 < mlim_ holds for
 * a distance of 9 up to the output length at the start of the word, which
 * no match of the word can reach back past. Any other match word goes to
 * the exact check, which compares the source address with dst as
 * integers; that cannot wrap because the word loop runs only when dst is
 * at least 8192 (every real address). Leaves with the word used up;
 * jumps to item_loop when a long match brings the output within
 * WORD_OUT_MARGIN of its end, or the input within WORD_IN_MARGIN.
 */
#define DECODE_WORD(CHECK_DIST, LONG_RUNS)                                                        \
	do {                                                                                      \
		const uint8_t *ib_ = ip; /* ip minus the items of this word consumed */           \
		uint8_t *ob_ = op;       /* op minus the items of this word consumed */           \
		const size_t mlim_ =                                                              \
		    (CHECK_DIST) && op - dst >= 8 ? (size_t)(op - dst) * 8 - 64 : 0;              \
		(void)mlim_;                                                                      \
		copy16(op, ip);                                                                   \
		copy16(op + 16, ip + 16);                                                         \
		for (;;) {                                                                        \
			size_t p_ = ctz64(x); /* the next match is item p_ */                     \
			if (p_ == 32)                                                             \
				break;                                                            \
			x &= x - 1;                                                               \
			uint8_t *dp_ = ob_ + p_;                                                  \
			size_t m_ = load_le16_at(ib_, p_);                                        \
			size_t t_ = LOW3(m_); /* length - 3 */                                    \
			if (LZ77_LIKELY(t_ != 7)) {                                               \
				ptrdiff_t nd_ = ~(ptrdiff_t)(m_ >> sh3); /* -distance */          \
				if (LZ77_LIKELY((CHECK_DIST) ? m_ - 64 < mlim_ : m_ >= 64)) {     \
					copy16(dp_, dp_ + nd_);                                   \
				} else {                                                          \
					if ((CHECK_DIST) &&                                       \
					    (uintptr_t)dp_ + (uintptr_t)nd_ < (uintptr_t)dst) {   \
						op = dp_;                                         \
						item = ib_ + p_;                                  \
						dist = (size_t)-nd_;                              \
						goto bad_dist;                                    \
					}                                                         \
					if (nd_ <= -9)                                            \
						copy16(dp_, dp_ + nd_);                           \
					else                                                      \
						copy_short_match(dp_, m_);                        \
				}                                                                 \
				/* The literals up to the next match (none to 31). */             \
				copy16(dp_ + t_ + 3, ib_ + p_ + 2);                               \
				if (LONG_RUNS)                                                    \
					copy16(dp_ + t_ + 19, ib_ + p_ + 18);                     \
				ib_ += 1;                                                         \
				ob_ += t_ + 2;                                                    \
				continue;                                                         \
			}                                                                         \
			const uint8_t *mp_ = ib_ + p_;                                            \
			item = mp_;                                                               \
			dist = (m_ >> 3) + 1;                                                     \
			ip = mp_ + 2;                                                             \
			op = dp_;                                                                 \
			len = long_length(&ip, &half, dst_cap);                                   \
			if (len == 0)                                                             \
				goto bad_long;                                                    \
			if ((CHECK_DIST) && LZ77_UNLIKELY(dist > (size_t)(op - dst)))             \
				goto bad_dist;                                                    \
			if (LZ77_LIKELY((ptrdiff_t)len <= (oend - op) - WORD_OUT_MARGIN &&        \
			                (ip - mp_ <= 4 || iend - ip >= WORD_IN_MARGIN))) {        \
				if (LZ77_LIKELY(dist >= 16)) {                                    \
					/* len >= 10: the second block is nearly always needed */ \
					const uint8_t *s_ = op - dist;                            \
					copy16(op, s_);                                           \
					copy16(op + 16, s_ + 16);                                 \
					for (size_t k_ = 32; k_ < len; k_ += 16)                  \
						copy16(op + k_, s_ + k_);                         \
				} else {                                                          \
					copy_match_fast(op, dist, len);                           \
				}                                                                 \
				op += len;                                                        \
				ib_ = ip - (p_ + 1);                                              \
				ob_ = op - (p_ + 1);                                              \
				copy16(op, ip);                                                   \
				if (LONG_RUNS)                                                    \
					copy16(op + 16, ip + 16);                                 \
				continue;                                                         \
			}                                                                         \
			/* Near the end of the output: finish this match exactly and the          \
			 * rest item by item. */                                                  \
			if (len > (size_t)(oend - op))                                            \
				goto bad_len;                                                     \
			copy_match_exact(op, dist, len);                                          \
			op += len;                                                                \
			x >>= p_ + 1;                                                             \
			goto item_loop;                                                           \
		}                                                                                 \
		ip = ib_ + 32;                                                                    \
		op = ob_ + 32;                                                                    \
	} while (0)

/*
 * The decoder proper, for a stream of at least one flag word and a
 * non-empty output. It is inlined twice: into decode_portable, and into
 * decode_bmi2 with bmi2 set, compiled for BMI1/BMI2, where clearing the
 * lowest bit, counting zeros, and the match word's shift and mask are each
 * one instruction that leaves its operands alone (the short-match loop
 * goes from 21 instructions to 17).
 */
static inline LZ77_ALWAYS_INLINE mh_status lz77_decode(uint8_t *dst, size_t dst_cap,
                                                       const uint8_t *src, size_t src_len,
                                                       size_t *out_len, bool bmi2)
{
	/* In registers, gcc shifts with shrx instead of copying and shifting. */
	size_t sh3 = 3;
	if (bmi2)
		LZ77_OPAQUE(sh3);
#if LZ77_BMI2_CLONE
	size_t nm7 = ~(size_t)7;
	if (bmi2)
		LZ77_OPAQUE(nm7);
#define LOW3(m) (bmi2 ? andn64(nm7, (m)) : (m)&7)
#else
#define LOW3(m) ((m)&7)
#endif

	const uint8_t *ip = src;
	const uint8_t *const iend = src + src_len;
	uint8_t *op = dst;
	uint8_t *const oend = dst + dst_cap;
	const uint8_t *half = NULL; /* byte whose high nibble the next long match uses */
	const uint8_t *item = src;  /* start of the current match, for messages */
	const char *field = "";     /* the length field a truncated match lost */
	size_t dist, len;
	uint64_t x = flag_word(ip); /* the current word's unread items, see flag_word */
	ip += 4;

	/* Word loop: margins checked once per flag word, see WORD_IN_MARGIN. */
	if (src_len >= WORD_IN_MARGIN && dst_cap >= WORD_OUT_MARGIN &&
	    (uintptr_t)dst >= LZ77_WINDOW) {
		const uint8_t *const ilim = iend - WORD_IN_MARGIN;
		uint8_t *const olim = oend - WORD_OUT_MARGIN;
		/* The first 8 KiB, with distance checks */
		while (ip <= ilim && op <= olim && (size_t)(op - dst) < LZ77_WINDOW) {
			if (may_have_long_run((uint32_t)x))
				DECODE_WORD(1, 1);
			else
				DECODE_WORD(1, 0);
			x = flag_word(ip);
			ip += 4;
		}
		while (LZ77_LIKELY(ip <= ilim && op <= olim)) {
			if (may_have_long_run((uint32_t)x))
				DECODE_WORD(0, 1);
			else
				DECODE_WORD(0, 0);
			x = flag_word(ip);
			ip += 4;
		}
	}

item_loop:
	/* Item loop: no end-of-buffer checks except for long matches. */
	while (LZ77_LIKELY(iend - ip >= IN_MARGIN && oend - op >= OUT_MARGIN)) {
		/* The literals before the next 1-bit (none to 32), copied without a
		 * branch; the fixed-size copy stays inside both margins. */
		unsigned z = ctz64(x);
		copy16(op, ip);
		copy16(op + 16, ip + 16);
		op += z;
		ip += z;
		x >>= z;
		if (LZ77_UNLIKELY(x == 1)) {
			/* the sentinel: the word ended, at least 16 input bytes remain */
			x = flag_word(ip);
			ip += 4;
			continue;
		}
		x >>= 1;
		item = ip;
		unsigned m = load_le16(ip);
		ip += 2;
		dist = (m >> 3) + 1;
		len = m & 7;
		if (LZ77_UNLIKELY(len == 7)) {
			len = long_length(&ip, &half, dst_cap);
			if (len == 0)
				goto bad_long;
		} else {
			len += LZ77_MIN_MATCH;
		}
		if (LZ77_UNLIKELY(dist > (size_t)(op - dst)))
			goto bad_dist;
		if (LZ77_LIKELY(len <= (size_t)(oend - op) - 32)) {
			copy_match_fast(op, dist, len);
		} else {
			if (len > (size_t)(oend - op))
				goto bad_len;
			copy_match_exact(op, dist, len);
		}
		op += len;
	}

	/* Slow path: every read and write checked, one item at a time. */
	for (;;) {
		if (op == oend)
			break;
		if (x == 1) {
			if (iend - ip < 4)
				break;
			x = flag_word(ip);
			ip += 4;
		}
		uint64_t bit = x & 1;
		x >>= 1;
		if (ip == iend)
			break; /* a 1-bit here is the end marker; a 0-bit, a short stream */
		if (!bit) {
			*op++ = *ip++;
			continue;
		}
		item = ip;
		if (iend - ip < 2)
			return mh_error_set(MAPI_E_CORRUPT_DATA, (int64_t)(ip - src),
			                    "LZ77 match word at input offset %zu is cut off by the "
			                    "end of the input (%zu bytes)",
			                    (size_t)(ip - src), src_len);
		unsigned m = load_le16(ip);
		ip += 2;
		dist = (m >> 3) + 1;
		len = m & 7;
		if (len == 7) {
			if (half == NULL) {
				field = "nibble byte";
				if (ip == iend)
					goto truncated;
				half = ip;
				len = *ip++ & 0x0F;
			} else {
				len = *half >> 4;
				half = NULL;
			}
			if (len == 15) {
				field = "length byte";
				if (ip == iend)
					goto truncated;
				len = *ip++;
				if (len == 255) {
					field = "16-bit length";
					if (iend - ip < 2)
						goto truncated;
					len = load_le16(ip);
					ip += 2;
					if (len == 0) {
						field = "32-bit length";
						if (iend - ip < 4)
							goto truncated;
						uint32_t l32 = load_le32(ip);
						ip += 4;
						if (l32 > dst_cap)
							goto bad_long;
						len = l32;
					}
					if (len < 15 + 7)
						goto bad_long;
					len -= 15 + 7;
				}
				len += 15;
			}
			len += 7;
		}
		len += LZ77_MIN_MATCH;
		if (dist > (size_t)(op - dst))
			goto bad_dist;
		if (len > (size_t)(oend - op))
			goto bad_len;
		copy_match_exact(op, dist, len);
		op += len;
	}
	*out_len = (size_t)(op - dst);
	return S_OK;

truncated:
	return mh_error_set(MAPI_E_CORRUPT_DATA, (int64_t)(ip - src),
	                    "LZ77 match at input offset %zu: its %s at offset %zu is cut off by "
	                    "the end of the input (%zu bytes)",
	                    (size_t)(item - src), field, (size_t)(ip - src), src_len);
bad_long:
	return mh_error_set(MAPI_E_CORRUPT_DATA, (int64_t)(item - src),
	                    "LZ77 match at input offset %zu: invalid extended length (below 22 "
	                    "or beyond the expected output size %zu)",
	                    (size_t)(item - src), dst_cap);
bad_dist:
	return mh_error_set(MAPI_E_CORRUPT_DATA, (int64_t)(item - src),
	                    "LZ77 match at input offset %zu: distance %zu reaches before the "
	                    "start of the output (%zu bytes decoded so far)",
	                    (size_t)(item - src), dist, (size_t)(op - dst));
bad_len:
	return mh_error_set(MAPI_E_CORRUPT_DATA, (int64_t)(item - src),
	                    "LZ77 match at input offset %zu: length %zu runs past the expected "
	                    "output size %zu (%zu bytes decoded so far)",
	                    (size_t)(item - src), len, dst_cap, (size_t)(op - dst));
}

#undef LOW3

/* The decoder for any CPU (also reachable through mh_lz77_decompress_portable for tests,
 * as the dispatcher below never picks it on a machine with BMI2). */
static LZ77_NOINLINE LZ77_ALIGN64 mh_status decode_portable(uint8_t *dst, size_t dst_cap,
                                                            const uint8_t *src, size_t src_len,
                                                            size_t *out_len)
{
	return lz77_decode(dst, dst_cap, src, src_len, out_len, false);
}

#if LZ77_BMI2_CLONE
__attribute__((target("bmi,bmi2"))) static LZ77_NOINLINE LZ77_ALIGN64 mh_status
decode_bmi2(uint8_t *dst, size_t dst_cap, const uint8_t *src, size_t src_len, size_t *out_len)
{
	return lz77_decode(dst, dst_cap, src, src_len, out_len, true);
}
#endif

/* The argument checks both directions share; sets *out_len to 0 when it can. */
static mh_status check_args(const char *fn, const uint8_t *dst, size_t dst_cap, const uint8_t *src,
                            size_t src_len, size_t *out_len)
{
	if (out_len == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "%s: out_len must not be NULL",
		                    fn);
	*out_len = 0;
	if ((dst == NULL && dst_cap > 0) || (src == NULL && src_len > 0))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "%s: NULL buffer with a non-zero size", fn);
	return S_OK;
}

static mh_status decompress(uint8_t *dst, size_t dst_cap, const uint8_t *src, size_t src_len,
                            size_t *out_len, bool dispatch)
{
	mh_status st = check_args("mh_lz77_decompress", dst, dst_cap, src, src_len, out_len);
	if (st != S_OK)
		return st;
	if (dst_cap == 0 || src_len < 4)
		return S_OK; /* nothing wanted, or not even one flag word */
#if LZ77_BMI2_CLONE
	if (dispatch) {
		/* Normally a no-op (a constructor fills the CPU model); makes a
		 * call from another constructor safe. */
		__builtin_cpu_init();
		if (__builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2"))
			return decode_bmi2(dst, dst_cap, src, src_len, out_len);
	}
#else
	(void)dispatch;
#endif
	return decode_portable(dst, dst_cap, src, src_len, out_len);
}

mh_status mh_lz77_decompress(uint8_t *dst, size_t dst_cap, const uint8_t *src, size_t src_len,
                             size_t *out_len)
{
	return decompress(dst, dst_cap, src, src_len, out_len, true);
}

mh_status mh_lz77_decompress_portable(uint8_t *dst, size_t dst_cap, const uint8_t *src,
                                      size_t src_len, size_t *out_len)
{
	return decompress(dst, dst_cap, src, src_len, out_len, false);
}

#undef DECODE_WORD

/* ---- encoder ------------------------------------------------------------------------ */

/* 2^13 two-byte entries: 16 KiB of stack; a larger table gained under 0.5 % on ROP data. */
#define HASH_BITS 13
/* Misses before the search starts to skip ahead; keeps incompressible input cheap. */
#ifndef SKIP_SHIFT
#define SKIP_SHIFT 5
#endif

static inline uint32_t hash4(uint32_t v)
{
	return (v * 2654435761u) >> (32 - HASH_BITS);
}

typedef struct {
	uint8_t *op;    /* next output byte */
	uint8_t *oend;  /* end of dst */
	uint8_t *flagp; /* where the current flag word goes */
	uint8_t *half;  /* byte whose high nibble the next long match fills, or NULL */
	uint64_t flags; /* bits of the current word, newest lowest */
	unsigned nbits; /* bits in the current word (0..31) */
} lz77_writer;

/* Appends one flag bit; a full word is stored and the next one reserved (need counted by caller).
 */
static inline void put_bit(lz77_writer *w, unsigned bit)
{
	w->flags = (w->flags << 1) | bit;
	if (++w->nbits == 32) {
		store_le32(w->flagp, (uint32_t)w->flags);
		w->flagp = w->op;
		w->op += 4;
		w->flags = 0;
		w->nbits = 0;
	}
}

/* Emits n literals; false when they do not fit. */
static inline bool put_literals(lz77_writer *w, const uint8_t *lit, size_t n, const uint8_t *iend)
{
	while (n > 0) {
		size_t take = 32 - w->nbits;
		if (take > n)
			take = n;
		size_t need = take + (w->nbits + take == 32 ? 4 : 0);
		size_t room = (size_t)(w->oend - w->op);
		if (need > room)
			return false;
		if (room >= 32 + 4 && (size_t)(iend - lit) >= 32) {
			copy16(w->op, lit);
			copy16(w->op + 16, lit + 16);
		} else {
			memcpy(w->op, lit, take);
		}
		w->op += take;
		lit += take;
		n -= take;
		w->flags <<= take;
		w->nbits += (unsigned)take;
		if (w->nbits == 32) {
			store_le32(w->flagp, (uint32_t)w->flags);
			w->flagp = w->op;
			w->op += 4;
			w->flags = 0;
			w->nbits = 0;
		}
	}
	return true;
}

/* Emits a match (1 <= dist <= 8192, 3 <= len <= 65538); false when it does not fit. */
static inline bool put_match(lz77_writer *w, size_t dist, size_t len)
{
	size_t l = len - LZ77_MIN_MATCH;
	size_t need = 2 + (w->nbits == 31 ? 4 : 0);
	if (l >= 7) {
		if (w->half == NULL)
			need++;
		if (l >= 7 + 15)
			need += l >= 7 + 15 + 255 ? 3 : 1;
	}
	if (need > (size_t)(w->oend - w->op))
		return false;
	uint32_t word = (uint32_t)(dist - 1) << 3;
	if (l < 7) {
		store_le16(w->op, word | (uint32_t)l);
		w->op += 2;
	} else {
		store_le16(w->op, word | 7);
		w->op += 2;
		size_t nib = l - 7 < 15 ? l - 7 : 15;
		if (w->half == NULL) {
			w->half = w->op;
			*w->op++ = (uint8_t)nib;
		} else {
			*w->half |= (uint8_t)(nib << 4);
			w->half = NULL;
		}
		if (nib == 15) {
			size_t b = l - 7 - 15;
			if (b < 255) {
				*w->op++ = (uint8_t)b;
			} else {
				*w->op++ = 255;
				store_le16(w->op, (uint32_t)l);
				w->op += 2;
			}
		}
	}
	put_bit(w, 1);
	return true;
}

/* Length of the common prefix of a and b, at most limit bytes from b (b > a). */
static inline size_t match_length(const uint8_t *a, const uint8_t *b, const uint8_t *limit)
{
	const uint8_t *start = b;
	while (limit - b >= 8) {
		uint64_t x = load64(a) ^ load64(b);
		if (x != 0)
			return (size_t)(b - start) + equal_bytes(x);
		a += 8;
		b += 8;
	}
	while (b < limit && *a == *b) {
		a++;
		b++;
	}
	return (size_t)(b - start);
}

mh_status mh_lz77_compress(uint8_t *dst, size_t dst_cap, const uint8_t *src, size_t src_len,
                           size_t *out_len)
{
	mh_status st = check_args("mh_lz77_compress", dst, dst_cap, src, src_len, out_len);
	if (st != S_OK)
		return st;
	if (dst_cap < 4)
		goto too_big;

	lz77_writer w = {dst + 4, dst + dst_cap, dst, NULL, 0, 0};
	if (src_len == 0)
		goto finish;

	/* Positions modulo 2^16: a stale or aliased entry only yields a candidate
	 * that fails the byte comparison, so the table needs no clearing beyond
	 * this and no rebasing for inputs over 64 KiB. */
	uint16_t table[1u << HASH_BITS];
	memset(table, 0, sizeof(table));

	const uint8_t *const iend = src + src_len;
	const uint8_t *anchor = src; /* first byte not yet emitted */
	const uint8_t *ip = src;

	if (src_len >= 8) {
		/* Hash reads 4 bytes; stop while a 4-byte match still fits. */
		const uint8_t *const hlimit = iend - 4;
		unsigned misses = 1u << SKIP_SHIFT;
		while (ip <= hlimit) {
			uint32_t seq = load32(ip);
			uint32_t h = hash4(seq);
			size_t pos = (size_t)(ip - src);
			size_t dist = (uint16_t)(pos - table[h]);
			table[h] = (uint16_t)pos;
			if (dist - 1 >= LZ77_WINDOW || dist > pos || load32(ip - dist) != seq) {
				size_t step = misses++ >> SKIP_SHIFT;
				if (step > (size_t)(hlimit - ip))
					break;
				ip += step;
				continue;
			}
			misses = 1u << SKIP_SHIFT;
			/* Grow the match backwards into pending literals. */
			const uint8_t *mstart = ip;
			while (mstart > anchor && mstart - dist > src &&
			       mstart[-1] == (mstart - dist)[-1] &&
			       (size_t)(ip - mstart) < LZ77_MAX_MATCH - 4)
				mstart--;
			const uint8_t *limit = iend;
			if ((size_t)(limit - mstart) > LZ77_MAX_MATCH)
				limit = mstart + LZ77_MAX_MATCH;
			size_t len =
			    (size_t)(ip - mstart) + 4 + match_length(ip + 4 - dist, ip + 4, limit);
			if (!put_literals(&w, anchor, (size_t)(mstart - anchor), iend))
				goto too_big;
			if (!put_match(&w, dist, len))
				goto too_big;
			/* Positions inside the match are not indexed: on row-structured
			 * data the entries from the previous row are the better ones. */
			ip = mstart + len;
			anchor = ip;
		}
	}
	if (!put_literals(&w, anchor, (size_t)(iend - anchor), iend))
		goto too_big;

finish:
	/* End marker: the rest of the current word (all of it when it is empty) set to 1. */
	{
		unsigned fill = 32 - w.nbits;
		uint32_t word = (uint32_t)((w.flags << fill) | (((uint64_t)1 << fill) - 1));
		store_le32(w.flagp, word);
	}
	*out_len = (size_t)(w.op - dst);
	return S_OK;

too_big:
	return mh_error_set(MAPI_E_TOO_BIG, -1,
	                    "LZ77 output of %zu input bytes does not fit in %zu bytes", src_len,
	                    dst_cap);
}

/* ---- XorMagic --------------------------------------------------------------------- */

void mh_xor_magic(uint8_t *buf, size_t len)
{
	size_t i = 0;
	/* A fixed-size inner block lets -O2's cheap vectoriser turn it into
	 * full-width vector XORs without an epilogue. */
	for (; len - i >= 64; i += 64) {
		uint8_t *p = buf + i;
		for (size_t j = 0; j < 64; j++)
			p[j] ^= 0xA5;
	}
	for (; i < len; i++)
		buf[i] ^= 0xA5;
}
