/*
 * Deep equality of decoded ROP requests and responses, for the round-trip
 * tests and fuzzers: only the fields the wire carries for that ROP and
 * ReturnValue are compared.
 */
#include <string.h>

#include "codec/rop_internal.h"

static bool str_eq(const char *x, const char *y)
{
	if (x == NULL || y == NULL)
		return (x == NULL || *x == '\0') && (y == NULL || *y == '\0');
	return strcmp(x, y) == 0;
}

static bool bin_eq(const SBinary *x, const SBinary *y)
{
	return x->cb == y->cb && (x->cb == 0 || memcmp(x->lpb, y->lpb, x->cb) == 0);
}

static bool tags_eq(const SPropTagArray *x, const SPropTagArray *y)
{
	uint32_t nx = x != NULL ? x->cValues : 0, ny = y != NULL ? y->cValues : 0;
	return nx == ny && (nx == 0 || memcmp(x->aulPropTag, y->aulPropTag, nx * 4u) == 0);
}

static bool guid_eq(const GUID *x, const GUID *y)
{
	return x->Data1 == y->Data1 && x->Data2 == y->Data2 && x->Data3 == y->Data3 &&
	       memcmp(x->Data4, y->Data4, 8) == 0;
}

static bool ltid_eq(const mh_long_term_id *x, const mh_long_term_id *y)
{
	return guid_eq(&x->database_guid, &y->database_guid) &&
	       x->global_counter == y->global_counter && x->pad == y->pad;
}

static bool prop_eq(const SPropValue *x, const SPropValue *y)
{
	return x->ulPropTag == y->ulPropTag &&
	       mh_pv_value_equal((uint16_t)PROP_TYPE(x->ulPropTag), &x->Value, &y->Value);
}

static bool row_eq(const mh_prop_row *x, const mh_prop_row *y)
{
	if (x->flag != y->flag || x->cValues != y->cValues)
		return false;
	for (uint32_t i = 0; i < x->cValues; i++) {
		if (!prop_eq(&x->lpProps[i], &y->lpProps[i]))
			return false;
		if ((x->colflags == NULL) != (y->colflags == NULL) ||
		    (x->colflags != NULL && x->colflags[i] != y->colflags[i]))
			return false;
	}
	return true;
}

static bool recipients_eq(uint8_t n, const mh_rop_recipient_row *x, const mh_rop_recipient_row *y)
{
	for (unsigned i = 0; i < n; i++)
		if (x[i].row_id != y[i].row_id || x[i].recipient_type != y[i].recipient_type ||
		    x[i].code_page_id != y[i].code_page_id || x[i].reserved != y[i].reserved ||
		    !bin_eq(&x[i].row, &y[i].row))
			return false;
	return true;
}

static bool typed_eq(const mh_rop_typed_string *x, const mh_rop_typed_string *y)
{
	return x->type == y->type && (x->type < MH_TYPED_STRING_8BIT || str_eq(x->value, y->value));
}

