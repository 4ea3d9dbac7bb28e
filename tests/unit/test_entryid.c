/*
 * EntryID codec tests: every vector decodes to its expected fields, writers
 * rebuild real EntryIDs byte for byte, CreateStoreEntryID(2) rules and
 * errors, comparison, and malformed input (truncations, bit flips).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "mapihttp.h"
#include "util/hex.h"
#include "vectors.h"

#define STORE_DIR MH_VECTORS_DIR "/storeeid"
#define OTHER_DIR MH_VECTORS_DIR "/othereid"

#define DN_PREFIX  "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
#define MAILBOX_DN DN_PREFIX "/cn=Recipients/cn=shared01"
#define MDB_DN     DN_PREFIX "/cn=Configuration/cn=Servers/cn=EXSRV01/cn=Microsoft Private MDB"

/* ---- rendering a parsed EntryID as the vectors' key=value fields ------------------------ */

#define MAX_FIELDS 160

typedef struct fields {
	size_t n;
	char *key[MAX_FIELDS];
	char *value[MAX_FIELDS];
} fields;

static void add(fields *f, const char *prefix, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(fields *f, const char *prefix, const char *key, const char *fmt, ...)
{
	va_list ap;
	char buf[8192];
	char k[128];
	assert_true(f->n < MAX_FIELDS);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	snprintf(k, sizeof(k), "%s%s", prefix, key);
	f->key[f->n] = strdup(k);
	f->value[f->n] = strdup(buf);
	assert_non_null(f->key[f->n]);
	assert_non_null(f->value[f->n]);
	f->n++;
}

static void fields_free(fields *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->key[i]);
		free(f->value[i]);
	}
	f->n = 0;
}

static const char *fields_get(const fields *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->key[i], key) == 0)
			return f->value[i];
	return NULL;
}

static char *hexs(char *dst, const uint8_t *p, size_t n)
{
	mh_hex_encode(dst, p, n);
	return dst;
}

static void guid_wire(uint8_t out[16], const GUID *g)
{
	out[0] = (uint8_t)g->Data1;
	out[1] = (uint8_t)(g->Data1 >> 8);
	out[2] = (uint8_t)(g->Data1 >> 16);
	out[3] = (uint8_t)(g->Data1 >> 24);
	out[4] = (uint8_t)g->Data2;
	out[5] = (uint8_t)(g->Data2 >> 8);
	out[6] = (uint8_t)g->Data3;
	out[7] = (uint8_t)(g->Data3 >> 8);
	memcpy(out + 8, g->Data4, 8);
}

static GUID guid_from_wire(const uint8_t b[16])
{
	GUID g;
	g.Data1 = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
	          ((uint32_t)b[3] << 24);
	g.Data2 = (uint16_t)(b[4] | (b[5] << 8));
	g.Data3 = (uint16_t)(b[6] | (b[7] << 8));
	memcpy(g.Data4, b + 8, 8);
	return g;
}

static void add_guid(fields *f, const char *prefix, const char *key, const GUID *g)
{
	char s[39], hk[64], h[33];
	uint8_t w[16];
	add(f, prefix, key, "%s", mh_guid_format(s, g));
	guid_wire(w, g);
	snprintf(hk, sizeof(hk), "%s_hex", key);
	add(f, prefix, hk, "%s", hexs(h, w, 16));
}

static void add_counter(fields *f, const char *prefix, const char *key, uint64_t v)
{
	char k[64];
	add(f, prefix, key, "%012llx", (unsigned long long)v);
	snprintf(k, sizeof(k), "%s_value", key);
	add(f, prefix, k, "%llu", (unsigned long long)v);
}

static void add_pad(fields *f, const char *prefix, const char *key, uint16_t v)
{
	add(f, prefix, key, "%02x%02x", v & 0xFF, v >> 8);
}

static uint32_t le32(const uint8_t b[4])
{
	return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
	       ((uint32_t)b[3] << 24);
}

static bool ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7F)
			return false;
	return true;
}

static void render(fields *f, const mh_entryid *e, const char *prefix);

static void render_head(fields *f, const char *prefix, const uint8_t ab[4], const MAPIUID *uid)
{
	char h[40], s[39];
	GUID g = guid_from_wire(uid->ab);
	add(f, prefix, "abflags", "%s", hexs(h, ab, 4));
	add(f, prefix, "flags", "0x%08x", le32(ab));
	add(f, prefix, "provider_uid", "%s", hexs(h, uid->ab, 16));
	add(f, prefix, "provider_guid", "%s", mh_guid_format(s, &g));
}

static void render_store(fields *f, const mh_store_entryid *s, const char *p)
{
	char h[40];
	render_head(f, p, s->abFlags, &s->provider_uid);
	add(f, p, "eid_version", "%u", s->wrap_version);
	add(f, p, "eid_flag", "%u", s->wrap_flag);
	add(f, p, "dll", "%s", s->dll);
	add(f, p, "wrapped_flags", "0x%08x", s->wrapped_flags);
	add(f, p, "wrapped_provider_uid", "%s", hexs(h, s->wrapped_provider_uid.ab, 16));
	add(f, p, "wrapped_provider", "%s", s->is_public ? "public" : "private");
	add(f, p, "wrapped_type", "0x%08x", s->wrapped_type);
	add(f, p, "server_shortname", "%s", s->server);
	add(f, p, "mailbox_dn", "%s", s->mailbox_dn != NULL ? s->mailbox_dn : "<absent>");
	add(f, p, "ext", "%s", s->version == 1 ? "none" : s->version == 2 ? "v2" : "v3");
	if (s->version == 1)
		return;
	add(f, p, "ext_size", "%u", s->ext_size);
	add(f, p, "ext_version", "%u", s->ext_version);
	if (s->version == 2) {
		add(f, p, "ext_offset_dn", "%u", s->ext_offset_dn);
		add(f, p, "ext_offset_fqdn", "%u", s->ext_offset_fqdn);
		add(f, p, "v2_server_dn", "%s", s->server_dn ? s->server_dn : "<absent>");
		add(f, p, "v2_server_fqdn", "%s", s->server_fqdn ? s->server_fqdn : "<absent>");
	} else {
		add(f, p, "ext_offset_smtp", "%u", s->ext_offset_smtp);
		add(f, p, "v3_smtp", "%s", s->smtp_address);
	}
	if (s->ext_tail.cb == 0) {
		add(f, p, "ext_tail", "<none>");
	} else {
		char *t = malloc(2 * s->ext_tail.cb + 1);
		assert_non_null(t);
		add(f, p, "ext_tail", "%s", hexs(t, s->ext_tail.lpb, s->ext_tail.cb));
		free(t);
	}
	add(f, p, "ext_size_matches_len", "%s", s->ext_size_matches ? "yes" : "no");
}

static void render_inner(fields *f, const char *prefix, const mh_entryid *inner)
{
	char p[64];
	if (inner == NULL)
		return;
	snprintf(p, sizeof(p), "%sinner.", prefix);
	render(f, inner, p);
}

