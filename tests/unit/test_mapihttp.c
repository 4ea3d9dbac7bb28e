/*
 * MAPI/HTTP framing tests: every gromox response stream parses alike fed
 * whole, byte by byte and in random splits, with the body of its capture;
 * the writer rebuilds a capture; malformed streams fail at the same offset
 * for every split; the X-ResponseCode table; request headers built,
 * checked, and the captures' headers checked.
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

#include "codec/mapihttp.h"
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

/* ---- event recording -------------------------------------------------------------------- */

typedef struct record {
	char log[65536]; /* non-body events, one per line */
	size_t log_len;
	uint8_t *body;
	size_t body_len, body_cap;
	long long body_start;
	int fail_at; /* make the n-th callback fail (0: never) */
	int calls;
} record;

static void logf_(record *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(record *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(r->log + r->log_len, sizeof(r->log) - r->log_len, fmt, ap);
	va_end(ap);
	assert_true(k > 0 && (size_t)k < sizeof(r->log) - r->log_len);
	r->log_len += (size_t)k;
}

static mh_status on_event(const mh_mapihttp_event *ev, void *payload)
{
	record *r = payload;
	r->calls++;
	if (r->fail_at != 0 && r->calls == r->fail_at)
		return MAPI_E_USER_CANCEL;
	switch (ev->kind) {
	case MH_MAPIHTTP_EV_PROCESSING:
		logf_(r, "PROCESSING@%llu\n", (unsigned long long)ev->offset);
		break;
	case MH_MAPIHTTP_EV_PENDING:
		logf_(r, "PENDING@%llu\n", (unsigned long long)ev->offset);
		break;
	case MH_MAPIHTTP_EV_DONE:
		logf_(r, "DONE@%llu\n", (unsigned long long)ev->offset);
		break;
	case MH_MAPIHTTP_EV_META:
		assert_int_equal(strlen(ev->name), ev->name_len);
		assert_int_equal(strlen(ev->value), ev->value_len);
		logf_(r, "META@%llu [%s]=[%s]\n", (unsigned long long)ev->offset, ev->name,
		      ev->value);
		break;
	case MH_MAPIHTTP_EV_META_END:
		logf_(r, "END@%llu\n", (unsigned long long)ev->offset);
		break;
	case MH_MAPIHTTP_EV_BODY:
		assert_true(ev->len > 0);
		if (r->body_start < 0)
			r->body_start = (long long)ev->offset;
		assert_int_equal(ev->offset, (unsigned long long)r->body_start + r->body_len);
		if (r->body_len + ev->len > r->body_cap) {
			r->body_cap = (r->body_len + ev->len) * 2;
			r->body = realloc(r->body, r->body_cap);
			assert_non_null(r->body);
		}
		memcpy(r->body + r->body_len, ev->data, ev->len);
		r->body_len += ev->len;
		break;
	}
	return S_OK;
}

typedef struct outcome {
	record r;
	mh_status st;
	char msg[400];
	int64_t off;
	uint32_t response_code;
	bool have_response_code;
} outcome;

/* Feeds p in pieces: mode 0 whole, 1 byte by byte, 2 random sizes (seeded). */
static void run(const uint8_t *p, size_t n, int mode, uint64_t seed, outcome *o)
{
	mh_mapihttp_stream s;
	memset(o, 0, sizeof(*o));
	o->r.body_start = -1;
	mh_mapihttp_stream_init(&s, on_event, &o->r);
	size_t at = 0;
	mh_status st = S_OK;
	while (at < n && st == S_OK) {
		size_t k = mode == 0   ? n
		           : mode == 1 ? 1
		                       : 1 + (size_t)(mh_test_rng_next(&seed) % 97);
		if (k > n - at)
			k = n - at;
		/* exact heap copies of each piece, for ASan */
		uint8_t *piece = malloc(k);
		assert_non_null(piece);
		memcpy(piece, p + at, k);
		st = mh_mapihttp_stream_feed(&s, piece, k);
		free(piece);
		at += k;
	}
	if (st == S_OK)
		st = mh_mapihttp_stream_finish(&s);
	o->st = st;
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		if (e != NULL) {
			snprintf(o->msg, sizeof(o->msg), "%s", e->message);
			o->off = e->offset;
		}
		/* sticky */
		assert_int_equal(mh_mapihttp_stream_feed(&s, "x", 1), st);
	}
	o->have_response_code = s.have_response_code;
	o->response_code = s.response_code;
}

static void outcome_free(outcome *o)
{
	free(o->r.body);
}

/* All three feeding modes agree; returns the whole-feed outcome in *o. */
static void run_all_ways(const uint8_t *p, size_t n, outcome *o)
{
	run(p, n, 0, 0, o);
	for (int mode = 1; mode <= 2; mode++) {
		for (uint64_t seed = 1; seed <= (mode == 1 ? 1u : 8u); seed++) {
			outcome x;
			run(p, n, mode, seed, &x);
			assert_int_equal(x.st, o->st);
			assert_string_equal(x.msg, o->msg);
			assert_int_equal(x.off, o->off);
			assert_string_equal(x.r.log, o->r.log);
			assert_int_equal(x.r.body_len, o->r.body_len);
			assert_int_equal(x.r.body_start, o->r.body_start);
			if (o->r.body_len)
				assert_memory_equal(x.r.body, o->r.body, o->r.body_len);
			outcome_free(&x);
		}
	}
}

