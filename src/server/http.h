/*
 * mapihttpd's HTTP front (libmicrohttpd): authentication, routing, request body caps, the
 * MAPI/HTTP framing of every /mapi answer (at once, or held with PENDING lines), the close,
 * 503 and stall faults, Autodiscover, and the request log. The EMSMDB and NSPI request
 * handlers plug in through mh_srv_mapi_handler.
 */
#ifndef MH_SERVER_HTTP_H
#define MH_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "codec/mapihttp.h"
#include "mapihttp/status.h"
#include "server/fault.h"
#include "server/store.h"
#include "util/arena.h"
#include "util/buf.h"

/* Default cap on a /mapi request body: X-ResponseCode 9 (Too Large) past it. */
#define MH_SRV_HTTP_DEFAULT_MAX_BODY ((size_t)1 << 20)
/* Cookies looked at per request; more give X-ResponseCode 4 (Invalid Header). */
#define MH_SRV_HTTP_MAX_COOKIES 16u
/* Longest cookie value passed to a handler; longer gives X-ResponseCode 4. */
#define MH_SRV_HTTP_MAX_COOKIE_VALUE 1024u
/* Set-Cookie headers one handler answer may carry. */
#define MH_SRV_HTTP_MAX_SET_COOKIES 4u

typedef struct mh_srv_cookie {
	const char *name;
	const char *value;
} mh_srv_cookie;

/* One well-formed, authenticated request to /mapi/emsmdb or /mapi/nspi. */
typedef struct mh_srv_mapi_request {
	unsigned endpoint;                    /* MH_ENDPOINT_EMSMDB or MH_ENDPOINT_NSPI */
	const mh_srv_recipient *principal;    /* who authenticated */
	const mh_srv_mailbox *mailbox;        /* the mailbox the URL's MailboxId names */
	const char *mailbox_id;               /* the MailboxId as the URL gave it */
	const mh_mapihttp_request_info *info; /* X-RequestType, X-RequestId, X-ClientInfo */
	const char *client_application;       /* X-ClientApplication, or NULL */
	uint32_t requested_expiration;        /* X-ExpirationInfo request header (ms), 0: none */
	const mh_srv_cookie *cookies;         /* the Cookie header's pairs, in order */
	size_t n_cookies;
	const uint8_t *body; /* the request body (NULL when empty) */
	size_t body_len;
	const char *base_url; /* "http(s)://host[:port]" the client used (Host), for URLs */
	const char *client;   /* peer address, for messages */
	bool tls;             /* the connection is HTTPS: cookies get Secure */
} mh_srv_mapi_request;

/* What a handler answers. The front writes the MAPI/HTTP headers and the response stream. */
typedef struct mh_srv_mapi_response {
	uint32_t response_code; /* X-ResponseCode; 0 on success */
	mh_buf body;            /* the binary body after the meta block (response_code 0) */
	const char *diagnostic; /* one line for the HTML page when response_code != 0 */
	/* Set-Cookie pairs; the front adds path=/mapi/<endpoint>, HttpOnly and, on HTTPS, Secure.
	 */
	mh_srv_cookie set_cookies[MH_SRV_HTTP_MAX_SET_COOKIES];
	size_t n_set_cookies;
	uint32_t expiration; /* X-ExpirationInfo (ms); 0 leaves the header out */
	unsigned rop_count;  /* for the request log; 0 when it does not apply */
	/* Hold the answer this long (ms) before DONE, sending a PENDING line every
	 * X-PendingPeriod meanwhile (the response is then chunked): NotificationWait. The hold
	 * ends early when the server stops. 0: answer at once. */
	uint32_t hold;
} mh_srv_mapi_response;

/*
 * The EMSMDB or NSPI implementation. handle() runs on the connection's thread, once per
 * request, concurrently for different connections. Strings it puts into resp live in arena
 * (freed after the answer is sent); resp->body is an mh_buf the front frees. A status other
 * than S_OK sends X-ResponseCode 1 (Unknown Failure) with mh_error_last() as the diagnostic.
 */
typedef struct mh_srv_mapi_handler {
	mh_status (*handle)(void *payload, const mh_srv_mapi_request *req, mh_arena *arena,
	                    mh_srv_mapi_response *resp);
	void *payload;
} mh_srv_mapi_handler;

typedef struct mh_srv_http_options {
	unsigned version;           /* 1 */
	int listen_fd;              /* a bound, listening socket; the server closes it */
	const char *base_url;       /* "http://127.0.0.1:8080": used when a request has no Host */
	const char *tls_cert;       /* PEM text (not a path), or NULL for plain HTTP */
	const char *tls_key;        /* PEM text, with tls_cert */
	size_t max_body;            /* /mapi request body cap; 0: MH_SRV_HTTP_DEFAULT_MAX_BODY */
	unsigned max_connections;   /* 0: 1024 */
	unsigned timeout;           /* idle connection timeout (s); 0: 300 */
	FILE *log;                  /* one line per request; NULL: none */
	uint32_t pending_period;    /* X-PendingPeriod (ms) and PENDING interval; 0: 15000 */
	mh_srv_faults *faults;      /* close, 503 and stall rules; NULL: none */
	mh_srv_mapi_handler emsmdb; /* handle NULL: X-ResponseCode 16 (Endpoint Disabled) */
	mh_srv_mapi_handler nspi;
} mh_srv_http_options;

#define MH_SRV_HTTP_OPTIONS_INIT                                               \
	{                                                                      \
		1, -1, NULL, NULL, NULL, 0, 0, 0, NULL, 0, NULL, {NULL, NULL}, \
		{                                                              \
			NULL, NULL                                             \
		}                                                              \
	}

typedef struct mh_srv_http mh_srv_http;

/*
 * Starts serving on opts->listen_fd with a thread per connection (HTTP/1.1 keep-alive).
 * st must outlive the server. Returns S_OK and *out, or MAPI_E_INVALID_PARAMETER (bad
 * options), MAPI_E_NO_SUPPORT (TLS asked for but libmicrohttpd lacks it), MAPI_E_CALL_FAILED
 * (libmicrohttpd refused to start, e.g. an unreadable certificate or key),
 * MAPI_E_NOT_ENOUGH_MEMORY. On failure listen_fd is closed too.
 */
mh_status mh_srv_http_start(mh_srv_http **out, mh_srv_store *st, const mh_srv_http_options *opts);

/*
 * Stops gracefully and frees: held answers send DONE and their body at once, no new
 * connections are accepted, requests already being handled run to completion (for at most
 * grace_ms), then every connection is closed. NULL is a no-op.
 */
void mh_srv_http_stop(mh_srv_http *h, unsigned grace_ms);

#endif
