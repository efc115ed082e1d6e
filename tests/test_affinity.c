/* Affinities: groups from folders and tags, shrinkage towards the parent,
 * a library without tags. */
#include "core/affinity.h"
#include "tests/lib/harness.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static float odds(const struct affinity *a, int i)
{
	struct affinity_view v;
	affinity_view(a, &v);
	return affinity_odds_of(&v, i);
}

static void test_neutral_without_events(void)
{
	struct affinity *a = affinity_new(3);
	if (!CHECK(a))
		return;
	CHECK(affinity_set_track(a, 0, "rock/a.mp3", "X", "One", "Rock"));
	CHECK(affinity_set_track(a, 1, "jazz/b.mp3", NULL, NULL, NULL));
	CHECK(affinity_set_track(a, 2, "c.mp3", "", "", ""));
	affinity_update(a);
	for (int i = 0; i < 3; i++)
		CHECK_NEAR(odds(a, i), 1.0, 1e-6);
	CHECK_NEAR(affinity_prior(a), 0.5, 1e-9);
	CHECK(affinity_artist(a, 0) >= 0);
	CHECK_INT(affinity_artist(a, 1), -1);
	CHECK_INT(affinity_artist(a, 2), -1);	/* "" is untagged */
	char buf[160];
	CHECK(!affinity_describe(a, 0, buf, sizeof buf));
	CHECK_STR(buf, "");
	affinity_free(a);
}

/* One skip is no verdict; many are. */
static void test_shrinks_towards_the_overall_rate(void)
{
	enum { N = 40 };
	struct affinity *a = affinity_new(N);
	for (int i = 0; i < N; i++) {
		char uri[64], artist[16];
		snprintf(uri, sizeof uri, "lib/track%02d.ogg", i);
		snprintf(artist, sizeof artist, "artist %d", i % 4);
		CHECK(affinity_set_track(a, i, uri, artist, NULL, NULL));
	}
	/* A background of events, half liked: artist 2 liked, artist 0
	 * skipped. */
	for (int i = 4; i < 24; i += 2)
		affinity_add(a, i, i % 4 == 2, 1.0);
	affinity_update(a);
	float before = odds(a, 1);	/* artist 1: nothing known */
	CHECK_NEAR(before, 1.0, 0.05);
	affinity_add(a, 1, 0, 1.0);
	affinity_update(a);
	float one = odds(a, 5);		/* another track of artist 1 */
	CHECK_MSG(one < before && one > 0.75f * before,
		  "one skip moved artist 1 from %.3f to %.3f", before, one);
	for (int k = 0; k < 6; k++)
		affinity_add(a, 1 + 4 * (k % 3), 0, 1.0);
	affinity_update(a);
	float many = odds(a, 5);
	CHECK_MSG(many < 0.7f * before, "seven skips: %.3f (before %.3f)",
		  many, before);
	CHECK_MSG(odds(a, 2) > 1.0f && odds(a, 0) < 1.0f,
		  "artist 2 %.3f, artist 0 %.3f", odds(a, 2), odds(a, 0));
	affinity_free(a);
}

/* A folder never heard from takes its parent's rate: liking music/rock/x
 * lifts music/rock/y, not music/jazz. */
static void test_folders_form_a_tree(void)
{
	const char *uris[] = { "music/rock/x/1.ogg", "music/rock/x/2.ogg",
			       "music/rock/y/3.ogg", "music/jazz/4.ogg",
			       "music/jazz/5.ogg", "other/6.ogg" };
	struct affinity *a = affinity_new(6);
	for (int i = 0; i < 6; i++)
		CHECK(affinity_set_track(a, i, uris[i], NULL, NULL, NULL));
	for (int k = 0; k < 4; k++) {
		affinity_add(a, 0, 1, 1.0);
		affinity_add(a, 1, 1, 1.0);
		affinity_add(a, 3, 0, 1.0);
	}
	affinity_update(a);
	float x = odds(a, 0), y = odds(a, 2), jazz = odds(a, 4),
	      other = odds(a, 5);
	CHECK_MSG(x > y && y > 1.0f, "x %.3f, y %.3f", x, y);
	CHECK_MSG(jazz < 1.0f, "jazz %.3f", jazz);
	CHECK_NEAR(other, 1.0, 1e-6);
	char buf[160];
	CHECK(affinity_describe(a, 0, buf, sizeof buf));
	CHECK_MSG(strstr(buf, "you liked 8 of 8 songs in folder music/rock") ||
		  strstr(buf, "you liked 8 of 8 songs in folder music/rock/x"),
		  "%s", buf);
	CHECK(affinity_describe(a, 4, buf, sizeof buf));
	CHECK_MSG(strstr(buf, "you liked 0 of 4 songs in folder music/jazz"),
		  "%s", buf);
	affinity_free(a);
}

/* Tags compare without case; an album hangs from its artist. */
static void test_tags(void)
{
	struct affinity *a = affinity_new(4);
	CHECK(affinity_set_track(a, 0, "a/1.mp3", "ABBA", "Gold", "Pop"));
	CHECK(affinity_set_track(a, 1, "b/2.mp3", "abba", "Arrival", "pop"));
	CHECK(affinity_set_track(a, 2, "c/3.mp3", "Other", "Gold", "Rock"));
	CHECK(affinity_set_track(a, 3, "d/4.mp3", "Abba", "gold", NULL));
	CHECK_INT(affinity_artist(a, 0), affinity_artist(a, 1));
	CHECK(affinity_artist(a, 0) != affinity_artist(a, 2));
	for (int k = 0; k < 5; k++)
		affinity_add(a, 0, 1, 1.0);
	affinity_add(a, 2, 0, 1.0);
	affinity_update(a);
	/* Track 3 is on ABBA's Gold, track 1 by ABBA (another album, the
	 * same genre): both lifted; track 2 (Gold by another artist, Rock)
	 * is not ABBA's Gold. */
	CHECK_MSG(odds(a, 3) > 1.5f && odds(a, 1) > 1.5f,
		  "gold %.3f, arrival %.3f", odds(a, 3), odds(a, 1));
	CHECK_MSG(odds(a, 2) < 1.0f, "other %.3f", odds(a, 2));
	char buf[160];
	CHECK(affinity_describe(a, 1, buf, sizeof buf));
	CHECK_MSG(strstr(buf, "you liked 5 of 5 songs"), "%s", buf);
	affinity_free(a);
}

/* Weights: the odds factor stays finite with all likes or all skips. */
static void test_extremes(void)
{
	struct affinity *a = affinity_new(2);
	CHECK(affinity_set_track(a, 0, "x/1.ogg", NULL, NULL, NULL));
	CHECK(affinity_set_track(a, 1, "y/2.ogg", NULL, NULL, NULL));
	for (int k = 0; k < 1000; k++)
		affinity_add(a, 0, 1, 1.0);
	affinity_update(a);
	CHECK(isfinite(odds(a, 0)) && odds(a, 0) > 0);
	CHECK(isfinite(odds(a, 1)) && odds(a, 1) > 0);
	affinity_free(a);
}

int main(void)
{
	RUN(test_neutral_without_events);
	RUN(test_shrinks_towards_the_overall_rate);
	RUN(test_folders_form_a_tree);
	RUN(test_tags);
	RUN(test_extremes);
	return harness_finish();
}
