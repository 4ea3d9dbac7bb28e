/* Placeholder: replaced by `mapihttp scan`. */
#include "cli/cli.h"

int mh_cli_scan_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("mapihttp scan: not built yet\n", stderr);
	return MH_CLI_EXIT_ERROR;
}

void mh_cli_scan_help(FILE *out)
{
	fputs("Usage: mapihttp scan\n", out);
}
