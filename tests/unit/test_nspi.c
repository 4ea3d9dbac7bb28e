/*
 * Tests of the NSPI body codec: gromox captures and constructed vectors
 * decoded to their field values and re-encoded, randomized round trips of
 * every body kind, truncations, bit flips and hostile counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/nspi.h"
#include "mapihttp/status.h"
#include "util/hex.h"
#include "vectors.h"

#ifndef MH_VECTORS_DIR
#error "MH_VECTORS_DIR must name tests/vectors"
#endif

#define GROMOX_DIR MH_VECTORS_DIR "/gromox/"
#define WIRE_DIR   MH_VECTORS_DIR "/wire/nspi/"

#define BOB_DN                                                                                \
	"/o=Gromox default/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/" \
	"cn=0100000002000000-bob"
#define BOB_MDB                                                                                  \
	"/o=Gromox default/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/" \
	"cn=Servers/cn=626f6240-6578-616d-706c-652e02000000@example.test/cn=Microsoft Private MDB"

/* ---- helpers ------------------------------------------------------------------------ */

typedef struct vec {
	uint8_t *data;
	size_t len;
} vec;

static vec load(const char *path)
{
	vec v;
	v.data = mh_vector_read_hex(path, &v.len);
	if (v.data == NULL)
		fail_msg("cannot read %s", path);
	return v;
}

static mh_status pull_req(const vec *v, mh_arena *a, mh_nspi_kind k, mh_nspi_request *r)
{
	mh_cursor c;
	mh_cursor_init(&c, v->data, v->len, MAPI_E_CORRUPT_DATA);
	return mh_nspi_request_pull(&c, a, k, r);
}

static mh_status pull_resp(const vec *v, mh_arena *a, mh_nspi_kind k, unsigned flags,
                           mh_nspi_response *r)
{
	mh_cursor c;
	mh_cursor_init(&c, v->data, v->len, MAPI_E_CORRUPT_DATA);
	return mh_nspi_response_pull(&c, a, k, flags, r);
}

static void assert_req_reencodes(const mh_nspi_request *r, const vec *v)
{
	mh_buf b = MH_BUF_INIT;
	assert_int_equal(mh_nspi_request_push(&b, r), S_OK);
	assert_int_equal(b.len, v->len);
	assert_memory_equal(b.data, v->data, v->len);
	mh_buf_free(&b);
}

static void assert_resp_reencodes(const mh_nspi_response *r, const vec *v)
{
	mh_buf b = MH_BUF_INIT;
	assert_int_equal(mh_nspi_response_push(&b, r), S_OK);
	assert_int_equal(b.len, v->len);
	assert_memory_equal(b.data, v->data, v->len);
	mh_buf_free(&b);
}

static void assert_stat_client_default(const mh_nspi_stat *s, uint32_t cur_rec)
{
	assert_int_equal(s->sort_type, 0);
	assert_int_equal(s->container_id, 0);
	assert_int_equal(s->cur_rec, cur_rec);
	assert_int_equal(s->delta, 0);
	assert_int_equal(s->num_pos, 0);
	assert_int_equal(s->total_recs, 0);
	assert_int_equal(s->codepage, 1252);
	assert_int_equal(s->template_locale, 0x409);
	assert_int_equal(s->sort_locale, 0x409);
}

static const SPropValue *find(const SPropValue *props, uint32_t n, uint32_t tag)
{
	for (uint32_t i = 0; i < n; i++)
		if (props[i].ulPropTag == tag)
			return &props[i];
	fail_msg("tag 0x%08X not found", tag);
	return NULL;
}

static const uint8_t guid_nspi[16] = {0xdc, 0xa7, 0x40, 0xc8, 0xc0, 0x42, 0x10, 0x1a,
                                      0xb4, 0xb9, 0x08, 0x00, 0x2b, 0x2f, 0xe1, 0x82};

/* A permanent AB EntryID: 4 zero flags, GUID_NSPI, version 1, display type, DN + NUL. */
static void assert_permanent_eid(const SBinary *bin, uint32_t dt, const char *dn)
{
	size_t n = strlen(dn);
	assert_int_equal(bin->cb, 28 + n + 1);
	assert_memory_equal(bin->lpb, "\0\0\0\0", 4);
	assert_memory_equal(bin->lpb + 4, guid_nspi, 16);
	assert_int_equal(bin->lpb[20], 1);
	assert_int_equal(bin->lpb[24] | (bin->lpb[25] << 8), dt);
	assert_memory_equal(bin->lpb + 28, dn, n + 1);
}

/* ---- names -------------------------------------------------------------------------- */

static void test_nspi__kind_names(void **state)
{
	mh_nspi_kind k;
	(void)state;
	for (int i = 0; i < MH_NSPI_KIND_COUNT; i++) {
		const char *name = mh_nspi_kind_name((mh_nspi_kind)i);
		assert_non_null(name);
		assert_int_equal(mh_nspi_kind_from_name(name, &k), S_OK);
		assert_int_equal(k, i);
	}
	assert_int_equal(mh_nspi_kind_from_name("resolvenames", &k),
	                 S_OK); /* gromox echoes lower */
	assert_int_equal(k, MH_NSPI_RESOLVE_NAMES);
	/* MS-OXCMAPIHTTP 2.2.3.3.1 lists ModLinkAtt among the address book request types. */
	assert_int_equal(mh_nspi_kind_from_name("ModLinkAtt", &k), S_OK);
	assert_int_equal(k, MH_NSPI_MOD_LINK_ATT);
	assert_int_equal(mh_nspi_kind_from_name("PING", &k), MAPI_E_NO_SUPPORT);
	assert_int_equal(mh_nspi_kind_from_name(NULL, &k), MAPI_E_NO_SUPPORT);
	assert_null(mh_nspi_kind_name(MH_NSPI_KIND_COUNT));
	assert_string_equal(mh_nspi_kind_name(MH_NSPI_DN_TO_MID), "DNToMId");
}

/* ---- gromox captures: the client's path ------------------------------------------------ */

static void test_nspi__gromox_bind(void **state)
{
	static const uint8_t guid_bytes[8] = {0x8d, 0x49, 0xb9, 0x61, 0x30, 0xec, 0x19, 0x21};
	vec q = load(GROMOX_DIR "nspi_01_bind.req.hex");
	vec p = load(GROMOX_DIR "nspi_01_bind.resp-body.hex");
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	(void)state;

	assert_int_equal(pull_req(&q, &a, MH_NSPI_BIND, &req), S_OK);
	assert_int_equal(req.u.bind.flags, 0);
	assert_true(req.u.bind.has_state);
	assert_stat_client_default(&req.u.bind.state, 0);
	assert_int_equal(req.aux.cb, 0);
	assert_req_reencodes(&req, &q);

	assert_int_equal(pull_resp(&p, &a, MH_NSPI_BIND, 0, &resp), S_OK);
	assert_int_equal(resp.status_code, 0);
	assert_int_equal(resp.error_code, 0);
	assert_int_equal(resp.u.bind.server_guid.Data1, 0x9db5bb7f);
	assert_int_equal(resp.u.bind.server_guid.Data2, 0xa027);
	assert_int_equal(resp.u.bind.server_guid.Data3, 0x4433);
	assert_memory_equal(resp.u.bind.server_guid.Data4, guid_bytes, 8);
	assert_resp_reencodes(&resp, &p);

	mh_arena_free(&a);
	free(q.data);
	free(p.data);
}

static void assert_bob_row(const mh_prop_row *row)
{
	assert_int_equal(row->cValues, 4);
	assert_int_equal(row->flag, 0);
	assert_int_equal(row->lpProps[0].ulPropTag, 0x3001001F);
	assert_string_equal(row->lpProps[0].Value.lpszW, "Bob Example");
	assert_int_equal(row->lpProps[1].ulPropTag, 0x3003001F);
	assert_string_equal(row->lpProps[1].Value.lpszW, BOB_DN);
	assert_int_equal(row->lpProps[2].ulPropTag, 0x39FE001F);
	assert_string_equal(row->lpProps[2].Value.lpszW, "bob@example.test");
	assert_int_equal(row->lpProps[3].ulPropTag, 0x8006001F);
	assert_string_equal(row->lpProps[3].Value.lpszW, BOB_MDB);
}

static void test_nspi__gromox_resolvenames_bob(void **state)
{
	static const uint32_t want_tags[4] = {0x3001001F, 0x3003001F, 0x39FE001F, 0x8006001F};
	vec q = load(GROMOX_DIR "nspi_02_resolvenames_bob.req.hex");
	vec p = load(GROMOX_DIR "nspi_02_resolvenames_bob.resp-body.hex");
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	const mh_nspi_resolve_names_req *rq = &req.u.resolve_names;
	const mh_nspi_resolve_names_resp *rs = &resp.u.resolve_names;
	(void)state;

	assert_int_equal(pull_req(&q, &a, MH_NSPI_RESOLVE_NAMES, &req), S_OK);
	assert_true(rq->has_state);
	assert_stat_client_default(&rq->state, 0);
	assert_true(rq->has_tags);
	assert_int_equal(rq->tags->cValues, 4);
	assert_memory_equal(rq->tags->aulPropTag, want_tags, sizeof(want_tags));
	assert_true(rq->has_names);
	assert_int_equal(rq->names.count, 1);
	assert_string_equal(rq->names.values[0], "bob@example.test");
	assert_req_reencodes(&req, &q);

	assert_int_equal(pull_resp(&p, &a, MH_NSPI_RESOLVE_NAMES, 0, &resp), S_OK);
	assert_int_equal(resp.error_code, 0);
	assert_int_equal(rs->codepage, 1200); /* gromox deviation: not the request's 1252 */
	assert_true(rs->has_mids);
	assert_int_equal(rs->mids.count, 1);
	assert_int_equal(rs->mids.mids[0], MH_NSPI_MID_RESOLVED);
	assert_true(rs->has_rows);
	assert_int_equal(rs->rows.columns->cValues, 4);
	assert_memory_equal(rs->rows.columns->aulPropTag, want_tags, sizeof(want_tags));
	assert_int_equal(rs->rows.count, 1);
	assert_bob_row(&rs->rows.rows[0]);
	assert_resp_reencodes(&resp, &p);

	mh_arena_free(&a);
	free(q.data);
	free(p.data);
}

static void test_nspi__gromox_resolvenames_unknown(void **state)
{
	vec q = load(GROMOX_DIR "nspi_03_resolvenames_unknown.req.hex");
	vec p = load(GROMOX_DIR "nspi_03_resolvenames_unknown.resp-body.hex");
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	(void)state;

	assert_int_equal(pull_req(&q, &a, MH_NSPI_RESOLVE_NAMES, &req), S_OK);
	assert_string_equal(req.u.resolve_names.names.values[0], "nobody@example.test");
	assert_req_reencodes(&req, &q);
	assert_int_equal(pull_resp(&p, &a, MH_NSPI_RESOLVE_NAMES, 0, &resp), S_OK);
	/* gromox says "ambiguous" for no match */
	assert_int_equal(resp.u.resolve_names.mids.count, 1);
	assert_int_equal(resp.u.resolve_names.mids.mids[0], MH_NSPI_MID_AMBIGUOUS);
	assert_true(resp.u.resolve_names.has_rows);
	assert_int_equal(resp.u.resolve_names.rows.columns->cValues, 4);
	assert_int_equal(resp.u.resolve_names.rows.count, 0);
	assert_resp_reencodes(&resp, &p);
	mh_arena_free(&a);
	free(q.data);
	free(p.data);
}

