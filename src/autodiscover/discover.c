/*
 * Autodiscover discovery: the candidate search, the JSON v2 hop, redirects, the in-process
 * and on-disk cache, and the targets of alternative mailboxes, on top of the sans-I/O parsers.
 */
#include "autodiscover/discover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "transport/mapi_ctx.h"
#include "util/buf.h"
#include "util/cursor.h"
#include "util/diag.h"

#define DEFAULT_REQUEST_TIMEOUT_MS 30000u
/* Targets queued at once: two JSON hosts, three candidates, one redirect, and slack. */
#define MAX_TARGETS 8u
/* Longest message kept for a failure. */
#define MSG_MAX 480u
/* Largest cache file read. JSON escaping can grow the POX answer it holds. */
#define CACHE_FILE_MAX ((size_t)8 << 20)
/* Longest cache file name (an encoded address); longer addresses are cached in memory only. */
#define CACHE_NAME_MAX 200u
#define CACHE_FORMAT   1

/* ---- small helpers ------------------------------------------------------------------------ */

static mh_status dup_str(mh_arena *a, const char *s, const char **out)
{
	char *d = NULL;
	mh_status st = S_OK;
	if (s != NULL)
		st = mh_arena_strndup(a, s, strlen(s), &d);
	*out = d;
	return st;
}

/* ASCII lowercase copy (UTF-8 bytes above 0x7F are kept): the cache key of an address. */
static mh_status lower_dup(mh_arena *a, const char *s, const char **out)
{
	char *d = NULL;
	mh_status st = mh_arena_strndup(a, s, strlen(s), &d);
	if (st != S_OK)
		return st;
	for (char *p = d; *p != 0; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	*out = d;
	return S_OK;
}

static bool starts_with_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * Whether url (from an answer or the caller) is one we may send a request to: http:// or
 * https:// (https only when https_only), a non-empty host without user info, printable ASCII
 * without spaces, at most MH_AD_MAX_TEXT bytes. Read through a cursor like any network bytes.
 */
static bool url_ok(const char *url, bool https_only)
{
	if (url == NULL)
		return false;
	size_t len = strnlen(url, MH_AD_MAX_TEXT + 1);
	if (len == 0 || len > MH_AD_MAX_TEXT)
		return false;
	size_t skip;
	if (starts_with_ci(url, "https://"))
		skip = 8;
	else if (!https_only && starts_with_ci(url, "http://"))
		skip = 7;
	else
		return false;
	mh_cursor c;
	mh_cursor_init(&c, url, len, MAPI_E_CORRUPT_DATA);
	if (mh_cursor_skip(&c, skip, "URL scheme") != S_OK)
		return false;
	bool in_host = true;
	size_t host_len = 0;
	while (mh_cursor_remaining(&c) > 0) {
		uint8_t ch = 0;
		if (mh_cursor_u8(&c, &ch, "URL") != S_OK || ch <= 0x20 || ch >= 0x7F)
			return false;
		if (in_host) {
			if (ch == '/' || ch == '?' || ch == '#')
				in_host = false;
			else if (ch == '@' || ch == '\\')
				return false;
			else
				host_len++;
		}
	}
	return host_len > 0;
}

static bool is_https(const char *url)
{
	return starts_with_ci(url, "https://");
}

static bool is_redirect_status(long s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

/* The part after the '@' (the address was checked by mh_ad_candidates). */
static const char *domain_of(const char *address)
{
	const char *at = strrchr(address, '@');
	return at != NULL ? at + 1 : address;
}

/* ---- results ------------------------------------------------------------------------------ */

static void copy_str(mh_arena *a, mh_status *st, const char **dst, const char *src)
{
	if (*st != S_OK) {
		*dst = NULL;
		return;
	}
	*st = dup_str(a, src, dst);
}

static mh_status pox_copy(mh_ad_pox *d, const mh_ad_pox *s, mh_arena *a)
{
	mh_status st = S_OK;
	*d = *s;
	copy_str(a, &st, &d->redirect, s->redirect);
	copy_str(a, &st, &d->error_message, s->error_message);
	copy_str(a, &st, &d->display_name, s->display_name);
	copy_str(a, &st, &d->legacy_dn, s->legacy_dn);
	copy_str(a, &st, &d->smtp_address, s->smtp_address);
	copy_str(a, &st, &d->deployment_id, s->deployment_id);
	copy_str(a, &st, &d->mailstore.internal_url, s->mailstore.internal_url);
	copy_str(a, &st, &d->mailstore.external_url, s->mailstore.external_url);
	copy_str(a, &st, &d->addressbook.internal_url, s->addressbook.internal_url);
	copy_str(a, &st, &d->addressbook.external_url, s->addressbook.external_url);
	copy_str(a, &st, &d->server, s->server);
	copy_str(a, &st, &d->server_dn, s->server_dn);
	copy_str(a, &st, &d->mdb_dn, s->mdb_dn);
	d->alternatives = NULL;
	if (st == S_OK && s->n_alternatives > 0)
		st = mh_arena_array(a, s->n_alternatives, sizeof(*d->alternatives),
		                    (void **)&d->alternatives);
	for (size_t i = 0; st == S_OK && i < s->n_alternatives; i++) {
		const mh_ad_alternative *sa = &s->alternatives[i];
		mh_ad_alternative *da = &d->alternatives[i];
		da->kind = sa->kind;
		copy_str(a, &st, &da->type, sa->type);
		copy_str(a, &st, &da->display_name, sa->display_name);
		copy_str(a, &st, &da->smtp_address, sa->smtp_address);
		copy_str(a, &st, &da->owner_smtp_address, sa->owner_smtp_address);
		copy_str(a, &st, &da->legacy_dn, sa->legacy_dn);
		copy_str(a, &st, &da->server, sa->server);
	}
	if (st != S_OK)
		d->n_alternatives = 0;
	return st;
}

void mh_ad_result_free(mh_ad_result *r)
{
	if (r == NULL)
		return;
	mh_arena_free(&r->own);
	memset(r, 0, sizeof(*r));
}

mh_status mh_ad_result_copy(mh_ad_result *dst, const mh_ad_result *src, mh_arena *a)
{
	memset(dst, 0, sizeof(*dst));
	mh_arena_init(&dst->own, 0);
	mh_arena *to = a != NULL ? a : &dst->own;
	mh_status st = S_OK;
	dst->status = src->status;
	dst->hops = src->hops;
	dst->from_cache = src->from_cache;
	copy_str(to, &st, &dst->message, src->message);
	copy_str(to, &st, &dst->address, src->address);
	copy_str(to, &st, &dst->pox_url, src->pox_url);
	copy_str(to, &st, &dst->last_url, src->last_url);
	if (st == S_OK)
		st = pox_copy(&dst->settings, &src->settings, to);
	if (st != S_OK) {
		mh_ad_result_free(dst);
		return st;
	}
	return S_OK;
}

/* ---- the cache ---------------------------------------------------------------------------- */

typedef struct cache_entry {
	const char *key; /* in r.own */
	uint64_t expires;
	mh_ad_result r;
} cache_entry;

struct mh_ad_cache {
	char *dir;
	uint64_t ttl_ms;
	mh_loop_clock clock;
	bool has_clock;
	cache_entry *entries;
	size_t n;
};

static uint64_t cache_now(const mh_ad_cache *c)
{
	if (c->has_clock)
		return c->clock.now(c->clock.ud);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

mh_status mh_ad_cache_new(mh_ad_cache **out, const mh_ad_cache_options *opts)
{
	*out = NULL;
	mh_ad_cache_options dflt = MH_AD_CACHE_OPTIONS_INIT;
	if (opts == NULL)
		opts = &dflt;
	if (opts->version != 1 || (opts->clock != NULL && opts->clock->now == NULL) ||
	    (opts->dir != NULL && opts->dir[0] == 0))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "Autodiscover cache: bad options (version %u, a clock "
		                    "without now(), or an empty directory name)",
		                    opts->version);
	mh_ad_cache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return mh_error_oom();
	c->ttl_ms = opts->ttl_ms != 0 ? opts->ttl_ms : MH_AD_CACHE_DEFAULT_TTL_MS;
	if (opts->clock != NULL) {
		c->clock = *opts->clock;
		c->has_clock = true;
	}
	if (opts->dir != NULL) {
		size_t n = strlen(opts->dir);
		c->dir = malloc(n + 1);
		if (c->dir == NULL) {
			free(c);
			return mh_error_oom();
		}
		memcpy(c->dir, opts->dir, n + 1);
	}
	c->entries = calloc(MH_AD_CACHE_MAX_ENTRIES, sizeof(*c->entries));
	if (c->entries == NULL) {
		free(c->dir);
		free(c);
		return mh_error_oom();
	}
	*out = c;
	return S_OK;
}

static void entry_drop(mh_ad_cache *c, size_t i)
{
	mh_ad_result_free(&c->entries[i].r);
	c->entries[i] = c->entries[c->n - 1];
	memset(&c->entries[c->n - 1], 0, sizeof(c->entries[0]));
	c->n--;
}

void mh_ad_cache_free(mh_ad_cache *c)
{
	if (c == NULL)
		return;
	while (c->n > 0)
		entry_drop(c, c->n - 1);
	free(c->entries);
	free(c->dir);
	free(c);
}

/*
 * The file of key: <dir>/<key>.json with bytes other than [a-z0-9@+_-] and a '.' that is not
 * between two kept bytes written as %XX, so no key names another directory or a hidden file.
 * false when the name would be too long.
 */
static bool cache_path(const mh_ad_cache *c, const char *key, char *out, size_t cap, char *tmp,
                       size_t tmp_cap)
{
	char name[CACHE_NAME_MAX + 8];
	size_t n = 0;
	for (size_t i = 0; key[i] != 0; i++) {
		unsigned char ch = (unsigned char)key[i];
		bool keep = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '@' ||
		            ch == '+' || ch == '_' || ch == '-' ||
		            (ch == '.' && i > 0 && key[i + 1] != 0 && key[i - 1] != '.');
		if (n + 3 > CACHE_NAME_MAX)
			return false;
		if (keep) {
			name[n++] = (char)ch;
		} else {
			snprintf(name + n, 4, "%%%02X", ch);
			n += 3;
		}
	}
	name[n] = 0;
	int w1 = snprintf(out, cap, "%s/%s.json", c->dir, name);
	int w2 = snprintf(tmp, tmp_cap, "%s/.%s.XXXXXX", c->dir, name);
	return w1 > 0 && (size_t)w1 < cap && w2 > 0 && (size_t)w2 < tmp_cap;
}

static cache_entry *entry_find(mh_ad_cache *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->entries[i].key, key) == 0)
			return &c->entries[i];
	}
	return NULL;
}

