/*
 * Runs the built mapihttp tool (MH_CLI_PATH) against the sample mapihttpd (MH_SERVER_PATH):
 * `discover` as text and JSON, the shared identity options, and that a secret never shows.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "mapihttpd_proc.h"

#ifndef MH_CLI_PATH
#error "MH_CLI_PATH must name the mapihttp binary"
#endif
#ifndef MH_SERVER_PATH
#error "MH_SERVER_PATH must name the mapihttpd binary"
#endif
#ifndef MH_VECTORS_DIR
#error "MH_VECTORS_DIR must name tests/vectors"
#endif

#define MAN_DIR    MH_VECTORS_DIR "/../../docs/man"
#define DN_PREFIX  "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define BOB_GUID   "eb113c0f-3344-86e1-ad16-c68cf5c1be62"
#define ARCH_GUID  "6bc6e012-62aa-8d2f-bbd6-151067afaa5d"
#define SVC_GUID   "8a39cc22-65dd-872d-88ea-24f72c31f5d9"
#define SVC        "svc@contoso.test"
#define SVC_PASS   "Svc-Pass-1"
#define WRONG_PASS "Wr0ng-Secret-4711"

typedef struct fixture {
	mh_test_server server; /* its directory holds the temporary files too */
	char ad_url[600];      /* <base>/autodiscover/autodiscover.xml */
} fixture;

/* ---- the server ------------------------------------------------------------------------- */

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

/* ---- running the tool ------------------------------------------------------------------- */

/*
 * Runs mapihttp with args and an environment of this process's minus every MAPIHTTP_*
 * variable, plus env (NULL-terminated "NAME=value" strings, may be NULL).
 */
static mh_test_run_result run_tool(const char *const *env, const char *const *args)
{
	static const char *const drop[] = {"MAPIHTTP_", NULL};
	char **envp = mh_test_env(drop, env);
	assert_non_null(envp);
	mh_test_run_result r;
	assert_int_equal(mh_test_run(&r, MH_CLI_PATH, args, envp, NULL), 0);
	mh_test_env_free(envp);
	return r;
}

#define ENV(...)              ((const char *const[]){__VA_ARGS__, NULL})
#define RUN(env, ...)         run_tool(env, (const char *const[]){__VA_ARGS__, NULL})
#define PASSWORD_ENV          ENV("MAPIHTTP_PASSWORD=" SVC_PASS)
#define DISCOVER(f, env, ...) RUN(env, "discover", "--autodiscover-url", (f)->ad_url, __VA_ARGS__)

static const char plain_http_warning[] = "mapihttp: warning: --autodiscover-url is plain HTTP: "
                                         "credentials and answers travel unencrypted\n";

static void assert_success(const mh_test_run_result *r)
{
	if (r->status != 0)
		print_error("exit %d, stderr: %s\n", r->status, r->err);
	assert_int_equal(r->status, 0);
	assert_true(r->out[0] != '\0');
}

/* Exit 1, nothing on stdout, the last stderr line "<STATUS>: <detail>". */
static void assert_error(const mh_test_run_result *r, const char *status_name)
{
	if (r->status != 1)
		print_error("exit %d, stderr: %s\n", r->status, r->err);
	assert_int_equal(r->status, 1);
	assert_string_equal(r->out, "");
	size_t len = strlen(r->err);
	assert_true(len > 0 && r->err[len - 1] == '\n');
	const char *last = r->err + len - 1;
	while (last > r->err && last[-1] != '\n')
		last--;
	size_t n = strlen(status_name);
	if (strncmp(last, status_name, n) != 0)
		print_error("stderr: %s\n", r->err);
	assert_memory_equal(last, status_name, n);
	assert_memory_equal(last + n, ": ", 2);
	assert_true(strlen(last) > n + 3);
}

/* Exit 2, nothing on stdout, "mapihttp discover: ..." then the help hint as the last line. */
static void assert_usage(const mh_test_run_result *r, const char *needle)
{
	if (r->status != 2)
		print_error("exit %d, stderr: %s\n", r->status, r->err);
	assert_int_equal(r->status, 2);
	assert_string_equal(r->out, "");
	const char *line = strstr(r->err, "mapihttp discover: ");
	assert_non_null(line);
	static const char hint[] = "Try 'mapihttp discover --help'.\n";
	size_t len = strlen(r->err);
	assert_true(len > sizeof(hint));
	assert_string_equal(r->err + len - (sizeof(hint) - 1), hint);
	if (needle != NULL && strstr(line, needle) == NULL)
		print_error("stderr: %s\n", r->err);
	if (needle != NULL)
		assert_non_null(strstr(line, needle));
}