static void render(fields *f, const mh_entryid *e, const char *p)
{
	add(f, p, "kind", "%s", mh_entryid_kind_str(e->kind));
	add(f, p, "total_len", "%u", e->cb);
	if (e->trailing.cb > 0) {
		char *t = malloc(2 * e->trailing.cb + 1);
		assert_non_null(t);
		add(f, p, "trailing_hex", "%s", hexs(t, e->trailing.lpb, e->trailing.cb));
		free(t);
	}
	switch (e->kind) {
	case MH_ENTRYID_STORE:
		render_store(f, &e->u.store, p);
		break;
	case MH_ENTRYID_FOLDER: {
		const mh_folder_entryid *x = &e->u.folder;
		render_head(f, p, x->abFlags, &x->provider_uid);
		add(f, p, "object_type", "0x%04X", x->folder_type);
		add_guid(f, p, "database_guid", &x->database_guid);
		add_counter(f, p, "global_counter", x->global_counter);
		add_pad(f, p, "pad", x->pad);
		break;
	}
	case MH_ENTRYID_MESSAGE: {
		const mh_message_entryid *x = &e->u.message;
		render_head(f, p, x->abFlags, &x->provider_uid);
		add(f, p, "object_type", "0x%04X", x->message_type);
		add_guid(f, p, "folder_database_guid", &x->folder_database_guid);
		add_counter(f, p, "folder_global_counter", x->folder_global_counter);
		add_pad(f, p, "pad1", x->pad1);
		add_guid(f, p, "message_database_guid", &x->message_database_guid);
		add_counter(f, p, "message_global_counter", x->message_global_counter);
		add_pad(f, p, "pad2", x->pad2);
		break;
	}
	case MH_ENTRYID_AB: {
		const mh_ab_entryid *x = &e->u.ab;
		char *h = malloc(2 * strlen(x->x500dn) + 1);
		assert_non_null(h);
		render_head(f, p, x->abFlags, &x->provider_uid);
		add(f, p, "ab_version", "0x%08X", x->version);
		add(f, p, "display_type", "0x%08X", x->display_type);
		add(f, p, "x500dn_hex", "%s",
		    hexs(h, (const uint8_t *)x->x500dn, strlen(x->x500dn)));
		free(h);
		add(f, p, "x500dn", "%s",
		    ascii_printable(x->x500dn) ? x->x500dn : "<non-ascii; see x500dn_hex>");
		break;
	}
	case MH_ENTRYID_EPHEMERAL: {
		const mh_ephemeral_entryid *x = &e->u.ephemeral;
		render_head(f, p, x->abFlags, &x->provider_uid);
		add(f, p, "ab_version", "0x%08X", x->version);
		add(f, p, "display_type", "0x%08X", x->display_type);
		add(f, p, "mid", "0x%08X", x->mid);
		break;
	}
	case MH_ENTRYID_ONE_OFF: {
		const mh_one_off_entryid *x = &e->u.one_off;
		render_head(f, p, x->abFlags, &x->provider_uid);
		add(f, p, "oo_version", "0x%04X", x->version);
		add(f, p, "oo_flags", "0x%04X", x->flags);
		add(f, p, "oo_unicode", "%s", x->flags & MH_ONE_OFF_UNICODE ? "yes" : "no");
		add(f, p, "oo_no_rich_info", "%s",
		    x->flags & MH_ONE_OFF_NO_RICH_INFO ? "yes" : "no");
		add(f, p, "oo_dont_lookup", "%s", x->flags & MH_ONE_OFF_DONT_LOOKUP ? "yes" : "no");
		add(f, p, "oo_format", "0x%04X", x->flags & MH_ONE_OFF_FORMAT_MASK);
		add(f, p, "oo_mae", "0x%04X", x->flags & MH_ONE_OFF_MAE_MASK);
		add(f, p, "mfcmapi_dwbitmask", "0x%08X", ((uint32_t)x->flags << 16) | x->version);
		add(f, p, "display_name", "%s", x->display_name);
		add(f, p, "address_type", "%s", x->address_type);
		add(f, p, "email_address", "%s", x->email_address);
		break;
	}
	case MH_ENTRYID_CONTACT: {
		const mh_contact_entryid *x = &e->u.contact;
		render_head(f, p, x->abFlags, &x->provider_uid);
		add(f, p, "contab_version", "0x%08X", x->version);
		add(f, p, "contab_type", "0x%08X", x->type);
		if (x->type == MH_CONTAB_CONTAINER) {
			add_guid(f, p, "contab_muid", &x->muid);
		} else {
			add(f, p, "contab_index", "0x%08X", x->index);
			add(f, p, "contab_entryid_count", "0x%08X", x->entryid_count);
		}
		render_inner(f, p, x->inner);
		break;
	}
	case MH_ENTRYID_WAB: {
		const mh_wab_entryid *x = &e->u.wab;
		render_head(f, p, x->abFlags, &x->provider_uid);
		add(f, p, "wab_type", "0x%02X", x->type);
		render_inner(f, p, x->inner);
		break;
	}
	case MH_ENTRYID_UNKNOWN:
		fail_msg("parsed EntryID of kind unknown");
	}
}

/* Compares every field the .expected file names with the rendering of e. */
static void check_fields(const mh_vector *v, const mh_entryid *e)
{
	fields f = {0};
	size_t checked = 0;
	render(&f, e, "");
	for (size_t i = 0; i < v->n_kv; i++) {
		const char *k = v->kv[i].key, *want = v->kv[i].value, *got;
		if (strncmp(k, "src_", 4) == 0 || strncmp(k, "note", 4) == 0)
			continue;
		got = fields_get(&f, k);
		if (got == NULL)
			fail_msg("%s: field %s not produced by the decoder", v->name, k);
		bool same = strncmp(want, "0x", 2) == 0 ? strcasecmp(want, got) == 0
		                                        : strcmp(want, got) == 0;
		if (!same)
			fail_msg("%s: %s is \"%s\", expected \"%s\"", v->name, k, got, want);
		checked++;
	}
	/* bytes left over that the vector does not list are a decoding error */
	if (fields_get(&f, "trailing_hex") != NULL && mh_vector_get(v, "trailing_hex") == NULL)
		fail_msg("%s: unexpected trailing bytes %s", v->name,
		         fields_get(&f, "trailing_hex"));
	if (fields_get(&f, "inner.trailing_hex") != NULL &&
	    mh_vector_get(v, "inner.trailing_hex") == NULL)
		fail_msg("%s: unexpected inner trailing bytes", v->name);
	assert_true(checked >= 8);
	fields_free(&f);
}

/* ---- iteration over the vectors -------------------------------------------------------- */

typedef void (*vector_fn)(const mh_vector *v, bool store);

static void for_each_vector(vector_fn fn)
{
	const char *dirs[2] = {STORE_DIR, OTHER_DIR};
	long total = 0;
	for (int d = 0; d < 2; d++) {
		char **names;
		long n = mh_vector_list(dirs[d], &names);
		assert_true(n > 0);
		for (long i = 0; i < n; i++) {
			mh_vector v;
			assert_int_equal(mh_vector_load(&v, dirs[d], names[i]), 0);
			fn(&v, d == 0);
			mh_vector_free(&v);
			total++;
		}
		mh_vector_list_free(names, n);
	}
	assert_true(total >= 29);
}

static mh_entryid *parse_ok(const void *p, size_t len)
{
	mh_entryid *e = NULL;
	mh_status st = mh_entryid_parse(&e, (uint32_t)len, p);
	if (st != S_OK)
		fail_msg("parse failed: %s: %s", mh_status_str(st),
		         mh_error_last() ? mh_error_last()->message : "?");
	assert_non_null(e);
	return e;
}

static size_t magic_pos(const uint8_t *p, size_t len);

/* ---- decoding -------------------------------------------------------------------------- */

static void decode_one(const mh_vector *v, bool store)
{
	mh_entryid *e = parse_ok(v->data, v->len);
	assert_int_equal(e->kind, store ? MH_ENTRYID_STORE : e->kind);
	assert_int_equal(e->cb, v->len);
	check_fields(v, e);
	MAPIFreeBuffer(e);
}

static void test_entryid__vectors_decode(void **state)
{
	(void)state;
	for_each_vector(decode_one);
}

/* ---- re-encoding ----------------------------------------------------------------------- */

