/*
 * Tests of the property value codec: byte layouts of every type in both
 * flavours, rows, tag and problem arrays, ids, hostile input and seeded
 * random round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/propval.h"
#include "mapihttp/status.h"
#include "util/alloc_internal.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/cursor.h"
#include "vectors.h"

#ifndef MH_VECTORS_DIR
#error "MH_VECTORS_DIR must name tests/vectors"
#endif
#define GROMOX_DIR MH_VECTORS_DIR "/gromox/"

#define ERR MAPI_E_CORRUPT_DATA

/* ---- helpers -------------------------------------------------------------------------- */

static void assert_contains(const char *hay, const char *needle)
{
	assert_non_null(hay);
	if (strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void assert_last_error(mh_status want, const char *needle)
{
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	assert_int_equal(e->status, want);
	if (needle != NULL)
		assert_contains(e->message, needle);
	assert_null(strchr(e->message, '\n'));
}

static void assert_bytes(const mh_buf *b, const uint8_t *want, size_t n)
{
	assert_int_equal(mh_buf_status(b), S_OK);
	if (b->len != n || (n > 0 && memcmp(b->data, want, n) != 0)) {
		char got[600] = "", exp[600] = "";
		for (size_t i = 0; i < b->len && i < 190; i++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%02x", b->data[i]);
		for (size_t i = 0; i < n && i < 190; i++)
			snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp), "%02x", want[i]);
		fail_msg("bytes differ:\n got  %s (%zu)\n want %s (%zu)", got, b->len, exp, n);
	}
}

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* Pushes v of type, checks the bytes, pulls them back and compares. */
static void check_value(mh_pv_flavor fl, uint16_t type, const union _PV *v, const uint8_t *want,
                        size_t n)
{
	mh_buf b = MH_BUF_INIT;
	mh_arena a;
	mh_cursor c;
	union _PV out;
	bool present = false;

	mh_pv_value_push(&b, fl, type, v);
	assert_bytes(&b, want, n);
	mh_arena_init(&a, 0);
	mh_cursor_init(&c, b.data, b.len, ERR);
	assert_int_equal(mh_pv_value_pull(&c, &a, fl, type, &out, &present), S_OK);
	assert_true(present);
	assert_int_equal(c.pos, c.len);
	assert_true(mh_pv_value_equal(type, v, &out));
	mh_arena_free(&a);
	mh_buf_free(&b);
}

static mh_status pull_value(mh_pv_flavor fl, uint16_t type, const uint8_t *p, size_t n, mh_arena *a,
                            union _PV *v, bool *present, size_t *used)
{
	mh_cursor c;
	mh_cursor_init(&c, p, n, ERR);
	mh_status st = mh_pv_value_pull(&c, a, fl, type, v, present);
	if (used != NULL)
		*used = c.pos;
	return st;
}

/* ---- fixed-size types ----------------------------------------------------------------- */

static void test_propval__fixed_types(void **state)
{
	(void)state;
	for (int f = 0; f < 2; f++) {
		mh_pv_flavor fl = (mh_pv_flavor)f;
		union _PV v;

		memset(&v, 0, sizeof(v));
		check_value(fl, PT_NULL, &v, NULL, 0);
		if (fl == MH_PV_NSPI)
			check_value(fl, PT_OBJECT, &v, NULL, 0);

		v.i = -2;
		check_value(fl, PT_I2, &v, BYTES(0xfe, 0xff));
		v.l = 0x12345678;
		check_value(fl, PT_LONG, &v, BYTES(0x78, 0x56, 0x34, 0x12));
		v.flt = 1.0f;
		check_value(fl, PT_R4, &v, BYTES(0x00, 0x00, 0x80, 0x3f));
		v.dbl = 1.0;
		check_value(fl, PT_DOUBLE, &v, BYTES(0, 0, 0, 0, 0, 0, 0xf0, 0x3f));
		v.at = 2.0;
		check_value(fl, PT_APPTIME, &v, BYTES(0, 0, 0, 0, 0, 0, 0x00, 0x40));
		v.cur = 12345; /* 1.2345 */
		check_value(fl, PT_CURRENCY, &v, BYTES(0x39, 0x30, 0, 0, 0, 0, 0, 0));
		v.err = MAPI_E_NOT_FOUND;
		check_value(fl, PT_ERROR, &v, BYTES(0x0f, 0x01, 0x04, 0x80));
		v.li = -1;
		check_value(fl, PT_I8, &v, BYTES(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
		v.ft.dwLowDateTime = 0x11223344;
		v.ft.dwHighDateTime = 0x01d9aabb;
		check_value(fl, PT_SYSTIME, &v,
		            BYTES(0x44, 0x33, 0x22, 0x11, 0xbb, 0xaa, 0xd9, 0x01));
		memset(&v, 0, sizeof(v));
		v.b = 1;
		check_value(fl, PT_BOOLEAN, &v, BYTES(0x01));
		v.b = 0;
		check_value(fl, PT_BOOLEAN, &v, BYTES(0x00));
	}
}

/* A Boolean byte other than 0 and 1 reads as TRUE (1) and is written back as 01. */
static void test_propval__boolean_normalised(void **state)
{
	(void)state;
	mh_arena a;
	union _PV v;
	size_t used;
	mh_arena_init(&a, 0);
	assert_int_equal(pull_value(MH_PV_ROP, PT_BOOLEAN, BYTES(0x7f), &a, &v, NULL, &used), S_OK);
	assert_int_equal(v.b, 1);
	assert_int_equal(used, 1);
	check_value(MH_PV_NSPI, PT_BOOLEAN, &v, BYTES(0x01));
	mh_arena_free(&a);
}

static void test_propval__clsid(void **state)
{
	(void)state;
	GUID g = {0x00020329, 0x0000, 0x0000, {0xC0, 0, 0, 0, 0, 0, 0, 0x46}};
	union _PV v;
	memset(&v, 0, sizeof(v));
	v.lpguid = &g;
	check_value(
	    MH_PV_ROP, PT_CLSID, &v,
	    BYTES(0x29, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0, 0, 0, 0, 0, 0, 0x46));
	check_value(MH_PV_NSPI, PT_CLSID, &v,
	            BYTES(0xff, 0x29, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0, 0, 0, 0, 0,
	                  0, 0x46));
}

/* ---- strings and binaries ------------------------------------------------------------- */

static void test_propval__strings(void **state)
{
	(void)state;
	union _PV v;
	char w[] = "A\xc3\xa9\xf0\x9f\x98\x80"; /* A, e-acute, U+1F600 */
	char s8[] = "hi\xe9";

	memset(&v, 0, sizeof(v));
	v.lpszW = w;
	check_value(MH_PV_ROP, PT_UNICODE, &v,
	            BYTES(0x41, 0x00, 0xe9, 0x00, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0x00));
	check_value(MH_PV_NSPI, PT_UNICODE, &v,
	            BYTES(0xff, 0x41, 0x00, 0xe9, 0x00, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0x00));
	v.lpszA = s8;
	check_value(MH_PV_ROP, PT_STRING8, &v, BYTES('h', 'i', 0xe9, 0x00));
	check_value(MH_PV_NSPI, PT_STRING8, &v, BYTES(0xff, 'h', 'i', 0xe9, 0x00));
	v.lpszW = (char[]){""};
	check_value(MH_PV_ROP, PT_UNICODE, &v, BYTES(0x00, 0x00));
	check_value(MH_PV_NSPI, PT_UNICODE, &v, BYTES(0xff, 0x00, 0x00));
}

static void test_propval__binary_count_widths(void **state)
{
	(void)state;
	uint8_t data[] = {0xaa, 0xbb, 0xcc};
	union _PV v;
	memset(&v, 0, sizeof(v));
	v.bin.cb = 3;
	v.bin.lpb = data;
	check_value(MH_PV_ROP, PT_BINARY, &v, BYTES(0x03, 0x00, 0xaa, 0xbb, 0xcc));
	check_value(MH_PV_NSPI, PT_BINARY, &v,
	            BYTES(0xff, 0x03, 0x00, 0x00, 0x00, 0xaa, 0xbb, 0xcc));
	check_value(MH_PV_ROP, PT_SVREID, &v, BYTES(0x03, 0x00, 0xaa, 0xbb, 0xcc));
	/* Present but empty: non-NULL pointer, zero bytes. */
	v.bin.cb = 0;
	check_value(MH_PV_ROP, PT_BINARY, &v, BYTES(0x00, 0x00));
	check_value(MH_PV_NSPI, PT_BINARY, &v, BYTES(0xff, 0x00, 0x00, 0x00, 0x00));
}

/*
 * [MS-OXCDATA] 2.11.1: PtypServerId is "a 16-bit COUNT" followed by the
 * 2.11.1.4 structure in every context, unlike PtypBinary whose COUNT is 32
 * bits in MAPI/HTTP NSPI bodies; and [MS-OXCMAPIHTTP] 2.2.1.1 gives it no
 * HasValue byte. (Before, NSPI wrote HasValue + COUNT(4) for it.)
 */
static void test_propval__server_id_count(void **state)
{
	(void)state;
	/* Ours 0x01, FolderId, MessageId, Instance: 21 bytes. */
	uint8_t sid[21] = {0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a};
	union _PV v;
	uint8_t want[23];
	memset(&v, 0, sizeof(v));
	v.bin.cb = sizeof(sid);
	v.bin.lpb = sid;
	want[0] = 21;
	want[1] = 0;
	memcpy(want + 2, sid, sizeof(sid));
	check_value(MH_PV_ROP, PT_SVREID, &v, want, sizeof(want));
	check_value(MH_PV_NSPI, PT_SVREID, &v, want, sizeof(want));

	/* A leading 0x00 is the low COUNT byte, not "absent". */
	mh_arena a;
	bool present = false;
	size_t used;
	mh_arena_init(&a, 0);
	assert_int_equal(
	    pull_value(MH_PV_NSPI, PT_SVREID, BYTES(0x00, 0x00, 0x55), &a, &v, &present, &used),
	    S_OK);
	assert_true(present);
	assert_int_equal(used, 2);
	assert_int_equal(v.bin.cb, 0);
	mh_arena_free(&a);
}

/*
 * [MS-OXCDATA] 2.11.1 gives PtypObject no value encoding and 2.11.1.5 says a
 * store never returns one through RopGetPropertiesSpecific/All, so a ROP
 * buffer value of that type cannot be measured: pull and push refuse it
 * (MAPI_E_NO_SUPPORT) instead of guessing a length. A flagged row's error
 * item for a PtypObject column still decodes. (Before, it was read as zero
 * bytes, which misreads whatever follows if a server sends any.)
 */
static void test_propval__object_in_rop(void **state)
{
	(void)state;
	mh_arena a;
	union _PV v;
	size_t used = 99;
	mh_buf b = MH_BUF_INIT;

	mh_arena_init(&a, 0);
	assert_int_equal(
	    pull_value(MH_PV_ROP, PT_OBJECT, BYTES(0x02, 0x00, 0xaa, 0xbb), &a, &v, NULL, &used),
	    MAPI_E_NO_SUPPORT);
	assert_int_equal(used, 0);
	assert_last_error(MAPI_E_NO_SUPPORT, "PtypObject");
	memset(&v, 0, sizeof(v));
	mh_pv_value_push(&b, MH_PV_ROP, PT_OBJECT, &v);
	assert_int_equal(mh_buf_status(&b), MAPI_E_NO_SUPPORT);
	mh_buf_free(&b);

	/* Flagged row: column 0x3701000D unavailable (0x0A ecNotFound), then a long. */
	SPropTagArray *cols = NULL;
	void *p;
	assert_int_equal(mh_arena_alloc(&a, CbNewSPropTagArray(2), &p), S_OK);
	cols = p;
	cols->cValues = 2;
	cols->aulPropTag[0] = PROP_TAG(PT_OBJECT, 0x3701);
	cols->aulPropTag[1] = PROP_TAG(PT_LONG, 0x0E08);
	static const uint8_t row_bytes[] = {0x01, 0x0a, 0x0f, 0x01, 0x04, 0x80,
	                                    0x00, 0x10, 0x00, 0x00, 0x00};
	mh_cursor c;
	mh_prop_row row;
	mh_cursor_init(&c, row_bytes, sizeof(row_bytes), ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_ROP, cols, &row), S_OK);
	assert_int_equal(c.pos, sizeof(row_bytes));
	assert_int_equal(row.lpProps[0].ulPropTag, PROP_TAG(PT_ERROR, 0x3701));
	assert_int_equal(row.lpProps[0].Value.err, MAPI_E_NOT_FOUND);
	assert_int_equal(row.lpProps[1].Value.l, 16);
	/* A standard row over the same columns would need the value: refused. */
	static const uint8_t std_bytes[] = {0x00, 0x10, 0x00, 0x00, 0x00};
	mh_cursor_init(&c, std_bytes, sizeof(std_bytes), ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_ROP, cols, &row), MAPI_E_NO_SUPPORT);
	mh_arena_free(&a);
}

/* NSPI HasValue 0x00: absent; pulls as zeroed, pushes back as 0x00. */
static void test_propval__nspi_absent(void **state)
{
	(void)state;
	static const uint16_t types[] = {PT_STRING8,    PT_UNICODE,    PT_BINARY,    PT_CLSID,
	                                 PT_MV_LONG,    PT_MV_UNICODE, PT_MV_BINARY, PT_MV_CLSID,
	                                 PT_MV_SYSTIME, PT_MV_STRING8};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		mh_arena a;
		union _PV v;
		bool present = true;
		size_t used;
		mh_buf b = MH_BUF_INIT;
		mh_arena_init(&a, 0);
		assert_int_equal(
		    pull_value(MH_PV_NSPI, types[i], BYTES(0x00, 0x55), &a, &v, &present, &used),
		    S_OK);
		assert_false(present);
		assert_int_equal(used, 1);
		mh_pv_value_push(&b, MH_PV_NSPI, types[i], &v);
		assert_bytes(&b, BYTES(0x00));
		mh_buf_free(&b);
		/* Any nonzero HasValue means present. */
		if (types[i] == PT_MV_LONG) {
			assert_int_equal(pull_value(MH_PV_NSPI, types[i],
			                            BYTES(0x01, 0x00, 0x00, 0x00, 0x00), &a, &v,
			                            &present, &used),
			                 S_OK);
			assert_true(present);
			assert_int_equal(v.MVl.cValues, 0);
			assert_non_null(v.MVl.lpl);
		}
		mh_arena_free(&a);
	}
}

