#include "core/rank.h"
#include "core/affinity.h"
#include "core/util.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Songs heard remembered: artist spacing, distances, the skip share. */
#define RING 64
/* Distances to the recent past look at this many recent tracks. */
#define RECENT_MAX 32
/* Cold picks measure distances for at most this many candidates, drawn
 * uniformly (reservoir sampling): a library of a million tracks costs no
 * more than one of 4,096, and a smaller one is exact. */
#define SAMPLE_MAX 4096
/* The shortlist: the best this many by value and by optimistic value,
 * rescored with the current model. A library this small is exact. */
#define SHORT_MAX 128
/* History: a track heard k songs ago loses HISTORY_WEIGHT·e^(-k/SONGS). */
#define HISTORY_SONGS 10.0
#define HISTORY_WEIGHT 0.5
#define PENALTY_TABLE 256
/* A heard track counts at most this chance: an unheard one the model
 * expects to be liked more comes first, a rested liked one beats the
 * unsure. */
#define HEARD_CAP 0.75
/* Weight of the model's chance against a track's own verdicts. */
#define OWN_PRIOR 1.0
/* Libraries this large prepare sorted orders (rank_prepare); each holds
 * the best n/32 tracks, at least ORDER_MIN. */
#define PREPARE_MIN 16384
#define ORDER_MIN 4096
/* Tracks heard since the preparation whose neighbours (NEAR each side in
 * the library's order, which is by path) are valued afresh. */
#define FRESH_MAX 64
#define NEAR 32
/* Optimism of exploration: the logit of the score plus UCB_SPREADS spreads
 * (delta method: a spread s at score m is s / (m (1 - m)) in logits). */
#define UCB_SPREADS 2.0
/* Ensemble spread at which exploration keeps its full rate; below, the
 * rate falls in proportion (never under a tenth). */
#define SPREAD_SURE 0.10
/* The skip share is read over this many recent labelled songs. */
#define SKIP_WINDOW 10

struct entry {
	double v;
	uint32_t t;		/* tie-break */
	int i;
};

/* The best tracks by a key (their odds of a like, times their odds
 * factor as of the preparation), sorted, and the largest key left out. */
struct order {
	int *idx;
	double *key;
	int t;
	double rest;
};

/* One track of the shortlist, rescored. */
struct item {
	int i;
	float mean, spread;	/* the model's, fresh */
	double p;		/* combined chance of a like */
	double po;		/* the same at its best case */
	double v, o;		/* value, optimistic value (history in) */
	uint32_t t;		/* tie-break */
	int heard_ago;		/* -1 none within the window */
	bool top;		/* among the exploit draw's candidates */
};

struct rank {
	int n, dim;
	const float *x;		/* borrowed, n × dim */
	float *inv_sd;		/* dim: 1 / standard deviation */
	struct affinity *aff;	/* borrowed, may be NULL */
	struct affinity_view groups;	/* aff's, for artist spacing */
	uint64_t rng;
	uint32_t salt;		/* tie-breaks change from round to round */
	/* history */
	uint32_t *heard_seq;	/* n: the play number of the last hearing,
				   0 never */
	float *play_at;		/* per play number (1..seq): its time,
				   seconds after epoch0; plays are far
				   fewer than tracks */
	uint32_t play_cap;
	double epoch0;
	uint32_t seq;
	unsigned char *own_liked;	/* n: the track's own likes (to 255) */
	unsigned char *own_skipped;	/* n: and dislikes */
	int ring[RING];		/* heard, most recent first */
	signed char ring_label[RING];
	int ring_n;
	float penalty[PENALTY_TABLE];
	/* scratch */
	unsigned char *mark;	/* n: 1 queued, 2 picked in this round; 4
				   and 8 a pass's own */
	unsigned char *blocked;	/* per group: artist spaced out */
	int *blocked_list;
	int n_blocked;
	struct entry heap_v[SHORT_MAX], heap_o[SHORT_MAX];
	struct item items[2 * SHORT_MAX];
	int n_items;
	int by_v[2 * SHORT_MAX], by_o[2 * SHORT_MAX];
	int short_idx[2 * SHORT_MAX];
	float short_mean[2 * SHORT_MAX], short_spread[2 * SHORT_MAX];
	int candidates;		/* counted by the last pass */
	int scanned;		/* tracks valued by the last choice */
	int n_marked;		/* queued or picked in this round */
	int blocked_tracks;	/* tracks of the spaced-out artists */
	int *judged;		/* tracks with verdicts of their own */
	int n_judged, cap_judged;
	struct order by_mean, by_opt;	/* rank_prepare() */
	int fresh[FRESH_MAX];	/* tracks heard since, then overflow */
	int n_fresh;
	uint64_t prepared;	/* the stamp of the scores they follow */
	bool relaxed;		/* artist spacing given up in this round */
	float last_spread;	/* mean spread of the best, last choice */
	int *sample;		/* SAMPLE_MAX */
};

