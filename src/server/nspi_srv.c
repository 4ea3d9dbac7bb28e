/*
 * mapihttpd's NSPI request handling over the organisation's global address list (wire.md §6,
 * MS-OXNSPI semantics); sans HTTP. docs/internals/server-nspi.md describes the choices.
 */
#define _DEFAULT_SOURCE /* strcasecmp, strncasecmp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mapihttp/alloc.h"
#include "mapihttp/entryid.h"
#include "mapihttp/proptags.h"
#include "server/nspi_srv.h"
#include "util/diag.h"

/* PidTagObjectType values and PidTagContainerFlags bits (MAPI). */
#define OBJ_ABCONT        4
#define OBJ_MAILUSER      6
#define AB_RECIPIENTS     0x1u
#define AB_UNMODIFIABLE   0x8u
#define CP_WINUNICODE     1200u
#define MV_UNSPECIFIED    (MV_FLAG | PT_UNSPECIFIED)
#define TAG_OBJECT_TYPE   PROP_TAG(PT_LONG, 0x0FFE)
#define TAG_INSTANCE_KEY  PROP_TAG(PT_BINARY, 0x0FF6)
#define TAG_ACCOUNT_W     PROP_TAG(PT_UNICODE, 0x3A00)
#define TAG_TRANSMIT_NAME PROP_TAG(PT_UNICODE, 0x3A20)
#define TAG_PHONE         PROP_TAG(PT_STRING8, 0x3A08)
#define TAG_DEPARTMENT    PROP_TAG(PT_STRING8, 0x3A18)
#define TAG_OFFICE        PROP_TAG(PT_STRING8, 0x3A19)
#define TAG_IS_MASTER     PROP_TAG(PT_BOOLEAN, 0xFFFB)

/* What a recipient answers when asked for every property (GetProps without tags). */
static const uint32_t all_tags[] = {
    PR_ENTRYID,           TAG_OBJECT_TYPE,    TAG_INSTANCE_KEY,     PR_DISPLAY_NAME_W,
    PR_ADDRTYPE_W,        PR_EMAIL_ADDRESS_W, PR_DISPLAY_TYPE,      PR_SMTP_ADDRESS_W,
    TAG_ACCOUNT_W,        TAG_TRANSMIT_NAME,  PR_EMS_AB_HOME_MDB_W, PR_EMS_AB_PROXY_ADDRESSES_W,
    PR_EMS_AB_CONTAINERID};

/* MS-OXNSPI's default columns for QueryRows (and so ResolveNames) without a tag list. */
static const uint32_t default_columns[] = {
    PR_EMS_AB_CONTAINERID, TAG_OBJECT_TYPE, PR_DISPLAY_TYPE, PR_DISPLAY_NAME_A, TAG_PHONE,
    TAG_DEPARTMENT,        TAG_OFFICE};

/* ---- context ---------------------------------------------------------------------------- */

void mh_srv_nspi_ctx_init(mh_srv_nspi_ctx *ctx, const GUID *server_guid, int64_t principal,
                          const char *base_url)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->server_guid = *server_guid;
	ctx->principal = principal;
	ctx->base_url = base_url;
	mh_nspi_stat_default(&ctx->stat);
	ctx->max_rows = MH_SRV_NSPI_MAX_ROWS;
	ctx->max_names = MH_SRV_NSPI_MAX_NAMES;
	ctx->max_columns = MH_SRV_NSPI_MAX_COLUMNS;
}

/* ---- the GAL as one request sees it ------------------------------------------------------- */

typedef struct gal {
	mh_srv_recipient *r; /* address-book order */
	size_t n;
} gal;

/* An object of the GAL with what some properties need fetched on demand. */
typedef struct obj {
	const mh_srv_recipient *r;
	uint32_t mid;
	int mbx_state; /* 0 not fetched, 1 have it, -1 none */
	mh_srv_mailbox mbx;
} obj;

static int internal(mh_status ms)
{
	return ms == MAPI_E_TOO_BIG || ms == MAPI_E_NOT_ENOUGH_MEMORY;
}

static uint32_t rcpt_mid(const mh_srv_recipient *r)
{
	if (r->id < 0 || r->id > (int64_t)(UINT32_MAX - MH_SRV_NSPI_MID_BASE))
		return MH_NSPI_MID_UNRESOLVED; /* not addressable by a MId */
	return MH_SRV_NSPI_MID_BASE + (uint32_t)r->id;
}

static void obj_init(obj *o, const mh_srv_recipient *r)
{
	memset(o, 0, sizeof(*o));
	o->r = r;
	o->mid = rcpt_mid(r);
}

static mh_status gal_load(mh_srv_store *st, mh_arena *a, gal *g)
{
	return mh_srv_store_recipients(st, a, &g->r, &g->n);
}

/* The row index of mid, or -1. */
static long gal_index(const gal *g, uint32_t mid)
{
	if (mid < MH_SRV_NSPI_MID_BASE)
		return -1;
	for (size_t i = 0; i < g->n; i++)
		if (rcpt_mid(&g->r[i]) == mid)
			return (long)i;
	return -1;
}

/* The recipient a MId names: S_OK, MAPI_E_NOT_FOUND or a store failure. */
static mh_status rcpt_by_mid(mh_srv_store *st, mh_arena *a, uint32_t mid, mh_srv_recipient *out)
{
	if (mid < MH_SRV_NSPI_MID_BASE)
		return MAPI_E_NOT_FOUND;
	return mh_srv_store_recipient_by_id(st, a, (int64_t)(mid - MH_SRV_NSPI_MID_BASE), out);
}

/* ---- property values ---------------------------------------------------------------------- */

static void guid_to_muid(MAPIUID *u, const GUID *g)
{
	u->ab[0] = (uint8_t)g->Data1;
	u->ab[1] = (uint8_t)(g->Data1 >> 8);
	u->ab[2] = (uint8_t)(g->Data1 >> 16);
	u->ab[3] = (uint8_t)(g->Data1 >> 24);
	u->ab[4] = (uint8_t)g->Data2;
	u->ab[5] = (uint8_t)(g->Data2 >> 8);
	u->ab[6] = (uint8_t)g->Data3;
	u->ab[7] = (uint8_t)(g->Data3 >> 8);
	memcpy(u->ab + 8, g->Data4, 8);
}

