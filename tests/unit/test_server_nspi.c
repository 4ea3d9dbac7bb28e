/*
 * Tests of mapihttpd's NSPI handling over the sample organisation: requests encoded with the
 * codec, run through the body-level handler, responses decoded with the codec and checked for
 * real values, for malformed input, and for the same structure as a real server's answers.
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
#include "mapihttp/alloc.h"
#include "mapihttp/entryid.h"
#include "mapihttp/proptags.h"
#include "mapihttp/status.h"
#include "server/nspi_srv.h"
#include "server/store.h"
#include "util/diag.h"
#include "vectors.h"

#ifndef MH_VECTORS_DIR
#error "MH_VECTORS_DIR must name tests/vectors"
#endif
#define GROMOX_DIR MH_VECTORS_DIR "/gromox/"

#define BASE_URL       "https://mail.contoso.test"
#define DN_PREFIX      "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define ALICE_DN       DN_PREFIX "/cn=Recipients/cn=alice"
#define BOB_DN         DN_PREFIX "/cn=Recipients/cn=bob"
#define BOB_GUID       "eb113c0f-3344-86e1-ad16-c68cf5c1be62"
#define BOB_ARCH       "6bc6e012-62aa-8d2f-bbd6-151067afaa5d"
#define ALICE_ID       "3a355873-72e9-840e-9c30-d2cf806e1a0f"
#define BOB_SERVER_DN  DN_PREFIX "/cn=Configuration/cn=Servers/cn=" BOB_GUID "@contoso.test"
#define BOB_MDB_DN     BOB_SERVER_DN "/cn=Microsoft Private MDB"
#define ARCH_SERVER_DN DN_PREFIX "/cn=Configuration/cn=Servers/cn=" BOB_ARCH "@contoso.test"
#define N_SAMPLE       5 /* alice, bob, carol, svc, helpdesk */

#define TAG_OBJECT_TYPE PROP_TAG(PT_LONG, 0x0FFE)
#define TAG_COMMENT_W   PROP_TAG(PT_UNICODE, 0x3004)
#define TAG_ACCOUNT_W   PROP_TAG(PT_UNICODE, 0x3A00)

static const GUID server_guid = {0x01234567, 0x89ab, 0xcdef, {1, 2, 3, 4, 5, 6, 7, 8}};

typedef struct fixture {
	mh_srv_store *st;
	mh_srv_nspi_ctx ctx;
	mh_arena a;
	mh_srv_recipient alice;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	mh_arena tmp = MH_ARENA_INIT;
	if (f == NULL || mh_srv_store_open(&f->st, NULL) != S_OK ||
	    mh_srv_store_load_sample(f->st) != S_OK ||
	    mh_srv_store_recipient_by_smtp(f->st, &tmp, "alice@contoso.test", &f->alice) != S_OK)
		return -1;
	mh_arena_free(&tmp);
	mh_srv_nspi_ctx_init(&f->ctx, &server_guid, f->alice.id, BASE_URL);
	mh_arena_init(&f->a, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	mh_arena_free(&f->a);
	mh_srv_store_free(f->st);
	free(f);
	return 0;
}

/* Encodes req, runs the body handler, checks the X-ResponseCode and decodes the response. */
static void run(fixture *f, const mh_nspi_request *req, uint32_t want_rc, mh_nspi_response *resp)
{
	mh_buf q = MH_BUF_INIT, p = MH_BUF_INIT;
	uint32_t rc = 99;
	mh_nspi_kind k;
	mh_cursor c;
	mh_status ms;
	assert_int_equal(mh_nspi_request_push(&q, req), S_OK);
	ms = mh_srv_nspi_handle_body(&f->ctx, f->st, mh_nspi_kind_name(req->kind), q.data, q.len,
	                             &p, &rc, &k);
	assert_int_equal(rc, want_rc);
	assert_int_equal(k, req->kind);
	if (want_rc == 0) {
		assert_int_equal(ms, S_OK);
		mh_cursor_init(&c, p.data, p.len, MAPI_E_CORRUPT_DATA);
		assert_int_equal(
		    mh_nspi_response_pull(&c, &f->a, req->kind, MH_NSPI_PULL_CMP_SPEC, resp), S_OK);
		assert_int_equal(resp->status_code, 0);
	} else {
		assert_int_not_equal(ms, S_OK);
		assert_int_equal(p.len, 0);
	}
	mh_buf_free(&q);
	mh_buf_free(&p);
}

static void do_bind(fixture *f)
{
	mh_nspi_request req;
	mh_nspi_response resp;
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_BIND;
	req.u.bind.has_state = true;
	mh_nspi_stat_default(&req.u.bind.state);
	run(f, &req, 0, &resp);
	assert_int_equal(resp.error_code, 0);
	assert_memory_equal(&resp.u.bind.server_guid, &server_guid, sizeof(GUID));
}

static SPropTagArray *tags(mh_arena *a, uint32_t n, const uint32_t *v)
{
	SPropTagArray *t;
	assert_int_equal(mh_arena_alloc(a, CbNewSPropTagArray(n), (void **)&t), S_OK);
	t->cValues = n;
	memcpy(t->aulPropTag, v, n * sizeof(uint32_t));
	return t;
}

static const SPropValue *find(const SPropValue *props, uint32_t n, uint32_t tag)
{
	for (uint32_t i = 0; i < n; i++)
		if (props[i].ulPropTag == tag)
			return &props[i];
	fail_msg("tag 0x%08X not found", tag);
	return NULL;
}

static void resolve_req(mh_nspi_request *req, SPropTagArray *t, uint32_t n, const char **names)
{
	memset(req, 0, sizeof(*req));
	req->kind = MH_NSPI_RESOLVE_NAMES;
	req->u.resolve_names.has_state = true;
	mh_nspi_stat_default(&req->u.resolve_names.state);
	req->u.resolve_names.has_tags = t != NULL;
	req->u.resolve_names.tags = t;
	req->u.resolve_names.has_names = true;
	req->u.resolve_names.names.count = n;
	req->u.resolve_names.names.values = (char **)(uintptr_t)names;
}

static void assert_ab_eid(const SBinary *bin, uint32_t dt, const char *dn)
{
	mh_entryid *e = NULL;
	assert_int_equal(mh_entryid_parse(&e, bin->cb, bin->lpb), S_OK);
	assert_int_equal(e->kind, MH_ENTRYID_AB);
	assert_int_equal(e->u.ab.display_type, dt);
	assert_string_equal(e->u.ab.x500dn, dn);
	MAPIFreeBuffer(e);
}

/* bob's row as the ten-tag request of assert_bob asks for it. */
static const uint32_t bob_tags[] = {
    PR_DISPLAY_NAME_W,           PR_EMAIL_ADDRESS_W, PR_ADDRTYPE_W,   PR_SMTP_ADDRESS_W,
    PR_EMS_AB_HOME_MDB_W,        PR_DISPLAY_TYPE,    TAG_OBJECT_TYPE, PR_ENTRYID,
    PR_EMS_AB_PROXY_ADDRESSES_W, TAG_COMMENT_W};

static void assert_bob(const SPropValue *v, uint32_t n)
{
	const SPropValue *px;
	assert_string_equal(find(v, n, PR_DISPLAY_NAME_W)->Value.lpszW, "Bob Baker");
	assert_string_equal(find(v, n, PR_EMAIL_ADDRESS_W)->Value.lpszW, BOB_DN);
	assert_string_equal(find(v, n, PR_ADDRTYPE_W)->Value.lpszW, "EX");
	assert_string_equal(find(v, n, PR_SMTP_ADDRESS_W)->Value.lpszW, "bob@contoso.test");
	assert_string_equal(find(v, n, PR_EMS_AB_HOME_MDB_W)->Value.lpszW, BOB_MDB_DN);
	assert_int_equal(find(v, n, PR_DISPLAY_TYPE)->Value.l, DT_MAILUSER);
	assert_int_equal(find(v, n, TAG_OBJECT_TYPE)->Value.l, 6); /* MAPI_MAILUSER */
	assert_ab_eid(&find(v, n, PR_ENTRYID)->Value.bin, DT_MAILUSER, BOB_DN);
	px = find(v, n, PR_EMS_AB_PROXY_ADDRESSES_W);
	assert_int_equal(px->Value.MVszW.cValues, 2);
	assert_string_equal(px->Value.MVszW.lppszW[0], "SMTP:bob@contoso.test");
	assert_string_equal(px->Value.MVszW.lppszW[1], "X500:" BOB_DN);
	assert_int_equal(find(v, n, PROP_TAG(PT_ERROR, 0x3004))->Value.err, MAPI_E_NOT_FOUND);
}

/* ---- Bind / Unbind ------------------------------------------------------------------------ */

static void test_server_nspi__bind_unbind(void **state)
{
	fixture *f = *state;
	mh_nspi_request req;
	mh_nspi_response resp;
	const char *names[] = {"bob"};

	/* nothing but Bind before Bind */
	resolve_req(&req, NULL, 1, names);
	run(f, &req, 0, &resp);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_CALL_FAILED);
	assert_false(resp.u.resolve_names.has_mids);

	do_bind(f);
	assert_true(f->ctx.bound);
	do_bind(f); /* the same GUID again: MIds stay meaningful */
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_UNBIND;
	run(f, &req, 0, &resp);
	assert_int_equal(resp.error_code, MH_NSPI_UNBIND_SUCCESS);
	assert_false(f->ctx.bound);
	resolve_req(&req, NULL, 1, names);
	run(f, &req, 0, &resp);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_CALL_FAILED);
}

