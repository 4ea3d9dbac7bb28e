/*
 * The session: one identity's credentials, loop, Autodiscover cache, NSPI context and EMSMDB
 * endpoints; opening its primary mailbox and, hub and spoke, any store EntryID it has rights to.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mapihttp/alloc.h"
#include "mapihttp/entryid.h"
#include "mapihttp/proptags.h"
#include "session/session_internal.h"
#include "transport/mapi_ctx.h"

#define SESSION_CONNECT_TIMEOUT_MS 15000u
#define SESSION_REQUEST_TIMEOUT_MS 60000u
#define SESSION_CALL_TIMEOUT_MS    120000u

/* ---- the counting transport ---- */

static mh_status counter_start(void *self, const mh_transport_request *rq,
                               const mh_transport_callbacks *cb, uint64_t *id)
{
	mh_session *s = self;
	mh_status st = s->transport->ops->start(s->transport->self, rq, cb, id);
	if (st == S_OK)
		s->requests++;
	return st;
}

static void counter_cancel(void *self, uint64_t id)
{
	mh_session *s = self;
	s->transport->ops->cancel(s->transport->self, id);
}

static mh_status counter_run(void *self, int timeout_ms)
{
	mh_session *s = self;
	return s->transport->ops->run(s->transport->self, timeout_ms);
}

static size_t counter_pending(void *self)
{
	mh_session *s = self;
	return s->transport->ops->pending(s->transport->self);
}

static void counter_destroy(void *self)
{
	(void)self; /* embedded in the session */
}

static const mh_transport_ops counter_ops = {1,           counter_start,   counter_cancel,
                                             counter_run, counter_pending, counter_destroy};

/* ---- primitives ---- */

