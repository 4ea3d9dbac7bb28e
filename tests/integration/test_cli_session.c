/*
 * Runs the built mapihttp tool (MH_CLI_PATH) against the sample mapihttpd (MH_SERVER_PATH):
 * stores, folders (own, other, archive, v1 and v3 EntryIDs), messages, their usage errors,
 * credentials that never show, the help texts against the man pages, and the demo.
 */
#include <dirent.h>
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
#include <fcntl.h>
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

#define DN_PREFIX "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define BOB_DN    DN_PREFIX "/cn=Recipients/cn=bob"
#define BOB_MDB                                                                          \
	DN_PREFIX "/cn=Configuration/cn=Servers/cn=eb113c0f-3344-86e1-ad16-c68cf5c1be62" \
	          "@contoso.test/cn=Microsoft Private MDB"
#define SVC       "svc@contoso.test"
#define SVC_PASS  "Svc-Pass-1"
#define SVC_TOKEN "svc-token-0001"
#define BOB       "bob@contoso.test"
/* base64("svc@contoso.test:Svc-Pass-1"): what a Basic header carries. */
#define SVC_BASIC "c3ZjQGNvbnRvc28udGVzdDpTdmMtUGFzcy0x"

typedef struct fixture {
	mh_test_server server;
	char ad_url[600]; /* <base>/autodiscover/autodiscover.xml */
	char dir[256];    /* files the tests write (password, token) */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(mh_test_server_start(&f->server, MH_SERVER_PATH, NULL), 0);
	snprintf(f->ad_url, sizeof(f->ad_url), "%s/autodiscover/autodiscover.xml", f->server.url);
	assert_int_equal(mh_test_make_temp_dir(f->dir, sizeof(f->dir)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	mh_test_server_stop(&f->server, SIGTERM);
	mh_test_server_cleanup(&f->server);
	mh_test_remove_dir(f->dir);
	free(f);
	return 0;
}

/* ---- running the tool ------------------------------------------------------------------- */

/*
 * Runs mapihttp with this environment minus MAPIHTTP_* and TMPDIR, plus env (NULL-terminated
 * "NAME=value" strings, which replace the variables of the same name; may be NULL).
 */
static mh_test_run_result run_env(const char *const *env, const char *const *args)
{
	static const char *const drop[] = {"MAPIHTTP_", "TMPDIR=", NULL};
	char **envp = mh_test_env(drop, env);
	assert_non_null(envp);
	mh_test_run_result r;
	assert_int_equal(mh_test_run(&r, MH_CLI_PATH, args, envp, NULL), 0);
	mh_test_env_free(envp);
	return r;
}

static const char *const svc_env[] = {"MAPIHTTP_PASSWORD=" SVC_PASS, NULL};

/* As svc with the password in the environment: TOOL(f, "stores", options...). */
#define TOOL(f, ...)                                                                             \
	run_env(svc_env, (const char *const[]){__VA_ARGS__, "--user", SVC, "--autodiscover-url", \
	                                       (f)->ad_url, NULL})

/* No output of the tool ever holds the password, the token or the Basic header. */
static void assert_no_secret(const mh_test_run_result *r)
{
	const char *const secrets[] = {SVC_PASS, SVC_TOKEN, SVC_BASIC};
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		assert_null(strstr(r->out, secrets[i]));
		assert_null(strstr(r->err, secrets[i]));
	}
}

static void expect_exit(const mh_test_run_result *r, int status)
{
	if (r->status != status)
		print_error("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\n", r->status, status,
		            r->out, r->err);
	assert_int_equal(r->status, status);
	assert_no_secret(r);
}

/* Exit 1, nothing on stdout, and the error line of status ("MAPI_E_NOT_FOUND") on stderr. */
static void expect_failure(const mh_test_run_result *r, const char *status)
{
	expect_exit(r, 1);
	assert_string_equal(r->out, "");
	char line[64];
	snprintf(line, sizeof(line), "%s: ", status);
	assert_non_null(strstr(r->err, line));
}

static json_t *parse_json(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);
	if (v == NULL)
		print_error("JSON: %s\n%s\n", je.text, text);
	assert_non_null(v);
	return v;
}

