/*
 * Autodiscover discovery: candidate order, the JSON hop, redirects, limits, errors and the
 * cache against scripted hosts on the in-memory transport; then mapihttpd's real answers
 * (started on a free port, plain HTTP) through libcurl.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "mapihttpd_proc.h"

#include "autodiscover/discover.h"
#include "transport/loop.h"
#include "transport/mapi_ctx.h"

#ifndef MH_SERVER_PATH
#error "MH_SERVER_PATH must name the mapihttpd binary"
#endif
#ifndef MH_VECTORS_DIR
#error "MH_VECTORS_DIR must name tests/vectors"
#endif

#define NS_RESPONSE "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
#define NS_OUTLOOK  "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
#define DN_PREFIX   "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define BOB_GUID    "eb113c0f-3344-86e1-ad16-c68cf5c1be62"
#define ARCH_GUID   "6bc6e012-62aa-8d2f-bbd6-151067afaa5d"
#define SVC_GUID    "8a39cc22-65dd-872d-88ea-24f72c31f5d9"
#define PASSWORD    "Secret-Pass-9"

#define C1(d)   "https://" d "/autodiscover/autodiscover.xml"
#define C2(d)   "https://autodiscover." d "/autodiscover/autodiscover.xml"
#define C3(d)   "http://autodiscover." d "/autodiscover/autodiscover.xml"
#define JSON(h) "https://" h "/autodiscover/autodiscover.json/v1.0/"

/* ---- documents ---------------------------------------------------------------------------- */

static char *docf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A formatted document, malloc'd (the script frees it). */
static char *docf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n > 0);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static char *settings_doc(const char *name, const char *store)
{
	return docf("<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	            "<Autodiscover xmlns=\"" NS_RESPONSE "\"><Response xmlns=\"" NS_OUTLOOK "\">"
	            "<User><DisplayName>%s</DisplayName><LegacyDN>/o=Test/cn=%s</LegacyDN>"
	            "<AutoDiscoverSMTPAddress>%s@contoso.test</AutoDiscoverSMTPAddress></User>"
	            "<Account><AccountType>email</AccountType><Action>settings</Action>"
	            "<Protocol Type=\"mapiHttp\" Version=\"1\"><MailStore><ExternalUrl>"
	            "https://%s/mapi/emsmdb/?MailboxId=%s@contoso.test</ExternalUrl></MailStore>"
	            "<AddressBook><ExternalUrl>https://%s/mapi/nspi/?MailboxId=x@contoso.test"
	            "</ExternalUrl></AddressBook></Protocol>"
	            "<AlternativeMailbox><Type>Archive</Type><DisplayName>Archive of %s"
	            "</DisplayName><LegacyDN>/o=Test/cn=%s/guid=" ARCH_GUID "</LegacyDN>"
	            "<Server>" ARCH_GUID "@contoso.test</Server>"
	            "<OwnerSmtpAddress>%s@contoso.test</OwnerSmtpAddress></AlternativeMailbox>"
	            "</Account></Response></Autodiscover>",
	            name, name, name, store, name, store, name, name, name);
}

static char *redirect_doc(const char *action, const char *element, const char *target)
{
	return docf("<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	            "<Autodiscover xmlns=\"" NS_RESPONSE "\"><Response xmlns=\"" NS_OUTLOOK "\">"
	            "<Account><AccountType>email</AccountType><Action>%s</Action><%s>%s</%s>"
	            "</Account></Response></Autodiscover>",
	            action, element, target, element);
}

static char *error_doc(unsigned code, const char *message)
{
	return docf("<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	            "<Autodiscover xmlns=\"" NS_RESPONSE "\"><Response><Error Time=\"01:02:03\" "
	            "Id=\"7\"><ErrorCode>%u</ErrorCode><Message>%s</Message><DebugData/>"
	            "</Error></Response></Autodiscover>",
	            code, message);
}

/* ---- scripted hosts ----------------------------------------------------------------------- */

typedef struct route {
	const char *method;
	const char *url;
	mh_status fail; /* non-zero: the request fails so */
	long status;
	char *body;     /* owned */
	char *location; /* owned */
	size_t chunk;   /* 0: 7 bytes at a time */
} route;

typedef struct logged {
	char method[8];
	char url[600];
	bool auth;      /* carried credentials */
	char email[80]; /* the EMailAddress of a POX request */
	char capability[8];
	char content_type[32];
} logged;

#define MAX_ROUTES 24
#define MAX_LOG    64

typedef struct script {
	route routes[MAX_ROUTES];
	size_t n_routes;
	logged log[MAX_LOG];
	size_t n_log;
	/* https://hopN.contoso.test/... answers redirectUrl to hopN+1 */
	bool hop_chain;
	/* Each answer takes this long on the virtual clock. */
	uint64_t *clock;
	uint64_t delay_ms;
} script;

static void route_add(script *s, const char *method, const char *url, long status, char *body,
                      const char *location)
{
	assert_true(s->n_routes < MAX_ROUTES);
	route *r = &s->routes[s->n_routes++];
	r->method = method;
	r->url = url;
	r->status = status;
	r->body = body;
	r->location = location != NULL ? strdup(location) : NULL;
}

static void route_fail(script *s, const char *method, const char *url, mh_status fail)
{
	route_add(s, method, url, 0, NULL, NULL);
	s->routes[s->n_routes - 1].fail = fail;
}

static void script_clear(script *s)
{
	for (size_t i = 0; i < s->n_routes; i++) {
		free(s->routes[i].body);
		free(s->routes[i].location);
	}
	memset(s, 0, sizeof(*s));
}