/* ---- gromox response streams -------------------------------------------------------- */

static bool file_mentions(const char *path, const char *needle, char *line_out, size_t cap)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	bool found = false;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (line[0] == '#' && strstr(line, needle) != NULL) {
			if (line_out != NULL) {
				size_t k = strcspn(line, "\r\n");
				if (k >= cap)
					k = cap - 1;
				memcpy(line_out, line, k);
				line_out[k] = '\0';
			}
			found = true;
			break;
		}
	fclose(f);
	return found;
}

static void test_mapihttp__gromox_streams(void **state)
{
	(void)state;
	char **names;
	long count = mh_vector_list(GROMOX_DIR, &names);
	assert_true(count > 0);
	int framed = 0, unframed = 0, with_body = 0;
	for (long i = 0; i < count; i++) {
		/* Autodiscover answers are plain HTTP, not MAPI/HTTP streams. */
		if (!mh_vector_has_suffix(names[i], ".resp") ||
		    strncmp(names[i], "autodiscover_", 13) == 0)
			continue;
		char path[512], inner[2048];
		snprintf(path, sizeof(path), "%s/%s.hex", GROMOX_DIR, names[i]);
		size_t n;
		uint8_t *p = load(path, &n);
		outcome o;
		run_all_ways(p, n, &o);
		if (!file_mentions(path, "# inner stream:", inner, sizeof(inner))) {
			/* HTML error pages and 401/404 bodies: not a MAPI/HTTP stream */
			assert_int_equal(o.st, MAPI_E_CORRUPT_DATA);
			assert_int_equal(o.off, 0);
			assert_non_null(strstr(o.msg, "not PROCESSING, PENDING or DONE"));
			unframed++;
			outcome_free(&o);
			free(p);
			continue;
		}
		if (o.st != S_OK)
			fail_msg("%s: %s", names[i], o.msg);
		framed++;
		/* the comment line lists the stream: PROCESSING | DONE | meta... */
		assert_non_null(
		    strstr(inner, "PROCESSING | DONE | X-ElapsedTime: 0 | X-StartTime: "));
		const char *st = strstr(inner, "X-StartTime: ") + 13;
		char expect[4096];
		snprintf(expect, sizeof(expect),
		         "PROCESSING@0\nDONE@12\nMETA@18 [X-ElapsedTime]=[0]\n"
		         "META@36 [X-StartTime]=[%.29s]\nEND@80\n",
		         st);
		assert_string_equal(o.r.log, expect);
		assert_false(o.have_response_code);
		/* the body is the capture's resp-body */
		char bpath[512];
		snprintf(bpath, sizeof(bpath), "%s/%.*s.resp-body.hex", GROMOX_DIR,
		         (int)(strlen(names[i]) - 5), names[i]);
		size_t bn;
		uint8_t *body = load(bpath, &bn);
		assert_int_equal(o.r.body_len, bn);
		if (bn) {
			assert_int_equal(o.r.body_start, 82);
			assert_memory_equal(o.r.body, body, bn);
			with_body++;
		} else {
			assert_int_equal(o.r.body_start, -1);
		}

		/* the one-shot parser agrees */
		mh_arena a;
		mh_arena_init(&a, 0);
		mh_mapihttp_response resp;
		assert_int_equal(mh_mapihttp_response_parse(p, n, &a, &resp), S_OK);
		assert_int_equal(resp.processing, 1);
		assert_int_equal(resp.pending, 0);
		assert_int_equal(resp.n_meta, 2);
		assert_true(resp.have_elapsed_time);
		assert_int_equal(resp.elapsed_time, 0);
		assert_non_null(resp.start_time);
		assert_int_equal(strncmp(resp.start_time, st, 29), 0);
		assert_int_equal(resp.body_offset, 82);
		assert_int_equal(resp.body_len, bn);
		if (bn)
			assert_memory_equal(resp.body, body, bn);

		/* the writer rebuilds the stream byte for byte */
		mh_buf b = MH_BUF_INIT;
		mh_mapihttp_push_line(&b, MH_MAPIHTTP_EV_PROCESSING);
		mh_mapihttp_push_line(&b, MH_MAPIHTTP_EV_DONE);
		for (size_t m = 0; m < resp.n_meta; m++)
			mh_mapihttp_push_meta(&b, resp.meta[m].name, resp.meta[m].value);
		mh_mapihttp_push_meta_end(&b);
		mh_buf_put(&b, body, bn);
		assert_int_equal(mh_buf_status(&b), S_OK);
		assert_int_equal(b.len, n);
		assert_memory_equal(b.data, p, n);
		mh_buf_free(&b);
		mh_arena_free(&a);
		free(body);
		outcome_free(&o);
		free(p);
	}
	mh_vector_list_free(names, count);
	assert_int_equal(framed, 43);
	assert_int_equal(unframed, 13);
	assert_int_equal(with_body, 41);
}

