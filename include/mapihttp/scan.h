/*
 * The scanner: many mailboxes (and their archives) opened and counted N at a time from one
 * session, on one thread, with a checkpoint to resume and shards to split the work.
 */
#ifndef MAPIHTTP_SCAN_H
#define MAPIHTTP_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "mapihttp/common.h"
#include "mapihttp/session.h"
#include "mapihttp/status.h"

MH_BEGIN_DECLS

/* What one mailbox gave. Strings are valid during the callback only. */
typedef struct mh_scan_result {
	const char *mailbox;  /* the SMTP address as listed */
	mh_mailbox_kind kind; /* MH_MAILBOX_PRIMARY or MH_MAILBOX_ARCHIVE */
	mh_status status;     /* S_OK, or why this mailbox failed */
	const char *message;  /* "" on success; the detail (server code) on failure */
	uint32_t folders;     /* folders under the IPM subtree */
	uint64_t items;       /* sum of their PidTagContentCount */
	uint64_t bytes;       /* sum of their PidTagMessageSizeExtended */
	uint64_t ms;          /* wall time from its first request to its result */
	uint32_t requests;    /* HTTP requests it took, Autodiscover included */
} mh_scan_result;

/* Called once per mailbox (and archive), in the order they finish. Return false to stop the
 * scan: what runs is abandoned (and not checkpointed) and mh_scan returns MAPI_E_USER_CANCEL. */
typedef bool (*mh_scan_cb)(void *ud, const mh_scan_result *r);

typedef struct mh_scan_options {
	unsigned version;             /* 1 */
	const char *const *mailboxes; /* SMTP addresses; duplicates are scanned once */
	uint32_t count;
	/* Also scan each mailbox's archive (from its Autodiscover answer); a mailbox without one
	 * gives no archive record. */
	bool archives;
	unsigned concurrency; /* mailboxes in flight; 0: 8; at most 256 */
	/*
	 * A file of finished mailboxes: read first (those listed are skipped), appended to as each
	 * one finishes (with its result), so an interrupted scan resumes where it stopped. NULL:
	 * none.
	 */
	const char *checkpoint;
	/* Shard k of n (0 <= k < n): only the mailboxes whose address hashes to k (FNV-1a of the
	 * lowercased address, mod n), so n machines split a list without talking. n 0: all. */
	uint32_t shard_k, shard_n;
	mh_scan_cb on_result;
	void *ud;
	/* Called after each result with the numbers so far (may be NULL): progress display. */
	void (*on_progress)(void *ud, uint32_t done, uint32_t total);
} mh_scan_options;

#define MH_SCAN_OPTIONS_INIT                                       \
	{                                                          \
		1, NULL, 0, false, 0, NULL, 0, 0, NULL, NULL, NULL \
	}

/* The totals of a scan. */
typedef struct mh_scan_summary {
	uint32_t selected; /* mailboxes in this shard after removing duplicates */
	uint32_t skipped;  /* already in the checkpoint */
	uint32_t ok;       /* results with S_OK */
	uint32_t failed;   /* results with another status */
	uint64_t requests; /* HTTP requests of the whole scan */
	uint64_t elapsed_ms;
} mh_scan_summary;

/**
 * Scans opts->mailboxes from session s (its identity, credentials, transport and Autodiscover
 * cache), each as its own state machine: Autodiscover, Connect, RopLogon, one Execute that
 * reads the IPM subtree's deep hierarchy table, Disconnect. A mailbox that fails (no rights,
 * unknown, too many redirects) is reported with its status and the scan goes on.
 * @return S_OK when the scan ran to its end (whatever the mailboxes' statuses: see summary);
 *         MAPI_E_INVALID_PARAMETER (options, shard); MAPI_E_DISK_ERROR (the checkpoint could
 *         not be read or written; the scan stops); MAPI_E_USER_CANCEL (on_result said stop).
 */
MH_EXTERN mh_status mh_scan(mh_session *s, const mh_scan_options *opts, mh_scan_summary *summary);

MH_END_DECLS

#endif
