/*
 * Folders of an open store: well-known FIDs, opening by FID, EntryID or path, the folder tree
 * in one Execute, properties and streams; and the Execute builder the object files share.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mapihttp/alloc.h"
#include "mapihttp/entryid.h"
#include "mapihttp/proptags.h"
#include "session/objects.h"
#include "util/utf.h"

static SPropTagArray *unconst_tags(const SPropTagArray *t)
{
	return (SPropTagArray *)(uintptr_t)t;
}

/* ---- the Execute builder ------------------------------------------------------------------ */

bool mh__obj_live(const mh_store *st, const mh_obj_handle *h)
{
	return h->handle != MH_OBJ_NO_HANDLE && h->generation == st->generation;
}

void mh__exec_init(mh_exec *x, mh_store *st)
{
	memset(x, 0, sizeof(*x));
	x->st = st;
	mh_arena_init(&x->arena, 0);
	mh__exec_reset(x);
}

/* The arena is kept: answers of earlier Executes stay valid (paging collects them). */
void mh__exec_reset(mh_exec *x)
{
	x->n_rops = 0;
	x->n_fix = 0;
	x->overflow = false;
	x->handles[0] = x->st->logon_handle;
	x->n_handles = 1;
	memset(&x->res, 0, sizeof(x->res));
}

void mh__exec_free(mh_exec *x)
{
	mh_arena_free(&x->arena);
}

mh_rop_request *mh__exec_rop(mh_exec *x, uint8_t rop_id, uint8_t in)
{
	static const mh_rop_request zero;
	if (x->n_rops >= MH_EXEC_MAX_ROPS) {
		/* Scratch space past the ROPs sent: the run fails on overflow. */
		x->overflow = true;
		x->rops[MH_EXEC_MAX_ROPS - 1] = zero;
		return &x->rops[MH_EXEC_MAX_ROPS - 1];
	}
	mh_rop_request *q = &x->rops[x->n_rops++];
	*q = zero;
	q->rop_id = rop_id;
	q->logon_id = x->st->logon_id;
	q->in_handle_index = in;
	return q;
}

uint8_t mh__exec_slot(mh_exec *x, uint32_t handle)
{
	if (x->n_handles >= MH_EXEC_MAX_HANDLES) {
		x->overflow = true;
		return 0;
	}
	x->handles[x->n_handles] = handle;
	return (uint8_t)x->n_handles++;
}

void mh__exec_release(mh_exec *x, uint8_t slot)
{
	(void)mh__exec_rop(x, MH_ROP_RELEASE, slot);
}

uint8_t mh__exec_object(mh_exec *x, uint64_t fid, uint64_t mid, mh_obj_handle *h, uint32_t *rop)
{
	if (rop != NULL)
		*rop = UINT32_MAX;
	if (h != NULL && mh__obj_live(x->st, h))
		return mh__exec_slot(x, h->handle);
	uint8_t s = mh__exec_slot(x, MH_OBJ_NO_HANDLE);
	uint32_t i = x->n_rops;
	if (mid == 0) {
		mh_rop_request *q = mh__exec_rop(x, MH_ROP_OPEN_FOLDER, 0);
		q->out_handle_index = s;
		q->u.open_folder.folder_id = fid;
	} else {
		mh_rop_request *q = mh__exec_rop(x, MH_ROP_OPEN_MESSAGE, 0);
		q->out_handle_index = s;
		q->u.open_message.code_page_id = 0x0FFF; /* the logon's code page */
		q->u.open_message.folder_id = fid;
		q->u.open_message.message_id = mid;
	}
	if (rop != NULL)
		*rop = i;
	if (h != NULL)
		mh__exec_fix_handle(x, h, s, i);
	return s;
}

void mh__exec_fix_handle(mh_exec *x, mh_obj_handle *h, uint8_t slot, uint32_t rop)
{
	if (x->n_fix >= MH_EXEC_MAX_FIXES) {
		x->overflow = true;
		return;
	}
	x->fix[x->n_fix].dst = h;
	x->fix[x->n_fix].slot = slot;
	x->fix[x->n_fix].rop = rop;
	x->n_fix++;
}

mh_status mh__exec_run(mh_exec *x)
{
	if (x->overflow)
		return mh__session_fail(x->st->s, MAPI_E_CALL_FAILED,
		                        "internal: more than %u ROPs or %u handles in one Execute",
		                        MH_EXEC_MAX_ROPS, MH_EXEC_MAX_HANDLES);
	mh_emsmdb_execute_args a;
	memset(&a, 0, sizeof(a));
	a.rops = x->rops;
	a.n_rops = x->n_rops;
	a.handles = x->handles;
	a.n_handles = x->n_handles;
	a.arena = &x->arena;
	a.columns = x->columns;
	a.columns_payload = x->columns_payload;
	memset(&x->res, 0, sizeof(x->res));
	mh_status ms = mh__store_execute(x->st, &a, &x->res);
	if (ms != S_OK)
		return ms;
	/* Responses come in request order; RopRelease has none. */
	uint32_t k = 0;
	for (uint32_t i = 0; i < x->n_rops; i++) {
		x->resp_of[i] = UINT32_MAX;
		if (x->rops[i].rop_id == MH_ROP_RELEASE)
			continue;
		if (k < x->res.responses.count &&
		    x->res.responses.rops[k].rop_id == x->rops[i].rop_id)
			x->resp_of[i] = k++;
	}
	for (uint32_t i = 0; i < x->n_fix; i++) {
		const mh_rop_response *r = mh__exec_resp(x, x->fix[i].rop);
		if (r == NULL || r->return_value != S_OK ||
		    x->fix[i].slot >= x->res.responses.handle_count)
			continue;
		x->fix[i].dst->handle = x->res.responses.handles[x->fix[i].slot];
		x->fix[i].dst->generation = x->st->generation;
	}
	return S_OK;
}

const mh_rop_response *mh__exec_resp(const mh_exec *x, uint32_t i)
{
	if (i >= x->n_rops || x->resp_of[i] == UINT32_MAX)
		return NULL;
	return &x->res.responses.rops[x->resp_of[i]];
}

