/*
 * ROP input/output buffers (RopSize, RopsList, ServerObjectHandleTable;
 * wire.md §4.2-§4.3): framing, response-to-request matching for the
 * responses whose layout depends on the request, and the helpers the
 * per-ROP files share.
 */
#include <stdint.h>
#include <string.h>

#include "codec/rop_internal.h"
#include "util/alloc_internal.h"
#include "util/diag.h"

/* Names of the ROPs this codec decodes (requests, responses or both). */
static const char *decoded_name(uint8_t rop_id)
{
	switch (rop_id) {
	case MH_ROP_RELEASE:
		return "RopRelease";
	case MH_ROP_OPEN_FOLDER:
		return "RopOpenFolder";
	case MH_ROP_OPEN_MESSAGE:
		return "RopOpenMessage";
	case MH_ROP_GET_HIERARCHY_TABLE:
		return "RopGetHierarchyTable";
	case MH_ROP_GET_CONTENTS_TABLE:
		return "RopGetContentsTable";
	case MH_ROP_GET_PROPERTIES_SPECIFIC:
		return "RopGetPropertiesSpecific";
	case MH_ROP_GET_PROPERTIES_ALL:
		return "RopGetPropertiesAll";
	case MH_ROP_GET_PROPERTIES_LIST:
		return "RopGetPropertiesList";
	case MH_ROP_READ_RECIPIENTS:
		return "RopReadRecipients";
	case MH_ROP_SET_COLUMNS:
		return "RopSetColumns";
	case MH_ROP_SORT_TABLE:
		return "RopSortTable";
	case MH_ROP_QUERY_ROWS:
		return "RopQueryRows";
	case MH_ROP_SEEK_ROW:
		return "RopSeekRow";
	case MH_ROP_GET_ATTACHMENT_TABLE:
		return "RopGetAttachmentTable";
	case MH_ROP_GET_RECEIVE_FOLDER:
		return "RopGetReceiveFolder";
	case MH_ROP_OPEN_STREAM:
		return "RopOpenStream";
	case MH_ROP_READ_STREAM:
		return "RopReadStream";
	case MH_ROP_QUERY_COLUMNS_ALL:
		return "RopQueryColumnsAll";
	case MH_ROP_GET_PERMISSIONS_TABLE:
		return "RopGetPermissionsTable";
	case MH_ROP_GET_RULES_TABLE:
		return "RopGetRulesTable";
	case MH_ROP_LONG_TERM_ID_FROM_ID:
		return "RopLongTermIdFromId";
	case MH_ROP_ID_FROM_LONG_TERM_ID:
		return "RopIdFromLongTermId";
	case MH_ROP_PENDING:
		return "RopPending";
	case MH_ROP_RESET_TABLE:
		return "RopResetTable";
	case MH_ROP_BACKOFF:
		return "RopBackoff";
	case MH_ROP_LOGON:
		return "RopLogon";
	case MH_ROP_BUFFER_TOO_SMALL:
		return "RopBufferTooSmall";
	default:
		return NULL;
	}
}

const char *mh_rop_name(uint8_t rop_id)
{
	const char *name = decoded_name(rop_id);
	return name != NULL ? name : mh_rop_other_name(rop_id);
}

bool mh_rop_request_known(uint8_t rop_id)
{
	return decoded_name(rop_id) != NULL && MH_ROP_HAS_GENERIC_HEADER(rop_id);
}

bool mh_rop_creates_object(uint8_t rop_id)
{
	switch (rop_id) {
	case MH_ROP_LOGON:
	case MH_ROP_OPEN_FOLDER:
	case MH_ROP_OPEN_MESSAGE:
	case MH_ROP_GET_HIERARCHY_TABLE:
	case MH_ROP_GET_CONTENTS_TABLE:
	case MH_ROP_GET_PERMISSIONS_TABLE:
	case MH_ROP_GET_RULES_TABLE:
	case MH_ROP_GET_ATTACHMENT_TABLE:
	case MH_ROP_OPEN_STREAM:
		return true;
	default:
		return mh_rop_other_creates_object(rop_id);
	}
}

/* ---- shared field helpers ------------------------------------------------------------ */

