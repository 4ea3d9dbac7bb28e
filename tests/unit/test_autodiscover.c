/*
 * The Autodiscover client's parsers and builders: gromox's real answers, mapihttpd's answers
 * in both AlternativeMailbox forms, redirects, errors, hostile XML (DTDs, entities), every
 * truncation, and the JSON v2 answer.
 */
#define _DEFAULT_SOURCE

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "autodiscover/autodiscover.h"
#include "mapihttp/status.h"
#include "server/autodiscover.h"
#include "server/store.h"
#include "util/diag.h"
#include "vectors.h"

#ifndef MH_VECTORS_DIR
#error "MH_VECTORS_DIR must name tests/vectors"
#endif

#define GROMOX_DIR MH_VECTORS_DIR "/gromox"
#define DN_PREFIX  "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define BOB_GUID   "eb113c0f-3344-86e1-ad16-c68cf5c1be62"
#define ARCH_GUID  "6bc6e012-62aa-8d2f-bbd6-151067afaa5d"

static uint8_t *load(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", GROMOX_DIR, name);
	uint8_t *p = mh_vector_read_hex(path, len);
	assert_non_null(p);
	return p;
}

static mh_status parse_text(const char *xml, mh_arena *a, mh_ad_pox *out)
{
	return mh_ad_pox_parse((const uint8_t *)xml, strlen(xml), a, out);
}

/* ---- gromox ------------------------------------------------------------------------------- */

static void test_autodiscover__gromox_settings(void **state)
{
	(void)state;
	size_t len;
	uint8_t *xml = load("autodiscover_pox_alice.resp.hex", &len);
	mh_arena a = MH_ARENA_INIT;
	mh_ad_pox r;
	assert_int_equal(mh_ad_pox_parse(xml, len, &a, &r), 0);
	assert_int_equal(r.action, MH_AD_ACTION_SETTINGS);
	assert_false(r.is_error);
	assert_string_equal(r.display_name, "Alice Example");
	assert_string_equal(r.smtp_address, "alice@example.test");
	assert_string_equal(r.legacy_dn,
	                    "/o=Gromox default/ou=Exchange Administrative Group "
	                    "(FYDIBOHF23SPDLT)/cn=Recipients/cn=0100000001000000-alice");
	assert_true(r.has_mapihttp);
	assert_int_equal(r.mapihttp_version, 1);
	assert_string_equal(mh_ad_urls_pick(&r.mailstore),
	                    "https://localhost:10443/mapi/emsmdb/"
	                    "?MailboxId=616c6963-6540-6578-616d-706c01000000@example.test");
	assert_string_equal(mh_ad_urls_pick(&r.addressbook),
	                    "https://localhost:10443/mapi/nspi/"
	                    "?MailboxId=616c6963-6540-6578-616d-706c01000000@example.test");
	assert_string_equal(r.server, "616c6963-6540-6578-616d-706c01000000@example.test");
	assert_non_null(strstr(r.server_dn, "/cn=Configuration/cn=Servers/cn=616c6963"));
	assert_non_null(strstr(r.mdb_dn, "/cn=Microsoft Private MDB"));
	assert_int_equal(r.n_alternatives, 0);
	mh_arena_free(&a);
	free(xml);
}

static void test_autodiscover__gromox_other_user_and_error(void **state)
{
	(void)state;
	size_t len;
	uint8_t *xml = load("autodiscover_pox_bob_as_svc.resp.hex", &len);
	mh_arena a = MH_ARENA_INIT;
	mh_ad_pox r;
	assert_int_equal(mh_ad_pox_parse(xml, len, &a, &r), 0);
	assert_string_equal(r.display_name, "Bob Example");
	assert_non_null(strstr(r.legacy_dn, "-bob"));
	free(xml);

	xml = load("autodiscover_pox_unknown.resp.hex", &len);
	assert_int_equal(mh_ad_pox_parse(xml, len, &a, &r), 0);
	assert_true(r.is_error);
	assert_int_equal(r.action, MH_AD_ACTION_NONE);
	assert_int_equal(r.error_code, 404); /* gromox's own value; Exchange says 500 */
	assert_string_equal(r.error_message, "Not Found");
	assert_null(r.legacy_dn);
	free(xml);
	mh_arena_free(&a);
}

