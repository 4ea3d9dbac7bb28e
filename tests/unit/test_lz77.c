/*
 * Tests of the Plain LZ77 codec and XorMagic: published vectors, encoder
 * round trips at every length class, output limits, and damaged streams.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/lz77_internal.h"
#include "mapihttp/lz77.h"
#include "lz77_byteloop.h"
#include "mapihttp/status.h"

#ifndef MH_VECTORS_DIR
#error "MH_VECTORS_DIR must name tests/vectors"
#endif

#define LZ77_DIR MH_VECTORS_DIR "/wire/lz77/"
#define MISC_DIR MH_VECTORS_DIR "/wire/misc/"

static const char *const vector_names[] = {
    "msxca_3.1_abc_x100",
    "msxca_3.1_alphabet",
    "samba_round_trip_fuzz1",
    "samba_test_lzxpress",
    "samba_test_lzxpress2_nibble",
    "samba_test_lzxpress3_flagwrap",
    "samba_test_lzxpress4_emptyflags",
    "samba_test_lzxpress_oldformat",
};
#define N_VECTORS (sizeof(vector_names) / sizeof(vector_names[0]))

/* ---- helpers ------------------------------------------------------------------------ */

static int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads a vector file: '#' lines are comments, the rest is hex with any whitespace. */
static uint8_t *load_hex(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);
	assert_non_null(buf);
	char line[1024];
	int hi = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#')
			continue;
		for (const char *p = line; *p != '\0'; p++) {
			if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
				continue;
			int d = hex_digit((unsigned char)*p);
			if (d < 0)
				fail_msg("%s: bad hex character '%c'", path, *p);
			if (hi < 0) {
				hi = d;
				continue;
			}
			if (n == cap) {
				cap *= 2;
				buf = realloc(buf, cap);
				assert_non_null(buf);
			}
			buf[n++] = (uint8_t)(hi << 4 | d);
			hi = -1;
		}
	}
	fclose(f);
	assert_int_equal(hi, -1);
	*len = n;
	return buf;
}

static uint8_t *load_vector(const char *name, const char *kind, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), LZ77_DIR "%s.%s.hex", name, kind);
	return load_hex(path, len);
}

/* An exactly sized heap copy, so that ASan and valgrind see any overread. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: deterministic and good enough for test data */
	uint64_t z = (*s += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

enum kind { K_ZEROS, K_TEXT, K_RANDOM, K_ROP, K_PERIODIC, K_COUNT };

static void fill(uint8_t *p, size_t n, enum kind k, uint64_t seed)
{
	static const char *const words[] = {"the",    "quarterly", "report",  "is",    "attached",
	                                    "please", "review",    "and",     "send",  "comments",
	                                    "by",     "Friday",    "meeting", "notes", "of",
	                                    "budget", "team"};
	uint64_t s = seed;
	size_t i = 0;
	switch (k) {
	case K_ZEROS:
		memset(p, 0, n);
		break;
	case K_RANDOM:
		for (i = 0; i < n; i++)
			p[i] = (uint8_t)rng_next(&s);
		break;
	case K_TEXT:
		while (i < n) {
			const char *w = words[rng_next(&s) % (sizeof(words) / sizeof(words[0]))];
			for (size_t j = 0; w[j] != '\0' && i < n; j++)
				p[i++] = (uint8_t)w[j];
			if (i < n)
				p[i++] = (rng_next(&s) % 9 == 0) ? '.' : ' ';
		}
		break;
	case K_ROP:
		/* rows: a UTF-16LE subject with a number, a FILETIME, an int32, a shared prefix */
		while (i < n) {
			char subj[48];
			int sl = snprintf(subj, sizeof(subj), "Re: Quarterly report %u",
			                  (unsigned)(rng_next(&s) % 10000));
			for (int j = 0; j < sl && i < n; j++) {
				p[i++] = (uint8_t)subj[j];
				if (i < n)
					p[i++] = 0;
			}
			uint64_t ft = 0x01D9000000000000u + (rng_next(&s) & 0xFFFFFFFFFu);
			for (int j = 0; j < 8 && i < n; j++)
				p[i++] = (uint8_t)(ft >> (8 * j));
			static const uint8_t prefix[] = {0,    0,    0,    0,    0x1B, 0x55,
			                                 0xFA, 0x20, 0xAA, 0x66, 0x11, 0xCD,
			                                 0x9B, 0xC8, 0x00, 0xAA};
			for (size_t j = 0; j < sizeof(prefix) && i < n; j++)
				p[i++] = prefix[j];
			uint32_t v = (uint32_t)rng_next(&s) & 0xFFF;
			for (int j = 0; j < 4 && i < n; j++)
				p[i++] = (uint8_t)(v >> (8 * j));
		}
		break;
	case K_PERIODIC:
		for (i = 0; i < n; i++)
			p[i] = (uint8_t)("abcdefg"[i % (1 + seed % 7)]);
		break;
	default:
		break;
	}
}

/* Worst case for the encoder: every byte a literal, plus flag words. */
static size_t bound(size_t n)
{
	return n + (n / 32 + 2) * 4;
}

/* Compresses, checks the stream decodes to the input exactly, returns the size. */
static size_t round_trip(const uint8_t *in, size_t n)
{
	size_t cap = bound(n), clen = 0, dlen = 0;
	uint8_t *c = malloc(cap);
	assert_non_null(c);
	assert_int_equal(mh_lz77_compress(c, cap, in, n, &clen), S_OK);
	assert_true(clen >= 4 && clen <= cap);
	uint8_t *cx = dup_exact(c, clen);
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	assert_int_equal(mh_lz77_decompress(n ? d : NULL, n, cx, clen, &dlen), S_OK);
	assert_int_equal(dlen, n);
	if (n)
		assert_memory_equal(d, in, n);
	free(c);
	free(cx);
	free(d);
	return clen;
}

static size_t compress_exact(const uint8_t *in, size_t n, uint8_t **out)
{
	size_t cap = bound(n), clen = 0;
	uint8_t *c = malloc(cap);
	assert_non_null(c);
	assert_int_equal(mh_lz77_compress(c, cap, in, n, &clen), S_OK);
	*out = dup_exact(c, clen);
	free(c);
	return clen;
}

/* ---- vectors ------------------------------------------------------------------------ */

static void test_lz77__vectors_decode(void **state)
{
	(void)state;
	for (size_t v = 0; v < N_VECTORS; v++) {
		size_t zl, pl, out = 99;
		uint8_t *z = load_vector(vector_names[v], "lz77", &zl);
		uint8_t *plain = load_vector(vector_names[v], "plain", &pl);
		uint8_t *d = malloc(pl);
		assert_non_null(d);
		mh_status st = mh_lz77_decompress(d, pl, z, zl, &out);
		if (st != S_OK || out != pl || memcmp(d, plain, pl) != 0)
			fail_msg("vector %s does not decode", vector_names[v]);
		/* Our encoder's output for the same text must round-trip too. */
		round_trip(plain, pl);
		free(z);
		free(plain);
		free(d);
	}
}

/* The legacy stream has a zero flag word after the data: stopping late would emit NULs. */
static void test_lz77__vector_oldformat_stops_at_size(void **state)
{
	(void)state;
	size_t zl, pl, out = 0;
	uint8_t *z = load_vector("samba_test_lzxpress_oldformat", "lz77", &zl);
	uint8_t *plain = load_vector("samba_test_lzxpress_oldformat", "plain", &pl);
	uint8_t big[256];
	assert_int_equal(mh_lz77_decompress(big, sizeof(big), z, zl, &out), S_OK);
	assert_true(out > pl); /* without the size limit the padding decodes as literals */
	assert_memory_equal(big, plain, pl);
	assert_int_equal(mh_lz77_decompress(big, pl, z, zl, &out), S_OK);
	assert_int_equal(out, pl);
	free(z);
	free(plain);
}

static void test_lz77__msxca_abc_x100(void **state)
{
	(void)state;
	static const uint8_t published[] = {0xff, 0xff, 0xff, 0x1f, 0x61, 0x62, 0x63,
	                                    0x17, 0x00, 0x0f, 0xff, 0x26, 0x01};
	uint8_t plain[300], d[300], c[64];
	size_t out = 0;
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)("abc"[i % 3]);
	assert_int_equal(mh_lz77_decompress(d, sizeof(d), published, sizeof(published), &out),
	                 S_OK);
	assert_int_equal(out, 300);
	assert_memory_equal(d, plain, 300);
	/* Greedy encoding finds the same single match: 3 literals, 297 bytes at distance 3. */
	assert_int_equal(mh_lz77_compress(c, sizeof(c), plain, sizeof(plain), &out), S_OK);
	assert_int_equal(out, sizeof(published));
	assert_memory_equal(c, published, sizeof(published));
}