static void test_nspi__gromox_resolvenames_mixed(void **state)
{
	vec q = load(GROMOX_DIR "nspi_04_resolvenames_mixed.req.hex");
	vec p = load(GROMOX_DIR "nspi_04_resolvenames_mixed.resp-body.hex");
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	const mh_nspi_resolve_names_resp *rs = &resp.u.resolve_names;
	const mh_prop_row *bob, *alice;
	(void)state;

	assert_int_equal(pull_req(&q, &a, MH_NSPI_RESOLVE_NAMES, &req), S_OK);
	assert_int_equal(req.u.resolve_names.tags->cValues, 10);
	assert_int_equal(req.u.resolve_names.tags->aulPropTag[7], 0x800F101F);
	assert_int_equal(req.u.resolve_names.names.count, 3);
	assert_string_equal(req.u.resolve_names.names.values[0], "nobody@example.test");
	assert_string_equal(req.u.resolve_names.names.values[1], "bob@example.test");
	assert_string_equal(req.u.resolve_names.names.values[2], "alice");
	assert_req_reencodes(&req, &q);

	assert_int_equal(pull_resp(&p, &a, MH_NSPI_RESOLVE_NAMES, 0, &resp), S_OK);
	assert_int_equal(rs->mids.count, 3);
	assert_int_equal(rs->mids.mids[0], MH_NSPI_MID_AMBIGUOUS);
	assert_int_equal(rs->mids.mids[1], MH_NSPI_MID_RESOLVED);
	assert_int_equal(rs->mids.mids[2], MH_NSPI_MID_RESOLVED);
	assert_int_equal(rs->rows.count, 2); /* rows only for resolved names */
	bob = &rs->rows.rows[0];
	alice = &rs->rows.rows[1];
	assert_int_equal(bob->flag, 1);
	assert_int_equal(bob->cValues, 10);
	assert_string_equal(find(bob->lpProps, 10, 0x3001001F)->Value.lpszW, "Bob Example");
	assert_string_equal(find(bob->lpProps, 10, 0x3002001F)->Value.lpszW, "EX");
	assert_string_equal(find(bob->lpProps, 10, 0x3003001F)->Value.lpszW, BOB_DN);
	assert_int_equal(find(bob->lpProps, 10, 0x39000003)->Value.l, 0);
	assert_permanent_eid(&find(bob->lpProps, 10, 0x0FFF0102)->Value.bin, 0, BOB_DN);
	{
		const SPropValue *px = find(bob->lpProps, 10, 0x800F101F);
		assert_int_equal(px->Value.MVszW.cValues, 1);
		assert_string_equal(px->Value.MVszW.lppszW[0], "SMTP:bob@example.test");
	}
	assert_string_equal(find(bob->lpProps, 10, 0x3A00001F)->Value.lpszW, "bob@example.test");
	/* PidTagComment is not set: the flagged row reports it as an error column */
	assert_int_equal(bob->lpProps[9].ulPropTag, PROP_TAG(PT_ERROR, 0x3004));
	assert_int_equal(bob->lpProps[9].Value.err, MAPI_E_NOT_FOUND);
	assert_string_equal(find(alice->lpProps, 10, 0x3001001F)->Value.lpszW, "Alice Example");
	assert_string_equal(find(alice->lpProps, 10, 0x39FE001F)->Value.lpszW,
	                    "alice@example.test");
	assert_resp_reencodes(&resp, &p);
	mh_arena_free(&a);
	free(q.data);
	free(p.data);
}

static void test_nspi__gromox_dntomid(void **state)
{
	vec q = load(GROMOX_DIR "nspi_05_dntomid_bob.req.hex");
	vec p = load(GROMOX_DIR "nspi_05_dntomid_bob.resp-body.hex");
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	(void)state;

	assert_int_equal(pull_req(&q, &a, MH_NSPI_DN_TO_MID, &req), S_OK);
	assert_true(req.u.dn_to_mid.has_names);
	assert_int_equal(req.u.dn_to_mid.names.count, 1);
	assert_string_equal(req.u.dn_to_mid.names.values[0],
	                    "/o=Gromox default/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
	                    "/cn=Recipients/cn=0100000002000000-bob");
	assert_req_reencodes(&req, &q);
	assert_int_equal(pull_resp(&p, &a, MH_NSPI_DN_TO_MID, 0, &resp), S_OK);
	assert_int_equal(resp.error_code, 0);
	assert_true(resp.u.dn_to_mid.has_mids);
	assert_int_equal(resp.u.dn_to_mid.mids.count, 1);
	assert_int_equal(resp.u.dn_to_mid.mids.mids[0], 0x12);
	assert_resp_reencodes(&resp, &p);
	mh_arena_free(&a);
	free(q.data);
	free(p.data);
}

static void test_nspi__gromox_getprops(void **state)
{
	vec q = load(GROMOX_DIR "nspi_06_getprops_bob.req.hex");
	vec p = load(GROMOX_DIR "nspi_06_getprops_bob.resp-body.hex");
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	const mh_nspi_proplist *v = &resp.u.get_props.values;
	(void)state;

	assert_int_equal(pull_req(&q, &a, MH_NSPI_GET_PROPS, &req), S_OK);
	assert_int_equal(req.u.get_props.flags, 0);
	assert_true(req.u.get_props.has_state);
	assert_stat_client_default(&req.u.get_props.state, 0x12);
	assert_int_equal(req.u.get_props.tags->cValues, 10);
	assert_req_reencodes(&req, &q);

	assert_int_equal(pull_resp(&p, &a, MH_NSPI_GET_PROPS, 0, &resp), S_OK);
	assert_int_equal(resp.error_code, MH_NSPI_ERRORS_RETURNED);
	assert_int_equal(resp.u.get_props.codepage, 1252);
	assert_true(resp.u.get_props.has_values);
	assert_int_equal(v->count, 10);
	assert_string_equal(find(v->props, 10, 0x3001001F)->Value.lpszW, "Bob Example");
	assert_string_equal(find(v->props, 10, 0x3002001F)->Value.lpszW, "EX");
	assert_string_equal(find(v->props, 10, 0x3003001F)->Value.lpszW, BOB_DN);
	assert_string_equal(find(v->props, 10, 0x39FE001F)->Value.lpszW, "bob@example.test");
	assert_string_equal(find(v->props, 10, 0x8006001F)->Value.lpszW, BOB_MDB);
	assert_int_equal(find(v->props, 10, 0x39000003)->Value.l, 0);
	assert_permanent_eid(&find(v->props, 10, 0x0FFF0102)->Value.bin, 0, BOB_DN);
	assert_int_equal(find(v->props, 10, 0x3004000A)->Value.err, MAPI_E_NOT_FOUND);
	assert_resp_reencodes(&resp, &p);
	mh_arena_free(&a);
	free(q.data);
	free(p.data);
}

static void test_nspi__gromox_getspecialtable(void **state)
{
	vec q = load(GROMOX_DIR "nspi_07_getspecialtable.req.hex");
	vec p = load(GROMOX_DIR "nspi_07_getspecialtable.resp-body.hex");
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	const mh_nspi_get_special_table_resp *st = &resp.u.get_special_table;
	const SPropValue *dn;
	(void)state;

	assert_int_equal(pull_req(&q, &a, MH_NSPI_GET_SPECIAL_TABLE, &req), S_OK);
	assert_int_equal(req.u.get_special_table.flags, MH_NSPI_UNICODE_STRINGS);
	assert_true(req.u.get_special_table.has_state);
	assert_false(req.u.get_special_table.has_version);
	assert_req_reencodes(&req, &q);

	assert_int_equal(pull_resp(&p, &a, MH_NSPI_GET_SPECIAL_TABLE, 0, &resp), S_OK);
	assert_int_equal(resp.error_code, 0);
	assert_int_equal(st->codepage, 1252);
	assert_false(st->has_version);
	assert_true(st->has_rows);
	assert_int_equal(st->count, 2);
	/* row 0: the GAL (container id 0, no display name value) */
	assert_int_equal(st->rows[0].count, 6);
	assert_int_equal(find(st->rows[0].props, 6, 0xFFFD0003)->Value.l, 0);
	assert_int_equal(find(st->rows[0].props, 6, 0x36000003)->Value.l, 9); /* container flags */
	assert_null(find(st->rows[0].props, 6, 0x3001001F)->Value.lpszW);     /* HasValue 0 */
	assert_permanent_eid(&find(st->rows[0].props, 6, 0x0FFF0102)->Value.bin, DT_CONTAINER, "/");
	/* row 1: the domain's container */
	assert_int_equal(find(st->rows[1].props, 6, 0xFFFD0003)->Value.ul, 0x40000011);
	dn = find(st->rows[1].props, 6, 0x3001001F);
	assert_string_equal(dn->Value.lpszW, "example.test");
	assert_int_equal(find(st->rows[1].props, 6, 0xFFFB000B)->Value.b, 0);
	assert_resp_reencodes(&resp, &p);
	mh_arena_free(&a);
	free(q.data);
	free(p.data);
}

static void check_mailbox_url(const char *name, const char *dn_tail, const char *url)
{
	char path[512];
	vec q, p;
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	size_t n;

	snprintf(path, sizeof(path), GROMOX_DIR "%s.req.hex", name);
	q = load(path);
	snprintf(path, sizeof(path), GROMOX_DIR "%s.resp-body.hex", name);
	p = load(path);
	assert_int_equal(pull_req(&q, &a, MH_NSPI_GET_MAILBOX_URL, &req), S_OK);
	assert_int_equal(req.u.get_url.flags, 0);
	n = strlen(req.u.get_url.dn);
	assert_true(n >= strlen(dn_tail));
	assert_string_equal(req.u.get_url.dn + n - strlen(dn_tail), dn_tail);
	assert_memory_equal(req.u.get_url.dn, "/o=Gromox default/ou=Exchange", 29);
	assert_req_reencodes(&req, &q);
	assert_int_equal(pull_resp(&p, &a, MH_NSPI_GET_MAILBOX_URL, 0, &resp), S_OK);
	assert_int_equal(resp.error_code, 0);
	assert_string_equal(resp.u.get_url.server_url, url);
	assert_resp_reencodes(&resp, &p);
	mh_arena_free(&a);
	free(q.data);
	free(p.data);
}

static void test_nspi__gromox_getmailboxurl(void **state)
{
	(void)state;
	check_mailbox_url("nspi_08_getmailboxurl_bob_userdn", "/cn=0100000002000000-bob",
	                  "https://localhost/mapi/emsmdb/?MailboxId=Recipients");
	check_mailbox_url("nspi_09_getmailboxurl_bob_homemdb", "/cn=Microsoft Private MDB",
	                  "https://localhost/mapi/emsmdb/"
	                  "?MailboxId=626f6240-6578-616d-706c-652e02000000@example.test");
	check_mailbox_url("nspi_10_getmailboxurl_bob_serverdn",
	                  "/cn=626f6240-6578-616d-706c-652e02000000@example.test",
	                  "https://localhost/mapi/emsmdb/?MailboxId=Servers");
}

static void test_nspi__gromox_comparemids(void **state)
{
	vec q = load(GROMOX_DIR "nspi_11_comparemids.req.hex");
	vec p = load(GROMOX_DIR "nspi_11_comparemids.resp-body.hex");
	vec p2 = load(GROMOX_DIR "nspi_12_comparemids_bad_mid.resp-body.hex");
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	(void)state;

	assert_int_equal(pull_req(&q, &a, MH_NSPI_COMPARE_MIDS, &req), S_OK);
	assert_true(req.u.compare_mids.has_state);
	assert_int_equal(req.u.compare_mids.mid1, 0x13);
	assert_int_equal(req.u.compare_mids.mid2, 0x12);
	assert_req_reencodes(&req, &q);

	/* read in spec order, the capture's Result lands in ErrorCode */
	assert_int_equal(pull_resp(&p, &a, MH_NSPI_COMPARE_MIDS, MH_NSPI_PULL_CMP_SPEC, &resp),
	                 S_OK);
	assert_false(resp.u.compare_mids.gromox_order);
	assert_int_equal(resp.error_code, 0xFFFFFFFFu);
	assert_int_equal(resp.u.compare_mids.result, 0);
	/* auto: 0xFFFFFFFF is no NSPI status, so gromox order */
	assert_int_equal(pull_resp(&p, &a, MH_NSPI_COMPARE_MIDS, MH_NSPI_PULL_CMP_AUTO, &resp),
	                 S_OK);
	assert_true(resp.u.compare_mids.gromox_order);
	assert_int_equal(resp.error_code, 0);
	assert_int_equal(resp.u.compare_mids.result, -1); /* MId 0x13 sorts before 0x12 */
	assert_resp_reencodes(&resp, &p);
	assert_int_equal(pull_resp(&p, &a, MH_NSPI_COMPARE_MIDS, MH_NSPI_PULL_CMP_GROMOX, &resp),
	                 S_OK);
	assert_int_equal(resp.u.compare_mids.result, -1);

	/* Result 0, ErrorCode GeneralFailure in gromox order */
	assert_int_equal(pull_resp(&p2, &a, MH_NSPI_COMPARE_MIDS, MH_NSPI_PULL_CMP_AUTO, &resp),
	                 S_OK);
	assert_true(resp.u.compare_mids.gromox_order);
	assert_int_equal(resp.error_code, 0x80004005u);
	assert_int_equal(resp.u.compare_mids.result, 0);
	assert_resp_reencodes(&resp, &p2);
	mh_arena_free(&a);
	free(q.data);
	free(p.data);
	free(p2.data);
}

