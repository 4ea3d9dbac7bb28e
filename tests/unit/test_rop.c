/*
 * ROP codec tests: published and constructed vectors, gromox captures decoded
 * with their request context and re-encoded byte for byte, the unknown-ROP
 * and framing errors, truncations, bit flips, and seeded random round trips
 * of every ROP request and response.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/emsmdb.h"
#include "codec/restriction.h"
#include "codec/rop.h"
#include "codec/rpc_ext.h"
#include "mapihttp/lz77.h"
#include "mapihttp/proptags.h"
#include "mapihttp/status.h"
#include "vectors.h"

#define ROPS_DIR   MH_VECTORS_DIR "/wire/rops/"
#define GROMOX_DIR MH_VECTORS_DIR "/gromox/"

/* ---- helpers ------------------------------------------------------------------------- */

static uint8_t *load(const char *dir, const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s%s", dir, name);
	uint8_t *p = mh_vector_read_hex(path, len);
	if (p == NULL)
		fail_msg("cannot read %s", path);
	return p;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/*
 * The plain ROP bytes of a RopBuffer field (an RPC_HEADER_EXT chain), through
 * the real codec; malloc()ed, NULL with *len 0 when the field is empty.
 */
static uint8_t *rop_payload_at(const uint8_t *data, size_t n, size_t base, size_t *len)
{
	mh_arena a = MH_ARENA_INIT;
	mh_rpc_ext_chain chain;
	uint8_t *out = NULL;
	*len = 0;
	if (n == 0)
		return NULL;
	assert_int_equal(mh_rpc_ext_decode(data, n, base, &a, 0, &chain), S_OK);
	assert_int_equal(chain.n_segs, 1);
	out = malloc(chain.len + 1u);
	assert_non_null(out);
	memcpy(out, chain.data, chain.len);
	*len = chain.len;
	mh_arena_free(&a);
	return out;
}

/* The ROP bytes of a captured Execute request body, decoded by the EMSMDB codec. */
static uint8_t *execute_request_payload(const char *name, size_t *len)
{
	char file[256];
	size_t n;
	mh_arena a = MH_ARENA_INIT;
	mh_cursor c;
	mh_emsmdb_execute_request req;
	snprintf(file, sizeof(file), "%s.req.hex", name);
	uint8_t *body = load(GROMOX_DIR, file, &n);
	mh_cursor_init(&c, body, n, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_emsmdb_execute_request_pull(&c, &a, &req), S_OK);
	uint8_t *p = rop_payload_at(req.rop_buffer.data, req.rop_buffer.len, 8, len);
	mh_arena_free(&a);
	free(body);
	return p;
}

/* The ROP bytes of a captured Execute response body, and its ErrorCode. */
static uint8_t *execute_response_payload(const char *name, size_t *len, uint32_t *error_code)
{
	char file[256];
	size_t n;
	mh_arena a = MH_ARENA_INIT;
	mh_cursor c;
	mh_emsmdb_execute_response resp;
	snprintf(file, sizeof(file), "%s.resp-body.hex", name);
	uint8_t *body = load(GROMOX_DIR, file, &n);
	mh_cursor_init(&c, body, n, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_emsmdb_execute_response_pull(&c, &a, &resp), S_OK);
	assert_int_equal(resp.status_code, 0);
	*error_code = resp.error_code;
	uint8_t *p = rop_payload_at(resp.rop_buffer.data, resp.rop_buffer.len, 16, len);
	mh_arena_free(&a);
	free(body);
	return p;
}

static void assert_bytes(const uint8_t *x, size_t nx, const uint8_t *y, size_t ny)
{
	assert_int_equal(nx, ny);
	if (nx > 0)
		assert_memory_equal(x, y, nx);
}

/* A whole capture decoded: request buffer and response buffer (with the request context). */
typedef struct capture {
	mh_arena a;
	uint8_t *req, *resp;
	size_t req_len, resp_len;
	uint32_t error_code;
	mh_rop_request_buffer rq;
	mh_rop_response_buffer rs;
} capture;

static void capture_load(capture *cp, const char *name)
{
	mh_cursor c;
	memset(cp, 0, sizeof(*cp));
	mh_arena_init(&cp->a, 0);
	cp->req = execute_request_payload(name, &cp->req_len);
	cp->resp = execute_response_payload(name, &cp->resp_len, &cp->error_code);
	mh_cursor_init(&c, cp->req, cp->req_len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_request_buffer_pull(&c, &cp->a, &cp->rq, NULL), S_OK);
	assert_int_equal(mh_cursor_remaining(&c), 0);
	if (cp->resp == NULL)
		return;
	mh_rop_response_ctx ctx = {cp->rq.rops, cp->rq.count, NULL, NULL};
	mh_cursor_init(&c, cp->resp, cp->resp_len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_response_buffer_pull(&c, &cp->a, &ctx, &cp->rs), S_OK);
	assert_false(cp->rs.raw_tail);
}

static void capture_free(capture *cp)
{
	free(cp->req);
	free(cp->resp);
	mh_arena_free(&cp->a);
}

/* Our encoding of what we decoded is the bytes gromox sent. */
static void capture_reencode(const capture *cp)
{
	mh_buf b = MH_BUF_INIT;
	mh_rop_request_buffer_push(&b, &cp->rq);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_bytes(b.data, b.len, cp->req, cp->req_len);
	mh_buf_free(&b);
	if (cp->resp == NULL)
		return;
	mh_rop_response_buffer_push(&b, &cp->rs);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_bytes(b.data, b.len, cp->resp, cp->resp_len);
	mh_buf_free(&b);
}

static mh_status pull_request1(const uint8_t *p, size_t n, mh_arena *a, mh_rop_request *r,
                               size_t *used)
{
	mh_cursor c;
	mh_cursor_init(&c, p, n, MAPI_E_CORRUPT_DATA);
	mh_status st = mh_rop_request_pull(&c, a, r);
	if (used != NULL)
		*used = c.pos;
	return st;
}

static mh_status pull_response1(const uint8_t *p, size_t n, mh_arena *a,
                                const mh_rop_response_hint *hint, mh_rop_response *r, size_t *used)
{
	mh_cursor c;
	mh_cursor_init(&c, p, n, MAPI_E_CORRUPT_DATA);
	mh_status st = mh_rop_response_pull(&c, a, hint, r);
	if (used != NULL)
		*used = c.pos;
	return st;
}

static void request_reencodes(const mh_rop_request *r, const uint8_t *p, size_t n)
{
	mh_buf b = MH_BUF_INIT;
	mh_rop_request_push(&b, r);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_bytes(b.data, b.len, p, n);
	mh_buf_free(&b);
}

static void response_reencodes(const mh_rop_response *r, const uint8_t *p, size_t n)
{
	mh_buf b = MH_BUF_INIT;
	mh_rop_response_push(&b, r);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_bytes(b.data, b.len, p, n);
	mh_buf_free(&b);
}

static const SPropValue *row_prop(const mh_prop_row *row, uint32_t i)
{
	assert_true(i < row->cValues);
	return &row->lpProps[i];
}

static const char *const ESSDN_JANE =
    "/o=First Organization/ou=First Administrative Group/cn=Recipients/cn=janedow";
static const char *const ESSDN_JOHN =
    "/o=First Organization/ou=First Administrative Group/cn=Recipients/cn=johndoe";
static const char *const ALICE_DN = "/o=Gromox default/ou=Exchange Administrative Group "
                                    "(FYDIBOHF23SPDLT)/cn=Recipients/cn=0100000001000000-alice";

/* ---- constructed and published vectors ----------------------------------------------- */

static void test_rop__logon_request_vector(void **state)
{
	(void)state;
	size_t n, used;
	uint8_t *p = load(ROPS_DIR, "roplogon_private_request.hex", &n);
	mh_arena a = MH_ARENA_INIT;
	mh_rop_request r;
	assert_int_equal(pull_request1(p, n, &a, &r, &used), S_OK);
	assert_int_equal(used, n);
	assert_int_equal(r.rop_id, MH_ROP_LOGON);
	assert_int_equal(r.logon_id, 0);
	assert_int_equal(r.out_handle_index, 0);
	assert_int_equal(r.u.logon.logon_flags, MH_LOGON_FLAG_PRIVATE);
	assert_int_equal(r.u.logon.open_flags, 0x0100040Cu);
	assert_int_equal(r.u.logon.store_state, 0);
	assert_string_equal(r.u.logon.essdn, ESSDN_JANE);
	request_reencodes(&r, p, n);
	mh_arena_free(&a);
	free(p);
}

static void test_rop__logon_success_vector(void **state)
{
	(void)state;
	static const uint8_t gc[MH_LOGON_FID_COUNT] = {1,    2,    3,    9,    0x0d, 0x0e, 0x0f,
	                                               0x0a, 0x0b, 0x0c, 0x08, 0x10, 0x11};
	size_t n, used;
	uint8_t *p = load(ROPS_DIR, "roplogon_private_success_response.hex", &n);
	mh_arena a = MH_ARENA_INIT;
	mh_rop_response r;
	assert_int_equal(n, 166);
	assert_int_equal(pull_response1(p, n, &a, NULL, &r, &used), S_OK);
	assert_int_equal(used, n);
	assert_int_equal(r.rop_id, MH_ROP_LOGON);
	assert_int_equal(r.return_value, S_OK);
	assert_true(r.u.logon.is_private);
	assert_int_equal(r.u.logon.logon_flags, 0x01);
	for (unsigned i = 0; i < MH_LOGON_FID_COUNT; i++) {
		assert_int_equal(mh_id_replid(r.u.logon.folder_ids[i]), 1);
		assert_int_equal(mh_id_counter(r.u.logon.folder_ids[i]), gc[i]);
	}
	assert_int_equal(r.u.logon.response_flags, 0x07);
	assert_int_equal(r.u.logon.mailbox_guid.Data1, 0x33221100u);
	assert_int_equal(r.u.logon.mailbox_guid.Data2, 0x5544);
	assert_int_equal(r.u.logon.mailbox_guid.Data4[7], 0xff);
	assert_int_equal(r.u.logon.repl_id, 1);
	assert_int_equal(r.u.logon.repl_guid.Data1, 0xa3a2a1a0u);
	assert_int_equal(r.u.logon.logon_time.seconds, 30);
	assert_int_equal(r.u.logon.logon_time.minutes, 15);
	assert_int_equal(r.u.logon.logon_time.hour, 10);
	assert_int_equal(r.u.logon.logon_time.day_of_week, 3);
	assert_int_equal(r.u.logon.logon_time.day, 25);
	assert_int_equal(r.u.logon.logon_time.month, 11);
	assert_int_equal(r.u.logon.logon_time.year, 2025);
	assert_int_equal(r.u.logon.gwart_time, 0);
	assert_int_equal(r.u.logon.store_state, 0);
	response_reencodes(&r, p, n);
	mh_arena_free(&a);
	free(p);
}

static void test_rop__logon_redirect_and_failure_vectors(void **state)
{
	(void)state;
	size_t n, used;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_response r;
	uint8_t *p = load(ROPS_DIR, "roplogon_redirect_response.hex", &n);
	assert_int_equal(pull_response1(p, n, &a, NULL, &r, &used), S_OK);
	assert_int_equal(used, n);
	assert_int_equal(r.return_value, ecWrongServer);
	assert_int_equal(r.u.logon.logon_flags, 0x01);
	assert_string_equal(r.u.logon.server_name,
	                    "/o=First Organization/ou=Exchange Administrative Group "
	                    "(FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/"
	                    "cn=0e1d2c3b-4a59-6877-8695-a4b3c2d1e0f0@contoso.com");
	assert_int_equal(strlen(r.u.logon.server_name) + 1, 0x99);
	response_reencodes(&r, p, n);
	free(p);

	p = load(ROPS_DIR, "roplogon_failure_unknownuser_response.hex", &n);
	assert_int_equal(pull_response1(p, n, &a, NULL, &r, &used), S_OK);
	assert_int_equal(used, 6);
	assert_int_equal(r.return_value, ecUnknownUser);
	assert_int_equal(r.handle_index, 0);
	response_reencodes(&r, p, n);
	free(p);
	mh_arena_free(&a);
}

/* RopBuffer vector with its RPC_HEADER_EXT: the payload is one input buffer. */
static void test_rop__input_buffer_vectors(void **state)
{
	(void)state;
	size_t n, pl, pl2;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_request_buffer rb;
	mh_rop_pull_info info;
	mh_cursor c;

	uint8_t *raw = load(ROPS_DIR, "rop_input_buffer_roplogon_with_header.hex", &n);
	uint8_t *p = rop_payload_at(raw, n, 0, &pl);
	mh_cursor_init(&c, p, pl, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_request_buffer_pull(&c, &a, &rb, &info), S_OK);
	assert_int_equal(rb.count, 1);
	assert_int_equal(info.index, 1);
	assert_int_equal(info.offset, 0x5d);
	assert_int_equal(rb.handle_count, 1);
	assert_int_equal(rb.handles[0], 0xFFFFFFFFu);
	assert_string_equal(rb.rops[0].u.logon.essdn, ESSDN_JANE);
	mh_buf b = MH_BUF_INIT;
	mh_rop_request_buffer_push(&b, &rb);
	assert_bytes(b.data, b.len, p, pl);
	mh_buf_free(&b);
	free(raw);
	free(p);

	raw = load(ROPS_DIR, "rop_input_buffer_two_logons.hex", &n);
	p = rop_payload_at(raw, n, 0, &pl);
	free(raw);
	raw = load(ROPS_DIR, "rop_input_buffer_two_logons_compressed_xored.hex", &n);
	uint8_t *p2 = rop_payload_at(raw, n, 0, &pl2);
	assert_bytes(p, pl, p2, pl2);
	mh_cursor_init(&c, p2, pl2, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_request_buffer_pull(&c, &a, &rb, NULL), S_OK);
	assert_int_equal(rb.count, 2);
	assert_int_equal(rb.handle_count, 2);
	assert_int_equal(rb.rops[0].logon_id, 0);
	assert_int_equal(rb.rops[0].out_handle_index, 0);
	assert_string_equal(rb.rops[0].u.logon.essdn, ESSDN_JANE);
	assert_int_equal(rb.rops[1].logon_id, 1);
	assert_int_equal(rb.rops[1].out_handle_index, 1);
	assert_string_equal(rb.rops[1].u.logon.essdn, ESSDN_JOHN);
	mh_rop_request_buffer_push(&b, &rb);
	assert_bytes(b.data, b.len, p, pl);
	mh_buf_free(&b);
	free(raw);
	free(p);
	free(p2);
	mh_arena_free(&a);
}

static void test_rop__chain_request_vector(void **state)
{
	(void)state;
	size_t n, pl;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_request_buffer rb;
	mh_cursor c;
	uint8_t *raw =
	    load(ROPS_DIR, "chain_openfolder_hierarchy_setcolumns_queryrows_request.hex", &n);
	uint8_t *p = rop_payload_at(raw, n, 0, &pl);
	mh_cursor_init(&c, p, pl, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_request_buffer_pull(&c, &a, &rb, NULL), S_OK);
	assert_int_equal(rb.count, 4);
	assert_int_equal(rb.handle_count, 3);
	assert_int_equal(rb.handles[0], 0x42);
	assert_int_equal(rb.handles[1], 0xFFFFFFFFu);
	const mh_rop_request *r = rb.rops;
	assert_int_equal(r[0].rop_id, MH_ROP_OPEN_FOLDER);
	assert_int_equal(r[0].in_handle_index, 0);
	assert_int_equal(r[0].out_handle_index, 1);
	assert_int_equal(mh_id_replid(r[0].u.open_folder.folder_id), 1);
	assert_int_equal(mh_id_counter(r[0].u.open_folder.folder_id), 9);
	assert_int_equal(r[0].u.open_folder.open_mode_flags, 0);
	assert_int_equal(r[1].rop_id, MH_ROP_GET_HIERARCHY_TABLE);
	assert_int_equal(r[1].in_handle_index, 1);
	assert_int_equal(r[1].out_handle_index, 2);
	assert_int_equal(r[1].u.get_table.table_flags, 0x40);
	assert_int_equal(r[2].rop_id, MH_ROP_SET_COLUMNS);
	assert_int_equal(r[2].in_handle_index, 2);
	assert_int_equal(r[2].u.set_columns.tags->cValues, 6);
	assert_int_equal(r[2].u.set_columns.tags->aulPropTag[0], 0x67480014u);
	assert_int_equal(r[2].u.set_columns.tags->aulPropTag[5], 0x3613001Fu);
	assert_int_equal(r[3].rop_id, MH_ROP_QUERY_ROWS);
	assert_int_equal(r[3].u.query_rows.flags, 0);
	assert_int_equal(r[3].u.query_rows.forward_read, 1);
	assert_int_equal(r[3].u.query_rows.row_count, 100);
	mh_buf b = MH_BUF_INIT;
	mh_rop_request_buffer_push(&b, &rb);
	assert_bytes(b.data, b.len, p, pl);
	mh_buf_free(&b);
	free(raw);
	free(p);
	mh_arena_free(&a);
}

static void test_rop__published_table_vectors(void **state)
{
	(void)state;
	size_t n, used;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_request q;
	mh_rop_response r;

	uint8_t *p = load(ROPS_DIR, "msoxctabl_4.5.3.1_ropqueryrows_request.hex", &n);
	assert_int_equal(pull_request1(p, n, &a, &q, &used), S_OK);
	assert_int_equal(used, n);
	assert_int_equal(q.rop_id, MH_ROP_QUERY_ROWS);
	assert_int_equal(q.u.query_rows.forward_read, 1);
	assert_int_equal(q.u.query_rows.row_count, 0x32);
	request_reencodes(&q, p, n);
	free(p);

	static const struct {
		const char *file;
		uint8_t id, index;
	} small[] = {
	    {"msoxctabl_4.3.2_ropsorttable_response.hex", MH_ROP_SORT_TABLE, 1},
	    {"msoxorule_4.2.2_ropgetrulestable_response.hex", MH_ROP_GET_RULES_TABLE, 1},
	    {"msoxorule_4.2.2_ropsetcolumns_response.hex", MH_ROP_SET_COLUMNS, 1},
	};
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		p = load(ROPS_DIR, small[i].file, &n);
		assert_int_equal(pull_response1(p, n, &a, NULL, &r, &used), S_OK);
		assert_int_equal(used, n);
		assert_int_equal(r.rop_id, small[i].id);
		assert_int_equal(r.handle_index, small[i].index);
		assert_int_equal(r.return_value, S_OK);
		if (small[i].id != MH_ROP_GET_RULES_TABLE)
			assert_int_equal(r.u.table_status.table_status, 0);
		response_reencodes(&r, p, n);
		free(p);
	}
	mh_arena_free(&a);
}

