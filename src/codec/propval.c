/*
 * Property values, rows, tag and problem arrays, FIDs/MIDs and LongTermIds
 * in the ROP and NSPI wire layouts (wire.md §5.8, §6.1).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codec/propval.h"
#include "util/diag.h"
#include "util/utf.h"

/* ---- type table ----------------------------------------------------------------------- */

static const char *type_name(uint16_t type)
{
	switch (type) {
	case PT_UNSPECIFIED:
		return "PtypUnspecified";
	case PT_NULL:
		return "PtypNull";
	case PT_I2:
		return "PtypInteger16";
	case PT_LONG:
		return "PtypInteger32";
	case PT_R4:
		return "PtypFloating32";
	case PT_DOUBLE:
		return "PtypFloating64";
	case PT_CURRENCY:
		return "PtypCurrency";
	case PT_APPTIME:
		return "PtypFloatingTime";
	case PT_ERROR:
		return "PtypErrorCode";
	case PT_BOOLEAN:
		return "PtypBoolean";
	case PT_OBJECT:
		return "PtypObject";
	case PT_I8:
		return "PtypInteger64";
	case PT_STRING8:
		return "PtypString8";
	case PT_UNICODE:
		return "PtypString";
	case PT_SYSTIME:
		return "PtypTime";
	case PT_CLSID:
		return "PtypGuid";
	case PT_SVREID:
		return "PtypServerId";
	case PT_SRESTRICT:
		return "PtypRestriction";
	case PT_ACTIONS:
		return "PtypRuleAction";
	case PT_BINARY:
		return "PtypBinary";
	case PT_MV_I2:
		return "PtypMultipleInteger16";
	case PT_MV_LONG:
		return "PtypMultipleInteger32";
	case PT_MV_R4:
		return "PtypMultipleFloating32";
	case PT_MV_DOUBLE:
		return "PtypMultipleFloating64";
	case PT_MV_CURRENCY:
		return "PtypMultipleCurrency";
	case PT_MV_APPTIME:
		return "PtypMultipleFloatingTime";
	case PT_MV_I8:
		return "PtypMultipleInteger64";
	case PT_MV_STRING8:
		return "PtypMultipleString8";
	case PT_MV_UNICODE:
		return "PtypMultipleString";
	case PT_MV_SYSTIME:
		return "PtypMultipleTime";
	case PT_MV_CLSID:
		return "PtypMultipleGuid";
	case PT_MV_BINARY:
		return "PtypMultipleBinary";
	default:
		return NULL;
	}
}

/* Size of one element of a fixed-size type, 0 for the variable-size ones. */
static size_t fixed_size(uint16_t base)
{
	switch (base) {
	case PT_I2:
		return 2;
	case PT_LONG:
	case PT_R4:
	case PT_ERROR:
		return 4;
	case PT_DOUBLE:
	case PT_CURRENCY:
	case PT_APPTIME:
	case PT_I8:
	case PT_SYSTIME:
		return 8;
	case PT_CLSID:
		return 16;
	default:
		return 0;
	}
}

static bool is_mv_type(uint16_t type)
{
	return (type & MV_FLAG) != 0 && (type & MV_INSTANCE) == 0 && type_name(type) != NULL;
}

/* A type that has a value encoding here (PT_SRESTRICT and PT_ACTIONS are named but not coded). */
static bool is_coded_type(uint16_t type)
{
	return type != PT_UNSPECIFIED && type != PT_SRESTRICT && type != PT_ACTIONS &&
	       type_name(type) != NULL;
}

/*
 * NSPI puts a HasValue byte before these (wire.md §6.1): [MS-OXCMAPIHTTP]
 * 2.2.1.1 names PtypString, PtypString8, PtypBinary and PtypMultiple*;
 * PtypGuid is added from Exchange's reader. PtypServerId is not in the list.
 */
static bool has_value_byte(mh_pv_flavor fl, uint16_t type)
{
	if (fl != MH_PV_NSPI)
		return false;
	switch (type) {
	case PT_STRING8:
	case PT_UNICODE:
	case PT_BINARY:
	case PT_CLSID:
		return true;
	default:
		return (type & MV_FLAG) != 0;
	}
}

static const char *tname(uint16_t type, char *buf, size_t size)
{
	const char *n = type_name(type);
	if (n != NULL)
		return n;
	snprintf(buf, size, "property type 0x%04X", (unsigned)type);
	return buf;
}

/* Fails unless count elements of at least min bytes each can still follow. */
static mh_status check_count(mh_cursor *c, uint64_t count, size_t min, const char *what,
                             size_t count_at)
{
	size_t left = mh_cursor_remaining(c);
	if (min == 0 || count <= left / min)
		return S_OK;
	return mh_error_set(c->err, (int64_t)count_at,
	                    "%s COUNT at byte %zu is %llu, but %zu bytes remain (at least %zu "
	                    "per element)",
	                    what, count_at, (unsigned long long)count, left, min);
}

/* A non-NULL block for a present value of size n (n may be 0). */
static mh_status alloc_present(mh_arena *a, size_t count, size_t size, void **out)
{
	if (count == 0)
		return mh_arena_alloc(a, 1, out);
	return mh_arena_array(a, count, size, out);
}

/*
 * COUNT width of a single binary-like value. [MS-OXCDATA] 2.11.1 gives
 * PtypServerId an explicit 16-bit COUNT in every context; PtypBinary's
 * COUNT is 16 bits in ROP buffers and 32 bits in MAPI/HTTP NSPI bodies.
 */
static unsigned bin_count_width(mh_pv_flavor fl, uint16_t type)
{
	return type == PT_SVREID || fl == MH_PV_ROP ? 2 : 4;
}

/* ---- pull: scalar pieces -------------------------------------------------------------- */

static mh_status pull_str8(mh_cursor *c, mh_arena *a, const char *field, char **out)
{
	const char *s;
	size_t len;
	mh_status st = mh_cursor_str8(c, MH_PV_MAX_VALUE_BYTES, &s, &len, field);
	if (st != S_OK)
		return st;
	return mh_arena_strndup(a, s, len, out);
}

