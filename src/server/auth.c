/*
 * HTTP Basic and Bearer authentication for mapihttpd; the secrets are decoded into local
 * buffers that are wiped before returning and never written to a message.
 */
#define _DEFAULT_SOURCE /* strncasecmp */

#include "server/auth.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util/cursor.h"
#include "util/diag.h"

/* The value of one base64 digit, or -1. */
static int b64_value(uint8_t ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/*
 * Strict base64 (RFC 4648 4, padding required) of n bytes read through c into out (room for
 * cap bytes). Returns the decoded length or -1.
 */
static long b64_decode(mh_cursor *c, size_t n, uint8_t *out, size_t cap)
{
	if (n == 0 || n % 4 != 0)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		uint8_t q[4];
		int v[4];
		for (size_t k = 0; k < 4; k++) {
			if (mh_cursor_u8(c, &q[k], "credentials") != S_OK)
				return -1;
		}
		int pad = 0;
		for (size_t k = 0; k < 4; k++) {
			if (q[k] == '=' && k >= 2 && i + 4 == n) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad != 0)
				return -1; /* data after '=' */
			v[k] = b64_value(q[k]);
			if (v[k] < 0)
				return -1;
		}
		uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) |
		             ((uint32_t)v[2] << 6) | (uint32_t)v[3];
		size_t take = 3 - (size_t)pad;
		if (o + take > cap)
			return -1;
		out[o++] = (uint8_t)(w >> 16);
		if (take > 1)
			out[o++] = (uint8_t)(w >> 8);
		if (take > 2)
			out[o++] = (uint8_t)w;
	}
	return (long)o;
}

static void wipe(void *p, size_t n)
{
	volatile uint8_t *v = p;
	while (n-- > 0)
		*v++ = 0;
}

static mh_status refuse(const char *why)
{
	return mh_error_set(MAPI_E_LOGON_FAILED, -1, "authentication failed: %s", why);
}

static mh_status check_basic(mh_srv_store *st, mh_arena *arena, mh_cursor *c, size_t n,
                             mh_srv_recipient *out)
{
	uint8_t plain[MH_SRV_AUTH_MAX_HEADER];
	long len = b64_decode(c, n, plain, sizeof(plain) - 1);
	if (len < 0)
		return refuse("Basic credentials are not valid base64");
	size_t colon = (size_t)len;
	for (size_t i = 0; i < (size_t)len; i++) {
		if (plain[i] == 0) {
			wipe(plain, sizeof(plain));
			return refuse("Basic credentials contain a NUL byte");
		}
		if (plain[i] == ':' && colon == (size_t)len)
			colon = i;
	}
	if (colon == (size_t)len || colon == 0) {
		wipe(plain, sizeof(plain));
		return refuse("Basic credentials are not user:password");
	}
	plain[colon] = 0;
	plain[len] = 0;
	mh_status s = mh_srv_store_verify_password(st, arena, (const char *)plain,
	                                           (const char *)plain + colon + 1, out);
	wipe(plain, sizeof(plain));
	return s;
}

/* RFC 6750 b64token: ALPHA DIGIT - . _ ~ + / then '=' padding. */
static mh_status check_bearer(mh_srv_store *st, mh_arena *arena, mh_cursor *c, size_t n,
                              int64_t now, mh_srv_auth_token *why, mh_srv_recipient *out)
{
	char token[MH_SRV_AUTH_MAX_HEADER];
	*why = MH_SRV_AUTH_TOKEN_MALFORMED;
	if (n == 0 || n >= sizeof(token))
		return refuse("empty Bearer token");
	bool pad = false;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch;
		if (mh_cursor_u8(c, &ch, "token") != S_OK)
			return refuse("truncated Bearer token");
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		          (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
		          ch == '~' || ch == '+' || ch == '/';
		if (ch == '=' && i > 0)
			pad = true;
		else if (!ok || pad) {
			wipe(token, sizeof(token));
			return refuse("Bearer token has a character outside RFC 6750 b64token");
		}
		token[i] = (char)ch;
	}
	token[n] = 0;
	int expired = 0;
	mh_status s = mh_srv_store_principal_by_token(st, arena, token, now, &expired, out);
	wipe(token, sizeof(token));
	/* Any other failure is the store's, not the token's: a 500, not a 401. */
	if (s == MAPI_E_LOGON_FAILED)
		*why = expired ? MH_SRV_AUTH_TOKEN_EXPIRED : MH_SRV_AUTH_TOKEN_UNKNOWN;
	else
		*why = MH_SRV_AUTH_TOKEN_OK;
	return s;
}

