/*
 * Exchange store EntryIDs, v1/v2/v3: lenient reading, canonical writing,
 * CreateStoreEntryID(2) and the store comparison of CompareEntryIDs.
 */
#include <string.h>

#include "codec/entryid_internal.h"
#include "mapihttp/alloc.h"
#include "mapihttp/proptags.h"
#include "util/alloc_internal.h"
#include "util/diag.h"
#include "util/utf.h"

static const MAPIUID muid_store_wrap = MH_MUID_STORE_WRAP;
static const MAPIUID muid_store_private = MH_MUID_STORE_PRIVATE;
static const MAPIUID muid_store_public = MH_MUID_STORE_PUBLIC;

/* What the writer needs; const views so that callers' strings need no copies. */
typedef struct store_fields {
	uint8_t abFlags[4];
	const char *dll;
	uint32_t wrapped_flags;
	bool is_public;
	uint32_t wrapped_type;
	const char *server;
	const char *mailbox_dn; /* NULL: absent */
	unsigned version;
	const char *server_dn;   /* v2, NULL: absent */
	const char *server_fqdn; /* v2, UTF-8, NULL: absent */
	const char *smtp;        /* v3, UTF-8 */
} store_fields;

static bool is_magic(uint32_t v)
{
	return v == MDB_STORE_EID_V2_MAGIC || v == MDB_STORE_EID_V3_MAGIC;
}

/*
 * A trailer magic at the cursor (returns 0) or after one 0x00 pad byte
 * (returns 1); -1 when there is none. The cursor does not move.
 */
static int find_magic(const mh_cursor *c, uint32_t *magic)
{
	mh_cursor t = *c;
	uint32_t v;
	uint8_t pad;

	if (mh_cursor_peek_u32(&t, &v) && is_magic(v)) {
		*magic = v;
		return 0;
	}
	if (mh_cursor_remaining(&t) >= 5 && mh_cursor_u8(&t, &pad, "pad") == S_OK && pad == 0 &&
	    mh_cursor_peek_u32(&t, &v) && is_magic(v)) {
		*magic = v;
		return 1;
	}
	return -1;
}