/* Remembers each request; answers from the routes, or fails it as a host nobody runs. */
static mh_status handler(void *ud, const mh_transport_request *rq, mh_transport_memory_answer *a)
{
	script *s = ud;
	assert_true(s->n_log < MAX_LOG);
	if (s->clock != NULL)
		*s->clock += s->delay_ms;
	logged *l = &s->log[s->n_log++];
	snprintf(l->method, sizeof(l->method), "%s", rq->method);
	snprintf(l->url, sizeof(l->url), "%s", rq->url);
	l->auth = rq->auth.scheme != MH_AUTH_NONE;
	for (size_t i = 0; i < rq->n_headers; i++) {
		if (strcmp(rq->headers[i].name, "X-MapiHttpCapability") == 0)
			snprintf(l->capability, sizeof(l->capability), "%s", rq->headers[i].value);
		if (strcmp(rq->headers[i].name, "Content-Type") == 0)
			snprintf(l->content_type, sizeof(l->content_type), "%s",
			         rq->headers[i].value);
	}
	if (rq->body_len > 0) {
		char body[2048];
		size_t n = rq->body_len < sizeof(body) - 1 ? rq->body_len : sizeof(body) - 1;
		memcpy(body, rq->body, n);
		body[n] = 0;
		const char *b = strstr(body, "<EMailAddress>"),
		           *e = strstr(body, "</EMailAddress>");
		if (b != NULL && e != NULL && e > b)
			snprintf(l->email, sizeof(l->email), "%.*s", (int)(e - b - 14), b + 14);
	}
	static mh_transport_header loc;
	for (size_t i = 0; i < s->n_routes; i++) {
		route *r = &s->routes[i];
		if (strcmp(r->method, rq->method) != 0 || strcmp(r->url, rq->url) != 0)
			continue;
		a->fail = r->fail;
		a->http_status = r->status;
		a->body = r->body;
		a->body_len = r->body != NULL ? strlen(r->body) : 0;
		a->chunk = r->chunk != 0 ? r->chunk : 7; /* the body arrives in pieces */
		if (r->location != NULL) {
			loc.name = "location";
			loc.value = r->location;
			a->headers = &loc;
			a->n_headers = 1;
		}
		return S_OK;
	}
	unsigned n = 0;
	if (s->hop_chain && sscanf(rq->url, "https://hop%u.contoso.test/", &n) == 1) {
		static char doc[1024], next[128];
		snprintf(next, sizeof(next),
		         "https://hop%u.contoso.test/autodiscover/autodiscover.xml", n + 1);
		char *d = redirect_doc("redirectUrl", "RedirectUrl", next);
		snprintf(doc, sizeof(doc), "%s", d);
		free(d);
		a->http_status = 200;
		a->body = doc;
		a->body_len = strlen(doc);
		return S_OK;
	}
	a->fail = MAPI_E_NETWORK_ERROR;
	return S_OK;
}

/* ---- the fixture: a memory transport, a virtual clock, a loop ----------------------------- */

typedef struct fixture {
	script s;
	uint64_t now;
	mh_loop_clock clock;
	mh_transport *t;
	mh_loop *loop;
	char dir[256];
} fixture;

static uint64_t vclock_now(void *ud)
{
	return *(uint64_t *)ud;
}

