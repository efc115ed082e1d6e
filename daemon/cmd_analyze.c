/* The feature commands: analyze (one library pass with a progress display),
 * show (the named features of one track) and export (every vector as CSV).
 */
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
#include "daemon/cmd.h"
#include "daemon/scan.h"
#include "features/analyze.h"
#include "features/table.h"

#define PLAIN_EVERY 5.0		/* seconds between lines off a terminal */
#define BAR_EVERY 0.1		/* seconds between redraws on a terminal */
#define BAR_WIDTH 24

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

/* "45/128 (2 failed)  9.1 tracks/s  850x real time  ETA 0:12" */
static void status_text(char *buf, size_t size, const struct scan_progress *p)
{
	double rate = p->elapsed > 0 ? p->done / p->elapsed : 0;
	double rt = p->elapsed > 0 ? p->track_s / p->elapsed : 0;
	/* Reckoned in audio to analyse, not in tracks: a library of sound
	 * effects and long mixes would fool a count. */
	double speed = p->elapsed > 0 ? p->audio_s / p->elapsed : 0;
	double left = p->audio_total_s - p->audio_s;
	char eta[32], failed[32] = "";
	format_eta(eta, sizeof eta,
		   p->done >= p->total ? 0
		   : speed > 0	       ? (left > 0 ? left : 0) / speed
				       : -1);
	if (p->failed)
		snprintf(failed, sizeof failed, " (%d failed)", p->failed);
	snprintf(buf, size, "%d/%d%s  %.1f tracks/s  %.0fx real time  ETA %s",
		 p->done, p->total, failed, rate, rt, eta);
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
	char text[160];
	status_text(text, sizeof text, p);
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
	printf("%d songs in MPD's database: %d analysed, %d failed, %d gone "
	       "(%.1f s)\n",
	       r.listed, r.analysed, r.failed, r.gone, r.seconds);
	return 0;
}

/* --- show --------------------------------------------------------------- */

static const char *status_name(enum store_status s)
{
	switch (s) {
	case STORE_PENDING:
		return "pending (not analysed yet: run 'mpdrec analyze')";
	case STORE_ANALYSED:
		return "analysed";
	case STORE_FAILED:
		return "failed";
	case STORE_GONE:
		return "gone from MPD's database";
	}
	return "?";
}

static void print_vector(const float *v)
{
	char key[32];
	printf("key: %s\n", features_key_name(v, key, sizeof key));
	for (int i = 0; i < features_count(); i++) {
		const struct feature_info *f = features_info(i);
		printf("%-18s %12.6g %-5s %s\n", f->name, v[i], f->unit,
		       f->help);
	}
}

int cmd_show(int argc, char **argv, const struct conf *c)
{
	static const struct option opts[] = {
		{ "file", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	bool file = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (opt == 'f')
			file = true;
		else
			return 2;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: mpdrec show URI\n"
				"       mpdrec show --file PATH  (analyse a "
				"file now, store nothing)\n");
		return 2;
	}
	const char *what = argv[optind];
	float v[FEAT_COUNT];
	char err[512];
	if (file) {
		double dur;
		const struct analyze_opts ao = {
			.max_seconds = c->analysis.max_seconds,
			.timeout_s = SCAN_FILE_TIMEOUT,
		};
		if (!analyze_file(what, &ao, v, &dur, err, sizeof err)) {
			fprintf(stderr, "mpdrec show: %s: %s\n", what, err);
			return 1;
		}
		printf("%s\n", what);
		print_vector(v);
		return 0;
	}
	struct store *s = store_open(c->data_directory, err, sizeof err);
	if (!s) {
		fprintf(stderr, "mpdrec: %s\n", err);
		return 1;
	}
	enum store_status status;
	char *error = NULL;
	int rc = 1;
	if (!store_get_track(s, what, FEATURES_VERSION, FEAT_COUNT, v, &status,
			     &error)) {
		fprintf(stderr, "mpdrec show: %s: %s\n", what,
			store_error(s));
		goto out;
	}
	printf("%s\nstatus: %s\n", what, status_name(status));
	if (status == STORE_FAILED)
		printf("reason: %s\n", error ? error : "(none recorded)");
	if (status == STORE_ANALYSED) {
		print_vector(v);
		rc = 0;
	}
out:
	free(error);
	store_close(s);
	return rc;
}

/* --- export ------------------------------------------------------------- */

/* RFC 4180: quoted when it holds a comma, a quote or a line break. */
static void csv_text(FILE *f, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static int by_uri(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cmd_export(int argc, char **argv, const struct conf *c)
{
	static const struct option opts[] = {
		{ "csv", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	bool csv = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'c')
			csv = true;
		else
			return 2;
	}
	if (!csv || argc - optind > 1) {
		fprintf(stderr, "usage: mpdrec export --csv [FILE]  (FILE "
				"absent or '-': standard output)\n");
		return 2;
	}
	const char *path = optind < argc ? argv[optind] : "-";
	char err[512];
	struct store *s = store_open(c->data_directory, err, sizeof err);
	if (!s) {
		fprintf(stderr, "mpdrec: %s\n", err);
		return 1;
	}
	int rc = 1;
	FILE *f = NULL;
	signed char *label = NULL;
	struct store_library *lib =
		store_load_library(s, FEATURES_VERSION, FEAT_COUNT);
	struct store_examples *ex =
		lib ? store_load_examples(s, FEATURES_VERSION, FEAT_COUNT)
		    : NULL;
	if (!lib || !ex) {
		fprintf(stderr, "mpdrec export: %s\n", store_error(s));
		goto out;
	}
	/* The label of each track is that of its latest labelled event;
	 * examples come oldest first, the library sorted by URI. */
	label = malloc((size_t)(lib->n > 0 ? lib->n : 1));
	if (!label)
		goto out;
	memset(label, -1, (size_t)(lib->n > 0 ? lib->n : 1));
	for (int i = 0; i < ex->n; i++) {
		char **hit = bsearch(&ex->uri[i], lib->uri, (size_t)lib->n,
				     sizeof *lib->uri, by_uri);
		if (hit)
			label[hit - lib->uri] = ex->y[i] >= 0.5f ? 1 : 0;
	}
	f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (!f) {
		perror(path);
		goto out;
	}
	fputs("uri,artist,title", f);
	for (int j = 0; j < features_count(); j++)
		fprintf(f, ",%s", features_info(j)->name);
	fputs(",label\r\n", f);
	for (int i = 0; i < lib->n; i++) {
		csv_text(f, lib->uri[i]);
		fputc(',', f);
		csv_text(f, lib->artist[i]);
		fputc(',', f);
		csv_text(f, lib->title[i]);
		for (int j = 0; j < lib->dim; j++)
			fprintf(f, ",%.9g", lib->x[(size_t)i * lib->dim + j]);
		if (label[i] >= 0)
			fprintf(f, ",%d", label[i]);
		else
			fputc(',', f);
		fputs("\r\n", f);
	}
	if (f != stdout ? fclose(f) != 0 : fflush(f) != 0) {
		perror(path);
		f = NULL;
		goto out;
	}
	f = NULL;
	if (strcmp(path, "-") != 0)
		fprintf(stderr,
			"%d tracks (%d labelled events) written to %s\n",
			lib->n, ex->n, path);
	rc = 0;
out:
	if (f && f != stdout)
		fclose(f);
	free(label);
	store_examples_free(ex);
	store_library_free(lib);
	store_close(s);
	return rc;
}
