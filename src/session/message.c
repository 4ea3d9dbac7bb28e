/*
 * Messages of an open store: opening by MID or EntryID, properties, streams, and the
 * recipients read with RopReadRecipients (the RecipientRows of [MS-OXCDATA] 2.8.3 decoded).
 */
#include <stdlib.h>
#include <string.h>

#include "mapihttp/alloc.h"
#include "mapihttp/entryid.h"
#include "mapihttp/proptags.h"
#include "session/objects.h"
#include "util/cursor.h"
#include "util/utf.h"

/* Opens mid (in folder fid) from the logon; keeps RopOpenMessage's RecipientColumns. */
static mh_status open_message(mh_message **out, mh_store *st, uint64_t fid, uint64_t mid)
{
	mh_message *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return mh__session_fail(st->s, MAPI_E_NOT_ENOUGH_MEMORY,
		                        "open message: out of memory");
	m->st = st;
	m->fid = fid;
	m->mid = mid;
	m->h.handle = MH_OBJ_NO_HANDLE;
	mh_exec x;
	uint32_t oi;
	mh_status ms = mh__exec_open(&x, st, fid, mid, &m->h, &oi);
	if (ms == S_OK) {
		const SPropTagArray *rc = mh__exec_resp(&x, oi)->u.open_message.recipient_columns;
		if (rc != NULL && (m->recipient_columns = mh__tags_dup(rc)) == NULL)
			ms = mh__session_fail(st->s, MAPI_E_NOT_ENOUGH_MEMORY,
			                      "open message: out of memory");
	}
	mh__exec_free(&x);
	if (ms != S_OK) {
		mh__object_release(st, &m->h);
		free(m->recipient_columns);
		free(m);
		return ms;
	}
	*out = m;
	mh__object_opened(st);
	return S_OK;
}

mh_status mh_folder_open_message(mh_message **out, mh_folder *f, uint64_t mid)
{
	if (out != NULL)
		*out = NULL;
	if (f == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "open message: NULL folder");
	if (out == NULL)
		return mh__session_fail(f->st->s, MAPI_E_INVALID_PARAMETER,
		                        "open message: NULL out");
	return open_message(out, f->st, f->fid, mid);
}

mh_status mh_store_open_message_entryid(mh_message **out, mh_store *st, uint32_t cb,
                                        const ENTRYID *eid)
{
	if (out != NULL)
		*out = NULL;
	if (st == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "open message: NULL store");
	if (out == NULL || eid == NULL)
		return mh__session_fail(st->s, MAPI_E_INVALID_PARAMETER,
		                        "open message EntryID: NULL argument");
	mh_entryid *e = NULL;
	mh_status ms = mh_entryid_parse(&e, cb, eid);
	if (ms != S_OK)
		return mh__session_fail(
		    st->s, ms == MAPI_E_NOT_ENOUGH_MEMORY ? ms : MAPI_E_INVALID_ENTRYID,
		    "message EntryID: %s", mh__last_message());
	mh_long_term_id lt[2];
	memset(lt, 0, sizeof(lt));
	if (e->kind != MH_ENTRYID_MESSAGE || e->u.message.message_type != eitLTPrivateMessage) {
		ms = mh__session_fail(st->s, MAPI_E_INVALID_ENTRYID,
		                      "not a private message EntryID (a %s EntryID of %u bytes)",
		                      mh_entryid_kind_str(e->kind), cb);
	} else if (memcmp(&e->u.message.provider_uid, &st->logon.mailbox_guid, 16) != 0) {
		ms =
		    mh__session_fail(st->s, MAPI_E_NOT_FOUND,
		                     "the message EntryID names another mailbox than this store's");
	} else {
		lt[0].database_guid = e->u.message.folder_database_guid;
		lt[0].global_counter = e->u.message.folder_global_counter;
		lt[1].database_guid = e->u.message.message_database_guid;
		lt[1].global_counter = e->u.message.message_global_counter;
	}
	MAPIFreeBuffer(e);
	uint64_t ids[2] = {0, 0};
	if (ms == S_OK && (ms = mh__store_ids_from_long_term(st, lt, 2, ids)) == S_OK &&
	    (ids[0] == 0 || ids[1] == 0))
		ms = mh__session_fail(st->s, MAPI_E_NOT_FOUND,
		                      "message EntryID: RopIdFromLongTermId knows no such %s",
		                      ids[0] == 0 ? "folder" : "message");
	if (ms != S_OK)
		return ms;
	return open_message(out, st, ids[0], ids[1]);
}

