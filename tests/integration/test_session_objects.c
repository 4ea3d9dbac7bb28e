/*
 * Folders, tables and messages of mapihttp/session.h against the built mapihttpd on port 0:
 * well-known folders, paths, the folder tree in one Execute, sorted and paged tables,
 * properties, streams, recipients and attachments, truncated values read whole, EntryIDs,
 * delegate rights, and transparent replay under --fault expire and backoff.
 */
#define _DEFAULT_SOURCE

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

#include "mapihttp.h"
#include "mapihttpd_proc.h"
#include "session/session_internal.h"

#ifndef MH_SERVER_PATH
#error "MH_SERVER_PATH must name the mapihttpd binary"
#endif

#define DOMAIN "@contoso.test"

/* Tags the tests ask for. */
#define TAG_SUBJECT       0x0037001Fu
#define TAG_DELIVERY_TIME 0x0E060040u
#define TAG_BODY          0x1000001Fu
#define TAG_ATTACH_NAME   0x3707001Fu
#define TAG_ATTACH_SIZE   0x0E200003u
#define TAG_NOT_THERE     0x7FF0001Fu

typedef struct fixture {
	mh_test_server srv;
	mh_session *s;
	char ad_url[600];
	char org_dir[256];
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
	if (f->org_dir[0] != 0)
		mh_test_remove_dir(f->org_dir);
	free(f);
	return 0;
}

static void start(fixture *f, const char *const *extra)
{
	assert_int_equal(mh_test_server_start(&f->srv, MH_SERVER_PATH, extra), 0);
	snprintf(f->ad_url, sizeof(f->ad_url), "%s/autodiscover/autodiscover.xml", f->srv.url);
}

static void open_as(fixture *f, const char *user, const char *password)
{
	mh_session_options o = MH_SESSION_OPTIONS_INIT;
	o.user = user;
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.secret = password;
	o.autodiscover_url = f->ad_url;
	o.allow_http = true;
	o.timeout_ms = 30000;
	o.backoff_cap_ms = 2000;
	mh_status st = mh_session_open(&f->s, &o);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		fail_msg("open %s: %s: %s", user, mh_status_str(st), e != NULL ? e->message : "");
	}
}

static void check(fixture *f, mh_status st, const char *what)
{
	if (st != S_OK)
		fail_msg("%s: %s: %s", what, mh_status_str(st), mh_session_errmsg(f->s));
}

/* The mailbox (or archive) of smtp, opened through its v3 EntryID. */
static mh_store *open_mailbox(fixture *f, const char *smtp, bool archive)
{
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	check(f, mh_session_mailbox_entryid(f->s, smtp, archive, &cb, &eid), "mailbox EntryID");
	mh_store *st = NULL;
	mh_status r = mh_session_open_msg_store(&st, f->s, cb, eid, 0);
	MAPIFreeBuffer(eid);
	check(f, r, "OpenMsgStore");
	return st;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay != NULL ? hay : "(null)", needle);
}

static mh_folder *open_path(fixture *f, mh_store *st, const char *path)
{
	mh_folder *fo = NULL;
	mh_status r = mh_store_open_folder_path(&fo, st, path);
	if (r != S_OK)
		fail_msg("open %s: %s: %s", path, mh_status_str(r), mh_session_errmsg(f->s));
	return fo;
}

/* A tag array of n tags on the stack of the caller (at most 8). */
typedef struct tags8 {
	uint32_t cValues;
	uint32_t aulPropTag[8];
} tags8;

static const SPropTagArray *tags_of(tags8 *t, uint32_t n, const uint32_t *tags)
{
	t->cValues = n;
	memcpy(t->aulPropTag, tags, n * sizeof(uint32_t));
	return (const SPropTagArray *)(const void *)t;
}

/* Every row of t in one rowset. */
static mh_rowset *all_rows(fixture *f, mh_table *t)
{
	mh_rowset *rs = NULL;
	check(f, mh_table_query_rows(t, 1000, &rs), "QueryRows");
	return rs;
}

static const char *row_str(const mh_row *r, uint32_t col)
{
	assert_true(col < r->count);
	assert_int_equal(PROP_TYPE(r->props[col].ulPropTag), PT_UNICODE);
	return r->props[col].Value.lpszW;
}

/* The row of rs whose column col is the string s. */
static const mh_row *row_with(const mh_rowset *rs, uint32_t col, const char *s)
{
	for (uint32_t i = 0; i < rs->count; i++)
		if (PROP_TYPE(rs->rows[i].props[col].ulPropTag) == PT_UNICODE &&
		    strcmp(rs->rows[i].props[col].Value.lpszW, s) == 0)
			return &rs->rows[i];
	fail_msg("no row with \"%s\"", s);
	return NULL;
}

static const mh_folder_entry *entry_at(const mh_folder_entry *e, uint32_t n, const char *path)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(e[i].path, path) == 0)
			return &e[i];
	fail_msg("no folder \"%s\" in the tree", path);
	return NULL;
}

/* A fresh server, svc (FullAccess on bob) logged on, and bob's mailbox or archive open. */
static mh_store *bob_as_svc(fixture *f, bool archive)
{
	start(f, NULL);
	open_as(f, "svc" DOMAIN, "Svc-Pass-1");
	return open_mailbox(f, "bob" DOMAIN, archive);
}

/* The contents table of fo with the n columns tags. */
static mh_table *contents_with(fixture *f, mh_folder *fo, uint32_t n, const uint32_t *tags)
{
	mh_table *t = NULL;
	check(f, mh_folder_contents_table(&t, fo, 0), "contents table");
	tags8 cols;
	check(f, mh_table_set_columns(t, tags_of(&cols, n, tags)), "columns");
	return t;
}

