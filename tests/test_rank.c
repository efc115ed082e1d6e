/* The pick policy on arrays: eligibility, exploitation that follows the
 * ranking whatever the scale, exploration with a real chance and a rate
 * that moves, history as a preference, artist spacing, affinities, the
 * fresh rescoring of the shortlist, cold start. */
#include "core/affinity.h"
#include "core/rank.h"
#include "core/util.h"
#include "tests/lib/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D 4
#define NOW 1.7e9
#define HOUR 3600.0

/* Two clusters: the first half near 0, the second near 10. */
static float *make_library(int n)
{
	float *x = malloc((size_t)n * D * sizeof *x);
	uint64_t s = 7;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < D; j++)
			x[i * D + j] = (i < n / 2 ? 0.f : 10.f) +
				       (float)util_rand_uniform(&s);
	return x;
}

/* Albums of 8 tracks in a row, ten artists in turn. */
static int artist_of(int i)
{
	return i / 8 % 10;
}

/* A library of n tracks with its arrays. */
struct lib {
	int n;
	float *x, *mean, *spread;
	unsigned char *allowed;
	struct rank *r;
	struct affinity *aff;
};

static bool lib_open(struct lib *l, int n, uint64_t seed, bool groups)
{
	memset(l, 0, sizeof *l);
	if (n < 1)
		return false;
	l->n = n;
	l->x = make_library(n);
	l->mean = calloc((size_t)n, sizeof *l->mean);
	l->spread = calloc((size_t)n, sizeof *l->spread);
	l->allowed = malloc((size_t)n);
	for (int i = 0; i < n; i++)
		l->allowed[i] = 1;
	if (groups) {
		/* Ten artists, two folders, albums of 8 tracks in a row
		 * (as a library sorted by path has them). */
		l->aff = affinity_new(n);
		for (int i = 0; i < n; i++) {
			char uri[64], artist[32], album[32];
			snprintf(uri, sizeof uri, "%s/%05d.ogg",
				 i < n / 2 ? "calm" : "loud", i);
			snprintf(artist, sizeof artist, "artist %d",
				 artist_of(i));
			snprintf(album, sizeof album, "album %d", i / 8);
			affinity_set_track(l->aff, i, uri, artist, album,
					   NULL);
		}
	}
	char err[128];
	l->r = rank_new(l->x, n, D, l->aff, seed, err, sizeof err);
	return CHECK_MSG(l->r != NULL, "rank_new: %s", err);
}

static void lib_close(struct lib *l)
{
	rank_free(l->r);
	affinity_free(l->aff);
	free(l->x);
	free(l->mean);
	free(l->spread);
	free(l->allowed);
}

static struct rank_request request(const struct lib *l)
{
	return (struct rank_request){
		.mean = l->mean,
		.spread = l->spread,
		.allowed = l->allowed,
		.now = NOW,
		.explore_rate = 0,
		.artist_spacing = 0,
		.history_s = 24 * HOUR,
	};
}

static void test_respects_eligibility(void)
{
	struct lib l;
	if (!lib_open(&l, 200, 1, false))
		return;
	for (int i = 0; i < l.n; i++) {
		l.mean[i] = i == 5 || i == 6 ? 1.f : 0.1f;
		l.spread[i] = 0.05f;
		l.allowed[i] = i == 5 ? 0 : i % 2 == 0;
	}
	int queued[] = { 6, 8 };
	struct rank_request q = request(&l);
	q.queued = queued;
	q.n_queued = 2;
	q.explore_rate = 0.5;
	struct rank_pick p[4];
	for (int k = 0; k < 50; k++) {
		int n = rank_choose(l.r, &q, 4, p);
		CHECK_INT(n, 4);
		for (int j = 0; j < n; j++) {
			CHECK(l.allowed[p[j].index]);
			CHECK(p[j].index != 6 && p[j].index != 8);
			for (int m = 0; m < j; m++)
				CHECK(p[m].index != p[j].index);
		}
	}
	for (int i = 0; i < l.n; i++)
		l.allowed[i] = i == 6;	/* queued */
	CHECK_INT(rank_choose(l.r, &q, 1, p), 0);
	lib_close(&l);
}

