/*
 * MAPI restriction trees: pull from an mh_cursor into an mh_arena and push
 * to an mh_buf, in the ROP layout and the MAPI/HTTP NSPI layout.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec/restriction.h"
#include "util/diag.h"

static const char *const type_names[] = {
    [RES_AND] = "AndRestriction",           [RES_OR] = "OrRestriction",
    [RES_NOT] = "NotRestriction",           [RES_CONTENT] = "ContentRestriction",
    [RES_PROPERTY] = "PropertyRestriction", [RES_COMPAREPROPS] = "ComparePropertiesRestriction",
    [RES_BITMASK] = "BitMaskRestriction",   [RES_SIZE] = "SizeRestriction",
    [RES_EXIST] = "ExistRestriction",       [RES_SUBRESTRICTION] = "SubObjectRestriction",
    [RES_COMMENT] = "CommentRestriction",   [RES_COUNT] = "CountRestriction",
};
#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))

/*
 * The fewest bytes one restriction takes, in either layout: an empty
 * CommentRestriction (type, TaggedValuesCount 0, RestrictionPresent 0), or
 * an empty ROP And/Or. Bounds a RestrictCount before anything is allocated.
 */
#define MIN_RESTRICTION 3u

/* A TaggedPropertyValue is at least its 4-byte tag. */
#define MIN_TAGGED 4u

/* Puts "<Type>.<field>" in buf for cursor messages. */
static const char *fname(char *buf, size_t cap, uint8_t rt, const char *field)
{
	snprintf(buf, cap, "%s.%s", type_names[rt], field);
	return buf;
}

/* Fails unless count elements of at least min bytes each can still follow. */
static mh_status check_count(mh_cursor *c, uint32_t count, size_t min, const char *field,
                             size_t count_at)
{
	size_t left = mh_cursor_remaining(c);
	if (count <= left / min)
		return S_OK;
	return mh_error_set(c->err, (int64_t)count_at,
	                    "%s at byte %zu is %lu, but only %zu bytes follow (at least %zu per "
	                    "element)",
	                    field, count_at, (unsigned long)count, left, min);
}

static mh_status pull_node(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, mh_restriction *r);

/* A child restriction in its own arena block. */
static mh_status pull_child(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, mh_restriction **out)
{
	void *p;
	mh_status st = mh_arena_alloc(a, sizeof(mh_restriction), &p);
	*out = NULL;
	if (st != S_OK)
		return st;
	*out = p;
	return pull_node(c, a, fl, *out);
}

static mh_status pull_tagged(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, uint8_t rt,
                             const char *field, SPropValue *pv)
{
	size_t at = mh_cursor_offset(c);
	mh_status st = mh_pv_tagged_pull(c, a, fl, pv);
	if (st != S_OK)
		return mh_error_prefix(st, "%s.%s at byte %zu", type_names[rt], field, at);
	return S_OK;
}

static mh_status pull_and_or(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, mh_restriction *r)
{
	char fb[64];
	const char *field = fname(fb, sizeof(fb), r->rt, "RestrictCount");
	size_t at = mh_cursor_offset(c);
	uint32_t n;
	void *arr;
	mh_status st;

	if (fl == MH_PV_NSPI) {
		st = mh_cursor_u32(c, &n, field);
	} else {
		uint16_t n16 = 0;
		st = mh_cursor_u16(c, &n16, field);
		n = n16;
	}
	if (st != S_OK)
		return st;
	if ((st = check_count(c, n, MIN_RESTRICTION, field, at)) != S_OK)
		return st;
	r->u.and_or.count = n;
	if (n == 0)
		return S_OK;
	if ((st = mh_arena_array(a, n, sizeof(mh_restriction), &arr)) != S_OK)
		return st;
	r->u.and_or.res = arr;
	for (uint32_t i = 0; i < n; i++) {
		if ((st = pull_node(c, a, fl, &r->u.and_or.res[i])) != S_OK)
			return st;
	}
	return S_OK;
}

