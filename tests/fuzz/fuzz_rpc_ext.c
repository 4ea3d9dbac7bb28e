/*
 * Fuzz target for the extended-buffer reader: decode the input as a
 * RopBuffer chain; whatever decodes is written again (with the options the
 * first byte picks) and must decode to the same payload.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/rpc_ext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	size_t n = size - 1;
	uint8_t *in = malloc(n ? n : 1);
	if (in == NULL)
		abort();
	if (n)
		memcpy(in, data + 1, n);
	mh_arena a;
	mh_arena_init(&a, (size_t)1 << 22);
	mh_rpc_ext_chain ch;
	size_t max_actual = sel & 0x80 ? 0xFFFF : 0;
	mh_status st = mh_rpc_ext_decode(in, n, 0, &a, max_actual, &ch);
	if (st == S_OK) {
		size_t sum = 0;
		for (size_t i = 0; i < ch.n_segs; i++)
			sum += ch.segs[i].len;
		if (sum != ch.len || ch.n_segs == 0)
			abort();
		mh_rpc_ext_options o = MH_RPC_EXT_OPTIONS_INIT;
		o.compress = sel & 1;
		o.xor_magic = (sel >> 1) & 1;
		o.max_payload = (sel >> 2) & 7 ? (size_t)((sel >> 2) & 7) * 512 : 0;
		mh_buf b = MH_BUF_INIT;
		if (mh_rpc_ext_push(&b, ch.data, ch.len, &o) != S_OK)
			abort();
		mh_rpc_ext_chain back;
		if (mh_rpc_ext_decode(b.data, b.len, 0, &a, 0, &back) != S_OK ||
		    back.len != ch.len || (ch.len && memcmp(back.data, ch.data, ch.len) != 0))
			abort();
		mh_buf_free(&b);
	} else if (st != MAPI_E_CORRUPT_DATA && st != MAPI_E_TOO_BIG) {
		abort();
	}
	mh_arena_free(&a);
	free(in);
	return 0;
}
