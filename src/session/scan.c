/*
 * The scanner (mapihttp/scan.h): every mailbox and archive is a state machine on the session's
 * loop (Autodiscover, Connect, RopLogon, one Execute, Disconnect), N of them in flight at once.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "mapihttp/proptags.h"
#include "mapihttp/scan.h"
#include "session/session_internal.h"
#include "util/utf.h"

#define SCAN_DEFAULT_CONCURRENCY 8u
#define SCAN_MAX_CONCURRENCY     256u
/* Rows asked for by one QueryRows: the server sends what fits, and we ask again. */
#define SCAN_QUERY_ROWS 0xFFFFu
/* Times one machine starts a step again after a lost context, a lost answer or a busy server. */
#define SCAN_MAX_RECOVERIES 6u
/* The wait before it does, doubled each time and jittered down by up to a half, so that
 * machines that failed together (a server dropping contexts) do not come back together. */
#define SCAN_RECOVERY_WAIT_MS     20u
#define SCAN_RECOVERY_WAIT_CAP_MS 1000u
/* Times one machine waits for a context after the server's session limit refused one. */
#define SCAN_MAX_PARKS 16u
/* Longest checkpoint line read; a longer one is not one of ours and is ignored. */
#define SCAN_CKPT_LINE_MAX (64u * 1024u)
/* Longest message kept per result. */
#define SCAN_MSG_MAX 400u

#define TAG_CONTENT_COUNT         PROP_TAG(PT_LONG, 0x3602)
#define TAG_MESSAGE_SIZE_EXTENDED PROP_TAG(PT_I8, 0x0E08)
#define TAG_MESSAGE_SIZE          PROP_TAG(PT_LONG, 0x0E08)
#define TABLE_DEPTH               0x04u
#define BOOKMARK_END              2u
#define EC_ACCESS_DENIED          ((mh_status)0x80070005u)
#define LOGON_FID_IPM_SUBTREE     3u

static const struct {
	uint32_t n;
	uint32_t t[2];
} row_cols = {2, {TAG_CONTENT_COUNT, TAG_MESSAGE_SIZE_EXTENDED}};

/* The store's size: the 64-bit property, and the 32-bit one for servers that give only that. */
static const struct {
	uint32_t n;
	uint32_t t[2];
} store_cols = {2, {TAG_MESSAGE_SIZE_EXTENDED, TAG_MESSAGE_SIZE}};

#define AS_TAGS(x) ((SPropTagArray *)(uintptr_t)(const void *)&(x))

/* One address of the list (after duplicates are removed). */
typedef struct mailbox {
	const char *address; /* as listed (the first spelling) */
	char *key;           /* lowercased */
	bool selected;       /* in this shard */
	bool primary_done;   /* a primary record is in the checkpoint */
	bool archive_done;   /* an archive record is in the checkpoint */
	int has_archive;     /* from the checkpoint's primary record: -1 unknown, 0, 1 */
	unsigned pending;    /* machines of this mailbox still running */
	bool to_start;       /* this run scans it; pump has not taken it yet */
} mailbox;

typedef struct scan scan;
typedef struct job job;

typedef enum job_state {
	J_QUEUED = 0,
	J_DISCOVER,
	J_CONNECT,
	J_LOGON,
	J_REDIRECT,
	J_EXECUTE,
	J_DISCONNECT,
} job_state;

/* One machine: a mailbox's primary or its archive. */
struct job {
	scan *sc;
	mailbox *mb;
	mh_mailbox_kind kind;
	bool report; /* false: only finds the archive (the primary's record is checkpointed) */
	job_state state;
	mh_arena arena; /* target strings */
	mh_arena xa;    /* one answer at a time: logon, Execute */
	mh_ad_op *ad;
	/* An archive's SmtpAddress to Autodiscover (MAPI/HTTP form); NULL when target was derived
	 * from the RPC form. target: where the mailbox is served (strings in arena). */
	const char *alt_smtp;
	mh_ad_mailbox_target target;
	mh_emsmdb_client *c;
	void (*after_disconnect)(job *j);
	unsigned hops, recoveries;
	const char *redirect_dn;
	uint64_t nspi_before;
	uint32_t logon_handle;
	uint64_t ipm_fid;
	uint32_t table_handle;
	mh_rop_request rops[5];
	uint32_t handles[3];
	/* Sums. */
	uint32_t folders;
	uint64_t items, bytes, store_bytes;
	bool any_size, have_store_bytes;
	bool has_archive; /* the primary's Autodiscover listed an archive (a record follows) */
	uint64_t started_ms;
	uint64_t requests;
	mh_status status;
	char message[SCAN_MSG_MAX];
	job *prev, *next; /* in flight, or queued */
	job *nnext;       /* waiting for the NSPI client */
	job *pnext;       /* waiting for a session context (parked) */
	unsigned parks;
	void (*resume)(job *j); /* the step a recovery wait runs */
	uint64_t timer;
	bool timer_armed;
};

struct scan {
	mh_session *s;
	const mh_scan_options *o;
	mh_scan_summary *sum;
	mailbox *mbs;
	uint32_t n_mbs;
	uint32_t *slots; /* hash of mbs by key: index + 1, 0 empty */
	uint32_t n_slots;
	uint32_t next_mb; /* the next mailbox to start */
	uint32_t to_run;  /* mailboxes this run scans */
	uint32_t finished;
	unsigned concurrency; /* lowered when the server refuses a context (session limit) */
	unsigned running;     /* machines in flight, parked ones included */
	unsigned parked;
	job *parked_head, *parked_tail;
	job *queue_head; /* archives waiting for a slot, started before the next mailbox */
	job *inflight;
	mh_nspi_client *nspi;
	bool nspi_busy;
	job *nq_head, *nq_tail;
	int ckpt_fd;
	bool stopping;
	bool done;
	uint64_t rng;    /* splitmix64 state for the recovery jitter */
	mh_status fatal; /* why the scan stopped (a checkpoint write) */
	char fatal_msg[SCAN_MSG_MAX];
};

/* ---- small helpers ------------------------------------------------------------------- */

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

