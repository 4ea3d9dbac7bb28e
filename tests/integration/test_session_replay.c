/*
 * The public session API driven through gromox captures (tests/vectors/gromox): an in-memory
 * transport answers each request with the captured answer of the same exchange, checks that the
 * request goes to the same endpoint with the same X-RequestType and, where the client's request
 * is deterministic, the same body bytes; the session must decode every answer.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "mapihttp.h"
#include "mapihttp/session.h"
#include "mapihttp/sys/transport.h"
#include "../unit/vectors.h"

#define GROMOX_DIR MH_VECTORS_DIR "/gromox"
#define WIRE_DIR   MH_VECTORS_DIR "/gromox-wire"

#define AD_URL      "https://localhost:10443/autodiscover/autodiscover.xml"
#define ALICE       "alice@example.test"
#define ALICE_PASS  "alice-pass-1"
#define GROMOX_ORG  "/o=Gromox default/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define ALICE_DN    GROMOX_ORG "/cn=Recipients/cn=0100000001000000-alice"
#define MAX_HEADERS 32

/* One captured exchange the script expects next. */
typedef struct step {
	const char *name; /* capture name without extension */
	/* The client's body must equal the captured request byte for byte. */
	bool same_body;
} step;

/* The captured answer of one exchange, ready for the in-memory transport. */
typedef struct answer {
	long status;
	mh_transport_header headers[MAX_HEADERS];
	size_t n_headers;
	char *head; /* the header block the names and values point into */
	uint8_t *body;
	size_t body_len;
} answer;

typedef struct replay {
	const step *steps;
	size_t n_steps;
	size_t next;
	answer current;
	char failure[512]; /* the first mismatch, "" when none */
	size_t bodies_compared;
} replay;

static void replay_fail(replay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void replay_fail(replay *r, const char *fmt, ...)
{
	if (r->failure[0] != '\0')
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->failure, sizeof(r->failure), fmt, ap);
	va_end(ap);
}

static void answer_free(answer *a)
{
	free(a->head);
	free(a->body);
	memset(a, 0, sizeof(*a));
}

/*
 * Status line and headers from NAME.resp-wire.hex (everything up to the empty line); the body
 * from NAME.resp.hex (de-chunked). Transfer-Encoding and Content-Length are dropped: the
 * in-memory transport hands over the body as it is.
 */
static int answer_load(answer *a, const char *name)
{
	char path[512];
	size_t len = 0;
	memset(a, 0, sizeof(*a));
	snprintf(path, sizeof(path), "%s/%s.resp-wire.hex", WIRE_DIR, name);
	uint8_t *wire = mh_vector_read_hex(path, &len);
	if (wire == NULL)
		return -1;
	size_t end = 0;
	while (end + 3 < len && memcmp(wire + end, "\r\n\r\n", 4) != 0)
		end++;
	if (end + 3 >= len) {
		free(wire);
		return -1;
	}
	a->head = malloc(end + 1);
	if (a->head == NULL) {
		free(wire);
		return -1;
	}
	memcpy(a->head, wire, end);
	a->head[end] = '\0';
	free(wire);

	char *save = NULL;
	char *line = strtok_r(a->head, "\r\n", &save);
	if (line == NULL || sscanf(line, "HTTP/1.1 %ld", &a->status) != 1)
		return -1;
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		char *colon = strchr(line, ':');
		if (colon == NULL || a->n_headers == MAX_HEADERS)
			return -1;
		*colon = '\0';
		char *value = colon + 1;
		while (*value == ' ')
			value++;
		if (strcasecmp(line, "Transfer-Encoding") == 0 ||
		    strcasecmp(line, "Content-Length") == 0)
			continue;
		a->headers[a->n_headers].name = line;
		a->headers[a->n_headers].value = value;
		a->n_headers++;
	}
	snprintf(path, sizeof(path), "%s/%s.resp.hex", GROMOX_DIR, name);
	a->body = mh_vector_read_hex(path, &a->body_len);
	return a->body != NULL ? 0 : -1;
}

static const char *header_of(const mh_transport_request *rq, const char *name)
{
	for (size_t i = 0; i < rq->n_headers; i++)
		if (strcasecmp(rq->headers[i].name, name) == 0)
			return rq->headers[i].value;
	return NULL;
}

