/*
 * mapihttpd's fault rules (src/server/fault.c): parsing and its messages, every=N counting,
 * seeded probabilistic rules, kinds counted apart, and exact counts under several threads.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mapihttp/common.h"
#include "server/fault.h"

static mh_srv_faults *new_faults(void)
{
	mh_srv_faults *f = NULL;
	assert_int_equal(mh_srv_faults_new(&f), S_OK);
	assert_non_null(f);
	return f;
}

/* The rule is refused with MAPI_E_INVALID_PARAMETER and a message containing want. */
static void assert_refused(const char *spec, const char *want)
{
	mh_srv_faults *f = new_faults();
	mh_status s = mh_srv_faults_add(f, spec);
	assert_int_equal(s, MAPI_E_INVALID_PARAMETER);
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	assert_non_null(e->message);
	if (strstr(e->message, want) == NULL)
		print_error("rule '%s': message '%s' lacks '%s'\n", spec, e->message, want);
	assert_non_null(strstr(e->message, want));
	/* A refused rule adds nothing. */
	assert_false(mh_srv_faults_hit(f, MH_SRV_FAULT_CLOSE, NULL));
	mh_srv_faults_free(f);
}

static void test_server_fault__good_rules(void **state)
{
	(void)state;
	static const char *const good[] = {
	    "close,every=1",       "503,every=5,ms=2000",     "expire,p=0.5",
	    "stall,every=3,ms=10", "backoff,p=1,seed=42",     "wrongserver,every=4294967295",
	    "503,ms=0,every=2",    "stall,p=.25,seed=0,ms=5", "close,p=0.000001",
	    "503,p=1.0",           "expire,seed=7,p=0.3",     "backoff,every=1,ms=86400000",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		mh_srv_faults *f = new_faults();
		mh_status s = mh_srv_faults_add(f, good[i]);
		if (s != S_OK)
			print_error("rule '%s': %s\n", good[i], mh_error_last()->message);
		assert_int_equal(s, S_OK);
		mh_srv_faults_free(f);
	}
}

static void test_server_fault__bad_rules(void **state)
{
	(void)state;
	assert_refused("", "empty");
	assert_refused("crash,every=1", "unknown kind 'crash'");
	assert_refused("CLOSE,every=1", "unknown kind 'CLOSE'");
	assert_refused("every=1", "unknown kind 'every=1'");
	assert_refused("close", "give every=N (every Nth event) or p=P");
	assert_refused("close,ms=10", "give every=N (every Nth event) or p=P");
	assert_refused("close,every=2,p=0.5", "not both");
	assert_refused("close,every=0", "every wants a whole number from 1 to 4294967295, not '0'");
	assert_refused("close,every=x", "not 'x'");
	assert_refused("close,every=-1", "not '-1'");
	assert_refused("close,every= 1", "not ' 1'");
	assert_refused("close,every=", "not ''");
	assert_refused("close,every=4294967296", "not '4294967296'");
	assert_refused("close,p=0", "p must be over 0 and at most 1, not 0");
	assert_refused("close,p=0.0", "p must be over 0 and at most 1, not 0.0");
	assert_refused("close,p=1.5", "p must be over 0 and at most 1, not 1.5");
	assert_refused("close,p=2", "p must be over 0 and at most 1, not 2");
	assert_refused("close,p=1e-3", "p wants a decimal number such as 0.25, not '1e-3'");
	assert_refused("close,p=nan", "not 'nan'");
	assert_refused("close,p=-0.5", "not '-0.5'");
	assert_refused("close,p=0.", "not '0.'");
	assert_refused("503,every=1,ms=86400001", "ms wants milliseconds from 0 to 86400000");
	assert_refused("503,every=1,ms=1s", "not '1s'");
	assert_refused("close,p=0.5,seed=x", "seed wants a whole number");
	assert_refused("close,p=0.5,seed=18446744073709551616", "seed wants a whole number");
	assert_refused("close,every=1,seed=3", "seed only goes with p=P");
	assert_refused("close,every=1,foo=2", "unknown key 'foo' at offset 14");
	assert_refused("close,every=1,every=2", "key 'every' given twice");
	assert_refused("503,ms=1,p=0.5,ms=2", "key 'ms' given twice (offset 15)");
	assert_refused("close,every", "'every' at offset 6 is not KEY=VALUE");
	assert_refused("close,,every=1", "'' at offset 6 is not KEY=VALUE");
	assert_refused("close,every=1,", "'' at offset 14 is not KEY=VALUE");
	char longspec[400];
	memset(longspec, '1', sizeof(longspec) - 1);
	longspec[sizeof(longspec) - 1] = 0;
	memcpy(longspec, "close,every=", 12);
	assert_refused(longspec, "longer than 256 characters");
}

