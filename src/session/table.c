/* Placeholder: replaced by the table implementation. */
#include "session/session_internal.h"

typedef int mh_placeholder_table;
