/*
 * The public session API (mapihttp/session.h) against the built mapihttpd on port 0: opening a
 * session, hub-and-spoke OpenMsgStore of v1 and v3 store EntryIDs (bob, his archive, carol),
 * finding mailboxes, resolving names, TLS, credentials and recovery under --fault.
 */
#define _DEFAULT_SOURCE /* strdup */

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
#include <strings.h>

#include <cmocka.h>

#include "mapihttp.h"
#include "mapihttpd_proc.h"
#include "session/session_internal.h"

#ifndef MH_SERVER_PATH
#error "MH_SERVER_PATH must name the mapihttpd binary"
#endif

#define DOMAIN    "@contoso.test"
#define DN_PREFIX "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define DN_OF(u)  DN_PREFIX "/cn=Recipients/cn=" u
#define ARCH_GUID "6bc6e012-62aa-8d2f-bbd6-151067afaa5d"
#define BOB_GUID  "eb113c0f-3344-86e1-ad16-c68cf5c1be62"

typedef struct fixture {
	mh_test_server srv;
	mh_session *s;
	char ad_url[600];
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	*state = f;
	return f != NULL ? 0 : -1;
}

static bool has_secret(const char *msg)
{
	return msg != NULL && (strstr(msg, "-Pass-1") != NULL || strstr(msg, "svc-token") != NULL);
}

/*
 * The session is closed and the server stopped even when an assertion failed. Whatever a test
 * did, no message it left holds a password or a token.
 */
static int teardown(void **state)
{
	fixture *f = *state;
	int rc = 0;
	const mh_error *e = mh_error_last();
	if (has_secret(mh_session_errmsg(f->s)) || (e != NULL && has_secret(e->message))) {
		fprintf(stderr, "a message holds a secret\n");
		rc = -1;
	}
	mh_session_close(f->s);
	if (f->srv.pid > 0)
		mh_test_server_stop(&f->srv, SIGTERM);
	mh_test_server_cleanup(&f->srv);
	free(f);
	return rc;
}

static void start(fixture *f, const char *const *extra)
{
	assert_int_equal(mh_test_server_start(&f->srv, MH_SERVER_PATH, extra), 0);
	snprintf(f->ad_url, sizeof(f->ad_url), "%s/autodiscover/autodiscover.xml", f->srv.url);
}

static void options_for(const fixture *f, mh_session_options *o, const char *user,
                        mh_transport_auth_scheme scheme, const char *secret)
{
	*o = (mh_session_options)MH_SESSION_OPTIONS_INIT;
	o->user = user;
	o->auth.scheme = scheme;
	o->auth.secret = secret;
	o->autodiscover_url = f->ad_url;
	o->allow_http = strncmp(f->ad_url, "http://", 7) == 0;
	o->timeout_ms = 30000;
	o->backoff_cap_ms = 300;
}

static mh_status open_as(fixture *f, const char *user, const char *password)
{
	mh_session_options o;
	options_for(f, &o, user, MH_AUTH_BASIC, password);
	return mh_session_open(&f->s, &o);
}

static void open_ok(fixture *f, const char *user, const char *password)
{
	mh_status st = open_as(f, user, password);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		fail_msg("open %s: %s: %s", user, mh_status_str(st), e != NULL ? e->message : "");
	}
}

/* The v3 EntryID of smtp's mailbox (or its archive) through the session. */
static ENTRYID *entryid_of(fixture *f, const char *smtp, bool archive, uint32_t *cb)
{
	ENTRYID *eid = NULL;
	mh_status st = mh_session_mailbox_entryid(f->s, smtp, archive, cb, &eid);
	if (st != S_OK)
		fail_msg("mailbox EntryID of %s: %s: %s", smtp, mh_status_str(st),
		         mh_session_errmsg(f->s));
	return eid;
}

static mh_store *open_store_ok(fixture *f, uint32_t cb, const ENTRYID *eid, uint32_t flags)
{
	mh_store *st = NULL;
	mh_status r = mh_session_open_msg_store(&st, f->s, cb, eid, flags);
	if (r != S_OK)
		fail_msg("OpenMsgStore: %s: %s", mh_status_str(r), mh_session_errmsg(f->s));
	assert_string_equal(mh_session_errmsg(f->s), "");
	return st;
}

/* ref's EntryID opens a store of ref's kind, logged on as its owner. */
static void assert_ref_opens(fixture *f, const mh_mailbox_ref *ref)
{
	mh_store *st = open_store_ok(f, ref->cb_entryid, ref->entryid, 0);
	mh_store_info si;
	mh_store_get_info(st, &si);
	assert_int_equal(si.kind, ref->kind);
	assert_true(si.owner);
	mh_store_close(st);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (hay == NULL || strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay != NULL ? hay : "(null)", needle);
}

static void assert_lacks(const char *hay, const char *needle)
{
	if (hay != NULL && strstr(hay, needle) != NULL)
		fail_msg("\"%s\" contains \"%s\"", hay, needle);
}

/* ---- opening a session ------------------------------------------------------------------ */

static void test_session__open_password(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_ok(f, "svc" DOMAIN, "Svc-Pass-1");
	mh_session_info info;
	mh_session_get_info(f->s, &info);
	assert_string_equal(info.smtp_address, "svc" DOMAIN);
	assert_string_equal(info.display_name, "Scan Service");
	assert_string_equal(info.mailbox_dn, DN_OF("svc"));
	assert_non_null(info.mdb_dn);
	assert_contains(info.mailstore_url, "/mapi/emsmdb/?MailboxId=");
	assert_contains(info.addressbook_url, "/mapi/nspi/?MailboxId=");
	/* Autodiscover, Connect, Execute(RopLogon). */
	assert_int_equal(mh_session_request_count(f->s), 3);
	assert_string_equal(mh_session_errmsg(f->s), "");

	mh_store *p = mh_session_primary(f->s);
	assert_non_null(p);
	mh_store_info si;
	mh_store_get_info(p, &si);
	assert_int_equal(si.kind, MH_MAILBOX_PRIMARY);
	assert_true(si.owner);
	assert_true((si.response_flags & 0x02) != 0);
	assert_string_equal(si.mailbox_dn, DN_OF("svc"));
	assert_string_equal(si.mailstore_url, info.mailstore_url);
	assert_true(si.ipm_subtree_fid != 0);
	/* Closing the primary is a no-op: the session owns it. */
	mh_store_close(p);
	assert_ptr_equal(mh_session_primary(f->s), p);
}