static bool store_is_stale(const mh_vector *v)
{
	const char *m = mh_vector_get(v, "ext_size_matches_len");
	return m != NULL && strcmp(m, "no") == 0;
}

static void reencode_one(const mh_vector *v, bool store)
{
	mh_entryid *e = parse_ok(v->data, v->len), *again;
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	assert_int_equal(mh_entryid_encode(&cb, &eid, e), S_OK);
	if (store && store_is_stale(v)) {
		/* hand-edited upstream: canonical Size/offsets, same fields */
		const mh_store_entryid *a = &e->u.store, *b;
		again = parse_ok(eid, cb);
		b = &again->u.store;
		assert_int_equal(b->version, a->version);
		assert_true(b->ext_size_matches);
		assert_int_equal(b->ext_size, cb - magic_pos((const uint8_t *)eid, cb));
		assert_string_equal(b->server, a->server);
		if (a->mailbox_dn != NULL)
			assert_string_equal(b->mailbox_dn, a->mailbox_dn);
		else
			assert_null(b->mailbox_dn);
		if (a->version == 3)
			assert_string_equal(b->smtp_address, a->smtp_address);
		if (a->server_dn != NULL)
			assert_string_equal(b->server_dn, a->server_dn);
		if (a->server_fqdn != NULL)
			assert_string_equal(b->server_fqdn, a->server_fqdn);
		else
			assert_null(b->server_fqdn);
		MAPIFreeBuffer(again);
	} else {
		size_t want = v->len - e->trailing.cb;
		if (cb != want || memcmp(eid, v->data, want) != 0)
			fail_msg("%s: re-encoding differs (%u bytes, expected %zu)", v->name, cb,
			         want);
	}
	MAPIFreeBuffer(eid);
	MAPIFreeBuffer(e);
}

static void test_entryid__vectors_reencode(void **state)
{
	(void)state;
	for_each_vector(reencode_one);
}

/* v1 vectors rebuilt by CreateStoreEntryID from their decoded strings */
static void test_entryid__create_rebuilds_v1_vectors(void **state)
{
	static const char *names[] = {"hand_v1_private", "hand_v1_public", "mfcmapi01_v1_private",
	                              "mfcmapi06_v1_public", "mfcmapi34_v1_public_with_dn"};
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		mh_vector v;
		char dn[512];
		uint32_t cb = 0;
		ENTRYID *eid = NULL;
		mh_entryid *e;
		assert_int_equal(mh_vector_load(&v, STORE_DIR, names[i]), 0);
		e = parse_ok(v.data, v.len);
		assert_int_equal(e->u.store.version, 1);
		snprintf(dn, sizeof(dn),
		         "/o=X/ou=Y/cn=Configuration/cn=Servers/cn=%s/cn=Microsoft Private MDB",
		         e->u.store.server);
		assert_int_equal(mh_create_store_entryid(dn, e->u.store.mailbox_dn,
		                                         e->u.store.wrapped_type, &cb, &eid),
		                 S_OK);
		if (cb != v.len || memcmp(eid, v.data, v.len) != 0)
			fail_msg("%s: CreateStoreEntryID output differs", names[i]);
		MAPIFreeBuffer(eid);
		MAPIFreeBuffer(e);
		mh_vector_free(&v);
	}
}

static SPropValue prop_str8(uint32_t tag, const char *s)
{
	SPropValue p;
	memset(&p, 0, sizeof(p));
	p.ulPropTag = tag;
	p.Value.lpszA = (char *)(uintptr_t)s;
	return p;
}

static SPropValue prop_bool(uint32_t tag, bool b)
{
	SPropValue p;
	memset(&p, 0, sizeof(p));
	p.ulPropTag = tag;
	p.Value.b = b;
	return p;
}

/* v3 vector rebuilt by CreateStoreEntryID2 from its decoded strings */
static void test_entryid__create2_rebuilds_v3_vector(void **state)
{
	mh_vector v;
	mh_entryid *e;
	SPropValue props[4];
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	(void)state;
	assert_int_equal(mh_vector_load(&v, STORE_DIR, "hand_v3_private"), 0);
	e = parse_ok(v.data, v.len);
	props[0] = prop_str8(PR_PROFILE_MAILBOX, e->u.store.mailbox_dn);
	props[1] = prop_str8(PR_PROFILE_MDB_DN, MDB_DN);
	props[2] = prop_bool(PR_FORCE_USE_ENTRYID_SERVER, true);
	props[3] = prop_str8(PR_PROFILE_USER_SMTP_EMAIL_ADDRESS_W, e->u.store.smtp_address);
	assert_int_equal(mh_create_store_entryid2(4, props, e->u.store.wrapped_type, &cb, &eid),
	                 S_OK);
	assert_int_equal(cb, v.len);
	assert_memory_equal(eid, v.data, v.len);
	MAPIFreeBuffer(eid);

	/* _A gives the same bytes for an ASCII address, and so does leaving out the MDB DN */
	props[3].ulPropTag = PR_PROFILE_USER_SMTP_EMAIL_ADDRESS_A;
	props[1] = prop_bool(PR_FORCE_USE_ENTRYID_SERVER, false);
	assert_int_equal(mh_create_store_entryid2(4, props, e->u.store.wrapped_type, &cb, &eid),
	                 S_OK);
	assert_int_equal(cb, v.len);
	assert_memory_equal(eid, v.data, v.len);
	MAPIFreeBuffer(eid);

	/* PR_FORCE_USE_ENTRYID_SERVER changes nothing in the bytes */
	props[0] = prop_str8(PR_PROFILE_MAILBOX, e->u.store.mailbox_dn);
	props[1] = prop_str8(PR_PROFILE_USER_SMTP_EMAIL_ADDRESS_W, e->u.store.smtp_address);
	assert_int_equal(mh_create_store_entryid2(2, props, e->u.store.wrapped_type, &cb, &eid),
	                 S_OK);
	assert_int_equal(cb, v.len);
	assert_memory_equal(eid, v.data, v.len);
	MAPIFreeBuffer(eid);
	MAPIFreeBuffer(e);
	mh_vector_free(&v);
}

/* Finds the trailer magic of a v2/v3 EntryID the way a reader of the spec would. */
static size_t magic_pos(const uint8_t *p, size_t len)
{
	for (size_t i = 60; i + 4 <= len; i++)
		if ((p[i] == 0xE9 && p[i + 1] == 0x46 && p[i + 2] == 0x32 && p[i + 3] == 0xF4) ||
		    (p[i] == 0xD8 && p[i + 1] == 0x35 && p[i + 2] == 0x21 && p[i + 3] == 0xF3))
			return i;
	return 0;
}

static void check_outlook_v3(const char *smtp, uint32_t want_size)
{
	SPropValue props[4];
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	const uint8_t *b;
	size_t m, expect_len;
	props[0] = prop_str8(PR_PROFILE_MAILBOX, MAILBOX_DN);
	props[1] = prop_str8(PR_PROFILE_MDB_DN, MDB_DN);
	props[2] = prop_bool(PR_FORCE_USE_ENTRYID_SERVER, true);
	props[3] = prop_str8(PR_PROFILE_USER_SMTP_ADDRESS_W, smtp);
	assert_int_equal(mh_create_store_entryid2(
	                     4, props, OPENSTORE_HOME_LOGON | OPENSTORE_TAKE_OWNERSHIP, &cb, &eid),
	                 S_OK);
	b = (const uint8_t *)eid;
	expect_len = 60 + strlen(smtp) + 1 + strlen(MAILBOX_DN) + 1 + want_size;
	assert_int_equal(cb, expect_len);
	/* ServerShortname is the SMTP address */
	assert_memory_equal(b + 60, smtp, strlen(smtp) + 1);
	m = magic_pos(b, cb);
	assert_int_equal(m, 60 + strlen(smtp) + 1 + strlen(MAILBOX_DN) + 1);
	assert_int_equal(le32(b + m + 4), want_size);
	assert_int_equal(le32(b + m + 8), 2);
	assert_int_equal(le32(b + m + 12), 16);
	for (size_t i = 0; i < strlen(smtp); i++) {
		assert_int_equal(b[m + 16 + 2 * i], (uint8_t)smtp[i]);
		assert_int_equal(b[m + 17 + 2 * i], 0);
	}
	/* <last char> 00 | 00 00 | 00 00 */
	assert_int_equal(b[cb - 5], 0);
	assert_int_equal(b[cb - 4] | b[cb - 3] | b[cb - 2] | b[cb - 1], 0);
	assert_int_equal(b[cb - 6], (uint8_t)smtp[strlen(smtp) - 1]);
	MAPIFreeBuffer(eid);
}

