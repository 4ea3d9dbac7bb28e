/*
 * One MAPI/HTTP session context, client side: request headers, the cookie jar, and the
 * response read as it arrives (stream parsed incrementally, HTTP status and X-ResponseCode
 * mapped to a MAPI status).
 */
#include "transport/mapi_ctx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "util/buf.h"
#include "util/cursor.h"
#include "util/diag.h"

#define DIAG_MAX        1024
#define START_TIME_MAX  64
#define SERVER_APP_MAX  255
#define MAX_COOKIES_DEF 32
#define MAX_COOKIE_DEF  4096

typedef struct cookie {
	char *name;
	char *value;
} cookie;

enum { MODE_NONE, MODE_STREAM, MODE_TEXT };

/* What one request collects while its answer arrives. */
typedef struct exchange {
	mh_mapihttp_request_type type;
	mh_mapi_ctx_done done;
	void *payload;
	uint64_t tid;
	char request_id[MH_COUNTED_GUID_MAX];
	long http_status;
	int mode;
	mh_status head_status; /* MODE_TEXT: the status the headers decided */
	bool have_rc;
	uint32_t rc;
	uint32_t expiration, pending_period, retry_after;
	mh_bearer_refusal bearer; /* of a 401 */
	char *server_app;
	mh_buf body;
	char start_time[START_TIME_MAX + 1];
	bool have_start_time;
	char diag[DIAG_MAX + 1];
	size_t diag_len;
} exchange;

struct mh_mapi_ctx {
	mh_loop *loop;
	char *url;
	unsigned endpoint;
	mh_transport_auth auth;
	GUID request_guid;
	uint32_t request_counter;
	GUID client_guid;
	uint32_t client_counter;
	char *client_app;
	uint32_t expiration_req;
	uint32_t connect_timeout, total_timeout;
	size_t max_body, max_cookies, max_cookie_bytes;
	cookie *jar;
	size_t n_jar;
	uint32_t pending_period, expiration;
	mh_mapi_ctx_stats stats;
	bool active;
	exchange x;
	mh_mapihttp_stream stream;
	/*
	 * The MAPI/HTTP headers as the codec built them for this X-RequestId GUID and
	 * X-ClientInfo (restart() changes both); later requests renew them.
	 */
	bool have_hb;
	mh_mapihttp_request_headers hb;
};

/* ---- parsing and utilities ------------------------------------------------------------------- */

static void wipe_free(char *s)
{
	if (s == NULL)
		return;
	for (volatile char *p = s; *p != '\0'; p++)
		*p = 0;
	free(s);
}

mh_status mh_mapi_random_guid(GUID *g)
{
	uint8_t b[16];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return mh_error_set(MAPI_E_CALL_FAILED, -1,
			                    "no random bytes for a GUID (getrandom)");
		got += (size_t)n;
	}
	g->Data1 = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	g->Data2 = (uint16_t)(b[4] << 8 | b[5]);
	/* RFC 9562 version 4, variant 10 */
	g->Data3 = (uint16_t)(((b[6] << 8 | b[7]) & 0x0fff) | 0x4000);
	memcpy(g->Data4, b + 8, 8);
	g->Data4[0] = (uint8_t)((g->Data4[0] & 0x3f) | 0x80);
	return S_OK;
}

