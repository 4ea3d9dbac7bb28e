/*
 * The client's EMSMDB session context as state machines on the event loop, and the session
 * context core (retries, reconnect, keep-alive) the NSPI client shares. See
 * docs/internals/session.md.
 */
#include "session/emsmdb_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/rpc_ext.h"
#include "util/cursor.h"
#include "util/diag.h"

/* ==== the shared core ==================================================================== */

#define RETRY_ATTEMPTS_DEFAULT 4u
#define RETRY_BASE_DEFAULT     250u
#define RETRY_CAP_DEFAULT      10000u
/* The idle lifetime assumed until the server names one (Exchange's default). */
#define EXPIRATION_DEFAULT_MS 900000u

struct mh_sctx {
	mh_loop *loop;
	mh_mapi_ctx *ctx;
	mh_retry_policy retry;
	bool keep_alive;
	mh_sctx_hooks hooks;
	uint32_t counter;
	uint32_t expiration_asked;
	uint64_t rng;

	bool connected;
	bool worked; /* a request succeeded on the current context */
	uint32_t generation;

	/* the operation */
	bool active;
	bool reconnecting;
	bool resend_ok;
	unsigned attempt;
	mh_mapihttp_request_type type;
	mh_buf body;
	mh_sctx_done done;
	uint64_t wait_timer; /* 0: none */
	void (*wait_fn)(void *ud);
	void *wait_ud;
	char lost[256]; /* why the context was lost, while reconnecting */

	/* keep-alive */
	uint64_t ka_timer;
	bool ka_in_flight;

	mh_sctx_stats stats;
	char msg[768];
};

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

mh_status mh_sctx_new(mh_sctx **out, mh_loop *loop, const mh_sctx_options *o)
{
	if (out == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_sctx_new: no out");
	*out = NULL;
	if (loop == NULL || o == NULL || o->hooks.reconnect_body == NULL ||
	    o->hooks.reconnected == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "session context: loop, options and hooks are required");
	mh_sctx *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mh_error_oom();
	mh_status st = mh_mapi_ctx_new(&s->ctx, loop, &o->ctx);
	if (st != S_OK) {
		free(s);
		return st;
	}
	s->loop = loop;
	s->retry = o->retry;
	if (s->retry.max_attempts == 0)
		s->retry.max_attempts = RETRY_ATTEMPTS_DEFAULT;
	if (s->retry.base_ms == 0)
		s->retry.base_ms = RETRY_BASE_DEFAULT;
	if (s->retry.cap_ms == 0)
		s->retry.cap_ms = RETRY_CAP_DEFAULT;
	s->rng = o->retry.seed;
	s->keep_alive = o->keep_alive;
	s->hooks = o->hooks;
	s->counter = o->ctx.client_counter;
	s->expiration_asked = o->ctx.expiration_ms;
	s->body = (mh_buf)MH_BUF_INIT;
	*out = s;
	return S_OK;
}

static void ka_stop(mh_sctx *s)
{
	if (s->ka_timer != 0) {
		mh_loop_timer_cancel(s->loop, s->ka_timer);
		s->ka_timer = 0;
	}
	if (s->ka_in_flight) {
		mh_mapi_ctx_cancel(s->ctx);
		s->ka_in_flight = false;
	}
}

void mh_sctx_free(mh_sctx *s)
{
	if (s == NULL)
		return;
	ka_stop(s);
	if (s->wait_timer != 0)
		mh_loop_timer_cancel(s->loop, s->wait_timer);
	mh_mapi_ctx_free(s->ctx);
	mh_buf_free(&s->body);
	free(s);
}

static void ka_fire(void *ud);

/* Half the idle lifetime the server announced (or was asked for), at least 1 ms. */
static void ka_arm(mh_sctx *s)
{
	if (!s->keep_alive || !s->connected)
		return;
	if (s->ka_timer != 0) {
		mh_loop_timer_cancel(s->loop, s->ka_timer);
		s->ka_timer = 0;
	}
	uint32_t period = mh_mapi_ctx_expiration(s->ctx);
	if (period == 0)
		period = s->expiration_asked != 0 ? s->expiration_asked : EXPIRATION_DEFAULT_MS;
	uint64_t delay = period / 2 > 0 ? period / 2 : 1;
	if (mh_loop_timer(s->loop, delay, ka_fire, s, &s->ka_timer) != S_OK)
		s->ka_timer = 0; /* no keep-alive: the next operation reconnects if it must */
}

static void on_result(const mh_mapi_result *r, void *ud);

static void ka_fire(void *ud)
{
	mh_sctx *s = ud;
	s->ka_timer = 0;
	if (!s->connected)
		return;
	if (s->active) {
		/* The operation keeps the context alive itself; look again a period later. */
		ka_arm(s);
		return;
	}
	if (mh_mapi_ctx_send(s->ctx, MH_RT_PING, "", 0, on_result, s) != S_OK) {
		ka_arm(s);
		return;
	}
	s->ka_in_flight = true;
	s->stats.keepalives++;
}

static void ka_result(mh_sctx *s, const mh_mapi_result *r)
{
	s->ka_in_flight = false;
	if (r->status == S_OK) {
		ka_arm(s);
		return;
	}
	if (r->status != MAPI_E_END_OF_SESSION)
		ka_arm(s);
	if (s->hooks.keepalive_failed != NULL)
		s->hooks.keepalive_failed(s->hooks.owner, r->status, r->message);
}

/* Ends the operation: the owner's done runs last, since it may free everything. */
static void finish(mh_sctx *s, mh_status st, const mh_mapi_result *r, const char *message,
                   bool reset)
{
	s->active = false;
	s->reconnecting = false;
	if (message != s->msg)
		snprintf(s->msg, sizeof(s->msg), "%s", message != NULL ? message : "");
	mh_sctx_done done = s->done;
	s->done = NULL;
	done(s->hooks.owner, st, r, s->msg, reset);
}

static mh_status issue(mh_sctx *s)
{
	mh_status st = mh_mapi_ctx_send(
	    s->ctx, s->type, s->body.data != NULL ? (const void *)s->body.data : (const void *)"",
	    s->body.len, on_result, s);
	if (st == S_OK)
		s->stats.requests++;
	return st;
}

static void resend_fire(void *ud)
{
	mh_sctx *s = ud;
	s->wait_timer = 0;
	s->attempt++;
	s->stats.retries++;
	mh_status st = issue(s);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		finish(s, st, NULL, e != NULL ? e->message : "cannot send the request again",
		       s->reconnecting);
	}
}

uint32_t mh_sctx_jitter(mh_sctx *s, uint32_t ms, uint32_t cap_ms)
{
	if (cap_ms == 0)
		cap_ms = s->retry.cap_ms;
	if (ms > cap_ms)
		ms = cap_ms;
	uint32_t quarter = ms / 4;
	if (quarter == 0)
		return ms;
	return ms - (uint32_t)(splitmix64(&s->rng) % ((uint64_t)quarter + 1));
}

