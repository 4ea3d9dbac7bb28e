/*
 * mapihttpd's ROP processor: one session context's logons and server objects, and the answer
 * to each ROP of an Execute, read from the store with wire.md §8's routing and rights.
 */
#define _DEFAULT_SOURCE /* gmtime_r, strcasecmp, strncasecmp */
#include "server/rop_srv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "codec/propval.h"
#include "codec/rop.h"
#include "mapihttp/entryid.h"
#include "util/cursor.h"
#include "util/diag.h"
#include "util/utf.h"

#define HANDLE_NONE    0xFFFFFFFFu
#define MAX_OUT        0xFFFFu /* RopSize is 16 bits */
#define SORT_ARENA_CAP ((size_t)32 << 20)

/* Property tags this file answers. */
#define TAG_ENTRYID                0x0FFF0102u
#define TAG_RECORD_KEY             0x0FF90102u
#define TAG_STORE_RECORD_KEY       0x0FFA0102u
#define TAG_OBJECT_TYPE            0x0FFE0003u
#define TAG_DISPLAY_NAME           0x3001001Fu
#define TAG_DEPTH                  0x30050003u
#define TAG_CREATION_TIME          0x30070040u
#define TAG_LAST_MODIFICATION      0x30080040u
#define TAG_FOLDER_TYPE            0x36010003u
#define TAG_CONTENT_COUNT          0x36020003u
#define TAG_CONTENT_UNREAD         0x36030003u
#define TAG_SUBFOLDERS             0x360A000Bu
#define TAG_CONTAINER_CLASS        0x3613001Fu
#define TAG_FOLDER_CHILD_COUNT     0x66380003u
#define TAG_RIGHTS                 0x66390003u
#define TAG_FID                    0x67480014u
#define TAG_PARENT_FID             0x67490014u
#define TAG_MID                    0x674A0014u
#define TAG_INST_ID                0x674D0014u
#define TAG_INSTANCE_NUM           0x674E0003u
#define TAG_SUBJECT                0x0037001Fu
#define TAG_SUBJECT_PREFIX         0x003D001Fu
#define TAG_NORMALIZED_SUBJECT     0x0E1D001Fu
#define TAG_MESSAGE_CLASS          0x001A001Fu
#define TAG_IMPORTANCE             0x00170003u
#define TAG_DELIVERY_TIME          0x0E060040u
#define TAG_MESSAGE_FLAGS          0x0E070003u
#define TAG_MESSAGE_SIZE           0x0E080003u
#define TAG_PARENT_ENTRYID         0x0E090102u
#define TAG_DISPLAY_CC             0x0E03001Fu
#define TAG_DISPLAY_TO             0x0E04001Fu
#define TAG_HAS_ATTACHMENTS        0x0E1B000Bu
#define TAG_READ                   0x0E69000Bu
#define TAG_SENDER_NAME            0x0C1A001Fu
#define TAG_SENDER_ADDRTYPE        0x0C1E001Fu
#define TAG_SENDER_EMAIL           0x0C1F001Fu
#define TAG_SENDER_SMTP            0x5D01001Fu
#define TAG_SENT_REPR_NAME         0x0042001Fu
#define TAG_SENT_REPR_SMTP         0x5D02001Fu
#define TAG_BODY                   0x1000001Fu
#define TAG_ATTACH_NUM             0x0E210003u
#define TAG_ATTACH_SIZE            0x0E200003u
#define TAG_ATTACH_LONG_FILENAME   0x3707001Fu
#define TAG_ATTACH_FILENAME        0x3704001Fu
#define TAG_ATTACH_MIME_TAG        0x370E001Fu
#define TAG_ATTACH_METHOD          0x37050003u
#define TAG_RENDERING_POSITION     0x370B0003u
#define TAG_MEMBER_ID              0x66710014u
#define TAG_MEMBER_NAME            0x6672001Fu
#define TAG_MEMBER_RIGHTS          0x66730003u
#define TAG_RULE_ID                0x66740014u
#define TAG_RULE_SEQUENCE          0x66760003u
#define TAG_RULE_STATE             0x66770003u
#define TAG_RULE_NAME              0x6682001Fu
#define TAG_RULE_PROVIDER          0x6681001Fu
#define TAG_MAILBOX_OWNER_ENTRYID  0x661B0102u
#define TAG_MAILBOX_OWNER_NAME     0x661C001Fu
#define TAG_IPM_SUBTREE_ENTRYID    0x35E00102u
#define TAG_IPM_OUTBOX_ENTRYID     0x35E20102u
#define TAG_IPM_WASTEBASKET_EID    0x35E30102u
#define TAG_IPM_SENTMAIL_ENTRYID   0x35E40102u
#define TAG_VIEWS_ENTRYID          0x35E50102u
#define TAG_COMMON_VIEWS_ENTRYID   0x35E60102u
#define TAG_FINDER_ENTRYID         0x35E70102u
#define TAG_STORE_SUPPORT_MASK     0x340D0003u
#define TAG_RECIPIENT_ORDER        0x5FDF0003u
#define TAG_DISPLAY_NAME_PRINTABLE 0x39FF001Fu
#define TAG_EMAIL_ADDRESS          0x3003001Fu
#define TAG_COMMENT                0x3004001Fu
#define TAG_MESSAGE_SIZE_EXTENDED  0x0E080014u
#define TAG_MAPPING_SIGNATURE      0x0FF80102u

#define TAG_DISPLAY_TYPE 0x39000003u
#define TAG_SMTP_ADDRESS 0x39FE001Fu

/* Creation and modification time of every folder (the store keeps none): 2024-01-01 UTC. */
#define FOLDER_EPOCH 1704067200

/* RopLogon ResponseFlags. */
#define LOGON_RESERVED   0x01u
#define LOGON_OWNER      0x02u
#define LOGON_SEND_AS    0x04u
#define RIGHTS_READ_ANY  0x0001u
#define RIGHTS_VISIBLE   0x0400u
#define TABLE_DEPTH      0x04u
#define TABLE_ASSOCIATED 0x02u
#define TABLE_SOFT_DEL   0x20u
#define TABLE_UNICODE    0x40u
#define QUERY_NO_ADVANCE 0x01u

enum { BOOKMARK_BEGINNING = 0, BOOKMARK_CURRENT = 1, BOOKMARK_END = 2 };

typedef enum obj_kind { OBJ_LOGON = 1, OBJ_FOLDER, OBJ_MESSAGE, OBJ_TABLE, OBJ_STREAM } obj_kind;

typedef enum table_kind {
	TBL_HIERARCHY = 1,
	TBL_CONTENTS,
	TBL_PERMISSIONS,
	TBL_ATTACHMENTS,
	TBL_RULES
} table_kind;

/* A logon's own copy of what its ROPs need of the mailbox. */
typedef struct logon {
	int64_t mailbox_id;
	GUID guid;
	GUID repl_guid;
	uint8_t repl_guid_wire[16]; /* PR_MAPPING_SIGNATURE: the ReplGuid's wire bytes */
	char *display_name;
	char *owner_name;
	char *owner_dn;
	char *owner_alias;
	uint64_t fids[MH_SRV_SPECIAL_FOLDERS];
	bool full; /* owner or FullAccess: every right on every folder */
} logon;

typedef struct srv_obj {
	uint32_t handle;
	uint8_t logon_id;
	obj_kind kind;
	int64_t folder_id; /* folder, message, table, stream: the folder's store id */
	uint64_t fid;
	uint64_t mid; /* message, attachment table, message stream */
	/* tables: a snapshot of row keys (FIDs, MIDs, member ids, attachment numbers) */
	table_kind table;
	uint8_t table_flags;
	unsigned base_depth;
	SPropTagArray *cols;
	uint64_t *keys;
	uint32_t *depths;
	uint32_t n_keys;
	uint32_t pos;
	/* streams: re-read from the store at each RopReadStream */
	uint32_t tag;
	bool on_message;
	uint32_t size;
	uint32_t spos;
} srv_obj;

struct mh_srv_rop_session {
	mh_srv_store *st;
	mh_srv_rop_options opts;
	int64_t principal;
	int64_t mailbox_id;
	char *server_dn;
	uint32_t next_handle;
	srv_obj **objs;
	size_t n_objs;
	size_t cap_objs;
	logon *logons[256];
};

/* State of one Execute. */
typedef struct exec {
	mh_srv_rop_session *s;
	mh_arena *a;
	uint32_t *handles;
	uint32_t n_handles;
	size_t room;      /* bytes the current response may take */
	bool too_small;   /* the current ROP cannot answer in room: RopBufferTooSmall */
	srv_obj *created; /* the object the current ROP made */
} exec;

/* Store failures a ROP answers (a missing object) versus ones that end the Execute. */
static bool fatal(mh_status ms)
{
	return ms != S_OK && ms != MAPI_E_NOT_FOUND;
}

static char *unconst(const char *s)
{
	return (char *)(uintptr_t)s;
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

/* ---- objects ---------------------------------------------------------------------------- */

static void obj_free(srv_obj *o)
{
	if (o == NULL)
		return;
	free(o->cols);
	free(o->keys);
	free(o->depths);
	free(o);
}

static void logon_free(logon *l)
{
	if (l == NULL)
		return;
	free(l->display_name);
	free(l->owner_name);
	free(l->owner_dn);
	free(l->owner_alias);
	free(l);
}

static srv_obj *find_obj(const mh_srv_rop_session *s, uint32_t handle)
{
	for (size_t i = 0; i < s->n_objs; i++)
		if (s->objs[i]->handle == handle)
			return s->objs[i];
	return NULL;
}

static void remove_at(mh_srv_rop_session *s, size_t i)
{
	obj_free(s->objs[i]);
	s->objs[i] = s->objs[--s->n_objs];
}

/* Releases o; a logon takes every object of its LogonId with it. */
static void release(mh_srv_rop_session *s, srv_obj *o)
{
	if (o->kind == OBJ_LOGON) {
		uint8_t id = o->logon_id;
		for (size_t i = s->n_objs; i-- > 0;)
			if (s->objs[i]->logon_id == id)
				remove_at(s, i);
		logon_free(s->logons[id]);
		s->logons[id] = NULL;
		return;
	}
	for (size_t i = 0; i < s->n_objs; i++)
		if (s->objs[i] == o) {
			remove_at(s, i);
			return;
		}
}

/*
 * A new object at the ROP's OutputHandleIndex. ROP-level failures come back in *rv:
 * ecNullObject for an index outside the handle table, ecOutOfResources at the cap.
 */
static mh_status new_obj(exec *x, const mh_rop_request *q, obj_kind kind, srv_obj **out,
                         mh_status *rv)
{
	mh_srv_rop_session *s = x->s;
	*out = NULL;
	if (q->out_handle_index >= x->n_handles) {
		*rv = ecNullObject;
		return S_OK;
	}
	if (s->n_objs >= s->opts.max_objects) {
		*rv = ecOutOfResources;
		return S_OK;
	}
	if (s->n_objs == s->cap_objs) {
		size_t cap = s->cap_objs ? s->cap_objs * 2 : 16;
		srv_obj **bigger = realloc(s->objs, cap * sizeof(*bigger));
		if (bigger == NULL)
			return mh_error_oom();
		s->objs = bigger;
		s->cap_objs = cap;
	}
	srv_obj *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return mh_error_oom();
	/* A counter, so a released handle is not handed out again for 2^32 objects. */
	do {
		o->handle = s->next_handle++;
	} while (o->handle == 0 || o->handle == HANDLE_NONE || find_obj(s, o->handle) != NULL);
	o->kind = kind;
	o->logon_id = q->logon_id;
	s->objs[s->n_objs++] = o;
	x->created = o;
	*out = o;
	*rv = S_OK;
	return S_OK;
}

/* The object at a ROP's input index, or the ROP error that says why there is none. */
static mh_status get_obj(exec *x, const mh_rop_request *q, srv_obj **out)
{
	*out = NULL;
	if (q->in_handle_index >= x->n_handles || x->handles[q->in_handle_index] == HANDLE_NONE)
		return ecNullObject;
	srv_obj *o = find_obj(x->s, x->handles[q->in_handle_index]);
	if (o == NULL)
		return ecInvalidObject;
	if (o->logon_id != q->logon_id || x->s->logons[q->logon_id] == NULL)
		return ecAccessDenied;
	*out = o;
	return S_OK;
}

/* ---- public lifetime -------------------------------------------------------------------- */

mh_status mh_srv_rop_session_new(mh_srv_rop_session **out, mh_srv_store *st,
                                 const mh_srv_rop_options *opts, const mh_srv_recipient *principal,
                                 const mh_srv_mailbox *mailbox)
{
	if (out == NULL || st == NULL || principal == NULL || mailbox == NULL ||
	    mailbox->server_dn == NULL || (opts != NULL && opts->version != 1))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "rop: session needs a store, a principal, a mailbox and "
		                    "options of version 1");
	*out = NULL;
	mh_srv_rop_session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return mh_error_oom();
	mh_srv_rop_options def = MH_SRV_ROP_OPTIONS_INIT;
	s->opts = opts != NULL ? *opts : def;
	if (s->opts.max_rops == 0)
		s->opts.max_rops = MH_SRV_ROP_MAX_ROPS;
	if (s->opts.max_objects == 0)
		s->opts.max_objects = MH_SRV_ROP_MAX_OBJECTS;
	if (s->opts.max_rows == 0)
		s->opts.max_rows = MH_SRV_ROP_MAX_ROWS;
	s->st = st;
	s->principal = principal->id;
	s->mailbox_id = mailbox->id;
	s->next_handle = 1;
	if ((s->server_dn = dup_str(mailbox->server_dn)) == NULL) {
		free(s);
		return mh_error_oom();
	}
	*out = s;
	return S_OK;
}