/* Puts r (copied) under key, replacing an older entry or the one closest to expiry. */
static mh_status entry_put(mh_ad_cache *c, const char *key, uint64_t expires, const mh_ad_result *r)
{
	cache_entry *e = entry_find(c, key);
	if (e != NULL) {
		mh_ad_result_free(&e->r);
	} else if (c->n < MH_AD_CACHE_MAX_ENTRIES) {
		e = &c->entries[c->n++];
	} else {
		e = &c->entries[0];
		for (size_t i = 1; i < c->n; i++) {
			if (c->entries[i].expires < e->expires)
				e = &c->entries[i];
		}
		mh_ad_result_free(&e->r);
	}
	mh_status st = mh_ad_result_copy(&e->r, r, NULL);
	if (st == S_OK)
		st = dup_str(&e->r.own, key, &e->key);
	if (st != S_OK) {
		mh_ad_result_free(&e->r);
		entry_drop(c, (size_t)(e - c->entries));
		return st;
	}
	e->r.from_cache = true;
	e->r.message = NULL;
	e->expires = expires;
	return S_OK;
}

/* The whole of a regular file of at most CACHE_FILE_MAX bytes (malloc'd), or NULL. */
static char *read_small_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat sb;
	char *buf = NULL;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0 ||
	    (uint64_t)sb.st_size > CACHE_FILE_MAX)
		goto out;
	size_t want = (size_t)sb.st_size, got = 0;
	buf = malloc(want + 1);
	if (buf == NULL)
		goto out;
	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			buf = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	*len = got;
out:
	close(fd);
	return buf;
}

static const char *json_str(json_t *o, const char *name, size_t max)
{
	json_t *v = json_object_get(o, name);
	if (!json_is_string(v) || json_string_length(v) > max ||
	    memchr(json_string_value(v), 0, json_string_length(v)) != NULL)
		return NULL;
	return json_string_value(v);
}

/*
 * The entry for key in the cache directory, read into r (own arena), when it is well formed,
 * for key, and not expired. The POX answer it holds goes through mh_ad_pox_parse again, as if
 * it came from the network. Anything else is a miss; the next success replaces the file.
 */
