/*
 * mapihttpd's MAPI/HTTP session layer over real HTTP: an in-process server (store, session
 * layer, HTTP front) on 127.0.0.1:0, driven with libcurl and the codecs. Cookies, sequencing,
 * expiry, limits, reconnect, Connect/Execute/Disconnect/NotificationWait/PING and NSPI.
 */
#define _DEFAULT_SOURCE /* strdup, strcasecmp */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <curl/curl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec/emsmdb.h"
#include "codec/mapihttp.h"
#include "codec/nspi.h"
#include "codec/rop.h"
#include "codec/rpc_ext.h"
#include "server/fault.h"
#include "server/http.h"
#include "server/mapi_srv.h"
#include "server/store.h"
#include "util/cursor.h"

#ifndef MH_SERVER_PATH
#error "MH_SERVER_PATH must name the mapihttpd binary"
#endif

#define DN_PREFIX   "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define DN_OF(a)    DN_PREFIX "/cn=Recipients/cn=" a
#define ALICE_GUID  "3a355873-72e9-840e-9c30-d2cf806e1a0f"
#define BOB_GUID    "eb113c0f-3344-86e1-ad16-c68cf5c1be62"
#define ARCH_GUID   "6bc6e012-62aa-8d2f-bbd6-151067afaa5d"
#define CAROL_GUID  "34c26e5f-43a8-8183-8cb2-aa586d70e5db"
#define SVC_GUID    "8a39cc22-65dd-872d-88ea-24f72c31f5d9"
#define DOMAIN      "@contoso.test"
#define REQUEST_ID  "{9730973A-1173-49DA-950F-08BC63ED335A}:1"
#define CLIENT_INFO "{2F94A2BF-A2E6-4CCC-BF98-B5F22C542226}:6"

#define OPEN_FLAGS 0x0100040Cu /* USE_PER_MDB_REPLID_MAPPING | NO_MAIL | TAKE_OWNERSHIP | HOME */

/* ---- the in-process server ------------------------------------------------------------- */

typedef struct fixture {
	mh_srv_store *st;
	mh_srv_mapi *m;
	mh_srv_http *h;
	mh_srv_faults *faults;
	_Atomic uint64_t now; /* the session layer's clock, ms */
	char base[64];
} fixture;

static uint64_t fake_clock(void *payload)
{
	fixture *f = payload;
	return atomic_load(&f->now);
}

static void advance(fixture *f, uint64_t ms)
{
	atomic_fetch_add(&f->now, ms);
}

/* Starts a server; opts may be NULL (defaults). The clock is always the fixture's. */
static fixture *start(const mh_srv_mapi_options *opts, const char *fault)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	atomic_store(&f->now, 1000000);
	assert_int_equal(mh_srv_store_open(&f->st, NULL), 0);
	assert_int_equal(mh_srv_store_load_sample(f->st), 0);
	mh_srv_mapi_options o = MH_SRV_MAPI_OPTIONS_INIT;
	if (opts != NULL)
		o = *opts;
	if (fault != NULL) {
		assert_int_equal(mh_srv_faults_new(&f->faults), 0);
		assert_int_equal(mh_srv_faults_add(f->faults, fault), 0);
		o.faults = f->faults;
	}
	o.clock = fake_clock;
	o.clock_payload = f;
	assert_int_equal(mh_srv_mapi_new(&f->m, f->st, &o), 0);

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));

	mh_srv_http_options ho = MH_SRV_HTTP_OPTIONS_INIT;
	ho.listen_fd = fd;
	ho.base_url = f->base;
	ho.emsmdb = mh_srv_mapi_emsmdb_handler(f->m);
	ho.nspi = mh_srv_mapi_nspi_handler(f->m);
	assert_int_equal(mh_srv_http_start(&f->h, f->st, &ho), 0);
	return f;
}

static void stop(fixture *f)
{
	mh_srv_http_stop(f->h, 2000);
	mh_srv_mapi_free(f->m);
	mh_srv_faults_free(f->faults);
	mh_srv_store_free(f->st);
	free(f);
}

/* ---- a client session: credentials, URL and cookie jar --------------------------------- */

typedef struct session {
	const char *user;     /* "svc" (Bearer) or alice/bob/carol (Basic) */
	const char *endpoint; /* "emsmdb" or "nspi" */
	char mailbox_id[96];
	char ctx[256]; /* MapiContext, "" when none */
	char seq[256]; /* MapiSequence, "" when none */
} session;

static void session_init(session *s, const char *user, const char *endpoint, const char *guid)
{
	memset(s, 0, sizeof(*s));
	s->user = user;
	s->endpoint = endpoint;
	snprintf(s->mailbox_id, sizeof(s->mailbox_id), "%s" DOMAIN, guid);
}

typedef struct reply {
	long http;
	uint32_t rc; /* X-ResponseCode header */
	bool have_rc;
	uint32_t expiration; /* X-ExpirationInfo, 0 when absent */
	char set_ctx[256];   /* Set-Cookie values, "" when absent */
	char set_seq[256];
	unsigned n_set_cookies;
	uint8_t *raw;
	size_t raw_len;
	mh_arena arena;
	mh_mapihttp_response mr; /* parsed when rc is 0 */
} reply;

static size_t on_body(char *p, size_t size, size_t n, void *payload)
{
	reply *r = payload;
	size_t len = size * n;
	uint8_t *grown = realloc(r->raw, r->raw_len + len + 1);
	assert_non_null(grown);
	r->raw = grown;
	memcpy(r->raw + r->raw_len, p, len);
	r->raw_len += len;
	r->raw[r->raw_len] = 0;
	return len;
}

static void cookie_value(const char *line, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	if (strncmp(line, name, n) != 0 || line[n] != '=')
		return;
	const char *v = line + n + 1;
	size_t len = strcspn(v, ";\r\n");
	assert_true(len < cap);
	memcpy(out, v, len);
	out[len] = 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *payload)
{
	reply *r = payload;
	size_t len = size * n;
	char line[1024];
	if (len >= sizeof(line))
		return len;
	memcpy(line, p, len);
	line[len] = 0;
	if (strncasecmp(line, "X-ResponseCode:", 15) == 0) {
		r->rc = (uint32_t)strtoul(line + 15, NULL, 10);
		r->have_rc = true;
	} else if (strncasecmp(line, "X-ExpirationInfo:", 17) == 0) {
		r->expiration = (uint32_t)strtoul(line + 17, NULL, 10);
	} else if (strncasecmp(line, "Set-Cookie:", 11) == 0) {
		const char *v = line + 11;
		while (*v == ' ')
			v++;
		r->n_set_cookies++;
		cookie_value(v, MH_SRV_MAPI_CONTEXT_COOKIE, r->set_ctx, sizeof(r->set_ctx));
		cookie_value(v, MH_SRV_MAPI_SEQUENCE_COOKIE, r->set_seq, sizeof(r->set_seq));
	}
	return len;
}

/*
 * One POST on s's endpoint with s's cookies (cookie overrides them when not NULL); the
 * reply's Set-Cookie values update s. extra is one more header or NULL.
 */
