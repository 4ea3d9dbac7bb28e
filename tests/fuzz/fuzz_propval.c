/*
 * Round-trip fuzz target for the property value codec: whatever pulls must
 * push, pull again to an equal structure and push to the same bytes.
 * Byte 0 picks the flavour (bit 0) and what to decode (bits 1-3).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/propval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps one input's decoded size bounded so the fuzzer stays fast. */
#define ARENA_CAP ((size_t)1 << 20)

static const uint16_t types[] = {
    PT_NULL,       PT_I2,         PT_LONG,       PT_R4,          PT_DOUBLE,     PT_CURRENCY,
    PT_APPTIME,    PT_ERROR,      PT_BOOLEAN,    PT_OBJECT,      PT_I8,         PT_STRING8,
    PT_UNICODE,    PT_SYSTIME,    PT_CLSID,      PT_SVREID,      PT_BINARY,     PT_MV_I2,
    PT_MV_LONG,    PT_MV_R4,      PT_MV_DOUBLE,  PT_MV_CURRENCY, PT_MV_APPTIME, PT_MV_I8,
    PT_MV_STRING8, PT_MV_UNICODE, PT_MV_SYSTIME, PT_MV_CLSID,    PT_MV_BINARY,  PT_UNSPECIFIED};
#define N_TYPES (sizeof(types) / sizeof(types[0]))

enum { M_VALUE, M_TYPED, M_LIST, M_ROW, M_TAGS, M_PROBLEMS, M_LTID, M_COUNT };

typedef struct decoded {
	mh_arena arena;
	uint16_t type;
	union _PV v;
	SPropValue pv;
	uint32_t n;
	SPropValue *list;
	mh_prop_row row;
	SPropTagArray *tags;
	uint16_t pn;
	mh_prop_problem *problems;
	mh_long_term_id lt;
} decoded;

typedef struct spec {
	mh_pv_flavor fl;
	int mode;
	unsigned width;
	uint16_t type;
	const SPropTagArray *cols;
} spec;

static mh_status pull(const spec *s, const uint8_t *p, size_t n, decoded *d)
{
	mh_cursor c;
	mh_status st;
	mh_cursor_init(&c, p, n, MAPI_E_CORRUPT_DATA);
	switch (s->mode) {
	case M_VALUE:
		st = mh_pv_value_pull(&c, &d->arena, s->fl, s->type, &d->v, NULL);
		break;
	case M_TYPED:
		st = mh_pv_typed_pull(&c, &d->arena, s->fl, &d->pv);
		break;
	case M_LIST:
		st = mh_pv_list_pull(&c, &d->arena, s->fl, s->width, &d->n, &d->list);
		break;
	case M_ROW:
		st = mh_pv_row_pull(&c, &d->arena, s->fl, s->cols, &d->row);
		break;
	case M_TAGS:
		st = mh_pv_tags_pull(&c, &d->arena, s->width, 100000, &d->tags);
		break;
	case M_PROBLEMS:
		st = mh_pv_problems_pull(&c, &d->arena, &d->pn, &d->problems);
		break;
	default:
		st = mh_long_term_id_pull(&c, &d->lt);
		break;
	}
	if (st == S_OK && c.pos > c.len)
		abort();
	return st;
}

static void push(const spec *s, const decoded *d, mh_buf *b)
{
	switch (s->mode) {
	case M_VALUE:
		mh_pv_value_push(b, s->fl, s->type, &d->v);
		break;
	case M_TYPED:
		mh_pv_typed_push(b, s->fl, &d->pv);
		break;
	case M_LIST:
		mh_pv_list_push(b, s->fl, s->width, d->n, d->list);
		break;
	case M_ROW:
		mh_pv_row_push(b, s->fl, s->cols, &d->row);
		break;
	case M_TAGS:
		mh_pv_tags_push(b, s->width, d->tags);
		break;
	case M_PROBLEMS:
		mh_pv_problems_push(b, d->pn, d->problems);
		break;
	default:
		mh_long_term_id_push(b, &d->lt);
		break;
	}
}

static bool prop_equal(const SPropValue *x, const SPropValue *y)
{
	return x->ulPropTag == y->ulPropTag &&
	       mh_pv_value_equal((uint16_t)PROP_TYPE(x->ulPropTag), &x->Value, &y->Value);
}

