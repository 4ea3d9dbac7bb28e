/*
 * Tests of mapihttpd's ROP processor: request buffers built with the ROP codec, run against
 * the sample organisation, responses decoded with the codec: routing and rights, the
 * handle-index model, every served ROP, output limits, faults and malformed input.
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

#include "codec/propval.h"
#include "codec/rop.h"
#include "mapihttp/status.h"
#include "server/fault.h"
#include "server/rop_srv.h"
#include "server/store.h"
#include "util/arena.h"
#include "util/buf.h"

#define DN_PREFIX   "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define ALICE_DN    DN_PREFIX "/cn=Recipients/cn=alice"
#define BOB_DN      DN_PREFIX "/cn=Recipients/cn=bob"
#define CAROL_DN    DN_PREFIX "/cn=Recipients/cn=carol"
#define HELPDESK_DN DN_PREFIX "/cn=Recipients/cn=helpdesk"
#define ARCHIVE_ID  "6bc6e012-62aa-8d2f-bbd6-151067afaa5d@contoso.test"
#define ARCHIVE_DN  BOB_DN "/guid=6bc6e012-62aa-8d2f-bbd6-151067afaa5d"
#define SERVERS     DN_PREFIX "/cn=Configuration/cn=Servers/cn="
#define NONE        0xFFFFFFFFu

#define TAG_FID           0x67480014u
#define TAG_MID           0x674A0014u
#define TAG_DISPLAY_NAME  0x3001001Fu
#define TAG_DEPTH         0x30050003u
#define TAG_CONTENT_COUNT 0x36020003u
#define TAG_SUBFOLDERS    0x360A000Bu
#define TAG_ENTRYID       0x0FFF0102u
#define TAG_SUBJECT       0x0037001Fu
#define TAG_READ          0x0E69000Bu
#define TAG_HAS_ATTACH    0x0E1B000Bu
#define TAG_BODY          0x1000001Fu
#define TAG_IMPORTANCE    0x00170003u
#define TAG_INTERNET_ID   0x1035001Fu

typedef struct fixture {
	mh_srv_store *st;
	mh_arena a;
	const SPropTagArray *cols; /* for a QueryRows whose SetColumns ran in an earlier Execute */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	if (f == NULL || mh_srv_store_open(&f->st, NULL) != S_OK ||
	    mh_srv_store_load_sample(f->st) != S_OK)
		return -1;
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

/* A context for principal (an SMTP address) on the endpoint of mailbox (an address form). */
static mh_srv_rop_session *session(fixture *f, const char *principal, const char *mailbox,
                                   const mh_srv_rop_options *opts)
{
	mh_srv_recipient p;
	mh_srv_mailbox m;
	mh_srv_rop_session *s = NULL;
	assert_int_equal(mh_srv_store_recipient_by_smtp(f->st, &f->a, principal, &p), S_OK);
	assert_int_equal(mh_srv_store_mailbox_by_address(f->st, &f->a, mailbox, &m), S_OK);
	assert_int_equal(mh_srv_rop_session_new(&s, f->st, opts, &p, &m), S_OK);
	return s;
}

static mh_srv_mailbox mailbox(fixture *f, const char *address)
{
	mh_srv_mailbox m;
	assert_int_equal(mh_srv_store_mailbox_by_address(f->st, &f->a, address, &m), S_OK);
	return m;
}

/* ---- request builders ---------------------------------------------------------------- */

static SPropTagArray *tags(fixture *f, unsigned n, ...)
{
	SPropTagArray *t;
	va_list ap;
	assert_int_equal(mh_arena_alloc(&f->a, CbNewSPropTagArray(n), (void **)&t), S_OK);
	t->cValues = n;
	va_start(ap, n);
	for (unsigned i = 0; i < n; i++)
		t->aulPropTag[i] = va_arg(ap, uint32_t);
	va_end(ap);
	return t;
}

static mh_rop_request logon_req(uint8_t lid, uint8_t out, const char *dn)
{
	mh_rop_request q;
	memset(&q, 0, sizeof(q));
	q.rop_id = MH_ROP_LOGON;
	q.logon_id = lid;
	q.out_handle_index = out;
	q.u.logon.logon_flags = MH_LOGON_FLAG_PRIVATE;
	q.u.logon.open_flags = 0x0100040C;
	q.u.logon.essdn = (char *)(uintptr_t)dn;
	return q;
}

static mh_rop_request rop(uint8_t id, uint8_t lid, uint8_t in, uint8_t out)
{
	mh_rop_request q;
	memset(&q, 0, sizeof(q));
	q.rop_id = id;
	q.logon_id = lid;
	q.in_handle_index = in;
	q.out_handle_index = out;
	return q;
}

static mh_rop_request open_folder(uint8_t lid, uint8_t in, uint8_t out, uint64_t fid)
{
	mh_rop_request q = rop(MH_ROP_OPEN_FOLDER, lid, in, out);
	q.u.open_folder.folder_id = fid;
	return q;
}

static mh_rop_request get_table(uint8_t id, uint8_t lid, uint8_t in, uint8_t out, uint8_t flags)
{
	mh_rop_request q = rop(id, lid, in, out);
	q.u.get_table.table_flags = flags;
	return q;
}

static mh_rop_request set_columns(uint8_t lid, uint8_t in, SPropTagArray *cols)
{
	mh_rop_request q = rop(MH_ROP_SET_COLUMNS, lid, in, 0);
	q.u.set_columns.tags = cols;
	return q;
}

static mh_rop_request query_rows(uint8_t lid, uint8_t in, uint8_t flags, uint8_t fwd,
                                 uint16_t count)
{
	mh_rop_request q = rop(MH_ROP_QUERY_ROWS, lid, in, 0);
	q.u.query_rows.flags = flags;
	q.u.query_rows.forward_read = fwd;
	q.u.query_rows.row_count = count;
	return q;
}

static mh_rop_request get_props(uint8_t lid, uint8_t in, uint16_t unicode, SPropTagArray *t)
{
	mh_rop_request q = rop(MH_ROP_GET_PROPERTIES_SPECIFIC, lid, in, 0);
	q.u.get_props_specific.want_unicode = unicode;
	q.u.get_props_specific.tags = t;
	return q;
}

static mh_rop_request open_message(uint8_t lid, uint8_t in, uint8_t out, uint64_t fid, uint64_t mid)
{
	mh_rop_request q = rop(MH_ROP_OPEN_MESSAGE, lid, in, out);
	q.u.open_message.code_page_id = 0x0FFF;
	q.u.open_message.folder_id = fid;
	q.u.open_message.message_id = mid;
	return q;
}

/* ---- running ---------------------------------------------------------------------------- */

typedef struct call {
	mh_srv_rop_result res;
	mh_rop_response_buffer out;
	uint8_t *bytes; /* the raw output buffer, in the fixture arena */
	size_t len;
	mh_status st;
} call;

static const SPropTagArray *cols_cb(uint8_t logon_id, uint32_t handle, void *payload)
{
	(void)logon_id;
	(void)handle;
	return ((const fixture *)payload)->cols;
}

static call run_bytes(fixture *f, mh_srv_rop_session *s, const uint8_t *in, size_t in_len,
                      const mh_rop_request *reqs, uint32_t n, size_t max_out)
{
	call c;
	mh_buf out = MH_BUF_INIT;
	memset(&c, 0, sizeof(c));
	c.st = mh_srv_rop_execute(s, &f->a, in, in_len, max_out, &out, &c.res);
	assert_int_equal(mh_buf_status(&out), S_OK);
	if (out.len > 0) {
		assert_true(out.len <= max_out);
		assert_int_equal(mh_arena_memdup(&f->a, out.data, out.len, (void **)&c.bytes),
		                 S_OK);
		c.len = out.len;
	}
	if (out.len > 0 && reqs != NULL) {
		mh_rop_response_ctx ctx = {reqs, n, cols_cb, f};
		mh_cursor cur;
		mh_cursor_init(&cur, c.bytes, c.len, MAPI_E_CORRUPT_DATA);
		assert_int_equal(mh_rop_response_buffer_pull(&cur, &f->a, &ctx, &c.out), S_OK);
	}
	mh_buf_free(&out);
	return c;
}

static uint8_t *request_bytes(fixture *f, const mh_rop_request *reqs, uint32_t n, uint32_t *handles,
                              uint32_t nh, size_t *len)
{
	mh_rop_request_buffer rb = {n, (mh_rop_request *)(uintptr_t)reqs, nh, handles};
	mh_buf b = MH_BUF_INIT;
	uint8_t *copy;
	mh_rop_request_buffer_push(&b, &rb);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_int_equal(mh_arena_memdup(&f->a, b.data, b.len, (void **)&copy), S_OK);
	*len = b.len;
	mh_buf_free(&b);
	return copy;
}

static call run_max(fixture *f, mh_srv_rop_session *s, const mh_rop_request *reqs, uint32_t n,
                    uint32_t *handles, uint32_t nh, size_t max_out)
{
	size_t len;
	uint8_t *in = request_bytes(f, reqs, n, handles, nh, &len);
	call c = run_bytes(f, s, in, len, reqs, n, max_out);
	assert_int_equal(c.st, S_OK);
	return c;
}

static call run(fixture *f, mh_srv_rop_session *s, const mh_rop_request *reqs, uint32_t n,
                uint32_t *handles, uint32_t nh)
{
	return run_max(f, s, reqs, n, handles, nh, 0x8000);
}

/* Logs on with dn at index 0 of a one-entry table; the response. */
static mh_rop_response logon(fixture *f, mh_srv_rop_session *s, const char *dn, uint32_t *handle)
{
	uint32_t h[1] = {NONE};
	mh_rop_request q = logon_req(0, 0, dn);
	call c = run(f, s, &q, 1, h, 1);
	assert_int_equal(c.res.error_code, 0);
	assert_int_equal(c.out.count, 1);
	if (handle != NULL)
		*handle = c.out.handles[0];
	return c.out.rops[0];
}

static mh_rop_response one(fixture *f, mh_srv_rop_session *s, mh_rop_request q, uint32_t *h,
                           uint32_t nh)
{
	call c = run(f, s, &q, 1, h, nh);
	assert_int_equal(c.res.error_code, 0);
	if (q.rop_id == MH_ROP_RELEASE) {
		assert_int_equal(c.out.count, 0);
		mh_rop_response none;
		memset(&none, 0, sizeof(none));
		return none;
	}
	assert_int_equal(c.out.count, 1);
	for (uint32_t i = 0; i < nh && i < c.out.handle_count; i++)
		h[i] = c.out.handles[i];
	return c.out.rops[0];
}

static uint64_t fid(uint64_t counter)
{
	return mh_id_make(MH_SRV_REPLID, counter);
}