struct rank *rank_new(const float *x, int n, int dim, struct affinity *aff,
		      uint64_t seed, char *err, size_t err_size)
{
	assert(n >= 0 && dim > 0 && (x || n == 0));
	struct rank *r = calloc(1, sizeof *r);
	if (!r)
		goto oom;
	r->n = n;
	r->dim = dim;
	r->x = x;
	r->aff = aff;
	r->rng = seed ? seed : 0x6d70647265630aULL;
	r->last_spread = (float)SPREAD_SURE;
	size_t m = (size_t)(n ? n : 1);
	r->inv_sd = malloc((size_t)dim * sizeof *r->inv_sd);
	r->heard_seq = calloc(m, sizeof *r->heard_seq);
	r->mark = calloc(m, 1);
	r->own_liked = calloc(m, 1);
	r->own_skipped = calloc(m, 1);
	r->sample = malloc(SAMPLE_MAX * sizeof *r->sample);
	if (!r->inv_sd || !r->heard_seq || !r->mark ||
	    !r->own_liked || !r->own_skipped || !r->sample)
		goto oom;
	if (aff) {
		struct affinity_view v;
		affinity_view(aff, &v);
		size_t g = (size_t)(v.groups ? v.groups : 1);
		r->groups = v;
		r->blocked = calloc(g, 1);
		r->blocked_list = malloc((RING + 2 * SHORT_MAX + 256) *
					 sizeof *r->blocked_list);
		if (!r->blocked || !r->blocked_list)
			goto oom;
	}
	/* Standardise each feature (mean 0, sd 1) so that no unit (Hz, dB,
	 * seconds) dominates the distances; only the spread matters for a
	 * difference, so only its inverse is kept. */
	double *s = calloc((size_t)dim * 2, sizeof *s);
	if (!s)
		goto oom;
	for (int i = 0; i < n; i++) {
		const float *row = x + (size_t)i * dim;
		for (int j = 0; j < dim; j++) {
			s[j] += row[j];
			s[dim + j] += (double)row[j] * row[j];
		}
	}
	for (int j = 0; j < dim; j++) {
		double mu = n ? s[j] / n : 0;
		double var = n ? s[dim + j] / n - mu * mu : 0;
		r->inv_sd[j] = var > 1e-12 ? (float)(1.0 / sqrt(var)) : 1.0f;
	}
	free(s);
	for (int k = 0; k < PENALTY_TABLE; k++)
		r->penalty[k] = (float)(HISTORY_WEIGHT *
					exp(-k / HISTORY_SONGS));
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
	free(r->inv_sd);
	free(r->heard_seq);
	free(r->play_at);
	free(r->mark);
	free(r->own_liked);
	free(r->own_skipped);
	free(r->blocked);
	free(r->blocked_list);
	free(r->sample);
	free(r->judged);
	free(r->by_mean.idx);
	free(r->by_opt.idx);
	free(r->by_mean.key);
	free(r->by_opt.key);
	free(r);
}

int rank_size(const struct rank *r)
{
	return r->n;
}

int rank_scanned(const struct rank *r)
{
	return r->scanned;
}

float rank_distance(const struct rank *r, int a, int b)
{
	const float *p = r->x + (size_t)a * r->dim;
	const float *q = r->x + (size_t)b * r->dim;
	float d = 0;
	for (int j = 0; j < r->dim; j++) {
		float t = (p[j] - q[j]) * r->inv_sd[j];
		d += t * t;
	}
	return d;
}

void rank_event(struct rank *r, int i, double time, int label, bool heard)
{
	if (i < 0 || i >= r->n)
		return;
	if ((label == 0 || label == 1) &&
	    !(r->own_liked[i] | r->own_skipped[i])) {
		if (r->n_judged == r->cap_judged) {
			int cap = r->cap_judged ? 2 * r->cap_judged : 64;
			int *v = realloc(r->judged, (size_t)cap * sizeof *v);
			if (!v)
				return;
			r->judged = v;
			r->cap_judged = cap;
		}
		r->judged[r->n_judged++] = i;
	}
	if (label == 1 && r->own_liked[i] < 255)
		r->own_liked[i]++;
	if (label == 0 && r->own_skipped[i] < 255)
		r->own_skipped[i]++;
	if (r->prepared && (label == 0 || label == 1)) {
		if (r->n_fresh < FRESH_MAX)
			r->fresh[r->n_fresh] = i;
		r->n_fresh++;
	}
	if (!heard)
		return;
	if (r->seq + 1 >= r->play_cap) {
		uint32_t cap = r->play_cap ? 2 * r->play_cap : 256;
		float *v = realloc(r->play_at, (size_t)cap * sizeof *v);
		if (!v)
			return;
		r->play_at = v;
		r->play_cap = cap;
	}
	if (r->seq == 0)
		r->epoch0 = time;
	r->heard_seq[i] = ++r->seq;
	r->play_at[r->seq] = (float)(time - r->epoch0);
	int keep = r->ring_n < RING ? r->ring_n : RING - 1;
	memmove(r->ring + 1, r->ring, (size_t)keep * sizeof *r->ring);
	memmove(r->ring_label + 1, r->ring_label, (size_t)keep);
	r->ring[0] = i;
	r->ring_label[0] = (signed char)label;
	r->ring_n = keep + 1;
}

