/*
 * Organisation files for mapihttpd: JSON parsed with jansson and validated member by member
 * (errors name the JSON path), the built-in sample, the synthetic benchmark organisation.
 */
#define _DEFAULT_SOURCE /* crypt_r, strcasecmp, strncasecmp */
#include <crypt.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/org.h"
#include "util/hex.h"
#include "util/diag.h"

/* The sample organisation as bytes: generated from server/sample/org.json at build time. */
#include "mh_sample_org_json.h"

/* Room for the model of the largest file (JSON 64 MiB expands to a few times that). */
#define ORG_ARENA_CAP ((size_t)1 << 30)

/* Arena copies into const-qualified results. */
static mh_status copy_str(mh_arena *a, const char *s, size_t n, const char **out)
{
	char *p = NULL;
	mh_status st = mh_arena_strndup(a, s, n, &p);
	*out = p;
	return st;
}

static mh_status copy_bytes(mh_arena *a, const void *s, size_t n, const uint8_t **out)
{
	void *p = NULL;
	mh_status st = mh_arena_memdup(a, s, n, &p);
	*out = p;
	return st;
}

/* ---- SHA-256 (FIPS 180-4), for name-based GUIDs and bearer-token hashes --------------- */

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t ror32(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh;
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) +
		              ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		uint32_t t2 =
		    (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void mh_srv_sha256(uint8_t out[32], const void *data, size_t n)
{
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	const uint8_t *p = data;
	uint8_t tail[128];
	size_t full = n / 64 * 64, rest = n - full, tail_len;
	uint64_t bits = (uint64_t)n * 8;
	for (size_t i = 0; i < full; i += 64)
		sha256_block(h, p + i);
	memset(tail, 0, sizeof(tail));
	if (rest > 0)
		memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	tail_len = rest < 56 ? 64 : 128;
	for (int i = 0; i < 8; i++)
		tail[tail_len - 1 - i] = (uint8_t)(bits >> (8 * i));
	sha256_block(h, tail);
	if (tail_len == 128)
		sha256_block(h, tail + 64);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

void mh_srv_token_hash(char out[65], const char *token, size_t len)
{
	uint8_t d[32];
	mh_srv_sha256(d, token, len);
	mh_hex_encode(out, d, sizeof(d));
}

/* ---- GUIDs -------------------------------------------------------------------------------- */

void mh_srv_name_guid(GUID *out, const char *purpose, const char *domain, const char *alias)
{
	static const char tag[] = "mapihttpd-guid";
	size_t lp = strlen(purpose), ld = strlen(domain), la = strlen(alias);
	size_t n = sizeof(tag) + lp + 1 + ld + 1 + la, pos = 0;
	uint8_t d[32], stackbuf[512], *buf = stackbuf;
	if (n > sizeof(stackbuf)) {
		buf = malloc(n);
		if (buf == NULL) {
			/* Callers validated the lengths; a failure here is not reachable. */
			memset(out, 0, sizeof(*out));
			return;
		}
	}
	memcpy(buf + pos, tag, sizeof(tag)); /* includes the separating NUL */
	pos += sizeof(tag);
	memcpy(buf + pos, purpose, lp + 1);
	pos += lp + 1;
	memcpy(buf + pos, domain, ld + 1);
	pos += ld + 1;
	memcpy(buf + pos, alias, la);
	mh_srv_sha256(d, buf, n);
	if (buf != stackbuf)
		free(buf);
	d[6] = (uint8_t)((d[6] & 0x0F) | 0x80); /* version 8 */
	d[8] = (uint8_t)((d[8] & 0x3F) | 0x80); /* RFC 9562 variant */
	out->Data1 = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
	out->Data2 = (uint16_t)(d[4] << 8 | d[5]);
	out->Data3 = (uint16_t)(d[6] << 8 | d[7]);
	memcpy(out->Data4, d + 8, 8);
}

void mh_srv_guid_text(char out[37], const GUID *g)
{
	snprintf(out, 37, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", (unsigned)g->Data1,
	         (unsigned)g->Data2, (unsigned)g->Data3, g->Data4[0], g->Data4[1], g->Data4[2],
	         g->Data4[3], g->Data4[4], g->Data4[5], g->Data4[6], g->Data4[7]);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

mh_status mh_srv_guid_parse(GUID *out, const char *s, size_t len)
{
	uint8_t b[16];
	size_t k = 0;
	if (len != 36)
		goto bad;
	for (size_t i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				goto bad;
			i++;
			continue;
		}
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		b[k++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	out->Data1 = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	out->Data2 = (uint16_t)(b[4] << 8 | b[5]);
	out->Data3 = (uint16_t)(b[6] << 8 | b[7]);
	memcpy(out->Data4, b + 8, 8);
	return S_OK;
bad:
	return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
	                    "not a GUID (want 8-4-4-4-12 hexadecimal digits)");
}

/* ---- passwords ---------------------------------------------------------------------------- */

mh_status mh_srv_password_hash(mh_arena *arena, const char *password, unsigned rounds,
                               const char **out)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;
	mh_status st;
	*out = NULL;
	/* NULL random bytes: libcrypt takes the salt from the system's random source. */
	if (crypt_gensalt_rn("$6$", rounds, NULL, 0, salt, (int)sizeof(salt)) == NULL)
		return mh_error_set(MAPI_E_CALL_FAILED, -1, "crypt_gensalt: %s", strerror(errno));
	cd = calloc(1, sizeof(*cd)); /* about 32 KiB: too big for some thread stacks */
	if (cd == NULL)
		return mh_error_oom();
	h = crypt_r(password, salt, cd);
	if (h == NULL || h[0] != '$') {
		free(cd);
		return mh_error_set(MAPI_E_CALL_FAILED, -1, "crypt_r refused to hash a password");
	}
	st = copy_str(arena, h, strlen(h), out);
	free(cd);
	return st;
}

/* ---- validation helpers ------------------------------------------------------------------- */

typedef struct ctx {
	mh_srv_org *org;
	const char *source;
} ctx;

#define PATH_MAX_LEN 256

static mh_status bad(const ctx *c, const char *path, const char *fmt, ...) MH_PRINTF(3, 4);

static mh_status bad(const ctx *c, const char *path, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "%s%s%s: %s", c->source ? c->source : "",
	                    c->source ? ": " : "", path[0] ? path : "(top level)", msg);
}

/* Paths are for messages only: an overlong one is cut and marked with "...". */
static void path_done(char out[PATH_MAX_LEN], int n)
{
	if (n < 0 || n >= PATH_MAX_LEN)
		memcpy(out + PATH_MAX_LEN - 4, "...", 4);
}

static void join(char out[PATH_MAX_LEN], const char *path, const char *key)
{
	if (path[0] == '\0')
		path_done(out, snprintf(out, PATH_MAX_LEN, "%s", key));
	else
		path_done(out, snprintf(out, PATH_MAX_LEN, "%s.%s", path, key));
}

static void join_index(char out[PATH_MAX_LEN], const char *path, const char *key, size_t i)
{
	if (path[0] == '\0')
		path_done(out, snprintf(out, PATH_MAX_LEN, "%s[%zu]", key, i));
	else
		path_done(out, snprintf(out, PATH_MAX_LEN, "%s.%s[%zu]", path, key, i));
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

static mh_status only_members(const ctx *c, const json_t *obj, const char *path,
                              const char *const *allowed)
{
	const char *key;
	json_t *v;
	/* jansson iterates only non-const objects; nothing is modified. */
	json_object_foreach((json_t *)(uintptr_t)obj, key, v)
	{
		size_t i;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] == NULL) {
			char p[PATH_MAX_LEN];
			join(p, path, key);
			return bad(c, p, "unknown member");
		}
	}
	return S_OK;
}

