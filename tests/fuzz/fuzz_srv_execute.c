/*
 * Fuzz target for mapihttpd's ROP processor through the EMSMDB Execute handler: on a fresh
 * context with a successful RopLogon, the input after its first 4 bytes is the ROP input
 * buffer (RopSize, ROPs, handle table) in a valid RPC_HEADER_EXT; byte 0 gives the Execute
 * Flags, bytes 1-3 MaxRopOut.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/emsmdb.h"
#include "codec/rop.h"
#include "codec/rpc_ext.h"
#include "fuzz_srv_common.h"
#include "util/cursor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The RopLogon on the jar's context must succeed; its handle is not needed by the target:
 * inputs name it through their own handle table. */
static void logon(fz_srv *s, fz_jar *jar)
{
	mh_buf rops = MH_BUF_INIT, body = MH_BUF_INIT, out = MH_BUF_INIT;
	uint32_t code = 1;
	mh_arena a;
	mh_cursor c;
	mh_emsmdb_execute_response r;
	mh_rpc_ext_chain ch;
	mh_rop_response_buffer rb;
	fz_srv_logon_rops(s, &rops);
	fz_srv_execute_body(&body, 0, 0x10008, rops.data, rops.len);
	if (mh_buf_status(&body) != S_OK)
		abort();
	fz_srv_call_body(s, MH_ENDPOINT_EMSMDB, MH_RT_EXECUTE, jar->ck, jar->n, body.data, body.len,
	                 jar, &code, &out);
	mh_arena_init(&a, 0);
	mh_cursor_init(&c, out.data, out.len, MAPI_E_CORRUPT_DATA);
	if (code != 0 || mh_emsmdb_execute_response_pull(&c, &a, &r) != S_OK ||
	    r.status_code != 0 || r.error_code != 0 ||
	    mh_rpc_ext_decode(r.rop_buffer.data, r.rop_buffer.len, 0, &a, 0, &ch) != S_OK)
		abort();
	mh_cursor_init(&c, ch.data, ch.len, MAPI_E_CORRUPT_DATA);
	if (mh_rop_response_buffer_pull(&c, &a, NULL, &rb) != S_OK || rb.count != 1 ||
	    rb.rops[0].rop_id != MH_ROP_LOGON || rb.rops[0].return_value != S_OK)
		abort();
	mh_arena_free(&a);
	mh_buf_free(&out);
	mh_buf_free(&body);
	mh_buf_free(&rops);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4 || size - 4 > 0xFFFF)
		return 0;
	fz_srv *s = fz_srv_get();
	uint32_t flags = data[0] & 7u;
	uint32_t max_rop_out = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16;
	mh_buf body = MH_BUF_INIT;
	fz_jar jar;
	fz_jar_init(&jar);
	if (fz_srv_open(s, MH_ENDPOINT_EMSMDB, &jar) != S_OK)
		abort();
	logon(s, &jar);
	fz_srv_execute_body(&body, flags, max_rop_out, data + 4, size - 4);
	if (mh_buf_status(&body) != S_OK)
		abort();
	/* An exactly sized copy, so that ASan sees a read past the body. */
	uint8_t *copy = malloc(body.len);
	if (copy == NULL)
		abort();
	memcpy(copy, body.data, body.len);
	fz_srv_call(s, MH_ENDPOINT_EMSMDB, MH_RT_EXECUTE, jar.ck, jar.n, copy, body.len, &jar,
	            NULL);
	fz_srv_close(s, MH_ENDPOINT_EMSMDB, &jar);
	free(copy);
	mh_buf_free(&body);
	return 0;
}
