/* Start-up, memory and retrains at scale (issue 18): stores of 100,000 and
 * 1,000,000 tracks of random feature vectors (written with SQLite
 * directly, not by analysis) behind a real MPD whose database names the
 * same songs (its database file is written too, so the daemon's scan lists
 * them all and finds nothing to analyse). Each figure beside a baseline
 * measured in the same run:
 *
 *  load       learn_new() (library, events, model) through library.cache,
 *             and from SQLite, against reading the raw feature blobs from
 *             SQLite                                       target <= 3x
 *  retrain    a full retrain on the same 300 events with the whole
 *             library against one with a library of 1,000 tracks: its
 *             cost is the events', not the library's       target <= 2x
 *  start      the daemon's first start (no model saved: it trains one)
 *             until MPD's queue holds queue.ahead picks    target <= 5 s
 *  memory     the daemon's peak (VmHWM) once the scan listed every song
 *             (all analysed: nothing maps FFmpeg), a retrain ran and the
 *             library was rescored, against the
 *             features' own size          target <= 400 MB at 1M, and
 *                                         <= 60 MB beside them at 100k
 *  recommend  `mpdrec recommend` against the raw blob read  target <= 1 s
 *             (the second of two runs: the library through library.cache,
 *             which the daemon kept at exit or the first run kept)
 *
 * Usage: bench_scale [TRACKS...] (default 100000 1000000). Needs about
 * 2 GB of disk under $TMPDIR for a million tracks.
 */
#include "conf/conf.h"
#include "core/store.h"
#include "daemon/learn.h"
#include "daemon/log.h"
#include "features/table.h"
#include "tests/lib/harness.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <cblas.h>
#include <mpd/client.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EVENTS 300
#define SMALL 1000
#define AHEAD 2
/* The daemon retrains after this many events (the bench sends them). */
#define RETRAIN_EVERY 20

static uint64_t rng = 12345;
static float urand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((rng >> 40) * (1.0 / 16777216.0));
}

static void uri_of(int i, char *buf, size_t size)
{
	snprintf(buf, size, "artist%05d/album%06d/track%07d.flac", i / 100,
		 i / 10, i);
}

/* n analysed tracks of dim random features and EVENTS labelled events
 * (likes for a high first feature), straight into the store's tables. */
static bool build_store(const char *dir, int n, int dim)
{
	char err[512], path[4400];
	struct store *s = store_open(dir, err, sizeof err);
	if (!s) {
		fprintf(stderr, "bench_scale: %s\n", err);
		return false;
	}
	store_close(s);
	snprintf(path, sizeof path, "%s/mpdrec.db", dir);
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return false;
	sqlite3_exec(db, "PRAGMA synchronous = OFF; BEGIN", NULL, NULL, NULL);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db,
		"INSERT INTO tracks(uri, mtime, artist, album, title, genre,"
		" duration, status, features, features_version, features_dim,"
		" updated) VALUES(?1, 1, ?2, ?3, ?4, 'Genre', 200, 1, ?5, ?6,"
		" ?7, 0)", -1, &st, NULL);
	float *v = malloc((size_t)dim * sizeof *v);
	char uri[80], artist[32], album[32], title[32];
	for (int i = 0; i < n; i++) {
		uri_of(i, uri, sizeof uri);
		snprintf(artist, sizeof artist, "Artist %d", i / 100);
		snprintf(album, sizeof album, "Album %d", i / 10);
		snprintf(title, sizeof title, "Title %d", i);
		for (int j = 0; j < dim; j++)
			v[j] = urand() * (float)(j + 1);
		sqlite3_bind_text(st, 1, uri, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, artist, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, album, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, title, -1, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 5, v, dim * 4, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 6, FEATURES_VERSION);
		sqlite3_bind_int(st, 7, dim);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	/* The song the user plays is analysed too: the daemon has nothing
	 * to analyse, as on any day after the first (an analysis pass maps
	 * FFmpeg's libraries until it ends: bench_analyze measures that). */
	for (int j = 0; j < dim; j++)
		v[j] = urand();
	sqlite3_bind_text(st, 1, "one.wav", -1, SQLITE_STATIC);
	sqlite3_bind_null(st, 2);
	sqlite3_bind_null(st, 3);
	sqlite3_bind_null(st, 4);
	sqlite3_bind_blob(st, 5, v, dim * 4, SQLITE_TRANSIENT);
	sqlite3_step(st);
	sqlite3_finalize(st);
	sqlite3_prepare_v2(db,
		"INSERT INTO events(time, uri, kind, label, weight, source)"
		" VALUES(?1, ?2, ?3, ?4, 1, 'bench')", -1, &st, NULL);
	for (int k = 0; k < EVENTS; k++) {
		int i = (int)(urand() * (float)n) % n;
		uri_of(i, uri, sizeof uri);
		bool like = k % 2;
		sqlite3_bind_double(st, 1, 1.7e9 + k);
		sqlite3_bind_text(st, 2, uri, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 3, like ? STORE_KIND_PLAYED
					     : STORE_KIND_SKIPPED);
		sqlite3_bind_int(st, 4, like);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	bool ok = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
	sqlite3_close(db);
	free(v);
	return ok;
}

/* The baseline: the feature blobs as SQLite hands them out. */
static double raw_read(const char *dir, int *rows)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/mpdrec.db", dir);
	sqlite3 *db;
	sqlite3_open(path, &db);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "SELECT features FROM tracks", -1, &st, NULL);
	double t0 = proc_now();
	long bytes = 0;
	*rows = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		bytes += sqlite3_column_bytes(st, 0);
		(*rows)++;
	}
	double t = proc_now() - t0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return bytes > 0 ? t : -1;
}

