/*
 * Fuzzer for the client's handling of a MAPI/HTTP answer (src/transport/mapi_ctx.c): the
 * input is an HTTP status, header lines (Set-Cookie, X-ResponseCode, Retry-After, ...) and a
 * response stream, delivered by the in-memory transport in small pieces. Two requests run on
 * one context, so cookies from the first answer go out with the second; both outcomes must
 * keep mh_mapi_result's promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/loop.h"
#include "transport/mapi_ctx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS 32

typedef struct answer {
	long status;
	mh_transport_header headers[MAX_HEADERS];
	size_t n_headers;
	const uint8_t *body;
	size_t body_len;
	size_t chunk;
	unsigned calls;
} answer;

static mh_status handler(void *ud, const mh_transport_request *rq, mh_transport_memory_answer *a)
{
	answer *an = ud;
	an->calls++;
	/* What goes out never carries a line break in a header. */
	for (size_t i = 0; i < rq->n_headers; i++)
		if (strpbrk(rq->headers[i].value, "\r\n") != NULL)
			abort();
	a->fail = S_OK;
	a->http_status = an->status;
	a->headers = an->headers;
	a->n_headers = an->n_headers;
	a->body = an->body;
	a->body_len = an->body_len;
	a->chunk = an->chunk;
	return S_OK;
}

typedef struct outcome {
	bool done;
	mh_status status;
} outcome;

static void on_done(const mh_mapi_result *r, void *payload)
{
	outcome *o = payload;
	o->done = true;
	o->status = r->status;
	if (r->message == NULL || (r->status == S_OK && r->http_status != 200))
		abort();
	if (r->status == S_OK && (!r->have_response_code || r->response_code != 0))
		abort();
	if (r->len > 0 && r->body == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 200, 200, 401, 429, 503, 302, 500};
	if (size < 2)
		return 0;
	answer an;
	memset(&an, 0, sizeof(an));
	an.status = statuses[data[0] & 7];
	an.chunk = 1 + (data[1] % 9);
	/* Header lines "name: value\n" up to an empty line, then the body. Strings live in a
	 * NUL-terminated copy. */
	char *text = malloc(size - 1);
	if (text == NULL)
		return 0;
	memcpy(text, data + 2, size - 2);
	text[size - 2] = 0;
	size_t pos = 0, n = size - 2;
	while (pos < n && an.n_headers < MAX_HEADERS) {
		char *line = text + pos;
		char *nl = memchr(line, '\n', n - pos);
		if (nl == NULL)
			break;
		*nl = 0;
		pos = (size_t)(nl - text) + 1;
		if (*line == 0)
			break;
		char *colon = strchr(line, ':');
		if (colon == NULL)
			continue;
		*colon = 0;
		char *v = colon + 1;
		while (*v == ' ')
			v++;
		an.headers[an.n_headers].name = line;
		an.headers[an.n_headers].value = v;
		an.n_headers++;
	}
	an.body = (const uint8_t *)text + pos;
	an.body_len = n - pos;

	mh_transport *t = NULL;
	mh_loop *loop = NULL;
	mh_mapi_ctx *ctx = NULL;
	if (mh_transport_memory_new(&t, handler, &an) != S_OK)
		goto out;
	if (mh_loop_new(&loop, t, NULL) != S_OK)
		goto out;
	mh_mapi_ctx_options o = MH_MAPI_CTX_OPTIONS_INIT;
	o.url = "https://mail.contoso.test/mapi/emsmdb/?MailboxId=x@contoso.test";
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.user = "alice@contoso.test";
	o.auth.secret = "Alice-Pass-1";
	o.max_body = 1 << 16;
	if (mh_mapi_ctx_new(&ctx, loop, &o) != S_OK)
		goto out;
	for (int round = 0; round < 2; round++) {
		outcome oc = {false, S_OK};
		static const uint8_t body[4] = {0, 0, 0, 0};
		if (mh_mapi_ctx_send(ctx, round == 0 ? MH_RT_CONNECT : MH_RT_EXECUTE, body,
		                     sizeof(body), on_done, &oc) != S_OK)
			break;
		if (mh_loop_run_until(loop, &oc.done, 0) != S_OK || !oc.done)
			abort();
	}
out:
	mh_mapi_ctx_free(ctx);
	mh_loop_free(loop);
	mh_transport_free(t);
	free(text);
	return 0;
}
