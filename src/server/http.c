/*
 * mapihttpd's HTTP front on libmicrohttpd: a thread per connection, authentication, routing,
 * body caps, MAPI/HTTP response framing (at once, or held with PENDING lines), the close, 503
 * and stall faults, Autodiscover, and one log line per request.
 */
#define _DEFAULT_SOURCE /* strcasecmp, gmtime_r; the socket types microhttpd.h uses */

#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <microhttpd.h>

#include "server/auth.h"
#include "server/autodiscover.h"
#include "util/diag.h"

/* What X-ServerApplication says: an Exchange 2016 CU build, since clients key on "Exchange/15". */
#define SERVER_APPLICATION "Exchange/15.01.2507.000"
/* Exchange's default keep-alive period (wire.md 2.3). */
#define PENDING_PERIOD_MS 15000u
/* Bytes libmicrohttpd asks a held answer's reader for at a time. */
#define HELD_BLOCK  16384u
#define MAX_HEADERS 128u
#define MAX_HOST    255u

struct mh_srv_http {
	struct MHD_Daemon *daemon;
	mh_srv_store *store;
	mh_srv_http_options opts;
	char *base_url;
	char *cert;
	char *key;
	bool tls;
	size_t max_body;
	uint32_t pending_period;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	/* Broadcast at stop so held answers end at once; waits on CLOCK_MONOTONIC. */
	pthread_cond_t wake;
	unsigned in_flight;
	bool stopping;
};

typedef enum route { ROUTE_NONE = 0, ROUTE_POX, ROUTE_JSON, ROUTE_EMSMDB, ROUTE_NSPI } route;

static const char *const route_names[] = {"-", "autodiscover.xml", "autodiscover.json", "emsmdb",
                                          "nspi"};

/* What the first call decided; everything but V_OK is sent once the body has been read. */
typedef enum verdict {
	V_OK = 0,
	V_NOT_FOUND,    /* 404 */
	V_BAD_METHOD,   /* 405 with allow */
	V_UNAUTHORIZED, /* 401 with both challenges */
	V_SERVER_ERROR, /* 500 */
	V_TOO_LARGE,    /* 413 (Autodiscover) */
	V_MAPI_ERROR,   /* 200 with X-ResponseCode code */
	V_POX_ERROR     /* 200 with an Autodiscover error document, ErrorCode code */
} verdict;

typedef struct request {
	mh_srv_http *srv;
	struct timespec start;
	route route;
	verdict verdict;
	unsigned code;
	char diag[256];
	const char *allow;
	mh_srv_auth_scheme scheme;
	mh_srv_auth_token token; /* why a Bearer token was refused */
	bool too_large;
	size_t cap;
	size_t in_bytes;
	mh_buf body;
	mh_arena arena;
	bool authed;
	mh_srv_recipient principal;
	mh_srv_mailbox mailbox;
	const char *mailbox_id;
	mh_mapihttp_request_info info;
	const char *json_address;
	char client[64];
	/* for the log */
	unsigned http_status;
	long response_code; /* -1: not a MAPI/HTTP answer */
	unsigned rops;
	size_t out_bytes;
	char request_type[40];
	char path[72];
	const char *fault; /* the fault that hit this request (fault.h name), or NULL */
	bool log_at_end;   /* a held answer: logged once it has been sent */
} request;

/* The thread's last error message, or "" when none is recorded. */
static const char *last_message(void)
{
	const mh_error *e = mh_error_last();
	return e != NULL && e->message != NULL ? e->message : "";
}

/* ---- small helpers ---------------------------------------------------------------------- */

/* A copy of client text fit for one log field: printable ASCII without spaces, capped. */
static void log_field(char *out, size_t cap, const char *s)
{
	size_t n = 0;
	if (s == NULL || s[0] == 0)
		s = "-";
	for (size_t i = 0; s[i] != 0 && n + 1 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[n++] = (ch > 0x20 && ch < 0x7F) ? (char)ch : '?';
	}
	out[n] = 0;
}

static void html_escape(mh_buf *b, const char *s)
{
	for (size_t i = 0; s[i] != 0; i++) {
		switch (s[i]) {
		case '<':
			mh_buf_put(b, "&lt;", 4);
			break;
		case '>':
			mh_buf_put(b, "&gt;", 4);
			break;
		case '&':
			mh_buf_put(b, "&amp;", 5);
			break;
		case '"':
			mh_buf_put(b, "&quot;", 6);
			break;
		default:
			mh_buf_put(b, &s[i], 1);
		}
	}
}

static bool is_token_char(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* RFC 6265 4.1.1: a token name and cookie-octets value. */
static bool cookie_ok(const mh_srv_cookie *ck)
{
	if (ck->name == NULL || ck->name[0] == 0 || ck->value == NULL)
		return false;
	for (size_t i = 0; ck->name[i] != 0; i++) {
		if (!is_token_char((unsigned char)ck->name[i]))
			return false;
	}
	for (size_t i = 0; ck->value[i] != 0; i++) {
		unsigned char ch = (unsigned char)ck->value[i];
		if (ch < 0x21 || ch > 0x7E || ch == '"' || ch == ',' || ch == ';' || ch == '\\')
			return false;
	}
	return true;
}

static long long elapsed_us(const request *r)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - r->start.tv_sec) * 1000000LL +
	       (now.tv_nsec - r->start.tv_nsec) / 1000;
}