enum { TEXT_LINE, TEXT_MULTILINE };

/* A string member (or NULL when absent and optional), with its length checked. */
static mh_status get_string(const ctx *c, const json_t *obj, const char *path, const char *key,
                            int required, size_t max, int text, const char **out, size_t *len)
{
	char p[PATH_MAX_LEN];
	json_t *v = json_object_get(obj, key);
	size_t n;
	const char *s;
	*out = NULL;
	if (len)
		*len = 0;
	join(p, path, key);
	if (v == NULL)
		return required ? bad(c, p, "missing") : S_OK;
	if (!json_is_string(v))
		return bad(c, p, "expected a string, got %s", type_name(v));
	s = json_string_value(v);
	n = json_string_length(v);
	if (required && n == 0)
		return bad(c, p, "empty");
	if (n > max)
		return bad(c, p, "longer than %zu bytes", max);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 || ch == 0x7F) &&
		    !(text == TEXT_MULTILINE && (ch == '\n' || ch == '\r' || ch == '\t')))
			return bad(c, p, "control character at byte %zu", i);
	}
	*out = s;
	if (len)
		*len = n;
	return S_OK;
}

static mh_status get_array(const ctx *c, const json_t *obj, const char *path, const char *key,
                           int required, size_t max, const json_t **out)
{
	char p[PATH_MAX_LEN];
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	join(p, path, key);
	if (v == NULL)
		return required ? bad(c, p, "missing") : S_OK;
	if (!json_is_array(v))
		return bad(c, p, "expected an array, got %s", type_name(v));
	if (required && json_array_size(v) == 0)
		return bad(c, p, "empty");
	if (json_array_size(v) > max)
		return bad(c, p, "more than %zu elements", max);
	*out = v;
	return S_OK;
}

static mh_status get_bool(const ctx *c, const json_t *obj, const char *path, const char *key,
                          int dflt, int *out)
{
	char p[PATH_MAX_LEN];
	json_t *v = json_object_get(obj, key);
	*out = dflt;
	if (v == NULL)
		return S_OK;
	join(p, path, key);
	if (!json_is_boolean(v))
		return bad(c, p, "expected a boolean, got %s", type_name(v));
	*out = json_is_true(v);
	return S_OK;
}

static mh_status need_object(const ctx *c, const json_t *v, const char *path)
{
	if (!json_is_object(v))
		return bad(c, path, "expected an object, got %s", type_name(v));
	return S_OK;
}

static mh_status dup(const ctx *c, const char *s, const char **out)
{
	return copy_str(&c->org->arena, s, strlen(s), out);
}

static mh_status alloc_array(const ctx *c, size_t n, size_t size, void **out)
{
	*out = NULL;
	if (n == 0)
		return S_OK;
	return mh_arena_array(&c->org->arena, n, size, out);
}

static int valid_smtp(const char *s)
{
	const char *at = strchr(s, '@');
	if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7F || *s == '<' || *s == '>' || *s == ',')
			return 0;
	return 1;
}

static int is_alias_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

/* RFC 6750 b64token characters. */
static int is_token_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == '+' || ch == '/' ||
	       ch == '=';
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SSZ", years 1601..9999, into seconds since 1970. */
static int parse_time(const char *s, int64_t *out)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	unsigned v[6] = {0};
	size_t field = 0;
	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd') {
			if (s[i] < '0' || s[i] > '9')
				return 0;
			v[field] = v[field] * 10 + (unsigned)(s[i] - '0');
		} else {
			if (s[i] != shape[i])
				return 0;
			field++;
		}
	}
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y = v[0], mo = v[1], d = v[2];
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1601 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || v[3] > 23 || v[4] > 59 || v[5] > 59)
		return 0;
	*out = days_from_civil(y, mo, d) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
	return 1;
}

/* ---- folders ------------------------------------------------------------------------------ */

/* The special folders below Top of Information Store that paths may name. */
static const char *const ipm_special[] = {"Inbox", "Outbox", "Sent Items", "Deleted Items"};

static int path_known(const mh_srv_org_mailbox *m, size_t n_defined, const char *path)
{
	for (size_t i = 0; i < sizeof(ipm_special) / sizeof(ipm_special[0]); i++)
		if (strcasecmp(ipm_special[i], path) == 0)
			return 1;
	for (size_t i = 0; i < n_defined; i++)
		if (strcasecmp(m->folders[i], path) == 0)
			return 1;
	return 0;
}

static mh_status parse_folders(const ctx *c, const json_t *obj, const char *path,
                               mh_srv_org_mailbox *m)
{
	const json_t *arr;
	mh_status st = get_array(c, obj, path, "folders", 0, 10000, &arr);
	if (st != S_OK || arr == NULL)
		return st;
	m->n_folders = json_array_size(arr);
	st = alloc_array(c, m->n_folders, sizeof(*m->folders), (void **)&m->folders);
	if (st != S_OK)
		return st;
	for (size_t i = 0; i < m->n_folders; i++) {
		char p[PATH_MAX_LEN];
		json_t *v = json_array_get(arr, i);
		const char *s, *seg;
		size_t n, depth = 1;
		join_index(p, path, "folders", i);
		if (!json_is_string(v))
			return bad(c, p, "expected a string, got %s", type_name(v));
		s = json_string_value(v);
		n = json_string_length(v);
		if (n == 0 || n > MH_SRV_ORG_MAX_NAME * MH_SRV_ORG_MAX_FOLDER_PATH)
			return bad(c, p, "folder path must have 1 to %u bytes",
			           MH_SRV_ORG_MAX_NAME * MH_SRV_ORG_MAX_FOLDER_PATH);
		for (seg = s;;) {
			const char *slash = strchr(seg, '/');
			size_t sl = slash ? (size_t)(slash - seg) : strlen(seg);
			if (sl == 0 || sl > MH_SRV_ORG_MAX_NAME)
				return bad(c, p, "each folder name must have 1 to %u bytes",
				           MH_SRV_ORG_MAX_NAME);
			for (size_t k = 0; k < sl; k++)
				if ((unsigned char)seg[k] < 0x20 || seg[k] == 0x7F)
					return bad(c, p, "control character in folder name");
			if (slash == NULL)
				break;
			seg = slash + 1;
			depth++;
		}
		if (depth > MH_SRV_ORG_MAX_FOLDER_PATH)
			return bad(c, p, "deeper than %u levels", MH_SRV_ORG_MAX_FOLDER_PATH);
		if (path_known(m, i, s))
			return bad(c, p, "folder \"%s\" already exists", s);
		if (depth > 1) {
			const char *last = strrchr(s, '/');
			char parent[MH_SRV_ORG_MAX_NAME * MH_SRV_ORG_MAX_FOLDER_PATH + 1];
			memcpy(parent, s, (size_t)(last - s));
			parent[last - s] = '\0';
			if (!path_known(m, i, parent))
				return bad(
				    c, p,
				    "parent folder \"%s\" is not defined (list parents first)",
				    parent);
		}
		if ((st = dup(c, s, &m->folders[i])) != S_OK)
			return st;
	}
	return S_OK;
}

