/*
 * mapihttpd under load: starts the server on a synthetic organisation and measures, over
 * MAPI/HTTP with libcurl, Executes per second with 1, 8 and 64 concurrent session contexts
 * and the server's peak RSS once 1,000 contexts are open. Prints one figure per line.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "mapihttpd_proc.h"

#include "codec/emsmdb.h"
#include "codec/mapihttp.h"
#include "codec/rop.h"
#include "codec/rpc_ext.h"
#include "mapihttp/proptags.h"
#include "server/store.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/cursor.h"

#define USERS         64u
#define MESSAGES      20u
#define TOKEN         "svc-token-0001" /* the generated organisation's service account */
#define MAX_ROP_OUT   0x10008u
#define QUERY_ROWS    10u
#define OPEN_THREADS  8u
#define REQUEST_ARENA ((size_t)4 << 20)

typedef struct options {
	const char *server;
	double duration;       /* s per Execute figure */
	unsigned rss_contexts; /* contexts opened for the RSS figure */
	unsigned concurrency[3];
	size_t n_concurrency;
} options;

/* One mailbox of the generated organisation, as a client addresses it. */
typedef struct target {
	char url[640]; /* the server's base URL (up to 511 bytes) and the path */
	char essdn[320];
} target;

typedef struct bench {
	options opt;
	mh_test_server srv;
	char svc_dn[320];
	target targets[USERS];
} bench;

/* One session context with its own connection and cookie jar. */
typedef struct ctx {
	const bench *b;
	const target *t;
	CURL *h;
	char err[CURL_ERROR_SIZE];
	mh_buf in;
	mh_arena a;
	GUID request_guid;
	uint32_t counter;
	uint32_t logon_handle;
	uint64_t inbox;
	SPropTagArray *columns;
	long response_code; /* the X-ResponseCode header; -1: none */
} ctx;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the server process ------------------------------------------------------------------ */

static int server_start(bench *b)
{
	char generate[32], limit[16];
	snprintf(generate, sizeof(generate), "%u,%u", USERS, MESSAGES);
	/* Room for the RSS contexts, which stay open, and the busiest Execute figure. */
	snprintf(limit, sizeof(limit), "%u", b->opt.rss_contexts + 1000u);
	const char *const extra[] = {"--generate", generate, "--quiet", "--max-contexts-per-user",
	                             limit,        NULL};
	return mh_test_server_start(&b->srv, b->opt.server, extra);
}

static void server_stop(bench *b)
{
	if (b->srv.pid <= 0)
		return; /* it did not start; mh_test_server_start said why */
	int st = mh_test_server_stop(&b->srv, SIGTERM);
	if (st != 0) {
		char *log = mh_test_slurp_file(b->srv.err_path);
		fprintf(stderr, "bench_server: mapihttpd exited with %d; its stderr:\n%s\n", st,
		        log != NULL ? log : "");
		free(log);
	}
	mh_test_server_cleanup(&b->srv);
}

/* A "VmHWM:" or "VmRSS:" figure of the server, in KiB; 0 when unreadable. */
static unsigned long server_kib(const bench *b, const char *field)
{
	char path[64], line[256];
	unsigned long v = 0;
	size_t n = strlen(field);
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)b->srv.pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0)
			v = strtoul(line + n, NULL, 10);
	fclose(f);
	return v;
}

/* The mailboxes of the organisation the server generates: the same names, so the same
 * MailboxIds and DNs (they are name-based). */
