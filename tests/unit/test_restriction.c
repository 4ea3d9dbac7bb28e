/*
 * Tests of the restriction codec: the byte layout of every restriction type
 * in the ROP and NSPI layouts, seeded random round trips, truncations,
 * nesting bombs, hostile counts and bit flips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/restriction.h"
#include "mapihttp/status.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/cursor.h"
#include "util/hex.h"
#include "vectors.h"

#define ERR MAPI_E_CORRUPT_DATA

#define TAG_DISPLAY_NAME  0x3001001Fu
#define TAG_SMTP_ADDRESS  0x39FE001Fu
#define TAG_ENTRYID       0x0FFF0102u
#define TAG_DISPLAY_TYPE  0x39000003u
#define TAG_MESSAGE_SIZE  0x0E080003u
#define TAG_RECIPIENTS    0x0E12000Du
#define TAG_EMAIL_ADDRESS 0x3003001Fu

/* ---- helpers -------------------------------------------------------------------------------- */

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
	assert_contains(e->message, needle);
	assert_null(strchr(e->message, '\n'));
}

static uint8_t *hex(const char *text, size_t *n)
{
	uint8_t *p = NULL;
	assert_int_equal(mh_hex_decode(&p, n, text, strlen(text)), S_OK);
	return p;
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

static mh_status pull_bytes(const uint8_t *p, size_t n, mh_pv_flavor fl, mh_arena *a,
                            mh_restriction **out, size_t *used)
{
	mh_cursor c;
	mh_status st;
	mh_cursor_init(&c, p, n, ERR);
	st = mh_restriction_pull(&c, a, fl, out);
	if (used != NULL)
		*used = c.pos;
	return st;
}

/* Every strict prefix of a complete restriction must fail cleanly. */
static void check_truncations(const uint8_t *p, size_t n, mh_pv_flavor fl)
{
	for (size_t k = 0; k < n; k++) {
		mh_arena a;
		mh_restriction *r = (mh_restriction *)&a; /* must be reset to NULL */
		mh_arena_init(&a, 0);
		uint8_t *copy = malloc(k > 0 ? k : 1);
		assert_non_null(copy);
		memcpy(copy, p, k);
		assert_int_equal(pull_bytes(copy, k, fl, &a, &r, NULL), ERR);
		assert_null(r);
		free(copy);
		mh_arena_free(&a);
	}
}

/*
 * The core exact-bytes check: r pushes to exactly `want` in flavour fl, and
 * those bytes pull back to a tree equal to r, consuming all of them; every
 * truncation fails.
 */
static void check_layout(const mh_restriction *r, mh_pv_flavor fl, const char *want_hex)
{
	size_t n, used;
	uint8_t *want = hex(want_hex, &n);
	mh_buf b = MH_BUF_INIT;
	mh_arena a;
	mh_restriction *back = NULL;

	mh_restriction_push(&b, fl, r);
	assert_bytes(&b, want, n);

	mh_arena_init(&a, 0);
	assert_int_equal(pull_bytes(want, n, fl, &a, &back, &used), S_OK);
	assert_int_equal(used, n);
	assert_true(mh_restriction_equal(r, back));
	check_truncations(want, n, fl);

	mh_arena_free(&a);
	mh_buf_free(&b);
	free(want);
}

static mh_restriction exist(uint32_t tag)
{
	mh_restriction r;
	memset(&r, 0, sizeof(r));
	r.rt = RES_EXIST;
	r.u.exist.prop_tag = tag;
	return r;
}

/* ---- exact layouts -------------------------------------------------------------------------- */

static void test_restriction__exist(void **state)
{
	(void)state;
	mh_restriction r = exist(TAG_DISPLAY_NAME);
	check_layout(&r, MH_PV_ROP, "08 1f000130");
	check_layout(&r, MH_PV_NSPI, "08 1f000130");
}

static void test_restriction__and_or_count_width(void **state)
{
	(void)state;
	mh_restriction kids[2] = {exist(TAG_DISPLAY_NAME), exist(TAG_SMTP_ADDRESS)};
	mh_restriction r;
	memset(&r, 0, sizeof(r));
	r.rt = RES_AND;
	r.u.and_or.count = 2;
	r.u.and_or.res = kids;
	/* RestrictCount: 2 bytes in a ROP buffer, 4 in an NSPI body. */
	check_layout(&r, MH_PV_ROP, "00 0200 08 1f000130 08 1f00fe39");
	check_layout(&r, MH_PV_NSPI, "00 02000000 08 1f000130 08 1f00fe39");
	r.rt = RES_OR;
	check_layout(&r, MH_PV_ROP, "01 0200 08 1f000130 08 1f00fe39");
	check_layout(&r, MH_PV_NSPI, "01 02000000 08 1f000130 08 1f00fe39");
	/* An empty And is the shortest restriction there is. */
	r.rt = RES_AND;
	r.u.and_or.count = 0;
	r.u.and_or.res = NULL;
	check_layout(&r, MH_PV_ROP, "00 0000");
	check_layout(&r, MH_PV_NSPI, "00 00000000");
	/* The smallest child is an empty comment (3 bytes): the count bound must allow it. */
	memset(&kids[0], 0, sizeof(kids[0]));
	kids[0].rt = RES_COMMENT;
	r.u.and_or.count = 1;
	r.u.and_or.res = kids;
	check_layout(&r, MH_PV_NSPI, "00 01000000 0a 00 00");
	check_layout(&r, MH_PV_ROP, "00 0100 0a 00 00");
}

static void test_restriction__not(void **state)
{
	(void)state;
	mh_restriction kid = exist(TAG_ENTRYID), r;
	memset(&r, 0, sizeof(r));
	r.rt = RES_NOT;
	r.u.not_.res = &kid;
	check_layout(&r, MH_PV_ROP, "02 08 0201ff0f");
	check_layout(&r, MH_PV_NSPI, "02 08 0201ff0f");
}

static void test_restriction__content(void **state)
{
	(void)state;
	mh_restriction r;
	memset(&r, 0, sizeof(r));
	r.rt = RES_CONTENT;
	r.u.content.fuzzy_level = FL_SUBSTRING | FL_IGNORECASE;
	r.u.content.prop_tag = TAG_DISPLAY_NAME;
	r.u.content.prop.ulPropTag = TAG_DISPLAY_NAME;
	r.u.content.prop.Value.lpszW = (char *)(uintptr_t) "ab";
	/* FuzzyLevelLow 0x0001, FuzzyLevelHigh 0x0001, PropertyTag, TaggedValue;
	   the NSPI value carries a HasValue byte (0xFF) before the string. */
	check_layout(&r, MH_PV_ROP, "03 0100 0100 1f000130 1f000130 6100 6200 0000");
	check_layout(&r, MH_PV_NSPI, "03 0100 0100 1f000130 1f000130 ff 6100 6200 0000");
}

static void test_restriction__property(void **state)
{
	(void)state;
	uint8_t bin[3] = {1, 2, 3};
	mh_restriction r;
	memset(&r, 0, sizeof(r));
	r.rt = RES_PROPERTY;
	r.u.property.relop = RELOP_EQ;
	r.u.property.prop_tag = TAG_ENTRYID;
	r.u.property.prop.ulPropTag = TAG_ENTRYID;
	r.u.property.prop.Value.bin.cb = 3;
	r.u.property.prop.Value.bin.lpb = bin;
	/* Binary COUNT: 2 bytes in ROP; HasValue (0xFF) + 4 bytes in NSPI. */
	check_layout(&r, MH_PV_ROP, "04 04 0201ff0f 0201ff0f 0300 010203");
	check_layout(&r, MH_PV_NSPI, "04 04 0201ff0f 0201ff0f ff 03000000 010203");
}

static void test_restriction__compare_bitmask_size(void **state)
{
	(void)state;
	mh_restriction r;
	memset(&r, 0, sizeof(r));
	r.rt = RES_COMPAREPROPS;
	r.u.compare_props.relop = RELOP_NE;
	r.u.compare_props.prop_tag1 = TAG_DISPLAY_NAME;
	r.u.compare_props.prop_tag2 = TAG_SMTP_ADDRESS;
	check_layout(&r, MH_PV_ROP, "05 05 1f000130 1f00fe39");
	check_layout(&r, MH_PV_NSPI, "05 05 1f000130 1f00fe39");

	memset(&r, 0, sizeof(r));
	r.rt = RES_BITMASK;
	r.u.bitmask.relop = BMR_NEZ;
	r.u.bitmask.prop_tag = TAG_DISPLAY_TYPE;
	r.u.bitmask.mask = 6;
	check_layout(&r, MH_PV_ROP, "06 01 03000039 06000000");
	check_layout(&r, MH_PV_NSPI, "06 01 03000039 06000000");

	memset(&r, 0, sizeof(r));
	r.rt = RES_SIZE;
	r.u.size.relop = RELOP_GT;
	r.u.size.prop_tag = TAG_MESSAGE_SIZE;
	r.u.size.size = 0x1000;
	check_layout(&r, MH_PV_ROP, "07 02 0300080e 00100000");
	check_layout(&r, MH_PV_NSPI, "07 02 0300080e 00100000");
}

static void test_restriction__subobject_and_count(void **state)
{
	(void)state;
	mh_restriction kid = exist(TAG_EMAIL_ADDRESS), r;
	memset(&r, 0, sizeof(r));
	r.rt = RES_SUBRESTRICTION;
	r.u.sub.subobject = TAG_RECIPIENTS;
	r.u.sub.res = &kid;
	check_layout(&r, MH_PV_ROP, "09 0d00120e 08 1f000330");
	check_layout(&r, MH_PV_NSPI, "09 0d00120e 08 1f000330");

	memset(&r, 0, sizeof(r));
	r.rt = RES_COUNT;
	r.u.count.count = 5;
	r.u.count.res = &kid;
	check_layout(&r, MH_PV_ROP, "0b 05000000 08 1f000330");
	check_layout(&r, MH_PV_NSPI, "0b 05000000 08 1f000330");
}

static void test_restriction__comment(void **state)
{
	(void)state;
	mh_restriction kid = exist(TAG_DISPLAY_NAME), r;
	SPropValue v[2];
	memset(v, 0, sizeof(v));
	v[0].ulPropTag = TAG_MESSAGE_SIZE;
	v[0].Value.l = 42;
	v[1].ulPropTag = TAG_DISPLAY_NAME;
	v[1].Value.lpszW = (char *)(uintptr_t) "x";
	memset(&r, 0, sizeof(r));
	r.rt = RES_COMMENT;
	r.u.comment.count = 1;
	r.u.comment.props = v;
	r.u.comment.res = &kid;
	/* TaggedValuesCount(1), values, RestrictionPresent(1), Restriction. */
	check_layout(&r, MH_PV_ROP, "0a 01 0300080e 2a000000 01 08 1f000130");
	check_layout(&r, MH_PV_NSPI, "0a 01 0300080e 2a000000 01 08 1f000130");
	/* No restriction, and a string value: flavours differ by HasValue. */
	r.u.comment.count = 2;
	r.u.comment.res = NULL;
	check_layout(&r, MH_PV_ROP, "0a 02 0300080e 2a000000 1f000130 7800 0000 00");
	check_layout(&r, MH_PV_NSPI, "0a 02 0300080e 2a000000 1f000130 ff 7800 0000 00");
}

/* A pulled tree has the documented fields, checked one by one. */
static void test_restriction__pull_fields(void **state)
{
	(void)state;
	/* And{ Content(FL_PREFIX|FL_IGNORECASE, PR_DISPLAY_NAME_W, "a"), Not(Exist) } in NSPI. */
	size_t n, used;
	uint8_t *p = hex("00 02000000"
	                 " 03 0200 0100 1f000130 1f000130 ff 6100 0000"
	                 " 02 08 0201ff0f",
	                 &n);
	mh_arena a;
	mh_restriction *r = NULL;
	mh_arena_init(&a, 0);
	assert_int_equal(pull_bytes(p, n, MH_PV_NSPI, &a, &r, &used), S_OK);
	assert_int_equal(used, n);
	assert_int_equal(r->rt, RES_AND);
	assert_int_equal(r->u.and_or.count, 2);
	assert_int_equal(r->u.and_or.res[0].rt, RES_CONTENT);
	assert_int_equal(r->u.and_or.res[0].u.content.fuzzy_level, FL_PREFIX | FL_IGNORECASE);
	assert_int_equal(r->u.and_or.res[0].u.content.prop_tag, TAG_DISPLAY_NAME);
	assert_int_equal(r->u.and_or.res[0].u.content.prop.ulPropTag, TAG_DISPLAY_NAME);
	assert_string_equal(r->u.and_or.res[0].u.content.prop.Value.lpszW, "a");
	assert_int_equal(r->u.and_or.res[1].rt, RES_NOT);
	assert_int_equal(r->u.and_or.res[1].u.not_.res->rt, RES_EXIST);
	assert_int_equal(r->u.and_or.res[1].u.not_.res->u.exist.prop_tag, TAG_ENTRYID);
	mh_arena_free(&a);

	/* The same bytes read as a ROP buffer are something else: count 2, then a
	   restriction of type 0x00 with count 0, then the content bytes. */
	mh_arena_init(&a, 0);
	mh_status st = pull_bytes(p, n, MH_PV_ROP, &a, &r, &used);
	assert_true(st != S_OK || used != n);
	mh_arena_free(&a);
	free(p);
}

/* ---- hostile input -------------------------------------------------------------------------- */

static void test_restriction__unknown_type(void **state)
{
	(void)state;
	mh_arena a;
	mh_restriction *r = NULL;
	const uint8_t p[] = {0x02, 0x0C, 0, 0, 0, 0};
	mh_arena_init(&a, 0);
	assert_int_equal(pull_bytes(p, sizeof(p), MH_PV_ROP, &a, &r, NULL), ERR);
	assert_null(r);
	assert_last_error(ERR, "RestrictType at byte 1 is 0x0C");
	mh_arena_free(&a);
}

static void test_restriction__hostile_counts(void **state)
{
	(void)state;
	mh_arena a;
	mh_restriction *r = NULL;
	/* ROP And claiming 0xFFFF children with 5 bytes left. */
	const uint8_t rop[] = {0x00, 0xFF, 0xFF, 0x08, 0x1f, 0x00, 0x01, 0x30};
	const uint8_t nspi[] = {0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x08, 0x1f, 0x00, 0x01, 0x30};
	const uint8_t comment[] = {0x0A, 0xFF, 0x03, 0x00, 0x08, 0x0e, 0x2a, 0, 0, 0, 0x00};

	mh_arena_init(&a, 0);
	assert_int_equal(pull_bytes(rop, sizeof(rop), MH_PV_ROP, &a, &r, NULL), ERR);
	assert_last_error(ERR, "AndRestriction.RestrictCount at byte 1 is 65535");
	assert_true(a.used < 256); /* refused before the array was allocated */
	mh_arena_free(&a);

	mh_arena_init(&a, 0);
	assert_int_equal(pull_bytes(nspi, sizeof(nspi), MH_PV_NSPI, &a, &r, NULL), ERR);
	assert_last_error(ERR, "OrRestriction.RestrictCount at byte 1 is 4294967295");
	assert_true(a.used < 256);
	mh_arena_free(&a);

	/* The same count is fine when the bytes are there: 2 Exists need 10 bytes. */
	mh_arena_init(&a, 0);
	const uint8_t two_short[] = {0x00, 0x02, 0x00, 0x08, 0x1f, 0x00, 0x01, 0x30};
	assert_int_equal(pull_bytes(two_short, sizeof(two_short), MH_PV_ROP, &a, &r, NULL), ERR);
	assert_null(r);
	mh_arena_free(&a);

	mh_arena_init(&a, 0);
	assert_int_equal(pull_bytes(comment, sizeof(comment), MH_PV_ROP, &a, &r, NULL), ERR);
	assert_last_error(ERR, "CommentRestriction.TaggedValuesCount at byte 1 is 255");
	assert_true(a.used < 256);
	mh_arena_free(&a);

	/* A value inside a restriction with a huge binary COUNT (NSPI, 4 bytes). */
	size_t n;
	uint8_t *p = hex("04 04 0201ff0f 0201ff0f 01 ffffff7f 0102", &n);
	mh_arena_init(&a, 0);
	assert_int_equal(pull_bytes(p, n, MH_PV_NSPI, &a, &r, NULL), ERR);
	assert_last_error(ERR, "PropertyRestriction.TaggedValue at byte 6");
	assert_true(a.used < 256);
	mh_arena_free(&a);
	free(p);

	/* A value type propval does not decode is refused, not skipped. */
	p = hex("04 04 fd000010 fd000010 00", &n);
	mh_arena_init(&a, 0);
	assert_int_equal(pull_bytes(p, n, MH_PV_ROP, &a, &r, NULL), MAPI_E_NO_SUPPORT);
	assert_null(r);
	mh_arena_free(&a);
	free(p);
}

/* Builds depth nested Nots around an Exist: depth restrictions in all, plus one. */
static uint8_t *not_chain(size_t nots, size_t *n)
{
	uint8_t *p = malloc(nots + 5);
	assert_non_null(p);
	memset(p, RES_NOT, nots);
	p[nots] = RES_EXIST;
	p[nots + 1] = 0x1f;
	p[nots + 2] = 0x00;
	p[nots + 3] = 0x01;
	p[nots + 4] = 0x30;
	*n = nots + 5;
	return p;
}

static void test_restriction__depth_bomb(void **state)
{
	(void)state;
	mh_arena a;
	mh_restriction *r = NULL;
	size_t n, used;
	uint8_t *p;
	mh_buf b = MH_BUF_INIT;

	/* At the limit: MH_RESTRICTION_MAX_DEPTH levels in all pull and push again. */
	p = not_chain(MH_RESTRICTION_MAX_DEPTH - 1, &n);
	mh_arena_init(&a, 0);
	assert_int_equal(pull_bytes(p, n, MH_PV_ROP, &a, &r, &used), S_OK);
	assert_int_equal(used, n);
	mh_restriction_push(&b, MH_PV_ROP, r);
	assert_bytes(&b, p, n);
	mh_buf_free(&b);
	mh_arena_free(&a);
	free(p);

	/* One more level is refused, with the offset of the level too deep. */
	p = not_chain(MH_RESTRICTION_MAX_DEPTH, &n);
	mh_arena_init(&a, 0);
	assert_int_equal(pull_bytes(p, n, MH_PV_NSPI, &a, &r, NULL), ERR);
	assert_null(r);
	assert_last_error(ERR, "Restriction at byte 16 nested deeper than 16 levels");
	mh_arena_free(&a);
	free(p);

	/* A bomb: 100000 Nots fail fast without deep recursion. */
	p = not_chain(100000, &n);
	mh_arena_init(&a, 0);
	assert_int_equal(pull_bytes(p, n, MH_PV_ROP, &a, &r, NULL), ERR);
	assert_last_error(ERR, "nested deeper");
	assert_true(a.used < 4096);
	mh_arena_free(&a);
	free(p);

	/* Push refuses a tree too deep to pull back. */
	mh_restriction chain[MH_RESTRICTION_MAX_DEPTH + 1];
	for (size_t i = 0; i < MH_RESTRICTION_MAX_DEPTH; i++) {
		memset(&chain[i], 0, sizeof(chain[i]));
		chain[i].rt = RES_NOT;
		chain[i].u.not_.res = &chain[i + 1];
	}
	chain[MH_RESTRICTION_MAX_DEPTH] = exist(TAG_DISPLAY_NAME);
	mh_restriction_push(&b, MH_PV_ROP, chain);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	assert_last_error(MAPI_E_INVALID_PARAMETER, "nested deeper than 16");
	mh_buf_free(&b);
}

static void test_restriction__push_errors(void **state)
{
	(void)state;
	mh_buf b = MH_BUF_INIT;
	mh_restriction r, kids[1] = {exist(TAG_DISPLAY_NAME)};

	mh_restriction_push(&b, MH_PV_ROP, NULL);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);

	memset(&r, 0, sizeof(r));
	r.rt = 0x0C;
	mh_restriction_push(&b, MH_PV_ROP, &r);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	assert_last_error(MAPI_E_INVALID_PARAMETER, "RestrictType 0x0C");
	mh_buf_free(&b);

	memset(&r, 0, sizeof(r));
	r.rt = RES_NOT;
	mh_restriction_push(&b, MH_PV_NSPI, &r);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	assert_last_error(MAPI_E_INVALID_PARAMETER, "NotRestriction: child restriction is NULL");
	mh_buf_free(&b);

	/* 0x10000 children fit an NSPI count but not a ROP one. */
	memset(&r, 0, sizeof(r));
	r.rt = RES_OR;
	r.u.and_or.count = 0x10000;
	r.u.and_or.res = kids; /* never read: the count fails first */
	mh_restriction_push(&b, MH_PV_ROP, &r);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	assert_last_error(MAPI_E_INVALID_PARAMETER, "OrRestriction.RestrictCount 65536");
	mh_buf_free(&b);

	r.u.and_or.res = NULL;
	r.u.and_or.count = 1;
	mh_restriction_push(&b, MH_PV_NSPI, &r);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);

	memset(&r, 0, sizeof(r));
	r.rt = RES_COMMENT;
	r.u.comment.count = 1;
	mh_restriction_push(&b, MH_PV_ROP, &r);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	assert_last_error(MAPI_E_INVALID_PARAMETER, "TaggedValuesCount 1 but no values");
	mh_buf_free(&b);

	/* A PT_OBJECT value has no ROP encoding: propval's error reaches the buffer. */
	memset(&r, 0, sizeof(r));
	r.rt = RES_PROPERTY;
	r.u.property.prop.ulPropTag = 0x3001000Du;
	mh_restriction_push(&b, MH_PV_ROP, &r);
	assert_int_equal(mh_buf_status(&b), MAPI_E_NO_SUPPORT);
	mh_buf_free(&b);
}