static mh_status pull_str16(mh_cursor *c, mh_arena *a, const char *field, char **out)
{
	const uint8_t *p;
	size_t units, len = 0, at = mh_cursor_offset(c);
	void *dst;
	mh_status st = mh_cursor_str16(c, MH_PV_MAX_VALUE_BYTES / 2, &p, &units, field);
	if (st != S_OK)
		return st;
	st = mh_utf16le_to_utf8(NULL, 0, p, units, &len);
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		int64_t rel = e != NULL && e->offset >= 0 ? e->offset : 0;
		size_t bad = at + (size_t)rel;
		return mh_error_set(
		    c->err, (int64_t)bad,
		    "%s at byte %zu: invalid UTF-16 (unpaired surrogate at byte %zu)", field, at,
		    bad);
	}
	st = mh_arena_alloc(a, len + 1, &dst);
	if (st != S_OK)
		return st;
	st = mh_utf16le_to_utf8(dst, len + 1, p, units, &len);
	if (st != S_OK)
		return st;
	*out = dst;
	return S_OK;
}

static mh_status pull_bin(mh_cursor *c, mh_arena *a, unsigned width, const char *field,
                          SBinary *out)
{
	size_t at = mh_cursor_offset(c);
	uint32_t cb = 0;
	uint16_t cb16;
	const uint8_t *p;
	void *dst;
	mh_status st;
	char f[96];

	snprintf(f, sizeof(f), "%s COUNT", field);
	if (width == 2) {
		st = mh_cursor_u16(c, &cb16, f);
		cb = cb16;
	} else {
		st = mh_cursor_u32(c, &cb, f);
	}
	if (st != S_OK)
		return st;
	if (cb > mh_cursor_remaining(c))
		return mh_error_set(c->err, (int64_t)at,
		                    "%s COUNT at byte %zu is %lu, but only %zu bytes remain", field,
		                    at, (unsigned long)cb, mh_cursor_remaining(c));
	if (cb > MH_PV_MAX_VALUE_BYTES)
		return mh_error_set(c->err, (int64_t)at,
		                    "%s COUNT at byte %zu is %lu, above the %zu-byte limit", field,
		                    at, (unsigned long)cb, (size_t)MH_PV_MAX_VALUE_BYTES);
	st = mh_cursor_bytes(c, cb, &p, field);
	if (st != S_OK)
		return st;
	st = alloc_present(a, cb, 1, &dst);
	if (st != S_OK)
		return st;
	if (cb > 0)
		memcpy(dst, p, cb);
	out->cb = cb;
	out->lpb = dst;
	return S_OK;
}

static mh_status pull_guid(mh_cursor *c, mh_arena *a, const char *field, GUID **out)
{
	void *g;
	mh_status st = mh_cursor_need(c, 16, field);
	if (st != S_OK)
		return st;
	st = mh_arena_alloc(a, sizeof(GUID), &g);
	if (st != S_OK)
		return st;
	(void)mh_cursor_guid(c, g, field);
	*out = g;
	return S_OK;
}

/* One HasValue byte: any nonzero value means present. */
static mh_status pull_has_value(mh_cursor *c, const char *what, bool *present)
{
	uint8_t hv;
	char f[96];
	if (mh_cursor_remaining(c) < 1) {
		snprintf(f, sizeof(f), "%s HasValue", what);
		return mh_cursor_need(c, 1, f);
	}
	(void)mh_cursor_u8(c, &hv, "HasValue");
	*present = hv != 0;
	return S_OK;
}

/* Fixed-size value of base type into *out (the union member's storage). */
static void read_fixed(mh_cursor *c, uint16_t base, void *out)
{
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	switch (base) {
	case PT_I2:
		(void)mh_cursor_u16(c, &u16, "");
		memcpy(out, &u16, 2);
		break;
	case PT_LONG:
	case PT_R4:
	case PT_ERROR:
		(void)mh_cursor_u32(c, &u32, "");
		memcpy(out, &u32, 4);
		break;
	case PT_SYSTIME: {
		FILETIME ft;
		(void)mh_cursor_u32(c, &ft.dwLowDateTime, "");
		(void)mh_cursor_u32(c, &ft.dwHighDateTime, "");
		memcpy(out, &ft, sizeof(ft));
		break;
	}
	default: /* PT_DOUBLE, PT_CURRENCY, PT_APPTIME, PT_I8 */
		(void)mh_cursor_u64(c, &u64, "");
		memcpy(out, &u64, 8);
		break;
	}
}

/* ---- pull: multi-valued --------------------------------------------------------------- */