/* "emsmdb", "nspi" or "autodiscover": which service a path (or capture) talks to. */
static const char *service_of(const char *s)
{
	if (strstr(s, "/mapi/emsmdb/") != NULL || strncmp(s, "emsmdb_", 7) == 0 ||
	    strncmp(s, "spoke_", 6) == 0 || strncmp(s, "error_connect_", 14) == 0 ||
	    strncmp(s, "error_execute_", 14) == 0)
		return "emsmdb";
	if (strstr(s, "/mapi/nspi/") != NULL || strncmp(s, "nspi_", 5) == 0 ||
	    strncmp(s, "error_nspi_", 11) == 0)
		return "nspi";
	if (strstr(s, "/autodiscover/") != NULL || strncmp(s, "autodiscover_", 13) == 0)
		return "autodiscover";
	return "?";
}

static mh_status replay_answer(void *ud, const mh_transport_request *rq,
                               mh_transport_memory_answer *out)
{
	replay *r = ud;
	answer_free(&r->current);
	if (r->next == r->n_steps) {
		replay_fail(r, "request %zu (%s %s) after the end of the script", r->next + 1,
		            rq->method, rq->url);
		out->fail = MAPI_E_NETWORK_ERROR;
		return S_OK;
	}
	const step *st = &r->steps[r->next++];
	if (strcmp(service_of(rq->url), service_of(st->name)) != 0)
		replay_fail(r, "%s: the client asked %s, not %s", st->name, rq->url,
		            service_of(st->name));

	char path[512], want_type[64];
	snprintf(path, sizeof(path), "%s/%s.req.hex", GROMOX_DIR, st->name);
	const char *type = header_of(rq, "X-RequestType");
	if (mh_vector_request_type(path, want_type, sizeof(want_type))) {
		if (type == NULL || strcmp(type, want_type) != 0)
			replay_fail(r, "%s: X-RequestType %s, captured %s", st->name,
			            type != NULL ? type : "(none)", want_type);
	}
	if (st->same_body) {
		size_t len = 0;
		uint8_t *want = mh_vector_read_hex(path, &len);
		if (want == NULL || len != rq->body_len ||
		    (len > 0 && memcmp(want, rq->body, len) != 0))
			replay_fail(r,
			            "%s: request body of %zu bytes differs from the captured %zu",
			            st->name, rq->body_len, len);
		free(want);
		r->bodies_compared++;
	}
	if (answer_load(&r->current, st->name) != 0) {
		replay_fail(r, "%s: capture unreadable", st->name);
		out->fail = MAPI_E_NETWORK_ERROR;
		return S_OK;
	}
	out->http_status = r->current.status;
	out->headers = r->current.headers;
	out->n_headers = r->current.n_headers;
	out->body = r->current.body;
	out->body_len = r->current.body_len;
	out->chunk = 7; /* the stream parser sees the answer in small pieces */
	return S_OK;
}

typedef struct fixture {
	replay r;
	mh_transport *t;
	mh_session *s;
} fixture;

static void fixture_open(fixture *f, const step *steps, size_t n, mh_status want)
{
	memset(f, 0, sizeof(*f));
	f->r.steps = steps;
	f->r.n_steps = n;
	assert_int_equal(mh_transport_memory_new(&f->t, replay_answer, &f->r), S_OK);
	mh_session_options o = MH_SESSION_OPTIONS_INIT;
	o.user = ALICE;
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.user = ALICE;
	o.auth.secret = ALICE_PASS;
	o.autodiscover_url = AD_URL;
	o.transport = f->t;
	o.keep_alive = false; /* no PING the script does not expect */
	mh_status st = mh_session_open(&f->s, &o);
	if (st != want)
		fail_msg("mh_session_open: %s (%s); replay: %s", mh_status_str(st),
		         mh_error_last()->message, f->r.failure);
}

static void fixture_close(fixture *f)
{
	mh_session_close(f->s);
	f->s = NULL;
	answer_free(&f->r.current);
	mh_transport_free(f->t);
	f->t = NULL;
}

static void assert_script_done(const fixture *f)
{
	if (f->r.failure[0] != '\0')
		fail_msg("replay: %s", f->r.failure);
	assert_int_equal(f->r.next, f->r.n_steps);
}