static int load_targets(bench *b)
{
	mh_srv_store *st = NULL;
	mh_arena a;
	mh_srv_recipient r;
	mh_srv_mailbox m;
	int rc = -1;
	mh_arena_init(&a, 0);
	if (mh_srv_store_open(&st, NULL) != S_OK ||
	    mh_srv_store_generate(st, USERS, 0, 1) != S_OK ||
	    mh_srv_store_recipient_by_smtp(st, &a, "svc@example.test", &r) != S_OK)
		goto out;
	snprintf(b->svc_dn, sizeof(b->svc_dn), "%s", r.legacy_dn);
	for (unsigned i = 0; i < USERS; i++) {
		char smtp[64];
		snprintf(smtp, sizeof(smtp), "user%05u@example.test", i + 1);
		if (mh_srv_store_recipient_by_smtp(st, &a, smtp, &r) != S_OK ||
		    mh_srv_store_mailbox_of(st, &a, r.id, MH_SRV_MAILBOX_PRIMARY, &m) != S_OK)
			goto out;
		snprintf(b->targets[i].url, sizeof(b->targets[i].url),
		         "%s/mapi/emsmdb/?MailboxId=%s", b->srv.url, m.mailbox_id);
		snprintf(b->targets[i].essdn, sizeof(b->targets[i].essdn), "%s", m.legacy_dn);
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "bench_server: cannot build the organisation's names\n");
	mh_arena_free(&a);
	mh_srv_store_free(st);
	return rc;
}

/* ---- one session context ------------------------------------------------------------------ */

static size_t on_data(char *p, size_t size, size_t n, void *payload)
{
	mh_buf *in = payload;
	mh_buf_put(in, p, size * n);
	return mh_buf_status(in) == S_OK ? size * n : 0;
}

/* Picks X-ResponseCode out of the HTTP headers (the failure page has no meta block). */
static size_t on_header(char *p, size_t size, size_t n, void *payload)
{
	ctx *c = payload;
	static const char name[] = "x-responsecode:";
	size_t len = size * n, k = sizeof(name) - 1;
	if (len > k && strncasecmp(p, name, k) == 0) {
		char v[16];
		size_t m = len - k < sizeof(v) - 1 ? len - k : sizeof(v) - 1;
		memcpy(v, p + k, m);
		v[m] = 0;
		c->response_code = strtol(v, NULL, 10);
	}
	return len;
}

static int ctx_init(ctx *c, const bench *b, const target *t, unsigned seed)
{
	memset(c, 0, sizeof(*c));
	c->b = b;
	c->t = t;
	c->in = (mh_buf)MH_BUF_INIT;
	mh_arena_init(&c->a, REQUEST_ARENA);
	c->request_guid = (GUID){0x62656e63, 0x6873, 0x7276, {0, 0, 0, 0, 0, 0, 0, 0}};
	memcpy(c->request_guid.Data4, &seed, sizeof(seed));
	c->columns = malloc(sizeof(SPropTagArray) + 5 * sizeof(uint32_t));
	c->h = curl_easy_init();
	if (c->columns == NULL || c->h == NULL)
		return -1;
	c->columns->cValues = 5;
	c->columns->aulPropTag[0] = PR_MID;
	c->columns->aulPropTag[1] = PR_SUBJECT_W;
	c->columns->aulPropTag[2] = PR_MESSAGE_DELIVERY_TIME;
	c->columns->aulPropTag[3] = PR_MESSAGE_SIZE;
	c->columns->aulPropTag[4] = PROP_TAG(PT_UNICODE, 0x0C1A); /* PR_SENDER_NAME_W */
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->err);
	curl_easy_setopt(c->h, CURLOPT_COOKIEFILE, ""); /* this context's own cookie jar */
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->in);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_XOAUTH2_BEARER, TOKEN);
	curl_easy_setopt(c->h, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
	return 0;
}

static void ctx_free(ctx *c)
{
	curl_easy_cleanup(c->h);
	mh_buf_free(&c->in);
	mh_arena_free(&c->a);
	free(c->columns);
}

/* Starts a new session context on the same connection (the jar is emptied). */
static void ctx_reset(ctx *c, const target *t)
{
	c->t = t;
	curl_easy_setopt(c->h, CURLOPT_COOKIELIST, "ALL");
}