#define FID_ROOT        fid(1)
#define FID_IPM_SUBTREE fid(4)
#define FID_INBOX       fid(5)
#define FID_SENT        fid(7)

/* Opens a folder of logon handle lh; its handle, or NONE with *rv. */
static uint32_t open_fid(fixture *f, mh_srv_rop_session *s, uint32_t lh, uint64_t folder,
                         mh_status *rv)
{
	uint32_t h[2] = {lh, NONE};
	mh_rop_response r = one(f, s, open_folder(0, 0, 1, folder), h, 2);
	*rv = r.return_value;
	return r.return_value == S_OK ? h[1] : NONE;
}

/* A table's rows over cols: GetXTable, SetColumns, QueryRows in one Execute. */
static call table_rows(fixture *f, mh_srv_rop_session *s, uint32_t parent, uint8_t rop_id,
                       uint8_t flags, SPropTagArray *cols, uint16_t count, uint32_t *table)
{
	uint32_t h[2] = {parent, NONE};
	mh_rop_request q[3] = {get_table(rop_id, 0, 0, 1, flags), set_columns(0, 1, cols),
	                       query_rows(0, 1, 0, 1, count)};
	call c = run(f, s, q, 3, h, 2);
	assert_int_equal(c.res.error_code, 0);
	assert_int_equal(c.out.count, 3);
	assert_int_equal(c.out.rops[0].return_value, S_OK);
	assert_int_equal(c.out.rops[1].return_value, S_OK);
	if (table != NULL)
		*table = c.out.handles[1];
	return c;
}

static const char *row_str(const mh_prop_row *r, unsigned i)
{
	assert_int_equal(PROP_TYPE(r->lpProps[i].ulPropTag), PT_UNICODE);
	return r->lpProps[i].Value.lpszW;
}

/* ---- logon and routing ------------------------------------------------------------------ */

static void test_server_rop__logon_owner(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	mh_srv_mailbox m = mailbox(f, "bob@contoso.test");
	uint32_t h;
	mh_rop_response r = logon(f, s, BOB_DN, &h);
	assert_int_equal(r.return_value, S_OK);
	assert_true(r.u.logon.is_private);
	assert_int_equal(r.u.logon.response_flags, 0x07);
	assert_int_equal(r.u.logon.logon_flags, MH_LOGON_FLAG_PRIVATE);
	assert_memory_equal(&r.u.logon.mailbox_guid, &m.guid, sizeof(GUID));
	assert_memory_equal(&r.u.logon.repl_guid, &m.repl_guid, sizeof(GUID));
	assert_int_equal(r.u.logon.repl_id, 1);
	for (unsigned i = 0; i < MH_LOGON_FID_COUNT; i++)
		assert_int_equal(r.u.logon.folder_ids[i], fid(i + 1));
	assert_true(r.u.logon.logon_time.year >= 2024);
	assert_true(r.u.logon.logon_time.month >= 1 && r.u.logon.logon_time.month <= 12);
	assert_int_equal(r.u.logon.store_state, 0);
	assert_true(h != NONE && h != 0);
	assert_int_equal(mh_srv_rop_session_objects(s), 1);
	/* Reusing the LogonId replaces the logon: still one object, a new handle. */
	uint32_t h2;
	assert_int_equal(logon(f, s, BOB_DN, &h2).return_value, S_OK);
	assert_int_equal(mh_srv_rop_session_objects(s), 1);
	assert_int_not_equal(h, h2);
	mh_srv_rop_session_free(s);
}

static void test_server_rop__logon_routing(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	mh_srv_mailbox alice = mailbox(f, "alice@contoso.test");
	mh_rop_response r = logon(f, s, DN_PREFIX "/cn=Recipients/cn=nobody", NULL);
	assert_int_equal(r.return_value, ecUnknownUser);
	r = logon(f, s, ALICE_DN, NULL);
	assert_int_equal(r.return_value, ecWrongServer);
	assert_int_equal(r.u.logon.logon_flags, MH_LOGON_FLAG_PRIVATE);
	assert_string_equal(r.u.logon.server_name, alice.server_dn);
	assert_string_equal(r.u.logon.server_name, SERVERS "3a355873-72e9-840e-9c30-d2cf806e1a0f"
	                                                   "@contoso.test");
	/* No public folders here. */
	uint32_t h[1] = {NONE};
	mh_rop_request q = logon_req(0, 0, BOB_DN);
	q.u.logon.logon_flags = 0;
	assert_int_equal(one(f, s, q, h, 1).return_value, ecLoginFailure);
	/* Admin privilege on one's own mailbox is harmless. */
	q = logon_req(0, 0, BOB_DN);
	q.u.logon.open_flags |= 0x1;
	assert_int_equal(one(f, s, q, h, 1).return_value, S_OK);
	assert_int_equal(mh_srv_rop_session_objects(s), 1);
	mh_srv_rop_session_free(s);

	/* svc has FullAccess on bob: owner-equivalent, but no admin logon. */
	s = session(f, "svc@contoso.test", "bob@contoso.test", NULL);
	r = logon(f, s, BOB_DN, NULL);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.logon.response_flags, 0x03);
	h[0] = NONE;
	q = logon_req(1, 0, BOB_DN);
	q.u.logon.open_flags |= 0x1;
	assert_int_equal(one(f, s, q, h, 1).return_value, ecLoginPerm);
	mh_srv_rop_session_free(s);
}

static void test_server_rop__seed_archive(void **state)
{
	fixture *f = *state;
	mh_srv_mailbox arch = mailbox(f, "ExchangeGuid+" ARCHIVE_ID);
	/* svc on the archive's own context: FullAccess on bob covers his archive. */
	mh_srv_rop_session *s = session(f, "svc@contoso.test", ARCHIVE_ID, NULL);
	mh_rop_response r = logon(f, s, ARCHIVE_DN, NULL);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.logon.response_flags, 0x03);
	assert_memory_equal(&r.u.logon.mailbox_guid, &arch.guid, sizeof(GUID));
	mh_srv_rop_session_free(s);
	/* svc on its own context, naming the archive: redirected to the archive's server. */
	s = session(f, "svc@contoso.test", "svc@contoso.test", NULL);
	r = logon(f, s, ARCHIVE_DN, NULL);
	assert_int_equal(r.return_value, ecWrongServer);
	assert_string_equal(r.u.logon.server_name, SERVERS ARCHIVE_ID);
	assert_string_equal(r.u.logon.server_name, arch.server_dn);
	mh_srv_rop_session_free(s);
	/* carol has no rights: an archive has no delegate mode. */
	s = session(f, "carol@contoso.test", ARCHIVE_ID, NULL);
	assert_int_equal(logon(f, s, ARCHIVE_DN, NULL).return_value, ecLoginPerm);
	assert_int_equal(mh_srv_rop_session_objects(s), 0);
	mh_srv_rop_session_free(s);
	/* bob, the owner, on his archive. */
	s = session(f, "bob@contoso.test", ARCHIVE_ID, NULL);
	assert_int_equal(logon(f, s, ARCHIVE_DN, NULL).u.logon.response_flags, 0x07);
	mh_srv_rop_session_free(s);
}

static void test_server_rop__delegate_rights(void **state)
{
	fixture *f = *state;
	mh_status rv;
	uint32_t lh;
	/* alice is Reviewer on bob's Inbox only. */
	mh_srv_rop_session *s = session(f, "alice@contoso.test", "bob@contoso.test", NULL);
	mh_rop_response r = logon(f, s, BOB_DN, &lh);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.logon.response_flags, 0x01);
	open_fid(f, s, lh, FID_ROOT, &rv);
	assert_int_equal(rv, ecAccessDenied);
	open_fid(f, s, lh, FID_IPM_SUBTREE, &rv);
	assert_int_equal(rv, ecAccessDenied);
	open_fid(f, s, lh, FID_SENT, &rv);
	assert_int_equal(rv, ecAccessDenied);
	open_fid(f, s, lh, fid(999), &rv);
	assert_int_equal(rv, ecNotFound);
	uint32_t inbox = open_fid(f, s, lh, FID_INBOX, &rv);
	assert_int_equal(rv, S_OK);
	/* The Inbox's messages are readable; Projects below it is not visible. */
	call c = table_rows(f, s, inbox, MH_ROP_GET_CONTENTS_TABLE, 0x40,
	                    tags(f, 2, TAG_SUBJECT, TAG_MID), 100, NULL);
	assert_int_equal(c.out.rops[0].u.get_table.row_count, 4);
	assert_int_equal(c.out.rops[2].u.query_rows.row_count, 4);
	assert_string_equal(row_str(&c.out.rops[2].u.query_rows.rows[0], 0), "Printer on floor 3");
	uint64_t mid = (uint64_t)c.out.rops[2].u.query_rows.rows[0].lpProps[1].Value.li;
	c = table_rows(f, s, inbox, MH_ROP_GET_HIERARCHY_TABLE, 0, tags(f, 1, TAG_DISPLAY_NAME), 10,
	               NULL);
	assert_int_equal(c.out.rops[0].u.get_table.row_count, 0);
	uint32_t h[2] = {inbox, NONE};
	r = one(f, s, open_message(0, 0, 1, FID_INBOX, mid), h, 2);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.open_message.normalized_subject.type, MH_TYPED_STRING_UNICODE);
	assert_string_equal(r.u.open_message.normalized_subject.value, "Printer on floor 3");
	r = one(f, s, get_props(0, 1, 1, tags(f, 1, TAG_BODY)), h, 2);
	assert_int_equal(r.return_value, S_OK);
	assert_string_equal(r.u.get_props_specific.row.lpProps[0].Value.lpszW,
	                    "The printer on floor 3 is fixed.\r\n");
	/* A message of Sent Items, opened through the logon: denied. */
	uint32_t hl[2] = {lh, NONE};
	mh_srv_rop_session *own = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	uint32_t olh;
	logon(f, own, BOB_DN, &olh);
	uint32_t sent = open_fid(f, own, olh, FID_SENT, &rv);
	c = table_rows(f, own, sent, MH_ROP_GET_CONTENTS_TABLE, 0, tags(f, 1, TAG_MID), 1, NULL);
	uint64_t sent_mid = (uint64_t)c.out.rops[2].u.query_rows.rows[0].lpProps[0].Value.li;
	assert_int_equal(one(f, s, open_message(0, 0, 1, FID_SENT, sent_mid), hl, 2).return_value,
	                 ecAccessDenied);
	/* The right folder, a wrong MID: not found. */
	assert_int_equal(one(f, s, open_message(0, 0, 1, FID_INBOX, sent_mid), hl, 2).return_value,
	                 ecNotFound);
	mh_srv_rop_session_free(own);
	mh_srv_rop_session_free(s);

	/* carol has no rights: folder mode logs on and denies, logon mode refuses. */
	s = session(f, "carol@contoso.test", "bob@contoso.test", NULL);
	r = logon(f, s, BOB_DN, &lh);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.logon.response_flags, 0x01);
	open_fid(f, s, lh, FID_INBOX, &rv);
	assert_int_equal(rv, ecAccessDenied);
	mh_srv_rop_session_free(s);
	mh_srv_rop_options o = MH_SRV_ROP_OPTIONS_INIT;
	o.rights_mode = MH_SRV_RIGHTS_LOGON;
	s = session(f, "carol@contoso.test", "bob@contoso.test", &o);
	assert_int_equal(logon(f, s, BOB_DN, NULL).return_value, ecLoginPerm);
	mh_srv_rop_session_free(s);
	/* alice in logon mode too. */
	s = session(f, "alice@contoso.test", "bob@contoso.test", &o);
	assert_int_equal(logon(f, s, BOB_DN, NULL).return_value, ecLoginPerm);
	mh_srv_rop_session_free(s);
	/* svc (FullAccess on helpdesk) opens everything there. */
	s = session(f, "svc@contoso.test", "helpdesk@contoso.test", NULL);
	r = logon(f, s, HELPDESK_DN, &lh);
	assert_int_equal(r.u.logon.response_flags, 0x03);
	open_fid(f, s, lh, FID_ROOT, &rv);
	assert_int_equal(rv, S_OK);
	inbox = open_fid(f, s, lh, FID_INBOX, &rv);
	c = table_rows(f, s, inbox, MH_ROP_GET_CONTENTS_TABLE, 0, tags(f, 1, TAG_SUBJECT), 10,
	               NULL);
	assert_int_equal(c.out.rops[2].u.query_rows.row_count, 3);
	mh_srv_rop_session_free(s);
}