/* Where the published stream is the plain greedy encoding, ours must match it byte for byte. */
static void test_lz77__vectors_encode_like_published(void **state)
{
	(void)state;
	/* (The Samba streams use 3-byte matches, which a 4-byte hash does not look for.) */
	static const char *const greedy[] = {"msxca_3.1_abc_x100", "msxca_3.1_alphabet",
	                                     "samba_round_trip_fuzz1"};
	for (size_t v = 0; v < sizeof(greedy) / sizeof(greedy[0]); v++) {
		size_t zl, pl, out = 0;
		uint8_t *z = load_vector(greedy[v], "lz77", &zl);
		uint8_t *plain = load_vector(greedy[v], "plain", &pl);
		uint8_t c[256];
		assert_int_equal(mh_lz77_compress(c, sizeof(c), plain, pl, &out), S_OK);
		if (out != zl || memcmp(c, z, zl) != 0)
			fail_msg("encoding of %s differs from the published stream", greedy[v]);
		free(z);
		free(plain);
	}
}

/* ---- round trips -------------------------------------------------------------------- */

static void test_lz77__round_trip_all_lengths(void **state)
{
	(void)state;
	uint8_t buf[300];
	for (int k = 0; k < K_COUNT; k++)
		for (size_t n = 0; n <= sizeof(buf); n++) {
			fill(buf, n, (enum kind)k, 1000 + n);
			round_trip(buf, n);
		}
}

static void test_lz77__round_trip_64k(void **state)
{
	(void)state;
	size_t n = 65536;
	uint8_t *buf = malloc(n + 1000);
	assert_non_null(buf);
	for (int k = 0; k < K_COUNT; k++) {
		fill(buf, n, (enum kind)k, 7);
		size_t c = round_trip(buf, n);
		if (k == K_ZEROS)
			assert_true(c < 64);
		if (k == K_ROP || k == K_TEXT)
			assert_true(c < n / 2);
		/* sizes around the 64 KiB mark and odd tails */
		round_trip(buf, n - 1);
		fill(buf, n + 1000, (enum kind)k, 9);
		round_trip(buf, n + 1000);
	}
	free(buf);
}

/* Runs of every length class: 3-bit, nibble, byte, 16-bit, and the split beyond 65538. */
static void test_lz77__long_runs(void **state)
{
	(void)state;
	static const size_t runs[] = {3,   4,   9,   10,   11,    24,    25,    26,     279,
	                              280, 281, 300, 1000, 65537, 65538, 65539, 131077, 200000};
	for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		size_t n = runs[r] + 2;
		uint8_t *buf = malloc(n + 8);
		assert_non_null(buf);
		buf[0] = 'x';
		memset(buf + 1, 'a', n - 2);
		buf[n - 1] = 'y';
		size_t c = round_trip(buf, n);
		assert_true(c <= 4 + 3 + 2 + 4 + 2 * (runs[r] / 65538 + 1) * 6);
		/* Two-byte and seven-byte periods exercise the pattern copy. */
		for (size_t i = 1; i < n - 1; i++)
			buf[i] = (uint8_t)("ab"[i % 2]);
		round_trip(buf, n);
		for (size_t i = 1; i < n - 1; i++)
			buf[i] = (uint8_t)("abcdefg"[i % 7]);
		round_trip(buf, n);
		free(buf);
	}
}

/* Long matches in a row share their nibble bytes; chains of them must survive a round trip. */
static void test_lz77__shared_nibble_chain(void **state)
{
	(void)state;
	uint8_t buf[1200];
	uint64_t s = 42;
	size_t longest = 0;
	for (int trial = 0; trial < 20; trial++) {
		/* A short random block, then copies of slices of it (10..80 bytes) back to back. */
		for (size_t i = 0; i < 100; i++)
			buf[i] = (uint8_t)rng_next(&s);
		size_t n = 100;
		while (n < sizeof(buf) - 80) {
			size_t len = 10 + rng_next(&s) % (trial < 10 ? 15 : 70);
			size_t from = rng_next(&s) % (100 - 10);
			if (from + len > 100)
				len = 100 - from;
			memcpy(buf + n, buf + from, len);
			n += len;
		}
		round_trip(buf, n);
		uint8_t *z, d[sizeof(buf)];
		size_t zl = compress_exact(buf, n, &z), dl = 0;
		struct mh_lz77_ref_stats st;
		assert_int_equal(mh_lz77_ref_decode(z, zl, d, n, &dl, &st), 0);
		assert_int_equal(dl, n);
		assert_memory_equal(d, buf, n);
		if (st.longest_chain > longest)
			longest = st.longest_chain;
		free(z);
	}
	/* The case was exercised: several long matches with no literal between. */
	assert_true(longest >= 4);
}

/* 32 items exactly fill the first flag word: an extra all-ones word must follow. */
static void test_lz77__flag_word_exactly_full(void **state)
{
	(void)state;
	uint8_t in[40], c[128];
	size_t out = 0;
	for (size_t i = 0; i < 32; i++)
		in[i] = (uint8_t)(0x20 + i * 3);
	assert_int_equal(mh_lz77_compress(c, sizeof(c), in, 32, &out), S_OK);
	assert_int_equal(out, 4 + 32 + 4);
	static const uint8_t zero[4] = {0, 0, 0, 0}, ones[4] = {0xff, 0xff, 0xff, 0xff};
	assert_memory_equal(c, zero, 4);
	assert_memory_equal(c + 36, ones, 4);
	round_trip(in, 32);
	/* 31 literals leave one bit for the end marker: no extra word. */
	assert_int_equal(mh_lz77_compress(c, sizeof(c), in, 31, &out), S_OK);
	assert_int_equal(out, 4 + 31);
	assert_int_equal(c[0], 1);
	/* An empty input is just the end marker. */
	assert_int_equal(mh_lz77_compress(c, sizeof(c), NULL, 0, &out), S_OK);
	assert_int_equal(out, 4);
	assert_memory_equal(c, ones, 4);
}

