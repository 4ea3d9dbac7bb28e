/*
 * The libcurl transport: one multi handle drives every request on one thread, HTTP/1.1
 * keep-alive connections stay in the multi's cache between requests, and the headers of the
 * final answer only (no 1xx, no authentication legs) reach the caller.
 */
#define _DEFAULT_SOURCE /* explicit_bzero, strdup, strncasecmp */

#include "mapihttp/sys/transport.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "transport/curl_headers.h"
#include "util/cursor.h"
#include "util/diag.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 15000u
#define DEFAULT_HOST_CONNECTIONS   8u
/* Idle easy handles kept for reuse; more are cleaned up. */
#define POOL_MAX 16u
/* Room for the detail of a callback's failure, kept until on_done. */
#define SAVED_MESSAGE_MAX 512u

typedef struct creq creq;

typedef struct ctransport {
	mh_transport pub; /* pub.self points back here; destroy() frees both */
	CURLM *multi;
	CURLSH *share;
	char *cacert;
	char *user_agent;
	bool insecure;
	uint64_t next_id;
	creq *head; /* every request not yet finished, cancelled ones included until swept */
	size_t live;
	CURL *pool[POOL_MAX];
	size_t n_pool;
	unsigned in_libcurl; /* inside curl_multi_perform: libcurl refuses re-entry */
	bool in_run;
	bool doomed; /* destroy() was called from a callback inside run() */
} ctransport;

struct creq {
	ctransport *t;
	creq *prev, *next;
	uint64_t id;
	CURL *easy;
	struct curl_slist *headers;
	mh_transport_callbacks cb;
	bool added;     /* in the multi */
	bool finishing; /* reap() is delivering its end: cancel() only marks it */
	bool dead;      /* cancelled: no callback runs, swept after perform */
	bool delivered;
	/* A callback or our own header check failed: the status on_done gets, and its detail. */
	mh_status fail;
	char fail_msg[SAVED_MESSAGE_MAX];
	uint32_t idle_ms;
	uint64_t last_activity_ms; /* 0: not started yet (waiting for a connection) */
	curl_off_t last_dl, last_ul;
	mh_curl_headers hdr; /* the current response's status and headers */
	/* "https://host:port" for messages: no user information, path or query. */
	char origin[300];
	char errbuf[CURL_ERROR_SIZE];
};

static const mh_transport_ops curl_ops;

/* libcurl >= 7.84 makes curl_global_init thread-safe; pthread_once keeps it to one call. */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- requests ----------------------------------------------------------------------------- */