/* ---- handles ---------------------------------------------------------------------------- */

static void test_server_rop__handles(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	/* Chaining: logon 0, open Inbox 0->1, contents 1->2, SetColumns and QueryRows on 2. */
	uint32_t h[4] = {NONE, NONE, NONE, NONE};
	mh_rop_request q[5] = {logon_req(0, 0, BOB_DN), open_folder(0, 0, 1, FID_INBOX),
	                       get_table(MH_ROP_GET_CONTENTS_TABLE, 0, 1, 2, 0x40),
	                       set_columns(0, 2, tags(f, 1, TAG_SUBJECT)),
	                       query_rows(0, 2, 0, 1, 10)};
	call c = run(f, s, q, 5, h, 4);
	assert_int_equal(c.out.count, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(c.out.rops[i].return_value, S_OK);
	assert_int_equal(c.out.handle_count, 4);
	assert_true(c.out.handles[0] != NONE && c.out.handles[1] != NONE &&
	            c.out.handles[2] != NONE);
	assert_int_equal(c.out.handles[3], NONE);
	assert_true(c.out.handles[0] != c.out.handles[1] && c.out.handles[1] != c.out.handles[2]);
	assert_int_equal(c.out.rops[4].u.query_rows.row_count, 4);
	assert_int_equal(mh_srv_rop_session_objects(s), 3);
	uint32_t logon_h = c.out.handles[0], inbox_h = c.out.handles[1];

	/* A failed ROP writes nothing, so what depends on it fails with ecNullObject. */
	uint32_t h2[3] = {logon_h, NONE, NONE};
	mh_rop_request q2[3] = {open_folder(0, 0, 1, fid(4242)),
	                        get_table(MH_ROP_GET_HIERARCHY_TABLE, 0, 1, 2, 0),
	                        open_folder(0, 0, 7, FID_INBOX)};
	c = run(f, s, q2, 3, h2, 3);
	assert_int_equal(c.out.count, 3);
	assert_int_equal(c.out.rops[0].return_value, ecNotFound);
	assert_int_equal(c.out.rops[1].return_value, ecNullObject);
	assert_int_equal(c.out.rops[2].return_value, ecNullObject); /* output index 7 of 3 */
	assert_int_equal(c.out.handles[1], NONE);
	assert_int_equal(c.out.handles[2], NONE);

	/* An input index out of range. */
	uint32_t h3[1] = {logon_h};
	assert_int_equal(one(f, s, open_folder(0, 5, 0, FID_INBOX), h3, 1).return_value,
	                 ecNullObject);
	/* A handle of another logon. */
	h3[0] = inbox_h;
	assert_int_equal(one(f, s, rop(MH_ROP_GET_PROPERTIES_LIST, 3, 0, 0), h3, 1).return_value,
	                 ecAccessDenied);
	/* Release, then reuse: ecInvalidObject. RopRelease has no response. */
	h3[0] = inbox_h;
	one(f, s, rop(MH_ROP_RELEASE, 0, 0, 0), h3, 1);
	assert_int_equal(mh_srv_rop_session_objects(s), 2);
	h3[0] = inbox_h;
	assert_int_equal(one(f, s, rop(MH_ROP_GET_PROPERTIES_LIST, 0, 0, 0), h3, 1).return_value,
	                 ecInvalidObject);
	h3[0] = 0x12345678;
	assert_int_equal(one(f, s, rop(MH_ROP_GET_PROPERTIES_LIST, 0, 0, 0), h3, 1).return_value,
	                 ecInvalidObject);
	/* Releasing the logon releases its objects. */
	h3[0] = logon_h;
	one(f, s, rop(MH_ROP_RELEASE, 0, 0, 0), h3, 1);
	assert_int_equal(mh_srv_rop_session_objects(s), 0);
	mh_srv_rop_session_free(s);
}

static void test_server_rop__object_cap(void **state)
{
	fixture *f = *state;
	mh_srv_rop_options o = MH_SRV_ROP_OPTIONS_INIT;
	o.max_objects = 3;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", &o);
	uint32_t h[4] = {NONE, NONE, NONE, NONE};
	mh_rop_request q[4] = {logon_req(0, 0, BOB_DN), open_folder(0, 0, 1, FID_INBOX),
	                       open_folder(0, 0, 2, FID_SENT), open_folder(0, 0, 3, FID_ROOT)};
	call c = run(f, s, q, 4, h, 4);
	assert_int_equal(c.out.count, 4);
	assert_int_equal(c.out.rops[2].return_value, S_OK);
	assert_int_equal(c.out.rops[3].return_value, ecOutOfResources);
	assert_int_equal(c.out.handles[3], NONE);
	assert_int_equal(mh_srv_rop_session_objects(s), 3);
	/* Freeing the session frees them (checked by the leak checkers). */
	mh_srv_rop_session_free(s);
}

/* ---- tables ----------------------------------------------------------------------------- */

static void test_server_rop__hierarchy(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	mh_srv_mailbox m = mailbox(f, "bob@contoso.test");
	mh_status rv;
	uint32_t lh;
	logon(f, s, BOB_DN, &lh);
	uint32_t root = open_fid(f, s, lh, FID_ROOT, &rv);
	SPropTagArray *cols = tags(f, 7, TAG_DISPLAY_NAME, TAG_DEPTH, TAG_CONTENT_COUNT,
	                           TAG_SUBFOLDERS, TAG_ENTRYID, TAG_FID, 0x67490014u);
	call c = table_rows(f, s, root, MH_ROP_GET_HIERARCHY_TABLE, 0, cols, 100, NULL);
	assert_int_equal(c.out.rops[0].u.get_table.row_count, 8);
	c = table_rows(f, s, root, MH_ROP_GET_HIERARCHY_TABLE, 0x04, cols, 100, NULL);
	assert_int_equal(c.out.rops[0].u.get_table.row_count, 13);
	const mh_rop_response *qr = &c.out.rops[2];
	assert_int_equal(qr->u.query_rows.row_count, 13);
	assert_int_equal(qr->u.query_rows.origin, 2);
	bool saw_projects = false, saw_inbox = false;
	for (unsigned i = 0; i < 13; i++) {
		const mh_prop_row *row = &qr->u.query_rows.rows[i];
		assert_int_equal(row->flag, 0);
		const char *name = row_str(row, 0);
		if (strcmp(name, "Inbox") == 0) {
			saw_inbox = true;
			assert_int_equal(row->lpProps[1].Value.l, 2);
			assert_int_equal(row->lpProps[2].Value.l, 4);
			assert_true(row->lpProps[3].Value.b);
			assert_int_equal(row->lpProps[5].Value.li, (int64_t)FID_INBOX);
			assert_int_equal(row->lpProps[6].Value.li, (int64_t)FID_IPM_SUBTREE);
			const SBinary *eid = &row->lpProps[4].Value.bin;
			assert_int_equal(eid->cb, 46);
			assert_memory_equal(eid->lpb + 4, &m.guid, 4); /* Data1, little-endian */
			assert_int_equal(eid->lpb[20], 1);
			assert_int_equal(eid->lpb[44 - 1], 5); /* counter 5, big-endian */
		}
		if (strcmp(name, "Projects") == 0) {
			saw_projects = true;
			assert_int_equal(row->lpProps[1].Value.l, 3);
			assert_int_equal(row->lpProps[2].Value.l, 2);
			assert_false(row->lpProps[3].Value.b);
		}
	}
	assert_true(saw_inbox && saw_projects);
	/* Children of the IPM subtree: depth 1. */
	uint32_t ipm = open_fid(f, s, lh, FID_IPM_SUBTREE, &rv);
	c = table_rows(f, s, ipm, MH_ROP_GET_HIERARCHY_TABLE, 0, cols, 100, NULL);
	assert_int_equal(c.out.rops[2].u.query_rows.row_count, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(c.out.rops[2].u.query_rows.rows[i].lpProps[1].Value.l, 1);
	mh_srv_rop_session_free(s);
}

static void test_server_rop__contents_and_cursor(void **state)
{
	fixture *f = *state;
	mh_srv_rop_options o = MH_SRV_ROP_OPTIONS_INIT;
	o.max_rows = 3;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", &o);
	mh_status rv;
	uint32_t lh, t;
	logon(f, s, BOB_DN, &lh);
	uint32_t inbox = open_fid(f, s, lh, FID_INBOX, &rv);
	SPropTagArray *cols =
	    tags(f, 5, TAG_SUBJECT, TAG_READ, TAG_HAS_ATTACH, TAG_ENTRYID, TAG_IMPORTANCE);
	f->cols = cols;
	/* max_rows 3 caps a request for 100. */
	call c = table_rows(f, s, inbox, MH_ROP_GET_CONTENTS_TABLE, 0x40, cols, 100, &t);
	const mh_rop_response *qr = &c.out.rops[2];
	assert_int_equal(qr->u.query_rows.row_count, 3);
	assert_int_equal(qr->u.query_rows.origin, 1);
	assert_string_equal(row_str(&qr->u.query_rows.rows[0], 0), "Printer on floor 3");
	assert_string_equal(row_str(&qr->u.query_rows.rows[1], 0), "Your scan report");
	assert_string_equal(row_str(&qr->u.query_rows.rows[2], 0), "Quarterly report draft");
	assert_false(qr->u.query_rows.rows[0].lpProps[1].Value.b);
	assert_true(qr->u.query_rows.rows[2].lpProps[2].Value.b);
	assert_false(qr->u.query_rows.rows[1].lpProps[2].Value.b);
	assert_int_equal(qr->u.query_rows.rows[2].lpProps[3].Value.bin.cb, 70);
	assert_int_equal(qr->u.query_rows.rows[2].lpProps[4].Value.l, 1);
	assert_int_equal(qr->u.query_rows.rows[0].lpProps[4].Value.l, 1);

	uint32_t h[1] = {t};
	/* NoAdvance reads the 4th row twice. */
	mh_rop_response r = one(f, s, query_rows(0, 0, 1, 1, 10), h, 1);
	assert_int_equal(r.u.query_rows.row_count, 1);
	assert_int_equal(r.u.query_rows.origin, 2);
	assert_string_equal(row_str(&r.u.query_rows.rows[0], 0), "RE: Lunch on Friday?");
	assert_true(r.u.query_rows.rows[0].lpProps[1].Value.b);
	r = one(f, s, query_rows(0, 0, 0, 1, 10), h, 1);
	assert_int_equal(r.u.query_rows.row_count, 1);
	/* At the end: zero rows. */
	r = one(f, s, query_rows(0, 0, 0, 1, 10), h, 1);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.query_rows.row_count, 0);
	assert_int_equal(r.u.query_rows.origin, 2);
	/* Backwards from the end. */
	r = one(f, s, query_rows(0, 0, 0, 0, 2), h, 1);
	assert_int_equal(r.u.query_rows.row_count, 2);
	assert_string_equal(row_str(&r.u.query_rows.rows[0], 0), "Quarterly report draft");
	assert_string_equal(row_str(&r.u.query_rows.rows[1], 0), "RE: Lunch on Friday?");
	assert_int_equal(r.u.query_rows.origin, 1);
	r = one(f, s, query_rows(0, 0, 0, 0, 5), h, 1);
	assert_int_equal(r.u.query_rows.row_count, 2);
	assert_int_equal(r.u.query_rows.origin, 0);
	assert_string_equal(row_str(&r.u.query_rows.rows[0], 0), "Printer on floor 3");
	assert_string_equal(row_str(&r.u.query_rows.rows[1], 0), "Your scan report");
	assert_int_equal(one(f, s, query_rows(0, 0, 0, 1, 0), h, 1).return_value,
	                 ecInvalidParameter);
	/* Too many columns for a table to keep. */
	SPropTagArray *many;
	assert_int_equal(
	    mh_arena_alloc(&f->a, CbNewSPropTagArray(MH_SRV_ROP_MAX_COLUMNS + 1), (void **)&many),
	    S_OK);
	many->cValues = MH_SRV_ROP_MAX_COLUMNS + 1;
	for (uint32_t i = 0; i < many->cValues; i++)
		many->aulPropTag[i] = TAG_SUBJECT;
	assert_int_equal(one(f, s, set_columns(0, 0, many), h, 1).return_value, ecTooBig);
	/* SeekRow. */
	mh_rop_request sk = rop(MH_ROP_SEEK_ROW, 0, 0, 0);
	sk.u.seek_row.origin = 2;
	sk.u.seek_row.row_count = -1;
	r = one(f, s, sk, h, 1);
	assert_int_equal(r.return_value, S_OK);
	assert_false(r.u.seek_row.has_sought_less);
	assert_int_equal(r.u.seek_row.rows_sought, -1);
	r = one(f, s, query_rows(0, 0, 0, 1, 5), h, 1);
	assert_string_equal(row_str(&r.u.query_rows.rows[0], 0), "RE: Lunch on Friday?");
	sk.u.seek_row.origin = 0;
	sk.u.seek_row.row_count = 10;
	r = one(f, s, sk, h, 1);
	assert_true(r.u.seek_row.has_sought_less);
	assert_int_equal(r.u.seek_row.rows_sought, 4);
	sk.u.seek_row.origin = 1;
	sk.u.seek_row.row_count = -3;
	r = one(f, s, sk, h, 1);
	assert_false(r.u.seek_row.has_sought_less);
	assert_int_equal(r.u.seek_row.rows_sought, -3);
	r = one(f, s, query_rows(0, 0, 0, 1, 1), h, 1);
	assert_string_equal(row_str(&r.u.query_rows.rows[0], 0), "Your scan report");
	/* SortTable by subject ascending. */
	mh_rop_sort_order so = {TAG_SUBJECT, 0};
	mh_rop_request st = rop(MH_ROP_SORT_TABLE, 0, 0, 0);
	st.u.sort_table.sort_order_count = 1;
	st.u.sort_table.sort_orders = &so;
	assert_int_equal(one(f, s, st, h, 1).return_value, S_OK);
	r = one(f, s, query_rows(0, 0, 0, 1, 3), h, 1);
	assert_int_equal(r.u.query_rows.row_count, 3);
	assert_string_equal(row_str(&r.u.query_rows.rows[0], 0), "Printer on floor 3");
	assert_string_equal(row_str(&r.u.query_rows.rows[1], 0), "Quarterly report draft");
	assert_string_equal(row_str(&r.u.query_rows.rows[2], 0), "RE: Lunch on Friday?");
	so.order = 1;
	one(f, s, st, h, 1);
	r = one(f, s, query_rows(0, 0, 0, 1, 1), h, 1);
	assert_string_equal(row_str(&r.u.query_rows.rows[0], 0), "Your scan report");
	st.u.sort_table.categorized_count = 1;
	assert_int_equal(one(f, s, st, h, 1).return_value, ecNotSupported);
	/* QueryColumnsAll lists PidTagMid. */
	r = one(f, s, rop(MH_ROP_QUERY_COLUMNS_ALL, 0, 0, 0), h, 1);
	bool mid = false;
	for (uint32_t i = 0; i < r.u.prop_list.tags->cValues; i++)
		mid |= r.u.prop_list.tags->aulPropTag[i] == TAG_MID;
	assert_true(mid);
	/* ResetTable drops the columns and rewinds. */
	assert_int_equal(one(f, s, rop(MH_ROP_RESET_TABLE, 0, 0, 0), h, 1).return_value, S_OK);
	assert_int_equal(one(f, s, query_rows(0, 0, 0, 1, 1), h, 1).return_value, ecNullObject);
	one(f, s, set_columns(0, 0, cols), h, 1);
	r = one(f, s, query_rows(0, 0, 0, 1, 1), h, 1);
	assert_string_equal(row_str(&r.u.query_rows.rows[0], 0), "Printer on floor 3");
	f->cols = NULL;
	mh_srv_rop_session_free(s);
}

static void test_server_rop__query_rows_space(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	mh_status rv;
	uint32_t lh, t;
	logon(f, s, BOB_DN, &lh);
	uint32_t inbox = open_fid(f, s, lh, FID_INBOX, &rv);
	SPropTagArray *cols = tags(f, 1, TAG_SUBJECT);
	f->cols = cols;
	table_rows(f, s, inbox, MH_ROP_GET_CONTENTS_TABLE, 0x40, cols, 0, &t);
	/* Room for the header only (2 + 9 + 4 bytes of table): ecBufferTooSmall. */
	uint32_t h[1] = {t};
	mh_rop_request q = query_rows(0, 0, 0, 1, 10);
	call c = run_max(f, s, &q, 1, h, 1, 2 + 9 + 4 + 10);
	assert_int_equal(c.out.count, 1);
	assert_int_equal(c.out.rops[0].return_value, ecBufferTooSmall);
	/* "Printer on floor 3" takes 1 + 38 bytes: room for exactly two rows of it and the next. */
	size_t two = 1 + 2 * 19 + 1 + 2 * 17; /* "Your scan report" is 16 characters */
	c = run_max(f, s, &q, 1, h, 1, 2 + 9 + 4 + two + 5);
	assert_int_equal(c.out.rops[0].return_value, S_OK);
	assert_int_equal(c.out.rops[0].u.query_rows.row_count, 2);
	c = run(f, s, &q, 1, h, 1);
	assert_int_equal(c.out.rops[0].u.query_rows.row_count, 2);
	/* A SeekRow whose 11-byte answer cannot fit does not run (its 9-byte request does not
	 * fit a RopBufferTooSmall either): the cursor stays at the end. */
	mh_rop_request sk = rop(MH_ROP_SEEK_ROW, 0, 0, 0);
	sk.u.seek_row.origin = 1;
	sk.u.seek_row.row_count = -1;
	c = run_max(f, s, &sk, 1, h, 1, 2 + 4 + 10);
	assert_int_equal(c.res.error_code, 0x47D);
	assert_int_equal(c.len, 0);
	mh_rop_request back = query_rows(0, 0, 0, 0, 1);
	c = run(f, s, &back, 1, h, 1);
	assert_string_equal(row_str(&c.out.rops[0].u.query_rows.rows[0], 0),
	                    "RE: Lunch on Friday?");
	f->cols = NULL;
	mh_srv_rop_session_free(s);
}

static void test_server_rop__permissions_rules(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	mh_status rv;
	uint32_t lh;
	logon(f, s, BOB_DN, &lh);
	uint32_t inbox = open_fid(f, s, lh, FID_INBOX, &rv);
	call c =
	    table_rows(f, s, inbox, MH_ROP_GET_PERMISSIONS_TABLE, 0,
	               tags(f, 4, 0x66710014u, 0x6672001Fu, 0x66730003u, TAG_ENTRYID), 10, NULL);
	const mh_rop_response *qr = &c.out.rops[2];
	assert_int_equal(qr->u.query_rows.row_count, 3);
	assert_int_equal(qr->u.query_rows.rows[0].lpProps[0].Value.li, 0);
	assert_string_equal(row_str(&qr->u.query_rows.rows[0], 1), "Default");
	assert_int_equal(qr->u.query_rows.rows[0].lpProps[2].Value.l, 0);
	assert_int_equal(qr->u.query_rows.rows[1].lpProps[0].Value.li, -1);
	assert_string_equal(row_str(&qr->u.query_rows.rows[1], 1), "Anonymous");
	assert_int_equal(qr->u.query_rows.rows[1].lpProps[3].Value.bin.cb, 0);
	assert_string_equal(row_str(&qr->u.query_rows.rows[2], 1), "Alice Archer");
	assert_int_equal(qr->u.query_rows.rows[2].lpProps[2].Value.l, 0x401);
	assert_true(qr->u.query_rows.rows[2].lpProps[0].Value.li > 0);
	const SBinary *eid = &qr->u.query_rows.rows[2].lpProps[3].Value.bin;
	assert_int_equal(eid->cb, 28 + strlen(ALICE_DN) + 1);
	assert_string_equal((const char *)eid->lpb + 28, ALICE_DN);
	/* The rules table is empty. */
	c = table_rows(f, s, inbox, MH_ROP_GET_RULES_TABLE, 0, tags(f, 1, 0x66740014u), 10, NULL);
	assert_int_equal(c.out.rops[2].u.query_rows.row_count, 0);
	mh_srv_rop_session_free(s);
}

/* ---- messages and properties ------------------------------------------------------------ */

/* The MID of the Inbox message with subject, as bob. */
static uint64_t inbox_mid(fixture *f, mh_srv_rop_session *s, uint32_t inbox, const char *subject)
{
	call c = table_rows(f, s, inbox, MH_ROP_GET_CONTENTS_TABLE, 0x40,
	                    tags(f, 2, TAG_SUBJECT, TAG_MID), 50, NULL);
	for (unsigned i = 0; i < c.out.rops[2].u.query_rows.row_count; i++) {
		const mh_prop_row *row = &c.out.rops[2].u.query_rows.rows[i];
		if (strcmp(row_str(row, 0), subject) == 0)
			return (uint64_t)row->lpProps[1].Value.li;
	}
	fail_msg("no message \"%s\"", subject);
	return 0;
}

/* UTF-16LE z-string at p (ASCII only, for the tests) into buf; returns bytes consumed. */
static size_t utf16_ascii(const uint8_t *p, size_t max, char *buf, size_t cap)
{
	size_t i = 0, k = 0;
	while (i + 1 < max && (p[i] | p[i + 1]) != 0) {
		if (k + 1 < cap)
			buf[k++] = (char)p[i];
		i += 2;
	}
	buf[k] = '\0';
	return i + 2;
}

static void test_server_rop__open_message(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	mh_status rv;
	uint32_t lh;
	logon(f, s, BOB_DN, &lh);
	uint32_t inbox = open_fid(f, s, lh, FID_INBOX, &rv);
	uint64_t mid = inbox_mid(f, s, inbox, "RE: Lunch on Friday?");
	uint32_t h[2] = {inbox, NONE};
	mh_rop_response r = one(f, s, open_message(0, 0, 1, FID_INBOX, mid), h, 2);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.open_message.subject_prefix.type, MH_TYPED_STRING_UNICODE);
	assert_string_equal(r.u.open_message.subject_prefix.value, "RE: ");
	assert_string_equal(r.u.open_message.normalized_subject.value, "Lunch on Friday?");
	assert_int_equal(r.u.open_message.recipient_count, 1);
	assert_int_equal(r.u.open_message.row_count, 1);

	mid = inbox_mid(f, s, inbox, "Quarterly report draft");
	h[1] = NONE;
	r = one(f, s, open_message(0, 0, 1, FID_INBOX, mid), h, 2);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.open_message.subject_prefix.type, MH_TYPED_STRING_EMPTY);
	assert_int_equal(r.u.open_message.recipient_count, 2);
	assert_int_equal(r.u.open_message.row_count, 2);
	const SPropTagArray *rc = r.u.open_message.recipient_columns;
	assert_int_equal(rc->cValues, 4);
	const mh_rop_recipient_row *rr = &r.u.open_message.rows[1];
	assert_int_equal(rr->recipient_type, 1); /* To */
	const uint8_t *p = rr->row.lpb;
	uint16_t flags = (uint16_t)(p[0] | p[1] << 8);
	assert_int_equal(flags & 7, 3);      /* SMTP */
	assert_true(flags & 0x0200);         /* Unicode */
	assert_true((flags & 0x18) == 0x18); /* E, D */
	char email[64], name[64];
	size_t off = 2;
	off += utf16_ascii(p + off, rr->row.cb - off, email, sizeof(email));
	off += utf16_ascii(p + off, rr->row.cb - off, name, sizeof(name));
	assert_string_equal(email, "carol@contoso.test");
	assert_string_equal(name, "Carol Chen");
	assert_int_equal(p[off] | p[off + 1] << 8, 4); /* RecipientColumnCount */
	mh_cursor cur;
	mh_prop_row row;
	mh_cursor_init(&cur, p + off + 2, rr->row.cb - off - 2, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_pv_row_pull(&cur, &f->a, MH_PV_ROP, rc, &row), S_OK);
	assert_int_equal(mh_cursor_remaining(&cur), 0);
	assert_string_equal(row.lpProps[2].Value.lpszW, "carol@contoso.test");
	uint32_t msg = h[1];
	/* ReadRecipients from row 1. */
	mh_rop_request rd = rop(MH_ROP_READ_RECIPIENTS, 0, 1, 0);
	rd.u.read_recipients.row_id = 1;
	r = one(f, s, rd, h, 2);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.read_recipients.row_count, 1);
	assert_int_equal(r.u.read_recipients.rows[0].row_id, 1);
	rd.u.read_recipients.row_id = 2;
	assert_int_equal(one(f, s, rd, h, 2).return_value, ecNotFound);
	/* Stored properties and the body. */
	r = one(f, s,
	        get_props(0, 1, 1,
	                  tags(f, 5, TAG_IMPORTANCE, TAG_INTERNET_ID, TAG_BODY, 0x0037001Eu,
	                       0x7FFF0003u)),
	        h, 2);
	assert_int_equal(r.return_value, S_OK);
	const mh_prop_row *gr = &r.u.get_props_specific.row;
	assert_int_equal(gr->flag, 1);
	assert_int_equal(gr->lpProps[0].Value.l, 1);
	assert_string_equal(gr->lpProps[1].Value.lpszW, "<q1-report-draft@contoso.test>");
	assert_string_equal(gr->lpProps[2].Value.lpszW,
	                    "Draft attached; comments by Tuesday please.\r\n");
	assert_string_equal(gr->lpProps[3].Value.lpszA, "Quarterly report draft");
	assert_int_equal(gr->colflags[4], MH_PV_FLAG_ERROR);
	assert_int_equal(gr->lpProps[4].Value.err, ecNotFound);
	/* PT_UNSPECIFIED: the stored type, strings by WantUnicode. */
	r = one(f, s, get_props(0, 1, 0, tags(f, 2, 0x00370000u, 0x0E080000u)), h, 2);
	gr = &r.u.get_props_specific.row;
	assert_int_equal(gr->flag, 0);
	assert_int_equal(PROP_TYPE(gr->lpProps[0].ulPropTag), PT_STRING8);
	assert_int_equal(PROP_TYPE(gr->lpProps[1].ulPropTag), PT_LONG);
	r = one(f, s, get_props(0, 1, 1, tags(f, 1, 0x00370000u)), h, 2);
	assert_int_equal(PROP_TYPE(r.u.get_props_specific.row.lpProps[0].ulPropTag), PT_UNICODE);
	/* PidTagMessageSize and PidTagMessageSizeExtended share an ID: each answers as asked. */
	r = one(f, s, get_props(0, 1, 1, tags(f, 2, 0x0E080003u, 0x0E080014u)), h, 2);
	gr = &r.u.get_props_specific.row;
	assert_int_equal(gr->flag, 0);
	assert_true(gr->lpProps[0].Value.l > 0);
	assert_int_equal(gr->lpProps[1].Value.li, gr->lpProps[0].Value.l);
	/* A folder's size is the sum of its messages'. */
	uint32_t hf[1] = {inbox};
	r = one(f, s, get_props(0, 0, 1, tags(f, 3, 0x0E080003u, 0x0E080014u, TAG_CONTENT_COUNT)),
	        hf, 1);
	gr = &r.u.get_props_specific.row;
	assert_int_equal(gr->flag, 0);
	assert_int_equal(gr->lpProps[2].Value.l, 4);
	assert_true(gr->lpProps[1].Value.li > 4 * 20);
	assert_int_equal(gr->lpProps[1].Value.li, gr->lpProps[0].Value.l);
	/* GetPropertiesAll and GetPropertiesList. */
	mh_rop_request ga = rop(MH_ROP_GET_PROPERTIES_ALL, 0, 1, 0);
	ga.u.get_props_all.want_unicode = 1;
	r = one(f, s, ga, h, 2);
	assert_int_equal(r.return_value, S_OK);
	bool body = false;
	for (unsigned i = 0; i < r.u.get_props_all.count; i++)
		if (r.u.get_props_all.props[i].ulPropTag == TAG_BODY)
			body = true;
	assert_true(body);
	r = one(f, s, rop(MH_ROP_GET_PROPERTIES_LIST, 0, 1, 0), h, 2);
	bool imp = false;
	for (unsigned i = 0; i < r.u.prop_list.tags->cValues; i++)
		imp |= r.u.prop_list.tags->aulPropTag[i] == TAG_IMPORTANCE;
	assert_true(imp);
	/* The attachment table. */
	h[0] = msg;
	call c = table_rows(
	    f, s, msg, MH_ROP_GET_ATTACHMENT_TABLE, 0x40,
	    tags(f, 5, 0x0E210003u, 0x3707001Fu, 0x0E200003u, 0x370E001Fu, 0x37050003u), 10, NULL);
	assert_int_equal(c.out.rops[2].u.query_rows.row_count, 1);
	const mh_prop_row *ar = &c.out.rops[2].u.query_rows.rows[0];
	assert_string_equal(row_str(ar, 1), "q1-report.txt");
	assert_int_equal(ar->lpProps[2].Value.l, 26);
	assert_string_equal(row_str(ar, 3), "text/plain");
	assert_int_equal(ar->lpProps[4].Value.l, 1);
	mh_srv_rop_session_free(s);
}