/* ---- output limits ------------------------------------------------------------------ */

static void test_lz77__dst_too_small(void **state)
{
	(void)state;
	size_t n = 3000;
	uint8_t *in = malloc(n), *c = malloc(bound(n));
	assert_non_null(in);
	assert_non_null(c);
	for (int k = 0; k < K_COUNT; k++) {
		fill(in, n, (enum kind)k, 5);
		size_t need = 0, out = 0;
		assert_int_equal(mh_lz77_compress(c, bound(n), in, n, &need), S_OK);
		/* Exactly enough room works; every smaller room fails cleanly. */
		uint8_t *exact = malloc(need);
		assert_non_null(exact);
		assert_int_equal(mh_lz77_compress(exact, need, in, n, &out), S_OK);
		assert_int_equal(out, need);
		free(exact);
		for (size_t cap = 0; cap < need; cap++) {
			uint8_t *small = malloc(cap ? cap : 1);
			assert_non_null(small);
			out = 77;
			assert_int_equal(mh_lz77_compress(small, cap, in, n, &out), MAPI_E_TOO_BIG);
			assert_int_equal(out, 0);
			free(small);
		}
	}
	/* The "is it worth it" probe on random data. */
	fill(in, n, K_RANDOM, 11);
	size_t out = 0;
	assert_int_equal(mh_lz77_compress(c, n - 1, in, n, &out), MAPI_E_TOO_BIG);
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	assert_int_equal(e->status, MAPI_E_TOO_BIG);
	free(in);
	free(c);
}

/* ---- damaged streams ---------------------------------------------------------------- */

static void check_damaged(const uint8_t *z, size_t zl, const uint8_t *plain, size_t pl,
                          int expect_prefix)
{
	uint8_t *zx = dup_exact(z, zl);
	uint8_t *d = malloc(pl ? pl : 1);
	assert_non_null(d);
	uint8_t *r = malloc(pl ? pl : 1);
	assert_non_null(r);
	size_t out = 12345, rl = 0;
	struct mh_lz77_ref_stats rs;
	mh_status st = mh_lz77_decompress(pl ? d : NULL, pl, zl ? zx : NULL, zl, &out);
	/* The oracle must agree on the verdict and on every byte produced. */
	int rr = mh_lz77_ref_decode(z, zl, r, pl, &rl, &rs);
	assert_int_equal(st == S_OK, rr == 0);
	if (st == S_OK) {
		assert_int_equal(out, rl);
		if (out)
			assert_memory_equal(d, r, out);
	}
	/* So must the benchmark's byte loop that checks every byte it copies. */
	size_t bl = 0;
	int rb = mh_lz77_ref_decode_per_byte(z, zl, r, pl, &bl, NULL);
	assert_int_equal(rb, rr);
	if (st == S_OK) {
		assert_int_equal(bl, out);
		if (out)
			assert_memory_equal(r, d, out);
	}
	free(r);
	if (st == S_OK) {
		assert_true(out <= pl);
		if (expect_prefix && out)
			assert_memory_equal(d, plain, out);
	} else {
		assert_int_equal(st, MAPI_E_CORRUPT_DATA);
		assert_int_equal(out, 0);
	}
	free(zx);
	free(d);
}

static void test_lz77__truncations(void **state)
{
	(void)state;
	for (size_t v = 0; v < N_VECTORS; v++) {
		size_t zl, pl;
		uint8_t *z = load_vector(vector_names[v], "lz77", &zl);
		uint8_t *plain = load_vector(vector_names[v], "plain", &pl);
		for (size_t t = 0; t <= zl; t++)
			check_damaged(z, t, plain, pl, 1);
		free(z);
		free(plain);
	}
	/* Longer streams of our own, so the fast path meets the cut too. */
	size_t n = 4000;
	uint8_t *in = malloc(n);
	assert_non_null(in);
	for (int k = 0; k < K_COUNT; k++) {
		fill(in, n, (enum kind)k, 3);
		uint8_t *z;
		size_t zl = compress_exact(in, n, &z);
		for (size_t t = 0; t <= zl; t++)
			check_damaged(z, t, in, n, 1);
		free(z);
	}
	free(in);
}

