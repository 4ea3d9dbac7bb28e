/*
 * `mapihttp demo`: starts mapihttpd in this process with the sample organisation (HTTPS with a
 * CA made for the run) and walks the hub-and-spoke story through the library as svc; with
 * --offline, builds the v1 and v3 store EntryIDs of one mailbox and shows why only v3 opens.
 */
#define _DEFAULT_SOURCE /* mkdtemp, explicit_bzero, strcasecmp */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "server/http.h"
#include "server/mapi_srv.h"
#include "server/store.h"

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
    "Usage: mapihttp demo [--http]\n"
    "       mapihttp demo --offline [--mailbox-dn DN] [--mdb-dn DN] [--smtp ADDR]\n"
    "\n"
    "Start mapihttpd inside this process with its sample organisation, on a free\n"
    "port of 127.0.0.1, over HTTPS with a CA made for this run (openssl(1)) that\n"
    "the client alone trusts, and walk the hub-and-spoke story as svc@contoso.test:\n"
    "  1. Autodiscover and logon: the identity's DN, URLs and the mailboxes it may\n"
    "     open;\n"
    "  2. bob's mailbox from a version 1 store EntryID (CreateStoreEntryID):\n"
    "     MAPI_E_CALL_FAILED, as Outlook over MAPI/HTTP, and why;\n"
    "  3. the version 3 EntryID (CreateStoreEntryID2 with PR_PROFILE_MAILBOX,\n"
    "     PR_PROFILE_MDB_DN, PR_FORCE_USE_ENTRYID_SERVER and\n"
    "     PR_PROFILE_USER_SMTP_ADDRESS_W) opens bob's mailbox, and his archive's\n"
    "     opens the archive: their folder trees with item counts;\n"
    "  4. carol's mailbox is refused (MAPI_E_NO_ACCESS, with the server's code);\n"
    "  5. every mailbox of the organisation and the archives scanned together.\n"
    "Everything is removed and the server stopped at the end.\n"
    "\n"
    "  --http            serve plain HTTP (no certificate is made); also what\n"
    "                    happens, with a warning, when openssl is not installed\n"
    "  --offline         no server, no network: make the version 1 and version 3\n"
    "                    EntryIDs of one mailbox, decode them side by side and tell\n"
    "                    which one MAPI/HTTP can open and why\n"
    "  --mailbox-dn DN   (implies --offline) legacyExchangeDN of the mailbox\n"
    "                    (default " SAMPLE_MAILBOX_DN ")\n"
    "  --mdb-dn DN       (implies --offline) DN of its message store\n"
    "                    (default " SAMPLE_MDB_DN ")\n"
    "  --smtp ADDR       (implies --offline) its SMTP address\n"
    "                    (default " SAMPLE_SMTP ")\n"
    "  -h, --help        show this help and exit\n";

