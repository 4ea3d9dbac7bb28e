/*
 * mapihttpd's fault injection: parses --fault rules and decides, under one mutex, which events
 * fail. Probabilistic rules draw from their own splitmix64 generator so a seed repeats a run.
 */
#include "server/fault.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/diag.h"

/* Longest rule text taken; real rules are a few dozen characters. */
#define SPEC_MAX 256u
/* Longest duration: a day, so ms * 1000 and the like never overflow anywhere downstream. */
#define MS_MAX 86400000u
/* p is held as a fraction of 2^53, the resolution of one draw. */
#define P_ONE ((uint64_t)1 << 53)

typedef struct rule {
	mh_srv_fault_kind kind;
	uint32_t every; /* 0: probabilistic */
	uint64_t p53;   /* p * 2^53, 1 .. P_ONE */
	uint64_t rng;   /* splitmix64 state */
	uint32_t ms;
} rule;

struct mh_srv_faults {
	pthread_mutex_t lock;
	rule rules[MH_SRV_FAULT_MAX_RULES];
	unsigned n;
	uint64_t events[MH_SRV_FAULT_KINDS];
};

static const char *const kind_names[MH_SRV_FAULT_KINDS] = {
    "close", "503", "expire", "stall", "backoff", "wrongserver",
};

static const uint32_t default_ms[MH_SRV_FAULT_KINDS] = {0, 1000, 0, 20000, 1000, 0};

const char *mh_srv_fault_kind_name(mh_srv_fault_kind k)
{
	return (unsigned)k < MH_SRV_FAULT_KINDS ? kind_names[k] : "?";
}

mh_status mh_srv_faults_new(mh_srv_faults **out)
{
	*out = NULL;
	mh_srv_faults *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return mh_error_oom();
	if (pthread_mutex_init(&f->lock, NULL) != 0) {
		free(f);
		return mh_error_oom();
	}
	*out = f;
	return S_OK;
}

