/*
 * EntryID dispatch by ProviderUID, and the folder, message, address-book,
 * ephemeral, one-off, contact and WAB EntryIDs (store ones: entryid_store.c).
 */
#include <stdio.h>
#include <string.h>

#include "codec/entryid_internal.h"
#include "mapihttp/alloc.h"
#include "util/diag.h"
#include "util/utf.h"

#define FOLDER_EID_LEN     46u
#define MESSAGE_EID_LEN    70u
#define EPHEMERAL_EID_LEN  32u
#define EID_HEAD_LEN       20u /* abFlags + ProviderUID */
#define GLOBAL_COUNTER_MAX 0xFFFFFFFFFFFFull

static const MAPIUID muid_store_wrap = MH_MUID_STORE_WRAP;
static const MAPIUID muid_emsab = MH_MUID_EMSAB;
static const MAPIUID muid_one_off = MH_MUID_ONE_OFF;
static const MAPIUID muid_contab = MH_MUID_CONTAB;
static const MAPIUID muid_wab = MH_MUID_WAB;

/* ---- helpers shared with entryid_store.c ------------------------------------------------ */

static mh_status chain(mh_eid_ctx *ctx, size_t n, void **out)
{
	mh_status st;
	if (n > UINT32_MAX)
		return mh_error_oom();
	st = MAPIAllocateMore((uint32_t)n, ctx->root, out);
	if (st == MAPI_E_NOT_ENOUGH_MEMORY)
		ctx->fatal = true;
	return st;
}

mh_status mh_eid_dup(mh_eid_ctx *ctx, const void *p, size_t n, char **out)
{
	void *d;
	mh_status st = chain(ctx, n + 1, &d);
	if (st != S_OK)
		return st;
	if (n > 0)
		memcpy(d, p, n);
	((char *)d)[n] = '\0';
	*out = d;
	return S_OK;
}

mh_status mh_eid_dup_bin(mh_eid_ctx *ctx, const uint8_t *p, size_t n, SBinary *out)
{
	void *d;
	mh_status st;
	out->cb = 0;
	out->lpb = NULL;
	if (n == 0)
		return S_OK;
	if ((st = chain(ctx, n, &d)) != S_OK)
		return st;
	memcpy(d, p, n);
	out->cb = (uint32_t)n;
	out->lpb = d;
	return S_OK;
}

mh_status mh_eid_dup_utf16(mh_eid_ctx *ctx, const uint8_t *p, size_t units, size_t off,
                           const char *field, char **out)
{
	size_t n = 0;
	void *d;
	mh_status st = mh_utf16le_to_utf8(NULL, 0, p, units, &n);
	if (st != S_OK) {
		/* the message lives in the buffer mh_error_set writes to: copy its reason first */
		const mh_error *e = mh_error_last();
		char why[160] = "invalid";
		int64_t at = (int64_t)off;
		if (st != MAPI_E_CORRUPT_DATA)
			return st;
		if (e != NULL) {
			const char *r = strstr(e->message, ": ");
			snprintf(why, sizeof(why), "%s", r != NULL ? r + 2 : e->message);
			if (e->offset >= 0)
				at += e->offset;
		}
		return mh_error_set(MAPI_E_CORRUPT_DATA, at,
		                    "%s at byte %zu is not valid UTF-16LE: %s at byte %lld", field,
		                    off, why, (long long)at);
	}
	if ((st = chain(ctx, n + 1, &d)) != S_OK)
		return st;
	if ((st = mh_utf16le_to_utf8(d, n + 1, p, units, &n)) != S_OK)
		return st;
	*out = d;
	return S_OK;
}

bool mh_eid_ascii_ieq(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return false;
		if (x == 0)
			return true;
	}
}

mh_status mh_eid_finish(mh_buf *b, uint32_t *cb, ENTRYID **eid)
{
	void *p = NULL;
	mh_status st = mh_buf_status(b);
	if (st == S_OK && b->len > UINT32_MAX)
		st = mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "EntryID longer than 4 GiB");
	if (st == S_OK)
		st = MAPIAllocateBuffer((uint32_t)b->len, &p);
	if (st == S_OK) {
		if (b->len > 0)
			memcpy(p, b->data, b->len);
		*cb = (uint32_t)b->len;
		*eid = p;
	}
	mh_buf_free(b);
	return st;
}

/* ---- names ----------------------------------------------------------------------------- */