static void test_session__open_bearer(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	mh_session_options o;
	options_for(f, &o, "svc" DOMAIN, MH_AUTH_BEARER, "svc-token-0001");
	mh_status st = mh_session_open(&f->s, &o);
	if (st != S_OK)
		fail_msg("%s: %s", mh_status_str(st), mh_error_last()->message);
	mh_session_info info;
	mh_session_get_info(f->s, &info);
	assert_string_equal(info.mailbox_dn, DN_OF("svc"));
	mh_store_info si;
	mh_store_get_info(mh_session_primary(f->s), &si);
	assert_true(si.owner);
}

static void test_session__cache_dir(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	char dir[256];
	assert_int_equal(mh_test_make_temp_dir(dir, sizeof(dir)), 0);
	mh_session_options o;
	options_for(f, &o, "svc" DOMAIN, MH_AUTH_BASIC, "Svc-Pass-1");
	o.cache_dir = dir;
	assert_int_equal(mh_session_open(&f->s, &o), S_OK);
	assert_int_equal(mh_session_request_count(f->s), 3);
	mh_session_close(f->s);
	f->s = NULL;
	/* Another session finds the answer on disk: Connect and RopLogon only. */
	assert_int_equal(mh_session_open(&f->s, &o), S_OK);
	assert_int_equal(mh_session_request_count(f->s), 2);
	mh_session_close(f->s);
	f->s = NULL;
	/* The cache holds the answer and no credential. */
	DIR *d = opendir(dir);
	assert_non_null(d);
	unsigned files = 0;
	for (struct dirent *de = readdir(d); de != NULL; de = readdir(d)) {
		if (de->d_name[0] == '.')
			continue;
		char path[600];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		char *text = mh_test_slurp_file(path);
		assert_non_null(text);
		assert_contains(text, "mapi/emsmdb");
		assert_lacks(text, "Svc-Pass-1");
		free(text);
		files++;
	}
	closedir(d);
	assert_int_equal(files, 1);
	mh_test_remove_dir(dir);
}

static void test_session__bad_options(void **state)
{
	(void)state;
	mh_session *s = (mh_session *)(uintptr_t)1;
	assert_int_equal(mh_session_open(&s, NULL), MAPI_E_INVALID_PARAMETER);
	assert_null(s);
	mh_session_options o = MH_SESSION_OPTIONS_INIT;
	o.user = "svc" DOMAIN;
	assert_int_equal(mh_session_open(&s, &o), MAPI_E_INVALID_PARAMETER); /* no credentials */
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.secret = "x";
	o.version = 2;
	assert_int_equal(mh_session_open(&s, &o), MAPI_E_INVALID_PARAMETER);
	o.version = 1;
	o.user = NULL;
	assert_int_equal(mh_session_open(&s, &o), MAPI_E_INVALID_PARAMETER);
	mh_session_close(NULL);
	assert_string_equal(mh_mailbox_kind_str(MH_MAILBOX_ARCHIVE), "archive");
	assert_string_equal(mh_mailbox_kind_str(MH_MAILBOX_DELEGATE), "delegate");
}

static void test_session__wrong_password(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	mh_status st = open_as(f, "svc" DOMAIN, "Not-The-Pass-9");
	assert_int_equal(st, MAPI_E_LOGON_FAILED);
	assert_null(f->s);
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	assert_int_equal(e->status, MAPI_E_LOGON_FAILED);
	assert_contains(e->message, "svc" DOMAIN);
	assert_lacks(e->message, "Not-The-Pass-9");
}

static void test_session__bad_tokens(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	static const char *const tokens[] = {"svc-token-9999", "svc-token-expired"};
	for (size_t i = 0; i < 2; i++) {
		mh_session_options o;
		options_for(f, &o, "svc" DOMAIN, MH_AUTH_BEARER, tokens[i]);
		assert_int_equal(mh_session_open(&f->s, &o), MAPI_E_LOGON_FAILED);
		assert_null(f->s);
		const mh_error *e = mh_error_last();
		assert_non_null(e);
		assert_lacks(e->message, tokens[i]);
		assert_lacks(e->message, "token-");
	}
}

static void test_session__unknown_user(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	/* Authenticated as svc, discovering an address the organisation does not have. */
	mh_session_options o;
	options_for(f, &o, "nobody" DOMAIN, MH_AUTH_BASIC, "Svc-Pass-1");
	o.auth.user = "svc" DOMAIN;
	mh_status st = mh_session_open(&f->s, &o);
	assert_int_equal(st, MAPI_E_NOT_FOUND);
	assert_contains(mh_error_last()->message, "nobody" DOMAIN);
	assert_lacks(mh_error_last()->message, "Svc-Pass-1");
}

/* ---- the seed story: svc opens bob's mailbox and archive ------------------------------- */

