/* Placeholder: replaced by `mapihttp messages`. */
#include "cli/cli.h"

typedef int mh_placeholder_cmd_messages;
