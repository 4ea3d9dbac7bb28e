/*
 * `mapihttp entryid parse|create`: decodes any EntryID to aligned text or
 * JSON, and makes store EntryIDs as CreateStoreEntryID(2) does.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/hex.h"

/* EntryIDs are small; a bigger input is a mistake, not an EntryID. */
#define MAX_INPUT_TEXT (16u * 1024u * 1024u)

/* ---- help ------------------------------------------------------------------------- */

static const char parse_usage[] =
    "Usage: mapihttp entryid parse [--json] [HEX|-]\n"
    "\n"
    "Decode an EntryID of any kind mapihttp knows: store (v1, v2, v3), folder,\n"
    "message, address book, ephemeral, one-off, contact and WAB. The EntryID is read\n"
    "as hex from HEX, or from standard input when HEX is '-' or missing; whitespace\n"
    "is ignored and either case is accepted.\n"
    "\n"
    "  --json       print one JSON object (indented by 2) instead of text\n"
    "  -h, --help   show this help and exit\n"
    "\n"
    "The text form prints one aligned 'name: value' line per field; for a store\n"
    "EntryID a 'MAPI/HTTP' line says whether MAPI/HTTP can open it.\n";

static const char create_usage[] =
    "Usage: mapihttp entryid create --mailbox-dn DN (--mdb-dn DN | --server NAME)\n"
    "                               [--smtp ADDR] [--fqdn NAME] [--flags N]\n"
    "                               [--public] [--v1]\n"
    "\n"
    "Make a store EntryID and print it as one line of upper-case hex. Without --v1\n"
    "it is made by CreateStoreEntryID2 from PR_PROFILE_MAILBOX, PR_PROFILE_MDB_DN,\n"
    "PR_FORCE_USE_ENTRYID_SERVER and the optional properties below: version 3 with\n"
    "--smtp (the only version MAPI/HTTP can open), else version 2.\n"
    "\n"
    "  --mailbox-dn DN   legacyExchangeDN of the mailbox (PR_PROFILE_MAILBOX);\n"
    "                    required unless --public\n"
    "  --mdb-dn DN       DN of the message store (PR_PROFILE_MDB_DN)\n"
    "  --server NAME     use the store DN\n"
    "                    /cn=Configuration/cn=Servers/cn=NAME/cn=Microsoft Private MDB\n"
    "                    (Public MDB with --public); give --mdb-dn or --server\n"
    "  --smtp ADDR       SMTP address of the mailbox (PR_PROFILE_USER_SMTP_ADDRESS_W):\n"
    "                    makes a version 3 EntryID\n"
    "  --fqdn NAME       server FQDN of a version 2 EntryID (PR_PROFILE_SERVER_FQDN_W)\n"
    "  --flags N         OPENSTORE_* flags (WrappedType), decimal or 0x hex; default\n"
    "                    0x0C (OPENSTORE_HOME_LOGON|OPENSTORE_TAKE_OWNERSHIP), or 0x06\n"
    "                    (OPENSTORE_PUBLIC|OPENSTORE_HOME_LOGON) with --public\n"
    "  --public          the public folder store; adds OPENSTORE_PUBLIC to the flags\n"
    "  --v1              make a version 1 EntryID with CreateStoreEntryID instead\n"
    "                    (MAPI/HTTP cannot open it)\n"
    "  -h, --help        show this help and exit\n"
    "\n"
    "--smtp cannot be used with --v1; --fqdn cannot be used with --smtp or --v1.\n";

void mh_cli_entryid_help(FILE *out)
{
	fputs("Usage: mapihttp entryid parse [--json] [HEX|-]\n"
	      "       mapihttp entryid create [options]\n"
	      "       mapihttp entryid [parse|create] --help\n"
	      "\n"
	      "Decode EntryIDs and create store EntryIDs.\n"
	      "\n",
	      out);
	fputs(parse_usage, out);
	fputs("\n", out);
	fputs(create_usage, out);
	fputs("\nExit status: 0 success, 1 error, 2 usage error.\n", out);
}

/* ---- one emitter, two outputs -------------------------------------------------------- */