static char *lower_dup(const char *s)
{
	size_t n = strlen(s);
	char *k = malloc(n + 1);
	if (k == NULL)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		k[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	return k;
}

static mailbox *find_mailbox(const scan *sc, const char *key)
{
	uint32_t i = fnv1a(key) & (sc->n_slots - 1);
	while (sc->slots[i] != 0) {
		mailbox *m = &sc->mbs[sc->slots[i] - 1];
		if (strcmp(m->key, key) == 0)
			return m;
		i = (i + 1) & (sc->n_slots - 1);
	}
	return NULL;
}

static void add_slot(scan *sc, uint32_t index)
{
	uint32_t i = fnv1a(sc->mbs[index].key) & (sc->n_slots - 1);
	while (sc->slots[i] != 0)
		i = (i + 1) & (sc->n_slots - 1);
	sc->slots[i] = index + 1;
}

static void job_set_msg(job *j, const char *fmt, ...) MH_PRINTF(2, 3);
static void job_set_msg(job *j, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->message, sizeof(j->message), fmt, ap);
	va_end(ap);
}

static const char *or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* The detail a failed call left, or "". */
static const char *last_msg(void)
{
	const mh_error *e = mh_error_last();
	return e != NULL && e->message != NULL ? e->message : "";
}

static const char *kind_name(mh_mailbox_kind kind)
{
	return kind == MH_MAILBOX_ARCHIVE ? "archive" : "primary";
}

/* A ROP's ReturnValue as a status: MAPI_E_* kept, ecAccessDenied as MAPI_E_NO_ACCESS. */
static mh_status rop_status(mh_status rv)
{
	if (rv == EC_ACCESS_DENIED)
		return MAPI_E_NO_ACCESS;
	if (((uint32_t)rv & 0xFFFF0000u) == 0x80040000u)
		return rv;
	return MAPI_E_CALL_FAILED;
}

/* Failures a machine recovers from by running its step again. */
static bool recoverable(mh_status st)
{
	return st == MAPI_E_NETWORK_ERROR || st == MAPI_E_TIMEOUT || st == MAPI_E_END_OF_SESSION ||
	       st == MAPI_E_BUSY;
}

/* The requests a discovery made: one POST per hop, none from the cache. */
static uint64_t ad_requests(const mh_ad_result *r)
{
	if (r == NULL || r->from_cache || r->last_url == NULL)
		return 0;
	return (uint64_t)r->hops + 1;
}

/* ---- the checkpoint ------------------------------------------------------------------ */

static mh_status ckpt_fail(scan *sc, const char *what)
{
	return mh__session_fail(sc->s, MAPI_E_DISK_ERROR, "scan checkpoint %s: %s: %s",
	                        sc->o->checkpoint, what, strerror(errno));
}

/* One line of the file: marks what it says is done. Lines of other mailboxes are ignored. */
static void ckpt_line(scan *sc, const char *line, size_t len)
{
	json_error_t err;
	json_t *o = json_loadb(line, len, 0, &err);
	if (o == NULL)
		return;
	const char *addr = json_string_value(json_object_get(o, "mailbox"));
	const char *kind = json_string_value(json_object_get(o, "kind"));
	char *key = addr != NULL ? lower_dup(addr) : NULL;
	mailbox *m = key != NULL && kind != NULL ? find_mailbox(sc, key) : NULL;
	if (m != NULL && strcmp(kind, "primary") == 0) {
		m->primary_done = true;
		json_t *a = json_object_get(o, "archive");
		if (json_is_boolean(a))
			m->has_archive = json_is_true(a) ? 1 : 0;
	} else if (m != NULL && strcmp(kind, "archive") == 0) {
		m->archive_done = true;
	}
	free(key);
	json_decref(o);
}

/*
 * Reads the checkpoint and opens it for appending. A last line without its newline was torn
 * by a crash: it is ignored and cut off, so the next line starts clean.
 */
static mh_status ckpt_open(scan *sc)
{
	const char *path = sc->o->checkpoint;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return ckpt_fail(sc, "cannot open");
	/* Read line by line through a second descriptor: the file may be large. */
	int rfd = dup(fd);
	FILE *fp = rfd >= 0 ? fdopen(rfd, "r") : NULL;
	if (fp == NULL) {
		if (rfd >= 0)
			close(rfd);
		close(fd);
		return ckpt_fail(sc, "cannot read");
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	off_t keep = 0; /* the end of the last whole line */
	errno = 0;
	while ((n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] != '\n')
			break; /* torn: cut off below */
		keep += (off_t)n;
		if (n > 1 && (size_t)n <= SCAN_CKPT_LINE_MAX)
			ckpt_line(sc, line, (size_t)n - 1);
	}
	bool failed = ferror(fp) != 0;
	free(line);
	fclose(fp);
	if (failed) {
		close(fd);
		return ckpt_fail(sc, "cannot read");
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return ckpt_fail(sc, "cannot stat");
	}
	if (sb.st_size > keep && ftruncate(fd, keep) != 0) {
		close(fd);
		return ckpt_fail(sc, "cannot cut its torn last line");
	}
	if (lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return ckpt_fail(sc, "cannot seek");
	}
	sc->ckpt_fd = fd;
	return S_OK;
}

static mh_status write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return MAPI_E_DISK_ERROR;
		p += w;
		n -= (size_t)w;
	}
	return S_OK;
}