static void post_raw(fixture *f, session *s, const char *type, const uint8_t *body, size_t len,
                     const char *cookie, const char *extra, reply *r)
{
	memset(r, 0, sizeof(*r));
	mh_arena_init(&r->arena, 0);
	CURL *c = curl_easy_init();
	assert_non_null(c);
	char url[256], h_type[64], h_cookie[600];
	snprintf(url, sizeof(url), "%s/mapi/%s/?MailboxId=%s", f->base, s->endpoint, s->mailbox_id);
	snprintf(h_type, sizeof(h_type), "X-RequestType: %s", type);
	struct curl_slist *hl = NULL;
	hl = curl_slist_append(hl, "Content-Type: application/mapi-http");
	hl = curl_slist_append(hl, h_type);
	hl = curl_slist_append(hl, "X-RequestId: " REQUEST_ID);
	hl = curl_slist_append(hl, "X-ClientInfo: " CLIENT_INFO);
	hl = curl_slist_append(hl, "X-ClientApplication: Outlook/15.0.4815.1002");
	hl = curl_slist_append(hl, "Expect:");
	if (cookie == NULL && s->ctx[0] != 0) {
		if (s->seq[0] != 0)
			snprintf(h_cookie, sizeof(h_cookie), "Cookie: %s=%s; %s=%s",
			         MH_SRV_MAPI_CONTEXT_COOKIE, s->ctx, MH_SRV_MAPI_SEQUENCE_COOKIE,
			         s->seq);
		else
			snprintf(h_cookie, sizeof(h_cookie), "Cookie: %s=%s",
			         MH_SRV_MAPI_CONTEXT_COOKIE, s->ctx);
		hl = curl_slist_append(hl, h_cookie);
	} else if (cookie != NULL && cookie[0] != 0) {
		snprintf(h_cookie, sizeof(h_cookie), "Cookie: %s", cookie);
		hl = curl_slist_append(hl, h_cookie);
	}
	if (extra != NULL)
		hl = curl_slist_append(hl, extra);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? (const char *)body : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	char pass[64];
	if (strcmp(s->user, "svc") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, "svc-token-0001");
	} else {
		snprintf(pass, sizeof(pass), "%c%s-Pass-1", s->user[0] - 'a' + 'A', s->user + 1);
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		char userpwd[128];
		snprintf(userpwd, sizeof(userpwd), "%s" DOMAIN ":%s", s->user, pass);
		curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	}
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->http);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	assert_int_equal(r->http, 200);
	assert_true(r->have_rc);
	if (r->rc == 0)
		assert_int_equal(mh_mapihttp_response_parse(r->raw, r->raw_len, &r->arena, &r->mr),
		                 0);
	if (r->set_ctx[0] != 0)
		snprintf(s->ctx, sizeof(s->ctx), "%s", r->set_ctx);
	if (r->set_seq[0] != 0)
		snprintf(s->seq, sizeof(s->seq), "%s", r->set_seq);
}

static void post(fixture *f, session *s, const char *type, const mh_buf *body, reply *r)
{
	post_raw(f, s, type, body != NULL ? body->data : NULL, body != NULL ? body->len : 0, NULL,
	         NULL, r);
}

static void reply_free(reply *r)
{
	free(r->raw);
	mh_arena_free(&r->arena);
}

/* ---- bodies ------------------------------------------------------------------------------ */

static mh_buf connect_body(const char *dn, uint32_t flags)
{
	mh_buf b = MH_BUF_INIT;
	mh_emsmdb_connect_request in;
	memset(&in, 0, sizeof(in));
	in.user_dn = dn;
	in.flags = flags;
	in.default_code_page = 1252;
	in.lcid_sort = 0x409;
	in.lcid_string = 0x409;
	assert_int_equal(mh_emsmdb_connect_request_push(&b, &in), 0);
	return b;
}

static mh_emsmdb_connect_response connect_parse(reply *r)
{
	mh_emsmdb_connect_response out;
	mh_cursor c;
	assert_int_equal(r->rc, 0);
	mh_cursor_init(&c, r->mr.body, r->mr.body_len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_emsmdb_connect_response_pull(&c, &r->arena, &out), 0);
	return out;
}

/* Connect as s->user with dn; returns Connect's ErrorCode. */
static uint32_t do_connect(fixture *f, session *s, const char *dn)
{
	mh_buf b = connect_body(dn, 0);
	reply r;
	post(f, s, "Connect", &b, &r);
	mh_buf_free(&b);
	mh_emsmdb_connect_response out = connect_parse(&r);
	assert_int_equal(out.status_code, 0);
	reply_free(&r);
	return out.error_code;
}

/* A ROP input buffer: the given ROPs and n_handles handle slots of 0xFFFFFFFF. */
static void rop_input(mh_buf *b, const mh_rop_request *rops, uint32_t n_rops, uint32_t n_handles)
{
	uint32_t handles[64];
	assert_true(n_handles <= 64);
	for (uint32_t i = 0; i < n_handles; i++)
		handles[i] = 0xFFFFFFFFu;
	mh_rop_request_buffer rb;
	memset(&rb, 0, sizeof(rb));
	rb.count = n_rops;
	rb.rops = (mh_rop_request *)(uintptr_t)rops;
	rb.handle_count = n_handles;
	rb.handles = handles;
	mh_rop_request_buffer_push(b, &rb);
	assert_int_equal(mh_buf_status(b), 0);
}

/* An Execute body around a plain ROP input buffer. */
static mh_buf execute_body(uint32_t flags, const mh_buf *rops, uint32_t max_rop_out)
{
	mh_buf ext = MH_BUF_INIT, b = MH_BUF_INIT;
	assert_int_equal(mh_rpc_ext_push_one(&ext, rops->data, rops->len, NULL, true), 0);
	mh_emsmdb_execute_request in;
	memset(&in, 0, sizeof(in));
	in.flags = flags;
	in.rop_buffer.data = ext.data;
	in.rop_buffer.len = (uint32_t)ext.len;
	in.max_rop_out = max_rop_out;
	assert_int_equal(mh_emsmdb_execute_request_push(&b, &in), 0);
	mh_buf_free(&ext);
	return b;
}

/* An Execute with no ROP and n_handles handle slots. */
static mh_buf empty_execute(uint32_t flags, uint32_t n_handles, uint32_t max_rop_out)
{
	mh_buf rops = MH_BUF_INIT;
	rop_input(&rops, NULL, 0, n_handles);
	mh_buf b = execute_body(flags, &rops, max_rop_out);
	mh_buf_free(&rops);
	return b;
}

static mh_emsmdb_execute_response execute_parse(reply *r)
{
	mh_emsmdb_execute_response out;
	mh_cursor c;
	assert_int_equal(r->rc, 0);
	mh_cursor_init(&c, r->mr.body, r->mr.body_len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_emsmdb_execute_response_pull(&c, &r->arena, &out), 0);
	return out;
}

/* Execute on s; returns X-ResponseCode. */
static uint32_t execute_rc(fixture *f, session *s, const char *cookie)
{
	mh_buf b = empty_execute(0x3, 1, 0x10008);
	reply r;
	post_raw(f, s, "Execute", b.data, b.len, cookie, NULL, &r);
	mh_buf_free(&b);
	uint32_t rc = r.rc;
	if (rc == 0)
		assert_int_equal(execute_parse(&r).error_code, 0);
	reply_free(&r);
	return rc;
}

static uint32_t ping_rc(fixture *f, session *s)
{
	reply r;
	post(f, s, "PING", NULL, &r);
	uint32_t rc = r.rc;
	if (rc == 0)
		assert_int_equal(r.mr.body_len, 0);
	reply_free(&r);
	return rc;
}

static mh_buf nspi_body(const mh_nspi_request *req)
{
	mh_buf b = MH_BUF_INIT;
	assert_int_equal(mh_nspi_request_push(&b, req), 0);
	return b;
}

static mh_nspi_response nspi_parse(reply *r, mh_nspi_kind kind)
{
	mh_nspi_response out;
	mh_cursor c;
	assert_int_equal(r->rc, 0);
	mh_cursor_init(&c, r->mr.body, r->mr.body_len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_nspi_response_pull(&c, &r->arena, kind, 0, &out), 0);
	return out;
}

static mh_nspi_stat default_stat(void)
{
	mh_nspi_stat st;
	mh_nspi_stat_default(&st);
	return st;
}