static void test_rop__msoxorule_queryrows_response(void **state)
{
	(void)state;
	size_t n, used;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_response r;
	uint8_t *p = load(ROPS_DIR, "msoxorule_4.2.2_ropqueryrows_response.hex", &n);
	SPropTagArray *cols = malloc(CbNewSPropTagArray(3));
	assert_non_null(cols);
	cols->cValues = 3;
	cols->aulPropTag[0] = 0x66740014u; /* PidTagRuleId */
	cols->aulPropTag[1] = 0x66840102u; /* PidTagRuleProviderData */
	cols->aulPropTag[2] = 0x6682001Fu; /* PidTagRuleName */
	mh_rop_response_hint hint = {NULL, cols};

	assert_int_equal(pull_response1(p, n, &a, &hint, &r, &used), S_OK);
	assert_int_equal(used, n);
	assert_int_equal(r.u.query_rows.origin, 2);
	assert_int_equal(r.u.query_rows.row_count, 1);
	assert_non_null(r.u.query_rows.columns);
	assert_ptr_not_equal(r.u.query_rows.columns, cols); /* copied into the arena */
	const mh_prop_row *row = &r.u.query_rows.rows[0];
	assert_int_equal(row->flag, 0);
	assert_int_equal(row_prop(row, 0)->Value.li, 0x56F83F0100000001LL);
	assert_int_equal(row_prop(row, 1)->Value.bin.cb, 16);
	assert_int_equal(row_prop(row, 1)->Value.bin.lpb[15], 0x40);
	assert_string_equal(row_prop(row, 2)->Value.lpszW, "Project X");
	response_reencodes(&r, p, n);

	/* Without the columns the row data stays raw and can be decoded later. */
	mh_rop_response raw;
	assert_int_equal(pull_response1(p, n, &a, NULL, &raw, &used), S_OK);
	assert_int_equal(used, n);
	assert_null(raw.u.query_rows.columns);
	assert_int_equal(raw.u.query_rows.raw.cb, n - 9);
	response_reencodes(&raw, p, n);
	mh_prop_row *rows;
	size_t consumed;
	assert_int_equal(mh_rop_rows_decode(&a, &raw.u.query_rows.raw, raw.u.query_rows.row_count,
	                                    cols, &rows, &consumed),
	                 S_OK);
	assert_int_equal(consumed, n - 9);
	assert_string_equal(rows[0].lpProps[2].Value.lpszW, "Project X");
	assert_int_equal(mh_rop_rows_decode(&a, &raw.u.query_rows.raw, 2, cols, &rows, &consumed),
	                 MAPI_E_CORRUPT_DATA);
	free(cols);
	free(p);
	mh_arena_free(&a);
}

/* ---- gromox captures ----------------------------------------------------------------- */

static void test_rop__gromox_logon_alice(void **state)
{
	(void)state;
	static const uint8_t gc[MH_LOGON_FID_COUNT] = {0x01, 0x02, 0x03, 0x09, 0x0d, 0x0c, 0x0a,
	                                               0x0b, 0x07, 0x08, 0x05, 0x06, 0x04};
	capture cp;
	capture_load(&cp, "emsmdb_alice_02_execute_logon");
	assert_int_equal(cp.error_code, 0);
	assert_int_equal(cp.rq.count, 1);
	const mh_rop_request *q = &cp.rq.rops[0];
	assert_int_equal(q->u.logon.open_flags, 0x0100040Cu);
	assert_string_equal(q->u.logon.essdn, ALICE_DN);
	assert_int_equal(cp.rq.handle_count, 1);
	assert_int_equal(cp.rq.handles[0], 0xFFFFFFFFu);

	assert_int_equal(cp.rs.count, 1);
	const mh_rop_response *r = &cp.rs.rops[0];
	assert_int_equal(r->rop_id, MH_ROP_LOGON);
	assert_int_equal(r->return_value, S_OK);
	assert_true(r->u.logon.is_private);
	for (unsigned i = 0; i < MH_LOGON_FID_COUNT; i++) {
		assert_int_equal(mh_id_replid(r->u.logon.folder_ids[i]), 1);
		assert_int_equal(mh_id_counter(r->u.logon.folder_ids[i]), gc[i]);
	}
	assert_int_equal(r->u.logon.response_flags, 0x07); /* Reserved|OwnerRight|SendAsRight */
	assert_int_equal(r->u.logon.mailbox_guid.Data1, 0x3ec0853au);
	assert_int_equal(r->u.logon.repl_id, 5);
	assert_int_equal(r->u.logon.repl_guid.Data1, 0x69de02bcu);
	assert_int_equal(r->u.logon.logon_time.year, 2026);
	assert_int_equal(r->u.logon.logon_time.month, 11);
	assert_int_equal(r->u.logon.logon_time.day, 25);
	assert_int_equal(r->u.logon.logon_time.hour, 11);
	assert_int_equal(r->u.logon.gwart_time, 0x01DD7CCCBEF6C980ULL);
	assert_int_equal(cp.rs.handle_count, 1);
	assert_int_equal(cp.rs.handles[0], 0);
	capture_reencode(&cp);
	capture_free(&cp);
}

static void test_rop__gromox_logon_others(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		uint8_t logon_id;
		mh_status rv;
		uint8_t response_flags; /* success only */
		mh_status open_folder;  /* second ROP, 1 = none */
	} cases[] = {
	    {"emsmdb_alice_12_execute_logon_bob_on_own_session", 1, S_OK, 0x01, ecNotFound},
	    {"emsmdb_alice_13_execute_logon_unknown_essdn", 2, ecNotFound, 0, 1},
	    {"emsmdb_alice_14_execute_logon_without_per_mdb_flag", 3, ecInvalidParameter, 0, 1},
	    {"spoke_alice_bob_02_execute_logon", 0, S_OK, 0x01, ecNotFound},
	    {"spoke_svc_bob_02_execute_logon", 0, S_OK, 0x07, 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		capture cp;
		capture_load(&cp, cases[i].name);
		assert_int_equal(cp.rq.rops[0].logon_id, cases[i].logon_id);
		const mh_rop_response *r = &cp.rs.rops[0];
		assert_int_equal(r->rop_id, MH_ROP_LOGON);
		assert_int_equal(r->return_value, cases[i].rv);
		if (cases[i].rv == S_OK) {
			assert_true(r->u.logon.is_private);
			assert_int_equal(r->u.logon.response_flags, cases[i].response_flags);
			assert_int_equal(mh_id_counter(r->u.logon.folder_ids[MH_LOGON_FID_INBOX]),
			                 0x0d);
		} else {
			assert_int_equal(cp.rs.handles[0], 0xFFFFFFFFu);
		}
		if (cases[i].open_folder != 1) {
			assert_int_equal(cp.rs.count, 2);
			assert_int_equal(cp.rq.rops[1].rop_id, MH_ROP_OPEN_FOLDER);
			assert_int_equal(mh_id_counter(cp.rq.rops[1].u.open_folder.folder_id),
			                 0x0d);
			assert_int_equal(cp.rs.rops[1].return_value, cases[i].open_folder);
		} else {
			assert_int_equal(cp.rs.count, 1);
		}
		capture_reencode(&cp);
		capture_free(&cp);
	}

	/* gromox loses the redirect while encoding it: no RopBuffer at all. */
	capture cp;
	capture_load(&cp, "emsmdb_alice_15_execute_logon_alternate_server");
	assert_int_equal(cp.error_code, (uint32_t)ecRpcFailed);
	assert_null(cp.resp);
	assert_int_equal(cp.rq.rops[0].u.logon.open_flags, 0x0100050Cu);
	capture_reencode(&cp);
	capture_free(&cp);
}

static void check_hierarchy_row(const mh_prop_row *row, const char *name, uint64_t counter)
{
	assert_int_equal(row->flag, 0);
	assert_int_equal(row->cValues, 4);
	assert_int_equal(row_prop(row, 0)->ulPropTag, 0x3001001Fu);
	assert_string_equal(row_prop(row, 0)->Value.lpszW, name);
	assert_int_equal(row_prop(row, 1)->ulPropTag, 0x67480014u);
	assert_int_equal(mh_id_replid((uint64_t)row_prop(row, 1)->Value.li), 1);
	assert_int_equal(mh_id_counter((uint64_t)row_prop(row, 1)->Value.li), counter);
}

static void test_rop__gromox_hierarchy_tables(void **state)
{
	(void)state;
	static const char *const names[13] = {"Sent Items",
	                                      "Deleted Items",
	                                      "Outbox",
	                                      "Inbox",
	                                      "Drafts",
	                                      "Calendar",
	                                      "Journal",
	                                      "Notes",
	                                      "Tasks",
	                                      "Contacts",
	                                      "Junk Email",
	                                      "Sync Issues",
	                                      "Conversation Action Settings"};
	static const uint8_t counters[13] = {0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
	                                     0x11, 0x12, 0x13, 0x17, 0x19, 0x1d};
	static const struct {
		const char *name;
		uint32_t table_rows; /* GetHierarchyTable RowCount */
		uint16_t rows;       /* QueryRows RowCount */
		uint8_t origin;
	} cases[] = {
	    {"emsmdb_alice_03_execute_inbox_hierarchy", 0, 0, 2},
	    {"emsmdb_alice_04_execute_ipmsubtree_hierarchy", 13, 13, 2},
	    {"emsmdb_alice_11_execute_queryrows_partial", 13, 10, 1},
	    {"spoke_svc_bob_03_execute_inbox_hierarchy", 1, 1, 2},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		capture cp;
		capture_load(&cp, cases[i].name);
		assert_int_equal(cp.rs.count, 4);
		const mh_rop_response *r = cp.rs.rops;
		assert_int_equal(r[0].rop_id, MH_ROP_OPEN_FOLDER);
		assert_int_equal(r[0].handle_index, 1);
		assert_int_equal(r[0].u.open_folder.is_ghosted, 0);
		assert_int_equal(r[1].rop_id, MH_ROP_GET_HIERARCHY_TABLE);
		assert_int_equal(r[1].u.get_table.row_count, cases[i].table_rows);
		assert_int_equal(r[2].rop_id, MH_ROP_SET_COLUMNS);
		assert_int_equal(r[3].rop_id, MH_ROP_QUERY_ROWS);
		assert_int_equal(r[3].u.query_rows.origin, cases[i].origin);
		assert_int_equal(r[3].u.query_rows.row_count, cases[i].rows);
		assert_non_null(r[3].u.query_rows.columns);
		assert_int_equal(r[3].u.query_rows.columns->cValues, 4);
		assert_int_equal(r[3].u.query_rows.columns->aulPropTag[3], 0x66380003u);
		if (i == 3) {
			check_hierarchy_row(&r[3].u.query_rows.rows[0], "Projects", 0x1d0000);
		} else {
			for (unsigned k = 0; k < cases[i].rows; k++)
				check_hierarchy_row(&r[3].u.query_rows.rows[k], names[k],
				                    counters[k]);
		}
		if (i == 1) {
			/* Inbox has 3 messages; Contacts and Sync Issues 3 child folders. */
			assert_int_equal(row_prop(&r[3].u.query_rows.rows[3], 2)->Value.l, 3);
			assert_int_equal(row_prop(&r[3].u.query_rows.rows[9], 3)->Value.l, 3);
		}
		capture_reencode(&cp);
		capture_free(&cp);
	}
}

static void test_rop__gromox_contents_tables(void **state)
{
	(void)state;
	static const char *const alice[] = {"Welcome to example.test", "Meeting notes 2026-11-24",
	                                    "Password expiry reminder"};
	static const char *const bob[] = {"Interop seed message",
	                                  "Quarterly report draft",
	                                  "Lunch on Friday?",
	                                  "Build server maintenance window",
	                                  "Re: MAPI/HTTP interop notes",
	                                  "Invoice 2026-117"};
	static const struct {
		const char *name;
		const char *const *subjects;
		uint16_t rows;
		int32_t size0;
	} cases[] = {
	    {"emsmdb_alice_05_execute_inbox_contents", alice, 3, 2729},
	    {"spoke_svc_bob_04_execute_inbox_contents", bob, 6, 2680},
	};
	for (size_t i = 0; i < 2; i++) {
		capture cp;
		capture_load(&cp, cases[i].name);
		assert_int_equal(cp.rs.count, 3); /* the trailing RopRelease has no response */
		const mh_rop_response *r = cp.rs.rops;
		assert_int_equal(r[0].rop_id, MH_ROP_GET_CONTENTS_TABLE);
		assert_int_equal(r[0].u.get_table.row_count, cases[i].rows);
		assert_int_equal(r[2].u.query_rows.row_count, cases[i].rows);
		for (unsigned k = 0; k < cases[i].rows; k++) {
			const mh_prop_row *row = &r[2].u.query_rows.rows[k];
			assert_string_equal(row_prop(row, 0)->Value.lpszW, cases[i].subjects[k]);
			assert_int_equal(row_prop(row, 2)->ulPropTag, 0x30080040u);
			assert_int_equal(row_prop(row, 2)->Value.ft.dwHighDateTime,
			                 0x01dd7ccbu - (i == 1 && k == 0));
			assert_int_equal(mh_id_counter((uint64_t)row_prop(row, 3)->Value.li),
			                 0x030000u + k);
		}
		assert_int_equal(row_prop(&r[2].u.query_rows.rows[0], 1)->Value.l, cases[i].size0);
		capture_reencode(&cp);
		capture_free(&cp);
	}
}

static void test_rop__gromox_properties(void **state)
{
	(void)state;
	capture cp;

	/* Flagged row: two of three store properties missing. */
	capture_load(&cp, "emsmdb_alice_06_execute_store_props");
	const mh_rop_response *r = &cp.rs.rops[0];
	assert_int_equal(cp.rq.rops[0].u.get_props_specific.want_unicode, 1);
	assert_int_equal(r->u.get_props_specific.row.flag, 1);
	assert_int_equal(r->u.get_props_specific.row.colflags[0], MH_PV_FLAG_ERROR);
	assert_int_equal(row_prop(&r->u.get_props_specific.row, 0)->ulPropTag, 0x3001000Au);
	assert_int_equal(row_prop(&r->u.get_props_specific.row, 0)->Value.err, ecNotFound);
	assert_string_equal(row_prop(&r->u.get_props_specific.row, 1)->Value.lpszW,
	                    "Alice Example");
	capture_reencode(&cp);
	capture_free(&cp);

	capture_load(&cp, "emsmdb_alice_07_execute_store_props_standard_row");
	r = &cp.rs.rops[0];
	assert_int_equal(r->u.get_props_specific.row.flag, 0);
	assert_int_equal(r->u.get_props_specific.row.cValues, 6);
	assert_int_equal(row_prop(&r->u.get_props_specific.row, 1)->Value.bin.cb, 137);
	assert_string_equal(row_prop(&r->u.get_props_specific.row, 4)->Value.lpszW, ALICE_DN);
	assert_int_equal(row_prop(&r->u.get_props_specific.row, 5)->Value.bin.cb, 16);
	capture_reencode(&cp);
	capture_free(&cp);

	capture_load(&cp, "emsmdb_alice_09_execute_flags0_no_compression");
	r = &cp.rs.rops[0];
	assert_int_equal(r->handle_index, 1);
	assert_string_equal(row_prop(&r->u.get_props_specific.row, 0)->Value.lpszW, "Inbox");
	assert_string_equal(row_prop(&r->u.get_props_specific.row, 4)->Value.lpszW, "IPF.Note");
	assert_int_equal(row_prop(&r->u.get_props_specific.row, 6)->Value.bin.cb, 46);
	capture_reencode(&cp);
	capture_free(&cp);

	/* A compressed+XORed request: two GetPropertiesSpecific, matched in order. */
	capture_load(&cp, "emsmdb_alice_10_execute_request_compressed_xor");
	assert_int_equal(cp.rs.count, 2);
	assert_int_equal(cp.rs.rops[0].u.get_props_specific.row.flag, 0);
	assert_int_equal(cp.rs.rops[1].handle_index, 0);
	assert_int_equal(cp.rs.rops[1].u.get_props_specific.row.flag, 1);
	assert_int_equal(cp.rs.rops[1].u.get_props_specific.row.colflags[1], MH_PV_FLAG_VALUE);
	assert_int_equal(row_prop(&cp.rs.rops[1].u.get_props_specific.row, 1)->Value.l, 3);
	capture_free(&cp); /* its request is compressed: bytes differ from our plain push */

	capture_load(&cp, "emsmdb_alice_08_execute_getreceivefolder");
	r = &cp.rs.rops[0];
	assert_string_equal(cp.rq.rops[0].u.get_receive_folder.message_class, "");
	assert_int_equal(mh_id_counter(r->u.get_receive_folder.folder_id), 0x0d);
	assert_string_equal(r->u.get_receive_folder.explicit_message_class, "");
	capture_reencode(&cp);
	capture_free(&cp);
}

static const SPropTagArray *columns_cb(uint8_t logon_id, uint32_t handle, void *payload)
{
	const SPropTagArray **cols = payload;
	check_expected(logon_id);
	check_expected(handle);
	return *cols;
}