/* Removes HTTP/1.1 headers and chunked framing from an HTTP response. */
static uint8_t *dechunk(const uint8_t *p, size_t n, size_t *out_len)
{
	size_t i = 0;
	/* skip the header block */
	while (i + 3 < n && memcmp(p + i, "\r\n\r\n", 4) != 0)
		i++;
	assert_true(i + 3 < n);
	i += 4;
	uint8_t *out = malloc(n);
	size_t o = 0;
	assert_non_null(out);
	for (;;) {
		size_t size = 0;
		while (i < n && p[i] != '\r') {
			int c = p[i++];
			size = size * 16 + (size_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
		}
		assert_true(i + 1 < n);
		i += 2;
		if (size == 0)
			break;
		assert_true(i + size + 2 <= n);
		memcpy(out + o, p + i, size);
		o += size;
		i += size + 2;
	}
	*out_len = o;
	return out;
}

static void test_mapihttp__chunked_vector(void **state)
{
	(void)state;
	size_t n, sn, bn;
	uint8_t *http = load(WIRE_DIR "http_execute_response_chunked.hex", &n);
	uint8_t *stream = dechunk(http, n, &sn);
	uint8_t *body = load(WIRE_DIR "execute_success_response_body_roplogon.hex", &bn);
	outcome o;
	run_all_ways(stream, sn, &o);
	assert_int_equal(o.st, S_OK);
	assert_non_null(strstr(o.r.log, "PROCESSING@0\nPENDING@12\nDONE@21\n"));
	assert_non_null(strstr(o.r.log, "[X-ElapsedTime]="));
	assert_non_null(strstr(o.r.log, "[X-StartTime]="));
	assert_int_equal(o.r.body_len, bn);
	assert_memory_equal(o.r.body, body, bn);
	outcome_free(&o);
	free(http);
	free(stream);
	free(body);
}

/* ---- malformed streams -------------------------------------------------------------- */

static void expect_bad(const char *text, mh_status want, int64_t off, const char *needle)
{
	outcome o;
	run_all_ways((const uint8_t *)text, strlen(text), &o);
	assert_int_equal(o.st, want);
	if (strstr(o.msg, needle) == NULL)
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, o.msg, needle);
	assert_int_equal(o.off, off);
	outcome_free(&o);
}

static void test_mapihttp__malformed(void **state)
{
	(void)state;
	expect_bad("PROCESSING\rDONE\r\n\r\n", MAPI_E_CORRUPT_DATA, 10,
	           "CR at byte 10 not followed");
	expect_bad("PROCESSING\r\nPENDINGS\r\n", MAPI_E_CORRUPT_DATA, 12,
	           "line at byte 12 is not PROCESSING");
	expect_bad("PROCESSINGX\r\n", MAPI_E_CORRUPT_DATA, 0, "not PROCESSING, PENDING or DONE");
	expect_bad("PROCESSING \r\n", MAPI_E_CORRUPT_DATA, 0, "not PROCESSING");
	expect_bad("HTTP/1.1 200 OK\r\n", MAPI_E_CORRUPT_DATA, 0, "not PROCESSING");
	expect_bad("\r\nDONE\r\n\r\n", MAPI_E_CORRUPT_DATA, 0, "not PROCESSING");
	expect_bad("DONE\r\r\n\r\n", MAPI_E_CORRUPT_DATA, 4, "CR at byte 4 not followed");
	expect_bad("DONE\r\nX-Foo bar\r\n\r\n", MAPI_E_CORRUPT_DATA, 11, "expected a name and ':'");
	expect_bad("DONE\r\n: bar\r\n\r\n", MAPI_E_CORRUPT_DATA, 6, "expected a name and ':'");
	expect_bad("DONE\r\nX-Foo: b\001r\r\n\r\n", MAPI_E_CORRUPT_DATA, 14,
	           "control character 0x01");
	expect_bad("DONE\r\nX-ResponseCode: abc\r\n\r\n", MAPI_E_CORRUPT_DATA, 22,
	           "X-ResponseCode value \"abc\" is not a 32-bit decimal");
	expect_bad("DONE\r\nX-ResponseCode: 4294967296\r\n\r\n", MAPI_E_CORRUPT_DATA, 22,
	           "not a 32-bit decimal");
	expect_bad("DONE\r\nX-ResponseCode: 1\r\nx-responsecode: 1\r\n\r\n", MAPI_E_CORRUPT_DATA,
	           25, "repeated");
	expect_bad("", MAPI_E_CORRUPT_DATA, 0, "ends at byte 0 before DONE");
	expect_bad("PROCESSING\r\nPENDING\r\n", MAPI_E_CORRUPT_DATA, 21, "before DONE");
	expect_bad("PROCESSING\r\nDONE\r\nX-A: 1\r\n", MAPI_E_CORRUPT_DATA, 26,
	           "inside the meta block");
	expect_bad("DONE\r\n\r", MAPI_E_CORRUPT_DATA, 7, "inside the meta block");

	/* an over-long meta line and an over-long meta block */
	char *big = malloc(MH_MAPIHTTP_META_MAX + 100);
	assert_non_null(big);
	strcpy(big, "DONE\r\nX-Long: ");
	memset(big + 14, 'v', MH_MAPIHTTP_LINE_MAX);
	strcpy(big + 14 + MH_MAPIHTTP_LINE_MAX, "\r\n\r\n");
	expect_bad(big, MAPI_E_CORRUPT_DATA, 6, "longer than 1024 bytes");
	strcpy(big, "DONE\r\n");
	size_t at = 6;
	while (at < MH_MAPIHTTP_META_MAX + 20) {
		memcpy(big + at, "X-Pad: 0123456789\r\n", 19);
		at += 19;
	}
	strcpy(big + at, "\r\n");
	expect_bad(big, MAPI_E_CORRUPT_DATA, 6 + MH_MAPIHTTP_META_MAX, "exceeds 16384 bytes");
	free(big);

	/* a failing callback stops the parser and its status comes back */
	const char *ok = "PROCESSING\r\nPENDING\r\nDONE\r\n\r\nBODY";
	for (int k = 1; k <= 5; k++) {
		mh_mapihttp_stream s;
		record r;
		memset(&r, 0, sizeof(r));
		r.body_start = -1;
		r.fail_at = k;
		mh_mapihttp_stream_init(&s, on_event, &r);
		assert_int_equal(mh_mapihttp_stream_feed(&s, ok, strlen(ok)), MAPI_E_USER_CANCEL);
		assert_int_equal(r.calls, k);
		assert_int_equal(mh_mapihttp_stream_finish(&s), MAPI_E_USER_CANCEL);
		free(r.body);
	}
}

