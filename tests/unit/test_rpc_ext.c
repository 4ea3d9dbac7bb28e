/*
 * Extended-buffer (RPC_HEADER_EXT) tests: published and constructed
 * vectors, every RopBuffer in the gromox captures, re-encoding, randomized
 * round trips, each validation rule with its offset, truncations, bit flips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/emsmdb.h"
#include "codec/rpc_ext.h"
#include "mapihttp/lz77.h"
#include "mapihttp/status.h"
#include "vectors.h"

#define WIRE_DIR   MH_VECTORS_DIR "/wire/"
#define GROMOX_DIR MH_VECTORS_DIR "/gromox"

static uint8_t *load(const char *path, size_t *len)
{
	uint8_t *p = mh_vector_read_hex(path, len);
	if (p == NULL)
		fail_msg("cannot read %s", path);
	return p;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Decodes an exact-size heap copy, so that ASan sees any overread. */
static mh_status decode_copy(const uint8_t *p, size_t n, mh_arena *a, mh_rpc_ext_chain *out)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	mh_status st = mh_rpc_ext_decode(n ? d : NULL, n, 0, a, 0, out);
	/* out points into the arena only, never into d */
	free(d);
	return st;
}

/* ---- vectors ------------------------------------------------------------------------ */

static void test_rpc_ext__msoxcrpc_header(void **state)
{
	(void)state;
	size_t n;
	uint8_t *v = load(WIRE_DIR "misc/msoxcrpc_4.2_rpc_header_ext_and_ropsize.hex", &n);
	assert_int_equal(n, 10);
	mh_cursor c;
	mh_rpc_ext_header h;
	mh_cursor_init(&c, v, n, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rpc_ext_header_pull(&c, &h), S_OK);
	assert_int_equal(h.version, 0);
	assert_int_equal(h.flags, MH_RPC_EXT_LAST);
	assert_int_equal(h.size, 0x152);
	assert_int_equal(h.size_actual, 0x152);
	/* re-encode the header */
	mh_buf b = MH_BUF_INIT;
	mh_rpc_ext_header_push(&b, &h);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_memory_equal(b.data, v, 8);
	mh_buf_free(&b);
	/* The excerpt holds 2 of the 338 payload bytes: the chain is cut short. */
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_rpc_ext_chain ch;
	assert_int_equal(mh_rpc_ext_decode(v, n, 100, &a, 0, &ch), MAPI_E_CORRUPT_DATA);
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	assert_int_equal(e->offset, 104);
	assert_non_null(strstr(e->message, "Size 338"));
	assert_non_null(strstr(e->message, "byte 100"));
	mh_arena_free(&a);
	free(v);
}