static mh_status pull_mv(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, uint16_t type, union _PV *v)
{
	const char *what = type_name(type);
	uint16_t base = type & (uint16_t)~MV_FLAG;
	size_t at = mh_cursor_offset(c), fsz = fixed_size(base), min, esz;
	bool elem_hv = fl == MH_PV_NSPI && (base == PT_STRING8 || base == PT_UNICODE ||
	                                    base == PT_BINARY || base == PT_CLSID);
	uint32_t count;
	void *arr;
	char f[96];
	mh_status st;

	snprintf(f, sizeof(f), "%s COUNT", what);
	st = mh_cursor_u32(c, &count, f);
	if (st != S_OK)
		return st;
	if (elem_hv)
		min = 1;
	else if (fsz != 0)
		min = fsz;
	else if (base == PT_UNICODE)
		min = 2;
	else if (base == PT_BINARY)
		min = 2; /* ROP COUNT(2); NSPI elements have HasValue and took min 1 above */
	else
		min = 1; /* PT_STRING8 */
	st = check_count(c, count, min, what, at);
	if (st != S_OK)
		return st;

	switch (base) {
	case PT_STRING8:
	case PT_UNICODE:
		esz = sizeof(char *);
		break;
	case PT_BINARY:
		esz = sizeof(SBinary);
		break;
	case PT_CLSID:
		esz = sizeof(GUID);
		break;
	default:
		esz = fsz;
		break;
	}
	st = alloc_present(a, count, esz, &arr);
	if (st != S_OK)
		return st;

	for (uint32_t i = 0; i < count; i++) {
		bool present = true;
		if (elem_hv) {
			st = pull_has_value(c, "element", &present);
			if (st != S_OK)
				return mh_error_prefix(st, "%s element %lu", what,
				                       (unsigned long)i);
			if (!present)
				continue; /* stays NULL / empty / zero GUID */
		}
		switch (base) {
		case PT_STRING8:
			st = pull_str8(c, a, "PtypString8 element", &((char **)arr)[i]);
			break;
		case PT_UNICODE:
			st = pull_str16(c, a, "PtypString element", &((char **)arr)[i]);
			break;
		case PT_BINARY:
			st = pull_bin(c, a, fl == MH_PV_ROP ? 2 : 4, "PtypBinary element",
			              &((SBinary *)arr)[i]);
			break;
		case PT_CLSID:
			st = mh_cursor_guid(c, &((GUID *)arr)[i], "PtypGuid element");
			break;
		default:
			/* check_count guaranteed the bytes of every fixed-size element. */
			read_fixed(c, base, (unsigned char *)arr + (size_t)i * fsz);
			st = S_OK;
			break;
		}
		if (st != S_OK)
			return mh_error_prefix(st, "%s element %lu", what, (unsigned long)i);
	}

	/* Every SxxxArray starts with cValues followed by the element pointer. */
	switch (type) {
	case PT_MV_I2:
		v->MVi.cValues = count;
		v->MVi.lpi = arr;
		break;
	case PT_MV_LONG:
		v->MVl.cValues = count;
		v->MVl.lpl = arr;
		break;
	case PT_MV_R4:
		v->MVflt.cValues = count;
		v->MVflt.lpflt = arr;
		break;
	case PT_MV_DOUBLE:
		v->MVdbl.cValues = count;
		v->MVdbl.lpdbl = arr;
		break;
	case PT_MV_CURRENCY:
		v->MVcur.cValues = count;
		v->MVcur.lpcur = arr;
		break;
	case PT_MV_APPTIME:
		v->MVat.cValues = count;
		v->MVat.lpat = arr;
		break;
	case PT_MV_I8:
		v->MVli.cValues = count;
		v->MVli.lpli = arr;
		break;
	case PT_MV_SYSTIME:
		v->MVft.cValues = count;
		v->MVft.lpft = arr;
		break;
	case PT_MV_CLSID:
		v->MVguid.cValues = count;
		v->MVguid.lpguid = arr;
		break;
	case PT_MV_STRING8:
		v->MVszA.cValues = count;
		v->MVszA.lppszA = arr;
		break;
	case PT_MV_UNICODE:
		v->MVszW.cValues = count;
		v->MVszW.lppszW = arr;
		break;
	default: /* PT_MV_BINARY */
		v->MVbin.cValues = count;
		v->MVbin.lpbin = arr;
		break;
	}
	return S_OK;
}

/* ---- pull: one value ------------------------------------------------------------------ */

mh_status mh_pv_value_pull(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, uint16_t type, union _PV *v,
                           bool *present)
{
	char nb[40];
	const char *what = tname(type, nb, sizeof(nb));
	mh_status st;
	bool here = true;

	memset(v, 0, sizeof(*v));
	if (present != NULL)
		*present = true;
	if (type == PT_SRESTRICT || type == PT_ACTIONS)
		return mh_error_set(MAPI_E_NO_SUPPORT, (int64_t)mh_cursor_offset(c),
		                    "%s value at byte %zu: restrictions and rule actions are not "
		                    "decoded by mapihttp",
		                    what, mh_cursor_offset(c));
	/* [MS-OXCDATA] 2.11.1.5: a store never returns a PtypObject value through
	 * GetProperties*, and 2.11.1 gives it no encoding in a ROP buffer, so its
	 * length is unknowable: refuse rather than guess and misread what follows. */
	if (type == PT_OBJECT && fl == MH_PV_ROP)
		return mh_error_set(MAPI_E_NO_SUPPORT, (int64_t)mh_cursor_offset(c),
		                    "%s value at byte %zu: a ROP buffer has no encoding for it "
		                    "([MS-OXCDATA] 2.11.1.5)",
		                    what, mh_cursor_offset(c));
	if (!is_coded_type(type))
		return mh_cursor_fail(c, "%s at byte %zu is not a property value type", what,
		                      mh_cursor_offset(c));

	if (has_value_byte(fl, type)) {
		st = pull_has_value(c, what, &here);
		if (st != S_OK)
			return st;
		if (!here) {
			if (present != NULL)
				*present = false;
			return S_OK;
		}
	}
	if (type & MV_FLAG)
		return pull_mv(c, a, fl, type, v);

	switch (type) {
	case PT_NULL:
	case PT_OBJECT: /* NSPI only here: no value bytes (docs/internals/propval.md) */
		return S_OK;
	case PT_BOOLEAN: {
		uint8_t b;
		st = mh_cursor_u8(c, &b, what);
		if (st == S_OK)
			v->b = b != 0;
		return st;
	}
	case PT_STRING8:
		return pull_str8(c, a, what, &v->lpszA);
	case PT_UNICODE:
		return pull_str16(c, a, what, &v->lpszW);
	case PT_BINARY:
	case PT_SVREID:
		return pull_bin(c, a, bin_count_width(fl, type), what, &v->bin);
	case PT_CLSID:
		return pull_guid(c, a, what, &v->lpguid);
	default: {
		size_t n = fixed_size(type);
		st = mh_cursor_need(c, n, what);
		if (st != S_OK)
			return st;
		read_fixed(c, type, v);
		return S_OK;
	}
	}
}

/* ---- push ----------------------------------------------------------------------------- */

static void push_fail(mh_buf *b, mh_status st, const char *fmt, ...) MH_PRINTF(3, 4);

