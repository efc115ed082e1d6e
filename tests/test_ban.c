/* Issue 13: a ban takes effect at once. The filler's banned flags used to
 * refresh only when the library was reloaded: after banning 30 of 32
 * tracks and clearing the queue, the daemon queued three banned tracks,
 * and a track banned while it was queued next still played. Now a ban
 * reaches the filler as it is recorded: the track is never queued again,
 * and the copies mpdrec queued are removed from MPD's queue (the user's
 * own are left). Real MPD, real analysis. */
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <mpd/client.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_STYLE 16
#define TRACK_S 1.5

static struct rig rig;
static bool ready;

static void setup(void)
{
	ready = rig_start_mpd(&rig, harness_tmpdir()) &&
		listener_make_library(rig.mpd.music, PER_STYLE, TRACK_S) &&
		mpdtest_update(&rig.mpd) &&
		rig_write_conf(&rig,
			       "feedback = { min_duration = 0.5; };\n"
			       "queue = { ahead = 2; settle_ms = 50.0; "
			       "history_hours = 0.0001; "
			       "artist_spacing = 0; };\n"
			       "analysis = { jobs = 1; };\n"
			       "log = { level = \"debug\"; };") &&
		rig_start_daemon(&rig, 30);
	if (ready)
		ready = listener_wait_analysed(rig.data, 2 * PER_STYLE, 90) ==
			2 * PER_STYLE;
}

/* The queue's URIs and ids into uris/ids (at most n); returns how many, or
 * -1. */
static int queue(struct mpd_connection *c, char uris[][64], unsigned *ids,
		 int n)
{
	if (!mpd_send_list_queue_meta(c))
		return -1;
	int k = 0;
	struct mpd_song *s;
	while ((s = mpd_recv_song(c))) {
		if (k < n) {
			snprintf(uris[k], 64, "%s", mpd_song_get_uri(s));
			ids[k] = mpd_song_get_id(s);
			k++;
		}
		mpd_song_free(s);
	}
	return mpd_response_finish(c) ? k : -1;
}

/* Waits until the queue holds at least n songs; returns how many. */
static int wait_queue(struct mpd_connection *c, int n, char uris[][64],
		      unsigned *ids, int cap)
{
	int k = 0;
	for (double end = proc_now() + 10; proc_now() < end; proc_sleep(0.05))
		if ((k = queue(c, uris, ids, cap)) >= n)
			break;
	return k;
}

/* A song queued by mpdrec, banned while it waits as the next song, is
 * removed before it plays; the same song the user queued stays. */
static void test_ban_of_the_next_song(void)
{
	if (!CHECK(ready))
		return;
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	if (!CHECK(c))
		return;
	char uris[16][64];
	unsigned ids[16];
	long from = proc_file_size(rig.log);
	CHECK(mpd_run_clear(c));
	/* The user queues a song and plays it (held paused); mpdrec fills
	 * the queue after it. */
	CHECK(mpd_run_add(c, "soft_00.wav") && mpd_run_play_pos(c, 0) &&
	      mpd_run_pause(c, true));
	int n = wait_queue(c, 3, uris, ids, 16);
	if (!CHECK_MSG(n >= 3, "%d songs queued", n))
		goto out;
	char next[64];
	snprintf(next, sizeof next, "%s", uris[1]);
	/* The user queues the same song at the end, by hand. */
	int mine = mpd_run_add_id(c, next);
	CHECK(mine >= 0);
	char msg[128];
	snprintf(msg, sizeof msg, "ban %s", next);
	CHECK(mpd_run_send_message(c, "mpdrec", msg));
	char removed[128];
	snprintf(removed, sizeof removed, "removed banned %s", next);
	CHECK(proc_wait_for(rig.log, removed, from, 5));
	n = queue(c, uris, ids, 16);
	int copies = 0, user_copy = 0;
	for (int i = 0; i < n; i++) {
		copies += !strcmp(uris[i], next);
		user_copy += ids[i] == (unsigned)mine;
	}
	CHECK_MSG(copies == 1 && user_copy == 1, "%d copies of %s, the "
		  "user's %s", copies, next, user_copy ? "kept" : "gone");
	/* What plays next is not the banned song. */
	CHECK(mpd_run_pause(c, false) && mpd_run_next(c));
	struct mpd_song *s = mpd_run_current_song(c);
	if (CHECK(s)) {
		CHECK_MSG(strcmp(mpd_song_get_uri(s), next) != 0,
			  "%s played after its ban", next);
		mpd_song_free(s);
	}
	printf("banned while queued next: %s removed before it played, the "
	       "user's own copy kept\n", next);
out:
	mpd_run_stop(c);
	mpd_connection_free(c);
}

