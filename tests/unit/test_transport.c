/*
 * Transport tests, all in memory: the in-memory and fault-injecting transports, the event loop
 * on a virtual clock, and a MAPI/HTTP session context against a scripted server and replayed
 * gromox captures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "codec/mapihttp.h"
#include "mapihttp/status.h"
#include "mapihttp/sys/transport.h"
#include "transport/curl_headers.h"
#include "transport/loop.h"
#include "transport/mapi_ctx.h"
#include "vectors.h"

#define GROMOX_DIR MH_VECTORS_DIR "/gromox"

/* ==== a recording in-memory server ======================================================= */

#define MAX_SEEN 64

typedef struct seen_req {
	char url[256];
	char method[8];
	mh_transport_header h[16];
	char store[16][2][512];
	size_t n;
	uint8_t body[256];
	size_t body_len;
	char secret[64];
	uint32_t idle_timeout;
} seen_req;

typedef struct script {
	mh_transport_memory_answer answers[MAX_SEEN];
	size_t n_answers;
	seen_req seen[MAX_SEEN];
	size_t n_seen;
} script;

static mh_status script_fn(void *ud, const mh_transport_request *rq, mh_transport_memory_answer *a)
{
	script *s = ud;
	assert_true(s->n_seen < MAX_SEEN);
	seen_req *q = &s->seen[s->n_seen];
	snprintf(q->url, sizeof(q->url), "%s", rq->url);
	snprintf(q->method, sizeof(q->method), "%s", rq->method);
	for (size_t i = 0; i < rq->n_headers && i < 16; i++) {
		snprintf(q->store[i][0], 512, "%s", rq->headers[i].name);
		snprintf(q->store[i][1], 512, "%s", rq->headers[i].value);
		q->h[i].name = q->store[i][0];
		q->h[i].value = q->store[i][1];
		q->n = i + 1;
	}
	q->body_len = rq->body_len < sizeof(q->body) ? rq->body_len : sizeof(q->body);
	if (q->body_len > 0)
		memcpy(q->body, rq->body, q->body_len);
	snprintf(q->secret, sizeof(q->secret), "%s", rq->auth.secret ? rq->auth.secret : "");
	q->idle_timeout = rq->idle_timeout_ms;
	size_t k = s->n_seen++;
	if (s->n_answers == 0)
		return MAPI_E_CALL_FAILED;
	*a = s->answers[k < s->n_answers ? k : s->n_answers - 1];
	return S_OK;
}

static const char *seen_header(const seen_req *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcasecmp(q->h[i].name, name) == 0)
			return q->h[i].value;
	return NULL;
}

/* ==== recording callbacks ================================================================ */

typedef struct rec {
	char log[4096];
	uint8_t data[4096];
	size_t data_len;
	unsigned n_data;
	unsigned n_done;
	mh_status status;
	long http_status;
	char msg[256];
	/* actions from callbacks */
	mh_transport *t;
	uint64_t cancel_in_headers; /* id to cancel from on_headers; 0 none */
	bool cancel_self_in_data;
	uint64_t self_id;
	const mh_transport_request *start_in_done;
	const mh_transport_callbacks *start_cb;
	const char *tag;
	bool run_in_headers; /* calls run() from on_headers: nested_run gets its status */
	mh_status nested_run;
	bool destroy_in_headers, destroy_in_done;
} rec;

#if defined(__GNUC__)
static void logf_(rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif

static void logf_(rec *r, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(r->log);
	va_start(ap, fmt);
	vsnprintf(r->log + n, sizeof(r->log) - n, fmt, ap);
	va_end(ap);
}

static mh_status r_headers(void *ud, long st, const mh_transport_header *h, size_t n)
{
	rec *r = ud;
	(void)h;
	r->http_status = st;
	logf_(r, "%sH%ld,%zu ", r->tag ? r->tag : "", st, n);
	if (r->cancel_in_headers != 0)
		r->t->ops->cancel(r->t->self, r->cancel_in_headers);
	if (r->run_in_headers)
		r->nested_run = r->t->ops->run(r->t->self, 0);
	if (r->destroy_in_headers)
		mh_transport_free(r->t);
	return S_OK;
}

static mh_status r_data(void *ud, const void *p, size_t len)
{
	rec *r = ud;
	assert_true(r->data_len + len <= sizeof(r->data));
	memcpy(r->data + r->data_len, p, len);
	r->data_len += len;
	r->n_data++;
	if (r->cancel_self_in_data)
		r->t->ops->cancel(r->t->self, r->self_id);
	return S_OK;
}

static void r_done(void *ud, mh_status st)
{
	rec *r = ud;
	r->n_done++;
	r->status = st;
	const mh_error *e = mh_error_last();
	snprintf(r->msg, sizeof(r->msg), "%s", st != S_OK && e != NULL ? e->message : "");
	logf_(r, "%sD%s ", r->tag ? r->tag : "", st == S_OK ? "ok" : mh_status_str(st));
	if (r->start_in_done != NULL) {
		uint64_t id;
		assert_int_equal(r->t->ops->start(r->t->self, r->start_in_done, r->start_cb, &id),
		                 S_OK);
		r->start_in_done = NULL;
	}
	if (r->destroy_in_done)
		mh_transport_free(r->t);
}

static mh_transport_callbacks rec_cb(rec *r)
{
	mh_transport_callbacks cb = {r_headers, r_data, r_done, r};
	return cb;
}

static uint64_t start(mh_transport *t, const char *url, rec *r)
{
	mh_transport_request rq = MH_TRANSPORT_REQUEST_INIT;
	mh_transport_callbacks cb = rec_cb(r);
	uint64_t id = 0;
	rq.url = url;
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &id), S_OK);
	r->t = t;
	r->self_id = id;
	return id;
}

/* An answer whose body is the URL's last character repeated: tells requests apart. */
typedef struct echo {
	unsigned calls;
	char order[64];
	uint8_t body[64];
	size_t chunk;
	mh_transport_header h[2];
	size_t n_h;
	mh_status fail;
} echo;

static mh_status echo_fn(void *ud, const mh_transport_request *rq, mh_transport_memory_answer *a)
{
	echo *e = ud;
	size_t len = strlen(rq->url);
	char last = rq->url[len - 1];
	if (e->calls < sizeof(e->order) - 1)
		e->order[e->calls] = last;
	e->calls++;
	memset(e->body, last, 10);
	a->http_status = 200;
	a->headers = e->h;
	a->n_headers = e->n_h;
	a->body = e->body;
	a->body_len = 10;
	a->chunk = e->chunk;
	a->fail = e->fail;
	return S_OK;
}

/* ==== memory transport =================================================================== */

static void test_transport__memory_order(void **state)
{
	(void)state;
	echo e;
	memset(&e, 0, sizeof(e));
	mh_transport *t;
	assert_int_equal(mh_transport_memory_new(&t, echo_fn, &e), S_OK);
	rec a, b, c;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	start(t, "http://x/a", &a);
	start(t, "http://x/b", &b);
	start(t, "http://x/c", &c);
	/* nothing runs from start() */
	assert_int_equal(e.calls, 0);
	assert_int_equal(a.n_done + b.n_done + c.n_done, 0);
	assert_int_equal(t->ops->pending(t->self), 3);
	assert_int_equal(t->ops->run(t->self, 0), S_OK);
	assert_string_equal(e.order, "abc");
	assert_string_equal(a.log, "H200,0 Dok ");
	assert_int_equal(a.data_len, 10);
	assert_memory_equal(c.data, "cccccccccc", 10);
	assert_int_equal(t->ops->pending(t->self), 0);
	mh_transport_free(t);
}

static void test_transport__memory_chunks(void **state)
{
	(void)state;
	echo e;
	memset(&e, 0, sizeof(e));
	e.chunk = 1;
	mh_transport *t;
	assert_int_equal(mh_transport_memory_new(&t, echo_fn, &e), S_OK);
	rec a;
	memset(&a, 0, sizeof(a));
	start(t, "http://x/z", &a);
	assert_int_equal(t->ops->run(t->self, -1), S_OK);
	assert_int_equal(a.n_data, 10);
	assert_memory_equal(a.data, "zzzzzzzzzz", 10);
	e.chunk = 3;
	memset(&a, 0, sizeof(a));
	start(t, "http://x/y", &a);
	assert_int_equal(t->ops->run(t->self, -1), S_OK);
	assert_int_equal(a.n_data, 4); /* 3+3+3+1 */
	assert_int_equal(a.data_len, 10);
	mh_transport_free(t);
}

static void test_transport__memory_reentrant(void **state)
{
	(void)state;
	echo e;
	memset(&e, 0, sizeof(e));
	mh_transport *t;
	assert_int_equal(mh_transport_memory_new(&t, echo_fn, &e), S_OK);
	rec a, b, c, d, later;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	memset(&d, 0, sizeof(d));
	memset(&later, 0, sizeof(later));
	mh_transport_request rq = MH_TRANSPORT_REQUEST_INIT;
	rq.url = "http://x/l";
	mh_transport_callbacks lcb = rec_cb(&later);
	later.t = t;
	start(t, "http://x/a", &a);
	start(t, "http://x/b", &b);
	uint64_t idc = start(t, "http://x/c", &c);
	start(t, "http://x/d", &d);
	a.start_in_done = &rq; /* a's on_done starts another request */
	a.start_cb = &lcb;
	b.cancel_in_headers = idc; /* b cancels c before c is answered */
	d.cancel_self_in_data = true;
	assert_int_equal(t->ops->run(t->self, 0), S_OK);
	assert_string_equal(a.log, "H200,0 Dok ");
	assert_string_equal(b.log, "H200,0 Dok ");
	assert_string_equal(c.log, "");
	assert_string_equal(d.log, "H200,0 "); /* cancelled itself: no on_done */
	assert_int_equal(d.n_data, 1);
	assert_string_equal(e.order, "abd"); /* c never reached the handler */
	/* the request started from a callback waits for the next run() */
	assert_int_equal(later.n_done, 0);
	assert_int_equal(t->ops->pending(t->self), 1);
	assert_int_equal(t->ops->run(t->self, -1), S_OK);
	assert_int_equal(later.n_done, 1);
	assert_string_equal(e.order, "abdl");
	/* run(-1) with nothing pending returns at once */
	assert_int_equal(t->ops->run(t->self, -1), S_OK);
	mh_transport_free(t);
}

