/*
 * NSPI request/response bodies of MAPI/HTTP: one pull and one push per
 * X-RequestType, over shared readers for STAT, MId arrays, string arrays,
 * rowsets and the auxiliary buffer.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codec/nspi.h"
#include "util/diag.h"
#include "util/utf.h"

#define STAT_SIZE 36u

static const char *const kind_names[MH_NSPI_KIND_COUNT] = {
    [MH_NSPI_BIND] = "Bind",
    [MH_NSPI_UNBIND] = "Unbind",
    [MH_NSPI_COMPARE_MIDS] = "CompareMIds",
    [MH_NSPI_DN_TO_MID] = "DNToMId",
    [MH_NSPI_GET_MATCHES] = "GetMatches",
    [MH_NSPI_GET_PROP_LIST] = "GetPropList",
    [MH_NSPI_GET_PROPS] = "GetProps",
    [MH_NSPI_GET_SPECIAL_TABLE] = "GetSpecialTable",
    [MH_NSPI_GET_TEMPLATE_INFO] = "GetTemplateInfo",
    [MH_NSPI_MOD_PROPS] = "ModProps",
    [MH_NSPI_QUERY_COLUMNS] = "QueryColumns",
    [MH_NSPI_QUERY_ROWS] = "QueryRows",
    [MH_NSPI_RESOLVE_NAMES] = "ResolveNames",
    [MH_NSPI_RESORT_RESTRICTION] = "ResortRestriction",
    [MH_NSPI_SEEK_ENTRIES] = "SeekEntries",
    [MH_NSPI_UPDATE_STAT] = "UpdateStat",
    [MH_NSPI_GET_MAILBOX_URL] = "GetMailboxUrl",
    [MH_NSPI_GET_ADDRESS_BOOK_URL] = "GetAddressBookUrl",
    [MH_NSPI_MOD_LINK_ATT] = "ModLinkAtt",
};

mh_status mh_nspi_kind_from_name(const char *name, mh_nspi_kind *out)
{
	if (name != NULL) {
		for (int k = 0; k < MH_NSPI_KIND_COUNT; k++) {
			if (strcasecmp(name, kind_names[k]) == 0) {
				*out = (mh_nspi_kind)k;
				return S_OK;
			}
		}
	}
	return mh_error_set(MAPI_E_NO_SUPPORT, -1, "NSPI request type \"%s\" is not supported",
	                    name != NULL ? name : "(null)");
}

const char *mh_nspi_kind_name(mh_nspi_kind kind)
{
	if ((unsigned)kind >= MH_NSPI_KIND_COUNT)
		return NULL;
	return kind_names[kind];
}

void mh_nspi_stat_default(mh_nspi_stat *s)
{
	memset(s, 0, sizeof(*s));
	s->codepage = MH_NSPI_STAT_DEFAULT_CODEPAGE;
	s->template_locale = MH_NSPI_STAT_DEFAULT_LOCALE;
	s->sort_locale = MH_NSPI_STAT_DEFAULT_LOCALE;
}

/* ---- pulling -------------------------------------------------------------------------------- */

/* What every reader needs; f holds the current field name ("ResolveNames.HasState"). */
typedef struct pctx {
	mh_cursor *c;
	mh_arena *a;
	const char *kind;
	char f[96];
} pctx;

static const char *fld(pctx *p, const char *field)
{
	snprintf(p->f, sizeof(p->f), "%s.%s", p->kind, field);
	return p->f;
}

static mh_status u32(pctx *p, const char *field, uint32_t *v)
{
	return mh_cursor_u32(p->c, v, fld(p, field));
}

static mh_status has(pctx *p, const char *field, bool *v)
{
	uint8_t b;
	mh_status st = mh_cursor_u8(p->c, &b, fld(p, field));
	if (st == S_OK)
		*v = b != 0;
	return st;
}

mh_status mh_nspi_stat_pull(mh_cursor *c, mh_nspi_stat *s)
{
	uint32_t delta;
	mh_status st = mh_cursor_need(c, STAT_SIZE, "STAT");
	if (st != S_OK)
		return st;
	mh_cursor_u32(c, &s->sort_type, "STAT.SortType");
	mh_cursor_u32(c, &s->container_id, "STAT.ContainerID");
	mh_cursor_u32(c, &s->cur_rec, "STAT.CurrentRec");
	mh_cursor_u32(c, &delta, "STAT.Delta");
	mh_cursor_u32(c, &s->num_pos, "STAT.NumPos");
	mh_cursor_u32(c, &s->total_recs, "STAT.TotalRecs");
	mh_cursor_u32(c, &s->codepage, "STAT.CodePage");
	mh_cursor_u32(c, &s->template_locale, "STAT.TemplateLocale");
	mh_cursor_u32(c, &s->sort_locale, "STAT.SortLocale");
	s->delta = (int32_t)delta;
	return S_OK;
}

/* Has<name>(1) then, when set, a STAT. */
static mh_status opt_stat(pctx *p, const char *hasfield, bool *present, mh_nspi_stat *s)
{
	mh_status st = has(p, hasfield, present);
	if (st != S_OK || !*present)
		return st;
	if (mh_cursor_remaining(p->c) < STAT_SIZE)
		return mh_cursor_need(p->c, STAT_SIZE, fld(p, "State"));
	return mh_nspi_stat_pull(p->c, s);
}

/* Rejects a count no input of the bytes left could hold, before anything is allocated. */
static mh_status check_count(pctx *p, const char *field, size_t at, uint32_t count, size_t min_size)
{
	size_t left = mh_cursor_remaining(p->c);
	if (count > MH_NSPI_MAX_COUNT)
		return mh_error_set(p->c->err, (int64_t)at,
		                    "%s.%s at byte %zu is %u, above the limit of %u", p->kind,
		                    field, at, count, MH_NSPI_MAX_COUNT);
	if (min_size > 0 && count > left / min_size)
		return mh_error_set(p->c->err, (int64_t)at,
		                    "%s.%s at byte %zu is %u but only %zu bytes follow", p->kind,
		                    field, at, count, left);
	return S_OK;
}