static const char *json_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	assert_non_null(v);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static json_int_t json_int(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	assert_non_null(v);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* The object of a JSON array whose key is value, or NULL. */
static const json_t *find(const json_t *arr, const char *key, const char *value)
{
	size_t i;
	const json_t *o;
	json_array_foreach(arr, i, o)
	{
		const json_t *v = json_object_get(o, key);
		if (json_is_string(v) && strcmp(json_string_value(v), value) == 0)
			return o;
	}
	return NULL;
}

/* The line of text that starts with prefix after leading spaces, or NULL. */
static const char *line_with(const char *text, const char *content)
{
	for (const char *p = text; p != NULL && *p != '\0';) {
		const char *q = p;
		while (*q == ' ')
			q++;
		size_t n = strlen(content);
		if (strncmp(q, content, n) == 0)
			return p;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* A folder tree line "  <count>  <indent><name>" of `folders`' text output. */
static void assert_tree_line(const char *text, const char *count, unsigned level, const char *name)
{
	char want[256];
	snprintf(want, sizeof(want), "%s  %*s%s\n", count, (int)(2 * level), "", name);
	const char *p = text;
	bool found = false;
	while ((p = strstr(p, want)) != NULL) {
		/* Preceded by the start of a line and right-alignment spaces only. */
		const char *q = p;
		while (q > text && q[-1] == ' ')
			q--;
		if (q == text || q[-1] == '\n') {
			found = true;
			break;
		}
		p++;
	}
	if (!found)
		print_error("no line '%s' in:\n%s\n", want, text);
	assert_true(found);
}

/* ---- stores --------------------------------------------------------------------------------- */

static void test_cli_session__stores_text(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = TOOL(f, "stores", "--timeout", "30");
	expect_exit(&r, 0);
	const char *primary = strstr(r.out, "kind:         primary\n");
	assert_non_null(primary);
	assert_non_null(strstr(primary, "smtp_address: " SVC "\n"));
	const char *bob = strstr(r.out, "smtp_address: " BOB "\n");
	assert_non_null(bob);
	assert_non_null(strstr(r.out, "mailbox_dn:   " BOB_DN "\n"));
	/* Every block has a v3 store EntryID: the wrapped-store provider UID opens it. */
	assert_non_null(strstr(r.out, "entryid:      0000000038a1bb1005e5101aa1bb08002b2a56c2"));
	mh_test_run_result_free(&r);
}

static void test_cli_session__stores_json(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = TOOL(f, "stores", "--json");
	expect_exit(&r, 0);
	json_t *arr = parse_json(r.out);
	assert_true(json_is_array(arr));
	assert_true(json_array_size(arr) >= 3);
	const json_t *self = find(arr, "smtp_address", SVC);
	assert_non_null(self);
	assert_string_equal(json_str(self, "kind"), "primary");
	assert_string_equal(json_str(self, "display_name"), "Scan Service");
	const json_t *bob = find(arr, "smtp_address", BOB);
	assert_non_null(bob);
	assert_string_equal(json_str(bob, "kind"), "delegate");
	assert_string_equal(json_str(bob, "mailbox_dn"), BOB_DN);
	assert_non_null(find(arr, "smtp_address", "helpdesk@contoso.test"));
	/* carol gave svc nothing: she is not listed. */
	assert_null(find(arr, "smtp_address", "carol@contoso.test"));

	/* The EntryID decodes as a v3 store EntryID of bob's. */
	mh_test_run_result p = run_env(NULL, (const char *const[]){"entryid", "parse", "--json",
	                                                           json_str(bob, "entryid"), NULL});
	expect_exit(&p, 0);
	json_t *eid = parse_json(p.out);
	assert_non_null(strstr(p.out, "\"smtp_address\": \"" BOB "\""));
	assert_non_null(strstr(p.out, "\"version\": 3"));
	json_decref(eid);
	mh_test_run_result_free(&p);
	json_decref(arr);
	mh_test_run_result_free(&r);
}

/* bob's own list has his archive; a bare --archive opens it. */
static void test_cli_session__stores_own_archive(void **state)
{
	fixture *f = *state;
	const char *const env[] = {"MAPIHTTP_PASSWORD=Bob-Pass-1", NULL};
	mh_test_run_result r =
	    run_env(env, (const char *const[]){"stores", "--json", "--user", BOB,
	                                       "--autodiscover-url", f->ad_url, NULL});
	expect_exit(&r, 0);
	json_t *arr = parse_json(r.out);
	const json_t *arch = find(arr, "kind", "archive");
	assert_non_null(arch);
	assert_string_equal(json_str(arch, "display_name"), "Online Archive - Bob Baker");
	assert_string_equal(json_str(arch, "owner_smtp"), BOB);
	assert_non_null(strstr(json_str(arch, "mailbox_dn"), BOB_DN "/guid="));
	json_decref(arr);
	mh_test_run_result_free(&r);

	r = run_env(env, (const char *const[]){"folders", "--archive", "--user", BOB,
	                                       "--autodiscover-url", f->ad_url, NULL});
	expect_exit(&r, 0);
	assert_non_null(strstr(r.out, "Online Archive - Bob Baker"));
	assert_tree_line(r.out, "2", 0, "2019");
	assert_null(strstr(r.err, "Bob-Pass-1"));
	mh_test_run_result_free(&r);
}

/* ---- folders -------------------------------------------------------------------------------- */

static void test_cli_session__folders_own(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = TOOL(f, "folders");
	expect_exit(&r, 0);
	assert_non_null(strstr(r.out, "Scan Service <" SVC "> (primary): "));
	assert_tree_line(r.out, "1", 0, "Inbox");
	assert_tree_line(r.out, "1", 0, "Sent Items");
	assert_tree_line(r.out, "0", 0, "Deleted Items");
	mh_test_run_result_free(&r);
}

/* bob's tree as JSON, through whatever options select it. */
static void assert_bob_json(const char *out)
{
	json_t *arr = parse_json(out);
	assert_true(json_is_array(arr));
	const json_t *inbox = find(arr, "path", "Inbox");
	assert_non_null(inbox);
	assert_string_equal(json_str(inbox, "display_name"), "Inbox");
	assert_int_equal(json_int(inbox, "content_count"), 4);
	assert_int_equal(json_int(inbox, "child_count"), 1);
	const char *fid = json_str(inbox, "folder_id");
	assert_int_equal(strlen(fid), 18);
	assert_memory_equal(fid, "0x", 2);
	assert_int_equal(strspn(fid + 2, "0123456789abcdef"), 16);
	const json_t *projects = find(arr, "path", "Inbox/Projects");
	assert_non_null(projects);
	assert_string_equal(json_str(projects, "display_name"), "Projects");
	assert_int_equal(json_int(projects, "content_count"), 2);
	assert_int_equal(json_int(projects, "child_count"), 0);
	assert_string_not_equal(json_str(projects, "folder_id"), fid);
	const json_t *sent = find(arr, "path", "Sent Items");
	assert_non_null(sent);
	assert_int_equal(json_int(sent, "content_count"), 2);
	json_decref(arr);
}

static void test_cli_session__folders_mailbox(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = TOOL(f, "folders", "--mailbox", BOB);
	expect_exit(&r, 0);
	assert_non_null(strstr(r.out, "Bob Baker <" BOB ">"));
	assert_tree_line(r.out, "4", 0, "Inbox");
	assert_tree_line(r.out, "2", 1, "Projects");
	assert_tree_line(r.out, "2", 0, "Sent Items");
	mh_test_run_result_free(&r);

	r = TOOL(f, "folders", "--json", "--mailbox", BOB);
	expect_exit(&r, 0);
	assert_bob_json(r.out);
	mh_test_run_result_free(&r);
}

static void test_cli_session__folders_archive(void **state)
{
	fixture *f = *state;
	/* The three spellings of bob's archive. */
	mh_test_run_result runs[3] = {
	    TOOL(f, "folders", "--archive", BOB),
	    TOOL(f, "folders", "--archive=" BOB),
	    TOOL(f, "folders", "--mailbox", BOB, "--archive"),
	};
	for (size_t i = 0; i < 3; i++) {
		mh_test_run_result *r = &runs[i];
		expect_exit(r, 0);
		assert_non_null(strstr(r->out, "Online Archive - Bob Baker"));
		assert_non_null(strstr(r->out, "(archive): "));
		assert_tree_line(r->out, "3", 0, "Inbox");
		assert_tree_line(r->out, "2", 0, "2019");
		assert_null(strstr(r->out, "Projects"));
		mh_test_run_result_free(r);
	}
	/* svc has no archive of its own. */
	mh_test_run_result r = TOOL(f, "folders", "--archive");
	expect_failure(&r, "MAPI_E_NOT_FOUND");
	mh_test_run_result_free(&r);
}

/* bob's v3 EntryID as `stores --json` gives it; malloc()ed. */
static char *bob_v3(const fixture *f)
{
	mh_test_run_result r = TOOL(f, "stores", "--json");
	expect_exit(&r, 0);
	json_t *arr = parse_json(r.out);
	const json_t *bob = find(arr, "smtp_address", BOB);
	assert_non_null(bob);
	char *hex = strdup(json_str(bob, "entryid"));
	assert_non_null(hex);
	json_decref(arr);
	mh_test_run_result_free(&r);
	return hex;
}

/* bob's v1 EntryID as `entryid create --v1` makes it; malloc()ed. */
static char *bob_v1(void)
{
	mh_test_run_result r =
	    run_env(NULL, (const char *const[]){"entryid", "create", "--v1", "--mailbox-dn", BOB_DN,
	                                        "--mdb-dn", BOB_MDB, NULL});
	expect_exit(&r, 0);
	size_t n = strcspn(r.out, "\n");
	assert_true(n > 100);
	char *hex = strndup(r.out, n);
	assert_non_null(hex);
	mh_test_run_result_free(&r);
	return hex;
}

/* `folders --json --entryid HEX [--upgrade-v1]` lists bob's folders; frees hex. */
static void expect_bob_by_entryid(const fixture *f, char *hex, bool upgrade_v1)
{
	mh_test_run_result r = upgrade_v1
	                           ? TOOL(f, "folders", "--json", "--entryid", hex, "--upgrade-v1")
	                           : TOOL(f, "folders", "--json", "--entryid", hex);
	expect_exit(&r, 0);
	assert_bob_json(r.out);
	mh_test_run_result_free(&r);
	free(hex);
}

static void test_cli_session__folders_entryid_v3(void **state)
{
	fixture *f = *state;
	expect_bob_by_entryid(f, bob_v3(f), false);
}

static void test_cli_session__folders_entryid_v1(void **state)
{
	fixture *f = *state;
	char *hex = bob_v1();
	mh_test_run_result r = TOOL(f, "folders", "--entryid", hex);
	expect_exit(&r, 1);
	assert_string_equal(r.out, "");
	/* One line, the last: the status, why, and both ways to fix it. */
	const char *line = strstr(r.err, "MAPI_E_CALL_FAILED: ");
	assert_non_null(line);
	assert_int_equal(strcspn(line, "\n") + 1, strlen(line));
	assert_non_null(strstr(line, "SMTP address"));
	assert_non_null(strstr(line, "CreateStoreEntryID2"));
	assert_non_null(strstr(line, "--upgrade-v1"));
	mh_test_run_result_free(&r);
	free(hex);
}

static void test_cli_session__folders_upgrade_v1(void **state)
{
	expect_bob_by_entryid(*state, bob_v1(), true);
}

static void test_cli_session__folders_no_access(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = TOOL(f, "folders", "--mailbox", "carol@contoso.test");
	expect_failure(&r, "MAPI_E_NO_ACCESS");
	/* The server's own code is named. */
	assert_non_null(strstr(r.err, "0x80070005"));
	mh_test_run_result_free(&r);
}

/* ---- messages ------------------------------------------------------------------------------- */

static void test_cli_session__messages_limit(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = TOOL(f, "messages", "--mailbox", BOB, "--limit", "2", "inbox");
	expect_exit(&r, 0);
	/* A heading and the two newest of bob's four, newest first. */
	const char *first = line_with(r.out, "2024-03-10T09:15:00Z");
	const char *second = line_with(r.out, "2024-03-09T02:00:00Z");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(first < second);
	assert_non_null(strstr(first, "Printer on floor 3\n"));
	assert_non_null(strstr(second, "Your scan report\n"));
	assert_null(strstr(r.out, "Quarterly report draft"));
	size_t lines = 0;
	for (const char *p = r.out; *p != '\0'; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 3);
	mh_test_run_result_free(&r);
}

static void test_cli_session__messages_json(void **state)
{
	fixture *f = *state;
	mh_test_run_result r = TOOL(f, "messages", "--json", "--mailbox", BOB, "Inbox/Projects");
	expect_exit(&r, 0);
	json_t *arr = parse_json(r.out);
	assert_int_equal(json_array_size(arr), 2);
	const json_t *m0 = json_array_get(arr, 0), *m1 = json_array_get(arr, 1);
	assert_string_equal(json_str(m0, "subject"), "Project Falcon budget");
	assert_string_equal(json_str(m0, "received"), "2024-02-20T14:30:00Z");
	assert_string_equal(json_str(m0, "from"), "Carol Chen");
	assert_true(json_int(m0, "size") > 0);
	assert_string_equal(json_str(m1, "subject"), "Project Falcon kickoff");
	assert_string_equal(json_str(m1, "received"), "2024-02-12T10:00:00Z");
	json_decref(arr);
	mh_test_run_result_free(&r);

	/* The archive's folder, by path, with --limit. */
	r = TOOL(f, "messages", "--json", "--archive", BOB, "--limit", "1", "2019");
	expect_exit(&r, 0);
	arr = parse_json(r.out);
	assert_int_equal(json_array_size(arr), 1);
	json_decref(arr);
	mh_test_run_result_free(&r);

	/* No such folder. */
	r = TOOL(f, "messages", "--mailbox", BOB, "Inbox/Nothing");
	expect_exit(&r, 1);
	assert_non_null(strstr(r.err, "MAPI_E_NOT_FOUND: "));
	mh_test_run_result_free(&r);
}

/* alice is Reviewer on bob's Inbox only: a delegate logon reads it and nothing else. */
static void test_cli_session__messages_delegate(void **state)
{
	fixture *f = *state;
	const char *const env[] = {"MAPIHTTP_PASSWORD=Alice-Pass-1", NULL};
	mh_test_run_result r =
	    run_env(env, (const char *const[]){"messages", "--user", "alice@contoso.test",
	                                       "--autodiscover-url", f->ad_url, "--mailbox", BOB,
	                                       "--json", "inbox", NULL});
	expect_exit(&r, 0);
	json_t *arr = parse_json(r.out);
	assert_int_equal(json_array_size(arr), 4);
	assert_string_equal(json_str(json_array_get(arr, 0), "subject"), "Printer on floor 3");
	assert_string_equal(json_str(json_array_get(arr, 3), "subject"), "RE: Lunch on Friday?");
	json_decref(arr);
	mh_test_run_result_free(&r);

	r = run_env(env, (const char *const[]){"messages", "--user", "alice@contoso.test",
	                                       "--autodiscover-url", f->ad_url, "--mailbox", BOB,
	                                       "Inbox/Projects", NULL});
	expect_failure(&r, "MAPI_E_NO_ACCESS");
	assert_null(strstr(r.err, "Alice-Pass-1"));
	mh_test_run_result_free(&r);
}

/* A subject longer than the 255 characters a table gives is read whole from the message. */
static void test_cli_session__messages_long_subject(void **state)
{
	fixture *f = *state;
	char subject[301];
	for (size_t i = 0; i < 300; i++)
		subject[i] = (char)('a' + i % 26);
	subject[300] = '\0';
	char org_path[300];
	snprintf(org_path, sizeof(org_path), "%s/org.json", f->dir);
	FILE *fp = fopen(org_path, "w");
	assert_non_null(fp);
	fprintf(fp,
	        "{\"version\": 1, \"domain\": \"contoso.test\", \"organisation\": \"Contoso\",\n"
	        " \"users\": [{\"alias\": \"dave\", \"display_name\": \"Dave Dale\",\n"
	        "   \"password\": \"Dave-Pass-1\", \"messages\": [\n"
	        "   {\"folder\": \"Inbox\", \"subject\": \"%s\", \"from\": \"dave@contoso.test\",\n"
	        "    \"to\": [\"dave@contoso.test\"], \"received\": \"2024-05-01T12:00:00Z\",\n"
	        "    \"body\": \"long\"}]}]}\n",
	        subject);
	assert_int_equal(fclose(fp), 0);
	mh_test_server srv;
	memset(&srv, 0, sizeof(srv));
	assert_int_equal(mh_test_server_start(&srv, MH_SERVER_PATH,
	                                      (const char *const[]){"--org", org_path, NULL}),
	                 0);
	char ad[600];
	snprintf(ad, sizeof(ad), "%s/autodiscover/autodiscover.xml", srv.url);
	const char *const env[] = {"MAPIHTTP_PASSWORD=Dave-Pass-1", NULL};
	mh_test_run_result r =
	    run_env(env, (const char *const[]){"messages", "--user", "dave@contoso.test",
	                                       "--autodiscover-url", ad, "--json", "inbox", NULL});
	expect_exit(&r, 0);
	json_t *arr = parse_json(r.out);
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(json_str(json_array_get(arr, 0), "subject"), subject);
	json_decref(arr);
	assert_null(strstr(r.err, "Dave-Pass-1"));
	mh_test_run_result_free(&r);

	r = run_env(env, (const char *const[]){"messages", "--user", "dave@contoso.test",
	                                       "--autodiscover-url", ad, "inbox", NULL});
	expect_exit(&r, 0);
	char line_end[310];
	snprintf(line_end, sizeof(line_end), "  %s\n", subject);
	assert_non_null(strstr(r.out, line_end));
	mh_test_run_result_free(&r);
	mh_test_server_stop(&srv, SIGTERM);
	mh_test_server_cleanup(&srv);
}

/* ---- usage, credentials, help ------------------------------------------------------------ */

static void expect_usage(const mh_test_run_result *r, const char *cmd, const char *what)
{
	expect_exit(r, 2);
	assert_string_equal(r->out, "");
	char want[128];
	snprintf(want, sizeof(want), "mapihttp %s: ", cmd);
	assert_non_null(strstr(r->err, want));
	snprintf(want, sizeof(want), "Try 'mapihttp %s --help'.", cmd);
	assert_non_null(strstr(r->err, want));
	if (what != NULL && strstr(r->err, what) == NULL)
		print_error("'%s' not in: %s\n", what, r->err);
	assert_non_null(strstr(r->err, what != NULL ? what : ""));
}

static void test_cli_session__usage(void **state)
{
	fixture *f = *state;
	mh_test_run_result r;
	r = run_env(svc_env,
	            (const char *const[]){"stores", "--autodiscover-url", f->ad_url, NULL});
	expect_usage(&r, "stores", "--user");
	mh_test_run_result_free(&r);
	r = TOOL(f, "stores", "extra");
	expect_usage(&r, "stores", "extra");
	mh_test_run_result_free(&r);
	r = TOOL(f, "folders", "Inbox");
	expect_usage(&r, "folders", "Inbox");
	mh_test_run_result_free(&r);
	r = TOOL(f, "folders", "--upgrade-v1");
	expect_usage(&r, "folders", "--entryid");
	mh_test_run_result_free(&r);
	r = TOOL(f, "folders", "--entryid", "0000000038A1BB10", "--mailbox", BOB);
	expect_usage(&r, "folders", "--mailbox");
	mh_test_run_result_free(&r);
	r = TOOL(f, "folders", "--entryid", "00zz");
	expect_usage(&r, "folders", "--entryid");
	mh_test_run_result_free(&r);
	r = TOOL(f, "folders", "--mailbox", "");
	expect_usage(&r, "folders", "--mailbox");
	mh_test_run_result_free(&r);
	r = TOOL(f, "messages", "--limit", "5");
	expect_usage(&r, "messages", "PATH");
	mh_test_run_result_free(&r);
	r = TOOL(f, "messages", "--limit", "0", "inbox");
	expect_usage(&r, "messages", "--limit");
	mh_test_run_result_free(&r);
	r = TOOL(f, "messages", "--limit", "3x", "inbox");
	expect_usage(&r, "messages", "--limit");
	mh_test_run_result_free(&r);
	r = TOOL(f, "messages", "inbox", "sentitems");
	expect_usage(&r, "messages", "sentitems");
	mh_test_run_result_free(&r);
	/* No option takes the password, and the value is not echoed. */
	r = TOOL(f, "stores", "--password=" SVC_PASS);
	expect_usage(&r, "stores", "--password-file");
	mh_test_run_result_free(&r);
	r = run_env(NULL,
	            (const char *const[]){"demo", "--smtp", "x@contoso.test", "--http", NULL});
	expect_usage(&r, "demo", "--http");
	mh_test_run_result_free(&r);
	r = run_env(NULL, (const char *const[]){"demo", "now", NULL});
	expect_usage(&r, "demo", "now");
	mh_test_run_result_free(&r);
}

static void test_cli_session__wrong_password(void **state)
{
	fixture *f = *state;
	const char *const env[] = {"MAPIHTTP_PASSWORD=Not-The-Pass-9", NULL};
	const char *const cmds[] = {"stores", "folders"};
	for (size_t i = 0; i < 2; i++) {
		mh_test_run_result r =
		    run_env(env, (const char *const[]){cmds[i], "-v", "--user", SVC,
		                                       "--autodiscover-url", f->ad_url, NULL});
		expect_failure(&r, "MAPI_E_LOGON_FAILED");
		assert_null(strstr(r.err, "Not-The-Pass-9"));
		mh_test_run_result_free(&r);
	}
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(mh_test_write_all(fd, text, strlen(text)), 0);
	assert_int_equal(close(fd), 0);
}

static void test_cli_session__verbose_no_secret(void **state)
{
	fixture *f = *state;
	/* The password from the environment, -v. */
	mh_test_run_result r = TOOL(f, "folders", "-v", "--mailbox", BOB);
	expect_exit(&r, 0);
	assert_non_null(strstr(r.err, "mapihttp: POST "));
	assert_non_null(strstr(r.err, "/mapi/emsmdb/"));
	assert_non_null(strstr(r.err, ": HTTP 200"));
	assert_non_null(strstr(r.err, "mapihttp: logged on to " SVC));
	mh_test_run_result_free(&r);

	/* From a file. */
	char pw[300], tok[300];
	snprintf(pw, sizeof(pw), "%s/password", f->dir);
	snprintf(tok, sizeof(tok), "%s/token", f->dir);
	write_file(pw, SVC_PASS "\n");
	write_file(tok, SVC_TOKEN "\n");
	r = run_env(NULL,
	            (const char *const[]){"messages", "-v", "--user", SVC, "--autodiscover-url",
	                                  f->ad_url, "--password-file", pw, "--mailbox", BOB,
	                                  "--limit", "1", "inbox", NULL});
	expect_exit(&r, 0);
	assert_non_null(strstr(r.err, "mapihttp: POST "));
	assert_non_null(strstr(r.out, "Printer on floor 3"));
	mh_test_run_result_free(&r);

	/* A Bearer token from a file. */
	r = run_env(NULL, (const char *const[]){"stores", "-v", "--user", SVC, "--autodiscover-url",
	                                        f->ad_url, "--token-file", tok, "--json", NULL});
	expect_exit(&r, 0);
	assert_non_null(strstr(r.out, "\"smtp_address\": \"" BOB "\""));
	mh_test_run_result_free(&r);

	/* A token from the environment, and a failure. */
	const char *const env[] = {"MAPIHTTP_TOKEN=" SVC_TOKEN, NULL};
	r = run_env(env, (const char *const[]){"folders", "-v", "--user", SVC, "--autodiscover-url",
	                                       f->ad_url, "--mailbox", "carol@contoso.test", NULL});
	expect_exit(&r, 1);
	assert_non_null(strstr(r.err, "MAPI_E_NO_ACCESS"));
	mh_test_run_result_free(&r);
}

/* Over HTTPS: the server's certificate verifies with --cacert, and without it fails. */
static void test_cli_session__https_cacert(void **state)
{
	(void)state;
	mh_test_server srv;
	memset(&srv, 0, sizeof(srv));
	int rc = mh_test_server_start_https(&srv, MH_SERVER_PATH, NULL);
	if (rc == 1)
		skip(); /* no openssl(1) to make the certificate */
	assert_int_equal(rc, 0);
	char ad[600];
	snprintf(ad, sizeof(ad), "%s/autodiscover/autodiscover.xml", srv.url);
	mh_test_run_result r = run_env(
	    svc_env, (const char *const[]){"folders", "--user", SVC, "--autodiscover-url", ad,
	                                   "--cacert", srv.cert, "--mailbox", BOB, NULL});
	expect_exit(&r, 0);
	/* No warning: nothing travels in clear. */
	assert_string_equal(r.err, "");
	assert_tree_line(r.out, "2", 1, "Projects");
	mh_test_run_result_free(&r);

	r = run_env(svc_env,
	            (const char *const[]){"stores", "--user", SVC, "--autodiscover-url", ad, NULL});
	expect_failure(&r, "MAPI_E_NETWORK_ERROR");
	mh_test_run_result_free(&r);
	mh_test_server_stop(&srv, SIGTERM);
	mh_test_server_cleanup(&srv);
}

/* The man page of a command, read from the source tree next to this file. */
static char *man_page(const char *name)
{
	const char *me = __FILE__;
	const char *tail = strstr(me, "tests/integration/test_cli_session.c");
	assert_non_null(tail);
	char path[1024];
	snprintf(path, sizeof(path), "%.*sdocs/man/%s", (int)(tail - me), me, name);
	char *text = mh_test_slurp_file(path);
	if (text == NULL)
		print_error("cannot read %s\n", path);
	assert_non_null(text);
	return text;
}

/*
 * Every long option the help of cmd names is in its man page (written \-\-name there), and
 * every one the synopsis of the man page names is in the help.
 */
static void test_cli_session__help_matches_man(void **state)
{
	(void)state;
	const char *const cmds[] = {"stores", "folders", "messages", "demo"};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		mh_test_run_result r =
		    run_env(NULL, (const char *const[]){cmds[i], "--help", NULL});
		expect_exit(&r, 0);
		char usage[64];
		snprintf(usage, sizeof(usage), "Usage: mapihttp %s ", cmds[i]);
		assert_non_null(strstr(r.out, usage));
		char page_name[64];
		snprintf(page_name, sizeof(page_name), "mapihttp-%s.1", cmds[i]);
		char *page = man_page(page_name);
		for (const char *p = r.out; (p = strstr(p, "--")) != NULL;) {
			p += 2;
			size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
			if (n == 0)
				continue;
			/* The page writes every hyphen of an option as \-. */
			char esc[160] = "\\-\\-";
			size_t k = strlen(esc);
			for (size_t j = 0; j < n && k + 3 < sizeof(esc); j++) {
				if (p[j] == '-')
					esc[k++] = '\\';
				esc[k++] = p[j];
			}
			esc[k] = '\0';
			if (strstr(page, esc) == NULL)
				print_error("%s --help names --%.*s; %s does not (%s)\n", cmds[i],
				            (int)n, p, page_name, esc);
			assert_non_null(strstr(page, esc));
		}
		free(page);
		mh_test_run_result_free(&r);
	}
	/* The tool's own list and page name every command. */
	mh_test_run_result r = run_env(NULL, (const char *const[]){"--help", NULL});
	expect_exit(&r, 0);
	char *page = man_page("mapihttp.1");
	const char *const all[] = {"entryid", "demo",    "discover", "resolve",
	                           "stores",  "folders", "messages", "scan"};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "\n  %s ", all[i]);
		assert_non_null(strstr(r.out, want));
		snprintf(want, sizeof(want), ".BR mapihttp\\-%s (1)", all[i]);
		if (strstr(page, want) == NULL)
			print_error("mapihttp.1 lacks '%s'\n", want);
		assert_non_null(strstr(page, want));
	}
	free(page);
	mh_test_run_result_free(&r);
}

