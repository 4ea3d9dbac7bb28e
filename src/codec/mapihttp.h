/*
 * The MAPI/HTTP framing around the bodies (MS-OXCMAPIHTTP 2.2.2-2.2.3,
 * 2.2.7): the response stream (PROCESSING/PENDING/DONE, meta headers,
 * binary body), the request header set, and the X-ResponseCode table.
 */
#ifndef MH_CODEC_MAPIHTTP_H
#define MH_CODEC_MAPIHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"
#include "util/arena.h"
#include "util/buf.h"

/* ==== X-ResponseCode (MS-OXCMAPIHTTP 2.2.3.3.3) ======================================= */

#define MH_RESPONSE_SUCCESS                0u
#define MH_RESPONSE_UNKNOWN_FAILURE        1u
#define MH_RESPONSE_INVALID_VERB           2u
#define MH_RESPONSE_INVALID_PATH           3u
#define MH_RESPONSE_INVALID_HEADER         4u
#define MH_RESPONSE_INVALID_REQUEST_TYPE   5u
#define MH_RESPONSE_INVALID_CONTEXT_COOKIE 6u
#define MH_RESPONSE_MISSING_HEADER         7u
#define MH_RESPONSE_ANONYMOUS_NOT_ALLOWED  8u
#define MH_RESPONSE_TOO_LARGE              9u
#define MH_RESPONSE_CONTEXT_NOT_FOUND      10u
#define MH_RESPONSE_NO_PRIVILEGE           11u
#define MH_RESPONSE_INVALID_REQUEST_BODY   12u
#define MH_RESPONSE_MISSING_COOKIE         13u
#define MH_RESPONSE_RESERVED               14u
#define MH_RESPONSE_INVALID_SEQUENCE       15u
#define MH_RESPONSE_ENDPOINT_DISABLED      16u
#define MH_RESPONSE_INVALID_RESPONSE       17u
#define MH_RESPONSE_ENDPOINT_SHUTTING_DOWN 18u

/* The specification's name of a code ("Context Not Found"); "Unknown" past 18. Never NULL. */
const char *mh_mapihttp_response_code_name(uint32_t code);

/*
 * The status a client reports for a code: 0 S_OK; 6, 10, 13 (the session
 * context is gone: reconnect) MAPI_E_END_OF_SESSION; 15 MAPI_E_BUSY;
 * 8, 11 MAPI_E_NO_ACCESS; 9 MAPI_E_TOO_BIG; 4, 7, 12 MAPI_E_INVALID_PARAMETER;
 * 2, 5, 16 MAPI_E_NO_SUPPORT; 3 MAPI_E_NOT_FOUND; 18 MAPI_E_NETWORK_ERROR;
 * 1, 14, 17 and unknown codes MAPI_E_CALL_FAILED.
 */
mh_status mh_mapihttp_response_code_status(uint32_t code);

/* ==== Response stream ==================================================================== */

/* Longest line before the end of the meta block, and the whole meta block after DONE. */
#define MH_MAPIHTTP_LINE_MAX 1024
#define MH_MAPIHTTP_META_MAX 16384

typedef enum mh_mapihttp_event_kind {
	MH_MAPIHTTP_EV_PROCESSING = 1,
	MH_MAPIHTTP_EV_PENDING,
	MH_MAPIHTTP_EV_DONE,
	MH_MAPIHTTP_EV_META,     /* one "Name: value" line after DONE */
	MH_MAPIHTTP_EV_META_END, /* the empty line; the body follows */
	MH_MAPIHTTP_EV_BODY,     /* a piece of the binary body */
} mh_mapihttp_event_kind;

typedef struct mh_mapihttp_event {
	mh_mapihttp_event_kind kind;
	uint64_t offset; /* stream offset of the line or of the body piece */
	/* META: NUL-terminated, valid during the callback only. The value has
	 * its surrounding spaces and tabs removed. */
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
	/* BODY: points into the bytes passed to mh_mapihttp_stream_feed(). */
	const uint8_t *data;
	size_t len;
} mh_mapihttp_event;

/* A non-S_OK return stops the parser; feed() returns that status. */
typedef mh_status (*mh_mapihttp_event_cb)(const mh_mapihttp_event *ev, void *payload);

/*
 * Incremental, sans-I/O parser of the de-chunked response entity. Feed it
 * any split of the bytes; events come out identical for every split. The
 * body is streamed: each feed() that carries body bytes reports them as one
 * BODY event pointing into the fed buffer (nothing is copied or kept).
 * Lines end in CRLF (MS-OXCMAPIHTTP 2.2.7) or a bare LF (RFC 9112 2.2
 * leniency); before DONE only PROCESSING and PENDING are allowed (any
 * number, any order, any letter case); after DONE come "Name: value" lines
 * (name an HTTP token, value without control characters) until an empty
 * line. X-ResponseCode must be a decimal number that fits 32 bits and
 * appear at most once; X-ElapsedTime is diagnostic: the first value that is
 * such a number is kept, others are reported but never fail the stream.
 */
