/*
 * The client's NSPI (address book) session context (one per AddressBook URL) as asynchronous
 * operations on the event loop: Bind, Unbind, ResolveNames, DNToMId, GetProps, GetMailboxUrl,
 * GetAddressBookUrl and PING, with the recovery of the EMSMDB client (emsmdb_client.h).
 */
#ifndef MH_SESSION_NSPI_CLIENT_H
#define MH_SESSION_NSPI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/nspi.h"
#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"
#include "session/emsmdb_client.h"
#include "transport/loop.h"
#include "util/arena.h"

typedef struct mh_nspi_client mh_nspi_client;

typedef struct mh_nspi_client_options {
	unsigned version; /* 1 */
	/* The AddressBook URL: http(s)://host/mapi/nspi/?MailboxId=... Copied. */
	const char *url;
	mh_transport_auth auth;
	GUID client_guid;
	uint32_t client_counter;
	const char *client_application;
	uint32_t expiration_ms;
	uint32_t connect_timeout_ms;
	uint32_t total_timeout_ms;
	mh_retry_policy retry;
	bool keep_alive;
	/* Told when a keep-alive PING failed (may be NULL; must not free the client). */
	void (*on_keepalive_failure)(mh_nspi_client *c, mh_status st, void *payload);
	void *payload;
} mh_nspi_client_options;

#define MH_NSPI_CLIENT_OPTIONS_INIT                                                    \
	{                                                                              \
		1, NULL, {MH_AUTH_NONE, NULL, NULL}, {0, 0, 0, {0}}, 0, NULL, 0, 0, 0, \
		    MH_RETRY_POLICY_INIT, true, NULL, NULL                             \
	}

/* PidTagObjectType, asked for by resolve_names. */
#define MH_NSPI_TAG_OBJECT_TYPE 0x0FFE0003u

/* One name given to resolve_names. Strings are UTF-8 and live in the caller's arena. */
typedef struct mh_nspi_resolved {
	uint32_t mid; /* MH_NSPI_MID_UNRESOLVED / _AMBIGUOUS / _RESOLVED as the server said */
	bool resolved;
	const char *display_name;
	const char *email_address; /* PidTagEmailAddress_W: the legacyExchangeDN */
	const char *address_type;
	const char *smtp_address;
	const char *home_mdb; /* PR_EMS_AB_HOME_MDB: the home MDB DN (informational) */
	uint32_t display_type;
	uint32_t object_type;
	const mh_prop_row *row; /* every column as sent */
} mh_nspi_resolved;

/*
 * What an operation gave back; valid while done runs, and whatever it points to lives in the
 * arena the operation was given (or, for Bind/Unbind/PING, which take none, until the next
 * operation starts).
 */
typedef struct mh_nspi_result {
	uint32_t error_code;           /* the NSPI ErrorCode */
	const mh_nspi_response *resp;  /* the decoded answer (NULL without one) */
	uint32_t n_names;              /* resolve_names */
	const mh_nspi_resolved *names; /* resolve_names: one per input name, same order */
	const char *url;               /* get_mailbox_url, get_address_book_url */
	const SPropTagArray *columns;  /* resolve_names: the tags asked for */
} mh_nspi_result;

/*
 * st: S_OK; the NSPI ErrorCode as a status when it is a failure (MAPI_E_NOT_FOUND,
 * MAPI_E_NO_ACCESS, ...: the code stays in the message); MAPI_E_CALL_FAILED for a failure
 * StatusCode; MAPI_E_CORRUPT_DATA for an answer that does not decode; MAPI_E_END_OF_SESSION
 * with reset when the context was lost (Bind again was tried; mh_nspi_client_bound() tells
 * whether it worked: MIds of the old context may be stale); the transport's statuses.
 * The client may be freed from here.
 */
typedef void (*mh_nspi_done)(mh_nspi_client *c, mh_status st, bool reset, const mh_nspi_result *r,
                             void *payload);

/* MAPI_E_INVALID_PARAMETER (no options, version != 1, a URL that is not /mapi/nspi/),
 * MAPI_E_NOT_ENOUGH_MEMORY. Nothing is sent yet. */
mh_status mh_nspi_client_new(mh_nspi_client **out, mh_loop *loop, const mh_nspi_client_options *o);
void mh_nspi_client_free(mh_nspi_client *c);

/*
 * Every operation below: sync MAPI_E_INVALID_PARAMETER for missing arguments, MAPI_E_BUSY
 * while another runs, MAPI_E_NOT_ENOUGH_MEMORY, send failures; then done once.
 */

