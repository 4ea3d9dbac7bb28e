/* Placeholder: replaced by `mapihttp messages`. */
#include "cli/cli.h"

int mh_cli_messages_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("mapihttp messages: not built yet\n", stderr);
	return MH_CLI_EXIT_ERROR;
}

void mh_cli_messages_help(FILE *out)
{
	fputs("Usage: mapihttp messages\n", out);
}