mh_status mh__exec_check(mh_exec *x, uint32_t i)
{
	if (i == UINT32_MAX)
		return S_OK;
	const mh_rop_response *r = mh__exec_resp(x, i);
	const char *name = i < x->n_rops ? mh_rop_name(x->rops[i].rop_id) : NULL;
	if (name == NULL)
		name = "ROP";
	if (r == NULL)
		return mh__session_fail(x->st->s, MAPI_E_CALL_FAILED,
		                        "%s: the server sent no answer", name);
	if (r->return_value != S_OK)
		return mh__store_rop_fail(x->st, name, (uint32_t)r->return_value);
	return S_OK;
}

mh_status mh__exec_open(mh_exec *x, mh_store *st, uint64_t fid, uint64_t mid, mh_obj_handle *h,
                        uint32_t *oi)
{
	mh__exec_init(x, st);
	mh_status ms;
	*oi = UINT32_MAX;
	for (int attempt = 0;; attempt++) {
		mh__exec_reset(x);
		(void)mh__exec_object(x, fid, mid, h, oi);
		ms = mh__exec_run(x);
		if (ms == MAPI_E_END_OF_SESSION && attempt == 0)
			continue;
		break;
	}
	return ms == S_OK ? mh__exec_check(x, *oi) : ms;
}

/* ---- shared helpers ----------------------------------------------------------------------- */

SPropTagArray *mh__tags_dup(const SPropTagArray *tags)
{
	size_t n = CbNewSPropTagArray(tags->cValues);
	SPropTagArray *c = malloc(n);
	if (c != NULL)
		memcpy(c, tags, n);
	return c;
}

/* UTF-16 code units of a UTF-8 string: what the server counted when it cut it. */
static size_t utf16_units(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++) {
		if ((*p & 0xC0) != 0x80)
			n++;
		if ((*p & 0xF8) == 0xF0)
			n++; /* a surrogate pair */
	}
	return n;
}

bool mh__value_truncated(const SPropValue *v)
{
	switch (PROP_TYPE(v->ulPropTag)) {
	case PT_UNICODE:
		return v->Value.lpszW != NULL && utf16_units(v->Value.lpszW) >= MH_TABLE_STRING_CUT;
	case PT_STRING8:
		return v->Value.lpszA != NULL && strlen(v->Value.lpszA) >= MH_TABLE_STRING_CUT;
	case PT_BINARY:
		return v->Value.bin.cb >= MH_TABLE_BINARY_CUT;
	case PT_ERROR:
		/* ecMAPIOOM: the value exists but was too large to send. */
		return v->Value.err == MAPI_E_NOT_ENOUGH_MEMORY;
	default:
		return false;
	}
}

mh_status mh__object_get_props(mh_store *st, uint64_t fid, uint64_t mid, mh_obj_handle *h,
                               const SPropTagArray *tags, uint32_t *count, SPropValue **props)
{
	if (count == NULL || props == NULL)
		return mh__session_fail(st->s, MAPI_E_INVALID_PARAMETER,
		                        "get props: NULL argument");
	*count = 0;
	*props = NULL;
	if (tags != NULL && (tags->cValues == 0 || tags->cValues > 0xFFFF))
		return mh__session_fail(st->s, MAPI_E_INVALID_PARAMETER,
		                        "get props: %u tags (1 to 65535)", tags->cValues);
	mh_exec x;
	mh__exec_init(&x, st);
	mh_status ms;
	uint32_t oi, gi;
	for (int attempt = 0;; attempt++) {
		mh__exec_reset(&x);
		uint8_t s = mh__exec_object(&x, fid, mid, h, &oi);
		gi = x.n_rops;
		if (tags != NULL) {
			mh_rop_request *q = mh__exec_rop(&x, MH_ROP_GET_PROPERTIES_SPECIFIC, s);
			q->u.get_props_specific.want_unicode = 1;
			q->u.get_props_specific.tags = unconst_tags(tags);
		} else {
			mh_rop_request *q = mh__exec_rop(&x, MH_ROP_GET_PROPERTIES_ALL, s);
			q->u.get_props_all.want_unicode = 1;
		}
		if (h == NULL)
			mh__exec_release(&x, s);
		ms = mh__exec_run(&x);
		if (ms == MAPI_E_END_OF_SESSION && attempt == 0)
			continue;
		break;
	}
	if (ms == S_OK && (ms = mh__exec_check(&x, oi)) == S_OK &&
	    (ms = mh__exec_check(&x, gi)) == S_OK) {
		const mh_rop_response *r = mh__exec_resp(&x, gi);
		uint32_t n;
		const SPropValue *v;
		if (tags != NULL) {
			n = r->u.get_props_specific.row.cValues;
			v = r->u.get_props_specific.row.lpProps;
		} else {
			n = r->u.get_props_all.count;
			v = r->u.get_props_all.props;
		}
		if (tags != NULL && (r->u.get_props_specific.columns == NULL || n != tags->cValues))
			ms = mh__session_fail(st->s, MAPI_E_CORRUPT_DATA,
			                      "RopGetPropertiesSpecific: %u values for %u tags", n,
			                      tags->cValues);
		else if ((ms = mh_props_copy(props, n, v)) != S_OK)
			ms = mh__session_fail(st->s, ms, "get props: %s", mh__last_message());
		else
			*count = n;
	}
	mh__exec_free(&x);
	if (ms == S_OK)
		mh__session_ok(st->s);
	return ms;
}

/* Bytes of a stream are kept below this (the codec's own cap on a value). */
#define MH_STREAM_MAX MH_PV_MAX_VALUE_BYTES