/* The JSON record of a result: the checkpoint's line (with "archive" for a primary). */
static json_t *result_json(const mh_scan_result *r, int has_archive)
{
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	bool bad = json_object_set_new(o, "mailbox", json_string(r->mailbox)) != 0 ||
	           json_object_set_new(o, "kind", json_string(kind_name(r->kind))) != 0 ||
	           json_object_set_new(
	               o, "status",
	               json_string(r->status == S_OK ? "ok" : mh_status_str(r->status))) != 0 ||
	           json_object_set_new(o, "folders", json_integer(r->folders)) != 0 ||
	           json_object_set_new(o, "items", json_integer((json_int_t)r->items)) != 0 ||
	           json_object_set_new(o, "bytes", json_integer((json_int_t)r->bytes)) != 0 ||
	           json_object_set_new(o, "ms", json_integer((json_int_t)r->ms)) != 0 ||
	           json_object_set_new(o, "requests", json_integer(r->requests)) != 0;
	if (!bad && r->status != S_OK)
		bad = json_object_set_new(o, "error", json_string(r->message)) != 0;
	if (!bad && has_archive >= 0)
		bad = json_object_set_new(o, "archive", json_boolean(has_archive > 0)) != 0;
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static mh_status ckpt_append(scan *sc, const mh_scan_result *r, int has_archive)
{
	if (sc->ckpt_fd < 0)
		return S_OK;
	json_t *o = result_json(r, has_archive);
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (text == NULL)
		return mh_error_oom();
	size_t n = strlen(text);
	char *line = malloc(n + 1);
	mh_status st = MAPI_E_NOT_ENOUGH_MEMORY;
	if (line != NULL) {
		memcpy(line, text, n);
		line[n] = '\n';
		/* One write per line: a crash leaves at most one torn line, at the end. */
		st = write_all(sc->ckpt_fd, line, n + 1);
	}
	free(line);
	free(text);
	return st;
}

/* ---- machines ------------------------------------------------------------------------- */

static void pump(scan *sc);
static void job_connect(job *j);
static void job_logon(job *j);
static void job_execute(job *j);
static void job_fail(job *j, mh_status st);
static void nspi_enqueue(job *j);

static void link_inflight(scan *sc, job *j)
{
	j->prev = NULL;
	j->next = sc->inflight;
	if (sc->inflight != NULL)
		sc->inflight->prev = j;
	sc->inflight = j;
	sc->running++;
}

static void unlink_inflight(scan *sc, job *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		sc->inflight = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
	sc->running--;
}

static job *job_new(scan *sc, mailbox *mb, mh_mailbox_kind kind, bool report)
{
	job *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return NULL;
	j->sc = sc;
	j->mb = mb;
	j->kind = kind;
	j->report = report;
	mh_arena_init(&j->arena, 0);
	mh_arena_init(&j->xa, 0);
	return j;
}

/* Frees what the machine holds; its client's requests go into its count first. */
static void job_release(job *j)
{
	if (j->timer_armed) {
		mh_loop_timer_cancel(j->sc->s->loop, j->timer);
		j->timer_armed = false;
	}
	if (j->ad != NULL) {
		mh_ad_discover_cancel(j->ad);
		j->ad = NULL;
	}
	if (j->c != NULL) {
		mh_sctx_stats st;
		mh_emsmdb_client_stats(j->c, &st);
		j->requests += st.requests;
		mh__session_count_requests(j->sc->s, &st);
		mh_emsmdb_client_free(j->c);
		j->c = NULL;
	}
}

static void job_free(job *j)
{
	job_release(j);
	mh_arena_free(&j->arena);
	mh_arena_free(&j->xa);
	free(j);
}

static void check_done(scan *sc)
{
	if (sc->stopping ||
	    (sc->running == 0 && sc->queue_head == NULL && sc->next_mb >= sc->n_mbs))
		sc->done = true;
}

static void stop(scan *sc)
{
	sc->stopping = true;
	sc->done = true;
}

/* The machine's result: checkpointed, then handed to on_result. */
static void job_finish(job *j)
{
	scan *sc = j->sc;
	job_release(j);
	unlink_inflight(sc, j);
	mailbox *mb = j->mb;
	if (!j->report && j->status != S_OK) {
		/* The archive's machine was to be found and could not be: its record says why. */
		j->kind = MH_MAILBOX_ARCHIVE;
		j->report = true;
	}
	if (j->report && !sc->stopping) {
		mh_scan_result r;
		memset(&r, 0, sizeof(r));
		r.mailbox = mb->address;
		r.kind = j->kind;
		r.status = j->status;
		r.message = j->status == S_OK ? "" : j->message;
		r.folders = j->folders;
		r.items = j->items;
		r.bytes = j->bytes;
		r.ms = mh_loop_now(sc->s->loop) - j->started_ms;
		r.requests = (uint32_t)(j->requests > UINT32_MAX ? UINT32_MAX : j->requests);
		if (r.status == S_OK)
			sc->sum->ok++;
		else
			sc->sum->failed++;
		int has_archive = -1;
		if (j->kind == MH_MAILBOX_PRIMARY && sc->o->archives)
			has_archive = j->has_archive ? 1 : 0;
		mh_status st = ckpt_append(sc, &r, has_archive);
		if (st != S_OK) {
			sc->fatal = MAPI_E_DISK_ERROR;
			snprintf(sc->fatal_msg, sizeof(sc->fatal_msg),
			         "scan checkpoint %s: cannot append the record of %s",
			         sc->o->checkpoint, mb->address);
			stop(sc);
		} else {
			if (--mb->pending == 0)
				sc->finished++;
			if (sc->o->on_result != NULL && !sc->o->on_result(sc->o->ud, &r)) {
				sc->fatal = MAPI_E_USER_CANCEL;
				stop(sc);
			} else if (sc->o->on_progress != NULL) {
				sc->o->on_progress(sc->o->ud, sc->finished, sc->to_run);
			}
		}
	} else if (!sc->stopping) {
		if (--mb->pending == 0)
			sc->finished++;
	}
	job_free(j);
	pump(sc);
	check_done(sc);
}

static void on_disconnected(mh_emsmdb_client *c, mh_status st, bool reset, void *payload)
{
	(void)c;
	(void)st; /* a failed Disconnect does not undo what was read */
	(void)reset;
	job *j = payload;
	if (j->sc->stopping)
		return;
	void (*next)(job *) = j->after_disconnect;
	j->after_disconnect = NULL;
	next(j);
}

/* Disconnects the context when it is up, then runs next. */
static void job_disconnect_then(job *j, void (*next)(job *))
{
	j->state = J_DISCONNECT;
	j->after_disconnect = next;
	if (j->c != NULL && mh_emsmdb_client_connected(j->c) && !mh_emsmdb_client_busy(j->c) &&
	    mh_emsmdb_client_disconnect(j->c, on_disconnected, j) == S_OK)
		return;
	j->after_disconnect = NULL;
	next(j);
}

static void job_fail(job *j, mh_status st)
{
	j->status = st;
	job_disconnect_then(j, job_finish);
}

static uint64_t next_rand(scan *sc)
{
	uint64_t z = (sc->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void on_recovery_timer(void *ud)
{
	job *j = ud;
	j->timer_armed = false;
	if (j->sc->stopping)
		return;
	void (*step)(job *) = j->resume;
	j->resume = NULL;
	step(j);
}

/* Runs the step again, after a short wait, following a recoverable failure; or fails. */
static void job_recover(job *j, mh_status st, bool reset, void (*step)(job *), const char *what)
{
	const char *msg = j->c != NULL ? mh_emsmdb_client_errmsg(j->c) : "";
	if (!recoverable(st) || j->recoveries >= SCAN_MAX_RECOVERIES) {
		job_set_msg(j, "%s (%s): %s", what, or_empty(j->target.mailstore_url), msg);
		job_fail(j, st);
		return;
	}
	j->recoveries++;
	if (j->c == NULL || !mh_emsmdb_client_connected(j->c))
		step = job_connect; /* the context is gone: Connect, RopLogon, then the step */
	else if (reset)
		step = job_logon; /* a new context: its logons and handles are new too */
	uint32_t wait = SCAN_RECOVERY_WAIT_MS << (j->recoveries - 1);
	if (wait > SCAN_RECOVERY_WAIT_CAP_MS)
		wait = SCAN_RECOVERY_WAIT_CAP_MS;
	wait -= (uint32_t)(next_rand(j->sc) % (wait / 2 + 1));
	j->resume = step;
	if (mh_loop_timer(j->sc->s->loop, wait, on_recovery_timer, j, &j->timer) == S_OK) {
		j->timer_armed = true;
		return;
	}
	j->resume = NULL;
	step(j);
}

/* ---- Execute: the IPM subtree's deep hierarchy table ---------------------------------- */

static const SPropTagArray *table_columns(uint8_t logon_id, uint32_t handle, void *payload)
{
	(void)logon_id;
	(void)handle;
	(void)payload;
	return AS_TAGS(row_cols);
}

static void add_rows(job *j, const mh_rop_response *qr)
{
	for (uint16_t i = 0; i < qr->u.query_rows.row_count; i++) {
		const mh_prop_row *row = &qr->u.query_rows.rows[i];
		j->folders++;
		for (uint32_t k = 0; k < row->cValues; k++) {
			const SPropValue *v = &row->lpProps[k];
			if (v->ulPropTag == TAG_CONTENT_COUNT)
				j->items += v->Value.ul;
			else if (v->ulPropTag == TAG_MESSAGE_SIZE_EXTENDED && v->Value.li >= 0) {
				j->bytes += (uint64_t)v->Value.li;
				j->any_size = true;
			}
		}
	}
}

static void sums_done(job *j)
{
	/* Servers that keep no folder sizes: the store's own total stands in for them. */
	if (!j->any_size && j->folders > 0 && j->have_store_bytes)
		j->bytes = j->store_bytes;
	j->status = S_OK;
	job_disconnect_then(j, job_finish);
}

/*
 * Sends the first n_rops of j->rops on the first n_handles of j->handles in one Execute, its
 * answer decoded into j->xa (table columns from columns, may be NULL); fails the job, saying
 * what, when it cannot be sent.
 */
static void job_send(job *j, uint32_t n_rops, uint32_t n_handles,
                     const SPropTagArray *(*columns)(uint8_t, uint32_t, void *),
                     mh_emsmdb_execute_done done, const char *what)
{
	mh_emsmdb_execute_args a;
	memset(&a, 0, sizeof(a));
	a.rops = j->rops;
	a.n_rops = n_rops;
	a.handles = j->handles;
	a.n_handles = n_handles;
	a.arena = &j->xa;
	a.columns = columns;
	mh_arena_free(&j->xa);
	mh_status st = mh_emsmdb_client_execute(j->c, &a, done, j);
	if (st != S_OK) {
		job_set_msg(j, "%s: %s", what, last_msg());
		job_fail(j, st);
	}
}

/*
 * Whether an EMSMDB callback of j goes on: not once the scan stops, nor after a failed call
 * (handed to job_recover, which runs step again or fails the job, naming what).
 */
static bool job_answered(job *j, mh_status st, bool reset, void (*step)(job *), const char *what)
{
	if (j->sc->stopping)
		return false;
	if (st != S_OK) {
		job_recover(j, st, reset, step, what);
		return false;
	}
	return true;
}

static void on_more_rows(mh_emsmdb_client *c, mh_status st, bool reset,
                         const mh_emsmdb_execute_result *r, void *payload);

/* One more QueryRows on the table the first Execute opened (its columns are set). */
static void query_more(job *j)
{
	memset(j->rops, 0, sizeof(j->rops));
	j->rops[0].rop_id = MH_ROP_QUERY_ROWS;
	j->rops[0].u.query_rows.forward_read = 1;
	j->rops[0].u.query_rows.row_count = SCAN_QUERY_ROWS;
	j->handles[0] = j->table_handle;
	job_send(j, 1, 1, table_columns, on_more_rows, "Execute (QueryRows)");
}

static void on_more_rows(mh_emsmdb_client *c, mh_status st, bool reset,
                         const mh_emsmdb_execute_result *r, void *payload)
{
	(void)c;
	job *j = payload;
	/* A lost context takes the table with it: job_execute reads it all again. */
	if (!job_answered(j, st, reset, job_execute, "Execute (QueryRows)"))
		return;
	const mh_rop_response *qr = r->responses.count == 1 ? &r->responses.rops[0] : NULL;
	if (qr == NULL || qr->rop_id != MH_ROP_QUERY_ROWS) {
		job_set_msg(j, "Execute: no RopQueryRows response in the answer");
		job_fail(j, MAPI_E_CORRUPT_DATA);
		return;
	}
	if (qr->return_value != S_OK) {
		job_set_msg(j, "RopQueryRows on the hierarchy table: ReturnValue 0x%08X",
		            (unsigned)qr->return_value);
		job_fail(j, rop_status(qr->return_value));
		return;
	}
	add_rows(j, qr);
	bool more = qr->u.query_rows.origin != BOOKMARK_END && qr->u.query_rows.row_count > 0;
	mh_arena_free(&j->xa);
	if (more)
		query_more(j);
	else
		sums_done(j);
}

static void store_size(job *j, const SPropValue *v)
{
	if (v[0].ulPropTag == TAG_MESSAGE_SIZE_EXTENDED && v[0].Value.li >= 0) {
		j->store_bytes = (uint64_t)v[0].Value.li;
		j->have_store_bytes = true;
	} else if (v[1].ulPropTag == TAG_MESSAGE_SIZE) {
		j->store_bytes = v[1].Value.ul;
		j->have_store_bytes = true;
	}
}

static void on_executed(mh_emsmdb_client *c, mh_status st, bool reset,
                        const mh_emsmdb_execute_result *r, void *payload)
{
	(void)c;
	job *j = payload;
	if (!job_answered(j, st, reset, job_execute, "Execute (hierarchy table)"))
		return;
	static const char *const names[5] = {"RopGetPropertiesSpecific", "RopOpenFolder",
	                                     "RopGetHierarchyTable", "RopSetColumns",
	                                     "RopQueryRows"};
	const mh_rop_response *qr = NULL;
	for (uint32_t i = 0; i < 5; i++) {
		const mh_rop_response *p = i < r->responses.count ? &r->responses.rops[i] : NULL;
		if (p == NULL || p->rop_id != j->rops[i].rop_id) {
			job_set_msg(j, "Execute: no %s response in the answer", names[i]);
			job_fail(j, MAPI_E_CORRUPT_DATA);
			return;
		}
		if (i == 0) {
			/* The store's size is a fallback only: its failure is no failure. */
			const mh_prop_row *row = &p->u.get_props_specific.row;
			if (p->return_value == S_OK && row->cValues == 2)
				store_size(j, row->lpProps);
			continue;
		}
		if (p->return_value != S_OK) {
			job_set_msg(j, "%s (IPM subtree 0x%016llX): ReturnValue 0x%08X", names[i],
			            (unsigned long long)j->ipm_fid, (unsigned)p->return_value);
			job_fail(j, rop_status(p->return_value));
			return;
		}
		if (i == 4)
			qr = p;
	}
	add_rows(j, qr);
	bool more = qr->u.query_rows.origin != BOOKMARK_END && qr->u.query_rows.row_count > 0;
	if (more && r->responses.handle_count < 3) {
		job_set_msg(j, "Execute: the answer's handle table has %u entries, 3 expected",
		            r->responses.handle_count);
		job_fail(j, MAPI_E_CORRUPT_DATA);
		return;
	}
	if (more)
		j->table_handle = r->responses.handles[2];
	mh_arena_free(&j->xa);
	if (more)
		query_more(j);
	else
		sums_done(j);
}

static void job_execute(job *j)
{
	j->state = J_EXECUTE;
	j->folders = 0;
	j->items = j->bytes = 0;
	j->any_size = false;
	memset(j->rops, 0, sizeof(j->rops));
	mh_rop_request *q = j->rops;
	q[0].rop_id = MH_ROP_GET_PROPERTIES_SPECIFIC;
	q[0].in_handle_index = 0;
	q[0].u.get_props_specific.want_unicode = 1;
	q[0].u.get_props_specific.tags = AS_TAGS(store_cols);
	q[1].rop_id = MH_ROP_OPEN_FOLDER;
	q[1].in_handle_index = 0;
	q[1].out_handle_index = 1;
	q[1].u.open_folder.folder_id = j->ipm_fid;
	q[2].rop_id = MH_ROP_GET_HIERARCHY_TABLE;
	q[2].in_handle_index = 1;
	q[2].out_handle_index = 2;
	q[2].u.get_table.table_flags = TABLE_DEPTH;
	q[3].rop_id = MH_ROP_SET_COLUMNS;
	q[3].in_handle_index = 2;
	q[3].u.set_columns.tags = AS_TAGS(row_cols);
	q[4].rop_id = MH_ROP_QUERY_ROWS;
	q[4].in_handle_index = 2;
	q[4].u.query_rows.forward_read = 1;
	q[4].u.query_rows.row_count = SCAN_QUERY_ROWS;
	j->handles[0] = j->logon_handle;
	j->handles[1] = 0xFFFFFFFFu;
	j->handles[2] = 0xFFFFFFFFu;
	job_send(j, 5, 3, NULL, on_executed, "Execute");
}

/* ---- Connect, RopLogon, redirects ----------------------------------------------------- */

static void on_logon(mh_emsmdb_client *c, mh_status st, bool reset, const mh_emsmdb_logon_result *r,
                     void *payload)
{
	(void)c;
	job *j = payload;
	if (!job_answered(j, st, reset, job_logon, "RopLogon"))
		return;
	if (r->status == S_OK) {
		j->logon_handle = r->handle;
		j->ipm_fid = r->logon->folder_ids[LOGON_FID_IPM_SUBTREE];
		mh_arena_free(&j->xa);
		job_execute(j);
		return;
	}
	if (r->wrong_server && r->server_name != NULL) {
		if (j->hops >= MH_SESSION_MAX_REDIRECTS) {
			job_set_msg(
			    j,
			    "RopLogon %s: ecWrongServer more than %u times (last server %s): "
			    "the redirects do not end",
			    j->target.essdn, MH_SESSION_MAX_REDIRECTS, r->server_name);
			job_fail(j, MAPI_E_UNCONFIGURED);
			return;
		}
		j->hops++;
		char *dn;
		if (mh_arena_strndup(&j->arena, r->server_name, strlen(r->server_name), &dn) !=
		    S_OK) {
			job_set_msg(j, "out of memory");
			job_fail(j, MAPI_E_NOT_ENOUGH_MEMORY);
			return;
		}
		j->redirect_dn = dn;
		mh_arena_free(&j->xa);
		nspi_enqueue(j);
		return;
	}
	if (r->status == MAPI_E_BUSY && j->recoveries < SCAN_MAX_RECOVERIES) {
		j->recoveries++;
		job_logon(j);
		return;
	}
	job_set_msg(j, "RopLogon %s: %s", j->target.essdn, mh_emsmdb_client_errmsg(j->c));
	job_fail(j, r->status);
}

static void job_logon(job *j)
{
	j->state = J_LOGON;
	mh_arena_free(&j->xa);
	mh_status st = mh_emsmdb_client_logon(j->c, 0, j->target.essdn, &j->xa, on_logon, j);
	if (st != S_OK) {
		job_set_msg(j, "RopLogon: %s", last_msg());
		job_fail(j, st);
	}
}

/*
 * The server holds as many contexts of this user as it allows (MAPI_E_SESSION_LIMIT at
 * Connect): while other machines are active, this one waits for one of them to end, and the
 * scan runs no more machines at once than were active. false: nobody else to wait for.
 */
static bool park(job *j)
{
	scan *sc = j->sc;
	unsigned others = sc->running - sc->parked - 1;
	if (others == 0 || j->parks >= SCAN_MAX_PARKS)
		return false;
	j->parks++;
	if (sc->concurrency > others)
		sc->concurrency = others;
	j->pnext = NULL;
	if (sc->parked_tail != NULL)
		sc->parked_tail->pnext = j;
	else
		sc->parked_head = j;
	sc->parked_tail = j;
	sc->parked++;
	return true;
}

static void on_connected(mh_emsmdb_client *c, mh_status st, bool reset, void *payload)
{
	(void)reset;
	job *j = payload;
	if (j->sc->stopping)
		return;
	if (st != S_OK) {
		if (recoverable(st) && j->recoveries < SCAN_MAX_RECOVERIES) {
			j->recoveries++;
			job_connect(j);
			return;
		}
		if (st == MAPI_E_SESSION_LIMIT && park(j))
			return;
		job_set_msg(j, "Connect to %s: %s", j->target.mailstore_url,
		            mh_emsmdb_client_errmsg(c));
		job_fail(j, st);
		return;
	}
	job_logon(j);
}

/* Connects (a new client when there is none). */
static void job_connect(job *j)
{
	j->state = J_CONNECT;
	mh_status st = S_OK;
	if (j->c == NULL) {
		mh_emsmdb_client_options o;
		mh__session_emsmdb_options(j->sc->s, j->target.mailstore_url, &o);
		/* A machine's context lives a few requests: nothing to keep alive. */
		o.keep_alive = false;
		st = mh_emsmdb_client_new(&j->c, j->sc->s->loop, &o);
	}
	if (st == S_OK)
		st = mh_emsmdb_client_connect(j->c, on_connected, j);
	if (st != S_OK) {
		job_set_msg(j, "Connect to %s: %s", j->target.mailstore_url, last_msg());
		job_fail(j, st);
	}
}

/* ---- the scan's NSPI client: ecWrongServer's GetMailboxUrl, one at a time -------------- */

static void nspi_pump(scan *sc);

static void nspi_fail_all(scan *sc, mh_status st, const char *msg)
{
	job *j;
	while ((j = sc->nq_head) != NULL) {
		sc->nq_head = j->nnext;
		j->nnext = NULL;
		job_set_msg(j, "%s", msg);
		job_fail(j, st);
	}
	sc->nq_tail = NULL;
}

static void nspi_after_disconnect(job *j)
{
	job_release(j); /* the old context's requests are counted */
	job_connect(j);
}

static void on_mailbox_url(mh_nspi_client *c, mh_status st, bool reset, const mh_nspi_result *r,
                           void *payload)
{
	job *j = payload;
	scan *sc = j->sc;
	sc->nspi_busy = false;
	if (sc->stopping)
		return;
	mh_sctx_stats stats;
	mh_nspi_client_stats(c, &stats);
	j->requests += stats.requests - j->nspi_before;
	if (st == S_OK && r->url != NULL) {
		if (strcasecmp(r->url, j->target.mailstore_url) == 0) {
			/* The same endpoint: log on again on the context already up. */
			job_logon(j);
		} else {
			char *url;
			if (mh_arena_strndup(&j->arena, r->url, strlen(r->url), &url) != S_OK) {
				job_set_msg(j, "out of memory");
				job_fail(j, MAPI_E_NOT_ENOUGH_MEMORY);
			} else {
				j->target.mailstore_url = url;
				job_disconnect_then(j, nspi_after_disconnect);
			}
		}
	} else if (reset && j->recoveries < SCAN_MAX_RECOVERIES) {
		j->recoveries++;
		nspi_enqueue(j);
	} else {
		job_set_msg(j, "GetMailboxUrl(%s) after ecWrongServer: %s", j->redirect_dn,
		            mh_nspi_client_errmsg(c));
		job_fail(j, st != S_OK ? st : MAPI_E_NOT_FOUND);
	}
	nspi_pump(sc);
}

static void on_nspi_bound(mh_nspi_client *c, mh_status st, bool reset, const mh_nspi_result *r,
                          void *payload)
{
	(void)reset;
	(void)r;
	scan *sc = payload;
	sc->nspi_busy = false;
	if (sc->stopping)
		return;
	if (st != S_OK && !mh_nspi_client_bound(c)) {
		char msg[SCAN_MSG_MAX];
		snprintf(msg, sizeof(msg), "NSPI Bind for ecWrongServer's GetMailboxUrl: %s",
		         mh_nspi_client_errmsg(c));
		nspi_fail_all(sc, st, msg);
		return;
	}
	nspi_pump(sc);
}

static void nspi_pump(scan *sc)
{
	if (sc->nspi_busy || sc->nq_head == NULL || sc->stopping)
		return;
	mh_status st = S_OK;
	if (sc->nspi == NULL) {
		const char *ab = sc->s->info.addressbook_url;
		if (ab == NULL) {
			nspi_fail_all(sc, MAPI_E_NOT_FOUND,
			              "ecWrongServer: the session has no AddressBook URL for "
			              "GetMailboxUrl");
			return;
		}
		mh_nspi_client_options o;
		mh__session_nspi_options(sc->s, ab, &o);
		o.keep_alive = false;
		st = mh_nspi_client_new(&sc->nspi, sc->s->loop, &o);
	}
	if (st == S_OK && !mh_nspi_client_bound(sc->nspi)) {
		st = mh_nspi_client_bind(sc->nspi, on_nspi_bound, sc);
		if (st == S_OK) {
			sc->nspi_busy = true;
			return;
		}
	}
	if (st != S_OK) {
		char msg[SCAN_MSG_MAX];
		snprintf(msg, sizeof(msg), "NSPI for ecWrongServer's GetMailboxUrl: %s",
		         last_msg());
		nspi_fail_all(sc, st, msg);
		return;
	}
	job *j = sc->nq_head;
	sc->nq_head = j->nnext;
	if (sc->nq_head == NULL)
		sc->nq_tail = NULL;
	j->nnext = NULL;
	mh_sctx_stats stats;
	mh_nspi_client_stats(sc->nspi, &stats);
	j->nspi_before = stats.requests;
	mh_arena_free(&j->xa);
	st = mh_nspi_client_get_mailbox_url(sc->nspi, j->redirect_dn, &j->xa, on_mailbox_url, j);
	if (st != S_OK) {
		job_set_msg(j, "GetMailboxUrl(%s): %s", j->redirect_dn, last_msg());
		job_fail(j, st);
		nspi_pump(sc);
		return;
	}
	sc->nspi_busy = true;
}

static void nspi_enqueue(job *j)
{
	scan *sc = j->sc;
	j->state = J_REDIRECT;
	j->nnext = NULL;
	if (sc->nq_tail != NULL)
		sc->nq_tail->nnext = j;
	else
		sc->nq_head = j;
	sc->nq_tail = j;
	nspi_pump(sc);
}

/* ---- Autodiscover ------------------------------------------------------------------- */

/* The archive machine of j's mailbox, from its Autodiscover answer; queued first. */
static mh_status queue_archive(job *j, const mh_ad_pox *owner, const mh_ad_alternative *alt)
{
	scan *sc = j->sc;
	job *a = job_new(sc, j->mb, MH_MAILBOX_ARCHIVE, true);
	if (a == NULL)
		return mh_error_oom();
	mh_status st = S_OK;
	if (alt->smtp_address != NULL) {
		st = mh__arena_str(&a->arena, alt->smtp_address, &a->alt_smtp);
	} else {
		/* The RPC form needs no request: the URL is the owner's with another MailboxId. */
		mh_ad_discover_options o;
		mh__session_discover_options(sc->s, &o);
		st = mh_ad_alternative_target(sc->s->loop, &o, owner, alt, &a->arena, &a->target);
	}
	if (st != S_OK) {
		/* Reported as the archive's failure. */
		job_set_msg(a, "archive of %s: %s", j->mb->address, last_msg());
		a->status = st;
	}
	a->prev = NULL;
	a->next = sc->queue_head;
	sc->queue_head = a;
	j->mb->pending++;
	return S_OK;
}

static void on_discovered(void *ud, mh_status st, const mh_ad_result *r)
{
	job *j = ud;
	j->ad = NULL;
	scan *sc = j->sc;
	if (sc->stopping)
		return;
	uint64_t n = ad_requests(r);
	j->requests += n;
	const char *addr = j->kind == MH_MAILBOX_ARCHIVE ? j->alt_smtp : j->mb->address;
	if (st != S_OK) {
		/* The discovery's message names the address and the URL it asked. */
		if (r != NULL && r->message != NULL)
			job_set_msg(j, "%s", r->message);
		else
			job_set_msg(j, "Autodiscover of %s: %s", addr, mh_status_str(st));
		job_fail(j, st);
		return;
	}
	const mh_ad_pox *p = &r->settings;
	const char *url = mh_ad_urls_pick(&p->mailstore);
	if (url == NULL || p->legacy_dn == NULL) {
		job_set_msg(j, "Autodiscover of %s gave no %s", addr,
		            url == NULL ? "MAPI/HTTP MailStore URL" : "LegacyDN");
		job_fail(j, MAPI_E_NOT_FOUND);
		return;
	}
	if (mh__arena_str(&j->arena, url, &j->target.mailstore_url) != S_OK ||
	    mh__arena_str(&j->arena, p->legacy_dn, &j->target.essdn) != S_OK ||
	    mh__arena_str(&j->arena, r->address, &j->target.smtp) != S_OK) {
		job_set_msg(j, "out of memory");
		job_fail(j, MAPI_E_NOT_ENOUGH_MEMORY);
		return;
	}
	if (j->kind == MH_MAILBOX_PRIMARY && sc->o->archives) {
		const mh_ad_alternative *arch = NULL;
		for (size_t i = 0; i < p->n_alternatives && arch == NULL; i++)
			if (p->alternatives[i].kind == MH_AD_ALT_ARCHIVE)
				arch = &p->alternatives[i];
		j->has_archive = arch != NULL;
		if (arch != NULL && !j->mb->archive_done && queue_archive(j, p, arch) != S_OK) {
			job_set_msg(j, "out of memory");
			job_fail(j, MAPI_E_NOT_ENOUGH_MEMORY);
			return;
		}
	}
	if (!j->report) {
		/* Only here to find the archive. */
		job_finish(j);
		return;
	}
	job_connect(j);
}

static void job_start(job *j)
{
	scan *sc = j->sc;
	link_inflight(sc, j);
	j->started_ms = mh_loop_now(sc->s->loop);
	if (j->status != S_OK) {
		job_finish(j);
		return;
	}
	if (j->kind == MH_MAILBOX_ARCHIVE && j->alt_smtp == NULL) {
		job_connect(j);
		return;
	}
	j->state = J_DISCOVER;
	mh_ad_discover_options o;
	mh__session_discover_options(sc->s, &o);
	o.email = j->kind == MH_MAILBOX_ARCHIVE ? j->alt_smtp : j->mb->address;
	mh_status st = mh_ad_discover_start(sc->s->loop, &o, on_discovered, j, &j->ad);
	if (st != S_OK) {
		j->ad = NULL;
		job_set_msg(j, "Autodiscover of %s: %s", o.email, last_msg());
		job_fail(j, st);
	}
}

/* Starts machines while there is room: queued archives first, then the next mailboxes. */
static void pump(scan *sc)
{
	while (!sc->stopping && sc->running - sc->parked < sc->concurrency) {
		job *j = sc->parked_head;
		if (j != NULL) {
			/* A machine that waits for a context goes before any new one. */
			sc->parked_head = j->pnext;
			if (sc->parked_head == NULL)
				sc->parked_tail = NULL;
			j->pnext = NULL;
			sc->parked--;
			job_connect(j);
			continue;
		}
		j = sc->queue_head;
		if (j != NULL) {
			sc->queue_head = j->next;
			j->next = NULL;
			job_start(j);
			continue;
		}
		while (sc->next_mb < sc->n_mbs && !sc->mbs[sc->next_mb].to_start)
			sc->next_mb++;
		if (sc->next_mb >= sc->n_mbs)
			break;
		mailbox *mb = &sc->mbs[sc->next_mb++];
		mb->to_start = false;
		j = job_new(sc, mb, MH_MAILBOX_PRIMARY, !mb->primary_done);
		if (j == NULL) {
			sc->fatal = MAPI_E_NOT_ENOUGH_MEMORY;
			snprintf(sc->fatal_msg, sizeof(sc->fatal_msg), "scan: out of memory");
			stop(sc);
			break;
		}
		mb->pending++;
		job_start(j);
	}
}

/* ---- the scan ------------------------------------------------------------------------- */

static mh_status check_options(mh_session *s, const mh_scan_options *o)
{
	if (o == NULL || o->version != 1)
		return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
		                        "mh_scan: options missing or of an unknown version");
	if (o->count > 0 && o->mailboxes == NULL)
		return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
		                        "mh_scan: %u mailboxes but no list", o->count);
	if (o->concurrency > SCAN_MAX_CONCURRENCY)
		return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
		                        "mh_scan: concurrency %u is over %u", o->concurrency,
		                        SCAN_MAX_CONCURRENCY);
	if ((o->shard_n == 0 && o->shard_k != 0) || (o->shard_n > 0 && o->shard_k >= o->shard_n))
		return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
		                        "mh_scan: shard %u/%u: k must be below n", o->shard_k,
		                        o->shard_n);
	for (uint32_t i = 0; i < o->count; i++) {
		if (o->mailboxes[i] == NULL)
			return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
			                        "mh_scan: mailbox %u is NULL", i);
		/* Results and the checkpoint are JSON: the addresses must be UTF-8. */
		if (!mh_utf8_valid(o->mailboxes[i], strlen(o->mailboxes[i])))
			return mh__session_fail(s, MAPI_E_INVALID_PARAMETER,
			                        "mh_scan: mailbox %u is not UTF-8", i);
	}
	return S_OK;
}