static void test_rpc_ext__constructed_vectors(void **state)
{
	(void)state;
	size_t np, nc, nl;
	uint8_t *plain = load(WIRE_DIR "rops/rop_input_buffer_two_logons.hex", &np);
	uint8_t *comp = load(WIRE_DIR "rops/rop_input_buffer_two_logons_compressed_xored.hex", &nc);
	uint8_t *logon = load(WIRE_DIR "rops/rop_input_buffer_roplogon_with_header.hex", &nl);
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_rpc_ext_chain cp, cc, cl;
	assert_int_equal(decode_copy(plain, np, &a, &cp), S_OK);
	assert_int_equal(decode_copy(comp, nc, &a, &cc), S_OK);
	assert_int_equal(decode_copy(logon, nl, &a, &cl), S_OK);

	assert_int_equal(cp.n_segs, 1);
	assert_int_equal(cp.segs[0].hdr.flags, MH_RPC_EXT_LAST);
	assert_int_equal(cp.len, np - 8);
	assert_memory_equal(cp.data, plain + 8, np - 8);

	assert_int_equal(cc.n_segs, 1);
	assert_int_equal(cc.segs[0].hdr.flags,
	                 MH_RPC_EXT_COMPRESSED | MH_RPC_EXT_XORMAGIC | MH_RPC_EXT_LAST);
	assert_true(cc.segs[0].hdr.size < cc.segs[0].hdr.size_actual);
	assert_int_equal(cc.segs[0].hdr.size, nc - 8);
	/* same ROP buffer as the plain vector */
	assert_int_equal(cc.len, cp.len);
	assert_memory_equal(cc.data, cp.data, cp.len);
	/* RopSize counts itself and leaves two handle-table entries */
	assert_int_equal((cp.len - le16(cp.data)) / 4, 2);

	assert_int_equal(cl.n_segs, 1);
	assert_int_equal(cl.len, nl - 8);

	/* Our own writer: plain re-encodes byte for byte; compressed+XOR decodes back. */
	mh_buf b = MH_BUF_INIT;
	assert_int_equal(mh_rpc_ext_push(&b, cp.data, cp.len, NULL), S_OK);
	assert_int_equal(b.len, np);
	assert_memory_equal(b.data, plain, np);
	mh_buf_free(&b);
	mh_rpc_ext_options o = MH_RPC_EXT_OPTIONS_INIT;
	o.compress = o.xor_magic = true;
	assert_int_equal(mh_rpc_ext_push(&b, cp.data, cp.len, &o), S_OK);
	assert_int_equal(le16(b.data + 2), 0x0007);
	assert_true(b.len < np);
	mh_rpc_ext_chain back;
	assert_int_equal(decode_copy(b.data, b.len, &a, &back), S_OK);
	assert_int_equal(back.len, cp.len);
	assert_memory_equal(back.data, cp.data, cp.len);
	mh_buf_free(&b);

	mh_arena_free(&a);
	free(plain);
	free(comp);
	free(logon);
}

/* Every RopBuffer gromox sent or received decodes, and the plain ones re-encode. */
static void test_rpc_ext__gromox_rop_buffers(void **state)
{
	(void)state;
	char **names;
	long n = mh_vector_list(GROMOX_DIR, &names);
	assert_true(n > 0);
	int requests = 0, responses = 0, compressed = 0, reencoded = 0;
	for (long i = 0; i < n; i++) {
		bool req = mh_vector_has_suffix(names[i], ".req"),
		     resp = mh_vector_has_suffix(names[i], ".resp-body");
		char path[512], type[64];
		if (!req && !resp)
			continue;
		snprintf(path, sizeof(path), "%s/%s.hex", GROMOX_DIR, names[i]);
		if (!mh_vector_request_type(path, type, sizeof(type)) ||
		    strcmp(type, "Execute") != 0)
			continue;
		size_t len;
		uint8_t *body = load(path, &len);
		mh_arena a;
		mh_arena_init(&a, 0);
		mh_cursor c;
		mh_cursor_init(&c, body, len, MAPI_E_CORRUPT_DATA);
		mh_emsmdb_bytes rb;
		size_t rb_off;
		if (req) {
			mh_emsmdb_execute_request r;
			if (mh_emsmdb_execute_request_pull(&c, &a, &r) != S_OK) {
				/* error_* captures send deliberately broken bodies */
				assert_true(strncmp(names[i], "error_", 6) == 0);
				mh_arena_free(&a);
				free(body);
				continue;
			}
			rb = r.rop_buffer;
			rb_off = 8;
			requests++;
		} else {
			mh_emsmdb_execute_response r;
			assert_int_equal(mh_emsmdb_execute_response_pull(&c, &a, &r), S_OK);
			rb = r.rop_buffer;
			rb_off = 16;
			responses++;
			if (rb.len == 0) {
				/* gromox: ErrorCode set, no ROP output */
				assert_int_not_equal(r.error_code, 0);
				mh_arena_free(&a);
				free(body);
				continue;
			}
		}
		mh_rpc_ext_chain ch;
		mh_status st = mh_rpc_ext_decode(rb.data, rb.len, rb_off, &a, 0, &ch);
		if (st != S_OK)
			fail_msg("%s: %s", names[i], mh_error_last()->message);
		assert_true(ch.n_segs >= 1);
		assert_true(ch.segs[ch.n_segs - 1].hdr.flags & MH_RPC_EXT_LAST);
		size_t sum = 0;
		for (size_t s = 0; s < ch.n_segs; s++)
			sum += ch.segs[s].hdr.size_actual;
		assert_int_equal(ch.len, sum);
		/* Each payload is a ROP buffer: RopSize >= 2 and within the payload,
		 * the rest a whole number of 4-byte handles. */
		assert_true(ch.segs[0].len >= 2);
		uint16_t ropsize = le16(ch.segs[0].data);
		assert_true(ropsize >= 2 && ropsize <= ch.segs[0].len);
		assert_int_equal((ch.segs[0].len - ropsize) % 4, 0);
		if (ch.segs[0].hdr.flags & MH_RPC_EXT_COMPRESSED) {
			compressed++;
			assert_true(ch.segs[0].hdr.flags & MH_RPC_EXT_XORMAGIC);
			assert_true(ch.segs[0].hdr.size < ch.segs[0].hdr.size_actual);
		} else if (ch.n_segs == 1) {
			mh_buf b = MH_BUF_INIT;
			assert_int_equal(mh_rpc_ext_push(&b, ch.data, ch.len, NULL), S_OK);
			assert_int_equal(b.len, rb.len);
			assert_memory_equal(b.data, rb.data, rb.len);
			mh_buf_free(&b);
			reencoded++;
		}
		mh_arena_free(&a);
		free(body);
	}
	mh_vector_list_free(names, n);
	/* the set: 16 Execute requests and 19 responses, one request compressed */
	assert_true(requests >= 15);
	assert_true(responses >= 15);
	assert_int_equal(compressed, 1);
	assert_true(reencoded >= 25);
}