static void test_server_rop__streams(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	mh_status rv;
	uint32_t lh;
	logon(f, s, BOB_DN, &lh);
	uint32_t inbox = open_fid(f, s, lh, FID_INBOX, &rv);
	uint64_t mid = inbox_mid(f, s, inbox, "Printer on floor 3");
	const char *body = "The printer on floor 3 is fixed.\r\n";
	size_t blen = strlen(body);
	uint32_t h[3] = {inbox, NONE, NONE};
	mh_rop_request os = rop(MH_ROP_OPEN_STREAM, 0, 1, 2);
	os.u.open_stream.property_tag = TAG_BODY;
	mh_rop_request q[2] = {open_message(0, 0, 1, FID_INBOX, mid), os};
	call c = run(f, s, q, 2, h, 3);
	assert_int_equal(c.out.rops[1].return_value, S_OK);
	assert_int_equal(c.out.rops[1].u.open_stream.stream_size, 2 * blen);
	h[2] = c.out.handles[2];
	mh_rop_request rs = rop(MH_ROP_READ_STREAM, 0, 2, 0);
	rs.u.read_stream.byte_count = 10;
	mh_rop_response r = one(f, s, rs, h, 3);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.read_stream.data.cb, 10);
	assert_memory_equal(r.u.read_stream.data.lpb, "T\0h\0e\0 \0p\0", 10);
	rs.u.read_stream.byte_count = MH_READ_STREAM_USE_MAX;
	rs.u.read_stream.maximum_byte_count = 0x100000;
	r = one(f, s, rs, h, 3);
	assert_int_equal(r.u.read_stream.data.cb, 2 * blen - 10);
	assert_int_equal(r.u.read_stream.data.lpb[0], 'r');
	r = one(f, s, rs, h, 3);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.read_stream.data.cb, 0);
	/* A stream on a missing property; ReadStream on a folder. */
	h[1] = c.out.handles[1];
	os.u.open_stream.property_tag = 0x7FFF0102u;
	h[2] = NONE;
	assert_int_equal(one(f, s, os, h, 3).return_value, ecNotFound);
	h[2] = inbox;
	r = one(f, s, rs, h, 3);
	assert_int_equal(r.return_value, ecNotSupported);
	assert_int_equal(r.u.read_stream.data.cb, 0);
	/* PT_BINARY of a folder: its EntryID. */
	uint32_t h2[2] = {inbox, NONE};
	os = rop(MH_ROP_OPEN_STREAM, 0, 0, 1);
	os.u.open_stream.property_tag = TAG_ENTRYID;
	r = one(f, s, os, h2, 2);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.open_stream.stream_size, 46);
	mh_srv_rop_session_free(s);
}