static uint32_t nspi_bind(fixture *f, session *s)
{
	mh_nspi_request q;
	memset(&q, 0, sizeof(q));
	q.kind = MH_NSPI_BIND;
	q.u.bind.has_state = true;
	q.u.bind.state = default_stat();
	mh_buf b = nspi_body(&q);
	reply r;
	post(f, s, "Bind", &b, &r);
	mh_buf_free(&b);
	mh_nspi_response out = nspi_parse(&r, MH_NSPI_BIND);
	reply_free(&r);
	return out.error_code;
}

static bool is_hex32(const char *v)
{
	if (strlen(v) != 32)
		return false;
	for (size_t i = 0; i < 32; i++) {
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			return false;
	}
	return true;
}

/* "<n>-" then 8 base64 characters ending in "==". */
static bool is_seq(const char *v, unsigned n)
{
	char head[16];
	snprintf(head, sizeof(head), "%u-", n);
	size_t hl = strlen(head);
	return strncmp(v, head, hl) == 0 && strlen(v) == hl + 8 && strcmp(v + hl + 6, "==") == 0;
}

/* ---- Connect ----------------------------------------------------------------------------- */

static void test_server_mapi__connect_success(void **state)
{
	(void)state;
	fixture *f = start(NULL, NULL);
	session s;
	session_init(&s, "svc", "emsmdb", SVC_GUID);
	mh_buf b = connect_body(DN_OF("svc"), 0);
	reply r;
	post(f, &s, "Connect", &b, &r);
	mh_buf_free(&b);
	mh_emsmdb_connect_response out = connect_parse(&r);
	assert_int_equal(out.status_code, 0);
	assert_int_equal(out.error_code, 0);
	assert_int_equal(out.polls_max, 60000);
	assert_int_equal(out.retry_count, 6);
	assert_int_equal(out.retry_delay, 10000);
	assert_string_equal(out.dn_prefix, "");
	assert_string_equal(out.display_name, "Scan Service");
	assert_int_equal(out.aux.len, 0);
	assert_true(is_hex32(r.set_ctx));
	assert_true(is_seq(r.set_seq, 0));
	assert_int_equal(r.expiration, MH_SRV_MAPI_EXPIRATION);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 1);
	reply_free(&r);

	/* A second Connect without cookies is a second context with another id. */
	session s2;
	session_init(&s2, "svc", "emsmdb", SVC_GUID);
	assert_int_equal(do_connect(f, &s2, DN_OF("SVC")), 0); /* DNs compare ignoring case */
	assert_true(is_hex32(s2.ctx));
	assert_string_not_equal(s.ctx, s2.ctx);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 2);
	stop(f);
}

static void test_server_mapi__connect_user_dn_checks(void **state)
{
	(void)state;
	fixture *f = start(NULL, NULL);
	struct {
		const char *user, *dn;
		uint32_t flags, error_code;
		const char *display;
	} cases[] = {
	    {"svc", DN_OF("alice"), 0, (uint32_t)ecLoginPerm, NULL},    /* no rights on alice */
	    {"svc", DN_OF("bob"), 0, 0, "Bob Baker"},                   /* FullAccess on bob */
	    {"bob", DN_OF("svc"), 0, (uint32_t)ecLoginPerm, NULL},      /* not the other way */
	    {"svc", DN_OF("nobody"), 0, (uint32_t)ecUnknownUser, NULL}, /* unknown DN */
	    {"svc", "", 0, (uint32_t)ecUnknownUser, NULL},              /* empty */
	    {"svc", DN_OF("svc"), MH_CONNECT_ADMIN, (uint32_t)ecLoginPerm, NULL},
	};
	size_t expected = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		session s;
		session_init(&s, cases[i].user, "emsmdb", SVC_GUID);
		mh_buf b = connect_body(cases[i].dn, cases[i].flags);
		reply r;
		post(f, &s, "Connect", &b, &r);
		mh_buf_free(&b);
		mh_emsmdb_connect_response out = connect_parse(&r);
		assert_int_equal(out.status_code, 0);
		assert_int_equal(out.error_code, cases[i].error_code);
		if (cases[i].display != NULL) {
			assert_string_equal(out.display_name, cases[i].display);
			assert_true(is_hex32(r.set_ctx));
			expected++;
		} else {
			assert_int_equal(r.n_set_cookies, 0);
		}
		assert_int_equal(mh_srv_mapi_context_count(f->m), expected);
		reply_free(&r);
	}
	/* A body that does not decode: 12. */
	session s;
	session_init(&s, "svc", "emsmdb", SVC_GUID);
	reply r;
	post_raw(f, &s, "Connect", (const uint8_t *)"abc", 3, NULL, NULL, &r);
	assert_int_equal(r.rc, MH_RESPONSE_INVALID_REQUEST_BODY);
	reply_free(&r);
	stop(f);
}

/* ---- cookies and sequencing ------------------------------------------------------------- */

static void test_server_mapi__cookie_faults(void **state)
{
	(void)state;
	fixture *f = start(NULL, NULL);
	session s;
	session_init(&s, "svc", "emsmdb", SVC_GUID);
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	char good_ctx[256], cookie[600];
	snprintf(good_ctx, sizeof(good_ctx), "%s", s.ctx);

	/* No cookie at all: 13. */
	assert_int_equal(execute_rc(f, &s, ""), MH_RESPONSE_MISSING_COOKIE);
	/* Not of our form: 6. */
	assert_int_equal(execute_rc(f, &s, "MapiContext=not-a-context; MapiSequence=0-AAAAAA=="),
	                 MH_RESPONSE_INVALID_CONTEXT_COOKIE);
	assert_int_equal(execute_rc(f, &s, "MapiContext=0123456789abcdef0123456789abcdeZ"),
	                 MH_RESPONSE_INVALID_CONTEXT_COOKIE);
	/* Well formed, unknown: 10. */
	snprintf(cookie, sizeof(cookie), "MapiContext=%s; MapiSequence=%s",
	         "00000000000000000000000000000000", s.seq);
	assert_int_equal(execute_rc(f, &s, cookie), MH_RESPONSE_CONTEXT_NOT_FOUND);
	/* Context without a sequence on a sequenced request: 13; PING needs none. */
	snprintf(cookie, sizeof(cookie), "MapiContext=%s", good_ctx);
	assert_int_equal(execute_rc(f, &s, cookie), MH_RESPONSE_MISSING_COOKIE);
	assert_int_equal(ping_rc(f, &s), 0);

	/* The right sequence works and rotates; the previous value is then refused. */
	char old_seq[256];
	snprintf(old_seq, sizeof(old_seq), "%s", s.seq);
	assert_true(is_seq(s.seq, 0));
	assert_int_equal(execute_rc(f, &s, NULL), 0);
	assert_true(is_seq(s.seq, 1));
	assert_int_equal(execute_rc(f, &s, NULL), 0);
	assert_true(is_seq(s.seq, 2));
	snprintf(cookie, sizeof(cookie), "MapiContext=%s; MapiSequence=%s", good_ctx, old_seq);
	assert_int_equal(execute_rc(f, &s, cookie), MH_RESPONSE_INVALID_SEQUENCE);
	/* Poisoned: the current value, PING and Disconnect now all get 15. */
	assert_int_equal(execute_rc(f, &s, NULL), MH_RESPONSE_INVALID_SEQUENCE);
	assert_int_equal(ping_rc(f, &s), MH_RESPONSE_INVALID_SEQUENCE);
	mh_buf d = MH_BUF_INIT;
	mh_emsmdb_disconnect_request dq;
	memset(&dq, 0, sizeof(dq));
	assert_int_equal(mh_emsmdb_disconnect_request_push(&d, &dq), 0);
	reply r;
	post(f, &s, "Disconnect", &d, &r);
	assert_int_equal(r.rc, MH_RESPONSE_INVALID_SEQUENCE);
	reply_free(&r);
	mh_buf_free(&d);

	/* A reconnect with the poisoned context's cookies replaces it. */
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	assert_string_not_equal(s.ctx, good_ctx);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 1);
	assert_int_equal(execute_rc(f, &s, NULL), 0);

	/* A garbage sequence value also poisons. */
	snprintf(cookie, sizeof(cookie), "MapiContext=%s; MapiSequence=99-zzzzzz==", s.ctx);
	assert_int_equal(execute_rc(f, &s, cookie), MH_RESPONSE_INVALID_SEQUENCE);
	assert_int_equal(execute_rc(f, &s, NULL), MH_RESPONSE_INVALID_SEQUENCE);
	stop(f);
}