static void test_lz77__bit_flips(void **state)
{
	(void)state;
	uint64_t s = 99;
	size_t n = 5000;
	uint8_t *in = malloc(n);
	assert_non_null(in);
	for (int k = 0; k < K_COUNT; k++) {
		fill(in, n, (enum kind)k, 13);
		uint8_t *z;
		size_t zl = compress_exact(in, n, &z);
		for (int round = 0; round < 400; round++) {
			uint8_t *m = dup_exact(z, zl);
			int flips = 1 + (int)(rng_next(&s) % 4);
			for (int f = 0; f < flips; f++) {
				size_t bit = rng_next(&s) % (zl * 8);
				m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
			check_damaged(m, zl, in, n, 0);
			/* also with a smaller and a larger expected size */
			check_damaged(m, zl, in, n / 2, 0);
			check_damaged(m, zl, in, n + 100, 0);
			free(m);
		}
		free(z);
	}
	for (size_t v = 0; v < N_VECTORS; v++) {
		size_t zl, pl;
		uint8_t *z = load_vector(vector_names[v], "lz77", &zl);
		uint8_t *plain = load_vector(vector_names[v], "plain", &pl);
		for (size_t bit = 0; bit < zl * 8; bit++) {
			z[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			check_damaged(z, zl, plain, pl, 0);
			z[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		free(z);
		free(plain);
	}
	free(in);
}

static void expect_corrupt_at(const uint8_t *z, size_t zl, size_t cap, size_t offset)
{
	uint8_t *zx = dup_exact(z, zl);
	uint8_t *d = malloc(cap);
	assert_non_null(d);
	size_t out = 1;
	assert_int_equal(mh_lz77_decompress(d, cap, zx, zl, &out), MAPI_E_CORRUPT_DATA);
	assert_int_equal(out, 0);
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	assert_int_equal(e->status, MAPI_E_CORRUPT_DATA);
	assert_int_equal(e->offset, (int64_t)offset);
	char want[64];
	snprintf(want, sizeof(want), "offset %zu", offset);
	if (strstr(e->message, want) == NULL)
		fail_msg("message \"%s\" does not name %s", e->message, want);
	free(zx);
	free(d);
}

static void test_lz77__distance_beyond_output(void **state)
{
	(void)state;
	/* literal 'a', then a match at distance 2: only 1 byte exists */
	static const uint8_t small[] = {0xff, 0xff, 0xff, 0x7f, 'a', 0x08, 0x00};
	expect_corrupt_at(small, sizeof(small), 10, 5);
	/* The first item may not be a match at all. */
	static const uint8_t first[] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00};
	expect_corrupt_at(first, sizeof(first), 10, 4);

	/* The same fault on the fast path: 40 literals, then distance 100. */
	uint8_t big[200];
	memset(big, 0, sizeof(big));
	size_t i = 4; /* first flag word 0: 32 literals */
	for (size_t j = 0; j < 32; j++)
		big[i++] = (uint8_t)('A' + j % 26);
	big[i++] = 0xff; /* second word 0x00ffffff: 8 literals, then matches */
	big[i++] = 0xff;
	big[i++] = 0xff;
	big[i++] = 0x00;
	for (size_t j = 0; j < 8; j++)
		big[i++] = (uint8_t)('a' + j);
	size_t at = i;
	big[i++] = (uint8_t)((99u << 3) & 0xff);
	big[i++] = (uint8_t)((99u << 3) >> 8);
	expect_corrupt_at(big, sizeof(big), 1000, at);
	/* 40 back is the first byte: fine (the zero padding then decodes as more items) */
	big[at] = (uint8_t)((39u << 3) & 0xff);
	big[at + 1] = (uint8_t)((39u << 3) >> 8);
	uint8_t out[1000];
	size_t ol = 0;
	assert_int_equal(mh_lz77_decompress(out, sizeof(out), big, sizeof(big), &ol), S_OK);
	assert_true(ol >= 43);
	assert_memory_equal(out + 40, "ABC", 3);
}

static void test_lz77__match_past_expected_size(void **state)
{
	(void)state;
	/* 'a' then a match of length 9 at distance 1: 10 bytes, but only 5 expected */
	static const uint8_t z[] = {0xff, 0xff, 0xff, 0x7f, 'a', 0x06, 0x00};
	expect_corrupt_at(z, sizeof(z), 5, 5);
	uint8_t d[10];
	size_t out = 0;
	assert_int_equal(mh_lz77_decompress(d, 10, z, sizeof(z), &out), S_OK);
	assert_int_equal(out, 10);
	assert_memory_equal(d, "aaaaaaaaaa", 10);
}

static void test_lz77__truncated_fields(void **state)
{
	(void)state;
	/* match word cut after one byte */
	static const uint8_t word[] = {0xff, 0xff, 0xff, 0x7f, 'a', 0x07};
	expect_corrupt_at(word, sizeof(word), 50, 5);
	/* nibble byte missing */
	static const uint8_t nib[] = {0xff, 0xff, 0xff, 0x7f, 'a', 0x07, 0x00};
	expect_corrupt_at(nib, sizeof(nib), 50, 7);
	/* length byte missing after nibble 15 */
	static const uint8_t lb[] = {0xff, 0xff, 0xff, 0x7f, 'a', 0x07, 0x00, 0x0f};
	expect_corrupt_at(lb, sizeof(lb), 50, 8);
	/* 16-bit length cut */
	static const uint8_t l16[] = {0xff, 0xff, 0xff, 0x7f, 'a', 0x07, 0x00, 0x0f, 0xff, 0x30};
	expect_corrupt_at(l16, sizeof(l16), 500, 9);
	/* 16-bit length below the minimum 22 */
	static const uint8_t low[] = {0xff, 0xff, 0xff, 0x7f, 'a', 0x07,
	                              0x00, 0x0f, 0xff, 0x05, 0x00};
	expect_corrupt_at(low, sizeof(low), 500, 5);
}

/*
 * Faults the word loop (long streams, margins checked once per flag word)
 * must catch itself: a distance before the start within the first 8 KiB,
 * extended lengths below 22 or beyond the expected size, and a long match
 * running past the expected size.
 */
static void test_lz77__word_loop_faults(void **state)
{
	(void)state;
	/* 20 words of 32 literals, then a word whose first item is a match */
	uint8_t z[2000];
	memset(z, 0, sizeof(z));
	size_t i = 0;
	for (int w = 0; w < 20; w++) {
		i += 4; /* flag word 0: 32 literals */
		for (int j = 0; j < 32; j++)
			z[i++] = (uint8_t)('a' + (w * 32 + j) % 26);
	}
	z[i++] = 0x00;
	z[i++] = 0x00;
	z[i++] = 0x00;
	z[i++] = 0x80;
	size_t at = i;
	/* distance 700 with 640 bytes out */
	z[i] = (uint8_t)((699u << 3) & 0xff);
	z[i + 1] = (uint8_t)((699u << 3) >> 8);
	expect_corrupt_at(z, sizeof(z), 4000, at);
	/* distance 640 is the first byte: fine */
	z[i] = (uint8_t)((639u << 3) & 0xff);
	z[i + 1] = (uint8_t)((639u << 3) >> 8);
	uint8_t *d = malloc(4000);
	assert_non_null(d);
	size_t out = 0;
	assert_int_equal(mh_lz77_decompress(d, 4000, z, sizeof(z), &out), S_OK);
	assert_memory_equal(d + 640, "abc", 3);
	/* a long match: 16-bit length 10 (< 22) */
	z[i] = (uint8_t)(((9u << 3) | 7) & 0xff);
	z[i + 1] = 0;
	z[i + 2] = 0x0f;
	z[i + 3] = 0xff;
	z[i + 4] = 10;
	z[i + 5] = 0;
	expect_corrupt_at(z, sizeof(z), 4000, at);
	/* a 32-bit length beyond the expected size */
	z[i + 4] = 0;
	z[i + 6] = 0xa1;
	z[i + 7] = 0x0f;
	z[i + 8] = 0;
	z[i + 9] = 0;
	expect_corrupt_at(z, sizeof(z), 4000, at);
	/* 3873 (+ 3) is below the expected size but runs past it */
	z[i + 6] = 0x21;
	expect_corrupt_at(z, sizeof(z), 4000, at);
	/* a run that ends exactly at the expected size is fine */
	uint8_t *d2 = malloc(640 + 3876);
	assert_non_null(d2);
	assert_int_equal(mh_lz77_decompress(d2, 640 + 3876, z, sizeof(z), &out), S_OK);
	assert_int_equal(out, 640 + 3876);
	for (size_t k = 640; k < out; k++)
		assert_int_equal(d2[k], d2[k - 10]);
	/* one byte less expected: the run is too long */
	expect_corrupt_at(z, sizeof(z), 640 + 3875, at);
	free(d2);
	free(d);
}

/*
 * Long streams whose output ends in or after long matches, so that the
 * word loop hands over to the item loop in the middle of a flag word, and
 * their truncations and bit flips, against the reference decoder.
 */
static void test_lz77__word_loop_handover(void **state)
{
	(void)state;
	static const size_t runs[] = {10, 24, 25, 40, 280, 300, 1000, 5000};
	static const size_t tails[] = {0, 1, 5, 31, 40, 320, 700};
	uint64_t s = 7;
	uint8_t *in = malloc(2000 + 5000 + 700);
	assert_non_null(in);
	for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
			size_t n = 0;
			/* incompressible head: a long input for the word loop */
			for (; n < 1500; n++)
				in[n] = (uint8_t)rng_next(&s);
			/* short matches, then the run, then a text tail */
			for (size_t k = 0; k < 400; k++, n++)
				in[n] = (uint8_t) "abcdefgh, the report "[(k * 7 + k / 21) % 21];
			memset(in + n, (int)(r + 1), runs[r]);
			n += runs[r];
			fill(in + n, tails[t], K_TEXT, r * 10 + t);
			n += tails[t];
			round_trip(in, n);
			uint8_t *z;
			size_t zl = compress_exact(in, n, &z);
			for (size_t cut = zl > 64 ? zl - 64 : 0; cut <= zl; cut++)
				check_damaged(z, cut, in, n, 1);
			for (int round = 0; round < 40; round++) {
				uint8_t *m = dup_exact(z, zl);
				size_t bit = 8 * 1400 + rng_next(&s) % ((zl - 1400) * 8);
				m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				check_damaged(m, zl, in, n, 0);
				check_damaged(m, zl, in, n - 3, 0);
				free(m);
			}
			free(z);
		}
	}
	free(in);
}

/*
 * The densest items the format allows, at every cut near the end: matches
 * with 32-bit lengths (the most input per item) and 9-byte matches (the
 * most output per item without an extended length). The exactly sized
 * buffers let ASan and valgrind check the word loop's margins.
 */
static void test_lz77__worst_case_items(void **state)
{
	(void)state;
	for (int kind = 0; kind < 2; kind++) {
		size_t cap = 4 + 1 + 40 * (4 + 32 * 10);
		uint8_t *z = malloc(cap);
		assert_non_null(z);
		size_t i = 0, total = 0;
		z[i++] = 0xff; /* first word: a literal, then 31 matches */
		z[i++] = 0xff;
		z[i++] = 0xff;
		z[i++] = 0x7f;
		z[i++] = 'x';
		total = 1;
		int half = 0;
		for (int item = 1; item < 40 * 32; item++) {
			if (item % 32 == 0) {
				memset(z + i, 0xff, 4);
				i += 4;
			}
			if (kind == 0) {
				/* distance 1, length 22 + 3 + item % 5 in a 32-bit field */
				z[i++] = 0x07;
				z[i++] = 0x00;
				if (!half)
					z[i++] = 0xff; /* both nibbles 15 */
				half = !half;
				z[i++] = 0xff;
				z[i++] = 0x00;
				z[i++] = 0x00;
				uint32_t l = 22 + (uint32_t)(item % 5);
				z[i++] = (uint8_t)l;
				z[i++] = (uint8_t)(l >> 8);
				z[i++] = 0;
				z[i++] = 0;
				total += l + 3;
			} else {
				z[i++] = 0x06; /* distance 1, length 9 */
				z[i++] = 0x00;
				total += 9;
			}
		}
		uint8_t *plain = malloc(total);
		assert_non_null(plain);
		memset(plain, 'x', total);
		/* every cut of the input, the full output expected */
		for (size_t cut = i - 400; cut <= i; cut++)
			check_damaged(z, cut, plain, total, 1);
		/* the whole input, every expected size near the end */
		for (size_t pl = total - 2000; pl <= total; pl++)
			check_damaged(z, i, plain, pl, 1);
		free(plain);
		free(z);
	}
}

/*
 * A stream writer independent of the encoder, so that tests can place any
 * item sequence (literal runs of a chosen length, matches of any distance
 * and length) where the decoder's fast loops meet it. It also produces the
 * expected output.
 */
struct sw {
	uint8_t *z, *out;
	size_t zn, on, zcap, ocap;
	size_t flagpos, half;
	uint32_t flags;
	unsigned nbits;
	int has_half;
};

static void sw_init(struct sw *w, size_t zcap, size_t ocap)
{
	memset(w, 0, sizeof(*w));
	w->z = malloc(zcap);
	w->out = malloc(ocap);
	assert_non_null(w->z);
	assert_non_null(w->out);
	w->zcap = zcap;
	w->ocap = ocap;
	w->zn = 4; /* the first flag word */
}

static void sw_bit(struct sw *w, unsigned bit)
{
	if (w->nbits == 32) {
		for (int k = 0; k < 4; k++)
			w->z[w->flagpos + (size_t)k] = (uint8_t)(w->flags >> (8 * k));
		w->flagpos = w->zn;
		w->zn += 4;
		w->flags = 0;
		w->nbits = 0;
	}
	w->flags |= (uint32_t)bit << (31 - w->nbits);
	w->nbits++;
}

static void sw_literal(struct sw *w, uint8_t c)
{
	assert_true(w->zn + 5 <= w->zcap && w->on < w->ocap);
	sw_bit(w, 0);
	w->z[w->zn++] = c;
	w->out[w->on++] = c;
}

/* n random literals. */
static void sw_random_run(struct sw *w, size_t n, uint64_t *s)
{
	for (; n > 0; n--)
		sw_literal(w, (uint8_t)rng_next(s));
}

/* 1 <= dist <= min(8192, output so far), 3 <= len <= 65538. */
static void sw_match(struct sw *w, size_t dist, size_t len)
{
	assert_true(dist >= 1 && dist <= 8192 && dist <= w->on && len >= 3 && len <= 65538);
	assert_true(w->zn + 10 <= w->zcap && w->on + len <= w->ocap);
	sw_bit(w, 1);
	size_t l = len - 3;
	uint32_t m = (uint32_t)(dist - 1) << 3 | (uint32_t)(l < 7 ? l : 7);
	w->z[w->zn++] = (uint8_t)m;
	w->z[w->zn++] = (uint8_t)(m >> 8);
	if (l >= 7) {
		size_t nib = l - 7 < 15 ? l - 7 : 15;
		if (!w->has_half) {
			w->half = w->zn;
			w->z[w->zn++] = (uint8_t)nib;
		} else {
			w->z[w->half] |= (uint8_t)(nib << 4);
		}
		w->has_half = !w->has_half;
		if (nib == 15) {
			if (l - 22 < 255) {
				w->z[w->zn++] = (uint8_t)(l - 22);
			} else {
				w->z[w->zn++] = 255;
				w->z[w->zn++] = (uint8_t)l;
				w->z[w->zn++] = (uint8_t)(l >> 8);
			}
		}
	}
	for (size_t k = 0; k < len; k++, w->on++)
		w->out[w->on] = w->out[w->on - dist];
}

/* Fills the current flag word with 1-bits (the end marker) and stores it. */
static void sw_finish(struct sw *w)
{
	uint32_t rest = w->nbits == 32 ? 0 : 0xFFFFFFFFu >> w->nbits;
	w->flags |= rest;
	for (int k = 0; k < 4; k++)
		w->z[w->flagpos + (size_t)k] = (uint8_t)(w->flags >> (8 * k));
	if (w->nbits == 32) {
		memset(w->z + w->zn, 0xff, 4);
		w->zn += 4;
	}
}

static void sw_free(struct sw *w)
{
	free(w->z);
	free(w->out);
}

/*
 * Decodes the whole stream exactly, then every cut of its last `cuts` input
 * bytes and every expected size down to `sizes` bytes below the full one,
 * each against the reference decoder and exactly sized buffers.
 */
static void check_stream(const struct sw *w, size_t cuts, size_t sizes)
{
	uint8_t *zx = dup_exact(w->z, w->zn);
	uint8_t *d = malloc(w->on);
	assert_non_null(d);
	size_t out = 0;
	assert_int_equal(mh_lz77_decompress(d, w->on, zx, w->zn, &out), S_OK);
	assert_int_equal(out, w->on);
	assert_memory_equal(d, w->out, w->on);
	free(d);
	free(zx);
	for (size_t cut = w->zn > cuts ? w->zn - cuts : 0; cut < w->zn; cut++)
		check_damaged(w->z, cut, w->out, w->on, 1);
	for (size_t pl = w->on > sizes ? w->on - sizes : 0; pl < w->on; pl++)
		check_damaged(w->z, w->zn, w->out, pl, 1);
}

/*
 * Literal runs of every length around the 16-byte literal block of the
 * word loop (a word with a run over 16 takes the 32-byte variant), before
 * and after the first 8 KiB (where the distance checks stop), up to the
 * end of the output, where the runs cross into the item and byte loops.
 */
static void test_lz77__word_loop_literal_runs(void **state)
{
	(void)state;
	static const size_t runs[] = {0, 1, 2, 15, 16, 17, 18, 31, 32, 33, 47, 64};
	uint64_t s = 21;
	for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		struct sw w;
		sw_init(&w, 40000, 40000);
		sw_random_run(&w, 300, &s);
		while (w.on < 12000) {
			sw_match(&w, 16 + rng_next(&s) % 280, 3 + rng_next(&s) % 7);
			for (size_t k = 0; k < runs[r]; k++)
				sw_literal(&w, (uint8_t)('a' + rng_next(&s) % 26));
		}
		/* a last stretch of literals only, so that a run ends the output */
		sw_random_run(&w, 2 * runs[r] + 5, &s);
		sw_finish(&w);
		check_stream(&w, 500, 400);
		sw_free(&w);
	}
}