static void log_request(request *r)
{
	FILE *f = r->srv->opts.log;
	if (f == NULL)
		return;
	struct timespec ts;
	struct tm tm;
	char when[40] = "-";
	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm) != NULL) {
		char base[32];
		strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(when, sizeof(when), "%s.%03uZ", base,
		         (unsigned)(ts.tv_nsec / 1000000L) % 1000u);
	}
	char user[96], type[40], mbx[96], rc[24];
	log_field(user, sizeof(user), r->authed ? r->principal.smtp : NULL);
	log_field(type, sizeof(type), r->request_type);
	log_field(mbx, sizeof(mbx), r->mailbox_id);
	if (r->response_code >= 0)
		snprintf(rc, sizeof(rc), "%ld", r->response_code);
	else
		snprintf(rc, sizeof(rc), "-");
	fprintf(f, "%s %s %s %s %s %s http=%u rc=%s rops=%u in=%zu out=%zu us=%lld%s%s\n", when,
	        r->client, user, r->path, type, mbx, r->http_status, rc, r->rops, r->in_bytes,
	        r->out_bytes, elapsed_us(r), r->fault != NULL ? " fault=" : "",
	        r->fault != NULL ? r->fault : "");
	fflush(f);
}

static struct MHD_Response *new_response(const void *data, size_t len)
{
	void *copy = malloc(len != 0 ? len : 1);
	if (copy == NULL)
		return NULL;
	if (len != 0)
		memcpy(copy, data, len);
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer_with_free_callback(len, copy, free);
	if (resp == NULL)
		free(copy);
	return resp;
}

static enum MHD_Result queue(request *r, struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *resp, size_t len)
{
	if (resp == NULL)
		return MHD_NO;
	enum MHD_Result ok = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	r->http_status = status;
	r->out_bytes = len;
	if (!r->log_at_end)
		log_request(r);
	return ok;
}

static enum MHD_Result send_text(request *r, struct MHD_Connection *c, unsigned status,
                                 const char *ctype, const char *text)
{
	size_t len = strlen(text);
	struct MHD_Response *resp = new_response(text, len);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_UNAUTHORIZED) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        MH_SRV_AUTH_CHALLENGE_BASIC);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        mh_srv_auth_bearer_challenge(r->scheme, r->token));
	}
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED && r->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	return queue(r, c, status, resp, len);
}

/* ---- MAPI/HTTP answers ------------------------------------------------------------------ */

static void add_echo_headers(struct MHD_Connection *c, struct MHD_Response *resp)
{
	static const char *const echo[] = {"X-RequestType", "X-RequestId", "X-ClientInfo"};
	for (size_t i = 0; i < sizeof(echo) / sizeof(echo[0]); i++) {
		const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, echo[i]);
		if (v != NULL && v[0] != 0 && strlen(v) <= 128)
			MHD_add_response_header(resp, echo[i], v);
	}
}

static bool add_cookies(request *r, struct MHD_Response *resp, const mh_srv_mapi_response *mr)
{
	const char *path = r->route == ROUTE_NSPI ? "/mapi/nspi" : "/mapi/emsmdb";
	for (size_t i = 0; i < mr->n_set_cookies && i < MH_SRV_HTTP_MAX_SET_COOKIES; i++) {
		const mh_srv_cookie *ck = &mr->set_cookies[i];
		if (!cookie_ok(ck) || strlen(ck->value) > MH_SRV_HTTP_MAX_COOKIE_VALUE)
			return false;
		char line[MH_SRV_HTTP_MAX_COOKIE_VALUE + 256];
		snprintf(line, sizeof(line), "%s=%s; path=%s; HttpOnly%s", ck->name, ck->value,
		         path, r->srv->tls ? "; Secure" : "");
		if (MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, line) != MHD_YES)
			return false;
	}
	return true;
}

/* A failed MAPI/HTTP request: HTTP 200, text/html diagnostic page, X-ResponseCode. */
static enum MHD_Result send_mapi_error(request *r, struct MHD_Connection *c, unsigned code,
                                       const char *diag, const mh_srv_mapi_response *mr)
{
	mh_buf b = MH_BUF_INIT;
	char line[96];
	snprintf(line, sizeof(line), "X-ResponseCode %u (%s): ", code,
	         mh_mapihttp_response_code_name(code));
	const char *head = "<!DOCTYPE html>\n<html><head><title>MAPI over HTTP error</title></head>"
	                   "<body><h1>Diagnostic Information</h1><p>";
	mh_buf_put(&b, head, strlen(head));
	html_escape(&b, line);
	html_escape(&b, diag != NULL ? diag : "");
	mh_buf_put(&b, "</p></body></html>\n", 19);
	if (mh_buf_status(&b) != S_OK) {
		mh_buf_free(&b);
		return MHD_NO;
	}
	struct MHD_Response *resp = new_response(b.data, b.len);
	size_t len = b.len;
	mh_buf_free(&b);
	if (resp == NULL)
		return MHD_NO;
	char codetext[16];
	snprintf(codetext, sizeof(codetext), "%u", code);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "private");
	MHD_add_response_header(resp, "X-ResponseCode", codetext);
	MHD_add_response_header(resp, "X-ServerApplication", SERVER_APPLICATION);
	add_echo_headers(c, resp);
	if (mr != NULL)
		add_cookies(r, resp, mr);
	if (code == MH_RESPONSE_ENDPOINT_SHUTTING_DOWN)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	r->response_code = code;
	return queue(r, c, MHD_HTTP_OK, resp, len);
}