static mh_status mids(pctx *p, const char *field, mh_nspi_mids *m)
{
	size_t at = mh_cursor_offset(p->c);
	void *v = NULL;
	mh_status st = u32(p, field, &m->count);
	if (st == S_OK)
		st = check_count(p, field, at, m->count, 4);
	if (st == S_OK && m->count > 0)
		st = mh_arena_array(p->a, m->count, sizeof(uint32_t), &v);
	if (st != S_OK)
		return st;
	m->mids = v;
	for (uint32_t i = 0; i < m->count; i++)
		mh_cursor_u32(p->c, &m->mids[i], fld(p, "MinimalIds"));
	return S_OK;
}

static mh_status opt_mids(pctx *p, const char *hasfield, const char *field, bool *present,
                          mh_nspi_mids *m)
{
	mh_status st = has(p, hasfield, present);
	if (st != S_OK || !*present)
		return st;
	return mids(p, field, m);
}

static mh_status tags(pctx *p, SPropTagArray **t)
{
	return mh_pv_tags_pull(p->c, p->a, 4, MH_NSPI_MAX_COUNT, t);
}

static mh_status opt_tags(pctx *p, const char *hasfield, bool *present, SPropTagArray **t)
{
	mh_status st = has(p, hasfield, present);
	if (st != S_OK || !*present)
		return st;
	return tags(p, t);
}

/* A NUL-terminated 8-bit string, copied into the arena as sent. */
static mh_status str8(pctx *p, const char *field, char **out)
{
	const char *s;
	size_t n;
	mh_status st = mh_cursor_str8(p->c, MH_PV_MAX_VALUE_BYTES, &s, &n, fld(p, field));
	if (st != S_OK)
		return st;
	return mh_arena_strndup(p->a, s, n, out);
}

/* A NUL-terminated UTF-16LE string, converted to UTF-8 in the arena. */
static mh_status wstr(pctx *p, const char *field, char **out)
{
	size_t at = mh_cursor_offset(p->c), units, n = 0;
	const uint8_t *s;
	void *d;
	mh_status st = mh_cursor_str16(p->c, MH_PV_MAX_VALUE_BYTES / 2, &s, &units, fld(p, field));
	if (st != S_OK)
		return st;
	if (mh_utf16le_to_utf8(NULL, 0, s, units, &n) != S_OK)
		return mh_error_set(p->c->err, (int64_t)at,
		                    "%s.%s at byte %zu is not valid UTF-16LE (unpaired surrogate)",
		                    p->kind, field, at);
	if ((st = mh_arena_alloc(p->a, n + 1, &d)) != S_OK)
		return st;
	if ((st = mh_utf16le_to_utf8(d, n + 1, s, units, &n)) != S_OK)
		return st;
	*out = d;
	return S_OK;
}

/* Count(4) + strings: UTF-16LE when wide, else 8-bit. */
static mh_status strings(pctx *p, const char *field, bool wide, mh_nspi_strings *out)
{
	size_t at = mh_cursor_offset(p->c);
	void *v = NULL;
	mh_status st = u32(p, field, &out->count);
	if (st == S_OK)
		st = check_count(p, field, at, out->count, wide ? 2 : 1);
	if (st == S_OK && out->count > 0)
		st = mh_arena_array(p->a, out->count, sizeof(char *), &v);
	if (st != S_OK)
		return st;
	out->values = v;
	for (uint32_t i = 0; i < out->count && st == S_OK; i++)
		st = wide ? wstr(p, "NameValues", &out->values[i])
		          : str8(p, "NameValues", &out->values[i]);
	return st;
}

/* Columns + RowCount + rows (the part after HasColumnsAndRows/HasRowsAndCols). */
static mh_status rowset(pctx *p, mh_nspi_rowset *rs)
{
	size_t at;
	void *v = NULL;
	mh_status st = tags(p, &rs->columns);
	if (st != S_OK)
		return st;
	at = mh_cursor_offset(p->c);
	st = u32(p, "RowCount", &rs->count);
	if (st == S_OK)
		st = check_count(p, "RowCount", at, rs->count, 1);
	if (st == S_OK && rs->count > 0)
		st = mh_arena_array(p->a, rs->count, sizeof(mh_prop_row), &v);
	if (st != S_OK)
		return st;
	rs->rows = v;
	for (uint32_t i = 0; i < rs->count && st == S_OK; i++)
		st = mh_pv_row_pull(p->c, p->a, MH_PV_NSPI, rs->columns, &rs->rows[i]);
	return st;
}

/* Count(4) + Binary_r values (Count(4) + bytes each), the ModLinkAtt EntryIds. */
static mh_status binaries(pctx *p, const char *field, uint32_t *count, SBinary **out)
{
	size_t at = mh_cursor_offset(p->c);
	void *v = NULL;
	mh_status st = u32(p, field, count);
	if (st == S_OK)
		st = check_count(p, field, at, *count, 4);
	if (st == S_OK && *count > 0)
		st = mh_arena_array(p->a, *count, sizeof(SBinary), &v);
	if (st != S_OK)
		return st;
	*out = v;
	for (uint32_t i = 0; i < *count; i++) {
		SBinary *e = &(*out)[i];
		const uint8_t *d;
		at = mh_cursor_offset(p->c);
		if ((st = u32(p, "EntryIds.Count", &e->cb)) != S_OK)
			return st;
		if (e->cb > MH_NSPI_MAX_ENTRYID_BYTES)
			return mh_error_set(p->c->err, (int64_t)at,
			                    "%s.EntryIds[%u] at byte %zu: Count %u above the "
			                    "limit of %u",
			                    p->kind, i, at, e->cb, MH_NSPI_MAX_ENTRYID_BYTES);
		if ((st = mh_cursor_bytes(p->c, e->cb, &d, fld(p, "EntryIds"))) != S_OK)
			return st;
		e->lpb = NULL;
		if (e->cb > 0) {
			void *copy;
			if ((st = mh_arena_memdup(p->a, d, e->cb, &copy)) != S_OK)
				return st;
			e->lpb = copy;
		}
	}
	return S_OK;
}

static mh_status opt_rowset(pctx *p, const char *hasfield, bool *present, mh_nspi_rowset *rs)
{
	mh_status st = has(p, hasfield, present);
	if (st != S_OK || !*present)
		return st;
	return rowset(p, rs);
}

static mh_status proplist(pctx *p, mh_nspi_proplist *pl)
{
	return mh_pv_list_pull(p->c, p->a, MH_PV_NSPI, 4, &pl->count, &pl->props);
}

