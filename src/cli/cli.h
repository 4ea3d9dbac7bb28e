/*
 * The mapihttp tool: subcommand entry points, exit codes and the output
 * functions (hex, JSON strings, aligned fields, error lines) they share.
 */
#ifndef MH_CLI_CLI_H
#define MH_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <getopt.h>

#include <jansson.h>

#include "mapihttp.h"
#include "autodiscover/discover.h"
#include "mapihttp/sys/transport.h"
#include "transport/loop.h"
#include "util/diag.h"

/* Exit statuses: 2 is reserved for command lines the tool cannot run. */
#define MH_CLI_EXIT_OK    0
#define MH_CLI_EXIT_ERROR 1
#define MH_CLI_EXIT_USAGE 2
/* scan: it ran, but some mailboxes failed. */
#define MH_CLI_EXIT_PARTIAL 3

/*
 * Subcommands. argv[0] is the subcommand's own name ("entryid", "demo");
 * each returns an exit status.
 */
int mh_cli_entryid_main(int argc, char **argv);
int mh_cli_demo_main(int argc, char **argv);
int mh_cli_discover_main(int argc, char **argv);
int mh_cli_resolve_main(int argc, char **argv);
int mh_cli_stores_main(int argc, char **argv);
int mh_cli_folders_main(int argc, char **argv);
int mh_cli_messages_main(int argc, char **argv);
int mh_cli_scan_main(int argc, char **argv);

/* Help texts, written to out; `mapihttp help <cmd>` and `<cmd> --help` share them. */
void mh_cli_entryid_help(FILE *out);
void mh_cli_demo_help(FILE *out);
void mh_cli_discover_help(FILE *out);
void mh_cli_resolve_help(FILE *out);
void mh_cli_stores_help(FILE *out);
void mh_cli_folders_help(FILE *out);
void mh_cli_messages_help(FILE *out);
void mh_cli_scan_help(FILE *out);

/*
 * The inputs of a store EntryID as CreateStoreEntryID2 reads them. NULL
 * (or, for fqdn, absent) members are left out of the property array.
 */
typedef struct mh_cli_store_spec {
	const char *mailbox_dn; /* PR_PROFILE_MAILBOX */
	const char *mdb_dn;     /* PR_PROFILE_MDB_DN */
	const char *smtp;       /* PR_PROFILE_USER_SMTP_ADDRESS_W */
	const char *fqdn;       /* PR_PROFILE_SERVER_FQDN_W */
} mh_cli_store_spec;

/*
 * Builds the SPropValue array for mh_create_store_entryid2 in one MAPI
 * buffer (strings chained with MAPIAllocateMore), always including
 * PR_FORCE_USE_ENTRYID_SERVER = true. Free *props with MAPIFreeBuffer.
 */
mh_status mh_cli_store_props(SPropValue **props, uint32_t *count, const mh_cli_store_spec *spec);

/* ---- identity and connection options (every network subcommand) ----------------- */

/*
 * Who the tool is and how it connects, from the shared options of mapihttp(1) and the
 * MAPIHTTP_USER, MAPIHTTP_PASSWORD and MAPIHTTP_TOKEN variables. The secret never comes
 * from argv.
 */
typedef struct mh_cli_identity {
	const char *user;                /* --user, else MAPIHTTP_USER; NULL when neither */
	mh_transport_auth_scheme scheme; /* --auth, else bearer with a token, else basic */
	const char *autodiscover_url;    /* --autodiscover-url; NULL: the candidate search */
	bool allow_http;                 /* autodiscover_url is http:// (warned about) */
	const char *cacert;              /* --cacert */
	bool insecure;                   /* --insecure (warned about) */
	bool json;                       /* --json */
	bool verbose;                    /* -v */
	uint32_t timeout_ms;             /* --timeout; never 0 */
	/* The password or token: malloc()ed, wiped and freed by mh_cli_identity_free. */
	char *secret;
	size_t secret_len;
} mh_cli_identity;

/* --timeout when it is not given. */
#define MH_CLI_DEFAULT_TIMEOUT_S 60u

/* Returned by the parser and option callbacks: go on with the command. */
#define MH_CLI_CONTINUE (-1)

/* What a subcommand adds to the shared options. */
typedef struct mh_cli_command {
	const char *name;      /* "discover": for "mapihttp discover: ..." */
	const char *help_name; /* the help to point at ("discover") */
	void (*help)(FILE *out);
	/* The command's own long options, {NULL} terminated (may be NULL); values 256..999. */
	const struct option *longopts;
	/*
	 * Called for each of them with getopt's value and optarg: MH_CLI_CONTINUE, or an exit
	 * status that stops the command (mh_cli_usage's, say).
	 */
	int (*on_option)(void *ud, int opt, const char *arg);
	void *ud;
} mh_cli_command;

