/*
 * The transport: how mapihttp sends an HTTP request and gets its answer. An extension point:
 * the library brings libcurl (the default), an in-memory transport that hands requests to a
 * function (tests, replays of captured sessions) and a fault-injecting wrapper; a program may
 * bring its own by filling mh_transport_ops.
 *
 * Asynchronous and single-threaded: start() queues a request and returns at once; run()
 * drives I/O and calls the request's callbacks from inside run(), never from start(). One
 * transport is used from one thread at a time.
 */
#ifndef MAPIHTTP_SYS_TRANSPORT_H
#define MAPIHTTP_SYS_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapihttp/common.h"

MH_BEGIN_DECLS

/** One HTTP header. */
typedef struct mh_transport_header {
	const char *name;
	const char *value;
} mh_transport_header;

/** How a request authenticates. */
typedef enum mh_transport_auth_scheme {
	MH_AUTH_NONE = 0,
	MH_AUTH_BASIC,    /**< user + password */
	MH_AUTH_BEARER,   /**< secret is an OAuth access token */
	MH_AUTH_NTLM,     /**< user (DOMAIN\\user or UPN) + password */
	MH_AUTH_NEGOTIATE /**< Kerberos/SPNEGO with the process's credentials; user/secret unused */
} mh_transport_auth_scheme;

/**
 * Credentials. The secret (password or token) is never written to a log, an error message
 * or a process argument list by mapihttp; a transport must keep it that way.
 */
typedef struct mh_transport_auth {
	mh_transport_auth_scheme scheme;
	const char *user;
	const char *secret;
} mh_transport_auth;

/** One request. Everything it points to is read during start() only. */
typedef struct mh_transport_request {
	unsigned version;   /**< 1 */
	const char *method; /**< "POST" or "GET" */
	const char *url;    /**< http:// or https:// */
	const mh_transport_header *headers;
	size_t n_headers;
	const void *body; /**< the POST body; may be NULL when body_len is 0 */
	size_t body_len;
	mh_transport_auth auth;
	uint32_t connect_timeout_ms; /**< 0: the transport's default */
	uint32_t idle_timeout_ms;    /**< fail when no byte arrives for this long; 0: no limit */
	uint32_t total_timeout_ms;   /**< 0: no limit */
} mh_transport_request;

/** The fields of mh_transport_request a v1 caller sets first. */
#define MH_TRANSPORT_REQUEST_INIT                                                      \
	{                                                                              \
		1, "POST", NULL, NULL, 0, NULL, 0, {MH_AUTH_NONE, NULL, NULL}, 0, 0, 0 \
	}

/**
 * What a transport reports about one request. Redirects (3xx) are not followed: they come
 * back as answers, since Autodiscover must judge each hop.
 */
typedef struct mh_transport_callbacks {
	/**
	 * The status and every header of the final answer (after any 1xx). Return S_OK to go
	 * on; any other status cancels the request and becomes on_done's status.
	 */
	mh_status (*on_headers)(void *ud, long http_status, const mh_transport_header *headers,
	                        size_t n_headers);
	/** Body bytes as they arrive, transfer encoding undone. Same return rule. */
	mh_status (*on_data)(void *ud, const void *data, size_t len);
	/**
	 * Called exactly once, last: S_OK when the whole answer was read; otherwise
	 * MAPI_E_NETWORK_ERROR (no connection, reset, TLS failure, a certificate that does not
	 * verify), MAPI_E_TIMEOUT, MAPI_E_NOT_ENOUGH_MEMORY, or the status a callback returned.
	 * mh_error_last() holds the detail while on_done runs.
	 */
	void (*on_done)(void *ud, mh_status status);
	void *ud;
} mh_transport_callbacks;

/** A transport implementation. */
typedef struct mh_transport_ops {
	unsigned version; /**< 1 */
	/**
	 * Queues rq; *id names it for cancel(). S_OK, or MAPI_E_INVALID_PARAMETER (a bad
	 * request: no URL, an unknown method, a header with CR or LF), MAPI_E_NOT_ENOUGH_MEMORY,
	 * MAPI_E_NO_SUPPORT (an auth scheme this build cannot do); on failure no callback ever
	 * runs.
	 */
	mh_status (*start)(void *self, const mh_transport_request *rq,
	                   const mh_transport_callbacks *cb, uint64_t *id);
	/** Forgets a request that has not finished: none of its callbacks runs afterwards. */
	void (*cancel)(void *self, uint64_t id);
	/**
	 * Drives I/O and runs callbacks for at most timeout_ms (0: only what is ready now;
	 * negative: until at least one request finishes or none is left). S_OK, or a failure of
	 * the transport itself (not of a request).
	 */
	mh_status (*run)(void *self, int timeout_ms);
	/** Requests started and not yet finished or cancelled. */
	size_t (*pending)(void *self);
	/** Frees the transport; requests still pending are dropped without callbacks. */
	void (*destroy)(void *self);
} mh_transport_ops;