static void test_transport__memory_cancel_and_failures(void **state)
{
	(void)state;
	echo e;
	memset(&e, 0, sizeof(e));
	mh_transport *t;
	assert_int_equal(mh_transport_memory_new(&t, echo_fn, &e), S_OK);
	rec a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	uint64_t id = start(t, "http://x/a", &a);
	t->ops->cancel(t->self, id);
	t->ops->cancel(t->self, 9999); /* unknown: ignored */
	assert_int_equal(t->ops->pending(t->self), 0);
	assert_int_equal(t->ops->run(t->self, -1), S_OK);
	assert_int_equal(a.n_done, 0);
	assert_int_equal(e.calls, 0);
	/* answer.fail: on_done only */
	e.fail = MAPI_E_NETWORK_ERROR;
	start(t, "http://x/b", &b);
	assert_int_equal(t->ops->run(t->self, -1), S_OK);
	assert_string_equal(b.log, "DMAPI_E_NETWORK_ERROR ");
	/* a bad request: refused by start(), never a callback */
	mh_transport_request rq = MH_TRANSPORT_REQUEST_INIT;
	mh_transport_callbacks cb = rec_cb(&b);
	uint64_t bad;
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &bad), MAPI_E_INVALID_PARAMETER);
	rq.url = "http://x/";
	rq.method = "PUT";
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &bad), MAPI_E_INVALID_PARAMETER);
	mh_transport_header split = {"X-A", "1\r\nX-B: 2"};
	rq.method = "POST";
	rq.headers = &split;
	rq.n_headers = 1;
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &bad), MAPI_E_INVALID_PARAMETER);
	/* destroy drops pending requests without callbacks */
	memset(&a, 0, sizeof(a));
	start(t, "http://x/a", &a);
	mh_transport_free(t);
	assert_int_equal(a.n_done, 0);
}

/* The handler sees copies: the caller's buffers may change after start(). */
static void test_transport__memory_copies_request(void **state)
{
	(void)state;
	script s;
	memset(&s, 0, sizeof(s));
	s.answers[0].http_status = 204;
	s.n_answers = 1;
	mh_transport *t;
	assert_int_equal(mh_transport_memory_new(&t, script_fn, &s), S_OK);
	char url[32] = "http://h/p", hv[16] = "v1", body[8] = "abcd", secret[16] = "s3cret";
	mh_transport_header h = {"X-A", hv};
	mh_transport_request rq = MH_TRANSPORT_REQUEST_INIT;
	rq.url = url;
	rq.headers = &h;
	rq.n_headers = 1;
	rq.body = body;
	rq.body_len = 4;
	rq.auth.scheme = MH_AUTH_BASIC;
	rq.auth.user = "u";
	rq.auth.secret = secret;
	rec r;
	memset(&r, 0, sizeof(r));
	mh_transport_callbacks cb = rec_cb(&r);
	uint64_t id;
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &id), S_OK);
	memset(url, 'Z', 10);
	memset(hv, 'Z', 2);
	memset(body, 'Z', 4);
	memset(secret, 'Z', 6);
	assert_int_equal(t->ops->run(t->self, -1), S_OK);
	assert_string_equal(s.seen[0].url, "http://h/p");
	assert_string_equal(seen_header(&s.seen[0], "X-A"), "v1");
	assert_memory_equal(s.seen[0].body, "abcd", 4);
	assert_string_equal(s.seen[0].secret, "s3cret");
	assert_string_equal(r.log, "H204,0 Dok ");
	mh_transport_free(t);
}

/* ==== fault transport ==================================================================== */

static mh_transport *fault_over_rule(echo *e, mh_transport_fault_kind kind, unsigned every,
                                     double p, uint64_t seed)
{
	mh_transport *inner, *t;
	assert_int_equal(mh_transport_memory_new(&inner, echo_fn, e), S_OK);
	mh_transport_fault_rule rule = {kind, every, p};
	mh_transport_fault_options o = {1, seed, &rule, 1};
	assert_int_equal(mh_transport_fault_new(&t, inner, &o), S_OK);
	return t;
}

/* Runs n requests one by one; fails[i] is true when request i+1 failed. */
static void run_requests(mh_transport *t, size_t n, bool *fails, rec *recs)
{
	for (size_t i = 0; i < n; i++) {
		memset(&recs[i], 0, sizeof(recs[i]));
		start(t, "http://x/r", &recs[i]);
		assert_int_equal(t->ops->run(t->self, -1), S_OK);
		assert_int_equal(recs[i].n_done, 1);
		fails[i] = recs[i].status != S_OK;
	}
}

static void test_transport__fault_refuse_every(void **state)
{
	(void)state;
	echo e;
	memset(&e, 0, sizeof(e));
	mh_transport *t = fault_over_rule(&e, MH_TRANSPORT_FAULT_REFUSE, 3, 0, 0);
	bool fails[9];
	rec recs[9];
	run_requests(t, 9, fails, recs);
	for (size_t i = 0; i < 9; i++) {
		assert_int_equal(fails[i], (i + 1) % 3 == 0);
		if (fails[i]) {
			assert_int_equal(recs[i].status, MAPI_E_NETWORK_ERROR);
			assert_string_equal(recs[i].log, "DMAPI_E_NETWORK_ERROR ");
			assert_non_null(strstr(recs[i].msg, "injected fault: connection refused"));
		}
	}
	assert_int_equal(e.calls, 6); /* refused ones never reached the inner transport */
	/* a refusal is reported from run(), not from start() */
	rec r[3];
	memset(r, 0, sizeof(r));
	start(t, "http://x/1", &r[0]);
	start(t, "http://x/2", &r[1]);
	start(t, "http://x/3", &r[2]); /* the 12th: refused */
	assert_int_equal(r[2].n_done, 0);
	assert_int_equal(t->ops->pending(t->self), 3);
	assert_int_equal(t->ops->run(t->self, 0), S_OK);
	assert_int_equal(r[2].status, MAPI_E_NETWORK_ERROR);
	assert_int_equal(r[0].status + r[1].status, S_OK);
	mh_transport_free(t);
}

static void test_transport__fault_lose(void **state)
{
	(void)state;
	echo e;
	memset(&e, 0, sizeof(e));
	mh_transport *t = fault_over_rule(&e, MH_TRANSPORT_FAULT_LOSE, 2, 0, 0);
	bool fails[4];
	rec recs[4];
	run_requests(t, 4, fails, recs);
	assert_false(fails[0]);
	assert_true(fails[1]);
	assert_false(fails[2]);
	assert_true(fails[3]);
	assert_int_equal(e.calls, 4); /* sent, then lost */
	assert_string_equal(recs[1].log, "DMAPI_E_NETWORK_ERROR ");
	assert_int_equal(recs[1].data_len, 0);
	assert_non_null(strstr(recs[1].msg, "injected fault: answer lost"));
	assert_string_equal(recs[2].log, "H200,0 Dok ");
	mh_transport_free(t);
}

static void test_transport__fault_truncate(void **state)
{
	(void)state;
	echo e;
	memset(&e, 0, sizeof(e));
	mh_transport *t = fault_over_rule(&e, MH_TRANSPORT_FAULT_TRUNCATE, 1, 0, 0);
	bool fails[1];
	rec recs[1];
	/* no Content-Length: the body is held and half of it delivered */
	run_requests(t, 1, fails, recs);
	assert_true(fails[0]);
	assert_int_equal(recs[0].data_len, 5);
	assert_string_equal(recs[0].log, "H200,0 DMAPI_E_NETWORK_ERROR ");
	assert_non_null(strstr(recs[0].msg, "injected fault: body truncated"));
	/* with Content-Length, streamed byte by byte, cut at half */
	e.h[0].name = "Content-Length";
	e.h[0].value = "10";
	e.n_h = 1;
	e.chunk = 1;
	run_requests(t, 1, fails, recs);
	assert_true(fails[0]);
	assert_int_equal(recs[0].data_len, 5);
	assert_int_equal(recs[0].n_data, 5);
	assert_string_equal(recs[0].log, "H200,1 DMAPI_E_NETWORK_ERROR ");
	mh_transport_free(t);
}

static void test_transport__fault_probability_repeats(void **state)
{
	(void)state;
	enum { N = 200 };
	bool f1[N], f2[N], f3[N];
	static rec recs[N];
	size_t count = 0;
	for (int round = 0; round < 3; round++) {
		echo e;
		memset(&e, 0, sizeof(e));
		mh_transport *t = fault_over_rule(&e, (mh_transport_fault_kind)(round % 3), 0, 0.3,
		                                  round < 2 ? 42 : 43);
		run_requests(t, N, round == 0 ? f1 : round == 1 ? f2 : f3, recs);
		mh_transport_free(t);
	}
	for (size_t i = 0; i < N; i++)
		count += f1[i];
	/* the same seed gives the same requests, whatever the kind */
	assert_memory_equal(f1, f2, sizeof(f1));
	/* another seed another pattern */
	assert_true(memcmp(f1, f3, sizeof(f1)) != 0);
	/* 0.3 of 200: far from none and far from all */
	assert_in_range(count, 30, 90);
	/* probability 0 and 1 */
	echo e;
	memset(&e, 0, sizeof(e));
	mh_transport *t = fault_over_rule(&e, MH_TRANSPORT_FAULT_REFUSE, 0, 0.0, 1);
	run_requests(t, 20, f1, recs);
	mh_transport_free(t);
	for (size_t i = 0; i < 20; i++)
		assert_false(f1[i]);
	t = fault_over_rule(&e, MH_TRANSPORT_FAULT_REFUSE, 0, 1.0, 1);
	run_requests(t, 20, f1, recs);
	mh_transport_free(t);
	for (size_t i = 0; i < 20; i++)
		assert_true(f1[i]);
}