/*
 * Each EntryID kind is walked once; the walk writes either JSON members or
 * text lines, so the two outputs cannot drift apart.
 */
typedef struct emitter {
	json_t *obj;           /* JSON: the object being filled, else NULL */
	mh_cli_fields *fields; /* text: the lines being collected */
	const char *prefix;    /* text: "inner." and so on for nested EntryIDs */
	bool *failed;
} emitter;

static void emit_json(emitter *e, const char *key, json_t *value)
{
	mh_cli_json_set(e->obj, key, value, e->failed);
}

static void emit_text(emitter *e, const char *key, const char *fmt, ...) MH_PRINTF(3, 4);

static void emit_text(emitter *e, const char *key, const char *fmt, ...)
{
	char name[256], *value = NULL;
	va_list ap;
	snprintf(name, sizeof(name), "%s%s", e->prefix, key);
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n >= 0 && (value = malloc((size_t)n + 1)) != NULL) {
		va_start(ap, fmt);
		vsnprintf(value, (size_t)n + 1, fmt, ap);
		va_end(ap);
		mh_cli_fields_add(e->fields, name, "%s", value);
		free(value);
	} else {
		*e->failed = true;
	}
}

/* hex_digits 0 prints decimal in text; JSON always gets a number. */
static void emit_uint(emitter *e, const char *key, uint64_t v, int hex_digits, const char *note)
{
	if (e->obj != NULL) {
		emit_json(e, key, json_integer((json_int_t)v));
		return;
	}
	char num[32];
	if (hex_digits > 0)
		snprintf(num, sizeof(num), "0x%0*llX", hex_digits, (unsigned long long)v);
	else
		snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	if (note != NULL && note[0] != '\0')
		emit_text(e, key, "%s (%s)", num, note);
	else
		emit_text(e, key, "%s", num);
}

static void emit_bytes(emitter *e, const char *key, const void *data, size_t len, const char *note)
{
	if (e->obj != NULL) {
		emit_json(e, key, mh_cli_json_hex(data, len));
		return;
	}
	char *hex = mh_cli_hex(data, len, false);
	if (hex == NULL) {
		*e->failed = true;
		return;
	}
	if (note != NULL)
		emit_text(e, key, "%s (%s)", hex, note);
	else
		emit_text(e, key, "%s", hex);
	free(hex);
}

static void emit_uid(emitter *e, const char *key, const MAPIUID *uid)
{
	emit_bytes(e, key, uid->ab, sizeof(uid->ab), mh_cli_muid_name(uid));
}

static void emit_guid(emitter *e, const char *key, const GUID *guid)
{
	char buf[39];
	mh_cli_guid(buf, guid);
	if (e->obj != NULL)
		emit_json(e, key, json_string(buf));
	else
		emit_text(e, key, "%s", buf);
}

static void emit_plain(emitter *e, const char *key, const char *value)
{
	if (e->obj != NULL)
		emit_json(e, key, json_string(value));
	else
		emit_text(e, key, "%s", value);
}

static void emit_utf8(emitter *e, const char *key, const char *s)
{
	if (e->obj != NULL) {
		emit_json(e, key, mh_cli_json_utf8(s));
		return;
	}
	char *p = mh_cli_printable(s);
	if (p == NULL) {
		*e->failed = true;
		return;
	}
	emit_text(e, key, "%s", p[0] != '\0' ? p : "\"\"");
	free(p);
}

/* 8-bit strings are Windows-1252 as Exchange stores them. */
static void emit_str8(emitter *e, const char *key, const char *s)
{
	if (e->obj != NULL) {
		emit_json(e, key, mh_cli_json_string8(s));
		return;
	}
	char *u = mh_cli_cp1252_to_utf8(s);
	if (u == NULL) {
		*e->failed = true;
		return;
	}
	emit_utf8(e, key, u);
	free(u);
}

static void emit_bool(emitter *e, const char *key, bool b)
{
	if (e->obj != NULL)
		emit_json(e, key, json_boolean(b));
	else
		emit_text(e, key, "%s", b ? "yes" : "no");
}