static creq *find(ctransport *t, uint64_t id)
{
	for (creq *r = t->head; r != NULL; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static void unlink_req(ctransport *t, creq *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		t->head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

/*
 * Takes r out of the multi and frees it. The easy handle goes back to the pool after a reset,
 * which also frees libcurl's copies of the credentials and the body.
 */
static void release(ctransport *t, creq *r)
{
	if (r->easy != NULL) {
		if (r->added)
			curl_multi_remove_handle(t->multi, r->easy);
		curl_easy_reset(r->easy);
		if (t->n_pool < POOL_MAX)
			t->pool[t->n_pool++] = r->easy;
		else
			curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers);
	mh_curl_headers_free(&r->hdr);
	free(r);
}

/* Records the first failure of r; the transfer is aborted by the caller returning an error. */
static void set_fail(creq *r, mh_status st)
{
	if (r->fail != S_OK)
		return;
	r->fail = st;
	const mh_error *e = mh_error_last();
	if (e != NULL && e->status == st)
		snprintf(r->fail_msg, sizeof(r->fail_msg), "%s", e->message);
	else
		snprintf(r->fail_msg, sizeof(r->fail_msg),
		         "%s: the request was stopped by its caller", r->origin);
}

/* ---- header lines ------------------------------------------------------------------------ */

void mh_curl_headers_init(mh_curl_headers *h, const char *origin)
{
	memset(h, 0, sizeof(*h));
	h->status = -1;
	h->origin = origin != NULL ? origin : "";
}

void mh_curl_headers_free(mh_curl_headers *h)
{
	if (h->buf != NULL)
		explicit_bzero(h->buf, h->cap); /* may hold cookies */
	free(h->buf);
	h->buf = NULL;
	h->len = h->cap = h->n = 0;
}

/* Appends n raw bytes to the header buffer, within MH_CURL_HEADER_BYTES_MAX. */
static bool happend(mh_curl_headers *h, const char *p, size_t n)
{
	if (h->len + n > MH_CURL_HEADER_BYTES_MAX)
		return false;
	if (h->len + n > h->cap) {
		size_t cap = h->cap != 0 ? h->cap : 1024;
		while (cap < h->len + n)
			cap *= 2;
		char *nb = malloc(cap);
		if (nb == NULL)
			return false;
		if (h->buf != NULL) {
			memcpy(nb, h->buf, h->len);
			explicit_bzero(h->buf, h->cap);
			free(h->buf);
		}
		h->buf = nb;
		h->cap = cap;
	}
	if (n != 0)
		memcpy(h->buf + h->len, p, n);
	h->len += n;
	return true;
}

/* Appends n bytes and a NUL. */
static bool hput(mh_curl_headers *h, const char *p, size_t n)
{
	return happend(h, p, n) && happend(h, "", 1);
}

/* "HTTP/1.1 200 OK" (c at its start): the status, or -1. */
static long parse_status_line(mh_cursor *c)
{
	uint8_t ch = 0;
	while (mh_cursor_remaining(c) > 0 && ch != ' ')
		mh_cursor_u8(c, &ch, "status line");
	while (mh_cursor_remaining(c) > 0 && ch == ' ')
		mh_cursor_u8(c, &ch, "status line");
	long st = 0;
	for (int digits = 0; digits < 3; digits++) {
		if (ch < '0' || ch > '9')
			return -1;
		st = st * 10 + (ch - '0');
		if (digits < 2 && mh_cursor_u8(c, &ch, "status code") != S_OK)
			return -1;
	}
	return st;
}

/* Appends bytes [from, to) of the line in c, then a NUL. */
static bool hput_range(mh_curl_headers *h, mh_cursor *c, size_t from, size_t to)
{
	const uint8_t *b = NULL;
	if (mh_cursor_seek(c, from, "header") != S_OK ||
	    mh_cursor_bytes(c, to - from, &b, "header") != S_OK)
		return false;
	return hput(h, (const char *)b, to - from);
}

mh_status mh_curl_headers_feed(mh_curl_headers *h, const char *p, size_t len)
{
	if (h->fail != S_OK)
		return mh_error_set(h->fail, -1, "%s: the answer's headers were refused",
		                    h->origin);
	/* One pass notes where the parts of "Name: value" (or of a folded line) end. */
	mh_cursor c;
	mh_cursor_init(&c, p, len, MAPI_E_NETWORK_ERROR);
	size_t colon = SIZE_MAX, name_end = 0, text_end = 0, content_end = 0;
	bool nul = false;
	for (size_t i = 0; i < len; i++) {
		uint8_t ch;
		mh_cursor_u8(&c, &ch, "header line");
		if (ch == 0)
			nul = true;
		if (ch == ':' && colon == SIZE_MAX)
			colon = i;
		if (ch == '\r' || ch == '\n')
			continue;
		content_end = i + 1;
		if (ch != ' ' && ch != '\t') {
			text_end = i + 1;
			if (colon == SIZE_MAX)
				name_end = i + 1;
		}
	}
	if (nul) {
		h->fail = MAPI_E_NETWORK_ERROR;
		return mh_error_set(MAPI_E_NETWORK_ERROR, -1,
		                    "%s: a header line of the answer has a NUL byte", h->origin);
	}
	mh_cursor_seek(&c, 0, "header line");
	const uint8_t *first = NULL;
	if (len >= 5 && mh_cursor_bytes(&c, 5, &first, "header line") == S_OK &&
	    memcmp(first, "HTTP/", 5) == 0) {
		mh_cursor_seek(&c, 0, "status line");
		h->status = parse_status_line(&c);
		h->len = 0;
		h->n = 0;
		return S_OK;
	}
	if (content_end == 0)
		return S_OK; /* the blank line after a header block */
	/* The first non-blank byte at or after start. */
	size_t start = 0;
	mh_cursor_seek(&c, 0, "header line");
	for (uint8_t ch = 0; start < text_end; start++) {
		mh_cursor_u8(&c, &ch, "header line");
		if (ch != ' ' && ch != '\t')
			break;
	}
	if (start > 0) {
		/* An obsolete folded line continues the previous value. */
		if (h->n != 0 && start < text_end) {
			h->len--; /* over the value's NUL */
			if (!happend(h, " ", 1) || !hput_range(h, &c, start, text_end))
				goto too_big;
		}
		return S_OK;
	}
	if (colon == SIZE_MAX || name_end == 0)
		return S_OK; /* not a header: libcurl has already judged the framing */
	size_t vs = colon + 1;
	mh_cursor_seek(&c, vs, "header value");
	for (uint8_t ch = 0; vs < text_end; vs++) {
		mh_cursor_u8(&c, &ch, "header value");
		if (ch != ' ' && ch != '\t')
			break;
	}
	size_t ve = text_end > vs ? text_end : vs;
	if (h->n >= MH_CURL_HEADERS_MAX || !hput_range(h, &c, 0, name_end) ||
	    !hput_range(h, &c, vs, ve))
		goto too_big;
	h->n++;
	return S_OK;
too_big:
	h->fail = MAPI_E_NETWORK_ERROR;
	return mh_error_set(MAPI_E_NETWORK_ERROR, -1,
	                    "%s: the answer's headers exceed %u headers or %u bytes, or memory "
	                    "ran out",
	                    h->origin, MH_CURL_HEADERS_MAX, MH_CURL_HEADER_BYTES_MAX);
}

mh_status mh_curl_headers_list(const mh_curl_headers *h, mh_transport_header **out)
{
	*out = NULL;
	if (h->fail != S_OK)
		return mh_error_set(h->fail, -1, "%s: the answer's headers were refused",
		                    h->origin);
	if (h->n == 0)
		return S_OK;
	mh_transport_header *list = calloc(h->n, sizeof(*list));
	if (list == NULL)
		return mh_error_oom();
	/* buf is ours: n pairs of NUL-terminated strings within len. */
	const char *p = h->buf;
	for (size_t i = 0; i < h->n; i++) {
		list[i].name = p;
		p += strlen(p) + 1;
		list[i].value = p;
		p += strlen(p) + 1;
	}
	*out = list;
	return S_OK;
}

/* Hands the collected headers to on_headers once. */
static mh_status deliver_headers(creq *r)
{
	r->delivered = true;
	if (r->cb.on_headers == NULL)
		return S_OK;
	mh_transport_header *h = NULL;
	mh_status st = mh_curl_headers_list(&r->hdr, &h);
	if (st != S_OK)
		return st;
	st = r->cb.on_headers(r->cb.ud, r->hdr.status, h, r->hdr.n);
	free(h);
	return st;
}

/*
 * Every header line of every response of the transfer: 1xx, the 401 legs of NTLM and
 * Negotiate, the final answer, trailers. A status line starts a new response; only the last
 * one before the body (or the end) is delivered.
 */
static size_t on_header_line(char *p, size_t size, size_t n, void *ud)
{
	creq *r = ud;
	size_t len = size * n;
	if (r->dead || r->fail != S_OK)
		return 0;
	r->last_activity_ms = now_ms();
	if (r->delivered)
		return len; /* trailers */
	mh_status st = mh_curl_headers_feed(&r->hdr, p, len);
	if (st != S_OK) {
		set_fail(r, st);
		return 0;
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	creq *r = ud;
	size_t len = size * n;
	if (r->dead || r->fail != S_OK)
		return 0;
	r->last_activity_ms = now_ms();
	if (!r->delivered) {
		mh_status st = deliver_headers(r);
		if (r->dead)
			return 0;
		if (st != S_OK) {
			set_fail(r, st);
			return 0;
		}
	}
	if (len == 0 || r->cb.on_data == NULL)
		return len;
	mh_status st = r->cb.on_data(r->cb.ud, p, len);
	if (r->dead)
		return 0;
	if (st != S_OK) {
		set_fail(r, st);
		return 0;
	}
	return len;
}

/*
 * The idle clock starts at the first call, when the transfer leaves libcurl's queue of requests
 * waiting for a connection; upload progress counts as activity, as do received bytes.
 */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	(void)dltotal;
	(void)ultotal;
	creq *r = ud;
	if (r->dead || r->fail != S_OK)
		return 1;
	if (r->last_activity_ms == 0 || dlnow != r->last_dl || ulnow != r->last_ul) {
		r->last_dl = dlnow;
		r->last_ul = ulnow;
		r->last_activity_ms = now_ms();
	}
	return 0;
}

/* ---- start -------------------------------------------------------------------------------- */

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static bool header_name_ok(const char *s)
{
	if (s == NULL || *s == 0)
		return false;
	for (; *s != 0; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || c == ':' || c == ';')
			return false;
	}
	return true;
}

/* Adds "Name: value" to *list ("Name;" sends an empty value; "Name:" would remove it). */
static mh_status add_header(struct curl_slist **list, const char *name, const char *value)
{
	size_t nn = strlen(name), vn = value != NULL ? strlen(value) : 0;
	char *line = malloc(nn + vn + 3);
	if (line == NULL)
		return mh_error_oom();
	memcpy(line, name, nn);
	if (value == NULL) {
		line[nn] = ':';
		line[nn + 1] = 0;
	} else if (vn == 0) {
		line[nn] = ';';
		line[nn + 1] = 0;
	} else {
		line[nn] = ':';
		line[nn + 1] = ' ';
		memcpy(line + nn + 2, value, vn + 1);
	}
	struct curl_slist *nl = curl_slist_append(*list, line);
	free(line);
	if (nl == NULL)
		return mh_error_oom();
	*list = nl;
	return S_OK;
}

/* Checks rq->url and writes "scheme://host[:port]" into out. */
static mh_status url_origin(const char *url, char *out, size_t cap)
{
	CURLU *u = curl_url();
	if (u == NULL)
		return mh_error_oom();
	char *scheme = NULL, *host = NULL, *port = NULL;
	mh_status st = S_OK;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		st = mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                  "transport request: the URL does not parse as an absolute URL");
	} else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
		st = mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                  "transport request: the URL's scheme is not http or https");
	} else {
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		snprintf(out, cap, "%s://%s%s%s", scheme, host, port != NULL ? ":" : "",
		         port != NULL ? port : "");
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return st;
}