/* QueryRows columns from the caller (a table opened in an earlier Execute). */
static void test_rop__columns_from_callback(void **state)
{
	(void)state;
	capture cp;
	capture_load(&cp, "emsmdb_alice_05_execute_inbox_contents");
	const SPropTagArray *cols = cp.rq.rops[1].u.set_columns.tags;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_response_buffer rs;
	mh_cursor c;

	/* Only the QueryRows: columns come from the callback, keyed by the server handle. */
	mh_rop_request only = cp.rq.rops[2];
	mh_rop_response_ctx ctx = {&only, 1, columns_cb, &cols};
	expect_value(columns_cb, logon_id, 0);
	expect_value(columns_cb, handle, 5);
	mh_cursor_init(&c, cp.resp, cp.resp_len, MAPI_E_CORRUPT_DATA);
	/* Without the SetColumns request its columns are not known in-buffer. */
	ctx.requests = &only;
	assert_int_equal(mh_rop_response_buffer_pull(&c, &a, &ctx, &rs), S_OK);
	assert_int_equal(rs.count, 3);
	assert_false(rs.raw_tail);
	assert_string_equal(rs.rops[2].u.query_rows.rows[1].lpProps[0].Value.lpszW,
	                    "Meeting notes 2026-11-24");

	/* No context at all: the row data is kept raw, and decodes later. */
	mh_cursor_init(&c, cp.resp, cp.resp_len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_response_buffer_pull(&c, &a, NULL, &rs), S_OK);
	assert_true(rs.raw_tail);
	assert_null(rs.rops[2].u.query_rows.columns);
	mh_prop_row *rows;
	size_t used;
	assert_int_equal(mh_rop_rows_decode(&a, &rs.rops[2].u.query_rows.raw,
	                                    rs.rops[2].u.query_rows.row_count, cols, &rows, &used),
	                 S_OK);
	assert_int_equal(used, rs.rops[2].u.query_rows.raw.cb);
	assert_string_equal(rows[2].lpProps[0].Value.lpszW, "Password expiry reminder");
	mh_buf b = MH_BUF_INIT;
	mh_rop_response_buffer_push(&b, &rs);
	assert_bytes(b.data, b.len, cp.resp, cp.resp_len);
	mh_buf_free(&b);
	mh_arena_free(&a);
	capture_free(&cp);
}

/* ---- unknown ROPs and framing errors ------------------------------------------------- */

static void test_rop__unknown_request_rop(void **state)
{
	(void)state;
	capture cp;
	memset(&cp, 0, sizeof(cp));
	mh_arena a = MH_ARENA_INIT;
	mh_rop_request_buffer rb;
	mh_rop_pull_info info;
	mh_cursor c;
	uint32_t ec;

	/* gromox capture: RopGetReceiveFolder then 0xB0; gromox failed the Execute (ecRpcFormat).
	 */
	size_t pl, rl;
	uint8_t *p = execute_request_payload("error_execute_unknown_rop", &pl);
	uint8_t *rp = execute_response_payload("error_execute_unknown_rop", &rl, &ec);
	assert_int_equal(ec, (uint32_t)ecRpcFormat);
	assert_null(rp);
	mh_cursor_init(&c, p, pl, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_request_buffer_pull(&c, &a, &rb, &info), MAPI_E_NO_SUPPORT);
	assert_int_equal(info.index, 1);
	assert_int_equal(info.rop_id, 0xB0);
	assert_int_equal(info.offset, 6); /* RopSize(2) + GetReceiveFolder(4) */
	assert_int_equal(rb.count, 1);    /* the ROP before it is usable */
	assert_int_equal(rb.rops[0].rop_id, MH_ROP_GET_RECEIVE_FOLDER);
	assert_int_equal(rb.handle_count, 1);
	assert_int_equal(rb.handles[0], 0);
	assert_non_null(mh_error_last());
	assert_int_equal(mh_error_last()->status, MAPI_E_NO_SUPPORT);
	assert_int_equal(mh_error_last()->offset, 6);
	assert_non_null(strstr(mh_error_last()->message, "0xB0"));
	assert_non_null(strstr(mh_error_last()->message, "ROP #1"));
	free(p);

	/* First ROP unknown; response-only ids (RopNotify among them) are unknown as requests,
	 * and the two ROPs whose length depends on the logon's kind cannot be walked. */
	static const uint8_t ids[] = {
	    0x00, 0x2A, 0xB0, 0x11, 0x64, MH_ROP_BACKOFF, MH_ROP_PENDING, MH_ROP_BUFFER_TOO_SMALL};
	for (size_t i = 0; i < sizeof(ids); i++) {
		uint8_t buf[] = {0x05, 0x00, ids[i], 0x00, 0x00, 0x01, 0x00, 0x00, 0x00};
		mh_cursor_init(&c, buf, sizeof(buf), MAPI_E_CORRUPT_DATA);
		assert_int_equal(mh_rop_request_buffer_pull(&c, &a, &rb, &info), MAPI_E_NO_SUPPORT);
		assert_int_equal(info.index, 0);
		assert_int_equal(info.rop_id, ids[i]);
		assert_int_equal(info.offset, 2);
		assert_int_equal(rb.count, 0);
		assert_int_equal(rb.handle_count, 1);
		/* A single pull consumes nothing. */
		mh_rop_request q;
		size_t used = 99;
		assert_int_equal(pull_request1(buf + 2, 3, &a, &q, &used), MAPI_E_NO_SUPPORT);
		assert_int_equal(used, 0);
	}
	mh_arena_free(&a);
}

static void test_rop__unknown_response_rop(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_response_buffer rs;
	mh_rop_response r;
	mh_cursor c;
	/* A good SetColumns response, then an unknown id. */
	uint8_t buf[] = {0x0f, 0x00, 0x12, 0x01, 0, 0, 0, 0, 0, 0xB0, 0x01, 0, 0, 0, 0};
	mh_cursor_init(&c, buf, sizeof(buf), MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_response_buffer_pull(&c, &a, NULL, &rs), MAPI_E_CORRUPT_DATA);
	assert_int_equal(rs.count, 1);
	assert_int_equal(mh_error_last()->offset, 9);
	assert_non_null(strstr(mh_error_last()->message, "0xB0"));
	/* RopRelease has no response. */
	uint8_t rel[] = {0x01, 0x00, 0, 0, 0, 0};
	assert_int_equal(pull_response1(rel, sizeof(rel), &a, NULL, &r, NULL), MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "no response"));
	mh_arena_free(&a);
}

static void test_rop__framing_errors(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_request_buffer rb;
	mh_rop_response_buffer rs;
	mh_cursor c;
	static const struct {
		uint8_t bytes[12];
		size_t len;
		const char *what;
	} bad[] = {
	    {{0}, 0, "RopSize"},
	    {{0x05}, 1, "RopSize"},
	    {{0x00, 0x00}, 2, "less than 2"},
	    {{0x01, 0x00, 0, 0, 0, 0}, 6, "less than 2"},
	    {{0x09, 0x00, 0x01, 0x00, 0x00}, 5, "past the end"},
	    {{0x05, 0x00, 0x01, 0x00, 0x00, 0xff, 0xff}, 7, "not a multiple of 4"},
	    {{0x04, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff}, 8, "truncated"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mh_cursor_init(&c, bad[i].bytes, bad[i].len, MAPI_E_CORRUPT_DATA);
		assert_int_equal(mh_rop_request_buffer_pull(&c, &a, &rb, NULL),
		                 MAPI_E_CORRUPT_DATA);
		assert_non_null(strstr(mh_error_last()->message, bad[i].what));
		mh_cursor_init(&c, bad[i].bytes, bad[i].len, MAPI_E_CORRUPT_DATA);
		assert_int_equal(mh_rop_response_buffer_pull(&c, &a, NULL, &rs),
		                 MAPI_E_CORRUPT_DATA);
	}
	/* Empty RopsList, empty table: valid. */
	uint8_t empty[] = {0x02, 0x00};
	mh_cursor_init(&c, empty, 2, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_request_buffer_pull(&c, &a, &rb, NULL), S_OK);
	assert_int_equal(rb.count, 0);
	assert_int_equal(rb.handle_count, 0);
	mh_arena_free(&a);
}

/* Essdn and ServerName sizes must match their NUL exactly. */
static void test_rop__sized_strings(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_request q;
	mh_rop_response r;
	uint8_t logon[] = {0xfe, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0x00, 'a', 'b', 0};
	assert_int_equal(pull_request1(logon, sizeof(logon), &a, &q, NULL), S_OK);
	assert_string_equal(q.u.logon.essdn, "ab");
	logon[16] = 'c';
	assert_int_equal(pull_request1(logon, sizeof(logon), &a, &q, NULL), MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "RopLogon.Essdn"));
	logon[15] = 0;
	logon[16] = 0;
	assert_int_equal(pull_request1(logon, sizeof(logon), &a, &q, NULL), MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "before its last byte"));
	logon[12] = 0; /* EssdnSize 0: no Essdn */
	assert_int_equal(pull_request1(logon, 14, &a, &q, NULL), S_OK);
	assert_null(q.u.logon.essdn);
	request_reencodes(&q, logon, 14);

	uint8_t redirect[] = {0xfe, 0, 0x78, 0x04, 0, 0, 1, 0x02, 'x', 'y'};
	assert_int_equal(pull_response1(redirect, sizeof(redirect), &a, NULL, &r, NULL),
	                 MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "RopLogon.ServerName"));
	mh_arena_free(&a);
}

/* The responses without the generic header, RopReadStream's failure form, ghosted folders. */
static void test_rop__special_responses(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_response r;
	size_t used;

	uint8_t too_small[] = {0xff, 0x00, 0x80, 0x07, 0x00, 0x00, 0x00, 0x01, 0x32, 0x00};
	assert_int_equal(pull_response1(too_small, sizeof(too_small), &a, NULL, &r, &used), S_OK);
	assert_int_equal(used, sizeof(too_small));
	assert_int_equal(r.u.buffer_too_small.size_needed, 0x8000);
	assert_int_equal(r.u.buffer_too_small.request_buffers.cb, 7);
	assert_int_equal(r.u.buffer_too_small.request_buffers.lpb[0],
	                 MH_ROP_GET_PROPERTIES_SPECIFIC);
	response_reencodes(&r, too_small, sizeof(too_small));

	uint8_t backoff[] = {0xf9, 0x02, 0xe8, 0x03, 0,    0, 0x02, 0x15, 0x10, 0x27,
	                     0,    0,    0x07, 0x20, 0x4e, 0, 0,    0x01, 0x00, 0xaa};
	assert_int_equal(pull_response1(backoff, sizeof(backoff), &a, NULL, &r, &used), S_OK);
	assert_int_equal(used, sizeof(backoff));
	assert_int_equal(r.u.backoff.logon_id, 2);
	assert_int_equal(r.u.backoff.duration, 1000);
	assert_int_equal(r.u.backoff.rop_count, 2);
	assert_int_equal(r.u.backoff.rops[0].rop_id, MH_ROP_QUERY_ROWS);
	assert_int_equal(r.u.backoff.rops[0].duration, 10000);
	assert_int_equal(r.u.backoff.rops[1].duration, 20000);
	assert_int_equal(r.u.backoff.additional_data.cb, 1);
	response_reencodes(&r, backoff, sizeof(backoff));
	backoff[6] = 0xff; /* BackoffRopCount larger than the bytes left */
	assert_int_equal(pull_response1(backoff, sizeof(backoff), &a, NULL, &r, NULL),
	                 MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "BackoffRopCount"));

	uint8_t pending[] = {0x6e, 0x03, 0x00};
	assert_int_equal(pull_response1(pending, 3, &a, NULL, &r, &used), S_OK);
	assert_int_equal(r.u.pending.session_index, 3);
	assert_int_equal(r.return_value, S_OK);

	/* RopReadStream carries DataSize/Data whatever ReturnValue says. */
	uint8_t rs_fail[] = {0x2c, 0x01, 0x0f, 0x01, 0x04, 0x80, 0x02, 0x00, 'h', 'i'};
	assert_int_equal(pull_response1(rs_fail, sizeof(rs_fail), &a, NULL, &r, &used), S_OK);
	assert_int_equal(used, sizeof(rs_fail));
	assert_int_equal(r.return_value, ecNotFound);
	assert_int_equal(r.u.read_stream.data.cb, 2);
	response_reencodes(&r, rs_fail, sizeof(rs_fail));

	/* Public folder with replicas. */
	uint8_t ghosted[] = {0x02, 0x01, 0,    0,   0, 0,   0x00, 0x01, 0x02,
	                     0x00, 0x01, 0x00, 'a', 0, 'b', 'c',  0};
	assert_int_equal(pull_response1(ghosted, sizeof(ghosted), &a, NULL, &r, &used), S_OK);
	assert_int_equal(used, sizeof(ghosted));
	assert_int_equal(r.u.open_folder.server_count, 2);
	assert_int_equal(r.u.open_folder.cheap_server_count, 1);
	assert_string_equal(r.u.open_folder.servers[1], "bc");
	response_reencodes(&r, ghosted, sizeof(ghosted));
	ghosted[8] = 0xff; /* ServerCount beyond the bytes */
	assert_int_equal(pull_response1(ghosted, sizeof(ghosted), &a, NULL, &r, NULL),
	                 MAPI_E_CORRUPT_DATA);
	mh_arena_free(&a);
}

/*
 * Which fields a failure response carries ([MS-OXCROPS] 2.2.x.y.3 "Failure
 * Response Buffer" of each ROP, wire.md §4.4): RopId, the index byte and
 * ReturnValue only, for every ROP here except RopLogon ecWrongServer
 * (2.2.3.1.3, LogonFlags + ServerName) and RopReadStream, whose single
 * response layout (2.2.9.2.2) always has DataSize + Data. Pull must stop
 * after those 6 bytes even with a request/columns hint, and push must write
 * nothing more whatever the union holds.
 */
static void test_rop__failure_is_header_only(void **state)
{
	(void)state;
	static const uint8_t ids[] = {MH_ROP_LOGON,
	                              MH_ROP_OPEN_FOLDER,
	                              MH_ROP_OPEN_MESSAGE,
	                              MH_ROP_GET_HIERARCHY_TABLE,
	                              MH_ROP_GET_CONTENTS_TABLE,
	                              MH_ROP_GET_PROPERTIES_SPECIFIC,
	                              MH_ROP_GET_PROPERTIES_ALL,
	                              MH_ROP_GET_PROPERTIES_LIST,
	                              MH_ROP_READ_RECIPIENTS,
	                              MH_ROP_SET_COLUMNS,
	                              MH_ROP_SORT_TABLE,
	                              MH_ROP_QUERY_ROWS,
	                              MH_ROP_SEEK_ROW,
	                              MH_ROP_GET_ATTACHMENT_TABLE,
	                              MH_ROP_GET_RECEIVE_FOLDER,
	                              MH_ROP_OPEN_STREAM,
	                              MH_ROP_QUERY_COLUMNS_ALL,
	                              MH_ROP_GET_PERMISSIONS_TABLE,
	                              MH_ROP_GET_RULES_TABLE,
	                              MH_ROP_LONG_TERM_ID_FROM_ID,
	                              MH_ROP_ID_FROM_LONG_TERM_ID,
	                              MH_ROP_RESET_TABLE};
	static const SPropTagArray one_col = {1, {PR_DISPLAY_NAME_W}};
	for (size_t i = 0; i < sizeof(ids); i++) {
		mh_arena a = MH_ARENA_INIT;
		mh_rop_request q;
		mh_rop_response r;
		mh_buf b = MH_BUF_INIT;
		size_t used;
		/* ecNotFound, then bytes a success layout would read as fields. */
		uint8_t wire[] = {ids[i], 0x03, 0x0f, 0x01, 0x04, 0x80, 0x01, 0x01,
		                  0x01,   0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01};
		memset(&q, 0, sizeof(q));
		q.rop_id = ids[i];
		q.in_handle_index = q.out_handle_index = 3;
		q.u.get_props_specific.tags = (SPropTagArray *)(uintptr_t)&one_col;
		mh_rop_response_hint hint = {&q, &one_col};
		if (ids[i] != MH_ROP_GET_PROPERTIES_SPECIFIC)
			hint.request = NULL;
		assert_int_equal(pull_response1(wire, sizeof(wire), &a, &hint, &r, &used), S_OK);
		if (used != 6)
			fail_msg("%s failure response: pull read %zu bytes, want 6",
			         mh_rop_name(ids[i]), used);
		assert_int_equal(r.return_value, ecNotFound);
		assert_int_equal(r.handle_index, 3);
		/* Push with a union full of junk counts: still the header only. */
		memset(&r.u, 0x01, sizeof(r.u));
		mh_rop_response_push(&b, &r);
		assert_int_equal(mh_buf_status(&b), S_OK);
		assert_bytes(b.data, b.len, wire, 6);
		mh_buf_free(&b);
		mh_arena_free(&a);
	}
}

/*
 * Field order and widths of layouts no published vector covers, written
 * out by hand from the [MS-OXCROPS] field tables (section in each comment);
 * a random round trip cannot catch a swapped or mis-sized field.
 */
