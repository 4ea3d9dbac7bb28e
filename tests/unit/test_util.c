/*
 * Unit tests for src/util: the bounds-checked cursor, the sticky-error
 * writer, text conversion, hex, status names and the thread-local error.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mapihttp.h"
#include "util/alloc_internal.h"
#include "util/buf.h"
#include "util/cursor.h"
#include "util/diag.h"
#include "util/hex.h"
#include "util/utf.h"

/* An error status distinct from the ones util code picks by itself. */
#define CUR_ERR MAPI_E_INVALID_ENTRYID

static void assert_contains(const char *hay, const char *needle)
{
	assert_non_null(hay);
	if (strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

/*
 * Checks that a call failed with want, and that the thread's error detail
 * names the field and carries offset both as a number and in the text.
 */
static void assert_error_at(mh_status got, mh_status want, int64_t offset, const char *field)
{
	char at[48];
	assert_int_equal(got, want);
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	assert_int_equal(e->status, want);
	assert_int_equal(e->offset, offset);
	if (field != NULL)
		assert_contains(e->message, field);
	snprintf(at, sizeof(at), "byte %lld", (long long)offset);
	assert_contains(e->message, at);
	assert_null(strchr(e->message, '\n'));
}

/* ---- mh_cursor -------------------------------------------------------------------- */

typedef mh_status (*reader_fn)(mh_cursor *c, const char *field);

static mh_status rd_u8(mh_cursor *c, const char *f)
{
	uint8_t v;
	return mh_cursor_u8(c, &v, f);
}

static mh_status rd_u16(mh_cursor *c, const char *f)
{
	uint16_t v;
	return mh_cursor_u16(c, &v, f);
}

static mh_status rd_u32(mh_cursor *c, const char *f)
{
	uint32_t v;
	return mh_cursor_u32(c, &v, f);
}

static mh_status rd_u64(mh_cursor *c, const char *f)
{
	uint64_t v;
	return mh_cursor_u64(c, &v, f);
}

static mh_status rd_u48be(mh_cursor *c, const char *f)
{
	uint64_t v;
	return mh_cursor_u48be(c, &v, f);
}

static mh_status rd_guid(mh_cursor *c, const char *f)
{
	GUID g;
	return mh_cursor_guid(c, &g, f);
}

static mh_status rd_muid(mh_cursor *c, const char *f)
{
	MAPIUID u;
	return mh_cursor_muid(c, &u, f);
}

static mh_status rd_bytes5(mh_cursor *c, const char *f)
{
	const uint8_t *p;
	return mh_cursor_bytes(c, 5, &p, f);
}

static mh_status rd_bytes_n(mh_cursor *c, size_t n, const char *f)
{
	const uint8_t *p = NULL;
	return mh_cursor_bytes(c, n, &p, f);
}

static mh_status rd_skip7(mh_cursor *c, const char *f)
{
	return mh_cursor_skip(c, 7, f);
}

static mh_status rd_sub9(mh_cursor *c, const char *f)
{
	mh_cursor sub;
	return mh_cursor_sub(c, 9, &sub, f);
}

static const struct {
	const char *field;
	size_t size;
	reader_fn fn;
} readers[] = {
    {"Flags", 1, rd_u8},          {"Version", 2, rd_u16},         {"ServerNameSize", 4, rd_u32},
    {"FolderId", 8, rd_u64},      {"GlobalCounter", 6, rd_u48be}, {"DatabaseGuid", 16, rd_guid},
    {"ProviderUID", 16, rd_muid}, {"Payload", 5, rd_bytes5},      {"Reserved", 7, rd_skip7},
    {"Trailer", 9, rd_sub9},
};

static void test_cursor__readers_exact_bounds(void **state)
{
	(void)state;
	uint8_t data[2 + 16];
	memset(data, 0xA5, sizeof(data));
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		mh_cursor c;
		mh_cursor_init(&c, data, 2 + readers[i].size, CUR_ERR);
		assert_int_equal(mh_cursor_skip(&c, 2, "prefix"), S_OK);
		mh_error_clear();
		assert_int_equal(readers[i].fn(&c, readers[i].field), S_OK);
		assert_int_equal(c.pos, 2 + readers[i].size);
		assert_int_equal(mh_cursor_remaining(&c), 0);
		assert_null(mh_error_last());
	}
}

static void test_cursor__readers_one_byte_short(void **state)
{
	(void)state;
	uint8_t data[2 + 16];
	memset(data, 0xA5, sizeof(data));
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		mh_cursor c;
		char needs[64];
		mh_cursor_init(&c, data, 2 + readers[i].size - 1, CUR_ERR);
		assert_int_equal(mh_cursor_skip(&c, 2, "prefix"), S_OK);
		mh_error_clear();
		assert_error_at(readers[i].fn(&c, readers[i].field), CUR_ERR, 2, readers[i].field);
		snprintf(needs, sizeof(needs), "needs %zu byte", readers[i].size);
		assert_contains(mh_error_last()->message, needs);
		/* A failed read does not move the cursor. */
		assert_int_equal(c.pos, 2);
	}
}

static void test_cursor__offsets_are_absolute_in_sub_cursors(void **state)
{
	(void)state;
	uint8_t data[32] = {0};
	mh_cursor c, sub, subsub;
	mh_cursor_init(&c, data, sizeof(data), MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_cursor_skip(&c, 10, "head"), S_OK);
	assert_int_equal(mh_cursor_sub(&c, 12, &sub, "Body"), S_OK);
	assert_int_equal(c.pos, 22);
	assert_int_equal(sub.base, 10);
	assert_int_equal(sub.len, 12);
	assert_int_equal(sub.err, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_cursor_skip(&sub, 3, "x"), S_OK);
	assert_int_equal(mh_cursor_sub(&sub, 6, &subsub, "Inner"), S_OK);
	assert_int_equal(subsub.base, 13);
	assert_int_equal(mh_cursor_offset(&subsub), 13);
	assert_int_equal(mh_cursor_skip(&subsub, 4, "y"), S_OK);
	/* 2 bytes remain in subsub (absolute offset 17); ask for 3. */
	assert_error_at(rd_bytes_n(&subsub, 3, "Tail"), MAPI_E_CORRUPT_DATA, 17, "Tail");
	assert_contains(mh_error_last()->message, "2 remain");
	/* A sub-cursor never reads past its own end, even with parent bytes left. */
	assert_error_at(mh_cursor_sub(&sub, 4, &subsub, "Rest"), MAPI_E_CORRUPT_DATA, 19, "Rest");
}

static void test_cursor__values_little_endian(void **state)
{
	(void)state;
	static const uint8_t data[] = {0xFF, 0x01, 0x02, 0x01, 0x02, 0x03, 0x04, 0x01,
	                               0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88};
	mh_cursor c;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	mh_cursor_init(&c, data, sizeof(data), CUR_ERR);
	assert_int_equal(mh_cursor_u8(&c, &u8, "a"), S_OK);
	assert_int_equal(u8, 0xFF);
	assert_int_equal(mh_cursor_u16(&c, &u16, "b"), S_OK);
	assert_int_equal(u16, 0x0201);
	assert_int_equal(mh_cursor_u32(&c, &u32, "c"), S_OK);
	assert_int_equal(u32, 0x04030201u);
	assert_int_equal(mh_cursor_u64(&c, &u64, "d"), S_OK);
	assert_true(u64 == 0x8807060504030201ull);
	assert_int_equal(mh_cursor_remaining(&c), 0);
}

static void test_cursor__u48be(void **state)
{
	(void)state;
	static const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0xFF,
	                               0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0x00};
	mh_cursor c;
	uint64_t v;
	mh_cursor_init(&c, data, sizeof(data), CUR_ERR);
	assert_int_equal(mh_cursor_u48be(&c, &v, "GlobalCounter"), S_OK);
	assert_true(v == 0x010203040506ull);
	assert_int_equal(mh_cursor_u48be(&c, &v, "GlobalCounter"), S_OK);
	assert_true(v == 0xFFFFFFFFFFFEull); /* no sign extension, nothing above bit 47 */
	assert_int_equal(c.pos, 12);
	mh_error_clear();
	assert_error_at(mh_cursor_u48be(&c, &v, "GlobalCounter"), CUR_ERR, 12, "GlobalCounter");
}