void mh_srv_faults_free(mh_srv_faults *f)
{
	if (f == NULL)
		return;
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* A decimal whole number of at most max; false on anything else (sign, space, overflow). */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (s[0] < '0' || s[0] > '9')
		return false;
	uint64_t v = 0;
	for (size_t i = 0; s[i] != 0; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/*
 * "D[.D...]" or ".D..." as a fraction of 2^53 (rounded down, at least 1 when the number is
 * not 0), without strtod so no locale, exponent, hex, inf or nan gets in. false when it is
 * not such a number; values over 1 come back as P_ONE + 1.
 */
static bool parse_p(const char *s, uint64_t *out)
{
	size_t i = 0;
	uint64_t whole = 0;
	bool digits = false;
	while (s[i] >= '0' && s[i] <= '9') {
		if (whole < 10)
			whole = whole * 10 + (uint64_t)(s[i] - '0');
		digits = true;
		i++;
	}
	/* The fraction in units of 10^-18, enough for the 2^-53 resolution of a draw. */
	uint64_t frac = 0, scale = 100000000000000000ull;
	bool frac_nonzero = false;
	if (s[i] == '.') {
		i++;
		if (s[i] < '0' || s[i] > '9')
			return false;
		while (s[i] >= '0' && s[i] <= '9') {
			frac += (uint64_t)(s[i] - '0') * scale;
			frac_nonzero |= s[i] != '0';
			scale /= 10;
			digits = true;
			i++;
		}
	}
	if (!digits || s[i] != 0)
		return false;
	if (whole > 1 || (whole == 1 && frac_nonzero)) {
		*out = P_ONE + 1;
		return true;
	}
	if (whole == 1) {
		*out = P_ONE;
		return true;
	}
	/* A double carries 53 bits, the resolution of a draw, so nothing that matters is lost. */
	uint64_t v = (uint64_t)((double)frac / 1e18 * (double)P_ONE);
	if (v == 0 && frac_nonzero)
		v = 1;
	*out = v;
	return true;
}

mh_status mh_srv_faults_add(mh_srv_faults *f, const char *spec)
{
	if (f == NULL || spec == NULL)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1, "fault rule: no rule given");
	size_t len = strlen(spec);
	if (len == 0)
		return mh_error_set(
		    MAPI_E_INVALID_PARAMETER, 0,
		    "fault rule is empty; give KIND[,every=N][,p=P][,seed=S][,ms=T]");
	if (len > SPEC_MAX)
		return mh_error_set(MAPI_E_INVALID_PARAMETER, SPEC_MAX,
		                    "fault rule is longer than %u characters", SPEC_MAX);
	char buf[SPEC_MAX + 1];
	memcpy(buf, spec, len + 1);

	rule r;
	memset(&r, 0, sizeof(r));
	r.kind = MH_SRV_FAULT_KINDS;
	char *field = buf;
	char *comma = strchr(field, ',');
	if (comma != NULL)
		*comma = 0;
	for (unsigned k = 0; k < MH_SRV_FAULT_KINDS; k++) {
		if (strcmp(field, kind_names[k]) == 0)
			r.kind = (mh_srv_fault_kind)k;
	}
	if (r.kind == MH_SRV_FAULT_KINDS)
		return mh_error_set(
		    MAPI_E_INVALID_PARAMETER, 0,
		    "fault rule '%s': unknown kind '%s' (close, 503, expire, stall, "
		    "backoff or wrongserver)",
		    spec, field);

	enum { K_EVERY, K_P, K_SEED, K_MS, K_COUNT };
	static const char *const keys[K_COUNT] = {"every", "p", "seed", "ms"};
	bool seen[K_COUNT] = {false, false, false, false};
	uint64_t seed = 1, ms = default_ms[r.kind];
	while (comma != NULL) {
		field = comma + 1;
		size_t at = (size_t)(field - buf);
		comma = strchr(field, ',');
		if (comma != NULL)
			*comma = 0;
		char *eq = strchr(field, '=');
		if (eq == NULL)
			return mh_error_set(MAPI_E_INVALID_PARAMETER, (int64_t)at,
			                    "fault rule '%s': '%s' at offset %zu is not KEY=VALUE "
			                    "(every, p, seed or ms)",
			                    spec, field, at);
		*eq = 0;
		const char *val = eq + 1;
		unsigned key = K_COUNT;
		for (unsigned k = 0; k < K_COUNT; k++) {
			if (strcmp(field, keys[k]) == 0)
				key = k;
		}
		if (key == K_COUNT)
			return mh_error_set(
			    MAPI_E_INVALID_PARAMETER, (int64_t)at,
			    "fault rule '%s': unknown key '%s' at offset %zu (every, p, "
			    "seed or ms)",
			    spec, field, at);
		if (seen[key])
			return mh_error_set(MAPI_E_INVALID_PARAMETER, (int64_t)at,
			                    "fault rule '%s': key '%s' given twice (offset %zu)",
			                    spec, field, at);
		seen[key] = true;
		uint64_t v = 0;
		bool ok;
		switch (key) {
		case K_EVERY:
			ok = parse_u64(val, UINT32_MAX, &v) && v >= 1;
			if (!ok)
				return mh_error_set(
				    MAPI_E_INVALID_PARAMETER, (int64_t)at,
				    "fault rule '%s': every wants a whole number from 1 "
				    "to 4294967295, not '%s' (offset %zu)",
				    spec, val, at);
			r.every = (uint32_t)v;
			break;
		case K_P:
			if (!parse_p(val, &v))
				return mh_error_set(
				    MAPI_E_INVALID_PARAMETER, (int64_t)at,
				    "fault rule '%s': p wants a decimal number such as "
				    "0.25, not '%s' (offset %zu)",
				    spec, val, at);
			if (v == 0 || v > P_ONE)
				return mh_error_set(
				    MAPI_E_INVALID_PARAMETER, (int64_t)at,
				    "fault rule '%s': p must be over 0 and at most 1, "
				    "not %s (offset %zu)",
				    spec, val, at);
			r.p53 = v;
			break;
		case K_SEED:
			if (!parse_u64(val, UINT64_MAX, &seed))
				return mh_error_set(
				    MAPI_E_INVALID_PARAMETER, (int64_t)at,
				    "fault rule '%s': seed wants a whole number from 0 "
				    "to 18446744073709551615, not '%s' (offset %zu)",
				    spec, val, at);
			break;
		default:
			if (!parse_u64(val, MS_MAX, &ms))
				return mh_error_set(
				    MAPI_E_INVALID_PARAMETER, (int64_t)at,
				    "fault rule '%s': ms wants milliseconds from 0 to "
				    "%u, not '%s' (offset %zu)",
				    spec, MS_MAX, val, at);
			break;
		}
	}
	if (seen[K_EVERY] && seen[K_P])
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "fault rule '%s': give every=N or p=P, not both", spec);
	if (!seen[K_EVERY] && !seen[K_P])
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "fault rule '%s': give every=N (every Nth event) or p=P (each "
		                    "event with probability P)",
		                    spec);
	if (seen[K_SEED] && !seen[K_P])
		return mh_error_set(MAPI_E_INVALID_PARAMETER, -1,
		                    "fault rule '%s': seed only goes with p=P", spec);
	r.rng = seed;
	r.ms = (uint32_t)ms;

	pthread_mutex_lock(&f->lock);
	mh_status s = S_OK;
	if (f->n == MH_SRV_FAULT_MAX_RULES)
		s = mh_error_set(MAPI_E_TOO_BIG, -1,
		                 "fault rule '%s': a server holds at most %u fault rules", spec,
		                 MH_SRV_FAULT_MAX_RULES);
	else
		f->rules[f->n++] = r;
	pthread_mutex_unlock(&f->lock);
	return s;
}

bool mh_srv_faults_hit(mh_srv_faults *f, mh_srv_fault_kind k, uint32_t *ms)
{
	if (f == NULL || (unsigned)k >= MH_SRV_FAULT_KINDS)
		return false;
	bool fire = false;
	uint32_t dur = 0;
	pthread_mutex_lock(&f->lock);
	uint64_t n = ++f->events[k];
	for (unsigned i = 0; i < f->n; i++) {
		rule *r = &f->rules[i];
		if (r->kind != k)
			continue;
		bool this_one;
		if (r->every != 0) {
			this_one = n % r->every == 0;
		} else {
			/* Every p rule draws on every event, fired or not, so its sequence depends
			 * only on its seed and the event count, not on the other rules. */
			this_one = (splitmix64(&r->rng) >> 11) < r->p53;
		}
		if (this_one && !fire) {
			fire = true;
			dur = r->ms;
		}
	}
	pthread_mutex_unlock(&f->lock);
	if (fire && ms != NULL)
		*ms = dur;
	return fire;
}
