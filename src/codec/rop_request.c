/*
 * ROP requests: one pull and one push case per decoded RopId ([MS-OXCROPS]
 * 2.2.3-2.2.10, wire.md §5), and the layout table that walks every other
 * request [MS-OXCROPS] 2.2.3-2.2.14 defines. Every request starts RopId,
 * LogonId, then its index byte(s).
 */
#include <string.h>

#include "codec/restriction.h"
#include "codec/rop_internal.h"
#include "util/diag.h"

/* ---- requests walked, not decoded ------------------------------------------------------ */

/*
 * The layout of a request the codec does not decode. head is what follows
 * LogonId: 'i' InputHandleIndex; 'o' InputHandleIndex, OutputHandleIndex
 * (creates an object); 'd' SourceHandleIndex, DestHandleIndex; 'r'
 * ResponseHandleIndex, InputHandleIndex; 's' stateful (length unknowable
 * without the session). body is the rest, one letter per field (see
 * skip_field); extra is what a failure response carries after ReturnValue.
 */
typedef struct skip_rule {
	const char *name;
	char head;
	const char *body;
	uint8_t extra;
} skip_rule;

/* [MS-OXCROPS] 2.2.3-2.2.14, by RopId; decoded ROPs and undefined ids are empty. */
static const skip_rule skip_rules[256] = {
    [0x06] = {"RopCreateMessage", 'o', "281", 0},
    [0x0A] = {"RopSetProperties", 'i', "B", 0}, /* PropertyValueSize covers count + values */
    [0x0B] = {"RopDeleteProperties", 'i', "T", 0},
    [0x0C] = {"RopSaveChangesMessage", 'r', "1", 0},
    [0x0D] = {"RopRemoveAllRecipients", 'i', "4", 0},
    [0x0E] = {"RopModifyRecipients", 'i', "TR", 0},
    [0x10] = {"RopReloadCachedInformation", 'i', "2", 0},
    [0x11] = {"RopSetMessageReadFlag", 's', "", 0}, /* ClientData iff public logon */
    [0x14] = {"RopRestrict", 'i', "1B", 0},
    [0x16] = {"RopGetStatus", 'i', "", 0},
    [0x17] = {"RopQueryPosition", 'i', "", 0},
    [0x19] = {"RopSeekRowBookmark", 'i', "B41", 0},
    [0x1A] = {"RopSeekRowFractional", 'i', "44", 0},
    [0x1B] = {"RopCreateBookmark", 'i', "", 0},
    [0x1C] = {"RopCreateFolder", 'o', "1f11uu", 0},
    [0x1D] = {"RopDeleteFolder", 'i', "18", 1},
    [0x1E] = {"RopDeleteMessages", 'i', "11I", 1},
    [0x1F] = {"RopGetMessageStatus", 'i', "8", 0},
    [0x20] = {"RopSetMessageStatus", 'i', "844", 0},
    [0x22] = {"RopOpenAttachment", 'o', "14", 0},
    [0x23] = {"RopCreateAttachment", 'o', "", 0},
    [0x24] = {"RopDeleteAttachment", 'i', "4", 0},
    [0x25] = {"RopSaveChangesAttachment", 'r', "1", 0},
    [0x26] = {"RopSetReceiveFolder", 'i', "8s", 0},
    [0x29] = {"RopRegisterNotification", 'o', "11W", 0},
    [0x2D] = {"RopWriteStream", 'i', "B", 2},
    [0x2E] = {"RopSeekStream", 'i', "18", 0},
    [0x2F] = {"RopSetStreamSize", 'i', "8", 0},
    [0x30] = {"RopSetSearchCriteria", 'i', "BI4", 0},
    [0x31] = {"RopGetSearchCriteria", 'i', "111", 0},
    [0x32] = {"RopSubmitMessage", 'i', "1", 0},
    [0x33] = {"RopMoveCopyMessages", 'd', "I11", 1},
    [0x34] = {"RopAbortSubmit", 'i', "88", 0},
    [0x35] = {"RopMoveFolder", 'd', "1f8u", 1},
    [0x36] = {"RopCopyFolder", 'd', "11f8u", 1},
    [0x38] = {"RopAbort", 'i', "", 0},
    [0x39] = {"RopCopyTo", 'd', "111T", 0},
    [0x3A] = {"RopCopyToStream", 'd', "8", 16},
    [0x3B] = {"RopCloneStream", 'o', "", 0},
    [0x40] = {"RopModifyPermissions", 'i', "1M", 0},
    [0x41] = {"RopModifyRules", 'i', "1M", 0},
    [0x42] = {"RopGetOwningServers", 'i', "8", 0},
    [0x45] = {"RopPublicFolderIsGhosted", 'i', "8", 0},
    [0x46] = {"RopOpenEmbeddedMessage", 'o', "21", 0},
    [0x47] = {"RopSetSpooler", 'i', "", 0},
    [0x48] = {"RopSpoolerLockMessage", 'i', "81", 0},
    [0x49] = {"RopGetAddressTypes", 'i', "", 0},
    [0x4A] = {"RopTransportSend", 'i', "", 0},
    [0x4B] = {"RopFastTransferSourceCopyMessages", 'o', "I11", 0},
    [0x4C] = {"RopFastTransferSourceCopyFolder", 'o', "11", 0},
    [0x4D] = {"RopFastTransferSourceCopyTo", 'o', "141T", 0},
    [0x4E] = {"RopFastTransferSourceGetBuffer", 'i', "X", 9},
    [0x4F] = {"RopFindRow", 'i', "1B1B", 0},
    [0x50] = {"RopProgress", 'i', "1", 0},
    [0x51] = {"RopTransportNewMail", 'i', "88s4", 0},
    [0x52] = {"RopGetValidAttachments", 'i', "", 0},
    [0x53] = {"RopFastTransferDestinationConfigure", 'o', "11", 0},
    [0x54] = {"RopFastTransferDestinationPutBuffer", 'i', "B", 9},
    [0x55] = {"RopGetNamesFromPropertyIds", 'i', "P", 0},
    [0x56] = {"RopGetPropertyIdsFromNames", 'i', "1N", 0},
    [0x57] = {"RopUpdateDeferredActionMessages", 'i', "BB", 0},
    [0x58] = {"RopEmptyFolder", 'i', "11", 1},
    [0x59] = {"RopExpandRow", 'i', "28", 0},
    [0x5A] = {"RopCollapseRow", 'i', "8", 0},
    [0x5B] = {"RopLockRegionStream", 'i', "884", 0},
    [0x5C] = {"RopUnlockRegionStream", 'i', "884", 0},
    [0x5D] = {"RopCommitStream", 'i', "", 0},
    [0x5E] = {"RopGetStreamSize", 'i', "", 0},
    [0x5F] = {"RopQueryNamedProperties", 'i', "1H", 0},
    [0x60] = {"RopGetPerUserLongTermIds", 'i', "G", 0},
    [0x61] = {"RopGetPerUserGuid", 'i', "L", 0},
    [0x63] = {"RopReadPerUserInformation", 'i', "L142", 0},
    [0x64] = {"RopWritePerUserInformation", 's', "", 0}, /* ReplGuid iff private logon */
    [0x66] = {"RopSetReadFlags", 'i', "11I", 1},
    [0x67] = {"RopCopyProperties", 'd', "11T", 0},
    [0x68] = {"RopGetReceiveFolderTable", 'i', "", 0},
    [0x69] = {"RopFastTransferSourceCopyProperties", 'o', "111T", 0},
    [0x6B] = {"RopGetCollapseState", 'i', "84", 0},
    [0x6C] = {"RopSetCollapseState", 'i', "B", 0},
    [0x6D] = {"RopGetTransportFolder", 'i', "", 0},
    [0x6F] = {"RopOptionsData", 'i', "s1", 0},
    [0x70] = {"RopSynchronizationConfigure", 'o', "112B4T", 0},
    [0x72] = {"RopSynchronizationImportMessageChange", 'o', "1V", 0},
    [0x73] = {"RopSynchronizationImportHierarchyChange", 'i', "VV", 0},
    [0x74] = {"RopSynchronizationImportDeletes", 'i', "1V", 0},
    [0x75] = {"RopSynchronizationUploadStateStreamBegin", 'i', "44", 0},
    [0x76] = {"RopSynchronizationUploadStateStreamContinue", 'i', "D", 0},
    [0x77] = {"RopSynchronizationUploadStateStreamEnd", 'i', "", 0},
    [0x78] = {"RopSynchronizationImportMessageMove", 'i', "DDDDD", 0},
    [0x79] = {"RopSetPropertiesNoReplicate", 'i', "B", 0},
    [0x7A] = {"RopDeletePropertiesNoReplicate", 'i', "T", 0},
    [0x7B] = {"RopGetStoreState", 'i', "", 0},
    [0x7E] = {"RopSynchronizationOpenCollector", 'o', "1", 0},
    [0x7F] = {"RopGetLocalReplicaIds", 'i', "4", 0},
    [0x80] = {"RopSynchronizationImportReadStateChanges", 'i', "B", 0},
    [0x82] = {"RopSynchronizationGetTransferState", 'o', "", 0},
    [0x86] = {"RopTellVersion", 'i', "222", 0},
    [0x89] = {"RopFreeBookmark", 'i', "B", 0},
    [0x90] = {"RopWriteAndCommitStream", 'i', "B", 2},
    [0x91] = {"RopHardDeleteMessages", 'i', "11I", 1},
    [0x92] = {"RopHardDeleteMessagesAndSubfolders", 'i', "11", 1},
    [0x93] = {"RopSetLocalReplicaMidsetDeleted", 'i', "B", 0},
    [0x9D] = {"RopFastTransferDestinationPutBufferExtended", 'i', "B", 13},
    [0xA3] = {"RopWriteStreamExtended", 'i', "B", 4},
};