static bool disk_read(mh_ad_cache *c, const char *key, uint64_t now, mh_ad_result *r,
                      uint64_t *expires)
{
	char path[4096], tmp[4096];
	if (c->dir == NULL || !cache_path(c, key, path, sizeof(path), tmp, sizeof(tmp)))
		return false;
	size_t len = 0;
	char *text = read_small_file(path, &len);
	if (text == NULL)
		return false;
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	bool ok = false;
	memset(r, 0, sizeof(*r));
	mh_arena_init(&r->own, 0);
	if (!json_is_object(root))
		goto out;
	json_t *ver = json_object_get(root, "format");
	json_t *exp = json_object_get(root, "expires");
	json_t *hops = json_object_get(root, "hops");
	const char *k = json_str(root, "key", MH_AD_MAX_ADDRESS);
	const char *address = json_str(root, "address", MH_AD_MAX_ADDRESS);
	const char *url = json_str(root, "pox_url", MH_AD_MAX_TEXT);
	json_t *xml = json_object_get(root, "pox");
	if (!json_is_integer(ver) || json_integer_value(ver) != CACHE_FORMAT ||
	    !json_is_integer(exp) || !json_is_integer(hops) || k == NULL || address == NULL ||
	    url == NULL || !json_is_string(xml) || strcmp(k, key) != 0)
		goto out;
	json_int_t e = json_integer_value(exp), h = json_integer_value(hops);
	/* An expiry further away than the lifetime is from a clock or a file we do not trust. */
	if (e <= 0 || (uint64_t)e <= now || (uint64_t)e - now > c->ttl_ms || h < 0 ||
	    h > (json_int_t)MH_AD_MAX_HOPS || !url_ok(url, false))
		goto out;
	const char *cand[MH_AD_CANDIDATES];
	if (mh_ad_candidates(address, &r->own, cand) != S_OK)
		goto out;
	if (mh_ad_pox_parse((const uint8_t *)json_string_value(xml), json_string_length(xml),
	                    &r->own, &r->settings) != S_OK ||
	    r->settings.is_error || r->settings.action != MH_AD_ACTION_SETTINGS)
		goto out;
	if (dup_str(&r->own, address, &r->address) != S_OK ||
	    dup_str(&r->own, url, &r->pox_url) != S_OK)
		goto out;
	r->last_url = r->pox_url;
	r->hops = (unsigned)h;
	r->status = S_OK;
	r->from_cache = true;
	*expires = (uint64_t)e;
	ok = true;
out:
	json_decref(root);
	if (!ok)
		mh_ad_result_free(r);
	/* A miss is not an error of anyone's call. */
	mh_error_clear();
	return ok;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/*
 * Writes the entry of key: a temporary file (mode 0600) renamed over the old one, so a reader
 * sees the old or the new file, never half of one. Best effort: a cache that cannot be
 * written is a cache that misses.
 */
static void disk_write(mh_ad_cache *c, const char *key, uint64_t expires, const mh_ad_result *r,
                       const uint8_t *xml, size_t xml_len)
{
	char path[4096], tmp[4096];
	if (c->dir == NULL || !cache_path(c, key, path, sizeof(path), tmp, sizeof(tmp)))
		return;
	if (mkdir(c->dir, 0700) != 0 && errno != EEXIST)
		return;
	json_t *pox = json_stringn((const char *)xml, xml_len); /* NULL unless UTF-8 */
	json_t *o = json_object();
	char *text = NULL;
	if (pox == NULL || o == NULL ||
	    json_object_set_new(o, "format", json_integer(CACHE_FORMAT)) != 0 ||
	    json_object_set_new(o, "key", json_string(key)) != 0 ||
	    json_object_set_new(o, "address", json_string(r->address)) != 0 ||
	    json_object_set_new(o, "expires", json_integer((json_int_t)expires)) != 0 ||
	    json_object_set_new(o, "pox_url", json_string(r->pox_url)) != 0 ||
	    json_object_set_new(o, "hops", json_integer(r->hops)) != 0 ||
	    json_object_set(o, "pox", pox) != 0)
		goto out;
	text = json_dumps(o, JSON_COMPACT);
	if (text == NULL)
		goto out;
	int fd = mkstemp(tmp);
	if (fd < 0)
		goto out;
	bool ok = fchmod(fd, 0600) == 0 && write_all(fd, text, strlen(text)) && fsync(fd) == 0;
	if (close(fd) != 0)
		ok = false;
	if (!ok || rename(tmp, path) != 0)
		unlink(tmp);
out:
	free(text);
	json_decref(pox);
	json_decref(o);
}

/* A copy of the live entry for key into out (own arena), from memory or disk. */
static bool cache_lookup(mh_ad_cache *c, const char *key, mh_ad_result *out)
{
	uint64_t now = cache_now(c);
	cache_entry *e = entry_find(c, key);
	if (e != NULL && e->expires <= now) {
		entry_drop(c, (size_t)(e - c->entries));
		e = NULL;
	}
	if (e == NULL) {
		mh_ad_result r;
		uint64_t expires = 0;
		if (!disk_read(c, key, now, &r, &expires))
			return false;
		mh_status st = entry_put(c, key, expires, &r);
		if (st == S_OK)
			st = mh_ad_result_copy(out, &r, NULL);
		mh_ad_result_free(&r);
		return st == S_OK;
	}
	return mh_ad_result_copy(out, &e->r, NULL) == S_OK;
}

static void cache_store(mh_ad_cache *c, const char *key, const mh_ad_result *r, const uint8_t *xml,
                        size_t xml_len)
{
	uint64_t expires = cache_now(c) + c->ttl_ms;
	if (entry_put(c, key, expires, r) == S_OK)
		disk_write(c, key, expires, r, xml, xml_len);
}

void mh_ad_cache_remove(mh_ad_cache *c, const char *address)
{
	if (c == NULL || address == NULL)
		return;
	mh_arena a = MH_ARENA_INIT;
	const char *key = NULL;
	if (lower_dup(&a, address, &key) == S_OK) {
		cache_entry *e = entry_find(c, key);
		if (e != NULL)
			entry_drop(c, (size_t)(e - c->entries));
		char path[4096], tmp[4096];
		if (c->dir != NULL && cache_path(c, key, path, sizeof(path), tmp, sizeof(tmp)))
			unlink(path);
	}
	mh_arena_free(&a);
}

/* ---- the operation ------------------------------------------------------------------------ */

typedef enum target_kind {
	T_POST,    /* POST the POX request */
	T_GET_3XX, /* http://autodiscover.<domain>: only its redirect counts */
	T_JSON     /* the JSON v2 service */
} target_kind;

typedef struct target {
	target_kind kind;
	bool is_explicit; /* the caller's URL: allow_http applies */
	const char *url;
} target;

typedef struct visit {
	struct visit *next;
	const char *url;
	const char *address;
} visit;

typedef enum op_stage {
	STAGE_IDLE,    /* a step is scheduled */
	STAGE_WAITING, /* a request is in flight */
	STAGE_ANSWER,  /* its answer is in, a step is scheduled to judge it */
	STAGE_CACHED   /* a cache hit waits to be delivered */
} op_stage;

struct mh_ad_op {
	mh_loop *loop;
	mh_transport *t;
	mh_ad_discover_cb done;
	void *ud;
	mh_arena arena; /* option copies, addresses, URLs, visits */

	mh_transport_auth auth;
	size_t secret_len;
	char *secret; /* malloc'd so it can be wiped */
	const char *explicit_url;
	bool allow_http, json_first;
	uint32_t connect_timeout_ms, request_timeout_ms;
	unsigned max_hops;
	mh_ad_cache *cache;
	const char *key; /* the cache key: the address asked for, lowercased */

	const char *address;         /* the address being discovered now */
	mh_buf request;              /* its POX request */
	target targets[MAX_TARGETS]; /* a stack: the next target is on top */
	size_t n_targets;
	visit *visits;    /* (url, address) of every POST */
	visit *addresses; /* every address discovered (url unused) */
	unsigned hops;

	op_stage stage;
	target cur;
	uint64_t req_id;
	mh_status req_status;
	long http_status;
	const char *location;
	mh_bearer_refusal bearer; /* what a 401 said of the token */
	mh_buf body;
	bool sent_credentials;
	mh_arena answer;        /* the parsed answer being judged */
	mh_ad_pox settings_src; /* the settings answer, in answer */

	bool step_armed, deadline_armed;
	uint64_t step_timer, deadline_timer;
	uint32_t timeout_ms;

	mh_status last_status; /* why the last target failed */
	char last_msg[MSG_MAX];
	const char *last_url;
	mh_ad_result cached;
};

static void op_step(void *ud);

static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n-- > 0)
		*v++ = 0;
}

