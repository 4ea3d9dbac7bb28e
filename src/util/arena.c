/*
 * Capped bump allocator: chunks of at least 4 KiB, newest first; a request
 * larger than a chunk gets a chunk of its own.
 */
#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include "util/alloc_internal.h"
#include "util/arena.h"
#include "util/diag.h"

#define CHUNK_MIN 4096u
#define ALIGN     alignof(max_align_t)

typedef struct mh_arena_chunk {
	struct mh_arena_chunk *next;
	size_t size; /* usable bytes after the header */
	size_t pos;
	max_align_t data[];
} chunk;

void mh_arena_init(mh_arena *a, size_t cap)
{
	a->head = NULL;
	a->used = 0;
	a->cap = cap;
}

void mh_arena_free(mh_arena *a)
{
	chunk *c = a->head, *next;
	while (c != NULL) {
		next = c->next;
		mh_free(c);
		c = next;
	}
	a->head = NULL;
	a->used = 0;
}

mh_status mh_arena_alloc(mh_arena *a, size_t n, void **out)
{
	size_t cap = a->cap ? a->cap : MH_ARENA_DEFAULT_CAP;
	size_t need;
	chunk *c = a->head;

	*out = NULL;
	/* Even a zero-byte request takes one aligned slot, and it counts. */
	if (n > cap || n > SIZE_MAX - ALIGN)
		goto too_big;
	need = n == 0 ? ALIGN : (n + ALIGN - 1) & ~(ALIGN - 1);
	if (a->used > cap || need > cap - a->used)
		goto too_big;
	if (c == NULL || c->size - c->pos < need) {
		size_t size = need > CHUNK_MIN ? need : CHUNK_MIN;
		if (size > SIZE_MAX - sizeof(chunk))
			goto too_big;
		c = mh_malloc(sizeof(chunk) + size);
		if (c == NULL)
			return mh_error_oom();
		c->size = size;
		c->pos = 0;
		c->next = a->head;
		a->head = c;
	}
	*out = (unsigned char *)c->data + c->pos;
	memset(*out, 0, need);
	c->pos += need;
	a->used += need;
	return S_OK;

too_big:
	return mh_error_set(
	    MAPI_E_TOO_BIG, -1,
	    "decoded data would exceed the %zu-byte cap (%zu bytes in use, %zu more "
	    "asked)",
	    cap, a->used, n);
}

mh_status mh_arena_array(mh_arena *a, size_t count, size_t size, void **out)
{
	if (size != 0 && count > SIZE_MAX / size) {
		*out = NULL;
		return mh_error_set(MAPI_E_TOO_BIG, -1,
		                    "array of %zu elements of %zu bytes is too large", count, size);
	}
	return mh_arena_alloc(a, count * size, out);
}

mh_status mh_arena_memdup(mh_arena *a, const void *p, size_t n, void **out)
{
	mh_status st;
	*out = NULL;
	if (n == 0)
		return S_OK;
	st = mh_arena_alloc(a, n, out);
	if (st == S_OK)
		memcpy(*out, p, n);
	return st;
}

mh_status mh_arena_strndup(mh_arena *a, const char *s, size_t n, char **out)
{
	void *p;
	mh_status st;
	*out = NULL;
	if (n == SIZE_MAX)
		return mh_error_set(MAPI_E_TOO_BIG, -1, "string too long");
	st = mh_arena_alloc(a, n + 1, &p);
	if (st != S_OK)
		return st;
	memcpy(p, s, n);
	*out = p;
	return S_OK;
}