static void vclock_advance(void *ud, uint64_t to)
{
	*(uint64_t *)ud = to;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->now = (uint64_t)1700000000 * 1000;
	f->clock.now = vclock_now;
	f->clock.advance = vclock_advance;
	f->clock.ud = &f->now;
	assert_int_equal(mh_transport_memory_new(&f->t, handler, &f->s), S_OK);
	assert_int_equal(mh_loop_new(&f->loop, f->t, &f->clock), S_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	mh_loop_free(f->loop);
	mh_transport_free(f->t);
	script_clear(&f->s);
	if (f->dir[0] != 0)
		assert_int_equal(mh_test_remove_dir(f->dir), 0);
	free(f);
	return 0;
}

static mh_ad_discover_options opts_for(const char *email)
{
	mh_ad_discover_options o = MH_AD_DISCOVER_OPTIONS_INIT;
	o.email = email;
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.user = email;
	o.auth.secret = PASSWORD;
	return o;
}

static void assert_log(const fixture *f, size_t i, const char *method, const char *url, bool auth)
{
	assert_true(i < f->s.n_log);
	assert_string_equal(f->s.log[i].method, method);
	assert_string_equal(f->s.log[i].url, url);
	assert_int_equal(f->s.log[i].auth, auth);
}

static void assert_contains(const char *s, const char *part)
{
	assert_non_null(s);
	if (strstr(s, part) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

/* ---- tests: candidates -------------------------------------------------------------------- */

static void test_discover__candidate_order_and_fallback(void **state)
{
	fixture *f = *state;
	route_fail(&f->s, "POST", C1("contoso.test"), MAPI_E_TIMEOUT);
	route_add(&f->s, "POST", C2("contoso.test"), 404, strdup("<html>no</html>"), NULL);
	route_add(&f->s, "GET", C3("contoso.test"), 302, NULL,
	          "https://mail.contoso.test/Autodiscover/Autodiscover.xml");
	route_add(&f->s, "POST", "https://mail.contoso.test/Autodiscover/Autodiscover.xml", 200,
	          settings_doc("alice", "mail.contoso.test"), NULL);

	mh_ad_discover_options o = opts_for("alice@contoso.test");
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_int_equal(f->s.n_log, 4);
	assert_log(f, 0, "POST", C1("contoso.test"), true);
	assert_log(f, 1, "POST", C2("contoso.test"), true);
	assert_log(f, 2, "GET", C3("contoso.test"), false); /* plain HTTP: anonymous */
	assert_log(f, 3, "POST", "https://mail.contoso.test/Autodiscover/Autodiscover.xml", true);
	assert_string_equal(f->s.log[0].email, "alice@contoso.test");
	assert_string_equal(f->s.log[0].capability, "1");
	assert_string_equal(f->s.log[0].content_type, "text/xml");
	assert_string_equal(r.pox_url, "https://mail.contoso.test/Autodiscover/Autodiscover.xml");
	assert_int_equal(r.hops, 1);
	assert_false(r.from_cache);
	assert_null(r.message);
	assert_string_equal(r.address, "alice@contoso.test");
	assert_string_equal(r.settings.legacy_dn, "/o=Test/cn=alice");
	assert_string_equal(mh_ad_urls_pick(&r.settings.mailstore),
	                    "https://mail.contoso.test/mapi/emsmdb/?MailboxId=alice@contoso.test");
	assert_int_equal(r.settings.n_alternatives, 1);
	assert_string_equal(r.settings.alternatives[0].server, ARCH_GUID "@contoso.test");
	mh_ad_result_free(&r);
}

static void test_discover__malformed_answers_go_to_next_candidate(void **state)
{
	fixture *f = *state;
	route_add(&f->s, "POST", C1("contoso.test"), 200,
	          strdup("<html><body>Welcome to Contoso</body></html>"), NULL);
	route_add(&f->s, "POST", C2("contoso.test"), 200,
	          settings_doc("alice", "mail.contoso.test"), NULL);
	mh_ad_discover_options o = opts_for("alice@contoso.test");
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_int_equal(f->s.n_log, 2);
	assert_string_equal(r.pox_url, C2("contoso.test"));
	assert_int_equal(r.hops, 0);
	mh_ad_result_free(&r);

	/* An answer over 1 MiB is not read to its end. */
	script_clear(&f->s);
	char *big = malloc(MH_AD_MAX_DOCUMENT + 2);
	assert_non_null(big);
	memset(big, ' ', MH_AD_MAX_DOCUMENT + 1);
	big[MH_AD_MAX_DOCUMENT + 1] = 0;
	route_add(&f->s, "POST", C1("contoso.test"), 200, big, NULL);
	f->s.routes[0].chunk = 65536;
	mh_ad_discover_options ob = o;
	ob.url = C1("contoso.test");
	assert_int_equal(mh_ad_discover(f->loop, &ob, NULL, &r), MAPI_E_CALL_FAILED);
	assert_contains(r.message, "over 1048576 bytes");
	mh_ad_result_free(&r);

	/* Truncated XML, then a 503: nothing answers; the message names the last URL. */
	script_clear(&f->s);
	route_add(&f->s, "POST", C1("contoso.test"), 200, strdup("<Autodiscover xmlns="), NULL);
	route_add(&f->s, "POST", C2("contoso.test"), 503, strdup("busy"), NULL);
	route_add(&f->s, "GET", C3("contoso.test"), 200, strdup("<html/>"), NULL);
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_CALL_FAILED);
	assert_int_equal(f->s.n_log, 3);
	assert_contains(r.message, C3("contoso.test"));
	assert_contains(r.message, "not a redirect");
	assert_string_equal(r.last_url, C3("contoso.test"));
	assert_int_equal(mh_error_last()->status, MAPI_E_CALL_FAILED);
	assert_string_equal(mh_error_last()->message, r.message);
	mh_ad_result_free(&r);

	/* Nobody runs any host: a network error, naming the last candidate. */
	script_clear(&f->s);
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_NETWORK_ERROR);
	assert_int_equal(f->s.n_log, 3);
	assert_contains(r.message, C3("contoso.test"));
	mh_ad_result_free(&r);
}

static void test_discover__json_hop(void **state)
{
	fixture *f = *state;
	route_fail(&f->s, "GET", JSON("contoso.test") "alice@contoso.test?Protocol=AutodiscoverV1",
	           MAPI_E_NETWORK_ERROR);
	route_add(&f->s, "GET",
	          JSON("autodiscover.contoso.test") "alice@contoso.test?Protocol=AutodiscoverV1",
	          200,
	          strdup("{\"Protocol\":\"AutodiscoverV1\",\"Url\":"
	                 "\"https://mail.contoso.test/autodiscover/autodiscover.xml\"}"),
	          NULL);
	route_add(&f->s, "POST", "https://mail.contoso.test/autodiscover/autodiscover.xml", 200,
	          settings_doc("alice", "mail.contoso.test"), NULL);
	mh_ad_discover_options o = opts_for("alice@contoso.test");
	o.json_first = true;
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_int_equal(f->s.n_log, 3);
	assert_log(f, 0, "GET", JSON("contoso.test") "alice@contoso.test?Protocol=AutodiscoverV1",
	           false);
	assert_log(f, 1, "GET",
	           JSON("autodiscover.contoso.test") "alice@contoso.test?Protocol=AutodiscoverV1",
	           false);
	assert_log(f, 2, "POST", "https://mail.contoso.test/autodiscover/autodiscover.xml", true);
	assert_string_equal(r.pox_url, "https://mail.contoso.test/autodiscover/autodiscover.xml");
	mh_ad_result_free(&r);

	/* A JSON error, then an http:// Url: neither is used; the POX candidates follow. */
	script_clear(&f->s);
	route_add(&f->s, "GET", JSON("contoso.test") "alice@contoso.test?Protocol=AutodiscoverV1",
	          200, strdup("{\"ErrorCode\":\"InvalidProtocol\",\"ErrorMessage\":\"no\"}"), NULL);
	route_add(
	    &f->s, "GET",
	    JSON("autodiscover.contoso.test") "alice@contoso.test?Protocol=AutodiscoverV1", 200,
	    strdup("{\"Url\":\"http://mail.contoso.test/autodiscover/autodiscover.xml\"}"), NULL);
	route_add(&f->s, "POST", C1("contoso.test"), 200,
	          settings_doc("alice", "mail.contoso.test"), NULL);
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_int_equal(f->s.n_log, 3);
	assert_log(f, 2, "POST", C1("contoso.test"), true);
	mh_ad_result_free(&r);
}

/* ---- tests: redirects --------------------------------------------------------------------- */

static void test_discover__redirect_addr(void **state)
{
	fixture *f = *state;
	route_add(&f->s, "POST", C1("contoso.test"), 200,
	          redirect_doc("redirectAddr", "RedirectAddr", "alice@fabrikam.test"), NULL);
	route_add(&f->s, "POST", C2("fabrikam.test"), 200,
	          settings_doc("alice", "mail.fabrikam.test"), NULL);
	mh_ad_discover_options o = opts_for("Alice@Contoso.test");
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_int_equal(f->s.n_log, 3);
	assert_log(f, 1, "POST", C1("fabrikam.test"), true);
	assert_string_equal(f->s.log[1].email, "alice@fabrikam.test");
	assert_log(f, 2, "POST", C2("fabrikam.test"), true);
	assert_string_equal(r.address, "alice@fabrikam.test");
	assert_int_equal(r.hops, 1);
	mh_ad_result_free(&r);
}

static void test_discover__redirect_url_and_302_on_post(void **state)
{
	fixture *f = *state;
	route_add(&f->s, "POST", C1("contoso.test"), 200,
	          redirect_doc("redirectUrl", "RedirectUrl",
	                       "https://ad.contoso.test/autodiscover/autodiscover.xml"),
	          NULL);
	route_add(&f->s, "POST", "https://ad.contoso.test/autodiscover/autodiscover.xml", 302, NULL,
	          "https://ad2.contoso.test/autodiscover/autodiscover.xml");
	route_add(&f->s, "POST", "https://ad2.contoso.test/autodiscover/autodiscover.xml", 200,
	          settings_doc("alice", "mail.contoso.test"), NULL);
	mh_ad_discover_options o = opts_for("alice@contoso.test");
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_int_equal(f->s.n_log, 3);
	assert_log(f, 1, "POST", "https://ad.contoso.test/autodiscover/autodiscover.xml", true);
	assert_log(f, 2, "POST", "https://ad2.contoso.test/autodiscover/autodiscover.xml", true);
	assert_string_equal(f->s.log[2].email, "alice@contoso.test");
	assert_int_equal(r.hops, 2);
	assert_string_equal(r.pox_url, "https://ad2.contoso.test/autodiscover/autodiscover.xml");
	mh_ad_result_free(&r);
}

static void test_discover__credentials_never_go_over_http(void **state)
{
	fixture *f = *state;
	mh_ad_result r;
	/* An explicit http:// URL with credentials: refused before any request. */
	mh_ad_discover_options o = opts_for("alice@contoso.test");
	o.url = "http://127.0.0.1:1/autodiscover/autodiscover.xml";
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_INVALID_PARAMETER);
	assert_contains(mh_error_last()->message, "plain HTTP");
	assert_null(strstr(mh_error_last()->message, PASSWORD));
	assert_int_equal(f->s.n_log, 0);
	mh_ad_result_free(&r);

	/* ... allowed for a test server when asked. */
	route_add(&f->s, "POST", "http://127.0.0.1:1/autodiscover/autodiscover.xml", 200,
	          settings_doc("alice", "127.0.0.1:1"), NULL);
	o.allow_http = true;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_int_equal(f->s.n_log, 1);
	assert_log(f, 0, "POST", "http://127.0.0.1:1/autodiscover/autodiscover.xml", true);
	mh_ad_result_free(&r);

	/* Redirects to http:// (redirectUrl, 302 from a POST, 302 from the GET) are not followed.
	 */
	script_clear(&f->s);
	route_add(&f->s, "POST", C1("contoso.test"), 200,
	          redirect_doc("redirectUrl", "RedirectUrl",
	                       "http://ad.contoso.test/autodiscover/autodiscover.xml"),
	          NULL);
	route_add(&f->s, "POST", C2("contoso.test"), 302, NULL,
	          "http://ad.contoso.test/autodiscover/autodiscover.xml");
	route_add(&f->s, "GET", C3("contoso.test"), 302, NULL,
	          "http://ad.contoso.test/autodiscover/autodiscover.xml");
	o = opts_for("alice@contoso.test");
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_CALL_FAILED);
	assert_int_equal(f->s.n_log, 3);
	for (size_t i = 0; i < f->s.n_log; i++)
		assert_null(strstr(f->s.log[i].url, "ad.contoso.test"));
	assert_contains(r.message, "https URLs only");
	assert_contains(r.message, C3("contoso.test"));
	assert_int_equal(r.hops, 0);
	mh_ad_result_free(&r);
}

