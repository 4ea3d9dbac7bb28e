/*
 * Tests of mapihttpd's store and organisation files: every documented fact of the sample
 * organisation, lookups in all address forms, rights, authentication, precise errors for
 * malformed files, the synthetic organisation and an on-disk (WAL) store.
 */
#define _DEFAULT_SOURCE /* mkstemp, strcasecmp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "codec/propval.h"
#include "mapihttp/status.h"
#include "server/org.h"
#include "server/store.h"
#include "util/arena.h"

#define DN_PREFIX "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define ALICE_DN  DN_PREFIX "/cn=Recipients/cn=alice"
/* 2024-01-01T00:00:00Z, when the sample's svc-token-expired stops being accepted. */
#define TIME_2024 INT64_C(1704067200)
#define BOB_DN    DN_PREFIX "/cn=Recipients/cn=bob"
/* Name-based GUIDs, computed independently (SHA-256 of the documented name). */
#define BOB_GUID      "eb113c0f-3344-86e1-ad16-c68cf5c1be62"
#define BOB_ARCHIVE   "6bc6e012-62aa-8d2f-bbd6-151067afaa5d"
#define BOB_REPL      "6317ed79-77f5-85cd-ad74-e0b76dfa7a9d"
#define ALICE_GUID    "3a355873-72e9-840e-9c30-d2cf806e1a0f"
#define HELPDESK_GUID "64f1f9c7-d021-8da8-9104-ab895fb56224"
#define GEN_USER1     "89c6d425-5bc5-8f96-9ed4-742f71d88b6e"
#define GEN_ARCHIVE42 "24e5bae8-8b31-8ac5-9a9e-1ec5b430a6a9"

typedef struct fixture {
	mh_srv_store *st;
	mh_arena arena;
} fixture;

static void assert_message(const char *want)
{
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	if (strcmp(e->message, want) != 0)
		fail_msg("message \"%s\", expected \"%s\"", e->message, want);
}

static void assert_message_contains(const char *needle)
{
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	if (strstr(e->message, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", e->message, needle);
}

static int sample_setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	if (f == NULL || mh_srv_store_open(&f->st, NULL) != S_OK ||
	    mh_srv_store_load_sample(f->st) != S_OK) {
		const mh_error *e = mh_error_last();
		fprintf(stderr, "sample setup: %s\n", e ? e->message : "?");
		return -1;
	}
	mh_arena_init(&f->arena, 0);
	*state = f;
	return 0;
}

static int sample_teardown(void **state)
{
	fixture *f = *state;
	mh_arena_free(&f->arena);
	mh_srv_store_free(f->st);
	free(f);
	return 0;
}

static mh_srv_recipient rcpt(fixture *f, const char *smtp)
{
	mh_srv_recipient r;
	assert_int_equal(mh_srv_store_recipient_by_smtp(f->st, &f->arena, smtp, &r), S_OK);
	return r;
}

static mh_srv_mailbox mailbox(fixture *f, const char *address)
{
	mh_srv_mailbox m;
	assert_int_equal(mh_srv_store_mailbox_by_address(f->st, &f->arena, address, &m), S_OK);
	return m;
}

/* A folder by its path below Top of Information Store ("Inbox/Projects"). */
static mh_srv_folder folder(fixture *f, int64_t mbx, const char *path)
{
	mh_srv_folder *list;
	size_t n;
	uint64_t parent = 0;
	char buf[256];
	assert_int_equal(mh_srv_store_folders(f->st, &f->arena, mbx, &list, &n), S_OK);
	for (size_t i = 0; i < n; i++)
		if (list[i].special == MH_SRV_FOLDER_IPM_SUBTREE)
			parent = list[i].fid;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *seg = strtok(buf, "/"); seg != NULL; seg = strtok(NULL, "/")) {
		size_t i;
		for (i = 0; i < n; i++)
			if (list[i].parent_fid == parent && strcmp(list[i].display_name, seg) == 0)
				break;
		if (i == n)
			fail_msg("no folder %s", path);
		parent = list[i].fid;
		if (strchr(seg, '\0') == buf + strlen(path))
			return list[i];
	}
	for (size_t i = 0; i < n; i++)
		if (list[i].fid == parent)
			return list[i];
	fail_msg("no folder %s", path);
	return list[0];
}

static size_t count_in(fixture *f, int64_t mbx, const char *path)
{
	mh_srv_folder fo = folder(f, mbx, path);
	mh_srv_message *msgs;
	size_t n;
	assert_int_equal(mh_srv_store_messages(f->st, &f->arena, fo.id, &msgs, &n), S_OK);
	assert_int_equal(n, fo.content_count);
	return n;
}

/* ---- helpers without a store ---------------------------------------------------------------- */

static void test_server_store__sha256_vectors(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		const char *hex;
	} v[] = {
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	    {"svc-token-0001", "5a24cfbc601769d83fae9f5ef77b9920077c21f1b55c2aa778c526ce1d4eee2f"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char h[65];
		mh_srv_token_hash(h, v[i].in, strlen(v[i].in));
		assert_string_equal(h, v[i].hex);
	}
	/* One million 'a': many full blocks. */
	char *big = malloc(1000000);
	uint8_t d[32];
	assert_non_null(big);
	memset(big, 'a', 1000000);
	mh_srv_sha256(d, big, 1000000);
	free(big);
	assert_int_equal(d[0], 0xcd);
	assert_int_equal(d[1], 0xc7);
	assert_int_equal(d[31], 0xd0);
}

static void test_server_store__guid_text_and_ids(void **state)
{
	(void)state;
	GUID g, h;
	char text[37];
	mh_srv_name_guid(&g, "archive", "contoso.test", "bob");
	mh_srv_guid_text(text, &g);
	assert_string_equal(text, BOB_ARCHIVE);
	assert_int_equal(mh_srv_guid_parse(&h, "6BC6E012-62AA-8D2F-BBD6-151067AFAA5D", 36), S_OK);
	assert_memory_equal(&g, &h, sizeof(g));
	assert_int_equal(g.Data1, 0x6bc6e012u);
	assert_int_equal(g.Data4[7], 0x5d);
	assert_int_equal(mh_srv_guid_parse(&h, "6bc6e012-62aa-8d2f-bbd6-151067afaa5", 35),
	                 MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_srv_guid_parse(&h, "6bc6e012x62aa-8d2f-bbd6-151067afaa5d", 36),
	                 MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_srv_guid_parse(&h, "6bc6e012-62aa-8d2f-bbd6-151067afaa5g", 36),
	                 MAPI_E_INVALID_PARAMETER);
	/* FID 0001-0000000000AB: ReplId 1 little-endian, then the counter big-endian. */
	assert_true(mh_id_make(1, 0xAB) == 0xAB00000000000001ull);
	assert_true(mh_id_make(1, 0x0102030405ull) == 0x0504030201000001ull);
	assert_true(mh_id_counter(mh_id_make(1, 0x123456789ABCull)) == 0x123456789ABCull);
	assert_true(mh_srv_filetime(0) == 116444736000000000ull);
}

/* ---- the sample organisation ----------------------------------------------------------------- */

static void test_server_store__sample_org_info(void **state)
{
	fixture *f = *state;
	mh_srv_org_info info;
	assert_int_equal(mh_srv_store_org_info(f->st, &f->arena, &info), S_OK);
	assert_string_equal(info.domain, "contoso.test");
	assert_string_equal(info.name, "Contoso");
	assert_string_equal(info.dn_prefix, DN_PREFIX);
}

