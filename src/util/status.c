/*
 * Names and one-line meanings of MAPI status codes and of the Exchange
 * "ec" codes a client meets on the wire.
 */
#include <stdio.h>

#include "mapihttp/status.h"

typedef struct status_entry {
	uint32_t value;
	const char *name;
	const char *meaning;
} status_entry;

/*
 * Sorted by value as an unsigned 32-bit number, for the binary search in
 * find(). A value shared by a MAPI and an Exchange name appears once, under
 * the MAPI name; the meaning names the Exchange alias.
 */
static const status_entry status_table[] = {
    {0x00000000u, "S_OK", "success (Exchange ecNone)"},
    {0x00000001u, "S_FALSE",
     "success with a negative or alternate answer; from NSPI Unbind it is ecUnbindSuccess"},
    {0x00000002u, "ecUnbindFailure", "NSPI Unbind could not release the address-book session"},
    {0x0000011Cu, "ecProfileNotConfigured",
     "logon to a store that is not the user's home store without "
     "OPENSTORE_USE_ADMIN_PRIVILEGE"},
    {0x000003EBu, "ecUnknownUser", "the user or mailbox DN does not name a known, enabled mailbox"},
    {0x000003EFu, "ecUnknownCodePage", "the server does not support the requested code page"},
    {0x000003F0u, "ecServerOOM", "the server ran out of memory"},
    {0x000003F2u, "ecLoginPerm",
     "the caller lacks the right for this logon (admin logon without privilege, another "
     "user's archive, or a no-rights logon on Exchange 2010)"},
    {0x00000478u, "ecWrongServer",
     "the mailbox is hosted elsewhere; RopLogon returns the DN of the server to reconnect to"},
    {0x0000047Du, "ecBufferTooSmall",
     "the response buffer cannot hold even one result, such as a single table row"},
    {0x0000047Fu, "ecServerPaused",
     "too many logons to a mailbox on another server in a short time; the server refuses for "
     "now"},
    {0x000004B6u, "ecRpcFormat", "the server could not parse the ROP request buffer"},
    {0x000004B9u, "ecNullObject", "a ROP referred to a handle index that is unset or invalid"},
    {0x000004DFu, "ecClientVerDisallowed", "the server refuses this client version"},
    {0x000004E0u, "ecRpcHttpDisallowed",
     "the server does not allow this client to connect over HTTP"},
    {0x000004E1u, "ecCachedModeRequired", "the server accepts only clients in cached mode"},
    {0x0000050Cu, "ecMailboxInTransit", "the mailbox is being moved; try again later"},
    {0x000006BBu, "RPC_S_SERVER_TOO_BUSY", "the server is too busy to handle the request"},
    {0x000006F7u, "RPC_X_BAD_STUB_DATA",
     "the request was malformed or exceeded a size limit of the server"},
    {0x000007D8u, "ecProtocolDisabled", "MAPI access is disabled for this user"},
    {0x0000096Cu, "ecMailboxDisabled", "the mailbox is disabled"},
    {0x00000970u, "ecNotEncrypted", "the server requires an encrypted connection"},
    {0x00040203u, "MAPI_W_NO_SERVICE", "some message services of the profile could not start"},
    {0x00040380u, "MAPI_W_ERRORS_RETURNED",
     "partial success: some of the values came back as errors (ecWarnWithErrors)"},
    {0x00040481u, "MAPI_W_POSITION_CHANGED",
     "the table's position changed since the bookmark was set"},
    {0x00040482u, "MAPI_W_APPROX_COUNT", "the row count or position is only an estimate"},
    {0x00040580u, "MAPI_W_CANCEL_MESSAGE", "the message was cancelled"},
    {0x00040680u, "MAPI_W_PARTIAL_COMPLETION", "the operation completed only in part"},
    {0x80004002u, "MAPI_E_INTERFACE_NOT_SUPPORTED",
     "the object does not implement the requested interface (E_NOINTERFACE)"},
    {0x80004005u, "MAPI_E_CALL_FAILED",
     "the call failed for an unspecified reason (E_FAIL, ecError); over MAPI/HTTP also what "
     "OpenMsgStore returns for a v1 store EntryID"},
    {0x80040102u, "MAPI_E_NO_SUPPORT",
     "the object or server does not support this operation (ecNotSupported)"},
    {0x80040103u, "MAPI_E_BAD_CHARWIDTH",
     "the string width asked for (MAPI_UNICODE or not) is not supported here"},
    {0x80040105u, "MAPI_E_STRING_TOO_LONG", "a string is longer than the object accepts"},
    {0x80040106u, "MAPI_E_UNKNOWN_FLAGS", "a flags argument has bits the call does not define"},
    {0x80040107u, "MAPI_E_INVALID_ENTRYID",
     "an entry identifier is malformed or of a kind this provider cannot read"},
    {0x80040108u, "MAPI_E_INVALID_OBJECT",
     "the object or handle is no longer usable, e.g. already released (ecInvalidObject)"},
    {0x80040109u, "MAPI_E_OBJECT_CHANGED",
     "the object was changed by someone else since it was opened"},
    {0x8004010Au, "MAPI_E_OBJECT_DELETED",
     "the object was deleted since it was opened (ecObjectDeleted)"},
    {0x8004010Bu, "MAPI_E_BUSY", "the provider is busy with another operation; try again later"},
    {0x8004010Du, "MAPI_E_NOT_ENOUGH_DISK", "there is not enough disk space to finish"},
    {0x8004010Eu, "MAPI_E_NOT_ENOUGH_RESOURCES",
     "the server or system ran out of a resource other than memory (ecOutOfResources)"},
    {0x8004010Fu, "MAPI_E_NOT_FOUND",
     "the requested object, property or row does not exist (ecNotFound)"},
    {0x80040110u, "MAPI_E_VERSION",
     "the versions of the two sides are incompatible (ecVersionMismatch)"},
    {0x80040111u, "MAPI_E_LOGON_FAILED",
     "the logon failed: credentials were refused or the mailbox could not be opened "
     "(ecLoginFailure)"},
    {0x80040112u, "MAPI_E_SESSION_LIMIT", "no more sessions can be opened"},
    {0x80040113u, "MAPI_E_USER_CANCEL", "the user cancelled the operation"},
    {0x80040114u, "MAPI_E_UNABLE_TO_ABORT", "the operation could not be cancelled"},
    {0x80040115u, "MAPI_E_NETWORK_ERROR",
     "a network or RPC failure stopped the call (ecRpcFailed)"},
    {0x80040116u, "MAPI_E_DISK_ERROR", "reading from or writing to disk failed"},
    {0x80040117u, "MAPI_E_TOO_COMPLEX",
     "the request or restriction is too complex for the server (ecTooComplex)"},
    {0x80040118u, "MAPI_E_BAD_COLUMN", "a column of the request is not valid for this table"},
    {0x80040119u, "MAPI_E_EXTENDED_ERROR",
     "the provider reports an error whose detail it keeps itself"},
    {0x8004011Au, "MAPI_E_COMPUTED",
     "the property is computed by the provider and cannot be written"},
    {0x8004011Bu, "MAPI_E_CORRUPT_DATA",
     "data received or stored is malformed and cannot be decoded"},
    {0x8004011Cu, "MAPI_E_UNCONFIGURED",
     "the profile or service lacks settings it needs to proceed"},
    {0x8004011Du, "MAPI_E_FAILONEPROVIDER", "one of the session's providers failed"},
    {0x8004011Eu, "MAPI_E_UNKNOWN_CPID", "the code page is not supported (ecInvalidCodepage)"},
    {0x8004011Fu, "MAPI_E_UNKNOWN_LCID", "the locale is not supported (ecInvalidLocale)"},
    {0x80040120u, "MAPI_E_PASSWORD_CHANGE_REQUIRED",
     "the account's password must be changed before it can log on"},
    {0x80040121u, "MAPI_E_PASSWORD_EXPIRED", "the account's password has expired"},
    {0x80040122u, "MAPI_E_INVALID_WORKSTATION_ACCOUNT",
     "the account may not log on from this workstation"},
    {0x80040123u, "MAPI_E_INVALID_ACCESS_TIME", "the account may not log on at this time"},
    {0x80040124u, "MAPI_E_ACCOUNT_DISABLED", "the account is disabled"},
    {0x80040125u, "MAPI_E_RECONNECTED",
     "the connection was lost and re-established; open objects may need reopening"},
    {0x80040126u, "MAPI_E_OFFLINE", "the store is offline and the request needs the server"},
    {0x80040200u, "MAPI_E_END_OF_SESSION", "the session has ended or expired"},
    {0x80040201u, "MAPI_E_UNKNOWN_ENTRYID",
     "no provider of the session recognises this entry identifier"},
    {0x80040202u, "MAPI_E_MISSING_REQUIRED_COLUMN", "a column the operation needs is missing"},
    {0x80040204u, "MAPI_E_PROFILE_DELETED", "the profile was deleted while in use"},
    {0x80040301u, "MAPI_E_BAD_VALUE", "a property value is not acceptable for its property"},
    {0x80040302u, "MAPI_E_INVALID_TYPE", "a property type is invalid or not handled here"},
    {0x80040303u, "MAPI_E_TYPE_NO_SUPPORT", "the object does not support this property type"},
    {0x80040304u, "MAPI_E_UNEXPECTED_TYPE",
     "a property has a different type from the one the call expects"},
    {0x80040305u, "MAPI_E_TOO_BIG", "a value or result is larger than allowed (ecTooBig)"},
    {0x80040306u, "MAPI_E_DECLINE_COPY",
     "the provider declined to copy; the caller should copy by itself"},
    {0x80040307u, "MAPI_E_UNEXPECTED_ID", "a property id is not one the call expects"},
    {0x80040400u, "MAPI_E_UNABLE_TO_COMPLETE", "the table operation could not be completed"},
    {0x80040401u, "MAPI_E_TIMEOUT", "the operation did not finish in the time allowed"},
    {0x80040402u, "MAPI_E_TABLE_EMPTY", "the table has no rows"},
    {0x80040403u, "MAPI_E_TABLE_TOO_BIG",
     "the table has too many rows for the operation (ecTableTooBig)"},
    {0x80040405u, "MAPI_E_INVALID_BOOKMARK",
     "the bookmark is not valid; from NSPI, the address-book container was not found "
     "(ecInvalidBookmark)"},
    {0x80040500u, "MAPI_E_WAIT", "the wait ended before the event occurred"},
    {0x80040501u, "MAPI_E_CANCEL", "the operation was cancelled"},
    {0x80040502u, "MAPI_E_NOT_ME", "the message is not for this transport provider"},
    {0x80040600u, "MAPI_E_CORRUPT_STORE", "the message store is damaged"},
    {0x80040601u, "MAPI_E_NOT_IN_QUEUE", "the message is not in the outgoing queue"},
    {0x80040602u, "MAPI_E_NO_SUPPRESS", "suppressing read receipts is not supported"},
    {0x80040604u, "MAPI_E_COLLISION", "an object with this name already exists"},
    {0x80040605u, "MAPI_E_NOT_INITIALIZED", "the object or subsystem has not been initialised"},
    {0x80040606u, "MAPI_E_NON_STANDARD", "a provider-specific operation is not supported"},
    {0x80040607u, "MAPI_E_NO_RECIPIENTS", "the message has no recipients"},
    {0x80040608u, "MAPI_E_SUBMITTED", "the message has already been submitted"},
    {0x80040609u, "MAPI_E_HAS_FOLDERS", "the folder still contains subfolders"},
    {0x8004060Au, "MAPI_E_HAS_MESSAGES", "the folder still contains messages"},
    {0x8004060Bu, "MAPI_E_FOLDER_CYCLE", "the move or copy would put a folder inside itself"},
    {0x8004060Cu, "MAPI_E_STORE_FULL", "the mailbox has reached its size quota"},
    {0x8004060Du, "MAPI_E_LOCKID_LIMIT", "too many locks are held"},
    {0x80040700u, "MAPI_E_AMBIGUOUS_RECIP",
     "a name matches more than one recipient (ecAmbiguousRecipient)"},
    {0x80040900u, "MAPI_E_NAMED_PROP_QUOTA_EXCEEDED",
     "the store has no room left for new named properties"},
    {0x80070005u, "MAPI_E_NO_ACCESS",
     "access denied: the caller lacks the rights for this object (E_ACCESSDENIED, "
     "ecAccessDenied)"},
    {0x8007000Eu, "MAPI_E_NOT_ENOUGH_MEMORY", "memory ran out (E_OUTOFMEMORY, ecMAPIOOM)"},
    {0x80070057u, "MAPI_E_INVALID_PARAMETER",
     "an argument is invalid (E_INVALIDARG, ecInvalidParameter); RopLogon also returns it for "
     "an extra mailbox without USE_PER_MDB_REPLID_MAPPING"},
};

static const status_entry *find(mh_status status)
{
	uint32_t v = (uint32_t)status;
	size_t lo = 0, hi = sizeof(status_table) / sizeof(status_table[0]);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (status_table[mid].value == v)
			return &status_table[mid];
		if (status_table[mid].value < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *mh_status_str(mh_status status)
{
	/* Per thread, so concurrent callers never see each other's digits. */
	static _Thread_local char unknown[11];
	const status_entry *e = find(status);
	if (e != NULL)
		return e->name;
	snprintf(unknown, sizeof(unknown), "0x%08X", (unsigned)(uint32_t)status);
	return unknown;
}

const char *mh_status_meaning(mh_status status)
{
	const status_entry *e = find(status);
	return e != NULL ? e->meaning : "unknown status";
}
