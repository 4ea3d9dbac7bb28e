/*
 * What folder.c, table.c and message.c share: the objects behind mh_folder, mh_table and
 * mh_message, and one Execute built ROP by ROP that opens stale objects again on the way.
 */
#ifndef MH_SESSION_OBJECTS_H
#define MH_SESSION_OBJECTS_H

#include <stdbool.h>
#include <stdint.h>

#include "session/session_internal.h"

#define MH_OBJ_NO_HANDLE    0xFFFFFFFFu
#define MH_EXEC_MAX_ROPS    32u
#define MH_EXEC_MAX_HANDLES 16u
#define MH_EXEC_MAX_FIXES   8u

/* Exchange cuts table strings at 255 characters and binaries at 510 bytes. */
#define MH_TABLE_STRING_CUT 255u
#define MH_TABLE_BINARY_CUT 510u

/* TableFlags every table is asked with: UseUnicode | NoNotifications. */
#define MH_TABLE_FLAGS_BASE 0x50u

/* Tags the object code asks for (MS-OXPROPS). */
#define MH_TAG_FOLDER_CHILD_COUNT   0x66380003u
#define MH_TAG_MESSAGE_SIZE_EXT     0x0E080014u
#define MH_TAG_BODY_W               0x1000001Fu
#define MH_TAG_ATTACH_NUM           0x0E210003u
#define MH_TAG_ATTACH_SIZE          0x0E200003u
#define MH_TAG_ATTACH_LONG_FILENAME 0x3707001Fu
#define MH_TAG_ATTACH_MIME_TAG      0x370E001Fu
#define MH_TAG_ROWID                0x30000003u
#define MH_TAG_RECIPIENT_TYPE       0x0C150003u
#define MH_TAG_OBJECT_TYPE          0x0FFE0003u
#define MH_TAG_RECIPIENT_ORDER      0x5FDF0003u
#define MH_TAG_TRANSMITABLE_NAME_W  0x3A20001Fu

/* A server object handle and the store generation (session context) it belongs to. */
typedef struct mh_obj_handle {
	uint32_t handle;
	uint32_t generation;
} mh_obj_handle;

struct mh_folder {
	mh_store *st;
	uint64_t fid;
	mh_obj_handle h;
};

struct mh_message {
	mh_store *st;
	uint64_t fid, mid;
	mh_obj_handle h;
	SPropTagArray *recipient_columns; /* RopOpenMessage's RecipientColumns (malloc'd) */
};

/* True while h is a handle of the store's current session context. */
bool mh__obj_live(const mh_store *st, const mh_obj_handle *h);

/* ---- one Execute ---- */

/* After a successful run, the handle at slot (when rop succeeded) becomes *dst's. */
typedef struct mh_exec_fix {
	mh_obj_handle *dst;
	uint8_t slot;
	uint32_t rop;
} mh_exec_fix;

typedef struct mh_exec {
	mh_store *st;
	mh_rop_request rops[MH_EXEC_MAX_ROPS];
	uint32_t n_rops;
	uint32_t handles[MH_EXEC_MAX_HANDLES];
	uint32_t n_handles;
	mh_exec_fix fix[MH_EXEC_MAX_FIXES];
	uint32_t n_fix;
	uint32_t resp_of[MH_EXEC_MAX_ROPS]; /* response index of each request, or UINT32_MAX */
	bool overflow;                      /* a ROP or slot did not fit: a bug of the builder */
	mh_arena arena;
	mh_emsmdb_execute_result res;
	/* Columns of a table whose SetColumns ran in an earlier Execute (QueryRows decoding). */
	const SPropTagArray *(*columns)(uint8_t logon_id, uint32_t handle, void *payload);
	void *columns_payload;
} mh_exec;

void mh__exec_init(mh_exec *x, mh_store *st);
/* Drops the ROPs and the last answer; the store stays. */
void mh__exec_reset(mh_exec *x);
void mh__exec_free(mh_exec *x);

