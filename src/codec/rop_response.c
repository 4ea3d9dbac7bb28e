/*
 * ROP responses: one pull and one push case per RopId ([MS-OXCROPS] 2.2.3-
 * 2.2.10, 2.2.15; wire.md §4.4-§4.6, §5). A response starts RopId, the
 * echoed index byte and ReturnValue; on failure nothing follows except where
 * the specification says otherwise (RopLogon redirect, RopReadStream).
 */
#include <string.h>

#include "codec/rop_internal.h"
#include "util/diag.h"

/* The rest of the cursor, copied into a. */
static mh_status rest_pull(mh_cursor *c, mh_arena *a, SBinary *out, const char *field)
{
	const uint8_t *p;
	size_t n = mh_cursor_remaining(c);
	void *copy = NULL;
	ROP_TRY(mh_cursor_bytes(c, n, &p, field));
	ROP_TRY(mh_arena_memdup(a, p, n, &copy));
	out->cb = (uint32_t)n;
	out->lpb = copy;
	return S_OK;
}

static mh_status typed_string_pull(mh_cursor *c, mh_arena *a, mh_rop_typed_string *ts,
                                   const char *field)
{
	ROP_TRY(mh_cursor_u8(c, &ts->type, field));
	switch (ts->type) {
	case MH_TYPED_STRING_NONE:
	case MH_TYPED_STRING_EMPTY:
		ts->value = NULL;
		return S_OK;
	case MH_TYPED_STRING_8BIT:
	case MH_TYPED_STRING_REDUCED:
		return mh_rop_str8_pull(c, a, &ts->value, field);
	case MH_TYPED_STRING_UNICODE: {
		union _PV v;
		memset(&v, 0, sizeof(v));
		ROP_TRY(mh_pv_value_pull(c, a, MH_PV_ROP, PT_UNICODE, &v, NULL));
		ts->value = v.lpszW;
		return S_OK;
	}
	default:
		c->pos--;
		return mh_cursor_fail(c, "%s at byte %zu has unknown StringType 0x%02X", field,
		                      mh_cursor_offset(c), ts->type);
	}
}

static void typed_string_push(mh_buf *b, const mh_rop_typed_string *ts)
{
	mh_buf_u8(b, ts->type);
	switch (ts->type) {
	case MH_TYPED_STRING_8BIT:
	case MH_TYPED_STRING_REDUCED:
		mh_buf_str8z(b, ts->value != NULL ? ts->value : "");
		break;
	case MH_TYPED_STRING_UNICODE:
		mh_buf_utf16z(b, ts->value != NULL ? ts->value : "");
		break;
	case MH_TYPED_STRING_NONE:
	case MH_TYPED_STRING_EMPTY:
		break;
	default:
		mh_buf_fail(b, MAPI_E_INVALID_PARAMETER);
		break;
	}
}

/* n recipient rows; with_row_id for ReadRecipientRow (RopReadRecipients). */
static mh_status recipient_rows_pull(mh_cursor *c, mh_arena *a, uint8_t n, bool with_row_id,
                                     mh_rop_recipient_row **out)
{
	size_t min = with_row_id ? 11 : 7;
	void *p;
	if ((size_t)n * min > mh_cursor_remaining(c))
		return mh_cursor_fail(
		    c, "RowCount %u needs at least %zu bytes at byte %zu, %zu remain", n,
		    (size_t)n * min, mh_cursor_offset(c), mh_cursor_remaining(c));
	ROP_TRY(mh_arena_array(a, n, sizeof(mh_rop_recipient_row), &p));
	*out = p;
	for (unsigned i = 0; i < n; i++) {
		mh_rop_recipient_row *r = &(*out)[i];
		if (with_row_id)
			ROP_TRY(mh_cursor_u32(c, &r->row_id, "ReadRecipientRow.RowId"));
		ROP_TRY(mh_cursor_u8(c, &r->recipient_type, "RecipientRow.RecipientType"));
		ROP_TRY(mh_cursor_u16(c, &r->code_page_id, "RecipientRow.CodePageId"));
		ROP_TRY(mh_cursor_u16(c, &r->reserved, "RecipientRow.Reserved"));
		ROP_TRY(mh_rop_bin16_pull(c, a, &r->row, "RecipientRow.RecipientRowSize"));
	}
	return S_OK;
}