static void test_server_mapi__context_bound_to_principal_mailbox_endpoint(void **state)
{
	(void)state;
	fixture *f = start(NULL, NULL);
	session s;
	session_init(&s, "svc", "emsmdb", BOB_GUID);
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);

	/* Another principal with svc's cookies: 10. */
	session alice = s;
	alice.user = "alice";
	assert_int_equal(ping_rc(f, &alice), MH_RESPONSE_CONTEXT_NOT_FOUND);
	assert_int_equal(execute_rc(f, &alice, NULL), MH_RESPONSE_CONTEXT_NOT_FOUND);
	/* Another MailboxId: 10. */
	session other = s;
	snprintf(other.mailbox_id, sizeof(other.mailbox_id), "%s", SVC_GUID DOMAIN);
	assert_int_equal(ping_rc(f, &other), MH_RESPONSE_CONTEXT_NOT_FOUND);
	assert_int_equal(execute_rc(f, &other, NULL), MH_RESPONSE_CONTEXT_NOT_FOUND);
	/* The address book endpoint: 10. */
	session ab = s;
	ab.endpoint = "nspi";
	assert_int_equal(ping_rc(f, &ab), MH_RESPONSE_CONTEXT_NOT_FOUND);
	/* None of that harmed the context: the owner's sequence still holds. */
	assert_int_equal(execute_rc(f, &s, NULL), 0);
	assert_int_equal(ping_rc(f, &s), 0);
	stop(f);
}

static void test_server_mapi__ping_and_disconnect(void **state)
{
	(void)state;
	fixture *f = start(NULL, NULL);
	session s;
	session_init(&s, "svc", "emsmdb", SVC_GUID);
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	char ctx0[256], seq0[256];
	snprintf(ctx0, sizeof(ctx0), "%s", s.ctx);
	snprintf(seq0, sizeof(seq0), "%s", s.seq);

	reply r;
	post(f, &s, "PING", NULL, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.mr.body_len, 0);
	assert_string_equal(r.set_ctx, ctx0); /* MapiContext again, no new MapiSequence */
	assert_string_equal(r.set_seq, "");
	assert_int_equal(r.expiration, MH_SRV_MAPI_EXPIRATION);
	reply_free(&r);
	assert_string_equal(s.seq, seq0);

	mh_buf d = MH_BUF_INIT;
	mh_emsmdb_disconnect_request dq;
	memset(&dq, 0, sizeof(dq));
	assert_int_equal(mh_emsmdb_disconnect_request_push(&d, &dq), 0);
	post(f, &s, "Disconnect", &d, &r);
	assert_int_equal(r.rc, 0);
	mh_emsmdb_disconnect_response dr;
	mh_cursor c;
	mh_cursor_init(&c, r.mr.body, r.mr.body_len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_emsmdb_disconnect_response_pull(&c, &r.arena, &dr), 0);
	assert_int_equal(dr.status_code, 0);
	assert_int_equal(dr.error_code, 0);
	assert_string_equal(r.set_ctx, ctx0);
	assert_string_equal(r.set_seq, seq0);
	reply_free(&r);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 0);
	/* Gone. */
	assert_int_equal(ping_rc(f, &s), MH_RESPONSE_CONTEXT_NOT_FOUND);
	assert_int_equal(execute_rc(f, &s, NULL), MH_RESPONSE_CONTEXT_NOT_FOUND);
	post(f, &s, "Disconnect", &d, &r);
	assert_int_equal(r.rc, MH_RESPONSE_CONTEXT_NOT_FOUND);
	reply_free(&r);
	/* A Disconnect body that does not decode: 12, and the context stays. */
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	post_raw(f, &s, "Disconnect", (const uint8_t *)"\x01", 1, NULL, NULL, &r);
	assert_int_equal(r.rc, MH_RESPONSE_INVALID_REQUEST_BODY);
	reply_free(&r);
	assert_int_equal(ping_rc(f, &s), 0);
	mh_buf_free(&d);
	stop(f);
}

static void test_server_mapi__reconnect_replaces_context(void **state)
{
	(void)state;
	fixture *f = start(NULL, NULL);
	session s;
	session_init(&s, "svc", "emsmdb", SVC_GUID);
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	session old = s;
	/* Bob's cookies, which bob cannot use: bob's reconnect must not drop svc's context. */
	session bob = s;
	bob.user = "bob";
	snprintf(bob.mailbox_id, sizeof(bob.mailbox_id), "%s", BOB_GUID DOMAIN);
	assert_int_equal(do_connect(f, &bob, DN_OF("bob")), 0);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 2);
	assert_int_equal(ping_rc(f, &old), 0);

	/* The sequence is ignored on a reconnect. */
	snprintf(s.seq, sizeof(s.seq), "7-bogus");
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	assert_string_not_equal(s.ctx, old.ctx);
	assert_true(is_seq(s.seq, 0));
	assert_int_equal(mh_srv_mapi_context_count(f->m), 2);
	assert_int_equal(ping_rc(f, &old), MH_RESPONSE_CONTEXT_NOT_FOUND);
	assert_int_equal(execute_rc(f, &s, NULL), 0);

	/* NSPI too. */
	session ab;
	session_init(&ab, "svc", "nspi", SVC_GUID);
	assert_int_equal(nspi_bind(f, &ab), 0);
	session ab_old = ab;
	assert_int_equal(nspi_bind(f, &ab), 0);
	assert_string_not_equal(ab.ctx, ab_old.ctx);
	assert_int_equal(ping_rc(f, &ab_old), MH_RESPONSE_CONTEXT_NOT_FOUND);
	assert_int_equal(ping_rc(f, &ab), 0);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 3);
	stop(f);
}

/* ---- lifetime and limits ---------------------------------------------------------------- */

static void test_server_mapi__idle_expiry(void **state)
{
	(void)state;
	fixture *f = start(NULL, NULL);
	session s;
	session_init(&s, "svc", "emsmdb", SVC_GUID);
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	advance(f, MH_SRV_MAPI_EXPIRATION - 1);
	assert_int_equal(ping_rc(f, &s), 0); /* refreshed */
	advance(f, MH_SRV_MAPI_EXPIRATION);
	assert_int_equal(execute_rc(f, &s, NULL), 0);
	advance(f, MH_SRV_MAPI_EXPIRATION + 1);
	assert_int_equal(ping_rc(f, &s), MH_RESPONSE_CONTEXT_NOT_FOUND);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 0);

	/* A client's X-ExpirationInfo is clamped: 1000 ms becomes 5 s, a day becomes 2 h. */
	session_init(&s, "svc", "emsmdb", SVC_GUID);
	mh_buf b = connect_body(DN_OF("svc"), 0);
	reply r;
	post_raw(f, &s, "Connect", b.data, b.len, NULL, "X-ExpirationInfo: 1000", &r);
	assert_int_equal(connect_parse(&r).error_code, 0);
	assert_int_equal(r.expiration, MH_SRV_MAPI_MIN_EXPIRATION);
	reply_free(&r);
	advance(f, MH_SRV_MAPI_MIN_EXPIRATION);
	assert_int_equal(ping_rc(f, &s), 0);
	advance(f, MH_SRV_MAPI_MIN_EXPIRATION + 1);
	assert_int_equal(ping_rc(f, &s), MH_RESPONSE_CONTEXT_NOT_FOUND);

	session_init(&s, "svc", "emsmdb", SVC_GUID);
	post_raw(f, &s, "Connect", b.data, b.len, NULL, "X-ExpirationInfo: 86400000", &r);
	assert_int_equal(r.expiration, MH_SRV_MAPI_MAX_EXPIRATION);
	reply_free(&r);
	mh_buf_free(&b);

	/* Expired contexts are swept by the next Connect even when nobody names them again. */
	session t;
	session_init(&t, "bob", "emsmdb", BOB_GUID);
	assert_int_equal(do_connect(f, &t, DN_OF("bob")), 0);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 2);
	advance(f, MH_SRV_MAPI_MAX_EXPIRATION + 1);
	session u;
	session_init(&u, "carol", "emsmdb", CAROL_GUID);
	assert_int_equal(do_connect(f, &u, DN_OF("carol")), 0);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 1);
	stop(f);
}

