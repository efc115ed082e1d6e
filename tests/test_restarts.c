/* Issue 8, MPD restarts: while a listener plays, MPD is stopped and started
 * 20 times (SIGTERM, so it saves and restores its queue from its state
 * file, and every third time SIGKILL, so it comes back with an old queue or
 * none). Each time the daemon must reconnect ("is back"), keep the queue
 * filled (queue.ahead songs after the current one, and songs of its own
 * queued after the restart) within a few seconds, and not crash; its
 * memory must stay flat (VmRSS after restart 5 and after restart 20). */
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <mpd/client.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define RESTARTS 20
#define PER_STYLE 10
#define TRACK_S 1.5
#define AHEAD 2
#define BACK_WITHIN_S 15.0	/* reconnects after 1 s, then 2 s, 4 s... */
#define FILLED_WITHIN_S 10.0
#define RSS_GROWTH_KB 2048

static struct rig rig;

/* Waits until MPD plays with AHEAD songs queued after the current one and
 * the daemon has queued a song since byte `from` of its log. Returns the
 * seconds it took, or -1. */
static double wait_filled(long from, double timeout_s)
{
	double t0 = proc_now();
	struct mpd_connection *c = NULL;
	double took = -1;
	while (proc_now() - t0 < timeout_s) {
		if (!c)
			c = mpdtest_connect(&rig.mpd);
		int ahead = 0, state = 0;
		if (c && rig_queue_ahead(c, &ahead, &state)) {
			if (state == MPD_STATE_PLAY && ahead >= AHEAD &&
			    rig_log_count(rig.log, from, "queued ") > 0) {
				took = proc_now() - t0;
				break;
			}
		} else if (c) {
			mpd_connection_free(c);
			c = NULL;
		}
		proc_sleep(0.05);
	}
	if (c)
		mpd_connection_free(c);
	return took;
}

static bool daemon_alive(void)
{
	int st;
	return rig.pid > 0 && waitpid(rig.pid, &st, WNOHANG) == 0;
}

