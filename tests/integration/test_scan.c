/*
 * The scanner (mh_scan and `mapihttp scan`) against the built mapihttpd: counts checked against
 * the server's own store, failures that do not stop the scan, concurrency, checkpoint, shards,
 * every --fault kind, HTTPS, and the command's NDJSON and exit codes.
 */
#define _DEFAULT_SOURCE /* strdup */

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "mapihttp/scan.h"
#include "mapihttp/session.h"
#include "mapihttpd_proc.h"
#include "server/store.h"

#ifndef MH_SERVER_PATH
#error "MH_SERVER_PATH must name the mapihttpd binary"
#endif

#define SAMPLE_DOMAIN "@contoso.test"
#define GEN_DOMAIN    "@example.test"
#define SVC_PASS      "Svc-Pass-1"
#define GEN_USERS     40u
#define GEN_MESSAGES  3u

/* ---- what the server holds ----------------------------------------------------------- */

typedef struct expect {
	bool exists;
	uint32_t folders;
	uint64_t items, bytes;
} expect;

/* The org mapihttpd serves, loaded into a store of our own (mapihttpd --generate uses seed 1). */
static mh_srv_store *org_store(bool generate, unsigned users, unsigned messages)
{
	mh_srv_store *st = NULL;
	assert_int_equal(mh_srv_store_open(&st, NULL), S_OK);
	if (generate)
		assert_int_equal(mh_srv_store_generate(st, users, messages, 1), S_OK);
	else
		assert_int_equal(mh_srv_store_load_sample(st), S_OK);
	return st;
}

/* Folders under the IPM subtree, their content counts, and the mailbox's bytes. */
static expect expected(mh_srv_store *st, const char *address, bool archive)
{
	expect e;
	memset(&e, 0, sizeof(e));
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_srv_mailbox mb;
	if (mh_srv_store_mailbox_by_address(st, &a, address, &mb) != S_OK) {
		mh_arena_free(&a);
		return e;
	}
	if (archive &&
	    mh_srv_store_mailbox_of(st, &a, mb.owner.id, MH_SRV_MAILBOX_ARCHIVE, &mb) != S_OK) {
		mh_arena_free(&a);
		return e;
	}
	e.exists = true;
	uint64_t fids[MH_SRV_SPECIAL_FOLDERS];
	assert_int_equal(mh_srv_store_special_fids(st, mb.id, fids), S_OK);
	mh_srv_folder *f;
	size_t n;
	assert_int_equal(mh_srv_store_folders(st, &a, mb.id, &f, &n), S_OK);
	/* Parents come before children. */
	bool *under = calloc(n + 1, sizeof(*under));
	assert_non_null(under);
	for (size_t i = 0; i < n; i++) {
		bool in = f[i].parent_fid == fids[MH_SRV_FOLDER_IPM_SUBTREE];
		for (size_t k = 0; k < i && !in; k++)
			in = under[k] && f[k].fid == f[i].parent_fid;
		under[i] = in;
		if (in) {
			e.folders++;
			e.items += f[i].content_count;
		}
	}
	free(under);
	uint32_t messages;
	assert_int_equal(mh_srv_store_mailbox_totals(st, mb.id, &e.bytes, &messages), S_OK);
	mh_arena_free(&a);
	return e;
}

/* ---- results ------------------------------------------------------------------------- */

typedef struct rec {
	char *mailbox; /* lowercased */
	mh_mailbox_kind kind;
	mh_status status;
	char *message;
	uint32_t folders;
	uint64_t items, bytes;
	uint32_t requests;
} rec;

typedef struct results {
	rec *v;
	uint32_t n, cap;
	uint32_t stop_after; /* 0: never stop */
	uint32_t progress_calls;
} results;

static char *lower(const char *s)
{
	char *p = strdup(s);
	assert_non_null(p);
	for (char *q = p; *q != '\0'; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	return p;
}

static bool collect(void *ud, const mh_scan_result *r)
{
	results *rs = ud;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap == 0 ? 64 : rs->cap * 2;
		rs->v = realloc(rs->v, rs->cap * sizeof(*rs->v));
		assert_non_null(rs->v);
	}
	rec *x = &rs->v[rs->n++];
	x->mailbox = lower(r->mailbox);
	x->kind = r->kind;
	x->status = r->status;
	x->message = strdup(r->message);
	x->folders = r->folders;
	x->items = r->items;
	x->bytes = r->bytes;
	x->requests = r->requests;
	assert_non_null(x->message);
	if (r->status == S_OK)
		assert_string_equal(r->message, "");
	else
		assert_true(r->message[0] != '\0');
	return rs->stop_after == 0 || rs->n < rs->stop_after;
}

static void progress(void *ud, uint32_t done, uint32_t total)
{
	results *rs = ud;
	assert_true(done <= total);
	rs->progress_calls++;
}

