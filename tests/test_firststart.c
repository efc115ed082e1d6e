/* Issue 17, a first start: the daemon starts on a library it has never
 * analysed while a song plays (a real MPD, a listener who keeps playing).
 * The queue must not run dry for longer than the settle time, the first
 * pick must come within seconds (the folder now playing until anything
 * is analysed, said once), the queue's folder must be analysed first, and
 * the library must grow in rounds (the first while the scan runs, with
 * part of the tracks), picks coming from the analysed ones. */
#include "tests/lib/harness.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <math.h>
#include <mpd/client.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RATE 44100
#define FOLDERS 6
#define PER_FOLDER 6
#define SHORT_S 1.5
#define LONG_S 30.0
#define LONGS 24
#define SETTLE_MS 100
#define FIRST_PICK_S 5.0
#define TRACKS (FOLDERS * PER_FOLDER + LONGS)

static struct rig rig;

static bool write_tone(const char *dir, const char *name, double hz,
		       double seconds)
{
	size_t n = (size_t)(seconds * RATE);
	float *x = malloc(n * sizeof *x);
	if (!x)
		return false;
	for (size_t i = 0; i < n; i++)
		x[i] = 0.3f * (float)sin(2 * M_PI * hz * (double)i / RATE) *
		       (float)(0.6 + 0.4 * sin(2 * M_PI * 2 * (double)i /
					      RATE));
	char path[4400];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	bool ok = harness_write_track(path, x, n, RATE);
	free(x);
	return ok;
}

/* Folders f0..f5 of short tracks (f3/t0 is the one playing: longer, so
 * the daemon starts while it plays), and a folder of long tracks that
 * keeps the scan busy for seconds after the first rounds. */
static bool make_library(void)
{
	char dir[4300], name[32];
	for (int f = 0; f < FOLDERS; f++) {
		snprintf(dir, sizeof dir, "%s/f%d", rig.mpd.music, f);
		mkdir(dir, 0700);
		for (int t = 0; t < PER_FOLDER; t++) {
			snprintf(name, sizeof name, "t%d.wav", t);
			double s = f == 3 && t == 0 ? 6.0 : SHORT_S;
			if (!write_tone(dir, name, 150 + 90 * f + 13 * t, s))
				return false;
		}
	}
	/* Mono 16-bit: small files, yet enough PCM that MPD plays them
	 * without blocking (see harness_write_track). */
	snprintf(dir, sizeof dir, "%s/long", rig.mpd.music);
	mkdir(dir, 0700);
	size_t n = (size_t)(LONG_S * RATE / 2);
	float *x = malloc(n * sizeof *x);
	for (int t = 0; x && t < LONGS; t++) {
		for (size_t i = 0; i < n; i++)
			x[i] = 0.3f * (float)sin(2 * M_PI * (700 + 31 * t) *
						 (double)i / (RATE / 2));
		char path[4400];
		snprintf(path, sizeof path, "%s/l%d.wav", dir, t);
		if (!harness_write_wav(path, x, n, 1, RATE / 2)) {
			free(x);
			return false;
		}
	}
	free(x);
	return x != NULL;
}

/* Byte offset of the first line of the log containing text, or -1. */
static long first_line(const char *text)
{
	FILE *f = fopen(rig.log, "r");
	char line[4096];
	long at = -1, pos = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (strstr(line, text)) {
			at = pos;
			break;
		}
		pos += (long)strlen(line);
	}
	if (f)
		fclose(f);
	return at;
}

/* The number after `text` in the first line that has it, or -1. */
static int first_count(const char *text)
{
	FILE *f = fopen(rig.log, "r");
	char line[4096];
	int n = -1;
	while (f && n < 0 && fgets(line, sizeof line, f)) {
		const char *p = strstr(line, text);
		if (p && sscanf(p + strlen(text), "%d", &n) != 1)
			n = -1;
	}
	if (f)
		fclose(f);
	return n;
}

/* The URI of the first "queued " line into buf. */
static bool first_queued(char *buf, size_t size)
{
	FILE *f = fopen(rig.log, "r");
	char line[4096];
	bool found = false;
	while (f && !found && fgets(line, sizeof line, f)) {
		const char *p = strstr(line, "queued ");
		if (p && sscanf(p, "queued %255s", buf) == 1 && size > 255)
			found = true;
	}
	if (f)
		fclose(f);
	return found;
}

