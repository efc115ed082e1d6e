/* Issue 8, kill test: the daemon is killed with SIGKILL fifty times at a
 * random moment while it listens (a listener plays and skips, so events
 * flow), learns (every event is an Adam step, a save every few events and
 * a background retrain every 5) and analyses (files are touched and MPD
 * updated, so a library sync and analysis run during the kills), and
 * started again each time. After every kill: SQLite's integrity check
 * passes, every event the daemon had logged as stored ("event N: ...",
 * logged after the commit) is in the store exactly once with the same URI
 * and kind, and the saved model loads. Prints the figures docs/reliability.md
 * quotes. Real MPD (null output, real time), real decoding, real SQLite. */
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <math.h>
#include <mpd/client.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define KILLS 50
#define PER_STYLE 16		/* 32 tracks the listener hears */
#define TRACK_S 1.5
#define LONG_TRACKS 16		/* and 16 of 60 s, for the analysis */
#define LONG_S 60.0
#define TOUCH_PER_KILL 8	/* long files changed before each kill */
#define MESSAGE_EVERY_S 0.15	/* explicit feedback on the channel */
#define KILL_MIN_S 0.2
#define KILL_MAX_S 2.0
#define RATE 22050

static struct rig rig;
static uint64_t rng = 88172645463325252ULL;

static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* Long tracks (a chord under noise) that take the analysis a while; the
 * listener skips them (not soft_*). */
static bool make_long_tracks(void)
{
	size_t n = (size_t)(LONG_S * RATE);
	float *x = malloc(n * sizeof *x);
	bool ok = x != NULL;
	for (int k = 0; ok && k < LONG_TRACKS; k++) {
		for (size_t i = 0; i < n; i++)
			x[i] = (float)(0.2 * sin(2 * M_PI * (200 + 30 * k) *
						 (double)i / RATE) +
				       0.1 * (urand() - 0.5));
		char path[4400];
		snprintf(path, sizeof path, "%s/long_%02d.wav", rig.mpd.music,
			 k);
		ok = harness_write_track(path, x, n, RATE);
	}
	free(x);
	return ok;
}

/* Gives TOUCH_PER_KILL long tracks a new mtime, so MPD's next update
 * reports them changed and the daemon analyses them again. */
static void touch_some(int round)
{
	for (int k = 0; k < TOUCH_PER_KILL; k++) {
		char path[4400];
		snprintf(path, sizeof path, "%s/long_%02d.wav", rig.mpd.music,
			 (int)(urand() * LONG_TRACKS));
		time_t t = 1600000000 + round * 60 + k;
		struct timeval tv[2] = { { t, 0 }, { t, 0 } };
		utimes(path, tv);
	}
}

/* A second client that keeps sending like/dislike on mpdrec's channel:
 * explicit events, each learned at once, so saves and retrains happen
 * many times a second. */
struct messenger {
	pthread_t thread;
	atomic_int stop;
	atomic_int sent;
};

static void *messenger_main(void *arg)
{
	struct messenger *m = arg;
	struct mpd_connection *c = NULL;
	unsigned k = 0;
	while (!atomic_load(&m->stop)) {
		proc_sleep(MESSAGE_EVERY_S);
		if (!c && !(c = mpdtest_connect(&rig.mpd)))
			continue;
		char text[64];
		k++;
		snprintf(text, sizeof text, "%s %s_%02u.wav",
			 k % 2 ? "like" : "dislike", k % 2 ? "soft" : "noisy",
			 k / 2 % PER_STYLE);
		/* Refused while the daemon is down: nobody subscribed. */
		if (mpd_run_send_message(c, "mpdrec", text))
			atomic_fetch_add(&m->sent, 1);
		else if (mpd_connection_get_error(c) != MPD_ERROR_SERVER ||
			 !mpd_connection_clear_error(c)) {
			mpd_connection_free(c);
			c = NULL;
		}
	}
	if (c)
		mpd_connection_free(c);
	return NULL;
}

struct figures {
	int kills, restarts, integrity_ok, models_loaded, no_model;
	int mid_scan, mid_retrain, logged, checked_present;
	int cut_lines;
};

/* Whether the log since `from` shows a library scan started and not
 * finished. */
