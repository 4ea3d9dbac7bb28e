/*
 * Autodiscover discovery (wire.md §7.1-§7.6): candidate URLs, the JSON v2 hop, redirects and
 * the cache, as one asynchronous operation on an mh_loop; every answer is read by the
 * sans-I/O parsers of autodiscover.h.
 */
#ifndef MH_AUTODISCOVER_DISCOVER_H
#define MH_AUTODISCOVER_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autodiscover/autodiscover.h"
#include "mapihttp/status.h"
#include "mapihttp/sys/transport.h"
#include "transport/loop.h"
#include "util/arena.h"

/* Redirects followed (redirectAddr, redirectUrl, HTTP 3xx) when max_hops is 0. */
#define MH_AD_DEFAULT_MAX_HOPS 10u
/* Largest max_hops taken. */
#define MH_AD_MAX_HOPS 100u
/* Cache lifetime when ttl_ms is 0: 8 hours. */
#define MH_AD_CACHE_DEFAULT_TTL_MS ((uint64_t)8 * 3600 * 1000)
/* Entries an in-process cache holds; the one closest to expiry makes room. */
#define MH_AD_CACHE_MAX_ENTRIES 1024u

/*
 * A cache of successful results, owned by the caller and shared by any number of discoveries
 * on the same thread. Keys are addresses, lowercased. With a directory, each entry is also a
 * file there (one JSON document per address holding the POX answer, the URL and the expiry:
 * no credential), so another process finds it.
 */
typedef struct mh_ad_cache mh_ad_cache;

typedef struct mh_ad_cache_options {
	unsigned version; /* 1 */
	/* A directory for the on-disk cache (created 0700 if missing); NULL: in-process only. */
	const char *dir;
	/* Lifetime of an entry; 0: MH_AD_CACHE_DEFAULT_TTL_MS. */
	uint64_t ttl_ms;
	/*
	 * Wall-clock milliseconds since 1970 (entries on disk outlive the process, so a
	 * monotonic clock will not do); NULL: CLOCK_REALTIME. Tests pass a virtual clock.
	 */
	const mh_loop_clock *clock;
} mh_ad_cache_options;

#define MH_AD_CACHE_OPTIONS_INIT \
	{                        \
		1, NULL, 0, NULL \
	}

/* A cache (opts NULL: defaults). MAPI_E_NOT_ENOUGH_MEMORY, MAPI_E_INVALID_PARAMETER. */
mh_status mh_ad_cache_new(mh_ad_cache **out, const mh_ad_cache_options *opts);

/* Frees c (files on disk stay); NULL is a no-op. */
void mh_ad_cache_free(mh_ad_cache *c);

/*
 * Forgets address in memory and on disk, e.g. after its MailStore URL stopped answering.
 * Unknown addresses are ignored.
 */
void mh_ad_cache_remove(mh_ad_cache *c, const char *address);

typedef struct mh_ad_discover_options {
	unsigned version;       /* 1 */
	const char *email;      /* the address to discover (required) */
	mh_transport_auth auth; /* sent to https URLs only (but see allow_http) */
	/* An explicit POX URL: POSTed to instead of the candidate search. */
	const char *url;
	/* With url: also send credentials when url is http:// (a plain-HTTP test server). */
	bool allow_http;
	/* Ask the JSON v2 service (anonymous GET on <domain>, then autodiscover.<domain>) first. */
	bool json_first;
	uint32_t connect_timeout_ms; /* per request; 0: the transport's default */
	uint32_t request_timeout_ms; /* per request, whole answer; 0: 30 s */
	uint32_t timeout_ms;         /* the whole discovery on the loop's clock; 0: none */
	unsigned max_hops;           /* 0: MH_AD_DEFAULT_MAX_HOPS; at most MH_AD_MAX_HOPS */
	mh_ad_cache *cache;          /* NULL: none */
} mh_ad_discover_options;

#define MH_AD_DISCOVER_OPTIONS_INIT                                                       \
	{                                                                                 \
		1, NULL, {MH_AUTH_NONE, NULL, NULL}, NULL, false, false, 0, 0, 0, 0, NULL \
	}

/*
 * What a discovery found. Strings live in own (or in the arena given to mh_ad_result_copy or
 * mh_ad_discover); mh_ad_result_free releases own.
 */
