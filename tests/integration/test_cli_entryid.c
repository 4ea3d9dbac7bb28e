/*
 * Runs the built mapihttp tool (MH_CLI_PATH) on the store EntryID vectors and
 * checks its JSON, hex, exit statuses and error lines.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "mapihttpd_proc.h"

#ifndef MH_CLI_PATH
#error "MH_CLI_PATH must name the mapihttp binary"
#endif
#ifndef MH_VECTORS_DIR
#error "MH_VECTORS_DIR must name tests/vectors"
#endif

#define STORE_DIR MH_VECTORS_DIR "/storeeid"

#define ALICE_DN \
	"/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice"

/* ---- running the tool ------------------------------------------------------------------- */

/* Runs mapihttp with args (NULL-terminated); stdin_text NULL means /dev/null. */
static mh_test_run_result run_argv(const char *stdin_text, const char *const *args)
{
	mh_test_run_result r;
	assert_int_equal(mh_test_run(&r, MH_CLI_PATH, args, NULL, stdin_text), 0);
	return r;
}

#define RUN(stdin_text, ...) run_argv(stdin_text, (const char *const[]){__VA_ARGS__, NULL})

static void assert_success(const mh_test_run_result *r)
{
	if (r->status != 0 || r->err[0] != '\0')
		print_error("exit %d, stderr: %s\n", r->status, r->err);
	assert_int_equal(r->status, 0);
	assert_string_equal(r->err, "");
}

/* An error is one stderr line "<STATUS>: <detail>", exit 1, nothing on stdout. */
static void assert_error_line(const mh_test_run_result *r, const char *status_name)
{
	assert_int_equal(r->status, 1);
	assert_string_equal(r->out, "");
	size_t n = strlen(status_name);
	if (strncmp(r->err, status_name, n) != 0 || strncmp(r->err + n, ": ", 2) != 0)
		print_error("stderr: %s\n", r->err);
	assert_memory_equal(r->err, status_name, n);
	assert_memory_equal(r->err + n, ": ", 2);
	assert_true(strlen(r->err) > n + 3); /* a detail follows */
	char *nl = strchr(r->err, '\n');
	assert_non_null(nl);
	assert_string_equal(nl, "\n");
}

/* A usage error: "mapihttp <cmd>: ..." then "Try 'mapihttp <help> --help'.", exit 2. */
static void assert_usage(const mh_test_run_result *r, const char *cmd, const char *help_cmd)
{
	char prefix[128], hint[128];
	snprintf(prefix, sizeof(prefix), "mapihttp %s: ", cmd);
	snprintf(hint, sizeof(hint), "\nTry 'mapihttp %s --help'.\n", help_cmd);
	if (r->status != 2)
		print_error("exit %d, stderr: %s\n", r->status, r->err);
	assert_int_equal(r->status, 2);
	assert_string_equal(r->out, "");
	assert_memory_equal(r->err, prefix, strlen(prefix));
	size_t len = strlen(r->err), hl = strlen(hint);
	assert_true(len > strlen(prefix) + hl);
	assert_string_equal(r->err + len - hl, hint);
	/* exactly two lines */
	assert_ptr_equal(strchr(r->err, '\n'), r->err + len - hl);
}

/* ---- vectors ------------------------------------------------------------------------------ */

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		print_error("cannot open %s\n", path);
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	char *buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = '\0';
	fclose(f);
	return buf;
}

/* The hex of a vector file without whitespace, upper case. */
static char *vector_hex(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s.hex", STORE_DIR, name);
	char *text = read_text(path), *o = text;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			continue;
		*o++ = (*p >= 'a' && *p <= 'f') ? (char)(*p - 'a' + 'A') : *p;
	}
	*o = '\0';
	return text;
}

/* The value of key in a .expected file (key=value lines), or NULL. */
static char *expected_value(const char *expected, const char *key)
{
	size_t kl = strlen(key);
	for (const char *line = expected; *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		if (len > kl && strncmp(line, key, kl) == 0 && line[kl] == '=') {
			char *v = strndup(line + kl + 1, len - kl - 1);
			assert_non_null(v);
			return v;
		}
		line += len + (end != NULL);
	}
	return NULL;
}

static char *expected_for(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s.expected", STORE_DIR, name);
	return read_text(path);
}