/* ---- the walk ------------------------------------------------------------------------ */

static const char *object_type_name(uint16_t t)
{
	switch (t) {
	case eitLTPrivateFolder:
		return "eitLTPrivateFolder";
	case eitLTPublicFolder:
		return "eitLTPublicFolder";
	case eitLTWackyFolder:
		return "eitLTWackyFolder";
	case eitLTPrivateMessage:
		return "eitLTPrivateMessage";
	case eitLTPublicMessage:
		return "eitLTPublicMessage";
	case eitLTWackyMessage:
		return "eitLTWackyMessage";
	case eitLTPublicFolderByName:
		return "eitLTPublicFolderByName";
	default:
		return NULL;
	}
}

static const char *display_type_name(uint32_t t)
{
	switch (t) {
	case DT_MAILUSER:
		return "DT_MAILUSER";
	case DT_DISTLIST:
		return "DT_DISTLIST";
	case DT_FORUM:
		return "DT_FORUM";
	case DT_AGENT:
		return "DT_AGENT";
	case DT_ORGANIZATION:
		return "DT_ORGANIZATION";
	case DT_PRIVATE_DISTLIST:
		return "DT_PRIVATE_DISTLIST";
	case DT_REMOTE_MAILUSER:
		return "DT_REMOTE_MAILUSER";
	case DT_CONTAINER:
		return "DT_CONTAINER";
	case DT_TEMPLATE:
		return "DT_TEMPLATE";
	case DT_ADDRESS_TEMPLATE:
		return "DT_ADDRESS_TEMPLATE";
	case DT_SEARCH:
		return "DT_SEARCH";
	default:
		return NULL;
	}
}

static const char *contab_type_name(uint32_t t)
{
	switch (t) {
	case MH_CONTAB_CONTAINER:
		return "container";
	case MH_CONTAB_USER:
		return "user";
	case MH_CONTAB_DISTLIST:
		return "distribution list";
	default:
		return NULL;
	}
}

static void emit_entryid(emitter *e, const mh_entryid *id);

static void emit_store(emitter *e, const mh_store_entryid *s)
{
	char buf[512], dll[sizeof(s->dll) + 1];

	emit_uint(e, "version", s->version, 0, NULL);
	emit_uint(e, "flags", mh_cli_abflags(s->abFlags), 8, NULL);
	emit_uid(e, "provider_uid", &s->provider_uid);
	memcpy(dll, s->dll, sizeof(s->dll));
	dll[sizeof(s->dll)] = '\0';
	emit_str8(e, "dll", dll);
	emit_uint(e, "wrapped_flags", s->wrapped_flags, 8, NULL);
	emit_plain(e, "wrapped_provider", s->is_public ? "public" : "private");
	emit_uid(e, "wrapped_provider_uid", &s->wrapped_provider_uid);
	emit_uint(e, "wrapped_type", s->wrapped_type, 8,
	          mh_cli_openstore_flags(buf, sizeof(buf), s->wrapped_type));
	emit_str8(e, "server", s->server);
	if (s->mailbox_dn != NULL)
		emit_str8(e, "mailbox_dn", s->mailbox_dn);
	if (s->version == 2) {
		if (s->server_dn != NULL)
			emit_str8(e, "server_dn", s->server_dn);
		if (s->server_fqdn != NULL)
			emit_utf8(e, "server_fqdn", s->server_fqdn);
	}
	if (s->version == 3 && s->smtp_address != NULL)
		emit_utf8(e, "smtp_address", s->smtp_address);
	if (e->obj != NULL)
		return;

	/* The text form also shows the trailer as read and what MAPI/HTTP makes of it. */
	if (s->version == 2 || s->version == 3) {
		char *tail = mh_cli_hex(s->ext_tail.lpb, s->ext_tail.cb, false);
		if (tail == NULL) {
			*e->failed = true;
			return;
		}
		if (s->version == 2)
			snprintf(buf, sizeof(buf), "OffsetDN %u, OffsetFQDN %u",
			         (unsigned)s->ext_offset_dn, (unsigned)s->ext_offset_fqdn);
		else
			snprintf(buf, sizeof(buf), "OffsetSmtpAddress %u",
			         (unsigned)s->ext_offset_smtp);
		emit_text(e, "trailer", "Version %u, Size %u (%s), %s, reserved %s",
		          (unsigned)s->ext_version, (unsigned)s->ext_size,
		          s->ext_size_matches ? "matches the bytes" : "does not match the bytes",
		          buf, tail[0] != '\0' ? tail : "absent");
		free(tail);
	}
	if (s->version == 3 && s->smtp_address != NULL && s->smtp_address[0] != '\0') {
		char *smtp = mh_cli_printable(s->smtp_address);
		if (smtp == NULL) {
			*e->failed = true;
			return;
		}
		emit_text(e, "MAPI/HTTP",
		          "can open it: the SMTP address %s is used to Autodiscover the "
		          "mailbox's endpoint",
		          smtp);
		free(smtp);
	} else {
		emit_text(e, "MAPI/HTTP",
		          "cannot open a version %u store EntryID: it has no SMTP address to "
		          "Autodiscover the mailbox's endpoint; make a version 3 EntryID with "
		          "CreateStoreEntryID2 and PR_PROFILE_USER_SMTP_ADDRESS_W",
		          s->version);
	}
}

