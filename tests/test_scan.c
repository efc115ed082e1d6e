/* daemon/scan against a real MPD: the database goes into the store, only new
 * and changed tracks are analysed, vanished ones are marked gone, a file
 * that fails is stored with its reason and not tried again until its mtime
 * changes; the background scanner reports through its pipe; an unreachable
 * MPD is an error, not a crash. */
#include "daemon/scan.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/store.h"
#include "daemon/cmd/cmd.h"
#include "features/table.h"
#include "tests/lib/fixture.h"
#include "tests/lib/harness.h"
#include "tests/lib/mpdtest.h"

#include <mpd/client.h>

enum { RATE = 44100 };

static struct mpdtest mpd;
static struct conf conf;
static char data_dir[4096];

/* URIs the last pass analysed, in the order they finished. */
static char seen[64][256];
static int n_seen, n_reports;
static double audio_total;
static struct scan_progress last;	/* the last report */

static void on_progress(const struct scan_progress *p, void *ctx)
{
	(void)ctx;
	n_reports++;
	audio_total = p->audio_total_s;
	last = *p;
	if (p->uri && n_seen < 64)
		snprintf(seen[n_seen++], sizeof seen[0], "%s", p->uri);
	CHECK(p->done <= p->total || p->listing);
}

static bool was_seen(const char *uri)
{
	for (int i = 0; i < n_seen; i++)
		if (strcmp(seen[i], uri) == 0)
			return true;
	return false;
}

static bool pass(struct scan_result *r)
{
	atomic_int stop;
	atomic_init(&stop, 0);
	struct scan_options o = { .jobs = 2, .stop = &stop,
				  .progress = on_progress };
	n_seen = n_reports = 0;
	bool ok = scan_run(&conf, &o, r);
	CHECK_MSG(ok, "scan: %s", r->error);
	return ok;
}

static void set_mtime(const char *path, time_t t)
{
	struct timeval tv[2] = { { t, 0 }, { t, 0 } };
	CHECK(utimes(path, tv) == 0);
}

static char *music(const char *name)
{
	static char buf[4][4200];
	static int i;
	char *p = buf[i++ % 4];
	snprintf(p, sizeof buf[0], "%s/%s", mpd.music, name);
	return p;
}

static enum store_status status_of(const char *uri, char **error)
{
	char err[256];
	enum store_status st = STORE_PENDING;
	struct store *s = store_open(data_dir, err, sizeof err);
	if (!CHECK_MSG(s, "%s", err))
		return st;
	float v[FEAT_COUNT];
	if (!store_get_track(s, uri, FEATURES_VERSION, FEAT_COUNT, v, &st,
			     error))
		CHECK_MSG(false, "%s: %s", uri, store_error(s));
	store_close(s);
	return st;
}

static void write_clicks(const char *path, double bpm)
{
	enum { N = 3 * RATE };
	static float x[N];
	fixture_clicks(x, N, RATE, bpm, 0.7);
	CHECK(harness_write_wav(path, x, N, 1, RATE));
}