static void start_time_text(char *out, size_t cap)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct tm tm;
	out[0] = 0;
	if (gmtime_r(&now.tv_sec, &tm) != NULL)
		strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* DONE, the meta block and the body: the end of every successful response stream. */
static void push_done(mh_buf *b, const request *r, const char *start, const mh_buf *body)
{
	mh_mapihttp_push_line(b, MH_MAPIHTTP_EV_DONE);
	mh_mapihttp_push_meta_u32(b, "X-ElapsedTime", (uint32_t)(elapsed_us(r) / 1000));
	mh_mapihttp_push_meta(b, "X-StartTime", start);
	mh_mapihttp_push_meta_end(b);
	mh_buf_put(b, body->data, body->len);
}

/* The headers of a successful answer (and of one the close fault cuts short). */
static bool add_success_headers(request *r, struct MHD_Connection *c, struct MHD_Response *resp,
                                const mh_srv_mapi_response *mr)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, MH_MAPIHTTP_CONTENT_TYPE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "private");
	MHD_add_response_header(resp, "X-RequestType", mh_mapihttp_request_type_name(r->info.type));
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-RequestId");
	if (v != NULL)
		MHD_add_response_header(resp, "X-RequestId", v);
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-ClientInfo");
	if (v != NULL)
		MHD_add_response_header(resp, "X-ClientInfo", v);
	MHD_add_response_header(resp, "X-ResponseCode", "0");
	char period[16];
	snprintf(period, sizeof(period), "%u", (unsigned)r->srv->pending_period);
	MHD_add_response_header(resp, "X-PendingPeriod", period);
	if (mr != NULL && mr->expiration != 0) {
		char exp[16];
		snprintf(exp, sizeof(exp), "%u", (unsigned)mr->expiration);
		MHD_add_response_header(resp, "X-ExpirationInfo", exp);
	}
	MHD_add_response_header(resp, "X-ServerApplication", SERVER_APPLICATION);
	return mr == NULL || add_cookies(r, resp, mr);
}

/* A successful one answered at once: PROCESSING, DONE, the meta block and the body. */
static enum MHD_Result send_mapi_success(request *r, struct MHD_Connection *c,
                                         const mh_srv_mapi_response *mr)
{
	char start[64];
	start_time_text(start, sizeof(start));
	mh_buf b = MH_BUF_INIT;
	mh_mapihttp_push_line(&b, MH_MAPIHTTP_EV_PROCESSING);
	push_done(&b, r, start, &mr->body);
	if (mh_buf_status(&b) != S_OK) {
		mh_buf_free(&b);
		return send_mapi_error(r, c, MH_RESPONSE_UNKNOWN_FAILURE, "out of memory", NULL);
	}
	struct MHD_Response *resp = new_response(b.data, b.len);
	size_t len = b.len;
	mh_buf_free(&b);
	if (resp == NULL)
		return MHD_NO;
	if (!add_success_headers(r, c, resp, mr)) {
		MHD_destroy_response(resp);
		return send_mapi_error(r, c, MH_RESPONSE_UNKNOWN_FAILURE,
		                       "the request handler produced a malformed cookie", NULL);
	}
	r->response_code = 0;
	return queue(r, c, MHD_HTTP_OK, resp, len);
}

/*
 * A held answer's stream: libmicrohttpd calls held_read on the connection's thread whenever
 * the socket can take more; it blocks there (on srv->wake) until the next PENDING line or the
 * end of the hold, which is fine with a thread per connection and wakes at once on stop.
 */
typedef struct held {
	mh_srv_http *srv;
	/* The request, touched only inside held_read: libmicrohttpd calls the reader only
	 * before the request's completion callback frees it. held_free must not use it. */
	request *r;
	struct timespec deadline; /* CLOCK_MONOTONIC */
	struct timespec next_pending;
	char start[64];
	mh_buf body; /* the handler's bytes, moved here */
	mh_buf out;  /* bytes ready to go */
	size_t pos;
	bool done;     /* DONE and the body are in out */
	bool truncate; /* the close fault: end with an error once out is sent */
} held;

static void ts_add_ms(struct timespec *t, uint64_t ms)
{
	t->tv_sec += (time_t)(ms / 1000);
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Waits for the next PENDING line or the end; true at the end (or when the server stops). */
static bool held_wait(held *st)
{
	mh_srv_http *h = st->srv;
	bool end = false;
	pthread_mutex_lock(&h->lock);
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (h->stopping || !ts_before(&now, &st->deadline)) {
			end = true;
			break;
		}
		if (!ts_before(&now, &st->next_pending))
			break;
		const struct timespec *until =
		    ts_before(&st->next_pending, &st->deadline) ? &st->next_pending : &st->deadline;
		pthread_cond_timedwait(&h->wake, &h->lock, until);
	}
	pthread_mutex_unlock(&h->lock);
	return end;
}