static void test_rop__spec_layouts(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_request q;
	mh_rop_response r;
	size_t used;

	/* 2.2.6.1.1 RopOpenMessage: CodePageId(2), FolderId(8), OpenModeFlags(1), MessageId(8). */
	static const uint8_t open_msg[] = {0x03, 0x00, 0x01, 0x02, 0xff, 0x0f, 0x01, 0x00,
	                                   0,    0,    0,    0,    0,    0x10, 0x03, 0x01,
	                                   0x00, 0,    0,    0,    0,    0,    0x20};
	assert_int_equal(pull_request1(open_msg, sizeof(open_msg), &a, &q, &used), S_OK);
	assert_int_equal(used, sizeof(open_msg));
	assert_int_equal(q.in_handle_index, 1);
	assert_int_equal(q.out_handle_index, 2);
	assert_int_equal(q.u.open_message.code_page_id, 0x0FFF);
	assert_int_equal(mh_id_counter(q.u.open_message.folder_id), 0x10);
	assert_int_equal(q.u.open_message.open_mode_flags, 0x03);
	assert_int_equal(mh_id_counter(q.u.open_message.message_id), 0x20);
	request_reencodes(&q, open_msg, sizeof(open_msg));

	/* 2.2.6.1.2 RopOpenMessage success: HasNamedProperties(1), SubjectPrefix and
	 * NormalizedSubject (TypedString, [MS-OXCDATA] 2.11.7: StringType 0 none, 1 empty,
	 * 2 8-bit z, 3 reduced Unicode 8-bit z, 4 UTF-16LE z), RecipientCount(2),
	 * ColumnCount(2), RecipientColumns, RowCount(1), OpenRecipientRow{RecipientType(1),
	 * CodePageId(2), Reserved(2), RecipientRowSize(2), RecipientRow}. */
	static const uint8_t open_msg_resp[] = {
	    0x03, 0x02, 0,    0,    0,    0,    0x01, /* header, HasNamedProperties */
	    0x02, 'R',  'E',  ':',  ' ',  0x00,       /* SubjectPrefix 8-bit */
	    0x04, 'H',  0,    'i',  0,    0,    0,    /* NormalizedSubject UTF-16 */
	    0x02, 0x00,                               /* RecipientCount */
	    0x01, 0x00, 0x1f, 0x00, 0x01, 0x30,       /* ColumnCount, PR_DISPLAY_NAME_W */
	    0x01,                                     /* RowCount */
	    0x01, 0xe4, 0x04, 0x00, 0x00, 0x02, 0x00, 0xaa, 0xbb};
	memset(&q, 0, sizeof(q));
	assert_int_equal(pull_response1(open_msg_resp, sizeof(open_msg_resp), &a, NULL, &r, &used),
	                 S_OK);
	assert_int_equal(used, sizeof(open_msg_resp));
	assert_int_equal(r.u.open_message.has_named_properties, 1);
	assert_int_equal(r.u.open_message.subject_prefix.type, MH_TYPED_STRING_8BIT);
	assert_string_equal(r.u.open_message.subject_prefix.value, "RE: ");
	assert_int_equal(r.u.open_message.normalized_subject.type, MH_TYPED_STRING_UNICODE);
	assert_string_equal(r.u.open_message.normalized_subject.value, "Hi");
	assert_int_equal(r.u.open_message.recipient_count, 2);
	assert_int_equal(r.u.open_message.recipient_columns->cValues, 1);
	assert_int_equal(r.u.open_message.recipient_columns->aulPropTag[0], PR_DISPLAY_NAME_W);
	assert_int_equal(r.u.open_message.row_count, 1);
	assert_int_equal(r.u.open_message.rows[0].recipient_type, 1);
	assert_int_equal(r.u.open_message.rows[0].code_page_id, 1252);
	assert_int_equal(r.u.open_message.rows[0].row.cb, 2);
	response_reencodes(&r, open_msg_resp, sizeof(open_msg_resp));
	/* StringType 0 and 1 carry no string; 3 is 8-bit on the wire. */
	static const uint8_t typed[] = {0x03, 0x02, 0,    0,    0,    0,    0x00, 0x00,
	                                0x03, 'a',  0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	assert_int_equal(pull_response1(typed, sizeof(typed), &a, NULL, &r, &used), S_OK);
	assert_int_equal(used, sizeof(typed));
	assert_int_equal(r.u.open_message.subject_prefix.type, MH_TYPED_STRING_NONE);
	assert_null(r.u.open_message.subject_prefix.value);
	assert_int_equal(r.u.open_message.normalized_subject.type, MH_TYPED_STRING_REDUCED);
	assert_string_equal(r.u.open_message.normalized_subject.value, "a");
	response_reencodes(&r, typed, sizeof(typed));

	/* 2.2.3.2 RopGetReceiveFolder: MessageClass (ASCII z); success FolderId(8),
	 * ExplicitMessageClass (ASCII z). */
	static const uint8_t grf[] = {0x27, 0x00, 0x00, 'I', 'P', 'M', 0x00};
	assert_int_equal(pull_request1(grf, sizeof(grf), &a, &q, &used), S_OK);
	assert_int_equal(used, sizeof(grf));
	assert_string_equal(q.u.get_receive_folder.message_class, "IPM");
	request_reencodes(&q, grf, sizeof(grf));
	static const uint8_t grf_resp[] = {0x27, 0x00, 0, 0, 0,    0,   0x01, 0x00, 0,
	                                   0,    0,    0, 0, 0x42, 'I', 'P',  'M',  0x00};
	assert_int_equal(pull_response1(grf_resp, sizeof(grf_resp), &a, NULL, &r, &used), S_OK);
	assert_int_equal(used, sizeof(grf_resp));
	assert_int_equal(mh_id_replid(r.u.get_receive_folder.folder_id), 1);
	assert_int_equal(mh_id_counter(r.u.get_receive_folder.folder_id), 0x42);
	assert_string_equal(r.u.get_receive_folder.explicit_message_class, "IPM");
	response_reencodes(&r, grf_resp, sizeof(grf_resp));

	/* 2.2.5.8 RopSeekRow: Origin(1), RowCount(4, signed), WantRowMovedCount(1);
	 * success HasSoughtLess(1), RowsSought(4, signed). */
	static const uint8_t seek[] = {0x18, 0x00, 0x02, 0x02, 0xfe, 0xff, 0xff, 0xff, 0x01};
	assert_int_equal(pull_request1(seek, sizeof(seek), &a, &q, &used), S_OK);
	assert_int_equal(used, sizeof(seek));
	assert_int_equal(q.in_handle_index, 2);
	assert_int_equal(q.u.seek_row.origin, 2);
	assert_int_equal(q.u.seek_row.row_count, -2);
	assert_int_equal(q.u.seek_row.want_row_moved_count, 1);
	request_reencodes(&q, seek, sizeof(seek));
	static const uint8_t seek_resp[] = {0x18, 0x02, 0, 0, 0, 0, 0x01, 0xff, 0xff, 0xff, 0xff};
	assert_int_equal(pull_response1(seek_resp, sizeof(seek_resp), &a, NULL, &r, &used), S_OK);
	assert_int_equal(used, sizeof(seek_resp));
	assert_int_equal(r.u.seek_row.has_sought_less, 1);
	assert_int_equal(r.u.seek_row.rows_sought, -1);
	response_reencodes(&r, seek_resp, sizeof(seek_resp));

	/* 2.2.9.2.1 RopReadStream: ByteCount(2); MaximumByteCount(4) only when ByteCount is
	 * 0xBABE. */
	static const uint8_t rs_max[] = {0x2c, 0x00, 0x04, 0xbe, 0xba, 0x00, 0x00, 0x01, 0x00};
	assert_int_equal(pull_request1(rs_max, sizeof(rs_max), &a, &q, &used), S_OK);
	assert_int_equal(used, sizeof(rs_max));
	assert_int_equal(q.u.read_stream.byte_count, MH_READ_STREAM_USE_MAX);
	assert_int_equal(q.u.read_stream.maximum_byte_count, 0x10000);
	request_reencodes(&q, rs_max, sizeof(rs_max));
	static const uint8_t rs_plain[] = {0x2c, 0x00, 0x04, 0x00, 0x10, 0xaa};
	assert_int_equal(pull_request1(rs_plain, sizeof(rs_plain), &a, &q, &used), S_OK);
	assert_int_equal(used, 5); /* the 0xaa is not MaximumByteCount */
	assert_int_equal(q.u.read_stream.byte_count, 0x1000);
	request_reencodes(&q, rs_plain, 5);

	/* 2.2.5.1.1 RopSetColumns: SetColumnsFlags(1), PropertyTagCount(2), PropertyTags;
	 * 2.2.5.1.2 success TableStatus(1). */
	static const uint8_t setcols[] = {0x12, 0x00, 0x01, 0x00, 0x02, 0x00, 0x14,
	                                  0x00, 0x48, 0x67, 0x1f, 0x00, 0x01, 0x30};
	assert_int_equal(pull_request1(setcols, sizeof(setcols), &a, &q, &used), S_OK);
	assert_int_equal(used, sizeof(setcols));
	assert_int_equal(q.u.set_columns.flags, 0);
	assert_int_equal(q.u.set_columns.tags->cValues, 2);
	assert_int_equal(q.u.set_columns.tags->aulPropTag[0], 0x67480014u);
	request_reencodes(&q, setcols, sizeof(setcols));
	static const uint8_t setcols_resp[] = {0x12, 0x01, 0, 0, 0, 0, 0x0b};
	assert_int_equal(pull_response1(setcols_resp, sizeof(setcols_resp), &a, NULL, &r, &used),
	                 S_OK);
	assert_int_equal(used, sizeof(setcols_resp));
	assert_int_equal(r.u.table_status.table_status, 0x0b);

	/* 2.2.6.6 RopReadRecipients: RowId(4), Reserved(2); success RowCount(1) then
	 * ReadRecipientRow{RowId(4), RecipientType(1), CodePageId(2), Reserved(2),
	 * RecipientRowSize(2), RecipientRow}. */
	static const uint8_t rr[] = {0x0f, 0x00, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00};
	assert_int_equal(pull_request1(rr, sizeof(rr), &a, &q, &used), S_OK);
	assert_int_equal(used, sizeof(rr));
	assert_int_equal(q.u.read_recipients.row_id, 5);
	static const uint8_t rr_resp[] = {0x0f, 0x01, 0,    0,    0,    0,    0x01,
	                                  0x05, 0x00, 0x00, 0x00, 0x02, 0xb0, 0x04,
	                                  0x00, 0x00, 0x01, 0x00, 0xcc};
	assert_int_equal(pull_response1(rr_resp, sizeof(rr_resp), &a, NULL, &r, &used), S_OK);
	assert_int_equal(used, sizeof(rr_resp));
	assert_int_equal(r.u.read_recipients.rows[0].row_id, 5);
	assert_int_equal(r.u.read_recipients.rows[0].recipient_type, 2);
	assert_int_equal(r.u.read_recipients.rows[0].code_page_id, 1200);
	assert_int_equal(r.u.read_recipients.rows[0].row.lpb[0], 0xcc);
	response_reencodes(&r, rr_resp, sizeof(rr_resp));
	mh_arena_free(&a);
}

static void test_rop__push_errors(void **state)
{
	(void)state;
	mh_buf b = MH_BUF_INIT;
	mh_rop_request q;
	mh_rop_response r;
	memset(&q, 0, sizeof(q));
	memset(&r, 0, sizeof(r));

	q.rop_id = 0xB0;
	mh_rop_request_push(&b, &q);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	b = (mh_buf)MH_BUF_INIT;
	r.rop_id = MH_ROP_RELEASE;
	mh_rop_response_push(&b, &r);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);

	/* ServerName longer than its 1-byte size field. */
	char name[300];
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	b = (mh_buf)MH_BUF_INIT;
	r.rop_id = MH_ROP_LOGON;
	r.return_value = ecWrongServer;
	r.u.logon.server_name = name;
	mh_rop_response_push(&b, &r);
	assert_int_equal(mh_buf_status(&b), MAPI_E_TOO_BIG);
	mh_buf_free(&b);

	/* A RopsList that does not fit RopSize. */
	mh_rop_request *many = calloc(13000, sizeof(*many));
	assert_non_null(many);
	for (size_t i = 0; i < 13000; i++)
		many[i].rop_id = MH_ROP_GET_PROPERTIES_ALL; /* 7 bytes each */
	mh_rop_request_buffer rb = {13000, many, 0, NULL};
	b = (mh_buf)MH_BUF_INIT;
	mh_rop_request_buffer_push(&b, &rb);
	assert_int_equal(mh_buf_status(&b), MAPI_E_TOO_BIG);
	mh_buf_free(&b);
	rb.count = 9362; /* 2 + 9362 * 7 = 65536: one byte too many */
	b = (mh_buf)MH_BUF_INIT;
	mh_rop_request_buffer_push(&b, &rb);
	assert_int_equal(mh_buf_status(&b), MAPI_E_TOO_BIG);
	mh_buf_free(&b);
	rb.count = 9361;
	b = (mh_buf)MH_BUF_INIT;
	mh_rop_request_buffer_push(&b, &rb);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_int_equal(b.len, 65529);
	assert_int_equal(le16(b.data), 65529);
	mh_buf_free(&b);
	free(many);
}

static void test_rop__arena_cap(void **state)
{
	(void)state;
	capture cp;
	capture_load(&cp, "emsmdb_alice_04_execute_ipmsubtree_hierarchy");
	mh_arena a;
	mh_arena_init(&a, 256);
	mh_rop_response_buffer rs;
	mh_rop_response_ctx ctx = {cp.rq.rops, cp.rq.count, NULL, NULL};
	mh_cursor c;
	mh_cursor_init(&c, cp.resp, cp.resp_len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_response_buffer_pull(&c, &a, &ctx, &rs), MAPI_E_TOO_BIG);
	mh_arena_free(&a);
	capture_free(&cp);
}

/* ---- truncations and bit flips ------------------------------------------------------- */

static const char *const captures[] = {
    "emsmdb_alice_02_execute_logon",
    "emsmdb_alice_03_execute_inbox_hierarchy",
    "emsmdb_alice_04_execute_ipmsubtree_hierarchy",
    "emsmdb_alice_05_execute_inbox_contents",
    "emsmdb_alice_06_execute_store_props",
    "emsmdb_alice_07_execute_store_props_standard_row",
    "emsmdb_alice_08_execute_getreceivefolder",
    "emsmdb_alice_09_execute_flags0_no_compression",
    "emsmdb_alice_10_execute_request_compressed_xor",
    "emsmdb_alice_11_execute_queryrows_partial",
    "emsmdb_alice_12_execute_logon_bob_on_own_session",
    "emsmdb_alice_13_execute_logon_unknown_essdn",
    "emsmdb_alice_14_execute_logon_without_per_mdb_flag",
    "spoke_alice_bob_02_execute_logon",
    "spoke_svc_bob_02_execute_logon",
    "spoke_svc_bob_03_execute_inbox_hierarchy",
    "spoke_svc_bob_04_execute_inbox_contents",
};
#define N_CAPTURES (sizeof(captures) / sizeof(captures[0]))

/*
 * Every prefix of a buffer: shorter than RopSize fails; cut inside the
 * handle table it parses exactly when the cut falls on a handle boundary.
 */
static void truncate_buffer(const uint8_t *p, size_t n, const mh_rop_response_ctx *ctx,
                            bool response)
{
	size_t rop_size = le16(p);
	for (size_t len = 0; len < n; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		assert_non_null(copy);
		memcpy(copy, p, len);
		mh_arena a = MH_ARENA_INIT;
		mh_cursor c;
		mh_status st;
		mh_cursor_init(&c, copy, len, MAPI_E_CORRUPT_DATA);
		if (response) {
			mh_rop_response_buffer rs;
			st = mh_rop_response_buffer_pull(&c, &a, ctx, &rs);
		} else {
			mh_rop_request_buffer rb;
			st = mh_rop_request_buffer_pull(&c, &a, &rb, NULL);
		}
		if (len < rop_size || (len - rop_size) % 4 != 0)
			assert_int_equal(st, MAPI_E_CORRUPT_DATA);
		else
			assert_int_equal(st, S_OK);
		if (st != S_OK)
			assert_non_null(mh_error_last());
		mh_arena_free(&a);
		free(copy);
	}
}

/* Every strict prefix of one ROP fails (given the context that fixes its length). */
static void truncate_rops(const capture *cp)
{
	mh_cursor c;
	mh_cursor_init(&c, cp->req + 2, le16(cp->req) - 2u, MAPI_E_CORRUPT_DATA);
	for (uint32_t i = 0; i < cp->rq.count; i++) {
		size_t start = c.pos;
		mh_arena a = MH_ARENA_INIT;
		mh_rop_request q;
		assert_int_equal(mh_rop_request_pull(&c, &a, &q), S_OK);
		for (size_t len = 0; len < c.pos - start; len++) {
			uint8_t *copy = malloc(len ? len : 1);
			assert_non_null(copy);
			memcpy(copy, c.data + start, len);
			assert_int_equal(pull_request1(copy, len, &a, &q, NULL),
			                 MAPI_E_CORRUPT_DATA);
			free(copy);
		}
		mh_arena_free(&a);
	}
	if (cp->resp == NULL)
		return;
	mh_cursor_init(&c, cp->resp + 2, le16(cp->resp) - 2u, MAPI_E_CORRUPT_DATA);
	uint32_t qi = 0;
	for (uint32_t i = 0; i < cp->rs.count; i++) {
		const mh_rop_response *r = &cp->rs.rops[i];
		while (cp->rq.rops[qi].rop_id != r->rop_id)
			qi++;
		mh_rop_response_hint hint = {&cp->rq.rops[qi], NULL};
		if (r->rop_id == MH_ROP_QUERY_ROWS)
			hint.columns = r->u.query_rows.columns;
		qi++;
		size_t start = c.pos;
		mh_arena a = MH_ARENA_INIT;
		mh_rop_response x;
		assert_int_equal(mh_rop_response_pull(&c, &a, &hint, &x), S_OK);
		assert_true(mh_rop_response_equal(&x, r));
		for (size_t len = 0; len < c.pos - start; len++) {
			uint8_t *copy = malloc(len ? len : 1);
			assert_non_null(copy);
			memcpy(copy, c.data + start, len);
			assert_int_equal(pull_response1(copy, len, &a, &hint, &x, NULL),
			                 MAPI_E_CORRUPT_DATA);
			free(copy);
		}
		mh_arena_free(&a);
	}
}

static void test_rop__truncations(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_CAPTURES; i++) {
		capture cp;
		capture_load(&cp, captures[i]);
		truncate_buffer(cp.req, cp.req_len, NULL, false);
		if (cp.resp != NULL) {
			mh_rop_response_ctx ctx = {cp.rq.rops, cp.rq.count, NULL, NULL};
			truncate_buffer(cp.resp, cp.resp_len, &ctx, true);
		}
		truncate_rops(&cp);
		capture_free(&cp);
	}
	/* The single-ROP vectors. */
	static const char *const singles[] = {
	    "roplogon_private_request.hex",
	    "roplogon_private_success_response.hex",
	    "roplogon_redirect_response.hex",
	    "roplogon_failure_unknownuser_response.hex",
	    "msoxctabl_4.5.3.1_ropqueryrows_request.hex",
	    "msoxctabl_4.3.2_ropsorttable_response.hex",
	};
	for (size_t i = 0; i < sizeof(singles) / sizeof(singles[0]); i++) {
		size_t n;
		uint8_t *p = load(ROPS_DIR, singles[i], &n);
		bool request = strstr(singles[i], "request") != NULL;
		for (size_t len = 0; len < n; len++) {
			mh_arena a = MH_ARENA_INIT;
			uint8_t *copy = malloc(len ? len : 1);
			assert_non_null(copy);
			memcpy(copy, p, len);
			mh_rop_request q;
			mh_rop_response r;
			mh_status st = request ? pull_request1(copy, len, &a, &q, NULL)
			                       : pull_response1(copy, len, &a, NULL, &r, NULL);
			assert_int_equal(st, MAPI_E_CORRUPT_DATA);
			free(copy);
			mh_arena_free(&a);
		}
		free(p);
	}
}

