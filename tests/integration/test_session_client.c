/*
 * The EMSMDB and NSPI session contexts (src/session/) against the built mapihttpd on port 0:
 * Connect, RopLogon, chained Executes, the archive redirect path through GetMailboxUrl,
 * RopBufferTooSmall and ecBufferTooSmall, recovery under --fault, keep-alive, and NSPI.
 */
#define _DEFAULT_SOURCE /* mkdtemp, usleep, strdup */

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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "codec/emsmdb.h"
#include "codec/mapihttp.h"
#include "codec/rpc_ext.h"
#include "mapihttp/proptags.h"
#include "mapihttp/sys/transport.h"
#include "session/emsmdb_client.h"
#include "session/nspi_client.h"
#include "mapihttpd_proc.h"
#include "transport/loop.h"

#ifndef MH_SERVER_PATH
#error "MH_SERVER_PATH must name the mapihttpd binary"
#endif

#define DOMAIN         "@contoso.test"
#define DN_PREFIX      "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define DN_OF(u)       DN_PREFIX "/cn=Recipients/cn=" u
#define ALICE_GUID     "3a355873-72e9-840e-9c30-d2cf806e1a0f"
#define BOB_GUID       "eb113c0f-3344-86e1-ad16-c68cf5c1be62"
#define ARCH_GUID      "6bc6e012-62aa-8d2f-bbd6-151067afaa5d"
#define CAROL_GUID     "34c26e5f-43a8-8183-8cb2-aa586d70e5db"
#define SVC_GUID       "8a39cc22-65dd-872d-88ea-24f72c31f5d9"
#define ARCH_DN        DN_OF("bob") "/guid=" ARCH_GUID
#define ARCH_SERVER_DN DN_PREFIX "/cn=Configuration/cn=Servers/cn=" ARCH_GUID DOMAIN

/* ---- clients ------------------------------------------------------------------------------ */

typedef struct user {
	const char *name; /* alias */
	const char *password;
	const char *guid; /* primary mailbox */
} user;

static const user ALICE = {"alice", "Alice-Pass-1", ALICE_GUID};
static const user CAROL = {"carol", "Carol-Pass-1", CAROL_GUID};
static const user SVC = {"svc", "Svc-Pass-1", SVC_GUID};

typedef struct fixture {
	mh_test_server srv;
	mh_transport *t;
	mh_loop *loop;
	char login[64];
} fixture;

static void fixture_start(fixture *f, const char *const *extra)
{
	assert_int_equal(mh_test_server_start(&f->srv, MH_SERVER_PATH, extra), 0);
	assert_int_equal(mh_transport_curl_new(&f->t, NULL), S_OK);
	assert_int_equal(mh_loop_new(&f->loop, f->t, NULL), S_OK);
}

static void fixture_stop(fixture *f)
{
	mh_loop_free(f->loop);
	mh_transport_free(f->t);
	f->loop = NULL;
	f->t = NULL;
	if (f->srv.pid > 0)
		mh_test_server_stop(&f->srv, SIGTERM);
	mh_test_server_cleanup(&f->srv);
}

/* Every test gets a fixture; teardown stops its server even when an assertion failed. */
static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	*state = f;
	return f != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	fixture *f = *state;
	fixture_stop(f);
	free(f);
	return 0;
}

static char *mailbox_url(const fixture *f, const char *endpoint, const char *guid)
{
	char buf[sizeof(f->srv.url) + 128];
	snprintf(buf, sizeof(buf), "%s/mapi/%s/?MailboxId=%s" DOMAIN, f->srv.url, endpoint, guid);
	return strdup(buf);
}

/* An EMSMDB client for u on the endpoint of mailbox guid; o may adjust the options. */
static mh_emsmdb_client *emsmdb_for(fixture *f, const user *u, const char *guid,
                                    const mh_emsmdb_client_options *base)
{
	mh_emsmdb_client_options o = MH_EMSMDB_CLIENT_OPTIONS_INIT;
	if (base != NULL)
		o = *base;
	char *url = mailbox_url(f, "emsmdb", guid);
	char dn[256];
	snprintf(dn, sizeof(dn), DN_OF("%s"), u->name);
	snprintf(f->login, sizeof(f->login), "%s" DOMAIN, u->name);
	o.url = url;
	o.user_dn = dn;
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.user = f->login;
	o.auth.secret = u->password;
	o.client_guid.Data1 = 0x2F94A2BFu;
	o.client_counter = 1;
	mh_emsmdb_client *c = NULL;
	assert_int_equal(mh_emsmdb_client_new(&c, f->loop, &o), S_OK);
	free(url);
	return c;
}

static mh_nspi_client *nspi_for(fixture *f, const user *u)
{
	mh_nspi_client_options o = MH_NSPI_CLIENT_OPTIONS_INIT;
	char *url = mailbox_url(f, "nspi", u->guid);
	snprintf(f->login, sizeof(f->login), "%s" DOMAIN, u->name);
	o.url = url;
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.user = f->login;
	o.auth.secret = u->password;
	mh_nspi_client *c = NULL;
	assert_int_equal(mh_nspi_client_new(&c, f->loop, &o), S_OK);
	free(url);
	return c;
}

/* A deadline 20 s from now on the loop's clock: no test waits for ever. */
static uint64_t soon(const fixture *f)
{
	return mh_loop_now(f->loop) + 20000;
}

static void connect_ok(fixture *f, mh_emsmdb_client *c)
{
	mh_status st = mh_emsmdb_client_connect_sync(c, soon(f), NULL);
	if (st != S_OK)
		fail_msg("Connect: %s: %s", mh_status_str(st), mh_emsmdb_client_errmsg(c));
	assert_true(mh_emsmdb_client_connected(c));
}

