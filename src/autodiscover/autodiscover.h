/*
 * The Autodiscover client's sans-I/O part (wire.md §7): the POX request, the POX answer
 * (settings, redirects, errors, AlternativeMailbox entries in both forms real servers send),
 * the JSON v2 answer, the candidate URLs for an address, and the MailStore URL of an
 * alternative mailbox given in the RPC form. No HTTP here: bytes in, structures out.
 */
#ifndef MH_AUTODISCOVER_AUTODISCOVER_H
#define MH_AUTODISCOVER_AUTODISCOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapihttp/status.h"
#include "util/arena.h"
#include "util/buf.h"

#define MH_AD_NS_REQUEST \
	"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
#define MH_AD_NS_RESPONSE "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
#define MH_AD_NS_OUTLOOK \
	"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"

/* Largest POX or JSON answer parsed. */
#define MH_AD_MAX_DOCUMENT ((size_t)1 << 20)
/* Longest text of one element (a URL, a DN, a name) taken from an answer. */
#define MH_AD_MAX_TEXT 4096u
/* Most AlternativeMailbox entries taken from one answer; more are an error. */
#define MH_AD_MAX_ALTERNATIVES 1024u
/* Longest e-mail address the request builder takes. */
#define MH_AD_MAX_ADDRESS 320u

typedef enum mh_ad_action {
	MH_AD_ACTION_NONE = 0, /* an Error answer */
	MH_AD_ACTION_SETTINGS,
	MH_AD_ACTION_REDIRECT_ADDR, /* start again with redirect (an address) */
	MH_AD_ACTION_REDIRECT_URL   /* start again at redirect (an https URL) */
} mh_ad_action;

typedef enum mh_ad_alt_kind {
	MH_AD_ALT_OTHER = 0,
	MH_AD_ALT_ARCHIVE,
	MH_AD_ALT_DELEGATE,
	MH_AD_ALT_TEAM
} mh_ad_alt_kind;

/* One AlternativeMailbox. Absent elements are NULL. */
typedef struct mh_ad_alternative {
	mh_ad_alt_kind kind;
	const char *type; /* the Type text as sent */
	const char *display_name;
	const char *smtp_address; /* MAPI/HTTP form: Autodiscover this address */
	const char *owner_smtp_address;
	const char *legacy_dn; /* RPC form: the Essdn ... */
	const char *server;    /* ... and "<guid>@<domain>", the MailboxId of its URL */
} mh_ad_alternative;

typedef struct mh_ad_urls {
	const char *internal_url;
	const char *external_url;
} mh_ad_urls;

/* A parsed POX answer. Every string lives in the arena given to mh_ad_pox_parse. */
typedef struct mh_ad_pox {
	mh_ad_action action;
	const char *redirect; /* RedirectAddr or RedirectUrl */
	/* Error answers: ErrorCode (0 when the text is not a number) and Message. */
	bool is_error;
	uint32_t error_code;
	const char *error_message;
	/* User */
	const char *display_name;
	const char *legacy_dn;
	const char *smtp_address; /* AutoDiscoverSMTPAddress */
	const char *deployment_id;
	/* The Protocol whose Type attribute is mapiHttp (also under Internal/External). */
	bool has_mapihttp;
	unsigned mapihttp_version;
	mh_ad_urls mailstore;
	mh_ad_urls addressbook;
	/* The EXCH Protocol (RPC profile fields). */
	const char *server;
	const char *server_dn;
	const char *mdb_dn;
	mh_ad_alternative *alternatives;
	size_t n_alternatives;
} mh_ad_pox;

/* A parsed JSON v2 answer: Protocol and Url, or ErrorCode and ErrorMessage. */
typedef struct mh_ad_json {
	const char *protocol;
	const char *url;
	const char *error_code;
	const char *error_message;
} mh_ad_json;

/*
 * Appends the POX request for email (wire.md §7.2) to b. MAPI_E_INVALID_PARAMETER for an
 * address that is empty, too long, without exactly one '@' or with control characters or
 * spaces; MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_ad_pox_request(mh_buf *b, const char *email);

/*
 * Parses a POX answer. The document is read with libxml2 without network access, DTD
 * loading or entity substitution, and any DOCTYPE is refused. Returns S_OK with *out filled
 * (an Error answer is S_OK too, with is_error set); MAPI_E_CORRUPT_DATA for a document that
 * is not well-formed, has a DOCTYPE, is not an Autodiscover answer, or has a settings answer
 * without a User/LegacyDN, an element text over MH_AD_MAX_TEXT, more than
 * MH_AD_MAX_ALTERNATIVES entries; MAPI_E_TOO_BIG for a document over MH_AD_MAX_DOCUMENT;
 * MAPI_E_NOT_ENOUGH_MEMORY. Messages name the element.
 */
mh_status mh_ad_pox_parse(const uint8_t *xml, size_t len, mh_arena *a, mh_ad_pox *out);

/*
 * Parses a JSON v2 answer (an object with string members). MAPI_E_CORRUPT_DATA for anything
 * else (the message quotes jansson's line and column); MAPI_E_TOO_BIG; MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_ad_json_parse(const uint8_t *json, size_t len, mh_arena *a, mh_ad_json *out);

/* The MailStore (or AddressBook) URL to use: ExternalUrl, else InternalUrl, else NULL. */
const char *mh_ad_urls_pick(const mh_ad_urls *u);

/*
 * The POX URLs to try for email's domain, in the order of wire.md §7.1:
 * https://<domain>/autodiscover/autodiscover.xml,
 * https://autodiscover.<domain>/autodiscover/autodiscover.xml (both POST), and
 * http://autodiscover.<domain>/autodiscover/autodiscover.xml (GET, for its redirect only).
 * urls[] gets 3 arena strings. MAPI_E_INVALID_PARAMETER when the domain is not a host name.
 */
#define MH_AD_CANDIDATES 3u
mh_status mh_ad_candidates(const char *email, mh_arena *a, const char *urls[MH_AD_CANDIDATES]);

/*
 * url with the value of its MailboxId query parameter replaced by mailbox_id (the Server of
 * an RPC-form alternative), for opening an archive from the owner's MailStore URL.
 * MAPI_E_INVALID_PARAMETER when url has no MailboxId parameter or mailbox_id is not of the
 * form "<guid>@<domain>".
 */
mh_status mh_ad_url_with_mailbox_id(const char *url, const char *mailbox_id, mh_arena *a,
                                    const char **out);

#endif