static void emit_folder(emitter *e, const mh_folder_entryid *f)
{
	emit_uint(e, "flags", mh_cli_abflags(f->abFlags), 8, NULL);
	emit_uid(e, "provider_uid", &f->provider_uid);
	emit_uint(e, "folder_type", f->folder_type, 4, object_type_name(f->folder_type));
	emit_guid(e, "database_guid", &f->database_guid);
	emit_uint(e, "global_counter", f->global_counter, 0, NULL);
	emit_uint(e, "pad", f->pad, 4, NULL);
}

static void emit_message(emitter *e, const mh_message_entryid *m)
{
	emit_uint(e, "flags", mh_cli_abflags(m->abFlags), 8, NULL);
	emit_uid(e, "provider_uid", &m->provider_uid);
	emit_uint(e, "message_type", m->message_type, 4, object_type_name(m->message_type));
	emit_guid(e, "folder_database_guid", &m->folder_database_guid);
	emit_uint(e, "folder_global_counter", m->folder_global_counter, 0, NULL);
	emit_uint(e, "pad1", m->pad1, 4, NULL);
	emit_guid(e, "message_database_guid", &m->message_database_guid);
	emit_uint(e, "message_global_counter", m->message_global_counter, 0, NULL);
	emit_uint(e, "pad2", m->pad2, 4, NULL);
}

static void emit_ab(emitter *e, const mh_ab_entryid *a)
{
	emit_uint(e, "flags", mh_cli_abflags(a->abFlags), 8, NULL);
	emit_uid(e, "provider_uid", &a->provider_uid);
	emit_uint(e, "version", a->version, 0, NULL);
	emit_uint(e, "display_type", a->display_type, 8, display_type_name(a->display_type));
	emit_str8(e, "x500dn", a->x500dn);
}

static void emit_ephemeral(emitter *e, const mh_ephemeral_entryid *a)
{
	emit_uint(e, "flags", mh_cli_abflags(a->abFlags), 8, NULL);
	emit_uid(e, "provider_uid", &a->provider_uid);
	emit_uint(e, "version", a->version, 0, NULL);
	emit_uint(e, "display_type", a->display_type, 8, display_type_name(a->display_type));
	emit_uint(e, "mid", a->mid, 8, NULL);
}

static void emit_one_off(emitter *e, const mh_one_off_entryid *o)
{
	bool unicode = (o->flags & MH_ONE_OFF_UNICODE) != 0;
	char note[128];
	snprintf(note, sizeof(note), "%s%s%s", unicode ? "UNICODE " : "",
	         (o->flags & MH_ONE_OFF_NO_RICH_INFO) ? "NO_RICH_INFO " : "",
	         (o->flags & MH_ONE_OFF_DONT_LOOKUP) ? "DONT_LOOKUP " : "");
	size_t n = strlen(note);
	if (n > 0)
		note[n - 1] = '\0';

	emit_uint(e, "flags", mh_cli_abflags(o->abFlags), 8, NULL);
	emit_uid(e, "provider_uid", &o->provider_uid);
	emit_uint(e, "version", o->version, 0, NULL);
	emit_uint(e, "oneoff_flags", o->flags, 4, note);
	emit_bool(e, "unicode", unicode);
	void (*str)(emitter *, const char *, const char *) = unicode ? emit_utf8 : emit_str8;
	str(e, "display_name", o->display_name);
	str(e, "address_type", o->address_type);
	str(e, "email_address", o->email_address);
}