static void recipient_rows_push(mh_buf *b, uint8_t n, bool with_row_id,
                                const mh_rop_recipient_row *rows)
{
	for (unsigned i = 0; i < n; i++) {
		if (with_row_id)
			mh_buf_u32(b, rows[i].row_id);
		mh_buf_u8(b, rows[i].recipient_type);
		mh_buf_u16(b, rows[i].code_page_id);
		mh_buf_u16(b, rows[i].reserved);
		mh_rop_bin16_push(b, &rows[i].row);
	}
}

static mh_status logon_pull(mh_cursor *c, mh_arena *a, const mh_rop_request *req,
                            mh_rop_response *r)
{
	if (r->return_value == ecWrongServer) {
		uint8_t size;
		ROP_TRY(mh_cursor_u8(c, &r->u.logon.logon_flags, "RopLogon.LogonFlags"));
		ROP_TRY(mh_cursor_u8(c, &size, "RopLogon.ServerNameSize"));
		return mh_rop_sized_str8_pull(c, a, size, &r->u.logon.server_name,
		                              "RopLogon.ServerName");
	}
	if (r->return_value != S_OK)
		return S_OK;
	ROP_TRY(mh_cursor_u8(c, &r->u.logon.logon_flags, "RopLogon.LogonFlags"));
	/* The request decides the layout; its echo in LogonFlags is the fallback. */
	uint8_t flags = req != NULL ? req->u.logon.logon_flags : r->u.logon.logon_flags;
	r->u.logon.is_private = (flags & MH_LOGON_FLAG_PRIVATE) != 0;
	for (unsigned i = 0; i < MH_LOGON_FID_COUNT; i++)
		ROP_TRY(mh_cursor_u64(c, &r->u.logon.folder_ids[i], "RopLogon.FolderIds"));
	if (!r->u.logon.is_private) {
		ROP_TRY(mh_cursor_u16(c, &r->u.logon.repl_id, "RopLogon.ReplId"));
		ROP_TRY(mh_cursor_guid(c, &r->u.logon.repl_guid, "RopLogon.ReplGuid"));
		return mh_cursor_guid(c, &r->u.logon.per_user_guid, "RopLogon.PerUserGuid");
	}
	mh_rop_logon_time *t = &r->u.logon.logon_time;
	ROP_TRY(mh_cursor_u8(c, &r->u.logon.response_flags, "RopLogon.ResponseFlags"));
	ROP_TRY(mh_cursor_guid(c, &r->u.logon.mailbox_guid, "RopLogon.MailboxGuid"));
	ROP_TRY(mh_cursor_u16(c, &r->u.logon.repl_id, "RopLogon.ReplId"));
	ROP_TRY(mh_cursor_guid(c, &r->u.logon.repl_guid, "RopLogon.ReplGuid"));
	ROP_TRY(mh_cursor_u8(c, &t->seconds, "RopLogon.LogonTime.Seconds"));
	ROP_TRY(mh_cursor_u8(c, &t->minutes, "RopLogon.LogonTime.Minutes"));
	ROP_TRY(mh_cursor_u8(c, &t->hour, "RopLogon.LogonTime.Hour"));
	ROP_TRY(mh_cursor_u8(c, &t->day_of_week, "RopLogon.LogonTime.DayOfWeek"));
	ROP_TRY(mh_cursor_u8(c, &t->day, "RopLogon.LogonTime.Day"));
	ROP_TRY(mh_cursor_u8(c, &t->month, "RopLogon.LogonTime.Month"));
	ROP_TRY(mh_cursor_u16(c, &t->year, "RopLogon.LogonTime.Year"));
	ROP_TRY(mh_cursor_u64(c, &r->u.logon.gwart_time, "RopLogon.GwartTime"));
	return mh_cursor_u32(c, &r->u.logon.store_state, "RopLogon.StoreState");
}

