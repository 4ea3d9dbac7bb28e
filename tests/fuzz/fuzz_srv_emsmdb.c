/*
 * Fuzz target for mapihttpd's EMSMDB handler: the first byte picks Connect, Execute,
 * Disconnect, NotificationWait or PING (and, for Connect, whether it reconnects a live
 * context), the rest is the request body, sent on a live session context.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_srv_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const mh_mapihttp_request_type types[] = {MH_RT_CONNECT, MH_RT_EXECUTE, MH_RT_DISCONNECT,
                                                 MH_RT_NOTIFICATIONWAIT, MH_RT_PING};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fz_srv *s = fz_srv_get();
	mh_mapihttp_request_type t = types[(data[0] & 7) % 5];
	bool reconnect = (data[0] & 0x08) != 0;
	size_t n = size - 1;
	/* An exactly sized copy, so that ASan sees a read past the body. */
	uint8_t *body = malloc(n ? n : 1);
	fz_jar jar, fresh;
	if (body == NULL)
		abort();
	memcpy(body, data + 1, n);
	fz_jar_init(&jar);
	fz_jar_init(&fresh);
	if (t != MH_RT_CONNECT || reconnect) {
		if (fz_srv_open(s, MH_ENDPOINT_EMSMDB, &jar) != S_OK)
			abort(); /* a valid Connect must work */
	}
	if (t == MH_RT_CONNECT) {
		/* A reconnect carries the old context's cookies and gets new ones. */
		fz_srv_call(s, MH_ENDPOINT_EMSMDB, t, jar.ck, jar.n, body, n, &fresh, NULL);
		fz_srv_close(s, MH_ENDPOINT_EMSMDB, &fresh);
	} else {
		fz_srv_call(s, MH_ENDPOINT_EMSMDB, t, jar.ck, jar.n, body, n, &jar, NULL);
	}
	fz_srv_close(s, MH_ENDPOINT_EMSMDB, &jar);
	free(body);
	return 0;
}
