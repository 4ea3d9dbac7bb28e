/*
 * Fuzz target for the MAPI/HTTP response stream parser: the first two
 * bytes seed the piece sizes, the rest is the stream. Fed whole and fed in
 * pieces, the parser must give the same events, body and verdict.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/mapihttp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct trace {
	uint8_t *buf; /* event records and body bytes, in order */
	size_t len, cap;
	int body_open;
} trace;

static void put(trace *t, const void *p, size_t n)
{
	if (t->len + n > t->cap) {
		size_t cap = (t->len + n) * 2 + 64;
		uint8_t *q = realloc(t->buf, cap);
		if (q == NULL)
			abort();
		t->buf = q;
		t->cap = cap;
	}
	if (n)
		memcpy(t->buf + t->len, p, n);
	t->len += n;
}

static mh_status on_event(const mh_mapihttp_event *ev, void *payload)
{
	trace *t = payload;
	char head[64];
	if (ev->kind == MH_MAPIHTTP_EV_BODY) {
		/* body pieces depend on the split: record only their bytes */
		if (!t->body_open) {
			int k =
			    snprintf(head, sizeof(head), "B@%llu:", (unsigned long long)ev->offset);
			put(t, head, (size_t)k);
			t->body_open = 1;
		}
		put(t, ev->data, ev->len);
		return S_OK;
	}
	int k =
	    snprintf(head, sizeof(head), "%d@%llu:", (int)ev->kind, (unsigned long long)ev->offset);
	put(t, head, (size_t)k);
	if (ev->kind == MH_MAPIHTTP_EV_META) {
		if (strlen(ev->name) != ev->name_len || strlen(ev->value) != ev->value_len)
			abort();
		put(t, ev->name, ev->name_len);
		put(t, "=", 1);
		put(t, ev->value, ev->value_len);
		put(t, "\n", 1);
	}
	return S_OK;
}

static mh_status run(const uint8_t *p, size_t n, unsigned seed, trace *t, char *msg, size_t cap)
{
	mh_mapihttp_stream s;
	mh_status st = S_OK;
	size_t at = 0;
	mh_mapihttp_stream_init(&s, on_event, t);
	while (at < n && st == S_OK) {
		size_t k = n - at;
		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 37;
			if (k > n - at)
				k = n - at;
		}
		uint8_t *piece = malloc(k);
		if (piece == NULL)
			abort();
		memcpy(piece, p + at, k);
		st = mh_mapihttp_stream_feed(&s, piece, k);
		free(piece);
		at += k;
	}
	if (st == S_OK)
		st = mh_mapihttp_stream_finish(&s);
	msg[0] = '\0';
	if (st != S_OK && mh_error_last() != NULL)
		snprintf(msg, cap, "%s", mh_error_last()->message);
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned seed = ((unsigned)data[0] | (unsigned)data[1] << 8) | 1u;
	trace whole = {0}, split = {0};
	char m1[400], m2[400];
	mh_status s1 = run(data + 2, size - 2, 0, &whole, m1, sizeof(m1));
	mh_status s2 = run(data + 2, size - 2, seed, &split, m2, sizeof(m2));
	if (s1 != s2 || strcmp(m1, m2) != 0 || whole.len != split.len ||
	    (whole.len && memcmp(whole.buf, split.buf, whole.len) != 0))
		abort();
	if (s1 != S_OK && s1 != MAPI_E_CORRUPT_DATA)
		abort();
	free(whole.buf);
	free(split.buf);
	return 0;
}