static void test_session__v1_fails_with_explanation(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_ok(f, "svc" DOMAIN, "Svc-Pass-1");
	const char *names[] = {"bob" DOMAIN};
	mh_address_entry *bob = NULL;
	assert_int_equal(mh_session_resolve(f->s, names, 1, &bob), S_OK);
	assert_true(bob[0].resolved);
	assert_non_null(bob[0].mdb_dn);

	uint32_t cb = 0;
	ENTRYID *v1 = NULL;
	assert_int_equal(mh_create_store_entryid(bob[0].mdb_dn, bob[0].mailbox_dn,
	                                         OPENSTORE_HOME_LOGON | OPENSTORE_TAKE_OWNERSHIP,
	                                         &cb, &v1),
	                 S_OK);
	uint64_t before = mh_session_request_count(f->s);
	mh_store *st = (mh_store *)(uintptr_t)1;
	assert_int_equal(mh_session_open_msg_store(&st, f->s, cb, v1, 0), MAPI_E_CALL_FAILED);
	assert_null(st);
	/* Nothing was sent: the EntryID alone says it cannot be opened. */
	assert_int_equal(mh_session_request_count(f->s), before);
	const char *msg = mh_session_errmsg(f->s);
	assert_contains(msg, "v1 store EntryID");
	assert_contains(msg, "carries no SMTP address");
	assert_contains(msg, "cannot Autodiscover");
	assert_contains(msg, "CreateStoreEntryID2");
	assert_contains(msg, "PR_PROFILE_USER_SMTP_EMAIL_ADDRESS_W");
	assert_contains(msg, "MH_OPENSTORE_UPGRADE_V1");
	assert_string_equal(mh_error_last()->message, msg);

	/* A v2 EntryID (CreateStoreEntryID2 without an SMTP address) fails the same way. */
	SPropValue props[2];
	memset(props, 0, sizeof(props));
	props[0].ulPropTag = PR_PROFILE_MAILBOX;
	props[0].Value.lpszA = (char *)(uintptr_t)bob[0].mailbox_dn;
	props[1].ulPropTag = PR_PROFILE_MDB_DN;
	props[1].Value.lpszA = (char *)(uintptr_t)bob[0].mdb_dn;
	uint32_t cb2 = 0;
	ENTRYID *v2 = NULL;
	assert_int_equal(mh_create_store_entryid2(2, props, 0, &cb2, &v2), S_OK);
	assert_int_equal(mh_session_open_msg_store(&st, f->s, cb2, v2, 0), MAPI_E_CALL_FAILED);
	assert_contains(mh_session_errmsg(f->s), "v2 store EntryID");
	assert_contains(mh_session_errmsg(f->s), "carries no SMTP address");
	MAPIFreeBuffer(v2);

	/* Asked to, the session resolves the DN through NSPI and opens it as a v3 one. */
	st = open_store_ok(f, cb, v1, MH_OPENSTORE_UPGRADE_V1);
	mh_store_info si;
	mh_store_get_info(st, &si);
	assert_true(si.owner);
	assert_string_equal(si.smtp_address, "bob" DOMAIN);
	assert_string_equal(si.mailbox_dn, DN_OF("bob"));
	assert_int_equal(si.kind, MH_MAILBOX_DELEGATE);
	assert_contains(si.mailstore_url, "MailboxId=" BOB_GUID DOMAIN);
	mh_store_close(st);
	MAPIFreeBuffer(v1);
	MAPIFreeBuffer(bob);
}

static void test_session__open_bob_v3(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_ok(f, "svc" DOMAIN, "Svc-Pass-1");
	/* bob's v3 EntryID, made with the free function as a MAPI program would. */
	SPropValue props[4];
	memset(props, 0, sizeof(props));
	const char *names[] = {"bob" DOMAIN};
	mh_address_entry *bob = NULL;
	assert_int_equal(mh_session_resolve(f->s, names, 1, &bob), S_OK);
	props[0].ulPropTag = PR_PROFILE_MAILBOX;
	props[0].Value.lpszA = (char *)(uintptr_t)bob[0].mailbox_dn;
	props[1].ulPropTag = PR_PROFILE_MDB_DN;
	props[1].Value.lpszA = (char *)(uintptr_t)bob[0].mdb_dn;
	props[2].ulPropTag = PR_FORCE_USE_ENTRYID_SERVER;
	props[2].Value.b = 1;
	props[3].ulPropTag = PR_PROFILE_USER_SMTP_ADDRESS_W;
	props[3].Value.lpszW = (char *)(uintptr_t) "bob" DOMAIN;
	uint32_t cb = 0, cb2 = 0;
	ENTRYID *v3 = NULL, *v3b = NULL;
	assert_int_equal(mh_create_store_entryid2(4, props, OPENSTORE_HOME_LOGON, &cb, &v3), S_OK);
	/* The store's CreateStoreEntryID2 makes the same bytes. */
	assert_int_equal(mh_store_create_entryid2(mh_session_primary(f->s), 4, props,
	                                          OPENSTORE_HOME_LOGON, &cb2, &v3b),
	                 S_OK);
	assert_int_equal(cb, cb2);
	assert_memory_equal(v3, v3b, cb);
	MAPIFreeBuffer(v3b);
	uint32_t cb1 = 0, cb1b = 0;
	ENTRYID *v1 = NULL, *v1b = NULL;
	assert_int_equal(mh_create_store_entryid(bob[0].mdb_dn, bob[0].mailbox_dn, 0, &cb1, &v1),
	                 S_OK);
	assert_int_equal(mh_store_create_entryid(mh_session_primary(f->s), bob[0].mdb_dn,
	                                         bob[0].mailbox_dn, 0, &cb1b, &v1b),
	                 S_OK);
	assert_int_equal(cb1, cb1b);
	assert_memory_equal(v1, v1b, cb1);
	MAPIFreeBuffer(v1);
	MAPIFreeBuffer(v1b);
	MAPIFreeBuffer(bob);

	/* Another mailbox: Autodiscover (as svc), Connect to its endpoint, Execute(RopLogon). */
	uint64_t before = mh_session_request_count(f->s);
	mh_store *st = open_store_ok(f, cb, v3, 0);
	assert_int_equal(mh_session_request_count(f->s) - before, 3);
	mh_store_info si;
	mh_store_get_info(st, &si);
	assert_true(si.owner);
	assert_int_equal(si.kind, MH_MAILBOX_DELEGATE);
	assert_string_equal(si.mailbox_dn, DN_OF("bob"));
	assert_string_equal(si.display_name, "Bob Baker");
	assert_contains(si.mailstore_url, "MailboxId=" BOB_GUID DOMAIN);

	/* A second open of the same mailbox shares the endpoint (cached Autodiscover, no
	 * Connect): one Execute, with a LogonId of its own. */
	before = mh_session_request_count(f->s);
	mh_store *again = open_store_ok(f, cb, v3, 0);
	assert_int_equal(mh_session_request_count(f->s) - before, 1);
	/* RopRelease only: the endpoint still carries the first store. */
	before = mh_session_request_count(f->s);
	mh_store_close(again);
	assert_int_equal(mh_session_request_count(f->s) - before, 1);
	assert_true(mh_emsmdb_client_connected(st->ep->client));
	before = mh_session_request_count(f->s);
	mh_store_close(st);
	/* The last store: Disconnect, which drops its logon too. */
	assert_int_equal(mh_session_request_count(f->s) - before, 1);
	MAPIFreeBuffer(v3);
}

