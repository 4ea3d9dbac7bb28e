/*
 * What the session layer's files share: the session, endpoint and store structures behind the
 * public handles of mapihttp/session.h, and the primitives the object and scan code build on.
 */
#ifndef MH_SESSION_SESSION_INTERNAL_H
#define MH_SESSION_SESSION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autodiscover/discover.h"
#include "codec/rop.h"
#include "mapihttp/session.h"
#include "session/emsmdb_client.h"
#include "session/nspi_client.h"
#include "transport/loop.h"
#include "util/arena.h"
#include "util/diag.h"

/* Longest mh_session_errmsg() text kept. */
#define MH_SESSION_ERRMSG_MAX 512u
/* ecWrongServer redirects followed by one open before MAPI_E_UNCONFIGURED. */
#define MH_SESSION_MAX_REDIRECTS 3u
/* Closed objects' handles a store keeps for its next Execute before it sends them alone. */
#define MH_STORE_MAX_RELEASES 64u
/* Logons one EMSMDB session context carries (LogonId is a byte; 0xFF is never used). */
#define MH_SESSION_MAX_LOGONS 255u

/*
 * One EMSMDB session context, shared by every store whose mailbox it serves: a MailStore URL
 * (…/mapi/emsmdb/?MailboxId=…) and the logons on it. Connected on first use; Disconnected
 * when its last store closes.
 */
typedef struct mh_endpoint {
	char *url;
	mh_emsmdb_client *client;
	uint32_t logons;                             /* stores using it */
	uint8_t used_ids[MH_SESSION_MAX_LOGONS + 1]; /* LogonIds in use */
	struct mh_endpoint *next;
	/* Connects sent after the first: a context Connected again has lost every logon, like
	 * one the client re-created (see mh_store.ctx_generation). */
	uint32_t reconnects;
	bool connected_once;
} mh_endpoint;

struct mh_session {
	mh_session_options opts; /* strings point into arena; the secret into secret */
	char *secret;            /* the copied password or token (wiped on close) */
	size_t secret_len;
	mh_transport *transport;
	bool own_transport;
	mh_loop *loop;
	mh_ad_cache *cache;
	GUID client_guid;        /* X-ClientInfo of every context of this session */
	uint32_t client_counter; /* next context's counter */
	mh_session_info info;    /* strings in arena */
	mh_ad_pox self;          /* the identity's Autodiscover settings (in arena) */
	mh_nspi_client *nspi;    /* bound on first use (resolve, upgrade, redirects) */
	mh_endpoint *endpoints;
	mh_store *primary;
	mh_store *stores;         /* every open store, primary included (linked by next) */
	mh_arena arena;           /* lives as long as the session */
	uint64_t requests_closed; /* requests of clients already freed */
	char errmsg[MH_SESSION_ERRMSG_MAX];
	/* The loop runs over this shim, which counts every request on its way to transport:
	 * mh_session_request_count() sees Autodiscover, retries and PINGs alike. */
	mh_transport counter;
	uint64_t requests;
};

struct mh_store {
	mh_session *s;
	mh_endpoint *ep;
	uint8_t logon_id;
	uint32_t logon_handle;
	/* Bumped every time the store had to log on again (its session context was lost): every
	 * server handle an object holds from an older generation is gone. */
	uint32_t generation;
	struct mh_rop_logon_resp logon; /* the last RopLogon answer (strings in arena) */
	mh_store_info info;             /* strings in arena */
	uint32_t open_objects;          /* folders, tables and messages not yet closed */
	mh_arena arena;
	mh_store *next;
	/* ep's context generation (mh_emsmdb_client_generation() + ep->reconnects) when this
	 * store last logged on: a context that another store's request re-created has lost this
	 * store's logon too. */
	uint32_t ctx_generation;
	/* Handles of closed objects, released with the store's next Execute (a RopRelease has
	 * no response, so it rides along at the end of any request for free). */
	uint32_t releases[MH_STORE_MAX_RELEASES];
	uint32_t n_releases;
	uint32_t release_generation; /* the generation they belong to */
};

/* ---- session primitives (session.c) ---- */

/*
 * Records a failure: mh_session_errmsg(s) and mh_error_last() get the formatted line (never
 * give it a secret). Returns st.
 */
