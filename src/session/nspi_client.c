/*
 * The client's NSPI session context as state machines on the event loop, on the session
 * context core of emsmdb_client.c (retries, Bind again after a loss, keep-alive).
 */
#include "session/nspi_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/mapihttp.h"
#include "mapihttp/proptags.h"
#include "util/cursor.h"
#include "util/diag.h"

/* The steps of get_mailbox_url. */
typedef enum url_step {
	URL_NONE = 0,
	URL_DIRECT,   /* GetMailboxUrl(dn) */
	URL_DNTOMID,  /* DNToMId(dn) */
	URL_HOME_MDB, /* GetProps(mid, home MDB) */
	URL_FROM_MDB, /* GetMailboxUrl(home MDB) */
} url_step;

struct mh_nspi_client {
	mh_sctx *s;
	char *url;
	GUID server_guid;
	bool bound;
	void (*on_keepalive_failure)(mh_nspi_client *c, mh_status st, void *payload);
	void *ka_payload;

	bool running;
	mh_nspi_kind kind; /* of the request in flight */
	bool is_ping;
	mh_nspi_done done;
	void *payload;
	mh_arena *arena; /* the caller's, or &tmp */
	mh_arena tmp;
	uint32_t n_names;
	url_step step;
	char *dn; /* get_mailbox_url's DN */

	char msg[768];
};

#define N_RESOLVE_TAGS 8u

static void set_msg(mh_nspi_client *c, const char *fmt, ...) MH_PRINTF(2, 3);
static void set_msg(mh_nspi_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

static mh_mapihttp_request_type rt_of(mh_nspi_kind k)
{
	const char *name = mh_nspi_kind_name(k);
	return name != NULL ? mh_mapihttp_request_type_parse(name, strlen(name)) : MH_RT_UNKNOWN;
}

/* An NSPI ErrorCode as a status: the failures are MAPI_E_* values already. */
static mh_status nspi_status(uint32_t ec)
{
	if (ec == MH_NSPI_SUCCESS || ec == MH_NSPI_ERRORS_RETURNED)
		return S_OK;
	return MH_FAILED((mh_status)ec) ? (mh_status)ec : MAPI_E_CALL_FAILED;
}

static mh_status bind_body(mh_buf *b)
{
	mh_nspi_request q;
	memset(&q, 0, sizeof(q));
	q.kind = MH_NSPI_BIND;
	q.u.bind.has_state = true;
	mh_nspi_stat_default(&q.u.bind.state);
	return mh_nspi_request_push(b, &q);
}

static mh_status hook_reconnect_body(void *owner, mh_buf *b)
{
	(void)owner;
	return bind_body(b);
}

/* Reads a Bind answer; S_OK keeps the ServerGuid. */
static mh_status take_bind(mh_nspi_client *c, const mh_mapi_result *r, mh_arena *a,
                           mh_nspi_response *resp)
{
	mh_cursor cur;
	mh_cursor_init(&cur, r->body != NULL ? r->body : (const uint8_t *)"", r->len,
	               MAPI_E_CORRUPT_DATA);
	mh_status st = mh_nspi_response_pull(&cur, a, MH_NSPI_BIND, MH_NSPI_PULL_CMP_AUTO, resp);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		set_msg(c, "Bind answer: %s", e != NULL ? e->message : mh_status_str(st));
		return st;
	}
	if (resp->status_code != 0) {
		set_msg(c, "Bind failed: StatusCode 0x%08X", (unsigned)resp->status_code);
		return mh_error_set(MAPI_E_CALL_FAILED, -1, "%s", c->msg);
	}
	if (resp->error_code != 0) {
		st = nspi_status(resp->error_code);
		set_msg(c, "Bind refused: ErrorCode %s (0x%08X)",
		        mh_status_str((mh_status)resp->error_code), (unsigned)resp->error_code);
		return mh_error_set(st, -1, "%s", c->msg);
	}
	c->server_guid = resp->u.bind.server_guid;
	c->bound = true;
	return S_OK;
}

static mh_status hook_reconnected(void *owner, const mh_mapi_result *r)
{
	mh_nspi_client *c = owner;
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_nspi_response resp;
	c->bound = false;
	mh_status st = take_bind(c, r, &a, &resp);
	mh_arena_free(&a);
	return st;
}