static void test_cursor__guid_and_muid(void **state)
{
	(void)state;
	uint8_t data[32];
	for (int i = 0; i < 32; i++)
		data[i] = (uint8_t)i;
	mh_cursor c;
	GUID g;
	MAPIUID u;
	mh_cursor_init(&c, data, sizeof(data), CUR_ERR);
	assert_int_equal(mh_cursor_guid(&c, &g, "g"), S_OK);
	assert_int_equal(g.Data1, 0x03020100u);
	assert_int_equal(g.Data2, 0x0504);
	assert_int_equal(g.Data3, 0x0706);
	assert_memory_equal(g.Data4, data + 8, 8);
	assert_int_equal(mh_cursor_muid(&c, &u, "u"), S_OK);
	assert_memory_equal(u.ab, data + 16, 16);
}

static void test_cursor__bytes_points_into_input(void **state)
{
	(void)state;
	static const uint8_t data[] = {1, 2, 3, 4, 5};
	mh_cursor c;
	const uint8_t *p = NULL;
	mh_cursor_init(&c, data, sizeof(data), CUR_ERR);
	assert_int_equal(mh_cursor_skip(&c, 1, "s"), S_OK);
	assert_int_equal(mh_cursor_bytes(&c, 3, &p, "b"), S_OK);
	assert_ptr_equal(p, data + 1);
	assert_int_equal(mh_cursor_bytes(&c, 0, &p, "empty"), S_OK);
	assert_int_equal(c.pos, 4);
	/* A length near SIZE_MAX must not wrap the bounds check. */
	assert_error_at(mh_cursor_bytes(&c, SIZE_MAX, &p, "Huge"), CUR_ERR, 4, "Huge");
	assert_error_at(mh_cursor_skip(&c, SIZE_MAX - 2, "Huge"), CUR_ERR, 4, "Huge");
}

static void test_cursor__null_input_is_empty(void **state)
{
	(void)state;
	mh_cursor c;
	const uint8_t *p;
	const char *s;
	size_t n;
	uint32_t v;
	mh_cursor_init(&c, NULL, 100, CUR_ERR);
	assert_int_equal(mh_cursor_remaining(&c), 0);
	assert_error_at(rd_u8(&c, "First"), CUR_ERR, 0, "First");
	assert_false(mh_cursor_peek_u32(&c, &v));
	assert_int_equal(mh_cursor_bytes(&c, 0, &p, "none"), S_OK);
	assert_int_equal(mh_cursor_str8(&c, 10, &s, &n, "Name"), CUR_ERR);
	assert_int_equal(mh_cursor_str16(&c, 10, &p, &n, "Name"), CUR_ERR);
}

static void test_cursor__peek_u32(void **state)
{
	(void)state;
	static const uint8_t data[] = {0x78, 0x56, 0x34, 0x12, 0x00};
	mh_cursor c;
	uint32_t v = 0;
	mh_cursor_init(&c, data, 3, CUR_ERR);
	assert_false(mh_cursor_peek_u32(&c, &v));
	mh_cursor_init(&c, data, 4, CUR_ERR);
	assert_true(mh_cursor_peek_u32(&c, &v));
	assert_int_equal(v, 0x12345678u);
	assert_int_equal(c.pos, 0);
}

static void test_cursor__str8(void **state)
{
	(void)state;
	static const char data[] = "abc\0\0xyz"; /* 9 bytes with the literal's NUL */
	mh_cursor c;
	const char *s = NULL;
	size_t n = 99;

	/* Exactly at the cap. */
	mh_cursor_init(&c, data, sizeof(data), CUR_ERR);
	assert_int_equal(mh_cursor_str8(&c, 3, &s, &n, "ServerShortname"), S_OK);
	assert_ptr_equal(s, data);
	assert_int_equal(n, 3);
	assert_string_equal(s, "abc");
	assert_int_equal(c.pos, 4);
	/* Empty string, cap 0. */
	assert_int_equal(mh_cursor_str8(&c, 0, &s, &n, "Empty"), S_OK);
	assert_int_equal(n, 0);
	assert_int_equal(c.pos, 5);
	/* Last string ends with the buffer's last byte. */
	assert_int_equal(mh_cursor_str8(&c, 3, &s, &n, "Tail"), S_OK);
	assert_string_equal(s, "xyz");
	assert_int_equal(mh_cursor_remaining(&c), 0);

	/* One byte over the cap. */
	mh_cursor_init(&c, data, sizeof(data), CUR_ERR);
	mh_error_clear();
	assert_error_at(mh_cursor_str8(&c, 2, &s, &n, "MailboxDN"), CUR_ERR, 0, "MailboxDN");
	assert_contains(mh_error_last()->message, "longer than 2");
	assert_int_equal(c.pos, 0);

	/* Missing NUL: the error points at the end of the input. */
	mh_cursor_init(&c, data + 5, 3, CUR_ERR);
	c.base = 5;
	assert_error_at(mh_cursor_str8(&c, 100, &s, &n, "SmtpAddress"), CUR_ERR, 8, "SmtpAddress");
	assert_contains(mh_error_last()->message, "NUL");
	assert_int_equal(c.pos, 0);

	/* A cap of SIZE_MAX means "no cap" and must not overflow. */
	mh_cursor_init(&c, data, sizeof(data), CUR_ERR);
	assert_int_equal(mh_cursor_str8(&c, SIZE_MAX, &s, &n, "Uncapped"), S_OK);
	assert_int_equal(n, 3);

	/* Nothing left at all. */
	mh_cursor_init(&c, data, 0, CUR_ERR);
	assert_error_at(mh_cursor_str8(&c, 10, &s, &n, "Gone"), CUR_ERR, 0, "Gone");
}

static void test_cursor__str16(void **state)
{
	(void)state;
	/* "A", then 0x4100 (a unit whose high byte is 'A': the 00 00 straddling
	 * units 1 and 2 is not a terminator), NUL, then "B" NUL. */
	static const uint8_t data[] = {0x41, 0x00, 0x00, 0x41, 0x00, 0x00, 0x42, 0x00, 0x00, 0x00};
	mh_cursor c;
	const uint8_t *p = NULL;
	size_t units = 99;

	mh_cursor_init(&c, data, sizeof(data), CUR_ERR);
	assert_int_equal(mh_cursor_str16(&c, 2, &p, &units, "DisplayName"), S_OK);
	assert_ptr_equal(p, data);
	assert_int_equal(units, 2);
	assert_int_equal(c.pos, 6);
	assert_int_equal(mh_cursor_str16(&c, 1, &p, &units, "Second"), S_OK);
	assert_ptr_equal(p, data + 6);
	assert_int_equal(units, 1);
	assert_int_equal(mh_cursor_remaining(&c), 0);

	/* One unit over the cap. */
	mh_cursor_init(&c, data, sizeof(data), CUR_ERR);
	mh_error_clear();
	assert_error_at(mh_cursor_str16(&c, 1, &p, &units, "DisplayName"), CUR_ERR, 0,
	                "DisplayName");
	assert_contains(mh_error_last()->message, "longer than 1");
	assert_int_equal(c.pos, 0);

	/* Empty string, cap 0. */
	mh_cursor_init(&c, data + 4, 2, CUR_ERR);
	assert_int_equal(mh_cursor_str16(&c, 0, &p, &units, "Empty"), S_OK);
	assert_int_equal(units, 0);

	/* No terminator; an odd trailing byte cannot complete one. */
	mh_cursor_init(&c, data, 5, CUR_ERR);
	assert_error_at(mh_cursor_str16(&c, 100, &p, &units, "Smtp"), CUR_ERR, 5, "Smtp");
	assert_contains(mh_error_last()->message, "NUL");
	mh_cursor_init(&c, data + 6, 3, CUR_ERR); /* 42 00 00 */
	assert_error_at(mh_cursor_str16(&c, 100, &p, &units, "Odd"), CUR_ERR, 3, "Odd");
	mh_cursor_init(&c, data, 0, CUR_ERR);
	assert_error_at(mh_cursor_str16(&c, 100, &p, &units, "Gone"), CUR_ERR, 0, "Gone");

	mh_cursor_init(&c, data, sizeof(data), CUR_ERR);
	assert_int_equal(mh_cursor_str16(&c, SIZE_MAX, &p, &units, "Uncapped"), S_OK);
	assert_int_equal(units, 2);
}