static void op_free(mh_ad_op *op)
{
	if (op->stage == STAGE_WAITING && op->t->ops->cancel != NULL)
		op->t->ops->cancel(op->t->self, op->req_id);
	if (op->step_armed)
		mh_loop_timer_cancel(op->loop, op->step_timer);
	if (op->deadline_armed)
		mh_loop_timer_cancel(op->loop, op->deadline_timer);
	if (op->secret != NULL) {
		wipe(op->secret, op->secret_len);
		free(op->secret);
	}
	mh_buf_free(&op->request);
	mh_buf_free(&op->body);
	mh_arena_free(&op->answer);
	mh_arena_free(&op->arena);
	mh_ad_result_free(&op->cached);
	free(op);
}

void mh_ad_discover_cancel(mh_ad_op *op)
{
	if (op != NULL)
		op_free(op);
}

static mh_status schedule(mh_ad_op *op)
{
	mh_status st = mh_loop_timer(op->loop, 0, op_step, op, &op->step_timer);
	op->step_armed = st == S_OK;
	return st;
}

/* Cuts a UTF-8 sequence that vsnprintf's truncation left incomplete at the end of s. */
static void trim_utf8(char *s)
{
	size_t n = strlen(s), i = n;
	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0 || (unsigned char)s[i - 1] < 0xC0)
		return;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
	if (n - (i - 1) < want)
		s[i - 1] = 0;
}

static void note_failure(mh_ad_op *op, mh_status st, const char *fmt, ...) MH_PRINTF(3, 4);

/* Records why the current target failed; the search goes on with the next one. */
static void note_failure(mh_ad_op *op, mh_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(op->last_msg, sizeof(op->last_msg), fmt, ap);
	va_end(ap);
	trim_utf8(op->last_msg);
	op->last_status = st;
}

static void finish(mh_ad_op *op, mh_status status, const char *fmt, ...) MH_PRINTF(3, 4);

/*
 * Ends the operation: the result (settings from op->answer on success), the cache, the
 * callback, then the operation is freed.
 */
static void finish(mh_ad_op *op, mh_status status, const char *fmt, ...)
{
	mh_ad_result r;
	memset(&r, 0, sizeof(r));
	mh_arena_init(&r.own, 0);
	char msg[MSG_MAX + 200];
	msg[0] = 0;
	if (fmt != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		trim_utf8(msg);
	}
	if (op->stage == STAGE_CACHED) {
		r = op->cached;
		status = r.status;
		memset(&op->cached, 0, sizeof(op->cached));
	} else {
		mh_status st = S_OK;
		r.status = status;
		r.hops = op->hops;
		copy_str(&r.own, &st, &r.address, op->address);
		copy_str(&r.own, &st, &r.last_url, op->last_url);
		if (status == S_OK) {
			copy_str(&r.own, &st, &r.pox_url, op->cur.url);
			if (st == S_OK)
				st = pox_copy(&r.settings, &op->settings_src, &r.own);
		} else {
			copy_str(&r.own, &st, &r.message, msg);
		}
		if (st != S_OK) {
			mh_ad_result_free(&r);
			mh_arena_init(&r.own, 0);
			r.status = status = MAPI_E_NOT_ENOUGH_MEMORY;
			r.message = "out of memory";
		} else if (status == S_OK && op->cache != NULL) {
			cache_store(op->cache, op->key, &r, op->body.data, op->body.len);
		}
	}
	if (status == S_OK)
		mh_error_clear();
	else
		mh_error_set(status, -1, "%s", r.message != NULL ? r.message : "");
	op->done(op->ud, status, &r);
	mh_ad_result_free(&r);
	op_free(op);
}

/*
 * A copy of network text fit for a one-line message: control bytes become spaces, and a cut
 * at cap never splits a UTF-8 sequence.
 */
static const char *clean(char *dst, size_t cap, const char *src)
{
	size_t n = 0;
	if (src == NULL)
		src = "";
	for (size_t i = 0; src[i] != 0 && n + 1 < cap; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[n++] = (ch < 0x20 || ch == 0x7F) ? ' ' : (char)ch;
	}
	if (src[n] != 0) {
		while (n > 0 && ((unsigned char)dst[n - 1] & 0xC0) == 0x80)
			n--;
		if (n > 0 && (unsigned char)dst[n - 1] >= 0xC0)
			n--;
	}
	dst[n] = 0;
	return dst;
}

static bool visited(const mh_ad_op *op, const char *url, const char *address)
{
	for (const visit *v = op->visits; v != NULL; v = v->next) {
		if (strcmp(v->url, url) == 0 && strcasecmp(v->address, address) == 0)
			return true;
	}
	return false;
}

static mh_status add_visit(mh_ad_op *op, visit **list, const char *url, const char *address)
{
	visit *v = NULL;
	mh_status st = mh_arena_alloc(&op->arena, sizeof(*v), (void **)&v);
	if (st != S_OK)
		return st;
	v->url = url;
	v->address = address;
	v->next = *list;
	*list = v;
	return S_OK;
}

