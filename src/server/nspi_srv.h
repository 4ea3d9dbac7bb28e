/*
 * mapihttpd's NSPI (address book) logic, without HTTP: a decoded NSPI request and the
 * context's state in, the response out, over the organisation's global address list.
 */
#ifndef MH_SERVER_NSPI_SRV_H
#define MH_SERVER_NSPI_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/nspi.h"
#include "mapihttp/mapidefs.h"
#include "mapihttp/status.h"
#include "server/store.h"
#include "util/arena.h"
#include "util/buf.h"

/* A recipient's MId is this plus its store id: stable, and clear of the special MIds (< 0x10). */
#define MH_SRV_NSPI_MID_BASE 0x10u

/* Default limits (mh_srv_nspi_ctx_init). */
#define MH_SRV_NSPI_MAX_ROWS    1000u /* rows per QueryRows / GetMatches / explicit table */
#define MH_SRV_NSPI_MAX_NAMES   1000u /* names per ResolveNames / DNToMId */
#define MH_SRV_NSPI_MAX_COLUMNS 256u  /* property tags per request */

/* X-ResponseCode values (wire.md §2.4) mh_srv_nspi_handle_body produces. */
#define MH_SRV_NSPI_RC_SUCCESS              0u
#define MH_SRV_NSPI_RC_UNKNOWN_FAILURE      1u
#define MH_SRV_NSPI_RC_INVALID_REQUEST_TYPE 5u
#define MH_SRV_NSPI_RC_TOO_LARGE            9u
#define MH_SRV_NSPI_RC_INVALID_REQUEST_BODY 12u

/* The hierarchy table's version (GetSpecialTable): the GAL is its only container. */
#define MH_SRV_NSPI_HIERARCHY_VERSION 1u

/*
 * One NSPI session context (created on Bind; the HTTP layer owns it and its cookies).
 * Plain data: no handles inside, nothing to free. base_url is borrowed and must outlive the
 * context (normally it is the server's configuration).
 */
typedef struct mh_srv_nspi_ctx {
	GUID server_guid;     /* Bind's ServerGuid: one per server instance */
	int64_t principal;    /* the authenticated recipient (mh_srv_recipient.id) */
	const char *base_url; /* "https://host[:port]", no trailing '/' */
	bool bound;           /* Bind succeeded and no Unbind since */
	mh_nspi_stat stat; /* Bind's STAT (or the client default): used when a request has none */
	uint32_t max_rows;
	uint32_t max_names;
	uint32_t max_columns;
} mh_srv_nspi_ctx;

/* Fills ctx: not bound, default STAT and limits. base_url is borrowed. */
void mh_srv_nspi_ctx_init(mh_srv_nspi_ctx *ctx, const GUID *server_guid, int64_t principal,
                          const char *base_url);

/*
 * Handles one decoded request and fills *resp (resp->kind = req->kind). Everything the
 * response points to lives in a (or in req). NSPI-level outcomes, failures included, are in
 * resp->error_code with a body a client can read (Has* fields false on failure):
 *   Bind: S_OK (ServerGuid = ctx->server_guid); Unbind: MH_NSPI_UNBIND_SUCCESS;
 *   requests other than Bind on an unbound context: MAPI_E_CALL_FAILED (GeneralFailure);
 *   MAPI_E_NOT_FOUND an unknown object (GetProps CurrentRec, positional CurrentRec,
 *     GetMailboxUrl/GetAddressBookUrl DN, GetMatches PropName);
 *   MAPI_E_INVALID_BOOKMARK a ContainerID other than 0 (the GAL);
 *   MAPI_E_TOO_BIG more names or columns than the limits; MAPI_E_TABLE_TOO_BIG an explicit
 *     table over max_rows, or GetMatches matching more rows than asked for;
 *   MH_NSPI_ERRORS_RETURNED GetProps with some properties missing;
 *   MAPI_E_CALL_FAILED CompareMIds with a MId that is not in the table, or a store failure;
 *   MAPI_E_NO_SUPPORT every other request type.
 * Returns S_OK when *resp is filled; MAPI_E_TOO_BIG (arena cap) or MAPI_E_NOT_ENOUGH_MEMORY
 * when it could not be built (then the HTTP layer answers without a body).
 */
mh_status mh_srv_nspi_handle(mh_srv_nspi_ctx *ctx, mh_srv_store *st, const mh_nspi_request *req,
                             mh_arena *a, mh_nspi_response *resp);

/*
 * The whole exchange for the HTTP layer: request_type is the X-RequestType value, body the raw
 * request body. On S_OK, out holds the response body and *response_code is 0. Otherwise
 * *response_code is the X-ResponseCode to send (out is left empty, the message is in
 * mh_error_last()):
 *   MH_SRV_NSPI_RC_INVALID_REQUEST_TYPE  unknown X-RequestType (MAPI_E_NO_SUPPORT); PING has
 *                                        no body and is the HTTP layer's;
 *   MH_SRV_NSPI_RC_INVALID_REQUEST_BODY  a malformed body (the decoder's status, normally
 *                                        MAPI_E_CORRUPT_DATA);
 *   MH_SRV_NSPI_RC_TOO_LARGE             the decoded body or the response would pass the
 *                                        arena cap (MAPI_E_TOO_BIG);
 *   MH_SRV_NSPI_RC_UNKNOWN_FAILURE       MAPI_E_NOT_ENOUGH_MEMORY or an encoder failure.
 * A GetMatches body with a restriction is answered (code 0) with ErrorCode MAPI_E_NO_SUPPORT.
 * *kind is set when the request type was recognised (may be NULL).
 */
mh_status mh_srv_nspi_handle_body(mh_srv_nspi_ctx *ctx, mh_srv_store *st, const char *request_type,
                                  const uint8_t *body, size_t len, mh_buf *out,
                                  uint32_t *response_code, mh_nspi_kind *kind);

#endif