static void test_cursor__seek(void **state)
{
	(void)state;
	static const uint8_t data[] = {10, 11, 12, 13};
	mh_cursor c;
	uint8_t v;
	mh_cursor_init(&c, data, sizeof(data), CUR_ERR);
	assert_int_equal(mh_cursor_seek(&c, 4, "End"), S_OK);
	assert_int_equal(mh_cursor_remaining(&c), 0);
	assert_int_equal(mh_cursor_seek(&c, 2, "Back"), S_OK);
	assert_int_equal(mh_cursor_u8(&c, &v, "v"), S_OK);
	assert_int_equal(v, 12);
	mh_error_clear();
	/* The detail records where the reader was; the text names the bad target. */
	assert_int_equal(mh_cursor_seek(&c, 5, "OffsetToTrailer"), CUR_ERR);
	assert_int_equal(mh_error_last()->offset, 3);
	assert_contains(mh_error_last()->message, "OffsetToTrailer");
	assert_contains(mh_error_last()->message, "byte 5");
	assert_int_equal(c.pos, 3);
	assert_int_equal(mh_cursor_seek(&c, SIZE_MAX, "Wild"), CUR_ERR);
	assert_int_equal(c.pos, 3);
}

static void test_cursor__enter_depth_limit(void **state)
{
	(void)state;
	static const uint8_t data[] = {0, 1, 2};
	mh_cursor c, sub;
	mh_cursor_init(&c, data, sizeof(data), CUR_ERR);
	for (int i = 0; i < MH_CURSOR_MAX_DEPTH; i++)
		assert_int_equal(mh_cursor_enter(&c, "Restriction"), S_OK);
	assert_int_equal(mh_cursor_skip(&c, 1, "s"), S_OK);
	mh_error_clear();
	assert_error_at(mh_cursor_enter(&c, "Restriction"), CUR_ERR, 1, "Restriction");
	assert_contains(mh_error_last()->message, "16");
	assert_int_equal(c.depth, MH_CURSOR_MAX_DEPTH);

	/* A sub-cursor inherits the depth, so recursion through subs is bounded too. */
	assert_int_equal(mh_cursor_sub(&c, 1, &sub, "child"), S_OK);
	assert_int_equal(mh_cursor_enter(&sub, "Nested"), CUR_ERR);

	mh_cursor_leave(&c);
	assert_int_equal(mh_cursor_enter(&c, "Restriction"), S_OK);
	for (int i = 0; i < MH_CURSOR_MAX_DEPTH + 5; i++)
		mh_cursor_leave(&c);
	assert_int_equal(c.depth, 0);
}

static void test_cursor__fail_formats_and_returns_err(void **state)
{
	(void)state;
	static const uint8_t data[8] = {0};
	mh_cursor c;
	mh_cursor_init(&c, data, sizeof(data), MAPI_E_CORRUPT_DATA);
	c.base = 100;
	assert_int_equal(mh_cursor_skip(&c, 6, "s"), S_OK);
	assert_int_equal(
	    mh_cursor_fail(&c, "Version %u at byte %zu is unknown", 7u, mh_cursor_offset(&c)),
	    MAPI_E_CORRUPT_DATA);
	assert_error_at(MAPI_E_CORRUPT_DATA, MAPI_E_CORRUPT_DATA, 106, "Version 7");
}

/* ---- mh_buf ----------------------------------------------------------------------- */

static void test_buf__writers(void **state)
{
	(void)state;
	static const uint8_t expect[] = {
	    0xAB,                                           /* u8 */
	    0x34, 0x12,                                     /* u16 */
	    0x78, 0x56, 0x34, 0x12,                         /* u32 */
	    0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* u64 */
	    0x01, 0x02, 0x03, 0x04, 0x05, 0x06,             /* u48be */
	    0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, /* guid */
	    0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0xF0, 0xF1, 0xF2,
	    0xF3, 0xF4, 0xF5, 0xF6, 0xF7,                                     /* muid */
	    0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF, 0x00, 0x00, 0x00, /* zeros */
	    'h',  'i',  0x00,                                                 /* str8z */
	    0x00,                                                             /* str8z "" */
	    'h',  0x00, 0xE9, 0x00, 0x3D, 0xD8, 0x00, 0xDE, 0x00, 0x00,       /* utf16z */
	    0x00, 0x00,                                                       /* utf16z "" */
	    'x',  'y',                                                        /* put */
	};
	const GUID g = {
	    0x00112233u, 0x4455, 0x6677, {0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF}};
	MAPIUID u;
	for (int i = 0; i < 16; i++)
		u.ab[i] = (uint8_t)(0xF0 + i);
	mh_buf b = MH_BUF_INIT;
	mh_buf_u8(&b, 0xAB);
	mh_buf_u16(&b, 0x1234);
	mh_buf_u32(&b, 0x12345678u);
	mh_buf_u64(&b, 0x0102030405060708ull);
	mh_buf_u48be(&b, 0x010203040506ull);
	mh_buf_guid(&b, &g);
	mh_buf_muid(&b, &u);
	mh_buf_zeros(&b, 3);
	mh_buf_zeros(&b, 0);
	mh_buf_str8z(&b, "hi");
	mh_buf_str8z(&b, "");
	mh_buf_utf16z(&b, "h\xC3\xA9\xF0\x9F\x98\x80");
	mh_buf_utf16z(&b, "");
	mh_buf_put(&b, "xy", 2);
	mh_buf_put(&b, NULL, 0);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_int_equal(b.len, sizeof(expect));
	assert_memory_equal(b.data, expect, sizeof(expect));
	assert_true(b.cap >= b.len);
	mh_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	mh_buf_free(&b); /* twice is harmless */
}

static void test_buf__u48be_drops_high_bits(void **state)
{
	(void)state;
	static const uint8_t expect[] = {0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x11};
	mh_buf b = MH_BUF_INIT;
	mh_buf_u48be(&b, 0xAABBCCDDEEFF11ull);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, expect, 6);
	mh_buf_free(&b);
}

static void test_buf__grows(void **state)
{
	(void)state;
	mh_buf b = MH_BUF_INIT;
	for (uint32_t i = 0; i < 10000; i++)
		mh_buf_u32(&b, i);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_int_equal(b.len, 40000);
	mh_cursor c;
	mh_cursor_init(&c, b.data, b.len, CUR_ERR);
	for (uint32_t i = 0; i < 10000; i++) {
		uint32_t v;
		assert_int_equal(mh_cursor_u32(&c, &v, "v"), S_OK);
		assert_int_equal(v, i);
	}
	mh_buf_free(&b);
}

static void test_buf__set_u32(void **state)
{
	(void)state;
	static const uint8_t expect[] = {0xEF, 0xBE, 0xAD, 0xDE, 0x07, 0x00, 0x00, 0x00, 0x01};
	mh_buf b = MH_BUF_INIT;
	mh_buf_u32(&b, 0); /* placeholder for a size written later */
	mh_buf_u32(&b, 7);
	mh_buf_u8(&b, 1);
	mh_buf_set_u32(&b, 0, 0xDEADBEEFu);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.data, expect, sizeof(expect));
	mh_buf_set_u32(&b, 5, 0x01020304u); /* the last 4 bytes: still in range */
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_int_equal(b.data[8], 0x01);
	assert_int_equal(b.data[5], 0x04);

	/* Past what was written: the writer fails instead of dropping the value. */
	mh_buf_set_u32(&b, 6, 1);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(b.len, 9);
	assert_int_equal(b.data[8], 0x01);
	mh_buf_free(&b);

	mh_buf_set_u32(&b, SIZE_MAX, 1);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
}

