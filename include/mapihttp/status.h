/*
 * MAPI status codes (MAPICode.h values), the Exchange "ec" codes a client
 * meets on the wire, their names, and the thread-local error detail.
 */
#ifndef MAPIHTTP_STATUS_H
#define MAPIHTTP_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/common.h"

MH_BEGIN_DECLS

/* Turns a 32-bit HRESULT bit pattern into an mh_status. */
#define MH_SCODE(x) ((mh_status)(uint32_t)(x))

/* True for MAPI_E_* values (severity bit set), as Windows' FAILED(). */
#define MH_FAILED(s)    ((mh_status)(s) < 0)
#define MH_SUCCEEDED(s) ((mh_status)(s) >= 0)

#define S_OK    ((mh_status)0)
#define S_FALSE ((mh_status)1)

/* MAKE_MAPI_E(x) = 0x80040000 | x; MAKE_MAPI_S(x) = 0x00040000 | x */
#define MAPI_E_CALL_FAILED             MH_SCODE(0x80004005u)
#define MAPI_E_NOT_ENOUGH_MEMORY       MH_SCODE(0x8007000Eu)
#define MAPI_E_INVALID_PARAMETER       MH_SCODE(0x80070057u)
#define MAPI_E_INTERFACE_NOT_SUPPORTED MH_SCODE(0x80004002u)
#define MAPI_E_NO_ACCESS               MH_SCODE(0x80070005u)