/* ---- ResolveNames ------------------------------------------------------------------------- */

static void test_server_nspi__resolve_names(void **state)
{
	fixture *f = *state;
	const char *names[] = {"bob",         "bob@contoso.test",      "Bob Baker", "zzz",
	                       "/o=Contoso",  "SMTP:BOB@contoso.test", " baker ",   "",
	                       "X500:" BOB_DN};
	const uint32_t want[] = {2, 2, 2, 0, 1, 2, 2, 0, 2};
	mh_nspi_request req;
	mh_nspi_response resp;
	const mh_nspi_resolve_names_resp *rs = &resp.u.resolve_names;
	SPropTagArray *t = tags(&f->a, 10, bob_tags);

	do_bind(f);
	resolve_req(&req, t, 9, names);
	run(f, &req, 0, &resp);
	assert_int_equal(resp.error_code, 0);
	assert_int_equal(rs->codepage, 1252);
	assert_true(rs->has_mids);
	assert_int_equal(rs->mids.count, 9);
	for (int i = 0; i < 9; i++)
		assert_int_equal(rs->mids.mids[i], want[i]);
	assert_true(rs->has_rows);
	assert_int_equal(rs->rows.columns->cValues, 10);
	assert_int_equal(rs->rows.count, 6); /* only resolved names, in order */
	for (uint32_t i = 0; i < rs->rows.count; i++) {
		assert_int_equal(rs->rows.rows[i].flag, 1); /* PidTagComment missing */
		assert_int_equal(rs->rows.rows[i].cValues, 10);
		assert_bob(rs->rows.rows[i].lpProps, 10);
	}

	/* every column present: a standard row; 8-bit strings where asked */
	{
		const uint32_t v[] = {PR_DISPLAY_NAME_A, PR_SMTP_ADDRESS_W, TAG_ACCOUNT_W};
		const char *one[] = {"carol"};
		resolve_req(&req, tags(&f->a, 3, v), 1, one);
		run(f, &req, 0, &resp);
		assert_int_equal(rs->rows.count, 1);
		assert_int_equal(rs->rows.rows[0].flag, 0);
		assert_string_equal(rs->rows.rows[0].lpProps[0].Value.lpszA, "Carol Chen");
		assert_string_equal(rs->rows.rows[0].lpProps[1].Value.lpszW, "carol@contoso.test");
		assert_string_equal(rs->rows.rows[0].lpProps[2].Value.lpszW, "carol");
	}
	/* the shared mailbox resolves too, with its own home MDB */
	{
		const uint32_t v[] = {PR_EMS_AB_HOME_MDB_W};
		const char *one[] = {"helpdesk@contoso.test"};
		resolve_req(&req, tags(&f->a, 1, v), 1, one);
		run(f, &req, 0, &resp);
		assert_int_equal(rs->mids.mids[0], MH_NSPI_MID_RESOLVED);
		assert_non_null(strstr(rs->rows.rows[0].lpProps[0].Value.lpszW,
		                       "64f1f9c7-d021-8da8-9104-ab895fb56224@contoso.test"));
	}
	/* no tags: the default columns, display name as 8-bit */
	resolve_req(&req, NULL, 1, names);
	run(f, &req, 0, &resp);
	assert_int_equal(rs->rows.columns->cValues, 7);
	assert_string_equal(find(rs->rows.rows[0].lpProps, 7, PR_DISPLAY_NAME_A)->Value.lpszA,
	                    "Bob Baker");
}

