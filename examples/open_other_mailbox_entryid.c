/*
 * Makes the version 3 store EntryID of another user's mailbox, the seed of
 * opening that mailbox over MAPI/HTTP from one service identity.
 *
 * Usage: open_other_mailbox_entryid [MAILBOX_DN [MDB_DN [SMTP_ADDRESS]]]
 */
#include <stdio.h>
#include <string.h>

#include <mapihttp.h>

static const char *const default_mailbox_dn =
    "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice";
static const char *const default_mdb_dn =
    "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/"
    "cn=Servers/cn=EXSRV01/cn=Microsoft Private MDB";
static const char *const default_smtp = "alice@contoso.com";

/* Copies s into memory chained to the property array, as MAPI callers do. */
static mh_status dup_more(char **out, const char *s, void *root)
{
	void *p = NULL;
	mh_status st = MAPIAllocateMore((uint32_t)strlen(s) + 1, root, &p);
	if (st == S_OK) {
		memcpy(p, s, strlen(s) + 1);
		*out = p;
	}
	return st;
}

static int fail(const char *call, mh_status st)
{
	const mh_error *err = mh_error_last();
	fprintf(stderr, "%s: %s: %s\n", call, mh_status_str(st),
	        err != NULL ? err->message : mh_status_meaning(st));
	return 1;
}

int main(int argc, char **argv)
{
	const char *mailbox_dn = argc > 1 ? argv[1] : default_mailbox_dn;
	const char *mdb_dn = argc > 2 ? argv[2] : default_mdb_dn;
	const char *smtp = argc > 3 ? argv[3] : default_smtp;

	/*
	 * The four properties of CreateStoreEntryID2. The SMTP address is what
	 * makes the EntryID version 3: MAPI/HTTP needs it to Autodiscover the
	 * mailbox's own endpoint, and OpenMsgStore on a v1 EntryID fails with
	 * MAPI_E_CALL_FAILED.
	 */
	void *mem = NULL;
	mh_status st = MAPIAllocateBuffer(4 * sizeof(SPropValue), &mem);
	if (st != S_OK)
		return fail("MAPIAllocateBuffer", st);
	SPropValue *props = mem;
	props[0].ulPropTag = PR_PROFILE_MAILBOX;
	props[1].ulPropTag = PR_PROFILE_MDB_DN;
	props[2].ulPropTag = PR_FORCE_USE_ENTRYID_SERVER;
	props[2].Value.b = 1;
	props[3].ulPropTag = PR_PROFILE_USER_SMTP_ADDRESS_W;
	st = dup_more(&props[0].Value.lpszA, mailbox_dn, props);
	if (st == S_OK)
		st = dup_more(&props[1].Value.lpszA, mdb_dn, props);
	if (st == S_OK)
		st = dup_more(&props[3].Value.lpszW, smtp, props);
	if (st != S_OK) {
		MAPIFreeBuffer(props);
		return fail("MAPIAllocateMore", st);
	}

	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	st = mh_create_store_entryid2(4, props, OPENSTORE_HOME_LOGON | OPENSTORE_TAKE_OWNERSHIP,
	                              &cb, &eid);
	MAPIFreeBuffer(props);
	if (st != S_OK)
		return fail("mh_create_store_entryid2", st);

	const uint8_t *bytes = (const uint8_t *)eid;
	for (uint32_t i = 0; i < cb; i++)
		printf("%02X", bytes[i]);
	printf("\n");

	/*
	 * Next, the EntryID is handed to mh_session_open_msg_store on a session
	 * opened with the service identity: it Autodiscovers the SMTP address
	 * and logs on to the mailbox named by the mailbox DN.
	 */
	MAPIFreeBuffer(eid);
	return 0;
}