/* MPD's database file naming the same songs as the store, with the tag
 * list of this MPD's build (from the file it wrote itself). */
static bool write_mpd_db(const struct rig *r, int n)
{
	char db[4300], head[4300];
	snprintf(db, sizeof db, "%s/mpd.db", r->mpd.dir);
	snprintf(head, sizeof head, "%s/head.txt", r->mpd.dir);
	/* (harness_system sends stdout to /dev/null: tee writes the file) */
	harness_system("gzip -dcf '%s' | sed '/^info_end/q' | tee '%s'", db,
		       head);
	FILE *in = fopen(head, "r"), *out = fopen(db, "w");
	if (!in || !out)
		return false;
	char line[512];
	while (fgets(line, sizeof line, in))
		fputs(line, out);
	fclose(in);
	/* The song the user plays (a real file, kept by bench_daemon). */
	fprintf(out, "song_begin: one.wav\nTime: 30.000\nmtime: 1\n"
		"song_end\n");
	for (int i = 0; i < n; i++) {
		if (i % 100 == 0)
			fprintf(out, "directory: artist%05d\nmtime: 0\n"
				"begin: artist%05d\n", i / 100, i / 100);
		if (i % 10 == 0)
			fprintf(out, "directory: album%06d\nmtime: 0\n"
				"begin: artist%05d/album%06d\n", i / 10,
				i / 100, i / 10);
		fprintf(out, "song_begin: track%07d.flac\nTime: 200.000\n"
			"Artist: Artist %d\nAlbum: Album %d\nTitle: Title %d\n"
			"Genre: Genre\nmtime: 1\nsong_end\n", i, i / 100, i / 10,
			i);
		if (i % 10 == 9 || i == n - 1)
			fprintf(out, "end: artist%05d/album%06d\n", i / 100,
				i / 10);
		if (i % 100 == 99 || i == n - 1)
			fprintf(out, "end: artist%05d\n", i / 100);
	}
	return fclose(out) == 0;
}

static long status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	size_t k = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, k))
			kb = atol(line + k);
	if (f)
		fclose(f);
	return kb;
}

static long self_rss_kb(void)
{
	return status_kb(getpid(), "VmRSS:");
}

/* learn_new and a retrain in this process (a command's learner). */
/* Three full retrains of l: the median time; *ok false when one failed. */
static double median_retrain(struct learn *l, char *line, size_t size,
			     bool *ok, double *first)
{
	double t[3];
	for (int k = 0; k < 3; k++) {
		double t0 = proc_now();
		*ok &= learn_retrain_now(l, line, size);
		t[k] = proc_now() - t0;
	}
	*first = t[0];
	double lo = t[0] < t[1] ? t[0] : t[1], hi = t[0] < t[1] ? t[1] : t[0];
	return t[2] < lo ? lo : t[2] > hi ? hi : t[2];
}