static void test_server_store__sample_recipients(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *smtp, *name;
		mh_srv_recipient_kind kind;
		int logon;
	} want[] = {
	    {"alice@contoso.test", "Alice Archer", MH_SRV_RECIPIENT_USER, 1},
	    {"bob@contoso.test", "Bob Baker", MH_SRV_RECIPIENT_USER, 1},
	    {"carol@contoso.test", "Carol Chen", MH_SRV_RECIPIENT_USER, 1},
	    {"svc@contoso.test", "Scan Service", MH_SRV_RECIPIENT_USER, 1},
	    {"helpdesk@contoso.test", "Helpdesk", MH_SRV_RECIPIENT_SHARED, 0},
	};
	mh_srv_recipient r, r2;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char dn[256];
		r = rcpt(f, want[i].smtp);
		assert_string_equal(r.smtp, want[i].smtp);
		assert_string_equal(r.display_name, want[i].name);
		assert_int_equal(r.kind, want[i].kind);
		assert_int_equal(r.can_logon, want[i].logon);
		snprintf(dn, sizeof(dn), DN_PREFIX "/cn=Recipients/cn=%s", r.alias);
		assert_string_equal(r.legacy_dn, dn);
		assert_int_equal(mh_srv_store_recipient_by_id(f->st, &f->arena, r.id, &r2), S_OK);
		assert_string_equal(r2.smtp, want[i].smtp);
	}
	/* Case-insensitive, by address and by DN. */
	r = rcpt(f, "ALICE@Contoso.TEST");
	assert_string_equal(r.smtp, "alice@contoso.test");
	assert_int_equal(mh_srv_store_recipient_by_dn(f->st, &f->arena,
	                                              "/O=CONTOSO/OU=EXCHANGE ADMINISTRATIVE GROUP "
	                                              "(FYDIBOHF23SPDLT)/CN=RECIPIENTS/CN=BOB",
	                                              &r),
	                 S_OK);
	assert_string_equal(r.display_name, "Bob Baker");
	assert_int_equal(mh_srv_store_recipient_by_smtp(f->st, &f->arena, "dave@contoso.test", &r),
	                 MAPI_E_NOT_FOUND);
	assert_int_equal(mh_srv_store_recipient_by_dn(f->st, &f->arena, BOB_DN "x", &r),
	                 MAPI_E_NOT_FOUND);
}

static void test_server_store__sample_mailboxes(void **state)
{
	fixture *f = *state;
	mh_srv_mailbox bob = mailbox(f, "bob@contoso.test"), arch, m;
	char text[37];
	assert_int_equal(bob.kind, MH_SRV_MAILBOX_PRIMARY);
	mh_srv_guid_text(text, &bob.guid);
	assert_string_equal(text, BOB_GUID);
	mh_srv_guid_text(text, &bob.repl_guid);
	assert_string_equal(text, BOB_REPL);
	assert_string_equal(bob.legacy_dn, BOB_DN);
	assert_string_equal(bob.display_name, "Bob Baker");
	assert_string_equal(bob.mailbox_id, BOB_GUID "@contoso.test");
	assert_string_equal(bob.server_dn,
	                    DN_PREFIX "/cn=Configuration/cn=Servers/cn=" BOB_GUID "@contoso.test");
	assert_string_equal(bob.mdb_dn, DN_PREFIX "/cn=Configuration/cn=Servers/cn=" BOB_GUID
	                                          "@contoso.test/cn=Microsoft Private MDB");
	assert_string_equal(bob.owner.smtp, "bob@contoso.test");

	assert_int_equal(
	    mh_srv_store_mailbox_of(f->st, &f->arena, bob.owner.id, MH_SRV_MAILBOX_ARCHIVE, &arch),
	    S_OK);
	assert_int_equal(arch.kind, MH_SRV_MAILBOX_ARCHIVE);
	mh_srv_guid_text(text, &arch.guid);
	assert_string_equal(text, BOB_ARCHIVE);
	assert_string_equal(arch.display_name, "Online Archive - Bob Baker");
	assert_string_equal(arch.legacy_dn, BOB_DN "/guid=" BOB_ARCHIVE);
	assert_string_equal(arch.mailbox_id, BOB_ARCHIVE "@contoso.test");
	assert_string_equal(arch.owner.smtp, "bob@contoso.test");

	/* Every form of address that names the archive, in any case. */
	static const char *const archive_names[] = {
	    "ExchangeGuid+" BOB_ARCHIVE "@contoso.test",
	    "exchangeguid+6BC6E012-62AA-8D2F-BBD6-151067AFAA5D@CONTOSO.TEST",
	    BOB_ARCHIVE "@contoso.test",
	    "6BC6E012-62AA-8D2F-BBD6-151067AFAA5D@Contoso.Test",
	};
	for (size_t i = 0; i < 4; i++) {
		m = mailbox(f, archive_names[i]);
		assert_int_equal(m.id, arch.id);
	}
	/* The primary mailbox's GUID names it too. */
	m = mailbox(f, "ExchangeGuid+" BOB_GUID "@contoso.test");
	assert_int_equal(m.id, bob.id);
	m = mailbox(f, "Bob@Contoso.Test");
	assert_int_equal(m.id, bob.id);
	/* Essdn and MailboxId lookups. */
	assert_int_equal(
	    mh_srv_store_mailbox_by_dn(f->st, &f->arena,
	                               "/o=contoso/ou=exchange administrative group "
	                               "(fydibohf23spdlt)/cn=recipients/cn=bob/guid=" BOB_ARCHIVE,
	                               &m),
	    S_OK);
	assert_int_equal(m.id, arch.id);
	assert_int_equal(mh_srv_store_mailbox_by_dn(f->st, &f->arena, BOB_DN, &m), S_OK);
	assert_int_equal(m.id, bob.id);
	assert_int_equal(
	    mh_srv_store_mailbox_by_id(f->st, &f->arena, BOB_ARCHIVE "@Contoso.test", &m), S_OK);
	assert_int_equal(m.id, arch.id);
	assert_int_equal(
	    mh_srv_store_mailbox_by_id(f->st, &f->arena, HELPDESK_GUID "@contoso.test", &m), S_OK);
	assert_string_equal(m.owner.smtp, "helpdesk@contoso.test");
	assert_int_equal(m.owner.kind, MH_SRV_RECIPIENT_SHARED);

	/* Misses. */
	assert_int_equal(mh_srv_store_mailbox_by_address(
	                     f->st, &f->arena, "ExchangeGuid+" BOB_ARCHIVE "@fabrikam.test", &m),
	                 MAPI_E_NOT_FOUND);
	assert_int_equal(mh_srv_store_mailbox_by_address(f->st, &f->arena,
	                                                 "ExchangeGuid+nonsense@contoso.test", &m),
	                 MAPI_E_NOT_FOUND);
	assert_int_equal(
	    mh_srv_store_mailbox_by_address(
	        f->st, &f->arena, "00000000-0000-0000-0000-000000000000@contoso.test", &m),
	    MAPI_E_NOT_FOUND);
	assert_int_equal(mh_srv_store_mailbox_by_id(f->st, &f->arena, "bob@contoso.test", &m),
	                 MAPI_E_NOT_FOUND);
	assert_int_equal(mh_srv_store_mailbox_by_id(f->st, &f->arena, BOB_GUID "@other.test", &m),
	                 MAPI_E_NOT_FOUND);
	assert_int_equal(
	    mh_srv_store_mailbox_by_dn(f->st, &f->arena, BOB_DN "/guid=" ALICE_GUID, &m),
	    MAPI_E_NOT_FOUND);
	mh_srv_recipient alice = rcpt(f, "alice@contoso.test");
	assert_int_equal(
	    mh_srv_store_mailbox_of(f->st, &f->arena, alice.id, MH_SRV_MAILBOX_ARCHIVE, &m),
	    MAPI_E_NOT_FOUND);
	/* Keys longer than anything stored are refused before SQLite. */
	char *huge = malloc(5000);
	assert_non_null(huge);
	memset(huge, 'a', 4999);
	huge[4999] = '\0';
	assert_int_equal(mh_srv_store_mailbox_by_address(f->st, &f->arena, huge, &m),
	                 MAPI_E_NOT_FOUND);
	free(huge);
}

