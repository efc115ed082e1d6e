/* The daemon against a real MPD (Debian's mpd, null output, real time):
 * a scripted listener plays, skips, pauses, seeks, stops and sends
 * messages, and the store must show exactly the events DESIGN.md's
 * feedback rules call for. */
#include "core/store.h"
#include "features/table.h"
#include "tests/lib/harness.h"
#include "tests/lib/mpdtest.h"
#include "tests/lib/proc.h"

#include <math.h>
#include <mpd/client.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RATE 44100
#define TRACK_S 3.0

static struct mpdtest mpd;
static char data_dir[4200], conf_path[4200], log_path[4200];
static pid_t daemon_pid = -1;
static bool ready;

static void write_track(const char *name, double freq, double seconds)
{
	size_t n = (size_t)(seconds * RATE);
	float *s = malloc(n * sizeof *s);
	for (size_t i = 0; i < n; i++)
		s[i] = 0.3f * (float)sin(2 * M_PI * freq * (double)i / RATE);
	char path[4400];
	snprintf(path, sizeof path, "%s/%s", mpd.music, name);
	harness_write_track(path, s, n, RATE);
	free(s);
}

static bool start_daemon(void)
{
	char *argv[] = { (char *)proc_mpdrec(), "--config", conf_path, "-v",
			 "run", NULL };
	long from = proc_file_size(log_path);
	daemon_pid = proc_spawn(argv, log_path);
	return daemon_pid > 0 &&
	       proc_wait_for(log_path, "MPD at 127.0.0.1", from, 10) &&
	       proc_wait_for(log_path, "connected to MPD", from, 10);
}

/* Events stored, newest first. */
struct ev {
	char uri[256];
	int kind, label;
	double weight, played;
	char source[32];
};
struct evs {
	struct ev e[64];
	int n;
};

static bool collect(const struct store_event *e, void *ctx)
{
	struct evs *v = ctx;
	if (v->n < 64) {
		struct ev *o = &v->e[v->n++];
		snprintf(o->uri, sizeof o->uri, "%s", e->uri);
		o->kind = e->kind;
		o->label = e->label;
		o->weight = e->weight;
		o->played = e->played;
		snprintf(o->source, sizeof o->source, "%s",
			 e->source ? e->source : "");
	}
	return true;
}

static int64_t count_events(void)
{
	char err[256];
	struct store *s = store_open(data_dir, err, sizeof err);
	if (!s)
		return -1;
	int64_t all = -1, lab;
	store_count_events(s, &all, &lab);
	store_close(s);
	return all;
}

/* Waits until the store has more than `before` events, one of them for
 * `uri` (other songs stopped by the test's own queue changes may come
 * too); returns the oldest such event for uri in *out. */
static bool event_for(const char *uri, int64_t before, struct ev *out,
		      double timeout_s)
{
	double end = proc_now() + timeout_s;
	memset(out, 0, sizeof *out);
	while (proc_now() < end) {
		int64_t now_n = count_events();
		if (now_n > before) {
			char err[256];
			struct store *s = store_open(data_dir, err, sizeof err);
			struct evs v = { .n = 0 };
			if (s)
				store_each_recent_event(s, (int)(now_n - before),
							collect, &v);
			store_close(s);
			for (int i = v.n - 1; i >= 0; i--)
				if (!strcmp(v.e[i].uri, uri)) {
					*out = v.e[i];
					return true;
				}
		}
		proc_sleep(0.05);
	}
	return false;
}

static struct mpd_connection *conn(void)
{
	struct mpd_connection *c = mpdtest_connect(&mpd);
	if (!c)
		fprintf(stderr, "cannot connect to the test MPD\n");
	return c;
}

/* Clears the queue, queues the named tracks and plays the first. */
static bool play(struct mpd_connection *c, const char *a, const char *b)
{
	return mpd_run_clear(c) && mpd_run_add(c, a) &&
	       (!b || mpd_run_add(c, b)) && mpd_run_play_pos(c, 0);
}

