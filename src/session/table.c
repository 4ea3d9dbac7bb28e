/*
 * Tables of folders and messages: hierarchy, contents and attachment tables on the server
 * (columns, sort orders and the cursor kept so a lost context is replayed), the recipient
 * table from RopReadRecipients, paged QueryRows with truncation flags, and full values.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mapihttp/alloc.h"
#include "mapihttp/proptags.h"
#include "session/objects.h"

typedef enum table_kind {
	TK_HIERARCHY = 1,
	TK_CONTENTS = 2,
	TK_ATTACHMENTS = 3,
	TK_RECIPIENTS = 4, /* held here: RopReadRecipients has no server table */
} table_kind;

struct mh_table {
	mh_store *st;
	table_kind kind;
	uint8_t table_flags; /* TableFlags of the Get*Table ROP */
	uint64_t fid, mid;   /* the folder or message it belongs to */
	mh_obj_handle h;
	uint32_t row_count;
	SPropTagArray *columns; /* malloc'd; what QueryRows sends back */
	bool columns_sent;      /* SetColumns of columns ran on h */
	mh_rop_sort_order *sort;
	uint32_t n_sort;
	bool sort_sent;
	uint32_t position; /* rows from the start of the table to the cursor */
	/* TK_RECIPIENTS */
	mh_arena local;
	uint32_t n_local;
	uint32_t *local_counts;
	SPropValue **local_rows;
};

static const char *kind_name(table_kind k)
{
	switch (k) {
	case TK_HIERARCHY:
		return "hierarchy table";
	case TK_CONTENTS:
		return "contents table";
	case TK_ATTACHMENTS:
		return "attachment table";
	default:
		return "recipient table";
	}
}

static uint8_t get_table_rop(table_kind k)
{
	switch (k) {
	case TK_HIERARCHY:
		return MH_ROP_GET_HIERARCHY_TABLE;
	case TK_CONTENTS:
		return MH_ROP_GET_CONTENTS_TABLE;
	default:
		return MH_ROP_GET_ATTACHMENT_TABLE;
	}
}

/* Columns a table has until mh_table_set_columns says otherwise. */
static const uint32_t default_hierarchy[] = {PR_FID,
                                             PR_PARENT_FID,
                                             PR_DISPLAY_NAME_W,
                                             PR_CONTENT_COUNT,
                                             MH_TAG_FOLDER_CHILD_COUNT,
                                             PR_CONTAINER_CLASS_W};
static const uint32_t default_contents[] = {
    PR_MID, PR_FID, PR_SUBJECT_W, PR_MESSAGE_DELIVERY_TIME, PR_MESSAGE_SIZE, PR_MESSAGE_CLASS_W};
static const uint32_t default_attachments[] = {MH_TAG_ATTACH_NUM, MH_TAG_ATTACH_LONG_FILENAME,
                                               MH_TAG_ATTACH_SIZE, MH_TAG_ATTACH_MIME_TAG};
static const uint32_t default_recipients[] = {MH_TAG_ROWID,      MH_TAG_RECIPIENT_TYPE,
                                              PR_DISPLAY_NAME_W, PR_EMAIL_ADDRESS_W,
                                              PR_ADDRTYPE_W,     PR_SMTP_ADDRESS_W};

static SPropTagArray *default_columns(table_kind k)
{
	const uint32_t *t;
	size_t n;
	switch (k) {
	case TK_HIERARCHY:
		t = default_hierarchy;
		n = sizeof(default_hierarchy) / sizeof(t[0]);
		break;
	case TK_CONTENTS:
		t = default_contents;
		n = sizeof(default_contents) / sizeof(t[0]);
		break;
	case TK_ATTACHMENTS:
		t = default_attachments;
		n = sizeof(default_attachments) / sizeof(t[0]);
		break;
	default:
		t = default_recipients;
		n = sizeof(default_recipients) / sizeof(t[0]);
		break;
	}
	SPropTagArray *c = malloc(CbNewSPropTagArray(n));
	if (c != NULL) {
		c->cValues = (uint32_t)n;
		memcpy(c->aulPropTag, t, n * sizeof(uint32_t));
	}
	return c;
}