/* The one property tag of a folder (fo) or a message (m), into *v. */
static void get_prop(fixture *f, mh_folder *fo, mh_message *m, uint32_t tag, SPropValue **v)
{
	tags8 t;
	uint32_t n = 0;
	const SPropTagArray *one = tags_of(&t, 1, &tag);
	check(f,
	      fo != NULL ? mh_folder_get_props(fo, one, &n, v)
	                 : mh_message_get_props(m, one, &n, v),
	      "property");
	assert_int_equal(n, 1);
}

/* A new org file in a temporary directory (removed by teardown), open for writing. */
static FILE *org_file(fixture *f, char *path, size_t cap)
{
	assert_int_equal(mh_test_make_temp_dir(f->org_dir, sizeof(f->org_dir)), 0);
	snprintf(path, cap, "%s/org.json", f->org_dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	return fp;
}

/* ---- well-known folders and paths ------------------------------------------------------- */

static void test_session_objects__well_known(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_as(f, "alice" DOMAIN, "Alice-Pass-1");
	mh_store *st = mh_session_primary(f->s);
	mh_store_info si;
	mh_store_get_info(st, &si);
	static const char *const names[] = {"root",      "ipmsubtree",   "inbox",       "outbox",
	                                    "sentitems", "deleteditems", "commonviews", "schedule",
	                                    "search",    "views",        "shortcuts",   "spooler"};
	uint64_t fids[12];
	for (size_t i = 0; i < 12; i++) {
		check(f, mh_store_well_known_fid(st, names[i], &fids[i]), names[i]);
		assert_true(fids[i] != 0);
		for (size_t j = 0; j < i; j++)
			assert_true(fids[i] != fids[j]);
	}
	assert_true(fids[1] == si.ipm_subtree_fid);
	/* The Inbox by its FID is the folder called Inbox. */
	mh_folder *inbox = NULL;
	check(f, mh_store_open_folder(&inbox, st, fids[2]), "open inbox");
	assert_true(mh_folder_id(inbox) == fids[2]);
	SPropValue *v = NULL;
	get_prop(f, inbox, NULL, PR_DISPLAY_NAME_W, &v);
	assert_string_equal(v[0].Value.lpszW, "Inbox");
	MAPIFreeBuffer(v);
	mh_folder_close(inbox);
	/* mapihttpd keeps no Calendar: no PidTagIpmAppointmentEntryId anywhere. */
	uint64_t fid = 1;
	assert_int_equal(mh_store_well_known_fid(st, "calendar", &fid), MAPI_E_NOT_FOUND);
	assert_contains(mh_session_errmsg(f->s), "0x36D00102");
	assert_int_equal(mh_store_well_known_fid(st, "junkemail", &fid), MAPI_E_NOT_FOUND);
	assert_int_equal(mh_store_well_known_fid(st, "Inbox ", &fid), MAPI_E_NOT_FOUND);
	assert_contains(mh_session_errmsg(f->s), "not a well-known folder");
	/* A FID that names nothing. */
	mh_folder *none = NULL;
	assert_int_equal(mh_store_open_folder(&none, st, fids[2] + ((uint64_t)9999 << 40)),
	                 MAPI_E_NOT_FOUND);
	assert_null(none);
}

static void test_session_objects__paths(void **state)
{
	fixture *f = *state;
	mh_store *bob = bob_as_svc(f, false);
	mh_folder *a = open_path(f, bob, "Inbox/Projects");
	mh_folder *b = open_path(f, bob, "iNBOX/projects");
	mh_folder *c = open_path(f, bob, "<inbox>/Projects");
	mh_folder *d = open_path(f, bob, "/<INBOX>/PROJECTS");
	mh_folder *in = open_path(f, bob, "<inbox>");
	mh_folder *in2 = open_path(f, bob, "Inbox");
	assert_true(mh_folder_id(a) == mh_folder_id(b));
	assert_true(mh_folder_id(a) == mh_folder_id(c));
	assert_true(mh_folder_id(a) == mh_folder_id(d));
	assert_true(mh_folder_id(a) != mh_folder_id(in));
	assert_true(mh_folder_id(in) == mh_folder_id(in2));
	uint64_t inbox = 0;
	check(f, mh_store_well_known_fid(bob, "inbox", &inbox), "inbox");
	assert_true(mh_folder_id(in) == inbox);
	mh_folder *x = NULL;
	assert_int_equal(mh_store_open_folder_path(&x, bob, "Inbox/Nowhere"), MAPI_E_NOT_FOUND);
	assert_null(x);
	assert_contains(mh_session_errmsg(f->s), "\"Nowhere\"");
	assert_int_equal(mh_store_open_folder_path(&x, bob, "<nosuch>/Projects"), MAPI_E_NOT_FOUND);
	/* Projects is not below the IPM subtree itself. */
	assert_int_equal(mh_store_open_folder_path(&x, bob, "Projects"), MAPI_E_NOT_FOUND);
	mh_folder_close(a);
	mh_folder_close(b);
	mh_folder_close(c);
	mh_folder_close(d);
	mh_folder_close(in);
	mh_folder_close(in2);
	mh_store_close(bob);
}

/* ---- the folder tree -------------------------------------------------------------------- */

static void test_session_objects__tree_bob(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_as(f, "svc" DOMAIN, "Svc-Pass-1");
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	check(f, mh_session_mailbox_entryid(f->s, "bob" DOMAIN, false, &cb, &eid), "EntryID");
	/* Autodiscover of bob may be cached or not: count from after it, as a client would. */
	uint64_t before = mh_session_request_count(f->s);
	mh_store *bob = NULL;
	check(f, mh_session_open_msg_store(&bob, f->s, cb, eid, 0), "OpenMsgStore");
	MAPIFreeBuffer(eid);
	uint64_t opened = mh_session_request_count(f->s);
	mh_folder_entry *e = NULL;
	uint32_t n = 0;
	check(f, mh_store_folder_tree(bob, &e, &n), "folder tree");
	uint64_t after = mh_session_request_count(f->s);
	/* Connect, Execute(RopLogon), and the tree in one Execute (bob's Autodiscover answer
	 * came with his EntryID and is cached). */
	assert_int_equal(after - opened, 1);
	assert_true(after - before <= 3);
	/* Below Top of Information Store: Inbox (and Projects), Outbox, Sent Items, Deleted. */
	assert_int_equal(n, 5);
	const mh_folder_entry *inbox = entry_at(e, n, "Inbox");
	const mh_folder_entry *proj = entry_at(e, n, "Inbox/Projects");
	const mh_folder_entry *sent = entry_at(e, n, "Sent Items");
	const mh_folder_entry *out = entry_at(e, n, "Outbox");
	const mh_folder_entry *del = entry_at(e, n, "Deleted Items");
	assert_int_equal(inbox->content_count, 4);
	assert_int_equal(inbox->child_count, 1);
	assert_int_equal(inbox->depth, 1);
	assert_int_equal(proj->content_count, 2);
	assert_int_equal(proj->depth, 2);
	assert_int_equal(proj->child_count, 0);
	assert_string_equal(proj->display_name, "Projects");
	assert_int_equal(sent->content_count, 2);
	assert_int_equal(out->content_count, 0);
	assert_int_equal(del->content_count, 0);
	/* Depth first: Projects right after the Inbox. */
	assert_ptr_equal(proj, inbox + 1);
	uint64_t pfid = 0;
	mh_folder *pf = open_path(f, bob, "Inbox/Projects");
	pfid = mh_folder_id(pf);
	mh_folder_close(pf);
	assert_true(proj->folder_id == pfid);
	MAPIFreeBuffer(e);
	mh_store_close(bob);
}

static void test_session_objects__tree_archive(void **state)
{
	fixture *f = *state;
	mh_store *arch = bob_as_svc(f, true);
	mh_folder_entry *e = NULL;
	uint32_t n = 0;
	check(f, mh_store_folder_tree(arch, &e, &n), "archive tree");
	assert_int_equal(entry_at(e, n, "2019")->content_count, 2);
	assert_int_equal(entry_at(e, n, "2019")->depth, 1);
	assert_int_equal(entry_at(e, n, "Inbox")->content_count, 3);
	MAPIFreeBuffer(e);
	mh_folder *y = open_path(f, arch, "2019");
	mh_table *t = NULL;
	check(f, mh_folder_contents_table(&t, y, 0), "contents");
	assert_int_equal(mh_table_row_count(t), 2);
	mh_table_close(t);
	mh_folder_close(y);
	mh_store_close(arch);
}

/* ---- tables ----------------------------------------------------------------------------- */

static void test_session_objects__contents_sorted(void **state)
{
	fixture *f = *state;
	mh_store *bob = bob_as_svc(f, false);
	mh_folder *in = open_path(f, bob, "<inbox>");
	mh_table *t =
	    contents_with(f, in, 3, (const uint32_t[]){PR_MID, TAG_SUBJECT, TAG_DELIVERY_TIME});
	assert_int_equal(mh_table_row_count(t), 4);
	mh_sort_order by_subject = {TAG_SUBJECT, false};
	check(f, mh_table_sort(t, &by_subject, 1), "sort");
	mh_rowset *rs = all_rows(f, t);
	assert_int_equal(rs->count, 4);
	static const char *const asc[] = {"Printer on floor 3", "Quarterly report draft",
	                                  "RE: Lunch on Friday?", "Your scan report"};
	for (uint32_t i = 0; i < 4; i++) {
		assert_string_equal(row_str(&rs->rows[i], 1), asc[i]);
		assert_false(rs->rows[i].truncated[1]);
		assert_int_equal(rs->rows[i].props[0].ulPropTag, PR_MID);
	}
	MAPIFreeBuffer(rs);
	/* At the end: an empty rowset. */
	check(f, mh_table_query_rows(t, 10, &rs), "query at end");
	assert_int_equal(rs->count, 0);
	MAPIFreeBuffer(rs);
	/* Newest first by delivery time. */
	mh_sort_order newest = {TAG_DELIVERY_TIME, true};
	check(f, mh_table_sort(t, &newest, 1), "sort by time");
	rs = all_rows(f, t);
	assert_int_equal(rs->count, 4);
	assert_string_equal(row_str(&rs->rows[0], 1), "Printer on floor 3");
	assert_string_equal(row_str(&rs->rows[3], 1), "RE: Lunch on Friday?");
	for (uint32_t i = 1; i < 4; i++) {
		const FILETIME *a = &rs->rows[i - 1].props[2].Value.ft;
		const FILETIME *b = &rs->rows[i].props[2].Value.ft;
		uint64_t x = ((uint64_t)a->dwHighDateTime << 32) | a->dwLowDateTime;
		uint64_t y = ((uint64_t)b->dwHighDateTime << 32) | b->dwLowDateTime;
		assert_true(x >= y);
	}
	MAPIFreeBuffer(rs);
	mh_table_close(t);
	mh_folder_close(in);
	mh_store_close(bob);
}

/* Reads t in pages of page rows into subjects (column 1); returns the count. */
static uint32_t read_paged(fixture *f, mh_table *t, uint32_t page, char subjects[][64])
{
	uint32_t n = 0;
	for (;;) {
		mh_rowset *rs = NULL;
		check(f, mh_table_query_rows(t, page, &rs), "paged QueryRows");
		assert_true(rs->count <= page);
		for (uint32_t i = 0; i < rs->count; i++)
			snprintf(subjects[n++], 64, "%s", row_str(&rs->rows[i], 1));
		uint32_t k = rs->count;
		MAPIFreeBuffer(rs);
		if (k == 0)
			return n;
	}
}

static void paging_story(fixture *f, const char *user, const char *password)
{
	open_as(f, user, password);
	mh_store *bob = open_mailbox(f, "bob" DOMAIN, false);
	mh_folder *in = open_path(f, bob, "<inbox>");
	mh_table *t = contents_with(f, in, 2, (const uint32_t[]){PR_MID, TAG_SUBJECT});
	char big[8][64], small[8][64], two[8][64];
	assert_int_equal(read_paged(f, t, 100, big), 4);
	check(f, mh_table_seek(t, 0, 0), "seek to start");
	assert_int_equal(read_paged(f, t, 1, small), 4);
	check(f, mh_table_seek(t, 0, 0), "seek to start");
	assert_int_equal(read_paged(f, t, 3, two), 4);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(big[i], small[i]);
		assert_string_equal(big[i], two[i]);
	}
	/* From the end, two back: the last two rows. */
	check(f, mh_table_seek(t, 2, -2), "seek from end");
	mh_rowset *rs = NULL;
	check(f, mh_table_query_rows(t, 10, &rs), "after seek");
	assert_int_equal(rs->count, 2);
	assert_string_equal(row_str(&rs->rows[0], 1), big[2]);
	assert_string_equal(row_str(&rs->rows[1], 1), big[3]);
	MAPIFreeBuffer(rs);
	/* One forward from the start, then the rest. */
	check(f, mh_table_seek(t, 0, 1), "seek 1");
	check(f, mh_table_query_rows(t, 10, &rs), "after seek 1");
	assert_int_equal(rs->count, 3);
	assert_string_equal(row_str(&rs->rows[0], 1), big[1]);
	MAPIFreeBuffer(rs);
	mh_table_close(t);
	mh_folder_close(in);
	mh_store_close(bob);
}

