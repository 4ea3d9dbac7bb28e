/*
 * The client's EMSMDB session context (one per mailbox endpoint URL) as asynchronous operations
 * on the event loop: Connect, Execute (with RopBackoff, RopBufferTooSmall and server-busy
 * handling), Disconnect, PING and keep-alive, and the recovery shared with the NSPI client.
 */
#ifndef MH_SESSION_EMSMDB_CLIENT_H
#define MH_SESSION_EMSMDB_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec/emsmdb.h"
#include "codec/mapihttp.h"
#include "codec/rop.h"
#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"
#include "mapihttp/sys/transport.h"
#include "transport/loop.h"
#include "transport/mapi_ctx.h"
#include "util/arena.h"
#include "util/buf.h"

/* ==== Shared by the EMSMDB and NSPI clients: one session context with recovery ========== */

/*
 * How a failed HTTP request is sent again. Attempts count every send of one request (the first
 * included). The wait before attempt n+1 is Retry-After when the server gave one, else
 * base_ms * 2^(n-1); either is capped at cap_ms and then jittered down by up to a quarter
 * (drawn from a splitmix64 generator seeded with seed), so many contexts that failed together
 * do not come back together.
 */
typedef struct mh_retry_policy {
	unsigned max_attempts; /* 0: 4 */
	uint32_t base_ms;      /* 0: 250 */
	uint32_t cap_ms;       /* 0: 10000 */
	uint64_t seed;
} mh_retry_policy;

#define MH_RETRY_POLICY_INIT \
	{                    \
		0, 0, 0, 0   \
	}

/* Counters of one session context (the scanner's "requests per mailbox"). */
typedef struct mh_sctx_stats {
	uint64_t requests;   /* HTTP requests started, every retry, PING and reconnect included */
	uint64_t failures;   /* HTTP requests that did not end with S_OK */
	uint64_t retries;    /* requests sent again after a 503/429 or a network failure */
	uint64_t reconnects; /* Connect/Bind sent with the old cookies after the context was lost */
	uint64_t keepalives; /* PINGs sent by the keep-alive timer */
	uint64_t bytes_out;
	uint64_t bytes_in;
} mh_sctx_stats;

typedef struct mh_sctx mh_sctx;

/*
 * What the owning client (EMSMDB or NSPI) does for the shared core. reconnect_body writes the
 * Connect/Bind body sent with the old cookies; reconnected judges its answer (S_OK: the new
 * context is up; the owner keeps what it needs from r). keepalive_failed (may be NULL) hears
 * of a keep-alive PING that failed; the context is left as it is and the next operation meets
 * the failure itself.
 */
typedef struct mh_sctx_hooks {
	mh_mapihttp_request_type reconnect_type;
	mh_status (*reconnect_body)(void *owner, mh_buf *b);
	mh_status (*reconnected)(void *owner, const mh_mapi_result *r);
	void (*keepalive_failed)(void *owner, mh_status st, const char *message);
	void *owner;
} mh_sctx_hooks;

/*
 * The end of one request. st is the final status: r->status, or MAPI_E_END_OF_SESSION after
 * the context was lost and a reconnect was tried (reset true: every logon and handle of the
 * old context is gone, whether the reconnect worked or not; mh_sctx_connected() tells), or a
 * failure to send again. r is the last answer (NULL when none: a failed resend or reconnect
 * that never got one). message is the one-line detail ("" on success). Runs from the loop;
 * the owner may free everything from here.
 */
typedef void (*mh_sctx_done)(void *owner, mh_status st, const mh_mapi_result *r,
                             const char *message, bool reset);

typedef struct mh_sctx_options {
	mh_mapi_ctx_options ctx;
	mh_retry_policy retry;
	bool keep_alive;
	mh_sctx_hooks hooks;
} mh_sctx_options;

/*
 * Fills *so (hooks left empty) from an endpoint client's options *o: the EMSMDB and the NSPI
 * client options name their shared fields alike (url, auth, client_guid, client_counter,
 * client_application, expiration_ms, connect_timeout_ms, total_timeout_ms, retry, keep_alive).
 */
