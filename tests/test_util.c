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

static int by_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void test_hash_tells_strings_apart(void)
{
	/* A library's uris, which differ in a few digits, and numbers: no two
	 * of 200,000 share a hash, and their low 12 bits (what a table of 4,096 slots
	 * indexes by) fill the slots evenly. */
	enum { N = 200000, SLOTS = 4096 };
	uint64_t *h = malloc(N * sizeof *h);
	int *slot = calloc(SLOTS, sizeof *slot);
	char uri[80];
	for (int i = 0; i < N; i++) {
		/* Half long, half short (a number alone, under a word). */
		if (i % 2)
			snprintf(uri, sizeof uri, "%d", i);
		else
			snprintf(uri, sizeof uri,
				 "artist%05d/album%06d/track%07d.flac",
				 i / 100, i / 10, i);
		h[i] = util_hash(uri);
		slot[h[i] & (SLOTS - 1)]++;
	}
	qsort(h, N, sizeof *h, by_u64);
	int same = 0;
	for (int i = 1; i < N; i++)
		same += h[i] == h[i - 1];
	CHECK(same == 0);
	/* A uniform hash puts 48.8 +- 7 in each slot: none empty, none
	 * over twice that. */
	int lo = N, hi = 0;
	for (int k = 0; k < SLOTS; k++) {
		lo = slot[k] < lo ? slot[k] : lo;
		hi = slot[k] > hi ? slot[k] : hi;
	}
	CHECK(lo > 15 && hi < 100);
	/* Every byte counts, in the words and in the tail; the length too. */
	const char *base = "Music/Some Artist/Some Album/01 A Song.ogg";
	char buf[64];
	size_t len = strlen(base);
	int missed = 0;
	for (size_t k = 0; k < len; k++) {
		memcpy(buf, base, len + 1);
		buf[k] ^= 0x01;
		missed += util_hash(buf) == util_hash(base);
		buf[k] = '\0';
		missed += util_hash(buf) == util_hash(base);
	}
	CHECK(missed == 0);
	CHECK(util_hash("") != util_hash("a"));
	/* The same text where it begins at any byte. */
	for (int off = 0; off < 8; off++) {
		memcpy(buf + off, base, len + 1);
		CHECK(util_hash(buf + off) == util_hash(base));
	}
	free(h);
	free(slot);
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
	RUN(test_hash_tells_strings_apart);
	RUN(test_index_finds_every_key);
	RUN(test_clocks);
	return harness_finish();
}
