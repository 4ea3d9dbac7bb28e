/*
 * The client's event loop: one transport, a list of timers and a clock (CLOCK_MONOTONIC or a
 * virtual one that tests move forward instead of sleeping).
 */
#include "transport/loop.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/diag.h"

typedef struct loop_timer {
	uint64_t due;
	uint64_t id; /* also the tie-break: equal due times run in the order they were set */
	void (*fn)(void *ud);
	void *ud;
} loop_timer;

struct mh_loop {
	mh_transport *t;
	mh_loop_clock clock;
	/* sorted by (due, id) descending: the next timer is the last, so running it is a pop */
	loop_timer *timers;
	size_t n, cap;
	uint64_t next_id;
};

static uint64_t monotonic_now(void *ud)
{
	(void)ud;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

mh_status mh_loop_new(mh_loop **out, mh_transport *t, const mh_loop_clock *clock)
{
	if (out == NULL || t == NULL || t->ops == NULL || (clock != NULL && clock->now == NULL))
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_loop_new: out and a transport are required; a clock needs "
		                    "now()");
	*out = NULL;
	mh_loop *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return mh_error_oom();
	l->t = t;
	if (clock != NULL)
		l->clock = *clock;
	else
		l->clock.now = monotonic_now;
	*out = l;
	return S_OK;
}

void mh_loop_free(mh_loop *l)
{
	if (l == NULL)
		return;
	free(l->timers);
	free(l);
}

mh_transport *mh_loop_transport(mh_loop *l)
{
	return l->t;
}

uint64_t mh_loop_now(mh_loop *l)
{
	return l->clock.now(l->clock.ud);
}

/* a runs after b */
static bool later(const loop_timer *a, const loop_timer *b)
{
	return a->due != b->due ? a->due > b->due : a->id > b->id;
}

mh_status mh_loop_timer(mh_loop *l, uint64_t delay_ms, void (*fn)(void *ud), void *ud, uint64_t *id)
{
	if (l == NULL || fn == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_loop_timer: no loop or function");
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		loop_timer *p = realloc(l->timers, cap * sizeof(*p));
		if (p == NULL)
			return mh_error_oom();
		l->timers = p;
		l->cap = cap;
	}
	uint64_t now = mh_loop_now(l);
	loop_timer tm = {now + delay_ms < now ? UINT64_MAX : now + delay_ms, ++l->next_id, fn, ud};
	/* binary search for the first position whose timer does not run after tm */
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (later(&l->timers[mid], &tm))
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&l->timers[lo + 1], &l->timers[lo], (l->n - lo) * sizeof(*l->timers));
	l->timers[lo] = tm;
	l->n++;
	if (id != NULL)
		*id = tm.id;
	return S_OK;
}

void mh_loop_timer_cancel(mh_loop *l, uint64_t id)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		if (l->timers[i].id == id) {
			memmove(&l->timers[i], &l->timers[i + 1],
			        (l->n - i - 1) * sizeof(*l->timers));
			l->n--;
			return;
		}
	}
}

/*
 * Runs the timers due at the time this call began (one by one: each may add or cancel
 * others); stops early once *done. Returns how many ran.
 */
static size_t run_due(mh_loop *l, const bool *done)
{
	uint64_t now = mh_loop_now(l);
	uint64_t last = l->next_id;
	size_t ran = 0;
	while (l->n > 0 && (done == NULL || !*done)) {
		loop_timer tm = l->timers[l->n - 1];
		if (tm.due > now || tm.id > last)
			break;
		l->n--;
		tm.fn(tm.ud);
		ran++;
	}
	return ran;
}

static int clamp_ms(uint64_t ms)
{
	return ms > (uint64_t)INT_MAX ? INT_MAX : (int)ms;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Waits for I/O or the clock until `until` (UINT64_MAX: no limit). With no request pending a
 * virtual clock jumps there; a real one sleeps.
 */
static mh_status wait_until(mh_loop *l, uint64_t until)
{
	uint64_t now = mh_loop_now(l);
	uint64_t wait = until > now ? until - now : 0;
	if (l->t->ops->pending(l->t->self) > 0)
		return l->t->ops->run(l->t->self, until == UINT64_MAX ? -1 : clamp_ms(wait));
	if (until == UINT64_MAX || wait == 0)
		return S_OK;
	if (l->clock.advance != NULL)
		l->clock.advance(l->clock.ud, until);
	else
		sleep_ms(wait);
	return S_OK;
}

mh_status mh_loop_run_until(mh_loop *l, const bool *done, uint64_t deadline)
{
	if (l == NULL || done == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "mh_loop_run_until: no loop or flag");
	for (;;) {
		if (*done)
			return S_OK;
		run_due(l, done);
		if (*done)
			return S_OK;
		uint64_t now = mh_loop_now(l);
		if (deadline != 0 && now >= deadline)
			return mh_error_set(
			    MAPI_E_TIMEOUT, -1,
			    "event loop: deadline passed before the operation ended");
		bool pending = l->t->ops->pending(l->t->self) > 0;
		if (!pending && l->n == 0)
			return mh_error_set(
			    MAPI_E_CALL_FAILED, -1,
			    "event loop: nothing left to wait for, but the operation "
			    "has not ended (a state machine lost its way)");
		uint64_t until = l->n > 0 ? l->timers[l->n - 1].due : UINT64_MAX;
		if (deadline != 0 && deadline < until)
			until = deadline;
		mh_status st = wait_until(l, until);
		if (st != S_OK)
			return st;
	}
}

mh_status mh_loop_run_once(mh_loop *l, int timeout_ms)
{
	if (l == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "mh_loop_run_once: no loop");
	if (run_due(l, NULL) > 0) {
		/* collect what I/O is ready too, without waiting */
		if (l->t->ops->pending(l->t->self) > 0)
			return l->t->ops->run(l->t->self, 0);
		return S_OK;
	}
	uint64_t until = timeout_ms < 0 ? UINT64_MAX : mh_loop_now(l) + (uint64_t)timeout_ms;
	if (l->n > 0 && l->timers[l->n - 1].due < until)
		until = l->timers[l->n - 1].due;
	if (until == UINT64_MAX && l->t->ops->pending(l->t->self) == 0)
		return S_OK; /* nothing would ever wake us */
	mh_status st = wait_until(l, until);
	if (st != S_OK)
		return st;
	run_due(l, NULL);
	return S_OK;
}