static void test_nspi__comparemids_spec_order(void **state)
{
	/* StatusCode 0, ErrorCode 0, Result 5; and ErrorCode NotFound, Result 0 */
	static const uint8_t ok[] = {0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t err[] = {0, 0, 0, 0, 0x0f, 0x01, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0};
	vec v1 = {(uint8_t *)(uintptr_t)ok, sizeof(ok)};
	vec v2 = {(uint8_t *)(uintptr_t)err, sizeof(err)};
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_response resp;
	(void)state;
	assert_int_equal(pull_resp(&v1, &a, MH_NSPI_COMPARE_MIDS, MH_NSPI_PULL_CMP_AUTO, &resp),
	                 S_OK);
	assert_false(resp.u.compare_mids.gromox_order);
	assert_int_equal(resp.error_code, 0);
	assert_int_equal(resp.u.compare_mids.result, 5);
	assert_resp_reencodes(&resp, &v1);
	assert_int_equal(pull_resp(&v2, &a, MH_NSPI_COMPARE_MIDS, MH_NSPI_PULL_CMP_AUTO, &resp),
	                 S_OK);
	assert_false(resp.u.compare_mids.gromox_order);
	assert_int_equal(resp.error_code, 0x8004010Fu);
	assert_int_equal(resp.u.compare_mids.result, 0);
	mh_arena_free(&a);
}

static void test_nspi__gromox_unbind_and_querycolumns(void **state)
{
	vec q = load(GROMOX_DIR "nspi_14_unbind.req.hex");
	vec p = load(GROMOX_DIR "nspi_14_unbind.resp-body.hex");
	vec qc = load(GROMOX_DIR "error_nspi_querycolumns_requesttype.req.hex");
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	(void)state;
	assert_int_equal(pull_req(&q, &a, MH_NSPI_UNBIND, &req), S_OK);
	assert_int_equal(req.u.unbind.reserved, 0);
	assert_req_reencodes(&req, &q);
	assert_int_equal(pull_resp(&p, &a, MH_NSPI_UNBIND, 0, &resp), S_OK);
	assert_int_equal(resp.status_code, 0);
	assert_int_equal(resp.error_code, MH_NSPI_UNBIND_SUCCESS);
	assert_resp_reencodes(&resp, &p);
	assert_int_equal(pull_req(&qc, &a, MH_NSPI_QUERY_COLUMNS, &req), S_OK);
	assert_int_equal(req.u.query_columns.reserved, 0);
	assert_int_equal(req.u.query_columns.flags, 0);
	assert_req_reencodes(&req, &qc);
	mh_arena_free(&a);
	free(q.data);
	free(p.data);
	free(qc.data);
}

/* ---- constructed vectors ------------------------------------------------------------ */

/* Our requests write Has* as 0x01; these vectors use 0xFF. Compare with that difference. */
static void assert_req_reencodes_ff(const mh_nspi_request *r, const vec *v, const size_t *has_at,
                                    size_t n_has)
{
	mh_buf b = MH_BUF_INIT;
	assert_int_equal(mh_nspi_request_push(&b, r), S_OK);
	assert_int_equal(b.len, v->len);
	for (size_t i = 0; i < n_has; i++) {
		assert_int_equal(v->data[has_at[i]], 0xFF);
		assert_int_equal(b.data[has_at[i]], 0x01);
		b.data[has_at[i]] = 0xFF;
	}
	assert_memory_equal(b.data, v->data, v->len);
	mh_buf_free(&b);
}

static void test_nspi__wire_vectors(void **state)
{
	static const size_t bind_has[] = {4};
	static const size_t rn_has[] = {4, 41, 66};
	vec bq = load(WIRE_DIR "bind_request_body.hex");
	vec bp = load(WIRE_DIR "bind_response_body.hex");
	vec rq = load(WIRE_DIR "resolvenames_request_body.hex");
	vec rp = load(WIRE_DIR "resolvenames_response_body.hex");
	vec ru = load(WIRE_DIR "resolvenames_response_unresolved.hex");
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	const mh_nspi_resolve_names_resp *rs = &resp.u.resolve_names;
	(void)state;

	assert_int_equal(pull_req(&bq, &a, MH_NSPI_BIND, &req), S_OK);
	assert_true(req.u.bind.has_state);
	assert_stat_client_default(&req.u.bind.state, 0);
	assert_req_reencodes_ff(&req, &bq, bind_has, 1);
	assert_int_equal(pull_resp(&bp, &a, MH_NSPI_BIND, 0, &resp), S_OK);
	assert_int_equal(resp.u.bind.server_guid.Data1, 0x868bbcab);
	assert_resp_reencodes(&resp, &bp);

	assert_int_equal(pull_req(&rq, &a, MH_NSPI_RESOLVE_NAMES, &req), S_OK);
	assert_int_equal(req.u.resolve_names.tags->cValues, 5);
	assert_int_equal(req.u.resolve_names.tags->aulPropTag[4], 0x39000003);
	assert_string_equal(req.u.resolve_names.names.values[0], "janedow@contoso.com");
	assert_req_reencodes_ff(&req, &rq, rn_has, 3);

	assert_int_equal(pull_resp(&rp, &a, MH_NSPI_RESOLVE_NAMES, 0, &resp), S_OK);
	assert_int_equal(rs->codepage, 1252);
	assert_int_equal(rs->mids.mids[0], MH_NSPI_MID_RESOLVED);
	assert_int_equal(rs->rows.count, 1);
	assert_string_equal(rs->rows.rows[0].lpProps[0].Value.lpszW, "Jane Dow");
	assert_string_equal(rs->rows.rows[0].lpProps[2].Value.lpszW, "janedow@contoso.com");
	assert_int_equal(rs->rows.rows[0].lpProps[4].ulPropTag, 0x39000003);
	assert_int_equal(rs->rows.rows[0].lpProps[4].Value.l, 0);
	assert_resp_reencodes(&resp, &rp);

	assert_int_equal(pull_resp(&ru, &a, MH_NSPI_RESOLVE_NAMES, 0, &resp), S_OK);
	assert_int_equal(rs->mids.mids[0], MH_NSPI_MID_UNRESOLVED);
	assert_int_equal(rs->rows.count, 0);
	assert_resp_reencodes(&resp, &ru);
	mh_arena_free(&a);
	free(bq.data);
	free(bp.data);
	free(rq.data);
	free(rp.data);
	free(ru.data);
}

/* ---- failure layout, GetMatches, hostile input -------------------------------------- */

static void test_nspi__failure_layout(void **state)
{
	/* StatusCode 5, AuxiliaryBufferSize 2, aux bytes */
	static const uint8_t body[] = {5, 0, 0, 0, 2, 0, 0, 0, 0xAA, 0xBB};
	vec v = {(uint8_t *)(uintptr_t)body, sizeof(body)};
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_response resp;
	(void)state;
	for (int k = 0; k < MH_NSPI_KIND_COUNT; k++) {
		assert_int_equal(pull_resp(&v, &a, (mh_nspi_kind)k, 0, &resp), S_OK);
		assert_int_equal(resp.status_code, 5);
		assert_int_equal(resp.error_code, 0);
		assert_int_equal(resp.aux.cb, 2);
		assert_int_equal(resp.aux.data[1], 0xBB);
		assert_resp_reencodes(&resp, &v);
	}
	mh_arena_free(&a);
}

/*
 * MS-OXCMAPIHTTP 2.2.5.10.1: Flags, PropertyTag, MinimalId, HasEntryIds,
 * EntryIdCount, EntryIds (each a Binary_r: Count(4) + bytes), AuxBuf;
 * 2.2.5.10.2: StatusCode, ErrorCode, AuxBuf. Byte layout written out by hand.
 */
static void test_nspi__modlinkatt_layout(void **state)
{
	static const uint8_t body[] = {
	    0x01, 0,    0,    0,                      /* Flags fDelete */
	    0x0D, 0x10, 0x00, 0x80,                   /* PropertyTag 0x8000100D */
	    0x34, 0x12, 0,    0,                      /* MinimalId */
	    0xFF,                                     /* HasEntryIds */
	    2,    0,    0,    0,                      /* EntryIdCount */
	    3,    0,    0,    0,    0xAA, 0xBB, 0xCC, /* EntryId 1 */
	    0,    0,    0,    0,                      /* EntryId 2: empty */
	    0,    0,    0,    0,                      /* AuxiliaryBufferSize */
	};
	static const uint8_t resp_body[] = {0, 0, 0, 0, 0x05, 0x00, 0x07, 0x80, 0, 0, 0, 0};
	vec v = {(uint8_t *)(uintptr_t)body, sizeof(body)};
	vec rv = {(uint8_t *)(uintptr_t)resp_body, sizeof(resp_body)};
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	(void)state;
	assert_int_equal(pull_req(&v, &a, MH_NSPI_MOD_LINK_ATT, &req), S_OK);
	assert_int_equal(req.u.mod_link_att.flags, MH_NSPI_MOD_LINK_ATT_DELETE);
	assert_int_equal(req.u.mod_link_att.prop_tag, 0x8000100Du);
	assert_int_equal(req.u.mod_link_att.mid, 0x1234);
	assert_true(req.u.mod_link_att.has_entry_ids);
	assert_int_equal(req.u.mod_link_att.count, 2);
	assert_int_equal(req.u.mod_link_att.entry_ids[0].cb, 3);
	assert_int_equal(req.u.mod_link_att.entry_ids[0].lpb[2], 0xCC);
	assert_int_equal(req.u.mod_link_att.entry_ids[1].cb, 0);
	/* Requests write Has* as 0x01; patch the capture-style 0xFF for the compare. */
	{
		mh_buf b = MH_BUF_INIT;
		assert_int_equal(mh_nspi_request_push(&b, &req), S_OK);
		assert_int_equal(b.len, sizeof(body));
		assert_int_equal(b.data[12], 0x01);
		b.data[12] = 0xFF;
		assert_memory_equal(b.data, body, sizeof(body));
		mh_buf_free(&b);
	}
	/* A Count larger than the bytes left fails before allocating. */
	{
		uint8_t bad[sizeof(body)];
		mh_cursor c;
		memcpy(bad, body, sizeof(body));
		bad[17] = 0x40;
		mh_cursor_init(&c, bad, sizeof(bad), MAPI_E_CORRUPT_DATA);
		assert_int_equal(mh_nspi_request_pull(&c, &a, MH_NSPI_MOD_LINK_ATT, &req),
		                 MAPI_E_CORRUPT_DATA);
	}
	assert_int_equal(pull_resp(&rv, &a, MH_NSPI_MOD_LINK_ATT, 0, &resp), S_OK);
	assert_int_equal(resp.status_code, 0);
	assert_int_equal(resp.error_code, 0x80070005u);
	assert_resp_reencodes(&resp, &rv);
	mh_arena_free(&a);
}

/*
 * MS-OXCMAPIHTTP 2.2.5.x.2 failure form is StatusCode + AuxBuf, but a server
 * that writes StatusCode twice (gromox) or stops after it must still give
 * the StatusCode, as the EMSMDB pulls do (wire.md §3).
 */
static void test_nspi__failure_lenient(void **state)
{
	static const uint8_t doubled[] = {0xBB, 0x06, 0, 0, 0xBB, 0x06, 0, 0};
	static const uint8_t bare[] = {0xBB, 0x06, 0, 0};
	vec d = {(uint8_t *)(uintptr_t)doubled, sizeof(doubled)};
	vec b = {(uint8_t *)(uintptr_t)bare, sizeof(bare)};
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_response resp;
	(void)state;
	for (int k = 0; k < MH_NSPI_KIND_COUNT; k++) {
		assert_int_equal(pull_resp(&d, &a, (mh_nspi_kind)k, 0, &resp), S_OK);
		assert_int_equal(resp.status_code, 0x6BB);
		assert_int_equal(resp.aux.cb, 0);
		assert_int_equal(pull_resp(&b, &a, (mh_nspi_kind)k, 0, &resp), S_OK);
		assert_int_equal(resp.status_code, 0x6BB);
	}
	mh_arena_free(&a);
}

static void test_nspi__getmatches(void **state)
{
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req, back;
	mh_buf b = MH_BUF_INIT;
	mh_cursor c;
	uint32_t cols[CbNewSPropTagArray(2) / 4 + 1];
	SPropTagArray *t = (SPropTagArray *)cols;
	(void)state;

	t->cValues = 2;
	t->aulPropTag[0] = 0x3001001F;
	t->aulPropTag[1] = 0x39FE001F;
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_GET_MATCHES;
	req.u.get_matches.has_state = true;
	mh_nspi_stat_default(&req.u.get_matches.state);
	req.u.get_matches.state.cur_rec = 0x12;
	req.u.get_matches.has_prop_name = true;
	req.u.get_matches.prop_guid.Data1 = 0x00020328;
	req.u.get_matches.prop_id = 0x8009; /* PidTagAddressBookMember */
	req.u.get_matches.row_count = 50;
	req.u.get_matches.has_columns = true;
	req.u.get_matches.columns = t;
	assert_int_equal(mh_nspi_request_push(&b, &req), S_OK);
	/* Reserved 4, HasState 1, STAT 36, HasMinimalIds 1, Reserved2 4, HasFilter 1, ... */
	assert_int_equal(b.len, 4 + 1 + 36 + 1 + 4 + 1 + 1 + 20 + 4 + 1 + 12 + 4);
	assert_int_equal(b.data[46], 0); /* HasFilter */
	mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_nspi_request_pull(&c, &a, MH_NSPI_GET_MATCHES, &back), S_OK);
	assert_true(back.u.get_matches.has_prop_name);
	assert_int_equal(back.u.get_matches.prop_guid.Data1, 0x00020328);
	assert_int_equal(back.u.get_matches.prop_id, 0x8009);
	assert_int_equal(back.u.get_matches.row_count, 50);
	assert_int_equal(back.u.get_matches.columns->aulPropTag[1], 0x39FE001F);

	assert_false(back.u.get_matches.has_filter);
	assert_null(back.u.get_matches.filter);

	/* HasFilter without a filter cannot be encoded */
	mh_buf_free(&b);
	req.u.get_matches.has_filter = true;
	assert_int_equal(mh_nspi_request_push(&b, &req), MAPI_E_INVALID_PARAMETER);
	assert_non_null(strstr(mh_error_last()->message, "GetMatches.Filter"));
	mh_buf_free(&b);
	mh_arena_free(&a);
}

