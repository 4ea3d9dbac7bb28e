/*
 * `mapihttp scan`: counts the folders, items and bytes of many mailboxes (and their archives)
 * with mh_scan, one NDJSON line per mailbox on stdout, a progress bar on a terminal's stderr.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "mapihttp/scan.h"
#include "util/utf.h"

/* Longest line of a mailbox file: an address is at most 320 bytes. */
#define MAX_LINE 4096u

enum { OPT_MAILBOXES = 300, OPT_ARCHIVES, OPT_CONCURRENCY, OPT_CHECKPOINT, OPT_SHARD };

typedef struct scan_args {
	const char *mailboxes; /* FILE or "-" */
	bool archives;
	unsigned concurrency;
	const char *checkpoint;
	uint32_t shard_k, shard_n;
} scan_args;

void mh_cli_scan_help(FILE *out)
{
	fputs("Usage: mapihttp scan [options] [--mailboxes FILE|-] [EMAIL...]\n"
	      "\n"
	      "Open every listed mailbox as the --user identity and count what its IPM\n"
	      "subtree holds: folders, items (the sum of their PidTagContentCount) and bytes\n"
	      "(the sum of their PidTagMessageSizeExtended, or the store's total when the\n"
	      "server keeps no folder sizes). Each mailbox is Autodiscovered, connected to\n"
	      "on its own endpoint with the identity's DN, logged on to and read in one\n"
	      "Execute; N of them run at once on one thread. A mailbox that fails (no\n"
	      "rights, unknown address, too many redirects, the network) is reported with\n"
	      "its status and the scan goes on.\n"
	      "\n"
	      "Mailboxes:\n"
	      "  --mailboxes FILE|-      one SMTP address per line ('-': standard input);\n"
	      "                          blank lines and lines starting with '#' are\n"
	      "                          skipped; a word after the address must be a '#'\n"
	      "                          comment. EMAIL operands are added to the list.\n"
	      "                          Duplicates (whatever their case) are scanned once.\n"
	      "  --archives              also scan each mailbox's archive, from its\n"
	      "                          Autodiscover answer (kind \"archive\")\n"
	      "  --concurrency N         mailboxes in flight, 1 to 256 (default 8); each\n"
	      "                          holds a session context: when the server refuses\n"
	      "                          one (MAPI_E_SESSION_LIMIT), the mailbox waits for\n"
	      "                          another to end and fewer run at once\n"
	      "  --checkpoint FILE       resume from FILE and append to it: one line per\n"
	      "                          finished mailbox or archive, written before it is\n"
	      "                          printed; mailboxes whose lines are all there are\n"
	      "                          skipped, none is reported twice, and a last line\n"
	      "                          cut short by a crash is ignored\n"
	      "  --shard K/N             only the mailboxes whose lowercased address hashes\n"
	      "                          (FNV-1a, 32 bits) to K modulo N, 0 <= K < N: N\n"
	      "                          machines split one list without talking\n"
	      "\n"
	      "Output: one JSON object per line on stdout for each mailbox (and archive), in\n"
	      "the order they finish:\n"
	      "  {\"mailbox\":\"bob@contoso.com\",\"kind\":\"primary\",\"status\":\"ok\",\n"
	      "   \"folders\":14,\"items\":1210,\"bytes\":73400320,\"ms\":412,\"requests\":5}\n"
	      "mailbox is the address as listed, kind \"primary\" or \"archive\", status \"ok\"\n"
	      "or the MAPI status name (MAPI_E_NO_ACCESS, MAPI_E_NOT_FOUND, ...); a failed\n"
	      "mailbox also has \"error\", the one-line reason with the server's code.\n"
	      "ms is the wall time of that mailbox, requests its HTTP requests (Autodiscover\n"
	      "included). When stderr is a terminal a progress bar is drawn there.\n"
	      "\n",
	      out);
	mh_cli_identity_help(out);
	fputs("\n--json changes nothing: the output is always one JSON object per line.\n"
	      "\nExit status: 0 every mailbox ok, 3 the scan ran but some mailboxes failed,\n"
	      "1 the scan could not run (logon of the identity, the checkpoint file),\n"
	      "2 usage error.\n",
	      out);
}