/* ---- multi-valued --------------------------------------------------------------------- */

static void test_propval__mv_fixed(void **state)
{
	(void)state;
	int32_t l[] = {1, 2};
	int16_t s[] = {-1};
	GUID g[2] = {{1, 2, 3, {4, 5, 6, 7, 8, 9, 10, 11}}, {0, 0, 0, {0}}};
	union _PV v;
	memset(&v, 0, sizeof(v));
	v.MVl.cValues = 2;
	v.MVl.lpl = l;
	check_value(MH_PV_ROP, PT_MV_LONG, &v, BYTES(2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0));
	check_value(MH_PV_NSPI, PT_MV_LONG, &v, BYTES(0xff, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0));
	v.MVi.cValues = 1;
	v.MVi.lpi = s;
	check_value(MH_PV_ROP, PT_MV_I2, &v, BYTES(1, 0, 0, 0, 0xff, 0xff));
	v.MVguid.cValues = 2;
	v.MVguid.lpguid = g;
	check_value(MH_PV_ROP, PT_MV_CLSID, &v,
	            BYTES(2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 3, 0, 4, 5, 6, 7, 8, 9, 10, 11, 0, 0, 0, 0,
	                  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
	/* NSPI: HasValue before the array and before each GUID. */
	check_value(MH_PV_NSPI, PT_MV_CLSID, &v,
	            BYTES(0xff, 2, 0, 0, 0, 0xff, 1, 0, 0, 0, 2, 0, 3, 0, 4, 5, 6, 7, 8, 9, 10, 11,
	                  0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
}

static void test_propval__mv_strings(void **state)
{
	(void)state;
	char *w[] = {(char[]){"ab"}, (char[]){""}};
	char *a8[] = {(char[]){"x"}, NULL};
	union _PV v;
	memset(&v, 0, sizeof(v));
	v.MVszW.cValues = 2;
	v.MVszW.lppszW = w;
	check_value(MH_PV_ROP, PT_MV_UNICODE, &v, BYTES(2, 0, 0, 0, 'a', 0, 'b', 0, 0, 0, 0, 0));
	check_value(MH_PV_NSPI, PT_MV_UNICODE, &v,
	            BYTES(0xff, 2, 0, 0, 0, 0xff, 'a', 0, 'b', 0, 0, 0, 0xff, 0, 0));
	/* An absent NSPI element is a NULL pointer. */
	v.MVszA.cValues = 2;
	v.MVszA.lppszA = a8;
	check_value(MH_PV_NSPI, PT_MV_STRING8, &v, BYTES(0xff, 2, 0, 0, 0, 0xff, 'x', 0, 0x00));
	/* ... which a ROP buffer cannot carry. */
	mh_buf b = MH_BUF_INIT;
	mh_pv_value_push(&b, MH_PV_ROP, PT_MV_STRING8, &v);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
}

static void test_propval__mv_binary(void **state)
{
	(void)state;
	uint8_t d1[] = {0x01, 0x02};
	SBinary bins[] = {{2, d1}, {0, NULL}};
	union _PV v;
	memset(&v, 0, sizeof(v));
	v.MVbin.cValues = 1;
	v.MVbin.lpbin = bins;
	check_value(MH_PV_ROP, PT_MV_BINARY, &v, BYTES(1, 0, 0, 0, 2, 0, 1, 2));
	check_value(MH_PV_NSPI, PT_MV_BINARY, &v, BYTES(0xff, 1, 0, 0, 0, 0xff, 2, 0, 0, 0, 1, 2));
	v.MVbin.cValues = 2; /* second element absent (NSPI only) */
	check_value(MH_PV_NSPI, PT_MV_BINARY, &v,
	            BYTES(0xff, 2, 0, 0, 0, 0xff, 2, 0, 0, 0, 1, 2, 0x00));
}

/* ---- typed, tagged, lists ------------------------------------------------------------- */

static void test_propval__tagged_display_name(void **state)
{
	(void)state;
	SPropValue pv, out;
	mh_buf b = MH_BUF_INIT;
	mh_arena a;
	mh_cursor c;
	memset(&pv, 0, sizeof(pv));
	pv.ulPropTag = 0x3001001F;
	pv.Value.lpszW = (char[]){"Inbox"};
	mh_pv_tagged_push(&b, MH_PV_ROP, &pv);
	assert_bytes(&b,
	             BYTES(0x1f, 0x00, 0x01, 0x30, 'I', 0, 'n', 0, 'b', 0, 'o', 0, 'x', 0, 0, 0));
	mh_arena_init(&a, 0);
	mh_cursor_init(&c, b.data, b.len, ERR);
	assert_int_equal(mh_pv_tagged_pull(&c, &a, MH_PV_ROP, &out), S_OK);
	assert_int_equal(out.ulPropTag, 0x3001001F);
	assert_string_equal(out.Value.lpszW, "Inbox");
	mh_buf_free(&b);

	/* NSPI: AddressBookTaggedPropertyValue has the HasValue byte after the tag. */
	mh_pv_tagged_push(&b, MH_PV_NSPI, &pv);
	assert_bytes(
	    &b, BYTES(0x1f, 0x00, 0x01, 0x30, 0xff, 'I', 0, 'n', 0, 'b', 0, 'o', 0, 'x', 0, 0, 0));
	mh_buf_free(&b);

	/* TypedPropertyValue */
	pv.ulPropTag = PROP_TAG(PT_LONG, 0x1234);
	pv.Value.l = 42;
	mh_pv_typed_push(&b, MH_PV_ROP, &pv);
	assert_bytes(&b, BYTES(0x03, 0x00, 42, 0, 0, 0));
	mh_cursor_init(&c, b.data, b.len, ERR);
	assert_int_equal(mh_pv_typed_pull(&c, &a, MH_PV_ROP, &out), S_OK);
	assert_int_equal(out.ulPropTag, PROP_TAG(PT_LONG, 0));
	assert_int_equal(out.Value.l, 42);
	mh_buf_free(&b);

	/* Type 0 and MultivalueInstance types cannot be sent as values. */
	mh_cursor_init(&c, BYTES(0x00, 0x00, 1, 2, 3, 4), ERR);
	assert_int_equal(mh_pv_typed_pull(&c, &a, MH_PV_ROP, &out), ERR);
	assert_last_error(ERR, "PropertyType at byte 0");
	mh_cursor_init(&c, BYTES(0x03, 0x30, 0x01, 0x30, 1, 2, 3, 4), ERR);
	assert_int_equal(mh_pv_tagged_pull(&c, &a, MH_PV_ROP, &out), ERR);
	mh_arena_free(&a);
}

static void test_propval__list(void **state)
{
	(void)state;
	SPropValue pv[2], *out;
	uint32_t n;
	mh_buf b = MH_BUF_INIT;
	mh_arena a;
	mh_cursor c;
	memset(pv, 0, sizeof(pv));
	pv[0].ulPropTag = 0x360A000B; /* PidTagSubfolders */
	pv[0].Value.b = 1;
	pv[1].ulPropTag = 0x36020003; /* PidTagContentCount */
	pv[1].Value.l = 7;
	mh_arena_init(&a, 0);
	for (unsigned w = 2; w <= 4; w += 2) {
		mh_pv_list_push(&b, MH_PV_ROP, w, 2, pv);
		if (w == 2)
			assert_bytes(&b, BYTES(2, 0, 0x0b, 0, 0x0a, 0x36, 1, 0x03, 0, 0x02, 0x36, 7,
			                       0, 0, 0));
		else
			assert_bytes(&b, BYTES(2, 0, 0, 0, 0x0b, 0, 0x0a, 0x36, 1, 0x03, 0, 0x02,
			                       0x36, 7, 0, 0, 0));
		mh_cursor_init(&c, b.data, b.len, ERR);
		assert_int_equal(mh_pv_list_pull(&c, &a, MH_PV_ROP, w, &n, &out), S_OK);
		assert_int_equal(n, 2);
		assert_int_equal(out[0].ulPropTag, 0x360A000B);
		assert_int_equal(out[0].Value.b, 1);
		assert_int_equal(out[1].Value.l, 7);
		assert_int_equal(c.pos, c.len);
		mh_buf_free(&b);
	}
	/* Error in entry 1 names the entry and the tag. */
	mh_cursor_init(&c, BYTES(2, 0, 0x0b, 0, 0x0a, 0x36, 1, 0x03, 0, 0x02, 0x36, 7, 0), ERR);
	assert_int_equal(mh_pv_list_pull(&c, &a, MH_PV_ROP, 2, &n, &out), ERR);
	assert_last_error(ERR, "PropertyValue list entry 1: TaggedPropertyValue 0x36020003");
	assert_int_equal(n, 0);
	assert_null(out);
	mh_arena_free(&a);
}

/* ---- tag arrays and problems ---------------------------------------------------------- */

static void test_propval__tags(void **state)
{
	(void)state;
	mh_arena a;
	mh_cursor c;
	mh_buf b = MH_BUF_INIT;
	SPropTagArray *t;
	mh_arena_init(&a, 0);

	mh_cursor_init(&c, BYTES(2, 0, 0x1f, 0, 0x01, 0x30, 0x14, 0, 0x48, 0x67), ERR);
	assert_int_equal(mh_pv_tags_pull(&c, &a, 2, 10, &t), S_OK);
	assert_int_equal(t->cValues, 2);
	assert_int_equal(t->aulPropTag[0], 0x3001001F);
	assert_int_equal(t->aulPropTag[1], 0x67480014);
	mh_pv_tags_push(&b, 2, t);
	assert_bytes(&b, BYTES(2, 0, 0x1f, 0, 0x01, 0x30, 0x14, 0, 0x48, 0x67));
	mh_buf_free(&b);
	mh_pv_tags_push(&b, 4, t);
	assert_bytes(&b, BYTES(2, 0, 0, 0, 0x1f, 0, 0x01, 0x30, 0x14, 0, 0x48, 0x67));
	mh_buf_free(&b);

	/* Above max_count. */
	mh_cursor_init(&c, BYTES(3, 0, 0, 0, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4), ERR);
	assert_int_equal(mh_pv_tags_pull(&c, &a, 4, 2, &t), ERR);
	assert_last_error(ERR, "above the limit of 2");
	assert_null(t);
	/* Empty array. */
	mh_cursor_init(&c, BYTES(0, 0, 0, 0), ERR);
	assert_int_equal(mh_pv_tags_pull(&c, &a, 4, 2, &t), S_OK);
	assert_int_equal(t->cValues, 0);
	mh_arena_free(&a);
}

static void test_propval__problems(void **state)
{
	(void)state;
	mh_prop_problem p[2] = {{0, 0x3001001F, MAPI_E_NOT_FOUND},
	                        {5, 0x0FFF0102, MAPI_E_NO_ACCESS}};
	mh_prop_problem *out;
	uint16_t n;
	mh_buf b = MH_BUF_INIT;
	mh_arena a;
	mh_cursor c;
	mh_pv_problems_push(&b, 2, p);
	assert_bytes(&b, BYTES(2, 0, 0, 0, 0x1f, 0, 0x01, 0x30, 0x0f, 0x01, 0x04, 0x80, 5, 0, 0x02,
	                       0x01, 0xff, 0x0f, 0x05, 0x00, 0x07, 0x80));
	mh_arena_init(&a, 0);
	mh_cursor_init(&c, b.data, b.len, ERR);
	assert_int_equal(mh_pv_problems_pull(&c, &a, &n, &out), S_OK);
	assert_int_equal(n, 2);
	assert_int_equal(out[1].index, 5);
	assert_int_equal(out[1].tag, 0x0FFF0102);
	assert_int_equal(out[1].err, MAPI_E_NO_ACCESS);
	mh_arena_free(&a);
	mh_buf_free(&b);
}

/* ---- rows ----------------------------------------------------------------------------- */

static SPropTagArray *make_cols(mh_arena *a, uint32_t n, const uint32_t *tags)
{
	void *p;
	assert_int_equal(mh_arena_alloc(a, CbNewSPropTagArray(n), &p), S_OK);
	SPropTagArray *t = p;
	t->cValues = n;
	memcpy(t->aulPropTag, tags, n * sizeof(uint32_t));
	return t;
}

static void test_propval__row_standard(void **state)
{
	(void)state;
	static const uint32_t tags[] = {0x67480014, 0x3001001F, 0x0FFF0102, 0x360A000B};
	uint8_t eid[] = {0xde, 0xad};
	mh_arena a;
	mh_cursor c;
	mh_buf b = MH_BUF_INIT;
	SPropValue pv[4];
	mh_prop_row row = {0, 4, pv, NULL}, out;

	mh_arena_init(&a, 0);
	SPropTagArray *cols = make_cols(&a, 4, tags);
	memset(pv, 0, sizeof(pv));
	pv[0].ulPropTag = tags[0];
	pv[0].Value.li = (int64_t)mh_id_make(1, 0x1234);
	pv[1].ulPropTag = tags[1];
	pv[1].Value.lpszW = (char[]){"Hi"};
	pv[2].ulPropTag = tags[2];
	pv[2].Value.bin.cb = 2;
	pv[2].Value.bin.lpb = eid;
	pv[3].ulPropTag = tags[3];
	pv[3].Value.b = 1;
	mh_pv_row_push(&b, MH_PV_ROP, cols, &row);
	assert_bytes(&b, BYTES(0x00, 0x01, 0x00, 0, 0, 0, 0, 0x12, 0x34, 'H', 0, 'i', 0, 0, 0, 2, 0,
	                       0xde, 0xad, 0x01));
	mh_cursor_init(&c, b.data, b.len, ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_ROP, cols, &out), S_OK);
	assert_int_equal(out.flag, 0);
	assert_int_equal(out.cValues, 4);
	assert_null(out.colflags);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(out.lpProps[i].ulPropTag, tags[i]);
		assert_true(mh_pv_value_equal((uint16_t)PROP_TYPE(tags[i]), &pv[i].Value,
		                              &out.lpProps[i].Value));
	}
	mh_buf_free(&b);

	/* NSPI: HasValue bytes for string and binary, 4-byte COUNT. */
	mh_pv_row_push(&b, MH_PV_NSPI, cols, &row);
	assert_bytes(&b, BYTES(0x00, 0x01, 0x00, 0, 0, 0, 0, 0x12, 0x34, 0xff, 'H', 0, 'i', 0, 0, 0,
	                       0xff, 2, 0, 0, 0, 0xde, 0xad, 0x01));
	mh_cursor_init(&c, b.data, b.len, ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_NSPI, cols, &out), S_OK);
	assert_string_equal(out.lpProps[1].Value.lpszW, "Hi");
	mh_buf_free(&b);

	/* A PT_ERROR value cannot go in a standard row. */
	pv[1].ulPropTag = PROP_TAG(PT_ERROR, 0x3001);
	pv[1].Value.err = MAPI_E_NOT_FOUND;
	mh_pv_row_push(&b, MH_PV_ROP, cols, &row);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	/* Flagged, flags derived from the values. */
	row.flag = 1;
	mh_pv_row_push(&b, MH_PV_ROP, cols, &row);
	assert_bytes(&b, BYTES(0x01, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x12, 0x34, 0x0a, 0x0f, 0x01,
	                       0x04, 0x80, 0x00, 2, 0, 0xde, 0xad, 0x00, 0x01));
	mh_buf_free(&b);
	mh_arena_free(&a);
}

static void test_propval__row_flagged(void **state)
{
	(void)state;
	static const uint32_t tags[] = {0x3001001F, 0x36020003, 0x0FFF0102};
	mh_arena a;
	mh_cursor c;
	mh_buf b = MH_BUF_INIT;
	mh_prop_row out;
	/* 0x00 + value, 0x01 unavailable, 0x0A + error code */
	static const uint8_t wire[] = {0x01, 0x00, 'A',  0,    0,    0,
	                               0x01, 0x0a, 0x05, 0x00, 0x07, 0x80};

	mh_arena_init(&a, 0);
	SPropTagArray *cols = make_cols(&a, 3, tags);
	mh_cursor_init(&c, wire, sizeof(wire), ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_ROP, cols, &out), S_OK);
	assert_int_equal(out.flag, 1);
	assert_int_equal(out.cValues, 3);
	assert_non_null(out.colflags);
	assert_int_equal(out.colflags[0], MH_PV_FLAG_VALUE);
	assert_int_equal(out.colflags[1], MH_PV_FLAG_UNAVAILABLE);
	assert_int_equal(out.colflags[2], MH_PV_FLAG_ERROR);
	assert_string_equal(out.lpProps[0].Value.lpszW, "A");
	assert_int_equal(out.lpProps[0].ulPropTag, 0x3001001F);
	assert_int_equal(out.lpProps[1].ulPropTag, 0x3602000A);
	assert_int_equal(out.lpProps[1].Value.err, MAPI_E_NOT_FOUND);
	assert_int_equal(out.lpProps[2].ulPropTag, 0x0FFF000A);
	assert_int_equal(out.lpProps[2].Value.err, MAPI_E_NO_ACCESS);
	/* With colflags the row is written back byte for byte. */
	mh_pv_row_push(&b, MH_PV_ROP, cols, &out);
	assert_bytes(&b, wire, sizeof(wire));
	mh_buf_free(&b);

	/* Unknown column flag. */
	static const uint8_t bad[] = {0x01, 0x00, 'A', 0, 0, 0, 0x02};
	mh_cursor_init(&c, bad, sizeof(bad), ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_ROP, cols, &out), ERR);
	assert_last_error(ERR, "PropertyRow column 1 (0x36020003): Flag at byte 6 is 0x02");
	/* Unknown row flag. */
	mh_cursor_init(&c, BYTES(0x02), ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_ROP, cols, &out), ERR);
	assert_last_error(ERR, "PropertyRow Flag at byte 0 is 0x02");
	mh_arena_free(&a);
}