/*
 * Parses argv (argv[0] is the subcommand) with the shared options and cmd's, reads the
 * password or token (--password-file, --token-file, MAPIHTTP_PASSWORD, MAPIHTTP_TOKEN;
 * a variable is removed from the environment once read) and checks that the chosen
 * --auth has what it needs. Long options must be spelled in full, so that no word such as
 * --password is ever taken for one of them. Prints the --insecure and plain-HTTP warnings.
 *
 * Returns MH_CLI_CONTINUE with *first_arg the index of the first operand, or an exit
 * status: MH_CLI_EXIT_OK after --help, MH_CLI_EXIT_USAGE (the message printed, id holds no
 * secret), or a status of cmd->on_option. *id is overwritten; free it with
 * mh_cli_identity_free in every case.
 */
int mh_cli_identity_parse(mh_cli_identity *id, const mh_cli_command *cmd, int argc, char **argv,
                          int *first_arg);

/* Wipes (explicit_bzero) and frees the secret; the other members stay. NULL is a no-op. */
void mh_cli_identity_free(mh_cli_identity *id);

/* The credentials to hand to the library; they point into id. */
mh_transport_auth mh_cli_identity_auth(const mh_cli_identity *id);

/* Autodiscover options from id: credentials, the explicit URL, allow_http, timeouts. */
void mh_cli_identity_discover_options(const mh_cli_identity *id, mh_ad_discover_options *o);

/*
 * The libcurl transport (--cacert, --insecure), wrapped with -v so that each request's
 * method, URL (without user information) and outcome is a line on stderr, and a loop on
 * it. Free with mh_loop_free(*loop), then mh_transport_free(*t). MAPI_E_NOT_ENOUGH_MEMORY
 * and the statuses of mh_transport_curl_new and mh_loop_new.
 */
mh_status mh_cli_identity_connect(const mh_cli_identity *id, mh_transport **t, mh_loop **loop);

/*
 * The transport of mh_cli_identity_connect alone (libcurl with --cacert and --insecure, wrapped
 * with -v), for callers that run no loop of their own: hand it to a session through
 * mh_cli_identity_session_options. Free with mh_transport_free after the session.
 */
mh_status mh_cli_identity_transport(const mh_cli_identity *id, mh_transport **t);

/*
 * Session options from id: the user, its credentials (pointing into id: open the session
 * before mh_cli_identity_free; the session keeps its own copy), --autodiscover-url and
 * allow_http, --cacert, --insecure, and --timeout as the connect, request and per-call
 * timeout. t (may be NULL: the session makes its own libcurl transport) is borrowed.
 */
void mh_cli_identity_session_options(const mh_cli_identity *id, mh_transport *t,
                                     mh_session_options *o);

/*
 * Opens a session as id: mh_cli_identity_transport, mh_cli_identity_session_options,
 * mh_session_open; with -v, says who logged on. Returns MH_CLI_CONTINUE with *s and *t (close
 * the session, then free the transport), or the exit status after printing the error line.
 */
int mh_cli_session_open(const mh_cli_identity *id, mh_session **s, mh_transport **t);

/* A session call's failure as the error line, with mh_session_errmsg() as the detail. */
int mh_cli_session_fail(const mh_session *s, mh_status status);

/* MH_CLI_CONTINUE when id has a user, else the usage status of "no identity" for cmd. */
int mh_cli_identity_require_user(const mh_cli_identity *id, const mh_cli_command *cmd);

/* ---- which store (folders, messages) ---------------------------------------------- */

/* --mailbox EMAIL, --archive[=EMAIL], --entryid HEX, --upgrade-v1. */
typedef struct mh_cli_store_choice {
	const mh_cli_command *cmd; /* the subcommand, for its usage lines */
	const char *mailbox;       /* --mailbox */
	bool archive;              /* --archive */
	const char *archive_of;    /* --archive=EMAIL */
	const char *entryid;       /* --entryid, hex */
	bool upgrade_v1;           /* --upgrade-v1 */
} mh_cli_store_choice;

/* Their getopt values, and their entries for a command's longopts. */
#define MH_CLI_OPT_MAILBOX    900
#define MH_CLI_OPT_ARCHIVE    901
#define MH_CLI_OPT_ENTRYID    902
#define MH_CLI_OPT_UPGRADE_V1 903
/* clang-format off */
#define MH_CLI_STORE_CHOICE_LONGOPTS                             \
	{"mailbox", required_argument, NULL, MH_CLI_OPT_MAILBOX}, \
	{"archive", optional_argument, NULL, MH_CLI_OPT_ARCHIVE}, \
	{"entryid", required_argument, NULL, MH_CLI_OPT_ENTRYID}, \
	{"upgrade-v1", no_argument, NULL, MH_CLI_OPT_UPGRADE_V1}