static ssize_t held_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	held *st = cls;
	while (st->pos == st->out.len) {
		if (st->done || st->truncate)
			return st->truncate ? MHD_CONTENT_READER_END_WITH_ERROR
			                    : MHD_CONTENT_READER_END_OF_STREAM;
		st->out.len = 0;
		st->pos = 0;
		if (held_wait(st)) {
			push_done(&st->out, st->r, st->start, &st->body);
			st->done = true;
		} else {
			mh_mapihttp_push_line(&st->out, MH_MAPIHTTP_EV_PENDING);
			ts_add_ms(&st->next_pending, st->srv->pending_period);
		}
		if (mh_buf_status(&st->out) != S_OK)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	size_t n = st->out.len - st->pos;
	if (n > max)
		n = max;
	memcpy(buf, st->out.data + st->pos, n);
	st->pos += n;
	st->r->out_bytes += n;
	return (ssize_t)n;
}

static void held_free(void *cls)
{
	held *st = cls;
	mh_buf_free(&st->body);
	mh_buf_free(&st->out);
	free(st);
}

/*
 * A successful answer sent chunked: headers and PROCESSING at once, PENDING every
 * pending_period ms for hold ms (less when the server stops), then DONE and the body. The
 * handler's body is moved out of mr. truncate (the close fault): headers only, then the
 * connection ends with an error.
 */
static enum MHD_Result send_mapi_held(request *r, struct MHD_Connection *c,
                                      mh_srv_mapi_response *mr, uint32_t hold, bool truncate)
{
	held *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return MHD_NO;
	st->srv = r->srv;
	st->r = r;
	st->truncate = truncate;
	start_time_text(st->start, sizeof(st->start));
	clock_gettime(CLOCK_MONOTONIC, &st->deadline);
	st->next_pending = st->deadline;
	ts_add_ms(&st->deadline, hold);
	ts_add_ms(&st->next_pending, r->srv->pending_period);
	if (mr != NULL) {
		st->body = mr->body;
		memset(&mr->body, 0, sizeof(mr->body));
	}
	if (!truncate)
		mh_mapihttp_push_line(&st->out, MH_MAPIHTTP_EV_PROCESSING);
	if (mh_buf_status(&st->out) != S_OK) {
		held_free(st);
		return send_mapi_error(r, c, MH_RESPONSE_UNKNOWN_FAILURE, "out of memory", NULL);
	}
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HELD_BLOCK,
	                                                              held_read, st, held_free);
	if (resp == NULL) {
		held_free(st);
		return MHD_NO;
	}
	if (!add_success_headers(r, c, resp, mr)) {
		MHD_destroy_response(resp);
		return send_mapi_error(r, c, MH_RESPONSE_UNKNOWN_FAILURE,
		                       "the request handler produced a malformed cookie", NULL);
	}
	r->response_code = 0;
	r->log_at_end = true;
	return queue(r, c, MHD_HTTP_OK, resp, 0);
}

/* The 503 fault: an exceptional failure with Retry-After, as a loaded server answers. */
static enum MHD_Result send_unavailable(request *r, struct MHD_Connection *c, uint32_t ms)
{
	static const char text[] = "Service Unavailable\n";
	struct MHD_Response *resp = new_response(text, sizeof(text) - 1);
	if (resp == NULL)
		return MHD_NO;
	char after[16];
	snprintf(after, sizeof(after), "%u", (unsigned)(ms / 1000u + (ms % 1000u != 0)));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, after);
	MHD_add_response_header(resp, "X-ServerApplication", SERVER_APPLICATION);
	add_echo_headers(c, resp);
	return queue(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, resp, sizeof(text) - 1);
}

/* ---- routing and checks ----------------------------------------------------------------- */

static bool path_is(const char *url, const char *path)
{
	size_t n = strlen(path);
	if (strncasecmp(url, path, n) != 0)
		return false;
	return url[n] == 0 || (url[n] == '/' && url[n + 1] == 0);
}

static route route_of(const char *url, const char **json_address)
{
	static const char json[] = "/autodiscover/autodiscover.json";
	static const char v1[] = "/v1.0/";
	*json_address = NULL;
	if (strcasecmp(url, "/autodiscover/autodiscover.xml") == 0)
		return ROUTE_POX;
	if (strncasecmp(url, json, sizeof(json) - 1) == 0) {
		const char *rest = url + sizeof(json) - 1;
		if (rest[0] == 0)
			return ROUTE_JSON;
		if (strncasecmp(rest, v1, sizeof(v1) - 1) == 0 && strchr(rest + 6, '/') == NULL) {
			*json_address = rest + sizeof(v1) - 1;
			return ROUTE_JSON;
		}
		return ROUTE_NONE;
	}
	if (path_is(url, "/mapi/emsmdb"))
		return ROUTE_EMSMDB;
	if (path_is(url, "/mapi/nspi"))
		return ROUTE_NSPI;
	return ROUTE_NONE;
}