static mh_status check_request(const mh_transport_request *rq, const mh_transport_callbacks *cb)
{
	if (rq == NULL || cb == NULL || rq->version != 1)
		return mh_error_set(
		    MAPI_E_INVALID_PARAMETER, -1,
		    "transport request: NULL request or callbacks, or version not 1");
	if (rq->method == NULL ||
	    (strcmp(rq->method, "POST") != 0 && strcmp(rq->method, "GET") != 0))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "transport request: the method must be POST or GET");
	if (rq->url == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "transport request: no URL");
	if (rq->body == NULL && rq->body_len != 0)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "transport request: body NULL with a non-zero length");
	if (strcmp(rq->method, "GET") == 0 && rq->body_len != 0)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "transport request: GET with a body");
	if (rq->n_headers != 0 && rq->headers == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "transport request: headers NULL");
	for (size_t i = 0; i < rq->n_headers; i++) {
		const mh_transport_header *h = &rq->headers[i];
		if (!header_name_ok(h->name) || h->value == NULL || has_crlf(h->value))
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "transport request: header %zu has a bad name or value "
			                    "(a token name, a value without CR or LF)",
			                    i);
	}
	const mh_transport_auth *a = &rq->auth;
	switch (a->scheme) {
	case MH_AUTH_NONE:
	case MH_AUTH_NEGOTIATE:
		break;
	case MH_AUTH_BASIC:
	case MH_AUTH_NTLM:
		if (a->user == NULL || a->secret == NULL)
			return mh_error_set(
			    MAPI_E_INVALID_PARAMETER, -1,
			    "transport request: Basic and NTLM need a user and a password");
		break;
	case MH_AUTH_BEARER:
		if (a->secret == NULL || *a->secret == 0 || has_crlf(a->secret))
			return mh_error_set(
			    MAPI_E_INVALID_PARAMETER, -1,
			    "transport request: Bearer needs a token without CR or LF");
		break;
	default:
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "transport request: unknown authentication scheme %d",
		                    (int)a->scheme);
	}
	return S_OK;
}