static void test_entryid__create2_outlook_v3_shape(void **state)
{
	(void)state;
	check_outlook_v3("Daniel.Jaffe@knowmail.me", 68);
	check_outlook_v3("abcdefghi@example.com", 62);
	assert_int_equal(strlen("abcdefghi@example.com"), 21);
}

static void test_entryid__create2_v2_shape(void **state)
{
	SPropValue props[3];
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	mh_entryid *e;
	const uint8_t *b;
	size_t m;
	(void)state;
	props[0] = prop_str8(PR_PROFILE_MAILBOX, MAILBOX_DN);
	props[1] = prop_str8(PR_PROFILE_MDB_DN, MDB_DN);
	props[2] = prop_bool(PR_FORCE_USE_ENTRYID_SERVER, true);
	assert_int_equal(mh_create_store_entryid2(3, props, OPENSTORE_TAKE_OWNERSHIP, &cb, &eid),
	                 S_OK);
	b = (const uint8_t *)eid;
	m = magic_pos(b, cb);
	assert_int_equal(m, 60 + strlen("EXSRV01") + 1 + strlen(MAILBOX_DN) + 1);
	assert_int_equal(le32(b + m), MDB_STORE_EID_V2_MAGIC);
	assert_int_equal(le32(b + m + 4), cb - m);
	assert_int_equal(cb - m, 20 + strlen(MDB_DN) + 1 + 2 + 2);
	assert_int_equal(le32(b + m + 8), 1);
	assert_int_equal(le32(b + m + 12), 20);
	assert_int_equal(le32(b + m + 16), 20 + strlen(MDB_DN) + 1);
	e = parse_ok(eid, cb);
	assert_int_equal(e->u.store.version, 2);
	assert_string_equal(e->u.store.server, "EXSRV01");
	assert_string_equal(e->u.store.server_dn, MDB_DN);
	assert_string_equal(e->u.store.server_fqdn, "");
	assert_int_equal(e->u.store.wrapped_type, OPENSTORE_TAKE_OWNERSHIP);
	assert_false(e->u.store.is_public);
	assert_true(e->u.store.ext_size_matches);
	assert_int_equal(e->u.store.ext_tail.cb, 2);
	MAPIFreeBuffer(e);
	MAPIFreeBuffer(eid);

	/* with mapihttp's FQDN property */
	props[2] = prop_str8(PR_PROFILE_SERVER_FQDN_W, "exsrv01.contoso.com");
	assert_int_equal(mh_create_store_entryid2(3, props, 0x0C, &cb, &eid), S_OK);
	e = parse_ok(eid, cb);
	assert_string_equal(e->u.store.server_fqdn, "exsrv01.contoso.com");
	assert_true(e->u.store.ext_size_matches);
	MAPIFreeBuffer(e);
	MAPIFreeBuffer(eid);

	/* the public store: no mailbox needed */
	assert_int_equal(mh_create_store_entryid2(1, props + 1, OPENSTORE_PUBLIC | 4, &cb, &eid),
	                 S_OK);
	e = parse_ok(eid, cb);
	assert_true(e->u.store.is_public);
	assert_null(e->u.store.mailbox_dn);
	assert_int_equal(e->u.store.version, 2);
	assert_int_equal(e->u.store.wrapped_type, 6);
	MAPIFreeBuffer(e);
	MAPIFreeBuffer(eid);
}

static void expect_create2_error(uint32_t n, const SPropValue *props, uint32_t flags,
                                 const char *what)
{
	uint32_t cb = 123;
	ENTRYID *eid = NULL;
	mh_status st = mh_create_store_entryid2(n, props, flags, &cb, &eid);
	if (st != MAPI_E_INVALID_PARAMETER)
		fail_msg("%s: got %s, expected MAPI_E_INVALID_PARAMETER", what, mh_status_str(st));
	assert_null(eid);
	assert_non_null(mh_error_last());
	assert_int_equal(mh_error_last()->status, MAPI_E_INVALID_PARAMETER);
}

static void test_entryid__create2_errors(void **state)
{
	SPropValue p[4];
	uint32_t cb;
	ENTRYID *eid;
	(void)state;
	/* private store without mailbox DN */
	p[0] = prop_str8(PR_PROFILE_MDB_DN, MDB_DN);
	p[1] = prop_str8(PR_PROFILE_USER_SMTP_ADDRESS_W, "a@b.c");
	expect_create2_error(2, p, 0x0C, "missing mailbox");
	assert_non_null(strstr(mh_error_last()->message, "PR_PROFILE_MAILBOX"));
	p[2] = prop_str8(PR_PROFILE_MAILBOX, "");
	expect_create2_error(3, p, 0x0C, "empty mailbox");
	/* no MDB DN and no SMTP */
	p[0] = prop_str8(PR_PROFILE_MAILBOX, MAILBOX_DN);
	expect_create2_error(1, p, 0x0C, "missing MDB DN");
	p[1] = prop_str8(PR_PROFILE_MDB_DN, "");
	expect_create2_error(2, p, 0x0C, "empty MDB DN");
	p[1] = prop_str8(PR_PROFILE_USER_SMTP_ADDRESS_W, "");
	expect_create2_error(2, p, 0x0C, "empty SMTP and no MDB DN");
	/* an MDB DN without cn=Servers */
	p[1] = prop_str8(PR_PROFILE_MDB_DN, "/o=Contoso/cn=Configuration/cn=EXSRV01");
	expect_create2_error(2, p, 0x0C, "MDB DN without server");
	/* wrong types for every property read */
	p[1] = prop_str8(PROP_TAG(PT_UNICODE, 0x660B), MAILBOX_DN);
	p[0] = prop_str8(PR_PROFILE_MDB_DN, MDB_DN);
	expect_create2_error(2, p, 0x0C, "mailbox as PT_UNICODE");
	p[0] = prop_str8(PR_PROFILE_MAILBOX, MAILBOX_DN);
	p[1] = prop_str8(PROP_TAG(PT_BINARY, 0x7CFF), MDB_DN);
	expect_create2_error(2, p, 0x0C, "MDB DN as PT_BINARY");
	p[1] = prop_str8(PR_PROFILE_MDB_DN, MDB_DN);
	p[2] = prop_bool(PROP_TAG(PT_LONG, 0x7CFE), true);
	expect_create2_error(3, p, 0x0C, "force as PT_LONG");
	p[2] = prop_str8(PROP_TAG(PT_BINARY, 0x6641), "a@b.c");
	expect_create2_error(3, p, 0x0C, "SMTP as PT_BINARY");
	p[2] = prop_str8(PROP_TAG(PT_STRING8, 0x662B), "fqdn");
	expect_create2_error(3, p, 0x0C, "FQDN as PT_STRING8");
	p[2] = prop_bool(PROP_TAG(PT_ERROR, 0x660B), false);
	expect_create2_error(3, p, 0x0C, "PT_ERROR duplicate of the mailbox");
	/* NULL strings and invalid UTF-8 */
	p[2] = prop_str8(PR_PROFILE_USER_SMTP_ADDRESS_W, NULL);
	expect_create2_error(3, p, 0x0C, "NULL SMTP");
	p[2] = prop_str8(PR_PROFILE_USER_SMTP_ADDRESS_W, "a\xC3@b.c");
	expect_create2_error(3, p, 0x0C, "invalid UTF-8 SMTP");
	p[2] = prop_str8(PR_PROFILE_SERVER_FQDN_W, "bad\xFF");
	expect_create2_error(3, p, 0x0C, "invalid UTF-8 FQDN");
	/* NULL pointers */
	expect_create2_error(3, NULL, 0x0C, "NULL props");
	assert_int_equal(mh_create_store_entryid2(2, p, 0x0C, NULL, &eid),
	                 MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_create_store_entryid2(2, p, 0x0C, &cb, NULL), MAPI_E_INVALID_PARAMETER);
	/* a good call after all that */
	assert_int_equal(mh_create_store_entryid2(2, p, 0x0C, &cb, &eid), S_OK);
	MAPIFreeBuffer(eid);
}