static mh_status push_target(mh_ad_op *op, target_kind kind, bool is_explicit, const char *url)
{
	if (op->n_targets == MAX_TARGETS)
		return mh_error_set(MAPI_E_CALL_FAILED, -1,
		                    "Autodiscover: too many targets queued");
	const char *copy = NULL;
	mh_status st = dup_str(&op->arena, url, &copy);
	if (st != S_OK)
		return st;
	target *t = &op->targets[op->n_targets++];
	t->kind = kind;
	t->is_explicit = is_explicit;
	t->url = copy;
	return S_OK;
}

/* The JSON v2 URL on host for address, the address percent-encoded into the path. */
static mh_status json_url(mh_arena *a, const char *host, const char *address, const char **out)
{
	mh_buf b = MH_BUF_INIT;
	static const char hex[] = "0123456789ABCDEF";
	mh_buf_put(&b, "https://", 8);
	mh_buf_put(&b, host, strlen(host));
	static const char path[] = "/autodiscover/autodiscover.json/v1.0/";
	mh_buf_put(&b, path, sizeof(path) - 1);
	for (size_t i = 0; address[i] != 0; i++) {
		unsigned char ch = (unsigned char)address[i];
		bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		            (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
		            ch == '~' || ch == '@' || ch == '+';
		if (keep) {
			mh_buf_u8(&b, ch);
		} else {
			mh_buf_u8(&b, '%');
			mh_buf_u8(&b, (uint8_t)hex[ch >> 4]);
			mh_buf_u8(&b, (uint8_t)hex[ch & 15]);
		}
	}
	static const char query[] = "?Protocol=AutodiscoverV1";
	mh_buf_put(&b, query, sizeof(query));
	mh_status st = mh_buf_status(&b);
	char *s = NULL;
	if (st == S_OK)
		st = mh_arena_strndup(a, (const char *)b.data, b.len - 1, &s);
	mh_buf_free(&b);
	*out = s;
	return st;
}

/*
 * Makes address the one being discovered: its POX request and its targets (the explicit URL
 * when use_explicit, else the JSON hosts when asked and the three candidates), in order.
 * MAPI_E_INVALID_PARAMETER from the parsers for an address they refuse.
 */
static mh_status set_address(mh_ad_op *op, const char *address, bool use_explicit)
{
	const char *cand[MH_AD_CANDIDATES];
	mh_buf req = MH_BUF_INIT;
	const char *copy = NULL, *lower = NULL;
	/* Host names are case-insensitive: URLs get the domain in lowercase. */
	mh_status st = lower_dup(&op->arena, address, &lower);
	if (st == S_OK)
		st = mh_ad_candidates(lower, &op->arena, cand);
	if (st == S_OK)
		st = mh_ad_pox_request(&req, address);
	if (st == S_OK)
		st = dup_str(&op->arena, address, &copy);
	if (st == S_OK)
		st = add_visit(op, &op->addresses, "", copy);
	if (st != S_OK) {
		mh_buf_free(&req);
		return st;
	}
	mh_buf_free(&op->request);
	op->request = req;
	op->address = copy;
	op->n_targets = 0;
	if (use_explicit)
		return push_target(op, T_POST, true, op->explicit_url);
	if ((st = push_target(op, T_GET_3XX, false, cand[2])) != S_OK ||
	    (st = push_target(op, T_POST, false, cand[1])) != S_OK ||
	    (st = push_target(op, T_POST, false, cand[0])) != S_OK)
		return st;
	if (op->json_first) {
		const char *domain = domain_of(lower), *u1 = NULL, *u2 = NULL;
		char host[300];
		snprintf(host, sizeof(host), "autodiscover.%s", domain);
		if ((st = json_url(&op->arena, host, copy, &u2)) != S_OK ||
		    (st = json_url(&op->arena, domain, copy, &u1)) != S_OK ||
		    (st = push_target(op, T_JSON, false, u2)) != S_OK ||
		    (st = push_target(op, T_JSON, false, u1)) != S_OK)
			return st;
	}
	return S_OK;
}

static mh_status on_headers(void *ud, long http_status, const mh_transport_header *headers,
                            size_t n_headers)
{
	mh_ad_op *op = ud;
	op->http_status = http_status;
	op->bearer =
	    http_status == 401 ? mh_bearer_refusal_of(headers, n_headers) : MH_BEARER_REFUSAL_NONE;
	for (size_t i = 0; i < n_headers; i++) {
		if (headers[i].name == NULL || headers[i].value == NULL ||
		    strcasecmp(headers[i].name, "Location") != 0)
			continue;
		/* An over-long Location is no Location: url_ok would refuse it anyway. */
		if (strnlen(headers[i].value, MH_AD_MAX_TEXT + 1) <= MH_AD_MAX_TEXT &&
		    dup_str(&op->answer, headers[i].value, &op->location) != S_OK)
			return mh_error_oom();
	}
	return S_OK;
}

static mh_status on_data(void *ud, const void *data, size_t len)
{
	mh_ad_op *op = ud;
	if (op->http_status != 200)
		return S_OK; /* only a 200's body is read */
	if (len > MH_AD_MAX_DOCUMENT - op->body.len)
		return mh_error_set(MAPI_E_TOO_BIG, -1,
		                    "Autodiscover: the answer of %s is over %zu bytes", op->cur.url,
		                    MH_AD_MAX_DOCUMENT);
	mh_buf_put(&op->body, data, len);
	return mh_buf_status(&op->body);
}

static void on_done(void *ud, mh_status status)
{
	mh_ad_op *op = ud;
	op->req_status = status;
	op->stage = STAGE_ANSWER;
	if (status != S_OK) {
		const mh_error *e = mh_error_last();
		char detail[300];
		note_failure(
		    op, status, "%s: %s", op->cur.url,
		    clean(detail, sizeof(detail),
		          e != NULL && e->status == status ? e->message : mh_status_str(status)));
	}
	/* Judged from a timer, so the next request never starts inside the transport's run(). */
	if (schedule(op) != S_OK)
		finish(op, MAPI_E_NOT_ENOUGH_MEMORY, "Autodiscover: out of memory");
}

/* Starts tg; false when it is skipped or refused (the search goes on). */
static bool launch(mh_ad_op *op, const target *tg)
{
	mh_transport_request rq = MH_TRANSPORT_REQUEST_INIT;
	mh_transport_header h[2];
	rq.url = tg->url;
	rq.connect_timeout_ms = op->connect_timeout_ms;
	rq.total_timeout_ms = op->request_timeout_ms;
	if (tg->kind == T_POST) {
		/* A candidate already asked for this address (the JSON answer named it too). */
		if (visited(op, tg->url, op->address))
			return false;
		if (add_visit(op, &op->visits, tg->url, op->address) != S_OK) {
			note_failure(op, MAPI_E_NOT_ENOUGH_MEMORY, "out of memory");
			return false;
		}
		op->last_url = tg->url;
		if (op->auth.scheme != MH_AUTH_NONE) {
			if (!is_https(tg->url) && !(tg->is_explicit && op->allow_http)) {
				note_failure(op, MAPI_E_CALL_FAILED,
				             "%s: credentials are sent over https only; not asked",
				             tg->url);
				return false;
			}
			rq.auth = op->auth;
		}
		h[0].name = "Content-Type";
		h[0].value = "text/xml";
		h[1].name = "X-MapiHttpCapability";
		h[1].value = "1";
		rq.headers = h;
		rq.n_headers = 2;
		rq.method = "POST";
		rq.body = op->request.data;
		rq.body_len = op->request.len;
	} else {
		op->last_url = tg->url;
		rq.method = "GET";
		if (tg->kind == T_JSON) {
			h[0].name = "Accept";
			h[0].value = "application/json";
			rq.headers = h;
			rq.n_headers = 1;
		}
	}
	mh_arena_free(&op->answer);
	op->body.len = 0;
	op->body.err = S_OK;
	op->location = NULL;
	op->http_status = 0;
	op->bearer = MH_BEARER_REFUSAL_NONE;
	op->cur = *tg;
	op->sent_credentials = rq.auth.scheme != MH_AUTH_NONE;
	mh_transport_callbacks cb = {on_headers, on_data, on_done, op};
	mh_status st = op->t->ops->start(op->t->self, &rq, &cb, &op->req_id);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		char detail[300];
		note_failure(op, st, "%s: %s", tg->url,
		             clean(detail, sizeof(detail),
		                   e != NULL && e->status == st ? e->message : mh_status_str(st)));
		return false;
	}
	op->stage = STAGE_WAITING;
	return true;
}