/* RopLogon to essdn; fills *lr (pointers in a). */
static mh_status logon(fixture *f, mh_emsmdb_client *c, const char *essdn, mh_arena *a,
                       mh_emsmdb_logon_result *lr)
{
	bool reset = false;
	mh_status st = mh_emsmdb_client_logon_sync(c, 0, essdn, a, lr, soon(f), &reset);
	if (st != S_OK)
		return st;
	assert_false(reset);
	return lr->status;
}

/*
 * OpenFolder(fid) in 0 out 1 -> GetContentsTable in 1 out 2 -> SetColumns(subject) in 2 ->
 * QueryRows(100) in 2, on the logon handle; the rows read, or -1.
 */
static const struct {
	uint32_t n;
	uint32_t t[1];
} subject_cols = {1, {PR_SUBJECT_W}};

static mh_status browse(fixture *f, mh_emsmdb_client *c, uint32_t logon_handle, uint64_t fid,
                        mh_arena *a, mh_emsmdb_execute_result *res, int *rows)
{
	mh_rop_request q[4];
	memset(q, 0, sizeof(q));
	q[0].rop_id = MH_ROP_OPEN_FOLDER;
	q[0].in_handle_index = 0;
	q[0].out_handle_index = 1;
	q[0].u.open_folder.folder_id = fid;
	q[1].rop_id = MH_ROP_GET_CONTENTS_TABLE;
	q[1].in_handle_index = 1;
	q[1].out_handle_index = 2;
	q[1].u.get_table.table_flags = 0x40;
	q[2].rop_id = MH_ROP_SET_COLUMNS;
	q[2].in_handle_index = 2;
	q[2].u.set_columns.tags = (SPropTagArray *)(uintptr_t)(const void *)&subject_cols;
	q[3].rop_id = MH_ROP_QUERY_ROWS;
	q[3].in_handle_index = 2;
	q[3].u.query_rows.forward_read = 1;
	q[3].u.query_rows.row_count = 100;
	uint32_t handles[3] = {logon_handle, 0xFFFFFFFFu, 0xFFFFFFFFu};
	mh_emsmdb_execute_args args;
	memset(&args, 0, sizeof(args));
	args.rops = q;
	args.n_rops = 4;
	args.handles = handles;
	args.n_handles = 3;
	args.arena = a;
	bool reset = false;
	mh_status st = mh_emsmdb_client_execute_sync(c, &args, res, soon(f), &reset);
	*rows = -1;
	if (st != S_OK)
		return st;
	assert_int_equal(res->responses.count, 4);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(res->responses.rops[i].rop_id, q[i].rop_id);
		assert_int_equal(res->responses.rops[i].return_value, 0);
	}
	const mh_rop_response *qr = &res->responses.rops[3];
	assert_non_null(qr->u.query_rows.columns); /* decoded, not raw */
	for (uint16_t i = 0; i < qr->u.query_rows.row_count; i++) {
		assert_int_equal(qr->u.query_rows.rows[i].cValues, 1);
		assert_int_equal(qr->u.query_rows.rows[i].lpProps[0].ulPropTag, PR_SUBJECT_W);
		assert_non_null(qr->u.query_rows.rows[i].lpProps[0].Value.lpszW);
	}
	*rows = qr->u.query_rows.row_count;
	return S_OK;
}

/* ---- EMSMDB ------------------------------------------------------------------------------- */

static void test_session_client__alice_own_mailbox(void **state)
{
	fixture *fx = *state;
	fixture_start(fx, NULL);
	mh_emsmdb_client *c = emsmdb_for(fx, &ALICE, ALICE_GUID, NULL);
	connect_ok(fx, c);
	assert_string_equal(mh_emsmdb_client_connect_info(c)->display_name, "Alice Archer");

	mh_arena a;
	mh_arena_init(&a, 0);
	mh_emsmdb_logon_result lr;
	assert_int_equal(logon(fx, c, DN_OF("alice"), &a, &lr), S_OK);
	assert_non_null(lr.logon);
	assert_true(lr.logon->is_private);
	assert_true((lr.logon->response_flags & 0x02) != 0); /* OwnerRight */
	for (int i = 0; i < MH_LOGON_FID_COUNT; i++)
		assert_true(lr.logon->folder_ids[i] != 0);
	assert_int_not_equal(lr.handle, 0xFFFFFFFFu);

	mh_emsmdb_execute_result res;
	int rows = -1;
	assert_int_equal(
	    browse(fx, c, lr.handle, lr.logon->folder_ids[MH_LOGON_FID_INBOX], &a, &res, &rows),
	    S_OK);
	assert_int_equal(rows, 3);
	assert_int_equal(res.rounds, 1);
	assert_int_equal(res.responses.handle_count, 3);

	mh_sctx_stats stats;
	mh_emsmdb_client_stats(c, &stats);
	assert_int_equal(stats.requests, 3); /* Connect, Execute(logon), Execute(browse) */
	assert_int_equal(mh_emsmdb_client_disconnect_sync(c, soon(fx)), S_OK);
	assert_false(mh_emsmdb_client_connected(c));
	mh_emsmdb_client_stats(c, &stats);
	assert_int_equal(stats.requests, 4);
	/* After Disconnect the server knows the context no more. */
	mh_status st = mh_emsmdb_client_logon_sync(c, 0, DN_OF("alice"), &a, &lr, soon(fx), NULL);
	assert_int_not_equal(st, S_OK);
	mh_arena_free(&a);
	mh_emsmdb_client_free(c);
}