static void test_server_store__sample_rights(void **state)
{
	fixture *f = *state;
	mh_srv_recipient alice = rcpt(f, "alice@contoso.test"), bob = rcpt(f, "bob@contoso.test"),
	                 carol = rcpt(f, "carol@contoso.test"), svc = rcpt(f, "svc@contoso.test");
	mh_srv_mailbox mb_alice = mailbox(f, "alice@contoso.test"),
	               mb_bob = mailbox(f, "bob@contoso.test"),
	               mb_carol = mailbox(f, "carol@contoso.test"),
	               mb_help = mailbox(f, "helpdesk@contoso.test"),
	               mb_arch = mailbox(f, BOB_ARCHIVE "@contoso.test"), *list;
	size_t n;
	int full;
	uint32_t rights;
	static const struct {
		int who; /* 0 alice 1 bob 2 carol 3 svc */
		int mbx; /* 0 alice 1 bob 2 carol 3 helpdesk 4 bob's archive */
		int want;
	} fa[] = {
	    {3, 1, 1}, {3, 4, 1}, {3, 3, 1}, {3, 0, 0}, {3, 2, 0}, {0, 1, 0}, {0, 4, 0},
	    {1, 1, 1}, {1, 4, 1}, {1, 0, 0}, {2, 1, 0}, {2, 3, 0}, {0, 0, 1}, {0, 3, 0},
	};
	const mh_srv_recipient *who[] = {&alice, &bob, &carol, &svc};
	const mh_srv_mailbox *mbx[] = {&mb_alice, &mb_bob, &mb_carol, &mb_help, &mb_arch};
	for (size_t i = 0; i < sizeof(fa) / sizeof(fa[0]); i++) {
		assert_int_equal(mh_srv_store_has_full_access(f->st, who[fa[i].who]->id,
		                                              mbx[fa[i].mbx]->id, &full),
		                 S_OK);
		if (full != fa[i].want)
			fail_msg("full access of %s on mailbox %d: %d, expected %d",
			         who[fa[i].who]->alias, fa[i].mbx, full, fa[i].want);
	}
	assert_int_equal(mh_srv_store_has_full_access(f->st, svc.id, 999999, &full),
	                 MAPI_E_NOT_FOUND);

	/* alice may read bob's Inbox and nothing else of his. */
	mh_srv_folder inbox = folder(f, mb_bob.id, "Inbox"),
	              sent = folder(f, mb_bob.id, "Sent Items"),
	              projects = folder(f, mb_bob.id, "Inbox/Projects");
	assert_int_equal(mh_srv_store_folder_rights(f->st, alice.id, inbox.id, &rights), S_OK);
	assert_int_equal(rights, MH_SRV_RIGHT_READ_ANY | MH_SRV_RIGHT_FOLDER_VISIBLE);
	assert_int_equal(mh_srv_store_folder_rights(f->st, alice.id, sent.id, &rights), S_OK);
	assert_int_equal(rights, 0);
	assert_int_equal(mh_srv_store_folder_rights(f->st, alice.id, projects.id, &rights), S_OK);
	assert_int_equal(rights, 0);
	assert_int_equal(mh_srv_store_folder_rights(f->st, carol.id, inbox.id, &rights), S_OK);
	assert_int_equal(rights, 0);
	assert_int_equal(mh_srv_store_folder_rights(f->st, svc.id, inbox.id, &rights), S_OK);
	assert_int_equal(rights, MH_SRV_RIGHTS_ALL_MASK);
	assert_int_equal(mh_srv_store_folder_rights(f->st, bob.id, projects.id, &rights), S_OK);
	assert_int_equal(rights, MH_SRV_RIGHTS_ALL_MASK);
	mh_srv_folder arch_inbox = folder(f, mb_arch.id, "Inbox");
	assert_int_equal(mh_srv_store_folder_rights(f->st, svc.id, arch_inbox.id, &rights), S_OK);
	assert_int_equal(rights, MH_SRV_RIGHTS_ALL_MASK);
	assert_int_equal(mh_srv_store_folder_rights(f->st, alice.id, arch_inbox.id, &rights), S_OK);
	assert_int_equal(rights, 0);
	assert_int_equal(mh_srv_store_folder_rights(f->st, alice.id, 999999, &rights),
	                 MAPI_E_NOT_FOUND);

	/* svc's auto-mapped mailboxes: bob and helpdesk, ordered by address. */
	assert_int_equal(mh_srv_store_automapped(f->st, &f->arena, svc.id, &list, &n), S_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].owner.smtp, "bob@contoso.test");
	assert_int_equal(list[0].kind, MH_SRV_MAILBOX_PRIMARY);
	assert_string_equal(list[1].owner.smtp, "helpdesk@contoso.test");
	assert_string_equal(list[1].mailbox_id, HELPDESK_GUID "@contoso.test");
	assert_int_equal(mh_srv_store_automapped(f->st, &f->arena, alice.id, &list, &n), S_OK);
	assert_int_equal(n, 0);
	assert_null(list);
}

static void test_server_store__sample_folders(void **state)
{
	fixture *f = *state;
	static const char *const names[MH_SRV_SPECIAL_FOLDERS] = {
	    "Root Container", "Deferred Action", "Spooler Queue", "Top of Information Store",
	    "Inbox",          "Outbox",          "Sent Items",    "Deleted Items",
	    "Common Views",   "Schedule",        "Finder",        "Views",
	    "Shortcuts"};
	mh_srv_mailbox bob = mailbox(f, "bob@contoso.test"),
	               arch = mailbox(f, BOB_ARCHIVE "@contoso.test");
	uint64_t fids[MH_SRV_SPECIAL_FOLDERS];
	mh_srv_folder *list, fo;
	size_t n;
	assert_int_equal(mh_srv_store_special_fids(f->st, bob.id, fids), S_OK);
	assert_int_equal(mh_srv_store_folders(f->st, &f->arena, bob.id, &list, &n), S_OK);
	assert_int_equal(n, 14);
	assert_int_equal(list[0].special, MH_SRV_FOLDER_ROOT);
	assert_true(list[0].parent_fid == 0);
	assert_int_equal(list[0].depth, 0);
	for (int i = 0; i < MH_SRV_SPECIAL_FOLDERS; i++) {
		/* Counters 1..13 in RopLogon order. */
		assert_true(fids[i] == mh_id_make(1, (uint64_t)i + 1));
		assert_int_equal(mh_srv_store_folder_by_fid(f->st, &f->arena, bob.id, fids[i], &fo),
		                 S_OK);
		assert_int_equal(fo.special, i);
		assert_string_equal(fo.display_name, names[i]);
		assert_true(fo.parent_fid ==
		            (i == 0 ? 0
		             : i >= MH_SRV_FOLDER_INBOX && i <= MH_SRV_FOLDER_DELETED_ITEMS
		                 ? fids[MH_SRV_FOLDER_IPM_SUBTREE]
		                 : fids[MH_SRV_FOLDER_ROOT]));
	}
	/* Parents come before their children. */
	for (size_t i = 1; i < n; i++) {
		size_t k;
		for (k = 0; k < i; k++)
			if (list[k].fid == list[i].parent_fid)
				break;
		assert_true(k < i);
		assert_int_equal(list[i].depth, list[k].depth + 1);
	}
	fo = folder(f, bob.id, "Inbox");
	assert_true(fo.fid == fids[MH_SRV_FOLDER_INBOX]);
	assert_string_equal(fo.container_class, "IPF.Note");
	assert_int_equal(fo.content_count, 4);
	assert_int_equal(fo.unread_count, 3);
	assert_int_equal(fo.subfolder_count, 1);
	fo = folder(f, bob.id, "Inbox/Projects");
	assert_true(fo.parent_fid == fids[MH_SRV_FOLDER_INBOX]);
	assert_int_equal(fo.special, -1);
	assert_int_equal(fo.depth, 3);
	assert_true(mh_id_counter(fo.fid) == 14);
	assert_int_equal(
	    mh_srv_store_folder_by_fid(f->st, &f->arena, bob.id, mh_id_make(1, 999), &fo),
	    MAPI_E_NOT_FOUND);
	assert_int_equal(
	    mh_srv_store_folder_by_fid(f->st, &f->arena, bob.id, mh_id_make(2, 5), &fo),
	    MAPI_E_NOT_FOUND);
	assert_int_equal(mh_srv_store_special_fids(f->st, 999999, fids), MAPI_E_NOT_FOUND);
	/* The archive: the 13 special folders and "2019". */
	assert_int_equal(mh_srv_store_folders(f->st, &f->arena, arch.id, &list, &n), S_OK);
	assert_int_equal(n, 14);
	fo = folder(f, arch.id, "2019");
	assert_int_equal(fo.depth, 2);
	assert_int_equal(mh_srv_store_folders(f->st, &f->arena, 999999, &list, &n),
	                 MAPI_E_NOT_FOUND);
}