static void test_server_mapi__session_limits(void **state)
{
	(void)state;
	mh_srv_mapi_options o = MH_SRV_MAPI_OPTIONS_INIT;
	o.max_contexts_per_user = 2;
	o.max_contexts = 3;
	fixture *f = start(&o, NULL);
	session a, b, c, ab;
	session_init(&a, "svc", "emsmdb", SVC_GUID);
	session_init(&b, "svc", "emsmdb", SVC_GUID);
	session_init(&c, "svc", "emsmdb", SVC_GUID);
	session_init(&ab, "svc", "nspi", SVC_GUID);
	assert_int_equal(do_connect(f, &a, DN_OF("svc")), 0);
	assert_int_equal(nspi_bind(f, &ab), 0);
	/* svc holds 2 (EMSMDB and NSPI count together): the third is refused, no cookies. */
	assert_int_equal(do_connect(f, &c, DN_OF("svc")), (uint32_t)MAPI_E_SESSION_LIMIT);
	assert_string_equal(c.ctx, "");
	session ab2;
	session_init(&ab2, "svc", "nspi", SVC_GUID);
	assert_int_equal(nspi_bind(f, &ab2), (uint32_t)MAPI_E_SESSION_LIMIT);
	assert_string_equal(ab2.ctx, "");
	assert_int_equal(mh_srv_mapi_context_count(f->m), 2);
	/* A reconnect frees its old slot first, so it is not refused. */
	assert_int_equal(do_connect(f, &a, DN_OF("svc")), 0);
	/* The total: bob gets one, carol none. */
	session bob, carol;
	session_init(&bob, "bob", "emsmdb", BOB_GUID);
	session_init(&carol, "carol", "emsmdb", CAROL_GUID);
	assert_int_equal(do_connect(f, &bob, DN_OF("bob")), 0);
	assert_int_equal(do_connect(f, &carol, DN_OF("carol")), (uint32_t)MAPI_E_SESSION_LIMIT);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 3);
	/* Disconnect frees a slot. */
	mh_buf d = MH_BUF_INIT;
	mh_emsmdb_disconnect_request dq;
	memset(&dq, 0, sizeof(dq));
	assert_int_equal(mh_emsmdb_disconnect_request_push(&d, &dq), 0);
	reply r;
	post(f, &bob, "Disconnect", &d, &r);
	assert_int_equal(r.rc, 0);
	reply_free(&r);
	mh_buf_free(&d);
	assert_int_equal(do_connect(f, &carol, DN_OF("carol")), 0);
	(void)b;
	stop(f);
}

static void test_server_mapi__expire_fault(void **state)
{
	(void)state;
	fixture *f = start(NULL, "expire,every=3");
	session s;
	session_init(&s, "svc", "emsmdb", SVC_GUID);
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	assert_int_equal(ping_rc(f, &s), 0);
	assert_int_equal(execute_rc(f, &s, NULL), 0);
	assert_int_equal(ping_rc(f, &s), MH_RESPONSE_CONTEXT_NOT_FOUND);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 0);
	stop(f);
}

/* ---- Execute ------------------------------------------------------------------------------ */

static void test_server_mapi__execute_bounds_and_bodies(void **state)
{
	(void)state;
	fixture *f = start(NULL, NULL);
	session s;
	session_init(&s, "svc", "emsmdb", SVC_GUID);
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	reply r;
	/* MaxRopOut out of bounds: failure body RPC_X_BAD_STUB_DATA (X-ResponseCode 0). */
	const uint32_t bad[] = {0, 7, 0x40001, 0xFFFFFFFFu};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mh_buf b = empty_execute(0x3, 1, bad[i]);
		post(f, &s, "Execute", &b, &r);
		mh_buf_free(&b);
		mh_emsmdb_execute_response out = execute_parse(&r);
		assert_int_equal(out.status_code, (uint32_t)RPC_X_BAD_STUB_DATA);
		reply_free(&r);
	}
	mh_buf b = empty_execute(0x3, 1, 0x40000);
	post(f, &s, "Execute", &b, &r);
	mh_buf_free(&b);
	assert_int_equal(execute_parse(&r).status_code, 0);
	assert_int_equal(execute_parse(&r).error_code, 0);
	reply_free(&r);

	/* A RopBuffer that is not an extended buffer chain: ecRpcFormat, no RopBuffer. */
	mh_emsmdb_execute_request in;
	memset(&in, 0, sizeof(in));
	in.flags = 0x3;
	in.rop_buffer.data = (const uint8_t *)"\x01\x02\x03";
	in.rop_buffer.len = 3;
	in.max_rop_out = 0x10008;
	mh_buf e = MH_BUF_INIT;
	assert_int_equal(mh_emsmdb_execute_request_push(&e, &in), 0);
	post(f, &s, "Execute", &e, &r);
	mh_emsmdb_execute_response out = execute_parse(&r);
	assert_int_equal(out.status_code, 0);
	assert_int_equal(out.error_code, (uint32_t)ecRpcFormat);
	assert_int_equal(out.rop_buffer.len, 0);
	reply_free(&r);
	mh_buf_free(&e);

	/* A body that does not decode: 12, and the sequence does not move. */
	char seq[256];
	snprintf(seq, sizeof(seq), "%s", s.seq);
	post_raw(f, &s, "Execute", (const uint8_t *)"\x03\x00", 2, NULL, NULL, &r);
	assert_int_equal(r.rc, MH_RESPONSE_INVALID_REQUEST_BODY);
	assert_int_equal(r.n_set_cookies, 0);
	reply_free(&r);
	assert_string_equal(s.seq, seq);
	assert_int_equal(execute_rc(f, &s, NULL), 0);
	stop(f);
}

/* Reads the one RPC_HEADER_EXT of an Execute response and its plain payload. */
static mh_rpc_ext_header response_ext(reply *r, mh_rpc_ext_chain *chain)
{
	mh_emsmdb_execute_response out = execute_parse(r);
	assert_int_equal(out.status_code, 0);
	assert_int_equal(out.error_code, 0);
	mh_cursor c;
	mh_rpc_ext_header h;
	mh_cursor_init(&c, out.rop_buffer.data, out.rop_buffer.len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_rpc_ext_header_pull(&c, &h), 0);
	assert_int_equal(h.size + MH_RPC_EXT_HEADER_SIZE, out.rop_buffer.len);
	assert_int_equal(
	    mh_rpc_ext_decode(out.rop_buffer.data, out.rop_buffer.len, 0, &r->arena, 0, chain), 0);
	assert_int_equal(chain->n_segs, 1);
	return h;
}