/*
 * What a server may send beyond the letter of MS-OXCMAPIHTTP 2.2.7 (CRLF,
 * upper-case meta-tags) is taken: bare LF line ends (RFC 9112 2.2 lets an
 * HTTP recipient treat LF alone as a line end), meta-tags in any case, and a
 * diagnostic X-ElapsedTime that is not a plain decimal (MS-OXCMAPIHTTP
 * 2.2.3.3: milliseconds; gromox writes seconds). The body still starts right
 * after the empty line, whichever line end it had.
 */
static void test_mapihttp__tolerated(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *log;
		size_t body_offset;
		bool have_elapsed;
		uint32_t elapsed;
	} cases[] = {
	    {"PROCESSING\nPENDING\nDONE\nX-ElapsedTime: 5\n\nBODY",
	     "PROCESSING@0\nPENDING@11\nDONE@19\nMETA@24 [X-ElapsedTime]=[5]\nEND@41\n", 42, true,
	     5},
	    {"Processing\r\npending\r\ndone\r\n\r\n\xff\x00",
	     "PROCESSING@0\nPENDING@12\nDONE@21\nEND@27\n", 29, false, 0},
	    {"PROCESSING\r\nDONE\r\nX-ElapsedTime: 0.25\r\nX-ElapsedTime: 7\r\n\n\r\nX",
	     "PROCESSING@0\nDONE@12\nMETA@18 [X-ElapsedTime]=[0.25]\nMETA@39 "
	     "[X-ElapsedTime]=[7]\nEND@57\n",
	     58, true, 7},
	    {"DONE\r\nX-ElapsedTime: -1\r\n\r\n", "DONE@0\nMETA@6 [X-ElapsedTime]=[-1]\nEND@25\n",
	     27, false, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].text);
		if (i == 1)
			n += 2; /* the body holds a NUL */
		outcome o;
		run_all_ways((const uint8_t *)cases[i].text, n, &o);
		assert_int_equal(o.st, S_OK);
		assert_string_equal(o.r.log, cases[i].log);
		assert_int_equal(o.r.body_len, n - cases[i].body_offset);
		if (o.r.body_len)
			assert_int_equal(o.r.body_start, (long long)cases[i].body_offset);
		outcome_free(&o);

		mh_arena a = MH_ARENA_INIT;
		mh_mapihttp_response resp;
		assert_int_equal(
		    mh_mapihttp_response_parse((const uint8_t *)cases[i].text, n, &a, &resp), S_OK);
		assert_int_equal(resp.body_offset, cases[i].body_offset);
		assert_int_equal(resp.body_len, n - cases[i].body_offset);
		assert_int_equal(resp.have_elapsed_time, cases[i].have_elapsed);
		if (cases[i].have_elapsed)
			assert_int_equal(resp.elapsed_time, cases[i].elapsed);
		mh_arena_free(&a);
	}
}