static void test_transport__fault_options(void **state)
{
	(void)state;
	echo e;
	memset(&e, 0, sizeof(e));
	mh_transport *inner, *t = NULL;
	assert_int_equal(mh_transport_memory_new(&inner, echo_fn, &e), S_OK);
	mh_transport_fault_rule bad = {MH_TRANSPORT_FAULT_KINDS, 1, 0};
	mh_transport_fault_options o = {1, 0, &bad, 1};
	assert_int_equal(mh_transport_fault_new(&t, inner, &o), MAPI_E_INVALID_PARAMETER);
	bad.kind = MH_TRANSPORT_FAULT_LOSE;
	bad.every = 0;
	bad.probability = 1.5;
	assert_int_equal(mh_transport_fault_new(&t, inner, &o), MAPI_E_INVALID_PARAMETER);
	assert_null(t);
	/* cancel through the wrapper: no callbacks at all */
	o.n_rules = 0;
	assert_int_equal(mh_transport_fault_new(&t, inner, &o), S_OK);
	rec r;
	memset(&r, 0, sizeof(r));
	uint64_t id = start(t, "http://x/a", &r);
	t->ops->cancel(t->self, id);
	assert_int_equal(t->ops->pending(t->self), 0);
	assert_int_equal(t->ops->run(t->self, -1), S_OK);
	assert_int_equal(r.n_done, 0);
	/* cancel of itself inside on_data */
	memset(&r, 0, sizeof(r));
	start(t, "http://x/a", &r);
	r.cancel_self_in_data = true;
	assert_int_equal(t->ops->run(t->self, -1), S_OK);
	assert_string_equal(r.log, "H200,0 ");
	start(t, "http://x/a", &r); /* left pending: destroy drops it */
	mh_transport_free(t);
}

/* run() from a callback is refused; destroy() from a callback is deferred to run()'s end. */
static void test_transport__callbacks_run_destroy(void **state)
{
	(void)state;
	for (int fault = 0; fault <= 1; fault++) {
		for (int where = 0; where < 2; where++) {
			echo e;
			memset(&e, 0, sizeof(e));
			mh_transport *t;
			if (fault)
				t = fault_over_rule(&e, MH_TRANSPORT_FAULT_REFUSE, 0, 0.0, 0);
			else
				assert_int_equal(mh_transport_memory_new(&t, echo_fn, &e), S_OK);
			rec a, b, c;
			memset(&a, 0, sizeof(a));
			memset(&b, 0, sizeof(b));
			memset(&c, 0, sizeof(c));
			start(t, "http://x/a", &a);
			start(t, "http://x/b", &b);
			start(t, "http://x/c", &c);
			b.run_in_headers = true;
			if (where == 0)
				b.destroy_in_headers = true;
			else
				b.destroy_in_done = true;
			assert_int_equal(t->ops->run(t->self, 0), S_OK);
			assert_int_equal(b.nested_run, MAPI_E_CALL_FAILED);
			assert_int_equal(a.n_done, 1);
			assert_int_equal(a.status, S_OK);
			/* destroyed in b's on_headers: b's on_done never runs; c never runs */
			assert_int_equal(b.n_done, where == 0 ? 0 : 1);
			assert_int_equal(c.n_done + c.n_data, 0);
			assert_string_equal(c.log, "");
		}
	}
	/* destroyed from a refusal's on_done: the second refusal is never reported */
	echo e;
	memset(&e, 0, sizeof(e));
	mh_transport *t = fault_over_rule(&e, MH_TRANSPORT_FAULT_REFUSE, 1, 0.0, 0);
	rec a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	start(t, "http://x/a", &a);
	start(t, "http://x/b", &b);
	a.destroy_in_done = true;
	assert_int_equal(t->ops->run(t->self, 0), S_OK);
	assert_int_equal(a.status, MAPI_E_NETWORK_ERROR);
	assert_int_equal(b.n_done, 0);
}

/* ==== event loop ========================================================================= */

typedef struct vclock {
	uint64_t now;
	unsigned advances;
} vclock;

static uint64_t v_now(void *ud)
{
	return ((vclock *)ud)->now;
}

static void v_advance(void *ud, uint64_t to)
{
	vclock *v = ud;
	assert_true(to >= v->now);
	v->now = to;
	v->advances++;
}

typedef struct tctx {
	mh_loop *l;
	vclock *v;
	char log[256];
	uint64_t cancel_id;
	bool add_more;
	bool *done;
	int set_done_at;
	int count;
} tctx;

typedef struct tcall {
	tctx *t;
	char name;
} tcall;

static void t_fire(void *ud)
{
	tcall *c = ud;
	tctx *t = c->t;
	size_t n = strlen(t->log);
	snprintf(t->log + n, sizeof(t->log) - n, "%c@%llu ", c->name,
	         (unsigned long long)t->v->now);
	t->count++;
	if (t->cancel_id != 0) {
		mh_loop_timer_cancel(t->l, t->cancel_id);
		t->cancel_id = 0;
	}
	if (t->add_more) {
		static tcall extra;
		extra.t = t;
		extra.name = 'x';
		t->add_more = false;
		assert_int_equal(mh_loop_timer(t->l, 5, t_fire, &extra, NULL), S_OK);
	}
	if (t->done != NULL && t->count == t->set_done_at)
		*t->done = true;
}

static mh_loop *vloop(mh_transport **tp, echo *e, vclock *v)
{
	mh_loop_clock clock = {v_now, v_advance, v};
	mh_loop *l;
	assert_int_equal(mh_transport_memory_new(tp, echo_fn, e), S_OK);
	assert_int_equal(mh_loop_new(&l, *tp, &clock), S_OK);
	return l;
}

static void test_transport__loop_timers(void **state)
{
	(void)state;
	echo e;
	memset(&e, 0, sizeof(e));
	vclock v = {1000, 0};
	mh_transport *tr;
	mh_loop *l = vloop(&tr, &e, &v);
	tctx t;
	memset(&t, 0, sizeof(t));
	t.l = l;
	t.v = &v;
	tcall a = {&t, 'a'}, b = {&t, 'b'}, c = {&t, 'c'}, d = {&t, 'd'}, x = {&t, 'X'};
	uint64_t idx;
	assert_int_equal(mh_loop_timer(l, 30, t_fire, &a, NULL), S_OK);
	assert_int_equal(mh_loop_timer(l, 10, t_fire, &b, NULL), S_OK);
	assert_int_equal(mh_loop_timer(l, 20, t_fire, &c, NULL), S_OK);
	assert_int_equal(mh_loop_timer(l, 10, t_fire, &d, NULL), S_OK); /* tie: after b */
	assert_int_equal(mh_loop_timer(l, 15, t_fire, &x, &idx), S_OK);
	mh_loop_timer_cancel(l, idx);
	bool done = false;
	t.done = &done;
	t.set_done_at = 4;
	assert_int_equal(mh_loop_run_until(l, &done, 0), S_OK);
	/* the virtual clock jumped from timer to timer */
	assert_string_equal(t.log, "b@1010 d@1010 c@1020 a@1030 ");
	assert_int_equal(v.advances, 3);
	/* a timer that cancels another and adds one */
	memset(t.log, 0, sizeof(t.log));
	t.count = 0;
	done = false;
	uint64_t ida;
	assert_int_equal(mh_loop_timer(l, 1, t_fire, &b, NULL), S_OK);
	assert_int_equal(mh_loop_timer(l, 2, t_fire, &a, &ida), S_OK);
	t.cancel_id = ida;
	t.add_more = true;
	t.set_done_at = 2;
	assert_int_equal(mh_loop_run_until(l, &done, 0), S_OK);
	assert_string_equal(t.log, "b@1031 x@1036 ");
	/* nothing left to do while not done: a bug, reported */
	done = false;
	assert_int_equal(mh_loop_run_until(l, &done, 0), MAPI_E_CALL_FAILED);
	/* a deadline before the next timer: MAPI_E_TIMEOUT, the clock stops at the deadline */
	assert_int_equal(mh_loop_timer(l, 1000, t_fire, &c, NULL), S_OK);
	assert_int_equal(mh_loop_run_until(l, &done, v.now + 500), MAPI_E_TIMEOUT);
	assert_int_equal(v.now, 1536);
	assert_int_equal(mh_loop_now(l), 1536);
	mh_loop_free(l); /* the pending timer is dropped without running */
	assert_int_equal(t.count, 2);
	mh_transport_free(tr);
}

static void loop_done_cb(void *ud, mh_status st)
{
	bool *done = ud;
	assert_int_equal(st, S_OK);
	*done = true;
}

static void test_transport__loop_requests(void **state)
{
	(void)state;
	echo e;
	memset(&e, 0, sizeof(e));
	vclock v = {0, 0};
	mh_transport *tr;
	mh_loop *l = vloop(&tr, &e, &v);
	bool done = false;
	mh_transport_request rq = MH_TRANSPORT_REQUEST_INIT;
	rq.url = "http://x/q";
	mh_transport_callbacks cb = {NULL, NULL, loop_done_cb, &done};
	assert_int_equal(tr->ops->start(tr->self, &rq, &cb, NULL), S_OK);
	assert_int_equal(mh_loop_run_until(l, &done, 0), S_OK);
	assert_true(done);
	assert_int_equal(v.advances, 0); /* a request needs no clock */
	/* run_once: a due timer, then an empty pass */
	tctx t;
	memset(&t, 0, sizeof(t));
	t.l = l;
	t.v = &v;
	tcall a = {&t, 'a'};
	assert_int_equal(mh_loop_timer(l, 50, t_fire, &a, NULL), S_OK);
	assert_int_equal(mh_loop_run_once(l, 10), S_OK);
	assert_int_equal(t.count, 0);
	assert_int_equal(v.now, 10);
	assert_int_equal(mh_loop_run_once(l, -1), S_OK);
	assert_string_equal(t.log, "a@50 ");
	assert_int_equal(mh_loop_run_once(l, -1), S_OK); /* nothing at all: returns */
	mh_loop_free(l);
	mh_transport_free(tr);
	/* the real clock: a zero-delay timer runs without waiting for anything */
	assert_int_equal(mh_transport_memory_new(&tr, echo_fn, &e), S_OK);
	assert_int_equal(mh_loop_new(&l, tr, NULL), S_OK);
	uint64_t t0 = mh_loop_now(l);
	t.v = &v;
	t.count = 0;
	t.done = &done;
	t.set_done_at = 1;
	done = false;
	assert_int_equal(mh_loop_timer(l, 0, t_fire, &a, NULL), S_OK);
	assert_int_equal(mh_loop_run_until(l, &done, 0), S_OK);
	assert_int_equal(t.count, 1);
	assert_true(mh_loop_now(l) >= t0);
	mh_loop_free(l);
	mh_transport_free(tr);
}

