/* core/util: random numbers, hashing, the string index, the clocks. */
#include "core/util.h"
#include "tests/lib/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_rand_is_reproducible_and_uniform(void)
{
	uint64_t a = 42, b = 42;
	for (int i = 0; i < 100; i++)
		CHECK(util_rand_u64(&a) == util_rand_u64(&b));
	double sum = 0, ss = 0;
	int counts[10] = { 0 };
	for (int i = 0; i < 100000; i++) {
		double u = util_rand_uniform(&a);
		CHECK_MSG(u >= 0 && u < 1, "uniform %f", u);
		counts[(int)(u * 10)]++;
		double z = util_rand_normal(&b);
		sum += z;
		ss += z * z;
	}
	for (int k = 0; k < 10; k++)
		CHECK_MSG(abs(counts[k] - 10000) < 500, "decile %d: %d", k,
			  counts[k]);
	CHECK_NEAR(sum / 100000, 0.0, 0.02);
	CHECK_NEAR(ss / 100000, 1.0, 0.03);
	for (int i = 0; i < 1000; i++) {
		int r = util_rand_int(&a, 7);
		CHECK(r >= 0 && r < 7);
	}
}

static void test_hash_is_fnv1a(void)
{
	/* FNV-1a 64 of "" and "a", the published test vectors. */
	CHECK(util_hash("") == 0xcbf29ce484222325ULL);
	CHECK(util_hash("a") == 0xaf63dc4c8601ec8cULL);
}

static void test_index_finds_every_key(void)
{
	enum { N = 5000 };
	char **keys = malloc(N * sizeof *keys);
	for (int i = 0; i < N; i++) {
		keys[i] = malloc(32);
		snprintf(keys[i], 32, "Artist %d/Album/%02d.flac", i / 10,
			 i % 10);
	}
	struct util_index t = { 0 };
	CHECK(util_index_build(&t, keys, N / 2));
	for (int i = 0; i < N / 2; i++)
		CHECK_INT(util_index_find(&t, keys, keys[i]), i);
	CHECK_INT(util_index_find(&t, keys, keys[N - 1]), -1);
	for (int i = N / 2; i < N; i++)
		CHECK(util_index_add(&t, keys, i));
	int wrong = 0;
	for (int i = 0; i < N; i++)
		wrong += util_index_find(&t, keys, keys[i]) != i;
	CHECK_INT(wrong, 0);
	CHECK_INT(util_index_find(&t, keys, "nowhere.ogg"), -1);
	/* A key given twice keeps its first index. */
	free(keys[7]);
	keys[7] = strdup(keys[3]);
	CHECK(util_index_build(&t, keys, 10));
	CHECK_INT(util_index_find(&t, keys, keys[3]), 3);
	util_index_free(&t);
	CHECK_INT(util_index_find(&t, keys, keys[0]), -1);
	for (int i = 0; i < N; i++)
		free(keys[i]);
	free(keys);
}

static void test_clocks(void)
{
	double m0 = util_mono(), e0 = util_epoch();
	CHECK(e0 > 1.6e9);
	double m1 = util_mono();
	CHECK(m1 >= m0);
}

int main(void)
{
	RUN(test_rand_is_reproducible_and_uniform);
	RUN(test_hash_is_fnv1a);
	RUN(test_index_finds_every_key);
	RUN(test_clocks);
	return harness_finish();
}