const char *mh_entryid_kind_str(mh_entryid_kind kind)
{
	switch (kind) {
	case MH_ENTRYID_STORE:
		return "store";
	case MH_ENTRYID_FOLDER:
		return "folder";
	case MH_ENTRYID_MESSAGE:
		return "message";
	case MH_ENTRYID_AB:
		return "ab";
	case MH_ENTRYID_EPHEMERAL:
		return "ephemeral";
	case MH_ENTRYID_ONE_OFF:
		return "oneoff";
	case MH_ENTRYID_CONTACT:
		return "contab";
	case MH_ENTRYID_WAB:
		return "wab";
	case MH_ENTRYID_UNKNOWN:
		break;
	}
	return "unknown";
}

char *mh_guid_format(char buf[39], const GUID *guid)
{
	snprintf(buf, 39, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}",
	         (unsigned)guid->Data1, (unsigned)guid->Data2, (unsigned)guid->Data3,
	         guid->Data4[0], guid->Data4[1], guid->Data4[2], guid->Data4[3], guid->Data4[4],
	         guid->Data4[5], guid->Data4[6], guid->Data4[7]);
	return buf;
}

/* ---- decoding -------------------------------------------------------------------------- */

static mh_status parse_any(mh_cursor *c, mh_eid_ctx *ctx, mh_entryid *e);

static mh_status read_head(mh_cursor *c, uint8_t abFlags[4], MAPIUID *uid)
{
	const uint8_t *p;
	mh_status st = mh_cursor_bytes(c, 4, &p, "abFlags");
	if (st != S_OK)
		return st;
	memcpy(abFlags, p, 4);
	return mh_cursor_muid(c, uid, "ProviderUID");
}

/* The rest of the cursor's bytes become e->trailing. */
static mh_status take_trailing(mh_cursor *c, mh_eid_ctx *ctx, mh_entryid *e)
{
	const uint8_t *p;
	size_t n = mh_cursor_remaining(c);
	mh_status st = mh_cursor_bytes(c, n, &p, "trailing bytes");
	if (st != S_OK)
		return st;
	return mh_eid_dup_bin(ctx, p, n, &e->trailing);
}

static mh_status parse_folder(mh_cursor *c, mh_folder_entryid *f)
{
	mh_status st;
	if ((st = read_head(c, f->abFlags, &f->provider_uid)) != S_OK ||
	    (st = mh_cursor_u16(c, &f->folder_type, "FolderType")) != S_OK ||
	    (st = mh_cursor_guid(c, &f->database_guid, "DatabaseGuid")) != S_OK ||
	    (st = mh_cursor_u48be(c, &f->global_counter, "GlobalCounter")) != S_OK)
		return st;
	return mh_cursor_u16(c, &f->pad, "Pad");
}

static mh_status parse_message(mh_cursor *c, mh_message_entryid *m)
{
	mh_status st;
	if ((st = read_head(c, m->abFlags, &m->provider_uid)) != S_OK ||
	    (st = mh_cursor_u16(c, &m->message_type, "MessageType")) != S_OK ||
	    (st = mh_cursor_guid(c, &m->folder_database_guid, "FolderDatabaseGuid")) != S_OK ||
	    (st = mh_cursor_u48be(c, &m->folder_global_counter, "FolderGlobalCounter")) != S_OK ||
	    (st = mh_cursor_u16(c, &m->pad1, "Pad1")) != S_OK ||
	    (st = mh_cursor_guid(c, &m->message_database_guid, "MessageDatabaseGuid")) != S_OK ||
	    (st = mh_cursor_u48be(c, &m->message_global_counter, "MessageGlobalCounter")) != S_OK)
		return st;
	return mh_cursor_u16(c, &m->pad2, "Pad2");
}

static mh_status parse_ab(mh_cursor *c, mh_eid_ctx *ctx, mh_entryid *e)
{
	mh_ab_entryid *a = &e->u.ab;
	const char *s;
	size_t len;
	mh_status st;
	if ((st = read_head(c, a->abFlags, &a->provider_uid)) != S_OK ||
	    (st = mh_cursor_u32(c, &a->version, "Version")) != S_OK ||
	    (st = mh_cursor_u32(c, &a->display_type, "Type")) != S_OK ||
	    (st = mh_cursor_str8(c, MH_EID_MAX_STR8, &s, &len, "X500DN")) != S_OK ||
	    (st = mh_eid_dup(ctx, s, len, &a->x500dn)) != S_OK)
		return st;
	return take_trailing(c, ctx, e);
}