/* ==== MAPI/HTTP session context ========================================================== */

#define EMSMDB_URL "https://mail.contoso.test/mapi/emsmdb/?MailboxId=0a1b@contoso.test"
#define NSPI_URL   "https://mail.contoso.test/mapi/nspi/?MailboxId=0a1b@contoso.test"

typedef struct outcome {
	unsigned calls;
	mh_status status;
	char message[512];
	long http_status;
	bool have_rc;
	uint32_t rc;
	char diag[1100];
	bool have_diag;
	uint8_t *body;
	size_t len;
	uint32_t expiration, pending_period, retry_after, elapsed;
	bool have_elapsed;
	unsigned processing, pending;
	char start_time[80];
	char request_id[64];
	char server_app[64];
	/* actions */
	mh_mapi_ctx *free_ctx;
	mh_mapi_ctx *resend_ctx; /* sends a PING from inside done, once */
	uint8_t first_byte;      /* of the body, read after the resend */
} outcome;

static void ctx_done(const mh_mapi_result *r, void *payload)
{
	outcome *o = payload;
	o->calls++;
	o->status = r->status;
	snprintf(o->message, sizeof(o->message), "%s", r->message);
	o->http_status = r->http_status;
	o->have_rc = r->have_response_code;
	o->rc = r->response_code;
	o->have_diag = r->diagnostic != NULL;
	snprintf(o->diag, sizeof(o->diag), "%s", r->diagnostic ? r->diagnostic : "");
	free(o->body);
	o->body = NULL;
	o->len = r->len;
	if (r->len > 0) {
		o->body = malloc(r->len);
		assert_non_null(o->body);
		memcpy(o->body, r->body, r->len);
	}
	o->expiration = r->expiration_ms;
	o->pending_period = r->pending_period_ms;
	o->retry_after = r->retry_after_ms;
	o->have_elapsed = r->have_elapsed_time;
	o->elapsed = r->elapsed_time;
	o->processing = r->processing;
	o->pending = r->pending;
	snprintf(o->start_time, sizeof(o->start_time), "%s", r->start_time ? r->start_time : "");
	snprintf(o->request_id, sizeof(o->request_id), "%s", r->request_id);
	snprintf(o->server_app, sizeof(o->server_app), "%s",
	         r->server_application ? r->server_application : "");
	if (o->resend_ctx != NULL) {
		mh_mapi_ctx *c = o->resend_ctx;
		o->resend_ctx = NULL;
		assert_int_equal(mh_mapi_ctx_send(c, MH_RT_PING, NULL, 0, ctx_done, o), S_OK);
		/* the result stays valid for the rest of this call */
		o->first_byte = r->len > 0 ? r->body[0] : 0;
	}
	if (o->free_ctx != NULL) {
		mh_mapi_ctx_free(o->free_ctx);
		o->free_ctx = NULL;
	}
}

typedef struct fixture {
	script s;
	mh_transport *t;
	mh_loop *l;
	vclock v;
	mh_mapi_ctx *c;
	outcome o;
} fixture;

static const GUID client_guid = {
    0x2EF33C39, 0x49C8, 0x421C, {0xB8, 0x76, 0xCD, 0xF7, 0xF2, 0xAC, 0x3A, 0xA0}};

static fixture *fx_new(const char *url, const mh_mapi_ctx_options *opts)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	mh_loop_clock clock = {v_now, v_advance, &f->v};
	assert_int_equal(mh_transport_memory_new(&f->t, script_fn, &f->s), S_OK);
	assert_int_equal(mh_loop_new(&f->l, f->t, &clock), S_OK);
	mh_mapi_ctx_options o = MH_MAPI_CTX_OPTIONS_INIT;
	if (opts != NULL)
		o = *opts;
	o.url = url;
	o.client_guid = client_guid;
	o.client_counter = 3;
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.user = "alice@contoso.test";
	o.auth.secret = "Alice-Pass-1";
	assert_int_equal(mh_mapi_ctx_new(&f->c, f->l, &o), S_OK);
	return f;
}

static void fx_free(fixture *f)
{
	mh_mapi_ctx_free(f->c);
	mh_loop_free(f->l);
	mh_transport_free(f->t);
	free(f->o.body);
	free(f);
}

/* Sends and runs the loop until done was called. */
static mh_status fx_send(fixture *f, mh_mapihttp_request_type type, const void *body, size_t len)
{
	unsigned before = f->o.calls;
	assert_int_equal(mh_mapi_ctx_send(f->c, type, body, len, ctx_done, &f->o), S_OK);
	assert_true(mh_mapi_ctx_busy(f->c));
	bool done = false;
	while (f->o.calls == before) {
		mh_status st = mh_loop_run_once(f->l, -1);
		assert_int_equal(st, S_OK);
		assert_true(f->t->ops->pending(f->t->self) > 0 || f->o.calls > before || done);
	}
	assert_int_equal(f->o.calls, before + 1);
	assert_false(mh_mapi_ctx_busy(f->c));
	return f->o.status;
}

static void set_answer(fixture *f, size_t i, long http, const mh_transport_header *h, size_t n,
                       const void *body, size_t len, size_t chunk)
{
	mh_transport_memory_answer *a = &f->s.answers[i];
	memset(a, 0, sizeof(*a));
	a->http_status = http;
	a->headers = h;
	a->n_headers = n;
	a->body = body;
	a->body_len = len;
	a->chunk = chunk;
	if (f->s.n_answers < i + 1)
		f->s.n_answers = i + 1;
}

static const char ok_stream[] = "PROCESSING\r\nDONE\r\nX-ElapsedTime: 3\r\n"
                                "X-StartTime: Mon, 30 Nov 2026 10:00:00 GMT\r\n\r\n\x01\x02\x03";

static void test_transport__ctx_headers_and_cookies(void **state)
{
	(void)state;
	fixture *f = fx_new(EMSMDB_URL, NULL);
	const mh_transport_header h0[] = {
	    {"X-ResponseCode", "0"},
	    {"X-PendingPeriod", "15000"},
	    {"X-ExpirationInfo", "900000"},
	    {"X-ServerApplication", "Exchange/15.00.0847.4040"},
	    {"Set-Cookie", "MapiContext=ctx1; path=/mapi/emsmdb; HttpOnly; Secure"},
	    {"Set-Cookie", "MapiSequence=0-AAAA; path=/mapi/emsmdb"},
	    {"set-cookie", "X-BackEndCookie=be=1"},
	};
	const mh_transport_header h1[] = {
	    {"X-ResponseCode", "0"},
	    {"Set-Cookie", "MapiSequence=1-BBBB; path=/mapi/emsmdb"},
	    {"Set-Cookie", "X-BackEndCookie=gone; Max-Age=0"},
	};
	set_answer(f, 0, 200, h0, 7, ok_stream, sizeof(ok_stream) - 1, 0);
	set_answer(f, 1, 200, h1, 3, ok_stream, sizeof(ok_stream) - 1, 0);
	set_answer(f, 2, 200, h1, 1, ok_stream, sizeof(ok_stream) - 1, 0);
	assert_int_equal(fx_send(f, MH_RT_CONNECT, "\x01\x02", 2), S_OK);
	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "\x03", 1), S_OK);
	assert_int_equal(fx_send(f, MH_RT_PING, NULL, 0), S_OK);

	const seen_req *q = f->s.seen;
	assert_int_equal(f->s.n_seen, 3);
	assert_string_equal(q[0].method, "POST");
	assert_string_equal(q[0].url, EMSMDB_URL);
	assert_string_equal(seen_header(&q[0], "X-RequestType"), "Connect");
	assert_string_equal(seen_header(&q[1], "X-RequestType"), "Execute");
	assert_string_equal(seen_header(&q[2], "X-RequestType"), "PING");
	assert_string_equal(seen_header(&q[0], "Content-Type"), "application/mapi-http");
	assert_string_equal(seen_header(&q[0], "X-ClientApplication"), "Outlook/15.0.4815.1002");
	assert_string_equal(seen_header(&q[0], "X-ClientInfo"),
	                    "{2EF33C39-49C8-421C-B876-CDF7F2AC3AA0}:3");
	assert_string_equal(q[0].secret, "Alice-Pass-1");
	assert_memory_equal(q[0].body, "\x01\x02", 2);
	assert_null(seen_header(&q[0], "X-ExpirationInfo"));
	/* X-RequestId: one GUID, the counter +1 per request */
	GUID g[3];
	uint32_t n[3];
	for (int i = 0; i < 3; i++) {
		const char *id = seen_header(&q[i], "X-RequestId");
		assert_non_null(id);
		assert_int_equal(id[0], '{');
		assert_int_equal(mh_mapihttp_counted_guid_parse(id, strlen(id), &g[i], &n[i]),
		                 S_OK);
		assert_int_equal(n[i], (uint32_t)i + 1);
	}
	assert_memory_equal(&g[0], &g[1], sizeof(GUID));
	assert_memory_equal(&g[0], &g[2], sizeof(GUID));
	assert_int_equal(g[0].Data3 >> 12, 4); /* a random (version 4) GUID */
	assert_string_equal(f->o.request_id, seen_header(&q[2], "X-RequestId"));
	/* cookies: none at first, then all of them, a new value replacing the old */
	assert_null(seen_header(&q[0], "Cookie"));
	assert_string_equal(seen_header(&q[1], "Cookie"),
	                    "MapiContext=ctx1; MapiSequence=0-AAAA; X-BackEndCookie=be=1");
	assert_string_equal(seen_header(&q[2], "Cookie"), "MapiContext=ctx1; MapiSequence=1-BBBB");
	assert_int_equal(mh_mapi_ctx_cookie_count(f->c), 2);
	assert_string_equal(mh_mapi_ctx_cookie(f->c, "MapiSequence"), "1-BBBB");
	/* the idle timeout follows X-PendingPeriod once known */
	assert_int_equal(q[0].idle_timeout, MH_MAPI_CTX_IDLE_DEFAULT_MS);
	assert_int_equal(q[1].idle_timeout, 30000);
	assert_int_equal(mh_mapi_ctx_pending_period(f->c), 15000);
	assert_int_equal(mh_mapi_ctx_expiration(f->c), 900000);
	/* the result */
	assert_int_equal(f->o.len, 3);
	assert_memory_equal(f->o.body, "\x01\x02\x03", 3);
	assert_true(f->o.have_elapsed);
	assert_int_equal(f->o.elapsed, 3);
	assert_string_equal(f->o.start_time, "Mon, 30 Nov 2026 10:00:00 GMT");
	assert_int_equal(f->o.processing, 1);
	mh_mapi_ctx_stats st;
	mh_mapi_ctx_stats_get(f->c, &st);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.bytes_out, 3);
	assert_int_equal(st.bytes_in, 3 * (sizeof(ok_stream) - 1));
	fx_free(f);
}