/* ---- mapihttpd: the archive in both forms, delegates -------------------------------------- */

static void server_answer(mh_srv_store *st, const char *email, unsigned version, mh_buf *out)
{
	mh_buf req = MH_BUF_INIT;
	assert_int_equal(mh_ad_pox_request(&req, email), 0);
	mh_srv_autodiscover_request r = {req.data, req.len, version, "https://mail.contoso.test",
	                                 1700000000};
	unsigned code = 99;
	assert_int_equal(mh_srv_autodiscover_pox(st, &r, out, &code), 0);
	assert_int_equal(code, 0); /* our request is one mapihttpd accepts */
	mh_buf_free(&req);
}

static const mh_ad_alternative *find_alt(const mh_ad_pox *r, mh_ad_alt_kind k, const char *smtp)
{
	for (size_t i = 0; i < r->n_alternatives; i++) {
		const mh_ad_alternative *x = &r->alternatives[i];
		if (x->kind == k && (smtp == NULL || (x->smtp_address != NULL &&
		                                      strcmp(x->smtp_address, smtp) == 0)))
			return x;
	}
	return NULL;
}

static void test_autodiscover__mapihttpd_archive_forms(void **state)
{
	(void)state;
	mh_srv_store *st = NULL;
	assert_int_equal(mh_srv_store_open(&st, NULL), 0);
	assert_int_equal(mh_srv_store_load_sample(st), 0);
	mh_arena a = MH_ARENA_INIT;

	/* MAPI/HTTP client: the archive by SmtpAddress only. */
	mh_buf b = MH_BUF_INIT;
	server_answer(st, "bob@contoso.test", 1, &b);
	mh_ad_pox r;
	assert_int_equal(mh_ad_pox_parse(b.data, b.len, &a, &r), 0);
	assert_string_equal(r.legacy_dn, DN_PREFIX "/cn=Recipients/cn=bob");
	assert_string_equal(mh_ad_urls_pick(&r.mailstore),
	                    "https://mail.contoso.test/mapi/emsmdb/?MailboxId=" BOB_GUID
	                    "@contoso.test");
	const mh_ad_alternative *arch = find_alt(&r, MH_AD_ALT_ARCHIVE, NULL);
	assert_non_null(arch);
	assert_string_equal(arch->smtp_address, "ExchangeGuid+" ARCH_GUID "@contoso.test");
	assert_string_equal(arch->owner_smtp_address, "bob@contoso.test");
	assert_string_equal(arch->display_name, "Online Archive - Bob Baker");
	assert_null(arch->legacy_dn);
	assert_null(arch->server);
	mh_buf_free(&b);

	/* Autodiscover on that address gives the archive's own DN and MailboxId. */
	server_answer(st, arch->smtp_address, 1, &b);
	mh_ad_pox ra;
	assert_int_equal(mh_ad_pox_parse(b.data, b.len, &a, &ra), 0);
	assert_string_equal(ra.legacy_dn, DN_PREFIX "/cn=Recipients/cn=bob/guid=" ARCH_GUID);
	assert_non_null(strstr(mh_ad_urls_pick(&ra.mailstore), "MailboxId=" ARCH_GUID "@"));
	mh_buf_free(&b);

	/* RPC-only client: LegacyDN + Server; the URL is made from bob's. */
	server_answer(st, "bob@contoso.test", 0, &b);
	assert_int_equal(mh_ad_pox_parse(b.data, b.len, &a, &r), 0);
	assert_false(r.has_mapihttp);
	arch = find_alt(&r, MH_AD_ALT_ARCHIVE, NULL);
	assert_non_null(arch);
	assert_null(arch->smtp_address);
	assert_string_equal(arch->legacy_dn, DN_PREFIX "/cn=Recipients/cn=bob/guid=" ARCH_GUID);
	assert_string_equal(arch->server, ARCH_GUID "@contoso.test");
	const char *url = NULL;
	assert_int_equal(
	    mh_ad_url_with_mailbox_id("https://mail.contoso.test/mapi/emsmdb/?MailboxId=" BOB_GUID
	                              "@contoso.test",
	                              arch->server, &a, &url),
	    0);
	assert_string_equal(url, "https://mail.contoso.test/mapi/emsmdb/?MailboxId=" ARCH_GUID
	                         "@contoso.test");
	mh_buf_free(&b);

	/* svc: auto-mapped Delegate entries for bob and helpdesk. */
	server_answer(st, "svc@contoso.test", 1, &b);
	assert_int_equal(mh_ad_pox_parse(b.data, b.len, &a, &r), 0);
	const mh_ad_alternative *d = find_alt(&r, MH_AD_ALT_DELEGATE, "bob@contoso.test");
	assert_non_null(d);
	assert_string_equal(d->owner_smtp_address, "bob@contoso.test");
	assert_non_null(find_alt(&r, MH_AD_ALT_DELEGATE, "helpdesk@contoso.test"));
	assert_null(find_alt(&r, MH_AD_ALT_DELEGATE, "alice@contoso.test"));
	mh_buf_free(&b);

	mh_arena_free(&a);
	mh_srv_store_free(st);
}