/* clang-format on */

/* The options' help lines. */
void mh_cli_store_choice_help(FILE *out);

/*
 * Takes one of the options above into c (c->cmd set): MH_CLI_CONTINUE, the usage status of a
 * bad value, or MH_CLI_EXIT_USAGE for an opt that is not one of them.
 */
int mh_cli_store_choice_option(mh_cli_store_choice *c, int opt, const char *arg);

/* mh_cli_store_choice_option as an mh_cli_command's on_option, ud the mh_cli_store_choice. */
int mh_cli_store_choice_on_option(void *ud, int opt, const char *arg);

/* Checks the combination after parsing: MH_CLI_CONTINUE or the usage status. */
int mh_cli_store_choice_check(const mh_cli_store_choice *c);

/*
 * Calls run on a copy of argv where "--archive EMAIL" is joined into "--archive=EMAIL" when
 * EMAIL holds '@', so that the optional argument may be a separate word. Returns run's exit
 * status, or MH_CLI_EXIT_ERROR (the error line printed) when the copy cannot be made.
 */
int mh_cli_run_joined_archive(int argc, char **argv, int (*run)(int argc, char **argv));

/*
 * Opens the chosen store: the primary (nothing chosen; owned by the session: mh_store_close is
 * a no-op on it), the primary or archive of an address (mh_session_mailbox_entryid), or the
 * EntryID given (mh_session_open_msg_store, with MH_OPENSTORE_UPGRADE_V1 for --upgrade-v1).
 * On failure prints the error line and returns its exit status; else MH_CLI_CONTINUE.
 */
int mh_cli_store_open(mh_session *s, const mh_cli_identity *id, const mh_cli_store_choice *c,
                      mh_store **st);

/*
 * The work of a session subcommand: st is the store chosen (NULL when the command chose
 * none), id has no secret left. Returns an exit status, the error line printed.
 */
typedef int (*mh_cli_session_fn)(mh_session *s, mh_store *st, const mh_cli_identity *id, void *ud);

/*
 * The rest of a session subcommand once mh_cli_identity_parse and the command's own checks of
 * its operands came to rc (MH_CLI_CONTINUE or an exit status). With MH_CLI_CONTINUE, checks
 * choice (NULL: the command opens no store) and that id has a user, then opens a session as id
 * (mh_cli_session_open), frees id's secret (the session keeps its own copy), opens the chosen
 * store (mh_cli_store_open), runs fn and closes the store, the session and the transport.
 * Otherwise frees id's secret and returns rc. Returns fn's exit status or that of the failure
 * printed.
 */
int mh_cli_session_main(mh_cli_identity *id, const mh_cli_command *cmd, int rc,
                        const mh_cli_store_choice *choice, mh_cli_session_fn fn, void *ud);

/* "basic", "bearer", "ntlm", "negotiate" ("none" for MH_AUTH_NONE). */
const char *mh_cli_auth_name(mh_transport_auth_scheme scheme);

/* With -v, writes "mapihttp: <message>" to stderr. Never give it a secret. */
void mh_cli_verbose(const mh_cli_identity *id, const char *fmt, ...) MH_PRINTF(2, 3);

/* The shared options' help lines, as each network subcommand's --help ends. */
void mh_cli_identity_help(FILE *out);

/*
 * The end of a network subcommand's --help: the store options' lines when store_choice, the
 * shared options' lines, and "Exit status: 0 success, 1 error, 2 usage error.".
 */
void mh_cli_help_end(FILE *out, bool store_choice);

/* ---- errors ------------------------------------------------------------------- */

/*
 * Prints "<STATUS_NAME>: <detail>" to stderr, the detail from
 * mh_error_last() when it belongs to status; returns MH_CLI_EXIT_ERROR.
 */
int mh_cli_fail(mh_status status);

/*
 * As mh_cli_fail, with detail (when not NULL or empty) in place of mh_error_last()'s: for the
 * message a handle keeps, such as mh_session_errmsg().
 */
int mh_cli_fail_detail(mh_status status, const char *detail);

/*
 * Prints "mapihttp <cmd>: <message>" and "Try 'mapihttp <help_cmd> --help'."
 * to stderr; returns MH_CLI_EXIT_USAGE.
 */
int mh_cli_usage(const char *cmd, const char *help_cmd, const char *fmt, ...) MH_PRINTF(3, 4);

/*
 * Reports a getopt_long failure (unknown option, missing argument) in the
 * usage format. opt is getopt's return value ('?' or ':'); longopts tells
 * an unknown long option from an ambiguous abbreviation.
 */
int mh_cli_getopt_error(const char *cmd, const char *help_cmd, int opt, char **argv,
                        const struct option *longopts);

/* ---- text and hex ------------------------------------------------------------------ */

