/* Benchmarks of core/model, each printed as figure, baseline measured in
 * the same run, ratio and target:
 *
 *  score  scoring 1,000,000 × 60 through the default ensemble, against the
 *         same ensemble with bins = 1 (a plain first layer: what the bins
 *         cost) and against the naive way to compute the binned first
 *         layer alone (the encoding materialised, 60·T columns, and a
 *         cblas_sgemm of it: what the layer's way saves); on one core as
 *         mpdrec runs it, then on OpenBLAS's threads. It used to print
 *         GFLOP/s as a share of plain sgemm on the layers' shapes, which
 *         says nothing of a binned layer: it is no dense product (it
 *         reads two rows of weights per input where a dense layer
 *         multiplies)
 *  learn  median time of one incremental update with the defaults, one
 *         core, against the 5 ms target (and bins = 1 beside it)
 *  train  full training on 10,000 events against the 2 s target (and
 *         bins = 1 beside it)
 *  cv     dense net vs a 500-tree random forest (written here, a baseline
 *         only), 5-fold accuracy on synthetic Spotify-like tables
 *  real   the same on real like/dislike tables (bench/data, and the
 *         paper's table when MPDREC_REAL_TABLES names a folder holding
 *         spotify-song-attributes.csv), with the logistic baseline of
 *         core/eval on the same folds; then on tables drawn from a
 *         Gaussian copula fitted to those real tables (their marginals,
 *         skew, ties and correlations) with a hidden taste of a few
 *         liked "kinds" of track
 *  few    learning from 10 to 200 labels: accuracy on the rest of a real
 *         table after a full training (the daemon's early retrains) and
 *         after incremental learning (model_learn, one event at a time),
 *         beside the logistic baseline on the same labels
 *
 * One-core figures are CPU time of the thread: the machine may be shared,
 * and time spent waiting for a core says nothing of the code.
 *
 * `bench_model [score|learn|train|cv|real|few]...` runs a subset; no
 * argument runs all. Exit status 0 unless something could not run.
 */