/* "scheme://Host" from the request's Host header when it is a plain host[:port]. */
static void base_url_for(const request *r, struct MHD_Connection *c, char *out, size_t cap)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	bool ok = host != NULL && host[0] != 0 && strlen(host) <= MAX_HOST;
	for (size_t i = 0; ok && host[i] != 0; i++) {
		unsigned char ch = (unsigned char)host[i];
		ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		     (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == ':' || ch == '[' ||
		     ch == ']';
	}
	if (ok)
		snprintf(out, cap, "%s://%s", r->srv->tls ? "https" : "http", host);
	else
		snprintf(out, cap, "%s", r->srv->base_url);
}

typedef struct header_list {
	mh_http_header h[MAX_HEADERS];
	size_t n;
	bool overflow;
} header_list;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
	(void)kind;
	header_list *l = cls;
	if (l->n == MAX_HEADERS) {
		l->overflow = true;
		return MHD_NO;
	}
	l->h[l->n].name = key;
	l->h[l->n].value = value != NULL ? value : "";
	l->n++;
	return MHD_YES;
}

typedef struct cookie_list {
	mh_srv_cookie c[MH_SRV_HTTP_MAX_COOKIES];
	size_t n;
	bool bad;
} cookie_list;

static enum MHD_Result collect_cookie(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
	(void)kind;
	cookie_list *l = cls;
	if (value == NULL)
		value = "";
	if (l->n == MH_SRV_HTTP_MAX_COOKIES || strlen(value) > MH_SRV_HTTP_MAX_COOKIE_VALUE) {
		l->bad = true;
		return MHD_NO;
	}
	l->c[l->n].name = key;
	l->c[l->n].value = value;
	l->n++;
	return MHD_YES;
}

static void set_verdict(request *r, verdict v, unsigned code, const char *diag)
{
	if (r->verdict != V_OK)
		return; /* the first fault found is the one reported */
	r->verdict = v;
	r->code = code;
	snprintf(r->diag, sizeof(r->diag), "%s", diag != NULL ? diag : "");
}

/* -1 when absent or malformed (libmicrohttpd has refused malformed ones already). */
static long long content_length(struct MHD_Connection *c)
{
	const char *v =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (v == NULL || v[0] < '0' || v[0] > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno != 0 || *end != 0 || n > (unsigned long long)INT64_MAX)
		return -1;
	return (long long)n;
}

static void check_mapi(request *r, struct MHD_Connection *c, const char *method)
{
	unsigned endpoint = r->route == ROUTE_NSPI ? MH_ENDPOINT_NSPI : MH_ENDPOINT_EMSMDB;
	if (strcmp(method, "POST") != 0) {
		set_verdict(r, V_MAPI_ERROR, MH_RESPONSE_INVALID_VERB,
		            "MAPI/HTTP requests use POST");
		return;
	}
	bool stopping;
	pthread_mutex_lock(&r->srv->lock);
	stopping = r->srv->stopping;
	pthread_mutex_unlock(&r->srv->lock);
	if (stopping) {
		set_verdict(r, V_MAPI_ERROR, MH_RESPONSE_ENDPOINT_SHUTTING_DOWN,
		            "the server is shutting down");
		return;
	}
	const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "MailboxId");
	if (id == NULL || id[0] == 0) {
		set_verdict(r, V_MAPI_ERROR, MH_RESPONSE_INVALID_PATH,
		            "the URL has no MailboxId query parameter");
		return;
	}
	r->mailbox_id = id;
	mh_status s = mh_srv_store_mailbox_by_id(r->srv->store, &r->arena, id, &r->mailbox);
	if (s == MAPI_E_NOT_FOUND) {
		char d[200];
		snprintf(d, sizeof(d), "no mailbox has MailboxId %.120s", id);
		set_verdict(r, V_MAPI_ERROR, MH_RESPONSE_INVALID_PATH, d);
		return;
	}
	if (s != S_OK) {
		set_verdict(r, V_MAPI_ERROR, MH_RESPONSE_UNKNOWN_FAILURE, "mailbox lookup failed");
		return;
	}
	header_list hl;
	hl.n = 0;
	hl.overflow = false;
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &hl);
	if (hl.overflow) {
		set_verdict(r, V_MAPI_ERROR, MH_RESPONSE_INVALID_HEADER, "too many headers");
		return;
	}
	uint32_t code = 0;
	s = mh_mapihttp_request_headers_check(hl.h, hl.n, endpoint, &r->info, &code);
	const char *rt = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-RequestType");
	log_field(r->request_type, sizeof(r->request_type), rt);
	if (s != S_OK || code != 0) {
		set_verdict(r, V_MAPI_ERROR, code != 0 ? code : MH_RESPONSE_INVALID_HEADER,
		            last_message());
		return;
	}
	cookie_list cl;
	cl.n = 0;
	cl.bad = false;
	MHD_get_connection_values(c, MHD_COOKIE_KIND, collect_cookie, &cl);
	if (cl.bad)
		set_verdict(r, V_MAPI_ERROR, MH_RESPONSE_INVALID_HEADER,
		            "too many cookies or a cookie too long");
}

