/*
 * Fails every allocation in turn (the curl model) in the calls that
 * allocate: each must return MAPI_E_NOT_ENOUGH_MEMORY or succeed, and
 * leak nothing (valgrind and LeakSanitizer run this test too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mapihttp.h"
#include "util/alloc_internal.h"
#include "util/buf.h"

#define MAILBOX_DN \
	"/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice"
#define MDB_DN                                                                            \
	"/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/" \
	"cn=Servers/cn=EXSRV01/cn=Microsoft Private MDB"

static mh_status create_v3(uint32_t *cb, ENTRYID **eid)
{
	SPropValue props[4];
	memset(props, 0, sizeof(props));
	props[0].ulPropTag = PR_PROFILE_MAILBOX;
	props[0].Value.lpszA = (char *)(uintptr_t)MAILBOX_DN;
	props[1].ulPropTag = PR_PROFILE_MDB_DN;
	props[1].Value.lpszA = (char *)(uintptr_t)MDB_DN;
	props[2].ulPropTag = PR_FORCE_USE_ENTRYID_SERVER;
	props[2].Value.b = 1;
	props[3].ulPropTag = PR_PROFILE_USER_SMTP_ADDRESS_W;
	props[3].Value.lpszW = (char *)(uintptr_t) "alice@contoso.com";
	return mh_create_store_entryid2(4, props, OPENSTORE_HOME_LOGON | OPENSTORE_TAKE_OWNERSHIP,
	                                cb, eid);
}

/* Runs op with 0, 1, 2, ... allocations allowed until it succeeds. */
static long fail_each(mh_status (*op)(void *), void *arg)
{
	for (long n = 0; n < 10000; n++) {
		mh_alloc_fail_after(n);
		mh_status st = op(arg);
		mh_alloc_fail_after(-1);
		if (st == S_OK)
			return n;
		assert_int_equal(st, MAPI_E_NOT_ENOUGH_MEMORY);
		assert_non_null(mh_error_last());
		assert_int_equal(mh_error_last()->status, MAPI_E_NOT_ENOUGH_MEMORY);
	}
	fail_msg("operation never succeeded");
	return -1;
}

static mh_status op_create_v3(void *arg)
{
	(void)arg;
	uint32_t cb;
	ENTRYID *eid = NULL;
	mh_status st = create_v3(&cb, &eid);
	if (st == S_OK) {
		assert_non_null(eid);
		MAPIFreeBuffer(eid);
	}
	return st;
}

static mh_status op_create_v1(void *arg)
{
	(void)arg;
	uint32_t cb;
	ENTRYID *eid = NULL;
	mh_status st = mh_create_store_entryid(MDB_DN, MAILBOX_DN, 0x0C, &cb, &eid);
	if (st == S_OK)
		MAPIFreeBuffer(eid);
	return st;
}

struct blob {
	uint32_t cb;
	ENTRYID *eid;
};

static mh_status op_parse(void *arg)
{
	struct blob *b = arg;
	mh_entryid *e = NULL;
	mh_status st = mh_entryid_parse(&e, b->cb, b->eid);
	if (st == S_OK) {
		assert_int_equal(e->kind, MH_ENTRYID_STORE);
		assert_string_equal(e->u.store.smtp_address, "alice@contoso.com");
		MAPIFreeBuffer(e);
	}
	return st;
}

static mh_status op_props_copy(void *arg)
{
	(void)arg;
	char *strs[2] = {(char *)(uintptr_t) "a", (char *)(uintptr_t) "bc"};
	uint8_t bytes[3] = {1, 2, 3};
	SPropValue src[3];
	SPropValue *dst = NULL;
	memset(src, 0, sizeof(src));
	src[0].ulPropTag = PR_DISPLAY_NAME_W;
	src[0].Value.lpszW = (char *)(uintptr_t) "Alice";
	src[1].ulPropTag = PR_ENTRYID;
	src[1].Value.bin.cb = 3;
	src[1].Value.bin.lpb = bytes;
	src[2].ulPropTag = PR_EMS_AB_PROXY_ADDRESSES_W;
	src[2].Value.MVszW.cValues = 2;
	src[2].Value.MVszW.lppszW = strs;
	mh_status st = mh_props_copy(&dst, 3, src);
	if (st == S_OK) {
		assert_string_equal(dst[2].Value.MVszW.lppszW[1], "bc");
		MAPIFreeBuffer(dst);
	}
	return st;
}

static mh_status op_buf(void *arg)
{
	(void)arg;
	mh_buf b = MH_BUF_INIT;
	for (int i = 0; i < 100; i++)
		mh_buf_utf16z(&b, "some text that makes the buffer grow");
	mh_status st = mh_buf_status(&b);
	if (st == S_OK)
		assert_int_equal(b.len, 100 * 74);
	mh_buf_free(&b);
	return st;
}

static void test_oom__create_store_entryid2(void **state)
{
	(void)state;
	assert_true(fail_each(op_create_v3, NULL) > 0);
}

static void test_oom__create_store_entryid(void **state)
{
	(void)state;
	assert_true(fail_each(op_create_v1, NULL) > 0);
}

static void test_oom__entryid_parse(void **state)
{
	(void)state;
	struct blob b;
	assert_int_equal(create_v3(&b.cb, &b.eid), S_OK);
	assert_true(fail_each(op_parse, &b) > 0);
	MAPIFreeBuffer(b.eid);
}

static void test_oom__props_copy(void **state)
{
	(void)state;
	assert_true(fail_each(op_props_copy, NULL) > 0);
}

static void test_oom__buf(void **state)
{
	(void)state;
	assert_true(fail_each(op_buf, NULL) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oom__create_store_entryid2),
	    cmocka_unit_test(test_oom__create_store_entryid),
	    cmocka_unit_test(test_oom__entryid_parse),
	    cmocka_unit_test(test_oom__props_copy),
	    cmocka_unit_test(test_oom__buf),
	};
	return cmocka_run_group_tests_name("oom", tests, NULL, NULL);
}
