/*
 * MAPI/HTTP framing: the response stream parser and writer, the request
 * header set and its checker, and the X-ResponseCode table.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec/mapihttp.h"
#include "util/diag.h"

/* ==== X-ResponseCode ===================================================================== */

static const struct {
	const char *name;
	mh_status status;
} response_codes[] = {
    {"Success", S_OK},
    {"Unknown Failure", MAPI_E_CALL_FAILED},
    {"Invalid Verb", MAPI_E_NO_SUPPORT},
    {"Invalid Path", MAPI_E_NOT_FOUND},
    {"Invalid Header", MAPI_E_INVALID_PARAMETER},
    {"Invalid Request Type", MAPI_E_NO_SUPPORT},
    {"Invalid Context Cookie", MAPI_E_END_OF_SESSION},
    {"Missing Header", MAPI_E_INVALID_PARAMETER},
    {"Anonymous Not Allowed", MAPI_E_NO_ACCESS},
    {"Too Large", MAPI_E_TOO_BIG},
    {"Context Not Found", MAPI_E_END_OF_SESSION},
    {"No Privilege", MAPI_E_NO_ACCESS},
    {"Invalid Request Body", MAPI_E_INVALID_PARAMETER},
    {"Missing Cookie", MAPI_E_END_OF_SESSION},
    {"Reserved", MAPI_E_CALL_FAILED},
    {"Invalid Sequence", MAPI_E_BUSY},
    {"Endpoint Disabled", MAPI_E_NO_SUPPORT},
    {"Invalid Response", MAPI_E_CALL_FAILED},
    {"Endpoint Shutting Down", MAPI_E_NETWORK_ERROR},
};
#define N_RESPONSE_CODES (sizeof(response_codes) / sizeof(response_codes[0]))

const char *mh_mapihttp_response_code_name(uint32_t code)
{
	return code < N_RESPONSE_CODES ? response_codes[code].name : "Unknown";
}

mh_status mh_mapihttp_response_code_status(uint32_t code)
{
	return code < N_RESPONSE_CODES ? response_codes[code].status : MAPI_E_CALL_FAILED;
}

/* ==== shared character classes ========================================================== */

static bool is_tchar(unsigned char ch)
{
	/* RFC 9110 token characters */
	if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
		return true;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool is_value_char(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7F);
}

static int ascii_lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
}

static bool ieq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

/* Strict decimal: 1-10 digits, no sign, fits 32 bits. */
static bool parse_u32(const char *s, size_t len, uint32_t *v)
{
	uint64_t x = 0;
	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > UINT32_MAX)
		return false;
	*v = (uint32_t)x;
	return true;
}

/* ==== response stream ==================================================================== */

enum { ST_LINES, ST_META, ST_BODY };

/* Lines before DONE are at most "PROCESSING"; fail as soon as one is longer. */
#define KEEPALIVE_LINE_MAX 10

void mh_mapihttp_stream_init(mh_mapihttp_stream *s, mh_mapihttp_event_cb cb, void *payload)
{
	memset(s, 0, sizeof(*s));
	s->state = ST_LINES;
	s->err = S_OK;
	s->cb = cb;
	s->payload = payload;
}

bool mh_mapihttp_stream_in_body(const mh_mapihttp_stream *s)
{
	return s->err == S_OK && s->state == ST_BODY;
}

static mh_status stream_fail(mh_mapihttp_stream *s, uint64_t off, const char *fmt, ...)
    MH_PRINTF(3, 4);

static mh_status stream_fail(mh_mapihttp_stream *s, uint64_t off, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->err =
	    mh_error_set(MAPI_E_CORRUPT_DATA, (int64_t)off, "MAPI/HTTP response stream: %s", msg);
	return s->err;
}

static mh_status emit(mh_mapihttp_stream *s, mh_mapihttp_event *ev)
{
	if (s->cb == NULL)
		return S_OK;
	mh_status st = s->cb(ev, s->payload);
	if (st != S_OK)
		s->err = st;
	return st;
}