double rank_explore_rate(const struct rank *r, double base)
{
	int labelled = 0, skipped = 0;
	for (int k = 0; k < r->ring_n && labelled < SKIP_WINDOW; k++) {
		if (r->ring_label[k] < 0)
			continue;
		labelled++;
		skipped += r->ring_label[k] == 0;
	}
	double skips = labelled ? (double)skipped / labelled : 0.5;
	double sure = r->last_spread / SPREAD_SURE;
	sure = sure < 0.1 ? 0.1 : sure > 1 ? 1 : sure;
	double rate = base * sure * (0.5 + skips);
	return rate > 0.5 ? 0.5 : rate;
}

/* --- artist spacing ------------------------------------------------------ */

static void unblock(struct rank *r)
{
	for (int k = 0; k < r->n_blocked; k++)
		r->blocked[r->blocked_list[k]] = 0;
	r->n_blocked = 0;
	r->blocked_tracks = 0;
}

static void block_track(struct rank *r, int i)
{
	if (i < 0 || i >= r->n)
		return;
	int a = affinity_artist_in(&r->groups, i);
	if (a >= 0 && !r->blocked[a]) {
		r->blocked[a] = 1;
		r->blocked_list[r->n_blocked++] = a;
		r->blocked_tracks += affinity_members(r->aff, a);
	}
}

/* Blocks the artists of the last `spacing` songs: this round's picks,
 * then the queue from its end, then what was heard, most recent first. */
static void block_artists(struct rank *r, const struct rank_request *q,
			  const struct rank_pick *picks, int n_picks)
{
	unblock(r);
	if (!r->aff || q->artist_spacing <= 0)
		return;
	int left = q->artist_spacing;
	for (int k = n_picks - 1; k >= 0 && left > 0; k--, left--)
		block_track(r, picks[k].index);
	for (int k = q->n_queued - 1; k >= 0 && left > 0; k--, left--)
		block_track(r, q->queued[k]);
	for (int k = 0; k < r->ring_n && left > 0; k++, left--)
		block_track(r, r->ring[k]);
}

static bool artist_blocked(const struct rank *r, int i)
{
	if (!r->n_blocked || r->relaxed)
		return false;
	int a = affinity_artist_in(&r->groups, i);
	return a >= 0 && r->blocked[a];
}

/* --- values -------------------------------------------------------------- */

/* Ties (equal values) are broken by a hash of the track and a salt drawn
 * for each choice: deterministic, and not always the library's first. */
