/*
 * mapihttpd's Autodiscover: the POX service (MS-OXDSCLI, wire.md 7.2-7.5) answered from the
 * store, and the JSON v2 redirect service (wire.md 7.6). No HTTP here: bytes in, bytes out.
 */
#ifndef MH_SERVER_AUTODISCOVER_H
#define MH_SERVER_AUTODISCOVER_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/status.h"
#include "server/store.h"
#include "util/buf.h"

/* Largest POX request body parsed; the HTTP front refuses bigger ones before reading them. */
#define MH_SRV_AUTODISCOVER_MAX_REQUEST ((size_t)64 << 10)
/* Longest e-mail address or LegacyDN taken from a request. */
#define MH_SRV_AUTODISCOVER_MAX_ADDRESS 1024u

#define MH_SRV_AD_NS_REQUEST \
	"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
#define MH_SRV_AD_NS_RESPONSE \
	"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
#define MH_SRV_AD_NS_OUTLOOK \
	"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"

/* Autodiscover ErrorCode values (MS-OXDSCLI; Exchange 2013's use, wire.md 7.3). */
#define MH_SRV_AD_ERROR_NO_ADDRESS  500u /* no such address in the organisation */
#define MH_SRV_AD_ERROR_NOT_MAILBOX 501u /* the recipient is not a mailbox */
#define MH_SRV_AD_ERROR_INVALID     600u /* malformed request */
#define MH_SRV_AD_ERROR_NO_PROVIDER 601u /* unsupported AcceptableResponseSchema */
#define MH_SRV_AD_ERROR_SERVER      603u /* the store failed */

typedef struct mh_srv_autodiscover_request {
	const uint8_t *body; /* the POX request XML */
	size_t len;
	/* The X-MapiHttpCapability value, 0 when the header is absent: the mapiHttp Protocol
	 * element and the MAPI/HTTP form of the Archive entry are written only when > 0. */
	unsigned mapihttp_version;
	const char *base_url; /* "https://host:port", no trailing slash: the URLs' prefix */
	int64_t now;          /* Unix seconds, for the Time attribute of an error */
} mh_srv_autodiscover_request;

/*
 * Answers a POX request: out receives a complete response document, a settings answer or an
 * Autodiscover error (both go out with HTTP 200); *error_code is 0 for settings or the
 * ErrorCode written (MH_SRV_AD_ERROR_*). The request is parsed with libxml2 without network
 * access, DTD loading or entity substitution; any DOCTYPE is refused (600).
 * Returns S_OK whenever out holds a document; MAPI_E_NOT_ENOUGH_MEMORY when not even the
 * error document could be written.
 */
mh_status mh_srv_autodiscover_pox(mh_srv_store *st, const mh_srv_autodiscover_request *req,
                                  mh_buf *out, unsigned *error_code);

/*
 * Writes an Autodiscover error document (Error with Time and Id attributes, ErrorCode,
 * Message, DebugData). MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_srv_autodiscover_error(mh_buf *out, unsigned code, const char *message, int64_t now,
                                    uint32_t id);

/*
 * Answers the JSON v2 service for one Protocol value (NULL when the query has none) and
 * address (NULL or empty when none): AutodiscoverV1 gives {"Protocol","Url"} with the POX URL
 * (HTTP 200); another value the ProtocolNotSupported error (HTTP 200, as Exchange Online and
 * gromox send it); a missing Protocol MissingProtocol and a missing address
 * MandatoryParameterMissing (HTTP 400). *http_status receives the status.
 * Returns S_OK or MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_srv_autodiscover_json(const char *protocol, const char *address, const char *base_url,
                                   mh_buf *out, unsigned *http_status);

#endif