static void setup(void)
{
	const char *root = harness_tmpdir();
	char mroot[4200];
	snprintf(mroot, sizeof mroot, "%s/mpd", root);
	if (!mpdtest_start(&mpd, mroot))
		return;
	write_track("a.wav", 440, TRACK_S);
	write_track("b.wav", 550, TRACK_S);
	write_track("c.wav", 660, TRACK_S);
	write_track("d.wav", 770, TRACK_S);
	if (!mpdtest_update(&mpd))
		return;
	snprintf(data_dir, sizeof data_dir, "%s/data", root);
	snprintf(conf_path, sizeof conf_path, "%s/mpdrec.conf", root);
	snprintf(log_path, sizeof log_path, "%s/mpdrec.log", root);
	FILE *f = fopen(conf_path, "w");
	fprintf(f,
		"mpd = { host = \"127.0.0.1\"; port = %u; timeout_ms = 5000; };\n"
		"data_directory = \"%s\";\n"
		"feedback = { end_margin = 10.0; min_duration = 1.0; "
		"stickers = true; };\n"
		"queue = { settle_ms = 100.0; };\n",
		mpd.port, data_dir);
	fclose(f);
	ready = start_daemon();
	if (!ready)
		fprintf(stderr, "daemon did not start; log: %s\n", log_path);
}

static void test_played_to_end_is_a_like(void)
{
	if (!CHECK(ready))
		return;
	struct mpd_connection *c = conn();
	int64_t before = count_events();
	CHECK(play(c, "a.wav", "b.wav"));
	struct ev e;
	CHECK(event_for("a.wav", before, &e, TRACK_S + 5));
	CHECK_STR(e.uri, "a.wav");
	CHECK_INT(e.kind, STORE_KIND_PLAYED);
	CHECK_INT(e.label, 1);
	CHECK(e.played > TRACK_S - 0.6 && e.played < TRACK_S + 0.6);
	mpd_run_stop(c);
	mpd_connection_free(c);
}

static void test_next_early_is_a_heavy_dislike(void)
{
	if (!CHECK(ready))
		return;
	struct mpd_connection *c = conn();
	CHECK(play(c, "b.wav", "c.wav"));
	/* Let the daemon see b start, then skip it. */
	proc_sleep(0.5);
	int64_t before = count_events();
	CHECK(mpd_run_next(c));
	struct ev e;
	CHECK(event_for("b.wav", before, &e, 3));
	CHECK_STR(e.uri, "b.wav");
	CHECK_INT(e.kind, STORE_KIND_SKIPPED);
	CHECK_INT(e.label, 0);
	CHECK_MSG(e.weight >= 0.7, "weight %.2f", e.weight);
	mpd_run_stop(c);
	mpd_connection_free(c);
}

static void test_pause_is_not_counted(void)
{
	if (!CHECK(ready))
		return;
	struct mpd_connection *c = conn();
	proc_sleep(0.3);	/* let the last test's stop be stored */
	int64_t before = count_events();
	double t0 = proc_now();
	CHECK(play(c, "c.wav", "d.wav"));
	proc_sleep(1.0);
	CHECK(mpd_run_pause(c, true));
	proc_sleep(2.0);
	CHECK(mpd_run_pause(c, false));
	struct ev e;
	CHECK(event_for("c.wav", before, &e, TRACK_S + 3));
	double wall = proc_now() - t0;
	CHECK_STR(e.uri, "c.wav");
	CHECK_INT(e.kind, STORE_KIND_PLAYED);
	/* The 2 s pause is not counted. (MPD's null output may replay the
	 * part before the pause, so "heard" can exceed the track a little.) */
	CHECK_MSG(e.played < wall - 1.5, "played %.2f of %.2f s wall time",
		  e.played, wall);
	CHECK(e.played >= TRACK_S - 0.6);
	mpd_run_stop(c);
	mpd_connection_free(c);
}