/* The documented message counts (docs/internals/server-store.md). */
static void test_server_store__sample_message_counts(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *mailbox, *folder;
		size_t n, unread;
	} want[] = {
	    {"alice@contoso.test", "Inbox", 3, 2},
	    {"alice@contoso.test", "Sent Items", 2, 0},
	    {"bob@contoso.test", "Inbox", 4, 3},
	    {"bob@contoso.test", "Inbox/Projects", 2, 1},
	    {"bob@contoso.test", "Sent Items", 2, 0},
	    {"ExchangeGuid+" BOB_ARCHIVE "@contoso.test", "Inbox", 3, 0},
	    {"ExchangeGuid+" BOB_ARCHIVE "@contoso.test", "2019", 2, 0},
	    {"carol@contoso.test", "Inbox", 2, 1},
	    {"carol@contoso.test", "Sent Items", 1, 0},
	    {"svc@contoso.test", "Inbox", 1, 0},
	    {"svc@contoso.test", "Sent Items", 1, 0},
	    {"helpdesk@contoso.test", "Inbox", 3, 2},
	    {"helpdesk@contoso.test", "Sent Items", 1, 0},
	};
	size_t total = 0;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		mh_srv_mailbox m = mailbox(f, want[i].mailbox);
		size_t n = count_in(f, m.id, want[i].folder);
		if (n != want[i].n)
			fail_msg("%s %s: %zu messages, expected %zu", want[i].mailbox,
			         want[i].folder, n, want[i].n);
		if (folder(f, m.id, want[i].folder).unread_count != want[i].unread)
			fail_msg("%s %s: unread count differs from %zu", want[i].mailbox,
			         want[i].folder, want[i].unread);
		total += n;
	}
	assert_int_equal(total, 27);
	/* No other folder holds messages: the sum over every folder is the same. */
	static const char *const all[] = {"alice@contoso.test",        "bob@contoso.test",
	                                  BOB_ARCHIVE "@contoso.test", "carol@contoso.test",
	                                  "svc@contoso.test",          "helpdesk@contoso.test"};
	size_t sum = 0;
	for (size_t i = 0; i < 6; i++) {
		mh_srv_folder *list;
		size_t n;
		mh_srv_mailbox m = mailbox(f, all[i]);
		assert_int_equal(mh_srv_store_folders(f->st, &f->arena, m.id, &list, &n), S_OK);
		for (size_t k = 0; k < n; k++)
			sum += list[k].content_count;
	}
	assert_int_equal(sum, 27);
}

static void test_server_store__sample_message_contents(void **state)
{
	fixture *f = *state;
	mh_srv_mailbox bob = mailbox(f, "bob@contoso.test"),
	               alice = mailbox(f, "alice@contoso.test");
	mh_srv_folder inbox = folder(f, bob.id, "Inbox");
	mh_srv_message *msgs, one;
	size_t n;
	assert_int_equal(mh_srv_store_messages(f->st, &f->arena, inbox.id, &msgs, &n), S_OK);
	assert_int_equal(n, 4);
	/* Newest first. */
	assert_string_equal(msgs[0].subject, "Printer on floor 3");
	for (size_t i = 1; i < n; i++)
		assert_true(msgs[i - 1].delivery_time >= msgs[i].delivery_time);
	const mh_srv_message *q = NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(msgs[i].subject, "Quarterly report draft") == 0)
			q = &msgs[i];
	assert_non_null(q);
	assert_string_equal(q->message_class, "IPM.Note");
	assert_string_equal(q->sender_name, "Alice Archer");
	assert_string_equal(q->sender_smtp, "alice@contoso.test");
	assert_true(q->delivery_time == 1709916305); /* 2024-03-08T16:45:05Z */
	assert_true(q->fid == inbox.fid);
	assert_int_equal(q->read, 0);
	assert_string_equal(q->body, "Draft attached; comments by Tuesday please.\r\n");
	assert_int_equal(q->n_recipients, 2);
	assert_int_equal(q->recipients[0].type, MH_SRV_MAPI_TO);
	assert_string_equal(q->recipients[0].display_name, "Bob Baker");
	assert_string_equal(q->recipients[1].smtp, "carol@contoso.test");
	assert_int_equal(q->n_attachments, 1);
	assert_string_equal(q->attachments[0].filename, "q1-report.txt");
	assert_string_equal(q->attachments[0].content_type, "text/plain");
	assert_int_equal(q->attachments[0].len, 26);
	assert_memory_equal(q->attachments[0].data, "Q1 revenue: up 4 percent.\n", 26);
	assert_int_equal(q->size, strlen(q->subject) + strlen(q->body) + 26);
	/* Properties ordered by tag: PidTagImportance (PT_LONG 1), PidTagInternetMessageId. */
	assert_int_equal(q->n_props, 2);
	assert_int_equal(q->props[0].tag, 0x00170003);
	assert_int_equal(q->props[0].len, 4);
	assert_memory_equal(q->props[0].value, "\x01\x00\x00\x00", 4);
	assert_int_equal(q->props[1].tag, 0x1035001F);
	assert_int_equal(q->props[1].len, strlen("<q1-report-draft@contoso.test>"));
	assert_memory_equal(q->props[1].value, "<q1-report-draft@contoso.test>", q->props[1].len);
	/* The same message by MID. */
	assert_int_equal(mh_srv_store_message_by_mid(f->st, &f->arena, bob.id, q->mid, &one), S_OK);
	assert_string_equal(one.subject, q->subject);
	assert_int_equal(one.n_props, 2);
	assert_int_equal(one.n_attachments, 1);
	assert_int_equal(mh_srv_store_message_by_mid(f->st, &f->arena, alice.id, q->mid, &one) ==
	                         S_OK &&
	                     strcmp(one.subject, q->subject) == 0,
	                 0);
	assert_int_equal(
	    mh_srv_store_message_by_mid(f->st, &f->arena, bob.id, mh_id_make(1, 99999), &one),
	    MAPI_E_NOT_FOUND);
	/* Sent Items without "from": the owner sent it. */
	mh_srv_folder sent = folder(f, alice.id, "Sent Items");
	assert_int_equal(mh_srv_store_messages(f->st, &f->arena, sent.id, &msgs, &n), S_OK);
	assert_int_equal(n, 2);
	assert_string_equal(msgs[1].subject, "RE: Lunch on Friday?");
	assert_string_equal(msgs[1].sender_smtp, "alice@contoso.test");
	assert_string_equal(msgs[1].sender_name, "Alice Archer");
	/* An empty folder. */
	mh_srv_folder outbox = folder(f, alice.id, "Outbox");
	assert_int_equal(mh_srv_store_messages(f->st, &f->arena, outbox.id, &msgs, &n), S_OK);
	assert_int_equal(n, 0);
	assert_null(msgs);
	assert_int_equal(mh_srv_store_messages(f->st, &f->arena, 999999, &msgs, &n),
	                 MAPI_E_NOT_FOUND);
}