/* Encodes e with the public encoder and copies the bytes into the arena. */
static mh_status eid_bin(mh_arena *a, const mh_entryid *e, SBinary *out)
{
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	void *copy = NULL;
	mh_status ms = mh_entryid_encode(&cb, &eid, e);
	if (ms != S_OK)
		return ms;
	ms = mh_arena_memdup(a, eid, cb, &copy);
	MAPIFreeBuffer(eid);
	out->cb = cb;
	out->lpb = copy;
	return ms;
}

static mh_status ab_eid(mh_arena *a, uint32_t display_type, const char *dn, SBinary *out)
{
	static const MAPIUID emsab = MH_MUID_EMSAB;
	mh_entryid e;
	memset(&e, 0, sizeof(e));
	e.kind = MH_ENTRYID_AB;
	e.u.ab.provider_uid = emsab;
	e.u.ab.version = 1;
	e.u.ab.display_type = display_type;
	e.u.ab.x500dn = (char *)(uintptr_t)dn; /* the encoder only reads it */
	return eid_bin(a, &e, out);
}

static mh_status ephemeral_eid(mh_arena *a, const GUID *server, uint32_t display_type, uint32_t mid,
                               SBinary *out)
{
	mh_entryid e;
	memset(&e, 0, sizeof(e));
	e.kind = MH_ENTRYID_EPHEMERAL;
	e.u.ephemeral.abFlags[0] = 0x87;
	guid_to_muid(&e.u.ephemeral.provider_uid, server);
	e.u.ephemeral.version = 1;
	e.u.ephemeral.display_type = display_type;
	e.u.ephemeral.mid = mid;
	return eid_bin(a, &e, out);
}

/* An 8-bit copy of UTF-8 s: ASCII kept, every other character becomes '?'. */
static mh_status to_str8(mh_arena *a, const char *s, char **out)
{
	size_t n = strlen(s), j = 0;
	char *p;
	mh_status ms = mh_arena_alloc(a, n + 1, (void **)&p);
	if (ms != S_OK)
		return ms;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x80)
			p[j++] = (char)ch;
		else if ((ch & 0xC0) != 0x80) /* a lead byte: one '?' per character */
			p[j++] = '?';
	}
	p[j] = '\0';
	*out = p;
	return S_OK;
}

/* A string property in the type asked for (PT_UNSPECIFIED: Unicode). */
static mh_status str_prop(mh_arena *a, uint32_t tag, const char *s, SPropValue *out)
{
	uint16_t type = PROP_TYPE(tag);
	if (s == NULL)
		return MAPI_E_NOT_FOUND;
	if (type == PT_UNICODE || type == PT_UNSPECIFIED) {
		out->ulPropTag = PROP_TAG(PT_UNICODE, PROP_ID(tag));
		out->Value.lpszW = (char *)(uintptr_t)s; /* lives in the request's arena */
		return S_OK;
	}
	if (type == PT_STRING8) {
		out->ulPropTag = tag;
		return to_str8(a, s, &out->Value.lpszA);
	}
	return MAPI_E_NOT_FOUND;
}

static mh_status long_prop(uint32_t tag, uint32_t v, SPropValue *out)
{
	uint16_t type = PROP_TYPE(tag);
	if (type != PT_LONG && type != PT_UNSPECIFIED)
		return MAPI_E_NOT_FOUND;
	out->ulPropTag = PROP_TAG(PT_LONG, PROP_ID(tag));
	out->Value.ul = v;
	return S_OK;
}

static mh_status concat(mh_arena *a, const char *x, const char *y, char **out)
{
	size_t nx = strlen(x), ny = strlen(y);
	char *p;
	mh_status ms = mh_arena_alloc(a, nx + ny + 1, (void **)&p);
	if (ms != S_OK)
		return ms;
	memcpy(p, x, nx);
	memcpy(p + nx, y, ny + 1);
	*out = p;
	return S_OK;
}

/* PidTagAddressBookProxyAddresses: the primary SMTP address and the X500 form of the DN. */
static mh_status proxy_prop(mh_arena *a, uint32_t tag, const mh_srv_recipient *r, SPropValue *out)
{
	uint16_t type = PROP_TYPE(tag);
	char **v;
	mh_status ms;
	bool wide = type == PT_MV_UNICODE || type == MV_UNSPECIFIED;
	if (!wide && type != PT_MV_STRING8)
		return MAPI_E_NOT_FOUND;
	if ((ms = mh_arena_array(a, 2, sizeof(*v), (void **)&v)) != S_OK ||
	    (ms = concat(a, "SMTP:", r->smtp, &v[0])) != S_OK ||
	    (ms = concat(a, "X500:", r->legacy_dn, &v[1])) != S_OK)
		return ms;
	if (wide) {
		out->ulPropTag = PROP_TAG(PT_MV_UNICODE, PROP_ID(tag));
		out->Value.MVszW.cValues = 2;
		out->Value.MVszW.lppszW = v;
		return S_OK;
	}
	out->ulPropTag = tag;
	for (int i = 0; i < 2; i++)
		if ((ms = to_str8(a, v[i], &v[i])) != S_OK)
			return ms;
	out->Value.MVszA.cValues = 2;
	out->Value.MVszA.lppszA = v;
	return S_OK;
}

/*
 * One property of a recipient in the type asked for. S_OK; MAPI_E_NOT_FOUND when the object
 * has no such property (or not in that type); a store or arena failure otherwise.
 */
