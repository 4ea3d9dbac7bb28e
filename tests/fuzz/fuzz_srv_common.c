/*
 * Shared set-up of the mapihttpd fuzz targets: the sample organisation in an in-memory store,
 * one session layer, and handler calls whose answers are checked against what the HTTP front
 * and a client rely on.
 */
#include "fuzz_srv_common.h"

#include <stdlib.h>
#include <string.h>

#include "codec/emsmdb.h"
#include "codec/nspi.h"
#include "codec/rop.h"
#include "codec/rpc_ext.h"
#include "util/cursor.h"

#define ARENA_CAP ((size_t)8 << 20)

static void make_mapi(fz_srv *s)
{
	mh_srv_mapi_options o = MH_SRV_MAPI_OPTIONS_INIT;
	/* The front holds a NotificationWait; the handler only says how long. */
	o.notification_wait = 1;
	if (mh_srv_mapi_new(&s->mapi, s->st, &o) != S_OK)
		abort();
}

fz_srv *fz_srv_get(void)
{
	static fz_srv *state;
	if (state != NULL)
		return state;
	fz_srv *s = calloc(1, sizeof(*s));
	if (s == NULL || mh_srv_store_open(&s->st, NULL) != S_OK ||
	    mh_srv_store_load_sample(s->st) != S_OK)
		abort();
	mh_arena_init(&s->ids, 0);
	if (mh_srv_store_recipient_by_smtp(s->st, &s->ids, "alice@contoso.test", &s->principal) !=
	        S_OK ||
	    mh_srv_store_mailbox_of(s->st, &s->ids, s->principal.id, MH_SRV_MAILBOX_PRIMARY,
	                            &s->mailbox) != S_OK)
		abort();
	s->request_guid = (GUID){0x6d617069, 0x6874, 0x7470, {0x66, 0x75, 0x7a, 0x7a, 1, 2, 3, 4}};
	make_mapi(s);
	state = s;
	return s;
}

void fz_jar_init(fz_jar *j)
{
	j->n = 0;
}

static void jar_put(fz_jar *j, const char *name, const char *value)
{
	size_t i;
	if (strlen(name) >= sizeof(j->name[0]) || strlen(value) >= sizeof(j->value[0]))
		return;
	for (i = 0; i < j->n; i++)
		if (strcmp(j->name[i], name) == 0)
			break;
	if (i == j->n) {
		if (j->n == MH_SRV_HTTP_MAX_COOKIES)
			return;
		j->n++;
	}
	strcpy(j->name[i], name);
	strcpy(j->value[i], value);
	for (size_t k = 0; k < j->n; k++)
		j->ck[k] = (mh_srv_cookie){j->name[k], j->value[k]};
}

/* True when the codec decodes every request: a walked one (u.unsupported) is answered with
 * ecNotSupported in its own failure layout, which the client codec does not read. */
static bool all_decoded(const mh_rop_request_buffer *rq)
{
	for (uint32_t i = 0; i < rq->count; i++)
		if (!mh_rop_request_known(rq->rops[i].rop_id))
			return false;
	return true;
}

/* An Execute answer: the ROP output buffer must decode, against the requests when they do. */
static void check_execute(const uint8_t *req_body, size_t req_len, const mh_buf *body)
{
	mh_arena a;
	mh_cursor c;
	mh_emsmdb_execute_response r;
	mh_emsmdb_execute_request q;
	mh_rpc_ext_chain out, in;
	mh_rop_request_buffer rq;
	mh_rop_response_buffer rs;
	mh_arena_init(&a, ARENA_CAP);
	mh_cursor_init(&c, body->data, body->len, MAPI_E_CORRUPT_DATA);
	if (mh_emsmdb_execute_response_pull(&c, &a, &r) != S_OK)
		abort();
	if (r.status_code != 0 || r.error_code != 0) {
		mh_arena_free(&a);
		return;
	}
	if (mh_rpc_ext_decode(r.rop_buffer.data, r.rop_buffer.len, 0, &a, 0, &out) != S_OK)
		abort();
	/* The requests as the server read them, when they decode whole (an unknown RopId ends
	 * the run with an answer no codec can read past). */
	mh_cursor_init(&c, req_body, req_len, MAPI_E_CORRUPT_DATA);
	if (mh_emsmdb_execute_request_pull(&c, &a, &q) == S_OK &&
	    mh_rpc_ext_decode(q.rop_buffer.data, q.rop_buffer.len, 0, &a, 0, &in) == S_OK) {
		mh_cursor_init(&c, in.data, in.len, MAPI_E_CORRUPT_DATA);
		if (mh_rop_request_buffer_pull(&c, &a, &rq, NULL) == S_OK && all_decoded(&rq)) {
			mh_rop_response_ctx ctx = {rq.rops, rq.count, NULL, NULL};
			mh_cursor_init(&c, out.data, out.len, MAPI_E_CORRUPT_DATA);
			mh_status st = mh_rop_response_buffer_pull(&c, &a, &ctx, &rs);
			/* NO_SUPPORT: a property type the client codec does not decode. */
			if (st != S_OK && st != MAPI_E_NO_SUPPORT && st != MAPI_E_TOO_BIG)
				abort();
		}
	}
	mh_arena_free(&a);
}