static void test_library_pass(void)
{
	enum { N = 2 * RATE };
	static float x[N];
	char sub[4200];
	snprintf(sub, sizeof sub, "%s/sub", mpd.music);
	mkdir(sub, 0700);
	write_clicks(music("a.wav"), 120);
	fixture_sine(x, N, RATE, 440, 0.5);
	char *wav = fixture_wav(sub, "b.wav", x, N, RATE);
	char *flac = wav ? fixture_encode(wav, "flac") : NULL;
	CHECK(flac);
	if (wav)
		unlink(wav);
	free(wav);
	/* A WAV that MPD lists (its header is fine) but whose audio data
	 * is cut right after the header: nothing to decode. */
	write_clicks(music("bad.wav"), 90);
	CHECK(fixture_truncate_copy(music("bad.wav"), music("bad2.wav"), 44));
	rename(music("bad2.wav"), music("bad.wav"));
	if (!CHECK(mpdtest_update(&mpd)))
		return;

	struct scan_result r;
	if (!pass(&r))
		return;
	CHECK_INT(r.listed, 3);
	CHECK_INT(r.analysed, 2);
	CHECK_INT(r.failed, 1);
	CHECK_INT(r.gone, 0);
	CHECK_INT(n_seen, 3);
	CHECK(n_reports >= 4);
	/* The ETA's measure: 3 s + 2 s of audio, and what MPD says of the
	 * broken file's length. */
	CHECK_MSG(audio_total >= 4.9 && audio_total <= 8.1, "planned %g s",
		  audio_total);
	CHECK_INT(status_of("a.wav", NULL), STORE_ANALYSED);
	CHECK_INT(status_of("sub/b.flac", NULL), STORE_ANALYSED);
	char *reason = NULL;
	CHECK_INT(status_of("bad.wav", &reason), STORE_FAILED);
	CHECK_MSG(reason && *reason, "no reason stored");
	free(reason);

	/* Nothing changed: nothing analysed, the failure not retried. */
	if (!pass(&r))
		return;
	CHECK_INT(r.listed, 3);
	CHECK_INT(r.analysed, 0);
	CHECK_INT(r.failed, 0);
	CHECK_INT(n_seen, 0);

	/* a.wav changes, b.flac goes, bad.wav is touched: a.wav is analysed
	 * again, bad.wav retried (and fails again), b.flac is gone. */
	time_t later = time(NULL) + 60;
	write_clicks(music("a.wav"), 100);
	set_mtime(music("a.wav"), later);
	set_mtime(music("bad.wav"), later);
	unlink(flac);
	if (!CHECK(mpdtest_update(&mpd)))
		return;
	if (!pass(&r))
		return;
	CHECK_INT(r.listed, 2);
	CHECK_INT(r.analysed, 1);
	CHECK_INT(r.failed, 1);
	CHECK_INT(r.gone, 1);
	CHECK(was_seen("a.wav"));
	CHECK(was_seen("bad.wav"));
	CHECK(!was_seen("sub/b.flac"));
	CHECK_INT(status_of("sub/b.flac", NULL), STORE_GONE);
	CHECK_INT(status_of("a.wav", NULL), STORE_ANALYSED);
	free(flac);
}

/* Runs a subcommand with its standard output in `out`. */
static int run_cmd(int (*cmd)(int, char **, const struct conf *),
		   const char *out, int argc, char **argv)
{
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	optind = 1;
	int rc = cmd(argc, argv, &conf);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	return rc;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = calloc(1, 1 << 20);
	if (buf)
		buf[fread(buf, 1, (1 << 20) - 1, f)] = 0;
	fclose(f);
	return buf;
}

/* show prints the named features of a track (or its failure), export
 * writes every vector with the names and the label of its latest event. */