static void test_session_objects__paging(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	paging_story(f, "svc" DOMAIN, "Svc-Pass-1");
}

static void test_session_objects__hierarchy_table(void **state)
{
	fixture *f = *state;
	mh_store *bob = bob_as_svc(f, false);
	mh_folder *top = open_path(f, bob, "");
	mh_table *t = NULL;
	check(f, mh_folder_hierarchy_table(&t, top, 0), "hierarchy");
	assert_int_equal(mh_table_row_count(t), 4);
	mh_table_close(t);
	check(f, mh_folder_hierarchy_table(&t, top, MH_TABLE_DEEP), "deep hierarchy");
	assert_int_equal(mh_table_row_count(t), 5);
	/* Default columns: FID first, display name third. */
	mh_rowset *rs = all_rows(f, t);
	assert_int_equal(rs->count, 5);
	const mh_row *p = row_with(rs, 2, "Projects");
	assert_int_equal(p->props[0].ulPropTag, PR_FID);
	mh_folder *pf = NULL;
	check(f, mh_store_open_folder(&pf, bob, (uint64_t)p->props[0].Value.li), "open by FID");
	mh_folder_close(pf);
	MAPIFreeBuffer(rs);
	mh_table_close(t);
	assert_int_equal(mh_folder_hierarchy_table(&t, top, 0x1000), MAPI_E_INVALID_PARAMETER);
	mh_folder_close(top);
	mh_store_close(bob);
}

