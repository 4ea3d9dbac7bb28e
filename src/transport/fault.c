/*
 * The fault-injecting transport: wraps another one and makes chosen requests fail the ways a
 * network does (refused, answer lost, body cut short), repeatably from a seed, so the layers
 * above can be tested for their recovery paths.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mapihttp/sys/transport.h"
#include "util/diag.h"

typedef struct fault_req {
	uint64_t id;       /* ours */
	uint64_t inner_id; /* the inner transport's, when started there */
	bool started;      /* on the inner transport */
	int kind;          /* -1: no fault, else mh_transport_fault_kind */
	unsigned in_cb;    /* wrapper frames running for it */
	bool gone;         /* cancelled or finished: free when in_cb drops to 0 */
	mh_transport_callbacks cb;
	/* TRUNCATE */
	bool have_length;
	uint64_t limit;     /* body bytes to let through */
	uint64_t delivered; /* body bytes passed on */
	uint8_t *held;      /* without Content-Length: the body, until the end */
	size_t held_len, held_cap;
	mh_status user_stop; /* a status the caller's callback returned */
	struct fault_transport *f;
} fault_req;

typedef struct fault_transport {
	mh_transport t; /* first: destroy() frees the whole struct */
	mh_transport *inner;
	mh_transport_fault_rule *rules;
	size_t n_rules;
	uint64_t rng;
	uint64_t count; /* requests seen */
	uint64_t next_id;
	fault_req **reqs;
	size_t n, cap;
	bool in_run;
	bool destroyed; /* destroy() from a callback: run() frees it on its way out */
} fault_transport;

/* The body a TRUNCATE fault holds back when no Content-Length tells its size. */
#define FAULT_HOLD_MAX ((size_t)64 << 20)

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static const char *const kind_names[] = {"connection refused", "answer lost", "body truncated"};

static void req_release(fault_req *r)
{
	free(r->held);
	free(r);
}

static size_t find(const fault_transport *f, uint64_t id)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->reqs[i]->id == id)
			return i;
	return SIZE_MAX;
}

/* Takes r out of the list; frees it unless a wrapper frame still uses it. */
static void req_drop(fault_transport *f, fault_req *r)
{
	size_t i = find(f, r->id);
	if (i != SIZE_MAX) {
		memmove(&f->reqs[i], &f->reqs[i + 1], (f->n - i - 1) * sizeof(*f->reqs));
		f->n--;
	}
	r->gone = true;
	if (r->in_cb == 0)
		req_release(r);
}

/* Ends a wrapper frame; true when r must not be touched any more. */
static bool frame_leave(fault_req *r)
{
	r->in_cb--;
	if (r->gone) {
		if (r->in_cb == 0)
			req_release(r);
		return true;
	}
	return false;
}

static mh_status injected(fault_req *r)
{
	return mh_error_set(MAPI_E_NETWORK_ERROR, -1, "injected fault: %s (request %llu)",
	                    kind_names[r->kind], (unsigned long long)r->id);
}

/* Calls the caller's on_done once and forgets r. */
static void finish(fault_req *r, mh_status st)
{
	fault_transport *f = r->f;
	mh_transport_callbacks cb = r->cb;
	req_drop(f, r);
	cb.on_done(cb.ud, st);
}

static bool parse_length(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	if (s == NULL)
		return false;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	if (s[i] < '0' || s[i] > '9')
		return false;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	if (s[i] != '\0')
		return false;
	*out = v;
	return true;
}

static mh_status w_headers(void *ud, long http_status, const mh_transport_header *h, size_t n)
{
	fault_req *r = ud;
	if (r->kind == MH_TRANSPORT_FAULT_LOSE)
		return S_OK;
	if (r->kind == MH_TRANSPORT_FAULT_TRUNCATE) {
		for (size_t i = 0; i < n; i++) {
			if (strcasecmp(h[i].name, "Content-Length") == 0 &&
			    parse_length(h[i].value, &r->limit)) {
				r->have_length = true;
				r->limit /= 2;
			}
		}
	}
	if (r->cb.on_headers == NULL)
		return S_OK;
	r->in_cb++;
	mh_status st = r->cb.on_headers(r->cb.ud, http_status, h, n);
	if (frame_leave(r))
		return MAPI_E_USER_CANCEL; /* cancelled: the inner request was cancelled too */
	if (st != S_OK)
		r->user_stop = st;
	return st;
}

