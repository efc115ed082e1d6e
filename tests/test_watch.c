/* The feedback rules, case by case (shared/DESIGN.md, "Feedback rules"). */
#include "daemon/watch.h"
#include "tests/lib/harness.h"

#include <string.h>

static const struct watch_rules rules = { .end_margin = 10,
					  .min_duration = 30 };

/* An observation: time, state, song id, uri, elapsed, duration. */
#define obs(t, st, id, u, el, du)                                             \
	((struct watch_obs){ .now = (t), .state = (st), .song_id = (id),     \
			     .uri = (u), .elapsed = (el), .duration = (du) })

static void test_margin_is_at_most_a_tenth(void)
{
	CHECK_NEAR(watch_end_margin(200, 10), 10, 1e-9);
	CHECK_NEAR(watch_end_margin(40, 10), 4, 1e-9);
	CHECK_NEAR(watch_end_margin(3, 10), 0.3, 1e-9);
}

static void test_played_to_end_rule(void)
{
	CHECK(watch_played_to_end(195, 195, 200, 10));
	CHECK(watch_played_to_end(200, 200, 200, 10));
	CHECK(!watch_played_to_end(150, 189, 200, 10));	/* 11 s left */
	CHECK(!watch_played_to_end(20, 200, 200, 10));	/* seeked to end */
	CHECK(watch_played_to_end(2.9, 3.0, 3.0, 10));	/* short track */
	CHECK(!watch_played_to_end(2.9, 2.6, 3.0, 10));
	CHECK(!watch_played_to_end(0, 0, 0, 10));		/* unknown */
}

static void test_skip_weight_falls_with_share_heard(void)
{
	double early = watch_skip_weight(5, 200);
	double late = watch_skip_weight(160, 200);
	CHECK(early > late);
	CHECK(early > 0.95);
	CHECK_NEAR(watch_skip_weight(200, 200), 0.1, 1e-9);
	CHECK_NEAR(watch_skip_weight(0, 200), 1.0, 1e-9);
}

static void test_full_play_is_a_like(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	CHECK(!watch_observe(&w, &obs(0, WATCH_PLAY, 1, "a.flac", 0, 100), &v));
	CHECK(!watch_observe(&w, &obs(50, WATCH_PLAY, 1, "a.flac", 50, 100), &v));
	CHECK(watch_observe(&w, &obs(100.2, WATCH_PLAY, 2, "b.flac", 0.1, 80),
			    &v));
	CHECK_INT(v.kind, WATCH_LIKE);
	CHECK_STR(v.uri, "a.flac");
	CHECK_NEAR(v.played, 100.0, 1e-9);	/* no more than the track */
	CHECK_NEAR(v.weight, 1.0, 1e-9);
	watch_reset(&w);
}

static void test_next_early_is_a_heavy_dislike(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "a.flac", 0, 100), &v);
	CHECK(watch_observe(&w, &obs(5, WATCH_PLAY, 2, "b.flac", 0, 80), &v));
	CHECK_INT(v.kind, WATCH_SKIP);
	CHECK_STR(v.uri, "a.flac");
	CHECK(v.weight > 0.9);
	/* b is now watched: skipped later, it weighs less (after half of
	 * it, it would be a listen: no skip at all). */
	CHECK(watch_observe(&w, &obs(40, WATCH_PLAY, 3, "c.flac", 0, 80), &v));
	CHECK_INT(v.kind, WATCH_SKIP);
	CHECK_STR(v.uri, "b.flac");
	CHECK(v.weight < 0.6);
	watch_reset(&w);
}

static void test_pause_does_not_count(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "a.flac", 0, 100), &v);
	watch_observe(&w, &obs(40, WATCH_PAUSE, 1, "a.flac", 40, 100), &v);
	watch_observe(&w, &obs(1040, WATCH_PLAY, 1, "a.flac", 40, 100), &v);
	CHECK(watch_observe(&w, &obs(1100, WATCH_PLAY, 2, "b.flac", 0, 80),
			    &v));
	CHECK_INT(v.kind, WATCH_LIKE);
	CHECK_NEAR(v.played, 100, 1e-9);
	watch_reset(&w);
}

static void test_seek_forward_is_not_a_like(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "a.flac", 0, 100), &v);
	watch_observe(&w, &obs(10, WATCH_PLAY, 1, "a.flac", 85, 100), &v);
	CHECK(watch_observe(&w, &obs(25, WATCH_PLAY, 2, "b.flac", 0, 80), &v));
	CHECK_INT(v.kind, WATCH_NONE);
	CHECK_NEAR(v.played, 25, 1e-9);
	watch_reset(&w);
}