mh_status mh__session_fail(mh_session *s, mh_status st, const char *fmt, ...)
{
	char line[MH_SESSION_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (s != NULL)
		memcpy(s->errmsg, line, sizeof(line));
	mh_error_set(st, -1, "%s", line);
	return st;
}

void mh__session_ok(mh_session *s)
{
	if (s != NULL)
		s->errmsg[0] = '\0';
}

uint64_t mh__session_deadline(mh_session *s)
{
	uint32_t t = s->opts.timeout_ms != 0 ? s->opts.timeout_ms : SESSION_CALL_TIMEOUT_MS;
	return mh_loop_now(s->loop) + t;
}

void mh__session_discover_options(mh_session *s, mh_ad_discover_options *o)
{
	*o = (mh_ad_discover_options)MH_AD_DISCOVER_OPTIONS_INIT;
	o->email = NULL;
	o->auth = s->opts.auth;
	o->url = s->opts.autodiscover_url;
	o->allow_http = s->opts.allow_http;
	o->connect_timeout_ms = s->opts.connect_timeout_ms != 0 ? s->opts.connect_timeout_ms
	                                                        : SESSION_CONNECT_TIMEOUT_MS;
	o->request_timeout_ms = s->opts.request_timeout_ms != 0 ? s->opts.request_timeout_ms
	                                                        : SESSION_REQUEST_TIMEOUT_MS;
	o->timeout_ms = s->opts.timeout_ms != 0 ? s->opts.timeout_ms : SESSION_CALL_TIMEOUT_MS;
	o->cache = s->cache;
}

/* The fields the EMSMDB and NSPI client options name alike. */
#define SESSION_CLIENT_OPTIONS(s, url, o)                                                     \
	do {                                                                                  \
		(o)->url = (url);                                                             \
		(o)->auth = (s)->opts.auth;                                                   \
		(o)->client_guid = (s)->client_guid;                                          \
		(o)->client_counter = (s)->client_counter++;                                  \
		(o)->client_application = (s)->opts.client_application;                       \
		(o)->connect_timeout_ms = (s)->opts.connect_timeout_ms != 0                   \
		                              ? (s)->opts.connect_timeout_ms                  \
		                              : SESSION_CONNECT_TIMEOUT_MS;                   \
		(o)->total_timeout_ms = (s)->opts.request_timeout_ms != 0                     \
		                            ? (s)->opts.request_timeout_ms                    \
		                            : SESSION_REQUEST_TIMEOUT_MS;                     \
		(o)->retry.max_attempts = (s)->opts.max_attempts;                             \
		(o)->retry.cap_ms = (s)->opts.backoff_cap_ms;                                 \
		(o)->retry.seed =                                                             \
		    ((uint64_t)(s)->client_guid.Data1 << 32) ^ (uint64_t)(o)->client_counter; \
		(o)->keep_alive = (s)->opts.keep_alive;                                       \
	} while (0)

void mh__session_emsmdb_options(mh_session *s, const char *url, mh_emsmdb_client_options *o)
{
	*o = (mh_emsmdb_client_options)MH_EMSMDB_CLIENT_OPTIONS_INIT;
	SESSION_CLIENT_OPTIONS(s, url, o);
	o->user_dn = s->info.mailbox_dn;
	o->backoff_cap_ms = s->opts.backoff_cap_ms;
}

void mh__session_nspi_options(mh_session *s, const char *url, mh_nspi_client_options *o)
{
	*o = (mh_nspi_client_options)MH_NSPI_CLIENT_OPTIONS_INIT;
	SESSION_CLIENT_OPTIONS(s, url, o);
}

mh_status mh__session_nspi(mh_session *s, mh_nspi_client **out)
{
	*out = NULL;
	if (s->info.addressbook_url == NULL)
		return mh__session_fail(s, MAPI_E_CALL_FAILED,
		                        "Autodiscover gave %.300s no AddressBook URL: NSPI is not "
		                        "available",
		                        s->info.smtp_address);
	if (s->nspi == NULL) {
		mh_nspi_client_options o;
		mh__session_nspi_options(s, s->info.addressbook_url, &o);
		mh_status st = mh_nspi_client_new(&s->nspi, s->loop, &o);
		if (st != S_OK) {
			const mh_error *e = mh_error_last();
			return mh__session_fail(s, st, "NSPI endpoint \"%.300s\": %s",
			                        s->info.addressbook_url,
			                        e != NULL ? e->message : mh_status_str(st));
		}
	}
	if (!mh_nspi_client_bound(s->nspi)) {
		mh_status st = mh_nspi_client_bind_sync(s->nspi, mh__session_deadline(s));
		if (st != S_OK)
			return mh__session_fail(s, st, "NSPI Bind to %.300s: %s",
			                        s->info.addressbook_url,
			                        mh_nspi_client_errmsg(s->nspi));
	}
	*out = s->nspi;
	return S_OK;
}

void mh__session_count_requests(mh_session *s, const mh_sctx_stats *st)
{
	if (s != NULL && st != NULL)
		s->requests_closed += st->requests;
}

/* ---- strings, secrets, Autodiscover ---- */

mh_status mh__arena_str(mh_arena *a, const char *in, const char **out)
{
	*out = NULL;
	if (in == NULL)
		return S_OK;
	char *p = NULL;
	mh_status st = mh_arena_strndup(a, in, strlen(in), &p);
	*out = p;
	return st;
}

static void wipe(char *p, size_t n)
{
	if (p == NULL)
		return;
	for (volatile char *q = p; n > 0; n--, q++)
		*q = 0;
}

/*
 * Autodiscovers address into *out (strings in a). Failures are recorded; an unknown address is
 * not_found (MAPI_E_NOT_FOUND for the identity, MAPI_E_UNKNOWN_ENTRYID for a store).
 */
static mh_status discover(mh_session *s, const char *address, mh_arena *a, mh_status not_found,
                          mh_ad_result *out)
{
	mh_ad_discover_options o;
	mh__session_discover_options(s, &o);
	o.email = address;
	mh_status st = mh_ad_discover(s->loop, &o, a, out);
	if (st == S_OK && mh_ad_urls_pick(&out->settings.mailstore) == NULL)
		return mh__session_fail(s, MAPI_E_CALL_FAILED,
		                        "Autodiscover for %.300s gave no mapiHttp MailStore URL "
		                        "(MAPI/HTTP is not enabled for this mailbox)",
		                        address);
	if (st == S_OK)
		return S_OK;
	const char *msg = out->message;
	if (msg == NULL) {
		const mh_error *e = mh_error_last();
		msg = e != NULL ? e->message : mh_status_str(st);
	}
	if (st == MAPI_E_NOT_FOUND)
		st = not_found;
	if (strncmp(msg, "Autodiscover", 12) == 0)
		return mh__session_fail(s, st, "%s", msg);
	return mh__session_fail(s, st, "Autodiscover for %.300s: %s", address, msg);
}

/* ---- open and close ---- */

static mh_status copy_options(mh_session *s, const mh_session_options *o)
{
	mh_status st = S_OK;
	s->opts = *o;
	s->opts.transport = NULL;
	const char *login = o->auth.user;
	if (login == NULL && (o->auth.scheme == MH_AUTH_BASIC || o->auth.scheme == MH_AUTH_NTLM))
		login = o->user;
	if (st == S_OK)
		st = mh__arena_str(&s->arena, o->user, &s->opts.user);
	if (st == S_OK)
		st = mh__arena_str(&s->arena, login, &s->opts.auth.user);
	if (st == S_OK)
		st = mh__arena_str(&s->arena, o->autodiscover_url, &s->opts.autodiscover_url);
	if (st == S_OK)
		st = mh__arena_str(&s->arena, o->cacert, &s->opts.cacert);
	if (st == S_OK)
		st = mh__arena_str(&s->arena, o->cache_dir, &s->opts.cache_dir);
	if (st == S_OK)
		st = mh__arena_str(&s->arena, o->client_application, &s->opts.client_application);
	if (st != S_OK)
		return st;
	s->opts.auth.secret = NULL;
	if (o->auth.secret != NULL) {
		s->secret_len = strlen(o->auth.secret);
		s->secret = malloc(s->secret_len + 1);
		if (s->secret == NULL)
			return mh_error_oom();
		memcpy(s->secret, o->auth.secret, s->secret_len + 1);
		s->opts.auth.secret = s->secret;
	}
	return S_OK;
}

static mh_status check_options(const mh_session_options *o)
{
	if (o == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_session_open: no options");
	if (o->version != 1)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_session_open: options version %u (this library knows 1)",
		                    o->version);
	if (o->user == NULL || o->user[0] == '\0' || strchr(o->user, '@') == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_session_open: user must be the identity's SMTP address");
	switch (o->auth.scheme) {
	case MH_AUTH_BASIC:
	case MH_AUTH_NTLM:
		if (o->auth.secret == NULL)
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "mh_session_open: no password for %s",
			                    o->auth.scheme == MH_AUTH_BASIC ? "Basic" : "NTLM");
		break;
	case MH_AUTH_BEARER:
		if (o->auth.secret == NULL || o->auth.secret[0] == '\0')
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "mh_session_open: no token for Bearer");
		break;
	case MH_AUTH_NEGOTIATE:
		break;
	default:
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_session_open: no credentials (auth.scheme)");
	}
	return S_OK;
}