typedef struct mh_mapihttp_stream {
	int state;
	mh_status err; /* sticky */
	uint64_t offset;
	uint64_t line_start;
	size_t line_len;
	bool cr;
	size_t meta_bytes;
	unsigned processing, pending;
	bool have_response_code, have_elapsed_time;
	uint32_t response_code, elapsed_time;
	mh_mapihttp_event_cb cb;
	void *payload;
	char line[MH_MAPIHTTP_LINE_MAX + 1];
} mh_mapihttp_stream;

/* cb may be NULL (only validate and fill the struct's fields). */
void mh_mapihttp_stream_init(mh_mapihttp_stream *s, mh_mapihttp_event_cb cb, void *payload);

/*
 * Consumes len bytes.
 * @return S_OK; MAPI_E_CORRUPT_DATA for a malformed stream (a line other than
 *         PROCESSING/PENDING/DONE before DONE, CR without LF, a line over
 *         MH_MAPIHTTP_LINE_MAX, a meta block over MH_MAPIHTTP_META_MAX, a
 *         malformed meta header, a repeated X-ResponseCode or a bad number
 *         in it), with the stream offset in
 *         the message; the callback's status when it fails; after any
 *         failure, the same status again without reading.
 */
mh_status mh_mapihttp_stream_feed(mh_mapihttp_stream *s, const void *data, size_t len);

/*
 * The input is complete.
 * @return S_OK once the meta block has ended (an empty body is fine);
 *         MAPI_E_CORRUPT_DATA when the stream ends before DONE or inside
 *         the meta block; an earlier failure's status.
 */
mh_status mh_mapihttp_stream_finish(mh_mapihttp_stream *s);

/* True once the empty line after the meta headers has been read. */
bool mh_mapihttp_stream_in_body(const mh_mapihttp_stream *s);

typedef struct mh_http_header {
	const char *name;
	const char *value;
} mh_http_header;

/* A whole response stream, parsed at once. */
typedef struct mh_mapihttp_response {
	unsigned processing, pending;
	bool have_response_code, have_elapsed_time;
	uint32_t response_code, elapsed_time;
	const char *start_time; /* X-StartTime, or NULL */
	mh_http_header *meta;   /* every meta header in order (arena) */
	size_t n_meta;
	const uint8_t *body; /* points into the input; NULL when body_len is 0 */
	size_t body_len;
	size_t body_offset;
} mh_mapihttp_response;

/*
 * Parses len bytes holding a complete response stream; meta headers are
 * copied into a, the body is not copied.
 * @return as mh_mapihttp_stream_feed/_finish; MAPI_E_TOO_BIG or
 *         MAPI_E_NOT_ENOUGH_MEMORY from the arena.
 */
mh_status mh_mapihttp_response_parse(const uint8_t *data, size_t len, mh_arena *a,
                                     mh_mapihttp_response *out);

/*
 * Server side. Write a keep-alive or DONE line (kind PROCESSING, PENDING or
 * DONE), then after DONE any meta headers, then the meta end, then the body
 * bytes with mh_buf_put(). Errors are sticky in b: MAPI_E_INVALID_PARAMETER
 * for another kind, a name that is not an HTTP token or a value with a
 * control character.
 */
void mh_mapihttp_push_line(mh_buf *b, mh_mapihttp_event_kind kind);
void mh_mapihttp_push_meta(mh_buf *b, const char *name, const char *value);
void mh_mapihttp_push_meta_u32(mh_buf *b, const char *name, uint32_t value);
void mh_mapihttp_push_meta_end(mh_buf *b);

/* ==== Request headers ==================================================================== */

typedef enum mh_mapihttp_request_type {
	MH_RT_UNKNOWN = 0,
	MH_RT_CONNECT,
	MH_RT_EXECUTE,
	MH_RT_DISCONNECT,
	MH_RT_NOTIFICATIONWAIT,
	MH_RT_PING,
	MH_RT_BIND,
	MH_RT_UNBIND,
	MH_RT_COMPAREMIDS,
	MH_RT_DNTOMID,
	MH_RT_GETMATCHES,
	MH_RT_GETPROPLIST,
	MH_RT_GETPROPS,
	MH_RT_GETSPECIALTABLE,
	MH_RT_GETTEMPLATEINFO,
	MH_RT_MODLINKATT,
	MH_RT_MODPROPS,
	MH_RT_QUERYCOLUMNS,
	MH_RT_QUERYROWS,
	MH_RT_RESOLVENAMES,
	MH_RT_RESORTRESTRICTION,
	MH_RT_SEEKENTRIES,
	MH_RT_UPDATESTAT,
	MH_RT_GETMAILBOXURL,
	MH_RT_GETADDRESSBOOKURL,
	MH_RT_COUNT_
} mh_mapihttp_request_type;

/* Endpoint bits */
#define MH_ENDPOINT_EMSMDB 0x1u
#define MH_ENDPOINT_NSPI   0x2u

