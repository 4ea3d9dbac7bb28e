/*
 * Output functions shared by the mapihttp subcommands: error and usage lines,
 * hex, text made safe for JSON and terminals, and aligned field lists.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/hex.h"
#include "util/utf.h"

int mh_cli_fail(mh_status status)
{
	const mh_error *err = mh_error_last();
	const char *detail = mh_status_meaning(status);
	if (err != NULL && err->status == status && err->message != NULL && err->message[0] != '\0')
		detail = err->message;
	/* The contract is one line, whatever the message holds. */
	fprintf(stderr, "%s: ", mh_status_str(status));
	for (const char *p = detail; *p != '\0'; p++)
		fputc(*p == '\n' || *p == '\r' ? ' ' : *p, stderr);
	fputc('\n', stderr);
	return MH_CLI_EXIT_ERROR;
}

int mh_cli_fail_detail(mh_status status, const char *detail)
{
	if (detail != NULL && detail[0] != '\0')
		mh_error_set(status, -1, "%s", detail);
	return mh_cli_fail(status);
}

int mh_cli_usage(const char *cmd, const char *help_cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "mapihttp %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'mapihttp %s --help'.\n", help_cmd);
	return MH_CLI_EXIT_USAGE;
}

int mh_cli_getopt_error(const char *cmd, const char *help_cmd, int opt, char **argv,
                        const struct option *longopts)
{
	/* getopt has already stepped past the offending word. */
	const char *word = optind > 0 ? argv[optind - 1] : "";
	if (opt == ':')
		return mh_cli_usage(cmd, help_cmd, "option '%s' needs an argument", word);
	bool is_long = strncmp(word, "--", 2) == 0;
	if (optopt != 0 && !is_long)
		return mh_cli_usage(cmd, help_cmd, "unknown option '-%c'", optopt);
	/* Long options: cut "--opt=value" down to the option. */
	size_t n = strcspn(word, "=");
	if (optopt != 0)
		return mh_cli_usage(cmd, help_cmd, "option '%.*s' takes no argument", (int)n, word);
	size_t matches = 0;
	for (const struct option *o = longopts; o->name != NULL; o++)
		if (n > 2 && strncmp(o->name, word + 2, n - 2) == 0)
			matches++;
	return mh_cli_usage(cmd, help_cmd, "%s option '%.*s'",
	                    matches > 1 ? "ambiguous" : "unknown", (int)n, word);
}