static void push_fail(mh_buf *b, mh_status st, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	if (b->err != S_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mh_buf_fail(b, mh_error_set(st, -1, "%s", msg));
}

static void push_bin(mh_buf *b, unsigned width, const SBinary *bin, const char *what)
{
	if (bin->cb > 0 && bin->lpb == NULL) {
		push_fail(b, MAPI_E_INVALID_PARAMETER, "%s has %lu bytes but a NULL pointer", what,
		          (unsigned long)bin->cb);
		return;
	}
	if (width == 2) {
		if (bin->cb > 0xFFFF) {
			push_fail(b, MAPI_E_TOO_BIG,
			          "%s of %lu bytes does not fit the 16-bit COUNT of a ROP buffer",
			          what, (unsigned long)bin->cb);
			return;
		}
		mh_buf_u16(b, (uint16_t)bin->cb);
	} else {
		mh_buf_u32(b, bin->cb);
	}
	mh_buf_put(b, bin->lpb, bin->cb);
}

static void push_string(mh_buf *b, bool unicode, const char *s, const char *what)
{
	if (s == NULL) {
		push_fail(b, MAPI_E_INVALID_PARAMETER, "%s is a NULL string", what);
		return;
	}
	if (unicode)
		mh_buf_utf16z(b, s);
	else
		mh_buf_str8z(b, s);
}

static void push_fixed(mh_buf *b, uint16_t base, const void *p)
{
	switch (base) {
	case PT_I2: {
		uint16_t u;
		memcpy(&u, p, 2);
		mh_buf_u16(b, u);
		break;
	}
	case PT_LONG:
	case PT_R4:
	case PT_ERROR: {
		uint32_t u;
		memcpy(&u, p, 4);
		mh_buf_u32(b, u);
		break;
	}
	case PT_SYSTIME: {
		FILETIME ft;
		memcpy(&ft, p, sizeof(ft));
		mh_buf_u32(b, ft.dwLowDateTime);
		mh_buf_u32(b, ft.dwHighDateTime);
		break;
	}
	default: {
		uint64_t u;
		memcpy(&u, p, 8);
		mh_buf_u64(b, u);
		break;
	}
	}
}

/* The count and element pointer of any multi-valued member. */
static void mv_parts(uint16_t type, const union _PV *v, uint32_t *count, const void **arr)
{
	switch (type) {
	case PT_MV_I2:
		*count = v->MVi.cValues;
		*arr = v->MVi.lpi;
		break;
	case PT_MV_LONG:
		*count = v->MVl.cValues;
		*arr = v->MVl.lpl;
		break;
	case PT_MV_R4:
		*count = v->MVflt.cValues;
		*arr = v->MVflt.lpflt;
		break;
	case PT_MV_DOUBLE:
		*count = v->MVdbl.cValues;
		*arr = v->MVdbl.lpdbl;
		break;
	case PT_MV_CURRENCY:
		*count = v->MVcur.cValues;
		*arr = v->MVcur.lpcur;
		break;
	case PT_MV_APPTIME:
		*count = v->MVat.cValues;
		*arr = v->MVat.lpat;
		break;
	case PT_MV_I8:
		*count = v->MVli.cValues;
		*arr = v->MVli.lpli;
		break;
	case PT_MV_SYSTIME:
		*count = v->MVft.cValues;
		*arr = v->MVft.lpft;
		break;
	case PT_MV_CLSID:
		*count = v->MVguid.cValues;
		*arr = v->MVguid.lpguid;
		break;
	case PT_MV_STRING8:
		*count = v->MVszA.cValues;
		*arr = (const void *)v->MVszA.lppszA;
		break;
	case PT_MV_UNICODE:
		*count = v->MVszW.cValues;
		*arr = (const void *)v->MVszW.lppszW;
		break;
	default:
		*count = v->MVbin.cValues;
		*arr = v->MVbin.lpbin;
		break;
	}
}

static void push_mv(mh_buf *b, mh_pv_flavor fl, uint16_t type, uint32_t count, const void *arr)
{
	uint16_t base = type & (uint16_t)~MV_FLAG;
	const char *what = type_name(type);
	size_t fsz = fixed_size(base);
	bool nspi = fl == MH_PV_NSPI;

	if (count > 0 && arr == NULL) {
		push_fail(b, MAPI_E_INVALID_PARAMETER, "%s has %lu values but a NULL array", what,
		          (unsigned long)count);
		return;
	}
	mh_buf_u32(b, count);
	for (uint32_t i = 0; i < count && b->err == S_OK; i++) {
		switch (base) {
		case PT_STRING8:
		case PT_UNICODE: {
			const char *s = ((char *const *)arr)[i];
			if (nspi) {
				mh_buf_u8(b, s != NULL ? 0xFF : 0x00);
				if (s == NULL)
					break;
			}
			push_string(b, base == PT_UNICODE, s, what);
			break;
		}
		case PT_BINARY: {
			const SBinary *bin = &((const SBinary *)arr)[i];
			if (nspi) {
				bool absent = bin->cb == 0 && bin->lpb == NULL;
				mh_buf_u8(b, absent ? 0x00 : 0xFF);
				if (absent)
					break;
			}
			push_bin(b, nspi ? 4 : 2, bin, what);
			break;
		}
		case PT_CLSID:
			if (nspi)
				mh_buf_u8(b, 0xFF);
			mh_buf_guid(b, &((const GUID *)arr)[i]);
			break;
		default:
			push_fixed(b, base, (const unsigned char *)arr + (size_t)i * fsz);
			break;
		}
	}
}

/* True when an NSPI value of this type is written as absent (HasValue 0). */
static bool nspi_absent(uint16_t type, const union _PV *v)
{
	if (type & MV_FLAG) {
		uint32_t count;
		const void *arr;
		mv_parts(type, v, &count, &arr);
		return count == 0 && arr == NULL;
	}
	switch (type) {
	case PT_STRING8:
		return v->lpszA == NULL;
	case PT_UNICODE:
		return v->lpszW == NULL;
	case PT_CLSID:
		return v->lpguid == NULL;
	default: /* PT_BINARY */
		return v->bin.cb == 0 && v->bin.lpb == NULL;
	}
}

void mh_pv_value_push(mh_buf *b, mh_pv_flavor fl, uint16_t type, const union _PV *v)
{
	char nb[40];
	const char *what = tname(type, nb, sizeof(nb));

	if (b->err != S_OK)
		return;
	if (type == PT_SRESTRICT || type == PT_ACTIONS) {
		push_fail(b, MAPI_E_NO_SUPPORT,
		          "%s values are not encoded by mapihttp (restrictions and rule actions)",
		          what);
		return;
	}
	if (!is_coded_type(type)) {
		push_fail(b, MAPI_E_INVALID_TYPE, "%s is not a property value type", what);
		return;
	}
	if (type == PT_OBJECT && fl == MH_PV_ROP) {
		push_fail(b, MAPI_E_NO_SUPPORT,
		          "%s has no encoding in a ROP buffer ([MS-OXCDATA] 2.11.1.5)", what);
		return;
	}
	if (has_value_byte(fl, type)) {
		if (nspi_absent(type, v)) {
			mh_buf_u8(b, 0x00);
			return;
		}
		mh_buf_u8(b, 0xFF);
	}
	if (type & MV_FLAG) {
		uint32_t count;
		const void *arr;
		mv_parts(type, v, &count, &arr);
		push_mv(b, fl, type, count, arr);
		return;
	}
	switch (type) {
	case PT_NULL:
	case PT_OBJECT:
		return;
	case PT_BOOLEAN:
		mh_buf_u8(b, v->b != 0 ? 1 : 0);
		return;
	case PT_STRING8:
		push_string(b, false, v->lpszA, what);
		return;
	case PT_UNICODE:
		push_string(b, true, v->lpszW, what);
		return;
	case PT_BINARY:
	case PT_SVREID:
		push_bin(b, bin_count_width(fl, type), &v->bin, what);
		return;
	case PT_CLSID:
		if (v->lpguid == NULL) {
			push_fail(b, MAPI_E_INVALID_PARAMETER, "%s is a NULL GUID pointer", what);
			return;
		}
		mh_buf_guid(b, v->lpguid);
		return;
	default:
		push_fixed(b, type, v);
		return;
	}
}

/* ---- typed and tagged values ---------------------------------------------------------- */

/* Fails for the type codes that cannot stand for a value on the wire. */
static mh_status check_wire_type(mh_cursor *c, uint16_t type, size_t at, const char *field)
{
	if (type == PT_UNSPECIFIED || (type & MV_INSTANCE) != 0)
		return mh_error_set(c->err, (int64_t)at,
		                    "%s at byte %zu is 0x%04X, which is not a value type", field,
		                    at, (unsigned)type);
	return S_OK;
}

mh_status mh_pv_typed_pull(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, SPropValue *out)
{
	size_t at = mh_cursor_offset(c);
	uint16_t type;
	mh_status st;

	memset(out, 0, sizeof(*out));
	st = mh_cursor_u16(c, &type, "TypedPropertyValue PropertyType");
	if (st != S_OK)
		return st;
	st = check_wire_type(c, type, at, "TypedPropertyValue PropertyType");
	if (st != S_OK)
		return st;
	out->ulPropTag = PROP_TAG(type, 0);
	return mh_pv_value_pull(c, a, fl, type, &out->Value, NULL);
}

void mh_pv_typed_push(mh_buf *b, mh_pv_flavor fl, const SPropValue *pv)
{
	uint16_t type = (uint16_t)PROP_TYPE(pv->ulPropTag);
	mh_buf_u16(b, type);
	mh_pv_value_push(b, fl, type, &pv->Value);
}

mh_status mh_pv_tagged_pull(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, SPropValue *out)
{
	size_t at = mh_cursor_offset(c);
	uint32_t tag;
	mh_status st;

	memset(out, 0, sizeof(*out));
	st = mh_cursor_u32(c, &tag, "TaggedPropertyValue PropertyTag");
	if (st != S_OK)
		return st;
	st = check_wire_type(c, (uint16_t)PROP_TYPE(tag), at, "TaggedPropertyValue PropertyType");
	if (st != S_OK)
		return st;
	out->ulPropTag = tag;
	st = mh_pv_value_pull(c, a, fl, (uint16_t)PROP_TYPE(tag), &out->Value, NULL);
	if (st != S_OK)
		return mh_error_prefix(st, "TaggedPropertyValue 0x%08lX at byte %zu",
		                       (unsigned long)tag, at);
	return S_OK;
}

void mh_pv_tagged_push(mh_buf *b, mh_pv_flavor fl, const SPropValue *pv)
{
	mh_buf_u32(b, pv->ulPropTag);
	mh_pv_value_push(b, fl, (uint16_t)PROP_TYPE(pv->ulPropTag), &pv->Value);
}

/* ---- lists and tag arrays ------------------------------------------------------------- */

static mh_status pull_count(mh_cursor *c, unsigned width, uint32_t *count, const char *field)
{
	uint16_t n16;
	mh_status st;
	if (width == 2) {
		st = mh_cursor_u16(c, &n16, field);
		*count = n16;
		return st;
	}
	if (width == 4)
		return mh_cursor_u32(c, count, field);
	return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "%s: COUNT width %u is neither 2 nor 4",
	                    field, width);
}