static void results_free(results *rs)
{
	for (uint32_t i = 0; i < rs->n; i++) {
		free(rs->v[i].mailbox);
		free(rs->v[i].message);
	}
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

static const rec *find_rec(const results *rs, const char *mailbox, mh_mailbox_kind kind)
{
	const rec *found = NULL;
	char *key = lower(mailbox);
	for (uint32_t i = 0; i < rs->n; i++) {
		if (strcmp(rs->v[i].mailbox, key) == 0 && rs->v[i].kind == kind) {
			assert_null(found); /* never reported twice */
			found = &rs->v[i];
		}
	}
	free(key);
	return found;
}

/* Every (mailbox, kind) at most once. */
static void assert_no_duplicates(const results *rs)
{
	for (uint32_t i = 0; i < rs->n; i++)
		for (uint32_t k = i + 1; k < rs->n; k++)
			assert_false(strcmp(rs->v[i].mailbox, rs->v[k].mailbox) == 0 &&
			             rs->v[i].kind == rs->v[k].kind);
}

/* ---- fixture -------------------------------------------------------------------------- */

typedef struct fixture {
	mh_test_server srv;
	mh_session *s;
	char ad_url[600];
	char tmp[256];
	mh_srv_store *org;
	char **list; /* generated addresses */
	uint32_t n_list;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	*state = f;
	return f != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	fixture *f = *state;
	mh_session_close(f->s);
	if (f->srv.pid > 0)
		mh_test_server_stop(&f->srv, SIGTERM);
	mh_test_server_cleanup(&f->srv);
	if (f->tmp[0] != '\0')
		mh_test_remove_dir(f->tmp);
	mh_srv_store_free(f->org);
	for (uint32_t i = 0; i < f->n_list; i++)
		free(f->list[i]);
	free(f->list);
	free(f);
	return 0;
}

static void start_server(fixture *f, bool https, const char *const *extra)
{
	if (https) {
		int rc = mh_test_server_start_https(&f->srv, MH_SERVER_PATH, extra);
		if (rc == 1)
			skip();
		assert_int_equal(rc, 0);
	} else {
		assert_int_equal(mh_test_server_start(&f->srv, MH_SERVER_PATH, extra), 0);
	}
	snprintf(f->ad_url, sizeof(f->ad_url), "%s/autodiscover/autodiscover.xml", f->srv.url);
}

/* A session as svc; short backoff caps so that 503's Retry-After does not slow the tests. */
static void open_session(fixture *f, const char *domain)
{
	char user[64];
	snprintf(user, sizeof(user), "svc%s", domain);
	mh_session_options o = MH_SESSION_OPTIONS_INIT;
	o.user = user;
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.user = user;
	o.auth.secret = SVC_PASS;
	o.autodiscover_url = f->ad_url;
	o.allow_http = strncmp(f->ad_url, "http://", 7) == 0;
	o.cacert = f->srv.cert[0] != '\0' ? f->srv.cert : NULL;
	o.backoff_cap_ms = 50;
	o.keep_alive = false;
	mh_status st = mh_session_open(&f->s, &o);
	if (st != S_OK)
		print_error("mh_session_open: %s\n",
		            mh_error_last() ? mh_error_last()->message : "");
	assert_int_equal(st, S_OK);
}

/* user00001@example.test ... */
static void make_list(fixture *f, unsigned users)
{
	f->list = calloc(users, sizeof(*f->list));
	assert_non_null(f->list);
	for (unsigned i = 0; i < users; i++) {
		char a[64];
		snprintf(a, sizeof(a), "user%05u" GEN_DOMAIN, i + 1);
		f->list[i] = strdup(a);
		assert_non_null(f->list[i]);
	}
	f->n_list = users;
}

static void start_generated(fixture *f, unsigned users, unsigned messages, const char *fault)
{
	char gen[32];
	snprintf(gen, sizeof(gen), "%u,%u", users, messages);
	const char *extra[8] = {"--generate", gen, "--quiet", NULL};
	if (fault != NULL) {
		/* With its request log: the test looks for the fault in it. */
		extra[2] = "--fault";
		extra[3] = fault;
	}
	start_server(f, false, extra);
	open_session(f, GEN_DOMAIN);
	f->org = org_store(true, users, messages);
	make_list(f, users);
}

static mh_status run_scan(fixture *f, const char *const *list, uint32_t n, bool archives,
                          unsigned concurrency, results *rs, mh_scan_summary *sum)
{
	mh_scan_options o = MH_SCAN_OPTIONS_INIT;
	o.mailboxes = list;
	o.count = n;
	o.archives = archives;
	o.concurrency = concurrency;
	o.on_result = collect;
	o.on_progress = progress;
	o.ud = rs;
	return mh_scan(f->s, &o, sum);
}

/* Every listed mailbox (and archive) once, ok, with the counts of the server's store. */
static void assert_all_ok(fixture *f, const results *rs, bool archives, bool exact_requests)
{
	uint32_t want = 0;
	for (uint32_t i = 0; i < f->n_list; i++) {
		for (int k = 0; k < (archives ? 2 : 1); k++) {
			bool arch = k == 1;
			expect e = expected(f->org, f->list[i], arch);
			const rec *r = find_rec(rs, f->list[i],
			                        arch ? MH_MAILBOX_ARCHIVE : MH_MAILBOX_PRIMARY);
			if (!e.exists) {
				assert_null(r);
				continue;
			}
			want++;
			if (r == NULL)
				fail_msg("no record for %s %s", f->list[i], arch ? "archive" : "");
			if (r->status != S_OK)
				fail_msg("%s: %s", f->list[i], r->message);
			assert_int_equal(r->folders, e.folders);
			assert_int_equal(r->items, e.items);
			assert_int_equal(r->bytes, e.bytes);
			assert_true(e.folders > 0 && e.items > 0 && e.bytes > 0);
			/* Autodiscover, Connect, RopLogon, Execute, Disconnect. */
			if (exact_requests)
				assert_int_equal(r->requests, 5);
			else
				assert_true(r->requests >= 4);
		}
	}
	assert_int_equal(rs->n, want);
	assert_no_duplicates(rs);
}

/* ---- the sample organisation ------------------------------------------------------------ */

static void test_scan__sample_all_ok(void **state)
{
	fixture *f = *state;
	start_server(f, false, NULL);
	open_session(f, SAMPLE_DOMAIN);
	f->org = org_store(false, 0, 0);
	static const char *const names[] = {"bob@contoso.test", "helpdesk@contoso.test",
	                                    "svc@contoso.test", "BOB@Contoso.test"};
	f->list = calloc(3, sizeof(*f->list));
	for (int i = 0; i < 3; i++)
		f->list[i] = strdup(names[i]);
	f->n_list = 3;
	results rs = {0};
	mh_scan_summary sum;
	assert_int_equal(run_scan(f, names, 4, true, 0, &rs, &sum), S_OK);
	/* bob, his archive, helpdesk, svc: the duplicate is scanned once. */
	assert_int_equal(rs.n, 4);
	assert_all_ok(f, &rs, true, false);
	assert_non_null(find_rec(&rs, "bob@contoso.test", MH_MAILBOX_ARCHIVE));
	assert_int_equal(sum.selected, 3);
	assert_int_equal(sum.ok, 4);
	assert_int_equal(sum.failed, 0);
	assert_int_equal(sum.skipped, 0);
	assert_true(sum.requests >= 4 * 4);
	assert_int_equal(rs.progress_calls, 4);
	results_free(&rs);
}

static void test_scan__no_rights_goes_on(void **state)
{
	fixture *f = *state;
	static const char *const extra[] = {"--sample", "--rights-mode", "logon", NULL};
	start_server(f, false, extra);
	open_session(f, SAMPLE_DOMAIN);
	static const char *const names[] = {"carol@contoso.test", "bob@contoso.test",
	                                    "alice@contoso.test", "helpdesk@contoso.test"};
	results rs = {0};
	mh_scan_summary sum;
	assert_int_equal(run_scan(f, names, 4, false, 1, &rs, &sum), S_OK);
	assert_int_equal(rs.n, 4);
	const rec *carol = find_rec(&rs, "carol@contoso.test", MH_MAILBOX_PRIMARY);
	assert_non_null(carol);
	assert_int_equal(carol->status, MAPI_E_NO_ACCESS);
	assert_non_null(strstr(carol->message, "ecLoginPerm"));
	assert_int_equal(find_rec(&rs, "alice@contoso.test", MH_MAILBOX_PRIMARY)->status,
	                 MAPI_E_NO_ACCESS);
	assert_int_equal(find_rec(&rs, "bob@contoso.test", MH_MAILBOX_PRIMARY)->status, S_OK);
	assert_int_equal(find_rec(&rs, "helpdesk@contoso.test", MH_MAILBOX_PRIMARY)->status, S_OK);
	assert_int_equal(sum.ok, 2);
	assert_int_equal(sum.failed, 2);
	results_free(&rs);
}

static void test_scan__unknown_address(void **state)
{
	fixture *f = *state;
	start_server(f, false, NULL);
	open_session(f, SAMPLE_DOMAIN);
	static const char *const names[] = {"nobody@contoso.test", "bob@contoso.test",
	                                    "not-an-address"};
	results rs = {0};
	mh_scan_summary sum;
	assert_int_equal(run_scan(f, names, 3, true, 2, &rs, &sum), S_OK);
	const rec *nobody = find_rec(&rs, "nobody@contoso.test", MH_MAILBOX_PRIMARY);
	assert_non_null(nobody);
	assert_int_equal(nobody->status, MAPI_E_NOT_FOUND);
	assert_non_null(strstr(nobody->message, "nobody@contoso.test"));
	const rec *bad = find_rec(&rs, "not-an-address", MH_MAILBOX_PRIMARY);
	assert_non_null(bad);
	assert_int_equal(bad->status, MAPI_E_INVALID_PARAMETER);
	assert_null(find_rec(&rs, "nobody@contoso.test", MH_MAILBOX_ARCHIVE));
	assert_int_equal(find_rec(&rs, "bob@contoso.test", MH_MAILBOX_PRIMARY)->status, S_OK);
	assert_int_equal(find_rec(&rs, "bob@contoso.test", MH_MAILBOX_ARCHIVE)->status, S_OK);
	assert_int_equal(rs.n, 4);
	assert_int_equal(sum.failed, 2);
	results_free(&rs);
}

static void test_scan__bad_options(void **state)
{
	fixture *f = *state;
	start_server(f, false, NULL);
	open_session(f, SAMPLE_DOMAIN);
	static const char *const names[] = {"bob@contoso.test"};
	mh_scan_options o = MH_SCAN_OPTIONS_INIT;
	o.mailboxes = names;
	o.count = 1;
	o.shard_k = 3;
	o.shard_n = 3;
	mh_scan_summary sum;
	assert_int_equal(mh_scan(f->s, &o, &sum), MAPI_E_INVALID_PARAMETER);
	o.shard_k = 0;
	o.shard_n = 0;
	o.concurrency = 257;
	assert_int_equal(mh_scan(f->s, &o, &sum), MAPI_E_INVALID_PARAMETER);
	o.concurrency = 1;
	o.version = 2;
	assert_int_equal(mh_scan(f->s, &o, &sum), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_scan(NULL, &o, &sum), MAPI_E_INVALID_PARAMETER);
	o.version = 1;
	static const char *const latin1[] = {"b\xf6"
	                                     "b@contoso.test"};
	o.mailboxes = latin1;
	assert_int_equal(mh_scan(f->s, &o, &sum), MAPI_E_INVALID_PARAMETER);
	o.mailboxes = names;
	/* A checkpoint that cannot be opened stops the scan before it starts. */
	o.checkpoint = "/nonexistent-dir/scan.ckpt";
	assert_int_equal(mh_scan(f->s, &o, &sum), MAPI_E_DISK_ERROR);
	assert_non_null(strstr(mh_session_errmsg(f->s), "/nonexistent-dir/scan.ckpt"));
	o.checkpoint = NULL;
	/* Nothing to do is a scan that ran. */
	o.count = 0;
	assert_int_equal(mh_scan(f->s, &o, &sum), S_OK);
	assert_int_equal(sum.selected, 0);
}

/* ---- the generated organisation -------------------------------------------------------- */

static void test_scan__generated_all_ok(void **state)
{
	fixture *f = *state;
	start_generated(f, GEN_USERS, GEN_MESSAGES, NULL);
	results rs = {0};
	mh_scan_summary sum;
	assert_int_equal(run_scan(f, (const char *const *)f->list, f->n_list, true, 16, &rs, &sum),
	                 S_OK);
	assert_all_ok(f, &rs, true, true);
	assert_int_equal(rs.n, 2 * GEN_USERS);
	assert_int_equal(sum.ok, 2 * GEN_USERS);
	assert_int_equal(sum.requests, 2 * GEN_USERS * 5);
	results_free(&rs);
}

static int rec_cmp(const void *a, const void *b)
{
	const rec *x = a, *y = b;
	int c = strcmp(x->mailbox, y->mailbox);
	return c != 0 ? c : (int)x->kind - (int)y->kind;
}

static void test_scan__concurrency_same_records(void **state)
{
	fixture *f = *state;
	start_generated(f, GEN_USERS, GEN_MESSAGES, NULL);
	results one = {0}, many = {0};
	mh_scan_summary sum;
	assert_int_equal(run_scan(f, (const char *const *)f->list, f->n_list, true, 1, &one, &sum),
	                 S_OK);
	assert_int_equal(
	    run_scan(f, (const char *const *)f->list, f->n_list, true, 16, &many, &sum), S_OK);
	assert_int_equal(one.n, many.n);
	assert_int_equal(one.n, 2 * GEN_USERS);
	/* One at a time finishes in list order: primary, then its archive. */
	assert_string_equal(one.v[0].mailbox, "user00001" GEN_DOMAIN);
	assert_int_equal(one.v[0].kind, MH_MAILBOX_PRIMARY);
	assert_int_equal(one.v[1].kind, MH_MAILBOX_ARCHIVE);
	qsort(one.v, one.n, sizeof(rec), rec_cmp);
	qsort(many.v, many.n, sizeof(rec), rec_cmp);
	for (uint32_t i = 0; i < one.n; i++) {
		assert_string_equal(one.v[i].mailbox, many.v[i].mailbox);
		assert_int_equal(one.v[i].kind, many.v[i].kind);
		assert_int_equal(one.v[i].status, many.v[i].status);
		assert_int_equal(one.v[i].folders, many.v[i].folders);
		assert_int_equal(one.v[i].items, many.v[i].items);
		assert_int_equal(one.v[i].bytes, many.v[i].bytes);
	}
	results_free(&one);
	results_free(&many);
}

static void append_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "a");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_scan__checkpoint_resume(void **state)
{
	fixture *f = *state;
	start_generated(f, GEN_USERS, GEN_MESSAGES, NULL);
	assert_int_equal(mh_test_make_temp_dir(f->tmp, sizeof(f->tmp)), 0);
	char ckpt[400];
	snprintf(ckpt, sizeof(ckpt), "%s/scan.ckpt", f->tmp);
	mh_scan_options o = MH_SCAN_OPTIONS_INIT;
	o.mailboxes = (const char *const *)f->list;
	o.count = f->n_list;
	o.archives = true;
	o.concurrency = 8;
	o.checkpoint = ckpt;
	o.on_result = collect;
	results first = {0};
	first.stop_after = 25;
	o.ud = &first;
	mh_scan_summary sum;
	assert_int_equal(mh_scan(f->s, &o, &sum), MAPI_E_USER_CANCEL);
	assert_int_equal(first.n, 25);
	assert_non_null(strstr(mh_session_errmsg(f->s), "stopped"));
	/* A crash in the middle of a line: the torn line is ignored. */
	append_file(ckpt, "{\"mailbox\":\"user00040" GEN_DOMAIN "\",\"kind\":\"prim");

	results second = {0};
	o.ud = &second;
	assert_int_equal(mh_scan(f->s, &o, &sum), S_OK);
	assert_true(sum.skipped > 0);
	assert_int_equal(first.n + second.n, 2 * GEN_USERS);
	/* The union is everything, each once. */
	results all = {0};
	for (uint32_t i = 0; i < first.n + second.n; i++) {
		const rec *r = i < first.n ? &first.v[i] : &second.v[i - first.n];
		mh_scan_result x;
		memset(&x, 0, sizeof(x));
		x.mailbox = r->mailbox;
		x.kind = r->kind;
		x.status = r->status;
		x.message = r->message;
		x.folders = r->folders;
		x.items = r->items;
		x.bytes = r->bytes;
		x.requests = r->requests;
		collect(&all, &x);
	}
	assert_all_ok(f, &all, true, false);

	/* A third run has nothing left to do. */
	results third = {0};
	o.ud = &third;
	assert_int_equal(mh_scan(f->s, &o, &sum), S_OK);
	assert_int_equal(third.n, 0);
	assert_int_equal(sum.skipped, GEN_USERS);
	assert_int_equal(sum.selected, GEN_USERS);

	/* The file: one line per record, each a JSON object. */
	char *text = mh_test_slurp_file(ckpt);
	assert_non_null(text);
	unsigned lines = 0;
	for (char *p = text, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		json_error_t err;
		json_t *j = json_loadb(p, (size_t)(nl - p), 0, &err);
		assert_non_null(j);
		assert_non_null(json_string_value(json_object_get(j, "mailbox")));
		json_decref(j);
		lines++;
	}
	assert_int_equal(lines, 2 * GEN_USERS);
	free(text);
	results_free(&first);
	results_free(&second);
	results_free(&third);
	results_free(&all);
}

