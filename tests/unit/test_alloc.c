/*
 * Unit tests for MAPI buffers (MAPIAllocateBuffer/More/FreeBuffer) and the
 * property helpers. Leaks are caught by LeakSanitizer and valgrind runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mapihttp.h"
#include "util/alloc_internal.h"

static int is_aligned(const void *p)
{
	return (uintptr_t)p % alignof(max_align_t) == 0;
}

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/* ---- MAPIAllocateBuffer / MAPIAllocateMore / MAPIFreeBuffer ----------------------------- */

static void test_alloc__buffer_zeroed_and_aligned(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {0, 1, 3, 7, 8, 15, 16, 17, 100, 4096, 65537};
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			void *p = NULL;
			assert_int_equal(MAPIAllocateBuffer(sizes[i], &p), S_OK);
			assert_non_null(p);
			assert_true(is_aligned(p));
			assert_true(all_zero(p, sizes[i]));
			/* Dirty the memory so that a reused block would show up unzeroed. */
			memset(p, 0xA5, sizes[i]);
			assert_int_equal(MAPIFreeBuffer(p), S_OK);
		}
	}
}

static void test_alloc__more_zeroed_and_aligned(void **state)
{
	(void)state;
	void *root = NULL;
	assert_int_equal(MAPIAllocateBuffer(5, &root), S_OK);
	void *parent = root;
	for (uint32_t cb = 0; cb < 70; cb++) {
		void *p = NULL;
		assert_int_equal(MAPIAllocateMore(cb, parent, &p), S_OK);
		assert_non_null(p);
		assert_true(is_aligned(p));
		assert_true(all_zero(p, cb));
		memset(p, 0x5A, cb); /* every byte is writable (ASan checks the size) */
		/* Alternate between chaining to the root and to the last More block. */
		parent = cb % 2 ? p : root;
	}
	/* One call frees the root and all 70 blocks: any leak fails the leak checkers. */
	assert_int_equal(MAPIFreeBuffer(root), S_OK);
}

static void test_alloc__more_on_more_chains_to_root(void **state)
{
	(void)state;
	void *root = NULL, *m1 = NULL, *m2 = NULL, *m3 = NULL;
	assert_int_equal(MAPIAllocateBuffer(16, &root), S_OK);
	assert_int_equal(MAPIAllocateMore(32, root, &m1), S_OK);
	assert_int_equal(MAPIAllocateMore(48, m1, &m2), S_OK);
	assert_int_equal(MAPIAllocateMore(64, m2, &m3), S_OK);
	memset(m3, 1, 64);

	/* A More block is not a root: freeing it fails and frees nothing... */
	mh_error_clear();
	assert_int_equal(MAPIFreeBuffer(m2), MAPI_E_INVALID_PARAMETER);
	assert_non_null(mh_error_last());
	assert_int_equal(mh_error_last()->status, MAPI_E_INVALID_PARAMETER);
	assert_int_equal(MAPIFreeBuffer(m1), MAPI_E_INVALID_PARAMETER);
	/* ...so the blocks are still usable (ASan reports use after free otherwise)... */
	memset(m1, 2, 32);
	memset(m2, 3, 48);
	void *m4 = NULL;
	assert_int_equal(MAPIAllocateMore(8, m2, &m4), S_OK);
	memset(m4, 4, 8);
	/* ...and they go with the root, even those chained through a More block. */
	assert_int_equal(MAPIFreeBuffer(root), S_OK);
}