/* The list without duplicates, in its order; marks this shard's. */
static mh_status build_list(scan *sc)
{
	const mh_scan_options *o = sc->o;
	uint32_t n = o->count;
	sc->n_slots = 16;
	while (sc->n_slots < 2 * (uint64_t)n + 1)
		sc->n_slots *= 2;
	sc->slots = calloc(sc->n_slots, sizeof(*sc->slots));
	sc->mbs = n > 0 ? calloc(n, sizeof(*sc->mbs)) : NULL;
	if (sc->slots == NULL || (n > 0 && sc->mbs == NULL))
		return mh__session_fail(sc->s, mh_error_oom(), "mh_scan: out of memory");
	for (uint32_t i = 0; i < n; i++) {
		char *key = lower_dup(o->mailboxes[i]);
		if (key == NULL)
			return mh__session_fail(sc->s, mh_error_oom(), "mh_scan: out of memory");
		if (find_mailbox(sc, key) != NULL) {
			free(key);
			continue;
		}
		mailbox *m = &sc->mbs[sc->n_mbs];
		m->address = o->mailboxes[i];
		m->key = key;
		m->has_archive = -1;
		m->selected = o->shard_n == 0 || fnv1a(key) % o->shard_n == o->shard_k;
		add_slot(sc, sc->n_mbs);
		sc->n_mbs++;
	}
	return S_OK;
}

