/*
 * Stores: logons on shared EMSMDB endpoints (one session context per MailStore URL), the
 * ecWrongServer redirects, Execute with re-logon after a lost context, and CreateStoreEntryID.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapihttp/alloc.h"
#include "mapihttp/entryid.h"
#include "session/session_internal.h"

/* Logons sent again after the context was lost or the answer never came, per open. */
#define STORE_LOGON_ATTEMPTS 3u

/* ---- endpoints ---- */

static mh_status endpoint_get(mh_session *s, const char *url, mh_endpoint **out)
{
	for (mh_endpoint *ep = s->endpoints; ep != NULL; ep = ep->next) {
		if (strcmp(ep->url, url) == 0) {
			*out = ep;
			return S_OK;
		}
	}
	mh_endpoint *ep = calloc(1, sizeof(*ep));
	char *copy = strdup(url);
	if (ep == NULL || copy == NULL) {
		free(ep);
		free(copy);
		return mh__session_fail(s, mh_error_oom(), "out of memory");
	}
	ep->url = copy;
	mh_emsmdb_client_options o;
	mh__session_emsmdb_options(s, ep->url, &o);
	mh_status st = mh_emsmdb_client_new(&ep->client, s->loop, &o);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		mh__session_fail(s, st, "EMSMDB endpoint \"%.300s\": %s", url,
		                 e != NULL ? e->message : mh_status_str(st));
		free(ep->url);
		free(ep);
		return st;
	}
	ep->next = s->endpoints;
	s->endpoints = ep;
	*out = ep;
	return S_OK;
}

void mh__session_endpoint_release(mh_session *s, mh_endpoint *ep)
{
	if (ep == NULL || ep->logons > 0)
		return;
	for (mh_endpoint **pp = &s->endpoints; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == ep) {
			*pp = ep->next;
			break;
		}
	}
	if (mh_emsmdb_client_connected(ep->client))
		(void)mh_emsmdb_client_disconnect_sync(ep->client, mh__session_deadline(s));
	mh_sctx_stats stats;
	mh_emsmdb_client_stats(ep->client, &stats);
	mh__session_count_requests(s, &stats);
	mh_emsmdb_client_free(ep->client);
	free(ep->url);
	free(ep);
}

static mh_status endpoint_connect(mh_session *s, mh_endpoint *ep)
{
	if (mh_emsmdb_client_connected(ep->client))
		return S_OK;
	if (ep->connected_once)
		ep->reconnects++;
	ep->connected_once = true;
	mh_status st = mh_emsmdb_client_connect_sync(ep->client, mh__session_deadline(s), NULL);
	if (st != S_OK)
		return mh__session_fail(s, st, "Connect to %.300s: %s", ep->url,
		                        mh_emsmdb_client_errmsg(ep->client));
	/* The identity's display name comes with the first Connect. */
	const mh_emsmdb_connect_info *ci = mh_emsmdb_client_connect_info(ep->client);
	if (s->info.display_name == NULL && ci != NULL && ci->display_name != NULL)
		(void)mh__arena_str(&s->arena, ci->display_name, &s->info.display_name);
	return S_OK;
}

/* Which session context the endpoint has now: any change means its logons are gone. */
static uint32_t endpoint_epoch(const mh_endpoint *ep)
{
	return mh_emsmdb_client_generation(ep->client) + ep->reconnects;
}

static int logon_id_alloc(mh_endpoint *ep)
{
	for (unsigned i = 0; i < MH_SESSION_MAX_LOGONS; i++) {
		if (!ep->used_ids[i]) {
			ep->used_ids[i] = 1;
			return (int)i;
		}
	}
	return -1;
}

/* ---- logon ---- */

/*
 * RopLogon on ep, sent again when the context was lost on the way (the logon is gone with it)
 * or the answer was lost (a logon changes nothing, so sending it again is safe).
 */
static mh_status logon_on(mh_session *s, mh_endpoint *ep, uint8_t id, const char *essdn,
                          mh_arena *a, mh_emsmdb_logon_result *lr)
{
	mh_status st = S_OK;
	for (unsigned attempt = 0; attempt < STORE_LOGON_ATTEMPTS; attempt++) {
		st = endpoint_connect(s, ep);
		if (st != S_OK)
			return st;
		bool reset = false;
		memset(lr, 0, sizeof(*lr));
		st = mh_emsmdb_client_logon_sync(ep->client, id, essdn, a, lr,
		                                 mh__session_deadline(s), &reset);
		if (st == S_OK && !reset)
			return S_OK;
		if (st != MAPI_E_END_OF_SESSION && st != MAPI_E_NETWORK_ERROR)
			break;
	}
	return mh__session_fail(s, st, "RopLogon for \"%.300s\" on %.300s: %s", essdn, ep->url,
	                        mh_emsmdb_client_errmsg(ep->client));
}

