#include "core/rank.h"
#include "core/util.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exploitation samples among this many of the best-scored candidates. */
#define TOP_K 64
/* Distances to the recent past look at this many recent tracks. */
#define RECENT_MAX 32
/* Cold start and exploration measure distances for at most this many
 * candidates, drawn uniformly (reservoir sampling): a library of 100,000
 * tracks costs no more than one of 4,096, and a smaller one is exact. */
#define SAMPLE_MAX 4096

struct rank {
	int n, dim;
	float *z;		/* n × dim standardised features */
	uint64_t rng;
	int *order;		/* n scratch */
	float *dist;		/* n scratch */
};

struct rank *rank_new(const float *x, int n, int dim, uint64_t seed,
		      char *err, size_t err_size)
{
	assert(n >= 0 && dim > 0);
	struct rank *r = calloc(1, sizeof *r);
	if (!r)
		goto oom;
	r->n = n;
	r->dim = dim;
	r->rng = seed ? seed : 0x6d70647265630aULL;
	size_t cells = (size_t)(n ? n : 1) * (size_t)dim;
	r->z = malloc(cells * sizeof *r->z);
	r->order = malloc((size_t)(n ? n : 1) * sizeof *r->order);
	r->dist = malloc((size_t)(n ? n : 1) * sizeof *r->dist);
	if (!r->z || !r->order || !r->dist)
		goto oom;
	/* Standardise each feature (mean 0, sd 1) so that no unit (Hz, dB,
	 * seconds) dominates the distances. */
	for (int j = 0; j < dim; j++) {
		double s = 0, ss = 0;
		for (int i = 0; i < n; i++) {
			double v = x[(size_t)i * dim + j];
			s += v;
			ss += v * v;
		}
		double mu = n ? s / n : 0;
		double var = n ? ss / n - mu * mu : 0;
		double sd = var > 1e-12 ? sqrt(var) : 1.0;
		for (int i = 0; i < n; i++)
			r->z[(size_t)i * dim + j] =
				(float)((x[(size_t)i * dim + j] - mu) / sd);
	}
	return r;
oom:
	snprintf(err, err_size, "out of memory for %d tracks", n);
	rank_free(r);
	return NULL;
}

void rank_free(struct rank *r)
{
	if (!r)
		return;
	free(r->z);
	free(r->order);
	free(r->dist);
	free(r);
}

int rank_size(const struct rank *r)
{
	return r->n;
}

float rank_distance(const struct rank *r, int a, int b)
{
	const float *p = r->z + (size_t)a * r->dim;
	const float *q = r->z + (size_t)b * r->dim;
	float d = 0;
	for (int j = 0; j < r->dim; j++) {
		float t = p[j] - q[j];
		d += t * t;
	}
	return d;
}

/* Distance of track i to the nearest of the recent ones (FLT_MAX if none). */
static float to_recent(const struct rank *r, int i, const int *recent,
		       int n_recent)
{
	float best = FLT_MAX;
	for (int k = 0; k < n_recent && k < RECENT_MAX; k++) {
		if (recent[k] < 0 || recent[k] >= r->n)
			continue;
		float d = rank_distance(r, i, recent[k]);
		if (d < best)
			best = d;
	}
	return best;
}

/* Fills r->order with a uniform sample of at most SAMPLE_MAX eligible
 * tracks (only plausible ones when `plausible`); returns how many. */
static int sample(struct rank *r, const struct rank_request *q,
		  bool plausible)
{
	int m = 0;
	for (int i = 0; i < r->n; i++) {
		if (!q->eligible[i] ||
		    (plausible && q->mean[i] + 2 * q->spread[i] < 0.5f))
			continue;
		m++;
		if (m <= SAMPLE_MAX) {
			r->order[m - 1] = i;
		} else {
			uint64_t j = util_rand_u64(&r->rng) % (uint64_t)m;
			if (j < SAMPLE_MAX)
				r->order[j] = i;
		}
	}
	return m < SAMPLE_MAX ? m : SAMPLE_MAX;
}

static bool pick_cold(struct rank *r, const struct rank_request *q,
		      struct rank_pick *out)
{
	/* Farthest-point sampling from what was heard: the candidate whose
	 * nearest recent track is farthest, so the first picks cover the
	 * library's different corners. Among near-ties, chance decides. */
	int best = -1;
	float best_d = -1;
	int m = sample(r, q, false);
	for (int k = 0; k < m; k++) {
		int i = r->order[k];
		float d = to_recent(r, i, q->recent, q->n_recent);
		if (d == FLT_MAX)
			d = (float)util_rand_uniform(&r->rng);
		else
			d *= (float)(0.9 + 0.2 * util_rand_uniform(&r->rng));
		if (d > best_d) {
			best_d = d;
			best = i;
		}
	}
	if (best < 0)
		return false;
	out->index = best;
	out->mode = RANK_COLD;
	out->score = NAN;
	out->uncertainty = NAN;
	snprintf(out->reason, sizeof out->reason,
		 "cold start: far from the %d recent tracks (distance %.1f)",
		 q->n_recent < RECENT_MAX ? q->n_recent : RECENT_MAX,
		 q->n_recent ? (double)best_d : 0.0);
	return true;
}

