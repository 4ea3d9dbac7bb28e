/*
 * Shared set-up of the mapihttpd fuzz targets: a store with the sample organisation and a
 * session layer, created once per process, and calls into a request handler made the way the
 * HTTP front makes them, with checks on every answer.
 */
#ifndef MH_FUZZ_SRV_COMMON_H
#define MH_FUZZ_SRV_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "codec/mapihttp.h"
#include "mapihttp/status.h"
#include "server/http.h"
#include "server/mapi_srv.h"
#include "server/store.h"
#include "util/arena.h"
#include "util/buf.h"

/* Contexts left behind past which the session layer is dropped and made again. */
#define FZ_SRV_MAX_CONTEXTS 16u

/* The cookies of one session context, as a client keeps them. */
typedef struct fz_jar {
	size_t n;
	char name[MH_SRV_HTTP_MAX_COOKIES][64];
	char value[MH_SRV_HTTP_MAX_COOKIES][MH_SRV_HTTP_MAX_COOKIE_VALUE + 1];
	mh_srv_cookie ck[MH_SRV_HTTP_MAX_COOKIES];
} fz_jar;

typedef struct fz_srv {
	mh_srv_store *st;
	mh_srv_mapi *mapi;
	mh_arena ids; /* principal and mailbox */
	mh_srv_recipient principal;
	mh_srv_mailbox mailbox;
	GUID request_guid;
	uint32_t counter;
} fz_srv;

/*
 * The process's state, made on first use: the one exception to "no globals" the fuzz
 * targets have, since libFuzzer gives LLVMFuzzerTestOneInput no payload. Aborts when the
 * set-up fails: nothing can be fuzzed then.
 */
fz_srv *fz_srv_get(void);

/* Empties a jar. */
void fz_jar_init(fz_jar *j);

/*
 * One request to the EMSMDB or NSPI handler, as the front would make it: principal and
 * mailbox from the state, info filled for type, cookies as given. Checks the answer (aborts
 * on a broken promise of mh_srv_mapi_handler or a success body the client codecs cannot
 * read) and puts its Set-Cookie pairs into jar (may be NULL). resp->body is freed here;
 * *response_code (may be NULL) gets the X-ResponseCode, or 1 when handle() failed.
 */
void fz_srv_call(fz_srv *s, unsigned endpoint, mh_mapihttp_request_type type,
                 const mh_srv_cookie *ck, size_t n_ck, const uint8_t *body, size_t len, fz_jar *jar,
                 uint32_t *response_code);

/* Like fz_srv_call, but keeps the response body in *out (the caller frees it). */
void fz_srv_call_body(fz_srv *s, unsigned endpoint, mh_mapihttp_request_type type,
                      const mh_srv_cookie *ck, size_t n_ck, const uint8_t *body, size_t len,
                      fz_jar *jar, uint32_t *response_code, mh_buf *out);

/* A valid Connect request body for the state's principal. */
void fz_srv_connect_body(const fz_srv *s, mh_buf *b);

/* A valid Execute request body: rops (a plain ROP input buffer) in one extended buffer. */
void fz_srv_execute_body(mh_buf *b, uint32_t flags, uint32_t max_rop_out, const uint8_t *rops,
                         size_t len);

/* A RopLogon to the state's mailbox (logon 0, handle index 0) as a whole ROP input buffer. */
void fz_srv_logon_rops(const fz_srv *s, mh_buf *b);

/* A valid Connect (EMSMDB) or Bind (NSPI); S_OK when the jar now names a live context. */
mh_status fz_srv_open(fz_srv *s, unsigned endpoint, fz_jar *jar);

/* Disconnect (EMSMDB) or Unbind (NSPI) with the jar's cookies, then bounds the contexts. */
void fz_srv_close(fz_srv *s, unsigned endpoint, fz_jar *jar);

/* Drops and remakes the session layer when more than FZ_SRV_MAX_CONTEXTS are left over. */
void fz_srv_bound(fz_srv *s);

#endif
