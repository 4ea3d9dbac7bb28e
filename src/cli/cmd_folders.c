/* Placeholder: replaced by `mapihttp folders`. */
#include "cli/cli.h"

typedef int mh_placeholder_cmd_folders;
