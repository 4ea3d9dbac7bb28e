/*
 * ROP requests: one pull and one push case per RopId ([MS-OXCROPS] 2.2.3-
 * 2.2.10, wire.md §5). Every request starts RopId, LogonId, then its index
 * byte(s).
 */
#include <string.h>

#include "codec/rop_internal.h"
#include "util/diag.h"

/* ROP-specific fields of a request; the common header has been read. */
static mh_status request_body_pull(mh_cursor *c, mh_arena *a, mh_rop_request *r)
{
	switch (r->rop_id) {
	case MH_ROP_LOGON: {
		uint16_t size;
		ROP_TRY(mh_cursor_u8(c, &r->u.logon.logon_flags, "RopLogon.LogonFlags"));
		ROP_TRY(mh_cursor_u32(c, &r->u.logon.open_flags, "RopLogon.OpenFlags"));
		ROP_TRY(mh_cursor_u32(c, &r->u.logon.store_state, "RopLogon.StoreState"));
		ROP_TRY(mh_cursor_u16(c, &size, "RopLogon.EssdnSize"));
		return mh_rop_sized_str8_pull(c, a, size, &r->u.logon.essdn, "RopLogon.Essdn");
	}
	case MH_ROP_RELEASE:
	case MH_ROP_GET_PROPERTIES_LIST:
	case MH_ROP_QUERY_COLUMNS_ALL:
	case MH_ROP_RESET_TABLE:
		return S_OK;
	case MH_ROP_OPEN_FOLDER:
		ROP_TRY(mh_cursor_u64(c, &r->u.open_folder.folder_id, "RopOpenFolder.FolderId"));
		return mh_cursor_u8(c, &r->u.open_folder.open_mode_flags,
		                    "RopOpenFolder.OpenModeFlags");
	case MH_ROP_OPEN_MESSAGE:
		ROP_TRY(
		    mh_cursor_u16(c, &r->u.open_message.code_page_id, "RopOpenMessage.CodePageId"));
		ROP_TRY(mh_cursor_u64(c, &r->u.open_message.folder_id, "RopOpenMessage.FolderId"));
		ROP_TRY(mh_cursor_u8(c, &r->u.open_message.open_mode_flags,
		                     "RopOpenMessage.OpenModeFlags"));
		return mh_cursor_u64(c, &r->u.open_message.message_id, "RopOpenMessage.MessageId");
	case MH_ROP_GET_HIERARCHY_TABLE:
	case MH_ROP_GET_CONTENTS_TABLE:
	case MH_ROP_GET_PERMISSIONS_TABLE:
	case MH_ROP_GET_RULES_TABLE:
	case MH_ROP_GET_ATTACHMENT_TABLE:
		return mh_cursor_u8(c, &r->u.get_table.table_flags, "TableFlags");
	case MH_ROP_GET_PROPERTIES_SPECIFIC:
		ROP_TRY(mh_cursor_u16(c, &r->u.get_props_specific.property_size_limit,
		                      "RopGetPropertiesSpecific.PropertySizeLimit"));
		ROP_TRY(mh_cursor_u16(c, &r->u.get_props_specific.want_unicode,
		                      "RopGetPropertiesSpecific.WantUnicode"));
		return mh_pv_tags_pull(c, a, 2, 0xFFFF, &r->u.get_props_specific.tags);
	case MH_ROP_GET_PROPERTIES_ALL:
		ROP_TRY(mh_cursor_u16(c, &r->u.get_props_all.property_size_limit,
		                      "RopGetPropertiesAll.PropertySizeLimit"));
		return mh_cursor_u16(c, &r->u.get_props_all.want_unicode,
		                     "RopGetPropertiesAll.WantUnicode");
	case MH_ROP_READ_RECIPIENTS:
		ROP_TRY(mh_cursor_u32(c, &r->u.read_recipients.row_id, "RopReadRecipients.RowId"));
		return mh_cursor_u16(c, &r->u.read_recipients.reserved,
		                     "RopReadRecipients.Reserved");
	case MH_ROP_SET_COLUMNS:
		ROP_TRY(mh_cursor_u8(c, &r->u.set_columns.flags, "RopSetColumns.SetColumnsFlags"));
		return mh_pv_tags_pull(c, a, 2, 0xFFFF, &r->u.set_columns.tags);
	case MH_ROP_SORT_TABLE: {
		uint16_t n;
		void *p;
		ROP_TRY(mh_cursor_u8(c, &r->u.sort_table.flags, "RopSortTable.SortTableFlags"));
		ROP_TRY(mh_cursor_u16(c, &n, "RopSortTable.SortOrderCount"));
		ROP_TRY(mh_cursor_u16(c, &r->u.sort_table.categorized_count,
		                      "RopSortTable.CategorizedCount"));
		ROP_TRY(mh_cursor_u16(c, &r->u.sort_table.expanded_count,
		                      "RopSortTable.ExpandedCount"));
		if ((size_t)n * 5 > mh_cursor_remaining(c))
			return mh_cursor_fail(c,
			                      "RopSortTable.SortOrderCount %u needs %zu bytes at "
			                      "byte %zu, %zu remain",
			                      n, (size_t)n * 5, mh_cursor_offset(c),
			                      mh_cursor_remaining(c));
		r->u.sort_table.sort_order_count = n;
		ROP_TRY(mh_arena_array(a, n, sizeof(mh_rop_sort_order), &p));
		r->u.sort_table.sort_orders = p;
		for (uint16_t i = 0; i < n; i++) {
			uint16_t type, id;
			ROP_TRY(mh_cursor_u16(c, &type, "SortOrder.PropertyType"));
			ROP_TRY(mh_cursor_u16(c, &id, "SortOrder.PropertyId"));
			r->u.sort_table.sort_orders[i].tag = PROP_TAG(type, id);
			ROP_TRY(mh_cursor_u8(c, &r->u.sort_table.sort_orders[i].order,
			                     "SortOrder.Order"));
		}
		return S_OK;
	}
	case MH_ROP_QUERY_ROWS:
		ROP_TRY(mh_cursor_u8(c, &r->u.query_rows.flags, "RopQueryRows.QueryRowsFlags"));
		ROP_TRY(mh_cursor_u8(c, &r->u.query_rows.forward_read, "RopQueryRows.ForwardRead"));
		return mh_cursor_u16(c, &r->u.query_rows.row_count, "RopQueryRows.RowCount");
	case MH_ROP_SEEK_ROW: {
		uint32_t n;
		ROP_TRY(mh_cursor_u8(c, &r->u.seek_row.origin, "RopSeekRow.Origin"));
		ROP_TRY(mh_cursor_u32(c, &n, "RopSeekRow.RowCount"));
		r->u.seek_row.row_count = (int32_t)n;
		return mh_cursor_u8(c, &r->u.seek_row.want_row_moved_count,
		                    "RopSeekRow.WantRowMovedCount");
	}
	case MH_ROP_GET_RECEIVE_FOLDER:
		return mh_rop_str8_pull(c, a, &r->u.get_receive_folder.message_class,
		                        "RopGetReceiveFolder.MessageClass");
	case MH_ROP_OPEN_STREAM:
		ROP_TRY(
		    mh_cursor_u32(c, &r->u.open_stream.property_tag, "RopOpenStream.PropertyTag"));
		return mh_cursor_u8(c, &r->u.open_stream.open_mode_flags,
		                    "RopOpenStream.OpenModeFlags");
	case MH_ROP_READ_STREAM:
		ROP_TRY(mh_cursor_u16(c, &r->u.read_stream.byte_count, "RopReadStream.ByteCount"));
		if (r->u.read_stream.byte_count != MH_READ_STREAM_USE_MAX)
			return S_OK;
		return mh_cursor_u32(c, &r->u.read_stream.maximum_byte_count,
		                     "RopReadStream.MaximumByteCount");
	case MH_ROP_LONG_TERM_ID_FROM_ID:
		return mh_cursor_u64(c, &r->u.long_term_id_from_id.object_id,
		                     "RopLongTermIdFromId.ObjectId");
	case MH_ROP_ID_FROM_LONG_TERM_ID:
		return mh_long_term_id_pull(c, &r->u.id_from_long_term_id.long_term_id);
	default:
		return MAPI_E_NO_SUPPORT; /* mh_rop_request_pull checked first */
	}
}