/* ---- messages ----------------------------------------------------------------------------- */

static const mh_srv_org_user *user_by_smtp(const mh_srv_org *org, size_t n, const char *smtp)
{
	for (size_t i = 0; i < n; i++)
		if (org->users[i].smtp != NULL && strcasecmp(org->users[i].smtp, smtp) == 0)
			return &org->users[i];
	return NULL;
}

static mh_status parse_address(const ctx *c, const char *p, const json_t *v, const char **name,
                               const char **smtp)
{
	const mh_srv_org_user *u;
	const char *s;
	if (!json_is_string(v))
		return bad(c, p, "expected a string, got %s", type_name(v));
	s = json_string_value(v);
	if (json_string_length(v) > 320 || !valid_smtp(s))
		return bad(c, p, "not an SMTP address");
	u = user_by_smtp(c->org, c->org->n_users, s);
	mh_status st = dup(c, u ? u->smtp : s, smtp);
	if (st != S_OK)
		return st;
	return dup(c, u ? u->display_name : s, name);
}

static mh_status parse_props(const ctx *c, const json_t *obj, const char *path,
                             mh_srv_org_message *msg)
{
	char p[PATH_MAX_LEN];
	json_t *props = json_object_get(obj, "props"), *v;
	const char *key;
	size_t i = 0;
	mh_status st;
	join(p, path, "props");
	if (props == NULL)
		return S_OK;
	if (!json_is_object(props))
		return bad(c, p, "expected an object, got %s", type_name(props));
	if (json_object_size(props) > 1000)
		return bad(c, p, "more than 1000 properties");
	msg->n_props = json_object_size(props);
	st = alloc_array(c, msg->n_props, sizeof(*msg->props), (void **)&msg->props);
	if (st != S_OK)
		return st;
	json_object_foreach(props, key, v)
	{
		char kp[PATH_MAX_LEN];
		mh_srv_org_prop *pr = &msg->props[i];
		uint32_t tag = 0;
		uint8_t *val = NULL;
		join(kp, p, key);
		if (strlen(key) != 10 || key[0] != '0' || (key[1] != 'x' && key[1] != 'X'))
			return bad(c, kp, "property tag must be 0x followed by 8 hex digits");
		for (int k = 2; k < 10; k++) {
			int h = hexval(key[k]);
			if (h < 0)
				return bad(c, kp,
				           "property tag must be 0x followed by 8 hex digits");
			tag = tag << 4 | (uint32_t)h;
		}
		if ((tag >> 16) == 0)
			return bad(c, kp, "property id 0 is not allowed");
		for (size_t k = 0; k < i; k++)
			if (msg->props[k].tag == tag)
				return bad(c, kp, "duplicate property tag");
		pr->tag = tag;
		switch (tag & 0xFFFF) {
		case 0x0003: /* PT_LONG */
		case 0x0014: /* PT_I8 */ {
			size_t w = (tag & 0xFFFF) == 0x0003 ? 4 : 8;
			json_int_t x;
			if (!json_is_integer(v))
				return bad(c, kp, "expected an integer, got %s", type_name(v));
			x = json_integer_value(v);
			if (w == 4 && (x < INT32_MIN || x > (json_int_t)UINT32_MAX))
				return bad(c, kp, "does not fit in 32 bits");
			if ((st = mh_arena_alloc(&c->org->arena, w, (void **)&val)) != S_OK)
				return st;
			for (size_t k = 0; k < w; k++)
				val[k] = (uint8_t)((uint64_t)x >> (8 * k));
			pr->len = w;
			break;
		}
		case 0x000B: /* PT_BOOLEAN */
			if (!json_is_boolean(v))
				return bad(c, kp, "expected a boolean, got %s", type_name(v));
			if ((st = mh_arena_alloc(&c->org->arena, 1, (void **)&val)) != S_OK)
				return st;
			val[0] = json_is_true(v) ? 1 : 0;
			pr->len = 1;
			break;
		case 0x001F: /* PT_UNICODE: UTF-8, no terminator */
			if (!json_is_string(v))
				return bad(c, kp, "expected a string, got %s", type_name(v));
			if (json_string_length(v) > MH_SRV_ORG_MAX_BODY)
				return bad(c, kp, "longer than %zu bytes", MH_SRV_ORG_MAX_BODY);
			pr->len = json_string_length(v);
			if ((st = mh_arena_memdup(&c->org->arena, json_string_value(v), pr->len,
			                          (void **)&val)) != S_OK)
				return st;
			break;
		case 0x0040: /* PT_SYSTIME: FILETIME, little-endian */ {
			int64_t t;
			uint64_t ft;
			if (!json_is_string(v) || !parse_time(json_string_value(v), &t))
				return bad(c, kp, "expected a time \"YYYY-MM-DDTHH:MM:SSZ\"");
			ft = (uint64_t)(t + 11644473600LL) * 10000000u;
			if ((st = mh_arena_alloc(&c->org->arena, 8, (void **)&val)) != S_OK)
				return st;
			for (int k = 0; k < 8; k++)
				val[k] = (uint8_t)(ft >> (8 * k));
			pr->len = 8;
			break;
		}
		case 0x0102: /* PT_BINARY from hex */ {
			const char *s;
			size_t n;
			if (!json_is_string(v))
				return bad(c, kp, "expected a hex string, got %s", type_name(v));
			s = json_string_value(v);
			n = json_string_length(v);
			if (n % 2 != 0 || n / 2 > MH_SRV_ORG_MAX_ATTACHMENT)
				return bad(c, kp, "expected an even number of hex digits");
			if (n > 0 &&
			    (st = mh_arena_alloc(&c->org->arena, n / 2, (void **)&val)) != S_OK)
				return st;
			for (size_t k = 0; k < n; k += 2) {
				int hi = hexval(s[k]), lo = hexval(s[k + 1]);
				if (hi < 0 || lo < 0)
					return bad(c, kp, "not a hex digit at character %zu",
					           hi < 0 ? k : k + 1);
				val[k / 2] = (uint8_t)(hi << 4 | lo);
			}
			pr->len = n / 2;
			break;
		}
		default:
			return bad(
			    c, kp,
			    "property type 0x%04X is not supported (0003, 000B, 0014, 001F, 0040, "
			    "0102 are)",
			    (unsigned)(tag & 0xFFFF));
		}
		pr->value = val;
		i++;
	}
	return S_OK;
}