static void test_server_rop__store_rops(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	mh_srv_mailbox m = mailbox(f, "bob@contoso.test");
	uint32_t lh;
	logon(f, s, BOB_DN, &lh);
	uint32_t h[1] = {lh};
	static const struct {
		const char *cls, *explicit;
		uint64_t folder;
	} cases[] = {{"", "", 5},
	             {"IPM", "IPM", 5},
	             {"IPM.Note", "IPM", 5},
	             {"ipm.note.x", "IPM", 5},
	             {"IPC.Foo", "IPC", 1},
	             {"Custom", "", 5},
	             {"IPMX", "", 5}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mh_rop_request q = rop(MH_ROP_GET_RECEIVE_FOLDER, 0, 0, 0);
		q.u.get_receive_folder.message_class = (char *)(uintptr_t)cases[i].cls;
		mh_rop_response r = one(f, s, q, h, 1);
		assert_int_equal(r.return_value, S_OK);
		assert_int_equal(r.u.get_receive_folder.folder_id, fid(cases[i].folder));
		assert_string_equal(r.u.get_receive_folder.explicit_message_class,
		                    cases[i].explicit);
	}
	mh_rop_request lt = rop(MH_ROP_LONG_TERM_ID_FROM_ID, 0, 0, 0);
	lt.u.long_term_id_from_id.object_id = FID_INBOX;
	mh_rop_response r = one(f, s, lt, h, 1);
	assert_int_equal(r.return_value, S_OK);
	assert_memory_equal(&r.u.long_term_id_from_id.long_term_id.database_guid, &m.repl_guid,
	                    sizeof(GUID));
	assert_int_equal(r.u.long_term_id_from_id.long_term_id.global_counter, 5);
	mh_rop_request id = rop(MH_ROP_ID_FROM_LONG_TERM_ID, 0, 0, 0);
	id.u.id_from_long_term_id.long_term_id = r.u.long_term_id_from_id.long_term_id;
	r = one(f, s, id, h, 1);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.id_from_long_term_id.object_id, FID_INBOX);
	id.u.id_from_long_term_id.long_term_id.database_guid.Data1 ^= 1;
	assert_int_equal(one(f, s, id, h, 1).return_value, ecNotFound);
	lt.u.long_term_id_from_id.object_id = mh_id_make(7, 5);
	assert_int_equal(one(f, s, lt, h, 1).return_value, ecNotFound);
	/* The store object's properties. */
	r = one(
	    f, s,
	    get_props(0, 0, 1, tags(f, 4, 0x661C001Fu, 0x661B0102u, 0x35E00102u, TAG_DISPLAY_NAME)),
	    h, 1);
	assert_int_equal(r.return_value, S_OK);
	const mh_prop_row *row = &r.u.get_props_specific.row;
	assert_int_equal(row->flag, 0);
	assert_string_equal(row->lpProps[0].Value.lpszW, "Bob Baker");
	assert_string_equal((const char *)row->lpProps[1].Value.bin.lpb + 28, BOB_DN);
	assert_int_equal(row->lpProps[2].Value.bin.cb, 46);
	assert_int_equal(row->lpProps[2].Value.bin.lpb[43], 4);
	/* Mailbox totals: bob has 8 messages. */
	r = one(f, s, get_props(0, 0, 1, tags(f, 2, TAG_CONTENT_COUNT, 0x0E080014u)), h, 1);
	assert_int_equal(r.u.get_props_specific.row.lpProps[0].Value.l, 8);
	assert_true(r.u.get_props_specific.row.lpProps[1].Value.li > 8 * 20);
	/* A folder ROP on the logon: not supported. */
	assert_int_equal(one(f, s, query_rows(0, 0, 0, 1, 1), h, 1).return_value, ecNotSupported);
	mh_srv_rop_session_free(s);
}