/* Renders untrusted 8-bit text for a message: printable ASCII kept, the rest as \xNN. */
static const char *printable(char *dst, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != 0 && o + 5 < cap; p++) {
		if (*p >= 0x20 && *p < 0x7F && *p != '\\' && *p != '"') {
			dst[o++] = (char)*p;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[*p >> 4];
			dst[o++] = hex[*p & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}

static size_t cursor_end(const mh_cursor *c)
{
	return c->base + c->len;
}

/* Reads an 8-bit NUL-terminated string and copies it to the result. */
static mh_status read_str8(mh_cursor *c, mh_eid_ctx *ctx, const char *field, char **out,
                           size_t *len_out)
{
	const char *s;
	size_t len;
	mh_status st = mh_cursor_str8(c, MH_EID_MAX_STR8, &s, &len, field);
	if (st != S_OK)
		return st;
	if (len_out != NULL)
		*len_out = len;
	return mh_eid_dup(ctx, s, len, out);
}

static mh_status read_str16(mh_cursor *c, mh_eid_ctx *ctx, const char *field, char **out)
{
	const uint8_t *p;
	size_t units, off = mh_cursor_offset(c);
	mh_status st = mh_cursor_str16(c, MH_EID_MAX_STR16, &p, &units, field);
	if (st != S_OK)
		return st;
	return mh_eid_dup_utf16(ctx, p, units, off, field, out);
}

/*
 * Positions t for a trailer string. A non-zero offset is honoured when the
 * trailer's Size agrees with the bytes present and the offset lies inside
 * the trailer past its header; otherwise the string is read where the
 * previous field ended. A stale Size means the strings were edited after
 * the header was written, so its offsets cannot be trusted either.
 */
static mh_status seek_trailer_field(mh_cursor *t, uint32_t off, bool trust, size_t hdr,
                                    const char *field)
{
	if (trust && off >= hdr && off < t->len)
		return mh_cursor_seek(t, off, field);
	return S_OK;
}

static mh_status decode_trailer(mh_cursor *c, mh_eid_ctx *ctx, mh_store_entryid *s, uint32_t magic)
{
	bool v3 = magic == MDB_STORE_EID_V3_MAGIC;
	const char *name = v3 ? "v3" : "v2";
	size_t hdr = v3 ? MH_EID_V3_HEADER : MH_EID_V2_HEADER;
	size_t magic_off = mh_cursor_offset(c);
	size_t tlen = mh_cursor_remaining(c);
	size_t end;
	uint32_t v;
	bool trust;
	const uint8_t *tail;
	mh_cursor t;
	mh_status st;

	if (tlen < hdr + MH_EID_TRAILER_RESERVED)
		return mh_error_set(c->err, (int64_t)cursor_end(c),
		                    "%s trailer truncated at byte %zu: its magic at byte %zu needs "
		                    "a %zu-byte header and 2 more bytes, %zu remain",
		                    name, cursor_end(c), magic_off, hdr, tlen);
	if ((st = mh_cursor_sub(c, tlen, &t, "trailer")) != S_OK)
		return st;
	if ((st = mh_cursor_u32(&t, &v, "trailer Magic")) != S_OK ||
	    (st = mh_cursor_u32(&t, &s->ext_size, "trailer Size")) != S_OK ||
	    (st = mh_cursor_u32(&t, &s->ext_version, "trailer Version")) != S_OK)
		return st;
	s->ext_size_matches = s->ext_size == tlen;
	trust = s->ext_size_matches;
	s->version = v3 ? 3 : 2;

	if (v3) {
		if ((st = mh_cursor_u32(&t, &s->ext_offset_smtp, "v3 OffsetSmtpAddress")) != S_OK)
			return st;
		if (s->ext_offset_smtp == 0)
			return mh_error_set(c->err, (int64_t)(magic_off + 12),
			                    "v3 trailer at byte %zu has OffsetSmtpAddress 0: it "
			                    "carries no SMTP address",
			                    magic_off);
		if ((st = seek_trailer_field(&t, s->ext_offset_smtp, trust, hdr,
		                             "v3 OffsetSmtpAddress")) != S_OK ||
		    (st = read_str16(&t, ctx, "v3 SmtpAddress", &s->smtp_address)) != S_OK)
			return st;
		end = t.pos;
	} else {
		if ((st = mh_cursor_u32(&t, &s->ext_offset_dn, "v2 OffsetDN")) != S_OK ||
		    (st = mh_cursor_u32(&t, &s->ext_offset_fqdn, "v2 OffsetFQDN")) != S_OK)
			return st;
		end = t.pos;
		if (s->ext_offset_dn != 0) {
			if ((st = seek_trailer_field(&t, s->ext_offset_dn, trust, hdr,
			                             "v2 OffsetDN")) != S_OK ||
			    (st = read_str8(&t, ctx, "v2 ServerDN", &s->server_dn, NULL)) != S_OK)
				return st;
			end = t.pos;
		}
		if (s->ext_offset_fqdn != 0) {
			if ((st = seek_trailer_field(&t, s->ext_offset_fqdn, trust, hdr,
			                             "v2 OffsetFQDN")) != S_OK ||
			    (st = read_str16(&t, ctx, "v2 ServerFQDN", &s->server_fqdn)) != S_OK)
				return st;
			if (t.pos > end)
				end = t.pos;
		}
	}
	if ((st = mh_cursor_seek(&t, end, "trailer end")) != S_OK ||
	    (st = mh_cursor_bytes(&t, mh_cursor_remaining(&t), &tail, "trailer Reserved")) != S_OK)
		return st;
	return mh_eid_dup_bin(ctx, tail, t.len - end, &s->ext_tail);
}

mh_status mh_eid_store_decode(mh_cursor *c, mh_eid_ctx *ctx, mh_store_entryid *s, SBinary *trailing)
{
	const uint8_t *p;
	const char *str;
	size_t len, off;
	uint32_t magic = 0;
	int skip = -1;
	mh_cursor dc;
	mh_status st;

	memset(s, 0, sizeof(*s));
	trailing->cb = 0;
	trailing->lpb = NULL;

	if ((st = mh_cursor_bytes(c, 4, &p, "abFlags")) != S_OK)
		return st;
	memcpy(s->abFlags, p, 4);
	if ((st = mh_cursor_muid(c, &s->provider_uid, "ProviderUID")) != S_OK)
		return st;
	if (memcmp(&s->provider_uid, &muid_store_wrap, sizeof(MAPIUID)) != 0)
		return mh_error_set(c->err, (int64_t)(c->base + 4),
		                    "ProviderUID at byte %zu is not muidStoreWrap: not a store "
		                    "EntryID",
		                    c->base + 4);
	if ((st = mh_cursor_u8(c, &s->wrap_version, "store EntryID Version")) != S_OK)
		return st;
	if (s->wrap_version != 0)
		return mh_error_set(c->err, (int64_t)(c->base + 20),
		                    "store EntryID Version at byte %zu is %u, expected 0",
		                    c->base + 20, (unsigned)s->wrap_version);
	if ((st = mh_cursor_u8(c, &s->wrap_flag, "store EntryID Flag")) != S_OK)
		return st;
	if (s->wrap_flag == 1)
		return mh_error_set(c->err, (int64_t)(c->base + 21),
		                    "store EntryID Flag at byte %zu is 0x01: the short form MAPI "
		                    "keeps for a store not yet opened, without server or mailbox; "
		                    "open the store once to get its full EntryID",
		                    c->base + 21);
	if (s->wrap_flag != 0)
		return mh_error_set(c->err, (int64_t)(c->base + 21),
		                    "store EntryID Flag at byte %zu is 0x%02x, expected 0x00",
		                    c->base + 21, (unsigned)s->wrap_flag);
	if (c->len < MH_EID_STORE_HEADER)
		return mh_error_set(c->err, (int64_t)cursor_end(c),
		                    "truncated at byte %zu: a store EntryID has a %u-byte fixed "
		                    "header before ServerShortname",
		                    cursor_end(c), MH_EID_STORE_HEADER);

	off = mh_cursor_offset(c);
	if ((st = mh_cursor_sub(c, MH_EID_DLL_FIELD, &dc, "DLLFileName")) != S_OK)
		return st;
	if (mh_cursor_str8(&dc, MH_EID_DLL_FIELD - 1, &str, &len, "DLLFileName") != S_OK)
		return mh_error_set(c->err, (int64_t)off,
		                    "DLLFileName at byte %zu has no NUL within its %u bytes", off,
		                    MH_EID_DLL_FIELD);
	memcpy(s->dll, str, len);
	s->dll[len] = '\0';
	if (!mh_eid_ascii_ieq(s->dll, "emsmdb.dll")) {
		char esc[64];
		return mh_error_set(c->err, (int64_t)off,
		                    "store EntryID at byte %zu names provider DLL \"%s\"; only "
		                    "Exchange store EntryIDs (emsmdb.dll) are supported",
		                    off, printable(esc, sizeof(esc), s->dll));
	}

	if ((st = mh_cursor_u32(c, &s->wrapped_flags, "WrappedFlags")) != S_OK ||
	    (st = mh_cursor_muid(c, &s->wrapped_provider_uid, "WrappedProviderUID")) != S_OK)
		return st;
	if (memcmp(&s->wrapped_provider_uid, &muid_store_public, sizeof(MAPIUID)) == 0) {
		s->is_public = true;
	} else if (memcmp(&s->wrapped_provider_uid, &muid_store_private, sizeof(MAPIUID)) != 0) {
		return mh_error_set(c->err, (int64_t)(c->base + 40),
		                    "WrappedProviderUID at byte %zu is neither the private nor the "
		                    "public Exchange store's",
		                    c->base + 40);
	}
	if ((st = mh_cursor_u32(c, &s->wrapped_type, "WrappedType")) != S_OK)
		return st;
	if ((st = read_str8(c, ctx, "ServerShortname", &s->server, NULL)) != S_OK)
		return st;

	/*
	 * A public store usually ends here or goes straight on to a trailer,
	 * but some carry a MailboxDN; a private one always has a MailboxDN.
	 */
	if (s->is_public) {
		if (mh_cursor_remaining(c) > 0) {
			skip = find_magic(c, &magic);
			if (skip < 0) {
				if ((st = read_str8(c, ctx, "MailboxDN", &s->mailbox_dn, &len)) !=
				    S_OK)
					return st;
				if (len == 0)
					s->mailbox_dn = NULL;
			}
		}
	} else {
		if (mh_cursor_remaining(c) == 0)
			return mh_error_set(c->err, (int64_t)cursor_end(c),
			                    "truncated at byte %zu: MailboxDN is missing (a "
			                    "private store EntryID needs one)",
			                    cursor_end(c));
		if ((st = read_str8(c, ctx, "MailboxDN", &s->mailbox_dn, NULL)) != S_OK)
			return st;
	}
	if (skip < 0)
		skip = find_magic(c, &magic);
	if (skip < 0) {
		/* v1; whatever follows is not a trailer we know */
		s->version = 1;
		len = mh_cursor_remaining(c);
		if ((st = mh_cursor_bytes(c, len, &p, "trailing bytes")) != S_OK)
			return st;
		return mh_eid_dup_bin(ctx, p, len, trailing);
	}
	if ((st = mh_cursor_skip(c, (size_t)skip, "pad")) != S_OK)
		return st;
	return decode_trailer(c, ctx, s, magic);
}

/* ---- writing ------------------------------------------------------------------ */

static mh_status check_str8(const char *s, const char *field)
{
	size_t n = strlen(s);
	if (n > MH_EID_MAX_STR8)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "%s is %zu bytes long; a store EntryID allows at most %u",
		                    field, n, MH_EID_MAX_STR8);
	return S_OK;
}

static mh_status check_str16(const char *s, const char *field)
{
	size_t n = strlen(s), bytes = 0;
	if (!mh_utf8_valid(s, n) || mh_utf8_to_utf16le(NULL, 0, s, n, &bytes) != S_OK)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "%s is not valid UTF-8", field);
	if (bytes / 2 > MH_EID_MAX_STR16)
		return mh_error_set(
		    MAPI_E_INVALID_PARAMETER, -1,
		    "%s is %zu UTF-16 units long; a store EntryID allows at most %u", field,
		    bytes / 2, MH_EID_MAX_STR16);
	return S_OK;
}