static void test_buf__sticky_error(void **state)
{
	(void)state;
	mh_buf b = MH_BUF_INIT;
	mh_buf_u32(&b, 1);
	assert_int_equal(mh_buf_fail(&b, MAPI_E_TOO_BIG), MAPI_E_TOO_BIG);
	/* The first failure wins. */
	assert_int_equal(mh_buf_fail(&b, MAPI_E_CALL_FAILED), MAPI_E_TOO_BIG);
	mh_buf_u8(&b, 1);
	mh_buf_u16(&b, 1);
	mh_buf_u32(&b, 1);
	mh_buf_u64(&b, 1);
	mh_buf_u48be(&b, 1);
	mh_buf_zeros(&b, 4);
	mh_buf_str8z(&b, "abc");
	mh_buf_utf16z(&b, "abc");
	mh_buf_put(&b, "abc", 3);
	mh_buf_set_u32(&b, 0, 0xFFFFFFFFu);
	assert_int_equal(mh_buf_reserve(&b, 1), MAPI_E_TOO_BIG);
	assert_int_equal(mh_buf_status(&b), MAPI_E_TOO_BIG);
	assert_int_equal(b.len, 4);
	assert_int_equal(b.data[0], 1);
	mh_buf_free(&b);
	/* Freeing resets the error for reuse. */
	assert_int_equal(mh_buf_status(&b), S_OK);
}

static void test_buf__utf16z_invalid_utf8(void **state)
{
	(void)state;
	mh_buf b = MH_BUF_INIT;
	mh_buf_u8(&b, 0x55);
	mh_error_clear();
	mh_buf_utf16z(&b, "ok\xC0\x80");
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(b.len, 1);
	assert_non_null(mh_error_last());
	assert_int_equal(mh_error_last()->offset, 2);
	/* Later valid text is not written either. */
	mh_buf_utf16z(&b, "fine");
	assert_int_equal(b.len, 1);
	mh_buf_free(&b);

	mh_buf_utf16z(&b, "\xED\xA0\x80"); /* an encoded surrogate */
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(b.len, 0);
	mh_buf_free(&b);
}

static void test_buf__reserve_overflow(void **state)
{
	(void)state;
	mh_buf b = MH_BUF_INIT;
	mh_buf_u8(&b, 1);
	assert_int_equal(mh_buf_reserve(&b, SIZE_MAX), MAPI_E_NOT_ENOUGH_MEMORY);
	assert_int_equal(mh_buf_status(&b), MAPI_E_NOT_ENOUGH_MEMORY);
	assert_int_equal(mh_error_last()->status, MAPI_E_NOT_ENOUGH_MEMORY);
	mh_buf_free(&b);
	mh_buf_zeros(&b, SIZE_MAX - 8);
	assert_int_equal(mh_buf_status(&b), MAPI_E_NOT_ENOUGH_MEMORY);
	assert_int_equal(b.len, 0);
	mh_buf_free(&b);
}

static void test_buf__allocation_failure_is_sticky(void **state)
{
	(void)state;
	mh_buf b = MH_BUF_INIT;
	mh_buf_u8(&b, 1); /* the first block */
	mh_alloc_fail_after(0);
	mh_buf_zeros(&b, 1000); /* needs to grow */
	mh_alloc_fail_after(-1);
	assert_int_equal(mh_buf_status(&b), MAPI_E_NOT_ENOUGH_MEMORY);
	assert_int_equal(b.len, 1);
	mh_buf_u8(&b, 2);
	assert_int_equal(b.len, 1);
	mh_buf_free(&b);
}

/* ---- UTF-8 / UTF-16LE / Windows-1252 ------------------------------------------------ */

/* Converts UTF-8 to UTF-16LE via the measuring call and then the real one. */
static mh_status to16(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t need = 0;
	mh_status st = mh_utf8_to_utf16le(NULL, 0, s, n, &need);
	if (st != S_OK)
		return st;
	assert_true(need <= cap);
	st = mh_utf8_to_utf16le(out, cap, s, n, out_len);
	assert_int_equal(st, S_OK);
	assert_int_equal(*out_len, need);
	return st;
}

static void check_pair(const char *utf8, size_t n8, const uint16_t *units, size_t nu)
{
	uint8_t want16[64], got16[64];
	char got8[64];
	size_t len;
	assert_true(nu * 2 <= sizeof(want16));
	for (size_t i = 0; i < nu; i++) {
		want16[2 * i] = (uint8_t)units[i];
		want16[2 * i + 1] = (uint8_t)(units[i] >> 8);
	}
	assert_true(mh_utf8_valid(utf8, n8));
	assert_int_equal(to16(utf8, n8, got16, sizeof(got16), &len), S_OK);
	assert_int_equal(len, 2 * nu);
	assert_memory_equal(got16, want16, 2 * nu);

	assert_int_equal(mh_utf16le_to_utf8(NULL, 0, want16, nu, &len), S_OK);
	assert_int_equal(len, n8);
	memset(got8, 0x7E, sizeof(got8));
	assert_int_equal(mh_utf16le_to_utf8(got8, n8 + 1, want16, nu, &len), S_OK);
	assert_int_equal(len, n8);
	assert_memory_equal(got8, utf8, n8);
	assert_int_equal(got8[n8], '\0');
}

static void test_utf__bmp_and_boundaries(void **state)
{
	(void)state;
	static const uint16_t ascii[] = {'M', 'a', 'p', 'i'};
	check_pair("Mapi", 4, ascii, 4);
	check_pair("", 0, ascii, 0);
	static const uint16_t nul[] = {0x0000, 'a'};
	check_pair("\0a", 2, nul, 2);
	static const uint16_t u7f[] = {0x007F};
	check_pair("\x7F", 1, u7f, 1);
	static const uint16_t u80[] = {0x0080};
	check_pair("\xC2\x80", 2, u80, 1);
	static const uint16_t u7ff[] = {0x07FF};
	check_pair("\xDF\xBF", 2, u7ff, 1);
	static const uint16_t u800[] = {0x0800};
	check_pair("\xE0\xA0\x80", 3, u800, 1);
	static const uint16_t ud7ff[] = {0xD7FF};
	check_pair("\xED\x9F\xBF", 3, ud7ff, 1);
	static const uint16_t ue000[] = {0xE000};
	check_pair("\xEE\x80\x80", 3, ue000, 1);
	static const uint16_t ufffd[] = {0xFFFD};
	check_pair("\xEF\xBF\xBD", 3, ufffd, 1);
	static const uint16_t uffff[] = {0xFFFF};
	check_pair("\xEF\xBF\xBF", 3, uffff, 1);
	static const uint16_t mixed[] = {'M', 0x00FC, 'l', 'l', 0x20AC, 0x65E5};
	check_pair("M\xC3\xBCll\xE2\x82\xAC\xE6\x97\xA5", 11, mixed, 6);
}

static void test_utf__supplementary(void **state)
{
	(void)state;
	static const uint16_t u10000[] = {0xD800, 0xDC00};
	check_pair("\xF0\x90\x80\x80", 4, u10000, 2);
	static const uint16_t u10ffff[] = {0xDBFF, 0xDFFF};
	check_pair("\xF4\x8F\xBF\xBF", 4, u10ffff, 2);
	static const uint16_t u1f600[] = {'a', 0xD83D, 0xDE00, 'b', 0xD83D, 0xDE00};
	check_pair("a\xF0\x9F\x98\x80"
	           "b\xF0\x9F\x98\x80",
	           10, u1f600, 6);
}