/* Body bytes to the caller, inside a frame the caller holds (r stays valid). */
static mh_status call_data(fault_req *r, const void *data, size_t len)
{
	if (r->cb.on_data == NULL || len == 0)
		return S_OK;
	mh_status st = r->cb.on_data(r->cb.ud, data, len);
	if (r->gone)
		return MAPI_E_USER_CANCEL;
	if (st != S_OK)
		r->user_stop = st;
	return st;
}

static mh_status pass_data(fault_req *r, const void *data, size_t len)
{
	r->in_cb++;
	mh_status st = call_data(r, data, len);
	if (frame_leave(r))
		return MAPI_E_USER_CANCEL;
	return st;
}

static mh_status w_data(void *ud, const void *data, size_t len)
{
	fault_req *r = ud;
	if (r->kind == MH_TRANSPORT_FAULT_LOSE)
		return S_OK;
	if (r->kind != MH_TRANSPORT_FAULT_TRUNCATE)
		return pass_data(r, data, len);
	if (r->have_length) {
		uint64_t room = r->limit - r->delivered;
		size_t n = len < room ? len : (size_t)room;
		r->in_cb++;
		mh_status st = call_data(r, data, n);
		if (frame_leave(r))
			return MAPI_E_USER_CANCEL;
		if (st != S_OK)
			return st;
		r->delivered += n;
		if (r->delivered >= r->limit)
			return injected(r); /* stops the inner request; w_done reports it */
		return S_OK;
	}
	if (len > FAULT_HOLD_MAX - r->held_len)
		return mh_error_set(MAPI_E_TOO_BIG, -1,
		                    "injected fault: body over %zu bytes to truncate",
		                    FAULT_HOLD_MAX);
	if (r->held_len + len > r->held_cap) {
		size_t cap = r->held_cap ? r->held_cap : 4096;
		while (cap < r->held_len + len)
			cap *= 2;
		uint8_t *p = realloc(r->held, cap);
		if (p == NULL)
			return mh_error_oom();
		r->held = p;
		r->held_cap = cap;
	}
	memcpy(r->held + r->held_len, data, len);
	r->held_len += len;
	return S_OK;
}

static void w_done(void *ud, mh_status st)
{
	fault_req *r = ud;
	if (r->user_stop != S_OK) {
		finish(r, r->user_stop);
		return;
	}
	if (r->kind == MH_TRANSPORT_FAULT_TRUNCATE && !r->have_length && st == S_OK) {
		r->in_cb++;
		mh_status ds = call_data(r, r->held, r->held_len / 2);
		if (frame_leave(r))
			return;
		if (ds != S_OK) {
			finish(r, ds);
			return;
		}
	}
	if (r->kind < 0 ||
	    (r->kind == MH_TRANSPORT_FAULT_TRUNCATE && st != S_OK && st != MAPI_E_NETWORK_ERROR)) {
		finish(r, st);
		return;
	}
	finish(r, injected(r));
}

static int pick_fault(fault_transport *f)
{
	f->count++;
	for (size_t i = 0; i < f->n_rules; i++) {
		const mh_transport_fault_rule *rule = &f->rules[i];
		bool fire;
		if (rule->every > 0)
			fire = f->count % rule->every == 0;
		else
			fire = (double)(splitmix64(&f->rng) >> 11) * 0x1.0p-53 < rule->probability;
		if (fire)
			return (int)rule->kind;
	}
	return -1;
}

static mh_status f_start(void *self, const mh_transport_request *rq,
                         const mh_transport_callbacks *cb, uint64_t *id)
{
	fault_transport *f = self;
	if (cb == NULL || cb->on_done == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "fault transport: callbacks or on_done missing");
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		fault_req **p = realloc(f->reqs, cap * sizeof(*p));
		if (p == NULL)
			return mh_error_oom();
		f->reqs = p;
		f->cap = cap;
	}
	fault_req *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return mh_error_oom();
	r->f = f;
	r->cb = *cb;
	r->kind = pick_fault(f);
	if (r->kind != MH_TRANSPORT_FAULT_REFUSE) {
		mh_transport_callbacks w = {w_headers, w_data, w_done, r};
		mh_status st = f->inner->ops->start(f->inner->self, rq, &w, &r->inner_id);
		if (st != S_OK) {
			free(r);
			return st;
		}
		r->started = true;
	} else if (rq == NULL || rq->url == NULL) {
		/* a bad request fails the same way with or without a fault */
		free(r);
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "fault transport: no URL");
	}
	r->id = ++f->next_id;
	f->reqs[f->n++] = r;
	if (id != NULL)
		*id = r->id;
	return S_OK;
}