static mh_status store_write(mh_buf *b, const store_fields *f)
{
	size_t magic_pos;
	mh_status st;

	if (f->server == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "store EntryID needs a ServerShortname");
	if (!f->is_public && f->mailbox_dn == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "a private store EntryID needs a MailboxDN");
	if (f->version < 1 || f->version > 3)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "store EntryID version %u; only 1, 2 and 3 exist", f->version);
	if (f->version == 3 && f->smtp == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "a v3 store EntryID needs an SMTP address");
	if (strlen(f->dll) >= MH_EID_DLL_FIELD || !mh_eid_ascii_ieq(f->dll, "emsmdb.dll"))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "store EntryID DLL name must be emsmdb.dll");
	if ((st = check_str8(f->server, "ServerShortname")) != S_OK ||
	    (f->mailbox_dn != NULL && (st = check_str8(f->mailbox_dn, "MailboxDN")) != S_OK))
		return st;
	if (f->version == 2 &&
	    ((f->server_dn != NULL && (st = check_str8(f->server_dn, "v2 ServerDN")) != S_OK) ||
	     (f->server_fqdn != NULL &&
	      (st = check_str16(f->server_fqdn, "v2 ServerFQDN")) != S_OK)))
		return st;
	if (f->version == 3 && (st = check_str16(f->smtp, "v3 SmtpAddress")) != S_OK)
		return st;

	mh_buf_put(b, f->abFlags, 4);
	mh_buf_muid(b, &muid_store_wrap);
	mh_buf_u8(b, 0); /* Version */
	mh_buf_u8(b, 0); /* Flag: MAPIMDB_NORMAL */
	{
		uint8_t dll[MH_EID_DLL_FIELD] = {0};
		memcpy(dll, f->dll, strlen(f->dll));
		mh_buf_put(b, dll, sizeof(dll));
	}
	mh_buf_u32(b, f->wrapped_flags);
	mh_buf_muid(b, f->is_public ? &muid_store_public : &muid_store_private);
	mh_buf_u32(b, f->wrapped_type);
	mh_buf_str8z(b, f->server);
	/* An empty DN on a public store would read back as a pad byte: leave it out. */
	if (f->mailbox_dn != NULL && !(f->is_public && f->mailbox_dn[0] == '\0'))
		mh_buf_str8z(b, f->mailbox_dn);
	if (f->version == 1)
		return mh_buf_status(b);

	magic_pos = b->len;
	if (f->version == 2) {
		size_t dn_len = f->server_dn != NULL ? strlen(f->server_dn) + 1 : 0;
		mh_buf_u32(b, MDB_STORE_EID_V2_MAGIC);
		mh_buf_u32(b, 0); /* Size, set below */
		mh_buf_u32(b, MDB_STORE_EID_V2_VERSION);
		mh_buf_u32(b, f->server_dn != NULL ? MH_EID_V2_HEADER : 0);
		mh_buf_u32(b, f->server_fqdn != NULL ? (uint32_t)(MH_EID_V2_HEADER + dn_len) : 0);
		if (f->server_dn != NULL)
			mh_buf_str8z(b, f->server_dn);
		if (f->server_fqdn != NULL)
			mh_buf_utf16z(b, f->server_fqdn);
	} else {
		mh_buf_u32(b, MDB_STORE_EID_V3_MAGIC);
		mh_buf_u32(b, 0);
		mh_buf_u32(b, MDB_STORE_EID_V3_VERSION);
		mh_buf_u32(b, MH_EID_V3_HEADER);
		mh_buf_utf16z(b, f->smtp);
	}
	mh_buf_zeros(b, MH_EID_TRAILER_RESERVED);
	if (mh_buf_status(b) == S_OK)
		mh_buf_set_u32(b, magic_pos + 4, (uint32_t)(b->len - magic_pos));
	return mh_buf_status(b);
}