/*
 * Matches of distance 1..20 (the overlapping ones need the careful
 * copies) and of every length class, inside the word loop and at the very
 * end of the output: the last item is a match that ends exactly at
 * dst_cap, with no room for an overlong copy.
 */
static void test_lz77__word_loop_overlaps(void **state)
{
	(void)state;
	static const size_t lens[] = {3, 4, 7, 8, 9, 10, 15, 16, 17, 24, 25, 31, 32, 33, 279, 280};
	uint64_t s = 33;
	for (size_t dist = 1; dist <= 20; dist++) {
		for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
			struct sw w;
			sw_init(&w, 40000, 40000);
			sw_random_run(&w, 40, &s);
			while (w.on < (lens[li] > 100 ? 9500u : 8600u)) {
				sw_match(&w, dist, lens[li]);
				sw_random_run(&w, rng_next(&s) % 3, &s);
			}
			sw_match(&w, dist, lens[li]);
			sw_finish(&w);
			check_stream(&w, 40, 40);
			sw_free(&w);
		}
	}
}

/*
 * A stream mixing every item kind, cut at every input position: the cut
 * lands in the first word loop, the distance-checked one and the
 * unchecked one, in long-length fields, and in the item and byte loops.
 */
static void test_lz77__mixed_stream_every_cut(void **state)
{
	(void)state;
	uint64_t s = 45;
	struct sw w;
	sw_init(&w, 20000, 20000);
	sw_random_run(&w, 64, &s);
	while (w.on < 9000) {
		uint64_t r = rng_next(&s);
		switch (r % 6) {
		case 0:
			for (size_t k = (r >> 8) % 24; k > 0; k--)
				sw_literal(&w, (uint8_t)(r >> (k % 32)));
			break;
		case 1:
		case 2:
			sw_match(&w, 16 + (r >> 8) % (w.on - 16 < 8176 ? w.on - 16 : 8176),
			         3 + (r >> 24) % 7);
			break;
		case 3:
			sw_match(&w, 1 + (r >> 8) % 15, 3 + (r >> 24) % 30);
			break;
		case 4:
			sw_match(&w, 1 + (r >> 8) % (w.on < 8192 ? w.on : 8192),
			         10 + (r >> 24) % 300);
			break;
		default:
			sw_literal(&w, (uint8_t)r);
			break;
		}
	}
	sw_finish(&w);
	check_stream(&w, w.zn, 0);
	sw_free(&w);
}