static void test_server_nspi__resolve_names_ambiguous(void **state)
{
	fixture *f = *state;
	mh_srv_store *st;
	mh_nspi_request req;
	mh_nspi_response resp;
	static const char json[] =
	    "{\"domain\":\"x.test\",\"organisation\":\"X\",\"users\":["
	    "{\"alias\":\"dan\",\"display_name\":\"Dan One\",\"password\":\"p-dan-1\"},"
	    "{\"alias\":\"dana\",\"display_name\":\"Dana Two\",\"password\":\"p-dana-1\"},"
	    "{\"alias\":\"ed\",\"display_name\":\"Ed Dan\",\"password\":\"p-ed-1\"}]}";
	const char *names[] = {"Dan", "Dana", "da", "Two", "ed", "One"};
	const uint32_t want[] = {2, 2, 1, 2, 2, 2};

	assert_int_equal(mh_srv_store_open(&st, NULL), S_OK);
	assert_int_equal(mh_srv_store_load_json(st, json, sizeof(json) - 1), S_OK);
	mh_srv_store_free(f->st);
	f->st = st;
	do_bind(f);
	resolve_req(&req, tags(&f->a, 1, (const uint32_t[]){PR_SMTP_ADDRESS_W}), 6, names);
	run(f, &req, 0, &resp);
	for (int i = 0; i < 6; i++)
		assert_int_equal(resp.u.resolve_names.mids.mids[i], want[i]);
	/* "Dan" is dan's alias exactly (an exact match beats prefixes) */
	assert_string_equal(resp.u.resolve_names.rows.rows[0].lpProps[0].Value.lpszW, "dan@x.test");
	assert_string_equal(resp.u.resolve_names.rows.rows[1].lpProps[0].Value.lpszW,
	                    "dana@x.test");
	assert_int_equal(resp.u.resolve_names.rows.count, 5);
}

/* ---- DNToMId and GetProps ----------------------------------------------------------------- */

static uint32_t dn_to_mid(fixture *f, const char *dn)
{
	mh_nspi_request req;
	mh_nspi_response resp;
	const char *names[] = {dn};
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_DN_TO_MID;
	req.u.dn_to_mid.has_names = true;
	req.u.dn_to_mid.names.count = 1;
	req.u.dn_to_mid.names.values = (char **)(uintptr_t)names;
	run(f, &req, 0, &resp);
	assert_int_equal(resp.error_code, 0);
	assert_true(resp.u.dn_to_mid.has_mids);
	assert_int_equal(resp.u.dn_to_mid.mids.count, 1);
	return resp.u.dn_to_mid.mids.mids[0];
}

static void get_props(fixture *f, uint32_t mid, uint32_t flags, SPropTagArray *t,
                      mh_nspi_response *resp)
{
	mh_nspi_request req;
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_GET_PROPS;
	req.u.get_props.flags = flags;
	req.u.get_props.has_state = true;
	mh_nspi_stat_default(&req.u.get_props.state);
	req.u.get_props.state.cur_rec = mid;
	req.u.get_props.has_tags = t != NULL;
	req.u.get_props.tags = t;
	run(f, &req, 0, resp);
}

static void test_server_nspi__dn_to_mid_get_props(void **state)
{
	fixture *f = *state;
	mh_nspi_response resp;
	const mh_nspi_get_props_resp *gp = &resp.u.get_props;
	uint32_t bob, alice;
	mh_entryid *e = NULL;
	const SPropValue *v;

	do_bind(f);
	bob = dn_to_mid(f, BOB_DN);
	alice = dn_to_mid(f, "/O=CONTOSO/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
	                     "/cn=Recipients/cn=ALICE"); /* DNs compare ignoring case */
	assert_true(bob >= 0x10);
	assert_true(alice >= 0x10);
	assert_int_not_equal(bob, alice);
	assert_int_equal(dn_to_mid(f, DN_PREFIX "/cn=Recipients/cn=nobody"), 0);
	assert_int_equal(dn_to_mid(f, BOB_DN), bob); /* stable */

	get_props(f, bob, 0, tags(&f->a, 10, bob_tags), &resp);
	assert_int_equal(resp.error_code, MH_NSPI_ERRORS_RETURNED); /* no PidTagComment */
	assert_int_equal(gp->codepage, 1252);
	assert_true(gp->has_values);
	assert_int_equal(gp->values.count, 10);
	assert_bob(gp->values.props, 10);

	get_props(f, alice, 0, tags(&f->a, 2, (const uint32_t[]){PR_SMTP_ADDRESS_W, 0xFFFD0003}),
	          &resp);
	assert_int_equal(resp.error_code, 0);
	assert_string_equal(gp->values.props[0].Value.lpszW, "alice@contoso.test");
	assert_int_equal(gp->values.props[1].Value.ul, alice);

	/* PT_UNSPECIFIED: the server picks the type (Unicode) */
	get_props(f, bob, 0, tags(&f->a, 1, (const uint32_t[]){PROP_TAG(PT_UNSPECIFIED, 0x3001)}),
	          &resp);
	assert_int_equal(gp->values.props[0].ulPropTag, PR_DISPLAY_NAME_W);
	assert_string_equal(gp->values.props[0].Value.lpszW, "Bob Baker");

	/* fEphID: an ephemeral EntryID carrying the server GUID and the MId */
	get_props(f, bob, MH_NSPI_EPHID, tags(&f->a, 1, (const uint32_t[]){PR_ENTRYID}), &resp);
	v = &gp->values.props[0];
	assert_int_equal(mh_entryid_parse(&e, v->Value.bin.cb, v->Value.bin.lpb), S_OK);
	assert_int_equal(e->kind, MH_ENTRYID_EPHEMERAL);
	assert_int_equal(e->u.ephemeral.mid, bob);
	assert_int_equal(e->u.ephemeral.abFlags[0], 0x87);
	assert_memory_equal(e->u.ephemeral.provider_uid.ab, "\x67\x45\x23\x01\xab\x89\xef\xcd", 8);
	MAPIFreeBuffer(e);

	/* no tags: every property the object has */
	get_props(f, bob, 0, NULL, &resp);
	assert_int_equal(resp.error_code, 0);
	assert_true(gp->values.count >= 10);
	assert_string_equal(
	    find(gp->values.props, gp->values.count, PR_EMS_AB_HOME_MDB_W)->Value.lpszW,
	    BOB_MDB_DN);

	/* an unknown MId and a special one */
	get_props(f, 0x7FFFFFF0, 0, NULL, &resp);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_NOT_FOUND);
	assert_false(gp->has_values);
	get_props(f, MH_NSPI_MID_END_OF_TABLE, 0, NULL, &resp);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_NOT_FOUND);
}