static mh_table *table_new(mh_store *st, table_kind kind, uint8_t flags, uint64_t fid, uint64_t mid)
{
	mh_table *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->st = st;
	t->kind = kind;
	t->table_flags = flags;
	t->fid = fid;
	t->mid = mid;
	t->h.handle = MH_OBJ_NO_HANDLE;
	mh_arena_init(&t->local, 0);
	t->columns = default_columns(kind);
	if (t->columns == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

static void table_free(mh_table *t)
{
	free(t->columns);
	free(t->sort);
	mh_arena_free(&t->local);
	free(t);
}

/* ---- the table's server object, opened again when its context was lost ---- */

/* What table_slot added to an Execute, for table_after. */
typedef struct table_ref {
	uint8_t slot;
	uint32_t open_rop, get_rop, cols_rop, sort_rop, seek_rop;
} table_ref;

static const SPropTagArray *table_columns_cb(uint8_t logon_id, uint32_t handle, void *payload)
{
	const mh_table *t = payload;
	(void)logon_id;
	return handle == t->h.handle && t->columns_sent ? t->columns : NULL;
}

/*
 * The table's slot in x: its handle when live, else its object opened from the logon,
 * Get*Table, and the columns, sort orders and cursor position it had. Columns and sort
 * orders not yet sent go along.
 */
static table_ref table_slot(mh_exec *x, mh_table *t, mh_obj_handle *parent)
{
	table_ref r = {0, UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX};
	bool reopen = !mh__obj_live(x->st, &t->h);
	x->columns = table_columns_cb;
	x->columns_payload = t;
	if (!reopen) {
		r.slot = mh__exec_slot(x, t->h.handle);
	} else {
		uint8_t p = mh__exec_object(x, t->fid, t->mid, parent, &r.open_rop);
		r.slot = mh__exec_slot(x, MH_OBJ_NO_HANDLE);
		r.get_rop = x->n_rops;
		mh_rop_request *q = mh__exec_rop(x, get_table_rop(t->kind), p);
		q->out_handle_index = r.slot;
		q->u.get_table.table_flags = t->table_flags;
		mh__exec_fix_handle(x, &t->h, r.slot, r.get_rop);
		if (parent == NULL)
			mh__exec_release(x, p);
	}
	if (reopen || !t->columns_sent) {
		r.cols_rop = x->n_rops;
		mh_rop_request *q = mh__exec_rop(x, MH_ROP_SET_COLUMNS, r.slot);
		q->u.set_columns.tags = t->columns;
	}
	if (t->n_sort > 0 && (reopen || !t->sort_sent)) {
		r.sort_rop = x->n_rops;
		mh_rop_request *q = mh__exec_rop(x, MH_ROP_SORT_TABLE, r.slot);
		q->u.sort_table.sort_order_count = (uint16_t)t->n_sort;
		q->u.sort_table.sort_orders = t->sort;
	}
	if (reopen && t->position > 0) {
		r.seek_rop = x->n_rops;
		mh_rop_request *q = mh__exec_rop(x, MH_ROP_SEEK_ROW, r.slot);
		q->u.seek_row.origin = 0;
		q->u.seek_row.row_count = (int32_t)t->position;
	}
	return r;
}

/* Checks what table_slot added and records what the server now holds. */
static mh_status table_after(mh_exec *x, mh_table *t, const table_ref *r)
{
	mh_status ms;
	if ((ms = mh__exec_check(x, r->open_rop)) != S_OK ||
	    (ms = mh__exec_check(x, r->get_rop)) != S_OK ||
	    (ms = mh__exec_check(x, r->cols_rop)) != S_OK ||
	    (ms = mh__exec_check(x, r->sort_rop)) != S_OK ||
	    (ms = mh__exec_check(x, r->seek_rop)) != S_OK)
		return ms;
	if (r->get_rop != UINT32_MAX && t->kind != TK_ATTACHMENTS)
		t->row_count = mh__exec_resp(x, r->get_rop)->u.get_table.row_count;
	if (r->cols_rop != UINT32_MAX)
		t->columns_sent = true;
	if (r->sort_rop != UINT32_MAX)
		t->sort_sent = true;
	if (r->seek_rop != UINT32_MAX)
		t->position = (uint32_t)mh__exec_resp(x, r->seek_rop)->u.seek_row.rows_sought;
	return S_OK;
}

/* Opens a server table of the object (fid, mid) whose handle is *parent. */
static mh_status open_server_table(mh_table **out, mh_store *st, table_kind kind, uint8_t flags,
                                   uint64_t fid, uint64_t mid, mh_obj_handle *parent)
{
	mh_table *t = table_new(st, kind, flags, fid, mid);
	if (t == NULL)
		return mh__session_fail(st->s, MAPI_E_NOT_ENOUGH_MEMORY, "%s: out of memory",
		                        kind_name(kind));
	mh_exec x;
	mh__exec_init(&x, st);
	mh_status ms;
	uint32_t oi, gi, ci = UINT32_MAX, qi = UINT32_MAX;
	for (int attempt = 0;; attempt++) {
		mh__exec_reset(&x);
		uint8_t p = mh__exec_object(&x, fid, mid, parent, &oi);
		uint8_t s = mh__exec_slot(&x, MH_OBJ_NO_HANDLE);
		gi = x.n_rops;
		mh_rop_request *q = mh__exec_rop(&x, get_table_rop(kind), p);
		q->out_handle_index = s;
		q->u.get_table.table_flags = flags;
		mh__exec_fix_handle(&x, &t->h, s, gi);
		if (kind == TK_ATTACHMENTS) {
			/* Its answer has no RowCount: count the rows without moving the cursor. */
			ci = x.n_rops;
			q = mh__exec_rop(&x, MH_ROP_SET_COLUMNS, s);
			q->u.set_columns.tags = t->columns;
			qi = x.n_rops;
			q = mh__exec_rop(&x, MH_ROP_QUERY_ROWS, s);
			q->u.query_rows.flags = 0x01; /* NoAdvance */
			q->u.query_rows.forward_read = 1;
			q->u.query_rows.row_count = 0xFFFF;
		}
		ms = mh__exec_run(&x);
		if (ms == MAPI_E_END_OF_SESSION && attempt == 0)
			continue;
		break;
	}
	if (ms == S_OK && (ms = mh__exec_check(&x, oi)) == S_OK &&
	    (ms = mh__exec_check(&x, gi)) == S_OK && (ms = mh__exec_check(&x, ci)) == S_OK &&
	    (ms = mh__exec_check(&x, qi)) == S_OK) {
		if (qi != UINT32_MAX) {
			t->row_count = mh__exec_resp(&x, qi)->u.query_rows.row_count;
			t->columns_sent = true;
		} else {
			t->row_count = mh__exec_resp(&x, gi)->u.get_table.row_count;
		}
	}
	mh__exec_free(&x);
	if (ms != S_OK) {
		mh__object_release(st, &t->h);
		table_free(t);
		return ms;
	}
	*out = t;
	mh__object_opened(st);
	return S_OK;
}

mh_status mh_folder_hierarchy_table(mh_table **out, mh_folder *f, uint32_t flags)
{
	if (out != NULL)
		*out = NULL;
	if (f == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "hierarchy table: NULL folder");
	if (out == NULL || (flags & ~MH_TABLE_DEEP) != 0)
		return mh__session_fail(f->st->s, MAPI_E_INVALID_PARAMETER,
		                        "hierarchy table: NULL out or flags 0x%X other than "
		                        "MH_TABLE_DEEP",
		                        flags);
	return open_server_table(out, f->st, TK_HIERARCHY,
	                         (uint8_t)(MH_TABLE_FLAGS_BASE | (flags & MH_TABLE_DEEP)), f->fid,
	                         0, &f->h);
}

mh_status mh_folder_contents_table(mh_table **out, mh_folder *f, uint32_t flags)
{
	if (out != NULL)
		*out = NULL;
	if (f == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "contents table: NULL folder");
	if (out == NULL || (flags & ~MH_TABLE_ASSOCIATED) != 0)
		return mh__session_fail(f->st->s, MAPI_E_INVALID_PARAMETER,
		                        "contents table: NULL out or flags 0x%X other than "
		                        "MH_TABLE_ASSOCIATED",
		                        flags);
	return open_server_table(out, f->st, TK_CONTENTS,
	                         (uint8_t)(MH_TABLE_FLAGS_BASE | (flags & MH_TABLE_ASSOCIATED)),
	                         f->fid, 0, &f->h);
}

mh_status mh_message_attachment_table(mh_table **out, mh_message *m)
{
	if (out != NULL)
		*out = NULL;
	if (m == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "attachment table: NULL message");
	if (out == NULL)
		return mh__session_fail(m->st->s, MAPI_E_INVALID_PARAMETER,
		                        "attachment table: NULL out");
	/* RopGetAttachmentTable knows only UseUnicode (0x40). */
	return open_server_table(out, m->st, TK_ATTACHMENTS, 0x40, m->fid, m->mid, &m->h);
}

mh_status mh_message_recipient_table(mh_table **out, mh_message *m)
{
	if (out != NULL)
		*out = NULL;
	if (m == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "recipient table: NULL message");
	if (out == NULL)
		return mh__session_fail(m->st->s, MAPI_E_INVALID_PARAMETER,
		                        "recipient table: NULL out");
	mh_table *t = table_new(m->st, TK_RECIPIENTS, 0, m->fid, m->mid);
	if (t == NULL)
		return mh__session_fail(m->st->s, MAPI_E_NOT_ENOUGH_MEMORY,
		                        "recipient table: out of memory");
	mh_status ms =
	    mh__message_recipients(m, &t->local, &t->n_local, &t->local_counts, &t->local_rows);
	if (ms != S_OK) {
		table_free(t);
		return ms;
	}
	t->row_count = t->n_local;
	*out = t;
	mh__object_opened(m->st);
	return S_OK;
}

void mh_table_close(mh_table *t)
{
	if (t == NULL)
		return;
	mh__object_closed(t->st, &t->h);
	table_free(t);
}

mh_status mh_table_set_columns(mh_table *t, const SPropTagArray *columns)
{
	if (t == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "set columns: NULL table");
	if (columns == NULL || columns->cValues == 0 || columns->cValues > 0xFFFF)
		return mh__session_fail(t->st->s, MAPI_E_INVALID_PARAMETER,
		                        "set columns: 1 to 65535 columns");
	SPropTagArray *c = mh__tags_dup(columns);
	if (c == NULL)
		return mh__session_fail(t->st->s, MAPI_E_NOT_ENOUGH_MEMORY,
		                        "set columns: out of memory");
	free(t->columns);
	t->columns = c;
	t->columns_sent = false;
	mh__session_ok(t->st->s);
	return S_OK;
}

mh_status mh_table_sort(mh_table *t, const mh_sort_order *orders, uint32_t count)
{
	if (t == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "sort: NULL table");
	if ((count > 0 && orders == NULL) || count > 0xFFFF)
		return mh__session_fail(t->st->s, MAPI_E_INVALID_PARAMETER,
		                        "sort: NULL orders or more than 65535");
	mh_rop_sort_order *s = NULL;
	if (count > 0 && (s = calloc(count, sizeof(*s))) == NULL)
		return mh__session_fail(t->st->s, MAPI_E_NOT_ENOUGH_MEMORY, "sort: out of memory");
	for (uint32_t i = 0; i < count; i++) {
		s[i].tag = orders[i].tag;
		s[i].order = orders[i].descending ? 1 : 0;
	}
	free(t->sort);
	t->sort = s;
	t->n_sort = count;
	t->sort_sent = false;
	t->position = 0; /* a sort moves the cursor to the beginning */
	mh__session_ok(t->st->s);
	return S_OK;
}

uint32_t mh_table_row_count(const mh_table *t)
{
	return t != NULL ? t->row_count : 0;
}

/* ---- the recipient table, held here ---- */

static const SPropValue *local_find(const mh_table *t, uint32_t row, uint32_t tag)
{
	const SPropValue *v = t->local_rows[row];
	for (uint32_t i = 0; i < t->local_counts[row]; i++)
		if (PROP_ID(v[i].ulPropTag) == PROP_ID(tag) &&
		    (PROP_TYPE(tag) == PT_UNSPECIFIED ||
		     PROP_TYPE(v[i].ulPropTag) == PROP_TYPE(tag)))
			return &v[i];
	return NULL;
}

static int ascii_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = tolower((unsigned char)*a), y = tolower((unsigned char)*b);
		if (x != y || x == 0)
			return x - y;
	}
}

