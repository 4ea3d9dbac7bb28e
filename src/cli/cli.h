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
#include "util/diag.h"

/* Exit statuses: 2 is reserved for command lines the tool cannot run. */
#define MH_CLI_EXIT_OK    0
#define MH_CLI_EXIT_ERROR 1
#define MH_CLI_EXIT_USAGE 2

/*
 * Subcommands. argv[0] is the subcommand's own name ("entryid", "demo");
 * each returns an exit status.
 */
int mh_cli_entryid_main(int argc, char **argv);
int mh_cli_demo_main(int argc, char **argv);

/* Help texts, written to out; `mapihttp help <cmd>` and `<cmd> --help` share them. */
void mh_cli_entryid_help(FILE *out);
void mh_cli_demo_help(FILE *out);

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

/* ---- errors ------------------------------------------------------------------- */

/*
 * Prints "<STATUS_NAME>: <detail>" to stderr, the detail from
 * mh_error_last() when it belongs to status; returns MH_CLI_EXIT_ERROR.
 */
int mh_cli_fail(mh_status status);

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

/* ---- JSON values ---------------------------------------------------------------- */

/* A JSON string from 8-bit (Windows-1252) text; NULL on failure. */
json_t *mh_cli_json_string8(const char *s);

/* A JSON string from UTF-8 text; NULL on failure. */
json_t *mh_cli_json_utf8(const char *s);

/* A JSON string of lowercase hex; NULL on failure. */
json_t *mh_cli_json_hex(const void *data, size_t len);

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

#endif
