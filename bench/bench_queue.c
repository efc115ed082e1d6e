/* Queue filling at scale: from a song change (an event learned) to the
 * picks that fill the queue (fill_choose: the policy, the affinities, the
 * shortlist rescored; "choose" alone in its own column), for libraries of
 * 1,000 to 1,000,000 analysed tracks
 * (random features, folders, artists, albums and genres, 300 labelled
 * events). Baseline in the same run: rescoring the whole library through
 * the ensemble first, as a fill under FRESH_SCORES_MAX did. Target: a
 * median of at most 10 ms and a maximum of at most 30 ms at every size.
 *
 * bench_queue [SIZE...]: the library sizes (default 1000 10000 20000
 * 100000 1000000). */
#include "conf/conf.h"
#include "core/rank.h"
#include "core/store.h"
#include "daemon/blas.h"
#include "daemon/fill.h"
#include "daemon/learn.h"
#include "daemon/log.h"
#include "features/table.h"
#include "tests/lib/harness.h"
#include "tests/lib/proc.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS 300
#define ROUNDS 15
#define PER_ALBUM 12
#define ALBUMS_PER_ARTIST 3

static uint64_t rng = 99;
static double urand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void names(int i, char *uri, size_t size, char *artist, char *album,
		  char *genre)
{
	int al = i / PER_ALBUM, ar = al / ALBUMS_PER_ARTIST;
	snprintf(uri, size, "genre%02d/artist%06d/album%07d/track%07d.flac",
		 ar % 20, ar, al, i);
	snprintf(artist, 32, "Artist %d", ar);
	snprintf(album, 32, "Album %d", al);
	snprintf(genre, 32, "Genre %d", ar % 20);
}

static bool build_store(const char *dir, int tracks, int dim)
{
	char err[512];
	struct store *s = store_open(dir, err, sizeof err);
	if (!s) {
		fprintf(stderr, "bench_queue: %s\n", err);
		return false;
	}
	char uri[128], artist[32], album[32], genre[32];
	bool ok = store_sync_begin(s);
	for (int i = 0; ok && i < tracks; i++) {
		names(i, uri, sizeof uri, artist, album, genre);
		struct store_track_info t = { .uri = uri, .mtime = 1,
					      .artist = artist, .album = album,
					      .genre = genre,
					      .duration = 200 };
		ok = store_sync_track(s, &t);
	}
	ok = ok && store_sync_end(s, NULL) && store_batch_begin(s);
	float *v = malloc((size_t)dim * sizeof *v);
	for (int i = 0; ok && i < tracks; i++) {
		for (int j = 0; j < dim; j++)
			v[j] = (float)(urand() * (j + 1));
		names(i, uri, sizeof uri, artist, album, genre);
		ok = store_set_features(s, uri, FEATURES_VERSION, v, dim, 200);
	}
	ok = ok && store_batch_end(s);
	/* Labelled history: the hidden taste likes some albums. */
	for (int k = 0; ok && k < EVENTS; k++) {
		int i = (int)(urand() * tracks);
		names(i, uri, sizeof uri, artist, album, genre);
		bool like = (i / PER_ALBUM * 7919) % 100 < 50;
		struct store_event e = { .time = 1e9 + k, .uri = uri,
					 .kind = like ? STORE_KIND_PLAYED
						      : STORE_KIND_SKIPPED,
					 .label = like, .weight = 1,
					 .source = "watch" };
		ok = store_add_event(s, &e);
	}
	if (!ok)
		fprintf(stderr, "bench_queue: %s\n", store_error(s));
	free(v);
	store_close(s);
	return ok;
}