static void check_bad_utf8(const char *s, size_t n, int64_t offset)
{
	uint8_t out[64];
	size_t len = 12345;
	assert_false(mh_utf8_valid(s, n));
	mh_error_clear();
	mh_status st = mh_utf8_to_utf16le(NULL, 0, s, n, &len);
	assert_error_at(st, MAPI_E_INVALID_PARAMETER, offset, NULL);
	mh_error_clear();
	st = mh_utf8_to_utf16le(out, sizeof(out), s, n, &len);
	assert_error_at(st, MAPI_E_INVALID_PARAMETER, offset, NULL);
}

static void test_utf__reject_invalid_utf8(void **state)
{
	(void)state;
	/* Overlong forms of U+0000, U+007F, U+07FF, U+FFFF. */
	check_bad_utf8("ab\xC0\x80", 4, 2);
	check_bad_utf8("\xC1\xBF", 2, 0);
	check_bad_utf8("x\xE0\x80\x80", 4, 1);
	check_bad_utf8("\xE0\x9F\xBF", 3, 0);
	check_bad_utf8("\xF0\x80\x80\x80", 4, 0);
	check_bad_utf8("\xF0\x8F\xBF\xBF", 4, 0);
	/* Encoded surrogates. */
	check_bad_utf8("\xED\xA0\x80", 3, 0);
	check_bad_utf8("z\xED\xBF\xBF", 4, 1);
	check_bad_utf8("\xED\xA0\xBD\xED\xB8\x80", 6, 0); /* CESU-8 pair */
	/* Beyond U+10FFFF and bytes never used. */
	check_bad_utf8("\xF4\x90\x80\x80", 4, 0);
	check_bad_utf8("\xF5\x80\x80\x80", 4, 0);
	check_bad_utf8("\xF7\xBF\xBF\xBF", 4, 0);
	check_bad_utf8("\xF8\x88\x80\x80\x80", 5, 0);
	check_bad_utf8("ok\xFE", 3, 2);
	check_bad_utf8("ok\xFF", 3, 2);
	/* Truncated sequences, at the end and before another character. */
	check_bad_utf8("\xC2", 1, 0);
	check_bad_utf8("ab\xE0\xA0", 4, 2);
	check_bad_utf8("\xF0\x9F\x98", 3, 0);
	check_bad_utf8("\xF0\x9F\x98"
	               "a",
	               4, 0);
	check_bad_utf8("\xE2\x82"
	               "a",
	               3, 0);
	/* Stray continuation bytes. */
	check_bad_utf8("\x80", 1, 0);
	check_bad_utf8("a\x80"
	               "b",
	               3, 1);
	check_bad_utf8("\xC3\xA9\xBF", 3, 2);
	/* The length is honoured: a valid prefix before a cut-off sequence. */
	assert_true(mh_utf8_valid("\xC3\xA9\xC3\xA9", 2));
	assert_false(mh_utf8_valid("\xC3\xA9\xC3\xA9", 3));
	assert_true(mh_utf8_valid(NULL, 0));
}

static void check_bad_utf16(const uint16_t *units, size_t n, int64_t offset)
{
	uint8_t raw[32];
	char out[64];
	size_t len;
	for (size_t i = 0; i < n; i++) {
		raw[2 * i] = (uint8_t)units[i];
		raw[2 * i + 1] = (uint8_t)(units[i] >> 8);
	}
	mh_error_clear();
	assert_error_at(mh_utf16le_to_utf8(NULL, 0, raw, n, &len), MAPI_E_CORRUPT_DATA, offset,
	                NULL);
	mh_error_clear();
	assert_error_at(mh_utf16le_to_utf8(out, sizeof(out), raw, n, &len), MAPI_E_CORRUPT_DATA,
	                offset, NULL);
}

static void test_utf__reject_unpaired_surrogates(void **state)
{
	(void)state;
	static const uint16_t lone_high_end[] = {'a', 0xD800};
	check_bad_utf16(lone_high_end, 2, 2);
	static const uint16_t lone_high_mid[] = {0xDBFF, 'a'};
	check_bad_utf16(lone_high_mid, 2, 0);
	static const uint16_t two_highs[] = {0xD83D, 0xD83D, 0xDE00};
	check_bad_utf16(two_highs, 3, 0);
	static const uint16_t lone_low[] = {'a', 'b', 0xDC00};
	check_bad_utf16(lone_low, 3, 4);
	static const uint16_t reversed[] = {0xDE00, 0xD83D};
	check_bad_utf16(reversed, 2, 0);
	static const uint16_t low_after_pair[] = {0xD83D, 0xDE00, 0xDE00};
	check_bad_utf16(low_after_pair, 3, 4);
	/* A pair cut by the unit count is unpaired, even if the buffer goes on. */
	static const uint16_t cut[] = {0xD83D, 0xDE00};
	check_bad_utf16(cut, 1, 0);
}

static void test_utf__output_buffer_too_small(void **state)
{
	(void)state;
	const char *s = "a\xC3\xA9\xF0\x9F\x98\x80"; /* a, U+00E9, U+1F600: 2+2+4 bytes */
	uint8_t out16[16];
	char out8[16];
	size_t len;

	for (size_t cap = 0; cap < 8; cap++) {
		memset(out16, 0xCC, sizeof(out16));
		assert_int_equal(mh_utf8_to_utf16le(out16, cap, s, 7, &len),
		                 MAPI_E_INVALID_PARAMETER);
		for (size_t i = cap; i < sizeof(out16); i++)
			assert_int_equal(out16[i], 0xCC);
	}
	assert_int_equal(mh_utf8_to_utf16le(out16, 8, s, 7, &len), S_OK);
	assert_int_equal(len, 8);

	static const uint8_t u16[] = {'a', 0, 0xE9, 0, 0x3D, 0xD8, 0x00, 0xDE};
	for (size_t cap = 0; cap < 8; cap++) { /* 7 bytes of UTF-8 + NUL */
		memset(out8, 0x7E, sizeof(out8));
		assert_int_equal(mh_utf16le_to_utf8(out8, cap, u16, 4, &len),
		                 MAPI_E_INVALID_PARAMETER);
		for (size_t i = cap; i < sizeof(out8); i++)
			assert_int_equal(out8[i], 0x7E);
	}
	assert_int_equal(mh_utf16le_to_utf8(out8, 8, u16, 4, &len), S_OK);
	assert_int_equal(len, 7);
	assert_string_equal(out8, s);
	assert_int_equal(mh_utf16le_to_utf8(out8, 1, u16, 0, &len), S_OK);
	assert_int_equal(len, 0);
	assert_string_equal(out8, "");
}

/* The Windows-1252 assignments of 0x80..0x9F; 0 where the code page has none. */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

/* Decodes one UTF-8 scalar by hand, independent of the code under test. */
static uint32_t decode_one(const char *s, size_t n)
{
	const uint8_t *u = (const uint8_t *)s;
	switch (n) {
	case 1:
		return u[0];
	case 2:
		return ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
	case 3:
		return ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) |
		       (u[2] & 0x3F);
	default:
		fail_msg("unexpected length %zu", n);
		return 0;
	}
}