/* The share of exploit picks from the top tenth of the candidates, and
 * how many distinct tracks came up, over `draws` choices. */
static double top_share(struct lib *l, int draws, int *distinct,
			int *worst)
{
	/* The true ranking: rank of each track among all (all allowed). */
	int *rank = malloc((size_t)l->n * sizeof *rank);
	for (int i = 0; i < l->n; i++) {
		rank[i] = 0;
		for (int j = 0; j < l->n; j++)
			rank[i] += l->mean[j] > l->mean[i];
	}
	int top = 0, exploit = 0;
	*distinct = 0;
	*worst = 0;
	unsigned char *seen = calloc((size_t)l->n, 1);
	struct rank_request q = request(l);
	for (int k = 0; k < draws; k++) {
		struct rank_pick p;
		if (!CHECK(rank_choose(l->r, &q, 1, &p) == 1))
			break;
		if (p.mode != RANK_EXPLOIT)
			continue;
		exploit++;
		top += rank[p.index] < (int)ceil(0.1 * l->n);
		*distinct += !seen[p.index]++;
		if (rank[p.index] > *worst)
			*worst = rank[p.index];
	}
	free(seen);
	free(rank);
	return exploit ? (double)top / exploit : 0;
}

/* Early scores span 0.53-0.67: picks still follow the ranking, in a small
 * library and a large one, and at any scale of the scores. */
static void test_exploit_follows_the_ranking(void)
{
	static const int sizes[] = { 40, 300, 5000, 60000 };
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		for (int scale = 0; scale < 2; scale++) {
			struct lib l;
			if (!lib_open(&l, sizes[s], 11 + s, false))
				return;
			uint64_t rng = 3 + s;
			for (int i = 0; i < l.n; i++) {
				double u = util_rand_uniform(&rng);
				l.mean[i] = (float)((0.53 + 0.14 * u) *
						    (scale ? 0.1 : 1.0));
				l.spread[i] = 0.02f;
			}
			int distinct, worst;
			double share = top_share(&l, 300, &distinct, &worst);
			CHECK_MSG(share >= 0.9, "%d tracks, scale %d: %.0f%% "
				  "of exploit picks from the top 10%%",
				  l.n, scale, 100 * share);
			/* The cut-off scales with the library: a few
			 * percent, not a fixed 64. */
			int cut = (int)ceil(RANK_EXPLOIT_SHARE * l.n);
			cut = cut > RANK_EXPLOIT_MAX ? RANK_EXPLOIT_MAX : cut;
			CHECK_MSG(worst < (cut > 1 ? cut : 1),
				  "%d tracks: a pick of rank %d", l.n,
				  worst + 1);
			/* A draw, not an argmax, where there is room. */
			if (cut >= 4)
				CHECK_MSG(distinct >= 3, "%d tracks: %d "
					  "distinct picks", l.n, distinct);
			lib_close(&l);
		}
	}
}

/* Exploration draws among tracks with a real chance (score + 2 spread >=
 * 1/2) that exploitation would not take: never a sure dislike, and not
 * always the single most uncertain track. */
