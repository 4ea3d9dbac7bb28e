/*
 * Throughput of the LZ77 codec and XorMagic on four 32 KiB payloads, with
 * memcpy of the same buffers as a ceiling. Prints one figure per line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/rop.h"
#include "lz77_byteloop.h"
#include "mapihttp/lz77.h"
#include "mapihttp/status.h"

#define PAYLOAD 32768
#define SECONDS 0.5

static volatile uint8_t sink;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

static void put_le(uint8_t *p, size_t *i, size_t cap, uint64_t v, int n)
{
	for (int k = 0; k < n && *i < cap; k++)
		p[(*i)++] = (uint8_t)(v >> (8 * k));
}

/*
 * A RopQueryRows response: per row a PropertyRow flag, a UTF-16LE subject,
 * two FILETIMEs, three int32s and a 46-byte folder EntryID with a common
 * prefix, as a contents table with a few columns returns them.
 */
static void make_rop(uint8_t *p, size_t cap)
{
	static const char *const pre[] = {"Re: ", "Fw: ", "", "RE: "};
	static const char *const topic[] = {"Quarterly report", "Budget review", "Team meeting",
	                                    "Project status", "Travel request"};
	static const uint8_t eid_prefix[38] = {
	    0x00, 0x00, 0x00, 0x00, 0x1B, 0x55, 0xFA, 0x20, 0xAA, 0x66, 0x11, 0xCD, 0x9B,
	    0xC8, 0x00, 0xAA, 0x00, 0x2F, 0xC4, 0x5A, 0x01, 0x00, 0x5A, 0x3F, 0x21, 0x0B,
	    0x8E, 0x4C, 0x41, 0x9A, 0x0D, 0x63, 0x77, 0xE0, 0x21, 0x44, 0x00, 0x00};
	uint64_t s = 1;
	size_t i = 0;
	uint64_t ft = 0x01DA5E0C4B3A0000u;
	p[i++] = 0x15; /* RopId QueryRows */
	p[i++] = 0x01; /* output handle index */
	put_le(p, &i, cap, 0, 4);
	p[i++] = 0x02; /* Origin */
	put_le(p, &i, cap, 0x0140, 2);
	while (i < cap) {
		char subj[64];
		int n = snprintf(subj, sizeof(subj), "%s%s %u", pre[rng_next(&s) % 4],
		                 topic[rng_next(&s) % 5], (unsigned)(rng_next(&s) % 10000));
		if (i < cap)
			p[i++] = 0x00; /* standard PropertyRow */
		for (int k = 0; k <= n; k++)
			put_le(p, &i, cap, (uint8_t)subj[k], 2);
		ft += 600000000u + rng_next(&s) % 36000000000u;
		put_le(p, &i, cap, ft, 8);
		put_le(p, &i, cap, ft + rng_next(&s) % 50000000u, 8);
		put_le(p, &i, cap, 1000 + rng_next(&s) % 90000, 4);  /* PR_MESSAGE_SIZE */
		put_le(p, &i, cap, rng_next(&s) % 3 ? 0x1 : 0x3, 4); /* PR_MESSAGE_FLAGS */
		put_le(p, &i, cap, 1, 4);                            /* PR_IMPORTANCE */
		put_le(p, &i, cap, 46, 2);
		for (size_t k = 0; k < sizeof(eid_prefix) && i < cap; k++)
			p[i++] = eid_prefix[k];
		put_le(p, &i, cap, 0x000000000001u + rng_next(&s) % 0x400, 6); /* counter */
		put_le(p, &i, cap, 0, 2);
	}
}

/* Deterministic pseudo-English: sentences of common words. */
static void make_text(uint8_t *p, size_t cap)
{
	static const char *const words[] = {
	    "the",     "of",         "and",    "to",       "in",       "is",      "that",
	    "for",     "it",         "as",     "was",      "with",     "be",      "by",
	    "on",      "not",        "he",     "this",     "are",      "or",      "his",
	    "from",    "at",         "which",  "but",      "have",     "an",      "had",
	    "they",    "you",        "were",   "their",    "one",      "all",     "we",
	    "can",     "her",        "has",    "there",    "been",     "if",      "more",
	    "when",    "will",       "would",  "who",      "so",       "no",      "report",
	    "meeting", "budget",     "please", "attached", "review",   "team",    "project",
	    "quarter", "results",    "office", "market",   "customer", "account", "number",
	    "service", "time",       "people", "year",     "way",      "day",     "man",
	    "thing",   "woman",      "life",   "child",    "world",    "school",  "state",
	    "family",  "student",    "group",  "country",  "problem",  "hand",    "part",
	    "place",   "case",       "week",   "company",  "system",   "program", "question",
	    "work",    "government", "night",  "point",    "home"};
	const size_t nw = sizeof(words) / sizeof(words[0]);
	uint64_t s = 2;
	size_t i = 0, in_sentence = 0;
	while (i < cap) {
		/* Zipf-like: small indexes far more often. */
		uint64_t r = rng_next(&s);
		size_t w = (size_t)((r % nw) * ((r >> 32) % nw) / nw);
		const char *word = words[w];
		for (size_t k = 0; word[k] != '\0' && i < cap; k++) {
			char c = word[k];
			if (in_sentence == 0 && k == 0)
				c = (char)(c - 'a' + 'A');
			p[i++] = (uint8_t)c;
		}
		in_sentence++;
		if (i >= cap)
			break;
		if (in_sentence > 6 && rng_next(&s) % 8 == 0) {
			p[i++] = '.';
			in_sentence = 0;
		} else if (rng_next(&s) % 15 == 0) {
			p[i++] = ',';
		}
		if (i < cap)
			p[i++] = ' ';
	}
}