void mh_srv_rop_session_free(mh_srv_rop_session *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_objs; i++)
		obj_free(s->objs[i]);
	for (size_t i = 0; i < 256; i++)
		logon_free(s->logons[i]);
	free(s->objs);
	free(s->server_dn);
	free(s);
}

unsigned mh_srv_rop_session_objects(const mh_srv_rop_session *s)
{
	return s != NULL ? (unsigned)s->n_objs : 0;
}

/* ---- property lists --------------------------------------------------------------------- */

typedef struct plist {
	mh_arena *a;
	SPropValue *v;
	size_t n, cap;
	mh_status err;
} plist;

static SPropValue *pl_add(plist *p, uint32_t tag)
{
	if (p->err != S_OK)
		return NULL;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 32;
		void *bigger;
		if ((p->err = mh_arena_array(p->a, cap, sizeof(SPropValue), &bigger)) != S_OK)
			return NULL;
		if (p->n > 0)
			memcpy(bigger, p->v, p->n * sizeof(SPropValue));
		p->v = bigger;
		p->cap = cap;
	}
	SPropValue *v = &p->v[p->n++];
	memset(v, 0, sizeof(*v));
	v->ulPropTag = tag;
	return v;
}

static void pl_long(plist *p, uint32_t tag, int32_t l)
{
	SPropValue *v = pl_add(p, tag);
	if (v != NULL)
		v->Value.l = l;
}

static void pl_i8(plist *p, uint32_t tag, int64_t li)
{
	SPropValue *v = pl_add(p, tag);
	if (v != NULL)
		v->Value.li = li;
}

static void pl_bool(plist *p, uint32_t tag, bool b)
{
	SPropValue *v = pl_add(p, tag);
	if (v != NULL)
		v->Value.b = b ? 1 : 0;
}

static void pl_time(plist *p, uint32_t tag, uint64_t ft)
{
	SPropValue *v = pl_add(p, tag);
	if (v != NULL) {
		v->Value.ft.dwLowDateTime = (uint32_t)ft;
		v->Value.ft.dwHighDateTime = (uint32_t)(ft >> 32);
	}
}

static void pl_str(plist *p, uint32_t tag, const char *s)
{
	SPropValue *v = pl_add(p, tag);
	if (v != NULL)
		v->Value.lpszW = unconst(s != NULL ? s : "");
}

static void pl_bin(plist *p, uint32_t tag, const uint8_t *b, size_t n)
{
	SPropValue *v = pl_add(p, tag);
	if (v != NULL) {
		v->Value.bin.cb = (uint32_t)n;
		v->Value.bin.lpb = (uint8_t *)(uintptr_t)b;
	}
}

/* The bytes written to b, copied into the arena, as a binary property. */
static void pl_buf(plist *p, uint32_t tag, mh_buf *b)
{
	void *copy = NULL;
	if (p->err == S_OK && (p->err = mh_buf_status(b)) == S_OK)
		p->err = mh_arena_memdup(p->a, b->data, b->len, &copy);
	if (p->err == S_OK)
		pl_bin(p, tag, copy, b->len);
	mh_buf_free(b);
}

static const SPropValue *pl_find(const plist *p, uint32_t prop_id)
{
	for (size_t i = 0; i < p->n; i++)
		if (PROP_ID(p->v[i].ulPropTag) == prop_id)
			return &p->v[i];
	return NULL;
}

/*
 * The value a request for `want` names: the one of exactly that tag when the object has it
 * (PidTagMessageSize and PidTagMessageSizeExtended share an ID), else the first of its ID.
 */
static const SPropValue *pl_find_for(const plist *p, uint32_t want)
{
	uint16_t wt = (uint16_t)PROP_TYPE(want);
	if (wt != PT_UNSPECIFIED)
		for (size_t i = 0; i < p->n; i++)
			if (p->v[i].ulPropTag == want)
				return &p->v[i];
	return pl_find(p, PROP_ID(want));
}

/* ---- EntryIDs ---------------------------------------------------------------------------- */

static void folder_eid(plist *p, uint32_t tag, const logon *lg, uint64_t fid)
{
	mh_buf b = MH_BUF_INIT;
	mh_buf_zeros(&b, 4);
	mh_buf_guid(&b, &lg->guid);
	mh_buf_u16(&b, 0x0001); /* eitLTPrivateFolder */
	mh_buf_guid(&b, &lg->repl_guid);
	mh_buf_u48be(&b, mh_id_counter(fid));
	mh_buf_u16(&b, 0);
	pl_buf(p, tag, &b);
}

static void message_eid(plist *p, uint32_t tag, const logon *lg, uint64_t fid, uint64_t mid)
{
	mh_buf b = MH_BUF_INIT;
	mh_buf_zeros(&b, 4);
	mh_buf_guid(&b, &lg->guid);
	mh_buf_u16(&b, 0x0007); /* eitLTPrivateMessage */
	mh_buf_guid(&b, &lg->repl_guid);
	mh_buf_u48be(&b, mh_id_counter(fid));
	mh_buf_u16(&b, 0);
	mh_buf_guid(&b, &lg->repl_guid);
	mh_buf_u48be(&b, mh_id_counter(mid));
	mh_buf_u16(&b, 0);
	pl_buf(p, tag, &b);
}

static void ab_eid(plist *p, uint32_t tag, const char *dn)
{
	static const MAPIUID emsab = MH_MUID_EMSAB;
	mh_buf b = MH_BUF_INIT;
	mh_buf_zeros(&b, 4);
	mh_buf_muid(&b, &emsab);
	mh_buf_u32(&b, 1); /* Version */
	mh_buf_u32(&b, 0); /* DT_MAILUSER */
	mh_buf_str8z(&b, dn);
	pl_buf(p, tag, &b);
}

/* ---- values as asked for -------------------------------------------------------------- */

/* s cut to at most max UTF-16 units (never inside a surrogate pair); s itself if shorter. */
static mh_status cut_utf8(mh_arena *a, const char *s, size_t max, const char **out)
{
	size_t units = 0, i = 0;
	*out = s;
	while (s[i] != '\0') {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		size_t u = len == 4 ? 2 : 1;
		if (units + u > max) {
			char *copy;
			mh_status ms = mh_arena_strndup(a, s, i, &copy);
			*out = copy;
			return ms;
		}
		units += u;
		for (size_t k = 0; k < len && s[i] != '\0'; k++)
			i++;
	}
	return S_OK;
}

/* UTF-8 s as 8-bit text: ASCII kept, every other character '?'; at most max characters. */
static mh_status to_8bit(mh_arena *a, const char *s, size_t max, char **out)
{
	size_t n = 0;
	for (size_t i = 0; s[i] != '\0'; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	if (n > max)
		n = max;
	mh_status ms = mh_arena_alloc(a, n + 1, (void **)out);
	if (ms != S_OK)
		return ms;
	size_t k = 0;
	for (size_t i = 0; s[i] != '\0' && k < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c & 0xC0) == 0x80)
			continue;
		(*out)[k++] = c < 0x80 ? (char)c : '?';
	}
	(*out)[k] = '\0';
	return S_OK;
}

static void set_error(SPropValue *out, uint32_t prop_id, mh_status err)
{
	memset(out, 0, sizeof(*out));
	out->ulPropTag = PROP_TAG(PT_ERROR, prop_id);
	out->Value.err = err;
}

/*
 * The value of `want` from pl as the client asked for it: PT_UNSPECIFIED gives the stored
 * type (strings by unicode), PT_STRING8 of a string gives 8-bit text, another type ecNotFound.
 * In tables (table) strings are cut to MH_SRV_ROP_TABLE_STRING_MAX characters.
 */
static mh_status resolve(mh_arena *a, const plist *pl, uint32_t want, bool unicode, bool table,
                         SPropValue *out)
{
	uint32_t id = PROP_ID(want);
	uint16_t wt = (uint16_t)PROP_TYPE(want);
	if (wt & MV_INSTANCE)
		wt &= (uint16_t) ~(MV_INSTANCE | MV_FLAG);
	const SPropValue *v = pl_find_for(pl, PROP_TAG(wt, id));
	if (v == NULL) {
		set_error(out, id, ecNotFound);
		return S_OK;
	}
	uint16_t vt = (uint16_t)PROP_TYPE(v->ulPropTag);
	size_t max = table ? MH_SRV_ROP_TABLE_STRING_MAX : SIZE_MAX;
	if (vt == PT_UNICODE) {
		uint16_t t = wt != PT_UNSPECIFIED ? wt : unicode ? PT_UNICODE : PT_STRING8;
		memset(out, 0, sizeof(*out));
		if (t == PT_UNICODE) {
			const char *s;
			out->ulPropTag = PROP_TAG(PT_UNICODE, id);
			mh_status ms = cut_utf8(a, v->Value.lpszW, max, &s);
			out->Value.lpszW = unconst(s);
			return ms;
		}
		if (t == PT_STRING8) {
			out->ulPropTag = PROP_TAG(PT_STRING8, id);
			return to_8bit(a, v->Value.lpszW, max, &out->Value.lpszA);
		}
		set_error(out, id, ecNotFound);
		return S_OK;
	}
	if (wt != PT_UNSPECIFIED && wt != vt) {
		set_error(out, id, ecNotFound);
		return S_OK;
	}
	*out = *v;
	return S_OK;
}

/* ---- what each object has ---------------------------------------------------------------- */

static void store_props(const logon *lg, uint64_t size, uint32_t count, plist *p)
{
	static const struct {
		uint32_t tag;
		int folder;
	} eids[] = {
	    {TAG_IPM_SUBTREE_ENTRYID, MH_SRV_FOLDER_IPM_SUBTREE},
	    {TAG_IPM_OUTBOX_ENTRYID, MH_SRV_FOLDER_OUTBOX},
	    {TAG_IPM_WASTEBASKET_EID, MH_SRV_FOLDER_DELETED_ITEMS},
	    {TAG_IPM_SENTMAIL_ENTRYID, MH_SRV_FOLDER_SENT_ITEMS},
	    {TAG_VIEWS_ENTRYID, MH_SRV_FOLDER_VIEWS},
	    {TAG_COMMON_VIEWS_ENTRYID, MH_SRV_FOLDER_COMMON_VIEWS},
	    {TAG_FINDER_ENTRYID, MH_SRV_FOLDER_FINDER},
	};
	mh_buf key = MH_BUF_INIT, skey = MH_BUF_INIT;
	pl_str(p, TAG_DISPLAY_NAME, lg->display_name);
	pl_str(p, TAG_MAILBOX_OWNER_NAME, lg->owner_name);
	ab_eid(p, TAG_MAILBOX_OWNER_ENTRYID, lg->owner_dn);
	pl_str(p, TAG_DISPLAY_NAME_PRINTABLE, lg->owner_alias);
	pl_str(p, TAG_EMAIL_ADDRESS, lg->owner_dn);
	pl_long(p, TAG_MESSAGE_SIZE, size > INT32_MAX ? INT32_MAX : (int32_t)size);
	pl_i8(p, TAG_MESSAGE_SIZE_EXTENDED, (int64_t)size);
	pl_bin(p, TAG_MAPPING_SIGNATURE, lg->repl_guid_wire, sizeof(lg->repl_guid_wire));
	pl_long(p, TAG_OBJECT_TYPE, 1);                /* MAPI_STORE */
	pl_long(p, TAG_CONTENT_COUNT, (int32_t)count); /* every message of the mailbox */
	pl_time(p, TAG_CREATION_TIME, mh_srv_filetime(FOLDER_EPOCH));
	mh_buf_guid(&key, &lg->guid);
	pl_buf(p, TAG_RECORD_KEY, &key);
	mh_buf_guid(&skey, &lg->guid);
	pl_buf(p, TAG_STORE_RECORD_KEY, &skey);
	/* STORE_UNICODE_OK 0x40000 | STORE_ENTRYID_UNIQUE 0x1 */
	pl_long(p, TAG_STORE_SUPPORT_MASK, 0x00040001);
	for (size_t i = 0; i < sizeof(eids) / sizeof(eids[0]); i++)
		folder_eid(p, eids[i].tag, lg, lg->fids[eids[i].folder]);
}

