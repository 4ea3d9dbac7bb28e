/*
 * MAPI buffers (MAPIAllocateBuffer/More/FreeBuffer), property copies, and
 * the library's heap wrappers with test-time failure injection.
 */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "mapihttp/alloc.h"
#include "util/alloc_internal.h"
#include "util/diag.h"

static _Thread_local long fail_after = -1;

void mh_alloc_fail_after(long n)
{
	fail_after = n;
}

static int inject_failure(void)
{
	if (fail_after < 0)
		return 0;
	if (fail_after == 0)
		return 1;
	fail_after--;
	return 0;
}

void *mh_malloc(size_t n)
{
	return inject_failure() ? NULL : malloc(n ? n : 1);
}

void *mh_calloc(size_t n, size_t size)
{
	return inject_failure() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *mh_realloc(void *p, size_t n)
{
	return inject_failure() ? NULL : realloc(p, n ? n : 1);
}

void mh_free(void *p)
{
	free(p);
}

/* Every MAPI block starts with this header; the caller's bytes follow it. */
#define BLOCK_ROOT 0x4D485242u /* "MHRB" */
#define BLOCK_MORE 0x4D48524Du /* "MHRM" */

typedef struct block {
	union {
		struct {
			uint32_t magic;
			struct block *root; /* the root block (itself for a root) */
			struct block *next; /* next block chained to the root */
		} h;
		max_align_t align;
	} u;
} block;

static block *block_of(void *p)
{
	return (block *)((unsigned char *)p - sizeof(block));
}

static mh_status block_new(uint32_t cb, uint32_t magic, block **out)
{
	block *b = mh_calloc(1, sizeof(block) + (size_t)cb);
	if (b == NULL)
		return mh_error_oom();
	b->u.h.magic = magic;
	*out = b;
	return S_OK;
}

mh_status MAPIAllocateBuffer(uint32_t cbSize, void **lppBuffer)
{
	block *b = NULL;
	mh_status st;
	if (lppBuffer == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "MAPIAllocateBuffer: lppBuffer is NULL");
	*lppBuffer = NULL;
	st = block_new(cbSize, BLOCK_ROOT, &b);
	if (st != S_OK)
		return st;
	b->u.h.root = b;
	*lppBuffer = b + 1;
	return S_OK;
}

mh_status MAPIAllocateMore(uint32_t cbSize, void *lpObject, void **lppBuffer)
{
	block *b = NULL, *owner, *root;
	mh_status st;
	if (lppBuffer != NULL)
		*lppBuffer = NULL;
	if (lppBuffer == NULL || lpObject == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "MAPIAllocateMore: %s is NULL",
		                    lppBuffer == NULL ? "lppBuffer" : "lpObject");
	*lppBuffer = NULL;
	owner = block_of(lpObject);
	if (owner->u.h.magic != BLOCK_ROOT && owner->u.h.magic != BLOCK_MORE)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "MAPIAllocateMore: lpObject is not a MAPI buffer");
	root = owner->u.h.root;
	st = block_new(cbSize, BLOCK_MORE, &b);
	if (st != S_OK)
		return st;
	b->u.h.root = root;
	b->u.h.next = root->u.h.next;
	root->u.h.next = b;
	*lppBuffer = b + 1;
	return S_OK;
}

mh_status MAPIFreeBuffer(void *lpBuffer)
{
	block *b, *next;
	if (lpBuffer == NULL)
		return S_OK;
	b = block_of(lpBuffer);
	if (b->u.h.magic != BLOCK_ROOT)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "MAPIFreeBuffer: not a root MAPI buffer (a block from "
		                    "MAPIAllocateMore is freed with its root)");
	for (block *m = b->u.h.next; m != NULL; m = next) {
		next = m->u.h.next;
		m->u.h.magic = 0;
		mh_free(m);
	}
	b->u.h.magic = 0;
	mh_free(b);
	return S_OK;
}

SPropValue *mh_props_find(uint32_t cValues, const SPropValue *lpProps, uint32_t ulPropTag)
{
	if (lpProps == NULL)
		return NULL;
	for (uint32_t i = 0; i < cValues; i++) {
		uint32_t t = lpProps[i].ulPropTag;
		if (t == ulPropTag ||
		    (PROP_TYPE(ulPropTag) == PT_UNSPECIFIED && PROP_ID(t) == PROP_ID(ulPropTag)))
			return (SPropValue *)(uintptr_t)&lpProps[i];
	}
	return NULL;
}

/* Copies n bytes to a new block chained to root; NULL stays NULL when n is 0. */
static mh_status dup_more(void **dst, const void *src, size_t n, void *root)
{
	mh_status st;
	*dst = NULL;
	if (n == 0)
		return S_OK;
	if (src == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "property value has a NULL pointer for %zu bytes", n);
	if (n > UINT32_MAX)
		return mh_error_set(MAPI_E_NOT_ENOUGH_MEMORY, -1, "property value too large");
	st = MAPIAllocateMore((uint32_t)n, root, dst);
	if (st != S_OK)
		return st;
	memcpy(*dst, src, n);
	return S_OK;
}

static mh_status dup_str_more(char **dst, const char *src, void *root)
{
	if (src == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "string property value is NULL");
	return dup_more((void **)dst, src, strlen(src) + 1, root);
}

static mh_status dup_array_more(void **dst, const void *src, uint32_t count, size_t elem,
                                void *root)
{
	if ((size_t)count > SIZE_MAX / elem)
		return mh_error_set(MAPI_E_NOT_ENOUGH_MEMORY, -1, "property array too large");
	return dup_more(dst, src, (size_t)count * elem, root);
}