/* Sets every option of one request; S_OK or the first failure. */
static mh_status configure(ctransport *t, creq *r, const mh_transport_request *rq)
{
	CURL *e = r->easy;
	CURLcode rc = CURLE_OK;
#define SET(opt, val)                                       \
	do {                                                \
		if (rc == CURLE_OK)                         \
			rc = curl_easy_setopt(e, opt, val); \
	} while (0)
	SET(CURLOPT_SHARE, t->share);
	SET(CURLOPT_PRIVATE, (void *)r);
	SET(CURLOPT_ERRORBUFFER, r->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_URL, rq->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SET(CURLOPT_SSL_VERIFYPEER, t->insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, t->insecure ? 0L : 2L);
	if (t->cacert != NULL) {
		/* The given file only: libcurl would also search its built-in CA directory. */
		SET(CURLOPT_CAINFO, t->cacert);
		SET(CURLOPT_CAPATH, (const char *)NULL);
	}
	SET(CURLOPT_USERAGENT, t->user_agent);
	SET(CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(rq->connect_timeout_ms != 0 ? rq->connect_timeout_ms
	                                       : DEFAULT_CONNECT_TIMEOUT_MS));
	SET(CURLOPT_TIMEOUT_MS, (long)rq->total_timeout_ms);
	SET(CURLOPT_HEADERFUNCTION, on_header_line);
	SET(CURLOPT_HEADERDATA, (void *)r);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, (void *)r);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, (void *)r);
	if (strcmp(rq->method, "POST") == 0) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		/* Copied by libcurl: the request's memory is the caller's again when start returns.
		 */
		SET(CURLOPT_COPYPOSTFIELDS, rq->body_len != 0 ? (const char *)rq->body : "");
	} else {
		SET(CURLOPT_HTTPGET, 1L);
	}
	/* Credentials are copied into libcurl only; the reset in release() frees them. */
	switch (rq->auth.scheme) {
	case MH_AUTH_BASIC:
		/* Basic alone goes out with the first request, without a 401 round trip. */
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, rq->auth.user);
		SET(CURLOPT_PASSWORD, rq->auth.secret);
		break;
	case MH_AUTH_BEARER:
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		SET(CURLOPT_XOAUTH2_BEARER, rq->auth.secret);
		break;
	case MH_AUTH_NTLM:
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_NTLM);
		SET(CURLOPT_USERNAME, rq->auth.user);
		SET(CURLOPT_PASSWORD, rq->auth.secret);
		break;
	case MH_AUTH_NEGOTIATE:
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_NEGOTIATE);
		SET(CURLOPT_USERPWD, ":");
		break;
	case MH_AUTH_NONE:
	default:
		break;
	}