#include "core/csv.h"
#include "core/eval.h"
#include "core/metrics.h"
#include "core/model.h"
#include "core/nn.h"
#include "daemon/blas.h"
#include "tests/lib/synth.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_uniform(uint64_t *s)
{
	return (rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static void row(const char *what, const char *figure, const char *baseline,
		const char *ratio, const char *target)
{
	printf("%-34s %-18s %-26s %-14s %s\n", what, figure, baseline, ratio,
	       target);
}

/* Random feature vectors with mixed scales, like the daemon's. */
static void fill_features(float *x, long n, int d, uint64_t seed)
{
	uint64_t s = seed;
	for (long i = 0; i < n; i++)
		for (int j = 0; j < d; j++) {
			double u = rng_uniform(&s);
			x[i * d + j] = (float)(j % 3 == 0 ? u * 1000
					       : j % 3 == 1 ? u * u : u - 0.5);
		}
}

/* CPU time of the calling thread: the one-core figures below, on a
 * machine others share, count only the time this thread ran. */
static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- (a) scoring throughput ---- */

/* A model of D inputs with the defaults but `bins`, its scaler fitted on
 * the first 100,000 rows of x; NULL (message printed) when it fails. */
static struct model *score_model(int D, int bins, const float *x)
{
	struct model_params p;
	model_params_default(&p, D);
	p.bins = bins;
	char err[256];
	struct model *m = model_new(&p, err, sizeof err);
	if (!m || !model_fit_scaler(m, x, 100000, err, sizeof err)) {
		fprintf(stderr, "score: %s\n", err);
		model_free(m);
		return NULL;
	}
	return m;
}

/* The naive binned first layer of one member over N rows: each chunk of
 * rows encoded (nn_bins_encode, chunk × D·T floats) and one cblas_sgemm
 * of it (chunk × D·T → OC). u holds the scaled inputs of one chunk,
 * reused (a chunk in cache: the baseline's best case). */
static void naive_layer(const float *u, float *enc, const float *w,
			float *h, long N, int chunk, int D, int T, int OC)
{
	for (long at = 0; at < N; at += chunk) {
		int c = N - at < chunk ? (int)(N - at) : chunk;
		nn_bins_encode(enc, u, c, D, T);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c, OC,
			    D * T, 1.0f, enc, D * T, w, D * T, 0.0f, h, OC);
	}
}

/* Best of three model_score runs of each of the two models, alternating
 * so both see the same machine; times from clock (now or cpu_now). */
static void score_pair(struct model *a, struct model *b, const float *x,
		       long N, float *mean, float *spread,
		       double (*clock)(void), double *ta, double *tb)
{
	*ta = *tb = INFINITY;
	for (int rep = 0; rep < 3; rep++) {
		double t0 = clock();
		model_score(a, x, (int)N, mean, spread);
		double t1 = clock();
		model_score(b, x, (int)N, mean, spread);
		double t2 = clock();
		*ta = fmin(*ta, t1 - t0);
		*tb = fmin(*tb, t2 - t1);
	}
}

static int bench_score(void)
{
	const long N = 1000000;
	const int D = 60, CHUNK = 1024;
	struct model_params p;
	model_params_default(&p, D);
	int T = p.bins, OC = p.hidden[0], E = p.ensemble;
	float *x = malloc(sizeof(float) * N * D);
	float *mean = malloc(sizeof(float) * N);
	float *spread = malloc(sizeof(float) * N);
	float *u = malloc(sizeof(float) * CHUNK * D);
	float *enc = malloc(sizeof(float) * CHUNK * D * T);
	float *w = malloc(sizeof(float) * OC * D * T);
	float *h = malloc(sizeof(float) * CHUNK * OC);
	if (!x || !mean || !spread || !u || !enc || !w || !h) {
		fprintf(stderr, "score: out of memory\n");
		return 1;
	}
	fill_features(x, N, D, 1);
	fill_features(w, OC, D * T, 2);
	uint64_t s = 3;
	for (int i = 0; i < CHUNK * D; i++)
		u[i] = (float)rng_uniform(&s);
	struct model *binned = score_model(D, T, x);
	struct model *plain = score_model(D, 1, x);
	if (!binned || !plain)
		return 1;

	/* One thread, as mpdrec runs (daemon/cmd/main.c): CPU time. */
	int threads = openblas_get_num_threads();
	openblas_set_num_threads(1);
	double tb, tp, tn = INFINITY;
	score_pair(binned, plain, x, N, mean, spread, cpu_now, &tb, &tp);
	for (int rep = 0; rep < 2; rep++) {
		double t0 = cpu_now();
		naive_layer(u, enc, w, h, N, CHUNK, D, T, OC);
		tn = fmin(tn, (cpu_now() - t0) * E);
	}
	char f[64], b[64], r[64];
	snprintf(f, sizeof f, "%.3f s", tb);
	snprintf(b, sizeof b, "bins = 1: %.3f s", tp);
	snprintf(r, sizeof r, "%.2f", tb / tp);
	row("score 1M x 60, ensemble 5, 1 core", f, b, r, "<= 2");
	snprintf(b, sizeof b, "naive layer: %.3f s", tn);
	snprintf(r, sizeof r, "%.2f", tb / tn);
	row("  the same against the naive layer", f, b, r, "< 1");
	printf("    (bins = %d; CPU time; the naive first layer alone, "
	       "without the rest of the net: encoding and sgemm %d x %d -> "
	       "%d per chunk of %d rows, one member x %d)\n", T, CHUNK,
	       D * T, OC, CHUNK, E);

	/* On all of OpenBLAS's threads, wall time (noisy on a shared
	 * machine): the dense layers run on them, the binned layer on the
	 * caller's. A pool of helper threads taking blocks of its rows was
	 * tried: OpenBLAS's own threads spin (sched_yield) between its calls
	 * and held the other core, so it gained nothing on two cores. */
	openblas_set_num_threads(threads);
	if (threads > 1) {
		score_pair(binned, plain, x, N, mean, spread, now, &tb, &tp);
		snprintf(f, sizeof f, "%.3f s", tb);
		snprintf(b, sizeof b, "bins = 1: %.3f s", tp);
		snprintf(r, sizeof r, "%.2f", tb / tp);
		char what[64];
		snprintf(what, sizeof what, "  on %d BLAS threads (wall)",
			 threads);
		row(what, f, b, r, "(mpdrec: 1)");
	}
	free(x), free(mean), free(spread), free(u), free(enc), free(w),
		free(h);
	model_free(binned);
	model_free(plain);
	return 0;
}

/* ---- (b) incremental learning ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median and 90th percentile of the CPU time of EVENTS model_learn calls
 * with the defaults but `bins`. Returns false when it cannot run. */
static bool learn_times(int bins, double *med, double *p90)
{
	const int D = 60, H = 2000, EVENTS = 200;
	struct model_params p;
	model_params_default(&p, D);
	p.bins = bins;
	char err[256];
	struct model *m = model_new(&p, err, sizeof err);
	float *lib = malloc(sizeof(float) * 20000 * D);
	float *y = malloc(sizeof(float) * H);
	double *age = malloc(sizeof(double) * H);
	double *t = malloc(sizeof(double) * EVENTS);
	if (!m || !lib || !y || !age || !t) {
		fprintf(stderr, "learn: %s\n", m ? "out of memory" : err);
		return false;
	}
	fill_features(lib, 20000, D, 3);
	model_fit_scaler(m, lib, 20000, err, sizeof err);
	uint64_t s = 9;
	for (int i = 0; i < H; i++) {
		y[i] = lib[(size_t)i * D + 1] > 0.3f ? 1.0f : 0.0f;
		age[i] = (H - i) * 0.05;
	}
	struct model_data hist = { .x = lib, .y = y, .age_days = age };
	for (int e = 0; e < EVENTS; e++) {
		int i = 1000 + e;	/* history grows with the events */
		hist.n = i;
		double t0 = cpu_now();
		model_learn(m, lib + (size_t)i * D, y[i],
			    0.5f + (float)rng_uniform(&s), &hist);
		t[e] = cpu_now() - t0;
	}
	qsort(t, EVENTS, sizeof(double), cmp_double);
	*med = t[EVENTS / 2];
	*p90 = t[EVENTS * 9 / 10];
	free(lib), free(y), free(age), free(t);
	model_free(m);
	return true;
}

static int bench_learn(void)
{
	int threads = openblas_get_num_threads();
	openblas_set_num_threads(1);
	struct model_params p;
	model_params_default(&p, 60);
	double med, p90, med1, p90_1;
	if (!learn_times(p.bins, &med, &p90) || !learn_times(1, &med1, &p90_1))
		return 1;
	char f[64], r[64];
	snprintf(f, sizeof f, "%.2f ms", med * 1e3);
	snprintf(r, sizeof r, "%.2f", med * 1e3 / 5.0);
	row("learn one event (median, 1 core)", f, "target 5 ms", r,
	    "<= 1.00");
	printf("    (CPU time; %d members x %d steps x batch %d, history "
	       "1000-1200; p90 %.2f ms; bins = 1 in the same run: median "
	       "%.2f ms, %.2fx less)\n", p.ensemble, p.steps_per_event,
	       p.batch, p90 * 1e3, med1 * 1e3, med / med1);
	openblas_set_num_threads(threads);
	return 0;
}

/* ---- (c) full training ---- */

/* CPU time of a full training on N events with the defaults but `bins`,
 * its report in *rep; a negative time when it cannot run. */
static double train_time(int bins, struct model_report *rep)
{
	const int D = 60, N = 10000;
	struct model_params p;
	model_params_default(&p, D);
	p.bins = bins;
	char err[256];
	struct model *m = model_new(&p, err, sizeof err);
	float *x = malloc(sizeof(float) * N * D);
	float *y = malloc(sizeof(float) * N);
	if (!m || !x || !y) {
		fprintf(stderr, "train: %s\n", m ? "out of memory" : err);
		return -1;
	}
	/* A learnable but noisy label over a few of the features. */
	fill_features(x, N, D, 4);
	uint64_t s = 5;
	for (int i = 0; i < N; i++) {
		const float *r = x + (size_t)i * D;
		double z = (r[0] / 1000 - 0.5) * 4 + (r[1] - 0.33) * 6 +
			   8 * r[2] * r[5];
		y[i] = rng_uniform(&s) < 1 / (1 + exp(-z)) ? 1.0f : 0.0f;
	}
	model_fit_scaler(m, x, N, err, sizeof err);
	struct model_data d = { .x = x, .y = y, .n = N };
	double t0 = cpu_now();
	if (!model_train(m, &d, rep, err, sizeof err)) {
		fprintf(stderr, "train: %s\n", err);
		return -1;
	}
	double t = cpu_now() - t0;
	free(x), free(y);
	model_free(m);
	return t;
}

static int bench_train(void)
{
	int threads = openblas_get_num_threads();
	openblas_set_num_threads(1);
	struct model_params p;
	model_params_default(&p, 60);
	struct model_report rep, rep1;
	double t = train_time(p.bins, &rep), t1 = train_time(1, &rep1);
	openblas_set_num_threads(threads);
	if (t < 0 || t1 < 0)
		return 1;
	char f[64], r[64];
	snprintf(f, sizeof f, "%.2f s", t);
	snprintf(r, sizeof r, "%.2f", t / 2.0);
	row("full training, 10k events, 1 core", f, "target 2 s", r,
	    "<= 1.00");
	printf("    (CPU time; %d epochs per member; held-out accuracy "
	       "%.3f, AUC %.3f; training accuracy %.3f; bins = 1 in the "
	       "same run: %.2f s, %.2fx less, held-out accuracy %.3f)\n",
	       rep.epochs, rep.val_accuracy, rep.val_auc,
	       rep.train_accuracy, t1, t / t1, rep1.val_accuracy);
	return 0;
}

/* ---- (d) random forest baseline ---- */

/* A plain random forest as scikit-learn's defaults build it: bootstrap
 * samples, √d features tried per split (more when none of them splits),
 * Gini impurity, trees grown until leaves are pure; the prediction is the
 * mean of the leaves' class-1 shares. */
struct rf_node {
	int feature;		/* -1 for a leaf */
	float threshold;	/* go left when x ≤ threshold */
	int left, right;
	float value;		/* leaf: share of class 1 */
};

struct rf {
	struct rf_node *nodes;
	int n_nodes, cap;
	int *roots;
	int n_trees;
};

struct rf_pair {
	float v;
	int y;
};

static int cmp_pair(const void *a, const void *b)
{
	float x = ((const struct rf_pair *)a)->v;
	float y = ((const struct rf_pair *)b)->v;
	return (x > y) - (x < y);
}

static int rf_add(struct rf *f, struct rf_node nd)
{
	if (f->n_nodes == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 4096;
		f->nodes = realloc(f->nodes, sizeof(*f->nodes) * f->cap);
		if (!f->nodes)
			abort();
	}
	f->nodes[f->n_nodes] = nd;
	return f->n_nodes++;
}

static int rf_grow(struct rf *f, const float *x, const float *y, int d,
		   int *idx, int n, int mtry, uint64_t *s,
		   struct rf_pair *pairs, int *feat)
{
	int pos = 0;
	for (int i = 0; i < n; i++)
		pos += y[idx[i]] >= 0.5f;
	if (pos == 0 || pos == n || n < 2)
		return rf_add(f, (struct rf_node){ -1, 0, 0, 0,
						   (float)pos / n });
	for (int j = 0; j < d; j++)
		feat[j] = j;
	int best_f = -1, tried = 0;
	float best_t = 0;
	double best_score = INFINITY;
	for (int k = 0; k < d && tried < mtry; k++) {
		int r = k + (int)(rng_next(s) % (uint64_t)(d - k));
		int j = feat[r];
		feat[r] = feat[k];
		feat[k] = j;
		for (int i = 0; i < n; i++) {
			pairs[i].v = x[(size_t)idx[i] * d + j];
			pairs[i].y = y[idx[i]] >= 0.5f;
		}
		qsort(pairs, n, sizeof(*pairs), cmp_pair);
		if (pairs[0].v == pairs[n - 1].v)
			continue;	/* constant here: try another */
		tried++;
		int lp = 0;
		for (int i = 1; i < n; i++) {
			lp += pairs[i - 1].y;
			if (pairs[i].v == pairs[i - 1].v)
				continue;
			/* weighted Gini of both sides, n · impurity */
			double nl = i, nr = n - i, rp = pos - lp;
			double g = nl - (lp * (double)lp + (nl - lp) *
					 (nl - lp)) / nl +
				   nr - (rp * rp + (nr - rp) * (nr - rp)) / nr;
			if (g < best_score) {
				best_score = g;
				best_f = j;
				best_t = pairs[i - 1].v +
					 (pairs[i].v - pairs[i - 1].v) / 2;
				if (best_t >= pairs[i].v)
					best_t = pairs[i - 1].v;
			}
		}
	}
	if (best_f < 0)
		return rf_add(f, (struct rf_node){ -1, 0, 0, 0,
						   (float)pos / n });
	int nl = 0;
	for (int i = 0; i < n; i++)	/* partition idx in place */
		if (x[(size_t)idx[i] * d + best_f] <= best_t) {
			int t = idx[i];
			idx[i] = idx[nl];
			idx[nl++] = t;
		}
	int me = rf_add(f, (struct rf_node){ best_f, best_t, 0, 0, 0 });
	int l = rf_grow(f, x, y, d, idx, nl, mtry, s, pairs, feat);
	int r = rf_grow(f, x, y, d, idx + nl, n - nl, mtry, s, pairs, feat);
	f->nodes[me].left = l;
	f->nodes[me].right = r;
	return me;
}

static void rf_fit(struct rf *f, const float *x, const float *y, int n,
		   int d, int trees, uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	f->roots = malloc(sizeof(int) * trees);
	int *idx = malloc(sizeof(int) * n);
	int *feat = malloc(sizeof(int) * d);
	struct rf_pair *pairs = malloc(sizeof(*pairs) * n);
	if (!f->roots || !idx || !feat || !pairs)
		abort();
	int mtry = (int)sqrt((double)d);
	uint64_t s = seed;
	for (int t = 0; t < trees; t++) {
		for (int i = 0; i < n; i++)
			idx[i] = (int)(rng_next(&s) % (uint64_t)n);
		f->roots[t] = rf_grow(f, x, y, d, idx, n, mtry, &s, pairs,
				      feat);
	}
	f->n_trees = trees;
	free(idx), free(feat), free(pairs);
}

static float rf_predict(const struct rf *f, const float *row)
{
	double s = 0;
	for (int t = 0; t < f->n_trees; t++) {
		const struct rf_node *nd = &f->nodes[f->roots[t]];
		while (nd->feature >= 0)
			nd = &f->nodes[row[nd->feature] <= nd->threshold
					       ? nd->left : nd->right];
		s += nd->value;
	}
	return (float)(s / f->n_trees);
}

static void rf_free(struct rf *f)
{
	free(f->nodes);
	free(f->roots);
}

/* 5-fold accuracy of the forest on the folds eval_cross_validate uses. */
static double rf_cv(const float *x, const float *y, int n, int d, int k,
		    uint64_t seed, int trees, double *sd)
{
	int *fold = malloc(sizeof(int) * n);
	float *xt = malloc(sizeof(float) * n * d);
	float *yt = malloc(sizeof(float) * n);
	double *acc = malloc(sizeof(double) * k);
	char err[128];
	if (!fold || !xt || !yt || !acc || !eval_folds(y, n, k, seed, fold,
						      err, sizeof err))
		abort();
	for (int f = 0; f < k; f++) {
		int nt = 0;
		for (int i = 0; i < n; i++)
			if (fold[i] != f) {
				memcpy(xt + (size_t)nt * d, x + (size_t)i * d,
				       sizeof(float) * d);
				yt[nt++] = y[i];
			}
		struct rf forest;
		rf_fit(&forest, xt, yt, nt, d, trees, seed * 131 + f);
		int ok = 0, nv = 0;
		for (int i = 0; i < n; i++)
			if (fold[i] == f) {
				float p = rf_predict(&forest, x + (size_t)i * d);
				ok += (p > 0.5f) == (y[i] >= 0.5f);
				nv++;
			}
		acc[f] = (double)ok / nv;
		rf_free(&forest);
	}
	struct eval_stat st = eval_stat_of(acc, k);
	*sd = st.sd;
	free(fold), free(xt), free(yt), free(acc);
	return st.mean;
}

static int bench_cv(void)
{
	const int N = 2000, D = SYNTH_FEATURES, K = 5, TABLES = 3;
	float *x = malloc(sizeof(float) * N * D);
	float *y = malloc(sizeof(float) * N);
	double *p = malloc(sizeof(double) * N);
	if (!x || !y || !p)
		return 1;
	struct model_params mp;
	model_params_default(&mp, D);
	double net_sum = 0, rf_sum = 0, t_net = 0, t_rf = 0;
	printf("    table  Bayes   net 5-fold        forest 5-fold\n");
	for (int t = 0; t < TABLES; t++) {
		uint64_t seed = 1000 + (uint64_t)t;
		synth_spotify(N, seed, x, y, p);
		struct eval_summary sum;
		char err[256];
		double t0 = now();
		if (!eval_cross_validate(&mp, x, y, N, K, 1, seed, NULL, NULL,
					 &sum, err, sizeof err)) {
			fprintf(stderr, "cv: %s\n", err);
			return 1;
		}
		double t1 = now();
		double rf_sd;
		double rf = rf_cv(x, y, N, D, K, seed, 500, &rf_sd);
		double t2 = now();
		t_net += t1 - t0;
		t_rf += t2 - t1;
		printf("    %5d  %.3f   %.3f ± %.3f     %.3f ± %.3f\n", t + 1,
		       synth_bayes_accuracy(p, N), sum.val_accuracy.mean,
		       sum.val_accuracy.sd, rf, rf_sd);
		net_sum += sum.val_accuracy.mean;
		rf_sum += rf;
	}
	double net = net_sum / TABLES, rf = rf_sum / TABLES;
	char f[64], b[64], r[64];
	snprintf(f, sizeof f, "net %.1f%%", 100 * net);
	snprintf(b, sizeof b, "forest(500) %.1f%%", 100 * rf);
	snprintf(r, sizeof r, "%.3f", net / rf);
	row("5-fold accuracy, synthetic table", f, b, r,
	    ">= 78% and ratio >= 1");
	printf("    (%d tables of %d rows; net %.1f s, forest %.1f s)\n",
	       TABLES, N, t_net, t_rf);
	free(x), free(y), free(p);
	return 0;
}

/* ---- (e) real tables ---- */

/* The 13 attributes in one order, whatever a table's column order. */
static const char *const attrs[] = {
	"acousticness", "danceability", "duration_ms", "energy",
	"instrumentalness", "key", "liveness", "loudness", "mode",
	"speechiness", "tempo", "time_signature", "valence",
};
#define N_ATTRS 13

struct table {
	char name[64];
	int n;
	float *x;		/* (n, N_ATTRS) in attrs' order */
	float *y;
};

/* Reads a real table, its columns put in attrs' order; false (a note
 * printed) when it is missing or lacks an attribute. */
static bool read_table(const char *path, const char *label,
		       const char *name, struct table *t)
{
	char err[512];
	struct csv *c = csv_read(path, err, sizeof err);
	struct csv_features f = { 0 };
	bool ok = c && csv_features(c, label, NULL, &f, err, sizeof err);
	csv_free(c);
	memset(t, 0, sizeof(*t));
	if (ok) {
		snprintf(t->name, sizeof t->name, "%s", name);
		t->n = f.n;
		t->x = malloc(sizeof(float) * f.n * N_ATTRS);
		t->y = malloc(sizeof(float) * f.n);
		memcpy(t->y, f.y, sizeof(float) * f.n);
		for (int a = 0; a < N_ATTRS && ok; a++) {
			int j = 0;
			while (j < f.d && strcmp(f.names[j], attrs[a]))
				j++;
			ok = j < f.d;
			for (int i = 0; ok && i < f.n; i++)
				t->x[i * N_ATTRS + a] = f.x[i * f.d + j];
		}
		if (!ok)
			snprintf(err, sizeof err, "%s: no column %s", path,
				 "for one of the 13 attributes");
	}
	csv_features_free(&f);
	if (!ok)
		printf("    (%s left out: %s)\n", name, err);
	return ok;
}

static void free_table(struct table *t)
{
	free(t->x), free(t->y);
}

/* The real tables: the one in bench/data, and the paper's when
 * MPDREC_REAL_TABLES names its folder. Returns how many were read. */
static int real_tables(struct table *t)
{
	int k = 0;
	if (read_table("bench/data/spotify-recommendation.csv", "liked",
		       "195 tracks (MIT)", &t[k]))
		k++;
	const char *dir = getenv("MPDREC_REAL_TABLES");
	char path[4096];
	if (dir) {
		snprintf(path, sizeof path, "%s/spotify-song-attributes.csv",
			 dir);
		if (read_table(path, "target", "paper's, 2017 tracks", &t[k]))
			k++;
	} else {
		printf("    (the paper's table: set MPDREC_REAL_TABLES to the "
		       "folder of spotify-song-attributes.csv)\n");
	}
	return k;
}

/* Net (5-fold, with the logistic baseline on the same folds) and forest
 * on the same folds, repeats times with fresh shuffles. */
static void compare(const struct table *t, int repeats, double *net,
		    double *forest, double *lr, double *t_net, double *t_rf)
{
	struct model_params mp;
	model_params_default(&mp, N_ATTRS);
	*net = *forest = *lr = 0;
	for (int r = 0; r < repeats; r++) {
		struct eval_summary sum;
		char err[256];
		double t0 = now();
		if (!eval_cross_validate(&mp, t->x, t->y, t->n, 5, 1,
					 1 + (uint64_t)r, NULL, NULL, &sum,
					 err, sizeof err)) {
			fprintf(stderr, "real: %s\n", err);
			return;
		}
		double t1 = now(), sd;
		*forest += rf_cv(t->x, t->y, t->n, N_ATTRS, 5, 1 + (uint64_t)r,
				 500, &sd) / repeats;
		*t_rf += now() - t1;
		*t_net += t1 - t0;
		*net += sum.val_accuracy.mean / repeats;
		*lr += sum.logistic.val_accuracy.mean / repeats;
	}
}

static void compare_row(const char *name, const struct table *t,
			int repeats, double *sum_ratio, int *count)
{
	double net, rf, lr, tn = 0, tr = 0;
	compare(t, repeats, &net, &rf, &lr, &tn, &tr);
	printf("    %-24s %5d  %6.1f%%  %6.1f%%   %6.1f%%    %5.3f     "
	       "%5.3f\n", name, t->n, 100 * net, 100 * rf, 100 * lr,
	       net / rf, net / lr);
	*sum_ratio += net / rf;
	(*count)++;
}

/* ---- tables drawn from a copula fitted to the real ones ---- */

/* Inverse of the standard normal CDF (Acklam's rational approximation,
 * relative error below 1.2e-9). */
static double inv_phi(double p)
{
	static const double a[] = { -3.969683028665376e+01,
		2.209460984245205e+02, -2.759285104469687e+02,
		1.383577518672690e+02, -3.066479806614716e+01,
		2.506628277459239e+00 };
	static const double b[] = { -5.447609879822406e+01,
		1.615858368580409e+02, -1.556989798598866e+02,
		6.680131188771972e+01, -1.328068155288572e+01 };
	static const double c[] = { -7.784894002430293e-03,
		-3.223964580411365e-01, -2.400758277161838e+00,
		-2.549671010000000e+00, 4.374664141464968e+00,
		2.938163982698783e+00 };
	static const double d[] = { 7.784695709041462e-03,
		3.224671290700398e-01, 2.445134137142996e+00,
		3.754408661907416e+00 };
	double q, r;
	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q +
			 c[4]) * q + c[5]) /
		       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	if (p > 1 - 0.02425)
		return -inv_phi(1 - p);
	q = p - 0.5;
	r = q * q;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) *
		r + a[5]) * q /
	       (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r +
		1);
}

