/*
 * POX and JSON v2 Autodiscover answers for mapihttpd, built from the store the way
 * wire.md 7.3-7.6 says Exchange builds them.
 */
#define _DEFAULT_SOURCE /* gmtime_r with -std=c11 */

#include "server/autodiscover.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "util/diag.h"

/* libxml2 takes const xmlChar * for input strings; this avoids casting const away. */
#define XC(s) ((const xmlChar *)(s))

/* Exchange 2013+ reports this ServerVersion in the EXCH block (wire.md 7.3). */
#define AD_SERVER_VERSION "73C18880"

/* ---- request ---------------------------------------------------------------------------- */

/* A DOCTYPE could declare entities; nothing legitimate needs one, so parsing stops there. */
static void refuse_dtd(void *ctx, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id)
{
	(void)name;
	(void)external_id;
	(void)system_id;
	xmlParserCtxtPtr ctxt = ctx;
	ctxt->_private = ctxt; /* marks the refusal for the caller */
	xmlStopParser(ctxt);
}

static bool is_element(const xmlNode *n, const char *local)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, XC(local)) == 0;
}

static const xmlNode *child_element(const xmlNode *parent, const char *local)
{
	for (const xmlNode *n = parent->children; n != NULL; n = n->next) {
		if (is_element(n, local))
			return n;
	}
	return NULL;
}

/*
 * The trimmed text of an element, copied into out (room for cap bytes). false when the
 * element holds anything but text or the text is empty or too long.
 */
static bool element_text(const xmlNode *el, char *out, size_t cap)
{
	size_t n = 0;
	for (const xmlNode *t = el->children; t != NULL; t = t->next) {
		if (t->type == XML_COMMENT_NODE)
			continue;
		if (t->type != XML_TEXT_NODE && t->type != XML_CDATA_SECTION_NODE)
			return false;
		size_t l = strlen((const char *)t->content);
		if (n + l >= cap)
			return false;
		memcpy(out + n, t->content, l);
		n += l;
	}
	out[n] = 0;
	size_t b = 0;
	while (b < n && (out[b] == ' ' || out[b] == '\t' || out[b] == '\r' || out[b] == '\n'))
		b++;
	size_t e = n;
	while (e > b && (out[e - 1] == ' ' || out[e - 1] == '\t' || out[e - 1] == '\r' ||
	                 out[e - 1] == '\n'))
		e--;
	memmove(out, out + b, e - b);
	out[e - b] = 0;
	return e > b;
}

typedef struct pox_request {
	char email[MH_SRV_AUTODISCOVER_MAX_ADDRESS + 1];
	char legacy_dn[MH_SRV_AUTODISCOVER_MAX_ADDRESS + 1];
	char schema[256];
} pox_request;