/* PtypUnspecified columns carry their type; MultivalueInstance columns carry single values. */
static void test_propval__row_unspecified_and_mvi(void **state)
{
	(void)state;
	static const uint32_t tags[] = {0x30010000, 0x8001301F, 0x0E080000};
	/* standard row: typed PtypString8, a single PtypString, typed PtypInteger32 */
	static const uint8_t std[] = {0x00, 0x1e, 0x00, 'x', 0, 'y', 0, 0,
	                              0,    0x03, 0x00, 9,   0, 0,   0};
	/* flagged: WithType (type, flag 0, value); (flag 1); WithType (type, flag 0x0A, code) */
	static const uint8_t flg[] = {0x01, 0x1f, 0x00, 0x00, 'z',  0,    0,    0,
	                              0x01, 0x0a, 0x00, 0x0a, 0x0f, 0x01, 0x04, 0x80};
	mh_arena a;
	mh_cursor c;
	mh_buf b = MH_BUF_INIT;
	mh_prop_row out;

	mh_arena_init(&a, 0);
	SPropTagArray *cols = make_cols(&a, 3, tags);
	mh_cursor_init(&c, std, sizeof(std), ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_ROP, cols, &out), S_OK);
	assert_int_equal(out.lpProps[0].ulPropTag, 0x3001001E);
	assert_string_equal(out.lpProps[0].Value.lpszA, "x");
	assert_int_equal(out.lpProps[1].ulPropTag, 0x8001001F);
	assert_string_equal(out.lpProps[1].Value.lpszW, "y");
	assert_int_equal(out.lpProps[2].ulPropTag, 0x0E080003);
	assert_int_equal(out.lpProps[2].Value.l, 9);
	mh_pv_row_push(&b, MH_PV_ROP, cols, &out);
	assert_bytes(&b, std, sizeof(std));
	mh_buf_free(&b);

	mh_cursor_init(&c, flg, sizeof(flg), ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_ROP, cols, &out), S_OK);
	assert_int_equal(out.lpProps[0].ulPropTag, 0x3001001F);
	assert_string_equal(out.lpProps[0].Value.lpszW, "z");
	assert_int_equal(out.lpProps[1].ulPropTag, 0x8001000A);
	assert_int_equal(out.lpProps[1].Value.err, MAPI_E_NOT_FOUND);
	assert_int_equal(out.lpProps[2].ulPropTag, 0x0E08000A);
	assert_int_equal(out.lpProps[2].Value.err, MAPI_E_NOT_FOUND);
	assert_int_equal(out.colflags[2], MH_PV_FLAG_ERROR);
	mh_pv_row_push(&b, MH_PV_ROP, cols, &out);
	/* The WithType item of an error is written with type PtypErrorCode (0x000A). */
	assert_bytes(&b, flg, sizeof(flg));
	mh_buf_free(&b);

	/* A typed value of type 0 in a standard row is corrupt. */
	static const uint8_t t0[] = {0x00, 0x00, 0x00, 'x', 0, 0, 0, 0, 0};
	mh_cursor_init(&c, t0, sizeof(t0), ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_ROP, cols, &out), ERR);
	assert_last_error(ERR, "PropertyRow column 0 (0x30010000)");
	mh_arena_free(&a);
}