static const char *logon_hint(mh_status st)
{
	if (st == MAPI_E_NO_ACCESS)
		return ": the identity has no rights to log on to this mailbox (FullAccess, or "
		       "for an archive rights on its owner's mailbox)";
	if (st == MAPI_E_UNKNOWN_ENTRYID)
		return ": the Essdn names no mailbox";
	return "";
}

static void store_unlink(mh_session *s, mh_store *st)
{
	for (mh_store **pp = &s->stores; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	}
}

static void store_destroy(mh_store *st)
{
	mh_arena_free(&st->arena);
	free(st);
}

mh_status mh__store_open(mh_session *s, const mh__store_target *t, mh_store **out)
{
	*out = NULL;
	mh_store *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return mh__session_fail(s, mh_error_oom(), "out of memory");
	st->s = s;
	mh_arena_init(&st->arena, 0);
	mh_status r = mh__arena_str(&st->arena, t->essdn, &st->info.mailbox_dn);
	if (r == S_OK)
		r = mh__arena_str(&st->arena, t->smtp_address, &st->info.smtp_address);
	if (r == S_OK)
		r = mh__arena_str(&st->arena, t->display_name, &st->info.display_name);
	if (r != S_OK) {
		store_destroy(st);
		return mh__session_fail(s, r, "out of memory");
	}
	st->info.kind = t->kind;

	const char *url = t->mailstore_url;
	unsigned hops = 0;
	mh_endpoint *ep = NULL;
	mh_emsmdb_logon_result lr;
	for (;;) {
		r = endpoint_get(s, url, &ep);
		if (r != S_OK)
			break;
		int id = logon_id_alloc(ep);
		if (id < 0) {
			r = mh__session_fail(s, MAPI_E_NOT_ENOUGH_RESOURCES,
			                     "%.300s already carries %u logons", ep->url,
			                     MH_SESSION_MAX_LOGONS);
			break;
		}
		r = logon_on(s, ep, (uint8_t)id, t->essdn, &st->arena, &lr);
		if (r == S_OK && lr.status == S_OK) {
			st->logon_id = (uint8_t)id;
			break;
		}
		ep->used_ids[id] = 0;
		if (r != S_OK)
			break;
		if (!lr.wrong_server || lr.server_name == NULL) {
			r = mh__session_fail(s, lr.status, "opening %.300s: %s%s",
			                     t->smtp_address != NULL ? t->smtp_address : t->essdn,
			                     mh_emsmdb_client_errmsg(ep->client),
			                     logon_hint(lr.status));
			break;
		}
		if (hops == MH_SESSION_MAX_REDIRECTS) {
			r = mh__session_fail(
			    s, MAPI_E_UNCONFIGURED,
			    "opening %.300s: still ecWrongServer (0x00000478) after %u redirects, "
			    "the "
			    "last to \"%.300s\": the mailbox's server cannot be found",
			    t->smtp_address != NULL ? t->smtp_address : t->essdn, hops,
			    lr.server_name);
			break;
		}
		hops++;
		mh_nspi_client *nspi = NULL;
		r = mh__session_nspi(s, &nspi);
		if (r != S_OK)
			break;
		const char *next = NULL;
		r = mh_nspi_client_get_mailbox_url_sync(nspi, lr.server_name, &st->arena, &next,
		                                        mh__session_deadline(s), NULL);
		if (r != S_OK) {
			r = mh__session_fail(s, r,
			                     "ecWrongServer (0x00000478) to \"%.300s\", and NSPI "
			                     "GetMailboxUrl of it failed: %s",
			                     lr.server_name, mh_nspi_client_errmsg(nspi));
			break;
		}
		mh__session_endpoint_release(s, ep);
		ep = NULL;
		url = next;
	}
	if (r != S_OK) {
		mh__session_endpoint_release(s, ep);
		store_destroy(st);
		return r;
	}
	st->ep = ep;
	ep->logons++;
	st->ctx_generation = endpoint_epoch(ep);
	st->logon_handle = lr.handle;
	st->logon = *lr.logon;
	st->info.mailstore_url = ep->url;
	st->info.response_flags = lr.logon->response_flags;
	st->info.owner = (lr.logon->response_flags & 0x02u) != 0;
	st->info.mailbox_guid = lr.logon->mailbox_guid;
	st->info.ipm_subtree_fid = lr.logon->folder_ids[MH_LOGON_FID_IPM_SUBTREE];
	st->next = s->stores;
	s->stores = st;
	*out = st;
	return S_OK;
}

/* An Execute of one RopRelease of *h on logon_id, in args; rq, h and a (initialised here, to be
 * freed by the caller) are the caller's. */