static mh_status pull_comment(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, mh_restriction *r)
{
	char fb[64];
	const char *field = fname(fb, sizeof(fb), RES_COMMENT, "TaggedValuesCount");
	size_t at = mh_cursor_offset(c);
	uint8_t n, present;
	void *arr;
	mh_status st;

	if ((st = mh_cursor_u8(c, &n, field)) != S_OK ||
	    (st = check_count(c, n, MIN_TAGGED, field, at)) != S_OK)
		return st;
	r->u.comment.count = n;
	if (n > 0) {
		if ((st = mh_arena_array(a, n, sizeof(SPropValue), &arr)) != S_OK)
			return st;
		r->u.comment.props = arr;
		for (unsigned i = 0; i < n; i++) {
			char vf[32];
			snprintf(vf, sizeof(vf), "TaggedValues[%u]", i);
			if ((st = pull_tagged(c, a, fl, RES_COMMENT, vf, &r->u.comment.props[i])) !=
			    S_OK)
				return st;
		}
	}
	field = fname(fb, sizeof(fb), RES_COMMENT, "RestrictionPresent");
	if ((st = mh_cursor_u8(c, &present, field)) != S_OK)
		return st;
	if (present == 0)
		return S_OK;
	return pull_child(c, a, fl, &r->u.comment.res);
}

static mh_status pull_body(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, mh_restriction *r)
{
	char fb[64];
	mh_status st;
	uint8_t rt = r->rt;

	switch (rt) {
	case RES_AND:
	case RES_OR:
		return pull_and_or(c, a, fl, r);
	case RES_NOT:
		return pull_child(c, a, fl, &r->u.not_.res);
	case RES_CONTENT: {
		uint16_t lo, hi;
		if ((st = mh_cursor_u16(c, &lo, fname(fb, sizeof(fb), rt, "FuzzyLevelLow"))) !=
		        S_OK ||
		    (st = mh_cursor_u16(c, &hi, fname(fb, sizeof(fb), rt, "FuzzyLevelHigh"))) !=
		        S_OK ||
		    (st = mh_cursor_u32(c, &r->u.content.prop_tag,
		                        fname(fb, sizeof(fb), rt, "PropertyTag"))) != S_OK)
			return st;
		r->u.content.fuzzy_level = (uint32_t)lo | (uint32_t)hi << 16;
		return pull_tagged(c, a, fl, rt, "TaggedValue", &r->u.content.prop);
	}
	case RES_PROPERTY:
		if ((st = mh_cursor_u8(c, &r->u.property.relop,
		                       fname(fb, sizeof(fb), rt, "RelOp"))) != S_OK ||
		    (st = mh_cursor_u32(c, &r->u.property.prop_tag,
		                        fname(fb, sizeof(fb), rt, "PropTag"))) != S_OK)
			return st;
		return pull_tagged(c, a, fl, rt, "TaggedValue", &r->u.property.prop);
	case RES_COMPAREPROPS:
		if ((st = mh_cursor_u8(c, &r->u.compare_props.relop,
		                       fname(fb, sizeof(fb), rt, "RelOp"))) != S_OK ||
		    (st = mh_cursor_u32(c, &r->u.compare_props.prop_tag1,
		                        fname(fb, sizeof(fb), rt, "PropTag1"))) != S_OK)
			return st;
		return mh_cursor_u32(c, &r->u.compare_props.prop_tag2,
		                     fname(fb, sizeof(fb), rt, "PropTag2"));
	case RES_BITMASK:
		if ((st = mh_cursor_u8(c, &r->u.bitmask.relop,
		                       fname(fb, sizeof(fb), rt, "BitmapRelOp"))) != S_OK ||
		    (st = mh_cursor_u32(c, &r->u.bitmask.prop_tag,
		                        fname(fb, sizeof(fb), rt, "PropTag"))) != S_OK)
			return st;
		return mh_cursor_u32(c, &r->u.bitmask.mask, fname(fb, sizeof(fb), rt, "Mask"));
	case RES_SIZE:
		if ((st = mh_cursor_u8(c, &r->u.size.relop, fname(fb, sizeof(fb), rt, "RelOp"))) !=
		        S_OK ||
		    (st = mh_cursor_u32(c, &r->u.size.prop_tag,
		                        fname(fb, sizeof(fb), rt, "PropTag"))) != S_OK)
			return st;
		return mh_cursor_u32(c, &r->u.size.size, fname(fb, sizeof(fb), rt, "Size"));
	case RES_EXIST:
		return mh_cursor_u32(c, &r->u.exist.prop_tag, fname(fb, sizeof(fb), rt, "PropTag"));
	case RES_SUBRESTRICTION:
		if ((st = mh_cursor_u32(c, &r->u.sub.subobject,
		                        fname(fb, sizeof(fb), rt, "Subobject"))) != S_OK)
			return st;
		return pull_child(c, a, fl, &r->u.sub.res);
	case RES_COMMENT:
		return pull_comment(c, a, fl, r);
	default: /* RES_COUNT; pull_node has ruled out the rest */
		if ((st = mh_cursor_u32(c, &r->u.count.count,
		                        fname(fb, sizeof(fb), rt, "Count"))) != S_OK)
			return st;
		return pull_child(c, a, fl, &r->u.count.res);
	}
}