static void test_entryid__create_v1_rules(void **state)
{
	uint32_t cb;
	ENTRYID *eid;
	mh_entryid *e;
	(void)state;
	/* cn=Servers matched without regard to case; the name after it is kept as given */
	assert_int_equal(mh_create_store_entryid("/o=A/ou=B/CN=SERVERS/cn=MbX7/cn=Microsoft "
	                                         "Private MDB",
	                                         MAILBOX_DN, 0x0C, &cb, &eid),
	                 S_OK);
	e = parse_ok(eid, cb);
	assert_string_equal(e->u.store.server, "MbX7");
	assert_string_equal(e->u.store.mailbox_dn, MAILBOX_DN);
	assert_false(e->u.store.is_public);
	assert_int_equal(e->u.store.version, 1);
	assert_int_equal(cb, 60 + 5 + strlen(MAILBOX_DN) + 1);
	MAPIFreeBuffer(e);
	MAPIFreeBuffer(eid);

	/* NULL or empty mailbox: public store, OPENSTORE_PUBLIC added */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(mh_create_store_entryid(MDB_DN, i ? "" : NULL, 0x04, &cb, &eid),
		                 S_OK);
		e = parse_ok(eid, cb);
		assert_true(e->u.store.is_public);
		assert_int_equal(e->u.store.wrapped_type, 0x06);
		assert_null(e->u.store.mailbox_dn);
		assert_int_equal(cb, 60 + strlen("EXSRV01") + 1);
		MAPIFreeBuffer(e);
		MAPIFreeBuffer(eid);
	}
	/* OPENSTORE_PUBLIC with a mailbox DN: public provider, DN written */
	assert_int_equal(mh_create_store_entryid(MDB_DN, MAILBOX_DN, 0x06, &cb, &eid), S_OK);
	e = parse_ok(eid, cb);
	assert_true(e->u.store.is_public);
	assert_string_equal(e->u.store.mailbox_dn, MAILBOX_DN);
	MAPIFreeBuffer(e);
	MAPIFreeBuffer(eid);

	/* bad store DNs */
	static const char *bad[] = {"",
	                            "/o=A/cn=Servers",
	                            "/o=A/cn=Servers/",
	                            "/o=A/cn=Servers/cn=",
	                            "/o=A/cn=Servers/ou=X",
	                            "/o=A/cn=ServersX/cn=Y",
	                            "cn=Server/cn=Y"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		eid = NULL;
		assert_int_equal(mh_create_store_entryid(bad[i], MAILBOX_DN, 0x0C, &cb, &eid),
		                 MAPI_E_INVALID_PARAMETER);
		assert_null(eid);
		assert_non_null(strstr(mh_error_last()->message, "cn=Servers"));
	}
	/* a DN that starts with cn=Servers, without a leading slash */
	assert_int_equal(mh_create_store_entryid("cn=Servers/cn=S1", MAILBOX_DN, 0x0C, &cb, &eid),
	                 S_OK);
	e = parse_ok(eid, cb);
	assert_string_equal(e->u.store.server, "S1");
	MAPIFreeBuffer(e);
	MAPIFreeBuffer(eid);
	assert_int_equal(mh_create_store_entryid(NULL, MAILBOX_DN, 0x0C, &cb, &eid),
	                 MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_create_store_entryid(MDB_DN, MAILBOX_DN, 0x0C, NULL, &eid),
	                 MAPI_E_INVALID_PARAMETER);
}

/* ---- comparison ------------------------------------------------------------------------ */

static void test_entryid__compare(void **state)
{
	SPropValue p[3];
	uint32_t cb1, cb3, cbx, cbp, cbq;
	ENTRYID *v1, *v3, *x, *pub, *pub2;
	bool eq = false;
	mh_vector fv;
	(void)state;
	assert_int_equal(mh_create_store_entryid(MDB_DN, MAILBOX_DN, 0x0C, &cb1, &v1), S_OK);
	p[0] = prop_str8(PR_PROFILE_MAILBOX, DN_PREFIX "/CN=RECIPIENTS/CN=SHARED01");
	p[1] = prop_str8(PR_PROFILE_MDB_DN, MDB_DN);
	p[2] = prop_str8(PR_PROFILE_USER_SMTP_ADDRESS_W, "shared01@contoso.com");
	assert_int_equal(mh_create_store_entryid2(3, p, 0x0C, &cb3, &v3), S_OK);
	assert_int_equal(mh_create_store_entryid(MDB_DN, MAILBOX_DN "x", 0x0C, &cbx, &x), S_OK);
	assert_int_equal(mh_create_store_entryid(MDB_DN, NULL, 0, &cbp, &pub), S_OK);
	assert_int_equal(mh_create_store_entryid("/o=Q/cn=Servers/cn=OTHER", NULL, 4, &cbq, &pub2),
	                 S_OK);

	assert_int_equal(mh_store_entryid_compare(&eq, cb1, v1, cb3, v3), S_OK);
	assert_true(eq);
	assert_int_equal(mh_store_entryid_compare(&eq, cb3, v3, cb1, v1), S_OK);
	assert_true(eq);
	assert_int_equal(mh_store_entryid_compare(&eq, cb1, v1, cbx, x), S_OK);
	assert_false(eq);
	assert_int_equal(mh_store_entryid_compare(&eq, cb1, v1, cbp, pub), S_OK);
	assert_false(eq);
	assert_int_equal(mh_store_entryid_compare(&eq, cbp, pub, cbq, pub2), S_OK);
	assert_true(eq);
	assert_int_equal(mh_vector_load(&fv, OTHER_DIR, "folder_private"), 0);
	assert_int_equal(mh_store_entryid_compare(&eq, cb1, v1, (uint32_t)fv.len, fv.data),
	                 MAPI_E_INVALID_ENTRYID);
	assert_int_equal(mh_store_entryid_compare(NULL, cb1, v1, cb3, v3),
	                 MAPI_E_INVALID_PARAMETER);
	mh_vector_free(&fv);
	MAPIFreeBuffer(v1);
	MAPIFreeBuffer(v3);
	MAPIFreeBuffer(x);
	MAPIFreeBuffer(pub);
	MAPIFreeBuffer(pub2);
}

