/*
 * EMSMDB bodies of MAPI/HTTP (MS-OXCMAPIHTTP 2.2.4): field order, string
 * encodings and the success/failure response forms.
 */
#include <string.h>

#include "codec/emsmdb.h"
#include "util/diag.h"
#include "util/utf.h"

/* ---- reading ------------------------------------------------------------------------ */

static mh_status pull_u32(mh_cursor *c, uint32_t *v, const char *field)
{
	return mh_cursor_u32(c, v, field);
}

/* size_field (4) + that many bytes, copied into the arena. */
static mh_status pull_sized(mh_cursor *c, mh_arena *a, mh_emsmdb_bytes *out, const char *size_field,
                            const char *field)
{
	mh_status st;
	uint32_t n;
	const uint8_t *p;
	out->data = NULL;
	out->len = 0;
	if ((st = pull_u32(c, &n, size_field)) != S_OK)
		return st;
	if (n > mh_cursor_remaining(c))
		return mh_error_set(c->err, (int64_t)mh_cursor_offset(c) - 4,
		                    "%s %u at byte %zu exceeds the %zu bytes that remain",
		                    size_field, n, mh_cursor_offset(c) - 4, mh_cursor_remaining(c));
	if ((st = mh_cursor_bytes(c, n, &p, field)) != S_OK)
		return st;
	if (n > 0) {
		void *copy;
		if ((st = mh_arena_memdup(a, p, n, &copy)) != S_OK)
			return st;
		out->data = copy;
	}
	out->len = n;
	return S_OK;
}

static mh_status pull_aux(mh_cursor *c, mh_arena *a, mh_emsmdb_bytes *out)
{
	return pull_sized(c, a, out, "AuxiliaryBufferSize", "AuxiliaryBuffer");
}

static mh_status pull_ascii(mh_cursor *c, mh_arena *a, const char **out, const char *field)
{
	mh_status st;
	const char *s;
	size_t len, off = mh_cursor_offset(c);
	char *copy;
	if ((st = mh_cursor_str8(c, MH_EMSMDB_MAX_DN, &s, &len, field)) != S_OK)
		return st;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return mh_error_set(c->err, (int64_t)(off + i),
			                    "%s: byte 0x%02x at byte %zu is not ASCII", field,
			                    (unsigned char)s[i], off + i);
	if ((st = mh_arena_strndup(a, s, len, &copy)) != S_OK)
		return st;
	*out = copy;
	return S_OK;
}

static mh_status pull_utf16(mh_cursor *c, mh_arena *a, const char **out, const char *field)
{
	mh_status st;
	const uint8_t *p;
	size_t units, n = 0, off = mh_cursor_offset(c);
	char *s;
	if ((st = mh_cursor_str16(c, MH_EMSMDB_MAX_NAME, &p, &units, field)) != S_OK)
		return st;
	if (mh_utf16le_to_utf8(NULL, 0, p, units, &n) != S_OK)
		return mh_error_set(c->err, (int64_t)off,
		                    "%s at byte %zu is not valid UTF-16 (unpaired surrogate)",
		                    field, off);
	if ((st = mh_arena_alloc(a, n + 1, (void **)&s)) != S_OK)
		return st;
	if ((st = mh_utf16le_to_utf8(s, n + 1, p, units, &n)) != S_OK)
		return st;
	*out = s;
	return S_OK;
}

static mh_status pull_end(mh_cursor *c, const char *what)
{
	if (mh_cursor_remaining(c) == 0)
		return S_OK;
	return mh_cursor_fail(c, "%zu unexpected bytes at byte %zu after the %s",
	                      mh_cursor_remaining(c), mh_cursor_offset(c), what);
}

/* Failure form: StatusCode was read; AuxBuf is taken when it fits. */
static mh_status pull_failure_aux(mh_cursor *c, mh_arena *a, mh_emsmdb_bytes *aux)
{
	uint32_t n;
	aux->data = NULL;
	aux->len = 0;
	if (!mh_cursor_peek_u32(c, &n) || n != mh_cursor_remaining(c) - 4)
		return S_OK;
	return pull_aux(c, a, aux);
}

/* ---- writing ------------------------------------------------------------------------ */

static void push_ascii(mh_buf *b, const char *s, const char *field)
{
	if (s == NULL)
		s = "";
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80) {
			mh_buf_fail(b, mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
			                            "%s: byte 0x%02x at index %zu is not ASCII",
			                            field, (unsigned char)*p, (size_t)(p - s)));
			return;
		}
	mh_buf_str8z(b, s);
}

static void push_sized(mh_buf *b, const mh_emsmdb_bytes *v, const char *field)
{
	if (v->data == NULL && v->len > 0) {
		mh_buf_fail(b, mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                            "%s is NULL with a length of %u", field, v->len));
		return;
	}
	mh_buf_u32(b, v->len);
	mh_buf_put(b, v->data, v->len);
}