mh_status mh_rop_request_pull(mh_cursor *c, mh_arena *a, mh_rop_request *out)
{
	size_t start = c->pos;
	uint8_t id;
	memset(out, 0, sizeof(*out));
	ROP_TRY(mh_cursor_u8(c, &id, "RopId"));
	if (!mh_rop_request_known(id)) {
		c->pos = start;
		return mh_error_set(MAPI_E_NO_SUPPORT, (int64_t)mh_cursor_offset(c),
		                    "unknown ROP request id 0x%02X at byte %zu", id,
		                    mh_cursor_offset(c));
	}
	out->rop_id = id;
	ROP_TRY(mh_cursor_u8(c, &out->logon_id, "LogonId"));
	if (id == MH_ROP_LOGON) {
		ROP_TRY(mh_cursor_u8(c, &out->out_handle_index, "RopLogon.OutputHandleIndex"));
	} else {
		ROP_TRY(mh_cursor_u8(c, &out->in_handle_index, "InputHandleIndex"));
		if (mh_rop_creates_object(id))
			ROP_TRY(mh_cursor_u8(c, &out->out_handle_index, "OutputHandleIndex"));
	}
	ROP_TRY(mh_cursor_enter(c, mh_rop_name(id)));
	mh_status st = request_body_pull(c, a, out);
	mh_cursor_leave(c);
	return st;
}

