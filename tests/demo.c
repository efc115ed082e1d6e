/* make demo: a private MPD on a small generated library, the mpdrec daemon,
 * and a listener with a hidden taste (soft tracks to the end, noisy ones
 * skipped). Every few songs it prints how often mpdrec's picks were liked,
 * against the base rate of the library. Stops by itself within three
 * minutes and leaves nothing running. */
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/mpdtest.h"
#include "tests/lib/proc.h"

#include <mpd/client.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_STYLE 20
#define SECONDS 3.0
#define DEMO_S 150.0

struct watchers {
	int liked, heard;
	int window[10];
};

static bool on_song(int n, const char *uri, bool liked, void *ctx)
{
	struct watchers *w = ctx;
	w->heard++;
	w->liked += liked;
	w->window[n % 10] = liked;
	printf("  %3d  %-16s %s\n", n + 1, uri, liked ? "played to the end"
						      : "skipped");
	if ((n + 1) % 5 == 0) {
		int recent = 0, k = n + 1 < 10 ? n + 1 : 10;
		for (int i = 0; i < k; i++)
			recent += w->window[i];
		printf("  -> %d songs: %.0f%% liked so far, %.0f%% of the last "
		       "%d (a shuffle would give 50%%)\n",
		       n + 1, 100.0 * w->liked / w->heard, 100.0 * recent / k,
		       k);
	}
	fflush(stdout);
	return true;
}

int main(void)
{
	const char *root = harness_tmpdir();
	char mroot[4200], data[4200], conf[4200], log[4200];
	snprintf(mroot, sizeof mroot, "%s/mpd", root);
	snprintf(data, sizeof data, "%s/data", root);
	snprintf(conf, sizeof conf, "%s/mpdrec.conf", root);
	snprintf(log, sizeof log, "%s/mpdrec.log", root);
	struct mpdtest mpd;
	printf("mpdrec demo: a private MPD with %d generated tracks, half "
	       "soft and tonal, half fast and noisy.\n"
	       "The listener plays soft tracks to the end and skips noisy ones "
	       "after 0.3 s; mpdrec does not know that.\n\n", 2 * PER_STYLE);
	if (!mpdtest_start(&mpd, mroot) ||
	    !listener_make_library(mpd.music, PER_STYLE, SECONDS) ||
	    !mpdtest_update(&mpd)) {
		fprintf(stderr, "demo: cannot start MPD (is Debian's mpd "
				"installed? make deps)\n");
		mpdtest_stop(&mpd);
		return 1;
	}
	FILE *f = fopen(conf, "w");
	fprintf(f,
		"mpd = { host = \"127.0.0.1\"; port = %u; };\n"
		"music_directory = \"%s\";\n"
		"data_directory = \"%s\";\n"
		"feedback = { min_duration = 1.0; };\n"
		"queue = { ahead = 2; history_hours = 0.01; settle_ms = 50.0; };\n",
		mpd.port, mpd.music, data);
	fclose(f);
	char *argv[] = { (char *)proc_mpdrec(), "--config", conf, "run", NULL };
	pid_t daemon = proc_spawn(argv, log);
	double start = proc_now();
	int n = listener_wait_analysed(data, 2 * PER_STYLE, 60);
	printf("analysed %d tracks in %.1f s; the daemon's log: %s\n\n", n,
	       proc_now() - start, log);
	struct mpd_connection *c = mpdtest_connect(&mpd);
	int rc = 1;
	if (c) {
		listener_wait_queue(c, 2, 10);
		mpd_run_play(c);
		struct watchers w = { 0 };
		listener_run(c, 0.3, DEMO_S, on_song, &w);
		mpd_run_stop(c);
		mpd_connection_free(c);
		printf("\n%d songs in %.0f s: %.0f%% liked (base rate 50%%)\n",
		       w.heard, proc_now() - start,
		       w.heard ? 100.0 * w.liked / w.heard : 0.0);
		rc = 0;
	}
	proc_stop(daemon, SIGTERM, 5, NULL);
	mpdtest_stop(&mpd);
	return rc;
}