static void test_explore_has_a_real_chance(void)
{
	struct lib l;
	if (!lib_open(&l, 400, 3, false))
		return;
	for (int i = 0; i < l.n; i++) {
		l.mean[i] = 0.05f;
		l.spread[i] = 0.01f;
	}
	for (int i = 0; i < 10; i++) {		/* what exploit takes */
		l.mean[i] = 0.9f;
		l.spread[i] = 0.02f;
	}
	for (int i = 200; i < 220; i++) {	/* plausible, unsure */
		l.mean[i] = 0.35f + 0.005f * (float)(i - 200);
		l.spread[i] = 0.12f;
	}
	l.mean[300] = 0.02f;			/* the most uncertain */
	l.spread[300] = 0.3f;
	struct rank_request q = request(&l);
	q.explore_rate = 0.5;	/* capped at 0.5 by the rate's rules */
	int explored = 0, distinct = 0, sure_dislike = 0;
	unsigned char seen[400] = { 0 };
	for (int k = 0; k < 400; k++) {
		struct rank_pick p;
		CHECK(rank_choose(l.r, &q, 1, &p) == 1);
		if (p.mode != RANK_EXPLORE)
			continue;
		explored++;
		distinct += !seen[p.index]++;
		sure_dislike += l.mean[p.index] + 2 * l.spread[p.index] < 0.5f;
		CHECK_MSG(p.index >= 10, "explored %d, an exploit pick",
			  p.index);
		CHECK(strncmp(p.reason, "explore: ", 9) == 0);
	}
	CHECK_MSG(explored > 40, "%d of 400 picks explored", explored);
	CHECK_INT(sure_dislike, 0);
	CHECK_MSG(distinct >= 3, "%d distinct explored tracks", distinct);
	lib_close(&l);
}

/* The rate falls as the ensemble grows sure and rises when recent songs
 * were skipped. */
static void test_explore_rate_moves(void)
{
	struct lib l;
	if (!lib_open(&l, 100, 4, false))
		return;
	struct rank_request q = request(&l);
	struct rank_pick p;
	for (int i = 0; i < l.n; i++) {
		l.mean[i] = 0.6f;
		l.spread[i] = 0.15f;
	}
	rank_choose(l.r, &q, 1, &p);
	double unsure = rank_explore_rate(l.r, 0.15);
	for (int i = 0; i < l.n; i++)
		l.spread[i] = 0.01f;
	rank_choose(l.r, &q, 1, &p);
	double sure = rank_explore_rate(l.r, 0.15);
	CHECK_MSG(sure < unsure / 3, "sure %.3f, unsure %.3f", sure, unsure);
	for (int k = 0; k < 10; k++)
		rank_event(l.r, k, NOW - 100 + k, 1, true);
	double liked = rank_explore_rate(l.r, 0.15);
	for (int k = 0; k < 10; k++)
		rank_event(l.r, 20 + k, NOW - 50 + k, 0, true);
	double skipped = rank_explore_rate(l.r, 0.15);
	CHECK_MSG(skipped > 2 * liked, "after skips %.3f, after likes %.3f",
		  skipped, liked);
	CHECK(skipped <= 0.5);
	lib_close(&l);
}

/* History is a preference: once the unheard tracks look like skips, the
 * least recently heard liked track comes first; an unheard track the
 * model is sure of still beats it; a track heard before the window is
 * unheard again. */
static void test_history_is_a_preference(void)
{
	struct lib l;
	if (!lib_open(&l, 60, 5, false))
		return;
	for (int i = 0; i < l.n; i++) {
		l.mean[i] = i < 10 ? 0.8f : 0.15f;
		l.spread[i] = 0.02f;
	}
	/* Tracks 0..9 heard and liked, 0 first (least recently). */
	for (int i = 0; i < 10; i++)
		rank_event(l.r, i, NOW - 600 + 60 * i, 1, true);
	struct rank_request q = request(&l);
	struct rank_pick p[3];
	CHECK_INT(rank_choose(l.r, &q, 3, p), 3);
	for (int k = 0; k < 3; k++) {
		CHECK_MSG(p[k].index < 10, "pick %d: track %d", k, p[k].index);
		CHECK_MSG(p[k].index < 4, "pick %d: track %d, heard %d songs "
			  "ago", k, p[k].index, p[k].heard_ago);
	}
	CHECK(strstr(p[0].reason, "heard ") != NULL);
	/* An unheard track the model is sure of comes first. */
	l.mean[30] = 0.95f;
	CHECK_INT(rank_choose(l.r, &q, 1, p), 1);
	CHECK_INT(p[0].index, 30);
	CHECK_INT(p[0].heard_ago, -1);
	/* Skipped tracks do not come back before liked ones, even when the
	 * model still likes them. */
	l.mean[30] = 0.15f;
	for (int i = 0; i < 5; i++)
		rank_event(l.r, i, NOW - 30 + i, 0, true);
	rank_choose(l.r, &q, 1, p);
	CHECK_MSG(p[0].index >= 5 && p[0].index < 10, "track %d",
		  p[0].index);
	/* Outside the window, the heard are unheard again. */
	q.history_s = 0.5 * HOUR;
	q.now = NOW + HOUR;
	l.mean[40] = 0.6f;
	rank_choose(l.r, &q, 1, p);
	CHECK_INT(p[0].heard_ago, -1);
	CHECK_MSG(p[0].index >= 5 && p[0].index < 10, "track %d",
		  p[0].index);
	lib_close(&l);
}