static void test_rop__bit_flips(void **state)
{
	(void)state;
	uint64_t seed = 42;
	for (size_t i = 0; i < N_CAPTURES; i++) {
		capture cp;
		capture_load(&cp, captures[i]);
		mh_rop_response_ctx ctx = {cp.rq.rops, cp.rq.count, NULL, NULL};
		for (int round = 0; round < 300; round++) {
			bool resp = cp.resp != NULL && (round & 1);
			size_t n = resp ? cp.resp_len : cp.req_len;
			uint8_t *copy = malloc(n);
			assert_non_null(copy);
			memcpy(copy, resp ? cp.resp : cp.req, n);
			int flips = 1 + (int)(mh_test_rng_next(&seed) % 4);
			for (int k = 0; k < flips; k++) {
				uint64_t x = mh_test_rng_next(&seed);
				copy[x % n] ^= (uint8_t)(1u << ((x >> 32) % 8));
			}
			mh_arena a = MH_ARENA_INIT;
			mh_cursor c;
			mh_status st;
			mh_cursor_init(&c, copy, n, MAPI_E_CORRUPT_DATA);
			if (resp) {
				mh_rop_response_buffer rs;
				st = mh_rop_response_buffer_pull(&c, &a, &ctx, &rs);
				if (st == S_OK) { /* what parses must encode */
					mh_buf b = MH_BUF_INIT;
					mh_rop_response_buffer_push(&b, &rs);
					mh_buf_free(&b);
				}
			} else {
				mh_rop_request_buffer rb;
				st = mh_rop_request_buffer_pull(&c, &a, &rb, NULL);
				if (st == S_OK) {
					mh_buf b = MH_BUF_INIT;
					mh_rop_request_buffer_push(&b, &rb);
					assert_int_equal(mh_buf_status(&b), S_OK);
					assert_bytes(b.data, b.len, copy, n);
					mh_buf_free(&b);
				}
			}
			assert_true(st == S_OK || st == MAPI_E_CORRUPT_DATA ||
			            st == MAPI_E_NO_SUPPORT);
			mh_arena_free(&a);
			free(copy);
		}
		capture_free(&cp);
	}
}

/* ---- seeded random round trips ------------------------------------------------------- */

typedef struct gen {
	uint64_t seed;
	mh_arena *a;
} gen;

static uint32_t below(gen *g, uint32_t n)
{
	return (uint32_t)(mh_test_rng_next(&g->seed) % n);
}

static void *galloc(gen *g, size_t n)
{
	void *p = NULL;
	assert_int_equal(mh_arena_alloc(g->a, n ? n : 1, &p), S_OK);
	return p;
}

/* ASCII without NUL, sometimes empty. */
static char *gen_ascii(gen *g, size_t max)
{
	size_t n = below(g, (uint32_t)max + 1);
	char *s = galloc(g, n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)(0x20 + below(g, 0x5f));
	return s;
}

/* UTF-8 with one-, two-, three- and four-byte characters. */
static char *gen_utf8(gen *g, size_t max)
{
	static const char *const parts[] = {"a", "Z", " ", "é", "ß", "日本", "€", "😀", "Inbox"};
	size_t n = below(g, (uint32_t)max + 1);
	char *s = galloc(g, n * 8 + 1);
	s[0] = '\0';
	for (size_t i = 0; i < n; i++)
		strcat(s, parts[below(g, sizeof(parts) / sizeof(parts[0]))]);
	return s;
}

static SBinary gen_bin(gen *g, size_t max)
{
	SBinary b;
	b.cb = below(g, (uint32_t)max + 1);
	b.lpb = galloc(g, b.cb);
	for (uint32_t i = 0; i < b.cb; i++)
		b.lpb[i] = (uint8_t)mh_test_rng_next(&g->seed);
	return b;
}

static GUID gen_guid(gen *g)
{
	GUID x;
	uint64_t r = mh_test_rng_next(&g->seed), s = mh_test_rng_next(&g->seed);
	x.Data1 = (uint32_t)r;
	x.Data2 = (uint16_t)(r >> 32);
	x.Data3 = (uint16_t)(r >> 48);
	memcpy(x.Data4, &s, 8);
	return x;
}

static const uint16_t col_types[] = {PT_I2,      PT_LONG,    PT_BOOLEAN, PT_I8,
                                     PT_SYSTIME, PT_UNICODE, PT_STRING8, PT_BINARY,
                                     PT_DOUBLE,  PT_CLSID,   PT_MV_LONG};

static SPropTagArray *gen_tags(gen *g, uint32_t max, bool typed)
{
	uint32_t n = typed ? 1 + below(g, max) : below(g, max + 1);
	SPropTagArray *t = galloc(g, CbNewSPropTagArray(n));
	t->cValues = n;
	for (uint32_t i = 0; i < n; i++) {
		uint16_t type = typed ? col_types[below(g, sizeof(col_types) / 2)]
		                      : (uint16_t)mh_test_rng_next(&g->seed);
		t->aulPropTag[i] = PROP_TAG(type, 0x3000 + below(g, 0x4000));
	}
	return t;
}

static void gen_value(gen *g, uint16_t type, union _PV *v)
{
	memset(v, 0, sizeof(*v));
	uint64_t r = mh_test_rng_next(&g->seed);
	switch (type) {
	case PT_I2:
		v->i = (int16_t)r;
		break;
	case PT_LONG:
	case PT_ERROR:
		v->l = (int32_t)r;
		break;
	case PT_BOOLEAN:
		v->b = (uint16_t)(r & 1);
		break;
	case PT_I8:
		v->li = (int64_t)r;
		break;
	case PT_SYSTIME:
		v->ft.dwLowDateTime = (uint32_t)r;
		v->ft.dwHighDateTime = (uint32_t)(r >> 32);
		break;
	case PT_UNICODE:
		v->lpszW = gen_utf8(g, 6);
		break;
	case PT_STRING8:
		v->lpszA = gen_ascii(g, 20);
		break;
	case PT_BINARY:
		v->bin = gen_bin(g, 60);
		break;
	case PT_DOUBLE:
		v->dbl = (double)(int32_t)r / 8.0;
		break;
	case PT_CLSID:
		v->lpguid = galloc(g, sizeof(GUID));
		*v->lpguid = gen_guid(g);
		break;
	case PT_MV_LONG:
		v->MVl.cValues = below(g, 5);
		v->MVl.lpl = galloc(g, v->MVl.cValues * sizeof(int32_t));
		for (uint32_t i = 0; i < v->MVl.cValues; i++)
			v->MVl.lpl[i] = (int32_t)mh_test_rng_next(&g->seed);
		break;
	default:
		fail_msg("no generator for type 0x%04x", type);
	}
}

static void gen_row(gen *g, const SPropTagArray *cols, mh_prop_row *row)
{
	row->flag = (uint8_t)below(g, 2);
	row->cValues = cols->cValues;
	row->lpProps = galloc(g, cols->cValues * sizeof(SPropValue));
	row->colflags = row->flag ? galloc(g, cols->cValues) : NULL;
	for (uint32_t i = 0; i < cols->cValues; i++) {
		uint32_t tag = cols->aulPropTag[i];
		SPropValue *pv = &row->lpProps[i];
		uint8_t cf = row->flag ? (uint8_t)(below(g, 3) == 0 ? MH_PV_FLAG_VALUE
		                                   : below(g, 2)    ? MH_PV_FLAG_UNAVAILABLE
		                                                    : MH_PV_FLAG_ERROR)
		                       : MH_PV_FLAG_VALUE;
		if (row->flag)
			row->colflags[i] = cf;
		if (cf == MH_PV_FLAG_VALUE) {
			pv->ulPropTag = tag;
			gen_value(g, (uint16_t)PROP_TYPE(tag), &pv->Value);
		} else {
			pv->ulPropTag = CHANGE_PROP_TYPE(tag, PT_ERROR);
			pv->Value.err = cf == MH_PV_FLAG_UNAVAILABLE ? MAPI_E_NOT_FOUND
			                                             : MAPI_E_NOT_ENOUGH_MEMORY;
		}
	}
}

static const uint8_t request_ids[] = {
    MH_ROP_RELEASE,
    MH_ROP_OPEN_FOLDER,
    MH_ROP_OPEN_MESSAGE,
    MH_ROP_GET_HIERARCHY_TABLE,
    MH_ROP_GET_CONTENTS_TABLE,
    MH_ROP_GET_PROPERTIES_SPECIFIC,
    MH_ROP_GET_PROPERTIES_ALL,
    MH_ROP_GET_PROPERTIES_LIST,
    MH_ROP_READ_RECIPIENTS,
    MH_ROP_SET_COLUMNS,
    MH_ROP_SORT_TABLE,
    MH_ROP_QUERY_ROWS,
    MH_ROP_SEEK_ROW,
    MH_ROP_GET_ATTACHMENT_TABLE,
    MH_ROP_GET_RECEIVE_FOLDER,
    MH_ROP_OPEN_STREAM,
    MH_ROP_READ_STREAM,
    MH_ROP_QUERY_COLUMNS_ALL,
    MH_ROP_GET_PERMISSIONS_TABLE,
    MH_ROP_GET_RULES_TABLE,
    MH_ROP_LONG_TERM_ID_FROM_ID,
    MH_ROP_ID_FROM_LONG_TERM_ID,
    MH_ROP_RESET_TABLE,
    MH_ROP_LOGON,
};
#define N_REQUEST_IDS sizeof(request_ids)

static void gen_request(gen *g, uint8_t id, mh_rop_request *q)
{
	memset(q, 0, sizeof(*q));
	q->rop_id = id;
	q->logon_id = (uint8_t)mh_test_rng_next(&g->seed);
	if (id != MH_ROP_LOGON)
		q->in_handle_index = (uint8_t)mh_test_rng_next(&g->seed);
	if (mh_rop_creates_object(id))
		q->out_handle_index = (uint8_t)mh_test_rng_next(&g->seed);
	uint64_t r = mh_test_rng_next(&g->seed);
	switch (id) {
	case MH_ROP_LOGON:
		q->u.logon.logon_flags = (uint8_t)r;
		q->u.logon.open_flags = (uint32_t)(r >> 8);
		q->u.logon.store_state = (uint32_t)mh_test_rng_next(&g->seed);
		q->u.logon.essdn = below(g, 4) ? gen_ascii(g, 120) : NULL;
		break;
	case MH_ROP_OPEN_FOLDER:
		q->u.open_folder.folder_id = r;
		q->u.open_folder.open_mode_flags = (uint8_t)mh_test_rng_next(&g->seed);
		break;
	case MH_ROP_OPEN_MESSAGE:
		q->u.open_message.code_page_id = (uint16_t)r;
		q->u.open_message.folder_id = mh_test_rng_next(&g->seed);
		q->u.open_message.open_mode_flags = (uint8_t)(r >> 16);
		q->u.open_message.message_id = mh_test_rng_next(&g->seed);
		break;
	case MH_ROP_GET_HIERARCHY_TABLE:
	case MH_ROP_GET_CONTENTS_TABLE:
	case MH_ROP_GET_PERMISSIONS_TABLE:
	case MH_ROP_GET_RULES_TABLE:
	case MH_ROP_GET_ATTACHMENT_TABLE:
		q->u.get_table.table_flags = (uint8_t)r;
		break;
	case MH_ROP_GET_PROPERTIES_SPECIFIC:
		q->u.get_props_specific.property_size_limit = (uint16_t)r;
		q->u.get_props_specific.want_unicode = (uint16_t)(r >> 16);
		q->u.get_props_specific.tags = gen_tags(g, 12, false);
		break;
	case MH_ROP_GET_PROPERTIES_ALL:
		q->u.get_props_all.property_size_limit = (uint16_t)r;
		q->u.get_props_all.want_unicode = (uint16_t)(r >> 16);
		break;
	case MH_ROP_READ_RECIPIENTS:
		q->u.read_recipients.row_id = (uint32_t)r;
		q->u.read_recipients.reserved = (uint16_t)(r >> 32);
		break;
	case MH_ROP_SET_COLUMNS:
		q->u.set_columns.flags = (uint8_t)r;
		q->u.set_columns.tags = gen_tags(g, 12, false);
		break;
	case MH_ROP_SORT_TABLE: {
		uint16_t n = (uint16_t)below(g, 5);
		q->u.sort_table.flags = (uint8_t)r;
		q->u.sort_table.categorized_count = (uint16_t)(r >> 8);
		q->u.sort_table.expanded_count = (uint16_t)(r >> 24);
		q->u.sort_table.sort_order_count = n;
		q->u.sort_table.sort_orders = galloc(g, n * sizeof(mh_rop_sort_order));
		for (uint16_t i = 0; i < n; i++) {
			q->u.sort_table.sort_orders[i].tag = (uint32_t)mh_test_rng_next(&g->seed);
			q->u.sort_table.sort_orders[i].order = (uint8_t)below(g, 3);
		}
		break;
	}
	case MH_ROP_QUERY_ROWS:
		q->u.query_rows.flags = (uint8_t)r;
		q->u.query_rows.forward_read = (uint8_t)(r >> 8);
		q->u.query_rows.row_count = (uint16_t)(r >> 16);
		break;
	case MH_ROP_SEEK_ROW:
		q->u.seek_row.origin = (uint8_t)r;
		q->u.seek_row.row_count = (int32_t)(r >> 8);
		q->u.seek_row.want_row_moved_count = (uint8_t)(r >> 40);
		break;
	case MH_ROP_GET_RECEIVE_FOLDER:
		q->u.get_receive_folder.message_class = gen_ascii(g, 30);
		break;
	case MH_ROP_OPEN_STREAM:
		q->u.open_stream.property_tag = (uint32_t)r;
		q->u.open_stream.open_mode_flags = (uint8_t)(r >> 32);
		break;
	case MH_ROP_READ_STREAM:
		q->u.read_stream.byte_count = below(g, 2) ? MH_READ_STREAM_USE_MAX : (uint16_t)r;
		if (q->u.read_stream.byte_count == MH_READ_STREAM_USE_MAX)
			q->u.read_stream.maximum_byte_count = (uint32_t)(r >> 16);
		break;
	case MH_ROP_LONG_TERM_ID_FROM_ID:
		q->u.long_term_id_from_id.object_id = r;
		break;
	case MH_ROP_ID_FROM_LONG_TERM_ID:
		q->u.id_from_long_term_id.long_term_id.database_guid = gen_guid(g);
		q->u.id_from_long_term_id.long_term_id.global_counter = r & 0xFFFFFFFFFFFFu;
		q->u.id_from_long_term_id.long_term_id.pad = (uint16_t)(r >> 48);
		break;
	default:
		break;
	}
}

static void roundtrip_request(const mh_rop_request *q)
{
	mh_buf b = MH_BUF_INIT, b2 = MH_BUF_INIT;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_request x;
	size_t used;
	mh_rop_request_push(&b, q);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_int_equal(pull_request1(b.data, b.len, &a, &x, &used), S_OK);
	assert_int_equal(used, b.len);
	if (!mh_rop_request_equal(q, &x))
		fail_msg("%s request does not round-trip", mh_rop_name(q->rop_id));
	mh_rop_request_push(&b2, &x);
	assert_bytes(b2.data, b2.len, b.data, b.len);
	mh_buf_free(&b);
	mh_buf_free(&b2);
	mh_arena_free(&a);
}

static void test_rop__random_requests(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	gen g = {20240601, &a};
	for (size_t k = 0; k < N_REQUEST_IDS; k++)
		for (int i = 0; i < 300; i++) {
			mh_rop_request q;
			gen_request(&g, request_ids[k], &q);
			roundtrip_request(&q);
		}
	mh_arena_free(&a);
}

static const uint8_t response_ids[] = {
    MH_ROP_OPEN_FOLDER,
    MH_ROP_OPEN_MESSAGE,
    MH_ROP_GET_HIERARCHY_TABLE,
    MH_ROP_GET_CONTENTS_TABLE,
    MH_ROP_GET_PROPERTIES_SPECIFIC,
    MH_ROP_GET_PROPERTIES_ALL,
    MH_ROP_GET_PROPERTIES_LIST,
    MH_ROP_READ_RECIPIENTS,
    MH_ROP_SET_COLUMNS,
    MH_ROP_SORT_TABLE,
    MH_ROP_QUERY_ROWS,
    MH_ROP_SEEK_ROW,
    MH_ROP_GET_ATTACHMENT_TABLE,
    MH_ROP_GET_RECEIVE_FOLDER,
    MH_ROP_OPEN_STREAM,
    MH_ROP_READ_STREAM,
    MH_ROP_QUERY_COLUMNS_ALL,
    MH_ROP_GET_PERMISSIONS_TABLE,
    MH_ROP_GET_RULES_TABLE,
    MH_ROP_LONG_TERM_ID_FROM_ID,
    MH_ROP_ID_FROM_LONG_TERM_ID,
    MH_ROP_RESET_TABLE,
    MH_ROP_LOGON,
    MH_ROP_PENDING,
    MH_ROP_BACKOFF,
    MH_ROP_BUFFER_TOO_SMALL,
};
#define N_RESPONSE_IDS sizeof(response_ids)

static void gen_recipients(gen *g, uint8_t n, mh_rop_recipient_row **out)
{
	*out = galloc(g, n * sizeof(mh_rop_recipient_row));
	for (unsigned i = 0; i < n; i++) {
		uint64_t r = mh_test_rng_next(&g->seed);
		(*out)[i].row_id = (uint32_t)r;
		(*out)[i].recipient_type = (uint8_t)(r >> 32);
		(*out)[i].code_page_id = (uint16_t)(r >> 40);
		(*out)[i].reserved = (uint16_t)below(g, 2);
		(*out)[i].row = gen_bin(g, 40);
	}
}