/* ---- QueryRows ---------------------------------------------------------------------------- */

static void query_rows(fixture *f, const mh_nspi_stat *s, uint32_t n_et, uint32_t *et,
                       uint32_t count, SPropTagArray *cols, mh_nspi_response *resp)
{
	mh_nspi_request req;
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_QUERY_ROWS;
	req.u.query_rows.has_state = true;
	req.u.query_rows.state = *s;
	req.u.query_rows.explicit_table.count = n_et;
	req.u.query_rows.explicit_table.mids = et;
	req.u.query_rows.row_count = count;
	req.u.query_rows.has_columns = cols != NULL;
	req.u.query_rows.columns = cols;
	run(f, &req, 0, resp);
}

static void test_server_nspi__query_rows(void **state)
{
	fixture *f = *state;
	static const char *const order[N_SAMPLE] = {"Alice Archer", "Bob Baker", "Carol Chen",
	                                            "Helpdesk", "Scan Service"};
	mh_nspi_response resp;
	const mh_nspi_query_rows_resp *qr = &resp.u.query_rows;
	SPropTagArray *cols = tags(&f->a, 2, (const uint32_t[]){PR_DISPLAY_NAME_W, 0xFFFD0003});
	mh_nspi_stat s;
	mh_srv_recipient *all;
	size_t n_all, got = 0;
	uint32_t et[2], mids[N_SAMPLE];

	assert_int_equal(mh_srv_store_recipients(f->st, &f->a, &all, &n_all), S_OK);
	assert_int_equal(n_all, N_SAMPLE);
	do_bind(f);

	/* the whole GAL at once, in display-name order */
	mh_nspi_stat_default(&s);
	query_rows(f, &s, 0, NULL, 100, cols, &resp);
	assert_int_equal(resp.error_code, 0);
	assert_true(qr->has_rows);
	assert_int_equal(qr->rows.count, N_SAMPLE);
	for (int i = 0; i < N_SAMPLE; i++) {
		assert_int_equal(qr->rows.rows[i].flag, 0);
		assert_string_equal(qr->rows.rows[i].lpProps[0].Value.lpszW, order[i]);
		mids[i] = qr->rows.rows[i].lpProps[1].Value.ul;
		assert_true(mids[i] >= 0x10);
	}
	assert_true(qr->has_state);
	assert_int_equal(qr->state.cur_rec, MH_NSPI_MID_END_OF_TABLE);
	assert_int_equal(qr->state.num_pos, N_SAMPLE);
	assert_int_equal(qr->state.total_recs, N_SAMPLE);
	assert_int_equal(qr->state.codepage, 1252);

	/* paging by two from the returned State */
	mh_nspi_stat_default(&s);
	while (got < N_SAMPLE) {
		query_rows(f, &s, 0, NULL, 2, cols, &resp);
		assert_true(qr->rows.count >= 1 && qr->rows.count <= 2);
		for (uint32_t i = 0; i < qr->rows.count; i++)
			assert_string_equal(qr->rows.rows[i].lpProps[0].Value.lpszW,
			                    order[got + i]);
		got += qr->rows.count;
		s = qr->state;
		if (got < N_SAMPLE) /* CurrentRec: the next row's MId */
			assert_int_equal(s.cur_rec, mids[got]);
	}
	assert_int_equal(s.cur_rec, MH_NSPI_MID_END_OF_TABLE);
	query_rows(f, &s, 0, NULL, 2, cols, &resp); /* at the end: nothing more */
	assert_int_equal(qr->rows.count, 0);

	/* Delta moves from CurrentRec */
	mh_nspi_stat_default(&s);
	s.delta = 3;
	query_rows(f, &s, 0, NULL, 1, cols, &resp);
	assert_string_equal(qr->rows.rows[0].lpProps[0].Value.lpszW, "Helpdesk");
	s.cur_rec = MH_NSPI_MID_END_OF_TABLE;
	s.delta = -1;
	query_rows(f, &s, 0, NULL, 5, cols, &resp);
	assert_int_equal(qr->rows.count, 1);
	assert_string_equal(qr->rows.rows[0].lpProps[0].Value.lpszW, "Scan Service");

	/* an explicit table: those rows, an unknown MId as a row of errors, State untouched */
	mh_nspi_stat_default(&s);
	et[0] = dn_to_mid(f, BOB_DN);
	et[1] = 0x7FFFFFF0;
	query_rows(f, &s, 2, et, 0, cols, &resp);
	assert_int_equal(qr->rows.count, 2);
	assert_string_equal(qr->rows.rows[0].lpProps[0].Value.lpszW, "Bob Baker");
	assert_int_equal(qr->rows.rows[0].lpProps[1].Value.ul, et[0]);
	assert_int_equal(qr->rows.rows[1].flag, 1);
	assert_int_equal(qr->rows.rows[1].lpProps[0].Value.err, MAPI_E_NOT_FOUND);
	assert_int_equal(qr->state.cur_rec, 0);

	/* limits and bad positions */
	f->ctx.max_rows = 3;
	query_rows(f, &s, 0, NULL, 100, cols, &resp);
	assert_int_equal(qr->rows.count, 3);
	assert_int_equal(qr->state.num_pos, 3);
	f->ctx.max_rows = 1;
	query_rows(f, &s, 2, et, 0, cols, &resp);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_TABLE_TOO_BIG);
	f->ctx.max_rows = MH_SRV_NSPI_MAX_ROWS;
	f->ctx.max_columns = 1;
	query_rows(f, &s, 0, NULL, 100, cols, &resp);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_TOO_BIG);
	assert_false(qr->has_rows);
	f->ctx.max_columns = MH_SRV_NSPI_MAX_COLUMNS;
	s.cur_rec = 0x7FFFFFF0;
	query_rows(f, &s, 0, NULL, 100, cols, &resp);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_NOT_FOUND);
	mh_nspi_stat_default(&s);
	s.container_id = 7;
	query_rows(f, &s, 0, NULL, 100, cols, &resp);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_INVALID_BOOKMARK);
}