static bool is_tchar(uint8_t ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool is_space(uint8_t ch)
{
	return ch == ' ' || ch == '\t';
}

/* A header value that is a decimal number fitting 32 bits, spaces around allowed. */
static bool parse_u32(const char *s, uint32_t *out)
{
	mh_cursor cur;
	uint8_t ch = 0;
	uint64_t v = 0;
	size_t digits = 0;
	bool trailing = false;
	mh_cursor_init(&cur, s, strlen(s), MAPI_E_CORRUPT_DATA);
	while (mh_cursor_remaining(&cur) > 0) {
		(void)mh_cursor_u8(&cur, &ch, "header value");
		if (is_space(ch)) {
			trailing = digits > 0;
			continue;
		}
		if (ch < '0' || ch > '9' || trailing)
			return false;
		v = v * 10 + (uint64_t)(ch - '0');
		if (v > UINT32_MAX)
			return false;
		digits++;
	}
	if (digits == 0)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* ---- WWW-Authenticate ------------------------------------------------------------------- */

#define AUTH_PARAM_MAX 128 /* bytes of a parameter value kept; the rest is read and dropped */
#define WWW_AUTH       "WWW-Authenticate"

/* The next byte without moving, or -1 at the end. */
static int peek(const mh_cursor *c)
{
	mh_cursor t = *c;
	uint8_t ch;
	if (mh_cursor_remaining(&t) == 0 || mh_cursor_u8(&t, &ch, WWW_AUTH) != S_OK)
		return -1;
	return ch;
}

static void skip_spaces(mh_cursor *c)
{
	int ch;
	while ((ch = peek(c)) >= 0 && is_space((uint8_t)ch))
		(void)mh_cursor_skip(c, 1, WWW_AUTH);
}

/* A token (RFC 9110 5.6.2) at c into out (cut at cap - 1 bytes); its length, 0 if none. */
static size_t read_token(mh_cursor *c, char *out, size_t cap)
{
	size_t n = 0;
	int ch;
	while ((ch = peek(c)) >= 0 && is_tchar((uint8_t)ch)) {
		(void)mh_cursor_skip(c, 1, WWW_AUTH);
		if (n + 1 < cap)
			out[n] = (char)ch;
		n++;
	}
	out[n < cap ? n : cap - 1] = '\0';
	return n;
}

/* A quoted-string (RFC 9110 5.6.4) at c, its opening quote already read, into out. */
static void read_quoted(mh_cursor *c, char *out, size_t cap)
{
	size_t n = 0;
	uint8_t ch;
	while (mh_cursor_remaining(c) > 0 && mh_cursor_u8(c, &ch, WWW_AUTH) == S_OK && ch != '"') {
		if (ch == '\\') {
			if (mh_cursor_remaining(c) == 0)
				break;
			(void)mh_cursor_u8(c, &ch, WWW_AUTH);
		}
		if (n + 1 < cap)
			out[n++] = (char)ch;
	}
	out[n] = '\0';
}

/* Case-insensitive search of an ASCII needle. */
static bool mentions(const char *hay, const char *needle)
{
	size_t nl = strlen(needle);
	for (; *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, nl) == 0)
			return true;
	return false;
}

/*
 * One header value: challenges ("Scheme" then auth-params or a token68) separated by commas.
 * A token not followed by '=' starts a challenge; "name=value" is a parameter of the current
 * one. Bytes that fit neither are skipped one at a time, so any input ends.
 */
static mh_bearer_refusal bearer_refusal_in(const char *v)
{
	mh_cursor c;
	bool bearer = false, invalid = false, expired = false;
	mh_bearer_refusal found = MH_BEARER_REFUSAL_NONE;
	mh_cursor_init(&c, v, strlen(v), MAPI_E_CORRUPT_DATA);
	for (int ch; (ch = peek(&c)) >= 0;) {
		char name[32], value[AUTH_PARAM_MAX];
		if (is_space((uint8_t)ch) || ch == ',' || !is_tchar((uint8_t)ch)) {
			(void)mh_cursor_skip(&c, 1, WWW_AUTH);
			continue;
		}
		(void)read_token(&c, name, sizeof(name));
		skip_spaces(&c);
		if (peek(&c) != '=') {
			/* A new challenge: the previous one is judged. */
			if (bearer && invalid)
				found =
				    expired ? MH_BEARER_REFUSAL_EXPIRED : MH_BEARER_REFUSAL_INVALID;
			bearer = strcasecmp(name, "Bearer") == 0;
			invalid = expired = false;
			continue;
		}
		while (peek(&c) == '=') /* a token68's padding too */
			(void)mh_cursor_skip(&c, 1, WWW_AUTH);
		skip_spaces(&c);
		if (peek(&c) == '"') {
			(void)mh_cursor_skip(&c, 1, WWW_AUTH);
			read_quoted(&c, value, sizeof(value));
		} else {
			(void)read_token(&c, value, sizeof(value));
		}
		if (!bearer)
			continue;
		if (strcasecmp(name, "error") == 0)
			invalid = strcmp(value, "invalid_token") == 0;
		else if (strcasecmp(name, "error_description") == 0)
			expired = mentions(value, "expired");
	}
	if (bearer && invalid)
		found = expired ? MH_BEARER_REFUSAL_EXPIRED : MH_BEARER_REFUSAL_INVALID;
	return found;
}

mh_bearer_refusal mh_bearer_refusal_of(const mh_transport_header *h, size_t n)
{
	mh_bearer_refusal worst = MH_BEARER_REFUSAL_NONE;
	for (size_t i = 0; i < n; i++) {
		if (h[i].name == NULL || h[i].value == NULL ||
		    strcasecmp(h[i].name, "WWW-Authenticate") != 0)
			continue;
		mh_bearer_refusal r = bearer_refusal_in(h[i].value);
		if (r > worst)
			worst = r;
	}
	return worst;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool read_num(mh_cursor *c, unsigned digits, unsigned *out)
{
	unsigned v = 0;
	uint8_t ch;
	for (unsigned i = 0; i < digits; i++) {
		if (mh_cursor_u8(c, &ch, "HTTP-date") != S_OK || ch < '0' || ch > '9')
			return false;
		v = v * 10 + (unsigned)(ch - '0');
	}
	*out = v;
	return true;
}

static bool read_lit(mh_cursor *c, const char *lit)
{
	uint8_t ch;
	for (; *lit != '\0'; lit++)
		if (mh_cursor_u8(c, &ch, "HTTP-date") != S_OK || ch != (uint8_t)*lit)
			return false;
	return true;
}

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 5.6.7) as Unix seconds. */
static bool parse_http_date(const char *s, int64_t *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	mh_cursor c;
	const uint8_t *p;
	unsigned day, year, hh, mm, ss, mon = 0;
	mh_cursor_init(&c, s, strlen(s), MAPI_E_CORRUPT_DATA);
	if (mh_cursor_skip(&c, 3, "day name") != S_OK || !read_lit(&c, ", ") ||
	    !read_num(&c, 2, &day) || !read_lit(&c, " ") ||
	    mh_cursor_bytes(&c, 3, &p, "month") != S_OK)
		return false;
	for (unsigned i = 0; i < 12; i++)
		if (memcmp(months + 3 * i, p, 3) == 0)
			mon = i + 1;
	if (mon == 0 || !read_lit(&c, " ") || !read_num(&c, 4, &year) || !read_lit(&c, " ") ||
	    !read_num(&c, 2, &hh) || !read_lit(&c, ":") || !read_num(&c, 2, &mm) ||
	    !read_lit(&c, ":") || !read_num(&c, 2, &ss) || !read_lit(&c, " GMT") ||
	    mh_cursor_remaining(&c) != 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return false;
	*out = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
	return true;
}

/*
 * Retry-After: delay-seconds, or an HTTP-date taken relative to the answer's Date (so that
 * the two clocks need not agree), else to our clock.
 */
static uint32_t retry_after_ms(const char *value, const char *date)
{
	uint32_t secs;
	int64_t when, now;
	if (value == NULL)
		return 0;
	if (parse_u32(value, &secs))
		return secs > UINT32_MAX / 1000 ? UINT32_MAX : secs * 1000;
	if (!parse_http_date(value, &when))
		return 0;
	if (date == NULL || !parse_http_date(date, &now))
		now = (int64_t)time(NULL);
	if (when <= now)
		return 0;
	return when - now > UINT32_MAX / 1000 ? UINT32_MAX : (uint32_t)(when - now) * 1000;
}

/* ---- the cookie jar --------------------------------------------------------------------- */

static void jar_clear(mh_mapi_ctx *c)
{
	for (size_t i = 0; i < c->n_jar; i++) {
		wipe_free(c->jar[i].name);
		wipe_free(c->jar[i].value);
	}
	free(c->jar);
	c->jar = NULL;
	c->n_jar = 0;
}

static size_t jar_find(const mh_mapi_ctx *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->n_jar; i++)
		if (strlen(c->jar[i].name) == len && memcmp(c->jar[i].name, name, len) == 0)
			return i;
	return SIZE_MAX;
}

static void jar_remove(mh_mapi_ctx *c, size_t i)
{
	wipe_free(c->jar[i].name);
	wipe_free(c->jar[i].value);
	memmove(&c->jar[i], &c->jar[i + 1], (c->n_jar - i - 1) * sizeof(*c->jar));
	c->n_jar--;
}

static char *dupn(const void *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s != NULL) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* True when the attribute list after the value (";"-separated) says Max-Age <= 0. */
static bool cookie_expired(mh_cursor *cur)
{
	uint8_t ch;
	while (mh_cursor_remaining(cur) > 0) {
		char attr[16];
		size_t n = 0;
		bool in_name = true, negative = false, zero = true, digits = false, max_age;
		while (mh_cursor_remaining(cur) > 0 &&
		       mh_cursor_u8(cur, &ch, "Set-Cookie attribute") == S_OK && is_space(ch))
			;
		if (mh_cursor_remaining(cur) == 0 && (ch == ';' || is_space(ch)))
			return false;
		for (;;) {
			if (ch == ';')
				break;
			if (in_name && ch == '=') {
				in_name = false;
				attr[n] = '\0';
			} else if (in_name) {
				if (n < sizeof(attr) - 1)
					attr[n++] = (char)ch;
			} else if (ch == '-' && !digits) {
				negative = true;
			} else if (ch >= '0' && ch <= '9') {
				digits = true;
				zero = zero && ch == '0';
			}
			if (mh_cursor_remaining(cur) == 0 ||
			    mh_cursor_u8(cur, &ch, "Set-Cookie attribute") != S_OK)
				break;
		}
		if (in_name)
			attr[n] = '\0';
		while (n > 0 && is_space((uint8_t)attr[n - 1]))
			attr[--n] = '\0';
		max_age = strcasecmp(attr, "Max-Age") == 0;
		if (max_age && !in_name && digits && (negative || zero))
			return true;
	}
	return false;
}

/*
 * One Set-Cookie (RFC 6265 5.2): "name=value" then attributes. A malformed one is ignored,
 * as a user agent does; Max-Age <= 0 deletes the cookie.
 */
static mh_status jar_set(mh_mapi_ctx *c, const char *header)
{
	mh_cursor cur;
	uint8_t ch = 0;
	size_t name_start = SIZE_MAX, name_end = 0, value_start = SIZE_MAX, value_end = 0;
	size_t len = strlen(header);
	const uint8_t *all;
	mh_cursor_init(&cur, header, len, MAPI_E_CORRUPT_DATA);
	if (mh_cursor_bytes(&cur, len, &all, "Set-Cookie") != S_OK)
		return S_OK;
	mh_cursor_init(&cur, header, len, MAPI_E_CORRUPT_DATA);
	/* name: up to '=' */
	for (;;) {
		if (mh_cursor_remaining(&cur) == 0)
			return S_OK; /* no '=': ignored */
		size_t at = mh_cursor_offset(&cur);
		(void)mh_cursor_u8(&cur, &ch, "Set-Cookie name");
		if (ch == '=')
			break;
		if (ch == ';')
			return S_OK;
		if (is_space(ch))
			continue;
		if (!is_tchar(ch) || (name_start != SIZE_MAX && name_end != at))
			return S_OK; /* not a token, or spaces inside it */
		if (name_start == SIZE_MAX)
			name_start = at;
		name_end = at + 1;
	}
	if (name_start == SIZE_MAX)
		return S_OK;
	/* value: up to ';', spaces around dropped */
	while (mh_cursor_remaining(&cur) > 0) {
		size_t at = mh_cursor_offset(&cur);
		(void)mh_cursor_u8(&cur, &ch, "Set-Cookie value");
		if (ch == ';')
			break;
		if (ch < 0x20 || ch == 0x7f)
			return S_OK;
		if (is_space(ch))
			continue;
		if (value_start == SIZE_MAX)
			value_start = at;
		value_end = at + 1;
	}
	if (value_start == SIZE_MAX)
		value_start = value_end = name_end;
	size_t nlen = name_end - name_start, vlen = value_end - value_start;
	bool expired = cookie_expired(&cur);
	size_t i = jar_find(c, (const char *)all + name_start, nlen);
	if (expired) {
		if (i != SIZE_MAX)
			jar_remove(c, i);
		return S_OK;
	}
	if (nlen + vlen > c->max_cookie_bytes)
		return mh_error_set(
		    MAPI_E_TOO_BIG, -1,
		    "Set-Cookie: a cookie of %zu bytes, more than %zu (max_cookie_bytes)",
		    nlen + vlen, c->max_cookie_bytes);
	char *value = dupn(all + value_start, vlen);
	if (value == NULL)
		return mh_error_oom();
	if (i != SIZE_MAX) {
		wipe_free(c->jar[i].value);
		c->jar[i].value = value;
		return S_OK;
	}
	if (c->n_jar >= c->max_cookies) {
		wipe_free(value);
		return mh_error_set(MAPI_E_TOO_BIG, -1,
		                    "Set-Cookie: more than %zu cookies (max_cookies)",
		                    c->max_cookies);
	}
	char *name = dupn(all + name_start, nlen);
	cookie *jar = name == NULL ? NULL : realloc(c->jar, (c->n_jar + 1) * sizeof(*jar));
	if (jar == NULL) {
		free(name);
		wipe_free(value);
		return mh_error_oom();
	}
	c->jar = jar;
	c->jar[c->n_jar].name = name;
	c->jar[c->n_jar].value = value;
	c->n_jar++;
	return S_OK;
}

/* "a=1; b=2" of the whole jar, NUL-terminated, in b. */
static void jar_header(const mh_mapi_ctx *c, mh_buf *b)
{
	for (size_t i = 0; i < c->n_jar; i++) {
		if (i > 0)
			mh_buf_put(b, "; ", 2);
		mh_buf_put(b, c->jar[i].name, strlen(c->jar[i].name));
		mh_buf_put(b, "=", 1);
		mh_buf_put(b, c->jar[i].value, strlen(c->jar[i].value));
	}
	mh_buf_u8(b, 0);
}

/* ---- the context ------------------------------------------------------------------------ */

/* Finds needle in s ignoring case; SIZE_MAX when absent. */
static size_t find_nocase(const char *s, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; s[i] != '\0'; i++)
		if (strncasecmp(s + i, needle, n) == 0)
			return i;
	return SIZE_MAX;
}

