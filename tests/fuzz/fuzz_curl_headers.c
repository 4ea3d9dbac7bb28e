/*
 * Fuzzer for the libcurl backend's header-line collection (mh_curl_headers_feed): the input
 * is cut into lines after each '\n' (a '\r' stays in its line, as libcurl hands them over)
 * and fed in order. An input that starts with 0xFF has the lines after its second byte fed up
 * to 127 more times over (the second byte's low 7 bits), so that floods reach the 256 KiB cap
 * within libFuzzer's 4 KiB inputs. A plain model of the documented rules runs alongside;
 * every status, header and failure must match it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/curl_headers.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the model ---------------------------------------------------------------------------- */

typedef struct model_header {
	char *name, *value;
	size_t name_len, value_len;
} model_header;

typedef struct model {
	long status;
	model_header h[MH_CURL_HEADERS_MAX];
	size_t n;
	size_t bytes; /* as the buffer counts them: a NUL after each name and value */
	bool failed;
} model;

static void model_clear(model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->h[i].name);
		free(m->h[i].value);
	}
	m->n = 0;
	m->bytes = 0;
}

static char *copy(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool line_end(char ch)
{
	return ch == '\r' || ch == '\n';
}

/* "HTTP/x.y NNN ...": past the first space and the spaces after it, three digits. */
static long model_status(const char *p, size_t len)
{
	size_t i = 0;
	char ch = 0;
	while (i < len && ch != ' ')
		ch = p[i++];
	while (i < len && ch == ' ')
		ch = p[i++];
	long st = 0;
	for (int d = 0; d < 3; d++) {
		if (ch < '0' || ch > '9')
			return -1;
		st = st * 10 + (ch - '0');
		if (d < 2) {
			if (i >= len)
				return -1;
			ch = p[i++];
		}
	}
	return st;
}

static void model_feed(model *m, const char *p, size_t len)
{
	if (m->failed)
		return;
	if (memchr(p, 0, len) != NULL) {
		m->failed = true;
		return;
	}
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		model_clear(m);
		m->status = model_status(p, len);
		return;
	}
	/* text: up to the last byte that is not blank, CR or LF */
	size_t text_end = len;
	while (text_end > 0 && (blank(p[text_end - 1]) || line_end(p[text_end - 1])))
		text_end--;
	bool only_crlf = true;
	for (size_t i = 0; i < len; i++)
		if (!line_end(p[i]))
			only_crlf = false;
	if (only_crlf)
		return;
	if (text_end > 0 && blank(p[0])) {
		size_t start = 0;
		while (blank(p[start]))
			start++;
		if (m->n == 0)
			return;
		size_t add = 1 + (text_end - start);
		if (m->bytes + add > MH_CURL_HEADER_BYTES_MAX) {
			m->failed = true;
			return;
		}
		model_header *h = &m->h[m->n - 1];
		char *v = realloc(h->value, h->value_len + add + 1);
		if (v == NULL)
			abort();
		v[h->value_len] = ' ';
		memcpy(v + h->value_len + 1, p + start, text_end - start);
		h->value = v;
		h->value_len += add;
		v[h->value_len] = 0;
		m->bytes += add;
		return;
	}
	const char *colon = memchr(p, ':', len);
	if (colon == NULL)
		return;
	size_t c = (size_t)(colon - p), name_end = c;
	while (name_end > 0 && (blank(p[name_end - 1]) || line_end(p[name_end - 1])))
		name_end--;
	if (name_end == 0)
		return;
	size_t vs = c + 1;
	while (vs < text_end && blank(p[vs]))
		vs++;
	size_t ve = text_end > vs ? text_end : vs;
	size_t add = name_end + 1 + (ve - vs) + 1;
	if (m->n >= MH_CURL_HEADERS_MAX || m->bytes + add > MH_CURL_HEADER_BYTES_MAX) {
		m->failed = true;
		return;
	}
	model_header *h = &m->h[m->n++];
	h->name = copy(p, name_end);
	h->name_len = name_end;
	h->value = copy(p + vs, ve - vs);
	h->value_len = ve - vs;
	m->bytes += add;
}

/* ---- the target --------------------------------------------------------------------------- */

static void compare(const mh_curl_headers *h, const model *m)
{
	mh_transport_header *list = NULL;
	mh_status st = mh_curl_headers_list(h, &list);
	if (m->failed) {
		if (st != MAPI_E_NETWORK_ERROR || list != NULL)
			abort();
		return;
	}
	if (st != S_OK || h->n != m->n || h->status != m->status || (m->n == 0) != (list == NULL))
		abort();
	for (size_t i = 0; i < m->n; i++) {
		if (strlen(list[i].name) != m->h[i].name_len ||
		    memcmp(list[i].name, m->h[i].name, m->h[i].name_len) != 0 ||
		    strlen(list[i].value) != m->h[i].value_len ||
		    memcmp(list[i].value, m->h[i].value, m->h[i].value_len) != 0)
			abort();
		/* What reaches on_headers: a name, a value that does not end in a blank. (It may
		 * start with one: a folded line continuing an empty value.) */
		size_t vl = m->h[i].value_len;
		if (list[i].name[0] == 0 || blank(list[i].name[0]) || strchr(list[i].name, ':') ||
		    (vl != 0 && (blank(list[i].value[vl - 1]) || line_end(list[i].value[vl - 1]))))
			abort();
	}
	free(list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned rounds = 1;
	const char *in = (const char *)data;
	size_t len = size;
	if (size >= 2 && data[0] == 0xFF) {
		rounds += data[1] & 0x7Fu;
		in += 2;
		len -= 2;
	}
	mh_curl_headers h;
	model *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return 0;
	m->status = -1;
	mh_curl_headers_init(&h, "https://fuzz.test:443");
	for (unsigned r = 0; r < rounds && !m->failed; r++) {
		size_t pos = 0;
		while (pos < len) {
			const char *nl = memchr(in + pos, '\n', len - pos);
			size_t n = nl != NULL ? (size_t)(nl - (in + pos)) + 1 : len - pos;
			/* An exactly sized copy, so a read past the line is caught. */
			char *line = copy(in + pos, n);
			mh_status st = mh_curl_headers_feed(&h, line, n);
			model_feed(m, line, n);
			free(line);
			pos += n;
			if ((st != S_OK) != m->failed)
				abort();
			if (st != S_OK) {
				const mh_error *e = mh_error_last();
				if (st != MAPI_E_NETWORK_ERROR || e == NULL || e->status != st ||
				    strstr(e->message, "https://fuzz.test:443: ") != e->message)
					abort();
				/* Failure is sticky, and changes nothing more. */
				size_t before = h.len;
				if (mh_curl_headers_feed(&h, "X: y\r\n", 6) != st ||
				    h.len != before)
					abort();
				break;
			}
			if (h.n > MH_CURL_HEADERS_MAX || h.len > MH_CURL_HEADER_BYTES_MAX ||
			    h.len > h.cap || h.n != m->n || h.len != m->bytes ||
			    h.status != m->status)
				abort();
		}
	}
	compare(&h, m);
	mh_curl_headers_free(&h);
	model_clear(m);
	free(m);
	return 0;
}