/* Missing values first; numbers by value; strings ignoring ASCII case. */
static int local_compare(const mh_table *t, uint32_t a, uint32_t b)
{
	for (uint32_t i = 0; i < t->n_sort; i++) {
		const SPropValue *x = local_find(t, a, t->sort[i].tag);
		const SPropValue *y = local_find(t, b, t->sort[i].tag);
		int c = 0;
		if (x == NULL || y == NULL) {
			c = (x != NULL) - (y != NULL);
		} else {
			switch (PROP_TYPE(x->ulPropTag)) {
			case PT_LONG:
				c = (x->Value.l > y->Value.l) - (x->Value.l < y->Value.l);
				break;
			case PT_I8:
				c = (x->Value.li > y->Value.li) - (x->Value.li < y->Value.li);
				break;
			case PT_UNICODE:
			case PT_STRING8:
				c = ascii_casecmp(x->Value.lpszW, y->Value.lpszW);
				break;
			default:
				break;
			}
		}
		if (c != 0)
			return t->sort[i].order == 1 ? -c : c;
	}
	return 0;
}

static void local_sort(mh_table *t)
{
	/* Insertion sort by adjacent swaps: stable, and recipient lists are short. */
	for (uint32_t i = 1; i < t->n_local; i++)
		for (uint32_t j = i; j > 0 && local_compare(t, j, j - 1) < 0; j--) {
			SPropValue *r = t->local_rows[j];
			uint32_t c = t->local_counts[j];
			t->local_rows[j] = t->local_rows[j - 1];
			t->local_counts[j] = t->local_counts[j - 1];
			t->local_rows[j - 1] = r;
			t->local_counts[j - 1] = c;
		}
	t->sort_sent = true;
}