static uint32_t fnv1a_lower(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++) {
		char c = (*s >= 'A' && *s <= 'Z') ? (char)(*s - 'A' + 'a') : *s;
		h ^= (uint8_t)c;
		h *= 16777619u;
	}
	return h;
}

static void test_scan__shards_partition(void **state)
{
	fixture *f = *state;
	start_generated(f, GEN_USERS, 1, NULL);
	results shard[3] = {{0}, {0}, {0}};
	uint32_t total = 0, selected = 0;
	for (uint32_t k = 0; k < 3; k++) {
		mh_scan_options o = MH_SCAN_OPTIONS_INIT;
		o.mailboxes = (const char *const *)f->list;
		o.count = f->n_list;
		o.concurrency = 8;
		o.shard_k = k;
		o.shard_n = 3;
		o.on_result = collect;
		o.ud = &shard[k];
		mh_scan_summary sum;
		assert_int_equal(mh_scan(f->s, &o, &sum), S_OK);
		assert_int_equal(sum.selected, shard[k].n);
		selected += sum.selected;
		for (uint32_t i = 0; i < shard[k].n; i++) {
			assert_int_equal(fnv1a_lower(shard[k].v[i].mailbox) % 3, k);
			assert_int_equal(shard[k].v[i].status, S_OK);
		}
		assert_true(shard[k].n > 0);
		total += shard[k].n;
	}
	assert_int_equal(total, GEN_USERS);
	assert_int_equal(selected, GEN_USERS);
	for (uint32_t i = 0; i < f->n_list; i++) {
		unsigned seen = 0;
		for (uint32_t k = 0; k < 3; k++)
			seen += find_rec(&shard[k], f->list[i], MH_MAILBOX_PRIMARY) != NULL;
		assert_int_equal(seen, 1);
	}
	for (uint32_t k = 0; k < 3; k++)
		results_free(&shard[k]);
}