static bool scan_in_flight(long from)
{
	return rig_log_count(rig.log, from, "library scan started") >
	       rig_log_count(rig.log, from, "library scan:");
}

/* What was in flight at the kill, from the log since `from`. */
static void in_flight(long from, struct figures *f)
{
	if (scan_in_flight(from))
		f->mid_scan++;
	if (rig_log_count(rig.log, from, "events in the background") >
	    rig_log_count(rig.log, from, "retrained:") +
	    rig_log_count(rig.log, from, "retrain failed"))
		f->mid_retrain++;
}

/* Every logged event is stored, once, as it was logged. */
static int check_events(const struct rig_logged *logged, int n_logged,
			int round)
{
	struct rig_event *ev = NULL;
	int n = 0;
	char err[512];
	if (!CHECK_MSG(rig_store_events(rig.data, &ev, &n, err, sizeof err),
		       "kill %d: %s", round, err))
		return 0;
	int missing = 0, wrong = 0;
	for (int i = 0; i < n_logged; i++) {
		const struct rig_event *e = rig_find_event(ev, n,
							   logged[i].id);
		if (!e) {
			if (missing++ < 3)
				fprintf(stderr, "kill %d: event %lld (%s) was "
					"logged but is not stored\n", round,
					(long long)logged[i].id,
					logged[i].uri);
			continue;
		}
		if (strcmp(e->uri, logged[i].uri) ||
		    strcmp(rig_kind_word(e->kind), logged[i].kind)) {
			if (wrong++ < 3)
				fprintf(stderr, "kill %d: event %lld logged as "
					"%s %s, stored as %s %s\n", round,
					(long long)logged[i].id,
					logged[i].kind, logged[i].uri,
					rig_kind_word(e->kind), e->uri);
		}
	}
	/* The same id logged twice would be an id SQLite handed out again
	 * after losing a committed event. */
	int twice = 0;
	for (int i = 0; i < n_logged; i++)
		for (int j = i + 1; j < n_logged; j++)
			twice += logged[i].id == logged[j].id;
	int dup = rig_duplicate_events(ev, n);
	CHECK_MSG(missing == 0, "kill %d: %d logged events missing", round,
		  missing);
	CHECK_MSG(wrong == 0, "kill %d: %d events differ from their log line",
		  round, wrong);
	CHECK_MSG(twice == 0, "kill %d: %d event ids logged twice", round,
		  twice);
	CHECK_MSG(dup == 0, "kill %d: %d events stored twice", round, dup);
	free(ev);
	return n_logged - missing;
}