static void gen_typed_string(gen *g, mh_rop_typed_string *ts)
{
	ts->type = (uint8_t)below(g, 5);
	ts->value = ts->type == MH_TYPED_STRING_UNICODE ? gen_utf8(g, 5)
	            : ts->type >= MH_TYPED_STRING_8BIT  ? gen_ascii(g, 20)
	                                                : NULL;
}

/*
 * A response and the request it answers (the request gives GetPropertiesSpecific
 * its columns and RopLogon its layout); *cols receives QueryRows' columns.
 * cols_for_query: the columns to use for QueryRows (NULL: generate).
 */
static void gen_response(gen *g, uint8_t id, mh_rop_response *r, mh_rop_request *q,
                         const SPropTagArray **cols, bool allow_raw)
{
	memset(r, 0, sizeof(*r));
	gen_request(g, MH_ROP_HAS_GENERIC_HEADER(id) ? id : MH_ROP_RELEASE, q);
	r->rop_id = id;
	*cols = NULL;
	uint64_t x = mh_test_rng_next(&g->seed);
	switch (id) {
	case MH_ROP_BUFFER_TOO_SMALL:
		r->u.buffer_too_small.size_needed = (uint16_t)x;
		r->u.buffer_too_small.request_buffers = gen_bin(g, 40);
		return;
	case MH_ROP_BACKOFF:
		r->u.backoff.logon_id = (uint8_t)x;
		r->u.backoff.duration = (uint32_t)(x >> 8);
		r->u.backoff.rop_count = (uint8_t)below(g, 4);
		r->u.backoff.rops = galloc(g, r->u.backoff.rop_count * sizeof(mh_rop_backoff_rop));
		for (unsigned i = 0; i < r->u.backoff.rop_count; i++) {
			r->u.backoff.rops[i].rop_id = (uint8_t)mh_test_rng_next(&g->seed);
			r->u.backoff.rops[i].duration = (uint32_t)mh_test_rng_next(&g->seed);
		}
		r->u.backoff.additional_data = gen_bin(g, 10);
		return;
	case MH_ROP_PENDING:
		r->u.pending.session_index = (uint16_t)x;
		return;
	default:
		break;
	}
	r->handle_index = mh_rop_creates_object(id) ? q->out_handle_index : q->in_handle_index;
	r->return_value =
	    below(g, 5) == 0 ? (mh_status)(uint32_t)(mh_test_rng_next(&g->seed) | 1) : S_OK;
	switch (id) {
	case MH_ROP_LOGON: {
		uint32_t kind = below(g, 4);
		if (kind == 0) {
			r->return_value = ecWrongServer;
			r->u.logon.logon_flags = (uint8_t)x;
			r->u.logon.server_name = below(g, 5) ? gen_ascii(g, 200) : NULL;
			break;
		}
		if (kind == 1) {
			r->return_value = ecUnknownUser;
			break;
		}
		r->return_value = S_OK;
		r->u.logon.is_private = kind == 2;
		q->u.logon.logon_flags = kind == 2 ? MH_LOGON_FLAG_PRIVATE : 0;
		r->u.logon.logon_flags = (uint8_t)x;
		for (unsigned i = 0; i < MH_LOGON_FID_COUNT; i++)
			r->u.logon.folder_ids[i] = mh_test_rng_next(&g->seed);
		r->u.logon.repl_id = (uint16_t)(x >> 8);
		r->u.logon.repl_guid = gen_guid(g);
		if (!r->u.logon.is_private) {
			r->u.logon.per_user_guid = gen_guid(g);
			break;
		}
		r->u.logon.response_flags = (uint8_t)(x >> 24);
		r->u.logon.mailbox_guid = gen_guid(g);
		uint64_t t = mh_test_rng_next(&g->seed);
		memcpy(&r->u.logon.logon_time.seconds, &t, 6);
		r->u.logon.logon_time.year = (uint16_t)(t >> 48);
		r->u.logon.gwart_time = mh_test_rng_next(&g->seed);
		r->u.logon.store_state = (uint32_t)(x >> 32);
		break;
	}
	case MH_ROP_OPEN_FOLDER:
		r->u.open_folder.has_rules = (uint8_t)x;
		r->u.open_folder.is_ghosted = below(g, 2) ? 0 : (uint8_t)(1 + below(g, 255));
		if (r->u.open_folder.is_ghosted) {
			uint16_t n = (uint16_t)below(g, 4);
			r->u.open_folder.server_count = n;
			r->u.open_folder.cheap_server_count = (uint16_t)(x >> 16);
			r->u.open_folder.servers = galloc(g, n * sizeof(char *));
			for (unsigned i = 0; i < n; i++)
				r->u.open_folder.servers[i] = gen_ascii(g, 30);
		}
		break;
	case MH_ROP_OPEN_MESSAGE:
		r->u.open_message.has_named_properties = (uint8_t)x;
		gen_typed_string(g, &r->u.open_message.subject_prefix);
		gen_typed_string(g, &r->u.open_message.normalized_subject);
		r->u.open_message.recipient_count = (uint16_t)(x >> 8);
		r->u.open_message.recipient_columns = gen_tags(g, 6, false);
		r->u.open_message.row_count = (uint8_t)below(g, 4);
		gen_recipients(g, r->u.open_message.row_count, &r->u.open_message.rows);
		for (unsigned i = 0; i < r->u.open_message.row_count; i++)
			r->u.open_message.rows[i].row_id = 0; /* OpenRecipientRow has none */
		break;
	case MH_ROP_GET_HIERARCHY_TABLE:
	case MH_ROP_GET_CONTENTS_TABLE:
		r->u.get_table.row_count = (uint32_t)x;
		break;
	case MH_ROP_GET_PROPERTIES_SPECIFIC:
		if (allow_raw && below(g, 5) == 0) {
			q->u.get_props_specific.tags = NULL;
			r->u.get_props_specific.raw = gen_bin(g, 30);
			break;
		}
		q->u.get_props_specific.tags = gen_tags(g, 8, true);
		r->u.get_props_specific.columns = q->u.get_props_specific.tags;
		gen_row(g, q->u.get_props_specific.tags, &r->u.get_props_specific.row);
		break;
	case MH_ROP_GET_PROPERTIES_ALL: {
		uint16_t n = (uint16_t)below(g, 6);
		r->u.get_props_all.count = n;
		r->u.get_props_all.props = galloc(g, n * sizeof(SPropValue));
		for (unsigned i = 0; i < n; i++) {
			uint16_t type = col_types[below(g, sizeof(col_types) / 2)];
			r->u.get_props_all.props[i].ulPropTag = PROP_TAG(type, 0x3000 + i);
			gen_value(g, type, &r->u.get_props_all.props[i].Value);
		}
		break;
	}
	case MH_ROP_GET_PROPERTIES_LIST:
	case MH_ROP_QUERY_COLUMNS_ALL:
		r->u.prop_list.tags = gen_tags(g, 10, false);
		break;
	case MH_ROP_READ_RECIPIENTS:
		r->u.read_recipients.row_count = (uint8_t)below(g, 4);
		gen_recipients(g, r->u.read_recipients.row_count, &r->u.read_recipients.rows);
		break;
	case MH_ROP_SET_COLUMNS:
	case MH_ROP_SORT_TABLE:
		r->u.table_status.table_status = (uint8_t)x;
		break;
	case MH_ROP_QUERY_ROWS: {
		r->u.query_rows.origin = (uint8_t)below(g, 3);
		if (allow_raw && below(g, 5) == 0) {
			r->u.query_rows.row_count = (uint16_t)x;
			r->u.query_rows.raw = gen_bin(g, 30);
			break;
		}
		SPropTagArray *c = gen_tags(g, 6, true);
		uint16_t n = (uint16_t)below(g, 5);
		r->u.query_rows.row_count = n;
		r->u.query_rows.columns = c;
		r->u.query_rows.rows = galloc(g, n * sizeof(mh_prop_row));
		for (unsigned i = 0; i < n; i++)
			gen_row(g, c, &r->u.query_rows.rows[i]);
		*cols = c;
		break;
	}
	case MH_ROP_SEEK_ROW:
		r->u.seek_row.has_sought_less = (uint8_t)x;
		r->u.seek_row.rows_sought = (int32_t)(x >> 8);
		break;
	case MH_ROP_GET_RECEIVE_FOLDER:
		r->u.get_receive_folder.folder_id = x;
		r->u.get_receive_folder.explicit_message_class = gen_ascii(g, 30);
		break;
	case MH_ROP_OPEN_STREAM:
		r->u.open_stream.stream_size = (uint32_t)x;
		break;
	case MH_ROP_READ_STREAM:
		r->u.read_stream.data = gen_bin(g, 100);
		break;
	case MH_ROP_LONG_TERM_ID_FROM_ID:
		r->u.long_term_id_from_id.long_term_id.database_guid = gen_guid(g);
		r->u.long_term_id_from_id.long_term_id.global_counter = x & 0xFFFFFFFFFFFFu;
		r->u.long_term_id_from_id.long_term_id.pad = (uint16_t)(x >> 48);
		break;
	case MH_ROP_ID_FROM_LONG_TERM_ID:
		r->u.id_from_long_term_id.object_id = x;
		break;
	default:
		break;
	}
}

static void test_rop__random_responses(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	gen g = {77, &a};
	for (size_t k = 0; k < N_RESPONSE_IDS; k++)
		for (int i = 0; i < 300; i++) {
			mh_rop_response r, x;
			mh_rop_request q;
			const SPropTagArray *cols;
			gen_response(&g, response_ids[k], &r, &q, &cols, true);
			mh_rop_response_hint hint = {&q, cols};
			mh_buf b = MH_BUF_INIT, b2 = MH_BUF_INIT;
			mh_arena a2 = MH_ARENA_INIT;
			size_t used;
			mh_rop_response_push(&b, &r);
			assert_int_equal(mh_buf_status(&b), S_OK);
			mh_status st = pull_response1(b.data, b.len, &a2, &hint, &x, &used);
			if (st != S_OK)
				fail_msg("%s response: %s", mh_rop_name(r.rop_id),
				         mh_error_last()->message);
			assert_int_equal(used, b.len);
			if (!mh_rop_response_equal(&r, &x))
				fail_msg("%s response (ReturnValue 0x%08X) does not round-trip",
				         mh_rop_name(r.rop_id), (unsigned)r.return_value);
			mh_rop_response_push(&b2, &x);
			assert_bytes(b2.data, b2.len, b.data, b.len);
			mh_buf_free(&b);
			mh_buf_free(&b2);
			mh_arena_free(&a2);
		}
	mh_arena_free(&a);
}

static const SPropTagArray *shared_cols(uint8_t logon_id, uint32_t handle, void *payload)
{
	(void)logon_id;
	(void)handle;
	return payload;
}

/*
 * Whole buffers: random ROP lists with random handle tables; responses are
 * pulled with a context made of their requests (RopRelease requests mixed
 * in) and one column set shared by every QueryRows through the callback.
 */
static void test_rop__random_buffers(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	gen g = {4711, &a};
	for (int round = 0; round < 400; round++) {
		uint32_t n = 1 + below(&g, 12);
		mh_rop_request_buffer rb = {n, galloc(&g, n * sizeof(mh_rop_request)), below(&g, 6),
		                            NULL};
		rb.handles = galloc(&g, rb.handle_count * 4u);
		for (uint32_t i = 0; i < rb.handle_count; i++)
			rb.handles[i] = (uint32_t)mh_test_rng_next(&g.seed);
		for (uint32_t i = 0; i < n; i++)
			gen_request(&g, request_ids[below(&g, N_REQUEST_IDS)], &rb.rops[i]);

		mh_buf b = MH_BUF_INIT;
		mh_arena a2 = MH_ARENA_INIT;
		mh_cursor c;
		mh_rop_request_buffer xb;
		mh_rop_request_buffer_push(&b, &rb);
		assert_int_equal(mh_buf_status(&b), S_OK);
		mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
		assert_int_equal(mh_rop_request_buffer_pull(&c, &a2, &xb, NULL), S_OK);
		assert_int_equal(xb.count, n);
		assert_int_equal(xb.handle_count, rb.handle_count);
		assert_memory_equal(xb.handles, rb.handles, rb.handle_count * 4u);
		for (uint32_t i = 0; i < n; i++)
			assert_true(mh_rop_request_equal(&rb.rops[i], &xb.rops[i]));
		mh_buf_free(&b);

		/* Responses. */
		const SPropTagArray *cols = gen_tags(&g, 5, true);
		mh_rop_response_buffer ob = {n, galloc(&g, n * sizeof(mh_rop_response)), 0, NULL,
		                             false};
		mh_rop_request *reqs = galloc(&g, 2 * n * sizeof(mh_rop_request));
		uint32_t nreq = 0;
		ob.handle_count = rb.handle_count;
		ob.handles = rb.handles;
		for (uint32_t i = 0; i < n; i++) {
			uint8_t id;
			do
				id = response_ids[below(&g, N_RESPONSE_IDS)];
			while (id == MH_ROP_BUFFER_TOO_SMALL && i + 1 < n);
			const SPropTagArray *qc;
			mh_rop_request q;
			mh_rop_response *r = &ob.rops[i];
			gen_response(&g, id, r, &q, &qc, false);
			if (id == MH_ROP_QUERY_ROWS) {
				r->u.query_rows.columns = cols;
				r->u.query_rows.rows =
				    galloc(&g, r->u.query_rows.row_count * sizeof(mh_prop_row));
				for (unsigned k = 0; k < r->u.query_rows.row_count; k++)
					gen_row(&g, cols, &r->u.query_rows.rows[k]);
			}
			if (id == MH_ROP_SET_COLUMNS)
				q.u.set_columns.tags = (SPropTagArray *)(uintptr_t)cols;
			if (below(&g, 3) == 0)
				gen_request(&g, MH_ROP_RELEASE, &reqs[nreq++]);
			if (MH_ROP_HAS_GENERIC_HEADER(id))
				reqs[nreq++] = q;
		}
		mh_rop_response_ctx ctx = {reqs, nreq, shared_cols, (void *)(uintptr_t)cols};
		mh_rop_response_buffer xo;
		mh_rop_response_buffer_push(&b, &ob);
		assert_int_equal(mh_buf_status(&b), S_OK);
		mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
		if (mh_rop_response_buffer_pull(&c, &a2, &ctx, &xo) != S_OK)
			fail_msg("round %d: %s", round, mh_error_last()->message);
		assert_int_equal(xo.count, n);
		assert_false(xo.raw_tail);
		for (uint32_t i = 0; i < n; i++)
			if (!mh_rop_response_equal(&ob.rops[i], &xo.rops[i]))
				fail_msg("round %d: response %u (%s) differs", round, i,
				         mh_rop_name(ob.rops[i].rop_id));
		mh_buf_free(&b);
		mh_arena_free(&a2);
	}
	mh_arena_free(&a);
}

/* ---- requests walked, not decoded -------------------------------------------------------- */

/*
 * Walks the request p[0..n) (with two trailing bytes that are not its own) and checks
 * what mh_rop_request_skip says, that pull keeps its bytes and push writes them back, and
 * that every strict prefix of it fails as corrupt data naming the ROP.
 */
static void check_skip(const uint8_t *p, size_t n, uint8_t in, bool creates, uint8_t out,
                       uint8_t echo, uint8_t extra)
{
	mh_arena a = MH_ARENA_INIT;
	mh_cursor c;
	mh_rop_skip_info si;
	const char *name = mh_rop_name(p[0]);
	uint8_t *copy = malloc(n + 2);
	assert_non_null(copy);
	assert_non_null(name);
	memcpy(copy, p, n);
	copy[n] = 0xEE;
	copy[n + 1] = 0xEE;
	assert_int_equal(mh_rop_request_kind(p[0]), MH_ROP_KIND_SKIPPED);
	mh_cursor_init(&c, copy, n + 2, MAPI_E_CORRUPT_DATA);
	mh_status st = mh_rop_request_skip(&c, &a, &si);
	if (st != S_OK)
		fail_msg("%s: %s", name, mh_error_last()->message);
	if (si.size != n || c.pos != n)
		fail_msg("%s: walked %zu bytes, its layout has %zu", name, si.size, n);
	assert_int_equal(si.rop_id, p[0]);
	assert_int_equal(si.logon_id, p[1]);
	assert_int_equal(si.in_handle_index, in);
	assert_int_equal(si.creates_object, creates);
	assert_int_equal(mh_rop_creates_object(p[0]), creates);
	assert_int_equal(si.out_handle_index, out);
	assert_int_equal(si.response_index, echo);
	assert_int_equal(si.response_extra, extra);
	assert_true(si.has_response);
	assert_int_equal(si.response_rop_id, p[0] == 0x1F ? 0x20 : p[0]);

	mh_rop_request q, q2;
	size_t used;
	assert_int_equal(pull_request1(copy, n + 2, &a, &q, &used), S_OK);
	assert_int_equal(used, n);
	assert_int_equal(q.rop_id, p[0]);
	assert_int_equal(q.in_handle_index, in);
	assert_int_equal(q.out_handle_index, out);
	assert_int_equal(q.u.unsupported.response_index, echo);
	assert_bytes(q.u.unsupported.raw.lpb, q.u.unsupported.raw.cb, p, n);
	mh_buf b = MH_BUF_INIT;
	mh_rop_request_push(&b, &q);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_bytes(b.data, b.len, p, n);
	assert_int_equal(pull_request1(b.data, b.len, &a, &q2, NULL), S_OK);
	assert_true(mh_rop_request_equal(&q, &q2));
	mh_buf_free(&b);

	for (size_t len = 0; len < n; len++) {
		mh_cursor_init(&c, copy, len, MAPI_E_CORRUPT_DATA);
		if (mh_rop_request_skip(&c, &a, &si) != MAPI_E_CORRUPT_DATA)
			fail_msg("%s cut to %zu of %zu bytes does not fail", name, len, n);
		if (len > 0 && strstr(mh_error_last()->message, name) == NULL)
			fail_msg("%s cut to %zu: \"%s\" does not name it", name, len,
			         mh_error_last()->message);
		assert_int_equal(pull_request1(copy, len, &a, &q, NULL), MAPI_E_CORRUPT_DATA);
	}
	free(copy);
	mh_arena_free(&a);
}