static void hook_keepalive_failed(void *owner, mh_status st, const char *message)
{
	mh_nspi_client *c = owner;
	set_msg(c, "keep-alive PING failed: %s", message != NULL ? message : "");
	if (c->on_keepalive_failure != NULL)
		c->on_keepalive_failure(c, st, c->ka_payload);
}

mh_status mh_nspi_client_new(mh_nspi_client **out, mh_loop *loop, const mh_nspi_client_options *o)
{
	if (out == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_nspi_client_new: no out");
	*out = NULL;
	if (loop == NULL || o == NULL || o->version != 1 || o->url == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "NSPI client: loop, options (version 1) and url are required");
	if (strstr(o->url, "/mapi/nspi/") == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "NSPI client: the URL is not a /mapi/nspi/ endpoint");
	mh_nspi_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return mh_error_oom();
	c->url = dup_str(o->url);
	if (c->url == NULL) {
		free(c);
		return mh_error_oom();
	}
	mh_sctx_options so;
	MH_SCTX_OPTIONS_FROM(&so, o);
	so.hooks.reconnect_type = MH_RT_BIND;
	so.hooks.reconnect_body = hook_reconnect_body;
	so.hooks.reconnected = hook_reconnected;
	so.hooks.keepalive_failed = hook_keepalive_failed;
	so.hooks.owner = c;
	mh_status st = mh_sctx_new(&c->s, loop, &so);
	if (st != S_OK) {
		free(c->url);
		free(c);
		return st;
	}
	c->on_keepalive_failure = o->on_keepalive_failure;
	c->ka_payload = o->payload;
	mh_arena_init(&c->tmp, 0);
	*out = c;
	return S_OK;
}

void mh_nspi_client_free(mh_nspi_client *c)
{
	if (c == NULL)
		return;
	mh_sctx_free(c->s);
	mh_arena_free(&c->tmp);
	free(c->url);
	free(c->dn);
	free(c);
}

/* Ends the operation; done runs last. */
static void finish(mh_nspi_client *c, mh_status st, bool reset, const mh_nspi_result *r)
{
	mh_nspi_result empty;
	if (r == NULL) {
		memset(&empty, 0, sizeof(empty));
		r = &empty;
	}
	mh_nspi_done done = c->done;
	void *payload = c->payload;
	c->running = false;
	c->done = NULL;
	c->step = URL_NONE;
	done(c, st, reset, r, payload);
}

static void on_answer(void *owner, mh_status st, const mh_mapi_result *r, const char *message,
                      bool reset);

/* Encodes q and sends it; read-only requests may be sent again after a network failure. */
static mh_status send_req(mh_nspi_client *c, const mh_nspi_request *q)
{
	mh_buf b = MH_BUF_INIT;
	mh_status st = mh_nspi_request_push(&b, q);
	if (st == S_OK) {
		c->kind = q->kind;
		c->is_ping = false;
		st = mh_sctx_send(c->s, rt_of(q->kind), b.data, b.len, true, on_answer);
	}
	mh_buf_free(&b);
	return st;
}

static mh_status begin(mh_nspi_client *c, mh_nspi_done done, void *payload, mh_arena *arena)
{
	if (c == NULL || done == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "NSPI: no client or done");
	if (c->running || mh_sctx_busy(c->s))
		return mh_error_set(MAPI_E_BUSY, -1,
		                    "NSPI client: an operation is running (one at a time)");
	mh_arena_free(&c->tmp);
	c->arena = arena != NULL ? arena : &c->tmp;
	c->done = done;
	c->payload = payload;
	c->msg[0] = '\0';
	c->step = URL_NONE;
	c->n_names = 0;
	return S_OK;
}

/* Starts q as the operation; on failure nothing runs. */
static mh_status start(mh_nspi_client *c, const mh_nspi_request *q)
{
	mh_status st = send_req(c, q);
	if (st != S_OK) {
		c->done = NULL;
		return st;
	}
	c->running = true;
	return S_OK;
}

/* The MailboxId of a URL looks like <guid>@<domain> or an address (not gromox's "Servers"). */
static bool url_names_mailbox(const char *url)
{
	const char *p = url != NULL ? strstr(url, "MailboxId=") : NULL;
	if (p == NULL)
		return false;
	p += strlen("MailboxId=");
	const char *at = strchr(p, '@');
	return at != NULL && at > p && at[1] != '\0';
}

static const char *prop_string(const SPropValue *props, uint32_t n, uint32_t tag_w)
{
	for (uint32_t i = 0; i < n; i++) {
		if (PROP_ID(props[i].ulPropTag) != PROP_ID(tag_w))
			continue;
		if (PROP_TYPE(props[i].ulPropTag) == PT_UNICODE)
			return props[i].Value.lpszW;
		if (PROP_TYPE(props[i].ulPropTag) == PT_STRING8)
			return props[i].Value.lpszA;
	}
	return NULL;
}

static uint32_t prop_long(const SPropValue *props, uint32_t n, uint32_t tag)
{
	for (uint32_t i = 0; i < n; i++)
		if (props[i].ulPropTag == tag)
			return (uint32_t)props[i].Value.l;
	return 0;
}

/* Fills r->names from a ResolveNames answer. */
static mh_status take_resolve(mh_nspi_client *c, const mh_nspi_response *resp, mh_nspi_result *r)
{
	const mh_nspi_resolve_names_resp *rn = &resp->u.resolve_names;
	mh_nspi_resolved *out = NULL;
	mh_status st =
	    mh_arena_array(c->arena, c->n_names > 0 ? c->n_names : 1, sizeof(*out), (void **)&out);
	if (st != S_OK)
		return st;
	uint32_t row = 0;
	for (uint32_t i = 0; i < c->n_names; i++) {
		uint32_t mid =
		    rn->has_mids && i < rn->mids.count ? rn->mids.mids[i] : MH_NSPI_MID_UNRESOLVED;
		out[i].mid = mid;
		if (mid != MH_NSPI_MID_RESOLVED)
			continue;
		if (!rn->has_rows || row >= rn->rows.count) {
			set_msg(c, "ResolveNames answer: name %u resolved but row %u is missing",
			        (unsigned)i, (unsigned)row);
			return mh_error_set(MAPI_E_CORRUPT_DATA, -1, "%s", c->msg);
		}
		const mh_prop_row *pr = &rn->rows.rows[row++];
		out[i].resolved = true;
		out[i].row = pr;
		out[i].display_name = prop_string(pr->lpProps, pr->cValues, PR_DISPLAY_NAME_W);
		out[i].email_address = prop_string(pr->lpProps, pr->cValues, PR_EMAIL_ADDRESS_W);
		out[i].address_type = prop_string(pr->lpProps, pr->cValues, PR_ADDRTYPE_W);
		out[i].smtp_address = prop_string(pr->lpProps, pr->cValues, PR_SMTP_ADDRESS_W);
		out[i].home_mdb = prop_string(pr->lpProps, pr->cValues, PR_EMS_AB_HOME_MDB_W);
		out[i].display_type = prop_long(pr->lpProps, pr->cValues, PR_DISPLAY_TYPE);
		out[i].object_type = prop_long(pr->lpProps, pr->cValues, MH_NSPI_TAG_OBJECT_TYPE);
	}
	r->n_names = c->n_names;
	r->names = out;
	r->columns = rn->has_rows ? rn->rows.columns : NULL;
	return S_OK;
}

static mh_status send_dn_to_mid(mh_nspi_client *c, const char *dn)
{
	mh_nspi_request q;
	memset(&q, 0, sizeof(q));
	q.kind = MH_NSPI_DN_TO_MID;
	q.u.dn_to_mid.has_names = true;
	q.u.dn_to_mid.names.count = 1;
	char *v[1] = {(char *)(uintptr_t)dn};
	q.u.dn_to_mid.names.values = v;
	return send_req(c, &q);
}

static mh_status send_get_url(mh_nspi_client *c, mh_nspi_kind kind, const char *dn)
{
	mh_nspi_request q;
	memset(&q, 0, sizeof(q));
	q.kind = kind;
	q.u.get_url.dn = (char *)(uintptr_t)(dn != NULL ? dn : "");
	return send_req(c, &q);
}

static mh_status send_get_props(mh_nspi_client *c, uint32_t mid, const SPropTagArray *tags)
{
	mh_nspi_request q;
	memset(&q, 0, sizeof(q));
	q.kind = MH_NSPI_GET_PROPS;
	q.u.get_props.has_state = true;
	mh_nspi_stat_default(&q.u.get_props.state);
	q.u.get_props.state.cur_rec = mid;
	q.u.get_props.has_tags = tags != NULL;
	q.u.get_props.tags = (SPropTagArray *)(uintptr_t)tags;
	return send_req(c, &q);
}

/* The next step of get_mailbox_url after an answer; ends the operation when it cannot go on. */
static void url_next(mh_nspi_client *c, const mh_nspi_response *resp, mh_nspi_result *r)
{
	mh_status st = S_OK;
	switch (c->step) {
	case URL_DIRECT:
	case URL_FROM_MDB:
		if (resp->error_code == 0 && url_names_mailbox(resp->u.get_url.server_url)) {
			r->url = resp->u.get_url.server_url;
			finish(c, S_OK, false, r);
			return;
		}
		if (c->step == URL_DIRECT) {
			c->step = URL_DNTOMID;
			st = send_dn_to_mid(c, c->dn);
			break;
		}
		set_msg(c, "GetMailboxUrl: the home MDB of \"%.300s\" gives no mailbox URL (%s)",
		        c->dn,
		        resp->error_code != 0 ? mh_status_str((mh_status)resp->error_code)
		                              : "no MailboxId in it");
		finish(c, MAPI_E_NOT_FOUND, false, r);
		return;
	case URL_DNTOMID: {
		const mh_nspi_dn_to_mid_resp *d = &resp->u.dn_to_mid;
		uint32_t mid = d->has_mids && d->mids.count > 0 ? d->mids.mids[0] : 0;
		if (resp->error_code != 0 || mid == 0) {
			set_msg(c,
			        "GetMailboxUrl: \"%.300s\" is neither a server or MDB DN nor an "
			        "address book entry",
			        c->dn);
			finish(c, MAPI_E_NOT_FOUND, false, r);
			return;
		}
		static const struct {
			uint32_t n;
			uint32_t t[1];
		} home = {1, {PR_EMS_AB_HOME_MDB_W}};
		c->step = URL_HOME_MDB;
		st = send_get_props(c, mid, (const SPropTagArray *)(const void *)&home);
		break;
	}
	case URL_HOME_MDB: {
		const mh_nspi_get_props_resp *g = &resp->u.get_props;
		const char *mdb = g->has_values ? prop_string(g->values.props, g->values.count,
		                                              PR_EMS_AB_HOME_MDB_W)
		                                : NULL;
		if (mdb == NULL || mdb[0] == '\0') {
			set_msg(c, "GetMailboxUrl: \"%.300s\" has no home MDB (not a mailbox user)",
			        c->dn);
			finish(c, MAPI_E_NOT_FOUND, false, r);
			return;
		}
		c->step = URL_FROM_MDB;
		st = send_get_url(c, MH_NSPI_GET_MAILBOX_URL, mdb);
		break;
	}
	default:
		st = MAPI_E_CALL_FAILED;
		break;
	}
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		set_msg(c, "GetMailboxUrl: %s", e != NULL ? e->message : mh_status_str(st));
		finish(c, st, false, r);
	}
}