/* The value of "name:   value" in the tool's text output; malloc()ed, or NULL. */
static char *text_field(const char *out, const char *name)
{
	size_t nl = strlen(name);
	for (const char *line = out; *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		if (len > nl && strncmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			char *r = strndup(v, len - (size_t)(v - line));
			assert_non_null(r);
			return r;
		}
		line += len + (end != NULL);
	}
	return NULL;
}

static void assert_text_field(const char *out, const char *name, const char *want_substr)
{
	char *v = text_field(out, name);
	if (v == NULL || strstr(v, want_substr) == NULL)
		print_error("field %s: got '%s', want '%s' in:\n%s", name, v ? v : "(none)",
		            want_substr, out);
	assert_non_null(v);
	assert_non_null(strstr(v, want_substr));
	free(v);
}

static json_t *parse_json_output(const mh_test_run_result *r)
{
	json_error_t jerr;
	json_t *j = json_loads(r->out, 0, &jerr);
	if (j == NULL)
		print_error("bad JSON (%s): %s\n", jerr.text, r->out);
	assert_non_null(j);
	assert_true(json_is_object(j));
	return j;
}

static void assert_json_str(json_t *obj, const char *key, const char *want)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		print_error("key %s missing or not a string\n", key);
	assert_true(json_is_string(v));
	assert_string_equal(json_string_value(v), want);
}

static void assert_json_int(json_t *obj, const char *key, json_int_t want)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v))
		print_error("key %s missing or not an integer\n", key);
	assert_true(json_is_integer(v));
	assert_int_equal(json_integer_value(v), want);
}

/* The object's keys must be exactly `keys` (n of them), in any order. */
static void assert_key_set(json_t *obj, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (json_object_get(obj, keys[i]) == NULL)
			print_error("missing key %s\n", keys[i]);
		assert_non_null(json_object_get(obj, keys[i]));
	}
	if (json_object_size(obj) != n) {
		const char *k;
		json_t *v;
		json_object_foreach(obj, k, v)
		{
			print_error("key present: %s\n", k);
		}
	}
	assert_int_equal(json_object_size(obj), n);
}

static uint32_t hex_u32(const char *s)
{
	return (uint32_t)strtoul(s, NULL, 16);
}

/* Checks `parse --json` of one store vector against its .expected file. */
static void check_store_vector(const char *name)
{
	char *hex = vector_hex(name), *exp = expected_for(name);
	mh_test_run_result r = RUN(NULL, "entryid", "parse", "--json", hex);
	assert_success(&r);
	json_t *j = parse_json_output(&r);

	const char *keys[16] = {"type",
	                        "version",
	                        "flags",
	                        "provider_uid",
	                        "dll",
	                        "wrapped_flags",
	                        "wrapped_provider",
	                        "wrapped_provider_uid",
	                        "wrapped_type",
	                        "server"};
	size_t nkeys = 10;

	char *ext = expected_value(exp, "ext");
	assert_non_null(ext);
	int version = strcmp(ext, "v3") == 0 ? 3 : strcmp(ext, "v2") == 0 ? 2 : 1;
	assert_json_str(j, "type", "store");
	assert_json_int(j, "version", version);

	static const struct {
		const char *json_key, *exp_key;
		bool is_int;
	} fields[] = {
	    {"flags", "flags", true},
	    {"provider_uid", "provider_uid", false},
	    {"dll", "dll", false},
	    {"wrapped_flags", "wrapped_flags", true},
	    {"wrapped_provider", "wrapped_provider", false},
	    {"wrapped_provider_uid", "wrapped_provider_uid", false},
	    {"wrapped_type", "wrapped_type", true},
	    {"server", "server_shortname", false},
	    {"mailbox_dn", "mailbox_dn", false},
	    {"server_dn", "v2_server_dn", false},
	    {"server_fqdn", "v2_server_fqdn", false},
	    {"smtp_address", "v3_smtp", false},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char *want = expected_value(exp, fields[i].exp_key);
		bool optional = i >= 8;
		if (optional && (want == NULL || strcmp(want, "<absent>") == 0)) {
			assert_null(json_object_get(j, fields[i].json_key));
			free(want);
			continue;
		}
		assert_non_null(want);
		if (optional)
			keys[nkeys++] = fields[i].json_key;
		if (fields[i].is_int)
			assert_json_int(j, fields[i].json_key, hex_u32(want));
		else
			assert_json_str(j, fields[i].json_key, want);
		free(want);
	}
	/* v1 has no trailer keys, v2 no smtp_address, v3 no server_dn/fqdn. */
	if (version != 2) {
		assert_null(json_object_get(j, "server_dn"));
		assert_null(json_object_get(j, "server_fqdn"));
	}
	if (version != 3)
		assert_null(json_object_get(j, "smtp_address"));
	assert_key_set(j, keys, nkeys);

	json_decref(j);
	mh_test_run_result_free(&r);
	free(ext);
	free(hex);
	free(exp);
}

