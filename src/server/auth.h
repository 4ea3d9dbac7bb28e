/*
 * mapihttpd's HTTP authentication: Basic against the store's crypt(3) hashes and Bearer
 * tokens against their stored SHA-256, with the challenges a 401 answer carries.
 */
#ifndef MH_SERVER_AUTH_H
#define MH_SERVER_AUTH_H

#include "mapihttp/status.h"
#include "server/store.h"
#include "util/arena.h"

/* Longest Authorization header value looked at; longer ones are refused unread. */
#define MH_SRV_AUTH_MAX_HEADER 4096u

/* The two challenges of every 401 answer (one WWW-Authenticate header each). */
#define MH_SRV_AUTH_CHALLENGE_BASIC  "Basic realm=\"mapihttpd\", charset=\"UTF-8\""
#define MH_SRV_AUTH_CHALLENGE_BEARER "Bearer realm=\"mapihttpd\""
/* The Bearer challenge after a token was presented and refused (RFC 6750 3.1). */
#define MH_SRV_AUTH_CHALLENGE_BEARER_INVALID "Bearer realm=\"mapihttpd\", error=\"invalid_token\""

typedef enum mh_srv_auth_scheme {
	MH_SRV_AUTH_NONE = 0, /* no Authorization header */
	MH_SRV_AUTH_BASIC,
	MH_SRV_AUTH_BEARER,
	MH_SRV_AUTH_OTHER /* a scheme this server does not offer */
} mh_srv_auth_scheme;

/*
 * Authenticates one request from its Authorization header value (NULL when absent). *scheme
 * (may be NULL) receives the scheme the client tried, so the 401 can say whether a token was
 * refused. On success *out is the principal, its strings allocated in arena.
 * Returns S_OK, or MAPI_E_LOGON_FAILED for a missing header, another scheme, a malformed
 * value (bad base64, no ':' separator, a NUL byte, over MH_SRV_AUTH_MAX_HEADER) or wrong
 * credentials; the recorded message says which, and never contains the secret.
 * MAPI_E_DISK_ERROR and arena statuses from the store.
 */
mh_status mh_srv_auth_check(mh_srv_store *st, mh_arena *arena, const char *authorization,
                            mh_srv_auth_scheme *scheme, mh_srv_recipient *out);

#endif