static void release_request(mh_emsmdb_execute_args *args, mh_rop_request *rq, uint8_t logon_id,
                            uint32_t *h, mh_arena *a)
{
	memset(rq, 0, sizeof(*rq));
	rq->rop_id = MH_ROP_RELEASE;
	rq->logon_id = logon_id;
	rq->in_handle_index = 0;
	mh_arena_init(a, 0);
	memset(args, 0, sizeof(*args));
	args->rops = rq;
	args->n_rops = 1;
	args->handles = h;
	args->n_handles = 1;
	args->arena = a;
}

void mh__store_free(mh_store *st)
{
	if (st == NULL)
		return;
	mh_session *s = st->s;
	mh_endpoint *ep = st->ep;
	store_unlink(s, st);
	if (ep != NULL) {
		/* The logon object is released, unless Disconnect ends the context with it (the
		 * last logon, as Outlook closes) or a lost context has dropped it already. */
		if (ep->logons > 1 && mh_emsmdb_client_connected(ep->client) &&
		    endpoint_epoch(ep) == st->ctx_generation) {
			mh_rop_request rq;
			uint32_t h = st->logon_handle;
			mh_arena a;
			mh_emsmdb_execute_args args;
			release_request(&args, &rq, st->logon_id, &h, &a);
			mh_emsmdb_execute_result res;
			(void)mh_emsmdb_client_execute_sync(ep->client, &args, &res,
			                                    mh__session_deadline(s), NULL);
			mh_arena_free(&a);
		}
		ep->used_ids[st->logon_id] = 0;
		if (ep->logons > 0)
			ep->logons--;
		mh__session_endpoint_release(s, ep);
	}
	if (s->primary == st)
		s->primary = NULL;
	store_destroy(st);
}

void mh_store_close(mh_store *st)
{
	if (st == NULL || st->s->primary == st)
		return;
	mh__store_free(st);
}

