/*
 * mapihttpd's MAPI/HTTP session layer: the session contexts behind the MapiContext and
 * MapiSequence cookies, and the EMSMDB and NSPI handlers that run requests on them.
 * docs/internals/server-mapi.md describes the rules and the X-ResponseCode each fault gets.
 */
#define _DEFAULT_SOURCE /* strcasecmp */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "codec/emsmdb.h"
#include "codec/nspi.h"
#include "codec/rpc_ext.h"
#include "server/mapi_srv.h"
#include "server/nspi_srv.h"
#include "util/cursor.h"
#include "util/diag.h"
#include "util/hex.h"

#define CTX_ID_BYTES   16u /* 128 bits from getrandom(2) */
#define CTX_COOKIE_LEN (2u * CTX_ID_BYTES)
#define CTX_BUCKETS    4096u
#define SWEEP_EVERY    64u /* requests between two sweeps of idle contexts */
#define SEQ_MAX        24u /* "4294967295-AAAAAA==" and the NUL */

/* Connect's success fields: Exchange's values. */
#define CONNECT_POLLS_MAX   60000u
#define CONNECT_RETRY_COUNT 6u
#define CONNECT_RETRY_DELAY 10000u

/* MaxRopOut bounds without ULTRA_LARGE_PACKED_DOWNLOAD_BUFFERS (MS-OXCRPC 3.1.4.2). */
#define MAX_ROP_OUT_MIN MH_RPC_EXT_HEADER_SIZE
#define MAX_ROP_OUT_MAX 0x40000u

/* One session context. The table lock guards the fields up to run; run serialises requests. */
typedef struct ctx {
	struct ctx *next; /* bucket chain; after unlinking, the free list */
	uint8_t id[CTX_ID_BYTES];
	char cookie[CTX_COOKIE_LEN + 1];
	unsigned endpoint;  /* MH_ENDPOINT_EMSMDB or MH_ENDPOINT_NSPI */
	int64_t principal;  /* mh_srv_recipient.id of who created it */
	int64_t mailbox;    /* mh_srv_mailbox.id the URL named */
	unsigned refs;      /* one for the table while linked, one per request using it */
	bool linked;        /* in the table; false once dropped */
	bool busy;          /* a sequenced request runs */
	bool poisoned;      /* a sequence fault was seen: 15 from now on (spec 3.2.5.1) */
	uint32_t seq_count; /* the counter of seq */
	char seq[SEQ_MAX];  /* the MapiSequence value the next sequenced request must carry */
	uint64_t idle_since;
	uint32_t expiration;
	pthread_mutex_t run;
	mh_srv_rop_session *rop; /* EMSMDB */
	mh_srv_nspi_ctx nspi;    /* NSPI */
	char *base_url;          /* NSPI: nspi.base_url points here */
} ctx;

struct mh_srv_mapi {
	mh_srv_store *st;
	mh_srv_mapi_options opts; /* defaults filled in */
	GUID server_guid;         /* NSPI Bind's ServerGuid */
	pthread_mutex_t lock;     /* the table and every context's guarded fields */
	ctx *buckets[CTX_BUCKETS];
	size_t count;
	unsigned requests; /* since the last sweep */
};

/* ---- small helpers ---------------------------------------------------------------------- */

static uint64_t default_clock(void *payload)
{
	(void)payload;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ms(const mh_srv_mapi *m)
{
	return m->opts.clock(m->opts.clock_payload);
}

static mh_status random_bytes(void *out, size_t n)
{
	uint8_t *p = out;
	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return mh_error_set(MAPI_E_CALL_FAILED, -1, "getrandom: %s",
			                    strerror(errno));
		}
		p += got;
		n -= (size_t)got;
	}
	return S_OK;
}

/* "<counter>-<base64 of 4 random bytes>", Exchange's MapiSequence form. */
static mh_status make_seq(char out[SEQ_MAX], uint32_t counter)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t r[4];
	mh_status s = random_bytes(r, sizeof(r));
	if (s != S_OK)
		return s;
	uint32_t v = (uint32_t)r[0] << 16 | (uint32_t)r[1] << 8 | r[2];
	char enc[9];
	enc[0] = b64[v >> 18];
	enc[1] = b64[(v >> 12) & 63];
	enc[2] = b64[(v >> 6) & 63];
	enc[3] = b64[v & 63];
	v = (uint32_t)r[3] << 16;
	enc[4] = b64[v >> 18];
	enc[5] = b64[(v >> 12) & 63];
	enc[6] = '=';
	enc[7] = '=';
	enc[8] = 0;
	snprintf(out, SEQ_MAX, "%u-%s", (unsigned)counter, enc);
	return S_OK;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A MapiContext value is exactly 32 hex digits; anything else is not one of ours. */