static bool pick_explore(struct rank *r, const struct rank_request *q,
			 struct rank_pick *out)
{
	/* Least sure, away from the recent past: spread weighted by the
	 * distance to what was heard lately. Optimistic, as in UCB: only
	 * among tracks that might well be liked (score + 2 spread >= 1/2),
	 * the pop listener's pop-punk song rather than what the ensemble
	 * agrees they dislike; all of them when none qualifies. */
	int best = -1;
	double best_v = -1;
	int m = sample(r, q, true);
	if (m == 0)
		m = sample(r, q, false);
	for (int k = 0; k < m; k++) {
		int i = r->order[k];
		float d = to_recent(r, i, q->recent, q->n_recent);
		double away = d == FLT_MAX ? 1.0 : sqrt((double)d);
		double v = (double)q->spread[i] * (0.5 + away);
		if (v > best_v) {
			best_v = v;
			best = i;
		}
	}
	if (best < 0)
		return false;
	out->index = best;
	out->mode = RANK_EXPLORE;
	out->score = q->mean[best];
	out->uncertainty = q->spread[best];
	snprintf(out->reason, sizeof out->reason,
		 "explore: least sure (spread %.3f), away from recent tracks",
		 (double)q->spread[best]);
	return true;
}


static bool pick_exploit(struct rank *r, const struct rank_request *q,
			 struct rank_pick *out)
{
	/* The TOP_K best in one pass with a min-heap of their indices (n can
	 * be 100,000: no sort, no repeated scans), then sorted best first. */
	int *h = r->order, k = 0, m = 0;
	const float *sc = q->mean;
	for (int i = 0; i < r->n; i++) {
		if (!q->eligible[i])
			continue;
		m++;
		if (k < TOP_K) {
			int c = k++;	/* sift up */
			while (c > 0 && sc[h[(c - 1) / 2]] > sc[i]) {
				h[c] = h[(c - 1) / 2];
				c = (c - 1) / 2;
			}
			h[c] = i;
		} else if (sc[i] > sc[h[0]]) {
			int c = 0;	/* replace the smallest, sift down */
			for (;;) {
				int l = 2 * c + 1, small = l;
				if (l >= k)
					break;
				if (l + 1 < k && sc[h[l + 1]] < sc[h[l]])
					small = l + 1;
				if (sc[h[small]] >= sc[i])
					break;
				h[c] = h[small];
				c = small;
			}
			h[c] = i;
		}
	}
	if (k == 0)
		return false;
	for (int a = 1; a < k; a++) {	/* insertion sort, best first */
		int v = h[a], b = a - 1;
		while (b >= 0 && sc[h[b]] < sc[v]) {
			h[b + 1] = h[b];
			b--;
		}
		h[b + 1] = v;
	}
	double top = q->mean[r->order[0]];
	double t = q->temperature > 1e-6 ? q->temperature : 1e-6;
	double total = 0;
	for (int a = 0; a < k; a++) {
		r->dist[a] = (float)exp((q->mean[r->order[a]] - top) / t);
		total += r->dist[a];
	}
	double u = util_rand_uniform(&r->rng) * total;
	int chosen = k - 1;
	for (int a = 0; a < k; a++) {
		u -= r->dist[a];
		if (u <= 0) {
			chosen = a;
			break;
		}
	}
	int i = r->order[chosen];
	out->index = i;
	out->mode = RANK_EXPLOIT;
	out->score = q->mean[i];
	out->uncertainty = q->spread[i];
	snprintf(out->reason, sizeof out->reason,
		 "exploit: score %.3f, rank %d of %d candidates",
		 (double)q->mean[i], chosen + 1, m);
	return true;
}

bool rank_pick(struct rank *r, const struct rank_request *q,
	       struct rank_pick *out)
{
	memset(out, 0, sizeof *out);
	out->index = -1;
	if (q->cold || !q->mean || !q->spread)
		return pick_cold(r, q, out);
	if (util_rand_uniform(&r->rng) < q->explore_rate && pick_explore(r, q, out))
		return true;
	return pick_exploit(r, q, out);
}

int rank_nearest(const struct rank *r, int a, const unsigned char *flags,
		 int k, int *out)
{
	int m = 0;
	for (int i = 0; i < r->n; i++) {
		if (i == a || (flags && !flags[i]))
			continue;
		r->order[m] = i;
		r->dist[m] = rank_distance(r, a, i);
		m++;
	}
	int w = 0;
	for (; w < k && w < m; w++) {
		int best = w;
		for (int b = w + 1; b < m; b++)
			if (r->dist[b] < r->dist[best])
				best = b;
		float td = r->dist[w];
		r->dist[w] = r->dist[best];
		r->dist[best] = td;
		int ti = r->order[w];
		r->order[w] = r->order[best];
		r->order[best] = ti;
		out[w] = r->order[w];
	}
	return w;
}