/* ---- messages --------------------------------------------------------------------------- */

/* Opens bob's "Quarterly report draft" through the Inbox's contents table. */
static mh_message *open_report(fixture *f, mh_folder *in)
{
	mh_table *t = contents_with(f, in, 2, (const uint32_t[]){PR_MID, TAG_SUBJECT});
	mh_rowset *rs = all_rows(f, t);
	const mh_row *r = row_with(rs, 1, "Quarterly report draft");
	mh_message *m = NULL;
	check(f, mh_folder_open_message(&m, in, (uint64_t)r->props[0].Value.li), "open message");
	MAPIFreeBuffer(rs);
	mh_table_close(t);
	return m;
}

static void test_session_objects__message(void **state)
{
	fixture *f = *state;
	mh_store *bob = bob_as_svc(f, false);
	mh_folder *in = open_path(f, bob, "<inbox>");
	mh_message *m = open_report(f, in);

	/* Specific properties, one missing. */
	tags8 t;
	uint32_t n = 0;
	SPropValue *v = NULL;
	check(f,
	      mh_message_get_props(
	          m, tags_of(&t, 3, (const uint32_t[]){TAG_SUBJECT, TAG_NOT_THERE, 0x00170003u}),
	          &n, &v),
	      "message props");
	assert_int_equal(n, 3);
	assert_int_equal(v[0].ulPropTag, TAG_SUBJECT);
	assert_string_equal(v[0].Value.lpszW, "Quarterly report draft");
	assert_int_equal(v[1].ulPropTag, PROP_TAG(PT_ERROR, 0x7FF0));
	assert_int_equal(v[1].Value.err, MAPI_E_NOT_FOUND);
	assert_int_equal(v[2].ulPropTag, 0x00170003u); /* PidTagImportance from the org file */
	assert_int_equal(v[2].Value.l, 1);
	MAPIFreeBuffer(v);
	/* All properties: the stored PidTagInternetMessageId among them. */
	check(f, mh_message_get_all_props(m, &n, &v), "all props");
	assert_true(n > 10);
	SPropValue *mid = mh_props_find(n, v, 0x1035001Fu);
	assert_non_null(mid);
	assert_string_equal(mid->Value.lpszW, "<q1-report-draft@contoso.test>");
	assert_non_null(mh_props_find(n, v, PR_MID));
	MAPIFreeBuffer(v);

	/* The body through a stream. */
	void *body = NULL;
	size_t len = 0;
	check(f, mh_message_read_stream(m, TAG_BODY, &body, &len), "body stream");
	assert_int_equal(len, strlen("Draft attached; comments by Tuesday please.\r\n"));
	assert_string_equal(body, "Draft attached; comments by Tuesday please.\r\n");
	MAPIFreeBuffer(body);
	assert_int_equal(mh_message_read_stream(m, PR_MID, &body, &len), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_message_read_stream(m, TAG_NOT_THERE, &body, &len), MAPI_E_NOT_FOUND);

	/* Recipients: bob and carol, To. */
	mh_table *rt = NULL;
	check(f, mh_message_recipient_table(&rt, m), "recipient table");
	assert_int_equal(mh_table_row_count(rt), 2);
	tags8 rc;
	check(f,
	      mh_table_set_columns(
	          rt, tags_of(&rc, 3,
	                      (const uint32_t[]){PR_SMTP_ADDRESS_W, 0x0C150003u, PR_ADDRTYPE_W})),
	      "recipient columns");
	mh_sort_order desc = {PR_SMTP_ADDRESS_W, true};
	check(f, mh_table_sort(rt, &desc, 1), "recipient sort");
	mh_rowset *rs = all_rows(f, rt);
	assert_int_equal(rs->count, 2);
	assert_string_equal(row_str(&rs->rows[0], 0), "carol" DOMAIN);
	assert_string_equal(row_str(&rs->rows[1], 0), "bob" DOMAIN);
	assert_int_equal(rs->rows[0].props[1].Value.l, 1); /* MAPI_TO */
	assert_string_equal(row_str(&rs->rows[0], 2), "SMTP");
	MAPIFreeBuffer(rs);
	mh_table_close(rt);

	/* Attachments: q1-report.txt, 26 bytes. */
	mh_table *at = NULL;
	check(f, mh_message_attachment_table(&at, m), "attachment table");
	assert_int_equal(mh_table_row_count(at), 1);
	tags8 ac;
	check(f,
	      mh_table_set_columns(
	          at, tags_of(&ac, 2, (const uint32_t[]){TAG_ATTACH_NAME, TAG_ATTACH_SIZE})),
	      "attachment columns");
	rs = all_rows(f, at);
	assert_int_equal(rs->count, 1);
	assert_string_equal(row_str(&rs->rows[0], 0), "q1-report.txt");
	assert_int_equal(rs->rows[0].props[1].Value.l, 26);
	/* No ID column to open an attachment row's object by. */
	SPropValue *full = NULL;
	assert_int_equal(mh_table_read_full(at, &rs->rows[0], 0, &full), MAPI_E_INVALID_PARAMETER);
	MAPIFreeBuffer(rs);
	mh_table_close(at);
	mh_message_close(m);
	mh_folder_close(in);
	mh_store_close(bob);
}