/* The inner EntryID of a contact or WAB EntryID: an object, or its hex if unknown. */
static void emit_inner(emitter *e, const mh_entryid *inner, const SBinary *bytes)
{
	if (inner == NULL) {
		emit_bytes(e, "inner_hex", bytes->lpb, bytes->cb, NULL);
		return;
	}
	emitter child = *e;
	char prefix[256];
	if (e->obj != NULL) {
		child.obj = json_object();
		if (child.obj == NULL) {
			*e->failed = true;
			return;
		}
		emit_entryid(&child, inner);
		emit_json(e, "inner", child.obj);
	} else {
		snprintf(prefix, sizeof(prefix), "%sinner.", e->prefix);
		child.prefix = prefix;
		emit_entryid(&child, inner);
	}
}

static void emit_contact(emitter *e, const mh_contact_entryid *c)
{
	emit_uint(e, "flags", mh_cli_abflags(c->abFlags), 8, NULL);
	emit_uid(e, "provider_uid", &c->provider_uid);
	emit_uint(e, "version", c->version, 0, NULL);
	emit_uint(e, "contab_type", c->type, 0, contab_type_name(c->type));
	if (c->type == MH_CONTAB_CONTAINER) {
		emit_guid(e, "muid", &c->muid);
	} else {
		emit_uint(e, "index", c->index, 0, NULL);
		emit_uint(e, "entryid_count", c->entryid_count, 0, NULL);
	}
	emit_inner(e, c->inner, &c->inner_bytes);
}

static void emit_wab(emitter *e, const mh_wab_entryid *w)
{
	emit_uint(e, "flags", mh_cli_abflags(w->abFlags), 8, NULL);
	emit_uid(e, "provider_uid", &w->provider_uid);
	emit_uint(e, "wab_type", w->type, 2, NULL);
	emit_inner(e, w->inner, &w->inner_bytes);
}

static void emit_entryid(emitter *e, const mh_entryid *id)
{
	if (e->obj == NULL)
		emit_text(e, "length", "%u bytes", (unsigned)id->cb);
	emit_plain(e, "type", mh_entryid_kind_str(id->kind));
	switch (id->kind) {
	case MH_ENTRYID_STORE:
		emit_store(e, &id->u.store);
		break;
	case MH_ENTRYID_FOLDER:
		emit_folder(e, &id->u.folder);
		break;
	case MH_ENTRYID_MESSAGE:
		emit_message(e, &id->u.message);
		break;
	case MH_ENTRYID_AB:
		emit_ab(e, &id->u.ab);
		break;
	case MH_ENTRYID_EPHEMERAL:
		emit_ephemeral(e, &id->u.ephemeral);
		break;
	case MH_ENTRYID_ONE_OFF:
		emit_one_off(e, &id->u.one_off);
		break;
	case MH_ENTRYID_CONTACT:
		emit_contact(e, &id->u.contact);
		break;
	case MH_ENTRYID_WAB:
		emit_wab(e, &id->u.wab);
		break;
	case MH_ENTRYID_UNKNOWN:
		break;
	}
	if (id->trailing.cb > 0)
		emit_bytes(e, "trailing", id->trailing.lpb, id->trailing.cb, NULL);
}

/* ---- parse ------------------------------------------------------------------------------- */