/* ---- redirects, placements, errors -------------------------------------------------------- */

#define HEAD                                                              \
	"<?xml version=\"1.0\"?><Autodiscover xmlns=\"" MH_AD_NS_RESPONSE \
	"\"><Response xmlns=\"" MH_AD_NS_OUTLOOK "\">"
#define TAIL "</Response></Autodiscover>"

static void test_autodiscover__redirects(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	mh_ad_pox r;
	assert_int_equal(parse_text(HEAD "<Account><Action>redirectAddr</Action><RedirectAddr> "
	                                 "jane@fabrikam.test </RedirectAddr></Account>" TAIL,
	                            &a, &r),
	                 0);
	assert_int_equal(r.action, MH_AD_ACTION_REDIRECT_ADDR);
	assert_string_equal(r.redirect, "jane@fabrikam.test"); /* trimmed */
	assert_int_equal(parse_text(HEAD "<Account><Action>redirectUrl</Action><RedirectUrl>"
	                                 "https://ad.fabrikam.test/autodiscover/autodiscover.xml"
	                                 "</RedirectUrl></Account>" TAIL,
	                            &a, &r),
	                 0);
	assert_int_equal(r.action, MH_AD_ACTION_REDIRECT_URL);
	assert_string_equal(r.redirect, "https://ad.fabrikam.test/autodiscover/autodiscover.xml");
	/* A redirect without its target, an unknown action. */
	assert_int_equal(
	    parse_text(HEAD "<Account><Action>redirectUrl</Action></Account>" TAIL, &a, &r),
	    MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "without its target"));
	assert_int_equal(
	    parse_text(HEAD "<Account><Action>teleport</Action></Account>" TAIL, &a, &r),
	    MAPI_E_CORRUPT_DATA);
	mh_arena_free(&a);
}

static void test_autodiscover__mapihttp_inside_internal(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	mh_ad_pox r;
	assert_int_equal(
	    parse_text(HEAD
	               "<User><LegacyDN>/o=X/cn=Recipients/cn=j</LegacyDN></User><Account>"
	               "<Action>settings</Action><Protocol><Internal><Protocol Type=\"mapiHttp\" "
	               "Version=\"2\"><MailStore><InternalUrl>https://in/mapi/emsmdb/"
	               "?MailboxId=a</InternalUrl></MailStore></Protocol></Internal>"
	               "<External><Protocol Type=\"mapiHttp\" Version=\"1\"><MailStore>"
	               "<ExternalUrl>https://out/mapi/emsmdb/?MailboxId=a</ExternalUrl>"
	               "</MailStore></Protocol></External></Protocol></Account>" TAIL,
	               &a, &r),
	    0);
	assert_true(r.has_mapihttp);
	assert_int_equal(r.mapihttp_version, 2);
	assert_string_equal(r.mailstore.internal_url, "https://in/mapi/emsmdb/?MailboxId=a");
	assert_string_equal(r.mailstore.external_url, "https://out/mapi/emsmdb/?MailboxId=a");
	assert_string_equal(mh_ad_urls_pick(&r.mailstore), "https://out/mapi/emsmdb/?MailboxId=a");
	assert_null(mh_ad_urls_pick(&r.addressbook));
	mh_arena_free(&a);
}

