/*
 * MAPI's core vocabulary with MAPI's own names and values: property types
 * and tags, SPropValue, SBinary, SPropTagArray, ENTRYID, OPENSTORE_* and
 * MDB_* flags. Strings of type PT_UNICODE are UTF-8 in this API (they are
 * UTF-16LE only on the wire); PT_STRING8 values are 8-bit strings passed
 * through unchanged.
 */
#ifndef MAPIHTTP_MAPIDEFS_H
#define MAPIHTTP_MAPIDEFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapihttp/common.h"

MH_BEGIN_DECLS

/* Property tags: (id << 16) | type */
#define PROP_TYPE_MASK              0x0000FFFFu
#define PROP_TYPE(tag)              ((uint32_t)(tag)&PROP_TYPE_MASK)
#define PROP_ID(tag)                ((uint32_t)(tag) >> 16)
#define PROP_TAG(type, id)          ((((uint32_t)(id)) << 16) | ((uint32_t)(type)))
#define CHANGE_PROP_TYPE(tag, type) (((uint32_t)(tag)&0xFFFF0000u) | (uint32_t)(type))
#define PROP_ID_NULL                0
#define PROP_ID_INVALID             0xFFFF
#define PR_NULL                     PROP_TAG(PT_NULL, PROP_ID_NULL)

#define PT_UNSPECIFIED 0x0000u
#define PT_NULL        0x0001u
#define PT_I2          0x0002u
#define PT_SHORT       PT_I2
#define PT_LONG        0x0003u
#define PT_I4          PT_LONG
#define PT_R4          0x0004u
#define PT_FLOAT       PT_R4
#define PT_DOUBLE      0x0005u
#define PT_R8          PT_DOUBLE
#define PT_CURRENCY    0x0006u
#define PT_APPTIME     0x0007u
#define PT_ERROR       0x000Au
#define PT_BOOLEAN     0x000Bu
#define PT_OBJECT      0x000Du
#define PT_I8          0x0014u
#define PT_LONGLONG    PT_I8
#define PT_STRING8     0x001Eu
#define PT_UNICODE     0x001Fu
#define PT_SYSTIME     0x0040u
#define PT_CLSID       0x0048u
#define PT_SVREID      0x00FBu
#define PT_SRESTRICT   0x00FDu
#define PT_ACTIONS     0x00FEu
#define PT_BINARY      0x0102u

#define MV_FLAG       0x1000u
#define MV_INSTANCE   0x2000u
#define MVI_FLAG      (MV_FLAG | MV_INSTANCE)
#define MVI_PROP(tag) ((uint32_t)(tag) | MVI_FLAG)

#define PT_MV_I2       (MV_FLAG | PT_I2)
#define PT_MV_SHORT    PT_MV_I2
#define PT_MV_LONG     (MV_FLAG | PT_LONG)
#define PT_MV_I4       PT_MV_LONG
#define PT_MV_R4       (MV_FLAG | PT_R4)
#define PT_MV_FLOAT    PT_MV_R4
#define PT_MV_DOUBLE   (MV_FLAG | PT_DOUBLE)
#define PT_MV_R8       PT_MV_DOUBLE
#define PT_MV_CURRENCY (MV_FLAG | PT_CURRENCY)
#define PT_MV_APPTIME  (MV_FLAG | PT_APPTIME)
#define PT_MV_I8       (MV_FLAG | PT_I8)
#define PT_MV_LONGLONG PT_MV_I8
#define PT_MV_STRING8  (MV_FLAG | PT_STRING8)
#define PT_MV_UNICODE  (MV_FLAG | PT_UNICODE)
#define PT_MV_SYSTIME  (MV_FLAG | PT_SYSTIME)
#define PT_MV_CLSID    (MV_FLAG | PT_CLSID)
#define PT_MV_BINARY   (MV_FLAG | PT_BINARY)

/* A 16-byte MAPI provider UID, bytes in wire order. */
typedef struct MAPIUID {
	uint8_t ab[16];
} MAPIUID;

/* A GUID with its fields as integers; on the wire Data1..3 are little-endian. */
typedef struct GUID {
	uint32_t Data1;
	uint16_t Data2;
	uint16_t Data3;
	uint8_t Data4[8];
} GUID;