static void test_server_mapi__execute_compression_and_xor(void **state)
{
	(void)state;
	fixture *f = start(NULL, NULL);
	session s;
	session_init(&s, "svc", "emsmdb", SVC_GUID);
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	/* 32 empty handle slots come back as 32 x 0xFFFFFFFF: LZ77 makes that smaller. */
	mh_buf b = empty_execute(0, 32, 0x10008);
	reply r;
	post(f, &s, "Execute", &b, &r);
	mh_buf_free(&b);
	mh_rpc_ext_chain ch;
	mh_rpc_ext_header h = response_ext(&r, &ch);
	assert_int_equal(h.flags, MH_RPC_EXT_LAST | MH_RPC_EXT_COMPRESSED | MH_RPC_EXT_XORMAGIC);
	assert_true(h.size < h.size_actual);
	uint8_t compressed_plain[512];
	size_t plain_len = ch.len;
	assert_true(plain_len <= sizeof(compressed_plain));
	memcpy(compressed_plain, ch.data, plain_len);
	reply_free(&r);

	b = empty_execute(MH_EXECUTE_NO_COMPRESSION | MH_EXECUTE_NO_XORMAGIC, 32, 0x10008);
	post(f, &s, "Execute", &b, &r);
	mh_buf_free(&b);
	h = response_ext(&r, &ch);
	assert_int_equal(h.flags, MH_RPC_EXT_LAST);
	assert_int_equal(h.size, h.size_actual);
	assert_int_equal(ch.len, plain_len);
	assert_memory_equal(ch.data, compressed_plain, plain_len);
	reply_free(&r);

	b = empty_execute(MH_EXECUTE_NO_COMPRESSION, 32, 0x10008);
	post(f, &s, "Execute", &b, &r);
	mh_buf_free(&b);
	h = response_ext(&r, &ch);
	assert_int_equal(h.flags, MH_RPC_EXT_LAST | MH_RPC_EXT_XORMAGIC);
	reply_free(&r);
	stop(f);
}

/* RopLogon to essdn on s; returns its ReturnValue. */
static uint32_t logon(fixture *f, session *s, const char *essdn, bool *owner)
{
	mh_rop_request q;
	memset(&q, 0, sizeof(q));
	q.rop_id = MH_ROP_LOGON;
	q.u.logon.logon_flags = 0x01;
	q.u.logon.open_flags = OPEN_FLAGS;
	q.u.logon.essdn = (char *)(uintptr_t)essdn;
	mh_buf rops = MH_BUF_INIT;
	rop_input(&rops, &q, 1, 1);
	mh_buf b = execute_body(0, &rops, 0x10008);
	mh_buf_free(&rops);
	reply r;
	post(f, s, "Execute", &b, &r);
	mh_buf_free(&b);
	assert_int_equal(r.rc, 0);
	mh_rpc_ext_chain ch;
	mh_rpc_ext_header h = response_ext(&r, &ch);
	assert_true((h.flags & MH_RPC_EXT_XORMAGIC) != 0);
	mh_cursor c;
	mh_cursor_init(&c, ch.data, ch.len, MAPI_E_CORRUPT_DATA);
	mh_rop_response_ctx rc;
	memset(&rc, 0, sizeof(rc));
	rc.requests = &q;
	rc.request_count = 1;
	mh_rop_response_buffer rb;
	assert_int_equal(mh_rop_response_buffer_pull(&c, &r.arena, &rc, &rb), 0);
	assert_int_equal(rb.count, 1);
	assert_int_equal(rb.rops[0].rop_id, MH_ROP_LOGON);
	uint32_t rv = (uint32_t)rb.rops[0].return_value;
	if (owner != NULL)
		*owner = rv == 0 && (rb.rops[0].u.logon.response_flags & 0x02) != 0;
	reply_free(&r);
	return rv;
}

/* The seed scenario at wire level: svc opens bob's archive on the archive's own endpoint. */
static void test_server_mapi__execute_logon_archive(void **state)
{
	(void)state;
	fixture *f = start(NULL, NULL);
	mh_arena a = MH_ARENA_INIT;
	mh_srv_mailbox arch;
	assert_int_equal(
	    mh_srv_store_mailbox_by_address(f->st, &a, "ExchangeGuid+" ARCH_GUID DOMAIN, &arch), 0);
	assert_int_equal(arch.kind, MH_SRV_MAILBOX_ARCHIVE);
	assert_string_equal(arch.mailbox_id, ARCH_GUID DOMAIN);

	session s;
	session_init(&s, "svc", "emsmdb", ARCH_GUID);
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	bool owner = false;
	assert_int_equal(logon(f, &s, arch.legacy_dn, &owner), 0);
	assert_true(owner); /* FullAccess on bob covers his archive */

	/* The same logon on svc's own endpoint: the archive lives elsewhere. */
	session own;
	session_init(&own, "svc", "emsmdb", SVC_GUID);
	assert_int_equal(do_connect(f, &own, DN_OF("svc")), 0);
	assert_int_equal(logon(f, &own, arch.legacy_dn, NULL), (uint32_t)ecWrongServer);

	/* carol has no rights on bob: an archive has no delegate mode. */
	session carol;
	session_init(&carol, "carol", "emsmdb", ARCH_GUID);
	assert_int_equal(do_connect(f, &carol, DN_OF("carol")), 0);
	assert_int_equal(logon(f, &carol, arch.legacy_dn, NULL), (uint32_t)ecLoginPerm);
	mh_arena_free(&a);
	stop(f);
}

/*
 * One Execute on s: RopLogon(essdn) -> RopOpenFolder(fid) -> RopGetContentsTable ->
 * RopSetColumns(PidTagSubject_W) -> RopQueryRows(100). The ReturnValues of the logon and the
 * OpenFolder, the logon's ResponseFlags and the rows read (-1 when the table failed).
 */
typedef struct folder_probe {
	uint32_t logon_rv, open_rv, response_flags;
	int rows;
} folder_probe;

static folder_probe probe_folder(fixture *f, session *s, const char *essdn, uint64_t fid)
{
	mh_rop_request q[5];
	memset(q, 0, sizeof(q));
	q[0].rop_id = MH_ROP_LOGON;
	q[0].out_handle_index = 0;
	q[0].u.logon.logon_flags = 0x01;
	q[0].u.logon.open_flags = OPEN_FLAGS;
	q[0].u.logon.essdn = (char *)(uintptr_t)essdn;
	q[1].rop_id = MH_ROP_OPEN_FOLDER;
	q[1].in_handle_index = 0;
	q[1].out_handle_index = 1;
	q[1].u.open_folder.folder_id = fid;
	q[2].rop_id = MH_ROP_GET_CONTENTS_TABLE;
	q[2].in_handle_index = 1;
	q[2].out_handle_index = 2;
	q[2].u.get_table.table_flags = 0x50;
	uint32_t tag = 0x0037001Fu; /* PidTagSubject_W */
	SPropTagArray *cols = calloc(1, sizeof(SPropTagArray) + sizeof(uint32_t));
	assert_non_null(cols);
	cols->cValues = 1;
	cols->aulPropTag[0] = tag;
	q[3].rop_id = MH_ROP_SET_COLUMNS;
	q[3].in_handle_index = 2;
	q[3].u.set_columns.tags = cols;
	q[4].rop_id = MH_ROP_QUERY_ROWS;
	q[4].in_handle_index = 2;
	q[4].u.query_rows.forward_read = 1;
	q[4].u.query_rows.row_count = 100;
	mh_buf rops = MH_BUF_INIT;
	rop_input(&rops, q, 5, 3);
	mh_buf b = execute_body(0x3, &rops, 0x10008);
	mh_buf_free(&rops);
	reply r;
	post(f, s, "Execute", &b, &r);
	mh_buf_free(&b);
	assert_int_equal(r.rc, 0);
	mh_rpc_ext_chain ch;
	(void)response_ext(&r, &ch);
	mh_cursor c;
	mh_cursor_init(&c, ch.data, ch.len, MAPI_E_CORRUPT_DATA);
	mh_rop_response_ctx rc;
	memset(&rc, 0, sizeof(rc));
	rc.requests = q;
	rc.request_count = 5;
	mh_rop_response_buffer rb;
	assert_int_equal(mh_rop_response_buffer_pull(&c, &r.arena, &rc, &rb), 0);
	assert_int_equal(rb.count, 5);
	folder_probe out = {(uint32_t)rb.rops[0].return_value, (uint32_t)rb.rops[1].return_value,
	                    rb.rops[0].u.logon.response_flags, -1};
	if (rb.rops[4].return_value == 0)
		out.rows = rb.rops[4].u.query_rows.row_count;
	reply_free(&r);
	free(cols);
	return out;
}

