/*
 * `mapihttp messages PATH`: the messages of one folder, newest first, from its contents
 * table; subjects the server cut short in the table are read whole from the message.
 */
#define _DEFAULT_SOURCE /* gmtime_r, strcasecmp */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli.h"

/* Tags the public headers do not name. */
#define PR_SENDER_NAME_W         PROP_TAG(PT_UNICODE, 0x0C1A)
#define PR_SENDER_SMTP_ADDRESS_W PROP_TAG(PT_UNICODE, 0x5D01)

/* The contents table's columns, in this order. */
enum { COL_MID, COL_SUBJECT, COL_SENDER_NAME, COL_SENDER_SMTP, COL_RECEIVED, COL_SIZE, N_COLS };

/* Rows asked for per QueryRows when there is no --limit. */
#define PAGE_ROWS 256u
#define MAX_LIMIT 1000000u

void mh_cli_messages_help(FILE *out)
{
	fputs("Usage: mapihttp messages [options] [--mailbox EMAIL | --archive[=EMAIL] |\n"
	      "                         --entryid HEX [--upgrade-v1]] [--limit N] PATH\n"
	      "\n"
	      "Open one store as the --user identity and list the messages of the folder\n"
	      "PATH, newest first: received time (ISO 8601, UTC), size in bytes, sender and\n"
	      "subject. PATH is a well-known folder name (inbox, sentitems, deleteditems,\n"
	      "drafts, outbox, ...; the same in any mailbox language) or a folder path under\n"
	      "the top of the mailbox, '/' between names (\"Inbox/Projects\"; case does not\n"
	      "matter; a '/' inside a name is written \\/; \"<inbox>/Projects\" starts from a\n"
	      "well-known folder). With --json: an array of {subject, from, received, size}.\n"
	      "\n"
	      "  --limit N               list at most the N newest messages\n"
	      "\n",
	      out);
	mh_cli_help_end(out, true);
}

/* What is printed of one message; strings are MAPI buffers or point into the rowset. */
typedef struct msg_line {
	const char *subject; /* NULL: none */
	const char *from;    /* NULL: none */
	char received[24];   /* "" when absent */
	bool has_size;
	uint32_t size;
	SPropValue *full; /* the subject read whole, or NULL */
} msg_line;

/* The value of column col, or NULL when the row has none (PT_ERROR) or another type. */
static const SPropValue *column(const mh_row *row, uint32_t col, uint32_t tag)
{
	if (col >= row->count || row->props[col].ulPropTag != tag)
		return NULL;
	return &row->props[col];
}

static const char *column_text(const mh_row *row, uint32_t col, uint32_t tag)
{
	const SPropValue *v = column(row, col, tag);
	return v != NULL ? v->Value.lpszW : NULL;
}