static mh_status stream_once(mh_store *st, uint64_t fid, uint64_t mid, mh_obj_handle *h,
                             uint32_t tag, mh_buf *out)
{
	mh_exec x;
	mh__exec_init(&x, st);
	mh_obj_handle sh = {MH_OBJ_NO_HANDLE, 0};
	uint32_t size = 0;
	mh_status ms;
	/* First Execute: [open] + RopOpenStream + RopReadStream (+ release of a temporary). */
	mh__exec_reset(&x);
	uint32_t oi;
	uint8_t s = mh__exec_object(&x, fid, mid, h, &oi);
	uint8_t ss = mh__exec_slot(&x, MH_OBJ_NO_HANDLE);
	uint32_t si = x.n_rops;
	mh_rop_request *q = mh__exec_rop(&x, MH_ROP_OPEN_STREAM, s);
	q->out_handle_index = ss;
	q->u.open_stream.property_tag = tag;
	q->u.open_stream.open_mode_flags = 0; /* read-only */
	uint32_t ri = x.n_rops;
	q = mh__exec_rop(&x, MH_ROP_READ_STREAM, ss);
	q->u.read_stream.byte_count = MH_READ_STREAM_USE_MAX;
	q->u.read_stream.maximum_byte_count = 0x7FFFFFFFu;
	if (h == NULL)
		mh__exec_release(&x, s);
	ms = mh__exec_run(&x);
	if (ms == S_OK && (ms = mh__exec_check(&x, oi)) == S_OK &&
	    (ms = mh__exec_check(&x, si)) == S_OK) {
		size = mh__exec_resp(&x, si)->u.open_stream.stream_size;
		if (ss < x.res.responses.handle_count)
			sh.handle = x.res.responses.handles[ss];
		sh.generation = st->generation;
		if (size > MH_STREAM_MAX)
			ms = mh__session_fail(st->s, MAPI_E_TOO_BIG,
			                      "stream of 0x%08X: %u bytes, more than %zu", tag,
			                      size, (size_t)MH_STREAM_MAX);
		else if ((ms = mh__exec_check(&x, ri)) == S_OK) {
			const SBinary *d = &mh__exec_resp(&x, ri)->u.read_stream.data;
			mh_buf_put(out, d->lpb, d->cb);
		}
	}
	/* More RopReadStream on the stream's handle until StreamSize bytes came. */
	while (ms == S_OK && out->len < size) {
		mh_arena_free(&x.arena);
		mh__exec_reset(&x);
		uint8_t r = mh__exec_slot(&x, sh.handle);
		q = mh__exec_rop(&x, MH_ROP_READ_STREAM, r);
		q->u.read_stream.byte_count = MH_READ_STREAM_USE_MAX;
		q->u.read_stream.maximum_byte_count = (uint32_t)(size - out->len);
		if ((ms = mh__exec_run(&x)) != S_OK || (ms = mh__exec_check(&x, 0)) != S_OK)
			break;
		const SBinary *d = &mh__exec_resp(&x, 0)->u.read_stream.data;
		if (d->cb == 0) {
			ms = mh__session_fail(st->s, MAPI_E_CORRUPT_DATA,
			                      "RopReadStream: stream ended at %zu of %u bytes",
			                      out->len, size);
			break;
		}
		mh_buf_put(out, d->lpb, d->cb);
	}
	if (ms == S_OK && out->len > size)
		ms = mh__session_fail(st->s, MAPI_E_CORRUPT_DATA,
		                      "RopReadStream: %zu bytes for a %u-byte stream", out->len,
		                      size);
	if (ms == S_OK)
		ms = mh_buf_status(out);
	mh__object_release(st, &sh); /* a no-op once the context was lost */
	mh__exec_free(&x);
	return ms;
}

mh_status mh__object_read_stream(mh_store *st, uint64_t fid, uint64_t mid, mh_obj_handle *h,
                                 uint32_t tag, void **data, size_t *len)
{
	if (data == NULL || len == NULL)
		return mh__session_fail(st->s, MAPI_E_INVALID_PARAMETER,
		                        "read stream: NULL argument");
	*data = NULL;
	*len = 0;
	uint16_t type = (uint16_t)PROP_TYPE(tag);
	if (type != PT_UNICODE && type != PT_STRING8 && type != PT_BINARY)
		return mh__session_fail(st->s, MAPI_E_INVALID_PARAMETER,
		                        "read stream: tag 0x%08X is not PT_UNICODE, PT_STRING8 or "
		                        "PT_BINARY",
		                        tag);
	mh_buf b = MH_BUF_INIT;
	mh_status ms;
	for (int attempt = 0;; attempt++) {
		b.len = 0;
		ms = stream_once(st, fid, mid, h, tag, &b);
		if (ms == MAPI_E_END_OF_SESSION && attempt == 0)
			continue;
		break;
	}
	void *res = NULL;
	size_t n = 0;
	if (ms == S_OK && type == PT_UNICODE) {
		if (b.len % 2 != 0) {
			ms = mh__session_fail(st->s, MAPI_E_CORRUPT_DATA,
			                      "stream of 0x%08X: odd length %zu for UTF-16LE", tag,
			                      b.len);
		} else if ((ms = mh_utf16le_to_utf8(NULL, 0, b.data, b.len / 2, &n)) != S_OK ||
		           n + 1 > UINT32_MAX ||
		           (ms = MAPIAllocateBuffer((uint32_t)(n + 1), &res)) != S_OK ||
		           (ms = mh_utf16le_to_utf8(res, n + 1, b.data, b.len / 2, &n)) != S_OK) {
			if (ms == S_OK)
				ms = MAPI_E_TOO_BIG;
			ms = mh__session_fail(st->s, ms, "stream of 0x%08X: %s", tag,
			                      mh__last_message());
		}
	} else if (ms == S_OK) {
		n = b.len;
		if ((ms = MAPIAllocateBuffer((uint32_t)(n + 1), &res)) == S_OK) {
			if (n > 0)
				memcpy(res, b.data, n);
			((char *)res)[n] = 0;
		} else {
			ms = mh__session_fail(st->s, ms, "read stream: out of memory");
		}
	}
	mh_buf_free(&b);
	if (ms != S_OK) {
		MAPIFreeBuffer(res);
		return ms;
	}
	*data = res;
	*len = n;
	mh__session_ok(st->s);
	return S_OK;
}

void mh__object_release(mh_store *st, mh_obj_handle *h)
{
	/* Sent with the store's next Execute: closing costs no request of its own. */
	if (mh__obj_live(st, h))
		mh__store_release_later(st, h->handle);
	h->handle = MH_OBJ_NO_HANDLE;
}