/* FolderType: the root is FOLDER_ROOT (0), every other folder FOLDER_GENERIC (1). */
static void folder_props(const logon *lg, const mh_srv_folder *f, int rel_depth, uint32_t rights,
                         plist *p)
{
	pl_i8(p, TAG_FID, (int64_t)f->fid);
	pl_i8(p, TAG_PARENT_FID, (int64_t)f->parent_fid);
	pl_str(p, TAG_DISPLAY_NAME, f->display_name);
	pl_long(p, TAG_CONTENT_COUNT, (int32_t)f->content_count);
	pl_long(p, TAG_CONTENT_UNREAD, (int32_t)f->unread_count);
	pl_bool(p, TAG_SUBFOLDERS, f->subfolder_count > 0);
	pl_long(p, TAG_FOLDER_CHILD_COUNT, (int32_t)f->subfolder_count);
	pl_long(p, TAG_MESSAGE_SIZE,
	        f->message_size > INT32_MAX ? INT32_MAX : (int32_t)f->message_size);
	pl_i8(p, TAG_MESSAGE_SIZE_EXTENDED, (int64_t)f->message_size);
	if (f->container_class[0] != '\0')
		pl_str(p, TAG_CONTAINER_CLASS, f->container_class);
	if (rel_depth >= 0)
		pl_long(p, TAG_DEPTH, rel_depth);
	pl_long(p, TAG_FOLDER_TYPE, f->parent_fid == 0 ? 0 : 1);
	folder_eid(p, TAG_ENTRYID, lg, f->fid);
	if (f->parent_fid != 0)
		folder_eid(p, TAG_PARENT_ENTRYID, lg, f->parent_fid);
	pl_i8(p, TAG_INST_ID, (int64_t)f->fid);
	pl_long(p, TAG_INSTANCE_NUM, 0);
	pl_long(p, TAG_RIGHTS, (int32_t)rights);
	pl_long(p, TAG_OBJECT_TYPE, 3); /* MAPI_FOLDER */
	/* The store keeps no folder times: every folder dates from the organisation's epoch. */
	pl_time(p, TAG_CREATION_TIME, mh_srv_filetime(FOLDER_EPOCH));
	pl_time(p, TAG_LAST_MODIFICATION, mh_srv_filetime(FOLDER_EPOCH));
	pl_str(p, TAG_COMMENT, ""); /* folders have no description here */
}

