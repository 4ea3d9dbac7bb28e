/*
 * mapihttpd's ROP processor: runs the ROPs of one Execute for one EMSMDB session context (its
 * logons and server objects) against the store, with the routing and rights of wire.md §8.
 * No HTTP, no extended buffers: the plain ROP input buffer in, the ROP output buffer out.
 */
#ifndef MH_SERVER_ROP_SRV_H
#define MH_SERVER_ROP_SRV_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/status.h"
#include "server/fault.h"
#include "server/store.h"
#include "util/arena.h"
#include "util/buf.h"

typedef enum mh_srv_rights_mode {
	/* Exchange 2013 and later: a logon to someone else's primary mailbox without FullAccess
	 * succeeds as a delegate logon (OwnerRight clear); every folder and message is then
	 * checked against its own permissions (ecAccessDenied). */
	MH_SRV_RIGHTS_FOLDER = 0,
	/* Exchange 2010: such a logon fails with ecLoginPerm. */
	MH_SRV_RIGHTS_LOGON = 1
} mh_srv_rights_mode;

/* Defaults of mh_srv_rop_options. */
#define MH_SRV_ROP_MAX_ROPS    1024u /* ROP requests per Execute */
#define MH_SRV_ROP_MAX_OBJECTS 1024u /* live server objects (logons included) per context */
#define MH_SRV_ROP_MAX_ROWS    4096u /* rows per QueryRows */

/* Columns one RopSetColumns may set (a table keeps them): more is ecTooBig. */
#define MH_SRV_ROP_MAX_COLUMNS 1024u

/* Longest string a table row carries, in characters (Exchange cuts table strings here). */
#define MH_SRV_ROP_TABLE_STRING_MAX 255u

typedef struct mh_srv_rop_options {
	unsigned version; /* 1 */
	mh_srv_rights_mode rights_mode;
	unsigned max_rops;     /* 0: MH_SRV_ROP_MAX_ROPS; see mh_srv_rop_execute */
	unsigned max_objects;  /* 0: MH_SRV_ROP_MAX_OBJECTS */
	unsigned max_rows;     /* 0: MH_SRV_ROP_MAX_ROWS */
	mh_srv_faults *faults; /* backoff and wrongserver rules; NULL: none */
} mh_srv_rop_options;

#define MH_SRV_ROP_OPTIONS_INIT                        \
	{                                              \
		1, MH_SRV_RIGHTS_FOLDER, 0, 0, 0, NULL \
	}

/* The ROP state of one session context: logons, server objects, tables. Not thread-safe:
 * the session layer runs one request at a time per context. */
typedef struct mh_srv_rop_session mh_srv_rop_session;

/*
 * A context for principal (who authenticated) on the endpoint of mailbox (the mailbox the
 * URL's MailboxId names: the only mailbox a RopLogon on this context can open). Both are
 * copied; st and opts->faults must outlive the session. MAPI_E_INVALID_PARAMETER,
 * MAPI_E_NOT_ENOUGH_MEMORY.
 */
mh_status mh_srv_rop_session_new(mh_srv_rop_session **out, mh_srv_store *st,
                                 const mh_srv_rop_options *opts, const mh_srv_recipient *principal,
                                 const mh_srv_mailbox *mailbox);

/* Frees the session and every object in it; NULL is a no-op. */
void mh_srv_rop_session_free(mh_srv_rop_session *s);

/* Live server objects (logons included), for limits and tests. */
unsigned mh_srv_rop_session_objects(const mh_srv_rop_session *s);

typedef struct mh_srv_rop_result {
	/* Execute's ErrorCode: 0; 0x4B6 ecRpcFormat when the input buffer is malformed (no ROP
	 * ran, nothing was appended); 0x47D ecBufferTooSmall when max_out cannot hold even a
	 * RopBufferTooSmall answer (nothing was appended). */
	uint32_t error_code;
	unsigned rop_count; /* ROP requests read, for the log */
} mh_srv_rop_result;

/*
 * Runs the ROP input buffer in[0..in_len) (RopSize, ROP requests, handle table; already
 * un-XORed and decompressed) and appends the ROP output buffer (RopSize, responses, handle
 * table) to out, at most max_out bytes (the caller passes min(MaxRopOut - 8, 0x8000)).
 * ROPs run in order, each response is answered as wire.md §4.3-§4.6 and the spec say:
 * a response that does not fit stops the run with RopBufferTooSmall (the objects the
 * unanswered ROP created are released); RopQueryRows returns the whole rows that fit, or
 * ecBufferTooSmall when none does; a ROP [MS-OXCROPS] defines but mapihttpd does not serve
 * is answered with ecNotSupported and the run goes on; an undefined RopId, or
 * RopSetMessageReadFlag / RopWritePerUserInformation (whose length depends on state), is
 * answered with ecNotSupported and ends the run; more than max_rops ROPs is ecRpcFormat.
 * Returns S_OK whenever *res says what happened; MAPI_E_NOT_ENOUGH_MEMORY, MAPI_E_TOO_BIG
 * (the arena) or MAPI_E_DISK_ERROR (the store) when no answer could be built (out is then
 * left as it was and the session layer answers the Execute with ErrorCode ecRpcFailed).
 */
mh_status mh_srv_rop_execute(mh_srv_rop_session *s, mh_arena *a, const uint8_t *in, size_t in_len,
                             size_t max_out, mh_buf *out, mh_srv_rop_result *res);

#endif
