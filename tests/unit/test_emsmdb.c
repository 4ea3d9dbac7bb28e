/*
 * EMSMDB body tests: constructed vectors and every gromox Connect, Execute
 * and Disconnect body decode to their fields and re-encode byte for byte;
 * randomized round trips of all eight bodies; truncations, bit flips and
 * each error with its offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec/emsmdb.h"
#include "codec/rpc_ext.h"
#include "mapihttp/status.h"
#include "vectors.h"

#define WIRE_DIR   MH_VECTORS_DIR "/wire/mapihttp/"
#define GROMOX_DIR MH_VECTORS_DIR "/gromox"

static uint8_t *load(const char *path, size_t *len)
{
	uint8_t *p = mh_vector_read_hex(path, len);
	if (p == NULL)
		fail_msg("cannot read %s", path);
	return p;
}

/* The eight bodies behind one interface, for the generic tests. */
enum body {
	CONNECT_REQ,
	CONNECT_RESP,
	EXECUTE_REQ,
	EXECUTE_RESP,
	DISCONNECT_REQ,
	DISCONNECT_RESP,
	NOTIFWAIT_REQ,
	NOTIFWAIT_RESP,
	N_BODIES
};

typedef union any_body {
	mh_emsmdb_connect_request connect_req;
	mh_emsmdb_connect_response connect_resp;
	mh_emsmdb_execute_request execute_req;
	mh_emsmdb_execute_response execute_resp;
	mh_emsmdb_disconnect_request disconnect_req;
	mh_emsmdb_disconnect_response disconnect_resp;
	mh_emsmdb_notificationwait_request notifwait_req;
	mh_emsmdb_notificationwait_response notifwait_resp;
} any_body;

static mh_status pull_body(enum body k, const uint8_t *p, size_t n, mh_arena *a, any_body *out)
{
	mh_cursor c;
	mh_cursor_init(&c, p, n, MAPI_E_CORRUPT_DATA);
	switch (k) {
	case CONNECT_REQ:
		return mh_emsmdb_connect_request_pull(&c, a, &out->connect_req);
	case CONNECT_RESP:
		return mh_emsmdb_connect_response_pull(&c, a, &out->connect_resp);
	case EXECUTE_REQ:
		return mh_emsmdb_execute_request_pull(&c, a, &out->execute_req);
	case EXECUTE_RESP:
		return mh_emsmdb_execute_response_pull(&c, a, &out->execute_resp);
	case DISCONNECT_REQ:
		return mh_emsmdb_disconnect_request_pull(&c, a, &out->disconnect_req);
	case DISCONNECT_RESP:
		return mh_emsmdb_disconnect_response_pull(&c, a, &out->disconnect_resp);
	case NOTIFWAIT_REQ:
		return mh_emsmdb_notificationwait_request_pull(&c, a, &out->notifwait_req);
	default:
		return mh_emsmdb_notificationwait_response_pull(&c, a, &out->notifwait_resp);
	}
}

static mh_status push_body(enum body k, mh_buf *b, const any_body *in)
{
	switch (k) {
	case CONNECT_REQ:
		return mh_emsmdb_connect_request_push(b, &in->connect_req);
	case CONNECT_RESP:
		return mh_emsmdb_connect_response_push(b, &in->connect_resp);
	case EXECUTE_REQ:
		return mh_emsmdb_execute_request_push(b, &in->execute_req);
	case EXECUTE_RESP:
		return mh_emsmdb_execute_response_push(b, &in->execute_resp);
	case DISCONNECT_REQ:
		return mh_emsmdb_disconnect_request_push(b, &in->disconnect_req);
	case DISCONNECT_RESP:
		return mh_emsmdb_disconnect_response_push(b, &in->disconnect_resp);
	case NOTIFWAIT_REQ:
		return mh_emsmdb_notificationwait_request_push(b, &in->notifwait_req);
	default:
		return mh_emsmdb_notificationwait_response_push(b, &in->notifwait_resp);
	}
}