/* ---- random round trips --------------------------------------------------------------------- */

typedef struct rnd_ctx {
	uint64_t seed;
	mh_arena *a;
	mh_pv_flavor fl;
} rnd_ctx;

static uint32_t rnd(rnd_ctx *g)
{
	return (uint32_t)(mh_test_rng_next(&g->seed) >> 16);
}

static void *rnd_alloc(rnd_ctx *g, size_t n)
{
	void *p;
	assert_int_equal(mh_arena_alloc(g->a, n > 0 ? n : 1, &p), S_OK);
	return p;
}

static char *rnd_str(rnd_ctx *g)
{
	size_t n = rnd(g) % 12;
	char *s = rnd_alloc(g, n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)('a' + rnd(g) % 26);
	return s;
}

static void rnd_value(rnd_ctx *g, SPropValue *pv)
{
	static const uint16_t types[] = {PT_LONG,    PT_I2,      PT_BOOLEAN, PT_I8,
	                                 PT_SYSTIME, PT_UNICODE, PT_STRING8, PT_BINARY,
	                                 PT_CLSID,   PT_MV_LONG, PT_ERROR};
	uint16_t t = types[rnd(g) % (sizeof(types) / sizeof(types[0]))];
	memset(pv, 0, sizeof(*pv));
	pv->ulPropTag = PROP_TAG(t, 0x3000 + rnd(g) % 0x100);
	switch (t) {
	case PT_LONG:
	case PT_ERROR:
		pv->Value.l = (int32_t)rnd(g);
		break;
	case PT_I2:
		pv->Value.i = (int16_t)rnd(g);
		break;
	case PT_BOOLEAN:
		pv->Value.b = (uint16_t)(rnd(g) & 1);
		break;
	case PT_I8:
		pv->Value.li = (int64_t)mh_test_rng_next(&g->seed);
		break;
	case PT_SYSTIME:
		pv->Value.ft.dwLowDateTime = rnd(g);
		pv->Value.ft.dwHighDateTime = rnd(g);
		break;
	case PT_UNICODE:
		pv->Value.lpszW = rnd_str(g);
		break;
	case PT_STRING8:
		pv->Value.lpszA = rnd_str(g);
		break;
	case PT_BINARY:
		pv->Value.bin.cb = rnd(g) % 9;
		pv->Value.bin.lpb = rnd_alloc(g, pv->Value.bin.cb);
		for (uint32_t i = 0; i < pv->Value.bin.cb; i++)
			pv->Value.bin.lpb[i] = (uint8_t)rnd(g);
		break;
	case PT_CLSID:
		pv->Value.lpguid = rnd_alloc(g, sizeof(GUID));
		for (size_t i = 0; i < sizeof(GUID); i++)
			((uint8_t *)pv->Value.lpguid)[i] = (uint8_t)rnd(g);
		break;
	default: /* PT_MV_LONG */
		pv->Value.MVl.cValues = 1 + rnd(g) % 4;
		pv->Value.MVl.lpl = rnd_alloc(g, pv->Value.MVl.cValues * sizeof(int32_t));
		for (uint32_t i = 0; i < pv->Value.MVl.cValues; i++)
			pv->Value.MVl.lpl[i] = (int32_t)rnd(g);
		break;
	}
}