/* A seek to the end, then an output that stalls for two seconds: the
 * stopwatch ran, but only a quarter second of audio went by. */
static void test_stalled_output_is_not_heard(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &(struct watch_rules){ .end_margin = 10,
					      .min_duration = 1 });
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "d.wav", 0, 3), &v);
	watch_observe(&w, &obs(0.3, WATCH_PLAY, 1, "d.wav", 2.75, 3), &v);
	CHECK(watch_observe(&w, &obs(2.5, WATCH_PLAY, 2, "a.wav", 0, 3), &v));
	CHECK_INT(v.kind, WATCH_NONE);
	CHECK_NEAR(v.played, 0.55, 1e-9);
	watch_reset(&w);
}

static void test_stop_mid_song_has_no_label(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "a.flac", 0, 100), &v);
	CHECK(watch_observe(&w, &obs(30, WATCH_STOP, -1, NULL, 0, 0), &v));
	CHECK_INT(v.kind, WATCH_NONE);
	CHECK_STR(v.uri, "a.flac");
	/* Stopped, nothing watched: no verdict until something plays. */
	CHECK(!watch_observe(&w, &obs(40, WATCH_STOP, -1, NULL, 0, 0), &v));
	watch_reset(&w);
}

static void test_end_of_queue_is_a_like(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "a.flac", 0, 100), &v);
	CHECK(watch_observe(&w, &obs(100.1, WATCH_STOP, -1, NULL, 0, 0), &v));
	CHECK_INT(v.kind, WATCH_LIKE);
	watch_reset(&w);
}

static void test_short_track_has_no_label(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "jingle.ogg", 0, 12), &v);
	CHECK(watch_observe(&w, &obs(2, WATCH_PLAY, 2, "b.flac", 0, 80), &v));
	CHECK_INT(v.kind, WATCH_NONE);
	watch_reset(&w);
}

static void test_restart_under_repeat_is_a_new_play(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	watch_observe(&w, &obs(0, WATCH_PLAY, 7, "a.flac", 0, 100), &v);
	watch_observe(&w, &obs(95, WATCH_PLAY, 7, "a.flac", 95, 100), &v);
	CHECK(watch_observe(&w, &obs(100.3, WATCH_PLAY, 7, "a.flac", 0.2,
				     100), &v));
	CHECK_INT(v.kind, WATCH_LIKE);
	/* The second play is watched from its start. */
	CHECK(watch_observe(&w, &obs(103, WATCH_PLAY, 8, "b.flac", 0, 50), &v));
	CHECK_INT(v.kind, WATCH_SKIP);
	CHECK_NEAR(v.played, 2.7, 1e-9);
	/* A seek back to the start in mid-song is not a restart. */
	watch_observe(&w, &obs(110, WATCH_PLAY, 8, "b.flac", 20, 50), &v);
	CHECK(!watch_observe(&w, &obs(111, WATCH_PLAY, 8, "b.flac", 0, 50),
			     &v));
	watch_reset(&w);
}

static void test_start_mid_song_counts_what_it_saw(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	/* The daemon comes up 70 s into a 100 s song that then ends. */
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "a.flac", 70, 100), &v);
	CHECK(watch_observe(&w, &obs(30, WATCH_PLAY, 2, "b.flac", 0, 80), &v));
	CHECK_INT(v.kind, WATCH_NONE);
	CHECK_NEAR(v.played, 30, 1e-9);
	watch_reset(&w);
}

static void test_unknown_duration_has_no_label(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "http://radio", 0, 0), &v);
	CHECK(watch_observe(&w, &obs(300, WATCH_PLAY, 2, "b.flac", 0, 80), &v));
	CHECK_INT(v.kind, WATCH_NONE);
	watch_reset(&w);
}

/* Issue 12: a long track left after half its length or 4 minutes heard
 * (mpdscribble's listen) is no dislike. */
static void test_listened_is_no_dislike(void)
{
	CHECK(watch_listened(240, 1200));
	CHECK(!watch_listened(239, 1200));
	CHECK(watch_listened(40, 80));
	CHECK(!watch_listened(39.9, 80));
	CHECK(!watch_listened(100, 0));
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	/* 4 minutes of a 20-minute mix. */
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "mix.flac", 0, 1200), &v);
	CHECK(watch_observe(&w, &obs(250, WATCH_PLAY, 2, "b.flac", 0, 80),
			    &v));
	CHECK_INT(v.kind, WATCH_NONE);
	CHECK_MSG(strstr(v.why, "a listen, not a skip"), "%s", v.why);
	/* Half of an 80 s song. */
	CHECK(watch_observe(&w, &obs(295, WATCH_PLAY, 3, "c.flac", 0, 300),
			    &v));
	CHECK_INT(v.kind, WATCH_NONE);
	/* Under half of a 300 s song, under 4 minutes: a skip. */
	CHECK(watch_observe(&w, &obs(435, WATCH_PLAY, 4, "d.flac", 0, 300),
			    &v));
	CHECK_INT(v.kind, WATCH_SKIP);
	watch_reset(&w);
}

