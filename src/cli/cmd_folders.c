/* Placeholder: replaced by `mapihttp folders`. */
#include "cli/cli.h"

int mh_cli_folders_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("mapihttp folders: not built yet\n", stderr);
	return MH_CLI_EXIT_ERROR;
}

void mh_cli_folders_help(FILE *out)
{
	fputs("Usage: mapihttp folders\n", out);
}