/* 0, or the Autodiscover error code with *message set. */
static unsigned parse_request(const uint8_t *body, size_t len, pox_request *r, const char **message)
{
	*message = "Invalid Request";
	memset(r, 0, sizeof(*r));
	if (len == 0 || len > MH_SRV_AUTODISCOVER_MAX_REQUEST)
		return MH_SRV_AD_ERROR_INVALID;
	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
	if (ctxt == NULL)
		return MH_SRV_AD_ERROR_SERVER;
	ctxt->sax->internalSubset = refuse_dtd;
	ctxt->_private = NULL;
	/* No XML_PARSE_NOENT (entity substitution) or XML_PARSE_DTDLOAD; no network. */
	xmlDocPtr doc = xmlCtxtReadMemory(ctxt, (const char *)body, (int)len, "request.xml", NULL,
	                                  XML_PARSE_NONET | XML_PARSE_NOERROR |
	                                      XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	bool had_dtd = ctxt->_private != NULL;
	unsigned code = MH_SRV_AD_ERROR_INVALID;
	if (doc == NULL || had_dtd || doc->intSubset != NULL || doc->extSubset != NULL)
		goto out;
	const xmlNode *root = xmlDocGetRootElement(doc);
	if (!is_element(root, "Autodiscover"))
		goto out;
	const xmlNode *req = child_element(root, "Request");
	if (req == NULL)
		goto out;
	const xmlNode *email = child_element(req, "EMailAddress");
	const xmlNode *dn = child_element(req, "LegacyDN");
	const xmlNode *schema = child_element(req, "AcceptableResponseSchema");
	if (email != NULL && !element_text(email, r->email, sizeof(r->email)))
		goto out;
	if (dn != NULL && !element_text(dn, r->legacy_dn, sizeof(r->legacy_dn)))
		goto out;
	if (email == NULL && dn == NULL)
		goto out;
	if (schema == NULL || !element_text(schema, r->schema, sizeof(r->schema)))
		goto out;
	if (strcmp(r->schema, MH_SRV_AD_NS_OUTLOOK) != 0) {
		*message = "Provider is not available";
		code = MH_SRV_AD_ERROR_NO_PROVIDER;
		goto out;
	}
	code = 0;
out:
	if (doc != NULL)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return code;
}

/* ---- response --------------------------------------------------------------------------- */

typedef struct xml_out {
	xmlDocPtr doc;
	bool failed;
} xml_out;

static xmlNodePtr add(xml_out *x, xmlNodePtr parent, xmlNsPtr ns, const char *name,
                      const char *text)
{
	if (x->failed)
		return NULL;
	xmlNodePtr n = xmlNewTextChild(parent, ns, XC(name), XC(text));
	if (n == NULL)
		x->failed = true;
	return n;
}

static mh_status finish_doc(xml_out *x, mh_buf *out)
{
	xmlChar *mem = NULL;
	int size = 0;
	if (!x->failed)
		xmlDocDumpMemoryEnc(x->doc, &mem, &size, "utf-8");
	xmlFreeDoc(x->doc);
	if (mem == NULL || size <= 0) {
		xmlFree(mem);
		return mh_error_oom();
	}
	mh_buf_put(out, mem, (size_t)size);
	xmlFree(mem);
	return mh_buf_status(out);
}

/* <Autodiscover xmlns=responseschema/2006><Response [xmlns=outlook 2006a]> */
static xmlNodePtr start_doc(xml_out *x, bool outlook, xmlNsPtr *resp_ns)
{
	x->failed = false;
	x->doc = xmlNewDoc(BAD_CAST "1.0");
	if (x->doc == NULL) {
		x->failed = true;
		return NULL;
	}
	xmlNodePtr root = xmlNewNode(NULL, BAD_CAST "Autodiscover");
	if (root == NULL) {
		x->failed = true;
		return NULL;
	}
	xmlDocSetRootElement(x->doc, root);
	xmlNsPtr ns = xmlNewNs(root, BAD_CAST MH_SRV_AD_NS_RESPONSE, NULL);
	xmlSetNs(root, ns);
	xmlNodePtr resp = add(x, root, ns, "Response", NULL);
	if (resp == NULL)
		return NULL;
	if (outlook) {
		xmlNsPtr ons = xmlNewNs(resp, BAD_CAST MH_SRV_AD_NS_OUTLOOK, NULL);
		xmlSetNs(resp, ons);
		ns = ons;
	}
	if (ns == NULL)
		x->failed = true;
	*resp_ns = ns;
	return resp;
}

mh_status mh_srv_autodiscover_error(mh_buf *out, unsigned code, const char *message, int64_t now,
                                    uint32_t id)
{
	xml_out x;
	xmlNsPtr ns = NULL;
	xmlNodePtr resp = start_doc(&x, false, &ns);
	xmlNodePtr err = add(&x, resp, ns, "Error", NULL);
	if (err != NULL) {
		time_t t = (time_t)now;
		struct tm tm;
		char hms[16] = "00:00:00";
		if (gmtime_r(&t, &tm) != NULL)
			strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
		char idtext[16];
		snprintf(idtext, sizeof(idtext), "%u", (unsigned)id);
		char codetext[16];
		snprintf(codetext, sizeof(codetext), "%u", code);
		if (xmlNewProp(err, BAD_CAST "Time", BAD_CAST hms) == NULL ||
		    xmlNewProp(err, BAD_CAST "Id", BAD_CAST idtext) == NULL)
			x.failed = true;
		add(&x, err, ns, "ErrorCode", codetext);
		add(&x, err, ns, "Message", message);
		add(&x, err, ns, "DebugData", NULL);
	}
	return finish_doc(&x, out);
}

typedef struct url_set {
	char emsmdb[1024];
	char nspi[1024];
} url_set;

static void add_mapihttp(xml_out *x, xmlNodePtr account, xmlNsPtr ns, const char *base,
                         const char *mailbox_id)
{
	url_set u;
	snprintf(u.emsmdb, sizeof(u.emsmdb), "%s/mapi/emsmdb/?MailboxId=%s", base, mailbox_id);
	snprintf(u.nspi, sizeof(u.nspi), "%s/mapi/nspi/?MailboxId=%s", base, mailbox_id);
	xmlNodePtr p = add(x, account, ns, "Protocol", NULL);
	if (p == NULL)
		return;
	/* Version 1 is the only one served, and 1 <= any capability a client sends. */
	if (xmlNewProp(p, BAD_CAST "Type", BAD_CAST "mapiHttp") == NULL ||
	    xmlNewProp(p, BAD_CAST "Version", BAD_CAST "1") == NULL)
		x->failed = true;
	xmlNodePtr ms = add(x, p, ns, "MailStore", NULL);
	add(x, ms, ns, "InternalUrl", u.emsmdb);
	add(x, ms, ns, "ExternalUrl", u.emsmdb);
	xmlNodePtr ab = add(x, p, ns, "AddressBook", NULL);
	add(x, ab, ns, "InternalUrl", u.nspi);
	add(x, ab, ns, "ExternalUrl", u.nspi);
}

static void add_exch(xml_out *x, xmlNodePtr account, xmlNsPtr ns, const mh_srv_mailbox *m)
{
	xmlNodePtr p = add(x, account, ns, "Protocol", NULL);
	add(x, p, ns, "Type", "EXCH");
	add(x, p, ns, "Server", m->mailbox_id);
	add(x, p, ns, "ServerVersion", AD_SERVER_VERSION);
	add(x, p, ns, "ServerDN", m->server_dn);
	add(x, p, ns, "MdbDN", m->mdb_dn);
}

/* Archive entry: MAPI/HTTP form (SmtpAddress) or RPC form (LegacyDN + Server), wire.md 7.4. */
static void add_archive(xml_out *x, xmlNodePtr account, xmlNsPtr ns, const mh_srv_mailbox *a,
                        const char *domain, bool mapihttp)
{
	char guid[37];
	char text[512];
	mh_srv_guid_text(guid, &a->guid);
	xmlNodePtr e = add(x, account, ns, "AlternativeMailbox", NULL);
	add(x, e, ns, "Type", "Archive");
	add(x, e, ns, "DisplayName", a->display_name);
	if (mapihttp) {
		snprintf(text, sizeof(text), "ExchangeGuid+%s@%s", guid, domain);
		add(x, e, ns, "SmtpAddress", text);
	} else {
		add(x, e, ns, "LegacyDN", a->legacy_dn);
		snprintf(text, sizeof(text), "%s@%s", guid, domain);
		add(x, e, ns, "Server", text);
	}
	add(x, e, ns, "OwnerSmtpAddress", a->owner.smtp);
}

static void add_delegate(xml_out *x, xmlNodePtr account, xmlNsPtr ns, const mh_srv_mailbox *m)
{
	xmlNodePtr e = add(x, account, ns, "AlternativeMailbox", NULL);
	add(x, e, ns, "Type", "Delegate");
	add(x, e, ns, "DisplayName", m->owner.display_name);
	add(x, e, ns, "SmtpAddress", m->owner.smtp);
	add(x, e, ns, "OwnerSmtpAddress", m->owner.smtp);
}

static mh_status settings_doc(mh_srv_store *st, mh_arena *arena, const mh_srv_org_info *org,
                              const mh_srv_mailbox *m, const mh_srv_autodiscover_request *req,
                              mh_buf *out)
{
	bool archive = m->kind == MH_SRV_MAILBOX_ARCHIVE;
	mh_srv_mailbox arch;
	bool has_archive = false;
	mh_srv_mailbox *delegates = NULL;
	size_t n_delegates = 0;
	mh_status s;
	if (!archive) {
		s = mh_srv_store_mailbox_of(st, arena, m->owner.id, MH_SRV_MAILBOX_ARCHIVE, &arch);
		if (s == S_OK)
			has_archive = true;
		else if (s != MAPI_E_NOT_FOUND)
			return s;
		s = mh_srv_store_automapped(st, arena, m->owner.id, &delegates, &n_delegates);
		if (s != S_OK)
			return s;
	}

	GUID dep;
	char dep_text[37];
	mh_srv_name_guid(&dep, "deployment", org->domain, org->name);
	mh_srv_guid_text(dep_text, &dep);

	xml_out x;
	xmlNsPtr ns = NULL;
	xmlNodePtr resp = start_doc(&x, true, &ns);
	xmlNodePtr user = add(&x, resp, ns, "User", NULL);
	add(&x, user, ns, "DisplayName", archive ? m->display_name : m->owner.display_name);
	add(&x, user, ns, "LegacyDN", m->legacy_dn);
	add(&x, user, ns, "AutoDiscoverSMTPAddress", m->owner.smtp);
	add(&x, user, ns, "DeploymentId", dep_text);
	xmlNodePtr account = add(&x, resp, ns, "Account", NULL);
	add(&x, account, ns, "AccountType", "email");
	add(&x, account, ns, "Action", "settings");
	add(&x, account, ns, "MicrosoftOnline", "False");
	if (req->mapihttp_version > 0)
		add_mapihttp(&x, account, ns, req->base_url, m->mailbox_id);
	add_exch(&x, account, ns, m);
	if (has_archive)
		add_archive(&x, account, ns, &arch, org->domain, req->mapihttp_version > 0);
	for (size_t i = 0; i < n_delegates; i++) {
		if (delegates[i].id != m->id)
			add_delegate(&x, account, ns, &delegates[i]);
	}
	return finish_doc(&x, out);
}

/* An FNV-1a digest of the address and time, so two errors rarely share an Id. */
static uint32_t error_id(const char *address, int64_t now)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; address[i] != 0; i++)
		h = (h ^ (uint8_t)address[i]) * 16777619u;
	for (int i = 0; i < 8; i++)
		h = (h ^ (uint8_t)((uint64_t)now >> (8 * i))) * 16777619u;
	return h & 0x7FFFFFFFu;
}