bool mh_rop_request_equal(const mh_rop_request *x, const mh_rop_request *y)
{
	if (x->rop_id != y->rop_id || x->logon_id != y->logon_id)
		return false;
	if (x->rop_id != MH_ROP_LOGON && x->in_handle_index != y->in_handle_index)
		return false;
	if (mh_rop_creates_object(x->rop_id) && x->out_handle_index != y->out_handle_index)
		return false;
	switch (x->rop_id) {
	case MH_ROP_LOGON:
		return x->u.logon.logon_flags == y->u.logon.logon_flags &&
		       x->u.logon.open_flags == y->u.logon.open_flags &&
		       x->u.logon.store_state == y->u.logon.store_state &&
		       (x->u.logon.essdn == NULL) == (y->u.logon.essdn == NULL) &&
		       str_eq(x->u.logon.essdn, y->u.logon.essdn);
	case MH_ROP_OPEN_FOLDER:
		return x->u.open_folder.folder_id == y->u.open_folder.folder_id &&
		       x->u.open_folder.open_mode_flags == y->u.open_folder.open_mode_flags;
	case MH_ROP_OPEN_MESSAGE:
		return x->u.open_message.code_page_id == y->u.open_message.code_page_id &&
		       x->u.open_message.folder_id == y->u.open_message.folder_id &&
		       x->u.open_message.open_mode_flags == y->u.open_message.open_mode_flags &&
		       x->u.open_message.message_id == y->u.open_message.message_id;
	case MH_ROP_GET_HIERARCHY_TABLE:
	case MH_ROP_GET_CONTENTS_TABLE:
	case MH_ROP_GET_PERMISSIONS_TABLE:
	case MH_ROP_GET_RULES_TABLE:
	case MH_ROP_GET_ATTACHMENT_TABLE:
		return x->u.get_table.table_flags == y->u.get_table.table_flags;
	case MH_ROP_GET_PROPERTIES_SPECIFIC:
		return x->u.get_props_specific.property_size_limit ==
		           y->u.get_props_specific.property_size_limit &&
		       x->u.get_props_specific.want_unicode ==
		           y->u.get_props_specific.want_unicode &&
		       tags_eq(x->u.get_props_specific.tags, y->u.get_props_specific.tags);
	case MH_ROP_GET_PROPERTIES_ALL:
		return x->u.get_props_all.property_size_limit ==
		           y->u.get_props_all.property_size_limit &&
		       x->u.get_props_all.want_unicode == y->u.get_props_all.want_unicode;
	case MH_ROP_READ_RECIPIENTS:
		return x->u.read_recipients.row_id == y->u.read_recipients.row_id &&
		       x->u.read_recipients.reserved == y->u.read_recipients.reserved;
	case MH_ROP_SET_COLUMNS:
		return x->u.set_columns.flags == y->u.set_columns.flags &&
		       tags_eq(x->u.set_columns.tags, y->u.set_columns.tags);
	case MH_ROP_SORT_TABLE:
		if (x->u.sort_table.flags != y->u.sort_table.flags ||
		    x->u.sort_table.categorized_count != y->u.sort_table.categorized_count ||
		    x->u.sort_table.expanded_count != y->u.sort_table.expanded_count ||
		    x->u.sort_table.sort_order_count != y->u.sort_table.sort_order_count)
			return false;
		for (unsigned i = 0; i < x->u.sort_table.sort_order_count; i++)
			if (x->u.sort_table.sort_orders[i].tag !=
			        y->u.sort_table.sort_orders[i].tag ||
			    x->u.sort_table.sort_orders[i].order !=
			        y->u.sort_table.sort_orders[i].order)
				return false;
		return true;
	case MH_ROP_QUERY_ROWS:
		return x->u.query_rows.flags == y->u.query_rows.flags &&
		       x->u.query_rows.forward_read == y->u.query_rows.forward_read &&
		       x->u.query_rows.row_count == y->u.query_rows.row_count;
	case MH_ROP_SEEK_ROW:
		return x->u.seek_row.origin == y->u.seek_row.origin &&
		       x->u.seek_row.row_count == y->u.seek_row.row_count &&
		       x->u.seek_row.want_row_moved_count == y->u.seek_row.want_row_moved_count;
	case MH_ROP_GET_RECEIVE_FOLDER:
		return str_eq(x->u.get_receive_folder.message_class,
		              y->u.get_receive_folder.message_class);
	case MH_ROP_OPEN_STREAM:
		return x->u.open_stream.property_tag == y->u.open_stream.property_tag &&
		       x->u.open_stream.open_mode_flags == y->u.open_stream.open_mode_flags;
	case MH_ROP_READ_STREAM:
		return x->u.read_stream.byte_count == y->u.read_stream.byte_count &&
		       (x->u.read_stream.byte_count != MH_READ_STREAM_USE_MAX ||
		        x->u.read_stream.maximum_byte_count == y->u.read_stream.maximum_byte_count);
	case MH_ROP_LONG_TERM_ID_FROM_ID:
		return x->u.long_term_id_from_id.object_id == y->u.long_term_id_from_id.object_id;
	case MH_ROP_ID_FROM_LONG_TERM_ID:
		return ltid_eq(&x->u.id_from_long_term_id.long_term_id,
		               &y->u.id_from_long_term_id.long_term_id);
	default:
		/* A walked request is its bytes. */
		if (mh_rop_request_kind(x->rop_id) == MH_ROP_KIND_SKIPPED)
			return bin_eq(&x->u.unsupported.raw, &y->u.unsupported.raw);
		return true;
	}
}