static double rng_normal(uint64_t *s)
{
	double u1 = rng_uniform(s), u2 = rng_uniform(s);
	return sqrt(-2 * log(u1 + 1e-300)) * cos(2 * M_PI * u2);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* What the generator keeps of the real rows: each attribute's sorted
 * values (its empirical quantile function) and the Cholesky factor of the
 * correlation of the normal scores. */
struct copula {
	int n;
	float *sorted;		/* (N_ATTRS, n) */
	double chol[N_ATTRS * N_ATTRS];
};

static void copula_fit(struct copula *cp, const struct table *t, int nt)
{
	int n = 0;
	for (int k = 0; k < nt; k++)
		n += t[k].n;
	cp->n = n;
	cp->sorted = malloc(sizeof(float) * N_ATTRS * n);
	double *z = malloc(sizeof(double) * N_ATTRS * n);
	float *col = malloc(sizeof(float) * n);
	for (int a = 0; a < N_ATTRS; a++) {
		int i = 0;
		for (int k = 0; k < nt; k++)
			for (int r = 0; r < t[k].n; r++)
				col[i++] = t[k].x[r * N_ATTRS + a];
		memcpy(cp->sorted + (size_t)a * n, col, sizeof(float) * n);
		qsort(cp->sorted + (size_t)a * n, n, sizeof(float), cmp_float);
		for (int r = 0; r < n; r++) {	/* mid-rank normal scores */
			int lo = 0, hi = 0;
			for (int q = 0; q < n; q++)
				lo += col[q] < col[r], hi += col[q] <= col[r];
			z[(size_t)r * N_ATTRS + a] =
				inv_phi((lo + hi) / 2.0 / n + 0.5 / n);
		}
	}
	for (int a = 0; a < N_ATTRS; a++) {	/* centre the scores */
		double m = 0;
		for (int r = 0; r < n; r++)
			m += z[(size_t)r * N_ATTRS + a] / n;
		for (int r = 0; r < n; r++)
			z[(size_t)r * N_ATTRS + a] -= m;
	}
	double cov[N_ATTRS * N_ATTRS];
	for (int a = 0; a < N_ATTRS; a++)
		for (int b = 0; b < N_ATTRS; b++) {
			double sab = 0, saa = 0, sbb = 0;
			for (int r = 0; r < n; r++) {
				double za = z[(size_t)r * N_ATTRS + a];
				double zb = z[(size_t)r * N_ATTRS + b];
				sab += za * zb, saa += za * za, sbb += zb * zb;
			}
			cov[a * N_ATTRS + b] = a == b ? 1.0 :
				saa > 0 && sbb > 0 ? 0.98 * sab / sqrt(saa * sbb)
						   : 0.0;
		}
	memset(cp->chol, 0, sizeof cp->chol);
	for (int j = 0; j < N_ATTRS; j++) {	/* Cholesky */
		double s = cov[j * N_ATTRS + j];
		for (int k = 0; k < j; k++)
			s -= cp->chol[j * N_ATTRS + k] * cp->chol[j * N_ATTRS + k];
		cp->chol[j * N_ATTRS + j] = sqrt(s > 1e-9 ? s : 1e-9);
		for (int i = j + 1; i < N_ATTRS; i++) {
			double v = cov[i * N_ATTRS + j];
			for (int k = 0; k < j; k++)
				v -= cp->chol[i * N_ATTRS + k] *
				     cp->chol[j * N_ATTRS + k];
			cp->chol[i * N_ATTRS + j] = v / cp->chol[j * N_ATTRS + j];
		}
	}
	free(z), free(col);
}

/* One row: correlated normal scores g (N_ATTRS), then each attribute
 * through its real quantile function. */
static void copula_row(const struct copula *cp, uint64_t *s, double *g,
		       float *x)
{
	double e[N_ATTRS];
	for (int a = 0; a < N_ATTRS; a++)
		e[a] = rng_normal(s);
	for (int a = 0; a < N_ATTRS; a++) {
		g[a] = 0;
		for (int k = 0; k <= a; k++)
			g[a] += cp->chol[a * N_ATTRS + k] * e[k];
		double u = 0.5 * erfc(-g[a] / sqrt(2));
		u = u > 0 ? (u < 1 ? u : 1) : 0;	/* NaN too */
		double pos = u * (cp->n - 1);
		int i = (int)pos;
		i = i >= cp->n - 1 ? cp->n - 2 : i;
		const float *v = cp->sorted + (size_t)a * cp->n;
		x[a] = (float)(v[i] + (pos - i) * (v[i + 1] - v[i]));
	}
}

/* n rows with a hidden taste: the listener likes tracks near one of three
 * "kinds" (random points in the normal scores of five random attributes);
 * labels drawn with noise around that, half liked. */
static void copula_table(const struct copula *cp, int n, uint64_t seed,
			 struct table *t)
{
	uint64_t s = seed;
	int sub[5];
	double proto[3][5], g[N_ATTRS];
	for (int k = 0; k < 5; k++) {	/* five distinct attributes */
		int a;
		bool dup;
		do {
			a = (int)(rng_uniform(&s) * N_ATTRS);
			dup = false;
			for (int q = 0; q < k; q++)
				dup |= sub[q] == a;
		} while (dup);
		sub[k] = a;
	}
	for (int k = 0; k < 3; k++)
		for (int q = 0; q < 5; q++)
			proto[k][q] = rng_normal(&s);
	t->n = n;
	t->x = malloc(sizeof(float) * n * N_ATTRS);
	t->y = malloc(sizeof(float) * n);
	double *aff = malloc(sizeof(double) * n), *tmp = malloc(sizeof(double) * n);
	for (int i = 0; i < n; i++) {
		copula_row(cp, &s, g, t->x + (size_t)i * N_ATTRS);
		double best = 0;
		for (int k = 0; k < 3; k++) {
			double d2 = 0;
			for (int q = 0; q < 5; q++)
				d2 += (g[sub[q]] - proto[k][q]) *
				      (g[sub[q]] - proto[k][q]);
			double a = exp(-d2 / 2);
			best = a > best ? a : best;
		}
		aff[i] = tmp[i] = best;
	}
	/* the median affinity: half the tracks are liked */
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && tmp[k] < tmp[k - 1]; k--) {
			double v = tmp[k];
			tmp[k] = tmp[k - 1], tmp[k - 1] = v;
		}
	double mid = tmp[n / 2];
	for (int i = 0; i < n; i++)
		t->y[i] = rng_uniform(&s) <
				  1 / (1 + exp(-25 * (aff[i] - mid)))
			  ? 1.0f : 0.0f;
	free(aff), free(tmp);
}