/* The first call, once the headers are in: decide everything that does not need the body. */
static void check_request(request *r, struct MHD_Connection *c, const char *url, const char *method)
{
	r->route = route_of(url, &r->json_address);
	if (r->route == ROUTE_NONE)
		log_field(r->path, sizeof(r->path), url);
	else
		log_field(r->path, sizeof(r->path), route_names[r->route]);
	r->cap = r->route == ROUTE_EMSMDB || r->route == ROUTE_NSPI
	             ? r->srv->max_body
	             : MH_SRV_AUTODISCOVER_MAX_REQUEST;
	switch (r->route) {
	case ROUTE_NONE:
		set_verdict(r, V_NOT_FOUND, 0, NULL);
		return;
	case ROUTE_JSON:
		snprintf(r->request_type, sizeof(r->request_type), "AutodiscoverJson");
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
			r->allow = "GET, HEAD";
			set_verdict(r, V_BAD_METHOD, 0, NULL);
		}
		return; /* anonymous, like Exchange's */
	case ROUTE_POX:
		snprintf(r->request_type, sizeof(r->request_type), "Autodiscover");
		break;
	default:
		break;
	}

	const char *authz =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	mh_status s = mh_srv_auth_check(r->srv->store, &r->arena, authz, (int64_t)time(NULL),
	                                &r->scheme, &r->token, &r->principal);
	if (s == MAPI_E_LOGON_FAILED) {
		set_verdict(r, V_UNAUTHORIZED, 0, NULL);
		return;
	}
	if (s != S_OK) {
		set_verdict(r, V_SERVER_ERROR, 0, NULL);
		return;
	}
	r->authed = true;

	if (r->route == ROUTE_POX) {
		if (strcmp(method, "GET") == 0)
			set_verdict(r, V_POX_ERROR, MH_SRV_AD_ERROR_INVALID, "Invalid Request");
		else if (strcmp(method, "POST") != 0) {
			r->allow = "POST";
			set_verdict(r, V_BAD_METHOD, 0, NULL);
		}
		return;
	}
	check_mapi(r, c, method);
}

/* ---- the final call --------------------------------------------------------------------- */

static enum MHD_Result send_pox(request *r, struct MHD_Connection *c, unsigned code,
                                const char *message)
{
	mh_buf b = MH_BUF_INIT;
	mh_srv_autodiscover_request ar;
	char base[MAX_HOST + 16];
	base_url_for(r, c, base, sizeof(base));
	memset(&ar, 0, sizeof(ar));
	ar.body = r->body.data;
	ar.len = r->body.len;
	ar.base_url = base;
	ar.now = (int64_t)time(NULL);
	const char *cap = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-MapiHttpCapability");
	if (cap != NULL) {
		char *end;
		unsigned long v = strtoul(cap, &end, 10);
		if (cap[0] >= '0' && cap[0] <= '9' && *end == 0 && v > 0 && v < 1000)
			ar.mapihttp_version = (unsigned)v;
	}
	unsigned ad_code = code;
	mh_status s;
	if (code != 0)
		s = mh_srv_autodiscover_error(&b, code, message, ar.now, (uint32_t)ar.now);
	else
		s = mh_srv_autodiscover_pox(r->srv->store, &ar, &b, &ad_code);
	if (s != S_OK) {
		mh_buf_free(&b);
		return send_text(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
		                 "Internal Server Error\n");
	}
	struct MHD_Response *resp = new_response(b.data, b.len);
	size_t len = b.len;
	mh_buf_free(&b);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/xml; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "private");
	r->response_code = -1;
	if (ad_code != 0)
		snprintf(r->request_type, sizeof(r->request_type), "Autodiscover/%u", ad_code);
	return queue(r, c, MHD_HTTP_OK, resp, len);
}

static enum MHD_Result send_json(request *r, struct MHD_Connection *c)
{
	const char *protocol = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "Protocol");
	const char *address = r->json_address;
	if (address == NULL)
		address = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "Email");
	char base[MAX_HOST + 16];
	base_url_for(r, c, base, sizeof(base));
	mh_buf b = MH_BUF_INIT;
	unsigned status = 200;
	if (mh_srv_autodiscover_json(protocol, address, base, &b, &status) != S_OK) {
		mh_buf_free(&b);
		return MHD_NO;
	}
	struct MHD_Response *resp = new_response(b.data, b.len);
	size_t len = b.len;
	mh_buf_free(&b);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	return queue(r, c, status, resp, len);
}

static enum MHD_Result dispatch_mapi(request *r, struct MHD_Connection *c)
{
	/* Each kind counts every request that got this far, so "every=N" means the Nth such
	 * request whatever the other rules did; when several fire, close beats 503 beats stall. */
	mh_srv_faults *f = r->srv->opts.faults;
	uint32_t unavailable_ms = 0, stall_ms = 0;
	bool fault_close = mh_srv_faults_hit(f, MH_SRV_FAULT_CLOSE, NULL);
	bool fault_503 = mh_srv_faults_hit(f, MH_SRV_FAULT_HTTP503, &unavailable_ms);
	bool fault_stall = mh_srv_faults_hit(f, MH_SRV_FAULT_STALL, &stall_ms);
	if (fault_close) {
		r->fault = mh_srv_fault_kind_name(MH_SRV_FAULT_CLOSE);
		return send_mapi_held(r, c, NULL, 0, true);
	}
	if (fault_503) {
		r->fault = mh_srv_fault_kind_name(MH_SRV_FAULT_HTTP503);
		return send_unavailable(r, c, unavailable_ms);
	}
	if (fault_stall)
		r->fault = mh_srv_fault_kind_name(MH_SRV_FAULT_STALL);