static void test_server_store__sample_auth(void **state)
{
	fixture *f = *state;
	static const char *const pw[][2] = {{"alice@contoso.test", "Alice-Pass-1"},
	                                    {"bob@contoso.test", "Bob-Pass-1"},
	                                    {"carol@contoso.test", "Carol-Pass-1"},
	                                    {"svc@contoso.test", "Svc-Pass-1"}};
	mh_srv_recipient r;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(
		    mh_srv_store_verify_password(f->st, &f->arena, pw[i][0], pw[i][1], &r), S_OK);
		assert_string_equal(r.smtp, pw[i][0]);
	}
	assert_int_equal(mh_srv_store_verify_password(f->st, &f->arena, "ALICE@contoso.test",
	                                              "Alice-Pass-1", &r),
	                 S_OK);
	assert_string_equal(r.alias, "alice");
	/* Failures look the same and never echo the secret. */
	assert_int_equal(mh_srv_store_verify_password(f->st, &f->arena, "alice@contoso.test",
	                                              "alice-pass-1", &r),
	                 MAPI_E_LOGON_FAILED);
	assert_message("wrong user name or password");
	assert_int_equal(
	    mh_srv_store_verify_password(f->st, &f->arena, "alice@contoso.test", "Bob-Pass-1", &r),
	    MAPI_E_LOGON_FAILED);
	assert_int_equal(
	    mh_srv_store_verify_password(f->st, &f->arena, "alice@contoso.test", "", &r),
	    MAPI_E_LOGON_FAILED);
	assert_int_equal(
	    mh_srv_store_verify_password(f->st, &f->arena, "dave@contoso.test", "Alice-Pass-1", &r),
	    MAPI_E_LOGON_FAILED);
	assert_message("wrong user name or password");
	assert_int_equal(
	    mh_srv_store_verify_password(f->st, &f->arena, "helpdesk@contoso.test", "", &r),
	    MAPI_E_LOGON_FAILED);
	assert_int_equal(mh_srv_store_verify_password(f->st, &f->arena, "helpdesk@contoso.test",
	                                              "$6$mapihttpd.none$", &r),
	                 MAPI_E_LOGON_FAILED);
	/* Bearer tokens. */
	int expired = -1;
	assert_int_equal(mh_srv_store_principal_by_token(f->st, &f->arena, "svc-token-0001",
	                                                 TIME_2024 + INT64_C(86400) * 365 * 100,
	                                                 &expired, &r),
	                 S_OK);
	assert_string_equal(r.smtp, "svc@contoso.test");
	assert_int_equal(expired, 0);
	assert_int_equal(mh_srv_store_principal_by_token(f->st, &f->arena, "svc-token-0002",
	                                                 TIME_2024, &expired, &r),
	                 MAPI_E_LOGON_FAILED);
	assert_message("unknown bearer token");
	assert_int_equal(expired, 0);
	assert_int_equal(mh_srv_store_principal_by_token(f->st, &f->arena, "SVC-TOKEN-0001",
	                                                 TIME_2024, NULL, &r),
	                 MAPI_E_LOGON_FAILED);
	assert_int_equal(mh_srv_store_principal_by_token(f->st, &f->arena, "", TIME_2024, NULL, &r),
	                 MAPI_E_LOGON_FAILED);
	/* The sample's expired token: accepted up to its last second, refused from 2024 on. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(mh_srv_store_principal_by_token(f->st, &f->arena, "svc-token-expired",
	                                                 TIME_2024 - 1, &expired, &r),
	                 S_OK);
	assert_string_equal(r.smtp, "svc@contoso.test");
	assert_int_equal(expired, 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(mh_srv_store_principal_by_token(f->st, &f->arena, "svc-token-expired",
	                                                 TIME_2024, &expired, &r),
	                 MAPI_E_LOGON_FAILED);
	assert_int_equal(expired, 1);
	assert_message("bearer token expired");
	assert_null(r.smtp);
	assert_int_equal(mh_srv_store_principal_by_token(f->st, &f->arena, "svc-token-expired",
	                                                 (int64_t)time(NULL), &expired, &r),
	                 MAPI_E_LOGON_FAILED);
	assert_int_equal(expired, 1);
}

static void test_server_store__load_twice_collides(void **state)
{
	fixture *f = *state;
	assert_int_equal(mh_srv_store_load_sample(f->st), MAPI_E_COLLISION);
	assert_message_contains("already holds an organisation (contoso.test)");
	/* Nothing changed. */
	assert_int_equal(count_in(f, mailbox(f, "alice@contoso.test").id, "Inbox"), 3);
}

/* ---- malformed organisation files ---------------------------------------------------------- */

#define U_A "{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"pa\"}"
#define U_B "{\"alias\":\"b\",\"display_name\":\"B\",\"password\":\"pb\"}"
#define ORG(users, rest) \
	"{\"domain\":\"x.test\",\"organisation\":\"X\",\"users\":[" users "]" rest "}"