/** A transport: an implementation and its state. */
typedef struct mh_transport {
	const mh_transport_ops *ops;
	void *self;
} mh_transport;

/** Frees t (ops->destroy); NULL is a no-op. */
MH_EXTERN void mh_transport_free(mh_transport *t);

/* ---- libcurl ---------------------------------------------------------------------------- */

typedef struct mh_transport_curl_options {
	unsigned version;   /**< 1 */
	const char *cacert; /**< PEM file of trusted CAs; NULL: the system's */
	bool insecure;      /**< skip certificate and host name checks (a tool must warn) */
	unsigned max_host_connections; /**< per host; 0: 8 */
	const char *user_agent;        /**< NULL: "mapihttp/<version>" */
} mh_transport_curl_options;

#define MH_TRANSPORT_CURL_OPTIONS_INIT  \
	{                               \
		1, NULL, false, 0, NULL \
	}

/**
 * libcurl's multi interface: HTTP/1.1 keep-alive with connections reused across requests to
 * the same host, TLS verification on unless insecure, proxies as libcurl reads them from the
 * environment (https_proxy, no_proxy, ...), Basic, Bearer, NTLM and Negotiate.
 * opts may be NULL (defaults). MAPI_E_NOT_ENOUGH_MEMORY, MAPI_E_CALL_FAILED (libcurl
 * refused to start), MAPI_E_INVALID_PARAMETER.
 */
MH_EXTERN mh_status mh_transport_curl_new(mh_transport **out,
                                          const mh_transport_curl_options *opts);

/* ---- in memory -------------------------------------------------------------------------- */

/** The answer an in-memory handler gives. */
typedef struct mh_transport_memory_answer {
	/** Non-zero: the request fails with this status (e.g. MAPI_E_NETWORK_ERROR) and no
	 * answer. */
	mh_status fail;
	long http_status;
	const mh_transport_header *headers;
	size_t n_headers;
	const void *body;
	size_t body_len;
	/** Deliver the body in pieces of at most this many bytes (0: at once), to exercise
	 * incremental parsers. */
	size_t chunk;
} mh_transport_memory_answer;

/**
 * Called from run() for each request, in the order they were started. The answer is copied
 * before the handler is called again. A status other than S_OK fails the request with it.
 */
typedef mh_status (*mh_transport_memory_fn)(void *ud, const mh_transport_request *rq,
                                            mh_transport_memory_answer *answer);

/** Requests are answered by fn. MAPI_E_NOT_ENOUGH_MEMORY, MAPI_E_INVALID_PARAMETER. */
MH_EXTERN mh_status mh_transport_memory_new(mh_transport **out, mh_transport_memory_fn fn,
                                            void *ud);

/* ---- fault injection -------------------------------------------------------------------- */

typedef enum mh_transport_fault_kind {
	MH_TRANSPORT_FAULT_REFUSE = 0, /**< fails before anything is sent: MAPI_E_NETWORK_ERROR */
	MH_TRANSPORT_FAULT_LOSE,       /**< sent, then the answer is lost: MAPI_E_NETWORK_ERROR */
	MH_TRANSPORT_FAULT_TRUNCATE,   /**< the body stops halfway: MAPI_E_NETWORK_ERROR */
	MH_TRANSPORT_FAULT_KINDS
} mh_transport_fault_kind;

typedef struct mh_transport_fault_rule {
	mh_transport_fault_kind kind;
	unsigned every;     /**< the Nth, 2Nth, ... request; 0: use probability */
	double probability; /**< with every 0: each request with this probability */
} mh_transport_fault_rule;

typedef struct mh_transport_fault_options {
	unsigned version; /**< 1 */
	uint64_t seed;    /**< the generator for probabilities: runs repeat */
	const mh_transport_fault_rule *rules;
	size_t n_rules;
} mh_transport_fault_options;

/**
 * Wraps inner (which it then owns) and makes requests fail as the rules say; the first rule
 * that fires wins. MAPI_E_NOT_ENOUGH_MEMORY, MAPI_E_INVALID_PARAMETER.
 */
MH_EXTERN mh_status mh_transport_fault_new(mh_transport **out, mh_transport *inner,
                                           const mh_transport_fault_options *opts);

MH_END_DECLS

#endif