#undef SET
	if (rc == CURLE_NOT_BUILT_IN || rc == CURLE_UNKNOWN_OPTION)
		return mh_error_set(MAPI_E_NO_SUPPORT, -1, "%s: this libcurl cannot do that: %s",
		                    r->origin, curl_easy_strerror(rc));
	if (rc == CURLE_OUT_OF_MEMORY)
		return mh_error_oom();
	if (rc != CURLE_OK)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "%s: libcurl refused the request: %s", r->origin,
		                    curl_easy_strerror(rc));

	mh_status st = S_OK;
	bool content_type = false, expect = false;
	for (size_t i = 0; i < rq->n_headers && st == S_OK; i++) {
		if (strcasecmp(rq->headers[i].name, "Content-Type") == 0)
			content_type = true;
		if (strcasecmp(rq->headers[i].name, "Expect") == 0)
			expect = true;
		st = add_header(&r->headers, rq->headers[i].name, rq->headers[i].value);
	}
	/* No 100-continue round trip unless asked for; no form Content-Type nobody asked for. */
	if (st == S_OK && !expect)
		st = add_header(&r->headers, "Expect", NULL);
	if (st == S_OK && !content_type)
		st = add_header(&r->headers, "Content-Type", NULL);
	if (st != S_OK)
		return st;
	if (curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) != CURLE_OK)
		return mh_error_oom();
	return S_OK;
}

