/*
 * `mapihttp demo`: builds the v1 and v3 store EntryIDs of one mailbox with
 * the real calls, decodes both and shows why only v3 opens over MAPI/HTTP.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

/* The sample mailbox: alice's, opened from another identity's session. */
#define SAMPLE_MAILBOX_DN \
	"/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice"
#define SAMPLE_MDB_DN                                                                     \
	"/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/" \
	"cn=Servers/cn=EXSRV01/cn=Microsoft Private MDB"
#define SAMPLE_SMTP "alice@contoso.com"

#define DEMO_FLAGS (OPENSTORE_HOME_LOGON | OPENSTORE_TAKE_OWNERSHIP)

/* Table geometry: 16 + " | " + 28 + " | " + 28 = 78 columns. */
#define COL_FIELD  16
#define COL_VALUE  28
#define TEXT_WIDTH 78

static const char demo_usage[] =
    "Usage: mapihttp demo [--mailbox-dn DN] [--mdb-dn DN] [--smtp ADDR]\n"
    "\n"
    "Show, without a network, why opening another mailbox over MAPI/HTTP needs a\n"
    "version 3 store EntryID. For one mailbox the demo makes a version 1 EntryID\n"
    "with CreateStoreEntryID and a version 3 one with CreateStoreEntryID2\n"
    "(PR_PROFILE_MAILBOX, PR_PROFILE_MDB_DN, PR_FORCE_USE_ENTRYID_SERVER,\n"
    "PR_PROFILE_USER_SMTP_ADDRESS_W), decodes both, prints them side by side with\n"
    "their hex, and tells which one MAPI/HTTP can open and why.\n"
    "\n"
    "  --mailbox-dn DN   legacyExchangeDN of the mailbox\n"
    "                    (default " SAMPLE_MAILBOX_DN ")\n"
    "  --mdb-dn DN       DN of its message store\n"
    "                    (default " SAMPLE_MDB_DN ")\n"
    "  --smtp ADDR       its SMTP address (default " SAMPLE_SMTP ")\n"
    "  -h, --help        show this help and exit\n";

void mh_cli_demo_help(FILE *out)
{
	fputs(demo_usage, out);
	fputs("\nExit status: 0 success, 1 error, 2 usage error.\n", out);
}

typedef struct demo_mailbox {
	const char *mailbox_dn;
	const char *mdb_dn;
	const char *smtp;
} demo_mailbox;

typedef struct demo_eid {
	const char *call; /* the API call that made it */
	uint32_t cb;
	ENTRYID *eid;
	mh_entryid *parsed;
} demo_eid;

/*
 * Everything the demo made. Stages read and extend it, so an online stage
 * (opening both EntryIDs against a server) can follow the offline one.
 */
typedef struct demo_ctx {
	demo_mailbox mbx;
	demo_eid v1, v3;
	bool same_store;
} demo_ctx;

static void demo_ctx_free(demo_ctx *d)
{
	MAPIFreeBuffer(d->v1.eid);
	MAPIFreeBuffer(d->v1.parsed);
	MAPIFreeBuffer(d->v3.eid);
	MAPIFreeBuffer(d->v3.parsed);
}

/* ---- building ----------------------------------------------------------------------------- */