static void test_session_objects__entryids(void **state)
{
	fixture *f = *state;
	mh_store *bob = bob_as_svc(f, false);
	mh_folder *pf = open_path(f, bob, "Inbox/Projects");
	SPropValue *v = NULL;
	get_prop(f, pf, NULL, PR_ENTRYID, &v);
	assert_int_equal(v[0].ulPropTag, PR_ENTRYID);
	assert_int_equal(v[0].Value.bin.cb, 46);
	mh_folder *again = NULL;
	check(f,
	      mh_store_open_folder_entryid(&again, bob, v[0].Value.bin.cb,
	                                   (const ENTRYID *)(const void *)v[0].Value.bin.lpb),
	      "open folder EntryID");
	assert_true(mh_folder_id(again) == mh_folder_id(pf));
	/* The same EntryID is no folder of svc's own mailbox. */
	mh_folder *other = NULL;
	assert_int_equal(
	    mh_store_open_folder_entryid(&other, mh_session_primary(f->s), v[0].Value.bin.cb,
	                                 (const ENTRYID *)(const void *)v[0].Value.bin.lpb),
	    MAPI_E_NOT_FOUND);
	/* Cut short: not an EntryID. */
	assert_int_equal(mh_store_open_folder_entryid(
	                     &other, bob, 20, (const ENTRYID *)(const void *)v[0].Value.bin.lpb),
	                 MAPI_E_INVALID_ENTRYID);
	MAPIFreeBuffer(v);
	mh_folder_close(again);

	/* A message: its EntryID opens the same MID. */
	mh_table *ct = contents_with(f, pf, 3, (const uint32_t[]){PR_MID, PR_ENTRYID, TAG_SUBJECT});
	mh_rowset *rs = all_rows(f, ct);
	assert_int_equal(rs->count, 2);
	for (uint32_t i = 0; i < 2; i++) {
		const mh_row *r = &rs->rows[i];
		assert_int_equal(r->props[1].ulPropTag, PR_ENTRYID);
		assert_int_equal(r->props[1].Value.bin.cb, 70);
		mh_message *m = NULL;
		check(f,
		      mh_store_open_message_entryid(
		          &m, bob, r->props[1].Value.bin.cb,
		          (const ENTRYID *)(const void *)r->props[1].Value.bin.lpb),
		      "open message EntryID");
		tags8 t;
		uint32_t n = 0;
		check(f,
		      mh_message_get_props(
		          m, tags_of(&t, 2, (const uint32_t[]){PR_MID, TAG_SUBJECT}), &n, &v),
		      "message props");
		assert_true(v[0].Value.li == r->props[0].Value.li);
		assert_string_equal(v[1].Value.lpszW, row_str(r, 2));
		MAPIFreeBuffer(v);
		mh_message_close(m);
	}
	/* A folder EntryID is not a message EntryID. */
	mh_message *bad = NULL;
	get_prop(f, pf, NULL, PR_ENTRYID, &v);
	assert_int_equal(
	    mh_store_open_message_entryid(&bad, bob, v[0].Value.bin.cb,
	                                  (const ENTRYID *)(const void *)v[0].Value.bin.lpb),
	    MAPI_E_INVALID_ENTRYID);
	assert_null(bad);
	MAPIFreeBuffer(v);
	MAPIFreeBuffer(rs);
	mh_table_close(ct);
	mh_folder_close(pf);
	mh_store_close(bob);
}