/* RopGetMessageStatus is answered with RopSetMessageStatus's RopId ([MS-OXCROPS] 2.2.6.9.2). */
#define MH_ROP_GET_MESSAGE_STATUS 0x1Fu
#define MH_ROP_SET_MESSAGE_STATUS 0x20u

const char *mh_rop_other_name(uint8_t rop_id)
{
	return skip_rules[rop_id].name;
}

bool mh_rop_other_creates_object(uint8_t rop_id)
{
	return skip_rules[rop_id].head == 'o';
}

mh_rop_kind mh_rop_request_kind(uint8_t rop_id)
{
	if (mh_rop_request_known(rop_id))
		return MH_ROP_KIND_DECODED;
	switch (skip_rules[rop_id].head) {
	case 0:
		return MH_ROP_KIND_UNDEFINED;
	case 's':
		return MH_ROP_KIND_STATEFUL;
	default:
		return MH_ROP_KIND_SKIPPED;
	}
}

/* COUNT(2) elements of size bytes each. */
static mh_status skip_counted(mh_cursor *c, size_t size, const char *field)
{
	uint16_t n;
	ROP_TRY(mh_cursor_u16(c, &n, field));
	return mh_cursor_skip(c, (size_t)n * size, field);
}

/* A PT_ACTIONS value in a ROP buffer ([MS-OXORULE] 2.2.5): NoOfActions(2), then
 * ActionBlocks, each ActionLength(2) + that many bytes. */