static mh_status keepalive_line(mh_mapihttp_stream *s)
{
	mh_mapihttp_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.offset = s->line_start;
	/* The meta-tags are upper case (MS-OXCMAPIHTTP 2.2.7); any case is taken,
	 * like the request types, since nothing else can be meant. */
	if (ieq(s->line, s->line_len, "PROCESSING")) {
		ev.kind = MH_MAPIHTTP_EV_PROCESSING;
		s->processing++;
	} else if (ieq(s->line, s->line_len, "PENDING")) {
		ev.kind = MH_MAPIHTTP_EV_PENDING;
		s->pending++;
	} else if (ieq(s->line, s->line_len, "DONE")) {
		ev.kind = MH_MAPIHTTP_EV_DONE;
		s->state = ST_META;
	} else {
		return stream_fail(s, s->line_start,
		                   "line at byte %llu is not PROCESSING, PENDING or DONE",
		                   (unsigned long long)s->line_start);
	}
	return emit(s, &ev);
}

static mh_status meta_line(mh_mapihttp_stream *s)
{
	mh_mapihttp_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.offset = s->line_start;
	if (s->line_len == 0) {
		s->state = ST_BODY;
		ev.kind = MH_MAPIHTTP_EV_META_END;
		return emit(s, &ev);
	}
	char *l = s->line;
	size_t n = 0;
	while (n < s->line_len && is_tchar((unsigned char)l[n]))
		n++;
	if (n == 0 || n == s->line_len || l[n] != ':')
		return stream_fail(
		    s, s->line_start + n,
		    "meta header at byte %llu: expected a name and ':', found 0x%02x "
		    "at byte %llu",
		    (unsigned long long)s->line_start,
		    n < s->line_len ? (unsigned)(unsigned char)l[n] : 0u,
		    (unsigned long long)(s->line_start + n));
	size_t v = n + 1, e = s->line_len;
	for (size_t i = v; i < e; i++)
		if (!is_value_char((unsigned char)l[i]))
			return stream_fail(s, s->line_start + i,
			                   "meta header at byte %llu: control character 0x%02x in "
			                   "the value at byte %llu",
			                   (unsigned long long)s->line_start,
			                   (unsigned)(unsigned char)l[i],
			                   (unsigned long long)(s->line_start + i));
	while (v < e && (l[v] == ' ' || l[v] == '\t'))
		v++;
	while (e > v && (l[e - 1] == ' ' || l[e - 1] == '\t'))
		e--;
	l[n] = '\0';
	l[e] = '\0';
	ev.kind = MH_MAPIHTTP_EV_META;
	ev.name = l;
	ev.name_len = n;
	ev.value = l + v;
	ev.value_len = e - v;

	if (ieq(l, n, "X-ElapsedTime")) {
		/* Diagnostic only (MS-OXCMAPIHTTP 2.2.3.3, X-ElapsedTime): the first
		 * value that is a 32-bit decimal is kept; others are only reported.
		 * It never fails a response that is otherwise complete. */
		uint32_t t;
		if (!s->have_elapsed_time && parse_u32(l + v, e - v, &t)) {
			s->elapsed_time = t;
			s->have_elapsed_time = true;
		}
		return emit(s, &ev);
	}
	bool *have = NULL;
	uint32_t *num = NULL;
	if (ieq(l, n, "X-ResponseCode")) {
		have = &s->have_response_code;
		num = &s->response_code;
	}
	if (have != NULL) {
		if (*have)
			return stream_fail(s, s->line_start,
			                   "meta header at byte %llu: %s repeated",
			                   (unsigned long long)s->line_start, l);
		if (!parse_u32(l + v, e - v, num))
			return stream_fail(s, s->line_start + v,
			                   "meta header at byte %llu: %s value \"%.40s\" is not a "
			                   "32-bit decimal number",
			                   (unsigned long long)s->line_start, l, l + v);
		*have = true;
	}
	return emit(s, &ev);
}

