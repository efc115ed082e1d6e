/* mpdrec analyze: one library pass with a progress display. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/store.h"
#include "core/util.h"
#include "daemon/cmd/cmd.h"
#include "daemon/scan.h"
#include "features/analyze.h"
#include "features/table.h"

#define PLAIN_EVERY 5.0		/* seconds between lines off a terminal */
#define BAR_EVERY 0.1		/* seconds between redraws on a terminal */
#define BAR_WIDTH 12

static atomic_int interrupted;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&interrupted, 1);
}

struct display {
	bool tty;
	bool quiet;
	bool drawn;		/* a bar is on the current line */
	double last;
	int last_listed;
};

static void format_eta(char *buf, size_t size, double s)
{
	if (!(s >= 0) || s > 99 * 3600)
		snprintf(buf, size, "--:--");
	else if (s >= 3600)
		snprintf(buf, size, "%d:%02d:%02d", (int)s / 3600,
			 (int)s / 60 % 60, (int)s % 60);
	else
		snprintf(buf, size, "%d:%02d", (int)s / 60, (int)s % 60);
}

/* "45/128 (2 failed)  9.1 tracks/s  262x real time (library length
 * 723x)  ETA 0:12": real time on the audio analysed (at most
 * analysis.max_seconds of a track); the library's length over the time,
 * beside it, says how fast a library goes through, not how fast the
 * machine analyses. The bar's line leaves out the tracks per second to fit
 * 80 columns. */
static void status_text(char *buf, size_t size, const struct scan_progress *p,
			bool with_rate)
{
	struct scan_speed s = scan_progress_speed(p);
	char eta[32], failed[32] = "", rate[32] = "";
	format_eta(eta, sizeof eta, s.eta_s);
	if (p->failed)
		snprintf(failed, sizeof failed, " (%d failed)", p->failed);
	if (with_rate)
		snprintf(rate, sizeof rate, "  %.1f tracks/s", s.tracks_per_s);
	snprintf(buf, size,
		 "%d/%d%s%s  %.0fx real time (library length %.0fx)  ETA %s",
		 p->done, p->total, failed, rate, s.realtime,
		 s.library_realtime, eta);
}

static void progress(const struct scan_progress *p, void *ctx)
{
	struct display *d = ctx;
	double now = util_mono();
	bool last = !p->listing && p->done == p->total;
	if (d->quiet)
		return;
	if (p->listing) {
		if (d->tty) {
			printf("\rlisting MPD's database: %d songs", p->listed);
			d->drawn = true;
			fflush(stdout);
		} else if (p->listed == 0 || now - d->last >= PLAIN_EVERY) {
			printf("listing MPD's database: %d songs\n", p->listed);
			d->last = now;
		}
		return;
	}
	if (p->done == 0 && p->uri == NULL) {
		if (d->drawn)
			printf("\n");
		d->drawn = false;
		printf("%d tracks to analyse\n", p->total);
		fflush(stdout);
		d->last = now;
		return;
	}
	if (d->tty && p->error && p->uri) {
		/* Keep failures on their own lines above the bar. */
		printf("\r\033[Kfailed: %s: %s\n", p->uri, p->error);
		d->drawn = false;
	}
	char text[200];
	status_text(text, sizeof text, p, !d->tty);
	if (d->tty) {
		if (!last && now - d->last < BAR_EVERY)
			return;
		int fill = p->total ? BAR_WIDTH * p->done / p->total
				    : BAR_WIDTH;
		char bar[BAR_WIDTH + 1];
		for (int i = 0; i < BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[BAR_WIDTH] = '\0';
		printf("\r\033[K[%s] %s", bar, text);
		d->drawn = true;
	} else {
		if (!last && now - d->last < PLAIN_EVERY)
			return;
		printf("analysed %s\n", text);
	}
	d->last = now;
	fflush(stdout);
}

int cmd_analyze(int argc, char **argv, const struct conf *c)
{
	static const struct option opts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct display d = { .tty = isatty(STDOUT_FILENO) == 1 };
	struct scan_options o = { .stop = &interrupted, .progress = progress,
				  .ctx = &d };
	int opt;
	while ((opt = getopt_long(argc, argv, "j:q", opts, NULL)) != -1) {
		if (opt == 'j') {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > 256) {
				fprintf(stderr, "mpdrec analyze: --jobs takes "
					"a number from 0 (one per core) to "
					"256\n");
				return 2;
			}
			o.jobs = (int)v;
		} else if (opt == 'q') {
			d.quiet = true;
		} else {
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mpdrec analyze: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (!c->music_directory) {
		fprintf(stderr, "mpdrec analyze: music_directory is not set "
			"(in mpdrec.conf; it must be MPD's)\n");
		return 2;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	struct sigaction old_int, old_term;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	struct scan_result r;
	bool ok = scan_run(c, &o, &r);

	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (d.drawn)
		printf("\n");
	if (!ok) {
		fprintf(stderr, "mpdrec analyze: %s\n", r.error);
		if (r.analysed || r.failed)
			printf("%d analysed, %d failed before it ended\n",
			       r.analysed, r.failed);
		return 1;
	}
	printf("this run: %d analysed, %d failed, %d gone from MPD's "
	       "database (%.1f s)\n", r.analysed, r.failed, r.gone,
	       r.seconds);
	/* The library as a whole, so a second run's zeros are not read as
	 * totals. */
	struct store *s = cmd_open_store(c);
	int counts[4];
	if (s && store_count_tracks(s, counts))
		printf("the library: %d songs in MPD's database; in all %d "
		       "analysed (%d failed%s, %d waiting)\n", r.listed,
		       counts[STORE_ANALYSED], counts[STORE_FAILED],
		       counts[STORE_FAILED] ? ": 'mpdrec status --failed' "
					      "says why" : "",
		       counts[STORE_PENDING]);
	store_close(s);
	return 0;
}