static void test_fifty_kills(void)
{
	if (!CHECK(rig_start_mpd(&rig, harness_tmpdir())))
		return;
	if (!CHECK(listener_make_library(rig.mpd.music, PER_STYLE, TRACK_S)) ||
	    !CHECK(make_long_tracks()) || !CHECK(mpdtest_update(&rig.mpd)))
		return;
	if (!CHECK(rig_write_conf(&rig,
		"feedback = { min_duration = 0.5; };\n"
		"queue = { ahead = 2; history_hours = 0.001; "
		"artist_spacing = 0; settle_ms = 50.0; };\n"
		"model = { retrain_every = 5; ensemble = 3; };\n"
		"analysis = { jobs = 1; };")))
		return;
	double t0 = proc_now();
	/* First run: the library analysed, so that the queue fills. */
	if (!CHECK(rig_start_daemon(&rig, 30)))
		return;
	int counts[4] = { 0 };
	int tracks = 2 * PER_STYLE + LONG_TRACKS;
	while (proc_now() - t0 < 90 && (!rig_track_counts(rig.data, counts) ||
					counts[1] < tracks))
		proc_sleep(0.2);
	if (!CHECK_MSG(counts[1] == tracks, "%d of %d analysed", counts[1],
		       tracks))
		return;
	struct rig_listener *l = rig_listener_start(&rig.mpd, 0.3);
	struct messenger msg = { 0 };
	atomic_init(&msg.stop, 0);
	atomic_init(&msg.sent, 0);
	bool started = l && pthread_create(&msg.thread, NULL, messenger_main,
					   &msg) == 0;
	if (!CHECK(started))
		return;

	struct figures f = { 0 };
	struct rig_logged *logged = NULL;
	int n_logged = 0;
	long from = 0;
	double t_kills = proc_now();
	for (int round = 0; round < KILLS; round++) {
		if (round > 0) {
			from = proc_file_size(rig.log);
			if (!CHECK_MSG(rig_start_daemon(&rig, 30),
				       "restart %d", round))
				break;
			f.restarts++;
		}
		double at = proc_now() + KILL_MIN_S +
			    urand() * (KILL_MAX_S - KILL_MIN_S);
		/* Something for the scanner: changed files, an update. */
		touch_some(round);
		mpdtest_update(&rig.mpd);
		if (round % 5 == 2) {
			/* Every fifth kill lands in a scan, when one runs:
			 * a random moment may miss a short scan each time. */
			double until = proc_now() + KILL_MAX_S + 3;
			while (proc_now() < until && !scan_in_flight(from))
				proc_sleep(0.002);
		} else {
			double left = at - proc_now();
			if (left > 0)
				proc_sleep(left);
		}
		int rc = rig_stop_daemon(&rig, SIGKILL, 10);
		CHECK_MSG(rc == 128 + SIGKILL, "kill %d: status %d (the "
			  "daemon had exited by itself?)", round, rc);
		f.kills++;
		in_flight(from, &f);

		if (!rig_logged_events(rig.log, from, &logged, &n_logged))
			break;
		bool had_model;
		char err[512];
		bool ok = rig_check_store(rig.data, &had_model, err,
					  sizeof err);
		CHECK_MSG(ok, "kill %d: %s", round, err);
		f.integrity_ok += ok;
		f.models_loaded += ok && had_model;
		f.no_model += ok && !had_model;
		f.checked_present = check_events(logged, n_logged, round);
	}
	double kill_s = proc_now() - t_kills;
	int heard = rig_listener_stop(l);
	atomic_store(&msg.stop, 1);
	pthread_join(msg.thread, NULL);

	/* One more start after the last kill: the daemon carries on. */
	long last = proc_file_size(rig.log);
	CHECK(rig_start_daemon(&rig, 30));
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	CHECK_INT(rig_log_count(rig.log, 0, "lost event"), 0);
	CHECK_INT(rig_log_count(rig.log, last, "saved model not usable"), 0);
	CHECK_INT(rig_log_count(rig.log, 0, "saved model not usable"), 0);

	struct rig_event *ev = NULL;
	int n = 0;
	char err[512];
	CHECK(rig_store_events(rig.data, &ev, &n, err, sizeof err));
	f.logged = n_logged;
	int retrains = rig_log_count(rig.log, 0, "retrained:");
	int scans = rig_log_count(rig.log, 0, "library scan:");
	CHECK_INT(f.kills, KILLS);
	CHECK_INT(f.integrity_ok, KILLS);
	CHECK_MSG(n_logged >= KILLS, "only %d events logged in %d kills",
		  n_logged, KILLS);
	CHECK_MSG(f.mid_scan >= 1, "no kill landed during a library scan");
	CHECK_MSG(f.models_loaded >= KILLS - 5, "a model in %d of %d kills",
		  f.models_loaded, KILLS);
	printf("kill test: %d SIGKILLs survived (%d daemon starts, %.0f s of "
	       "kills, %.0f s in all)\n", f.kills, f.restarts + 1, kill_s,
	       proc_now() - t0);
	printf("  %d songs heard, %d channel messages sent; %d events logged "
	       "as stored, %d stored (%d committed but killed before their "
	       "log line); %d of %d logged present exactly once, 0 lost\n",
	       heard, atomic_load(&msg.sent), n_logged, n, n - n_logged,
	       f.checked_present, n_logged);
	printf("  integrity_check ok after %d of %d kills; model loaded after "
	       "%d (no model saved yet: %d)\n", f.integrity_ok, f.kills,
	       f.models_loaded, f.no_model);
	printf("  in flight at the kill: library scan %d times, background "
	       "retrain %d times; %d retrains and %d scans completed\n",
	       f.mid_scan, f.mid_retrain, retrains, scans);
	free(ev);
	free(logged);
}

int main(void)
{
	RUN(test_fifty_kills);
	if (rig.pid > 0)
		rig_stop_daemon(&rig, SIGTERM, 5);
	mpdtest_stop(&rig.mpd);
	return harness_finish();
}