mh_status mh_eid_store_encode(mh_buf *b, const mh_store_entryid *s)
{
	static const MAPIUID zero;
	const MAPIUID *want = s->is_public ? &muid_store_public : &muid_store_private;
	store_fields f;

	if (memcmp(&s->wrapped_provider_uid, &zero, sizeof(MAPIUID)) != 0 &&
	    memcmp(&s->wrapped_provider_uid, want, sizeof(MAPIUID)) != 0)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "WrappedProviderUID disagrees with is_public");
	memset(&f, 0, sizeof(f));
	memcpy(f.abFlags, s->abFlags, 4);
	f.dll = s->dll[0] != '\0' ? s->dll : "EMSMDB.DLL";
	if (memchr(s->dll, 0, sizeof(s->dll)) == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "store EntryID DLL name is not NUL-terminated");
	f.wrapped_flags = s->wrapped_flags;
	f.is_public = s->is_public;
	f.wrapped_type = s->wrapped_type;
	f.server = s->server;
	f.mailbox_dn = s->mailbox_dn;
	f.version = s->version;
	f.server_dn = s->server_dn;
	f.server_fqdn = s->server_fqdn;
	f.smtp = s->smtp_address;
	return store_write(b, &f);
}

static mh_status write_result(const store_fields *f, uint32_t *cb, ENTRYID **eid)
{
	mh_buf b = MH_BUF_INIT;
	mh_status st = store_write(&b, f);
	if (st != S_OK) {
		mh_buf_free(&b);
		return st;
	}
	return mh_eid_finish(&b, cb, eid);
}

