/*
 * Tests of the capped bump allocator: the cap, alignment, zeroing, large
 * blocks, reuse after free, array size overflow and heap failure.
 */
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mapihttp/status.h"
#include "util/alloc_internal.h"
#include "util/arena.h"

#define ALIGN alignof(max_align_t)

static void assert_all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			fail_msg("byte %zu of %zu is 0x%02x, not zero", i, n, b[i]);
}

static void assert_message_contains(const char *needle)
{
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	if (strstr(e->message, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", e->message, needle);
}

static void test_arena__cap_enforced(void **state)
{
	(void)state;
	mh_arena a;
	void *p = NULL, *q = (void *)&a;
	mh_arena_init(&a, 256);
	assert_int_equal(mh_arena_alloc(&a, 200, &p), S_OK);
	assert_non_null(p);
	assert_int_equal(mh_arena_alloc(&a, 100, &q), MAPI_E_TOO_BIG);
	assert_null(q);
	assert_message_contains("256-byte cap");
	/* The failed request did not count. */
	assert_true(a.used <= 256);
	size_t used = a.used;
	assert_int_equal(mh_arena_alloc(&a, 256 - used, &q), S_OK);
	assert_int_equal(a.used, 256);
	assert_int_equal(mh_arena_alloc(&a, 1, &q), MAPI_E_TOO_BIG);
	/* A single request above the cap. */
	mh_arena_free(&a);
	assert_int_equal(mh_arena_alloc(&a, 257, &q), MAPI_E_TOO_BIG);
	assert_int_equal(a.used, 0);
	mh_arena_free(&a);
}

/* Rounding up to the alignment counts against the cap. */
static void test_arena__cap_counts_padding(void **state)
{
	(void)state;
	mh_arena a;
	void *p;
	mh_arena_init(&a, 4 * ALIGN);
	for (int i = 0; i < 4; i++)
		assert_int_equal(mh_arena_alloc(&a, 1, &p), S_OK);
	assert_int_equal(a.used, 4 * ALIGN);
	assert_int_equal(mh_arena_alloc(&a, 1, &p), MAPI_E_TOO_BIG);
	mh_arena_free(&a);
}

static void test_arena__default_cap(void **state)
{
	(void)state;
	mh_arena a;
	void *p;
	mh_arena_init(&a, 0);
	assert_int_equal(mh_arena_alloc(&a, MH_ARENA_DEFAULT_CAP + 1, &p), MAPI_E_TOO_BIG);
	assert_null(p);
	assert_int_equal(a.used, 0);
	assert_int_equal(mh_arena_alloc(&a, 64, &p), S_OK);
	mh_arena_free(&a);
	mh_arena a2 = MH_ARENA_INIT;
	assert_int_equal(mh_arena_alloc(&a2, 8, &p), S_OK);
	mh_arena_free(&a2);
}

static void test_arena__alignment(void **state)
{
	(void)state;
	mh_arena a;
	mh_arena_init(&a, 0);
	for (size_t n = 1; n <= 200; n++) {
		void *p;
		assert_int_equal(mh_arena_alloc(&a, n, &p), S_OK);
		assert_int_equal((uintptr_t)p % ALIGN, 0);
		memset(p, 0xA5, n); /* the whole block is ours (ASan checks) */
	}
	/* Also after a chunk of its own. */
	void *big, *p;
	assert_int_equal(mh_arena_alloc(&a, 10000, &big), S_OK);
	assert_int_equal((uintptr_t)big % ALIGN, 0);
	assert_int_equal(mh_arena_alloc(&a, 3, &p), S_OK);
	assert_int_equal((uintptr_t)p % ALIGN, 0);
	mh_arena_free(&a);
}

static void test_arena__zeroed(void **state)
{
	(void)state;
	mh_arena a;
	void *p;
	mh_arena_init(&a, 0);
	for (int round = 0; round < 3; round++) {
		for (size_t n = 1; n < 3000; n += 97) {
			assert_int_equal(mh_arena_alloc(&a, n, &p), S_OK);
			assert_all_zero(p, n);
			memset(p, 0xFF, n);
		}
		/* Reused memory after free must come back zeroed too. */
		mh_arena_free(&a);
	}
	mh_arena_free(&a);
}

static void test_arena__big_allocations(void **state)
{
	(void)state;
	mh_arena a;
	void *small1, *big, *small2;
	mh_arena_init(&a, 1 << 20);
	assert_int_equal(mh_arena_alloc(&a, 16, &small1), S_OK);
	memset(small1, 1, 16);
	assert_int_equal(mh_arena_alloc(&a, 100000, &big), S_OK);
	assert_all_zero(big, 100000);
	memset(big, 2, 100000);
	assert_int_equal(mh_arena_alloc(&a, 16, &small2), S_OK);
	assert_all_zero(small2, 16);
	/* Nothing overlaps. */
	assert_int_equal(((unsigned char *)small1)[15], 1);
	assert_int_equal(((unsigned char *)big)[0], 2);
	assert_int_equal(((unsigned char *)big)[99999], 2);
	assert_true(a.used >= 100000 + 32);
	mh_arena_free(&a);
}

static void test_arena__free_and_reuse(void **state)
{
	(void)state;
	mh_arena a;
	void *p;
	mh_arena_init(&a, 1000);
	assert_int_equal(mh_arena_alloc(&a, 900, &p), S_OK);
	assert_int_equal(mh_arena_alloc(&a, 900, &p), MAPI_E_TOO_BIG);
	mh_arena_free(&a);
	assert_null(a.head);
	assert_int_equal(a.used, 0);
	assert_int_equal(a.cap, 1000); /* the cap survives */
	assert_int_equal(mh_arena_alloc(&a, 900, &p), S_OK);
	mh_arena_free(&a);
	mh_arena_free(&a); /* twice is harmless */
}

static void test_arena__array(void **state)
{
	(void)state;
	mh_arena a;
	void *p = (void *)&a;
	mh_arena_init(&a, 0);
	assert_int_equal(mh_arena_array(&a, SIZE_MAX / 2 + 1, 2, &p), MAPI_E_TOO_BIG);
	assert_null(p);
	assert_message_contains("too large");
	p = (void *)&a;
	assert_int_equal(mh_arena_array(&a, SIZE_MAX / 8, 16, &p), MAPI_E_TOO_BIG);
	assert_null(p);
	assert_int_equal(mh_arena_array(&a, (size_t)1 << 30, 1 << 4, &p), MAPI_E_TOO_BIG);
	assert_int_equal(a.used, 0);
	assert_int_equal(mh_arena_array(&a, 10, sizeof(uint64_t), &p), S_OK);
	assert_all_zero(p, 80);
	assert_int_equal((uintptr_t)p % ALIGN, 0);
	mh_arena_free(&a);
}

static void test_arena__memdup_strndup(void **state)
{
	(void)state;
	mh_arena a;
	void *p = (void *)&a;
	char *s;
	mh_arena_init(&a, 0);
	assert_int_equal(mh_arena_memdup(&a, "abc", 0, &p), S_OK);
	assert_null(p);
	assert_int_equal(mh_arena_memdup(&a, "abc", 3, &p), S_OK);
	assert_memory_equal(p, "abc", 3);
	assert_int_equal(mh_arena_strndup(&a, "hello world", 5, &s), S_OK);
	assert_string_equal(s, "hello");
	assert_int_equal(mh_arena_strndup(&a, "", 0, &s), S_OK);
	assert_string_equal(s, "");
	assert_int_equal(mh_arena_strndup(&a, "x", SIZE_MAX, &s), MAPI_E_TOO_BIG);
	assert_null(s);
	mh_arena_free(&a);
}

static void test_arena__out_of_memory(void **state)
{
	(void)state;
	mh_arena a;
	void *p = (void *)&a;
	mh_arena_init(&a, 0);
	mh_alloc_fail_after(0);
	assert_int_equal(mh_arena_alloc(&a, 10, &p), MAPI_E_NOT_ENOUGH_MEMORY);
	mh_alloc_fail_after(-1);
	assert_null(p);
	assert_int_equal(a.used, 0);
	assert_int_equal(mh_arena_alloc(&a, 10, &p), S_OK);
	/* A failure when a new chunk is needed leaves the earlier blocks intact. */
	memset(p, 7, 10);
	mh_alloc_fail_after(0);
	void *big;
	assert_int_equal(mh_arena_alloc(&a, 50000, &big), MAPI_E_NOT_ENOUGH_MEMORY);
	mh_alloc_fail_after(-1);
	assert_int_equal(((unsigned char *)p)[9], 7);
	mh_arena_free(&a);
}

/*
 * A zero-byte request is handed a block of ALIGN bytes; that block must
 * count against the cap like any other, or the arena can be pushed past it.
 */
static void test_arena__zero_size_at_cap(void **state)
{
	(void)state;
	mh_arena a;
	void *p;
	mh_arena_init(&a, 4 * ALIGN);
	assert_int_equal(mh_arena_alloc(&a, 4 * ALIGN, &p), S_OK);
	mh_status st = mh_arena_alloc(&a, 0, &p);
	assert_true(st == S_OK || st == MAPI_E_TOO_BIG);
	assert_true(a.used <= a.cap);
	/* The cap still holds afterwards. */
	assert_int_equal(mh_arena_alloc(&a, ALIGN, &p), MAPI_E_TOO_BIG);
	assert_int_equal(mh_arena_alloc(&a, 1000, &p), MAPI_E_TOO_BIG);
	mh_arena_free(&a);
}

/* With the largest cap, rounding a huge request up to the alignment must not wrap to 0. */
static void test_arena__huge_request_no_wrap(void **state)
{
	(void)state;
	mh_arena a;
	void *p = (void *)&a;
	mh_arena_init(&a, SIZE_MAX);
	mh_status st = mh_arena_alloc(&a, SIZE_MAX - 1, &p);
	assert_true(st == MAPI_E_TOO_BIG || st == MAPI_E_NOT_ENOUGH_MEMORY);
	assert_null(p);
	mh_arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arena__cap_enforced),
	    cmocka_unit_test(test_arena__cap_counts_padding),
	    cmocka_unit_test(test_arena__default_cap),
	    cmocka_unit_test(test_arena__alignment),
	    cmocka_unit_test(test_arena__zeroed),
	    cmocka_unit_test(test_arena__big_allocations),
	    cmocka_unit_test(test_arena__free_and_reuse),
	    cmocka_unit_test(test_arena__array),
	    cmocka_unit_test(test_arena__memdup_strndup),
	    cmocka_unit_test(test_arena__out_of_memory),
	    cmocka_unit_test(test_arena__zero_size_at_cap),
	    cmocka_unit_test(test_arena__huge_request_no_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