#define MAPI_E_NO_SUPPORT                  MH_SCODE(0x80040102u)
#define MAPI_E_BAD_CHARWIDTH               MH_SCODE(0x80040103u)
#define MAPI_E_STRING_TOO_LONG             MH_SCODE(0x80040105u)
#define MAPI_E_UNKNOWN_FLAGS               MH_SCODE(0x80040106u)
#define MAPI_E_INVALID_ENTRYID             MH_SCODE(0x80040107u)
#define MAPI_E_INVALID_OBJECT              MH_SCODE(0x80040108u)
#define MAPI_E_OBJECT_CHANGED              MH_SCODE(0x80040109u)
#define MAPI_E_OBJECT_DELETED              MH_SCODE(0x8004010Au)
#define MAPI_E_BUSY                        MH_SCODE(0x8004010Bu)
#define MAPI_E_NOT_ENOUGH_DISK             MH_SCODE(0x8004010Du)
#define MAPI_E_NOT_ENOUGH_RESOURCES        MH_SCODE(0x8004010Eu)
#define MAPI_E_NOT_FOUND                   MH_SCODE(0x8004010Fu)
#define MAPI_E_VERSION                     MH_SCODE(0x80040110u)
#define MAPI_E_LOGON_FAILED                MH_SCODE(0x80040111u)
#define MAPI_E_SESSION_LIMIT               MH_SCODE(0x80040112u)
#define MAPI_E_USER_CANCEL                 MH_SCODE(0x80040113u)
#define MAPI_E_UNABLE_TO_ABORT             MH_SCODE(0x80040114u)
#define MAPI_E_NETWORK_ERROR               MH_SCODE(0x80040115u)
#define MAPI_E_DISK_ERROR                  MH_SCODE(0x80040116u)
#define MAPI_E_TOO_COMPLEX                 MH_SCODE(0x80040117u)
#define MAPI_E_BAD_COLUMN                  MH_SCODE(0x80040118u)
#define MAPI_E_EXTENDED_ERROR              MH_SCODE(0x80040119u)
#define MAPI_E_COMPUTED                    MH_SCODE(0x8004011Au)
#define MAPI_E_CORRUPT_DATA                MH_SCODE(0x8004011Bu)
#define MAPI_E_UNCONFIGURED                MH_SCODE(0x8004011Cu)
#define MAPI_E_FAILONEPROVIDER             MH_SCODE(0x8004011Du)
#define MAPI_E_UNKNOWN_CPID                MH_SCODE(0x8004011Eu)
#define MAPI_E_UNKNOWN_LCID                MH_SCODE(0x8004011Fu)
#define MAPI_E_PASSWORD_CHANGE_REQUIRED    MH_SCODE(0x80040120u)
#define MAPI_E_PASSWORD_EXPIRED            MH_SCODE(0x80040121u)
#define MAPI_E_INVALID_WORKSTATION_ACCOUNT MH_SCODE(0x80040122u)
#define MAPI_E_INVALID_ACCESS_TIME         MH_SCODE(0x80040123u)
#define MAPI_E_ACCOUNT_DISABLED            MH_SCODE(0x80040124u)
#define MAPI_E_RECONNECTED                 MH_SCODE(0x80040125u)
#define MAPI_E_OFFLINE                     MH_SCODE(0x80040126u)
#define MAPI_E_END_OF_SESSION              MH_SCODE(0x80040200u)
#define MAPI_E_UNKNOWN_ENTRYID             MH_SCODE(0x80040201u)
#define MAPI_E_MISSING_REQUIRED_COLUMN     MH_SCODE(0x80040202u)
#define MAPI_E_PROFILE_DELETED             MH_SCODE(0x80040204u)
#define MAPI_E_BAD_VALUE                   MH_SCODE(0x80040301u)
#define MAPI_E_INVALID_TYPE                MH_SCODE(0x80040302u)
#define MAPI_E_TYPE_NO_SUPPORT             MH_SCODE(0x80040303u)
#define MAPI_E_UNEXPECTED_TYPE             MH_SCODE(0x80040304u)
#define MAPI_E_TOO_BIG                     MH_SCODE(0x80040305u)
#define MAPI_E_DECLINE_COPY                MH_SCODE(0x80040306u)
#define MAPI_E_UNEXPECTED_ID               MH_SCODE(0x80040307u)
#define MAPI_E_UNABLE_TO_COMPLETE          MH_SCODE(0x80040400u)
#define MAPI_E_TIMEOUT                     MH_SCODE(0x80040401u)
#define MAPI_E_TABLE_EMPTY                 MH_SCODE(0x80040402u)
#define MAPI_E_TABLE_TOO_BIG               MH_SCODE(0x80040403u)
#define MAPI_E_INVALID_BOOKMARK            MH_SCODE(0x80040405u)
#define MAPI_E_WAIT                        MH_SCODE(0x80040500u)
#define MAPI_E_CANCEL                      MH_SCODE(0x80040501u)
#define MAPI_E_NOT_ME                      MH_SCODE(0x80040502u)
#define MAPI_E_CORRUPT_STORE               MH_SCODE(0x80040600u)
#define MAPI_E_NOT_IN_QUEUE                MH_SCODE(0x80040601u)
#define MAPI_E_NO_SUPPRESS                 MH_SCODE(0x80040602u)
#define MAPI_E_COLLISION                   MH_SCODE(0x80040604u)
#define MAPI_E_NOT_INITIALIZED             MH_SCODE(0x80040605u)
#define MAPI_E_NON_STANDARD                MH_SCODE(0x80040606u)
#define MAPI_E_NO_RECIPIENTS               MH_SCODE(0x80040607u)
#define MAPI_E_SUBMITTED                   MH_SCODE(0x80040608u)
#define MAPI_E_HAS_FOLDERS                 MH_SCODE(0x80040609u)
#define MAPI_E_HAS_MESSAGES                MH_SCODE(0x8004060Au)
#define MAPI_E_FOLDER_CYCLE                MH_SCODE(0x8004060Bu)
#define MAPI_E_STORE_FULL                  MH_SCODE(0x8004060Cu)
#define MAPI_E_LOCKID_LIMIT                MH_SCODE(0x8004060Du)
#define MAPI_E_AMBIGUOUS_RECIP             MH_SCODE(0x80040700u)
#define MAPI_E_NAMED_PROP_QUOTA_EXCEEDED   MH_SCODE(0x80040900u)

#define MAPI_W_NO_SERVICE         MH_SCODE(0x00040203u)
#define MAPI_W_ERRORS_RETURNED    MH_SCODE(0x00040380u)
#define MAPI_W_POSITION_CHANGED   MH_SCODE(0x00040481u)
#define MAPI_W_APPROX_COUNT       MH_SCODE(0x00040482u)
#define MAPI_W_CANCEL_MESSAGE     MH_SCODE(0x00040580u)
#define MAPI_W_PARTIAL_COMPLETION MH_SCODE(0x00040680u)

/*
 * Exchange server codes ([MS-OXCDATA] 2.4) as they arrive in ROP and NSPI
 * responses. Many are numerically equal to a MAPI_E_* code; mh_status_str()
 * names such values by their MAPI name. The positive ones below are errors
 * although MH_FAILED() is false for them: test a ROP's ReturnValue != 0.
 */
