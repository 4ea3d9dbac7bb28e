/*
 * One MAPI/HTTP session context as a client keeps it (MS-OXCMAPIHTTP 2.2, 3.1.5): the
 * endpoint, the credentials, the cookie jar, the X-RequestId/X-ClientInfo counters, and the
 * request/response exchange over the transport with the response stream parsed as it arrives.
 */
#ifndef MH_TRANSPORT_MAPI_CTX_H
#define MH_TRANSPORT_MAPI_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/mapihttp.h"
#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"
#include "mapihttp/sys/transport.h"
#include "transport/loop.h"

typedef struct mh_mapi_ctx mh_mapi_ctx;

typedef struct mh_mapi_ctx_options {
	unsigned version; /* 1 */
	/*
	 * The endpoint from Autodiscover: http(s)://host/mapi/emsmdb/?MailboxId=... (mailbox) or
	 * http(s)://host/mapi/nspi/?MailboxId=... (address book). Copied.
	 */
	const char *url;
	/* Copied; the copy of the secret is wiped when the context is freed. */
	mh_transport_auth auth;
	/* X-ClientInfo: the GUID of the client instance and this session context's counter. */
	GUID client_guid;
	uint32_t client_counter;
	/* X-ClientApplication; NULL: MH_MAPIHTTP_CLIENT_APPLICATION. Copied. */
	const char *client_application;
	/* Sent as X-ExpirationInfo (the idle lifetime asked for, ms); 0: not sent. */
	uint32_t expiration_ms;
	uint32_t connect_timeout_ms; /* 0: the transport's default */
	uint32_t total_timeout_ms;   /* per request; 0: none */
	size_t max_body;             /* response body bytes; 0: 16 MiB */
	size_t max_cookies;          /* cookies in the jar; 0: 32 */
	size_t max_cookie_bytes;     /* name + value of one cookie; 0: 4096 */
} mh_mapi_ctx_options;

#define MH_MAPI_CTX_OPTIONS_INIT                                                               \
	{                                                                                      \
		1, NULL, {MH_AUTH_NONE, NULL, NULL}, {0, 0, 0, {0}}, 0, NULL, 0, 0, 0, 0, 0, 0 \
	}

#define MH_MAPI_CTX_MAX_BODY_DEFAULT ((size_t)16 << 20)

/* Idle timeout of a request while the server's X-PendingPeriod is unknown. */
#define MH_MAPI_CTX_IDLE_DEFAULT_MS 60000u

/*
 * The outcome of one request. Pointers are valid while the done callback runs; a callback
 * that needs them later copies them.
 */
typedef struct mh_mapi_result {
	/*
	 * S_OK only for HTTP 200 with "X-ResponseCode: 0", no non-zero X-ResponseCode after DONE
	 * and a complete response stream. Otherwise: a transport failure as it came
	 * (MAPI_E_NETWORK_ERROR, MAPI_E_TIMEOUT); HTTP 401 MAPI_E_LOGON_FAILED; 403
	 * MAPI_E_NO_ACCESS; 404 MAPI_E_NOT_FOUND; 413 MAPI_E_TOO_BIG; 429 and 503 MAPI_E_BUSY
	 * (retry_after_ms); other statuses MAPI_E_CALL_FAILED; X-ResponseCode n
	 * mh_mapihttp_response_code_status(n); an answer without X-ResponseCode
	 * MAPI_E_CALL_FAILED; a malformed stream MAPI_E_CORRUPT_DATA; a body over max_body, too
	 * many or too large cookies MAPI_E_TOO_BIG; MAPI_E_NOT_ENOUGH_MEMORY.
	 */
	mh_status status;
	const char *message; /* one line on the failure (never a secret); "" on success */
	long http_status;    /* 0 when no answer arrived */
	bool have_response_code;
	uint32_t response_code; /* the header's, or the non-zero one after DONE */
	/* The server's diagnostic text on a failure (tags and control characters removed, at
	 * most 1 KiB), or NULL. */
	const char *diagnostic;
	const uint8_t *body; /* the binary part after the meta block; NULL when len is 0 */
	size_t len;
	uint32_t expiration_ms;     /* X-ExpirationInfo; 0: absent */
	uint32_t pending_period_ms; /* X-PendingPeriod; 0: absent */
	uint32_t retry_after_ms;    /* Retry-After of a 429/503; 0: absent */
	bool have_elapsed_time;
	uint32_t elapsed_time;          /* X-ElapsedTime after DONE (gromox: seconds, spec: ms) */
	const char *start_time;         /* X-StartTime after DONE, or NULL */
	unsigned processing;            /* PROCESSING lines */
	unsigned pending;               /* PENDING keep-alive lines */
	const char *request_id;         /* the X-RequestId this request carried */
	const char *server_application; /* X-ServerApplication, or NULL */
} mh_mapi_result;