#define MH_SCTX_OPTIONS_FROM(so, o)                                        \
	do {                                                               \
		memset((so), 0, sizeof(*(so)));                            \
		(so)->ctx = (mh_mapi_ctx_options)MH_MAPI_CTX_OPTIONS_INIT; \
		(so)->ctx.url = (o)->url;                                  \
		(so)->ctx.auth = (o)->auth;                                \
		(so)->ctx.client_guid = (o)->client_guid;                  \
		(so)->ctx.client_counter = (o)->client_counter;            \
		(so)->ctx.client_application = (o)->client_application;    \
		(so)->ctx.expiration_ms = (o)->expiration_ms;              \
		(so)->ctx.connect_timeout_ms = (o)->connect_timeout_ms;    \
		(so)->ctx.total_timeout_ms = (o)->total_timeout_ms;        \
		(so)->retry = (o)->retry;                                  \
		(so)->keep_alive = (o)->keep_alive;                        \
	} while (0)

/* MAPI_E_INVALID_PARAMETER, MAPI_E_NOT_ENOUGH_MEMORY, mh_mapi_ctx_new's failures. */
mh_status mh_sctx_new(mh_sctx **out, mh_loop *loop, const mh_sctx_options *o);
/* Cancels the running request and every timer; NULL is a no-op. */
void mh_sctx_free(mh_sctx *s);

/*
 * Sends one request (body copied) and calls done once. safe_to_resend: the request may be
 * sent again after a network failure (PING, Connect, Disconnect, Bind, Unbind, NSPI reads);
 * an Execute is not, since a lost answer may follow work the server did. 503/429 is resent
 * for every type: the server refused it without running it. MAPI_E_BUSY while another
 * operation runs (a keep-alive PING in flight is cancelled instead); mh_mapi_ctx_send's
 * failures. done is never called when this fails.
 */
mh_status mh_sctx_send(mh_sctx *s, mh_mapihttp_request_type type, const void *body, size_t len,
                       bool safe_to_resend, mh_sctx_done done);

/* Marks the context connected (keep-alive runs) or gone (keep-alive stops, cookies dropped). */
void mh_sctx_set_connected(mh_sctx *s, bool connected);
bool mh_sctx_connected(const mh_sctx *s);
/* True while an operation (not a keep-alive PING) runs or waits to be sent again. */
bool mh_sctx_busy(const mh_sctx *s);
/* How often the context was re-created after a loss; starts at 0. */
uint32_t mh_sctx_generation(const mh_sctx *s);
void mh_sctx_stats_get(const mh_sctx *s, mh_sctx_stats *out);
mh_loop *mh_sctx_loop(const mh_sctx *s);
mh_mapi_ctx *mh_sctx_mapi_ctx(const mh_sctx *s);
/* A wait of at most cap_ms (0: policy cap) jittered down by up to a quarter. */
uint32_t mh_sctx_jitter(mh_sctx *s, uint32_t ms, uint32_t cap_ms);
/*
 * Runs fn(ud) after delay_ms on the loop, as part of the running operation: the context stays
 * busy, and free cancels it. One such wait at a time. MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_sctx_wait(mh_sctx *s, uint32_t delay_ms, void (*fn)(void *ud), void *ud);
/* Cancels the running operation (its done never runs); keep-alive goes on. */
void mh_sctx_cancel(mh_sctx *s);
/* A new session context that carries the old cookies (the next request must be a Connect or
 * Bind), with the X-ClientInfo counter + 1. MAPI_E_BUSY while a request runs. */
mh_status mh_sctx_restart(mh_sctx *s);
/* Ends an operation that ended without a request (after mh_sctx_wait): the context is idle. */
void mh_sctx_idle(mh_sctx *s);

/* ==== EMSMDB client ===================================================================== */

/* Default MaxRopOut (MS-OXCRPC 4.2) and the most a server accepts without packed buffers. */
#define MH_EMSMDB_MAX_ROP_OUT_DEFAULT 0x18008u
#define MH_EMSMDB_MAX_ROP_OUT_LIMIT   0x40000u