/* ---- rows ---- */

/* Copies rows (column order of the table) into one MAPI buffer. */
static mh_status rowset_build(mh_table *t, const mh_prop_row *rows, uint32_t n, bool flag_cuts,
                              mh_rowset **out)
{
	mh_rowset *rs = NULL;
	mh_status ms = MAPIAllocateBuffer(sizeof(*rs), (void **)&rs);
	if (ms == S_OK) {
		memset(rs, 0, sizeof(*rs));
		if (n > 0)
			ms = MAPIAllocateMore((uint32_t)(n * sizeof(mh_row)), rs,
			                      (void **)&rs->rows);
	}
	for (uint32_t i = 0; ms == S_OK && i < n; i++) {
		mh_row *r = &rs->rows[i];
		uint32_t c = rows[i].cValues;
		r->count = c;
		if (c == 0)
			continue;
		if ((ms = MAPIAllocateMore((uint32_t)(c * sizeof(SPropValue)), rs,
		                           (void **)&r->props)) != S_OK ||
		    (ms = MAPIAllocateMore((uint32_t)(c * sizeof(bool)), rs,
		                           (void **)&r->truncated)) != S_OK)
			break;
		for (uint32_t j = 0; j < c && ms == S_OK; j++) {
			ms = mh_prop_copy_more(&r->props[j], &rows[i].lpProps[j], rs);
			r->truncated[j] = flag_cuts && mh__value_truncated(&rows[i].lpProps[j]);
		}
		rs->count = i + 1;
	}
	if (ms != S_OK) {
		MAPIFreeBuffer(rs);
		return mh__session_fail(t->st->s, ms, "query rows: %s", mh__last_message());
	}
	rs->count = n;
	*out = rs;
	return S_OK;
}