static void rnd_tree(rnd_ctx *g, mh_restriction *r, unsigned depth);

static mh_restriction *rnd_child(rnd_ctx *g, unsigned depth)
{
	mh_restriction *r = rnd_alloc(g, sizeof(*r));
	rnd_tree(g, r, depth + 1);
	return r;
}

static void rnd_tree(rnd_ctx *g, mh_restriction *r, unsigned depth)
{
	/* Leaves only near the limit so every tree stays pushable. */
	bool leaf = depth + 1 >= 7;
	static const uint8_t leaves[] = {RES_CONTENT, RES_PROPERTY, RES_COMPAREPROPS,
	                                 RES_BITMASK, RES_SIZE,     RES_EXIST};
	memset(r, 0, sizeof(*r));
	r->rt = leaf ? leaves[rnd(g) % 6] : (uint8_t)(rnd(g) % 12);
	switch (r->rt) {
	case RES_AND:
	case RES_OR:
		r->u.and_or.count = rnd(g) % 4;
		if (r->u.and_or.count > 0) {
			r->u.and_or.res = rnd_alloc(g, r->u.and_or.count * sizeof(mh_restriction));
			for (uint32_t i = 0; i < r->u.and_or.count; i++)
				rnd_tree(g, &r->u.and_or.res[i], depth + 1);
		}
		break;
	case RES_NOT:
		r->u.not_.res = rnd_child(g, depth);
		break;
	case RES_CONTENT:
		r->u.content.fuzzy_level = rnd(g);
		r->u.content.prop_tag = rnd(g);
		rnd_value(g, &r->u.content.prop);
		break;
	case RES_PROPERTY:
		r->u.property.relop = (uint8_t)rnd(g);
		r->u.property.prop_tag = rnd(g);
		rnd_value(g, &r->u.property.prop);
		break;
	case RES_COMPAREPROPS:
		r->u.compare_props.relop = (uint8_t)rnd(g);
		r->u.compare_props.prop_tag1 = rnd(g);
		r->u.compare_props.prop_tag2 = rnd(g);
		break;
	case RES_BITMASK:
		r->u.bitmask.relop = (uint8_t)rnd(g);
		r->u.bitmask.prop_tag = rnd(g);
		r->u.bitmask.mask = rnd(g);
		break;
	case RES_SIZE:
		r->u.size.relop = (uint8_t)rnd(g);
		r->u.size.prop_tag = rnd(g);
		r->u.size.size = rnd(g);
		break;
	case RES_EXIST:
		r->u.exist.prop_tag = rnd(g);
		break;
	case RES_SUBRESTRICTION:
		r->u.sub.subobject = rnd(g) & 1 ? TAG_RECIPIENTS : 0x0E13000Du;
		r->u.sub.res = rnd_child(g, depth);
		break;
	case RES_COMMENT:
		r->u.comment.count = (uint8_t)(rnd(g) % 4);
		if (r->u.comment.count > 0) {
			r->u.comment.props = rnd_alloc(g, r->u.comment.count * sizeof(SPropValue));
			for (unsigned i = 0; i < r->u.comment.count; i++)
				rnd_value(g, &r->u.comment.props[i]);
		}
		if (rnd(g) & 1)
			r->u.comment.res = rnd_child(g, depth);
		break;
	default:
		r->u.count.count = rnd(g);
		r->u.count.res = rnd_child(g, depth);
		break;
	}
}

