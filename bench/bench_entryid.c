/*
 * Throughput of the EntryID codec: CreateStoreEntryID2 with the four
 * properties Outlook passes, parsing the result, and both in turn.
 * Prints one figure per line; no pass/fail.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mapihttp.h"

#define SECONDS 1.0

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static SPropValue props[4];

static void setup(void)
{
	memset(props, 0, sizeof(props));
	props[0].ulPropTag = PR_PROFILE_MAILBOX;
	props[0].Value.lpszA = (char *)(uintptr_t) "/o=Contoso/ou=Exchange Administrative Group "
	                                           "(FYDIBOHF23SPDLT)/cn=Recipients/cn=shared01";
	props[1].ulPropTag = PR_PROFILE_MDB_DN;
	props[1].Value.lpszA = (char *)(uintptr_t) "/o=Contoso/ou=Exchange Administrative Group "
	                                           "(FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/"
	                                           "cn=EXSRV01/cn=Microsoft Private MDB";
	props[2].ulPropTag = PR_FORCE_USE_ENTRYID_SERVER;
	props[2].Value.b = 1;
	props[3].ulPropTag = PR_PROFILE_USER_SMTP_ADDRESS_W;
	props[3].Value.lpszW = (char *)(uintptr_t) "shared01@contoso.com";
}

static void fail(const char *what, mh_status st)
{
	fprintf(stderr, "%s: %s\n", what, mh_status_str(st));
	exit(1);
}

static void create_once(uint32_t *cb, ENTRYID **eid)
{
	mh_status st = mh_create_store_entryid2(
	    4, props, OPENSTORE_HOME_LOGON | OPENSTORE_TAKE_OWNERSHIP, cb, eid);
	if (st != S_OK)
		fail("mh_create_store_entryid2", st);
}

static void parse_once(uint32_t cb, const ENTRYID *eid)
{
	mh_entryid *e = NULL;
	mh_status st = mh_entryid_parse(&e, cb, eid);
	if (st != S_OK || e->u.store.version != 3)
		fail("mh_entryid_parse", st);
	MAPIFreeBuffer(e);
}

/* Runs body for about SECONDS and prints the rate. */
#define MEASURE(name, body)                                      \
	do {                                                     \
		double t0 = now(), t;                            \
		unsigned long n = 0;                             \
		do {                                             \
			for (int i_ = 0; i_ < 1000; i_++) {      \
				body;                            \
			}                                        \
			n += 1000;                               \
			t = now() - t0;                          \
		} while (t < SECONDS);                           \
		printf("%s: %.0f ops/s\n", name, (double)n / t); \
	} while (0)

int main(void)
{
	uint32_t cb;
	ENTRYID *eid;
	setup();
	create_once(&cb, &eid);

	MEASURE("entryid_create2", {
		uint32_t c;
		ENTRYID *x;
		create_once(&c, &x);
		MAPIFreeBuffer(x);
	});
	MEASURE("entryid_parse_v3", parse_once(cb, eid));
	MEASURE("entryid_create2_parse", {
		uint32_t c;
		ENTRYID *x;
		create_once(&c, &x);
		parse_once(c, x);
		MAPIFreeBuffer(x);
	});
	MAPIFreeBuffer(eid);
	return 0;
}