static void check_body(unsigned endpoint, mh_mapihttp_request_type type, const uint8_t *req_body,
                       size_t req_len, const mh_buf *body)
{
	mh_arena a;
	mh_cursor c;
	mh_status st = S_OK;
	if (type == MH_RT_PING) {
		if (body->len != 0)
			abort();
		return;
	}
	if (endpoint == MH_ENDPOINT_EMSMDB && type == MH_RT_EXECUTE) {
		check_execute(req_body, req_len, body);
		return;
	}
	mh_arena_init(&a, ARENA_CAP);
	mh_cursor_init(&c, body->data, body->len, MAPI_E_CORRUPT_DATA);
	if (endpoint == MH_ENDPOINT_NSPI) {
		mh_nspi_kind k;
		mh_nspi_response r;
		if (mh_nspi_kind_from_name(mh_mapihttp_request_type_name(type), &k) != S_OK)
			abort();
		st = mh_nspi_response_pull(&c, &a, k, MH_NSPI_PULL_CMP_SPEC, &r);
		if (st == MAPI_E_NO_SUPPORT)
			st = S_OK;
	} else if (type == MH_RT_CONNECT) {
		mh_emsmdb_connect_response r;
		st = mh_emsmdb_connect_response_pull(&c, &a, &r);
	} else if (type == MH_RT_DISCONNECT) {
		mh_emsmdb_disconnect_response r;
		st = mh_emsmdb_disconnect_response_pull(&c, &a, &r);
	} else if (type == MH_RT_NOTIFICATIONWAIT) {
		mh_emsmdb_notificationwait_response r;
		st = mh_emsmdb_notificationwait_response_pull(&c, &a, &r);
	}
	if (st != S_OK)
		abort();
	mh_arena_free(&a);
}

void fz_srv_call_body(fz_srv *s, unsigned endpoint, mh_mapihttp_request_type type,
                      const mh_srv_cookie *ck, size_t n_ck, const uint8_t *body, size_t len,
                      fz_jar *jar, uint32_t *response_code, mh_buf *out)
{
	mh_mapihttp_request_info info = MH_MAPIHTTP_REQUEST_INFO_INIT;
	mh_srv_mapi_request req;
	mh_srv_mapi_response resp;
	mh_arena a;
	mh_srv_mapi_handler h = endpoint == MH_ENDPOINT_NSPI ? mh_srv_mapi_nspi_handler(s->mapi)
	                                                     : mh_srv_mapi_emsmdb_handler(s->mapi);
	info.type = type;
	info.request_guid = s->request_guid;
	info.request_counter = ++s->counter;
	info.client_guid = s->request_guid;
	info.client_counter = 1;
	memset(&req, 0, sizeof(req));
	req.endpoint = endpoint;
	req.principal = &s->principal;
	req.mailbox = &s->mailbox;
	req.mailbox_id = s->mailbox.mailbox_id;
	req.info = &info;
	req.cookies = n_ck ? ck : NULL;
	req.n_cookies = n_ck;
	req.body = len ? body : NULL;
	req.body_len = len;
	req.base_url = "https://mail.contoso.test";
	req.client = "127.0.0.1";
	req.tls = true;
	memset(&resp, 0, sizeof(resp));
	mh_arena_init(&a, ARENA_CAP);
	mh_status st = h.handle(h.payload, &req, &a, &resp);
	uint32_t code = st == S_OK ? resp.response_code : MH_RESPONSE_UNKNOWN_FAILURE;
	if (resp.n_set_cookies > MH_SRV_HTTP_MAX_SET_COOKIES ||
	    code > MH_RESPONSE_ENDPOINT_SHUTTING_DOWN)
		abort();
	for (size_t i = 0; i < resp.n_set_cookies; i++) {
		if (resp.set_cookies[i].name == NULL || resp.set_cookies[i].value == NULL)
			abort();
		if (jar != NULL)
			jar_put(jar, resp.set_cookies[i].name, resp.set_cookies[i].value);
	}
	if (st == S_OK && code != 0 && resp.diagnostic == NULL)
		abort();
	if (st == S_OK && code == 0)
		check_body(endpoint, type, body, len, &resp.body);
	if (response_code != NULL)
		*response_code = code;
	if (out != NULL && st == S_OK && code == 0) {
		*out = resp.body;
		resp.body = (mh_buf)MH_BUF_INIT;
	}
	mh_buf_free(&resp.body);
	mh_arena_free(&a);
}