static bool cookie_decode(const char *v, uint8_t id[CTX_ID_BYTES])
{
	if (strlen(v) != CTX_COOKIE_LEN)
		return false;
	for (size_t i = 0; i < CTX_ID_BYTES; i++) {
		int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static const char *find_cookie(const mh_srv_mapi_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_cookies; i++) {
		if (req->cookies[i].name != NULL && req->cookies[i].value != NULL &&
		    strcmp(req->cookies[i].name, name) == 0)
			return req->cookies[i].value;
	}
	return NULL;
}

static const char *arena_str(mh_arena *a, const char *s)
{
	char *out = NULL;
	if (mh_arena_strndup(a, s, strlen(s), &out) != S_OK)
		return NULL;
	return out;
}

/* A refusal: X-ResponseCode code with a diagnostic line (arena memory). */
static mh_status refuse(mh_srv_mapi_response *resp, mh_arena *a, uint32_t code, const char *msg)
{
	resp->response_code = code;
	resp->diagnostic = arena_str(a, msg);
	return S_OK;
}

/* A refusal whose line is the message a lower layer recorded. */
static mh_status refuse_last(mh_srv_mapi_response *resp, mh_arena *a, uint32_t code,
                             const char *fallback)
{
	const mh_error *e = mh_error_last();
	return refuse(resp, a, code, e != NULL ? e->message : fallback);
}

static mh_status set_cookie(mh_srv_mapi_response *resp, mh_arena *a, const char *name,
                            const char *value)
{
	const char *v = arena_str(a, value);
	if (v == NULL)
		return mh_error_oom();
	if (resp->n_set_cookies >= MH_SRV_HTTP_MAX_SET_COOKIES)
		return mh_error_set(MAPI_E_CALL_FAILED, -1, "too many Set-Cookie values");
	resp->set_cookies[resp->n_set_cookies].name = name;
	resp->set_cookies[resp->n_set_cookies].value = v;
	resp->n_set_cookies++;
	return S_OK;
}

static uint32_t clamp_expiration(const mh_srv_mapi *m, uint32_t requested)
{
	if (requested == 0)
		return m->opts.expiration;
	if (requested < MH_SRV_MAPI_MIN_EXPIRATION)
		return MH_SRV_MAPI_MIN_EXPIRATION;
	if (requested > MH_SRV_MAPI_MAX_EXPIRATION)
		return MH_SRV_MAPI_MAX_EXPIRATION;
	return requested;
}

/* ---- the context table ------------------------------------------------------------------ */

static size_t bucket_of(const uint8_t id[CTX_ID_BYTES])
{
	return ((size_t)id[0] | (size_t)id[1] << 8) % CTX_BUCKETS;
}

static void ctx_free(ctx *c)
{
	if (c == NULL)
		return;
	mh_srv_rop_session_free(c->rop);
	free(c->base_url);
	pthread_mutex_destroy(&c->run);
	free(c);
}

static void free_list(ctx *list)
{
	while (list != NULL) {
		ctx *next = list->next;
		ctx_free(list);
		list = next;
	}
}

static ctx *find_locked(mh_srv_mapi *m, const uint8_t id[CTX_ID_BYTES])
{
	for (ctx *c = m->buckets[bucket_of(id)]; c != NULL; c = c->next) {
		if (memcmp(c->id, id, CTX_ID_BYTES) == 0)
			return c;
	}
	return NULL;
}

/* Drops the table's reference; a context no request uses goes on *garbage to be freed. */
static void unlink_locked(mh_srv_mapi *m, ctx *c, ctx **garbage)
{
	if (!c->linked)
		return;
	ctx **pp = &m->buckets[bucket_of(c->id)];
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	c->next = NULL;
	c->linked = false;
	m->count--;
	if (--c->refs == 0) {
		c->next = *garbage;
		*garbage = c;
	}
}

static bool expired(const ctx *c, uint64_t now)
{
	/* A context a request is using is not idle. */
	return c->refs == 1 && now > c->idle_since && now - c->idle_since > c->expiration;
}

/*
 * Unlinks every expired context; counts principal's contexts left (EMSMDB and NSPI
 * together) in *mine when mine is not NULL.
 */
static void sweep_locked(mh_srv_mapi *m, uint64_t now, int64_t principal, size_t *mine,
                         ctx **garbage)
{
	size_t n = 0;
	for (size_t b = 0; b < CTX_BUCKETS; b++) {
		ctx *c = m->buckets[b];
		while (c != NULL) {
			ctx *next = c->next;
			if (expired(c, now))
				unlink_locked(m, c, garbage);
			else if (c->principal == principal)
				n++;
			c = next;
		}
	}
	m->requests = 0;
	if (mine != NULL)
		*mine = n;
}

/* A new, unlinked context for the request's principal, mailbox and endpoint. */
static mh_status ctx_new(mh_srv_mapi *m, const mh_srv_mapi_request *req, ctx **out)
{
	*out = NULL;
	ctx *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return mh_error_oom();
	mh_status s = random_bytes(c->id, sizeof(c->id));
	if (s == S_OK)
		s = make_seq(c->seq, 0);
	if (s != S_OK) {
		free(c);
		return s;
	}
	if (pthread_mutex_init(&c->run, NULL) != 0) {
		free(c);
		return mh_error_set(MAPI_E_CALL_FAILED, -1, "pthread_mutex_init failed");
	}
	mh_hex_encode(c->cookie, c->id, sizeof(c->id));
	for (char *p = c->cookie; *p != 0; p++) {
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	}
	c->endpoint = req->endpoint;
	c->principal = req->principal->id;
	c->mailbox = req->mailbox->id;
	c->refs = 1; /* the creating request's */
	c->expiration = clamp_expiration(m, req->requested_expiration);
	c->idle_since = now_ms(m);
	*out = c;
	return S_OK;
}

/*
 * Links c (new, held by the calling request) unless a limit is reached: false then, and c
 * stays unlinked. Idle contexts are swept first so they do not count.
 */
static bool ctx_insert(mh_srv_mapi *m, ctx *c)
{
	ctx *garbage = NULL;
	size_t mine = 0;
	bool ok = false;
	pthread_mutex_lock(&m->lock);
	sweep_locked(m, now_ms(m), c->principal, &mine, &garbage);
	if (mine < m->opts.max_contexts_per_user && m->count < m->opts.max_contexts &&
	    find_locked(m, c->id) == NULL) {
		size_t b = bucket_of(c->id);
		c->next = m->buckets[b];
		m->buckets[b] = c;
		c->linked = true;
		c->refs++;
		m->count++;
		ok = true;
	}
	pthread_mutex_unlock(&m->lock);
	free_list(garbage);
	return ok;
}

/* The request is done with c. */
static void ctx_put(mh_srv_mapi *m, ctx *c)
{
	bool last;
	pthread_mutex_lock(&m->lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&m->lock);
	if (last)
		ctx_free(c);
}

/*
 * Reconnect (wire.md §2.5): a Connect or Bind carrying the cookie of a context of the same
 * principal on the same endpoint destroys it first. Any other cookie is ignored.
 */
static void reconnect(mh_srv_mapi *m, const mh_srv_mapi_request *req)
{
	const char *v = find_cookie(req, MH_SRV_MAPI_CONTEXT_COOKIE);
	uint8_t id[CTX_ID_BYTES];
	if (v == NULL || !cookie_decode(v, id))
		return;
	ctx *garbage = NULL;
	pthread_mutex_lock(&m->lock);
	ctx *c = find_locked(m, id);
	if (c != NULL && c->principal == req->principal->id && c->endpoint == req->endpoint)
		unlink_locked(m, c, &garbage);
	pthread_mutex_unlock(&m->lock);
	free_list(garbage);
}

/* What a request holds on its context between acquire() and release(). */
typedef struct use {
	ctx *c;
	bool sequenced;
	uint32_t expiration;
	char cookie[CTX_COOKIE_LEN + 1]; /* copies: c may be gone once released */
	char seq[SEQ_MAX];               /* the MapiSequence value to send back */
} use;

/*
 * Finds the context the request's cookies name and takes it: on S_OK with
 * resp->response_code 0, u->c is held and its run lock taken. Otherwise resp says why
 * (6, 10, 13 or 15) and nothing is held. A sequenced request must carry the current
 * MapiSequence and may not overlap another sequenced one.
 */
static mh_status acquire(mh_srv_mapi *m, const mh_srv_mapi_request *req, bool sequenced,
                         mh_arena *a, mh_srv_mapi_response *resp, use *u)
{
	memset(u, 0, sizeof(*u));
	u->sequenced = sequenced;
	const char *v = find_cookie(req, MH_SRV_MAPI_CONTEXT_COOKIE);
	if (v == NULL)
		return refuse(resp, a, MH_RESPONSE_MISSING_COOKIE,
		              "the request has no " MH_SRV_MAPI_CONTEXT_COOKIE
		              " cookie; send Connect or Bind first");
	uint8_t id[CTX_ID_BYTES];
	if (!cookie_decode(v, id))
		return refuse(resp, a, MH_RESPONSE_INVALID_CONTEXT_COOKIE,
		              "the " MH_SRV_MAPI_CONTEXT_COOKIE
		              " cookie is not a context id of this server (32 hex digits)");
	const char *seq = find_cookie(req, MH_SRV_MAPI_SEQUENCE_COOKIE);
	bool drop = mh_srv_faults_hit(m->opts.faults, MH_SRV_FAULT_EXPIRE, NULL);
	uint64_t now = now_ms(m);
	ctx *garbage = NULL;
	uint32_t code = 0;
	const char *why = NULL;

	pthread_mutex_lock(&m->lock);
	if (++m->requests >= SWEEP_EVERY)
		sweep_locked(m, now, 0, NULL, &garbage);
	ctx *c = find_locked(m, id);
	if (c != NULL && (drop || expired(c, now))) {
		unlink_locked(m, c, &garbage);
		c = NULL;
	}
	if (c == NULL) {
		code = MH_RESPONSE_CONTEXT_NOT_FOUND;
		why = "no such session context (expired, disconnected or never created); "
		      "reconnect";
	} else if (c->principal != req->principal->id) {
		code = MH_RESPONSE_CONTEXT_NOT_FOUND;
		why = "the session context belongs to another user";
	} else if (c->endpoint != req->endpoint) {
		code = MH_RESPONSE_CONTEXT_NOT_FOUND;
		why = "the session context belongs to the other endpoint";
	} else if (c->mailbox != req->mailbox->id) {
		code = MH_RESPONSE_CONTEXT_NOT_FOUND;
		why = "the session context was created for another MailboxId";
	} else if (c->poisoned) {
		code = MH_RESPONSE_INVALID_SEQUENCE;
		why = "the session context saw a sequence fault earlier; reconnect";
	} else if (sequenced && seq == NULL) {
		code = MH_RESPONSE_MISSING_COOKIE;
		why = "the request has no " MH_SRV_MAPI_SEQUENCE_COOKIE " cookie";
	} else if (sequenced && c->busy) {
		c->poisoned = true;
		code = MH_RESPONSE_INVALID_SEQUENCE;
		why = "another request is running on this session context";
	} else if (sequenced && strcmp(seq, c->seq) != 0) {
		c->poisoned = true;
		code = MH_RESPONSE_INVALID_SEQUENCE;
		why = "the " MH_SRV_MAPI_SEQUENCE_COOKIE " cookie is not the current value";
	} else {
		if (sequenced)
			c->busy = true;
		if (req->requested_expiration != 0)
			c->expiration = clamp_expiration(m, req->requested_expiration);
		c->refs++;
		if (now > c->idle_since)
			c->idle_since = now;
		u->c = c;
		u->expiration = c->expiration;
		memcpy(u->cookie, c->cookie, sizeof(u->cookie));
		memcpy(u->seq, c->seq, sizeof(u->seq));
	}
	pthread_mutex_unlock(&m->lock);
	free_list(garbage);
	if (u->c == NULL)
		return refuse(resp, a, code, why);

	pthread_mutex_lock(&u->c->run);
	/* Dropped (Disconnect, reconnect, fault) while this request waited for its turn. */
	bool gone;
	pthread_mutex_lock(&m->lock);
	gone = !u->c->linked;
	pthread_mutex_unlock(&m->lock);
	if (gone) {
		pthread_mutex_unlock(&u->c->run);
		pthread_mutex_lock(&m->lock);
		if (sequenced)
			u->c->busy = false;
		pthread_mutex_unlock(&m->lock);
		ctx_put(m, u->c);
		u->c = NULL;
		return refuse(resp, a, MH_RESPONSE_CONTEXT_NOT_FOUND,
		              "the session context was closed while the request waited");
	}
	return S_OK;
}

/*
 * Ends the request's use of its context. rotate: the sequenced request succeeded, so the
 * next one needs a new MapiSequence (put in u->seq). idle_from: when idleness starts again
 * (0: now; NotificationWait passes the end of its hold).
 */
static mh_status release(mh_srv_mapi *m, use *u, bool rotate, uint64_t idle_from)
{
	ctx *c = u->c;
	mh_status s = S_OK;
	pthread_mutex_unlock(&c->run);
	uint64_t now = now_ms(m);
	if (idle_from < now)
		idle_from = now;
	pthread_mutex_lock(&m->lock);
	if (u->sequenced) {
		c->busy = false;
		if (rotate) {
			s = make_seq(c->seq, c->seq_count + 1);
			if (s == S_OK) {
				c->seq_count++;
				memcpy(u->seq, c->seq, sizeof(u->seq));
			}
		}
	}
	if (idle_from > c->idle_since)
		c->idle_since = idle_from;
	pthread_mutex_unlock(&m->lock);
	ctx_put(m, c);
	u->c = NULL;
	return s;
}

/* Unlinks the context a request holds (Disconnect, Unbind). */
static void ctx_drop(mh_srv_mapi *m, ctx *c)
{
	ctx *garbage = NULL;
	pthread_mutex_lock(&m->lock);
	unlink_locked(m, c, &garbage);
	pthread_mutex_unlock(&m->lock);
	free_list(garbage); /* empty: the request still holds c */
}

/* Set-Cookie for a context, MapiSequence too when seq is not NULL, and X-ExpirationInfo. */
static mh_status answer_cookies(mh_srv_mapi_response *resp, mh_arena *a, const char *cookie,
                                const char *seq, uint32_t expiration)
{
	mh_status s = set_cookie(resp, a, MH_SRV_MAPI_CONTEXT_COOKIE, cookie);
	if (s == S_OK && seq != NULL)
		s = set_cookie(resp, a, MH_SRV_MAPI_SEQUENCE_COOKIE, seq);
	resp->expiration = expiration;
	return s;
}

/* ---- EMSMDB ----------------------------------------------------------------------------- */

/*
 * Connect's UserDN check (wire.md §8): the principal's own DN, or the DN of a user whose
 * mailbox the principal holds FullAccess on. *error_code gets Connect's ErrorCode.
 */
static void connect_check(mh_srv_mapi *m, const mh_srv_mapi_request *req, mh_arena *a,
                          const mh_emsmdb_connect_request *in, uint32_t *error_code,
                          const char **display_name)
{
	*display_name = "";
	if (in->user_dn[0] == 0) {
		*error_code = (uint32_t)ecUnknownUser;
		return;
	}
	if (strcasecmp(in->user_dn, req->principal->legacy_dn) == 0) {
		*display_name = req->principal->display_name;
	} else {
		mh_srv_recipient r;
		mh_srv_mailbox mb;
		int full = 0;
		mh_status s = mh_srv_store_recipient_by_dn(m->st, a, in->user_dn, &r);
		if (s == MAPI_E_NOT_FOUND) {
			*error_code = (uint32_t)ecUnknownUser;
			return;
		}
		if (s == S_OK)
			s = mh_srv_store_mailbox_of(m->st, a, r.id, MH_SRV_MAILBOX_PRIMARY, &mb);
		if (s == S_OK)
			s = mh_srv_store_has_full_access(m->st, req->principal->id, mb.id, &full);
		if (s == MAPI_E_NOT_FOUND) {
			*error_code = (uint32_t)ecLoginPerm;
			return;
		}
		if (s != S_OK) {
			*error_code = (uint32_t)ecRpcFailed;
			return;
		}
		if (!full) {
			*error_code = (uint32_t)ecLoginPerm;
			return;
		}
		*display_name = r.display_name;
	}
	*error_code = (in->flags & MH_CONNECT_ADMIN) != 0 ? (uint32_t)ecLoginPerm : 0;
	if (*error_code != 0)
		*display_name = "";
}

static mh_status emsmdb_connect(mh_srv_mapi *m, const mh_srv_mapi_request *req, mh_arena *a,
                                mh_srv_mapi_response *resp)
{
	mh_cursor cur;
	mh_emsmdb_connect_request in;
	mh_cursor_init(&cur, req->body, req->body_len, MAPI_E_CORRUPT_DATA);
	if (mh_emsmdb_connect_request_pull(&cur, a, &in) != S_OK)
		return refuse_last(resp, a, MH_RESPONSE_INVALID_REQUEST_BODY,
		                   "malformed Connect request body");
	reconnect(m, req);

	mh_emsmdb_connect_response out;
	memset(&out, 0, sizeof(out));
	const char *display_name = "";
	connect_check(m, req, a, &in, &out.error_code, &display_name);
	ctx *c = NULL;
	mh_status s = S_OK;
	char cookie[CTX_COOKIE_LEN + 1], seq[SEQ_MAX];
	uint32_t expiration = 0;
	if (out.error_code == 0) {
		s = ctx_new(m, req, &c);
		if (s == S_OK) {
			/* Copies taken while the context is still ours alone. */
			memcpy(cookie, c->cookie, sizeof(cookie));
			memcpy(seq, c->seq, sizeof(seq));
			expiration = c->expiration;
			s = mh_srv_rop_session_new(&c->rop, m->st, &m->opts.rop, req->principal,
			                           req->mailbox);
		}
		if (s == S_OK && !ctx_insert(m, c))
			out.error_code = (uint32_t)MAPI_E_SESSION_LIMIT;
		if (s != S_OK)
			out.error_code = (uint32_t)ecRpcFailed;
		if (out.error_code != 0) {
			ctx_free(c); /* never linked: ours alone */
			c = NULL;
		}
	}
	if (out.error_code == 0) {
		out.polls_max = CONNECT_POLLS_MAX;
		out.retry_count = CONNECT_RETRY_COUNT;
		out.retry_delay = CONNECT_RETRY_DELAY;
		out.dn_prefix = "";
		out.display_name = display_name;
	}
	s = mh_emsmdb_connect_response_push(&resp->body, &out);
	if (s == S_OK && c != NULL)
		s = answer_cookies(resp, a, cookie, seq, expiration);
	else
		resp->expiration = clamp_expiration(m, req->requested_expiration);
	if (c != NULL) {
		if (s != S_OK)
			ctx_drop(m, c); /* the client never learns its cookie */
		ctx_put(m, c);          /* otherwise the table keeps it */
	}
	return s;
}

/* Execute's ROP run: fills out (RopBuffer left empty when error_code is not 0). */
static mh_status execute_rops(ctx *c, mh_arena *a, const mh_emsmdb_execute_request *in,
                              mh_emsmdb_execute_response *out, mh_buf *rop_out, unsigned *rop_count)
{
	mh_rpc_ext_chain chain;
	mh_status s = mh_rpc_ext_decode(in->rop_buffer.data, in->rop_buffer.len, 8, a, 0, &chain);
	if (s == MAPI_E_CORRUPT_DATA || (s == S_OK && chain.n_segs != 1)) {
		/* One ROP input buffer is one extended buffer (each must fit one payload). */
		out->error_code = (uint32_t)ecRpcFormat;
		return S_OK;
	}
	if (s != S_OK) {
		out->error_code = (uint32_t)ecRpcFailed;
		return S_OK;
	}
	size_t max_out = in->max_rop_out - MH_RPC_EXT_HEADER_SIZE;
	if (max_out > MH_RPC_EXT_MAX_PAYLOAD)
		max_out = MH_RPC_EXT_MAX_PAYLOAD;
	mh_buf plain = MH_BUF_INIT;
	mh_srv_rop_result res;
	memset(&res, 0, sizeof(res));
	s = mh_srv_rop_execute(c->rop, a, chain.data, chain.len, max_out, &plain, &res);
	*rop_count = res.rop_count;
	if (s != S_OK) {
		/* Store or arena failure: answered at the protocol level, as gromox does. */
		out->error_code = (uint32_t)ecRpcFailed;
	} else if (res.error_code != 0) {
		out->error_code = res.error_code;
	} else {
		mh_rpc_ext_options o = MH_RPC_EXT_OPTIONS_INIT;
		o.compress = (in->flags & MH_EXECUTE_NO_COMPRESSION) == 0;
		o.xor_magic = (in->flags & MH_EXECUTE_NO_XORMAGIC) == 0;
		s = mh_rpc_ext_push_one(rop_out, plain.data, plain.len, &o, true);
		if (s != S_OK) {
			mh_buf_free(rop_out);
			*rop_out = (mh_buf)MH_BUF_INIT;
			out->error_code = (uint32_t)ecRpcFailed;
		} else {
			out->rop_buffer.data = rop_out->data;
			out->rop_buffer.len = (uint32_t)rop_out->len;
		}
	}
	mh_buf_free(&plain);
	return S_OK;
}

static mh_status emsmdb_execute(mh_srv_mapi *m, const mh_srv_mapi_request *req, mh_arena *a,
                                mh_srv_mapi_response *resp)
{
	use u;
	mh_status s = acquire(m, req, true, a, resp, &u);
	if (s != S_OK || resp->response_code != 0)
		return s;
	mh_cursor cur;
	mh_emsmdb_execute_request in;
	mh_cursor_init(&cur, req->body, req->body_len, MAPI_E_CORRUPT_DATA);
	if (mh_emsmdb_execute_request_pull(&cur, a, &in) != S_OK) {
		/* A refused body does not advance the sequence: the client's value stays good. */
		refuse_last(resp, a, MH_RESPONSE_INVALID_REQUEST_BODY,
		            "malformed Execute request body");
		return release(m, &u, false, 0);
	}
	mh_emsmdb_execute_response out;
	memset(&out, 0, sizeof(out));
	mh_buf rop_out = MH_BUF_INIT;
	if (in.max_rop_out < MAX_ROP_OUT_MIN || in.max_rop_out > MAX_ROP_OUT_MAX)
		out.status_code = (uint32_t)RPC_X_BAD_STUB_DATA;
	else
		s = execute_rops(u.c, a, &in, &out, &rop_out, &resp->rop_count);
	if (s == S_OK)
		s = mh_emsmdb_execute_response_push(&resp->body, &out);
	mh_buf_free(&rop_out);
	mh_status rs = release(m, &u, s == S_OK, 0);
	if (s == S_OK)
		s = rs;
	if (s == S_OK)
		s = answer_cookies(resp, a, u.cookie, u.seq, u.expiration);
	return s;
}

static mh_status emsmdb_disconnect(mh_srv_mapi *m, const mh_srv_mapi_request *req, mh_arena *a,
                                   mh_srv_mapi_response *resp)
{
	use u;
	mh_status s = acquire(m, req, false, a, resp, &u);
	if (s != S_OK || resp->response_code != 0)
		return s;
	mh_cursor cur;
	mh_emsmdb_disconnect_request in;
	mh_cursor_init(&cur, req->body, req->body_len, MAPI_E_CORRUPT_DATA);
	if (mh_emsmdb_disconnect_request_pull(&cur, a, &in) != S_OK) {
		refuse_last(resp, a, MH_RESPONSE_INVALID_REQUEST_BODY,
		            "malformed Disconnect request body");
		return release(m, &u, false, 0);
	}
	mh_emsmdb_disconnect_response out;
	memset(&out, 0, sizeof(out));
	s = mh_emsmdb_disconnect_response_push(&resp->body, &out);
	if (s == S_OK)
		s = answer_cookies(resp, a, u.cookie, u.seq, u.expiration);
	ctx_drop(m, u.c);
	mh_status rs = release(m, &u, false, 0);
	return s != S_OK ? s : rs;
}

static mh_status emsmdb_notification_wait(mh_srv_mapi *m, const mh_srv_mapi_request *req,
                                          mh_arena *a, mh_srv_mapi_response *resp)
{
	use u;
	mh_status s = acquire(m, req, false, a, resp, &u);
	if (s != S_OK || resp->response_code != 0)
		return s;
	mh_cursor cur;
	mh_emsmdb_notificationwait_request in;
	mh_cursor_init(&cur, req->body, req->body_len, MAPI_E_CORRUPT_DATA);
	if (mh_emsmdb_notificationwait_request_pull(&cur, a, &in) != S_OK) {
		refuse_last(resp, a, MH_RESPONSE_INVALID_REQUEST_BODY,
		            "malformed NotificationWait request body");
		return release(m, &u, false, 0);
	}
	/* No events are ever raised: the answer is "none pending" once the hold is over. */
	mh_emsmdb_notificationwait_response out;
	memset(&out, 0, sizeof(out));
	s = mh_emsmdb_notificationwait_response_push(&resp->body, &out);
	if (s == S_OK)
		s = answer_cookies(resp, a, u.cookie, NULL, u.expiration);
	resp->hold = m->opts.notification_wait;
	/* The front holds the answer after we return, with no lock held; idleness counts from
	 * the end of the hold (spec 3.2.5.5: NotificationWait refreshes the context). */
	mh_status rs = release(m, &u, false, now_ms(m) + resp->hold);
	return s != S_OK ? s : rs;
}

static mh_status ping(mh_srv_mapi *m, const mh_srv_mapi_request *req, mh_arena *a,
                      mh_srv_mapi_response *resp)
{
	use u;
	mh_status s = acquire(m, req, false, a, resp, &u);
	if (s != S_OK || resp->response_code != 0)
		return s;
	s = answer_cookies(resp, a, u.cookie, NULL, u.expiration);
	mh_status rs = release(m, &u, false, 0);
	return s != S_OK ? s : rs;
}

static bool request_ok(const mh_srv_mapi_request *req, unsigned endpoint)
{
	return req != NULL && req->endpoint == endpoint && req->principal != NULL &&
	       req->mailbox != NULL && req->info != NULL &&
	       (req->body != NULL || req->body_len == 0);
}

static mh_status emsmdb_handle(void *payload, const mh_srv_mapi_request *req, mh_arena *a,
                               mh_srv_mapi_response *resp)
{
	mh_srv_mapi *m = payload;
	if (!request_ok(req, MH_ENDPOINT_EMSMDB))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "EMSMDB handler called with an incomplete request");
	switch (req->info->type) {
	case MH_RT_CONNECT:
		return emsmdb_connect(m, req, a, resp);
	case MH_RT_EXECUTE:
		return emsmdb_execute(m, req, a, resp);
	case MH_RT_DISCONNECT:
		return emsmdb_disconnect(m, req, a, resp);
	case MH_RT_NOTIFICATIONWAIT:
		return emsmdb_notification_wait(m, req, a, resp);
	case MH_RT_PING:
		return ping(m, req, a, resp);
	default:
		return refuse(resp, a, MH_RESPONSE_INVALID_REQUEST_TYPE,
		              "the mailbox endpoint does not take this X-RequestType");
	}
}