static void test_twenty_mpd_restarts(void)
{
	if (!CHECK(rig_start_mpd(&rig, harness_tmpdir())))
		return;
	char state[4400];
	snprintf(state, sizeof state, "state_file \"%s/state\"\n",
		 rig.mpd.dir);
	if (!CHECK(rig_mpd_config(&rig, state)) ||
	    !CHECK(listener_make_library(rig.mpd.music, PER_STYLE, TRACK_S)) ||
	    !CHECK(mpdtest_update(&rig.mpd)))
		return;
	if (!CHECK(rig_write_conf(&rig,
		"feedback = { min_duration = 0.5; };\n"
		"queue = { ahead = %d; history_hours = 0.001; "
		"artist_spacing = 0; settle_ms = 50.0; };\n"
		"model = { retrain_every = 10; };\n"
		"analysis = { jobs = 1; };", AHEAD)))
		return;
	double t0 = proc_now();
	if (!CHECK(rig_start_daemon(&rig, 30)))
		return;
	int counts[4] = { 0 };
	while (proc_now() - t0 < 60 && (!rig_track_counts(rig.data, counts) ||
					counts[1] < 2 * PER_STYLE))
		proc_sleep(0.2);
	if (!CHECK_MSG(counts[1] == 2 * PER_STYLE, "%d of %d analysed",
		       counts[1], 2 * PER_STYLE))
		return;
	struct rig_listener *l = rig_listener_start(&rig.mpd, 0.3);
	if (!CHECK(l))
		return;
	CHECK(wait_filled(0, FILLED_WITHIN_S) >= 0);

	int survived = 0, kills = 0;
	long rss5 = -1, rss20 = -1, rss_min = -1, rss_max = -1;
	double back_sum = 0, back_max = 0, fill_sum = 0, fill_max = 0;
	for (int i = 1; i <= RESTARTS; i++) {
		proc_sleep(1.0);	/* listening */
		long from = proc_file_size(rig.log);
		if (i % 3 == 0) {
			mpdtest_kill(&rig.mpd);
			kills++;
		} else {
			mpdtest_stop(&rig.mpd);
		}
		proc_sleep(0.3);
		if (!CHECK_MSG(mpdtest_restart(&rig.mpd), "restart %d", i))
			break;
		double up = proc_now();
		bool back = proc_wait_for(rig.log, "is back", from,
					  BACK_WITHIN_S);
		double back_s = proc_now() - up;
		CHECK_MSG(back, "restart %d: the daemon did not reconnect "
			  "within %.0f s", i, BACK_WITHIN_S);
		double fill_s = wait_filled(from, FILLED_WITHIN_S);
		CHECK_MSG(fill_s >= 0, "restart %d: queue not filled within "
			  "%.0f s", i, FILLED_WITHIN_S);
		bool alive = daemon_alive();
		CHECK_MSG(alive, "restart %d: the daemon is gone", i);
		if (!alive) {
			rig.pid = -1;
			break;
		}
		survived += back && fill_s >= 0;
		back_sum += back_s;
		back_max = back_s > back_max ? back_s : back_max;
		if (fill_s >= 0) {
			fill_sum += fill_s;
			fill_max = fill_s > fill_max ? fill_s : fill_max;
		}
		long rss = rig_rss_kb(rig.pid);
		if (getenv("RIG_VERBOSE"))
			fprintf(stderr, "restart %d: VmRSS %ld kB\n", i, rss);
		if (i == 5)
			rss5 = rss;
		if (i == RESTARTS)
			rss20 = rss;
		if (i >= 5) {
			rss_min = rss_min < 0 || rss < rss_min ? rss : rss_min;
			rss_max = rss > rss_max ? rss : rss_max;
		}
	}
	/* Still listening after all that: two more events come in. */
	long end = proc_file_size(rig.log);
	double t_end = proc_now();
	while (rig_log_count(rig.log, end, "info: event ") < 2 &&
	       proc_now() - t_end < 15)
		proc_sleep(0.1);
	CHECK_MSG(rig_log_count(rig.log, end, "info: event ") >= 2,
		  "no events after the last restart");
	int heard = rig_listener_stop(l);
	CHECK_INT(survived, RESTARTS);
	CHECK(rss5 > 0 && rss20 > 0);
#ifdef __SANITIZE_ADDRESS__
	/* ASan's quarantine keeps freed memory resident (up to 256 MB): the
	 * figure says nothing about leaks there; LSan checks at exit. */
	printf("  (VmRSS not bounded under AddressSanitizer)\n");
#else
	CHECK_MSG(rss20 - rss5 <= RSS_GROWTH_KB,
		  "VmRSS %ld kB after restart 5, %ld kB after restart %d",
		  rss5, rss20, RESTARTS);
#endif
	CHECK_INT(rig_log_count(rig.log, 0, "lost event"), 0);
	int events = rig_log_count(rig.log, 0, "info: event ");
	/* And it stops cleanly after all that. */
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	printf("MPD restarts: %d of %d survived (%d SIGTERM, %d SIGKILL); "
	       "%d songs heard, %d events stored\n", survived, RESTARTS,
	       RESTARTS - kills, kills, heard, events);
	printf("  reconnected %.1f s after MPD was up on average (max %.1f), "
	       "queue filled %.1f s later on average (max %.1f)\n",
	       back_sum / RESTARTS, back_max, fill_sum / RESTARTS, fill_max);
	printf("  VmRSS %ld kB after restart 5, %ld kB after restart %d "
	       "(%+ld kB; range %ld-%ld kB over restarts 5-%d); %.0f s\n",
	       rss5, rss20, RESTARTS, rss20 - rss5, rss_min, rss_max,
	       RESTARTS, proc_now() - t0);
}

int main(void)
{
	RUN(test_twenty_mpd_restarts);
	if (rig.pid > 0)
		rig_stop_daemon(&rig, SIGTERM, 5);
	mpdtest_stop(&rig.mpd);
	return harness_finish();
}