static void test_transport__ctx_reconnect(void **state)
{
	(void)state;
	mh_mapi_ctx_options o = MH_MAPI_CTX_OPTIONS_INIT;
	o.expiration_ms = 600000;
	o.client_application = "Outlook/16.0.1.2";
	fixture *f = fx_new(NSPI_URL, &o);
	const mh_transport_header h0[] = {
	    {"X-ResponseCode", "0"},
	    {"Set-Cookie", "sid=old"},
	    {"Set-Cookie", "sequence=s1"},
	};
	const mh_transport_header h1[] = {
	    {"X-ResponseCode", "0"},
	    {"Set-Cookie", "sid=new"},
	};
	set_answer(f, 0, 200, h0, 3, ok_stream, sizeof(ok_stream) - 1, 0);
	set_answer(f, 1, 200, h1, 2, ok_stream, sizeof(ok_stream) - 1, 0);
	set_answer(f, 2, 200, h1, 1, ok_stream, sizeof(ok_stream) - 1, 0);
	assert_int_equal(fx_send(f, MH_RT_BIND, "b", 1), S_OK);
	/* a type the endpoint does not serve */
	assert_int_equal(mh_mapi_ctx_send(f->c, MH_RT_EXECUTE, NULL, 0, ctx_done, &f->o),
	                 MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_mapi_ctx_restart(f->c, true, 3), S_OK);
	assert_int_equal(fx_send(f, MH_RT_BIND, "b", 1), S_OK);
	assert_int_equal(fx_send(f, MH_RT_PING, NULL, 0), S_OK);
	const seen_req *q = f->s.seen;
	/* the reconnect carried the old cookies; its answer replaced the jar */
	assert_string_equal(seen_header(&q[1], "Cookie"), "sid=old; sequence=s1");
	assert_string_equal(seen_header(&q[2], "Cookie"), "sid=new");
	assert_string_equal(seen_header(&q[0], "X-RequestType"), "Bind");
	assert_string_equal(seen_header(&q[0], "X-ExpirationInfo"), "600000");
	assert_string_equal(seen_header(&q[0], "X-ClientApplication"), "Outlook/16.0.1.2");
	/* a new X-RequestId GUID, counted from 1 again */
	GUID g0, g1;
	uint32_t n0, n1;
	const char *id0 = seen_header(&q[0], "X-RequestId"),
	           *id1 = seen_header(&q[1], "X-RequestId");
	assert_int_equal(mh_mapihttp_counted_guid_parse(id0, strlen(id0), &g0, &n0), S_OK);
	assert_int_equal(mh_mapihttp_counted_guid_parse(id1, strlen(id1), &g1, &n1), S_OK);
	assert_int_equal(n0, 1);
	assert_int_equal(n1, 1);
	assert_true(memcmp(&g0, &g1, sizeof(GUID)) != 0);
	/* a fresh start forgets the cookies */
	assert_int_equal(mh_mapi_ctx_restart(f->c, false, 4), S_OK);
	assert_int_equal(mh_mapi_ctx_cookie_count(f->c), 0);
	fx_free(f);
}

static void test_transport__ctx_response_codes(void **state)
{
	(void)state;
	fixture *f = fx_new(EMSMDB_URL, NULL);
	static const char html[] =
	    "<html><head><title>MAPI</title></head><body>\r\n<p>Diagnostic Information:"
	    "\tcontext\x01 not found</p></body></html>";
	const mh_transport_header hdr_rc[] = {{"X-ResponseCode", "10"},
	                                      {"Content-Type", "text/html"}};
	static const char meta_fail[] = "PROCESSING\r\nPENDING\r\nDONE\r\nX-ResponseCode: 15\r\n"
	                                "X-ElapsedTime: 1\r\n\r\n";
	const mh_transport_header hdr_ok[] = {{"X-ResponseCode", "0"}};
	const mh_transport_header hdr_none[] = {{"Content-Type", "text/html"}};
	const mh_transport_header hdr_bad[] = {{"X-ResponseCode", "ten"}};
	static const char corrupt[] = "PROCESSING\r\nHELLO\r\n";
	set_answer(f, 0, 200, hdr_rc, 2, html, sizeof(html) - 1, 0);
	set_answer(f, 1, 200, hdr_ok, 1, meta_fail, sizeof(meta_fail) - 1, 1);
	set_answer(f, 2, 200, hdr_none, 1, "<p>hi</p>", 9, 0);
	set_answer(f, 3, 200, hdr_bad, 1, NULL, 0, 0);
	set_answer(f, 4, 200, hdr_ok, 1, corrupt, sizeof(corrupt) - 1, 0);
	set_answer(f, 5, 200, hdr_ok, 1, "PROCESSING\r\nDO", 14, 0);
	f->s.answers[6].fail = MAPI_E_NETWORK_ERROR;
	f->s.n_answers = 7;

	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "x", 1), MAPI_E_END_OF_SESSION);
	assert_true(f->o.have_rc);
	assert_int_equal(f->o.rc, 10);
	assert_int_equal(f->o.http_status, 200);
	assert_non_null(strstr(f->o.message, "X-ResponseCode 10 (Context Not Found)"));
	assert_string_equal(f->o.diag, "MAPI Diagnostic Information: context not found");
	assert_int_equal(f->o.len, 0);

	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "x", 1), MAPI_E_BUSY);
	assert_int_equal(f->o.rc, 15);
	assert_int_equal(f->o.pending, 1);
	assert_non_null(strstr(f->o.message, "after DONE"));

	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "x", 1), MAPI_E_CALL_FAILED);
	assert_false(f->o.have_rc);
	assert_non_null(strstr(f->o.message, "without X-ResponseCode"));
	assert_string_equal(f->o.diag, "hi");

	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "x", 1), MAPI_E_CORRUPT_DATA);
	assert_false(f->o.have_diag);
	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "x", 1), MAPI_E_CORRUPT_DATA);
	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "x", 1), MAPI_E_CORRUPT_DATA); /* cut short */
	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "x", 1), MAPI_E_NETWORK_ERROR);
	assert_int_equal(f->o.http_status, 0);
	mh_mapi_ctx_stats st;
	mh_mapi_ctx_stats_get(f->c, &st);
	assert_int_equal(st.failures, 7);
	fx_free(f);
}

static void test_transport__ctx_http_status(void **state)
{
	(void)state;
	fixture *f = fx_new(EMSMDB_URL, NULL);
	const mh_transport_header h401[] = {{"WWW-Authenticate", "Basic realm=\"x\""}};
	const mh_transport_header h503[] = {{"Retry-After", "7"}};
	const mh_transport_header h503d[] = {{"Date", "Mon, 30 Nov 2026 10:00:00 GMT"},
	                                     {"Retry-After", "Mon, 30 Nov 2026 10:00:30 GMT"}};
	const mh_transport_header h429[] = {{"Retry-After", "soon"}};
	set_answer(f, 0, 401, h401, 1, "Unauthorized", 12, 0);
	set_answer(f, 1, 503, h503, 1, NULL, 0, 0);
	set_answer(f, 2, 503, h503d, 2, NULL, 0, 0);
	set_answer(f, 3, 429, h429, 1, NULL, 0, 0);
	set_answer(f, 4, 404, NULL, 0, NULL, 0, 0);
	set_answer(f, 5, 302, NULL, 0, NULL, 0, 0);
	set_answer(f, 6, 500, NULL, 0, NULL, 0, 0);
	assert_int_equal(fx_send(f, MH_RT_CONNECT, "c", 1), MAPI_E_LOGON_FAILED);
	assert_int_equal(f->o.http_status, 401);
	assert_non_null(strstr(f->o.message, "wrong credentials or expired token"));
	assert_null(strstr(f->o.message, "Alice-Pass-1"));
	assert_int_equal(fx_send(f, MH_RT_CONNECT, "c", 1), MAPI_E_BUSY);
	assert_int_equal(f->o.retry_after, 7000);
	assert_non_null(strstr(f->o.message, "retry after 7000 ms"));
	assert_int_equal(fx_send(f, MH_RT_CONNECT, "c", 1), MAPI_E_BUSY);
	assert_int_equal(f->o.retry_after, 30000);
	assert_int_equal(fx_send(f, MH_RT_CONNECT, "c", 1), MAPI_E_BUSY);
	assert_int_equal(f->o.retry_after, 0);
	assert_int_equal(fx_send(f, MH_RT_CONNECT, "c", 1), MAPI_E_NOT_FOUND);
	assert_int_equal(fx_send(f, MH_RT_CONNECT, "c", 1), MAPI_E_CALL_FAILED);
	assert_non_null(strstr(f->o.message, "Autodiscover"));
	assert_int_equal(fx_send(f, MH_RT_CONNECT, "c", 1), MAPI_E_CALL_FAILED);
	fx_free(f);
}

