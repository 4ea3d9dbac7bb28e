/*
 * POX Autodiscover (MS-OXDSCLI, wire.md §7.2-§7.4), client side: the request document and
 * the answer's settings, redirects, errors and AlternativeMailbox entries.
 */
#include "autodiscover/autodiscover.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "util/diag.h"

#define XC(s) ((const xmlChar *)(s))

/* libxml2 wants one initialisation before threads use it; pthread_once makes it safe. */
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
	xmlInitParser();
}

/* ---- the request ------------------------------------------------------------------------- */

static bool address_ok(const char *email)
{
	size_t n = strlen(email);
	if (n == 0 || n > MH_AD_MAX_ADDRESS)
		return false;
	unsigned ats = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)email[i];
		if (ch <= 0x20 || ch == 0x7F)
			return false;
		ats += ch == '@';
	}
	const char *at = strchr(email, '@');
	return ats == 1 && at != email && at[1] != 0;
}

/* Text with the five XML special characters escaped. */
static void put_escaped(mh_buf *b, const char *s)
{
	for (; *s != 0; s++) {
		switch (*s) {
		case '&':
			mh_buf_put(b, "&amp;", 5);
			break;
		case '<':
			mh_buf_put(b, "&lt;", 4);
			break;
		case '>':
			mh_buf_put(b, "&gt;", 4);
			break;
		case '"':
			mh_buf_put(b, "&quot;", 6);
			break;
		case '\'':
			mh_buf_put(b, "&apos;", 6);
			break;
		default:
			mh_buf_u8(b, (uint8_t)*s);
		}
	}
}

static void put_str(mh_buf *b, const char *s)
{
	mh_buf_put(b, s, strlen(s));
}

mh_status mh_ad_pox_request(mh_buf *b, const char *email)
{
	if (email == NULL || !address_ok(email))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "Autodiscover: \"%.64s\" is not an e-mail address",
		                    email != NULL ? email : "(null)");
	put_str(
	    b,
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<Autodiscover xmlns=\"" MH_AD_NS_REQUEST
	    "\">\r\n  <Request>\r\n    <EMailAddress>");
	put_escaped(b, email);
	put_str(b, "</EMailAddress>\r\n    <AcceptableResponseSchema>" MH_AD_NS_OUTLOOK
	           "</AcceptableResponseSchema>\r\n  </Request>\r\n</Autodiscover>\r\n");
	if (mh_buf_status(b) != S_OK)
		return mh_error_oom();
	return S_OK;
}

/* ---- the answer --------------------------------------------------------------------------- */

typedef struct parse_state {
	mh_arena *a;
	mh_status st;
	const char *path; /* element being read, for messages */
} parse_state;

static void refuse_dtd(void *ctx, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id)
{
	(void)name;
	(void)external_id;
	(void)system_id;
	xmlParserCtxtPtr ctxt = ctx;
	ctxt->_private = ctxt; /* tells the caller a DOCTYPE was seen */
	xmlStopParser(ctxt);
}

static bool named(const xmlNode *n, const char *local)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, XC(local)) == 0;
}

static const xmlNode *child(const xmlNode *parent, const char *local)
{
	for (const xmlNode *n = parent->children; n != NULL; n = n->next)
		if (named(n, local))
			return n;
	return NULL;
}

static bool space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/*
 * The trimmed text of element `name` under parent (NULL when absent or empty) into *out.
 * Elements holding other elements, and texts over MH_AD_MAX_TEXT, fail.
 */