static void make_random(uint8_t *p, size_t cap)
{
	uint64_t s = 3;
	for (size_t i = 0; i < cap; i++)
		p[i] = (uint8_t)rng_next(&s);
}

/* How many calls of fn take about SECONDS / 20. */
static size_t calibrate(void (*fn)(void *, size_t), void *arg)
{
	size_t iters = 1;
	for (;;) {
		double t0 = now();
		for (size_t k = 0; k < iters; k++)
			fn(arg, k);
		if (now() - t0 >= SECONDS / 20)
			return iters;
		iters *= 2;
	}
}

/* Calls per second of one slice of iters calls. */
static double slice(void (*fn)(void *, size_t), void *arg, size_t iters)
{
	double t0 = now();
	for (size_t k = 0; k < iters; k++)
		fn(arg, k);
	return (double)iters / (now() - t0);
}

/* The best of n slices of fn, in calls per second. */
static double best_of(void (*fn)(void *, size_t), void *arg, int n)
{
	size_t iters = calibrate(fn, arg);
	double best = 0;
	for (int k = 0; k < n; k++) {
		double rate = slice(fn, arg, iters);
		if (rate > best)
			best = rate;
	}
	return best;
}

/*
 * Calls fn for about SECONDS seconds in ten slices and returns the best
 * slice's calls per second. Time is this thread's CPU time and the best
 * slice is kept, so other work on a shared machine disturbs the figures as
 * little as possible.
 */
static double timed(void (*fn)(void *, size_t), void *arg)
{
	return best_of(fn, arg, 10);
}

/*
 * timed() for n functions whose speeds are compared (fn[k] called with
 * arg[k]), twenty slices of each in turn: a slower or faster spell of a
 * shared machine then falls on all alike rather than on whichever happened
 * to run in it. rate[k] gets fn[k]'s best slice.
 */
static void timed_alternating(void (*const fn[])(void *, size_t), void *const arg[], size_t n,
                              double rate[])
{
	size_t iters[4];
	if (n > sizeof(iters) / sizeof(iters[0]))
		abort(); /* a caller's mistake */
	for (size_t f = 0; f < n; f++) {
		iters[f] = calibrate(fn[f], arg[f]);
		rate[f] = 0;
	}
	for (int k = 0; k < 20; k++)
		for (size_t f = 0; f < n; f++) {
			double r = slice(fn[f], arg[f], iters[f]);
			if (r > rate[f])
				rate[f] = r;
		}
}

typedef struct {
	const uint8_t *src; /* the payload */
	const uint8_t *alt; /* another payload, for memcpy */
	uint8_t *comp;      /* its compressed form */
	size_t clen;        /* compressed size */
	size_t comp_cap;    /* room in comp */
	uint8_t *out;       /* PAYLOAD bytes of scratch */
	mh_status last;     /* status of the last call */
	mh_lz77_ref_fn ref; /* the byte loop's copy to run */
} job;

static void run_decompress(void *arg, size_t k)
{
	job *j = arg;
	size_t n = 0;
	j->last = mh_lz77_decompress(j->out, PAYLOAD, j->comp, j->clen, &n);
	sink = j->out[k & (PAYLOAD - 1)];
}

/* The byte-loop class: MS-XCA's loop one byte at a time, bounds-checked (lz77_byteloop.c). */
static void run_byteloop(void *arg, size_t k)
{
	job *j = arg;
	size_t n = 0;
	j->last =
	    j->ref(j->comp, j->clen, j->out, PAYLOAD, &n, NULL) == 0 ? S_OK : MAPI_E_CORRUPT_DATA;
	sink = j->out[k & (PAYLOAD - 1)];
}

/*
 * Points j->ref at the fastest of a byte loop's copies on j's payload (the
 * best of three slices each) and returns the slowest copy's calls per second.
 */