/*
 * GetMatches with a Filter, laid out by hand: the restriction is in the NSPI
 * layout (4-byte RestrictCount, HasValue 0xFF before the string value).
 */
static const char getmatches_filter_hex[] =
    "00000000"                     /* Reserved */
    "00"                           /* HasState */
    "00"                           /* HasMinimalIds */
    "00000000"                     /* InterfaceOptionFlags */
    "01"                           /* HasFilter */
    "00 02000000"                  /* AndRestriction, RestrictCount 2 */
    "03 0100 0100 1f000130"        /* Content: FL_SUBSTRING, FL_IGNORECASE, tag */
    "1f000130 ff 62006f0062000000" /* TaggedValue PR_DISPLAY_NAME_W = "bob" */
    "08 1f00fe39"                  /* Exist PR_SMTP_ADDRESS_W */
    "00"                           /* HasPropertyName */
    "32000000"                     /* RowCount 50 */
    "01 01000000 1f000130"         /* HasColumns, LargePropertyTagArray */
    "00000000";                    /* AuxiliaryBufferSize */

static void test_nspi__getmatches_filter(void **state)
{
	mh_arena a = MH_ARENA_INIT;
	mh_nspi_request req, again;
	mh_buf b = MH_BUF_INIT, b2 = MH_BUF_INIT;
	mh_cursor c;
	uint8_t *p = NULL;
	size_t n;
	const mh_restriction *f;
	(void)state;

	assert_int_equal(
	    mh_hex_decode(&p, &n, getmatches_filter_hex, strlen(getmatches_filter_hex)), S_OK);
	mh_cursor_init(&c, p, n, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_nspi_request_pull(&c, &a, MH_NSPI_GET_MATCHES, &req), S_OK);
	assert_int_equal(req.kind, MH_NSPI_GET_MATCHES);
	assert_true(req.u.get_matches.has_filter);
	f = req.u.get_matches.filter;
	assert_non_null(f);
	assert_int_equal(f->rt, RES_AND);
	assert_int_equal(f->u.and_or.count, 2);
	assert_int_equal(f->u.and_or.res[0].rt, RES_CONTENT);
	assert_int_equal(f->u.and_or.res[0].u.content.fuzzy_level, FL_SUBSTRING | FL_IGNORECASE);
	assert_int_equal(f->u.and_or.res[0].u.content.prop_tag, 0x3001001F);
	assert_int_equal(f->u.and_or.res[0].u.content.prop.ulPropTag, 0x3001001F);
	assert_string_equal(f->u.and_or.res[0].u.content.prop.Value.lpszW, "bob");
	assert_int_equal(f->u.and_or.res[1].rt, RES_EXIST);
	assert_int_equal(f->u.and_or.res[1].u.exist.prop_tag, 0x39FE001F);
	assert_false(req.u.get_matches.has_prop_name);
	assert_int_equal(req.u.get_matches.row_count, 50);
	assert_true(req.u.get_matches.has_columns);
	assert_int_equal(req.u.get_matches.columns->cValues, 1);

	/* re-encodes byte for byte, and the result pulls to the same request */
	assert_int_equal(mh_nspi_request_push(&b, &req), S_OK);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, p, n);
	mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_nspi_request_pull(&c, &a, MH_NSPI_GET_MATCHES, &again), S_OK);
	assert_true(mh_restriction_equal(req.u.get_matches.filter, again.u.get_matches.filter));
	assert_int_equal(mh_nspi_request_push(&b2, &again), S_OK);
	assert_int_equal(b2.len, n);
	assert_memory_equal(b2.data, p, n);

	/* every truncation fails cleanly */
	for (size_t k = 0; k < n; k++) {
		mh_arena ta = MH_ARENA_INIT;
		mh_cursor_init(&c, p, k, MAPI_E_CORRUPT_DATA);
		assert_int_equal(mh_nspi_request_pull(&c, &ta, MH_NSPI_GET_MATCHES, &again),
		                 MAPI_E_CORRUPT_DATA);
		mh_arena_free(&ta);
	}

	/* a hostile RestrictCount inside the Filter is refused with its offset */
	p[12] = 0xff;
	p[13] = 0xff;
	mh_cursor_init(&c, p, n, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_nspi_request_pull(&c, &a, MH_NSPI_GET_MATCHES, &again),
	                 MAPI_E_CORRUPT_DATA);
	assert_non_null(
	    strstr(mh_error_last()->message, "AndRestriction.RestrictCount at byte 12 is 65535"));

	free(p);
	mh_buf_free(&b);
	mh_buf_free(&b2);
	mh_arena_free(&a);
}

static void test_nspi__hostile_counts(void **state)
{
	/* ResolveNames: Reserved, HasState 0, HasPropertyTags 0, HasNames 1, NameCount 100000 */
	static const uint8_t names[] = {0, 0, 0, 0, 0, 0, 1, 0xa0, 0x86, 0x01, 0x00, 'a', 0, 0, 0};
	/* DNToMId response: MinimalIdCount 0x7FFFFFFF */
	static const uint8_t mids[] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0};
	/* QueryRows response: HasState 0, HasColumnsAndRows, 0 columns, RowCount 50000 */
	static const uint8_t rows[] = {0,    0, 0, 0, 0, 0,    0,    0, 0,
	                               0xff, 0, 0, 0, 0, 0x50, 0xc3, 0, 0};
	/* GetSpecialTable response: CodePage, HasVersion 0, HasRows, RowsCount 0xFFFFFFFF */
	static const uint8_t st[] = {0, 0, 0,    0,    0,    0,    0,    0, 0xe4, 4, 0,
	                             0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,    0, 0};
	/* Bind request with an auxiliary buffer size past the end */
	static const uint8_t aux[] = {0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 2};
	struct {
		const uint8_t *d;
		size_t n;
		bool resp;
		mh_nspi_kind k;
	} cases[] = {
	    {names, sizeof(names), false, MH_NSPI_RESOLVE_NAMES},
	    {mids, sizeof(mids), true, MH_NSPI_DN_TO_MID},
	    {rows, sizeof(rows), true, MH_NSPI_QUERY_ROWS},
	    {st, sizeof(st), true, MH_NSPI_GET_SPECIAL_TABLE},
	    {aux, sizeof(aux), false, MH_NSPI_BIND},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mh_arena a = MH_ARENA_INIT;
		mh_cursor c;
		mh_status s;
		mh_nspi_request req;
		mh_nspi_response resp;
		mh_cursor_init(&c, cases[i].d, cases[i].n, MAPI_E_CORRUPT_DATA);
		s = cases[i].resp ? mh_nspi_response_pull(&c, &a, cases[i].k, 0, &resp)
		                  : mh_nspi_request_pull(&c, &a, cases[i].k, &req);
		assert_int_equal(s, MAPI_E_CORRUPT_DATA);
		assert_non_null(strstr(mh_error_last()->message, "byte"));
		/* nothing was allocated for the hostile count (the one column array aside) */
		assert_true(a.used <= 64);
		mh_arena_free(&a);
	}
}

static void test_nspi__arena_cap(void **state)
{
	vec p = load(GROMOX_DIR "nspi_04_resolvenames_mixed.resp-body.hex");
	mh_arena a;
	mh_nspi_response resp;
	(void)state;
	mh_arena_init(&a, 256);
	assert_int_equal(pull_resp(&p, &a, MH_NSPI_RESOLVE_NAMES, 0, &resp), MAPI_E_TOO_BIG);
	mh_arena_free(&a);
	free(p.data);
}

static void test_nspi__trailing_and_bad_utf16(void **state)
{
	static const uint8_t unbind[] = {0, 0, 0, 0, 0, 0, 0, 0, 0x99};
	/* GetMailboxUrl: Flags 0, ServerDn = lone high surrogate */
	static const uint8_t url[] = {0, 0, 0, 0, 0x00, 0xd8, 0, 0, 0, 0, 0, 0};
	mh_arena a = MH_ARENA_INIT;
	mh_cursor c;
	mh_nspi_request req;
	(void)state;
	mh_cursor_init(&c, unbind, sizeof(unbind), MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_nspi_request_pull(&c, &a, MH_NSPI_UNBIND, &req), MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "after the auxiliary buffer"));
	mh_cursor_init(&c, url, sizeof(url), MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_nspi_request_pull(&c, &a, MH_NSPI_GET_MAILBOX_URL, &req),
	                 MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "GetMailboxUrl.ServerDn at byte 4"));
	mh_cursor_init(&c, url, sizeof(url), MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_nspi_request_pull(&c, &a, MH_NSPI_KIND_COUNT, &req), MAPI_E_NO_SUPPORT);
	mh_arena_free(&a);
}

/* ---- every vector: truncations and bit flips ---------------------------------------- */