/* ---- NSPI ------------------------------------------------------------------------------- */

/* The NSPI body exchange on a context; resp gets its X-ResponseCode or its body. */
static mh_status nspi_body(mh_srv_mapi *m, ctx *c, const mh_srv_mapi_request *req, mh_arena *a,
                           mh_srv_mapi_response *resp)
{
	const char *type = mh_mapihttp_request_type_name(req->info->type);
	uint32_t rc = 0;
	mh_buf out = MH_BUF_INIT;
	mh_status s = mh_srv_nspi_handle_body(&c->nspi, m->st, type != NULL ? type : "", req->body,
	                                      req->body_len, &out, &rc, NULL);
	if (s != S_OK || rc != 0) {
		mh_buf_free(&out);
		return refuse_last(resp, a, rc != 0 ? rc : MH_RESPONSE_UNKNOWN_FAILURE,
		                   "the NSPI request failed");
	}
	mh_buf_put(&resp->body, out.data, out.len);
	mh_buf_free(&out);
	return mh_buf_status(&resp->body);
}

static mh_status nspi_bind(mh_srv_mapi *m, const mh_srv_mapi_request *req, mh_arena *a,
                           mh_srv_mapi_response *resp)
{
	ctx *c = NULL;
	mh_status s = ctx_new(m, req, &c);
	if (s != S_OK)
		return s;
	c->base_url = strdup(req->base_url != NULL ? req->base_url : "");
	if (c->base_url == NULL) {
		ctx_free(c);
		return mh_error_oom();
	}
	mh_srv_nspi_ctx_init(&c->nspi, &m->server_guid, req->principal->id, c->base_url);
	s = nspi_body(m, c, req, a, resp);
	if (s != S_OK || resp->response_code != 0 || !c->nspi.bound) {
		/* A refused or failed Bind leaves no context and no cookies. */
		ctx_free(c);
		if (s == S_OK && resp->response_code == 0)
			resp->expiration = clamp_expiration(m, req->requested_expiration);
		return s;
	}
	reconnect(m, req);
	char cookie[CTX_COOKIE_LEN + 1], seq[SEQ_MAX];
	memcpy(cookie, c->cookie, sizeof(cookie));
	memcpy(seq, c->seq, sizeof(seq));
	uint32_t expiration = c->expiration;
	if (!ctx_insert(m, c)) {
		ctx_free(c);
		mh_buf_free(&resp->body);
		resp->body = (mh_buf)MH_BUF_INIT;
		mh_nspi_response out;
		memset(&out, 0, sizeof(out));
		out.kind = MH_NSPI_BIND;
		out.error_code = (uint32_t)MAPI_E_SESSION_LIMIT;
		resp->expiration = clamp_expiration(m, req->requested_expiration);
		return mh_nspi_response_push(&resp->body, &out);
	}
	s = answer_cookies(resp, a, cookie, seq, expiration);
	ctx_put(m, c);
	return s;
}