mh_status mh_rop_str8_pull(mh_cursor *c, mh_arena *a, char **out, const char *field)
{
	const char *s;
	size_t len;
	ROP_TRY(mh_cursor_str8(c, SIZE_MAX, &s, &len, field));
	return mh_arena_strndup(a, s, len, out);
}

mh_status mh_rop_sized_str8_pull(mh_cursor *c, mh_arena *a, size_t size, char **out,
                                 const char *field)
{
	const uint8_t *p;
	*out = NULL;
	if (size == 0)
		return S_OK;
	size_t at = mh_cursor_offset(c);
	ROP_TRY(mh_cursor_bytes(c, size, &p, field));
	const uint8_t *nul = memchr(p, 0, size);
	if (nul == NULL || (size_t)(nul - p) != size - 1) {
		c->pos -= size;
		if (nul == NULL)
			return mh_cursor_fail(c, "%s at byte %zu: its %zu bytes end without a NUL",
			                      field, at, size);
		return mh_cursor_fail(c, "%s at byte %zu: NUL at byte %zu before its last byte",
		                      field, at, at + (size_t)(nul - p));
	}
	return mh_arena_strndup(a, (const char *)p, size - 1, out);
}

void mh_rop_sized_str8_push(mh_buf *b, const char *s, unsigned width)
{
	size_t n = s != NULL ? strlen(s) + 1 : 0;
	size_t max = width == 1 ? 0xFF : 0xFFFF;
	if (n > max) {
		mh_buf_fail(b, MAPI_E_TOO_BIG);
		return;
	}
	if (width == 1)
		mh_buf_u8(b, (uint8_t)n);
	else
		mh_buf_u16(b, (uint16_t)n);
	if (s != NULL)
		mh_buf_str8z(b, s);
}

mh_status mh_rop_bin16_pull(mh_cursor *c, mh_arena *a, SBinary *out, const char *field)
{
	uint16_t n;
	const uint8_t *p;
	void *copy = NULL;
	ROP_TRY(mh_cursor_u16(c, &n, field));
	ROP_TRY(mh_cursor_bytes(c, n, &p, field));
	ROP_TRY(mh_arena_memdup(a, p, n, &copy));
	out->cb = n;
	out->lpb = copy;
	return S_OK;
}

void mh_rop_bin16_push(mh_buf *b, const SBinary *bin)
{
	if (bin->cb > 0xFFFF) {
		mh_buf_fail(b, MAPI_E_TOO_BIG);
		return;
	}
	mh_buf_u16(b, (uint16_t)bin->cb);
	if (bin->cb > 0)
		mh_buf_put(b, bin->lpb, bin->cb);
}

void mh_rop_tags_push(mh_buf *b, const SPropTagArray *tags)
{
	static const SPropTagArray none = {0};
	if (tags != NULL && tags->cValues > 0xFFFF) {
		mh_buf_fail(b, MAPI_E_TOO_BIG);
		return;
	}
	mh_pv_tags_push(b, 2, tags != NULL ? tags : &none);
}

mh_status mh_rop_tags_dup(mh_arena *a, const SPropTagArray *cols, const SPropTagArray **out)
{
	void *p = NULL;
	ROP_TRY(mh_arena_memdup(a, cols, CbNewSPropTagArray(cols->cValues), &p));
	*out = p;
	return S_OK;
}

/* ---- buffers ------------------------------------------------------------------------- */

/*
 * RopSize and the handle table of a buffer: leaves *list over the RopsList
 * and reads the handles into a. The handles come first so that a request
 * pull that stops at an unknown ROP still returns them.
 */
