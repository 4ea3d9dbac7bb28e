/*
 * Setting the thread-local error detail that mh_error_last() returns.
 * The layer that detects a fault calls mh_error_set(); upper layers call
 * mh_error_set_default(), which keeps a lower layer's message.
 */
#ifndef MH_UTIL_DIAG_H
#define MH_UTIL_DIAG_H

#include <stdint.h>

#include "mapihttp/status.h"

#if defined(__GNUC__)
#define MH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MH_PRINTF(f, a)
#endif

/* Records status, offset (-1 when none) and a printf-style message; returns status. */
mh_status mh_error_set(mh_status status, int64_t offset, const char *fmt, ...) MH_PRINTF(3, 4);

/* As mh_error_set, unless a message is already recorded for this status; returns status. */
mh_status mh_error_set_default(mh_status status, const char *fmt, ...) MH_PRINTF(2, 3);

/*
 * Puts context in front of the message a lower layer recorded for st
 * ("PropertyRow column 2: <message>"), keeping its status and offset, so a
 * failure deep in a structure says where it was. Does nothing when no
 * message for st is recorded or st is MAPI_E_NOT_ENOUGH_MEMORY; returns st.
 */
mh_status mh_error_prefix(mh_status st, const char *fmt, ...) MH_PRINTF(2, 3);

/* Records MAPI_E_NOT_ENOUGH_MEMORY with a standard message; returns it. */
mh_status mh_error_oom(void);

#endif