static void test_session__open_bob_archive(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_ok(f, "svc" DOMAIN, "Svc-Pass-1");
	uint32_t cb = 0;
	ENTRYID *eid = entryid_of(f, "bob" DOMAIN, true, &cb);
	/* What Exchange gives a MAPI/HTTP client: the archive's own Autodiscover address. */
	mh_store_entryid *p = NULL;
	assert_int_equal(mh_store_entryid_parse(&p, cb, eid), S_OK);
	assert_int_equal(p->version, 3);
	assert_string_equal(p->smtp_address, "ExchangeGuid+" ARCH_GUID DOMAIN);
	assert_string_equal(p->mailbox_dn, DN_OF("bob") "/guid=" ARCH_GUID);
	MAPIFreeBuffer(p);

	uint64_t before = mh_session_request_count(f->s);
	mh_store *st = open_store_ok(f, cb, eid, 0);
	/* The archive's Autodiscover answer was fetched to make the EntryID and is cached:
	 * Connect to its own endpoint and RopLogon. */
	assert_int_equal(mh_session_request_count(f->s) - before, 2);
	mh_store_info si;
	mh_store_get_info(st, &si);
	assert_int_equal(si.kind, MH_MAILBOX_ARCHIVE);
	assert_true(si.owner);
	assert_string_equal(si.display_name, "Online Archive - Bob Baker");
	assert_contains(si.mailstore_url, "MailboxId=" ARCH_GUID DOMAIN);
	mh_store_close(st);
	MAPIFreeBuffer(eid);

	/* bob has an archive, svc has none. */
	assert_int_equal(mh_session_mailbox_entryid(f->s, "svc" DOMAIN, true, &cb, &eid),
	                 MAPI_E_NOT_FOUND);
	assert_contains(mh_session_errmsg(f->s), "no archive");
	assert_int_equal(mh_session_mailbox_entryid(f->s, "nobody" DOMAIN, false, &cb, &eid),
	                 MAPI_E_NOT_FOUND);
}

static void test_session__archive_v1_upgrade(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_ok(f, "svc" DOMAIN, "Svc-Pass-1");
	/* An archive's v1 EntryID: its Essdn is not in the address book; the owner's is. */
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	assert_int_equal(mh_create_store_entryid(DN_PREFIX
	                                         "/cn=Configuration/cn=Servers/cn=" ARCH_GUID DOMAIN
	                                         "/cn=Microsoft Private MDB",
	                                         DN_OF("bob") "/guid=" ARCH_GUID, 0, &cb, &eid),
	                 S_OK);
	mh_store *st = open_store_ok(f, cb, eid, MH_OPENSTORE_UPGRADE_V1);
	mh_store_info si;
	mh_store_get_info(st, &si);
	assert_int_equal(si.kind, MH_MAILBOX_ARCHIVE);
	assert_string_equal(si.smtp_address, "ExchangeGuid+" ARCH_GUID DOMAIN);
	mh_store_close(st);
	MAPIFreeBuffer(eid);
}

static void test_session__carol_logon_mode(void **state)
{
	fixture *f = *state;
	static const char *const extra[] = {"--rights-mode", "logon", NULL};
	start(f, extra);
	open_ok(f, "svc" DOMAIN, "Svc-Pass-1");
	uint32_t cb = 0;
	ENTRYID *eid = entryid_of(f, "carol" DOMAIN, false, &cb);
	mh_store *st = NULL;
	assert_int_equal(mh_session_open_msg_store(&st, f->s, cb, eid, 0), MAPI_E_NO_ACCESS);
	assert_null(st);
	const char *msg = mh_session_errmsg(f->s);
	assert_contains(msg, "ecLoginPerm");
	assert_contains(msg, "0x000003F2");
	assert_contains(msg, "carol" DOMAIN);
	MAPIFreeBuffer(eid);
	/* The session goes on: bob still opens. */
	eid = entryid_of(f, "bob" DOMAIN, false, &cb);
	st = open_store_ok(f, cb, eid, 0);
	mh_store_close(st);
	MAPIFreeBuffer(eid);
}

/* RopOpenFolder of the store's Inbox through the store primitives; its ReturnValue as a
 * status (mh__store_rop_fail), or the Execute's. */
static mh_status open_inbox(mh_store *st)
{
	mh_rop_request q[2];
	memset(q, 0, sizeof(q));
	q[0].rop_id = MH_ROP_OPEN_FOLDER;
	q[0].logon_id = st->logon_id;
	q[0].in_handle_index = 0;
	q[0].out_handle_index = 1;
	q[0].u.open_folder.folder_id = st->logon.folder_ids[MH_LOGON_FID_INBOX];
	q[1].rop_id = MH_ROP_RELEASE;
	q[1].logon_id = st->logon_id;
	q[1].in_handle_index = 1;
	uint32_t handles[2] = {st->logon_handle, 0xFFFFFFFFu};
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_emsmdb_execute_args args;
	memset(&args, 0, sizeof(args));
	args.rops = q;
	args.n_rops = 2;
	args.handles = handles;
	args.n_handles = 2;
	args.arena = &a;
	mh_emsmdb_execute_result res;
	mh_status r = mh__store_execute(st, &args, &res);
	if (r == S_OK && res.responses.count >= 1 && res.responses.rops[0].return_value != 0)
		r = mh__store_rop_fail(st, "RopOpenFolder",
		                       (uint32_t)res.responses.rops[0].return_value);
	mh_arena_free(&a);
	return r;
}

static void test_session__carol_folder_mode(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_ok(f, "svc" DOMAIN, "Svc-Pass-1");
	uint32_t cb = 0;
	ENTRYID *eid = entryid_of(f, "carol" DOMAIN, false, &cb);
	mh_store *st = open_store_ok(f, cb, eid, 0);
	mh_store_info si;
	mh_store_get_info(st, &si);
	/* A delegate logon, as Exchange 2013+ gives one without rights. */
	assert_false(si.owner);
	assert_int_equal(si.response_flags & 0x02, 0);
	assert_int_equal(si.kind, MH_MAILBOX_OTHER);
	/* The folders deny; the failure names the server's code. */
	assert_int_equal(open_inbox(st), MAPI_E_NO_ACCESS);
	assert_contains(mh_session_errmsg(f->s), "RopOpenFolder");
	assert_contains(mh_session_errmsg(f->s), "0x80070005");
	assert_contains(mh_session_errmsg(f->s), "delegate");
	mh_store_close(st);
	MAPIFreeBuffer(eid);
}