static void test_cli_entryid__parse_store_vectors_json(void **state)
{
	(void)state;
	DIR *dir = opendir(STORE_DIR);
	if (dir == NULL)
		print_error("cannot open %s\n", STORE_DIR);
	assert_non_null(dir);
	int seen[4] = {0};
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".hex") != 0)
			continue;
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(len - 4), de->d_name);
		check_store_vector(name);
		char *exp = expected_for(name), *ext = expected_value(exp, "ext");
		seen[strcmp(ext, "v3") == 0 ? 3 : strcmp(ext, "v2") == 0 ? 2 : 1]++;
		free(ext);
		free(exp);
	}
	closedir(dir);
	/* every version must have been exercised */
	assert_true(seen[1] > 0);
	assert_true(seen[2] > 0);
	assert_true(seen[3] > 0);
}

static void test_cli_entryid__parse_text(void **state)
{
	(void)state;
	char *v1 = vector_hex("hand_v1_private"), *v3 = vector_hex("hand_v3_private");
	mh_test_run_result r = RUN(NULL, "entryid", "parse", v1);
	assert_success(&r);
	assert_text_field(r.out, "type", "store");
	assert_text_field(r.out, "server", "EXSRV01");
	assert_text_field(r.out, "version", "1");
	assert_text_field(r.out, "wrapped_type", "OPENSTORE_HOME_LOGON|OPENSTORE_TAKE_OWNERSHIP");
	assert_text_field(r.out, "MAPI/HTTP", "cannot open");
	assert_text_field(r.out, "MAPI/HTTP", "PR_PROFILE_USER_SMTP_ADDRESS_W");
	mh_test_run_result_free(&r);

	r = RUN(NULL, "entryid", "parse", v3);
	assert_success(&r);
	assert_text_field(r.out, "smtp_address", "shared01@contoso.com");
	assert_text_field(r.out, "version", "3");
	assert_text_field(r.out, "MAPI/HTTP", "can open");
	assert_null(strstr(r.out, "cannot open"));
	mh_test_run_result_free(&r);
	free(v1);
	free(v3);
}

