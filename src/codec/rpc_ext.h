/*
 * Extended buffers (MS-OXCRPC RPC_HEADER_EXT + payload): the envelope around
 * every ROP and auxiliary buffer. Builds chains (split, compress, XOR) and
 * reads them back into one contiguous payload.
 */
#ifndef MH_CODEC_RPC_EXT_H
#define MH_CODEC_RPC_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapihttp/status.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/cursor.h"

#define MH_RPC_EXT_HEADER_SIZE 8
/* Largest payload one extended buffer may carry (MS-OXCRPC 3.1.4.1.1, 3.1.4.2.1). */
#define MH_RPC_EXT_MAX_PAYLOAD 0x8000u

#define MH_RPC_EXT_VERSION 0x0000u
/* RPC_HEADER_EXT Flags */
#define MH_RPC_EXT_COMPRESSED 0x0001u
#define MH_RPC_EXT_XORMAGIC   0x0002u
#define MH_RPC_EXT_LAST       0x0004u

typedef struct mh_rpc_ext_header {
	uint16_t version;
	uint16_t flags;
	uint16_t size;        /* payload bytes as sent */
	uint16_t size_actual; /* payload bytes once XOR and compression are undone */
} mh_rpc_ext_header;

/* One extended buffer of a decoded chain. */
typedef struct mh_rpc_ext_segment {
	mh_rpc_ext_header hdr;
	size_t offset;       /* offset of its header in the input, for messages */
	const uint8_t *data; /* its plain payload, inside mh_rpc_ext_chain.data */
	size_t len;          /* == hdr.size_actual */
} mh_rpc_ext_segment;

/* A decoded chain; every pointer lives in the arena given to mh_rpc_ext_pull(). */
typedef struct mh_rpc_ext_chain {
	mh_rpc_ext_segment *segs;
	size_t n_segs;
	uint8_t *data; /* all plain payloads, concatenated (NULL when len is 0) */
	size_t len;
} mh_rpc_ext_chain;

typedef struct mh_rpc_ext_options {
	unsigned version;   /* 1 */
	bool compress;      /* try LZ77; used only where it makes a payload smaller */
	bool xor_magic;     /* obfuscate every payload */
	size_t max_payload; /* split above this many bytes; 0: MH_RPC_EXT_MAX_PAYLOAD */
} mh_rpc_ext_options;

/* Plain buffers, no transforms: what a minimal client sends. */
#define MH_RPC_EXT_OPTIONS_INIT    \
	{                          \
		1, false, false, 0 \
	}

/*
 * Reads one 8-byte RPC_HEADER_EXT without judging it.
 * @return S_OK; the cursor's error status (MAPI_E_CORRUPT_DATA as a rule)
 *         when fewer than 8 bytes remain.
 */
mh_status mh_rpc_ext_header_pull(mh_cursor *c, mh_rpc_ext_header *h);

/* Writes one RPC_HEADER_EXT as is (sticky errors in b). */
void mh_rpc_ext_header_push(mh_buf *b, const mh_rpc_ext_header *h);

/*
 * Writes one extended buffer: header + payload of len bytes (len <=
 * MH_RPC_EXT_MAX_PAYLOAD). Compressed only when opts->compress and the
 * compressed form is strictly smaller; XORed when opts->xor_magic; Last set
 * when last is true. opts NULL: MH_RPC_EXT_OPTIONS_INIT.
 * @return S_OK; MAPI_E_INVALID_PARAMETER when len exceeds the payload cap,
 *         opts->version is not 1, or payload is NULL with len > 0;
 *         MAPI_E_NOT_ENOUGH_MEMORY; or an earlier sticky error of b.
 */
mh_status mh_rpc_ext_push_one(mh_buf *b, const void *payload, size_t len,
                              const mh_rpc_ext_options *opts, bool last);

/*
 * Writes payload as a chain: pieces of at most opts->max_payload bytes (one
 * empty buffer when len is 0), each as by mh_rpc_ext_push_one, Last on the
 * final one. Only correct where the receiver concatenates (a ROP input
 * buffer larger than 32 KiB is not split this way: each ROP buffer must
 * fit one payload).
 * @return as mh_rpc_ext_push_one; MAPI_E_INVALID_PARAMETER also when
 *         opts->max_payload exceeds MH_RPC_EXT_MAX_PAYLOAD.
 */
mh_status mh_rpc_ext_push(mh_buf *b, const void *payload, size_t len,
                          const mh_rpc_ext_options *opts);

/*
 * Reads extended buffers from c up to and including the first one with
 * Last set, undoes XorMagic and LZ77 per buffer, and returns the segments
 * and their concatenated plain payloads in *out (arena memory). Bytes after
 * the Last buffer are left in c. Checks, each failing with the cursor's
 * error status and a message naming the field and byte offset:
 * Version 0; no flag bits other than 0x7; Size <= bytes remaining;
 * SizeActual <= max_actual (0: MH_RPC_EXT_MAX_PAYLOAD); Size == SizeActual
 * when not compressed; a compressed payload decompresses to exactly
 * SizeActual bytes; a Last buffer before the input ends. Compressed
 * buffers with Size >= SizeActual, which MS-OXCRPC forbids a sender to
 * write, are still accepted: they are unambiguous.
 * Headers are all checked before anything is allocated.
 * @return S_OK; c->err (MAPI_E_CORRUPT_DATA as a rule) for malformed
 *         input; MAPI_E_TOO_BIG or MAPI_E_NOT_ENOUGH_MEMORY from the arena.
 */
mh_status mh_rpc_ext_pull(mh_cursor *c, mh_arena *a, size_t max_actual, mh_rpc_ext_chain *out);

/*
 * mh_rpc_ext_pull over exactly len bytes at data (e.g. a RopBuffer field),
 * failing with MAPI_E_CORRUPT_DATA when bytes follow the Last buffer.
 * base is the offset of data in the enclosing body, for messages.
 * @return as mh_rpc_ext_pull.
 */
mh_status mh_rpc_ext_decode(const uint8_t *data, size_t len, size_t base, mh_arena *a,
                            size_t max_actual, mh_rpc_ext_chain *out);

#endif