/* A FILETIME as "2024-03-10T09:15:00Z"; "" when it does not fit a time_t or gmtime. */
static void iso8601(char out[24], FILETIME ft)
{
	out[0] = '\0';
	uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
	const uint64_t epoch = 116444736000000000ull; /* 1970-01-01 in FILETIME units */
	if (t < epoch)
		return;
	time_t secs = (time_t)((t - epoch) / 10000000u);
	struct tm tm;
	if (gmtime_r(&secs, &tm) == NULL)
		return;
	strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static mh_status fill_line(mh_table *t, const mh_row *row, msg_line *l)
{
	memset(l, 0, sizeof(*l));
	l->subject = column_text(row, COL_SUBJECT, PR_SUBJECT_W);
	if (l->subject != NULL && row->truncated != NULL && row->truncated[COL_SUBJECT]) {
		mh_status st = mh_table_read_full(t, row, COL_SUBJECT, &l->full);
		if (st != S_OK)
			return st;
		if (l->full != NULL && l->full->ulPropTag == PR_SUBJECT_W)
			l->subject = l->full->Value.lpszW;
	}
	l->from = column_text(row, COL_SENDER_NAME, PR_SENDER_NAME_W);
	if (l->from == NULL || l->from[0] == '\0')
		l->from = column_text(row, COL_SENDER_SMTP, PR_SENDER_SMTP_ADDRESS_W);
	const SPropValue *v = column(row, COL_RECEIVED, PR_MESSAGE_DELIVERY_TIME);
	if (v != NULL)
		iso8601(l->received, v->Value.ft);
	v = column(row, COL_SIZE, PR_MESSAGE_SIZE);
	if (v != NULL) {
		l->has_size = true;
		l->size = v->Value.ul;
	}
	return S_OK;
}

/* Display width of UTF-8 text, one column per code point. */
static size_t columns(const char *s)
{
	size_t n = 0;
	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static int print_text(const msg_line *lines, size_t n)
{
	char **from = calloc(n + 1, sizeof(*from));
	char **subject = calloc(n + 1, sizeof(*subject));
	bool oom = from == NULL || subject == NULL;
	size_t from_w = 4;
	for (size_t i = 0; i < n && !oom; i++) {
		from[i] = mh_cli_printable(lines[i].from != NULL ? lines[i].from : "");
		subject[i] = mh_cli_printable(lines[i].subject != NULL ? lines[i].subject : "");
		oom = from[i] == NULL || subject[i] == NULL;
		if (!oom && columns(from[i]) > from_w)
			from_w = columns(from[i]);
	}
	if (!oom) {
		printf("%-20s  %8s  %-*s  %s\n", "received", "size", (int)from_w, "from",
		       "subject");
		for (size_t i = 0; i < n; i++) {
			char size[16] = "-";
			if (lines[i].has_size)
				snprintf(size, sizeof(size), "%" PRIu32, lines[i].size);
			printf("%-20s  %8s  %s%*s  %s\n",
			       lines[i].received[0] != '\0' ? lines[i].received : "-", size,
			       from[i], (int)(from_w - columns(from[i])), "", subject[i]);
		}
	}
	for (size_t i = 0; i < n && from != NULL && subject != NULL; i++) {
		free(from[i]);
		free(subject[i]);
	}
	free(from);
	free(subject);
	return oom ? mh_cli_fail(mh_error_oom()) : MH_CLI_EXIT_OK;
}

static void json_message(json_t *o, size_t i, const void *ud, bool *failed)
{
	const msg_line *l = (const msg_line *)ud + i;
	mh_cli_json_set(o, "subject", mh_cli_json_text(l->subject), failed);
	mh_cli_json_set(o, "from", mh_cli_json_text(l->from), failed);
	mh_cli_json_set(o, "received",
	                l->received[0] != '\0' ? json_string(l->received) : json_null(), failed);
	mh_cli_json_set(o, "size", l->has_size ? json_integer(l->size) : json_null(), failed);
}

/* ---- the folder ------------------------------------------------------------------------ */

/* The names mh_store_well_known_fid knows. */
static const char *const well_known[] = {
    "root",     "ipmsubtree",  "inbox",    "outbox",    "sentitems", "deleteditems", "drafts",
    "calendar", "contacts",    "tasks",    "notes",     "journal",   "junkemail",    "search",
    "views",    "commonviews", "schedule", "shortcuts", "spooler",
};

/* PATH as a well-known name (any case) or a folder path. */
static mh_status open_folder(mh_folder **out, mh_store *st, const char *path)
{
	for (size_t i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++) {
		if (strcasecmp(path, well_known[i]) != 0)
			continue;
		uint64_t fid = 0;
		mh_status s = mh_store_well_known_fid(st, well_known[i], &fid);
		if (s == S_OK)
			return mh_store_open_folder(out, st, fid);
		/* A folder of the user's may carry the name: try it as a path. */
		if (s != MAPI_E_NOT_FOUND)
			return s;
		break;
	}
	return mh_store_open_folder_path(out, st, path);
}

/* Reads up to limit rows (0: all), newest first, into *lines. */
static mh_status read_messages(mh_folder *f, uint32_t limit, msg_line **lines, size_t *n,
                               mh_rowset ***sets, size_t *n_sets)
{
	static const struct {
		uint32_t cValues;
		uint32_t tags[N_COLS];
	} cols = {N_COLS,
	          {PR_MID, PR_SUBJECT_W, PR_SENDER_NAME_W, PR_SENDER_SMTP_ADDRESS_W,
	           PR_MESSAGE_DELIVERY_TIME, PR_MESSAGE_SIZE}};
	SPropTagArray *columns_arr = malloc(CbNewSPropTagArray(N_COLS));
	if (columns_arr == NULL)
		return mh_error_oom();
	columns_arr->cValues = cols.cValues;
	memcpy(columns_arr->aulPropTag, cols.tags, sizeof(cols.tags));

	mh_table *t = NULL;
	mh_status st = mh_folder_contents_table(&t, f, 0);
	if (st == S_OK)
		st = mh_table_set_columns(t, columns_arr);
	free(columns_arr);
	const mh_sort_order newest = {PR_MESSAGE_DELIVERY_TIME, true};
	if (st == S_OK)
		st = mh_table_sort(t, &newest, 1);
	size_t cap = 0;
	while (st == S_OK && (limit == 0 || *n < limit)) {
		uint32_t want = limit == 0 ? PAGE_ROWS : limit - (uint32_t)*n;
		mh_rowset *rows = NULL;
		st = mh_table_query_rows(t, want, &rows);
		if (st != S_OK)
			break;
		if (rows == NULL || rows->count == 0) {
			MAPIFreeBuffer(rows);
			break;
		}
		mh_rowset **ns = realloc(*sets, (*n_sets + 1) * sizeof(*ns));
		if (ns == NULL) {
			MAPIFreeBuffer(rows);
			st = mh_error_oom();
			break;
		}
		*sets = ns;
		(*sets)[(*n_sets)++] = rows;
		if (*n + rows->count > cap) {
			size_t ncap = cap * 2 > *n + rows->count ? cap * 2 : *n + rows->count;
			msg_line *nl = realloc(*lines, ncap * sizeof(*nl));
			if (nl == NULL) {
				st = mh_error_oom();
				break;
			}
			*lines = nl;
			cap = ncap;
		}
		for (uint32_t i = 0; i < rows->count && st == S_OK; i++) {
			st = fill_line(t, &rows->rows[i], &(*lines)[*n]);
			if (st == S_OK)
				(*n)++;
		}
	}
	mh_table_close(t);
	return st;
}

/* ---- the command ----------------------------------------------------------------------- */

typedef struct messages_args {
	mh_cli_store_choice choice;
	uint32_t limit;   /* 0: all */
	const char *path; /* the operand */
} messages_args;

enum { OPT_LIMIT = 300 };

static const struct option messages_opts[] = {
    MH_CLI_STORE_CHOICE_LONGOPTS,
    {"limit", required_argument, NULL, OPT_LIMIT},
    {NULL, 0, NULL, 0},
};

static int on_option(void *ud, int opt, const char *arg)
{
	messages_args *a = ud;
	if (opt != OPT_LIMIT)
		return mh_cli_store_choice_option(&a->choice, opt, arg);
	uint32_t v = 0;
	const char *p = arg;
	for (; *p >= '0' && *p <= '9' && v <= MAX_LIMIT; p++)
		v = v * 10 + (uint32_t)(*p - '0');
	if (p == arg || *p != '\0' || v == 0 || v > MAX_LIMIT)
		return mh_cli_usage("messages", "messages",
		                    "--limit takes a number of messages from 1 to %u, not '%s'",
		                    MAX_LIMIT, arg);
	a->limit = v;
	return MH_CLI_CONTINUE;
}

static int list_messages(mh_session *s, mh_store *st, const mh_cli_identity *id, void *ud)
{
	const messages_args *a = ud;
	mh_folder *f = NULL;
	msg_line *lines = NULL;
	size_t n = 0, n_sets = 0;
	mh_rowset **sets = NULL;
	int rc;
	mh_cli_verbose(id, "opening the folder %s", a->path);
	mh_status status = open_folder(&f, st, a->path);
	if (status == S_OK)
		status = read_messages(f, a->limit, &lines, &n, &sets, &n_sets);
	if (status != S_OK)
		rc = mh_cli_session_fail(s, status);
	else
		rc = id->json ? mh_cli_json_print_array(n, json_message, lines)
		              : print_text(lines, n);
	for (size_t i = 0; i < n; i++)
		MAPIFreeBuffer(lines[i].full);
	free(lines);
	for (size_t i = 0; i < n_sets; i++)
		MAPIFreeBuffer(sets[i]);
	free(sets);
	mh_folder_close(f);
	return rc;
}

static int run(int argc, char **argv)
{
	messages_args a;
	memset(&a, 0, sizeof(a));
	const mh_cli_command cmd = {"messages",    "messages", mh_cli_messages_help,
	                            messages_opts, on_option,  &a};
	a.choice.cmd = &cmd;
	mh_cli_identity id;
	int first = 0;
	int rc = mh_cli_identity_parse(&id, &cmd, argc, argv, &first);
	if (rc == MH_CLI_CONTINUE && first >= argc)
		rc = mh_cli_usage("messages", "messages",
		                  "no folder: give PATH (a folder path or a name such as inbox)");
	else if (rc == MH_CLI_CONTINUE && argc - first > 1)
		rc = mh_cli_usage("messages", "messages", "unexpected argument '%s'",
		                  argv[first + 1]);
	else if (rc == MH_CLI_CONTINUE && argv[first][0] == '\0')
		rc = mh_cli_usage("messages", "messages", "PATH is empty");
	if (rc == MH_CLI_CONTINUE)
		a.path = argv[first];
	return mh_cli_session_main(&id, &cmd, rc, &a.choice, list_messages, &a);
}

int mh_cli_messages_main(int argc, char **argv)
{
	return mh_cli_run_joined_archive(argc, argv, run);
}
