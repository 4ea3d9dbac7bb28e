/*
 * The in-memory transport: requests are answered by a function, from run(), in the order they
 * were started. Tests and replays of captured sessions use it; no socket is involved.
 */
#include <stdlib.h>
#include <string.h>

#include "mapihttp/sys/transport.h"
#include "util/diag.h"

typedef struct mem_req {
	uint64_t id;
	bool busy;      /* its callbacks are running */
	bool cancelled; /* cancelled while busy: the delivering frame frees it */
	char *method, *url;
	mh_transport_header *headers;
	size_t n_headers;
	uint8_t *body;
	size_t body_len;
	mh_transport_auth auth;
	uint32_t timeouts[3];
	mh_transport_callbacks cb;
} mem_req;

typedef struct mem_transport {
	mh_transport t; /* first: destroy() frees the whole struct */
	mh_transport_memory_fn fn;
	void *ud;
	mem_req **q; /* in start order */
	size_t n, cap;
	uint64_t next_id;
	bool in_run;
	bool destroyed; /* destroy() from a callback: run() frees it on its way out */
} mem_transport;

static void wipe_free(char *s)
{
	if (s == NULL)
		return;
	/* volatile: the store must not be optimised away before free() */
	for (volatile char *p = s; *p != '\0'; p++)
		*p = 0;
	free(s);
}

static void req_free(mem_req *r)
{
	if (r == NULL)
		return;
	free(r->method);
	free(r->url);
	for (size_t i = 0; i < r->n_headers; i++) {
		free((void *)(uintptr_t)r->headers[i].name);
		free((void *)(uintptr_t)r->headers[i].value);
	}
	free(r->headers);
	free(r->body);
	free((void *)(uintptr_t)r->auth.user);
	wipe_free((char *)(uintptr_t)r->auth.secret);
	free(r);
}

static char *dup_or_null(const char *s, bool *ok)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*ok = false;
	return d;
}

/* A deep copy of rq: everything rq points to is only valid during start(). */
static mh_status req_copy(mem_req **out, const mh_transport_request *rq)
{
	bool ok = true;
	mem_req *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return mh_error_oom();
	r->method = dup_or_null(rq->method, &ok);
	r->url = dup_or_null(rq->url, &ok);
	if (rq->n_headers > 0) {
		r->headers = calloc(rq->n_headers, sizeof(*r->headers));
		if (r->headers == NULL)
			ok = false;
		else
			r->n_headers = rq->n_headers;
		for (size_t i = 0; ok && i < rq->n_headers; i++) {
			r->headers[i].name = dup_or_null(rq->headers[i].name, &ok);
			r->headers[i].value = dup_or_null(rq->headers[i].value, &ok);
		}
	}
	if (ok && rq->body_len > 0) {
		r->body = malloc(rq->body_len);
		if (r->body == NULL)
			ok = false;
		else
			memcpy(r->body, rq->body, rq->body_len);
		r->body_len = rq->body_len;
	}
	r->auth.scheme = rq->auth.scheme;
	r->auth.user = dup_or_null(rq->auth.user, &ok);
	r->auth.secret = dup_or_null(rq->auth.secret, &ok);
	r->timeouts[0] = rq->connect_timeout_ms;
	r->timeouts[1] = rq->idle_timeout_ms;
	r->timeouts[2] = rq->total_timeout_ms;
	if (!ok) {
		req_free(r);
		return mh_error_oom();
	}
	*out = r;
	return S_OK;
}

static mh_status check_request(const mh_transport_request *rq, const mh_transport_callbacks *cb)
{
	if (rq == NULL || cb == NULL || cb->on_done == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "in-memory transport: request or on_done missing");
	if (rq->version != 1)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "in-memory transport: request version %u, expected 1",
		                    rq->version);
	if (rq->url == NULL || rq->url[0] == '\0')
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "in-memory transport: no URL");
	if (rq->method == NULL ||
	    (strcmp(rq->method, "POST") != 0 && strcmp(rq->method, "GET") != 0))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "in-memory transport: method must be POST or GET");
	if (rq->body == NULL && rq->body_len > 0)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "in-memory transport: body_len %zu without a body",
		                    rq->body_len);
	if (rq->headers == NULL && rq->n_headers > 0)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "in-memory transport: n_headers %zu without headers",
		                    rq->n_headers);
	for (size_t i = 0; i < rq->n_headers; i++)
		if (rq->headers[i].name == NULL || rq->headers[i].value == NULL ||
		    strpbrk(rq->headers[i].name, "\r\n") != NULL ||
		    strpbrk(rq->headers[i].value, "\r\n") != NULL)
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "in-memory transport: header %zu has no name or value, "
			                    "or a CR or LF in them",
			                    i);
	return S_OK;
}