void mh__object_opened(mh_store *st)
{
	st->open_objects++;
	mh__session_ok(st->s);
}

void mh__object_closed(mh_store *st, mh_obj_handle *h)
{
	mh__object_release(st, h);
	if (st->open_objects > 0)
		st->open_objects--;
}

mh_status mh__store_ids_from_long_term(mh_store *st, const mh_long_term_id *lt, uint32_t n,
                                       uint64_t *ids)
{
	if (n == 0)
		return S_OK;
	if (n > MH_EXEC_MAX_ROPS)
		return mh__session_fail(st->s, MAPI_E_INVALID_PARAMETER, "too many LongTermIds");
	mh_exec x;
	mh__exec_init(&x, st);
	mh_status ms;
	for (int attempt = 0;; attempt++) {
		mh__exec_reset(&x);
		for (uint32_t i = 0; i < n; i++) {
			mh_rop_request *q = mh__exec_rop(&x, MH_ROP_ID_FROM_LONG_TERM_ID, 0);
			q->u.id_from_long_term_id.long_term_id = lt[i];
		}
		ms = mh__exec_run(&x);
		if (ms == MAPI_E_END_OF_SESSION && attempt == 0)
			continue;
		break;
	}
	for (uint32_t i = 0; ms == S_OK && i < n; i++) {
		const mh_rop_response *r = mh__exec_resp(&x, i);
		if (r == NULL)
			ms = mh__exec_check(&x, i);
		else
			ids[i] = r->return_value == S_OK ? r->u.id_from_long_term_id.object_id : 0;
	}
	mh__exec_free(&x);
	return ms;
}

/* ---- well-known folders ------------------------------------------------------------------- */

static const struct {
	const char *name;
	int logon_index; /* into RopLogon's FolderIds, or -1 */
	uint32_t tag;    /* PidTagIpm*EntryId on the Inbox or the root */
} well_known[] = {
    {"root", MH_LOGON_FID_ROOT, 0},
    {"deferredaction", MH_LOGON_FID_DEFERRED_ACTION, 0},
    {"spooler", MH_LOGON_FID_SPOOLER_QUEUE, 0},
    {"ipmsubtree", MH_LOGON_FID_IPM_SUBTREE, 0},
    {"inbox", MH_LOGON_FID_INBOX, 0},
    {"outbox", MH_LOGON_FID_OUTBOX, 0},
    {"sentitems", MH_LOGON_FID_SENT_ITEMS, 0},
    {"deleteditems", MH_LOGON_FID_DELETED_ITEMS, 0},
    {"commonviews", MH_LOGON_FID_COMMON_VIEWS, 0},
    {"schedule", MH_LOGON_FID_SCHEDULE, 0},
    {"search", MH_LOGON_FID_SEARCH, 0},
    {"views", MH_LOGON_FID_VIEWS, 0},
    {"shortcuts", MH_LOGON_FID_SHORTCUTS, 0},
    {"calendar", -1, PR_IPM_APPOINTMENT_ENTRYID},
    {"contacts", -1, PR_IPM_CONTACT_ENTRYID},
    {"journal", -1, PR_IPM_JOURNAL_ENTRYID},
    {"notes", -1, PR_IPM_NOTE_ENTRYID},
    {"tasks", -1, PR_IPM_TASK_ENTRYID},
    {"drafts", -1, PR_IPM_DRAFTS_ENTRYID},
    {"junkemail", -1, PR_ADDITIONAL_REN_ENTRYIDS},
};

/* PidTagAdditionalRenEntryIds: the Junk E-mail folder's EntryID is the fifth value. */
#define MH_REN_JUNK_INDEX 4u

/* The LongTermId of a folder EntryID (bin) of this store. */
static mh_status folder_long_term_id(mh_store *st, uint32_t cb, const void *eid,
                                     mh_long_term_id *lt)
{
	mh_entryid *e = NULL;
	mh_status ms = mh_entryid_parse(&e, cb, eid);
	if (ms != S_OK)
		return mh__session_fail(
		    st->s, ms == MAPI_E_INVALID_PARAMETER ? ms : MAPI_E_INVALID_ENTRYID,
		    "folder EntryID: %s", mh__last_message());
	if (e->kind != MH_ENTRYID_FOLDER || e->u.folder.folder_type != eitLTPrivateFolder) {
		ms = mh__session_fail(st->s, MAPI_E_INVALID_ENTRYID,
		                      "not a private folder EntryID (a %s EntryID of %u bytes)",
		                      mh_entryid_kind_str(e->kind), cb);
	} else if (memcmp(&e->u.folder.provider_uid, &st->logon.mailbox_guid, 16) != 0) {
		ms = mh__session_fail(st->s, MAPI_E_NOT_FOUND,
		                      "the folder EntryID names another mailbox than this store's");
	} else {
		memset(lt, 0, sizeof(*lt));
		lt->database_guid = e->u.folder.database_guid;
		lt->global_counter = e->u.folder.global_counter;
	}
	MAPIFreeBuffer(e);
	return ms;
}

/* The EntryID value of tag (junk: its fifth value) in a GetPropertiesSpecific row. */
static const SBinary *entryid_value(const mh_rop_response *r, uint32_t tag)
{
	if (r == NULL || r->return_value != S_OK || r->u.get_props_specific.row.cValues != 1)
		return NULL;
	const SPropValue *v = &r->u.get_props_specific.row.lpProps[0];
	if (v->ulPropTag != tag)
		return NULL;
	if (tag == PR_ADDITIONAL_REN_ENTRYIDS) {
		if (v->Value.MVbin.cValues <= MH_REN_JUNK_INDEX ||
		    v->Value.MVbin.lpbin[MH_REN_JUNK_INDEX].cb == 0)
			return NULL;
		return &v->Value.MVbin.lpbin[MH_REN_JUNK_INDEX];
	}
	return v->Value.bin.cb > 0 ? &v->Value.bin : NULL;
}