static int bench_real(void)
{
	struct table t[2];
	int nt = real_tables(t);
	if (nt == 0)
		return 1;
	printf("    table                     rows     net   forest  logistic"
	       "  net/forest  net/logistic\n");
	double ratio = 0;
	int count = 0;
	double t0 = now();
	for (int k = 0; k < nt; k++)
		compare_row(t[k].name, &t[k], t[k].n < 500 ? 4 : 2, &ratio,
			    &count);
	struct copula cp;
	copula_fit(&cp, t, nt);
	for (int k = 0; k < 3; k++) {
		struct table g;
		char name[64];
		copula_table(&cp, 2000, 77 + (uint64_t)k, &g);
		snprintf(name, sizeof name, "copula-fitted #%d", k + 1);
		compare_row(name, &g, 1, &ratio, &count);
		free_table(&g);
	}
	free(cp.sorted);
	char f[64], r[64];
	snprintf(f, sizeof f, "%d tables", count);
	snprintf(r, sizeof r, "%.3f", ratio / count);
	row("5-fold accuracy, real & fitted", f, "forest(500), same folds",
	    r, ">= 1 (net / forest)");
	printf("    (real tables: mean of 4 (small) or 2 shuffles; %.0f s)\n",
	       now() - t0);
	for (int k = 0; k < nt; k++)
		free_table(&t[k]);
	return 0;
}