static void test_discover__max_hops(void **state)
{
	fixture *f = *state;
	f->s.hop_chain = true;
	mh_ad_discover_options o = opts_for("alice@contoso.test");
	o.url = "https://hop0.contoso.test/autodiscover/autodiscover.xml";
	o.max_hops = 3;
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_CALL_FAILED);
	assert_int_equal(f->s.n_log, 4); /* hop0 and three redirects */
	assert_string_equal(f->s.log[3].url,
	                    "https://hop3.contoso.test/autodiscover/autodiscover.xml");
	assert_contains(r.message, "more than 3 redirects");
	assert_contains(r.message, "hop4.contoso.test");
	assert_int_equal(r.hops, 3);
	mh_ad_result_free(&r);

	/* The default is 10. */
	f->s.n_log = 0;
	o.max_hops = 0;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_CALL_FAILED);
	assert_int_equal(f->s.n_log, 11);
	assert_contains(r.message, "more than 10 redirects");
	mh_ad_result_free(&r);
}

static void test_discover__redirect_loops(void **state)
{
	fixture *f = *state;
	route_add(&f->s, "POST", C1("contoso.test"), 200,
	          redirect_doc("redirectUrl", "RedirectUrl", "https://a.contoso.test/ad.xml"),
	          NULL);
	route_add(&f->s, "POST", "https://a.contoso.test/ad.xml", 200,
	          redirect_doc("redirectUrl", "RedirectUrl", "https://b.contoso.test/ad.xml"),
	          NULL);
	route_add(&f->s, "POST", "https://b.contoso.test/ad.xml", 302, NULL,
	          "https://a.contoso.test/ad.xml");
	mh_ad_discover_options o = opts_for("alice@contoso.test");
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_CALL_FAILED);
	assert_int_equal(f->s.n_log, 3);
	assert_contains(r.message, "redirect loop");
	mh_ad_result_free(&r);

	/* Addresses: a -> b -> a. */
	script_clear(&f->s);
	route_add(&f->s, "POST", C1("contoso.test"), 200,
	          redirect_doc("redirectAddr", "RedirectAddr", "b@fabrikam.test"), NULL);
	route_add(&f->s, "POST", C1("fabrikam.test"), 200,
	          redirect_doc("redirectAddr", "RedirectAddr", "A@contoso.test"), NULL);
	o = opts_for("a@contoso.test");
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_CALL_FAILED);
	assert_int_equal(f->s.n_log, 2);
	assert_contains(r.message, "redirect loop");
	assert_contains(r.message, "A@contoso.test");
	mh_ad_result_free(&r);
}

/* ---- tests: errors ------------------------------------------------------------------------ */

static void test_discover__401_stops_the_search(void **state)
{
	fixture *f = *state;
	route_add(&f->s, "POST", C1("contoso.test"), 401, strdup("denied"), NULL);
	route_add(&f->s, "POST", C2("contoso.test"), 200,
	          settings_doc("alice", "mail.contoso.test"), NULL);
	mh_ad_discover_options o = opts_for("alice@contoso.test");
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_LOGON_FAILED);
	assert_int_equal(f->s.n_log, 1);
	assert_contains(r.message, C1("contoso.test"));
	assert_contains(r.message, "alice@contoso.test");
	assert_null(strstr(r.message, PASSWORD));
	assert_int_equal(mh_error_last()->status, MAPI_E_LOGON_FAILED);
	mh_ad_result_free(&r);

	/* Without credentials: "none were given". */
	o.auth.scheme = MH_AUTH_NONE;
	f->s.n_log = 0;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_LOGON_FAILED);
	assert_contains(r.message, "none were given");
	assert_false(f->s.log[0].auth);
	mh_ad_result_free(&r);
}