static void test_server_fault__too_many_rules(void **state)
{
	(void)state;
	mh_srv_faults *f = new_faults();
	for (unsigned i = 0; i < MH_SRV_FAULT_MAX_RULES; i++)
		assert_int_equal(mh_srv_faults_add(f, "close,every=1000"), S_OK);
	assert_int_equal(mh_srv_faults_add(f, "close,every=1"), MAPI_E_TOO_BIG);
	assert_non_null(strstr(mh_error_last()->message, "at most 16 fault rules"));
	/* The refused rule (every event) did not get in. */
	assert_false(mh_srv_faults_hit(f, MH_SRV_FAULT_CLOSE, NULL));
	mh_srv_faults_free(f);
}

static void test_server_fault__every_n(void **state)
{
	(void)state;
	mh_srv_faults *f = new_faults();
	assert_int_equal(mh_srv_faults_add(f, "503,every=3,ms=2500"), S_OK);
	for (unsigned i = 1; i <= 30; i++) {
		uint32_t ms = 77;
		bool hit = mh_srv_faults_hit(f, MH_SRV_FAULT_HTTP503, &ms);
		assert_int_equal(hit, i % 3 == 0);
		assert_int_equal(ms, hit ? 2500u : 77u); /* untouched when nothing fires */
	}
	mh_srv_faults_free(f);
}

static void test_server_fault__defaults_and_names(void **state)
{
	(void)state;
	static const struct {
		const char *spec;
		mh_srv_fault_kind kind;
		uint32_t ms;
	} cases[] = {
	    {"503,every=1", MH_SRV_FAULT_HTTP503, 1000},
	    {"stall,every=1", MH_SRV_FAULT_STALL, 20000},
	    {"backoff,every=1", MH_SRV_FAULT_BACKOFF, 1000},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mh_srv_faults *f = new_faults();
		assert_int_equal(mh_srv_faults_add(f, cases[i].spec), S_OK);
		uint32_t ms = 0;
		assert_true(mh_srv_faults_hit(f, cases[i].kind, &ms));
		assert_int_equal(ms, cases[i].ms);
		mh_srv_faults_free(f);
	}
	assert_string_equal(mh_srv_fault_kind_name(MH_SRV_FAULT_CLOSE), "close");
	assert_string_equal(mh_srv_fault_kind_name(MH_SRV_FAULT_HTTP503), "503");
	assert_string_equal(mh_srv_fault_kind_name(MH_SRV_FAULT_EXPIRE), "expire");
	assert_string_equal(mh_srv_fault_kind_name(MH_SRV_FAULT_STALL), "stall");
	assert_string_equal(mh_srv_fault_kind_name(MH_SRV_FAULT_BACKOFF), "backoff");
	assert_string_equal(mh_srv_fault_kind_name(MH_SRV_FAULT_WRONG_SERVER), "wrongserver");
	/* A NULL set never fires; a NULL ms is allowed. */
	assert_false(mh_srv_faults_hit(NULL, MH_SRV_FAULT_CLOSE, NULL));
	mh_srv_faults_free(NULL);
}

/* Which of n events fire, as a bit string. */
static void draw(const char *spec, char *out, size_t n)
{
	mh_srv_faults *f = new_faults();
	assert_int_equal(mh_srv_faults_add(f, spec), S_OK);
	for (size_t i = 0; i < n; i++)
		out[i] = mh_srv_faults_hit(f, MH_SRV_FAULT_EXPIRE, NULL) ? '1' : '0';
	out[n] = 0;
	mh_srv_faults_free(f);
}