	const mh_srv_mapi_handler *h =
	    r->route == ROUTE_NSPI ? &r->srv->opts.nspi : &r->srv->opts.emsmdb;
	if (h->handle == NULL)
		return send_mapi_error(r, c, MH_RESPONSE_ENDPOINT_DISABLED,
		                       r->route == ROUTE_NSPI
		                           ? "this server does not implement the NSPI endpoint"
		                           : "this server does not implement the EMSMDB endpoint",
		                       NULL);
	cookie_list cl;
	cl.n = 0;
	cl.bad = false;
	MHD_get_connection_values(c, MHD_COOKIE_KIND, collect_cookie, &cl);
	mh_srv_mapi_request req;
	memset(&req, 0, sizeof(req));
	req.endpoint = r->route == ROUTE_NSPI ? MH_ENDPOINT_NSPI : MH_ENDPOINT_EMSMDB;
	req.principal = &r->principal;
	req.mailbox = &r->mailbox;
	req.mailbox_id = r->mailbox_id;
	req.info = &r->info;
	req.client_application = r->info.client_application;
	const char *exp = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-ExpirationInfo");
	if (exp != NULL && exp[0] >= '0' && exp[0] <= '9') {
		char *end;
		unsigned long v = strtoul(exp, &end, 10);
		if (*end == 0 && v <= UINT32_MAX)
			req.requested_expiration = (uint32_t)v;
	}
	req.cookies = cl.c;
	req.n_cookies = cl.n;
	req.body = r->body.len != 0 ? r->body.data : NULL;
	req.body_len = r->body.len;
	char base[MAX_HOST + 16];
	base_url_for(r, c, base, sizeof(base));
	req.base_url = base;
	req.client = r->client;
	req.tls = r->srv->tls;

	mh_srv_mapi_response resp;
	memset(&resp, 0, sizeof(resp));
	mh_status s = h->handle(h->payload, &req, &r->arena, &resp);
	enum MHD_Result ok;
	r->rops = resp.rop_count;
	if (s != S_OK)
		ok = send_mapi_error(r, c, MH_RESPONSE_UNKNOWN_FAILURE, last_message(), NULL);
	else if (resp.response_code != 0)
		ok = send_mapi_error(r, c, resp.response_code, resp.diagnostic, &resp);
	else if (resp.hold != 0 || fault_stall)
		ok =
		    send_mapi_held(r, c, &resp, resp.hold > stall_ms ? resp.hold : stall_ms, false);
	else
		ok = send_mapi_success(r, c, &resp);
	mh_buf_free(&resp.body);
	return ok;
}

static enum MHD_Result send_verdict(request *r, struct MHD_Connection *c)
{
	switch (r->verdict) {
	case V_NOT_FOUND:
		return send_text(r, c, MHD_HTTP_NOT_FOUND, "text/plain", "Not Found\n");
	case V_BAD_METHOD:
		return send_text(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
		                 "Method Not Allowed\n");
	case V_UNAUTHORIZED:
		return send_text(r, c, MHD_HTTP_UNAUTHORIZED, "text/plain", "Unauthorized\n");
	case V_TOO_LARGE:
		return send_text(r, c, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain",
		                 "Request body too large\n");
	case V_MAPI_ERROR:
		return send_mapi_error(r, c, r->code, r->diag, NULL);
	case V_POX_ERROR:
		return send_pox(r, c, r->code, r->diag);
	case V_SERVER_ERROR:
	default:
		return send_text(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
		                 "Internal Server Error\n");
	}
}

static void too_large(request *r)
{
	char d[96];
	snprintf(d, sizeof(d), "the request body is over the %zu-byte limit", r->cap);
	if (r->route == ROUTE_EMSMDB || r->route == ROUTE_NSPI)
		set_verdict(r, V_MAPI_ERROR, MH_RESPONSE_TOO_LARGE, d);
	else
		set_verdict(r, V_TOO_LARGE, 0, NULL);
}

static enum MHD_Result finish(request *r, struct MHD_Connection *c)
{
	if (r->too_large)
		too_large(r);
	if (r->verdict != V_OK)
		return send_verdict(r, c);
	if (mh_buf_status(&r->body) != S_OK)
		return send_text(r, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
		                 "Internal Server Error\n");
	switch (r->route) {
	case ROUTE_POX:
		return send_pox(r, c, 0, NULL);
	case ROUTE_JSON:
		return send_json(r, c);
	default:
		return dispatch_mapi(r, c);
	}
}

