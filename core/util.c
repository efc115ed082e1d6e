#include "core/util.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t util_rand_u64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double util_rand_uniform(uint64_t *state)
{
	return (double)(util_rand_u64(state) >> 11) *
	       (1.0 / 9007199254740992.0);
}

double util_rand_normal(uint64_t *state)
{
	double u1 = util_rand_uniform(state), u2 = util_rand_uniform(state);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int util_rand_int(uint64_t *state, int n)
{
	assert(n > 0);
	return (int)((util_rand_u64(state) >> 33) % (uint64_t)n);
}

uint64_t util_hash(const char *s)
{
	/* Eight bytes a step (byte-wise FNV-1a took a multiply per byte:
	 * 60 ms to index a million uris), each step undoable for a given
	 * word, so strings of one length that differ in one word always
	 * differ; the end mixes the high bits into the low ones the tables
	 * index by. */
	const uint64_t k = 0xbf58476d1ce4e5b9ULL;
	size_t n = strlen(s);
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
	for (; n >= 8; n -= 8, s += 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * k;
	h ^= h >> 31;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 29);
}

/* Places index i at the first free slot from s on; there is room. */
static void place_at(struct util_index *t, size_t s, int i)
{
	while (t->slot[s] >= 0)
		s = (s + 1) & t->mask;
	t->slot[s] = i;
	t->n++;
}

/* Places index i without looking for a duplicate; there is room. */
static void place(struct util_index *t, char *const *keys, int i)
{
	place_at(t, util_hash(keys[i]) & t->mask, i);
}

/* Gives the table room for `want` keys at half load at most. */
static bool reserve(struct util_index *t, char *const *keys, size_t want)
{
	size_t cap = t->slot ? t->mask + 1 : 0;
	if (2 * want <= cap)
		return true;
	size_t n = 16;
	while (n < 2 * want)
		n *= 2;
	int *slot = malloc(n * sizeof *slot);
	if (!slot)
		return false;
	for (size_t k = 0; k < n; k++)
		slot[k] = -1;
	struct util_index grown = { slot, n - 1, 0 };
	for (size_t k = 0; k < cap; k++)
		if (t->slot[k] >= 0)
			place(&grown, keys, t->slot[k]);
	free(t->slot);
	*t = grown;
	return true;
}

bool util_index_reserve(struct util_index *t, char *const *keys,
			size_t want)
{
	return reserve(t, keys, want);
}

bool util_index_build(struct util_index *t, char *const *keys, int n)
{
	util_index_free(t);
	if (!reserve(t, keys, (size_t)(n > 0 ? n : 1)))
		return false;
	for (int i = 0; i < n; i++)
		if (util_index_find(t, keys, keys[i]) < 0)
			place(t, keys, i);
	return true;
}

bool util_index_build_distinct(struct util_index *t, char *const *keys,
			       int n)
{
	util_index_free(t);
	if (!reserve(t, keys, (size_t)(n > 0 ? n : 1)))
		return false;
	/* In runs: the slots of a run are fetched while its keys hash (a
	 * million keys scatter over a table far larger than the cache). */
	enum { RUN = 16 };
	size_t s[RUN];
	for (int i = 0; i < n; i += RUN) {
		int m = n - i < RUN ? n - i : RUN;
		for (int k = 0; k < m; k++) {
			s[k] = util_hash(keys[i + k]) & t->mask;
			__builtin_prefetch(&t->slot[s[k]], 1);
		}
		for (int k = 0; k < m; k++)
			place_at(t, s[k], i + k);
	}
	return true;
}

bool util_index_add(struct util_index *t, char *const *keys, int i)
{
	if (util_index_find(t, keys, keys[i]) >= 0)
		return true;
	if (!reserve(t, keys, t->n + 1))
		return false;
	place(t, keys, i);
	return true;
}

int util_index_find(const struct util_index *t, char *const *keys,
		    const char *key)
{
	if (!t->slot)
		return -1;
	for (size_t s = util_hash(key) & t->mask; t->slot[s] >= 0;
	     s = (s + 1) & t->mask)
		if (!strcmp(keys[t->slot[s]], key))
			return t->slot[s];
	return -1;
}

void util_index_free(struct util_index *t)
{
	free(t->slot);
	memset(t, 0, sizeof *t);
}

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double util_mono(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

double util_epoch(void)
{
	return clock_s(CLOCK_REALTIME);
}