/* bob's v3 EntryID from his Autodiscover answer (into *cb, *eid). */
static void bob_entryid(fixture *f, uint32_t *cb, ENTRYID **eid)
{
	mh_status st = mh_session_mailbox_entryid(f->s, "bob@example.test", false, cb, eid);
	if (st != S_OK)
		fail_msg("mailbox_entryid: %s (%s); replay: %s", mh_status_str(st),
		         mh_session_errmsg(f->s), f->r.failure);
}

static mh_store *open_store(fixture *f, uint32_t cb, const ENTRYID *eid)
{
	mh_store *st = NULL;
	mh_status r = mh_session_open_msg_store(&st, f->s, cb, eid, 0);
	if (r != S_OK)
		fail_msg("open bob: %s (%s); replay: %s", mh_status_str(r), mh_session_errmsg(f->s),
		         f->r.failure);
	return st;
}

/* Closes the session, whose last requests must end the script. */
static void close_session(fixture *f)
{
	mh_session_close(f->s);
	f->s = NULL;
	assert_script_done(f);
}

/* Autodiscover, Connect, RopLogon to her own mailbox; Disconnect at close. */
static void test_session_replay__open_and_close(void **state)
{
	(void)state;
	static const step steps[] = {
	    {"autodiscover_pox_alice", false},
	    {"emsmdb_alice_01_connect", true},
	    {"emsmdb_alice_02_execute_logon", false},
	    {"emsmdb_alice_17_disconnect", true},
	};
	fixture f;
	fixture_open(&f, steps, 3, S_OK);
	mh_session_info info;
	mh_session_get_info(f.s, &info);
	assert_string_equal(info.mailbox_dn, ALICE_DN);
	assert_string_equal(info.display_name, "Alice Example");
	mh_store_info si;
	mh_store_get_info(mh_session_primary(f.s), &si);
	assert_true(si.owner);
	assert_int_not_equal(si.ipm_subtree_fid, 0);
	assert_string_equal(si.mailbox_dn, ALICE_DN);
	f.r.n_steps = 4;
	close_session(&f);
	assert_true(f.r.bodies_compared >= 2);
	fixture_close(&f);
}

/* NSPI ResolveNames through the session: Bind on first use, the captured answer decoded. */
static void test_session_replay__resolve(void **state)
{
	(void)state;
	static const step steps[] = {
	    {"autodiscover_pox_alice", false},
	    {"emsmdb_alice_01_connect", true},
	    {"emsmdb_alice_02_execute_logon", false},
	    {"nspi_01_bind", true},
	    {"nspi_02_resolvenames_bob", false},
	    {"emsmdb_alice_17_disconnect", true},
	    {"nspi_14_unbind", true},
	};
	fixture f;
	fixture_open(&f, steps, 3, S_OK);
	f.r.n_steps = 5;
	const char *names[] = {"bob@example.test"};
	mh_address_entry *e = NULL;
	mh_status st = mh_session_resolve(f.s, names, 1, &e);
	if (st != S_OK)
		fail_msg("resolve: %s (%s); replay: %s", mh_status_str(st), mh_session_errmsg(f.s),
		         f.r.failure);
	assert_script_done(&f);
	assert_true(e[0].resolved);
	assert_string_equal(e[0].smtp_address, "bob@example.test");
	assert_non_null(strstr(e[0].mailbox_dn, "-bob"));
	assert_non_null(e[0].mdb_dn);
	assert_non_null(strstr(e[0].mdb_dn, "Private MDB"));
	MAPIFreeBuffer(e);
	f.r.n_steps = 7;
	close_session(&f);
	fixture_close(&f);
}

/*
 * The hub-and-spoke step: bob's v3 EntryID from his Autodiscover answer, then Connect at his
 * own endpoint and RopLogon with his DN, answered as gromox answered svc (FullAccess on bob);
 * the hub is alice's captured session, so the Connect body (it names the identity) is not
 * compared.
 */