/* One POST; *body (in c->a or c->in) is the response body after the meta block. */
static int ctx_post(ctx *c, const char *type, const mh_buf *req, const uint8_t **body, size_t *len)
{
	char rid[MH_COUNTED_GUID_MAX], h1[96], h2[96], h3[96];
	struct curl_slist *hl = NULL;
	mh_mapihttp_response r;
	memset(&r, 0, sizeof(r));
	mh_mapihttp_counted_guid_format(rid, &c->request_guid, ++c->counter);
	snprintf(h1, sizeof(h1), "X-RequestType: %s", type);
	snprintf(h2, sizeof(h2), "X-RequestId: %s", rid);
	snprintf(h3, sizeof(h3), "X-ClientInfo: %s", rid);
	hl = curl_slist_append(hl, "Content-Type: " MH_MAPIHTTP_CONTENT_TYPE);
	hl = curl_slist_append(hl, "Accept: " MH_MAPIHTTP_CONTENT_TYPE);
	hl = curl_slist_append(hl, "X-ClientApplication: " MH_MAPIHTTP_CLIENT_APPLICATION);
	hl = curl_slist_append(hl, h1);
	hl = curl_slist_append(hl, h2);
	hl = curl_slist_append(hl, h3);
	hl = curl_slist_append(hl, "Expect:");
	c->in.len = 0;
	c->response_code = -1;
	curl_easy_setopt(c->h, CURLOPT_URL, c->t->url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, req->data);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)req->len);
	CURLcode cc = curl_easy_perform(c->h);
	curl_slist_free_all(hl);
	long http = 0;
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &http);
	if (cc != CURLE_OK) {
		fprintf(stderr, "bench_server: %s: %s\n", type,
		        c->err[0] ? c->err : curl_easy_strerror(cc));
		return -1;
	}
	if (http != 200 || c->response_code != 0 || mh_buf_status(&c->in) != S_OK ||
	    mh_mapihttp_response_parse(c->in.data, c->in.len, &c->a, &r) != S_OK) {
		fprintf(stderr, "bench_server: %s: HTTP %ld, X-ResponseCode %ld\n", type, http,
		        c->response_code);
		return -1;
	}
	*body = r.body;
	*len = r.body_len;
	return 0;
}

static int ctx_connect(ctx *c)
{
	mh_buf req = MH_BUF_INIT;
	mh_emsmdb_connect_request q;
	mh_emsmdb_connect_response r;
	const uint8_t *body;
	size_t len;
	mh_cursor cur;
	memset(&q, 0, sizeof(q));
	q.user_dn = c->b->svc_dn;
	q.default_code_page = 1252;
	q.lcid_sort = 0x409;
	q.lcid_string = 0x409;
	mh_emsmdb_connect_request_push(&req, &q);
	int rc = mh_buf_status(&req) == S_OK ? ctx_post(c, "Connect", &req, &body, &len) : -1;
	if (rc == 0) {
		mh_cursor_init(&cur, body, len, MAPI_E_CORRUPT_DATA);
		if (mh_emsmdb_connect_response_pull(&cur, &c->a, &r) != S_OK ||
		    r.status_code != 0 || r.error_code != 0) {
			fprintf(stderr, "bench_server: Connect refused\n");
			rc = -1;
		}
	}
	mh_buf_free(&req);
	mh_arena_free(&c->a);
	return rc;
}

static int ctx_disconnect(ctx *c)
{
	mh_buf req = MH_BUF_INIT;
	mh_emsmdb_disconnect_request q;
	const uint8_t *body;
	size_t len;
	memset(&q, 0, sizeof(q));
	mh_emsmdb_disconnect_request_push(&req, &q);
	int rc = ctx_post(c, "Disconnect", &req, &body, &len);
	mh_buf_free(&req);
	mh_arena_free(&c->a);
	return rc;
}