static uint32_t backoff_ms(mh_sctx *s)
{
	uint64_t d = s->retry.base_ms;
	for (unsigned i = 1; i < s->attempt && d < s->retry.cap_ms; i++)
		d *= 2;
	return mh_sctx_jitter(s, d > UINT32_MAX ? UINT32_MAX : (uint32_t)d, 0);
}

static bool schedule_resend(mh_sctx *s, uint32_t delay)
{
	return mh_loop_timer(s->loop, delay, resend_fire, s, &s->wait_timer) == S_OK;
}

static void start_reconnect(mh_sctx *s, const mh_mapi_result *r)
{
	snprintf(s->lost, sizeof(s->lost), "session context lost (X-ResponseCode %u %s)",
	         (unsigned)r->response_code, mh_mapihttp_response_code_name(r->response_code));
	s->connected = false;
	s->worked = false;
	if (s->ka_timer != 0) {
		mh_loop_timer_cancel(s->loop, s->ka_timer);
		s->ka_timer = 0;
	}
	s->counter++;
	mh_status st = mh_mapi_ctx_restart(s->ctx, true, s->counter);
	mh_buf_free(&s->body);
	s->body = (mh_buf)MH_BUF_INIT;
	if (st == S_OK)
		st = s->hooks.reconnect_body(s->hooks.owner, &s->body);
	s->type = s->hooks.reconnect_type;
	s->resend_ok = true;
	s->attempt = 1;
	s->reconnecting = true;
	s->stats.reconnects++;
	if (st == S_OK)
		st = issue(s);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		snprintf(s->msg, sizeof(s->msg), "%s; reconnect not sent: %s", s->lost,
		         e != NULL ? e->message : mh_status_str(st));
		finish(s, MAPI_E_END_OF_SESSION, r, s->msg, true);
	}
}

static void on_result(const mh_mapi_result *r, void *ud)
{
	mh_sctx *s = ud;
	if (s->ka_in_flight) {
		ka_result(s, r);
		return;
	}
	mh_status st = r->status;
	if (st != S_OK)
		s->stats.failures++;
	if (st == S_OK) {
		if (s->reconnecting) {
			mh_status rs = s->hooks.reconnected(s->hooks.owner, r);
			if (rs == S_OK) {
				s->connected = true;
				s->worked = true;
				s->generation++;
				ka_arm(s);
				snprintf(s->msg, sizeof(s->msg),
				         "%s; reconnected: every logon and handle of the old "
				         "context is gone",
				         s->lost);
			} else {
				const mh_error *e = mh_error_last();
				snprintf(s->msg, sizeof(s->msg), "%s; reconnect failed: %s",
				         s->lost, e != NULL ? e->message : mh_status_str(rs));
			}
			finish(s, MAPI_E_END_OF_SESSION, r, s->msg, true);
			return;
		}
		s->worked = true;
		ka_arm(s);
		finish(s, S_OK, r, "", false);
		return;
	}
	if (s->attempt < s->retry.max_attempts) {
		if (st == MAPI_E_BUSY && (r->http_status == 503 || r->http_status == 429)) {
			uint32_t d = r->retry_after_ms != 0
			                 ? mh_sctx_jitter(s, r->retry_after_ms, 0)
			                 : backoff_ms(s);
			if (schedule_resend(s, d))
				return;
		} else if ((st == MAPI_E_NETWORK_ERROR || st == MAPI_E_TIMEOUT) && s->resend_ok) {
			if (schedule_resend(s, backoff_ms(s)))
				return;
		}
	}
	if (s->reconnecting) {
		snprintf(s->msg, sizeof(s->msg), "%s; reconnect failed: %s", s->lost, r->message);
		finish(s, MAPI_E_END_OF_SESSION, r, s->msg, true);
		return;
	}
	if (st == MAPI_E_END_OF_SESSION && s->type != s->hooks.reconnect_type &&
	    (r->response_code == MH_RESPONSE_CONTEXT_NOT_FOUND || s->worked)) {
		start_reconnect(s, r);
		return;
	}
	if (r->have_response_code && r->response_code == MH_RESPONSE_INVALID_SEQUENCE) {
		snprintf(
		    s->msg, sizeof(s->msg),
		    "%s: X-ResponseCode 15 (Invalid Sequence): two requests ran at once on one "
		    "session context (a client bug); the server fails every later request",
		    mh_mapihttp_request_type_name(s->type));
		finish(s, st, r, s->msg, false);
		return;
	}
	finish(s, st, r, r->message, false);
}

mh_status mh_sctx_send(mh_sctx *s, mh_mapihttp_request_type type, const void *body, size_t len,
                       bool safe_to_resend, mh_sctx_done done)
{
	if (s == NULL || done == NULL || (body == NULL && len > 0))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "session context: request without a context or done");
	if (s->active)
		return mh_error_set(MAPI_E_BUSY, -1,
		                    "session context: an operation is running (one at a time)");
	if (s->ka_in_flight) {
		/* Any request keeps the context alive: the PING is no longer needed. */
		mh_mapi_ctx_cancel(s->ctx);
		s->ka_in_flight = false;
	}
	s->body.len = 0;
	s->body.err = S_OK;
	mh_buf_put(&s->body, body, len);
	if (mh_buf_status(&s->body) != S_OK)
		return mh_error_oom();
	s->type = type;
	s->resend_ok = safe_to_resend;
	s->attempt = 1;
	s->reconnecting = false;
	s->done = done;
	mh_status st = issue(s);
	if (st != S_OK) {
		s->done = NULL;
		return st;
	}
	s->active = true;
	return S_OK;
}

mh_status mh_sctx_restart(mh_sctx *s)
{
	return mh_mapi_ctx_restart(s->ctx, true, ++s->counter);
}

void mh_sctx_set_connected(mh_sctx *s, bool connected)
{
	s->connected = connected;
	if (connected) {
		s->worked = true;
		ka_arm(s);
	} else {
		s->worked = false;
		ka_stop(s);
		mh_mapi_ctx_reset_cookies(s->ctx);
	}
}

bool mh_sctx_connected(const mh_sctx *s)
{
	return s->connected;
}

bool mh_sctx_busy(const mh_sctx *s)
{
	return s->active;
}

uint32_t mh_sctx_generation(const mh_sctx *s)
{
	return s->generation;
}

void mh_sctx_stats_get(const mh_sctx *s, mh_sctx_stats *out)
{
	mh_mapi_ctx_stats cs;
	mh_mapi_ctx_stats_get(s->ctx, &cs);
	*out = s->stats;
	out->requests = cs.requests;
	out->failures = cs.failures;
	out->bytes_out = cs.bytes_out;
	out->bytes_in = cs.bytes_in;
}

mh_loop *mh_sctx_loop(const mh_sctx *s)
{
	return s->loop;
}

mh_mapi_ctx *mh_sctx_mapi_ctx(const mh_sctx *s)
{
	return s->ctx;
}