static void bench_learner(const char *dir, int n, double raw_s)
{
	struct conf c;
	conf_defaults(&c);
	char err[512];
	struct store *s = store_open(dir, err, sizeof err);
	/* First from SQLite (library.cache removed; a command keeps it at
	 * once, which this time includes), then through the cache. */
	char cache[4400];
	snprintf(cache, sizeof cache, "%s/library.cache", dir);
	unlink(cache);
	long rss0 = self_rss_kb();
	double t0 = proc_now();
	struct learn *l = s ? learn_new(s, &c, -1, err, sizeof err) : NULL;
	double rows_s = proc_now() - t0;
	long rss1 = self_rss_kb();
	learn_free(l);
	t0 = proc_now();
	l = s ? learn_new(s, &c, -1, err, sizeof err) : NULL;
	double load = proc_now() - t0;
	bool cached = s && store_library_cached(s, NULL, NULL, 0);
	if (!l) {
		fprintf(stderr, "bench_scale: %s\n", err);
		store_close(s);
		conf_free(&c);
		return;
	}
	double feat_mb = (double)n * features_count() * 4 / 1e6;
	printf("  load     learn_new %.2f s (library, events, the saved "
	       "model) %s; from SQLite, keeping library.cache: %.2f s; "
	       "baseline raw blob read %.2f s; ratio %.1f (target <= 3)\n",
	       load, cached ? "through library.cache" : "(NOT the cache)",
	       rows_s, raw_s, load / raw_s);
	printf("           memory +%.0f MB for %.0f MB of features "
	       "(%.0f MB beside them), read from SQLite\n",
	       (rss1 - rss0) / 1e3, feat_mb, (rss1 - rss0) / 1e3 - feat_mb);
	char line[512];
	/* The median of three: one retrain of a tenth of a second swings
	 * with the disk's sync of its training row. */
	bool ok = true;
	double big_first, small_first = -1;
	double big = median_retrain(l, line, sizeof line, &ok, &big_first);
	learn_free(l);
	store_close(s);

	/* The same events with a small library: the baseline. */
	char small[4400];
	snprintf(small, sizeof small, "%s-small", dir);
	harness_system("rm -rf '%s' && mkdir -p '%s' && cp '%s/mpdrec.db' "
		       "'%s/'", small, small, dir, small);
	s = store_open(small, err, sizeof err);
	char sql[4500];
	sqlite3 *db;
	snprintf(sql, sizeof sql, "%s/mpdrec.db", small);
	sqlite3_open(sql, &db);
	/* Keep the events' tracks and the first SMALL others. */
	snprintf(sql, sizeof sql,
		 "UPDATE tracks SET status = 3 WHERE rowid > %d AND uri NOT "
		 "IN (SELECT uri FROM events)", SMALL);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	l = s ? learn_new(s, &c, -1, err, sizeof err) : NULL;
	double small_s = -1;
	if (l) {
		bool small_ok = true;
		small_s = median_retrain(l, line, sizeof line, &small_ok,
					 &small_first);
		if (!small_ok)
			small_s = -1;
		learn_free(l);
	}
	store_close(s);
	harness_system("rm -rf '%s'", small);
	printf("  retrain  %d events with %d tracks: %.2f s (median of 3; "
	       "the first %.2f s)%s; baseline, the same events with ~%d "
	       "tracks: %.2f s (the first %.2f s); ratio %.2f (the first: "
	       "%.2f) (target <= 2)\n", EVENTS, n, big, big_first,
	       ok ? "" : " (failed)", SMALL, small_s, small_first,
	       small_s > 0 ? big / small_s : 0.0,
	       small_first > 0 ? big_first / small_first : 0.0);
	conf_free(&c);
}

/* Waits until MPD's queue holds n songs; seconds waited or -1. */
static double wait_queue(struct mpdtest *m, unsigned n, double timeout)
{
	double t0 = proc_now();
	while (proc_now() - t0 < timeout) {
		struct mpd_connection *c = mpdtest_connect(m);
		struct mpd_status *st = c ? mpd_run_status(c) : NULL;
		unsigned len = st ? mpd_status_get_queue_length(st) : 0;
		if (st)
			mpd_status_free(st);
		if (c)
			mpd_connection_free(c);
		if (len >= n)
			return proc_now() - t0;
		proc_sleep(0.02);
	}
	return -1;
}

/* Sends explicit likes/dislikes of tracks until the daemon has retrained
 * once more (RETRAIN_EVERY events after the one at start). Returns the
 * retrain's seconds from its log, or -1. */