static void test_mapihttp__meta_values(void **state)
{
	(void)state;
	const char *text = "PROCESSING\r\nPENDING\r\nPENDING\r\nDONE\r\n"
	                   "x-responsecode:15\r\nX-ElapsedTime: \t 1234 \t\r\n"
	                   "X-Other:\r\nX-StartTime: Tue, 25 Nov 2025 10:15:30 GMT\r\n\r\n"
	                   "\r\n\r\nDONE\r\n";
	outcome o;
	run_all_ways((const uint8_t *)text, strlen(text), &o);
	assert_int_equal(o.st, S_OK);
	assert_true(o.have_response_code);
	assert_int_equal(o.response_code, 15);
	assert_non_null(strstr(o.r.log, "META@36 [x-responsecode]=[15]\n"));
	assert_non_null(strstr(o.r.log, "[X-ElapsedTime]=[1234]\n"));
	assert_non_null(strstr(o.r.log, "[X-Other]=[]\n"));
	/* a body that looks like text is still body */
	assert_int_equal(o.r.body_len, 10);
	assert_memory_equal(o.r.body, "\r\n\r\nDONE\r\n", 10);
	outcome_free(&o);

	mh_arena a;
	mh_arena_init(&a, 0);
	mh_mapihttp_response resp;
	assert_int_equal(mh_mapihttp_response_parse((const uint8_t *)text, strlen(text), &a, &resp),
	                 S_OK);
	assert_int_equal(resp.pending, 2);
	assert_int_equal(resp.response_code, 15);
	assert_int_equal(resp.elapsed_time, 1234);
	assert_string_equal(resp.start_time, "Tue, 25 Nov 2025 10:15:30 GMT");
	assert_int_equal(resp.n_meta, 4);
	assert_string_equal(resp.meta[2].name, "X-Other");
	assert_string_equal(resp.meta[2].value, "");
	assert_int_equal(mh_mapihttp_response_code_status(resp.response_code), MAPI_E_BUSY);
	mh_arena_free(&a);
}

/* Random streams from the writer parse back to what was written, in any split. */
static void test_mapihttp__random_streams(void **state)
{
	(void)state;
	uint64_t seed = 0xABCD;
	for (int iter = 0; iter < 300; iter++) {
		mh_buf b = MH_BUF_INIT;
		char expect[8192];
		size_t el = 0;
		unsigned pend = (unsigned)(mh_test_rng_next(&seed) % 5);
		mh_mapihttp_push_line(&b, MH_MAPIHTTP_EV_PROCESSING);
		el += (size_t)snprintf(expect + el, sizeof(expect) - el, "PROCESSING@0\n");
		for (unsigned i = 0; i < pend; i++) {
			el += (size_t)snprintf(expect + el, sizeof(expect) - el, "PENDING@%zu\n",
			                       b.len);
			mh_mapihttp_push_line(&b, MH_MAPIHTTP_EV_PENDING);
		}
		el += (size_t)snprintf(expect + el, sizeof(expect) - el, "DONE@%zu\n", b.len);
		mh_mapihttp_push_line(&b, MH_MAPIHTTP_EV_DONE);
		unsigned nmeta = (unsigned)(mh_test_rng_next(&seed) % 6);
		for (unsigned i = 0; i < nmeta; i++) {
			char name[16], value[64];
			snprintf(name, sizeof(name), "X-H%u", i);
			size_t vl = (size_t)(mh_test_rng_next(&seed) % 40);
			for (size_t k = 0; k < vl; k++)
				value[k] = (char)('!' + mh_test_rng_next(&seed) % 90);
			value[vl] = '\0';
			el += (size_t)snprintf(expect + el, sizeof(expect) - el,
			                       "META@%zu [%s]=[%s]\n", b.len, name, value);
			mh_mapihttp_push_meta(&b, name, value);
		}
		uint32_t rc = (uint32_t)mh_test_rng_next(&seed);
		if (mh_test_rng_next(&seed) & 1) {
			el += (size_t)snprintf(expect + el, sizeof(expect) - el,
			                       "META@%zu [X-ResponseCode]=[%lu]\n", b.len,
			                       (unsigned long)rc);
			mh_mapihttp_push_meta_u32(&b, "X-ResponseCode", rc);
		} else {
			rc = 0;
		}
		el += (size_t)snprintf(expect + el, sizeof(expect) - el, "END@%zu\n", b.len);
		mh_mapihttp_push_meta_end(&b);
		size_t body_at = b.len, bl = (size_t)(mh_test_rng_next(&seed) % 3000);
		for (size_t k = 0; k < bl; k++)
			mh_buf_u8(&b, (uint8_t)mh_test_rng_next(&seed));
		assert_int_equal(mh_buf_status(&b), S_OK);

		outcome o;
		run_all_ways(b.data, b.len, &o);
		assert_int_equal(o.st, S_OK);
		assert_string_equal(o.r.log, expect);
		assert_int_equal(o.response_code, rc);
		assert_int_equal(o.r.body_len, bl);
		if (bl)
			assert_memory_equal(o.r.body, b.data + body_at, bl);
		/* every cut before the meta end fails at finish; after it, succeeds */
		for (size_t cut = 0; cut < b.len && cut < body_at + 3; cut++) {
			outcome t;
			run(b.data, cut, 0, 0, &t);
			assert_int_equal(t.st, cut >= body_at ? S_OK : MAPI_E_CORRUPT_DATA);
			outcome_free(&t);
		}
		outcome_free(&o);
		mh_buf_free(&b);
	}
}