static mh_status nspi_request(mh_srv_mapi *m, const mh_srv_mapi_request *req, mh_arena *a,
                              mh_srv_mapi_response *resp)
{
	bool unbind = req->info->type == MH_RT_UNBIND;
	use u;
	mh_status s = acquire(m, req, !unbind, a, resp, &u);
	if (s != S_OK || resp->response_code != 0)
		return s;
	s = nspi_body(m, u.c, req, a, resp);
	bool ok = s == S_OK && resp->response_code == 0;
	if (ok && unbind)
		ctx_drop(m, u.c); /* Unbind answers with the cookies it came with */
	mh_status rs = release(m, &u, ok, 0);
	if (s == S_OK)
		s = rs;
	if (s == S_OK && ok)
		s = answer_cookies(resp, a, u.cookie, u.seq, u.expiration);
	return s;
}

static mh_status nspi_handle(void *payload, const mh_srv_mapi_request *req, mh_arena *a,
                             mh_srv_mapi_response *resp)
{
	mh_srv_mapi *m = payload;
	if (!request_ok(req, MH_ENDPOINT_NSPI))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "NSPI handler called with an incomplete request");
	switch (req->info->type) {
	case MH_RT_BIND:
		return nspi_bind(m, req, a, resp);
	case MH_RT_PING:
		return ping(m, req, a, resp);
	case MH_RT_CONNECT:
	case MH_RT_EXECUTE:
	case MH_RT_DISCONNECT:
	case MH_RT_NOTIFICATIONWAIT:
	case MH_RT_UNKNOWN:
	case MH_RT_COUNT_:
		return refuse(resp, a, MH_RESPONSE_INVALID_REQUEST_TYPE,
		              "the address book endpoint does not take this X-RequestType");
	default:
		return nspi_request(m, req, a, resp);
	}
}