/* printf into a new malloc()ed string; NULL on failure. */
char *mh_cli_format(const char *fmt, ...) MH_PRINTF(1, 2);

/* 2*len hex digits and a NUL in a new malloc()ed string; NULL on OOM. */
char *mh_cli_hex(const void *data, size_t len, bool upper);

/*
 * 8-bit (Windows-1252) text as UTF-8 in a new malloc()ed string; NULL on
 * OOM or a conversion failure (the status is left in mh_error_last()).
 */
char *mh_cli_cp1252_to_utf8(const char *s);

/*
 * UTF-8 text made safe for a terminal: control characters become \xNN
 * and a backslash is doubled. malloc()ed; NULL on OOM.
 */
char *mh_cli_printable(const char *utf8);

/* "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" in buf. */
const char *mh_cli_guid(char buf[39], const GUID *guid);

/* The name of a provider UID mapihttp knows ("muidStoreWrap", ...), or NULL. */
const char *mh_cli_muid_name(const MAPIUID *uid);

/* "OPENSTORE_HOME_LOGON|OPENSTORE_TAKE_OWNERSHIP" (unknown bits as hex) into buf. */
const char *mh_cli_openstore_flags(char *buf, size_t size, uint32_t flags);

/* The four abFlags bytes read as a little-endian uint32. */
uint32_t mh_cli_abflags(const uint8_t ab[4]);

/*
 * A folder tree as text: a heading line "items  folder", then per folder its item count
 * (right-aligned) and its display name indented two spaces per level below the first. Every
 * line starts with indent. MAPI_E_NOT_ENOUGH_MEMORY, with nothing printed.
 */
mh_status mh_cli_print_folders(FILE *out, const char *indent, const mh_folder_entry *e,
                               uint32_t count);

/* ---- JSON values ---------------------------------------------------------------- */

/* A JSON string from 8-bit (Windows-1252) text; NULL on failure. */
json_t *mh_cli_json_string8(const char *s);

/* A JSON string from UTF-8 text; NULL on failure. */
json_t *mh_cli_json_utf8(const char *s);

/* A JSON string of lowercase hex; NULL on failure. */
json_t *mh_cli_json_hex(const void *data, size_t len);

/* A JSON string from UTF-8 text, or JSON null for NULL; NULL on failure. */
json_t *mh_cli_json_text(const char *s);

/*
 * Sets obj[key] to v, taking v (NULL: a failed allocation); on any failure sets *failed, so
 * that a run of calls is checked once at the end.
 */
void mh_cli_json_set(json_t *obj, const char *key, json_t *v, bool *failed);

/* A new empty object appended to arr (which owns it); NULL on OOM. */
json_t *mh_cli_json_append_object(json_t *arr);

/*
 * Prints v to stdout, indented two spaces with keys in insertion order, and a newline, then
 * releases v. When failed is true (an earlier allocation failed) or the dump fails, prints
 * MAPI_E_NOT_ENOUGH_MEMORY's error line instead. MH_CLI_EXIT_OK or MH_CLI_EXIT_ERROR.
 */
int mh_cli_json_print(json_t *v, bool failed);

/* Fills o, the object of element i of an array, from ud; sets *failed when an allocation fails. */
typedef void (*mh_cli_json_fill)(json_t *o, size_t i, const void *ud, bool *failed);

/* Prints, as mh_cli_json_print does, an array of n objects, each filled by fill. */
int mh_cli_json_print_array(size_t n, mh_cli_json_fill fill, const void *ud);

/* ---- aligned "name: value" lines ------------------------------------------------ */

typedef struct mh_cli_fields {
	size_t count, cap;
	char **names;
	char **values;
	bool failed; /* an allocation failed; nothing is printed */
} mh_cli_fields;

#define MH_CLI_FIELDS_INIT              \
	{                               \
		0, 0, NULL, NULL, false \
	}

/* Adds a line; value is printf-formatted. */
void mh_cli_fields_add(mh_cli_fields *f, const char *name, const char *fmt, ...) MH_PRINTF(3, 4);

/* Writes the lines with the values aligned one space after the longest name. */
void mh_cli_fields_print(const mh_cli_fields *f, FILE *out);

void mh_cli_fields_free(mh_cli_fields *f);

/*
 * Adds a line for network text, control characters escaped and an empty value shown as "";
 * a NULL value adds nothing.
 */
void mh_cli_fields_add_text(mh_cli_fields *f, const char *name, const char *value);

/*
 * One block of a list: prints f to stdout, after a blank line unless first, and frees it; if
 * an allocation in f failed, prints MAPI_E_NOT_ENOUGH_MEMORY's error line instead.
 * MH_CLI_EXIT_OK or MH_CLI_EXIT_ERROR.
 */
int mh_cli_fields_emit(mh_cli_fields *f, bool first);

#endif