/*
 * The server name of a store DN: the value of the RDN that follows
 * "cn=Servers" (matched without regard to case). The DN's own string is
 * pointed into; *len is the name's length.
 */
static bool server_from_store_dn(const char *dn, const char **name, size_t *len)
{
	const char *p = dn;
	while (*p != '\0') {
		const char *rdn = *p == '/' ? p + 1 : p;
		const char *end = strchr(rdn, '/');
		size_t n = end != NULL ? (size_t)(end - rdn) : strlen(rdn);
		if (n == 10) {
			char tmp[11];
			memcpy(tmp, rdn, 10);
			tmp[10] = '\0';
			if (mh_eid_ascii_ieq(tmp, "cn=Servers") && end != NULL) {
				const char *next = end + 1;
				const char *next_end = strchr(next, '/');
				size_t m =
				    next_end != NULL ? (size_t)(next_end - next) : strlen(next);
				char cn[4];
				if (m <= 3)
					return false;
				memcpy(cn, next, 3);
				cn[3] = '\0';
				if (!mh_eid_ascii_ieq(cn, "cn="))
					return false;
				*name = next + 3;
				*len = m - 3;
				return true;
			}
		}
		if (end == NULL)
			break;
		p = end;
	}
	return false;
}

/* Copies the store DN's server name into buf (MH_EID_MAX_STR8 + 1 bytes). */
static mh_status server_name(const char *store_dn, const char *what, char *buf)
{
	const char *name;
	size_t len;
	char esc[128];
	if (!server_from_store_dn(store_dn, &name, &len))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "%s \"%s\" has no cn=Servers/cn=<server> element to take the "
		                    "server name from",
		                    what, printable(esc, sizeof(esc), store_dn));
	if (len > MH_EID_MAX_STR8)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "server name in %s is %zu bytes long; at most %u", what, len,
		                    MH_EID_MAX_STR8);
	memcpy(buf, name, len);
	buf[len] = '\0';
	return S_OK;
}