static void assert_absent(const mh_test_run_result *r, const char *secret)
{
	if (strstr(r->out, secret) != NULL || strstr(r->err, secret) != NULL)
		print_error("secret shown: stdout %s stderr %s\n", r->out, r->err);
	assert_null(strstr(r->out, secret));
	assert_null(strstr(r->err, secret));
}

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

static void assert_text_value(const char *text, const char *name, const char *want)
{
	char *v = text_value(text, name);
	if (v == NULL || strcmp(v, want) != 0)
		print_error("%s: got %s, want %s\n", name, v != NULL ? v : "(none)", want);
	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

static char *write_file(const fixture *f, const char *name, const char *content, mode_t mode)
{
	char *path = malloc(strlen(f->server.dir) + strlen(name) + 2);
	assert_non_null(path);
	sprintf(path, "%s/%s", f->server.dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* ---- discover ----------------------------------------------------------------------------- */

static void test_cli_discover__text_bob(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = DISCOVER(f, PASSWORD_ENV, "--user", SVC, "bob@contoso.test");
	assert_success(&r);
	assert_string_equal(r.err, plain_http_warning);
	assert_text_value(r.out, "display_name", "Bob Baker");
	assert_text_value(r.out, "legacy_dn", DN_PREFIX "/cn=Recipients/cn=bob");
	assert_text_value(r.out, "smtp_address", "bob@contoso.test");
	char *ms = text_value(r.out, "mailstore_url");
	assert_non_null(ms);
	assert_non_null(strstr(ms, "/mapi/emsmdb/?MailboxId=" BOB_GUID "@contoso.test"));
	free(ms);
	char *ab = text_value(r.out, "addressbook_url");
	assert_non_null(ab);
	assert_non_null(strstr(ab, "/mapi/nspi/?MailboxId=" BOB_GUID "@contoso.test"));
	free(ab);
	assert_text_value(r.out, "server", BOB_GUID "@contoso.test");
	assert_text_value(r.out, "mdb_dn",
	                  DN_PREFIX "/cn=Configuration/cn=Servers/cn=" BOB_GUID
	                            "@contoso.test/cn=Microsoft Private MDB");
	assert_text_value(r.out, "pox_url", f->ad_url);
	assert_text_value(r.out, "hops", "0");
	assert_text_value(r.out, "alternatives", "1");
	assert_text_value(r.out, "alternatives[0].type", "Archive");
	assert_text_value(r.out, "alternatives[0].owner_smtp_address", "bob@contoso.test");
	/* The archive's own mailbox GUID names it, whichever form the server chose. */
	assert_non_null(strstr(r.out, ARCH_GUID));
	/* Values are aligned one space after the longest name of their block. */
	assert_non_null(strstr(r.out, "\nhops:            0\n"));
	mh_test_run_result_free(&r);
}

static json_t *parse_json(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	if (j == NULL)
		print_error("JSON: %s (line %d)\n%s\n", jerr.text, jerr.line, text);
	assert_non_null(j);
	assert_true(json_is_object(j));
	return j;
}

static const char *jstr(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	assert_non_null(v); /* every documented key is present */
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_cli_discover__json_bob(void **state)
{
	fixture *f = *state;
	mh_test_run_result r =
	    DISCOVER(f, PASSWORD_ENV, "--user", SVC, "--json", "bob@contoso.test");
	assert_success(&r);
	json_t *j = parse_json(r.out);
	static const char *const keys[] = {"display_name",  "legacy_dn",       "smtp_address",
	                                   "mailstore_url", "addressbook_url", "server",
	                                   "server_dn",     "mdb_dn",          "pox_url",
	                                   "hops",          "alternatives"};
	assert_int_equal(json_object_size(j), sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(json_object_get(j, keys[i]));
	assert_string_equal(jstr(j, "display_name"), "Bob Baker");
	assert_string_equal(jstr(j, "legacy_dn"), DN_PREFIX "/cn=Recipients/cn=bob");
	assert_string_equal(jstr(j, "smtp_address"), "bob@contoso.test");
	assert_non_null(strstr(jstr(j, "mailstore_url"), "MailboxId=" BOB_GUID "@contoso.test"));
	assert_non_null(strstr(jstr(j, "addressbook_url"), "MailboxId=" BOB_GUID "@contoso.test"));
	assert_string_equal(jstr(j, "server"), BOB_GUID "@contoso.test");
	assert_string_equal(jstr(j, "server_dn"),
	                    DN_PREFIX "/cn=Configuration/cn=Servers/cn=" BOB_GUID "@contoso.test");
	assert_string_equal(jstr(j, "pox_url"), f->ad_url);
	assert_true(json_is_integer(json_object_get(j, "hops")));
	assert_int_equal(json_integer_value(json_object_get(j, "hops")), 0);

	json_t *alts = json_object_get(j, "alternatives");
	assert_true(json_is_array(alts));
	assert_int_equal(json_array_size(alts), 1);
	json_t *a = json_array_get(alts, 0);
	static const char *const akeys[] = {
	    "type", "display_name", "smtp_address", "owner_smtp_address", "legacy_dn", "server"};
	assert_int_equal(json_object_size(a), sizeof(akeys) / sizeof(akeys[0]));
	for (size_t i = 0; i < sizeof(akeys) / sizeof(akeys[0]); i++)
		assert_non_null(json_object_get(a, akeys[i]));
	assert_string_equal(jstr(a, "type"), "Archive");
	assert_string_equal(jstr(a, "owner_smtp_address"), "bob@contoso.test");
	assert_non_null(strstr(jstr(a, "display_name"), "Bob Baker"));
	/* SmtpAddress form, or LegacyDN + Server: either names the archive's GUID. */
	const char *smtp = jstr(a, "smtp_address"), *server = jstr(a, "server");
	if (smtp != NULL) {
		assert_non_null(strstr(smtp, ARCH_GUID));
	} else {
		assert_non_null(server);
		assert_string_equal(server, ARCH_GUID "@contoso.test");
		assert_non_null(jstr(a, "legacy_dn"));
	}
	json_decref(j);
	mh_test_run_result_free(&r);
}

static void test_cli_discover__self_delegates(void **state)
{
	fixture *f = *state;
	/* No EMAIL: the identity itself; the user comes from MAPIHTTP_USER. */
	mh_test_run_result r =
	    DISCOVER(f, ENV("MAPIHTTP_PASSWORD=" SVC_PASS, "MAPIHTTP_USER=" SVC), "--json");
	assert_success(&r);
	json_t *j = parse_json(r.out);
	assert_string_equal(jstr(j, "smtp_address"), SVC);
	assert_non_null(strstr(jstr(j, "mailstore_url"), "MailboxId=" SVC_GUID "@contoso.test"));
	json_t *alts = json_object_get(j, "alternatives");
	assert_true(json_is_array(alts));
	bool bob = false, helpdesk = false;
	for (size_t i = 0; i < json_array_size(alts); i++) {
		json_t *a = json_array_get(alts, i);
		if (strcmp(jstr(a, "type"), "Delegate") != 0)
			continue;
		const char *smtp = jstr(a, "smtp_address");
		assert_non_null(smtp);
		bob = bob || strcmp(smtp, "bob@contoso.test") == 0;
		helpdesk = helpdesk || strcmp(smtp, "helpdesk@contoso.test") == 0;
	}
	assert_true(bob);
	assert_true(helpdesk);
	json_decref(j);
	mh_test_run_result_free(&r);

	/* The same in text. */
	r = DISCOVER(f, PASSWORD_ENV, "--user", SVC);
	assert_success(&r);
	assert_text_value(r.out, "alternatives", "2");
	assert_text_value(r.out, "alternatives[0].type", "Delegate");
	assert_text_value(r.out, "alternatives[1].type", "Delegate");
	assert_non_null(strstr(r.out, "helpdesk@contoso.test"));
	mh_test_run_result_free(&r);
}

static void test_cli_discover__bearer_token_file(void **state)
{
	fixture *f = *state;
	char *tok = write_file(f, "token", "svc-token-0001\n", 0600);
	/* Bearer by default with a token; no password anywhere, no --user needed. */
	mh_test_run_result r = DISCOVER(f, NULL, "--token-file", tok, "-v", "bob@contoso.test");
	assert_success(&r);
	assert_non_null(strstr(r.err, "(bearer)"));
	assert_non_null(strstr(r.out, "MailboxId=" BOB_GUID "@contoso.test"));
	assert_absent(&r, "svc-token-0001");
	mh_test_run_result_free(&r);

	/* The token is really what authenticates: another one is refused. */
	char *bad = write_file(f, "badtoken", "svc-token-9999\n", 0600);
	r = DISCOVER(f, NULL, "--token-file", bad, "bob@contoso.test");
	assert_error(&r, "MAPI_E_LOGON_FAILED");
	assert_absent(&r, "svc-token-9999");
	mh_test_run_result_free(&r);

	/* MAPIHTTP_TOKEN works the same. */
	r = DISCOVER(f, ENV("MAPIHTTP_TOKEN=svc-token-0001"), "bob@contoso.test");
	assert_success(&r);
	mh_test_run_result_free(&r);

	/* A token file and --auth basic do not go together. */
	r = DISCOVER(f, PASSWORD_ENV, "--user", SVC, "--auth", "basic", "--token-file", tok);
	assert_usage(&r, "--token-file");
	mh_test_run_result_free(&r);
	free(bad);
	free(tok);
}

static void test_cli_discover__wrong_password_not_shown(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = DISCOVER(f, ENV("MAPIHTTP_PASSWORD=" WRONG_PASS), "--user", SVC,
	                                "-v", "bob@contoso.test");
	assert_error(&r, "MAPI_E_LOGON_FAILED");
	assert_absent(&r, WRONG_PASS);
	/* -v said which URL was tried, and what came back. */
	assert_non_null(strstr(r.err, f->ad_url));
	assert_non_null(strstr(r.err, "HTTP 401"));
	mh_test_run_result_free(&r);

	char *pw = write_file(f, "wrongpw", WRONG_PASS "\n", 0600);
	r = DISCOVER(f, NULL, "--user", SVC, "--password-file", pw, "--json", "bob@contoso.test");
	assert_error(&r, "MAPI_E_LOGON_FAILED");
	assert_absent(&r, WRONG_PASS);
	mh_test_run_result_free(&r);
	free(pw);
}

static void test_cli_discover__password_file(void **state)
{
	fixture *f = *state;
	/* First line only, CR LF stripped. */
	char *pw = write_file(f, "pw", SVC_PASS "\r\nsecond line\n", 0600);
	mh_test_run_result r =
	    DISCOVER(f, NULL, "--user", SVC, "--password-file", pw, "bob@contoso.test");
	assert_success(&r);
	assert_string_equal(r.err, plain_http_warning);
	mh_test_run_result_free(&r);

	/* Readable by others: a warning, and it still works. */
	char *open_pw = write_file(f, "pw644", SVC_PASS, 0644);
	r = DISCOVER(f, NULL, "--user", SVC, "--password-file", open_pw, "bob@contoso.test");
	assert_success(&r);
	assert_non_null(strstr(r.err, "readable by group or others"));
	mh_test_run_result_free(&r);

	/* The file wins over the variable. */
	r = DISCOVER(f, ENV("MAPIHTTP_PASSWORD=" WRONG_PASS), "--user", SVC, "--password-file", pw,
	             "bob@contoso.test");
	assert_success(&r);
	mh_test_run_result_free(&r);

	char missing[300];
	snprintf(missing, sizeof(missing), "%s/no-such-file", f->server.dir);
	r = DISCOVER(f, NULL, "--user", SVC, "--password-file", missing, "bob@contoso.test");
	assert_usage(&r, "no-such-file");
	mh_test_run_result_free(&r);

	char *empty = write_file(f, "empty", "\n", 0600);
	r = DISCOVER(f, NULL, "--user", SVC, "--password-file", empty, "bob@contoso.test");
	assert_usage(&r, "empty");
	mh_test_run_result_free(&r);
	free(empty);
	free(open_pw);
	free(pw);
}

static void test_cli_discover__not_found(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = DISCOVER(f, PASSWORD_ENV, "--user", SVC, "nobody@contoso.test");
	assert_error(&r, "MAPI_E_NOT_FOUND");
	assert_non_null(strstr(r.err, "nobody@contoso.test"));
	mh_test_run_result_free(&r);
}

static void test_cli_discover__usage_errors(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = DISCOVER(f, NULL, "--user", SVC, "bob@contoso.test");
	assert_usage(&r, "no credentials");
	assert_non_null(strstr(r.err, "MAPIHTTP_PASSWORD"));
	mh_test_run_result_free(&r);

	/* A password given as an option is refused, and not repeated back. */
	r = RUN(NULL, "discover", "--user", SVC, "--password", WRONG_PASS);
	assert_usage(&r, "--password");
	assert_absent(&r, WRONG_PASS);
	mh_test_run_result_free(&r);
	r = RUN(NULL, "discover", "--user", SVC, "--password=" WRONG_PASS);
	assert_usage(&r, "--password");
	assert_absent(&r, WRONG_PASS);
	mh_test_run_result_free(&r);
	/* Abbreviations of long options are not taken either. */
	r = RUN(PASSWORD_ENV, "discover", "--us", SVC);
	assert_usage(&r, "unknown option '--us'");
	mh_test_run_result_free(&r);

	r = DISCOVER(f, PASSWORD_ENV, "bob@contoso.test");
	assert_usage(&r, "--user");
	mh_test_run_result_free(&r);
	r = DISCOVER(f, ENV("MAPIHTTP_TOKEN=svc-token-0001"), "--json");
	assert_usage(&r, "no address");
	mh_test_run_result_free(&r);
	r = DISCOVER(f, PASSWORD_ENV, "--user", SVC, "a@contoso.test", "b@contoso.test");
	assert_usage(&r, "unexpected argument");
	mh_test_run_result_free(&r);
	r = DISCOVER(f, PASSWORD_ENV, "--user", SVC, "--auth", "kerberos");
	assert_usage(&r, "--auth");
	mh_test_run_result_free(&r);
	r = DISCOVER(f, PASSWORD_ENV, "--user", SVC, "--timeout", "0");
	assert_usage(&r, "--timeout");
	mh_test_run_result_free(&r);
	r = DISCOVER(f, PASSWORD_ENV, "--user", SVC, "--timeout");
	assert_usage(&r, "needs an argument");
	mh_test_run_result_free(&r);
	r = RUN(PASSWORD_ENV, "discover", "--user", SVC, "--autodiscover-url", "ftp://x/");
	assert_usage(&r, "--autodiscover-url");
	mh_test_run_result_free(&r);
	r = DISCOVER(f, PASSWORD_ENV, "--user", SVC, "--cacert", "/nonexistent/ca.pem");
	assert_usage(&r, "--cacert");
	mh_test_run_result_free(&r);
	r = DISCOVER(f, ENV("MAPIHTTP_TOKEN=svc-token-0001"), "--auth", "bearer", "--user", SVC,
	             "--password-file", "/dev/null");
	assert_usage(&r, "--password-file");
	mh_test_run_result_free(&r);
}

static void test_cli_discover__insecure_warns(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = DISCOVER(f, PASSWORD_ENV, "--user", SVC, "--insecure", "--timeout",
	                                "30", "bob@contoso.test");
	assert_success(&r);
	assert_non_null(strstr(r.err, "mapihttp: warning: --insecure: TLS certificates and host "
	                              "names are not verified\n"));
	mh_test_run_result_free(&r);
}

static void test_cli_discover__help(void **state)
{
	(void)state;
	mh_test_run_result r = RUN(NULL, "discover", "--help");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	assert_memory_equal(r.out, "Usage: mapihttp discover", 24);
	mh_test_run_result h = RUN(NULL, "help", "discover");
	assert_int_equal(h.status, 0);
	assert_string_equal(h.out, r.out);
	mh_test_run_result_free(&h);

	/* Every long option the help names is documented in mapihttp(1). */
	FILE *man = fopen(MAN_DIR "/mapihttp.1", "rb");
	assert_non_null(man);
	char *page = calloc(1, 1 << 20);
	assert_non_null(page);
	size_t len = fread(page, 1, (1 << 20) - 1, man);
	fclose(man);
	page[len] = '\0';
	size_t checked = 0;
	for (const char *p = strstr(r.out, "--"); p != NULL; p = strstr(p + 2, "--")) {
		size_t n = 2;
		while ((p[n] >= 'a' && p[n] <= 'z') || p[n] == '-')
			n++;
		char roff[80];
		snprintf(roff, sizeof(roff), "\\-\\-%.*s", (int)(n - 2), p + 2);
		for (char *q = roff + 4; *q != '\0'; q++)
			if (*q == '-') {
				memmove(q + 1, q, strlen(q) + 1);
				*q = '\\';
				q++;
			}
		if (strstr(page, roff) == NULL)
			print_error("mapihttp.1 does not document %.*s\n", (int)n, p);
		assert_non_null(strstr(page, roff));
		checked++;
	}
	assert_true(checked >= 10);
	free(page);
	mh_test_run_result_free(&r);

	r = RUN(NULL, "--help");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "  discover "));
	mh_test_run_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cli_discover__text_bob),
	    cmocka_unit_test(test_cli_discover__json_bob),
	    cmocka_unit_test(test_cli_discover__self_delegates),
	    cmocka_unit_test(test_cli_discover__bearer_token_file),
	    cmocka_unit_test(test_cli_discover__wrong_password_not_shown),
	    cmocka_unit_test(test_cli_discover__password_file),
	    cmocka_unit_test(test_cli_discover__not_found),
	    cmocka_unit_test(test_cli_discover__usage_errors),
	    cmocka_unit_test(test_cli_discover__insecure_warns),
	    cmocka_unit_test(test_cli_discover__help),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