static void test_utf__cp1252(void **state)
{
	(void)state;
	char out[8];
	size_t len;
	uint8_t b = 0x80;
	assert_int_equal(mh_cp1252_to_utf8(out, sizeof(out), &b, 1, &len), S_OK);
	assert_int_equal(len, 3);
	assert_string_equal(out, "\xE2\x82\xAC");
	b = 0x81;
	assert_int_equal(mh_cp1252_to_utf8(out, sizeof(out), &b, 1, &len), S_OK);
	assert_int_equal(len, 2);
	assert_string_equal(out, "\xC2\x81");
	b = 0xE9;
	assert_int_equal(mh_cp1252_to_utf8(out, sizeof(out), &b, 1, &len), S_OK);
	assert_string_equal(out, "\xC3\xA9");

	/* Every byte maps to the code point the code page assigns, or to itself. */
	for (unsigned i = 0; i < 256; i++) {
		uint8_t in = (uint8_t)i;
		size_t measured;
		assert_int_equal(mh_cp1252_to_utf8(NULL, 0, &in, 1, &measured), S_OK);
		memset(out, 0x7E, sizeof(out));
		assert_int_equal(mh_cp1252_to_utf8(out, sizeof(out), &in, 1, &len), S_OK);
		assert_int_equal(len, measured);
		assert_int_equal(out[len], '\0');
		assert_true(mh_utf8_valid(out, len));
		uint32_t want =
		    (i >= 0x80 && i <= 0x9F && cp1252_c1[i - 0x80] != 0) ? cp1252_c1[i - 0x80] : i;
		assert_int_equal(decode_one(out, len), want);
	}
}

static void test_utf__cp1252_all_bytes_distinct(void **state)
{
	(void)state;
	uint8_t all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	size_t len;
	assert_int_equal(mh_cp1252_to_utf8(NULL, 0, all, 256, &len), S_OK);
	char *out = malloc(len + 1);
	assert_non_null(out);
	assert_int_equal(mh_cp1252_to_utf8(out, len + 1, all, 256, &len), S_OK);
	assert_true(mh_utf8_valid(out, len));

	/* Back to UTF-16: 256 code points, all different. */
	uint8_t *u16 = malloc(2 * len);
	size_t n16;
	assert_non_null(u16);
	assert_int_equal(mh_utf8_to_utf16le(u16, 2 * len, out, len, &n16), S_OK);
	assert_int_equal(n16, 512);
	for (int i = 0; i < 256; i++)
		for (int j = i + 1; j < 256; j++)
			assert_false(u16[2 * i] == u16[2 * j] && u16[2 * i + 1] == u16[2 * j + 1]);
	free(u16);

	/* Too small by one, and measured exactly. */
	assert_int_equal(mh_cp1252_to_utf8(out, len, all, 256, &n16), MAPI_E_INVALID_PARAMETER);
	free(out);
	char empty[1] = {'x'};
	assert_int_equal(mh_cp1252_to_utf8(empty, 1, all, 0, &len), S_OK);
	assert_int_equal(len, 0);
	assert_int_equal(empty[0], '\0');
	assert_int_equal(mh_cp1252_to_utf8(empty, 0, all, 0, &len), MAPI_E_INVALID_PARAMETER);
}

/* ---- hex ---------------------------------------------------------------------------- */

static void test_hex__decode(void **state)
{
	(void)state;
	uint8_t *out = NULL;
	size_t n = 0;
	static const uint8_t want[] = {0x00, 0x0A, 0xFF, 0xBC, 0x12};
	const char *text = " 000a\tFf\r\nbC 1 2\n";
	assert_int_equal(mh_hex_decode(&out, &n, text, strlen(text)), S_OK);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	free(out);

	/* Empty and all-whitespace: zero bytes but a freeable pointer. */
	out = NULL;
	assert_int_equal(mh_hex_decode(&out, &n, " \n\t", 3), S_OK);
	assert_int_equal(n, 0);
	free(out);
	assert_int_equal(mh_hex_decode(&out, &n, "", 0), S_OK);
	assert_int_equal(n, 0);
	free(out);

	/* Only len bytes are read. */
	assert_int_equal(mh_hex_decode(&out, &n, "abcdzz", 4), S_OK);
	assert_int_equal(n, 2);
	assert_int_equal(out[1], 0xCD);
	free(out);
}

static void test_hex__errors(void **state)
{
	(void)state;
	uint8_t *out = (uint8_t *)&out;
	size_t n = 77;
	mh_error_clear();
	assert_error_at(mh_hex_decode(&out, &n, "01 2x", 5), MAPI_E_INVALID_PARAMETER, 4, "'x'");
	assert_null(out);
	assert_int_equal(n, 0);
	assert_error_at(mh_hex_decode(&out, &n, "0g", 2), MAPI_E_INVALID_PARAMETER, 1, NULL);
	assert_error_at(mh_hex_decode(&out, &n, "00\xC3\xA9", 4), MAPI_E_INVALID_PARAMETER, 2,
	                "0xC3");
	assert_error_at(mh_hex_decode(&out, &n, "0x12", 4), MAPI_E_INVALID_PARAMETER, 1, NULL);
	assert_error_at(mh_hex_decode(&out, &n, "ab\0cd", 5), MAPI_E_INVALID_PARAMETER, 2, NULL);
	/* Odd digit count: the unpaired last digit is named. */
	assert_error_at(mh_hex_decode(&out, &n, "abc", 3), MAPI_E_INVALID_PARAMETER, 2, "odd");
	assert_error_at(mh_hex_decode(&out, &n, "a b c  ", 7), MAPI_E_INVALID_PARAMETER, 4, "odd");
	assert_null(out);
	/* A bad character is reported even when the digit count is also odd. */
	assert_error_at(mh_hex_decode(&out, &n, "a-", 2), MAPI_E_INVALID_PARAMETER, 1, NULL);
	assert_int_equal(mh_hex_decode(NULL, &n, "00", 2), MAPI_E_INVALID_PARAMETER);
}

static void test_hex__encode_roundtrip(void **state)
{
	(void)state;
	uint8_t all[256];
	char text[513];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	memset(text, 'Z', sizeof(text));
	mh_hex_encode(text, all, 256);
	assert_int_equal(strlen(text), 512);
	assert_memory_equal(text, "000102", 6);
	assert_memory_equal(text + 2 * 0xAB, "abac", 4);
	assert_memory_equal(text + 510, "ff", 3);
	uint8_t *back;
	size_t n;
	assert_int_equal(mh_hex_decode(&back, &n, text, 512), S_OK);
	assert_int_equal(n, 256);
	assert_memory_equal(back, all, 256);
	free(back);
	char empty[1] = {'Z'};
	mh_hex_encode(empty, all, 0);
	assert_int_equal(empty[0], '\0');
}

/* ---- status names ----------------------------------------------------------------- */

#define NAMED(code)         \
	{                   \
		code, #code \
	}