/* "RE: " style prefix: 1-3 letters, a colon and a space (MS-OXCMSG PidTagSubjectPrefix). */
static size_t subject_prefix_len(const char *s)
{
	size_t i = 0;
	while (i < 3 && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
		i++;
	if (i > 0 && s[i] == ':' && s[i + 1] == ' ')
		return i + 2;
	return 0;
}

/* "name; name" of the recipients of one type. */
static mh_status display_list(mh_arena *a, const mh_srv_message *m, int type, const char **out)
{
	size_t n = 1;
	for (size_t i = 0; i < m->n_recipients; i++)
		if (m->recipients[i].type == type)
			n += strlen(m->recipients[i].display_name) + 2;
	char *s;
	mh_status ms = mh_arena_alloc(a, n, (void **)&s);
	if (ms != S_OK)
		return ms;
	s[0] = '\0';
	bool first = true;
	for (size_t i = 0; i < m->n_recipients; i++) {
		if (m->recipients[i].type != type)
			continue;
		if (!first)
			strcat(s, "; ");
		first = false;
		strcat(s, m->recipients[i].display_name);
	}
	*out = s;
	return S_OK;
}

/* Adds a stored property (encoding of docs/internals/server-store.md) unless its id is set. */
static void stored_prop(plist *p, const mh_srv_prop *sp)
{
	uint16_t t = (uint16_t)PROP_TYPE(sp->tag);
	if (pl_find(p, PROP_ID(sp->tag)) != NULL)
		return;
	uint64_t v = 0;
	if (t == PT_LONG || t == PT_I8 || t == PT_BOOLEAN || t == PT_SYSTIME) {
		size_t want = t == PT_LONG ? 4 : t == PT_BOOLEAN ? 1 : 8;
		if (sp->len != want)
			return;
		for (size_t i = want; i-- > 0;)
			v = (v << 8) | sp->value[i];
	}
	switch (t) {
	case PT_LONG:
		pl_long(p, sp->tag, (int32_t)(uint32_t)v);
		break;
	case PT_I8:
		pl_i8(p, sp->tag, (int64_t)v);
		break;
	case PT_BOOLEAN:
		pl_bool(p, sp->tag, v != 0);
		break;
	case PT_SYSTIME:
		pl_time(p, sp->tag, v);
		break;
	case PT_UNICODE: {
		char *s;
		if (p->err == S_OK && mh_utf8_valid((const char *)sp->value, sp->len) &&
		    (p->err = mh_arena_strndup(p->a, (const char *)sp->value, sp->len, &s)) == S_OK)
			pl_str(p, sp->tag, s);
		break;
	}
	case PT_BINARY:
		pl_bin(p, sp->tag, sp->value, sp->len);
		break;
	default:
		break;
	}
}

static void message_props(const logon *lg, const mh_srv_message *m, bool with_body, plist *p)
{
	const char *to = "", *cc = "";
	uint64_t ft = mh_srv_filetime(m->delivery_time);
	size_t pre = subject_prefix_len(m->subject);
	char *prefix = NULL;
	if (p->err == S_OK)
		p->err = mh_arena_strndup(p->a, m->subject, pre, &prefix);
	if (p->err == S_OK)
		p->err = display_list(p->a, m, MH_SRV_MAPI_TO, &to);
	if (p->err == S_OK)
		p->err = display_list(p->a, m, MH_SRV_MAPI_CC, &cc);
	pl_i8(p, TAG_MID, (int64_t)m->mid);
	pl_i8(p, TAG_FID, (int64_t)m->fid);
	pl_i8(p, TAG_INST_ID, (int64_t)m->mid);
	pl_long(p, TAG_INSTANCE_NUM, 0);
	pl_str(p, TAG_SUBJECT, m->subject);
	pl_str(p, TAG_SUBJECT_PREFIX, prefix);
	pl_str(p, TAG_NORMALIZED_SUBJECT, m->subject + pre);
	pl_str(p, TAG_MESSAGE_CLASS, m->message_class[0] != '\0' ? m->message_class : "IPM.Note");
	pl_time(p, TAG_DELIVERY_TIME, ft);
	pl_time(p, TAG_LAST_MODIFICATION, ft);
	pl_time(p, TAG_CREATION_TIME, ft);
	pl_long(p, TAG_MESSAGE_SIZE, (int32_t)m->size);
	pl_i8(p, TAG_MESSAGE_SIZE_EXTENDED, (int64_t)m->size);
	pl_str(p, TAG_SENDER_NAME, m->sender_name);
	pl_str(p, TAG_SENDER_ADDRTYPE, "SMTP");
	pl_str(p, TAG_SENDER_EMAIL, m->sender_smtp);
	pl_str(p, TAG_SENDER_SMTP, m->sender_smtp);
	pl_str(p, TAG_SENT_REPR_NAME, m->sender_name);
	pl_str(p, TAG_SENT_REPR_SMTP, m->sender_smtp);
	pl_str(p, TAG_DISPLAY_TO, to);
	pl_str(p, TAG_DISPLAY_CC, cc);
	pl_bool(p, TAG_READ, m->read != 0);
	/* MSGFLAG_READ 0x1, MSGFLAG_HASATTACH 0x10 */
	pl_long(p, TAG_MESSAGE_FLAGS, (m->read ? 0x01 : 0) | (m->n_attachments > 0 ? 0x10 : 0));
	pl_bool(p, TAG_HAS_ATTACHMENTS, m->n_attachments > 0);
	message_eid(p, TAG_ENTRYID, lg, m->fid, m->mid);
	folder_eid(p, TAG_PARENT_ENTRYID, lg, m->fid);
	pl_long(p, TAG_OBJECT_TYPE, 5); /* MAPI_MESSAGE */
	if (with_body)
		pl_str(p, TAG_BODY, m->body);
	for (size_t i = 0; i < m->n_props; i++)
		stored_prop(p, &m->props[i]);
	if (pl_find(p, PROP_ID(TAG_IMPORTANCE)) == NULL)
		pl_long(p, TAG_IMPORTANCE, 1);
}

static void attachment_props(const mh_srv_attachment *at, plist *p)
{
	pl_long(p, TAG_ATTACH_NUM, (int32_t)at->num);
	pl_str(p, TAG_ATTACH_LONG_FILENAME, at->filename);
	pl_str(p, TAG_ATTACH_FILENAME, at->filename);
	pl_str(p, TAG_DISPLAY_NAME, at->filename);
	pl_long(p, TAG_ATTACH_SIZE, (int32_t)at->len);
	pl_str(p, TAG_ATTACH_MIME_TAG, at->content_type);
	pl_long(p, TAG_ATTACH_METHOD, 1); /* ATTACH_BY_VALUE */
	pl_long(p, TAG_RENDERING_POSITION, -1);
	pl_long(p, TAG_OBJECT_TYPE, 7); /* MAPI_ATTACH */
}

/* ---- rights ------------------------------------------------------------------------------- */

static mh_status folder_rights(exec *x, const logon *lg, int64_t folder_id, uint32_t *out)
{
	if (lg->full) {
		*out = MH_SRV_RIGHTS_ALL_MASK;
		return S_OK;
	}
	return mh_srv_store_folder_rights(x->s->st, x->s->principal, folder_id, out);
}

/* ---- ROP handlers ------------------------------------------------------------------------ */

/*
 * Each handler fills r (RopId and index are set by the caller) and returns S_OK, or a fatal
 * status (memory, store) that ends the Execute. ROP failures go in r->return_value.
 */

static mh_status copy_logon(const mh_srv_mailbox *m, bool full, const uint64_t *fids, logon **out)
{
	logon *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return mh_error_oom();
	l->mailbox_id = m->id;
	l->guid = m->guid;
	l->repl_guid = m->repl_guid;
	mh_buf g = MH_BUF_INIT;
	mh_buf_guid(&g, &m->repl_guid);
	if (mh_buf_status(&g) != S_OK) {
		mh_buf_free(&g);
		free(l);
		return mh_error_oom();
	}
	memcpy(l->repl_guid_wire, g.data, 16);
	mh_buf_free(&g);
	l->full = full;
	memcpy(l->fids, fids, sizeof(l->fids));
	l->display_name = dup_str(m->display_name);
	l->owner_name = dup_str(m->owner.display_name);
	l->owner_dn = dup_str(m->owner.legacy_dn);
	l->owner_alias = dup_str(m->owner.alias);
	if (l->display_name == NULL || l->owner_name == NULL || l->owner_dn == NULL ||
	    l->owner_alias == NULL) {
		logon_free(l);
		return mh_error_oom();
	}
	*out = l;
	return S_OK;
}

static mh_status wrong_server(exec *x, mh_rop_response *r, uint8_t flags, const char *dn)
{
	r->return_value = ecWrongServer;
	r->u.logon.logon_flags = flags;
	return mh_arena_strndup(x->a, dn, strlen(dn), &r->u.logon.server_name);
}

static mh_status rop_logon(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	mh_srv_rop_session *s = x->s;
	mh_srv_mailbox m;
	uint64_t fids[MH_SRV_SPECIAL_FOLDERS];
	int full = 0;
	uint8_t flags;
	mh_status ms;

	if ((q->u.logon.logon_flags & MH_LOGON_FLAG_PRIVATE) == 0) {
		r->return_value = ecLoginFailure; /* this server has no public folders */
		return S_OK;
	}
	if (q->out_handle_index >= x->n_handles) {
		r->return_value = ecNullObject; /* nowhere to put the handle */
		return S_OK;
	}
	if (q->u.logon.essdn == NULL || q->u.logon.essdn[0] == '\0') {
		r->return_value = ecUnknownUser;
		return S_OK;
	}
	ms = mh_srv_store_mailbox_by_dn(s->st, x->a, q->u.logon.essdn, &m);
	if (ms == MAPI_E_NOT_FOUND) {
		r->return_value = ecUnknownUser;
		return S_OK;
	}
	if (ms != S_OK)
		return ms;
	if (m.id != s->mailbox_id)
		return wrong_server(x, r, q->u.logon.logon_flags, m.server_dn);
	bool owner = m.owner.id == s->principal;
	if ((ms = mh_srv_store_has_full_access(s->st, s->principal, m.id, &full)) != S_OK)
		return fatal(ms) ? ms : (r->return_value = ecUnknownUser, S_OK);
	if ((q->u.logon.open_flags & OPENSTORE_USE_ADMIN_PRIVILEGE) && !owner) {
		r->return_value = ecLoginPerm;
		return S_OK;
	}
	if (owner)
		flags = LOGON_RESERVED | LOGON_OWNER | LOGON_SEND_AS;
	else if (full)
		flags = LOGON_RESERVED | LOGON_OWNER;
	else if (m.kind == MH_SRV_MAILBOX_ARCHIVE || s->opts.rights_mode == MH_SRV_RIGHTS_LOGON) {
		r->return_value = ecLoginPerm;
		return S_OK;
	} else
		flags = LOGON_RESERVED;
	if (mh_srv_faults_hit(s->opts.faults, MH_SRV_FAULT_WRONG_SERVER, NULL))
		return wrong_server(x, r, q->u.logon.logon_flags, m.server_dn);
	if ((ms = mh_srv_store_special_fids(s->st, m.id, fids)) != S_OK)
		return fatal(ms) ? ms : (r->return_value = ecLoginFailure, S_OK);

	/* Reusing an active LogonId replaces that logon (and its objects). */
	for (size_t i = 0; i < s->n_objs; i++)
		if (s->objs[i]->kind == OBJ_LOGON && s->objs[i]->logon_id == q->logon_id) {
			release(s, s->objs[i]);
			break;
		}
	srv_obj *o;
	if ((ms = new_obj(x, q, OBJ_LOGON, &o, &r->return_value)) != S_OK || o == NULL)
		return ms;
	logon *lg = NULL;
	if ((ms = copy_logon(&m, owner || full, fids, &lg)) != S_OK) {
		release(s, o);
		x->created = NULL;
		return ms;
	}
	s->logons[q->logon_id] = lg;

	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	r->u.logon.is_private = true;
	r->u.logon.logon_flags =
	    q->u.logon.logon_flags &
	    (MH_LOGON_FLAG_PRIVATE | MH_LOGON_FLAG_UNDERCOVER | MH_LOGON_FLAG_GHOSTED);
	memcpy(r->u.logon.folder_ids, fids, sizeof(fids));
	r->u.logon.response_flags = flags;
	r->u.logon.mailbox_guid = m.guid;
	r->u.logon.repl_id = MH_SRV_REPLID;
	r->u.logon.repl_guid = m.repl_guid;
	r->u.logon.logon_time.seconds = (uint8_t)tm.tm_sec;
	r->u.logon.logon_time.minutes = (uint8_t)tm.tm_min;
	r->u.logon.logon_time.hour = (uint8_t)tm.tm_hour;
	r->u.logon.logon_time.day_of_week = (uint8_t)tm.tm_wday;
	r->u.logon.logon_time.day = (uint8_t)tm.tm_mday;
	r->u.logon.logon_time.month = (uint8_t)(tm.tm_mon + 1);
	r->u.logon.logon_time.year = (uint16_t)(tm.tm_year + 1900);
	r->u.logon.gwart_time = mh_srv_filetime((int64_t)now);
	r->u.logon.store_state = 0;
	return S_OK;
}

/* The folder with FID fid in the logon's mailbox, checked for FolderVisible or ReadAny. */
static mh_status visible_folder(exec *x, const logon *lg, uint64_t fid, mh_srv_folder *f,
                                uint32_t *rights, mh_status *rv)
{
	mh_status ms = mh_srv_store_folder_by_fid(x->s->st, x->a, lg->mailbox_id, fid, f);
	*rv = S_OK;
	if (ms == MAPI_E_NOT_FOUND) {
		*rv = ecNotFound;
		return S_OK;
	}
	if (ms != S_OK)
		return ms;
	if ((ms = folder_rights(x, lg, f->id, rights)) != S_OK)
		return ms;
	if ((*rights & (RIGHTS_VISIBLE | RIGHTS_READ_ANY)) == 0)
		*rv = ecAccessDenied;
	return S_OK;
}

static mh_status rop_open_folder(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *in, *o;
	mh_srv_folder f;
	uint32_t rights;
	mh_status ms;
	if ((r->return_value = get_obj(x, q, &in)) != S_OK)
		return S_OK;
	if (in->kind != OBJ_LOGON && in->kind != OBJ_FOLDER) {
		r->return_value = ecNotSupported;
		return S_OK;
	}
	const logon *lg = x->s->logons[q->logon_id];
	if ((ms = visible_folder(x, lg, q->u.open_folder.folder_id, &f, &rights,
	                         &r->return_value)) != S_OK ||
	    r->return_value != S_OK)
		return ms;
	if ((ms = new_obj(x, q, OBJ_FOLDER, &o, &r->return_value)) != S_OK || o == NULL)
		return ms;
	o->folder_id = f.id;
	o->fid = f.fid;
	r->u.open_folder.has_rules = 0;
	r->u.open_folder.is_ghosted = 0;
	return S_OK;
}

/* Copies n keys (and depths) into a table object. */
static mh_status table_keys(srv_obj *t, const uint64_t *keys, const uint32_t *depths, size_t n)
{
	free(t->keys);
	free(t->depths);
	t->keys = NULL;
	t->depths = NULL;
	t->n_keys = 0;
	t->pos = 0;
	if (n == 0)
		return S_OK;
	if ((t->keys = malloc(n * sizeof(uint64_t))) == NULL)
		return mh_error_oom();
	memcpy(t->keys, keys, n * sizeof(uint64_t));
	if (depths != NULL) {
		if ((t->depths = malloc(n * sizeof(uint32_t))) == NULL)
			return mh_error_oom();
		memcpy(t->depths, depths, n * sizeof(uint32_t));
	}
	t->n_keys = (uint32_t)n;
	return S_OK;
}

/* (Re)reads the rows of a table in their default order. */
static mh_status table_snapshot(exec *x, srv_obj *t)
{
	mh_srv_rop_session *s = x->s;
	const logon *lg = s->logons[t->logon_id];
	mh_status ms;
	switch (t->table) {
	case TBL_HIERARCHY: {
		mh_srv_folder *all;
		size_t n;
		if ((ms = mh_srv_store_folders(s->st, x->a, lg->mailbox_id, &all, &n)) != S_OK)
			return ms;
		uint64_t *keys;
		uint32_t *depths;
		bool *under;
		size_t k = 0;
		if ((ms = mh_arena_array(x->a, n, sizeof(*keys), (void **)&keys)) != S_OK ||
		    (ms = mh_arena_array(x->a, n, sizeof(*depths), (void **)&depths)) != S_OK ||
		    (ms = mh_arena_array(x->a, n, sizeof(*under), (void **)&under)) != S_OK)
			return ms;
		/* Parents come before children: a folder is in the subtree when its parent is. */
		for (size_t i = 0; i < n; i++) {
			bool child = all[i].parent_fid == t->fid;
			for (size_t j = 0; j < i && !child && (t->table_flags & TABLE_DEPTH); j++)
				child = under[j] && all[j].fid == all[i].parent_fid;
			under[i] = child;
			if (!child || (t->table_flags & TABLE_SOFT_DEL))
				continue;
			uint32_t rights;
			if ((ms = folder_rights(x, lg, all[i].id, &rights)) != S_OK)
				return ms;
			if ((rights & (RIGHTS_VISIBLE | RIGHTS_READ_ANY)) == 0)
				continue;
			keys[k] = all[i].fid;
			depths[k++] = all[i].depth - t->base_depth;
		}
		return table_keys(t, keys, depths, k);
	}
	case TBL_CONTENTS: {
		uint64_t *mids;
		size_t n;
		if (t->table_flags & (TABLE_ASSOCIATED | TABLE_SOFT_DEL))
			return table_keys(t, NULL, NULL, 0); /* no FAI or soft-deleted messages */
		if ((ms = mh_srv_store_message_mids(s->st, x->a, t->folder_id, &mids, &n)) != S_OK)
			return ms;
		return table_keys(t, mids, NULL, n);
	}
	case TBL_PERMISSIONS: {
		mh_srv_permission *perms;
		size_t n;
		uint64_t *keys;
		if ((ms = mh_srv_store_folder_permissions(s->st, x->a, t->folder_id, &perms, &n)) !=
		        S_OK ||
		    (ms = mh_arena_array(x->a, n + 2, sizeof(*keys), (void **)&keys)) != S_OK)
			return ms;
		/* Default and Anonymous always, then the members. */
		keys[0] = 0;
		keys[1] = UINT64_MAX;
		size_t k = 2;
		for (size_t i = 0; i < n; i++)
			if (!perms[i].is_default)
				keys[k++] = (uint64_t)perms[i].member.id;
		return table_keys(t, keys, NULL, k);
	}
	case TBL_ATTACHMENTS: {
		mh_srv_message m;
		uint64_t *keys;
		if ((ms = mh_srv_store_message_by_mid(s->st, x->a, lg->mailbox_id, t->mid, &m)) !=
		    S_OK)
			return ms;
		if ((ms = mh_arena_array(x->a, m.n_attachments + 1, sizeof(*keys),
		                         (void **)&keys)) != S_OK)
			return ms;
		for (size_t i = 0; i < m.n_attachments; i++)
			keys[i] = m.attachments[i].num;
		return table_keys(t, keys, NULL, m.n_attachments);
	}
	case TBL_RULES:
		return table_keys(t, NULL, NULL, 0);
	}
	return S_OK;
}

static mh_status rop_get_table(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *in, *t;
	mh_status ms;
	table_kind kind = q->rop_id == MH_ROP_GET_HIERARCHY_TABLE     ? TBL_HIERARCHY
	                  : q->rop_id == MH_ROP_GET_CONTENTS_TABLE    ? TBL_CONTENTS
	                  : q->rop_id == MH_ROP_GET_PERMISSIONS_TABLE ? TBL_PERMISSIONS
	                  : q->rop_id == MH_ROP_GET_RULES_TABLE       ? TBL_RULES
	                                                              : TBL_ATTACHMENTS;
	if ((r->return_value = get_obj(x, q, &in)) != S_OK)
		return S_OK;
	if ((kind == TBL_ATTACHMENTS) != (in->kind == OBJ_MESSAGE) ||
	    (kind != TBL_ATTACHMENTS && in->kind != OBJ_FOLDER)) {
		r->return_value = ecNotSupported;
		return S_OK;
	}
	const logon *lg = x->s->logons[q->logon_id];
	unsigned base_depth = 0;
	if (kind == TBL_CONTENTS) {
		uint32_t rights;
		if ((ms = folder_rights(x, lg, in->folder_id, &rights)) != S_OK)
			return fatal(ms) ? ms : (r->return_value = ecNotFound, S_OK);
		if ((rights & RIGHTS_READ_ANY) == 0) {
			r->return_value = ecAccessDenied;
			return S_OK;
		}
	} else if (kind == TBL_HIERARCHY) {
		mh_srv_folder f;
		ms = mh_srv_store_folder_by_fid(x->s->st, x->a, lg->mailbox_id, in->fid, &f);
		if (ms != S_OK)
			return fatal(ms) ? ms : (r->return_value = ecNotFound, S_OK);
		base_depth = f.depth;
	}
	if ((ms = new_obj(x, q, OBJ_TABLE, &t, &r->return_value)) != S_OK || t == NULL)
		return ms;
	t->table = kind;
	t->table_flags = q->u.get_table.table_flags;
	t->folder_id = in->folder_id;
	t->fid = in->fid;
	t->mid = in->mid;
	t->base_depth = base_depth;
	if ((ms = table_snapshot(x, t)) != S_OK) {
		if (fatal(ms))
			return ms;
		release(x->s, t);
		x->created = NULL;
		r->return_value = ecNotFound;
		return S_OK;
	}
	r->u.get_table.row_count = t->n_keys;
	return S_OK;
}

/* Looks up the object at the input index, which must be of this kind (else ecNotSupported). */
static mh_status get_obj_of(exec *x, const mh_rop_request *q, obj_kind kind, srv_obj **o)
{
	mh_status rv = get_obj(x, q, o);
	if (rv == S_OK && (*o)->kind != kind)
		rv = ecNotSupported;
	return rv;
}

static mh_status get_table(exec *x, const mh_rop_request *q, srv_obj **t)
{
	return get_obj_of(x, q, OBJ_TABLE, t);
}

static mh_status rop_set_columns(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *t;
	if ((r->return_value = get_table(x, q, &t)) != S_OK)
		return S_OK;
	const SPropTagArray *tags = q->u.set_columns.tags;
	if (tags == NULL || tags->cValues == 0) {
		r->return_value = ecInvalidParameter;
		return S_OK;
	}
	if (tags->cValues > MH_SRV_ROP_MAX_COLUMNS) {
		r->return_value = ecTooBig; /* the columns live as long as the table */
		return S_OK;
	}
	SPropTagArray *cols = malloc(CbNewSPropTagArray(tags->cValues));
	if (cols == NULL)
		return mh_error_oom();
	memcpy(cols, tags, CbNewSPropTagArray(tags->cValues));
	free(t->cols);
	t->cols = cols;
	r->u.table_status.table_status = 0; /* TBLSTAT_COMPLETE */
	return S_OK;
}

/* The properties of row i of table t, in arena ra. ecNotFound when the row is gone. */
static mh_status table_row_props(exec *x, srv_obj *t, uint32_t i, mh_arena *ra, plist *p)
{
	mh_srv_rop_session *s = x->s;
	const logon *lg = s->logons[t->logon_id];
	mh_status ms;
	switch (t->table) {
	case TBL_HIERARCHY: {
		mh_srv_folder f;
		uint32_t rights;
		if ((ms = mh_srv_store_folder_by_fid(s->st, ra, lg->mailbox_id, t->keys[i], &f)) !=
		        S_OK ||
		    (ms = folder_rights(x, lg, f.id, &rights)) != S_OK)
			return ms;
		folder_props(lg, &f, (int)t->depths[i], rights, p);
		return p->err;
	}
	case TBL_CONTENTS: {
		mh_srv_message m;
		if ((ms = mh_srv_store_message_by_mid(s->st, ra, lg->mailbox_id, t->keys[i], &m)) !=
		    S_OK)
			return ms;
		message_props(lg, &m, false, p);
		return p->err;
	}
	case TBL_PERMISSIONS: {
		mh_srv_permission *perms;
		size_t n;
		if ((ms = mh_srv_store_folder_permissions(s->st, ra, t->folder_id, &perms, &n)) !=
		    S_OK)
			return ms;
		uint32_t rights = 0;
		const char *name = t->keys[i] == 0 ? "Default" : "Anonymous";
		const char *dn = NULL;
		for (size_t k = 0; k < n; k++) {
			if (t->keys[i] == 0 && perms[k].is_default)
				rights = perms[k].rights;
			else if (!perms[k].is_default &&
			         (uint64_t)perms[k].member.id == t->keys[i]) {
				rights = perms[k].rights;
				name = perms[k].member.display_name;
				dn = perms[k].member.legacy_dn;
			}
		}
		if (t->keys[i] != 0 && t->keys[i] != UINT64_MAX && dn == NULL)
			return MAPI_E_NOT_FOUND;
		pl_i8(p, TAG_MEMBER_ID, (int64_t)t->keys[i]);
		pl_str(p, TAG_MEMBER_NAME, name);
		pl_long(p, TAG_MEMBER_RIGHTS, (int32_t)rights);
		if (dn != NULL)
			ab_eid(p, TAG_ENTRYID, dn);
		else
			pl_bin(p, TAG_ENTRYID, NULL, 0);
		return p->err;
	}
	case TBL_ATTACHMENTS: {
		mh_srv_message m;
		if ((ms = mh_srv_store_message_by_mid(s->st, ra, lg->mailbox_id, t->mid, &m)) !=
		    S_OK)
			return ms;
		for (size_t k = 0; k < m.n_attachments; k++)
			if (m.attachments[k].num == t->keys[i]) {
				attachment_props(&m.attachments[k], p);
				return p->err;
			}
		return MAPI_E_NOT_FOUND;
	}
	case TBL_RULES:
		break;
	}
	return MAPI_E_NOT_FOUND;
}

/* Resolves every column against p into row (arena a); a flagged row when any is missing. */
static mh_status build_row(mh_arena *a, const plist *p, const SPropTagArray *cols, bool unicode,
                           bool table, mh_prop_row *row)
{
	mh_status ms;
	memset(row, 0, sizeof(*row));
	if ((ms = mh_arena_array(a, cols->cValues, sizeof(SPropValue), (void **)&row->lpProps)) !=
	    S_OK)
		return ms;
	row->cValues = cols->cValues;
	for (uint32_t c = 0; c < cols->cValues; c++) {
		if ((ms = resolve(a, p, cols->aulPropTag[c], unicode, table, &row->lpProps[c])) !=
		    S_OK)
			return ms;
		if (PROP_TYPE(row->lpProps[c].ulPropTag) == PT_ERROR &&
		    PROP_TYPE(cols->aulPropTag[c]) != PT_ERROR)
			row->flag = 1;
	}
	return S_OK;
}

/* Row i of t over its columns, appended to b. */
static mh_status push_table_row(exec *x, srv_obj *t, uint32_t i, mh_buf *b)
{
	mh_arena ra;
	mh_prop_row row;
	plist p;
	mh_arena_init(&ra, 0);
	memset(&p, 0, sizeof(p));
	p.a = &ra;
	mh_status ms = table_row_props(x, t, i, &ra, &p);
	if (ms == MAPI_E_NOT_FOUND) {
		p.n = 0; /* the row is gone: every column is missing */
		ms = S_OK;
	}
	if (ms == S_OK)
		ms = build_row(&ra, &p, t->cols, (t->table_flags & TABLE_UNICODE) != 0, true, &row);
	if (ms == S_OK) {
		mh_pv_row_push(b, MH_PV_ROP, t->cols, &row);
		ms = mh_buf_status(b);
	}
	mh_arena_free(&ra);
	return ms;
}

static mh_status rop_query_rows(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *t;
	if ((r->return_value = get_table(x, q, &t)) != S_OK)
		return S_OK;
	if (t->cols == NULL) {
		r->return_value = ecNullObject; /* SetColumns first (MS-OXCTABL 3.2.5.5) */
		return S_OK;
	}
	bool forward = q->u.query_rows.forward_read != 0;
	uint32_t want = q->u.query_rows.row_count;
	if (want == 0) {
		r->return_value = ecInvalidParameter;
		return S_OK;
	}
	if (want > x->s->opts.max_rows)
		want = x->s->opts.max_rows;
	size_t avail = x->room > 9 ? x->room - 9 : 0; /* header, Origin, RowCount */
	uint32_t pos = t->pos > t->n_keys ? t->n_keys : t->pos, rows = 0;
	/* Where each row starts in raw: reading backwards collects rows last first. */
	size_t *starts;
	mh_status ms = mh_arena_array(x->a, want + 1, sizeof(*starts), (void **)&starts);
	if (ms != S_OK)
		return ms;
	mh_buf raw = MH_BUF_INIT, one = MH_BUF_INIT;
	while (rows < want && (forward ? pos < t->n_keys : pos > 0)) {
		uint32_t i = forward ? pos : pos - 1;
		one.len = 0;
		if ((ms = push_table_row(x, t, i, &one)) != S_OK)
			break;
		if (raw.len + one.len > avail)
			break;
		starts[rows++] = raw.len;
		mh_buf_put(&raw, one.data, one.len);
		pos = forward ? pos + 1 : pos - 1;
	}
	starts[rows] = raw.len;
	mh_buf_free(&one);
	if (ms == S_OK)
		ms = mh_buf_status(&raw);
	if (ms == S_OK && rows == 0 && (forward ? pos < t->n_keys : pos > 0)) {
		r->return_value = ecBufferTooSmall; /* not even one row fits */
	} else if (ms == S_OK) {
		uint8_t *copy = NULL;
		if (raw.len > 0 && (ms = mh_arena_alloc(x->a, raw.len, (void **)&copy)) == S_OK) {
			/* Rows go out in table order either way (MS-OXCTABL 3.2.5.5). */
			size_t at = 0;
			for (uint32_t k = 0; k < rows; k++) {
				uint32_t j = forward ? k : rows - 1 - k;
				memcpy(copy + at, raw.data + starts[j], starts[j + 1] - starts[j]);
				at += starts[j + 1] - starts[j];
			}
		}
		if (ms == S_OK) {
			if ((q->u.query_rows.flags & QUERY_NO_ADVANCE) == 0)
				t->pos = pos;
			r->u.query_rows.origin = forward && pos >= t->n_keys ? BOOKMARK_END
			                         : !forward && pos == 0      ? BOOKMARK_BEGINNING
			                                                     : BOOKMARK_CURRENT;
			r->u.query_rows.row_count = (uint16_t)rows;
			r->u.query_rows.columns = NULL;
			r->u.query_rows.raw.cb = (uint32_t)raw.len;
			r->u.query_rows.raw.lpb = copy;
		}
	}
	mh_buf_free(&raw);
	return ms;
}

static mh_status rop_seek_row(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *t;
	if ((r->return_value = get_table(x, q, &t)) != S_OK)
		return S_OK;
	int64_t base;
	switch (q->u.seek_row.origin) {
	case BOOKMARK_BEGINNING:
		base = 0;
		break;
	case BOOKMARK_CURRENT:
		base = t->pos;
		break;
	case BOOKMARK_END:
		base = t->n_keys;
		break;
	default:
		r->return_value = ecInvalidParameter;
		return S_OK;
	}
	int64_t target = base + q->u.seek_row.row_count, got = target;
	if (got < 0)
		got = 0;
	if (got > (int64_t)t->n_keys)
		got = t->n_keys;
	t->pos = (uint32_t)got;
	r->u.seek_row.has_sought_less = got != target;
	r->u.seek_row.rows_sought = (int32_t)(got - base);
	return S_OK;
}

static mh_status rop_reset_table(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *t;
	if ((r->return_value = get_table(x, q, &t)) != S_OK)
		return S_OK;
	free(t->cols);
	t->cols = NULL;
	mh_status ms = table_snapshot(x, t);
	if (ms == MAPI_E_NOT_FOUND) {
		r->return_value = ecNotFound;
		return S_OK;
	}
	return ms;
}

/* Stable merge sort of row indexes by precomputed sort values. */
typedef struct sort_ctx {
	const mh_rop_sort_order *orders;
	unsigned n_orders;
	SPropValue **vals; /* vals[row][order] */
} sort_ctx;

static int cmp_value(const SPropValue *a, const SPropValue *b)
{
	bool na = PROP_TYPE(a->ulPropTag) == PT_ERROR, nb = PROP_TYPE(b->ulPropTag) == PT_ERROR;
	if (na || nb)
		return na == nb ? 0 : na ? -1 : 1; /* missing values sort first */
	switch (PROP_TYPE(a->ulPropTag)) {
	case PT_LONG:
		return a->Value.l < b->Value.l ? -1 : a->Value.l > b->Value.l;
	case PT_BOOLEAN:
		return (a->Value.b != 0) - (b->Value.b != 0);
	case PT_I8:
		return a->Value.li < b->Value.li ? -1 : a->Value.li > b->Value.li;
	case PT_SYSTIME: {
		uint64_t x =
		    ((uint64_t)a->Value.ft.dwHighDateTime << 32) | a->Value.ft.dwLowDateTime;
		uint64_t y =
		    ((uint64_t)b->Value.ft.dwHighDateTime << 32) | b->Value.ft.dwLowDateTime;
		return x < y ? -1 : x > y;
	}
	case PT_UNICODE:
	case PT_STRING8:
		return strcasecmp(a->Value.lpszA, b->Value.lpszA);
	case PT_BINARY: {
		uint32_t n = a->Value.bin.cb < b->Value.bin.cb ? a->Value.bin.cb : b->Value.bin.cb;
		int c = n ? memcmp(a->Value.bin.lpb, b->Value.bin.lpb, n) : 0;
		return c != 0 ? c
		              : (a->Value.bin.cb > b->Value.bin.cb) -
		                    (a->Value.bin.cb < b->Value.bin.cb);
	}
	default:
		return 0;
	}
}

static int cmp_rows(const sort_ctx *c, uint32_t i, uint32_t j)
{
	for (unsigned k = 0; k < c->n_orders; k++) {
		int d = cmp_value(&c->vals[i][k], &c->vals[j][k]);
		if (d != 0)
			return c->orders[k].order == 1 ? -d : d; /* 1: TABLE_SORT_DESCEND */
	}
	return 0;
}

static void merge_sort(const sort_ctx *c, uint32_t *v, uint32_t *tmp, uint32_t n)
{
	if (n < 2)
		return;
	uint32_t h = n / 2;
	merge_sort(c, v, tmp, h);
	merge_sort(c, v + h, tmp, n - h);
	uint32_t i = 0, j = h, k = 0;
	while (i < h && j < n)
		tmp[k++] = cmp_rows(c, v[j], v[i]) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

/* Sorts the rows of t by the request's sort orders; the values live in sa. */
static mh_status sort_keys(exec *x, srv_obj *t, const mh_rop_request *q, mh_arena *sa)
{
	unsigned n_orders = q->u.sort_table.sort_order_count;
	mh_status ms;
	sort_ctx c = {q->u.sort_table.sort_orders, n_orders, NULL};
	uint32_t *idx, *tmp;
	uint64_t *keys;
	uint32_t *depths = NULL;
	uint32_t n = t->n_keys;
	if ((ms = mh_arena_array(sa, n, sizeof(*c.vals), (void **)&c.vals)) != S_OK ||
	    (ms = mh_arena_array(sa, n, sizeof(*idx), (void **)&idx)) != S_OK ||
	    (ms = mh_arena_array(sa, n, sizeof(*tmp), (void **)&tmp)) != S_OK ||
	    (ms = mh_arena_array(sa, n, sizeof(*keys), (void **)&keys)) != S_OK ||
	    (t->depths != NULL &&
	     (ms = mh_arena_array(sa, n, sizeof(*depths), (void **)&depths)) != S_OK))
		return ms;
	for (uint32_t i = 0; i < n; i++) {
		mh_arena ra;
		plist p;
		mh_arena_init(&ra, 0);
		memset(&p, 0, sizeof(p));
		p.a = &ra;
		idx[i] = i;
		ms = table_row_props(x, t, i, &ra, &p);
		if (ms == MAPI_E_NOT_FOUND) {
			p.n = 0;
			ms = S_OK;
		}
		if (ms == S_OK)
			ms = mh_arena_array(sa, n_orders, sizeof(SPropValue), (void **)&c.vals[i]);
		/* The sort values are copied out of the row's arena into sa. */
		for (unsigned k = 0; ms == S_OK && k < n_orders; k++) {
			SPropValue *v = &c.vals[i][k];
			ms = resolve(sa, &p, q->u.sort_table.sort_orders[k].tag, true, true, v);
			if (ms == S_OK && PROP_TYPE(v->ulPropTag) == PT_UNICODE)
				ms = mh_arena_strndup(sa, v->Value.lpszW, strlen(v->Value.lpszW),
				                      &v->Value.lpszW);
			else if (ms == S_OK && PROP_TYPE(v->ulPropTag) == PT_BINARY &&
			         v->Value.bin.cb > 0)
				ms = mh_arena_memdup(sa, v->Value.bin.lpb, v->Value.bin.cb,
				                     (void **)&v->Value.bin.lpb);
		}
		mh_arena_free(&ra);
		if (ms != S_OK)
			return ms;
	}
	merge_sort(&c, idx, tmp, n);
	for (uint32_t i = 0; i < n; i++) {
		keys[i] = t->keys[idx[i]];
		if (depths != NULL)
			depths[i] = t->depths[idx[i]];
	}
	memcpy(t->keys, keys, n * sizeof(*keys));
	if (depths != NULL)
		memcpy(t->depths, depths, n * sizeof(*depths));
	return S_OK;
}

static mh_status rop_sort_table(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *t;
	mh_status ms;
	if ((r->return_value = get_table(x, q, &t)) != S_OK)
		return S_OK;
	unsigned n_orders = q->u.sort_table.sort_order_count;
	if (q->u.sort_table.categorized_count != 0) {
		r->return_value = ecNotSupported; /* no categorized views */
		return S_OK;
	}
	for (unsigned k = 0; k < n_orders; k++)
		if (q->u.sort_table.sort_orders[k].order > 1 ||
		    (PROP_TYPE(q->u.sort_table.sort_orders[k].tag) & MV_FLAG)) {
			r->return_value = ecNotSupported;
			return S_OK;
		}
	/* Sorting starts from the default order, so a sort is repeatable. */
	if ((ms = table_snapshot(x, t)) != S_OK)
		return fatal(ms) ? ms : (r->return_value = ecNotFound, S_OK);
	if (n_orders > 0 && t->n_keys > 1) {
		/* The sort values of every row: their own arena, so a huge table fails this ROP
		 * (ecTooBig) rather than the Execute. */
		mh_arena sa;
		mh_arena_init(&sa, SORT_ARENA_CAP);
		ms = sort_keys(x, t, q, &sa);
		mh_arena_free(&sa);
		if (ms == MAPI_E_TOO_BIG) {
			r->return_value = ecTooBig;
			return S_OK;
		}
		if (ms != S_OK)
			return ms;
	}
	t->pos = 0;
	r->u.table_status.table_status = 0;
	return S_OK;
}

static mh_status rop_query_columns_all(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	static const uint32_t hier[] = {TAG_FID,
	                                TAG_PARENT_FID,
	                                TAG_DISPLAY_NAME,
	                                TAG_CONTENT_COUNT,
	                                TAG_CONTENT_UNREAD,
	                                TAG_SUBFOLDERS,
	                                TAG_CONTAINER_CLASS,
	                                TAG_DEPTH,
	                                TAG_FOLDER_TYPE,
	                                TAG_ENTRYID,
	                                TAG_INST_ID,
	                                TAG_INSTANCE_NUM,
	                                TAG_RIGHTS};
	static const uint32_t contents[] = {TAG_MID,
	                                    TAG_INST_ID,
	                                    TAG_INSTANCE_NUM,
	                                    TAG_SUBJECT,
	                                    TAG_NORMALIZED_SUBJECT,
	                                    TAG_MESSAGE_CLASS,
	                                    TAG_DELIVERY_TIME,
	                                    TAG_LAST_MODIFICATION,
	                                    TAG_MESSAGE_SIZE,
	                                    TAG_SENDER_NAME,
	                                    TAG_SENDER_SMTP,
	                                    TAG_READ,
	                                    TAG_MESSAGE_FLAGS,
	                                    TAG_HAS_ATTACHMENTS,
	                                    TAG_ENTRYID,
	                                    TAG_DISPLAY_TO,
	                                    TAG_IMPORTANCE};
	static const uint32_t perms[] = {TAG_MEMBER_ID, TAG_MEMBER_NAME, TAG_MEMBER_RIGHTS,
	                                 TAG_ENTRYID};
	static const uint32_t atts[] = {TAG_ATTACH_NUM, TAG_ATTACH_LONG_FILENAME, TAG_ATTACH_SIZE,
	                                TAG_ATTACH_MIME_TAG, TAG_ATTACH_METHOD};
	static const uint32_t rules[] = {TAG_RULE_ID, TAG_RULE_SEQUENCE, TAG_RULE_STATE,
	                                 TAG_RULE_NAME, TAG_RULE_PROVIDER};
	srv_obj *t;
	if ((r->return_value = get_table(x, q, &t)) != S_OK)
		return S_OK;
	const uint32_t *list = t->table == TBL_HIERARCHY     ? hier
	                       : t->table == TBL_CONTENTS    ? contents
	                       : t->table == TBL_PERMISSIONS ? perms
	                       : t->table == TBL_ATTACHMENTS ? atts
	                                                     : rules;
	size_t n = t->table == TBL_HIERARCHY     ? sizeof(hier) / 4
	           : t->table == TBL_CONTENTS    ? sizeof(contents) / 4
	           : t->table == TBL_PERMISSIONS ? sizeof(perms) / 4
	           : t->table == TBL_ATTACHMENTS ? sizeof(atts) / 4
	                                         : sizeof(rules) / 4;
	SPropTagArray *tags;
	mh_status ms = mh_arena_alloc(x->a, CbNewSPropTagArray(n), (void **)&tags);
	if (ms != S_OK)
		return ms;
	tags->cValues = (uint32_t)n;
	memcpy(tags->aulPropTag, list, n * 4);
	r->u.prop_list.tags = tags;
	return S_OK;
}

/* The properties of a logon, folder or message object, in x->a. */
static mh_status object_props(exec *x, const srv_obj *o, plist *p, mh_status *rv)
{
	mh_srv_rop_session *s = x->s;
	const logon *lg = s->logons[o->logon_id];
	mh_status ms;
	memset(p, 0, sizeof(*p));
	p->a = x->a;
	*rv = S_OK;
	switch (o->kind) {
	case OBJ_LOGON: {
		uint64_t size;
		uint32_t count;
		if ((ms = mh_srv_store_mailbox_totals(s->st, lg->mailbox_id, &size, &count)) !=
		    S_OK)
			return fatal(ms) ? ms : (*rv = ecNotFound, S_OK);
		store_props(lg, size, count, p);
		return p->err;
	}
	case OBJ_FOLDER: {
		mh_srv_folder f;
		uint32_t rights;
		ms = mh_srv_store_folder_by_fid(s->st, x->a, lg->mailbox_id, o->fid, &f);
		if (ms == S_OK)
			ms = folder_rights(x, lg, f.id, &rights);
		if (ms != S_OK)
			return fatal(ms) ? ms : (*rv = ecNotFound, S_OK);
		folder_props(lg, &f, -1, rights, p);
		return p->err;
	}
	case OBJ_MESSAGE: {
		mh_srv_message m;
		ms = mh_srv_store_message_by_mid(s->st, x->a, lg->mailbox_id, o->mid, &m);
		if (ms != S_OK)
			return fatal(ms) ? ms : (*rv = ecNotFound, S_OK);
		message_props(lg, &m, true, p);
		return p->err;
	}
	default:
		*rv = ecNotSupported;
		return S_OK;
	}
}

static bool is_big(const SPropValue *v)
{
	uint16_t t = (uint16_t)PROP_TYPE(v->ulPropTag);
	return t == PT_UNICODE || t == PT_STRING8 || t == PT_BINARY;
}

static size_t value_size(const SPropValue *v)
{
	mh_buf b = MH_BUF_INIT;
	mh_pv_value_push(&b, MH_PV_ROP, (uint16_t)PROP_TYPE(v->ulPropTag), &v->Value);
	size_t n = b.len;
	mh_buf_free(&b);
	return n;
}

/*
 * Values over PropertySizeLimit, and then the largest values until the response fits
 * (measure() gives its size), become PT_ERROR ecMAPIOOM (MS-OXCPRPT 2.2.2, 2.2.3).
 */
static void shrink_values(SPropValue *v, uint32_t n, uint16_t limit, size_t room,
                          size_t (*measure)(const SPropValue *, uint32_t, const void *),
                          const void *ctx, bool *flagged)
{
	for (uint32_t i = 0; i < n; i++)
		if (limit != 0 && is_big(&v[i]) && value_size(&v[i]) > limit) {
			set_error(&v[i], PROP_ID(v[i].ulPropTag), ecMAPIOOM);
			*flagged = true;
		}
	while (measure(v, n, ctx) > room) {
		size_t best = 0, at = n;
		for (uint32_t i = 0; i < n; i++)
			if (is_big(&v[i])) {
				size_t sz = value_size(&v[i]);
				if (sz > best) {
					best = sz;
					at = i;
				}
			}
		if (at == n || best <= 4)
			return;
		set_error(&v[at], PROP_ID(v[at].ulPropTag), ecMAPIOOM);
		*flagged = true;
	}
}

static size_t measure_row(const SPropValue *v, uint32_t n, const void *ctx)
{
	const SPropTagArray *cols = ctx;
	mh_prop_row row = {1, n, (SPropValue *)(uintptr_t)v, NULL};
	mh_buf b = MH_BUF_INIT;
	mh_pv_row_push(&b, MH_PV_ROP, cols, &row);
	size_t len = b.err == S_OK ? b.len : SIZE_MAX;
	mh_buf_free(&b);
	return len;
}

static size_t measure_list(const SPropValue *v, uint32_t n, const void *ctx)
{
	(void)ctx;
	mh_buf b = MH_BUF_INIT;
	mh_pv_list_push(&b, MH_PV_ROP, 2, n, v);
	size_t len = b.err == S_OK ? b.len : SIZE_MAX;
	mh_buf_free(&b);
	return len;
}

static mh_status rop_get_props_specific(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *o;
	plist p;
	mh_status ms;
	if ((r->return_value = get_obj(x, q, &o)) != S_OK)
		return S_OK;
	if ((ms = object_props(x, o, &p, &r->return_value)) != S_OK || r->return_value != S_OK)
		return ms;
	const SPropTagArray *tags = q->u.get_props_specific.tags;
	mh_prop_row row;
	if ((ms = build_row(x->a, &p, tags, q->u.get_props_specific.want_unicode != 0, false,
	                    &row)) != S_OK)
		return ms;
	bool flagged = row.flag != 0;
	size_t room = x->room > 6 ? x->room - 6 : 0;
	shrink_values(row.lpProps, row.cValues, q->u.get_props_specific.property_size_limit, room,
	              measure_row, tags, &flagged);
	row.flag = flagged ? 1 : 0;
	r->u.get_props_specific.columns = tags;
	r->u.get_props_specific.row = row;
	return S_OK;
}

static mh_status rop_get_props_all(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *o;
	plist p;
	mh_status ms;
	if ((r->return_value = get_obj(x, q, &o)) != S_OK)
		return S_OK;
	if ((ms = object_props(x, o, &p, &r->return_value)) != S_OK || r->return_value != S_OK)
		return ms;
	uint32_t n = p.n > 0xFFFF ? 0xFFFF : (uint32_t)p.n;
	SPropValue *v;
	if ((ms = mh_arena_array(x->a, n + 1, sizeof(*v), (void **)&v)) != S_OK)
		return ms;
	for (uint32_t i = 0; i < n; i++)
		if ((ms = resolve(x->a, &p, CHANGE_PROP_TYPE(p.v[i].ulPropTag, PT_UNSPECIFIED),
		                  q->u.get_props_all.want_unicode != 0, false, &v[i])) != S_OK)
			return ms;
	bool flagged = false;
	size_t room = x->room > 6 ? x->room - 6 : 0;
	shrink_values(v, n, q->u.get_props_all.property_size_limit, room, measure_list, NULL,
	              &flagged);
	r->u.get_props_all.count = (uint16_t)n;
	r->u.get_props_all.props = v;
	return S_OK;
}

static mh_status rop_get_props_list(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *o;
	plist p;
	mh_status ms;
	if ((r->return_value = get_obj(x, q, &o)) != S_OK)
		return S_OK;
	if ((ms = object_props(x, o, &p, &r->return_value)) != S_OK || r->return_value != S_OK)
		return ms;
	size_t n = p.n > 0xFFFF ? 0xFFFF : p.n;
	SPropTagArray *tags;
	if ((ms = mh_arena_alloc(x->a, CbNewSPropTagArray(n), (void **)&tags)) != S_OK)
		return ms;
	tags->cValues = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		tags->aulPropTag[i] = p.v[i].ulPropTag;
	r->u.prop_list.tags = tags;
	return S_OK;
}

/* ---- messages ------------------------------------------------------------------------------ */

static const uint32_t recipient_columns[] = {TAG_OBJECT_TYPE, TAG_DISPLAY_TYPE, TAG_SMTP_ADDRESS,
                                             TAG_RECIPIENT_ORDER};
#define N_RECIPIENT_COLUMNS 4u

static mh_status recipient_columns_array(mh_arena *a, SPropTagArray **out)
{
	mh_status ms = mh_arena_alloc(a, CbNewSPropTagArray(N_RECIPIENT_COLUMNS), (void **)out);
	if (ms != S_OK)
		return ms;
	(*out)->cValues = N_RECIPIENT_COLUMNS;
	memcpy((*out)->aulPropTag, recipient_columns, sizeof(recipient_columns));
	return S_OK;
}

/*
 * An OpenRecipientRow/ReadRecipientRow body for recipient i: a RecipientRow (MS-OXCDATA
 * 2.8.3.2) of type SMTP with Unicode email address and display name, then the columns.
 */
static mh_status recipient_row(mh_arena *a, const SPropTagArray *cols,
                               const mh_srv_msg_recipient *rc, uint32_t order,
                               mh_rop_recipient_row *out)
{
	/* SMTP (3) | E 0x08 | D 0x10 | S 0x40 (transmittable = display name) | U 0x0200 */
	const uint16_t flags = 0x0003 | 0x0008 | 0x0010 | 0x0040 | 0x0200;
	SPropValue v[N_RECIPIENT_COLUMNS];
	mh_prop_row row = {0, N_RECIPIENT_COLUMNS, v, NULL};
	mh_buf b = MH_BUF_INIT;
	memset(v, 0, sizeof(v));
	v[0].ulPropTag = TAG_OBJECT_TYPE;
	v[0].Value.l = 6; /* MAPI_MAILUSER */
	v[1].ulPropTag = TAG_DISPLAY_TYPE;
	v[1].Value.l = 0; /* DT_MAILUSER */
	v[2].ulPropTag = TAG_SMTP_ADDRESS;
	v[2].Value.lpszW = unconst(rc->smtp);
	v[3].ulPropTag = TAG_RECIPIENT_ORDER;
	v[3].Value.l = (int32_t)order;
	mh_buf_u16(&b, flags);
	mh_buf_utf16z(&b, rc->smtp);
	mh_buf_utf16z(&b, rc->display_name);
	mh_buf_u16(&b, (uint16_t)cols->cValues);
	mh_pv_row_push(&b, MH_PV_ROP, cols, &row);
	void *copy = NULL;
	size_t len = b.len;
	mh_status ms = mh_buf_status(&b);
	if (ms == S_OK && len > 0xFFFF)
		ms = mh_error_set(MAPI_E_TOO_BIG, -1, "rop: recipient row over 64 KiB");
	if (ms == S_OK)
		ms = mh_arena_memdup(a, b.data, len, &copy);
	mh_buf_free(&b);
	if (ms != S_OK)
		return ms;
	out->row_id = order;
	out->recipient_type = (uint8_t)rc->type;
	out->code_page_id = 0x04B0; /* 1200: the strings are Unicode */
	out->reserved = 0;
	out->row.cb = (uint32_t)len;
	out->row.lpb = copy;
	return S_OK;
}

/* Recipient rows from first on, as many as fit in room (fixed is the bytes besides them). */
static mh_status recipient_rows(exec *x, const mh_srv_message *m, uint32_t first, size_t fixed,
                                bool with_row_id, uint8_t *count, mh_rop_recipient_row **rows)
{
	const SPropTagArray *cols;
	SPropTagArray *c;
	mh_status ms;
	size_t used = fixed;
	*count = 0;
	if ((ms = recipient_columns_array(x->a, &c)) != S_OK)
		return ms;
	cols = c;
	size_t n = m->n_recipients > first ? m->n_recipients - first : 0;
	if (n > 0xFF)
		n = 0xFF;
	if ((ms = mh_arena_array(x->a, n + 1, sizeof(**rows), (void **)rows)) != S_OK)
		return ms;
	for (size_t i = 0; i < n; i++) {
		mh_rop_recipient_row *rr = &(*rows)[i];
		if ((ms = recipient_row(x->a, cols, &m->recipients[first + i],
		                        (uint32_t)(first + i), rr)) != S_OK)
			return ms;
		size_t sz = (with_row_id ? 4 : 0) + 7 + rr->row.cb;
		if (used + sz > x->room)
			break;
		used += sz;
		(*count)++;
	}
	return S_OK;
}

static mh_status typed_string(mh_arena *a, const char *s, size_t n, mh_rop_typed_string *out)
{
	if (n == 0) {
		out->type = MH_TYPED_STRING_EMPTY;
		out->value = NULL;
		return S_OK;
	}
	out->type = MH_TYPED_STRING_UNICODE;
	return mh_arena_strndup(a, s, n, &out->value);
}

/* The message a request names, checked for ReadAny on its folder. */
static mh_status readable_message(exec *x, const logon *lg, uint64_t fid, uint64_t mid,
                                  mh_srv_message *m, int64_t *folder_id, mh_status *rv)
{
	mh_srv_folder f;
	uint32_t rights;
	mh_status ms = mh_srv_store_message_by_mid(x->s->st, x->a, lg->mailbox_id, mid, m);
	*rv = S_OK;
	if (ms == S_OK && m->fid != fid)
		ms = MAPI_E_NOT_FOUND;
	if (ms == S_OK)
		ms = mh_srv_store_folder_by_fid(x->s->st, x->a, lg->mailbox_id, m->fid, &f);
	if (ms == S_OK)
		ms = folder_rights(x, lg, f.id, &rights);
	if (ms == MAPI_E_NOT_FOUND) {
		*rv = ecNotFound;
		return S_OK;
	}
	if (ms != S_OK)
		return ms;
	if ((rights & RIGHTS_READ_ANY) == 0)
		*rv = ecAccessDenied;
	*folder_id = f.id;
	return S_OK;
}

static mh_status rop_open_message(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *in, *o;
	mh_srv_message m;
	int64_t folder_id = 0;
	mh_status ms;
	if ((r->return_value = get_obj(x, q, &in)) != S_OK)
		return S_OK;
	if (in->kind != OBJ_LOGON && in->kind != OBJ_FOLDER) {
		r->return_value = ecNotSupported;
		return S_OK;
	}
	const logon *lg = x->s->logons[q->logon_id];
	if ((ms = readable_message(x, lg, q->u.open_message.folder_id, q->u.open_message.message_id,
	                           &m, &folder_id, &r->return_value)) != S_OK ||
	    r->return_value != S_OK)
		return ms;
	size_t pre = subject_prefix_len(m.subject);
	SPropTagArray *cols;
	if ((ms = typed_string(x->a, m.subject, pre, &r->u.open_message.subject_prefix)) != S_OK ||
	    (ms = typed_string(x->a, m.subject + pre, strlen(m.subject + pre),
	                       &r->u.open_message.normalized_subject)) != S_OK ||
	    (ms = recipient_columns_array(x->a, &cols)) != S_OK)
		return ms;
	r->u.open_message.has_named_properties = 0;
	for (size_t i = 0; i < m.n_props; i++)
		if (PROP_ID(m.props[i].tag) >= 0x8000)
			r->u.open_message.has_named_properties = 1;
	r->u.open_message.recipient_count =
	    (uint16_t)(m.n_recipients > 0xFFFF ? 0xFFFF : m.n_recipients);
	r->u.open_message.recipient_columns = cols;
	r->u.open_message.row_count = 0;
	r->u.open_message.rows = NULL;
	/* The response without rows, measured, then as many rows as fit. */
	mh_buf b = MH_BUF_INIT;
	mh_rop_response_push(&b, r);
	size_t fixed = b.len;
	ms = mh_buf_status(&b);
	mh_buf_free(&b);
	if (ms != S_OK)
		return ms;
	if ((ms = recipient_rows(x, &m, 0, fixed, false, &r->u.open_message.row_count,
	                         &r->u.open_message.rows)) != S_OK)
		return ms;
	if ((ms = new_obj(x, q, OBJ_MESSAGE, &o, &r->return_value)) != S_OK || o == NULL)
		return ms;
	o->folder_id = folder_id;
	o->fid = m.fid;
	o->mid = m.mid;
	return S_OK;
}

static mh_status rop_read_recipients(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *o;
	mh_srv_message m;
	mh_status ms;
	if ((r->return_value = get_obj(x, q, &o)) != S_OK)
		return S_OK;
	if (o->kind != OBJ_MESSAGE) {
		r->return_value = ecNotSupported;
		return S_OK;
	}
	const logon *lg = x->s->logons[q->logon_id];
	ms = mh_srv_store_message_by_mid(x->s->st, x->a, lg->mailbox_id, o->mid, &m);
	if (ms != S_OK)
		return fatal(ms) ? ms : (r->return_value = ecNotFound, S_OK);
	if (q->u.read_recipients.row_id >= m.n_recipients) {
		r->return_value = ecNotFound;
		return S_OK;
	}
	if ((ms = recipient_rows(x, &m, q->u.read_recipients.row_id, 7, true,
	                         &r->u.read_recipients.row_count, &r->u.read_recipients.rows)) !=
	    S_OK)
		return ms;
	if (r->u.read_recipients.row_count == 0)
		r->return_value = ecBufferTooSmall;
	return S_OK;
}

/* ---- store ROPs ---------------------------------------------------------------------------- */

static mh_status get_logon_obj(exec *x, const mh_rop_request *q, srv_obj **o)
{
	return get_obj_of(x, q, OBJ_LOGON, o);
}

/*
 * The receive folder table of every mailbox: "" and "IPM" (and their subclasses, and
 * REPORT.IPM) go to the Inbox, "IPC" to the root. The most specific entry wins.
 */
static mh_status rop_get_receive_folder(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *o;
	if ((r->return_value = get_logon_obj(x, q, &o)) != S_OK)
		return S_OK;
	const char *cls = q->u.get_receive_folder.message_class;
	size_t n = cls != NULL ? strlen(cls) : 0;
	if (n > 255 || (n > 0 && (cls[0] == '.' || cls[n - 1] == '.'))) {
		r->return_value = ecInvalidParameter;
		return S_OK;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)cls[i] < 0x20 || (unsigned char)cls[i] > 0x7E) {
			r->return_value = ecInvalidParameter;
			return S_OK;
		}
	static const struct {
		const char *cls;
		int folder;
	} table[] = {{"IPM", MH_SRV_FOLDER_INBOX},
	             {"REPORT.IPM", MH_SRV_FOLDER_INBOX},
	             {"IPC", MH_SRV_FOLDER_ROOT}};
	const char *explicit = "";
	int folder = MH_SRV_FOLDER_INBOX;
	size_t best = 0;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		size_t k = strlen(table[i].cls);
		if (n >= k && strncasecmp(cls, table[i].cls, k) == 0 && (n == k || cls[k] == '.') &&
		    k > best) {
			best = k;
			explicit = table[i].cls;
			folder = table[i].folder;
		}
	}
	r->u.get_receive_folder.folder_id = x->s->logons[q->logon_id]->fids[folder];
	return mh_arena_strndup(x->a, explicit, strlen(explicit),
	                        &r->u.get_receive_folder.explicit_message_class);
}