static mh_status curl_start(void *self, const mh_transport_request *rq,
                            const mh_transport_callbacks *cb, uint64_t *id)
{
	ctransport *t = self;
	if (t == NULL || id == NULL || t->doomed)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "transport request: no transport or no id");
	mh_status st = check_request(rq, cb);
	if (st != S_OK)
		return st;
	creq *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return mh_error_oom();
	st = url_origin(rq->url, r->origin, sizeof(r->origin));
	if (st != S_OK) {
		free(r);
		return st;
	}
	r->t = t;
	r->cb = *cb;
	r->idle_ms = rq->idle_timeout_ms;
	mh_curl_headers_init(&r->hdr, r->origin);
	if (t->n_pool != 0) {
		r->easy = t->pool[--t->n_pool];
	} else {
		r->easy = curl_easy_init();
		if (r->easy == NULL) {
			free(r);
			return mh_error_oom();
		}
	}
	st = configure(t, r, rq);
	if (st != S_OK) {
		release(t, r);
		return st;
	}
	/* Added to the multi by run(): libcurl refuses it inside its callbacks, and no callback
	 * may run from start(). */
	r->id = ++t->next_id;
	r->next = t->head;
	if (t->head != NULL)
		t->head->prev = r;
	t->head = r;
	t->live++;
	*id = r->id;
	return S_OK;
}

/* ---- cancel, run, pending, destroy ---------------------------------------------------------- */

static void curl_cancel(void *self, uint64_t id)
{
	ctransport *t = self;
	if (t == NULL)
		return;
	creq *r = find(t, id);
	if (r == NULL || r->dead)
		return;
	r->dead = true;
	t->live--;
	if (t->in_libcurl == 0 && !r->finishing) {
		unlink_req(t, r);
		release(t, r);
	}
	/* Else libcurl is running one of our callbacks (sweep() frees r when perform returns), or
	 * reap() is delivering r's end and frees it. */
}

static void sweep(ctransport *t)
{
	for (creq *r = t->head, *next; r != NULL; r = next) {
		next = r->next;
		if (r->dead) {
			unlink_req(t, r);
			release(t, r);
		}
	}
}

static mh_status add_queued(ctransport *t)
{
	for (creq *r = t->head; r != NULL; r = r->next) {
		if (r->added || r->dead)
			continue;
		CURLMcode mc = curl_multi_add_handle(t->multi, r->easy);
		if (mc != CURLM_OK)
			return mh_error_set(mc == CURLM_OUT_OF_MEMORY ? MAPI_E_NOT_ENOUGH_MEMORY
			                                              : MAPI_E_CALL_FAILED,
			                    -1, "libcurl transport: adding a request failed: %s",
			                    curl_multi_strerror(mc));
		r->added = true;
	}
	return S_OK;
}

/* Takes r off the books and runs its on_done; r is gone afterwards. */
static void finish(ctransport *t, creq *r, mh_status st)
{
	unlink_req(t, r);
	mh_transport_callbacks cb = r->cb;
	bool cancelled = r->dead; /* by on_headers while finishing: live already counts it */
	if (!cancelled)
		t->live--;
	release(t, r);
	if (!cancelled && !t->doomed && cb.on_done != NULL)
		cb.on_done(cb.ud, st);
}