mh_status mh__session_fail(mh_session *s, mh_status st, const char *fmt, ...) MH_PRINTF(3, 4);
/* Clears mh_session_errmsg(). */
void mh__session_ok(mh_session *s);

/* mh_loop_now() + the per-call timeout. */
uint64_t mh__session_deadline(mh_session *s);

/* Autodiscover options with the session's credentials, URL, cache and timeouts (email NULL). */
void mh__session_discover_options(mh_session *s, mh_ad_discover_options *o);

/* EMSMDB / NSPI client options for url with the session's credentials, identity, timeouts,
 * retry policy and the next X-ClientInfo counter. Strings are borrowed from s and url. */
void mh__session_emsmdb_options(mh_session *s, const char *url, mh_emsmdb_client_options *o);
void mh__session_nspi_options(mh_session *s, const char *url, mh_nspi_client_options *o);

/* The session's NSPI client, bound (on the identity's AddressBook URL) on first use. */
mh_status mh__session_nspi(mh_session *s, mh_nspi_client **out);

/* Counts the requests of a client about to be freed into requests_closed. */
void mh__session_count_requests(mh_session *s, const mh_sctx_stats *st);

/* A copy of in in a (NULL gives NULL and S_OK); the status of mh_arena_strndup. */
mh_status mh__arena_str(mh_arena *a, const char *in, const char **out);

/* ---- store primitives (store.c) ---- */

/*
 * Runs one Execute of the store's endpoint: args->rops carry the store's logon_id (the caller
 * sets it) and handle indexes into args->handles, which the caller fills with the store's
 * logon_handle and the object handles it holds. Synchronous, with the session's deadline.
 *
 * When the session context was lost (reset), the store logs on again (new logon_handle,
 * generation + 1) and this returns MAPI_E_END_OF_SESSION without running the ROPs: the caller
 * re-opens what it needs (its handles are stale) and tries once more. Other statuses are those
 * of mh_emsmdb_client_execute_sync, recorded with mh__session_fail.
 */
mh_status mh__store_execute(mh_store *st, const mh_emsmdb_execute_args *args,
                            mh_emsmdb_execute_result *out);

/*
 * Queues the release of an object handle of the store's current generation: it goes with the
 * store's next Execute (or now, alone, when MH_STORE_MAX_RELEASES are waiting). Failures are
 * not reported: a handle left open lives on the server until the context ends.
 */
void mh__store_release_later(mh_store *st, uint32_t handle);

/* A ROP ReturnValue as a caller sees it (MAPI_E_* unchanged; ecNullObject/ecInvalidObject as
 * MAPI_E_INVALID_OBJECT; ecAccessDenied as MAPI_E_NO_ACCESS; ecNotFound as MAPI_E_NOT_FOUND;
 * others MAPI_E_CALL_FAILED), recorded with the ROP's name and the server's code. */
mh_status mh__store_rop_fail(mh_store *st, const char *rop, uint32_t return_value);

/* ---- opening and closing stores (store.c), for session.c ---- */

/* A mailbox to log on to: where it is served and the names it goes by (borrowed). */
typedef struct mh__store_target {
	mh_mailbox_kind kind;
	const char *smtp_address; /* the address that Autodiscovers it */
	const char *essdn;        /* the Essdn RopLogon carries */
	const char *mailstore_url;
	const char *display_name; /* may be NULL */
} mh__store_target;

/*
 * Connects to the target's endpoint (one per MailStore URL, shared; Connect with the identity's
 * DN on first use), logs on with a LogonId free on that endpoint and follows ecWrongServer
 * through NSPI GetMailboxUrl, at most MH_SESSION_MAX_REDIRECTS times. The store is linked into
 * s->stores. Failures are recorded with mh__session_fail.
 */
mh_status mh__store_open(mh_session *s, const mh__store_target *t, mh_store **out);

/* Logs off and frees st (the primary too); Disconnects its endpoint after its last logon. */
void mh__store_free(mh_store *st);

/* Disconnects and frees an endpoint no store uses any more. */
void mh__session_endpoint_release(mh_session *s, mh_endpoint *ep);

#endif