static unsigned endpoint_of(const char *url)
{
	size_t scheme;
	if (strncasecmp(url, "https://", 8) == 0)
		scheme = 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		scheme = 7;
	else
		return 0;
	const char *path = strchr(url + scheme, '/');
	if (path == NULL || path == url + scheme)
		return 0;
	unsigned ep = 0;
	if (strncasecmp(path, "/mapi/emsmdb/?", 14) == 0)
		ep = MH_ENDPOINT_EMSMDB;
	else if (strncasecmp(path, "/mapi/nspi/?", 12) == 0)
		ep = MH_ENDPOINT_NSPI;
	return ep != 0 && find_nocase(path, "MailboxId=") != SIZE_MAX ? ep : 0;
}

static char *dup_opt(const char *s, bool *ok)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*ok = false;
	return d;
}

mh_status mh_mapi_ctx_new(mh_mapi_ctx **out, mh_loop *loop, const mh_mapi_ctx_options *o)
{
	if (out == NULL || loop == NULL || o == NULL || o->version != 1)
		return mh_error_set(
		    MAPI_E_INVALID_PARAMETER, -1,
		    "mh_mapi_ctx_new: out, loop and options (version 1) are required");
	*out = NULL;
	unsigned ep = o->url != NULL ? endpoint_of(o->url) : 0;
	if (ep == 0)
		return mh_error_set(
		    MAPI_E_INVALID_PARAMETER, -1,
		    "mh_mapi_ctx_new: the URL must be http(s)://host/mapi/emsmdb/"
		    "?MailboxId=... or .../mapi/nspi/?MailboxId=... (from Autodiscover)");
	/* the codec judges the application string; build once to check it */
	mh_mapihttp_request_info info = MH_MAPIHTTP_REQUEST_INFO_INIT;
	mh_mapihttp_request_headers hb;
	info.type = ep == MH_ENDPOINT_NSPI ? MH_RT_BIND : MH_RT_CONNECT;
	info.client_application = o->client_application;
	mh_status st = mh_mapihttp_request_headers_build(&hb, &info);
	if (st != S_OK)
		return mh_error_prefix(st, "mh_mapi_ctx_new");
	mh_mapi_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return mh_error_oom();
	bool ok = true;
	c->loop = loop;
	c->endpoint = ep;
	c->url = dup_opt(o->url, &ok);
	c->auth.scheme = o->auth.scheme;
	c->auth.user = dup_opt(o->auth.user, &ok);
	c->auth.secret = dup_opt(o->auth.secret, &ok);
	c->client_app = dup_opt(o->client_application, &ok);
	if (!ok) {
		mh_mapi_ctx_free(c);
		return mh_error_oom();
	}
	st = mh_mapi_random_guid(&c->request_guid);
	if (st != S_OK) {
		mh_mapi_ctx_free(c);
		return st;
	}
	c->client_guid = o->client_guid;
	c->client_counter = o->client_counter;
	c->expiration_req = o->expiration_ms;
	c->connect_timeout = o->connect_timeout_ms;
	c->total_timeout = o->total_timeout_ms;
	c->max_body = o->max_body ? o->max_body : MH_MAPI_CTX_MAX_BODY_DEFAULT;
	c->max_cookies = o->max_cookies ? o->max_cookies : MAX_COOKIES_DEF;
	c->max_cookie_bytes = o->max_cookie_bytes ? o->max_cookie_bytes : MAX_COOKIE_DEF;
	c->x.body = (mh_buf)MH_BUF_INIT;
	*out = c;
	return S_OK;
}