static mh_status demo_build(demo_ctx *d)
{
	mh_status st;

	d->v1.call = "CreateStoreEntryID";
	st = mh_create_store_entryid(d->mbx.mdb_dn, d->mbx.mailbox_dn, DEMO_FLAGS, &d->v1.cb,
	                             &d->v1.eid);
	if (st != S_OK)
		return st;

	/* The four properties Outlook's own CreateStoreEntryID2 callers pass. */
	d->v3.call = "CreateStoreEntryID2";
	mh_cli_store_spec spec = {d->mbx.mailbox_dn, d->mbx.mdb_dn, d->mbx.smtp, NULL};
	SPropValue *props = NULL;
	uint32_t count = 0;
	st = mh_cli_store_props(&props, &count, &spec);
	if (st != S_OK)
		return st;
	st = mh_create_store_entryid2(count, props, DEMO_FLAGS, &d->v3.cb, &d->v3.eid);
	MAPIFreeBuffer(props);
	if (st != S_OK)
		return st;

	st = mh_entryid_parse(&d->v1.parsed, d->v1.cb, d->v1.eid);
	if (st == S_OK)
		st = mh_entryid_parse(&d->v3.parsed, d->v3.cb, d->v3.eid);
	if (st != S_OK)
		return st;
	if (d->v1.parsed->kind != MH_ENTRYID_STORE || d->v3.parsed->kind != MH_ENTRYID_STORE)
		return mh_error_set(MAPI_E_INVALID_ENTRYID, -1,
		                    "a created EntryID did not decode as a store EntryID");
	return mh_store_entryid_compare(&d->same_store, d->v1.cb, d->v1.eid, d->v3.cb, d->v3.eid);
}

/* ---- printing ----------------------------------------------------------------------------- */