static void test_seek_to_the_end_is_not_a_like(void)
{
	if (!CHECK(ready))
		return;
	struct mpd_connection *c = conn();
	CHECK(play(c, "d.wav", "a.wav"));
	proc_sleep(0.3);
	int64_t before = count_events();
	CHECK(mpd_run_seek_current(c, (float)(TRACK_S - 0.25), false));
	struct ev e;
	CHECK(event_for("d.wav", before, &e, 3));
	CHECK_STR(e.uri, "d.wav");
	CHECK_INT(e.label, -1);
	CHECK_INT(e.kind, STORE_KIND_UNLABELLED);
	mpd_run_stop(c);
	mpd_connection_free(c);
}

static void test_stop_mid_song_has_no_label(void)
{
	if (!CHECK(ready))
		return;
	struct mpd_connection *c = conn();
	CHECK(play(c, "a.wav", NULL));
	proc_sleep(1.0);
	int64_t before = count_events();
	CHECK(mpd_run_stop(c));
	struct ev e;
	CHECK(event_for("a.wav", before, &e, 3));
	CHECK_STR(e.uri, "a.wav");
	CHECK_INT(e.label, -1);
	mpd_connection_free(c);
}

static void test_message_like_is_explicit(void)
{
	if (!CHECK(ready))
		return;
	struct mpd_connection *c = conn();
	CHECK(play(c, "b.wav", NULL));
	proc_sleep(0.5);
	int64_t before = count_events();
	CHECK(mpd_run_send_message(c, "mpdrec", "like"));
	struct ev e;
	CHECK(event_for("b.wav", before, &e, 3));
	CHECK_STR(e.uri, "b.wav");
	CHECK_INT(e.kind, STORE_KIND_LIKE);
	CHECK_INT(e.label, 1);
	CHECK_STR(e.source, "channel");
	CHECK(e.weight > 1.0);
	/* With a URI, and a hostile one that is ignored. */
	before = count_events();
	CHECK(mpd_run_send_message(c, "mpdrec", "dislike c.wav"));
	CHECK(event_for("c.wav", before, &e, 3));
	CHECK_STR(e.uri, "c.wav");
	CHECK_INT(e.kind, STORE_KIND_DISLIKE);
	long from = proc_file_size(log_path);
	CHECK(mpd_run_send_message(c, "mpdrec", "rm -rf /"));
	CHECK(proc_wait_for(log_path, "unknown command 'rm'", from, 3));
	mpd_run_stop(c);
	mpd_connection_free(c);
}

/* feedback.stickers: myMPD's "like" sticker is an explicit label. */
static void test_mympd_love_sticker_is_a_like(void)
{
	if (!CHECK(ready))
		return;
	struct mpd_connection *c = conn();
	int64_t before = count_events();
	CHECK(mpd_run_sticker_set(c, "song", "c.wav", "like", "2"));
	struct ev e;
	CHECK(event_for("c.wav", before, &e, 3));
	CHECK_INT(e.kind, STORE_KIND_LIKE);
	CHECK_INT(e.label, 1);
	CHECK_STR(e.source, "sticker");
	/* The same sticker again is not a new event. */
	before = count_events();
	CHECK(mpd_run_sticker_set(c, "song", "c.wav", "like", "2"));
	proc_sleep(0.5);
	CHECK_INT(count_events(), before);
	mpd_connection_free(c);
}

static void test_mpd_restart_mid_song(void)
{
	if (!CHECK(ready))
		return;
	struct mpd_connection *c = conn();
	CHECK(play(c, "c.wav", NULL));
	mpd_connection_free(c);
	proc_sleep(1.0);
	int64_t before = count_events();
	long from = proc_file_size(log_path);
	mpdtest_kill(&mpd);
	CHECK(proc_wait_for(log_path, "retrying", from, 5));
	CHECK(mpdtest_restart(&mpd));
	CHECK(proc_wait_for(log_path, "is back", from, 10));
	/* No label for the interrupted song. */
	CHECK_INT(count_events(), before);
	/* And it goes on listening. */
	c = conn();
	if (!CHECK(c))
		return;
	CHECK(play(c, "d.wav", "a.wav"));
	struct ev e;
	CHECK(event_for("d.wav", before, &e, TRACK_S + 5));
	CHECK_STR(e.uri, "d.wav");
	CHECK_INT(e.kind, STORE_KIND_PLAYED);
	mpd_run_stop(c);
	mpd_connection_free(c);
}

