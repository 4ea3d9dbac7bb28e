/* Placeholder: replaced by the store implementation. */
#include "session/session_internal.h"

typedef int mh_placeholder_store;