static void session_free(mh_session *s)
{
	while (s->stores != NULL) {
		/* Stores before the primary, which opened first and sits last. */
		mh__store_free(s->stores);
	}
	while (s->endpoints != NULL) {
		mh_endpoint *ep = s->endpoints;
		ep->logons = 0;
		mh__session_endpoint_release(s, ep);
	}
	if (s->nspi != NULL) {
		if (mh_nspi_client_bound(s->nspi))
			(void)mh_nspi_client_unbind_sync(s->nspi, mh__session_deadline(s));
		mh_sctx_stats stats;
		mh_nspi_client_stats(s->nspi, &stats);
		mh__session_count_requests(s, &stats);
		mh_nspi_client_free(s->nspi);
		s->nspi = NULL;
	}
	mh_ad_cache_free(s->cache);
	mh_loop_free(s->loop);
	if (s->own_transport)
		mh_transport_free(s->transport);
	wipe(s->secret, s->secret_len);
	free(s->secret);
	mh_arena_free(&s->arena);
	free(s);
}

static mh_status session_start(mh_session *s)
{
	mh_status st;
	if (s->transport == NULL) {
		mh_transport_curl_options co = MH_TRANSPORT_CURL_OPTIONS_INIT;
		co.cacert = s->opts.cacert;
		co.insecure = s->opts.insecure;
		st = mh_transport_curl_new(&s->transport, &co);
		if (st != S_OK)
			return mh_error_set_default(st, "libcurl transport could not start");
		s->own_transport = true;
	}
	s->counter.ops = &counter_ops;
	s->counter.self = s;
	st = mh_loop_new(&s->loop, &s->counter, NULL);
	if (st != S_OK)
		return st;
	mh_ad_cache_options co = MH_AD_CACHE_OPTIONS_INIT;
	co.dir = s->opts.cache_dir;
	st = mh_ad_cache_new(&s->cache, &co);
	if (st != S_OK)
		return mh_error_set_default(st, "Autodiscover cache \"%.300s\" could not be opened",
		                            s->opts.cache_dir != NULL ? s->opts.cache_dir : "");
	st = mh_mapi_random_guid(&s->client_guid);
	if (st != S_OK)
		return st;
	s->client_counter = 1;

	mh_ad_result r;
	st = discover(s, s->opts.user, &s->arena, MAPI_E_NOT_FOUND, &r);
	if (st != S_OK)
		return st;
	s->self = r.settings;
	const char *smtp = r.settings.smtp_address != NULL ? r.settings.smtp_address : s->opts.user;
	s->info.smtp_address = smtp;
	s->info.mailbox_dn = r.settings.legacy_dn;
	s->info.mdb_dn = r.settings.mdb_dn;
	s->info.mailstore_url = mh_ad_urls_pick(&r.settings.mailstore);
	s->info.addressbook_url = mh_ad_urls_pick(&r.settings.addressbook);

	mh__store_target t;
	memset(&t, 0, sizeof(t));
	t.kind = MH_MAILBOX_PRIMARY;
	t.smtp_address = smtp;
	t.essdn = s->info.mailbox_dn;
	t.mailstore_url = s->info.mailstore_url;
	t.display_name = r.settings.display_name;
	mh_store *primary = NULL;
	st = mh__store_open(s, &t, &primary);
	if (st != S_OK)
		return st;
	s->primary = primary;
	if (s->info.display_name == NULL)
		s->info.display_name = r.settings.display_name;
	if (primary->info.display_name == NULL)
		primary->info.display_name = s->info.display_name;
	return S_OK;
}