void mh_message_close(mh_message *m)
{
	if (m == NULL)
		return;
	mh__object_closed(m->st, &m->h);
	free(m->recipient_columns);
	free(m);
}

mh_status mh_message_get_props(mh_message *m, const SPropTagArray *tags, uint32_t *count,
                               SPropValue **props)
{
	if (m == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "message get props: NULL message");
	if (tags == NULL)
		return mh__session_fail(m->st->s, MAPI_E_INVALID_PARAMETER,
		                        "message get props: NULL tags");
	return mh__object_get_props(m->st, m->fid, m->mid, &m->h, tags, count, props);
}

mh_status mh_message_get_all_props(mh_message *m, uint32_t *count, SPropValue **props)
{
	if (m == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "message get props: NULL message");
	return mh__object_get_props(m->st, m->fid, m->mid, &m->h, NULL, count, props);
}

mh_status mh_message_read_stream(mh_message *m, uint32_t tag, void **data, size_t *len)
{
	if (m == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "message read stream: NULL message");
	return mh__object_read_stream(m->st, m->fid, m->mid, &m->h, tag, data, len);
}

/* ---- recipients ------------------------------------------------------------------------- */

/* RecipientFlags ([MS-OXCDATA] 2.8.3.1), as the little-endian uint16. */
#define RF_TYPE_MASK 0x0007u
#define RF_E         0x0008u /* EmailAddress */
#define RF_D         0x0010u /* DisplayName */
#define RF_T         0x0020u /* TransmittableDisplayName */
#define RF_S         0x0040u /* TransmittableDisplayName is the DisplayName */
#define RF_N         0x0100u
#define RF_U         0x0200u /* strings are UTF-16LE */
#define RF_I         0x0400u /* SimpleDisplayName */
#define RF_O         0x8000u /* AddressType (NoType) */

#define RT_NOTYPE 0u
#define RT_X500DN 1u
#define RT_PDL1   6u
#define RT_PDL2   7u

/* Longest recipient string accepted, in code units or bytes. */
#define MH_RECIP_STR_MAX 0xFFFFu

static mh_status recip_str(mh_cursor *c, mh_arena *a, bool unicode, const char *field, char **out)
{
	mh_status ms;
	size_t n = 0;
	if (unicode) {
		const uint8_t *p;
		size_t units;
		if ((ms = mh_cursor_str16(c, MH_RECIP_STR_MAX, &p, &units, field)) != S_OK)
			return ms;
		if ((ms = mh_utf16le_to_utf8(NULL, 0, p, units, &n)) != S_OK)
			return ms;
		if ((ms = mh_arena_alloc(a, n + 1, (void **)out)) != S_OK)
			return ms;
		return mh_utf16le_to_utf8(*out, n + 1, p, units, &n);
	}
	const char *s;
	size_t len;
	if ((ms = mh_cursor_str8(c, MH_RECIP_STR_MAX, &s, &len, field)) != S_OK)
		return ms;
	if ((ms = mh_cp1252_to_utf8(NULL, 0, (const uint8_t *)s, len, &n)) != S_OK)
		return ms;
	if ((ms = mh_arena_alloc(a, n + 1, (void **)out)) != S_OK)
		return ms;
	return mh_cp1252_to_utf8(*out, n + 1, (const uint8_t *)s, len, &n);
}

static void put_str(SPropValue *v, uint32_t *n, uint32_t tag, char *s)
{
	if (s == NULL)
		return;
	v[*n].ulPropTag = tag;
	v[*n].Value.lpszW = s;
	(*n)++;
}

