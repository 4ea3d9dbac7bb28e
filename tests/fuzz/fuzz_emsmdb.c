/*
 * Fuzz target for the EMSMDB bodies: the first byte picks one of the eight
 * pulls (Connect, Execute, Disconnect, NotificationWait; request or
 * response), the rest is the body. A success-form body that decodes must
 * re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/emsmdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef union any_body {
	mh_emsmdb_connect_request a;
	mh_emsmdb_connect_response b;
	mh_emsmdb_execute_request c;
	mh_emsmdb_execute_response d;
	mh_emsmdb_disconnect_request e;
	mh_emsmdb_disconnect_response f;
	mh_emsmdb_notificationwait_request g;
	mh_emsmdb_notificationwait_response h;
} any_body;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int k = data[0] & 7;
	size_t n = size - 1;
	uint8_t *in = malloc(n ? n : 1);
	if (in == NULL)
		abort();
	if (n)
		memcpy(in, data + 1, n);
	mh_arena a;
	mh_arena_init(&a, (size_t)1 << 22);
	mh_cursor c;
	mh_cursor_init(&c, in, n, MAPI_E_CORRUPT_DATA);
	any_body v;
	mh_buf b = MH_BUF_INIT;
	mh_status st, pst = S_OK;
	uint32_t status_code = 0;
	switch (k) {
	case 0:
		if ((st = mh_emsmdb_connect_request_pull(&c, &a, &v.a)) == S_OK)
			pst = mh_emsmdb_connect_request_push(&b, &v.a);
		break;
	case 1:
		if ((st = mh_emsmdb_connect_response_pull(&c, &a, &v.b)) == S_OK) {
			status_code = v.b.status_code;
			pst = mh_emsmdb_connect_response_push(&b, &v.b);
		}
		break;
	case 2:
		if ((st = mh_emsmdb_execute_request_pull(&c, &a, &v.c)) == S_OK)
			pst = mh_emsmdb_execute_request_push(&b, &v.c);
		break;
	case 3:
		if ((st = mh_emsmdb_execute_response_pull(&c, &a, &v.d)) == S_OK) {
			status_code = v.d.status_code;
			pst = mh_emsmdb_execute_response_push(&b, &v.d);
		}
		break;
	case 4:
		if ((st = mh_emsmdb_disconnect_request_pull(&c, &a, &v.e)) == S_OK)
			pst = mh_emsmdb_disconnect_request_push(&b, &v.e);
		break;
	case 5:
		if ((st = mh_emsmdb_disconnect_response_pull(&c, &a, &v.f)) == S_OK) {
			status_code = v.f.status_code;
			pst = mh_emsmdb_disconnect_response_push(&b, &v.f);
		}
		break;
	case 6:
		if ((st = mh_emsmdb_notificationwait_request_pull(&c, &a, &v.g)) == S_OK)
			pst = mh_emsmdb_notificationwait_request_push(&b, &v.g);
		break;
	default:
		if ((st = mh_emsmdb_notificationwait_response_pull(&c, &a, &v.h)) == S_OK) {
			status_code = v.h.status_code;
			pst = mh_emsmdb_notificationwait_response_push(&b, &v.h);
		}
		break;
	}
	if (st == S_OK) {
		if (pst != S_OK)
			abort();
		/* the failure form is read leniently, so only success forms must match */
		if (status_code == 0 && (b.len != n || (n && memcmp(b.data, in, n) != 0)))
			abort();
	} else if (st != MAPI_E_CORRUPT_DATA && st != MAPI_E_TOO_BIG) {
		abort();
	}
	mh_buf_free(&b);
	mh_arena_free(&a);
	free(in);
	return 0;
}