/* Display width of UTF-8 text, one column per code point. */
static size_t columns(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/*
 * How many bytes of s go on one line of a column `width` wide: break
 * before a '/' or after a space when one is near, never inside a UTF-8
 * sequence.
 */
static size_t chunk(const char *s, size_t width)
{
	size_t len = strlen(s);
	if (columns(s, len) <= width)
		return len;
	size_t end = 0, cols = 0;
	while (end < len && cols < width) {
		end++;
		while (end < len && ((unsigned char)s[end] & 0xC0) == 0x80)
			end++;
		cols++;
	}
	for (size_t i = end; i > width / 2; i--) {
		if (s[i] == '/')
			return i;
		if (s[i - 1] == ' ')
			return i;
	}
	return end;
}

static void put_cell(const char *s, size_t len, size_t width)
{
	while (len > 0 && s[len - 1] == ' ')
		len--;
	fwrite(s, 1, len, stdout);
	for (size_t c = columns(s, len); c < width; c++)
		fputc(' ', stdout);
}

static void print_row(const char *field, const char *a, const char *b)
{
	const char *cells[3] = {field, a, b};
	const size_t widths[3] = {COL_FIELD, COL_VALUE, COL_VALUE};
	bool more = true;
	while (more) {
		more = false;
		for (int i = 0; i < 3; i++) {
			size_t n = chunk(cells[i], widths[i]);
			if (i > 0)
				fputs(" | ", stdout);
			if (i < 2)
				put_cell(cells[i], n, widths[i]);
			else
				put_cell(cells[i], n, 0);
			cells[i] += n;
			if (cells[i][0] != '\0')
				more = true;
		}
		fputc('\n', stdout);
	}
}

/* Word-wraps a paragraph to TEXT_WIDTH; lines after the first get `hang` more indent. */
static void print_para(int indent, int hang, const char *text)
{
	const char *p = text;
	for (bool first = true; *p != '\0'; first = false) {
		int ind = first ? indent : indent + hang;
		size_t width = TEXT_WIDTH - (size_t)ind, len = strlen(p), n = len;
		if (columns(p, len) > width) {
			n = 0;
			for (size_t i = 0; i < len && columns(p, i) <= width; i++)
				if (p[i] == ' ')
					n = i;
			if (n == 0)
				n = strcspn(p, " ");
		}
		printf("%*s%.*s\n", ind, "", (int)n, p);
		p += n;
		while (*p == ' ')
			p++;
	}
}

/* One table cell of the store EntryID s; *owned receives memory to free. */
typedef enum row {
	ROW_VERSION,
	ROW_LENGTH,
	ROW_PROVIDER,
	ROW_DLL,
	ROW_WRAPPED,
	ROW_TYPE,
	ROW_SERVER,
	ROW_MAILBOX,
	ROW_TRAILER,
	ROW_SMTP,
	ROW_COUNT
} row;

static const char *const row_names[ROW_COUNT] = {
    "Version",     "Length",          "ProviderUID", "DLL",     "WrappedProvider",
    "WrappedType", "ServerShortname", "MailboxDN",   "Trailer", "SmtpAddress",
};

static char *cell(const demo_eid *e, row r)
{
	const mh_store_entryid *s = &e->parsed->u.store;
	char buf[64];
	const char *v = buf;
	char *text8 = NULL, *out;

	switch (r) {
	case ROW_VERSION:
		snprintf(buf, sizeof(buf), "%u", s->version);
		break;
	case ROW_LENGTH:
		snprintf(buf, sizeof(buf), "%u bytes", (unsigned)e->cb);
		break;
	case ROW_PROVIDER:
		v = mh_cli_muid_name(&s->provider_uid);
		if (v == NULL)
			return mh_cli_hex(s->provider_uid.ab, sizeof(s->provider_uid.ab), false);
		break;
	case ROW_DLL:
		snprintf(buf, sizeof(buf), "%.*s", (int)sizeof(s->dll), s->dll);
		break;
	case ROW_WRAPPED:
		v = s->is_public ? "public store" : "private store";
		break;
	case ROW_TYPE:
		snprintf(buf, sizeof(buf), "0x%08X", (unsigned)s->wrapped_type);
		break;
	case ROW_SERVER:
	case ROW_MAILBOX:
		v = r == ROW_SERVER ? s->server : s->mailbox_dn;
		if (v == NULL) {
			v = "(none)";
			break;
		}
		text8 = mh_cli_cp1252_to_utf8(v);
		if (text8 == NULL)
			return NULL;
		v = text8;
		break;
	case ROW_TRAILER:
		if (s->version == 1)
			v = "none";
		else
			snprintf(buf, sizeof(buf), "V%u, %u bytes", s->version,
			         (unsigned)s->ext_size);
		break;
	case ROW_SMTP:
		v = s->smtp_address != NULL && s->smtp_address[0] != '\0' ? s->smtp_address
		                                                          : "(none)";
		break;
	case ROW_COUNT:
		break;
	}
	out = mh_cli_printable(v);
	free(text8);
	return out;
}

static mh_status demo_print_table(const demo_ctx *d)
{
	print_row("", d->v1.call, d->v3.call);
	printf("%.*s-+-%.*s-+-%.*s\n", COL_FIELD,
	       "--------------------------------------------------------------------------------",
	       COL_VALUE,
	       "--------------------------------------------------------------------------------",
	       COL_VALUE,
	       "--------------------------------------------------------------------------------");
	for (int r = 0; r < ROW_COUNT; r++) {
		char *a = cell(&d->v1, (row)r), *b = cell(&d->v3, (row)r);
		if (a == NULL || b == NULL) {
			free(a);
			free(b);
			return mh_error_oom();
		}
		print_row(row_names[r], a, b);
		free(a);
		free(b);
	}
	return S_OK;
}

static mh_status demo_print_hex(const demo_eid *e)
{
	char *hex = mh_cli_hex(e->eid, e->cb, true);
	if (hex == NULL)
		return mh_error_oom();
	printf("%s, version %u (%u bytes):\n", e->call, e->parsed->u.store.version,
	       (unsigned)e->cb);
	for (size_t i = 0, len = strlen(hex); i < len; i += 64)
		printf("  %.64s\n", hex + i);
	free(hex);
	return S_OK;
}

static bool can_open(const mh_store_entryid *s)
{
	return s->version == 3 && s->smtp_address != NULL && s->smtp_address[0] != '\0';
}

static mh_status demo_verdict(const demo_eid *e)
{
	const mh_store_entryid *s = &e->parsed->u.store;
	char *text;

	if (can_open(s)) {
		char *smtp = mh_cli_printable(s->smtp_address);
		if (smtp == NULL)
			return mh_error_oom();
		text = mh_cli_format("%s (version %u): can be opened. Its V3 trailer carries the "
		                     "SMTP address %s; Autodiscover for that address gives the "
		                     "mailbox's own MAPI/HTTP endpoint, where the client logs on "
		                     "with the mailbox DN.",
		                     e->call, s->version, smtp);
		free(smtp);
	} else {
		char *server = mh_cli_cp1252_to_utf8(s->server);
		char *shown = server != NULL ? mh_cli_printable(server) : NULL;
		free(server);
		if (shown == NULL)
			return mh_error_oom();
		text =
		    mh_cli_format("%s (version %u): cannot be opened. IMAPISession::OpenMsgStore "
		                  "fails with %s (0x%08X): the EntryID names the server %s and "
		                  "the mailbox DN but carries no SMTP address, so the client "
		                  "cannot Autodiscover the mailbox's own MAPI/HTTP endpoint.",
		                  e->call, s->version, mh_status_str(MAPI_E_CALL_FAILED),
		                  (unsigned)MAPI_E_CALL_FAILED, shown);
		free(shown);
	}
	if (text == NULL)
		return mh_error_oom();
	print_para(2, 2, text);
	free(text);
	return S_OK;
}

/* The offline stage: make, decode, compare and judge both EntryIDs. */
static mh_status demo_offline(demo_ctx *d)
{
	mh_status st = demo_build(d);
	if (st != S_OK)
		return st;

	printf("Opening another mailbox over MAPI/HTTP: the store EntryID it takes.\n\n");
	printf("Mailbox:\n  MailboxDN    %s\n  MDB DN       %s\n  SMTP address %s\n\n",
	       d->mbx.mailbox_dn, d->mbx.mdb_dn, d->mbx.smtp);

	st = demo_print_table(d);
	if (st != S_OK)
		return st;
	printf("\n");
	st = demo_print_hex(&d->v1);
	if (st == S_OK)
		st = demo_print_hex(&d->v3);
	if (st != S_OK)
		return st;

	printf("\n");
	print_para(0, 0,
	           d->same_store ? "The bytes differ, yet both name the same store "
	                           "(mh_store_entryid_compare says equal): compare store EntryIDs "
	                           "with CompareEntryIDs, never byte for byte."
	                         : "mh_store_entryid_compare says the two EntryIDs name different "
	                           "stores.");
	printf("\nOver MAPI/HTTP:\n");
	st = demo_verdict(&d->v1);
	if (st == S_OK) {
		printf("\n");
		st = demo_verdict(&d->v3);
	}
	return st;
}

int mh_cli_demo_main(int argc, char **argv)
{
	enum { OPT_MAILBOX = 256, OPT_MDB, OPT_SMTP };
	static const struct option longopts[] = {
	    {"mailbox-dn", required_argument, NULL, OPT_MAILBOX},
	    {"mdb-dn", required_argument, NULL, OPT_MDB},
	    {"smtp", required_argument, NULL, OPT_SMTP},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	demo_ctx d = {{SAMPLE_MAILBOX_DN, SAMPLE_MDB_DN, SAMPLE_SMTP}, {0}, {0}, false};
	int opt;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_MAILBOX:
			d.mbx.mailbox_dn = optarg;
			break;
		case OPT_MDB:
			d.mbx.mdb_dn = optarg;
			break;
		case OPT_SMTP:
			d.mbx.smtp = optarg;
			break;
		case 'h':
			mh_cli_demo_help(stdout);
			return MH_CLI_EXIT_OK;
		default:
			return mh_cli_getopt_error("demo", "demo", opt, argv, longopts);
		}
	}
	if (optind < argc)
		return mh_cli_usage("demo", "demo", "unexpected argument '%s'", argv[optind]);
	const char *empty = d.mbx.mailbox_dn[0] == '\0' ? "--mailbox-dn"
	                    : d.mbx.mdb_dn[0] == '\0'   ? "--mdb-dn"
	                    : d.mbx.smtp[0] == '\0'     ? "--smtp"
	                                                : NULL;
	if (empty != NULL)
		return mh_cli_usage("demo", "demo", "%s must not be empty", empty);

	mh_status st = demo_offline(&d);
	demo_ctx_free(&d);
	return st == S_OK ? MH_CLI_EXIT_OK : mh_cli_fail(st);
}