static mh_status get_prop(const mh_srv_nspi_ctx *ctx, mh_srv_store *st, mh_arena *a, obj *o,
                          uint32_t tag, uint32_t flags, SPropValue *out)
{
	const mh_srv_recipient *r = o->r;
	uint16_t type = PROP_TYPE(tag);
	mh_status ms;
	memset(out, 0, sizeof(*out));
	switch (PROP_ID(tag)) {
	case 0x3001: /* PidTagDisplayName */
	case 0x3A20: /* PidTagTransmittableDisplayName */
		return str_prop(a, tag, r->display_name, out);
	case 0x3002: /* PidTagAddressType */
		return str_prop(a, tag, "EX", out);
	case 0x3003: /* PidTagEmailAddress: the legacyExchangeDN */
		return str_prop(a, tag, r->legacy_dn, out);
	case 0x39FE: /* PidTagSmtpAddress */
		return str_prop(a, tag, r->smtp, out);
	case 0x3A00: /* PidTagAccount */
		return str_prop(a, tag, r->alias, out);
	case 0x3900: /* PidTagDisplayType */
		return long_prop(tag, DT_MAILUSER, out);
	case 0x0FFE: /* PidTagObjectType */
		return long_prop(tag, OBJ_MAILUSER, out);
	case 0xFFFD: /* PidTagAddressBookContainerId: an object's own MId */
		return long_prop(tag, o->mid, out);
	case 0x8006: /* PidTagAddressBookHomeMessageDatabase */
		if (o->mbx_state == 0) {
			ms = mh_srv_store_mailbox_of(st, a, r->id, MH_SRV_MAILBOX_PRIMARY, &o->mbx);
			if (ms != S_OK && ms != MAPI_E_NOT_FOUND)
				return ms;
			o->mbx_state = ms == S_OK ? 1 : -1;
		}
		if (o->mbx_state < 0)
			return MAPI_E_NOT_FOUND;
		return str_prop(a, tag, o->mbx.mdb_dn, out);
	case 0x800F: /* PidTagAddressBookProxyAddresses */
		return proxy_prop(a, tag, r, out);
	case 0x0FFF: /* PidTagEntryId */
		if (type != PT_BINARY && type != PT_UNSPECIFIED)
			return MAPI_E_NOT_FOUND;
		out->ulPropTag = PR_ENTRYID;
		if (flags & MH_NSPI_EPHID)
			return ephemeral_eid(a, &ctx->server_guid, DT_MAILUSER, o->mid,
			                     &out->Value.bin);
		return ab_eid(a, DT_MAILUSER, r->legacy_dn, &out->Value.bin);
	case 0x0FF6: { /* PidTagInstanceKey: the MId's four bytes */
		uint8_t *k;
		if (type != PT_BINARY && type != PT_UNSPECIFIED)
			return MAPI_E_NOT_FOUND;
		if ((ms = mh_arena_alloc(a, 4, (void **)&k)) != S_OK)
			return ms;
		for (int i = 0; i < 4; i++)
			k[i] = (uint8_t)(o->mid >> (8 * i));
		out->ulPropTag = TAG_INSTANCE_KEY;
		out->Value.bin.cb = 4;
		out->Value.bin.lpb = k;
		return S_OK;
	}
	default:
		return MAPI_E_NOT_FOUND;
	}
}

static void not_found_value(uint32_t tag, SPropValue *out)
{
	memset(out, 0, sizeof(*out));
	out->ulPropTag = PROP_TAG(PT_ERROR, PROP_ID(tag));
	out->Value.err = MAPI_E_NOT_FOUND;
}

/* One row against cols: a standard row, or a flagged one when some column is missing. o may
 * be NULL (an unknown MId of an explicit table): every column is then missing. */
static mh_status build_row(const mh_srv_nspi_ctx *ctx, mh_srv_store *st, mh_arena *a, obj *o,
                           const SPropTagArray *cols, uint32_t flags, mh_prop_row *row)
{
	mh_status ms;
	memset(row, 0, sizeof(*row));
	row->cValues = cols->cValues;
	if (cols->cValues == 0)
		return S_OK;
	if ((ms = mh_arena_array(a, cols->cValues, sizeof(SPropValue), (void **)&row->lpProps)) !=
	    S_OK)
		return ms;
	for (uint32_t i = 0; i < cols->cValues; i++) {
		ms = o != NULL
		         ? get_prop(ctx, st, a, o, cols->aulPropTag[i], flags, &row->lpProps[i])
		         : MAPI_E_NOT_FOUND;
		if (ms == MAPI_E_NOT_FOUND) {
			not_found_value(cols->aulPropTag[i], &row->lpProps[i]);
			row->flag = 1;
		} else if (ms != S_OK) {
			return ms;
		}
	}
	return S_OK;
}

static mh_status tag_array(mh_arena *a, const uint32_t *tags, uint32_t n, SPropTagArray **out)
{
	SPropTagArray *t;
	mh_status ms = mh_arena_alloc(a, CbNewSPropTagArray(n), (void **)&t);
	if (ms != S_OK)
		return ms;
	t->cValues = n;
	memcpy(t->aulPropTag, tags, n * sizeof(uint32_t));
	*out = t;
	return S_OK;
}

/* ---- ambiguous name resolution ------------------------------------------------------------ */

enum { ANR_NONE = 0, ANR_PREFIX = 1, ANR_EXACT = 2 };

static int match_text(const char *value, const char *name, size_t len)
{
	if (value == NULL || strncasecmp(value, name, len) != 0)
		return ANR_NONE;
	return value[len] == '\0' ? ANR_EXACT : ANR_PREFIX;
}

/* name against the string kind ":" value without building it (a proxy address). */
static int match_typed(const char *kind, const char *value, const char *name, size_t len)
{
	size_t k = strlen(kind);
	if (len <= k)
		return strncasecmp(kind, name, len) == 0 ? ANR_PREFIX : ANR_NONE;
	if (strncasecmp(kind, name, k) != 0)
		return ANR_NONE;
	return match_text(value, name + k, len - k);
}

static int best(int x, int y)
{
	return x > y ? x : y;
}

/*
 * How name matches a recipient: its display name or any word of it, alias, SMTP address,
 * legacyExchangeDN or proxy addresses, each compared from the start, ASCII case ignored.
 */
static int anr_match(const mh_srv_recipient *r, const char *name, size_t len)
{
	int m = ANR_NONE;
	const char *d = r->display_name;
	m = best(m, match_text(r->alias, name, len));
	m = best(m, match_text(r->smtp, name, len));
	m = best(m, match_text(r->legacy_dn, name, len));
	m = best(m, match_typed("SMTP:", r->smtp, name, len));
	m = best(m, match_typed("X500:", r->legacy_dn, name, len));
	m = best(m, match_text(d, name, len));
	for (const char *p = d; p != NULL && *p != '\0'; p++)
		if (*p == ' ' && p[1] != '\0' && p[1] != ' ')
			m = best(m, match_text(p + 1, name, len) ? ANR_PREFIX : ANR_NONE);
	return m;
}