mh_status mh_session_open(mh_session **out, const mh_session_options *opts)
{
	if (out == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_session_open: out is NULL");
	*out = NULL;
	mh_status st = check_options(opts);
	if (st != S_OK)
		return st;
	mh_session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mh_error_oom();
	mh_arena_init(&s->arena, 0);
	st = copy_options(s, opts);
	s->transport = opts->transport;
	if (st == S_OK)
		st = session_start(s);
	if (st != S_OK) {
		/* Closing talks to the server (Disconnect, Unbind): keep the reason across it. */
		char why[MH_SESSION_ERRMSG_MAX];
		const mh_error *e = mh_error_last();
		snprintf(why, sizeof(why), "%s",
		         s->errmsg[0] != '\0' ? s->errmsg
		                              : (e != NULL ? e->message : mh_status_str(st)));
		session_free(s);
		mh_error_set(st, -1, "%s", why);
		return st;
	}
	mh__session_ok(s);
	*out = s;
	return S_OK;
}

void mh_session_close(mh_session *s)
{
	if (s == NULL)
		return;
	session_free(s);
}

const char *mh_session_errmsg(const mh_session *s)
{
	return s != NULL ? s->errmsg : "";
}

void mh_session_get_info(const mh_session *s, mh_session_info *out)
{
	if (out == NULL)
		return;
	if (s == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = s->info;
}

mh_store *mh_session_primary(mh_session *s)
{
	return s != NULL ? s->primary : NULL;
}

uint64_t mh_session_request_count(const mh_session *s)
{
	return s != NULL ? s->requests : 0;
}

const char *mh_mailbox_kind_str(mh_mailbox_kind kind)
{
	switch (kind) {
	case MH_MAILBOX_PRIMARY:
		return "primary";
	case MH_MAILBOX_ARCHIVE:
		return "archive";
	case MH_MAILBOX_DELEGATE:
		return "delegate";
	case MH_MAILBOX_SHARED:
		return "shared";
	case MH_MAILBOX_OTHER:
		return "other";
	}
	return "other";
}

/* ---- MAPI buffers ---- */

/* A copy of in inside the MAPI buffer base (NULL stays NULL). */
static mh_status mapi_str(void *base, const char *in, const char **out)
{
	*out = NULL;
	if (in == NULL)
		return S_OK;
	size_t n = strlen(in) + 1;
	if (n > UINT32_MAX)
		return MAPI_E_INVALID_PARAMETER;
	void *p = NULL;
	mh_status st = MAPIAllocateMore((uint32_t)n, base, &p);
	if (st != S_OK)
		return st;
	memcpy(p, in, n);
	*out = p;
	return S_OK;
}

/* ---- finding mailboxes ---- */

/* The v3 store EntryID that opens the mailbox dn (store mdb_dn, may be NULL) as smtp. */
static mh_status make_v3(mh_session *s, const char *dn, const char *mdb_dn, const char *smtp,
                         uint32_t *cb, ENTRYID **eid)
{
	SPropValue props[4];
	uint32_t n = 0;
	memset(props, 0, sizeof(props));
	props[n].ulPropTag = PR_PROFILE_MAILBOX;
	props[n++].Value.lpszA = (char *)(uintptr_t)dn;
	if (mdb_dn != NULL && mdb_dn[0] != '\0') {
		props[n].ulPropTag = PR_PROFILE_MDB_DN;
		props[n++].Value.lpszA = (char *)(uintptr_t)mdb_dn;
	}
	props[n].ulPropTag = PR_FORCE_USE_ENTRYID_SERVER;
	props[n++].Value.b = 1;
	props[n].ulPropTag = PR_PROFILE_USER_SMTP_ADDRESS_W;
	props[n++].Value.lpszW = (char *)(uintptr_t)smtp;
	mh_status st = mh_create_store_entryid2(
	    n, props, OPENSTORE_HOME_LOGON | OPENSTORE_TAKE_OWNERSHIP, cb, eid);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		return mh__session_fail(s, st, "CreateStoreEntryID2 for %.300s: %s", smtp,
		                        e != NULL ? e->message : mh_status_str(st));
	}
	return S_OK;
}

/* Where "/guid=" starts in an archive's Essdn, or NULL. */
static const char *archive_guid_part(const char *dn)
{
	for (const char *p = dn; p != NULL && *p != '\0'; p++) {
		if (strncasecmp(p, "/guid=", 6) == 0)
			return p;
	}
	return NULL;
}

/*
 * The SMTP address that Autodiscovers the mailbox dn, from NSPI (DNToMId, GetProps
 * PidTagSmtpAddress_W; ResolveNames when that gives none). An archive's Essdn
 * (<owner DN>/guid=<g>) is not an address book entry: its owner's address gives the domain of
 * ExchangeGuid+<g>@<domain>, the address Exchange answers for the archive.
 */
static mh_status smtp_of_dn(mh_session *s, const char *dn, mh_arena *a, const char **smtp)
{
	*smtp = NULL;
	mh_nspi_client *nspi = NULL;
	mh_status st = mh__session_nspi(s, &nspi);
	if (st != S_OK)
		return st;
	const char *gp = archive_guid_part(dn);
	char *owner = NULL;
	st = mh_arena_strndup(a, dn, gp != NULL ? (size_t)(gp - dn) : strlen(dn), &owner);
	if (st != S_OK)
		return mh__session_fail(s, st, "out of memory");
	const char *dns[1] = {owner};
	mh_nspi_result r;
	st = mh_nspi_client_dntomid_sync(nspi, dns, 1, a, &r, mh__session_deadline(s), NULL);
	uint32_t mid = 0;
	if (st == S_OK && r.resp != NULL && r.resp->u.dn_to_mid.has_mids &&
	    r.resp->u.dn_to_mid.mids.count > 0)
		mid = r.resp->u.dn_to_mid.mids.mids[0];
	const char *found = NULL;
	if (mid != 0) {
		static const struct {
			uint32_t n;
			uint32_t t[1];
		} tags = {1, {PR_SMTP_ADDRESS_W}};
		st = mh_nspi_client_get_props_sync(nspi, mid,
		                                   (const SPropTagArray *)(const void *)&tags, a,
		                                   &r, mh__session_deadline(s), NULL);
		if (st == S_OK && r.resp != NULL && r.resp->u.get_props.has_values) {
			const mh_nspi_proplist *pl = &r.resp->u.get_props.values;
			for (uint32_t i = 0; i < pl->count; i++) {
				if (pl->props[i].ulPropTag == PR_SMTP_ADDRESS_W)
					found = pl->props[i].Value.lpszW;
			}
		}
	}
	if (found == NULL) {
		const char *names[1] = {owner};
		st = mh_nspi_client_resolve_names_sync(nspi, names, 1, a, &r,
		                                       mh__session_deadline(s), NULL);
		if (st == S_OK && r.n_names == 1 && r.names[0].resolved)
			found = r.names[0].smtp_address;
	}
	if (found == NULL || strchr(found, '@') == NULL)
		return mh__session_fail(
		    s, MAPI_E_UNKNOWN_ENTRYID,
		    "the address book knows no mailbox \"%.300s\" (NSPI DNToMId, "
		    "GetProps and ResolveNames found no SMTP address)",
		    owner);
	if (gp == NULL) {
		*smtp = found;
		return S_OK;
	}
	size_t n = strlen("ExchangeGuid+") + strlen(gp + 6) + strlen(strchr(found, '@')) + 1;
	char *addr = NULL;
	st = mh_arena_alloc(a, n, (void **)&addr);
	if (st != S_OK)
		return mh__session_fail(s, st, "out of memory");
	snprintf(addr, n, "ExchangeGuid+%s%s", gp + 6, strchr(found, '@'));
	*smtp = addr;
	return S_OK;
}

/* How the identity knows the mailbox: its own, its archive, a delegate, or another. */
static mh_mailbox_kind classify(const mh_session *s, const char *smtp, const char *dn)
{
	if (dn != NULL && s->info.mailbox_dn != NULL && strcasecmp(dn, s->info.mailbox_dn) == 0)
		return MH_MAILBOX_PRIMARY;
	for (size_t i = 0; i < s->self.n_alternatives; i++) {
		const mh_ad_alternative *alt = &s->self.alternatives[i];
		bool same =
		    (alt->smtp_address != NULL && smtp != NULL &&
		     strcasecmp(alt->smtp_address, smtp) == 0) ||
		    (alt->legacy_dn != NULL && dn != NULL && strcasecmp(alt->legacy_dn, dn) == 0);
		if (!same)
			continue;
		if (alt->kind == MH_AD_ALT_ARCHIVE)
			return MH_MAILBOX_ARCHIVE;
		if (alt->kind == MH_AD_ALT_DELEGATE)
			return MH_MAILBOX_DELEGATE;
		if (alt->kind == MH_AD_ALT_TEAM)
			return MH_MAILBOX_SHARED;
	}
	if (dn != NULL && archive_guid_part(dn) != NULL)
		return MH_MAILBOX_ARCHIVE;
	return MH_MAILBOX_OTHER;
}

/* Autodiscovers smtp (as the identity), Connects to its endpoint and logs on with essdn (NULL:
 * the LegacyDN Autodiscover gives). */
static mh_status open_by_address(mh_session *s, const char *smtp, const char *essdn, mh_arena *a,
                                 mh_store **out)
{
	mh_ad_result r;
	mh_status st = discover(s, smtp, a, MAPI_E_UNKNOWN_ENTRYID, &r);
	if (st != S_OK)
		return st;
	mh__store_target t;
	memset(&t, 0, sizeof(t));
	t.essdn = essdn != NULL && essdn[0] != '\0' ? essdn : r.settings.legacy_dn;
	t.smtp_address = smtp;
	t.mailstore_url = mh_ad_urls_pick(&r.settings.mailstore);
	t.display_name = r.settings.display_name;
	t.kind = classify(s, smtp, t.essdn);
	return mh__store_open(s, &t, out);
}

mh_status mh_session_open_msg_store(mh_store **out, mh_session *s, uint32_t cb, const ENTRYID *eid,
                                    uint32_t flags)
{
	if (out != NULL)
		*out = NULL;
	if (out == NULL || s == NULL || eid == NULL)
		return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
		                        "OpenMsgStore: out, session and EntryID are required");
	mh_store_entryid *e = NULL;
	mh_status st = mh_store_entryid_parse(&e, cb, eid);
	if (st != S_OK) {
		const mh_error *le = mh_error_last();
		if (st != MAPI_E_NOT_ENOUGH_MEMORY)
			st = MAPI_E_INVALID_ENTRYID;
		return mh__session_fail(s, st, "OpenMsgStore: not a store EntryID: %s",
		                        le != NULL ? le->message : mh_status_str(st));
	}
	mh_arena a;
	mh_arena_init(&a, 0);
	if (e->is_public || e->mailbox_dn == NULL || e->mailbox_dn[0] == '\0') {
		st = mh__session_fail(s, MAPI_E_CALL_FAILED,
		                      "OpenMsgStore: a public folder store EntryID: mapihttp opens "
		                      "mailboxes only");
		goto done;
	}
	const char *smtp = NULL;
	if (e->version >= 3 && e->smtp_address != NULL && e->smtp_address[0] != '\0') {
		smtp = e->smtp_address;
	} else if ((flags & MH_OPENSTORE_UPGRADE_V1) == 0) {
		st = mh__session_fail(
		    s, MAPI_E_CALL_FAILED,
		    "OpenMsgStore: a v%u store EntryID (mailbox \"%.200s\") carries no SMTP "
		    "address, "
		    "so MAPI/HTTP cannot Autodiscover the mailbox's endpoint; make a v3 EntryID "
		    "with CreateStoreEntryID2 (mh_create_store_entryid2) and "
		    "PR_PROFILE_USER_SMTP_EMAIL_ADDRESS_W, or pass MH_OPENSTORE_UPGRADE_V1",
		    e->version, e->mailbox_dn);
		goto done;
	} else {
		st = smtp_of_dn(s, e->mailbox_dn, &a, &smtp);
		if (st != S_OK)
			goto done;
	}
	st = open_by_address(s, smtp, e->mailbox_dn, &a, out);
	if (st == S_OK)
		mh__session_ok(s);
done:
	mh_arena_free(&a);
	MAPIFreeBuffer(e);
	return st;
}

