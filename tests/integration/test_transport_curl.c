/*
 * The libcurl transport against the built mapihttpd (MH_SERVER_PATH) on port 0: Basic and
 * Bearer, MAPI/HTTP answers streamed and held, keep-alive reuse counted by a forwarding proxy,
 * concurrency, HTTPS verification, network failures and timeouts, cancel and callback errors.
 */
#define _DEFAULT_SOURCE /* mkdtemp, strdup, setenv */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "mapihttpd_proc.h"

#include "codec/emsmdb.h"
#include "codec/mapihttp.h"
#include "mapihttp/sys/transport.h"
#include "util/buf.h"
#include "util/cursor.h"
#include "util/diag.h"

#ifndef MH_SERVER_PATH
#error "MH_SERVER_PATH must name the mapihttpd binary"
#endif

#define DN_PREFIX  "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define ALICE_GUID "3a355873-72e9-840e-9c30-d2cf806e1a0f"
#define MBX_ALICE  "/mapi/emsmdb/?MailboxId=" ALICE_GUID "@contoso.test"
#define NS_OUTLOOK "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
#define POX_PATH   "/autodiscover/autodiscover.xml"

/* ---- the server process ------------------------------------------------------------------ */

/* Stops s with SIGTERM, removes its directory, and wants a clean exit. */
static void server_stop(mh_test_server *s)
{
	int st = mh_test_server_stop(s, SIGTERM);
	mh_test_server_cleanup(s);
	assert_int_equal(st, 0);
}

static int url_port(const char *url)
{
	const char *p = strrchr(url, ':');
	assert_non_null(p);
	return atoi(p + 1);
}

/* ---- a forwarding proxy that counts the connections it accepts -------------------------- */

enum { PROXY_PAIRS = 32 };

typedef struct proxy {
	int lfd;
	int port;
	int target_port;
	int stop[2];
	pthread_t th;
	atomic_uint accepted;
	char url[64];
} proxy;