static mh_status parse_message(const ctx *c, const json_t *v, const char *path,
                               const mh_srv_org_mailbox *m, const mh_srv_org_user *owner,
                               mh_srv_org_message *msg)
{
	static const char *const members[] = {
	    "folder",   "subject", "message_class", "from",        "to",    "cc", "bcc",
	    "received", "body",    "read",          "attachments", "props", NULL};
	static const char *const rcpt_keys[] = {"to", "cc", "bcc"};
	const char *s, *received;
	const json_t *arrs[3], *atts;
	size_t n;
	mh_status st;
	if ((st = need_object(c, v, path)) != S_OK ||
	    (st = only_members(c, v, path, members)) != S_OK)
		return st;
	if ((st = get_string(c, v, path, "folder", 1, 2048, TEXT_LINE, &s, NULL)) != S_OK)
		return st;
	if (!path_known(m, m->n_folders, s)) {
		char p[PATH_MAX_LEN];
		join(p, path, "folder");
		return bad(c, p, "no folder \"%s\" in this mailbox", s);
	}
	if ((st = dup(c, s, &msg->folder)) != S_OK)
		return st;
	if ((st = get_string(c, v, path, "subject", 0, MH_SRV_ORG_MAX_SUBJECT, TEXT_LINE, &s,
	                     NULL)) != S_OK ||
	    (st = dup(c, s ? s : "", &msg->subject)) != S_OK)
		return st;
	if ((st = get_string(c, v, path, "message_class", 0, 255, TEXT_LINE, &s, NULL)) != S_OK ||
	    (st = dup(c, s ? s : "IPM.Note", &msg->message_class)) != S_OK)
		return st;
	if ((st = get_string(c, v, path, "body", 0, MH_SRV_ORG_MAX_BODY, TEXT_MULTILINE, &s,
	                     NULL)) != S_OK ||
	    (st = dup(c, s ? s : "", &msg->body)) != S_OK)
		return st;
	if ((st = get_string(c, v, path, "received", 1, 64, TEXT_LINE, &received, NULL)) != S_OK)
		return st;
	if (!parse_time(received, &msg->delivery_time)) {
		char p[PATH_MAX_LEN];
		join(p, path, "received");
		return bad(c, p, "expected a UTC time \"YYYY-MM-DDTHH:MM:SSZ\" (years 1601-9999)");
	}
	if ((st = get_bool(c, v, path, "read", 0, &msg->read)) != S_OK)
		return st;
	if (json_object_get(v, "from") != NULL) {
		char p[PATH_MAX_LEN];
		join(p, path, "from");
		st = parse_address(c, p, json_object_get(v, "from"), &msg->sender_name,
		                   &msg->sender_smtp);
	} else {
		st = dup(c, owner->smtp, &msg->sender_smtp);
		if (st == S_OK)
			st = dup(c, owner->display_name, &msg->sender_name);
	}
	if (st != S_OK)
		return st;
	n = 0;
	for (int k = 0; k < 3; k++) {
		if ((st = get_array(c, v, path, rcpt_keys[k], 0, 1000, &arrs[k])) != S_OK)
			return st;
		n += arrs[k] ? json_array_size(arrs[k]) : 0;
	}
	msg->n_rcpts = n;
	if ((st = alloc_array(c, n, sizeof(*msg->rcpts), (void **)&msg->rcpts)) != S_OK)
		return st;
	n = 0;
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; arrs[k] && i < json_array_size(arrs[k]); i++, n++) {
			char p[PATH_MAX_LEN];
			join_index(p, path, rcpt_keys[k], i);
			msg->rcpts[n].type = MH_SRV_MAPI_TO + k;
			st = parse_address(c, p, json_array_get(arrs[k], i),
			                   &msg->rcpts[n].display_name, &msg->rcpts[n].smtp);
			if (st != S_OK)
				return st;
		}
	}
	if ((st = get_array(c, v, path, "attachments", 0, 100, &atts)) != S_OK)
		return st;
	msg->n_attachments = atts ? json_array_size(atts) : 0;
	st = alloc_array(c, msg->n_attachments, sizeof(*msg->attachments),
	                 (void **)&msg->attachments);
	if (st != S_OK)
		return st;
	for (size_t i = 0; i < msg->n_attachments; i++) {
		static const char *const amembers[] = {"name", "content_type", "content", NULL};
		char p[PATH_MAX_LEN];
		json_t *a = json_array_get(atts, i);
		mh_srv_org_attachment *at = &msg->attachments[i];
		size_t len;
		join_index(p, path, "attachments", i);
		if ((st = need_object(c, a, p)) != S_OK ||
		    (st = only_members(c, a, p, amembers)) != S_OK)
			return st;
		if ((st = get_string(c, a, p, "name", 1, MH_SRV_ORG_MAX_NAME, TEXT_LINE, &s,
		                     NULL)) != S_OK ||
		    (st = dup(c, s, &at->filename)) != S_OK)
			return st;
		if ((st = get_string(c, a, p, "content_type", 0, 255, TEXT_LINE, &s, NULL)) !=
		        S_OK ||
		    (st = dup(c, s ? s : "application/octet-stream", &at->content_type)) != S_OK)
			return st;
		if ((st = get_string(c, a, p, "content", 1, MH_SRV_ORG_MAX_ATTACHMENT,
		                     TEXT_MULTILINE, &s, &len)) != S_OK)
			return st;
		if ((st = copy_bytes(&c->org->arena, s, len, &at->data)) != S_OK)
			return st;
		at->len = len;
	}
	return parse_props(c, v, path, msg);
}

static mh_status parse_mailbox_content(const ctx *c, const json_t *obj, const char *path,
                                       mh_srv_org_mailbox *m, const mh_srv_org_user *owner)
{
	const json_t *arr;
	mh_status st = parse_folders(c, obj, path, m);
	if (st != S_OK)
		return st;
	if ((st = get_array(c, obj, path, "messages", 0, 1000000, &arr)) != S_OK || arr == NULL)
		return st;
	m->n_messages = json_array_size(arr);
	st = alloc_array(c, m->n_messages, sizeof(*m->messages), (void **)&m->messages);
	for (size_t i = 0; st == S_OK && i < m->n_messages; i++) {
		char p[PATH_MAX_LEN];
		join_index(p, path, "messages", i);
		st = parse_message(c, json_array_get(arr, i), p, m, owner, &m->messages[i]);
	}
	return st;
}

static mh_status get_guid(const ctx *c, const json_t *obj, const char *path, const char *key,
                          GUID *g, int *present)
{
	const char *s;
	size_t len;
	mh_status st = get_string(c, obj, path, key, 0, 64, TEXT_LINE, &s, &len);
	*present = 0;
	if (st != S_OK || s == NULL)
		return st;
	if (mh_srv_guid_parse(g, s, len) != S_OK) {
		char p[PATH_MAX_LEN];
		join(p, path, key);
		return bad(c, p, "not a GUID (want 8-4-4-4-12 hexadecimal digits)");
	}
	*present = 1;
	return S_OK;
}

/* ---- users -------------------------------------------------------------------------------- */