/* Reads all of stdin into a malloc()ed buffer. */
static mh_status read_stdin(char **out, size_t *out_len)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	if (buf == NULL)
		return mh_error_oom();
	for (;;) {
		if (len == cap) {
			if (cap >= MAX_INPUT_TEXT) {
				free(buf);
				return mh_error_set(MAPI_E_TOO_BIG, -1,
				                    "standard input holds more than %u bytes of "
				                    "text; an EntryID is far smaller",
				                    MAX_INPUT_TEXT);
			}
			char *bigger = realloc(buf, cap * 2);
			if (bigger == NULL) {
				free(buf);
				return mh_error_oom();
			}
			buf = bigger;
			cap *= 2;
		}
		size_t n = fread(buf + len, 1, cap - len, stdin);
		len += n;
		if (n == 0) {
			if (ferror(stdin)) {
				free(buf);
				return mh_error_set(MAPI_E_DISK_ERROR, -1,
				                    "cannot read standard input");
			}
			break;
		}
	}
	*out = buf;
	*out_len = len;
	return S_OK;
}

static int print_entryid(const mh_entryid *id, bool json)
{
	bool failed = false;
	mh_cli_fields fields = MH_CLI_FIELDS_INIT;
	emitter e = {NULL, &fields, "", &failed};

	if (json) {
		e.obj = json_object();
		if (e.obj == NULL)
			return mh_cli_fail(mh_error_oom());
		emit_entryid(&e, id);
		return mh_cli_json_print(e.obj, failed);
	}
	emit_entryid(&e, id);
	if (failed)
		fields.failed = true;
	return mh_cli_fields_emit(&fields, true);
}

static int cmd_parse(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool json = false;
	int opt;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(parse_usage, stdout);
			return MH_CLI_EXIT_OK;
		default:
			return mh_cli_getopt_error("entryid", "entryid parse", opt, argv, longopts);
		}
	}
	if (argc - optind > 1)
		return mh_cli_usage("entryid", "entryid parse",
		                    "parse takes one EntryID, got %d arguments", argc - optind);

	const char *arg = optind < argc ? argv[optind] : "-";
	char *text = NULL;
	size_t text_len;
	mh_status st;
	if (strcmp(arg, "-") == 0) {
		st = read_stdin(&text, &text_len);
		if (st != S_OK)
			return mh_cli_fail(st);
	}

	uint8_t *bytes = NULL;
	size_t len = 0;
	st = text != NULL ? mh_hex_decode(&bytes, &len, text, text_len)
	                  : mh_hex_decode(&bytes, &len, arg, strlen(arg));
	free(text);
	if (st != S_OK)
		return mh_cli_fail(st);
	if (len == 0 || len > UINT32_MAX) {
		free(bytes);
		return mh_cli_fail(mh_error_set(MAPI_E_INVALID_ENTRYID, -1,
		                                len == 0 ? "the input holds no hex digits"
		                                         : "the input is longer than an EntryID "
		                                           "can be"));
	}

	mh_entryid *id = NULL;
	st = mh_entryid_parse(&id, (uint32_t)len, bytes);
	free(bytes);
	if (st != S_OK)
		return mh_cli_fail(st);
	int rc = print_entryid(id, json);
	MAPIFreeBuffer(id);
	return rc;
}

/* ---- create ------------------------------------------------------------------------------ */

static mh_status copy_more(char **dst, const char *src, void *root)
{
	size_t n = strlen(src) + 1;
	if (n > UINT32_MAX)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "string too long");
	void *p = NULL;
	mh_status st = MAPIAllocateMore((uint32_t)n, root, &p);
	if (st != S_OK)
		return st;
	memcpy(p, src, n);
	*dst = p;
	return S_OK;
}