static void test_cli_entryid__parse_stdin_whitespace(void **state)
{
	(void)state;
	char *hex = vector_hex("hand_v3_private");
	/* The same bytes with spaces, tabs, newlines and lower case. */
	size_t len = strlen(hex);
	char *messy = malloc(3 * len + 16);
	assert_non_null(messy);
	size_t o = 0;
	messy[o++] = '\n';
	for (size_t i = 0; i < len; i++) {
		char c = hex[i];
		messy[o++] = (i % 3 == 0 && c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
		if (i % 2 == 1)
			messy[o++] = (i % 64 == 63) ? '\n' : (i % 8 == 7) ? '\t' : ' ';
	}
	messy[o++] = '\n';
	messy[o] = '\0';

	mh_test_run_result ref = RUN(NULL, "entryid", "parse", "--json", hex);
	assert_success(&ref);
	mh_test_run_result dash = RUN(messy, "entryid", "parse", "--json", "-");
	assert_success(&dash);
	mh_test_run_result none = RUN(messy, "entryid", "parse", "--json");
	assert_success(&none);
	json_t *a = parse_json_output(&ref), *b = parse_json_output(&dash),
	       *c = parse_json_output(&none);
	assert_true(json_equal(a, b));
	assert_true(json_equal(a, c));
	assert_json_str(b, "smtp_address", "shared01@contoso.com");
	/* whitespace inside the argument is ignored too */
	mh_test_run_result arg = RUN(NULL, "entryid", "parse", "--json", messy);
	assert_success(&arg);
	json_t *d = parse_json_output(&arg);
	assert_true(json_equal(a, d));

	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	mh_test_run_result_free(&ref);
	mh_test_run_result_free(&dash);
	mh_test_run_result_free(&none);
	mh_test_run_result_free(&arg);
	free(messy);
	free(hex);
}

/* ---- other EntryID kinds ------------------------------------------------------------------ */

#define OTHER_DIR MH_VECTORS_DIR "/othereid"

enum value_kind { V_STR, V_HEXINT, V_DECINT, V_YESNO, V_ABFLAGS, V_STR8 };

/* How a .expected key maps to the tool's JSON key. */
static const struct {
	const char *exp_key, *json_key;
	enum value_kind kind;
} other_keys[] = {
    {"kind", "type", V_STR},
    {"abflags", "flags", V_ABFLAGS},
    {"provider_uid", "provider_uid", V_STR},
    {"trailing_hex", "trailing", V_STR},
    {"object_type", NULL, V_HEXINT}, /* folder_type or message_type */
    {"database_guid", "database_guid", V_STR},
    {"global_counter_value", "global_counter", V_DECINT},
    {"pad", "pad", V_HEXINT},
    {"folder_database_guid", "folder_database_guid", V_STR},
    {"folder_global_counter_value", "folder_global_counter", V_DECINT},
    {"pad1", "pad1", V_HEXINT},
    {"message_database_guid", "message_database_guid", V_STR},
    {"message_global_counter_value", "message_global_counter", V_DECINT},
    {"pad2", "pad2", V_HEXINT},
    {"ab_version", "version", V_HEXINT},
    {"display_type", "display_type", V_HEXINT},
    {"x500dn_hex", "x500dn", V_STR8},
    {"mid", "mid", V_HEXINT},
    {"oo_version", "version", V_HEXINT},
    {"oo_flags", "oneoff_flags", V_HEXINT},
    {"oo_unicode", "unicode", V_YESNO},
    {"display_name", "display_name", V_STR},
    {"address_type", "address_type", V_STR},
    {"email_address", "email_address", V_STR},
    {"contab_version", "version", V_HEXINT},
    {"contab_type", "contab_type", V_HEXINT},
    {"contab_index", "index", V_HEXINT},
    {"contab_entryid_count", "entryid_count", V_HEXINT},
    {"contab_muid", "muid", V_STR},
    {"wab_type", "wab_type", V_HEXINT},
};

/* Hex of 8-bit text as the UTF-8 the tool writes (Latin-1 range only). */
static char *latin1_hex_to_utf8(const char *hex)
{
	size_t n = strlen(hex) / 2, o = 0;
	char *s = malloc(2 * n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		unsigned b =
		    (unsigned)strtoul((char[]){hex[2 * i], hex[2 * i + 1], '\0'}, NULL, 16);
		assert_true(b < 0x80 || b >= 0xA0);
		if (b < 0x80) {
			s[o++] = (char)b;
		} else {
			s[o++] = (char)(0xC0 | (b >> 6));
			s[o++] = (char)(0x80 | (b & 0x3F));
		}
	}
	s[o] = '\0';
	return s;
}

/* Checks obj against the keys of exp that start with prefix ("" or "inner."). */
static void check_other_object(json_t *obj, const char *exp, const char *prefix)
{
	const char *keys[40];
	size_t nkeys = 0;
	char key[128];
	char *kind = NULL;

	snprintf(key, sizeof(key), "%skind", prefix);
	kind = expected_value(exp, key);
	assert_non_null(kind);
	for (size_t i = 0; i < sizeof(other_keys) / sizeof(other_keys[0]); i++) {
		snprintf(key, sizeof(key), "%s%s", prefix, other_keys[i].exp_key);
		char *want = expected_value(exp, key);
		const char *jkey = other_keys[i].json_key;
		if (jkey == NULL)
			jkey = strcmp(kind, "folder") == 0 ? "folder_type" : "message_type";
		if (want == NULL) {
			/* "version" and friends are shared; only absent ones are checked here */
			bool shared = false;
			for (size_t k = 0; k < nkeys; k++)
				shared = shared || strcmp(keys[k], jkey) == 0;
			for (size_t k = 0; k < sizeof(other_keys) / sizeof(other_keys[0]); k++)
				if (k != i && other_keys[k].json_key != NULL &&
				    strcmp(other_keys[k].json_key, jkey) == 0)
					shared = true;
			if (!shared)
				assert_null(json_object_get(obj, jkey));
			continue;
		}
		keys[nkeys++] = jkey;
		json_t *v = json_object_get(obj, jkey);
		if (v == NULL)
			print_error("%s: missing JSON key %s\n", key, jkey);
		assert_non_null(v);
		switch (other_keys[i].kind) {
		case V_STR:
			assert_json_str(obj, jkey, want);
			break;
		case V_STR8: {
			char *u = latin1_hex_to_utf8(want);
			assert_json_str(obj, jkey, u);
			free(u);
			break;
		}
		case V_HEXINT:
			assert_json_int(obj, jkey, (json_int_t)strtoull(want, NULL, 16));
			break;
		case V_DECINT:
			assert_json_int(obj, jkey, (json_int_t)strtoull(want, NULL, 10));
			break;
		case V_YESNO:
			assert_true(json_is_boolean(v));
			assert_int_equal(json_is_true(v), strcmp(want, "yes") == 0);
			break;
		case V_ABFLAGS: {
			uint32_t be = (uint32_t)strtoul(want, NULL, 16);
			uint32_t le = (be >> 24) | ((be >> 8) & 0xFF00u) | ((be << 8) & 0xFF0000u) |
			              (be << 24);
			assert_json_int(obj, jkey, le);
			break;
		}
		}
		free(want);
	}
	snprintf(key, sizeof(key), "%sinner.kind", prefix);
	char *inner_kind = expected_value(exp, key);
	if (inner_kind != NULL) {
		json_t *inner = json_object_get(obj, "inner");
		assert_true(json_is_object(inner));
		char inner_prefix[64];
		snprintf(inner_prefix, sizeof(inner_prefix), "%sinner.", prefix);
		check_other_object(inner, exp, inner_prefix);
		keys[nkeys++] = "inner";
		free(inner_kind);
	}
	assert_key_set(obj, keys, nkeys);
	free(kind);
}

static void test_cli_entryid__parse_other_vectors_json(void **state)
{
	(void)state;
	DIR *dir = opendir(OTHER_DIR);
	if (dir == NULL)
		print_error("cannot open %s\n", OTHER_DIR);
	assert_non_null(dir);
	size_t count = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".hex") != 0)
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", OTHER_DIR, de->d_name);
		char *hex = read_text(path);
		snprintf(path, sizeof(path), "%s/%.*s.expected", OTHER_DIR, (int)(len - 4),
		         de->d_name);
		char *exp = read_text(path);

		/* Fed through stdin, as the files are (with newlines). */
		mh_test_run_result r = RUN(hex, "entryid", "parse", "--json");
		if (r.status != 0)
			print_error("%s: %s", de->d_name, r.err);
		assert_success(&r);
		json_t *j = parse_json_output(&r);
		check_other_object(j, exp, "");
		json_decref(j);
		mh_test_run_result_free(&r);

		/* The text form names the same kind. */
		r = RUN(hex, "entryid", "parse");
		assert_success(&r);
		char *kind = expected_value(exp, "kind"), *got = text_field(r.out, "type");
		assert_non_null(got);
		assert_string_equal(got, kind);
		free(got);
		free(kind);
		mh_test_run_result_free(&r);

		free(hex);
		free(exp);
		count++;
	}
	closedir(dir);
	assert_true(count >= 7);
}