mh_status mh_create_store_entryid(const char *store_dn, const char *mailbox_dn, uint32_t flags,
                                  uint32_t *cb, ENTRYID **eid)
{
	char server[MH_EID_MAX_STR8 + 1];
	store_fields f;
	mh_status st;

	if (cb == NULL || eid == NULL || store_dn == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_create_store_entryid: %s is NULL",
		                    store_dn == NULL ? "store_dn"
		                    : cb == NULL     ? "cb"
		                                     : "eid");
	*eid = NULL;
	*cb = 0;
	if ((st = server_name(store_dn, "store DN", server)) != S_OK)
		return st;
	if (mailbox_dn == NULL || mailbox_dn[0] == '\0') {
		mailbox_dn = NULL;
		flags |= OPENSTORE_PUBLIC;
	}
	memset(&f, 0, sizeof(f));
	f.dll = "EMSMDB.DLL";
	f.is_public = (flags & OPENSTORE_PUBLIC) != 0;
	f.wrapped_type = flags;
	f.server = server;
	f.mailbox_dn = mailbox_dn;
	f.version = 1;
	return write_result(&f, cb, eid);
}

/* A property create2 reads: its id, the types it may have, and where it goes. */
typedef struct prop_want {
	uint32_t id;
	uint32_t type1, type2;
	const char *name;
	const SPropValue *found;
} prop_want;

enum { P_MAILBOX, P_MDB_DN, P_SMTP, P_FORCE, P_FQDN, P_COUNT };