static void f_cancel(void *self, uint64_t id)
{
	fault_transport *f = self;
	size_t i = find(f, id);
	if (i == SIZE_MAX)
		return;
	fault_req *r = f->reqs[i];
	if (r->started)
		f->inner->ops->cancel(f->inner->self, r->inner_id);
	req_drop(f, r);
}

/* Reports the refusals queued before this run(); returns how many. Stops if destroyed. */
static size_t run_refusals(fault_transport *f)
{
	uint64_t last = f->next_id;
	size_t done = 0;
	for (;;) {
		fault_req *r = NULL;
		for (size_t i = 0; i < f->n; i++) {
			if (!f->reqs[i]->started && f->reqs[i]->id <= last) {
				r = f->reqs[i];
				break;
			}
		}
		if (r == NULL)
			return done;
		finish(r, injected(r));
		done++;
		if (f->destroyed)
			return done;
	}
}

static void f_release(fault_transport *f)
{
	for (size_t i = 0; i < f->n; i++)
		req_release(f->reqs[i]);
	free(f->reqs);
	free(f->rules);
	free(f);
}

static mh_status f_run(void *self, int timeout_ms)
{
	fault_transport *f = self;
	mh_status st = S_OK;
	if (f->in_run)
		return mh_error_set(MAPI_E_CALL_FAILED, -1,
		                    "fault transport: run() called from one of its callbacks");
	f->in_run = true;
	mh_transport *inner = f->inner;
	if (run_refusals(f) > 0) {
		if (!f->destroyed && inner->ops->pending(inner->self) > 0)
			st = inner->ops->run(inner->self, 0);
	} else {
		st = inner->ops->run(inner->self, timeout_ms);
	}
	if (f->destroyed) {
		f_release(f);
		return S_OK;
	}
	f->in_run = false;
	return st;
}

static size_t f_pending(void *self)
{
	const fault_transport *f = self;
	return f->n;
}

static void f_destroy(void *self)
{
	fault_transport *f = self;
	if (f == NULL)
		return;
	/* from a callback, the inner transport defers its own release the same way */
	mh_transport_free(f->inner);
	if (!f->in_run) {
		f_release(f);
		return;
	}
	for (size_t i = 0; i < f->n; i++) {
		if (f->reqs[i]->in_cb > 0)
			f->reqs[i]->gone = true;
		else
			req_release(f->reqs[i]);
	}
	f->n = 0;
	f->destroyed = true;
}

static const mh_transport_ops fault_ops = {
    1, f_start, f_cancel, f_run, f_pending, f_destroy,
};

mh_status mh_transport_fault_new(mh_transport **out, mh_transport *inner,
                                 const mh_transport_fault_options *opts)
{
	if (out == NULL || inner == NULL || opts == NULL || opts->version != 1 ||
	    (opts->rules == NULL && opts->n_rules > 0))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_transport_fault_new: out, inner and opts (version 1) are "
		                    "required");
	*out = NULL;
	for (size_t i = 0; i < opts->n_rules; i++) {
		const mh_transport_fault_rule *rule = &opts->rules[i];
		if ((unsigned)rule->kind >= MH_TRANSPORT_FAULT_KINDS)
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "fault rule %zu: unknown kind %d", i, (int)rule->kind);
		if (rule->every == 0 && !(isfinite(rule->probability) && rule->probability >= 0.0 &&
		                          rule->probability <= 1.0))
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "fault rule %zu: probability must be within 0..1", i);
	}
	fault_transport *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return mh_error_oom();
	if (opts->n_rules > 0) {
		f->rules = malloc(opts->n_rules * sizeof(*f->rules));
		if (f->rules == NULL) {
			free(f);
			return mh_error_oom();
		}
		memcpy(f->rules, opts->rules, opts->n_rules * sizeof(*f->rules));
	}
	f->n_rules = opts->n_rules;
	f->rng = opts->seed;
	f->inner = inner;
	f->t.ops = &fault_ops;
	f->t.self = f;
	*out = &f->t;
	return S_OK;
}