static void test_propval__row_error_names_column(void **state)
{
	(void)state;
	static const uint32_t tags[] = {0x36020003, 0x0FFF0102, 0x3001001F};
	/* column 2: an unpaired high surrogate D800 */
	static const uint8_t wire[] = {0x00, 1, 0, 0, 0, 1, 0, 0xaa, 0x00, 0xd8, 0x41, 0x00, 0, 0};
	mh_arena a;
	mh_cursor c;
	mh_prop_row out;
	mh_arena_init(&a, 0);
	SPropTagArray *cols = make_cols(&a, 3, tags);
	mh_cursor_init(&c, wire, sizeof(wire), ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_ROP, cols, &out), ERR);
	assert_last_error(ERR, "PropertyRow column 2 (0x3001001F)");
	assert_last_error(ERR, "invalid UTF-16");
	assert_int_equal(mh_error_last()->offset, 8);
	assert_int_equal(out.cValues, 0);

	/* Binary COUNT larger than what is left. */
	static const uint8_t w2[] = {0x00, 1, 0, 0, 0, 9, 0, 0xaa, 0, 0};
	mh_cursor_init(&c, w2, sizeof(w2), ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_ROP, cols, &out), ERR);
	assert_last_error(ERR, "PtypBinary COUNT at byte 5 is 9");
	mh_arena_free(&a);
}

/* ---- errors --------------------------------------------------------------------------- */

static void test_propval__invalid_utf16(void **state)
{
	(void)state;
	mh_arena a;
	union _PV v;
	mh_cursor c;
	SPropValue pv;
	mh_arena_init(&a, 0);
	/* Lone low surrogate after the tag (offset 4 + 2). */
	mh_cursor_init(&c, BYTES(0x1f, 0x00, 0x01, 0x30, 0x41, 0x00, 0x00, 0xdc, 0x00, 0x00), ERR);
	assert_int_equal(mh_pv_tagged_pull(&c, &a, MH_PV_ROP, &pv), ERR);
	assert_last_error(ERR, "invalid UTF-16");
	assert_int_equal(mh_error_last()->offset, 6);
	/* High surrogate at the end. */
	assert_int_equal(pull_value(MH_PV_NSPI, PT_UNICODE, BYTES(0xff, 0x00, 0xd8, 0x00, 0x00), &a,
	                            &v, NULL, NULL),
	                 ERR);
	/* MV element 3 (from 0). */
	assert_int_equal(pull_value(MH_PV_ROP, PT_MV_UNICODE,
	                            BYTES(4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0xdc, 0, 0), &a, &v,
	                            NULL, NULL),
	                 ERR);
	assert_last_error(ERR, "PtypMultipleString element 3");
	/* No terminator. */
	assert_int_equal(pull_value(MH_PV_ROP, PT_UNICODE, BYTES('a', 0, 'b'), &a, &v, NULL, NULL),
	                 ERR);
	assert_last_error(ERR, "PtypString");
	mh_arena_free(&a);
}

static void test_propval__bad_types(void **state)
{
	(void)state;
	mh_arena a;
	union _PV v;
	mh_buf b = MH_BUF_INIT;
	mh_arena_init(&a, 0);
	assert_int_equal(
	    pull_value(MH_PV_ROP, PT_UNSPECIFIED, BYTES(0, 0, 0, 0), &a, &v, NULL, NULL), ERR);
	assert_int_equal(pull_value(MH_PV_ROP, 0x0009, BYTES(0, 0, 0, 0), &a, &v, NULL, NULL), ERR);
	assert_int_equal(
	    pull_value(MH_PV_ROP, PT_MV_LONG | MV_INSTANCE, BYTES(0, 0, 0, 0), &a, &v, NULL, NULL),
	    ERR);
	assert_int_equal(
	    pull_value(MH_PV_ROP, MV_FLAG | PT_BOOLEAN, BYTES(0, 0, 0, 0), &a, &v, NULL, NULL),
	    ERR);
	assert_int_equal(pull_value(MH_PV_ROP, PT_SRESTRICT, BYTES(0, 0, 0, 0), &a, &v, NULL, NULL),
	                 MAPI_E_NO_SUPPORT);
	assert_int_equal(pull_value(MH_PV_NSPI, PT_ACTIONS, BYTES(0, 0, 0, 0), &a, &v, NULL, NULL),
	                 MAPI_E_NO_SUPPORT);
	memset(&v, 0, sizeof(v));
	mh_pv_value_push(&b, MH_PV_ROP, PT_UNSPECIFIED, &v);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_TYPE);
	mh_buf_free(&b);
	mh_pv_value_push(&b, MH_PV_ROP, PT_MV_LONG | MV_INSTANCE, &v);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_TYPE);
	mh_buf_free(&b);
	mh_pv_value_push(&b, MH_PV_ROP, PT_SRESTRICT, &v);
	assert_int_equal(mh_buf_status(&b), MAPI_E_NO_SUPPORT);
	mh_buf_free(&b);
	mh_arena_free(&a);
}