/* ---- create --------------------------------------------------------------------------- */

static char *create_hex(const mh_test_run_result *r)
{
	assert_success(r);
	size_t len = strlen(r->out);
	assert_true(len > 2);
	assert_int_equal(r->out[len - 1], '\n');
	char *hex = strndup(r->out, len - 1);
	assert_non_null(hex);
	for (const char *p = hex; *p != '\0'; p++)
		assert_non_null(strchr("0123456789ABCDEF", *p));
	return hex;
}

static void test_cli_entryid__create_v1_matches_vector(void **state)
{
	(void)state;
	char *exp = expected_for("hand_v1_private");
	char *dn = expected_value(exp, "mailbox_dn"),
	     *server = expected_value(exp, "server_shortname");
	char *want = vector_hex("hand_v1_private");
	mh_test_run_result r =
	    RUN(NULL, "entryid", "create", "--v1", "--mailbox-dn", dn, "--server", server);
	char *got = create_hex(&r);
	assert_string_equal(got, want);
	mh_test_run_result_free(&r);
	free(got);
	free(want);

	/* The same through a full store DN instead of --server. */
	char mdb[512];
	snprintf(mdb, sizeof(mdb),
	         "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/"
	         "cn=Servers/cn=%s/cn=Microsoft Private MDB",
	         server);
	want = vector_hex("hand_v1_private");
	r = RUN(NULL, "entryid", "create", "--mdb-dn", mdb, "--mailbox-dn", dn, "--v1");
	got = create_hex(&r);
	assert_string_equal(got, want);
	mh_test_run_result_free(&r);
	free(got);
	free(want);

	free(dn);
	free(server);
	free(exp);
}