/* ---- the libcurl backend's header lines ------------------------------------------------- */

static mh_status feed(mh_curl_headers *h, const char *line)
{
	return mh_curl_headers_feed(h, line, strlen(line));
}

/* Only the last response's headers are kept; folded lines join; blank and odd lines drop. */
static void test_transport__curl_headers_feed(void **state)
{
	(void)state;
	mh_curl_headers h;
	mh_curl_headers_init(&h, "https://x.test:443");
	assert_int_equal(h.status, -1);
	static const char *const lines[] = {"HTTP/1.1 100 Continue\r\n",
	                                    "\r\n",
	                                    "HTTP/1.1 401 Unauthorized\r\n",
	                                    "WWW-Authenticate: NTLM abc\r\n",
	                                    "\r\n",
	                                    "HTTP/1.1 200 OK\r\n",
	                                    "Content-Type:  application/mapi-http \r\n",
	                                    "X-Folded: one\r\n",
	                                    " \t two\r\n",
	                                    "\tthree\r\n",
	                                    "not a header\r\n",
	                                    ": no name\r\n",
	                                    "X-Empty:\r\n",
	                                    "\r\n"};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_int_equal(feed(&h, lines[i]), S_OK);
	assert_int_equal(h.status, 200);
	mh_transport_header *l;
	assert_int_equal(mh_curl_headers_list(&h, &l), S_OK);
	assert_int_equal(h.n, 3);
	assert_string_equal(l[0].name, "Content-Type");
	assert_string_equal(l[0].value, "application/mapi-http");
	assert_string_equal(l[1].name, "X-Folded");
	assert_string_equal(l[1].value, "one two three");
	assert_string_equal(l[2].name, "X-Empty");
	assert_string_equal(l[2].value, "");
	free(l);
	/* A new status line starts over; an unreadable code is -1. */
	assert_int_equal(feed(&h, "HTTP/1.1 2x0 Odd\r\n"), S_OK);
	assert_int_equal(h.status, -1);
	assert_int_equal(mh_curl_headers_list(&h, &l), S_OK);
	assert_null(l);
	/* A NUL byte fails the answer, and every later line with it. */
	assert_int_equal(mh_curl_headers_feed(&h, "A: b\0c\r\n", 8), MAPI_E_NETWORK_ERROR);
	assert_string_equal(mh_error_last()->message,
	                    "https://x.test:443: a header line of the answer has a NUL byte");
	assert_int_equal(feed(&h, "A: b\r\n"), MAPI_E_NETWORK_ERROR);
	assert_int_equal(h.n, 0);
	assert_int_equal(mh_curl_headers_list(&h, &l), MAPI_E_NETWORK_ERROR);
	assert_null(l);
	mh_curl_headers_free(&h);
}

/* A flood is refused at MH_CURL_HEADERS_MAX headers or MH_CURL_HEADER_BYTES_MAX bytes. */
static void test_transport__curl_headers_caps(void **state)
{
	(void)state;
	mh_curl_headers h;
	mh_curl_headers_init(&h, NULL);
	assert_int_equal(feed(&h, "HTTP/1.1 200 OK\r\n"), S_OK);
	for (unsigned i = 0; i < MH_CURL_HEADERS_MAX; i++)
		assert_int_equal(feed(&h, "A: b\r\n"), S_OK);
	assert_int_equal(h.n, MH_CURL_HEADERS_MAX);
	assert_int_equal(feed(&h, "A: b\r\n"), MAPI_E_NETWORK_ERROR);
	assert_non_null(strstr(mh_error_last()->message, "exceed 512 headers or 262144 bytes"));
	mh_curl_headers_free(&h);

	/* One value grown by folding up to the byte cap: "X\0" + value + "\0". */
	static char fold[1002];
	fold[0] = ' ';
	memset(fold + 1, 'v', 999);
	fold[1000] = '\r';
	fold[1001] = '\n';
	mh_curl_headers_init(&h, NULL);
	assert_int_equal(feed(&h, "X: v\r\n"), S_OK);
	size_t fed = 0;
	mh_status st = S_OK;
	while (st == S_OK && fed < 1000) {
		st = mh_curl_headers_feed(&h, fold, sizeof(fold));
		fed++;
	}
	assert_int_equal(st, MAPI_E_NETWORK_ERROR);
	/* "X\0v\0" is 4 bytes, each folded line adds 1000: 262 fit, the 263rd would not. */
	assert_int_equal(fed, 263);
	assert_int_equal(h.len, 4 + 262 * 1000);
	assert_true(h.len <= MH_CURL_HEADER_BYTES_MAX);
	mh_curl_headers_free(&h);
}

/* What a 401's Bearer challenge says of the token, in the forms RFC 9110 11.6.1 allows. */
static void test_transport__bearer_refusal(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		mh_bearer_refusal want;
	} cases[] = {
	    {"Bearer realm=\"x\", error=\"invalid_token\", error_description=\"The access token "
	     "is expired\"",
	     MH_BEARER_REFUSAL_EXPIRED},
	    {"bearer error=invalid_token,error_description=\"Token EXPIRED at 10:00\"",
	     MH_BEARER_REFUSAL_EXPIRED},
	    {"Bearer error_description=\"a \\\"quoted\\\" expired\" , error = \"invalid_token\"",
	     MH_BEARER_REFUSAL_EXPIRED},
	    {"Bearer realm=\"x\", error=\"invalid_token\", error_description=\"The access token "
	     "is invalid\"",
	     MH_BEARER_REFUSAL_INVALID},
	    {"Bearer realm=\"x\", error=\"invalid_token\"", MH_BEARER_REFUSAL_INVALID},
	    /* No error code: the request carried no token, or the server says nothing. */
	    {"Bearer realm=\"x\"", MH_BEARER_REFUSAL_NONE},
	    {"Bearer realm=\"x\", error_description=\"expired\"", MH_BEARER_REFUSAL_NONE},
	    {"Bearer error=\"insufficient_scope\", error_description=\"expired\"",
	     MH_BEARER_REFUSAL_NONE},
	    /* Another scheme's parameters are not the Bearer challenge's. */
	    {"Basic realm=\"x\", error=\"invalid_token\", error_description=\"expired\"",
	     MH_BEARER_REFUSAL_NONE},
	    {"Newauth realm=\"x\", error=\"invalid_token\", Bearer realm=\"y\"",
	     MH_BEARER_REFUSAL_NONE},
	    {"Bearer realm=\"y\", Negotiate abc==, Basic error=\"invalid_token\"",
	     MH_BEARER_REFUSAL_NONE},
	    {"Negotiate abc==, Bearer error=\"invalid_token\"", MH_BEARER_REFUSAL_INVALID},
	    /* Malformed: nothing is found, nothing breaks. */
	    {"", MH_BEARER_REFUSAL_NONE},
	    {"Bearer error=\"invalid_token", MH_BEARER_REFUSAL_INVALID},
	    {"Bearer error=\"invalid_tok\\", MH_BEARER_REFUSAL_NONE},
	    {"Bearer ==== ,,, \"\" error", MH_BEARER_REFUSAL_NONE},
	    {"\x01\x7f Bearer error=invalid_token", MH_BEARER_REFUSAL_INVALID},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const mh_transport_header h[] = {{"Content-Type", "text/plain"},
		                                 {"www-authenticate", cases[i].value}};
		mh_bearer_refusal got = mh_bearer_refusal_of(h, 2);
		if (got != cases[i].want)
			fail_msg("case %zu (%s): %d, expected %d", i, cases[i].value, (int)got,
			         (int)cases[i].want);
	}
	/* Two headers: the Basic one says nothing, the Bearer one does. */
	const mh_transport_header two[] = {
	    {"WWW-Authenticate", "Basic realm=\"x\""},
	    {"WWW-Authenticate", "Bearer error=\"invalid_token\", error_description=\"expired\""}};
	assert_int_equal(mh_bearer_refusal_of(two, 2), MH_BEARER_REFUSAL_EXPIRED);
	assert_int_equal(mh_bearer_refusal_of(two, 1), MH_BEARER_REFUSAL_NONE);
	assert_int_equal(mh_bearer_refusal_of(NULL, 0), MH_BEARER_REFUSAL_NONE);
}

/* A 401 to a Bearer request: the message says whether the token expired, and never names it. */
static void test_transport__ctx_401_bearer(void **state)
{
	(void)state;
	mh_mapi_ctx_options o = MH_MAPI_CTX_OPTIONS_INIT;
	o.auth.scheme = MH_AUTH_BEARER;
	o.auth.secret = "svc-token-9999";
	fixture *f = fx_new(EMSMDB_URL, &o);
	const mh_transport_header expired[] = {
	    {"WWW-Authenticate", "Basic realm=\"mapihttpd\", charset=\"UTF-8\""},
	    {"WWW-Authenticate", "Bearer realm=\"mapihttpd\", error=\"invalid_token\", "
	                         "error_description=\"The access token is expired\""}};
	const mh_transport_header invalid[] = {
	    {"WWW-Authenticate", "Bearer realm=\"mapihttpd\", error=\"invalid_token\", "
	                         "error_description=\"svc-token-9999 is unknown\""}};
	set_answer(f, 0, 401, expired, 2, "Unauthorized", 12, 0);
	set_answer(f, 1, 401, invalid, 1, "Unauthorized", 12, 0);
	set_answer(f, 2, 401, NULL, 0, NULL, 0, 0);
	assert_int_equal(fx_send(f, MH_RT_CONNECT, "c", 1), MAPI_E_LOGON_FAILED);
	assert_string_equal(f->o.message, "HTTP 401 from the mailbox endpoint: the server says the "
	                                  "bearer token has expired; get a new token");
	assert_int_equal(fx_send(f, MH_RT_CONNECT, "c", 1), MAPI_E_LOGON_FAILED);
	/* The server's description is not repeated: it may echo the token. */
	assert_string_equal(f->o.message, "HTTP 401 from the mailbox endpoint: the server refused "
	                                  "the bearer token (invalid_token)");
	assert_null(strstr(mh_error_last()->message, "svc-token"));
	assert_int_equal(fx_send(f, MH_RT_CONNECT, "c", 1), MAPI_E_LOGON_FAILED);
	assert_non_null(strstr(f->o.message, "wrong credentials or expired token"));
	fx_free(f);
}