static double pick_byteloop(job *j, const mh_lz77_ref_fn *copies)
{
	double fastest = 0, slowest = 0;
	mh_lz77_ref_fn best = copies[0];
	for (size_t c = 0; c < mh_lz77_ref_ncopies; c++) {
		j->ref = copies[c];
		double rate = best_of(run_byteloop, j, 3);
		if (rate > fastest) {
			fastest = rate;
			best = j->ref;
		}
		if (c == 0 || rate < slowest)
			slowest = rate;
	}
	j->ref = best;
	return slowest;
}

static void run_compress(void *arg, size_t k)
{
	job *j = arg;
	size_t n = 0;
	j->last = mh_lz77_compress(j->out, j->comp_cap, j->src, PAYLOAD, &n);
	sink = j->out[k & 1023];
}

/* What a sender does first: is the payload worth compressing at all? */
static void run_probe(void *arg, size_t k)
{
	job *j = arg;
	size_t n = 0;
	j->last = mh_lz77_compress(j->out, PAYLOAD - 1, j->src, PAYLOAD, &n);
	sink = j->out[k & 1023];
}

static void run_xor(void *arg, size_t k)
{
	job *j = arg;
	mh_xor_magic(j->out, PAYLOAD);
	sink = j->out[k & (PAYLOAD - 1)];
}

static void run_memcpy(void *arg, size_t k)
{
	job *j = arg;
	memcpy(j->out, (k & 1) ? j->alt : j->src, PAYLOAD);
	sink = j->out[k & (PAYLOAD - 1)];
}

/*
 * RopQueryRows decoding: a response of about 32 KiB of contents-table rows
 * (UTF-16 subject, two PtypTime, three int32, a 46-byte binary EntryID),
 * built with the encoder, then decoded with its columns into an arena.
 */
static const uint32_t qr_tags[] = {0x0037001Fu, 0x0E060040u, 0x30080040u, 0x0E080003u,
                                   0x0E070003u, 0x00170003u, 0x0FFF0102u};
#define QR_COLS (sizeof(qr_tags) / sizeof(qr_tags[0]))

typedef struct {
	const SPropTagArray *cols;
	const uint8_t *data;
	size_t len;
	mh_status last;
	uint16_t rows;
} qr_job;

static void run_query_rows(void *arg, size_t k)
{
	qr_job *j = arg;
	mh_arena a;
	mh_cursor c;
	mh_rop_response r;
	mh_rop_response_hint hint = {NULL, j->cols};
	mh_arena_init(&a, 0);
	mh_cursor_init(&c, j->data, j->len, MAPI_E_CORRUPT_DATA);
	j->last = mh_rop_response_pull(&c, &a, &hint, &r);
	if (j->last == S_OK)
		sink =
		    (uint8_t)r.u.query_rows.rows[k % r.u.query_rows.row_count].lpProps[3].Value.l;
	mh_arena_free(&a);
}

static int bench_query_rows(void)
{
	static const char *const topic[] = {"Quarterly report", "Budget review", "Team meeting",
	                                    "Project status", "Travel request"};
	static uint8_t eid[400][46];
	static char subj[400][64];
	static SPropValue props[400][QR_COLS];
	static mh_prop_row rows[400];
	static struct {
		uint32_t cValues;
		uint32_t aulPropTag[QR_COLS];
	} cols;
	uint64_t s = 5, ft = 0x01DA5E0C4B3A0000u;
	mh_buf b = MH_BUF_INIT;
	mh_rop_response r;
	unsigned n = 0;

	cols.cValues = QR_COLS;
	memcpy(cols.aulPropTag, qr_tags, sizeof(qr_tags));
	memset(&r, 0, sizeof(r));
	r.rop_id = MH_ROP_QUERY_ROWS;
	r.handle_index = 1;
	r.u.query_rows.origin = 1;
	r.u.query_rows.columns = (const SPropTagArray *)(const void *)&cols;
	r.u.query_rows.rows = rows;
	/* Add rows while the encoded response stays within 32 KiB. */
	for (; n < 400; n++) {
		SPropValue *p = props[n];
		snprintf(subj[n], sizeof(subj[n]), "%s%s %u",
		         rng_next(&s) % 3 ? "" : "RE: ", topic[rng_next(&s) % 5],
		         (unsigned)(rng_next(&s) % 10000));
		memset(eid[n], 0, sizeof(eid[n]));
		for (int k = 4; k < 46; k++)
			eid[n][k] = (uint8_t)(k < 38 ? (uint64_t)(0x40 + k) : rng_next(&s));
		ft += 600000000u + rng_next(&s) % 36000000000u;
		for (unsigned k = 0; k < QR_COLS; k++)
			p[k].ulPropTag = qr_tags[k];
		p[0].Value.lpszW = subj[n];
		p[1].Value.ft.dwLowDateTime = (uint32_t)ft;
		p[1].Value.ft.dwHighDateTime = (uint32_t)(ft >> 32);
		p[2].Value.ft = p[1].Value.ft;
		p[3].Value.l = (int32_t)(1000 + rng_next(&s) % 90000);
		p[4].Value.l = rng_next(&s) % 3 ? 1 : 3;
		p[5].Value.l = 1;
		p[6].Value.bin.cb = 46;
		p[6].Value.bin.lpb = eid[n];
		rows[n].flag = 0;
		rows[n].cValues = QR_COLS;
		rows[n].lpProps = p;
		r.u.query_rows.row_count = (uint16_t)(n + 1);
		b.len = 0;
		mh_rop_response_push(&b, &r);
		if (mh_buf_status(&b) != S_OK) {
			fprintf(stderr, "query_rows: encoding failed\n");
			return 1;
		}
		if (b.len > PAYLOAD)
			break;
	}
	r.u.query_rows.row_count = (uint16_t)n;
	b.len = 0;
	mh_rop_response_push(&b, &r);
	qr_job j = {r.u.query_rows.columns, b.data, b.len, S_OK, (uint16_t)n};
	run_query_rows(&j, 0);
	if (j.last != S_OK) {
		fprintf(stderr, "query_rows: decoding failed\n");
		mh_buf_free(&b);
		return 1;
	}
	double calls = timed(run_query_rows, &j);
	printf("rop_query_rows_decode: %.0f rows/s (%u rows, %zu bytes per response, %.1f MB/s)\n",
	       calls * n, n, b.len, calls * (double)b.len / 1e6);
	mh_buf_free(&b);
	return 0;
}