static void test_autodiscover__hostile_xml(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	mh_ad_pox r;
	/* An entity that would expand a file, a billion-laughs style internal one, a remote DTD. */
	static const char file_entity[] =
	    "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
	    "<Autodiscover><Response><User><LegacyDN>&x;</LegacyDN></User></Response></"
	    "Autodiscover>";
	static const char laughs[] =
	    "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b "
	    "\"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><Autodiscover>&b;</Autodiscover>";
	static const char remote_dtd[] =
	    "<!DOCTYPE Autodiscover SYSTEM \"http://127.0.0.1:1/x.dtd\"><Autodiscover/>";
	static const char *const bad[] = {file_entity, laughs, remote_dtd};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_text(bad[i], &a, &r), MAPI_E_CORRUPT_DATA);
		assert_non_null(strstr(mh_error_last()->message, "DOCTYPE"));
	}
	/* Not XML, another root, no Response, elements where text belongs, a long text. */
	assert_int_equal(parse_text("<Autodiscover><Response>", &a, &r), MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "not well-formed"));
	assert_int_equal(parse_text("<html><body>Sign in</body></html>", &a, &r),
	                 MAPI_E_CORRUPT_DATA);
	assert_int_equal(parse_text("<Autodiscover/>", &a, &r), MAPI_E_CORRUPT_DATA);
	assert_int_equal(
	    parse_text(HEAD "<User><LegacyDN><b>x</b></LegacyDN></User><Account/>" TAIL, &a, &r),
	    MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "User/LegacyDN holds elements"));
	assert_int_equal(
	    parse_text(HEAD "<Account><Action>settings</Action></Account>" TAIL, &a, &r),
	    MAPI_E_CORRUPT_DATA); /* settings without a LegacyDN */
	size_t n = MH_AD_MAX_TEXT + 200;
	char *big = malloc(n + 256);
	assert_non_null(big);
	int off = snprintf(big, 256, HEAD "<User><LegacyDN>");
	memset(big + off, 'x', MH_AD_MAX_TEXT + 1);
	strcpy(big + off + MH_AD_MAX_TEXT + 1, "</LegacyDN></User><Account/>" TAIL);
	assert_int_equal(parse_text(big, &a, &r), MAPI_E_CORRUPT_DATA);
	assert_non_null(strstr(mh_error_last()->message, "longer than"));
	free(big);
	assert_int_equal(mh_ad_pox_parse((const uint8_t *)"x", MH_AD_MAX_DOCUMENT + 1, &a, &r),
	                 MAPI_E_TOO_BIG);
	mh_arena_free(&a);
}

/* Every prefix of a real answer fails cleanly or parses; nothing leaks. */
static void test_autodiscover__truncations(void **state)
{
	(void)state;
	size_t len;
	uint8_t *xml = load("autodiscover_pox_alice.resp.hex", &len);
	for (size_t cut = 0; cut < len; cut++) {
		mh_arena a = MH_ARENA_INIT;
		mh_ad_pox r;
		mh_status st = mh_ad_pox_parse(xml, cut, &a, &r);
		assert_int_equal(st, MAPI_E_CORRUPT_DATA);
		mh_arena_free(&a);
	}
	free(xml);
}

/* ---- the request and the helpers ---------------------------------------------------------- */