static void wait_fire(void *ud)
{
	mh_sctx *s = ud;
	s->wait_timer = 0;
	s->active = false;
	s->wait_fn(s->wait_ud);
}

mh_status mh_sctx_wait(mh_sctx *s, uint32_t delay_ms, void (*fn)(void *ud), void *ud)
{
	s->wait_fn = fn;
	s->wait_ud = ud;
	mh_status st = mh_loop_timer(s->loop, delay_ms, wait_fire, s, &s->wait_timer);
	if (st == S_OK)
		s->active = true;
	return st;
}

void mh_sctx_idle(mh_sctx *s)
{
	if (s->wait_timer != 0) {
		mh_loop_timer_cancel(s->loop, s->wait_timer);
		s->wait_timer = 0;
	}
	s->active = false;
}

void mh_sctx_cancel(mh_sctx *s)
{
	if (s->wait_timer != 0) {
		mh_loop_timer_cancel(s->loop, s->wait_timer);
		s->wait_timer = 0;
	}
	if (s->active || s->ka_in_flight)
		mh_mapi_ctx_cancel(s->ctx);
	s->ka_in_flight = false;
	s->active = false;
	s->reconnecting = false;
	s->done = NULL;
}

/* ==== EMSMDB ============================================================================ */

#define BACKOFF_CAP_DEFAULT 30000u
#define MAX_ROUNDS_DEFAULT  8u
#define SERVER_BUSY_RETRIES 3u /* when Connect named no RetryCount */
#define SERVER_BUSY_DELAY   1000u

typedef enum em_op { OP_NONE = 0, OP_CONNECT, OP_EXECUTE, OP_LOGON, OP_DISCONNECT, OP_PING } em_op;

typedef struct exec_state {
	mh_emsmdb_execute_args args;
	uint32_t start;    /* first request of this round */
	uint32_t *handles; /* the table as it stands */
	uint32_t n_handles;
	uint32_t max_rop_out;
	bool raised; /* MaxRopOut already raised for an Execute-level ecBufferTooSmall */
	mh_rop_response *merged;
	uint32_t n_merged, cap_merged;
	int32_t *answer; /* per request: index in merged, -1 */
	mh_emsmdb_execute_result res;
	unsigned busy_rounds;
} exec_state;

struct mh_emsmdb_client {
	mh_sctx *s;
	char *url;
	char *user_dn;
	uint32_t execute_flags;
	uint32_t max_rop_out;
	uint32_t backoff_cap_ms;
	unsigned max_rounds;
	void (*on_keepalive_failure)(mh_emsmdb_client *c, mh_status st, void *payload);
	void *ka_payload;

	mh_emsmdb_connect_info info;
	char *dn_prefix, *display_name, *server_application;

	em_op op;
	mh_emsmdb_done done;
	mh_emsmdb_execute_done xdone;
	mh_emsmdb_logon_done ldone;
	void *payload;
	exec_state x;
	mh_arena tmp;

	/* the logon helper's request, alive while its Execute runs */
	mh_rop_request logon_req;
	uint32_t logon_handle;
	char *logon_essdn;
	mh_arena *logon_arena;

	char msg[768];
};

static char *dup_str(const char *s)
{
	if (s == NULL)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

static void set_msg(mh_emsmdb_client *c, const char *fmt, ...) MH_PRINTF(2, 3);
static void set_msg(mh_emsmdb_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
}

static mh_status connect_body(const mh_emsmdb_client *c, mh_buf *b)
{
	mh_emsmdb_connect_request q;
	memset(&q, 0, sizeof(q));
	q.user_dn = c->user_dn;
	q.flags = 0;
	q.default_code_page = 1252;
	q.lcid_sort = 0x409;
	q.lcid_string = 0x409;
	return mh_emsmdb_connect_request_push(b, &q);
}

static mh_status hook_reconnect_body(void *owner, mh_buf *b)
{
	return connect_body(owner, b);
}

mh_status mh_emsmdb_connect_status(uint32_t ec)
{
	switch (ec) {
	case 0:
		return S_OK;
	case (uint32_t)ecLoginPerm:
	case (uint32_t)ecAccessDenied:
	case (uint32_t)ecProtocolDisabled:
	case (uint32_t)ecRpcHttpDisallowed:
	case (uint32_t)ecCachedModeRequired:
	case (uint32_t)ecNotEncrypted:
		return MAPI_E_NO_ACCESS;
	case (uint32_t)ecUnknownUser:
	case (uint32_t)ecLoginFailure:
	case (uint32_t)ecMailboxDisabled:
		return MAPI_E_LOGON_FAILED;
	case (uint32_t)ecClientVerDisallowed:
	case (uint32_t)ecVersionMismatch:
		return MAPI_E_VERSION;
	case (uint32_t)ecServerPaused:
	case (uint32_t)ecMailboxInTransit:
	case (uint32_t)RPC_S_SERVER_TOO_BUSY:
		return MAPI_E_BUSY;
	default:
		return MH_FAILED((mh_status)ec) ? (mh_status)ec : MAPI_E_CALL_FAILED;
	}
}

mh_status mh_emsmdb_logon_status(uint32_t rv)
{
	switch (rv) {
	case 0:
		return S_OK;
	case (uint32_t)ecWrongServer:
		return MAPI_E_UNCONFIGURED;
	case (uint32_t)ecLoginPerm:
	case (uint32_t)ecAccessDenied:
	case (uint32_t)ecProfileNotConfigured:
		return MAPI_E_NO_ACCESS;
	case (uint32_t)ecUnknownUser:
	case (uint32_t)ecNotFound:
		return MAPI_E_UNKNOWN_ENTRYID;
	case (uint32_t)ecLoginFailure:
	case (uint32_t)ecMailboxDisabled:
		return MAPI_E_LOGON_FAILED;
	case (uint32_t)ecServerPaused:
	case (uint32_t)ecMailboxInTransit:
		return MAPI_E_BUSY;
	default:
		return MH_FAILED((mh_status)rv) ? (mh_status)rv : MAPI_E_CALL_FAILED;
	}
}

/* Reads a Connect answer into c->info; S_OK or the mapped failure with c->msg set. */
static mh_status take_connect(mh_emsmdb_client *c, const mh_mapi_result *r)
{
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_cursor cur;
	mh_emsmdb_connect_response resp;
	mh_cursor_init(&cur, r->body != NULL ? r->body : (const uint8_t *)"", r->len,
	               MAPI_E_CORRUPT_DATA);
	mh_status st = mh_emsmdb_connect_response_pull(&cur, &a, &resp);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		set_msg(c, "Connect answer: %s", e != NULL ? e->message : mh_status_str(st));
	} else if (resp.status_code != 0) {
		st = MAPI_E_CALL_FAILED;
		set_msg(c, "Connect failed: StatusCode 0x%08X (%s)", (unsigned)resp.status_code,
		        mh_status_str((mh_status)resp.status_code));
	} else if (resp.error_code != 0) {
		st = mh_emsmdb_connect_status(resp.error_code);
		c->info.error_code = resp.error_code;
		set_msg(c, "Connect refused: ErrorCode %s (0x%08X) for UserDN \"%.300s\"",
		        mh_status_str((mh_status)resp.error_code), (unsigned)resp.error_code,
		        c->user_dn);
		mh_error_set(st, -1, "%s", c->msg);
	} else {
		char *p = dup_str(resp.dn_prefix), *d = dup_str(resp.display_name);
		char *sa = dup_str(r->server_application != NULL ? r->server_application : "");
		if (p == NULL || d == NULL || sa == NULL) {
			free(p);
			free(d);
			free(sa);
			st = mh_error_oom();
			set_msg(c, "Connect: out of memory");
		} else {
			free(c->dn_prefix);
			free(c->display_name);
			free(c->server_application);
			c->dn_prefix = p;
			c->display_name = d;
			c->server_application = sa;
			c->info.error_code = 0;
			c->info.polls_max = resp.polls_max;
			c->info.retry_count = resp.retry_count;
			c->info.retry_delay = resp.retry_delay;
			c->info.dn_prefix = p;
			c->info.display_name = d;
			c->info.server_application = sa;
		}
	}
	mh_arena_free(&a);
	return st;
}

