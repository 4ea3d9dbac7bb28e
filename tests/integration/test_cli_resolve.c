/*
 * Runs the built mapihttp tool (MH_CLI_PATH) against the sample mapihttpd (MH_SERVER_PATH):
 * `resolve` as text and JSON, an unknown name, and its usage errors.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mapihttpd_proc.h"

#ifndef MH_CLI_PATH
#error "MH_CLI_PATH must name the mapihttp binary"
#endif
#ifndef MH_SERVER_PATH
#error "MH_SERVER_PATH must name the mapihttpd binary"
#endif

#define BOB_DN   "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=bob"
#define SVC      "svc@contoso.test"
#define SVC_PASS "Svc-Pass-1"
#define NOBODY   "nobody-at-all"

typedef struct fixture {
	mh_test_server server;
	char ad_url[600]; /* <base>/autodiscover/autodiscover.xml */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(mh_test_server_start(&f->server, MH_SERVER_PATH, NULL), 0);
	snprintf(f->ad_url, sizeof(f->ad_url), "%s/autodiscover/autodiscover.xml", f->server.url);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	mh_test_server_stop(&f->server, SIGTERM);
	mh_test_server_cleanup(&f->server);
	free(f);
	return 0;
}

/* Runs mapihttp with this environment minus MAPIHTTP_*, plus the svc password. */
static mh_test_run_result run_tool(const char *const *args)
{
	static const char *const drop[] = {"MAPIHTTP_", NULL};
	static const char *const extra[] = {"MAPIHTTP_PASSWORD=" SVC_PASS, NULL};
	char **envp = mh_test_env(drop, extra);
	assert_non_null(envp);
	mh_test_run_result r;
	assert_int_equal(mh_test_run(&r, MH_CLI_PATH, args, envp, NULL), 0);
	mh_test_env_free(envp);
	return r;
}

#define RESOLVE(f, ...)                                                                \
	run_tool((const char *const[]){"resolve", "--user", SVC, "--autodiscover-url", \
	                               (f)->ad_url, __VA_ARGS__, NULL})

/* The value of a "name: value" line of text output, or NULL. */
static char *text_value(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			size_t len = strcspn(v, "\n");
			char *s = malloc(len + 1);
			assert_non_null(s);
			memcpy(s, v, len);
			s[len] = '\0';
			return s;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

static void assert_text(const char *text, const char *name, const char *want)
{
	char *v = text_value(text, name);
	if (v == NULL || strcmp(v, want) != 0)
		print_error("%s: %s, want %s; output:\n%s\n", name, v != NULL ? v : "(none)", want,
		            text);
	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

static void test_cli_resolve__text_bob(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = RESOLVE(f, "bob");
	if (r.status != 0)
		print_error("exit %d, stderr: %s\n", r.status, r.err);
	assert_int_equal(r.status, 0);
	assert_text(r.out, "name", "bob");
	assert_text(r.out, "status", "resolved");
	assert_text(r.out, "display_name", "Bob Baker");
	assert_text(r.out, "legacy_dn", BOB_DN);
	assert_text(r.out, "smtp_address", "bob@contoso.test");
	char *mdb = text_value(r.out, "home_mdb");
	assert_non_null(mdb);
	assert_non_null(strstr(mdb, "/cn=Microsoft Private MDB"));
	free(mdb);
	/* Aligned: every value starts in the same column as the longest name's. */
	const char *line = strstr(r.out, "\nlegacy_dn:");
	assert_non_null(line);
	assert_memory_equal(line + 1, "legacy_dn:    /o=", 17);
	assert_null(strstr(r.err, SVC_PASS));
	mh_test_run_result_free(&r);
}

static const char *json_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	assert_non_null(v);
	return json_string_value(v);
}

static void test_cli_resolve__json_unknown(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = RESOLVE(f, "--json", "bob", NOBODY);
	if (r.status != 1)
		print_error("exit %d, stderr: %s\n", r.status, r.err);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "MAPI_E_NOT_FOUND: "));
	assert_non_null(strstr(r.err, NOBODY));
	json_error_t je;
	json_t *arr = json_loads(r.out, 0, &je);
	if (arr == NULL)
		print_error("JSON: %s\n%s\n", je.text, r.out);
	assert_non_null(arr);
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 2);

	const json_t *b = json_array_get(arr, 0);
	assert_string_equal(json_str(b, "name"), "bob");
	assert_string_equal(json_str(b, "status"), "resolved");
	assert_string_equal(json_str(b, "display_name"), "Bob Baker");
	assert_string_equal(json_str(b, "legacy_dn"), BOB_DN);
	assert_string_equal(json_str(b, "smtp_address"), "bob@contoso.test");
	assert_non_null(strstr(json_str(b, "home_mdb"), "/cn=Microsoft Private MDB"));

	const json_t *n = json_array_get(arr, 1);
	assert_string_equal(json_str(n, "name"), NOBODY);
	assert_string_equal(json_str(n, "status"), "not found");
	const char *nulls[] = {"display_name", "legacy_dn", "smtp_address", "home_mdb"};
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
		const json_t *v = json_object_get(n, nulls[i]);
		assert_non_null(v);
		assert_true(json_is_null(v));
	}
	json_decref(arr);
	mh_test_run_result_free(&r);
}

static void test_cli_resolve__usage(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = run_tool(
	    (const char *const[]){"resolve", "--user", SVC, "--autodiscover-url", f->ad_url, NULL});
	assert_int_equal(r.status, 2);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "mapihttp resolve: "));
	assert_non_null(strstr(r.err, "Try 'mapihttp resolve --help'."));
	mh_test_run_result_free(&r);

	r = run_tool(
	    (const char *const[]){"resolve", "--autodiscover-url", f->ad_url, "bob", NULL});
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--user"));
	mh_test_run_result_free(&r);

	r = run_tool((const char *const[]){"--help", NULL});
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "  resolve "));
	mh_test_run_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cli_resolve__text_bob),
	    cmocka_unit_test(test_cli_resolve__json_unknown),
	    cmocka_unit_test(test_cli_resolve__usage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