static mh_status mem_start(void *self, const mh_transport_request *rq,
                           const mh_transport_callbacks *cb, uint64_t *id)
{
	mem_transport *m = self;
	mh_status st = check_request(rq, cb);
	if (st != S_OK)
		return st;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		mem_req **q = realloc(m->q, cap * sizeof(*q));
		if (q == NULL)
			return mh_error_oom();
		m->q = q;
		m->cap = cap;
	}
	mem_req *r = NULL;
	st = req_copy(&r, rq);
	if (st != S_OK)
		return st;
	r->id = ++m->next_id;
	r->cb = *cb;
	m->q[m->n++] = r;
	if (id != NULL)
		*id = r->id;
	return S_OK;
}

static size_t find(const mem_transport *m, uint64_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->q[i]->id == id)
			return i;
	return SIZE_MAX;
}

static void unlink_at(mem_transport *m, size_t i)
{
	memmove(&m->q[i], &m->q[i + 1], (m->n - i - 1) * sizeof(*m->q));
	m->n--;
}

static void mem_cancel(void *self, uint64_t id)
{
	mem_transport *m = self;
	size_t i = find(m, id);
	if (i == SIZE_MAX)
		return;
	mem_req *r = m->q[i];
	unlink_at(m, i);
	if (r->busy)
		r->cancelled = true; /* the frame delivering it frees it */
	else
		req_free(r);
}

/* The answer, owned: the handler's memory may change when it is called again. */
typedef struct answer_copy {
	mh_status fail;
	long http_status;
	mh_transport_header *headers;
	size_t n_headers;
	uint8_t *body;
	size_t body_len;
	size_t chunk;
} answer_copy;

static void answer_free(answer_copy *a)
{
	for (size_t i = 0; i < a->n_headers; i++) {
		free((void *)(uintptr_t)a->headers[i].name);
		free((void *)(uintptr_t)a->headers[i].value);
	}
	free(a->headers);
	free(a->body);
}

static mh_status answer_copy_make(answer_copy *a, const mh_transport_memory_answer *src)
{
	bool ok = true;
	memset(a, 0, sizeof(*a));
	a->fail = src->fail;
	a->http_status = src->http_status;
	a->chunk = src->chunk;
	if (src->fail != S_OK)
		return S_OK;
	if ((src->headers == NULL && src->n_headers > 0) ||
	    (src->body == NULL && src->body_len > 0))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "in-memory transport: the handler's answer has a count "
		                    "without its array");
	if (src->n_headers > 0) {
		a->headers = calloc(src->n_headers, sizeof(*a->headers));
		if (a->headers == NULL)
			return mh_error_oom();
		a->n_headers = src->n_headers;
		for (size_t i = 0; ok && i < src->n_headers; i++) {
			a->headers[i].name = dup_or_null(src->headers[i].name, &ok);
			a->headers[i].value = dup_or_null(src->headers[i].value, &ok);
			if (src->headers[i].name == NULL || src->headers[i].value == NULL) {
				answer_free(a);
				return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
				                    "in-memory transport: answer header %zu has no "
				                    "name or value",
				                    i);
			}
		}
	}
	if (ok && src->body_len > 0) {
		a->body = malloc(src->body_len);
		if (a->body == NULL)
			ok = false;
		else
			memcpy(a->body, src->body, src->body_len);
		a->body_len = src->body_len;
	}
	if (!ok) {
		answer_free(a);
		return mh_error_oom();
	}
	return S_OK;
}