mh_status mh_session_resolve(mh_session *s, const char *const *names, uint32_t count,
                             mh_address_entry **entries)
{
	if (entries != NULL)
		*entries = NULL;
	if (s == NULL || names == NULL || count == 0 || entries == NULL)
		return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
		                        "resolve: session, names and entries are required");
	for (uint32_t i = 0; i < count; i++) {
		if (names[i] == NULL)
			return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
			                        "resolve: name %u is NULL", (unsigned)i);
	}
	mh_nspi_client *nspi = NULL;
	mh_status st = mh__session_nspi(s, &nspi);
	if (st != S_OK)
		return st;
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_nspi_result r;
	st = mh_nspi_client_resolve_names_sync(nspi, names, count, &a, &r, mh__session_deadline(s),
	                                       NULL);
	if (st == S_OK && r.n_names != count)
		st = mh__session_fail(s, MAPI_E_CORRUPT_DATA,
		                      "NSPI ResolveNames answered %u names for %u asked",
		                      (unsigned)r.n_names, (unsigned)count);
	else if (st != S_OK)
		st = mh__session_fail(s, st, "NSPI ResolveNames: %s", mh_nspi_client_errmsg(nspi));
	mh_address_entry *out = NULL;
	if (st == S_OK)
		st = MAPIAllocateBuffer((uint32_t)(count * sizeof(*out)), (void **)&out);
	if (st == S_OK)
		memset(out, 0, count * sizeof(*out));
	for (uint32_t i = 0; st == S_OK && i < count; i++) {
		const mh_nspi_resolved *n = &r.names[i];
		mh_address_entry *d = &out[i];
		st = mapi_str(out, names[i], &d->name);
		d->ambiguous = n->mid == MH_NSPI_MID_AMBIGUOUS;
		d->resolved = n->resolved;
		if (!n->resolved || st != S_OK)
			continue;
		d->display_type = n->display_type;
		st = mapi_str(out, n->display_name, &d->display_name);
		if (st == S_OK)
			st = mapi_str(out, n->email_address, &d->mailbox_dn);
		if (st == S_OK)
			st = mapi_str(out, n->smtp_address, &d->smtp_address);
		if (st == S_OK)
			st = mapi_str(out, n->home_mdb, &d->mdb_dn);
	}
	mh_arena_free(&a);
	if (st != S_OK) {
		MAPIFreeBuffer(out);
		if (st == MAPI_E_NOT_ENOUGH_MEMORY)
			return mh__session_fail(s, st, "resolve: out of memory");
		return st;
	}
	mh__session_ok(s);
	*entries = out;
	return S_OK;
}