static void test_artist_spacing(void)
{
	struct lib l;
	if (!lib_open(&l, 200, 6, true))
		return;
	/* Artist 0's tracks (0-7, 80-87...) score best. */
	for (int i = 0; i < l.n; i++) {
		l.mean[i] = artist_of(i) == 0 ? 0.95f
					      : 0.5f + 0.001f * (float)i;
		l.spread[i] = 0.02f;
	}
	struct rank_request q = request(&l);
	q.artist_spacing = 3;
	struct rank_pick p[4];
	CHECK_INT(rank_choose(l.r, &q, 4, p), 4);
	CHECK_INT(artist_of(p[0].index), 0);
	for (int k = 1; k < 4; k++)
		for (int j = 0; j < k && j >= k - 3; j++)
			CHECK_MSG(artist_of(p[k].index) !=
				  artist_of(p[j].index),
				  "picks %d and %d by one artist", j, k);
	/* Heard just now: spaced out too. */
	rank_event(l.r, 80, NOW - 1, 1, true);
	CHECK_INT(rank_choose(l.r, &q, 1, p), 1);
	CHECK(artist_of(p[0].index) != 0);
	/* Only artist 0 left: spacing gives way rather than an empty
	 * queue. */
	for (int i = 0; i < l.n; i++)
		l.allowed[i] = artist_of(i) == 0;
	CHECK_INT(rank_choose(l.r, &q, 2, p), 2);
	lib_close(&l);
}

/* Skips in one folder and likes in the other move picks there, with
 * equal model scores. */
static void test_affinities_move_picks(void)
{
	struct lib l;
	if (!lib_open(&l, 200, 7, true))
		return;
	for (int i = 0; i < l.n; i++) {
		l.mean[i] = 0.5f;
		l.spread[i] = 0.02f;
	}
	for (int k = 0; k < 4; k++) {
		affinity_add(l.aff, 1 + k, 0, 1.0);	/* calm: skipped */
		affinity_add(l.aff, 101 + k, 1, 1.0);	/* loud: liked */
	}
	struct rank_request q = request(&l);
	struct rank_pick p[5];
	CHECK_INT(rank_choose(l.r, &q, 5, p), 5);
	for (int k = 0; k < 5; k++)
		CHECK_MSG(p[k].index >= 100, "pick %d: %d", k, p[k].index);
	CHECK_MSG(strstr(p[0].reason, "you liked"), "%s", p[0].reason);
	lib_close(&l);
}

/* Stale scores say track 5, the model now says track 7: the rescored
 * shortlist wins. */
static void rescore(void *ctx, const int *idx, int k, float *mean,
		    float *spread)
{
	int *calls = ctx;
	(*calls)++;
	for (int e = 0; e < k; e++) {
		mean[e] = idx[e] == 7 ? 0.99f : idx[e] == 5 ? 0.1f : 0.4f;
		spread[e] = 0.01f;
	}
}