static void round_trip(mh_pv_flavor fl, uint64_t seed, int iterations)
{
	for (int it = 0; it < iterations; it++) {
		mh_arena ga, pa;
		rnd_ctx g = {seed + (uint64_t)it, &ga, fl};
		mh_restriction r, *back = NULL;
		mh_buf b1 = MH_BUF_INIT, b2 = MH_BUF_INIT;
		size_t used;

		mh_arena_init(&ga, 0);
		mh_arena_init(&pa, 0);
		rnd_tree(&g, &r, 0);
		mh_restriction_push(&b1, fl, &r);
		assert_int_equal(mh_buf_status(&b1), S_OK);
		if (pull_bytes(b1.data, b1.len, fl, &pa, &back, &used) != S_OK)
			fail_msg("iteration %d: %s", it, mh_error_last()->message);
		assert_int_equal(used, b1.len);
		assert_true(mh_restriction_equal(&r, back));
		mh_restriction_push(&b2, fl, back);
		assert_bytes(&b2, b1.data, b1.len);
		if (it % 50 == 0)
			check_truncations(b1.data, b1.len, fl);

		/* Bit flips: whatever pulls must push again; nothing may crash. */
		for (int f = 0; f < 8 && b1.len > 0; f++) {
			mh_arena fa;
			mh_restriction *x = NULL;
			mh_buf b3 = MH_BUF_INIT;
			uint32_t bit = rnd(&g) % (uint32_t)(b1.len * 8);
			b1.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			mh_arena_init(&fa, 0);
			if (pull_bytes(b1.data, b1.len, fl, &fa, &x, NULL) == S_OK) {
				mh_restriction_push(&b3, fl, x);
				assert_int_equal(mh_buf_status(&b3), S_OK);
			} else {
				assert_null(x);
			}
			b1.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			mh_buf_free(&b3);
			mh_arena_free(&fa);
		}
		mh_buf_free(&b1);
		mh_buf_free(&b2);
		mh_arena_free(&pa);
		mh_arena_free(&ga);
	}
}

