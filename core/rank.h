/* Ranking and exploration: which track to queue next, given the model's
 * scores. Free of MPD and of the model: it works on arrays. Exploit samples
 * among the best-scored with a softmax; explore takes the track the
 * ensemble is least sure of, away from what was heard lately; a cold start
 * spreads picks over the feature space (farthest-point sampling). */
#ifndef MPDREC_RANK_H
#define MPDREC_RANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rank;

/** How a pick was made. */
enum rank_mode { RANK_EXPLOIT, RANK_EXPLORE, RANK_COLD };

struct rank_request {
	const float *mean;		/* n scores in [0, 1]; NULL: cold */
	const float *spread;		/* n uncertainties; NULL: cold */
	const unsigned char *eligible;	/* n flags: may be picked */
	const int *recent;		/* library indices heard or queued
					   lately, most recent first */
	int n_recent;
	bool cold;			/* too few events, or one class */
	double temperature;		/* softmax temperature, > 0 */
	double explore_rate;		/* probability of exploring */
};

struct rank_pick {
	int index;			/* into the library */
	enum rank_mode mode;
	float score;			/* mean score, or NaN when cold */
	float uncertainty;		/* spread, or NaN when cold */
	char reason[160];		/* short, for the log and the store */
};

/** Prepares ranking over a library of n tracks × dim raw features
 *  (row-major, borrowed only during the call): features are standardised
 *  for distances. `seed` makes picks reproducible. Returns NULL with err
 *  filled. Free with rank_free(). */
struct rank *rank_new(const float *x, int n, int dim, uint64_t seed,
		      char *err, size_t err_size);

/** Frees. Accepts NULL. */
void rank_free(struct rank *r);

/** Number of tracks it was built for. */
int rank_size(const struct rank *r);

/** Picks one eligible track. Returns false when none is eligible. */
bool rank_pick(struct rank *r, const struct rank_request *q,
	       struct rank_pick *out);

/** Squared standardised distance between tracks a and b. */
float rank_distance(const struct rank *r, int a, int b);

/** Indices of the k tracks nearest to track a among those with flag set
 *  (flags may be NULL: all), nearest first; returns how many written. */
int rank_nearest(const struct rank *r, int a, const unsigned char *flags,
		 int k, int *out);

#endif