static mh_status local_query(mh_table *t, uint32_t max, mh_rowset **rows)
{
	if (t->n_sort > 0 && !t->sort_sent)
		local_sort(t);
	uint32_t left = t->position < t->n_local ? t->n_local - t->position : 0;
	uint32_t n = left < max ? left : max;
	const SPropTagArray *cols = t->columns;
	mh_prop_row *pr = n > 0 ? calloc(n, sizeof(*pr)) : NULL;
	SPropValue *vals = n > 0 ? calloc((size_t)n * cols->cValues, sizeof(*vals)) : NULL;
	if (n > 0 && (pr == NULL || vals == NULL)) {
		free(pr);
		free(vals);
		return mh__session_fail(t->st->s, MAPI_E_NOT_ENOUGH_MEMORY,
		                        "query rows: out of memory");
	}
	for (uint32_t i = 0; i < n; i++) {
		SPropValue *v = &vals[(size_t)i * cols->cValues];
		for (uint32_t j = 0; j < cols->cValues; j++) {
			const SPropValue *f = local_find(t, t->position + i, cols->aulPropTag[j]);
			if (f != NULL) {
				v[j] = *f;
			} else {
				v[j].ulPropTag = PROP_TAG(PT_ERROR, PROP_ID(cols->aulPropTag[j]));
				v[j].Value.err = MAPI_E_NOT_FOUND;
			}
		}
		pr[i].cValues = cols->cValues;
		pr[i].lpProps = v;
	}
	mh_status ms = rowset_build(t, pr, n, false, rows);
	free(pr);
	free(vals);
	if (ms == S_OK) {
		t->position += n;
		mh__session_ok(t->st->s);
	}
	return ms;
}