/* ---- finding mailboxes ------------------------------------------------------------------ */

static const mh_mailbox_ref *ref_named(const mh_mailbox_ref *refs, uint32_t n, const char *smtp)
{
	for (uint32_t i = 0; i < n; i++) {
		if (refs[i].smtp_address != NULL && strcasecmp(refs[i].smtp_address, smtp) == 0)
			return &refs[i];
	}
	fail_msg("no mailbox %s in the list", smtp);
	return NULL;
}

static void test_session__list_mailboxes(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_ok(f, "svc" DOMAIN, "Svc-Pass-1");
	mh_mailbox_ref *refs = NULL;
	uint32_t n = 0;
	assert_int_equal(mh_session_list_mailboxes(f->s, &refs, &n), S_OK);
	assert_int_equal(n, 3); /* svc, and the two it has FullAccess on with auto-mapping */
	assert_int_equal(refs[0].kind, MH_MAILBOX_PRIMARY);
	assert_string_equal(refs[0].smtp_address, "svc" DOMAIN);
	assert_string_equal(refs[0].mailbox_dn, DN_OF("svc"));
	const mh_mailbox_ref *bob = ref_named(refs, n, "bob" DOMAIN);
	assert_int_equal(bob->kind, MH_MAILBOX_DELEGATE);
	assert_string_equal(bob->display_name, "Bob Baker");
	assert_string_equal(bob->mailbox_dn, DN_OF("bob"));
	const mh_mailbox_ref *hd = ref_named(refs, n, "helpdesk" DOMAIN);
	assert_int_equal(hd->kind, MH_MAILBOX_DELEGATE);
	/* Every EntryID is a v3 one that opens. */
	for (uint32_t i = 0; i < n; i++) {
		mh_store_entryid *p = NULL;
		assert_int_equal(mh_store_entryid_parse(&p, refs[i].cb_entryid, refs[i].entryid),
		                 S_OK);
		assert_int_equal(p->version, 3);
		assert_string_equal(p->smtp_address, refs[i].smtp_address);
		assert_string_equal(p->mailbox_dn, refs[i].mailbox_dn);
		MAPIFreeBuffer(p);
		assert_ref_opens(f, &refs[i]);
	}
	MAPIFreeBuffer(refs);
}

static void test_session__list_mailboxes_archive(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_ok(f, "bob" DOMAIN, "Bob-Pass-1");
	mh_mailbox_ref *refs = NULL;
	uint32_t n = 0;
	assert_int_equal(mh_session_list_mailboxes(f->s, &refs, &n), S_OK);
	assert_int_equal(n, 2);
	assert_int_equal(refs[0].kind, MH_MAILBOX_PRIMARY);
	assert_int_equal(refs[1].kind, MH_MAILBOX_ARCHIVE);
	assert_string_equal(refs[1].display_name, "Online Archive - Bob Baker");
	assert_string_equal(refs[1].smtp_address, "ExchangeGuid+" ARCH_GUID DOMAIN);
	assert_string_equal(refs[1].owner_smtp, "bob" DOMAIN);
	assert_string_equal(refs[1].mailbox_dn, DN_OF("bob") "/guid=" ARCH_GUID);
	assert_ref_opens(f, &refs[1]);
	MAPIFreeBuffer(refs);
}

static void test_session__resolve(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_ok(f, "svc" DOMAIN, "Svc-Pass-1");
	const char *names[] = {"bob" DOMAIN, "no-such-person" DOMAIN, "Carol Chen"};
	mh_address_entry *e = NULL;
	assert_int_equal(mh_session_resolve(f->s, names, 3, &e), S_OK);
	assert_true(e[0].resolved);
	assert_string_equal(e[0].name, "bob" DOMAIN);
	assert_string_equal(e[0].display_name, "Bob Baker");
	assert_string_equal(e[0].mailbox_dn, DN_OF("bob"));
	assert_string_equal(e[0].smtp_address, "bob" DOMAIN);
	assert_contains(e[0].mdb_dn, "/cn=Microsoft Private MDB");
	assert_false(e[1].resolved);
	assert_string_equal(e[1].name, "no-such-person" DOMAIN);
	assert_null(e[1].mailbox_dn);
	assert_true(e[2].resolved);
	assert_string_equal(e[2].smtp_address, "carol" DOMAIN);
	MAPIFreeBuffer(e);
	assert_int_equal(mh_session_resolve(f->s, names, 0, &e), MAPI_E_INVALID_PARAMETER);
}

static void test_session__bad_entryid(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	open_ok(f, "svc" DOMAIN, "Svc-Pass-1");
	static const uint8_t junk[24] = {0, 0, 0, 0, 1, 2, 3};
	mh_store *st = NULL;
	assert_int_equal(mh_session_open_msg_store(&st, f->s, sizeof(junk),
	                                           (const ENTRYID *)(const void *)junk, 0),
	                 MAPI_E_INVALID_ENTRYID);
	assert_contains(mh_session_errmsg(f->s), "not a store EntryID");
	/* A v3 EntryID of an address nobody has. */
	SPropValue props[2];
	memset(props, 0, sizeof(props));
	props[0].ulPropTag = PR_PROFILE_MAILBOX;
	props[0].Value.lpszA = (char *)(uintptr_t)DN_OF("nobody");
	props[1].ulPropTag = PR_PROFILE_USER_SMTP_ADDRESS_W;
	props[1].Value.lpszW = (char *)(uintptr_t) "nobody" DOMAIN;
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	assert_int_equal(mh_create_store_entryid2(2, props, 0, &cb, &eid), S_OK);
	assert_int_equal(mh_session_open_msg_store(&st, f->s, cb, eid, 0), MAPI_E_UNKNOWN_ENTRYID);
	assert_contains(mh_session_errmsg(f->s), "nobody" DOMAIN);
	/* With a known address but a DN that names no mailbox, the logon says so. */
	props[1].Value.lpszW = (char *)(uintptr_t) "bob" DOMAIN;
	MAPIFreeBuffer(eid);
	assert_int_equal(mh_create_store_entryid2(2, props, 0, &cb, &eid), S_OK);
	assert_int_equal(mh_session_open_msg_store(&st, f->s, cb, eid, 0), MAPI_E_UNKNOWN_ENTRYID);
	assert_contains(mh_session_errmsg(f->s), "RopLogon");
	MAPIFreeBuffer(eid);
}