/* First pass: alias, kind, address and name, so later members can refer to any user. */
static mh_status parse_user_identity(const ctx *c, const json_t *v, const char *path, size_t idx)
{
	static const char *const members[] = {
	    "alias",  "display_name", "kind",    "password", "password_hash",
	    "tokens", "mailbox_guid", "folders", "messages", "archive",
	    NULL};
	mh_srv_org *org = c->org;
	mh_srv_org_user *u = &org->users[idx];
	const char *alias, *kind, *name;
	size_t n;
	char p[PATH_MAX_LEN], smtp[MH_SRV_ORG_MAX_ALIAS + 1 + 256];
	mh_status st;
	if ((st = need_object(c, v, path)) != S_OK ||
	    (st = only_members(c, v, path, members)) != S_OK)
		return st;
	join(p, path, "alias");
	if ((st = get_string(c, v, path, "alias", 1, MH_SRV_ORG_MAX_ALIAS, TEXT_LINE, &alias,
	                     &n)) != S_OK)
		return st;
	for (size_t i = 0; i < n; i++)
		if (!is_alias_char(alias[i]))
			return bad(c, p,
			           "character '%c' is not allowed (letters, digits, '.', '_', '-')",
			           alias[i]);
	if (alias[0] == '.' || alias[n - 1] == '.')
		return bad(c, p, "must not start or end with '.'");
	if (strcasecmp(alias, "default") == 0)
		return bad(c, p, "\"%s\" is reserved for the Default permission entry", alias);
	snprintf(smtp, sizeof(smtp), "%s@%s", alias, org->domain);
	for (size_t i = 0; i < idx; i++)
		if (strcasecmp(org->users[i].smtp, smtp) == 0)
			return bad(c, p, "duplicate address %s (also users[%zu])", smtp, i);
	if ((st = dup(c, alias, &u->alias)) != S_OK || (st = dup(c, smtp, &u->smtp)) != S_OK)
		return st;
	if ((st = get_string(c, v, path, "display_name", 1, MH_SRV_ORG_MAX_NAME, TEXT_LINE, &name,
	                     NULL)) != S_OK ||
	    (st = dup(c, name, &u->display_name)) != S_OK)
		return st;
	if ((st = get_string(c, v, path, "kind", 0, 16, TEXT_LINE, &kind, NULL)) != S_OK)
		return st;
	if (kind == NULL || strcmp(kind, "user") == 0) {
		u->kind = MH_SRV_RECIPIENT_USER;
	} else if (strcmp(kind, "shared") == 0) {
		u->kind = MH_SRV_RECIPIENT_SHARED;
	} else {
		join(p, path, "kind");
		return bad(c, p, "expected \"user\" or \"shared\", got \"%s\"", kind);
	}
	return S_OK;
}

/*
 * One element of a user's "tokens": a token string, or {"token": "...", "expires": "<UTC
 * time>"} for one that is refused from that time on. Only the token's hash is kept.
 */
static mh_status parse_token(const ctx *c, const json_t *t, const char *path, const char **hash,
                             int64_t *expires)
{
	static const char *const members[] = {"token", "expires", NULL};
	char p[PATH_MAX_LEN], h[65];
	const char *s, *when, *where = path;
	size_t n;
	mh_status st;
	*expires = MH_SRV_TOKEN_NEVER;
	if (json_is_string(t)) {
		s = json_string_value(t);
		n = json_string_length(t);
	} else if (json_is_object(t)) {
		if ((st = only_members(c, t, path, members)) != S_OK ||
		    (st = get_string(c, t, path, "expires", 0, 64, TEXT_LINE, &when, NULL)) != S_OK)
			return st;
		join(p, path, "token");
		where = p;
		const json_t *v = json_object_get(t, "token");
		if (v == NULL)
			return bad(c, p, "missing");
		if (!json_is_string(v))
			return bad(c, p, "expected a string, got %s", type_name(v));
		s = json_string_value(v);
		n = json_string_length(v);
		if (when != NULL && !parse_time(when, expires)) {
			char pe[PATH_MAX_LEN];
			join(pe, path, "expires");
			return bad(
			    c, pe,
			    "expected a UTC time \"YYYY-MM-DDTHH:MM:SSZ\" (years 1601-9999)");
		}
	} else {
		return bad(c, path,
		           "expected a string or an object with \"token\" and \"expires\", "
		           "got %s",
		           type_name(t));
	}
	if (n < MH_SRV_ORG_MIN_TOKEN || n > MH_SRV_ORG_MAX_TOKEN)
		return bad(c, where, "a token must have %u to %u characters", MH_SRV_ORG_MIN_TOKEN,
		           MH_SRV_ORG_MAX_TOKEN);
	for (size_t k = 0; k < n; k++)
		if (!is_token_char(s[k]))
			return bad(c, where, "character at %zu is not a token character (RFC 6750)",
			           k);
	mh_srv_token_hash(h, s, n);
	return dup(c, h, hash);
}

static mh_status parse_credentials(const ctx *c, const json_t *v, const char *path,
                                   mh_srv_org_user *u)
{
	const char *pw, *hash;
	const json_t *tokens;
	char p[PATH_MAX_LEN];
	mh_status st;
	if ((st = get_string(c, v, path, "password", 0, MH_SRV_ORG_MAX_PASSWORD, TEXT_LINE, &pw,
	                     NULL)) != S_OK ||
	    (st = get_string(c, v, path, "password_hash", 0, 512, TEXT_LINE, &hash, NULL)) !=
	        S_OK ||
	    (st = get_array(c, v, path, "tokens", 0, 100, &tokens)) != S_OK)
		return st;
	if (u->kind == MH_SRV_RECIPIENT_SHARED) {
		const char *which = pw       ? "password"
		                    : hash   ? "password_hash"
		                    : tokens ? "tokens"
		                             : NULL;
		if (which != NULL) {
			join(p, path, which);
			return bad(c, p, "a shared mailbox has no logon of its own");
		}
		return S_OK;
	}
	if (pw != NULL && hash != NULL) {
		join(p, path, "password_hash");
		return bad(c, p, "give either password or password_hash, not both");
	}
	if (pw == NULL && hash == NULL) {
		join(p, path, "password");
		return bad(c, p, "missing");
	}
	if (pw != NULL) {
		if (pw[0] == '\0') {
			join(p, path, "password");
			return bad(c, p, "empty");
		}
		if ((st = mh_srv_password_hash(&c->org->arena, pw, 0, &u->password_hash)) != S_OK)
			return st;
	} else {
		if (hash[0] != '$' || crypt_checksalt(hash) != CRYPT_SALT_OK) {
			join(p, path, "password_hash");
			return bad(c, p, "not a crypt(3) hash this system supports");
		}
		if ((st = dup(c, hash, &u->password_hash)) != S_OK)
			return st;
	}
	u->n_tokens = tokens ? json_array_size(tokens) : 0;
	int64_t *expires = NULL;
	st = alloc_array(c, u->n_tokens, sizeof(*u->token_hashes), (void **)&u->token_hashes);
	if (st == S_OK)
		st = alloc_array(c, u->n_tokens, sizeof(*expires), (void **)&expires);
	u->token_expires = expires;
	for (size_t i = 0; st == S_OK && i < u->n_tokens; i++) {
		join_index(p, path, "tokens", i);
		st = parse_token(c, json_array_get(tokens, i), p, &u->token_hashes[i], &expires[i]);
	}
	return st;
}