/*
 * A mailbox of 4,200 folders: more rows than one QueryRows gives (mapihttpd sends at most
 * 4,096), so the machine asks again on the table it opened; the sums are still exact.
 */
static void test_scan__more_rows_than_one_query(void **state)
{
	fixture *f = *state;
	assert_int_equal(mh_test_make_temp_dir(f->tmp, sizeof(f->tmp)), 0);
	enum { FOLDERS = 4200 };
	size_t cap = (size_t)FOLDERS * 16 + 4096;
	char *json = malloc(cap);
	assert_non_null(json);
	size_t n = (size_t)snprintf(
	    json, cap,
	    "{\"domain\":\"big.test\",\"organisation\":\"Big\",\"users\":["
	    "{\"alias\":\"svc\",\"display_name\":\"Scan\",\"password\":\"" SVC_PASS "\"},"
	    "{\"alias\":\"big\",\"display_name\":\"Big\",\"password\":\"Big-Pass-1\","
	    "\"messages\":[{\"folder\":\"F4200\",\"received\":\"2024-01-01T00:00:00Z\","
	    "\"subject\":\"deep\"}],\"folders\":[");
	for (int i = 1; i <= FOLDERS; i++)
		n += (size_t)snprintf(json + n, cap - n, "%s\"F%04d\"", i > 1 ? "," : "", i);
	n += (size_t)snprintf(json + n, cap - n,
	                      "]}],\"full_access\":[{\"user\":\"svc\",\"mailbox\":\"big\"}]}");
	assert_true(n < cap);
	char path[400];
	snprintf(path, sizeof(path), "%s/org.json", f->tmp);
	append_file(path, json);
	const char *extra[] = {"--org", path, "--quiet", NULL};
	start_server(f, false, extra);
	open_session(f, "@big.test");
	assert_int_equal(mh_srv_store_open(&f->org, NULL), S_OK);
	assert_int_equal(mh_srv_store_load_json(f->org, json, n), S_OK);
	free(json);
	f->list = calloc(1, sizeof(*f->list));
	f->list[0] = strdup("big@big.test");
	f->n_list = 1;
	results rs = {0};
	mh_scan_summary sum;
	assert_int_equal(run_scan(f, (const char *const *)f->list, f->n_list, false, 1, &rs, &sum),
	                 S_OK);
	assert_all_ok(f, &rs, false, false);
	assert_true(rs.v[0].folders > FOLDERS);
	assert_int_equal(rs.v[0].items, 1);
	/* Autodiscover, Connect, RopLogon, two Executes, Disconnect. */
	assert_int_equal(rs.v[0].requests, 6);
	results_free(&rs);
}