/*
 * The MH_NSPI_MID_* result for one name and, when resolved, the recipient's index. A single
 * exact match wins over any number of prefix matches; otherwise one match resolves and more
 * are ambiguous. An empty name (after trimming blanks) resolves nothing.
 */
static uint32_t anr(const gal *g, const char *name, size_t *idx)
{
	size_t len, n_exact = 0, n_prefix = 0, i_exact = 0, i_prefix = 0;
	if (name == NULL)
		return MH_NSPI_MID_UNRESOLVED;
	while (*name == ' ' || *name == '\t')
		name++;
	len = strlen(name);
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	if (len == 0)
		return MH_NSPI_MID_UNRESOLVED;
	for (size_t i = 0; i < g->n; i++) {
		int m = anr_match(&g->r[i], name, len);
		if (m == ANR_EXACT && n_exact++ == 0)
			i_exact = i;
		if (m != ANR_NONE && n_prefix++ == 0)
			i_prefix = i;
	}
	if (n_exact == 1) {
		*idx = i_exact;
		return MH_NSPI_MID_RESOLVED;
	}
	if (n_exact > 1 || n_prefix > 1)
		return MH_NSPI_MID_AMBIGUOUS;
	if (n_prefix == 1) {
		*idx = i_prefix;
		return MH_NSPI_MID_RESOLVED;
	}
	return MH_NSPI_MID_UNRESOLVED;
}

/* ---- request handlers ------------------------------------------------------------------- */

/* An NSPI failure: ErrorCode set, every optional field absent. */
static void fail_resp(mh_nspi_response *resp, mh_status code)
{
	mh_nspi_kind k = resp->kind;
	memset(resp, 0, sizeof(*resp));
	resp->kind = k;
	resp->error_code = (uint32_t)code;
}

static const mh_nspi_stat *pick_stat(const mh_srv_nspi_ctx *ctx, bool has, const mh_nspi_stat *s)
{
	return has ? s : &ctx->stat;
}

/* True (with the message set) when a request names more columns than the limit. */
static bool too_many_columns(const mh_srv_nspi_ctx *ctx, bool has, const SPropTagArray *tags)
{
	if (!has || tags == NULL || tags->cValues <= ctx->max_columns)
		return false;
	mh_error_set(MAPI_E_TOO_BIG, -1, "NSPI: %u columns requested, at most %u are served",
	             tags->cValues, ctx->max_columns);
	return true;
}

/* Columns to use: the request's, or the default set. */
static mh_status columns(mh_arena *a, bool has, SPropTagArray *tags, const uint32_t *defaults,
                         uint32_t n_defaults, SPropTagArray **out)
{
	if (has && tags != NULL) {
		*out = tags;
		return S_OK;
	}
	return tag_array(a, defaults, n_defaults, out);
}

#define N_DEFAULT_COLUMNS ((uint32_t)(sizeof(default_columns) / sizeof(default_columns[0])))
#define N_ALL_TAGS        ((uint32_t)(sizeof(all_tags) / sizeof(all_tags[0])))

static mh_status do_bind(mh_srv_nspi_ctx *ctx, const mh_nspi_bind_req *q, mh_nspi_response *resp)
{
	if (q->has_state)
		ctx->stat = q->state;
	else
		mh_nspi_stat_default(&ctx->stat);
	ctx->bound = true;
	resp->u.bind.server_guid = ctx->server_guid;
	return S_OK;
}

static mh_status do_resolve_names(mh_srv_nspi_ctx *ctx, mh_srv_store *st, mh_arena *a,
                                  const mh_nspi_resolve_names_req *q, mh_nspi_response *resp)
{
	mh_nspi_resolve_names_resp *rs = &resp->u.resolve_names;
	const mh_nspi_stat *s = pick_stat(ctx, q->has_state, &q->state);
	uint32_t n = q->has_names ? q->names.count : 0, n_rows = 0;
	SPropTagArray *cols;
	gal g;
	mh_status ms;
	if (s->container_id != 0) {
		fail_resp(resp, MAPI_E_INVALID_BOOKMARK);
		return S_OK;
	}
	if (n > ctx->max_names) {
		mh_error_set(MAPI_E_TOO_BIG, -1,
		             "NSPI ResolveNames: %u names, at most %u are served", n,
		             ctx->max_names);
		fail_resp(resp, MAPI_E_TOO_BIG);
		return S_OK;
	}
	if (too_many_columns(ctx, q->has_tags, q->tags)) {
		fail_resp(resp, MAPI_E_TOO_BIG);
		return S_OK;
	}
	if ((ms = columns(a, q->has_tags, q->tags, default_columns, N_DEFAULT_COLUMNS, &cols)) !=
	        S_OK ||
	    (ms = gal_load(st, a, &g)) != S_OK)
		return ms;
	rs->codepage = s->codepage;
	rs->has_mids = true;
	rs->mids.count = n;
	rs->has_rows = true;
	rs->rows.columns = cols;
	if (n == 0)
		return S_OK;
	if ((ms = mh_arena_array(a, n, sizeof(uint32_t), (void **)&rs->mids.mids)) != S_OK ||
	    (ms = mh_arena_array(a, n, sizeof(mh_prop_row), (void **)&rs->rows.rows)) != S_OK)
		return ms;
	for (uint32_t i = 0; i < n; i++) {
		size_t idx = 0;
		obj o;
		rs->mids.mids[i] = anr(&g, q->names.values[i], &idx);
		if (rs->mids.mids[i] != MH_NSPI_MID_RESOLVED)
			continue;
		obj_init(&o, &g.r[idx]);
		if ((ms = build_row(ctx, st, a, &o, cols, 0, &rs->rows.rows[n_rows++])) != S_OK)
			return ms;
	}
	rs->rows.count = n_rows;
	return S_OK;
}