void fz_srv_call(fz_srv *s, unsigned endpoint, mh_mapihttp_request_type type,
                 const mh_srv_cookie *ck, size_t n_ck, const uint8_t *body, size_t len, fz_jar *jar,
                 uint32_t *response_code)
{
	fz_srv_call_body(s, endpoint, type, ck, n_ck, body, len, jar, response_code, NULL);
}

void fz_srv_connect_body(const fz_srv *s, mh_buf *b)
{
	mh_emsmdb_connect_request r;
	memset(&r, 0, sizeof(r));
	r.user_dn = s->principal.legacy_dn;
	r.default_code_page = 1252;
	r.lcid_sort = 0x409;
	r.lcid_string = 0x409;
	mh_emsmdb_connect_request_push(b, &r);
}

void fz_srv_execute_body(mh_buf *b, uint32_t flags, uint32_t max_rop_out, const uint8_t *rops,
                         size_t len)
{
	mh_emsmdb_execute_request r;
	mh_buf ext = MH_BUF_INIT;
	mh_rpc_ext_header h = {MH_RPC_EXT_VERSION, MH_RPC_EXT_LAST, (uint16_t)len, (uint16_t)len};
	/* Written by hand so that any length up to 0xFFFF goes through (push_one caps it). */
	mh_rpc_ext_header_push(&ext, &h);
	mh_buf_put(&ext, rops, len);
	memset(&r, 0, sizeof(r));
	r.flags = flags;
	r.rop_buffer.data = ext.len ? ext.data : NULL;
	r.rop_buffer.len = (uint32_t)ext.len;
	r.max_rop_out = max_rop_out;
	if (mh_buf_status(&ext) != S_OK)
		mh_buf_fail(b, mh_buf_status(&ext));
	else
		mh_emsmdb_execute_request_push(b, &r);
	mh_buf_free(&ext);
}

void fz_srv_logon_rops(const fz_srv *s, mh_buf *b)
{
	mh_rop_request_buffer rb;
	mh_rop_request logon;
	uint32_t handle = 0xFFFFFFFFu;
	memset(&logon, 0, sizeof(logon));
	logon.rop_id = MH_ROP_LOGON;
	logon.u.logon.logon_flags = MH_LOGON_FLAG_PRIVATE;
	logon.u.logon.open_flags = 0x01000000u | 0x00000004u | 0x00000008u | 0x00000400u;
	/* The codec never writes through it; the cast only drops the store's const. */
	logon.u.logon.essdn = (char *)(uintptr_t)s->mailbox.legacy_dn;
	rb.count = 1;
	rb.rops = &logon;
	rb.handle_count = 1;
	rb.handles = &handle;
	mh_rop_request_buffer_push(b, &rb);
}

mh_status fz_srv_open(fz_srv *s, unsigned endpoint, fz_jar *jar)
{
	mh_buf b = MH_BUF_INIT;
	uint32_t code = 1;
	if (endpoint == MH_ENDPOINT_NSPI) {
		mh_nspi_request r;
		memset(&r, 0, sizeof(r));
		r.kind = MH_NSPI_BIND;
		r.u.bind.has_state = true;
		mh_nspi_stat_default(&r.u.bind.state);
		mh_nspi_request_push(&b, &r);
	} else {
		fz_srv_connect_body(s, &b);
	}
	if (mh_buf_status(&b) != S_OK)
		abort();
	fz_srv_call(s, endpoint, endpoint == MH_ENDPOINT_NSPI ? MH_RT_BIND : MH_RT_CONNECT, NULL, 0,
	            b.data, b.len, jar, &code);
	mh_buf_free(&b);
	return code == 0 && jar->n > 0 ? S_OK : MAPI_E_CALL_FAILED;
}

void fz_srv_close(fz_srv *s, unsigned endpoint, fz_jar *jar)
{
	mh_buf b = MH_BUF_INIT;
	if (endpoint == MH_ENDPOINT_NSPI) {
		mh_nspi_request r;
		memset(&r, 0, sizeof(r));
		r.kind = MH_NSPI_UNBIND;
		mh_nspi_request_push(&b, &r);
	} else {
		mh_emsmdb_disconnect_request r;
		memset(&r, 0, sizeof(r));
		mh_emsmdb_disconnect_request_push(&b, &r);
	}
	if (mh_buf_status(&b) != S_OK)
		abort();
	if (jar->n > 0)
		fz_srv_call(s, endpoint,
		            endpoint == MH_ENDPOINT_NSPI ? MH_RT_UNBIND : MH_RT_DISCONNECT, jar->ck,
		            jar->n, b.data, b.len, NULL, NULL);
	mh_buf_free(&b);
	fz_srv_bound(s);
}

void fz_srv_bound(fz_srv *s)
{
	if (mh_srv_mapi_context_count(s->mapi) <= FZ_SRV_MAX_CONTEXTS)
		return;
	mh_srv_mapi_free(s->mapi);
	s->mapi = NULL;
	make_mapi(s);
}