/* Which mailboxes run: selected, and not every expected record already checkpointed. */
static void plan(scan *sc)
{
	for (uint32_t i = 0; i < sc->n_mbs; i++) {
		mailbox *m = &sc->mbs[i];
		if (!m->selected)
			continue;
		sc->sum->selected++;
		bool complete =
		    m->primary_done && (!sc->o->archives || m->has_archive == 0 || m->archive_done);
		if (complete) {
			sc->sum->skipped++;
			continue;
		}
		m->to_start = true;
		sc->to_run++;
	}
}

static void scan_free(scan *sc)
{
	if (sc->nspi != NULL) {
		mh_sctx_stats st;
		mh_nspi_client_stats(sc->nspi, &st);
		mh__session_count_requests(sc->s, &st);
		mh_nspi_client_free(sc->nspi);
		sc->nspi = NULL;
	}
	job *j;
	while ((j = sc->inflight) != NULL) {
		unlink_inflight(sc, j);
		job_free(j);
	}
	while ((j = sc->queue_head) != NULL) {
		sc->queue_head = j->next;
		job_free(j);
	}
	sc->nq_head = sc->nq_tail = NULL;
	sc->parked_head = sc->parked_tail = NULL; /* parked machines are in flight: freed above */
	for (uint32_t i = 0; i < sc->n_mbs; i++)
		free(sc->mbs[i].key);
	free(sc->mbs);
	free(sc->slots);
	if (sc->ckpt_fd >= 0)
		close(sc->ckpt_fd);
	sc->ckpt_fd = -1;
}

