/* Placeholder: replaced by `mapihttp scan`. */
#include "cli/cli.h"

typedef int mh_placeholder_cmd_scan;