static mh_status skip_actions(mh_cursor *c)
{
	uint16_t n, len;
	ROP_TRY(mh_cursor_u16(c, &n, "RuleAction.NoOfActions"));
	for (uint16_t i = 0; i < n; i++) {
		ROP_TRY(mh_cursor_u16(c, &len, "ActionBlock.ActionLength"));
		ROP_TRY(mh_cursor_skip(c, len, "ActionBlock"));
	}
	return S_OK;
}

/* COUNT(2) TaggedPropertyValues, read and dropped (they land in a). */
static mh_status skip_tagged_values(mh_cursor *c, mh_arena *a)
{
	uint16_t n;
	ROP_TRY(mh_cursor_u16(c, &n, "PropertyValueCount"));
	for (uint16_t i = 0; i < n; i++) {
		uint32_t tag;
		size_t at = mh_cursor_offset(c);
		ROP_TRY(mh_cursor_u32(c, &tag, "TaggedPropertyValue.PropertyTag"));
		uint16_t type = (uint16_t)PROP_TYPE(tag);
		if ((type & MVI_FLAG) == MVI_FLAG)
			type &= (uint16_t)~MVI_FLAG; /* one instance: a single value */
		mh_status st;
		if (type == PT_SRESTRICT) {
			mh_restriction *r;
			st = mh_restriction_pull(c, a, MH_PV_ROP, &r);
		} else if (type == PT_ACTIONS) {
			st = skip_actions(c);
		} else {
			union _PV v;
			st = mh_pv_value_pull(c, a, MH_PV_ROP, type, &v, NULL);
		}
		if (st != S_OK)
			return mh_error_prefix(st, "TaggedPropertyValue 0x%08lX at byte %zu",
			                       (unsigned long)tag, at);
	}
	return S_OK;
}

/* PropertyName ([MS-OXCDATA] 2.6.1): Kind, GUID, then LID (Kind 0) or NameSize + Name
 * (Kind 1); Kind 0xFF has neither. */