/* One mailbox found: the names that open it (borrowed). */
typedef struct found_mailbox {
	mh_mailbox_kind kind;
	const char *display_name;
	const char *smtp;
	const char *dn;
	const char *mdb_dn;
	const char *owner_smtp;
} found_mailbox;

/* The mailbox of an AlternativeMailbox entry, its strings in a. */
static mh_status alternative_mailbox(mh_session *s, const mh_ad_pox *owner,
                                     const mh_ad_alternative *alt, mh_arena *a, found_mailbox *f)
{
	memset(f, 0, sizeof(*f));
	switch (alt->kind) {
	case MH_AD_ALT_ARCHIVE:
		f->kind = MH_MAILBOX_ARCHIVE;
		break;
	case MH_AD_ALT_DELEGATE:
		f->kind = MH_MAILBOX_DELEGATE;
		break;
	case MH_AD_ALT_TEAM:
		f->kind = MH_MAILBOX_SHARED;
		break;
	default:
		f->kind = MH_MAILBOX_OTHER;
		break;
	}
	f->display_name = alt->display_name;
	f->owner_smtp = alt->owner_smtp_address;
	if (alt->smtp_address != NULL) {
		mh_ad_result r;
		mh_status st = discover(s, alt->smtp_address, a, MAPI_E_NOT_FOUND, &r);
		if (st != S_OK)
			return st;
		f->smtp = alt->smtp_address;
		f->dn = r.settings.legacy_dn;
		f->mdb_dn = r.settings.mdb_dn;
		if (f->display_name == NULL)
			f->display_name = r.settings.display_name;
		return S_OK;
	}
	mh_ad_discover_options o;
	mh__session_discover_options(s, &o);
	mh_ad_mailbox_target t;
	mh_status st = mh_ad_alternative_target(s->loop, &o, owner, alt, a, &t);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		return mh__session_fail(s, st, "AlternativeMailbox \"%.200s\": %s",
		                        alt->display_name != NULL ? alt->display_name : "",
		                        e != NULL ? e->message : mh_status_str(st));
	}
	f->dn = t.essdn;
	/* The RPC form names no address: the address book knows it (or its owner's). */
	st = smtp_of_dn(s, t.essdn, a, &f->smtp);
	if (st != S_OK)
		f->smtp = t.smtp;
	return S_OK;
}