static void test_shortlist_is_rescored(void)
{
	static const int sizes[] = { 30, 5000 };
	for (int s = 0; s < 2; s++) {
		struct lib l;
		if (!lib_open(&l, sizes[s], 8, false))
			return;
		for (int i = 0; i < l.n; i++) {
			l.mean[i] = i == 5 ? 0.99f : 0.3f + 1e-5f * (float)i;
			l.spread[i] = 0.01f;
		}
		l.mean[7] = 0.8f;	/* in the shortlist, not first */
		int calls = 0;
		struct rank_request q = request(&l);
		q.rescore = rescore;
		q.rescore_ctx = &calls;
		for (int k = 0; k < 20; k++) {
			struct rank_pick p;
			CHECK_INT(rank_choose(l.r, &q, 1, &p), 1);
			CHECK(p.index != 5);
			CHECK_MSG(p.model == 0.99f || p.model == 0.4f,
				  "model %.3f: not rescored", (double)p.model);
			if (l.n < 1 / RANK_EXPLOIT_SHARE)
				CHECK_INT(p.index, 7);
		}
		CHECK_INT(calls, 20);
		lib_close(&l);
	}
}

/* The prepared orders of a large library give the picks a full scan
 * gives: same seed, same history and affinities, same choices. */
static void test_prepared_path_is_exact(void)
{
	struct lib a, b;
	if (!lib_open(&a, 60000, 12, true) || !lib_open(&b, 60000, 12, true))
		return;
	uint64_t rng = 5;
	for (int i = 0; i < a.n; i++) {
		a.mean[i] = b.mean[i] = (float)util_rand_uniform(&rng);
		a.spread[i] = b.spread[i] =
			(float)(0.2 * util_rand_uniform(&rng));
		a.allowed[i] = b.allowed[i] = i % 7 != 0;
	}
	int n_allowed = 0;
	for (int i = 0; i < a.n; i++)
		n_allowed += a.allowed[i];
	/* Likes and skips here and there, some of the best heard. */
	for (int k = 0; k < 200; k++) {
		int i = (int)(util_rand_uniform(&rng) * a.n);
		int label = k % 3 != 0;
		affinity_add(a.aff, i, label, 1.0);
		affinity_add(b.aff, i, label, 1.0);
		rank_event(a.r, i, NOW - 1000 + k, label, true);
		rank_event(b.r, i, NOW - 1000 + k, label, true);
	}
	rank_prepare(a.r, a.mean, a.spread, 42);
	struct rank_request qa = request(&a), qb = request(&b);
	qa.stamp = 42;
	qa.n_allowed = n_allowed;
	qa.explore_rate = qb.explore_rate = 0.3;
	qa.artist_spacing = qb.artist_spacing = 3;
	for (int round = 0; round < 20; round++) {
		struct rank_pick pa[3], pb[3];
		CHECK_INT(rank_choose(a.r, &qa, 3, pa), 3);
		CHECK_INT(rank_choose(b.r, &qb, 3, pb), 3);
		CHECK_MSG(rank_scanned(a.r) < a.n / 10 &&
			  rank_scanned(b.r) > a.n / 2,
			  "round %d: %d tracks valued prepared, %d not",
			  round, rank_scanned(a.r), rank_scanned(b.r));
		for (int k = 0; k < 3; k++) {
			CHECK_MSG(pa[k].index == pb[k].index &&
				  pa[k].mode == pb[k].mode,
				  "round %d pick %d: %d (%d) against %d (%d)",
				  round, k, pa[k].index, pa[k].mode,
				  pb[k].index, pb[k].mode);
			rank_event(a.r, pa[k].index, NOW + round, 1, true);
			rank_event(b.r, pb[k].index, NOW + round, 1, true);
		}
	}
	lib_close(&a);
	lib_close(&b);
}

/* On the prepared path, likes heard since the preparation lift their
 * album at once: its tracks sit next to the one heard. */