static mh_status dup_strings_more(char ***dst, char *const *src, uint32_t count, void *root)
{
	mh_status st = dup_array_more((void **)dst, src, count, sizeof(char *), root);
	for (uint32_t i = 0; st == S_OK && i < count; i++)
		st = dup_str_more(&(*dst)[i], src[i], root);
	return st;
}

mh_status mh_prop_copy_more(SPropValue *lpDest, const SPropValue *lpSrc, void *lpObject)
{
	const union _PV *s;
	union _PV *d;
	mh_status st = S_OK;

	if (lpDest == NULL || lpSrc == NULL || lpObject == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_prop_copy_more: NULL argument");
	s = &lpSrc->Value;
	d = &lpDest->Value;
	*lpDest = *lpSrc;
	switch (PROP_TYPE(lpSrc->ulPropTag)) {
	case PT_NULL:
	case PT_I2:
	case PT_LONG:
	case PT_R4:
	case PT_DOUBLE:
	case PT_CURRENCY:
	case PT_APPTIME:
	case PT_ERROR:
	case PT_BOOLEAN:
	case PT_I8:
	case PT_SYSTIME:
		break;
	case PT_STRING8:
		st = dup_str_more(&d->lpszA, s->lpszA, lpObject);
		break;
	case PT_UNICODE:
		st = dup_str_more(&d->lpszW, s->lpszW, lpObject);
		break;
	case PT_BINARY:
	case PT_SVREID:
		st = dup_more((void **)&d->bin.lpb, s->bin.lpb, s->bin.cb, lpObject);
		break;
	case PT_CLSID:
		st = dup_more((void **)&d->lpguid, s->lpguid, sizeof(GUID), lpObject);
		break;
	case PT_MV_I2:
		st = dup_array_more((void **)&d->MVi.lpi, s->MVi.lpi, s->MVi.cValues,
		                    sizeof(int16_t), lpObject);
		break;
	case PT_MV_LONG:
		st = dup_array_more((void **)&d->MVl.lpl, s->MVl.lpl, s->MVl.cValues,
		                    sizeof(int32_t), lpObject);
		break;
	case PT_MV_R4:
		st = dup_array_more((void **)&d->MVflt.lpflt, s->MVflt.lpflt, s->MVflt.cValues,
		                    sizeof(float), lpObject);
		break;
	case PT_MV_DOUBLE:
		st = dup_array_more((void **)&d->MVdbl.lpdbl, s->MVdbl.lpdbl, s->MVdbl.cValues,
		                    sizeof(double), lpObject);
		break;
	case PT_MV_CURRENCY:
		st = dup_array_more((void **)&d->MVcur.lpcur, s->MVcur.lpcur, s->MVcur.cValues,
		                    sizeof(int64_t), lpObject);
		break;
	case PT_MV_APPTIME:
		st = dup_array_more((void **)&d->MVat.lpat, s->MVat.lpat, s->MVat.cValues,
		                    sizeof(double), lpObject);
		break;
	case PT_MV_SYSTIME:
		st = dup_array_more((void **)&d->MVft.lpft, s->MVft.lpft, s->MVft.cValues,
		                    sizeof(FILETIME), lpObject);
		break;
	case PT_MV_I8:
		st = dup_array_more((void **)&d->MVli.lpli, s->MVli.lpli, s->MVli.cValues,
		                    sizeof(int64_t), lpObject);
		break;
	case PT_MV_CLSID:
		st = dup_array_more((void **)&d->MVguid.lpguid, s->MVguid.lpguid, s->MVguid.cValues,
		                    sizeof(GUID), lpObject);
		break;
	case PT_MV_STRING8:
		st =
		    dup_strings_more(&d->MVszA.lppszA, s->MVszA.lppszA, s->MVszA.cValues, lpObject);
		break;
	case PT_MV_UNICODE:
		st =
		    dup_strings_more(&d->MVszW.lppszW, s->MVszW.lppszW, s->MVszW.cValues, lpObject);
		break;
	case PT_MV_BINARY:
		st = dup_array_more((void **)&d->MVbin.lpbin, s->MVbin.lpbin, s->MVbin.cValues,
		                    sizeof(SBinary), lpObject);
		for (uint32_t i = 0; st == S_OK && i < s->MVbin.cValues; i++)
			st = dup_more((void **)&d->MVbin.lpbin[i].lpb, s->MVbin.lpbin[i].lpb,
			              s->MVbin.lpbin[i].cb, lpObject);
		break;
	default:
		memset(d, 0, sizeof(*d));
		return mh_error_set(MAPI_E_INVALID_TYPE, -1,
		                    "cannot copy property 0x%08X: type 0x%04X is not supported",
		                    (unsigned)lpSrc->ulPropTag,
		                    (unsigned)PROP_TYPE(lpSrc->ulPropTag));
	}
	return st;
}

mh_status mh_props_copy(SPropValue **lppDest, uint32_t cValues, const SPropValue *lpSrc)
{
	SPropValue *dst;
	mh_status st;
	if (lppDest == NULL || (lpSrc == NULL && cValues > 0))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_props_copy: NULL argument");
	*lppDest = NULL;
	if ((size_t)cValues > UINT32_MAX / sizeof(SPropValue))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_props_copy: too many values");
	st = MAPIAllocateBuffer((uint32_t)(cValues * sizeof(SPropValue)), (void **)&dst);
	if (st != S_OK)
		return st;
	for (uint32_t i = 0; i < cValues; i++) {
		st = mh_prop_copy_more(&dst[i], &lpSrc[i], dst);
		if (st != S_OK) {
			MAPIFreeBuffer(dst);
			return st;
		}
	}
	*lppDest = dst;
	return S_OK;
}