static mh_status ref_fill(mh_session *s, void *base, const found_mailbox *f, mh_mailbox_ref *d)
{
	d->kind = f->kind;
	mh_status st = mapi_str(base, f->display_name, &d->display_name);
	if (st == S_OK)
		st = mapi_str(base, f->smtp, &d->smtp_address);
	if (st == S_OK)
		st = mapi_str(base, f->dn, &d->mailbox_dn);
	if (st == S_OK)
		st = mapi_str(base, f->owner_smtp, &d->owner_smtp);
	if (st != S_OK)
		return mh__session_fail(s, st, "out of memory");
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	st = make_v3(s, f->dn, f->mdb_dn, f->smtp, &cb, &eid);
	if (st != S_OK)
		return st;
	void *p = NULL;
	st = MAPIAllocateMore(cb, base, &p);
	if (st == S_OK) {
		memcpy(p, eid, cb);
		d->cb_entryid = cb;
		d->entryid = p;
	}
	MAPIFreeBuffer(eid);
	if (st != S_OK)
		return mh__session_fail(s, st, "out of memory");
	return S_OK;
}

mh_status mh_session_list_mailboxes(mh_session *s, mh_mailbox_ref **refs, uint32_t *count)
{
	if (refs != NULL)
		*refs = NULL;
	if (count != NULL)
		*count = 0;
	if (s == NULL || refs == NULL || count == NULL)
		return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
		                        "list mailboxes: session, refs and count are required");
	size_t n = 1 + s->self.n_alternatives;
	mh_mailbox_ref *out = NULL;
	mh_status st = MAPIAllocateBuffer((uint32_t)(n * sizeof(*out)), (void **)&out);
	if (st != S_OK)
		return mh__session_fail(s, st, "out of memory");
	memset(out, 0, n * sizeof(*out));
	mh_arena a;
	mh_arena_init(&a, 0);
	found_mailbox f;
	memset(&f, 0, sizeof(f));
	f.kind = MH_MAILBOX_PRIMARY;
	f.display_name = s->info.display_name;
	f.smtp = s->info.smtp_address;
	f.dn = s->info.mailbox_dn;
	f.mdb_dn = s->info.mdb_dn;
	st = ref_fill(s, out, &f, &out[0]);
	for (size_t i = 0; st == S_OK && i < s->self.n_alternatives; i++) {
		st = alternative_mailbox(s, &s->self, &s->self.alternatives[i], &a, &f);
		if (st == S_OK)
			st = ref_fill(s, out, &f, &out[1 + i]);
	}
	mh_arena_free(&a);
	if (st != S_OK) {
		MAPIFreeBuffer(out);
		return st;
	}
	mh__session_ok(s);
	*refs = out;
	*count = (uint32_t)n;
	return S_OK;
}