static bool equal(const spec *s, const decoded *x, const decoded *y)
{
	switch (s->mode) {
	case M_VALUE:
		return mh_pv_value_equal(s->type, &x->v, &y->v);
	case M_TYPED:
		return prop_equal(&x->pv, &y->pv);
	case M_LIST:
		if (x->n != y->n)
			return false;
		for (uint32_t i = 0; i < x->n; i++)
			if (!prop_equal(&x->list[i], &y->list[i]))
				return false;
		return true;
	case M_ROW:
		if (x->row.flag != y->row.flag || x->row.cValues != y->row.cValues)
			return false;
		for (uint32_t i = 0; i < x->row.cValues; i++) {
			if (!prop_equal(&x->row.lpProps[i], &y->row.lpProps[i]))
				return false;
			if (x->row.flag && x->row.colflags[i] != y->row.colflags[i])
				return false;
		}
		return true;
	case M_TAGS:
		return x->tags->cValues == y->tags->cValues &&
		       memcmp(x->tags->aulPropTag, y->tags->aulPropTag,
		              x->tags->cValues * sizeof(uint32_t)) == 0;
	case M_PROBLEMS:
		if (x->pn != y->pn)
			return false;
		for (uint16_t i = 0; i < x->pn; i++)
			if (x->problems[i].index != y->problems[i].index ||
			    x->problems[i].tag != y->problems[i].tag ||
			    x->problems[i].err != y->problems[i].err)
				return false;
		return true;
	default:
		return memcmp(&x->lt.database_guid, &y->lt.database_guid, sizeof(GUID)) == 0 &&
		       x->lt.global_counter == y->lt.global_counter && x->lt.pad == y->lt.pad;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	spec s;
	decoded *d1, *d2;
	mh_buf b1 = MH_BUF_INIT, b2 = MH_BUF_INIT;
	SPropTagArray *cols = NULL;
	size_t o = 1;

	if (size < 1)
		return 0;
	memset(&s, 0, sizeof(s));
	s.fl = (data[0] & 1) ? MH_PV_NSPI : MH_PV_ROP;
	s.mode = ((data[0] >> 1) & 7) % M_COUNT;
	s.width = (data[0] & 0x10) ? 4 : 2;
	switch (s.mode) {
	case M_VALUE:
		/* Raw type: unknown codes must fail cleanly too. */
		if (size < 3)
			return 0;
		s.type = (uint16_t)(data[1] | (data[2] << 8));
		o = 3;
		break;
	case M_ROW: {
		/* Column set: count, then per column a type index and a modifier. */
		if (size < 2)
			return 0;
		uint32_t n = data[1] % 9;
		o = 2;
		if (size < o + 2 * (size_t)n)
			return 0;
		cols = malloc(CbNewSPropTagArray(8));
		if (cols == NULL)
			abort();
		cols->cValues = n;
		for (uint32_t i = 0; i < n; i++) {
			uint16_t t = types[data[o] % N_TYPES];
			if ((data[o + 1] & 3) == 3 && t != PT_UNSPECIFIED)
				t |= MVI_FLAG; /* also makes invalid ones such as MVI of MV */
			cols->aulPropTag[i] = PROP_TAG(t, 0x3000 + i);
			o += 2;
		}
		s.cols = cols;
		break;
	}
	default:
		break;
	}

	d1 = calloc(1, sizeof(*d1));
	d2 = calloc(1, sizeof(*d2));
	if (d1 == NULL || d2 == NULL)
		abort();
	mh_arena_init(&d1->arena, ARENA_CAP);
	mh_arena_init(&d2->arena, ARENA_CAP);

	if (pull(&s, data + o, size - o, d1) == S_OK) {
		push(&s, d1, &b1);
		if (mh_buf_status(&b1) != S_OK)
			abort(); /* whatever decodes must encode */
		if (pull(&s, b1.data, b1.len, d2) != S_OK)
			abort();
		if (!equal(&s, d1, d2))
			abort();
		push(&s, d2, &b2);
		if (mh_buf_status(&b2) != S_OK || b2.len != b1.len ||
		    (b1.len > 0 && memcmp(b1.data, b2.data, b1.len) != 0))
			abort();
	}
	mh_buf_free(&b1);
	mh_buf_free(&b2);
	mh_arena_free(&d1->arena);
	mh_arena_free(&d2->arena);
	free(d1);
	free(d2);
	free(cols);
	return 0;
}