/* Starts the next target, or ends the search when none is left. */
static void next(mh_ad_op *op)
{
	while (op->n_targets > 0) {
		target tg = op->targets[--op->n_targets];
		if (launch(op, &tg))
			return;
		if (op->last_status == MAPI_E_NOT_ENOUGH_MEMORY)
			break;
	}
	/* Unreachable or slow hosts keep their status; any other refusal is a failed call. */
	mh_status st = op->last_status;
	if (st != MAPI_E_NETWORK_ERROR && st != MAPI_E_TIMEOUT && st != MAPI_E_NOT_ENOUGH_MEMORY)
		st = MAPI_E_CALL_FAILED;
	if (op->last_msg[0] == 0)
		finish(op, st, "Autodiscover of %s: no URL left to try", op->address);
	else
		finish(op, st, "Autodiscover of %s failed; last URL tried: %s", op->address,
		       op->last_msg);
}

/* Follows a redirect to url (HTTP 3xx or redirectUrl) for the same address. */
static bool follow(mh_ad_op *op, const char *url, const char *what)
{
	char shown[240];
	if (url == NULL) {
		note_failure(op, MAPI_E_CALL_FAILED, "%s answered %s without a Location",
		             op->cur.url, what);
		return false;
	}
	if (!url_ok(url, true)) {
		note_failure(op, MAPI_E_CALL_FAILED,
		             "%s: %s to \"%s\" not followed: redirects go to https URLs only",
		             op->cur.url, what, clean(shown, sizeof(shown), url));
		return false;
	}
	if (op->hops >= op->max_hops) {
		finish(op, MAPI_E_CALL_FAILED,
		       "Autodiscover of %s: more than %u redirects; the last, %s from %s to %s, "
		       "not followed",
		       op->address, op->max_hops, what, op->cur.url, url);
		return true;
	}
	if (visited(op, url, op->address)) {
		finish(op, MAPI_E_CALL_FAILED,
		       "Autodiscover of %s: redirect loop: %s sends back to %s (%s)", op->address,
		       op->cur.url, url, what);
		return true;
	}
	op->hops++;
	mh_status st = push_target(op, T_POST, false, url);
	if (st != S_OK) {
		finish(op, st, "Autodiscover of %s: cannot follow a redirect: out of memory",
		       op->address);
		return true;
	}
	return false;
}

static bool redirect_addr(mh_ad_op *op, const char *address)
{
	char shown[240];
	clean(shown, sizeof(shown), address);
	if (op->hops >= op->max_hops) {
		finish(op, MAPI_E_CALL_FAILED,
		       "Autodiscover of %s: more than %u redirects; the last, redirectAddr to %s "
		       "from %s, not followed",
		       op->address, op->max_hops, shown, op->cur.url);
		return true;
	}
	for (const visit *v = op->addresses; v != NULL; v = v->next) {
		if (strcasecmp(v->address, address) == 0) {
			finish(op, MAPI_E_CALL_FAILED,
			       "Autodiscover of %s: redirect loop: %s sends back to the address %s",
			       op->address, op->cur.url, shown);
			return true;
		}
	}
	const char *from_url = op->cur.url, *from = op->address;
	bool same_domain = strcasecmp(domain_of(address), domain_of(op->address)) == 0;
	mh_status st = set_address(op, address, op->explicit_url != NULL && same_domain);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		char detail[300];
		clean(detail, sizeof(detail), e != NULL ? e->message : mh_status_str(st));
		finish(op, st == MAPI_E_NOT_ENOUGH_MEMORY ? st : MAPI_E_CALL_FAILED,
		       "Autodiscover of %s: %s redirects to the address \"%s\", which cannot be "
		       "used: %s",
		       from, from_url, shown, detail);
		return true;
	}
	op->hops++;
	return false;
}

static bool judge_json(mh_ad_op *op)
{
	mh_ad_json j;
	if (op->http_status != 200) {
		note_failure(op, MAPI_E_CALL_FAILED, "%s answered HTTP %ld", op->cur.url,
		             op->http_status);
		return false;
	}
	mh_status st = mh_ad_json_parse(op->body.data, op->body.len, &op->answer, &j);
	char detail[300], shown[240];
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		note_failure(op, MAPI_E_CALL_FAILED, "%s: %s", op->cur.url,
		             clean(detail, sizeof(detail), e != NULL ? e->message : ""));
		return false;
	}
	if (j.url == NULL) {
		note_failure(op, MAPI_E_CALL_FAILED, "%s: JSON error %s: %s", op->cur.url,
		             clean(shown, sizeof(shown), j.error_code),
		             clean(detail, sizeof(detail), j.error_message));
		return false;
	}
	if (!url_ok(j.url, true)) {
		note_failure(op, MAPI_E_CALL_FAILED,
		             "%s: the POX URL \"%s\" is not an https URL: not used", op->cur.url,
		             clean(shown, sizeof(shown), j.url));
		return false;
	}
	/* One JSON answer is enough: the other JSON host is not asked. */
	size_t keep = 0;
	for (size_t i = 0; i < op->n_targets; i++) {
		if (op->targets[i].kind != T_JSON)
			op->targets[keep++] = op->targets[i];
	}
	op->n_targets = keep;
	st = push_target(op, T_POST, false, j.url);
	if (st != S_OK) {
		finish(op, st, "Autodiscover of %s: out of memory", op->address);
		return true;
	}
	return false;
}