static void test_prepared_path_follows_new_likes(void)
{
	struct lib l;
	if (!lib_open(&l, 60000, 13, true))
		return;
	uint64_t rng = 9;
	for (int i = 0; i < l.n; i++) {
		l.mean[i] = 0.45f + 0.1f * (float)util_rand_uniform(&rng);
		l.spread[i] = 0.05f;
	}
	rank_prepare(l.r, l.mean, l.spread, 7);
	struct rank_request q = request(&l);
	q.stamp = 7;
	q.n_allowed = l.n;
	for (int k = 0; k < 4; k++) {
		affinity_add(l.aff, 40003, 1, 1.0);
		rank_event(l.r, 40003, NOW - 100 + k, 1, true);
	}
	/* A draw among the best 100 (3% of 60,000, at most 100): the
	 * album's 7 other tracks rank first, so they come up now and then;
	 * from the scores as prepared they would never. */
	int album = 0;
	for (int k = 0; k < 40; k++) {
		struct rank_pick p;
		CHECK_INT(rank_choose(l.r, &q, 1, &p), 1);
		CHECK_MSG(rank_scanned(l.r) < l.n / 10, "%d tracks valued",
			  rank_scanned(l.r));
		if (p.index / 8 != 40003 / 8)
			continue;
		album++;
		CHECK(p.index != 40003);
		CHECK_MSG(p.rank <= 7, "album track %d of rank %d", p.index,
			  p.rank);
	}
	CHECK_MSG(album >= 3, "%d of 40 picks from the album liked", album);
	lib_close(&l);
}

static void test_cold_start_covers_both_clusters(void)
{
	struct lib l;
	if (!lib_open(&l, 200, 9, false))
		return;
	struct rank_request q = request(&l);
	q.cold = true;
	q.mean = q.spread = NULL;
	int low = 0, high = 0;
	for (int k = 0; k < 6; k++) {
		struct rank_pick p;
		CHECK(rank_choose(l.r, &q, 1, &p) == 1);
		CHECK_INT(p.mode, RANK_COLD);
		CHECK(isnan(p.score));
		rank_event(l.r, p.index, NOW + k, -1, true);
		low += p.index < l.n / 2;
		high += p.index >= l.n / 2;
	}
	CHECK_MSG(low >= 2 && high >= 2, "cold picks low %d high %d", low,
		  high);
	lib_close(&l);
}

/* Distances standardise on the fly: the same as on a standardised copy. */
static void test_distances_without_a_copy(void)
{
	struct lib l;
	if (!lib_open(&l, 200, 10, false))
		return;
	double mu[D] = { 0 }, var[D] = { 0 };
	for (int i = 0; i < l.n; i++)
		for (int j = 0; j < D; j++)
			mu[j] += l.x[i * D + j] / l.n;
	for (int i = 0; i < l.n; i++)
		for (int j = 0; j < D; j++)
			var[j] += pow(l.x[i * D + j] - mu[j], 2) / l.n;
	double d = 0;
	for (int j = 0; j < D; j++)
		d += pow((l.x[3 * D + j] - l.x[150 * D + j]) / sqrt(var[j]), 2);
	CHECK_NEAR(rank_distance(l.r, 3, 150), d, 1e-3 * d);
	int out[5];
	CHECK_INT(rank_nearest(l.r, 150, NULL, 5, out), 5);
	for (int k = 0; k < 5; k++)
		CHECK(out[k] >= l.n / 2 && out[k] != 150);
	for (int k = 1; k < 5; k++)
		CHECK(rank_distance(l.r, 150, out[k - 1]) <=
		      rank_distance(l.r, 150, out[k]));
	lib_close(&l);
}

int main(void)
{
	RUN(test_respects_eligibility);
	RUN(test_exploit_follows_the_ranking);
	RUN(test_explore_has_a_real_chance);
	RUN(test_explore_rate_moves);
	RUN(test_history_is_a_preference);
	RUN(test_artist_spacing);
	RUN(test_affinities_move_picks);
	RUN(test_shortlist_is_rescored);
	RUN(test_prepared_path_is_exact);
	RUN(test_prepared_path_follows_new_likes);
	RUN(test_cold_start_covers_both_clusters);
	RUN(test_distances_without_a_copy);
	return harness_finish();
}