/* ---- faults: nothing lost, nothing twice, ok where the client recovers ------------------ */

/*
 * 12 users with archives under fault: 24 records, all ok. The fault must have hit: the server
 * logged it (close, 503, stall), or it cost requests beyond the 5 per machine.
 */
static void fault_case(void **state, const char *fault, unsigned concurrency)
{
	fixture *f = *state;
	start_generated(f, 12, 2, fault);
	results rs = {0};
	mh_scan_summary sum;
	assert_int_equal(
	    run_scan(f, (const char *const *)f->list, f->n_list, true, concurrency, &rs, &sum),
	    S_OK);
	assert_all_ok(f, &rs, true, false);
	assert_int_equal(sum.ok, 24);
	char kind[16];
	snprintf(kind, sizeof(kind), "fault=%.*s", (int)strcspn(fault, ","), fault);
	if (strcmp(kind, "fault=stall") == 0) {
		mh_session_close(f->s); /* its Disconnect ends the server's last request */
		f->s = NULL;
		assert_int_equal(mh_test_server_stop(&f->srv, SIGTERM), 0);
		char *log = mh_test_slurp_file(f->srv.err_path);
		assert_non_null(log);
		assert_non_null(strstr(log, kind));
		free(log);
	} else {
		assert_true(sum.requests > 24 * 5);
	}
	results_free(&rs);
}