/* ---- TLS -------------------------------------------------------------------------------- */

static void test_session__https(void **state)
{
	fixture *f = *state;
	int r = mh_test_server_start_https(&f->srv, MH_SERVER_PATH, NULL);
	if (r == 1)
		skip();
	assert_int_equal(r, 0);
	snprintf(f->ad_url, sizeof(f->ad_url), "%s/autodiscover/autodiscover.xml", f->srv.url);
	assert_int_equal(strncmp(f->ad_url, "https://", 8), 0);

	/* The server's self-signed certificate does not verify against the system's CAs. */
	mh_status st = open_as(f, "svc" DOMAIN, "Svc-Pass-1");
	assert_int_equal(st, MAPI_E_NETWORK_ERROR);
	assert_null(f->s);
	const char *msg = mh_error_last()->message;
	print_message("TLS failure: %s\n", msg);
	assert_contains(msg, f->ad_url);
	if (strstr(msg, "certificate") == NULL && strstr(msg, "TLS") == NULL &&
	    strstr(msg, "SSL") == NULL)
		fail_msg("no TLS reason in \"%s\"", msg);
	assert_lacks(msg, "Svc-Pass-1");

	/* insecure skips verification (never the default). */
	mh_session_options o;
	options_for(f, &o, "svc" DOMAIN, MH_AUTH_BASIC, "Svc-Pass-1");
	o.insecure = true;
	st = mh_session_open(&f->s, &o);
	if (st != S_OK)
		fail_msg("insecure: %s: %s", mh_status_str(st), mh_error_last()->message);
	mh_session_close(f->s);
	f->s = NULL;

	/* With the server's certificate as the CA, it works end to end. */
	options_for(f, &o, "svc" DOMAIN, MH_AUTH_BASIC, "Svc-Pass-1");
	o.cacert = f->srv.cert;
	st = mh_session_open(&f->s, &o);
	if (st != S_OK)
		fail_msg("%s: %s", mh_status_str(st), mh_error_last()->message);
	mh_session_info info;
	mh_session_get_info(f->s, &info);
	assert_int_equal(strncmp(info.mailstore_url, "https://", 8), 0);
	uint32_t cb = 0;
	ENTRYID *eid = entryid_of(f, "bob" DOMAIN, true, &cb);
	mh_store *arch = open_store_ok(f, cb, eid, 0);
	mh_store_close(arch);
	MAPIFreeBuffer(eid);
}

/* ---- AlternativeMailbox in the RPC form ------------------------------------------------ */

/*
 * A transport over libcurl (given to the session, which borrows it) that rewrites the archive
 * entry of every Autodiscover answer from the MAPI/HTTP form (SmtpAddress ExchangeGuid+<g>@<d>)
 * into the RPC form (LegacyDN <owner DN>/guid=<g>, Server <g>@<d>), as Exchange sends to a
 * client without X-MapiHttpCapability.
 */
typedef struct rpc_req {
	mh_transport_callbacks cb; /* the caller's */
	char *body;
	size_t len;
	uint64_t id;
	bool rewrite;
	struct rpc_tp *tp;
	struct rpc_req *next;
} rpc_req;

typedef struct rpc_tp {
	mh_transport pub;
	mh_transport *inner;
	rpc_req *live;
	unsigned rewritten;
} rpc_tp;

static void rpc_forget(rpc_tp *t, rpc_req *q)
{
	for (rpc_req **pp = &t->live; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	}
	free(q->body);
	free(q);
}

static mh_status rpc_on_headers(void *ud, long status, const mh_transport_header *h, size_t n)
{
	rpc_req *q = ud;
	return q->cb.on_headers != NULL ? q->cb.on_headers(q->cb.ud, status, h, n) : S_OK;
}

static mh_status rpc_on_data(void *ud, const void *data, size_t len)
{
	rpc_req *q = ud;
	if (!q->rewrite)
		return q->cb.on_data(q->cb.ud, data, len);
	char *p = realloc(q->body, q->len + len + 1);
	if (p == NULL)
		return MAPI_E_NOT_ENOUGH_MEMORY;
	memcpy(p + q->len, data, len);
	q->len += len;
	p[q->len] = '\0';
	q->body = p;
	return S_OK;
}

static void rpc_on_done(void *ud, mh_status st)
{
	rpc_req *q = ud;
	mh_transport_callbacks cb = q->cb;
	if (st == S_OK && q->rewrite && q->body != NULL) {
		static const char open_tag[] = "<SmtpAddress>ExchangeGuid+";
		char *a = strstr(q->body, open_tag);
		char *e = a != NULL ? strstr(a, "</SmtpAddress>") : NULL;
		char out[8192];
		if (a != NULL && e != NULL) {
			char server[128];
			snprintf(server, sizeof(server), "%.*s",
			         (int)(e - a - (sizeof(open_tag) - 1)), a + sizeof(open_tag) - 1);
			char guid[64];
			snprintf(guid, sizeof(guid), "%.*s", (int)strcspn(server, "@"), server);
			int n =
			    snprintf(out, sizeof(out),
			             "%.*s<LegacyDN>" DN_OF("bob") "/guid=%s</LegacyDN><Server>%s"
			                                           "</Server>%s",
			             (int)(a - q->body), q->body, guid, server,
			             e + strlen("</SmtpAddress>"));
			if (n > 0 && (size_t)n < sizeof(out)) {
				q->tp->rewritten++;
				st = cb.on_data(cb.ud, out, (size_t)n);
			}
		} else {
			st = cb.on_data(cb.ud, q->body, q->len);
		}
	}
	rpc_forget(q->tp, q);
	cb.on_done(cb.ud, st);
}

static mh_status rpc_start(void *self, const mh_transport_request *rq,
                           const mh_transport_callbacks *cb, uint64_t *id)
{
	rpc_tp *t = self;
	rpc_req *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return MAPI_E_NOT_ENOUGH_MEMORY;
	q->cb = *cb;
	q->tp = t;
	q->rewrite = strstr(rq->url, "/autodiscover/autodiscover.xml") != NULL;
	mh_transport_callbacks mine = {rpc_on_headers, rpc_on_data, rpc_on_done, q};
	mh_status st = t->inner->ops->start(t->inner->self, rq, &mine, &q->id);
	if (st != S_OK) {
		free(q);
		return st;
	}
	q->next = t->live;
	t->live = q;
	*id = q->id;
	return S_OK;
}