/* 100-nanosecond intervals since 1601-01-01 UTC. */
typedef struct FILETIME {
	uint32_t dwLowDateTime;
	uint32_t dwHighDateTime;
} FILETIME;

typedef struct SBinary {
	uint32_t cb;
	uint8_t *lpb;
} SBinary;

typedef struct SShortArray {
	uint32_t cValues;
	int16_t *lpi;
} SShortArray;

typedef struct SLongArray {
	uint32_t cValues;
	int32_t *lpl;
} SLongArray;

typedef struct SRealArray {
	uint32_t cValues;
	float *lpflt;
} SRealArray;

typedef struct SDoubleArray {
	uint32_t cValues;
	double *lpdbl;
} SDoubleArray;

typedef struct SCurrencyArray {
	uint32_t cValues;
	int64_t *lpcur;
} SCurrencyArray;

typedef struct SAppTimeArray {
	uint32_t cValues;
	double *lpat;
} SAppTimeArray;

typedef struct SDateTimeArray {
	uint32_t cValues;
	FILETIME *lpft;
} SDateTimeArray;

typedef struct SBinaryArray {
	uint32_t cValues;
	SBinary *lpbin;
} SBinaryArray;

/* Multi-valued PT_STRING8: 8-bit strings. */
typedef struct SLPSTRArray {
	uint32_t cValues;
	char **lppszA;
} SLPSTRArray;

/* Multi-valued PT_UNICODE: UTF-8 strings in this API. */
typedef struct SWStringArray {
	uint32_t cValues;
	char **lppszW;
} SWStringArray;

typedef struct SGuidArray {
	uint32_t cValues;
	GUID *lpguid;
} SGuidArray;

typedef struct SLargeIntegerArray {
	uint32_t cValues;
	int64_t *lpli;
} SLargeIntegerArray;

/*
 * The value of a property; the member in use follows PROP_TYPE(ulPropTag).
 * lpszW is UTF-8 (see the file comment). b is nonzero for TRUE.
 */
typedef union _PV {
	int16_t i;          /* PT_I2 */
	int32_t l;          /* PT_LONG */
	uint32_t ul;        /* PT_LONG, unsigned view */
	float flt;          /* PT_R4 */
	double dbl;         /* PT_DOUBLE */
	uint16_t b;         /* PT_BOOLEAN */
	int64_t cur;        /* PT_CURRENCY, 10^-4 units */
	double at;          /* PT_APPTIME */
	FILETIME ft;        /* PT_SYSTIME */
	char *lpszA;        /* PT_STRING8 */
	SBinary bin;        /* PT_BINARY, PT_SVREID */
	char *lpszW;        /* PT_UNICODE, UTF-8 */
	GUID *lpguid;       /* PT_CLSID */
	int64_t li;         /* PT_I8 */
	SShortArray MVi;    /* PT_MV_I2 */
	SLongArray MVl;     /* PT_MV_LONG */
	SRealArray MVflt;   /* PT_MV_R4 */
	SDoubleArray MVdbl; /* PT_MV_DOUBLE */
	SCurrencyArray MVcur;
	SAppTimeArray MVat;
	SDateTimeArray MVft;
	SBinaryArray MVbin;
	SLPSTRArray MVszA;
	SWStringArray MVszW;
	SGuidArray MVguid;
	SLargeIntegerArray MVli;
	int32_t err; /* PT_ERROR: an mh_status */
	int32_t x;   /* PT_NULL, PT_OBJECT */
} __UPV;

typedef struct SPropValue {
	uint32_t ulPropTag;
	uint32_t dwAlignPad;
	union _PV Value;
} SPropValue, *LPSPropValue;

/* A counted array of property tags (MAPI's SPropTagArray). */
typedef struct SPropTagArray {
	uint32_t cValues;
	uint32_t aulPropTag[];
} SPropTagArray;

#define CbNewSPropTagArray(n) (offsetof(SPropTagArray, aulPropTag) + (size_t)(n) * sizeof(uint32_t))

/* An entry identifier: 4 flag bytes, then provider-specific bytes. */
typedef struct ENTRYID {
	uint8_t abFlags[4];
	uint8_t ab[];
} ENTRYID, *LPENTRYID;