static double provoke_retrain(struct rig *r, int n)
{
	struct mpd_connection *c = mpdtest_connect(&r->mpd);
	if (!c)
		return -1;
	long from = proc_file_size(r->log);
	char msg[128], uri[80];
	for (int k = 0; k < 40 && rig_log_count(r->log, from,
						"retrained: ") == 0; k++) {
		uri_of((k * 7919) % n, uri, sizeof uri);
		snprintf(msg, sizeof msg, "%s %s", k % 2 ? "like" : "dislike",
			 uri);
		mpd_run_send_message(c, "mpdrec", msg);
		proc_sleep(0.05);
	}
	mpd_connection_free(c);
	if (!proc_wait_for(r->log, "retrained: ", from, 120))
		return -1;
	/* "retrained: 316 events: ... (1.23 s)" */
	FILE *f = fopen(r->log, "r");
	char line[1024];
	double s = -1;
	if (f && fseek(f, from, SEEK_SET) == 0)
		while (fgets(line, sizeof line, f)) {
			const char *p = strstr(line, "retrained: ");
			p = p ? strrchr(p, '(') : NULL;
			if (p && sscanf(p, "(%lf s)", &s) == 1)
				break;
		}
	if (f)
		fclose(f);
	return s;
}

static void bench_daemon(const char *root, int n, double raw_s)
{
	struct rig r;
	memset(&r, 0, sizeof r);
	if (!rig_start_mpd(&r, root)) {
		printf("  (skipped: MPD does not start)\n");
		return;
	}
	/* A database of one song, written at MPD's exit: the header; the
	 * song stays, the one the user plays (mpdrec fills the queue of a
	 * user who plays, never a stopped one). */
	char one[4300];
	static float x[30 * 8000];	/* 30 s of silence */
	snprintf(one, sizeof one, "%s/one.wav", r.mpd.music);
	if (!harness_write_wav(one, x, 30 * 8000, 1, 8000) ||
	    !mpdtest_update(&r.mpd)) {
		printf("  (skipped: MPD does not update)\n");
		mpdtest_stop(&r.mpd);
		return;
	}
	mpdtest_stop(&r.mpd);
	double t0 = proc_now();
	char conf[200];
	snprintf(conf, sizeof conf, "max_output_buffer_size \"%d\"\n",
		 n / 2 + 16384);
	if (!write_mpd_db(&r, n) || !rig_mpd_config(&r, conf)) {
		printf("  (skipped: MPD does not load %d songs)\n", n);
		mpdtest_stop(&r.mpd);
		return;
	}
	struct mpd_connection *mc = mpdtest_connect(&r.mpd);
	struct mpd_stats *ms = mc ? mpd_run_stats(mc) : NULL;
	unsigned songs = ms ? mpd_stats_get_number_of_songs(ms) : 0;
	if (ms)
		mpd_stats_free(ms);
	if (mc)
		mpd_connection_free(mc);
	/* the store's n and the user's song */
	if (songs != (unsigned)n + 1) {
		printf("  (skipped: MPD holds %u songs, not %d: see %s)\n",
		       songs, n + 1, r.mpd.dir);
		char cmd[13000];
		snprintf(cmd, sizeof cmd, "tail -n 3 '%s/mpd.stderr' '%s/mpd.log' "
			 "'%s/head.txt'", r.mpd.dir, r.mpd.dir, r.mpd.dir);
		if (system(cmd) != 0)
			printf("  (no log)\n");
		mpdtest_stop(&r.mpd);
		return;
	}
	printf("  (MPD loaded %d songs in %.1f s)\n", n, proc_now() - t0);
	/* The store of this size, built by main(), is in r.data. */
	rig_write_conf(&r, "queue = { ahead = %d; settle_ms = 50.0; };\n"
			   "model = { retrain_every = %d; };\n"
			   "log = { level = \"debug\"; };\n", AHEAD,
		       RETRAIN_EVERY);
	long from = proc_file_size(r.log);
	char *argv[] = { (char *)proc_mpdrec(), "--config", r.conf, "run",
			 NULL };
	/* The user's song, started and held paused. */
	mc = mpdtest_connect(&r.mpd);
	bool held = mc && mpd_run_add(mc, "one.wav") &&
		    mpd_run_play_pos(mc, 0) && mpd_run_pause(mc, true);
	if (mc)
		mpd_connection_free(mc);
	if (!held)
		printf("  (the user's song did not play: no fill expected)\n");
	t0 = proc_now();
	r.pid = proc_spawn(argv, r.log);
	double filled = wait_queue(&r.mpd, AHEAD + 1, 60);
	filled = filled < 0 ? -1 : proc_now() - t0;
	long rss_filled = status_kb(r.pid, "VmRSS:");
	bool scanned = proc_wait_for(r.log, "library scan:", from, 600);
	double scan_s = proc_now() - t0;
	long from_retrain = proc_file_size(r.log);
	double retrain_s = provoke_retrain(&r, n);
	/* The rescore after the retrain (in the background: the scores
	 * of a large library are kept in scores.cache at exit, for the next
	 * start and recommend). */
	bool kept = proc_wait_for(r.log, "refreshed in", from_retrain, 120);
	long hwm = status_kb(r.pid, "VmHWM:");
	long file_kb = status_kb(r.pid, "RssFile:");
	if (getenv("BENCH_PMAP")) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "pmap -x %d | sort -k3 -n -r | "
			 "head -12", (int)r.pid);
		if (system(cmd) != 0)
			printf("  (no pmap)\n");
	}
	rig_stop_daemon(&r, SIGTERM, 30);
	mpdtest_stop(&r.mpd);
	if (getenv("BENCH_KEEP_LOG"))
		harness_system("cp '%s' '%s'", r.log, getenv("BENCH_KEEP_LOG"));
	double feat_mb = (double)n * features_count() * 4 / 1e6;
	printf("  start    first start (trains a model on %d events) to %d "
	       "songs queued: %.2f s; baseline raw blob read %.2f s; ratio "
	       "%.1f (target <= 5 s)\n", EVENTS, AHEAD, filled, raw_s,
	       filled / raw_s);
	printf("           scan listed every song in %.1f s%s; background "
	       "retrain on %d+ events %.2f s\n", scan_s,
	       scanned ? "" : " (not finished)", EVENTS, retrain_s);
	printf("  memory   daemon peak %.0f MB (%.0f MB when the queue was "
	       "filled; %.0f MB of it mapped files: the libraries); baseline, "
	       "the features' own size %.0f MB; ratio %.2f; %.0f MB beside "
	       "them (target: <= 400 MB at 1M, <= 60 MB beside them at "
	       "100k)%s\n", hwm / 1e3, rss_filled / 1e3, file_kb / 1e3,
	       feat_mb, hwm / 1e3 / feat_mb, hwm / 1e3 - feat_mb,
	       kept ? "" : " (no rescore seen)");
	/* recommend on the store the daemon left (a model saved). */
	char cmd[9000];
	const char *keep = getenv("BENCH_KEEP_LOG");
	snprintf(cmd, sizeof cmd, "'%s' -v --config '%s' recommend -n 10 "
		 ">/dev/null 2>>'%s'", proc_mpdrec(), r.conf,
		 keep ? "/tmp/mpdrec-bench-recommend.log" : "/dev/null");
	/* Twice: the second finds the scores the first kept (the daemon
	 * keeps them at exit too, unless the model changed since its last
	 * rescore). */
	double rec[2];
	int rc = 0;
	for (int k = 0; k < 2; k++) {
		t0 = proc_now();
		rc |= system(cmd);
		rec[k] = proc_now() - t0;
	}
	printf("  recommend %.2f s (%.2f s the first time); baseline raw blob "
	       "read %.2f s; ratio %.1f (target <= 1 s)%s\n", rec[1], rec[0],
	       raw_s, rec[1] / raw_s, rc == 0 ? "" : " (failed)");
}

