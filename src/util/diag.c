/*
 * The thread-local error detail behind mh_error_last(). One record per
 * thread; this is the only mutable state mapihttp keeps outside handles.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/diag.h"

#define MH_ERROR_MSG_MAX 512

static _Thread_local struct {
	int set;
	mh_error err;
	char msg[MH_ERROR_MSG_MAX];
} tls_error;

static void error_vset(mh_status status, int64_t offset, const char *fmt, va_list ap)
    MH_PRINTF(3, 0);

static void error_vset(mh_status status, int64_t offset, const char *fmt, va_list ap)
{
	int n = vsnprintf(tls_error.msg, sizeof(tls_error.msg), fmt, ap);
	if (n < 0) {
		strcpy(tls_error.msg, "(unformattable error message)");
	} else if ((size_t)n >= sizeof(tls_error.msg)) {
		/* The message is UTF-8: cut before a character split by truncation. */
		size_t end = sizeof(tls_error.msg) - 1, start = end;
		while (start > 0 && ((unsigned char)tls_error.msg[start - 1] & 0xC0) == 0x80)
			start--;
		if (start > 0 && (unsigned char)tls_error.msg[start - 1] >= 0xC0) {
			unsigned char lead = (unsigned char)tls_error.msg[start - 1];
			size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
			if (end - (start - 1) < want)
				tls_error.msg[start - 1] = '\0';
		}
	}
	tls_error.set = 1;
	tls_error.err.status = status;
	tls_error.err.offset = offset;
	tls_error.err.message = tls_error.msg;
}

mh_status mh_error_set(mh_status status, int64_t offset, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	error_vset(status, offset, fmt, ap);
	va_end(ap);
	return status;
}

mh_status mh_error_set_default(mh_status status, const char *fmt, ...)
{
	va_list ap;
	if (tls_error.set && tls_error.err.status == status)
		return status;
	va_start(ap, fmt);
	error_vset(status, -1, fmt, ap);
	va_end(ap);
	return status;
}

mh_status mh_error_prefix(mh_status st, const char *fmt, ...)
{
	char prefix[160], old[MH_ERROR_MSG_MAX];
	va_list ap;
	if (st == MAPI_E_NOT_ENOUGH_MEMORY || !tls_error.set || tls_error.err.status != st)
		return st;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(old, sizeof(old), "%s", tls_error.msg);
	return mh_error_set(st, tls_error.err.offset, "%s: %s", prefix, old);
}

mh_status mh_error_oom(void)
{
	return mh_error_set(MAPI_E_NOT_ENOUGH_MEMORY, -1, "out of memory");
}

const mh_error *mh_error_last(void)
{
	return tls_error.set ? &tls_error.err : NULL;
}

void mh_error_clear(void)
{
	tls_error.set = 0;
	tls_error.msg[0] = '\0';
}