static void test_scan__fault_close(void **state)
{
	fault_case(state, "close,every=7", 4);
}

static void test_scan__fault_503(void **state)
{
	fault_case(state, "503,every=5,ms=100", 4);
}

static void test_scan__fault_expire(void **state)
{
	fault_case(state, "expire,every=6", 4);
}

static void test_scan__fault_stall(void **state)
{
	fault_case(state, "stall,every=4,ms=200", 4);
}

static void test_scan__fault_backoff(void **state)
{
	fault_case(state, "backoff,every=3,ms=50", 4);
}

/* Every other logon is sent elsewhere: one at a time, each machine is redirected once. */
static void test_scan__fault_wrongserver(void **state)
{
	fault_case(state, "wrongserver,every=2", 1);
}

/* Stopped while machines wait to recover (timers armed, contexts half re-made): nothing runs
 * after mh_scan returns, nothing leaks, and the session scans again afterwards. */
static void test_scan__cancel_under_faults(void **state)
{
	fixture *f = *state;
	start_generated(f, 12, 2, "expire,every=5");
	results rs = {0};
	rs.stop_after = 3;
	mh_scan_summary sum;
	assert_int_equal(run_scan(f, (const char *const *)f->list, f->n_list, true, 8, &rs, &sum),
	                 MAPI_E_USER_CANCEL);
	assert_int_equal(rs.n, 3);
	assert_no_duplicates(&rs);
	results again = {0};
	assert_int_equal(
	    run_scan(f, (const char *const *)f->list, f->n_list, true, 8, &again, &sum), S_OK);
	assert_int_equal(again.n, 24);
	assert_no_duplicates(&again);
	results_free(&rs);
	results_free(&again);
}

/* A server that allows svc 4 contexts (its session holds one): 16 machines at once meet
 * MAPI_E_SESSION_LIMIT at Connect, wait for the others, and every mailbox ends ok. */
static void test_scan__session_limit_waits(void **state)
{
	fixture *f = *state;
	static const char *const extra[] = {
	    "--generate", "20,1", "--quiet", "--max-contexts-per-user", "4", NULL};
	start_server(f, false, extra);
	open_session(f, GEN_DOMAIN);
	f->org = org_store(true, 20, 1);
	make_list(f, 20);
	results rs = {0};
	mh_scan_summary sum;
	assert_int_equal(run_scan(f, (const char *const *)f->list, f->n_list, true, 16, &rs, &sum),
	                 S_OK);
	assert_all_ok(f, &rs, true, false);
	/* Refused Connects cost requests: the limit was met. */
	assert_true(sum.requests > 40 * 5);
	results_free(&rs);
}

/* The server goes away after the logon: every mailbox fails with a network status, each is
 * reported once, and the scan itself ends normally. */