static const struct {
	const char *path;
	mh_nspi_kind kind;
	bool resp;
} all_vectors[] = {
    {GROMOX_DIR "nspi_01_bind.req.hex", MH_NSPI_BIND, false},
    {GROMOX_DIR "nspi_01_bind.resp-body.hex", MH_NSPI_BIND, true},
    {GROMOX_DIR "nspi_02_resolvenames_bob.req.hex", MH_NSPI_RESOLVE_NAMES, false},
    {GROMOX_DIR "nspi_02_resolvenames_bob.resp-body.hex", MH_NSPI_RESOLVE_NAMES, true},
    {GROMOX_DIR "nspi_03_resolvenames_unknown.req.hex", MH_NSPI_RESOLVE_NAMES, false},
    {GROMOX_DIR "nspi_03_resolvenames_unknown.resp-body.hex", MH_NSPI_RESOLVE_NAMES, true},
    {GROMOX_DIR "nspi_04_resolvenames_mixed.req.hex", MH_NSPI_RESOLVE_NAMES, false},
    {GROMOX_DIR "nspi_04_resolvenames_mixed.resp-body.hex", MH_NSPI_RESOLVE_NAMES, true},
    {GROMOX_DIR "nspi_05_dntomid_bob.req.hex", MH_NSPI_DN_TO_MID, false},
    {GROMOX_DIR "nspi_05_dntomid_bob.resp-body.hex", MH_NSPI_DN_TO_MID, true},
    {GROMOX_DIR "nspi_06_getprops_bob.req.hex", MH_NSPI_GET_PROPS, false},
    {GROMOX_DIR "nspi_06_getprops_bob.resp-body.hex", MH_NSPI_GET_PROPS, true},
    {GROMOX_DIR "nspi_07_getspecialtable.req.hex", MH_NSPI_GET_SPECIAL_TABLE, false},
    {GROMOX_DIR "nspi_07_getspecialtable.resp-body.hex", MH_NSPI_GET_SPECIAL_TABLE, true},
    {GROMOX_DIR "nspi_08_getmailboxurl_bob_userdn.req.hex", MH_NSPI_GET_MAILBOX_URL, false},
    {GROMOX_DIR "nspi_08_getmailboxurl_bob_userdn.resp-body.hex", MH_NSPI_GET_MAILBOX_URL, true},
    {GROMOX_DIR "nspi_09_getmailboxurl_bob_homemdb.req.hex", MH_NSPI_GET_MAILBOX_URL, false},
    {GROMOX_DIR "nspi_09_getmailboxurl_bob_homemdb.resp-body.hex", MH_NSPI_GET_MAILBOX_URL, true},
    {GROMOX_DIR "nspi_10_getmailboxurl_bob_serverdn.req.hex", MH_NSPI_GET_MAILBOX_URL, false},
    {GROMOX_DIR "nspi_10_getmailboxurl_bob_serverdn.resp-body.hex", MH_NSPI_GET_MAILBOX_URL, true},
    {GROMOX_DIR "nspi_11_comparemids.req.hex", MH_NSPI_COMPARE_MIDS, false},
    {GROMOX_DIR "nspi_11_comparemids.resp-body.hex", MH_NSPI_COMPARE_MIDS, true},
    {GROMOX_DIR "nspi_12_comparemids_bad_mid.req.hex", MH_NSPI_COMPARE_MIDS, false},
    {GROMOX_DIR "nspi_12_comparemids_bad_mid.resp-body.hex", MH_NSPI_COMPARE_MIDS, true},
    {GROMOX_DIR "nspi_14_unbind.req.hex", MH_NSPI_UNBIND, false},
    {GROMOX_DIR "nspi_14_unbind.resp-body.hex", MH_NSPI_UNBIND, true},
    {GROMOX_DIR "error_nspi_querycolumns_requesttype.req.hex", MH_NSPI_QUERY_COLUMNS, false},
    {WIRE_DIR "bind_request_body.hex", MH_NSPI_BIND, false},
    {WIRE_DIR "bind_response_body.hex", MH_NSPI_BIND, true},
    {WIRE_DIR "resolvenames_request_body.hex", MH_NSPI_RESOLVE_NAMES, false},
    {WIRE_DIR "resolvenames_response_body.hex", MH_NSPI_RESOLVE_NAMES, true},
    {WIRE_DIR "resolvenames_response_unresolved.hex", MH_NSPI_RESOLVE_NAMES, true},
};
#define N_ALL (sizeof(all_vectors) / sizeof(all_vectors[0]))

static mh_status pull_any(const uint8_t *d, size_t n, size_t i, mh_arena *a)
{
	mh_cursor c;
	mh_nspi_request req;
	mh_nspi_response resp;
	mh_cursor_init(&c, d, n, MAPI_E_CORRUPT_DATA);
	if (all_vectors[i].resp)
		return mh_nspi_response_pull(&c, a, all_vectors[i].kind, MH_NSPI_PULL_CMP_AUTO,
		                             &resp);
	return mh_nspi_request_pull(&c, a, all_vectors[i].kind, &req);
}

static void test_nspi__truncations(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ALL; i++) {
		vec v = load(all_vectors[i].path);
		mh_arena a = MH_ARENA_INIT;
		assert_int_equal(pull_any(v.data, v.len, i, &a), S_OK);
		for (size_t n = 0; n < v.len; n++) {
			/* a heap copy of exactly n bytes, so ASan sees any overread */
			uint8_t *d = malloc(n + 1);
			assert_non_null(d);
			memcpy(d, v.data, n);
			assert_int_equal(pull_any(d, n, i, &a), MAPI_E_CORRUPT_DATA);
			assert_non_null(mh_error_last());
			assert_non_null(strstr(mh_error_last()->message, "byte"));
			free(d);
			mh_arena_free(&a);
		}
		mh_arena_free(&a);
		free(v.data);
	}
}

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: fixed seed, reproducible */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static void test_nspi__bit_flips(void **state)
{
	(void)state;
	rng_state = 0x5eed0001;
	for (size_t i = 0; i < N_ALL; i++) {
		vec v = load(all_vectors[i].path);
		for (int round = 0; round < 400; round++) {
			uint8_t *d = malloc(v.len);
			mh_arena a = MH_ARENA_INIT;
			mh_cursor c;
			mh_nspi_request req;
			mh_nspi_response resp;
			mh_status s;
			assert_non_null(d);
			memcpy(d, v.data, v.len);
			for (int f = 0; f < 1 + (int)(rnd() % 3); f++)
				d[rnd() % v.len] ^= (uint8_t)(1u << (rnd() % 8));
			mh_cursor_init(&c, d, v.len, MAPI_E_CORRUPT_DATA);
			if (all_vectors[i].resp)
				s = mh_nspi_response_pull(&c, &a, all_vectors[i].kind,
				                          MH_NSPI_PULL_CMP_AUTO, &resp);
			else
				s = mh_nspi_request_pull(&c, &a, all_vectors[i].kind, &req);
			if (s == S_OK) {
				/* what decodes must encode again */
				mh_buf b = MH_BUF_INIT;
				s = all_vectors[i].resp ? mh_nspi_response_push(&b, &resp)
				                        : mh_nspi_request_push(&b, &req);
				assert_int_equal(s, S_OK);
				mh_buf_free(&b);
			} else {
				assert_true(s == MAPI_E_CORRUPT_DATA || s == MAPI_E_NO_SUPPORT ||
				            s == MAPI_E_TOO_BIG);
			}
			mh_arena_free(&a);
			free(d);
		}
		free(v.data);
	}
}

/* ---- randomized round trips --------------------------------------------------------- */

static void rnd_stat(mh_nspi_stat *s)
{
	s->sort_type = rnd() % 4 == 0 ? 0x3E9 : 0;
	s->container_id = rnd();
	s->cur_rec = rnd();
	s->delta = (int32_t)rnd();
	s->num_pos = rnd();
	s->total_recs = rnd();
	s->codepage = rnd();
	s->template_locale = rnd();
	s->sort_locale = rnd();
}

static void *amem(mh_arena *a, size_t n)
{
	void *p = NULL;
	assert_int_equal(mh_arena_alloc(a, n == 0 ? 1 : n, &p), S_OK);
	return p;
}