static uint32_t tiebreak(uint32_t i, uint32_t salt)
{
	uint32_t h = (i ^ salt) * 0x9e3779b1u;
	h ^= h >> 15;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

/* Whether (v, t) ranks below (w, u). */
static bool below(double v, uint32_t t, double w, uint32_t u)
{
	return v < w || (v == w && t < u);
}

/* Odds and chances. The model's score m becomes odds m / (1 - m),
 * tempered by a square root (a temperature of 2 on its logit): an
 * ensemble trained on a few labels says 0.99 too readily, and the
 * affinities must be able to argue with it. The optimistic odds add
 * UCB_SPREADS spreads in logit space, to second order (no saturation, so
 * that the best cases stay ordered; no transcendental function in the
 * pass over the library). The affinities multiply the odds. */
static double odds(float m)
{
	double x = m < 1e-6f ? 1e-6 : m > 1 - 1e-6f ? 1 - 1e-6 : m;
	return sqrt(x / (1 - x));
}

static double opt_odds(float m, float s)
{
	double x = m < 1e-6f ? 1e-6 : m > 1 - 1e-6f ? 1 - 1e-6 : m;
	double d = UCB_SPREADS * (s > 0 ? s : 0) / (x * (1 - x));
	return sqrt(x / (1 - x) * (1 + d + 0.5 * d * d));
}

static double chance(double o, double a)
{
	double x = o * a;
	return x / (x + 1);
}

/* Songs since track i was heard within the window, or -1. */
static int heard_ago(const struct rank *r, int i, float since)
{
	uint32_t s = r->heard_seq[i];
	if (!s || r->play_at[s] < since)
		return -1;
	return (int)(r->seq - s);
}

/* The track's own verdicts: its chance p shrunk towards what the listener
 * said of it (a prior of OWN_PRIOR verdicts at p). */
static double with_own(const struct rank *r, int i, double p)
{
	unsigned liked = r->own_liked[i], skipped = r->own_skipped[i];
	if (!liked && !skipped)
		return p;
	return (liked + OWN_PRIOR * p) / (liked + skipped + OWN_PRIOR);
}

/* History as a preference: a track heard within the window counts at most
 * HEARD_CAP, less the more recently it was heard. */
static double with_history(const struct rank *r, double p, int ago)
{
	if (ago < 0)
		return p;
	double pen = r->penalty[ago < PENALTY_TABLE ? ago : PENALTY_TABLE - 1];
	return (p < HEARD_CAP ? p : HEARD_CAP) - pen;
}

/* Puts x at the root of the min-heap h of n entries, in place of the
 * root, and sifts it down to where it belongs. */
static void sift_down(struct entry *h, int n, struct entry x)
{
	int c = 0;
	for (;;) {
		int l = 2 * c + 1, small = l;
		if (l >= n)
			break;
		if (l + 1 < n && below(h[l + 1].v, h[l + 1].t, h[l].v,
				       h[l].t))
			small = l + 1;
		if (!below(h[small].v, h[small].t, x.v, x.t))
			break;
		h[c] = h[small];
		c = small;
	}
	h[c] = x;
}

/* Pushes (v, t, i) into a min-heap of the best `cap` (keeps the
 * largest). */
static void heap_push(struct entry *h, int *k, int cap, double v, uint32_t t,
		      int i)
{
	if (*k < cap) {
		int c = (*k)++;
		while (c > 0) {
			int up = (c - 1) / 2;
			if (!below(v, t, h[up].v, h[up].t))
				break;
			h[c] = h[up];
			c = up;
		}
		h[c] = (struct entry){ v, t, i };
		return;
	}
	if (below(h[0].v, h[0].t, v, t))
		sift_down(h, cap, (struct entry){ v, t, i });
}

static const struct item *sort_items;
static int by_value(const void *a, const void *b)
{
	const struct item *x = &sort_items[*(const int *)a];
	const struct item *y = &sort_items[*(const int *)b];
	return below(x->v, x->t, y->v, y->t) ? 1 :
	       below(y->v, y->t, x->v, x->t) ? -1 : 0;
}

static int by_optimism(const void *a, const void *b)
{
	const struct item *x = &sort_items[*(const int *)a];
	const struct item *y = &sort_items[*(const int *)b];
	return below(x->o, x->t, y->o, y->t) ? 1 :
	       below(y->o, y->t, x->o, x->t) ? -1 : 0;
}

/* Whether track i may be picked in this round. */
static bool eligible(const struct rank *r, const struct rank_request *q,
		     int i)
{
	return q->allowed[i] && !r->mark[i] && !artist_blocked(r, i);
}

/* The value and optimistic value of track i from the scores as they are:
 * the model's chance, the odds factor of its groups, its own verdicts,
 * its history. */
static void value(struct rank *r, const struct rank_request *q,
		  const struct affinity_view *av, int i, float since,
		  double *v, double *o)
{
	double a = r->aff ? affinity_odds_of(av, i) : 1.0;
	double p = chance(odds(q->mean[i]), a);
	double po = chance(opt_odds(q->mean[i], q->spread[i]), a);
	if (r->own_liked[i] | r->own_skipped[i]) {
		p = with_own(r, i, p);
		po = with_own(r, i, po);
	}
	if (r->heard_seq[i]) {
		int ago = heard_ago(r, i, since);
		p = with_history(r, p, ago);
		po = with_history(r, po, ago);
	}
	*v = p;
	*o = po;
	r->scanned++;
}

/* Candidate i valued, into both heaps. */
static void push_both(struct rank *r, const struct rank_request *q,
		      const struct affinity_view *av, int i, float since,
		      int *kv, int *ko)
{
	double v, o;
	value(r, q, av, i, since, &v, &o);
	uint32_t t = tiebreak((uint32_t)i, r->salt);
	heap_push(r->heap_v, kv, SHORT_MAX, v, t, i);
	heap_push(r->heap_o, ko, SHORT_MAX, o, t, i);
}

/* Every candidate into both heaps; returns how many there are. */
static int scan_all(struct rank *r, const struct rank_request *q,
		    const struct affinity_view *av, float since, int *kv,
		    int *ko)
{
	int m = 0;
	for (int i = 0; i < r->n; i++) {
		if (!eligible(r, q, i))
			continue;
		m++;
		push_both(r, q, av, i, since, kv, ko);
	}
	return m;
}

/* The prepared path: tracks in the order of their score (or optimistic
 * score), until no track left could enter the heap: a track's value is at
 * most the chance of its odds times the largest odds factor, except for
 * tracks
 * with verdicts of their own, which are all looked at. Returns false when
 * the prepared order ran out first (then the caller scans everything).
 * The bound is computed as the values are, so it holds to the bit. */
static bool scan_order(struct rank *r, const struct rank_request *q,
		       const struct affinity_view *av, float since,
		       const struct order *ord, bool optimistic, int *kv,
		       int *ko)
{
	struct entry *h = optimistic ? r->heap_o : r->heap_v;
	int *k = optimistic ? ko : kv;
	for (int e = 0; e < ord->t; e++) {
		int i = ord->idx[e];
		if (*k == SHORT_MAX && chance(ord->key[e], 1) + 1e-12 < h[0].v)
			return true;
		if ((r->own_liked[i] | r->own_skipped[i]) || (r->mark[i] & 8) ||
		    !eligible(r, q, i))
			continue;
		double v, o;
		value(r, q, av, i, since, &v, &o);
		heap_push(h, k, SHORT_MAX, optimistic ? o : v,
			  tiebreak((uint32_t)i, r->salt), i);
	}
	return *k == SHORT_MAX && chance(ord->rest, 1) + 1e-12 < h[0].v;
}

/* Whether the prepared path may serve q: its orders are of these scores,
 * few tracks were heard since, and the affinities have a snapshot. */
static bool prepared_for(const struct rank *r, const struct rank_request *q,
			 const struct affinity_view *av)
{
	return q->stamp != 0 && q->stamp == r->prepared &&
	       q->n_allowed >= 0 && r->n_fresh <= FRESH_MAX &&
	       (!r->aff || av->snap);
}

/* The prepared path into both heaps: the tracks with verdicts of their
 * own, the neighbours of those heard since, then the prepared orders.
 * Returns false when an order ran out first (the caller then scans
 * everything); *m, the number of candidates. */
static bool scan_prepared(struct rank *r, const struct rank_request *q,
			  const struct affinity_view *av, float since,
			  int *kv, int *ko, int *m)
{
	/* Tracks with verdicts of their own, all of them. */
	for (int e = 0; e < r->n_judged; e++) {
		int i = r->judged[e];
		if (eligible(r, q, i))
			push_both(r, q, av, i, since, kv, ko);
	}
	/* The neighbours in the library (its folder, its album: the library
	 * is sorted by path) of the tracks heard since the preparation,
	 * valued as they are now. */
	for (int e = 0; e < r->n_fresh; e++) {
		int c = r->fresh[e];
		for (int i = c - NEAR; i <= c + NEAR; i++) {
			if (i < 0 || i >= r->n || (r->mark[i] & 8) ||
			    (r->own_liked[i] | r->own_skipped[i]) ||
			    !eligible(r, q, i))
				continue;
			r->mark[i] |= 8;
			push_both(r, q, av, i, since, kv, ko);
		}
	}
	/* The rest as of the preparation: its scores and affinities, so that
	 * the bound holds to the bit; the shortlist is valued afresh
	 * afterwards. */
	struct affinity_view as = *av;
	if (r->aff)
		as.odds = av->snap;
	bool ok = scan_order(r, q, &as, since, &r->by_mean, false, kv, ko) &&
		  scan_order(r, q, &as, since, &r->by_opt, true, kv, ko);
	for (int e = 0; e < r->n_fresh; e++)
		for (int i = r->fresh[e] - NEAR; i <= r->fresh[e] + NEAR; i++)
			if (i >= 0 && i < r->n)
				r->mark[i] &= (unsigned char)~8;
	/* Candidates, near enough for the exploit share: the allowed, less
	 * the queued and picked, less the spaced-out artists'. */
	*m = q->n_allowed - r->n_marked - r->blocked_tracks;
	*m = *m < *kv ? *kv : *m;
	return ok;
}

/* The union of both heaps into r->short_idx; returns its size. */
static int heaps_union(struct rank *r, int kv, int ko)
{
	int k = 0;
	for (int e = 0; e < kv; e++) {
		r->short_idx[k++] = r->heap_v[e].i;
		r->mark[r->heap_v[e].i] |= 4;
	}
	for (int e = 0; e < ko; e++)
		if (!(r->mark[r->heap_o[e].i] & 4)) {
			r->short_idx[k++] = r->heap_o[e].i;
			r->mark[r->heap_o[e].i] |= 4;
		}
	for (int e = 0; e < k; e++)
		r->mark[r->short_idx[e]] &= (unsigned char)~4;
	return k;
}

/* The k tracks of the shortlist rescored with the model as it is now
 * (q->rescore, else q's scores), valued into r->items and ordered by value
 * and by optimistic value. */
static void value_shortlist(struct rank *r, const struct rank_request *q,
			    const struct affinity_view *av, float since,
			    int k)
{
	if (q->rescore && k > 0) {
		q->rescore(q->rescore_ctx, r->short_idx, k, r->short_mean,
			   r->short_spread);
	} else {
		for (int e = 0; e < k; e++) {
			r->short_mean[e] = q->mean[r->short_idx[e]];
			r->short_spread[e] = q->spread[r->short_idx[e]];
		}
	}
	for (int e = 0; e < k; e++) {
		struct item *it = &r->items[e];
		int i = r->short_idx[e];
		double a = r->aff ? affinity_odds_of(av, i) : 1.0;
		it->i = i;
		it->mean = r->short_mean[e];
		it->spread = r->short_spread[e];
		it->p = with_own(r, i, chance(odds(it->mean), a));
		it->po = with_own(r, i, chance(opt_odds(it->mean, it->spread),
						a));
		it->heard_ago = heard_ago(r, i, since);
		it->t = tiebreak((uint32_t)i, r->salt);
		it->v = with_history(r, it->p, it->heard_ago);
		it->o = with_history(r, it->po, it->heard_ago);
		it->top = false;
		r->by_v[e] = r->by_o[e] = e;
	}
	r->n_items = k;
	sort_items = r->items;
	qsort(r->by_v, (size_t)k, sizeof *r->by_v, by_value);
	qsort(r->by_o, (size_t)k, sizeof *r->by_o, by_optimism);
}

/* One pass over the library (or over the prepared orders): the best
 * SHORT_MAX by value and by optimistic value from the scores as they are,
 * then those rescored and ordered. Returns the number of candidates. */
static int shortlist(struct rank *r, const struct rank_request *q)
{
	struct affinity_view av;
	if (r->aff)
		affinity_view(r->aff, &av);
	float since = (float)(q->now - q->history_s - r->epoch0);
	int kv = 0, ko = 0, m = -1;
	if (!prepared_for(r, q, &av) ||
	    !scan_prepared(r, q, &av, since, &kv, &ko, &m)) {
		kv = ko = 0;
		m = scan_all(r, q, &av, since, &kv, &ko);
	}
	value_shortlist(r, q, &av, since, heaps_union(r, kv, ko));
	r->candidates = m;
	return m;
}

/* --- the prepared orders ------------------------------------------------- */

/* The best `cap` of n keys into ord, sorted best first; ord->rest the
 * largest key left out. */
static void prepare_order(struct order *ord, const double *key, int n,
			  int cap)
{
	struct entry *h = malloc((size_t)cap * sizeof *h);
	if (!h) {
		ord->t = 0;
		ord->rest = INFINITY;
		return;
	}
	int k = 0;
	double rest = -INFINITY;
	for (int i = 0; i < n; i++) {
		if (k == cap && key[i] <= h[0].v) {
			if (key[i] > rest)
				rest = key[i];
			continue;
		}
		if (k == cap && h[0].v > rest)
			rest = h[0].v;	/* pushed out */
		heap_push(h, &k, cap, key[i], (uint32_t)-1 - (uint32_t)i, i);
	}
	/* Pop the heap: the smallest first, so fill from the back. */
	int t = k;
	for (int e = t - 1; e >= 0; e--) {
		ord->idx[e] = h[0].i;
		ord->key[e] = h[0].v;
		struct entry last = h[--k];
		if (k > 0)
			sift_down(h, k, last);
	}
	ord->t = t;
	ord->rest = rest;
	free(h);
}

void rank_prepare(struct rank *r, const float *mean, const float *spread,
		  uint64_t stamp)
{
	if (r->n < PREPARE_MIN || stamp == 0)
		return;
	if (r->aff)
		affinity_update(r->aff);
	/* Scores and affinities unchanged: keep the orders. */
	if (stamp == r->prepared &&
	    (!r->aff || affinity_snapshot_current(r->aff)))
		return;
	int cap = r->n / 32 > ORDER_MIN ? r->n / 32 : ORDER_MIN;
	cap = cap < r->n ? cap : r->n;
	struct order *o[2] = { &r->by_mean, &r->by_opt };
	for (int k = 0; k < 2; k++) {
		if (!o[k]->idx)
			o[k]->idx = malloc((size_t)cap * sizeof *o[k]->idx);
		if (!o[k]->key)
			o[k]->key = malloc((size_t)cap * sizeof *o[k]->key);
	}
	double *key = malloc((size_t)r->n * sizeof *key);
	if (!r->by_mean.idx || !r->by_opt.idx || !r->by_mean.key ||
	    !r->by_opt.key || !key || (r->aff && !affinity_snapshot(r->aff))) {
		free(key);
		r->prepared = 0;
		return;
	}
	struct affinity_view av;
	if (r->aff)
		affinity_view(r->aff, &av);
	for (int opt = 0; opt < 2; opt++) {
		for (int i = 0; i < r->n; i++) {
			double a = r->aff ? affinity_odds_of(&av, i) : 1.0;
			key[i] = (opt ? opt_odds(mean[i], spread[i])
				      : odds(mean[i])) * a;
		}
		prepare_order(o[opt], key, r->n, cap);
	}
	free(key);
	r->prepared = stamp;
	r->n_fresh = 0;
}

static bool live(const struct rank *r, const struct item *it)
{
	return !r->mark[it->i] && !artist_blocked(r, it->i);
}

/* A draw of a rank in [0, k) with weights e^(-rank / tau). */
static int draw_rank(struct rank *r, int k, double tau)
{
	if (k <= 1)
		return 0;
	double total = 0;
	for (int a = 0; a < k; a++)
		total += exp(-a / tau);
	double u = util_rand_uniform(&r->rng) * total;
	for (int a = 0; a < k; a++) {
		u -= exp(-a / tau);
		if (u <= 0)
			return a;
	}
	return k - 1;
}

static void describe_groups(const struct rank *r, int i, char *buf,
			    size_t size)
{
	char g[160];
	if (r->aff && affinity_describe(r->aff, i, g, sizeof g))
		snprintf(buf, size, "; %s", g);
	else
		buf[0] = '\0';
}

static void fill_pick(const struct rank *r, const struct item *it,
		      enum rank_mode mode, int rank, int m,
		      struct rank_pick *out)
{
	out->index = it->i;
	out->mode = mode;
	out->score = it->p;
	out->model = it->mean;
	out->uncertainty = it->spread;
	out->rank = rank;
	out->candidates = m;
	out->heard_ago = it->heard_ago;
	char groups[200], heard[96] = "";
	describe_groups(r, it->i, groups, sizeof groups);
	unsigned liked = r->own_liked[it->i];
	unsigned judged = liked + r->own_skipped[it->i];
	if (it->heard_ago >= 0)
		snprintf(heard, sizeof heard, "heard %d song%s ago, ",
			 it->heard_ago, it->heard_ago == 1 ? "" : "s");
	if (judged > 0)
		snprintf(heard + strlen(heard), sizeof heard - strlen(heard),
			 "you liked it %u of %u time%s, ", liked, judged,
			 judged == 1 ? "" : "s");
	if (mode == RANK_EXPLOIT)
		snprintf(out->reason, sizeof out->reason,
			 "exploit: rank %d of %d candidates (top %.0f%%), "
			 "%s%.0f%% chance of a like (model %.2f%s)", rank, m,
			 ceil(100.0 * rank / m), heard, 100.0 * it->p,
			 (double)it->mean, groups);
	else
		snprintf(out->reason, sizeof out->reason,
			 "explore: rank %d of %d by its best case (%.0f%%), "
			 "%s%.0f%% chance of a like but unsure (spread %.2f)"
			 "%s", rank, m, 100.0 * it->po, heard, 100.0 * it->p,
			 (double)it->spread, groups);
}

/* Exploit or explore from the shortlist; false when nothing in it is
 * left. */
static bool pick_warm(struct rank *r, const struct rank_request *q,
		      int picked, struct rank_pick *out)
{
	int m = r->candidates - picked;
	if (m <= 0)
		m = 1;
	int k = (int)ceil(RANK_EXPLOIT_SHARE * m);
	k = k < 1 ? 1 : k > RANK_EXPLOIT_MAX ? RANK_EXPLOIT_MAX : k;
	/* The exploit draw's candidates: the first k live ones. */
	int top[RANK_EXPLOIT_MAX], n_top = 0;
	double spread = 0;
	for (int e = 0; e < r->n_items; e++) {
		struct item *it = &r->items[r->by_v[e]];
		it->top = false;
	}
	for (int e = 0; e < r->n_items && n_top < k; e++) {
		struct item *it = &r->items[r->by_v[e]];
		if (!live(r, it))
			continue;
		it->top = true;
		top[n_top++] = r->by_v[e];
		spread += it->spread;
	}
	if (n_top == 0)
		return false;
	r->last_spread = (float)(spread / n_top);
	double rate = rank_explore_rate(r, q->explore_rate);
	out->explore_p = rate;
	if (rate > 0 && util_rand_uniform(&r->rng) < rate) {
		/* Among the best by their best case that the exploit draw
		 * would not take and that have a real chance. */
		int cand[2 * SHORT_MAX], n_cand = 0;
		int want = k > 3 ? k : 3;
		for (int e = 0; e < r->n_items && n_cand < want; e++) {
			const struct item *it = &r->items[r->by_o[e]];
			if (!it->top && live(r, it) && it->o >= 0.5f)
				cand[n_cand++] = r->by_o[e];
		}
		if (n_cand > 0) {
			int a = draw_rank(r, n_cand, n_cand / 3.0 + 0.5);
			const struct item *it = &r->items[cand[a]];
			int rank = 1;
			for (int e = 0; e < r->n_items; e++) {
				const struct item *o = &r->items[r->by_o[e]];
				if (o == it)
					break;
				rank += live(r, o);
			}
			fill_pick(r, it, RANK_EXPLORE, rank, m, out);
			return true;
		}
	}
	int a = draw_rank(r, n_top, n_top / 4.0 + 0.3);
	fill_pick(r, &r->items[top[a]], RANK_EXPLOIT, a + 1, m, out);
	return true;
}

/* --- cold start ---------------------------------------------------------- */

/* Distance of track i to the nearest recent one (FLT_MAX if none). */
static float to_recent(const struct rank *r, int i, const int *recent,
		       int n_recent)
{
	float best = FLT_MAX;
	for (int k = 0; k < n_recent; k++) {
		float d = rank_distance(r, i, recent[k]);
		if (d < best)
			best = d;
	}
	return best;
}

/* Fills r->sample with a uniform sample of at most SAMPLE_MAX candidates
 * (only those not heard within the window when `fresh`); returns how
 * many. */
static int sample(struct rank *r, const struct rank_request *q, bool fresh)
{
	float since = (float)(q->now - q->history_s - r->epoch0);
	int m = 0;
	for (int i = 0; i < r->n; i++) {
		if (!q->allowed[i] || r->mark[i] || artist_blocked(r, i) ||
		    (fresh && heard_ago(r, i, since) >= 0))
			continue;
		m++;
		if (m <= SAMPLE_MAX) {
			r->sample[m - 1] = i;
		} else {
			uint64_t j = util_rand_u64(&r->rng) % (uint64_t)m;
			if (j < SAMPLE_MAX)
				r->sample[j] = i;
		}
	}
	r->candidates = m;
	return m < SAMPLE_MAX ? m : SAMPLE_MAX;
}

static bool pick_cold(struct rank *r, const struct rank_request *q,
		      const struct rank_pick *picks, int n_picks,
		      struct rank_pick *out)
{
	/* Farthest-point sampling from what was heard, queued and picked:
	 * the candidate whose nearest recent track is farthest, so the first
	 * picks cover the library's different corners; the affinities learned
	 * so far weigh in, and among near-ties chance decides. */
	int recent[RECENT_MAX], n_recent = 0;
	for (int k = n_picks - 1; k >= 0 && n_recent < RECENT_MAX; k--)
		recent[n_recent++] = picks[k].index;
	for (int k = q->n_queued - 1; k >= 0 && n_recent < RECENT_MAX; k--)
		if (q->queued[k] >= 0 && q->queued[k] < r->n)
			recent[n_recent++] = q->queued[k];
	for (int k = 0; k < r->ring_n && n_recent < RECENT_MAX; k++)
		recent[n_recent++] = r->ring[k];
	int m = sample(r, q, true);
	if (m == 0)
		m = sample(r, q, false);
	struct affinity_view av;
	if (r->aff)
		affinity_view(r->aff, &av);
	int best = -1;
	float best_d = -1;
	for (int k = 0; k < m; k++) {
		int i = r->sample[k];
		float d = to_recent(r, i, recent, n_recent);
		if (d == FLT_MAX)
			d = (float)util_rand_uniform(&r->rng);
		else
			d *= (float)(0.9 + 0.2 * util_rand_uniform(&r->rng));
		if (r->aff)
			d *= affinity_odds_of(&av, i);
		if (d > best_d) {
			best_d = d;
			best = i;
		}
	}
	if (best < 0)
		return false;
	out->index = best;
	out->mode = RANK_COLD;
	out->score = out->model = out->uncertainty = NAN;
	out->rank = 1;
	out->candidates = r->candidates;
	out->heard_ago = heard_ago(r, best, (float)(q->now - q->history_s -
						    r->epoch0));
	char groups[200];
	describe_groups(r, best, groups, sizeof groups);
	snprintf(out->reason, sizeof out->reason,
		 "cold start: far from the %d songs heard or queued lately "
		 "(distance %.1f)%s", n_recent,
		 n_recent ? sqrt((double)best_d) : 0.0, groups);
	return true;
}

/* --- the choice ---------------------------------------------------------- */

int rank_choose(struct rank *r, const struct rank_request *q, int need,
		struct rank_pick *out)
{
	assert(q->allowed && need >= 0);
	if (r->aff)
		affinity_update(r->aff);
	bool cold = q->cold || !q->mean || !q->spread;
	r->salt = (uint32_t)util_rand_u64(&r->rng);
	r->scanned = 0;
	r->relaxed = false;
	r->n_marked = 0;
	for (int k = 0; k < q->n_queued; k++)
		if (q->queued[k] >= 0 && q->queued[k] < r->n) {
			r->n_marked += !r->mark[q->queued[k]];
			r->mark[q->queued[k]] |= 1;
		}
	int n = 0;
	bool fresh_list = false;
	block_artists(r, q, out, 0);
	while (n < need) {
		struct rank_pick *p = &out[n];
		memset(p, 0, sizeof *p);
		p->index = -1;
		bool ok;
		if (cold) {
			ok = pick_cold(r, q, out, n, p);
		} else {
			if (!fresh_list) {
				shortlist(r, q);
				fresh_list = true;
			}
			ok = pick_warm(r, q, n, p);
			if (!ok) {
				/* The shortlist ran out: a new pass. */
				ok = shortlist(r, q) > 0 &&
				     pick_warm(r, q, 0, p);
			}
		}
		if (!ok && !r->relaxed && r->aff && q->artist_spacing > 0) {
			/* Nothing by another artist: space no more. */
			r->relaxed = true;
			fresh_list = false;
			continue;
		}
		if (!ok)
			break;
		r->mark[p->index] |= 2;
		r->n_marked++;
		n++;
		block_artists(r, q, out, n);
	}
	for (int k = 0; k < q->n_queued; k++)
		if (q->queued[k] >= 0 && q->queued[k] < r->n)
			r->mark[q->queued[k]] = 0;
	for (int k = 0; k < n; k++)
		r->mark[out[k].index] = 0;
	unblock(r);
	return n;
}

/* --- neighbours ---------------------------------------------------------- */

int rank_nearest(const struct rank *r, int a, const unsigned char *flags,
		 int k, int *out)
{
	/* The k best in one pass: an insertion into a short sorted list. */
	float *dist = malloc((size_t)(k > 0 ? k : 1) * sizeof *dist);
	if (!dist)
		return 0;
	int w = 0;
	for (int i = 0; i < r->n; i++) {
		if (i == a || (flags && !flags[i]))
			continue;
		float d = rank_distance(r, a, i);
		if (w == k && d >= dist[k - 1])
			continue;
		int c = w < k ? w++ : k - 1;
		while (c > 0 && dist[c - 1] > d) {
			dist[c] = dist[c - 1];
			out[c] = out[c - 1];
			c--;
		}
		dist[c] = d;
		out[c] = i;
	}
	free(dist);
	return w;
}