/* The whole redirect path: ecWrongServer -> GetMailboxUrl -> Connect there -> RopLogon. */
static void test_session_client__archive_redirect(void **state)
{
	fixture *fx = *state;
	fixture_start(fx, NULL);
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_emsmdb_logon_result lr;

	/* svc's own endpoint does not host bob's archive. */
	mh_emsmdb_client *own = emsmdb_for(fx, &SVC, SVC_GUID, NULL);
	connect_ok(fx, own);
	assert_int_equal(logon(fx, own, ARCH_DN, &a, &lr), MAPI_E_UNCONFIGURED);
	assert_true(lr.wrong_server);
	assert_int_equal(lr.return_value, (uint32_t)ecWrongServer);
	assert_string_equal(lr.server_name, ARCH_SERVER_DN);
	assert_non_null(strstr(mh_emsmdb_client_errmsg(own), "ecWrongServer"));

	mh_nspi_client *ab = nspi_for(fx, &SVC);
	assert_int_equal(mh_nspi_client_bind_sync(ab, soon(fx)), S_OK);
	const char *url = NULL;
	mh_status st =
	    mh_nspi_client_get_mailbox_url_sync(ab, lr.server_name, &a, &url, soon(fx), NULL);
	if (st != S_OK)
		fail_msg("GetMailboxUrl: %s", mh_nspi_client_errmsg(ab));
	char *want = mailbox_url(fx, "emsmdb", ARCH_GUID);
	assert_string_equal(url, want);
	free(want);

	/* Connect there with svc's own DN, log on with the archive's. */
	mh_emsmdb_client_options o = MH_EMSMDB_CLIENT_OPTIONS_INIT;
	o.url = url;
	o.user_dn = DN_OF("svc");
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.user = "svc" DOMAIN;
	o.auth.secret = "Svc-Pass-1";
	o.client_counter = 2;
	mh_emsmdb_client *arch = NULL;
	assert_int_equal(mh_emsmdb_client_new(&arch, fx->loop, &o), S_OK);
	connect_ok(fx, arch);
	assert_int_equal(logon(fx, arch, ARCH_DN, &a, &lr), S_OK);
	assert_true((lr.logon->response_flags & 0x02) != 0); /* FullAccess on bob: owner */
	int rows = -1;
	mh_emsmdb_execute_result res;
	assert_int_equal(
	    browse(fx, arch, lr.handle, lr.logon->folder_ids[MH_LOGON_FID_INBOX], &a, &res, &rows),
	    S_OK);
	assert_int_equal(rows, 3); /* the archive's Inbox */

	/* carol has no rights on bob: an archive has no delegate mode. */
	mh_emsmdb_client *carol = emsmdb_for(fx, &CAROL, ARCH_GUID, NULL);
	connect_ok(fx, carol);
	assert_int_equal(logon(fx, carol, ARCH_DN, &a, &lr), MAPI_E_NO_ACCESS);
	assert_int_equal(lr.return_value, (uint32_t)ecLoginPerm);
	assert_non_null(strstr(mh_emsmdb_client_errmsg(carol), "ecLoginPerm"));

	assert_int_equal(mh_nspi_client_unbind_sync(ab, soon(fx)), S_OK);
	mh_nspi_client_free(ab);
	mh_emsmdb_client_free(carol);
	mh_emsmdb_client_free(arch);
	mh_emsmdb_client_free(own);
	mh_arena_free(&a);
}

/* Connect with a DN that is not the caller's: the Connect ErrorCode is mapped, kept in the
 * message. */
static void test_session_client__connect_refused(void **state)
{
	fixture *fx = *state;
	fixture_start(fx, NULL);
	mh_emsmdb_client_options o = MH_EMSMDB_CLIENT_OPTIONS_INIT;
	char *url = mailbox_url(fx, "emsmdb", ALICE_GUID);
	o.url = url;
	o.user_dn = DN_OF("bob");
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.user = "alice" DOMAIN;
	o.auth.secret = "Alice-Pass-1";
	mh_emsmdb_client *c = NULL;
	assert_int_equal(mh_emsmdb_client_new(&c, fx->loop, &o), S_OK);
	free(url);
	mh_status st = mh_emsmdb_client_connect_sync(c, soon(fx), NULL);
	assert_true(st == MAPI_E_NO_ACCESS || st == MAPI_E_LOGON_FAILED);
	assert_non_null(strstr(mh_emsmdb_client_errmsg(c), "ErrorCode"));
	assert_false(mh_emsmdb_client_connected(c));
	mh_emsmdb_client_free(c);
}

/* OpenFolder(fid) in 0 out 1 -> GetContentsTable in 1 out 2. */
static mh_status open_table(fixture *f, mh_emsmdb_client *c, uint32_t logon_handle, uint64_t fid,
                            mh_arena *a, mh_emsmdb_execute_result *res)
{
	mh_rop_request q[2];
	memset(q, 0, sizeof(q));
	q[0].rop_id = MH_ROP_OPEN_FOLDER;
	q[0].in_handle_index = 0;
	q[0].out_handle_index = 1;
	q[0].u.open_folder.folder_id = fid;
	q[1].rop_id = MH_ROP_GET_CONTENTS_TABLE;
	q[1].in_handle_index = 1;
	q[1].out_handle_index = 2;
	uint32_t handles[3] = {logon_handle, 0xFFFFFFFFu, 0xFFFFFFFFu};
	mh_emsmdb_execute_args args;
	memset(&args, 0, sizeof(args));
	args.rops = q;
	args.n_rops = 2;
	args.handles = handles;
	args.n_handles = 3;
	args.arena = a;
	return mh_emsmdb_client_execute_sync(c, &args, res, soon(f), NULL);
}

/*
 * MaxRopOut 38 (30 payload bytes): the OpenFolder answer fits, the GetContentsTable answer
 * does not but RopBufferTooSmall with its request does; the client sends GetContentsTable
 * again with the folder's handle and a larger MaxRopOut, and merges both answers. MaxRopOut
 * 16 fits nothing: Execute-level ecBufferTooSmall, sent again with 0x40000. (The logons on
 * these small clients take that path too.)
 */