static mh_status parse_user(const ctx *c, const json_t *v, const char *path, mh_srv_org_user *u)
{
	const mh_srv_org *org = c->org;
	json_t *arch;
	int present;
	mh_status st;
	if ((st = parse_credentials(c, v, path, u)) != S_OK)
		return st;
	if ((st = get_guid(c, v, path, "mailbox_guid", &u->primary.guid, &present)) != S_OK)
		return st;
	if (!present)
		mh_srv_name_guid(&u->primary.guid, "mailbox", org->domain, u->alias);
	mh_srv_name_guid(&u->primary.repl_guid, "replica", org->domain, u->alias);
	u->primary.display_name = u->display_name;
	if ((st = parse_mailbox_content(c, v, path, &u->primary, u)) != S_OK)
		return st;
	arch = json_object_get(v, "archive");
	if (arch != NULL) {
		static const char *const members[] = {"display_name", "guid", "folders", "messages",
		                                      NULL};
		char p[PATH_MAX_LEN];
		const char *name;
		join(p, path, "archive");
		if ((st = need_object(c, arch, p)) != S_OK ||
		    (st = only_members(c, arch, p, members)) != S_OK)
			return st;
		u->has_archive = 1;
		if ((st = get_string(c, arch, p, "display_name", 0, MH_SRV_ORG_MAX_NAME, TEXT_LINE,
		                     &name, NULL)) != S_OK)
			return st;
		if (name != NULL) {
			st = dup(c, name, &u->archive.display_name);
		} else {
			char dflt[MH_SRV_ORG_MAX_NAME + 32];
			snprintf(dflt, sizeof(dflt), "Online Archive - %s", u->display_name);
			st = dup(c, dflt, &u->archive.display_name);
		}
		if (st != S_OK ||
		    (st = get_guid(c, arch, p, "guid", &u->archive.guid, &present)) != S_OK)
			return st;
		if (!present)
			mh_srv_name_guid(&u->archive.guid, "archive", org->domain, u->alias);
		mh_srv_name_guid(&u->archive.repl_guid, "archive-replica", org->domain, u->alias);
		if ((st = parse_mailbox_content(c, arch, p, &u->archive, u)) != S_OK)
			return st;
	}
	return S_OK;
}

/* A user named by alias or SMTP address (case-insensitive). */
static mh_status resolve_user(const ctx *c, const json_t *obj, const char *path, const char *key,
                              size_t *out)
{
	char p[PATH_MAX_LEN];
	const char *s;
	mh_status st = get_string(c, obj, path, key, 1, 320, TEXT_LINE, &s, NULL);
	if (st != S_OK)
		return st;
	for (size_t i = 0; i < c->org->n_users; i++) {
		const mh_srv_org_user *u = &c->org->users[i];
		if (strcasecmp(u->alias, s) == 0 || strcasecmp(u->smtp, s) == 0) {
			*out = i;
			return S_OK;
		}
	}
	join(p, path, key);
	return bad(c, p, "no user \"%s\" in users", s);
}

static mh_status parse_full_access(const ctx *c, const json_t *root)
{
	static const char *const members[] = {"user", "mailbox", "automapping", NULL};
	mh_srv_org *org = c->org;
	const json_t *arr;
	mh_status st = get_array(c, root, "", "full_access", 0, 1000000, &arr);
	if (st != S_OK || arr == NULL)
		return st;
	org->n_full_access = json_array_size(arr);
	st = alloc_array(c, org->n_full_access, sizeof(*org->full_access),
	                 (void **)&org->full_access);
	for (size_t i = 0; st == S_OK && i < org->n_full_access; i++) {
		char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
		json_t *v = json_array_get(arr, i);
		mh_srv_org_full_access *fa = &org->full_access[i];
		join_index(p, "", "full_access", i);
		if ((st = need_object(c, v, p)) != S_OK ||
		    (st = only_members(c, v, p, members)) != S_OK ||
		    (st = resolve_user(c, v, p, "user", &fa->principal)) != S_OK ||
		    (st = resolve_user(c, v, p, "mailbox", &fa->mailbox)) != S_OK ||
		    (st = get_bool(c, v, p, "automapping", 1, &fa->automapping)) != S_OK)
			return st;
		join(q, p, "user");
		if (org->users[fa->principal].kind != MH_SRV_RECIPIENT_USER)
			return bad(c, q, "\"%s\" is a shared mailbox and cannot log on",
			           org->users[fa->principal].alias);
		if (fa->principal == fa->mailbox)
			return bad(c, q, "\"%s\" already owns that mailbox",
			           org->users[fa->principal].alias);
		for (size_t k = 0; k < i; k++)
			if (org->full_access[k].principal == fa->principal &&
			    org->full_access[k].mailbox == fa->mailbox)
				return bad(c, p, "duplicate of full_access[%zu]", k);
	}
	return st;
}

static const struct {
	const char *name;
	uint32_t rights;
} roles[] = {
    {"None", 0x000},        {"Reviewer", 0x401},
    {"Contributor", 0x402}, {"NoneditingAuthor", 0x413},
    {"Author", 0x41B},      {"PublishingAuthor", 0x49B},
    {"Editor", 0x47B},      {"PublishingEditor", 0x4FB},
    {"Owner", 0x7FB},
};

static mh_status parse_rights(const ctx *c, const json_t *obj, const char *path, uint32_t *out)
{
	char p[PATH_MAX_LEN];
	json_t *v = json_object_get(obj, "rights");
	join(p, path, "rights");
	if (v == NULL)
		return bad(c, p, "missing");
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		if (x < 0 || (x & ~(json_int_t)MH_SRV_RIGHTS_ALL_MASK) != 0)
			return bad(c, p, "unknown rights bits (allowed mask 0x%X)",
			           MH_SRV_RIGHTS_ALL_MASK);
		*out = (uint32_t)x;
		return S_OK;
	}
	if (json_is_string(v)) {
		for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
			if (strcasecmp(roles[i].name, json_string_value(v)) == 0) {
				*out = roles[i].rights;
				return S_OK;
			}
		return bad(c, p,
		           "unknown role \"%s\" (None, Reviewer, Contributor, NoneditingAuthor, "
		           "Author, PublishingAuthor, Editor, PublishingEditor, Owner)",
		           json_string_value(v));
	}
	return bad(c, p, "expected a role name or an integer, got %s", type_name(v));
}

static mh_status parse_folder_perms(const ctx *c, const json_t *root)
{
	static const char *const members[] = {"mailbox", "folder", "member", "rights", NULL};
	mh_srv_org *org = c->org;
	const json_t *arr;
	mh_status st = get_array(c, root, "", "folder_permissions", 0, 1000000, &arr);
	if (st != S_OK || arr == NULL)
		return st;
	org->n_folder_perms = json_array_size(arr);
	st = alloc_array(c, org->n_folder_perms, sizeof(*org->folder_perms),
	                 (void **)&org->folder_perms);
	for (size_t i = 0; st == S_OK && i < org->n_folder_perms; i++) {
		char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
		json_t *v = json_array_get(arr, i);
		mh_srv_org_folder_perm *fp = &org->folder_perms[i];
		const char *folder, *member;
		join_index(p, "", "folder_permissions", i);
		if ((st = need_object(c, v, p)) != S_OK ||
		    (st = only_members(c, v, p, members)) != S_OK ||
		    (st = resolve_user(c, v, p, "mailbox", &fp->mailbox)) != S_OK ||
		    (st = get_string(c, v, p, "folder", 1, 2048, TEXT_LINE, &folder, NULL)) !=
		        S_OK ||
		    (st = get_string(c, v, p, "member", 1, 320, TEXT_LINE, &member, NULL)) !=
		        S_OK ||
		    (st = parse_rights(c, v, p, &fp->rights)) != S_OK)
			return st;
		if (!path_known(&org->users[fp->mailbox].primary,
		                org->users[fp->mailbox].primary.n_folders, folder)) {
			join(q, p, "folder");
			return bad(c, q, "no folder \"%s\" in %s's mailbox", folder,
			           org->users[fp->mailbox].alias);
		}
		if ((st = dup(c, folder, &fp->folder)) != S_OK)
			return st;
		if (strcasecmp(member, "Default") != 0) {
			fp->has_member = 1;
			if ((st = resolve_user(c, v, p, "member", &fp->member)) != S_OK)
				return st;
		}
		for (size_t k = 0; k < i; k++) {
			const mh_srv_org_folder_perm *o = &org->folder_perms[k];
			if (o->mailbox == fp->mailbox && strcasecmp(o->folder, fp->folder) == 0 &&
			    o->has_member == fp->has_member &&
			    (!o->has_member || o->member == fp->member))
				return bad(c, p, "duplicate of folder_permissions[%zu]", k);
		}
	}
	return st;
}