static mh_status well_known_by_prop(mh_store *st, const char *name, uint32_t tag, uint64_t *fid)
{
	struct {
		uint32_t cValues;
		uint32_t aulPropTag[1];
	} one = {1, {tag}};
	const SPropTagArray *tags = (const SPropTagArray *)(const void *)&one;
	mh_exec x;
	mh__exec_init(&x, st);
	mh_status ms;
	uint32_t gi[2], oi[2];
	const uint64_t from[2] = {st->logon.folder_ids[MH_LOGON_FID_INBOX],
	                          st->logon.folder_ids[MH_LOGON_FID_ROOT]};
	for (int attempt = 0;; attempt++) {
		mh__exec_reset(&x);
		for (int i = 0; i < 2; i++) {
			uint8_t s = mh__exec_object(&x, from[i], 0, NULL, &oi[i]);
			gi[i] = x.n_rops;
			mh_rop_request *q = mh__exec_rop(&x, MH_ROP_GET_PROPERTIES_SPECIFIC, s);
			q->u.get_props_specific.want_unicode = 1;
			q->u.get_props_specific.tags = unconst_tags(tags);
			mh__exec_release(&x, s);
		}
		ms = mh__exec_run(&x);
		if (ms == MAPI_E_END_OF_SESSION && attempt == 0)
			continue;
		break;
	}
	const SBinary *eid = NULL;
	if (ms == S_OK) {
		eid = entryid_value(mh__exec_resp(&x, gi[0]), tag);
		if (eid == NULL)
			eid = entryid_value(mh__exec_resp(&x, gi[1]), tag);
		if (eid == NULL) {
			/* Say when a folder could not be read at all (a delegate's rights). */
			const char *why[2];
			for (int i = 0; i < 2; i++) {
				const mh_rop_response *o = mh__exec_resp(&x, oi[i]);
				const mh_rop_response *g = mh__exec_resp(&x, gi[i]);
				why[i] = o == NULL || g == NULL    ? "no answer"
				         : o->return_value != S_OK ? mh_status_str(o->return_value)
				         : g->return_value != S_OK ? mh_status_str(g->return_value)
				                                   : "read";
			}
			ms =
			    mh__session_fail(st->s, MAPI_E_NOT_FOUND,
			                     "well-known folder \"%s\": neither the Inbox (%s) nor "
			                     "the root (%s) has property 0x%08X",
			                     name, why[0], why[1], tag);
		}
	}
	mh_long_term_id lt;
	if (ms == S_OK && (ms = folder_long_term_id(st, eid->cb, eid->lpb, &lt)) == S_OK &&
	    (ms = mh__store_ids_from_long_term(st, &lt, 1, fid)) == S_OK && *fid == 0)
		ms = mh__session_fail(st->s, MAPI_E_NOT_FOUND,
		                      "well-known folder \"%s\": RopIdFromLongTermId knows no such "
		                      "folder",
		                      name);
	mh__exec_free(&x);
	return ms;
}

mh_status mh_store_well_known_fid(mh_store *st, const char *name, uint64_t *fid)
{
	if (st == NULL || name == NULL || fid == NULL) {
		if (st != NULL)
			return mh__session_fail(st->s, MAPI_E_INVALID_PARAMETER,
			                        "well-known folder: NULL argument");
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "well-known folder: NULL store");
	}
	*fid = 0;
	for (size_t i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++) {
		if (strcmp(well_known[i].name, name) != 0)
			continue;
		if (well_known[i].logon_index < 0) {
			mh_status ms = well_known_by_prop(st, name, well_known[i].tag, fid);
			if (ms == S_OK)
				mh__session_ok(st->s);
			return ms;
		}
		*fid = st->logon.folder_ids[well_known[i].logon_index];
		if (*fid == 0)
			return mh__session_fail(st->s, MAPI_E_NOT_FOUND,
			                        "well-known folder \"%s\": the logon gave no FID",
			                        name);
		mh__session_ok(st->s);
		return S_OK;
	}
	return mh__session_fail(st->s, MAPI_E_NOT_FOUND, "\"%s\" is not a well-known folder name",
	                        name);
}

/* ---- opening folders ---------------------------------------------------------------------- */

mh_status mh_store_open_folder(mh_folder **out, mh_store *st, uint64_t fid)
{
	if (out != NULL)
		*out = NULL;
	if (st == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "open folder: NULL store");
	if (out == NULL)
		return mh__session_fail(st->s, MAPI_E_INVALID_PARAMETER, "open folder: NULL out");
	mh_folder *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return mh__session_fail(st->s, MAPI_E_NOT_ENOUGH_MEMORY,
		                        "open folder: out of memory");
	f->st = st;
	f->fid = fid;
	f->h.handle = MH_OBJ_NO_HANDLE;
	mh_exec x;
	uint32_t oi;
	mh_status ms = mh__exec_open(&x, st, fid, 0, &f->h, &oi);
	mh__exec_free(&x);
	if (ms != S_OK) {
		free(f);
		return ms;
	}
	*out = f;
	mh__object_opened(st);
	return S_OK;
}

mh_status mh_store_open_folder_entryid(mh_folder **out, mh_store *st, uint32_t cb,
                                       const ENTRYID *eid)
{
	if (out != NULL)
		*out = NULL;
	if (st == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "open folder: NULL store");
	if (out == NULL || eid == NULL)
		return mh__session_fail(st->s, MAPI_E_INVALID_PARAMETER,
		                        "open folder EntryID: NULL argument");
	mh_long_term_id lt;
	uint64_t fid = 0;
	mh_status ms = folder_long_term_id(st, cb, eid, &lt);
	if (ms == S_OK && (ms = mh__store_ids_from_long_term(st, &lt, 1, &fid)) == S_OK && fid == 0)
		ms = mh__session_fail(st->s, MAPI_E_NOT_FOUND,
		                      "folder EntryID: RopIdFromLongTermId knows no such folder");
	if (ms != S_OK)
		return ms;
	return mh_store_open_folder(out, st, fid);
}

void mh_folder_close(mh_folder *f)
{
	if (f == NULL)
		return;
	mh__object_closed(f->st, &f->h);
	free(f);
}

uint64_t mh_folder_id(const mh_folder *f)
{
	return f != NULL ? f->fid : 0;
}