/* alice_10: the compressed+XORed request, checked field by field. */
static void test_rpc_ext__gromox_compressed_request(void **state)
{
	(void)state;
	size_t len;
	uint8_t *body =
	    load(GROMOX_DIR "/emsmdb_alice_10_execute_request_compressed_xor.req.hex", &len);
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_cursor c;
	mh_cursor_init(&c, body, len, MAPI_E_CORRUPT_DATA);
	mh_emsmdb_execute_request r;
	assert_int_equal(mh_emsmdb_execute_request_pull(&c, &a, &r), S_OK);
	assert_int_equal(r.flags, 3);
	assert_int_equal(r.rop_buffer.len, 0x4e);
	assert_int_equal(r.max_rop_out, 0x18008);
	mh_rpc_ext_chain ch;
	assert_int_equal(mh_rpc_ext_decode(r.rop_buffer.data, r.rop_buffer.len, 8, &a, 0, &ch),
	                 S_OK);
	assert_int_equal(ch.n_segs, 1);
	assert_int_equal(ch.segs[0].hdr.size, 0x46);
	assert_int_equal(ch.segs[0].hdr.size_actual, 0x6c);
	assert_int_equal(ch.len, 0x6c);
	/* RopSize 0x64, then RopGetPropertiesSpecific (0x07), and the handle table [0, 1] */
	assert_int_equal(le16(ch.data), 0x64);
	assert_int_equal(ch.data[2], 0x07);
	const uint8_t handles[8] = {0, 0, 0, 0, 1, 0, 0, 0};
	assert_memory_equal(ch.data + 0x64, handles, 8);
	mh_arena_free(&a);
	free(body);
}

/* ---- writer ------------------------------------------------------------------------- */