typedef struct guid_ref {
	GUID g;
	size_t user;
	int archive;
} guid_ref;

static int guid_ref_cmp(const void *a, const void *b)
{
	const guid_ref *x = a, *y = b;
	int r = memcmp(&x->g, &y->g, sizeof(GUID));
	if (r != 0)
		return r;
	return x->user < y->user ? -1 : x->user > y->user;
}

/* Explicit GUIDs may collide; every mailbox needs its own MailboxId. */
static mh_status check_unique_guids(const ctx *c)
{
	const mh_srv_org *org = c->org;
	size_t n = 0;
	guid_ref *refs = calloc(org->n_users * 2, sizeof(*refs));
	mh_status st = S_OK;
	if (refs == NULL)
		return mh_error_oom();
	for (size_t i = 0; i < org->n_users; i++) {
		refs[n++] = (guid_ref){org->users[i].primary.guid, i, 0};
		if (org->users[i].has_archive)
			refs[n++] = (guid_ref){org->users[i].archive.guid, i, 1};
	}
	qsort(refs, n, sizeof(*refs), guid_ref_cmp);
	for (size_t i = 1; i < n; i++)
		if (memcmp(&refs[i].g, &refs[i - 1].g, sizeof(GUID)) == 0) {
			char p[PATH_MAX_LEN], g[37];
			join_index(p, "", "users", refs[i].user);
			mh_srv_guid_text(g, &refs[i].g);
			st = bad(c, p, "mailbox GUID %s is already used by users[%zu]", g,
			         refs[i - 1].user);
			break;
		}
	free(refs);
	return st;
}

static mh_status parse_root(const ctx *c, const json_t *root)
{
	static const char *const members[] = {"version", "domain",      "organisation",
	                                      "users",   "full_access", "folder_permissions",
	                                      NULL};
	mh_srv_org *org = c->org;
	const char *domain, *name;
	const json_t *users;
	json_t *ver;
	size_t n;
	mh_status st;
	if (!json_is_object(root))
		return bad(c, "", "expected an object, got %s", type_name(root));
	if ((st = only_members(c, root, "", members)) != S_OK)
		return st;
	ver = json_object_get(root, "version");
	if (ver != NULL && !(json_is_integer(ver) && json_integer_value(ver) == 1))
		return bad(c, "version", "only version 1 is known");
	if ((st = get_string(c, root, "", "domain", 1, 253, TEXT_LINE, &domain, &n)) != S_OK)
		return st;
	for (size_t i = 0; i < n; i++) {
		char ch = domain[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' ||
		      (ch == '.' && i > 0 && i + 1 < n && domain[i + 1] != '.')))
			return bad(c, "domain", "not a DNS domain name (character %zu)", i);
	}
	{
		char *lower;
		if ((st = mh_arena_strndup(&org->arena, domain, n, &lower)) != S_OK)
			return st;
		for (char *d = lower; *d; d++)
			if (*d >= 'A' && *d <= 'Z')
				*d = (char)(*d - 'A' + 'a');
		org->domain = lower;
	}
	if ((st = get_string(c, root, "", "organisation", 1, 64, TEXT_LINE, &name, NULL)) != S_OK)
		return st;
	if (strchr(name, '/') != NULL)
		return bad(c, "organisation", "must not contain '/' (it is part of every DN)");
	if ((st = dup(c, name, &org->name)) != S_OK)
		return st;
	if ((st = get_array(c, root, "", "users", 1, MH_SRV_ORG_MAX_USERS, &users)) != S_OK)
		return st;
	org->n_users = json_array_size(users);
	st = alloc_array(c, org->n_users, sizeof(*org->users), (void **)&org->users);
	for (size_t i = 0; st == S_OK && i < org->n_users; i++) {
		char p[PATH_MAX_LEN];
		join_index(p, "", "users", i);
		st = parse_user_identity(c, json_array_get(users, i), p, i);
	}
	for (size_t i = 0; st == S_OK && i < org->n_users; i++) {
		char p[PATH_MAX_LEN];
		join_index(p, "", "users", i);
		st = parse_user(c, json_array_get(users, i), p, &org->users[i]);
	}
	if (st == S_OK)
		st = check_unique_guids(c);
	if (st == S_OK)
		st = parse_full_access(c, root);
	if (st == S_OK)
		st = parse_folder_perms(c, root);
	return st;
}

static mh_status org_new(mh_srv_org **out)
{
	mh_srv_org *org = calloc(1, sizeof(*org));
	*out = NULL;
	if (org == NULL)
		return mh_error_oom();
	mh_arena_init(&org->arena, ORG_ARENA_CAP);
	*out = org;
	return S_OK;
}

void mh_srv_org_free(mh_srv_org *org)
{
	if (org == NULL)
		return;
	mh_arena_free(&org->arena);
	free(org);
}

mh_status mh_srv_org_parse(mh_srv_org **out, const char *json, size_t len, const char *source)
{
	json_error_t jerr;
	json_t *root;
	mh_srv_org *org;
	ctx c;
	mh_status st;
	*out = NULL;
	if (len > MH_SRV_ORG_MAX_FILE)
		return mh_error_set(MAPI_E_TOO_BIG, -1, "%s%sorganisation file is over %zu bytes",
		                    source ? source : "", source ? ": " : "", MH_SRV_ORG_MAX_FILE);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return mh_error_set(MAPI_E_CORRUPT_DATA, jerr.position, "%s%sline %d column %d: %s",
		                    source ? source : "", source ? ": " : "", jerr.line,
		                    jerr.column, jerr.text);
	if ((st = org_new(&org)) != S_OK) {
		json_decref(root);
		return st;
	}
	c.org = org;
	c.source = source;
	st = parse_root(&c, root);
	json_decref(root);
	if (st != S_OK) {
		mh_srv_org_free(org);
		return st;
	}
	*out = org;
	return S_OK;
}

