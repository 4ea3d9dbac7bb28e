/*
 * The libcurl transport: one multi handle drives every request on one thread, HTTP/1.1
 * keep-alive connections stay in the multi's cache between requests, and the headers of the
 * final answer only (no 1xx, no authentication legs) reach the caller.
 */
#define _DEFAULT_SOURCE /* explicit_bzero, strdup, strncasecmp */

#include "mapihttp/sys/transport.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
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

#define ORIGIN_MAX   300u
#define ORIGIN_SLOTS 256u /* a scan keeps up to 256 contexts, each on its own URL, busy */

struct origin_entry {
	char *url; /* NULL: empty slot */
	char origin[ORIGIN_MAX];
};

/* Requests of one origin in the multi, held to max_host_connections (see add_queued()). */
typedef struct host_slot {
	char origin[ORIGIN_MAX];
	unsigned active;
} host_slot;
#define HOST_SLOTS_MAX 64u /* more origins at once are left to libcurl's own limit */

typedef struct ctransport {
	mh_transport pub; /* pub.self points back here; destroy() frees both */
	CURLM *multi;
	CURLSH *share;
	char *cacert;
	char *user_agent;
	bool insecure;
	uint64_t next_id;
	creq *head; /* every request not yet finished, cancelled ones included until swept */
	creq *tail; /* the oldest: requests enter the multi in the order they were started */
	size_t live;
	host_slot *hosts;
	size_t n_hosts;
	unsigned per_host;
	bool addable; /* a request was started or a connection freed since add_queued() */
	CURL *pool[POOL_MAX];
	size_t n_pool;
	/* The sockets libcurl wants watched (its socket callback), and poll()'s copy of them. */
	struct pollfd *socks, *ready;
	size_t n_socks, cap_socks;
	bool socks_oom; /* a socket could not be recorded: run() fails rather than hang */
	/* Origins of URLs seen (direct-mapped by a hash of the URL, see origin_of()). */
	struct origin_entry *origins;
	unsigned in_libcurl; /* inside curl_multi_socket_action: libcurl refuses re-entry */
	bool in_run;
	bool doomed; /* destroy() was called from a callback inside run() */
} ctransport;

struct creq {
	ctransport *t;
	creq *prev, *next;
	uint64_t id;
	CURL *easy;
	struct curl_slist *headers; /* one allocation: nodes then lines (see build_headers) */
	size_t headers_size;
	mh_transport_callbacks cb;
	bool added;     /* in the multi */
	bool finishing; /* reap() is delivering its end: cancel() only marks it */
	bool dead;      /* cancelled: no callback runs, swept after socket_action returns */
	bool delivered;
	int host;            /* index in t->hosts while added, -1 otherwise */
	uint64_t started_ms; /* when start() took it: a wait for a connection counts */
	uint32_t total_ms;   /* the request's total_timeout_ms (0: none) */
	/* A callback or our own header check failed: the status on_done gets, and its detail. */
	mh_status fail;
	char fail_msg[SAVED_MESSAGE_MAX];
	uint32_t idle_ms;
	uint64_t last_activity_ms; /* 0: not started yet (waiting for a connection) */
	curl_off_t last_dl, last_ul;
	mh_curl_headers hdr; /* the current response's status and headers */
	/* "https://host:port" for messages: no user information, path or query. */
	char origin[ORIGIN_MAX];
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
	else
		t->tail = r->prev;
	r->prev = r->next = NULL;
}

/* r leaves the multi: its origin may take another request. */
static void left_multi(ctransport *t, creq *r)
{
	r->added = false;
	if (r->host >= 0) {
		t->hosts[r->host].active--;
		t->addable = true;
	}
	r->host = -1;
}

/*
 * Takes r out of the multi and frees it. The easy handle goes back to the pool after a reset,
 * which also frees libcurl's copies of the credentials and the body.
 */