static mh_status opt_proplist(pctx *p, const char *hasfield, bool *present, mh_nspi_proplist *pl)
{
	mh_status st = has(p, hasfield, present);
	if (st != S_OK || !*present)
		return st;
	return proplist(p, pl);
}

static mh_status opt_u32(pctx *p, const char *hasfield, const char *field, bool *present,
                         uint32_t *v)
{
	mh_status st = has(p, hasfield, present);
	if (st != S_OK || !*present)
		return st;
	return u32(p, field, v);
}

/* AuxiliaryBufferSize + AuxiliaryBuffer, which must end the body. */
static mh_status aux_end(pctx *p, mh_nspi_aux *aux)
{
	const uint8_t *d;
	size_t left;
	mh_status st = u32(p, "AuxiliaryBufferSize", &aux->cb);
	if (st != S_OK)
		return st;
	if ((st = mh_cursor_bytes(p->c, aux->cb, &d, fld(p, "AuxiliaryBuffer"))) != S_OK)
		return st;
	if (aux->cb > 0) {
		void *copy;
		if ((st = mh_arena_memdup(p->a, d, aux->cb, &copy)) != S_OK)
			return st;
		aux->data = copy;
	}
	left = mh_cursor_remaining(p->c);
	if (left != 0)
		return mh_cursor_fail(p->c,
		                      "%s body has %zu unexpected bytes after the auxiliary "
		                      "buffer, at byte %zu",
		                      p->kind, left, mh_cursor_offset(p->c));
	return S_OK;
}

/* Has<name>(1) then, when set, a restriction in the NSPI layout. */
static mh_status opt_filter(pctx *p, const char *hasfield, bool *present, mh_restriction **r)
{
	mh_status st = has(p, hasfield, present);
	*r = NULL;
	if (st != S_OK || !*present)
		return st;
	return mh_restriction_pull(p->c, p->a, MH_PV_NSPI, r);
}