/* The 32-bit length extension (never written by us) decodes or fails cleanly. */
static void test_lz77__u32_length(void **state)
{
	(void)state;
	static const uint8_t z[] = {0xff, 0xff, 0xff, 0x7f, 'a',  0x07, 0x00, 0x0f,
	                            0xff, 0x00, 0x00, 0x61, 0x00, 0x00, 0x00};
	uint8_t d[101];
	size_t out = 0;
	assert_int_equal(mh_lz77_decompress(d, sizeof(d), z, sizeof(z), &out), S_OK);
	assert_int_equal(out, 101);
	for (size_t i = 0; i < out; i++)
		assert_int_equal(d[i], 'a');
	/* a 32-bit length far beyond the expected size */
	static const uint8_t huge[] = {0xff, 0xff, 0xff, 0x7f, 'a',  0x07, 0x00, 0x0f,
	                               0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff};
	expect_corrupt_at(huge, sizeof(huge), 101, 5);
	/* and cut off */
	expect_corrupt_at(huge, 13, 101, 11);
}

/* A stream that ends early is not an error: the caller sees the short length. */
static void test_lz77__short_stream(void **state)
{
	(void)state;
	size_t zl, pl, out = 0;
	uint8_t *z = load_vector("msxca_3.1_alphabet", "lz77", &zl);
	uint8_t *plain = load_vector("msxca_3.1_alphabet", "plain", &pl);
	uint8_t d[100];
	assert_int_equal(mh_lz77_decompress(d, sizeof(d), z, zl, &out), S_OK);
	assert_int_equal(out, pl);
	assert_memory_equal(d, plain, pl);
	/* cut inside the literals */
	assert_int_equal(mh_lz77_decompress(d, sizeof(d), z, 10, &out), S_OK);
	assert_int_equal(out, 6);
	/* fewer than 4 bytes: not even a flag word */
	assert_int_equal(mh_lz77_decompress(d, sizeof(d), z, 3, &out), S_OK);
	assert_int_equal(out, 0);
	free(z);
	free(plain);
}

static void test_lz77__invalid_parameters(void **state)
{
	(void)state;
	uint8_t b[8] = {0};
	size_t out = 5;
	assert_int_equal(mh_lz77_decompress(b, 8, b, 8, NULL), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_lz77_decompress(NULL, 8, b, 8, &out), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_lz77_decompress(b, 8, NULL, 8, &out), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_lz77_compress(b, 8, b, 8, NULL), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_lz77_compress(NULL, 8, b, 8, &out), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_lz77_compress(b, 8, NULL, 8, &out), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_lz77_decompress(NULL, 0, NULL, 0, &out), S_OK);
	assert_int_equal(out, 0);
	assert_int_equal(mh_lz77_decompress(NULL, 0, b, 8, &out), S_OK);
	assert_int_equal(out, 0);
}

