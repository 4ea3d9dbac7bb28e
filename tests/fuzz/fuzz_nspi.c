/*
 * Round-trip fuzzer for the NSPI body codec. The first byte picks the body:
 * kind = byte % MH_NSPI_KIND_COUNT, response when bit 7 is set, gromox
 * CompareMIds order when bit 6 is set. Whatever pulls must push, pull back
 * and push again to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/nspi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mh_arena a;
	mh_cursor c;
	mh_buf b1 = MH_BUF_INIT, b2 = MH_BUF_INIT;
	mh_nspi_request rq, rq2;
	mh_nspi_response rs, rs2;
	mh_nspi_kind kind;
	bool resp;
	unsigned flags;
	mh_status st;

	if (size < 1)
		return 0;
	kind = (mh_nspi_kind)((data[0] & 0x3F) % MH_NSPI_KIND_COUNT);
	resp = (data[0] & 0x80) != 0;
	flags = (data[0] & 0x40) ? MH_NSPI_PULL_CMP_GROMOX : MH_NSPI_PULL_CMP_AUTO;
	mh_arena_init(&a, (size_t)1 << 20);
	mh_cursor_init(&c, data + 1, size - 1, MAPI_E_CORRUPT_DATA);
	st = resp ? mh_nspi_response_pull(&c, &a, kind, flags, &rs)
	          : mh_nspi_request_pull(&c, &a, kind, &rq);
	if (st != S_OK) {
		if (st != MAPI_E_CORRUPT_DATA && st != MAPI_E_NO_SUPPORT && st != MAPI_E_TOO_BIG)
			abort();
		mh_arena_free(&a);
		return 0;
	}
	st = resp ? mh_nspi_response_push(&b1, &rs) : mh_nspi_request_push(&b1, &rq);
	if (st != S_OK)
		abort();
	mh_cursor_init(&c, b1.data, b1.len, MAPI_E_CORRUPT_DATA);
	/* the first pull decided the CompareMIds order; the second must follow it */
	if (resp && kind == MH_NSPI_COMPARE_MIDS)
		flags = rs.status_code == 0 && rs.u.compare_mids.gromox_order
		            ? MH_NSPI_PULL_CMP_GROMOX
		            : MH_NSPI_PULL_CMP_SPEC;
	st = resp ? mh_nspi_response_pull(&c, &a, kind, flags, &rs2)
	          : mh_nspi_request_pull(&c, &a, kind, &rq2);
	if (st != S_OK)
		abort();
	st = resp ? mh_nspi_response_push(&b2, &rs2) : mh_nspi_request_push(&b2, &rq2);
	if (st != S_OK || b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0)
		abort();
	/* fixed fields survive */
	if (resp && (rs.status_code != rs2.status_code || rs.error_code != rs2.error_code))
		abort();
	mh_buf_free(&b1);
	mh_buf_free(&b2);
	mh_arena_free(&a);
	return 0;
}