/* RopLogon flags a MAPI client uses for its own, delegate, shared and archive mailboxes. */
#define MH_EMSMDB_LOGON_FLAGS 0x01u
#define MH_EMSMDB_OPEN_FLAGS  0x0100040Cu

typedef struct mh_emsmdb_client mh_emsmdb_client;

typedef struct mh_emsmdb_client_options {
	unsigned version; /* 1 */
	/* The mailbox's MailStore URL: http(s)://host/mapi/emsmdb/?MailboxId=... Copied. */
	const char *url;
	mh_transport_auth auth; /* copied; the secret is wiped on free */
	/* The identity's own LegacyDN: every Connect carries it, whichever mailbox the endpoint
	 * serves (wire.md §0 step 5). Copied. */
	const char *user_dn;
	GUID client_guid;        /* X-ClientInfo */
	uint32_t client_counter; /* X-ClientInfo counter of this context; +1 on each reconnect */
	const char *client_application; /* NULL: MH_MAPIHTTP_CLIENT_APPLICATION */
	uint32_t expiration_ms;         /* X-ExpirationInfo asked for; 0: the server's default */
	uint32_t connect_timeout_ms;
	uint32_t total_timeout_ms;
	/* Execute Flags: how the answer may be built. 0 allows compression and XorMagic (both
	 * are decoded); MH_EXECUTE_NO_COMPRESSION | MH_EXECUTE_NO_XORMAGIC asks for plain. */
	uint32_t execute_flags;
	uint32_t max_rop_out; /* 0: MH_EMSMDB_MAX_ROP_OUT_DEFAULT */
	mh_retry_policy retry;
	/* Longest RopBackoff or server-busy (0x6BB) wait honoured, ms; 0: 30000. */
	uint32_t backoff_cap_ms;
	/* Rounds of RopBackoff / 0x6BB / RopBufferTooSmall one Execute may take; 0: 8. */
	unsigned max_rounds;
	/* PING when idle for half the server's X-ExpirationInfo (a loop timer). */
	bool keep_alive;
	/* Told when a keep-alive PING failed (may be NULL; must not free the client). */
	void (*on_keepalive_failure)(mh_emsmdb_client *c, mh_status st, void *payload);
	void *payload;
} mh_emsmdb_client_options;

#define MH_EMSMDB_CLIENT_OPTIONS_INIT                                                              \
	{                                                                                          \
		1, NULL, {MH_AUTH_NONE, NULL, NULL}, NULL, {0, 0, 0, {0}}, 0, NULL, 0, 0, 0, 0, 0, \
		    MH_RETRY_POLICY_INIT, 0, 0, true, NULL, NULL                                   \
	}

/* What Connect gave back; strings live as long as the client or until the next Connect. */
typedef struct mh_emsmdb_connect_info {
	uint32_t error_code; /* the server's Connect ErrorCode */
	uint32_t polls_max, retry_count, retry_delay;
	const char *dn_prefix;
	const char *display_name; /* the identity's display name, UTF-8 */
	const char *server_application;
} mh_emsmdb_connect_info;

/*
 * The end of an operation. st: S_OK or why it failed (see each operation); reset: the session
 * context was lost and re-created (or could not be): every logon and handle is gone, log on
 * again and replay what was read-only. The detail is mh_emsmdb_client_errmsg(c). The client
 * may be freed from here.
 */
typedef void (*mh_emsmdb_done)(mh_emsmdb_client *c, mh_status st, bool reset, void *payload);

/*
 * A client on loop (borrowed; it must outlive the client). Nothing is sent yet.
 * MAPI_E_INVALID_PARAMETER (no options, version != 1, no url or user_dn, a URL that is not an
 * EMSMDB endpoint, a non-ASCII user_dn), MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_emsmdb_client_new(mh_emsmdb_client **out, mh_loop *loop,
                               const mh_emsmdb_client_options *o);
/* Cancels what runs (its done is not called), stops keep-alive; NULL is a no-op. */
void mh_emsmdb_client_free(mh_emsmdb_client *c);