static void logon_push(mh_buf *b, const mh_rop_response *r)
{
	if (r->return_value == ecWrongServer) {
		mh_buf_u8(b, r->u.logon.logon_flags);
		mh_rop_sized_str8_push(b, r->u.logon.server_name, 1);
		return;
	}
	if (r->return_value != S_OK)
		return;
	mh_buf_u8(b, r->u.logon.logon_flags);
	for (unsigned i = 0; i < MH_LOGON_FID_COUNT; i++)
		mh_buf_u64(b, r->u.logon.folder_ids[i]);
	if (!r->u.logon.is_private) {
		mh_buf_u16(b, r->u.logon.repl_id);
		mh_buf_guid(b, &r->u.logon.repl_guid);
		mh_buf_guid(b, &r->u.logon.per_user_guid);
		return;
	}
	const mh_rop_logon_time *t = &r->u.logon.logon_time;
	mh_buf_u8(b, r->u.logon.response_flags);
	mh_buf_guid(b, &r->u.logon.mailbox_guid);
	mh_buf_u16(b, r->u.logon.repl_id);
	mh_buf_guid(b, &r->u.logon.repl_guid);
	mh_buf_u8(b, t->seconds);
	mh_buf_u8(b, t->minutes);
	mh_buf_u8(b, t->hour);
	mh_buf_u8(b, t->day_of_week);
	mh_buf_u8(b, t->day);
	mh_buf_u8(b, t->month);
	mh_buf_u16(b, t->year);
	mh_buf_u64(b, r->u.logon.gwart_time);
	mh_buf_u32(b, r->u.logon.store_state);
}

mh_status mh_rop_rows_decode(mh_arena *a, const SBinary *raw, uint16_t row_count,
                             const SPropTagArray *cols, mh_prop_row **rows, size_t *consumed)
{
	mh_cursor c;
	void *p;
	mh_cursor_init(&c, raw->lpb, raw->cb, MAPI_E_CORRUPT_DATA);
	*rows = NULL;
	*consumed = 0;
	/* Every row takes at least its flag byte. */
	if (row_count > mh_cursor_remaining(&c))
		return mh_cursor_fail(&c, "RowCount %u needs at least %u bytes, %zu remain",
		                      row_count, row_count, mh_cursor_remaining(&c));
	ROP_TRY(mh_arena_array(a, row_count, sizeof(mh_prop_row), &p));
	for (unsigned i = 0; i < row_count; i++)
		ROP_TRY(mh_pv_row_pull(&c, a, MH_PV_ROP, cols, &((mh_prop_row *)p)[i]));
	*rows = p;
	*consumed = c.pos;
	return S_OK;
}

/* row_count PropertyRows over cols at c. */
static mh_status rows_pull(mh_cursor *c, mh_arena *a, uint16_t row_count, const SPropTagArray *cols,
                           mh_prop_row **rows)
{
	void *p;
	if (row_count > mh_cursor_remaining(c))
		return mh_cursor_fail(c,
		                      "RopQueryRows.RowCount %u needs at least %u bytes at byte "
		                      "%zu, %zu remain",
		                      row_count, row_count, mh_cursor_offset(c),
		                      mh_cursor_remaining(c));
	ROP_TRY(mh_arena_array(a, row_count, sizeof(mh_prop_row), &p));
	*rows = p;
	for (unsigned i = 0; i < row_count; i++)
		ROP_TRY(mh_pv_row_pull(c, a, MH_PV_ROP, cols, &(*rows)[i]));
	return S_OK;
}