static char *rnd_str(mh_arena *a, bool wide)
{
	static const char *const pieces[] = {
	    "a", "Z", "/o=", "@", " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "x500", "-"};
	size_t n = rnd() % 6, len = 0;
	char *s = amem(a, 6 * 4 + 1);
	for (size_t i = 0; i < n; i++) {
		const char *p = pieces[rnd() % (wide ? 10 : 5)];
		if (!wide && p[0] == ' ')
			p = "\x93"; /* an 8-bit byte that is not UTF-8 */
		memcpy(s + len, p, strlen(p));
		len += strlen(p);
	}
	s[len] = '\0';
	return s;
}

static void rnd_mids(mh_arena *a, mh_nspi_mids *m)
{
	m->count = rnd() % 5;
	m->mids = m->count ? amem(a, 4 * m->count) : NULL;
	for (uint32_t i = 0; i < m->count; i++)
		m->mids[i] = rnd();
}

static void rnd_strings(mh_arena *a, bool wide, mh_nspi_strings *s)
{
	s->count = rnd() % 4;
	s->values = s->count ? amem(a, sizeof(char *) * s->count) : NULL;
	for (uint32_t i = 0; i < s->count; i++)
		s->values[i] = rnd_str(a, wide);
}

static const uint16_t value_types[] = {PT_LONG,       PT_I2,      PT_BOOLEAN,   PT_I8,
                                       PT_UNICODE,    PT_STRING8, PT_BINARY,    PT_SYSTIME,
                                       PT_MV_UNICODE, PT_MV_LONG, PT_MV_BINARY, PT_ERROR};
#define N_TYPES (sizeof(value_types) / sizeof(value_types[0]))

static void rnd_value(mh_arena *a, uint16_t type, union _PV *v)
{
	memset(v, 0, sizeof(*v));
	switch (type) {
	case PT_LONG:
	case PT_ERROR:
		v->l = (int32_t)rnd();
		break;
	case PT_I2:
		v->i = (int16_t)rnd();
		break;
	case PT_BOOLEAN:
		v->b = rnd() & 1;
		break;
	case PT_I8:
		v->li = (int64_t)(((uint64_t)rnd() << 32) | rnd());
		break;
	case PT_SYSTIME:
		v->ft.dwLowDateTime = rnd();
		v->ft.dwHighDateTime = rnd();
		break;
	case PT_UNICODE:
		v->lpszW = rnd() % 5 == 0 ? NULL : rnd_str(a, true);
		break;
	case PT_STRING8:
		v->lpszA = rnd() % 5 == 0 ? NULL : rnd_str(a, false);
		break;
	case PT_BINARY:
		if (rnd() % 5 != 0) {
			v->bin.cb = rnd() % 9;
			v->bin.lpb = amem(a, v->bin.cb);
			for (uint32_t i = 0; i < v->bin.cb; i++)
				v->bin.lpb[i] = (uint8_t)rnd();
		}
		break;
	case PT_MV_UNICODE:
		v->MVszW.cValues = 1 + rnd() % 3;
		v->MVszW.lppszW = amem(a, sizeof(char *) * v->MVszW.cValues);
		for (uint32_t i = 0; i < v->MVszW.cValues; i++)
			v->MVszW.lppszW[i] = rnd_str(a, true);
		break;
	case PT_MV_LONG:
		v->MVl.cValues = 1 + rnd() % 3;
		v->MVl.lpl = amem(a, 4 * v->MVl.cValues);
		for (uint32_t i = 0; i < v->MVl.cValues; i++)
			v->MVl.lpl[i] = (int32_t)rnd();
		break;
	case PT_MV_BINARY:
		v->MVbin.cValues = 1 + rnd() % 3;
		v->MVbin.lpbin = amem(a, sizeof(SBinary) * v->MVbin.cValues);
		for (uint32_t i = 0; i < v->MVbin.cValues; i++) {
			v->MVbin.lpbin[i].cb = 1 + rnd() % 4;
			v->MVbin.lpbin[i].lpb = amem(a, 4);
			memset(v->MVbin.lpbin[i].lpb, (int)(rnd() & 0xFF), 4);
		}
		break;
	}
}

static SPropTagArray *rnd_tags(mh_arena *a, uint32_t n)
{
	SPropTagArray *t = amem(a, CbNewSPropTagArray(n));
	t->cValues = n;
	for (uint32_t i = 0; i < n; i++)
		t->aulPropTag[i] = PROP_TAG(value_types[rnd() % (N_TYPES - 1)], 0x3000 + i);
	return t;
}

static void rnd_proplist(mh_arena *a, mh_nspi_proplist *pl)
{
	pl->count = rnd() % 5;
	pl->props = pl->count ? amem(a, sizeof(SPropValue) * pl->count) : NULL;
	for (uint32_t i = 0; i < pl->count; i++) {
		uint16_t t = value_types[rnd() % N_TYPES];
		pl->props[i].ulPropTag = PROP_TAG(t, 0x3000 + i);
		rnd_value(a, t, &pl->props[i].Value);
	}
}

/* A small random restriction tree for GetMatches: And/Or/Not over leaves with values. */
static void rnd_restriction(mh_arena *a, mh_restriction *r, unsigned depth)
{
	uint16_t t;
	memset(r, 0, sizeof(*r));
	switch (depth < 3 ? rnd() % 6 : 3 + rnd() % 3) {
	case 0:
	case 1:
		r->rt = rnd() & 1 ? RES_AND : RES_OR;
		r->u.and_or.count = rnd() % 3;
		r->u.and_or.res =
		    r->u.and_or.count ? amem(a, sizeof(mh_restriction) * r->u.and_or.count) : NULL;
		for (uint32_t i = 0; i < r->u.and_or.count; i++)
			rnd_restriction(a, &r->u.and_or.res[i], depth + 1);
		break;
	case 2:
		r->rt = RES_NOT;
		r->u.not_.res = amem(a, sizeof(mh_restriction));
		rnd_restriction(a, r->u.not_.res, depth + 1);
		break;
	case 3:
		r->rt = RES_EXIST;
		r->u.exist.prop_tag = rnd();
		break;
	case 4:
		r->rt = RES_CONTENT;
		r->u.content.fuzzy_level = rnd();
		t = value_types[rnd() % N_TYPES];
		r->u.content.prop_tag = r->u.content.prop.ulPropTag = PROP_TAG(t, 0x3001);
		rnd_value(a, t, &r->u.content.prop.Value);
		break;
	default:
		r->rt = RES_PROPERTY;
		r->u.property.relop = (uint8_t)(rnd() % 7);
		t = value_types[rnd() % N_TYPES];
		r->u.property.prop_tag = r->u.property.prop.ulPropTag = PROP_TAG(t, 0x3a00);
		rnd_value(a, t, &r->u.property.prop.Value);
		break;
	}
}

static mh_restriction *rnd_filter(mh_arena *a)
{
	mh_restriction *r = amem(a, sizeof(mh_restriction));
	rnd_restriction(a, r, 0);
	return r;
}

static void rnd_rowset(mh_arena *a, mh_nspi_rowset *rs)
{
	uint32_t ncols = rnd() % 5;
	rs->columns = rnd_tags(a, ncols);
	if (ncols > 0 && rnd() % 3 == 0) /* an unspecified column: typed values */
		rs->columns->aulPropTag[0] = PROP_TAG(PT_UNSPECIFIED, 0x3000);
	rs->count = rnd() % 4;
	rs->rows = rs->count ? amem(a, sizeof(mh_prop_row) * rs->count) : NULL;
	for (uint32_t r = 0; r < rs->count; r++) {
		mh_prop_row *row = &rs->rows[r];
		row->flag = rnd() % 2;
		row->cValues = ncols;
		row->lpProps = ncols ? amem(a, sizeof(SPropValue) * ncols) : NULL;
		row->colflags = NULL;
		for (uint32_t i = 0; i < ncols; i++) {
			uint32_t ct = rs->columns->aulPropTag[i];
			uint16_t t = (uint16_t)PROP_TYPE(ct);
			if (t == PT_UNSPECIFIED)
				t = value_types[rnd() % (N_TYPES - 1)];
			if (row->flag && rnd() % 4 == 0) {
				row->lpProps[i].ulPropTag = PROP_TAG(PT_ERROR, PROP_ID(ct));
				row->lpProps[i].Value.err = MAPI_E_NOT_FOUND;
				continue;
			}
			row->lpProps[i].ulPropTag = PROP_TAG(t, PROP_ID(ct));
			rnd_value(a, t, &row->lpProps[i].Value);
		}
	}
}

static void rnd_aux(mh_arena *a, mh_nspi_aux *aux)
{
	aux->cb = rnd() % 3 == 0 ? 1 + rnd() % 8 : 0;
	aux->data = aux->cb ? amem(a, aux->cb) : NULL;
	for (uint32_t i = 0; i < aux->cb; i++)
		aux->data[i] = (uint8_t)rnd();
}

static void rnd_request(mh_arena *a, mh_nspi_kind k, mh_nspi_request *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = k;
	switch (k) {
	case MH_NSPI_BIND:
		r->u.bind.flags = rnd();
		if ((r->u.bind.has_state = rnd() & 1))
			rnd_stat(&r->u.bind.state);
		break;
	case MH_NSPI_UNBIND:
		r->u.unbind.reserved = rnd();
		break;
	case MH_NSPI_COMPARE_MIDS:
		if ((r->u.compare_mids.has_state = rnd() & 1))
			rnd_stat(&r->u.compare_mids.state);
		r->u.compare_mids.mid1 = rnd();
		r->u.compare_mids.mid2 = rnd();
		break;
	case MH_NSPI_DN_TO_MID:
		if ((r->u.dn_to_mid.has_names = rnd() & 1))
			rnd_strings(a, false, &r->u.dn_to_mid.names);
		break;
	case MH_NSPI_GET_MATCHES: {
		mh_nspi_get_matches_req *q = &r->u.get_matches;
		if ((q->has_state = rnd() & 1))
			rnd_stat(&q->state);
		if ((q->has_mids = rnd() & 1))
			rnd_mids(a, &q->mids);
		q->reserved2 = rnd();
		if ((q->has_prop_name = rnd() & 1)) {
			q->prop_guid.Data1 = rnd();
			q->prop_guid.Data4[7] = (uint8_t)rnd();
			q->prop_id = rnd();
		}
		if ((q->has_filter = rnd() & 1))
			q->filter = rnd_filter(a);
		q->row_count = rnd();
		if ((q->has_columns = rnd() & 1))
			q->columns = rnd_tags(a, rnd() % 4);
		break;
	}
	case MH_NSPI_GET_PROP_LIST:
		r->u.get_prop_list.flags = rnd();
		r->u.get_prop_list.mid = rnd();
		r->u.get_prop_list.codepage = rnd();
		break;
	case MH_NSPI_GET_PROPS:
		r->u.get_props.flags = rnd();
		if ((r->u.get_props.has_state = rnd() & 1))
			rnd_stat(&r->u.get_props.state);
		if ((r->u.get_props.has_tags = rnd() & 1))
			r->u.get_props.tags = rnd_tags(a, rnd() % 4);
		break;
	case MH_NSPI_GET_SPECIAL_TABLE:
		r->u.get_special_table.flags = rnd();
		if ((r->u.get_special_table.has_state = rnd() & 1))
			rnd_stat(&r->u.get_special_table.state);
		if ((r->u.get_special_table.has_version = rnd() & 1))
			r->u.get_special_table.version = rnd();
		break;
	case MH_NSPI_GET_TEMPLATE_INFO:
		r->u.get_template_info.flags = rnd();
		r->u.get_template_info.display_type = rnd();
		if ((r->u.get_template_info.has_template_dn = rnd() & 1))
			r->u.get_template_info.template_dn = rnd_str(a, false);
		r->u.get_template_info.codepage = rnd();
		r->u.get_template_info.locale_id = rnd();
		break;
	case MH_NSPI_MOD_PROPS:
		if ((r->u.mod_props.has_state = rnd() & 1))
			rnd_stat(&r->u.mod_props.state);
		if ((r->u.mod_props.has_tags_to_remove = rnd() & 1))
			r->u.mod_props.tags_to_remove = rnd_tags(a, rnd() % 4);
		if ((r->u.mod_props.has_values = rnd() & 1))
			rnd_proplist(a, &r->u.mod_props.values);
		break;
	case MH_NSPI_MOD_LINK_ATT: {
		mh_nspi_mod_link_att_req *q = &r->u.mod_link_att;
		q->flags = rnd() & 1;
		q->prop_tag = rnd();
		q->mid = rnd();
		if ((q->has_entry_ids = rnd() & 1)) {
			q->count = rnd() % 4;
			q->entry_ids = q->count ? amem(a, q->count * sizeof(SBinary)) : NULL;
			for (uint32_t i = 0; i < q->count; i++) {
				q->entry_ids[i].cb = rnd() % 40;
				q->entry_ids[i].lpb =
				    q->entry_ids[i].cb ? amem(a, q->entry_ids[i].cb) : NULL;
				for (uint32_t j = 0; j < q->entry_ids[i].cb; j++)
					q->entry_ids[i].lpb[j] = (uint8_t)rnd();
			}
		}
		break;
	}
	case MH_NSPI_QUERY_COLUMNS:
		r->u.query_columns.reserved = rnd();
		r->u.query_columns.flags = rnd();
		break;
	case MH_NSPI_QUERY_ROWS:
		r->u.query_rows.flags = rnd();
		if ((r->u.query_rows.has_state = rnd() & 1))
			rnd_stat(&r->u.query_rows.state);
		rnd_mids(a, &r->u.query_rows.explicit_table);
		r->u.query_rows.row_count = rnd();
		if ((r->u.query_rows.has_columns = rnd() & 1))
			r->u.query_rows.columns = rnd_tags(a, rnd() % 4);
		break;
	case MH_NSPI_RESOLVE_NAMES:
		if ((r->u.resolve_names.has_state = rnd() & 1))
			rnd_stat(&r->u.resolve_names.state);
		if ((r->u.resolve_names.has_tags = rnd() & 1))
			r->u.resolve_names.tags = rnd_tags(a, rnd() % 4);
		if ((r->u.resolve_names.has_names = rnd() & 1))
			rnd_strings(a, true, &r->u.resolve_names.names);
		break;
	case MH_NSPI_RESORT_RESTRICTION:
		if ((r->u.resort_restriction.has_state = rnd() & 1))
			rnd_stat(&r->u.resort_restriction.state);
		if ((r->u.resort_restriction.has_mids = rnd() & 1))
			rnd_mids(a, &r->u.resort_restriction.mids);
		break;
	case MH_NSPI_SEEK_ENTRIES: {
		mh_nspi_seek_entries_req *q = &r->u.seek_entries;
		if ((q->has_state = rnd() & 1))
			rnd_stat(&q->state);
		if ((q->has_target = rnd() & 1)) {
			uint16_t t = value_types[rnd() % N_TYPES];
			q->target.ulPropTag = PROP_TAG(t, 0x3001);
			rnd_value(a, t, &q->target.Value);
		}
		if ((q->has_explicit_table = rnd() & 1))
			rnd_mids(a, &q->explicit_table);
		if ((q->has_columns = rnd() & 1))
			q->columns = rnd_tags(a, rnd() % 4);
		break;
	}
	case MH_NSPI_UPDATE_STAT:
		if ((r->u.update_stat.has_state = rnd() & 1))
			rnd_stat(&r->u.update_stat.state);
		r->u.update_stat.delta_requested = (uint8_t)rnd();
		break;
	case MH_NSPI_GET_MAILBOX_URL:
	case MH_NSPI_GET_ADDRESS_BOOK_URL:
		r->u.get_url.flags = rnd();
		r->u.get_url.dn = rnd_str(a, true);
		break;
	case MH_NSPI_KIND_COUNT:
		break;
	}
	rnd_aux(a, &r->aux);
}

static void rnd_response(mh_arena *a, mh_nspi_kind k, mh_nspi_response *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = k;
	rnd_aux(a, &r->aux);
	if (rnd() % 8 == 0) {
		r->status_code = 1 + rnd() % 20;
		return;
	}
	r->error_code = rnd() % 2 ? 0 : 0x8004010F;
	switch (k) {
	case MH_NSPI_BIND:
		r->u.bind.server_guid.Data1 = rnd();
		r->u.bind.server_guid.Data2 = (uint16_t)rnd();
		r->u.bind.server_guid.Data4[3] = (uint8_t)rnd();
		break;
	case MH_NSPI_UNBIND:
	case MH_NSPI_MOD_PROPS:
	case MH_NSPI_MOD_LINK_ATT:
		break;
	case MH_NSPI_COMPARE_MIDS:
		r->u.compare_mids.result = (int32_t)(rnd() % 7) - 3;
		r->u.compare_mids.gromox_order = rnd() & 1;
		break;
	case MH_NSPI_DN_TO_MID:
		if ((r->u.dn_to_mid.has_mids = rnd() & 1))
			rnd_mids(a, &r->u.dn_to_mid.mids);
		break;
	case MH_NSPI_GET_MATCHES:
		if ((r->u.get_matches.has_state = rnd() & 1))
			rnd_stat(&r->u.get_matches.state);
		if ((r->u.get_matches.has_mids = rnd() & 1))
			rnd_mids(a, &r->u.get_matches.mids);
		if ((r->u.get_matches.has_rows = rnd() & 1))
			rnd_rowset(a, &r->u.get_matches.rows);
		break;
	case MH_NSPI_GET_PROP_LIST:
		if ((r->u.get_prop_list.has_tags = rnd() & 1))
			r->u.get_prop_list.tags = rnd_tags(a, rnd() % 4);
		break;
	case MH_NSPI_GET_PROPS:
		r->u.get_props.codepage = rnd();
		if ((r->u.get_props.has_values = rnd() & 1))
			rnd_proplist(a, &r->u.get_props.values);
		break;
	case MH_NSPI_GET_SPECIAL_TABLE: {
		mh_nspi_get_special_table_resp *q = &r->u.get_special_table;
		q->codepage = rnd();
		if ((q->has_version = rnd() & 1))
			q->version = rnd();
		if ((q->has_rows = rnd() & 1)) {
			q->count = rnd() % 3;
			q->rows = q->count ? amem(a, sizeof(mh_nspi_proplist) * q->count) : NULL;
			for (uint32_t i = 0; i < q->count; i++)
				rnd_proplist(a, &q->rows[i]);
		}
		break;
	}
	case MH_NSPI_GET_TEMPLATE_INFO:
		r->u.get_template_info.codepage = rnd();
		if ((r->u.get_template_info.has_row = rnd() & 1))
			rnd_proplist(a, &r->u.get_template_info.row);
		break;
	case MH_NSPI_QUERY_COLUMNS:
		if ((r->u.query_columns.has_columns = rnd() & 1))
			r->u.query_columns.columns = rnd_tags(a, rnd() % 4);
		break;
	case MH_NSPI_QUERY_ROWS:
	case MH_NSPI_SEEK_ENTRIES:
		if ((r->u.query_rows.has_state = rnd() & 1))
			rnd_stat(&r->u.query_rows.state);
		if ((r->u.query_rows.has_rows = rnd() & 1))
			rnd_rowset(a, &r->u.query_rows.rows);
		break;
	case MH_NSPI_RESOLVE_NAMES:
		r->u.resolve_names.codepage = rnd();
		if ((r->u.resolve_names.has_mids = rnd() & 1))
			rnd_mids(a, &r->u.resolve_names.mids);
		if ((r->u.resolve_names.has_rows = rnd() & 1))
			rnd_rowset(a, &r->u.resolve_names.rows);
		break;
	case MH_NSPI_RESORT_RESTRICTION:
		if ((r->u.resort_restriction.has_state = rnd() & 1))
			rnd_stat(&r->u.resort_restriction.state);
		if ((r->u.resort_restriction.has_mids = rnd() & 1))
			rnd_mids(a, &r->u.resort_restriction.mids);
		break;
	case MH_NSPI_UPDATE_STAT:
		if ((r->u.update_stat.has_state = rnd() & 1))
			rnd_stat(&r->u.update_stat.state);
		if ((r->u.update_stat.has_delta = rnd() & 1))
			r->u.update_stat.delta = (int32_t)rnd();
		break;
	case MH_NSPI_GET_MAILBOX_URL:
	case MH_NSPI_GET_ADDRESS_BOOK_URL:
		r->u.get_url.server_url = rnd_str(a, true);
		break;
	case MH_NSPI_KIND_COUNT:
		break;
	}
}

/* ---- structural equality ------------------------------------------------------------ */

static void eq_stat(bool hx, const mh_nspi_stat *x, bool hy, const mh_nspi_stat *y)
{
	assert_int_equal(hx, hy);
	if (hx)
		assert_memory_equal(x, y, sizeof(*x));
}

static void eq_mids(const mh_nspi_mids *x, const mh_nspi_mids *y)
{
	assert_int_equal(x->count, y->count);
	for (uint32_t i = 0; i < x->count; i++)
		assert_int_equal(x->mids[i], y->mids[i]);
}

static void eq_opt_mids(bool hx, const mh_nspi_mids *x, bool hy, const mh_nspi_mids *y)
{
	assert_int_equal(hx, hy);
	if (hx)
		eq_mids(x, y);
}

static void eq_tags(bool hx, const SPropTagArray *x, bool hy, const SPropTagArray *y)
{
	assert_int_equal(hx, hy);
	if (!hx)
		return;
	assert_int_equal(x->cValues, y->cValues);
	for (uint32_t i = 0; i < x->cValues; i++)
		assert_int_equal(x->aulPropTag[i], y->aulPropTag[i]);
}

static void eq_strings(bool hx, const mh_nspi_strings *x, bool hy, const mh_nspi_strings *y)
{
	assert_int_equal(hx, hy);
	if (!hx)
		return;
	assert_int_equal(x->count, y->count);
	for (uint32_t i = 0; i < x->count; i++)
		assert_string_equal(x->values[i], y->values[i]);
}

static void eq_props(uint32_t n, const SPropValue *x, const SPropValue *y)
{
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(x[i].ulPropTag, y[i].ulPropTag);
		assert_true(mh_pv_value_equal((uint16_t)PROP_TYPE(x[i].ulPropTag), &x[i].Value,
		                              &y[i].Value));
	}
}