/* Called once per send that returned S_OK, from inside the loop. It may send again, or free
 * the context. */
typedef void (*mh_mapi_ctx_done)(const mh_mapi_result *r, void *payload);

typedef struct mh_mapi_ctx_stats {
	uint64_t requests;  /* started */
	uint64_t failures;  /* finished with a status other than S_OK */
	uint64_t bytes_out; /* request bodies */
	uint64_t bytes_in;  /* response entities (after transfer decoding) */
} mh_mapi_ctx_stats;

/*
 * A session context on loop's transport (the loop is borrowed and must outlive it).
 * MAPI_E_INVALID_PARAMETER (no loop or options, version != 1, a URL that is not http(s) to
 * /mapi/emsmdb/ or /mapi/nspi/ with MailboxId, a bad client_application);
 * MAPI_E_NOT_ENOUGH_MEMORY; MAPI_E_CALL_FAILED when no random GUID can be drawn.
 */
mh_status mh_mapi_ctx_new(mh_mapi_ctx **out, mh_loop *loop, const mh_mapi_ctx_options *o);

/* Cancels a running request (its done is not called), wipes the secret; NULL is a no-op. */
void mh_mapi_ctx_free(mh_mapi_ctx *c);

/*
 * Sends one request of type with body[0..len) (copied) and calls done(r, payload) once from
 * the loop. One request at a time: while one runs, MAPI_E_BUSY (the server would fail a
 * second one with X-ResponseCode 15 anyway). MAPI_E_INVALID_PARAMETER for a type the
 * endpoint does not serve or a body pointer missing; the transport's start() failures.
 * On failure done is never called.
 */
mh_status mh_mapi_ctx_send(mh_mapi_ctx *c, mh_mapihttp_request_type type, const void *body,
                           size_t len, mh_mapi_ctx_done done, void *payload);

/* True while a request runs. */
bool mh_mapi_ctx_busy(const mh_mapi_ctx *c);

/* Cancels the running request, if any; its done is not called. */
void mh_mapi_ctx_cancel(mh_mapi_ctx *c);

/*
 * A new session context on the same object: a new X-RequestId GUID with the counter from 1,
 * and client_counter for X-ClientInfo (MS-OXCMAPIHTTP allows keeping it on a reconnect).
 * keep_cookies true is a reconnect: the next Connect/Bind carries every old cookie, so the
 * server drops the old context, and its answer's cookies then replace the whole jar. false
 * starts with an empty jar. MAPI_E_BUSY while a request runs; MAPI_E_CALL_FAILED when no
 * random GUID can be drawn.
 */
mh_status mh_mapi_ctx_restart(mh_mapi_ctx *c, bool keep_cookies, uint32_t client_counter);

/* Empties the cookie jar. */
void mh_mapi_ctx_reset_cookies(mh_mapi_ctx *c);

/* The value of the jar's cookie name, or NULL; valid until the next request ends. */
const char *mh_mapi_ctx_cookie(const mh_mapi_ctx *c, const char *name);
size_t mh_mapi_ctx_cookie_count(const mh_mapi_ctx *c);

/* The last X-PendingPeriod and X-ExpirationInfo seen (ms), 0 until one was. */
uint32_t mh_mapi_ctx_pending_period(const mh_mapi_ctx *c);
uint32_t mh_mapi_ctx_expiration(const mh_mapi_ctx *c);

void mh_mapi_ctx_stats_get(const mh_mapi_ctx *c, mh_mapi_ctx_stats *out);

/* What a 401's WWW-Authenticate headers say about a Bearer token the request carried. */
typedef enum mh_bearer_refusal {
	MH_BEARER_REFUSAL_NONE = 0, /* no Bearer challenge with error="invalid_token" */
	MH_BEARER_REFUSAL_INVALID,  /* invalid_token: unknown, revoked, malformed */
	MH_BEARER_REFUSAL_EXPIRED   /* invalid_token whose error_description says it expired */
} mh_bearer_refusal;

/*
 * Reads the Bearer challenges (RFC 6750 3, in RFC 9110 11.6.1 syntax) among the n headers
 * named WWW-Authenticate. Only the error code and whether the description mentions expiry
 * are kept: the server's text is never repeated, so no message can carry what it echoes.
 */
mh_bearer_refusal mh_bearer_refusal_of(const mh_transport_header *h, size_t n);

/*
 * A random (version 4) GUID, e.g. the X-ClientInfo GUID of a client instance.
 * MAPI_E_CALL_FAILED when getrandom(2) gives no bytes.
 */
mh_status mh_mapi_random_guid(GUID *g);

#endif