static mh_status request_fields(pctx *p, mh_nspi_kind kind, mh_nspi_request *r)
{
	mh_status st;
	switch (kind) {
	case MH_NSPI_BIND: {
		mh_nspi_bind_req *q = &r->u.bind;
		if ((st = u32(p, "Flags", &q->flags)) != S_OK)
			return st;
		return opt_stat(p, "HasState", &q->has_state, &q->state);
	}
	case MH_NSPI_UNBIND:
		return u32(p, "Reserved", &r->u.unbind.reserved);
	case MH_NSPI_COMPARE_MIDS: {
		mh_nspi_compare_mids_req *q = &r->u.compare_mids;
		if ((st = u32(p, "Reserved", &q->reserved)) != S_OK ||
		    (st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK ||
		    (st = u32(p, "MinimalId1", &q->mid1)) != S_OK)
			return st;
		return u32(p, "MinimalId2", &q->mid2);
	}
	case MH_NSPI_DN_TO_MID: {
		mh_nspi_dn_to_mid_req *q = &r->u.dn_to_mid;
		if ((st = u32(p, "Reserved", &q->reserved)) != S_OK ||
		    (st = has(p, "HasNames", &q->has_names)) != S_OK || !q->has_names)
			return st;
		return strings(p, "NameCount", false, &q->names);
	}
	case MH_NSPI_GET_MATCHES: {
		mh_nspi_get_matches_req *q = &r->u.get_matches;
		if ((st = u32(p, "Reserved", &q->reserved)) != S_OK ||
		    (st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK ||
		    (st = opt_mids(p, "HasMinimalIds", "MinimalIdCount", &q->has_mids, &q->mids)) !=
		        S_OK ||
		    (st = u32(p, "InterfaceOptionFlags", &q->reserved2)) != S_OK ||
		    (st = opt_filter(p, "HasFilter", &q->has_filter, &q->filter)) != S_OK ||
		    (st = has(p, "HasPropertyName", &q->has_prop_name)) != S_OK)
			return st;
		if (q->has_prop_name) {
			if ((st = mh_cursor_guid(p->c, &q->prop_guid,
			                         fld(p, "PropertyNameGuid"))) != S_OK ||
			    (st = u32(p, "PropertyNameId", &q->prop_id)) != S_OK)
				return st;
		}
		if ((st = u32(p, "RowCount", &q->row_count)) != S_OK)
			return st;
		return opt_tags(p, "HasColumns", &q->has_columns, &q->columns);
	}
	case MH_NSPI_GET_PROP_LIST: {
		mh_nspi_get_prop_list_req *q = &r->u.get_prop_list;
		if ((st = u32(p, "Flags", &q->flags)) != S_OK ||
		    (st = u32(p, "MinimalId", &q->mid)) != S_OK)
			return st;
		return u32(p, "CodePage", &q->codepage);
	}
	case MH_NSPI_GET_PROPS: {
		mh_nspi_get_props_req *q = &r->u.get_props;
		if ((st = u32(p, "Flags", &q->flags)) != S_OK ||
		    (st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK)
			return st;
		return opt_tags(p, "HasPropertyTags", &q->has_tags, &q->tags);
	}
	case MH_NSPI_GET_SPECIAL_TABLE: {
		mh_nspi_get_special_table_req *q = &r->u.get_special_table;
		if ((st = u32(p, "Flags", &q->flags)) != S_OK ||
		    (st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK)
			return st;
		return opt_u32(p, "HasVersion", "Version", &q->has_version, &q->version);
	}
	case MH_NSPI_GET_TEMPLATE_INFO: {
		mh_nspi_get_template_info_req *q = &r->u.get_template_info;
		if ((st = u32(p, "Flags", &q->flags)) != S_OK ||
		    (st = u32(p, "DisplayType", &q->display_type)) != S_OK ||
		    (st = has(p, "HasTemplateDn", &q->has_template_dn)) != S_OK)
			return st;
		if (q->has_template_dn && (st = str8(p, "TemplateDn", &q->template_dn)) != S_OK)
			return st;
		if ((st = u32(p, "CodePage", &q->codepage)) != S_OK)
			return st;
		return u32(p, "LocaleId", &q->locale_id);
	}
	case MH_NSPI_MOD_PROPS: {
		mh_nspi_mod_props_req *q = &r->u.mod_props;
		if ((st = u32(p, "Reserved", &q->reserved)) != S_OK ||
		    (st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK ||
		    (st = opt_tags(p, "HasPropertyTagsToRemove", &q->has_tags_to_remove,
		                   &q->tags_to_remove)) != S_OK)
			return st;
		return opt_proplist(p, "HasPropertyValues", &q->has_values, &q->values);
	}
	case MH_NSPI_MOD_LINK_ATT: {
		mh_nspi_mod_link_att_req *q = &r->u.mod_link_att;
		if ((st = u32(p, "Flags", &q->flags)) != S_OK ||
		    (st = u32(p, "PropertyTag", &q->prop_tag)) != S_OK ||
		    (st = u32(p, "MinimalId", &q->mid)) != S_OK ||
		    (st = has(p, "HasEntryIds", &q->has_entry_ids)) != S_OK || !q->has_entry_ids)
			return st;
		return binaries(p, "EntryIdCount", &q->count, &q->entry_ids);
	}
	case MH_NSPI_QUERY_COLUMNS: {
		mh_nspi_query_columns_req *q = &r->u.query_columns;
		if ((st = u32(p, "Reserved", &q->reserved)) != S_OK)
			return st;
		return u32(p, "MapiFlags", &q->flags);
	}
	case MH_NSPI_QUERY_ROWS: {
		mh_nspi_query_rows_req *q = &r->u.query_rows;
		if ((st = u32(p, "Flags", &q->flags)) != S_OK ||
		    (st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK ||
		    (st = mids(p, "ExplicitTableCount", &q->explicit_table)) != S_OK ||
		    (st = u32(p, "RowCount", &q->row_count)) != S_OK)
			return st;
		return opt_tags(p, "HasColumns", &q->has_columns, &q->columns);
	}
	case MH_NSPI_RESOLVE_NAMES: {
		mh_nspi_resolve_names_req *q = &r->u.resolve_names;
		if ((st = u32(p, "Reserved", &q->reserved)) != S_OK ||
		    (st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK ||
		    (st = opt_tags(p, "HasPropertyTags", &q->has_tags, &q->tags)) != S_OK ||
		    (st = has(p, "HasNames", &q->has_names)) != S_OK || !q->has_names)
			return st;
		return strings(p, "NameCount", true, &q->names);
	}
	case MH_NSPI_RESORT_RESTRICTION: {
		mh_nspi_resort_restriction_req *q = &r->u.resort_restriction;
		if ((st = u32(p, "Reserved", &q->reserved)) != S_OK ||
		    (st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK)
			return st;
		return opt_mids(p, "HasMinimalIds", "MinimalIdCount", &q->has_mids, &q->mids);
	}
	case MH_NSPI_SEEK_ENTRIES: {
		mh_nspi_seek_entries_req *q = &r->u.seek_entries;
		if ((st = u32(p, "Reserved", &q->reserved)) != S_OK ||
		    (st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK ||
		    (st = has(p, "HasTarget", &q->has_target)) != S_OK)
			return st;
		if (q->has_target &&
		    (st = mh_pv_tagged_pull(p->c, p->a, MH_PV_NSPI, &q->target)) != S_OK)
			return st;
		if ((st = opt_mids(p, "HasExplicitTable", "ExplicitTableCount",
		                   &q->has_explicit_table, &q->explicit_table)) != S_OK)
			return st;
		return opt_tags(p, "HasColumns", &q->has_columns, &q->columns);
	}
	case MH_NSPI_UPDATE_STAT: {
		mh_nspi_update_stat_req *q = &r->u.update_stat;
		if ((st = u32(p, "Reserved", &q->reserved)) != S_OK ||
		    (st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK)
			return st;
		return mh_cursor_u8(p->c, &q->delta_requested, fld(p, "DeltaRequested"));
	}
	case MH_NSPI_GET_MAILBOX_URL:
	case MH_NSPI_GET_ADDRESS_BOOK_URL: {
		mh_nspi_get_url_req *q = &r->u.get_url;
		if ((st = u32(p, "Flags", &q->flags)) != S_OK)
			return st;
		return wstr(p, kind == MH_NSPI_GET_MAILBOX_URL ? "ServerDn" : "UserDn", &q->dn);
	}
	case MH_NSPI_KIND_COUNT:
		break;
	}
	return mh_error_set(MAPI_E_NO_SUPPORT, -1, "NSPI body kind %d is not supported", (int)kind);
}

mh_status mh_nspi_request_pull(mh_cursor *c, mh_arena *a, mh_nspi_kind kind, mh_nspi_request *out)
{
	pctx p;
	mh_status st;
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	if (mh_nspi_kind_name(kind) == NULL)
		return mh_error_set(MAPI_E_NO_SUPPORT, -1, "NSPI body kind %d is not supported",
		                    (int)kind);
	p.c = c;
	p.a = a;
	p.kind = mh_nspi_kind_name(kind);
	if ((st = request_fields(&p, kind, out)) != S_OK)
		return st;
	return aux_end(&p, &out->aux);
}

/* True for the NSPI failure codes of wire.md §6.7 (HRESULTs with the severity bit). */
static bool known_failure(uint32_t v)
{
	static const uint32_t codes[] = {
	    0x80004005u, 0x80040102u, 0x80040108u, 0x8004010Eu, 0x8004010Fu, 0x80040111u,
	    0x80040117u, 0x8004011Eu, 0x8004011Fu, 0x80040305u, 0x80040403u, 0x80040405u,
	    0x80040700u, 0x80070005u, 0x8007000Eu, 0x80070057u,
	};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i] == v)
			return true;
	return false;
}

static bool cmp_gromox_order(uint32_t first, uint32_t second, unsigned flags)
{
	bool first_ok = first == 0 || known_failure(first);
	bool second_ok = second == 0 || known_failure(second);
	if (flags & MH_NSPI_PULL_CMP_GROMOX)
		return true;
	if (!(flags & MH_NSPI_PULL_CMP_AUTO))
		return false;
	if (!first_ok && second_ok)
		return true;
	return first == 0 && known_failure(second);
}

static mh_status response_fields(pctx *p, mh_nspi_kind kind, unsigned flags, mh_nspi_response *r)
{
	mh_status st;
	switch (kind) {
	case MH_NSPI_BIND:
		return mh_cursor_guid(p->c, &r->u.bind.server_guid, fld(p, "ServerGuid"));
	case MH_NSPI_UNBIND:
	case MH_NSPI_MOD_PROPS:
	case MH_NSPI_MOD_LINK_ATT:
		return S_OK;
	case MH_NSPI_COMPARE_MIDS:
		/* read in response_pull: its ErrorCode may come second */
		(void)flags;
		return S_OK;
	case MH_NSPI_DN_TO_MID: {
		mh_nspi_dn_to_mid_resp *q = &r->u.dn_to_mid;
		return opt_mids(p, "HasMinimalIds", "MinimalIdCount", &q->has_mids, &q->mids);
	}
	case MH_NSPI_GET_MATCHES: {
		mh_nspi_get_matches_resp *q = &r->u.get_matches;
		if ((st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK ||
		    (st = opt_mids(p, "HasMinimalIds", "MinimalIdCount", &q->has_mids, &q->mids)) !=
		        S_OK)
			return st;
		return opt_rowset(p, "HasColumnsAndRows", &q->has_rows, &q->rows);
	}
	case MH_NSPI_GET_PROP_LIST: {
		mh_nspi_get_prop_list_resp *q = &r->u.get_prop_list;
		return opt_tags(p, "HasPropertyTags", &q->has_tags, &q->tags);
	}
	case MH_NSPI_GET_PROPS: {
		mh_nspi_get_props_resp *q = &r->u.get_props;
		if ((st = u32(p, "CodePage", &q->codepage)) != S_OK)
			return st;
		return opt_proplist(p, "HasPropertyValues", &q->has_values, &q->values);
	}
	case MH_NSPI_GET_SPECIAL_TABLE: {
		mh_nspi_get_special_table_resp *q = &r->u.get_special_table;
		size_t at;
		void *v = NULL;
		if ((st = u32(p, "CodePage", &q->codepage)) != S_OK ||
		    (st = opt_u32(p, "HasVersion", "Version", &q->has_version, &q->version)) !=
		        S_OK ||
		    (st = has(p, "HasRows", &q->has_rows)) != S_OK || !q->has_rows)
			return st;
		at = mh_cursor_offset(p->c);
		if ((st = u32(p, "RowsCount", &q->count)) != S_OK ||
		    (st = check_count(p, "RowsCount", at, q->count, 4)) != S_OK)
			return st;
		if (q->count > 0 &&
		    (st = mh_arena_array(p->a, q->count, sizeof(mh_nspi_proplist), &v)) != S_OK)
			return st;
		q->rows = v;
		for (uint32_t i = 0; i < q->count && st == S_OK; i++)
			st = proplist(p, &q->rows[i]);
		return st;
	}
	case MH_NSPI_GET_TEMPLATE_INFO: {
		mh_nspi_get_template_info_resp *q = &r->u.get_template_info;
		if ((st = u32(p, "CodePage", &q->codepage)) != S_OK)
			return st;
		return opt_proplist(p, "HasRow", &q->has_row, &q->row);
	}
	case MH_NSPI_QUERY_COLUMNS: {
		mh_nspi_query_columns_resp *q = &r->u.query_columns;
		return opt_tags(p, "HasColumns", &q->has_columns, &q->columns);
	}
	case MH_NSPI_QUERY_ROWS:
	case MH_NSPI_SEEK_ENTRIES: {
		mh_nspi_query_rows_resp *q = &r->u.query_rows;
		if ((st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK)
			return st;
		return opt_rowset(p, "HasColumnsAndRows", &q->has_rows, &q->rows);
	}
	case MH_NSPI_RESOLVE_NAMES: {
		mh_nspi_resolve_names_resp *q = &r->u.resolve_names;
		if ((st = u32(p, "CodePage", &q->codepage)) != S_OK ||
		    (st = opt_mids(p, "HasMinimalIds", "MinimalIdCount", &q->has_mids, &q->mids)) !=
		        S_OK)
			return st;
		return opt_rowset(p, "HasRowsAndCols", &q->has_rows, &q->rows);
	}
	case MH_NSPI_RESORT_RESTRICTION: {
		mh_nspi_resort_restriction_resp *q = &r->u.resort_restriction;
		if ((st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK)
			return st;
		return opt_mids(p, "HasMinimalIds", "MinimalIdCount", &q->has_mids, &q->mids);
	}
	case MH_NSPI_UPDATE_STAT: {
		mh_nspi_update_stat_resp *q = &r->u.update_stat;
		uint32_t d = 0;
		if ((st = opt_stat(p, "HasState", &q->has_state, &q->state)) != S_OK ||
		    (st = opt_u32(p, "HasDelta", "Delta", &q->has_delta, &d)) != S_OK)
			return st;
		q->delta = (int32_t)d;
		return S_OK;
	}
	case MH_NSPI_GET_MAILBOX_URL:
	case MH_NSPI_GET_ADDRESS_BOOK_URL:
		return wstr(p, "ServerUrl", &r->u.get_url.server_url);
	case MH_NSPI_KIND_COUNT:
		break;
	}
	return mh_error_set(MAPI_E_NO_SUPPORT, -1, "NSPI body kind %d is not supported", (int)kind);
}

mh_status mh_nspi_response_pull(mh_cursor *c, mh_arena *a, mh_nspi_kind kind, unsigned flags,
                                mh_nspi_response *out)
{
	pctx p;
	mh_status st;
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	if (mh_nspi_kind_name(kind) == NULL)
		return mh_error_set(MAPI_E_NO_SUPPORT, -1, "NSPI body kind %d is not supported",
		                    (int)kind);
	p.c = c;
	p.a = a;
	p.kind = mh_nspi_kind_name(kind);
	if ((st = u32(&p, "StatusCode", &out->status_code)) != S_OK)
		return st;
	if (out->status_code != 0) {
		/* Failure form: only StatusCode carries meaning. A server that writes
		 * the StatusCode twice (gromox's shared failure writer) or nothing
		 * after it still gives that status, as for EMSMDB (wire.md §3). */
		uint32_t n;
		if (!mh_cursor_peek_u32(c, &n) || n != mh_cursor_remaining(c) - 4) {
			return mh_cursor_seek(c, c->len, fld(&p, "StatusCode"));
		}
		return aux_end(&p, &out->aux);
	}
	if (kind == MH_NSPI_COMPARE_MIDS) {
		uint32_t first, second;
		if ((st = u32(&p, "ErrorCode", &first)) != S_OK ||
		    (st = u32(&p, "Result", &second)) != S_OK)
			return st;
		out->u.compare_mids.gromox_order = cmp_gromox_order(first, second, flags);
		out->error_code = out->u.compare_mids.gromox_order ? second : first;
		out->u.compare_mids.result =
		    (int32_t)(out->u.compare_mids.gromox_order ? first : second);
	} else if ((st = u32(&p, "ErrorCode", &out->error_code)) != S_OK ||
	           (st = response_fields(&p, kind, flags, out)) != S_OK) {
		return st;
	}
	return aux_end(&p, &out->aux);
}

/* ---- pushing -------------------------------------------------------------------------------- */

typedef struct wctx {
	mh_buf *b;
	const char *kind;
	uint8_t yes; /* the Has* byte for "present" */
} wctx;

static void bad(wctx *w, const char *field, const char *why)
{
	mh_buf_fail(w->b,
	            mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "%s.%s: %s", w->kind, field, why));
}

static void put_has(wctx *w, bool v)
{
	mh_buf_u8(w->b, v ? w->yes : 0);
}

void mh_nspi_stat_push(mh_buf *b, const mh_nspi_stat *s)
{
	mh_buf_u32(b, s->sort_type);
	mh_buf_u32(b, s->container_id);
	mh_buf_u32(b, s->cur_rec);
	mh_buf_u32(b, (uint32_t)s->delta);
	mh_buf_u32(b, s->num_pos);
	mh_buf_u32(b, s->total_recs);
	mh_buf_u32(b, s->codepage);
	mh_buf_u32(b, s->template_locale);
	mh_buf_u32(b, s->sort_locale);
}

static void put_opt_stat(wctx *w, bool present, const mh_nspi_stat *s)
{
	put_has(w, present);
	if (present)
		mh_nspi_stat_push(w->b, s);
}

static bool count_ok(wctx *w, const char *field, uint32_t count, const void *array)
{
	if (count > MH_NSPI_MAX_COUNT) {
		bad(w, field, "count above the limit of 100000");
		return false;
	}
	if (count > 0 && array == NULL) {
		bad(w, field, "count without an array");
		return false;
	}
	return true;
}

static void put_mids(wctx *w, const char *field, const mh_nspi_mids *m)
{
	if (!count_ok(w, field, m->count, m->mids))
		return;
	mh_buf_u32(w->b, m->count);
	for (uint32_t i = 0; i < m->count; i++)
		mh_buf_u32(w->b, m->mids[i]);
}

static void put_opt_mids(wctx *w, const char *field, bool present, const mh_nspi_mids *m)
{
	put_has(w, present);
	if (present)
		put_mids(w, field, m);
}

static void put_tags(wctx *w, const char *field, const SPropTagArray *t)
{
	if (t == NULL) {
		mh_buf_u32(w->b, 0);
		return;
	}
	if (t->cValues > MH_NSPI_MAX_COUNT) {
		bad(w, field, "more than 100000 property tags");
		return;
	}
	mh_pv_tags_push(w->b, 4, t);
}

static void put_opt_tags(wctx *w, const char *field, bool present, const SPropTagArray *t)
{
	put_has(w, present);
	if (present)
		put_tags(w, field, t);
}

static void put_wstr(wctx *w, const char *s)
{
	mh_buf_utf16z(w->b, s != NULL ? s : "");
}

static void put_str8(wctx *w, const char *s)
{
	mh_buf_str8z(w->b, s != NULL ? s : "");
}

static void put_strings(wctx *w, const char *field, bool wide, const mh_nspi_strings *s)
{
	if (!count_ok(w, field, s->count, s->values))
		return;
	mh_buf_u32(w->b, s->count);
	for (uint32_t i = 0; i < s->count; i++) {
		if (wide)
			put_wstr(w, s->values[i]);
		else
			put_str8(w, s->values[i]);
	}
}

static void put_rowset(wctx *w, const mh_nspi_rowset *rs)
{
	if (!count_ok(w, "RowCount", rs->count, rs->rows))
		return;
	if (rs->count > 0 && rs->columns == NULL) {
		bad(w, "Columns", "rows without columns");
		return;
	}
	put_tags(w, "Columns", rs->columns);
	mh_buf_u32(w->b, rs->count);
	for (uint32_t i = 0; i < rs->count; i++) {
		if (rs->rows[i].cValues != rs->columns->cValues) {
			bad(w, "RowData", "a row's value count differs from the column count");
			return;
		}
		mh_pv_row_push(w->b, MH_PV_NSPI, rs->columns, &rs->rows[i]);
	}
}

static void put_opt_rowset(wctx *w, bool present, const mh_nspi_rowset *rs)
{
	put_has(w, present);
	if (present)
		put_rowset(w, rs);
}

static void put_proplist(wctx *w, const char *field, const mh_nspi_proplist *pl)
{
	if (!count_ok(w, field, pl->count, pl->props))
		return;
	mh_pv_list_push(w->b, MH_PV_NSPI, 4, pl->count, pl->props);
}

static void put_opt_proplist(wctx *w, const char *field, bool present, const mh_nspi_proplist *pl)
{
	put_has(w, present);
	if (present)
		put_proplist(w, field, pl);
}

static void put_opt_u32(wctx *w, bool present, uint32_t v)
{
	put_has(w, present);
	if (present)
		mh_buf_u32(w->b, v);
}

static void put_aux(wctx *w, const mh_nspi_aux *aux)
{
	if (aux->cb > 0 && aux->data == NULL) {
		bad(w, "AuxiliaryBuffer", "size without bytes");
		return;
	}
	mh_buf_u32(w->b, aux->cb);
	if (aux->cb > 0)
		mh_buf_put(w->b, aux->data, aux->cb);
}

static void put_request(wctx *w, const mh_nspi_request *r)
{
	switch (r->kind) {
	case MH_NSPI_BIND:
		mh_buf_u32(w->b, r->u.bind.flags);
		put_opt_stat(w, r->u.bind.has_state, &r->u.bind.state);
		return;
	case MH_NSPI_UNBIND:
		mh_buf_u32(w->b, r->u.unbind.reserved);
		return;
	case MH_NSPI_COMPARE_MIDS: {
		const mh_nspi_compare_mids_req *q = &r->u.compare_mids;
		mh_buf_u32(w->b, q->reserved);
		put_opt_stat(w, q->has_state, &q->state);
		mh_buf_u32(w->b, q->mid1);
		mh_buf_u32(w->b, q->mid2);
		return;
	}
	case MH_NSPI_DN_TO_MID: {
		const mh_nspi_dn_to_mid_req *q = &r->u.dn_to_mid;
		mh_buf_u32(w->b, q->reserved);
		put_has(w, q->has_names);
		if (q->has_names)
			put_strings(w, "NameValues", false, &q->names);
		return;
	}
	case MH_NSPI_GET_MATCHES: {
		const mh_nspi_get_matches_req *q = &r->u.get_matches;
		mh_buf_u32(w->b, q->reserved);
		put_opt_stat(w, q->has_state, &q->state);
		put_opt_mids(w, "MinimalIds", q->has_mids, &q->mids);
		mh_buf_u32(w->b, q->reserved2);
		put_has(w, q->has_filter);
		if (q->has_filter && q->filter == NULL)
			bad(w, "Filter", "has_filter is set but filter is NULL");
		else if (q->has_filter)
			mh_restriction_push(w->b, MH_PV_NSPI, q->filter);
		put_has(w, q->has_prop_name);
		if (q->has_prop_name) {
			mh_buf_guid(w->b, &q->prop_guid);
			mh_buf_u32(w->b, q->prop_id);
		}
		mh_buf_u32(w->b, q->row_count);
		put_opt_tags(w, "Columns", q->has_columns, q->columns);
		return;
	}
	case MH_NSPI_GET_PROP_LIST:
		mh_buf_u32(w->b, r->u.get_prop_list.flags);
		mh_buf_u32(w->b, r->u.get_prop_list.mid);
		mh_buf_u32(w->b, r->u.get_prop_list.codepage);
		return;
	case MH_NSPI_GET_PROPS: {
		const mh_nspi_get_props_req *q = &r->u.get_props;
		mh_buf_u32(w->b, q->flags);
		put_opt_stat(w, q->has_state, &q->state);
		put_opt_tags(w, "PropertyTags", q->has_tags, q->tags);
		return;
	}
	case MH_NSPI_GET_SPECIAL_TABLE: {
		const mh_nspi_get_special_table_req *q = &r->u.get_special_table;
		mh_buf_u32(w->b, q->flags);
		put_opt_stat(w, q->has_state, &q->state);
		put_opt_u32(w, q->has_version, q->version);
		return;
	}
	case MH_NSPI_GET_TEMPLATE_INFO: {
		const mh_nspi_get_template_info_req *q = &r->u.get_template_info;
		mh_buf_u32(w->b, q->flags);
		mh_buf_u32(w->b, q->display_type);
		put_has(w, q->has_template_dn);
		if (q->has_template_dn)
			put_str8(w, q->template_dn);
		mh_buf_u32(w->b, q->codepage);
		mh_buf_u32(w->b, q->locale_id);
		return;
	}
	case MH_NSPI_MOD_PROPS: {
		const mh_nspi_mod_props_req *q = &r->u.mod_props;
		mh_buf_u32(w->b, q->reserved);
		put_opt_stat(w, q->has_state, &q->state);
		put_opt_tags(w, "PropertyTagsToRemove", q->has_tags_to_remove, q->tags_to_remove);
		put_opt_proplist(w, "PropertyValues", q->has_values, &q->values);
		return;
	}
	case MH_NSPI_MOD_LINK_ATT: {
		const mh_nspi_mod_link_att_req *q = &r->u.mod_link_att;
		mh_buf_u32(w->b, q->flags);
		mh_buf_u32(w->b, q->prop_tag);
		mh_buf_u32(w->b, q->mid);
		put_has(w, q->has_entry_ids);
		if (!q->has_entry_ids || !count_ok(w, "EntryIds", q->count, q->entry_ids))
			return;
		mh_buf_u32(w->b, q->count);
		for (uint32_t i = 0; i < q->count; i++) {
			const SBinary *e = &q->entry_ids[i];
			if (e->cb > MH_NSPI_MAX_ENTRYID_BYTES || (e->cb > 0 && e->lpb == NULL)) {
				bad(w, "EntryIds", "an EntryID over 65536 bytes or without bytes");
				return;
			}
			mh_buf_u32(w->b, e->cb);
			if (e->cb > 0)
				mh_buf_put(w->b, e->lpb, e->cb);
		}
		return;
	}
	case MH_NSPI_QUERY_COLUMNS:
		mh_buf_u32(w->b, r->u.query_columns.reserved);
		mh_buf_u32(w->b, r->u.query_columns.flags);
		return;
	case MH_NSPI_QUERY_ROWS: {
		const mh_nspi_query_rows_req *q = &r->u.query_rows;
		mh_buf_u32(w->b, q->flags);
		put_opt_stat(w, q->has_state, &q->state);
		put_mids(w, "ExplicitTable", &q->explicit_table);
		mh_buf_u32(w->b, q->row_count);
		put_opt_tags(w, "Columns", q->has_columns, q->columns);
		return;
	}
	case MH_NSPI_RESOLVE_NAMES: {
		const mh_nspi_resolve_names_req *q = &r->u.resolve_names;
		mh_buf_u32(w->b, q->reserved);
		put_opt_stat(w, q->has_state, &q->state);
		put_opt_tags(w, "PropertyTags", q->has_tags, q->tags);
		put_has(w, q->has_names);
		if (q->has_names)
			put_strings(w, "NameValues", true, &q->names);
		return;
	}
	case MH_NSPI_RESORT_RESTRICTION: {
		const mh_nspi_resort_restriction_req *q = &r->u.resort_restriction;
		mh_buf_u32(w->b, q->reserved);
		put_opt_stat(w, q->has_state, &q->state);
		put_opt_mids(w, "MinimalIds", q->has_mids, &q->mids);
		return;
	}
	case MH_NSPI_SEEK_ENTRIES: {
		const mh_nspi_seek_entries_req *q = &r->u.seek_entries;
		mh_buf_u32(w->b, q->reserved);
		put_opt_stat(w, q->has_state, &q->state);
		put_has(w, q->has_target);
		if (q->has_target)
			mh_pv_tagged_push(w->b, MH_PV_NSPI, &q->target);
		put_opt_mids(w, "ExplicitTable", q->has_explicit_table, &q->explicit_table);
		put_opt_tags(w, "Columns", q->has_columns, q->columns);
		return;
	}
	case MH_NSPI_UPDATE_STAT: {
		const mh_nspi_update_stat_req *q = &r->u.update_stat;
		mh_buf_u32(w->b, q->reserved);
		put_opt_stat(w, q->has_state, &q->state);
		mh_buf_u8(w->b, q->delta_requested);
		return;
	}
	case MH_NSPI_GET_MAILBOX_URL:
	case MH_NSPI_GET_ADDRESS_BOOK_URL:
		mh_buf_u32(w->b, r->u.get_url.flags);
		put_wstr(w, r->u.get_url.dn);
		return;
	case MH_NSPI_KIND_COUNT:
		break;
	}
}

mh_status mh_nspi_request_push(mh_buf *b, const mh_nspi_request *req)
{
	wctx w = {b, mh_nspi_kind_name(req->kind), 0x01};
	if (w.kind == NULL)
		return mh_buf_fail(b, mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                                   "NSPI body kind %d is invalid", (int)req->kind));
	put_request(&w, req);
	put_aux(&w, &req->aux);
	return mh_buf_status(b);
}

static void put_response(wctx *w, const mh_nspi_response *r)
{
	switch (r->kind) {
	case MH_NSPI_BIND:
		mh_buf_guid(w->b, &r->u.bind.server_guid);
		return;
	case MH_NSPI_UNBIND:
	case MH_NSPI_MOD_PROPS:
	case MH_NSPI_MOD_LINK_ATT:
	case MH_NSPI_COMPARE_MIDS: /* written by mh_nspi_response_push */
		return;
	case MH_NSPI_DN_TO_MID:
		put_opt_mids(w, "MinimalIds", r->u.dn_to_mid.has_mids, &r->u.dn_to_mid.mids);
		return;
	case MH_NSPI_GET_MATCHES: {
		const mh_nspi_get_matches_resp *q = &r->u.get_matches;
		put_opt_stat(w, q->has_state, &q->state);
		put_opt_mids(w, "MinimalIds", q->has_mids, &q->mids);
		put_opt_rowset(w, q->has_rows, &q->rows);
		return;
	}
	case MH_NSPI_GET_PROP_LIST:
		put_opt_tags(w, "PropertyTags", r->u.get_prop_list.has_tags,
		             r->u.get_prop_list.tags);
		return;
	case MH_NSPI_GET_PROPS: {
		const mh_nspi_get_props_resp *q = &r->u.get_props;
		mh_buf_u32(w->b, q->codepage);
		put_opt_proplist(w, "PropertyValues", q->has_values, &q->values);
		return;
	}
	case MH_NSPI_GET_SPECIAL_TABLE: {
		const mh_nspi_get_special_table_resp *q = &r->u.get_special_table;
		mh_buf_u32(w->b, q->codepage);
		put_opt_u32(w, q->has_version, q->version);
		put_has(w, q->has_rows);
		if (!q->has_rows || !count_ok(w, "RowsCount", q->count, q->rows))
			return;
		mh_buf_u32(w->b, q->count);
		for (uint32_t i = 0; i < q->count; i++)
			put_proplist(w, "Rows", &q->rows[i]);
		return;
	}
	case MH_NSPI_GET_TEMPLATE_INFO: {
		const mh_nspi_get_template_info_resp *q = &r->u.get_template_info;
		mh_buf_u32(w->b, q->codepage);
		put_opt_proplist(w, "Row", q->has_row, &q->row);
		return;
	}
	case MH_NSPI_QUERY_COLUMNS:
		put_opt_tags(w, "Columns", r->u.query_columns.has_columns,
		             r->u.query_columns.columns);
		return;
	case MH_NSPI_QUERY_ROWS:
	case MH_NSPI_SEEK_ENTRIES: {
		const mh_nspi_query_rows_resp *q = &r->u.query_rows;
		put_opt_stat(w, q->has_state, &q->state);
		put_opt_rowset(w, q->has_rows, &q->rows);
		return;
	}
	case MH_NSPI_RESOLVE_NAMES: {
		const mh_nspi_resolve_names_resp *q = &r->u.resolve_names;
		mh_buf_u32(w->b, q->codepage);
		put_opt_mids(w, "MinimalIds", q->has_mids, &q->mids);
		put_opt_rowset(w, q->has_rows, &q->rows);
		return;
	}
	case MH_NSPI_RESORT_RESTRICTION: {
		const mh_nspi_resort_restriction_resp *q = &r->u.resort_restriction;
		put_opt_stat(w, q->has_state, &q->state);
		put_opt_mids(w, "MinimalIds", q->has_mids, &q->mids);
		return;
	}
	case MH_NSPI_UPDATE_STAT: {
		const mh_nspi_update_stat_resp *q = &r->u.update_stat;
		put_opt_stat(w, q->has_state, &q->state);
		put_opt_u32(w, q->has_delta, (uint32_t)q->delta);
		return;
	}
	case MH_NSPI_GET_MAILBOX_URL:
	case MH_NSPI_GET_ADDRESS_BOOK_URL:
		put_wstr(w, r->u.get_url.server_url);
		return;
	case MH_NSPI_KIND_COUNT:
		break;
	}
}

mh_status mh_nspi_response_push(mh_buf *b, const mh_nspi_response *resp)
{
	wctx w = {b, mh_nspi_kind_name(resp->kind), 0xFF};
	if (w.kind == NULL)
		return mh_buf_fail(b,
		                   mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                                "NSPI body kind %d is invalid", (int)resp->kind));
	mh_buf_u32(b, resp->status_code);
	if (resp->status_code == 0) {
		if (resp->kind == MH_NSPI_COMPARE_MIDS && resp->u.compare_mids.gromox_order) {
			mh_buf_u32(b, (uint32_t)resp->u.compare_mids.result);
			mh_buf_u32(b, resp->error_code);
		} else {
			mh_buf_u32(b, resp->error_code);
			if (resp->kind == MH_NSPI_COMPARE_MIDS)
				mh_buf_u32(b, (uint32_t)resp->u.compare_mids.result);
		}
		put_response(&w, resp);
	}
	put_aux(&w, &resp->aux);
	return mh_buf_status(b);
}