static void eq_proplist(bool hx, const mh_nspi_proplist *x, bool hy, const mh_nspi_proplist *y)
{
	assert_int_equal(hx, hy);
	if (!hx)
		return;
	assert_int_equal(x->count, y->count);
	eq_props(x->count, x->props, y->props);
}

static void eq_rowset(bool hx, const mh_nspi_rowset *x, bool hy, const mh_nspi_rowset *y)
{
	assert_int_equal(hx, hy);
	if (!hx)
		return;
	eq_tags(true, x->columns, true, y->columns);
	assert_int_equal(x->count, y->count);
	for (uint32_t r = 0; r < x->count; r++) {
		assert_int_equal(x->rows[r].flag, y->rows[r].flag);
		assert_int_equal(x->rows[r].cValues, y->rows[r].cValues);
		eq_props(x->rows[r].cValues, x->rows[r].lpProps, y->rows[r].lpProps);
	}
}

static void eq_aux(const mh_nspi_aux *x, const mh_nspi_aux *y)
{
	assert_int_equal(x->cb, y->cb);
	if (x->cb)
		assert_memory_equal(x->data, y->data, x->cb);
}

static void eq_request(const mh_nspi_request *x, const mh_nspi_request *y)
{
	assert_int_equal(x->kind, y->kind);
	eq_aux(&x->aux, &y->aux);
	switch (x->kind) {
	case MH_NSPI_BIND:
		assert_int_equal(x->u.bind.flags, y->u.bind.flags);
		eq_stat(x->u.bind.has_state, &x->u.bind.state, y->u.bind.has_state,
		        &y->u.bind.state);
		break;
	case MH_NSPI_UNBIND:
		assert_int_equal(x->u.unbind.reserved, y->u.unbind.reserved);
		break;
	case MH_NSPI_COMPARE_MIDS: {
		const mh_nspi_compare_mids_req *p = &x->u.compare_mids, *q = &y->u.compare_mids;
		eq_stat(p->has_state, &p->state, q->has_state, &q->state);
		assert_int_equal(p->mid1, q->mid1);
		assert_int_equal(p->mid2, q->mid2);
		break;
	}
	case MH_NSPI_DN_TO_MID:
		eq_strings(x->u.dn_to_mid.has_names, &x->u.dn_to_mid.names,
		           y->u.dn_to_mid.has_names, &y->u.dn_to_mid.names);
		break;
	case MH_NSPI_GET_MATCHES: {
		const mh_nspi_get_matches_req *p = &x->u.get_matches, *q = &y->u.get_matches;
		eq_stat(p->has_state, &p->state, q->has_state, &q->state);
		eq_opt_mids(p->has_mids, &p->mids, q->has_mids, &q->mids);
		assert_int_equal(p->reserved2, q->reserved2);
		assert_int_equal(p->has_filter, q->has_filter);
		if (p->has_filter)
			assert_true(mh_restriction_equal(p->filter, q->filter));
		assert_int_equal(p->has_prop_name, q->has_prop_name);
		if (p->has_prop_name) {
			assert_memory_equal(&p->prop_guid, &q->prop_guid, sizeof(GUID));
			assert_int_equal(p->prop_id, q->prop_id);
		}
		assert_int_equal(p->row_count, q->row_count);
		eq_tags(p->has_columns, p->columns, q->has_columns, q->columns);
		break;
	}
	case MH_NSPI_GET_PROP_LIST:
		assert_memory_equal(&x->u.get_prop_list, &y->u.get_prop_list,
		                    sizeof(x->u.get_prop_list));
		break;
	case MH_NSPI_GET_PROPS: {
		const mh_nspi_get_props_req *p = &x->u.get_props, *q = &y->u.get_props;
		assert_int_equal(p->flags, q->flags);
		eq_stat(p->has_state, &p->state, q->has_state, &q->state);
		eq_tags(p->has_tags, p->tags, q->has_tags, q->tags);
		break;
	}
	case MH_NSPI_GET_SPECIAL_TABLE: {
		const mh_nspi_get_special_table_req *p = &x->u.get_special_table,
		                                    *q = &y->u.get_special_table;
		assert_int_equal(p->flags, q->flags);
		eq_stat(p->has_state, &p->state, q->has_state, &q->state);
		assert_int_equal(p->has_version, q->has_version);
		if (p->has_version)
			assert_int_equal(p->version, q->version);
		break;
	}
	case MH_NSPI_GET_TEMPLATE_INFO: {
		const mh_nspi_get_template_info_req *p = &x->u.get_template_info,
		                                    *q = &y->u.get_template_info;
		assert_int_equal(p->flags, q->flags);
		assert_int_equal(p->display_type, q->display_type);
		assert_int_equal(p->has_template_dn, q->has_template_dn);
		if (p->has_template_dn)
			assert_string_equal(p->template_dn, q->template_dn);
		assert_int_equal(p->codepage, q->codepage);
		assert_int_equal(p->locale_id, q->locale_id);
		break;
	}
	case MH_NSPI_MOD_PROPS: {
		const mh_nspi_mod_props_req *p = &x->u.mod_props, *q = &y->u.mod_props;
		eq_stat(p->has_state, &p->state, q->has_state, &q->state);
		eq_tags(p->has_tags_to_remove, p->tags_to_remove, q->has_tags_to_remove,
		        q->tags_to_remove);
		eq_proplist(p->has_values, &p->values, q->has_values, &q->values);
		break;
	}
	case MH_NSPI_MOD_LINK_ATT: {
		const mh_nspi_mod_link_att_req *p = &x->u.mod_link_att, *q = &y->u.mod_link_att;
		assert_int_equal(p->flags, q->flags);
		assert_int_equal(p->prop_tag, q->prop_tag);
		assert_int_equal(p->mid, q->mid);
		assert_int_equal(p->has_entry_ids, q->has_entry_ids);
		if (!p->has_entry_ids)
			break;
		assert_int_equal(p->count, q->count);
		for (uint32_t i = 0; i < p->count; i++) {
			assert_int_equal(p->entry_ids[i].cb, q->entry_ids[i].cb);
			if (p->entry_ids[i].cb)
				assert_memory_equal(p->entry_ids[i].lpb, q->entry_ids[i].lpb,
				                    p->entry_ids[i].cb);
		}
		break;
	}
	case MH_NSPI_QUERY_COLUMNS:
		assert_int_equal(x->u.query_columns.reserved, y->u.query_columns.reserved);
		assert_int_equal(x->u.query_columns.flags, y->u.query_columns.flags);
		break;
	case MH_NSPI_QUERY_ROWS: {
		const mh_nspi_query_rows_req *p = &x->u.query_rows, *q = &y->u.query_rows;
		assert_int_equal(p->flags, q->flags);
		eq_stat(p->has_state, &p->state, q->has_state, &q->state);
		eq_mids(&p->explicit_table, &q->explicit_table);
		assert_int_equal(p->row_count, q->row_count);
		eq_tags(p->has_columns, p->columns, q->has_columns, q->columns);
		break;
	}
	case MH_NSPI_RESOLVE_NAMES: {
		const mh_nspi_resolve_names_req *p = &x->u.resolve_names, *q = &y->u.resolve_names;
		eq_stat(p->has_state, &p->state, q->has_state, &q->state);
		eq_tags(p->has_tags, p->tags, q->has_tags, q->tags);
		eq_strings(p->has_names, &p->names, q->has_names, &q->names);
		break;
	}
	case MH_NSPI_RESORT_RESTRICTION: {
		const mh_nspi_resort_restriction_req *p = &x->u.resort_restriction,
		                                     *q = &y->u.resort_restriction;
		eq_stat(p->has_state, &p->state, q->has_state, &q->state);
		eq_opt_mids(p->has_mids, &p->mids, q->has_mids, &q->mids);
		break;
	}
	case MH_NSPI_SEEK_ENTRIES: {
		const mh_nspi_seek_entries_req *p = &x->u.seek_entries, *q = &y->u.seek_entries;
		eq_stat(p->has_state, &p->state, q->has_state, &q->state);
		assert_int_equal(p->has_target, q->has_target);
		if (p->has_target)
			eq_props(1, &p->target, &q->target);
		eq_opt_mids(p->has_explicit_table, &p->explicit_table, q->has_explicit_table,
		            &q->explicit_table);
		eq_tags(p->has_columns, p->columns, q->has_columns, q->columns);
		break;
	}
	case MH_NSPI_UPDATE_STAT:
		eq_stat(x->u.update_stat.has_state, &x->u.update_stat.state,
		        y->u.update_stat.has_state, &y->u.update_stat.state);
		assert_int_equal(x->u.update_stat.delta_requested,
		                 y->u.update_stat.delta_requested);
		break;
	case MH_NSPI_GET_MAILBOX_URL:
	case MH_NSPI_GET_ADDRESS_BOOK_URL:
		assert_int_equal(x->u.get_url.flags, y->u.get_url.flags);
		assert_string_equal(x->u.get_url.dn, y->u.get_url.dn);
		break;
	case MH_NSPI_KIND_COUNT:
		fail();
	}
}