static void test_first_start_keeps_the_music_coming(void)
{
	if (!CHECK(rig_start_mpd(&rig, harness_tmpdir())) ||
	    !CHECK(make_library()) || !CHECK(mpdtest_update(&rig.mpd)))
		return;
	if (!CHECK(rig_write_conf(&rig,
		"feedback = { min_duration = 0.5; };\n"
		"queue = { ahead = 2; history_hours = 0.001; "
		"artist_spacing = 0; settle_ms = %d.0; };\n"
		"analysis = { jobs = 1; };\n", SETTLE_MS)))
		return;
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	if (!CHECK(c))
		return;
	CHECK(mpd_run_clear(c) && mpd_run_add(c, "f3/t0.wav") &&
	      mpd_run_play(c));
	double t0 = proc_now();
	struct rig_listener *listener = NULL;
	if (!CHECK(rig_start_daemon(&rig, 10)))
		goto out;
	/* Then a listener who skips every song after half a second: a song
	 * change, and a fill, twice a second. */
	listener = rig_listener_start(&rig.mpd, 0.5);

	/* Watch the queue while the first analysis runs and a little
	 * after: the longest time MPD played with nothing after the current
	 * song, or stood with an empty queue. */
	double dry_since = -1, longest = 0, first_pick = -1, scanned = -1;
	while (proc_now() - t0 < 60) {
		double now = proc_now();
		if (first_pick < 0 && rig_log_count(rig.log, 0, "queued ") > 0)
			first_pick = now - t0;
		if (scanned < 0 &&
		    rig_log_count(rig.log, 0, "library scan:") > 0)
			scanned = now - t0;
		if (scanned >= 0 && now - t0 > scanned + 3 && now - t0 > 12)
			break;
		int ahead = 0, state = 0;
		if (!rig_queue_ahead(c, &ahead, &state))
			break;
		bool dry = first_pick >= 0 && ahead == 0;
		if (dry && dry_since < 0)
			dry_since = now;
		if (!dry && dry_since >= 0) {
			if (now - dry_since > longest)
				longest = now - dry_since;
			dry_since = -1;
		}
		proc_sleep(0.02);
	}
	if (dry_since >= 0 && proc_now() - dry_since > longest)
		longest = proc_now() - dry_since;
	int heard = listener ? rig_listener_heard(listener) : 0;
	printf("     first pick %.2f s after start, scan done at %.1f s, "
	       "%d songs heard, queue dry for at most %.0f ms\n", first_pick,
	       scanned, heard, longest * 1e3);
	CHECK_MSG(first_pick >= 0 && first_pick <= FIRST_PICK_S,
		  "first pick after %.2f s", first_pick);
	CHECK_MSG(scanned > 0, "the scan did not end");
	/* A song change is seen within settle_ms and filled at once; the
	 * sampling itself adds 20 ms a look. */
	CHECK_MSG(longest <= SETTLE_MS / 1e3 + 0.3,
		  "queue dry for %.0f ms", longest * 1e3);
	CHECK_MSG(heard >= 5, "%d songs heard", heard);

	/* The first pick: the folder now playing. */
	char uri[256] = "";
	CHECK(first_queued(uri, sizeof uri));
	CHECK_MSG(!strncmp(uri, "f3/", 3), "first pick %s", uri);
	/* Until anything is analysed the filler said so, once. */
	CHECK(rig_log_count(rig.log, 0, "nothing analysed yet to pick") <= 1);
	/* The queue's folder first. */
	CHECK_MSG(rig_log_count(rig.log, 0, "analysing first the 6 tracks") +
		  rig_log_count(rig.log, 0, "analysing first the 7 tracks") ==
		  1, "the queue's folder not first");
	/* The library grew in rounds: the first came while the scan ran,
	 * with part of the tracks; then picks came from analysed tracks. */
	long grown = first_line("first tracks analysed");
	long end = first_line("library scan:");
	int first_round = first_count("picks come from the ");
	CHECK_MSG(grown >= 0 && end >= 0 && grown < end,
		  "the library did not grow during the scan");
	CHECK_MSG(first_round > 0 && first_round < TRACKS,
		  "the first round had %d of %d tracks", first_round, TRACKS);
	CHECK_MSG(first_line("(cold start") > grown,
		  "no pick from analysed tracks");
	CHECK(rig_log_count(rig.log, 0, "analysis: ") +
	      rig_log_count(rig.log, 0, "analysing ") >= 1);
out:
	rig_listener_stop(listener);
	mpd_connection_free(c);
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	mpdtest_stop(&rig.mpd);
}

int main(void)
{
	RUN(test_first_start_keeps_the_music_coming);
	return harness_finish();
}