static bool push_count(mh_buf *b, unsigned width, uint32_t count, const char *what)
{
	if (width == 2) {
		if (count > 0xFFFF) {
			push_fail(b, MAPI_E_TOO_BIG,
			          "%s of %lu entries does not fit a 16-bit COUNT", what,
			          (unsigned long)count);
			return false;
		}
		mh_buf_u16(b, (uint16_t)count);
		return true;
	}
	if (width == 4) {
		mh_buf_u32(b, count);
		return true;
	}
	push_fail(b, MAPI_E_INVALID_PARAMETER, "%s: COUNT width %u is neither 2 nor 4", what,
	          width);
	return false;
}

mh_status mh_pv_list_pull(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, unsigned count_width,
                          uint32_t *count, SPropValue **props)
{
	size_t at = mh_cursor_offset(c);
	uint32_t n;
	void *arr = NULL;
	mh_status st;

	*count = 0;
	*props = NULL;
	st = pull_count(c, count_width, &n, "PropertyValueCount");
	if (st != S_OK)
		return st;
	/* A tagged value is at least its 4-byte tag (PT_NULL). */
	st = check_count(c, n, 4, "PropertyValue list", at);
	if (st != S_OK)
		return st;
	if (n > 0) {
		st = mh_arena_array(a, n, sizeof(SPropValue), &arr);
		if (st != S_OK)
			return st;
	}
	for (uint32_t i = 0; i < n; i++) {
		st = mh_pv_tagged_pull(c, a, fl, &((SPropValue *)arr)[i]);
		if (st != S_OK)
			return mh_error_prefix(st, "PropertyValue list entry %lu",
			                       (unsigned long)i);
	}
	*count = n;
	*props = arr;
	return S_OK;
}