static void test_discover__autodiscover_errors(void **state)
{
	fixture *f = *state;
	struct {
		unsigned code;
		mh_status want;
		const char *part;
	} cases[] = {
	    {500, MAPI_E_NOT_FOUND, "does not know the address"},
	    {501, MAPI_E_NOT_FOUND, "not a mailbox"},
	    {404, MAPI_E_NOT_FOUND, "does not know the address"},
	    {603, MAPI_E_CALL_FAILED, "error 603"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		script_clear(&f->s);
		route_add(&f->s, "POST", C1("contoso.test"), 200,
		          error_doc(cases[i].code, "Some\nServer Text"), NULL);
		route_add(&f->s, "POST", C2("contoso.test"), 200,
		          settings_doc("alice", "mail.contoso.test"), NULL);
		mh_ad_discover_options o = opts_for("alice@contoso.test");
		mh_ad_result r;
		assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), cases[i].want);
		assert_int_equal(f->s.n_log, 1); /* an Autodiscover answer is authoritative */
		assert_contains(r.message, cases[i].part);
		assert_contains(r.message, "Some Server Text"); /* one line */
		assert_contains(r.message, "alice@contoso.test");
		mh_ad_result_free(&r);
	}
}

static void test_discover__bad_options(void **state)
{
	fixture *f = *state;
	mh_ad_result r;
	const char *bad[] = {"no-at-sign", "a@b@c", "alice@bad_domain!", "", "a b@contoso.test"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mh_ad_discover_options o = opts_for(bad[i]);
		assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_INVALID_PARAMETER);
		mh_ad_result_free(&r);
	}
	mh_ad_discover_options o = opts_for("alice@contoso.test");
	o.url = "ftp://contoso.test/x";
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_INVALID_PARAMETER);
	o.url = "https://user@contoso.test/x";
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_INVALID_PARAMETER);
	mh_ad_result_free(&r);
	assert_int_equal(f->s.n_log, 0);
}

static void test_discover__explicit_url(void **state)
{
	fixture *f = *state;
	route_add(&f->s, "POST", C1("contoso.test"), 200,
	          settings_doc("wrong", "mail.contoso.test"), NULL);
	route_add(&f->s, "POST", "https://ex.contoso.test/autodiscover/autodiscover.xml", 200,
	          settings_doc("alice", "ex.contoso.test"), NULL);
	mh_ad_discover_options o = opts_for("alice@contoso.test");
	o.url = "https://ex.contoso.test/autodiscover/autodiscover.xml";
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_int_equal(f->s.n_log, 1);
	assert_string_equal(r.settings.display_name, "alice");
	mh_ad_result_free(&r);

	/* An explicit URL that fails: no candidate search behind it. */
	script_clear(&f->s);
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_NETWORK_ERROR);
	assert_int_equal(f->s.n_log, 1);
	assert_contains(r.message, "https://ex.contoso.test/autodiscover/autodiscover.xml");
	mh_ad_result_free(&r);
}

/* ---- tests: the cache --------------------------------------------------------------------- */

static void test_discover__cache_in_process(void **state)
{
	fixture *f = *state;
	route_add(&f->s, "POST", C1("contoso.test"), 200,
	          settings_doc("alice", "mail.contoso.test"), NULL);
	mh_ad_cache_options co = MH_AD_CACHE_OPTIONS_INIT;
	co.clock = &f->clock;
	mh_ad_cache *c = NULL;
	assert_int_equal(mh_ad_cache_new(&c, &co), S_OK);
	mh_ad_discover_options o = opts_for("alice@contoso.test");
	o.cache = c;
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_false(r.from_cache);
	mh_ad_result_free(&r);
	assert_int_equal(f->s.n_log, 1);

	/* A hit, whatever the case of the address: no request. */
	o.email = "ALICE@contoso.TEST";
	mh_arena a = MH_ARENA_INIT;
	assert_int_equal(mh_ad_discover(f->loop, &o, &a, &r), S_OK);
	assert_true(r.from_cache);
	assert_int_equal(f->s.n_log, 1);
	assert_string_equal(r.pox_url, C1("contoso.test"));
	assert_string_equal(r.settings.legacy_dn, "/o=Test/cn=alice");
	assert_int_equal(r.settings.n_alternatives, 1);
	mh_ad_result_free(&r);
	mh_arena_free(&a);

	/* Just before 8 hours: still a hit; after: a request again. */
	f->now += MH_AD_CACHE_DEFAULT_TTL_MS - 1;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_true(r.from_cache);
	mh_ad_result_free(&r);
	f->now += 2;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_false(r.from_cache);
	assert_int_equal(f->s.n_log, 2);
	mh_ad_result_free(&r);

	/* A failure is not cached; a removed entry is asked for again. */
	mh_ad_cache_remove(c, "alice@CONTOSO.test");
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_false(r.from_cache);
	assert_int_equal(f->s.n_log, 3);
	mh_ad_result_free(&r);
	mh_ad_discover_options o2 = opts_for("bob@contoso.test");
	o2.cache = c;
	script_clear(&f->s);
	assert_int_equal(mh_ad_discover(f->loop, &o2, NULL, &r), MAPI_E_NETWORK_ERROR);
	mh_ad_result_free(&r);
	assert_int_equal(mh_ad_discover(f->loop, &o2, NULL, &r), MAPI_E_NETWORK_ERROR);
	assert_int_equal(f->s.n_log, 6);
	mh_ad_result_free(&r);
	mh_ad_cache_free(c);
}

