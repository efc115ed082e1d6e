/* A first start (issue 17): the daemon starts on a library it has never
 * analysed while a song plays, for the dev corpus (/tmp/mpdrec-corpus, if
 * it was built: /work/shared/tools/dev-corpus.sh) and for a generated
 * library of short tracks (default 10,000 of 2 to 5 s). Printed: the
 * seconds from start to the first pick (the folder now playing, before
 * anything is analysed), to the first pick from analysed tracks, and to
 * the whole library analysed. The baseline, from the same run: the whole
 * library's analysis, which is when the first pick came before (the
 * filler had nothing until the scan ended).
 *
 * Every second the bench removes the songs queued after the current one,
 * as a listener who skips them would, so that the daemon fills again; the
 * generated tracks are never played (MPD 0.23 blocks every client while
 * it plays a song of so little PCM).
 *
 * Usage: bench_firststart [TRACKS] (default 10000).
 */
#include "tests/lib/fixture.h"
#include "tests/lib/harness.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <math.h>
#include <mpd/client.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CORPUS "/tmp/mpdrec-corpus"
#define GEN_RATE 8000
#define PER_FOLDER 20
#define ANCHOR_S 240.0

static uint64_t rng = 4242;

static double urand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* One short track of a random kind: a chord, modulated noise or clicks. */
static void gen_track(float *x, size_t n)
{
	double kind = urand();
	if (kind < 0.4) {
		double hz[3];
		int base = 45 + (int)(urand() * 30);
		for (int k = 0; k < 3; k++)
			hz[k] = fixture_note(base + (int)(urand() * 12));
		fixture_chord(x, n, GEN_RATE, hz, 3, 0.3 + 0.4 * urand());
	} else if (kind < 0.7) {
		fixture_am_noise(x, n, GEN_RATE, 1 + 8 * urand(),
				 0.2 + 0.5 * urand(), rng);
	} else {
		fixture_clicks(x, n, GEN_RATE, 70 + 110 * urand(),
			       0.3 + 0.6 * urand());
	}
}

/* n tracks of 2 to 5 s in folders of PER_FOLDER, under dir/gen. */
static bool make_generated(const char *dir, int n)
{
	size_t max = (size_t)(5 * GEN_RATE);
	float *x = malloc(max * sizeof *x);
	char sub[4400], path[4500];
	snprintf(sub, sizeof sub, "%s/gen", dir);
	mkdir(sub, 0700);
	bool ok = x != NULL;
	for (int i = 0; ok && i < n; i++) {
		if (i % PER_FOLDER == 0) {
			snprintf(sub, sizeof sub, "%s/gen/a%04d", dir,
				 i / PER_FOLDER);
			mkdir(sub, 0700);
		}
		size_t len = (size_t)((2 + 3 * urand()) * GEN_RATE);
		gen_track(x, len);
		snprintf(path, sizeof path, "%s/t%02d.wav", sub,
			 i % PER_FOLDER);
		ok = harness_write_wav(path, x, len, 1, GEN_RATE);
	}
	free(x);
	return ok;
}

/* The song that plays while the daemon starts: long, with PCM enough that
 * MPD answers its clients while it plays. */
static bool make_anchor(const char *dir)
{
	char sub[4400], path[4500];
	snprintf(sub, sizeof sub, "%s/now", dir);
	mkdir(sub, 0700);
	size_t n = (size_t)(ANCHOR_S * 11025);
	float *x = malloc(n * sizeof *x);
	if (!x)
		return false;
	double hz[3] = { fixture_note(57), fixture_note(61), fixture_note(64) };
	fixture_chord(x, n, 11025, hz, 3, 0.4);
	snprintf(path, sizeof path, "%s/anchor.wav", sub);
	bool ok = harness_write_wav(path, x, n, 1, 11025);
	free(x);
	return ok;
}

/* Whether a line of the log contains `text` and not `not` (NULL: any). */
static bool logged(const char *log, const char *text, const char *not)
{
	FILE *f = fopen(log, "r");
	char line[4096];
	bool found = false;
	while (f && !found && fgets(line, sizeof line, f))
		found = strstr(line, text) && (!not || !strstr(line, not));
	if (f)
		fclose(f);
	return found;
}

/* Removes the songs after the current one: a listener skipping ahead. */
static void clear_ahead(struct mpd_connection *c)
{
	struct mpd_status *st = mpd_run_status(c);
	if (!st)
		return;
	int pos = mpd_status_get_song_pos(st);
	unsigned len = mpd_status_get_queue_length(st);
	mpd_status_free(st);
	if (pos >= 0 && (unsigned)pos + 1 < len)
		mpd_run_delete_range(c, (unsigned)pos + 1, len);
}