#define ecNone                 S_OK
#define ecUnbindSuccess        MH_SCODE(0x00000001u)
#define ecUnbindFailure        MH_SCODE(0x00000002u)
#define ecProfileNotConfigured MH_SCODE(0x0000011Cu)
#define ecUnknownUser          MH_SCODE(0x000003EBu)
#define ecUnknownCodePage      MH_SCODE(0x000003EFu)
#define ecServerOOM            MH_SCODE(0x000003F0u)
#define ecLoginPerm            MH_SCODE(0x000003F2u)
#define ecWrongServer          MH_SCODE(0x00000478u)
#define ecBufferTooSmall       MH_SCODE(0x0000047Du)
#define ecServerPaused         MH_SCODE(0x0000047Fu)
#define ecRpcFormat            MH_SCODE(0x000004B6u)
#define ecNullObject           MH_SCODE(0x000004B9u)
#define ecClientVerDisallowed  MH_SCODE(0x000004DFu)
#define ecRpcHttpDisallowed    MH_SCODE(0x000004E0u)
#define ecCachedModeRequired   MH_SCODE(0x000004E1u)
#define ecMailboxInTransit     MH_SCODE(0x0000050Cu)
#define RPC_S_SERVER_TOO_BUSY  MH_SCODE(0x000006BBu)
#define RPC_X_BAD_STUB_DATA    MH_SCODE(0x000006F7u)
#define ecProtocolDisabled     MH_SCODE(0x000007D8u)
#define ecMailboxDisabled      MH_SCODE(0x0000096Cu)
#define ecNotEncrypted         MH_SCODE(0x00000970u)
#define ecWarnWithErrors       MAPI_W_ERRORS_RETURNED
#define ecError                MAPI_E_CALL_FAILED
#define ecNotSupported         MAPI_E_NO_SUPPORT
#define ecInvalidObject        MAPI_E_INVALID_OBJECT
#define ecObjectDeleted        MAPI_E_OBJECT_DELETED
#define ecOutOfResources       MAPI_E_NOT_ENOUGH_RESOURCES
#define ecNotFound             MAPI_E_NOT_FOUND
#define ecVersionMismatch      MAPI_E_VERSION
#define ecLoginFailure         MAPI_E_LOGON_FAILED
#define ecRpcFailed            MAPI_E_NETWORK_ERROR
#define ecTooComplex           MAPI_E_TOO_COMPLEX
#define ecInvalidCodepage      MAPI_E_UNKNOWN_CPID
#define ecInvalidLocale        MAPI_E_UNKNOWN_LCID
#define ecTooBig               MAPI_E_TOO_BIG
#define ecTableTooBig          MAPI_E_TABLE_TOO_BIG
#define ecInvalidBookmark      MAPI_E_INVALID_BOOKMARK
#define ecAmbiguousRecipient   MAPI_E_AMBIGUOUS_RECIP
#define ecAccessDenied         MAPI_E_NO_ACCESS
#define ecMAPIOOM              MAPI_E_NOT_ENOUGH_MEMORY
#define ecInvalidParameter     MAPI_E_INVALID_PARAMETER

/**
 * The name of a status: "MAPI_E_CALL_FAILED", "ecWrongServer", "S_OK".
 * Values shared by a MAPI and an Exchange name get the MAPI name.
 * Never NULL: an unknown value gives "0x%08X" in a thread-local buffer that
 * the next call on the same thread overwrites.
 */
MH_EXTERN const char *mh_status_str(mh_status status);

/**
 * A one-line meaning of a status ("the call failed for an unspecified
 * reason"). Never NULL: an unknown value gives "unknown status".
 */
MH_EXTERN const char *mh_status_meaning(mh_status status);

/** Error detail of the last failed call on this thread. */
typedef struct mh_error {
	mh_status status;    /**< the status the failed call returned */
	int64_t offset;      /**< byte offset into the decoded input, or -1 */
	const char *message; /**< one line, UTF-8, never NULL */
} mh_error;

/**
 * The detail of the last failed mapihttp call on the calling thread, or
 * NULL when the last call that clears it succeeded. The pointer stays
 * valid until the next mapihttp call on the same thread. An upper layer
 * never overwrites the message a lower layer left.
 */
MH_EXTERN const mh_error *mh_error_last(void);

/** Forgets this thread's error detail. */
MH_EXTERN void mh_error_clear(void);

MH_END_DECLS

#endif