static void test_discover__cache_on_disk(void **state)
{
	fixture *f = *state;
	assert_int_equal(mh_test_make_temp_dir(f->dir, sizeof(f->dir)), 0);
	char sub[300], file[400];
	snprintf(sub, sizeof(sub), "%s/cache", f->dir);
	snprintf(file, sizeof(file), "%s/alice@contoso.test.json", sub);
	route_add(&f->s, "POST", C1("contoso.test"), 200,
	          settings_doc("alice", "mail.contoso.test"), NULL);

	mh_ad_cache_options co = MH_AD_CACHE_OPTIONS_INIT;
	co.clock = &f->clock;
	co.dir = sub;
	mh_ad_cache *c = NULL;
	assert_int_equal(mh_ad_cache_new(&c, &co), S_OK);
	mh_ad_discover_options o = opts_for("Alice@contoso.test");
	o.cache = c;
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	mh_ad_result_free(&r);
	mh_ad_cache_free(c);
	assert_int_equal(f->s.n_log, 1);

	struct stat sb;
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	char *text = mh_test_slurp_file(file);
	assert_non_null(text);
	assert_null(strstr(text, PASSWORD));
	assert_contains(text, "/o=Test/cn=alice");
	free(text);

	/* Another cache object on the same directory (another process): a hit, no request. */
	assert_int_equal(mh_ad_cache_new(&c, &co), S_OK);
	o.cache = c;
	f->now += 1000;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_true(r.from_cache);
	assert_int_equal(f->s.n_log, 1);
	assert_string_equal(r.pox_url, C1("contoso.test"));
	assert_string_equal(r.address, "Alice@contoso.test");
	assert_int_equal(r.settings.n_alternatives, 1);
	mh_ad_result_free(&r);
	mh_ad_cache_free(c);

	/* Expired: ignored, asked again, and the file is replaced with a later expiry. */
	f->now += MH_AD_CACHE_DEFAULT_TTL_MS;
	assert_int_equal(mh_ad_cache_new(&c, &co), S_OK);
	o.cache = c;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_false(r.from_cache);
	assert_int_equal(f->s.n_log, 2);
	mh_ad_result_free(&r);
	mh_ad_cache_free(c);
	assert_int_equal(mh_ad_cache_new(&c, &co), S_OK);
	o.cache = c;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	assert_true(r.from_cache);
	assert_int_equal(f->s.n_log, 2);
	mh_ad_result_free(&r);
	mh_ad_cache_free(c);

	/* Unreadable files (garbage, a POX answer that is not settings) are ignored and replaced.
	 */
	char *valid = mh_test_slurp_file(file);
	assert_non_null(valid);
	for (size_t i = 0; i < 4; i++) {
		json_t *j = json_loads(valid, 0, NULL);
		assert_non_null(j);
		if (i == 1) /* the POX answer in it is not one */
			json_object_set_new(j, "pox", json_string("<a/>"));
		else if (i == 2) /* an expiry later than the lifetime allows */
			json_object_set_new(
			    j, "expires",
			    json_integer((json_int_t)(f->now + 2 * MH_AD_CACHE_DEFAULT_TTL_MS)));
		else if (i == 3) /* another address's entry under this name */
			json_object_set_new(j, "key", json_string("bob@contoso.test"));
		char *bad = i == 0 ? strdup("{not json") : json_dumps(j, JSON_COMPACT);
		json_decref(j);
		FILE *fp = fopen(file, "w");
		assert_non_null(fp);
		fputs(bad, fp);
		free(bad);
		fclose(fp);
		assert_int_equal(mh_ad_cache_new(&c, &co), S_OK);
		o.cache = c;
		size_t before = f->s.n_log;
		assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
		assert_false(r.from_cache);
		assert_int_equal(f->s.n_log, before + 1);
		mh_ad_result_free(&r);
		mh_ad_cache_free(c);
		text = mh_test_slurp_file(file);
		assert_contains(text, "\"format\":1");
		assert_contains(text, "\"key\":\"alice@contoso.test\"");
		free(text);
	}
	free(valid);
}

/* ---- tests: alternative mailboxes and cancellation --------------------------------------- */

static void test_discover__alternative_rpc_form(void **state)
{
	fixture *f = *state;
	route_add(&f->s, "POST", C1("contoso.test"), 200,
	          settings_doc("alice", "mail.contoso.test"), NULL);
	mh_ad_discover_options o = opts_for("alice@contoso.test");
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), S_OK);
	mh_arena a = MH_ARENA_INIT;
	mh_ad_mailbox_target t;
	assert_int_equal(
	    mh_ad_alternative_target(f->loop, &o, &r.settings, &r.settings.alternatives[0], &a, &t),
	    S_OK);
	assert_int_equal(f->s.n_log, 1); /* no request for the RPC form */
	assert_string_equal(t.essdn, "/o=Test/cn=alice/guid=" ARCH_GUID);
	assert_string_equal(t.mailstore_url,
	                    "https://mail.contoso.test/mapi/emsmdb/?MailboxId=" ARCH_GUID
	                    "@contoso.test");
	assert_string_equal(t.addressbook_url,
	                    "https://mail.contoso.test/mapi/nspi/?MailboxId=" ARCH_GUID
	                    "@contoso.test");
	assert_string_equal(t.smtp, ARCH_GUID "@contoso.test");

	/* Neither form, and a Server that is no MailboxId. */
	mh_ad_alternative bad = r.settings.alternatives[0];
	bad.legacy_dn = NULL;
	assert_int_equal(mh_ad_alternative_target(f->loop, &o, &r.settings, &bad, &a, &t),
	                 MAPI_E_INVALID_PARAMETER);
	assert_contains(mh_error_last()->message, "neither");
	bad = r.settings.alternatives[0];
	bad.server = "exch01.contoso.test";
	assert_int_equal(mh_ad_alternative_target(f->loop, &o, &r.settings, &bad, &a, &t),
	                 MAPI_E_INVALID_PARAMETER);
	mh_arena_free(&a);
	mh_ad_result_free(&r);
}

static void never(void *ud, mh_status status, const mh_ad_result *r)
{
	(void)ud;
	(void)status;
	(void)r;
	fail_msg("a cancelled discovery called back");
}

