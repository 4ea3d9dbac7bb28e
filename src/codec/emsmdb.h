/*
 * EMSMDB request and response bodies of MAPI/HTTP (MS-OXCMAPIHTTP 2.2.4):
 * Connect, Execute, Disconnect, NotificationWait, both directions.
 */
#ifndef MH_CODEC_EMSMDB_H
#define MH_CODEC_EMSMDB_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/status.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/cursor.h"

/* Longest UserDN / DnPrefix (bytes) and DisplayName (UTF-16 units) we accept. */
#define MH_EMSMDB_MAX_DN   2048
#define MH_EMSMDB_MAX_NAME 2048

/* Execute request Flags: how the client wants its response built. */
#define MH_EXECUTE_NO_COMPRESSION 0x00000001u
#define MH_EXECUTE_NO_XORMAGIC    0x00000002u
#define MH_EXECUTE_CHAIN          0x00000004u

/* Connect request Flags */
#define MH_CONNECT_ADMIN        0x00000001u
#define MH_CONNECT_IGNORE_NO_PF 0x00008000u

/*
 * A byte range: an auxiliary buffer (an extended buffer chain, kept
 * opaque here) or a RopBuffer. After a pull, data points into the arena.
 */
typedef struct mh_emsmdb_bytes {
	const uint8_t *data; /* NULL when len is 0 */
	uint32_t len;
} mh_emsmdb_bytes;

/*
 * Strings: UserDN and DnPrefix are 8-bit ASCII on the wire (bytes >= 0x80
 * are refused both ways, so they are also valid UTF-8); DisplayName is
 * UTF-16LE on the wire and UTF-8 here. NULL pushes as the empty string;
 * a pull never gives NULL.
 */
typedef struct mh_emsmdb_connect_request {
	const char *user_dn;
	uint32_t flags;
	uint32_t default_code_page;
	uint32_t lcid_sort;
	uint32_t lcid_string;
	mh_emsmdb_bytes aux;
} mh_emsmdb_connect_request;

/*
 * status_code 0: the success form, every field. status_code != 0: the
 * failure form, StatusCode + AuxBuf only; the other fields are zero/empty.
 */
typedef struct mh_emsmdb_connect_response {
	uint32_t status_code;
	uint32_t error_code;
	uint32_t polls_max;
	uint32_t retry_count;
	uint32_t retry_delay;
	const char *dn_prefix;
	const char *display_name;
	mh_emsmdb_bytes aux;
} mh_emsmdb_connect_response;

typedef struct mh_emsmdb_execute_request {
	uint32_t flags;
	mh_emsmdb_bytes rop_buffer; /* RPC_HEADER_EXT chain; see codec/rpc_ext.h */
	uint32_t max_rop_out;
	mh_emsmdb_bytes aux;
} mh_emsmdb_execute_request;

typedef struct mh_emsmdb_execute_response {
	uint32_t status_code;
	uint32_t error_code;
	uint32_t flags;
	mh_emsmdb_bytes rop_buffer;
	mh_emsmdb_bytes aux;
} mh_emsmdb_execute_response;

typedef struct mh_emsmdb_disconnect_request {
	mh_emsmdb_bytes aux;
} mh_emsmdb_disconnect_request;

typedef struct mh_emsmdb_disconnect_response {
	uint32_t status_code;
	uint32_t error_code;
	mh_emsmdb_bytes aux;
} mh_emsmdb_disconnect_response;

typedef struct mh_emsmdb_notificationwait_request {
	uint32_t flags;
	mh_emsmdb_bytes aux;
} mh_emsmdb_notificationwait_request;

typedef struct mh_emsmdb_notificationwait_response {
	uint32_t status_code;
	uint32_t error_code;
	uint32_t event_pending;
	mh_emsmdb_bytes aux;
} mh_emsmdb_notificationwait_response;

/*
 * Pulls read a whole body: the cursor must hold exactly one body, and bytes
 * after it fail. They copy everything they return into the arena a, so the
 * input may be freed afterwards. Every pull returns:
 *   S_OK;
 *   c->err (set it to MAPI_E_CORRUPT_DATA) for a truncated body, a size
 *   field larger than the bytes remaining, a string without its NUL or
 *   over its cap, a non-ASCII byte in an ASCII string, an unpaired UTF-16
 *   surrogate, or bytes after the body; the message names field and offset;
 *   MAPI_E_TOO_BIG / MAPI_E_NOT_ENOUGH_MEMORY from the arena.
 * A response whose StatusCode is non-zero is read in the failure form and
 * leniently: an AuxBuf that is missing or does not fit (gromox writes the
 * StatusCode twice) gives an empty aux and S_OK, since only StatusCode
 * carries meaning there.
 *
 * Pushes append one body to b and return mh_buf_status(b): S_OK,
 * MAPI_E_NOT_ENOUGH_MEMORY, or MAPI_E_INVALID_PARAMETER for a non-ASCII
 * byte in an ASCII string, invalid UTF-8 in display_name, or bytes NULL
 * with a non-zero length. A response with status_code != 0 is pushed in
 * the failure form.
 */
mh_status mh_emsmdb_connect_request_pull(mh_cursor *c, mh_arena *a, mh_emsmdb_connect_request *out);
mh_status mh_emsmdb_connect_request_push(mh_buf *b, const mh_emsmdb_connect_request *in);
mh_status mh_emsmdb_connect_response_pull(mh_cursor *c, mh_arena *a,
                                          mh_emsmdb_connect_response *out);
mh_status mh_emsmdb_connect_response_push(mh_buf *b, const mh_emsmdb_connect_response *in);

mh_status mh_emsmdb_execute_request_pull(mh_cursor *c, mh_arena *a, mh_emsmdb_execute_request *out);
mh_status mh_emsmdb_execute_request_push(mh_buf *b, const mh_emsmdb_execute_request *in);
mh_status mh_emsmdb_execute_response_pull(mh_cursor *c, mh_arena *a,
                                          mh_emsmdb_execute_response *out);
mh_status mh_emsmdb_execute_response_push(mh_buf *b, const mh_emsmdb_execute_response *in);

mh_status mh_emsmdb_disconnect_request_pull(mh_cursor *c, mh_arena *a,
                                            mh_emsmdb_disconnect_request *out);
mh_status mh_emsmdb_disconnect_request_push(mh_buf *b, const mh_emsmdb_disconnect_request *in);
mh_status mh_emsmdb_disconnect_response_pull(mh_cursor *c, mh_arena *a,
                                             mh_emsmdb_disconnect_response *out);
mh_status mh_emsmdb_disconnect_response_push(mh_buf *b, const mh_emsmdb_disconnect_response *in);

mh_status mh_emsmdb_notificationwait_request_pull(mh_cursor *c, mh_arena *a,
                                                  mh_emsmdb_notificationwait_request *out);
mh_status mh_emsmdb_notificationwait_request_push(mh_buf *b,
                                                  const mh_emsmdb_notificationwait_request *in);
mh_status mh_emsmdb_notificationwait_response_pull(mh_cursor *c, mh_arena *a,
                                                   mh_emsmdb_notificationwait_response *out);
mh_status mh_emsmdb_notificationwait_response_push(mh_buf *b,
                                                   const mh_emsmdb_notificationwait_response *in);

#endif
