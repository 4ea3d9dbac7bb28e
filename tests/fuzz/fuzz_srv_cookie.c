/*
 * Fuzz target for mapihttpd's session cookies: on a live EMSMDB (or NSPI) context, a PING or
 * an Execute (EMSMDB) whose Cookie header is the input. Byte 0 picks the request; the rest
 * reads as "name=value; name=value", where a value starting "@c" or "@s" starts with the
 * context's real MapiContext or MapiSequence value, so mutations reach past the lookup.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_srv_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_cookies {
	size_t n;
	mh_srv_cookie ck[MH_SRV_HTTP_MAX_COOKIES];
	char *mem[2 * MH_SRV_HTTP_MAX_COOKIES];
} fuzz_cookies;

static const char *jar_value(const fz_jar *j, const char *name)
{
	for (size_t i = 0; i < j->n; i++)
		if (strcmp(j->name[i], name) == 0)
			return j->value[i];
	return "";
}

static char *dup_text(const uint8_t *p, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	char *s = malloc(k + n + 1);
	if (s == NULL)
		abort();
	memcpy(s, prefix, k);
	memcpy(s + k, p, n);
	s[k + n] = 0;
	return s;
}

/* Splits the header as libmicrohttpd does; keeps what the front lets through (at most
 * MH_SRV_HTTP_MAX_COOKIES, values at most MH_SRV_HTTP_MAX_COOKIE_VALUE bytes). */
static void parse(fuzz_cookies *fc, const uint8_t *p, size_t n, const fz_jar *live)
{
	size_t i = 0;
	fc->n = 0;
	while (i < n && fc->n < MH_SRV_HTTP_MAX_COOKIES) {
		while (i < n && p[i] == ' ')
			i++;
		size_t start = i, eq = 0;
		bool has_eq = false;
		while (i < n && p[i] != ';' && p[i] != 0) {
			if (p[i] == '=' && !has_eq) {
				has_eq = true;
				eq = i;
			}
			i++;
		}
		size_t end = i;
		i++; /* the ';' or NUL */
		if (end == start)
			continue;
		size_t name_end = has_eq ? eq : end;
		size_t v = has_eq ? eq + 1 : end;
		const char *prefix = "";
		if (end - v >= 2 && p[v] == '@' && (p[v + 1] == 'c' || p[v + 1] == 's')) {
			prefix = jar_value(live, p[v + 1] == 'c' ? MH_SRV_MAPI_CONTEXT_COOKIE
			                                         : MH_SRV_MAPI_SEQUENCE_COOKIE);
			v += 2;
		}
		char *name = dup_text(p + start, name_end - start, "");
		char *value = dup_text(p + v, end - v, prefix);
		fc->mem[2 * fc->n] = name;
		fc->mem[2 * fc->n + 1] = value;
		if (strlen(value) > MH_SRV_HTTP_MAX_COOKIE_VALUE)
			value[MH_SRV_HTTP_MAX_COOKIE_VALUE] = 0;
		fc->ck[fc->n++] = (mh_srv_cookie){name, value};
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fz_srv *s = fz_srv_get();
	unsigned endpoint = (data[0] & 2) ? MH_ENDPOINT_NSPI : MH_ENDPOINT_EMSMDB;
	mh_mapihttp_request_type t =
	    (data[0] & 1) && endpoint == MH_ENDPOINT_EMSMDB ? MH_RT_EXECUTE : MH_RT_PING;
	fz_jar jar;
	fuzz_cookies fc;
	mh_buf body = MH_BUF_INIT;
	fz_jar_init(&jar);
	if (fz_srv_open(s, endpoint, &jar) != S_OK)
		abort();
	parse(&fc, data + 1, size - 1, &jar);
	if (t == MH_RT_EXECUTE) {
		static const uint8_t no_rops[] = {2, 0}; /* RopSize only: no ROP, no handle */
		fz_srv_execute_body(&body, 0, 0x10008, no_rops, sizeof(no_rops));
		if (mh_buf_status(&body) != S_OK)
			abort();
	}
	fz_srv_call(s, endpoint, t, fc.ck, fc.n, body.data, body.len, &jar, NULL);
	fz_srv_close(s, endpoint, &jar);
	for (size_t i = 0; i < 2 * fc.n; i++)
		free(fc.mem[i]);
	mh_buf_free(&body);
	return 0;
}