static mh_status rop_long_term_id_from_id(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *o;
	if ((r->return_value = get_logon_obj(x, q, &o)) != S_OK)
		return S_OK;
	uint64_t id = q->u.long_term_id_from_id.object_id;
	if (mh_id_replid(id) != MH_SRV_REPLID) {
		r->return_value = ecNotFound;
		return S_OK;
	}
	r->u.long_term_id_from_id.long_term_id.database_guid = x->s->logons[q->logon_id]->repl_guid;
	r->u.long_term_id_from_id.long_term_id.global_counter = mh_id_counter(id);
	r->u.long_term_id_from_id.long_term_id.pad = 0;
	return S_OK;
}

static mh_status rop_id_from_long_term_id(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *o;
	if ((r->return_value = get_logon_obj(x, q, &o)) != S_OK)
		return S_OK;
	const mh_long_term_id *lt = &q->u.id_from_long_term_id.long_term_id;
	if (memcmp(&lt->database_guid, &x->s->logons[q->logon_id]->repl_guid, sizeof(GUID)) != 0) {
		r->return_value = ecNotFound;
		return S_OK;
	}
	r->u.id_from_long_term_id.object_id = mh_id_make(MH_SRV_REPLID, lt->global_counter);
	return S_OK;
}

/* ---- streams ------------------------------------------------------------------------------- */