static void exchange_reset(exchange *x)
{
	mh_buf_free(&x->body);
	free(x->server_app);
	memset(x, 0, sizeof(*x));
	x->body = (mh_buf)MH_BUF_INIT;
}

void mh_mapi_ctx_cancel(mh_mapi_ctx *c)
{
	if (c == NULL || !c->active)
		return;
	mh_transport *t = mh_loop_transport(c->loop);
	t->ops->cancel(t->self, c->x.tid);
	c->active = false;
	exchange_reset(&c->x);
}

void mh_mapi_ctx_free(mh_mapi_ctx *c)
{
	if (c == NULL)
		return;
	mh_mapi_ctx_cancel(c);
	exchange_reset(&c->x);
	jar_clear(c);
	free(c->url);
	free((void *)(uintptr_t)c->auth.user);
	wipe_free((char *)(uintptr_t)c->auth.secret);
	free(c->client_app);
	free(c);
}

bool mh_mapi_ctx_busy(const mh_mapi_ctx *c)
{
	return c != NULL && c->active;
}

void mh_mapi_ctx_reset_cookies(mh_mapi_ctx *c)
{
	if (c != NULL)
		jar_clear(c);
}

mh_status mh_mapi_ctx_restart(mh_mapi_ctx *c, bool keep_cookies, uint32_t client_counter)
{
	if (c == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_mapi_ctx_restart: no context");
	if (c->active)
		return mh_error_set(
		    MAPI_E_BUSY, -1,
		    "mh_mapi_ctx_restart: a request is still running on the context");
	GUID g;
	mh_status st = mh_mapi_random_guid(&g);
	if (st != S_OK)
		return st;
	c->request_guid = g;
	c->request_counter = 0;
	c->client_counter = client_counter;
	c->have_hb = false;
	if (!keep_cookies)
		jar_clear(c);
	return S_OK;
}

const char *mh_mapi_ctx_cookie(const mh_mapi_ctx *c, const char *name)
{
	if (c == NULL || name == NULL)
		return NULL;
	size_t i = jar_find(c, name, strlen(name));
	return i == SIZE_MAX ? NULL : c->jar[i].value;
}

size_t mh_mapi_ctx_cookie_count(const mh_mapi_ctx *c)
{
	return c != NULL ? c->n_jar : 0;
}

uint32_t mh_mapi_ctx_pending_period(const mh_mapi_ctx *c)
{
	return c->pending_period;
}

uint32_t mh_mapi_ctx_expiration(const mh_mapi_ctx *c)
{
	return c->expiration;
}

void mh_mapi_ctx_stats_get(const mh_mapi_ctx *c, mh_mapi_ctx_stats *out)
{
	*out = c->stats;
}

/* ---- the answer ------------------------------------------------------------------------- */

static mh_status http_status_map(long http_status)
{
	switch (http_status) {
	case 401:
		return MAPI_E_LOGON_FAILED;
	case 403:
		return MAPI_E_NO_ACCESS;
	case 404:
		return MAPI_E_NOT_FOUND;
	case 413:
		return MAPI_E_TOO_BIG;
	case 429:
	case 503:
		return MAPI_E_BUSY;
	default:
		return MAPI_E_CALL_FAILED;
	}
}

/* The headers an answer is judged by (the first of each name counts). */
enum {
	HX_PENDING_PERIOD,
	HX_EXPIRATION,
	HX_SERVER_APP,
	HX_RESPONSE_CODE,
	HX_RETRY_AFTER,
	HX_DATE,
	HX_COUNT
};
static const char *const judged_names[HX_COUNT] = {"X-PendingPeriod",     "X-ExpirationInfo",
                                                   "X-ServerApplication", "X-ResponseCode",
                                                   "Retry-After",         "Date"};

/* One pass over the headers: v[] gets the first value of each judged name; true when a
 * Set-Cookie is among them. */
static bool judged_headers(const mh_transport_header *h, size_t n, const char *v[HX_COUNT])
{
	bool cookies = false;
	for (size_t k = 0; k < HX_COUNT; k++)
		v[k] = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *name = h[i].name;
		char first = (char)(name[0] | 0x20); /* the ASCII letter's lower case */
		if (first == 's') {
			cookies = cookies || strcasecmp(name, "Set-Cookie") == 0;
			continue;
		}
		if (first != 'x' && first != 'r' && first != 'd')
			continue;
		for (size_t k = 0; k < HX_COUNT; k++) {
			if (v[k] == NULL && (judged_names[k][0] | 0x20) == first &&
			    strcasecmp(name, judged_names[k]) == 0) {
				v[k] = h[i].value;
				break;
			}
		}
	}
	return cookies;
}