mh_status mh_table_query_rows(mh_table *t, uint32_t max, mh_rowset **rows)
{
	if (t == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "query rows: NULL table");
	if (rows == NULL)
		return mh__session_fail(t->st->s, MAPI_E_INVALID_PARAMETER,
		                        "query rows: NULL rows");
	*rows = NULL;
	if (t->kind == TK_RECIPIENTS)
		return local_query(t, max, rows);
	mh_exec x;
	mh__exec_init(&x, t->st);
	mh_prop_row *all = NULL;
	uint32_t got = 0;
	mh_status ms = S_OK;
	while (got < max) {
		uint32_t want = max - got > 0xFFFFu ? 0xFFFFu : max - got;
		table_ref ref;
		uint32_t qi;
		for (int attempt = 0;; attempt++) {
			mh__exec_reset(&x);
			ref = table_slot(&x, t, NULL);
			qi = x.n_rops;
			mh_rop_request *q = mh__exec_rop(&x, MH_ROP_QUERY_ROWS, ref.slot);
			q->u.query_rows.forward_read = 1;
			q->u.query_rows.row_count = (uint16_t)want;
			ms = mh__exec_run(&x);
			if (ms == MAPI_E_END_OF_SESSION && attempt == 0)
				continue;
			break;
		}
		if (ms != S_OK || (ms = table_after(&x, t, &ref)) != S_OK ||
		    (ms = mh__exec_check(&x, qi)) != S_OK)
			break;
		const mh_rop_response *r = mh__exec_resp(&x, qi);
		uint16_t k = r->u.query_rows.row_count;
		if (k > 0 && r->u.query_rows.columns == NULL) {
			ms = mh__session_fail(t->st->s, MAPI_E_CORRUPT_DATA,
			                      "RopQueryRows: rows without their columns");
			break;
		}
		if (k > want) {
			ms = mh__session_fail(t->st->s, MAPI_E_CORRUPT_DATA,
			                      "RopQueryRows: %u rows for %u asked", k, want);
			break;
		}
		if (k > 0) {
			mh_prop_row *grown = realloc(all, ((size_t)got + k) * sizeof(*all));
			if (grown == NULL) {
				ms = mh__session_fail(t->st->s, MAPI_E_NOT_ENOUGH_MEMORY,
				                      "query rows: out of memory");
				break;
			}
			all = grown;
			memcpy(all + got, r->u.query_rows.rows, (size_t)k * sizeof(*all));
			got += k;
			t->position += k;
		}
		if (k == 0 || r->u.query_rows.origin == 2) /* BOOKMARK_END: nothing left */
			break;
	}
	if (ms == S_OK)
		ms = rowset_build(t, all, got, true, rows);
	free(all);
	mh__exec_free(&x);
	if (ms == S_OK)
		mh__session_ok(t->st->s);
	return ms;
}