/* A held answer: PENDING keep-alives, delivered one byte at a time. */
static void test_transport__ctx_chunked_pending(void **state)
{
	(void)state;
	fixture *f = fx_new(EMSMDB_URL, NULL);
	static const char held[] = "PROCESSING\r\nPENDING\r\nPENDING\r\npending\r\nDONE\r\n"
	                           "X-ElapsedTime: 45000\r\nX-StartTime: Mon, 30 Nov 2026 "
	                           "10:00:00 GMT\r\n\r\nDONE\r\n\r\n\x00\xff";
	const mh_transport_header h[] = {{"X-ResponseCode", "0"}, {"X-PendingPeriod", "30000"}};
	set_answer(f, 0, 200, h, 2, held, sizeof(held) - 1, 1);
	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "e", 1), S_OK);
	assert_int_equal(f->o.pending, 3);
	assert_int_equal(f->o.processing, 1);
	assert_int_equal(f->o.elapsed, 45000);
	assert_int_equal(f->o.pending_period, 30000);
	/* the body is binary: a "DONE" and an empty line inside it are data */
	assert_int_equal(f->o.len, 10);
	assert_memory_equal(f->o.body, "DONE\r\n\r\n\x00\xff", 10);
	fx_free(f);
}

static void test_transport__ctx_limits(void **state)
{
	(void)state;
	mh_mapi_ctx_options o = MH_MAPI_CTX_OPTIONS_INIT;
	o.max_body = 3;
	o.max_cookies = 2;
	o.max_cookie_bytes = 16;
	fixture *f = fx_new(EMSMDB_URL, &o);
	static const char four[] = "PROCESSING\r\nDONE\r\n\r\nabcd";
	const mh_transport_header h[] = {{"X-ResponseCode", "0"}};
	const mh_transport_header many[] = {{"X-ResponseCode", "0"},
	                                    {"Set-Cookie", "a=1"},
	                                    {"Set-Cookie", "b=2"},
	                                    {"Set-Cookie", "c=3"}};
	const mh_transport_header big[] = {{"X-ResponseCode", "0"},
	                                   {"Set-Cookie", "a=0123456789abcdef"}};
	const mh_transport_header junk[] = {{"X-ResponseCode", "0"},
	                                    {"Set-Cookie", "no equals"},
	                                    {"Set-Cookie", "bad name=1"},
	                                    {"Set-Cookie", "=1"},
	                                    {"Set-Cookie", "ok = v w ; Path=/"}};
	set_answer(f, 0, 200, h, 1, ok_stream, sizeof(ok_stream) - 1, 2);
	set_answer(f, 1, 200, h, 1, four, sizeof(four) - 1, 2);
	set_answer(f, 2, 200, many, 4, ok_stream, sizeof(ok_stream) - 1, 0);
	set_answer(f, 3, 200, big, 2, ok_stream, sizeof(ok_stream) - 1, 0);
	set_answer(f, 4, 200, junk, 5, ok_stream, sizeof(ok_stream) - 1, 0);
	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "e", 1), S_OK); /* 3 bytes: at the cap */
	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "e", 1), MAPI_E_TOO_BIG);
	assert_non_null(strstr(f->o.message, "max_body"));
	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "e", 1), MAPI_E_TOO_BIG);
	assert_non_null(strstr(f->o.message, "max_cookies"));
	mh_mapi_ctx_reset_cookies(f->c);
	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "e", 1), MAPI_E_TOO_BIG);
	assert_non_null(strstr(f->o.message, "max_cookie_bytes"));
	assert_int_equal(fx_send(f, MH_RT_EXECUTE, "e", 1), S_OK);
	/* malformed Set-Cookie values are ignored, as browsers do */
	assert_int_equal(mh_mapi_ctx_cookie_count(f->c), 1);
	assert_string_equal(mh_mapi_ctx_cookie(f->c, "ok"), "v w");
	fx_free(f);
}

static void test_transport__ctx_busy_and_lifetime(void **state)
{
	(void)state;
	fixture *f = fx_new(EMSMDB_URL, NULL);
	const mh_transport_header h[] = {{"X-ResponseCode", "0"}};
	set_answer(f, 0, 200, h, 1, ok_stream, sizeof(ok_stream) - 1, 0);
	/* one request at a time */
	assert_int_equal(mh_mapi_ctx_send(f->c, MH_RT_EXECUTE, "a", 1, ctx_done, &f->o), S_OK);
	assert_int_equal(mh_mapi_ctx_send(f->c, MH_RT_EXECUTE, "b", 1, ctx_done, &f->o),
	                 MAPI_E_BUSY);
	assert_int_equal(mh_mapi_ctx_restart(f->c, true, 1), MAPI_E_BUSY);
	bool never = false;
	assert_int_equal(mh_loop_run_until(f->l, &never, 0), MAPI_E_CALL_FAILED);
	assert_int_equal(f->o.calls, 1);
	assert_int_equal(f->s.n_seen, 1);
	/* cancel: done is not called */
	assert_int_equal(mh_mapi_ctx_send(f->c, MH_RT_EXECUTE, "a", 1, ctx_done, &f->o), S_OK);
	mh_mapi_ctx_cancel(f->c);
	assert_false(mh_mapi_ctx_busy(f->c));
	assert_int_equal(mh_loop_run_until(f->l, &never, 0), MAPI_E_CALL_FAILED);
	assert_int_equal(f->o.calls, 1);
	/* send again from inside done */
	f->o.resend_ctx = f->c;
	assert_int_equal(mh_mapi_ctx_send(f->c, MH_RT_EXECUTE, "a", 1, ctx_done, &f->o), S_OK);
	assert_int_equal(mh_loop_run_until(f->l, &never, 0), MAPI_E_CALL_FAILED);
	assert_int_equal(f->o.calls, 3);
	assert_int_equal(f->o.first_byte, 1);
	assert_int_equal(f->s.n_seen, 3);
	assert_string_equal(seen_header(&f->s.seen[2], "X-RequestType"), "PING");
	/* free from inside done */
	assert_int_equal(mh_mapi_ctx_send(f->c, MH_RT_EXECUTE, "a", 1, ctx_done, &f->o), S_OK);
	f->o.free_ctx = f->c;
	f->c = NULL;
	assert_int_equal(mh_loop_run_until(f->l, &never, 0), MAPI_E_CALL_FAILED);
	assert_int_equal(f->o.calls, 4);
	/* free with a request running */
	mh_loop_clock clock = {v_now, v_advance, &f->v};
	(void)clock;
	mh_mapi_ctx_options o = MH_MAPI_CTX_OPTIONS_INIT;
	o.url = EMSMDB_URL;
	assert_int_equal(mh_mapi_ctx_new(&f->c, f->l, &o), S_OK);
	assert_int_equal(mh_mapi_ctx_send(f->c, MH_RT_PING, NULL, 0, ctx_done, &f->o), S_OK);
	mh_mapi_ctx_free(f->c);
	f->c = NULL;
	assert_int_equal(f->t->ops->pending(f->t->self), 0);
	/* bad options */
	mh_mapi_ctx *c = NULL;
	const char *bad[] = {"ftp://h/mapi/emsmdb/?MailboxId=x", "https://h/mapi/emsmdb/",
	                     "https://h/ews/exchange.asmx", "https:///mapi/nspi/?MailboxId=x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.url = bad[i];
		assert_int_equal(mh_mapi_ctx_new(&c, f->l, &o), MAPI_E_INVALID_PARAMETER);
		assert_null(c);
	}
	o.url = EMSMDB_URL;
	o.client_application = "";
	assert_int_equal(mh_mapi_ctx_new(&c, f->l, &o), MAPI_E_INVALID_PARAMETER);
	fx_free(f);
}

/* A request lost by the fault transport reaches the context as a network error. */
static void test_transport__ctx_over_faults(void **state)
{
	(void)state;
	script s;
	memset(&s, 0, sizeof(s));
	const mh_transport_header h[] = {{"X-ResponseCode", "0"}, {"Content-Length", "0"}};
	s.answers[0].http_status = 200;
	s.answers[0].headers = h;
	s.answers[0].n_headers = 1;
	s.answers[0].body = ok_stream;
	s.answers[0].body_len = sizeof(ok_stream) - 1;
	s.n_answers = 1;
	mh_transport *inner, *t;
	assert_int_equal(mh_transport_memory_new(&inner, script_fn, &s), S_OK);
	mh_transport_fault_rule rules[] = {{MH_TRANSPORT_FAULT_TRUNCATE, 2, 0},
	                                   {MH_TRANSPORT_FAULT_LOSE, 3, 0}};
	mh_transport_fault_options fo = {1, 7, rules, 2};
	assert_int_equal(mh_transport_fault_new(&t, inner, &fo), S_OK);
	vclock v = {0, 0};
	mh_loop_clock clock = {v_now, v_advance, &v};
	mh_loop *l;
	assert_int_equal(mh_loop_new(&l, t, &clock), S_OK);
	mh_mapi_ctx_options o = MH_MAPI_CTX_OPTIONS_INIT;
	o.url = EMSMDB_URL;
	mh_mapi_ctx *c;
	assert_int_equal(mh_mapi_ctx_new(&c, l, &o), S_OK);
	outcome out;
	memset(&out, 0, sizeof(out));
	const mh_status want[] = {S_OK, MAPI_E_NETWORK_ERROR, MAPI_E_NETWORK_ERROR,
	                          MAPI_E_NETWORK_ERROR, S_OK};
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(mh_mapi_ctx_send(c, MH_RT_PING, NULL, 0, ctx_done, &out), S_OK);
		bool never = false;
		assert_int_equal(mh_loop_run_until(l, &never, 0), MAPI_E_CALL_FAILED);
		assert_int_equal(out.calls, i + 1);
		assert_int_equal(out.status, want[i]);
		if (i == 1)
			assert_non_null(strstr(out.message, "injected fault: body truncated"));
	}
	free(out.body);
	mh_mapi_ctx_free(c);
	mh_loop_free(l);
	mh_transport_free(t);
}