static mh_status parse_ephemeral(mh_cursor *c, mh_eid_ctx *ctx, mh_entryid *e)
{
	mh_ephemeral_entryid *a = &e->u.ephemeral;
	mh_status st;
	if ((st = read_head(c, a->abFlags, &a->provider_uid)) != S_OK ||
	    (st = mh_cursor_u32(c, &a->version, "Version")) != S_OK ||
	    (st = mh_cursor_u32(c, &a->display_type, "Type")) != S_OK ||
	    (st = mh_cursor_u32(c, &a->mid, "MId")) != S_OK)
		return st;
	return take_trailing(c, ctx, e);
}

static mh_status one_off_str(mh_cursor *c, mh_eid_ctx *ctx, bool unicode, const char *field,
                             char **out)
{
	mh_status st;
	if (unicode) {
		const uint8_t *p;
		size_t units, off = mh_cursor_offset(c);
		if ((st = mh_cursor_str16(c, MH_EID_MAX_ONE_OFF_STR, &p, &units, field)) != S_OK)
			return st;
		return mh_eid_dup_utf16(ctx, p, units, off, field, out);
	} else {
		const char *s;
		size_t len;
		if ((st = mh_cursor_str8(c, MH_EID_MAX_ONE_OFF_STR, &s, &len, field)) != S_OK)
			return st;
		return mh_eid_dup(ctx, s, len, out);
	}
}

static mh_status parse_one_off(mh_cursor *c, mh_eid_ctx *ctx, mh_entryid *e)
{
	mh_one_off_entryid *o = &e->u.one_off;
	bool u;
	mh_status st;
	if ((st = read_head(c, o->abFlags, &o->provider_uid)) != S_OK ||
	    (st = mh_cursor_u16(c, &o->version, "Version")) != S_OK ||
	    (st = mh_cursor_u16(c, &o->flags, "Flags")) != S_OK)
		return st;
	u = (o->flags & MH_ONE_OFF_UNICODE) != 0;
	if ((st = one_off_str(c, ctx, u, "DisplayName", &o->display_name)) != S_OK ||
	    (st = one_off_str(c, ctx, u, "AddressType", &o->address_type)) != S_OK ||
	    (st = one_off_str(c, ctx, u, "EmailAddress", &o->email_address)) != S_OK)
		return st;
	return take_trailing(c, ctx, e);
}

/*
 * Parses the inner EntryID of a contact or WAB EntryID. An inner EntryID
 * that is not one we know leaves *inner NULL and is not an error; running
 * out of memory or nesting too deep is.
 */
static mh_status parse_inner(mh_cursor *sub, mh_eid_ctx *ctx, SBinary *bytes, mh_entryid **inner)
{
	const uint8_t *p;
	void *mem;
	mh_cursor t = *sub;
	mh_status st;

	*inner = NULL;
	if ((st = mh_cursor_bytes(&t, mh_cursor_remaining(&t), &p, "inner EntryID")) != S_OK ||
	    (st = mh_eid_dup_bin(ctx, p, sub->len, bytes)) != S_OK)
		return st;
	if ((st = mh_cursor_enter(sub, "inner EntryID")) != S_OK) {
		ctx->fatal = true;
		return st;
	}
	if ((st = chain(ctx, sizeof(mh_entryid), &mem)) != S_OK)
		return st;
	st = parse_any(sub, ctx, mem);
	mh_cursor_leave(sub);
	if (st == S_OK)
		*inner = mem;
	else if (!ctx->fatal)
		st = S_OK;
	return st;
}