/* ---- truncation ------------------------------------------------------------------------- */

#define LONG_SUBJECT_LEN 300u
#define BIG_BODY_LEN     40000u

/* An organisation with one user whose Inbox holds a 300-character subject and a big body. */
static void write_org(fixture *f, char *path, size_t cap)
{
	FILE *fp = org_file(f, path, cap);
	fprintf(fp, "{\"version\":1,\"domain\":\"contoso.test\",\"organisation\":\"Contoso\","
	            "\"users\":[{\"alias\":\"dora\",\"display_name\":\"Dora Dunn\","
	            "\"password\":\"Dora-Pass-1\",\"folders\":[\"Inbox/Long\",\"Inbox/Long/"
	            "Deeper\",\"Back\\\\slash\"],"
	            "\"messages\":[{\"folder\":\"Inbox\",\"received\":\"2024-01-02T03:04:05Z\","
	            "\"subject\":\"");
	for (unsigned i = 0; i < LONG_SUBJECT_LEN; i++)
		fputc('a' + (int)(i % 26), fp);
	fprintf(fp, "\",\"body\":\"");
	for (unsigned i = 0; i < BIG_BODY_LEN; i++)
		fputc('0' + (int)(i % 10), fp);
	fprintf(fp, "\"},{\"folder\":\"Inbox/Long/Deeper\",\"received\":\"2024-01-02T03:04:05Z\","
	            "\"subject\":\"short\"}]}]}\n");
	assert_int_equal(fclose(fp), 0);
}

static void test_session_objects__truncated(void **state)
{
	fixture *f = *state;
	char org[512];
	write_org(f, org, sizeof(org));
	const char *const extra[] = {"--org", org, NULL};
	start(f, extra);
	open_as(f, "dora" DOMAIN, "Dora-Pass-1");
	mh_store *st = mh_session_primary(f->s);
	mh_folder *in = open_path(f, st, "<inbox>");
	mh_table *t = contents_with(f, in, 3, (const uint32_t[]){PR_MID, TAG_SUBJECT, TAG_BODY});
	mh_rowset *rs = all_rows(f, t);
	assert_int_equal(rs->count, 1);
	const mh_row *r = &rs->rows[0];
	/* Cut at 255 characters by the server, and flagged. */
	assert_int_equal(strlen(row_str(r, 1)), 255);
	assert_true(r->truncated[1]);
	assert_false(r->truncated[0]);
	char want[LONG_SUBJECT_LEN + 1];
	for (unsigned i = 0; i < LONG_SUBJECT_LEN; i++)
		want[i] = (char)('a' + (int)(i % 26));
	want[LONG_SUBJECT_LEN] = 0;
	SPropValue *full = NULL;
	check(f, mh_table_read_full(t, r, 1, &full), "read full subject");
	assert_int_equal(full->ulPropTag, TAG_SUBJECT);
	assert_string_equal(full->Value.lpszW, want);
	MAPIFreeBuffer(full);
	/* The body is no table column here; read whole it is too large for GetPropertiesSpecific
	 * and comes through the stream. */
	check(f, mh_table_read_full(t, r, 2, &full), "read full body");
	assert_int_equal(full->ulPropTag, TAG_BODY);
	assert_int_equal(strlen(full->Value.lpszW), BIG_BODY_LEN);
	for (unsigned i = 0; i < BIG_BODY_LEN; i++)
		if (full->Value.lpszW[i] != '0' + (int)(i % 10))
			fail_msg("body byte %u", i);
	MAPIFreeBuffer(full);
	/* And the message's own stream, read in several RopReadStream. */
	mh_message *m = NULL;
	check(f, mh_folder_open_message(&m, in, (uint64_t)r->props[0].Value.li), "open");
	void *body = NULL;
	size_t len = 0;
	check(f, mh_message_read_stream(m, TAG_BODY, &body, &len), "body stream");
	assert_int_equal(len, BIG_BODY_LEN);
	MAPIFreeBuffer(body);
	SPropValue *v = NULL;
	get_prop(f, NULL, m, TAG_SUBJECT, &v);
	assert_string_equal(v[0].Value.lpszW, want);
	MAPIFreeBuffer(v);
	mh_message_close(m);
	MAPIFreeBuffer(rs);
	mh_table_close(t);
	mh_folder_close(in);

	/* The tree of this organisation: paths from the parent IDs, three levels. */
	mh_folder_entry *e = NULL;
	uint32_t n = 0;
	check(f, mh_store_folder_tree(st, &e, &n), "tree");
	assert_int_equal(n, 7);
	/* A "\\" in a name is escaped in its path, and the path opens it. */
	const mh_folder_entry *bs = entry_at(e, n, "Back\\\\slash");
	assert_string_equal(bs->display_name, "Back\\slash");
	mh_folder *bf = open_path(f, st, bs->path);
	assert_true(mh_folder_id(bf) == bs->folder_id);
	mh_folder_close(bf);
	assert_int_equal(entry_at(e, n, "Inbox")->content_count, 1);
	assert_int_equal(entry_at(e, n, "Inbox")->child_count, 1);
	assert_int_equal(entry_at(e, n, "Inbox/Long/Deeper")->depth, 3);
	assert_int_equal(entry_at(e, n, "Inbox/Long/Deeper")->content_count, 1);
	assert_ptr_equal(entry_at(e, n, "Inbox/Long/Deeper"), entry_at(e, n, "Inbox/Long") + 1);
	MAPIFreeBuffer(e);
	mh_folder *d = open_path(f, st, "inbox/LONG/deeper");
	mh_folder_close(d);
}

/* More folders than one Execute's answer holds: the tree pages on with SeekRow. */
#define MANY_FOLDERS 400u