static void eq_response(const mh_nspi_response *x, const mh_nspi_response *y)
{
	assert_int_equal(x->kind, y->kind);
	assert_int_equal(x->status_code, y->status_code);
	eq_aux(&x->aux, &y->aux);
	if (x->status_code != 0)
		return;
	assert_int_equal(x->error_code, y->error_code);
	switch (x->kind) {
	case MH_NSPI_BIND:
		assert_memory_equal(&x->u.bind.server_guid, &y->u.bind.server_guid, sizeof(GUID));
		break;
	case MH_NSPI_UNBIND:
	case MH_NSPI_MOD_PROPS:
	case MH_NSPI_MOD_LINK_ATT:
		break;
	case MH_NSPI_COMPARE_MIDS:
		assert_int_equal(x->u.compare_mids.result, y->u.compare_mids.result);
		assert_int_equal(x->u.compare_mids.gromox_order, y->u.compare_mids.gromox_order);
		break;
	case MH_NSPI_DN_TO_MID:
		eq_opt_mids(x->u.dn_to_mid.has_mids, &x->u.dn_to_mid.mids, y->u.dn_to_mid.has_mids,
		            &y->u.dn_to_mid.mids);
		break;
	case MH_NSPI_GET_MATCHES: {
		const mh_nspi_get_matches_resp *p = &x->u.get_matches, *q = &y->u.get_matches;
		eq_stat(p->has_state, &p->state, q->has_state, &q->state);
		eq_opt_mids(p->has_mids, &p->mids, q->has_mids, &q->mids);
		eq_rowset(p->has_rows, &p->rows, q->has_rows, &q->rows);
		break;
	}
	case MH_NSPI_GET_PROP_LIST:
		eq_tags(x->u.get_prop_list.has_tags, x->u.get_prop_list.tags,
		        y->u.get_prop_list.has_tags, y->u.get_prop_list.tags);
		break;
	case MH_NSPI_GET_PROPS:
		assert_int_equal(x->u.get_props.codepage, y->u.get_props.codepage);
		eq_proplist(x->u.get_props.has_values, &x->u.get_props.values,
		            y->u.get_props.has_values, &y->u.get_props.values);
		break;
	case MH_NSPI_GET_SPECIAL_TABLE: {
		const mh_nspi_get_special_table_resp *p = &x->u.get_special_table,
		                                     *q = &y->u.get_special_table;
		assert_int_equal(p->codepage, q->codepage);
		assert_int_equal(p->has_version, q->has_version);
		if (p->has_version)
			assert_int_equal(p->version, q->version);
		assert_int_equal(p->has_rows, q->has_rows);
		if (p->has_rows) {
			assert_int_equal(p->count, q->count);
			for (uint32_t i = 0; i < p->count; i++)
				eq_proplist(true, &p->rows[i], true, &q->rows[i]);
		}
		break;
	}
	case MH_NSPI_GET_TEMPLATE_INFO:
		assert_int_equal(x->u.get_template_info.codepage, y->u.get_template_info.codepage);
		eq_proplist(x->u.get_template_info.has_row, &x->u.get_template_info.row,
		            y->u.get_template_info.has_row, &y->u.get_template_info.row);
		break;
	case MH_NSPI_QUERY_COLUMNS:
		eq_tags(x->u.query_columns.has_columns, x->u.query_columns.columns,
		        y->u.query_columns.has_columns, y->u.query_columns.columns);
		break;
	case MH_NSPI_QUERY_ROWS:
	case MH_NSPI_SEEK_ENTRIES:
		eq_stat(x->u.query_rows.has_state, &x->u.query_rows.state,
		        y->u.query_rows.has_state, &y->u.query_rows.state);
		eq_rowset(x->u.query_rows.has_rows, &x->u.query_rows.rows, y->u.query_rows.has_rows,
		          &y->u.query_rows.rows);
		break;
	case MH_NSPI_RESOLVE_NAMES: {
		const mh_nspi_resolve_names_resp *p = &x->u.resolve_names, *q = &y->u.resolve_names;
		assert_int_equal(p->codepage, q->codepage);
		eq_opt_mids(p->has_mids, &p->mids, q->has_mids, &q->mids);
		eq_rowset(p->has_rows, &p->rows, q->has_rows, &q->rows);
		break;
	}
	case MH_NSPI_RESORT_RESTRICTION:
		eq_stat(x->u.resort_restriction.has_state, &x->u.resort_restriction.state,
		        y->u.resort_restriction.has_state, &y->u.resort_restriction.state);
		eq_opt_mids(x->u.resort_restriction.has_mids, &x->u.resort_restriction.mids,
		            y->u.resort_restriction.has_mids, &y->u.resort_restriction.mids);
		break;
	case MH_NSPI_UPDATE_STAT:
		eq_stat(x->u.update_stat.has_state, &x->u.update_stat.state,
		        y->u.update_stat.has_state, &y->u.update_stat.state);
		assert_int_equal(x->u.update_stat.has_delta, y->u.update_stat.has_delta);
		if (x->u.update_stat.has_delta)
			assert_int_equal(x->u.update_stat.delta, y->u.update_stat.delta);
		break;
	case MH_NSPI_GET_MAILBOX_URL:
	case MH_NSPI_GET_ADDRESS_BOOK_URL:
		assert_string_equal(x->u.get_url.server_url, y->u.get_url.server_url);
		break;
	case MH_NSPI_KIND_COUNT:
		fail();
	}
}

static void test_nspi__random_round_trips(void **state)
{
	(void)state;
	rng_state = 0x0123456789abcdefull;
	for (int k = 0; k < MH_NSPI_KIND_COUNT; k++) {
		for (int n = 0; n < 300; n++) {
			mh_arena a = MH_ARENA_INIT;
			mh_buf b = MH_BUF_INIT, b2 = MH_BUF_INIT;
			mh_cursor c;
			mh_nspi_request rq, rq2;
			mh_nspi_response rs, rs2;

			rnd_request(&a, (mh_nspi_kind)k, &rq);
			assert_int_equal(mh_nspi_request_push(&b, &rq), S_OK);
			mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
			assert_int_equal(mh_nspi_request_pull(&c, &a, (mh_nspi_kind)k, &rq2), S_OK);
			eq_request(&rq, &rq2);
			assert_int_equal(mh_nspi_request_push(&b2, &rq2), S_OK);
			assert_int_equal(b.len, b2.len);
			assert_memory_equal(b.data, b2.data, b.len);
			mh_buf_free(&b);
			mh_buf_free(&b2);

			rnd_response(&a, (mh_nspi_kind)k, &rs);
			assert_int_equal(mh_nspi_response_push(&b, &rs), S_OK);
			mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
			assert_int_equal(
			    mh_nspi_response_pull(&c, &a, (mh_nspi_kind)k,
			                          k == MH_NSPI_COMPARE_MIDS &&
			                                  rs.u.compare_mids.gromox_order
			                              ? MH_NSPI_PULL_CMP_GROMOX
			                              : MH_NSPI_PULL_CMP_SPEC,
			                          &rs2),
			    S_OK);
			eq_response(&rs, &rs2);
			assert_int_equal(mh_nspi_response_push(&b2, &rs2), S_OK);
			assert_int_equal(b.len, b2.len);
			assert_memory_equal(b.data, b2.data, b.len);
			mh_buf_free(&b);
			mh_buf_free(&b2);
			mh_arena_free(&a);
		}
	}
}

static void test_nspi__push_rejects_bad_structures(void **state)
{
	mh_buf b = MH_BUF_INIT;
	mh_nspi_request req;
	mh_nspi_response resp;
	(void)state;
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_DN_TO_MID;
	req.u.dn_to_mid.has_names = true;
	req.u.dn_to_mid.names.count = 2; /* no array */
	assert_int_equal(mh_nspi_request_push(&b, &req), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	req.kind = MH_NSPI_KIND_COUNT;
	assert_int_equal(mh_nspi_request_push(&b, &req), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_GET_MAILBOX_URL;
	req.u.get_url.dn = "\xff bad utf-8";
	assert_int_equal(mh_nspi_request_push(&b, &req), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	memset(&resp, 0, sizeof(resp));
	resp.kind = MH_NSPI_QUERY_ROWS;
	resp.u.query_rows.has_rows = true;
	resp.u.query_rows.rows.count = 1; /* rows without columns */
	assert_int_equal(mh_nspi_response_push(&b, &resp), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	memset(&resp, 0, sizeof(resp));
	resp.kind = MH_NSPI_UNBIND;
	resp.aux.cb = 3; /* size without bytes */
	assert_int_equal(mh_nspi_response_push(&b, &resp), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nspi__kind_names),
	    cmocka_unit_test(test_nspi__gromox_bind),
	    cmocka_unit_test(test_nspi__gromox_resolvenames_bob),
	    cmocka_unit_test(test_nspi__gromox_resolvenames_unknown),
	    cmocka_unit_test(test_nspi__gromox_resolvenames_mixed),
	    cmocka_unit_test(test_nspi__gromox_dntomid),
	    cmocka_unit_test(test_nspi__gromox_getprops),
	    cmocka_unit_test(test_nspi__gromox_getspecialtable),
	    cmocka_unit_test(test_nspi__gromox_getmailboxurl),
	    cmocka_unit_test(test_nspi__gromox_comparemids),
	    cmocka_unit_test(test_nspi__comparemids_spec_order),
	    cmocka_unit_test(test_nspi__gromox_unbind_and_querycolumns),
	    cmocka_unit_test(test_nspi__wire_vectors),
	    cmocka_unit_test(test_nspi__failure_layout),
	    cmocka_unit_test(test_nspi__modlinkatt_layout),
	    cmocka_unit_test(test_nspi__failure_lenient),
	    cmocka_unit_test(test_nspi__getmatches),
	    cmocka_unit_test(test_nspi__getmatches_filter),
	    cmocka_unit_test(test_nspi__hostile_counts),
	    cmocka_unit_test(test_nspi__arena_cap),
	    cmocka_unit_test(test_nspi__trailing_and_bad_utf16),
	    cmocka_unit_test(test_nspi__truncations),
	    cmocka_unit_test(test_nspi__bit_flips),
	    cmocka_unit_test(test_nspi__random_round_trips),
	    cmocka_unit_test(test_nspi__push_rejects_bad_structures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
