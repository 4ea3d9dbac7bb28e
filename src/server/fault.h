/*
 * mapihttpd's fault injection (--fault): rules that make every Nth event, or events with a
 * given probability, fail the way a real server or network sometimes does, so clients can
 * test their recovery paths against it.
 */
#ifndef MH_SERVER_FAULT_H
#define MH_SERVER_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "mapihttp/status.h"

/*
 * What a rule does, and which events it counts:
 *   close        every /mapi request: the connection is closed right after the response
 *                headers (no body);
 *   503          every /mapi request: HTTP 503 with Retry-After (ms rounded up to seconds);
 *   expire       every /mapi request that names a session context: the context is dropped
 *                first, so the request gets X-ResponseCode 10 (Context Not Found);
 *   stall        every /mapi request: PENDING lines for ms before the real answer;
 *   backoff      every Execute with at least one ROP: RopBackoff (Duration ms) in place of
 *                the ROPs from the first one on;
 *   wrongserver  every RopLogon that would succeed: ecWrongServer with the mailbox's own
 *                server DN instead.
 */
typedef enum mh_srv_fault_kind {
	MH_SRV_FAULT_CLOSE = 0,
	MH_SRV_FAULT_HTTP503,
	MH_SRV_FAULT_EXPIRE,
	MH_SRV_FAULT_STALL,
	MH_SRV_FAULT_BACKOFF,
	MH_SRV_FAULT_WRONG_SERVER,
	MH_SRV_FAULT_KINDS
} mh_srv_fault_kind;

/* Rules one server may hold. */
#define MH_SRV_FAULT_MAX_RULES 16u

typedef struct mh_srv_faults mh_srv_faults;

mh_status mh_srv_faults_new(mh_srv_faults **out);
void mh_srv_faults_free(mh_srv_faults *f); /* NULL is a no-op */

/*
 * Adds one rule: "KIND[,every=N][,p=P][,seed=S][,ms=T]", KIND as above; exactly one of
 * every (N >= 1: the Nth, 2Nth, ... event of that kind fails) and p (0 < P <= 1, drawn from
 * a generator seeded with S, default 1, so runs repeat); ms is the stall time, the
 * Retry-After or the backoff duration (defaults 20000, 1000 and 1000). Example:
 * "503,every=5,ms=2000". MAPI_E_INVALID_PARAMETER with a message naming the bad part;
 * MAPI_E_TOO_BIG past MH_SRV_FAULT_MAX_RULES.
 */
mh_status mh_srv_faults_add(mh_srv_faults *f, const char *spec);

/*
 * Counts one event of kind k and says whether it is to fail (*ms, may be NULL, then gets
 * the rule's duration). With several rules of one kind, the first that fires wins.
 * Thread-safe. f NULL: false.
 */
bool mh_srv_faults_hit(mh_srv_faults *f, mh_srv_fault_kind k, uint32_t *ms);

/* "close", "503", ... */
const char *mh_srv_fault_kind_name(mh_srv_fault_kind k);

#endif