const char *mh_srv_auth_bearer_challenge(mh_srv_auth_scheme scheme, mh_srv_auth_token token)
{
	if (scheme != MH_SRV_AUTH_BEARER)
		return MH_SRV_AUTH_CHALLENGE_BEARER;
	switch (token) {
	case MH_SRV_AUTH_TOKEN_EXPIRED:
		return MH_SRV_AUTH_CHALLENGE_BEARER_EXPIRED;
	case MH_SRV_AUTH_TOKEN_MALFORMED:
		return MH_SRV_AUTH_CHALLENGE_BEARER_MALFORMED;
	case MH_SRV_AUTH_TOKEN_UNKNOWN:
	case MH_SRV_AUTH_TOKEN_OK:
	default:
		return MH_SRV_AUTH_CHALLENGE_BEARER_INVALID;
	}
}

mh_status mh_srv_auth_check(mh_srv_store *st, mh_arena *arena, const char *authorization,
                            int64_t now, mh_srv_auth_scheme *scheme, mh_srv_auth_token *token,
                            mh_srv_recipient *out)
{
	mh_srv_auth_scheme tried = MH_SRV_AUTH_NONE;
	mh_srv_auth_token why = MH_SRV_AUTH_TOKEN_OK;
	mh_status s;
	if (scheme != NULL)
		*scheme = MH_SRV_AUTH_NONE;
	if (token != NULL)
		*token = MH_SRV_AUTH_TOKEN_OK;
	if (authorization == NULL)
		return refuse("no Authorization header");
	size_t len = strnlen(authorization, MH_SRV_AUTH_MAX_HEADER + 1);
	if (len > MH_SRV_AUTH_MAX_HEADER)
		return refuse("Authorization header too long");

	mh_cursor c;
	mh_cursor_init(&c, authorization, len, MAPI_E_LOGON_FAILED);
	/* The scheme name runs to the first space; then spaces; then the credentials. */
	size_t name_len = 0;
	while (name_len < len && authorization[name_len] != ' ')
		name_len++;
	size_t cred = name_len;
	while (cred < len && authorization[cred] == ' ')
		cred++;
	size_t end = len;
	while (end > cred && (authorization[end - 1] == ' ' || authorization[end - 1] == '\t'))
		end--;
	if (name_len == 5 && strncasecmp(authorization, "Basic", 5) == 0)
		tried = MH_SRV_AUTH_BASIC;
	else if (name_len == 6 && strncasecmp(authorization, "Bearer", 6) == 0)
		tried = MH_SRV_AUTH_BEARER;
	else
		tried = MH_SRV_AUTH_OTHER;
	if (scheme != NULL)
		*scheme = tried;
	if (tried == MH_SRV_AUTH_OTHER)
		return refuse("unsupported scheme (Basic and Bearer are offered)");
	if (mh_cursor_skip(&c, cred, "scheme") != S_OK)
		return refuse("malformed Authorization header");
	if (tried == MH_SRV_AUTH_BASIC)
		s = check_basic(st, arena, &c, end - cred, out);
	else
		s = check_bearer(st, arena, &c, end - cred, now, &why, out);
	if (token != NULL)
		*token = why;
	return s;
}