static mh_status hook_reconnected(void *owner, const mh_mapi_result *r)
{
	return take_connect(owner, r);
}

static void hook_keepalive_failed(void *owner, mh_status st, const char *message)
{
	mh_emsmdb_client *c = owner;
	set_msg(c, "keep-alive PING failed: %s", message != NULL ? message : "");
	if (c->on_keepalive_failure != NULL)
		c->on_keepalive_failure(c, st, c->ka_payload);
}

mh_status mh_emsmdb_client_new(mh_emsmdb_client **out, mh_loop *loop,
                               const mh_emsmdb_client_options *o)
{
	if (out == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_emsmdb_client_new: no out");
	*out = NULL;
	if (loop == NULL || o == NULL || o->version != 1 || o->url == NULL || o->user_dn == NULL ||
	    o->user_dn[0] == '\0')
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "EMSMDB client: loop, options (version 1), url and user_dn "
		                    "are required");
	for (const char *p = o->user_dn; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "EMSMDB client: user_dn must be ASCII (a LegacyDN)");
	if (strstr(o->url, "/mapi/emsmdb/") == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "EMSMDB client: the URL is not a /mapi/emsmdb/ endpoint");
	mh_emsmdb_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return mh_error_oom();
	c->url = dup_str(o->url);
	c->user_dn = dup_str(o->user_dn);
	if (c->url == NULL || c->user_dn == NULL) {
		mh_emsmdb_client_free(c);
		return mh_error_oom();
	}
	mh_sctx_options so;
	MH_SCTX_OPTIONS_FROM(&so, o);
	so.hooks.reconnect_type = MH_RT_CONNECT;
	so.hooks.reconnect_body = hook_reconnect_body;
	so.hooks.reconnected = hook_reconnected;
	so.hooks.keepalive_failed = hook_keepalive_failed;
	so.hooks.owner = c;
	mh_status st = mh_sctx_new(&c->s, loop, &so);
	if (st != S_OK) {
		mh_emsmdb_client_free(c);
		return st;
	}
	c->execute_flags = o->execute_flags;
	c->max_rop_out = o->max_rop_out != 0 ? o->max_rop_out : MH_EMSMDB_MAX_ROP_OUT_DEFAULT;
	if (c->max_rop_out < MH_RPC_EXT_HEADER_SIZE)
		c->max_rop_out = MH_RPC_EXT_HEADER_SIZE;
	if (c->max_rop_out > MH_EMSMDB_MAX_ROP_OUT_LIMIT)
		c->max_rop_out = MH_EMSMDB_MAX_ROP_OUT_LIMIT;
	c->backoff_cap_ms = o->backoff_cap_ms != 0 ? o->backoff_cap_ms : BACKOFF_CAP_DEFAULT;
	c->max_rounds = o->max_rounds != 0 ? o->max_rounds : MAX_ROUNDS_DEFAULT;
	c->on_keepalive_failure = o->on_keepalive_failure;
	c->ka_payload = o->payload;
	mh_arena_init(&c->tmp, 0);
	*out = c;
	return S_OK;
}

static void exec_clear(mh_emsmdb_client *c)
{
	free(c->x.handles);
	free(c->x.merged);
	free(c->x.answer);
	memset(&c->x, 0, sizeof(c->x));
	mh_arena_free(&c->tmp);
}

void mh_emsmdb_client_free(mh_emsmdb_client *c)
{
	if (c == NULL)
		return;
	mh_sctx_free(c->s);
	exec_clear(c);
	free(c->url);
	free(c->user_dn);
	free(c->dn_prefix);
	free(c->display_name);
	free(c->server_application);
	free(c->logon_essdn);
	free(c);
}

/* Clears the operation and calls its done last. */
static void end_simple(mh_emsmdb_client *c, mh_status st, bool reset)
{
	mh_emsmdb_done done = c->done;
	void *payload = c->payload;
	c->op = OP_NONE;
	c->done = NULL;
	done(c, st, reset, payload);
}

static mh_status begin(mh_emsmdb_client *c, em_op op)
{
	if (c->op != OP_NONE || mh_sctx_busy(c->s))
		return mh_error_set(MAPI_E_BUSY, -1,
		                    "EMSMDB client: an operation is running (one at a time)");
	c->op = op;
	c->msg[0] = '\0';
	return S_OK;
}

/* ---- Connect ---- */

static void connect_done(void *owner, mh_status st, const mh_mapi_result *r, const char *message,
                         bool reset)
{
	mh_emsmdb_client *c = owner;
	if (st == S_OK) {
		st = take_connect(c, r);
		if (st == S_OK)
			mh_sctx_set_connected(c->s, true);
	} else {
		set_msg(c, "Connect: %s", message);
	}
	end_simple(c, st, reset);
}

mh_status mh_emsmdb_client_connect(mh_emsmdb_client *c, mh_emsmdb_done done, void *payload)
{
	if (c == NULL || done == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "Connect: no client or done");
	mh_status st = begin(c, OP_CONNECT);
	if (st != S_OK)
		return st;
	mh_buf b = MH_BUF_INIT;
	st = connect_body(c, &b);
	if (st == S_OK) {
		/* A Connect on a live context carries its cookies: the server drops the old one. */
		if (mh_sctx_connected(c->s))
			st = mh_sctx_restart(c->s);
		else
			mh_mapi_ctx_reset_cookies(mh_sctx_mapi_ctx(c->s));
	}
	if (st == S_OK) {
		c->done = done;
		c->payload = payload;
		st = mh_sctx_send(c->s, MH_RT_CONNECT, b.data, b.len, true, connect_done);
	}
	mh_buf_free(&b);
	if (st != S_OK) {
		c->op = OP_NONE;
		c->done = NULL;
	}
	return st;
}