mh_status mh_table_seek(mh_table *t, uint8_t origin, int32_t rows)
{
	if (t == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "seek: NULL table");
	if (origin > 2)
		return mh__session_fail(t->st->s, MAPI_E_INVALID_PARAMETER,
		                        "seek: origin %u (0 beginning, 1 cursor, 2 end)", origin);
	if (t->kind == TK_RECIPIENTS) {
		int64_t base = origin == 0 ? 0 : origin == 1 ? (int64_t)t->position : t->n_local;
		int64_t p = base + rows;
		if (p < 0)
			p = 0;
		if (p > t->n_local)
			p = t->n_local;
		t->position = (uint32_t)p;
		mh__session_ok(t->st->s);
		return S_OK;
	}
	mh_exec x;
	mh__exec_init(&x, t->st);
	mh_status ms;
	table_ref ref;
	uint32_t si;
	for (int attempt = 0;; attempt++) {
		mh__exec_reset(&x);
		ref = table_slot(&x, t, NULL);
		si = x.n_rops;
		mh_rop_request *q = mh__exec_rop(&x, MH_ROP_SEEK_ROW, ref.slot);
		q->u.seek_row.origin = origin;
		q->u.seek_row.row_count = rows;
		q->u.seek_row.want_row_moved_count = 1;
		ms = mh__exec_run(&x);
		if (ms == MAPI_E_END_OF_SESSION && attempt == 0)
			continue;
		break;
	}
	if (ms == S_OK && (ms = table_after(&x, t, &ref)) == S_OK &&
	    (ms = mh__exec_check(&x, si)) == S_OK) {
		int64_t moved = mh__exec_resp(&x, si)->u.seek_row.rows_sought;
		int64_t base = origin == 0 ? 0 : origin == 1 ? (int64_t)t->position : t->row_count;
		int64_t p = base + moved;
		t->position = p < 0 ? 0 : p > UINT32_MAX ? UINT32_MAX : (uint32_t)p;
	}
	mh__exec_free(&x);
	if (ms == S_OK)
		mh__session_ok(t->st->s);
	return ms;
}