/* ---- GetSpecialTable, GetMatches, CompareMIds -------------------------------------------- */

static void special_table(fixture *f, bool has_version, uint32_t version, mh_nspi_response *resp)
{
	mh_nspi_request req;
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_GET_SPECIAL_TABLE;
	req.u.get_special_table.flags = MH_NSPI_UNICODE_STRINGS;
	req.u.get_special_table.has_state = true;
	mh_nspi_stat_default(&req.u.get_special_table.state);
	req.u.get_special_table.has_version = has_version;
	req.u.get_special_table.version = version;
	run(f, &req, 0, resp);
}

static void test_server_nspi__get_special_table(void **state)
{
	fixture *f = *state;
	mh_nspi_response resp;
	const mh_nspi_get_special_table_resp *t = &resp.u.get_special_table;
	const mh_nspi_proplist *gal;

	do_bind(f);
	special_table(f, false, 0, &resp);
	assert_int_equal(resp.error_code, 0);
	assert_int_equal(t->codepage, 1252);
	assert_false(t->has_version);
	assert_true(t->has_rows);
	assert_int_equal(t->count, 1);
	gal = &t->rows[0];
	assert_int_equal(gal->count, 6);
	assert_int_equal(find(gal->props, 6, PR_EMS_AB_CONTAINERID)->Value.ul, 0);
	assert_int_equal(find(gal->props, 6, PR_CONTAINER_FLAGS)->Value.ul, 9);
	assert_int_equal(find(gal->props, 6, PR_DEPTH)->Value.ul, 0);
	assert_null(find(gal->props, 6, PR_DISPLAY_NAME_W)->Value.lpszW);
	assert_int_equal(find(gal->props, 6, PROP_TAG(PT_BOOLEAN, 0xFFFB))->Value.b, 0);
	assert_ab_eid(&find(gal->props, 6, PR_ENTRYID)->Value.bin, DT_CONTAINER, "/");

	/* a client whose copy is current gets the version and no rows */
	special_table(f, true, MH_SRV_NSPI_HIERARCHY_VERSION, &resp);
	assert_true(t->has_version);
	assert_int_equal(t->version, MH_SRV_NSPI_HIERARCHY_VERSION);
	assert_false(t->has_rows);
	special_table(f, true, 0, &resp);
	assert_true(t->has_rows);
}

static void test_server_nspi__get_matches(void **state)
{
	fixture *f = *state;
	mh_nspi_request req;
	mh_nspi_response resp;
	const mh_nspi_get_matches_resp *gm = &resp.u.get_matches;
	mh_buf q = MH_BUF_INIT, p = MH_BUF_INIT;
	uint32_t rc;
	mh_cursor c;

	do_bind(f);
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_GET_MATCHES;
	req.u.get_matches.has_state = true;
	mh_nspi_stat_default(&req.u.get_matches.state);
	req.u.get_matches.row_count = 50;
	req.u.get_matches.has_columns = true;
	req.u.get_matches.columns = tags(&f->a, 1, (const uint32_t[]){PR_SMTP_ADDRESS_W});
	run(f, &req, 0, &resp);
	assert_int_equal(resp.error_code, 0);
	assert_true(gm->has_mids);
	assert_int_equal(gm->mids.count, N_SAMPLE);
	assert_int_equal(gm->mids.mids[1], dn_to_mid(f, BOB_DN));
	assert_true(gm->has_rows);
	assert_int_equal(gm->rows.count, N_SAMPLE);
	assert_string_equal(gm->rows.rows[0].lpProps[0].Value.lpszW, "alice@contoso.test");

	req.u.get_matches.row_count = 2;
	run(f, &req, 0, &resp);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_TABLE_TOO_BIG);

	req.u.get_matches.row_count = 50;
	req.u.get_matches.has_prop_name = true;
	req.u.get_matches.prop_id = 0x8009;
	run(f, &req, 0, &resp);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_NOT_FOUND);

	/* a restriction: a well-formed answer saying it is not supported */
	req.u.get_matches.has_prop_name = false;
	{
		mh_restriction filter;
		memset(&filter, 0, sizeof(filter));
		filter.rt = RES_EXIST;
		filter.u.exist.prop_tag = 0x3001001F;
		req.u.get_matches.has_filter = true;
		req.u.get_matches.filter = &filter;
		assert_int_equal(mh_nspi_request_push(&q, &req), S_OK);
		req.u.get_matches.has_filter = false;
		req.u.get_matches.filter = NULL;
	}
	assert_int_equal(
	    mh_srv_nspi_handle_body(&f->ctx, f->st, "GetMatches", q.data, q.len, &p, &rc, NULL),
	    S_OK);
	assert_int_equal(rc, 0);
	mh_cursor_init(&c, p.data, p.len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_nspi_response_pull(&c, &f->a, MH_NSPI_GET_MATCHES, 0, &resp), S_OK);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_NO_SUPPORT);
	assert_false(gm->has_mids);
	mh_buf_free(&q);
	mh_buf_free(&p);
}

static int32_t compare(fixture *f, uint32_t m1, uint32_t m2, uint32_t *err)
{
	mh_nspi_request req;
	mh_nspi_response resp;
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_COMPARE_MIDS;
	req.u.compare_mids.has_state = true;
	mh_nspi_stat_default(&req.u.compare_mids.state);
	req.u.compare_mids.mid1 = m1;
	req.u.compare_mids.mid2 = m2;
	run(f, &req, 0, &resp);
	*err = resp.error_code;
	return resp.u.compare_mids.result;
}