void mh_store_get_info(const mh_store *st, mh_store_info *out)
{
	if (out == NULL)
		return;
	if (st == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = st->info;
}

/* ---- Execute ---- */

/* Logs on again after the context was lost; the store's handles from before are gone. */
static mh_status store_relogon(mh_store *st)
{
	mh_session *s = st->s;
	mh_emsmdb_logon_result lr;
	mh_status r = logon_on(s, st->ep, st->logon_id, st->info.mailbox_dn, &st->arena, &lr);
	if (r == S_OK && lr.status != S_OK)
		r = mh__session_fail(s, lr.status, "logging on again to %.300s: %s",
		                     st->info.smtp_address != NULL ? st->info.smtp_address
		                                                   : st->info.mailbox_dn,
		                     mh_emsmdb_client_errmsg(st->ep->client));
	if (r != S_OK)
		return r;
	st->ctx_generation = endpoint_epoch(st->ep);
	st->generation++;
	st->logon_handle = lr.handle;
	st->logon = *lr.logon;
	st->info.response_flags = lr.logon->response_flags;
	st->info.owner = (lr.logon->response_flags & 0x02u) != 0;
	return mh__session_fail(s, MAPI_E_END_OF_SESSION,
	                        "the session context of %.300s was lost and the store logged on "
	                        "again: objects opened before are gone, open them again",
	                        st->ep->url);
}

/*
 * args with the queued releases appended (RopRelease answers nothing, so the responses keep
 * their indexes) into *with, the arrays malloc'd into *rops and *handles. Returns false when
 * *with is to be used. The queue is emptied whatever the Execute does next: a release sent
 * twice could hit a handle number the server has given to a new object since.
 */
static bool releases_attach(mh_store *st, const mh_emsmdb_execute_args *args,
                            mh_emsmdb_execute_args *with, mh_rop_request **rops, uint32_t **handles)
{
	uint32_t n = st->n_releases;
	if (n == 0)
		return true;
	st->n_releases = 0;
	if (st->release_generation != st->generation || args->n_handles >= 255)
		return true;
	if (n > 255 - args->n_handles)
		n = 255 - args->n_handles;
	*rops = malloc((size_t)(args->n_rops + n) * sizeof(**rops));
	*handles = malloc((size_t)(args->n_handles + n) * sizeof(**handles));
	if (*rops == NULL || *handles == NULL) {
		free(*rops);
		free(*handles);
		*rops = NULL;
		*handles = NULL;
		return true;
	}
	memcpy(*rops, args->rops, (size_t)args->n_rops * sizeof(**rops));
	memcpy(*handles, args->handles, (size_t)args->n_handles * sizeof(**handles));
	for (uint32_t i = 0; i < n; i++) {
		mh_rop_request *q = &(*rops)[args->n_rops + i];
		memset(q, 0, sizeof(*q));
		q->rop_id = MH_ROP_RELEASE;
		q->logon_id = st->logon_id;
		q->in_handle_index = (uint8_t)(args->n_handles + i);
		(*handles)[args->n_handles + i] = st->releases[i];
	}
	*with = *args;
	with->rops = *rops;
	with->n_rops = args->n_rops + n;
	with->handles = *handles;
	with->n_handles = args->n_handles + n;
	return false;
}

void mh__store_release_later(mh_store *st, uint32_t handle)
{
	if (st == NULL || handle == 0xFFFFFFFFu)
		return;
	if (st->n_releases > 0 && st->release_generation != st->generation)
		st->n_releases = 0;
	if (st->n_releases == MH_STORE_MAX_RELEASES) {
		/* The queue is full: send it alone. The first ROP carries the queue's first
		 * handle; releases_attach adds the rest. */
		mh_rop_request q;
		uint32_t h = st->releases[--st->n_releases];
		mh_arena a;
		mh_emsmdb_execute_args args;
		release_request(&args, &q, st->logon_id, &h, &a);
		mh_emsmdb_execute_result res;
		(void)mh__store_execute(st, &args, &res);
		mh_arena_free(&a);
		st->n_releases = 0;
	}
	st->releases[st->n_releases++] = handle;
	st->release_generation = st->generation;
}

mh_status mh__store_execute(mh_store *st, const mh_emsmdb_execute_args *args,
                            mh_emsmdb_execute_result *out)
{
	if (st == NULL || st->ep == NULL || args == NULL || out == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "store Execute: store, arguments and result are required");
	mh_session *s = st->s;
	mh_endpoint *ep = st->ep;
	/* Another store's request on this endpoint may have met the loss first. */
	if (!mh_emsmdb_client_connected(ep->client) || endpoint_epoch(ep) != st->ctx_generation)
		return store_relogon(st);
	bool reset = false;
	memset(out, 0, sizeof(*out));
	mh_emsmdb_execute_args with;
	mh_rop_request *rops = NULL;
	uint32_t *handles = NULL;
	if (!releases_attach(st, args, &with, &rops, &handles))
		args = &with;
	mh_status r =
	    mh_emsmdb_client_execute_sync(ep->client, args, out, mh__session_deadline(s), &reset);
	free(rops);
	free(handles);
	if (reset || r == MAPI_E_END_OF_SESSION)
		return store_relogon(st);
	if (r != S_OK)
		return mh__session_fail(s, r, "Execute on %.300s: %s", ep->url,
		                        mh_emsmdb_client_errmsg(ep->client));
	mh__session_ok(s);
	return S_OK;
}

mh_status mh__store_rop_fail(mh_store *st, const char *rop, uint32_t return_value)
{
	mh_status v = (mh_status)return_value;
	mh_status st_out;
	if (v == ecNullObject || v == MAPI_E_INVALID_OBJECT)
		st_out = MAPI_E_INVALID_OBJECT;
	else if (v == MAPI_E_NO_ACCESS)
		st_out = MAPI_E_NO_ACCESS;
	else if (v == MAPI_E_NOT_FOUND)
		st_out = MAPI_E_NOT_FOUND;
	else if ((return_value & 0x80000000u) != 0)
		st_out = v;
	else
		st_out = MAPI_E_CALL_FAILED;
	const char *who =
	    st->info.smtp_address != NULL ? st->info.smtp_address : st->info.mailbox_dn;
	const char *why = "";
	if (st_out == MAPI_E_NO_ACCESS && !st->info.owner)
		why = " (a delegate logon: the identity has no permission on this object)";
	return mh__session_fail(st->s, st_out, "%s in %.300s failed: %s (0x%08X)%s",
	                        rop != NULL ? rop : "ROP", who != NULL ? who : "the store",
	                        mh_status_str(v), (unsigned)return_value, why);
}

/* ---- CreateStoreEntryID on an open store ---- */

/* The outcome r of the library call named fn as the store's session records it. */
static mh_status entryid_made(mh_store *st, mh_status r, const char *fn)
{
	if (r != S_OK) {
		const mh_error *e = mh_error_last();
		return mh__session_fail(st->s, r, "%s: %s", fn,
		                        e != NULL ? e->message : mh_status_str(r));
	}
	mh__session_ok(st->s);
	return S_OK;
}

mh_status mh_store_create_entryid(mh_store *st, const char *store_dn, const char *mailbox_dn,
                                  uint32_t flags, uint32_t *cb, ENTRYID **eid)
{
	if (st == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "CreateStoreEntryID: no store");
	return entryid_made(st, mh_create_store_entryid(store_dn, mailbox_dn, flags, cb, eid),
	                    "CreateStoreEntryID");
}

mh_status mh_store_create_entryid2(mh_store *st, uint32_t cValues, const SPropValue *props,
                                   uint32_t flags, uint32_t *cb, ENTRYID **eid)
{
	if (st == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "CreateStoreEntryID2: no store");
	return entryid_made(st, mh_create_store_entryid2(cValues, props, flags, cb, eid),
	                    "CreateStoreEntryID2");
}