static void test_server_rop__strings(void **state)
{
	(void)state;
	/* An organisation with a long and a non-ASCII subject. */
	char subject[301];
	memset(subject, 'x', 300);
	subject[300] = '\0';
	char json[2048];
	snprintf(json, sizeof(json),
	         "{\"domain\":\"x.test\",\"organisation\":\"X\",\"users\":[{\"alias\":\"u\","
	         "\"display_name\":\"U\",\"password\":\"P-1-pass\",\"messages\":["
	         "{\"folder\":\"Inbox\",\"received\":\"2024-01-02T00:00:00Z\",\"subject\":\"%s\"},"
	         "{\"folder\":\"Inbox\",\"received\":\"2024-01-01T00:00:00Z\","
	         "\"subject\":\"Caf\\u00e9 \\u20ac\"}]}]}",
	         subject);
	mh_srv_store *st;
	assert_int_equal(mh_srv_store_open(&st, NULL), S_OK);
	assert_int_equal(mh_srv_store_load_json(st, json, strlen(json)), S_OK);
	fixture g = {st, MH_ARENA_INIT, NULL};
	mh_srv_rop_session *s = session(&g, "u@x.test", "u@x.test", NULL);
	mh_status rv;
	uint32_t lh;
	logon(&g, s, "/o=X/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=u",
	      &lh);
	uint32_t inbox = open_fid(&g, s, lh, FID_INBOX, &rv);
	call c = table_rows(&g, s, inbox, MH_ROP_GET_CONTENTS_TABLE, 0x40,
	                    tags(&g, 3, TAG_SUBJECT, 0x0037001Eu, TAG_MID), 10, NULL);
	const mh_rop_response *qr = &c.out.rops[2];
	assert_int_equal(qr->u.query_rows.row_count, 2);
	assert_int_equal(strlen(row_str(&qr->u.query_rows.rows[0], 0)), 255);
	assert_int_equal(strlen(qr->u.query_rows.rows[0].lpProps[1].Value.lpszA), 255);
	assert_string_equal(row_str(&qr->u.query_rows.rows[1], 0), "Caf\xc3\xa9 \xe2\x82\xac");
	assert_string_equal(qr->u.query_rows.rows[1].lpProps[1].Value.lpszA, "Caf? ?");
	uint64_t mid = (uint64_t)qr->u.query_rows.rows[0].lpProps[2].Value.li;
	uint32_t h[2] = {inbox, NONE};
	mh_rop_request q[2] = {open_message(0, 0, 1, FID_INBOX, mid),
	                       get_props(0, 1, 1, tags(&g, 1, TAG_SUBJECT))};
	c = run(&g, s, q, 2, h, 2);
	assert_int_equal(c.out.rops[1].return_value, S_OK);
	assert_string_equal(c.out.rops[1].u.get_props_specific.row.lpProps[0].Value.lpszW, subject);
	/* Over PropertySizeLimit: the value becomes ecMAPIOOM in a flagged row. */
	h[0] = c.out.handles[1];
	mh_rop_request lim = get_props(0, 0, 1, tags(&g, 2, TAG_SUBJECT, TAG_MID));
	lim.u.get_props_specific.property_size_limit = 100;
	mh_rop_response r = one(&g, s, lim, h, 1);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.get_props_specific.row.flag, 1);
	assert_int_equal(r.u.get_props_specific.row.colflags[0], MH_PV_FLAG_ERROR);
	assert_int_equal(r.u.get_props_specific.row.lpProps[0].Value.err, ecMAPIOOM);
	assert_int_equal(r.u.get_props_specific.row.lpProps[1].Value.li, (int64_t)mid);
	mh_arena_free(&g.a);
	mh_srv_rop_session_free(s);
	mh_srv_store_free(st);
}

/* ---- output limits, unknown ROPs, malformed input, faults ------------------------------- */

