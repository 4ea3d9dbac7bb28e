/* Placeholder: replaced by `mapihttp stores`. */
#include "cli/cli.h"

int mh_cli_stores_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("mapihttp stores: not built yet\n", stderr);
	return MH_CLI_EXIT_ERROR;
}

void mh_cli_stores_help(FILE *out)
{
	fputs("Usage: mapihttp stores\n", out);
}