/* One RecipientRow (bytes of row, without RecipientRowSize) into an SPropValue array. */
static mh_status decode_recipient(mh_arena *a, const SPropTagArray *cols,
                                  const mh_rop_recipient_row *rr, uint32_t *count,
                                  SPropValue **props)
{
	mh_cursor cur;
	mh_cursor *c = &cur;
	mh_cursor_init(c, rr->row.lpb, rr->row.cb, MAPI_E_CORRUPT_DATA);
	mh_status ms;
	uint16_t flags;
	if ((ms = mh_cursor_u16(c, &flags, "RecipientFlags")) != S_OK)
		return ms;
	unsigned type = flags & RF_TYPE_MASK;
	bool unicode = (flags & RF_U) != 0;
	char *x500 = NULL, *addrtype = NULL, *email = NULL, *name = NULL, *simple = NULL,
	     *transmittable = NULL;
	bool has_dt = false;
	uint8_t dt = 0;
	if (type == RT_X500DN) {
		uint8_t prefix;
		if ((ms = mh_cursor_u8(c, &prefix, "AddressPrefixUsed")) != S_OK ||
		    (ms = mh_cursor_u8(c, &dt, "DisplayType")) != S_OK ||
		    (ms = recip_str(c, a, false, "X500DN", &x500)) != S_OK)
			return ms;
		has_dt = true;
	} else if (type == RT_PDL1 || type == RT_PDL2) {
		uint16_t size;
		for (int i = 0; i < 2; i++)
			if ((ms = mh_cursor_u16(
			         c, &size, i == 0 ? "EntryIdSize" : "SearchKeySize")) != S_OK ||
			    (ms = mh_cursor_skip(c, size, i == 0 ? "EntryID" : "SearchKey")) !=
			        S_OK)
				return ms;
	}
	if (type == RT_NOTYPE && (flags & RF_O) != 0 &&
	    (ms = recip_str(c, a, false, "AddressType", &addrtype)) != S_OK)
		return ms;
	if (((flags & RF_E) != 0 &&
	     (ms = recip_str(c, a, unicode, "EmailAddress", &email)) != S_OK) ||
	    ((flags & RF_D) != 0 &&
	     (ms = recip_str(c, a, unicode, "DisplayName", &name)) != S_OK) ||
	    ((flags & RF_I) != 0 &&
	     (ms = recip_str(c, a, unicode, "SimpleDisplayName", &simple)) != S_OK) ||
	    ((flags & RF_T) != 0 &&
	     (ms = recip_str(c, a, unicode, "TransmittableDisplayName", &transmittable)) != S_OK))
		return ms;
	if ((flags & RF_S) != 0 && transmittable == NULL)
		transmittable = name;
	uint16_t ncols;
	if ((ms = mh_cursor_u16(c, &ncols, "RecipientColumnCount")) != S_OK)
		return ms;
	if (cols == NULL || ncols > cols->cValues)
		return mh_cursor_fail(c,
		                      "RecipientColumnCount %u, more than the %u RecipientColumns",
		                      ncols, cols != NULL ? cols->cValues : 0);
	SPropTagArray *sub;
	if ((ms = mh_arena_alloc(a, CbNewSPropTagArray(ncols), (void **)&sub)) != S_OK)
		return ms;
	sub->cValues = ncols;
	if (ncols > 0)
		memcpy(sub->aulPropTag, cols->aulPropTag, (size_t)ncols * sizeof(uint32_t));
	mh_prop_row row;
	memset(&row, 0, sizeof(row));
	if ((ms = mh_pv_row_pull(c, a, MH_PV_ROP, sub, &row)) != S_OK)
		return ms;
	static const char *const type_names[] = {NULL,  "EX",    "MS",      "SMTP",
	                                         "FAX", "PROFS", "MAPIPDL", "MAPIPDL"};
	if (addrtype == NULL && type_names[type] != NULL &&
	    (ms = mh_arena_strndup(a, type_names[type], strlen(type_names[type]), &addrtype)) !=
	        S_OK)
		return ms;
	if (email == NULL)
		email = x500;
	SPropValue *v;
	if ((ms = mh_arena_array(a, 7u + row.cValues, sizeof(SPropValue), (void **)&v)) != S_OK)
		return ms;
	uint32_t n = 0;
	v[n].ulPropTag = MH_TAG_ROWID;
	v[n++].Value.l = (int32_t)rr->row_id;
	v[n].ulPropTag = MH_TAG_RECIPIENT_TYPE;
	v[n++].Value.l = rr->recipient_type;
	put_str(v, &n, PR_DISPLAY_NAME_W, name != NULL ? name : simple);
	put_str(v, &n, PR_EMAIL_ADDRESS_W, email);
	put_str(v, &n, PR_ADDRTYPE_W, addrtype);
	put_str(v, &n, MH_TAG_TRANSMITABLE_NAME_W, transmittable);
	if (has_dt) {
		v[n].ulPropTag = PR_DISPLAY_TYPE;
		v[n++].Value.l = dt;
	}
	uint32_t fixed = n;
	for (uint32_t i = 0; i < row.cValues; i++) {
		bool dup = false;
		for (uint32_t j = 0; j < fixed; j++)
			if (PROP_ID(v[j].ulPropTag) == PROP_ID(row.lpProps[i].ulPropTag))
				dup = true;
		if (!dup && PROP_TYPE(row.lpProps[i].ulPropTag) != PT_ERROR)
			v[n++] = row.lpProps[i];
	}
	*count = n;
	*props = v;
	return S_OK;
}