static void test_server_rop__buffer_too_small(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	/* bob's first message: counter 15, after the 14 folders (server-store.md). */
	const uint64_t mid = fid(15);
	uint32_t h[3] = {NONE, NONE, NONE};
	mh_rop_request q[3] = {logon_req(0, 0, BOB_DN), open_folder(0, 0, 1, FID_INBOX),
	                       open_message(0, 1, 2, FID_INBOX, mid)};
	size_t in_len;
	uint8_t *in = request_bytes(f, q, 3, h, 3, &in_len);
	call c = run_bytes(f, s, in, in_len, q, 3, 0x8000);
	assert_int_equal(c.out.rops[2].return_value, S_OK);
	assert_string_equal(c.out.rops[2].u.open_message.normalized_subject.value,
	                    "Quarterly report draft");
	size_t full = c.len;
	assert_int_equal(mh_srv_rop_session_objects(s), 3);
	mh_srv_rop_session_free(s);

	/* Room for the logon (166) and OpenFolder (8) responses, a RopBufferTooSmall with the
	 * 23-byte OpenMessage request, and the 12-byte table; not for the OpenMessage response. */
	s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	size_t rops_end = (size_t)(in[0] | in[1] << 8);
	size_t rest = 23;
	size_t max_out = 2 + 166 + 8 + 3 + rest + 12;
	assert_true(max_out < full);
	c = run_bytes(f, s, in, in_len, q, 3, max_out);
	assert_int_equal(c.st, S_OK);
	assert_int_equal(c.res.error_code, 0);
	assert_int_equal(c.out.count, 3);
	assert_int_equal(c.out.rops[0].return_value, S_OK);
	assert_int_equal(c.out.rops[1].return_value, S_OK);
	assert_int_equal(c.out.rops[2].rop_id, MH_ROP_BUFFER_TOO_SMALL);
	uint16_t needed = c.out.rops[2].u.buffer_too_small.size_needed;
	assert_true(needed > max_out - (2 + 166 + 8));
	assert_int_equal(c.out.rops[2].u.buffer_too_small.request_buffers.cb, rest);
	assert_memory_equal(c.out.rops[2].u.buffer_too_small.request_buffers.lpb,
	                    in + rops_end - rest, rest);
	assert_int_equal(c.out.handle_count, 3);
	assert_true(c.out.handles[0] != NONE && c.out.handles[1] != NONE);
	assert_int_equal(c.out.handles[2], NONE);
	/* The unanswered OpenMessage made nothing that lives on. */
	assert_int_equal(mh_srv_rop_session_objects(s), 2);
	/* RequestBuffers and the returned handle table, resent with MaxRopOut = SizeNeeded. */
	uint8_t again[2 + 23 + 12];
	again[0] = 2 + 23;
	again[1] = 0;
	memcpy(again + 2, c.out.rops[2].u.buffer_too_small.request_buffers.lpb, rest);
	for (unsigned i = 0; i < 3; i++)
		for (unsigned k = 0; k < 4; k++)
			again[2 + rest + 4 * i + k] = (uint8_t)(c.out.handles[i] >> (8 * k));
	call c2 = run_bytes(f, s, again, sizeof(again), &q[2], 1, needed);
	assert_int_equal(c2.res.error_code, 0);
	assert_int_equal(c2.out.count, 1);
	assert_int_equal(c2.out.rops[0].rop_id, MH_ROP_OPEN_MESSAGE);
	assert_int_equal(c2.out.rops[0].return_value, S_OK);
	assert_int_equal(c2.len, needed);
	assert_int_equal(mh_srv_rop_session_objects(s), 3);
	/* Not even a RopBufferTooSmall fits: Execute's ErrorCode, nothing appended. */
	c = run_bytes(f, s, in, in_len, q, 3, 20);
	assert_int_equal(c.st, S_OK);
	assert_int_equal(c.res.error_code, 0x47D);
	assert_int_equal(c.len, 0);
	mh_srv_rop_session_free(s);
}

static void test_server_rop__unknown_and_malformed(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	uint32_t h[2] = {NONE, NONE};
	mh_rop_request q = logon_req(0, 0, BOB_DN);
	size_t len;
	uint8_t *good = request_bytes(f, &q, 1, h, 2, &len);
	size_t rops_end = (size_t)(good[0] | good[1] << 8);
	/* Append an unknown RopId 0x99 (LogonId 0, index 1, two more bytes). */
	uint8_t in[512];
	memcpy(in, good, rops_end);
	const uint8_t unknown[5] = {0x99, 0x00, 0x01, 0xAA, 0xBB};
	memcpy(in + rops_end, unknown, 5);
	memcpy(in + rops_end + 5, good + rops_end, len - rops_end);
	in[0] = (uint8_t)(rops_end + 5);
	in[1] = (uint8_t)((rops_end + 5) >> 8);
	call c = run_bytes(f, s, in, len + 5, NULL, 0, 0x8000); /* the codec rejects 0x99 */
	assert_int_equal(c.st, S_OK);
	assert_int_equal(c.res.rop_count, 2);
	/* The codec cannot pull an unknown response: read the tail by hand. */
	assert_int_equal(c.bytes[0] | c.bytes[1] << 8, 2 + 166 + 6);
	const uint8_t *u = c.bytes + 2 + 166;
	assert_int_equal(u[0], 0x99);
	assert_int_equal(u[1], 0x01);
	assert_int_equal(u[2] | u[3] << 8 | u[4] << 16 | (uint32_t)u[5] << 24, 0x80040102u);
	assert_int_equal(mh_srv_rop_session_objects(s), 1);

	/* Malformed: a truncated ROP, a RopSize past the end, a ragged handle table. */
	mh_buf out = MH_BUF_INIT;
	mh_srv_rop_result res;
	const uint8_t trunc[] = {0x05, 0x00, 0x02, 0x00, 0x00};
	assert_int_equal(mh_srv_rop_execute(s, &f->a, trunc, sizeof(trunc), 0x8000, &out, &res),
	                 S_OK);
	assert_int_equal(res.error_code, 0x4B6);
	assert_int_equal(out.len, 0);
	const uint8_t past[] = {0x40, 0x00, 0x01};
	assert_int_equal(mh_srv_rop_execute(s, &f->a, past, sizeof(past), 0x8000, &out, &res),
	                 S_OK);
	assert_int_equal(res.error_code, 0x4B6);
	const uint8_t ragged[] = {0x02, 0x00, 0x01, 0x02};
	assert_int_equal(mh_srv_rop_execute(s, &f->a, ragged, sizeof(ragged), 0x8000, &out, &res),
	                 S_OK);
	assert_int_equal(res.error_code, 0x4B6);
	assert_int_equal(out.len, 0);
	/* Too many ROPs. */
	mh_srv_rop_options o = MH_SRV_ROP_OPTIONS_INIT;
	o.max_rops = 2;
	mh_srv_rop_session *s2 = session(f, "bob@contoso.test", "bob@contoso.test", &o);
	mh_rop_request three[3] = {logon_req(0, 0, BOB_DN), logon_req(1, 1, BOB_DN),
	                           logon_req(2, 0, BOB_DN)};
	uint8_t *in3 = request_bytes(f, three, 3, h, 2, &len);
	assert_int_equal(mh_srv_rop_execute(s2, &f->a, in3, len, 0x8000, &out, &res), S_OK);
	assert_int_equal(res.error_code, 0x4B6);
	assert_int_equal(mh_srv_rop_session_objects(s2), 0);
	/* No ROPs at all: an empty answer. */
	const uint8_t empty[] = {0x02, 0x00};
	assert_int_equal(mh_srv_rop_execute(s, &f->a, empty, sizeof(empty), 0x8000, &out, &res),
	                 S_OK);
	assert_int_equal(res.error_code, 0);
	assert_int_equal(out.len, 2);
	assert_int_equal(out.data[0], 2);
	mh_buf_free(&out);
	mh_srv_rop_session_free(s2);
	mh_srv_rop_session_free(s);
}

/* ---- ROPs [MS-OXCROPS] defines and mapihttpd does not serve ------------------------------- */

/* A request from its wire bytes, through the codec (which keeps them for push). */
static mh_rop_request wire_req(fixture *f, const uint8_t *p, size_t n)
{
	mh_cursor c;
	mh_rop_request q;
	mh_cursor_init(&c, p, n, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rop_request_pull(&c, &f->a, &q), S_OK);
	assert_int_equal(c.pos, n);
	return q;
}

/* The next response at *at, through the codec (q: the request it answers). */
static mh_rop_response next_resp(fixture *f, const call *c, size_t *at, const mh_rop_request *q)
{
	mh_cursor cur;
	mh_rop_response r;
	mh_rop_response_hint hint = {q, NULL};
	size_t rops_end = (size_t)(c->bytes[0] | c->bytes[1] << 8);
	mh_cursor_init(&cur, c->bytes + *at, rops_end - *at, MAPI_E_CORRUPT_DATA);
	if (mh_rop_response_pull(&cur, &f->a, &hint, &r) != S_OK)
		fail_msg("response at byte %zu: %s", *at, mh_error_last()->message);
	*at += cur.pos;
	return r;
}

/* The next response at *at is ecNotSupported for id on index, extra zero bytes after it. */
static void expect_not_supported(const call *c, size_t *at, uint8_t id, uint8_t index, size_t extra)
{
	const uint8_t *u = c->bytes + *at;
	size_t rops_end = (size_t)(c->bytes[0] | c->bytes[1] << 8);
	assert_true(*at + 6 + extra <= rops_end);
	assert_int_equal(u[0], id);
	assert_int_equal(u[1], index);
	assert_int_equal(u[2] | u[3] << 8 | u[4] << 16 | (uint32_t)u[5] << 24, 0x80040102u);
	for (size_t i = 0; i < extra; i++)
		assert_int_equal(u[6 + i], 0);
	*at += 6 + extra;
}