/* ==== replay of gromox captures ========================================================== */

typedef struct capture {
	long http_status;
	mh_transport_header h[32];
	char store[32][2][256];
	size_t n;
	char elapsed[32];
	bool have_elapsed;
} capture;

static bool is_token(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* The status line and headers from a capture's comment lines. */
static void capture_headers(const char *path, capture *cap)
{
	static const char mark[] = "of: HTTP/1.1 ";
	char line[1024];
	bool in = false;
	memset(cap, 0, sizeof(*cap));
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL && line[0] == '#') {
		line[strcspn(line, "\r\n")] = '\0';
		const char *p = strstr(line, mark);
		const char *el = strstr(line, "X-ElapsedTime: ");
		if (strncmp(line, "# inner stream:", 15) == 0 && el != NULL) {
			snprintf(cap->elapsed, sizeof(cap->elapsed), "%.*s",
			         (int)strcspn(el + 15, " |"), el + 15);
			cap->have_elapsed = true;
		}
		if (p != NULL) {
			cap->http_status = strtol(p + sizeof(mark) - 1, NULL, 10);
			in = true;
			continue;
		}
		if (!in)
			continue;
		const char *colon = strstr(line + 2, ": ");
		if (colon == NULL || !is_token(line + 2, (size_t)(colon - line - 2)) ||
		    strncmp(line + 2, "length", 6) == 0) {
			in = false;
			continue;
		}
		assert_true(cap->n < 32);
		snprintf(cap->store[cap->n][0], 256, "%.*s", (int)(colon - line - 2), line + 2);
		snprintf(cap->store[cap->n][1], 256, "%s", colon + 2);
		cap->h[cap->n].name = cap->store[cap->n][0];
		cap->h[cap->n].value = cap->store[cap->n][1];
		cap->n++;
	}
	fclose(fp);
}

static const char *capture_get(const capture *cap, const char *name)
{
	for (size_t i = 0; i < cap->n; i++)
		if (strcasecmp(cap->h[i].name, name) == 0)
			return cap->h[i].value;
	return NULL;
}

typedef struct replay_count {
	unsigned replayed, ok, failed;
} replay_count;

/* Replays every *.resp.hex of dir (bodies from GROMOX_DIR) whole and byte by byte. */
static void replay_dir(const char *dir, replay_count *rc_count)
{
	char **names;
	long count = mh_vector_list(dir, &names);
	assert_true(count > 0);
	unsigned replayed = 0, ok = 0, failed = 0;
	for (long i = 0; i < count; i++) {
		if (!mh_vector_has_suffix(names[i], ".resp") ||
		    strncmp(names[i], "autodiscover", 12) == 0)
			continue;
		size_t stem = strlen(names[i]) - 5;
		char path[512], bpath[512], qpath[512], type[64] = "";
		snprintf(path, sizeof(path), "%s/%s.hex", dir, names[i]);
		snprintf(bpath, sizeof(bpath), "%s/%.*s.resp-body.hex", GROMOX_DIR, (int)stem,
		         names[i]);
		snprintf(qpath, sizeof(qpath), "%s/%.*s.req.hex", GROMOX_DIR, (int)stem, names[i]);
		capture cap;
		capture_headers(path, &cap);
		size_t len;
		uint8_t *bytes = mh_vector_read_hex(path, &len);
		assert_non_null(bytes);
		bool nspi = strstr(names[i], "nspi") != NULL;
		mh_vector_request_type(qpath, type, sizeof(type));
		mh_mapihttp_request_type rt = mh_mapihttp_request_type_parse(type, strlen(type));
		if (rt == MH_RT_UNKNOWN || !(mh_mapihttp_request_type_endpoints(rt) &
		                             (nspi ? MH_ENDPOINT_NSPI : MH_ENDPOINT_EMSMDB)))
			rt = nspi ? MH_RT_BIND : MH_RT_EXECUTE;

		for (size_t chunk = 0; chunk <= 1; chunk++) {
			fixture *f = fx_new(nspi ? NSPI_URL : EMSMDB_URL, NULL);
			set_answer(f, 0, cap.http_status, cap.h, cap.n, bytes, len, chunk);
			mh_status st = fx_send(f, rt, "q", 1);
			const char *rc = capture_get(&cap, "X-ResponseCode");
			if (cap.http_status != 200) {
				assert_int_equal(st, cap.http_status == 401 ? MAPI_E_LOGON_FAILED
				                                            : MAPI_E_NOT_FOUND);
			} else if (strcmp(rc, "0") != 0) {
				uint32_t code = (uint32_t)strtoul(rc, NULL, 10);
				assert_int_equal(st, mh_mapihttp_response_code_status(code));
				assert_true(f->o.have_rc);
				assert_int_equal(f->o.rc, code);
				assert_true(f->o.have_diag);
				assert_int_equal(f->o.len, 0);
			} else {
				if (st != S_OK)
					fail_msg("%s: %s", names[i], f->o.message);
				size_t blen = 0;
				uint8_t *body = NULL;
				FILE *probe = fopen(bpath, "r");
				if (probe != NULL) {
					fclose(probe);
					body = mh_vector_read_hex(bpath, &blen);
					assert_non_null(body);
				}
				assert_int_equal(f->o.len, blen);
				if (blen > 0)
					assert_memory_equal(f->o.body, body, blen);
				free(body);
				assert_true(f->o.have_rc);
				assert_int_equal(f->o.rc, 0);
				assert_true(cap.have_elapsed);
				assert_true(f->o.have_elapsed);
				assert_int_equal(f->o.elapsed, strtoul(cap.elapsed, NULL, 10));
				assert_int_equal(f->o.processing, 1);
				assert_int_equal(
				    f->o.expiration,
				    strtoul(capture_get(&cap, "X-ExpirationInfo"), NULL, 10));
				assert_int_equal(
				    f->o.pending_period,
				    strtoul(capture_get(&cap, "X-PendingPeriod"), NULL, 10));
				assert_true(strlen(f->o.start_time) > 0);
				assert_string_equal(f->o.server_app,
				                    capture_get(&cap, "X-ServerApplication"));
				/* the jar holds the capture's cookies */
				const char *sc = capture_get(&cap, "Set-Cookie");
				if (sc != NULL) {
					size_t eq = strcspn(sc, "=");
					char cname[64];
					snprintf(cname, sizeof(cname), "%.*s", (int)eq, sc);
					assert_non_null(mh_mapi_ctx_cookie(f->c, cname));
				}
				ok += chunk == 0;
			}
			failed += chunk == 0 && st != S_OK;
			fx_free(f);
		}
		replayed++;
		free(bytes);
	}
	mh_vector_list_free(names, count);
	rc_count->replayed += replayed;
	rc_count->ok += ok;
	rc_count->failed += failed;
}

static void test_transport__ctx_gromox_replay(void **state)
{
	(void)state;
	replay_count all = {0, 0, 0};
	replay_dir(GROMOX_DIR, &all);
	/* every capture with a MAPI/HTTP answer: 56 (43 succeed, among them the 14 NSPI
	 * streams; 13 fail: HTTP 401 and 404, X-ResponseCode) */
	assert_int_equal(all.replayed, 56);
	assert_int_equal(all.ok, 43);
	assert_int_equal(all.failed, 13);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_transport__memory_order),
	    cmocka_unit_test(test_transport__memory_chunks),
	    cmocka_unit_test(test_transport__memory_reentrant),
	    cmocka_unit_test(test_transport__memory_cancel_and_failures),
	    cmocka_unit_test(test_transport__memory_copies_request),
	    cmocka_unit_test(test_transport__callbacks_run_destroy),
	    cmocka_unit_test(test_transport__fault_refuse_every),
	    cmocka_unit_test(test_transport__fault_lose),
	    cmocka_unit_test(test_transport__fault_truncate),
	    cmocka_unit_test(test_transport__fault_probability_repeats),
	    cmocka_unit_test(test_transport__fault_options),
	    cmocka_unit_test(test_transport__loop_timers),
	    cmocka_unit_test(test_transport__loop_requests),
	    cmocka_unit_test(test_transport__ctx_headers_and_cookies),
	    cmocka_unit_test(test_transport__ctx_reconnect),
	    cmocka_unit_test(test_transport__ctx_response_codes),
	    cmocka_unit_test(test_transport__ctx_http_status),
	    cmocka_unit_test(test_transport__curl_headers_feed),
	    cmocka_unit_test(test_transport__curl_headers_caps),
	    cmocka_unit_test(test_transport__bearer_refusal),
	    cmocka_unit_test(test_transport__ctx_401_bearer),
	    cmocka_unit_test(test_transport__ctx_chunked_pending),
	    cmocka_unit_test(test_transport__ctx_limits),
	    cmocka_unit_test(test_transport__ctx_busy_and_lifetime),
	    cmocka_unit_test(test_transport__ctx_over_faults),
	    cmocka_unit_test(test_transport__ctx_gromox_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