static void test_session_objects__tree_paged(void **state)
{
	fixture *f = *state;
	char org[512];
	FILE *fp = org_file(f, org, sizeof(org));
	fprintf(fp, "{\"domain\":\"contoso.test\",\"organisation\":\"Contoso\",\"users\":[{"
	            "\"alias\":\"erin\",\"display_name\":\"Erin\",\"password\":\"Erin-Pass-1\","
	            "\"folders\":[\"Inbox/Bulk\"");
	for (unsigned i = 0; i < MANY_FOLDERS; i++)
		fprintf(fp,
		        ",\"Inbox/Bulk/Folder %03u with a rather long display name to fill rows\"",
		        i);
	fprintf(fp, "],\"messages\":[{\"folder\":\"Inbox/Bulk/Folder 399 with a rather long "
	            "display name to fill rows\",\"received\":\"2024-01-02T03:04:05Z\"}]}]}\n");
	assert_int_equal(fclose(fp), 0);
	const char *const extra[] = {"--org", org, NULL};
	start(f, extra);
	open_as(f, "erin" DOMAIN, "Erin-Pass-1");
	mh_store *st = mh_session_primary(f->s);
	uint64_t before = mh_session_request_count(f->s);
	mh_folder_entry *e = NULL;
	uint32_t n = 0;
	check(f, mh_store_folder_tree(st, &e, &n), "tree");
	uint64_t executes = mh_session_request_count(f->s) - before;
	assert_int_equal(n, 4 + 1 + MANY_FOLDERS);
	assert_true(executes >= 2); /* did not fit one answer */
	assert_true(executes <= 10);
	const mh_folder_entry *bulk = entry_at(e, n, "Inbox/Bulk");
	assert_int_equal(bulk->child_count, MANY_FOLDERS);
	/* Depth first, in the server's order below Bulk: every child right after it. */
	for (unsigned i = 0; i < MANY_FOLDERS; i++) {
		char want[128];
		snprintf(want, sizeof(want),
		         "Inbox/Bulk/Folder %03u with a rather long display name to fill rows", i);
		const mh_folder_entry *c = entry_at(e, n, want);
		assert_int_equal(c->depth, 3);
		assert_int_equal(c->content_count, i == MANY_FOLDERS - 1 ? 1 : 0);
		assert_true(c > bulk && c <= bulk + MANY_FOLDERS);
	}
	/* Unique IDs. */
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++)
			assert_true(e[i].folder_id != e[j].folder_id);
	MAPIFreeBuffer(e);
	/* The deep hierarchy table in one call, over several Executes. */
	mh_folder *top = open_path(f, st, "");
	mh_table *t = NULL;
	check(f, mh_folder_hierarchy_table(&t, top, MH_TABLE_DEEP), "deep hierarchy");
	assert_int_equal(mh_table_row_count(t), n);
	before = mh_session_request_count(f->s);
	mh_rowset *rs = all_rows(f, t);
	assert_int_equal(rs->count, n);
	assert_true(mh_session_request_count(f->s) - before >= 2);
	MAPIFreeBuffer(rs);
	mh_table_close(t);
	mh_folder_close(top);
	mh_folder *last =
	    open_path(f, st, "inbox/bulk/folder 399 WITH a rather long display name to fill rows");
	mh_table *ct = NULL;
	check(f, mh_folder_contents_table(&ct, last, 0), "contents");
	assert_int_equal(mh_table_row_count(ct), 1);
	mh_table_close(ct);
	mh_folder_close(last);
}

/* ---- rights ----------------------------------------------------------------------------- */

static void test_session_objects__delegate_rights(void **state)
{
	fixture *f = *state;
	const char *const extra[] = {"--rights-mode", "folder", NULL};
	start(f, extra);
	/* The FID of bob's Projects, as svc (FullAccess) sees it. */
	open_as(f, "svc" DOMAIN, "Svc-Pass-1");
	mh_store *bob = open_mailbox(f, "bob" DOMAIN, false);
	mh_folder *pf = open_path(f, bob, "Inbox/Projects");
	uint64_t projects = mh_folder_id(pf);
	uint64_t sent = 0;
	check(f, mh_store_well_known_fid(bob, "sentitems", &sent), "sent");
	mh_folder_close(pf);
	mh_store_close(bob);
	mh_session_close(f->s);
	f->s = NULL;

	/* alice is Reviewer on bob's Inbox only. */
	open_as(f, "alice" DOMAIN, "Alice-Pass-1");
	bob = open_mailbox(f, "bob" DOMAIN, false);
	mh_store_info si;
	mh_store_get_info(bob, &si);
	assert_false(si.owner);
	mh_folder *in = open_path(f, bob, "<inbox>");
	mh_table *t = NULL;
	check(f, mh_folder_contents_table(&t, in, 0), "contents of the shared Inbox");
	assert_int_equal(mh_table_row_count(t), 4);
	mh_rowset *rs = all_rows(f, t);
	assert_int_equal(rs->count, 4);
	MAPIFreeBuffer(rs);
	mh_table_close(t);
	/* Projects is hidden from her: not in the Inbox's hierarchy, not openable. */
	check(f, mh_folder_hierarchy_table(&t, in, 0), "hierarchy");
	assert_int_equal(mh_table_row_count(t), 0);
	mh_table_close(t);
	mh_folder *x = NULL;
	assert_int_equal(mh_store_open_folder_path(&x, bob, "<inbox>/Projects"), MAPI_E_NOT_FOUND);
	assert_int_equal(mh_store_open_folder(&x, bob, projects), MAPI_E_NO_ACCESS);
	assert_null(x);
	assert_contains(mh_session_errmsg(f->s), "RopOpenFolder");
	assert_contains(mh_session_errmsg(f->s), "0x80070005");
	assert_int_equal(mh_store_open_folder(&x, bob, sent), MAPI_E_NO_ACCESS);
	/* No calendar: the Inbox does not have the tag, the root is not hers to read. */
	uint64_t cal = 0;
	assert_int_equal(mh_store_well_known_fid(bob, "calendar", &cal), MAPI_E_NOT_FOUND);
	assert_contains(mh_session_errmsg(f->s), "the root (MAPI_E_NO_ACCESS)");
	/* The IPM subtree is not hers to see either: no tree. */
	mh_folder_entry *e = NULL;
	uint32_t n = 0;
	assert_int_equal(mh_store_folder_tree(bob, &e, &n), MAPI_E_NO_ACCESS);
	assert_null(e);
	mh_folder_close(in);
	mh_store_close(bob);
}