/* ---- fast-path boundaries, both decoders ---------------------------------------------- */

/*
 * check_damaged for both decoders: each must agree with the oracle on the
 * verdict and on every byte produced, and the two must report the same
 * error at the same offset.
 */
static void check_paths(const uint8_t *z, size_t zl, const uint8_t *plain, size_t pl)
{
	check_damaged(z, zl, plain, pl, 1);
	int64_t want_off = -2;
	size_t out = 7;
	uint8_t *zx = dup_exact(z, zl);
	uint8_t *d = malloc(pl ? pl : 1);
	assert_non_null(d);
	mh_status st = mh_lz77_decompress(pl ? d : NULL, pl, zl ? zx : NULL, zl, &out);
	if (st != S_OK)
		want_off = mh_error_last()->offset;
	uint8_t *r = malloc(pl ? pl : 1);
	assert_non_null(r);
	size_t rl = 0;
	int rr = mh_lz77_ref_decode(z, zl, r, pl, &rl, NULL);
	mh_status sp = mh_lz77_decompress_portable(pl ? d : NULL, pl, zl ? zx : NULL, zl, &out);
	assert_int_equal(sp, st);
	assert_int_equal(sp == S_OK, rr == 0);
	if (sp == S_OK) {
		assert_int_equal(out, rl);
		if (out) {
			assert_memory_equal(d, r, out);
			assert_memory_equal(d, plain, out);
		}
	} else {
		assert_int_equal(sp, MAPI_E_CORRUPT_DATA);
		assert_int_equal(out, 0);
		assert_int_equal(mh_error_last()->offset, want_off);
	}
	free(r);
	free(d);
	free(zx);
}

/* check_stream with both decoders: the whole stream, its last cuts, smaller expected sizes. */
static void check_stream_paths(const struct sw *w, size_t cuts, size_t sizes)
{
	check_paths(w->z, w->zn, w->out, w->on);
	for (size_t cut = w->zn > cuts ? w->zn - cuts : 0; cut < w->zn; cut++)
		check_paths(w->z, cut, w->out, w->on);
	for (size_t pl = w->on > sizes ? w->on - sizes : 0; pl < w->on; pl++)
		check_paths(w->z, w->zn, w->out, pl);
}

/* Random literals up to `upto` bytes of output, in runs that never need the long-run copy. */
static void sw_random_literals(struct sw *w, size_t upto, uint64_t *s)
{
	if (w->on < upto)
		sw_random_run(w, upto - w->on, s);
}

/*
 * Every short match (3..9 bytes) at every distance 1..16, with no literal
 * after it, one, 13, 16 (the most one literal block holds) or 17: the
 * single-block copy (distance at least 9), the careful one (1..8), and
 * the literal block that follows, in the distance-checked first 8 KiB and
 * after it. The last item is such a match ending exactly at dst_cap, and
 * the ends of input and output are cut at every position.
 */
static void test_lz77__short_matches_every_distance(void **state)
{
	(void)state;
	static const size_t gaps[] = {0, 1, 13, 16, 17};
	uint64_t s = 51;
	for (int late = 0; late < 2; late++) {
		for (size_t dist = 1; dist <= 16; dist++) {
			for (size_t len = 3; len <= 9; len++) {
				for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
					struct sw w;
					sw_init(&w, 20000, 20000);
					sw_random_literals(&w, late ? 8300 : 20, &s);
					size_t end = w.on + 900;
					while (w.on < end) {
						sw_match(&w, dist, len);
						sw_random_run(&w, gaps[g], &s);
					}
					sw_match(&w, dist, len);
					sw_finish(&w);
					check_stream_paths(&w, 24, 24);
					sw_free(&w);
				}
			}
		}
	}
}

/*
 * Matches in the first 8 KiB that reach back to the first byte of the
 * output or just short of it, at every item position of a flag word, and
 * one that reaches a byte further, which is corrupt. The word loop passes
 * a short match there with one compare against the output length at the
 * start of its word, and leaves any match reaching into the word's own
 * output to the exact check: both sides of that line are crossed here.
 */
static void test_lz77__first_window_reach(void **state)
{
	(void)state;
	uint64_t s = 61;
	for (size_t lead = 300; lead < 300 + 32; lead++) {
		struct sw w;
		sw_init(&w, 20000, 20000);
		sw_random_literals(&w, lead, &s);
		size_t bad_at = 0, bad_on = 0, bad_len = 0, n = 0;
		while (w.on < 8000) {
			size_t len = 3 + rng_next(&s) % 7, on = w.on, before = w.zn;
			sw_match(&w, on - rng_next(&s) % 3, len);
			if (n++ == lead - 290) {
				bad_on = on;
				bad_len = len;
				bad_at = w.flagpos == before ? before + 4 : before;
			}
			sw_random_run(&w, rng_next(&s) % 3, &s);
		}
		sw_finish(&w);
		check_stream_paths(&w, 8, 8);
		assert_true(bad_at != 0);
		/* one byte further than the output reaches */
		uint32_t m = (uint32_t)bad_on << 3 | (uint32_t)(bad_len - 3);
		w.z[bad_at] = (uint8_t)m;
		w.z[bad_at + 1] = (uint8_t)(m >> 8);
		expect_corrupt_at(w.z, w.zn, w.on, bad_at);
		check_paths(w.z, w.zn, w.out, w.on);
		sw_free(&w);
	}
}

/*
 * Literal runs of 1..40 bytes that end the output exactly at dst_cap,
 * after short matches at distances that take each copy path, so that the
 * last words leave the word loop with a run in flight; every cut of the
 * last 48 input bytes and every expected size down to 48 bytes less.
 */
static void test_lz77__runs_end_at_capacity(void **state)
{
	(void)state;
	static const size_t dists[] = {1, 4, 8, 9, 15, 16, 300};
	uint64_t s = 52;
	for (size_t run = 1; run <= 40; run++) {
		for (size_t di = 0; di < sizeof(dists) / sizeof(dists[0]); di++) {
			struct sw w;
			sw_init(&w, 8000, 8000);
			sw_random_literals(&w, 400, &s);
			while (w.on < 3000) {
				sw_match(&w, dists[di], 3 + rng_next(&s) % 7);
				sw_random_run(&w, rng_next(&s) % 3, &s);
			}
			for (size_t k = 0; k < run; k++)
				sw_literal(&w, (uint8_t)('a' + k % 26));
			sw_finish(&w);
			check_stream_paths(&w, 48, 48);
			sw_free(&w);
		}
	}
}

/*
 * Extended lengths (nibble, byte and 16-bit fields) followed by short
 * items, ending within the word loop's input margin of the end of the
 * input: the loop must hand over to the item loop after the long match
 * when too little input is left, and every cut must still agree.
 */