/* Pull from an exact heap copy, push again, compare bytes. */
static void reencode(enum body k, const uint8_t *p, size_t n, mh_arena *a, any_body *out)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	mh_status st = pull_body(k, d, n, a, out);
	if (st != S_OK)
		fail_msg("body kind %d: %s", (int)k, mh_error_last()->message);
	memset(d, 0xEE, n); /* the result must not point into the input */
	mh_buf b = MH_BUF_INIT;
	assert_int_equal(push_body(k, &b, out), S_OK);
	assert_int_equal(b.len, n);
	if (n)
		assert_memory_equal(b.data, p, n);
	mh_buf_free(&b);
	free(d);
}

/* ---- constructed vectors -------------------------------------------------------------- */

static void test_emsmdb__connect_vectors(void **state)
{
	(void)state;
	size_t n;
	mh_arena a;
	any_body v;
	mh_arena_init(&a, 0);

	uint8_t *p = load(WIRE_DIR "connect_request_body.hex", &n);
	reencode(CONNECT_REQ, p, n, &a, &v);
	assert_string_equal(v.connect_req.user_dn, "/o=First Organization/ou=First Administrative "
	                                           "Group/cn=Recipients/cn=janedow");
	assert_int_equal(v.connect_req.flags, 0);
	assert_int_equal(v.connect_req.default_code_page, 1252);
	assert_int_equal(v.connect_req.lcid_sort, 0x409);
	assert_int_equal(v.connect_req.lcid_string, 0x409);
	assert_int_equal(v.connect_req.aux.len, 0);
	assert_null(v.connect_req.aux.data);
	free(p);

	p = load(WIRE_DIR "connect_success_response_body.hex", &n);
	reencode(CONNECT_RESP, p, n, &a, &v);
	assert_int_equal(v.connect_resp.status_code, 0);
	assert_int_equal(v.connect_resp.error_code, 0);
	assert_int_equal(v.connect_resp.polls_max, 60000);
	assert_int_equal(v.connect_resp.retry_count, 6);
	assert_int_equal(v.connect_resp.retry_delay, 10000);
	assert_string_equal(v.connect_resp.dn_prefix, "");
	assert_string_equal(v.connect_resp.display_name, "Jane Dow");
	assert_int_equal(v.connect_resp.aux.len, 0);
	free(p);
	mh_arena_free(&a);
}

static void test_emsmdb__execute_vectors(void **state)
{
	(void)state;
	size_t n;
	mh_arena a;
	any_body v;
	mh_rpc_ext_chain ch;
	mh_arena_init(&a, 0);

	uint8_t *p = load(WIRE_DIR "execute_request_body_roplogon.hex", &n);
	reencode(EXECUTE_REQ, p, n, &a, &v);
	assert_int_equal(v.execute_req.flags, MH_EXECUTE_NO_COMPRESSION | MH_EXECUTE_NO_XORMAGIC);
	assert_int_equal(v.execute_req.rop_buffer.len, n - 4 - 4 - 4 - 4);
	assert_int_equal(v.execute_req.max_rop_out, 0x18008);
	assert_int_equal(v.execute_req.aux.len, 0);
	assert_int_equal(mh_rpc_ext_decode(v.execute_req.rop_buffer.data,
	                                   v.execute_req.rop_buffer.len, 8, &a, 0, &ch),
	                 S_OK);
	assert_int_equal(ch.len, v.execute_req.rop_buffer.len - 8);
	assert_int_equal(ch.data[2], 0xFE); /* RopLogon */
	free(p);

	p = load(WIRE_DIR "execute_success_response_body_roplogon.hex", &n);
	reencode(EXECUTE_RESP, p, n, &a, &v);
	assert_int_equal(v.execute_resp.status_code, 0);
	assert_int_equal(v.execute_resp.error_code, 0);
	assert_int_equal(v.execute_resp.flags, 0);
	assert_int_equal(v.execute_resp.rop_buffer.len, n - 20);
	assert_int_equal(mh_rpc_ext_decode(v.execute_resp.rop_buffer.data,
	                                   v.execute_resp.rop_buffer.len, 16, &a, 0, &ch),
	                 S_OK);
	/* handle table [0x00000042] at the end */
	const uint8_t h42[4] = {0x42, 0, 0, 0};
	assert_memory_equal(ch.data + ch.len - 4, h42, 4);
	free(p);
	mh_arena_free(&a);
}

