/* Ranking: eligibility, exploitation, exploration, cold start. */
#include "core/rank.h"
#include "tests/lib/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 200
#define D 4

/* Two clusters: tracks 0..99 near (0,0,0,0), 100..199 near (10,10,10,10). */
static void make_library(float *x)
{
	srand(7);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < D; j++)
			x[i * D + j] = (i < N / 2 ? 0.f : 10.f) +
				       (float)rand() / (float)RAND_MAX;
}

static void test_respects_eligibility(void)
{
	float x[N * D], mean[N], spread[N];
	unsigned char ok[N];
	make_library(x);
	char err[128];
	struct rank *r = rank_new(x, N, D, 1, err, sizeof err);
	if (!CHECK(r))
		return;
	for (int i = 0; i < N; i++) {
		mean[i] = i == 5 ? 1.f : 0.f;
		spread[i] = 0.f;
		ok[i] = i == 5 ? 0 : i % 2;
	}
	struct rank_request q = { mean, spread, ok, NULL, 0, false, 0.1, 0.0 };
	struct rank_pick p;
	for (int k = 0; k < 50; k++) {
		CHECK(rank_pick(r, &q, &p));
		CHECK(p.index != 5 && ok[p.index]);
	}
	memset(ok, 0, sizeof ok);
	CHECK(!rank_pick(r, &q, &p));
	rank_free(r);
}

static void test_exploit_prefers_high_scores_but_varies(void)
{
	float x[N * D], mean[N], spread[N];
	unsigned char ok[N];
	make_library(x);
	char err[128];
	struct rank *r = rank_new(x, N, D, 2, err, sizeof err);
	for (int i = 0; i < N; i++) {
		mean[i] = i >= N / 2 ? 0.9f : 0.1f;
		spread[i] = 0.01f;
		ok[i] = 1;
	}
	struct rank_request q = { mean, spread, ok, NULL, 0, false, 0.1, 0.0 };
	int high = 0, distinct = 0;
	int seen[N] = { 0 };
	for (int k = 0; k < 200; k++) {
		struct rank_pick p;
		CHECK(rank_pick(r, &q, &p));
		CHECK_INT(p.mode, RANK_EXPLOIT);
		high += p.index >= N / 2;
		distinct += !seen[p.index]++;
	}
	CHECK_MSG(high == 200, "high-scored picks: %d of 200", high);
	/* A softmax, not an argmax: the same track does not come back
	 * every time. */
	CHECK_MSG(distinct > 30, "distinct picks: %d", distinct);
	rank_free(r);
}

static void test_explore_takes_the_least_sure(void)
{
	float x[N * D], mean[N], spread[N];
	unsigned char ok[N];
	make_library(x);
	char err[128];
	struct rank *r = rank_new(x, N, D, 3, err, sizeof err);
	for (int i = 0; i < N; i++) {
		mean[i] = 0.5f;
		spread[i] = i == 42 ? 0.4f : 0.01f;
		ok[i] = 1;
	}
	struct rank_request q = { mean, spread, ok, NULL, 0, false, 0.1, 1.0 };
	struct rank_pick p;
	CHECK(rank_pick(r, &q, &p));
	CHECK_INT(p.mode, RANK_EXPLORE);
	CHECK_INT(p.index, 42);
	/* Equally unsure: the one away from what was heard wins. */
	spread[42] = 0.01f;
	spread[10] = 0.3f;
	spread[150] = 0.3f;
	int recent[] = { 11, 12, 13 };
	q.recent = recent;
	q.n_recent = 3;
	CHECK(rank_pick(r, &q, &p));
	CHECK_INT(p.index, 150);
	/* Optimism: a sure dislike, however far away, is not explored while
	 * a plausible track is left. */
	for (int i = 0; i < N; i++) {
		mean[i] = 0.05f;
		spread[i] = 0.01f;
	}
	spread[160] = 0.2f;	/* unsure, and far away: still a dislike */
	mean[20] = 0.45f;	/* near, but could be liked */
	spread[20] = 0.05f;
	CHECK(rank_pick(r, &q, &p));
	CHECK_INT(p.index, 20);
	rank_free(r);
}

static void test_cold_start_covers_both_clusters(void)
{
	float x[N * D];
	unsigned char ok[N];
	make_library(x);
	char err[128];
	struct rank *r = rank_new(x, N, D, 4, err, sizeof err);
	memset(ok, 1, sizeof ok);
	int recent[8];
	int n = 0;
	int low = 0, high = 0;
	for (int k = 0; k < 6; k++) {
		struct rank_request q = { NULL, NULL, ok, recent, n, true,
					  0.1, 0.15 };
		struct rank_pick p;
		CHECK(rank_pick(r, &q, &p));
		CHECK_INT(p.mode, RANK_COLD);
		CHECK(isnan(p.score));
		ok[p.index] = 0;
		memmove(recent + 1, recent, sizeof(int) * (size_t)n);
		recent[0] = p.index;
		n++;
		low += p.index < N / 2;
		high += p.index >= N / 2;
	}
	CHECK_MSG(low >= 2 && high >= 2, "cold picks low %d high %d", low,
		  high);
	rank_free(r);
}

static void test_nearest(void)
{
	float x[N * D];
	make_library(x);
	char err[128];
	struct rank *r = rank_new(x, N, D, 5, err, sizeof err);
	int out[5];
	CHECK_INT(rank_nearest(r, 150, NULL, 5, out), 5);
	for (int k = 0; k < 5; k++)
		CHECK(out[k] >= N / 2 && out[k] != 150);
	for (int k = 1; k < 5; k++)
		CHECK(rank_distance(r, 150, out[k - 1]) <=
		      rank_distance(r, 150, out[k]));
	rank_free(r);
}

int main(void)
{
	RUN(test_respects_eligibility);
	RUN(test_exploit_prefers_high_scores_but_varies);
	RUN(test_explore_takes_the_least_sure);
	RUN(test_cold_start_covers_both_clusters);
	RUN(test_nearest);
	return harness_finish();
}
