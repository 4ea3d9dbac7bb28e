/*
 * Internals shared by the EntryID codec's two halves: the store EntryID
 * code (entryid_store.c) and the dispatcher and other kinds (entryid.c).
 */
#ifndef MH_CODEC_ENTRYID_INTERNAL_H
#define MH_CODEC_ENTRYID_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapihttp/entryid.h"
#include "util/buf.h"
#include "util/cursor.h"

/*
 * Length caps. Exchange DNs and server names are far below 1 KiB; an SMTP
 * address is at most 254 characters and a DNS name 253, so 512 UTF-16 units
 * leave room while bounding what a hostile EntryID can make us allocate.
 */
#define MH_EID_MAX_STR8        1024u /* ServerShortname, MailboxDN, ServerDN, X500DN */
#define MH_EID_MAX_STR16       512u  /* v3 SmtpAddress, v2 ServerFQDN (UTF-16 units) */
#define MH_EID_MAX_ONE_OFF_STR 1024u /* one-off strings: bytes, or UTF-16 units */

/* Fixed parts of a wrapped store EntryID. */
#define MH_EID_STORE_HEADER     60u /* through WrappedType; ServerShortname follows */
#define MH_EID_DLL_OFFSET       22u
#define MH_EID_DLL_FIELD        14u
#define MH_EID_V2_HEADER        20u /* Magic, Size, Version, OffsetDN, OffsetFQDN */
#define MH_EID_V3_HEADER        16u /* Magic, Size, Version, OffsetSmtpAddress */
#define MH_EID_TRAILER_RESERVED 2u

/* Decoding state shared by one parse: the MAPI buffer everything is chained to. */
typedef struct mh_eid_ctx {
	void *root;
	bool fatal; /* out of memory or nested too deep: do not downgrade to "unrecognised" */
} mh_eid_ctx;

/* Copies n bytes (plus a NUL) into a block chained to ctx->root. */
mh_status mh_eid_dup(mh_eid_ctx *ctx, const void *p, size_t n, char **out);
/* Copies n bytes into an SBinary chained to ctx->root (lpb NULL when n is 0). */
mh_status mh_eid_dup_bin(mh_eid_ctx *ctx, const uint8_t *p, size_t n, SBinary *out);
/*
 * Converts units UTF-16LE code units read from the input at absolute offset
 * off into a UTF-8 copy chained to ctx->root; MAPI_E_CORRUPT_DATA naming
 * field and offset when the text is not valid UTF-16.
 */
mh_status mh_eid_dup_utf16(mh_eid_ctx *ctx, const uint8_t *p, size_t units, size_t off,
                           const char *field, char **out);

/* ASCII case-insensitive equality, independent of the C locale. */
bool mh_eid_ascii_ieq(const char *a, const char *b);

/*
 * Decodes the whole of c (positioned at the EntryID's first byte) as a
 * store EntryID into s; bytes after a v1 EntryID go to *trailing.
 */
mh_status mh_eid_store_decode(mh_cursor *c, mh_eid_ctx *ctx, mh_store_entryid *s,
                              SBinary *trailing);

/* Appends the canonical encoding of s to b. */
mh_status mh_eid_store_encode(mh_buf *b, const mh_store_entryid *s);

/* Copies an mh_buf's bytes into a new MAPI buffer for an ENTRYID result. */
mh_status mh_eid_finish(mh_buf *b, uint32_t *cb, ENTRYID **eid);

#endif