static void test_show_and_export(void)
{
	char err[256], out[4200], csv[4200];
	snprintf(out, sizeof out, "%s/show.txt", harness_tmpdir());
	snprintf(csv, sizeof csv, "%s/all.csv", harness_tmpdir());
	char *show_a[] = { "show", "a.wav", NULL };
	CHECK_INT(run_cmd(cmd_show, out, 2, show_a), 0);
	char *text = slurp(out);
	CHECK(text && strstr(text, "status: analysed") &&
	      strstr(text, "tempo") && strstr(text, "LUFS"));
	free(text);
	char *show_bad[] = { "show", "bad.wav", NULL };
	CHECK_INT(run_cmd(cmd_show, out, 2, show_bad), 1);
	text = slurp(out);
	CHECK(text && strstr(text, "status: failed") && strstr(text, "reason"));
	free(text);

	struct store *s = store_open(data_dir, err, sizeof err);
	if (!CHECK_MSG(s, "%s", err))
		return;
	struct store_event e = { .time = 1000, .uri = "a.wav",
				 .kind = STORE_KIND_SKIPPED, .played = 5,
				 .duration = 3, .label = 0, .weight = 1,
				 .source = "cli" };
	CHECK(store_add_event(s, &e));
	e.time = 2000;
	e.kind = STORE_KIND_LIKE;
	e.label = 1;
	CHECK(store_add_event(s, &e));
	store_close(s);

	char *export[] = { "export", "--csv", csv, NULL };
	CHECK_INT(run_cmd(cmd_export, out, 3, export), 0);
	text = slurp(csv);
	if (!CHECK(text))
		return;
	CHECK(strncmp(text, "uri,artist,title,tempo,", 23) == 0);
	char *eol = strstr(text, "\r\n");
	CHECK(eol && strncmp(eol - 6, ",label", 6) == 0);
	int commas = 0;
	for (char *c = text; c < eol; c++)
		commas += *c == ',';
	CHECK_INT(commas, 3 + FEAT_COUNT);
	/* The latest labelled event (like) wins over the earlier skip. */
	char *row = strstr(text, "\r\na.wav,");
	char *row_end = row ? strstr(row + 2, "\r\n") : NULL;
	CHECK(row_end && row_end[-1] == '1' && row_end[-2] == ',');
	/* bad.wav failed: no vector, no row. */
	CHECK(!strstr(text, "bad.wav"));
	free(text);
	char *bad_usage[] = { "export", NULL };
	CHECK_INT(run_cmd(cmd_export, out, 1, bad_usage), 2);
}

static void test_background(void)
{
	int fds[2];
	if (!CHECK(pipe(fds) == 0))
		return;
	write_clicks(music("c.wav"), 140);
	if (!CHECK(mpdtest_update(&mpd)))
		return;
	struct scan *s = scan_new(fds[1]);
	if (!CHECK(s))
		return;
	struct scan_result r;
	CHECK(!scan_collect(s, &r));	/* none ran */
	CHECK(scan_start(s, &conf));
	/* Bytes come while it runs (the listing, analysed tracks), one
	 * when it ended. */
	struct pollfd p = { .fd = fds[0], .events = POLLIN };
	bool collected = false;
	int bytes = 0;
	while (!collected && poll(&p, 1, 60000) == 1) {
		char b;
		bytes += read(fds[0], &b, 1) == 1;
		collected = scan_collect(s, &r);
	}
	CHECK_MSG(collected, "no notification of the end");
	CHECK_MSG(bytes >= 2, "%d notifications", bytes);
	CHECK_MSG(r.ok, "%s", r.error);
	CHECK_INT(r.analysed, 1);
	CHECK(!scan_collect(s, &r));	/* collected once */
	CHECK_INT(status_of("c.wav", NULL), STORE_ANALYSED);
	/* What it analysed waits for the daemon, once. */
	char **uris = NULL;
	int n = scan_take_analysed(s, &uris);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(uris[0], "c.wav");
	for (int i = 0; i < n; i++)
		free(uris[i]);
	free(uris);
	CHECK_INT(scan_take_analysed(s, &uris), 0);

	/* A second start while one runs is refused; freeing stops it. */
	CHECK(scan_start(s, &conf));
	CHECK(!scan_start(s, &conf) || scan_collect(s, &r));
	scan_free(s);
	close(fds[0]);
	close(fds[1]);
}

static void test_unreachable_mpd(void)
{
	struct conf c = conf;
	c.mpd.port = 1;	/* nothing listens there */
	struct scan_result r;
	CHECK(!scan_run(&c, NULL, &r));
	CHECK_MSG(strstr(r.error, "MPD") != NULL, "reason: %s", r.error);
	c = conf;
	c.music_directory = NULL;
	CHECK(!scan_run(&c, NULL, &r));
	CHECK(strstr(r.error, "music_directory") != NULL);
}

/* The progress line's figures: real time on the audio analysed, the
 * library's length beside it, the ETA from the audio left. */