static void test_session_client__buffer_too_small(void **state)
{
	fixture *fx = *state;
	fixture_start(fx, NULL);
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_emsmdb_client_options o = MH_EMSMDB_CLIENT_OPTIONS_INIT;
	o.max_rop_out = 38;
	mh_emsmdb_client *c = emsmdb_for(fx, &ALICE, ALICE_GUID, &o);
	connect_ok(fx, c);
	mh_emsmdb_logon_result lr;
	assert_int_equal(logon(fx, c, DN_OF("alice"), &a, &lr), S_OK);
	uint64_t inbox = lr.logon->folder_ids[MH_LOGON_FID_INBOX];
	mh_emsmdb_execute_result res;
	mh_status st = open_table(fx, c, lr.handle, inbox, &a, &res);
	if (st != S_OK)
		fail_msg("MaxRopOut 38: %s", mh_emsmdb_client_errmsg(c));
	assert_int_equal(res.too_small, 1);
	assert_int_equal(res.rounds, 2);
	assert_int_equal(res.responses.count, 2);
	assert_int_equal(res.responses.rops[0].rop_id, MH_ROP_OPEN_FOLDER);
	assert_int_equal(res.responses.rops[0].return_value, 0);
	assert_int_equal(res.responses.rops[1].rop_id, MH_ROP_GET_CONTENTS_TABLE);
	assert_int_equal(res.responses.rops[1].return_value, 0);
	assert_int_equal(res.responses.rops[1].u.get_table.row_count, 3);
	assert_int_equal(res.responses.handle_count, 3);
	assert_int_not_equal(res.responses.handles[1], 0xFFFFFFFFu);
	assert_int_not_equal(res.responses.handles[2], 0xFFFFFFFFu);
	assert_int_not_equal(res.responses.handles[1], res.responses.handles[2]);
	int rows = -1;
	mh_emsmdb_client_free(c);

	o.max_rop_out = 16;
	c = emsmdb_for(fx, &ALICE, ALICE_GUID, &o);
	connect_ok(fx, c);
	assert_int_equal(logon(fx, c, DN_OF("alice"), &a, &lr), S_OK);
	st = browse(fx, c, lr.handle, inbox, &a, &res, &rows);
	if (st != S_OK)
		fail_msg("MaxRopOut 16: %s", mh_emsmdb_client_errmsg(c));
	assert_int_equal(rows, 3);
	assert_int_equal(res.rounds, 2);
	assert_int_equal(res.too_small, 0);
	assert_int_equal(res.max_rop_out, MH_EMSMDB_MAX_ROP_OUT_LIMIT);
	mh_emsmdb_client_free(c);
	mh_arena_free(&a);
}

/* Logs on as alice and browses her Inbox; the rows, or -1 with *st set. */
static int alice_browse(fixture *f, mh_emsmdb_client *c, mh_arena *a, mh_status *st,
                        mh_emsmdb_execute_result *res)
{
	mh_emsmdb_logon_result lr;
	*st = logon(f, c, DN_OF("alice"), a, &lr);
	if (*st != S_OK)
		return -1;
	int rows = -1;
	*st = browse(f, c, lr.handle, lr.logon->folder_ids[MH_LOGON_FID_INBOX], a, res, &rows);
	return rows;
}

static void test_session_client__fault_backoff(void **state)
{
	fixture *fx = *state;
	const char *extra[] = {"--fault", "backoff,every=2,ms=200", NULL};
	fixture_start(fx, extra);
	mh_emsmdb_client *c = emsmdb_for(fx, &ALICE, ALICE_GUID, NULL);
	connect_ok(fx, c);
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_status st;
	mh_emsmdb_execute_result res;
	/* Execute 1 (logon) runs, Execute 2 (browse) is backed off, its resend runs. */
	assert_int_equal(alice_browse(fx, c, &a, &st, &res), 3);
	assert_int_equal(res.backoffs, 1);
	assert_int_equal(res.rounds, 2);
	mh_arena_free(&a);
	mh_emsmdb_client_free(c);
}

static void test_session_client__fault_503(void **state)
{
	fixture *fx = *state;
	const char *extra[] = {"--fault", "503,every=3,ms=1000", NULL};
	fixture_start(fx, extra);
	mh_emsmdb_client_options o = MH_EMSMDB_CLIENT_OPTIONS_INIT;
	o.retry.cap_ms = 200; /* Retry-After 1 s, capped */
	o.retry.seed = 7;
	mh_emsmdb_client *c = emsmdb_for(fx, &ALICE, ALICE_GUID, &o);
	connect_ok(fx, c); /* request 1 */
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_status st;
	mh_emsmdb_execute_result res;
	/* Request 2 logs on, 3 (the browse Execute) gets 503 and is sent again as 4. */
	assert_int_equal(alice_browse(fx, c, &a, &st, &res), 3);
	mh_sctx_stats stats;
	mh_emsmdb_client_stats(c, &stats);
	assert_int_equal(stats.retries, 1);
	assert_int_equal(stats.requests, 4);
	assert_int_equal(stats.failures, 1);
	mh_arena_free(&a);
	mh_emsmdb_client_free(c);
}

static void test_session_client__fault_expire(void **state)
{
	fixture *fx = *state;
	const char *extra[] = {"--fault", "expire,every=4", NULL};
	fixture_start(fx, extra);
	mh_emsmdb_client *c = emsmdb_for(fx, &ALICE, ALICE_GUID, NULL);
	connect_ok(fx, c);
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_status st;
	mh_emsmdb_execute_result res;
	/* Context requests 1 (logon), 2 (browse) and 3 (PING) work, 4 finds no context. */
	assert_int_equal(alice_browse(fx, c, &a, &st, &res), 3);
	assert_int_equal(mh_emsmdb_client_ping_sync(c, soon(fx), NULL), S_OK);
	bool reset = false;
	st = mh_emsmdb_client_ping_sync(c, soon(fx), &reset);
	assert_int_equal(st, MAPI_E_END_OF_SESSION);
	assert_true(reset);
	assert_non_null(strstr(mh_emsmdb_client_errmsg(c), "reconnected"));
	assert_true(mh_emsmdb_client_connected(c));
	assert_int_equal(mh_emsmdb_client_generation(c), 1);
	mh_sctx_stats stats;
	mh_emsmdb_client_stats(c, &stats);
	assert_int_equal(stats.reconnects, 1);
	/* The session layer logs on again on the new context (the reconnecting Connect does
	 * not count); its work goes on (5, 6, 7), and 8 finds no context again. */
	assert_int_equal(alice_browse(fx, c, &a, &st, &res), 3);
	assert_int_equal(mh_emsmdb_client_ping_sync(c, soon(fx), NULL), S_OK);
	/* An Execute that meets the loss reports it the same way. */
	mh_emsmdb_logon_result lr;
	st = mh_emsmdb_client_logon_sync(c, 0, DN_OF("alice"), &a, &lr, soon(fx), &reset);
	assert_int_equal(st, MAPI_E_END_OF_SESSION);
	assert_true(reset);
	assert_int_equal(mh_emsmdb_client_generation(c), 2);
	mh_arena_free(&a);
	mh_emsmdb_client_free(c);
}

