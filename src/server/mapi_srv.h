/*
 * mapihttpd's MAPI/HTTP session layer: the EMSMDB (Connect, Execute, Disconnect,
 * NotificationWait, PING) and NSPI request handlers the HTTP front calls, with their session
 * contexts: MapiContext/MapiSequence cookies, one request at a time, idle expiry, reconnect
 * and per-user limits (wire.md §2.5). ROPs run in server/rop_srv.h, NSPI in server/nspi_srv.h.
 */
#ifndef MH_SERVER_MAPI_SRV_H
#define MH_SERVER_MAPI_SRV_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/status.h"
#include "server/fault.h"
#include "server/http.h"
#include "server/rop_srv.h"
#include "server/store.h"

/* Defaults of mh_srv_mapi_options. */
#define MH_SRV_MAPI_EXPIRATION        900000u  /* X-ExpirationInfo, ms: 15 min, like Exchange */
#define MH_SRV_MAPI_MIN_EXPIRATION    5000u    /* a client's X-ExpirationInfo is clamped */
#define MH_SRV_MAPI_MAX_EXPIRATION    7200000u /* to [5 s, 2 h], like Exchange */
#define MH_SRV_MAPI_CONTEXTS_PER_USER 64u      /* EMSMDB and NSPI contexts together */
#define MH_SRV_MAPI_MAX_CONTEXTS      100000u  /* all users together */
#define MH_SRV_MAPI_NOTIFICATION_WAIT 300000u  /* ms a NotificationWait is held: 5 min */

/* Names of the cookies (Exchange's). */
#define MH_SRV_MAPI_CONTEXT_COOKIE  "MapiContext"
#define MH_SRV_MAPI_SEQUENCE_COOKIE "MapiSequence"

/*
 * Milliseconds on a monotonic clock. The default reads CLOCK_MONOTONIC; tests pass their own
 * to step past an expiration without sleeping.
 */
typedef uint64_t (*mh_srv_mapi_clock)(void *payload);

typedef struct mh_srv_mapi_options {
	unsigned version;       /* 1 */
	mh_srv_rop_options rop; /* rights mode, ROP limits, ROP faults */
	uint32_t expiration;    /* ms of idleness after which a context is gone; 0: default */
	unsigned max_contexts_per_user; /* 0: default; Connect/Bind past it: MAPI_E_SESSION_LIMIT */
	unsigned max_contexts;          /* 0: default */
	uint32_t notification_wait;     /* 0: default */
	mh_srv_faults *faults;          /* the expire rule; NULL: none */
	mh_srv_mapi_clock clock;        /* NULL: CLOCK_MONOTONIC */
	void *clock_payload;
} mh_srv_mapi_options;

#define MH_SRV_MAPI_OPTIONS_INIT                                         \
	{                                                                \
		1, MH_SRV_ROP_OPTIONS_INIT, 0, 0, 0, 0, NULL, NULL, NULL \
	}

typedef struct mh_srv_mapi mh_srv_mapi;

/*
 * st (and opts->faults) must outlive the object. MAPI_E_INVALID_PARAMETER,
 * MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_srv_mapi_new(mh_srv_mapi **out, mh_srv_store *st, const mh_srv_mapi_options *opts);

/* Drops every context; call after the HTTP front has stopped. NULL is a no-op. */
void mh_srv_mapi_free(mh_srv_mapi *m);

/* The handlers for mh_srv_http_options.emsmdb and .nspi. */
mh_srv_mapi_handler mh_srv_mapi_emsmdb_handler(mh_srv_mapi *m);
mh_srv_mapi_handler mh_srv_mapi_nspi_handler(mh_srv_mapi *m);

/* Live session contexts (both endpoints), for tests and the benchmark. */
size_t mh_srv_mapi_context_count(mh_srv_mapi *m);

#endif