void mh_pv_list_push(mh_buf *b, mh_pv_flavor fl, unsigned count_width, uint32_t count,
                     const SPropValue *props)
{
	if (count > 0 && props == NULL) {
		push_fail(b, MAPI_E_INVALID_PARAMETER, "PropertyValue list of %lu has no values",
		          (unsigned long)count);
		return;
	}
	if (!push_count(b, count_width, count, "PropertyValue list"))
		return;
	for (uint32_t i = 0; i < count && b->err == S_OK; i++)
		mh_pv_tagged_push(b, fl, &props[i]);
}

mh_status mh_pv_tags_pull(mh_cursor *c, mh_arena *a, unsigned count_width, uint32_t max_count,
                          SPropTagArray **tags)
{
	size_t at = mh_cursor_offset(c);
	uint32_t n;
	void *p;
	SPropTagArray *t;
	mh_status st;

	*tags = NULL;
	st = pull_count(c, count_width, &n, "PropertyTagArray PropertyTagCount");
	if (st != S_OK)
		return st;
	if (n > max_count)
		return mh_error_set(
		    c->err, (int64_t)at,
		    "PropertyTagArray PropertyTagCount at byte %zu is %lu, above the "
		    "limit of %lu",
		    at, (unsigned long)n, (unsigned long)max_count);
	st = check_count(c, n, 4, "PropertyTagArray", at);
	if (st != S_OK)
		return st;
	st = mh_arena_alloc(a, CbNewSPropTagArray(n), &p);
	if (st != S_OK)
		return st;
	t = p;
	t->cValues = n;
	for (uint32_t i = 0; i < n; i++)
		(void)mh_cursor_u32(c, &t->aulPropTag[i], "PropertyTag");
	*tags = t;
	return S_OK;
}

void mh_pv_tags_push(mh_buf *b, unsigned count_width, const SPropTagArray *tags)
{
	if (!push_count(b, count_width, tags->cValues, "PropertyTagArray"))
		return;
	for (uint32_t i = 0; i < tags->cValues; i++)
		mh_buf_u32(b, tags->aulPropTag[i]);
}

/* ---- rows ----------------------------------------------------------------------------- */

/* The type a column's values have on the wire (MultivalueInstance columns give single values). */
static uint16_t column_type(uint32_t tag)
{
	uint16_t t = (uint16_t)PROP_TYPE(tag);
	if (t & MV_INSTANCE)
		t &= (uint16_t) ~(MV_INSTANCE | MV_FLAG);
	return t;
}

/* Fewest bytes a column's item can take: bounds the allocation of one row. */
static size_t column_min(mh_pv_flavor fl, uint8_t flag, uint16_t t)
{
	if (t == PT_UNSPECIFIED)
		return flag ? 3 : 2;
	if (flag)
		return 1;
	if (has_value_byte(fl, t))
		return 1;
	if (t & MV_FLAG)
		return 4;
	switch (t) {
	case PT_BOOLEAN:
	case PT_STRING8:
		return 1;
	case PT_UNICODE:
	case PT_BINARY:
	case PT_SVREID:
		return 2;
	default:
		return fixed_size(t);
	}
}

mh_status mh_pv_row_pull(mh_cursor *c, mh_arena *a, mh_pv_flavor fl, const SPropTagArray *cols,
                         mh_prop_row *row)
{
	size_t at = mh_cursor_offset(c);
	uint64_t min = 0;
	uint32_t n;
	uint8_t flag;
	void *p;
	mh_status st;

	memset(row, 0, sizeof(*row));
	if (cols == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "PropertyRow needs a column set");
	n = cols->cValues;
	st = mh_cursor_u8(c, &flag, "PropertyRow Flag");
	if (st != S_OK)
		return st;
	if (flag != 0x00 && flag != 0x01)
		return mh_error_set(
		    c->err, (int64_t)at,
		    "PropertyRow Flag at byte %zu is 0x%02X, neither 0x00 (standard) "
		    "nor 0x01 (flagged)",
		    at, (unsigned)flag);
	for (uint32_t i = 0; i < n; i++)
		min += column_min(fl, flag, column_type(cols->aulPropTag[i]));
	if (min > mh_cursor_remaining(c))
		return mh_cursor_fail(c,
		                      "truncated at byte %zu: PropertyRow of %lu columns needs at "
		                      "least %llu bytes, %zu remain",
		                      mh_cursor_offset(c), (unsigned long)n,
		                      (unsigned long long)min, mh_cursor_remaining(c));
	row->flag = flag;
	if (n == 0)
		return S_OK;
	st = mh_arena_array(a, n, sizeof(SPropValue), &p);
	if (st != S_OK)
		return st;
	row->lpProps = p;
	if (flag) {
		st = mh_arena_alloc(a, n, &p);
		if (st != S_OK)
			return st;
		row->colflags = p;
	}

	for (uint32_t i = 0; i < n; i++) {
		uint32_t ctag = cols->aulPropTag[i];
		uint16_t type = column_type(ctag);
		SPropValue *pv = &row->lpProps[i];
		uint8_t cf = MH_PV_FLAG_VALUE;

		st = S_OK;
		if (type == PT_UNSPECIFIED) {
			size_t tat = mh_cursor_offset(c);
			st = mh_cursor_u16(c, &type, "PropertyType");
			if (st == S_OK && !flag)
				st = check_wire_type(c, type, tat, "PropertyType");
		}
		if (st == S_OK && flag)
			st = mh_cursor_u8(c, &cf, "Flag");
		if (st == S_OK) {
			switch (cf) {
			case MH_PV_FLAG_VALUE:
				st = check_wire_type(c, type, mh_cursor_offset(c), "PropertyType");
				if (st == S_OK)
					st = mh_pv_value_pull(c, a, fl, type, &pv->Value, NULL);
				pv->ulPropTag = PROP_TAG(type, PROP_ID(ctag));
				break;
			case MH_PV_FLAG_UNAVAILABLE:
				pv->ulPropTag = PROP_TAG(PT_ERROR, PROP_ID(ctag));
				pv->Value.err = MAPI_E_NOT_FOUND;
				break;
			case MH_PV_FLAG_ERROR: {
				uint32_t e = 0;
				st = mh_cursor_u32(c, &e, "ErrorCode");
				pv->ulPropTag = PROP_TAG(PT_ERROR, PROP_ID(ctag));
				pv->Value.err = (int32_t)e;
				break;
			}
			default:
				st = mh_error_set(
				    c->err, (int64_t)mh_cursor_offset(c) - 1,
				    "Flag at byte %zu is 0x%02X, not 0x00, 0x01 or 0x0A",
				    mh_cursor_offset(c) - 1, (unsigned)cf);
				break;
			}
		}
		if (st != S_OK) {
			memset(row, 0, sizeof(*row));
			return mh_error_prefix(st, "PropertyRow column %lu (0x%08lX)",
			                       (unsigned long)i, (unsigned long)ctag);
		}
		if (flag)
			row->colflags[i] = cf;
	}
	row->cValues = n;
	return S_OK;
}