/* ---- demo ------------------------------------------------------------------------------------ */

/* Is dir empty (the demo removed what it made)? */
static bool dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	bool empty = true;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = false;
	closedir(d);
	return empty;
}

/* Is there a line whose first three words are these? */
static bool scan_row(const char *text, const char *mailbox, const char *kind, const char *status)
{
	char line[512], a[128], b[32], c[64];
	for (const char *p = text; p != NULL && *p != '\0';) {
		size_t n = strcspn(p, "\n");
		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1),
		         p);
		if (sscanf(line, "%127s %31s %63s", a, b, c) == 3 && strcmp(a, mailbox) == 0 &&
		    strcmp(b, kind) == 0 && strcmp(c, status) == 0)
			return true;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	print_error("no scan row %s %s %s in:\n%s\n", mailbox, kind, status, text);
	return false;
}

static void run_demo(const fixture *f, const char *flag, const char *scheme)
{
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s/demo-tmp", f->dir);
	assert_int_equal(mkdir(tmp, 0700), 0);
	char env_tmp[320];
	snprintf(env_tmp, sizeof(env_tmp), "TMPDIR=%s", tmp);
	const char *const env[] = {env_tmp, NULL};
	mh_test_run_result r = run_env(env, (const char *const[]){"demo", flag, NULL});
	expect_exit(&r, 0);
	const char *const steps[] = {
	    "1. Autodiscover and logon as " SVC,
	    "/cn=Recipients/cn=svc\n",
	    "/mapi/emsmdb/?MailboxId=",
	    "delegate  Bob Baker <" BOB ">",
	    "2. Bob's mailbox from a version 1 store EntryID",
	    "OpenMsgStore: MAPI_E_CALL_FAILED (0x80004005)",
	    "3. Bob's mailbox and archive from version 3 store EntryIDs",
	    "OpenMsgStore: S_OK",
	    "Online Archive - Bob Baker",
	    "4. Carol's mailbox",
	    "MAPI_E_NO_ACCESS (0x80070005)",
	    "5. Every mailbox of the organisation",
	    "Everything went as expected",
	};
	const char *p = r.out;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const char *q = strstr(p, steps[i]);
		if (q == NULL)
			print_error("'%s' missing (or out of order) in:\n%s\n", steps[i], r.out);
		assert_non_null(q);
		p = q;
	}
	char server[64];
	snprintf(server, sizeof(server), "server            %s", scheme);
	assert_non_null(strstr(r.out, server));
	/* The scan table: bob's mailbox and archive read, carol's refused. */
	assert_true(scan_row(r.out, BOB, "primary", "S_OK"));
	assert_true(scan_row(r.out, BOB, "archive", "S_OK"));
	assert_true(scan_row(r.out, "carol@contoso.test", "primary", "MAPI_E_NO_ACCESS"));
	assert_true(scan_row(r.out, "helpdesk@contoso.test", "primary", "S_OK"));
	assert_null(strstr(r.out, "UNEXPECTED"));
	assert_true(dir_empty(tmp));
	mh_test_run_result_free(&r);
	assert_int_equal(rmdir(tmp), 0);
}