mh_status mh_cli_store_props(SPropValue **props, uint32_t *count, const mh_cli_store_spec *spec)
{
	uint32_t n = 1 + (spec->mailbox_dn != NULL) + (spec->mdb_dn != NULL) +
	             (spec->smtp != NULL) + (spec->fqdn != NULL);
	void *mem = NULL;
	mh_status st = MAPIAllocateBuffer(n * (uint32_t)sizeof(SPropValue), &mem);
	if (st != S_OK)
		return st;
	SPropValue *p = mem;

	uint32_t i = 0;
	if (spec->mailbox_dn != NULL) {
		p[i].ulPropTag = PR_PROFILE_MAILBOX;
		st = copy_more(&p[i++].Value.lpszA, spec->mailbox_dn, p);
	}
	if (st == S_OK && spec->mdb_dn != NULL) {
		p[i].ulPropTag = PR_PROFILE_MDB_DN;
		st = copy_more(&p[i++].Value.lpszA, spec->mdb_dn, p);
	}
	if (st == S_OK) {
		p[i].ulPropTag = PR_FORCE_USE_ENTRYID_SERVER;
		p[i++].Value.b = 1;
	}
	if (st == S_OK && spec->smtp != NULL) {
		p[i].ulPropTag = PR_PROFILE_USER_SMTP_ADDRESS_W;
		st = copy_more(&p[i++].Value.lpszW, spec->smtp, p);
	}
	if (st == S_OK && spec->fqdn != NULL) {
		p[i].ulPropTag = PR_PROFILE_SERVER_FQDN_W;
		st = copy_more(&p[i++].Value.lpszW, spec->fqdn, p);
	}
	if (st != S_OK) {
		MAPIFreeBuffer(p);
		return st;
	}
	*props = p;
	*count = n;
	return S_OK;
}