static mh_status response_body_pull(mh_cursor *c, mh_arena *a, const mh_rop_response_hint *hint,
                                    mh_rop_response *r)
{
	const mh_rop_request *req = hint != NULL ? hint->request : NULL;
	if (req != NULL && req->rop_id != r->rop_id)
		req = NULL;
	switch (r->rop_id) {
	case MH_ROP_LOGON:
		return logon_pull(c, a, req, r);
	case MH_ROP_READ_STREAM:
		/* DataSize and Data are there whatever ReturnValue says. */
		return mh_rop_bin16_pull(c, a, &r->u.read_stream.data, "RopReadStream.DataSize");
	default:
		break;
	}
	if (r->return_value != S_OK)
		return S_OK;
	switch (r->rop_id) {
	case MH_ROP_OPEN_FOLDER: {
		uint16_t n;
		void *p;
		ROP_TRY(mh_cursor_u8(c, &r->u.open_folder.has_rules, "RopOpenFolder.HasRules"));
		ROP_TRY(mh_cursor_u8(c, &r->u.open_folder.is_ghosted, "RopOpenFolder.IsGhosted"));
		if (r->u.open_folder.is_ghosted == 0)
			return S_OK;
		ROP_TRY(mh_cursor_u16(c, &n, "RopOpenFolder.ServerCount"));
		ROP_TRY(mh_cursor_u16(c, &r->u.open_folder.cheap_server_count,
		                      "RopOpenFolder.CheapServerCount"));
		if (n > mh_cursor_remaining(c))
			return mh_cursor_fail(
			    c,
			    "RopOpenFolder.ServerCount %u needs at least %u bytes "
			    "at byte %zu, %zu remain",
			    n, n, mh_cursor_offset(c), mh_cursor_remaining(c));
		r->u.open_folder.server_count = n;
		ROP_TRY(mh_arena_array(a, n, sizeof(char *), &p));
		r->u.open_folder.servers = p;
		for (unsigned i = 0; i < n; i++)
			ROP_TRY(mh_rop_str8_pull(c, a, &r->u.open_folder.servers[i],
			                         "RopOpenFolder.Servers"));
		return S_OK;
	}
	case MH_ROP_OPEN_MESSAGE:
		ROP_TRY(mh_cursor_u8(c, &r->u.open_message.has_named_properties,
		                     "RopOpenMessage.HasNamedProperties"));
		ROP_TRY(typed_string_pull(c, a, &r->u.open_message.subject_prefix,
		                          "RopOpenMessage.SubjectPrefix"));
		ROP_TRY(typed_string_pull(c, a, &r->u.open_message.normalized_subject,
		                          "RopOpenMessage.NormalizedSubject"));
		ROP_TRY(mh_cursor_u16(c, &r->u.open_message.recipient_count,
		                      "RopOpenMessage.RecipientCount"));
		ROP_TRY(mh_pv_tags_pull(c, a, 2, 0xFFFF, &r->u.open_message.recipient_columns));
		ROP_TRY(mh_cursor_u8(c, &r->u.open_message.row_count, "RopOpenMessage.RowCount"));
		return recipient_rows_pull(c, a, r->u.open_message.row_count, false,
		                           &r->u.open_message.rows);
	case MH_ROP_GET_HIERARCHY_TABLE:
	case MH_ROP_GET_CONTENTS_TABLE:
		return mh_cursor_u32(c, &r->u.get_table.row_count, "RowCount");
	case MH_ROP_GET_PROPERTIES_SPECIFIC:
		if (req == NULL || req->u.get_props_specific.tags == NULL)
			return rest_pull(c, a, &r->u.get_props_specific.raw,
			                 "RopGetPropertiesSpecific.RowData");
		ROP_TRY(mh_rop_tags_dup(a, req->u.get_props_specific.tags,
		                        &r->u.get_props_specific.columns));
		return mh_pv_row_pull(c, a, MH_PV_ROP, r->u.get_props_specific.columns,
		                      &r->u.get_props_specific.row);
	case MH_ROP_GET_PROPERTIES_ALL: {
		uint32_t n = 0;
		ROP_TRY(mh_pv_list_pull(c, a, MH_PV_ROP, 2, &n, &r->u.get_props_all.props));
		r->u.get_props_all.count = (uint16_t)n;
		return S_OK;
	}
	case MH_ROP_GET_PROPERTIES_LIST:
	case MH_ROP_QUERY_COLUMNS_ALL:
		return mh_pv_tags_pull(c, a, 2, 0xFFFF, &r->u.prop_list.tags);
	case MH_ROP_READ_RECIPIENTS:
		ROP_TRY(
		    mh_cursor_u8(c, &r->u.read_recipients.row_count, "RopReadRecipients.RowCount"));
		return recipient_rows_pull(c, a, r->u.read_recipients.row_count, true,
		                           &r->u.read_recipients.rows);
	case MH_ROP_SET_COLUMNS:
	case MH_ROP_SORT_TABLE:
		return mh_cursor_u8(c, &r->u.table_status.table_status, "TableStatus");
	case MH_ROP_QUERY_ROWS: {
		const SPropTagArray *cols = hint != NULL ? hint->columns : NULL;
		ROP_TRY(mh_cursor_u8(c, &r->u.query_rows.origin, "RopQueryRows.Origin"));
		ROP_TRY(mh_cursor_u16(c, &r->u.query_rows.row_count, "RopQueryRows.RowCount"));
		if (cols == NULL)
			return rest_pull(c, a, &r->u.query_rows.raw, "RopQueryRows.RowData");
		ROP_TRY(mh_rop_tags_dup(a, cols, &r->u.query_rows.columns));
		return rows_pull(c, a, r->u.query_rows.row_count, r->u.query_rows.columns,
		                 &r->u.query_rows.rows);
	}
	case MH_ROP_SEEK_ROW: {
		uint32_t n;
		ROP_TRY(
		    mh_cursor_u8(c, &r->u.seek_row.has_sought_less, "RopSeekRow.HasSoughtLess"));
		ROP_TRY(mh_cursor_u32(c, &n, "RopSeekRow.RowsSought"));
		r->u.seek_row.rows_sought = (int32_t)n;
		return S_OK;
	}
	case MH_ROP_GET_RECEIVE_FOLDER:
		ROP_TRY(mh_cursor_u64(c, &r->u.get_receive_folder.folder_id,
		                      "RopGetReceiveFolder.FolderId"));
		return mh_rop_str8_pull(c, a, &r->u.get_receive_folder.explicit_message_class,
		                        "RopGetReceiveFolder.ExplicitMessageClass");
	case MH_ROP_OPEN_STREAM:
		return mh_cursor_u32(c, &r->u.open_stream.stream_size, "RopOpenStream.StreamSize");
	case MH_ROP_LONG_TERM_ID_FROM_ID:
		return mh_long_term_id_pull(c, &r->u.long_term_id_from_id.long_term_id);
	case MH_ROP_ID_FROM_LONG_TERM_ID:
		return mh_cursor_u64(c, &r->u.id_from_long_term_id.object_id,
		                     "RopIdFromLongTermId.ObjectId");
	default: /* GetPermissionsTable, GetRulesTable, GetAttachmentTable, ResetTable */
		return S_OK;
	}
}