/* The status and message of a transfer libcurl has ended with rc. */
static mh_status transfer_status(creq *r, CURLcode rc)
{
	if (r->fail != S_OK)
		return mh_error_set(r->fail, -1, "%s", r->fail_msg);
	if (rc == CURLE_OK) {
		if (!r->delivered) {
			mh_status st = deliver_headers(r);
			if (st != S_OK)
				return st; /* the callback's own message stays */
		}
		return S_OK;
	}
	const char *detail = r->errbuf[0] != 0 ? r->errbuf : curl_easy_strerror(rc);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return mh_error_set(MAPI_E_TIMEOUT, -1, "%s: timed out: %s", r->origin, detail);
	if (rc == CURLE_OUT_OF_MEMORY)
		return mh_error_oom();
	return mh_error_set(MAPI_E_NETWORK_ERROR, -1, "%s: %s (%s)", r->origin, detail,
	                    curl_easy_strerror(rc));
}

/* Completes what libcurl reports finished; returns how many on_done calls ran. */
static size_t reap(ctransport *t)
{
	size_t done = 0;
	CURLMsg *m;
	int left;
	while (!t->doomed && (m = curl_multi_info_read(t->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		char *priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		creq *r = (creq *)(void *)priv;
		if (r == NULL || r->dead)
			continue;
		CURLcode rc = m->data.result;
		/* Out of the multi now, so its callbacks may start and cancel freely; a cancel of r
		 * itself from on_headers only marks it, and finish() frees it. */
		curl_multi_remove_handle(t->multi, r->easy);
		r->added = false;
		r->finishing = true;
		mh_status st = transfer_status(r, rc);
		finish(t, r, st);
		done++;
	}
	return done;
}

/* Ends requests that saw no byte for their idle time; returns how many. */
static size_t check_idle(ctransport *t, uint64_t now, uint64_t *next_deadline)
{
	size_t done = 0;
	for (creq *r = t->head, *next; r != NULL && !t->doomed; r = next) {
		next = r->next;
		if (r->dead || !r->added || r->idle_ms == 0 || r->last_activity_ms == 0)
			continue;
		uint64_t due = r->last_activity_ms + r->idle_ms;
		if (now >= due) {
			mh_error_set(MAPI_E_TIMEOUT, -1, "%s: no data for %u ms (idle timeout)",
			             r->origin, (unsigned)r->idle_ms);
			/* The callback may free or cancel anything: start over from the head. */
			finish(t, r, MAPI_E_TIMEOUT);
			done++;
			next = t->head;
		} else if (*next_deadline == 0 || due < *next_deadline) {
			*next_deadline = due;
		}
	}
	return done;
}

static void free_all(ctransport *t);

static mh_status run_loop(ctransport *t, int timeout_ms)
{
	uint64_t start = now_ms();
	for (;;) {
		mh_status st = add_queued(t);
		if (st != S_OK)
			return st;
		int running = 0;
		t->in_libcurl++;
		CURLMcode mc = curl_multi_perform(t->multi, &running);
		t->in_libcurl--;
		sweep(t);
		if (t->doomed)
			return S_OK;
		if (mc != CURLM_OK)
			return mh_error_set(MAPI_E_CALL_FAILED, -1, "libcurl transport: %s",
			                    curl_multi_strerror(mc));
		size_t done = reap(t);
		uint64_t next_idle = 0;
		uint64_t now = now_ms();
		done += check_idle(t, now, &next_idle);
		if (t->doomed)
			return S_OK;
		if (done != 0 || timeout_ms == 0 || t->live == 0)
			return S_OK;
		long wait = 1000;
		if (timeout_ms > 0) {
			uint64_t elapsed = now - start;
			if (elapsed >= (uint64_t)timeout_ms)
				return S_OK;
			wait = (long)((uint64_t)timeout_ms - elapsed);
		}
		if (next_idle != 0) {
			long until_idle = next_idle > now ? (long)(next_idle - now) : 0;
			if (until_idle < wait)
				wait = until_idle;
		}
		/* A request started from a callback is added at the top of the loop at once. */
		bool queued = false;
		for (creq *r = t->head; r != NULL && !queued; r = r->next)
			queued = !r->added && !r->dead;
		if (queued)
			wait = 0;
		if (wait > 0) {
			mc = curl_multi_poll(t->multi, NULL, 0,
			                     (int)(wait > INT_MAX ? INT_MAX : wait), NULL);
			if (mc != CURLM_OK)
				return mh_error_set(MAPI_E_CALL_FAILED, -1, "libcurl transport: %s",
				                    curl_multi_strerror(mc));
		}
	}
}

static mh_status curl_run(void *self, int timeout_ms)
{
	ctransport *t = self;
	if (t == NULL || t->in_run)
		return mh_error_set(MAPI_E_CALL_FAILED, -1,
		                    "libcurl transport: run() called from inside run()");
	t->in_run = true;
	mh_status st = run_loop(t, timeout_ms);
	t->in_run = false;
	if (t->doomed) {
		free_all(t);
		return S_OK;
	}
	return st;
}

static size_t curl_pending(void *self)
{
	const ctransport *t = self;
	return t != NULL ? t->live : 0;
}

static void free_all(ctransport *t)
{
	while (t->head != NULL) {
		creq *r = t->head;
		unlink_req(t, r);
		release(t, r);
	}
	for (size_t i = 0; i < t->n_pool; i++)
		curl_easy_cleanup(t->pool[i]);
	if (t->multi != NULL)
		curl_multi_cleanup(t->multi);
	/* After every easy handle and the multi: a share still in use refuses to go. */
	if (t->share != NULL)
		curl_share_cleanup(t->share);
	free(t->cacert);
	free(t->user_agent);
	free(t);
}

static void curl_destroy(void *self)
{
	ctransport *t = self;
	if (t == NULL)
		return;
	if (t->in_run) {
		/* From a callback: nothing runs any more, and run() frees t on its way out. */
		t->doomed = true;
		for (creq *r = t->head; r != NULL; r = r->next)
			r->dead = true;
		t->live = 0;
		return;
	}
	free_all(t);
}

static const mh_transport_ops curl_ops = {
    1, curl_start, curl_cancel, curl_run, curl_pending, curl_destroy,
};

mh_status mh_transport_curl_new(mh_transport **out, const mh_transport_curl_options *opts)
{
	if (out == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "libcurl transport: out is NULL");
	*out = NULL;
	mh_transport_curl_options def = MH_TRANSPORT_CURL_OPTIONS_INIT;
	if (opts == NULL)
		opts = &def;
	if (opts->version != 1)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "libcurl transport: options version %u, expected 1",
		                    opts->version);
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return mh_error_set(MAPI_E_CALL_FAILED, -1,
		                    "libcurl transport: curl_global_init: %s",
		                    curl_easy_strerror(global_rc));
	ctransport *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return mh_error_oom();
	t->pub.ops = &curl_ops;
	t->pub.self = t;
	t->insecure = opts->insecure;
	t->cacert = opts->cacert != NULL ? strdup(opts->cacert) : NULL;
	t->user_agent =
	    strdup(opts->user_agent != NULL ? opts->user_agent : "mapihttp/" MH_VERSION_STRING);
	t->multi = curl_multi_init();
	t->share = curl_share_init();
	if ((opts->cacert != NULL && t->cacert == NULL) || t->user_agent == NULL ||
	    t->multi == NULL || t->share == NULL) {
		free_all(t);
		return mh_error_oom();
	}
	long per_host = opts->max_host_connections != 0 ? (long)opts->max_host_connections
	                                                : (long)DEFAULT_HOST_CONNECTIONS;
	/* Connections live in the multi's cache; the share adds DNS answers and TLS sessions. */
	if (curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
	        CURLSHE_OK ||
	    curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, per_host) != CURLM_OK ||
	    curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING) != CURLM_OK) {
		free_all(t);
		return mh_error_set(
		    MAPI_E_CALL_FAILED, -1,
		    "libcurl transport: libcurl refused the multi or share options");
	}
	*out = &t->pub;
	return S_OK;
}