static void test_propval__push_errors(void **state)
{
	(void)state;
	static uint8_t big[0x10000];
	union _PV v;
	mh_buf b = MH_BUF_INIT;

	memset(&v, 0, sizeof(v));
	v.bin.cb = sizeof(big);
	v.bin.lpb = big;
	mh_pv_value_push(&b, MH_PV_ROP, PT_BINARY, &v);
	assert_int_equal(mh_buf_status(&b), MAPI_E_TOO_BIG);
	assert_last_error(MAPI_E_TOO_BIG, "16-bit COUNT");
	mh_buf_free(&b);
	mh_pv_value_push(&b, MH_PV_NSPI, PT_BINARY, &v); /* fine with a 4-byte COUNT */
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_int_equal(b.len, 1 + 4 + sizeof(big));
	mh_buf_free(&b);

	v.bin.lpb = NULL;
	mh_pv_value_push(&b, MH_PV_NSPI, PT_BINARY, &v);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);

	memset(&v, 0, sizeof(v));
	mh_pv_value_push(&b, MH_PV_ROP, PT_UNICODE, &v);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	mh_pv_value_push(&b, MH_PV_ROP, PT_CLSID, &v);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	v.lpszW = (char[]){"\xc3("}; /* invalid UTF-8 */
	mh_pv_value_push(&b, MH_PV_ROP, PT_UNICODE, &v);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	v.MVl.cValues = 3;
	v.MVl.lpl = NULL;
	mh_pv_value_push(&b, MH_PV_ROP, PT_MV_LONG, &v);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);

	/* Tag array of 0x10000 with a 2-byte COUNT. */
	SPropTagArray *t = calloc(1, CbNewSPropTagArray(0x10000));
	assert_non_null(t);
	t->cValues = 0x10000;
	mh_pv_tags_push(&b, 2, t);
	assert_int_equal(mh_buf_status(&b), MAPI_E_TOO_BIG);
	mh_buf_free(&b);
	free(t);
}

/*
 * A count far above what the bytes can hold must fail as corrupt before
 * anything is allocated: a 64-byte arena would fail any real allocation
 * with MAPI_E_TOO_BIG.
 */
static void test_propval__hostile_counts(void **state)
{
	(void)state;
	static const uint16_t mv[] = {PT_MV_I2,       PT_MV_LONG,    PT_MV_R4,    PT_MV_DOUBLE,
	                              PT_MV_CURRENCY, PT_MV_APPTIME, PT_MV_I8,    PT_MV_STRING8,
	                              PT_MV_UNICODE,  PT_MV_SYSTIME, PT_MV_CLSID, PT_MV_BINARY};
	uint8_t buf[24];
	mh_arena a;
	union _PV v;
	mh_cursor c;

	memset(buf, 0, sizeof(buf));
	for (int f = 0; f < 2; f++) {
		for (size_t i = 0; i < sizeof(mv) / sizeof(mv[0]); i++) {
			size_t o = 0;
			if (f == MH_PV_NSPI)
				buf[o++] = 0xff;
			buf[o++] = 0xff, buf[o++] = 0xff, buf[o++] = 0xff, buf[o++] = 0xff;
			mh_arena_init(&a, 64);
			assert_int_equal(pull_value((mh_pv_flavor)f, mv[i], buf, sizeof(buf), &a,
			                            &v, NULL, NULL),
			                 ERR);
			assert_last_error(ERR, "COUNT at byte");
			assert_int_equal(a.used, 0);
			mh_arena_free(&a);
			/* A count that just fits the bytes is limited by the arena instead. */
		}
	}
	/*
	 * One element more than the bytes can hold at the smallest element size:
	 * rejected before allocating (a looser bound would reach the arena cap).
	 */
	static const struct {
		uint16_t type;
		size_t min_rop, min_nspi;
	} tight[] = {{PT_MV_I2, 2, 2},      {PT_MV_LONG, 4, 4},     {PT_MV_R4, 4, 4},
	             {PT_MV_DOUBLE, 8, 8},  {PT_MV_CURRENCY, 8, 8}, {PT_MV_APPTIME, 8, 8},
	             {PT_MV_I8, 8, 8},      {PT_MV_SYSTIME, 8, 8},  {PT_MV_CLSID, 16, 1},
	             {PT_MV_STRING8, 1, 1}, {PT_MV_UNICODE, 2, 1},  {PT_MV_BINARY, 2, 1}};
	for (int f = 0; f < 2; f++) {
		for (size_t i = 0; i < sizeof(tight) / sizeof(tight[0]); i++) {
			uint8_t w[1 + 4 + 48];
			size_t o = 0, body = 48;
			size_t min = f == MH_PV_NSPI ? tight[i].min_nspi : tight[i].min_rop;
			uint32_t n = (uint32_t)(body / min + 1);
			memset(w, 0, sizeof(w));
			if (f == MH_PV_NSPI)
				w[o++] = 0xff;
			w[o++] = (uint8_t)n, w[o++] = (uint8_t)(n >> 8), o += 2;
			mh_arena_init(&a, 64);
			assert_int_equal(pull_value((mh_pv_flavor)f, tight[i].type, w, o + body, &a,
			                            &v, NULL, NULL),
			                 ERR);
			assert_last_error(ERR, "COUNT at byte");
			assert_int_equal(a.used, 0);
			mh_arena_free(&a);
		}
	}
	/* Binary COUNT beyond the bytes. */
	mh_arena_init(&a, 64);
	assert_int_equal(
	    pull_value(MH_PV_ROP, PT_BINARY, BYTES(0xff, 0xff, 1, 2), &a, &v, NULL, NULL), ERR);
	assert_int_equal(pull_value(MH_PV_NSPI, PT_BINARY, BYTES(0xff, 0xff, 0xff, 0xff, 0xff, 1),
	                            &a, &v, NULL, NULL),
	                 ERR);
	assert_last_error(ERR, "PtypBinary COUNT at byte 1");
	/* Tag array, list, problems. */
	SPropTagArray *t;
	mh_cursor_init(&c, BYTES(0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4), ERR);
	assert_int_equal(mh_pv_tags_pull(&c, &a, 4, UINT32_MAX, &t), ERR);
	SPropValue *props;
	uint32_t n;
	mh_cursor_init(&c, BYTES(0xff, 0xff, 1, 2, 3, 4), ERR);
	assert_int_equal(mh_pv_list_pull(&c, &a, MH_PV_ROP, 2, &n, &props), ERR);
	mh_prop_problem *pr;
	uint16_t pn;
	mh_cursor_init(&c, BYTES(0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), ERR);
	assert_int_equal(mh_pv_problems_pull(&c, &a, &pn, &pr), ERR);
	assert_int_equal(a.used, 0);
	mh_arena_free(&a);

	/* A row of 100 PtypInteger64 columns with 8 bytes behind it. */
	mh_arena big;
	mh_arena_init(&big, 0);
	uint32_t tags[100];
	for (int i = 0; i < 100; i++)
		tags[i] = PROP_TAG(PT_I8, 0x6700 + i);
	SPropTagArray *cols = make_cols(&big, 100, tags);
	mh_prop_row row;
	mh_arena_init(&a, 64);
	mh_cursor_init(&c, BYTES(0, 1, 2, 3, 4, 5, 6, 7, 8), ERR);
	assert_int_equal(mh_pv_row_pull(&c, &a, MH_PV_ROP, cols, &row), ERR);
	assert_last_error(ERR, "PropertyRow of 100 columns needs at least 800 bytes");
	assert_int_equal(a.used, 0);
	mh_arena_free(&a);
	mh_arena_free(&big);

	/* The arena cap is the last line: a legitimate count that expands too much. */
	uint8_t many[4 + 64];
	memset(many, 0, sizeof(many));
	many[0] = 64; /* 64 empty 8-bit strings: 64 pointers = 512 bytes */
	mh_arena_init(&a, 256);
	assert_int_equal(
	    pull_value(MH_PV_ROP, PT_MV_STRING8, many, sizeof(many), &a, &v, NULL, NULL),
	    MAPI_E_TOO_BIG);
	mh_arena_free(&a);
}

/* ---- ids ------------------------------------------------------------------------------ */

static void test_propval__ids(void **state)
{
	(void)state;
	mh_buf b = MH_BUF_INIT;
	uint64_t id = mh_id_make(1, 0x1234);
	assert_int_equal(mh_id_replid(id), 1);
	assert_int_equal(mh_id_counter(id), 0x1234);
	mh_buf_u64(&b, id);
	assert_bytes(&b, BYTES(0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34));
	mh_buf_free(&b);

	/* 0001-00174ea8cd9d as printed by tools */
	id = mh_id_make(0x0001, 0x00174ea8cd9dULL);
	mh_buf_u64(&b, id);
	assert_bytes(&b, BYTES(0x01, 0x00, 0x00, 0x17, 0x4e, 0xa8, 0xcd, 0x9d));
	mh_buf_free(&b);
	mh_cursor c;
	uint64_t back;
	mh_cursor_init(&c, BYTES(0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a), ERR);
	assert_int_equal(mh_cursor_u64(&c, &back, "id"), S_OK);
	assert_int_equal(mh_id_replid(back), 5);
	assert_int_equal(mh_id_counter(back), 0x2a);
	assert_int_equal(mh_id_make(5, 0x2a), back);
	/* Only 48 bits of the counter are kept. */
	assert_int_equal(mh_id_counter(mh_id_make(0xffff, 0xffffffffffffffffULL)),
	                 0xffffffffffffULL);
	assert_int_equal(mh_id_make(0xabcd, 0x123456789abcULL), 0xbc9a78563412abcdULL);
}