int main(void)
{
	static const char *const names[] = {"rop", "text", "random", "zeros"};
	static uint8_t in[4][PAYLOAD];
	static uint8_t comp[PAYLOAD + PAYLOAD / 8 + 64];
	static uint8_t out[PAYLOAD + PAYLOAD / 8 + 64];
	make_rop(in[0], PAYLOAD);
	make_text(in[1], PAYLOAD);
	make_random(in[2], PAYLOAD);
	memset(in[3], 0, PAYLOAD);

	for (int b = 0; b < 4; b++) {
		job j = {in[b], in[(b + 1) % 4], comp, 0, sizeof(comp), out, S_OK, NULL};
		size_t dlen = 0;
		if (mh_lz77_compress(comp, sizeof(comp), j.src, PAYLOAD, &j.clen) != S_OK ||
		    mh_lz77_decompress(out, PAYLOAD, comp, j.clen, &dlen) != S_OK ||
		    dlen != PAYLOAD || memcmp(out, j.src, PAYLOAD) != 0) {
			fprintf(stderr, "%s: round trip failed\n", names[b]);
			return 1;
		}
		const double mb = PAYLOAD / 1e6;
		printf("lz77_ratio %s: %.3f (%d -> %zu bytes)\n", names[b],
		       (double)j.clen / PAYLOAD, PAYLOAD, j.clen);
		/* Ours, then the byte loop checking each match once, then the one
		 * checking each byte: each loop at its fastest placement. */
		job jb = j;
		double worst[3] = {0, pick_byteloop(&j, mh_lz77_ref_copies) * mb,
		                   pick_byteloop(&jb, mh_lz77_ref_per_byte_copies) * mb};
		void (*const fn[3])(void *, size_t) = {run_decompress, run_byteloop, run_byteloop};
		void *const arg[3] = {&j, &j, &jb};
		double rate[3];
		timed_alternating(fn, arg, 3, rate);
		if (j.last != S_OK || jb.last != S_OK) {
			fprintf(stderr, "%s: a decoder failed while timed\n", names[b]);
			return 1;
		}
		for (int k = 0; k < 3; k++)
			rate[k] *= mb;
		printf("lz77_decompress %s: %.1f MB/s\n", names[b], rate[0]);
		static const char *const loops[] = {"", "lz77_decompress_byteloop",
		                                    "lz77_decompress_byteloop_per_byte"};
		for (int k = 1; k < 3; k++)
			printf(
			    "%s %s: %.1f MB/s (ours %.2fx faster; its best of %zu code placements, "
			    "the worst made %.1f)\n",
			    loops[k], names[b], rate[k], rate[0] / rate[k], mh_lz77_ref_ncopies,
			    worst[k]);
		printf("lz77_compress %s: %.1f MB/s\n", names[b], timed(run_compress, &j) * mb);
		double r = timed(run_probe, &j) * mb;
		printf("lz77_compress_probe %s: %.1f MB/s (%s)\n", names[b], r,
		       j.last == S_OK ? "compressed" : "not worth it");
		printf("xor_magic %s: %.1f MB/s\n", names[b], timed(run_xor, &j) * mb);
		printf("memcpy %s: %.1f MB/s\n", names[b], timed(run_memcpy, &j) * mb);
	}
	return bench_query_rows();
}