/* wire.md §8 on the wire: owner, FullAccess, delegate (folder mode) and Exchange 2010 mode. */
static void test_server_mapi__rights_modes(void **state)
{
	(void)state;
	for (int mode = 0; mode < 2; mode++) {
		mh_srv_mapi_options o = MH_SRV_MAPI_OPTIONS_INIT;
		o.rop.rights_mode = mode == 0 ? MH_SRV_RIGHTS_FOLDER : MH_SRV_RIGHTS_LOGON;
		fixture *f = start(&o, NULL);
		mh_arena a = MH_ARENA_INIT;
		mh_srv_mailbox bob;
		assert_int_equal(
		    mh_srv_store_mailbox_by_address(f->st, &a, "bob@contoso.test", &bob), 0);
		uint64_t fids[MH_SRV_SPECIAL_FOLDERS];
		assert_int_equal(mh_srv_store_special_fids(f->st, bob.id, fids), 0);
		uint64_t inbox = fids[MH_SRV_FOLDER_INBOX], sent = fids[MH_SRV_FOLDER_SENT_ITEMS];

		/* svc holds FullAccess: owner logon, everything readable (bob's Inbox: 4). */
		session svc;
		session_init(&svc, "svc", "emsmdb", BOB_GUID);
		assert_int_equal(do_connect(f, &svc, DN_OF("svc")), 0);
		folder_probe p = probe_folder(f, &svc, DN_OF("bob"), inbox);
		assert_int_equal(p.logon_rv, 0);
		assert_int_equal(p.response_flags & 0x02, 0x02);
		assert_int_equal(p.rows, 4);

		/* alice: Reviewer on bob's Inbox only. */
		session alice;
		session_init(&alice, "alice", "emsmdb", BOB_GUID);
		assert_int_equal(do_connect(f, &alice, DN_OF("alice")), 0);
		p = probe_folder(f, &alice, DN_OF("bob"), inbox);
		session carol;
		session_init(&carol, "carol", "emsmdb", BOB_GUID);
		assert_int_equal(do_connect(f, &carol, DN_OF("carol")), 0);
		folder_probe pc = probe_folder(f, &carol, DN_OF("bob"), inbox);
		if (mode == 0) {
			/* A delegate logon (OwnerRight clear); the folder's permissions decide. */
			assert_int_equal(p.logon_rv, 0);
			assert_int_equal(p.response_flags & 0x02, 0);
			assert_int_equal(p.open_rv, 0);
			assert_int_equal(p.rows, 4);
			p = probe_folder(f, &alice, DN_OF("bob"), sent);
			assert_int_equal(p.logon_rv, 0);
			assert_int_equal(p.open_rv, (uint32_t)ecAccessDenied);
			assert_int_equal(p.rows, -1);
			assert_int_equal(pc.logon_rv, 0);
			assert_int_equal(pc.open_rv, (uint32_t)ecAccessDenied);
		} else {
			/* Exchange 2010: no FullAccess, no logon; the chained ROPs find no object.
			 */
			assert_int_equal(p.logon_rv, (uint32_t)ecLoginPerm);
			assert_int_equal(p.open_rv, (uint32_t)ecNullObject);
			assert_int_equal(pc.logon_rv, (uint32_t)ecLoginPerm);
		}
		mh_arena_free(&a);
		stop(f);
	}
}

/* ---- NotificationWait --------------------------------------------------------------------- */

static void test_server_mapi__notification_wait(void **state)
{
	(void)state;
	mh_srv_mapi_options o = MH_SRV_MAPI_OPTIONS_INIT;
	o.notification_wait = 50;
	fixture *f = start(&o, NULL);
	session s;
	session_init(&s, "svc", "emsmdb", SVC_GUID);
	mh_buf nb = MH_BUF_INIT;
	mh_emsmdb_notificationwait_request nq;
	memset(&nq, 0, sizeof(nq));
	assert_int_equal(mh_emsmdb_notificationwait_request_push(&nb, &nq), 0);
	reply r;
	post(f, &s, "NotificationWait", &nb, &r);
	assert_int_equal(r.rc, MH_RESPONSE_MISSING_COOKIE);
	reply_free(&r);

	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	char seq[256];
	snprintf(seq, sizeof(seq), "%s", s.seq);
	post(f, &s, "NotificationWait", &nb, &r);
	assert_int_equal(r.rc, 0);
	mh_emsmdb_notificationwait_response out;
	mh_cursor c;
	mh_cursor_init(&c, r.mr.body, r.mr.body_len, MAPI_E_CORRUPT_DATA);
	assert_int_equal(mh_emsmdb_notificationwait_response_pull(&c, &r.arena, &out), 0);
	assert_int_equal(out.status_code, 0);
	assert_int_equal(out.error_code, 0);
	assert_int_equal(out.event_pending, 0);
	assert_string_equal(r.set_seq, ""); /* not sequenced */
	reply_free(&r);
	assert_string_equal(s.seq, seq);
	/* It kept the context alive and did not disturb the sequence. */
	assert_int_equal(execute_rc(f, &s, NULL), 0);
	mh_buf_free(&nb);
	stop(f);
}

/* ---- NSPI ----------------------------------------------------------------------------------- */