static void test_propval__long_term_id(void **state)
{
	(void)state;
	static const uint8_t wire[] = {0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde,
	                               1,    2,    3,    4,    5,    6,    7,    8,
	                               0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00, 0x00};
	mh_long_term_id lt;
	mh_cursor c;
	mh_buf b = MH_BUF_INIT;
	mh_cursor_init(&c, wire, sizeof(wire), ERR);
	assert_int_equal(mh_long_term_id_pull(&c, &lt), S_OK);
	assert_int_equal(lt.database_guid.Data1, 0x12345678);
	assert_int_equal(lt.database_guid.Data2, 0x9abc);
	assert_int_equal(lt.database_guid.Data3, 0xdef0);
	assert_int_equal(lt.database_guid.Data4[7], 8);
	assert_int_equal(lt.global_counter, 0x1234);
	assert_int_equal(lt.pad, 0);
	mh_long_term_id_push(&b, &lt);
	assert_bytes(&b, wire, sizeof(wire));
	mh_buf_free(&b);
	for (size_t n = 0; n < sizeof(wire); n++) {
		mh_cursor_init(&c, wire, n, ERR);
		assert_int_equal(mh_long_term_id_pull(&c, &lt), ERR);
		assert_last_error(ERR, "LongTermId");
	}
}

/* ---- random round trips --------------------------------------------------------------- */

typedef struct rng {
	uint64_t s;
} rng;