mh_status mh_mapihttp_stream_feed(mh_mapihttp_stream *s, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i = 0;
	mh_status st;
	if (s->err != S_OK)
		return s->err;
	if (p == NULL && len > 0)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "stream data is NULL");
	while (i < len && s->state != ST_BODY) {
		uint8_t ch = p[i];
		uint64_t off = s->offset;
		i++;
		s->offset++;
		if (s->state == ST_META && ++s->meta_bytes > MH_MAPIHTTP_META_MAX)
			return stream_fail(s, off,
			                   "meta block after DONE exceeds %d bytes at byte %llu",
			                   MH_MAPIHTTP_META_MAX, (unsigned long long)off);
		if (s->cr && ch != '\n')
			return stream_fail(s, off - 1, "CR at byte %llu not followed by LF",
			                   (unsigned long long)(off - 1));
		if (ch == '\n') {
			/* CRLF as MS-OXCMAPIHTTP 2.2.7 writes it, or a bare LF, which
			 * HTTP recipients may take as a line end (RFC 9112 2.2). */
			s->cr = false;
			st = s->state == ST_LINES ? keepalive_line(s) : meta_line(s);
			if (st != S_OK)
				return st;
			s->line_len = 0;
			s->line_start = s->offset;
			continue;
		}
		if (ch == '\r') {
			s->cr = true;
			continue;
		}
		size_t max = s->state == ST_LINES ? KEEPALIVE_LINE_MAX : MH_MAPIHTTP_LINE_MAX;
		if (s->line_len == max) {
			if (s->state == ST_LINES)
				return stream_fail(
				    s, s->line_start,
				    "line at byte %llu is not PROCESSING, PENDING or DONE",
				    (unsigned long long)s->line_start);
			return stream_fail(s, s->line_start,
			                   "meta header at byte %llu is longer than %d bytes",
			                   (unsigned long long)s->line_start, MH_MAPIHTTP_LINE_MAX);
		}
		s->line[s->line_len++] = (char)ch;
	}
	if (i < len) {
		mh_mapihttp_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.kind = MH_MAPIHTTP_EV_BODY;
		ev.offset = s->offset;
		ev.data = p + i;
		ev.len = len - i;
		s->offset += len - i;
		return emit(s, &ev);
	}
	return S_OK;
}

mh_status mh_mapihttp_stream_finish(mh_mapihttp_stream *s)
{
	if (s->err != S_OK)
		return s->err;
	if (s->state == ST_BODY)
		return S_OK;
	return stream_fail(s, s->offset, "ends at byte %llu %s", (unsigned long long)s->offset,
	                   s->state == ST_LINES
	                       ? "before DONE"
	                       : "inside the meta block (no empty line after DONE)");
}

/* Collects meta headers for mh_mapihttp_response_parse. */
struct meta_node {
	struct meta_node *next;
	mh_http_header h;
};

struct collect {
	mh_arena *a;
	struct meta_node *head, **tail;
	size_t n;
	uint64_t body_offset;
	bool body_seen;
};

static mh_status collect_event(const mh_mapihttp_event *ev, void *payload)
{
	struct collect *c = payload;
	mh_status st;
	if (ev->kind == MH_MAPIHTTP_EV_META) {
		struct meta_node *m;
		char *name, *value;
		if ((st = mh_arena_alloc(c->a, sizeof(*m), (void **)&m)) != S_OK ||
		    (st = mh_arena_strndup(c->a, ev->name, ev->name_len, &name)) != S_OK ||
		    (st = mh_arena_strndup(c->a, ev->value, ev->value_len, &value)) != S_OK)
			return st;
		m->h.name = name;
		m->h.value = value;
		*c->tail = m;
		c->tail = &m->next;
		c->n++;
	} else if (ev->kind == MH_MAPIHTTP_EV_BODY && !c->body_seen) {
		/* The empty line may end in CRLF or LF: the body starts where the
		 * parser says, not at a fixed distance from that line. */
		c->body_offset = ev->offset;
		c->body_seen = true;
	}
	return S_OK;
}