static mh_status skip_property_names(mh_cursor *c)
{
	uint16_t n;
	ROP_TRY(mh_cursor_u16(c, &n, "PropertyNameCount"));
	for (uint16_t i = 0; i < n; i++) {
		uint8_t kind, size;
		ROP_TRY(mh_cursor_u8(c, &kind, "PropertyName.Kind"));
		ROP_TRY(mh_cursor_skip(c, 16, "PropertyName.GUID"));
		if (kind == 0x00) {
			ROP_TRY(mh_cursor_skip(c, 4, "PropertyName.LID"));
		} else if (kind == 0x01) {
			ROP_TRY(mh_cursor_u8(c, &size, "PropertyName.NameSize"));
			ROP_TRY(mh_cursor_skip(c, size, "PropertyName.Name"));
		} else if (kind != 0xFF) {
			size_t at = mh_cursor_offset(c) - 17;
			c->pos -= 17;
			return mh_cursor_fail(
			    c,
			    "PropertyName.Kind 0x%02X at byte %zu is not 0x00, 0x01 "
			    "or 0xFF",
			    kind, at);
		}
	}
	return S_OK;
}

/* One field of a skip_rule body; *flag is the last 'f' byte (UseUnicode). */
static mh_status skip_field(mh_cursor *c, mh_arena *a, char op, uint8_t *flag)
{
	const uint8_t *p;
	const char *s;
	size_t units;
	uint8_t b;
	uint16_t w;
	uint32_t d;
	switch (op) {
	case '1':
	case '2':
	case '4':
	case '8':
		return mh_cursor_skip(c, (size_t)(op - '0'), "field");
	case 'G':
		return mh_cursor_skip(c, 16, "GUID");
	case 'L':
		return mh_cursor_skip(c, 24, "LongTermId");
	case 'T':
		return skip_counted(c, 4, "PropertyTag array");
	case 'I':
		return skip_counted(c, 8, "id array");
	case 'P':
		return skip_counted(c, 2, "PropertyId array");
	case 'B':
		ROP_TRY(mh_cursor_u16(c, &w, "size"));
		return mh_cursor_skip(c, w, "sized data");
	case 'D':
		ROP_TRY(mh_cursor_u32(c, &d, "size"));
		return mh_cursor_skip(c, d, "sized data");
	case 's':
		return mh_cursor_str8(c, SIZE_MAX, &s, &units, "string");
	case 'f':
		return mh_cursor_u8(c, flag, "UseUnicode");
	case 'u':
		if (*flag == 0)
			return mh_cursor_str8(c, SIZE_MAX, &s, &units, "string");
		return mh_cursor_str16(c, SIZE_MAX, &p, &units, "string");
	case 'W': /* WantWholeStore 0: FolderId and MessageId follow */
		ROP_TRY(mh_cursor_u8(c, &b, "WantWholeStore"));
		return b != 0 ? S_OK : mh_cursor_skip(c, 16, "FolderId, MessageId");
	case 'H': /* HasGuid nonzero: PropertyGuid follows */
		ROP_TRY(mh_cursor_u8(c, &b, "HasGuid"));
		return b == 0 ? S_OK : mh_cursor_skip(c, 16, "PropertyGuid");
	case 'X': /* BufferSize 0xBABE: MaximumBufferSize follows */
		ROP_TRY(mh_cursor_u16(c, &w, "BufferSize"));
		return w != MH_READ_STREAM_USE_MAX ? S_OK
		                                   : mh_cursor_skip(c, 2, "MaximumBufferSize");
	case 'N':
		return skip_property_names(c);
	case 'R': /* ModifyRecipientRow: RowId, RecipientType, RecipientRowSize + row */
		ROP_TRY(mh_cursor_u16(c, &w, "RowCount"));
		for (uint16_t i = 0; i < w; i++) {
			uint16_t size;
			ROP_TRY(mh_cursor_skip(c, 5, "ModifyRecipientRow"));
			ROP_TRY(mh_cursor_u16(c, &size, "RecipientRowSize"));
			ROP_TRY(mh_cursor_skip(c, size, "RecipientRow"));
		}
		return S_OK;
	case 'M': /* PermissionsData / RulesData: flags byte, then TaggedPropertyValues */
		ROP_TRY(mh_cursor_u16(c, &w, "row count"));
		for (uint16_t i = 0; i < w; i++) {
			ROP_TRY(mh_cursor_skip(c, 1, "DataFlags"));
			ROP_TRY(skip_tagged_values(c, a));
		}
		return S_OK;
	case 'V':
		return skip_tagged_values(c, a);
	default:
		return mh_error_set(MAPI_E_CALL_FAILED, -1, "rop: bad skip op '%c'", op);
	}
}