void mh_cli_demo_help(FILE *out)
{
	fputs(demo_usage, out);
	fputs("\nExit status: 0 the story went as expected, 1 error or a step that did not,\n"
	      "2 usage error.\n",
	      out);
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
 * Everything the offline demo made: the two EntryIDs of one mailbox, decoded and compared.
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

/* ---- the online story: an embedded mapihttpd ------------------------------------------------- */

#define DEMO_DOMAIN "contoso.test"
#define DEMO_USER   "svc@" DEMO_DOMAIN
#define DEMO_BOB    "bob@" DEMO_DOMAIN
#define DEMO_CAROL  "carol@" DEMO_DOMAIN
/* The sample organisation's published password of svc (docs/internals/server-store.md). */
#define DEMO_PASSWORD         "Svc-Pass-1"
#define DEMO_SCAN_CONCURRENCY 4u
#define DEMO_STOP_GRACE_MS    2000u
#define MAX_PEM_FILE          ((size_t)64 * 1024)

/* The embedded server and the files made for it. */
typedef struct demo_server {
	char dir[256]; /* a private temporary directory; "" when none */
	bool tls;
	char ca_path[300]; /* the CA the client trusts */
	char base[64];     /* "https://127.0.0.1:<port>" */
	char ad_url[128];  /* its Autodiscover URL */
	mh_srv_store *store;
	mh_srv_mapi *mapi;
	mh_srv_http *http;
	char **mailboxes; /* every recipient's SMTP address, for the scan */
	size_t n_mailboxes;
} demo_server;

/* What went other than the story says; printed at the end, decides the exit status. */
typedef struct demo_story {
	unsigned deviations;
} demo_story;

static void deviation(demo_story *story, const char *fmt, ...) MH_PRINTF(2, 3);

static void deviation(demo_story *story, const char *fmt, ...)
{
	va_list ap;
	story->deviations++;
	fputs("   UNEXPECTED: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

/* ---- certificates -------------------------------------------------------------------------- */

extern char **environ;

/*
 * Runs openssl with args (no shell), its output appended to <dir>/openssl.log. Returns 0,
 * -1 when openssl(1) is not installed, or its exit status.
 */
static int run_openssl(const demo_server *srv, const char *const *args)
{
	char log[300];
	snprintf(log, sizeof(log), "%s/openssl.log", srv->dir);
	posix_spawn_file_actions_t fa;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return 1;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	/* openssl needs PATH and the like, never a credential of this tool's. */
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char **env = calloc(n + 1, sizeof(*env));
	if (env == NULL) {
		posix_spawn_file_actions_destroy(&fa);
		return 1;
	}
	for (size_t i = 0, k = 0; i < n; i++)
		if (strncmp(environ[i], "MAPIHTTP_", 9) != 0)
			env[k++] = environ[i];
	pid_t pid;
	int err = posix_spawnp(&pid, "openssl", &fa, NULL, (char *const *)(uintptr_t)args, env);
	free(env);
	posix_spawn_file_actions_destroy(&fa);
	if (err == ENOENT)
		return -1;
	if (err != 0)
		return 1;
	int ws = 0;
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws) == 127 ? -1 : WEXITSTATUS(ws);
	return 1;
}

/*
 * openssl req -x509 with a new P-256 key and a certificate valid for a day, for subject, then
 * the call's own arguments (NULL-terminated). As run_openssl.
 */
static int openssl_req(const demo_server *srv, const char *subject, const char *const *more)
{
	static const char *const common[] = {"openssl",
	                                     "req",
	                                     "-x509",
	                                     "-newkey",
	                                     "ec",
	                                     "-pkeyopt",
	                                     "ec_paramgen_curve:prime256v1",
	                                     "-nodes",
	                                     "-days",
	                                     "1",
	                                     "-subj"};
	const size_t ncommon = sizeof(common) / sizeof(common[0]);
	const char *args[32];
	size_t n = 0;
	for (; n < ncommon; n++)
		args[n] = common[n];
	args[n++] = subject;
	for (; *more != NULL; more++) {
		if (n + 1 >= sizeof(args) / sizeof(args[0]))
			return 1;
		args[n++] = *more;
	}
	args[n] = NULL;
	return run_openssl(srv, args);
}

/*
 * A CA made for this run and a certificate for 127.0.0.1 it signs: ca.pem (the client's only
 * trust), server.pem and server.key, in the private directory. 0, -1 (no openssl) or 1.
 */
static int make_certificates(demo_server *srv, char *cert, char *key, size_t cap)
{
	char ca_key[300];
	snprintf(ca_key, sizeof(ca_key), "%s/ca.key", srv->dir);
	snprintf(srv->ca_path, sizeof(srv->ca_path), "%s/ca.pem", srv->dir);
	snprintf(cert, cap, "%s/server.pem", srv->dir);
	snprintf(key, cap, "%s/server.key", srv->dir);
	const char *const ca[] = {"-keyout", ca_key, "-out", srv->ca_path, NULL};
	int rc = openssl_req(srv, "/CN=mapihttp demo CA", ca);
	if (rc != 0)
		return rc;
	const char *const leaf[] = {"-addext", "subjectAltName=IP:127.0.0.1",
	                            "-addext", "basicConstraints=critical,CA:FALSE",
	                            "-addext", "extendedKeyUsage=serverAuth",
	                            "-CA",     srv->ca_path,
	                            "-CAkey",  ca_key,
	                            "-keyout", key,
	                            "-out",    cert,
	                            NULL};
	rc = openssl_req(srv, "/CN=127.0.0.1", leaf);
	/* The CA's key has signed its one certificate: nothing else may ever be signed. */
	unlink(ca_key);
	return rc;
}

/* A small text file whole (a PEM file); NULL when unreadable or too large. */
static char *read_pem(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *buf = malloc(MAX_PEM_FILE + 1);
	size_t len = 0;
	while (buf != NULL && len < MAX_PEM_FILE) {
		ssize_t n = read(fd, buf + len, MAX_PEM_FILE - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL || len == 0 || len == MAX_PEM_FILE) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* Removes the private directory and the files the demo (and openssl) put in it. */
static void remove_dir(demo_server *srv)
{
	if (srv->dir[0] == '\0')
		return;
	DIR *d = opendir(srv->dir);
	if (d != NULL) {
		struct dirent *e;
		char path[520];
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", srv->dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	if (rmdir(srv->dir) != 0)
		fprintf(stderr, "mapihttp: warning: could not remove %s: %s\n", srv->dir,
		        strerror(errno));
	srv->dir[0] = '\0';
}

/* The last line openssl wrote, for a warning. */
static void openssl_failure(const demo_server *srv, int rc)
{
	char log[300];
	snprintf(log, sizeof(log), "%s/openssl.log", srv->dir);
	char *text = read_pem(log);
	const char *last = "";
	if (text != NULL) {
		size_t len = strlen(text);
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			text[--len] = '\0';
		const char *nl = strrchr(text, '\n');
		last = nl != NULL ? nl + 1 : text;
	}
	char *shown = mh_cli_printable(last);
	fprintf(stderr, "mapihttp: warning: openssl exited with status %d%s%s\n", rc,
	        shown != NULL && shown[0] != '\0' ? ": " : "", shown != NULL ? shown : "");
	free(shown);
	free(text);
}

/* ---- the server ---------------------------------------------------------------------------- */

static void server_stop(demo_server *srv)
{
	/* The front first, so that no handler runs while the contexts go; the store last. */
	mh_srv_http_stop(srv->http, DEMO_STOP_GRACE_MS);
	srv->http = NULL;
	mh_srv_mapi_free(srv->mapi);
	srv->mapi = NULL;
	mh_srv_store_free(srv->store);
	srv->store = NULL;
	for (size_t i = 0; i < srv->n_mailboxes; i++)
		free(srv->mailboxes[i]);
	free(srv->mailboxes);
	srv->mailboxes = NULL;
	srv->n_mailboxes = 0;
	remove_dir(srv);
}

/* Every recipient of the organisation (users and shared mailboxes), for the scan. */
static mh_status list_mailboxes(demo_server *srv)
{
	mh_arena arena = MH_ARENA_INIT;
	mh_srv_recipient *r = NULL;
	size_t n = 0;
	mh_status st = mh_srv_store_recipients(srv->store, &arena, &r, &n);
	if (st == S_OK && n > 0) {
		srv->mailboxes = calloc(n, sizeof(*srv->mailboxes));
		if (srv->mailboxes == NULL)
			st = mh_error_oom();
	}
	for (size_t i = 0; st == S_OK && i < n; i++) {
		srv->mailboxes[i] = strdup(r[i].smtp);
		if (srv->mailboxes[i] == NULL)
			st = mh_error_oom();
		else
			srv->n_mailboxes++;
	}
	mh_arena_free(&arena);
	return st;
}

/* A listening socket on 127.0.0.1, a port of the kernel's choice; -1 with a message set. */
static int listen_loopback(char *base, size_t cap, bool tls)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		mh_error_set(MAPI_E_NETWORK_ERROR, -1, "socket: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		mh_error_set(MAPI_E_NETWORK_ERROR, -1, "cannot listen on 127.0.0.1: %s",
		             strerror(errno));
		close(fd);
		return -1;
	}
	snprintf(base, cap, "%s://127.0.0.1:%u", tls ? "https" : "http",
	         (unsigned)ntohs(sa.sin_port));
	return fd;
}

/* Serves on a new socket, HTTPS with cert and key when srv->tls. */
static mh_status start_http(demo_server *srv, const char *cert, const char *key)
{
	int fd = listen_loopback(srv->base, sizeof(srv->base), srv->tls);
	if (fd < 0)
		return MAPI_E_NETWORK_ERROR;
	mh_srv_http_options ho = MH_SRV_HTTP_OPTIONS_INIT;
	ho.listen_fd = fd;
	ho.base_url = srv->base;
	ho.tls_cert = srv->tls ? cert : NULL;
	ho.tls_key = srv->tls ? key : NULL;
	ho.emsmdb = mh_srv_mapi_emsmdb_handler(srv->mapi);
	ho.nspi = mh_srv_mapi_nspi_handler(srv->mapi);
	return mh_srv_http_start(&srv->http, srv->store, &ho);
}

/*
 * Makes the private directory and the certificates (unless plain), loads the sample
 * organisation and starts serving it on a free port of 127.0.0.1.
 */
static mh_status server_start(demo_server *srv, bool plain)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(srv->dir, sizeof(srv->dir), "%s/mapihttp-demo.XXXXXX",
	         tmp != NULL && tmp[0] != '\0' && strlen(tmp) < 200 ? tmp : "/tmp");
	if (mkdtemp(srv->dir) == NULL) {
		mh_status st =
		    mh_error_set(MAPI_E_DISK_ERROR, -1, "cannot make a temporary directory %s: %s",
		                 srv->dir, strerror(errno));
		srv->dir[0] = '\0';
		return st;
	}
	char cert_path[300], key_path[300];
	char *cert = NULL, *key = NULL;
	srv->tls = false;
	if (!plain) {
		int rc = make_certificates(srv, cert_path, key_path, sizeof(cert_path));
		if (rc == -1)
			fputs(
			    "mapihttp: warning: openssl(1) is not installed: the demo serves plain "
			    "HTTP, and the password crosses the loopback unencrypted\n",
			    stderr);
		else if (rc != 0) {
			openssl_failure(srv, rc);
			fputs("mapihttp: warning: no certificate: the demo serves plain HTTP, and "
			      "the password crosses the loopback unencrypted\n",
			      stderr);
		} else {
			cert = read_pem(cert_path);
			key = read_pem(key_path);
			srv->tls = cert != NULL && key != NULL;
			if (!srv->tls)
				fputs("mapihttp: warning: the certificate openssl made cannot be "
				      "read: the demo serves plain HTTP\n",
				      stderr);
		}
		/* The server keeps its own copy of the key: the file goes at once. */
		unlink(key_path);
	}

	mh_status st = mh_srv_store_open(&srv->store, NULL);
	if (st == S_OK)
		st = mh_srv_store_load_sample(srv->store);
	/* Listed before the server runs, so that no other thread is in the store yet. */
	if (st == S_OK)
		st = list_mailboxes(srv);
	mh_srv_mapi_options mo = MH_SRV_MAPI_OPTIONS_INIT;
	if (st == S_OK)
		st = mh_srv_mapi_new(&srv->mapi, srv->store, &mo);
	if (st == S_OK) {
		st = start_http(srv, cert, key);
		if (st == MAPI_E_NO_SUPPORT && srv->tls) {
			fputs("mapihttp: warning: this libmicrohttpd has no TLS: the demo serves "
			      "plain HTTP\n",
			      stderr);
			srv->tls = false;
			st = start_http(srv, NULL, NULL);
		}
	}
	free(cert);
	if (key != NULL) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	if (st != S_OK) {
		server_stop(srv);
		return st;
	}
	snprintf(srv->ad_url, sizeof(srv->ad_url), "%s/autodiscover/autodiscover.xml", srv->base);
	return S_OK;
}

/* ---- printing -------------------------------------------------------------------------------- */

static void print_field(const char *name, const char *value)
{
	char *shown = mh_cli_printable(value != NULL ? value : "(none)");
	printf("   %-17s %s\n", name, shown != NULL ? shown : "?");
	free(shown);
}

/* Hex in lines of 64 digits under a caption. */
static void print_eid(const char *caption, uint32_t cb, const ENTRYID *eid)
{
	char *hex = mh_cli_hex(eid, cb, true);
	printf("   %s (%u bytes):\n", caption, (unsigned)cb);
	for (size_t i = 0, len = hex != NULL ? strlen(hex) : 0; i < len; i += 64)
		printf("     %.64s\n", hex + i);
	free(hex);
}

/* A status and the session's detail, wrapped. */
static void print_status(mh_session *s, const char *what, mh_status st)
{
	const char *msg = s != NULL ? mh_session_errmsg(s) : "";
	/* The library's message may already name the call. */
	size_t wl = strlen(what);
	if (msg != NULL && strncmp(msg, what, wl) == 0 && msg[wl] == ':' && msg[wl + 1] == ' ')
		msg += wl + 2;
	char *text;
	if (st == S_OK)
		text = mh_cli_format("%s: S_OK", what);
	else
		text = mh_cli_format("%s: %s (0x%08X): %s", what, mh_status_str(st), (unsigned)st,
		                     msg != NULL && msg[0] != '\0' ? msg : mh_status_meaning(st));
	char *shown = text != NULL ? mh_cli_printable(text) : NULL;
	if (shown != NULL)
		print_para(3, 2, shown);
	free(shown);
	free(text);
}

/* How a logon went: owner or delegate, where. */
static void print_logon(const mh_store *st, bool where)
{
	mh_store_info info;
	mh_store_get_info(st, &info);
	char line[160];
	snprintf(line, sizeof(line), "%s logon (ResponseFlags 0x%02X: %s)",
	         info.owner ? "owner" : "delegate", info.response_flags,
	         info.owner ? "OwnerRight" : "no OwnerRight");
	print_field("logon", line);
	if (!where)
		return;
	print_field("display name", info.display_name);
	print_field("MailStore URL", info.mailstore_url);
}

/* Opens a folder tree and prints it; its status. */
static mh_status print_tree(mh_session *s, mh_store *st)
{
	mh_folder_entry *e = NULL;
	uint32_t count = 0;
	mh_status rc = mh_store_folder_tree(st, &e, &count);
	if (rc == S_OK) {
		uint64_t items = 0;
		for (uint32_t i = 0; i < count; i++)
			items += e[i].content_count;
		printf("   %u folders, %llu items:\n", (unsigned)count, (unsigned long long)items);
		rc = mh_cli_print_folders(stdout, "     ", e, count);
	} else {
		print_status(s, "folder tree", rc);
	}
	MAPIFreeBuffer(e);
	return rc;
}

static uint64_t requests_since(mh_session *s, uint64_t *mark)
{
	uint64_t now = mh_session_request_count(s), n = now - *mark;
	*mark = now;
	return n;
}

/* ---- the steps ------------------------------------------------------------------------------- */

static void step_title(int n, const char *title)
{
	printf("\n%d. %s\n", n, title);
}

/* 1: Autodiscover and logon; the alternative mailboxes. */
static void step_logon(mh_session *s, demo_story *story)
{
	mh_session_info info;
	mh_session_get_info(s, &info);
	print_field("display name", info.display_name);
	print_field("mailbox DN", info.mailbox_dn);
	print_field("MDB DN", info.mdb_dn);
	print_field("MailStore URL", info.mailstore_url);
	print_field("AddressBook URL", info.addressbook_url);
	print_logon(mh_session_primary(s), false);

	mh_mailbox_ref *refs = NULL;
	uint32_t count = 0;
	mh_status st = mh_session_list_mailboxes(s, &refs, &count);
	if (st != S_OK) {
		print_status(s, "mailboxes", st);
		deviation(story, "the mailbox list failed");
		return;
	}
	printf("   mailboxes it can open (its own, and Autodiscover's AlternativeMailbox "
	       "entries):\n");
	bool bob = false;
	for (uint32_t i = 0; i < count; i++) {
		char *name =
		    mh_cli_printable(refs[i].display_name != NULL ? refs[i].display_name : "");
		char *smtp =
		    mh_cli_printable(refs[i].smtp_address != NULL ? refs[i].smtp_address : "");
		printf("     %-9s %s <%s>\n", mh_mailbox_kind_str(refs[i].kind),
		       name != NULL ? name : "?", smtp != NULL ? smtp : "?");
		free(name);
		free(smtp);
		if (refs[i].smtp_address != NULL && strcasecmp(refs[i].smtp_address, DEMO_BOB) == 0)
			bob = true;
	}
	MAPIFreeBuffer(refs);
	if (!bob)
		deviation(story, "bob's mailbox is not among them");
}

/* Bob's DN and MDB DN, through NSPI ResolveNames. */
static mh_status resolve_bob(mh_session *s, mh_address_entry **e)
{
	const char *const names[] = {DEMO_BOB};
	mh_status st = mh_session_resolve(s, names, 1, e);
	if (st == S_OK &&
	    (!(*e)[0].resolved || (*e)[0].mailbox_dn == NULL || (*e)[0].mdb_dn == NULL)) {
		MAPIFreeBuffer(*e);
		*e = NULL;
		st = MAPI_E_NOT_FOUND;
	}
	return st;
}

/* 2: the v1 EntryID fails as in Outlook. */
static void step_v1(mh_session *s, const mh_address_entry *bob, demo_story *story)
{
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	mh_status st = mh_create_store_entryid(bob->mdb_dn, bob->mailbox_dn, DEMO_FLAGS, &cb, &eid);
	if (st != S_OK) {
		print_status(NULL, "CreateStoreEntryID", st);
		deviation(story, "CreateStoreEntryID failed");
		return;
	}
	print_eid("CreateStoreEntryID: a version 1 store EntryID", cb, eid);
	mh_store *store = NULL;
	st = mh_session_open_msg_store(&store, s, cb, eid, 0);
	MAPIFreeBuffer(eid);
	print_status(s, "OpenMsgStore", st);
	if (st == MAPI_E_CALL_FAILED) {
		print_para(
		    3, 0,
		    "This is the failure Outlook shows over MAPI/HTTP: the EntryID names a "
		    "server and a mailbox DN but carries no SMTP address, so the client cannot "
		    "Autodiscover the mailbox's own MAPI/HTTP endpoint.");
	} else {
		deviation(story, "a v1 EntryID should fail with MAPI_E_CALL_FAILED, not %s",
		          mh_status_str(st));
		mh_store_close(store);
	}
}

/* 3: the v3 EntryID opens bob's mailbox; his archive's opens the archive. */
static void step_v3(mh_session *s, const mh_address_entry *bob, demo_story *story)
{
	mh_cli_store_spec spec = {bob->mailbox_dn, bob->mdb_dn, DEMO_BOB, NULL};
	SPropValue *props = NULL;
	uint32_t n = 0, cb = 0;
	ENTRYID *eid = NULL;
	mh_status st = mh_cli_store_props(&props, &n, &spec);
	if (st == S_OK)
		st = mh_create_store_entryid2(n, props, DEMO_FLAGS, &cb, &eid);
	MAPIFreeBuffer(props);
	if (st != S_OK) {
		print_status(NULL, "CreateStoreEntryID2", st);
		deviation(story, "CreateStoreEntryID2 failed");
		return;
	}
	print_para(3, 2,
	           "CreateStoreEntryID2 with PR_PROFILE_MAILBOX, PR_PROFILE_MDB_DN, "
	           "PR_FORCE_USE_ENTRYID_SERVER and PR_PROFILE_USER_SMTP_ADDRESS_W "
	           "(" DEMO_BOB "):");
	print_eid("a version 3 store EntryID", cb, eid);
	mh_store *store = NULL;
	st = mh_session_open_msg_store(&store, s, cb, eid, 0);
	MAPIFreeBuffer(eid);
	print_status(s, "OpenMsgStore", st);
	if (st != S_OK) {
		deviation(story, "the v3 EntryID should open bob's mailbox");
	} else {
		print_logon(store, true);
		if (print_tree(s, store) != S_OK)
			deviation(story, "bob's folder tree should be readable");
		mh_store_close(store);
	}

	printf("\n   Bob's archive, from the v3 EntryID his Autodiscover answer gives:\n");
	cb = 0;
	eid = NULL;
	st = mh_session_mailbox_entryid(s, DEMO_BOB, true, &cb, &eid);
	if (st != S_OK) {
		print_status(s, "archive EntryID", st);
		deviation(story, "bob's archive should be found");
		return;
	}
	mh_store_entryid *parsed = NULL;
	if (mh_store_entryid_parse(&parsed, cb, eid) == S_OK) {
		print_field("its SMTP address", parsed->smtp_address);
		print_field("its mailbox DN", parsed->mailbox_dn);
	}
	MAPIFreeBuffer(parsed);
	store = NULL;
	st = mh_session_open_msg_store(&store, s, cb, eid, 0);
	MAPIFreeBuffer(eid);
	print_status(s, "OpenMsgStore", st);
	if (st != S_OK) {
		deviation(story, "the archive's v3 EntryID should open it");
		return;
	}
	print_logon(store, true);
	if (print_tree(s, store) != S_OK)
		deviation(story, "the archive's folder tree should be readable");
	mh_store_close(store);
}

/* 4: carol's mailbox: svc has no rights there. */
static void step_carol(mh_session *s, demo_story *story)
{
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	mh_status st = mh_session_mailbox_entryid(s, DEMO_CAROL, false, &cb, &eid);
	if (st != S_OK) {
		print_status(s, "carol's EntryID", st);
		deviation(story, "carol's mailbox should be found");
		return;
	}
	mh_store *store = NULL;
	st = mh_session_open_msg_store(&store, s, cb, eid, 0);
	MAPIFreeBuffer(eid);
	print_status(s, "OpenMsgStore", st);
	if (st == S_OK) {
		/* Exchange 2013 and later: a delegate logon; each folder checks the rights. */
		print_logon(store, true);
		st = print_tree(s, store);
		mh_store_close(store);
	}
	if (st == MAPI_E_NO_ACCESS)
		print_para(3, 0,
		           "Refused, as it should be: svc has no rights on carol's mailbox. The "
		           "server's own code is in the message.");
	else
		deviation(story, "carol's mailbox should be refused with MAPI_E_NO_ACCESS, not %s",
		          mh_status_str(st));
}

/* One scan result, kept past the callback. */
typedef struct scan_row {
	char *mailbox;
	mh_mailbox_kind kind;
	mh_status status;
	char *message;
	uint32_t folders;
	uint64_t items, bytes, ms;
	size_t order; /* the mailbox's place in the organisation's list */
} scan_row;

typedef struct scan_rows {
	scan_row *rows;
	size_t n, cap;
	bool oom;
	const demo_server *srv;
} scan_rows;

static bool on_scan_result(void *ud, const mh_scan_result *r)
{
	scan_rows *sr = ud;
	if (sr->n == sr->cap) {
		size_t cap = sr->cap != 0 ? 2 * sr->cap : 16;
		scan_row *nr = realloc(sr->rows, cap * sizeof(*nr));
		if (nr == NULL) {
			sr->oom = true;
			return false;
		}
		sr->rows = nr;
		sr->cap = cap;
	}
	scan_row *sr_row = &sr->rows[sr->n];
	sr_row->mailbox = strdup(r->mailbox != NULL ? r->mailbox : "");
	sr_row->message = strdup(r->message != NULL ? r->message : "");
	if (sr_row->mailbox == NULL || sr_row->message == NULL) {
		free(sr_row->mailbox);
		free(sr_row->message);
		sr->oom = true;
		return false;
	}
	sr_row->kind = r->kind;
	sr_row->status = r->status;
	sr_row->folders = r->folders;
	sr_row->items = r->items;
	sr_row->bytes = r->bytes;
	sr_row->ms = r->ms;
	sr_row->order = sr->srv->n_mailboxes;
	for (size_t i = 0; i < sr->srv->n_mailboxes; i++)
		if (strcasecmp(sr->srv->mailboxes[i], sr_row->mailbox) == 0) {
			sr_row->order = i;
			break;
		}
	sr->n++;
	return true;
}

/* The organisation's order, the archive after its mailbox. */
static int compare_rows(const void *pa, const void *pb)
{
	const scan_row *a = pa, *b = pb;
	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	int c = strcasecmp(a->mailbox, b->mailbox);
	if (c != 0)
		return c;
	return (int)a->kind - (int)b->kind;
}

/* 5: every mailbox of the organisation and their archives, scanned at once. */
static void step_scan(mh_session *s, const demo_server *srv, demo_story *story)
{
	scan_rows sr = {NULL, 0, 0, false, srv};
	mh_scan_options o = MH_SCAN_OPTIONS_INIT;
	o.mailboxes = (const char *const *)srv->mailboxes;
	o.count = (uint32_t)srv->n_mailboxes;
	o.archives = true;
	o.concurrency = DEMO_SCAN_CONCURRENCY;
	o.on_result = on_scan_result;
	o.ud = &sr;
	mh_scan_summary sum;
	memset(&sum, 0, sizeof(sum));
	mh_status st = mh_scan(s, &o, &sum);
	if (sr.oom)
		st = mh_error_oom();
	if (st != S_OK) {
		print_status(s, "scan", st);
		deviation(story, "the scan should run to its end");
	}
	qsort(sr.rows, sr.n, sizeof(*sr.rows), compare_rows);

	int w_mbx = (int)strlen("mailbox"), w_status = (int)strlen("status");
	for (size_t i = 0; i < sr.n; i++) {
		int l = (int)strlen(sr.rows[i].mailbox);
		if (l > w_mbx && l <= 64)
			w_mbx = l;
		l = (int)strlen(mh_status_str(sr.rows[i].status));
		if (l > w_status)
			w_status = l;
	}
	printf("   %-*s  %-8s  %-*s  %7s  %6s  %9s  %6s\n", w_mbx, "mailbox", "kind", w_status,
	       "status", "folders", "items", "bytes", "ms");
	bool bob = false, bob_archive = false;
	for (size_t i = 0; i < sr.n; i++) {
		const scan_row *r = &sr.rows[i];
		char *shown = mh_cli_printable(r->mailbox);
		printf("   %-*s  %-8s  %-*s  %7u  %6llu  %9llu  %6llu\n", w_mbx,
		       shown != NULL ? shown : "?", mh_mailbox_kind_str(r->kind), w_status,
		       mh_status_str(r->status), (unsigned)r->folders, (unsigned long long)r->items,
		       (unsigned long long)r->bytes, (unsigned long long)r->ms);
		free(shown);
		if (strcasecmp(r->mailbox, DEMO_BOB) == 0 && r->status == S_OK) {
			if (r->kind == MH_MAILBOX_ARCHIVE)
				bob_archive = true;
			else
				bob = true;
		}
	}
	for (size_t i = 0; i < sr.n; i++) {
		const scan_row *r = &sr.rows[i];
		if (r->status == S_OK || r->message[0] == '\0')
			continue;
		char *text =
		    mh_cli_format("%s%s: %s", r->mailbox,
		                  r->kind == MH_MAILBOX_ARCHIVE ? " (archive)" : "", r->message);
		char *shown = text != NULL ? mh_cli_printable(text) : NULL;
		if (shown != NULL)
			print_para(3, 2, shown);
		free(shown);
		free(text);
	}
	printf("   %u mailboxes, %u stores: %u ok, %u failed; %llu HTTP requests, %llu ms\n",
	       (unsigned)sum.selected, (unsigned)(sum.ok + sum.failed), (unsigned)sum.ok,
	       (unsigned)sum.failed, (unsigned long long)sum.requests,
	       (unsigned long long)sum.elapsed_ms);
	if (st == S_OK && (!bob || !bob_archive))
		deviation(story, "the scan should read bob's mailbox and archive");
	for (size_t i = 0; i < sr.n; i++) {
		free(sr.rows[i].mailbox);
		free(sr.rows[i].message);
	}
	free(sr.rows);
}

static int demo_online(bool plain)
{
	/* The embedded server writes to sockets a client may have closed. */
	signal(SIGPIPE, SIG_IGN);
	demo_server srv;
	memset(&srv, 0, sizeof(srv));
	mh_status st = server_start(&srv, plain);
	if (st != S_OK)
		return mh_cli_fail(st);

	printf("mapihttp demo: opening other mailboxes over MAPI/HTTP, hub and spoke\n");
	print_field("server", srv.base);
	print_field("organisation", "the sample (" DEMO_DOMAIN "), in this process");
	print_field("TLS", srv.tls ? "a CA made for this run, the client's only trust"
	                           : "none: plain HTTP");
	print_field("identity", DEMO_USER " (Basic)");

	demo_story story = {0};
	mh_session_options o = MH_SESSION_OPTIONS_INIT;
	o.user = DEMO_USER;
	o.auth.scheme = MH_AUTH_BASIC;
	o.auth.user = DEMO_USER;
	o.auth.secret = DEMO_PASSWORD;
	o.autodiscover_url = srv.ad_url;
	o.allow_http = !srv.tls;
	o.cacert = srv.tls ? srv.ca_path : NULL;
	o.keep_alive = false;

	step_title(1, "Autodiscover and logon as " DEMO_USER);
	mh_session *s = NULL;
	st = mh_session_open(&s, &o);
	if (st != S_OK) {
		/* Nothing else can run without the session. */
		const mh_error *e = mh_error_last();
		printf("   mh_session_open: %s: %s\n", mh_status_str(st),
		       e != NULL && e->status == st && e->message != NULL ? e->message
		                                                          : mh_status_meaning(st));
		server_stop(&srv);
		return mh_cli_fail(st);
	}
	uint64_t mark = 0;
	step_logon(s, &story);
	printf("   (%llu HTTP requests)\n", (unsigned long long)requests_since(s, &mark));

	mh_address_entry *bob = NULL;
	step_title(2, "Bob's mailbox from a version 1 store EntryID (CreateStoreEntryID)");
	st = resolve_bob(s, &bob);
	if (st != S_OK) {
		print_status(s, "NSPI ResolveNames " DEMO_BOB, st);
		deviation(&story, "bob should resolve in the address book");
	} else {
		printf("   NSPI ResolveNames " DEMO_BOB ":\n");
		print_field("mailbox DN", bob->mailbox_dn);
		print_field("MDB DN", bob->mdb_dn);
		step_v1(s, bob, &story);
	}
	printf("   (%llu HTTP requests)\n", (unsigned long long)requests_since(s, &mark));

	step_title(3, "Bob's mailbox and archive from version 3 store EntryIDs "
	              "(CreateStoreEntryID2)");
	if (bob != NULL)
		step_v3(s, bob, &story);
	MAPIFreeBuffer(bob);
	printf("   (%llu HTTP requests)\n", (unsigned long long)requests_since(s, &mark));

	step_title(4, "Carol's mailbox: no rights");
	step_carol(s, &story);
	printf("   (%llu HTTP requests)\n", (unsigned long long)requests_since(s, &mark));

	step_title(5, "Every mailbox of the organisation and the archives, scanned together");
	step_scan(s, &srv, &story);

	mh_session_close(s);
	server_stop(&srv);
	if (story.deviations > 0) {
		mh_error_set(MAPI_E_CALL_FAILED, -1,
		             "the demo did not go as expected (%u step%s above marked UNEXPECTED)",
		             story.deviations, story.deviations == 1 ? "" : "s");
		return mh_cli_fail(MAPI_E_CALL_FAILED);
	}
	printf("\nEverything went as expected: a v1 EntryID fails over MAPI/HTTP, a v3 one "
	       "opens the mailbox.\n");
	return MH_CLI_EXIT_OK;
}

int mh_cli_demo_main(int argc, char **argv)
{
	enum { OPT_MAILBOX = 256, OPT_MDB, OPT_SMTP, OPT_OFFLINE, OPT_HTTP };
	static const struct option longopts[] = {
	    {"mailbox-dn", required_argument, NULL, OPT_MAILBOX},
	    {"mdb-dn", required_argument, NULL, OPT_MDB},
	    {"smtp", required_argument, NULL, OPT_SMTP},
	    {"offline", no_argument, NULL, OPT_OFFLINE},
	    {"http", no_argument, NULL, OPT_HTTP},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	demo_ctx d = {{SAMPLE_MAILBOX_DN, SAMPLE_MDB_DN, SAMPLE_SMTP}, {0}, {0}, false};
	bool offline = false, http = false;
	const char *offline_only = NULL;
	int opt;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_MAILBOX:
			d.mbx.mailbox_dn = optarg;
			offline_only = "--mailbox-dn";
			break;
		case OPT_MDB:
			d.mbx.mdb_dn = optarg;
			offline_only = "--mdb-dn";
			break;
		case OPT_SMTP:
			d.mbx.smtp = optarg;
			offline_only = "--smtp";
			break;
		case OPT_OFFLINE:
			offline = true;
			break;
		case OPT_HTTP:
			http = true;
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
	/* A mailbox of one's own to compare is the offline demo's. */
	if (offline_only != NULL)
		offline = true;
	if (offline && http)
		return mh_cli_usage("demo", "demo", "--http and %s: the offline demo has no server",
		                    offline_only != NULL ? offline_only : "--offline");
	if (!offline)
		return demo_online(http);
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
