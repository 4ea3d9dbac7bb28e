/*
 * JSON Autodiscover v2 (wire.md §7.6), client side: the one-object answer, and the helpers
 * that need no XML: candidate URLs for an address and a MailStore URL for another MailboxId.
 */
#include "autodiscover/autodiscover.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "util/diag.h"

static mh_status member(json_t *obj, const char *name, mh_arena *a, const char **out)
{
	*out = NULL;
	json_t *v = json_object_get(obj, name);
	if (v == NULL || json_is_null(v))
		return S_OK;
	if (!json_is_string(v))
		return mh_error_set(MAPI_E_CORRUPT_DATA, -1,
		                    "Autodiscover JSON answer: \"%s\" is not a string", name);
	size_t n = json_string_length(v);
	if (n > MH_AD_MAX_TEXT)
		return mh_error_set(MAPI_E_CORRUPT_DATA, -1,
		                    "Autodiscover JSON answer: \"%s\" is longer than %u bytes",
		                    name, MH_AD_MAX_TEXT);
	if (memchr(json_string_value(v), 0, n) != NULL)
		return mh_error_set(MAPI_E_CORRUPT_DATA, -1,
		                    "Autodiscover JSON answer: \"%s\" contains a NUL", name);
	char *s = NULL;
	mh_status st = mh_arena_strndup(a, json_string_value(v), n, &s);
	*out = s;
	return st;
}

mh_status mh_ad_json_parse(const uint8_t *json, size_t len, mh_arena *a, mh_ad_json *out)
{
	memset(out, 0, sizeof(*out));
	if (len > MH_AD_MAX_DOCUMENT)
		return mh_error_set(MAPI_E_TOO_BIG, -1,
		                    "Autodiscover JSON answer: %zu bytes (at most %zu are read)",
		                    len, MH_AD_MAX_DOCUMENT);
	json_error_t err;
	json_t *root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL)
		return mh_error_set(MAPI_E_CORRUPT_DATA, err.position,
		                    "Autodiscover JSON answer: line %d column %d: %s", err.line,
		                    err.column, err.text);
	mh_status st = S_OK;
	if (!json_is_object(root)) {
		st =
		    mh_error_set(MAPI_E_CORRUPT_DATA, 0, "Autodiscover JSON answer: not an object");
		goto out;
	}
	if ((st = member(root, "Protocol", a, &out->protocol)) != S_OK ||
	    (st = member(root, "Url", a, &out->url)) != S_OK ||
	    (st = member(root, "ErrorCode", a, &out->error_code)) != S_OK ||
	    (st = member(root, "ErrorMessage", a, &out->error_message)) != S_OK)
		goto out;
	if (out->url == NULL && out->error_code == NULL)
		st = mh_error_set(MAPI_E_CORRUPT_DATA, -1,
		                  "Autodiscover JSON answer: neither Url nor ErrorCode");
out:
	json_decref(root);
	if (st != S_OK)
		memset(out, 0, sizeof(*out));
	return st;
}

/* A DNS host name: LDH labels of 1..63 bytes, 1..253 bytes in all. */
static bool host_ok(const char *h)
{
	size_t n = strlen(h), label = 0;
	if (n == 0 || n > 253 || h[0] == '.' || h[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];
		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		          (ch >= '0' && ch <= '9') || ch == '-';
		if (!ok || ++label > 63)
			return false;
	}
	return true;
}

mh_status mh_ad_candidates(const char *email, mh_arena *a, const char *urls[MH_AD_CANDIDATES])
{
	const char *at = email != NULL ? strrchr(email, '@') : NULL;
	if (at == NULL || !host_ok(at + 1))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "Autodiscover: \"%.64s\" has no usable domain",
		                    email != NULL ? email : "(null)");
	const char *domain = at + 1;
	for (unsigned i = 0; i < MH_AD_CANDIDATES; i++) {
		char buf[320];
		int n;
		if (i == 0)
			n = snprintf(buf, sizeof(buf), "https://%s/autodiscover/autodiscover.xml",
			             domain);
		else
			n = snprintf(buf, sizeof(buf),
			             "%s://autodiscover.%s/autodiscover/autodiscover.xml",
			             i == 1 ? "https" : "http", domain);
		char *s = NULL;
		mh_status st = mh_arena_strndup(a, buf, (size_t)n, &s);
		if (st != S_OK)
			return st;
		urls[i] = s;
	}
	return S_OK;
}

/* "<8>-<4>-<4>-<4>-<12 hex>@<host>" */
static bool mailbox_id_ok(const char *id)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx@";
	for (size_t i = 0; i + 1 < sizeof(shape); i++) {
		char ch = id[i];
		if (shape[i] == 'x') {
			bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
			           (ch >= 'A' && ch <= 'F');
			if (!hex)
				return false;
		} else if (ch != shape[i]) {
			return false;
		}
	}
	return host_ok(id + sizeof(shape) - 1);
}

mh_status mh_ad_url_with_mailbox_id(const char *url, const char *mailbox_id, mh_arena *a,
                                    const char **out)
{
	*out = NULL;
	if (mailbox_id == NULL || !mailbox_id_ok(mailbox_id))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "Autodiscover: \"%.80s\" is not a MailboxId (<guid>@<domain>)",
		                    mailbox_id != NULL ? mailbox_id : "(null)");
	const char *q = url != NULL ? strchr(url, '?') : NULL;
	const char *p = q;
	while (p != NULL) {
		p++;
		if (strncasecmp(p, "MailboxId=", 10) == 0)
			break;
		p = strchr(p, '&');
	}
	if (p == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "Autodiscover: the URL \"%.120s\" has no MailboxId parameter",
		                    url != NULL ? url : "(null)");
	const char *v = p + 10;
	size_t vlen = strcspn(v, "&#");
	size_t head = (size_t)(v - url), tail = strlen(v + vlen), id = strlen(mailbox_id);
	char *s = NULL;
	mh_status st = mh_arena_alloc(a, head + id + tail + 1, (void **)&s);
	if (st != S_OK)
		return st;
	memcpy(s, url, head);
	memcpy(s + head, mailbox_id, id);
	memcpy(s + head + id, v + vlen, tail + 1);
	*out = s;
	return S_OK;
}
