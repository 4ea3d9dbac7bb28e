/*
 * mh_arena: a bump allocator with a hard cap, for structures decoded from
 * untrusted bytes. Everything a decoder allocates lives in one arena and is
 * freed at once; the cap bounds what one hostile buffer can make us allocate.
 */
#ifndef MH_UTIL_ARENA_H
#define MH_UTIL_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/status.h"

/* Default cap: 16 MiB for what one decoded MAPI/HTTP body may expand to. */
#define MH_ARENA_DEFAULT_CAP ((size_t)16 << 20)

struct mh_arena_chunk;

typedef struct mh_arena {
	struct mh_arena_chunk *head; /* newest chunk first */
	size_t used;                 /* bytes handed out, for the cap */
	size_t cap;                  /* 0: MH_ARENA_DEFAULT_CAP */
} mh_arena;

#define MH_ARENA_INIT      \
	{                  \
		NULL, 0, 0 \
	}

/* Starts an empty arena whose allocations may total at most cap bytes (0: default). */
void mh_arena_init(mh_arena *a, size_t cap);

/* Frees every allocation; the arena can be used again. */
void mh_arena_free(mh_arena *a);

/*
 * n zeroed bytes aligned for any type in *out. Fails with MAPI_E_TOO_BIG
 * ("decoded data would exceed the N-byte cap") past the cap and with
 * MAPI_E_NOT_ENOUGH_MEMORY when the heap runs out; *out is NULL then.
 */
mh_status mh_arena_alloc(mh_arena *a, size_t n, void **out);

/* As mh_arena_alloc for count elements of size bytes, checking the product. */
mh_status mh_arena_array(mh_arena *a, size_t count, size_t size, void **out);

/* A copy of n bytes (NULL when n is 0). */
mh_status mh_arena_memdup(mh_arena *a, const void *p, size_t n, void **out);

/* A NUL-terminated copy of n bytes of s. */
mh_status mh_arena_strndup(mh_arena *a, const char *s, size_t n, char **out);

#endif
