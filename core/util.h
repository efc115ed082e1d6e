/* What several modules share, written once: random numbers (splitmix64),
 * string hashing (FNV-1a) with a string → index table, and the clocks.
 * Free of I/O; every function is thread-safe on its own arguments. */
#ifndef MPDREC_UTIL_H
#define MPDREC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- random numbers: splitmix64, small, fast, good enough for sampling */

/** Returns the next 64 random bits and advances *state. */
uint64_t util_rand_u64(uint64_t *state);

/** Returns a uniform double in [0, 1) and advances *state. */
double util_rand_uniform(uint64_t *state);

/** Returns a standard normal draw (Box–Muller) and advances *state. */
double util_rand_normal(uint64_t *state);

/** Returns a uniform integer in [0, n), n > 0, and advances *state. */
int util_rand_int(uint64_t *state, int n);

/* ---- hashing ---- */

/** Returns a 64-bit hash of the string s (not stable across releases:
 * what is kept on disk with it carries a version). */
uint64_t util_hash(const char *s);

/** A string → index table (open addressing, linear probing) over keys the
 *  caller owns: it stores indices into the caller's array of strings and
 *  compares through it, so the keys must stay valid and unchanged while
 *  the table is used. */
struct util_index {
	int *slot;		/* -1: empty */
	size_t mask;		/* slots - 1; slots is a power of two */
	size_t n;
};

/** Builds the table over keys[0..n) (borrowed); a key given twice keeps
 *  its first index. Replaces what *t held. Returns false when out of
 *  memory (then *t is empty). Free with util_index_free(). */
bool util_index_build(struct util_index *t, char *const *keys, int n);

/** As util_index_build() for keys the caller knows to be distinct (a
 *  table's primary key): no search for duplicates while building, which
 *  a million keys made cost half a second. */
bool util_index_build_distinct(struct util_index *t, char *const *keys,
			       int n);

/** Gives the table room for `want` keys in all without growing (keys: the
 *  array its keys are in, to move those it holds). Returns false when out
 *  of memory (the table is unchanged). */
bool util_index_reserve(struct util_index *t, char *const *keys,
			size_t want);

/** Adds key index i (keys[i], borrowed) to the table, growing it as
 *  needed. Returns false when out of memory (the table is unchanged). */
bool util_index_add(struct util_index *t, char *const *keys, int i);

/** Returns the index of key in the table over keys, or -1. */
int util_index_find(const struct util_index *t, char *const *keys,
		    const char *key);

/** Frees the slots and leaves *t empty. Accepts an empty table. */
void util_index_free(struct util_index *t);

/* ---- clocks ---- */

/** Returns CLOCK_MONOTONIC in seconds: for durations and deadlines. */
double util_mono(void);

/** Returns the wall clock (CLOCK_REALTIME) in seconds since the epoch:
 *  for what is stored. */
double util_epoch(void);

#endif