static void text_of(parse_state *ps, const xmlNode *parent, const char *name, const char **out)
{
	*out = NULL;
	if (ps->st != S_OK || parent == NULL)
		return;
	const xmlNode *el = child(parent, name);
	if (el == NULL)
		return;
	char buf[MH_AD_MAX_TEXT + 1];
	size_t n = 0;
	for (const xmlNode *t = el->children; t != NULL; t = t->next) {
		if (t->type == XML_COMMENT_NODE || t->type == XML_PI_NODE)
			continue;
		if (t->type != XML_TEXT_NODE && t->type != XML_CDATA_SECTION_NODE) {
			ps->st = mh_error_set(MAPI_E_CORRUPT_DATA, -1,
			                      "Autodiscover answer: %s/%s holds elements, not text",
			                      ps->path, name);
			return;
		}
		size_t l = strlen((const char *)t->content);
		if (l > MH_AD_MAX_TEXT - n) {
			ps->st = mh_error_set(MAPI_E_CORRUPT_DATA, -1,
			                      "Autodiscover answer: %s/%s is longer than %u bytes",
			                      ps->path, name, MH_AD_MAX_TEXT);
			return;
		}
		memcpy(buf + n, t->content, l);
		n += l;
	}
	size_t b = 0, e = n;
	while (b < e && space(buf[b]))
		b++;
	while (e > b && space(buf[e - 1]))
		e--;
	if (e == b)
		return;
	char *s = NULL;
	ps->st = mh_arena_strndup(ps->a, buf + b, e - b, &s);
	*out = s;
}

static const char *attr(const xmlNode *n, const char *name, char *buf, size_t cap)
{
	xmlChar *v = xmlGetNoNsProp(n, XC(name));
	if (v == NULL)
		return NULL;
	snprintf(buf, cap, "%s", (const char *)v);
	xmlFree(v);
	return buf;
}

static void read_urls(parse_state *ps, const xmlNode *proto, const char *name, mh_ad_urls *u)
{
	const xmlNode *el = child(proto, name);
	if (el == NULL)
		return;
	const char *saved = ps->path;
	ps->path = name;
	const char *in, *ex;
	text_of(ps, el, "InternalUrl", &in);
	text_of(ps, el, "ExternalUrl", &ex);
	ps->path = saved;
	/* A later placement (Internal, External) only fills what is still missing. */
	if (u->internal_url == NULL)
		u->internal_url = in;
	if (u->external_url == NULL)
		u->external_url = ex;
}

static bool is_mapihttp(const xmlNode *n, unsigned *version)
{
	char t[32], v[16];
	if (!named(n, "Protocol") || attr(n, "Type", t, sizeof(t)) == NULL ||
	    strcasecmp(t, "mapiHttp") != 0)
		return false;
	*version = 0;
	if (attr(n, "Version", v, sizeof(v)) != NULL) {
		char *end = NULL;
		unsigned long x = strtoul(v, &end, 10);
		if (end != v && *end == 0 && x < 1000)
			*version = (unsigned)x;
	}
	return true;
}

static void read_mapihttp(parse_state *ps, const xmlNode *proto, unsigned version, mh_ad_pox *out)
{
	out->has_mapihttp = true;
	if (version > out->mapihttp_version)
		out->mapihttp_version = version;
	const char *saved = ps->path;
	ps->path = "Protocol[mapiHttp]";
	read_urls(ps, proto, "MailStore", &out->mailstore);
	read_urls(ps, proto, "AddressBook", &out->addressbook);
	ps->path = saved;
}

static void read_protocol(parse_state *ps, const xmlNode *proto, mh_ad_pox *out)
{
	unsigned version;
	if (is_mapihttp(proto, &version)) {
		read_mapihttp(ps, proto, version, out);
		return;
	}
	/* MS-OXDSCLI also allows the mapiHttp element inside Internal or External. */
	for (const xmlNode *n = proto->children; n != NULL; n = n->next) {
		if (!named(n, "Internal") && !named(n, "External"))
			continue;
		for (const xmlNode *p = n->children; p != NULL; p = p->next)
			if (is_mapihttp(p, &version))
				read_mapihttp(ps, p, version, out);
	}
	const char *type;
	ps->path = "Protocol";
	text_of(ps, proto, "Type", &type);
	if (type == NULL || strcmp(type, "EXCH") != 0 || out->server_dn != NULL)
		return;
	ps->path = "Protocol[EXCH]";
	text_of(ps, proto, "Server", &out->server);
	text_of(ps, proto, "ServerDN", &out->server_dn);
	text_of(ps, proto, "MdbDN", &out->mdb_dn);
}