/* ---- gromox captures ---------------------------------------------------------------- */

static void test_emsmdb__gromox_bodies(void **state)
{
	(void)state;
	char **names;
	long count = mh_vector_list(GROMOX_DIR, &names);
	assert_true(count > 0);
	int seen[N_BODIES] = {0};
	for (long i = 0; i < count; i++) {
		bool req = mh_vector_has_suffix(names[i], ".req"),
		     resp = mh_vector_has_suffix(names[i], ".resp-body");
		char path[512], type[64];
		if (!req && !resp)
			continue;
		snprintf(path, sizeof(path), "%s/%s.hex", GROMOX_DIR, names[i]);
		if (!mh_vector_request_type(path, type, sizeof(type)))
			continue;
		enum body k;
		if (strcmp(type, "Connect") == 0)
			k = req ? CONNECT_REQ : CONNECT_RESP;
		else if (strcmp(type, "Execute") == 0)
			k = req ? EXECUTE_REQ : EXECUTE_RESP;
		else if (strcmp(type, "Disconnect") == 0)
			k = req ? DISCONNECT_REQ : DISCONNECT_RESP;
		else
			continue;
		size_t n;
		uint8_t *p = load(path, &n);
		mh_arena a;
		any_body v;
		mh_arena_init(&a, 0);
		if (strcmp(names[i], "error_connect_truncated_body.req") == 0) {
			/* five bytes of a UserDN: no NUL */
			assert_int_equal(pull_body(k, p, n, &a, &v), MAPI_E_CORRUPT_DATA);
			assert_non_null(strstr(mh_error_last()->message, "Connect.UserDN"));
		} else {
			reencode(k, p, n, &a, &v);
			seen[k]++;
		}
		if (k == CONNECT_REQ && strncmp(names[i], "error_", 6) != 0) {
			assert_true(strncmp(v.connect_req.user_dn, "/o=Gromox default/ou=", 21) ==
			            0);
			assert_int_equal(v.connect_req.default_code_page, 1252);
			assert_int_equal(v.connect_req.lcid_sort, 0x409);
			assert_int_equal(v.connect_req.lcid_string, 0x409);
		}
		if (k == CONNECT_RESP && v.connect_resp.error_code == 0) {
			assert_int_equal(v.connect_resp.polls_max, 60000);
			assert_int_equal(v.connect_resp.retry_count, 6);
			assert_int_equal(v.connect_resp.retry_delay, 10000);
			assert_string_equal(v.connect_resp.dn_prefix, "");
			/* EXORGINFO, CLIENT_CONTROL, ENDPOINT_CAPABILITIES in an extended buffer */
			assert_int_equal(v.connect_resp.aux.len, 0x24);
			mh_rpc_ext_chain ch;
			assert_int_equal(mh_rpc_ext_decode(v.connect_resp.aux.data,
			                                   v.connect_resp.aux.len, 0, &a, 0, &ch),
			                 S_OK);
			assert_int_equal(ch.len, 0x1c);
		}
		if (k == EXECUTE_RESP) {
			/* RopBufferSize is the 4 bytes after StatusCode, ErrorCode, Flags */
			uint32_t size = (uint32_t)p[12] | (uint32_t)p[13] << 8 |
			                (uint32_t)p[14] << 16 | (uint32_t)p[15] << 24;
			assert_int_equal(v.execute_resp.rop_buffer.len, size);
			if (size == 0)
				assert_int_not_equal(v.execute_resp.error_code, 0);
		}
		mh_arena_free(&a);
		free(p);
	}
	mh_vector_list_free(names, count);
	assert_true(seen[CONNECT_REQ] >= 5);
	assert_true(seen[CONNECT_RESP] >= 4);
	assert_true(seen[EXECUTE_REQ] >= 15);
	assert_true(seen[EXECUTE_RESP] >= 15);
	assert_true(seen[DISCONNECT_REQ] >= 3);
	assert_true(seen[DISCONNECT_RESP] >= 3);
}