/* The stream bytes of property tag of o: UTF-16LE without terminator, 8-bit or binary. */
static mh_status stream_bytes(exec *x, const srv_obj *o, uint32_t tag, const uint8_t **data,
                              size_t *len, mh_status *rv)
{
	plist p;
	mh_status ms;
	*data = NULL;
	*len = 0;
	if ((ms = object_props(x, o, &p, rv)) != S_OK || *rv != S_OK)
		return ms;
	SPropValue v;
	if ((ms = resolve(x->a, &p, tag, true, false, &v)) != S_OK)
		return ms;
	switch (PROP_TYPE(v.ulPropTag)) {
	case PT_UNICODE: {
		size_t n;
		uint8_t *out;
		size_t sl = strlen(v.Value.lpszW);
		if ((ms = mh_utf8_to_utf16le(NULL, 0, v.Value.lpszW, sl, &n)) != S_OK ||
		    (ms = mh_arena_alloc(x->a, n + 1, (void **)&out)) != S_OK ||
		    (ms = mh_utf8_to_utf16le(out, n, v.Value.lpszW, sl, &n)) != S_OK)
			return ms;
		*data = out;
		*len = n;
		return S_OK;
	}
	case PT_STRING8:
		*data = (const uint8_t *)v.Value.lpszA;
		*len = strlen(v.Value.lpszA);
		return S_OK;
	case PT_BINARY:
		*data = v.Value.bin.lpb;
		*len = v.Value.bin.cb;
		return S_OK;
	case PT_ERROR:
		*rv = v.Value.err;
		return S_OK;
	default:
		*rv = ecNotSupported; /* only strings and binaries are streams */
		return S_OK;
	}
}