static mh_status pull_node(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, mh_restriction *r)
{
	size_t at = mh_cursor_offset(c);
	mh_status st = mh_cursor_enter(c, "Restriction");
	if (st != S_OK)
		return st;
	st = mh_cursor_u8(c, &r->rt, "Restriction.RestrictType");
	if (st == S_OK && r->rt >= N_TYPES) {
		st = mh_error_set(
		    c->err, (int64_t)at,
		    "Restriction.RestrictType at byte %zu is 0x%02X, not a restriction "
		    "type (0x00-0x0B)",
		    at, r->rt);
	}
	if (st == S_OK)
		st = pull_body(c, a, fl, r);
	mh_cursor_leave(c);
	return st;
}

mh_status mh_restriction_pull(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, mh_restriction **out)
{
	mh_restriction *r = NULL;
	mh_status st = pull_child(c, a, fl, &r);
	*out = st == S_OK ? r : NULL;
	return st;
}

/* ---- pushing -------------------------------------------------------------------------------- */

static void push_bad(mh_buf *b, const char *fmt, ...) MH_PRINTF(2, 3);

static void push_bad(mh_buf *b, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	if (b->err != S_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mh_buf_fail(b, mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "%s", msg));
}

static void push_node(mh_buf *b, mh_pv_flavor fl, const mh_restriction *r, unsigned depth);

static void push_child(mh_buf *b, mh_pv_flavor fl, const mh_restriction *r, uint8_t parent,
                       unsigned depth)
{
	if (r == NULL) {
		push_bad(b, "%s: child restriction is NULL", type_names[parent]);
		return;
	}
	push_node(b, fl, r, depth);
}

static void push_node(mh_buf *b, mh_pv_flavor fl, const mh_restriction *r, unsigned depth)
{
	if (b->err != S_OK)
		return;
	if (depth >= MH_RESTRICTION_MAX_DEPTH) {
		push_bad(b, "restriction nested deeper than %d levels", MH_RESTRICTION_MAX_DEPTH);
		return;
	}
	if (r->rt >= N_TYPES) {
		push_bad(b, "Restriction.RestrictType 0x%02X is not a restriction type", r->rt);
		return;
	}
	mh_buf_u8(b, r->rt);
	switch (r->rt) {
	case RES_AND:
	case RES_OR:
		if (fl == MH_PV_NSPI) {
			mh_buf_u32(b, r->u.and_or.count);
		} else if (r->u.and_or.count > 0xFFFFu) {
			push_bad(b, "%s.RestrictCount %lu does not fit the 2 bytes of a ROP buffer",
			         type_names[r->rt], (unsigned long)r->u.and_or.count);
			return;
		} else {
			mh_buf_u16(b, (uint16_t)r->u.and_or.count);
		}
		if (r->u.and_or.count > 0 && r->u.and_or.res == NULL) {
			push_bad(b, "%s: RestrictCount %lu but no restrictions", type_names[r->rt],
			         (unsigned long)r->u.and_or.count);
			return;
		}
		for (uint32_t i = 0; i < r->u.and_or.count && b->err == S_OK; i++)
			push_node(b, fl, &r->u.and_or.res[i], depth + 1);
		return;
	case RES_NOT:
		push_child(b, fl, r->u.not_.res, r->rt, depth + 1);
		return;
	case RES_CONTENT:
		mh_buf_u16(b, (uint16_t)(r->u.content.fuzzy_level & 0xFFFFu));
		mh_buf_u16(b, (uint16_t)(r->u.content.fuzzy_level >> 16));
		mh_buf_u32(b, r->u.content.prop_tag);
		mh_pv_tagged_push(b, fl, &r->u.content.prop);
		return;
	case RES_PROPERTY:
		mh_buf_u8(b, r->u.property.relop);
		mh_buf_u32(b, r->u.property.prop_tag);
		mh_pv_tagged_push(b, fl, &r->u.property.prop);
		return;
	case RES_COMPAREPROPS:
		mh_buf_u8(b, r->u.compare_props.relop);
		mh_buf_u32(b, r->u.compare_props.prop_tag1);
		mh_buf_u32(b, r->u.compare_props.prop_tag2);
		return;
	case RES_BITMASK:
		mh_buf_u8(b, r->u.bitmask.relop);
		mh_buf_u32(b, r->u.bitmask.prop_tag);
		mh_buf_u32(b, r->u.bitmask.mask);
		return;
	case RES_SIZE:
		mh_buf_u8(b, r->u.size.relop);
		mh_buf_u32(b, r->u.size.prop_tag);
		mh_buf_u32(b, r->u.size.size);
		return;
	case RES_EXIST:
		mh_buf_u32(b, r->u.exist.prop_tag);
		return;
	case RES_SUBRESTRICTION:
		mh_buf_u32(b, r->u.sub.subobject);
		push_child(b, fl, r->u.sub.res, r->rt, depth + 1);
		return;
	case RES_COMMENT:
		if (r->u.comment.count > 0 && r->u.comment.props == NULL) {
			push_bad(b, "CommentRestriction: TaggedValuesCount %u but no values",
			         (unsigned)r->u.comment.count);
			return;
		}
		mh_buf_u8(b, r->u.comment.count);
		for (unsigned i = 0; i < r->u.comment.count; i++)
			mh_pv_tagged_push(b, fl, &r->u.comment.props[i]);
		mh_buf_u8(b, r->u.comment.res != NULL ? 1 : 0);
		if (r->u.comment.res != NULL)
			push_node(b, fl, r->u.comment.res, depth + 1);
		return;
	default: /* RES_COUNT */
		mh_buf_u32(b, r->u.count.count);
		push_child(b, fl, r->u.count.res, r->rt, depth + 1);
		return;
	}
}

