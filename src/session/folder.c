/* Placeholder: replaced by the folder implementation. */
#include "session/session_internal.h"

typedef int mh_placeholder_folder;