static mh_status rop_open_stream(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *in, *o;
	const uint8_t *data;
	size_t len;
	mh_status ms;
	if ((r->return_value = get_obj(x, q, &in)) != S_OK)
		return S_OK;
	if (in->kind != OBJ_FOLDER && in->kind != OBJ_MESSAGE) {
		r->return_value = ecNotSupported;
		return S_OK;
	}
	uint16_t t = (uint16_t)PROP_TYPE(q->u.open_stream.property_tag);
	if (q->u.open_stream.open_mode_flags == 0x02 /* Create */ ||
	    (t != PT_UNICODE && t != PT_STRING8 && t != PT_BINARY)) {
		r->return_value = ecNotSupported;
		return S_OK;
	}
	if ((ms = stream_bytes(x, in, q->u.open_stream.property_tag, &data, &len,
	                       &r->return_value)) != S_OK ||
	    r->return_value != S_OK)
		return ms;
	if (len > UINT32_MAX) {
		r->return_value = ecTooBig;
		return S_OK;
	}
	if ((ms = new_obj(x, q, OBJ_STREAM, &o, &r->return_value)) != S_OK || o == NULL)
		return ms;
	o->folder_id = in->folder_id;
	o->fid = in->fid;
	o->mid = in->mid;
	o->on_message = in->kind == OBJ_MESSAGE;
	o->tag = q->u.open_stream.property_tag;
	o->size = (uint32_t)len;
	r->u.open_stream.stream_size = (uint32_t)len;
	return S_OK;
}