static mh_status on_headers(void *ud, long http_status, const mh_transport_header *h, size_t n)
{
	mh_mapi_ctx *c = ud;
	exchange *x = &c->x;
	const char *v;
	const char *jv[HX_COUNT];
	bool set_cookies = judged_headers(h, n, jv);
	x->http_status = http_status;
	if ((v = jv[HX_PENDING_PERIOD]) != NULL && parse_u32(v, &x->pending_period))
		c->pending_period = x->pending_period;
	if ((v = jv[HX_EXPIRATION]) != NULL && parse_u32(v, &x->expiration))
		c->expiration = x->expiration;
	if ((v = jv[HX_SERVER_APP]) != NULL) {
		size_t len = strlen(v);
		x->server_app = dupn(v, len > SERVER_APP_MAX ? SERVER_APP_MAX : len);
		if (x->server_app == NULL)
			return mh_error_oom();
	}
	bool bad_rc = false;
	if ((v = jv[HX_RESPONSE_CODE]) != NULL) {
		x->have_rc = parse_u32(v, &x->rc);
		bad_rc = !x->have_rc;
	}
	if (http_status == 401)
		x->bearer = mh_bearer_refusal_of(h, n);
	if (http_status == 429 || http_status == 503)
		x->retry_after = retry_after_ms(jv[HX_RETRY_AFTER], jv[HX_DATE]);

	/* A new context's cookies replace the old context's, which a reconnect sent along. */
	bool fresh = http_status == 200 && x->have_rc && x->rc == 0 &&
	             (x->type == MH_RT_CONNECT || x->type == MH_RT_BIND);
	bool cleared = false;
	for (size_t i = 0; i < n && set_cookies; i++) {
		if (strcasecmp(h[i].name, "Set-Cookie") != 0)
			continue;
		if (fresh && !cleared) {
			jar_clear(c);
			cleared = true;
		}
		mh_status st = jar_set(c, h[i].value);
		if (st != S_OK)
			return st;
	}

	if (http_status != 200) {
		x->mode = MODE_TEXT;
		x->head_status = http_status_map(http_status);
	} else if (bad_rc) {
		x->mode = MODE_TEXT;
		x->head_status = MAPI_E_CORRUPT_DATA;
	} else if (!x->have_rc) {
		x->mode = MODE_TEXT;
		x->head_status = MAPI_E_CALL_FAILED;
	} else if (x->rc != 0) {
		/* the body is diagnostic text, not a response stream */
		x->mode = MODE_TEXT;
		x->head_status = mh_mapihttp_response_code_status(x->rc);
	} else {
		x->mode = MODE_STREAM;
	}
	return S_OK;
}