static mh_status parse_contact(mh_cursor *c, mh_eid_ctx *ctx, mh_entryid *e)
{
	mh_contact_entryid *k = &e->u.contact;
	mh_cursor sub;
	size_t type_off;
	mh_status st;

	if ((st = read_head(c, k->abFlags, &k->provider_uid)) != S_OK ||
	    (st = mh_cursor_u32(c, &k->version, "Version")) != S_OK)
		return st;
	type_off = mh_cursor_offset(c);
	if ((st = mh_cursor_u32(c, &k->type, "Type")) != S_OK)
		return st;
	if (k->type == MH_CONTAB_CONTAINER) {
		if ((st = mh_cursor_guid(c, &k->muid, "muid")) != S_OK ||
		    (st = mh_cursor_sub(c, mh_cursor_remaining(c), &sub, "inner EntryID")) != S_OK)
			return st;
		k->entryid_count = (uint32_t)sub.len;
	} else if (k->type == MH_CONTAB_USER || k->type == MH_CONTAB_DISTLIST) {
		if ((st = mh_cursor_u32(c, &k->index, "Index")) != S_OK ||
		    (st = mh_cursor_u32(c, &k->entryid_count, "EntryIdCount")) != S_OK ||
		    (st = mh_cursor_sub(c, k->entryid_count, &sub, "inner EntryID")) != S_OK)
			return st;
	} else {
		return mh_error_set(c->err, (int64_t)type_off,
		                    "contact address EntryID Type at byte %zu is %u; known types "
		                    "are 3 (container), 4 (user) and 5 (distribution list)",
		                    type_off, (unsigned)k->type);
	}
	if ((st = parse_inner(&sub, ctx, &k->inner_bytes, &k->inner)) != S_OK)
		return st;
	return take_trailing(c, ctx, e);
}

static mh_status parse_wab(mh_cursor *c, mh_eid_ctx *ctx, mh_entryid *e)
{
	mh_wab_entryid *w = &e->u.wab;
	mh_cursor sub;
	mh_status st;
	if ((st = read_head(c, w->abFlags, &w->provider_uid)) != S_OK ||
	    (st = mh_cursor_u8(c, &w->type, "Type")) != S_OK ||
	    (st = mh_cursor_sub(c, mh_cursor_remaining(c), &sub, "inner EntryID")) != S_OK)
		return st;
	return parse_inner(&sub, ctx, &w->inner_bytes, &w->inner);
}

/* Decodes all of c's bytes into e (zeroed by the caller's allocation). */
static mh_status parse_any(mh_cursor *c, mh_eid_ctx *ctx, mh_entryid *e)
{
	mh_cursor head = *c;
	uint8_t flags[4];
	MAPIUID uid;
	size_t len = c->len;
	mh_status st;

	e->cb = (uint32_t)len;
	if (len < EID_HEAD_LEN)
		return mh_error_set(c->err, (int64_t)(c->base + len),
		                    "truncated at byte %zu: an EntryID needs at least %u bytes "
		                    "(abFlags and ProviderUID), has %zu",
		                    c->base + len, EID_HEAD_LEN, len);
	if ((st = read_head(&head, flags, &uid)) != S_OK)
		return st;

	if (memcmp(&uid, &muid_store_wrap, sizeof(uid)) == 0) {
		e->kind = MH_ENTRYID_STORE;
		return mh_eid_store_decode(c, ctx, &e->u.store, &e->trailing);
	}
	if (memcmp(&uid, &muid_emsab, sizeof(uid)) == 0) {
		e->kind = MH_ENTRYID_AB;
		return parse_ab(c, ctx, e);
	}
	if (flags[0] == 0x87 && len >= EPHEMERAL_EID_LEN) {
		e->kind = MH_ENTRYID_EPHEMERAL;
		return parse_ephemeral(c, ctx, e);
	}
	if (memcmp(&uid, &muid_one_off, sizeof(uid)) == 0) {
		e->kind = MH_ENTRYID_ONE_OFF;
		return parse_one_off(c, ctx, e);
	}
	if (memcmp(&uid, &muid_contab, sizeof(uid)) == 0) {
		e->kind = MH_ENTRYID_CONTACT;
		return parse_contact(c, ctx, e);
	}
	if (memcmp(&uid, &muid_wab, sizeof(uid)) == 0) {
		e->kind = MH_ENTRYID_WAB;
		return parse_wab(c, ctx, e);
	}
	if (len == FOLDER_EID_LEN) {
		e->kind = MH_ENTRYID_FOLDER;
		return parse_folder(c, &e->u.folder);
	}
	if (len == MESSAGE_EID_LEN) {
		e->kind = MH_ENTRYID_MESSAGE;
		return parse_message(c, &e->u.message);
	}
	{
		static const char digits[] = "0123456789abcdef";
		char hex[33];
		for (int i = 0; i < 16; i++) {
			hex[2 * i] = digits[uid.ab[i] >> 4];
			hex[2 * i + 1] = digits[uid.ab[i] & 15];
		}
		hex[32] = '\0';
		return mh_error_set(c->err, (int64_t)(c->base + 4),
		                    "unrecognised EntryID: ProviderUID %s, %zu bytes", hex, len);
	}
}