static mh_status error_doc(mh_buf *out, unsigned code, const char *message, const char *address,
                           int64_t now, unsigned *error_code)
{
	*error_code = code;
	return mh_srv_autodiscover_error(out, code, message, now, error_id(address, now));
}

mh_status mh_srv_autodiscover_pox(mh_srv_store *st, const mh_srv_autodiscover_request *req,
                                  mh_buf *out, unsigned *error_code)
{
	pox_request r;
	const char *message;
	unsigned code = parse_request(req->body, req->len, &r, &message);
	if (code != 0)
		return error_doc(out, code, message, "", req->now, error_code);
	const char *address = r.email[0] != 0 ? r.email : r.legacy_dn;

	mh_arena arena = MH_ARENA_INIT;
	mh_srv_org_info org;
	mh_srv_mailbox m;
	mh_status s = mh_srv_store_org_info(st, &arena, &org);
	if (s == S_OK) {
		if (r.email[0] != 0)
			s = mh_srv_store_mailbox_by_address(st, &arena, r.email, &m);
		else
			s = mh_srv_store_mailbox_by_dn(st, &arena, r.legacy_dn, &m);
	}
	if (s == MAPI_E_NOT_FOUND) {
		/* A recipient without a mailbox is "not a mailbox" (501), anything else 500. */
		mh_srv_recipient rc;
		mh_status rs = r.email[0] != 0
		                   ? mh_srv_store_recipient_by_smtp(st, &arena, r.email, &rc)
		                   : mh_srv_store_recipient_by_dn(st, &arena, r.legacy_dn, &rc);
		mh_arena_free(&arena);
		if (rs == S_OK)
			return error_doc(
			    out, MH_SRV_AD_ERROR_NOT_MAILBOX,
			    "The directory object found for this address is not a mailbox", address,
			    req->now, error_code);
		return error_doc(out, MH_SRV_AD_ERROR_NO_ADDRESS,
		                 "The e-mail address cannot be found", address, req->now,
		                 error_code);
	}
	if (s == S_OK) {
		s = settings_doc(st, &arena, &org, &m, req, out);
		if (s == S_OK)
			*error_code = 0;
	}
	mh_arena_free(&arena);
	if (s != S_OK) {
		out->len = 0;
		out->err = S_OK;
		return error_doc(out, MH_SRV_AD_ERROR_SERVER, "Server Error", address, req->now,
		                 error_code);
	}
	return S_OK;
}