char *mh_cli_format(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

char *mh_cli_hex(const void *data, size_t len, bool upper)
{
	if (len > (SIZE_MAX - 1) / 2)
		return NULL;
	char *s = malloc(2 * len + 1);
	if (s == NULL)
		return NULL;
	mh_hex_encode(s, data, len);
	if (upper)
		for (char *p = s; *p != '\0'; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
	return s;
}

char *mh_cli_cp1252_to_utf8(const char *s)
{
	size_t len = strlen(s), out_len = 0;
	if (mh_cp1252_to_utf8(NULL, 0, (const uint8_t *)s, len, &out_len) != S_OK)
		return NULL;
	char *u = malloc(out_len + 1);
	if (u == NULL) {
		mh_error_oom();
		return NULL;
	}
	if (mh_cp1252_to_utf8(u, out_len + 1, (const uint8_t *)s, len, &out_len) != S_OK) {
		free(u);
		return NULL;
	}
	return u;
}

char *mh_cli_printable(const char *utf8)
{
	size_t len = strlen(utf8);
	/* Worst case every byte becomes \xNN. */
	char *out = malloc(4 * len + 1);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)utf8[i];
		if (ch < 0x20 || ch == 0x7F) {
			static const char digits[] = "0123456789ABCDEF";
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = digits[ch >> 4];
			out[o++] = digits[ch & 0xF];
		} else if (ch == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
	return out;
}

const char *mh_cli_guid(char buf[39], const GUID *guid)
{
	return mh_guid_format(buf, guid);
}

static const struct {
	MAPIUID uid;
	const char *name;
} known_uids[] = {
    {MH_MUID_STORE_WRAP, "muidStoreWrap"},
    {MH_MUID_STORE_PRIVATE, "private store"},
    {MH_MUID_STORE_PUBLIC, "public store"},
    {MH_MUID_EMSAB, "muidEMSAB"},
    {MH_MUID_ONE_OFF, "muidOOP"},
    {MH_MUID_CONTAB, "muidContabDLL"},
    {MH_MUID_WAB, "WAB"},
    {MH_MUID_LONG_TERM_NON_PRIVATE, "public folders"},
};

const char *mh_cli_muid_name(const MAPIUID *uid)
{
	for (size_t i = 0; i < sizeof(known_uids) / sizeof(known_uids[0]); i++)
		if (memcmp(known_uids[i].uid.ab, uid->ab, sizeof(uid->ab)) == 0)
			return known_uids[i].name;
	return NULL;
}

static const struct {
	uint32_t bit;
	const char *name;
} openstore_names[] = {
    {OPENSTORE_USE_ADMIN_PRIVILEGE, "OPENSTORE_USE_ADMIN_PRIVILEGE"},
    {OPENSTORE_PUBLIC, "OPENSTORE_PUBLIC"},
    {OPENSTORE_HOME_LOGON, "OPENSTORE_HOME_LOGON"},
    {OPENSTORE_TAKE_OWNERSHIP, "OPENSTORE_TAKE_OWNERSHIP"},
    {OPENSTORE_OVERRIDE_HOME_MDB, "OPENSTORE_OVERRIDE_HOME_MDB"},
    {OPENSTORE_TRANSPORT, "OPENSTORE_TRANSPORT"},
    {OPENSTORE_REMOTE_TRANSPORT, "OPENSTORE_REMOTE_TRANSPORT"},
    {OPENSTORE_INTERNET_ANONYMOUS, "OPENSTORE_INTERNET_ANONYMOUS"},
    {OPENSTORE_ALTERNATE_SERVER, "OPENSTORE_ALTERNATE_SERVER"},
    {OPENSTORE_IGNORE_HOME_MDB, "OPENSTORE_IGNORE_HOME_MDB"},
    {OPENSTORE_NO_MAIL, "OPENSTORE_NO_MAIL"},
    {OPENSTORE_OVERRIDE_LAST_MODIFIER, "OPENSTORE_OVERRIDE_LAST_MODIFIER"},
    {OPENSTORE_CALLBACK_LOGON, "OPENSTORE_CALLBACK_LOGON"},
    {OPENSTORE_LOCAL, "OPENSTORE_LOCAL"},
    {OPENSTORE_FAIL_IF_NO_MAILBOX, "OPENSTORE_FAIL_IF_NO_MAILBOX"},
    {OPENSTORE_CACHE_EXCHANGE, "OPENSTORE_CACHE_EXCHANGE"},
    {OPENSTORE_CLI_WITH_NAMEDPROP_FIX, "OPENSTORE_CLI_WITH_NAMEDPROP_FIX"},
    {OPENSTORE_ENABLE_LAZY_LOGGING, "OPENSTORE_ENABLE_LAZY_LOGGING"},
    {OPENSTORE_CLI_WITH_REPLID_GUID_MAPPING_FIX, "OPENSTORE_CLI_WITH_REPLID_GUID_MAPPING_FIX"},
    {OPENSTORE_NO_LOCALIZATION, "OPENSTORE_NO_LOCALIZATION"},
    {OPENSTORE_RESTORE_DATABASE, "OPENSTORE_RESTORE_DATABASE"},
    {OPENSTORE_XFOREST_MOVE, "OPENSTORE_XFOREST_MOVE"},
};

const char *mh_cli_openstore_flags(char *buf, size_t size, uint32_t flags)
{
	size_t o = 0;
	buf[0] = '\0';
	if (flags == 0) {
		snprintf(buf, size, "none");
		return buf;
	}
	for (size_t i = 0; i < sizeof(openstore_names) / sizeof(openstore_names[0]); i++) {
		if ((flags & openstore_names[i].bit) == 0)
			continue;
		flags &= ~openstore_names[i].bit;
		int n =
		    snprintf(buf + o, size - o, "%s%s", o > 0 ? "|" : "", openstore_names[i].name);
		if (n < 0 || (size_t)n >= size - o)
			return buf;
		o += (size_t)n;
	}
	if (flags != 0)
		snprintf(buf + o, size - o, "%s0x%08X", o > 0 ? "|" : "", (unsigned)flags);
	return buf;
}

uint32_t mh_cli_abflags(const uint8_t ab[4])
{
	return (uint32_t)ab[0] | (uint32_t)ab[1] << 8 | (uint32_t)ab[2] << 16 |
	       (uint32_t)ab[3] << 24;
}

mh_status mh_cli_print_folders(FILE *out, const char *indent, const mh_folder_entry *e,
                               uint32_t count)
{
	char **names = calloc((size_t)count + 1, sizeof(*names));
	if (names == NULL)
		return mh_error_oom();
	uint32_t widest = 0;
	bool oom = false;
	for (uint32_t i = 0; i < count && !oom; i++) {
		names[i] = mh_cli_printable(e[i].display_name != NULL ? e[i].display_name : "");
		oom = names[i] == NULL;
		if (e[i].content_count > widest)
			widest = e[i].content_count;
	}
	if (!oom) {
		int width = snprintf(NULL, 0, "%" PRIu32, widest);
		if (width < 5)
			width = 5;
		fprintf(out, "%s%*s  folder\n", indent, width, "items");
		for (uint32_t i = 0; i < count; i++) {
			/* Deep trees stay readable: the indentation stops growing at 32 levels. */
			uint32_t level = e[i].depth > 1 ? e[i].depth - 1 : 0;
			int pad = (int)(level > 32 ? 64 : 2 * level);
			fprintf(out, "%s%*" PRIu32 "  %*s%s\n", indent, width, e[i].content_count,
			        pad, "", names[i]);
		}
	}
	for (uint32_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return oom ? mh_error_oom() : S_OK;
}

json_t *mh_cli_json_string8(const char *s)
{
	char *u = mh_cli_cp1252_to_utf8(s);
	if (u == NULL)
		return NULL;
	json_t *j = json_string(u);
	free(u);
	return j;
}

json_t *mh_cli_json_utf8(const char *s)
{
	json_t *j = json_string(s);
	/* The library promises UTF-8; should that ever fail, keep every byte anyway. */
	return j != NULL ? j : mh_cli_json_string8(s);
}

json_t *mh_cli_json_hex(const void *data, size_t len)
{
	char *h = mh_cli_hex(data, len, false);
	if (h == NULL)
		return NULL;
	json_t *j = json_string(h);
	free(h);
	return j;
}

json_t *mh_cli_json_text(const char *s)
{
	return s != NULL ? mh_cli_json_utf8(s) : json_null();
}

void mh_cli_json_set(json_t *obj, const char *key, json_t *v, bool *failed)
{
	/* json_object_set_new takes v even when it fails, and refuses NULL. */
	if (v == NULL || json_object_set_new(obj, key, v) != 0)
		*failed = true;
}

json_t *mh_cli_json_append_object(json_t *arr)
{
	json_t *o = json_object();
	/* json_array_append_new frees o when it fails. */
	if (o == NULL || json_array_append_new(arr, o) != 0)
		return NULL;
	return o;
}

int mh_cli_json_print(json_t *v, bool failed)
{
	char *text = failed ? NULL : json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(v);
	if (text == NULL)
		return mh_cli_fail(mh_error_oom());
	fputs(text, stdout);
	fputc('\n', stdout);
	free(text);
	return MH_CLI_EXIT_OK;
}

int mh_cli_json_print_array(size_t n, mh_cli_json_fill fill, const void *ud)
{
	bool failed = false;
	json_t *arr = json_array();
	if (arr == NULL)
		return mh_cli_fail(mh_error_oom());
	for (size_t i = 0; i < n && !failed; i++) {
		json_t *o = mh_cli_json_append_object(arr);
		if (o == NULL)
			failed = true;
		else
			fill(o, i, ud, &failed);
	}
	return mh_cli_json_print(arr, failed);
}

void mh_cli_fields_add(mh_cli_fields *f, const char *name, const char *fmt, ...)
{
	if (f->failed)
		return;
	if (f->count == f->cap) {
		size_t cap = f->cap > 0 ? 2 * f->cap : 16;
		char **names = realloc(f->names, cap * sizeof(*names));
		if (names == NULL)
			goto fail;
		f->names = names;
		char **values = realloc(f->values, cap * sizeof(*values));
		if (values == NULL)
			goto fail;
		f->values = values;
		f->cap = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto fail;
	char *value = malloc((size_t)n + 1);
	char *dup = malloc(strlen(name) + 1);
	if (value == NULL || dup == NULL) {
		free(value);
		free(dup);
		goto fail;
	}
	va_start(ap, fmt);
	vsnprintf(value, (size_t)n + 1, fmt, ap);
	va_end(ap);
	strcpy(dup, name);
	f->names[f->count] = dup;
	f->values[f->count] = value;
	f->count++;
	return;
fail:
	f->failed = true;
}

void mh_cli_fields_print(const mh_cli_fields *f, FILE *out)
{
	size_t width = 0;
	for (size_t i = 0; i < f->count; i++)
		if (strlen(f->names[i]) > width)
			width = strlen(f->names[i]);
	for (size_t i = 0; i < f->count; i++)
		fprintf(out, "%s:%*s %s\n", f->names[i], (int)(width - strlen(f->names[i])), "",
		        f->values[i]);
}

void mh_cli_fields_free(mh_cli_fields *f)
{
	for (size_t i = 0; i < f->count; i++) {
		free(f->names[i]);
		free(f->values[i]);
	}
	free(f->names);
	free(f->values);
	*f = (mh_cli_fields)MH_CLI_FIELDS_INIT;
}

void mh_cli_fields_add_text(mh_cli_fields *f, const char *name, const char *value)
{
	if (value == NULL)
		return;
	char *p = mh_cli_printable(value);
	if (p == NULL) {
		f->failed = true;
		return;
	}
	mh_cli_fields_add(f, name, "%s", p[0] != '\0' ? p : "\"\"");
	free(p);
}

int mh_cli_fields_emit(mh_cli_fields *f, bool first)
{
	int rc = MH_CLI_EXIT_OK;
	if (f->failed) {
		rc = mh_cli_fail(mh_error_oom());
	} else {
		if (!first)
			fputc('\n', stdout);
		mh_cli_fields_print(f, stdout);
	}
	mh_cli_fields_free(f);
	return rc;
}