mh_status mh_table_read_full(mh_table *t, const mh_row *row, uint32_t col, SPropValue **value)
{
	if (t == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "read full: NULL table");
	mh_session *s = t->st->s;
	if (row == NULL || value == NULL || col >= row->count)
		return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
		                        "read full: NULL row or value, or column %u past the row",
		                        col);
	*value = NULL;
	uint64_t fid = 0, mid = 0;
	const SPropValue *idv;
	if (t->kind == TK_HIERARCHY) {
		if ((idv = mh_props_find(row->count, row->props, PR_FID)) == NULL)
			return mh__session_fail(
			    s, MAPI_E_INVALID_PARAMETER,
			    "read full: the hierarchy table has no PidTagFolderId "
			    "column");
		fid = (uint64_t)idv->Value.li;
	} else if (t->kind == TK_CONTENTS) {
		if ((idv = mh_props_find(row->count, row->props, PR_MID)) == NULL)
			return mh__session_fail(
			    s, MAPI_E_INVALID_PARAMETER,
			    "read full: the contents table has no PidTagMid column");
		mid = (uint64_t)idv->Value.li;
		const SPropValue *fv = mh_props_find(row->count, row->props, PR_FID);
		fid = fv != NULL ? (uint64_t)fv->Value.li : t->fid;
	} else {
		return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
		                        "read full: a %s has no ID column to open its rows by",
		                        kind_name(t->kind));
	}
	/* The column's own tag: an error value has lost its type. */
	uint32_t tag = row->props[col].ulPropTag;
	if (t->columns != NULL && col < t->columns->cValues &&
	    PROP_ID(t->columns->aulPropTag[col]) == PROP_ID(tag))
		tag = t->columns->aulPropTag[col];
	if (PROP_TYPE(tag) == PT_ERROR || PROP_TYPE(tag) == PT_UNSPECIFIED)
		return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
		                        "read full: column %u has no property type to ask for",
		                        col);
	struct {
		uint32_t cValues;
		uint32_t aulPropTag[1];
	} one = {1, {tag}};
	uint32_t n = 0;
	SPropValue *v = NULL;
	mh_status ms = mh__object_get_props(t->st, fid, mid, NULL,
	                                    (const SPropTagArray *)(const void *)&one, &n, &v);
	if (ms != S_OK)
		return ms;
	if (n == 1 && v[0].ulPropTag == tag) {
		*value = v;
		return S_OK;
	}
	mh_status err =
	    n == 1 && PROP_TYPE(v[0].ulPropTag) == PT_ERROR ? v[0].Value.err : MAPI_E_CALL_FAILED;
	MAPIFreeBuffer(v);
	uint16_t type = (uint16_t)PROP_TYPE(tag);
	if (err != MAPI_E_NOT_ENOUGH_MEMORY ||
	    (type != PT_UNICODE && type != PT_STRING8 && type != PT_BINARY))
		return mh__session_fail(s, err == MAPI_E_NOT_ENOUGH_MEMORY ? MAPI_E_TOO_BIG : err,
		                        "read full: property 0x%08X: %s", tag, mh_status_str(err));
	/* Too large for GetPropertiesSpecific: the stream has it whole. */
	void *data = NULL;
	size_t len = 0;
	if ((ms = mh__object_read_stream(t->st, fid, mid, NULL, tag, &data, &len)) != S_OK)
		return ms;
	SPropValue *out = NULL;
	if ((ms = MAPIAllocateBuffer(sizeof(*out), (void **)&out)) != S_OK) {
		MAPIFreeBuffer(data);
		return mh__session_fail(s, ms, "read full: out of memory");
	}
	memset(out, 0, sizeof(*out));
	out->ulPropTag = tag;
	void *copy = NULL;
	if ((ms = MAPIAllocateMore((uint32_t)(len + 1), out, &copy)) != S_OK) {
		MAPIFreeBuffer(data);
		MAPIFreeBuffer(out);
		return mh__session_fail(s, ms, "read full: out of memory");
	}
	memcpy(copy, data, len + 1);
	MAPIFreeBuffer(data);
	if (type == PT_BINARY) {
		out->Value.bin.cb = (uint32_t)len;
		out->Value.bin.lpb = copy;
	} else {
		out->Value.lpszW = copy;
	}
	*value = out;
	mh__session_ok(s);
	return S_OK;
}