static void test_session_client__fault_close(void **state)
{
	fixture *fx = *state;
	const char *extra[] = {"--fault", "close,every=5", NULL};
	fixture_start(fx, extra);
	mh_emsmdb_client_options o = MH_EMSMDB_CLIENT_OPTIONS_INIT;
	o.retry.base_ms = 10;
	mh_emsmdb_client *c = emsmdb_for(fx, &ALICE, ALICE_GUID, &o);
	connect_ok(fx, c); /* 1 */
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_status st;
	mh_emsmdb_execute_result res;
	assert_int_equal(alice_browse(fx, c, &a, &st, &res), 3);               /* 2, 3 */
	assert_int_equal(mh_emsmdb_client_ping_sync(c, soon(fx), NULL), S_OK); /* 4 */
	/* 5 is closed: a PING is sent again (6). */
	assert_int_equal(mh_emsmdb_client_ping_sync(c, soon(fx), NULL), S_OK);
	mh_sctx_stats stats;
	mh_emsmdb_client_stats(c, &stats);
	assert_int_equal(stats.retries, 1);
	/* 7, 8 browse; 9 PING; 10 (an Execute) is closed: reported, not sent again. */
	assert_int_equal(alice_browse(fx, c, &a, &st, &res), 3);
	assert_int_equal(mh_emsmdb_client_ping_sync(c, soon(fx), NULL), S_OK);
	mh_emsmdb_logon_result lr;
	bool reset = true;
	st = mh_emsmdb_client_logon_sync(c, 0, DN_OF("alice"), &a, &lr, soon(fx), &reset);
	assert_int_equal(st, MAPI_E_NETWORK_ERROR);
	assert_false(reset);
	assert_non_null(strstr(mh_emsmdb_client_errmsg(c), "not sent again"));
	assert_null(strstr(mh_emsmdb_client_errmsg(c), "Alice-Pass-1"));
	mh_emsmdb_client_stats(c, &stats);
	assert_int_equal(stats.retries, 1);
	assert_int_equal(stats.requests, 10);
	/* The context is intact: the request never reached it. */
	assert_int_equal(alice_browse(fx, c, &a, &st, &res), 3);
	mh_arena_free(&a);
	mh_emsmdb_client_free(c);
}

static void test_session_client__fault_stall(void **state)
{
	fixture *fx = *state;
	const char *extra[] = {"--fault", "stall,every=2,ms=300", "--pending-period", "50", NULL};
	fixture_start(fx, extra);
	mh_emsmdb_client *c = emsmdb_for(fx, &ALICE, ALICE_GUID, NULL);
	connect_ok(fx, c);
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_status st;
	mh_emsmdb_execute_result res;
	for (int i = 0; i < 2; i++)
		assert_int_equal(alice_browse(fx, c, &a, &st, &res), 3);
	assert_int_equal(mh_emsmdb_client_ping_sync(c, soon(fx), NULL), S_OK);
	mh_sctx_stats stats;
	mh_emsmdb_client_stats(c, &stats);
	assert_int_equal(stats.retries, 0);
	assert_int_equal(stats.failures, 0);
	mh_arena_free(&a);
	mh_emsmdb_client_free(c);
}

/*
 * Keep-alive: the server drops a context idle for 1 s. With keep-alive the client PINGs every
 * half period and its context survives 1.6 s of idleness; without, it is lost.
 */
static void idle_end(void *ud)
{
	*(bool *)ud = true;
}

static void test_session_client__keep_alive(void **state)
{
	fixture *fx = *state;
	const char *extra[] = {"--expiration", "1000", NULL};
	fixture_start(fx, extra);
	mh_arena a;
	mh_arena_init(&a, 0);
	for (int with = 1; with >= 0; with--) {
		mh_emsmdb_client_options o = MH_EMSMDB_CLIENT_OPTIONS_INIT;
		o.keep_alive = with != 0;
		mh_emsmdb_client *c = emsmdb_for(fx, &ALICE, ALICE_GUID, &o);
		connect_ok(fx, c);
		/* Idle for 1.6 s: the loop runs only its timers (keep-alive, if any, and this one,
		 * which marks the end of the idle time). */
		bool idle_over = false;
		assert_int_equal(mh_loop_timer(fx->loop, 1600, idle_end, &idle_over, NULL), S_OK);
		assert_int_equal(mh_loop_run_until(fx->loop, &idle_over, soon(fx)), S_OK);
		mh_sctx_stats stats;
		mh_emsmdb_client_stats(c, &stats);
		mh_emsmdb_logon_result lr;
		bool reset = false;
		mh_status st =
		    mh_emsmdb_client_logon_sync(c, 0, DN_OF("alice"), &a, &lr, soon(fx), &reset);
		if (with) {
			assert_true(stats.keepalives >= 2);
			assert_int_equal(stats.requests, 1 + stats.keepalives);
			assert_int_equal(st, S_OK);
			assert_false(reset);
		} else {
			assert_int_equal(stats.keepalives, 0);
			assert_int_equal(st, MAPI_E_END_OF_SESSION);
			assert_true(reset);
		}
		mh_emsmdb_client_free(c);
	}
	mh_arena_free(&a);
}