/*
 * Connect (UserDN, Flags 0, code page 1252, LCIDs 0x409). done's st: S_OK; the Connect
 * ErrorCode mapped (mh_emsmdb_connect_status; the server code stays in the message); a
 * failure StatusCode MAPI_E_CALL_FAILED; the transport's and mapi_ctx's statuses.
 * Sync: MAPI_E_BUSY while an operation runs; send failures.
 */
mh_status mh_emsmdb_client_connect(mh_emsmdb_client *c, mh_emsmdb_done done, void *payload);

/* Connect's ErrorCode as a MAPI client sees it (docs/internals/session.md). */
mh_status mh_emsmdb_connect_status(uint32_t error_code);

const mh_emsmdb_connect_info *mh_emsmdb_client_connect_info(const mh_emsmdb_client *c);

/*
 * One Execute. The requests and handles are borrowed until done; responses go into arena
 * (the caller's, freed by the caller). columns (may be NULL) gives the columns of a table
 * whose SetColumns ran in an earlier Execute, for decoding QueryRows.
 */
typedef struct mh_emsmdb_execute_args {
	const mh_rop_request *rops;
	uint32_t n_rops;
	const uint32_t *handles; /* the ServerObjectHandleTable sent */
	uint32_t n_handles;
	mh_arena *arena;
	const SPropTagArray *(*columns)(uint8_t logon_id, uint32_t handle, void *payload);
	void *columns_payload;
} mh_emsmdb_execute_args;

/*
 * The answer of an Execute: every response, merged over the rounds a RopBackoff or a
 * RopBufferTooSmall made, in request order (RopRelease has none, RopPending is dropped), and
 * the final handle table. Valid while done runs; the arrays live in args.arena.
 */
typedef struct mh_emsmdb_execute_result {
	mh_rop_response_buffer responses;
	uint32_t error_code;  /* the last Execute ErrorCode */
	unsigned rounds;      /* Executes sent (not counting HTTP retries) */
	unsigned backoffs;    /* RopBackoff rounds */
	unsigned too_small;   /* RopBufferTooSmall rounds */
	unsigned server_busy; /* StatusCode 0x6BB rounds */
	uint32_t max_rop_out; /* the last MaxRopOut used */
	bool indeterminate;   /* the request may have run: its answer was lost (not resent) */
} mh_emsmdb_execute_result;

typedef void (*mh_emsmdb_execute_done)(mh_emsmdb_client *c, mh_status st, bool reset,
                                       const mh_emsmdb_execute_result *r, void *payload);

/*
 * Sends args' ROPs in one extended buffer (Last) and decodes the answer against them.
 * RopBackoff: waits its longest duration (capped) and sends the ROPs it left unanswered;
 * RopBufferTooSmall: sends the unanswered ROPs again with MaxRopOut >= SizeNeeded and the
 * handle table the answer gave; Execute ErrorCode ecBufferTooSmall: once more with MaxRopOut
 * 0x40000; StatusCode 0x6BB: after Connect's RetryDelay, up to RetryCount times.
 * done's st: S_OK (the Execute worked; each ROP's own ReturnValue says how it went);
 * MAPI_E_NETWORK_ERROR / MAPI_E_TIMEOUT with r->indeterminate (never resent);
 * MAPI_E_END_OF_SESSION with reset; MAPI_E_CORRUPT_DATA (an answer that does not decode, or
 * ErrorCode ecRpcFormat), MAPI_E_TOO_BIG, MAPI_E_BUSY (backoff or busy rounds exhausted),
 * MAPI_E_CALL_FAILED (another ErrorCode or StatusCode, named in the message).
 * Sync: MAPI_E_INVALID_PARAMETER (no ROPs, no arena, an index past the handle table, a
 * buffer over 32 KiB), MAPI_E_BUSY, MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_emsmdb_client_execute(mh_emsmdb_client *c, const mh_emsmdb_execute_args *args,
                                   mh_emsmdb_execute_done done, void *payload);

/* A RopLogon outcome. */
typedef struct mh_emsmdb_logon_result {
	mh_status status; /* the ReturnValue as a MAPI client sees it (mh_emsmdb_logon_status) */
	uint32_t return_value; /* as the server sent it */
	uint32_t handle;       /* the logon's server handle (S_OK) */
	uint8_t logon_id;
	const struct mh_rop_logon_resp *logon; /* FIDs, ResponseFlags, MailboxGuid, ReplGuid... */
	bool wrong_server;       /* ecWrongServer: logon->server_name is where the mailbox lives */
	const char *server_name; /* the redirect's server DN, or NULL */
} mh_emsmdb_logon_result;

