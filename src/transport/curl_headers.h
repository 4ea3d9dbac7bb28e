/*
 * The libcurl backend's collection of an answer's header lines (src/transport/curl.c), apart
 * from libcurl and sockets so that it can be tested and fuzzed on bytes alone.
 */
#ifndef MH_TRANSPORT_CURL_HEADERS_H
#define MH_TRANSPORT_CURL_HEADERS_H

#include <stddef.h>

#include "mapihttp/status.h"
#include "mapihttp/sys/transport.h"

/* An answer whose headers go past these is refused rather than buffered without bound. */
#define MH_CURL_HEADER_BYTES_MAX (256u * 1024u) /* names, values and a NUL after each */
#define MH_CURL_HEADERS_MAX      512u

/*
 * The headers of the current response of a transfer: every status line ("HTTP/...") starts a
 * new response and drops what was collected before it (1xx, authentication legs).
 */
typedef struct mh_curl_headers {
	long status; /* of the last status line; -1 before one, or when it had no 3-digit code */
	char *buf;   /* "name\0value\0" per header */
	size_t len, cap;
	size_t n;           /* headers in buf */
	const char *origin; /* borrowed, for messages: "https://host:port" */
	mh_status fail;     /* the first failure; every later feed returns it */
} mh_curl_headers;

/* An empty collection; origin (borrowed, may be NULL) prefixes its messages. */
void mh_curl_headers_init(mh_curl_headers *h, const char *origin);

/* Wipes (the headers may hold cookies) and frees the buffer; init again to reuse. */
void mh_curl_headers_free(mh_curl_headers *h);

/*
 * One header line as libcurl's header callback gives it: line[0..len), its CR LF included,
 * not NUL-terminated. A status line starts a new response; a blank line is skipped; a line
 * starting with a space or tab continues the previous header's value (obsolete folding,
 * joined with one space); "Name: value" adds a header, the value without surrounding blanks;
 * any other line is skipped (libcurl has judged the framing).
 * Returns S_OK, or MAPI_E_NETWORK_ERROR for a line with a NUL byte, or when the headers
 * would exceed MH_CURL_HEADERS_MAX or MH_CURL_HEADER_BYTES_MAX or memory ran out; after a
 * failure every call returns it again and the collection is no longer changed.
 */
mh_status mh_curl_headers_feed(mh_curl_headers *h, const char *line, size_t len);

/*
 * The collected headers as an array of h->n entries pointing into h->buf (valid until the
 * next feed or free); *out is NULL when there are none. Free the array with free().
 * MAPI_E_NOT_ENOUGH_MEMORY; the failure of an earlier feed.
 */
mh_status mh_curl_headers_list(const mh_curl_headers *h, mh_transport_header **out);

#endif