static bool banned(char list[][64], int n, const char *uri)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(list[i], uri))
			return true;
	return false;
}

/* 30 of 32 tracks banned, the queue cleared, a listener plays: only the
 * two others are ever queued. */
static void test_ban_thirty_of_thirty_two(void)
{
	if (!CHECK(ready))
		return;
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	if (!CHECK(c))
		return;
	CHECK(mpd_run_clear(c));
	/* Every track but soft_00 and noisy_00; the first one with the
	 * command line, the rest on the channel as any client would. */
	static char list[2 * PER_STYLE][64];
	int n = 0;
	for (int k = 1; k < PER_STYLE; k++) {
		snprintf(list[n++], 64, "soft_%02d.wav", k);
		snprintf(list[n++], 64, "noisy_%02d.wav", k);
	}
	long from = proc_file_size(rig.log);
	char out[4400], said[128];
	snprintf(out, sizeof out, "%s/ban.out", rig.root);
	CHECK_INT(harness_system("{ '%s' --config '%s' ban '%s' > '%s'; }",
				 proc_mpdrec(), rig.conf, list[0], out), 0);
	snprintf(said, sizeof said, "banned %s: mpdrec will not queue it "
		 "again", list[0]);
	CHECK_MSG(rig_log_count(out, 0, said) == 1, "mpdrec ban did not say "
		  "\"%s\"", said);
	for (int i = 1; i < n; i++) {
		char msg[128];
		snprintf(msg, sizeof msg, "ban %s", list[i]);
		CHECK(mpd_run_send_message(c, "mpdrec", msg));
	}
	double end = proc_now() + 30;
	while (rig_log_count(rig.log, from, ": ban ") < n && proc_now() < end)
		proc_sleep(0.05);
	CHECK_INT(rig_log_count(rig.log, from, ": ban "), n);
	/* From here on: the user queues one of the two and plays; mpdrec
	 * keeps the queue going. */
	from = proc_file_size(rig.log);
	CHECK(mpd_run_clear(c));
	char uris[16][64];
	unsigned ids[16];
	CHECK(mpd_run_add(c, "noisy_00.wav") && mpd_run_play(c));
	CHECK(wait_queue(c, 2, uris, ids, 16) >= 2);
	mpd_connection_free(c);
	/* Songs go by; the filler keeps the queue two ahead. */
	struct rig_listener *l = rig_listener_start(&rig.mpd, 0.3);
	int seen = 0, bad = 0;
	c = mpdtest_connect(&rig.mpd);
	for (end = proc_now() + 12; c && proc_now() < end; proc_sleep(0.1)) {
		int k = queue(c, uris, ids, 16);
		for (int i = 0; i < k; i++) {
			seen++;
			bad += banned(list, n, uris[i]);
		}
	}
	int heard = l ? rig_listener_stop(l) : 0;
	int queued = rig_log_count(rig.log, from, "queued ");
	int queued_banned = 0;
	for (int i = 0; i < n; i++) {
		char q[96];
		snprintf(q, sizeof q, "queued %.64s (", list[i]);
		queued_banned += rig_log_count(rig.log, from, q);
	}
	CHECK_MSG(queued_banned == 0, "%d banned tracks queued", queued_banned);
	CHECK_MSG(bad == 0, "a banned track was in the queue %d times", bad);
	CHECK_MSG(heard >= 4 && queued >= 4, "%d songs heard, %d queued",
		  heard, queued);
	printf("30 of 32 tracks banned, queue cleared: %d songs heard, %d "
	       "queued by mpdrec, %d of them banned; a banned track in "
	       "MPD's queue %d times in %d looks\n", heard, queued,
	       queued_banned, bad, seen);
	if (c) {
		mpd_run_stop(c);
		mpd_connection_free(c);
	}
}

int main(void)
{
	setup();
	RUN(test_ban_of_the_next_song);
	RUN(test_ban_thirty_of_thirty_two);
	if (rig.pid > 0)
		rig_stop_daemon(&rig, SIGTERM, 10);
	mpdtest_stop(&rig.mpd);
	return harness_finish();
}
