/* Placeholder: replaced by `mapihttp stores`. */
#include "cli/cli.h"

typedef int mh_placeholder_cmd_stores;