mh_status mh_mapihttp_response_parse(const uint8_t *data, size_t len, mh_arena *a,
                                     mh_mapihttp_response *out)
{
	mh_mapihttp_stream s;
	struct collect c = {a, NULL, NULL, 0, 0, false};
	mh_status st;
	c.tail = &c.head;
	memset(out, 0, sizeof(*out));
	mh_mapihttp_stream_init(&s, collect_event, &c);
	if ((st = mh_mapihttp_stream_feed(&s, data, len)) != S_OK ||
	    (st = mh_mapihttp_stream_finish(&s)) != S_OK)
		return st;
	if (c.n > 0 &&
	    (st = mh_arena_array(a, c.n, sizeof(*out->meta), (void **)&out->meta)) != S_OK)
		return st;
	size_t i = 0;
	for (struct meta_node *m = c.head; m != NULL; m = m->next) {
		out->meta[i++] = m->h;
		if (out->start_time == NULL && ieq(m->h.name, strlen(m->h.name), "X-StartTime"))
			out->start_time = m->h.value;
	}
	out->n_meta = c.n;
	out->processing = s.processing;
	out->pending = s.pending;
	out->have_response_code = s.have_response_code;
	out->response_code = s.response_code;
	out->have_elapsed_time = s.have_elapsed_time;
	out->elapsed_time = s.elapsed_time;
	out->body_offset = c.body_seen ? (size_t)c.body_offset : len;
	out->body_len = len - out->body_offset;
	out->body = out->body_len ? data + out->body_offset : NULL;
	return S_OK;
}

void mh_mapihttp_push_line(mh_buf *b, mh_mapihttp_event_kind kind)
{
	switch (kind) {
	case MH_MAPIHTTP_EV_PROCESSING:
		mh_buf_put(b, "PROCESSING\r\n", 12);
		break;
	case MH_MAPIHTTP_EV_PENDING:
		mh_buf_put(b, "PENDING\r\n", 9);
		break;
	case MH_MAPIHTTP_EV_DONE:
		mh_buf_put(b, "DONE\r\n", 6);
		break;
	default:
		mh_buf_fail(b, mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                            "mh_mapihttp_push_line: kind %d is not PROCESSING, "
		                            "PENDING or DONE",
		                            (int)kind));
	}
}

void mh_mapihttp_push_meta(mh_buf *b, const char *name, const char *value)
{
	size_t n = name != NULL ? strlen(name) : 0;
	bool ok = n > 0 && value != NULL;
	for (size_t i = 0; ok && i < n; i++)
		ok = is_tchar((unsigned char)name[i]);
	for (const char *v = value; ok && *v != '\0'; v++)
		ok = is_value_char((unsigned char)*v);
	if (!ok || n + strlen(value) + 2 > MH_MAPIHTTP_LINE_MAX) {
		mh_buf_fail(b, mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                            "meta header \"%.40s\" has an invalid name or value",
		                            name != NULL ? name : "(null)"));
		return;
	}
	mh_buf_put(b, name, n);
	mh_buf_put(b, ": ", 2);
	mh_buf_put(b, value, strlen(value));
	mh_buf_put(b, "\r\n", 2);
}

void mh_mapihttp_push_meta_u32(mh_buf *b, const char *name, uint32_t value)
{
	char v[12];
	snprintf(v, sizeof(v), "%lu", (unsigned long)value);
	mh_mapihttp_push_meta(b, name, v);
}

void mh_mapihttp_push_meta_end(mh_buf *b)
{
	mh_buf_put(b, "\r\n", 2);
}

/* ==== request headers ==================================================================== */