static void test_sigterm_saves_and_next_start_continues(void)
{
	if (!CHECK(ready))
		return;
	int64_t before = count_events();
	double secs;
	CHECK_INT(proc_stop(daemon_pid, SIGTERM, 5, &secs), 0);
	CHECK_MSG(secs < 2.0, "took %.2f s to stop", secs);
	daemon_pid = -1;
	char err[256];
	struct store *s = store_open(data_dir, err, sizeof err);
	if (!CHECK(s))
		return;
	void *blob = NULL;
	size_t size = 0;
	CHECK(store_load_model(s, &blob, &size));
	CHECK(blob != NULL && size > 0);
	free(blob);
	store_close(s);
	CHECK_INT(count_events(), before);
	ready = start_daemon();
	CHECK(ready);
	struct mpd_connection *c = conn();
	if (!CHECK(c))
		return;
	CHECK(play(c, "a.wav", "b.wav"));
	struct ev e;
	CHECK(event_for("a.wav", before, &e, TRACK_S + 5));
	CHECK_STR(e.uri, "a.wav");
	CHECK_INT(count_events(), before + 1);
	mpd_run_stop(c);
	mpd_connection_free(c);
}

static void test_sighup_reloads_and_keeps_old_on_error(void)
{
	if (!CHECK(ready))
		return;
	long from = proc_file_size(log_path);
	CHECK_INT(harness_system("cp '%s' '%s.good'", conf_path, conf_path),
		  0);
	CHECK_INT(harness_system("sed -i 's/settle_ms = 100.0;/settle_ms = 100.0;"
				 " ahead = \"many\";/' '%s'", conf_path), 0);
	kill(daemon_pid, SIGHUP);
	CHECK(proc_wait_for(log_path, "keeping the old configuration", from,
			    3));
	CHECK(proc_wait_for(log_path, "queue.ahead", from, 1));
	CHECK_INT(harness_system("cp '%s.good' '%s'", conf_path, conf_path), 0);
	from = proc_file_size(log_path);
	kill(daemon_pid, SIGHUP);
	CHECK(proc_wait_for(log_path, "configuration reloaded", from, 3));
	/* Still listening after both. */
	struct mpd_connection *c = conn();
	if (!CHECK(c))
		return;
	int64_t before = count_events();
	CHECK(play(c, "b.wav", "c.wav"));
	struct ev e;
	CHECK(event_for("b.wav", before, &e, TRACK_S + 5));
	CHECK_INT(e.kind, STORE_KIND_PLAYED);
	mpd_run_stop(c);
	mpd_connection_free(c);
}

/* `mpdrec train` saves a model while the daemon runs: the daemon takes
 * it at its next look (a song change) instead of overwriting it. */