static void test_server_nspi__compare_mids(void **state)
{
	fixture *f = *state;
	uint32_t alice, bob, err;
	mh_buf q = MH_BUF_INIT, p = MH_BUF_INIT;
	mh_nspi_request req;
	uint32_t rc;

	do_bind(f);
	alice = dn_to_mid(f, ALICE_DN);
	bob = dn_to_mid(f, BOB_DN);
	assert_true(compare(f, alice, bob, &err) < 0);
	assert_int_equal(err, 0);
	assert_true(compare(f, bob, alice, &err) > 0);
	assert_int_equal(compare(f, bob, bob, &err), 0);
	compare(f, bob, MH_NSPI_MID_END_OF_TABLE, &err);
	assert_int_equal(err, (uint32_t)MAPI_E_CALL_FAILED);

	/* spec order on the wire: StatusCode, ErrorCode, Result */
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_COMPARE_MIDS;
	req.u.compare_mids.mid1 = bob;
	req.u.compare_mids.mid2 = 2;
	assert_int_equal(mh_nspi_request_push(&q, &req), S_OK);
	assert_int_equal(
	    mh_srv_nspi_handle_body(&f->ctx, f->st, "CompareMIds", q.data, q.len, &p, &rc, NULL),
	    S_OK);
	assert_int_equal(p.len, 16);
	assert_memory_equal(p.data + 4, "\x05\x40\x00\x80", 4);
	assert_memory_equal(p.data + 8, "\0\0\0\0", 4);
	mh_buf_free(&q);
	mh_buf_free(&p);
}

/* ---- GetMailboxUrl / GetAddressBookUrl --------------------------------------------------- */

static void url(fixture *f, mh_nspi_kind kind, const char *dn, uint32_t want_err,
                const char *want_url)
{
	mh_nspi_request req;
	mh_nspi_response resp;
	memset(&req, 0, sizeof(req));
	req.kind = kind;
	req.u.get_url.dn = (char *)(uintptr_t)dn;
	run(f, &req, 0, &resp);
	assert_int_equal(resp.error_code, want_err);
	assert_string_equal(resp.u.get_url.server_url, want_url);
}

static void test_server_nspi__urls(void **state)
{
	fixture *f = *state;
	const char *bob_url = BASE_URL "/mapi/emsmdb/?MailboxId=" BOB_GUID "@contoso.test";
	const char *arch_url = BASE_URL "/mapi/emsmdb/?MailboxId=" BOB_ARCH "@contoso.test";

	do_bind(f);
	url(f, MH_NSPI_GET_MAILBOX_URL, BOB_SERVER_DN, 0, bob_url);
	url(f, MH_NSPI_GET_MAILBOX_URL, BOB_MDB_DN, 0, bob_url);
	url(f, MH_NSPI_GET_MAILBOX_URL, ARCH_SERVER_DN, 0, arch_url);
	url(f, MH_NSPI_GET_MAILBOX_URL, ARCH_SERVER_DN "/cn=Microsoft Private MDB", 0, arch_url);
	/* case is ignored; what comes back is the canonical MailboxId */
	url(f, MH_NSPI_GET_MAILBOX_URL,
	    DN_PREFIX "/cn=Configuration/cn=Servers/cn=EB113C0F-3344-86E1-AD16-C68CF5C1BE62"
	              "@CONTOSO.TEST",
	    0, bob_url);
	/* not a server DN (a user DN), an unknown mailbox, a foreign organisation */
	url(f, MH_NSPI_GET_MAILBOX_URL, BOB_DN, (uint32_t)MAPI_E_NOT_FOUND, "");
	url(f, MH_NSPI_GET_MAILBOX_URL,
	    DN_PREFIX "/cn=Configuration/cn=Servers/cn=00000000-0000-0000-0000-000000000000"
	              "@contoso.test",
	    (uint32_t)MAPI_E_NOT_FOUND, "");
	url(f, MH_NSPI_GET_MAILBOX_URL, BOB_SERVER_DN "/cn=Other", (uint32_t)MAPI_E_NOT_FOUND, "");
	url(f, MH_NSPI_GET_MAILBOX_URL, "/o=Fabrikam/cn=Configuration", (uint32_t)MAPI_E_NOT_FOUND,
	    "");

	url(f, MH_NSPI_GET_ADDRESS_BOOK_URL, BOB_DN, 0,
	    BASE_URL "/mapi/nspi/?MailboxId=" BOB_GUID "@contoso.test");
	url(f, MH_NSPI_GET_ADDRESS_BOOK_URL, "", 0,
	    BASE_URL "/mapi/nspi/?MailboxId=" ALICE_ID "@contoso.test");
	url(f, MH_NSPI_GET_ADDRESS_BOOK_URL, DN_PREFIX "/cn=Recipients/cn=nobody",
	    (uint32_t)MAPI_E_NOT_FOUND, "");
}

/* ---- bad input ---------------------------------------------------------------------------- */