static bool logon_eq(const mh_rop_response *rx, const mh_rop_response *ry)
{
	const struct mh_rop_logon_resp *x = &rx->u.logon, *y = &ry->u.logon;
	if (rx->return_value == ecWrongServer)
		return x->logon_flags == y->logon_flags &&
		       (x->server_name == NULL) == (y->server_name == NULL) &&
		       str_eq(x->server_name, y->server_name);
	if (rx->return_value != S_OK)
		return true;
	if (x->is_private != y->is_private || x->logon_flags != y->logon_flags ||
	    memcmp(x->folder_ids, y->folder_ids, sizeof(x->folder_ids)) != 0 ||
	    x->repl_id != y->repl_id || !guid_eq(&x->repl_guid, &y->repl_guid))
		return false;
	if (!x->is_private)
		return guid_eq(&x->per_user_guid, &y->per_user_guid);
	return x->response_flags == y->response_flags &&
	       guid_eq(&x->mailbox_guid, &y->mailbox_guid) &&
	       memcmp(&x->logon_time, &y->logon_time, sizeof(x->logon_time)) == 0 &&
	       x->gwart_time == y->gwart_time && x->store_state == y->store_state;
}

static bool success_body_eq(const mh_rop_response *x, const mh_rop_response *y)
{
	switch (x->rop_id) {
	case MH_ROP_OPEN_FOLDER:
		if (x->u.open_folder.has_rules != y->u.open_folder.has_rules ||
		    x->u.open_folder.is_ghosted != y->u.open_folder.is_ghosted)
			return false;
		if (x->u.open_folder.is_ghosted == 0)
			return true;
		if (x->u.open_folder.server_count != y->u.open_folder.server_count ||
		    x->u.open_folder.cheap_server_count != y->u.open_folder.cheap_server_count)
			return false;
		for (unsigned i = 0; i < x->u.open_folder.server_count; i++)
			if (!str_eq(x->u.open_folder.servers[i], y->u.open_folder.servers[i]))
				return false;
		return true;
	case MH_ROP_OPEN_MESSAGE:
		return x->u.open_message.has_named_properties ==
		           y->u.open_message.has_named_properties &&
		       typed_eq(&x->u.open_message.subject_prefix,
		                &y->u.open_message.subject_prefix) &&
		       typed_eq(&x->u.open_message.normalized_subject,
		                &y->u.open_message.normalized_subject) &&
		       x->u.open_message.recipient_count == y->u.open_message.recipient_count &&
		       tags_eq(x->u.open_message.recipient_columns,
		               y->u.open_message.recipient_columns) &&
		       x->u.open_message.row_count == y->u.open_message.row_count &&
		       recipients_eq(x->u.open_message.row_count, x->u.open_message.rows,
		                     y->u.open_message.rows);
	case MH_ROP_GET_HIERARCHY_TABLE:
	case MH_ROP_GET_CONTENTS_TABLE:
		return x->u.get_table.row_count == y->u.get_table.row_count;
	case MH_ROP_GET_PROPERTIES_SPECIFIC:
		if ((x->u.get_props_specific.columns == NULL) !=
		    (y->u.get_props_specific.columns == NULL))
			return false;
		if (x->u.get_props_specific.columns == NULL)
			return bin_eq(&x->u.get_props_specific.raw, &y->u.get_props_specific.raw);
		return tags_eq(x->u.get_props_specific.columns, y->u.get_props_specific.columns) &&
		       row_eq(&x->u.get_props_specific.row, &y->u.get_props_specific.row);
	case MH_ROP_GET_PROPERTIES_ALL:
		if (x->u.get_props_all.count != y->u.get_props_all.count)
			return false;
		for (unsigned i = 0; i < x->u.get_props_all.count; i++)
			if (!prop_eq(&x->u.get_props_all.props[i], &y->u.get_props_all.props[i]))
				return false;
		return true;
	case MH_ROP_GET_PROPERTIES_LIST:
	case MH_ROP_QUERY_COLUMNS_ALL:
		return tags_eq(x->u.prop_list.tags, y->u.prop_list.tags);
	case MH_ROP_READ_RECIPIENTS:
		return x->u.read_recipients.row_count == y->u.read_recipients.row_count &&
		       recipients_eq(x->u.read_recipients.row_count, x->u.read_recipients.rows,
		                     y->u.read_recipients.rows);
	case MH_ROP_SET_COLUMNS:
	case MH_ROP_SORT_TABLE:
		return x->u.table_status.table_status == y->u.table_status.table_status;
	case MH_ROP_QUERY_ROWS:
		if (x->u.query_rows.origin != y->u.query_rows.origin ||
		    x->u.query_rows.row_count != y->u.query_rows.row_count ||
		    (x->u.query_rows.columns == NULL) != (y->u.query_rows.columns == NULL))
			return false;
		if (x->u.query_rows.columns == NULL)
			return bin_eq(&x->u.query_rows.raw, &y->u.query_rows.raw);
		if (!tags_eq(x->u.query_rows.columns, y->u.query_rows.columns))
			return false;
		for (unsigned i = 0; i < x->u.query_rows.row_count; i++)
			if (!row_eq(&x->u.query_rows.rows[i], &y->u.query_rows.rows[i]))
				return false;
		return true;
	case MH_ROP_SEEK_ROW:
		return x->u.seek_row.has_sought_less == y->u.seek_row.has_sought_less &&
		       x->u.seek_row.rows_sought == y->u.seek_row.rows_sought;
	case MH_ROP_GET_RECEIVE_FOLDER:
		return x->u.get_receive_folder.folder_id == y->u.get_receive_folder.folder_id &&
		       str_eq(x->u.get_receive_folder.explicit_message_class,
		              y->u.get_receive_folder.explicit_message_class);
	case MH_ROP_OPEN_STREAM:
		return x->u.open_stream.stream_size == y->u.open_stream.stream_size;
	case MH_ROP_LONG_TERM_ID_FROM_ID:
		return ltid_eq(&x->u.long_term_id_from_id.long_term_id,
		               &y->u.long_term_id_from_id.long_term_id);
	case MH_ROP_ID_FROM_LONG_TERM_ID:
		return x->u.id_from_long_term_id.object_id == y->u.id_from_long_term_id.object_id;
	default:
		return true;
	}
}