/* Decimal, or hex after "0x"; a leading 0 is not octal, to avoid surprises. */
static bool parse_flags(const char *s, uint32_t *out)
{
	int base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0')
		return false;
	uint64_t v = 0;
	for (; *s != '\0'; s++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

typedef struct create_opts {
	const char *mailbox_dn, *mdb_dn, *server, *smtp, *fqdn;
	uint32_t flags;
	bool flags_set, is_public, v1;
} create_opts;

static int create_usage_error(const char *fmt, ...) MH_PRINTF(1, 2);

static int create_usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mh_cli_usage("entryid", "entryid create", "%s", msg);
}

static int check_create_opts(const create_opts *o)
{
	const struct {
		const char *value;
		const char *name;
	} strings[] = {
	    {o->mailbox_dn, "--mailbox-dn"},
	    {o->mdb_dn, "--mdb-dn"},
	    {o->server, "--server"},
	    {o->smtp, "--smtp"},
	    {o->fqdn, "--fqdn"},
	};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (strings[i].value != NULL && strings[i].value[0] == '\0')
			return create_usage_error("%s must not be empty", strings[i].name);
	if (o->mdb_dn != NULL && o->server != NULL)
		return create_usage_error("give --mdb-dn or --server, not both");
	if (o->mdb_dn == NULL && o->server == NULL)
		return create_usage_error(
		    "the store is missing: give --mdb-dn DN or --server NAME");
	if (o->server != NULL && strchr(o->server, '/') != NULL)
		return create_usage_error("--server takes a server name, not a DN; use --mdb-dn "
		                          "for a DN");
	if (o->mailbox_dn == NULL && !o->is_public)
		return create_usage_error("--mailbox-dn is required (or --public for the public "
		                          "folder store)");
	if (o->v1 && o->smtp != NULL)
		return create_usage_error("--smtp makes a version 3 EntryID and cannot be used "
		                          "with --v1");
	if (o->fqdn != NULL && (o->smtp != NULL || o->v1))
		return create_usage_error("--fqdn is for version 2 EntryIDs and cannot be used "
		                          "with %s",
		                          o->v1 ? "--v1" : "--smtp");
	return MH_CLI_EXIT_OK;
}

static int cmd_create(int argc, char **argv)
{
	enum {
		OPT_MAILBOX = 256,
		OPT_MDB,
		OPT_SERVER,
		OPT_SMTP,
		OPT_FQDN,
		OPT_FLAGS,
		OPT_PUBLIC,
		OPT_V1
	};
	static const struct option longopts[] = {
	    {"mailbox-dn", required_argument, NULL, OPT_MAILBOX},
	    {"mdb-dn", required_argument, NULL, OPT_MDB},
	    {"server", required_argument, NULL, OPT_SERVER},
	    {"smtp", required_argument, NULL, OPT_SMTP},
	    {"fqdn", required_argument, NULL, OPT_FQDN},
	    {"flags", required_argument, NULL, OPT_FLAGS},
	    {"public", no_argument, NULL, OPT_PUBLIC},
	    {"v1", no_argument, NULL, OPT_V1},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	create_opts o = {0};
	int opt;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_MAILBOX:
			o.mailbox_dn = optarg;
			break;
		case OPT_MDB:
			o.mdb_dn = optarg;
			break;
		case OPT_SERVER:
			o.server = optarg;
			break;
		case OPT_SMTP:
			o.smtp = optarg;
			break;
		case OPT_FQDN:
			o.fqdn = optarg;
			break;
		case OPT_FLAGS:
			if (!parse_flags(optarg, &o.flags))
				return create_usage_error("--flags takes a 32-bit number, decimal "
				                          "or 0x hex, not '%s'",
				                          optarg);
			o.flags_set = true;
			break;
		case OPT_PUBLIC:
			o.is_public = true;
			break;
		case OPT_V1:
			o.v1 = true;
			break;
		case 'h':
			fputs(create_usage, stdout);
			return MH_CLI_EXIT_OK;
		default:
			return mh_cli_getopt_error("entryid", "entryid create", opt, argv,
			                           longopts);
		}
	}
	if (optind < argc)
		return create_usage_error("unexpected argument '%s'", argv[optind]);
	int rc = check_create_opts(&o);
	if (rc != MH_CLI_EXIT_OK)
		return rc;

	if (!o.flags_set)
		o.flags = o.is_public ? OPENSTORE_PUBLIC | OPENSTORE_HOME_LOGON
		                      : OPENSTORE_HOME_LOGON | OPENSTORE_TAKE_OWNERSHIP;
	if (o.is_public)
		o.flags |= OPENSTORE_PUBLIC;

	char *synth = NULL;
	const char *mdb_dn = o.mdb_dn;
	if (o.server != NULL) {
#define STORE_DN_FMT "/cn=Configuration/cn=Servers/cn=%s/cn=Microsoft %s MDB"
		const char *which = o.is_public ? "Public" : "Private";
		int n = snprintf(NULL, 0, STORE_DN_FMT, o.server, which);
		if (n < 0 || (synth = malloc((size_t)n + 1)) == NULL)
			return mh_cli_fail(mh_error_oom());
		snprintf(synth, (size_t)n + 1, STORE_DN_FMT, o.server, which);
#undef STORE_DN_FMT
		mdb_dn = synth;
	}

	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	mh_status st;
	if (o.v1) {
		st = mh_create_store_entryid(mdb_dn, o.mailbox_dn, o.flags, &cb, &eid);
	} else {
		mh_cli_store_spec spec = {o.mailbox_dn, mdb_dn, o.smtp, o.fqdn};
		SPropValue *props = NULL;
		uint32_t count = 0;
		st = mh_cli_store_props(&props, &count, &spec);
		if (st == S_OK)
			st = mh_create_store_entryid2(count, props, o.flags, &cb, &eid);
		MAPIFreeBuffer(props);
	}
	free(synth);
	if (st != S_OK)
		return mh_cli_fail(st);

	char *hex = mh_cli_hex(eid, cb, true);
	MAPIFreeBuffer(eid);
	if (hex == NULL)
		return mh_cli_fail(mh_error_oom());
	printf("%s\n", hex);
	free(hex);
	return MH_CLI_EXIT_OK;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

int mh_cli_entryid_main(int argc, char **argv)
{
	if (argc < 2)
		return mh_cli_usage("entryid", "entryid", "no subcommand given (parse or create)");
	const char *sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		mh_cli_entryid_help(stdout);
		return MH_CLI_EXIT_OK;
	}
	if (strcmp(sub, "parse") == 0)
		return cmd_parse(argc - 1, argv + 1);
	if (strcmp(sub, "create") == 0)
		return cmd_create(argc - 1, argv + 1);
	if (sub[0] == '-')
		return mh_cli_usage("entryid", "entryid", "unknown option '%s'", sub);
	return mh_cli_usage("entryid", "entryid", "unknown subcommand '%s' (parse or create)", sub);
}