/* Appends a ROP on input slot in (zeroed, logon_id set); a static dummy when full. */
mh_rop_request *mh__exec_rop(mh_exec *x, uint8_t rop_id, uint8_t in);
/* A new handle-table slot holding handle (MH_OBJ_NO_HANDLE for an output slot). */
uint8_t mh__exec_slot(mh_exec *x, uint32_t handle);
/* After a successful run, h becomes the handle at slot when ROP rop succeeded. */
void mh__exec_fix_handle(mh_exec *x, mh_obj_handle *h, uint8_t slot, uint32_t rop);
/* Appends RopRelease of slot. */
void mh__exec_release(mh_exec *x, uint8_t slot);

/*
 * The slot of an object: its handle when live, else ROPs that open it again from the logon
 * (RopOpenFolder for mid 0, RopOpenMessage otherwise) whose handle h gets after the run. h
 * NULL: a temporary open (the caller releases the slot). *rop: the opening ROP's index, or
 * UINT32_MAX when none was needed (may be NULL).
 */
uint8_t mh__exec_object(mh_exec *x, uint64_t fid, uint64_t mid, mh_obj_handle *h, uint32_t *rop);

/* Runs the Execute (mh__store_execute) and applies the fixes. */
mh_status mh__exec_run(mh_exec *x);
/* The answer to request i, or NULL (none came). */
const mh_rop_response *mh__exec_resp(const mh_exec *x, uint32_t i);
/* S_OK when request i got a successful answer; else the failure, recorded on the session. */
mh_status mh__exec_check(mh_exec *x, uint32_t i);

/*
 * Opens the object fid/mid (mid 0: a folder) from the logon into h, in an Execute sent once
 * more when the session context was lost. On S_OK the answer is at *oi in x; free x with
 * mh__exec_free in every case.
 */
mh_status mh__exec_open(mh_exec *x, mh_store *st, uint64_t fid, uint64_t mid, mh_obj_handle *h,
                        uint32_t *oi);

/* ---- shared helpers ---- */

/* The thread's last error message, or "" (for wrapping a lower layer's failure). */
static inline const char *mh__last_message(void)
{
	const mh_error *e = mh_error_last();
	return e != NULL ? e->message : "";
}

/* A malloc'd copy of a tag array (NULL on failure). */
SPropTagArray *mh__tags_dup(const SPropTagArray *tags);

/* True when a table value may have been cut by the server (see MH_TABLE_*_CUT). */
bool mh__value_truncated(const SPropValue *v);

/* GetPropertiesSpecific / GetPropertiesAll on an object (fid, mid 0 for a folder), into one
 * MAPI buffer. */
mh_status mh__object_get_props(mh_store *st, uint64_t fid, uint64_t mid, mh_obj_handle *h,
                               const SPropTagArray *tags, uint32_t *count, SPropValue **props);
/* The whole value of tag through RopOpenStream/RopReadStream, UTF-8 for PT_UNICODE. */
mh_status mh__object_read_stream(mh_store *st, uint64_t fid, uint64_t mid, mh_obj_handle *h,
                                 uint32_t tag, void **data, size_t *len);
/* Releases h when it is live: queued for the store's next Execute (mh__store_release_later). */
void mh__object_release(mh_store *st, mh_obj_handle *h);

/* An object handed to the caller: counted as open on st; the session's error cleared. */
void mh__object_opened(mh_store *st);
/* The caller closes an object: h released, the object no longer counted as open. */
void mh__object_closed(mh_store *st, mh_obj_handle *h);

/*
 * Every recipient of m (RopReadRecipients until the last), each row as the values of
 * PidTagRowid, PidTagRecipientType, PidTagDisplayName_W, PidTagEmailAddress_W,
 * PidTagAddressType_W, PidTagTransmittableDisplayName_W, PidTagDisplayType when known, then
 * the row's RecipientProperties; everything in a.
 */
mh_status mh__message_recipients(mh_message *m, mh_arena *a, uint32_t *n, uint32_t **counts,
                                 SPropValue ***rows);

/* RopIdFromLongTermId for n LongTermIds in one Execute; ids[i] 0 when the server knows none. */
mh_status mh__store_ids_from_long_term(mh_store *st, const mh_long_term_id *lt, uint32_t n,
                                       uint64_t *ids);

#endif