static void test_server_mapi__nspi_bind_resolve_unbind(void **state)
{
	(void)state;
	fixture *f = start(NULL, NULL);
	session s;
	session_init(&s, "svc", "nspi", SVC_GUID);
	mh_nspi_request q;
	memset(&q, 0, sizeof(q));
	q.kind = MH_NSPI_RESOLVE_NAMES;
	q.u.resolve_names.has_state = true;
	q.u.resolve_names.state = default_stat();
	q.u.resolve_names.has_names = true;
	char *names[] = {"bob", "nobody-here"};
	q.u.resolve_names.names.count = 2;
	q.u.resolve_names.names.values = names;
	mh_buf rb = nspi_body(&q);
	reply r;
	/* No context yet. */
	post(f, &s, "ResolveNames", &rb, &r);
	assert_int_equal(r.rc, MH_RESPONSE_MISSING_COOKIE);
	reply_free(&r);

	mh_nspi_request bq;
	memset(&bq, 0, sizeof(bq));
	bq.kind = MH_NSPI_BIND;
	bq.u.bind.has_state = true;
	bq.u.bind.state = default_stat();
	mh_buf bb = nspi_body(&bq);
	post(f, &s, "Bind", &bb, &r);
	mh_nspi_response out = nspi_parse(&r, MH_NSPI_BIND);
	assert_int_equal(out.error_code, 0);
	GUID zero;
	memset(&zero, 0, sizeof(zero));
	assert_memory_not_equal(&out.u.bind.server_guid, &zero, sizeof(zero));
	GUID server_guid = out.u.bind.server_guid;
	assert_true(is_hex32(r.set_ctx));
	assert_true(is_seq(r.set_seq, 0));
	assert_int_equal(r.expiration, MH_SRV_MAPI_EXPIRATION);
	reply_free(&r);

	char seq0[256];
	snprintf(seq0, sizeof(seq0), "%s", s.seq);
	post(f, &s, "ResolveNames", &rb, &r);
	out = nspi_parse(&r, MH_NSPI_RESOLVE_NAMES);
	assert_int_equal(out.error_code, 0);
	assert_true(out.u.resolve_names.has_mids);
	assert_int_equal(out.u.resolve_names.mids.count, 2);
	assert_int_equal(out.u.resolve_names.mids.mids[0], MH_NSPI_MID_RESOLVED);
	assert_int_equal(out.u.resolve_names.mids.mids[1], MH_NSPI_MID_UNRESOLVED);
	assert_true(is_seq(r.set_seq, 1));
	reply_free(&r);
	/* The previous sequence value is refused and poisons the context; a new Bind fixes it. */
	char cookie[600];
	snprintf(cookie, sizeof(cookie), "MapiContext=%s; MapiSequence=%s", s.ctx, seq0);
	post_raw(f, &s, "ResolveNames", rb.data, rb.len, cookie, NULL, &r);
	assert_int_equal(r.rc, MH_RESPONSE_INVALID_SEQUENCE);
	reply_free(&r);
	post(f, &s, "ResolveNames", &rb, &r);
	assert_int_equal(r.rc, MH_RESPONSE_INVALID_SEQUENCE);
	reply_free(&r);
	post(f, &s, "Bind", &bb, &r);
	out = nspi_parse(&r, MH_NSPI_BIND);
	assert_memory_equal(&out.u.bind.server_guid, &server_guid, sizeof(server_guid));
	reply_free(&r);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 1);
	post(f, &s, "ResolveNames", &rb, &r);
	assert_int_equal(nspi_parse(&r, MH_NSPI_RESOLVE_NAMES).error_code, 0);
	reply_free(&r);
	assert_int_equal(ping_rc(f, &s), 0);
	/* A malformed body: 12 from the NSPI layer. */
	post_raw(f, &s, "ResolveNames", (const uint8_t *)"\x00", 1, NULL, NULL, &r);
	assert_int_equal(r.rc, MH_RESPONSE_INVALID_REQUEST_BODY);
	reply_free(&r);
	/* An EMSMDB request type on the address book: 5 (the front's check). */
	post(f, &s, "Execute", &rb, &r);
	assert_int_equal(r.rc, MH_RESPONSE_INVALID_REQUEST_TYPE);
	reply_free(&r);

	mh_nspi_request uq;
	memset(&uq, 0, sizeof(uq));
	uq.kind = MH_NSPI_UNBIND;
	mh_buf ub = nspi_body(&uq);
	post(f, &s, "Unbind", &ub, &r);
	assert_int_equal(nspi_parse(&r, MH_NSPI_UNBIND).error_code, MH_NSPI_UNBIND_SUCCESS);
	reply_free(&r);
	assert_int_equal(mh_srv_mapi_context_count(f->m), 0);
	post(f, &s, "ResolveNames", &rb, &r);
	assert_int_equal(r.rc, MH_RESPONSE_CONTEXT_NOT_FOUND);
	reply_free(&r);
	/* An NSPI cookie on the mailbox endpoint: 10. */
	s.endpoint = "emsmdb";
	assert_int_equal(ping_rc(f, &s), MH_RESPONSE_CONTEXT_NOT_FOUND);
	mh_buf_free(&ub);
	mh_buf_free(&bb);
	mh_buf_free(&rb);
	stop(f);
}

/* ---- concurrency -------------------------------------------------------------------------- */

typedef struct worker {
	fixture *f;
	session s;
	unsigned ok, gone, other;
} worker;

/* Each worker: its own context, ten Executes, then Disconnect. */
static void *own_context(void *payload)
{
	worker *w = payload;
	if (do_connect(w->f, &w->s, DN_OF("svc")) != 0)
		return NULL;
	for (int i = 0; i < 10; i++) {
		if (execute_rc(w->f, &w->s, NULL) == 0)
			w->ok++;
	}
	mh_buf d = MH_BUF_INIT;
	mh_emsmdb_disconnect_request dq;
	memset(&dq, 0, sizeof(dq));
	mh_emsmdb_disconnect_request_push(&d, &dq);
	reply r;
	post(w->f, &w->s, "Disconnect", &d, &r);
	if (r.rc == 0)
		w->ok++;
	reply_free(&r);
	mh_buf_free(&d);
	return NULL;
}

/* PINGs on a shared context until it is gone. */
static void *pinger(void *payload)
{
	worker *w = payload;
	for (int i = 0; i < 100000; i++) { /* ends at the Disconnect; the cap is a safety net */
		uint32_t rc = ping_rc(w->f, &w->s);
		if (rc == 0)
			w->ok++;
		else if (rc == MH_RESPONSE_CONTEXT_NOT_FOUND) {
			w->gone++;
			break;
		} else {
			w->other++;
		}
	}
	return NULL;
}

static void test_server_mapi__concurrent_contexts(void **state)
{
	(void)state;
	fixture *f = start(NULL, NULL);
	enum { N = 4 };
	pthread_t t[N];
	worker w[N];
	for (int i = 0; i < N; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].f = f;
		session_init(&w[i].s, "svc", "emsmdb", SVC_GUID);
		assert_int_equal(pthread_create(&t[i], NULL, own_context, &w[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].ok, 11);
	}
	assert_int_equal(mh_srv_mapi_context_count(f->m), 0);

	/* Requests on one context while it is disconnected: each gets 0 or 10, nothing else. */
	session s;
	session_init(&s, "svc", "emsmdb", SVC_GUID);
	assert_int_equal(do_connect(f, &s, DN_OF("svc")), 0);
	for (int i = 0; i < N; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].f = f;
		w[i].s = s;
		assert_int_equal(pthread_create(&t[i], NULL, pinger, &w[i]), 0);
	}
	mh_buf d = MH_BUF_INIT;
	mh_emsmdb_disconnect_request dq;
	memset(&dq, 0, sizeof(dq));
	assert_int_equal(mh_emsmdb_disconnect_request_push(&d, &dq), 0);
	reply r;
	post(f, &s, "Disconnect", &d, &r);
	assert_int_equal(r.rc, 0);
	reply_free(&r);
	mh_buf_free(&d);
	for (int i = 0; i < N; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].other, 0);
		assert_int_equal(w[i].gone, 1);
	}
	assert_int_equal(mh_srv_mapi_context_count(f->m), 0);
	stop(f);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_server_mapi__connect_success),
	    cmocka_unit_test(test_server_mapi__connect_user_dn_checks),
	    cmocka_unit_test(test_server_mapi__cookie_faults),
	    cmocka_unit_test(test_server_mapi__context_bound_to_principal_mailbox_endpoint),
	    cmocka_unit_test(test_server_mapi__ping_and_disconnect),
	    cmocka_unit_test(test_server_mapi__reconnect_replaces_context),
	    cmocka_unit_test(test_server_mapi__idle_expiry),
	    cmocka_unit_test(test_server_mapi__session_limits),
	    cmocka_unit_test(test_server_mapi__expire_fault),
	    cmocka_unit_test(test_server_mapi__execute_bounds_and_bodies),
	    cmocka_unit_test(test_server_mapi__execute_compression_and_xor),
	    cmocka_unit_test(test_server_mapi__execute_logon_archive),
	    cmocka_unit_test(test_server_mapi__rights_modes),
	    cmocka_unit_test(test_server_mapi__notification_wait),
	    cmocka_unit_test(test_server_mapi__nspi_bind_resolve_unbind),
	    cmocka_unit_test(test_server_mapi__concurrent_contexts),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