static void test_server_fault__seeded_probability(void **state)
{
	(void)state;
	enum { N = 10000 };
	static char a[N + 1], b[N + 1], c[N + 1];
	draw("expire,p=0.5,seed=42", a, N);
	draw("expire,p=0.5,seed=42", b, N);
	draw("expire,p=0.5,seed=43", c, N);
	assert_string_equal(a, b);     /* the same seed repeats the run */
	assert_string_not_equal(a, c); /* another seed gives another one */
	size_t ones = 0;
	for (size_t i = 0; i < N; i++)
		ones += a[i] == '1';
	/* The seed is fixed, so this bound cannot flake; it would catch a wrong scale of p. */
	assert_in_range(ones, 4500, 5500);

	draw("expire,p=0.1", a, N); /* default seed 1 */
	draw("expire,p=0.1,seed=1", b, N);
	assert_string_equal(a, b);
	ones = 0;
	for (size_t i = 0; i < N; i++)
		ones += a[i] == '1';
	assert_in_range(ones, 800, 1200);

	draw("expire,p=1", a, 100);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(a[i], '1');
}

static void test_server_fault__kinds_counted_apart(void **state)
{
	(void)state;
	mh_srv_faults *f = new_faults();
	assert_int_equal(mh_srv_faults_add(f, "close,every=2"), S_OK);
	assert_int_equal(mh_srv_faults_add(f, "stall,every=3,ms=5"), S_OK);
	/* 503 events do not move the close or stall counts. */
	for (int i = 0; i < 7; i++)
		assert_false(mh_srv_faults_hit(f, MH_SRV_FAULT_HTTP503, NULL));
	assert_false(mh_srv_faults_hit(f, MH_SRV_FAULT_CLOSE, NULL));
	assert_false(mh_srv_faults_hit(f, MH_SRV_FAULT_STALL, NULL));
	assert_true(mh_srv_faults_hit(f, MH_SRV_FAULT_CLOSE, NULL));
	assert_false(mh_srv_faults_hit(f, MH_SRV_FAULT_STALL, NULL));
	uint32_t ms = 0;
	assert_true(mh_srv_faults_hit(f, MH_SRV_FAULT_STALL, &ms));
	assert_int_equal(ms, 5);
	mh_srv_faults_free(f);
}

static void test_server_fault__first_rule_wins(void **state)
{
	(void)state;
	mh_srv_faults *f = new_faults();
	assert_int_equal(mh_srv_faults_add(f, "503,every=2,ms=2000"), S_OK);
	assert_int_equal(mh_srv_faults_add(f, "503,every=3,ms=3000"), S_OK);
	/* events 1..6: -, 2000, 3000, 2000, -, 2000 (6 fires both; the first rule wins) */
	static const uint32_t want[] = {0, 2000, 3000, 2000, 0, 2000};
	for (size_t i = 0; i < 6; i++) {
		uint32_t ms = 0;
		bool hit = mh_srv_faults_hit(f, MH_SRV_FAULT_HTTP503, &ms);
		assert_int_equal(hit, want[i] != 0);
		assert_int_equal(ms, want[i]);
	}
	mh_srv_faults_free(f);
}

typedef struct worker {
	mh_srv_faults *f;
	unsigned events;
	unsigned hits;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	for (unsigned i = 0; i < w->events; i++)
		w->hits += mh_srv_faults_hit(w->f, MH_SRV_FAULT_BACKOFF, NULL);
	return NULL;
}

static void test_server_fault__threads(void **state)
{
	(void)state;
	enum { THREADS = 8, EACH = 20000, EVERY = 7 };
	mh_srv_faults *f = new_faults();
	assert_int_equal(mh_srv_faults_add(f, "backoff,every=7"), S_OK);
	pthread_t t[THREADS];
	worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i].f = f;
		w[i].events = EACH;
		w[i].hits = 0;
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	unsigned total = 0;
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		total += w[i].hits;
	}
	/* Lost or doubled counts would change the total. */
	assert_int_equal(total, (THREADS * EACH) / EVERY);
	mh_srv_faults_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_server_fault__good_rules),
	    cmocka_unit_test(test_server_fault__bad_rules),
	    cmocka_unit_test(test_server_fault__too_many_rules),
	    cmocka_unit_test(test_server_fault__every_n),
	    cmocka_unit_test(test_server_fault__defaults_and_names),
	    cmocka_unit_test(test_server_fault__seeded_probability),
	    cmocka_unit_test(test_server_fault__kinds_counted_apart),
	    cmocka_unit_test(test_server_fault__first_rule_wins),
	    cmocka_unit_test(test_server_fault__threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