static void push_aux(mh_buf *b, const mh_emsmdb_bytes *v)
{
	push_sized(b, v, "AuxiliaryBuffer");
}

/* ---- Connect ------------------------------------------------------------------------ */

mh_status mh_emsmdb_connect_request_pull(mh_cursor *c, mh_arena *a, mh_emsmdb_connect_request *out)
{
	mh_status st;
	memset(out, 0, sizeof(*out));
	if ((st = pull_ascii(c, a, &out->user_dn, "Connect.UserDN")) != S_OK ||
	    (st = pull_u32(c, &out->flags, "Connect.Flags")) != S_OK ||
	    (st = pull_u32(c, &out->default_code_page, "Connect.DefaultCodePage")) != S_OK ||
	    (st = pull_u32(c, &out->lcid_sort, "Connect.LcidSort")) != S_OK ||
	    (st = pull_u32(c, &out->lcid_string, "Connect.LcidString")) != S_OK ||
	    (st = pull_aux(c, a, &out->aux)) != S_OK)
		return st;
	return pull_end(c, "Connect request body");
}

mh_status mh_emsmdb_connect_request_push(mh_buf *b, const mh_emsmdb_connect_request *in)
{
	push_ascii(b, in->user_dn, "Connect.UserDN");
	mh_buf_u32(b, in->flags);
	mh_buf_u32(b, in->default_code_page);
	mh_buf_u32(b, in->lcid_sort);
	mh_buf_u32(b, in->lcid_string);
	push_aux(b, &in->aux);
	return mh_buf_status(b);
}

mh_status mh_emsmdb_connect_response_pull(mh_cursor *c, mh_arena *a,
                                          mh_emsmdb_connect_response *out)
{
	mh_status st;
	memset(out, 0, sizeof(*out));
	out->dn_prefix = out->display_name = "";
	if ((st = pull_u32(c, &out->status_code, "Connect.StatusCode")) != S_OK)
		return st;
	if (out->status_code != 0)
		return pull_failure_aux(c, a, &out->aux);
	if ((st = pull_u32(c, &out->error_code, "Connect.ErrorCode")) != S_OK ||
	    (st = pull_u32(c, &out->polls_max, "Connect.PollsMax")) != S_OK ||
	    (st = pull_u32(c, &out->retry_count, "Connect.RetryCount")) != S_OK ||
	    (st = pull_u32(c, &out->retry_delay, "Connect.RetryDelay")) != S_OK ||
	    (st = pull_ascii(c, a, &out->dn_prefix, "Connect.DnPrefix")) != S_OK ||
	    (st = pull_utf16(c, a, &out->display_name, "Connect.DisplayName")) != S_OK ||
	    (st = pull_aux(c, a, &out->aux)) != S_OK)
		return st;
	return pull_end(c, "Connect response body");
}

mh_status mh_emsmdb_connect_response_push(mh_buf *b, const mh_emsmdb_connect_response *in)
{
	mh_buf_u32(b, in->status_code);
	if (in->status_code == 0) {
		mh_buf_u32(b, in->error_code);
		mh_buf_u32(b, in->polls_max);
		mh_buf_u32(b, in->retry_count);
		mh_buf_u32(b, in->retry_delay);
		push_ascii(b, in->dn_prefix, "Connect.DnPrefix");
		mh_buf_utf16z(b, in->display_name != NULL ? in->display_name : "");
	}
	push_aux(b, &in->aux);
	return mh_buf_status(b);
}

/* ---- Execute ------------------------------------------------------------------------ */

mh_status mh_emsmdb_execute_request_pull(mh_cursor *c, mh_arena *a, mh_emsmdb_execute_request *out)
{
	mh_status st;
	memset(out, 0, sizeof(*out));
	if ((st = pull_u32(c, &out->flags, "Execute.Flags")) != S_OK ||
	    (st = pull_sized(c, a, &out->rop_buffer, "Execute.RopBufferSize",
	                     "Execute.RopBuffer")) != S_OK ||
	    (st = pull_u32(c, &out->max_rop_out, "Execute.MaxRopOut")) != S_OK ||
	    (st = pull_aux(c, a, &out->aux)) != S_OK)
		return st;
	return pull_end(c, "Execute request body");
}

mh_status mh_emsmdb_execute_request_push(mh_buf *b, const mh_emsmdb_execute_request *in)
{
	mh_buf_u32(b, in->flags);
	push_sized(b, &in->rop_buffer, "Execute.RopBuffer");
	mh_buf_u32(b, in->max_rop_out);
	push_aux(b, &in->aux);
	return mh_buf_status(b);
}