static void test_server_rop__unsupported_rops(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	uint32_t lh;
	logon(f, s, BOB_DN, &lh);

	/* GetReceiveFolder, GetPropertyIdsFromNames (one string name), GetPropertiesSpecific:
	 * three answers, the middle one ecNotSupported on its InputHandleIndex. */
	static const uint8_t names[] = {
	    0x56, 0x00, 0x00, 0x02, 0x01, 0x00,                   /* Flags, one name */
	    0x01, 0x29, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, /* Kind 1, GUID ... */
	    0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46, 0x04, /* ..., NameSize 4 */
	    0x78, 0x00, 0x79, 0x00};                              /* "xy" */
	mh_rop_request q[3];
	q[0] = rop(MH_ROP_GET_RECEIVE_FOLDER, 0, 0, 0);
	q[0].u.get_receive_folder.message_class = (char *)(uintptr_t) "IPM.Note";
	q[1] = wire_req(f, names, sizeof(names));
	q[2] = get_props(0, 0, 1, tags(f, 1, TAG_DISPLAY_NAME));
	uint32_t h[1] = {lh};
	size_t len;
	uint8_t *in = request_bytes(f, q, 3, h, 1, &len);
	call c = run_bytes(f, s, in, len, NULL, 0, 0x8000);
	assert_int_equal(c.st, S_OK);
	assert_int_equal(c.res.error_code, 0);
	assert_int_equal(c.res.rop_count, 3);
	size_t at = 2;
	mh_rop_response r = next_resp(f, &c, &at, &q[0]);
	assert_int_equal(r.rop_id, MH_ROP_GET_RECEIVE_FOLDER);
	assert_int_equal(r.return_value, S_OK);
	assert_int_equal(r.u.get_receive_folder.folder_id, FID_INBOX);
	expect_not_supported(&c, &at, 0x56, 0x00, 0);
	r = next_resp(f, &c, &at, &q[2]);
	assert_int_equal(r.rop_id, MH_ROP_GET_PROPERTIES_SPECIFIC);
	assert_int_equal(r.return_value, S_OK);
	assert_string_equal(r.u.get_props_specific.row.lpProps[0].Value.lpszW, "Bob Baker");
	assert_int_equal(at, (size_t)(c.bytes[0] | c.bytes[1] << 8));
	assert_int_equal(c.len, at + 4);

	/* An object-creating one (CreateMessage, OutputHandleIndex 2) echoes its output index and
	 * makes nothing: the handle stays empty and a ROP on it gets ecNullObject. Then the
	 * failure layouts that carry more than ReturnValue (DeleteMessages: PartialCompletion),
	 * GetMessageStatus (answered as RopSetMessageStatus) and SaveChangesMessage (echoes its
	 * ResponseHandleIndex). */
	static const uint8_t create[] = {0x06, 0x00, 0x01, 0x02, 0xFF, 0x0F, 0x01, 0x00,
	                                 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00};
	static const uint8_t del[] = {0x1E, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
	                              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0F};
	static const uint8_t status[] = {0x1F, 0x00, 0x01, 0x01, 0x00, 0x00,
	                                 0x00, 0x00, 0x00, 0x00, 0x0F};
	static const uint8_t save[] = {0x0C, 0x00, 0x03, 0x02, 0x0A};
	mh_rop_request w[7];
	w[0] = open_folder(0, 0, 1, FID_INBOX);
	w[1] = wire_req(f, create, sizeof(create));
	w[2] = get_props(0, 2, 1, tags(f, 1, TAG_SUBJECT));
	w[3] = wire_req(f, del, sizeof(del));
	w[4] = wire_req(f, status, sizeof(status));
	w[5] = wire_req(f, save, sizeof(save));
	w[6] = get_props(0, 1, 1, tags(f, 1, TAG_DISPLAY_NAME));
	uint32_t h4[4] = {lh, NONE, NONE, NONE};
	in = request_bytes(f, w, 7, h4, 4, &len);
	c = run_bytes(f, s, in, len, NULL, 0, 0x8000);
	assert_int_equal(c.res.error_code, 0);
	at = 2;
	r = next_resp(f, &c, &at, &w[0]);
	assert_int_equal(r.return_value, S_OK);
	expect_not_supported(&c, &at, 0x06, 0x02, 0);
	r = next_resp(f, &c, &at, &w[2]);
	assert_int_equal(r.rop_id, MH_ROP_GET_PROPERTIES_SPECIFIC);
	assert_int_equal(r.handle_index, 2);
	assert_int_equal(r.return_value, ecNullObject);
	expect_not_supported(&c, &at, 0x1E, 0x01, 1);
	expect_not_supported(&c, &at, 0x20, 0x01, 0);
	expect_not_supported(&c, &at, 0x0C, 0x03, 0);
	r = next_resp(f, &c, &at, &w[6]);
	assert_int_equal(r.return_value, S_OK);
	assert_string_equal(r.u.get_props_specific.row.lpProps[0].Value.lpszW, "Inbox");
	size_t rops_end = (size_t)(c.bytes[0] | c.bytes[1] << 8);
	assert_int_equal(at, rops_end);
	const uint8_t *ht = c.bytes + rops_end;
	assert_int_equal(ht[8] | ht[9] << 8 | ht[10] << 16 | (uint32_t)ht[11] << 24, NONE);
	assert_int_equal(mh_srv_rop_session_objects(s), 2); /* the logon and the Inbox */

	/* No room for the 22-byte CopyToStream answer (ReadByteCount, WrittenByteCount after
	 * ReturnValue), room for RopBufferTooSmall with its 12-byte request: handed back. */
	static const uint8_t copy_stream[] = {0x3A, 0x00, 0x00, 0x00, 0x10, 0x00,
	                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	mh_rop_request two[2] = {q[0], wire_req(f, copy_stream, sizeof(copy_stream))};
	in = request_bytes(f, two, 2, h, 1, &len);
	c = run_bytes(f, s, in, len, NULL, 0, 0x8000);
	at = 2;
	next_resp(f, &c, &at, &two[0]);
	expect_not_supported(&c, &at, 0x3A, 0x00, 16);
	size_t first = at - 2 - 22;
	size_t max_out = 2 + first + 3 + sizeof(copy_stream) + 4;
	c = run_bytes(f, s, in, len, NULL, 0, max_out);
	assert_int_equal(c.res.error_code, 0);
	assert_int_equal(c.len, max_out);
	at = 2;
	r = next_resp(f, &c, &at, &two[0]);
	assert_int_equal(r.return_value, S_OK);
	r = next_resp(f, &c, &at, NULL);
	assert_int_equal(r.rop_id, MH_ROP_BUFFER_TOO_SMALL);
	assert_int_equal(r.u.buffer_too_small.size_needed, 2 + 22 + 4);
	assert_int_equal(r.u.buffer_too_small.request_buffers.cb, sizeof(copy_stream));
	assert_memory_equal(r.u.buffer_too_small.request_buffers.lpb, copy_stream,
	                    sizeof(copy_stream));
	/* One byte less: not even that fits. */
	c = run_bytes(f, s, in, len, NULL, 0, max_out - 1);
	assert_int_equal(c.res.error_code, 0x47D);
	assert_int_equal(c.len, 0);

	/* An undefined RopId after a walked one still ends the run, as does a ROP whose length
	 * depends on the logon (RopSetMessageReadFlag): nothing after either is answered. */
	uint8_t tail[64];
	size_t n = 0;
	tail[n++] = 0; /* RopSize, patched below */
	tail[n++] = 0;
	memcpy(tail + n, save, sizeof(save));
	n += sizeof(save);
	const uint8_t undefined[] = {0xB0, 0x00, 0x00, 0x27, 0x00, 0x00, 0x00};
	memcpy(tail + n, undefined, sizeof(undefined));
	n += sizeof(undefined);
	tail[0] = (uint8_t)n;
	memcpy(tail + n, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 16);
	memcpy(tail + n, &lh, 4);
	c = run_bytes(f, s, tail, n + 16, NULL, 0, 0x8000);
	assert_int_equal(c.res.error_code, 0);
	assert_int_equal(c.res.rop_count, 2);
	at = 2;
	expect_not_supported(&c, &at, 0x0C, 0x03, 0);
	expect_not_supported(&c, &at, 0xB0, 0x00, 0);
	assert_int_equal(at, (size_t)(c.bytes[0] | c.bytes[1] << 8));
	const uint8_t readflag[] = {0x11, 0x00, 0x02, 0x00, 0x01, 0x27, 0x00, 0x00, 0x00};
	n = 2;
	memcpy(tail + n, readflag, sizeof(readflag));
	n += sizeof(readflag);
	tail[0] = (uint8_t)n;
	memcpy(tail + n, &lh, 4);
	c = run_bytes(f, s, tail, n + 4, NULL, 0, 0x8000);
	assert_int_equal(c.res.rop_count, 1);
	at = 2;
	expect_not_supported(&c, &at, 0x11, 0x02, 0);
	assert_int_equal(at, (size_t)(c.bytes[0] | c.bytes[1] << 8));
	mh_srv_rop_session_free(s);
}

static void test_server_rop__faults(void **state)
{
	fixture *f = *state;
	mh_srv_faults *faults;
	assert_int_equal(mh_srv_faults_new(&faults), S_OK);
	assert_int_equal(mh_srv_faults_add(faults, "backoff,every=1,ms=500"), S_OK);
	mh_srv_rop_options o = MH_SRV_ROP_OPTIONS_INIT;
	o.faults = faults;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", &o);
	uint32_t h[2] = {NONE, NONE};
	mh_rop_request q[2] = {logon_req(3, 0, BOB_DN), open_folder(3, 0, 1, FID_INBOX)};
	call c = run(f, s, q, 2, h, 2);
	assert_int_equal(c.out.count, 1);
	const mh_rop_response *b = &c.out.rops[0];
	assert_int_equal(b->rop_id, MH_ROP_BACKOFF);
	assert_int_equal(b->u.backoff.logon_id, 3);
	assert_int_equal(b->u.backoff.duration, 500);
	assert_int_equal(b->u.backoff.rop_count, 1);
	assert_int_equal(b->u.backoff.rops[0].rop_id, MH_ROP_LOGON);
	assert_int_equal(b->u.backoff.rops[0].duration, 500);
	assert_int_equal(b->u.backoff.additional_data.cb, 0);
	assert_int_equal(mh_srv_rop_session_objects(s), 0); /* nothing ran */
	mh_srv_rop_session_free(s);
	mh_srv_faults_free(faults);

	assert_int_equal(mh_srv_faults_new(&faults), S_OK);
	assert_int_equal(mh_srv_faults_add(faults, "wrongserver,every=1"), S_OK);
	o.faults = faults;
	s = session(f, "bob@contoso.test", "bob@contoso.test", &o);
	mh_srv_mailbox m = mailbox(f, "bob@contoso.test");
	mh_rop_response r = logon(f, s, BOB_DN, NULL);
	assert_int_equal(r.return_value, ecWrongServer);
	assert_string_equal(r.u.logon.server_name, m.server_dn);
	/* Another mailbox is still redirected to its own server. */
	assert_int_equal(logon(f, s, CAROL_DN, NULL).return_value, ecWrongServer);
	assert_int_equal(mh_srv_rop_session_objects(s), 0);
	mh_srv_rop_session_free(s);
	mh_srv_faults_free(faults);
}

/* Many Executes on one session: the store results stay in the per-call arena. */
static void test_server_rop__bounded(void **state)
{
	fixture *f = *state;
	mh_srv_rop_session *s = session(f, "bob@contoso.test", "bob@contoso.test", NULL);
	mh_status rv;
	uint32_t lh, t;
	logon(f, s, BOB_DN, &lh);
	uint32_t inbox = open_fid(f, s, lh, FID_INBOX, &rv);
	SPropTagArray *cols = tags(f, 2, TAG_SUBJECT, TAG_BODY);
	table_rows(f, s, inbox, MH_ROP_GET_CONTENTS_TABLE, 0x40, cols, 0, &t);
	for (int i = 0; i < 50; i++) {
		mh_arena a;
		mh_arena_init(&a, 1 << 20);
		fixture g = {f->st, a, cols};
		uint32_t h[1] = {t};
		mh_rop_request q[2] = {rop(MH_ROP_SEEK_ROW, 0, 0, 0), query_rows(0, 0, 0, 1, 10)};
		call c = run(&g, s, q, 2, h, 1);
		assert_int_equal(c.out.rops[1].u.query_rows.row_count, 4);
		assert_true(g.a.used < 64 * 1024);
		mh_arena_free(&g.a);
	}
	assert_int_equal(mh_srv_rop_session_objects(s), 3);
	mh_srv_rop_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_server_rop__logon_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__logon_routing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__seed_archive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__delegate_rights, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__handles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__object_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__hierarchy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__contents_and_cursor, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__query_rows_space, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__permissions_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__open_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__streams, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__store_rops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__strings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__buffer_too_small, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__unsupported_rops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__unknown_and_malformed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__faults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_rop__bounded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
