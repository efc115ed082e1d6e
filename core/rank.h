/* The pick policy: which tracks to queue next. One function serves the
 * daemon's queue and `mpdrec recommend`. Free of MPD, of the store and of
 * the model: it works on arrays, and asks the caller to rescore the few
 * tracks it considers.
 *
 * - Candidates: allowed by the caller (filters, bans, duration), not
 *   queued, artist not among the last artist_spacing songs (relaxed when
 *   nothing else is left).
 * - Value: the model's score combined with the learned affinities (odds
 *   multiplied) and with the track's own verdicts, then history as a
 *   preference: a track heard within the history window counts at most
 *   3/4, less the more recently it was heard. So unheard tracks the model
 *   is sure of come first, and the least recently heard liked track beats
 *   one expected to be skipped.
 * - Exploit: a draw by rank among the best few percent of the candidates
 *   (EXPLOIT_SHARE, at least one), whatever the scale of the scores.
 * - Explore, at a rate that falls as the ensemble grows sure and rises
 *   when recent songs were skipped: a draw among the best by an upper
 *   confidence bound (score + 2 spread) that the exploit draw would not
 *   take and that have a real chance of a like (bound >= 1/2).
 * - Cold (too few labels, or one class): farthest-point sampling across
 *   the feature space, away from what was heard, weighted by affinity.
 *
 * Features are standardised on the fly (per-feature mean and spread): no
 * copy of the library is kept.
 */
#ifndef MPDREC_RANK_H
#define MPDREC_RANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct affinity;
struct rank;

/* Exploitation draws among this share of the candidates (at least 1, at
 * most EXPLOIT_MAX), the best first, by rank. */
#define RANK_EXPLOIT_SHARE 0.03
#define RANK_EXPLOIT_MAX 100

/** How a pick was made. */
enum rank_mode { RANK_EXPLOIT, RANK_EXPLORE, RANK_COLD };

/** Rescores k tracks (library indices idx) with the current model into
 *  mean (k) and spread (k). */
typedef void (*rank_rescore_fn)(void *ctx, const int *idx, int k,
				float *mean, float *spread);

struct rank_request {
	const float *mean;		/* n model scores in [0, 1], perhaps
					   stale; NULL: cold */
	const float *spread;		/* n ensemble spreads; NULL: cold */
	rank_rescore_fn rescore;	/* fresh scores for the shortlist;
					   NULL: use mean and spread */
	void *rescore_ctx;
	uint64_t stamp;			/* the caller's fingerprint of
					   mean and spread (rank_prepare),
					   0 unknown */
	const unsigned char *allowed;	/* n: may ever be picked */
	int n_allowed;			/* how many are, -1 unknown */
	const int *queued;		/* library indices in the queue (the
					   current song first), -1 ignored */
	int n_queued;
	double now;			/* epoch seconds */
	bool cold;			/* too few labels, or one class */
	double explore_rate;		/* queue.explore_rate, at most */
	int artist_spacing;		/* queue.artist_spacing */
	double history_s;		/* queue.history_hours, in seconds */
};

struct rank_pick {
	int index;			/* into the library */
	enum rank_mode mode;
	float score;			/* chance of a like, or NaN */
	float model;			/* the model's own score, or NaN */
	float uncertainty;		/* the ensemble's spread, or NaN */
	int rank;			/* 1-based, among `candidates` */
	int candidates;
	int heard_ago;			/* songs since last heard, -1
					   not within the window */
	double explore_p;		/* the exploration rate it drew with */
	char reason[512];		/* words, for the log and the store */
};

/** A policy over a library of n tracks × dim raw features x (row-major,
 *  borrowed: it must outlive the rank) and their groups aff (borrowed; may
 *  be NULL: no affinities, no artist spacing). `seed` makes picks
 *  reproducible. Returns NULL with err filled. Free with rank_free(). */
struct rank *rank_new(const float *x, int n, int dim, struct affinity *aff,
		      uint64_t seed, char *err, size_t err_size);

/** Frees. Accepts NULL. */
void rank_free(struct rank *r);

/** Number of tracks it was built for. */
int rank_size(const struct rank *r);

/** How many tracks the last rank_choose() valued: the candidates, or far
 *  fewer on the prepared path. */
int rank_scanned(const struct rank *r);

/** Notes an event of track i at epoch time `time` with `label` (1 like,
 *  0 dislike, -1 none): the track's own verdicts, and when `heard` (it was
 *  played, not only judged) its place in the history. Call in the order
 *  they happened. */
void rank_event(struct rank *r, int i, double time, int label, bool heard);

/** Chooses up to `need` tracks into out[0..) (the caller's array of
 *  `need`): each pick is excluded from the next and counts for artist
 *  spacing. Returns how many were chosen (fewer when the candidates ran
 *  out). */
int rank_choose(struct rank *r, const struct rank_request *q, int need,
		struct rank_pick *out);

/** Prepares the fast path for the scores mean and spread (n each), which
 *  `stamp` (nonzero) identifies: the best tracks by score and by
 *  optimistic score, sorted, so that a choice with the same stamp reads
 *  a few thousand tracks rather than the library (tracks with verdicts of
 *  their own are read apart). Costs a pass over the library: call it off
 *  the fill path, after the library is rescored. A no-op for libraries
 *  under 16,384 tracks (a choice reads them all in well under a
 *  millisecond) and when the stamp is unchanged. */
void rank_prepare(struct rank *r, const float *mean, const float *spread,
		  uint64_t stamp);

/** The exploration rate rank_choose would use now, given the mean spread
 *  of the best candidates (from the last choice). */
double rank_explore_rate(const struct rank *r, double base);

/** Squared standardised distance between tracks a and b. */
float rank_distance(const struct rank *r, int a, int b);

/** Indices of the k tracks nearest to track a among those with flag set
 *  (flags may be NULL: all), nearest first; returns how many written. */
int rank_nearest(const struct rank *r, int a, const unsigned char *flags,
		 int k, int *out);

#endif