static void test_cli_session__demo_https(void **state)
{
	fixture *f = *state;
	run_demo(f, NULL, "https://127.0.0.1:");
}

static void test_cli_session__demo_http(void **state)
{
	fixture *f = *state;
	run_demo(f, "--http", "http://127.0.0.1:");
}

/* No openssl(1) on the PATH: a warning, plain HTTP, and the story all the same. */
static void test_cli_session__demo_no_openssl(void **state)
{
	fixture *f = *state;
	char empty[300], path[320];
	snprintf(empty, sizeof(empty), "%s/no-programs", f->dir);
	assert_int_equal(mkdir(empty, 0700), 0);
	snprintf(path, sizeof(path), "PATH=%s", empty);
	const char *const env[] = {path, NULL};
	mh_test_run_result r = run_env(env, (const char *const[]){"demo", NULL});
	expect_exit(&r, 0);
	assert_non_null(strstr(r.err, "warning: openssl(1) is not installed"));
	assert_non_null(strstr(r.out, "server            http://127.0.0.1:"));
	assert_non_null(strstr(r.out, "Everything went as expected"));
	mh_test_run_result_free(&r);
	assert_int_equal(rmdir(empty), 0);
}

static void test_cli_session__demo_offline(void **state)
{
	(void)state;
	mh_test_run_result r = run_env(NULL, (const char *const[]){"demo", "--offline", NULL});
	expect_exit(&r, 0);
	assert_non_null(strstr(r.out, "CreateStoreEntryID2"));
	assert_non_null(strstr(r.out, "cannot be opened"));
	mh_test_run_result_free(&r);
	/* A mailbox of one's own implies --offline. */
	r = run_env(NULL, (const char *const[]){"demo", "--smtp", "dora@fabrikam.example", NULL});
	expect_exit(&r, 0);
	assert_non_null(strstr(r.out, "dora@fabrikam.example"));
	assert_null(strstr(r.out, "Autodiscover and logon"));
	mh_test_run_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cli_session__stores_text),
	    cmocka_unit_test(test_cli_session__stores_json),
	    cmocka_unit_test(test_cli_session__stores_own_archive),
	    cmocka_unit_test(test_cli_session__folders_own),
	    cmocka_unit_test(test_cli_session__folders_mailbox),
	    cmocka_unit_test(test_cli_session__folders_archive),
	    cmocka_unit_test(test_cli_session__folders_entryid_v3),
	    cmocka_unit_test(test_cli_session__folders_entryid_v1),
	    cmocka_unit_test(test_cli_session__folders_upgrade_v1),
	    cmocka_unit_test(test_cli_session__folders_no_access),
	    cmocka_unit_test(test_cli_session__messages_limit),
	    cmocka_unit_test(test_cli_session__messages_json),
	    cmocka_unit_test(test_cli_session__messages_delegate),
	    cmocka_unit_test(test_cli_session__messages_long_subject),
	    cmocka_unit_test(test_cli_session__usage),
	    cmocka_unit_test(test_cli_session__wrong_password),
	    cmocka_unit_test(test_cli_session__verbose_no_secret),
	    cmocka_unit_test(test_cli_session__https_cacert),
	    cmocka_unit_test(test_cli_session__help_matches_man),
	    cmocka_unit_test(test_cli_session__demo_https),
	    cmocka_unit_test(test_cli_session__demo_http),
	    cmocka_unit_test(test_cli_session__demo_no_openssl),
	    cmocka_unit_test(test_cli_session__demo_offline),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