static mh_status do_dn_to_mid(mh_srv_nspi_ctx *ctx, mh_srv_store *st, mh_arena *a,
                              const mh_nspi_dn_to_mid_req *q, mh_nspi_response *resp)
{
	mh_nspi_dn_to_mid_resp *rs = &resp->u.dn_to_mid;
	uint32_t n = q->has_names ? q->names.count : 0;
	mh_status ms;
	if (n > ctx->max_names) {
		mh_error_set(MAPI_E_TOO_BIG, -1, "NSPI DNToMId: %u names, at most %u are served", n,
		             ctx->max_names);
		fail_resp(resp, MAPI_E_TOO_BIG);
		return S_OK;
	}
	rs->has_mids = true;
	rs->mids.count = n;
	if (n == 0)
		return S_OK;
	if ((ms = mh_arena_array(a, n, sizeof(uint32_t), (void **)&rs->mids.mids)) != S_OK)
		return ms;
	for (uint32_t i = 0; i < n; i++) {
		mh_srv_recipient r;
		ms = mh_srv_store_recipient_by_dn(st, a, q->names.values[i], &r);
		if (ms == S_OK)
			rs->mids.mids[i] = rcpt_mid(&r);
		else if (ms == MAPI_E_NOT_FOUND)
			rs->mids.mids[i] = MH_NSPI_MID_UNRESOLVED;
		else
			return ms;
	}
	return S_OK;
}

static mh_status do_get_props(mh_srv_nspi_ctx *ctx, mh_srv_store *st, mh_arena *a,
                              const mh_nspi_get_props_req *q, mh_nspi_response *resp)
{
	mh_nspi_get_props_resp *rs = &resp->u.get_props;
	const mh_nspi_stat *s = pick_stat(ctx, q->has_state, &q->state);
	SPropTagArray *tags;
	mh_srv_recipient r;
	bool missing = false;
	obj o;
	mh_status ms;
	if (too_many_columns(ctx, q->has_tags, q->tags)) {
		fail_resp(resp, MAPI_E_TOO_BIG);
		return S_OK;
	}
	if ((ms = columns(a, q->has_tags, q->tags, all_tags, N_ALL_TAGS, &tags)) != S_OK)
		return ms;
	ms = rcpt_by_mid(st, a, s->cur_rec, &r);
	if (ms == MAPI_E_NOT_FOUND) {
		mh_error_set(MAPI_E_NOT_FOUND, -1, "NSPI GetProps: no object with MId 0x%08X",
		             s->cur_rec);
		fail_resp(resp, MAPI_E_NOT_FOUND);
		return S_OK;
	}
	if (ms != S_OK)
		return ms;
	obj_init(&o, &r);
	rs->codepage = s->codepage;
	rs->has_values = true;
	rs->values.count = tags->cValues;
	if (tags->cValues > 0 && (ms = mh_arena_array(a, tags->cValues, sizeof(SPropValue),
	                                              (void **)&rs->values.props)) != S_OK)
		return ms;
	for (uint32_t i = 0; i < tags->cValues; i++) {
		ms = get_prop(ctx, st, a, &o, tags->aulPropTag[i], q->flags, &rs->values.props[i]);
		if (ms == MAPI_E_NOT_FOUND) {
			not_found_value(tags->aulPropTag[i], &rs->values.props[i]);
			missing = true;
		} else if (ms != S_OK) {
			return ms;
		}
	}
	resp->error_code = missing ? MH_NSPI_ERRORS_RETURNED : MH_NSPI_SUCCESS;
	return S_OK;
}

static mh_status do_query_rows(mh_srv_nspi_ctx *ctx, mh_srv_store *st, mh_arena *a,
                               const mh_nspi_query_rows_req *q, mh_nspi_response *resp)
{
	mh_nspi_query_rows_resp *rs = &resp->u.query_rows;
	const mh_nspi_stat *s = pick_stat(ctx, q->has_state, &q->state);
	const mh_nspi_mids *et = &q->explicit_table;
	SPropTagArray *cols;
	gal g;
	size_t pos, count;
	int64_t p;
	mh_status ms;
	if (too_many_columns(ctx, q->has_columns, q->columns)) {
		fail_resp(resp, MAPI_E_TOO_BIG);
		return S_OK;
	}
	if ((ms = columns(a, q->has_columns, q->columns, default_columns, N_DEFAULT_COLUMNS,
	                  &cols)) != S_OK)
		return ms;
	if (et->count > ctx->max_rows) {
		mh_error_set(MAPI_E_TABLE_TOO_BIG, -1,
		             "NSPI QueryRows: explicit table of %u rows, at most %u are served",
		             et->count, ctx->max_rows);
		fail_resp(resp, MAPI_E_TABLE_TOO_BIG);
		return S_OK;
	}
	if (et->count == 0 && s->container_id != 0) {
		fail_resp(resp, MAPI_E_INVALID_BOOKMARK);
		return S_OK;
	}
	if ((ms = gal_load(st, a, &g)) != S_OK)
		return ms;
	rs->has_state = true;
	rs->state = *s;
	rs->has_rows = true;
	rs->rows.columns = cols;
	if (et->count > 0) {
		/* An explicit table: the rows of those MIds; the position is not used or moved. */
		if ((ms = mh_arena_array(a, et->count, sizeof(mh_prop_row),
		                         (void **)&rs->rows.rows)) != S_OK)
			return ms;
		for (uint32_t i = 0; i < et->count; i++) {
			long k = gal_index(&g, et->mids[i]);
			obj o;
			if (k >= 0)
				obj_init(&o, &g.r[k]);
			ms = build_row(ctx, st, a, k >= 0 ? &o : NULL, cols, q->flags,
			               &rs->rows.rows[i]);
			if (ms != S_OK)
				return ms;
		}
		rs->rows.count = et->count;
		return S_OK;
	}
	if (s->cur_rec == MH_NSPI_MID_BEGINNING_OF_TABLE) {
		pos = 0;
	} else if (s->cur_rec == MH_NSPI_MID_END_OF_TABLE) {
		pos = g.n;
	} else {
		long k = gal_index(&g, s->cur_rec);
		if (k < 0) {
			mh_error_set(MAPI_E_NOT_FOUND, -1,
			             "NSPI QueryRows: CurrentRec 0x%08X is not in the table",
			             s->cur_rec);
			fail_resp(resp, MAPI_E_NOT_FOUND);
			return S_OK;
		}
		pos = (size_t)k;
	}
	/* Delta moves from CurrentRec, clamped to the table. */
	p = (int64_t)pos + s->delta;
	pos = p < 0 ? 0 : (uint64_t)p > g.n ? g.n : (size_t)p;
	count = g.n - pos;
	if (count > q->row_count)
		count = q->row_count;
	if (count > ctx->max_rows)
		count = ctx->max_rows;
	if (count > 0 &&
	    (ms = mh_arena_array(a, count, sizeof(mh_prop_row), (void **)&rs->rows.rows)) != S_OK)
		return ms;
	for (size_t i = 0; i < count; i++) {
		obj o;
		obj_init(&o, &g.r[pos + i]);
		if ((ms = build_row(ctx, st, a, &o, cols, q->flags, &rs->rows.rows[i])) != S_OK)
			return ms;
	}
	rs->rows.count = (uint32_t)count;
	pos += count;
	rs->state.cur_rec = pos < g.n ? rcpt_mid(&g.r[pos]) : MH_NSPI_MID_END_OF_TABLE;
	rs->state.delta = 0;
	rs->state.num_pos = (uint32_t)pos;
	rs->state.total_recs = (uint32_t)g.n;
	return S_OK;
}