typedef struct mh_ad_result {
	mh_status status;
	/* Failure: one line naming the address and the last URL tried; NULL on success. */
	const char *message;
	const char *address;  /* the address the settings belong to (after redirectAddr) */
	const char *pox_url;  /* the URL whose answer these settings are; NULL on failure */
	const char *last_url; /* the last URL a request went to; NULL when none was made */
	unsigned hops;        /* redirects followed */
	bool from_cache;
	mh_ad_pox settings; /* the settings answer; zeroed on failure */
	mh_arena own;
} mh_ad_result;

/* Releases what r owns and zeroes it; NULL is a no-op. */
void mh_ad_result_free(mh_ad_result *r);

/*
 * A deep copy of src into dst (which it overwrites without freeing): strings in a when
 * given (dst->own stays empty), else in dst->own. MAPI_E_NOT_ENOUGH_MEMORY, MAPI_E_TOO_BIG
 * (a's cap); dst is zeroed then.
 */
mh_status mh_ad_result_copy(mh_ad_result *dst, const mh_ad_result *src, mh_arena *a);

/*
 * Called once when a discovery ends, from inside the loop (never from mh_ad_discover_start).
 * status is result->status. result and its strings are valid during the call only; keep them
 * with mh_ad_result_copy. The operation is gone when the callback returns.
 */
typedef void (*mh_ad_discover_cb)(void *ud, mh_status status, const mh_ad_result *result);

typedef struct mh_ad_op mh_ad_op;

/*
 * Starts discovering opts->email on loop (opts and what it points to are copied; the loop and
 * the cache must outlive the operation). *op (may be NULL) names it for mh_ad_discover_cancel
 * until done runs.
 *
 * The statuses done can see:
 * S_OK; MAPI_E_LOGON_FAILED (HTTP 401 to a request that carried credentials, or that needed
 * some and had none; the search stops there: see docs/internals/autodiscover.md);
 * MAPI_E_NOT_FOUND (Autodiscover error 500, 501 "not a mailbox", 404 as gromox sends);
 * MAPI_E_CALL_FAILED (another Autodiscover error code, a redirect loop, more than max_hops
 * redirects, every candidate refused); MAPI_E_NETWORK_ERROR or MAPI_E_TIMEOUT (the last
 * candidate could not be reached, or timeout_ms passed); MAPI_E_NOT_ENOUGH_MEMORY.
 *
 * Returns S_OK, or synchronously (done never runs): MAPI_E_INVALID_PARAMETER (no address, an
 * address mh_ad_pox_request or mh_ad_candidates refuses, a url that is not http(s), an http
 * url with credentials without allow_http), MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_ad_discover_start(mh_loop *loop, const mh_ad_discover_options *opts,
                               mh_ad_discover_cb done, void *ud, mh_ad_op **op);

/* Stops op: its request is cancelled and done never runs. NULL is a no-op. */
void mh_ad_discover_cancel(mh_ad_op *op);

/*
 * Runs a discovery to its end on loop. *out gets the result whatever the status (strings in a
 * when given, else in out->own: free with mh_ad_result_free); mh_error_last() holds its
 * message on failure. Returns out->status, a status of mh_ad_discover_start, or a status of
 * mh_loop_run_until.
 */
mh_status mh_ad_discover(mh_loop *loop, const mh_ad_discover_options *opts, mh_arena *a,
                         mh_ad_result *out);

/* What a session needs to open a mailbox: its Essdn, its endpoints, the address to name it by. */
typedef struct mh_ad_mailbox_target {
	const char *essdn;
	const char *mailstore_url;
	const char *addressbook_url;
	/* The address that Autodiscovers this mailbox: SmtpAddress, or Server for the RPC form. */
	const char *smtp;
} mh_ad_mailbox_target;

/*
 * The target of an AlternativeMailbox of owner (a settings answer). SmtpAddress form: a
 * discovery of that address on loop with base's other options (credentials, url, allow_http,
 * cache, timeouts); base->email is not used. LegacyDN + Server form (wire.md §7.4): no request;
 * Essdn = LegacyDN,
 * the URLs = the owner's with MailboxId replaced by Server (the address book falls back to
 * the owner's when its URL has no MailboxId). Strings in a.
 * The statuses of mh_ad_discover; MAPI_E_INVALID_PARAMETER (an entry in neither form, a
 * Server that is not <guid>@<domain>, an owner without MailStore URL).
 */
mh_status mh_ad_alternative_target(mh_loop *loop, const mh_ad_discover_options *base,
                                   const mh_ad_pox *owner, const mh_ad_alternative *alt,
                                   mh_arena *a, mh_ad_mailbox_target *out);

#endif