static void test_server_store__malformed_orgs(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		mh_status status;
		const char *message;
	} cases[] = {
	    {ORG(U_A "," U_B ",{\"alias\":\"c\",\"display_name\":\"C\"}", ""),
	     MAPI_E_INVALID_PARAMETER, "users[2].password: missing"},
	    {ORG("{\"alias\":\"a\",\"display_name\":5,\"password\":\"p\"}", ""),
	     MAPI_E_INVALID_PARAMETER, "users[0].display_name: expected a string, got an integer"},
	    {ORG(U_A ",{\"alias\":\"A\",\"display_name\":\"A2\",\"password\":\"p\"}", ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[1].alias: duplicate address A@x.test (also users[0])"},
	    {ORG(U_A "," U_B, ",\"full_access\":[{\"user\":\"a\",\"mailbox\":\"zed\"}]"),
	     MAPI_E_INVALID_PARAMETER, "full_access[0].mailbox: no user \"zed\" in users"},
	    {ORG(U_A "," U_B, ",\"full_access\":[{\"user\":\"a\",\"mailbox\":\"b\"},"
	                      "{\"user\":\"A@X.TEST\",\"mailbox\":\"b@x.test\"}]"),
	     MAPI_E_INVALID_PARAMETER, "full_access[1]: duplicate of full_access[0]"},
	    {ORG(U_A ",{\"alias\":\"h\",\"display_name\":\"H\",\"kind\":\"shared\"}",
	         ",\"full_access\":[{\"user\":\"h\",\"mailbox\":\"a\"}]"),
	     MAPI_E_INVALID_PARAMETER,
	     "full_access[0].user: \"h\" is a shared mailbox and cannot log on"},
	    {ORG(U_A "," U_B, ",\"folder_permissions\":[{\"mailbox\":\"b\",\"folder\":\"Inbox\","
	                      "\"member\":\"nobody\",\"rights\":\"Reviewer\"}]"),
	     MAPI_E_INVALID_PARAMETER, "folder_permissions[0].member: no user \"nobody\" in users"},
	    {ORG(U_A "," U_B, ",\"folder_permissions\":[{\"mailbox\":\"b\",\"folder\":\"Inbx\","
	                      "\"member\":\"a\",\"rights\":\"Reviewer\"}]"),
	     MAPI_E_INVALID_PARAMETER,
	     "folder_permissions[0].folder: no folder \"Inbx\" in b's mailbox"},
	    {ORG(U_A "," U_B, ",\"folder_permissions\":[{\"mailbox\":\"b\",\"folder\":\"Inbox\","
	                      "\"member\":\"a\",\"rights\":\"Reader\"}]"),
	     MAPI_E_INVALID_PARAMETER,
	     "folder_permissions[0].rights: unknown role \"Reader\" (None, Reviewer, Contributor, "
	     "NoneditingAuthor, Author, PublishingAuthor, Editor, PublishingEditor, Owner)"},
	    {ORG(U_A "," U_B, ",\"folder_permissions\":[{\"mailbox\":\"b\",\"folder\":\"Inbox\","
	                      "\"member\":\"a\",\"rights\":65536}]"),
	     MAPI_E_INVALID_PARAMETER,
	     "folder_permissions[0].rights: unknown rights bits (allowed mask 0x1FFB)"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"pasword\":\"p\"}", ""),
	     MAPI_E_INVALID_PARAMETER, "users[0].pasword: unknown member"},
	    {ORG("{\"alias\":\"h\",\"display_name\":\"H\",\"kind\":\"shared\",\"password\":\"p\"}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].password: a shared mailbox has no logon of its own"},
	    {ORG("{\"alias\":\"h\",\"display_name\":\"H\",\"kind\":\"room\"}", ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].kind: expected \"user\" or \"shared\", got \"room\""},
	    {ORG("{\"alias\":\"a b\",\"display_name\":\"A\",\"password\":\"p\"}", ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].alias: character ' ' is not allowed (letters, digits, '.', '_', '-')"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"password_hash\":"
	         "\"$6$x$y\"}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].password_hash: give either password or password_hash, not both"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password_hash\":\"plain\"}", ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].password_hash: not a crypt(3) hash this system supports"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"tokens\":[\"short\"]"
	         "}",
	         ""),
	     MAPI_E_INVALID_PARAMETER, "users[0].tokens[0]: a token must have 8 to 512 characters"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"tokens\":["
	         "\"token-aaaa\",{\"token\":\"token-bbbb\",\"expires\":\"2024-13-01T00:00:00Z\"}]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].tokens[1].expires: expected a UTC time \"YYYY-MM-DDTHH:MM:SSZ\" (years "
	     "1601-9999)"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"tokens\":[{"
	         "\"token\":\"token-bbbb\",\"expires\":\"2024-01-01 00:00:00\"}]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].tokens[0].expires: expected a UTC time \"YYYY-MM-DDTHH:MM:SSZ\" (years "
	     "1601-9999)"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"tokens\":[{"
	         "\"token\":\"token-bbbb\",\"expires\":1704067200}]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].tokens[0].expires: expected a string, got an integer"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"tokens\":[{"
	         "\"expires\":\"2024-01-01T00:00:00Z\"}]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER, "users[0].tokens[0].token: missing"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"tokens\":[{"
	         "\"token\":\"short\",\"expires\":\"2024-01-01T00:00:00Z\"}]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].tokens[0].token: a token must have 8 to 512 characters"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"tokens\":[{"
	         "\"token\":\"token-bbbb\",\"expiry\":\"2024-01-01T00:00:00Z\"}]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER, "users[0].tokens[0].expiry: unknown member"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"tokens\":[7]}", ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].tokens[0]: expected a string or an object with \"token\" and \"expires\", "
	     "got an integer"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"messages\":[{"
	         "\"folder\":\"Inbx\",\"subject\":\"s\",\"received\":\"2024-01-01T00:00:00Z\"}]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].messages[0].folder: no folder \"Inbx\" in this mailbox"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"messages\":[{"
	         "\"folder\":\"Inbox\",\"received\":\"2024-02-30T00:00:00Z\"}]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].messages[0].received: expected a UTC time \"YYYY-MM-DDTHH:MM:SSZ\" (years "
	     "1601-9999)"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"messages\":[{"
	         "\"folder\":\"Inbox\",\"received\":\"2024-01-01T00:00:00Z\"}]}",
	         ""),
	     S_OK, NULL},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"messages\":[{"
	         "\"folder\":\"Inbox\",\"received\":\"2024-01-01T00:00:00Z\",\"to\":[\"x\"]}]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER, "users[0].messages[0].to[0]: not an SMTP address"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"messages\":[{"
	         "\"folder\":\"Inbox\",\"received\":\"2024-01-01T00:00:00Z\",\"props\":{"
	         "\"0x00010005\":1}}]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].messages[0].props.0x00010005: property type 0x0005 is not supported (0003, "
	     "000B, 0014, 001F, 0040, 0102 are)"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"messages\":[{"
	         "\"folder\":\"Inbox\",\"received\":\"2024-01-01T00:00:00Z\",\"props\":{"
	         "\"0x00170003\":1,\"0x00170003 \":2}}]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].messages[0].props.0x00170003 : property tag must be 0x followed by 8 hex "
	     "digits"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"messages\":[{"
	         "\"folder\":\"Inbox\",\"received\":\"2024-01-01T00:00:00Z\",\"props\":{"
	         "\"0x00170003\":1,\"0x00170003\":2}}]}",
	         ""),
	     MAPI_E_CORRUPT_DATA, NULL},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"folders\":[\"A/"
	         "B\"]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].folders[0]: parent folder \"A\" is not defined (list parents first)"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"folders\":["
	         "\"inbox\"]}",
	         ""),
	     MAPI_E_INVALID_PARAMETER, "users[0].folders[0]: folder \"inbox\" already exists"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"mailbox_guid\":"
	         "\"11111111-2222-3333-4444-555555555555\"},{\"alias\":\"b\",\"display_name\":"
	         "\"B\","
	         "\"password\":\"p\",\"archive\":{\"guid\":\"11111111-2222-3333-4444-"
	         "555555555555\"}}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[1]: mailbox GUID 11111111-2222-3333-4444-555555555555 is already used by "
	     "users[0]"},
	    {ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"archive\":{\"guid\":"
	         "\"nope\"}}",
	         ""),
	     MAPI_E_INVALID_PARAMETER,
	     "users[0].archive.guid: not a GUID (want 8-4-4-4-12 hexadecimal digits)"},
	    {"{\"domain\":\"x.test\",\"organisation\":\"X\",\"users\":[]}",
	     MAPI_E_INVALID_PARAMETER, "users: empty"},
	    {"{\"organisation\":\"X\",\"users\":[" U_A "]}", MAPI_E_INVALID_PARAMETER,
	     "domain: missing"},
	    {"{\"domain\":\"x..test\",\"organisation\":\"X\",\"users\":[" U_A "]}",
	     MAPI_E_INVALID_PARAMETER, "domain: not a DNS domain name (character 1)"},
	    {"{\"domain\":\"x.test\",\"organisation\":\"X/Y\",\"users\":[" U_A "]}",
	     MAPI_E_INVALID_PARAMETER,
	     "organisation: must not contain '/' (it is part of every DN)"},
	    {"{\"domain\":\"x.test\",\"organisation\":\"X\",\"version\":2,\"users\":[" U_A "]}",
	     MAPI_E_INVALID_PARAMETER, "version: only version 1 is known"},
	    {"[1,2]", MAPI_E_INVALID_PARAMETER, "(top level): expected an object, got an array"},
	    {"{\"domain\":", MAPI_E_CORRUPT_DATA, NULL},
	    {"", MAPI_E_CORRUPT_DATA, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mh_srv_store *st;
		mh_status got;
		assert_int_equal(mh_srv_store_open(&st, NULL), S_OK);
		got = mh_srv_store_load_json(st, cases[i].json, strlen(cases[i].json));
		if (got != cases[i].status)
			fail_msg("case %zu: status %s, expected %s (%s)", i, mh_status_str(got),
			         mh_status_str(cases[i].status),
			         mh_error_last() ? mh_error_last()->message : "");
		if (cases[i].message != NULL)
			assert_message(cases[i].message);
		if (got == MAPI_E_CORRUPT_DATA)
			assert_message_contains("line ");
		if (got != S_OK) {
			/* Nothing was loaded: a valid organisation still goes in. */
			static const char ok[] = ORG(U_A, "");
			assert_int_equal(mh_srv_store_load_json(st, ok, strlen(ok)), S_OK);
		}
		mh_srv_store_free(st);
	}
}