mh_status mh_srv_org_parse_file(mh_srv_org **out, const char *path)
{
	FILE *f;
	char *buf;
	long size;
	size_t got;
	mh_status st;
	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL)
		return mh_error_set(errno == ENOENT ? MAPI_E_NOT_FOUND : MAPI_E_DISK_ERROR, -1,
		                    "%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return mh_error_set(MAPI_E_DISK_ERROR, -1, "%s: cannot determine its size", path);
	}
	if ((size_t)size > MH_SRV_ORG_MAX_FILE) {
		fclose(f);
		return mh_error_set(MAPI_E_TOO_BIG, -1, "%s: organisation file is over %zu bytes",
		                    path, MH_SRV_ORG_MAX_FILE);
	}
	buf = malloc((size_t)size + 1);
	if (buf == NULL) {
		fclose(f);
		return mh_error_oom();
	}
	got = fread(buf, 1, (size_t)size, f);
	fclose(f);
	if (got != (size_t)size) {
		free(buf);
		return mh_error_set(MAPI_E_DISK_ERROR, -1, "%s: short read", path);
	}
	st = mh_srv_org_parse(out, buf, got, path);
	free(buf);
	return st;
}

mh_status mh_srv_org_sample(mh_srv_org **out)
{
	return mh_srv_org_parse(out, (const char *)mh_sample_org_json, sizeof(mh_sample_org_json),
	                        "built-in sample organisation");
}

/* ---- the synthetic organisation --------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static mh_status gen_fmt(mh_srv_org *org, const char **out, const char *fmt, ...) MH_PRINTF(3, 4);

static mh_status gen_fmt(mh_srv_org *org, const char **out, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	return copy_str(&org->arena, buf, (size_t)n, out);
}

static const char *const gen_words[] = {
    "quarterly", "report", "budget", "meeting",  "notes",   "review",  "draft",  "invoice",
    "project",   "update", "plan",   "schedule", "release", "summary", "client", "request"};

static mh_status gen_messages(mh_srv_org *org, uint64_t *rng, const mh_srv_org_user *owner,
                              mh_srv_org_mailbox *m, unsigned count, unsigned sent,
                              int64_t base_time)
{
	mh_status st;
	m->n_messages = count;
	if (count == 0)
		return S_OK;
	st = mh_arena_array(&org->arena, count, sizeof(*m->messages), (void **)&m->messages);
	for (unsigned i = 0; st == S_OK && i < count; i++) {
		mh_srv_org_message *msg = &m->messages[i];
		const mh_srv_org_user *peer = &org->users[splitmix64(rng) % org->n_users];
		int is_sent = i >= count - sent;
		const mh_srv_org_user *from = is_sent ? owner : peer, *to = is_sent ? peer : owner;
		uint64_t r = splitmix64(rng);
		msg->folder = is_sent ? "Sent Items" : "Inbox";
		msg->message_class = "IPM.Note";
		msg->delivery_time = base_time + (int64_t)(r % (365u * 86400u));
		msg->read = (int)((r >> 40) & 1);
		msg->sender_name = from->display_name;
		msg->sender_smtp = from->smtp;
		st = gen_fmt(org, &msg->subject, "%s %s %u", gen_words[(r >> 8) & 15],
		             gen_words[(r >> 12) & 15], i + 1);
		if (st == S_OK)
			st = gen_fmt(org, &msg->body,
			             "Message %u of %s.\r\nThe %s %s is attached.\r\n", i + 1,
			             owner->alias, gen_words[(r >> 16) & 15],
			             gen_words[(r >> 20) & 15]);
		if (st == S_OK)
			st = mh_arena_alloc(&org->arena, sizeof(*msg->rcpts), (void **)&msg->rcpts);
		if (st == S_OK) {
			msg->n_rcpts = 1;
			msg->rcpts[0] =
			    (mh_srv_org_rcpt){MH_SRV_MAPI_TO, to->display_name, to->smtp};
		}
	}
	return st;
}

mh_status mh_srv_org_generate(mh_srv_org **out, unsigned users, unsigned messages_per_user,
                              uint64_t seed)
{
	mh_srv_org *org;
	uint64_t rng = seed;
	mh_status st;
	*out = NULL;
	if (users == 0 || users > MH_SRV_ORG_MAX_USERS || messages_per_user > 100000)
		return mh_error_set(
		    MAPI_E_INVALID_PARAMETER, -1,
		    "generate: want 1 to %u users and at most 100000 messages per user",
		    MH_SRV_ORG_MAX_USERS);
	if ((st = org_new(&org)) != S_OK)
		return st;
	org->domain = "example.test";
	org->name = "Example";
	org->n_users = (size_t)users + 1;
	st = mh_arena_array(&org->arena, org->n_users, sizeof(*org->users), (void **)&org->users);
	for (size_t i = 0; st == S_OK && i < org->n_users; i++) {
		mh_srv_org_user *u = &org->users[i];
		u->kind = MH_SRV_RECIPIENT_USER;
		if (i == users) {
			char h[65];
			mh_srv_token_hash(h, "svc-token-0001", 14);
			u->alias = "svc";
			u->display_name = "Scan Service";
			st = mh_srv_password_hash(&org->arena, "Svc-Pass-1", 1000,
			                          &u->password_hash);
			if (st == S_OK)
				st = mh_arena_alloc(&org->arena, sizeof(char *),
				                    (void **)&u->token_hashes);
			if (st == S_OK) {
				u->n_tokens = 1;
				st = dup(&(ctx){org, NULL}, h, &u->token_hashes[0]);
			}
		} else {
			char pw[64];
			st = gen_fmt(org, &u->alias, "user%05zu", i + 1);
			if (st == S_OK)
				st = gen_fmt(org, &u->display_name, "User %05zu", i + 1);
			snprintf(pw, sizeof(pw), "Pass-user%05zu", i + 1);
			/* Fewer rounds than the default: thousands of users hash at start-up. */
			if (st == S_OK)
				st = mh_srv_password_hash(&org->arena, pw, 1000, &u->password_hash);
		}
		if (st == S_OK)
			st = gen_fmt(org, &u->smtp, "%s@%s", u->alias, org->domain);
		if (st != S_OK)
			break;
		mh_srv_name_guid(&u->primary.guid, "mailbox", org->domain, u->alias);
		mh_srv_name_guid(&u->primary.repl_guid, "replica", org->domain, u->alias);
		u->primary.display_name = u->display_name;
		if (i < users) {
			u->has_archive = 1;
			mh_srv_name_guid(&u->archive.guid, "archive", org->domain, u->alias);
			mh_srv_name_guid(&u->archive.repl_guid, "archive-replica", org->domain,
			                 u->alias);
			st = gen_fmt(org, &u->archive.display_name, "Online Archive - %s",
			             u->display_name);
		}
	}
	/* Contents need every user's address, so they come after all identities. */
	for (size_t i = 0; st == S_OK && i < users; i++) {
		mh_srv_org_user *u = &org->users[i];
		st = gen_messages(org, &rng, u, &u->primary, messages_per_user,
		                  messages_per_user / 2, 1704067200 /* 2024-01-01 */);
		if (st == S_OK)
			st = gen_messages(org, &rng, u, &u->archive, (messages_per_user + 1) / 2, 0,
			                  1546300800 /* 2019-01-01 */);
	}
	if (st == S_OK) {
		org->n_full_access = users;
		st = mh_arena_array(&org->arena, users, sizeof(*org->full_access),
		                    (void **)&org->full_access);
		for (size_t i = 0; st == S_OK && i < users; i++)
			org->full_access[i] = (mh_srv_org_full_access){users, i, 0};
	}
	if (st != S_OK) {
		mh_srv_org_free(org);
		return st;
	}
	*out = org;
	return S_OK;
}