#define CbNewENTRYID(cb) (offsetof(ENTRYID, ab) + (size_t)(cb))

/* abFlags[0] of short-term and ephemeral entry identifiers */
#define MAPI_SHORTTERM   0x80u
#define MAPI_NOTRECIP    0x40u
#define MAPI_THISSESSION 0x20u
#define MAPI_NOW         0x10u
#define MAPI_NOTRESERVED 0x08u
/* abFlags[1] */
#define MAPI_COMPOUND 0x80u

/* OPENSTORE_* (EdkMdb.h); the same bits as RopLogon's OpenFlags. */
#define OPENSTORE_USE_ADMIN_PRIVILEGE              0x00000001u
#define OPENSTORE_PUBLIC                           0x00000002u
#define OPENSTORE_HOME_LOGON                       0x00000004u
#define OPENSTORE_TAKE_OWNERSHIP                   0x00000008u
#define OPENSTORE_OVERRIDE_HOME_MDB                0x00000010u
#define OPENSTORE_TRANSPORT                        0x00000020u
#define OPENSTORE_REMOTE_TRANSPORT                 0x00000040u
#define OPENSTORE_INTERNET_ANONYMOUS               0x00000080u
#define OPENSTORE_ALTERNATE_SERVER                 0x00000100u
#define OPENSTORE_IGNORE_HOME_MDB                  0x00000200u
#define OPENSTORE_NO_MAIL                          0x00000400u
#define OPENSTORE_OVERRIDE_LAST_MODIFIER           0x00000800u
#define OPENSTORE_CALLBACK_LOGON                   0x00001000u
#define OPENSTORE_LOCAL                            0x00002000u
#define OPENSTORE_FAIL_IF_NO_MAILBOX               0x00004000u
#define OPENSTORE_CACHE_EXCHANGE                   0x00008000u
#define OPENSTORE_CLI_WITH_NAMEDPROP_FIX           0x00010000u
#define OPENSTORE_ENABLE_LAZY_LOGGING              0x00020000u
#define OPENSTORE_CLI_WITH_REPLID_GUID_MAPPING_FIX 0x00040000u
#define OPENSTORE_NO_LOCALIZATION                  0x00080000u
#define OPENSTORE_RESTORE_DATABASE                 0x00100000u
#define OPENSTORE_XFOREST_MOVE                     0x00200000u

/* IMAPISession::OpenMsgStore flags (MAPIDefS.h) */
#define MAPI_BEST_ACCESS     0x00000010u
#define MAPI_MODIFY          0x00000001u
#define MAPI_DEFERRED_ERRORS 0x00000008u
#define MAPI_UNICODE         0x80000000u
#define MDB_NO_DIALOG        0x00000001u
#define MDB_WRITE            0x00000004u
#define MDB_TEMPORARY        0x00000020u
#define MDB_NO_MAIL          0x00000080u
#define MDB_ONLINE           0x00000100u

/* Store EntryID version numbers and trailer magics (entryid.h uses them). */
#define MDB_STORE_EID_V1_VERSION 0x0u
#define MDB_STORE_EID_V2_VERSION 0x1u
#define MDB_STORE_EID_V3_VERSION 0x2u
#define MDB_STORE_EID_V2_MAGIC   0xF32135D8u
#define MDB_STORE_EID_V3_MAGIC   0xF43246E9u

/* PR_PROFILE_TYPE values */
#define PROFILE_PRIMARY_USER 1u
#define PROFILE_DELEGATE     2u
#define PROFILE_PUBLIC_STORE 3u
#define PROFILE_SUBSCRIPTION 4u

/* Address-book display types (PR_DISPLAY_TYPE) */
#define DT_MAILUSER         0x00000000u
#define DT_DISTLIST         0x00000001u
#define DT_FORUM            0x00000002u
#define DT_AGENT            0x00000003u
#define DT_ORGANIZATION     0x00000004u
#define DT_PRIVATE_DISTLIST 0x00000005u
#define DT_REMOTE_MAILUSER  0x00000006u
#define DT_CONTAINER        0x00000100u
#define DT_TEMPLATE         0x00000101u
#define DT_ADDRESS_TEMPLATE 0x00000102u
#define DT_SEARCH           0x00000200u

MH_END_DECLS

#endif