static void test_session_replay__spoke(void **state)
{
	(void)state;
	static const step steps[] = {
	    {"autodiscover_pox_alice", false},        {"emsmdb_alice_01_connect", true},
	    {"emsmdb_alice_02_execute_logon", false}, {"autodiscover_pox_bob_as_svc", false},
	    {"spoke_svc_bob_01_connect", false},      {"spoke_svc_bob_02_execute_logon", false},
	    {"spoke_svc_bob_05_disconnect", true},    {"emsmdb_alice_17_disconnect", true},
	};
	fixture f;
	fixture_open(&f, steps, 3, S_OK);
	f.r.n_steps = 4;
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	bob_entryid(&f, &cb, &eid);
	mh_store_entryid *parsed = NULL;
	assert_int_equal(mh_store_entryid_parse(&parsed, cb, eid), S_OK);
	assert_int_equal(parsed->version, 3);
	assert_string_equal(parsed->smtp_address, "bob@example.test");
	MAPIFreeBuffer(parsed);

	f.r.n_steps = 6;
	mh_store *bob = open_store(&f, cb, eid);
	mh_store_info si;
	mh_store_get_info(bob, &si);
	assert_true(si.owner);
	assert_non_null(strstr(si.mailbox_dn, "-bob"));
	assert_int_not_equal(si.ipm_subtree_fid, 0);
	f.r.n_steps = 7;
	mh_store_close(bob);
	assert_script_done(&f);
	f.r.n_steps = 8;
	close_session(&f);
	MAPIFreeBuffer(eid);
	fixture_close(&f);
}

/*
 * Every Connect, to any mailbox's endpoint, carries the identity's own DN: alice's Connect at
 * bob's endpoint is byte for byte the one Outlook sent gromox. (The logon is answered with the
 * captured answer of a logon to bob that succeeded: gromox answered alice's own with two ROPs,
 * as Outlook had sent RopOpenFolder in the same Execute.)
 */
static void test_session_replay__spoke_connect_is_outlooks(void **state)
{
	(void)state;
	static const step steps[] = {
	    {"autodiscover_pox_alice", false},        {"emsmdb_alice_01_connect", true},
	    {"emsmdb_alice_02_execute_logon", false}, {"autodiscover_pox_bob_as_alice", false},
	    {"spoke_alice_bob_01_connect", true},     {"spoke_svc_bob_02_execute_logon", false},
	    {"spoke_alice_bob_03_disconnect", true},  {"emsmdb_alice_17_disconnect", true},
	};
	fixture f;
	fixture_open(&f, steps, 3, S_OK);
	f.r.n_steps = 8;
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	bob_entryid(&f, &cb, &eid);
	mh_store_close(open_store(&f, cb, eid));
	close_session(&f);
	assert_int_equal(f.r.bodies_compared, 4);
	MAPIFreeBuffer(eid);
	fixture_close(&f);
}

/* A password the server refuses at Connect (HTTP 401): MAPI_E_LOGON_FAILED, no secret told. */
static void test_session_replay__wrong_password(void **state)
{
	(void)state;
	static const step steps[] = {
	    {"autodiscover_pox_alice", false},
	    {"error_connect_wrong_password", false},
	};
	fixture f;
	fixture_open(&f, steps, 2, MAPI_E_LOGON_FAILED);
	assert_null(f.s);
	assert_script_done(&f);
	assert_null(strstr(mh_error_last()->message, ALICE_PASS));
	fixture_close(&f);
}

/* An address Autodiscover does not know: MAPI_E_NOT_FOUND, and the session stays usable. */
static void test_session_replay__unknown_mailbox(void **state)
{
	(void)state;
	static const step steps[] = {
	    {"autodiscover_pox_alice", false},        {"emsmdb_alice_01_connect", true},
	    {"emsmdb_alice_02_execute_logon", false}, {"autodiscover_pox_unknown", false},
	    {"emsmdb_alice_17_disconnect", true},
	};
	fixture f;
	fixture_open(&f, steps, 3, S_OK);
	f.r.n_steps = 4;
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	assert_int_equal(mh_session_mailbox_entryid(f.s, "nobody@example.test", false, &cb, &eid),
	                 MAPI_E_NOT_FOUND);
	assert_null(eid);
	assert_non_null(strstr(mh_session_errmsg(f.s), "nobody@example.test"));
	f.r.n_steps = 5;
	close_session(&f);
	fixture_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_session_replay__open_and_close),
	    cmocka_unit_test(test_session_replay__resolve),
	    cmocka_unit_test(test_session_replay__spoke),
	    cmocka_unit_test(test_session_replay__spoke_connect_is_outlooks),
	    cmocka_unit_test(test_session_replay__wrong_password),
	    cmocka_unit_test(test_session_replay__unknown_mailbox),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
