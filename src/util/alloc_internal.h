/*
 * The library's own heap calls, with a per-thread failure injector so that
 * tests can fail every allocation in turn.
 */
#ifndef MH_UTIL_ALLOC_INTERNAL_H
#define MH_UTIL_ALLOC_INTERNAL_H

#include <stddef.h>

void *mh_malloc(size_t n);
void *mh_calloc(size_t n, size_t size);
void *mh_realloc(void *p, size_t n);
void mh_free(void *p);

/*
 * Test hook: on the calling thread, let n more allocations succeed and fail
 * every one after that; n < 0 turns injection off (the default). This
 * thread-local counter is documented mutable state, used only by tests.
 */
void mh_alloc_fail_after(long n);

#endif