static const struct {
	const char *name;
	unsigned endpoints;
} request_types[MH_RT_COUNT_] = {
    [MH_RT_CONNECT] = {"Connect", MH_ENDPOINT_EMSMDB},
    [MH_RT_EXECUTE] = {"Execute", MH_ENDPOINT_EMSMDB},
    [MH_RT_DISCONNECT] = {"Disconnect", MH_ENDPOINT_EMSMDB},
    [MH_RT_NOTIFICATIONWAIT] = {"NotificationWait", MH_ENDPOINT_EMSMDB},
    [MH_RT_PING] = {"PING", MH_ENDPOINT_EMSMDB | MH_ENDPOINT_NSPI},
    [MH_RT_BIND] = {"Bind", MH_ENDPOINT_NSPI},
    [MH_RT_UNBIND] = {"Unbind", MH_ENDPOINT_NSPI},
    [MH_RT_COMPAREMIDS] = {"CompareMIds", MH_ENDPOINT_NSPI},
    [MH_RT_DNTOMID] = {"DNToMId", MH_ENDPOINT_NSPI},
    [MH_RT_GETMATCHES] = {"GetMatches", MH_ENDPOINT_NSPI},
    [MH_RT_GETPROPLIST] = {"GetPropList", MH_ENDPOINT_NSPI},
    [MH_RT_GETPROPS] = {"GetProps", MH_ENDPOINT_NSPI},
    [MH_RT_GETSPECIALTABLE] = {"GetSpecialTable", MH_ENDPOINT_NSPI},
    [MH_RT_GETTEMPLATEINFO] = {"GetTemplateInfo", MH_ENDPOINT_NSPI},
    [MH_RT_MODLINKATT] = {"ModLinkAtt", MH_ENDPOINT_NSPI},
    [MH_RT_MODPROPS] = {"ModProps", MH_ENDPOINT_NSPI},
    [MH_RT_QUERYCOLUMNS] = {"QueryColumns", MH_ENDPOINT_NSPI},
    [MH_RT_QUERYROWS] = {"QueryRows", MH_ENDPOINT_NSPI},
    [MH_RT_RESOLVENAMES] = {"ResolveNames", MH_ENDPOINT_NSPI},
    [MH_RT_RESORTRESTRICTION] = {"ResortRestriction", MH_ENDPOINT_NSPI},
    [MH_RT_SEEKENTRIES] = {"SeekEntries", MH_ENDPOINT_NSPI},
    [MH_RT_UPDATESTAT] = {"UpdateStat", MH_ENDPOINT_NSPI},
    [MH_RT_GETMAILBOXURL] = {"GetMailboxUrl", MH_ENDPOINT_NSPI},
    [MH_RT_GETADDRESSBOOKURL] = {"GetAddressBookUrl", MH_ENDPOINT_NSPI},
};

const char *mh_mapihttp_request_type_name(mh_mapihttp_request_type t)
{
	return (unsigned)t < MH_RT_COUNT_ ? request_types[t].name : NULL;
}

mh_mapihttp_request_type mh_mapihttp_request_type_parse(const char *s, size_t len)
{
	for (unsigned t = 1; t < MH_RT_COUNT_; t++)
		if (ieq(s, len, request_types[t].name))
			return (mh_mapihttp_request_type)t;
	return MH_RT_UNKNOWN;
}

unsigned mh_mapihttp_request_type_endpoints(mh_mapihttp_request_type t)
{
	return (unsigned)t < MH_RT_COUNT_ ? request_types[t].endpoints : 0;
}

