/*
 * Test-vector loader: NAME.hex (the bytes, whitespace ignored) and
 * NAME.expected (key=value lines) under tests/vectors/.
 */
#ifndef MH_TESTS_VECTORS_H
#define MH_TESTS_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mh_vector_kv {
	char *key;
	char *value;
} mh_vector_kv;

typedef struct mh_vector {
	char name[128];
	uint8_t *data; /* malloc()ed bytes of NAME.hex */
	size_t len;
	mh_vector_kv *kv; /* NAME.expected in file order */
	size_t n_kv;
} mh_vector;

/* Loads dir/name.hex and dir/name.expected; returns 0, or -1 with a message on stderr. */
int mh_vector_load(mh_vector *v, const char *dir, const char *name);
void mh_vector_free(mh_vector *v);

/* The value of key in v's .expected, or NULL. */
const char *mh_vector_get(const mh_vector *v, const char *key);

/*
 * The names (without extension) of every NAME.hex in dir, sorted, in a
 * malloc()ed array of malloc()ed strings; returns the count, or -1.
 */
long mh_vector_list(const char *dir, char ***names);
void mh_vector_list_free(char **names, long n);

/*
 * Reads a wire vector (../shared/testdata/wire and gromox format): lines
 * starting with '#' are comments, the rest is hex with any whitespace.
 * Returns malloc()ed bytes (free()), or NULL with a message on stderr.
 * An empty vector gives a non-NULL pointer and *len 0.
 */
uint8_t *mh_vector_read_hex(const char *path, size_t *len);

/* True when s ends with suf. */
bool mh_vector_has_suffix(const char *s, const char *suf);

/*
 * The X-RequestType of a capture, from its "# X-RequestType: ..." comment
 * line, into out (cap bytes); returns 1 if found, else 0.
 */
int mh_vector_request_type(const char *path, char *out, size_t cap);

/* A fixed-seed pseudo-random sequence (splitmix64) for reproducible tests. */
uint64_t mh_test_rng_next(uint64_t *state);

#endif