static void test_entryid__store_parse(void **state)
{
	mh_vector v;
	mh_store_entryid *s = NULL;
	(void)state;
	assert_int_equal(mh_vector_load(&v, STORE_DIR, "hand_v3_private"), 0);
	assert_int_equal(mh_store_entryid_parse(&s, (uint32_t)v.len, v.data), S_OK);
	assert_int_equal(s->version, 3);
	assert_string_equal(s->smtp_address, "shared01@contoso.com");
	assert_int_equal(MAPIFreeBuffer(s), S_OK);
	mh_vector_free(&v);
	assert_int_equal(mh_vector_load(&v, OTHER_DIR, "ab_mailuser"), 0);
	assert_int_equal(mh_store_entryid_parse(&s, (uint32_t)v.len, v.data),
	                 MAPI_E_INVALID_ENTRYID);
	assert_null(s);
	assert_non_null(strstr(mh_error_last()->message, "not a store EntryID"));
	mh_vector_free(&v);
}

/* ---- malformed input ------------------------------------------------------------------- */

/* Bytes of v1 a truncation must not cut into: through MailboxDN (private) or ServerShortname. */
static size_t v1_part(const mh_vector *v, size_t *public_server_end)
{
	const char *server = mh_vector_get(v, "server_shortname");
	const char *dn = mh_vector_get(v, "mailbox_dn");
	bool pub = strcmp(mh_vector_get(v, "wrapped_provider"), "public") == 0;
	size_t end = 60 + strlen(server) + 1;
	*public_server_end = pub ? end : 0;
	if (strcmp(dn, "<absent>") != 0)
		end += strlen(dn) + 1;
	return end;
}

static void truncations_one(const mh_vector *v, bool store)
{
	size_t v1_end = 0, pub_end = 0;
	if (store)
		v1_end = v1_part(v, &pub_end);
	for (size_t n = 0; n < v->len; n++) {
		/* an exactly sized heap copy so that ASan sees any overread */
		uint8_t *copy = malloc(n ? n : 1);
		mh_entryid *e = NULL;
		mh_status st;
		assert_non_null(copy);
		memcpy(copy, v->data, n);
		st = mh_entryid_parse(&e, (uint32_t)n, copy);
		if (st == S_OK) {
			assert_non_null(e);
			assert_true(e->cb == n);
			MAPIFreeBuffer(e);
		} else {
			assert_true(MH_FAILED(st));
			assert_null(e);
			assert_non_null(mh_error_last());
			assert_int_equal(mh_error_last()->status, st);
		}
		if (store && n < v1_end && n != pub_end) {
			if (st != MAPI_E_INVALID_ENTRYID)
				fail_msg("%s cut to %zu bytes: %s", v->name, n, mh_status_str(st));
			assert_non_null(strstr(mh_error_last()->message, "byte"));
		}
		free(copy);
	}
}

static void test_entryid__truncations(void **state)
{
	(void)state;
	for_each_vector(truncations_one);
}