static void *proxy_main(void *arg)
{
	proxy *px = arg;
	int a[PROXY_PAIRS], b[PROXY_PAIRS];
	size_t n = 0;
	char buf[16384];
	for (;;) {
		struct pollfd fds[2 + 2 * PROXY_PAIRS];
		fds[0] = (struct pollfd){px->stop[0], POLLIN, 0};
		fds[1] = (struct pollfd){px->lfd, POLLIN, 0};
		for (size_t i = 0; i < n; i++) {
			fds[2 + 2 * i] = (struct pollfd){a[i], POLLIN, 0};
			fds[3 + 2 * i] = (struct pollfd){b[i], POLLIN, 0};
		}
		if (poll(fds, 2 + 2 * n, -1) < 0)
			continue;
		if (fds[0].revents != 0)
			break;
		for (size_t i = n; i-- > 0;) {
			for (int side = 0; side < 2; side++) {
				short ev = fds[2 + 2 * i + (size_t)side].revents;
				if (ev == 0)
					continue;
				int from = side == 0 ? a[i] : b[i], to = side == 0 ? b[i] : a[i];
				ssize_t got = read(from, buf, sizeof(buf));
				if (got > 0 && mh_test_write_all(to, buf, (size_t)got) == 0)
					continue;
				close(a[i]);
				close(b[i]);
				a[i] = a[n - 1];
				b[i] = b[n - 1];
				n--;
				break;
			}
		}
		if (fds[1].revents != 0) {
			int c = accept(px->lfd, NULL, NULL);
			if (c < 0)
				continue;
			atomic_fetch_add(&px->accepted, 1);
			int s = socket(AF_INET, SOCK_STREAM, 0);
			struct sockaddr_in sa = {0};
			sa.sin_family = AF_INET;
			sa.sin_port = htons((uint16_t)px->target_port);
			sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (n == PROXY_PAIRS || s < 0 ||
			    connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
				close(c);
				if (s >= 0)
					close(s);
				continue;
			}
			a[n] = c;
			b[n] = s;
			n++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		close(a[i]);
		close(b[i]);
	}
	return NULL;
}

static void proxy_start(proxy *px, const char *target_url)
{
	memset(px, 0, sizeof(*px));
	atomic_init(&px->accepted, 0);
	px->target_port = url_port(target_url);
	px->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(px->lfd >= 0);
	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(px->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(px->lfd, 64), 0);
	socklen_t len = sizeof(sa);
	assert_int_equal(getsockname(px->lfd, (struct sockaddr *)&sa, &len), 0);
	px->port = ntohs(sa.sin_port);
	snprintf(px->url, sizeof(px->url), "http://127.0.0.1:%d", px->port);
	assert_int_equal(pipe(px->stop), 0);
	assert_int_equal(pthread_create(&px->th, NULL, proxy_main, px), 0);
}

static void proxy_stop(proxy *px)
{
	assert_int_equal(write(px->stop[1], "x", 1), 1);
	assert_int_equal(pthread_join(px->th, NULL), 0);
	close(px->stop[0]);
	close(px->stop[1]);
	close(px->lfd);
}

/* ---- a server with one canned answer, for what mapihttpd never sends -------------------- */

typedef struct canned {
	int lfd;
	const char *answer;
	size_t answer_len;
	pthread_t th;
	char url[64];
} canned;

/* Reads one request (headers and a Content-Length body), answers it, waits for the close. */
static void *canned_main(void *arg)
{
	canned *c = arg;
	/* Bounded waits, so a failed test does not leave this thread blocked. */
	struct pollfd pl = {c->lfd, POLLIN, 0};
	if (poll(&pl, 1, 10000) != 1)
		return NULL;
	int fd = accept(c->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char req[65536];
	size_t n = 0;
	char *end = NULL;
	while (end == NULL && n + 1 < sizeof(req)) {
		ssize_t got = read(fd, req + n, sizeof(req) - 1 - n);
		if (got <= 0)
			break;
		n += (size_t)got;
		req[n] = 0;
		end = strstr(req, "\r\n\r\n");
	}
	if (end != NULL) {
		size_t body = 0;
		for (char *p = req; p < end; p++)
			if (strncasecmp(p, "\r\nContent-Length:", 17) == 0)
				body = strtoul(p + 17, NULL, 10);
		size_t have = n - (size_t)(end + 4 - req);
		while (have < body) {
			ssize_t got = read(fd, req, sizeof(req));
			if (got <= 0)
				break;
			have += (size_t)got;
		}
		mh_test_write_all(fd, c->answer, c->answer_len);
		while (read(fd, req, sizeof(req)) > 0)
			;
	}
	close(fd);
	return NULL;
}

static void canned_start(canned *c, const char *answer, size_t len)
{
	memset(c, 0, sizeof(*c));
	c->answer = answer;
	c->answer_len = len;
	c->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->lfd >= 0);
	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(c->lfd, 4), 0);
	socklen_t len2 = sizeof(sa);
	assert_int_equal(getsockname(c->lfd, (struct sockaddr *)&sa, &len2), 0);
	snprintf(c->url, sizeof(c->url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	assert_int_equal(pthread_create(&c->th, NULL, canned_main, c), 0);
}

/* After the client's transport is freed (which closes the connection). */
static void canned_stop(canned *c)
{
	assert_int_equal(pthread_join(c->th, NULL), 0);
	close(c->lfd);
}

/* ---- one request and what its callbacks saw ------------------------------------------------ */

enum { MAX_SEEN_HEADERS = 64 };

typedef struct xfer {
	/* the request */
	mh_transport_request rq;
	mh_transport_header h[12];
	size_t nh;
	char url[600];
	mh_buf body;
	char type_line[40];
	mh_mapihttp_request_headers mh;
	char cookie[1024];
	/* behaviour */
	mh_status fail_headers, fail_data;
	mh_transport *t;             /* for callbacks that cancel or start */
	bool cancel_in_data;         /* cancel itself from its first on_data */
	bool cancel_in_headers;      /* cancel itself from on_headers */
	struct xfer *start_on_done;  /* started from on_done */
	bool free_transport_on_done; /* mh_transport_free from on_done */
	/* what happened */
	uint64_t id;
	unsigned header_calls, data_calls;
	long http_status;
	char *names[MAX_SEEN_HEADERS], *values[MAX_SEEN_HEADERS];
	size_t n_seen;
	mh_buf got;
	bool done;
	mh_status status;
	char msg[1024];
	bool cancelled; /* no callback may run after this is set */
	/* the MAPI/HTTP stream of the body, fed as it arrives */
	mh_mapihttp_stream stream;
	mh_status stream_err;
	unsigned pending_events;
	mh_buf mapi_body;
} xfer;

static mh_status on_event(const mh_mapihttp_event *ev, void *payload)
{
	xfer *x = payload;
	if (ev->kind == MH_MAPIHTTP_EV_PENDING)
		x->pending_events++;
	if (ev->kind == MH_MAPIHTTP_EV_BODY)
		mh_buf_put(&x->mapi_body, ev->data, ev->len);
	return S_OK;
}

static void xfer_init(xfer *x)
{
	memset(x, 0, sizeof(*x));
	mh_transport_request init = MH_TRANSPORT_REQUEST_INIT;
	x->rq = init;
	x->rq.url = x->url;
	x->rq.headers = x->h;
	x->rq.total_timeout_ms = 20000; /* no test can hang */
	mh_mapihttp_stream_init(&x->stream, on_event, x);
}

static void xfer_free(xfer *x)
{
	for (size_t i = 0; i < x->n_seen; i++) {
		free(x->names[i]);
		free(x->values[i]);
	}
	mh_buf_free(&x->body);
	mh_buf_free(&x->got);
	mh_buf_free(&x->mapi_body);
}

/* The idx-th value of header name (case-insensitive), or NULL. */
static const char *seen(const xfer *x, const char *name, size_t idx)
{
	for (size_t i = 0; i < x->n_seen; i++)
		if (strcasecmp(x->names[i], name) == 0 && idx-- == 0)
			return x->values[i];
	return NULL;
}

static void add_header(xfer *x, const char *name, const char *value)
{
	assert_true(x->nh < sizeof(x->h) / sizeof(x->h[0]));
	x->h[x->nh].name = name;
	x->h[x->nh].value = value;
	x->nh++;
	x->rq.n_headers = x->nh;
}

static void set_body(xfer *x)
{
	x->rq.body = x->body.data;
	x->rq.body_len = x->body.len;
}

/* A POX Autodiscover request for address as user (Basic). */
static void pox(xfer *x, const char *base, const char *address, const char *user,
                const char *password)
{
	xfer_init(x);
	snprintf(x->url, sizeof(x->url), "%s%s", base, POX_PATH);
	char doc[1024];
	snprintf(doc, sizeof(doc),
	         "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	         "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/"
	         "requestschema/2006\"><Request><EMailAddress>%s</EMailAddress>"
	         "<AcceptableResponseSchema>" NS_OUTLOOK "</AcceptableResponseSchema>"
	         "</Request></Autodiscover>\n",
	         address);
	mh_buf_put(&x->body, doc, strlen(doc));
	assert_int_equal(mh_buf_status(&x->body), S_OK);
	set_body(x);
	add_header(x, "Content-Type", "text/xml; charset=utf-8");
	add_header(x, "X-MapiHttpCapability", "1");
	x->rq.auth.scheme = MH_AUTH_BASIC;
	x->rq.auth.user = user;
	x->rq.auth.secret = password;
}

/* A MAPI/HTTP request of type to alice's EMSMDB endpoint, as alice (Basic), body empty. */
static void mapi(xfer *x, const char *base, mh_mapihttp_request_type type)
{
	xfer_init(x);
	snprintf(x->url, sizeof(x->url), "%s%s", base, MBX_ALICE);
	mh_mapihttp_request_info info = MH_MAPIHTTP_REQUEST_INFO_INIT;
	info.type = type;
	info.request_guid.Data1 = 0x9730973a;
	info.request_counter = 1;
	info.client_guid.Data1 = 0x2f94a2bf;
	info.client_counter = 6;
	assert_int_equal(mh_mapihttp_request_headers_build(&x->mh, &info), S_OK);
	for (size_t i = 0; i < x->mh.n; i++)
		add_header(x, x->mh.h[i].name, x->mh.h[i].value);
	x->rq.auth.scheme = MH_AUTH_BASIC;
	x->rq.auth.user = "alice@contoso.test";
	x->rq.auth.secret = "Alice-Pass-1";
}

static void mapi_connect(xfer *x, const char *base)
{
	mapi(x, base, MH_RT_CONNECT);
	mh_emsmdb_connect_request cr;
	memset(&cr, 0, sizeof(cr));
	cr.user_dn = DN_PREFIX "/cn=Recipients/cn=alice";
	cr.default_code_page = 1252;
	cr.lcid_sort = 1033;
	cr.lcid_string = 1033;
	assert_int_equal(mh_emsmdb_connect_request_push(&x->body, &cr), S_OK);
	set_body(x);
}

static mh_status on_headers(void *ud, long http_status, const mh_transport_header *h, size_t n)
{
	xfer *x = ud;
	assert_false(x->cancelled);
	assert_false(x->done);
	assert_int_equal(x->data_calls, 0);
	x->header_calls++;
	x->http_status = http_status;
	for (size_t i = 0; i < n && x->n_seen < MAX_SEEN_HEADERS; i++) {
		x->names[x->n_seen] = strdup(h[i].name);
		x->values[x->n_seen] = strdup(h[i].value);
		x->n_seen++;
	}
	if (x->cancel_in_headers) {
		x->t->ops->cancel(x->t->self, x->id);
		x->cancelled = true;
		return S_OK;
	}
	if (x->fail_headers != S_OK)
		return mh_error_set(x->fail_headers, -1, "test: on_headers refuses the answer");
	return S_OK;
}

static mh_status on_data(void *ud, const void *data, size_t len)
{
	xfer *x = ud;
	assert_false(x->cancelled);
	assert_false(x->done);
	assert_int_equal(x->header_calls, 1);
	x->data_calls++;
	mh_buf_put(&x->got, data, len);
	if (x->stream_err == S_OK)
		x->stream_err = mh_mapihttp_stream_feed(&x->stream, data, len);
	if (x->cancel_in_data) {
		x->t->ops->cancel(x->t->self, x->id);
		x->cancelled = true;
		return S_OK;
	}
	if (x->fail_data != S_OK)
		return mh_error_set(x->fail_data, -1, "test: on_data refuses the body");
	return S_OK;
}

static void start(mh_transport *t, xfer *x);

static void on_done(void *ud, mh_status status)
{
	xfer *x = ud;
	assert_false(x->cancelled);
	assert_false(x->done);
	x->done = true;
	x->status = status;
	const mh_error *e = mh_error_last();
	if (status != S_OK && e != NULL) {
		assert_int_equal(e->status, status);
		snprintf(x->msg, sizeof(x->msg), "%s", e->message);
	}
	if (x->start_on_done != NULL)
		start(x->t, x->start_on_done);
	if (x->free_transport_on_done)
		mh_transport_free(x->t);
}

static void start(mh_transport *t, xfer *x)
{
	mh_transport_callbacks cb = {on_headers, on_data, on_done, x};
	x->t = t;
	assert_int_equal(t->ops->start(t->self, &x->rq, &cb, &x->id), S_OK);
	/* Nothing runs from start(). */
	assert_int_equal(x->header_calls + x->data_calls, 0);
	assert_false(x->done);
}

/* Runs t until x is done (each request carries a total timeout, so this ends). */
static void run_until(mh_transport *t, const xfer *x)
{
	for (int i = 0; i < 100 && !x->done; i++)
		assert_int_equal(t->ops->run(t->self, 1000), S_OK);
	assert_true(x->done);
}

static mh_transport *new_transport(const mh_transport_curl_options *o)
{
	mh_transport *t = NULL;
	assert_int_equal(mh_transport_curl_new(&t, o), S_OK);
	assert_non_null(t);
	return t;
}

/* One request on a fresh transport, to completion. */
static void one(xfer *x, const mh_transport_curl_options *o)
{
	mh_transport *t = new_transport(o);
	start(t, x);
	assert_int_equal(t->ops->pending(t->self), 1);
	run_until(t, x);
	assert_int_equal(t->ops->pending(t->self), 0);
	mh_transport_free(t);
}

static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay != 0; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

static mh_test_server g_server;

static int group_setup(void **state)
{
	(void)state;
	const char *const extra[] = {"--quiet", NULL};
	assert_int_equal(mh_test_server_start(&g_server, MH_SERVER_PATH, extra), 0);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	server_stop(&g_server);
	return 0;
}

/* ---- answers -------------------------------------------------------------------------------- */

static void test_transport_curl__basic_autodiscover(void **state)
{
	(void)state;
	xfer x;
	pox(&x, g_server.url, "alice@contoso.test", "alice@contoso.test", "Alice-Pass-1");
	one(&x, NULL);
	assert_int_equal(x.status, S_OK);
	assert_int_equal(x.header_calls, 1);
	assert_int_equal(x.http_status, 200);
	assert_non_null(seen(&x, "Content-Type", 0));
	assert_true(contains_ci(seen(&x, "Content-Type", 0), "xml"));
	mh_buf_put(&x.got, "", 1);
	assert_non_null(
	    strstr((const char *)x.got.data, "<AutoDiscoverSMTPAddress>alice@contoso.test"));
	assert_non_null(strstr((const char *)x.got.data, "/mapi/emsmdb/?MailboxId=" ALICE_GUID));
	xfer_free(&x);
}

/* Only the final answer's headers arrive: the 100 Continue before it is skipped. */
static void test_transport_curl__skips_interim_response(void **state)
{
	(void)state;
	xfer x;
	pox(&x, g_server.url, "alice@contoso.test", "alice@contoso.test", "Alice-Pass-1");
	add_header(&x, "Expect", "100-continue");
	one(&x, NULL);
	assert_int_equal(x.status, S_OK);
	assert_int_equal(x.header_calls, 1);
	assert_int_equal(x.http_status, 200);
	assert_non_null(seen(&x, "Content-Type", 0));
	for (size_t i = 0; i < x.n_seen; i++)
		assert_true(x.names[i][0] != 0 && strchr(x.names[i], ' ') == NULL);
	xfer_free(&x);
}

/*
 * An answer without a body: its headers arrive when the transfer ends, after an unasked-for
 * 100 Continue; values are trimmed and a folded line is joined.
 */
static const char answer_204[] = "HTTP/1.1 100 Continue\r\n\r\n"
                                 "HTTP/1.1 204 No Content\r\n"
                                 "X-Fold: a\r\n"
                                 "   b\r\n"
                                 "X-Empty:\r\n"
                                 "X-Two:  v2 \r\n"
                                 "\r\n";

static void test_transport_curl__answer_without_body(void **state)
{
	(void)state;
	canned c;
	canned_start(&c, answer_204, sizeof(answer_204) - 1);
	xfer x;
	pox(&x, c.url, "alice@contoso.test", "alice@contoso.test", "Alice-Pass-1");
	one(&x, NULL);
	canned_stop(&c);
	assert_int_equal(x.status, S_OK);
	assert_int_equal(x.header_calls, 1);
	assert_int_equal(x.data_calls, 0);
	assert_int_equal(x.http_status, 204);
	assert_int_equal(x.n_seen, 3);
	assert_string_equal(seen(&x, "X-Fold", 0), "a b");
	assert_string_equal(seen(&x, "X-Empty", 0), "");
	assert_string_equal(seen(&x, "X-Two", 0), "v2");
	xfer_free(&x);

	/* on_headers cancels its own request as it ends: on_done does not run. */
	canned_start(&c, answer_204, sizeof(answer_204) - 1);
	mh_transport *t = new_transport(NULL);
	pox(&x, c.url, "alice@contoso.test", "alice@contoso.test", "Alice-Pass-1");
	x.cancel_in_headers = true;
	start(t, &x);
	for (int i = 0; i < 100 && !x.cancelled; i++)
		assert_int_equal(t->ops->run(t->self, 100), S_OK);
	assert_true(x.cancelled);
	assert_int_equal(t->ops->pending(t->self), 0);
	assert_int_equal(t->ops->run(t->self, 100), S_OK);
	assert_false(x.done);
	mh_transport_free(t);
	canned_stop(&c);
	xfer_free(&x);
}

/* Headers without end are refused, not buffered. */
static void test_transport_curl__header_flood(void **state)
{
	(void)state;
	mh_buf a = MH_BUF_INIT;
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
	mh_buf_put(&a, head, strlen(head));
	for (int i = 0; i < 600; i++) {
		char line[40];
		snprintf(line, sizeof(line), "X-H%d: v\r\n", i);
		mh_buf_put(&a, line, strlen(line));
	}
	mh_buf_put(&a, "\r\nok", 4);
	assert_int_equal(mh_buf_status(&a), S_OK);
	canned c;
	canned_start(&c, (const char *)a.data, a.len);
	xfer x;
	pox(&x, c.url, "alice@contoso.test", "alice@contoso.test", "Alice-Pass-1");
	one(&x, NULL);
	canned_stop(&c);
	assert_int_equal(x.status, MAPI_E_NETWORK_ERROR);
	assert_int_equal(x.header_calls + x.data_calls, 0);
	assert_non_null(strstr(x.msg, "headers"));
	xfer_free(&x);
	mh_buf_free(&a);
}

static void test_transport_curl__wrong_password(void **state)
{
	(void)state;
	xfer x;
	pox(&x, g_server.url, "alice@contoso.test", "alice@contoso.test", "Not-Alices-Pass");
	one(&x, NULL);
	/* An answer, not a transport failure: the caller judges the 401. */
	assert_int_equal(x.status, S_OK);
	assert_int_equal(x.header_calls, 1);
	assert_int_equal(x.http_status, 401);
	const char *c0 = seen(&x, "WWW-Authenticate", 0), *c1 = seen(&x, "WWW-Authenticate", 1);
	assert_non_null(c0);
	assert_non_null(c1);
	assert_true(strncasecmp(c0, "Basic", 5) == 0 || strncasecmp(c1, "Basic", 5) == 0);
	xfer_free(&x);
}

static void test_transport_curl__bearer(void **state)
{
	(void)state;
	xfer x;
	pox(&x, g_server.url, "svc@contoso.test", NULL, NULL);
	x.rq.auth.scheme = MH_AUTH_BEARER;
	x.rq.auth.secret = "svc-token-0001";
	one(&x, NULL);
	assert_int_equal(x.status, S_OK);
	assert_int_equal(x.http_status, 200);
	mh_buf_put(&x.got, "", 1);
	assert_non_null(
	    strstr((const char *)x.got.data, "<AutoDiscoverSMTPAddress>svc@contoso.test"));

	/* A token the server does not know is a 401. */
	xfer_free(&x);
	pox(&x, g_server.url, "svc@contoso.test", NULL, NULL);
	x.rq.auth.scheme = MH_AUTH_BEARER;
	x.rq.auth.secret = "svc-token-9999";
	one(&x, NULL);
	assert_int_equal(x.status, S_OK);
	assert_int_equal(x.http_status, 401);
	xfer_free(&x);
}

/* The Connect answer streams through on_data into the MAPI/HTTP stream parser. */
static void test_transport_curl__mapi_connect(void **state)
{
	(void)state;
	xfer x;
	mapi_connect(&x, g_server.url);
	one(&x, NULL);
	assert_int_equal(x.status, S_OK);
	assert_int_equal(x.http_status, 200);
	assert_string_equal(seen(&x, "X-ResponseCode", 0), "0");
	assert_string_equal(seen(&x, "X-RequestType", 0), "Connect");
	assert_non_null(strstr(seen(&x, "Set-Cookie", 0), "MapiContext="));
	assert_true(x.data_calls >= 1);
	assert_int_equal(x.stream_err, S_OK);
	assert_int_equal(mh_mapihttp_stream_finish(&x.stream), S_OK);
	assert_int_equal(x.stream.processing, 1);
	mh_arena a = MH_ARENA_INIT;
	mh_cursor cur;
	mh_cursor_init(&cur, x.mapi_body.data, x.mapi_body.len, MAPI_E_CORRUPT_DATA);
	mh_emsmdb_connect_response resp;
	assert_int_equal(mh_emsmdb_connect_response_pull(&cur, &a, &resp), S_OK);
	assert_int_equal(resp.status_code, 0);
	assert_int_equal(resp.error_code, 0);
	assert_string_equal(resp.display_name, "Alice Archer");
	mh_arena_free(&a);
	xfer_free(&x);
}

/* "MapiContext=...; MapiSequence=..." from the Set-Cookie headers x saw. */
static void cookies_of(const xfer *x, char *out, size_t cap)
{
	out[0] = 0;
	const char *v;
	for (size_t i = 0; (v = seen(x, "Set-Cookie", i)) != NULL; i++) {
		size_t used = strlen(out);
		snprintf(out + used, cap - used, "%s%.*s", used != 0 ? "; " : "",
		         (int)strcspn(v, ";"), v);
	}
}

/* A held NotificationWait arrives in several pieces, PENDING lines among them. */
static void test_transport_curl__held_answer_streams(void **state)
{
	(void)state;
	mh_test_server s;
	const char *extra[] = {"--quiet", "--notification-wait", "300", "--pending-period", "50",
	                       NULL};
	assert_int_equal(mh_test_server_start(&s, MH_SERVER_PATH, extra), 0);
	mh_transport *t = new_transport(NULL);
	xfer c;
	mapi_connect(&c, s.url);
	start(t, &c);
	run_until(t, &c);
	assert_int_equal(c.status, S_OK);
	assert_string_equal(seen(&c, "X-ResponseCode", 0), "0");

	xfer w;
	mapi(&w, s.url, MH_RT_NOTIFICATIONWAIT);
	cookies_of(&c, w.cookie, sizeof(w.cookie));
	assert_non_null(strstr(w.cookie, "MapiContext="));
	add_header(&w, "Cookie", w.cookie);
	mh_emsmdb_notificationwait_request nw;
	memset(&nw, 0, sizeof(nw));
	assert_int_equal(mh_emsmdb_notificationwait_request_push(&w.body, &nw), S_OK);
	set_body(&w);
	/* PENDING every 50 ms keeps a 1 s idle limit from firing during the 300 ms hold. */
	w.rq.idle_timeout_ms = 1000;
	start(t, &w);
	run_until(t, &w);
	assert_int_equal(w.status, S_OK);
	assert_int_equal(w.http_status, 200);
	assert_string_equal(seen(&w, "Transfer-Encoding", 0), "chunked");
	assert_int_equal(w.stream_err, S_OK);
	assert_int_equal(mh_mapihttp_stream_finish(&w.stream), S_OK);
	assert_true(w.pending_events >= 1);
	assert_true(w.data_calls >= 2); /* delivered as it came, not at the end */
	assert_true(w.stream.elapsed_time >= 300);
	mh_arena a = MH_ARENA_INIT;
	mh_cursor cur;
	mh_cursor_init(&cur, w.mapi_body.data, w.mapi_body.len, MAPI_E_CORRUPT_DATA);
	mh_emsmdb_notificationwait_response resp;
	assert_int_equal(mh_emsmdb_notificationwait_response_pull(&cur, &a, &resp), S_OK);
	assert_int_equal(resp.status_code, 0);
	mh_arena_free(&a);
	xfer_free(&w);
	xfer_free(&c);
	mh_transport_free(t);
	server_stop(&s);
}

/*
 * Requests waiting for a free connection (the per-host limit) are not idle: the limit counts
 * from when a transfer gets going. PENDING every 50 ms keeps the active ones alive.
 */
static void test_transport_curl__idle_limit_waits_for_a_connection(void **state)
{
	(void)state;
	enum { N = 3 };
	mh_test_server s;
	const char *extra[] = {"--quiet",          "--fault", "stall,every=1,ms=600",
	                       "--pending-period", "50",      NULL};
	assert_int_equal(mh_test_server_start(&s, MH_SERVER_PATH, extra), 0);
	mh_transport_curl_options o = MH_TRANSPORT_CURL_OPTIONS_INIT;
	o.max_host_connections = 1;
	mh_transport *t = new_transport(&o);
	xfer x[N];
	for (int i = 0; i < N; i++) {
		mapi_connect(&x[i], s.url);
		x[i].rq.idle_timeout_ms = 400;
		start(t, &x[i]);
	}
	for (int i = 0; i < 200 && t->ops->pending(t->self) != 0; i++)
		assert_int_equal(t->ops->run(t->self, -1), S_OK);
	for (int i = 0; i < N; i++) {
		assert_true(x[i].done);
		assert_int_equal(x[i].status, S_OK);
		assert_true(x[i].pending_events >= 1);
		xfer_free(&x[i]);
	}
	mh_transport_free(t);
	server_stop(&s);
}

/* ---- connections ---------------------------------------------------------------------------- */

/* Sequential requests, across two session contexts, go over one kept-alive connection. */
static void test_transport_curl__keep_alive(void **state)
{
	(void)state;
	proxy px;
	proxy_start(&px, g_server.url);
	mh_transport *t = new_transport(NULL);
	for (int i = 0; i < 12; i++) {
		xfer x;
		if (i % 6 == 5)
			mapi_connect(&x, px.url);
		else
			pox(&x, px.url, "bob@contoso.test", "bob@contoso.test", "Bob-Pass-1");
		start(t, &x);
		run_until(t, &x);
		assert_int_equal(x.status, S_OK);
		assert_int_equal(x.http_status, 200);
		xfer_free(&x);
	}
	assert_int_equal(atomic_load(&px.accepted), 1);
	mh_transport_free(t);
	proxy_stop(&px);
}

/* Many requests in flight on one transport all complete, within the per-host limit. */
static void test_transport_curl__concurrent(void **state)
{
	(void)state;
	enum { N = 10 };
	proxy px;
	proxy_start(&px, g_server.url);
	mh_transport_curl_options o = MH_TRANSPORT_CURL_OPTIONS_INIT;
	o.max_host_connections = 2;
	mh_transport *t = new_transport(&o);
	xfer *x = calloc(N, sizeof(*x));
	assert_non_null(x);
	for (int i = 0; i < N; i++) {
		if (i % 2 == 0)
			pox(&x[i], px.url, "carol@contoso.test", "carol@contoso.test",
			    "Carol-Pass-1");
		else
			mapi_connect(&x[i], px.url);
		start(t, &x[i]);
	}
	assert_int_equal(t->ops->pending(t->self), N);
	for (int i = 0; i < 200 && t->ops->pending(t->self) != 0; i++)
		assert_int_equal(t->ops->run(t->self, -1), S_OK);
	assert_int_equal(t->ops->pending(t->self), 0);
	for (int i = 0; i < N; i++) {
		assert_true(x[i].done);
		assert_int_equal(x[i].status, S_OK);
		assert_int_equal(x[i].http_status, 200);
		xfer_free(&x[i]);
	}
	unsigned conns = atomic_load(&px.accepted);
	assert_true(conns >= 1 && conns <= 2);
	free(x);
	mh_transport_free(t);
	proxy_stop(&px);
}

static void test_transport_curl__https(void **state)
{
	(void)state;
	mh_test_server s;
	const char *extra[] = {"--quiet", NULL};
	int rc = mh_test_server_start_https(&s, MH_SERVER_PATH, extra);
	if (rc == 1)
		skip(); /* no openssl tool here */
	assert_int_equal(rc, 0);
	assert_int_equal(strncmp(s.url, "https://", 8), 0);

	/* Verified against the certificate as CA. */
	mh_transport_curl_options o = MH_TRANSPORT_CURL_OPTIONS_INIT;
	o.cacert = s.cert;
	xfer x;
	pox(&x, s.url, "bob@contoso.test", "bob@contoso.test", "Bob-Pass-1");
	one(&x, &o);
	assert_int_equal(x.status, S_OK);
	assert_int_equal(x.http_status, 200);
	xfer_free(&x);

	/* The system's CAs do not know it. */
	pox(&x, s.url, "bob@contoso.test", "bob@contoso.test", "Bob-Pass-1");
	one(&x, NULL);
	assert_int_equal(x.status, MAPI_E_NETWORK_ERROR);
	assert_int_equal(x.header_calls + x.data_calls, 0);
	assert_true(contains_ci(x.msg, "certificate"));
	assert_non_null(strstr(x.msg, "127.0.0.1"));
	assert_null(strstr(x.msg, "Bob-Pass-1"));
	xfer_free(&x);

	/* insecure: no verification at all. */
	o.cacert = NULL;
	o.insecure = true;
	pox(&x, s.url, "bob@contoso.test", "bob@contoso.test", "Bob-Pass-1");
	one(&x, &o);
	assert_int_equal(x.status, S_OK);
	assert_int_equal(x.http_status, 200);
	xfer_free(&x);

	server_stop(&s);
}

/* A bound socket that does not listen: connecting to its port is refused. */
static int refusing_port(int *fd)
{
	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t len = sizeof(sa);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

static void test_transport_curl__refused(void **state)
{
	(void)state;
	int fd;
	int port = refusing_port(&fd);
	xfer x;
	pox(&x, "", "alice@contoso.test", "alice@contoso.test", "Alice-Pass-1");
	snprintf(x.url, sizeof(x.url), "http://127.0.0.1:%d/mapi/emsmdb/?MailboxId=q-value", port);
	one(&x, NULL);
	assert_int_equal(x.status, MAPI_E_NETWORK_ERROR);
	assert_int_equal(x.header_calls + x.data_calls, 0);
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", port);
	assert_non_null(strstr(x.msg, host));
	assert_null(strstr(x.msg, "q-value")); /* the host, not the query */
	assert_null(strstr(x.msg, "/mapi"));
	xfer_free(&x);
	close(fd);
}

/* No password, token or URL credential reaches an error message. */
static void test_transport_curl__no_secret_in_messages(void **state)
{
	(void)state;
	int fd;
	int port = refusing_port(&fd);
	xfer x;
	pox(&x, "", "alice@contoso.test", "alice@contoso.test", "Pw-Secret-7");
	snprintf(x.url, sizeof(x.url),
	         "http://u:Url-Secret-8@127.0.0.1:%d" POX_PATH "?t=Q-Secret-9", port);
	one(&x, NULL);
	assert_int_equal(x.status, MAPI_E_NETWORK_ERROR);
	assert_true(x.msg[0] != 0);
	assert_null(strstr(x.msg, "Secret"));
	xfer_free(&x);

	pox(&x, "", "alice@contoso.test", NULL, NULL);
	snprintf(x.url, sizeof(x.url), "http://127.0.0.1:%d" POX_PATH, port);
	x.rq.auth.scheme = MH_AUTH_BEARER;
	x.rq.auth.secret = "Tok-Secret-6";
	one(&x, NULL);
	assert_int_equal(x.status, MAPI_E_NETWORK_ERROR);
	assert_null(strstr(x.msg, "Secret"));
	xfer_free(&x);

	/* A Bearer token with a line break is refused at start, without echoing it. */
	mh_transport *t = new_transport(NULL);
	pox(&x, g_server.url, "alice@contoso.test", NULL, NULL);
	x.rq.auth.scheme = MH_AUTH_BEARER;
	x.rq.auth.secret = "Tok-Secret-5\r\nX-Evil: 1";
	mh_transport_callbacks cb = {on_headers, on_data, on_done, &x};
	uint64_t id;
	assert_int_equal(t->ops->start(t->self, &x.rq, &cb, &id), MAPI_E_INVALID_PARAMETER);
	assert_null(strstr(mh_error_last()->message, "Secret"));
	mh_transport_free(t);
	xfer_free(&x);
	close(fd);
}

/* ---- faults and timeouts ----------------------------------------------------------------------
 */

static void test_transport_curl__faults(void **state)
{
	(void)state;
	mh_test_server s;
	const char *extra[] = {"--quiet", "--fault", "stall,every=1,ms=4000", NULL};
	assert_int_equal(mh_test_server_start(&s, MH_SERVER_PATH, extra), 0);
	mh_transport *t = new_transport(NULL);

	/* The total limit ends a stalled answer. */
	xfer x;
	mapi_connect(&x, s.url);
	x.rq.total_timeout_ms = 300;
	start(t, &x);
	run_until(t, &x);
	assert_int_equal(x.status, MAPI_E_TIMEOUT);
	assert_non_null(strstr(x.msg, "127.0.0.1"));
	xfer_free(&x);

	/* PROCESSING arrives at once, then nothing for 15 s: the idle limit ends it. */
	mapi_connect(&x, s.url);
	x.rq.idle_timeout_ms = 300;
	start(t, &x);
	run_until(t, &x);
	assert_int_equal(x.status, MAPI_E_TIMEOUT);
	assert_true(contains_ci(x.msg, "idle"));
	assert_int_equal(x.header_calls, 1);
	assert_true(x.data_calls >= 1);
	xfer_free(&x);

	/* Cancel after the first bytes: no callback afterwards, nothing pending. */
	mapi_connect(&x, s.url);
	start(t, &x);
	for (int i = 0; i < 100 && x.data_calls == 0; i++)
		assert_int_equal(t->ops->run(t->self, 100), S_OK);
	assert_true(x.data_calls >= 1);
	t->ops->cancel(t->self, x.id);
	x.cancelled = true;
	assert_int_equal(t->ops->pending(t->self), 0);
	t->ops->cancel(t->self, x.id); /* twice is harmless */
	assert_int_equal(t->ops->run(t->self, 300), S_OK);
	assert_false(x.done);
	xfer_free(&x);

	/* Cancel from inside on_data. */
	mapi_connect(&x, s.url);
	x.cancel_in_data = true;
	start(t, &x);
	for (int i = 0; i < 100 && !x.cancelled; i++)
		assert_int_equal(t->ops->run(t->self, 100), S_OK);
	assert_true(x.cancelled);
	assert_int_equal(t->ops->pending(t->self), 0);
	assert_int_equal(t->ops->run(t->self, 300), S_OK);
	assert_false(x.done);
	xfer_free(&x);

	mh_transport_free(t);
	server_stop(&s);
}

static void test_transport_curl__fault_close(void **state)
{
	(void)state;
	mh_test_server s;
	const char *extra[] = {"--quiet", "--fault", "close,every=2", NULL};
	assert_int_equal(mh_test_server_start(&s, MH_SERVER_PATH, extra), 0);
	mh_transport *t = new_transport(NULL);
	xfer x;
	mapi_connect(&x, s.url);
	start(t, &x);
	run_until(t, &x);
	assert_int_equal(x.status, S_OK);
	xfer_free(&x);
	/* Headers, then the connection closes: the answer is lost, its headers withheld. */
	mapi_connect(&x, s.url);
	start(t, &x);
	run_until(t, &x);
	assert_int_equal(x.status, MAPI_E_NETWORK_ERROR);
	assert_int_equal(x.data_calls, 0);
	assert_non_null(strstr(x.msg, "127.0.0.1"));
	xfer_free(&x);
	/* The next one works, on a new connection. */
	mapi_connect(&x, s.url);
	start(t, &x);
	run_until(t, &x);
	assert_int_equal(x.status, S_OK);
	xfer_free(&x);
	mh_transport_free(t);
	server_stop(&s);
}

/* ---- callbacks --------------------------------------------------------------------------------
 */

static void test_transport_curl__callback_error_aborts(void **state)
{
	(void)state;
	xfer x;
	pox(&x, g_server.url, "alice@contoso.test", "alice@contoso.test", "Alice-Pass-1");
	x.fail_headers = MAPI_E_USER_CANCEL;
	one(&x, NULL);
	assert_int_equal(x.status, MAPI_E_USER_CANCEL);
	assert_int_equal(x.header_calls, 1);
	assert_int_equal(x.data_calls, 0);
	assert_string_equal(x.msg, "test: on_headers refuses the answer");
	xfer_free(&x);

	mapi_connect(&x, g_server.url);
	x.fail_data = MAPI_E_CORRUPT_DATA;
	one(&x, NULL);
	assert_int_equal(x.status, MAPI_E_CORRUPT_DATA);
	assert_int_equal(x.data_calls, 1);
	assert_string_equal(x.msg, "test: on_data refuses the body");
	xfer_free(&x);
}

/* A request started from on_done runs; a transport freed from on_done goes quietly. */
static void test_transport_curl__start_and_free_from_callbacks(void **state)
{
	(void)state;
	mh_transport *t = new_transport(NULL);
	xfer a, b, c;
	pox(&a, g_server.url, "alice@contoso.test", "alice@contoso.test", "Alice-Pass-1");
	pox(&b, g_server.url, "bob@contoso.test", "bob@contoso.test", "Bob-Pass-1");
	pox(&c, g_server.url, "carol@contoso.test", "carol@contoso.test", "Carol-Pass-1");
	a.start_on_done = &b;
	start(t, &a);
	run_until(t, &a);
	assert_int_equal(a.status, S_OK);
	assert_false(b.done);
	assert_int_equal(t->ops->pending(t->self), 1);
	run_until(t, &b);
	assert_int_equal(b.status, S_OK);
	assert_int_equal(b.http_status, 200);
	/* c frees the transport; run() returns and nothing else is touched (ASan, valgrind). */
	c.free_transport_on_done = true;
	start(t, &c);
	xfer d;
	mapi_connect(&d, g_server.url);
	start(t, &d);
	for (int i = 0; i < 100 && !c.done; i++)
		assert_int_equal(t->ops->run(t->self, 1000), S_OK);
	assert_true(c.done);
	/* d was dropped with the transport unless it finished first. */
	xfer_free(&a);
	xfer_free(&b);
	xfer_free(&c);
	xfer_free(&d);
}

static void test_transport_curl__cancel_and_destroy_pending(void **state)
{
	(void)state;
	mh_transport *t = new_transport(NULL);
	xfer a, b;
	pox(&a, g_server.url, "alice@contoso.test", "alice@contoso.test", "Alice-Pass-1");
	pox(&b, g_server.url, "bob@contoso.test", "bob@contoso.test", "Bob-Pass-1");
	start(t, &a);
	start(t, &b);
	assert_int_equal(t->ops->pending(t->self), 2);
	/* Cancelled before run() ever saw it. */
	t->ops->cancel(t->self, a.id);
	a.cancelled = true;
	assert_int_equal(t->ops->pending(t->self), 1);
	t->ops->cancel(t->self, 9999); /* unknown: ignored */
	assert_int_equal(t->ops->pending(t->self), 1);
	run_until(t, &b);
	assert_int_equal(b.status, S_OK);
	assert_false(a.done);
	xfer_free(&b);

	/* Freed with a request in flight (to a port that accepts and never answers): no callback
	 * runs. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	socklen_t len = sizeof(sa);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	pox(&b, base, "bob@contoso.test", "bob@contoso.test", "Bob-Pass-1");
	b.cancelled = true; /* any callback now fails the test */
	mh_transport_callbacks cb = {on_headers, on_data, on_done, &b};
	uint64_t id;
	assert_int_equal(t->ops->start(t->self, &b.rq, &cb, &id), S_OK);
	assert_int_equal(t->ops->run(t->self, 0), S_OK);
	assert_int_equal(t->ops->run(t->self, 100), S_OK);
	assert_int_equal(t->ops->pending(t->self), 1);
	mh_transport_free(t);
	assert_false(b.done);
	close(fd);
	xfer_free(&a);
	xfer_free(&b);
}

static void test_transport_curl__bad_requests(void **state)
{
	(void)state;
	mh_transport *t = new_transport(NULL);
	xfer x;
	pox(&x, g_server.url, "alice@contoso.test", "alice@contoso.test", "Alice-Pass-1");
	x.cancelled = true; /* no callback may ever run */
	mh_transport_callbacks cb = {on_headers, on_data, on_done, &x};
	uint64_t id = 0;
	mh_transport_request rq;

	rq = x.rq;
	rq.url = NULL;
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &id), MAPI_E_INVALID_PARAMETER);
	rq = x.rq;
	rq.url = "ftp://127.0.0.1/x";
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &id), MAPI_E_INVALID_PARAMETER);
	rq.url = "not a url";
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &id), MAPI_E_INVALID_PARAMETER);
	rq = x.rq;
	rq.method = "PUT";
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &id), MAPI_E_INVALID_PARAMETER);
	rq = x.rq;
	rq.version = 2;
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &id), MAPI_E_INVALID_PARAMETER);
	rq = x.rq;
	rq.auth.secret = NULL;
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &id), MAPI_E_INVALID_PARAMETER);
	rq = x.rq;
	rq.method = "GET"; /* with a body */
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &id), MAPI_E_INVALID_PARAMETER);
	mh_transport_header bad[] = {{"X-Ok", "a\r\nX-Injected: 1"}};
	rq = x.rq;
	rq.headers = bad;
	rq.n_headers = 1;
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &id), MAPI_E_INVALID_PARAMETER);
	mh_transport_header badname[] = {{"X Bad", "v"}};
	rq.headers = badname;
	assert_int_equal(t->ops->start(t->self, &rq, &cb, &id), MAPI_E_INVALID_PARAMETER);

	assert_int_equal(t->ops->pending(t->self), 0);
	assert_int_equal(t->ops->run(t->self, 0), S_OK);
	assert_int_equal(t->ops->run(t->self, -1), S_OK); /* nothing pending: returns */
	mh_transport_free(t);

	mh_transport_curl_options o = MH_TRANSPORT_CURL_OPTIONS_INIT;
	o.version = 2;
	mh_transport dummy;
	mh_transport *t2 = &dummy; /* must be reset to NULL */
	assert_int_equal(mh_transport_curl_new(&t2, &o), MAPI_E_INVALID_PARAMETER);
	assert_null(t2);
	mh_transport_free(NULL);
	xfer_free(&x);
}

