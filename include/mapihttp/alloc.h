/*
 * MAPI buffers: MAPIAllocateBuffer, MAPIAllocateMore and MAPIFreeBuffer
 * with MAPI's semantics, and helpers that copy and search property arrays.
 */
#ifndef MAPIHTTP_ALLOC_H
#define MAPIHTTP_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/common.h"
#include "mapihttp/mapidefs.h"

MH_BEGIN_DECLS

/**
 * Allocates a root MAPI buffer of cbSize bytes (zero-filled, aligned for
 * any type) and stores it in *lppBuffer.
 *
 * @return S_OK; MAPI_E_INVALID_PARAMETER if lppBuffer is NULL;
 *         MAPI_E_NOT_ENOUGH_MEMORY when memory runs out (*lppBuffer NULL).
 */
MH_EXTERN mh_status MAPIAllocateBuffer(uint32_t cbSize, void **lppBuffer);

/**
 * Allocates cbSize bytes (zero-filled) chained to lpObject, a live buffer
 * returned by MAPIAllocateBuffer or MAPIAllocateMore; the new block lives
 * until the root buffer is freed. Blocks chained to one root must not be
 * allocated from two threads at once.
 *
 * @return S_OK; MAPI_E_INVALID_PARAMETER if lpObject or lppBuffer is NULL;
 *         MAPI_E_NOT_ENOUGH_MEMORY.
 */
MH_EXTERN mh_status MAPIAllocateMore(uint32_t cbSize, void *lpObject, void **lppBuffer);

/**
 * Frees a root MAPI buffer and every block chained to it. NULL is a
 * no-op. Passing a block from MAPIAllocateMore frees nothing (its memory
 * belongs to its root) and returns MAPI_E_INVALID_PARAMETER. As in MAPI,
 * passing a pointer that no MAPI allocation returned, or one already
 * freed, is undefined behaviour.
 *
 * @return S_OK or MAPI_E_INVALID_PARAMETER.
 */
MH_EXTERN mh_status MAPIFreeBuffer(void *lpBuffer);

/**
 * Finds the property with tag ulPropTag in lpProps (cValues entries). A tag
 * of type PT_UNSPECIFIED matches any type with the same property id.
 * Returns NULL when there is none (MAPI's PpropFindProp).
 */
MH_EXTERN SPropValue *mh_props_find(uint32_t cValues, const SPropValue *lpProps,
                                    uint32_t ulPropTag);

/**
 * Deep-copies cValues properties into one new MAPI buffer (strings, binaries
 * and arrays are chained to it), stored in *lppDest; free with
 * MAPIFreeBuffer (MAPI's ScDupPropset).
 *
 * @return S_OK; MAPI_E_INVALID_PARAMETER for NULL pointers (lpSrc may be
 *         NULL when cValues is 0); MAPI_E_INVALID_TYPE for a property type
 *         mapihttp does not know (PT_OBJECT, PT_SRESTRICT, PT_ACTIONS);
 *         MAPI_E_NOT_ENOUGH_MEMORY.
 */
MH_EXTERN mh_status mh_props_copy(SPropValue **lppDest, uint32_t cValues, const SPropValue *lpSrc);

/**
 * Deep-copies one property value; the copied strings and arrays are
 * chained to lpObject, an existing MAPI buffer (MAPI's PropCopyMore).
 *
 * @return as mh_props_copy.
 */
MH_EXTERN mh_status mh_prop_copy_more(SPropValue *lpDest, const SPropValue *lpSrc, void *lpObject);

MH_END_DECLS

#endif