/* The three responses without the generic header (wire.md §4.5, §4.6). */
static mh_status special_pull(mh_cursor *c, mh_arena *a, mh_rop_response *r)
{
	switch (r->rop_id) {
	case MH_ROP_BUFFER_TOO_SMALL:
		ROP_TRY(mh_cursor_u16(c, &r->u.buffer_too_small.size_needed,
		                      "RopBufferTooSmall.SizeNeeded"));
		return rest_pull(c, a, &r->u.buffer_too_small.request_buffers,
		                 "RopBufferTooSmall.RequestBuffers");
	case MH_ROP_BACKOFF: {
		uint8_t n;
		void *p;
		ROP_TRY(mh_cursor_u8(c, &r->u.backoff.logon_id, "RopBackoff.LogonId"));
		ROP_TRY(mh_cursor_u32(c, &r->u.backoff.duration, "RopBackoff.Duration"));
		ROP_TRY(mh_cursor_u8(c, &n, "RopBackoff.BackoffRopCount"));
		if ((size_t)n * 5 > mh_cursor_remaining(c))
			return mh_cursor_fail(
			    c,
			    "RopBackoff.BackoffRopCount %u needs %u bytes at byte "
			    "%zu, %zu remain",
			    n, n * 5u, mh_cursor_offset(c), mh_cursor_remaining(c));
		r->u.backoff.rop_count = n;
		ROP_TRY(mh_arena_array(a, n, sizeof(mh_rop_backoff_rop), &p));
		r->u.backoff.rops = p;
		for (unsigned i = 0; i < n; i++) {
			ROP_TRY(mh_cursor_u8(c, &r->u.backoff.rops[i].rop_id,
			                     "RopBackoff.BackoffRopData.RopIdBackoff"));
			ROP_TRY(mh_cursor_u32(c, &r->u.backoff.rops[i].duration,
			                      "RopBackoff.BackoffRopData.Duration"));
		}
		return mh_rop_bin16_pull(c, a, &r->u.backoff.additional_data,
		                         "RopBackoff.AdditionalDataSize");
	}
	default: /* MH_ROP_PENDING */
		return mh_cursor_u16(c, &r->u.pending.session_index, "RopPending.SessionIndex");
	}
}