mh_status mh_session_mailbox_entryid(mh_session *s, const char *smtp_address, bool archive,
                                     uint32_t *cb, ENTRYID **eid)
{
	if (eid != NULL)
		*eid = NULL;
	if (cb != NULL)
		*cb = 0;
	if (s == NULL || smtp_address == NULL || cb == NULL || eid == NULL)
		return mh__session_fail(
		    s, MAPI_E_INVALID_PARAMETER,
		    "mailbox EntryID: session, address, cb and eid are required");
	mh_arena a;
	mh_arena_init(&a, 0);
	mh_ad_result r;
	mh_status st = discover(s, smtp_address, &a, MAPI_E_NOT_FOUND, &r);
	found_mailbox f;
	memset(&f, 0, sizeof(f));
	if (st == S_OK && !archive) {
		f.dn = r.settings.legacy_dn;
		f.mdb_dn = r.settings.mdb_dn;
		f.smtp = r.settings.smtp_address != NULL ? r.settings.smtp_address : smtp_address;
	} else if (st == S_OK) {
		const mh_ad_alternative *alt = NULL;
		for (size_t i = 0; i < r.settings.n_alternatives && alt == NULL; i++) {
			if (r.settings.alternatives[i].kind == MH_AD_ALT_ARCHIVE)
				alt = &r.settings.alternatives[i];
		}
		if (alt == NULL)
			st = mh__session_fail(
			    s, MAPI_E_NOT_FOUND,
			    "%.300s has no archive (its Autodiscover answer lists no "
			    "AlternativeMailbox of Type Archive)",
			    smtp_address);
		else
			st = alternative_mailbox(s, &r.settings, alt, &a, &f);
	}
	if (st == S_OK)
		st = make_v3(s, f.dn, f.mdb_dn, f.smtp, cb, eid);
	mh_arena_free(&a);
	if (st == S_OK)
		mh__session_ok(s);
	return st;
}