static mh_status frame_pull(mh_cursor *c, mh_arena *a, mh_cursor *list, uint32_t *handle_count,
                            uint32_t **handles)
{
	uint16_t rop_size;
	size_t at = mh_cursor_offset(c);
	ROP_TRY(mh_cursor_u16(c, &rop_size, "RopSize"));
	if (rop_size < 2) {
		c->pos -= 2;
		return mh_cursor_fail(c, "RopSize %u at byte %zu is less than 2 (it counts itself)",
		                      rop_size, at);
	}
	if ((size_t)rop_size - 2 > mh_cursor_remaining(c)) {
		c->pos -= 2;
		return mh_cursor_fail(c,
		                      "RopSize %u at byte %zu runs past the end of the payload "
		                      "(%zu bytes after it)",
		                      rop_size, at, mh_cursor_remaining(c) - 2);
	}
	ROP_TRY(mh_cursor_sub(c, (size_t)rop_size - 2, list, "RopsList"));
	size_t left = mh_cursor_remaining(c);
	if (left % 4 != 0)
		return mh_cursor_fail(c,
		                      "ServerObjectHandleTable at byte %zu is %zu bytes, not a "
		                      "multiple of 4",
		                      mh_cursor_offset(c), left);
	void *p;
	ROP_TRY(mh_arena_array(a, left / 4, sizeof(uint32_t), &p));
	*handles = p;
	*handle_count = (uint32_t)(left / 4);
	for (size_t i = 0; i < left / 4; i++)
		ROP_TRY(mh_cursor_u32(c, &(*handles)[i], "ServerObjectHandleTable"));
	return S_OK;
}

/* A heap-backed growable array of elements of one size, moved into the arena at the end. */
typedef struct grow {
	void *data;
	size_t count, cap, size;
} grow;

static void *grow_next(grow *g)
{
	if (g->count == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		void *p = mh_realloc(g->data, cap * g->size);
		if (p == NULL)
			return NULL;
		g->data = p;
		g->cap = cap;
	}
	return (uint8_t *)g->data + g->count * g->size;
}

static mh_status grow_finish(grow *g, mh_arena *a, void **out)
{
	mh_status st = S_OK;
	*out = NULL;
	if (g->count > 0)
		st = mh_arena_memdup(a, g->data, g->count * g->size, out);
	mh_free(g->data);
	g->data = NULL;
	return st;
}

mh_status mh_rop_request_buffer_pull(mh_cursor *c, mh_arena *a, mh_rop_request_buffer *out,
                                     mh_rop_pull_info *info)
{
	mh_rop_pull_info dummy;
	mh_cursor list;
	grow g = {NULL, 0, 0, sizeof(mh_rop_request)};
	size_t base = c->pos;
	if (info == NULL)
		info = &dummy;
	memset(out, 0, sizeof(*out));
	memset(info, 0, sizeof(*info));
	ROP_TRY(frame_pull(c, a, &list, &out->handle_count, &out->handles));
	mh_status st = S_OK;
	while (mh_cursor_remaining(&list) > 0) {
		mh_cursor peek = list;
		info->index = (uint32_t)g.count;
		info->offset = list.base + list.pos - (c->base + base);
		(void)mh_cursor_u8(&peek, &info->rop_id, "RopId");
		mh_rop_request *r = grow_next(&g);
		if (r == NULL) {
			st = mh_error_oom();
			break;
		}
		st = mh_rop_request_pull(&list, a, r);
		if (st != S_OK)
			break;
		g.count++;
	}
	if (st == S_OK) {
		info->index = (uint32_t)g.count;
		info->offset = list.base + list.pos - (c->base + base);
		info->rop_id = 0;
	} else if (st == MAPI_E_NO_SUPPORT) {
		const char *name = mh_rop_name(info->rop_id);
		mh_error_set(MAPI_E_NO_SUPPORT, (int64_t)(c->base + base + info->offset),
		             "%s ROP request id 0x%02X at byte %zu (ROP #%u of the buffer): its "
		             "length cannot be known",
		             name != NULL ? name : "unknown", info->rop_id,
		             c->base + base + info->offset, info->index);
	}
	void *rops;
	mh_status st2 = grow_finish(&g, a, &rops);
	out->rops = rops;
	out->count = rops != NULL ? info->index : 0;
	return st != S_OK ? st : st2;
}

/* Finds the request a response answers, searching on from *next. */
static const mh_rop_request *match_request(const mh_rop_response_ctx *ctx, uint32_t *next,
                                           uint8_t rop_id, uint8_t index)
{
	if (ctx == NULL || ctx->requests == NULL)
		return NULL;
	for (uint32_t i = *next; i < ctx->request_count; i++) {
		const mh_rop_request *q = &ctx->requests[i];
		uint8_t echoed =
		    mh_rop_creates_object(q->rop_id) ? q->out_handle_index : q->in_handle_index;
		if (q->rop_id == rop_id && echoed == index) {
			*next = i + 1;
			return q;
		}
	}
	return NULL;
}