/* ---- (f) learning from few labels ---- */

/* Accuracy on the rows not drawn, after learning from n drawn rows (at
 * least one of each class) by full training, by incremental learning, and
 * of the logistic baseline on the same rows; mean of `draws` draws. */
static void few_labels(const struct table *t, int n, int draws, double *acc)
{
	int N = t->n;
	float *x = malloc(sizeof(float) * N * N_ATTRS), *y = malloc(4 * N);
	float *p = malloc(sizeof(float) * N);
	int *idx = malloc(sizeof(int) * N);
	acc[0] = acc[1] = acc[2] = 0;
	for (int d = 0; d < draws; d++) {
		uint64_t s = 1000 + (uint64_t)d;
		for (int i = 0; i < N; i++)
			idx[i] = i;
		int likes;
		do {	/* shuffle until the first n hold both classes */
			for (int i = N - 1; i > 0; i--) {
				int j = (int)(rng_next(&s) % (uint64_t)(i + 1));
				int v = idx[i];
				idx[i] = idx[j], idx[j] = v;
			}
			likes = 0;
			for (int i = 0; i < n; i++)
				likes += t->y[idx[i]] == 1.0f;
		} while (likes == 0 || likes == n);
		for (int i = 0; i < N; i++) {
			memcpy(x + (size_t)i * N_ATTRS,
			       t->x + (size_t)idx[i] * N_ATTRS,
			       sizeof(float) * N_ATTRS);
			y[i] = t->y[idx[i]];
		}
		struct model_params mp;
		model_params_default(&mp, N_ATTRS);
		mp.seed = 1 + (unsigned)d;
		char err[256];
		for (int way = 0; way < 2; way++) {
			struct model *m = model_new(&mp, err, sizeof err);
			model_fit_scaler(m, x, N, err, sizeof err);	/* library */
			if (way == 0) {
				struct model_data md = { .x = x, .y = y, .n = n };
				model_train(m, &md, NULL, err, sizeof err);
			} else {
				for (int i = 0; i < n; i++) {
					struct model_data h = { .x = x, .y = y,
								.n = i };
					model_learn(m, x + (size_t)i * N_ATTRS,
						    y[i], 1.0f, &h);
				}
			}
			model_score(m, x + (size_t)n * N_ATTRS, N - n, p, NULL);
			acc[way] += metrics_accuracy(p, y + n, N - n) / draws;
			model_free(m);
		}
		struct eval_logistic *lr = eval_logistic_fit(
			x, y, n, N_ATTRS, EVAL_LOGISTIC_L2, err, sizeof err);
		eval_logistic_predict(lr, x + (size_t)n * N_ATTRS, N - n, p);
		acc[2] += metrics_accuracy(p, y + n, N - n) / draws;
		eval_logistic_free(lr);
	}
	free(x), free(y), free(p), free(idx);
}