/* ---- JSON v2 ---------------------------------------------------------------------------- */

/* A copy of client text safe to echo: printable ASCII only, at most 64 characters. */
static void echo_text(char out[72], const char *s)
{
	size_t n = 0;
	for (size_t i = 0; s[i] != 0 && n < 64; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[n++] = (ch >= 0x20 && ch < 0x7F) ? (char)ch : '?';
	}
	out[n] = 0;
}

mh_status mh_srv_autodiscover_json(const char *protocol, const char *address, const char *base_url,
                                   mh_buf *out, unsigned *http_status)
{
	json_t *o;
	if (protocol == NULL || protocol[0] == 0) {
		*http_status = 400;
		o = json_pack("{s:s,s:s}", "ErrorCode", "MissingProtocol", "ErrorMessage",
		              "The request does not name a Protocol.");
	} else if (address == NULL || address[0] == 0 || strchr(address, '@') == NULL) {
		*http_status = 400;
		o = json_pack("{s:s,s:s}", "ErrorCode", "MandatoryParameterMissing", "ErrorMessage",
		              "The request does not name an e-mail address.");
	} else if (strcmp(protocol, "AutodiscoverV1") == 0) {
		char url[1024];
		snprintf(url, sizeof(url), "%s/autodiscover/autodiscover.xml", base_url);
		*http_status = 200;
		o = json_pack("{s:s,s:s}", "Protocol", "AutodiscoverV1", "Url", url);
	} else {
		char p[72];
		char msg[256];
		echo_text(p, protocol);
		snprintf(msg, sizeof(msg),
		         "Protocol: The protocol '%s' is not supported. Supported protocols are: "
		         "'AutodiscoverV1'.",
		         p);
		*http_status = 200;
		o = json_pack("{s:s,s:s}", "ErrorCode", "ProtocolNotSupported", "ErrorMessage",
		              msg);
	}
	if (o == NULL)
		return mh_error_oom();
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		return mh_error_oom();
	mh_buf_put(out, text, strlen(text));
	free(text);
	return mh_buf_status(out);
}