static const struct {
	mh_status code;
	const char *name;
} named_codes[] = {
    NAMED(S_OK),
    NAMED(S_FALSE),
    NAMED(MAPI_E_CALL_FAILED),
    NAMED(MAPI_E_NOT_ENOUGH_MEMORY),
    NAMED(MAPI_E_INVALID_PARAMETER),
    NAMED(MAPI_E_INTERFACE_NOT_SUPPORTED),
    NAMED(MAPI_E_NO_ACCESS),
    NAMED(MAPI_E_NO_SUPPORT),
    NAMED(MAPI_E_BAD_CHARWIDTH),
    NAMED(MAPI_E_STRING_TOO_LONG),
    NAMED(MAPI_E_UNKNOWN_FLAGS),
    NAMED(MAPI_E_INVALID_ENTRYID),
    NAMED(MAPI_E_INVALID_OBJECT),
    NAMED(MAPI_E_OBJECT_CHANGED),
    NAMED(MAPI_E_OBJECT_DELETED),
    NAMED(MAPI_E_BUSY),
    NAMED(MAPI_E_NOT_ENOUGH_DISK),
    NAMED(MAPI_E_NOT_ENOUGH_RESOURCES),
    NAMED(MAPI_E_NOT_FOUND),
    NAMED(MAPI_E_VERSION),
    NAMED(MAPI_E_LOGON_FAILED),
    NAMED(MAPI_E_SESSION_LIMIT),
    NAMED(MAPI_E_USER_CANCEL),
    NAMED(MAPI_E_UNABLE_TO_ABORT),
    NAMED(MAPI_E_NETWORK_ERROR),
    NAMED(MAPI_E_DISK_ERROR),
    NAMED(MAPI_E_TOO_COMPLEX),
    NAMED(MAPI_E_BAD_COLUMN),
    NAMED(MAPI_E_EXTENDED_ERROR),
    NAMED(MAPI_E_COMPUTED),
    NAMED(MAPI_E_CORRUPT_DATA),
    NAMED(MAPI_E_UNCONFIGURED),
    NAMED(MAPI_E_FAILONEPROVIDER),
    NAMED(MAPI_E_UNKNOWN_CPID),
    NAMED(MAPI_E_UNKNOWN_LCID),
    NAMED(MAPI_E_PASSWORD_CHANGE_REQUIRED),
    NAMED(MAPI_E_PASSWORD_EXPIRED),
    NAMED(MAPI_E_INVALID_WORKSTATION_ACCOUNT),
    NAMED(MAPI_E_INVALID_ACCESS_TIME),
    NAMED(MAPI_E_ACCOUNT_DISABLED),
    NAMED(MAPI_E_RECONNECTED),
    NAMED(MAPI_E_OFFLINE),
    NAMED(MAPI_E_END_OF_SESSION),
    NAMED(MAPI_E_UNKNOWN_ENTRYID),
    NAMED(MAPI_E_MISSING_REQUIRED_COLUMN),
    NAMED(MAPI_E_PROFILE_DELETED),
    NAMED(MAPI_E_BAD_VALUE),
    NAMED(MAPI_E_INVALID_TYPE),
    NAMED(MAPI_E_TYPE_NO_SUPPORT),
    NAMED(MAPI_E_UNEXPECTED_TYPE),
    NAMED(MAPI_E_TOO_BIG),
    NAMED(MAPI_E_DECLINE_COPY),
    NAMED(MAPI_E_UNEXPECTED_ID),
    NAMED(MAPI_E_UNABLE_TO_COMPLETE),
    NAMED(MAPI_E_TIMEOUT),
    NAMED(MAPI_E_TABLE_EMPTY),
    NAMED(MAPI_E_TABLE_TOO_BIG),
    NAMED(MAPI_E_INVALID_BOOKMARK),
    NAMED(MAPI_E_WAIT),
    NAMED(MAPI_E_CANCEL),
    NAMED(MAPI_E_NOT_ME),
    NAMED(MAPI_E_CORRUPT_STORE),
    NAMED(MAPI_E_NOT_IN_QUEUE),
    NAMED(MAPI_E_NO_SUPPRESS),
    NAMED(MAPI_E_COLLISION),
    NAMED(MAPI_E_NOT_INITIALIZED),
    NAMED(MAPI_E_NON_STANDARD),
    NAMED(MAPI_E_NO_RECIPIENTS),
    NAMED(MAPI_E_SUBMITTED),
    NAMED(MAPI_E_HAS_FOLDERS),
    NAMED(MAPI_E_HAS_MESSAGES),
    NAMED(MAPI_E_FOLDER_CYCLE),
    NAMED(MAPI_E_STORE_FULL),
    NAMED(MAPI_E_LOCKID_LIMIT),
    NAMED(MAPI_E_AMBIGUOUS_RECIP),
    NAMED(MAPI_E_NAMED_PROP_QUOTA_EXCEEDED),
    NAMED(MAPI_W_NO_SERVICE),
    NAMED(MAPI_W_ERRORS_RETURNED),
    NAMED(MAPI_W_POSITION_CHANGED),
    NAMED(MAPI_W_APPROX_COUNT),
    NAMED(MAPI_W_CANCEL_MESSAGE),
    NAMED(MAPI_W_PARTIAL_COMPLETION),
    NAMED(ecUnbindFailure),
    NAMED(ecProfileNotConfigured),
    NAMED(ecUnknownUser),
    NAMED(ecUnknownCodePage),
    NAMED(ecServerOOM),
    NAMED(ecLoginPerm),
    NAMED(ecWrongServer),
    NAMED(ecBufferTooSmall),
    NAMED(ecServerPaused),
    NAMED(ecRpcFormat),
    NAMED(ecNullObject),
    NAMED(ecClientVerDisallowed),
    NAMED(ecRpcHttpDisallowed),
    NAMED(ecCachedModeRequired),
    NAMED(ecMailboxInTransit),
    NAMED(RPC_S_SERVER_TOO_BUSY),
    NAMED(RPC_X_BAD_STUB_DATA),
    NAMED(ecProtocolDisabled),
    NAMED(ecMailboxDisabled),
    NAMED(ecNotEncrypted),
};

static void test_status__every_code_named(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(named_codes) / sizeof(named_codes[0]); i++) {
		const char *name = mh_status_str(named_codes[i].code);
		const char *meaning = mh_status_meaning(named_codes[i].code);
		if (strcmp(name, named_codes[i].name) != 0)
			fail_msg("0x%08X is named %s, expected %s",
			         (unsigned)(uint32_t)named_codes[i].code, name,
			         named_codes[i].name);
		assert_non_null(meaning);
		assert_true(strlen(meaning) > 10);
		assert_string_not_equal(meaning, "unknown status");
		assert_null(strchr(meaning, '\n'));
		/* Names are stable static strings, not the thread-local buffer. */
		assert_ptr_equal(name, mh_status_str(named_codes[i].code));
	}
}

static void test_status__ec_aliases_take_mapi_names(void **state)
{
	(void)state;
	assert_string_equal(mh_status_str(ecNotFound), "MAPI_E_NOT_FOUND");
	assert_string_equal(mh_status_str(MH_SCODE(0x8004010Fu)), "MAPI_E_NOT_FOUND");
	assert_string_equal(mh_status_str(ecError), "MAPI_E_CALL_FAILED");
	assert_string_equal(mh_status_str(ecAccessDenied), "MAPI_E_NO_ACCESS");
	assert_string_equal(mh_status_str(ecInvalidParameter), "MAPI_E_INVALID_PARAMETER");
	assert_string_equal(mh_status_str(ecWarnWithErrors), "MAPI_W_ERRORS_RETURNED");
	assert_string_equal(mh_status_str(ecLoginFailure), "MAPI_E_LOGON_FAILED");
	assert_string_equal(mh_status_str(ecNone), "S_OK");
	assert_string_equal(mh_status_str(MH_SCODE(0x478u)), "ecWrongServer");
	assert_string_equal(mh_status_str(MH_SCODE(0x3EBu)), "ecUnknownUser");
	assert_string_equal(mh_status_str(ecUnbindSuccess), "S_FALSE");
	assert_contains(mh_status_meaning(ecUnbindSuccess), "ecUnbindSuccess");
	assert_contains(mh_status_meaning(ecNotFound), "ecNotFound");
	assert_contains(mh_status_meaning(MAPI_E_CALL_FAILED), "v1 store EntryID");
	assert_contains(mh_status_meaning(ecWrongServer), "server");
}

static void test_status__unknown_values(void **state)
{
	(void)state;
	assert_string_equal(mh_status_str(MH_SCODE(0x12345678u)), "0x12345678");
	assert_string_equal(mh_status_str(MH_SCODE(0x80040104u)), "0x80040104");
	assert_string_equal(mh_status_str(MH_SCODE(0x8004ABCDu)), "0x8004ABCD");
	assert_string_equal(mh_status_str(-1), "0xFFFFFFFF");
	assert_string_equal(mh_status_str(INT32_MIN), "0x80000000");
	assert_string_equal(mh_status_str(MH_SCODE(0x00000003u)), "0x00000003");
	assert_string_equal(mh_status_meaning(MH_SCODE(0x12345678u)), "unknown status");
	assert_string_equal(mh_status_meaning(-1), "unknown status");
	/* The buffer is reused by the next unknown value on the same thread. */
	const char *a = mh_status_str(MH_SCODE(0x11111111u));
	const char *b = mh_status_str(MH_SCODE(0x22222222u));
	assert_ptr_equal(a, b);
	assert_string_equal(b, "0x22222222");
}

struct status_thread_arg {
	const char *main_buf;
	int ok;
};

