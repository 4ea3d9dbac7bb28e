/* Placeholder: replaced by the scan implementation. */
#include "session/session_internal.h"

typedef int mh_placeholder_scan;