static void test_emsmdb__gromox_values(void **state)
{
	(void)state;
	size_t n;
	mh_arena a;
	any_body v;
	mh_arena_init(&a, 0);

	uint8_t *p = load(GROMOX_DIR "/emsmdb_alice_01_connect.resp-body.hex", &n);
	reencode(CONNECT_RESP, p, n, &a, &v);
	assert_string_equal(v.connect_resp.display_name, "Alice Example");
	assert_int_equal(v.connect_resp.error_code, 0);
	free(p);

	p = load(GROMOX_DIR "/emsmdb_alice_01_connect.req.hex", &n);
	reencode(CONNECT_REQ, p, n, &a, &v);
	assert_string_equal(v.connect_req.user_dn,
	                    "/o=Gromox default/ou=Exchange Administrative Group "
	                    "(FYDIBOHF23SPDLT)/cn=Recipients/cn=0100000001000000-alice");
	free(p);

	p = load(GROMOX_DIR "/error_connect_foreign_userdn.resp-body.hex", &n);
	reencode(CONNECT_RESP, p, n, &a, &v);
	assert_int_equal(v.connect_resp.status_code, 0);
	assert_int_equal((uint32_t)v.connect_resp.error_code, 0x80070005u); /* ecAccessDenied */
	assert_string_equal(v.connect_resp.display_name, "");
	free(p);

	p = load(GROMOX_DIR "/emsmdb_alice_15_execute_logon_alternate_server.resp-body.hex", &n);
	reencode(EXECUTE_RESP, p, n, &a, &v);
	assert_int_equal((uint32_t)v.execute_resp.error_code, 0x80040115u); /* ecRpcFailed */
	assert_int_equal(v.execute_resp.rop_buffer.len, 0);
	free(p);

	p = load(GROMOX_DIR "/error_execute_getprops_no_room.resp-body.hex", &n);
	reencode(EXECUTE_RESP, p, n, &a, &v);
	assert_int_equal(v.execute_resp.error_code, 0x47D); /* ecBufferTooSmall */
	free(p);

	p = load(GROMOX_DIR "/emsmdb_alice_02_execute_logon.resp-body.hex", &n);
	reencode(EXECUTE_RESP, p, n, &a, &v);
	assert_int_equal(v.execute_resp.rop_buffer.len, 0xb4);
	mh_rpc_ext_chain ch;
	assert_int_equal(mh_rpc_ext_decode(v.execute_resp.rop_buffer.data,
	                                   v.execute_resp.rop_buffer.len, 16, &a, 0, &ch),
	                 S_OK);
	assert_int_equal(ch.len, 0xac);
	assert_int_equal(ch.data[2], 0xFE); /* RopLogon response */
	free(p);

	p = load(GROMOX_DIR "/emsmdb_alice_17_disconnect.resp-body.hex", &n);
	reencode(DISCONNECT_RESP, p, n, &a, &v);
	assert_int_equal(v.disconnect_resp.status_code, 0);
	assert_int_equal(v.disconnect_resp.error_code, 0);
	free(p);
	mh_arena_free(&a);
}

/* ---- failure form ------------------------------------------------------------------- */

static void test_emsmdb__failure_form(void **state)
{
	(void)state;
	mh_arena a;
	any_body v;
	mh_arena_init(&a, 0);
	/* spec form: StatusCode + AuxBuf(0) */
	const uint8_t spec[8] = {0xBB, 0x06, 0, 0, 0, 0, 0, 0};
	/* gromox: StatusCode twice */
	const uint8_t twice[8] = {0xBB, 0x06, 0, 0, 0xBB, 0x06, 0, 0};
	/* a bare StatusCode */
	const uint8_t bare[4] = {0xF7, 0x06, 0, 0};
	for (int k = CONNECT_RESP; k < N_BODIES; k += 2) {
		const uint8_t *bodies[3] = {spec, twice, bare};
		const size_t lens[3] = {8, 8, 4};
		for (int i = 0; i < 3; i++) {
			assert_int_equal(pull_body((enum body)k, bodies[i], lens[i], &a, &v), S_OK);
			/* status_code is the first member of every response struct */
			uint32_t sc = *(const uint32_t *)(const void *)&v;
			assert_int_equal(sc, i == 2 ? 0x6F7 : 0x6BB);
		}
	}
	/* the failure form re-encodes with its aux */
	const uint8_t with_aux[10] = {0xBB, 0x06, 0, 0, 2, 0, 0, 0, 0xAB, 0xCD};
	reencode(EXECUTE_RESP, with_aux, 10, &a, &v);
	assert_int_equal(v.execute_resp.status_code, 0x6BB);
	assert_int_equal(v.execute_resp.aux.len, 2);
	assert_int_equal(v.execute_resp.rop_buffer.len, 0);
	mh_arena_free(&a);
}