static void test_mapihttp__writer_errors(void **state)
{
	(void)state;
	mh_buf b = MH_BUF_INIT;
	mh_mapihttp_push_line(&b, MH_MAPIHTTP_EV_META);
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	mh_mapihttp_push_meta(&b, "X Bad", "v");
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	mh_mapihttp_push_meta(&b, "X-Good", "line\r\nbreak");
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	mh_mapihttp_push_meta(&b, "", "v");
	assert_int_equal(mh_buf_status(&b), MAPI_E_INVALID_PARAMETER);
	mh_buf_free(&b);
	mh_mapihttp_push_meta_u32(&b, "X-ElapsedTime", 4294967295u);
	assert_int_equal(mh_buf_status(&b), S_OK);
	assert_int_equal(b.len, strlen("X-ElapsedTime: 4294967295\r\n"));
	assert_memory_equal(b.data, "X-ElapsedTime: 4294967295\r\n", b.len);
	mh_buf_free(&b);
}

/* ---- X-ResponseCode ----------------------------------------------------------------- */

static void test_mapihttp__response_codes(void **state)
{
	(void)state;
	assert_string_equal(mh_mapihttp_response_code_name(0), "Success");
	assert_string_equal(mh_mapihttp_response_code_name(10), "Context Not Found");
	assert_string_equal(mh_mapihttp_response_code_name(15), "Invalid Sequence");
	assert_string_equal(mh_mapihttp_response_code_name(18), "Endpoint Shutting Down");
	assert_string_equal(mh_mapihttp_response_code_name(19), "Unknown");
	assert_int_equal(mh_mapihttp_response_code_status(0), S_OK);
	for (uint32_t c = 1; c < 40; c++)
		assert_true(MH_FAILED(mh_mapihttp_response_code_status(c)));
	assert_int_equal(mh_mapihttp_response_code_status(MH_RESPONSE_CONTEXT_NOT_FOUND),
	                 MAPI_E_END_OF_SESSION);
	assert_int_equal(mh_mapihttp_response_code_status(MH_RESPONSE_INVALID_CONTEXT_COOKIE),
	                 MAPI_E_END_OF_SESSION);
	assert_int_equal(mh_mapihttp_response_code_status(MH_RESPONSE_MISSING_COOKIE),
	                 MAPI_E_END_OF_SESSION);
	assert_int_equal(mh_mapihttp_response_code_status(MH_RESPONSE_TOO_LARGE), MAPI_E_TOO_BIG);
	assert_int_equal(mh_mapihttp_response_code_status(MH_RESPONSE_NO_PRIVILEGE),
	                 MAPI_E_NO_ACCESS);
	assert_int_equal(mh_mapihttp_response_code_status(99), MAPI_E_CALL_FAILED);
}

/* ---- request headers ---------------------------------------------------------------- */

static const GUID rid_guid = {
    0xE2EA6C1Cu, 0xE61B, 0x49E9, {0x9C, 0xFB, 0x38, 0x18, 0x4F, 0x90, 0x75, 0x52}};
static const GUID ci_guid = {
    0x2EF33C39u, 0x49C8, 0x421C, {0xB8, 0x76, 0xCD, 0xF7, 0xF2, 0xAC, 0x3A, 0xA0}};