/* One Execute of the request buffer rb; *out holds the decoded responses (in c->a). */
static int ctx_execute(ctx *c, const mh_rop_request_buffer *rb, mh_rop_response_buffer *out)
{
	mh_buf rops = MH_BUF_INIT, ext = MH_BUF_INIT, req = MH_BUF_INIT;
	mh_emsmdb_execute_request q;
	mh_emsmdb_execute_response r;
	mh_rpc_ext_chain ch;
	const uint8_t *body;
	size_t len;
	mh_cursor cur;
	int rc = -1;
	mh_rop_request_buffer_push(&rops, rb);
	mh_rpc_ext_push(&ext, rops.data, rops.len, NULL);
	memset(&q, 0, sizeof(q));
	q.rop_buffer.data = ext.data;
	q.rop_buffer.len = (uint32_t)ext.len;
	q.max_rop_out = MAX_ROP_OUT;
	if (mh_buf_status(&rops) == S_OK && mh_buf_status(&ext) == S_OK)
		mh_emsmdb_execute_request_push(&req, &q);
	else
		mh_buf_fail(&req, MAPI_E_INVALID_PARAMETER);
	if (mh_buf_status(&req) == S_OK && ctx_post(c, "Execute", &req, &body, &len) == 0) {
		mh_rop_response_ctx rctx = {rb->rops, rb->count, NULL, NULL};
		mh_cursor_init(&cur, body, len, MAPI_E_CORRUPT_DATA);
		if (mh_emsmdb_execute_response_pull(&cur, &c->a, &r) == S_OK &&
		    r.status_code == 0 && r.error_code == 0 &&
		    mh_rpc_ext_decode(r.rop_buffer.data, r.rop_buffer.len, 0, &c->a, 0, &ch) ==
		        S_OK) {
			mh_cursor_init(&cur, ch.data, ch.len, MAPI_E_CORRUPT_DATA);
			if (mh_rop_response_buffer_pull(&cur, &c->a, &rctx, out) == S_OK)
				rc = 0;
		}
		if (rc != 0)
			fprintf(stderr, "bench_server: an Execute answer does not decode\n");
	}
	mh_buf_free(&rops);
	mh_buf_free(&ext);
	mh_buf_free(&req);
	return rc;
}

static int ctx_logon(ctx *c)
{
	mh_rop_request logon;
	uint32_t handle = 0xFFFFFFFFu;
	mh_rop_request_buffer rb = {1, &logon, 1, &handle};
	mh_rop_response_buffer out;
	memset(&logon, 0, sizeof(logon));
	logon.rop_id = MH_ROP_LOGON;
	logon.u.logon.logon_flags = MH_LOGON_FLAG_PRIVATE;
	/* USE_PER_MDB_REPLID_MAPPING | HOME_LOGON | TAKE_OWNERSHIP | NO_MAIL, as Outlook */
	logon.u.logon.open_flags = 0x0100040Cu;
	logon.u.logon.essdn = (char *)(uintptr_t)c->t->essdn;
	int rc = ctx_execute(c, &rb, &out);
	if (rc == 0 &&
	    (out.count != 1 || out.rops[0].return_value != S_OK || out.handle_count < 1)) {
		fprintf(stderr, "bench_server: RopLogon failed: 0x%08" PRIX32 "\n",
		        out.count ? (uint32_t)out.rops[0].return_value : 0);
		rc = -1;
	}
	if (rc == 0) {
		c->logon_handle = out.handles[0];
		c->inbox = out.rops[0].u.logon.folder_ids[MH_LOGON_FID_INBOX];
	}
	mh_arena_free(&c->a);
	return rc;
}

/* OpenFolder(Inbox), GetContentsTable, SetColumns, QueryRows(10), Release x2. */
static int ctx_batch(ctx *c)
{
	mh_rop_request r[6];
	uint32_t handles[3] = {c->logon_handle, 0xFFFFFFFFu, 0xFFFFFFFFu};
	mh_rop_request_buffer rb = {6, r, 3, handles};
	mh_rop_response_buffer out;
	memset(r, 0, sizeof(r));
	r[0].rop_id = MH_ROP_OPEN_FOLDER;
	r[0].in_handle_index = 0;
	r[0].out_handle_index = 1;
	r[0].u.open_folder.folder_id = c->inbox;
	r[1].rop_id = MH_ROP_GET_CONTENTS_TABLE;
	r[1].in_handle_index = 1;
	r[1].out_handle_index = 2;
	r[2].rop_id = MH_ROP_SET_COLUMNS;
	r[2].in_handle_index = 2;
	r[2].u.set_columns.tags = c->columns;
	r[3].rop_id = MH_ROP_QUERY_ROWS;
	r[3].in_handle_index = 2;
	r[3].u.query_rows.forward_read = 1;
	r[3].u.query_rows.row_count = QUERY_ROWS;
	r[4].rop_id = MH_ROP_RELEASE;
	r[4].in_handle_index = 2;
	r[5].rop_id = MH_ROP_RELEASE;
	r[5].in_handle_index = 1;
	int rc = ctx_execute(c, &rb, &out);
	if (rc == 0) {
		/* RopRelease has no response: four answers, all successful. */
		bool ok = out.count == 4 && !out.raw_tail;
		for (uint32_t i = 0; ok && i < out.count; i++)
			ok = out.rops[i].return_value == S_OK;
		if (!ok) {
			fprintf(stderr, "bench_server: the ROP batch failed\n");
			rc = -1;
		}
	}
	mh_arena_free(&c->a);
	return rc;
}