static void test_takes_the_model_train_saved(void)
{
	if (!CHECK(ready))
		return;
	/* The tracks get vectors (no music_directory: the daemon analyses
	 * nothing here), so the events so far can train a model. */
	char err[256];
	struct store *s = store_open(data_dir, err, sizeof err);
	if (!CHECK_MSG(s, "%s", err))
		return;
	static const char *const names[] = { "a.wav", "b.wav", "c.wav",
					     "d.wav" };
	bool ok = store_sync_begin(s);
	for (int i = 0; ok && i < 4; i++) {
		struct store_track_info t = { .uri = names[i], .mtime = 1,
					      .duration = TRACK_S };
		ok = store_sync_track(s, &t);
	}
	ok = ok && store_sync_end(s, NULL);
	float v[FEAT_COUNT];
	for (int i = 0; ok && i < 4; i++) {
		for (int j = 0; j < FEAT_COUNT; j++)
			v[j] = (float)((i + 1) * (j % 7)) / 10.0f;
		ok = store_set_features(s, names[i], FEATURES_VERSION, v,
					features_count(), TRACK_S);
	}
	CHECK_MSG(ok, "%s", store_error(s));
	store_close(s);
	char out[4300];
	snprintf(out, sizeof out, "%s/train.txt", harness_tmpdir());
	long from = proc_file_size(log_path);
	CHECK_INT(harness_system("'%s' --config '%s' train > '%s' 2>&1",
				 proc_mpdrec(), conf_path, out), 0);
	/* A song change makes the daemon look. */
	struct mpd_connection *c = conn();
	if (!CHECK(c))
		return;
	CHECK(play(c, "a.wav", NULL));
	CHECK(proc_wait_for(log_path, "took the model another process saved",
			    from, 5));
	/* The stop is an event: stored before the next test counts. */
	int64_t before = count_events();
	mpd_run_stop(c);
	struct ev e;
	CHECK(event_for("a.wav", before, &e, 3));
	mpd_connection_free(c);
}

static void test_daemon_mode_writes_pidfile(void)
{
	char pidfile[4300], dlog[4300];
	snprintf(pidfile, sizeof pidfile, "%s/mpdrec.pid", harness_tmpdir());
	snprintf(dlog, sizeof dlog, "%s/daemon-mode.log", harness_tmpdir());
	/* A second instance on its own data directory, in the background. */
	char conf2[4300];
	snprintf(conf2, sizeof conf2, "%s/second.conf", harness_tmpdir());
	FILE *f = fopen(conf2, "w");
	fprintf(f, "mpd = { host = \"127.0.0.1\"; port = %u; };\n"
		   "data_directory = \"%s/data2\";\n"
		   "log = { file = \"%s\"; };\n",
		mpd.port, harness_tmpdir(), dlog);
	fclose(f);
	CHECK_INT(harness_system("'%s' --config '%s' run --daemon --pidfile '%s'",
				 proc_mpdrec(), conf2, pidfile), 0);
	double end = proc_now() + 5;
	while (proc_file_size(pidfile) == 0 && proc_now() < end)
		proc_sleep(0.05);
	FILE *p = fopen(pidfile, "r");
	long pid = 0;
	if (!CHECK(p) || !CHECK(fscanf(p, "%ld", &pid) == 1)) {
		if (p)
			fclose(p);
		return;
	}
	fclose(p);
	CHECK(pid > 1 && kill((pid_t)pid, 0) == 0);
	CHECK(proc_wait_for(dlog, "connected to MPD", 0, 5));
	kill((pid_t)pid, SIGTERM);
	end = proc_now() + 5;
	while (kill((pid_t)pid, 0) == 0 && proc_now() < end)
		proc_sleep(0.05);
	CHECK(kill((pid_t)pid, 0) != 0);
	CHECK(access(pidfile, F_OK) != 0);	/* removed at exit */
}

int main(void)
{
	setup();
	RUN(test_played_to_end_is_a_like);
	RUN(test_next_early_is_a_heavy_dislike);
	RUN(test_pause_is_not_counted);
	RUN(test_seek_to_the_end_is_not_a_like);
	RUN(test_stop_mid_song_has_no_label);
	RUN(test_message_like_is_explicit);
	RUN(test_mympd_love_sticker_is_a_like);
	RUN(test_mpd_restart_mid_song);
	RUN(test_sighup_reloads_and_keeps_old_on_error);
	RUN(test_daemon_mode_writes_pidfile);
	RUN(test_takes_the_model_train_saved);
	RUN(test_sigterm_saves_and_next_start_continues);
	if (daemon_pid > 0)
		proc_stop(daemon_pid, SIGTERM, 5, NULL);
	mpdtest_stop(&mpd);
	return harness_finish();
}