mh_status mh_scan(mh_session *s, const mh_scan_options *opts, mh_scan_summary *summary)
{
	mh_scan_summary dummy;
	if (summary == NULL)
		summary = &dummy;
	memset(summary, 0, sizeof(*summary));
	if (s == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_scan: no session");
	mh_status st = check_options(s, opts);
	if (st != S_OK)
		return st;
	scan sc;
	memset(&sc, 0, sizeof(sc));
	sc.s = s;
	sc.o = opts;
	sc.sum = summary;
	sc.ckpt_fd = -1;
	sc.concurrency = opts->concurrency == 0 ? SCAN_DEFAULT_CONCURRENCY : opts->concurrency;
	sc.rng = s->client_guid.Data1 ^ ((uint64_t)s->client_guid.Data2 << 32);
	uint64_t t0 = mh_loop_now(s->loop);
	/* The session counts every request on its way to the transport: Autodiscover too. */
	uint64_t requests0 = mh_session_request_count(s);
	st = build_list(&sc);
	if (st == S_OK && opts->checkpoint != NULL)
		st = ckpt_open(&sc);
	if (st != S_OK) {
		scan_free(&sc);
		return st;
	}
	plan(&sc);
	mh__session_ok(s);
	pump(&sc);
	check_done(&sc);
	if (!sc.done)
		st = mh_loop_run_until(s->loop, &sc.done, 0);
	if (st != S_OK && !sc.stopping) {
		const mh_error *e = mh_error_last();
		st = mh__session_fail(s, st, "mh_scan: the event loop stopped: %s",
		                      e != NULL && e->message != NULL ? e->message : "");
	}
	/* The redirect lookups' context: a polite Unbind when the scan ended normally. */
	if (st == S_OK && !sc.stopping && sc.nspi != NULL && mh_nspi_client_bound(sc.nspi) &&
	    !mh_nspi_client_busy(sc.nspi))
		(void)mh_nspi_client_unbind_sync(sc.nspi, mh__session_deadline(s));
	if (sc.ckpt_fd >= 0 && fsync(sc.ckpt_fd) != 0 && st == S_OK && sc.fatal == S_OK) {
		sc.fatal = MAPI_E_DISK_ERROR;
		snprintf(sc.fatal_msg, sizeof(sc.fatal_msg), "scan checkpoint %s: fsync: %s",
		         opts->checkpoint, strerror(errno));
	}
	scan_free(&sc);
	summary->elapsed_ms = mh_loop_now(s->loop) - t0;
	summary->requests = mh_session_request_count(s) - requests0;
	if (st == S_OK && sc.fatal != S_OK) {
		if (sc.fatal == MAPI_E_USER_CANCEL)
			st = mh__session_fail(s, MAPI_E_USER_CANCEL,
			                      "mh_scan: stopped by the result callback");
		else
			st = mh__session_fail(s, sc.fatal, "%s", sc.fatal_msg);
	}
	return st;
}