static void on_answer(void *owner, mh_status st, const mh_mapi_result *r, const char *message,
                      bool reset)
{
	mh_nspi_client *c = owner;
	mh_nspi_result res;
	memset(&res, 0, sizeof(res));
	const char *what = c->is_ping ? "PING" : mh_nspi_kind_name(c->kind);
	if (st != S_OK) {
		set_msg(c, "%s: %s", what, message);
		if (reset)
			c->bound = mh_sctx_connected(c->s);
		finish(c, st, reset, NULL);
		return;
	}
	if (c->is_ping) {
		finish(c, S_OK, false, NULL);
		return;
	}
	mh_nspi_response *resp = NULL;
	mh_status ms = mh_arena_alloc(c->arena, sizeof(*resp), (void **)&resp);
	if (ms != S_OK) {
		set_msg(c, "%s: %s", what, mh_status_str(ms));
		finish(c, ms, false, NULL);
		return;
	}
	if (c->kind == MH_NSPI_BIND) {
		ms = take_bind(c, r, c->arena, resp);
		if (ms == S_OK)
			mh_sctx_set_connected(c->s, true);
		res.resp = resp;
		res.error_code = resp->error_code;
		finish(c, ms, false, &res);
		return;
	}
	mh_cursor cur;
	mh_cursor_init(&cur, r->body != NULL ? r->body : (const uint8_t *)"", r->len,
	               MAPI_E_CORRUPT_DATA);
	ms = mh_nspi_response_pull(&cur, c->arena, c->kind, MH_NSPI_PULL_CMP_AUTO, resp);
	if (ms != S_OK) {
		const mh_error *e = mh_error_last();
		set_msg(c, "%s answer: %s", what, e != NULL ? e->message : mh_status_str(ms));
		finish(c, ms, false, NULL);
		return;
	}
	res.resp = resp;
	res.error_code = resp->error_code;
	if (resp->status_code != 0) {
		set_msg(c, "%s failed: StatusCode 0x%08X", what, (unsigned)resp->status_code);
		finish(c, MAPI_E_CALL_FAILED, false, &res);
		return;
	}
	if (c->kind == MH_NSPI_UNBIND) {
		if (resp->error_code == MH_NSPI_UNBIND_SUCCESS || resp->error_code == 0) {
			c->bound = false;
			mh_sctx_set_connected(c->s, false);
			finish(c, S_OK, false, &res);
		} else {
			set_msg(c, "Unbind: ErrorCode 0x%08X", (unsigned)resp->error_code);
			finish(c, MAPI_E_CALL_FAILED, false, &res);
		}
		return;
	}
	if (c->step != URL_NONE) {
		url_next(c, resp, &res);
		return;
	}
	ms = nspi_status(resp->error_code);
	if (ms != S_OK) {
		set_msg(c, "%s: ErrorCode %s (0x%08X)", what,
		        mh_status_str((mh_status)resp->error_code), (unsigned)resp->error_code);
		finish(c, ms, false, &res);
		return;
	}
	switch (c->kind) {
	case MH_NSPI_RESOLVE_NAMES:
		ms = take_resolve(c, resp, &res);
		break;
	case MH_NSPI_GET_ADDRESS_BOOK_URL:
		res.url = resp->u.get_url.server_url;
		break;
	default:
		break;
	}
	finish(c, ms, false, &res);
}