static void rpc_cancel(void *self, uint64_t id)
{
	rpc_tp *t = self;
	t->inner->ops->cancel(t->inner->self, id);
	for (rpc_req *q = t->live; q != NULL; q = q->next) {
		if (q->id == id) {
			rpc_forget(t, q);
			break;
		}
	}
}

static mh_status rpc_run(void *self, int timeout_ms)
{
	rpc_tp *t = self;
	return t->inner->ops->run(t->inner->self, timeout_ms);
}

static size_t rpc_pending(void *self)
{
	rpc_tp *t = self;
	return t->inner->ops->pending(t->inner->self);
}

static void rpc_destroy(void *self)
{
	rpc_tp *t = self;
	while (t->live != NULL)
		rpc_forget(t, t->live);
	mh_transport_free(t->inner);
}

static const mh_transport_ops rpc_ops = {1,       rpc_start,   rpc_cancel,
                                         rpc_run, rpc_pending, rpc_destroy};

static void test_session__archive_rpc_form(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	rpc_tp t;
	memset(&t, 0, sizeof(t));
	assert_int_equal(mh_transport_curl_new(&t.inner, NULL), S_OK);
	t.pub.ops = &rpc_ops;
	t.pub.self = &t;

	/* bob's own list: the archive entry has no address; NSPI gives its owner's. */
	mh_session_options o;
	options_for(f, &o, "bob" DOMAIN, MH_AUTH_BASIC, "Bob-Pass-1");
	o.transport = &t.pub;
	mh_status st = mh_session_open(&f->s, &o);
	if (st != S_OK)
		fail_msg("%s: %s", mh_status_str(st), mh_error_last()->message);
	assert_int_equal(t.rewritten, 1);
	mh_mailbox_ref *refs = NULL;
	uint32_t n = 0;
	assert_int_equal(mh_session_list_mailboxes(f->s, &refs, &n), S_OK);
	assert_int_equal(n, 2);
	assert_int_equal(refs[1].kind, MH_MAILBOX_ARCHIVE);
	assert_string_equal(refs[1].mailbox_dn, DN_OF("bob") "/guid=" ARCH_GUID);
	assert_string_equal(refs[1].smtp_address, "ExchangeGuid+" ARCH_GUID DOMAIN);
	mh_store *arch = open_store_ok(f, refs[1].cb_entryid, refs[1].entryid, 0);
	mh_store_info si;
	mh_store_get_info(arch, &si);
	assert_int_equal(si.kind, MH_MAILBOX_ARCHIVE);
	assert_contains(si.mailstore_url, "MailboxId=" ARCH_GUID DOMAIN);
	mh_store_close(arch);
	MAPIFreeBuffer(refs);
	mh_session_close(f->s);
	f->s = NULL;

	/* svc, for bob's archive: the same EntryID as from the MAPI/HTTP form. */
	options_for(f, &o, "svc" DOMAIN, MH_AUTH_BASIC, "Svc-Pass-1");
	o.transport = &t.pub;
	assert_int_equal(mh_session_open(&f->s, &o), S_OK);
	uint32_t cb = 0;
	ENTRYID *eid = entryid_of(f, "bob" DOMAIN, true, &cb);
	mh_store_entryid *p = NULL;
	assert_int_equal(mh_store_entryid_parse(&p, cb, eid), S_OK);
	assert_string_equal(p->smtp_address, "ExchangeGuid+" ARCH_GUID DOMAIN);
	assert_string_equal(p->mailbox_dn, DN_OF("bob") "/guid=" ARCH_GUID);
	MAPIFreeBuffer(p);
	arch = open_store_ok(f, cb, eid, 0);
	mh_store_close(arch);
	MAPIFreeBuffer(eid);
	mh_session_close(f->s);
	f->s = NULL;
	/* The session only borrowed it. */
	rpc_destroy(&t);
}

/* ---- recovery under --fault ------------------------------------------------------------ */

/*
 * The seed story under a fault: svc opens its session, bob's mailbox and reads its Inbox
 * (opened again after a lost context, as a caller does), then bob's archive. Returns the first
 * failure; *relogons counts the stores' re-logons, plus 100 for each read replayed after a
 * lost answer.
 */
static mh_status story(fixture *f, const char *fault, uint32_t *relogons)
{
	const char *const extra[] = {"--fault", fault, NULL};
	start(f, extra);
	*relogons = 0;
	mh_status st = open_as(f, "svc" DOMAIN, "Svc-Pass-1");
	if (st != S_OK)
		return st;
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	st = mh_session_mailbox_entryid(f->s, "bob" DOMAIN, false, &cb, &eid);
	if (st != S_OK)
		return st;
	mh_store *bob = NULL;
	st = mh_session_open_msg_store(&bob, f->s, cb, eid, 0);
	MAPIFreeBuffer(eid);
	if (st != S_OK)
		return st;
	for (int i = 0; i < 4; i++) {
		uint32_t gen = bob->generation;
		st = open_inbox(bob);
		if (st == MAPI_E_END_OF_SESSION) {
			assert_int_equal(bob->generation, gen + 1);
			assert_contains(mh_session_errmsg(f->s), "logged on again");
			(*relogons)++;
		} else if (st == MAPI_E_NETWORK_ERROR) {
			/* An Execute whose answer was lost is the caller's to replay: this one
			 * is read-only. */
			assert_contains(mh_session_errmsg(f->s), "not sent again");
			(*relogons) += 100;
		} else {
			break;
		}
	}
	mh_store_close(bob);
	if (st != S_OK)
		return st;
	st = mh_session_mailbox_entryid(f->s, "bob" DOMAIN, true, &cb, &eid);
	if (st != S_OK)
		return st;
	mh_store *arch = NULL;
	st = mh_session_open_msg_store(&arch, f->s, cb, eid, 0);
	MAPIFreeBuffer(eid);
	mh_store_close(arch);
	return st;
}

/* The story under fault, which must succeed; returns its count of re-logons and replays. */
static uint32_t story_ok(void **state, const char *fault)
{
	fixture *f = *state;
	uint32_t relogons = 0;
	mh_status st = story(f, fault, &relogons);
	if (st != S_OK)
		fail_msg("--fault %s: %s: %s", fault, mh_status_str(st),
		         f->s != NULL ? mh_session_errmsg(f->s) : mh_error_last()->message);
	return relogons;
}