/* ---- options -------------------------------------------------------------------------- */

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_shard(const char *s, uint32_t *k, uint32_t *n)
{
	const char *slash = strchr(s, '/');
	if (slash == NULL || (size_t)(slash - s) >= 16)
		return false;
	char kbuf[16];
	memcpy(kbuf, s, (size_t)(slash - s));
	kbuf[slash - s] = '\0';
	unsigned long kv, nv;
	if (!parse_uint(kbuf, UINT32_MAX, &kv) || !parse_uint(slash + 1, UINT32_MAX, &nv) ||
	    nv == 0 || kv >= nv)
		return false;
	*k = (uint32_t)kv;
	*n = (uint32_t)nv;
	return true;
}

static int on_option(void *ud, int opt, const char *arg)
{
	scan_args *a = ud;
	unsigned long v;
	switch (opt) {
	case OPT_MAILBOXES:
		if (arg[0] == '\0')
			return mh_cli_usage("scan", "scan", "--mailboxes is empty");
		a->mailboxes = arg;
		return MH_CLI_CONTINUE;
	case OPT_ARCHIVES:
		a->archives = true;
		return MH_CLI_CONTINUE;
	case OPT_CONCURRENCY:
		if (!parse_uint(arg, 256, &v) || v == 0)
			return mh_cli_usage("scan", "scan",
			                    "--concurrency takes a number from 1 to 256, not '%s'",
			                    arg);
		a->concurrency = (unsigned)v;
		return MH_CLI_CONTINUE;
	case OPT_CHECKPOINT:
		if (arg[0] == '\0')
			return mh_cli_usage("scan", "scan", "--checkpoint is empty");
		a->checkpoint = arg;
		return MH_CLI_CONTINUE;
	case OPT_SHARD:
		if (!parse_shard(arg, &a->shard_k, &a->shard_n))
			return mh_cli_usage("scan", "scan",
			                    "--shard takes K/N with 0 <= K < N, not '%s'", arg);
		return MH_CLI_CONTINUE;
	default:
		return MH_CLI_EXIT_USAGE;
	}
}

/* ---- the list ------------------------------------------------------------------------- */

typedef struct list {
	char **v;
	uint32_t n, cap;
} list;

static bool list_add(list *l, const char *s, size_t len)
{
	if (l->n == l->cap) {
		uint32_t cap = l->cap == 0 ? 64 : l->cap * 2;
		char **v = cap > l->cap ? realloc(l->v, cap * sizeof(*v)) : NULL;
		if (v == NULL)
			return false;
		l->v = v;
		l->cap = cap;
	}
	char *p = malloc(len + 1);
	if (p == NULL)
		return false;
	memcpy(p, s, len);
	p[len] = '\0';
	l->v[l->n++] = p;
	return true;
}