static mh_status rop_read_stream(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *o;
	const uint8_t *data;
	size_t len;
	mh_status ms;
	r->u.read_stream.data.cb = 0;
	r->u.read_stream.data.lpb = NULL;
	if ((r->return_value = get_obj(x, q, &o)) != S_OK)
		return S_OK;
	if (o->kind != OBJ_STREAM) {
		r->return_value = ecNotSupported;
		return S_OK;
	}
	size_t want = q->u.read_stream.byte_count;
	if (want == MH_READ_STREAM_USE_MAX)
		want = q->u.read_stream.maximum_byte_count;
	size_t left = o->spos < o->size ? o->size - o->spos : 0;
	size_t fit = x->room > 8 ? x->room - 8 : 0; /* header and DataSize */
	if (fit > 0xFFFF)
		fit = 0xFFFF;
	if (want > left)
		want = left;
	if (want > fit) {
		if (fit == 0) {
			x->too_small = true; /* 0 bytes would read as the end of the stream */
			return S_OK;
		}
		want = fit;
	}
	if (want == 0)
		return S_OK;
	srv_obj src = *o;
	src.kind = o->on_message ? OBJ_MESSAGE : OBJ_FOLDER;
	if ((ms = stream_bytes(x, &src, o->tag, &data, &len, &r->return_value)) != S_OK ||
	    r->return_value != S_OK)
		return ms;
	if (o->spos >= len)
		return S_OK;
	if (want > len - o->spos)
		want = len - o->spos;
	r->u.read_stream.data.cb = (uint32_t)want;
	r->u.read_stream.data.lpb = (uint8_t *)(uintptr_t)(data + o->spos);
	o->spos += (uint32_t)want;
	return S_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static mh_status run_rop(exec *x, const mh_rop_request *q, mh_rop_response *r)
{
	srv_obj *o;
	memset(r, 0, sizeof(*r));
	r->rop_id = q->rop_id;
	r->handle_index =
	    mh_rop_creates_object(q->rop_id) ? q->out_handle_index : q->in_handle_index;
	switch (q->rop_id) {
	case MH_ROP_LOGON:
		return rop_logon(x, q, r);
	case MH_ROP_RELEASE:
		if (get_obj(x, q, &o) == S_OK)
			release(x->s, o);
		return S_OK;
	case MH_ROP_OPEN_FOLDER:
		return rop_open_folder(x, q, r);
	case MH_ROP_OPEN_MESSAGE:
		return rop_open_message(x, q, r);
	case MH_ROP_GET_HIERARCHY_TABLE:
	case MH_ROP_GET_CONTENTS_TABLE:
	case MH_ROP_GET_PERMISSIONS_TABLE:
	case MH_ROP_GET_RULES_TABLE:
	case MH_ROP_GET_ATTACHMENT_TABLE:
		return rop_get_table(x, q, r);
	case MH_ROP_GET_PROPERTIES_SPECIFIC:
		return rop_get_props_specific(x, q, r);
	case MH_ROP_GET_PROPERTIES_ALL:
		return rop_get_props_all(x, q, r);
	case MH_ROP_GET_PROPERTIES_LIST:
		return rop_get_props_list(x, q, r);
	case MH_ROP_READ_RECIPIENTS:
		return rop_read_recipients(x, q, r);
	case MH_ROP_SET_COLUMNS:
		return rop_set_columns(x, q, r);
	case MH_ROP_SORT_TABLE:
		return rop_sort_table(x, q, r);
	case MH_ROP_QUERY_ROWS:
		return rop_query_rows(x, q, r);
	case MH_ROP_SEEK_ROW:
		return rop_seek_row(x, q, r);
	case MH_ROP_RESET_TABLE:
		return rop_reset_table(x, q, r);
	case MH_ROP_QUERY_COLUMNS_ALL:
		return rop_query_columns_all(x, q, r);
	case MH_ROP_GET_RECEIVE_FOLDER:
		return rop_get_receive_folder(x, q, r);
	case MH_ROP_LONG_TERM_ID_FROM_ID:
		return rop_long_term_id_from_id(x, q, r);
	case MH_ROP_ID_FROM_LONG_TERM_ID:
		return rop_id_from_long_term_id(x, q, r);
	case MH_ROP_OPEN_STREAM:
		return rop_open_stream(x, q, r);
	case MH_ROP_READ_STREAM:
		return rop_read_stream(x, q, r);
	default:
		r->return_value = ecNotSupported;
		return S_OK;
	}
}

/*
 * The shortest success response of a ROP, checked before it runs, so that ROPs whose effect
 * cannot be undone (a cursor moved, columns set, a logon replaced) run only when their
 * answer fits. Responses that size themselves to the room left need just their header.
 */
static size_t min_response(uint8_t rop_id)
{
	switch (rop_id) {
	case MH_ROP_RELEASE:
		return 0;
	case MH_ROP_LOGON:
		return 166;
	case MH_ROP_SEEK_ROW:
		return 11;
	case MH_ROP_SET_COLUMNS:
	case MH_ROP_SORT_TABLE:
		return 7;
	case MH_ROP_QUERY_ROWS:
		return 9;
	case MH_ROP_READ_STREAM:
		return 8;
	default:
		return 6;
	}
}

/* Offset (from RopSize) of ROP index in the RopsList, by decoding the ROPs before it. */
static mh_status rop_offset(mh_arena *a, const uint8_t *in, size_t rops_end, uint32_t index,
                            size_t *off)
{
	mh_cursor c;
	mh_rop_request q;
	mh_cursor_init(&c, in + 2, rops_end - 2, MAPI_E_CORRUPT_DATA);
	c.base = 2;
	for (uint32_t i = 0; i < index; i++) {
		mh_status ms = mh_rop_request_pull(&c, a, &q);
		if (ms != S_OK)
			return ms;
	}
	*off = 2 + c.pos;
	return S_OK;
}

/* Writes RopSize, the responses and the handle table of the output buffer to ob. */
static void finish_buffer(mh_buf *ob, const mh_buf *rops, const uint32_t *handles, uint32_t n)
{
	mh_buf_u16(ob, (uint16_t)(2 + rops->len));
	if (rops->len > 0)
		mh_buf_put(ob, rops->data, rops->len);
	for (uint32_t i = 0; i < n; i++)
		mh_buf_u32(ob, handles[i]);
}

mh_status mh_srv_rop_execute(mh_srv_rop_session *s, mh_arena *a, const uint8_t *in, size_t in_len,
                             size_t max_out, mh_buf *out, mh_srv_rop_result *res)
{
	mh_rop_request_buffer rb;
	mh_rop_pull_info info;
	mh_cursor c;
	mh_status ms;

	if (s == NULL || a == NULL || out == NULL || res == NULL || (in == NULL && in_len > 0))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "rop: execute needs a session, "
		                    "an arena, input and output");
	memset(res, 0, sizeof(*res));
	if (max_out > MAX_OUT)
		max_out = MAX_OUT;
	mh_cursor_init(&c, in, in_len, MAPI_E_CORRUPT_DATA);
	ms = mh_rop_request_buffer_pull(&c, a, &rb, &info);
	bool unknown = ms == MAPI_E_NO_SUPPORT;
	if (ms == MAPI_E_CORRUPT_DATA) {
		res->error_code = (uint32_t)ecRpcFormat;
		return S_OK;
	}
	if (ms != S_OK && !unknown)
		return ms;
	res->rop_count = rb.count + (unknown ? 1 : 0);
	if (res->rop_count > s->opts.max_rops) {
		mh_error_set(ecRpcFormat, -1, "rop: %u ROPs in one Execute, at most %u",
		             res->rop_count, s->opts.max_rops);
		res->error_code = (uint32_t)ecRpcFormat;
		return S_OK;
	}
	size_t rops_end = (size_t)in[0] | (size_t)in[1] << 8;
	size_t ht_bytes = (size_t)rb.handle_count * 4;
	uint32_t *handles = NULL;
	if (rb.handle_count > 0 &&
	    (ms = mh_arena_memdup(a, rb.handles, ht_bytes, (void **)&handles)) != S_OK)
		return ms;

	mh_buf rops = MH_BUF_INIT, one = MH_BUF_INIT, ob = MH_BUF_INIT;
	exec x = {s, a, handles, rb.handle_count, 0, false, NULL};
	bool fits_nothing = false;
	ms = S_OK;

	uint32_t backoff_ms = 0;
	if (res->rop_count > 0 &&
	    mh_srv_faults_hit(s->opts.faults, MH_SRV_FAULT_BACKOFF, &backoff_ms)) {
		/* RopBackoff in place of every ROP: none runs. */
		mh_rop_backoff_rop br;
		mh_rop_response r;
		memset(&r, 0, sizeof(r));
		br.rop_id = rb.count > 0 ? rb.rops[0].rop_id : info.rop_id;
		br.duration = backoff_ms;
		r.rop_id = MH_ROP_BACKOFF;
		r.u.backoff.logon_id = rb.count > 0               ? rb.rops[0].logon_id
		                       : info.offset + 1 < in_len ? in[info.offset + 1]
		                                                  : 0;
		r.u.backoff.duration = backoff_ms;
		r.u.backoff.rop_count = 1;
		r.u.backoff.rops = &br;
		mh_rop_response_push(&rops, &r);
		if ((ms = mh_buf_status(&rops)) == S_OK && 2 + rops.len + ht_bytes > max_out)
			fits_nothing = true;
		goto done;
	}

	size_t stop_at = 0; /* offset of the ROP that did not fit, 0: none */
	size_t need = 0;
	for (uint32_t i = 0; i < rb.count; i++) {
		const mh_rop_request *q = &rb.rops[i];
		mh_rop_response r;
		size_t used = 2 + rops.len + ht_bytes;
		x.room = max_out > used ? max_out - used : 0;
		x.too_small = false;
		x.created = NULL;
		if (mh_rop_request_kind(q->rop_id) == MH_ROP_KIND_SKIPPED) {
			/* A ROP [MS-OXCROPS] defines and mapihttpd does not serve: ecNotSupported
			 * in its failure layout, as Exchange answers it; nothing runs, nothing
			 * enters the handle table, and the ROPs after it still run. */
			size_t len = 6 + (size_t)q->u.unsupported.response_extra;
			if (!q->u.unsupported.has_response)
				continue;
			if (len > x.room) {
				need = 2 + len + ht_bytes;
				if ((ms = rop_offset(a, in, rops_end, i, &stop_at)) != S_OK)
					goto done;
				break;
			}
			mh_buf_u8(&rops, q->u.unsupported.response_rop_id);
			mh_buf_u8(&rops, q->u.unsupported.response_index);
			mh_buf_u32(&rops, (uint32_t)ecNotSupported);
			mh_buf_zeros(&rops, q->u.unsupported.response_extra);
			if ((ms = mh_buf_status(&rops)) != S_OK)
				goto done;
			continue;
		}
		size_t least = min_response(q->rop_id);
		if (least > x.room) {
			/* Not run: a ROP that changes state must not run unanswered. */
			need = 2 + least + ht_bytes;
			if ((ms = rop_offset(a, in, rops_end, i, &stop_at)) != S_OK)
				goto done;
			break;
		}
		if ((ms = run_rop(&x, q, &r)) != S_OK) {
			if (x.created != NULL)
				release(s, x.created);
			goto done;
		}
		if (q->rop_id == MH_ROP_RELEASE)
			continue; /* never answered */
		one.len = 0;
		if (!x.too_small) {
			mh_rop_response_push(&one, &r);
			if ((ms = mh_buf_status(&one)) != S_OK) {
				if (x.created != NULL)
					release(s, x.created);
				goto done;
			}
		}
		if (x.too_small || one.len > x.room) {
			/* The ROP is unanswered: undo what it made and hand it back to the client.
			 */
			if (x.created != NULL)
				release(s, x.created);
			need = x.too_small ? 0x8000 : 2 + one.len + ht_bytes;
			if ((ms = rop_offset(a, in, rops_end, i, &stop_at)) != S_OK)
				goto done;
			break;
		}
		if (x.created != NULL)
			handles[q->out_handle_index] = x.created->handle;
		mh_buf_put(&rops, one.data, one.len);
	}
	if (stop_at == 0 && unknown) {
		/* A RopId [MS-OXCROPS] does not define, or one whose length depends on the
		 * logon (RopSetMessageReadFlag, RopWritePerUserInformation): its length is
		 * unknown, so it is the last ROP answered. */
		uint8_t idx = info.offset + 2 < rops_end ? in[info.offset + 2] : 0;
		size_t used = 2 + rops.len + ht_bytes;
		if (used + 6 <= max_out) {
			mh_buf_u8(&rops, info.rop_id);
			mh_buf_u8(&rops, idx);
			mh_buf_u32(&rops, (uint32_t)ecNotSupported);
		} else {
			stop_at = info.offset;
			need = 2 + 6 + ht_bytes;
		}
	}
	if (stop_at != 0) {
		mh_rop_response r;
		memset(&r, 0, sizeof(r));
		r.rop_id = MH_ROP_BUFFER_TOO_SMALL;
		r.u.buffer_too_small.size_needed = (uint16_t)(need > 0x8000 ? 0x8000 : need);
		r.u.buffer_too_small.request_buffers.cb = (uint32_t)(rops_end - stop_at);
		r.u.buffer_too_small.request_buffers.lpb = (uint8_t *)(uintptr_t)(in + stop_at);
		size_t used = 2 + rops.len + ht_bytes;
		if (used + 3 + (rops_end - stop_at) > max_out)
			fits_nothing = true;
		else
			mh_rop_response_push(&rops, &r);
		ms = mh_buf_status(&rops);
	}

done:
	if (ms == S_OK && fits_nothing) {
		res->error_code = (uint32_t)ecBufferTooSmall;
	} else if (ms == S_OK) {
		finish_buffer(&ob, &rops, handles != NULL ? handles : rb.handles, rb.handle_count);
		if ((ms = mh_buf_status(&ob)) == S_OK) {
			size_t before = out->len;
			mh_buf_put(out, ob.data, ob.len);
			if ((ms = mh_buf_status(out)) != S_OK)
				out->len = before;
		}
	}
	mh_buf_free(&rops);
	mh_buf_free(&one);
	mh_buf_free(&ob);
	return ms;
}