bool mh_rop_response_equal(const mh_rop_response *x, const mh_rop_response *y)
{
	if (x->rop_id != y->rop_id)
		return false;
	switch (x->rop_id) {
	case MH_ROP_BUFFER_TOO_SMALL:
		return x->u.buffer_too_small.size_needed == y->u.buffer_too_small.size_needed &&
		       bin_eq(&x->u.buffer_too_small.request_buffers,
		              &y->u.buffer_too_small.request_buffers);
	case MH_ROP_BACKOFF:
		if (x->u.backoff.logon_id != y->u.backoff.logon_id ||
		    x->u.backoff.duration != y->u.backoff.duration ||
		    x->u.backoff.rop_count != y->u.backoff.rop_count ||
		    !bin_eq(&x->u.backoff.additional_data, &y->u.backoff.additional_data))
			return false;
		for (unsigned i = 0; i < x->u.backoff.rop_count; i++)
			if (x->u.backoff.rops[i].rop_id != y->u.backoff.rops[i].rop_id ||
			    x->u.backoff.rops[i].duration != y->u.backoff.rops[i].duration)
				return false;
		return true;
	case MH_ROP_PENDING:
		return x->u.pending.session_index == y->u.pending.session_index;
	default:
		break;
	}
	if (x->handle_index != y->handle_index || x->return_value != y->return_value)
		return false;
	if (x->rop_id == MH_ROP_LOGON)
		return logon_eq(x, y);
	if (x->rop_id == MH_ROP_READ_STREAM)
		return bin_eq(&x->u.read_stream.data, &y->u.read_stream.data);
	return x->return_value != S_OK || success_body_eq(x, y);
}