static void test_mapihttp__request_headers(void **state)
{
	(void)state;
	mh_mapihttp_request_info in = MH_MAPIHTTP_REQUEST_INFO_INIT, got;
	in.type = MH_RT_EXECUTE;
	in.request_guid = rid_guid;
	in.request_counter = 7;
	in.client_guid = ci_guid;
	in.client_counter = 1;
	mh_mapihttp_request_headers hs;
	assert_int_equal(mh_mapihttp_request_headers_build(&hs, &in), S_OK);
	assert_int_equal(hs.n, 6);
	assert_string_equal(hs.h[2].name, "X-RequestType");
	assert_string_equal(hs.h[2].value, "Execute");
	/* the wire.md example values */
	assert_string_equal(hs.h[3].value, "{E2EA6C1C-E61B-49E9-9CFB-38184F907552}:7");
	assert_string_equal(hs.h[4].value, "{2EF33C39-49C8-421C-B876-CDF7F2AC3AA0}:1");
	assert_string_equal(hs.h[5].value, MH_MAPIHTTP_CLIENT_APPLICATION);
	assert_string_equal(hs.h[0].value, "application/mapi-http");
	uint32_t code = 99;
	assert_int_equal(
	    mh_mapihttp_request_headers_check(hs.h, hs.n, MH_ENDPOINT_EMSMDB, &got, &code), S_OK);
	assert_int_equal(code, 0);
	assert_int_equal(got.type, MH_RT_EXECUTE);
	assert_int_equal(got.request_counter, 7);
	assert_memory_equal(&got.request_guid, &rid_guid, sizeof(GUID));
	assert_memory_equal(&got.client_guid, &ci_guid, sizeof(GUID));
	assert_int_equal(got.client_counter, 1);
	assert_string_equal(got.client_application, MH_MAPIHTTP_CLIENT_APPLICATION);

	/* Execute is not an NSPI request */
	assert_int_equal(
	    mh_mapihttp_request_headers_check(hs.h, hs.n, MH_ENDPOINT_NSPI, NULL, &code),
	    MAPI_E_NO_SUPPORT);
	assert_int_equal(code, MH_RESPONSE_INVALID_REQUEST_TYPE);
	assert_non_null(strstr(mh_error_last()->message, "not served by the address book"));

	/* every request type round-trips through its name, case-insensitively */
	for (int t = 1; t < MH_RT_COUNT_; t++) {
		const char *name = mh_mapihttp_request_type_name((mh_mapihttp_request_type)t);
		assert_non_null(name);
		assert_int_equal(mh_mapihttp_request_type_parse(name, strlen(name)), t);
		char lower[64];
		size_t k;
		for (k = 0; name[k] != '\0'; k++)
			lower[k] =
			    (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] + 32 : name[k]);
		assert_int_equal(mh_mapihttp_request_type_parse(lower, k), t);
		assert_true(mh_mapihttp_request_type_endpoints((mh_mapihttp_request_type)t) != 0);
	}
	assert_int_equal(mh_mapihttp_request_type_parse("Foo", 3), MH_RT_UNKNOWN);
	assert_null(mh_mapihttp_request_type_name(MH_RT_UNKNOWN));
	assert_int_equal(mh_mapihttp_request_type_endpoints(MH_RT_PING),
	                 MH_ENDPOINT_EMSMDB | MH_ENDPOINT_NSPI);

	/* renewing the type and the counter gives what a fresh build gives */
	const uint32_t counters[] = {0, 9, 10, 123456, UINT32_MAX, 8};
	for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]); k++) {
		mh_mapihttp_request_headers fresh;
		in.type = k % 2 ? MH_RT_PING : MH_RT_CONNECT;
		in.request_counter = counters[k];
		assert_int_equal(mh_mapihttp_request_headers_renew(&hs, in.type, counters[k]),
		                 S_OK);
		assert_int_equal(mh_mapihttp_request_headers_build(&fresh, &in), S_OK);
		for (size_t i = 0; i < fresh.n; i++)
			assert_string_equal(hs.h[i].value, fresh.h[i].value);
	}
	assert_int_equal(mh_mapihttp_request_headers_renew(&hs, MH_RT_COUNT_, 1),
	                 MAPI_E_INVALID_PARAMETER);

	/* build errors */
	in.type = MH_RT_COUNT_;
	assert_int_equal(mh_mapihttp_request_headers_build(&hs, &in), MAPI_E_INVALID_PARAMETER);
	in.type = MH_RT_PING;
	in.client_application = "Outlook\n";
	assert_int_equal(mh_mapihttp_request_headers_build(&hs, &in), MAPI_E_INVALID_PARAMETER);
	in.client_application = "";
	assert_int_equal(mh_mapihttp_request_headers_build(&hs, &in), MAPI_E_INVALID_PARAMETER);
	in.client_application = NULL;
	in.version = 0;
	assert_int_equal(mh_mapihttp_request_headers_build(&hs, &in), MAPI_E_INVALID_PARAMETER);
}