static void test_autodiscover__request(void **state)
{
	(void)state;
	mh_buf b = MH_BUF_INIT;
	assert_int_equal(mh_ad_pox_request(&b, "o'neil&co@contoso.test"), 0);
	mh_buf_u8(&b, 0);
	assert_non_null(strstr((const char *)b.data,
	                       "<EMailAddress>o&apos;neil&amp;co@contoso.test</EMailAddress>"));
	assert_non_null(strstr((const char *)b.data, MH_AD_NS_OUTLOOK));
	mh_buf_free(&b);
	static const char *const bad[] = {
	    "", "nobody", "a@b@c", "@contoso.test", "a@", "a b@contoso.test", "a\n@contoso.test"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mh_buf x = MH_BUF_INIT;
		assert_int_equal(mh_ad_pox_request(&x, bad[i]), MAPI_E_INVALID_PARAMETER);
		mh_buf_free(&x);
	}
}

static void test_autodiscover__candidates_and_urls(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	const char *u[MH_AD_CANDIDATES];
	assert_int_equal(mh_ad_candidates("jane@Contoso.test", &a, u), 0);
	assert_string_equal(u[0], "https://Contoso.test/autodiscover/autodiscover.xml");
	assert_string_equal(u[1],
	                    "https://autodiscover.Contoso.test/autodiscover/autodiscover.xml");
	assert_string_equal(u[2], "http://autodiscover.Contoso.test/autodiscover/autodiscover.xml");
	assert_int_equal(mh_ad_candidates("jane@evil.test/x?", &a, u), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_ad_candidates("jane@.test", &a, u), MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_ad_candidates("jane", &a, u), MAPI_E_INVALID_PARAMETER);

	const char *url = NULL;
	assert_int_equal(mh_ad_url_with_mailbox_id("https://h/mapi/nspi/?a=1&MailboxId=x@y&b=2",
	                                           ARCH_GUID "@contoso.test", &a, &url),
	                 0);
	assert_string_equal(url,
	                    "https://h/mapi/nspi/?a=1&MailboxId=" ARCH_GUID "@contoso.test&b=2");
	assert_int_equal(
	    mh_ad_url_with_mailbox_id("https://h/mapi/nspi/", ARCH_GUID "@contoso.test", &a, &url),
	    MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_ad_url_with_mailbox_id("https://h/mapi/nspi/?MailboxId=x",
	                                           "mail.contoso.test", &a, &url),
	                 MAPI_E_INVALID_PARAMETER);
	mh_arena_free(&a);
}

/* ---- JSON v2 ------------------------------------------------------------------------------ */

static void test_autodiscover__json(void **state)
{
	(void)state;
	mh_arena a = MH_ARENA_INIT;
	size_t len;
	uint8_t *j = load("autodiscover_json_autodiscoverv1.resp.hex", &len);
	mh_ad_json r;
	assert_int_equal(mh_ad_json_parse(j, len, &a, &r), 0);
	assert_string_equal(r.protocol, "AutodiscoverV1");
	assert_string_equal(r.url, "https://localhost:10443/autodiscover/autodiscover.xml");
	assert_null(r.error_code);
	free(j);
	j = load("autodiscover_json_mapihttp.resp.hex", &len);
	assert_int_equal(mh_ad_json_parse(j, len, &a, &r), 0);
	assert_string_equal(r.error_code, "ProtocolNotSupported");
	assert_null(r.url);
	free(j);

	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"Url\":1}",
	    "{}",
	    "{\"Url\":\"a\",\"Url\":\"b\"}",
	    "{\"Url\":\"a\\u0000b\"}",
	    "{\"Url\":\"a\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mh_ad_json_parse((const uint8_t *)bad[i], strlen(bad[i]), &a, &r),
		                 MAPI_E_CORRUPT_DATA);
	mh_arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_autodiscover__gromox_settings),
	    cmocka_unit_test(test_autodiscover__gromox_other_user_and_error),
	    cmocka_unit_test(test_autodiscover__mapihttpd_archive_forms),
	    cmocka_unit_test(test_autodiscover__redirects),
	    cmocka_unit_test(test_autodiscover__mapihttp_inside_internal),
	    cmocka_unit_test(test_autodiscover__hostile_xml),
	    cmocka_unit_test(test_autodiscover__truncations),
	    cmocka_unit_test(test_autodiscover__request),
	    cmocka_unit_test(test_autodiscover__candidates_and_urls),
	    cmocka_unit_test(test_autodiscover__json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
