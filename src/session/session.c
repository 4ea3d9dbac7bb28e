/* Placeholder: replaced by the session implementation. */
#include "session/session_internal.h"

typedef int mh_placeholder_session;