const mh_emsmdb_connect_info *mh_emsmdb_client_connect_info(const mh_emsmdb_client *c)
{
	return &c->info;
}

/* ---- Disconnect, PING ---- */

static void disconnect_done(void *owner, mh_status st, const mh_mapi_result *r, const char *message,
                            bool reset)
{
	mh_emsmdb_client *c = owner;
	if (st == S_OK) {
		mh_arena a;
		mh_arena_init(&a, 0);
		mh_cursor cur;
		mh_emsmdb_disconnect_response resp;
		mh_cursor_init(&cur, r->body != NULL ? r->body : (const uint8_t *)"", r->len,
		               MAPI_E_CORRUPT_DATA);
		st = mh_emsmdb_disconnect_response_pull(&cur, &a, &resp);
		if (st != S_OK) {
			const mh_error *e = mh_error_last();
			set_msg(c, "Disconnect answer: %s", e != NULL ? e->message : "");
		} else if (resp.status_code != 0 || resp.error_code != 0) {
			st = MAPI_E_CALL_FAILED;
			set_msg(c, "Disconnect failed: StatusCode 0x%08X, ErrorCode 0x%08X",
			        (unsigned)resp.status_code, (unsigned)resp.error_code);
		}
		mh_arena_free(&a);
		if (st == S_OK)
			mh_sctx_set_connected(c->s, false);
	} else {
		set_msg(c, "Disconnect: %s", message);
	}
	end_simple(c, st, reset);
}

mh_status mh_emsmdb_client_disconnect(mh_emsmdb_client *c, mh_emsmdb_done done, void *payload)
{
	if (c == NULL || done == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "Disconnect: no client or done");
	mh_status st = begin(c, OP_DISCONNECT);
	if (st != S_OK)
		return st;
	static const uint8_t body[4] = {0, 0, 0, 0}; /* AuxBuf size 0 */
	c->done = done;
	c->payload = payload;
	st = mh_sctx_send(c->s, MH_RT_DISCONNECT, body, sizeof(body), true, disconnect_done);
	if (st != S_OK) {
		c->op = OP_NONE;
		c->done = NULL;
	}
	return st;
}

static void ping_done(void *owner, mh_status st, const mh_mapi_result *r, const char *message,
                      bool reset)
{
	mh_emsmdb_client *c = owner;
	(void)r;
	if (st != S_OK)
		set_msg(c, "PING: %s", message);
	end_simple(c, st, reset);
}

mh_status mh_emsmdb_client_ping(mh_emsmdb_client *c, mh_emsmdb_done done, void *payload)
{
	if (c == NULL || done == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "PING: no client or done");
	mh_status st = begin(c, OP_PING);
	if (st != S_OK)
		return st;
	c->done = done;
	c->payload = payload;
	st = mh_sctx_send(c->s, MH_RT_PING, "", 0, true, ping_done);
	if (st != S_OK) {
		c->op = OP_NONE;
		c->done = NULL;
	}
	return st;
}

/* ---- Execute ---- */

static bool has_response(const mh_rop_request *q)
{
	if (q->rop_id == MH_ROP_RELEASE)
		return false;
	if (mh_rop_request_kind(q->rop_id) == MH_ROP_KIND_SKIPPED)
		return q->u.unsupported.has_response;
	return true;
}

static uint8_t response_id(const mh_rop_request *q)
{
	if (mh_rop_request_kind(q->rop_id) == MH_ROP_KIND_SKIPPED)
		return q->u.unsupported.response_rop_id;
	return q->rop_id;
}

static void exec_end(mh_emsmdb_client *c, mh_status st, bool reset)
{
	mh_emsmdb_execute_result res = c->x.res;
	if (st == S_OK) {
		/* The merged responses and the table move into the caller's arena. */
		mh_arena *a = c->x.args.arena;
		mh_status ms = S_OK;
		void *p = NULL;
		if (c->x.n_merged > 0)
			ms = mh_arena_memdup(a, c->x.merged,
			                     c->x.n_merged * sizeof(mh_rop_response), &p);
		res.responses.rops = p;
		res.responses.count = c->x.n_merged;
		p = NULL;
		if (ms == S_OK && c->x.n_handles > 0)
			ms =
			    mh_arena_memdup(a, c->x.handles, c->x.n_handles * sizeof(uint32_t), &p);
		res.responses.handles = p;
		res.responses.handle_count = c->x.n_handles;
		if (ms != S_OK) {
			st = ms;
			set_msg(c, "Execute: the answer does not fit the caller's arena (%s)",
			        mh_status_str(ms));
			memset(&res.responses, 0, sizeof(res.responses));
		}
	}
	mh_emsmdb_execute_done done = c->xdone;
	void *payload = c->payload;
	exec_clear(c);
	c->op = OP_NONE;
	c->xdone = NULL;
	done(c, st, reset, &res, payload);
}

static const SPropTagArray *round_columns(uint8_t logon_id, uint32_t handle, void *payload)
{
	mh_emsmdb_client *c = payload;
	exec_state *x = &c->x;
	/* A SetColumns answered in an earlier round, on the table this handle names. */
	for (uint32_t i = x->start; i-- > 0;) {
		const mh_rop_request *q = &x->args.rops[i];
		if (q->rop_id != MH_ROP_SET_COLUMNS || q->logon_id != logon_id || x->answer[i] < 0)
			continue;
		if (x->merged[x->answer[i]].return_value != 0)
			continue;
		if (q->in_handle_index < x->n_handles && x->handles[q->in_handle_index] == handle)
			return q->u.set_columns.tags;
	}
	if (x->args.columns != NULL)
		return x->args.columns(logon_id, handle, x->args.columns_payload);
	return NULL;
}

static void exec_round(mh_emsmdb_client *c);
static void exec_done(void *owner, mh_status st, const mh_mapi_result *r, const char *message,
                      bool reset);

static void exec_round_timer(void *ud)
{
	exec_round(ud);
}

static mh_status exec_append(exec_state *x, const mh_rop_response *r)
{
	if (x->n_merged == x->cap_merged) {
		uint32_t cap = x->cap_merged ? x->cap_merged * 2 : 16;
		mh_rop_response *p = realloc(x->merged, cap * sizeof(*p));
		if (p == NULL)
			return mh_error_oom();
		x->merged = p;
		x->cap_merged = cap;
	}
	x->merged[x->n_merged++] = *r;
	return S_OK;
}