mh_status mh__message_recipients(mh_message *m, mh_arena *a, uint32_t *n, uint32_t **counts,
                                 SPropValue ***rows)
{
	mh_store *st = m->st;
	uint32_t got = 0, cap = 0;
	uint32_t *cnt = NULL;
	SPropValue **rv = NULL;
	uint32_t row_id = 0;
	mh_status ms = S_OK;
	mh_exec x;
	mh__exec_init(&x, st);
	for (;;) {
		uint32_t oi, ri;
		for (int attempt = 0;; attempt++) {
			mh__exec_reset(&x);
			uint8_t s = mh__exec_object(&x, m->fid, m->mid, &m->h, &oi);
			ri = x.n_rops;
			mh_rop_request *q = mh__exec_rop(&x, MH_ROP_READ_RECIPIENTS, s);
			q->u.read_recipients.row_id = row_id;
			ms = mh__exec_run(&x);
			if (ms == MAPI_E_END_OF_SESSION && attempt == 0)
				continue;
			break;
		}
		if (ms != S_OK || (ms = mh__exec_check(&x, oi)) != S_OK)
			break;
		const mh_rop_response *r = mh__exec_resp(&x, ri);
		if (r != NULL && r->return_value == MAPI_E_NOT_FOUND)
			break; /* past the last recipient */
		if ((ms = mh__exec_check(&x, ri)) != S_OK)
			break;
		uint8_t k = r->u.read_recipients.row_count;
		if (k == 0)
			break;
		if (got + k > cap) {
			uint32_t nc = (got + k) * 2;
			uint32_t *c2;
			SPropValue **r2;
			if ((ms = mh_arena_array(a, nc, sizeof(*c2), (void **)&c2)) != S_OK ||
			    (ms = mh_arena_array(a, nc, sizeof(*r2), (void **)&r2)) != S_OK) {
				ms = mh__session_fail(st->s, ms, "recipients: %s",
				                      mh__last_message());
				break;
			}
			if (got > 0) {
				memcpy(c2, cnt, got * sizeof(*c2));
				memcpy(r2, rv, got * sizeof(*r2));
			}
			cnt = c2;
			rv = r2;
			cap = nc;
		}
		uint32_t before = row_id;
		for (uint8_t i = 0; i < k && ms == S_OK; i++) {
			const mh_rop_recipient_row *rr = &r->u.read_recipients.rows[i];
			if ((ms = decode_recipient(a, m->recipient_columns, rr, &cnt[got],
			                           &rv[got])) != S_OK)
				ms = mh__session_fail(st->s, ms, "RopReadRecipients row %u: %s",
				                      rr->row_id, mh__last_message());
			else
				got++;
			if (rr->row_id + 1 > row_id)
				row_id = rr->row_id + 1;
		}
		if (ms != S_OK || got > 0xFFFFu || row_id == before)
			break; /* a RowId that does not move on would loop */
	}
	mh__exec_free(&x);
	if (ms != S_OK)
		return ms;
	*n = got;
	*counts = cnt;
	*rows = rv;
	return S_OK;
}