static bool judge_error(mh_ad_op *op, const mh_ad_pox *p)
{
	char detail[300];
	clean(detail, sizeof(detail), p->error_message);
	switch (p->error_code) {
	case 500:
	case 404: /* gromox's code for an unknown mailbox */
		finish(op, MAPI_E_NOT_FOUND,
		       "Autodiscover: %s does not know the address %s (error %u: %s)", op->cur.url,
		       op->address, (unsigned)p->error_code, detail);
		break;
	case 501:
		finish(op, MAPI_E_NOT_FOUND,
		       "Autodiscover: %s says %s is not a mailbox (error 501: %s)", op->cur.url,
		       op->address, detail);
		break;
	default:
		finish(op, MAPI_E_CALL_FAILED, "Autodiscover: %s answered error %u for %s: %s",
		       op->cur.url, (unsigned)p->error_code, op->address, detail);
		break;
	}
	return true;
}

static bool judge_pox(mh_ad_op *op)
{
	long hs = op->http_status;
	if (hs == 401) {
		char user[200];
		/* The token itself is never named: only what the server said of it. */
		if (op->sent_credentials && op->bearer == MH_BEARER_REFUSAL_EXPIRED)
			finish(
			    op, MAPI_E_LOGON_FAILED,
			    "Autodiscover: %s says the bearer token has expired (HTTP 401); get a "
			    "new token; not tried on other hosts",
			    op->cur.url);
		else if (op->sent_credentials && op->auth.scheme == MH_AUTH_BEARER)
			finish(
			    op, MAPI_E_LOGON_FAILED,
			    "Autodiscover: %s refused the bearer token (HTTP 401%s); not tried on "
			    "other hosts",
			    op->cur.url,
			    op->bearer == MH_BEARER_REFUSAL_INVALID ? ", invalid_token" : "");
		else if (op->sent_credentials)
			finish(op, MAPI_E_LOGON_FAILED,
			       "Autodiscover: %s refused the credentials of %s (HTTP 401); not "
			       "tried on other hosts",
			       op->cur.url, clean(user, sizeof(user), op->auth.user));
		else
			finish(op, MAPI_E_LOGON_FAILED,
			       "Autodiscover: %s wants credentials (HTTP 401) and none were given",
			       op->cur.url);
		return true;
	}
	if (is_redirect_status(hs)) {
		char what[32];
		snprintf(what, sizeof(what), "HTTP %ld", hs);
		return follow(op, op->location, what);
	}
	if (hs != 200) {
		note_failure(op, MAPI_E_CALL_FAILED, "%s answered HTTP %ld", op->cur.url, hs);
		return false;
	}
	mh_ad_pox p;
	mh_status st = mh_ad_pox_parse(op->body.data, op->body.len, &op->answer, &p);
	if (st == MAPI_E_NOT_ENOUGH_MEMORY) {
		finish(op, st, "Autodiscover of %s: out of memory", op->address);
		return true;
	}
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		char detail[300];
		note_failure(op, MAPI_E_CALL_FAILED, "%s: not an Autodiscover answer: %s",
		             op->cur.url,
		             clean(detail, sizeof(detail), e != NULL ? e->message : ""));
		return false;
	}
	if (p.is_error)
		return judge_error(op, &p);
	switch (p.action) {
	case MH_AD_ACTION_REDIRECT_ADDR:
		return redirect_addr(op, p.redirect);
	case MH_AD_ACTION_REDIRECT_URL:
		return follow(op, p.redirect, "redirectUrl");
	default:
		op->settings_src = p;
		finish(op, S_OK, NULL);
		return true;
	}
}

/* Judges the answer in; true when the operation has ended (and is freed). */
static bool judge(mh_ad_op *op)
{
	if (op->req_status != S_OK)
		return false; /* noted by on_done */
	switch (op->cur.kind) {
	case T_JSON:
		return judge_json(op);
	case T_GET_3XX:
		if (is_redirect_status(op->http_status)) {
			char what[32];
			snprintf(what, sizeof(what), "HTTP %ld", op->http_status);
			return follow(op, op->location, what);
		}
		note_failure(op, MAPI_E_CALL_FAILED, "%s answered HTTP %ld to GET, not a redirect",
		             op->cur.url, op->http_status);
		return false;
	default:
		return judge_pox(op);
	}
}

static void op_step(void *ud)
{
	mh_ad_op *op = ud;
	op->step_armed = false;
	if (op->stage == STAGE_CACHED) {
		finish(op, S_OK, NULL);
		return;
	}
	if (op->stage == STAGE_ANSWER) {
		op->stage = STAGE_IDLE;
		if (judge(op))
			return;
	}
	next(op);
}

static void on_deadline(void *ud)
{
	mh_ad_op *op = ud;
	op->deadline_armed = false;
	finish(op, MAPI_E_TIMEOUT, "Autodiscover of %s did not end within %u ms; last URL: %s",
	       op->address, (unsigned)op->timeout_ms,
	       op->last_url != NULL ? op->last_url : "(none)");
}