static uint64_t rnd(rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

static uint32_t rnd_below(rng *r, uint32_t n)
{
	return (uint32_t)(rnd(r) % n);
}

static void *ralloc(mh_arena *a, size_t n)
{
	void *p;
	assert_int_equal(mh_arena_alloc(a, n ? n : 1, &p), S_OK);
	return p;
}

static void rnd_bytes(rng *r, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd(r);
}

/* Valid UTF-8 with characters of 1 to 4 bytes, no NUL. */
static char *rnd_utf8(rng *r, mh_arena *a)
{
	size_t n = rnd_below(r, 12);
	char *s = ralloc(a, n * 4 + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t cp;
		switch (rnd_below(r, 4)) {
		case 0:
			cp = 1 + rnd_below(r, 0x7f);
			break;
		case 1:
			cp = 0x80 + rnd_below(r, 0x780);
			break;
		case 2:
			do
				cp = 0x800 + rnd_below(r, 0xf800);
			while (cp >= 0xd800 && cp <= 0xdfff);
			break;
		default:
			cp = 0x10000 + rnd_below(r, 0x100000);
			break;
		}
		if (cp < 0x80) {
			s[o++] = (char)cp;
		} else if (cp < 0x800) {
			s[o++] = (char)(0xc0 | (cp >> 6));
			s[o++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			s[o++] = (char)(0xe0 | (cp >> 12));
			s[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			s[o++] = (char)(0x80 | (cp & 0x3f));
		} else {
			s[o++] = (char)(0xf0 | (cp >> 18));
			s[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
			s[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			s[o++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	s[o] = '\0';
	return s;
}

static char *rnd_str8(rng *r, mh_arena *a)
{
	size_t n = rnd_below(r, 12);
	char *s = ralloc(a, n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)(1 + rnd_below(r, 255));
	return s;
}

static void rnd_bin(rng *r, mh_arena *a, SBinary *b)
{
	b->cb = rnd_below(r, 20);
	b->lpb = ralloc(a, b->cb);
	rnd_bytes(r, b->lpb, b->cb);
}

static const uint16_t all_types[] = {
    PT_NULL,       PT_I2,         PT_LONG,       PT_R4,          PT_DOUBLE,     PT_CURRENCY,
    PT_APPTIME,    PT_ERROR,      PT_BOOLEAN,    PT_OBJECT,      PT_I8,         PT_STRING8,
    PT_UNICODE,    PT_SYSTIME,    PT_CLSID,      PT_SVREID,      PT_BINARY,     PT_MV_I2,
    PT_MV_LONG,    PT_MV_R4,      PT_MV_DOUBLE,  PT_MV_CURRENCY, PT_MV_APPTIME, PT_MV_I8,
    PT_MV_STRING8, PT_MV_UNICODE, PT_MV_SYSTIME, PT_MV_CLSID,    PT_MV_BINARY};
#define N_TYPES (sizeof(all_types) / sizeof(all_types[0]))

/* A random value of type; with NSPI, sometimes absent (and absent MV elements). */
static void rnd_value(rng *r, mh_arena *a, mh_pv_flavor fl, uint16_t type, union _PV *v)
{
	bool nspi = fl == MH_PV_NSPI;
	memset(v, 0, sizeof(*v));
	if (nspi &&
	    (type & MV_FLAG || type == PT_STRING8 || type == PT_UNICODE || type == PT_BINARY ||
	     type == PT_CLSID) &&
	    rnd_below(r, 8) == 0)
		return; /* absent */
	if (type & MV_FLAG) {
		uint16_t base = type & (uint16_t)~MV_FLAG;
		uint32_t n = rnd_below(r, 5);
		switch (base) {
		case PT_STRING8:
		case PT_UNICODE: {
			char **p = ralloc(a, n * sizeof(char *));
			for (uint32_t i = 0; i < n; i++)
				p[i] = nspi && rnd_below(r, 5) == 0 ? NULL
				       : base == PT_UNICODE         ? rnd_utf8(r, a)
				                                    : rnd_str8(r, a);
			v->MVszW.cValues = n;
			v->MVszW.lppszW = p;
			return;
		}
		case PT_BINARY: {
			SBinary *p = ralloc(a, n * sizeof(SBinary));
			for (uint32_t i = 0; i < n; i++)
				if (!(nspi && rnd_below(r, 5) == 0))
					rnd_bin(r, a, &p[i]);
			v->MVbin.cValues = n;
			v->MVbin.lpbin = p;
			return;
		}
		case PT_CLSID: {
			GUID *p = ralloc(a, n * sizeof(GUID));
			rnd_bytes(r, (uint8_t *)p, n * sizeof(GUID));
			v->MVguid.cValues = n;
			v->MVguid.lpguid = p;
			return;
		}
		default: {
			size_t sz = base == PT_I2 ? 2 : base == PT_LONG || base == PT_R4 ? 4 : 8;
			void *p = ralloc(a, n * sz);
			rnd_bytes(r, p, n * sz);
			/* All SxxxArray share the layout {cValues; pointer}. */
			v->MVl.cValues = n;
			v->MVl.lpl = p;
			return;
		}
		}
	}
	switch (type) {
	case PT_NULL:
	case PT_OBJECT:
		return;
	case PT_BOOLEAN:
		v->b = (uint16_t)rnd_below(r, 2);
		return;
	case PT_STRING8:
		v->lpszA = rnd_str8(r, a);
		return;
	case PT_UNICODE:
		v->lpszW = rnd_utf8(r, a);
		return;
	case PT_CLSID:
		v->lpguid = ralloc(a, sizeof(GUID));
		rnd_bytes(r, (uint8_t *)v->lpguid, sizeof(GUID));
		return;
	case PT_BINARY:
	case PT_SVREID:
		rnd_bin(r, a, &v->bin);
		return;
	case PT_I2:
		v->i = (int16_t)rnd(r);
		return;
	case PT_LONG:
	case PT_ERROR:
	case PT_R4:
		v->ul = (uint32_t)rnd(r);
		return;
	case PT_SYSTIME:
		v->ft.dwLowDateTime = (uint32_t)rnd(r);
		v->ft.dwHighDateTime = (uint32_t)rnd(r);
		return;
	default:
		v->li = (int64_t)rnd(r);
		return;
	}
}

/* Every strict prefix of an encoding must fail as corrupt, and never crash. */
static void check_truncations_value(mh_pv_flavor fl, uint16_t type, const uint8_t *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		mh_arena a;
		union _PV v;
		uint8_t *cp = malloc(k ? k : 1); /* exact size so ASan sees overreads */
		assert_non_null(cp);
		memcpy(cp, p, k);
		mh_arena_init(&a, 0);
		mh_status st = pull_value(fl, type, cp, k, &a, &v, NULL, NULL);
		if (st != ERR)
			fail_msg("type 0x%04X flavour %d: prefix %zu of %zu gave 0x%08X", type, fl,
			         k, n, (unsigned)st);
		mh_arena_free(&a);
		free(cp);
	}
}

static void test_propval__random_values(void **state)
{
	(void)state;
	rng r = {0x9E3779B97F4A7C15ULL};
	for (int iter = 0; iter < 3000; iter++) {
		mh_pv_flavor fl = (mh_pv_flavor)rnd_below(&r, 2);
		uint16_t type = all_types[rnd_below(&r, N_TYPES)];
		mh_arena a, a2;
		if (type == PT_OBJECT && fl == MH_PV_ROP)
			continue; /* not encodable; see test_propval__object_in_rop */
		union _PV v, out;
		mh_buf b = MH_BUF_INIT, b2 = MH_BUF_INIT;
		mh_cursor c;
		bool present;

		mh_arena_init(&a, 0);
		mh_arena_init(&a2, 0);
		rnd_value(&r, &a, fl, type, &v);
		mh_pv_value_push(&b, fl, type, &v);
		assert_int_equal(mh_buf_status(&b), S_OK);
		mh_cursor_init(&c, b.data, b.len, ERR);
		assert_int_equal(mh_pv_value_pull(&c, &a2, fl, type, &out, &present), S_OK);
		assert_int_equal(c.pos, b.len);
		if (!mh_pv_value_equal(type, &v, &out))
			fail_msg("iteration %d: type 0x%04X flavour %d differs", iter, type, fl);
		mh_pv_value_push(&b2, fl, type, &out);
		assert_int_equal(b2.len, b.len);
		assert_memory_equal(b2.data, b.data, b.len);
		if (iter % 10 == 0)
			check_truncations_value(fl, type, b.data, b.len);
		mh_buf_free(&b);
		mh_buf_free(&b2);
		mh_arena_free(&a);
		mh_arena_free(&a2);
	}
}

static bool row_equal(const mh_prop_row *x, const mh_prop_row *y)
{
	if (x->flag != y->flag || x->cValues != y->cValues)
		return false;
	for (uint32_t i = 0; i < x->cValues; i++) {
		if (x->lpProps[i].ulPropTag != y->lpProps[i].ulPropTag)
			return false;
		if (!mh_pv_value_equal((uint16_t)PROP_TYPE(x->lpProps[i].ulPropTag),
		                       &x->lpProps[i].Value, &y->lpProps[i].Value))
			return false;
		/* A row built without colflags holds plain values (flag 0x00). */
		uint8_t fx = x->colflags ? x->colflags[i] : MH_PV_FLAG_VALUE;
		uint8_t fy = y->colflags ? y->colflags[i] : MH_PV_FLAG_VALUE;
		if (x->flag && fx != fy)
			return false;
	}
	return true;
}

/* Random column set and a random row over it (the shape a server produces). */
static void rnd_row(rng *r, mh_arena *a, mh_pv_flavor fl, SPropTagArray **cols_out,
                    mh_prop_row *row)
{
	uint32_t n = rnd_below(r, 7);
	SPropTagArray *cols = ralloc(a, CbNewSPropTagArray(n));
	cols->cValues = n;
	row->flag = (uint8_t)rnd_below(r, 2);
	row->cValues = n;
	row->lpProps = ralloc(a, n * sizeof(SPropValue));
	row->colflags = row->flag ? ralloc(a, n) : NULL;
	for (uint32_t i = 0; i < n; i++) {
		uint16_t id = (uint16_t)(0x3000 + i);
		uint16_t vt = all_types[rnd_below(r, N_TYPES)];
		if (vt == PT_OBJECT && fl == MH_PV_ROP)
			vt = PT_NULL; /* no ROP encoding */
		uint16_t ct = vt;
		uint32_t pick = rnd_below(r, 6);
		if (pick == 0)
			ct = PT_UNSPECIFIED;
		else if (pick == 1 && !(vt & MV_FLAG) && vt != PT_NULL && vt != PT_OBJECT &&
		         vt != PT_ERROR && vt != PT_BOOLEAN && vt != PT_SVREID)
			ct = vt | MVI_FLAG; /* MultivalueInstance column: single value back */
		cols->aulPropTag[i] = PROP_TAG(ct, id);
		SPropValue *pv = &row->lpProps[i];
		uint8_t cf = MH_PV_FLAG_VALUE;
		if (row->flag)
			cf = (uint8_t)(rnd_below(r, 3) == 0
			                   ? (rnd_below(r, 2) ? MH_PV_FLAG_ERROR
			                                      : MH_PV_FLAG_UNAVAILABLE)
			                   : MH_PV_FLAG_VALUE);
		if (cf == MH_PV_FLAG_VALUE) {
			pv->ulPropTag = PROP_TAG(vt, id);
			rnd_value(r, a, fl, vt, &pv->Value);
		} else {
			pv->ulPropTag = PROP_TAG(PT_ERROR, id);
			pv->Value.err =
			    cf == MH_PV_FLAG_UNAVAILABLE ? MAPI_E_NOT_FOUND : (int32_t)rnd(r);
		}
		if (row->flag)
			row->colflags[i] = cf;
	}
	*cols_out = cols;
}

static void test_propval__random_rows(void **state)
{
	(void)state;
	rng r = {0x0123456789ABCDEFULL};
	for (int iter = 0; iter < 2000; iter++) {
		mh_pv_flavor fl = (mh_pv_flavor)rnd_below(&r, 2);
		mh_arena a, a2;
		SPropTagArray *cols;
		mh_prop_row row, out;
		mh_buf b = MH_BUF_INIT, b2 = MH_BUF_INIT;
		mh_cursor c;

		mh_arena_init(&a, 0);
		mh_arena_init(&a2, 0);
		rnd_row(&r, &a, fl, &cols, &row);
		mh_pv_row_push(&b, fl, cols, &row);
		assert_int_equal(mh_buf_status(&b), S_OK);
		mh_cursor_init(&c, b.data, b.len, ERR);
		assert_int_equal(mh_pv_row_pull(&c, &a2, fl, cols, &out), S_OK);
		assert_int_equal(c.pos, b.len);
		if (!row_equal(&row, &out))
			fail_msg("iteration %d: row differs", iter);
		mh_pv_row_push(&b2, fl, cols, &out);
		assert_int_equal(b2.len, b.len);
		assert_memory_equal(b2.data, b.data, b.len);
		if (iter % 10 == 0) {
			for (size_t k = 0; k < b.len; k++) {
				uint8_t *cp = malloc(k ? k : 1);
				memcpy(cp, b.data, k);
				mh_cursor_init(&c, cp, k, ERR);
				assert_int_equal(mh_pv_row_pull(&c, &a2, fl, cols, &out), ERR);
				free(cp);
			}
		}
		/* Tagged list of the same values, both COUNT widths. */
		if (!row.flag) {
			SPropValue *lp;
			uint32_t ln;
			unsigned w = fl == MH_PV_NSPI ? 4 : 2;
			mh_buf_free(&b);
			mh_pv_list_push(&b, fl, w, row.cValues, row.lpProps);
			assert_int_equal(mh_buf_status(&b), S_OK);
			mh_cursor_init(&c, b.data, b.len, ERR);
			assert_int_equal(mh_pv_list_pull(&c, &a2, fl, w, &ln, &lp), S_OK);
			assert_int_equal(ln, row.cValues);
			for (uint32_t i = 0; i < ln; i++) {
				assert_int_equal(lp[i].ulPropTag, row.lpProps[i].ulPropTag);
				assert_true(mh_pv_value_equal((uint16_t)PROP_TYPE(lp[i].ulPropTag),
				                              &lp[i].Value, &row.lpProps[i].Value));
			}
		}
		mh_buf_free(&b);
		mh_buf_free(&b2);
		mh_arena_free(&a);
		mh_arena_free(&a2);
	}
}

/* Random bit flips in valid rows: any outcome but a crash, a leak or a bad status. */
static void test_propval__bit_flips(void **state)
{
	(void)state;
	rng r = {42};
	for (int iter = 0; iter < 2000; iter++) {
		mh_pv_flavor fl = (mh_pv_flavor)rnd_below(&r, 2);
		mh_arena a, a2;
		SPropTagArray *cols;
		mh_prop_row row, out;
		mh_buf b = MH_BUF_INIT;
		mh_cursor c;
		mh_arena_init(&a, 0);
		mh_arena_init(&a2, 1 << 16);
		rnd_row(&r, &a, fl, &cols, &row);
		mh_pv_row_push(&b, fl, cols, &row);
		assert_int_equal(mh_buf_status(&b), S_OK);
		for (int k = 0; k < 4 && b.len > 0; k++) {
			size_t at = rnd_below(&r, (uint32_t)b.len);
			b.data[at] ^= (uint8_t)(1u << rnd_below(&r, 8));
		}
		mh_cursor_init(&c, b.data, b.len, ERR);
		mh_status st = mh_pv_row_pull(&c, &a2, fl, cols, &out);
		assert_true(st == S_OK || st == ERR || st == MAPI_E_TOO_BIG ||
		            st == MAPI_E_NO_SUPPORT);
		mh_buf_free(&b);
		mh_arena_free(&a);
		mh_arena_free(&a2);
	}
}

/* Every heap failure during a pull or a push is reported as such, without leaks. */
static void test_propval__out_of_memory(void **state)
{
	(void)state;
	enum { NCOL = 40 };
	static uint8_t blob[600];
	char s1[] = "one", s2[] = "two", s3[] = "three";
	char *strs[] = {s1, s2, s3};
	char text[] = "a string of some length, \xc3\xa9\xc3\xa9";
	uint32_t tags[NCOL];
	SPropValue pv[NCOL];
	mh_prop_row row = {1, NCOL, pv, NULL}, out;
	mh_buf b = MH_BUF_INIT;
	mh_arena a;
	mh_arena_init(&a, 0);
	/* Large enough to need several arena chunks and buffer growths. */
	memset(pv, 0, sizeof(pv));
	for (int i = 0; i < NCOL; i++) {
		uint16_t t = i % 3 == 0 ? PT_BINARY : i % 3 == 1 ? PT_UNICODE : PT_MV_STRING8;
		tags[i] = PROP_TAG(i % 5 == 4 ? PT_UNSPECIFIED : t, 0x4000 + i);
		pv[i].ulPropTag = PROP_TAG(t, 0x4000 + i);
		if (t == PT_BINARY) {
			pv[i].Value.bin.cb = sizeof(blob);
			pv[i].Value.bin.lpb = blob;
		} else if (t == PT_UNICODE) {
			pv[i].Value.lpszW = text;
		} else {
			pv[i].Value.MVszA.cValues = 3;
			pv[i].Value.MVszA.lppszA = strs;
		}
	}
	SPropTagArray *cols = make_cols(&a, NCOL, tags);
	mh_pv_row_push(&b, MH_PV_NSPI, cols, &row);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_true(b.len > 8192);
	bool done_pull = false, done_push = false;
	for (long n = 0; n < 1000 && !(done_pull && done_push); n++) {
		mh_arena a2;
		mh_cursor c;
		mh_buf b2 = MH_BUF_INIT;
		mh_arena_init(&a2, 0);
		mh_cursor_init(&c, b.data, b.len, ERR);
		mh_alloc_fail_after(n);
		mh_status st = mh_pv_row_pull(&c, &a2, MH_PV_NSPI, cols, &out);
		mh_pv_row_push(&b2, MH_PV_NSPI, cols, &row);
		mh_status st2 = mh_buf_status(&b2);
		mh_alloc_fail_after(-1);
		assert_true(st == S_OK || st == MAPI_E_NOT_ENOUGH_MEMORY);
		assert_true(st2 == S_OK || st2 == MAPI_E_NOT_ENOUGH_MEMORY);
		if (st == S_OK) {
			done_pull = true;
			assert_true(row_equal(&row, &out));
		}
		if (st2 == S_OK) {
			done_push = true;
			assert_int_equal(b2.len, b.len);
			assert_memory_equal(b2.data, b.data, b.len);
		}
		mh_buf_free(&b2);
		mh_arena_free(&a2);
	}
	assert_true(done_pull && done_push);
	mh_buf_free(&b);
	mh_arena_free(&a);
}

/* ---- a real server's rows ------------------------------------------------------------- */

/*
 * gromox's answer to RopGetPropertiesSpecific on the logon object. Both
 * Execute bodies are uncompressed (RPC_HEADER_EXT flags 0x0004), with one
 * ROP each, so the fields sit at fixed offsets: request tags after
 * Flags(4) RopBufferSize(4) header(8) RopSize(2) RopId LogonId InputHandleIndex
 * PropertySizeLimit(2) WantUnicode(2); the response row after StatusCode(4)
 * ErrorCode(4) Flags(4) RopBufferSize(4) header(8) RopSize(2) RopId
 * InputHandleIndex ReturnValue(4).
 */
typedef struct gromox_rop {
	uint8_t *req, *resp;
	size_t req_len, resp_len;
	SPropTagArray *cols;
	size_t row_at, row_end;
} gromox_rop;

static void load_gromox(const char *name, mh_arena *a, gromox_rop *g)
{
	char path[512];
	mh_cursor c;
	snprintf(path, sizeof(path), GROMOX_DIR "%s.req.hex", name);
	g->req = mh_vector_read_hex(path, &g->req_len);
	assert_non_null(g->req);
	snprintf(path, sizeof(path), GROMOX_DIR "%s.resp-body.hex", name);
	g->resp = mh_vector_read_hex(path, &g->resp_len);
	assert_non_null(g->resp);
	/* request: header flags 0x0004, RopId 0x07 */
	assert_true(g->req_len > 25);
	assert_int_equal(g->req[10] | g->req[11] << 8, 0x0004);
	assert_int_equal(g->req[18], 0x07);
	mh_cursor_init(&c, g->req, g->req_len, ERR);
	assert_int_equal(mh_cursor_seek(&c, 25, "tags"), S_OK);
	assert_int_equal(mh_pv_tags_pull(&c, a, 2, 1000, &g->cols), S_OK);
	/* response: StatusCode 0, ErrorCode 0, header flags 0x0004, RopId 0x07, ReturnValue 0 */
	assert_true(g->resp_len > 32);
	for (int i = 0; i < 8; i++)
		assert_int_equal(g->resp[i], 0);
	assert_int_equal(g->resp[18] | g->resp[19] << 8, 0x0004);
	assert_int_equal(g->resp[26], 0x07);
	for (int i = 28; i < 32; i++)
		assert_int_equal(g->resp[i], 0);
	g->row_at = 32;
	g->row_end = 24 + (size_t)(g->resp[24] | g->resp[25] << 8);
	/* then the handle table (4) and AuxiliaryBufferSize (4) */
	assert_int_equal(g->row_end + 8, g->resp_len);
}

/* Pulls the row, checks it ends where the ROP ends, and pushes it back byte for byte. */
static void pull_gromox_row(gromox_rop *g, mh_arena *a, mh_prop_row *row)
{
	mh_cursor c;
	mh_buf b = MH_BUF_INIT;
	mh_cursor_init(&c, g->resp, g->row_end, ERR);
	assert_int_equal(mh_cursor_seek(&c, g->row_at, "row"), S_OK);
	assert_int_equal(mh_pv_row_pull(&c, a, MH_PV_ROP, g->cols, row), S_OK);
	assert_int_equal(c.pos, g->row_end);
	mh_pv_row_push(&b, MH_PV_ROP, g->cols, row);
	assert_bytes(&b, g->resp + g->row_at, g->row_end - g->row_at);
	mh_buf_free(&b);
	/* Every truncation fails cleanly. */
	for (size_t k = g->row_at; k < g->row_end; k++) {
		mh_prop_row r2;
		mh_cursor_init(&c, g->resp, k, ERR);
		c.pos = g->row_at;
		assert_int_equal(mh_pv_row_pull(&c, a, MH_PV_ROP, g->cols, &r2), ERR);
	}
}

static void test_propval__gromox_flagged_row(void **state)
{
	(void)state;
	mh_arena a;
	gromox_rop g;
	mh_prop_row row;
	mh_arena_init(&a, 0);
	load_gromox("emsmdb_alice_06_execute_store_props", &a, &g);
	assert_int_equal(g.cols->cValues, 3);
	assert_int_equal(g.cols->aulPropTag[0], 0x3001001F);
	assert_int_equal(g.cols->aulPropTag[1], 0x661C001F);
	assert_int_equal(g.cols->aulPropTag[2], 0x0FF90102);
	pull_gromox_row(&g, &a, &row);
	assert_int_equal(row.flag, 1);
	assert_int_equal(row.colflags[0], MH_PV_FLAG_ERROR);
	assert_int_equal(row.lpProps[0].ulPropTag, 0x3001000A);
	assert_int_equal(row.lpProps[0].Value.err, MAPI_E_NOT_FOUND);
	assert_int_equal(row.colflags[1], MH_PV_FLAG_VALUE);
	assert_int_equal(row.lpProps[1].ulPropTag, 0x661C001F);
	assert_string_equal(row.lpProps[1].Value.lpszW, "Alice Example");
	assert_int_equal(row.lpProps[2].ulPropTag, 0x0FF9000A);
	assert_int_equal(row.lpProps[2].Value.err, MAPI_E_NOT_FOUND);
	free(g.req);
	free(g.resp);
	mh_arena_free(&a);
}

static void test_propval__gromox_standard_row(void **state)
{
	(void)state;
	static const uint8_t emsab_uid[16] = {0xdc, 0xa7, 0x40, 0xc8, 0xc0, 0x42, 0x10, 0x1a,
	                                      0xb4, 0xb9, 0x08, 0x00, 0x2b, 0x2f, 0xe1, 0x82};
	mh_arena a;
	gromox_rop g;
	mh_prop_row row;
	mh_arena_init(&a, 0);
	load_gromox("emsmdb_alice_07_execute_store_props_standard_row", &a, &g);
	assert_int_equal(g.cols->cValues, 6);
	pull_gromox_row(&g, &a, &row);
	assert_int_equal(row.flag, 0);
	assert_null(row.colflags);
	assert_int_equal(row.lpProps[0].ulPropTag, 0x661C001F);
	assert_string_equal(row.lpProps[0].Value.lpszW, "Alice Example");
	/* PidTagMailboxOwnerEntryId: an address book EntryID (flags 0, EMSAB provider UID) */
	assert_int_equal(row.lpProps[1].ulPropTag, 0x661B0102);
	assert_int_equal(row.lpProps[1].Value.bin.cb, 137);
	assert_memory_equal(row.lpProps[1].Value.bin.lpb + 4, emsab_uid, 16);
	assert_int_equal(row.lpProps[2].ulPropTag, 0x39FF001F);
	assert_string_equal(row.lpProps[2].Value.lpszW, "Alice Example");
	assert_int_equal(row.lpProps[3].ulPropTag, 0x0E080003);
	assert_int_equal(row.lpProps[3].Value.l, 0x2005);
	assert_int_equal(row.lpProps[4].ulPropTag, 0x3003001F);
	assert_string_equal(row.lpProps[4].Value.lpszW,
	                    "/o=Gromox default/ou=Exchange Administrative Group "
	                    "(FYDIBOHF23SPDLT)/cn=Recipients/cn=0100000001000000-alice");
	assert_int_equal(row.lpProps[5].ulPropTag, 0x0FF80102);
	assert_int_equal(row.lpProps[5].Value.bin.cb, 16);
	assert_int_equal(row.lpProps[5].Value.bin.lpb[0], 0xbc);
	free(g.req);
	free(g.resp);
	mh_arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_propval__fixed_types),
	    cmocka_unit_test(test_propval__boolean_normalised),
	    cmocka_unit_test(test_propval__clsid),
	    cmocka_unit_test(test_propval__strings),
	    cmocka_unit_test(test_propval__binary_count_widths),
	    cmocka_unit_test(test_propval__server_id_count),
	    cmocka_unit_test(test_propval__object_in_rop),
	    cmocka_unit_test(test_propval__nspi_absent),
	    cmocka_unit_test(test_propval__mv_fixed),
	    cmocka_unit_test(test_propval__mv_strings),
	    cmocka_unit_test(test_propval__mv_binary),
	    cmocka_unit_test(test_propval__tagged_display_name),
	    cmocka_unit_test(test_propval__list),
	    cmocka_unit_test(test_propval__tags),
	    cmocka_unit_test(test_propval__problems),
	    cmocka_unit_test(test_propval__row_standard),
	    cmocka_unit_test(test_propval__row_flagged),
	    cmocka_unit_test(test_propval__row_unspecified_and_mvi),
	    cmocka_unit_test(test_propval__row_error_names_column),
	    cmocka_unit_test(test_propval__invalid_utf16),
	    cmocka_unit_test(test_propval__bad_types),
	    cmocka_unit_test(test_propval__push_errors),
	    cmocka_unit_test(test_propval__hostile_counts),
	    cmocka_unit_test(test_propval__ids),
	    cmocka_unit_test(test_propval__long_term_id),
	    cmocka_unit_test(test_propval__random_values),
	    cmocka_unit_test(test_propval__random_rows),
	    cmocka_unit_test(test_propval__bit_flips),
	    cmocka_unit_test(test_propval__out_of_memory),
	    cmocka_unit_test(test_propval__gromox_flagged_row),
	    cmocka_unit_test(test_propval__gromox_standard_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