void mh_pv_row_push(mh_buf *b, mh_pv_flavor fl, const SPropTagArray *cols, const mh_prop_row *row)
{
	bool flagged = row->flag != 0;

	if (b->err != S_OK)
		return;
	if (cols == NULL || row->cValues != cols->cValues ||
	    (row->cValues > 0 && row->lpProps == NULL)) {
		push_fail(b, MAPI_E_INVALID_PARAMETER, "PropertyRow has %lu values for %lu columns",
		          (unsigned long)row->cValues,
		          cols != NULL ? (unsigned long)cols->cValues : 0ul);
		return;
	}
	mh_buf_u8(b, flagged ? 0x01 : 0x00);
	for (uint32_t i = 0; i < row->cValues && b->err == S_OK; i++) {
		uint32_t ctag = cols->aulPropTag[i];
		uint16_t ctype = column_type(ctag);
		const SPropValue *pv = &row->lpProps[i];
		uint16_t vtype = (uint16_t)PROP_TYPE(pv->ulPropTag);
		uint8_t cf;

		if (!flagged) {
			if (ctype == PT_UNSPECIFIED) {
				mh_buf_u16(b, vtype);
			} else if (vtype != ctype) {
				push_fail(
				    b, MAPI_E_INVALID_PARAMETER,
				    "standard PropertyRow column %lu (0x%08lX) holds a value of "
				    "type 0x%04X; use a flagged row for errors",
				    (unsigned long)i, (unsigned long)ctag, (unsigned)vtype);
				return;
			}
			mh_pv_value_push(b, fl, vtype, &pv->Value);
			continue;
		}

		if (row->colflags != NULL)
			cf = row->colflags[i];
		else if (vtype == PT_ERROR && ctype != PT_ERROR)
			cf = MH_PV_FLAG_ERROR;
		else
			cf = MH_PV_FLAG_VALUE;
		if (cf != MH_PV_FLAG_VALUE && cf != MH_PV_FLAG_UNAVAILABLE &&
		    cf != MH_PV_FLAG_ERROR) {
			push_fail(b, MAPI_E_INVALID_PARAMETER,
			          "PropertyRow column %lu: flag 0x%02X is not 0x00, 0x01 or 0x0A",
			          (unsigned long)i, (unsigned)cf);
			return;
		}
		if (cf == MH_PV_FLAG_VALUE && ctype != PT_UNSPECIFIED && vtype != ctype) {
			push_fail(b, MAPI_E_INVALID_PARAMETER,
			          "PropertyRow column %lu (0x%08lX) holds a value of type 0x%04X",
			          (unsigned long)i, (unsigned long)ctag, (unsigned)vtype);
			return;
		}
		if (cf == MH_PV_FLAG_ERROR && vtype != PT_ERROR) {
			push_fail(b, MAPI_E_INVALID_PARAMETER,
			          "PropertyRow column %lu has flag 0x0A but no PT_ERROR value",
			          (unsigned long)i);
			return;
		}
		if (ctype == PT_UNSPECIFIED)
			mh_buf_u16(b, vtype);
		mh_buf_u8(b, cf);
		if (cf == MH_PV_FLAG_VALUE)
			mh_pv_value_push(b, fl, vtype, &pv->Value);
		else if (cf == MH_PV_FLAG_ERROR)
			mh_buf_u32(b, (uint32_t)pv->Value.err);
	}
}

/* ---- problems ------------------------------------------------------------------------- */

mh_status mh_pv_problems_pull(mh_cursor *c, mh_arena *a, uint16_t *count,
                              mh_prop_problem **problems)
{
	size_t at = mh_cursor_offset(c);
	uint16_t n;
	void *p;
	mh_status st;

	*count = 0;
	*problems = NULL;
	st = mh_cursor_u16(c, &n, "PropertyProblemArray ProblemCount");
	if (st != S_OK)
		return st;
	st = check_count(c, n, 10, "PropertyProblemArray", at);
	if (st != S_OK)
		return st;
	if (n == 0)
		return S_OK;
	st = mh_arena_array(a, n, sizeof(mh_prop_problem), &p);
	if (st != S_OK)
		return st;
	for (uint16_t i = 0; i < n; i++) {
		mh_prop_problem *pr = &((mh_prop_problem *)p)[i];
		uint32_t e;
		(void)mh_cursor_u16(c, &pr->index, "Index");
		(void)mh_cursor_u32(c, &pr->tag, "PropertyTag");
		(void)mh_cursor_u32(c, &e, "ErrorCode");
		pr->err = (mh_status)e;
	}
	*count = n;
	*problems = p;
	return S_OK;
}