static void test_progress_speed(void)
{
	struct scan_progress p = { .total = 8, .done = 4, .audio_s = 60,
				   .audio_total_s = 120, .track_s = 180,
				   .elapsed = 2 };
	struct scan_speed s = scan_progress_speed(&p);
	CHECK_NEAR(s.tracks_per_s, 2, 1e-9);
	CHECK_NEAR(s.realtime, 30, 1e-9);
	CHECK_NEAR(s.library_realtime, 90, 1e-9);
	CHECK_NEAR(s.eta_s, 2, 1e-9);
	p.done = 8;
	CHECK_NEAR(scan_progress_speed(&p).eta_s, 0, 1e-9);
	p = (struct scan_progress){ .total = 3 };
	s = scan_progress_speed(&p);
	CHECK(s.eta_s < 0 && s.realtime == 0 && s.tracks_per_s == 0);
}

static char *slurp(const char *path);
static int run_cmd(int (*cmd)(int, char **, const struct conf *),
		   const char *out, int argc, char **argv);

/* With analysis.max_seconds 5, a 12 s track counts 5 s of audio analysed
 * and 12 s of library length: `mpdrec analyze` shows real time on the 8 s
 * analysed, the library's 15 s beside it (it once showed the 15 s as real
 * time), and a pass reports exactly those seconds. */
static void test_progress_counts_audio_analysed(void)
{
	enum { LONG = 12 * RATE, SHORT = 3 * RATE };
	static float x[LONG];
	fixture_sine(x, LONG, RATE, 330, 0.4);
	CHECK(harness_write_wav(music("long12.wav"), x, LONG, 1, RATE));
	CHECK(harness_write_wav(music("short3.wav"), x, SHORT, 1, RATE));
	if (!CHECK(mpdtest_update(&mpd)))
		return;
	double saved = conf.analysis.max_seconds;
	conf.analysis.max_seconds = 5;
	char out[4200];
	snprintf(out, sizeof out, "%s/analyze.txt", harness_tmpdir());
	char *argv[] = { "analyze", NULL };
	CHECK_INT(run_cmd(cmd_analyze, out, 1, argv), 0);
	char *text = slurp(out);
	const char *line = text ? strstr(text, "analysed 2/2") : NULL;
	double rt = 0, lib = 0;
	const char *p = line ? strstr(line, "tracks/s  ") : NULL;
	CHECK_MSG(p && sscanf(p, "tracks/s  %lfx real time (library length "
				 "%lfx)", &rt, &lib) == 2,
		  "progress line: %s", text ? text : "(none)");
	if (rt > 0)
		CHECK_MSG(fabs(lib / rt - 15.0 / 8) < 0.05 * 15 / 8,
			  "%gx real time, library length %gx", rt, lib);
	free(text);

	/* The same two files again, through a pass that reports. */
	time_t later = time(NULL) + 120;
	set_mtime(music("long12.wav"), later);
	set_mtime(music("short3.wav"), later);
	struct scan_result r;
	bool ok = CHECK(mpdtest_update(&mpd)) && pass(&r);
	conf.analysis.max_seconds = saved;
	if (!ok)
		return;
	CHECK_INT(r.analysed, 2);
	CHECK_NEAR(last.audio_s, 5 + 3, 0.05);
	CHECK_NEAR(last.track_s, 12 + 3, 0.05);
	struct scan_speed sp = scan_progress_speed(&last);
	CHECK_NEAR(sp.library_realtime / sp.realtime, 15.0 / 8, 0.02);
}

/* A vector of another FEATURES_VERSION is pending: the next pass analyses
 * the track again and stores the current version. */
static void test_old_vectors_are_analysed_again(void)
{
	struct scan_result r;
	if (!pass(&r))
		return;
	CHECK_INT(r.analysed, 0);
	char err[256];
	struct store *s = store_open(data_dir, err, sizeof err);
	if (!CHECK_MSG(s, "%s", err))
		return;
	float old[FEAT_COUNT] = { 0 };
	CHECK(store_set_features(s, "a.wav", FEATURES_VERSION - 1, old,
				 FEAT_COUNT, 3));
	store_close(s);
	float v[FEAT_COUNT];
	enum store_status st;
	s = store_open(data_dir, err, sizeof err);
	if (!CHECK_MSG(s, "%s", err))
		return;
	/* Asked for the current version, the old vector is no vector. */
	CHECK(store_get_track(s, "a.wav", FEATURES_VERSION, FEAT_COUNT, v,
			      &st, NULL));
	CHECK(st != STORE_ANALYSED);
	store_close(s);
	if (!pass(&r))
		return;
	CHECK_INT(r.analysed, 1);
	CHECK(was_seen("a.wav"));
	CHECK_INT(status_of("a.wav", NULL), STORE_ANALYSED);
}