/* ---- operations ---- */

mh_status mh_nspi_client_bind(mh_nspi_client *c, mh_nspi_done done, void *payload)
{
	mh_status st = begin(c, done, payload, NULL);
	if (st != S_OK)
		return st;
	/* A Bind on a live context carries its cookies: the server drops the old one. */
	if (mh_sctx_connected(c->s))
		st = mh_sctx_restart(c->s);
	else
		mh_mapi_ctx_reset_cookies(mh_sctx_mapi_ctx(c->s));
	mh_nspi_request q;
	memset(&q, 0, sizeof(q));
	q.kind = MH_NSPI_BIND;
	q.u.bind.has_state = true;
	mh_nspi_stat_default(&q.u.bind.state);
	return st == S_OK ? start(c, &q) : st;
}

mh_status mh_nspi_client_unbind(mh_nspi_client *c, mh_nspi_done done, void *payload)
{
	mh_status st = begin(c, done, payload, NULL);
	if (st != S_OK)
		return st;
	mh_nspi_request q;
	memset(&q, 0, sizeof(q));
	q.kind = MH_NSPI_UNBIND;
	return start(c, &q);
}

mh_status mh_nspi_client_ping(mh_nspi_client *c, mh_nspi_done done, void *payload)
{
	mh_status st = begin(c, done, payload, NULL);
	if (st != S_OK)
		return st;
	c->is_ping = true;
	st = mh_sctx_send(c->s, MH_RT_PING, "", 0, true, on_answer);
	if (st != S_OK) {
		c->done = NULL;
		return st;
	}
	c->running = true;
	return S_OK;
}