static void test_discover__cancel_and_async(void **state)
{
	fixture *f = *state;
	route_add(&f->s, "POST", C1("contoso.test"), 200,
	          settings_doc("alice", "mail.contoso.test"), NULL);
	mh_ad_discover_options o = opts_for("alice@contoso.test");
	mh_ad_op *op = NULL;
	assert_int_equal(mh_ad_discover_start(f->loop, &o, never, NULL, &op), S_OK);
	assert_non_null(op);
	/* Started, then cancelled with its request in flight. */
	assert_int_equal(mh_loop_run_once(f->loop, 0), S_OK);
	mh_ad_discover_cancel(op);
	bool done = false;
	assert_int_equal(mh_loop_run_until(f->loop, &done, f->now + 1000), MAPI_E_CALL_FAILED);

	/* The whole discovery's timeout, on the virtual clock: each answer takes 3 s. */
	mh_ad_result r;
	f->s.hop_chain = true;
	f->s.clock = &f->now;
	f->s.delay_ms = 3000;
	f->s.n_log = 0;
	o.timeout_ms = 5000;
	o.url = "https://hop0.contoso.test/autodiscover/autodiscover.xml";
	assert_int_equal(mh_ad_discover(f->loop, &o, NULL, &r), MAPI_E_TIMEOUT);
	assert_int_equal(f->s.n_log, 2);
	assert_contains(r.message, "5000 ms");
	assert_contains(r.message, "https://hop1.contoso.test/autodiscover/autodiscover.xml");
	mh_ad_result_free(&r);
}

/* ---- against mapihttpd -------------------------------------------------------------------- */

typedef struct server {
	mh_test_server proc;
	char pox[600]; /* its Autodiscover POX URL */
} server;

static server g_server;

static int server_group_setup(void **state)
{
	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (mh_test_server_start(&g_server.proc, MH_SERVER_PATH, NULL) != 0)
		return -1;
	snprintf(g_server.pox, sizeof(g_server.pox), "%s/autodiscover/autodiscover.xml",
	         g_server.proc.url);
	return 0;
}

static int server_group_teardown(void **state)
{
	(void)state;
	int st = mh_test_server_stop(&g_server.proc, SIGTERM);
	mh_test_server_cleanup(&g_server.proc);
	curl_global_cleanup();
	return st == 0 ? 0 : -1;
}

typedef struct live {
	mh_transport *t;
	mh_loop *loop;
} live;

static int live_setup(void **state)
{
	live *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	assert_int_equal(mh_transport_curl_new(&l->t, NULL), S_OK);
	assert_int_equal(mh_loop_new(&l->loop, l->t, NULL), S_OK);
	*state = l;
	return 0;
}

static int live_teardown(void **state)
{
	live *l = *state;
	mh_loop_free(l->loop);
	mh_transport_free(l->t);
	free(l);
	return 0;
}

static mh_ad_discover_options live_opts(const char *email, const char *user, const char *pass)
{
	mh_ad_discover_options o = MH_AD_DISCOVER_OPTIONS_INIT;
	o.email = email;
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.user = user;
	o.auth.secret = pass;
	o.url = g_server.pox;
	o.allow_http = true;
	o.timeout_ms = 30000;
	return o;
}

static void test_discover__server_bob_and_archive(void **state)
{
	live *l = *state;
	mh_ad_discover_options o = live_opts("bob@contoso.test", "bob@contoso.test", "Bob-Pass-1");
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(l->loop, &o, NULL, &r), S_OK);
	assert_string_equal(r.pox_url, g_server.pox);
	assert_int_equal(r.hops, 0);
	assert_string_equal(r.settings.display_name, "Bob Baker");
	assert_string_equal(r.settings.legacy_dn, DN_PREFIX "/cn=Recipients/cn=bob");
	assert_true(r.settings.has_mapihttp);
	char want[1024];
	snprintf(want, sizeof(want), "%s/mapi/emsmdb/?MailboxId=" BOB_GUID "@contoso.test",
	         g_server.proc.url);
	assert_string_equal(mh_ad_urls_pick(&r.settings.mailstore), want);
	snprintf(want, sizeof(want), "%s/mapi/nspi/?MailboxId=" BOB_GUID "@contoso.test",
	         g_server.proc.url);
	assert_string_equal(mh_ad_urls_pick(&r.settings.addressbook), want);
	assert_int_equal(r.settings.n_alternatives, 1);
	const mh_ad_alternative *alt = &r.settings.alternatives[0];
	assert_int_equal(alt->kind, MH_AD_ALT_ARCHIVE);
	assert_string_equal(alt->smtp_address, "ExchangeGuid+" ARCH_GUID "@contoso.test");
	assert_null(alt->legacy_dn);

	/* The archive's SmtpAddress, Autodiscovered as bob: its own DN and MailboxId URL. */
	mh_arena a = MH_ARENA_INIT;
	mh_ad_mailbox_target t;
	assert_int_equal(mh_ad_alternative_target(l->loop, &o, &r.settings, alt, &a, &t), S_OK);
	assert_string_equal(t.essdn, DN_PREFIX "/cn=Recipients/cn=bob/guid=" ARCH_GUID);
	snprintf(want, sizeof(want), "%s/mapi/emsmdb/?MailboxId=" ARCH_GUID "@contoso.test",
	         g_server.proc.url);
	assert_string_equal(t.mailstore_url, want);
	snprintf(want, sizeof(want), "%s/mapi/nspi/?MailboxId=" ARCH_GUID "@contoso.test",
	         g_server.proc.url);
	assert_string_equal(t.addressbook_url, want);
	assert_string_equal(t.smtp, "ExchangeGuid+" ARCH_GUID "@contoso.test");
	mh_arena_free(&a);
	mh_ad_result_free(&r);
}

static void test_discover__server_svc_delegates(void **state)
{
	live *l = *state;
	mh_ad_discover_options o = live_opts("svc@contoso.test", "svc@contoso.test", "Svc-Pass-1");
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(l->loop, &o, NULL, &r), S_OK);
	char want[1024];
	snprintf(want, sizeof(want), "%s/mapi/emsmdb/?MailboxId=" SVC_GUID "@contoso.test",
	         g_server.proc.url);
	assert_string_equal(mh_ad_urls_pick(&r.settings.mailstore), want);
	assert_int_equal(r.settings.n_alternatives, 2);
	const mh_ad_alternative *d = r.settings.alternatives;
	assert_int_equal(d[0].kind, MH_AD_ALT_DELEGATE);
	assert_int_equal(d[1].kind, MH_AD_ALT_DELEGATE);
	assert_string_equal(d[0].smtp_address, "bob@contoso.test");
	assert_string_equal(d[1].smtp_address, "helpdesk@contoso.test");
	assert_string_equal(d[1].display_name, "Helpdesk");

	/* svc opens helpdesk: a discovery of helpdesk as svc, with a Bearer token this time. */
	mh_ad_discover_options ob = o;
	ob.auth.scheme = MH_AUTH_BEARER;
	ob.auth.user = NULL;
	ob.auth.secret = "svc-token-0001";
	mh_arena a = MH_ARENA_INIT;
	mh_ad_mailbox_target t;
	assert_int_equal(mh_ad_alternative_target(l->loop, &ob, &r.settings, &d[1], &a, &t), S_OK);
	assert_string_equal(t.essdn, DN_PREFIX "/cn=Recipients/cn=helpdesk");
	assert_string_equal(t.smtp, "helpdesk@contoso.test");
	assert_non_null(strstr(t.mailstore_url, "/mapi/emsmdb/?MailboxId="));
	assert_null(strstr(t.mailstore_url, SVC_GUID));
	mh_arena_free(&a);
	mh_ad_result_free(&r);
}