/* ---- the hierarchy below a folder --------------------------------------------------------- */

static const struct {
	uint32_t cValues;
	uint32_t aulPropTag[8];
} tree_columns = {8,
                  {PR_FID, PR_PARENT_FID, PR_DISPLAY_NAME_W, PR_CONTAINER_CLASS_W, PR_CONTENT_COUNT,
                   MH_TAG_FOLDER_CHILD_COUNT, MH_TAG_MESSAGE_SIZE_EXT, PR_DEPTH}};
enum { TC_FID, TC_PARENT, TC_NAME, TC_CLASS, TC_COUNT, TC_CHILDREN, TC_SIZE, TC_DEPTH };

#define MH_QUERY_ROWS_MAX 0xFFFFu
/* A bound on what a server can make the tree hold (Exchange allows far fewer folders). */
#define MH_TREE_MAX_FOLDERS 1000000u

/*
 * Every folder below root (hierarchy table with Depth, tree_columns): OpenFolder,
 * GetHierarchyTable, SetColumns, QueryRows and the releases in one Execute; when the rows did
 * not fit, the same again with a SeekRow past the rows already read. Rows live in x's arena;
 * *rows is malloc'd.
 */
static mh_status hierarchy_rows(mh_exec *x, uint64_t root, mh_prop_row **rows, uint32_t *n)
{
	mh_store *st = x->st;
	mh_prop_row *all = NULL;
	uint32_t got = 0;
	mh_status ms = S_OK;
	*rows = NULL;
	*n = 0;
	for (;;) {
		uint32_t oi, ti, ci, si = UINT32_MAX, qi;
		for (int attempt = 0;; attempt++) {
			mh__exec_reset(x);
			uint8_t f = mh__exec_object(x, root, 0, NULL, &oi);
			uint8_t t = mh__exec_slot(x, MH_OBJ_NO_HANDLE);
			ti = x->n_rops;
			mh_rop_request *q = mh__exec_rop(x, MH_ROP_GET_HIERARCHY_TABLE, f);
			q->out_handle_index = t;
			q->u.get_table.table_flags = MH_TABLE_FLAGS_BASE | MH_TABLE_DEEP;
			ci = x->n_rops;
			q = mh__exec_rop(x, MH_ROP_SET_COLUMNS, t);
			q->u.set_columns.tags =
			    unconst_tags((const SPropTagArray *)(const void *)&tree_columns);
			if (got > 0) {
				si = x->n_rops;
				q = mh__exec_rop(x, MH_ROP_SEEK_ROW, t);
				q->u.seek_row.origin = 0;
				q->u.seek_row.row_count = (int32_t)got;
			}
			qi = x->n_rops;
			q = mh__exec_rop(x, MH_ROP_QUERY_ROWS, t);
			q->u.query_rows.forward_read = 1;
			q->u.query_rows.row_count = MH_QUERY_ROWS_MAX;
			mh__exec_release(x, t);
			mh__exec_release(x, f);
			ms = mh__exec_run(x);
			if (ms == MAPI_E_END_OF_SESSION && attempt == 0)
				continue;
			break;
		}
		if (ms != S_OK || (ms = mh__exec_check(x, oi)) != S_OK ||
		    (ms = mh__exec_check(x, ti)) != S_OK || (ms = mh__exec_check(x, ci)) != S_OK ||
		    (ms = mh__exec_check(x, si)) != S_OK || (ms = mh__exec_check(x, qi)) != S_OK)
			break;
		uint32_t total = mh__exec_resp(x, ti)->u.get_table.row_count;
		const mh_rop_response *r = mh__exec_resp(x, qi);
		uint16_t k = r->u.query_rows.row_count;
		if (k > 0 && r->u.query_rows.columns == NULL) {
			ms = mh__session_fail(st->s, MAPI_E_CORRUPT_DATA,
			                      "RopQueryRows: rows without columns");
			break;
		}
		if (k > 0) {
			mh_prop_row *grown = realloc(all, ((size_t)got + k) * sizeof(*all));
			if (grown == NULL) {
				ms = mh__session_fail(st->s, MAPI_E_NOT_ENOUGH_MEMORY,
				                      "folder hierarchy: out of memory");
				break;
			}
			all = grown;
			memcpy(all + got, r->u.query_rows.rows, (size_t)k * sizeof(*all));
			got += k;
		}
		/* Origin END: nothing left; a page that came back empty ends it too. */
		if (k == 0 || got >= total || r->u.query_rows.origin == 2)
			break;
		if (got >= MH_TREE_MAX_FOLDERS) {
			ms = mh__session_fail(st->s, MAPI_E_TOO_BIG,
			                      "folder hierarchy: more than %u folders", got);
			break;
		}
	}
	if (ms != S_OK) {
		free(all);
		return ms;
	}
	*rows = all;
	*n = got;
	return S_OK;
}

static const SPropValue *col(const mh_prop_row *r, unsigned i)
{
	static const SPropValue none = {PROP_TAG(PT_ERROR, 0), 0, {.err = MAPI_E_NOT_FOUND}};
	if (i >= r->cValues || r->lpProps[i].ulPropTag != tree_columns.aulPropTag[i])
		return &none;
	return &r->lpProps[i];
}

static uint64_t col_i8(const mh_prop_row *r, unsigned i)
{
	const SPropValue *v = col(r, i);
	return PROP_TYPE(v->ulPropTag) == PT_I8 ? (uint64_t)v->Value.li : 0;
}

static uint32_t col_u32(const mh_prop_row *r, unsigned i)
{
	const SPropValue *v = col(r, i);
	return PROP_TYPE(v->ulPropTag) == PT_LONG ? v->Value.ul : 0;
}

static const char *col_str(const mh_prop_row *r, unsigned i)
{
	const SPropValue *v = col(r, i);
	return PROP_TYPE(v->ulPropTag) == PT_UNICODE ? v->Value.lpszW : NULL;
}

typedef struct fid_index {
	uint64_t fid;
	uint32_t i;
} fid_index;