static void *status_thread(void *p)
{
	struct status_thread_arg *arg = p;
	const char *mine = mh_status_str(MH_SCODE(0x0BADF00Du));
	arg->ok = mine != arg->main_buf && strcmp(mine, "0x0BADF00D") == 0 &&
	          strcmp(arg->main_buf, "0x7E57C0DE") == 0;
	return NULL;
}

static void test_status__unknown_buffer_is_per_thread(void **state)
{
	(void)state;
	pthread_t t;
	struct status_thread_arg arg = {mh_status_str(MH_SCODE(0x7E57C0DEu)), 0};
	assert_int_equal(pthread_create(&t, NULL, status_thread, &arg), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(arg.ok);
	assert_string_equal(arg.main_buf, "0x7E57C0DE");
}

/* ---- thread-local error detail ------------------------------------------------------- */

static void test_diag__set_and_clear(void **state)
{
	(void)state;
	mh_error_clear();
	assert_null(mh_error_last());
	assert_int_equal(mh_error_set(MAPI_E_CORRUPT_DATA, 42, "field %s at byte %d", "Flags", 42),
	                 MAPI_E_CORRUPT_DATA);
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	assert_int_equal(e->status, MAPI_E_CORRUPT_DATA);
	assert_int_equal(e->offset, 42);
	assert_string_equal(e->message, "field Flags at byte 42");
	/* A later set replaces it (the detecting layer always wins). */
	mh_error_set(MAPI_E_INVALID_ENTRYID, -1, "second");
	assert_int_equal(mh_error_last()->status, MAPI_E_INVALID_ENTRYID);
	assert_int_equal(mh_error_last()->offset, -1);
	assert_string_equal(mh_error_last()->message, "second");
	mh_error_clear();
	assert_null(mh_error_last());
	mh_error_clear();
	assert_null(mh_error_last());
}

static void test_diag__set_default_keeps_lower_message(void **state)
{
	(void)state;
	mh_error_clear();
	mh_error_set(MAPI_E_INVALID_ENTRYID, 17, "ServerShortname at byte 17 has no NUL");
	assert_int_equal(mh_error_set_default(MAPI_E_INVALID_ENTRYID, "bad entry id"),
	                 MAPI_E_INVALID_ENTRYID);
	assert_string_equal(mh_error_last()->message, "ServerShortname at byte 17 has no NUL");
	assert_int_equal(mh_error_last()->offset, 17);

	/* A different status is a different failure: the default is recorded. */
	assert_int_equal(mh_error_set_default(MAPI_E_CALL_FAILED, "open failed: %d", 3),
	                 MAPI_E_CALL_FAILED);
	assert_int_equal(mh_error_last()->status, MAPI_E_CALL_FAILED);
	assert_string_equal(mh_error_last()->message, "open failed: 3");
	assert_int_equal(mh_error_last()->offset, -1);

	/* With nothing recorded, the default is used. */
	mh_error_clear();
	mh_error_set_default(MAPI_E_NOT_FOUND, "no such %s", "folder");
	assert_non_null(mh_error_last());
	assert_string_equal(mh_error_last()->message, "no such folder");
}

static void test_diag__oom_and_long_messages(void **state)
{
	(void)state;
	assert_int_equal(mh_error_oom(), MAPI_E_NOT_ENOUGH_MEMORY);
	assert_int_equal(mh_error_last()->status, MAPI_E_NOT_ENOUGH_MEMORY);
	assert_true(strlen(mh_error_last()->message) > 0);

	char big[2000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mh_error_set(MAPI_E_TOO_BIG, 0, "%s", big);
	size_t n = strlen(mh_error_last()->message);
	assert_true(n > 100 && n < sizeof(big) - 1); /* truncated, still terminated */

	/* Truncation never leaves half a UTF-8 character. */
	for (size_t pad = 0; pad < 8; pad++) {
		memset(big, 'x', pad);
		big[pad] = '\0';
		char euro[1600] = "";
		for (int i = 0; i < 500; i++)
			strcat(euro, "\xE2\x82\xAC");
		mh_error_set(MAPI_E_TOO_BIG, 0, "%s%s", big, euro);
		const char *m = mh_error_last()->message;
		assert_true(strlen(m) > 400);
		if (!mh_utf8_valid(m, strlen(m)))
			fail_msg("truncated message is not valid UTF-8 (pad %zu)", pad);
	}
}

struct diag_thread_arg {
	int started_clean;
	int kept_own;
};

static void *diag_thread(void *p)
{
	struct diag_thread_arg *arg = p;
	arg->started_clean = mh_error_last() == NULL;
	mh_error_set(MAPI_E_NETWORK_ERROR, 5, "thread message");
	const mh_error *e = mh_error_last();
	arg->kept_own = e != NULL && e->status == MAPI_E_NETWORK_ERROR &&
	                strcmp(e->message, "thread message") == 0;
	return NULL;
}

static void test_diag__per_thread(void **state)
{
	(void)state;
	pthread_t t[2];
	struct diag_thread_arg args[2] = {{0, 0}, {0, 0}};
	mh_error_set(MAPI_E_CORRUPT_DATA, 9, "main message");
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, diag_thread, &args[i]), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_true(args[i].started_clean);
		assert_true(args[i].kept_own);
	}
	assert_int_equal(mh_error_last()->status, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_error_last()->offset, 9);
	assert_string_equal(mh_error_last()->message, "main message");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cursor__readers_exact_bounds),
	    cmocka_unit_test(test_cursor__readers_one_byte_short),
	    cmocka_unit_test(test_cursor__offsets_are_absolute_in_sub_cursors),
	    cmocka_unit_test(test_cursor__values_little_endian),
	    cmocka_unit_test(test_cursor__u48be),
	    cmocka_unit_test(test_cursor__guid_and_muid),
	    cmocka_unit_test(test_cursor__bytes_points_into_input),
	    cmocka_unit_test(test_cursor__null_input_is_empty),
	    cmocka_unit_test(test_cursor__peek_u32),
	    cmocka_unit_test(test_cursor__str8),
	    cmocka_unit_test(test_cursor__str16),
	    cmocka_unit_test(test_cursor__seek),
	    cmocka_unit_test(test_cursor__enter_depth_limit),
	    cmocka_unit_test(test_cursor__fail_formats_and_returns_err),
	    cmocka_unit_test(test_buf__writers),
	    cmocka_unit_test(test_buf__u48be_drops_high_bits),
	    cmocka_unit_test(test_buf__grows),
	    cmocka_unit_test(test_buf__set_u32),
	    cmocka_unit_test(test_buf__sticky_error),
	    cmocka_unit_test(test_buf__utf16z_invalid_utf8),
	    cmocka_unit_test(test_buf__reserve_overflow),
	    cmocka_unit_test(test_buf__allocation_failure_is_sticky),
	    cmocka_unit_test(test_utf__bmp_and_boundaries),
	    cmocka_unit_test(test_utf__supplementary),
	    cmocka_unit_test(test_utf__reject_invalid_utf8),
	    cmocka_unit_test(test_utf__reject_unpaired_surrogates),
	    cmocka_unit_test(test_utf__output_buffer_too_small),
	    cmocka_unit_test(test_utf__cp1252),
	    cmocka_unit_test(test_utf__cp1252_all_bytes_distinct),
	    cmocka_unit_test(test_hex__decode),
	    cmocka_unit_test(test_hex__errors),
	    cmocka_unit_test(test_hex__encode_roundtrip),
	    cmocka_unit_test(test_status__every_code_named),
	    cmocka_unit_test(test_status__ec_aliases_take_mapi_names),
	    cmocka_unit_test(test_status__unknown_values),
	    cmocka_unit_test(test_status__unknown_buffer_is_per_thread),
	    cmocka_unit_test(test_diag__set_and_clear),
	    cmocka_unit_test(test_diag__set_default_keeps_lower_message),
	    cmocka_unit_test(test_diag__oom_and_long_messages),
	    cmocka_unit_test(test_diag__per_thread),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