mh_status mh_nspi_client_resolve_names(mh_nspi_client *c, const char *const *names, uint32_t n,
                                       mh_arena *arena, mh_nspi_done done, void *payload)
{
	if (names == NULL || n == 0 || n > MH_NSPI_MAX_COUNT || arena == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "ResolveNames: names (1 to 100000) and an arena are required");
	mh_status st = begin(c, done, payload, arena);
	if (st != S_OK)
		return st;
	static const struct {
		uint32_t n;
		uint32_t t[N_RESOLVE_TAGS];
	} tags = {N_RESOLVE_TAGS,
	          {PR_DISPLAY_NAME_W, PR_EMAIL_ADDRESS_W, PR_ADDRTYPE_W, PR_SMTP_ADDRESS_W,
	           PR_EMS_AB_HOME_MDB_W, PR_DISPLAY_TYPE, MH_NSPI_TAG_OBJECT_TYPE, PR_ENTRYID}};
	mh_nspi_request q;
	memset(&q, 0, sizeof(q));
	q.kind = MH_NSPI_RESOLVE_NAMES;
	q.u.resolve_names.has_state = true;
	mh_nspi_stat_default(&q.u.resolve_names.state);
	q.u.resolve_names.has_tags = true;
	q.u.resolve_names.tags = (SPropTagArray *)(uintptr_t)(const void *)&tags;
	q.u.resolve_names.has_names = true;
	q.u.resolve_names.names.count = n;
	q.u.resolve_names.names.values = (char **)(uintptr_t)names;
	c->n_names = n;
	return start(c, &q);
}