static void test_server_nspi__bad_input(void **state)
{
	fixture *f = *state;
	const char *names[] = {"bob", "alice@contoso.test"};
	mh_nspi_request req;
	mh_nspi_response resp;
	mh_buf q = MH_BUF_INIT;
	uint8_t *copy;
	uint32_t rc;
	uint64_t rng = 42;

	do_bind(f);
	resolve_req(&req, tags(&f->a, 10, bob_tags), 2, names);
	assert_int_equal(mh_nspi_request_push(&q, &req), S_OK);

	/* every truncation (the empty body included) is an invalid request body */
	for (size_t n = 0; n < q.len; n++) {
		mh_buf p = MH_BUF_INIT;
		copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, q.data, n);
		assert_int_not_equal(
		    mh_srv_nspi_handle_body(&f->ctx, f->st, "ResolveNames", copy, n, &p, &rc, NULL),
		    S_OK);
		assert_int_equal(rc, MH_SRV_NSPI_RC_INVALID_REQUEST_BODY);
		assert_int_equal(p.len, 0);
		free(copy);
		mh_buf_free(&p);
	}
	/* bytes after the auxiliary buffer */
	{
		mh_buf p = MH_BUF_INIT;
		copy = malloc(q.len + 1);
		assert_non_null(copy);
		memcpy(copy, q.data, q.len);
		copy[q.len] = 0;
		mh_srv_nspi_handle_body(&f->ctx, f->st, "ResolveNames", copy, q.len + 1, &p, &rc,
		                        NULL);
		assert_int_equal(rc, MH_SRV_NSPI_RC_INVALID_REQUEST_BODY);
		free(copy);
		mh_buf_free(&p);
	}
	/* random bit flips: any answer, never a crash or a leak */
	for (int i = 0; i < 2000; i++) {
		mh_buf p = MH_BUF_INIT;
		copy = malloc(q.len);
		assert_non_null(copy);
		memcpy(copy, q.data, q.len);
		for (int k = 0; k < 3; k++) {
			uint64_t r = mh_test_rng_next(&rng);
			copy[r % q.len] ^= (uint8_t)(1u << ((r >> 32) % 8));
		}
		mh_srv_nspi_handle_body(&f->ctx, f->st, "ResolveNames", copy, q.len, &p, &rc, NULL);
		assert_true(rc == 0 || rc == MH_SRV_NSPI_RC_INVALID_REQUEST_BODY ||
		            rc == MH_SRV_NSPI_RC_TOO_LARGE);
		free(copy);
		mh_buf_free(&p);
	}
	/* unknown and unsupported request types */
	{
		mh_buf p = MH_BUF_INIT;
		assert_int_equal(mh_srv_nspi_handle_body(&f->ctx, f->st, "Frobnicate", q.data,
		                                         q.len, &p, &rc, NULL),
		                 MAPI_E_NO_SUPPORT);
		assert_int_equal(rc, MH_SRV_NSPI_RC_INVALID_REQUEST_TYPE);
		assert_int_equal(p.len, 0);
		mh_buf_free(&p);
	}
	memset(&req, 0, sizeof(req));
	req.kind = MH_NSPI_QUERY_COLUMNS;
	run(f, &req, 0, &resp);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_NO_SUPPORT);
	assert_false(resp.u.query_columns.has_columns);

	/* too many names */
	f->ctx.max_names = 1;
	resolve_req(&req, NULL, 2, names);
	run(f, &req, 0, &resp);
	assert_int_equal(resp.error_code, (uint32_t)MAPI_E_TOO_BIG);
	assert_false(resp.u.resolve_names.has_mids);
	mh_buf_free(&q);
}

/* ---- same structure as a real server ------------------------------------------------------ */

typedef struct capture {
	uint8_t *req, *resp;
	size_t req_len, resp_len;
} capture;

static void load_capture(const char *name, capture *cap)
{
	char path[256];
	snprintf(path, sizeof(path), GROMOX_DIR "%s.req.hex", name);
	cap->req = mh_vector_read_hex(path, &cap->req_len);
	snprintf(path, sizeof(path), GROMOX_DIR "%s.resp-body.hex", name);
	cap->resp = mh_vector_read_hex(path, &cap->resp_len);
	assert_non_null(cap->req);
	assert_non_null(cap->resp);
}

/* The gromox request decoded, and its answer; the caller adapts names to the sample. */
static void gromox(fixture *f, const char *name, mh_nspi_kind k, unsigned flags,
                   mh_nspi_request *req, mh_nspi_response *theirs)
{
	capture cap;
	mh_cursor c;
	load_capture(name, &cap);
	mh_cursor_init(&c, cap.req, cap.req_len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_nspi_request_pull(&c, &f->a, k, req), S_OK);
	mh_cursor_init(&c, cap.resp, cap.resp_len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_nspi_response_pull(&c, &f->a, k, flags, theirs), S_OK);
	free(cap.req);
	free(cap.resp);
}

static void assert_same_rowsets(const mh_nspi_rowset *x, const mh_nspi_rowset *y)
{
	assert_int_equal(x->columns->cValues, y->columns->cValues);
	assert_memory_equal(x->columns->aulPropTag, y->columns->aulPropTag,
	                    x->columns->cValues * 4);
	assert_int_equal(x->count, y->count);
	for (uint32_t i = 0; i < x->count; i++) {
		assert_int_equal(x->rows[i].flag, y->rows[i].flag);
		for (uint32_t j = 0; j < x->rows[i].cValues; j++)
			assert_int_equal(PROP_TYPE(x->rows[i].lpProps[j].ulPropTag) == PT_ERROR,
			                 PROP_TYPE(y->rows[i].lpProps[j].ulPropTag) == PT_ERROR);
	}
}