/* ---- replay under faults ---------------------------------------------------------------- */

/*
 * A read-only walk whose objects live across several Executes: a folder, a contents table
 * read in pages, a message with its body stream, recipients and properties. Under a fault the
 * results must be the same as without.
 */
static uint32_t walk(fixture *f, char *out, size_t cap)
{
	mh_store *bob = open_mailbox(f, "bob" DOMAIN, false);
	mh_folder *in = open_path(f, bob, "<inbox>");
	mh_table *t = contents_with(f, in, 2, (const uint32_t[]){PR_MID, TAG_SUBJECT});
	mh_sort_order by_subject = {TAG_SUBJECT, false};
	check(f, mh_table_sort(t, &by_subject, 1), "sort");
	size_t w = 0;
	uint64_t mids[8];
	uint32_t n = 0;
	for (;;) {
		mh_rowset *rs = NULL;
		check(f, mh_table_query_rows(t, 1, &rs), "page");
		uint32_t k = rs->count;
		if (k == 1) {
			mids[n++] = (uint64_t)rs->rows[0].props[0].Value.li;
			w += (size_t)snprintf(out + w, cap - w, "%s|", row_str(&rs->rows[0], 1));
		}
		MAPIFreeBuffer(rs);
		if (k == 0)
			break;
	}
	assert_int_equal(n, 4);
	for (uint32_t i = 0; i < n; i++) {
		mh_message *m = NULL;
		check(f, mh_folder_open_message(&m, in, mids[i]), "open message");
		void *body = NULL;
		size_t len = 0;
		check(f, mh_message_read_stream(m, TAG_BODY, &body, &len), "body");
		w += (size_t)snprintf(out + w, cap - w, "%s|", (const char *)body);
		MAPIFreeBuffer(body);
		mh_table *rt = NULL;
		check(f, mh_message_recipient_table(&rt, m), "recipients");
		w += (size_t)snprintf(out + w, cap - w, "%u|", mh_table_row_count(rt));
		mh_table_close(rt);
		SPropValue *v = NULL;
		get_prop(f, NULL, m, TAG_SUBJECT, &v);
		w += (size_t)snprintf(out + w, cap - w, "%s|", v[0].Value.lpszW);
		MAPIFreeBuffer(v);
		mh_message_close(m);
	}
	mh_folder_entry *e = NULL;
	check(f, mh_store_folder_tree(bob, &e, &n), "tree");
	for (uint32_t i = 0; i < n; i++)
		w += (size_t)snprintf(out + w, cap - w, "%s:%u|", e[i].path, e[i].content_count);
	MAPIFreeBuffer(e);
	mh_table_close(t);
	mh_folder_close(in);
	uint32_t relogons = bob->generation; /* how often the context was lost under it */
	mh_store_close(bob);
	return relogons;
}

static uint32_t fault_story(fixture *f, const char *fault)
{
	static char plain[8192], faulty[8192];
	start(f, NULL);
	open_as(f, "svc" DOMAIN, "Svc-Pass-1");
	assert_int_equal(walk(f, plain, sizeof(plain)), 0);
	mh_session_close(f->s);
	f->s = NULL;
	mh_test_server_stop(&f->srv, SIGTERM);
	mh_test_server_cleanup(&f->srv);
	memset(&f->srv, 0, sizeof(f->srv));
	const char *const extra[] = {"--fault", fault, NULL};
	start(f, extra);
	open_as(f, "svc" DOMAIN, "Svc-Pass-1");
	uint32_t relogons = walk(f, faulty, sizeof(faulty));
	assert_string_equal(plain, faulty);
	assert_contains(plain, "Draft attached");
	return relogons;
}

static void test_session_objects__fault_expire(void **state)
{
	/* Contexts lost while folders, tables and messages were open, and replayed. */
	assert_true(fault_story(*state, "expire,every=5") >= 3);
}

static void test_session_objects__fault_expire_often(void **state)
{
	assert_true(fault_story(*state, "expire,every=3") >= 5);
}

static void test_session_objects__fault_backoff(void **state)
{
	assert_int_equal(fault_story(*state, "backoff,every=2,ms=50"), 0);
}

/*
 * Closing an object costs no request: its RopRelease goes with the next Execute. mapihttpd
 * caps a context at 1024 objects, so 1100 open/close rounds succeed only if every release
 * reached it.
 */
static void test_session_objects__release_rides_along(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_as(f, "svc@contoso.test", "Svc-Pass-1");
	mh_store *st = mh_session_primary(f->s);
	uint64_t inbox = 0;
	check(f, mh_store_well_known_fid(st, "inbox", &inbox), "inbox FID");
	for (int i = 0; i < 1100; i++) {
		uint64_t before = mh_session_request_count(f->s);
		mh_folder *fo = NULL;
		mh_status r = mh_store_open_folder(&fo, st, inbox);
		if (r != S_OK)
			fail_msg("round %d: %s: %s", i, mh_status_str(r), mh_session_errmsg(f->s));
		mh_folder_close(fo);
		assert_int_equal(mh_session_request_count(f->s), before + 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_session_objects__well_known, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__tree_bob, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__tree_archive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__contents_sorted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__paging, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__hierarchy_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__entryids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__tree_paged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__delegate_rights, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__fault_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__fault_expire_often, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__fault_backoff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_objects__release_rides_along, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