static mh_status on_event(const mh_mapihttp_event *ev, void *payload)
{
	mh_mapi_ctx *c = payload;
	exchange *x = &c->x;
	if (ev->kind == MH_MAPIHTTP_EV_BODY) {
		if (ev->len > c->max_body - x->body.len)
			return mh_error_set(MAPI_E_TOO_BIG, (int64_t)ev->offset,
			                    "MAPI/HTTP response body over %zu bytes (max_body)",
			                    c->max_body);
		mh_buf_put(&x->body, ev->data, ev->len);
		return mh_buf_status(&x->body) == S_OK ? S_OK : mh_error_oom();
	}
	if (ev->kind == MH_MAPIHTTP_EV_META && strcasecmp(ev->name, "X-StartTime") == 0 &&
	    !x->have_start_time) {
		size_t n = ev->value_len > START_TIME_MAX ? START_TIME_MAX : ev->value_len;
		memcpy(x->start_time, ev->value, n);
		x->start_time[n] = '\0';
		x->have_start_time = true;
	}
	return S_OK;
}

static mh_status on_data(void *ud, const void *data, size_t len)
{
	mh_mapi_ctx *c = ud;
	exchange *x = &c->x;
	c->stats.bytes_in += len;
	if (x->mode == MODE_STREAM)
		return mh_mapihttp_stream_feed(&c->stream, data, len);
	if (x->diag_len < DIAG_MAX) {
		size_t n = DIAG_MAX - x->diag_len < len ? DIAG_MAX - x->diag_len : len;
		memcpy(x->diag + x->diag_len, data, n);
		x->diag_len += n;
	}
	return S_OK; /* the rest of a failure's text is dropped unread */
}