mh_status mh_entryid_parse(mh_entryid **out, uint32_t cb, const void *eid)
{
	mh_eid_ctx ctx = {NULL, false};
	mh_cursor c;
	mh_status st;

	if (out == NULL || eid == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_entryid_parse: %s is NULL",
		                    out == NULL ? "out" : "eid");
	*out = NULL;
	if ((st = MAPIAllocateBuffer(sizeof(mh_entryid), &ctx.root)) != S_OK)
		return st;
	mh_cursor_init(&c, eid, cb, MAPI_E_INVALID_ENTRYID);
	st = parse_any(&c, &ctx, ctx.root);
	if (st != S_OK) {
		MAPIFreeBuffer(ctx.root);
		return st;
	}
	/* an unrecognised inner EntryID may have left a message behind */
	mh_error_clear();
	*out = ctx.root;
	return S_OK;
}

/* ---- encoding -------------------------------------------------------------------------- */

static mh_status need_str(const char *s, const char *what)
{
	if (s == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "%s is NULL", what);
	if (strlen(s) > MH_EID_MAX_STR8)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "%s is longer than %u bytes",
		                    what, MH_EID_MAX_STR8);
	return S_OK;
}

static mh_status check_counter(uint64_t v, const char *what)
{
	if (v > GLOBAL_COUNTER_MAX)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "%s 0x%llx does not fit in 48 bits", what,
		                    (unsigned long long)v);
	return S_OK;
}

static mh_status put_one_off_str(mh_buf *b, bool unicode, const char *s, const char *what)
{
	size_t n;
	if (s == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "one-off %s is NULL", what);
	n = strlen(s);
	if (unicode) {
		size_t bytes = 0;
		if (!mh_utf8_valid(s, n) || mh_utf8_to_utf16le(NULL, 0, s, n, &bytes) != S_OK)
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "one-off %s is not valid UTF-8", what);
		if (bytes / 2 > MH_EID_MAX_ONE_OFF_STR)
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "one-off %s is longer than %u UTF-16 units", what,
			                    MH_EID_MAX_ONE_OFF_STR);
		mh_buf_utf16z(b, s);
	} else {
		if (n > MH_EID_MAX_ONE_OFF_STR)
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "one-off %s is longer than %u bytes", what,
			                    MH_EID_MAX_ONE_OFF_STR);
		mh_buf_str8z(b, s);
	}
	return mh_buf_status(b);
}

static mh_status encode_any(mh_buf *b, const mh_entryid *e, unsigned depth);

/* The inner EntryID of a contact or WAB EntryID: its bytes, or else its encoding. */
static mh_status encode_inner(mh_buf *b, const SBinary *bytes, const mh_entryid *inner,
                              unsigned depth, size_t *len)
{
	size_t start = b->len;
	mh_status st;
	if (bytes->cb > 0) {
		if (bytes->lpb == NULL)
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "inner EntryID bytes are NULL");
		mh_buf_put(b, bytes->lpb, bytes->cb);
	} else if (inner != NULL) {
		if (depth >= MH_CURSOR_MAX_DEPTH)
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "EntryID nested deeper than %d levels",
			                    MH_CURSOR_MAX_DEPTH);
		if ((st = encode_any(b, inner, depth + 1)) != S_OK)
			return st;
	}
	*len = b->len - start;
	return mh_buf_status(b);
}