static void test_cli_entryid__create_v1_public_matches_vector(void **state)
{
	(void)state;
	char *exp = expected_for("hand_v1_public");
	char *server = expected_value(exp, "server_shortname");
	char *want = vector_hex("hand_v1_public");
	mh_test_run_result r =
	    RUN(NULL, "entryid", "create", "--v1", "--public", "--server", server);
	char *got = create_hex(&r);
	assert_string_equal(got, want);
	mh_test_run_result_free(&r);
	free(got);
	free(want);
	free(server);
	free(exp);
}

static void test_cli_entryid__create_v3_matches_vector(void **state)
{
	(void)state;
	char *exp = expected_for("hand_v3_private");
	char *dn = expected_value(exp, "mailbox_dn"), *smtp = expected_value(exp, "v3_smtp");
	char *want = vector_hex("hand_v3_private");
	mh_test_run_result r = RUN(NULL, "entryid", "create", "--mailbox-dn", dn, "--server",
	                           "EXSRV01", "--smtp", smtp);
	char *got = create_hex(&r);
	assert_string_equal(got, want);
	mh_test_run_result_free(&r);
	free(got);
	free(want);
	free(dn);
	free(smtp);
	free(exp);
}

static json_t *create_then_parse(const char *const *create_args)
{
	mh_test_run_result r = run_argv(NULL, create_args);
	char *hex = create_hex(&r);
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "parse", "--json", hex);
	assert_success(&r);
	json_t *j = parse_json_output(&r);
	mh_test_run_result_free(&r);
	free(hex);
	return j;
}

static void test_cli_entryid__create_parse_round_trip(void **state)
{
	(void)state;
	const char *mdb = "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/"
	                  "cn=Configuration/cn=Servers/cn=EXSRV02/cn=Microsoft Private MDB";

	/* v3: ServerShortname is the SMTP address, as Outlook writes it. */
	json_t *j = create_then_parse((const char *const[]){"entryid", "create", "--mailbox-dn",
	                                                    ALICE_DN, "--mdb-dn", mdb, "--smtp",
	                                                    "alice@contoso.com", NULL});
	assert_json_int(j, "version", 3);
	assert_json_str(j, "mailbox_dn", ALICE_DN);
	assert_json_str(j, "smtp_address", "alice@contoso.com");
	assert_json_str(j, "server", "alice@contoso.com");
	assert_json_str(j, "wrapped_provider", "private");
	assert_json_int(j, "wrapped_type", 0x0C);
	json_decref(j);

	/* v2 with an FQDN and explicit flags. */
	j = create_then_parse((const char *const[]){"entryid", "create", "--mailbox-dn", ALICE_DN,
	                                            "--mdb-dn", mdb, "--fqdn",
	                                            "exsrv02.contoso.com", "--flags", "0x9", NULL});
	assert_json_int(j, "version", 2);
	assert_json_str(j, "server", "EXSRV02");
	assert_json_str(j, "server_dn", mdb);
	assert_json_str(j, "server_fqdn", "exsrv02.contoso.com");
	assert_json_int(j, "wrapped_type", 9);
	assert_null(json_object_get(j, "smtp_address"));
	json_decref(j);

	/* v2 public store from --server, decimal flags get OPENSTORE_PUBLIC added. */
	j = create_then_parse((const char *const[]){"entryid", "create", "--public", "--server",
	                                            "PF01", "--flags", "4", NULL});
	assert_json_int(j, "version", 2);
	assert_json_str(j, "server", "PF01");
	assert_json_str(j, "wrapped_provider", "public");
	assert_json_int(j, "wrapped_type", 6);
	assert_json_str(j, "server_dn",
	                "/cn=Configuration/cn=Servers/cn=PF01/cn=Microsoft Public MDB");
	assert_null(json_object_get(j, "mailbox_dn"));
	json_decref(j);

	/* v1 defaults */
	j = create_then_parse((const char *const[]){"entryid", "create", "--v1", "--server",
	                                            "EXSRV03", "--mailbox-dn", ALICE_DN, NULL});
	assert_json_int(j, "version", 1);
	assert_json_str(j, "server", "EXSRV03");
	assert_json_int(j, "wrapped_type", 0x0C);
	json_decref(j);
}

/* ---- errors and help --------------------------------------------------------------------- */