mh_status mh_rop_response_pull(mh_cursor *c, mh_arena *a, const mh_rop_response_hint *hint,
                               mh_rop_response *out)
{
	size_t start = c->pos;
	uint8_t id;
	memset(out, 0, sizeof(*out));
	ROP_TRY(mh_cursor_u8(c, &id, "RopId"));
	out->rop_id = id;
	if (id == MH_ROP_RELEASE || (!mh_rop_request_known(id) && MH_ROP_HAS_GENERIC_HEADER(id))) {
		c->pos = start;
		return mh_cursor_fail(c, "unknown ROP response id 0x%02X at byte %zu%s", id,
		                      mh_cursor_offset(c),
		                      id == MH_ROP_RELEASE ? " (RopRelease has no response)" : "");
	}
	ROP_TRY(mh_cursor_enter(c, mh_rop_name(id)));
	mh_status st;
	if (!MH_ROP_HAS_GENERIC_HEADER(id)) {
		st = special_pull(c, a, out);
	} else {
		uint32_t rv;
		st = mh_cursor_u8(c, &out->handle_index, "HandleIndex");
		if (st == S_OK)
			st = mh_cursor_u32(c, &rv, "ReturnValue");
		if (st == S_OK) {
			out->return_value = (mh_status)rv;
			st = response_body_pull(c, a, hint, out);
		}
	}
	mh_cursor_leave(c);
	return st;
}

static void props_row_push(mh_buf *b, const SPropTagArray *cols, const mh_prop_row *row)
{
	if (row->cValues != cols->cValues) {
		mh_buf_fail(b, MAPI_E_INVALID_PARAMETER);
		return;
	}
	mh_pv_row_push(b, MH_PV_ROP, cols, row);
}

static void raw_push(mh_buf *b, const SBinary *raw)
{
	if (raw->cb > 0)
		mh_buf_put(b, raw->lpb, raw->cb);
}

