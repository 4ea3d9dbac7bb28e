/*
 * mapihttp: the command-line tool's entry point. Dispatches
 * `mapihttp <command> [args]` to one file per subcommand.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	void (*help)(FILE *out);
} command;

static const command commands[] = {
    {"entryid", "decode EntryIDs and create store EntryIDs", mh_cli_entryid_main,
     mh_cli_entryid_help},
    {"demo", "run the hub-and-spoke story against an embedded mapihttpd", mh_cli_demo_main,
     mh_cli_demo_help},
    {"discover", "Autodiscover an address: its endpoints and alternative mailboxes",
     mh_cli_discover_main, mh_cli_discover_help},
    {"resolve", "resolve names in the address book: DN, SMTP address, home MDB",
     mh_cli_resolve_main, mh_cli_resolve_help},
    {"stores", "the identity's mailbox, archive and delegated mailboxes with v3 EntryIDs",
     mh_cli_stores_main, mh_cli_stores_help},
    {"folders", "a mailbox's folder tree with item counts", mh_cli_folders_main,
     mh_cli_folders_help},
    {"messages", "the messages of one folder", mh_cli_messages_main, mh_cli_messages_help},
    {"scan", "scan many mailboxes (and archives) concurrently; NDJSON per mailbox",
     mh_cli_scan_main, mh_cli_scan_help},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void main_help(FILE *out)
{
	fputs("Usage: mapihttp <command> [options] [arguments]\n"
	      "       mapihttp help <command>\n"
	      "       mapihttp --help | --version\n"
	      "\n"
	      "Open Exchange mailboxes over MAPI/HTTP.\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "Options:\n"
	      "  -h, --help     show this help and exit\n"
	      "  --version      show the version and exit\n"
	      "\n"
	      "Run 'mapihttp <command> --help' for a command's options.\n"
	      "Exit status: 0 success, 1 error, 2 usage error, 3 (scan) some mailboxes failed.\n",
	      out);
}

static int main_usage(const char *fmt, ...) MH_PRINTF(1, 2);

static int main_usage(const char *fmt, ...)
{
	va_list ap;
	fputs("mapihttp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'mapihttp --help'.\n", stderr);
	return MH_CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return main_usage("no command given");

	const char *arg = argv[1];
	if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
		main_help(stdout);
		return MH_CLI_EXIT_OK;
	}
	if (strcmp(arg, "--version") == 0) {
		printf("mapihttp %s\n", MH_VERSION_STRING);
		return MH_CLI_EXIT_OK;
	}
	if (strcmp(arg, "help") == 0) {
		if (argc == 2) {
			main_help(stdout);
			return MH_CLI_EXIT_OK;
		}
		if (argc > 3)
			return main_usage("help takes one command name");
		const command *cmd = find_command(argv[2]);
		if (cmd == NULL)
			return main_usage("unknown command '%s'", argv[2]);
		cmd->help(stdout);
		return MH_CLI_EXIT_OK;
	}
	if (arg[0] == '-')
		return main_usage("unknown option '%s'", arg);

	const command *cmd = find_command(arg);
	if (cmd == NULL)
		return main_usage("unknown command '%s'", arg);
	int status = cmd->run(argc - 1, argv + 1);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		/* A full disk or closed pipe must not pass for success. */
		fprintf(stderr, "%s: cannot write to standard output\n",
		        mh_status_str(MAPI_E_CALL_FAILED));
		return MH_CLI_EXIT_ERROR;
	}
	return status;
}