static void test_rpc_ext__push_rules(void **state)
{
	(void)state;
	mh_buf b = MH_BUF_INIT;
	/* empty payload: one empty Last buffer */
	assert_int_equal(mh_rpc_ext_push(&b, NULL, 0, NULL), S_OK);
	const uint8_t empty[8] = {0, 0, 4, 0, 0, 0, 0, 0};
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, empty, 8);
	mh_buf_free(&b);

	/* incompressible data stays plain even when compression is allowed */
	uint8_t rnd[300];
	uint64_t seed = 7;
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)mh_test_rng_next(&seed);
	mh_rpc_ext_options o = MH_RPC_EXT_OPTIONS_INIT;
	o.compress = true;
	assert_int_equal(mh_rpc_ext_push(&b, rnd, sizeof(rnd), &o), S_OK);
	assert_int_equal(le16(b.data + 2), MH_RPC_EXT_LAST);
	assert_int_equal(b.len, 8 + sizeof(rnd));
	mh_buf_free(&b);

	/* zeros compress */
	uint8_t zeros[1000] = {0};
	assert_int_equal(mh_rpc_ext_push(&b, zeros, sizeof(zeros), &o), S_OK);
	assert_int_equal(le16(b.data + 2), MH_RPC_EXT_LAST | MH_RPC_EXT_COMPRESSED);
	assert_true(le16(b.data + 4) < 1000);
	assert_int_equal(le16(b.data + 6), 1000);
	mh_buf_free(&b);

	/* splitting at max_payload; Last only on the final buffer */
	o.compress = false;
	o.max_payload = 100;
	assert_int_equal(mh_rpc_ext_push(&b, rnd, 250, &o), S_OK);
	assert_int_equal(b.len, 3 * 8 + 250);
	assert_int_equal(le16(b.data + 2), 0);
	assert_int_equal(le16(b.data + 4), 100);
	assert_int_equal(le16(b.data + 108 + 2), 0);
	assert_int_equal(le16(b.data + 216 + 2), MH_RPC_EXT_LAST);
	assert_int_equal(le16(b.data + 216 + 4), 50);
	mh_buf_free(&b);

	/* one buffer over 32 KiB, bad options, NULL payload: refused, sticky */
	uint8_t *big = calloc(1, MH_RPC_EXT_MAX_PAYLOAD + 1);
	assert_non_null(big);
	assert_int_equal(mh_rpc_ext_push_one(&b, big, MH_RPC_EXT_MAX_PAYLOAD + 1, NULL, true),
	                 MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	assert_int_equal(mh_rpc_ext_push_one(&b, big, MH_RPC_EXT_MAX_PAYLOAD, NULL, true), S_OK);
	assert_int_equal(b.len, 8 + MH_RPC_EXT_MAX_PAYLOAD);
	mh_buf_free(&b);
	free(big);
	o = (mh_rpc_ext_options)MH_RPC_EXT_OPTIONS_INIT;
	o.max_payload = MH_RPC_EXT_MAX_PAYLOAD + 1;
	assert_int_equal(mh_rpc_ext_push(&b, rnd, 10, &o), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	o.max_payload = 0;
	o.version = 2;
	assert_int_equal(mh_rpc_ext_push(&b, rnd, 10, &o), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	assert_int_equal(mh_rpc_ext_push_one(&b, NULL, 5, NULL, true), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
}

static void fill_payload(uint8_t *p, size_t n, int kind, uint64_t *seed)
{
	for (size_t i = 0; i < n; i++) {
		switch (kind) {
		case 0:
			p[i] = (uint8_t)mh_test_rng_next(seed);
			break;
		case 1:
			p[i] = (uint8_t)("abcabd"[i % 6]);
			break;
		case 2:
			p[i] = (uint8_t)(i % 7 == 0 ? mh_test_rng_next(seed) : 0);
			break;
		default:
			p[i] = (uint8_t)(i / 64);
		}
	}
}

static void test_rpc_ext__random_round_trips(void **state)
{
	(void)state;
	uint64_t seed = 0x5EED;
	uint8_t *payload = malloc(200000);
	assert_non_null(payload);
	for (int iter = 0; iter < 400; iter++) {
		size_t len = (size_t)(mh_test_rng_next(&seed) % (iter < 300 ? 3000 : 200000));
		int kind = (int)(mh_test_rng_next(&seed) % 4);
		fill_payload(payload, len, kind, &seed);
		mh_rpc_ext_options o = MH_RPC_EXT_OPTIONS_INIT;
		o.compress = mh_test_rng_next(&seed) & 1;
		o.xor_magic = mh_test_rng_next(&seed) & 1;
		o.max_payload =
		    mh_test_rng_next(&seed) & 1 ? 0 : 1 + (size_t)(mh_test_rng_next(&seed) % 5000);
		mh_buf b = MH_BUF_INIT;
		assert_int_equal(mh_rpc_ext_push(&b, len ? payload : NULL, len, &o), S_OK);
		mh_arena a;
		mh_arena_init(&a, 0);
		mh_rpc_ext_chain ch;
		mh_status st = mh_rpc_ext_decode(b.data, b.len, 0, &a, 0, &ch);
		if (st != S_OK)
			fail_msg("iteration %d: %s", iter, mh_error_last()->message);
		assert_int_equal(ch.len, len);
		if (len)
			assert_memory_equal(ch.data, payload, len);
		size_t piece = o.max_payload ? o.max_payload : MH_RPC_EXT_MAX_PAYLOAD;
		assert_int_equal(ch.n_segs, len == 0 ? 1 : (len + piece - 1) / piece);
		for (size_t s = 0; s < ch.n_segs; s++) {
			const mh_rpc_ext_header *h = &ch.segs[s].hdr;
			assert_int_equal(!!(h->flags & MH_RPC_EXT_LAST), s + 1 == ch.n_segs);
			assert_int_equal(!!(h->flags & MH_RPC_EXT_XORMAGIC), o.xor_magic);
			if (h->flags & MH_RPC_EXT_COMPRESSED)
				assert_true(o.compress && h->size < h->size_actual);
			else
				assert_int_equal(h->size, h->size_actual);
		}
		mh_arena_free(&a);
		mh_buf_free(&b);
	}
	free(payload);
}

/* ---- reader rules ------------------------------------------------------------------- */

static void expect_fail(const uint8_t *p, size_t n, size_t max_actual, int64_t offset,
                        const char *needle)
{
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_rpc_ext_chain ch;
	assert_int_equal(mh_rpc_ext_decode(p, n, 0, &a, max_actual, &ch), MAPI_E_CORRUPT_DATA);
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	if (strstr(e->message, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", e->message, needle);
	assert_int_equal(e->offset, offset);
	assert_null(ch.data);
	assert_int_equal(ch.n_segs, 0);
	mh_arena_free(&a);
}

static void test_rpc_ext__reader_rules(void **state)
{
	(void)state;
	uint8_t v[32] = {0, 0, 4, 0, 2, 0, 2, 0, 0xAA, 0xBB};
	/* well-formed */
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_rpc_ext_chain ch;
	assert_int_equal(mh_rpc_ext_decode(v, 10, 0, &a, 0, &ch), S_OK);
	assert_int_equal(ch.len, 2);
	mh_arena_free(&a);

	v[0] = 1;
	expect_fail(v, 10, 0, 0, "Version 0x0001");
	v[0] = 0;
	v[2] = 0x0C;
	expect_fail(v, 10, 0, 2, "unknown Flags bits 0x0008");
	v[2] = 4;
	v[6] = 3;
	expect_fail(v, 10, 0, 4, "uncompressed but Size 2 != SizeActual 3");
	v[6] = 2;
	expect_fail(v, 10, 1, 6, "SizeActual 2 exceeds the 1-byte limit");
	expect_fail(v, 11, 0, 10, "1 unexpected bytes at byte 10");
	expect_fail(v, 9, 0, 4, "Size 2 exceeds the 1 bytes");
	expect_fail(v, 0, 0, 0, "is empty");
	expect_fail(v, 5, 0, 0, "RPC_HEADER_EXT needs 8 bytes");
	/* no Last flag */
	v[2] = 0;
	expect_fail(v, 10, 0, 10, "without a buffer flagged Last");
	/* a second buffer after a non-Last one is read */
	uint8_t two[20] = {0, 0, 0, 0, 2, 0, 2, 0, 1, 2, 0, 0, 4, 0, 2, 0, 2, 0, 3, 4};
	mh_arena_init(&a, 0);
	assert_int_equal(mh_rpc_ext_decode(two, 20, 0, &a, 0, &ch), S_OK);
	assert_int_equal(ch.n_segs, 2);
	assert_int_equal(ch.segs[1].offset, 10);
	const uint8_t all[4] = {1, 2, 3, 4};
	assert_memory_equal(ch.data, all, 4);
	mh_arena_free(&a);

	/* empty XORed segments, one of them "compressed": nothing to transform */
	const uint8_t empties[16] = {0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0};
	mh_arena_init(&a, 0);
	assert_int_equal(mh_rpc_ext_decode(empties, 16, 0, &a, 0, &ch), S_OK);
	assert_int_equal(ch.n_segs, 2);
	assert_int_equal(ch.len, 0);
	assert_null(ch.data);
	mh_arena_free(&a);

	/* compressed: a match reaching before the output; a stream too short */
	uint8_t bad[16] = {0, 0, 5, 0, 6, 0, 20, 0, 0, 0, 0, 0x80, 0x08, 0x00};
	expect_fail(bad, 14, 0, 12, "LZ77 payload corrupt");
	/* "ab" as two literals then the end marker, but SizeActual 20 */
	uint8_t shortz[16] = {0, 0, 5, 0, 6, 0, 20, 0, 0xff, 0xff, 0xff, 0x3f, 'a', 'b'};
	expect_fail(shortz, 14, 0, 8, "decompresses to 2 bytes, SizeActual says 20");
	/* compressed with Size >= SizeActual is tolerated */
	shortz[6] = 2;
	mh_arena_init(&a, 0);
	assert_int_equal(mh_rpc_ext_decode(shortz, 14, 0, &a, 0, &ch), S_OK);
	assert_int_equal(ch.len, 2);
	assert_memory_equal(ch.data, "ab", 2);
	mh_arena_free(&a);

	/* arena cap: a 0x8000-byte payload does not fit a 100-byte arena */
	uint8_t *big = calloc(1, 8 + 0x8000);
	assert_non_null(big);
	big[2] = 4;
	big[5] = 0x80;
	big[7] = 0x80;
	mh_arena_init(&a, 100);
	assert_int_equal(mh_rpc_ext_decode(big, 8 + 0x8000, 0, &a, 0, &ch), MAPI_E_TOO_BIG);
	mh_arena_free(&a);
	free(big);
}

/* Every strict prefix of a valid chain fails cleanly; bit flips never crash. */
static void test_rpc_ext__truncations_and_flips(void **state)
{
	(void)state;
	static const char *const files[] = {"rops/rop_input_buffer_two_logons.hex",
	                                    "rops/rop_input_buffer_two_logons_compressed_xored.hex",
	                                    "rops/rop_input_buffer_roplogon_with_header.hex"};
	uint64_t seed = 99;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		char path[512];
		size_t n;
		snprintf(path, sizeof(path), WIRE_DIR "%s", files[f]);
		uint8_t *v = load(path, &n);
		mh_arena a;
		mh_rpc_ext_chain ch;
		for (size_t k = 0; k < n; k++) {
			mh_arena_init(&a, 0);
			assert_int_equal(decode_copy(v, k, &a, &ch), MAPI_E_CORRUPT_DATA);
			assert_non_null(mh_error_last());
			mh_arena_free(&a);
		}
		for (int i = 0; i < 3000; i++) {
			uint8_t *d = malloc(n);
			assert_non_null(d);
			memcpy(d, v, n);
			int flips = 1 + (int)(mh_test_rng_next(&seed) % 3);
			for (int j = 0; j < flips; j++) {
				size_t bit = (size_t)(mh_test_rng_next(&seed) % (n * 8));
				d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
			mh_arena_init(&a, 0);
			mh_status st = decode_copy(d, n, &a, &ch);
			assert_true(st == S_OK || st == MAPI_E_CORRUPT_DATA);
			if (st == S_OK) {
				size_t sum = 0;
				for (size_t s = 0; s < ch.n_segs; s++)
					sum += ch.segs[s].len;
				assert_int_equal(sum, ch.len);
			}
			mh_arena_free(&a);
			free(d);
		}
		free(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rpc_ext__msoxcrpc_header),
	    cmocka_unit_test(test_rpc_ext__constructed_vectors),
	    cmocka_unit_test(test_rpc_ext__gromox_rop_buffers),
	    cmocka_unit_test(test_rpc_ext__gromox_compressed_request),
	    cmocka_unit_test(test_rpc_ext__push_rules),
	    cmocka_unit_test(test_rpc_ext__random_round_trips),
	    cmocka_unit_test(test_rpc_ext__reader_rules),
	    cmocka_unit_test(test_rpc_ext__truncations_and_flips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