static mh_status do_get_special_table(mh_srv_nspi_ctx *ctx, mh_arena *a,
                                      const mh_nspi_get_special_table_req *q,
                                      mh_nspi_response *resp)
{
	mh_nspi_get_special_table_resp *rs = &resp->u.get_special_table;
	const mh_nspi_stat *s = pick_stat(ctx, q->has_state, &q->state);
	SPropValue *p;
	mh_status ms;
	rs->codepage = s->codepage;
	/* Version is in/out: present in the answer only when the client sent one. */
	rs->has_version = q->has_version;
	rs->version = MH_SRV_NSPI_HIERARCHY_VERSION;
	if (q->has_version && q->version == MH_SRV_NSPI_HIERARCHY_VERSION)
		return S_OK; /* the client's copy is current */
	rs->has_rows = true;
	rs->count = 1;
	if ((ms = mh_arena_array(a, 1, sizeof(mh_nspi_proplist), (void **)&rs->rows)) != S_OK ||
	    (ms = mh_arena_array(a, 6, sizeof(SPropValue), (void **)&p)) != S_OK)
		return ms;
	rs->rows[0].count = 6;
	rs->rows[0].props = p;
	/* The GAL: its EntryID has DN "/", and its display name is left to the client. */
	p[0].ulPropTag = PR_ENTRYID;
	if ((ms = ab_eid(a, DT_CONTAINER, "/", &p[0].Value.bin)) != S_OK)
		return ms;
	p[1].ulPropTag = PR_CONTAINER_FLAGS;
	p[1].Value.ul = AB_RECIPIENTS | AB_UNMODIFIABLE;
	p[2].ulPropTag = PR_DEPTH;
	p[2].Value.ul = 0;
	p[3].ulPropTag = PR_EMS_AB_CONTAINERID;
	p[3].Value.ul = 0;
	p[4].ulPropTag =
	    (q->flags & MH_NSPI_UNICODE_STRINGS) ? PR_DISPLAY_NAME_W : PR_DISPLAY_NAME_A;
	p[4].Value.lpszW = NULL; /* HasValue 0 */
	p[5].ulPropTag = TAG_IS_MASTER;
	p[5].Value.b = 0;
	(void)ctx;
	return S_OK;
}

static mh_status do_get_matches(mh_srv_nspi_ctx *ctx, mh_srv_store *st, mh_arena *a,
                                const mh_nspi_get_matches_req *q, mh_nspi_response *resp)
{
	mh_nspi_get_matches_resp *rs = &resp->u.get_matches;
	const mh_nspi_stat *s = pick_stat(ctx, q->has_state, &q->state);
	uint32_t limit = q->row_count < ctx->max_rows ? q->row_count : ctx->max_rows;
	gal g;
	mh_status ms;
	if (q->has_filter) {
		mh_error_set(MAPI_E_NO_SUPPORT, -1,
		             "NSPI GetMatches: restrictions are not supported");
		fail_resp(resp, MAPI_E_NO_SUPPORT);
		return S_OK;
	}
	if (s->container_id != 0) {
		fail_resp(resp, MAPI_E_INVALID_BOOKMARK);
		return S_OK;
	}
	if (too_many_columns(ctx, q->has_columns, q->columns)) {
		fail_resp(resp, MAPI_E_TOO_BIG);
		return S_OK;
	}
	if (q->has_prop_name) {
		/* No object of this GAL has a link-valued property to open as a table. */
		mh_error_set(MAPI_E_NOT_FOUND, -1,
		             "NSPI GetMatches: object 0x%08X has no property 0x%04X to open",
		             s->cur_rec, q->prop_id);
		fail_resp(resp, MAPI_E_NOT_FOUND);
		return S_OK;
	}
	if ((ms = gal_load(st, a, &g)) != S_OK)
		return ms;
	/* No restriction matches every row of the container. */
	if (g.n > limit) {
		mh_error_set(MAPI_E_TABLE_TOO_BIG, -1,
		             "NSPI GetMatches: %zu rows match, %u asked for", g.n, q->row_count);
		fail_resp(resp, MAPI_E_TABLE_TOO_BIG);
		return S_OK;
	}
	rs->has_state = true;
	rs->state = *s;
	rs->has_mids = true;
	rs->mids.count = (uint32_t)g.n;
	if (g.n > 0 &&
	    (ms = mh_arena_array(a, g.n, sizeof(uint32_t), (void **)&rs->mids.mids)) != S_OK)
		return ms;
	for (size_t i = 0; i < g.n; i++)
		rs->mids.mids[i] = rcpt_mid(&g.r[i]);
	if (!q->has_columns || q->columns == NULL)
		return S_OK;
	rs->has_rows = true;
	rs->rows.columns = q->columns;
	rs->rows.count = (uint32_t)g.n;
	if (g.n > 0 &&
	    (ms = mh_arena_array(a, g.n, sizeof(mh_prop_row), (void **)&rs->rows.rows)) != S_OK)
		return ms;
	for (size_t i = 0; i < g.n; i++) {
		obj o;
		obj_init(&o, &g.r[i]);
		if ((ms = build_row(ctx, st, a, &o, q->columns, 0, &rs->rows.rows[i])) != S_OK)
			return ms;
	}
	return S_OK;
}