static void test_mapihttp__request_header_faults(void **state)
{
	(void)state;
	mh_http_header h[8] = {
	    {"content-type", "Application/MAPI-HTTP; charset=binary"},
	    {"x-requesttype", "bind"},
	    {"X-REQUESTID", "e2ea6c1c-e61b-49e9-9cfb-38184f907552:4294967295"},
	    {"X-ClientInfo", "{2EF33C39-49C8-421C-B876-CDF7F2AC3AA0}:0"},
	    {"User-Agent", "anything"},
	};
	uint32_t code;
	mh_mapihttp_request_info got;
	assert_int_equal(mh_mapihttp_request_headers_check(h, 5, MH_ENDPOINT_NSPI, &got, &code),
	                 S_OK);
	assert_int_equal(got.type, MH_RT_BIND);
	assert_int_equal(got.request_counter, 4294967295u);
	assert_memory_equal(&got.request_guid, &rid_guid, sizeof(GUID));
	assert_null(got.client_application);

	struct {
		int idx;
		const char *name, *value;
		uint32_t code;
		const char *needle;
	} cases[] = {
	    {0, "Content-Type", "text/html", 4, "Content-Type \"text/html\""},
	    {0, "X-Ignored", "", 7, "no Content-Type header"},
	    {1, "X-RequestType", "Execute", 5, "not served by the address book"},
	    {1, "X-RequestType", "Foo", 5, "\"Foo\" is not a MAPI/HTTP request type"},
	    {1, "X-Ignored", "", 7, "no X-RequestType header"},
	    {2, "X-RequestId", "{E2EA6C1C-E61B-49E9-9CFB-38184F907552}", 4, "X-RequestId"},
	    {2, "X-RequestId", "{E2EA6C1C-E61B-49E9-9CFB-38184F907552:1", 4, "X-RequestId"},
	    {2, "X-RequestId", "E2EA6C1C-E61B-49E9-9CFB-38184F90755:1", 4, "X-RequestId"},
	    {2, "X-RequestId", "E2EA6C1C-E61B-49E9-9CFB-38184F907552:4294967296", 4, "X-RequestId"},
	    {2, "X-RequestId", "E2EA6C1C-E61B-49E9-9CFB-38184F907552:-1", 4, "X-RequestId"},
	    {3, "X-ClientInfo", "{2EF33C39-49C8-421C-B876-CDF7F2AC3AAG}:1", 4, "X-ClientInfo"},
	    {3, "X-Ignored", "", 7, "no X-ClientInfo header"},
	    {4, "X-ClientApplication", "", 4, "X-ClientApplication"},
	    {4, "X-RequestType", "Bind", 4, "2 X-RequestType headers"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mh_http_header t[5];
		memcpy(t, h, sizeof(t));
		t[cases[i].idx].name = cases[i].name;
		t[cases[i].idx].value = cases[i].value;
		code = 0;
		mh_status st =
		    mh_mapihttp_request_headers_check(t, 5, MH_ENDPOINT_NSPI, NULL, &code);
		assert_int_equal(code, cases[i].code);
		assert_int_equal(st, mh_mapihttp_response_code_status(cases[i].code));
		const mh_error *e = mh_error_last();
		if (strstr(e->message, cases[i].needle) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e->message, cases[i].needle);
	}
}

/* The headers in the captures' comments: the spec's verdict on each. */
static void test_mapihttp__gromox_request_headers(void **state)
{
	(void)state;
	char **names;
	long count = mh_vector_list(GROMOX_DIR, &names);
	int checked = 0;
	for (long i = 0; i < count; i++) {
		if (!mh_vector_has_suffix(names[i], ".req"))
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s.hex", GROMOX_DIR, names[i]);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		char line[1024], store[16][1024];
		mh_http_header h[16];
		size_t n = 0;
		unsigned endpoint = MH_ENDPOINT_EMSMDB;
		const char *rid = NULL;
		bool in_headers = false;
		while (fgets(line, sizeof(line), f) != NULL && line[0] == '#') {
			line[strcspn(line, "\r\n")] = '\0';
			if (strstr(line, "request body of: POST ") != NULL) {
				in_headers = true;
				if (strstr(line, "/mapi/nspi/") != NULL)
					endpoint = MH_ENDPOINT_NSPI;
				continue;
			}
			char *colon = strstr(line, ": ");
			if (!in_headers || colon == NULL || strncmp(line, "# length", 8) == 0 ||
			    n == 16)
				continue;
			snprintf(store[n], sizeof(store[n]), "%s", line + 2);
			store[n][colon - line - 2] = '\0';
			h[n].name = store[n];
			h[n].value = store[n] + (colon - line - 2) + 2;
			if (strcmp(h[n].name, "X-RequestId") == 0)
				rid = h[n].value;
			n++;
		}
		fclose(f);
		uint32_t code = 99, want = 0;
		if (strstr(names[i], "missing_clientinfo") ||
		    strstr(names[i], "missing_requesttype"))
			want = MH_RESPONSE_MISSING_HEADER;
		else if (strcmp(names[i], "error_execute_unknown_requesttype.req") == 0)
			want = MH_RESPONSE_INVALID_REQUEST_TYPE;
		mh_mapihttp_request_info got;
		mh_status st = mh_mapihttp_request_headers_check(h, n, endpoint, &got, &code);
		if (code != want)
			fail_msg("%s: X-ResponseCode %u, expected %u (%s)", names[i], code, want,
			         st != S_OK ? mh_error_last()->message : "");
		if (want == 0) {
			/* the id re-formats to the captured text */
			char again[MH_COUNTED_GUID_MAX];
			assert_non_null(rid);
			mh_mapihttp_counted_guid_format(again, &got.request_guid,
			                                got.request_counter);
			assert_string_equal(again, rid);
			assert_string_equal(got.client_application, "Outlook/15.0.4815.1002");
		}
		checked++;
	}
	mh_vector_list_free(names, count);
	assert_true(checked >= 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mapihttp__gromox_streams),
	    cmocka_unit_test(test_mapihttp__chunked_vector),
	    cmocka_unit_test(test_mapihttp__malformed),
	    cmocka_unit_test(test_mapihttp__tolerated),
	    cmocka_unit_test(test_mapihttp__meta_values),
	    cmocka_unit_test(test_mapihttp__random_streams),
	    cmocka_unit_test(test_mapihttp__writer_errors),
	    cmocka_unit_test(test_mapihttp__response_codes),
	    cmocka_unit_test(test_mapihttp__request_headers),
	    cmocka_unit_test(test_mapihttp__request_header_faults),
	    cmocka_unit_test(test_mapihttp__gromox_request_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