static uint32_t xorshift32(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void bitflips_one(const mh_vector *v, bool store)
{
	uint32_t seed = 0x2545F491u ^ (uint32_t)v->len;
	uint8_t *copy = malloc(v->len);
	(void)store;
	assert_non_null(copy);
	for (int i = 0; i < 200; i++) {
		mh_entryid *e = NULL, *again = NULL;
		int flips = 1 + (int)(xorshift32(&seed) % 3);
		memcpy(copy, v->data, v->len);
		for (int k = 0; k < flips; k++) {
			uint32_t r = xorshift32(&seed);
			copy[r % v->len] ^= (uint8_t)(1u << ((r >> 16) & 7));
		}
		if (mh_entryid_parse(&e, (uint32_t)v->len, copy) == S_OK) {
			uint32_t cb = 0;
			ENTRYID *eid = NULL;
			if (mh_entryid_encode(&cb, &eid, e) == S_OK) {
				assert_int_equal(mh_entryid_parse(&again, cb, eid), S_OK);
				assert_int_equal(again->kind, e->kind);
				MAPIFreeBuffer(again);
				MAPIFreeBuffer(eid);
			}
			MAPIFreeBuffer(e);
		}
	}
	free(copy);
}

static void test_entryid__bitflips(void **state)
{
	(void)state;
	for_each_vector(bitflips_one);
}

/* The fixed 60-byte head of a private store EntryID followed by raw bytes. */
static size_t store_with(uint8_t *out, const void *rest, size_t n)
{
	mh_vector v;
	assert_int_equal(mh_vector_load(&v, STORE_DIR, "hand_v1_private"), 0);
	memcpy(out, v.data, 60);
	memcpy(out + 60, rest, n);
	mh_vector_free(&v);
	return 60 + n;
}

static mh_status parse_status(const uint8_t *p, size_t n)
{
	mh_entryid *e = NULL;
	mh_status st = mh_entryid_parse(&e, (uint32_t)n, p);
	MAPIFreeBuffer(e);
	return st;
}

static void expect_msg(const uint8_t *p, size_t n, mh_status want, const char *needle)
{
	mh_status st = parse_status(p, n);
	if (st != want)
		fail_msg("got %s, expected %s (%s)", mh_status_str(st), mh_status_str(want),
		         mh_error_last() ? mh_error_last()->message : "");
	assert_non_null(mh_error_last());
	if (strstr(mh_error_last()->message, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", mh_error_last()->message, needle);
}

static void test_entryid__error_messages(void **state)
{
	uint8_t b[4096];
	size_t n;
	mh_vector v;
	(void)state;

	/* 61 bytes: ServerShortname without its NUL */
	n = store_with(b, "E", 1);
	expect_msg(b, n, MAPI_E_INVALID_ENTRYID,
	           "truncated at byte 61: ServerShortname has no terminating NUL");
	assert_int_equal(mh_error_last()->offset, 61);
	/* MailboxDN without NUL */
	n = store_with(b, "EX\0/o=A", 7);
	expect_msg(b, n, MAPI_E_INVALID_ENTRYID, "MailboxDN has no terminating NUL");
	/* a private store that stops after ServerShortname */
	n = store_with(b, "EX", 3);
	expect_msg(b, n, MAPI_E_INVALID_ENTRYID, "MailboxDN is missing");
	/* 40 bytes */
	expect_msg(b, 40, MAPI_E_INVALID_ENTRYID, "truncated at byte 40");
	/* magic with no room for its header */
	n = store_with(b, "EX\0/o=A\0\xE9\x46\x32\xF4\x3C\0\0\0", 16);
	expect_msg(b, n, MAPI_E_INVALID_ENTRYID, "v3 trailer truncated");
	n = store_with(b, "EX\0/o=A\0\xD8\x35\x21\xF3", 12);
	expect_msg(b, n, MAPI_E_INVALID_ENTRYID, "v2 trailer truncated at byte 72");
	/* v3 with OffsetSmtpAddress 0 */
	n = store_with(b, "EX\0/o=A\0\xE9\x46\x32\xF4\x14\0\0\0\2\0\0\0\0\0\0\0a\0\0\0", 28);
	expect_msg(b, n, MAPI_E_INVALID_ENTRYID, "no SMTP address");
	/* v3 SMTP with an unpaired surrogate */
	n = store_with(b, "EX\0/o=A\0\xE9\x46\x32\xF4\x18\0\0\0\2\0\0\0\x10\0\0\0a\0\0\xD8\0\0\0\0",
	               32);
	expect_msg(b, n, MAPI_E_CORRUPT_DATA, "v3 SmtpAddress at byte 84");
	/* SMTP without its UTF-16 NUL */
	n = store_with(b, "EX\0/o=A\0\xE9\x46\x32\xF4\x16\0\0\0\2\0\0\0\x10\0\0\0a\0b\0c", 29);
	expect_msg(b, n, MAPI_E_INVALID_ENTRYID, "v3 SmtpAddress has no terminating UTF-16 NUL");

	/* header fields */
	assert_int_equal(mh_vector_load(&v, STORE_DIR, "hand_v1_private"), 0);
	memcpy(b, v.data, v.len);
	b[21] = 1;
	expect_msg(b, v.len, MAPI_E_INVALID_ENTRYID, "Flag at byte 21 is 0x01");
	b[21] = 0;
	memcpy(b + 22, "MSPST.DLL\0\0\0\0\0", 14);
	expect_msg(b, v.len, MAPI_E_INVALID_ENTRYID, "\"MSPST.DLL\"");
	memcpy(b + 22, "emsmdb.dll\0\0\0\0", 14);
	assert_int_equal(parse_status(b, v.len), S_OK); /* case does not matter */
	memcpy(b + 22, "EMSMDB.DLLXXXX", 14);
	expect_msg(b, v.len, MAPI_E_INVALID_ENTRYID, "DLLFileName at byte 22");
	memcpy(b + 22, v.data + 22, 14);
	b[45] ^= 0x40;
	expect_msg(b, v.len, MAPI_E_INVALID_ENTRYID, "WrappedProviderUID at byte 40");
	b[45] ^= 0x40;
	b[20] = 3;
	expect_msg(b, v.len, MAPI_E_INVALID_ENTRYID, "Version at byte 20");
	mh_vector_free(&v);

	/* unknown kinds and short input */
	memset(b, 0xAB, 50);
	expect_msg(b, 50, MAPI_E_INVALID_ENTRYID,
	           "unrecognised EntryID: ProviderUID abababababababababababababababab, 50 bytes");
	expect_msg(b, 19, MAPI_E_INVALID_ENTRYID, "truncated at byte 19");

	/* a contact EntryID whose EntryIdCount runs past the end */
	assert_int_equal(mh_vector_load(&v, OTHER_DIR, "contab_user_email1"), 0);
	memcpy(b, v.data, v.len);
	b[32] = 0x80;
	expect_msg(b, v.len, MAPI_E_INVALID_ENTRYID, "inner EntryID needs 128 bytes");
	b[32] = 0x46;
	b[24] = 9;
	expect_msg(b, v.len, MAPI_E_INVALID_ENTRYID, "Type at byte 24 is 9");
	mh_vector_free(&v);

	/* a Unicode one-off with an unpaired surrogate */
	assert_int_equal(mh_vector_load(&v, OTHER_DIR, "oneoff_unicode"), 0);
	memcpy(b, v.data, v.len);
	b[25] = 0xDC;
	expect_msg(b, v.len, MAPI_E_CORRUPT_DATA, "DisplayName at byte 24");
	mh_vector_free(&v);

	assert_int_equal(mh_entryid_parse(NULL, 4, b), MAPI_E_INVALID_PARAMETER);
	{
		mh_entryid *e;
		assert_int_equal(mh_entryid_parse(&e, 4, NULL), MAPI_E_INVALID_PARAMETER);
	}
}

static void test_entryid__oversized_strings(void **state)
{
	static uint8_t b[8192];
	char big[2048];
	uint32_t cb;
	ENTRYID *eid = NULL;
	SPropValue p[3];
	size_t n;
	(void)state;
	/* decoder: ServerShortname of 1025 bytes */
	memset(big, 'S', 1025);
	big[1025] = '\0';
	n = store_with(b, big, 1026);
	memcpy(b + n, "/o=A", 5);
	expect_msg(b, n + 5, MAPI_E_INVALID_ENTRYID,
	           "ServerShortname at byte 60 is longer than 1024");
	/* 1024 is fine */
	n = store_with(b, big + 1, 1025);
	memcpy(b + n, "/o=A", 5);
	assert_int_equal(parse_status(b, n + 5), S_OK);

	/* writers */
	char dn[2100];
	snprintf(dn, sizeof(dn), "/o=A/cn=Servers/cn=%s", big);
	assert_int_equal(mh_create_store_entryid(dn, MAILBOX_DN, 0x0C, &cb, &eid),
	                 MAPI_E_INVALID_PARAMETER);
	assert_int_equal(mh_create_store_entryid(MDB_DN, big, 0x0C, &cb, &eid),
	                 MAPI_E_INVALID_PARAMETER);
	assert_null(eid);
	/* SMTP of 513 UTF-16 units */
	memset(big, 'a', 513);
	big[513] = '\0';
	p[0] = prop_str8(PR_PROFILE_MAILBOX, MAILBOX_DN);
	p[1] = prop_str8(PR_PROFILE_USER_SMTP_ADDRESS_W, big);
	assert_int_equal(mh_create_store_entryid2(2, p, 0x0C, &cb, &eid), MAPI_E_INVALID_PARAMETER);
	big[512] = '\0';
	assert_int_equal(mh_create_store_entryid2(2, p, 0x0C, &cb, &eid), S_OK);
	/* the decoder takes what the encoder wrote, and refuses one unit more */
	assert_int_equal(parse_status((const uint8_t *)eid, cb), S_OK);
	{
		uint8_t *q = malloc(cb + 2);
		size_t m;
		assert_non_null(q);
		memcpy(q, eid, cb);
		m = magic_pos(q, cb);
		/* overwrite the NUL after the 512th unit and append a new one */
		q[m + 16 + 1024] = 'a';
		q[cb] = 0;
		q[cb + 1] = 0;
		mh_entryid *e = NULL;
		assert_int_equal(mh_entryid_parse(&e, cb + 2, q), MAPI_E_INVALID_ENTRYID);
		assert_non_null(strstr(mh_error_last()->message, "longer than 512 UTF-16 units"));
		free(q);
	}
	MAPIFreeBuffer(eid);
}

/* ---- lenient reading -------------------------------------------------------------------- */

static void test_entryid__lenient_reading(void **state)
{
	mh_vector v;
	uint8_t b[1024];
	mh_entryid *e, *ref;
	size_t m;
	(void)state;
	assert_int_equal(mh_vector_load(&v, STORE_DIR, "hand_v3_private"), 0);
	ref = parse_ok(v.data, v.len);
	m = magic_pos(v.data, v.len);

	/* one 0x00 pad byte before the magic */
	memcpy(b, v.data, m);
	b[m] = 0;
	memcpy(b + m + 1, v.data + m, v.len - m);
	e = parse_ok(b, v.len + 1);
	assert_int_equal(e->u.store.version, 3);
	assert_string_equal(e->u.store.smtp_address, ref->u.store.smtp_address);
	assert_string_equal(e->u.store.mailbox_dn, ref->u.store.mailbox_dn);
	assert_true(e->u.store.ext_size_matches);
	MAPIFreeBuffer(e);

	/* no Reserved bytes, and a stale Size */
	e = parse_ok(v.data, v.len - 2);
	assert_int_equal(e->u.store.version, 3);
	assert_false(e->u.store.ext_size_matches);
	assert_int_equal(e->u.store.ext_tail.cb, 0);
	assert_string_equal(e->u.store.smtp_address, "shared01@contoso.com");
	MAPIFreeBuffer(e);

	/* an unknown 4-byte value after MailboxDN: v1 with trailing bytes */
	memcpy(b, v.data, m);
	memcpy(b + m, "\x01\x02\x03\x04", 4);
	e = parse_ok(b, m + 4);
	assert_int_equal(e->u.store.version, 1);
	assert_int_equal(e->trailing.cb, 4);
	assert_memory_equal(e->trailing.lpb, "\x01\x02\x03\x04", 4);
	MAPIFreeBuffer(e);

	/* a trusted offset is honoured: SMTP moved 4 bytes on, Size kept right */
	{
		size_t t = v.len - m;
		memcpy(b, v.data, m + 16);
		memset(b + m + 16, 0xEE, 4);
		memcpy(b + m + 20, v.data + m + 16, t - 16);
		b[m + 4] = (uint8_t)(t + 4);
		b[m + 12] = 20;
		e = parse_ok(b, v.len + 4);
		assert_true(e->u.store.ext_size_matches);
		assert_int_equal(e->u.store.ext_offset_smtp, 20);
		assert_string_equal(e->u.store.smtp_address, "shared01@contoso.com");
		MAPIFreeBuffer(e);
	}
	MAPIFreeBuffer(ref);
	mh_vector_free(&v);

	/* public store: a v2 trailer right after ServerShortname, and one after a MailboxDN */
	{
		mh_entryid pe;
		uint32_t cb;
		ENTRYID *eid;
		memset(&pe, 0, sizeof(pe));
		pe.kind = MH_ENTRYID_STORE;
		pe.u.store.is_public = true;
		pe.u.store.wrapped_type = 6;
		pe.u.store.version = 2;
		pe.u.store.server = (char *)(uintptr_t) "PF01";
		pe.u.store.server_dn = (char *)(uintptr_t)MDB_DN;
		pe.u.store.server_fqdn = (char *)(uintptr_t) "pf01.contoso.com";
		assert_int_equal(mh_entryid_encode(&cb, &eid, &pe), S_OK);
		assert_int_equal(magic_pos((const uint8_t *)eid, cb), 60 + 5);
		e = parse_ok(eid, cb);
		assert_true(e->u.store.is_public);
		assert_null(e->u.store.mailbox_dn);
		assert_string_equal(e->u.store.server_fqdn, "pf01.contoso.com");
		assert_string_equal(e->u.store.server_dn, MDB_DN);
		MAPIFreeBuffer(e);
		MAPIFreeBuffer(eid);

		pe.u.store.mailbox_dn = (char *)(uintptr_t)MAILBOX_DN;
		assert_int_equal(mh_entryid_encode(&cb, &eid, &pe), S_OK);
		e = parse_ok(eid, cb);
		assert_true(e->u.store.is_public);
		assert_string_equal(e->u.store.mailbox_dn, MAILBOX_DN);
		assert_int_equal(e->u.store.version, 2);
		MAPIFreeBuffer(e);
		MAPIFreeBuffer(eid);

		/* writer refusals */
		pe.u.store.version = 4;
		assert_int_equal(mh_entryid_encode(&cb, &eid, &pe), MAPI_E_INVALID_PARAMETER);
		pe.u.store.version = 3;
		assert_int_equal(mh_entryid_encode(&cb, &eid, &pe), MAPI_E_INVALID_PARAMETER);
		pe.u.store.version = 1;
		pe.u.store.is_public = false;
		pe.u.store.mailbox_dn = NULL;
		assert_int_equal(mh_entryid_encode(&cb, &eid, &pe), MAPI_E_INVALID_PARAMETER);
		pe.kind = MH_ENTRYID_UNKNOWN;
		assert_int_equal(mh_entryid_encode(&cb, &eid, &pe), MAPI_E_NO_SUPPORT);
	}
}

/* ---- nesting ----------------------------------------------------------------------------- */

static void test_entryid__nesting(void **state)
{
	static const uint8_t wab_head[20] = {0,    0,    0,    0,    0xC0, 0x91, 0xAD,
	                                     0xD3, 0x51, 0x9D, 0xCF, 0x11, 0xA4, 0xA9,
	                                     0x00, 0xAA, 0x00, 0x47, 0xFA, 0xA4};
	uint8_t b[2048];
	size_t n = 0;
	mh_entryid *e;
	(void)state;

	/* an inner EntryID we do not know: inner NULL, bytes kept, success */
	memcpy(b, wab_head, 20);
	b[20] = 0xB5;
	memset(b + 21, 0x5A, 30);
	e = parse_ok(b, 51);
	assert_int_equal(e->kind, MH_ENTRYID_WAB);
	assert_null(e->u.wab.inner);
	assert_int_equal(e->u.wab.inner_bytes.cb, 30);
	assert_null(mh_error_last());
	MAPIFreeBuffer(e);

	/* 10 levels of WAB around an AB EntryID parse; 40 levels hit the depth limit */
	for (int depth = 0; depth < 2; depth++) {
		int levels = depth ? 40 : 10;
		static const uint8_t ab[30] = {0,    0,    0,    0,    0xDC, 0xA7, 0x40, 0xC8,
		                               0xC0, 0x42, 0x10, 0x1A, 0xB4, 0xB9, 0x08, 0x00,
		                               0x2B, 0x2F, 0xE1, 0x82, 1,    0,    0,    0,
		                               0,    1,    0,    0,    '/',  0};
		n = 0;
		for (int i = 0; i < levels; i++) {
			memcpy(b + n, wab_head, 20);
			b[n + 20] = 0xC3;
			n += 21;
		}
		memcpy(b + n, ab, 30);
		n += 30;
		if (!depth) {
			e = parse_ok(b, n);
			const mh_entryid *x = e;
			for (int i = 0; i < levels; i++) {
				assert_int_equal(x->kind, MH_ENTRYID_WAB);
				x = x->u.wab.inner;
				assert_non_null(x);
			}
			assert_int_equal(x->kind, MH_ENTRYID_AB);
			assert_string_equal(x->u.ab.x500dn, "/");
			/* re-encodes to the same bytes */
			uint32_t cb;
			ENTRYID *eid;
			assert_int_equal(mh_entryid_encode(&cb, &eid, e), S_OK);
			assert_int_equal(cb, n);
			assert_memory_equal(eid, b, n);
			MAPIFreeBuffer(eid);
			MAPIFreeBuffer(e);
		} else {
			expect_msg(b, n, MAPI_E_INVALID_ENTRYID, "nested deeper than");
		}
	}
}

static void test_entryid__names(void **state)
{
	char buf[39];
	GUID g = {0x0AAA42FE, 0xC718, 0x101A, {0xE8, 0x85, 0x0B, 0x65, 0x1C, 0x24, 0x00, 0x00}};
	(void)state;
	assert_string_equal(mh_guid_format(buf, &g), "{0AAA42FE-C718-101A-E885-0B651C240000}");
	assert_string_equal(mh_entryid_kind_str(MH_ENTRYID_STORE), "store");
	assert_string_equal(mh_entryid_kind_str(MH_ENTRYID_CONTACT), "contab");
	assert_string_equal(mh_entryid_kind_str(MH_ENTRYID_ONE_OFF), "oneoff");
	assert_string_equal(mh_entryid_kind_str((mh_entryid_kind)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_entryid__vectors_decode),
	    cmocka_unit_test(test_entryid__vectors_reencode),
	    cmocka_unit_test(test_entryid__create_rebuilds_v1_vectors),
	    cmocka_unit_test(test_entryid__create2_rebuilds_v3_vector),
	    cmocka_unit_test(test_entryid__create2_outlook_v3_shape),
	    cmocka_unit_test(test_entryid__create2_v2_shape),
	    cmocka_unit_test(test_entryid__create2_errors),
	    cmocka_unit_test(test_entryid__create_v1_rules),
	    cmocka_unit_test(test_entryid__compare),
	    cmocka_unit_test(test_entryid__store_parse),
	    cmocka_unit_test(test_entryid__truncations),
	    cmocka_unit_test(test_entryid__bitflips),
	    cmocka_unit_test(test_entryid__error_messages),
	    cmocka_unit_test(test_entryid__oversized_strings),
	    cmocka_unit_test(test_entryid__lenient_reading),
	    cmocka_unit_test(test_entryid__nesting),
	    cmocka_unit_test(test_entryid__names),
	};
	return cmocka_run_group_tests_name("entryid", tests, NULL, NULL);
}
