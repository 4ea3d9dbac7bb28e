/*
 * mapihttpd's HTTP authentication: Basic against the store's crypt(3) hashes and Bearer
 * tokens against their stored SHA-256, with the challenges a 401 answer carries.
 */
#ifndef MH_SERVER_AUTH_H
#define MH_SERVER_AUTH_H

#include <stdint.h>

#include "mapihttp/status.h"
#include "server/store.h"
#include "util/arena.h"

/* Longest Authorization header value looked at; longer ones are refused unread. */
#define MH_SRV_AUTH_MAX_HEADER 4096u

/* The two challenges of every 401 answer (one WWW-Authenticate header each). */
#define MH_SRV_AUTH_CHALLENGE_BASIC  "Basic realm=\"mapihttpd\", charset=\"UTF-8\""
#define MH_SRV_AUTH_CHALLENGE_BEARER "Bearer realm=\"mapihttpd\""
/*
 * The Bearer challenges after a token was presented and refused (RFC 6750 3 and 3.1). The
 * error_description says why; RFC 6750 allows only printable ASCII without '"' and '\\'.
 */
#define MH_SRV_AUTH_CHALLENGE_BEARER_INVALID                                            \
	"Bearer realm=\"mapihttpd\", error=\"invalid_token\", error_description=\"The " \
	"access token is invalid\""
#define MH_SRV_AUTH_CHALLENGE_BEARER_EXPIRED                                            \
	"Bearer realm=\"mapihttpd\", error=\"invalid_token\", error_description=\"The " \
	"access token is expired\""
#define MH_SRV_AUTH_CHALLENGE_BEARER_MALFORMED                                          \
	"Bearer realm=\"mapihttpd\", error=\"invalid_token\", error_description=\"The " \
	"access token is malformed\""

typedef enum mh_srv_auth_scheme {
	MH_SRV_AUTH_NONE = 0, /* no Authorization header */
	MH_SRV_AUTH_BASIC,
	MH_SRV_AUTH_BEARER,
	MH_SRV_AUTH_OTHER /* a scheme this server does not offer */
} mh_srv_auth_scheme;

/* Why a presented Bearer token was refused; MH_SRV_AUTH_TOKEN_OK for any other outcome. */
typedef enum mh_srv_auth_token {
	MH_SRV_AUTH_TOKEN_OK = 0,
	MH_SRV_AUTH_TOKEN_MALFORMED, /* empty, or outside RFC 6750's b64token */
	MH_SRV_AUTH_TOKEN_UNKNOWN,
	MH_SRV_AUTH_TOKEN_EXPIRED
} mh_srv_auth_token;

/*
 * Authenticates one request from its Authorization header value (NULL when absent) at now
 * (seconds since 1970-01-01 UTC, against which token expiry is judged). *scheme (may be NULL)
 * receives the scheme the client tried and *token (may be NULL) why a Bearer token was
 * refused, so the 401 can say so (mh_srv_auth_bearer_challenge). On success *out is the
 * principal, its strings allocated in arena.
 * Returns S_OK, or MAPI_E_LOGON_FAILED for a missing header, another scheme, a malformed
 * value (bad base64, no ':' separator, a NUL byte, over MH_SRV_AUTH_MAX_HEADER), wrong
 * credentials or an expired token; the recorded message says which, and never contains the
 * secret. MAPI_E_DISK_ERROR and arena statuses from the store.
 */
mh_status mh_srv_auth_check(mh_srv_store *st, mh_arena *arena, const char *authorization,
                            int64_t now, mh_srv_auth_scheme *scheme, mh_srv_auth_token *token,
                            mh_srv_recipient *out);

/*
 * The Bearer challenge of a 401 (a static string): with error="invalid_token" and a
 * description when a Bearer token was tried and refused, the plain one otherwise (RFC 6750
 * 3.1: no error code when the request carried no token).
 */
const char *mh_srv_auth_bearer_challenge(mh_srv_auth_scheme scheme, mh_srv_auth_token token);

#endif