/* Both forms of a token: a string never expires, an object's "expires" is its last moment. */
static void test_server_store__token_forms(void **state)
{
	(void)state;
	static const char json[] =
	    ORG("{\"alias\":\"a\",\"display_name\":\"A\",\"password\":\"p\",\"tokens\":["
	        "\"token-plain\","
	        "{\"token\":\"token-object-never\"},"
	        "{\"token\":\"token-old\",\"expires\":\"2024-01-01T00:00:00Z\"},"
	        "{\"expires\":\"9999-12-31T23:59:59Z\",\"token\":\"token-far\"}]},"
	        "{\"alias\":\"b\",\"display_name\":\"B\",\"password\":\"p\"}",
	        "");
	mh_srv_org *org;
	assert_int_equal(mh_srv_org_parse(&org, json, strlen(json), NULL), S_OK);
	const mh_srv_org_user *u = &org->users[0];
	assert_int_equal(u->n_tokens, 4);
	assert_non_null(u->token_expires);
	assert_true(u->token_expires[0] == MH_SRV_TOKEN_NEVER);
	assert_true(u->token_expires[1] == MH_SRV_TOKEN_NEVER);
	assert_true(u->token_expires[2] == TIME_2024);
	assert_true(u->token_expires[3] == INT64_C(253402300799));
	char h[65];
	mh_srv_token_hash(h, "token-old", 9);
	assert_string_equal(u->token_hashes[2], h);
	assert_int_equal(org->users[1].n_tokens, 0);

	fixture f = {0};
	mh_arena_init(&f.arena, 0);
	assert_int_equal(mh_srv_store_open(&f.st, NULL), S_OK);
	assert_int_equal(mh_srv_store_load_org(f.st, org), S_OK);
	mh_srv_org_free(org);
	static const struct {
		const char *token;
		int64_t now;
		mh_status want;
		int expired;
	} cases[] = {
	    {"token-plain", INT64_C(253402300799), S_OK, 0},
	    {"token-object-never", INT64_C(253402300799), S_OK, 0},
	    {"token-old", TIME_2024 - 1, S_OK, 0},
	    {"token-old", TIME_2024, MAPI_E_LOGON_FAILED, 1},
	    {"token-old", TIME_2024 + 86400, MAPI_E_LOGON_FAILED, 1},
	    {"token-far", TIME_2024, S_OK, 0},
	    {"token-far", INT64_C(253402300799), MAPI_E_LOGON_FAILED, 1},
	    {"token-none", TIME_2024 - 1, MAPI_E_LOGON_FAILED, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mh_srv_recipient r = {0};
		int expired = -1;
		mh_status got = mh_srv_store_principal_by_token(f.st, &f.arena, cases[i].token,
		                                                cases[i].now, &expired, &r);
		if (got != cases[i].want || expired != cases[i].expired)
			fail_msg("case %zu (%s): %s expired=%d", i, cases[i].token,
			         mh_status_str(got), expired);
		if (got == S_OK)
			assert_string_equal(r.smtp, "a@x.test");
		else
			assert_null(strstr(mh_error_last()->message, cases[i].token));
	}
	mh_srv_store_free(f.st);
	mh_arena_free(&f.arena);
}

static void test_server_store__load_file_errors(void **state)
{
	(void)state;
	char path[] = "/tmp/test_server_store_XXXXXX";
	static const char body[] = ORG(U_A ",{\"alias\":\"c\",\"display_name\":\"C\"}", "");
	mh_srv_store *st;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
	close(fd);
	assert_int_equal(mh_srv_store_open(&st, NULL), S_OK);
	assert_int_equal(mh_srv_store_load_file(st, path), MAPI_E_INVALID_PARAMETER);
	char want[128];
	snprintf(want, sizeof(want), "%s: users[1].password: missing", path);
	assert_message(want);
	unlink(path);
	assert_int_equal(mh_srv_store_load_file(st, path), MAPI_E_NOT_FOUND);
	assert_message_contains(path);
	mh_srv_store_free(st);
}

/* ---- the synthetic organisation ------------------------------------------------------------- */

static void test_server_store__generate(void **state)
{
	(void)state;
	fixture a = {0}, b = {0};
	mh_arena_init(&a.arena, 0);
	mh_arena_init(&b.arena, 0);
	assert_int_equal(mh_srv_store_open(&a.st, NULL), S_OK);
	assert_int_equal(mh_srv_store_open(&b.st, NULL), S_OK);
	assert_int_equal(mh_srv_store_generate(a.st, 100, 10, 7), S_OK);
	assert_int_equal(mh_srv_store_generate(b.st, 100, 10, 7), S_OK);

	mh_srv_recipient svc = rcpt(&a, "svc@example.test"), r;
	mh_srv_mailbox m1 = mailbox(&a, "user00001@example.test"), arch;
	char text[37];
	mh_srv_guid_text(text, &m1.guid);
	assert_string_equal(text, GEN_USER1);
	assert_int_equal(
	    mh_srv_store_recipient_by_smtp(a.st, &a.arena, "user00100@example.test", &r), S_OK);
	assert_int_equal(
	    mh_srv_store_recipient_by_smtp(a.st, &a.arena, "user00101@example.test", &r),
	    MAPI_E_NOT_FOUND);
	arch = mailbox(&a, "ExchangeGuid+" GEN_ARCHIVE42 "@example.test");
	assert_string_equal(arch.owner.smtp, "user00042@example.test");
	assert_string_equal(arch.display_name, "Online Archive - User 00042");
	assert_int_equal(count_in(&a, m1.id, "Inbox"), 5);
	assert_int_equal(count_in(&a, m1.id, "Sent Items"), 5);
	assert_int_equal(count_in(&a, arch.id, "Inbox"), 5);
	int full;
	assert_int_equal(mh_srv_store_has_full_access(a.st, svc.id, arch.id, &full), S_OK);
	assert_int_equal(full, 1);
	assert_int_equal(mh_srv_store_has_full_access(a.st, r.id, m1.id, &full), S_OK);
	assert_int_equal(full, 0);
	mh_srv_mailbox *list;
	size_t n;
	assert_int_equal(mh_srv_store_automapped(a.st, &a.arena, svc.id, &list, &n), S_OK);
	assert_int_equal(n, 0);
	assert_int_equal(mh_srv_store_verify_password(a.st, &a.arena, "user00001@example.test",
	                                              "Pass-user00001", &r),
	                 S_OK);
	assert_int_equal(mh_srv_store_principal_by_token(a.st, &a.arena, "svc-token-0001",
	                                                 (int64_t)time(NULL), NULL, &r),
	                 S_OK);
	assert_string_equal(r.smtp, "svc@example.test");

	/* Deterministic: the same seed gives the same contents. */
	for (unsigned u = 1; u <= 100; u += 33) {
		char addr[64];
		snprintf(addr, sizeof(addr), "user%05u@example.test", u);
		mh_srv_mailbox ma = mailbox(&a, addr), mb = mailbox(&b, addr);
		assert_memory_equal(&ma.guid, &mb.guid, sizeof(GUID));
		mh_srv_folder fa = folder(&a, ma.id, "Inbox"), fb = folder(&b, mb.id, "Inbox");
		mh_srv_message *la, *lb;
		size_t na, nb;
		assert_int_equal(mh_srv_store_messages(a.st, &a.arena, fa.id, &la, &na), S_OK);
		assert_int_equal(mh_srv_store_messages(b.st, &b.arena, fb.id, &lb, &nb), S_OK);
		assert_int_equal(na, nb);
		for (size_t i = 0; i < na; i++) {
			assert_true(la[i].mid == lb[i].mid);
			assert_string_equal(la[i].subject, lb[i].subject);
			assert_string_equal(la[i].sender_smtp, lb[i].sender_smtp);
			assert_string_equal(la[i].body, lb[i].body);
			assert_true(la[i].delivery_time == lb[i].delivery_time);
		}
	}
	/* Another seed gives other contents. */
	mh_srv_store_free(b.st);
	mh_arena_free(&b.arena);
	assert_int_equal(mh_srv_store_open(&b.st, NULL), S_OK);
	assert_int_equal(mh_srv_store_generate(b.st, 100, 10, 8), S_OK);
	int differs = 0;
	for (unsigned u = 1; u <= 100 && !differs; u += 9) {
		char addr[64];
		snprintf(addr, sizeof(addr), "user%05u@example.test", u);
		mh_srv_folder fa = folder(&a, mailbox(&a, addr).id, "Inbox"),
		              fb = folder(&b, mailbox(&b, addr).id, "Inbox");
		mh_srv_message *la, *lb;
		size_t na, nb;
		assert_int_equal(mh_srv_store_messages(a.st, &a.arena, fa.id, &la, &na), S_OK);
		assert_int_equal(mh_srv_store_messages(b.st, &b.arena, fb.id, &lb, &nb), S_OK);
		for (size_t i = 0; i < na && i < nb; i++)
			differs |= la[i].delivery_time != lb[i].delivery_time ||
			           strcmp(la[i].subject, lb[i].subject) != 0;
	}
	assert_true(differs);
	assert_int_equal(mh_srv_store_generate(b.st, 1, 1, 1), MAPI_E_COLLISION);
	mh_srv_store_free(a.st);
	mh_srv_store_free(b.st);
	mh_arena_free(&a.arena);
	mh_arena_free(&b.arena);

	mh_srv_org *org;
	assert_int_equal(mh_srv_org_generate(&org, 0, 1, 1), MAPI_E_INVALID_PARAMETER);
	assert_null(org);
}

/* ---- on disk ------------------------------------------------------------------------------------
 */

static void test_server_store__on_disk_wal(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_server_store_dir_XXXXXX", path[128], side[160];
	fixture f = {0};
	sqlite3 *db;
	sqlite3_stmt *s;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	mh_arena_init(&f.arena, 0);
	assert_int_equal(mh_srv_store_open(&f.st, path), S_OK);
	assert_int_equal(mh_srv_store_org_info(f.st, &f.arena, &(mh_srv_org_info){0}),
	                 MAPI_E_NOT_INITIALIZED);
	assert_int_equal(mh_srv_store_mailbox_by_address(f.st, &f.arena, "bob@contoso.test",
	                                                 &(mh_srv_mailbox){0}),
	                 MAPI_E_NOT_INITIALIZED);
	assert_int_equal(mh_srv_store_load_sample(f.st), S_OK);
	mh_srv_store_free(f.st);

	/* Reopened: the organisation is there. */
	assert_int_equal(mh_srv_store_open(&f.st, path), S_OK);
	mh_srv_mailbox arch = mailbox(&f, "ExchangeGuid+" BOB_ARCHIVE "@contoso.test");
	assert_string_equal(arch.legacy_dn, BOB_DN "/guid=" BOB_ARCHIVE);
	assert_int_equal(count_in(&f, arch.id, "2019"), 2);
	assert_int_equal(mh_srv_store_load_sample(f.st), MAPI_E_COLLISION);
	mh_srv_recipient r;
	assert_int_equal(
	    mh_srv_store_verify_password(f.st, &f.arena, "bob@contoso.test", "Bob-Pass-1", &r),
	    S_OK);
	mh_srv_store_free(f.st);
	mh_arena_free(&f.arena);

	/* WAL mode; only hashes of passwords and tokens are stored. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT password_hash FROM recipient WHERE alias = 'alice'", -1,
	                       &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	const char *h = (const char *)sqlite3_column_text(s, 0);
	assert_memory_equal(h, "$6$", 3);
	assert_null(strstr(h, "Alice-Pass-1"));
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT count(*) FROM token WHERE hash = "
	                                    "'svc-token-0001'",
	                                    -1, &s, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 0);
	sqlite3_finalize(s);
	/* Tokens expiring or not: NULL for never. */
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT count(*), count(expires), max(expires) FROM "
	                                    "token",
	                                    -1, &s, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 2);
	assert_int_equal(sqlite3_column_int(s, 1), 1);
	assert_true(sqlite3_column_int64(s, 2) == TIME_2024);
	sqlite3_finalize(s);
	/* A version 1 file (no token.expires) is upgraded when opened; its tokens never expire. */
	assert_int_equal(sqlite3_exec(db,
	                              "ALTER TABLE token DROP COLUMN expires; "
	                              "PRAGMA user_version = 1",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	mh_arena_init(&f.arena, 0);
	assert_int_equal(mh_srv_store_open(&f.st, path), S_OK);
	assert_int_equal(mh_srv_store_principal_by_token(f.st, &f.arena, "svc-token-expired",
	                                                 TIME_2024 + 1, NULL, &r),
	                 S_OK);
	mh_srv_store_free(f.st);
	mh_arena_free(&f.arena);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 2);
	sqlite3_finalize(s);
	/* A database of another schema version is refused. */
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(mh_srv_store_open(&f.st, path), MAPI_E_VERSION);
	assert_null(f.st);
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
	rmdir(dir);
	assert_int_equal(mh_srv_store_open(&f.st, "/nonexistent-dir/x/store.db"),
	                 MAPI_E_DISK_ERROR);
}

int main(void)
{
	const struct CMUnitTest plain[] = {
	    cmocka_unit_test(test_server_store__sha256_vectors),
	    cmocka_unit_test(test_server_store__guid_text_and_ids),
	    cmocka_unit_test(test_server_store__malformed_orgs),
	    cmocka_unit_test(test_server_store__token_forms),
	    cmocka_unit_test(test_server_store__load_file_errors),
	    cmocka_unit_test(test_server_store__generate),
	    cmocka_unit_test(test_server_store__on_disk_wal),
	};
	const struct CMUnitTest sample[] = {
	    cmocka_unit_test(test_server_store__sample_org_info),
	    cmocka_unit_test(test_server_store__sample_recipients),
	    cmocka_unit_test(test_server_store__sample_mailboxes),
	    cmocka_unit_test(test_server_store__sample_rights),
	    cmocka_unit_test(test_server_store__sample_folders),
	    cmocka_unit_test(test_server_store__sample_message_counts),
	    cmocka_unit_test(test_server_store__sample_message_contents),
	    cmocka_unit_test(test_server_store__sample_auth),
	    cmocka_unit_test(test_server_store__load_twice_collides),
	};
	int failed = cmocka_run_group_tests_name("server_store", plain, NULL, NULL);
	failed += cmocka_run_group_tests_name("server_store_sample", sample, sample_setup,
	                                      sample_teardown);
	return failed;
}