static void response_body_push(mh_buf *b, const mh_rop_response *r)
{
	switch (r->rop_id) {
	case MH_ROP_LOGON:
		logon_push(b, r);
		return;
	case MH_ROP_READ_STREAM:
		mh_rop_bin16_push(b, &r->u.read_stream.data);
		return;
	default:
		break;
	}
	if (r->return_value != S_OK)
		return;
	switch (r->rop_id) {
	case MH_ROP_OPEN_FOLDER:
		mh_buf_u8(b, r->u.open_folder.has_rules);
		mh_buf_u8(b, r->u.open_folder.is_ghosted);
		if (r->u.open_folder.is_ghosted == 0)
			break;
		mh_buf_u16(b, r->u.open_folder.server_count);
		mh_buf_u16(b, r->u.open_folder.cheap_server_count);
		for (unsigned i = 0; i < r->u.open_folder.server_count; i++)
			mh_buf_str8z(b, r->u.open_folder.servers[i]);
		break;
	case MH_ROP_OPEN_MESSAGE:
		mh_buf_u8(b, r->u.open_message.has_named_properties);
		typed_string_push(b, &r->u.open_message.subject_prefix);
		typed_string_push(b, &r->u.open_message.normalized_subject);
		mh_buf_u16(b, r->u.open_message.recipient_count);
		mh_rop_tags_push(b, r->u.open_message.recipient_columns);
		mh_buf_u8(b, r->u.open_message.row_count);
		recipient_rows_push(b, r->u.open_message.row_count, false, r->u.open_message.rows);
		break;
	case MH_ROP_GET_HIERARCHY_TABLE:
	case MH_ROP_GET_CONTENTS_TABLE:
		mh_buf_u32(b, r->u.get_table.row_count);
		break;
	case MH_ROP_GET_PROPERTIES_SPECIFIC:
		if (r->u.get_props_specific.columns != NULL)
			props_row_push(b, r->u.get_props_specific.columns,
			               &r->u.get_props_specific.row);
		else
			raw_push(b, &r->u.get_props_specific.raw);
		break;
	case MH_ROP_GET_PROPERTIES_ALL:
		mh_pv_list_push(b, MH_PV_ROP, 2, r->u.get_props_all.count,
		                r->u.get_props_all.props);
		break;
	case MH_ROP_GET_PROPERTIES_LIST:
	case MH_ROP_QUERY_COLUMNS_ALL:
		mh_rop_tags_push(b, r->u.prop_list.tags);
		break;
	case MH_ROP_READ_RECIPIENTS:
		mh_buf_u8(b, r->u.read_recipients.row_count);
		recipient_rows_push(b, r->u.read_recipients.row_count, true,
		                    r->u.read_recipients.rows);
		break;
	case MH_ROP_SET_COLUMNS:
	case MH_ROP_SORT_TABLE:
		mh_buf_u8(b, r->u.table_status.table_status);
		break;
	case MH_ROP_QUERY_ROWS:
		mh_buf_u8(b, r->u.query_rows.origin);
		mh_buf_u16(b, r->u.query_rows.row_count);
		if (r->u.query_rows.columns == NULL) {
			raw_push(b, &r->u.query_rows.raw);
			break;
		}
		for (unsigned i = 0; i < r->u.query_rows.row_count; i++)
			props_row_push(b, r->u.query_rows.columns, &r->u.query_rows.rows[i]);
		break;
	case MH_ROP_SEEK_ROW:
		mh_buf_u8(b, r->u.seek_row.has_sought_less);
		mh_buf_u32(b, (uint32_t)r->u.seek_row.rows_sought);
		break;
	case MH_ROP_GET_RECEIVE_FOLDER:
		mh_buf_u64(b, r->u.get_receive_folder.folder_id);
		mh_buf_str8z(b, r->u.get_receive_folder.explicit_message_class != NULL
		                    ? r->u.get_receive_folder.explicit_message_class
		                    : "");
		break;
	case MH_ROP_OPEN_STREAM:
		mh_buf_u32(b, r->u.open_stream.stream_size);
		break;
	case MH_ROP_LONG_TERM_ID_FROM_ID:
		mh_long_term_id_push(b, &r->u.long_term_id_from_id.long_term_id);
		break;
	case MH_ROP_ID_FROM_LONG_TERM_ID:
		mh_buf_u64(b, r->u.id_from_long_term_id.object_id);
		break;
	default:
		break;
	}
}

void mh_rop_response_push(mh_buf *b, const mh_rop_response *r)
{
	uint8_t id = r->rop_id;
	if (id == MH_ROP_RELEASE || (!mh_rop_request_known(id) && MH_ROP_HAS_GENERIC_HEADER(id))) {
		mh_buf_fail(b, MAPI_E_INVALID_PARAMETER);
		return;
	}
	mh_buf_u8(b, id);
	switch (id) {
	case MH_ROP_BUFFER_TOO_SMALL:
		mh_buf_u16(b, r->u.buffer_too_small.size_needed);
		raw_push(b, &r->u.buffer_too_small.request_buffers);
		return;
	case MH_ROP_BACKOFF:
		mh_buf_u8(b, r->u.backoff.logon_id);
		mh_buf_u32(b, r->u.backoff.duration);
		mh_buf_u8(b, r->u.backoff.rop_count);
		for (unsigned i = 0; i < r->u.backoff.rop_count; i++) {
			mh_buf_u8(b, r->u.backoff.rops[i].rop_id);
			mh_buf_u32(b, r->u.backoff.rops[i].duration);
		}
		mh_rop_bin16_push(b, &r->u.backoff.additional_data);
		return;
	case MH_ROP_PENDING:
		mh_buf_u16(b, r->u.pending.session_index);
		return;
	default:
		break;
	}
	mh_buf_u8(b, r->handle_index);
	mh_buf_u32(b, (uint32_t)r->return_value);
	response_body_push(b, r);
}