mh_status mh_create_store_entryid2(uint32_t cValues, const SPropValue *props, uint32_t flags,
                                   uint32_t *cb, ENTRYID **eid)
{
	prop_want want[P_COUNT] = {
	    {PROP_ID(PR_PROFILE_MAILBOX), PT_STRING8, PT_STRING8, "PR_PROFILE_MAILBOX", NULL},
	    {PROP_ID(PR_PROFILE_MDB_DN), PT_STRING8, PT_STRING8, "PR_PROFILE_MDB_DN", NULL},
	    {PROP_ID(PR_PROFILE_USER_SMTP_EMAIL_ADDRESS_W), PT_UNICODE, PT_STRING8,
	     "PR_PROFILE_USER_SMTP_EMAIL_ADDRESS", NULL},
	    {PROP_ID(PR_FORCE_USE_ENTRYID_SERVER), PT_BOOLEAN, PT_BOOLEAN,
	     "PR_FORCE_USE_ENTRYID_SERVER", NULL},
	    {PROP_ID(PR_PROFILE_SERVER_FQDN_W), PT_UNICODE, PT_UNICODE, "PR_PROFILE_SERVER_FQDN_W",
	     NULL},
	};
	char server[MH_EID_MAX_STR8 + 1];
	char *smtp_utf8 = NULL; /* the _A address converted, owned here */
	const char *smtp = NULL, *smtp8 = NULL, *mailbox = NULL, *mdb_dn = NULL;
	store_fields f;
	mh_status st;

	if (cb == NULL || eid == NULL || (props == NULL && cValues > 0))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_create_store_entryid2: %s is NULL",
		                    cb == NULL    ? "cb"
		                    : eid == NULL ? "eid"
		                                  : "props");
	*eid = NULL;
	*cb = 0;

	for (uint32_t i = 0; i < cValues; i++) {
		uint32_t tag = props[i].ulPropTag;
		for (int k = 0; k < P_COUNT; k++) {
			if (PROP_ID(tag) != want[k].id)
				continue;
			if (PROP_TYPE(tag) != want[k].type1 && PROP_TYPE(tag) != want[k].type2)
				return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
				                    "property %u (tag 0x%08X, %s) has type 0x%04X, "
				                    "expected 0x%04X",
				                    i, (unsigned)tag, want[k].name,
				                    (unsigned)PROP_TYPE(tag),
				                    (unsigned)want[k].type1);
			if (PROP_TYPE(tag) != PT_BOOLEAN && props[i].Value.lpszA == NULL)
				return mh_error_set(
				    MAPI_E_INVALID_PARAMETER, -1,
				    "property %u (tag 0x%08X, %s) has a NULL string", i,
				    (unsigned)tag, want[k].name);
			if (want[k].found == NULL)
				want[k].found = &props[i];
		}
	}

	if (want[P_MAILBOX].found != NULL)
		mailbox = want[P_MAILBOX].found->Value.lpszA;
	if (want[P_MDB_DN].found != NULL)
		mdb_dn = want[P_MDB_DN].found->Value.lpszA;
	if (want[P_SMTP].found != NULL) {
		const SPropValue *pv = want[P_SMTP].found;
		if (PROP_TYPE(pv->ulPropTag) == PT_UNICODE) {
			smtp = smtp8 = pv->Value.lpszW;
			if (!mh_utf8_valid(smtp, strlen(smtp)))
				return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
				                    "PR_PROFILE_USER_SMTP_EMAIL_ADDRESS_W is not "
				                    "valid UTF-8");
		} else {
			/* 8-bit: kept as given for ServerShortname, Windows-1252 for the trailer */
			const char *a = pv->Value.lpszA;
			size_t n = strlen(a), out = 0;
			if ((st = mh_cp1252_to_utf8(NULL, 0, (const uint8_t *)a, n, &out)) != S_OK)
				return st;
			if ((smtp_utf8 = mh_malloc(out + 1)) == NULL)
				return mh_error_oom();
			if ((st = mh_cp1252_to_utf8(smtp_utf8, out + 1, (const uint8_t *)a, n,
			                            &out)) != S_OK) {
				mh_free(smtp_utf8);
				return st;
			}
			smtp = smtp_utf8;
			smtp8 = a;
		}
		if (smtp[0] == '\0')
			smtp = smtp8 = NULL;
	}
	if (want[P_FQDN].found != NULL && !mh_utf8_valid(want[P_FQDN].found->Value.lpszW,
	                                                 strlen(want[P_FQDN].found->Value.lpszW))) {
		st = mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                  "PR_PROFILE_SERVER_FQDN_W is not valid UTF-8");
		goto out;
	}

	memset(&f, 0, sizeof(f));
	f.dll = "EMSMDB.DLL";
	f.is_public = (flags & OPENSTORE_PUBLIC) != 0;
	f.wrapped_type = flags;
	if (mailbox != NULL && mailbox[0] != '\0') {
		f.mailbox_dn = mailbox;
	} else if (!f.is_public) {
		st = mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                  "PR_PROFILE_MAILBOX (0x%08X) is %s; a mailbox store needs its "
		                  "mailbox DN (or pass OPENSTORE_PUBLIC for the public store)",
		                  (unsigned)PR_PROFILE_MAILBOX,
		                  mailbox == NULL ? "missing" : "empty");
		goto out;
	}
	if (smtp != NULL) {
		/* Outlook puts the SMTP address in ServerShortname too. */
		f.version = 3;
		f.server = smtp8;
		f.smtp = smtp;
	} else {
		if (mdb_dn == NULL || mdb_dn[0] == '\0') {
			st = mh_error_set(
			    MAPI_E_INVALID_PARAMETER, -1,
			    "PR_PROFILE_MDB_DN (0x%08X) is %s and there is no "
			    "PR_PROFILE_USER_SMTP_EMAIL_ADDRESS_W: one of them is needed",
			    (unsigned)PR_PROFILE_MDB_DN, mdb_dn == NULL ? "missing" : "empty");
			goto out;
		}
		if ((st = server_name(mdb_dn, "PR_PROFILE_MDB_DN", server)) != S_OK)
			goto out;
		f.version = 2;
		f.server = server;
		f.server_dn = mdb_dn;
		f.server_fqdn = want[P_FQDN].found != NULL ? want[P_FQDN].found->Value.lpszW : "";
	}
	st = write_result(&f, cb, eid);