static void test_cli_entryid__parse_errors(void **state)
{
	(void)state;
	/* Truncated inside ServerShortname: 60 fixed bytes plus "EXS". */
	char *hex = vector_hex("hand_v1_private");
	hex[126] = '\0';
	mh_test_run_result r = RUN(NULL, "entryid", "parse", hex);
	assert_error_line(&r, "MAPI_E_INVALID_ENTRYID");
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "parse", "--json", hex);
	assert_error_line(&r, "MAPI_E_INVALID_ENTRYID");
	mh_test_run_result_free(&r);
	free(hex);

	r = RUN(NULL, "entryid", "parse", "00112g");
	assert_error_line(&r, "MAPI_E_INVALID_PARAMETER");
	assert_non_null(strstr(r.err, "'g'"));
	assert_non_null(strstr(r.err, " 5 "));
	mh_test_run_result_free(&r);

	r = RUN(NULL, "entryid", "parse", "001");
	assert_error_line(&r, "MAPI_E_INVALID_PARAMETER");
	mh_test_run_result_free(&r);

	r = RUN(" \n", "entryid", "parse");
	assert_error_line(&r, "MAPI_E_INVALID_ENTRYID");
	mh_test_run_result_free(&r);

	r = RUN(NULL, "entryid", "parse", "00000000");
	assert_error_line(&r, "MAPI_E_INVALID_ENTRYID");
	mh_test_run_result_free(&r);
}

static void test_cli_entryid__create_errors(void **state)
{
	(void)state;
	const char *mdb = "/cn=Configuration/cn=Servers/cn=X/cn=Microsoft Private MDB";
	static const char *const create = "entryid create";
	mh_test_run_result r;

	r = RUN(NULL, "entryid", "create", "--mailbox-dn", ALICE_DN, "--server", "X", "--mdb-dn",
	        mdb);
	assert_usage(&r, "entryid", create);
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "create", "--mailbox-dn", ALICE_DN);
	assert_usage(&r, "entryid", create);
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "create", "--server", "X");
	assert_usage(&r, "entryid", create);
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "create", "--v1", "--smtp", "a@b.c", "--server", "X",
	        "--mailbox-dn", ALICE_DN);
	assert_usage(&r, "entryid", create);
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "create", "--fqdn", "x.example", "--smtp", "a@b.c", "--server",
	        "X", "--mailbox-dn", ALICE_DN);
	assert_usage(&r, "entryid", create);
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "create", "--fqdn", "x.example", "--v1", "--server", "X",
	        "--mailbox-dn", ALICE_DN);
	assert_usage(&r, "entryid", create);
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "create", "--flags", "0x1G", "--server", "X", "--mailbox-dn",
	        ALICE_DN);
	assert_usage(&r, "entryid", create);
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "create", "--flags", "4294967296", "--server", "X", "--mailbox-dn",
	        ALICE_DN);
	assert_usage(&r, "entryid", create);
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "create", "--bogus");
	assert_usage(&r, "entryid", create);
	assert_non_null(strstr(r.err, "unknown option '--bogus'"));
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "create", "--m", "x");
	assert_usage(&r, "entryid", create);
	assert_non_null(strstr(r.err, "ambiguous option '--m'"));
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "parse", "--json=yes", "00");
	assert_usage(&r, "entryid", "entryid parse");
	assert_non_null(strstr(r.err, "'--json' takes no argument"));
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "create", "--server");
	assert_usage(&r, "entryid", create);
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "parse", "--bogus");
	assert_usage(&r, "entryid", "entryid parse");
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "parse", "00", "11");
	assert_usage(&r, "entryid", "entryid parse");
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "frobnicate");
	assert_usage(&r, "entryid", "entryid");
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid");
	assert_usage(&r, "entryid", "entryid");
	mh_test_run_result_free(&r);

	/* A store DN without cn=Servers is the library's to reject: exit 1. */
	r = RUN(NULL, "entryid", "create", "--v1", "--mdb-dn", "/o=Contoso/cn=nothing",
	        "--mailbox-dn", ALICE_DN);
	assert_error_line(&r, "MAPI_E_INVALID_PARAMETER");
	mh_test_run_result_free(&r);

	r = RUN(NULL, "nosuchcommand");
	assert_int_equal(r.status, 2);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "Try 'mapihttp --help'."));
	mh_test_run_result_free(&r);
	r = RUN(NULL, "--nosuchoption");
	assert_int_equal(r.status, 2);
	mh_test_run_result_free(&r);
}