/* Runs one request to its end; r is busy meanwhile, so a callback may cancel it. */
static void deliver(mem_transport *m, mem_req *r)
{
	const mh_transport_request rq = {
	    1,           r->method, r->url,         r->headers,     r->n_headers,   r->body,
	    r->body_len, r->auth,   r->timeouts[0], r->timeouts[1], r->timeouts[2],
	};
	mh_transport_memory_answer ans;
	memset(&ans, 0, sizeof(ans));
	answer_copy a;
	memset(&a, 0, sizeof(a));
	r->busy = true;
	mh_status st = m->fn(m->ud, &rq, &ans);
	if (st == S_OK)
		st = answer_copy_make(&a, &ans);
	else
		mh_error_set_default(st, "in-memory transport: the handler failed the request");
	if (r->cancelled)
		goto out;
	if (st == S_OK && a.fail != S_OK) {
		st = a.fail;
		mh_error_set_default(st, "in-memory transport: the handler failed the request");
	}
	if (st == S_OK && r->cb.on_headers != NULL) {
		st = r->cb.on_headers(r->cb.ud, a.http_status, a.headers, a.n_headers);
		if (r->cancelled)
			goto out;
	}
	for (size_t off = 0; st == S_OK && off < a.body_len;) {
		size_t n = a.body_len - off;
		if (a.chunk > 0 && n > a.chunk)
			n = a.chunk;
		if (r->cb.on_data != NULL) {
			st = r->cb.on_data(r->cb.ud, a.body + off, n);
			if (r->cancelled)
				goto out;
		}
		off += n;
	}
	/* Leave the queue before on_done: on_done may start or cancel anything. */
	size_t i = find(m, r->id);
	if (i != SIZE_MAX)
		unlink_at(m, i);
	r->cb.on_done(r->cb.ud, st);
out:
	answer_free(&a);
	req_free(r);
}

/*
 * The first request queued with an id up to last that nobody is delivering. Requests a
 * callback starts wait for the next run(), so that a handler that always starts another
 * request cannot keep one run() going forever.
 */
static mem_req *next_ready(const mem_transport *m, uint64_t last)
{
	for (size_t i = 0; i < m->n; i++)
		if (!m->q[i]->busy && m->q[i]->id <= last)
			return m->q[i];
	return NULL;
}

static size_t mem_pending(void *self)
{
	const mem_transport *m = self;
	return m->n;
}

static void mem_release(mem_transport *m)
{
	for (size_t i = 0; i < m->n; i++)
		req_free(m->q[i]);
	free(m->q);
	free(m);
}

static mh_status mem_run(void *self, int timeout_ms)
{
	mem_transport *m = self;
	if (m->in_run)
		return mh_error_set(MAPI_E_CALL_FAILED, -1,
		                    "in-memory transport: run() called from one of its callbacks");
	m->in_run = true;
	for (;;) {
		uint64_t last = m->next_id;
		size_t done = 0;
		mem_req *r;
		while ((r = next_ready(m, last)) != NULL) {
			deliver(m, r);
			done++;
			if (m->destroyed) {
				mem_release(m);
				return S_OK;
			}
		}
		/* Nothing here ever waits: a positive timeout is one round like 0. */
		if (timeout_ms >= 0 || done > 0 || next_ready(m, m->next_id) == NULL)
			break;
	}
	m->in_run = false;
	return S_OK;
}

static void mem_destroy(void *self)
{
	mem_transport *m = self;
	if (m == NULL)
		return;
	if (!m->in_run) {
		mem_release(m);
		return;
	}
	/* called from a callback: the frames above still hold m and the busy request */
	for (size_t i = 0; i < m->n; i++) {
		if (m->q[i]->busy)
			m->q[i]->cancelled = true;
		else
			req_free(m->q[i]);
	}
	m->n = 0;
	m->destroyed = true;
}

static const mh_transport_ops mem_ops = {
    1, mem_start, mem_cancel, mem_run, mem_pending, mem_destroy,
};

mh_status mh_transport_memory_new(mh_transport **out, mh_transport_memory_fn fn, void *ud)
{
	if (out == NULL || fn == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_transport_memory_new: out and fn must not be NULL");
	*out = NULL;
	mem_transport *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return mh_error_oom();
	m->t.ops = &mem_ops;
	m->t.self = m;
	m->fn = fn;
	m->ud = ud;
	*out = &m->t;
	return S_OK;
}