/* Many contexts at once on one loop: each a state machine, driven together. */
typedef struct multi {
	int done;
	mh_status st[3];
} multi;

static void multi_connected(mh_emsmdb_client *c, mh_status st, bool reset, void *payload)
{
	(void)c;
	(void)reset;
	multi *m = payload;
	for (int i = 0; i < 3; i++)
		if (m->st[i] == MAPI_E_CALL_FAILED) {
			m->st[i] = st;
			break;
		}
	m->done++;
}

static void test_session_client__concurrent_contexts(void **state)
{
	fixture *fx = *state;
	fixture_start(fx, NULL);
	mh_emsmdb_client *c[3];
	c[0] = emsmdb_for(fx, &ALICE, ALICE_GUID, NULL);
	c[1] = emsmdb_for(fx, &SVC, BOB_GUID, NULL);
	c[2] = emsmdb_for(fx, &SVC, ARCH_GUID, NULL);
	multi m;
	memset(&m, 0, sizeof(m));
	for (int i = 0; i < 3; i++)
		m.st[i] = MAPI_E_CALL_FAILED;
	for (int i = 0; i < 3; i++)
		assert_int_equal(mh_emsmdb_client_connect(c[i], multi_connected, &m), S_OK);
	assert_int_equal(mh_emsmdb_client_connect(c[0], multi_connected, &m), MAPI_E_BUSY);
	while (m.done < 3)
		assert_int_equal(mh_loop_run_once(fx->loop, 1000), S_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(m.st[i], S_OK);
		assert_true(mh_emsmdb_client_connected(c[i]));
		mh_emsmdb_client_free(c[i]);
	}
}

/* ---- NSPI --------------------------------------------------------------------------------- */

static void test_session_client__nspi(void **state)
{
	fixture *fx = *state;
	fixture_start(fx, NULL);
	mh_nspi_client *ab = nspi_for(fx, &ALICE);
	mh_arena a;
	mh_arena_init(&a, 0);
	assert_int_equal(mh_nspi_client_bind_sync(ab, soon(fx)), S_OK);
	assert_true(mh_nspi_client_bound(ab));
	const GUID *g = mh_nspi_client_server_guid(ab);
	assert_true(g->Data1 != 0 || g->Data2 != 0 || g->Data3 != 0);

	const char *names[] = {"bob", "nobody-at-all"};
	mh_nspi_result r;
	mh_status st = mh_nspi_client_resolve_names_sync(ab, names, 2, &a, &r, soon(fx), NULL);
	if (st != S_OK)
		fail_msg("ResolveNames: %s", mh_nspi_client_errmsg(ab));
	assert_int_equal(r.n_names, 2);
	assert_true(r.names[0].resolved);
	assert_string_equal(r.names[0].email_address, DN_OF("bob"));
	assert_string_equal(r.names[0].smtp_address, "bob" DOMAIN);
	assert_string_equal(r.names[0].display_name, "Bob Baker");
	assert_non_null(r.names[0].home_mdb);
	assert_non_null(strstr(r.names[0].home_mdb, "/cn=Microsoft Private MDB"));
	assert_false(r.names[1].resolved);
	assert_true(r.names[1].mid == MH_NSPI_MID_UNRESOLVED ||
	            r.names[1].mid == MH_NSPI_MID_AMBIGUOUS);

	/* A user DN: through the home MDB. */
	const char *url = NULL;
	st = mh_nspi_client_get_mailbox_url_sync(ab, DN_OF("bob"), &a, &url, soon(fx), NULL);
	if (st != S_OK)
		fail_msg("GetMailboxUrl: %s", mh_nspi_client_errmsg(ab));
	char *want = mailbox_url(fx, "emsmdb", BOB_GUID);
	assert_string_equal(url, want);
	free(want);
	/* The home MDB DN resolve gave. */
	st = mh_nspi_client_get_mailbox_url_sync(ab, r.names[0].home_mdb, &a, &url, soon(fx), NULL);
	assert_int_equal(st, S_OK);
	assert_non_null(strstr(url, BOB_GUID));
	/* A DN of nothing. */
	st = mh_nspi_client_get_mailbox_url_sync(ab, DN_OF("nobody"), &a, &url, soon(fx), NULL);
	assert_int_equal(st, MAPI_E_NOT_FOUND);
	assert_non_null(strstr(mh_nspi_client_errmsg(ab), "nobody"));

	st = mh_nspi_client_get_address_book_url_sync(ab, DN_OF("bob"), &a, &url, soon(fx), NULL);
	assert_int_equal(st, S_OK);
	want = mailbox_url(fx, "nspi", BOB_GUID);
	assert_string_equal(url, want);
	free(want);

	const char *dns[] = {DN_OF("carol"), DN_OF("nobody")};
	assert_int_equal(mh_nspi_client_dntomid_sync(ab, dns, 2, &a, &r, soon(fx), NULL), S_OK);
	assert_int_equal(r.resp->u.dn_to_mid.mids.count, 2);
	uint32_t carol = r.resp->u.dn_to_mid.mids.mids[0];
	assert_int_not_equal(carol, 0);
	assert_int_equal(r.resp->u.dn_to_mid.mids.mids[1], 0);
	static const struct {
		uint32_t n;
		uint32_t t[2];
	} tags = {2, {PR_DISPLAY_NAME_W, PR_SMTP_ADDRESS_W}};
	assert_int_equal(
	    mh_nspi_client_get_props_sync(ab, carol, (const void *)&tags, &a, &r, soon(fx), NULL),
	    S_OK);
	assert_true(r.resp->u.get_props.has_values);
	assert_int_equal(r.resp->u.get_props.values.count, 2);
	assert_string_equal(r.resp->u.get_props.values.props[1].Value.lpszW, "carol" DOMAIN);

	assert_int_equal(mh_nspi_client_ping_sync(ab, soon(fx), NULL), S_OK);
	assert_int_equal(mh_nspi_client_unbind_sync(ab, soon(fx)), S_OK);
	assert_false(mh_nspi_client_bound(ab));
	mh_sctx_stats stats;
	mh_nspi_client_stats(ab, &stats);
	/* Bind, ResolveNames, GetMailboxUrl+DNToMId+GetProps+GetMailboxUrl, GetMailboxUrl,
	 * GetMailboxUrl+DNToMId, GetAddressBookUrl, DNToMId, GetProps, PING, Unbind */
	assert_int_equal(stats.requests, 14);
	mh_arena_free(&a);
	mh_nspi_client_free(ab);
}