static mh_status do_compare_mids(mh_srv_nspi_ctx *ctx, mh_srv_store *st, mh_arena *a,
                                 const mh_nspi_compare_mids_req *q, mh_nspi_response *resp)
{
	const mh_nspi_stat *s = pick_stat(ctx, q->has_state, &q->state);
	long k1, k2;
	gal g;
	mh_status ms;
	if (s->container_id != 0) {
		fail_resp(resp, MAPI_E_INVALID_BOOKMARK);
		return S_OK;
	}
	if ((ms = gal_load(st, a, &g)) != S_OK)
		return ms;
	k1 = gal_index(&g, q->mid1);
	k2 = gal_index(&g, q->mid2);
	if (k1 < 0 || k2 < 0) {
		mh_error_set(MAPI_E_CALL_FAILED, -1,
		             "NSPI CompareMIds: MId 0x%08X is not in the table",
		             k1 < 0 ? q->mid1 : q->mid2);
		fail_resp(resp, MAPI_E_CALL_FAILED);
		return S_OK;
	}
	resp->u.compare_mids.result = k1 < k2 ? -1 : k1 > k2 ? 1 : 0;
	return S_OK;
}

/* "<base>/mapi/<endpoint>/?MailboxId=<id>" in the arena. */
static mh_status mailbox_url(const mh_srv_nspi_ctx *ctx, mh_arena *a, const char *endpoint,
                             const char *mailbox_id, char **out)
{
	const char *base = ctx->base_url != NULL ? ctx->base_url : "";
	int n = snprintf(NULL, 0, "%s/mapi/%s/?MailboxId=%s", base, endpoint, mailbox_id);
	mh_status ms;
	if (n < 0)
		return mh_error_set(MAPI_E_CALL_FAILED, -1, "NSPI: cannot format a URL");
	if ((ms = mh_arena_alloc(a, (size_t)n + 1, (void **)out)) != S_OK)
		return ms;
	snprintf(*out, (size_t)n + 1, "%s/mapi/%s/?MailboxId=%s", base, endpoint, mailbox_id);
	return S_OK;
}

/*
 * The MailboxId a server DN ("<prefix>/cn=Configuration/cn=Servers/cn=<MailboxId>") or the
 * MDB DN below it names, as a copy in the arena; MAPI_E_NOT_FOUND for any other DN.
 */
static mh_status server_dn_mailbox(mh_srv_store *st, mh_arena *a, const char *dn, char **out)
{
	static const char servers[] = "/cn=Configuration/cn=Servers/cn=";
	static const char mdb[] = "/cn=Microsoft Private MDB";
	mh_srv_org_info info;
	size_t plen, slen = sizeof(servers) - 1, len;
	const char *id, *end;
	mh_status ms = mh_srv_store_org_info(st, a, &info);
	if (ms != S_OK)
		return ms;
	plen = strlen(info.dn_prefix);
	if (dn == NULL || strncasecmp(dn, info.dn_prefix, plen) != 0 ||
	    strncasecmp(dn + plen, servers, slen) != 0)
		return MAPI_E_NOT_FOUND;
	id = dn + plen + slen;
	end = strchr(id, '/');
	len = end != NULL ? (size_t)(end - id) : strlen(id);
	if (len == 0 || (end != NULL && strcasecmp(end, mdb) != 0))
		return MAPI_E_NOT_FOUND;
	return mh_arena_strndup(a, id, len, out);
}

static mh_status do_get_mailbox_url(mh_srv_nspi_ctx *ctx, mh_srv_store *st, mh_arena *a,
                                    const mh_nspi_get_url_req *q, mh_nspi_response *resp)
{
	char *id = NULL;
	mh_srv_mailbox m;
	mh_status ms = server_dn_mailbox(st, a, q->dn, &id);
	if (ms == S_OK)
		ms = mh_srv_store_mailbox_by_id(st, a, id, &m);
	if (ms == MAPI_E_NOT_FOUND) {
		mh_error_set(MAPI_E_NOT_FOUND, -1,
		             "NSPI GetMailboxUrl: \"%.200s\" is not a server or MDB DN of this "
		             "organisation",
		             q->dn != NULL ? q->dn : "");
		fail_resp(resp, MAPI_E_NOT_FOUND);
		return S_OK;
	}
	if (ms != S_OK)
		return ms;
	return mailbox_url(ctx, a, "emsmdb", m.mailbox_id, &resp->u.get_url.server_url);
}

static mh_status do_get_address_book_url(mh_srv_nspi_ctx *ctx, mh_srv_store *st, mh_arena *a,
                                         const mh_nspi_get_url_req *q, mh_nspi_response *resp)
{
	mh_srv_recipient r;
	mh_srv_mailbox m;
	mh_status ms;
	/* The user's primary mailbox; an empty DN means the caller; a mailbox Essdn works too. */
	if (q->dn == NULL || q->dn[0] == '\0')
		ms = mh_srv_store_recipient_by_id(st, a, ctx->principal, &r);
	else
		ms = mh_srv_store_recipient_by_dn(st, a, q->dn, &r);
	if (ms == S_OK)
		ms = mh_srv_store_mailbox_of(st, a, r.id, MH_SRV_MAILBOX_PRIMARY, &m);
	else if (ms == MAPI_E_NOT_FOUND && q->dn != NULL && q->dn[0] != '\0')
		ms = mh_srv_store_mailbox_by_dn(st, a, q->dn, &m);
	if (ms == MAPI_E_NOT_FOUND) {
		mh_error_set(MAPI_E_NOT_FOUND, -1,
		             "NSPI GetAddressBookUrl: no user with DN \"%.200s\"",
		             q->dn != NULL ? q->dn : "");
		fail_resp(resp, MAPI_E_NOT_FOUND);
		return S_OK;
	}
	if (ms != S_OK)
		return ms;
	return mailbox_url(ctx, a, "nspi", m.mailbox_id, &resp->u.get_url.server_url);
}