void mh_rop_request_push(mh_buf *b, const mh_rop_request *r)
{
	if (!mh_rop_request_known(r->rop_id)) {
		mh_buf_fail(b, MAPI_E_INVALID_PARAMETER);
		return;
	}
	mh_buf_u8(b, r->rop_id);
	mh_buf_u8(b, r->logon_id);
	if (r->rop_id == MH_ROP_LOGON) {
		mh_buf_u8(b, r->out_handle_index);
	} else {
		mh_buf_u8(b, r->in_handle_index);
		if (mh_rop_creates_object(r->rop_id))
			mh_buf_u8(b, r->out_handle_index);
	}
	switch (r->rop_id) {
	case MH_ROP_LOGON:
		mh_buf_u8(b, r->u.logon.logon_flags);
		mh_buf_u32(b, r->u.logon.open_flags);
		mh_buf_u32(b, r->u.logon.store_state);
		mh_rop_sized_str8_push(b, r->u.logon.essdn, 2);
		break;
	case MH_ROP_OPEN_FOLDER:
		mh_buf_u64(b, r->u.open_folder.folder_id);
		mh_buf_u8(b, r->u.open_folder.open_mode_flags);
		break;
	case MH_ROP_OPEN_MESSAGE:
		mh_buf_u16(b, r->u.open_message.code_page_id);
		mh_buf_u64(b, r->u.open_message.folder_id);
		mh_buf_u8(b, r->u.open_message.open_mode_flags);
		mh_buf_u64(b, r->u.open_message.message_id);
		break;
	case MH_ROP_GET_HIERARCHY_TABLE:
	case MH_ROP_GET_CONTENTS_TABLE:
	case MH_ROP_GET_PERMISSIONS_TABLE:
	case MH_ROP_GET_RULES_TABLE:
	case MH_ROP_GET_ATTACHMENT_TABLE:
		mh_buf_u8(b, r->u.get_table.table_flags);
		break;
	case MH_ROP_GET_PROPERTIES_SPECIFIC:
		mh_buf_u16(b, r->u.get_props_specific.property_size_limit);
		mh_buf_u16(b, r->u.get_props_specific.want_unicode);
		mh_rop_tags_push(b, r->u.get_props_specific.tags);
		break;
	case MH_ROP_GET_PROPERTIES_ALL:
		mh_buf_u16(b, r->u.get_props_all.property_size_limit);
		mh_buf_u16(b, r->u.get_props_all.want_unicode);
		break;
	case MH_ROP_READ_RECIPIENTS:
		mh_buf_u32(b, r->u.read_recipients.row_id);
		mh_buf_u16(b, r->u.read_recipients.reserved);
		break;
	case MH_ROP_SET_COLUMNS:
		mh_buf_u8(b, r->u.set_columns.flags);
		mh_rop_tags_push(b, r->u.set_columns.tags);
		break;
	case MH_ROP_SORT_TABLE:
		mh_buf_u8(b, r->u.sort_table.flags);
		mh_buf_u16(b, r->u.sort_table.sort_order_count);
		mh_buf_u16(b, r->u.sort_table.categorized_count);
		mh_buf_u16(b, r->u.sort_table.expanded_count);
		for (uint16_t i = 0; i < r->u.sort_table.sort_order_count; i++) {
			const mh_rop_sort_order *so = &r->u.sort_table.sort_orders[i];
			mh_buf_u16(b, (uint16_t)PROP_TYPE(so->tag));
			mh_buf_u16(b, (uint16_t)PROP_ID(so->tag));
			mh_buf_u8(b, so->order);
		}
		break;
	case MH_ROP_QUERY_ROWS:
		mh_buf_u8(b, r->u.query_rows.flags);
		mh_buf_u8(b, r->u.query_rows.forward_read);
		mh_buf_u16(b, r->u.query_rows.row_count);
		break;
	case MH_ROP_SEEK_ROW:
		mh_buf_u8(b, r->u.seek_row.origin);
		mh_buf_u32(b, (uint32_t)r->u.seek_row.row_count);
		mh_buf_u8(b, r->u.seek_row.want_row_moved_count);
		break;
	case MH_ROP_GET_RECEIVE_FOLDER:
		mh_buf_str8z(b, r->u.get_receive_folder.message_class != NULL
		                    ? r->u.get_receive_folder.message_class
		                    : "");
		break;
	case MH_ROP_OPEN_STREAM:
		mh_buf_u32(b, r->u.open_stream.property_tag);
		mh_buf_u8(b, r->u.open_stream.open_mode_flags);
		break;
	case MH_ROP_READ_STREAM:
		mh_buf_u16(b, r->u.read_stream.byte_count);
		if (r->u.read_stream.byte_count == MH_READ_STREAM_USE_MAX)
			mh_buf_u32(b, r->u.read_stream.maximum_byte_count);
		break;
	case MH_ROP_LONG_TERM_ID_FROM_ID:
		mh_buf_u64(b, r->u.long_term_id_from_id.object_id);
		break;
	case MH_ROP_ID_FROM_LONG_TERM_ID:
		mh_long_term_id_push(b, &r->u.id_from_long_term_id.long_term_id);
		break;
	default: /* RopRelease, GetPropertiesList, QueryColumnsAll, ResetTable: header only */
		break;
	}
}