/* ---- the object ------------------------------------------------------------------------- */

mh_status mh_srv_mapi_new(mh_srv_mapi **out, mh_srv_store *st, const mh_srv_mapi_options *opts)
{
	if (out == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_srv_mapi_new: out is NULL");
	*out = NULL;
	if (st == NULL || (opts != NULL && opts->version != 1))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_srv_mapi_new: no store, or options version is not 1");
	mh_srv_mapi *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return mh_error_oom();
	mh_srv_mapi_options def = MH_SRV_MAPI_OPTIONS_INIT;
	m->opts = opts != NULL ? *opts : def;
	if (m->opts.expiration == 0)
		m->opts.expiration = MH_SRV_MAPI_EXPIRATION;
	if (m->opts.max_contexts_per_user == 0)
		m->opts.max_contexts_per_user = MH_SRV_MAPI_CONTEXTS_PER_USER;
	if (m->opts.max_contexts == 0)
		m->opts.max_contexts = MH_SRV_MAPI_MAX_CONTEXTS;
	if (m->opts.notification_wait == 0)
		m->opts.notification_wait = MH_SRV_MAPI_NOTIFICATION_WAIT;
	if (m->opts.clock == NULL) {
		m->opts.clock = default_clock;
		m->opts.clock_payload = NULL;
	}
	m->st = st;
	mh_status s = random_bytes(&m->server_guid, sizeof(m->server_guid));
	if (s != S_OK) {
		free(m);
		return s;
	}
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return mh_error_set(MAPI_E_CALL_FAILED, -1, "pthread_mutex_init failed");
	}
	*out = m;
	return S_OK;
}

void mh_srv_mapi_free(mh_srv_mapi *m)
{
	if (m == NULL)
		return;
	for (size_t b = 0; b < CTX_BUCKETS; b++)
		free_list(m->buckets[b]);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

mh_srv_mapi_handler mh_srv_mapi_emsmdb_handler(mh_srv_mapi *m)
{
	mh_srv_mapi_handler h = {emsmdb_handle, m};
	return h;
}

mh_srv_mapi_handler mh_srv_mapi_nspi_handler(mh_srv_mapi *m)
{
	mh_srv_mapi_handler h = {nspi_handle, m};
	return h;
}

size_t mh_srv_mapi_context_count(mh_srv_mapi *m)
{
	if (m == NULL)
		return 0;
	pthread_mutex_lock(&m->lock);
	size_t n = m->count;
	pthread_mutex_unlock(&m->lock);
	return n;
}