int main(void)
{
	/* The tests talk to 127.0.0.1 directly, whatever proxy the environment names. */
	setenv("no_proxy", "127.0.0.1,localhost", 1);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1);
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_transport_curl__basic_autodiscover),
	    cmocka_unit_test(test_transport_curl__skips_interim_response),
	    cmocka_unit_test(test_transport_curl__answer_without_body),
	    cmocka_unit_test(test_transport_curl__header_flood),
	    cmocka_unit_test(test_transport_curl__wrong_password),
	    cmocka_unit_test(test_transport_curl__bearer),
	    cmocka_unit_test(test_transport_curl__mapi_connect),
	    cmocka_unit_test(test_transport_curl__held_answer_streams),
	    cmocka_unit_test(test_transport_curl__idle_limit_waits_for_a_connection),
	    cmocka_unit_test(test_transport_curl__keep_alive),
	    cmocka_unit_test(test_transport_curl__concurrent),
	    cmocka_unit_test(test_transport_curl__https),
	    cmocka_unit_test(test_transport_curl__refused),
	    cmocka_unit_test(test_transport_curl__no_secret_in_messages),
	    cmocka_unit_test(test_transport_curl__faults),
	    cmocka_unit_test(test_transport_curl__fault_close),
	    cmocka_unit_test(test_transport_curl__callback_error_aborts),
	    cmocka_unit_test(test_transport_curl__start_and_free_from_callbacks),
	    cmocka_unit_test(test_transport_curl__cancel_and_destroy_pending),
	    cmocka_unit_test(test_transport_curl__bad_requests),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