mh_status mh_nspi_client_dntomid(mh_nspi_client *c, const char *const *dns, uint32_t n,
                                 mh_arena *arena, mh_nspi_done done, void *payload)
{
	if (dns == NULL || n == 0 || n > MH_NSPI_MAX_COUNT || arena == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "DNToMId: DNs (1 to 100000) and an arena are required");
	mh_status st = begin(c, done, payload, arena);
	if (st != S_OK)
		return st;
	mh_nspi_request q;
	memset(&q, 0, sizeof(q));
	q.kind = MH_NSPI_DN_TO_MID;
	q.u.dn_to_mid.has_names = true;
	q.u.dn_to_mid.names.count = n;
	q.u.dn_to_mid.names.values = (char **)(uintptr_t)dns;
	return start(c, &q);
}

mh_status mh_nspi_client_get_props(mh_nspi_client *c, uint32_t mid, const SPropTagArray *tags,
                                   mh_arena *arena, mh_nspi_done done, void *payload)
{
	if (tags == NULL || arena == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "GetProps: tags and an arena are required");
	mh_status st = begin(c, done, payload, arena);
	if (st != S_OK)
		return st;
	st = send_get_props(c, mid, tags);
	if (st != S_OK) {
		c->done = NULL;
		return st;
	}
	c->running = true;
	return S_OK;
}

mh_status mh_nspi_client_get_mailbox_url(mh_nspi_client *c, const char *dn, mh_arena *arena,
                                         mh_nspi_done done, void *payload)
{
	if (dn == NULL || dn[0] == '\0' || arena == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "GetMailboxUrl: a DN and an arena are required");
	char *copy = dup_str(dn);
	if (copy == NULL)
		return mh_error_oom();
	mh_status st = begin(c, done, payload, arena);
	if (st != S_OK) {
		free(copy);
		return st;
	}
	free(c->dn);
	c->dn = copy;
	st = send_get_url(c, MH_NSPI_GET_MAILBOX_URL, c->dn);
	if (st != S_OK) {
		c->done = NULL;
		return st;
	}
	c->step = URL_DIRECT;
	c->running = true;
	return S_OK;
}

mh_status mh_nspi_client_get_address_book_url(mh_nspi_client *c, const char *user_dn,
                                              mh_arena *arena, mh_nspi_done done, void *payload)
{
	if (arena == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "GetAddressBookUrl: an arena is required");
	mh_status st = begin(c, done, payload, arena);
	if (st != S_OK)
		return st;
	st = send_get_url(c, MH_NSPI_GET_ADDRESS_BOOK_URL, user_dn);
	if (st != S_OK) {
		c->done = NULL;
		return st;
	}
	c->running = true;
	return S_OK;
}

/* ---- synchronous helpers ---- */

typedef struct nsync {
	bool done, reset;
	mh_status st;
	mh_nspi_result *out;
	const char **url;
} nsync;

static void nsync_done(mh_nspi_client *c, mh_status st, bool reset, const mh_nspi_result *r,
                       void *payload)
{
	(void)c;
	nsync *s = payload;
	s->st = st;
	s->reset = reset;
	if (s->out != NULL)
		*s->out = *r;
	if (s->url != NULL)
		*s->url = r->url;
	s->done = true;
}

static mh_status nsync_run(mh_nspi_client *c, nsync *s, mh_status started, uint64_t deadline,
                           bool *reset)
{
	if (started != S_OK)
		return started;
	mh_status st = mh_loop_run_until(mh_sctx_loop(c->s), &s->done, deadline);
	if (st != S_OK) {
		mh_sctx_cancel(c->s);
		c->running = false;
		c->done = NULL;
		c->step = URL_NONE;
		const mh_error *e = mh_error_last();
		set_msg(c, "the loop stopped before the operation ended: %s",
		        e != NULL ? e->message : mh_status_str(st));
		return st;
	}
	if (reset != NULL)
		*reset = s->reset;
	if (s->st != S_OK)
		mh_error_set(s->st, -1, "%s", c->msg);
	return s->st;
}