/* Issue 12: the log says in words why an event has no label. */
static void test_no_label_in_words(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "a.flac", 0, 100), &v);
	watch_observe(&w, &obs(5, WATCH_PLAY, 1, "a.flac", 97, 100), &v);
	CHECK(watch_observe(&w, &obs(8.1, WATCH_PLAY, 2, "b.flac", 0.1, 100),
			    &v));
	CHECK_STR(v.why, "seeked to the end");
	CHECK(watch_observe(&w, &obs(20, WATCH_STOP, -1, NULL, 0, 0), &v));
	CHECK_STR(v.why, "stopped");
	watch_observe(&w, &obs(30, WATCH_PLAY, 3, "c.flac", 0, 100), &v);
	CHECK(watch_observe(&w, &(struct watch_obs){ .now = 40,
			    .state = WATCH_STOP, .song_id = -1,
			    .cleared = true }, &v));
	CHECK_STR(v.why, "the queue was cleared");
	watch_observe(&w, &obs(50, WATCH_PLAY, 4, "jingle.ogg", 0, 12), &v);
	CHECK(watch_observe(&w, &obs(62, WATCH_STOP, -1, NULL, 0, 0), &v));
	CHECK_MSG(strstr(v.why, "too short"), "%s", v.why);
	watch_reset(&w);
	/* A daemon that comes up near the end of a song. */
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "a.flac", 95, 100), &v);
	CHECK(watch_observe(&w, &obs(5.1, WATCH_PLAY, 2, "b.flac", 0.1, 100),
			    &v));
	CHECK_MSG(strstr(v.why, "only its end was seen"), "%s", v.why);
	watch_reset(&w);
}

/* Issue 13: stalled for 70 s across a song change, the daemon first saw a
 * 40 s song at 0:32; it then played to its end. It was a full play, not
 * "reached its end without being heard". */
static void test_stall_across_a_song_change(void)
{
	struct watch w;
	struct watch_verdict v;
	watch_init(&w, &rules);
	watch_observe(&w, &obs(0, WATCH_PLAY, 1, "w.flac", 0, 40), &v);
	/* w played to its end at 40 s and x began then; the stalled daemon
	 * looks again at 72 s. */
	CHECK(watch_observe(&w, &obs(72, WATCH_PLAY, 2, "x.flac", 32, 40),
			    &v));
	CHECK_STR(v.uri, "w.flac");
	CHECK_INT(v.kind, WATCH_LIKE);
	CHECK(watch_observe(&w, &obs(80.2, WATCH_PLAY, 3, "y.flac", 0.1, 40),
			    &v));
	CHECK_STR(v.uri, "x.flac");
	CHECK_MSG(v.kind == WATCH_LIKE, "x: %s after %.1f s", v.why, v.played);
	CHECK_NEAR(v.played, 40, 0.2);
	/* Stalled while stopped: a song started and played during the stall
	 * is heard from its start too. */
	CHECK(watch_observe(&w, &obs(81, WATCH_STOP, -1, NULL, 0, 0), &v));
	CHECK(!watch_observe(&w, &obs(150, WATCH_PLAY, 4, "z.flac", 35, 40),
			     &v));
	CHECK(watch_observe(&w, &obs(155.2, WATCH_PLAY, 5, "a.flac", 0.1, 40),
			    &v));
	CHECK_INT(v.kind, WATCH_LIKE);
	watch_reset(&w);
}

int main(void)
{
	RUN(test_margin_is_at_most_a_tenth);
	RUN(test_played_to_end_rule);
	RUN(test_skip_weight_falls_with_share_heard);
	RUN(test_full_play_is_a_like);
	RUN(test_next_early_is_a_heavy_dislike);
	RUN(test_pause_does_not_count);
	RUN(test_seek_forward_is_not_a_like);
	RUN(test_stalled_output_is_not_heard);
	RUN(test_stop_mid_song_has_no_label);
	RUN(test_end_of_queue_is_a_like);
	RUN(test_short_track_has_no_label);
	RUN(test_restart_under_repeat_is_a_new_play);
	RUN(test_start_mid_song_counts_what_it_saw);
	RUN(test_unknown_duration_has_no_label);
	RUN(test_listened_is_no_dislike);
	RUN(test_no_label_in_words);
	RUN(test_stall_across_a_song_change);
	return harness_finish();
}