static void test_restriction__random_round_trip_rop(void **state)
{
	(void)state;
	round_trip(MH_PV_ROP, 0x5EED0001u, 1500);
}

static void test_restriction__random_round_trip_nspi(void **state)
{
	(void)state;
	round_trip(MH_PV_NSPI, 0x5EED0002u, 1500);
}

/* An absent NSPI value (HasValue 0) survives the round trip as absent. */
static void test_restriction__nspi_absent_value(void **state)
{
	(void)state;
	mh_restriction r;
	memset(&r, 0, sizeof(r));
	r.rt = RES_PROPERTY;
	r.u.property.relop = RELOP_EQ;
	r.u.property.prop_tag = TAG_DISPLAY_NAME;
	r.u.property.prop.ulPropTag = TAG_DISPLAY_NAME;
	check_layout(&r, MH_PV_NSPI, "04 04 1f000130 1f000130 00");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_restriction__exist),
	    cmocka_unit_test(test_restriction__and_or_count_width),
	    cmocka_unit_test(test_restriction__not),
	    cmocka_unit_test(test_restriction__content),
	    cmocka_unit_test(test_restriction__property),
	    cmocka_unit_test(test_restriction__compare_bitmask_size),
	    cmocka_unit_test(test_restriction__subobject_and_count),
	    cmocka_unit_test(test_restriction__comment),
	    cmocka_unit_test(test_restriction__pull_fields),
	    cmocka_unit_test(test_restriction__unknown_type),
	    cmocka_unit_test(test_restriction__hostile_counts),
	    cmocka_unit_test(test_restriction__depth_bomb),
	    cmocka_unit_test(test_restriction__push_errors),
	    cmocka_unit_test(test_restriction__random_round_trip_rop),
	    cmocka_unit_test(test_restriction__random_round_trip_nspi),
	    cmocka_unit_test(test_restriction__nspi_absent_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