static void test_discover__server_unknown_and_wrong_password(void **state)
{
	live *l = *state;
	mh_ad_discover_options o =
	    live_opts("nobody@contoso.test", "alice@contoso.test", "Alice-Pass-1");
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(l->loop, &o, NULL, &r), MAPI_E_NOT_FOUND);
	assert_contains(r.message, "nobody@contoso.test");
	assert_contains(r.message, "error 500");
	mh_ad_result_free(&r);

	o = live_opts("alice@contoso.test", "alice@contoso.test", "Wrong-Pass-0");
	assert_int_equal(mh_ad_discover(l->loop, &o, NULL, &r), MAPI_E_LOGON_FAILED);
	assert_contains(r.message, g_server.pox);
	assert_null(strstr(r.message, "Wrong-Pass-0"));
	assert_null(strstr(mh_error_last()->message, "Wrong-Pass-0"));
	mh_ad_result_free(&r);
}

typedef struct ctx_outcome {
	bool done;
	mh_status status;
	long http_status;
	char message[512];
} ctx_outcome;

static void ctx_outcome_done(const mh_mapi_result *r, void *payload)
{
	ctx_outcome *o = payload;
	o->done = true;
	o->status = r->status;
	o->http_status = r->http_status;
	snprintf(o->message, sizeof(o->message), "%s", r->message);
}

/*
 * An expired token and an unknown one, at Autodiscover and at the mailbox endpoint: both are
 * MAPI_E_LOGON_FAILED, the message says which, and neither names the token.
 */
static void test_discover__server_expired_and_unknown_token(void **state)
{
	live *l = *state;
	mh_ad_discover_options o = live_opts("svc@contoso.test", NULL, NULL);
	o.auth.scheme = MH_AUTH_BEARER;
	o.auth.secret = "svc-token-expired";
	mh_ad_result r;
	assert_int_equal(mh_ad_discover(l->loop, &o, NULL, &r), MAPI_E_LOGON_FAILED);
	assert_contains(r.message, g_server.pox);
	assert_contains(r.message, "the bearer token has expired (HTTP 401)");
	assert_null(strstr(r.message, "svc-token"));
	assert_null(strstr(mh_error_last()->message, "svc-token"));
	mh_ad_result_free(&r);

	o.auth.secret = "svc-token-9999";
	assert_int_equal(mh_ad_discover(l->loop, &o, NULL, &r), MAPI_E_LOGON_FAILED);
	assert_contains(r.message, "refused the bearer token (HTTP 401, invalid_token)");
	assert_null(strstr(r.message, "expired"));
	assert_null(strstr(r.message, "svc-token"));
	mh_ad_result_free(&r);

	/* The mailbox endpoint says the same through the libcurl transport. */
	char url[1024];
	snprintf(url, sizeof(url), "%s/mapi/emsmdb/?MailboxId=" SVC_GUID "@contoso.test",
	         g_server.proc.url);
	const char *tokens[] = {"svc-token-expired", "svc-token-9999"};
	const char *want[] = {"HTTP 401 from the mailbox endpoint: the server says the bearer "
	                      "token has expired; get a new token",
	                      "HTTP 401 from the mailbox endpoint: the server refused the bearer "
	                      "token (invalid_token)"};
	for (size_t i = 0; i < 2; i++) {
		mh_mapi_ctx_options co = MH_MAPI_CTX_OPTIONS_INIT;
		co.url = url;
		co.auth.scheme = MH_AUTH_BEARER;
		co.auth.secret = tokens[i];
		co.total_timeout_ms = 30000;
		mh_mapi_ctx *c;
		assert_int_equal(mh_mapi_ctx_new(&c, l->loop, &co), S_OK);
		ctx_outcome out = {0};
		assert_int_equal(mh_mapi_ctx_send(c, MH_RT_CONNECT, "x", 1, ctx_outcome_done, &out),
		                 S_OK);
		assert_int_equal(mh_loop_run_until(l->loop, &out.done, 0), S_OK);
		assert_true(out.done);
		assert_int_equal(out.status, MAPI_E_LOGON_FAILED);
		assert_int_equal(out.http_status, 401);
		assert_string_equal(out.message, want[i]);
		mh_mapi_ctx_free(c);
	}
}

int main(void)
{
	const struct CMUnitTest memory_tests[] = {
	    cmocka_unit_test_setup_teardown(test_discover__candidate_order_and_fallback, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_discover__malformed_answers_go_to_next_candidate,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover__json_hop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover__redirect_addr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover__redirect_url_and_302_on_post, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_discover__credentials_never_go_over_http, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_discover__max_hops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover__redirect_loops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover__401_stops_the_search, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover__autodiscover_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover__bad_options, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover__explicit_url, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover__cache_in_process, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover__cache_on_disk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover__alternative_rpc_form, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover__cancel_and_async, setup, teardown),
	};
	const struct CMUnitTest server_tests[] = {
	    cmocka_unit_test_setup_teardown(test_discover__server_bob_and_archive, live_setup,
	                                    live_teardown),
	    cmocka_unit_test_setup_teardown(test_discover__server_svc_delegates, live_setup,
	                                    live_teardown),
	    cmocka_unit_test_setup_teardown(test_discover__server_expired_and_unknown_token,
	                                    live_setup, live_teardown),
	    cmocka_unit_test_setup_teardown(test_discover__server_unknown_and_wrong_password,
	                                    live_setup, live_teardown),
	};
	int failed = cmocka_run_group_tests_name("discover_memory", memory_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("discover_mapihttpd", server_tests,
	                                      server_group_setup, server_group_teardown);
	return failed;
}