/* Handles one decoded ROP output buffer; ends the operation or starts the next round. */
static void exec_take(mh_emsmdb_client *c, const mh_rop_response_buffer *rb)
{
	exec_state *x = &c->x;
	uint32_t ri = x->start;
	uint32_t backoff = 0;
	bool backed_off = false, too_small = false;
	uint16_t size_needed = 0;
	mh_status st;
	for (uint32_t i = 0; i < rb->count; i++) {
		const mh_rop_response *r = &rb->rops[i];
		if (r->rop_id == MH_ROP_PENDING)
			continue;
		if (r->rop_id == MH_ROP_BACKOFF) {
			backed_off = true;
			backoff = r->u.backoff.duration;
			for (uint8_t k = 0; k < r->u.backoff.rop_count; k++)
				if (r->u.backoff.rops[k].duration > backoff)
					backoff = r->u.backoff.rops[k].duration;
			break;
		}
		if (r->rop_id == MH_ROP_BUFFER_TOO_SMALL) {
			too_small = true;
			size_needed = r->u.buffer_too_small.size_needed;
			break;
		}
		while (ri < x->args.n_rops && !has_response(&x->args.rops[ri]))
			ri++;
		if (ri >= x->args.n_rops || response_id(&x->args.rops[ri]) != r->rop_id) {
			set_msg(
			    c,
			    "Execute answer: response %u is %s (0x%02X) but the request there is "
			    "%s",
			    (unsigned)i, mh_rop_name(r->rop_id) ? mh_rop_name(r->rop_id) : "?",
			    r->rop_id,
			    ri < x->args.n_rops && mh_rop_name(x->args.rops[ri].rop_id)
			        ? mh_rop_name(x->args.rops[ri].rop_id)
			        : "none");
			exec_end(c, MAPI_E_CORRUPT_DATA, false);
			return;
		}
		x->answer[ri] = (int32_t)x->n_merged;
		if ((st = exec_append(x, r)) != S_OK) {
			set_msg(c, "Execute: out of memory");
			exec_end(c, st, false);
			return;
		}
		ri++;
	}
	/* The table as the server left it; entries past its end keep what was sent. */
	for (uint32_t i = 0; i < rb->handle_count && i < x->n_handles; i++)
		x->handles[i] = rb->handles[i];

	if (!backed_off && !too_small) {
		exec_end(c, S_OK, false);
		return;
	}
	if (x->res.rounds >= c->max_rounds) {
		set_msg(c, "Execute: still %s after %u rounds",
		        backed_off ? "backed off (RopBackoff)" : "too big (RopBufferTooSmall)",
		        x->res.rounds);
		exec_end(c, backed_off ? MAPI_E_BUSY : MAPI_E_TOO_BIG, false);
		return;
	}
	if (too_small) {
		/* RopRelease answers nothing: those between the last answer and the ROP that did
		 * not fit have run. */
		uint32_t next = ri;
		while (next < x->args.n_rops && !has_response(&x->args.rops[next]))
			next++;
		uint32_t want = (uint32_t)size_needed + MH_RPC_EXT_HEADER_SIZE;
		if (want > MH_EMSMDB_MAX_ROP_OUT_LIMIT)
			want = MH_EMSMDB_MAX_ROP_OUT_LIMIT;
		if (next == x->start && want <= x->max_rop_out) {
			set_msg(
			    c,
			    "Execute: RopBufferTooSmall asks for %u bytes, MaxRopOut is already "
			    "0x%X and no ROP was answered",
			    (unsigned)size_needed, (unsigned)x->max_rop_out);
			exec_end(c, MAPI_E_TOO_BIG, false);
			return;
		}
		if (want > x->max_rop_out)
			x->max_rop_out = want;
		x->res.too_small++;
		x->start = next;
		if (x->start >= x->args.n_rops) {
			exec_end(c, S_OK, false);
			return;
		}
		exec_round(c);
		return;
	}
	x->res.backoffs++;
	x->start = ri;
	if (x->start >= x->args.n_rops) {
		exec_end(c, S_OK, false);
		return;
	}
	uint32_t wait = backoff > c->backoff_cap_ms ? c->backoff_cap_ms : backoff;
	if ((st = mh_sctx_wait(c->s, wait, exec_round_timer, c)) != S_OK) {
		set_msg(c, "Execute: cannot wait for RopBackoff");
		exec_end(c, st, false);
	}
}

static void exec_done(void *owner, mh_status st, const mh_mapi_result *r, const char *message,
                      bool reset)
{
	mh_emsmdb_client *c = owner;
	exec_state *x = &c->x;
	if (st != S_OK) {
		if (st == MAPI_E_NETWORK_ERROR || st == MAPI_E_TIMEOUT) {
			x->res.indeterminate = true;
			set_msg(c,
			        "Execute: %s; not sent again: the server may have run the ROPs "
			        "(replay only what is read-only)",
			        message);
		} else {
			set_msg(c, "Execute: %s", message);
		}
		exec_end(c, st, reset);
		return;
	}
	mh_arena_free(&c->tmp);
	mh_cursor cur;
	mh_emsmdb_execute_response resp;
	mh_cursor_init(&cur, r->body != NULL ? r->body : (const uint8_t *)"", r->len,
	               MAPI_E_CORRUPT_DATA);
	st = mh_emsmdb_execute_response_pull(&cur, &c->tmp, &resp);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		set_msg(c, "Execute answer: %s", e != NULL ? e->message : mh_status_str(st));
		exec_end(c, st, false);
		return;
	}
	if (resp.status_code != 0) {
		if (resp.status_code == (uint32_t)RPC_S_SERVER_TOO_BUSY) {
			uint32_t count =
			    c->info.retry_count != 0 ? c->info.retry_count : SERVER_BUSY_RETRIES;
			uint32_t delay =
			    c->info.retry_delay != 0 ? c->info.retry_delay : SERVER_BUSY_DELAY;
			if (x->busy_rounds < count && x->res.rounds < c->max_rounds) {
				x->busy_rounds++;
				x->res.server_busy++;
				if (delay > c->backoff_cap_ms)
					delay = c->backoff_cap_ms;
				if ((st = mh_sctx_wait(c->s, delay, exec_round_timer, c)) == S_OK)
					return;
			}
			set_msg(c, "Execute: server too busy (StatusCode 0x6BB) %u times",
			        x->busy_rounds + 1);
			exec_end(c, MAPI_E_BUSY, false);
			return;
		}
		set_msg(c, "Execute failed: StatusCode 0x%08X (%s)", (unsigned)resp.status_code,
		        mh_status_str((mh_status)resp.status_code));
		exec_end(c, MAPI_E_CALL_FAILED, false);
		return;
	}
	x->res.error_code = resp.error_code;
	if (resp.error_code != 0) {
		if (resp.error_code == (uint32_t)ecBufferTooSmall && !x->raised &&
		    x->max_rop_out < MH_EMSMDB_MAX_ROP_OUT_LIMIT) {
			x->raised = true;
			x->max_rop_out = MH_EMSMDB_MAX_ROP_OUT_LIMIT;
			exec_round(c);
			return;
		}
		st = resp.error_code == (uint32_t)ecRpcFormat        ? MAPI_E_CORRUPT_DATA
		     : resp.error_code == (uint32_t)ecBufferTooSmall ? MAPI_E_TOO_BIG
		                                                     : MAPI_E_CALL_FAILED;
		set_msg(c, "Execute failed: ErrorCode %s (0x%08X)%s",
		        mh_status_str((mh_status)resp.error_code), (unsigned)resp.error_code,
		        resp.error_code == (uint32_t)ecRpcFormat
		            ? ": the server could not parse the ROP buffer; no ROP ran"
		            : "");
		exec_end(c, st, false);
		return;
	}
	mh_rpc_ext_chain chain;
	st = mh_rpc_ext_decode(resp.rop_buffer.data, resp.rop_buffer.len, 16, &c->tmp, 0, &chain);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		set_msg(c, "Execute answer RopBuffer: %s", e != NULL ? e->message : "");
		exec_end(c, st, false);
		return;
	}
	mh_rop_response_ctx rc;
	rc.requests = x->args.rops + x->start;
	rc.request_count = x->args.n_rops - x->start;
	rc.columns = round_columns;
	rc.payload = c;
	mh_rop_response_buffer rb;
	mh_cursor_init(&cur, chain.data != NULL ? chain.data : (const uint8_t *)"", chain.len,
	               MAPI_E_CORRUPT_DATA);
	st = mh_rop_response_buffer_pull(&cur, x->args.arena, &rc, &rb);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		set_msg(c, "Execute answer ROP output buffer: %s", e != NULL ? e->message : "");
		exec_end(c, st, false);
		return;
	}
	exec_take(c, &rb);
}