static void client_text(struct MHD_Connection *c, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, cap, "-");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)cap);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)cap);
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	mh_srv_http *h = cls;
	request *r = *con_cls;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		r->srv = h;
		clock_gettime(CLOCK_MONOTONIC, &r->start);
		mh_arena_init(&r->arena, 0);
		r->response_code = -1;
		snprintf(r->request_type, sizeof(r->request_type), "-");
		client_text(c, r->client, sizeof(r->client));
		pthread_mutex_lock(&h->lock);
		h->in_flight++;
		pthread_mutex_unlock(&h->lock);
		*con_cls = r;
		check_request(r, c, url, method);
		long long cl = content_length(c);
		if (cl > 0 && (unsigned long long)cl > r->cap) {
			/* Answer before reading a body we would refuse anyway. */
			r->in_bytes = (size_t)cl;
			if (r->verdict == V_OK)
				too_large(r);
			return send_verdict(r, c);
		}
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		size_t n = *upload_data_size;
		r->in_bytes += n;
		if (r->verdict == V_OK && !r->too_large) {
			if (r->body.len + n > r->cap) {
				r->too_large = true;
				mh_buf_free(&r->body);
			} else {
				mh_buf_put(&r->body, upload_data, n);
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return finish(r, c);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)c;
	(void)toe;
	mh_srv_http *h = cls;
	request *r = *con_cls;
	if (r == NULL)
		return;
	*con_cls = NULL;
	if (r->log_at_end)
		log_request(r);
	mh_buf_free(&r->body);
	mh_arena_free(&r->arena);
	free(r);
	pthread_mutex_lock(&h->lock);
	h->in_flight--;
	if (h->in_flight == 0)
		pthread_cond_broadcast(&h->idle);
	pthread_mutex_unlock(&h->lock);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	FILE *f = cls;
	if (f == NULL)
		return;
	fputs("mapihttpd: libmicrohttpd: ", f);
	vfprintf(f, fmt, ap);
	fflush(f);
}

/* ---- start and stop --------------------------------------------------------------------- */

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

static void free_server(mh_srv_http *h)
{
	if (h->cert != NULL) {
		memset(h->cert, 0, strlen(h->cert));
		free(h->cert);
	}
	if (h->key != NULL) {
		/* The key is a secret: do not leave it in freed memory. */
		volatile char *k = h->key;
		for (size_t i = 0; k[i] != 0; i++)
			k[i] = 0;
		free(h->key);
	}
	free(h->base_url);
	pthread_cond_destroy(&h->wake);
	pthread_cond_destroy(&h->idle);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

mh_status mh_srv_http_start(mh_srv_http **out, mh_srv_store *st, const mh_srv_http_options *opts)
{
	*out = NULL;
	if (opts == NULL || opts->version != 1 || opts->listen_fd < 0 || st == NULL ||
	    opts->base_url == NULL || (opts->tls_cert == NULL) != (opts->tls_key == NULL)) {
		if (opts != NULL && opts->listen_fd >= 0)
			close(opts->listen_fd);
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mapihttpd: bad HTTP server options (listen socket, base URL, "
		                    "or a certificate without a key)");
	}
	bool tls = opts->tls_cert != NULL;
	if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		close(opts->listen_fd);
		return mh_error_set(
		    MAPI_E_NO_SUPPORT, -1,
		    "this libmicrohttpd was built without TLS; HTTPS is unavailable");
	}
	mh_srv_http *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		close(opts->listen_fd);
		return mh_error_oom();
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->idle, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	h->store = st;
	h->pending_period = opts->pending_period != 0 ? opts->pending_period : PENDING_PERIOD_MS;
	h->opts = *opts;
	h->tls = tls;
	h->max_body = opts->max_body != 0 ? opts->max_body : MH_SRV_HTTP_DEFAULT_MAX_BODY;
	h->base_url = dup_str(opts->base_url);
	if (tls) {
		h->cert = dup_str(opts->tls_cert);
		h->key = dup_str(opts->tls_key);
	}
	if (h->base_url == NULL || (tls && (h->cert == NULL || h->key == NULL))) {
		close(opts->listen_fd);
		free_server(h);
		return mh_error_oom();
	}
	/* libxml2 must be initialised before threads use it. */
	xmlInitParser();

	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (tls)
		flags |= MHD_USE_TLS;
	unsigned max_conn = opts->max_connections != 0 ? opts->max_connections : 1024u;
	unsigned timeout = opts->timeout != 0 ? opts->timeout : 300u;
	struct MHD_OptionItem tls_opts[] = {
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, h->key},
	    {MHD_OPTION_END, 0, NULL},
	};
	struct MHD_OptionItem no_opts[] = {{MHD_OPTION_END, 0, NULL}};
	h->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
	    (void *)opts->log, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)opts->listen_fd,
	    MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_CONNECTION_TIMEOUT, timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, h, MHD_OPTION_ARRAY, tls ? tls_opts : no_opts, MHD_OPTION_END);
	if (h->daemon == NULL) {
		close(opts->listen_fd);
		free_server(h);
		return mh_error_set(MAPI_E_CALL_FAILED, -1, "libmicrohttpd did not start (%s)",
		                    tls ? "check that the certificate and key are PEM and match"
		                        : "see the message above");
	}
	*out = h;
	return S_OK;
}

void mh_srv_http_stop(mh_srv_http *h, unsigned grace_ms)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_broadcast(&h->wake); /* held answers send DONE now */
	pthread_mutex_unlock(&h->lock);
	MHD_socket fd = MHD_quiesce_daemon(h->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += grace_ms / 1000;
	deadline.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->lock);
	while (h->in_flight > 0) {
		if (pthread_cond_timedwait(&h->idle, &h->lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&h->lock);
	MHD_stop_daemon(h->daemon);
	free_server(h);
}
