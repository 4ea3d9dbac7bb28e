/*
 * Fuzz target for mapihttpd's NSPI handler: after a valid Bind, the first byte picks the
 * request type (every NSPI X-RequestType, then PING), the rest is its body, sent with the
 * context's cookies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_srv_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fz_srv *s = fz_srv_get();
	unsigned n_types = MH_RT_GETADDRESSBOOKURL - MH_RT_BIND + 2;
	unsigned pick = data[0] % n_types;
	mh_mapihttp_request_type t =
	    pick == n_types - 1 ? MH_RT_PING : (mh_mapihttp_request_type)(MH_RT_BIND + pick);
	size_t n = size - 1;
	/* An exactly sized copy, so that ASan sees a read past the body. */
	uint8_t *body = malloc(n ? n : 1);
	fz_jar jar, fresh;
	if (body == NULL)
		abort();
	memcpy(body, data + 1, n);
	fz_jar_init(&jar);
	fz_jar_init(&fresh);
	if (fz_srv_open(s, MH_ENDPOINT_NSPI, &jar) != S_OK)
		abort(); /* a valid Bind must work */
	/* A Bind on a live context is a reconnect: its new cookies go in their own jar. */
	fz_srv_call(s, MH_ENDPOINT_NSPI, t, jar.ck, jar.n, body, n, t == MH_RT_BIND ? &fresh : &jar,
	            NULL);
	fz_srv_close(s, MH_ENDPOINT_NSPI, &fresh);
	fz_srv_close(s, MH_ENDPOINT_NSPI, &jar);
	free(body);
	return 0;
}