/* A stop request ends the pass early, with what was done stored. */
static void test_stop(void)
{
	for (int i = 0; i < 6; i++) {
		char name[32];
		snprintf(name, sizeof name, "stop%d.wav", i);
		write_clicks(music(name), 100 + i);
	}
	if (!CHECK(mpdtest_update(&mpd)))
		return;
	atomic_int stop;
	atomic_init(&stop, 1);
	struct scan_options o = { .jobs = 1, .stop = &stop };
	struct scan_result r;
	CHECK(!scan_run(&conf, &o, &r));
	CHECK_STR(r.error, "stopped");
	atomic_store(&stop, 0);
	CHECK(scan_run(&conf, &o, &r));
	CHECK_INT(r.analysed, 6);
}

/* Listing directory by directory (lsinfo: the fallback when MPD will not
 * send a whole large library at once) finds the same songs, nested
 * directories included. */
static void test_walk(void)
{
	char dirname[4200];
	enum { DIRS = 4, PER = 5, N = RATE / 20 };
	static float x[N];
	fixture_sine(x, N, RATE, 300, 0.3);
	for (int d = 0; d < DIRS; d++) {
		snprintf(dirname, sizeof dirname, "%s/walk%d", mpd.music, d);
		mkdir(dirname, 0700);
		if (d % 2) {
			strcat(dirname, "/deeper");
			mkdir(dirname, 0700);
		}
		for (int i = 0; i < PER; i++) {
			char name[64];
			snprintf(name, sizeof name, "t%d.wav", i);
			free(fixture_wav(dirname, name, x, N, RATE));
		}
	}
	if (!CHECK(mpdtest_update(&mpd)))
		return;
	struct scan_result all, walked;
	atomic_int stop;
	atomic_init(&stop, 0);
	struct scan_options o = { .jobs = 2, .stop = &stop };
	if (!CHECK(scan_run(&conf, &o, &all)))
		return;
	CHECK_INT(all.analysed, DIRS * PER);
	o.walk = true;
	CHECK_MSG(scan_run(&conf, &o, &walked), "%s", walked.error);
	CHECK_INT(walked.listed, all.listed);
	CHECK_INT(walked.gone, 0);
	CHECK_INT(walked.analysed, 0);
	CHECK_INT(status_of("walk3/deeper/t4.wav", NULL), STORE_ANALYSED);
}

static int seen_at(const char *uri)
{
	for (int i = 0; i < n_seen; i++)
		if (strcmp(seen[i], uri) == 0)
			return i;
	return -1;
}

/* What is most useful now first: the songs in MPD's queue, in its order,
 * then their neighbours (the same folder, or the same album tag in
 * another folder), then the rest. */