static void release(ctransport *t, creq *r)
{
	if (r->easy != NULL) {
		if (r->added) {
			curl_multi_remove_handle(t->multi, r->easy);
			left_multi(t, r);
		}
		curl_easy_reset(r->easy);
		if (t->n_pool < POOL_MAX)
			t->pool[t->n_pool++] = r->easy;
		else
			curl_easy_cleanup(r->easy);
	}
	if (r->headers != NULL)
		explicit_bzero(r->headers, r->headers_size); /* may hold cookies */
	free(r->headers);
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

static bool is_blank(uint8_t ch)
{
	return ch == ' ' || ch == '\t';
}

/* end, less the CR and LF bytes before it (and the blanks too when blanks is true). */
static size_t trim_end(const uint8_t *b, size_t end, bool blanks)
{
	while (end > 0 &&
	       (b[end - 1] == '\r' || b[end - 1] == '\n' || (blanks && is_blank(b[end - 1]))))
		end--;
	return end;
}

mh_status mh_curl_headers_feed(mh_curl_headers *h, const char *p, size_t len)
{
	if (h->fail != S_OK)
		return mh_error_set(h->fail, -1, "%s: the answer's headers were refused",
		                    h->origin);
	/* The line is taken whole from the cursor, then scanned within its len bytes. */
	mh_cursor c;
	const uint8_t *b = NULL;
	mh_cursor_init(&c, p, len, MAPI_E_NETWORK_ERROR);
	if (len == 0 || mh_cursor_bytes(&c, len, &b, "header line") != S_OK)
		return S_OK;
	if (memchr(b, 0, len) != NULL) {
		h->fail = MAPI_E_NETWORK_ERROR;
		return mh_error_set(MAPI_E_NETWORK_ERROR, -1,
		                    "%s: a header line of the answer has a NUL byte", h->origin);
	}
	if (len >= 5 && memcmp(b, "HTTP/", 5) == 0) {
		mh_cursor_seek(&c, 0, "status line");
		h->status = parse_status_line(&c);
		h->len = 0;
		h->n = 0;
		return S_OK;
	}
	/* Where the parts of "Name: value" (or of a folded line) end: the content without CR LF,
	 * the text without trailing blanks, the name before the first colon. */
	if (trim_end(b, len, false) == 0)
		return S_OK; /* the blank line after a header block */
	const uint8_t *colon_p = memchr(b, ':', len);
	size_t colon = colon_p != NULL ? (size_t)(colon_p - b) : SIZE_MAX;
	size_t text_end = trim_end(b, len, true);
	size_t name_end = trim_end(b, colon != SIZE_MAX ? colon : len, true);
	/* The first non-blank byte at or after start. */
	size_t start = 0;
	while (start < text_end && is_blank(b[start]))
		start++;
	if (start > 0) {
		/* An obsolete folded line continues the previous value. */
		if (h->n != 0 && start < text_end) {
			h->len--; /* over the value's NUL */
			if (!happend(h, " ", 1) ||
			    !hput(h, (const char *)b + start, text_end - start))
				goto too_big;
		}
		return S_OK;
	}
	if (colon == SIZE_MAX || name_end == 0)
		return S_OK; /* not a header: libcurl has already judged the framing */
	size_t vs = colon + 1;
	while (vs < text_end && is_blank(b[vs]))
		vs++;
	size_t ve = text_end > vs ? text_end : vs;
	if (h->n >= MH_CURL_HEADERS_MAX || !hput(h, (const char *)b, name_end) ||
	    !hput(h, (const char *)b + vs, ve - vs))
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

/* Bytes of the line "Name: value" with its NUL ("Name;" sends an empty value, "Name:" with
 * value NULL removes libcurl's own header). */
static size_t header_line_size(const char *name, const char *value)
{
	return strlen(name) + (value != NULL ? strlen(value) : 0) + 3;
}

/* Writes that line at p; returns the byte after its NUL. */
static char *header_line_put(char *p, const char *name, const char *value)
{
	size_t nn = strlen(name), vn = value != NULL ? strlen(value) : 0;
	memcpy(p, name, nn);
	p += nn;
	if (value == NULL) {
		*p++ = ':';
	} else if (vn == 0) {
		*p++ = ';';
	} else {
		*p++ = ':';
		*p++ = ' ';
		memcpy(p, value, vn);
		p += vn;
	}
	*p++ = 0;
	return p;
}

/*
 * The request's headers, then "Expect:" (no 100-continue round trip) unless the caller sets
 * Expect, and "Content-Type:" (no form type nobody asked for) unless it sets one, as a
 * curl_slist in one allocation: libcurl only reads the list, and one block is cheaper to build
 * per request and to wipe (it may hold cookies) than a node and a copy per line.
 */
static mh_status build_headers(creq *r, const mh_transport_request *rq)
{
	bool content_type = false, expect = false;
	size_t lines = rq->n_headers, bytes = 0;
	for (size_t i = 0; i < rq->n_headers; i++) {
		if (strcasecmp(rq->headers[i].name, "Content-Type") == 0)
			content_type = true;
		if (strcasecmp(rq->headers[i].name, "Expect") == 0)
			expect = true;
		bytes += header_line_size(rq->headers[i].name, rq->headers[i].value);
	}
	if (!expect) {
		lines++;
		bytes += header_line_size("Expect", NULL);
	}
	if (!content_type) {
		lines++;
		bytes += header_line_size("Content-Type", NULL);
	}
	size_t size = lines * sizeof(struct curl_slist) + bytes;
	struct curl_slist *nodes = malloc(size);
	if (nodes == NULL)
		return mh_error_oom();
	char *p = (char *)(nodes + lines);
	size_t k = 0;
	for (size_t i = 0; i < rq->n_headers; i++, k++) {
		nodes[k].data = p;
		p = header_line_put(p, rq->headers[i].name, rq->headers[i].value);
	}
	if (!expect) {
		nodes[k++].data = p;
		p = header_line_put(p, "Expect", NULL);
	}
	if (!content_type) {
		nodes[k++].data = p;
		p = header_line_put(p, "Content-Type", NULL);
	}
	for (size_t i = 0; i < lines; i++)
		nodes[i].next = i + 1 < lines ? &nodes[i + 1] : NULL;
	r->headers = nodes;
	r->headers_size = size;
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

/* True when the URL's authority (after "scheme://", up to '/', '?' or '#') has user information. */
static bool has_userinfo(const char *url)
{
	const char *p = strstr(url, "://");
	if (p == NULL)
		return true; /* not the usual form: never cached */
	size_t n = strcspn(p + 3, "/?#");
	return memchr(p + 3, '@', n) != NULL;
}

/*
 * url_origin() through a cache: every request of a session context goes to one URL, and
 * parsing it with libcurl's URL parser for each request costs more than the rest of start().
 * URLs with user information are not kept (they may hold a password).
 */
static mh_status origin_of(ctransport *t, const char *url, char *out, size_t cap)
{
	uint32_t hash = 2166136261u; /* FNV-1a */
	for (const char *p = url; *p != 0; p++)
		hash = (hash ^ (uint8_t)*p) * 16777619u;
	/* Two places a URL may sit in, from two parts of its hash. */
	struct origin_entry *e = NULL;
	if (t->origins == NULL)
		t->origins = calloc(ORIGIN_SLOTS, sizeof(*t->origins));
	if (t->origins != NULL) {
		struct origin_entry *a = &t->origins[hash % ORIGIN_SLOTS];
		struct origin_entry *b = &t->origins[(hash >> 16) % ORIGIN_SLOTS];
		for (int k = 0; k < 2; k++) {
			struct origin_entry *x = k == 0 ? a : b;
			if (x->url != NULL && strcmp(x->url, url) == 0) {
				snprintf(out, cap, "%s", x->origin);
				return S_OK;
			}
		}
		e = a->url == NULL ? a : b->url == NULL ? b : (hash & 0x100) ? a : b;
	}
	mh_status st = url_origin(url, out, cap);
	if (st != S_OK || e == NULL || has_userinfo(url))
		return st;
	char *copy = strdup(url);
	if (copy == NULL)
		return S_OK; /* only the cache is lost */
	free(e->url);
	e->url = copy;
	snprintf(e->origin, sizeof(e->origin), "%s", out);
	return S_OK;
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

	mh_status st = build_headers(r, rq);
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
	st = origin_of(t, rq->url, r->origin, sizeof(r->origin));
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
	r->host = -1;
	r->started_ms = now_ms();
	r->total_ms = rq->total_timeout_ms;
	r->next = t->head;
	if (t->head != NULL)
		t->head->prev = r;
	else
		t->tail = r;
	t->head = r;
	t->live++;
	t->addable = true;
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
	/* Else libcurl is running one of our callbacks (sweep() frees r when socket_action
	 * returns), or reap() is delivering r's end and frees it. */
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

/* The slot counting origin's requests in the multi; -1 when there is no room to count. */
static int host_slot_of(ctransport *t, const char *origin)
{
	int free_slot = -1;
	for (size_t i = 0; i < t->n_hosts; i++) {
		if (strcmp(t->hosts[i].origin, origin) == 0)
			return (int)i;
		if (t->hosts[i].active == 0 && free_slot < 0)
			free_slot = (int)i;
	}
	if (free_slot < 0) {
		if (t->n_hosts == HOST_SLOTS_MAX)
			return -1;
		if (t->hosts == NULL)
			t->hosts = calloc(HOST_SLOTS_MAX, sizeof(*t->hosts));
		if (t->hosts == NULL)
			return -1;
		free_slot = (int)t->n_hosts++;
	}
	snprintf(t->hosts[free_slot].origin, sizeof(t->hosts[free_slot].origin), "%s", origin);
	t->hosts[free_slot].active = 0;
	return free_slot;
}

/*
 * Adds the requests not yet in the multi, oldest first, but no more per origin than there may
 * be connections to it: libcurl would park the others and set each up again (URL, proxy,
 * connection search) every time one is woken, which costs more than the request itself. A
 * request that waited here has the wait taken from its total timeout, as libcurl counts its
 * own parking.
 */
static mh_status add_queued(ctransport *t)
{
	t->addable = false;
	for (creq *r = t->tail; r != NULL; r = r->prev) {
		if (r->added || r->dead)
			continue;
		int h = host_slot_of(t, r->origin);
		if (h >= 0 && t->hosts[h].active >= t->per_host)
			continue;
		if (r->total_ms != 0) {
			uint64_t waited = now_ms() - r->started_ms;
			long left = waited >= r->total_ms ? 1 : (long)(r->total_ms - waited);
			curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, left);
		}
		CURLMcode mc = curl_multi_add_handle(t->multi, r->easy);
		if (mc != CURLM_OK)
			return mh_error_set(mc == CURLM_OUT_OF_MEMORY ? MAPI_E_NOT_ENOUGH_MEMORY
			                                              : MAPI_E_CALL_FAILED,
			                    -1, "libcurl transport: adding a request failed: %s",
			                    curl_multi_strerror(mc));
		r->added = true;
		r->host = h;
		if (h >= 0)
			t->hosts[h].active++;
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
		left_multi(t, r);
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

/* ---- sockets ------------------------------------------------------------------------------ */

/*
 * libcurl's socket callback: what to watch on s. The list lives in the transport and run()
 * polls it, so a transfer costs no system call to register or forget its socket.
 */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	(void)e;
	(void)socketp;
	ctransport *t = userp;
	size_t i = 0;
	while (i < t->n_socks && t->socks[i].fd != s)
		i++;
	if (what == CURL_POLL_REMOVE) {
		if (i < t->n_socks)
			t->socks[i] = t->socks[--t->n_socks];
		return 0;
	}
	if (i == t->n_socks) {
		if (t->n_socks == t->cap_socks) {
			size_t cap = t->cap_socks != 0 ? t->cap_socks * 2 : 16;
			struct pollfd *a = realloc(t->socks, cap * sizeof(*a));
			if (a != NULL)
				t->socks = a;
			struct pollfd *b = a != NULL ? realloc(t->ready, cap * sizeof(*b)) : NULL;
			if (b != NULL)
				t->ready = b;
			if (a == NULL || b == NULL) {
				t->socks_oom = true;
				return -1;
			}
			t->cap_socks = cap;
		}
		t->n_socks++;
	}
	t->socks[i].fd = s;
	t->socks[i].events =
	    (short)(((what & CURL_POLL_IN) ? POLLIN : 0) | ((what & CURL_POLL_OUT) ? POLLOUT : 0));
	t->socks[i].revents = 0;
	return 0;
}

static bool watched(const ctransport *t, curl_socket_t s)
{
	for (size_t i = 0; i < t->n_socks; i++)
		if (t->socks[i].fd == s)
			return true;
	return false;
}

/* One curl_multi_socket_action(): the transfers on s (or, for CURL_SOCKET_TIMEOUT, those
 * whose time has come), then the requests cancelled meanwhile are freed. */
static mh_status drive(ctransport *t, curl_socket_t s, int bits)
{
	int running = 0;
	t->in_libcurl++;
	CURLMcode mc = curl_multi_socket_action(t->multi, s, bits, &running);
	t->in_libcurl--;
	sweep(t);
	if (t->doomed)
		return S_OK;
	if (mc != CURLM_OK)
		return mh_error_set(mc == CURLM_OUT_OF_MEMORY ? MAPI_E_NOT_ENOUGH_MEMORY
		                                              : MAPI_E_CALL_FAILED,
		                    -1, "libcurl transport: %s", curl_multi_strerror(mc));
	if (t->socks_oom)
		return mh_error_set(MAPI_E_NOT_ENOUGH_MEMORY, -1,
		                    "libcurl transport: no memory to watch a socket");
	return S_OK;
}

/* Runs libcurl's timers when one is due (a request just added is); returns the ms until the
 * next one, -1 for none. */
static mh_status drive_timer(ctransport *t, long *next_ms)
{
	long ms = -1;
	curl_multi_timeout(t->multi, &ms);
	if (ms == 0) {
		mh_status st = drive(t, CURL_SOCKET_TIMEOUT, 0);
		if (st != S_OK || t->doomed)
			return st;
		ms = -1;
		curl_multi_timeout(t->multi, &ms);
	}
	*next_ms = ms;
	return S_OK;
}

/* Waits up to wait_ms for the watched sockets, then hands libcurl the ones that are ready. */
static mh_status wait_sockets(ctransport *t, long wait_ms)
{
	size_t n = t->n_socks;
	if (n != 0)
		memcpy(t->ready, t->socks, n * sizeof(*t->ready));
	int got = poll(t->ready, (nfds_t)n, (int)(wait_ms > INT_MAX ? INT_MAX : wait_ms));
	if (got < 0) {
		if (errno == EINTR)
			return S_OK;
		return mh_error_set(MAPI_E_CALL_FAILED, -1, "libcurl transport: poll: %s",
		                    strerror(errno));
	}
	for (size_t i = 0; i < n && got > 0; i++) {
		short re = t->ready[i].revents;
		if (re == 0)
			continue;
		got--;
		/* An earlier socket of this round may have closed it, or reused its number. */
		if (!watched(t, t->ready[i].fd))
			continue;
		int bits = ((re & (POLLIN | POLLHUP)) ? CURL_CSELECT_IN : 0) |
		           ((re & POLLOUT) ? CURL_CSELECT_OUT : 0) |
		           ((re & (POLLERR | POLLNVAL)) ? CURL_CSELECT_ERR : 0);
		mh_status st = drive(t, t->ready[i].fd, bits);
		if (st != S_OK || t->doomed)
			return st;
	}
	return S_OK;
}

static void free_all(ctransport *t);

/*
 * libcurl's socket interface: only the transfers whose socket is ready, or whose timer is due,
 * run, and libcurl is told what poll() saw instead of asking the kernel again for each
 * transfer.
 */
static mh_status run_loop(ctransport *t, int timeout_ms)
{
	uint64_t start = now_ms();
	bool polled = false;
	for (;;) {
		mh_status st = add_queued(t);
		if (st != S_OK)
			return st;
		long curl_ms = -1;
		st = drive_timer(t, &curl_ms);
		if (t->doomed)
			return S_OK;
		if (st != S_OK)
			return st;
		size_t done = reap(t);
		uint64_t next_idle = 0;
		uint64_t now = now_ms();
		done += check_idle(t, now, &next_idle);
		if (t->doomed)
			return S_OK;
		if (done != 0 || t->live == 0 || (timeout_ms == 0 && polled))
			return S_OK;
		long wait = 1000;
		if (timeout_ms == 0) {
			wait = 0; /* what is ready now */
		} else if (timeout_ms > 0) {
			uint64_t elapsed = now - start;
			if (elapsed >= (uint64_t)timeout_ms)
				return S_OK;
			wait = (long)((uint64_t)timeout_ms - elapsed);
		}
		if (curl_ms >= 0 && curl_ms < wait)
			wait = curl_ms;
		if (next_idle != 0) {
			long until_idle = next_idle > now ? (long)(next_idle - now) : 0;
			if (until_idle < wait)
				wait = until_idle;
		}
		/* A request started from a callback, or one a freed connection lets in, is added at
		 * the top of the loop at once. */
		if (t->addable)
			wait = 0;
		st = wait_sockets(t, wait);
		polled = true;
		if (t->doomed)
			return S_OK;
		if (st != S_OK)
			return st;
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
	free(t->socks);
	free(t->ready);
	free(t->hosts);
	if (t->origins != NULL)
		for (size_t i = 0; i < ORIGIN_SLOTS; i++)
			free(t->origins[i].url);
	free(t->origins);
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
	t->per_host = (unsigned)per_host;
	/* Connections live in the multi's cache; the share adds DNS answers and TLS sessions. */
	if (curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(t->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
	        CURLSHE_OK ||
	    curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, per_host) != CURLM_OK ||
	    curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
	    curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, (void *)t) != CURLM_OK ||
	    curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING) != CURLM_OK) {
		free_all(t);
		return mh_error_set(
		    MAPI_E_CALL_FAILED, -1,
		    "libcurl transport: libcurl refused the multi or share options");
	}
	*out = &t->pub;
	return S_OK;
}