static mh_status encode_any(mh_buf *b, const mh_entryid *e, unsigned depth)
{
	mh_status st;
	switch (e->kind) {
	case MH_ENTRYID_STORE:
		return mh_eid_store_encode(b, &e->u.store);
	case MH_ENTRYID_FOLDER: {
		const mh_folder_entryid *f = &e->u.folder;
		if ((st = check_counter(f->global_counter, "GlobalCounter")) != S_OK)
			return st;
		mh_buf_put(b, f->abFlags, 4);
		mh_buf_muid(b, &f->provider_uid);
		mh_buf_u16(b, f->folder_type);
		mh_buf_guid(b, &f->database_guid);
		mh_buf_u48be(b, f->global_counter);
		mh_buf_u16(b, f->pad);
		return mh_buf_status(b);
	}
	case MH_ENTRYID_MESSAGE: {
		const mh_message_entryid *m = &e->u.message;
		if ((st = check_counter(m->folder_global_counter, "FolderGlobalCounter")) != S_OK ||
		    (st = check_counter(m->message_global_counter, "MessageGlobalCounter")) != S_OK)
			return st;
		mh_buf_put(b, m->abFlags, 4);
		mh_buf_muid(b, &m->provider_uid);
		mh_buf_u16(b, m->message_type);
		mh_buf_guid(b, &m->folder_database_guid);
		mh_buf_u48be(b, m->folder_global_counter);
		mh_buf_u16(b, m->pad1);
		mh_buf_guid(b, &m->message_database_guid);
		mh_buf_u48be(b, m->message_global_counter);
		mh_buf_u16(b, m->pad2);
		return mh_buf_status(b);
	}
	case MH_ENTRYID_AB: {
		const mh_ab_entryid *a = &e->u.ab;
		if ((st = need_str(a->x500dn, "address-book EntryID X500DN")) != S_OK)
			return st;
		mh_buf_put(b, a->abFlags, 4);
		mh_buf_muid(b, &muid_emsab);
		mh_buf_u32(b, a->version);
		mh_buf_u32(b, a->display_type);
		mh_buf_str8z(b, a->x500dn);
		return mh_buf_status(b);
	}
	case MH_ENTRYID_EPHEMERAL: {
		const mh_ephemeral_entryid *a = &e->u.ephemeral;
		mh_buf_put(b, a->abFlags, 4);
		mh_buf_muid(b, &a->provider_uid);
		mh_buf_u32(b, a->version);
		mh_buf_u32(b, a->display_type);
		mh_buf_u32(b, a->mid);
		return mh_buf_status(b);
	}
	case MH_ENTRYID_ONE_OFF: {
		const mh_one_off_entryid *o = &e->u.one_off;
		bool u = (o->flags & MH_ONE_OFF_UNICODE) != 0;
		mh_buf_put(b, o->abFlags, 4);
		mh_buf_muid(b, &muid_one_off);
		mh_buf_u16(b, o->version);
		mh_buf_u16(b, o->flags);
		if ((st = put_one_off_str(b, u, o->display_name, "DisplayName")) != S_OK ||
		    (st = put_one_off_str(b, u, o->address_type, "AddressType")) != S_OK)
			return st;
		return put_one_off_str(b, u, o->email_address, "EmailAddress");
	}
	case MH_ENTRYID_CONTACT: {
		const mh_contact_entryid *k = &e->u.contact;
		size_t count_pos, len = 0;
		mh_buf_put(b, k->abFlags, 4);
		mh_buf_muid(b, &muid_contab);
		mh_buf_u32(b, k->version);
		mh_buf_u32(b, k->type);
		if (k->type == MH_CONTAB_CONTAINER) {
			mh_buf_guid(b, &k->muid);
			return encode_inner(b, &k->inner_bytes, k->inner, depth, &len);
		}
		if (k->type != MH_CONTAB_USER && k->type != MH_CONTAB_DISTLIST)
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "contact address EntryID type %u; known types are 3, "
			                    "4 and 5",
			                    (unsigned)k->type);
		mh_buf_u32(b, k->index);
		count_pos = b->len;
		mh_buf_u32(b, 0);
		if ((st = encode_inner(b, &k->inner_bytes, k->inner, depth, &len)) != S_OK)
			return st;
		mh_buf_set_u32(b, count_pos, (uint32_t)len);
		return mh_buf_status(b);
	}
	case MH_ENTRYID_WAB: {
		const mh_wab_entryid *w = &e->u.wab;
		size_t len = 0;
		mh_buf_put(b, w->abFlags, 4);
		mh_buf_muid(b, &muid_wab);
		mh_buf_u8(b, w->type);
		return encode_inner(b, &w->inner_bytes, w->inner, depth, &len);
	}
	case MH_ENTRYID_UNKNOWN:
		break;
	}
	return mh_error_set(MAPI_E_NO_SUPPORT, -1, "cannot encode an EntryID of kind %s (%d)",
	                    mh_entryid_kind_str(e->kind), (int)e->kind);
}

mh_status mh_entryid_encode(uint32_t *cb, ENTRYID **eid, const mh_entryid *entryid)
{
	mh_buf b = MH_BUF_INIT;
	mh_status st;
	if (cb == NULL || eid == NULL || entryid == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_entryid_encode: %s is NULL",
		                    cb == NULL    ? "cb"
		                    : eid == NULL ? "eid"
		                                  : "entryid");
	*cb = 0;
	*eid = NULL;
	if ((st = encode_any(&b, entryid, 0)) != S_OK) {
		mh_buf_free(&b);
		return st;
	}
	return mh_eid_finish(&b, cb, eid);
}