/* ---- errors ------------------------------------------------------------------------- */

static void expect_error(enum body k, const uint8_t *p, size_t n, int64_t off, const char *needle)
{
	mh_arena a;
	any_body v;
	mh_arena_init(&a, 0);
	assert_int_equal(pull_body(k, p, n, &a, &v), MAPI_E_CORRUPT_DATA);
	const mh_error *e = mh_error_last();
	assert_non_null(e);
	if (strstr(e->message, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", e->message, needle);
	assert_int_equal(e->offset, off);
	mh_arena_free(&a);
}

static void test_emsmdb__errors(void **state)
{
	(void)state;
	/* Connect request: UserDN "a\xC3" */
	const uint8_t nonascii[] = {'a', 0xC3, 0, 0, 0, 0, 0, 0xe4, 4, 0, 0, 9,
	                            4,   0,    0, 9, 4, 0, 0, 0,    0, 0, 0};
	expect_error(CONNECT_REQ, nonascii, sizeof(nonascii), 1, "not ASCII");
	/* trailing byte */
	uint8_t dn[24];
	memcpy(dn, nonascii, sizeof(nonascii));
	dn[1] = 'b';
	dn[23] = 0x55;
	expect_error(CONNECT_REQ, dn, 24, 23, "1 unexpected bytes at byte 23");
	/* AuxiliaryBufferSize beyond the end */
	dn[19] = 9;
	expect_error(CONNECT_REQ, dn, 23, 19, "AuxiliaryBufferSize 9 at byte 19 exceeds");
	/* Connect response: an unpaired surrogate in DisplayName at byte 21 */
	const uint8_t sur[] = {0, 0, 0, 0, 0, 0,   0, 0,    0,    0, 0, 0, 0, 0, 0, 0,
	                       0, 0, 0, 0, 0, 'A', 0, 0x00, 0xD8, 0, 0, 0, 0, 0, 0};
	expect_error(CONNECT_RESP, sur, sizeof(sur), 21, "Connect.DisplayName at byte 21");
	/* Execute: RopBufferSize too large */
	const uint8_t ex[] = {3, 0, 0, 0, 0xff, 0, 0, 0, 1, 2, 3};
	expect_error(EXECUTE_REQ, ex, sizeof(ex), 4, "Execute.RopBufferSize 255 at byte 4");
	/* truncated MaxRopOut */
	const uint8_t ex2[] = {3, 0, 0, 0, 1, 0, 0, 0, 9, 8, 0};
	expect_error(EXECUTE_REQ, ex2, sizeof(ex2), 9, "Execute.MaxRopOut needs 4 bytes");
	/* NotificationWait response cut inside EventPending */
	const uint8_t nw[] = {0, 0, 0, 0, 0, 0, 0, 0, 1};
	expect_error(NOTIFWAIT_RESP, nw, sizeof(nw), 8, "NotificationWait.EventPending");

	/* writer errors */
	mh_buf b = MH_BUF_INIT;
	mh_emsmdb_connect_request cr = {"caf\xC3\xA9", 0, 1252, 0x409, 0x409, {NULL, 0}};
	assert_int_equal(mh_emsmdb_connect_request_push(&b, &cr), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	mh_emsmdb_execute_request er = {3, {NULL, 5}, 0x18008, {NULL, 0}};
	assert_int_equal(mh_emsmdb_execute_request_push(&b, &er), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	mh_emsmdb_connect_response cs = {0, 0, 1, 2, 3, "", "bad \xFF utf8", {NULL, 0}};
	assert_int_equal(mh_emsmdb_connect_response_push(&b, &cs), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	/* NULL strings push as empty */
	mh_emsmdb_connect_response cn = {0, 0, 1, 2, 3, NULL, NULL, {NULL, 0}};
	assert_int_equal(mh_emsmdb_connect_response_push(&b, &cn), S_OK);
	assert_int_equal(b.len, 20 + 1 + 2 + 4);
	mh_buf_free(&b);
}

/* ---- random round trips, truncations and flips ---------------------------------------- */

static char *rand_ascii(mh_arena *a, uint64_t *seed, size_t max)
{
	size_t n = (size_t)(mh_test_rng_next(seed) % (max + 1));
	char *s;
	assert_int_equal(mh_arena_alloc(a, n + 1, (void **)&s), S_OK);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)(0x20 + mh_test_rng_next(seed) % 0x5F);
	return s;
}

static char *rand_utf8(mh_arena *a, uint64_t *seed, size_t max)
{
	static const char *const parts[] = {
	    "A", "z", " ", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xE6\x97\xA5"};
	size_t n = (size_t)(mh_test_rng_next(seed) % (max + 1));
	char *s;
	assert_int_equal(mh_arena_alloc(a, 4 * n + 1, (void **)&s), S_OK);
	s[0] = '\0';
	for (size_t i = 0; i < n; i++)
		strcat(s, parts[mh_test_rng_next(seed) % 7]);
	return s;
}

static mh_emsmdb_bytes rand_bytes(mh_arena *a, uint64_t *seed, size_t max)
{
	mh_emsmdb_bytes v = {NULL, (uint32_t)(mh_test_rng_next(seed) % (max + 1))};
	if (v.len) {
		uint8_t *p;
		assert_int_equal(mh_arena_alloc(a, v.len, (void **)&p), S_OK);
		for (uint32_t i = 0; i < v.len; i++)
			p[i] = (uint8_t)mh_test_rng_next(seed);
		v.data = p;
	}
	return v;
}

static void rand_body(enum body k, any_body *v, mh_arena *a, uint64_t *seed)
{
	memset(v, 0, sizeof(*v));
	uint32_t r[5];
	for (int i = 0; i < 5; i++)
		r[i] = (uint32_t)mh_test_rng_next(seed);
	/* responses: mostly success, sometimes the failure form */
	uint32_t sc = mh_test_rng_next(seed) % 4 == 0 ? (r[0] | 1) : 0;
	switch (k) {
	case CONNECT_REQ:
		v->connect_req = (mh_emsmdb_connect_request){
		    rand_ascii(a, seed, 300), r[0], r[1], r[2], r[3], rand_bytes(a, seed, 40)};
		break;
	case CONNECT_RESP:
		v->connect_resp.status_code = sc;
		v->connect_resp.aux = rand_bytes(a, seed, 40);
		v->connect_resp.dn_prefix = v->connect_resp.display_name = "";
		if (sc == 0) {
			v->connect_resp.error_code = r[1];
			v->connect_resp.polls_max = r[2];
			v->connect_resp.retry_count = r[3];
			v->connect_resp.retry_delay = r[4];
			v->connect_resp.dn_prefix = rand_ascii(a, seed, 50);
			v->connect_resp.display_name = rand_utf8(a, seed, 40);
		}
		break;
	case EXECUTE_REQ:
		v->execute_req = (mh_emsmdb_execute_request){r[0], rand_bytes(a, seed, 500), r[1],
		                                             rand_bytes(a, seed, 40)};
		break;
	case EXECUTE_RESP:
		v->execute_resp.status_code = sc;
		v->execute_resp.aux = rand_bytes(a, seed, 40);
		if (sc == 0) {
			v->execute_resp.error_code = r[1];
			v->execute_resp.flags = r[2];
			v->execute_resp.rop_buffer = rand_bytes(a, seed, 500);
		}
		break;
	case DISCONNECT_REQ:
		v->disconnect_req.aux = rand_bytes(a, seed, 40);
		break;
	case DISCONNECT_RESP:
		v->disconnect_resp.status_code = sc;
		v->disconnect_resp.aux = rand_bytes(a, seed, 40);
		if (sc == 0)
			v->disconnect_resp.error_code = r[1];
		break;
	case NOTIFWAIT_REQ:
		v->notifwait_req.flags = r[0];
		v->notifwait_req.aux = rand_bytes(a, seed, 40);
		break;
	default:
		v->notifwait_resp.status_code = sc;
		v->notifwait_resp.aux = rand_bytes(a, seed, 40);
		if (sc == 0) {
			v->notifwait_resp.error_code = r[1];
			v->notifwait_resp.event_pending = r[2] & 1;
		}
	}
}

static void assert_bytes_equal(const mh_emsmdb_bytes *x, const mh_emsmdb_bytes *y)
{
	assert_int_equal(x->len, y->len);
	if (x->len)
		assert_memory_equal(x->data, y->data, x->len);
}

static void assert_body_equal(enum body k, const any_body *x, const any_body *y)
{
	switch (k) {
	case CONNECT_REQ:
		assert_string_equal(x->connect_req.user_dn, y->connect_req.user_dn);
		assert_int_equal(x->connect_req.flags, y->connect_req.flags);
		assert_int_equal(x->connect_req.default_code_page,
		                 y->connect_req.default_code_page);
		assert_int_equal(x->connect_req.lcid_sort, y->connect_req.lcid_sort);
		assert_int_equal(x->connect_req.lcid_string, y->connect_req.lcid_string);
		assert_bytes_equal(&x->connect_req.aux, &y->connect_req.aux);
		break;
	case CONNECT_RESP:
		assert_int_equal(x->connect_resp.status_code, y->connect_resp.status_code);
		assert_int_equal(x->connect_resp.error_code, y->connect_resp.error_code);
		assert_int_equal(x->connect_resp.polls_max, y->connect_resp.polls_max);
		assert_int_equal(x->connect_resp.retry_count, y->connect_resp.retry_count);
		assert_int_equal(x->connect_resp.retry_delay, y->connect_resp.retry_delay);
		assert_string_equal(x->connect_resp.dn_prefix, y->connect_resp.dn_prefix);
		assert_string_equal(x->connect_resp.display_name, y->connect_resp.display_name);
		assert_bytes_equal(&x->connect_resp.aux, &y->connect_resp.aux);
		break;
	case EXECUTE_REQ:
		assert_int_equal(x->execute_req.flags, y->execute_req.flags);
		assert_int_equal(x->execute_req.max_rop_out, y->execute_req.max_rop_out);
		assert_bytes_equal(&x->execute_req.rop_buffer, &y->execute_req.rop_buffer);
		assert_bytes_equal(&x->execute_req.aux, &y->execute_req.aux);
		break;
	case EXECUTE_RESP:
		assert_int_equal(x->execute_resp.status_code, y->execute_resp.status_code);
		assert_int_equal(x->execute_resp.error_code, y->execute_resp.error_code);
		assert_int_equal(x->execute_resp.flags, y->execute_resp.flags);
		assert_bytes_equal(&x->execute_resp.rop_buffer, &y->execute_resp.rop_buffer);
		assert_bytes_equal(&x->execute_resp.aux, &y->execute_resp.aux);
		break;
	case DISCONNECT_REQ:
		assert_bytes_equal(&x->disconnect_req.aux, &y->disconnect_req.aux);
		break;
	case DISCONNECT_RESP:
		assert_int_equal(x->disconnect_resp.status_code, y->disconnect_resp.status_code);
		assert_int_equal(x->disconnect_resp.error_code, y->disconnect_resp.error_code);
		assert_bytes_equal(&x->disconnect_resp.aux, &y->disconnect_resp.aux);
		break;
	case NOTIFWAIT_REQ:
		assert_int_equal(x->notifwait_req.flags, y->notifwait_req.flags);
		assert_bytes_equal(&x->notifwait_req.aux, &y->notifwait_req.aux);
		break;
	default:
		assert_int_equal(x->notifwait_resp.status_code, y->notifwait_resp.status_code);
		assert_int_equal(x->notifwait_resp.error_code, y->notifwait_resp.error_code);
		assert_int_equal(x->notifwait_resp.event_pending, y->notifwait_resp.event_pending);
		assert_bytes_equal(&x->notifwait_resp.aux, &y->notifwait_resp.aux);
	}
}

static bool is_failure_form(enum body k, const any_body *v)
{
	/* status_code leads every response struct */
	return (k & 1) && *(const uint32_t *)(const void *)v != 0;
}

static void test_emsmdb__random_round_trips(void **state)
{
	(void)state;
	uint64_t seed = 0xE5D8;
	for (int k = 0; k < N_BODIES; k++) {
		for (int iter = 0; iter < 300; iter++) {
			mh_arena a;
			any_body v, w;
			mh_arena_init(&a, 0);
			rand_body((enum body)k, &v, &a, &seed);
			mh_buf b = MH_BUF_INIT;
			assert_int_equal(push_body((enum body)k, &b, &v), S_OK);
			assert_int_equal(pull_body((enum body)k, b.data, b.len, &a, &w), S_OK);
			assert_body_equal((enum body)k, &v, &w);
			/* every strict prefix of a success-form body fails */
			if (!is_failure_form((enum body)k, &v) && iter < 40) {
				for (size_t cut = 0; cut < b.len; cut++) {
					uint8_t *d = malloc(cut ? cut : 1);
					assert_non_null(d);
					memcpy(d, b.data, cut);
					assert_int_equal(pull_body((enum body)k, d, cut, &a, &w),
					                 MAPI_E_CORRUPT_DATA);
					free(d);
				}
			}
			mh_buf_free(&b);
			mh_arena_free(&a);
		}
	}
}

static void test_emsmdb__truncations_and_flips(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		enum body k;
	} vec[] = {
	    {WIRE_DIR "connect_request_body.hex", CONNECT_REQ},
	    {WIRE_DIR "connect_success_response_body.hex", CONNECT_RESP},
	    {WIRE_DIR "execute_request_body_roplogon.hex", EXECUTE_REQ},
	    {WIRE_DIR "execute_success_response_body_roplogon.hex", EXECUTE_RESP},
	    {GROMOX_DIR "/emsmdb_alice_01_connect.resp-body.hex", CONNECT_RESP},
	    {GROMOX_DIR "/emsmdb_alice_04_execute_ipmsubtree_hierarchy.resp-body.hex",
	     EXECUTE_RESP},
	    {GROMOX_DIR "/emsmdb_alice_17_disconnect.resp-body.hex", DISCONNECT_RESP},
	    {GROMOX_DIR "/emsmdb_alice_17_disconnect.req.hex", DISCONNECT_REQ},
	};
	uint64_t seed = 4242;
	for (size_t f = 0; f < sizeof(vec) / sizeof(vec[0]); f++) {
		size_t n;
		uint8_t *p = load(vec[f].file, &n);
		mh_arena a;
		any_body v;
		mh_arena_init(&a, 0);
		for (size_t cut = 0; cut < n; cut++) {
			uint8_t *d = malloc(cut ? cut : 1);
			assert_non_null(d);
			memcpy(d, p, cut);
			assert_int_equal(pull_body(vec[f].k, d, cut, &a, &v), MAPI_E_CORRUPT_DATA);
			assert_non_null(mh_error_last());
			free(d);
		}
		for (int i = 0; i < 2000; i++) {
			uint8_t *d = malloc(n);
			assert_non_null(d);
			memcpy(d, p, n);
			size_t bit = (size_t)(mh_test_rng_next(&seed) % (n * 8));
			d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			mh_status st = pull_body(vec[f].k, d, n, &a, &v);
			assert_true(st == S_OK || st == MAPI_E_CORRUPT_DATA);
			if (st == S_OK && !is_failure_form(vec[f].k, &v)) {
				/* whatever decodes re-encodes to the same bytes */
				mh_buf b = MH_BUF_INIT;
				assert_int_equal(push_body(vec[f].k, &b, &v), S_OK);
				assert_int_equal(b.len, n);
				assert_memory_equal(b.data, d, n);
				mh_buf_free(&b);
			}
			free(d);
		}
		mh_arena_free(&a);
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_emsmdb__connect_vectors),
	    cmocka_unit_test(test_emsmdb__execute_vectors),
	    cmocka_unit_test(test_emsmdb__gromox_bodies),
	    cmocka_unit_test(test_emsmdb__gromox_values),
	    cmocka_unit_test(test_emsmdb__failure_form),
	    cmocka_unit_test(test_emsmdb__errors),
	    cmocka_unit_test(test_emsmdb__random_round_trips),
	    cmocka_unit_test(test_emsmdb__truncations_and_flips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