/* Builds and sends the requests from x->start on with the current table. */
static mh_status exec_send(mh_emsmdb_client *c)
{
	exec_state *x = &c->x;
	mh_rop_request_buffer rqb;
	rqb.count = x->args.n_rops - x->start;
	rqb.rops = (mh_rop_request *)(uintptr_t)(x->args.rops + x->start);
	rqb.handle_count = x->n_handles;
	rqb.handles = x->handles;
	mh_buf plain = MH_BUF_INIT, ext = MH_BUF_INIT, body = MH_BUF_INIT;
	mh_rop_request_buffer_push(&plain, &rqb);
	mh_status st = mh_buf_status(&plain);
	if (st == S_OK && plain.len > MH_RPC_EXT_MAX_PAYLOAD)
		st = mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                  "Execute: the ROP buffer is %zu bytes, over the 32 KiB of one "
		                  "extended buffer: split it",
		                  plain.len);
	if (st == S_OK)
		st = mh_rpc_ext_push_one(&ext, plain.data, plain.len, NULL, true);
	if (st == S_OK) {
		mh_emsmdb_execute_request q;
		memset(&q, 0, sizeof(q));
		q.flags = c->execute_flags;
		q.rop_buffer.data = ext.data;
		q.rop_buffer.len = (uint32_t)ext.len;
		q.max_rop_out = x->max_rop_out;
		st = mh_emsmdb_execute_request_push(&body, &q);
	}
	if (st == S_OK) {
		st = mh_sctx_send(c->s, MH_RT_EXECUTE, body.data, body.len, false, exec_done);
		if (st == S_OK) {
			x->res.rounds++;
			x->res.max_rop_out = x->max_rop_out;
		}
	}
	mh_buf_free(&plain);
	mh_buf_free(&ext);
	mh_buf_free(&body);
	return st;
}

static void exec_round(mh_emsmdb_client *c)
{
	mh_status st = exec_send(c);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		set_msg(c, "Execute: %s", e != NULL ? e->message : mh_status_str(st));
		exec_end(c, st, false);
	}
}

/* Checks args and sets up the first round; on failure nothing is left running. */
static mh_status exec_setup(mh_emsmdb_client *c, const mh_emsmdb_execute_args *args)
{
	if (args == NULL || args->rops == NULL || args->n_rops == 0 || args->arena == NULL ||
	    (args->n_handles > 0 && args->handles == NULL) || args->n_handles > 255)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "Execute: ROPs, an arena and a handle table of at most 255 "
		                    "entries are required");
	for (uint32_t i = 0; i < args->n_rops; i++) {
		const mh_rop_request *q = &args->rops[i];
		bool creates = mh_rop_creates_object(q->rop_id);
		if ((q->rop_id != MH_ROP_LOGON && q->in_handle_index >= args->n_handles) ||
		    (creates && q->out_handle_index >= args->n_handles))
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "Execute: ROP %u (%s) uses a handle index past the "
			                    "%u-entry table",
			                    (unsigned)i,
			                    mh_rop_name(q->rop_id) ? mh_rop_name(q->rop_id) : "?",
			                    (unsigned)args->n_handles);
	}
	exec_state *x = &c->x;
	memset(x, 0, sizeof(*x));
	x->args = *args;
	x->n_handles = args->n_handles;
	x->max_rop_out = c->max_rop_out;
	x->handles = calloc(args->n_handles > 0 ? args->n_handles : 1, sizeof(uint32_t));
	x->answer = calloc(args->n_rops, sizeof(int32_t));
	if (x->handles == NULL || x->answer == NULL) {
		exec_clear(c);
		return mh_error_oom();
	}
	if (args->n_handles > 0)
		memcpy(x->handles, args->handles, args->n_handles * sizeof(uint32_t));
	for (uint32_t i = 0; i < args->n_rops; i++)
		x->answer[i] = -1;
	return S_OK;
}

mh_status mh_emsmdb_client_execute(mh_emsmdb_client *c, const mh_emsmdb_execute_args *args,
                                   mh_emsmdb_execute_done done, void *payload)
{
	if (c == NULL || done == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "Execute: no client or done");
	mh_status st = begin(c, OP_EXECUTE);
	if (st != S_OK)
		return st;
	if ((st = exec_setup(c, args)) != S_OK) {
		c->op = OP_NONE;
		return st;
	}
	/* The first round is sent here so that its failures are this call's. */
	c->xdone = done;
	c->payload = payload;
	st = exec_send(c);
	if (st != S_OK) {
		exec_clear(c);
		c->op = OP_NONE;
		c->xdone = NULL;
	}
	return st;
}

/* ---- RopLogon ---- */

static void logon_exec_done(mh_emsmdb_client *c, mh_status st, bool reset,
                            const mh_emsmdb_execute_result *r, void *payload)
{
	(void)payload;
	mh_emsmdb_logon_result lr;
	memset(&lr, 0, sizeof(lr));
	lr.logon_id = c->logon_req.logon_id;
	lr.status = st;
	if (st == S_OK) {
		const mh_rop_response *resp = NULL;
		for (uint32_t i = 0; i < r->responses.count; i++)
			if (r->responses.rops[i].rop_id == MH_ROP_LOGON)
				resp = &r->responses.rops[i];
		if (resp == NULL) {
			st = MAPI_E_CORRUPT_DATA;
			set_msg(c, "RopLogon: the answer holds no RopLogon response");
		} else {
			lr.return_value = (uint32_t)resp->return_value;
			lr.status = mh_emsmdb_logon_status(lr.return_value);
			lr.logon = &resp->u.logon;
			if (lr.return_value == 0 && r->responses.handle_count > 0)
				lr.handle = r->responses.handles[0];
			if (lr.return_value == (uint32_t)ecWrongServer) {
				lr.wrong_server = true;
				lr.server_name = resp->u.logon.server_name;
				set_msg(
				    c,
				    "RopLogon for \"%.300s\": ecWrongServer: the mailbox lives on "
				    "\"%.300s\" (GetMailboxUrl gives its URL)",
				    c->logon_essdn, lr.server_name != NULL ? lr.server_name : "");
			} else if (lr.return_value != 0) {
				set_msg(c, "RopLogon for \"%.300s\" failed: %s (0x%08X)",
				        c->logon_essdn, mh_status_str(resp->return_value),
				        (unsigned)lr.return_value);
			}
		}
	}
	mh_emsmdb_logon_done done = c->ldone;
	void *p = c->payload;
	c->ldone = NULL;
	done(c, st, reset, &lr, p);
}