/* One library size: a row of the table. */
static bool bench_size(int tracks, int dim)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/data-%d", harness_tmpdir(), tracks);
	double t0 = proc_now();
	if (!build_store(dir, tracks, dim))
		return false;
	double build_s = proc_now() - t0;
	struct conf c;
	conf_defaults(&c);
	char err[512];
	struct store *s = store_open(dir, err, sizeof err);
	t0 = proc_now();
	struct learn *l = s ? learn_new(s, &c, -1, err, sizeof err) : NULL;
	if (!l) {
		fprintf(stderr, "bench_queue: %s\n", err);
		store_close(s);
		conf_free(&c);
		return false;
	}
	double learn_s = proc_now() - t0;
	t0 = proc_now();
	struct fill *f = fill_new(&c, s, l);
	double fill_s = proc_now() - t0;
	const struct store_library *lib = learn_library(l);
	learn_refresh_scores(l);	/* the daemon's first fill does it */
	fill_prepare(f);

	double fast[ROUNDS], naive[ROUNDS], choose[ROUNDS];
	struct rank_pick picks[2];
	const char *queued[1];
	for (int r = 0; r < ROUNDS; r++) {
		int i = (int)(urand() * lib->n);
		queued[0] = lib->uri[i];
		double a = proc_now();
		learn_event(l, lib->uri[i], r % 2, 1.0, 2e9 + r);
		fill_note_event(f, lib->uri[i], r % 2, 1.0, 2e9 + r, true);
		double b = proc_now();
		fill_choose(f, queued, 1, 2e9 + r, 2, picks);
		fast[r] = proc_now() - a;
		choose[r] = proc_now() - b;
		learn_refresh_scores(l);	/* after the fill, off path */
		fill_prepare(f);
		learn_save_due(l);

		a = proc_now();
		learn_event(l, lib->uri[i], r % 2, 1.0, 2e9 + r);
		fill_note_event(f, lib->uri[i], r % 2, 1.0, 2e9 + r, true);
		learn_refresh_scores(l);	/* naive: rescore first */
		fill_choose(f, queued, 1, 2e9 + r, 2, picks);
		naive[r] = proc_now() - a;
		fill_prepare(f);		/* as the daemon does */
		learn_save_due(l);
	}
	qsort(fast, ROUNDS, sizeof *fast, cmp_double);
	qsort(naive, ROUNDS, sizeof *naive, cmp_double);
	qsort(choose, ROUNDS, sizeof *choose, cmp_double);
	double med = fast[ROUNDS / 2], max = fast[ROUNDS - 1];
	printf("%9d  %7.2f  %7.2f  %7.2f %7.2f  %9.1f  %6.3f  %-4s  (store "
	       "%.0f s, learner %.1f s, filler %.2f s)\n", lib->n, 1e3 * med,
	       1e3 * max, 1e3 * choose[ROUNDS / 2], 1e3 * choose[ROUNDS - 1],
	       1e3 * naive[ROUNDS / 2], med / naive[ROUNDS / 2],
	       med <= 0.010 && max <= 0.030 ? "met" : "NOT",
	       build_s, learn_s, fill_s);
	fflush(stdout);
	fill_free(f);
	learn_free(l);
	store_close(s);
	conf_free(&c);
	harness_system("rm -rf '%s'", dir);
	return true;
}

int main(int argc, char **argv)
{
	static const int sizes[] = { 1000, 10000, 20000, 100000, 1000000 };
	/* As the daemon runs: its BLAS kernel, one thread. */
	blas_tune("recommend");
	openblas_set_num_threads(1);
	log_threshold = LOG_WARNING;
	int dim = features_count();
	printf("song change -> queue filled (2 picks), %d rounds per size, "
	       "%d features, %d events; baseline: rescore the library first\n",
	       ROUNDS, dim, EVENTS);
	printf("%9s  %7s  %7s  %15s  %9s  %6s  %s\n", "tracks", "median",
	       "max", "choose med/max", "baseline", "ratio",
	       "target (<= 10 ms median, <= 30 ms max)");
	printf("%9s  %7s  %7s  %15s  %9s  %6s\n", "", "ms", "ms", "ms",
	       "median ms", "");
	if (argc > 1) {
		for (int k = 1; k < argc; k++) {
			int n = atoi(argv[k]);
			if (n < 10 || n > 5000000) {
				fprintf(stderr, "bench_queue: a size is 10 to "
					"5000000 tracks, not %s\n", argv[k]);
				return 2;
			}
			if (!bench_size(n, dim))
				return 1;
		}
		return 0;
	}
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
		if (!bench_size(sizes[k], dim))
			return 1;
	return 0;
}