mh_status mh_rop_response_buffer_pull(mh_cursor *c, mh_arena *a, const mh_rop_response_ctx *ctx,
                                      mh_rop_response_buffer *out)
{
	mh_cursor list;
	grow g = {NULL, 0, 0, sizeof(mh_rop_response)};
	/* Columns set by a successful SetColumns in this buffer, per handle index. */
	const SPropTagArray *cols_at[256];
	uint32_t next = 0;
	memset(out, 0, sizeof(*out));
	memset(cols_at, 0, sizeof(cols_at));
	ROP_TRY(frame_pull(c, a, &list, &out->handle_count, &out->handles));
	mh_status st = S_OK;
	while (mh_cursor_remaining(&list) > 0) {
		mh_rop_response_hint hint = {NULL, NULL};
		uint8_t id = 0, index = 0;
		mh_cursor peek = list;
		(void)mh_cursor_u8(&peek, &id, "RopId");
		if (MH_ROP_HAS_GENERIC_HEADER(id) && mh_cursor_remaining(&peek) > 0) {
			(void)mh_cursor_u8(&peek, &index, "HandleIndex");
			hint.request = match_request(ctx, &next, id, index);
		}
		if (id == MH_ROP_QUERY_ROWS) {
			hint.columns = cols_at[index];
			if (hint.columns == NULL && ctx != NULL && ctx->columns != NULL) {
				uint32_t h =
				    index < out->handle_count ? out->handles[index] : UINT32_MAX;
				uint8_t logon = hint.request != NULL ? hint.request->logon_id : 0;
				hint.columns = ctx->columns(logon, h, ctx->payload);
			}
		}
		mh_rop_response *r = grow_next(&g);
		if (r == NULL) {
			st = mh_error_oom();
			break;
		}
		st = mh_rop_response_pull(&list, a, &hint, r);
		if (st != S_OK)
			break;
		g.count++;
		if (r->return_value != S_OK)
			continue;
		if (mh_rop_creates_object(id))
			cols_at[r->handle_index] = NULL;
		if (id == MH_ROP_SET_COLUMNS && hint.request != NULL)
			cols_at[r->handle_index] = hint.request->u.set_columns.tags;
		if ((id == MH_ROP_QUERY_ROWS && r->u.query_rows.columns == NULL) ||
		    (id == MH_ROP_GET_PROPERTIES_SPECIFIC &&
		     r->u.get_props_specific.columns == NULL))
			out->raw_tail = true;
	}
	void *rops;
	mh_status st2 = grow_finish(&g, a, &rops);
	out->rops = rops;
	out->count = rops != NULL ? (uint32_t)g.count : 0;
	return st != S_OK ? st : st2;
}

/* RopSize(2) placeholder at *pos, patched by frame_end. */
static size_t frame_begin(mh_buf *b)
{
	size_t pos = b->len;
	mh_buf_u16(b, 0);
	return pos;
}

static void frame_end(mh_buf *b, size_t pos, uint32_t handle_count, const uint32_t *handles)
{
	if (mh_buf_status(b) != S_OK)
		return;
	size_t n = b->len - pos;
	if (n > 0xFFFF) {
		mh_buf_fail(b, MAPI_E_TOO_BIG);
		return;
	}
	b->data[pos] = (uint8_t)n;
	b->data[pos + 1] = (uint8_t)(n >> 8);
	for (uint32_t i = 0; i < handle_count; i++)
		mh_buf_u32(b, handles[i]);
}

void mh_rop_request_buffer_push(mh_buf *b, const mh_rop_request_buffer *rb)
{
	size_t pos = frame_begin(b);
	for (uint32_t i = 0; i < rb->count; i++)
		mh_rop_request_push(b, &rb->rops[i]);
	frame_end(b, pos, rb->handle_count, rb->handles);
}

void mh_rop_response_buffer_push(mh_buf *b, const mh_rop_response_buffer *rb)
{
	size_t pos = frame_begin(b);
	for (uint32_t i = 0; i < rb->count; i++)
		mh_rop_response_push(b, &rb->rops[i]);
	frame_end(b, pos, rb->handle_count, rb->handles);
}