static void test_session__fault_close(void **state)
{
	/* A RopLogon whose answer was cut short is sent again (Connect is resent anyway); the
	 * Inbox read it cut short is reported, not resent, and works when the caller replays it. */
	assert_true(story_ok(state, "close,every=2") >= 100);
}

static void test_session__fault_503(void **state)
{
	assert_int_equal(story_ok(state, "503,every=2,ms=100"), 0);
}

static void test_session__fault_expire(void **state)
{
	/* The Inbox read met a lost context at least once and the store logged on again. */
	assert_true(story_ok(state, "expire,every=3") >= 1);
}

static void test_session__fault_expire_shared_endpoint(void **state)
{
	fixture *f = *state;
	static const char *const extra[] = {"--fault", "expire,every=6", NULL};
	start(f, extra);
	open_ok(f, "svc" DOMAIN, "Svc-Pass-1");
	uint32_t cb = 0;
	ENTRYID *eid = entryid_of(f, "bob" DOMAIN, false, &cb);
	/* Two stores on one endpoint (one session context, two LogonIds). */
	mh_store *st1 = open_store_ok(f, cb, eid, 0);
	mh_store *st2 = open_store_ok(f, cb, eid, 0);
	MAPIFreeBuffer(eid);
	assert_ptr_equal(st1->ep, st2->ep);
	assert_int_not_equal(st1->logon_id, st2->logon_id);
	bool lost = false;
	for (int i = 0; i < 8 && !lost; i++) {
		mh_status r = open_inbox(st1);
		if (r == MAPI_E_END_OF_SESSION)
			lost = true;
		else
			assert_int_equal(r, S_OK);
	}
	assert_true(lost);
	assert_int_equal(st1->generation, 1);
	/* st1 met the loss; st2's logon went with it: st2 logs on again before its ROPs are
	 * sent (one request: its RopLogon) and says so. */
	uint64_t before = mh_session_request_count(f->s);
	assert_int_equal(open_inbox(st2), MAPI_E_END_OF_SESSION);
	assert_int_equal(mh_session_request_count(f->s) - before, 1);
	assert_int_equal(st2->generation, 1);
	assert_int_equal(open_inbox(st2), S_OK);
	assert_int_equal(open_inbox(st1), S_OK);
	mh_store_close(st2);
	mh_store_close(st1);
}

static void test_session__fault_stall(void **state)
{
	assert_int_equal(story_ok(state, "stall,every=2,ms=300"), 0);
}

static void test_session__fault_backoff(void **state)
{
	assert_int_equal(story_ok(state, "backoff,every=2,ms=100"), 0);
}

static void test_session__fault_backoff_always(void **state)
{
	fixture *f = *state;
	uint32_t relogons = 0;
	/* Every Execute backs off: the open gives up with a status that says so. */
	mh_status st = story(f, "backoff,every=1,ms=10", &relogons);
	assert_int_equal(st, MAPI_E_BUSY);
	assert_null(f->s);
	assert_contains(mh_error_last()->message, "RopBackoff");
}

static void test_session__fault_wrongserver(void **state)
{
	/* Every other RopLogon is redirected to the mailbox's own server: followed. */
	(void)story_ok(state, "wrongserver,every=2");
}

static void test_session__fault_wrongserver_always(void **state)
{
	fixture *f = *state;
	uint32_t relogons = 0;
	mh_status st = story(f, "wrongserver,every=1", &relogons);
	assert_int_equal(st, MAPI_E_UNCONFIGURED);
	const char *msg = mh_error_last()->message;
	assert_contains(msg, "ecWrongServer");
	assert_contains(msg, "after 3 redirects");
}

/* ---- the example ---------------------------------------------------------------------- */

#ifdef MH_EXAMPLE_PATH
static void test_session__example_open_archive(void **state)
{
	fixture *f = *state;
	start(f, NULL);
	/* The password goes through the environment, never argv. */
	char *const envp[] = {(char *)(uintptr_t) "MAPIHTTP_PASSWORD=Svc-Pass-1", NULL};
	const char *const args[] = {"--user",  "svc" DOMAIN,   "--autodiscover-url",
	                            f->ad_url, "--allow-http", "bob" DOMAIN,
	                            NULL};
	mh_test_run_result r;
	memset(&r, 0, sizeof(r));
	assert_int_equal(mh_test_run(&r, MH_EXAMPLE_PATH, args, envp, NULL), 0);
	if (r.status != 0)
		fail_msg("open_archive exited %d:\n%s\n%s", r.status, r.out, r.err);
	assert_contains(r.out, "session: Scan Service <svc" DOMAIN ">\n");
	assert_contains(r.out, "OpenMsgStore(v1): MAPI_E_CALL_FAILED\n");
	assert_contains(r.out, "carries no SMTP address, so MAPI/HTTP cannot Autodiscover");
	assert_contains(r.out, "archive v3 store EntryID (");
	assert_contains(
	    r.out,
	    "opened: Online Archive - Bob Baker (archive, owner) <ExchangeGuid+" ARCH_GUID DOMAIN
	    ">\n");
	assert_contains(r.out, "  Inbox (3 messages)\n");
	assert_contains(r.out, "  2019 (2 messages)\n");
	assert_lacks(r.out, "Svc-Pass-1");
	assert_lacks(r.err, "Svc-Pass-1");
	mh_test_run_result_free(&r);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_session__open_password, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__open_bearer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__cache_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__bad_options, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__wrong_password, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__bad_tokens, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__unknown_user, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__v1_fails_with_explanation, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_session__open_bob_v3, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__open_bob_archive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__archive_v1_upgrade, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__carol_logon_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__carol_folder_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__list_mailboxes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__list_mailboxes_archive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__resolve, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__bad_entryid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__https, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__archive_rpc_form, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__fault_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__fault_503, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__fault_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__fault_expire_shared_endpoint, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_session__fault_stall, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__fault_backoff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__fault_backoff_always, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__fault_wrongserver, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session__fault_wrongserver_always, setup,
	                                    teardown),
#ifdef MH_EXAMPLE_PATH
	    cmocka_unit_test_setup_teardown(test_session__example_open_archive, setup, teardown),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