void mh_pv_problems_push(mh_buf *b, uint16_t count, const mh_prop_problem *problems)
{
	if (count > 0 && problems == NULL) {
		push_fail(b, MAPI_E_INVALID_PARAMETER, "PropertyProblemArray of %u has no problems",
		          (unsigned)count);
		return;
	}
	mh_buf_u16(b, count);
	for (uint16_t i = 0; i < count; i++) {
		mh_buf_u16(b, problems[i].index);
		mh_buf_u32(b, problems[i].tag);
		mh_buf_u32(b, (uint32_t)problems[i].err);
	}
}

/* ---- ids ------------------------------------------------------------------------------ */

uint16_t mh_id_replid(uint64_t id)
{
	return (uint16_t)(id & 0xFFFF);
}

/* Wire byte k (0..7) of the id sits at bits 8k of the in-memory value. */
uint64_t mh_id_counter(uint64_t id)
{
	uint64_t v = 0;
	for (int k = 2; k < 8; k++)
		v = (v << 8) | ((id >> (8 * k)) & 0xFF);
	return v;
}

uint64_t mh_id_make(uint16_t replid, uint64_t counter)
{
	uint64_t id = replid;
	for (int k = 2; k < 8; k++)
		id |= ((counter >> (8 * (7 - k))) & 0xFF) << (8 * k);
	return id;
}

mh_status mh_long_term_id_pull(mh_cursor *c, mh_long_term_id *out)
{
	mh_status st = mh_cursor_need(c, 24, "LongTermId");
	if (st != S_OK)
		return st;
	(void)mh_cursor_guid(c, &out->database_guid, "DatabaseGuid");
	(void)mh_cursor_u48be(c, &out->global_counter, "GlobalCounter");
	(void)mh_cursor_u16(c, &out->pad, "Pad");
	return S_OK;
}

void mh_long_term_id_push(mh_buf *b, const mh_long_term_id *lt)
{
	mh_buf_guid(b, &lt->database_guid);
	mh_buf_u48be(b, lt->global_counter);
	mh_buf_u16(b, lt->pad);
}

/* ---- comparison ----------------------------------------------------------------------- */

static bool str_equal(const char *x, const char *y)
{
	if (x == NULL || y == NULL)
		return x == y;
	return strcmp(x, y) == 0;
}

static bool bin_equal(const SBinary *x, const SBinary *y)
{
	if (x->cb != y->cb || (x->lpb == NULL) != (y->lpb == NULL))
		return false;
	return x->cb == 0 || memcmp(x->lpb, y->lpb, x->cb) == 0;
}

static bool guid_equal(const GUID *x, const GUID *y)
{
	return x->Data1 == y->Data1 && x->Data2 == y->Data2 && x->Data3 == y->Data3 &&
	       memcmp(x->Data4, y->Data4, 8) == 0;
}

bool mh_pv_value_equal(uint16_t type, const union _PV *x, const union _PV *y)
{
	if (type & MV_FLAG) {
		uint16_t base = type & (uint16_t)~MV_FLAG;
		uint32_t nx, ny;
		const void *ax, *ay;
		if (!is_mv_type(type))
			return false;
		mv_parts(type, x, &nx, &ax);
		mv_parts(type, y, &ny, &ay);
		if (nx != ny || (ax == NULL) != (ay == NULL))
			return false;
		for (uint32_t i = 0; i < nx; i++) {
			bool eq;
			switch (base) {
			case PT_STRING8:
			case PT_UNICODE:
				eq = str_equal(((char *const *)ax)[i], ((char *const *)ay)[i]);
				break;
			case PT_BINARY:
				eq =
				    bin_equal(&((const SBinary *)ax)[i], &((const SBinary *)ay)[i]);
				break;
			case PT_CLSID:
				eq = guid_equal(&((const GUID *)ax)[i], &((const GUID *)ay)[i]);
				break;
			default: {
				size_t sz = fixed_size(base);
				eq = memcmp((const unsigned char *)ax + (size_t)i * sz,
				            (const unsigned char *)ay + (size_t)i * sz, sz) == 0;
				break;
			}
			}
			if (!eq)
				return false;
		}
		return true;
	}
	switch (type) {
	case PT_NULL:
	case PT_OBJECT:
		return true;
	case PT_I2:
		return x->i == y->i;
	case PT_LONG:
	case PT_ERROR:
		return x->l == y->l;
	case PT_R4: /* bitwise, so that NaNs and -0 survive a round trip */
		return memcmp(&x->flt, &y->flt, sizeof(float)) == 0;
	case PT_DOUBLE:
	case PT_APPTIME:
		return memcmp(&x->dbl, &y->dbl, sizeof(double)) == 0;
	case PT_CURRENCY:
	case PT_I8:
		return x->li == y->li;
	case PT_BOOLEAN:
		return (x->b != 0) == (y->b != 0);
	case PT_SYSTIME:
		return x->ft.dwLowDateTime == y->ft.dwLowDateTime &&
		       x->ft.dwHighDateTime == y->ft.dwHighDateTime;
	case PT_STRING8:
		return str_equal(x->lpszA, y->lpszA);
	case PT_UNICODE:
		return str_equal(x->lpszW, y->lpszW);
	case PT_CLSID:
		if (x->lpguid == NULL || y->lpguid == NULL)
			return x->lpguid == y->lpguid;
		return guid_equal(x->lpguid, y->lpguid);
	case PT_BINARY:
	case PT_SVREID:
		return bin_equal(&x->bin, &y->bin);
	default:
		return false;
	}
}
