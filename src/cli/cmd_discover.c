/* Placeholder: being written. */
#include "cli/cli.h"