static int fid_index_cmp(const void *a, const void *b)
{
	uint64_t x = ((const fid_index *)a)->fid, y = ((const fid_index *)b)->fid;
	return x < y ? -1 : x > y;
}

/* Row index of fid, or UINT32_MAX. */
static uint32_t find_fid(const fid_index *ix, uint32_t n, uint64_t fid)
{
	fid_index key = {fid, 0};
	const fid_index *p = bsearch(&key, ix, n, sizeof(*ix), fid_index_cmp);
	return p != NULL ? p->i : UINT32_MAX;
}

/* Length of name with "\" and "/" escaped; written to out when not NULL. */
static size_t escape_name(const char *name, char *out)
{
	size_t n = 0;
	for (const char *p = name; *p != 0; p++) {
		if (*p == '/' || *p == '\\') {
			if (out != NULL)
				out[n] = '\\';
			n++;
		}
		if (out != NULL)
			out[n] = *p;
		n++;
	}
	return n;
}

mh_status mh_store_folder_tree(mh_store *st, mh_folder_entry **entries, uint32_t *count)
{
	if (st == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "folder tree: NULL store");
	if (entries == NULL || count == NULL)
		return mh__session_fail(st->s, MAPI_E_INVALID_PARAMETER,
		                        "folder tree: NULL argument");
	*entries = NULL;
	*count = 0;
	uint64_t ipm = st->logon.folder_ids[MH_LOGON_FID_IPM_SUBTREE];
	mh_exec x;
	mh__exec_init(&x, st);
	mh_prop_row *rows = NULL;
	uint32_t n = 0;
	fid_index *ix = NULL;
	uint32_t *first = NULL, *next = NULL, *order = NULL, *stack = NULL, *parent = NULL;
	size_t *plen = NULL;
	mh_folder_entry *e = NULL;
	mh_status ms = hierarchy_rows(&x, ipm, &rows, &n);
	if (ms != S_OK)
		goto done;
	size_t cells = (size_t)n + 1;
	ix = calloc(cells, sizeof(*ix));
	first = calloc(cells, sizeof(*first));
	next = calloc(cells, sizeof(*next));
	order = calloc(cells, sizeof(*order));
	stack = calloc(cells, sizeof(*stack));
	parent = calloc(cells, sizeof(*parent));
	plen = calloc(cells, sizeof(*plen));
	if (ix == NULL || first == NULL || next == NULL || order == NULL || stack == NULL ||
	    parent == NULL || plen == NULL) {
		ms =
		    mh__session_fail(st->s, MAPI_E_NOT_ENOUGH_MEMORY, "folder tree: out of memory");
		goto done;
	}
	for (uint32_t i = 0; i < n; i++) {
		ix[i].fid = col_i8(&rows[i], TC_FID);
		ix[i].i = i;
	}
	qsort(ix, n, sizeof(*ix), fid_index_cmp);
	/* Children lists in the server's order; node n stands for the IPM subtree. */
	for (uint32_t i = 0; i <= n; i++)
		first[i] = next[i] = UINT32_MAX;
	for (uint32_t i = n; i-- > 0;) {
		uint64_t pf = col_i8(&rows[i], TC_PARENT);
		uint32_t p = find_fid(ix, n, pf);
		if (p == UINT32_MAX || p == i)
			p = n; /* the subtree itself, or a parent the table did not show */
		parent[i] = p;
		next[i] = first[p];
		first[p] = i;
	}
	/* Depth first; a parent's path is done before its children's. */
	uint32_t k = 0, sp = 0;
	stack[sp++] = n;
	while (sp > 0 && k < n) {
		uint32_t v = stack[--sp];
		if (v != n)
			order[k++] = v;
		/* Push children in reverse so the first comes out first. */
		uint32_t m = 0;
		for (uint32_t c = first[v]; c != UINT32_MAX; c = next[c])
			m++;
		if (sp + m > cells)
			break; /* a cycle in the parent IDs: keep what was walked */
		uint32_t j = sp + m;
		for (uint32_t c = first[v]; c != UINT32_MAX; c = next[c])
			stack[--j] = c;
		sp += m;
	}
	/* Rows a cycle kept out of the walk: after the rest, under the subtree. */
	if (k < n) {
		bool *seen = calloc(n, sizeof(bool));
		if (seen == NULL) {
			ms = mh__session_fail(st->s, MAPI_E_NOT_ENOUGH_MEMORY,
			                      "folder tree: out of memory");
			goto done;
		}
		for (uint32_t i = 0; i < k; i++)
			seen[order[i]] = true;
		for (uint32_t i = 0; i < n; i++)
			if (!seen[i]) {
				order[k++] = i;
				parent[i] = n;
			}
		free(seen);
	}
	if ((ms = MAPIAllocateBuffer((uint32_t)(sizeof(*e) * (n > 0 ? n : 1)), (void **)&e)) !=
	    S_OK) {
		ms = mh__session_fail(st->s, ms, "folder tree: out of memory");
		goto done;
	}
	memset(e, 0, sizeof(*e) * (n > 0 ? n : 1));
	/* entry index of each row, to find a parent's path */
	uint32_t *at = first; /* reused: children lists are no longer needed */
	for (uint32_t j = 0; j < n; j++)
		at[order[j]] = j;
	for (uint32_t j = 0; j < n && ms == S_OK; j++) {
		const mh_prop_row *r = &rows[order[j]];
		mh_folder_entry *fe = &e[j];
		const char *name = col_str(r, TC_NAME);
		if (name == NULL)
			name = "";
		const char *cls = col_str(r, TC_CLASS);
		const char *pp = parent[order[j]] != n ? e[at[parent[order[j]]]].path : NULL;
		size_t pl = pp != NULL ? plen[parent[order[j]]] : 0;
		size_t el = escape_name(name, NULL);
		size_t total = (pp != NULL ? pl + 1 : 0) + el;
		char *path = NULL, *dn = NULL, *cl = NULL;
		if ((ms = MAPIAllocateMore((uint32_t)(total + 1), e, (void **)&path)) != S_OK ||
		    (ms = MAPIAllocateMore((uint32_t)(strlen(name) + 1), e, (void **)&dn)) !=
		        S_OK ||
		    (cls != NULL && (ms = MAPIAllocateMore((uint32_t)(strlen(cls) + 1), e,
		                                           (void **)&cl)) != S_OK)) {
			ms = mh__session_fail(st->s, ms, "folder tree: out of memory");
			break;
		}
		size_t w = 0;
		if (pp != NULL) {
			memcpy(path, pp, pl);
			path[pl] = '/';
			w = pl + 1;
		}
		escape_name(name, path + w);
		path[total] = 0;
		plen[order[j]] = total;
		strcpy(dn, name);
		if (cl != NULL)
			strcpy(cl, cls);
		fe->path = path;
		fe->display_name = dn;
		fe->container_class = cl;
		fe->folder_id = col_i8(r, TC_FID);
		fe->depth = col_u32(r, TC_DEPTH);
		fe->content_count = col_u32(r, TC_COUNT);
		fe->child_count = col_u32(r, TC_CHILDREN);
		fe->message_size = col_i8(r, TC_SIZE);
	}
	if (ms == S_OK) {
		*entries = e;
		*count = n;
		e = NULL;
		mh__session_ok(st->s);
	}
done:
	MAPIFreeBuffer(e);
	free(rows);
	free(ix);
	free(first);
	free(next);
	free(order);
	free(stack);
	free(parent);
	free(plen);
	mh__exec_free(&x);
	return ms;
}