void mh_restriction_push(mh_buf *b, mh_pv_flavor fl, const mh_restriction *r)
{
	if (r == NULL) {
		push_bad(b, "restriction is NULL");
		return;
	}
	push_node(b, fl, r, 0);
}

/* ---- comparing ------------------------------------------------------------------------------ */

static bool prop_equal(const SPropValue *x, const SPropValue *y)
{
	return x->ulPropTag == y->ulPropTag &&
	       mh_pv_value_equal((uint16_t)PROP_TYPE(x->ulPropTag), &x->Value, &y->Value);
}

bool mh_restriction_equal(const mh_restriction *x, const mh_restriction *y)
{
	if (x == NULL || y == NULL)
		return x == y;
	if (x->rt != y->rt)
		return false;
	switch (x->rt) {
	case RES_AND:
	case RES_OR:
		if (x->u.and_or.count != y->u.and_or.count)
			return false;
		for (uint32_t i = 0; i < x->u.and_or.count; i++)
			if (!mh_restriction_equal(&x->u.and_or.res[i], &y->u.and_or.res[i]))
				return false;
		return true;
	case RES_NOT:
		return mh_restriction_equal(x->u.not_.res, y->u.not_.res);
	case RES_CONTENT:
		return x->u.content.fuzzy_level == y->u.content.fuzzy_level &&
		       x->u.content.prop_tag == y->u.content.prop_tag &&
		       prop_equal(&x->u.content.prop, &y->u.content.prop);
	case RES_PROPERTY:
		return x->u.property.relop == y->u.property.relop &&
		       x->u.property.prop_tag == y->u.property.prop_tag &&
		       prop_equal(&x->u.property.prop, &y->u.property.prop);
	case RES_COMPAREPROPS:
		return x->u.compare_props.relop == y->u.compare_props.relop &&
		       x->u.compare_props.prop_tag1 == y->u.compare_props.prop_tag1 &&
		       x->u.compare_props.prop_tag2 == y->u.compare_props.prop_tag2;
	case RES_BITMASK:
		return x->u.bitmask.relop == y->u.bitmask.relop &&
		       x->u.bitmask.prop_tag == y->u.bitmask.prop_tag &&
		       x->u.bitmask.mask == y->u.bitmask.mask;
	case RES_SIZE:
		return x->u.size.relop == y->u.size.relop &&
		       x->u.size.prop_tag == y->u.size.prop_tag && x->u.size.size == y->u.size.size;
	case RES_EXIST:
		return x->u.exist.prop_tag == y->u.exist.prop_tag;
	case RES_SUBRESTRICTION:
		return x->u.sub.subobject == y->u.sub.subobject &&
		       mh_restriction_equal(x->u.sub.res, y->u.sub.res);
	case RES_COMMENT:
		if (x->u.comment.count != y->u.comment.count)
			return false;
		for (unsigned i = 0; i < x->u.comment.count; i++)
			if (!prop_equal(&x->u.comment.props[i], &y->u.comment.props[i]))
				return false;
		return mh_restriction_equal(x->u.comment.res, y->u.comment.res);
	case RES_COUNT:
		return x->u.count.count == y->u.count.count &&
		       mh_restriction_equal(x->u.count.res, y->u.count.res);
	default:
		return false;
	}
}
