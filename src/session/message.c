/* Placeholder: replaced by the message implementation. */
#include "session/session_internal.h"

typedef int mh_placeholder_message;