int main(int argc, char **argv)
{
	log_threshold = LOG_WARNING;
	/* One BLAS thread, as the daemon runs (issue 18.6): two spin in
	 * sched_yield on this 2-core machine and slowed scoring 2x. */
	setenv("OPENBLAS_NUM_THREADS", "1", 1);
	openblas_set_num_threads(1);
	int sizes[8] = { 100000, 1000000 }, n_sizes = 2;
	if (argc > 1) {
		n_sizes = 0;
		for (int i = 1; i < argc && n_sizes < 8; i++)
			sizes[n_sizes++] = atoi(argv[i]);
	}
	int dim = features_count();
	for (int k = 0; k < n_sizes; k++) {
		int n = sizes[k];
		char root[4200], data[4250];
		snprintf(root, sizeof root, "%s/n%d", harness_tmpdir(), n);
		snprintf(data, sizeof data, "%s/data", root);
		harness_system("mkdir -p '%s'", root);
		double t0 = proc_now();
		if (!build_store(data, n, dim)) {
			printf("bench_scale: cannot build the store\n");
			return 1;
		}
		int rows;
		double raw = raw_read(data, &rows);
		printf("%d tracks x %d features, %d events (store built in "
		       "%.1f s; raw read of %d blobs %.2f s)\n", n, dim, EVENTS,
		       proc_now() - t0, rows, raw);
		bench_daemon(root, n, raw);
		bench_learner(data, n, raw);
		if (!getenv("HARNESS_KEEP"))
			harness_system("rm -rf '%s'", root);
	}
	return 0;
}