/* Bind with the default STAT (code page 1252, locales 0x409); keeps the ServerGuid. */
mh_status mh_nspi_client_bind(mh_nspi_client *c, mh_nspi_done done, void *payload);
/* Unbind; the client is unbound afterwards when it succeeded (ErrorCode 1 UnbindSuccess). */
mh_status mh_nspi_client_unbind(mh_nspi_client *c, mh_nspi_done done, void *payload);
mh_status mh_nspi_client_ping(mh_nspi_client *c, mh_nspi_done done, void *payload);

/*
 * ResolveNames (ANR) of n UTF-8 names with PidTagDisplayName_W, PidTagEmailAddress_W,
 * PidTagAddressType_W, PidTagSmtpAddress_W, PR_EMS_AB_HOME_MDB_W, PidTagDisplayType,
 * PidTagObjectType and PidTagEntryId. A name with no match (MId 0, or 1 as gromox says) is
 * resolved false; the rest are in r->names. names and the strings are copied.
 */
mh_status mh_nspi_client_resolve_names(mh_nspi_client *c, const char *const *names, uint32_t n,
                                       mh_arena *arena, mh_nspi_done done, void *payload);

/* DNToMId: r->resp->u.dn_to_mid.mids, one per DN (0: unknown). */
mh_status mh_nspi_client_dntomid(mh_nspi_client *c, const char *const *dns, uint32_t n,
                                 mh_arena *arena, mh_nspi_done done, void *payload);

/* GetProps of the object mid: r->resp->u.get_props.values (ErrorCode 0x00040380 is S_OK,
 * the missing ones as PT_ERROR). */
mh_status mh_nspi_client_get_props(mh_nspi_client *c, uint32_t mid, const SPropTagArray *tags,
                                   mh_arena *arena, mh_nspi_done done, void *payload);

/*
 * The MailStore URL (r->url) of a server DN (e.g. ecWrongServer's ServerName) or an MDB DN,
 * by GetMailboxUrl. For any other DN (a user's legacyExchangeDN or a mailbox Essdn), or when
 * the server answers with a URL whose MailboxId is not <guid>@<domain> (gromox for a server
 * DN), the home MDB is looked up (DNToMId, GetProps PR_EMS_AB_HOME_MDB) and asked for
 * instead. MAPI_E_NOT_FOUND when neither names a mailbox.
 */
mh_status mh_nspi_client_get_mailbox_url(mh_nspi_client *c, const char *dn, mh_arena *arena,
                                         mh_nspi_done done, void *payload);

/* The AddressBook URL (r->url) for a user DN ("" or NULL: the caller). */
mh_status mh_nspi_client_get_address_book_url(mh_nspi_client *c, const char *user_dn,
                                              mh_arena *arena, mh_nspi_done done, void *payload);

/* ---- synchronous helpers: run the loop until done (deadline: mh_loop_now() value, 0 none).
 * out (may be NULL) gets the result; its pointers live in arena. ---- */
mh_status mh_nspi_client_bind_sync(mh_nspi_client *c, uint64_t deadline_ms);
mh_status mh_nspi_client_unbind_sync(mh_nspi_client *c, uint64_t deadline_ms);
mh_status mh_nspi_client_ping_sync(mh_nspi_client *c, uint64_t deadline_ms, bool *reset);
mh_status mh_nspi_client_resolve_names_sync(mh_nspi_client *c, const char *const *names, uint32_t n,
                                            mh_arena *arena, mh_nspi_result *out,
                                            uint64_t deadline_ms, bool *reset);
mh_status mh_nspi_client_dntomid_sync(mh_nspi_client *c, const char *const *dns, uint32_t n,
                                      mh_arena *arena, mh_nspi_result *out, uint64_t deadline_ms,
                                      bool *reset);
mh_status mh_nspi_client_get_props_sync(mh_nspi_client *c, uint32_t mid, const SPropTagArray *tags,
                                        mh_arena *arena, mh_nspi_result *out, uint64_t deadline_ms,
                                        bool *reset);
mh_status mh_nspi_client_get_mailbox_url_sync(mh_nspi_client *c, const char *dn, mh_arena *arena,
                                              const char **url, uint64_t deadline_ms, bool *reset);
mh_status mh_nspi_client_get_address_book_url_sync(mh_nspi_client *c, const char *user_dn,
                                                   mh_arena *arena, const char **url,
                                                   uint64_t deadline_ms, bool *reset);

const char *mh_nspi_client_errmsg(const mh_nspi_client *c);
bool mh_nspi_client_bound(const mh_nspi_client *c);
bool mh_nspi_client_busy(const mh_nspi_client *c);
const GUID *mh_nspi_client_server_guid(const mh_nspi_client *c);
uint32_t mh_nspi_client_generation(const mh_nspi_client *c);
void mh_nspi_client_stats(const mh_nspi_client *c, mh_sctx_stats *out);

#endif