static void test_cli_entryid__help_and_version(void **state)
{
	(void)state;
	mh_test_run_result r = RUN(NULL, "--version");
	assert_success(&r);
	assert_string_equal(r.out, "mapihttp 0.1.0\n");
	mh_test_run_result_free(&r);

	r = RUN(NULL, "--help");
	assert_success(&r);
	assert_non_null(strstr(r.out, "entryid"));
	assert_non_null(strstr(r.out, "demo"));
	mh_test_run_result_free(&r);

	r = RUN(NULL, "entryid", "--help");
	assert_success(&r);
	mh_test_run_result h = RUN(NULL, "help", "entryid");
	assert_success(&h);
	assert_string_equal(r.out, h.out);
	assert_non_null(strstr(r.out, "--mailbox-dn"));
	assert_non_null(strstr(r.out, "--json"));
	mh_test_run_result_free(&r);
	mh_test_run_result_free(&h);

	r = RUN(NULL, "entryid", "parse", "--help");
	assert_success(&r);
	assert_non_null(strstr(r.out, "--json"));
	assert_null(strstr(r.out, "--mailbox-dn"));
	mh_test_run_result_free(&r);
	r = RUN(NULL, "entryid", "create", "-h");
	assert_success(&r);
	assert_non_null(strstr(r.out, "--smtp"));
	mh_test_run_result_free(&r);
	r = RUN(NULL, "demo", "--help");
	assert_success(&r);
	assert_non_null(strstr(r.out, "--mailbox-dn"));
	mh_test_run_result_free(&r);
}

static void test_cli_entryid__demo(void **state)
{
	(void)state;
	mh_test_run_result r = RUN(NULL, "demo", "--offline");
	assert_success(&r);
	assert_non_null(strstr(r.out, "MAPI_E_CALL_FAILED"));
	assert_non_null(strstr(r.out, "0x80004005"));
	assert_non_null(strstr(r.out, "alice@contoso.com"));

	/* The demo's v3 hex is what `entryid create` makes for the same mailbox. */
	const char *mdb = "/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/"
	                  "cn=Configuration/cn=Servers/cn=EXSRV01/cn=Microsoft Private MDB";
	mh_test_run_result c = RUN(NULL, "entryid", "create", "--mailbox-dn", ALICE_DN, "--mdb-dn",
	                           mdb, "--smtp", "alice@contoso.com");
	char *v3 = create_hex(&c);
	mh_test_run_result_free(&c);
	c = RUN(NULL, "entryid", "create", "--v1", "--mailbox-dn", ALICE_DN, "--mdb-dn", mdb);
	char *v1 = create_hex(&c);
	mh_test_run_result_free(&c);
	char *flat = strdup(r.out), *o = flat;
	assert_non_null(flat);
	for (const char *p = r.out; *p != '\0'; p++)
		if (*p != ' ' && *p != '\n')
			*o++ = *p;
	*o = '\0';
	assert_non_null(strstr(flat, v3));
	assert_non_null(strstr(flat, v1));
	free(flat);
	free(v1);
	free(v3);
	mh_test_run_result_free(&r);

	/* Overrides reach the EntryIDs. */
	r = RUN(NULL, "demo", "--smtp", "bob@fabrikam.example");
	assert_success(&r);
	assert_non_null(strstr(r.out, "bob@fabrikam.example"));
	mh_test_run_result_free(&r);

	r = RUN(NULL, "demo", "--smtp", "");
	assert_usage(&r, "demo", "demo");
	mh_test_run_result_free(&r);
	r = RUN(NULL, "demo", "extra");
	assert_usage(&r, "demo", "demo");
	mh_test_run_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cli_entryid__parse_store_vectors_json),
	    cmocka_unit_test(test_cli_entryid__parse_other_vectors_json),
	    cmocka_unit_test(test_cli_entryid__parse_text),
	    cmocka_unit_test(test_cli_entryid__parse_stdin_whitespace),
	    cmocka_unit_test(test_cli_entryid__create_v1_matches_vector),
	    cmocka_unit_test(test_cli_entryid__create_v1_public_matches_vector),
	    cmocka_unit_test(test_cli_entryid__create_v3_matches_vector),
	    cmocka_unit_test(test_cli_entryid__create_parse_round_trip),
	    cmocka_unit_test(test_cli_entryid__parse_errors),
	    cmocka_unit_test(test_cli_entryid__create_errors),
	    cmocka_unit_test(test_cli_entryid__help_and_version),
	    cmocka_unit_test(test_cli_entryid__demo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