/* Every fixed-size request [MS-OXCROPS] defines and the codec does not decode. */
static void test_rop__skip_fixed_layouts(void **state)
{
	(void)state;
	static const struct {
		uint8_t id;
		uint8_t size; /* RopId included, from the spec's request table */
		char head;    /* 'i' InputHandleIndex, 'o' + OutputHandleIndex, 'd' + Dest, 'r'
		                 ResponseHandleIndex + InputHandleIndex */
		uint8_t extra;
	} fixed[] = {
	    {0x06, 15, 'o', 0},  /* RopCreateMessage */
	    {0x0C, 5, 'r', 0},   /* RopSaveChangesMessage */
	    {0x0D, 7, 'i', 0},   /* RopRemoveAllRecipients */
	    {0x10, 5, 'i', 0},   /* RopReloadCachedInformation */
	    {0x16, 3, 'i', 0},   /* RopGetStatus */
	    {0x17, 3, 'i', 0},   /* RopQueryPosition */
	    {0x1A, 11, 'i', 0},  /* RopSeekRowFractional */
	    {0x1B, 3, 'i', 0},   /* RopCreateBookmark */
	    {0x1D, 12, 'i', 1},  /* RopDeleteFolder */
	    {0x1F, 11, 'i', 0},  /* RopGetMessageStatus */
	    {0x20, 19, 'i', 0},  /* RopSetMessageStatus */
	    {0x22, 9, 'o', 0},   /* RopOpenAttachment */
	    {0x23, 4, 'o', 0},   /* RopCreateAttachment */
	    {0x24, 7, 'i', 0},   /* RopDeleteAttachment */
	    {0x25, 5, 'r', 0},   /* RopSaveChangesAttachment */
	    {0x2E, 12, 'i', 0},  /* RopSeekStream */
	    {0x2F, 11, 'i', 0},  /* RopSetStreamSize */
	    {0x31, 6, 'i', 0},   /* RopGetSearchCriteria */
	    {0x32, 4, 'i', 0},   /* RopSubmitMessage */
	    {0x34, 19, 'i', 0},  /* RopAbortSubmit */
	    {0x38, 3, 'i', 0},   /* RopAbort */
	    {0x3A, 12, 'd', 16}, /* RopCopyToStream */
	    {0x3B, 4, 'o', 0},   /* RopCloneStream */
	    {0x42, 11, 'i', 0},  /* RopGetOwningServers */
	    {0x45, 11, 'i', 0},  /* RopPublicFolderIsGhosted */
	    {0x46, 7, 'o', 0},   /* RopOpenEmbeddedMessage */
	    {0x47, 3, 'i', 0},   /* RopSetSpooler */
	    {0x48, 12, 'i', 0},  /* RopSpoolerLockMessage */
	    {0x49, 3, 'i', 0},   /* RopGetAddressTypes */
	    {0x4A, 3, 'i', 0},   /* RopTransportSend */
	    {0x4C, 6, 'o', 0},   /* RopFastTransferSourceCopyFolder */
	    {0x50, 4, 'i', 0},   /* RopProgress */
	    {0x52, 3, 'i', 0},   /* RopGetValidAttachments */
	    {0x53, 6, 'o', 0},   /* RopFastTransferDestinationConfigure */
	    {0x58, 5, 'i', 1},   /* RopEmptyFolder */
	    {0x59, 13, 'i', 0},  /* RopExpandRow */
	    {0x5A, 11, 'i', 0},  /* RopCollapseRow */
	    {0x5B, 23, 'i', 0},  /* RopLockRegionStream */
	    {0x5C, 23, 'i', 0},  /* RopUnlockRegionStream */
	    {0x5D, 3, 'i', 0},   /* RopCommitStream */
	    {0x5E, 3, 'i', 0},   /* RopGetStreamSize */
	    {0x60, 19, 'i', 0},  /* RopGetPerUserLongTermIds */
	    {0x61, 27, 'i', 0},  /* RopGetPerUserGuid */
	    {0x63, 34, 'i', 0},  /* RopReadPerUserInformation */
	    {0x68, 3, 'i', 0},   /* RopGetReceiveFolderTable */
	    {0x6B, 15, 'i', 0},  /* RopGetCollapseState */
	    {0x6D, 3, 'i', 0},   /* RopGetTransportFolder */
	    {0x75, 11, 'i', 0},  /* RopSynchronizationUploadStateStreamBegin */
	    {0x77, 3, 'i', 0},   /* RopSynchronizationUploadStateStreamEnd */
	    {0x7B, 3, 'i', 0},   /* RopGetStoreState */
	    {0x7E, 5, 'o', 0},   /* RopSynchronizationOpenCollector */
	    {0x7F, 7, 'i', 0},   /* RopGetLocalReplicaIds */
	    {0x82, 4, 'o', 0},   /* RopSynchronizationGetTransferState */
	    {0x86, 9, 'i', 0},   /* RopTellVersion */
	    {0x92, 5, 'i', 1},   /* RopHardDeleteMessagesAndSubfolders */
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		uint8_t buf[40];
		for (size_t j = 0; j < sizeof(buf); j++)
			buf[j] = (uint8_t)(0x40 + j);
		buf[0] = fixed[i].id;
		buf[1] = 0x02; /* LogonId */
		buf[2] = 0x05; /* first index byte */
		buf[3] = 0x06; /* second index byte, or the first body byte */
		char h = fixed[i].head;
		uint8_t in = h == 'r' ? 0x06 : 0x05;
		uint8_t echo = h == 'o' ? 0x06 : 0x05;
		check_skip(buf, fixed[i].size, in, h == 'o', h == 'o' ? 0x06 : 0, echo,
		           fixed[i].extra);
	}
}

/* Which ids are requests at all, and which of those the codec can walk. */
static void test_rop__skip_kinds(void **state)
{
	(void)state;
	unsigned decoded = 0, skipped = 0, stateful = 0;
	for (unsigned id = 0; id < 256; id++) {
		mh_rop_kind k = mh_rop_request_kind((uint8_t)id);
		decoded += k == MH_ROP_KIND_DECODED;
		skipped += k == MH_ROP_KIND_SKIPPED;
		stateful += k == MH_ROP_KIND_STATEFUL;
		if (k != MH_ROP_KIND_UNDEFINED && mh_rop_name((uint8_t)id) == NULL)
			fail_msg("request 0x%02X has no name", id);
		assert_int_equal(k == MH_ROP_KIND_DECODED, mh_rop_request_known((uint8_t)id));
	}
	/* [MS-OXCROPS] 2.2.3-2.2.15 define 128 request ROPs: 24 decoded, 2 stateful, 102 walked. */
	assert_int_equal(decoded, 24);
	assert_int_equal(stateful, 2);
	assert_int_equal(decoded + skipped + stateful, 128);
	static const uint8_t undefined[] = {0x00, 0x28, 0x2A, 0x3C, 0x3D, 0x62, 0x65, 0x6A,
	                                    0x6E, 0x71, 0x7C, 0x83, 0x84, 0x85, 0x87, 0x88,
	                                    0x8A, 0x94, 0x9C, 0xA4, 0xB0, 0xF9, 0xFF};
	for (size_t i = 0; i < sizeof(undefined); i++)
		assert_int_equal(mh_rop_request_kind(undefined[i]), MH_ROP_KIND_UNDEFINED);
	assert_int_equal(mh_rop_request_kind(0x11), MH_ROP_KIND_STATEFUL);
	assert_int_equal(mh_rop_request_kind(0x64), MH_ROP_KIND_STATEFUL);
	assert_int_equal(mh_rop_request_kind(0x56), MH_ROP_KIND_SKIPPED);
	assert_int_equal(mh_rop_request_kind(MH_ROP_LOGON), MH_ROP_KIND_DECODED);
	assert_string_equal(mh_rop_name(0x56), "RopGetPropertyIdsFromNames");
	/* Nothing is consumed for an id that cannot be walked. */
	mh_arena a = MH_ARENA_INIT;
	mh_rop_skip_info si;
	mh_cursor c;
	static const uint8_t ids[] = {0xB0, 0x11, MH_ROP_GET_PROPERTIES_ALL};
	for (size_t i = 0; i < sizeof(ids); i++) {
		uint8_t buf[] = {ids[i], 0, 0, 0, 0, 0, 0, 0};
		mh_cursor_init(&c, buf, sizeof(buf), MAPI_E_CORRUPT_DATA);
		assert_int_equal(mh_rop_request_skip(&c, &a, &si), MAPI_E_NO_SUPPORT);
		assert_int_equal(c.pos, 0);
	}
	mh_arena_free(&a);
}

static const GUID skip_guid = {0x00020329, 0x0000, 0x0000, {0xC0, 0, 0, 0, 0, 0, 0, 0x46}};

/* The header of a hand-built request. */
static void skip_head(mh_buf *b, uint8_t id, uint8_t idx0, int idx1)
{
	mh_buf_u8(b, id);
	mh_buf_u8(b, 0x01);
	mh_buf_u8(b, idx0);
	if (idx1 >= 0)
		mh_buf_u8(b, (uint8_t)idx1);
}

/* Several value types as TaggedPropertyValues, counted (COUNT(2)). */
static void skip_values(mh_buf *b)
{
	static const char *const strs[] = {"a", "bc"};
	static uint8_t bytes[] = {1, 2, 3};
	SPropValue v[6];
	memset(v, 0, sizeof(v));
	v[0].ulPropTag = PROP_TAG(PT_LONG, 0x0E07);
	v[0].Value.l = 42;
	v[1].ulPropTag = PROP_TAG(PT_UNICODE, 0x0037);
	v[1].Value.lpszW = (char *)(uintptr_t) "Grüße";
	v[2].ulPropTag = PROP_TAG(PT_BINARY, 0x0FFF);
	v[2].Value.bin.cb = sizeof(bytes);
	v[2].Value.bin.lpb = bytes;
	v[3].ulPropTag = PROP_TAG(PT_SYSTIME, 0x3007);
	v[3].Value.ft.dwLowDateTime = 1;
	v[4].ulPropTag = PROP_TAG(PT_MV_UNICODE, 0x8001);
	v[4].Value.MVszW.cValues = 2;
	v[4].Value.MVszW.lppszW = (char **)(uintptr_t)strs;
	v[5].ulPropTag = PROP_TAG(PT_BOOLEAN, 0x0E1B);
	v[5].Value.b = 1;
	mh_buf_u16(b, 6);
	for (size_t i = 0; i < 6; i++)
		mh_pv_tagged_push(b, MH_PV_ROP, &v[i]);
}

/* A PropertyName: Kind, GUID, then LID or NameSize + UTF-16LE name. */
static void skip_name(mh_buf *b, uint8_t kind, const char *name)
{
	mh_buf_u8(b, kind);
	mh_buf_guid(b, &skip_guid);
	if (kind == 0x00) {
		mh_buf_u32(b, 0x8501);
	} else if (kind == 0x01) {
		size_t at = b->len;
		mh_buf_u8(b, 0);
		mh_buf_utf16z(b, name);
		b->len -= 2; /* Name has no terminator: NameSize counts it exactly */
		b->data[at] = (uint8_t)(b->len - at - 1);
	}
}

static void check_built(mh_buf *b, uint8_t in, bool creates, uint8_t out, uint8_t echo,
                        uint8_t extra)
{
	assert_int_equal(mh_buf_status(b), S_OK);
	check_skip(b->data, b->len, in, creates, out, echo, extra);
	mh_buf_free(b);
}