void mh_mapihttp_counted_guid_format(char out[MH_COUNTED_GUID_MAX], const GUID *g, uint32_t counter)
{
	snprintf(out, MH_COUNTED_GUID_MAX,
	         "{%08lX-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}:%lu", (unsigned long)g->Data1,
	         g->Data2, g->Data3, g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3],
	         g->Data4[4], g->Data4[5], g->Data4[6], g->Data4[7], (unsigned long)counter);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)ascii_lower((unsigned char)ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

mh_status mh_mapihttp_counted_guid_parse(const char *s, size_t len, GUID *g, uint32_t *counter)
{
	/* 8-4-4-4-12 hex digits */
	static const int groups[5] = {8, 4, 4, 4, 12};
	size_t i = 0;
	bool brace = len > 0 && s[0] == '{';
	uint8_t bytes[16];
	size_t nb = 0;
	if (brace)
		i++;
	for (int gi = 0; gi < 5; gi++) {
		if (gi > 0) {
			if (i >= len || s[i] != '-')
				goto bad;
			i++;
		}
		for (int k = 0; k < groups[gi]; k += 2) {
			int hi, lo;
			if (i + 1 >= len || (hi = hexval(s[i])) < 0 || (lo = hexval(s[i + 1])) < 0)
				goto bad;
			bytes[nb++] = (uint8_t)(hi << 4 | lo);
			i += 2;
		}
	}
	if (brace) {
		if (i >= len || s[i] != '}')
			goto bad;
		i++;
	}
	if (i >= len || s[i] != ':')
		goto bad;
	i++;
	if (!parse_u32(s + i, len - i, counter))
		goto bad;
	/* Text order is Data1..Data3 big-endian, then Data4 as is. */
	g->Data1 = (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 |
	           bytes[3];
	g->Data2 = (uint16_t)(bytes[4] << 8 | bytes[5]);
	g->Data3 = (uint16_t)(bytes[6] << 8 | bytes[7]);
	memcpy(g->Data4, bytes + 8, 8);
	return S_OK;
bad:
	return mh_error_set(MAPI_E_INVALID_PARAMETER, (int64_t)i,
	                    "\"%.*s\" is not GUID:counter (problem at character %zu)",
	                    (int)(len > 60 ? 60 : len), s, i);
}

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
			return false;
	return true;
}

/* Where X-RequestType sits in a built header set. */
#define REQ_TYPE_AT 2

mh_status mh_mapihttp_request_headers_build(mh_mapihttp_request_headers *out,
                                            const mh_mapihttp_request_info *info)
{
	memset(out, 0, sizeof(*out));
	if (info->version != 1)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_mapihttp_request_info.version is %u, expected 1",
		                    info->version);
	const char *type = mh_mapihttp_request_type_name(info->type);
	if (type == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_mapihttp_request_info.type %d is not a request type",
		                    (int)info->type);
	const char *app = info->client_application != NULL ? info->client_application
	                                                   : MH_MAPIHTTP_CLIENT_APPLICATION;
	size_t n = strlen(app);
	if (n == 0 || n > MH_MAPIHTTP_CLIENT_APP_MAX || !printable(app, n))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "client_application must be 1-%d printable ASCII characters",
		                    MH_MAPIHTTP_CLIENT_APP_MAX);
	memcpy(out->client_application, app, n + 1);
	mh_mapihttp_counted_guid_format(out->request_id, &info->request_guid,
	                                info->request_counter);
	mh_mapihttp_counted_guid_format(out->client_info, &info->client_guid, info->client_counter);
	out->h[0] = (mh_http_header){"Content-Type", MH_MAPIHTTP_CONTENT_TYPE};
	out->h[1] = (mh_http_header){"Accept", MH_MAPIHTTP_CONTENT_TYPE};
	out->h[REQ_TYPE_AT] = (mh_http_header){"X-RequestType", type};
	out->h[3] = (mh_http_header){"X-RequestId", out->request_id};
	out->h[4] = (mh_http_header){"X-ClientInfo", out->client_info};
	out->h[5] = (mh_http_header){"X-ClientApplication", out->client_application};
	out->n = 6;
	return S_OK;
}

mh_status mh_mapihttp_request_headers_renew(mh_mapihttp_request_headers *hb,
                                            mh_mapihttp_request_type type, uint32_t counter)
{
	const char *name = mh_mapihttp_request_type_name(type);
	if (name == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "request type %d is not a request type", (int)type);
	hb->h[REQ_TYPE_AT].value = name;
	/* "{GUID}:n": the counter is the decimal after the last colon. */
	char *p = strrchr(hb->request_id, ':') + 1;
	char digits[10];
	size_t n = 0;
	do {
		digits[n++] = (char)('0' + counter % 10);
		counter /= 10;
	} while (counter != 0);
	while (n > 0)
		*p++ = digits[--n];
	*p = '\0';
	return S_OK;
}

enum { H_CONTENT_TYPE, H_REQUEST_TYPE, H_REQUEST_ID, H_CLIENT_INFO, H_CLIENT_APP, H_COUNT };
static const char *const checked_names[H_COUNT] = {"Content-Type", "X-RequestType", "X-RequestId",
                                                   "X-ClientInfo", "X-ClientApplication"};

static mh_status reject(uint32_t code, uint32_t *response_code, const char *fmt, ...)
    MH_PRINTF(3, 4);