/* NSPI after the context was dropped: Bind again, the operation reports the reset. */
static void test_session_client__nspi_expire(void **state)
{
	fixture *fx = *state;
	const char *extra[] = {"--fault", "expire,every=2", NULL};
	fixture_start(fx, extra);
	mh_nspi_client *ab = nspi_for(fx, &ALICE);
	mh_arena a;
	mh_arena_init(&a, 0);
	assert_int_equal(mh_nspi_client_bind_sync(ab, soon(fx)), S_OK);
	const char *names[] = {"carol"};
	mh_nspi_result r;
	assert_int_equal(mh_nspi_client_resolve_names_sync(ab, names, 1, &a, &r, soon(fx), NULL),
	                 S_OK);
	bool reset = false;
	mh_status st = mh_nspi_client_resolve_names_sync(ab, names, 1, &a, &r, soon(fx), &reset);
	assert_int_equal(st, MAPI_E_END_OF_SESSION);
	assert_true(reset);
	assert_true(mh_nspi_client_bound(ab));
	assert_int_equal(mh_nspi_client_generation(ab), 1);
	st = mh_nspi_client_resolve_names_sync(ab, names, 1, &a, &r, soon(fx), &reset);
	assert_int_equal(st, S_OK);
	assert_true(r.names[0].resolved);
	mh_arena_free(&a);
	mh_nspi_client_free(ab);
}

/* ---- in memory, on a virtual clock ---------------------------------------------------------- */

/* What the scripted server answers to the Executes, in order (then OK). */
typedef enum vkind { V_OK = 0, V_BUSY, V_429 } vkind;

typedef struct vserver {
	uint64_t now; /* the virtual clock, ms */
	const vkind *script;
	size_t n_script, next;
	unsigned pings, executes, connects;
	mh_buf body;
} vserver;

static uint64_t vnow(void *ud)
{
	return ((vserver *)ud)->now;
}

static void vadvance(void *ud, uint64_t to)
{
	vserver *v = ud;
	if (to > v->now)
		v->now = to;
}

static const char *header_of(const mh_transport_request *rq, const char *name)
{
	for (size_t i = 0; i < rq->n_headers; i++)
		if (strcasecmp(rq->headers[i].name, name) == 0)
			return rq->headers[i].value;
	return NULL;
}

static const mh_transport_header v_ok_headers[] = {
    {"X-ResponseCode", "0"}, {"X-ExpirationInfo", "60000"}, {"Set-Cookie", "MapiContext=v1"}};
static const mh_transport_header v_429_headers[] = {{"Retry-After", "2"}};

static mh_status vserve(void *ud, const mh_transport_request *rq, mh_transport_memory_answer *a)
{
	vserver *v = ud;
	const char *type = header_of(rq, "X-RequestType");
	mh_buf *b = &v->body;
	mh_buf_free(b);
	*b = (mh_buf)MH_BUF_INIT;
	memset(a, 0, sizeof(*a));
	a->http_status = 200;
	a->headers = v_ok_headers;
	a->n_headers = 3;
	mh_mapihttp_push_line(b, MH_MAPIHTTP_EV_DONE);
	mh_mapihttp_push_meta_u32(b, "X-ElapsedTime", 1);
	mh_mapihttp_push_meta_end(b);
	if (type != NULL && strcmp(type, "Connect") == 0) {
		v->connects++;
		mh_emsmdb_connect_response r;
		memset(&r, 0, sizeof(r));
		r.retry_count = 2;
		r.retry_delay = 5000;
		r.display_name = "V";
		mh_emsmdb_connect_response_push(b, &r);
	} else if (type != NULL && strcmp(type, "Execute") == 0) {
		v->executes++;
		vkind k = v->next < v->n_script ? v->script[v->next] : V_OK;
		v->next++;
		if (k == V_429) {
			a->http_status = 429;
			a->headers = v_429_headers;
			a->n_headers = 1;
			b->len = 0;
			mh_buf_put(b, "busy", 4);
		} else {
			mh_emsmdb_execute_response r;
			memset(&r, 0, sizeof(r));
			/* RopSize 2 (RopRelease answers nothing) and the one-entry table */
			static const uint8_t plain[6] = {2, 0, 0xff, 0xff, 0xff, 0xff};
			mh_buf ext = MH_BUF_INIT;
			mh_rpc_ext_push_one(&ext, plain, sizeof(plain), NULL, true);
			if (k == V_BUSY) {
				r.status_code = (uint32_t)RPC_S_SERVER_TOO_BUSY;
			} else {
				r.rop_buffer.data = ext.data;
				r.rop_buffer.len = (uint32_t)ext.len;
			}
			mh_emsmdb_execute_response_push(b, &r);
			mh_buf_free(&ext);
		}
	} else if (type != NULL && strcmp(type, "Disconnect") == 0) {
		mh_emsmdb_disconnect_response r;
		memset(&r, 0, sizeof(r));
		mh_emsmdb_disconnect_response_push(b, &r);
	} else {
		v->pings++; /* PING: no body */
	}
	a->body = b->data;
	a->body_len = b->len;
	return mh_buf_status(b);
}

typedef struct vfixture {
	vserver v;
	mh_transport *t;
	mh_loop *loop;
	mh_emsmdb_client *c;
} vfixture;