/* ---- paths -------------------------------------------------------------------------------- */

/* ASCII case-insensitive equality (Exchange compares folder names without case). */
static bool name_equal(const char *a, const char *b)
{
	for (; *a != 0 && *b != 0; a++, b++)
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
	return *a == *b;
}

/*
 * The next element of path at *p, unescaped into a malloc'd string (NULL at the end or on
 * failure: *bad set when it was a failure).
 */
static char *next_element(const char **p, bool *bad)
{
	*bad = false;
	if (**p == 0)
		return NULL;
	size_t cap = strlen(*p) + 1, n = 0;
	char *out = malloc(cap);
	if (out == NULL) {
		*bad = true;
		return NULL;
	}
	const char *s = *p;
	for (; *s != 0 && *s != '/'; s++) {
		if (*s == '\\' && (s[1] == '/' || s[1] == '\\'))
			s++;
		out[n++] = *s;
	}
	out[n] = 0;
	*p = *s == '/' ? s + 1 : s;
	return out;
}

mh_status mh_store_open_folder_path(mh_folder **out, mh_store *st, const char *path)
{
	if (out != NULL)
		*out = NULL;
	if (st == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "open folder path: NULL store");
	if (out == NULL || path == NULL)
		return mh__session_fail(st->s, MAPI_E_INVALID_PARAMETER,
		                        "open folder path: NULL argument");
	const char *p = path;
	while (*p == '/')
		p++;
	uint64_t cur = st->logon.folder_ids[MH_LOGON_FID_IPM_SUBTREE];
	mh_status ms = S_OK;
	if (*p == '<') {
		const char *end = strchr(p, '>');
		if (end == NULL || (end[1] != 0 && end[1] != '/') || end - p - 1 > 31)
			return mh__session_fail(
			    st->s, MAPI_E_NOT_FOUND,
			    "folder path \"%s\": \"<\" without a well-known name "
			    "and \">\"",
			    path);
		char name[32];
		memcpy(name, p + 1, (size_t)(end - p - 1));
		name[end - p - 1] = 0;
		for (char *c = name; *c != 0; c++)
			*c = (char)tolower((unsigned char)*c);
		if ((ms = mh_store_well_known_fid(st, name, &cur)) != S_OK)
			return ms;
		p = end[1] == '/' ? end + 2 : end + 1;
	}
	if (*p == 0)
		return mh_store_open_folder(out, st, cur);
	mh_exec x;
	mh__exec_init(&x, st);
	mh_prop_row *rows = NULL;
	uint32_t n = 0;
	if ((ms = hierarchy_rows(&x, cur, &rows, &n)) == S_OK) {
		bool bad = false;
		char *el;
		while (ms == S_OK && (el = next_element(&p, &bad)) != NULL) {
			uint32_t hit = UINT32_MAX;
			for (uint32_t i = 0; i < n && hit == UINT32_MAX; i++) {
				const char *name = col_str(&rows[i], TC_NAME);
				if (col_i8(&rows[i], TC_PARENT) == cur && name != NULL &&
				    name_equal(name, el))
					hit = i;
			}
			if (hit == UINT32_MAX)
				ms = mh__session_fail(st->s, MAPI_E_NOT_FOUND,
				                      "folder path \"%s\": no folder \"%s\" there",
				                      path, el);
			else
				cur = col_i8(&rows[hit], TC_FID);
			free(el);
		}
		if (ms == S_OK && bad)
			ms = mh__session_fail(st->s, MAPI_E_NOT_ENOUGH_MEMORY,
			                      "folder path: out of memory");
	}
	free(rows);
	mh__exec_free(&x);
	if (ms != S_OK)
		return ms;
	return mh_store_open_folder(out, st, cur);
}

/* ---- properties and streams --------------------------------------------------------------- */

mh_status mh_folder_get_props(mh_folder *f, const SPropTagArray *tags, uint32_t *count,
                              SPropValue **props)
{
	if (f == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "folder get props: NULL folder");
	if (tags == NULL)
		return mh__session_fail(f->st->s, MAPI_E_INVALID_PARAMETER,
		                        "folder get props: NULL tags");
	return mh__object_get_props(f->st, f->fid, 0, &f->h, tags, count, props);
}

mh_status mh_folder_get_all_props(mh_folder *f, uint32_t *count, SPropValue **props)
{
	if (f == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "folder get props: NULL folder");
	return mh__object_get_props(f->st, f->fid, 0, &f->h, NULL, count, props);
}

mh_status mh_folder_read_stream(mh_folder *f, uint32_t tag, void **data, size_t *len)
{
	if (f == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "folder read stream: NULL folder");
	return mh__object_read_stream(f->st, f->fid, 0, &f->h, tag, data, len);
}