/* Requests whose length comes from counts, sizes, strings and nested structures. */
static void test_rop__skip_variable_layouts(void **state)
{
	(void)state;
	mh_buf b = MH_BUF_INIT;

	/* RopGetPropertyIdsFromNames: a LID name, a string name, a Kind 0xFF name. */
	skip_head(&b, 0x56, 0x03, -1);
	mh_buf_u8(&b, 0x02);
	mh_buf_u16(&b, 3);
	skip_name(&b, 0x00, NULL);
	skip_name(&b, 0x01, "Keywords");
	skip_name(&b, 0xFF, NULL);
	assert_int_equal(b.len, 3 + 1 + 2 + 21 + (18 + 16) + 17);
	check_built(&b, 0x03, false, 0, 0x03, 0);

	/* RopGetNamesFromPropertyIds: two PropertyIds. */
	skip_head(&b, 0x55, 0x03, -1);
	mh_buf_u16(&b, 2);
	mh_buf_u16(&b, 0x8001);
	mh_buf_u16(&b, 0x8002);
	check_built(&b, 0x03, false, 0, 0x03, 0);

	/* RopSetProperties and RopSetPropertiesNoReplicate: PropertyValueSize covers the count
	 * and the values. */
	for (uint8_t id = 0x0A; id != 0; id = id == 0x0A ? 0x79 : 0) {
		skip_head(&b, id, 0x02, -1);
		size_t at = b.len;
		mh_buf_u16(&b, 0);
		skip_values(&b);
		size_t n = b.len - at - 2;
		b.data[at] = (uint8_t)n;
		b.data[at + 1] = (uint8_t)(n >> 8);
		check_built(&b, 0x02, false, 0, 0x02, 0);
	}

	/* Walked TaggedPropertyValues: RopSynchronizationImportMessageChange (creates an
	 * object), RopSynchronizationImportHierarchyChange (two lists), Deletes. */
	skip_head(&b, 0x72, 0x01, 0x04);
	mh_buf_u8(&b, 0x00);
	skip_values(&b);
	check_built(&b, 0x01, true, 0x04, 0x04, 0);
	skip_head(&b, 0x73, 0x01, -1);
	skip_values(&b);
	skip_values(&b);
	check_built(&b, 0x01, false, 0, 0x01, 0);
	skip_head(&b, 0x74, 0x01, -1);
	mh_buf_u8(&b, 0x01);
	skip_values(&b);
	check_built(&b, 0x01, false, 0, 0x01, 0);

	/* RopRestrict, RopFindRow, RopSetSearchCriteria, RopSynchronizationConfigure: the
	 * restriction is skipped by RestrictionDataSize. */
	mh_restriction exist = {RES_EXIST, {.exist = {PROP_TAG(PT_LONG, 0x0E07)}}};
	mh_restriction kids[2];
	memset(kids, 0, sizeof(kids));
	kids[0] = exist;
	kids[1].rt = RES_PROPERTY;
	kids[1].u.property.relop = RELOP_EQ;
	kids[1].u.property.prop_tag = PROP_TAG(PT_UNICODE, 0x001A);
	kids[1].u.property.prop.ulPropTag = PROP_TAG(PT_UNICODE, 0x001A);
	kids[1].u.property.prop.Value.lpszW = (char *)(uintptr_t) "IPM.Note";
	mh_restriction and_ = {RES_AND, {.and_or = {2, kids}}};
	mh_buf res = MH_BUF_INIT;
	mh_restriction_push(&res, MH_PV_ROP, &and_);
	assert_int_equal(mh_buf_status(&res), S_OK);
	skip_head(&b, 0x14, 0x02, -1);
	mh_buf_u8(&b, 0x00);
	mh_buf_u16(&b, (uint16_t)res.len);
	mh_buf_put(&b, res.data, res.len);
	check_built(&b, 0x02, false, 0, 0x02, 0);
	skip_head(&b, 0x4F, 0x02, -1);
	mh_buf_u8(&b, 0x00);
	mh_buf_u16(&b, (uint16_t)res.len);
	mh_buf_put(&b, res.data, res.len);
	mh_buf_u8(&b, 0x00);
	mh_buf_u16(&b, 4);
	mh_buf_u32(&b, 0xB00C);
	check_built(&b, 0x02, false, 0, 0x02, 0);
	skip_head(&b, 0x30, 0x02, -1);
	mh_buf_u16(&b, (uint16_t)res.len);
	mh_buf_put(&b, res.data, res.len);
	mh_buf_u16(&b, 2);
	mh_buf_u64(&b, 0x0100000000000001ull);
	mh_buf_u64(&b, 0x0100000000000002ull);
	mh_buf_u32(&b, 0x00000002);
	check_built(&b, 0x02, false, 0, 0x02, 0);
	skip_head(&b, 0x70, 0x02, 0x03);
	mh_buf_u8(&b, 0x01);
	mh_buf_u8(&b, 0x00);
	mh_buf_u16(&b, 0x0000);
	mh_buf_u16(&b, (uint16_t)res.len);
	mh_buf_put(&b, res.data, res.len);
	mh_buf_u32(&b, 0);
	mh_buf_u16(&b, 1);
	mh_buf_u32(&b, PR_DISPLAY_NAME_W);
	check_built(&b, 0x02, true, 0x03, 0x03, 0);

	/* RopRegisterNotification: FolderId and MessageId only when WantWholeStore is 0. */
	skip_head(&b, 0x29, 0x00, 0x01);
	mh_buf_u8(&b, 0x04);
	mh_buf_u8(&b, 0x00);
	mh_buf_u8(&b, 0x01);
	assert_int_equal(b.len, 7);
	check_built(&b, 0x00, true, 0x01, 0x01, 0);
	skip_head(&b, 0x29, 0x00, 0x01);
	mh_buf_u8(&b, 0x04);
	mh_buf_u8(&b, 0x00);
	mh_buf_u8(&b, 0x00);
	mh_buf_u64(&b, 0x0100000000000001ull);
	mh_buf_u64(&b, 0);
	assert_int_equal(b.len, 23);
	check_built(&b, 0x00, true, 0x01, 0x01, 0);

	/* RopSetReceiveFolder: FolderId, then an 8-bit MessageClass. */
	skip_head(&b, 0x26, 0x00, -1);
	mh_buf_u64(&b, 0x0100000000000001ull);
	mh_buf_str8z(&b, "IPM.Note");
	check_built(&b, 0x00, false, 0, 0x00, 0);

	/* RopCreateFolder: names 8-bit or UTF-16LE as UseUnicodeStrings says. */
	for (uint8_t uni = 0; uni < 2; uni++) {
		skip_head(&b, 0x1C, 0x01, 0x02);
		mh_buf_u8(&b, 0x01);
		mh_buf_u8(&b, uni);
		mh_buf_u8(&b, 0x00);
		mh_buf_u8(&b, 0x00);
		if (uni) {
			mh_buf_utf16z(&b, "Projects");
			mh_buf_utf16z(&b, "");
		} else {
			mh_buf_str8z(&b, "Projects");
			mh_buf_str8z(&b, "");
		}
		check_built(&b, 0x01, true, 0x02, 0x02, 0);
	}

	/* RopMoveFolder, RopCopyFolder: SourceHandleIndex is echoed, DestHandleIndex is not. */
	skip_head(&b, 0x35, 0x01, 0x02);
	mh_buf_u8(&b, 0x00);
	mh_buf_u8(&b, 0x01);
	mh_buf_u64(&b, 0x0100000000000009ull);
	mh_buf_utf16z(&b, "Moved");
	check_built(&b, 0x01, false, 0, 0x01, 1);
	skip_head(&b, 0x36, 0x01, 0x02);
	mh_buf_u8(&b, 0x00);
	mh_buf_u8(&b, 0x01);
	mh_buf_u8(&b, 0x00);
	mh_buf_u64(&b, 0x0100000000000009ull);
	mh_buf_str8z(&b, "Copy");
	check_built(&b, 0x01, false, 0, 0x01, 1);

	/* RopMoveCopyMessages, RopDeleteMessages, RopSetReadFlags: MessageId arrays. */
	skip_head(&b, 0x33, 0x01, 0x02);
	mh_buf_u16(&b, 2);
	mh_buf_u64(&b, 1);
	mh_buf_u64(&b, 2);
	mh_buf_u8(&b, 0x00);
	mh_buf_u8(&b, 0x01);
	check_built(&b, 0x01, false, 0, 0x01, 1);
	skip_head(&b, 0x1E, 0x01, -1);
	mh_buf_u8(&b, 0x00);
	mh_buf_u8(&b, 0x00);
	mh_buf_u16(&b, 1);
	mh_buf_u64(&b, 7);
	check_built(&b, 0x01, false, 0, 0x01, 1);
	skip_head(&b, 0x66, 0x01, -1);
	mh_buf_u8(&b, 0x00);
	mh_buf_u8(&b, 0x04);
	mh_buf_u16(&b, 0);
	check_built(&b, 0x01, false, 0, 0x01, 1);

	/* RopModifyRecipients: RecipientColumns, then rows sized by RecipientRowSize. */
	skip_head(&b, 0x0E, 0x01, -1);
	mh_buf_u16(&b, 2);
	mh_buf_u32(&b, PR_DISPLAY_NAME_W);
	mh_buf_u32(&b, PROP_TAG(PT_LONG, 0x0C15));
	mh_buf_u16(&b, 2);
	for (uint32_t row = 0; row < 2; row++) {
		mh_buf_u32(&b, row);
		mh_buf_u8(&b, 0x01);
		mh_buf_u16(&b, 5);
		mh_buf_put(&b, "\x51\x02\x00\x00\x00", 5);
	}
	check_built(&b, 0x01, false, 0, 0x01, 0);

	/* RopModifyRules: RuleData values include a condition (PT_SRESTRICT) and actions
	 * (PT_ACTIONS); RopModifyPermissions: plain values. */
	skip_head(&b, 0x41, 0x01, -1);
	mh_buf_u8(&b, 0x00);
	mh_buf_u16(&b, 1);
	mh_buf_u8(&b, 0x01); /* ROW_ADD */
	mh_buf_u16(&b, 3);
	mh_buf_u32(&b, PROP_TAG(PT_LONG, 0x6677));
	mh_buf_u32(&b, 10);
	mh_buf_u32(&b, PROP_TAG(PT_SRESTRICT, 0x6679));
	mh_buf_put(&b, res.data, res.len);
	mh_buf_u32(&b, PROP_TAG(PT_ACTIONS, 0x6680));
	mh_buf_u16(&b, 2);
	mh_buf_u16(&b, 9);
	mh_buf_put(&b, "\x0A\x00\x00\x00\x00\x00\x00\x00\x00", 9); /* OP_DELETE */
	mh_buf_u16(&b, 13);
	mh_buf_put(&b, "\x06\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00", 13);
	check_built(&b, 0x01, false, 0, 0x01, 0);
	skip_head(&b, 0x40, 0x01, -1);
	mh_buf_u8(&b, 0x00);
	mh_buf_u16(&b, 2);
	for (int row = 0; row < 2; row++) {
		mh_buf_u8(&b, 0x01);
		skip_values(&b);
	}
	check_built(&b, 0x01, false, 0, 0x01, 0);

	/* RopFastTransferSourceGetBuffer: MaximumBufferSize only after 0xBABE. */
	skip_head(&b, 0x4E, 0x01, -1);
	mh_buf_u16(&b, 0x1000);
	check_built(&b, 0x01, false, 0, 0x01, 9);
	skip_head(&b, 0x4E, 0x01, -1);
	mh_buf_u16(&b, 0xBABE);
	mh_buf_u16(&b, 0x7000);
	check_built(&b, 0x01, false, 0, 0x01, 9);

	/* RopQueryNamedProperties: PropertyGuid only when HasGuid. */
	skip_head(&b, 0x5F, 0x01, -1);
	mh_buf_u8(&b, 0x00);
	mh_buf_u8(&b, 0x00);
	check_built(&b, 0x01, false, 0, 0x01, 0);
	skip_head(&b, 0x5F, 0x01, -1);
	mh_buf_u8(&b, 0x00);
	mh_buf_u8(&b, 0x01);
	mh_buf_guid(&b, &skip_guid);
	check_built(&b, 0x01, false, 0, 0x01, 0);

	/* Streams and blobs: COUNT(2) and COUNT(4) sizes. */
	static const struct {
		uint8_t id;
		uint8_t extra;
	} sized[] = {{0x2D, 2}, {0x90, 2}, {0xA3, 4}, {0x54, 9}, {0x9D, 13},
	             {0x89, 0}, {0x6C, 0}, {0x80, 0}, {0x93, 0}};
	for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++) {
		skip_head(&b, sized[i].id, 0x01, -1);
		mh_buf_u16(&b, 3);
		mh_buf_put(&b, "xyz", 3);
		check_built(&b, 0x01, false, 0, 0x01, sized[i].extra);
	}
	skip_head(&b, 0x76, 0x01, -1);
	mh_buf_u32(&b, 4);
	mh_buf_put(&b, "wxyz", 4);
	check_built(&b, 0x01, false, 0, 0x01, 0);
	skip_head(&b, 0x78, 0x01, -1);
	for (uint32_t i = 0; i < 5; i++) {
		mh_buf_u32(&b, i);
		mh_buf_zeros(&b, i);
	}
	check_built(&b, 0x01, false, 0, 0x01, 0);
	skip_head(&b, 0x57, 0x01, -1);
	mh_buf_u16(&b, 2);
	mh_buf_put(&b, "ab", 2);
	mh_buf_u16(&b, 1);
	mh_buf_put(&b, "c", 1);
	check_built(&b, 0x01, false, 0, 0x01, 0);

	/* PropertyTag arrays: DeleteProperties, CopyTo and CopyProperties (source echoed),
	 * FastTransferSourceCopyTo and CopyProperties (create an object). */
	skip_head(&b, 0x0B, 0x01, -1);
	mh_buf_u16(&b, 1);
	mh_buf_u32(&b, PR_DISPLAY_NAME_W);
	check_built(&b, 0x01, false, 0, 0x01, 0);
	skip_head(&b, 0x39, 0x01, 0x02);
	mh_buf_u8(&b, 0);
	mh_buf_u8(&b, 1);
	mh_buf_u8(&b, 0);
	mh_buf_u16(&b, 1);
	mh_buf_u32(&b, PR_DISPLAY_NAME_W);
	check_built(&b, 0x01, false, 0, 0x01, 0);
	skip_head(&b, 0x67, 0x01, 0x02);
	mh_buf_u8(&b, 0);
	mh_buf_u8(&b, 0);
	mh_buf_u16(&b, 0);
	check_built(&b, 0x01, false, 0, 0x01, 0);
	skip_head(&b, 0x4D, 0x01, 0x02);
	mh_buf_u8(&b, 0);
	mh_buf_u32(&b, 0);
	mh_buf_u8(&b, 0);
	mh_buf_u16(&b, 1);
	mh_buf_u32(&b, PR_DISPLAY_NAME_W);
	check_built(&b, 0x01, true, 0x02, 0x02, 0);
	skip_head(&b, 0x69, 0x01, 0x02);
	mh_buf_u8(&b, 0);
	mh_buf_u8(&b, 0);
	mh_buf_u8(&b, 0);
	mh_buf_u16(&b, 0);
	check_built(&b, 0x01, true, 0x02, 0x02, 0);
	skip_head(&b, 0x4B, 0x01, 0x02);
	mh_buf_u16(&b, 1);
	mh_buf_u64(&b, 5);
	mh_buf_u8(&b, 0);
	mh_buf_u8(&b, 0);
	check_built(&b, 0x01, true, 0x02, 0x02, 0);

	/* Strings: RopTransportNewMail, RopOptionsData; a bookmark. */
	skip_head(&b, 0x51, 0x01, -1);
	mh_buf_u64(&b, 1);
	mh_buf_u64(&b, 2);
	mh_buf_str8z(&b, "IPM.Note");
	mh_buf_u32(&b, 0);
	check_built(&b, 0x01, false, 0, 0x01, 0);
	skip_head(&b, 0x6F, 0x01, -1);
	mh_buf_str8z(&b, "SMTP");
	mh_buf_u8(&b, 1);
	check_built(&b, 0x01, false, 0, 0x01, 0);
	skip_head(&b, 0x19, 0x01, -1);
	mh_buf_u16(&b, 4);
	mh_buf_u32(&b, 0xB00C);
	mh_buf_u32(&b, 1);
	mh_buf_u8(&b, 0);
	check_built(&b, 0x01, false, 0, 0x01, 0);
	mh_buf_free(&res);
}

/* Malformed walked requests: what cannot be walked, and what pushes. */
static void test_rop__skip_errors(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	mh_cursor c;
	mh_rop_skip_info si;
	mh_rop_request q;
	mh_buf b = MH_BUF_INIT;

	/* A PropertyName Kind other than 0x00, 0x01, 0xFF. */
	skip_head(&b, 0x56, 0x01, -1);
	mh_buf_u8(&b, 0x00);
	mh_buf_u16(&b, 1);
	skip_name(&b, 0x02, NULL);
	mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_request_skip(&c, &a, &si), MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "PropertyName.Kind 0x02 at byte 6"));
	assert_non_null(strstr(mh_error_last()->message, "RopGetPropertyIdsFromNames at byte 0"));
	mh_buf_free(&b);

	/* A count larger than the bytes left. */
	skip_head(&b, 0x1E, 0x01, -1);
	mh_buf_u16(&b, 0);
	mh_buf_u16(&b, 0x1000);
	mh_buf_u64(&b, 1);
	mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_request_skip(&c, &a, &si), MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "RopDeleteMessages"));
	mh_buf_free(&b);

	/* A PT_OBJECT value has no ROP encoding: the ROP cannot be walked, nothing is used. */
	skip_head(&b, 0x74, 0x01, -1);
	mh_buf_u8(&b, 0x00);
	mh_buf_u16(&b, 1);
	mh_buf_u32(&b, PROP_TAG(PT_OBJECT, 0x3701));
	mh_buf_u32(&b, 0);
	mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_request_skip(&c, &a, &si), MAPI_E_NO_SUPPORT);
	assert_int_equal(c.pos, 0);
	assert_int_equal(pull_request1(b.data, b.len, &a, &q, NULL), MAPI_E_NO_SUPPORT);
	mh_buf_free(&b);

	/* Push writes a walked request only from bytes that walk whole as that ROP. */
	uint8_t raw[] = {0x7B, 0x00, 0x00, 0xEE};
	memset(&q, 0, sizeof(q));
	q.rop_id = 0x7B;
	mh_rop_request_push(&b, &q); /* no bytes */
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	q.u.unsupported.raw.lpb = raw;
	q.u.unsupported.raw.cb = 4; /* one byte too many */
	mh_rop_request_push(&b, &q);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	q.u.unsupported.raw.cb = 2; /* too short */
	mh_rop_request_push(&b, &q);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	q.rop_id = 0x16; /* bytes of another ROP */
	q.u.unsupported.raw.cb = 3;
	mh_rop_request_push(&b, &q);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	q.rop_id = 0x7B;
	mh_rop_request_push(&b, &q);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_bytes(b.data, b.len, raw, 3);
	mh_buf_free(&b);
	/* The stateful ones still cannot be pushed. */
	q.rop_id = 0x11;
	mh_rop_request_push(&b, &q);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	mh_arena_free(&a);
}

/* A walked ROP between decoded ones: the buffer pull goes on past it. */
static void test_rop__skip_in_buffer(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	mh_rop_request_buffer rb;
	mh_rop_pull_info info;
	mh_cursor c;
	mh_buf b = MH_BUF_INIT;
	mh_buf_u16(&b, 0);
	/* RopGetReceiveFolder "" on index 0 (4 bytes at offset 2) */
	mh_buf_put(&b, "\x27\x00\x00\x00", 4);
	/* RopGetPropertyIdsFromNames with two names (offset 6) */
	skip_head(&b, 0x56, 0x00, -1);
	mh_buf_u8(&b, 0x02);
	mh_buf_u16(&b, 2);
	skip_name(&b, 0x00, NULL);
	skip_name(&b, 0x01, "x-custom");
	size_t third = b.len;
	/* RopGetPropertiesSpecific on index 0, one tag */
	mh_buf_put(&b, "\x07\x00\x00\x00\x00\x00\x00\x01\x00\x1f\x00\x01\x30", 13);
	size_t rops_end = b.len;
	b.data[0] = (uint8_t)rops_end;
	b.data[1] = (uint8_t)(rops_end >> 8);
	mh_buf_u32(&b, 0x11);
	mh_buf_u32(&b, 0xFFFFFFFF);
	assert_int_equal(mh_buf_status(&b), S_OK);

	mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_request_buffer_pull(&c, &a, &rb, &info), S_OK);
	assert_int_equal(rb.count, 3);
	assert_int_equal(info.index, 3);
	assert_int_equal(info.offset, rops_end);
	assert_int_equal(rb.rops[0].rop_id, MH_ROP_GET_RECEIVE_FOLDER);
	assert_int_equal(rb.rops[1].rop_id, 0x56);
	assert_bytes(rb.rops[1].u.unsupported.raw.lpb, rb.rops[1].u.unsupported.raw.cb, b.data + 6,
	             third - 6);
	assert_int_equal(rb.rops[2].rop_id, MH_ROP_GET_PROPERTIES_SPECIFIC);
	assert_int_equal(rb.rops[2].u.get_props_specific.tags->cValues, 1);
	assert_int_equal(rb.rops[2].u.get_props_specific.tags->aulPropTag[0], PR_DISPLAY_NAME_W);
	assert_int_equal(rb.handle_count, 2);
	mh_buf out = MH_BUF_INIT;
	mh_rop_request_buffer_push(&out, &rb);
	assert_bytes(out.data, out.len, b.data, b.len);
	mh_buf_free(&out);

	/* Each truncation of the walked ROP inside the buffer fails as corrupt data. */
	for (size_t cut = 7; cut < third; cut++) {
		uint8_t *copy = malloc(cut);
		assert_non_null(copy);
		memcpy(copy, b.data, cut);
		copy[0] = (uint8_t)cut;
		copy[1] = 0;
		mh_cursor_init(&c, copy, cut, MAPI_E_CORRUPT_DATA);
		assert_int_equal(mh_rop_request_buffer_pull(&c, &a, &rb, &info),
		                 MAPI_E_CORRUPT_DATA);
		assert_non_null(
		    strstr(mh_error_last()->message, "RopGetPropertyIdsFromNames at byte 6"));
		free(copy);
	}

	/* A stateful ROP in the middle still ends the pull there. */
	b.data[6] = 0x11;
	mh_cursor_init(&c, b.data, b.len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_request_buffer_pull(&c, &a, &rb, &info), MAPI_E_NO_SUPPORT);
	assert_int_equal(rb.count, 1);
	assert_int_equal(info.index, 1);
	assert_int_equal(info.offset, 6);
	assert_int_equal(info.rop_id, 0x11);
	assert_non_null(strstr(mh_error_last()->message, "RopSetMessageReadFlag"));
	mh_buf_free(&b);
	mh_arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rop__logon_request_vector),
	    cmocka_unit_test(test_rop__logon_success_vector),
	    cmocka_unit_test(test_rop__logon_redirect_and_failure_vectors),
	    cmocka_unit_test(test_rop__failure_is_header_only),
	    cmocka_unit_test(test_rop__spec_layouts),
	    cmocka_unit_test(test_rop__input_buffer_vectors),
	    cmocka_unit_test(test_rop__chain_request_vector),
	    cmocka_unit_test(test_rop__published_table_vectors),
	    cmocka_unit_test(test_rop__msoxorule_queryrows_response),
	    cmocka_unit_test(test_rop__gromox_logon_alice),
	    cmocka_unit_test(test_rop__gromox_logon_others),
	    cmocka_unit_test(test_rop__gromox_hierarchy_tables),
	    cmocka_unit_test(test_rop__gromox_contents_tables),
	    cmocka_unit_test(test_rop__gromox_properties),
	    cmocka_unit_test(test_rop__columns_from_callback),
	    cmocka_unit_test(test_rop__unknown_request_rop),
	    cmocka_unit_test(test_rop__unknown_response_rop),
	    cmocka_unit_test(test_rop__skip_fixed_layouts),
	    cmocka_unit_test(test_rop__skip_kinds),
	    cmocka_unit_test(test_rop__skip_variable_layouts),
	    cmocka_unit_test(test_rop__skip_errors),
	    cmocka_unit_test(test_rop__skip_in_buffer),
	    cmocka_unit_test(test_rop__framing_errors),
	    cmocka_unit_test(test_rop__sized_strings),
	    cmocka_unit_test(test_rop__special_responses),
	    cmocka_unit_test(test_rop__push_errors),
	    cmocka_unit_test(test_rop__arena_cap),
	    cmocka_unit_test(test_rop__truncations),
	    cmocka_unit_test(test_rop__bit_flips),
	    cmocka_unit_test(test_rop__random_requests),
	    cmocka_unit_test(test_rop__random_responses),
	    cmocka_unit_test(test_rop__random_buffers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