mh_status mh_emsmdb_execute_response_pull(mh_cursor *c, mh_arena *a,
                                          mh_emsmdb_execute_response *out)
{
	mh_status st;
	memset(out, 0, sizeof(*out));
	if ((st = pull_u32(c, &out->status_code, "Execute.StatusCode")) != S_OK)
		return st;
	if (out->status_code != 0)
		return pull_failure_aux(c, a, &out->aux);
	if ((st = pull_u32(c, &out->error_code, "Execute.ErrorCode")) != S_OK ||
	    (st = pull_u32(c, &out->flags, "Execute.Flags")) != S_OK ||
	    (st = pull_sized(c, a, &out->rop_buffer, "Execute.RopBufferSize",
	                     "Execute.RopBuffer")) != S_OK ||
	    (st = pull_aux(c, a, &out->aux)) != S_OK)
		return st;
	return pull_end(c, "Execute response body");
}

mh_status mh_emsmdb_execute_response_push(mh_buf *b, const mh_emsmdb_execute_response *in)
{
	mh_buf_u32(b, in->status_code);
	if (in->status_code == 0) {
		mh_buf_u32(b, in->error_code);
		mh_buf_u32(b, in->flags);
		push_sized(b, &in->rop_buffer, "Execute.RopBuffer");
	}
	push_aux(b, &in->aux);
	return mh_buf_status(b);
}

/* ---- Disconnect --------------------------------------------------------------------- */

mh_status mh_emsmdb_disconnect_request_pull(mh_cursor *c, mh_arena *a,
                                            mh_emsmdb_disconnect_request *out)
{
	mh_status st;
	memset(out, 0, sizeof(*out));
	if ((st = pull_aux(c, a, &out->aux)) != S_OK)
		return st;
	return pull_end(c, "Disconnect request body");
}

mh_status mh_emsmdb_disconnect_request_push(mh_buf *b, const mh_emsmdb_disconnect_request *in)
{
	push_aux(b, &in->aux);
	return mh_buf_status(b);
}

mh_status mh_emsmdb_disconnect_response_pull(mh_cursor *c, mh_arena *a,
                                             mh_emsmdb_disconnect_response *out)
{
	mh_status st;
	memset(out, 0, sizeof(*out));
	if ((st = pull_u32(c, &out->status_code, "Disconnect.StatusCode")) != S_OK)
		return st;
	if (out->status_code != 0)
		return pull_failure_aux(c, a, &out->aux);
	if ((st = pull_u32(c, &out->error_code, "Disconnect.ErrorCode")) != S_OK ||
	    (st = pull_aux(c, a, &out->aux)) != S_OK)
		return st;
	return pull_end(c, "Disconnect response body");
}

mh_status mh_emsmdb_disconnect_response_push(mh_buf *b, const mh_emsmdb_disconnect_response *in)
{
	mh_buf_u32(b, in->status_code);
	if (in->status_code == 0)
		mh_buf_u32(b, in->error_code);
	push_aux(b, &in->aux);
	return mh_buf_status(b);
}

/* ---- NotificationWait --------------------------------------------------------------- */

mh_status mh_emsmdb_notificationwait_request_pull(mh_cursor *c, mh_arena *a,
                                                  mh_emsmdb_notificationwait_request *out)
{
	mh_status st;
	memset(out, 0, sizeof(*out));
	if ((st = pull_u32(c, &out->flags, "NotificationWait.Flags")) != S_OK ||
	    (st = pull_aux(c, a, &out->aux)) != S_OK)
		return st;
	return pull_end(c, "NotificationWait request body");
}

mh_status mh_emsmdb_notificationwait_request_push(mh_buf *b,
                                                  const mh_emsmdb_notificationwait_request *in)
{
	mh_buf_u32(b, in->flags);
	push_aux(b, &in->aux);
	return mh_buf_status(b);
}

mh_status mh_emsmdb_notificationwait_response_pull(mh_cursor *c, mh_arena *a,
                                                   mh_emsmdb_notificationwait_response *out)
{
	mh_status st;
	memset(out, 0, sizeof(*out));
	if ((st = pull_u32(c, &out->status_code, "NotificationWait.StatusCode")) != S_OK)
		return st;
	if (out->status_code != 0)
		return pull_failure_aux(c, a, &out->aux);
	if ((st = pull_u32(c, &out->error_code, "NotificationWait.ErrorCode")) != S_OK ||
	    (st = pull_u32(c, &out->event_pending, "NotificationWait.EventPending")) != S_OK ||
	    (st = pull_aux(c, a, &out->aux)) != S_OK)
		return st;
	return pull_end(c, "NotificationWait response body");
}

mh_status mh_emsmdb_notificationwait_response_push(mh_buf *b,
                                                   const mh_emsmdb_notificationwait_response *in)
{
	mh_buf_u32(b, in->status_code);
	if (in->status_code == 0) {
		mh_buf_u32(b, in->error_code);
		mh_buf_u32(b, in->event_pending);
	}
	push_aux(b, &in->aux);
	return mh_buf_status(b);
}