/* The X-RequestType spelling ("NotificationWait", "PING"); NULL for an unknown value. */
const char *mh_mapihttp_request_type_name(mh_mapihttp_request_type t);
/* Case-insensitive (gromox echoes lower case); MH_RT_UNKNOWN when not a request type. */
mh_mapihttp_request_type mh_mapihttp_request_type_parse(const char *s, size_t len);
/* The endpoints (MH_ENDPOINT_*) that accept t; PING is accepted by both. */
unsigned mh_mapihttp_request_type_endpoints(mh_mapihttp_request_type t);

/* "{GUID}:counter", upper-case hex, braces included: at most 50 bytes with the NUL. */
#define MH_COUNTED_GUID_MAX 50
void mh_mapihttp_counted_guid_format(char out[MH_COUNTED_GUID_MAX], const GUID *g,
                                     uint32_t counter);
/*
 * Parses "GUID:counter", braces optional, hex of either case, counter a
 * decimal of 1-10 digits that fits 32 bits.
 * @return S_OK; MAPI_E_INVALID_PARAMETER with a message otherwise.
 */
mh_status mh_mapihttp_counted_guid_parse(const char *s, size_t len, GUID *g, uint32_t *counter);

#define MH_MAPIHTTP_CLIENT_APPLICATION "Outlook/15.0.4815.1002"
#define MH_MAPIHTTP_CONTENT_TYPE       "application/mapi-http"

typedef struct mh_mapihttp_request_info {
	unsigned version; /* 1 */
	mh_mapihttp_request_type type;
	GUID request_guid; /* same for the life of a session context */
	uint32_t request_counter;
	GUID client_guid; /* same for the client instance */
	uint32_t client_counter;
	const char *client_application; /* NULL: MH_MAPIHTTP_CLIENT_APPLICATION */
} mh_mapihttp_request_info;

#define MH_MAPIHTTP_REQUEST_INFO_INIT                                        \
	{                                                                    \
		1, MH_RT_UNKNOWN, {0, 0, 0, {0}}, 0, {0, 0, 0, {0}}, 0, NULL \
	}

#define MH_MAPIHTTP_REQUEST_HEADERS_MAX 6
#define MH_MAPIHTTP_CLIENT_APP_MAX      255

/* The MAPI/HTTP headers of one request; the pointers point into this struct. */
typedef struct mh_mapihttp_request_headers {
	mh_http_header h[MH_MAPIHTTP_REQUEST_HEADERS_MAX];
	size_t n;
	char request_id[MH_COUNTED_GUID_MAX];
	char client_info[MH_COUNTED_GUID_MAX];
	char client_application[MH_MAPIHTTP_CLIENT_APP_MAX + 1];
} mh_mapihttp_request_headers;

/*
 * Fills out with Content-Type, Accept, X-RequestType, X-RequestId,
 * X-ClientInfo and X-ClientApplication (cookies, authorization and length
 * are the transport's). Do not move out after the call without rebuilding.
 * @return S_OK; MAPI_E_INVALID_PARAMETER for version != 1, an unknown type,
 *         or a client_application that is empty, longer than 255 bytes or
 *         not printable ASCII.
 */
mh_status mh_mapihttp_request_headers_build(mh_mapihttp_request_headers *out,
                                            const mh_mapihttp_request_info *info);

/*
 * Turns headers built by mh_mapihttp_request_headers_build into those of another request of
 * the same request GUID and client info: X-RequestType becomes type's name and the counter of
 * X-RequestId becomes counter. Cheaper than a rebuild, for a client sending many requests.
 * @return S_OK; MAPI_E_INVALID_PARAMETER for an unknown type.
 */
mh_status mh_mapihttp_request_headers_renew(mh_mapihttp_request_headers *hb,
                                            mh_mapihttp_request_type type, uint32_t counter);

/*
 * Server side: checks the n headers of a received request for an endpoint
 * (MH_ENDPOINT_EMSMDB or MH_ENDPOINT_NSPI). Names compare
 * case-insensitively; other headers are ignored. On success out (may be
 * NULL) receives the parsed values, client_application pointing into h
 * (NULL when absent); *response_code (may be NULL) receives the
 * X-ResponseCode to send: 0, or
 *   7 Missing Header: no Content-Type, X-RequestType, X-RequestId or
 *     X-ClientInfo;
 *   4 Invalid Header: one of them twice, Content-Type not
 *     application/mapi-http, a malformed X-RequestId/X-ClientInfo, an
 *     empty or non-printable X-ClientApplication;
 *   5 Invalid Request Type: unknown, or not served by this endpoint.
 * Checked in the order: missing, repeated, request type, the rest.
 * @return S_OK, or mh_mapihttp_response_code_status(*response_code) with a
 *         message naming the header.
 */
mh_status mh_mapihttp_request_headers_check(const mh_http_header *h, size_t n, unsigned endpoint,
                                            mh_mapihttp_request_info *out, uint32_t *response_code);

#endif