typedef void (*mh_emsmdb_logon_done)(mh_emsmdb_client *c, mh_status st, bool reset,
                                     const mh_emsmdb_logon_result *r, void *payload);

/*
 * RopLogon (LogonFlags 0x01, OpenFlags 0x0100040C, Essdn) with LogonId logon_id, output handle
 * index 0. done's st is the Execute's (see execute); when it is S_OK, r->status is the logon's
 * own outcome: S_OK, MAPI_E_UNCONFIGURED (ecWrongServer, r->server_name), MAPI_E_NO_ACCESS
 * (ecLoginPerm, ecAccessDenied, ecProfileNotConfigured), MAPI_E_UNKNOWN_ENTRYID (ecUnknownUser,
 * ecNotFound: the Essdn names no mailbox), MAPI_E_LOGON_FAILED (ecLoginFailure,
 * ecMailboxDisabled), MAPI_E_BUSY (ecServerPaused, ecMailboxInTransit), others unchanged when
 * they are MAPI_E_* values, else MAPI_E_CALL_FAILED. r's pointers live in arena.
 */
mh_status mh_emsmdb_client_logon(mh_emsmdb_client *c, uint8_t logon_id, const char *essdn,
                                 mh_arena *arena, mh_emsmdb_logon_done done, void *payload);

mh_status mh_emsmdb_logon_status(uint32_t return_value);

/* Disconnect: st S_OK (the client is then disconnected; keep-alive stops), or why it failed. */
mh_status mh_emsmdb_client_disconnect(mh_emsmdb_client *c, mh_emsmdb_done done, void *payload);

/* PING (reachability and keep-alive). */
mh_status mh_emsmdb_client_ping(mh_emsmdb_client *c, mh_emsmdb_done done, void *payload);

/* ---- synchronous helpers: start the operation and run the loop until it is done ---- */

/* Each returns the operation's status (or the loop's, e.g. MAPI_E_TIMEOUT at deadline_ms
 * of mh_loop_now(); 0: none). reset may be NULL. */
mh_status mh_emsmdb_client_connect_sync(mh_emsmdb_client *c, uint64_t deadline_ms, bool *reset);
mh_status mh_emsmdb_client_execute_sync(mh_emsmdb_client *c, const mh_emsmdb_execute_args *args,
                                        mh_emsmdb_execute_result *out, uint64_t deadline_ms,
                                        bool *reset);
/* out's pointers live in arena. */
mh_status mh_emsmdb_client_logon_sync(mh_emsmdb_client *c, uint8_t logon_id, const char *essdn,
                                      mh_arena *arena, mh_emsmdb_logon_result *out,
                                      uint64_t deadline_ms, bool *reset);
mh_status mh_emsmdb_client_disconnect_sync(mh_emsmdb_client *c, uint64_t deadline_ms);
mh_status mh_emsmdb_client_ping_sync(mh_emsmdb_client *c, uint64_t deadline_ms, bool *reset);

/* ---- state ---- */

/* One line on the last failure; "" when none. Valid until the next operation ends. */
const char *mh_emsmdb_client_errmsg(const mh_emsmdb_client *c);
bool mh_emsmdb_client_connected(const mh_emsmdb_client *c);
bool mh_emsmdb_client_busy(const mh_emsmdb_client *c);
/* How often the context was lost and re-created. */
uint32_t mh_emsmdb_client_generation(const mh_emsmdb_client *c);
void mh_emsmdb_client_stats(const mh_emsmdb_client *c, mh_sctx_stats *out);
const char *mh_emsmdb_client_url(const mh_emsmdb_client *c);

#endif
