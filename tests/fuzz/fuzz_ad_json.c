/*
 * Fuzzer for the Autodiscover client's JSON v2 answer parser and its URL helpers: the
 * answer must parse or fail with MAPI_E_CORRUPT_DATA; a parsed Url goes through the
 * MailboxId rewriting, which must keep everything around the parameter.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autodiscover/autodiscover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mh_arena a;
	mh_ad_json r;
	mh_arena_init(&a, (size_t)4 << 20);
	mh_status st = mh_ad_json_parse(data, size, &a, &r);
	if (st == S_OK) {
		if (r.url == NULL && r.error_code == NULL)
			abort();
		if (r.url != NULL) {
			const char *u = NULL;
			static const char id[] =
			    "01234567-89ab-cdef-0123-456789abcdef@contoso.test";
			if (mh_ad_url_with_mailbox_id(r.url, id, &a, &u) == S_OK &&
			    strstr(u, id) == NULL)
				abort();
			const char *c[MH_AD_CANDIDATES];
			(void)mh_ad_candidates(r.url, &a, c);
		}
	} else if (st != MAPI_E_CORRUPT_DATA && st != MAPI_E_TOO_BIG) {
		abort();
	}
	mh_arena_free(&a);
	return 0;
}