mh_status mh_srv_nspi_handle(mh_srv_nspi_ctx *ctx, mh_srv_store *st, const mh_nspi_request *req,
                             mh_arena *a, mh_nspi_response *resp)
{
	mh_status ms = S_OK;
	memset(resp, 0, sizeof(*resp));
	resp->kind = req->kind;
	if (!ctx->bound && req->kind != MH_NSPI_BIND && req->kind != MH_NSPI_GET_MAILBOX_URL &&
	    req->kind != MH_NSPI_GET_ADDRESS_BOOK_URL) {
		mh_error_set(MAPI_E_CALL_FAILED, -1, "NSPI %s before Bind",
		             mh_nspi_kind_name(req->kind) ? mh_nspi_kind_name(req->kind)
		                                          : "request");
		fail_resp(resp, MAPI_E_CALL_FAILED);
		return S_OK;
	}
	switch (req->kind) {
	case MH_NSPI_BIND:
		ms = do_bind(ctx, &req->u.bind, resp);
		break;
	case MH_NSPI_UNBIND:
		ctx->bound = false;
		resp->error_code = MH_NSPI_UNBIND_SUCCESS;
		break;
	case MH_NSPI_RESOLVE_NAMES:
		ms = do_resolve_names(ctx, st, a, &req->u.resolve_names, resp);
		break;
	case MH_NSPI_DN_TO_MID:
		ms = do_dn_to_mid(ctx, st, a, &req->u.dn_to_mid, resp);
		break;
	case MH_NSPI_GET_PROPS:
		ms = do_get_props(ctx, st, a, &req->u.get_props, resp);
		break;
	case MH_NSPI_QUERY_ROWS:
		ms = do_query_rows(ctx, st, a, &req->u.query_rows, resp);
		break;
	case MH_NSPI_GET_SPECIAL_TABLE:
		ms = do_get_special_table(ctx, a, &req->u.get_special_table, resp);
		break;
	case MH_NSPI_GET_MATCHES:
		ms = do_get_matches(ctx, st, a, &req->u.get_matches, resp);
		break;
	case MH_NSPI_COMPARE_MIDS:
		ms = do_compare_mids(ctx, st, a, &req->u.compare_mids, resp);
		break;
	case MH_NSPI_GET_MAILBOX_URL:
		ms = do_get_mailbox_url(ctx, st, a, &req->u.get_url, resp);
		break;
	case MH_NSPI_GET_ADDRESS_BOOK_URL:
		ms = do_get_address_book_url(ctx, st, a, &req->u.get_url, resp);
		break;
	default:
		mh_error_set(MAPI_E_NO_SUPPORT, -1, "NSPI %s is not supported",
		             mh_nspi_kind_name(req->kind) ? mh_nspi_kind_name(req->kind)
		                                          : "request");
		fail_resp(resp, MAPI_E_NO_SUPPORT);
		return S_OK;
	}
	if (ms == S_OK)
		return S_OK;
	if (internal(ms))
		return ms;
	/* A store failure: the client gets GeneralFailure; the message stays in mh_error_last. */
	fail_resp(resp, MAPI_E_CALL_FAILED);
	return S_OK;
}

mh_status mh_srv_nspi_handle_body(mh_srv_nspi_ctx *ctx, mh_srv_store *st, const char *request_type,
                                  const uint8_t *body, size_t len, mh_buf *out,
                                  uint32_t *response_code, mh_nspi_kind *kind)
{
	mh_arena a;
	mh_cursor c;
	mh_nspi_request req;
	mh_nspi_response resp;
	mh_buf tmp = MH_BUF_INIT;
	mh_nspi_kind k;
	mh_status ms = mh_nspi_kind_from_name(request_type, &k);
	*response_code = MH_SRV_NSPI_RC_SUCCESS;
	if (ms != S_OK) {
		*response_code = MH_SRV_NSPI_RC_INVALID_REQUEST_TYPE;
		return ms;
	}
	if (kind != NULL)
		*kind = k;
	mh_arena_init(&a, 0);
	mh_cursor_init(&c, body, body != NULL ? len : 0, MAPI_E_CORRUPT_DATA);
	ms = mh_nspi_request_pull(&c, &a, k, &req);
	if (ms == MAPI_E_NO_SUPPORT && k == MH_NSPI_GET_MATCHES) {
		/* A well-formed body with a restriction this server does not evaluate. */
		memset(&resp, 0, sizeof(resp));
		resp.kind = k;
		resp.error_code = (uint32_t)MAPI_E_NO_SUPPORT;
		ms = S_OK;
	} else if (ms != S_OK) {
		*response_code = ms == MAPI_E_TOO_BIG ? MH_SRV_NSPI_RC_TOO_LARGE
		                 : ms == MAPI_E_NOT_ENOUGH_MEMORY
		                     ? MH_SRV_NSPI_RC_UNKNOWN_FAILURE
		                     : MH_SRV_NSPI_RC_INVALID_REQUEST_BODY;
		goto done;
	} else if ((ms = mh_srv_nspi_handle(ctx, st, &req, &a, &resp)) != S_OK) {
		*response_code = ms == MAPI_E_TOO_BIG ? MH_SRV_NSPI_RC_TOO_LARGE
		                                      : MH_SRV_NSPI_RC_UNKNOWN_FAILURE;
		goto done;
	}
	if ((ms = mh_nspi_response_push(&tmp, &resp)) != S_OK) {
		*response_code = MH_SRV_NSPI_RC_UNKNOWN_FAILURE;
		goto done;
	}
	mh_buf_put(out, tmp.data, tmp.len);
	if ((ms = mh_buf_status(out)) != S_OK)
		*response_code = MH_SRV_NSPI_RC_UNKNOWN_FAILURE;
done:
	mh_buf_free(&tmp);
	mh_arena_free(&a);
	return ms;
}