static mh_ad_alt_kind alt_kind(const char *type)
{
	if (type == NULL)
		return MH_AD_ALT_OTHER;
	if (strcasecmp(type, "Archive") == 0)
		return MH_AD_ALT_ARCHIVE;
	if (strcasecmp(type, "Delegate") == 0)
		return MH_AD_ALT_DELEGATE;
	if (strcasecmp(type, "TeamMailbox") == 0)
		return MH_AD_ALT_TEAM;
	return MH_AD_ALT_OTHER;
}

static void read_alternatives(parse_state *ps, const xmlNode *account, mh_ad_pox *out)
{
	size_t n = 0;
	for (const xmlNode *c = account->children; c != NULL; c = c->next)
		n += named(c, "AlternativeMailbox");
	if (n == 0 || ps->st != S_OK)
		return;
	if (n > MH_AD_MAX_ALTERNATIVES) {
		ps->st =
		    mh_error_set(MAPI_E_CORRUPT_DATA, -1,
		                 "Autodiscover answer: %zu AlternativeMailbox entries (at most %u)",
		                 n, MH_AD_MAX_ALTERNATIVES);
		return;
	}
	void *p = NULL;
	ps->st = mh_arena_array(ps->a, n, sizeof(mh_ad_alternative), &p);
	if (ps->st != S_OK)
		return;
	out->alternatives = p;
	ps->path = "AlternativeMailbox";
	for (const xmlNode *c = account->children; c != NULL && ps->st == S_OK; c = c->next) {
		if (!named(c, "AlternativeMailbox"))
			continue;
		mh_ad_alternative *alt = &out->alternatives[out->n_alternatives++];
		text_of(ps, c, "Type", &alt->type);
		text_of(ps, c, "DisplayName", &alt->display_name);
		text_of(ps, c, "SmtpAddress", &alt->smtp_address);
		text_of(ps, c, "OwnerSmtpAddress", &alt->owner_smtp_address);
		text_of(ps, c, "LegacyDN", &alt->legacy_dn);
		text_of(ps, c, "Server", &alt->server);
		alt->kind = alt_kind(alt->type);
	}
}

static void read_error(parse_state *ps, const xmlNode *err, mh_ad_pox *out)
{
	out->is_error = true;
	out->action = MH_AD_ACTION_NONE;
	ps->path = "Error";
	const char *code;
	text_of(ps, err, "ErrorCode", &code);
	text_of(ps, err, "Message", &out->error_message);
	if (code != NULL) {
		char *end = NULL;
		unsigned long v = strtoul(code, &end, 10);
		if (end != code && *end == 0 && v <= 0xFFFFFFFFul)
			out->error_code = (uint32_t)v;
	}
}

static void read_response(parse_state *ps, const xmlNode *resp, mh_ad_pox *out)
{
	const xmlNode *err = child(resp, "Error");
	if (err != NULL) {
		read_error(ps, err, out);
		return;
	}
	const xmlNode *user = child(resp, "User");
	const xmlNode *account = child(resp, "Account");
	if (account == NULL) {
		ps->st =
		    mh_error_set(MAPI_E_CORRUPT_DATA, -1,
		                 "Autodiscover answer: Response has neither Error nor Account");
		return;
	}
	ps->path = "Account";
	const char *action;
	text_of(ps, account, "Action", &action);
	if (ps->st != S_OK)
		return;
	if (action == NULL || strcasecmp(action, "settings") == 0) {
		out->action = MH_AD_ACTION_SETTINGS;
	} else if (strcasecmp(action, "redirectAddr") == 0) {
		out->action = MH_AD_ACTION_REDIRECT_ADDR;
		text_of(ps, account, "RedirectAddr", &out->redirect);
	} else if (strcasecmp(action, "redirectUrl") == 0) {
		out->action = MH_AD_ACTION_REDIRECT_URL;
		text_of(ps, account, "RedirectUrl", &out->redirect);
	} else {
		ps->st =
		    mh_error_set(MAPI_E_CORRUPT_DATA, -1,
		                 "Autodiscover answer: unknown Account/Action \"%.40s\"", action);
		return;
	}
	if (out->action != MH_AD_ACTION_SETTINGS) {
		if (ps->st == S_OK && out->redirect == NULL)
			ps->st = mh_error_set(MAPI_E_CORRUPT_DATA, -1,
			                      "Autodiscover answer: Action %s without its target",
			                      action);
		return;
	}
	ps->path = "User";
	text_of(ps, user, "DisplayName", &out->display_name);
	text_of(ps, user, "LegacyDN", &out->legacy_dn);
	text_of(ps, user, "AutoDiscoverSMTPAddress", &out->smtp_address);
	text_of(ps, user, "DeploymentId", &out->deployment_id);
	if (ps->st == S_OK && out->legacy_dn == NULL) {
		ps->st = mh_error_set(MAPI_E_CORRUPT_DATA, -1,
		                      "Autodiscover answer: settings without User/LegacyDN");
		return;
	}
	for (const xmlNode *c = account->children; c != NULL && ps->st == S_OK; c = c->next)
		if (named(c, "Protocol"))
			read_protocol(ps, c, out);
	read_alternatives(ps, account, out);
}