static void test_lz77__extended_lengths_near_input_end(void **state)
{
	(void)state;
	static const size_t lens[] = {10, 24, 25, 279, 280, 300, 2000};
	static const size_t tails[] = {0, 3, 20, 60, 100, 150, 170, 250};
	uint64_t s = 53;
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
			struct sw w;
			sw_init(&w, 4000, 4000 + 40 * (lens[li] + 10));
			sw_random_literals(&w, 600, &s);
			for (int k = 0; k < 40; k++) {
				sw_match(&w, 1 + rng_next(&s) % 500, lens[li]);
				sw_match(&w, 20 + rng_next(&s) % 200, 3 + rng_next(&s) % 7);
				sw_literal(&w, (uint8_t)rng_next(&s));
			}
			/* the tail: short items worth about tails[t] input bytes */
			size_t zstop = w.zn + tails[t];
			while (w.zn < zstop) {
				if (rng_next(&s) % 3 == 0)
					sw_literal(&w, (uint8_t)rng_next(&s));
				else
					sw_match(&w, 9 + rng_next(&s) % 300, 3 + rng_next(&s) % 7);
			}
			sw_finish(&w);
			check_stream_paths(&w, 200, 64);
			sw_free(&w);
		}
	}
}

/*
 * Random item streams (any literal run, any distance the output allows,
 * every length class), whole, cut, and with a bit flipped: both decoders
 * and the oracle agree.
 */
static void test_lz77__portable_matches_dispatch(void **state)
{
	(void)state;
	uint64_t s = 54;
	for (int round = 0; round < 150; round++) {
		struct sw w;
		size_t target = 200 + rng_next(&s) % 20000;
		sw_init(&w, target + 12000, target + 70000);
		sw_literal(&w, (uint8_t)rng_next(&s));
		while (w.on < target) {
			uint64_t r = rng_next(&s);
			size_t maxd = w.on < 8192 ? w.on : 8192;
			switch (r % 8) {
			case 0:
			case 1:
				for (size_t k = (r >> 8) % 40; k > 0; k--)
					sw_literal(&w, (uint8_t)(r >> (k % 48)));
				break;
			case 2:
			case 3:
			case 4:
				sw_match(&w, 1 + (r >> 8) % maxd, 3 + (r >> 24) % 7);
				break;
			case 5:
				sw_match(&w, 1 + (r >> 8) % (maxd < 16 ? maxd : 16),
				         3 + (r >> 24) % 7);
				break;
			case 6:
				sw_match(&w, 1 + (r >> 8) % maxd, 10 + (r >> 24) % 300);
				break;
			default:
				sw_literal(&w, (uint8_t)r);
				break;
			}
		}
		sw_finish(&w);
		check_paths(w.z, w.zn, w.out, w.on);
		check_paths(w.z, rng_next(&s) % (w.zn + 1), w.out, w.on);
		check_paths(w.z, w.zn, w.out, rng_next(&s) % (w.on + 1));
		uint8_t *m = dup_exact(w.z, w.zn);
		size_t bit = rng_next(&s) % (w.zn * 8);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		check_damaged(m, w.zn, w.out, w.on, 0);
		uint8_t *d1 = malloc(w.on), *d2 = malloc(w.on);
		assert_non_null(d1);
		assert_non_null(d2);
		size_t o1 = 0, o2 = 0;
		mh_status s1 = mh_lz77_decompress(d1, w.on, m, w.zn, &o1);
		mh_status s2 = mh_lz77_decompress_portable(d2, w.on, m, w.zn, &o2);
		assert_int_equal(s1, s2);
		assert_int_equal(o1, o2);
		if (o1)
			assert_memory_equal(d1, d2, o1);
		free(d1);
		free(d2);
		free(m);
		sw_free(&w);
	}
}

/* ---- XorMagic ----------------------------------------------------------------------- */

static void test_lz77__xormagic_vector(void **state)
{
	(void)state;
	size_t pl, xl;
	uint8_t *p = load_hex(MISC_DIR "xormagic.plain.hex", &pl);
	uint8_t *x = load_hex(MISC_DIR "xormagic.xored.hex", &xl);
	assert_int_equal(pl, xl);
	mh_xor_magic(p, pl);
	assert_memory_equal(p, x, pl);
	free(p);
	free(x);
}

static void test_lz77__xormagic_twice_is_identity(void **state)
{
	(void)state;
	uint8_t orig[160], buf[160];
	uint64_t s = 5;
	for (size_t i = 0; i < sizeof(orig); i++)
		orig[i] = (uint8_t)rng_next(&s);
	for (size_t align = 0; align < 16; align++)
		for (size_t len = 0; len <= 100; len++) {
			memcpy(buf, orig, sizeof(buf));
			mh_xor_magic(buf + align, len);
			for (size_t i = 0; i < sizeof(buf); i++) {
				uint8_t want = orig[i];
				if (i >= align && i < align + len)
					want ^= 0xA5;
				assert_int_equal(buf[i], want);
			}
			mh_xor_magic(buf + align, len);
			assert_memory_equal(buf, orig, sizeof(buf));
		}
	mh_xor_magic(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lz77__vectors_decode),
	    cmocka_unit_test(test_lz77__vector_oldformat_stops_at_size),
	    cmocka_unit_test(test_lz77__msxca_abc_x100),
	    cmocka_unit_test(test_lz77__vectors_encode_like_published),
	    cmocka_unit_test(test_lz77__round_trip_all_lengths),
	    cmocka_unit_test(test_lz77__round_trip_64k),
	    cmocka_unit_test(test_lz77__long_runs),
	    cmocka_unit_test(test_lz77__shared_nibble_chain),
	    cmocka_unit_test(test_lz77__flag_word_exactly_full),
	    cmocka_unit_test(test_lz77__dst_too_small),
	    cmocka_unit_test(test_lz77__truncations),
	    cmocka_unit_test(test_lz77__bit_flips),
	    cmocka_unit_test(test_lz77__distance_beyond_output),
	    cmocka_unit_test(test_lz77__match_past_expected_size),
	    cmocka_unit_test(test_lz77__truncated_fields),
	    cmocka_unit_test(test_lz77__word_loop_faults),
	    cmocka_unit_test(test_lz77__word_loop_handover),
	    cmocka_unit_test(test_lz77__worst_case_items),
	    cmocka_unit_test(test_lz77__word_loop_literal_runs),
	    cmocka_unit_test(test_lz77__word_loop_overlaps),
	    cmocka_unit_test(test_lz77__mixed_stream_every_cut),
	    cmocka_unit_test(test_lz77__u32_length),
	    cmocka_unit_test(test_lz77__short_stream),
	    cmocka_unit_test(test_lz77__invalid_parameters),
	    cmocka_unit_test(test_lz77__short_matches_every_distance),
	    cmocka_unit_test(test_lz77__first_window_reach),
	    cmocka_unit_test(test_lz77__runs_end_at_capacity),
	    cmocka_unit_test(test_lz77__extended_lengths_near_input_end),
	    cmocka_unit_test(test_lz77__portable_matches_dispatch),
	    cmocka_unit_test(test_lz77__xormagic_vector),
	    cmocka_unit_test(test_lz77__xormagic_twice_is_identity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