static void run(const char *name, const char *root, bool corpus, int n)
{
	struct rig r;
	memset(&r, 0, sizeof r);
	mkdir(root, 0700);
	if (!rig_start_mpd(&r, root)) {
		printf("%s: skipped (MPD does not start)\n", name);
		return;
	}
	const char *anchor = "now/anchor.wav";
	bool ok;
	if (corpus) {
		char link[4400];
		snprintf(link, sizeof link, "%s/corpus", r.mpd.music);
		ok = symlink(CORPUS, link) == 0;
		anchor = "corpus/warzone2100-music/track1.opus";
	} else {
		ok = make_generated(r.mpd.music, n) && make_anchor(r.mpd.music);
	}
	double t_up = proc_now();
	struct mpd_connection *c = ok ? mpdtest_connect(&r.mpd) : NULL;
	/* (mpdtest_update waits 30 s at most: 10,000 files take longer) */
	ok = c && mpd_run_update(c, NULL) != 0;
	while (ok && proc_now() - t_up < 1800) {
		struct mpd_status *st = mpd_run_status(c);
		ok = st != NULL;
		unsigned job = st ? mpd_status_get_update_id(st) : 0;
		if (st)
			mpd_status_free(st);
		if (!job)
			break;
		proc_sleep(0.2);
	}
	struct mpd_stats *stats = c ? mpd_run_stats(c) : NULL;
	unsigned songs = stats ? mpd_stats_get_number_of_songs(stats) : 0;
	if (stats)
		mpd_stats_free(stats);
	if (!c || !mpd_run_clear(c) || !mpd_run_add(c, anchor) ||
	    !mpd_run_play(c)) {
		printf("%s: skipped (cannot queue %s)\n", name, anchor);
		if (c)
			mpd_connection_free(c);
		mpdtest_stop(&r.mpd);
		return;
	}
	printf("%s: %u songs (MPD's update %.1f s)\n", name, songs,
	       proc_now() - t_up);
	rig_write_conf(&r, "queue = { ahead = 2; settle_ms = 100.0; };\n"
		       "feedback = { min_duration = 1.0; };\n");
	char *argv[] = { (char *)proc_mpdrec(), "--config", r.conf, "run",
			 NULL };
	double t0 = proc_now();
	r.pid = proc_spawn(argv, r.log);
	double first = -1, analysed = -1, whole = -1, next_clear = t0 + 1;
	while (proc_now() - t0 < 3600 && whole < 0) {
		double now = proc_now();
		if (first < 0 && logged(r.log, "queued ", NULL))
			first = now - t0;
		if (analysed < 0 &&
		    logged(r.log, "queued ", "nothing analysed yet"))
			analysed = now - t0;
		if (logged(r.log, "library scan:", NULL))
			whole = now - t0;
		if (analysed >= 0 && first >= 0) {
			/* Measured: stop playing so MPD never reaches one
			 * of the short tracks; the scan goes on. */
			mpd_run_stop(c);
			mpd_run_clear(c);
		} else if (now >= next_clear) {
			clear_ahead(c);
			next_clear = now + 1;
		}
		proc_sleep(first < 0 || analysed < 0 ? 0.02 : 0.5);
	}
	mpd_connection_free(c);
	rig_stop_daemon(&r, SIGTERM, 30);
	mpdtest_stop(&r.mpd);
	printf("  first pick %.2f s after start (before anything is analysed); "
	       "first pick from analysed tracks %.2f s\n", first, analysed);
	printf("  whole library analysed %.1f s after start: the baseline, "
	       "when the first pick came before; ratio first pick / "
	       "baseline %.4f, first analysed pick / baseline %.4f\n", whole,
	       whole > 0 ? first / whole : 0.0,
	       whole > 0 ? analysed / whole : 0.0);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	char root[4200];
	struct stat st;
	if (stat(CORPUS, &st) == 0) {
		snprintf(root, sizeof root, "%s/corpus", harness_tmpdir());
		run("dev corpus", root, true, 0);
	} else {
		printf("dev corpus: skipped (no %s: run "
		       "/work/shared/tools/dev-corpus.sh)\n", CORPUS);
	}
	if (n > 0) {
		char name[64];
		snprintf(name, sizeof name, "generated, %d tracks of 2-5 s", n);
		snprintf(root, sizeof root, "%s/gen", harness_tmpdir());
		run(name, root, false, n);
	}
	return 0;
}