static void test_queue_and_neighbours_first(void)
{
	enum { N = RATE / 4 };
	static float x[N];
	char dir[4200];
	for (int d = 1; d <= 3; d++) {
		snprintf(dir, sizeof dir, "%s/p%d", mpd.music, d);
		mkdir(dir, 0700);
		for (int i = 0; i < 4; i++) {
			char name[32];
			snprintf(name, sizeof name, "t%d.wav", i);
			fixture_sine(x, N, RATE, 200 + 50 * d + 10 * i, 0.3);
			free(fixture_wav(dir, name, x, N, RATE));
		}
	}
	/* Two folders sharing an album tag. */
	fixture_sine(x, N, RATE, 500, 0.3);
	snprintf(dir, sizeof dir, "%s/x", mpd.music);
	mkdir(dir, 0700);
	char *wav = fixture_wav(dir, "a.wav", x, N, RATE);
	snprintf(dir, sizeof dir, "%s/y", mpd.music);
	mkdir(dir, 0700);
	CHECK(wav && harness_system("(ffmpeg -y -i '%s' -metadata album=Shared "
				    "'%s/x/a.flac' && ffmpeg -y -i '%s' "
				    "-metadata album=Shared '%s/y/b.flac' && "
				    "ffmpeg -y -i '%s' '%s/y/c.flac')", wav,
				    mpd.music, wav, mpd.music, wav,
				    mpd.music) == 0);
	if (wav)
		unlink(wav);
	free(wav);
	if (!CHECK(mpdtest_update(&mpd)))
		return;
	struct mpd_connection *c = mpdtest_connect(&mpd);
	if (!CHECK(c))
		return;
	CHECK(mpd_run_clear(c) && mpd_run_add(c, "p2/t1.wav") &&
	      mpd_run_add(c, "x/a.flac"));
	mpd_connection_free(c);

	atomic_int stop;
	atomic_init(&stop, 0);
	struct scan_options o = { .jobs = 1, .stop = &stop,
				  .progress = on_progress };
	struct scan_result r;
	n_seen = 0;
	if (!CHECK_MSG(scan_run(&conf, &o, &r), "%s", r.error))
		return;
	CHECK_INT(r.analysed, 15);
	if (!CHECK_MSG(n_seen == 15, "%d analysed", n_seen))
		return;
	CHECK_STR(seen[0], "p2/t1.wav");
	CHECK_STR(seen[1], "x/a.flac");
	/* p2's other tracks (beside the first queue song), then y/b.flac
	 * (the second one's album), before anything else. */
	for (int i = 0; i < 4; i++) {
		char uri[32];
		snprintf(uri, sizeof uri, "p2/t%d.wav", i);
		CHECK_MSG(seen_at(uri) >= 0 && seen_at(uri) < 5, "%s at %d",
			  uri, seen_at(uri));
	}
	CHECK_MSG(seen_at("y/b.flac") == 5, "y/b.flac at %d",
		  seen_at("y/b.flac"));
	for (int i = 6; i < 15; i++)
		CHECK_MSG(!strncmp(seen[i], "p1/", 3) ||
			  !strncmp(seen[i], "p3/", 3) ||
			  !strcmp(seen[i], "y/c.flac"), "%s at %d", seen[i], i);
	c = mpdtest_connect(&mpd);
	if (c) {
		mpd_run_clear(c);
		mpd_connection_free(c);
	}
}

int main(void)
{
	char root[4096];
	snprintf(root, sizeof root, "%s/mpd", harness_tmpdir());
	snprintf(data_dir, sizeof data_dir, "%s/data", harness_tmpdir());
	/* MPD scans its empty music directory when it starts without a
	 * database: wait for that, or it could read a fixture half written
	 * (and keep it, as the mtime does not change in the same second). */
	if (!mpdtest_start(&mpd, root) || !mpdtest_update(&mpd)) {
		fprintf(stderr, "cannot start MPD\n");
		return 1;
	}
	if (!conf_defaults(&conf))
		return 1;
	free(conf.data_directory);
	conf.data_directory = strdup(data_dir);
	conf.music_directory = strdup(mpd.music);
	free(conf.mpd.host);
	conf.mpd.host = strdup("127.0.0.1");
	conf.mpd.port = mpd.port;
	conf.analysis.max_seconds = 30;
	RUN(test_progress_speed);
	RUN(test_library_pass);
	RUN(test_old_vectors_are_analysed_again);
	RUN(test_progress_counts_audio_analysed);
	RUN(test_show_and_export);
	RUN(test_background);
	RUN(test_unreachable_mpd);
	RUN(test_stop);
	RUN(test_walk);
	RUN(test_queue_and_neighbours_first);
	mpdtest_stop(&mpd);
	conf_free(&conf);
	return harness_finish();
}