mh_status mh_emsmdb_client_logon(mh_emsmdb_client *c, uint8_t logon_id, const char *essdn,
                                 mh_arena *arena, mh_emsmdb_logon_done done, void *payload)
{
	if (c == NULL || done == NULL || essdn == NULL || arena == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "RopLogon: client, Essdn, arena and done are required");
	char *copy = dup_str(essdn);
	if (copy == NULL)
		return mh_error_oom();
	if (c->op != OP_NONE || mh_sctx_busy(c->s)) {
		free(copy);
		return mh_error_set(MAPI_E_BUSY, -1,
		                    "EMSMDB client: an operation is running (one at a time)");
	}
	free(c->logon_essdn);
	c->logon_essdn = copy;
	memset(&c->logon_req, 0, sizeof(c->logon_req));
	c->logon_req.rop_id = MH_ROP_LOGON;
	c->logon_req.logon_id = logon_id;
	c->logon_req.out_handle_index = 0;
	c->logon_req.u.logon.logon_flags = MH_EMSMDB_LOGON_FLAGS;
	c->logon_req.u.logon.open_flags = MH_EMSMDB_OPEN_FLAGS;
	c->logon_req.u.logon.essdn = copy;
	c->logon_handle = 0xFFFFFFFFu;
	mh_emsmdb_execute_args args;
	memset(&args, 0, sizeof(args));
	args.rops = &c->logon_req;
	args.n_rops = 1;
	args.handles = &c->logon_handle;
	args.n_handles = 1;
	args.arena = arena;
	c->ldone = done;
	mh_status st = mh_emsmdb_client_execute(c, &args, logon_exec_done, payload);
	if (st != S_OK)
		c->ldone = NULL;
	return st;
}

/* ---- synchronous helpers ---- */

typedef struct sync_state {
	bool done;
	bool reset;
	mh_status st;
	mh_emsmdb_execute_result *xout;
	mh_emsmdb_logon_result *lout;
} sync_state;

static void sync_done(mh_emsmdb_client *c, mh_status st, bool reset, void *payload)
{
	(void)c;
	sync_state *s = payload;
	s->st = st;
	s->reset = reset;
	s->done = true;
}

static void sync_xdone(mh_emsmdb_client *c, mh_status st, bool reset,
                       const mh_emsmdb_execute_result *r, void *payload)
{
	sync_state *s = payload;
	if (s->xout != NULL)
		*s->xout = *r;
	sync_done(c, st, reset, payload);
}

static void sync_ldone(mh_emsmdb_client *c, mh_status st, bool reset,
                       const mh_emsmdb_logon_result *r, void *payload)
{
	sync_state *s = payload;
	if (s->lout != NULL)
		*s->lout = *r;
	sync_done(c, st, reset, payload);
}

/* Cancels the running operation without calling its done (after a loop failure). */
static void em_cancel(mh_emsmdb_client *c)
{
	mh_sctx_cancel(c->s);
	exec_clear(c);
	c->op = OP_NONE;
	c->done = NULL;
	c->xdone = NULL;
	c->ldone = NULL;
}

static mh_status sync_run(mh_emsmdb_client *c, sync_state *s, mh_status started, uint64_t deadline,
                          bool *reset)
{
	if (started != S_OK)
		return started;
	mh_status st = mh_loop_run_until(mh_sctx_loop(c->s), &s->done, deadline);
	if (st != S_OK) {
		em_cancel(c);
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

mh_status mh_emsmdb_client_connect_sync(mh_emsmdb_client *c, uint64_t deadline_ms, bool *reset)
{
	sync_state s;
	memset(&s, 0, sizeof(s));
	return sync_run(c, &s, mh_emsmdb_client_connect(c, sync_done, &s), deadline_ms, reset);
}

mh_status mh_emsmdb_client_execute_sync(mh_emsmdb_client *c, const mh_emsmdb_execute_args *args,
                                        mh_emsmdb_execute_result *out, uint64_t deadline_ms,
                                        bool *reset)
{
	sync_state s;
	memset(&s, 0, sizeof(s));
	s.xout = out;
	return sync_run(c, &s, mh_emsmdb_client_execute(c, args, sync_xdone, &s), deadline_ms,
	                reset);
}

mh_status mh_emsmdb_client_logon_sync(mh_emsmdb_client *c, uint8_t logon_id, const char *essdn,
                                      mh_arena *arena, mh_emsmdb_logon_result *out,
                                      uint64_t deadline_ms, bool *reset)
{
	sync_state s;
	memset(&s, 0, sizeof(s));
	s.lout = out;
	return sync_run(c, &s, mh_emsmdb_client_logon(c, logon_id, essdn, arena, sync_ldone, &s),
	                deadline_ms, reset);
}

mh_status mh_emsmdb_client_disconnect_sync(mh_emsmdb_client *c, uint64_t deadline_ms)
{
	sync_state s;
	memset(&s, 0, sizeof(s));
	return sync_run(c, &s, mh_emsmdb_client_disconnect(c, sync_done, &s), deadline_ms, NULL);
}

mh_status mh_emsmdb_client_ping_sync(mh_emsmdb_client *c, uint64_t deadline_ms, bool *reset)
{
	sync_state s;
	memset(&s, 0, sizeof(s));
	return sync_run(c, &s, mh_emsmdb_client_ping(c, sync_done, &s), deadline_ms, reset);
}

/* ---- state ---- */

const char *mh_emsmdb_client_errmsg(const mh_emsmdb_client *c)
{
	return c->msg;
}

bool mh_emsmdb_client_connected(const mh_emsmdb_client *c)
{
	return mh_sctx_connected(c->s);
}

bool mh_emsmdb_client_busy(const mh_emsmdb_client *c)
{
	return c->op != OP_NONE || mh_sctx_busy(c->s);
}

uint32_t mh_emsmdb_client_generation(const mh_emsmdb_client *c)
{
	return mh_sctx_generation(c->s);
}

void mh_emsmdb_client_stats(const mh_emsmdb_client *c, mh_sctx_stats *out)
{
	mh_sctx_stats_get(c->s, out);
}

const char *mh_emsmdb_client_url(const mh_emsmdb_client *c)
{
	return c->url;
}