static mh_status reject(uint32_t code, uint32_t *response_code, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (response_code != NULL)
		*response_code = code;
	return mh_error_set(mh_mapihttp_response_code_status(code), -1,
	                    "%s (X-ResponseCode %u, %s)", msg, code,
	                    mh_mapihttp_response_code_name(code));
}

mh_status mh_mapihttp_request_headers_check(const mh_http_header *h, size_t n, unsigned endpoint,
                                            mh_mapihttp_request_info *out, uint32_t *response_code)
{
	const char *val[H_COUNT] = {NULL};
	unsigned count[H_COUNT] = {0};
	mh_mapihttp_request_info info = MH_MAPIHTTP_REQUEST_INFO_INIT;
	if (response_code != NULL)
		*response_code = MH_RESPONSE_SUCCESS;
	for (size_t i = 0; i < n; i++) {
		if (h[i].name == NULL || h[i].value == NULL)
			continue;
		for (int k = 0; k < H_COUNT; k++)
			if (ieq(h[i].name, strlen(h[i].name), checked_names[k])) {
				count[k]++;
				val[k] = h[i].value;
			}
	}
	for (int k = 0; k < H_CLIENT_APP; k++)
		if (count[k] == 0)
			return reject(MH_RESPONSE_MISSING_HEADER, response_code,
			              "request has no %s header", checked_names[k]);
	for (int k = 0; k < H_COUNT; k++)
		if (count[k] > 1)
			return reject(MH_RESPONSE_INVALID_HEADER, response_code,
			              "request has %u %s headers", count[k], checked_names[k]);

	const char *rt = val[H_REQUEST_TYPE];
	info.type = mh_mapihttp_request_type_parse(rt, strlen(rt));
	if (info.type == MH_RT_UNKNOWN)
		return reject(MH_RESPONSE_INVALID_REQUEST_TYPE, response_code,
		              "X-RequestType \"%.40s\" is not a MAPI/HTTP request type", rt);
	if (!(mh_mapihttp_request_type_endpoints(info.type) & endpoint))
		return reject(MH_RESPONSE_INVALID_REQUEST_TYPE, response_code,
		              "X-RequestType %s is not served by the %s endpoint",
		              mh_mapihttp_request_type_name(info.type),
		              endpoint == MH_ENDPOINT_NSPI ? "address book (NSPI)"
		                                           : "mailbox (EMSMDB)");

	/* Content-Type: the media type, case-insensitive; parameters tolerated. */
	const char *ct = val[H_CONTENT_TYPE];
	size_t ctlen = strcspn(ct, ";");
	while (ctlen > 0 && (ct[ctlen - 1] == ' ' || ct[ctlen - 1] == '\t'))
		ctlen--;
	if (!ieq(ct, ctlen, MH_MAPIHTTP_CONTENT_TYPE))
		return reject(MH_RESPONSE_INVALID_HEADER, response_code,
		              "Content-Type \"%.60s\" is not %s", ct, MH_MAPIHTTP_CONTENT_TYPE);

	const char *rid = val[H_REQUEST_ID], *ci = val[H_CLIENT_INFO];
	if (mh_mapihttp_counted_guid_parse(rid, strlen(rid), &info.request_guid,
	                                   &info.request_counter) != S_OK)
		return reject(MH_RESPONSE_INVALID_HEADER, response_code,
		              "X-RequestId \"%.60s\" is not GUID:counter", rid);
	if (mh_mapihttp_counted_guid_parse(ci, strlen(ci), &info.client_guid,
	                                   &info.client_counter) != S_OK)
		return reject(MH_RESPONSE_INVALID_HEADER, response_code,
		              "X-ClientInfo \"%.60s\" is not GUID:counter", ci);
	const char *app = val[H_CLIENT_APP];
	if (app != NULL && (app[0] == '\0' || strlen(app) > MH_MAPIHTTP_CLIENT_APP_MAX ||
	                    !printable(app, strlen(app))))
		return reject(MH_RESPONSE_INVALID_HEADER, response_code,
		              "X-ClientApplication must be 1-%d printable ASCII characters",
		              MH_MAPIHTTP_CLIENT_APP_MAX);
	info.client_application = app;
	if (out != NULL)
		*out = info;
	return S_OK;
}