static void test_scan__server_gone(void **state)
{
	fixture *f = *state;
	start_server(f, false, NULL);
	open_session(f, SAMPLE_DOMAIN);
	assert_int_equal(mh_test_server_stop(&f->srv, SIGTERM), 0);
	static const char *const names[] = {"bob@contoso.test", "carol@contoso.test",
	                                    "helpdesk@contoso.test"};
	results rs = {0};
	mh_scan_summary sum;
	assert_int_equal(run_scan(f, names, 3, true, 2, &rs, &sum), S_OK);
	assert_int_equal(rs.n, 3);
	assert_no_duplicates(&rs);
	for (uint32_t i = 0; i < rs.n; i++) {
		assert_int_equal(rs.v[i].kind, MH_MAILBOX_PRIMARY);
		assert_int_equal(rs.v[i].status, MAPI_E_NETWORK_ERROR);
	}
	assert_int_equal(sum.failed, 3);
	results_free(&rs);
}

/* ---- HTTPS ----------------------------------------------------------------------------- */

static void test_scan__https(void **state)
{
	fixture *f = *state;
	static const char *const extra[] = {"--sample", NULL};
	start_server(f, true, extra);
	open_session(f, SAMPLE_DOMAIN);
	f->org = org_store(false, 0, 0);
	static const char *const names[] = {"bob@contoso.test", "helpdesk@contoso.test"};
	f->list = calloc(2, sizeof(*f->list));
	for (int i = 0; i < 2; i++)
		f->list[i] = strdup(names[i]);
	f->n_list = 2;
	results rs = {0};
	mh_scan_summary sum;
	assert_int_equal(run_scan(f, names, 2, true, 4, &rs, &sum), S_OK);
	assert_int_equal(rs.n, 3);
	assert_all_ok(f, &rs, true, false);
	results_free(&rs);
}

/* ---- the command ------------------------------------------------------------------------ */

#ifdef MH_CLI_PATH
static mh_test_run_result run_cli_in(const char *const *args, const char *password,
                                     const char *stdin_text)
{
	static const char *const drop[] = {"MAPIHTTP_", NULL};
	char pw[128];
	snprintf(pw, sizeof(pw), "MAPIHTTP_PASSWORD=%s", password);
	const char *const extra[] = {pw, NULL};
	char **envp = mh_test_env(drop, extra);
	assert_non_null(envp);
	mh_test_run_result r;
	assert_int_equal(mh_test_run(&r, MH_CLI_PATH, args, envp, stdin_text), 0);
	mh_test_env_free(envp);
	return r;
}

static mh_test_run_result run_cli(const char *const *args, const char *password)
{
	return run_cli_in(args, password, NULL);
}

/* The NDJSON lines of out: each parsed, with every key of the format. */
static unsigned parse_lines(const char *out, json_t **lines, unsigned cap)
{
	unsigned n = 0;
	for (const char *p = out, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		assert_true(n < cap);
		json_error_t err;
		json_t *j = json_loadb(p, (size_t)(nl - p), 0, &err);
		if (j == NULL)
			fail_msg("not a JSON line: %.*s", (int)(nl - p), p);
		static const char *const keys[] = {"mailbox", "kind",  "status", "folders",
		                                   "items",   "bytes", "ms"};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			assert_non_null(json_object_get(j, keys[i]));
		bool ok = strcmp(json_string_value(json_object_get(j, "status")), "ok") == 0;
		assert_true(ok == (json_object_get(j, "error") == NULL));
		lines[n++] = j;
	}
	return n;
}

static json_t *line_of(json_t **lines, unsigned n, const char *mailbox, const char *kind)
{
	for (unsigned i = 0; i < n; i++)
		if (strcasecmp(json_string_value(json_object_get(lines[i], "mailbox")), mailbox) ==
		        0 &&
		    strcmp(json_string_value(json_object_get(lines[i], "kind")), kind) == 0)
			return lines[i];
	return NULL;
}