out:
	mh_free(smtp_utf8);
	return st;
}

mh_status mh_store_entryid_parse(mh_store_entryid **out, uint32_t cb, const void *eid)
{
	static const MAPIUID wrap = MH_MUID_STORE_WRAP;
	mh_eid_ctx ctx = {NULL, false};
	mh_store_entryid *s;
	SBinary trailing;
	mh_cursor c;
	MAPIUID uid;
	mh_status st;

	if (out == NULL || eid == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_store_entryid_parse: %s is NULL",
		                    out == NULL ? "out" : "eid");
	*out = NULL;
	mh_cursor_init(&c, eid, cb, MAPI_E_INVALID_ENTRYID);
	if ((st = mh_cursor_skip(&c, 4, "abFlags")) != S_OK ||
	    (st = mh_cursor_muid(&c, &uid, "ProviderUID")) != S_OK)
		return st;
	if (memcmp(&uid, &wrap, sizeof(uid)) != 0) {
		char hex[33];
		static const char digits[] = "0123456789abcdef";
		for (int i = 0; i < 16; i++) {
			hex[2 * i] = digits[uid.ab[i] >> 4];
			hex[2 * i + 1] = digits[uid.ab[i] & 15];
		}
		hex[32] = '\0';
		return mh_error_set(MAPI_E_INVALID_ENTRYID, 4,
		                    "not a store EntryID: ProviderUID %s at byte 4 is not "
		                    "muidStoreWrap (%u bytes)",
		                    hex, (unsigned)cb);
	}
	mh_cursor_init(&c, eid, cb, MAPI_E_INVALID_ENTRYID);
	if ((st = MAPIAllocateBuffer(sizeof(*s), &ctx.root)) != S_OK)
		return st;
	s = ctx.root;
	st = mh_eid_store_decode(&c, &ctx, s, &trailing);
	if (st != S_OK) {
		MAPIFreeBuffer(ctx.root);
		return st;
	}
	*out = s;
	return S_OK;
}

mh_status mh_store_entryid_compare(bool *equal, uint32_t cb1, const void *eid1, uint32_t cb2,
                                   const void *eid2)
{
	mh_store_entryid *a = NULL, *b = NULL;
	mh_status st;

	if (equal == NULL || eid1 == NULL || eid2 == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_store_entryid_compare: %s is NULL",
		                    equal == NULL  ? "equal"
		                    : eid1 == NULL ? "eid1"
		                                   : "eid2");
	*equal = false;
	if ((st = mh_store_entryid_parse(&a, cb1, eid1)) != S_OK)
		return st;
	if ((st = mh_store_entryid_parse(&b, cb2, eid2)) != S_OK) {
		MAPIFreeBuffer(a);
		return st;
	}
	if (a->is_public == b->is_public) {
		if (a->is_public)
			*equal = true;
		else
			*equal = a->mailbox_dn != NULL && b->mailbox_dn != NULL &&
			         mh_eid_ascii_ieq(a->mailbox_dn, b->mailbox_dn);
	}
	MAPIFreeBuffer(a);
	MAPIFreeBuffer(b);
	return S_OK;
}
