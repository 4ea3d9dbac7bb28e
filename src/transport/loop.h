/*
 * The client's event loop: one transport, timers and a clock. Every network operation of the
 * library (Autodiscover, session contexts, the scanner) is a state machine driven from here,
 * on one thread; the synchronous API runs the loop until its operation is done. The clock is
 * injectable, so tests of backoff, keep-alive and expiry run on virtual time without sleeping.
 */
#ifndef MH_TRANSPORT_LOOP_H
#define MH_TRANSPORT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapihttp/status.h"
#include "mapihttp/sys/transport.h"

typedef struct mh_loop mh_loop;

/*
 * Milliseconds on a monotonic clock. A virtual clock also provides advance(): when the loop
 * would wait for a timer and no request is pending, it moves the clock to the timer instead
 * of sleeping.
 */
typedef struct mh_loop_clock {
	uint64_t (*now)(void *ud);
	void (*advance)(void *ud, uint64_t to); /* NULL for a real clock */
	void *ud;
} mh_loop_clock;

/*
 * A loop over t (borrowed: it must outlive the loop). clock NULL: CLOCK_MONOTONIC.
 * MAPI_E_NOT_ENOUGH_MEMORY, MAPI_E_INVALID_PARAMETER.
 */
mh_status mh_loop_new(mh_loop **out, mh_transport *t, const mh_loop_clock *clock);

/* Cancels every timer (without running it) and frees the loop; NULL is a no-op. */
void mh_loop_free(mh_loop *l);

mh_transport *mh_loop_transport(mh_loop *l);
uint64_t mh_loop_now(mh_loop *l);

/* Runs fn(ud) once, from inside mh_loop_run*, when delay_ms have passed. *id may be NULL. */
mh_status mh_loop_timer(mh_loop *l, uint64_t delay_ms, void (*fn)(void *ud), void *ud,
                        uint64_t *id);

/* Cancels a timer that has not run; unknown ids are ignored. */
void mh_loop_timer_cancel(mh_loop *l, uint64_t id);

/*
 * Drives the transport and the timers until *done is true, nothing is left to do (no
 * pending request, no timer), or deadline (mh_loop_now() value; 0: none) passes.
 * S_OK when *done became true; MAPI_E_TIMEOUT at the deadline; MAPI_E_CALL_FAILED when
 * nothing is left to do but *done is still false (a state machine lost its way: a bug);
 * a transport failure from run().
 */
mh_status mh_loop_run_until(mh_loop *l, const bool *done, uint64_t deadline);

/* One pass: whatever I/O and timers are ready now, waiting at most timeout_ms. */
mh_status mh_loop_run_once(mh_loop *l, int timeout_ms);

#endif