static void test_alloc__bad_arguments(void **state)
{
	(void)state;
	void *p = (void *)&p;
	assert_int_equal(MAPIFreeBuffer(NULL), S_OK);
	assert_int_equal(MAPIAllocateBuffer(8, NULL), MAPI_E_INVALID_PARAMETER);

	void *root = NULL;
	assert_int_equal(MAPIAllocateBuffer(8, &root), S_OK);
	assert_int_equal(MAPIAllocateMore(8, root, NULL), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(MAPIAllocateMore(8, NULL, &p), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(MAPIFreeBuffer(root), S_OK);
}

/*
 * A pointer that is not a MAPI buffer: memory before it is readable and
 * holds no block header, the case the header says is detected.
 */
static void test_alloc__foreign_pointer_detected(void **state)
{
	(void)state;
	static alignas(max_align_t) unsigned char arena[512];
	void *foreign = arena + 256;
	void *p = NULL;
	memset(arena, 0, sizeof(arena));
	assert_int_equal(MAPIAllocateMore(8, foreign, &p), MAPI_E_INVALID_PARAMETER);
	/* Freeing it must not hand static memory to free(). */
	assert_int_equal(MAPIFreeBuffer(foreign), MAPI_E_INVALID_PARAMETER);
	memset(arena, 0xFF, sizeof(arena));
	assert_int_equal(MAPIAllocateMore(8, foreign, &p), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(MAPIFreeBuffer(foreign), MAPI_E_INVALID_PARAMETER);
}

static void test_alloc__out_of_memory(void **state)
{
	(void)state;
	void *p = (void *)&p, *root = NULL;
	mh_alloc_fail_after(0);
	assert_int_equal(MAPIAllocateBuffer(8, &p), MAPI_E_NOT_ENOUGH_MEMORY);
	mh_alloc_fail_after(-1);
	assert_null(p);
	assert_int_equal(mh_error_last()->status, MAPI_E_NOT_ENOUGH_MEMORY);

	assert_int_equal(MAPIAllocateBuffer(8, &root), S_OK);
	mh_alloc_fail_after(0);
	p = (void *)&p;
	assert_int_equal(MAPIAllocateMore(8, root, &p), MAPI_E_NOT_ENOUGH_MEMORY);
	mh_alloc_fail_after(-1);
	assert_null(p);
	/* The chain is intact after the failure. */
	assert_int_equal(MAPIAllocateMore(8, root, &p), S_OK);
	assert_int_equal(MAPIFreeBuffer(root), S_OK);
}

/* ---- mh_props_find -------------------------------------------------------------------- */

static void test_alloc__props_find(void **state)
{
	(void)state;
	SPropValue props[4];
	memset(props, 0, sizeof(props));
	props[0].ulPropTag = PR_DISPLAY_NAME_A;
	props[1].ulPropTag = PR_DISPLAY_NAME_W;
	props[2].ulPropTag = PR_ENTRYID;
	props[3].ulPropTag = PR_DEPTH;

	assert_ptr_equal(mh_props_find(4, props, PR_DISPLAY_NAME_W), &props[1]);
	assert_ptr_equal(mh_props_find(4, props, PR_DEPTH), &props[3]);
	assert_ptr_equal(mh_props_find(4, props, PR_ENTRYID), &props[2]);
	/* Same id, other type: no match. */
	assert_null(mh_props_find(4, props, CHANGE_PROP_TYPE(PR_DEPTH, PT_I8)));
	/* PT_UNSPECIFIED matches by id, the first of either type. */
	assert_ptr_equal(
	    mh_props_find(4, props, CHANGE_PROP_TYPE(PR_DISPLAY_NAME_W, PT_UNSPECIFIED)),
	    &props[0]);
	assert_ptr_equal(mh_props_find(4, props, PROP_TAG(PT_UNSPECIFIED, PROP_ID(PR_DEPTH))),
	                 &props[3]);
	assert_null(mh_props_find(4, props, PROP_TAG(PT_UNSPECIFIED, 0x1234)));
	/* Only cValues entries are searched. */
	assert_null(mh_props_find(3, props, PR_DEPTH));
	assert_null(mh_props_find(0, props, PR_DISPLAY_NAME_A));
	assert_null(mh_props_find(0, NULL, PR_DISPLAY_NAME_A));
}

/* ---- mh_props_copy / mh_prop_copy_more ----------------------------------------------------- */

/* Mutable source data: the test overwrites it after copying. */
struct source {
	char str8[16];
	char strw[16];
	uint8_t bin[5];
	uint8_t svreid[3];
	GUID guid;
	int16_t mvi[3];
	int32_t mvl[2];
	float mvflt[2];
	double mvdbl[2];
	int64_t mvcur[2];
	double mvat[2];
	FILETIME mvft[2];
	int64_t mvli[3];
	GUID mvguid[2];
	char sa0[8], sa1[8];
	char *mvsza[2];
	char sw0[8], sw1[8], sw2[8];
	char *mvszw[3];
	uint8_t b0[2], b1[4];
	SBinary mvbin[3];
	SPropValue props[32];
	uint32_t count;
};

#define TAG(type, id) PROP_TAG((type), 0x8000 + (id))

static SPropValue *add(struct source *s, uint32_t type)
{
	SPropValue *v = &s->props[s->count];
	memset(v, 0, sizeof(*v));
	v->ulPropTag = TAG(type, s->count);
	s->count++;
	return v;
}

static void fill_source(struct source *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->str8, "Caf\xE9 8-bit");
	strcpy(s->strw, "Caf\xC3\xA9 UTF-8");
	memcpy(s->bin, "\x01\x02\x03\x04\x05", 5);
	memcpy(s->svreid, "\x0A\x0B\x0C", 3);
	s->guid = (GUID){0x11223344u, 0x5566, 0x7788, {1, 2, 3, 4, 5, 6, 7, 8}};
	s->mvi[0] = -1, s->mvi[1] = 2, s->mvi[2] = 32767;
	s->mvl[0] = -100000, s->mvl[1] = 7;
	s->mvflt[0] = 1.5f, s->mvflt[1] = -0.25f;
	s->mvdbl[0] = 3.25, s->mvdbl[1] = -1e300;
	s->mvcur[0] = 12345678, s->mvcur[1] = -1;
	s->mvat[0] = 45000.5, s->mvat[1] = 0.0;
	s->mvft[0] = (FILETIME){1, 2};
	s->mvft[1] = (FILETIME){0xFFFFFFFFu, 0x01D00000u};
	s->mvli[0] = INT64_MIN, s->mvli[1] = 0, s->mvli[2] = INT64_MAX;
	s->mvguid[0] = s->guid;
	s->mvguid[1] = (GUID){9, 10, 11, {12, 13, 14, 15, 16, 17, 18, 19}};
	strcpy(s->sa0, "one"), strcpy(s->sa1, "");
	s->mvsza[0] = s->sa0, s->mvsza[1] = s->sa1;
	strcpy(s->sw0, "\xE2\x82\xAC"), strcpy(s->sw1, "b"), strcpy(s->sw2, "cc");
	s->mvszw[0] = s->sw0, s->mvszw[1] = s->sw1, s->mvszw[2] = s->sw2;
	memcpy(s->b0, "\xAA\xBB", 2);
	memcpy(s->b1, "\x00\x01\x02\x03", 4);
	s->mvbin[0] = (SBinary){2, s->b0};
	s->mvbin[1] = (SBinary){0, NULL}; /* an empty value */
	s->mvbin[2] = (SBinary){4, s->b1};

	add(s, PT_NULL)->Value.x = 0;
	add(s, PT_I2)->Value.i = -2;
	add(s, PT_LONG)->Value.l = -123456;
	add(s, PT_R4)->Value.flt = 2.5f;
	add(s, PT_DOUBLE)->Value.dbl = 6.125;
	add(s, PT_CURRENCY)->Value.cur = 99990000;
	add(s, PT_APPTIME)->Value.at = 40000.75;
	add(s, PT_ERROR)->Value.err = MAPI_E_NOT_FOUND;
	add(s, PT_BOOLEAN)->Value.b = 1;
	add(s, PT_I8)->Value.li = 0x0123456789ABCDEFll;
	add(s, PT_SYSTIME)->Value.ft = (FILETIME){0x89ABCDEFu, 0x01234567u};
	add(s, PT_STRING8)->Value.lpszA = s->str8;
	add(s, PT_UNICODE)->Value.lpszW = s->strw;
	add(s, PT_BINARY)->Value.bin = (SBinary){5, s->bin};
	add(s, PT_BINARY)->Value.bin = (SBinary){0, NULL};
	add(s, PT_SVREID)->Value.bin = (SBinary){3, s->svreid};
	add(s, PT_CLSID)->Value.lpguid = &s->guid;
	add(s, PT_MV_I2)->Value.MVi = (SShortArray){3, s->mvi};
	add(s, PT_MV_LONG)->Value.MVl = (SLongArray){2, s->mvl};
	add(s, PT_MV_R4)->Value.MVflt = (SRealArray){2, s->mvflt};
	add(s, PT_MV_DOUBLE)->Value.MVdbl = (SDoubleArray){2, s->mvdbl};
	add(s, PT_MV_CURRENCY)->Value.MVcur = (SCurrencyArray){2, s->mvcur};
	add(s, PT_MV_APPTIME)->Value.MVat = (SAppTimeArray){2, s->mvat};
	add(s, PT_MV_SYSTIME)->Value.MVft = (SDateTimeArray){2, s->mvft};
	add(s, PT_MV_I8)->Value.MVli = (SLargeIntegerArray){3, s->mvli};
	add(s, PT_MV_CLSID)->Value.MVguid = (SGuidArray){2, s->mvguid};
	add(s, PT_MV_STRING8)->Value.MVszA = (SLPSTRArray){2, s->mvsza};
	add(s, PT_MV_UNICODE)->Value.MVszW = (SWStringArray){3, s->mvszw};
	add(s, PT_MV_BINARY)->Value.MVbin = (SBinaryArray){3, s->mvbin};
	add(s, PT_MV_LONG)->Value.MVl = (SLongArray){0, NULL}; /* empty array */
}

/* Overwrites every byte the source's pointers lead to. */
static void scribble_source(struct source *s)
{
	memset(s->str8, 'X', sizeof(s->str8) - 1);
	memset(s->strw, 'Y', sizeof(s->strw) - 1);
	memset(s->bin, 0xEE, sizeof(s->bin));
	memset(s->svreid, 0xEE, sizeof(s->svreid));
	memset(&s->guid, 0xEE, sizeof(s->guid));
	memset(s->mvi, 0xEE, sizeof(s->mvi));
	memset(s->mvl, 0xEE, sizeof(s->mvl));
	memset(s->mvflt, 0xEE, sizeof(s->mvflt));
	memset(s->mvdbl, 0xEE, sizeof(s->mvdbl));
	memset(s->mvcur, 0xEE, sizeof(s->mvcur));
	memset(s->mvat, 0xEE, sizeof(s->mvat));
	memset(s->mvft, 0xEE, sizeof(s->mvft));
	memset(s->mvli, 0xEE, sizeof(s->mvli));
	memset(s->mvguid, 0xEE, sizeof(s->mvguid));
	strcpy(s->sa0, "ZZZ"), strcpy(s->sa1, "Z");
	strcpy(s->sw0, "WWW"), strcpy(s->sw1, "W"), strcpy(s->sw2, "WW");
	s->mvsza[0] = s->mvsza[1] = s->sw2;
	s->mvszw[0] = s->mvszw[1] = s->mvszw[2] = s->sa1;
	memset(s->b0, 0xEE, sizeof(s->b0));
	memset(s->b1, 0xEE, sizeof(s->b1));
	s->mvbin[0] = s->mvbin[2] = (SBinary){1, s->b0};
}

/* The copy holds the values fill_source() set, in memory of its own. */
static void check_copy(const SPropValue *d, const struct source *s)
{
	for (uint32_t i = 0; i < s->count; i++)
		assert_int_equal(d[i].ulPropTag, s->props[i].ulPropTag);
	assert_int_equal(d[1].Value.i, -2);
	assert_int_equal(d[2].Value.l, -123456);
	assert_true(d[3].Value.flt == 2.5f);
	assert_true(d[4].Value.dbl == 6.125);
	assert_true(d[5].Value.cur == 99990000);
	assert_true(d[6].Value.at == 40000.75);
	assert_int_equal(d[7].Value.err, MAPI_E_NOT_FOUND);
	assert_int_equal(d[8].Value.b, 1);
	assert_true(d[9].Value.li == 0x0123456789ABCDEFll);
	assert_int_equal(d[10].Value.ft.dwLowDateTime, 0x89ABCDEFu);
	assert_int_equal(d[10].Value.ft.dwHighDateTime, 0x01234567u);

	assert_ptr_not_equal(d[11].Value.lpszA, s->str8);
	assert_string_equal(d[11].Value.lpszA, "Caf\xE9 8-bit");
	assert_ptr_not_equal(d[12].Value.lpszW, s->strw);
	assert_string_equal(d[12].Value.lpszW, "Caf\xC3\xA9 UTF-8");
	assert_int_equal(d[13].Value.bin.cb, 5);
	assert_ptr_not_equal(d[13].Value.bin.lpb, s->bin);
	assert_memory_equal(d[13].Value.bin.lpb, "\x01\x02\x03\x04\x05", 5);
	assert_int_equal(d[14].Value.bin.cb, 0);
	assert_int_equal(d[15].Value.bin.cb, 3);
	assert_memory_equal(d[15].Value.bin.lpb, "\x0A\x0B\x0C", 3);
	assert_ptr_not_equal(d[16].Value.lpguid, &s->guid);
	assert_int_equal(d[16].Value.lpguid->Data1, 0x11223344u);
	assert_int_equal(d[16].Value.lpguid->Data4[7], 8);

	assert_int_equal(d[17].Value.MVi.cValues, 3);
	assert_int_equal(d[17].Value.MVi.lpi[0], -1);
	assert_int_equal(d[17].Value.MVi.lpi[2], 32767);
	assert_int_equal(d[18].Value.MVl.cValues, 2);
	assert_int_equal(d[18].Value.MVl.lpl[0], -100000);
	assert_true(d[19].Value.MVflt.lpflt[1] == -0.25f);
	assert_true(d[20].Value.MVdbl.lpdbl[1] == -1e300);
	assert_true(d[21].Value.MVcur.lpcur[0] == 12345678);
	assert_true(d[22].Value.MVat.lpat[0] == 45000.5);
	assert_int_equal(d[23].Value.MVft.lpft[1].dwHighDateTime, 0x01D00000u);
	assert_true(d[24].Value.MVli.lpli[0] == INT64_MIN);
	assert_true(d[24].Value.MVli.lpli[2] == INT64_MAX);
	assert_int_equal(d[25].Value.MVguid.cValues, 2);
	assert_int_equal(d[25].Value.MVguid.lpguid[1].Data1, 9);
	assert_int_equal(d[25].Value.MVguid.lpguid[1].Data4[7], 19);

	assert_int_equal(d[26].Value.MVszA.cValues, 2);
	assert_ptr_not_equal(d[26].Value.MVszA.lppszA, s->mvsza);
	assert_string_equal(d[26].Value.MVszA.lppszA[0], "one");
	assert_string_equal(d[26].Value.MVszA.lppszA[1], "");
	assert_int_equal(d[27].Value.MVszW.cValues, 3);
	assert_ptr_not_equal(d[27].Value.MVszW.lppszW, s->mvszw);
	assert_string_equal(d[27].Value.MVszW.lppszW[0], "\xE2\x82\xAC");
	assert_string_equal(d[27].Value.MVszW.lppszW[1], "b");
	assert_string_equal(d[27].Value.MVszW.lppszW[2], "cc");
	assert_int_equal(d[28].Value.MVbin.cValues, 3);
	assert_ptr_not_equal(d[28].Value.MVbin.lpbin, s->mvbin);
	assert_int_equal(d[28].Value.MVbin.lpbin[0].cb, 2);
	assert_memory_equal(d[28].Value.MVbin.lpbin[0].lpb, "\xAA\xBB", 2);
	assert_int_equal(d[28].Value.MVbin.lpbin[1].cb, 0);
	assert_int_equal(d[28].Value.MVbin.lpbin[2].cb, 4);
	assert_memory_equal(d[28].Value.MVbin.lpbin[2].lpb, "\x00\x01\x02\x03", 4);
	assert_int_equal(d[29].Value.MVl.cValues, 0);
}

static void test_alloc__props_copy_every_type(void **state)
{
	(void)state;
	struct source s;
	SPropValue *copy = NULL;
	fill_source(&s);
	assert_int_equal(s.count, 30);
	assert_int_equal(mh_props_copy(&copy, s.count, s.props), S_OK);
	assert_non_null(copy);
	check_copy(copy, &s);
	/* Change everything the source holds or points to; tags stay for the check. */
	scribble_source(&s);
	for (uint32_t i = 0; i < s.count; i++)
		memset(&s.props[i].Value, 0xEE, sizeof(s.props[i].Value));
	check_copy(copy, &s);
	/* One free releases the array and every string, binary and array. */
	assert_int_equal(MAPIFreeBuffer(copy), S_OK);
}

static void test_alloc__prop_copy_more(void **state)
{
	(void)state;
	struct source s;
	SPropValue *dst = NULL;
	fill_source(&s);
	assert_int_equal(
	    MAPIAllocateBuffer((uint32_t)(s.count * sizeof(SPropValue)), (void **)&dst), S_OK);
	for (uint32_t i = 0; i < s.count; i++)
		assert_int_equal(mh_prop_copy_more(&dst[i], &s.props[i], dst), S_OK);
	scribble_source(&s);
	check_copy(dst, &s);
	assert_int_equal(MAPIFreeBuffer(dst), S_OK);

	/* Chained to a More block: still freed with the root. */
	void *root = NULL, *more = NULL;
	SPropValue one;
	fill_source(&s);
	assert_int_equal(MAPIAllocateBuffer(4, &root), S_OK);
	assert_int_equal(MAPIAllocateMore(4, root, &more), S_OK);
	assert_int_equal(mh_prop_copy_more(&one, &s.props[27], more), S_OK);
	scribble_source(&s);
	assert_string_equal(one.Value.MVszW.lppszW[2], "cc");
	assert_int_equal(MAPIFreeBuffer(root), S_OK);

	assert_int_equal(mh_prop_copy_more(NULL, &s.props[0], root), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_prop_copy_more(&one, NULL, root), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_prop_copy_more(&one, &s.props[0], NULL), MAPI_E_INVALID_PARAMETER);
}

static void test_alloc__props_copy_rejects_unknown_types(void **state)
{
	(void)state;
	static const uint32_t bad[] = {PT_OBJECT,      PT_SRESTRICT, PT_ACTIONS,
	                               PT_UNSPECIFIED, 0x0099,       MV_FLAG | PT_OBJECT};
	struct source s;
	fill_source(&s);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		SPropValue *copy = (SPropValue *)&copy;
		SPropValue saved = s.props[20];
		/* Put the bad value after strings were copied, to show they are released. */
		s.props[20].ulPropTag = PROP_TAG(bad[i], 0x6000);
		mh_error_clear();
		assert_int_equal(mh_props_copy(&copy, s.count, s.props), MAPI_E_INVALID_TYPE);
		assert_null(copy);
		assert_non_null(mh_error_last());
		assert_int_equal(mh_error_last()->status, MAPI_E_INVALID_TYPE);
		s.props[20] = saved;
	}
}

static void test_alloc__props_copy_arguments(void **state)
{
	(void)state;
	SPropValue *copy = NULL;
	assert_int_equal(mh_props_copy(&copy, 0, NULL), S_OK);
	assert_non_null(copy);
	assert_int_equal(MAPIFreeBuffer(copy), S_OK);
	assert_int_equal(mh_props_copy(NULL, 0, NULL), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_props_copy(&copy, 1, NULL), MAPI_E_INVALID_PARAMETER);

	/* A pointer missing behind a non-empty value is refused, not dereferenced. */
	SPropValue v;
	memset(&v, 0, sizeof(v));
	v.ulPropTag = PR_ENTRYID;
	v.Value.bin.cb = 4;
	copy = (SPropValue *)&copy;
	assert_int_equal(mh_props_copy(&copy, 1, &v), MAPI_E_INVALID_PARAMETER);
	assert_null(copy);
	memset(&v, 0, sizeof(v));
	v.ulPropTag = PR_DISPLAY_NAME_W;
	assert_int_equal(mh_props_copy(&copy, 1, &v), MAPI_E_INVALID_PARAMETER);
}

static void test_alloc__props_copy_out_of_memory(void **state)
{
	(void)state;
	struct source s;
	fill_source(&s);
	/* Fail each allocation in turn: never a leak, never a partial result. */
	for (long n = 0;; n++) {
		SPropValue *copy = (SPropValue *)&copy;
		mh_alloc_fail_after(n);
		mh_status st = mh_props_copy(&copy, s.count, s.props);
		mh_alloc_fail_after(-1);
		if (st == S_OK) {
			assert_true(n >
			            20); /* the array plus one block per string, binary, array */
			check_copy(copy, &s);
			MAPIFreeBuffer(copy);
			break;
		}
		assert_int_equal(st, MAPI_E_NOT_ENOUGH_MEMORY);
		assert_null(copy);
		assert_true(n < 1000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alloc__buffer_zeroed_and_aligned),
	    cmocka_unit_test(test_alloc__more_zeroed_and_aligned),
	    cmocka_unit_test(test_alloc__more_on_more_chains_to_root),
	    cmocka_unit_test(test_alloc__bad_arguments),
	    cmocka_unit_test(test_alloc__foreign_pointer_detected),
	    cmocka_unit_test(test_alloc__out_of_memory),
	    cmocka_unit_test(test_alloc__props_find),
	    cmocka_unit_test(test_alloc__props_copy_every_type),
	    cmocka_unit_test(test_alloc__prop_copy_more),
	    cmocka_unit_test(test_alloc__props_copy_rejects_unknown_types),
	    cmocka_unit_test(test_alloc__props_copy_arguments),
	    cmocka_unit_test(test_alloc__props_copy_out_of_memory),
	};
	return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