/* The server's text made one printable line: tags dropped, whitespace runs collapsed. */
static void diag_clean(exchange *x)
{
	mh_cursor cur;
	uint8_t ch;
	size_t o = 0;
	bool in_tag = false, space = true;
	char out[DIAG_MAX + 1];
	mh_cursor_init(&cur, x->diag, x->diag_len, MAPI_E_CORRUPT_DATA);
	while (mh_cursor_remaining(&cur) > 0) {
		(void)mh_cursor_u8(&cur, &ch, "diagnostic text");
		if (ch == '<')
			in_tag = true;
		if (in_tag) {
			in_tag = ch != '>';
			ch = ' ';
		}
		if (ch < 0x20 || ch >= 0x7f)
			ch = ' ';
		if (ch == ' ' && space)
			continue;
		space = ch == ' ';
		out[o++] = (char)ch;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	memcpy(x->diag, out, o);
	x->diag[o] = '\0';
	x->diag_len = o;
}

static const char *type_name(const exchange *x)
{
	const char *s = mh_mapihttp_request_type_name(x->type);
	return s != NULL ? s : "?";
}

/* Records the detail for a status the headers decided. */
static void head_message(const mh_mapi_ctx *c, const exchange *x)
{
	mh_status st = x->head_status;
	const char *ep = c->endpoint == MH_ENDPOINT_NSPI ? "address book" : "mailbox";
	if (x->http_status == 401 && x->bearer == MH_BEARER_REFUSAL_EXPIRED)
		mh_error_set(st, -1,
		             "HTTP 401 from the %s endpoint: the server says the bearer token has "
		             "expired; get a new token",
		             ep);
	else if (x->http_status == 401 && x->bearer == MH_BEARER_REFUSAL_INVALID)
		mh_error_set(st, -1,
		             "HTTP 401 from the %s endpoint: the server refused the bearer token "
		             "(invalid_token)",
		             ep);
	else if (x->http_status == 401)
		mh_error_set(st, -1,
		             "HTTP 401 from the %s endpoint: wrong credentials or expired token",
		             ep);
	else if (x->http_status == 429 || x->http_status == 503)
		mh_error_set(st, -1,
		             "HTTP %ld from the %s endpoint: the server is busy; retry after %u ms",
		             x->http_status, ep, x->retry_after);
	else if (x->http_status >= 300 && x->http_status < 400)
		mh_error_set(st, -1,
		             "HTTP %ld from the %s endpoint: a redirect; the URL is stale, ask "
		             "Autodiscover again",
		             x->http_status, ep);
	else if (x->http_status != 200)
		mh_error_set(st, -1, "HTTP %ld from the %s endpoint for %s", x->http_status, ep,
		             type_name(x));
	else if (st == MAPI_E_CORRUPT_DATA)
		mh_error_set(st, -1, "X-ResponseCode header is not a decimal number");
	else if (!x->have_rc)
		mh_error_set(st, -1,
		             "HTTP 200 without X-ResponseCode for %s: not a MAPI/HTTP endpoint",
		             type_name(x));
	else
		mh_error_set(st, -1, "X-ResponseCode %u (%s) for %s", x->rc,
		             mh_mapihttp_response_code_name(x->rc), type_name(x));
}

static void on_done(void *ud, mh_status st)
{
	mh_mapi_ctx *c = ud;
	exchange *x = &c->x;
	mh_mapihttp_stream *s = &c->stream;
	mh_mapi_result r;
	char message[512];
	memset(&r, 0, sizeof(r));
	if (st == S_OK && x->mode == MODE_NONE)
		st = mh_error_set(MAPI_E_CALL_FAILED, -1, "transport finished without an answer");
	if (st == S_OK && x->mode == MODE_STREAM) {
		st = mh_mapihttp_stream_finish(s);
		if (st == S_OK && s->have_response_code && s->response_code != 0) {
			/* the request failed after the header had said 0 */
			x->rc = s->response_code;
			st = mh_error_set(mh_mapihttp_response_code_status(x->rc), -1,
			                  "X-ResponseCode %u (%s) after DONE for %s", x->rc,
			                  mh_mapihttp_response_code_name(x->rc), type_name(x));
		}
		if (st != S_OK)
			mh_error_prefix(st, "MAPI/HTTP %s response", type_name(x));
	} else if (st == S_OK) {
		st = x->head_status;
		head_message(c, x);
	} else {
		mh_error_set_default(st, "MAPI/HTTP %s request failed", type_name(x));
	}
	if (x->mode == MODE_STREAM) {
		r.processing = s->processing;
		r.pending = s->pending;
		r.have_elapsed_time = s->have_elapsed_time;
		r.elapsed_time = s->elapsed_time;
	}
	if (x->mode == MODE_TEXT && x->diag_len > 0) {
		diag_clean(x);
		r.diagnostic = x->diag_len > 0 ? x->diag : NULL;
	}
	r.status = st;
	message[0] = '\0';
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		snprintf(message, sizeof(message), "%s", e != NULL ? e->message : "");
		c->stats.failures++;
	}
	r.message = message;
	r.http_status = x->http_status;
	r.have_response_code = x->have_rc || (x->mode == MODE_STREAM && s->have_response_code);
	r.response_code = x->rc;
	r.expiration_ms = x->expiration;
	r.pending_period_ms = x->pending_period;
	r.retry_after_ms = x->retry_after;
	r.start_time = x->have_start_time ? x->start_time : NULL;
	r.request_id = x->request_id;
	r.server_application = x->server_app;

	/*
	 * The exchange leaves the context before done runs, so that done may send again or free
	 * the context; what r points to lives in this frame until done returns.
	 */
	exchange held = *x;
	memset(x, 0, sizeof(*x));
	x->body = (mh_buf)MH_BUF_INIT;
	c->active = false;
	r.diagnostic = r.diagnostic != NULL ? held.diag : NULL;
	r.start_time = r.start_time != NULL ? held.start_time : NULL;
	r.request_id = held.request_id;
	r.body = held.body.len > 0 ? held.body.data : NULL;
	r.len = held.body.len;
	held.done(&r, held.payload);
	mh_buf_free(&held.body);
	free(held.server_app);
}