/* ---- Executes per second ----------------------------------------------------------------- */

typedef struct run {
	const bench *b;
	pthread_barrier_t ready;
	atomic_bool stop;
	atomic_bool failed;
} run;

typedef struct worker {
	run *run;
	unsigned index;
	pthread_t thread;
	uint64_t executes;
	double end;
} worker;

static void *execute_worker(void *payload)
{
	worker *w = payload;
	const bench *b = w->run->b;
	ctx c;
	bool ok = ctx_init(&c, b, &b->targets[w->index % USERS], w->index) == 0 &&
	          ctx_connect(&c) == 0 && ctx_logon(&c) == 0;
	if (!ok)
		atomic_store(&w->run->failed, true);
	pthread_barrier_wait(&w->run->ready); /* start together */
	pthread_barrier_wait(&w->run->ready); /* the clock runs */
	while (ok && !atomic_load(&w->run->stop) && !atomic_load(&w->run->failed)) {
		if (ctx_batch(&c) != 0) {
			atomic_store(&w->run->failed, true);
			break;
		}
		w->executes++;
	}
	w->end = now();
	if (ok)
		ctx_disconnect(&c);
	ctx_free(&c);
	return NULL;
}

static int execute_rps(const bench *b, unsigned n)
{
	run r;
	worker *w = calloc(n, sizeof(*w));
	unsigned started = 0;
	if (w == NULL)
		return -1;
	r.b = b;
	atomic_init(&r.stop, false);
	atomic_init(&r.failed, false);
	pthread_barrier_init(&r.ready, NULL, n + 1);
	for (; started < n; started++) {
		w[started].run = &r;
		w[started].index = started;
		if (pthread_create(&w[started].thread, NULL, execute_worker, &w[started]) != 0)
			break;
	}
	if (started < n) {
		fprintf(stderr, "bench_server: cannot start %u threads\n", n);
		abort(); /* the barrier cannot be released without them */
	}
	pthread_barrier_wait(&r.ready);
	double start = now();
	pthread_barrier_wait(&r.ready);
	struct timespec ts = {(time_t)b->opt.duration,
	                      (long)((b->opt.duration - (double)(time_t)b->opt.duration) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	atomic_store(&r.stop, true);
	uint64_t total = 0;
	double end = start;
	for (unsigned i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		total += w[i].executes;
		if (w[i].end > end)
			end = w[i].end;
	}
	pthread_barrier_destroy(&r.ready);
	free(w);
	if (atomic_load(&r.failed))
		return -1;
	printf("execute_rps contexts=%u value=%.0f\n", n, (double)total / (end - start));
	printf("execute_latency_us contexts=%u value=%.0f\n", n,
	       total ? (end - start) * 1e6 * n / (double)total : 0.0);
	fflush(stdout);
	return 0;
}

/* ---- peak RSS with many contexts open ------------------------------------------------------ */

typedef struct opener {
	const bench *b;
	unsigned first, count;
	pthread_t thread;
	int rc;
} opener;

/* Opens contexts first..first+count-1 (Connect + RopLogon each) and leaves them open. */
static void *open_worker(void *payload)
{
	opener *o = payload;
	ctx c;
	o->rc = ctx_init(&c, o->b, &o->b->targets[o->first % USERS], o->first);
	for (unsigned i = 0; o->rc == 0 && i < o->count; i++) {
		ctx_reset(&c, &o->b->targets[(o->first + i) % USERS]);
		o->rc = ctx_connect(&c) == 0 && ctx_logon(&c) == 0 ? 0 : -1;
	}
	ctx_free(&c);
	return NULL;
}

static int peak_rss(const bench *b, unsigned contexts)
{
	opener o[OPEN_THREADS];
	int rc = 0;
	printf("rss_kib contexts=0 value=%lu\n", server_kib(b, "VmRSS:"));
	for (unsigned i = 0; i < OPEN_THREADS; i++) {
		o[i].b = b;
		o[i].first = contexts * i / OPEN_THREADS;
		o[i].count = contexts * (i + 1) / OPEN_THREADS - o[i].first;
		if (pthread_create(&o[i].thread, NULL, open_worker, &o[i]) != 0) {
			o[i].rc = -1;
			o[i].count = 0;
		}
	}
	for (unsigned i = 0; i < OPEN_THREADS; i++) {
		if (o[i].count > 0)
			pthread_join(o[i].thread, NULL);
		rc |= o[i].rc;
	}
	if (rc != 0)
		return -1;
	printf("peak_rss_kib contexts=%u value=%lu\n", contexts, server_kib(b, "VmHWM:"));
	fflush(stdout);
	return 0;
}

/* ---- main ------------------------------------------------------------------------------------ */

static const char usage[] =
    "usage: bench_server [--duration SECONDS] [--contexts N] [--quick] [--server PATH]\n"
    "  --duration SECONDS  time per Execute figure (default 3)\n"
    "  --contexts N        contexts opened for the peak RSS figure (default 1000)\n"
    "  --quick             0.5 s per figure, 1 and 8 contexts, 100 contexts for RSS\n"
    "  --server PATH       the mapihttpd binary (default: the one built with this)\n";

static int parse_args(int argc, char **argv, options *o)
{
	o->server = MH_SERVER_PATH;
	o->duration = 3.0;
	o->rss_contexts = 1000;
	o->concurrency[0] = 1;
	o->concurrency[1] = 8;
	o->concurrency[2] = 64;
	o->n_concurrency = 3;
	for (int i = 1; i < argc; i++) {
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--quick") == 0) {
			o->duration = 0.5;
			o->rss_contexts = 100;
			o->n_concurrency = 2;
		} else if (strcmp(argv[i], "--duration") == 0 && next != NULL) {
			o->duration = strtod(next, NULL);
			i++;
		} else if (strcmp(argv[i], "--contexts") == 0 && next != NULL) {
			o->rss_contexts = (unsigned)strtoul(next, NULL, 10);
			i++;
		} else if (strcmp(argv[i], "--server") == 0 && next != NULL) {
			o->server = next;
			i++;
		} else {
			fputs(usage, strcmp(argv[i], "--help") == 0 ? stdout : stderr);
			return strcmp(argv[i], "--help") == 0 ? 1 : 2;
		}
	}
	if (!(o->duration > 0.0 && o->duration <= 3600.0) || o->rss_contexts == 0 ||
	    o->rss_contexts > 100000) {
		fputs(usage, stderr);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	bench *b = calloc(1, sizeof(*b)); /* large: the names of every mailbox */
	if (b == NULL)
		return 1;
	int rc = parse_args(argc, argv, &b->opt);
	if (rc != 0) {
		free(b);
		return rc == 1 ? 0 : rc;
	}
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(b);
		return 1;
	}
	rc = server_start(b) == 0 && load_targets(b) == 0 ? 0 : 1;
	if (rc == 0 && peak_rss(b, b->opt.rss_contexts) != 0)
		rc = 1;
	for (size_t i = 0; rc == 0 && i < b->opt.n_concurrency; i++)
		if (execute_rps(b, b->opt.concurrency[i]) != 0)
			rc = 1;
	server_stop(b);
	curl_global_cleanup();
	free(b);
	return rc;
}