static void vstart(vfixture *f, const vkind *script, size_t n, bool keep_alive)
{
	memset(f, 0, sizeof(*f));
	f->v.now = 1000;
	f->v.script = script;
	f->v.n_script = n;
	f->v.body = (mh_buf)MH_BUF_INIT;
	assert_int_equal(mh_transport_memory_new(&f->t, vserve, &f->v), S_OK);
	mh_loop_clock clock = {vnow, vadvance, &f->v};
	assert_int_equal(mh_loop_new(&f->loop, f->t, &clock), S_OK);
	mh_emsmdb_client_options o = MH_EMSMDB_CLIENT_OPTIONS_INIT;
	o.url = "http://mail.test/mapi/emsmdb/?MailboxId=v@contoso.test";
	o.user_dn = DN_OF("alice");
	o.keep_alive = keep_alive;
	assert_int_equal(mh_emsmdb_client_new(&f->c, f->loop, &o), S_OK);
	assert_int_equal(mh_emsmdb_client_connect_sync(f->c, 0, NULL), S_OK);
}

static void vstop(vfixture *f)
{
	mh_emsmdb_client_free(f->c);
	mh_loop_free(f->loop);
	mh_transport_free(f->t);
	mh_buf_free(&f->v.body);
}

/* One Execute of a lone RopRelease. */
static mh_status vrelease(vfixture *f, mh_emsmdb_execute_result *res)
{
	mh_rop_request q;
	memset(&q, 0, sizeof(q));
	q.rop_id = MH_ROP_RELEASE;
	uint32_t h = 0x1234;
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_emsmdb_execute_args args;
	memset(&args, 0, sizeof(args));
	args.rops = &q;
	args.n_rops = 1;
	args.handles = &h;
	args.n_handles = 1;
	args.arena = &a;
	mh_status st = mh_emsmdb_client_execute_sync(f->c, &args, res, 0, NULL);
	mh_arena_free(&a);
	return st;
}

/* StatusCode 0x6BB: wait Connect's RetryDelay (5 s virtual) up to RetryCount (2) times. */
static void test_session_client__server_busy(void **state)
{
	(void)state;
	static const vkind twice[] = {V_BUSY, V_BUSY};
	vfixture f;
	vstart(&f, twice, 2, false);
	uint64_t t0 = f.v.now;
	mh_emsmdb_execute_result res;
	assert_int_equal(vrelease(&f, &res), S_OK);
	assert_int_equal(res.server_busy, 2);
	assert_int_equal(res.rounds, 3);
	assert_int_equal(f.v.now - t0, 10000);
	vstop(&f);

	static const vkind thrice[] = {V_BUSY, V_BUSY, V_BUSY};
	vstart(&f, thrice, 3, false);
	assert_int_equal(vrelease(&f, &res), MAPI_E_BUSY);
	assert_non_null(strstr(mh_emsmdb_client_errmsg(f.c), "0x6BB"));
	assert_int_equal(f.v.executes, 3);
	vstop(&f);
}

/* HTTP 429 with Retry-After 2: the Execute is sent again after 1.5 to 2 s (jitter). */
static void test_session_client__http_429(void **state)
{
	(void)state;
	static const vkind script[] = {V_429};
	vfixture f;
	vstart(&f, script, 1, false);
	uint64_t t0 = f.v.now;
	mh_emsmdb_execute_result res;
	assert_int_equal(vrelease(&f, &res), S_OK);
	assert_true(f.v.now - t0 >= 1500 && f.v.now - t0 <= 2000);
	mh_sctx_stats stats;
	mh_emsmdb_client_stats(f.c, &stats);
	assert_int_equal(stats.retries, 1);
	assert_int_equal(f.v.executes, 2);
	vstop(&f);
}

/* Keep-alive on virtual time: X-ExpirationInfo 60 s, a PING every 30 s of idleness, none
 * while work keeps the context busy, none after Disconnect. */
static void test_session_client__keep_alive_virtual(void **state)
{
	(void)state;
	vfixture f;
	vstart(&f, NULL, 0, true);
	bool over = false;
	assert_int_equal(mh_loop_timer(f.loop, 95000, idle_end, &over, NULL), S_OK);
	assert_int_equal(mh_loop_run_until(f.loop, &over, 0), S_OK);
	assert_int_equal(f.v.pings, 3); /* at 30, 60, 90 s */
	mh_sctx_stats stats;
	mh_emsmdb_client_stats(f.c, &stats);
	assert_int_equal(stats.keepalives, 3);
	/* Work every 20 s: the timer finds the context fresh and sends nothing. */
	mh_emsmdb_execute_result res;
	for (int i = 0; i < 5; i++) {
		over = false;
		assert_int_equal(mh_loop_timer(f.loop, 20000, idle_end, &over, NULL), S_OK);
		assert_int_equal(mh_loop_run_until(f.loop, &over, 0), S_OK);
		assert_int_equal(vrelease(&f, &res), S_OK);
	}
	assert_int_equal(f.v.pings, 3);
	assert_int_equal(mh_emsmdb_client_disconnect_sync(f.c, 0), S_OK);
	over = false;
	assert_int_equal(mh_loop_timer(f.loop, 200000, idle_end, &over, NULL), S_OK);
	assert_int_equal(mh_loop_run_until(f.loop, &over, 0), S_OK);
	assert_int_equal(f.v.pings, 3);
	vstop(&f);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_session_client__alice_own_mailbox, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_session_client__archive_redirect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_client__connect_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_client__buffer_too_small, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_client__fault_backoff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_client__fault_503, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_client__fault_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_client__fault_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_client__fault_stall, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_client__keep_alive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_client__concurrent_contexts, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_session_client__nspi, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_client__nspi_expire, setup, teardown),
	    cmocka_unit_test(test_session_client__server_busy),
	    cmocka_unit_test(test_session_client__http_429),
	    cmocka_unit_test(test_session_client__keep_alive_virtual),
	};
	if (getenv("MH_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("MH_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