/*
 * c->hb for a request of this type and X-RequestId counter. The codec builds it once per
 * X-RequestId GUID and X-ClientInfo; later requests renew the type and the counter only.
 */
static mh_status request_headers(mh_mapi_ctx *c, mh_mapihttp_request_type type, uint32_t counter)
{
	if (!c->have_hb) {
		mh_mapihttp_request_info info = MH_MAPIHTTP_REQUEST_INFO_INIT;
		info.type = type;
		info.request_guid = c->request_guid;
		info.request_counter = counter;
		info.client_guid = c->client_guid;
		info.client_counter = c->client_counter;
		info.client_application = c->client_app;
		mh_status st = mh_mapihttp_request_headers_build(&c->hb, &info);
		if (st == S_OK)
			c->have_hb = true;
		return st;
	}
	return mh_mapihttp_request_headers_renew(&c->hb, type, counter);
}

mh_status mh_mapi_ctx_send(mh_mapi_ctx *c, mh_mapihttp_request_type type, const void *body,
                           size_t len, mh_mapi_ctx_done done, void *payload)
{
	if (c == NULL || done == NULL || (body == NULL && len > 0))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_mapi_ctx_send: context, done and the body are required");
	if (c->active)
		return mh_error_set(MAPI_E_BUSY, -1,
		                    "a %s request is still running on this session context; "
		                    "MAPI/HTTP allows one at a time",
		                    type_name(&c->x));
	const char *name = mh_mapihttp_request_type_name(type);
	if (name == NULL || !(mh_mapihttp_request_type_endpoints(type) & c->endpoint))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "X-RequestType %s is not served by the %s endpoint",
		                    name != NULL ? name : "(unknown)",
		                    c->endpoint == MH_ENDPOINT_NSPI ? "address book (NSPI)"
		                                                    : "mailbox (EMSMDB)");
	mh_status st = request_headers(c, type, c->request_counter + 1);
	if (st != S_OK)
		return st;
	const mh_mapihttp_request_headers *hbp = &c->hb;

	mh_transport_header h[MH_MAPIHTTP_REQUEST_HEADERS_MAX + 2];
	size_t n = 0;
	for (size_t i = 0; i < hbp->n; i++) {
		h[n].name = hbp->h[i].name;
		h[n++].value = hbp->h[i].value;
	}
	mh_buf cookies = MH_BUF_INIT;
	char expiration[16];
	if (c->n_jar > 0) {
		jar_header(c, &cookies);
		if (mh_buf_status(&cookies) != S_OK) {
			mh_buf_free(&cookies);
			return mh_error_oom();
		}
		h[n].name = "Cookie";
		h[n++].value = (const char *)cookies.data;
	}
	if (c->expiration_req != 0) {
		snprintf(expiration, sizeof(expiration), "%lu", (unsigned long)c->expiration_req);
		h[n].name = "X-ExpirationInfo";
		h[n++].value = expiration;
	}
	mh_transport_request rq = MH_TRANSPORT_REQUEST_INIT;
	rq.url = c->url;
	rq.headers = h;
	rq.n_headers = n;
	rq.body = body;
	rq.body_len = len;
	rq.auth = c->auth;
	rq.connect_timeout_ms = c->connect_timeout;
	/* PENDING lines come every X-PendingPeriod: two missed ones mean a dead connection */
	rq.idle_timeout_ms = c->pending_period != 0 && c->pending_period <= UINT32_MAX / 2
	                         ? 2 * c->pending_period
	                         : MH_MAPI_CTX_IDLE_DEFAULT_MS;
	rq.total_timeout_ms = c->total_timeout;
	mh_transport_callbacks cb = {on_headers, on_data, on_done, c};

	exchange_reset(&c->x);
	c->x.type = type;
	c->x.done = done;
	c->x.payload = payload;
	memcpy(c->x.request_id, hbp->request_id, sizeof(c->x.request_id));
	mh_mapihttp_stream_init(&c->stream, on_event, c);
	mh_transport *t = mh_loop_transport(c->loop);
	st = t->ops->start(t->self, &rq, &cb, &c->x.tid);
	/* cookies are credentials too: no copy left behind */
	if (cookies.data != NULL)
		for (volatile uint8_t *p = cookies.data; p < cookies.data + cookies.len; p++)
			*p = 0;
	mh_buf_free(&cookies);
	if (st != S_OK)
		return st;
	c->active = true;
	c->request_counter++;
	c->stats.requests++;
	c->stats.bytes_out += len;
	return S_OK;
}