static void test_scan__cli(void **state)
{
	fixture *f = *state;
	static const char *const extra[] = {"--sample", "--rights-mode", "logon", NULL};
	start_server(f, false, extra);
	assert_int_equal(mh_test_make_temp_dir(f->tmp, sizeof(f->tmp)), 0);
	char listf[400], ckpt[400];
	snprintf(listf, sizeof(listf), "%s/list.txt", f->tmp);
	snprintf(ckpt, sizeof(ckpt), "%s/ckpt", f->tmp);
	append_file(listf, "# mailboxes to scan\n"
	                   "bob@contoso.test\n"
	                   "\n"
	                   "  helpdesk@contoso.test   # the shared one\n"
	                   "svc@contoso.test\n");
	const char *args[] = {"scan",
	                      "--user",
	                      "svc@contoso.test",
	                      "--autodiscover-url",
	                      f->ad_url,
	                      "--mailboxes",
	                      listf,
	                      "--archives",
	                      "--concurrency",
	                      "3",
	                      "--checkpoint",
	                      ckpt,
	                      NULL};
	mh_test_run_result r = run_cli(args, SVC_PASS);
	if (r.status != 0)
		print_error("%s", r.err);
	assert_int_equal(r.status, 0);
	json_t *lines[16];
	unsigned n = parse_lines(r.out, lines, 16);
	assert_int_equal(n, 4);
	json_t *arch = line_of(lines, n, "bob@contoso.test", "archive");
	assert_non_null(arch);
	assert_string_equal(json_string_value(json_object_get(arch, "status")), "ok");
	assert_int_equal(json_integer_value(json_object_get(arch, "folders")), 5);
	assert_int_equal(json_integer_value(json_object_get(arch, "items")), 5);
	json_t *bob = line_of(lines, n, "bob@contoso.test", "primary");
	assert_int_equal(json_integer_value(json_object_get(bob, "items")), 8);
	assert_null(strstr(r.out, SVC_PASS));
	assert_null(strstr(r.err, SVC_PASS));
	/* Not a terminal: no progress bar. */
	assert_null(strchr(r.err, '\r'));
	for (unsigned i = 0; i < n; i++)
		json_decref(lines[i]);
	mh_test_run_result_free(&r);

	/* Again with the checkpoint: nothing left; carol fails (logon mode) and the rest is
	 * skipped: exit 3. */
	const char *args2[] = {"scan",
	                       "--user",
	                       "svc@contoso.test",
	                       "--autodiscover-url",
	                       f->ad_url,
	                       "--mailboxes",
	                       listf,
	                       "--archives",
	                       "--checkpoint",
	                       ckpt,
	                       "carol@contoso.test",
	                       NULL};
	r = run_cli(args2, SVC_PASS);
	assert_int_equal(r.status, 3);
	n = parse_lines(r.out, lines, 16);
	assert_int_equal(n, 1);
	assert_string_equal(json_string_value(json_object_get(lines[0], "mailbox")),
	                    "carol@contoso.test");
	assert_string_equal(json_string_value(json_object_get(lines[0], "status")),
	                    "MAPI_E_NO_ACCESS");
	assert_non_null(
	    strstr(json_string_value(json_object_get(lines[0], "error")), "ecLoginPerm"));
	json_decref(lines[0]);
	assert_null(strstr(r.out, SVC_PASS));
	assert_null(strstr(r.err, SVC_PASS));
	mh_test_run_result_free(&r);

	/* The list on standard input, in one shard of one: everything. */
	const char *args4[] = {"scan",
	                       "--user",
	                       "svc@contoso.test",
	                       "--autodiscover-url",
	                       f->ad_url,
	                       "--mailboxes",
	                       "-",
	                       "--shard",
	                       "0/1",
	                       NULL};
	r = run_cli_in(args4, SVC_PASS, "# from a pipe\nhelpdesk@contoso.test\nbob@contoso.test\n");
	assert_int_equal(r.status, 0);
	n = parse_lines(r.out, lines, 16);
	assert_int_equal(n, 2);
	assert_non_null(line_of(lines, n, "helpdesk@contoso.test", "primary"));
	assert_null(line_of(lines, n, "bob@contoso.test", "archive"));
	for (unsigned i = 0; i < n; i++)
		json_decref(lines[i]);
	mh_test_run_result_free(&r);

	/* A wrong password: the scan cannot run (1), and the password is not echoed. */
	const char *args3[] = {"scan",
	                       "--user",
	                       "svc@contoso.test",
	                       "--autodiscover-url",
	                       f->ad_url,
	                       "bob@contoso.test",
	                       NULL};
	r = run_cli(args3, "Wrong-Secret-42");
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	assert_null(strstr(r.err, "Wrong-Secret-42"));
	mh_test_run_result_free(&r);
}

static void test_scan__cli_usage(void **state)
{
	(void)state;
	static const char *const bad[][6] = {
	    {"scan", "--user", "a@b.test", "--shard", "3/3", NULL},
	    {"scan", "--user", "a@b.test", "--concurrency", "0", NULL},
	    {"scan", "--user", "a@b.test", "--password", "x", NULL},
	    {"scan", "--user", "a@b.test", NULL, NULL, NULL},
	    {"scan", "--user", "a@b.test", "not-an-address", NULL, NULL},
	    {"scan", "--user", "a@b.test",
	     "b\xff"
	     "b@x.test",
	     NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mh_test_run_result r = run_cli(bad[i], SVC_PASS);
		assert_int_equal(r.status, 2);
		assert_null(strstr(r.err, SVC_PASS));
		mh_test_run_result_free(&r);
	}
	static const char *const help[] = {"scan", "--help", NULL};
	mh_test_run_result r = run_cli(help, SVC_PASS);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "--checkpoint FILE"));
	assert_non_null(strstr(r.out, "--shard K/N"));
	mh_test_run_result_free(&r);
}
#endif

#define T(name) cmocka_unit_test_setup_teardown(test_scan__##name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(sample_all_ok),
	    T(no_rights_goes_on),
	    T(unknown_address),
	    T(bad_options),
	    T(generated_all_ok),
	    T(concurrency_same_records),
	    T(checkpoint_resume),
	    T(shards_partition),
	    T(more_rows_than_one_query),
	    T(fault_close),
	    T(fault_503),
	    T(fault_expire),
	    T(fault_stall),
	    T(fault_backoff),
	    T(fault_wrongserver),
	    T(cancel_under_faults),
	    T(session_limit_waits),
	    T(server_gone),
	    T(https),
#ifdef MH_CLI_PATH
	    T(cli),
	    T(cli_usage),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
