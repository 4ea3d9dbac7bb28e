/*
 * Fuzzer for the Autodiscover client's POX answer parser: any bytes must parse or fail with
 * MAPI_E_CORRUPT_DATA, and what parses must be self-consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autodiscover/autodiscover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mh_arena a;
	mh_ad_pox r;
	mh_arena_init(&a, (size_t)4 << 20);
	mh_status st = mh_ad_pox_parse(data, size, &a, &r);
	if (st == S_OK) {
		if (r.is_error != (r.action == MH_AD_ACTION_NONE))
			abort();
		if (r.action == MH_AD_ACTION_SETTINGS && r.legacy_dn == NULL)
			abort();
		if ((r.action == MH_AD_ACTION_REDIRECT_ADDR ||
		     r.action == MH_AD_ACTION_REDIRECT_URL) &&
		    r.redirect == NULL)
			abort();
		for (size_t i = 0; i < r.n_alternatives; i++) {
			const mh_ad_alternative *x = &r.alternatives[i];
			if (x->smtp_address != NULL && strlen(x->smtp_address) > MH_AD_MAX_TEXT)
				abort();
		}
	} else if (st != MAPI_E_CORRUPT_DATA && st != MAPI_E_TOO_BIG) {
		abort();
	}
	mh_arena_free(&a);
	return 0;
}