static void list_free(list *l)
{
	for (uint32_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* One line: an address, then nothing or a '#' comment. */
static int read_line(list *l, const char *name, unsigned long lineno, const char *line)
{
	const char *p = line;
	while (is_space(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return MH_CLI_CONTINUE;
	const char *start = p;
	while (*p != '\0' && !is_space(*p))
		p++;
	size_t len = (size_t)(p - start);
	while (is_space(*p))
		p++;
	if (*p != '\0' && *p != '#')
		return mh_cli_usage("scan", "scan",
		                    "%s line %lu: one address per line (a second word must be a "
		                    "'#' comment)",
		                    name, lineno);
	if (!mh_utf8_valid(start, len))
		return mh_cli_usage("scan", "scan", "%s line %lu: the address is not UTF-8", name,
		                    lineno);
	if (memchr(start, '@', len) == NULL)
		return mh_cli_usage("scan", "scan", "%s line %lu: '%.*s' is not an SMTP address",
		                    name, lineno, (int)(len > 200 ? 200 : len), start);
	if (!list_add(l, start, len))
		return mh_cli_fail(mh_error_oom());
	return MH_CLI_CONTINUE;
}

static int read_list(list *l, const char *path)
{
	bool std = strcmp(path, "-") == 0;
	FILE *f = std ? stdin : fopen(path, "r");
	const char *name = std ? "standard input" : path;
	if (f == NULL)
		return mh_cli_usage("scan", "scan", "--mailboxes %s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	int rc = MH_CLI_CONTINUE;
	errno = 0;
	while (rc == MH_CLI_CONTINUE && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if ((size_t)n > MAX_LINE)
			rc = mh_cli_usage("scan", "scan", "%s line %lu: longer than %u bytes", name,
			                  lineno, MAX_LINE);
		else if (memchr(line, '\0', (size_t)n) != NULL)
			rc = mh_cli_usage("scan", "scan", "%s line %lu: a NUL byte", name, lineno);
		else
			rc = read_line(l, name, lineno, line);
	}
	if (rc == MH_CLI_CONTINUE && ferror(f))
		rc = mh_cli_usage("scan", "scan", "--mailboxes %s: %s", path, strerror(errno));
	free(line);
	if (!std)
		fclose(f);
	return rc;
}

/* ---- output --------------------------------------------------------------------------- */

typedef struct out_state {
	bool tty;        /* stderr is a terminal: draw the bar */
	bool bar_shown;  /* a bar is on the line now */
	bool write_fail; /* stdout could not be written */
	uint32_t results;
} out_state;

static void bar_clear(out_state *o)
{
	if (o->bar_shown) {
		fputs("\r\033[K", stderr);
		o->bar_shown = false;
	}
}

static void on_progress(void *ud, uint32_t done, uint32_t total)
{
	out_state *o = ud;
	if (!o->tty || total == 0)
		return;
	enum { WIDTH = 40 };
	unsigned fill = (unsigned)((uint64_t)done * WIDTH / total);
	char bar[WIDTH + 1];
	for (unsigned i = 0; i < WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[WIDTH] = '\0';
	fprintf(stderr, "\r[%s] %u/%u mailboxes", bar, done, total);
	fflush(stderr);
	o->bar_shown = true;
}

static bool on_result(void *ud, const mh_scan_result *r)
{
	out_state *o = ud;
	json_t *j = json_object();
	bool bad = j == NULL;
	if (!bad)
		bad = json_object_set_new(j, "mailbox", mh_cli_json_utf8(r->mailbox)) != 0 ||
		      json_object_set_new(j, "kind", json_string(mh_mailbox_kind_str(r->kind))) !=
		          0 ||
		      json_object_set_new(
		          j, "status",
		          json_string(r->status == S_OK ? "ok" : mh_status_str(r->status))) != 0 ||
		      json_object_set_new(j, "folders", json_integer(r->folders)) != 0 ||
		      json_object_set_new(j, "items", json_integer((json_int_t)r->items)) != 0 ||
		      json_object_set_new(j, "bytes", json_integer((json_int_t)r->bytes)) != 0 ||
		      json_object_set_new(j, "ms", json_integer((json_int_t)r->ms)) != 0 ||
		      json_object_set_new(j, "requests", json_integer(r->requests)) != 0;
	if (!bad && r->status != S_OK)
		bad = json_object_set_new(j, "error", mh_cli_json_utf8(r->message)) != 0;
	char *text = bad ? NULL : json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	bar_clear(o);
	if (text == NULL) {
		o->write_fail = true;
		return false;
	}
	/* Each line goes out whole and at once, so a reader of a pipe follows the scan. */
	bool ok = fputs(text, stdout) >= 0 && fputc('\n', stdout) != EOF && fflush(stdout) == 0;
	free(text);
	if (!ok) {
		o->write_fail = true;
		return false;
	}
	o->results++;
	return true;
}

/* ---- the command ---------------------------------------------------------------------- */

int mh_cli_scan_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"mailboxes", required_argument, NULL, OPT_MAILBOXES},
	    {"archives", no_argument, NULL, OPT_ARCHIVES},
	    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
	    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
	    {"shard", required_argument, NULL, OPT_SHARD},
	    {NULL, 0, NULL, 0}};
	scan_args a;
	memset(&a, 0, sizeof(a));
	const mh_cli_command cmd = {"scan", "scan", mh_cli_scan_help, longopts, on_option, &a};
	mh_cli_identity id;
	int first = 0;
	int rc = mh_cli_identity_parse(&id, &cmd, argc, argv, &first);
	list l = {NULL, 0, 0};
	if (rc == MH_CLI_CONTINUE && a.mailboxes != NULL)
		rc = read_list(&l, a.mailboxes);
	for (int i = first; i < argc && rc == MH_CLI_CONTINUE; i++)
		rc = read_line(&l, "the command line", (unsigned long)(i - first + 1), argv[i]);
	if (rc == MH_CLI_CONTINUE && l.n == 0)
		rc = mh_cli_usage("scan", "scan",
		                  "no mailbox to scan: give --mailboxes FILE or EMAIL...");
	if (rc == MH_CLI_CONTINUE)
		rc = mh_cli_identity_require_user(&id, &cmd);
	if (rc != MH_CLI_CONTINUE) {
		list_free(&l);
		mh_cli_identity_free(&id);
		return rc;
	}

	mh_transport *t = NULL;
	mh_session *s = NULL;
	mh_status st = mh_cli_identity_transport(&id, &t);
	if (st == S_OK) {
		mh_session_options so;
		mh_cli_identity_session_options(&id, t, &so);
		st = mh_session_open(&s, &so);
	}
	/* The session keeps its own copy of the credentials. */
	mh_cli_identity_free(&id);
	if (st != S_OK) {
		list_free(&l);
		mh_transport_free(t);
		return mh_cli_fail(st);
	}
	mh_cli_verbose(&id, "logged on as %s; scanning %u mailboxes", id.user, l.n);

	out_state o;
	memset(&o, 0, sizeof(o));
	o.tty = isatty(STDERR_FILENO) == 1;
	mh_scan_options so = MH_SCAN_OPTIONS_INIT;
	so.mailboxes = (const char *const *)l.v;
	so.count = l.n;
	so.archives = a.archives;
	so.concurrency = a.concurrency;
	so.checkpoint = a.checkpoint;
	so.shard_k = a.shard_k;
	so.shard_n = a.shard_n;
	so.on_result = on_result;
	so.on_progress = on_progress;
	so.ud = &o;
	mh_scan_summary sum;
	st = mh_scan(s, &so, &sum);
	bar_clear(&o);
	if (st == S_OK || st == MAPI_E_USER_CANCEL)
		mh_cli_verbose(
		    &id,
		    "%u mailboxes selected, %u skipped (checkpoint); stores: %u ok, %u failed; "
		    "%llu requests, %llu ms",
		    sum.selected, sum.skipped, sum.ok, sum.failed, (unsigned long long)sum.requests,
		    (unsigned long long)sum.elapsed_ms);
	if (o.write_fail) {
		fprintf(stderr, "mapihttp scan: standard output could not be written\n");
		rc = MH_CLI_EXIT_ERROR;
	} else if (st != S_OK) {
		rc = mh_cli_session_fail(s, st);
	} else {
		rc = sum.failed > 0 ? MH_CLI_EXIT_PARTIAL : MH_CLI_EXIT_OK;
	}
	mh_session_close(s);
	mh_transport_free(t);
	list_free(&l);
	return rc;
}