static void test_server_nspi__gromox_structure(void **state)
{
	fixture *f = *state;
	mh_nspi_request req;
	mh_nspi_response theirs, ours;
	const char *two[] = {"bob@contoso.test"};
	const char *three[] = {"nobody@contoso.test", "bob@contoso.test", "alice"};
	const char *dn[] = {BOB_DN};

	gromox(f, "nspi_01_bind", MH_NSPI_BIND, 0, &req, &theirs);
	run(f, &req, 0, &ours);
	assert_int_equal(ours.error_code, theirs.error_code);

	/* ResolveNames: one known name; then unknown, known, alias */
	gromox(f, "nspi_02_resolvenames_bob", MH_NSPI_RESOLVE_NAMES, 0, &req, &theirs);
	req.u.resolve_names.names.values = (char **)(uintptr_t)two;
	run(f, &req, 0, &ours);
	assert_int_equal(ours.error_code, theirs.error_code);
	assert_int_equal(ours.u.resolve_names.has_mids, theirs.u.resolve_names.has_mids);
	assert_int_equal(ours.u.resolve_names.mids.count, theirs.u.resolve_names.mids.count);
	assert_int_equal(ours.u.resolve_names.has_rows, theirs.u.resolve_names.has_rows);
	assert_same_rowsets(&ours.u.resolve_names.rows, &theirs.u.resolve_names.rows);

	gromox(f, "nspi_03_resolvenames_unknown", MH_NSPI_RESOLVE_NAMES, 0, &req, &theirs);
	req.u.resolve_names.names.values = (char **)(uintptr_t)three; /* first name only */
	run(f, &req, 0, &ours);
	assert_int_equal(ours.u.resolve_names.has_rows, theirs.u.resolve_names.has_rows);
	assert_same_rowsets(&ours.u.resolve_names.rows, &theirs.u.resolve_names.rows);
	/* gromox answers 1 (ambiguous) for no match; the specification says 0 */
	assert_int_equal(theirs.u.resolve_names.mids.mids[0], MH_NSPI_MID_AMBIGUOUS);
	assert_int_equal(ours.u.resolve_names.mids.mids[0], MH_NSPI_MID_UNRESOLVED);

	gromox(f, "nspi_04_resolvenames_mixed", MH_NSPI_RESOLVE_NAMES, 0, &req, &theirs);
	req.u.resolve_names.names.values = (char **)(uintptr_t)three;
	run(f, &req, 0, &ours);
	assert_int_equal(ours.u.resolve_names.mids.count, 3);
	assert_int_equal(ours.u.resolve_names.mids.mids[1], theirs.u.resolve_names.mids.mids[1]);
	assert_int_equal(ours.u.resolve_names.mids.mids[2], theirs.u.resolve_names.mids.mids[2]);
	assert_same_rowsets(&ours.u.resolve_names.rows, &theirs.u.resolve_names.rows);

	/* DNToMId, then GetProps on the MId with the same ten tags */
	gromox(f, "nspi_05_dntomid_bob", MH_NSPI_DN_TO_MID, 0, &req, &theirs);
	req.u.dn_to_mid.names.values = (char **)(uintptr_t)dn;
	run(f, &req, 0, &ours);
	assert_int_equal(ours.u.dn_to_mid.has_mids, theirs.u.dn_to_mid.has_mids);
	assert_int_equal(ours.u.dn_to_mid.mids.count, theirs.u.dn_to_mid.mids.count);
	assert_true(ours.u.dn_to_mid.mids.mids[0] >= 0x10);
	{
		uint32_t bob = ours.u.dn_to_mid.mids.mids[0];
		gromox(f, "nspi_06_getprops_bob", MH_NSPI_GET_PROPS, 0, &req, &theirs);
		req.u.get_props.state.cur_rec = bob;
		run(f, &req, 0, &ours);
		assert_int_equal(ours.error_code, theirs.error_code); /* ErrorsReturned */
		assert_int_equal(ours.u.get_props.codepage, theirs.u.get_props.codepage);
		assert_int_equal(ours.u.get_props.has_values, theirs.u.get_props.has_values);
		assert_int_equal(ours.u.get_props.values.count, theirs.u.get_props.values.count);
		for (uint32_t i = 0; i < ours.u.get_props.values.count; i++)
			assert_int_equal(ours.u.get_props.values.props[i].ulPropTag,
			                 theirs.u.get_props.values.props[i].ulPropTag);
	}

	/* GetSpecialTable: gromox adds a per-domain container; the GAL row is the same */
	gromox(f, "nspi_07_getspecialtable", MH_NSPI_GET_SPECIAL_TABLE, 0, &req, &theirs);
	run(f, &req, 0, &ours);
	assert_int_equal(ours.error_code, theirs.error_code);
	assert_int_equal(ours.u.get_special_table.has_version,
	                 theirs.u.get_special_table.has_version);
	assert_int_equal(ours.u.get_special_table.has_rows, theirs.u.get_special_table.has_rows);
	assert_int_equal(ours.u.get_special_table.rows[0].count,
	                 theirs.u.get_special_table.rows[0].count);
	for (uint32_t i = 0; i < ours.u.get_special_table.rows[0].count; i++)
		assert_int_equal(ours.u.get_special_table.rows[0].props[i].ulPropTag,
		                 theirs.u.get_special_table.rows[0].props[i].ulPropTag);

	/* GetMailboxUrl with a server DN and an MDB DN */
	gromox(f, "nspi_10_getmailboxurl_bob_serverdn", MH_NSPI_GET_MAILBOX_URL, 0, &req, &theirs);
	req.u.get_url.dn = (char *)(uintptr_t)BOB_SERVER_DN;
	run(f, &req, 0, &ours);
	assert_int_equal(ours.error_code, theirs.error_code);
	assert_non_null(strstr(theirs.u.get_url.server_url, "/mapi/emsmdb/?MailboxId="));
	assert_non_null(strstr(ours.u.get_url.server_url, "/mapi/emsmdb/?MailboxId=" BOB_GUID));
	gromox(f, "nspi_09_getmailboxurl_bob_homemdb", MH_NSPI_GET_MAILBOX_URL, 0, &req, &theirs);
	req.u.get_url.dn = (char *)(uintptr_t)BOB_MDB_DN;
	run(f, &req, 0, &ours);
	assert_int_equal(ours.error_code, theirs.error_code);
	assert_non_null(strstr(ours.u.get_url.server_url, "/mapi/emsmdb/?MailboxId=" BOB_GUID));

	/* CompareMIds (gromox writes Result first; both decode to the same fields) */
	gromox(f, "nspi_11_comparemids", MH_NSPI_COMPARE_MIDS, MH_NSPI_PULL_CMP_GROMOX, &req,
	       &theirs);
	req.u.compare_mids.mid1 = dn_to_mid(f, BOB_DN);
	req.u.compare_mids.mid2 = dn_to_mid(f, ALICE_DN);
	run(f, &req, 0, &ours);
	assert_int_equal(ours.error_code, theirs.error_code);
	assert_true(ours.u.compare_mids.result > 0);
	gromox(f, "nspi_12_comparemids_bad_mid", MH_NSPI_COMPARE_MIDS, MH_NSPI_PULL_CMP_GROMOX,
	       &req, &theirs);
	req.u.compare_mids.mid1 = dn_to_mid(f, BOB_DN);
	run(f, &req, 0, &ours);
	assert_int_equal(ours.error_code, theirs.error_code); /* GeneralFailure */

	gromox(f, "nspi_14_unbind", MH_NSPI_UNBIND, 0, &req, &theirs);
	run(f, &req, 0, &ours);
	assert_int_equal(ours.error_code, theirs.error_code);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_server_nspi__bind_unbind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_nspi__resolve_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_nspi__resolve_names_ambiguous, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_server_nspi__dn_to_mid_get_props, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_nspi__query_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_nspi__get_special_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_nspi__get_matches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_nspi__compare_mids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_nspi__urls, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_nspi__bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_nspi__gromox_structure, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