mh_status mh_ad_discover_start(mh_loop *loop, const mh_ad_discover_options *opts,
                               mh_ad_discover_cb done, void *ud, mh_ad_op **out)
{
	if (out != NULL)
		*out = NULL;
	if (loop == NULL || opts == NULL || done == NULL || opts->version != 1 ||
	    opts->email == NULL)
		return mh_error_set(
		    MAPI_E_INVALID_PARAMETER, -1,
		    "Autodiscover: no loop, options (version 1), address or callback");
	mh_transport *t = mh_loop_transport(loop);
	if (t == NULL || t->ops == NULL || t->ops->start == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "Autodiscover: the loop has no usable transport");
	if (opts->url != NULL) {
		char shown[240];
		if (!url_ok(opts->url, false))
			return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                    "Autodiscover: \"%s\" is not an http(s) URL",
			                    clean(shown, sizeof(shown), opts->url));
		if (!is_https(opts->url) && opts->auth.scheme != MH_AUTH_NONE && !opts->allow_http)
			return mh_error_set(
			    MAPI_E_INVALID_PARAMETER, -1,
			    "Autodiscover: refusing to send credentials over plain "
			    "HTTP to %s; use https, or allow_http for a test server",
			    clean(shown, sizeof(shown), opts->url));
	}
	mh_ad_op *op = calloc(1, sizeof(*op));
	if (op == NULL)
		return mh_error_oom();
	op->loop = loop;
	op->t = t;
	op->done = done;
	op->ud = ud;
	mh_arena_init(&op->arena, (size_t)4 << 20);
	mh_arena_init(&op->answer, 0);
	mh_buf b = MH_BUF_INIT;
	op->request = b;
	op->body = b;
	op->allow_http = opts->allow_http;
	op->json_first = opts->json_first;
	op->connect_timeout_ms = opts->connect_timeout_ms;
	op->request_timeout_ms =
	    opts->request_timeout_ms != 0 ? opts->request_timeout_ms : DEFAULT_REQUEST_TIMEOUT_MS;
	op->timeout_ms = opts->timeout_ms;
	op->max_hops = opts->max_hops == 0               ? MH_AD_DEFAULT_MAX_HOPS
	               : opts->max_hops > MH_AD_MAX_HOPS ? MH_AD_MAX_HOPS
	                                                 : opts->max_hops;
	op->cache = opts->cache;
	op->auth.scheme = opts->auth.scheme;
	mh_status st = dup_str(&op->arena, opts->auth.user, &op->auth.user);
	if (st == S_OK && opts->auth.secret != NULL) {
		op->secret_len = strlen(opts->auth.secret);
		op->secret = malloc(op->secret_len + 1);
		if (op->secret == NULL)
			st = mh_error_oom();
		else
			memcpy(op->secret, opts->auth.secret, op->secret_len + 1);
		op->auth.secret = op->secret;
	}
	if (st == S_OK)
		st = dup_str(&op->arena, opts->url, &op->explicit_url);
	if (st == S_OK)
		st = set_address(op, opts->email, op->explicit_url != NULL);
	if (st == S_OK) {
		st = lower_dup(&op->arena, opts->email, &op->key);
	}
	if (st == S_OK && op->cache != NULL && cache_lookup(op->cache, op->key, &op->cached))
		op->stage = STAGE_CACHED;
	if (st == S_OK && op->timeout_ms != 0) {
		st = mh_loop_timer(loop, op->timeout_ms, on_deadline, op, &op->deadline_timer);
		op->deadline_armed = st == S_OK;
	}
	if (st == S_OK)
		st = schedule(op);
	if (st != S_OK) {
		op_free(op);
		return st;
	}
	if (out != NULL)
		*out = op;
	return S_OK;
}

/* ---- synchronous use ---------------------------------------------------------------------- */

typedef struct sync_ctx {
	bool done;
	mh_ad_result *out;
	mh_arena *a;
} sync_ctx;

static void sync_done(void *ud, mh_status status, const mh_ad_result *r)
{
	sync_ctx *c = ud;
	(void)status;
	if (mh_ad_result_copy(c->out, r, c->a) != S_OK) {
		c->out->status = MAPI_E_NOT_ENOUGH_MEMORY;
		c->out->message = "out of memory";
	}
	c->done = true;
}

mh_status mh_ad_discover(mh_loop *loop, const mh_ad_discover_options *opts, mh_arena *a,
                         mh_ad_result *out)
{
	memset(out, 0, sizeof(*out));
	mh_arena_init(&out->own, 0);
	sync_ctx c = {false, out, a};
	mh_ad_op *op = NULL;
	mh_status st = mh_ad_discover_start(loop, opts, sync_done, &c, &op);
	if (st != S_OK) {
		out->status = st;
		return st;
	}
	st = mh_loop_run_until(loop, &c.done, 0);
	if (!c.done) {
		mh_ad_discover_cancel(op);
		out->status = st != S_OK ? st : MAPI_E_CALL_FAILED;
		return out->status;
	}
	if (out->status != S_OK)
		mh_error_set(out->status, -1, "%s", out->message != NULL ? out->message : "");
	else
		mh_error_clear();
	return out->status;
}

/* ---- alternative mailboxes ---------------------------------------------------------------- */

mh_status mh_ad_alternative_target(mh_loop *loop, const mh_ad_discover_options *base,
                                   const mh_ad_pox *owner, const mh_ad_alternative *alt,
                                   mh_arena *a, mh_ad_mailbox_target *out)
{
	memset(out, 0, sizeof(*out));
	if (base == NULL || owner == NULL || alt == NULL || a == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "Autodiscover: alternative mailbox: missing argument");
	char shown[200];
	clean(shown, sizeof(shown), alt->display_name);
	if (alt->smtp_address != NULL) {
		mh_ad_discover_options o = *base;
		o.email = alt->smtp_address;
		mh_ad_result r;
		mh_status st = mh_ad_discover(loop, &o, a, &r);
		if (st != S_OK) {
			mh_error_prefix(st, "alternative mailbox \"%s\"", shown);
			mh_ad_result_free(&r);
			return st;
		}
		out->essdn = r.settings.legacy_dn;
		out->mailstore_url = mh_ad_urls_pick(&r.settings.mailstore);
		out->addressbook_url = mh_ad_urls_pick(&r.settings.addressbook);
		out->smtp = r.address;
		mh_ad_result_free(&r); /* strings are in a */
		return S_OK;
	}
	if (alt->legacy_dn == NULL || alt->server == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "Autodiscover: alternative mailbox \"%s\" has neither "
		                    "SmtpAddress nor LegacyDN with Server",
		                    shown);
	const char *ms = mh_ad_urls_pick(&owner->mailstore);
	if (ms == NULL)
		return mh_error_set(
		    MAPI_E_INVALID_PARAMETER, -1,
		    "Autodiscover: alternative mailbox \"%s\": the owner's settings "
		    "have no MAPI/HTTP MailStore URL to derive its URL from",
		    shown);
	mh_status st = mh_ad_url_with_mailbox_id(ms, alt->server, a, &out->mailstore_url);
	if (st != S_OK)
		return mh_error_prefix(st, "alternative mailbox \"%s\"", shown);
	const char *ab = mh_ad_urls_pick(&owner->addressbook);
	if (ab != NULL &&
	    mh_ad_url_with_mailbox_id(ab, alt->server, a, &out->addressbook_url) != S_OK) {
		/* The address book is the organisation's: the owner's endpoint serves it too. */
		if ((st = dup_str(a, ab, &out->addressbook_url)) != S_OK)
			return st;
	}
	if ((st = dup_str(a, alt->legacy_dn, &out->essdn)) != S_OK ||
	    (st = dup_str(a, alt->server, &out->smtp)) != S_OK)
		return st;
	mh_error_clear();
	return S_OK;
}