static int bench_few(void)
{
	struct table t[2];
	int nt = real_tables(t);
	static const int sizes[] = { 10, 20, 50, 100, 200 };
	for (int k = 0; k < nt; k++) {
		printf("    %s: accuracy on the other rows, mean of 10 draws\n",
		       t[k].name);
		printf("      labels   trained  incremental  logistic  "
		       "trained/logistic\n");
		for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
			if (sizes[i] * 3 / 2 > t[k].n)
				continue;
			double acc[3];
			few_labels(&t[k], sizes[i], 10, acc);
			printf("      %6d   %6.1f%%     %6.1f%%   %6.1f%%     "
			       "%5.3f\n", sizes[i], 100 * acc[0],
			       100 * acc[1], 100 * acc[2], acc[0] / acc[2]);
		}
		free_table(&t[k]);
	}
	return nt ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct {
		const char *name;
		int (*fn)(void);
	} parts[] = { { "score", bench_score }, { "learn", bench_learn },
		      { "train", bench_train }, { "cv", bench_cv },
		      { "real", bench_real }, { "few", bench_few } };
	/* The kernel the daemon runs (daemon/blas.h). */
	blas_tune("train");
	printf("OpenBLAS kernel: %s\n", blas_describe());
	row("benchmark", "figure", "baseline (same run)", "ratio", "target");
	int rc = 0;
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
		bool run = argc < 2;
		for (int a = 1; a < argc; a++)
			run |= strcmp(argv[a], parts[i].name) == 0;
		if (run && parts[i].fn() != 0)
			rc = 1;
		fflush(stdout);
	}
	return rc;
}