mh_status mh_nspi_client_bind_sync(mh_nspi_client *c, uint64_t deadline_ms)
{
	nsync s;
	memset(&s, 0, sizeof(s));
	return nsync_run(c, &s, mh_nspi_client_bind(c, nsync_done, &s), deadline_ms, NULL);
}

mh_status mh_nspi_client_unbind_sync(mh_nspi_client *c, uint64_t deadline_ms)
{
	nsync s;
	memset(&s, 0, sizeof(s));
	return nsync_run(c, &s, mh_nspi_client_unbind(c, nsync_done, &s), deadline_ms, NULL);
}

mh_status mh_nspi_client_ping_sync(mh_nspi_client *c, uint64_t deadline_ms, bool *reset)
{
	nsync s;
	memset(&s, 0, sizeof(s));
	return nsync_run(c, &s, mh_nspi_client_ping(c, nsync_done, &s), deadline_ms, reset);
}

mh_status mh_nspi_client_resolve_names_sync(mh_nspi_client *c, const char *const *names, uint32_t n,
                                            mh_arena *arena, mh_nspi_result *out,
                                            uint64_t deadline_ms, bool *reset)
{
	nsync s;
	memset(&s, 0, sizeof(s));
	s.out = out;
	return nsync_run(c, &s, mh_nspi_client_resolve_names(c, names, n, arena, nsync_done, &s),
	                 deadline_ms, reset);
}

mh_status mh_nspi_client_dntomid_sync(mh_nspi_client *c, const char *const *dns, uint32_t n,
                                      mh_arena *arena, mh_nspi_result *out, uint64_t deadline_ms,
                                      bool *reset)
{
	nsync s;
	memset(&s, 0, sizeof(s));
	s.out = out;
	return nsync_run(c, &s, mh_nspi_client_dntomid(c, dns, n, arena, nsync_done, &s),
	                 deadline_ms, reset);
}

mh_status mh_nspi_client_get_props_sync(mh_nspi_client *c, uint32_t mid, const SPropTagArray *tags,
                                        mh_arena *arena, mh_nspi_result *out, uint64_t deadline_ms,
                                        bool *reset)
{
	nsync s;
	memset(&s, 0, sizeof(s));
	s.out = out;
	return nsync_run(c, &s, mh_nspi_client_get_props(c, mid, tags, arena, nsync_done, &s),
	                 deadline_ms, reset);
}

mh_status mh_nspi_client_get_mailbox_url_sync(mh_nspi_client *c, const char *dn, mh_arena *arena,
                                              const char **url, uint64_t deadline_ms, bool *reset)
{
	nsync s;
	memset(&s, 0, sizeof(s));
	s.url = url;
	return nsync_run(c, &s, mh_nspi_client_get_mailbox_url(c, dn, arena, nsync_done, &s),
	                 deadline_ms, reset);
}

mh_status mh_nspi_client_get_address_book_url_sync(mh_nspi_client *c, const char *user_dn,
                                                   mh_arena *arena, const char **url,
                                                   uint64_t deadline_ms, bool *reset)
{
	nsync s;
	memset(&s, 0, sizeof(s));
	s.url = url;
	return nsync_run(c, &s,
	                 mh_nspi_client_get_address_book_url(c, user_dn, arena, nsync_done, &s),
	                 deadline_ms, reset);
}

/* ---- state ---- */

const char *mh_nspi_client_errmsg(const mh_nspi_client *c)
{
	return c->msg;
}

bool mh_nspi_client_bound(const mh_nspi_client *c)
{
	return c->bound && mh_sctx_connected(c->s);
}

bool mh_nspi_client_busy(const mh_nspi_client *c)
{
	return c->running || mh_sctx_busy(c->s);
}

const GUID *mh_nspi_client_server_guid(const mh_nspi_client *c)
{
	return &c->server_guid;
}

uint32_t mh_nspi_client_generation(const mh_nspi_client *c)
{
	return mh_sctx_generation(c->s);
}

void mh_nspi_client_stats(const mh_nspi_client *c, mh_sctx_stats *out)
{
	mh_sctx_stats_get(c->s, out);
}