mh_status mh_ad_pox_parse(const uint8_t *xml, size_t len, mh_arena *a, mh_ad_pox *out)
{
	memset(out, 0, sizeof(*out));
	if (len > MH_AD_MAX_DOCUMENT)
		return mh_error_set(MAPI_E_TOO_BIG, -1,
		                    "Autodiscover answer: %zu bytes (at most %zu are read)", len,
		                    MH_AD_MAX_DOCUMENT);
	if (len == 0)
		return mh_error_set(MAPI_E_CORRUPT_DATA, 0, "Autodiscover answer: empty document");
	pthread_once(&xml_once, xml_init);
	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
	if (ctxt == NULL)
		return mh_error_oom();
	ctxt->sax->internalSubset = refuse_dtd;
	ctxt->_private = NULL;
	/* No XML_PARSE_NOENT (entity substitution), no XML_PARSE_DTDLOAD, no network. */
	xmlDocPtr doc = xmlCtxtReadMemory(
	    ctxt, (const char *)xml, (int)len, "autodiscover.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	parse_state ps = {a, S_OK, "Autodiscover"};
	if (ctxt->_private != NULL ||
	    (doc != NULL && (doc->intSubset != NULL || doc->extSubset != NULL))) {
		ps.st = mh_error_set(
		    MAPI_E_CORRUPT_DATA, -1,
		    "Autodiscover answer: has a DOCTYPE (DTDs and entities are refused)");
		goto out;
	}
	if (doc == NULL) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		ps.st = mh_error_set(MAPI_E_CORRUPT_DATA, -1,
		                     "Autodiscover answer: not well-formed XML (line %d: %.80s)",
		                     e != NULL ? e->line : 0,
		                     e != NULL && e->message != NULL ? e->message : "parse error");
		goto out;
	}
	const xmlNode *root = xmlDocGetRootElement(doc);
	if (!named(root, "Autodiscover")) {
		ps.st = mh_error_set(MAPI_E_CORRUPT_DATA, -1,
		                     "Autodiscover answer: the root element is not Autodiscover");
		goto out;
	}
	const xmlNode *resp = child(root, "Response");
	if (resp == NULL) {
		ps.st = mh_error_set(MAPI_E_CORRUPT_DATA, -1,
		                     "Autodiscover answer: no Response element");
		goto out;
	}
	read_response(&ps, resp, out);
out:
	if (doc != NULL)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	if (ps.st != S_OK) {
		memset(out, 0, sizeof(*out));
		if (ps.st == MAPI_E_NOT_ENOUGH_MEMORY)
			mh_error_oom();
	}
	return ps.st;
}

const char *mh_ad_urls_pick(const mh_ad_urls *u)
{
	return u->external_url != NULL ? u->external_url : u->internal_url;
}