mh_status mh_rop_request_skip(mh_cursor *c, mh_arena *a, mh_rop_skip_info *out)
{
	size_t start = c->pos;
	size_t at = mh_cursor_offset(c);
	uint8_t id, idx0 = 0, idx1 = 0, flag = 0;
	memset(out, 0, sizeof(*out));
	ROP_TRY(mh_cursor_u8(c, &id, "RopId"));
	const skip_rule *rule = &skip_rules[id];
	if (mh_rop_request_kind(id) != MH_ROP_KIND_SKIPPED) {
		c->pos = start;
		return mh_error_set(MAPI_E_NO_SUPPORT, (int64_t)at,
		                    "ROP request id 0x%02X at byte %zu: its length cannot be known",
		                    id, at);
	}
	mh_status st = mh_cursor_u8(c, &out->logon_id, "LogonId");
	if (st == S_OK)
		st = mh_cursor_u8(c, &idx0, "HandleIndex");
	if (st == S_OK && rule->head != 'i')
		st = mh_cursor_u8(c, &idx1, "HandleIndex");
	if (st == S_OK && (st = mh_cursor_enter(c, rule->name)) == S_OK) {
		for (const char *op = rule->body; *op != '\0' && st == S_OK; op++)
			st = skip_field(c, a, *op, &flag);
		mh_cursor_leave(c);
	}
	if (st != S_OK) {
		if (st == MAPI_E_NO_SUPPORT)
			c->pos = start;
		return mh_error_prefix(st, "%s at byte %zu", rule->name, at);
	}
	out->rop_id = id;
	out->has_response = true; /* only RopRelease, which is decoded, has none */
	out->response_rop_id = id == MH_ROP_GET_MESSAGE_STATUS ? MH_ROP_SET_MESSAGE_STATUS : id;
	out->response_extra = rule->extra;
	out->in_handle_index = rule->head == 'r' ? idx1 : idx0;
	out->response_index = rule->head == 'o' ? idx1 : idx0;
	out->creates_object = rule->head == 'o';
	out->out_handle_index = out->creates_object ? idx1 : 0;
	out->size = c->pos - start;
	return S_OK;
}

/* A skipped request into r->u.unsupported, its bytes copied into a. */
static mh_status unsupported_pull(mh_cursor *c, mh_arena *a, mh_rop_request *r)
{
	mh_rop_skip_info si;
	size_t start = c->pos;
	void *raw = NULL;
	ROP_TRY(mh_rop_request_skip(c, a, &si));
	ROP_TRY(mh_arena_memdup(a, c->data + start, si.size, &raw));
	r->rop_id = si.rop_id;
	r->logon_id = si.logon_id;
	r->in_handle_index = si.in_handle_index;
	r->out_handle_index = si.out_handle_index;
	r->u.unsupported.response_rop_id = si.response_rop_id;
	r->u.unsupported.response_index = si.response_index;
	r->u.unsupported.response_extra = si.response_extra;
	r->u.unsupported.has_response = si.has_response;
	r->u.unsupported.raw.cb = (uint32_t)si.size;
	r->u.unsupported.raw.lpb = raw;
	return S_OK;
}

/* Writes a skipped request's bytes, once they are walked whole as that ROP. */
static void unsupported_push(mh_buf *b, const mh_rop_request *r)
{
	const SBinary *raw = &r->u.unsupported.raw;
	mh_arena a;
	mh_cursor c;
	mh_rop_skip_info si;
	if (raw->lpb == NULL || raw->cb == 0 || raw->lpb[0] != r->rop_id) {
		mh_buf_fail(b, MAPI_E_INVALID_PARAMETER);
		return;
	}
	mh_arena_init(&a, MH_ARENA_DEFAULT_CAP);
	mh_cursor_init(&c, raw->lpb, raw->cb, MAPI_E_CORRUPT_DATA);
	mh_status st = mh_rop_request_skip(&c, &a, &si);
	mh_arena_free(&a);
	if (st != S_OK || si.size != raw->cb) {
		mh_buf_fail(b, MAPI_E_INVALID_PARAMETER);
		return;
	}
	mh_buf_put(b, raw->lpb, raw->cb);
}

/* ---- decoded requests ------------------------------------------------------------------ */

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
	if (mh_rop_request_kind(id) == MH_ROP_KIND_SKIPPED) {
		c->pos = start;
		return unsupported_pull(c, a, out);
	}
	if (!mh_rop_request_known(id)) {
		c->pos = start;
		return mh_error_set(
		    MAPI_E_NO_SUPPORT, (int64_t)mh_cursor_offset(c),
		    "%s ROP request id 0x%02X at byte %zu: its length cannot be known",
		    mh_rop_request_kind(id) == MH_ROP_KIND_STATEFUL ? "stateful" : "unknown", id,
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
	if (mh_rop_request_kind(r->rop_id) == MH_ROP_KIND_SKIPPED) {
		unsupported_push(b, r);
		return;
	}
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
