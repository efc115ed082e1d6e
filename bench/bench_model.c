/* Benchmarks of core/model, each printed as figure, baseline measured in
 * the same run, ratio and target:
 *
 *  score  scoring 1,000,000 × 60 through the default ensemble, GFLOP/s as a
 *         share of plain cblas_sgemm on the same layer shapes (whole batch)
 *  learn  median time of one incremental update with the defaults, one
 *         core, against the 5 ms target
 *  train  full training on 10,000 events against the 2 s target
 *  cv     dense net vs a 500-tree random forest (written here, a baseline
 *         only), 5-fold accuracy on synthetic Spotify-like tables
 *
 * `bench_model [score|learn|train|cv]...` runs a subset; no argument runs
 * all. Exit status 0 unless something could not run.
 */
#include "core/eval.h"
#include "core/model.h"
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

/* ---- (a) scoring throughput ---- */

static int bench_score(void)
{
	const long N = 1000000;
	const int D = 60;
	struct model_params p;
	model_params_default(&p, D);
	char err[256];
	struct model *m = model_new(&p, err, sizeof err);
	float *x = malloc(sizeof(float) * N * D);
	float *mean = malloc(sizeof(float) * N);
	float *spread = malloc(sizeof(float) * N);
	if (!m || !x || !mean || !spread) {
		fprintf(stderr, "score: %s\n", m ? "out of memory" : err);
		return 1;
	}
	fill_features(x, N, D, 1);
	model_fit_scaler(m, x, 100000, err, sizeof err);

	/* Flops of the ensemble's matrix products (2 per multiply-add). */
	double flops = 0;
	int c = D;
	for (int l = 0; l <= p.n_hidden; l++) {
		int oc = l < p.n_hidden ? p.hidden[l] : 1;
		flops += 2.0 * c * oc;
		c = oc;
	}
	flops *= (double)N * p.ensemble;

	/* Baseline: the same layer products, one cblas_sgemm per layer on
	 * the whole batch, weights random, nothing else. Runs alternate with
	 * the model's and each side keeps its best of five, so both see the
	 * same machine (it is shared). */
	float *h1 = malloc(sizeof(float) * N * p.hidden[0]);
	float *h2 = malloc(sizeof(float) * N * p.hidden[1]);
	float *out = malloc(sizeof(float) * N);
	float *w = malloc(sizeof(float) * 64 * 64);
	if (!h1 || !h2 || !out || !w) {
		fprintf(stderr, "score: out of memory\n");
		return 1;
	}
	fill_features(w, 64, 64, 2);
	double best = INFINITY, best_blas = INFINITY;
	for (int rep = 0; rep < 5; rep++) {
		double t0 = now();
		model_score(m, x, (int)N, mean, spread);
		double t = now() - t0;
		if (t < best)
			best = t;
		t0 = now();
		for (int e = 0; e < p.ensemble; e++) {
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
				    (int)N, p.hidden[0], D, 1.0f, x, D, w, D,
				    0.0f, h1, p.hidden[0]);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
				    (int)N, p.hidden[1], p.hidden[0], 1.0f, h1,
				    p.hidden[0], w, p.hidden[0], 0.0f, h2,
				    p.hidden[1]);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
				    (int)N, 1, p.hidden[1], 1.0f, h2,
				    p.hidden[1], w, p.hidden[1], 0.0f, out, 1);
		}
		t = now() - t0;
		if (t < best_blas)
			best_blas = t;
	}
	double gf_model = flops / best * 1e-9;
	double gf_blas = flops / best_blas * 1e-9;
	char f[64], b[64], r[64];
	snprintf(f, sizeof f, "%.1f GFLOP/s", gf_model);
	snprintf(b, sizeof b, "sgemm %.1f GFLOP/s", gf_blas);
	snprintf(r, sizeof r, "%.0f%%", 100 * gf_model / gf_blas);
	row("score 1M x 60, ensemble 5", f, b, r, ">= 50%");
	printf("    (%.3f s for 1,000,000 tracks; sgemm alone %.3f s; "
	       "%d BLAS threads)\n", best, best_blas,
	       openblas_get_num_threads());
	free(h1), free(h2), free(out), free(w);
	free(x), free(mean), free(spread);
	model_free(m);
	return 0;
}

/* ---- (b) incremental learning ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int bench_learn(void)
{
	const int D = 60, H = 2000, EVENTS = 200;
	int threads = openblas_get_num_threads();
	openblas_set_num_threads(1);
	struct model_params p;
	model_params_default(&p, D);
	char err[256];
	struct model *m = model_new(&p, err, sizeof err);
	float *lib = malloc(sizeof(float) * 20000 * D);
	float *y = malloc(sizeof(float) * H);
	double *age = malloc(sizeof(double) * H);
	double *t = malloc(sizeof(double) * EVENTS);
	if (!m || !lib || !y || !age || !t) {
		fprintf(stderr, "learn: %s\n", m ? "out of memory" : err);
		return 1;
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
		double t0 = now();
		model_learn(m, lib + (size_t)i * D, y[i],
			    0.5f + (float)rng_uniform(&s), &hist);
		t[e] = now() - t0;
	}
	qsort(t, EVENTS, sizeof(double), cmp_double);
	double med = t[EVENTS / 2];
	char f[64], r[64];
	snprintf(f, sizeof f, "%.2f ms", med * 1e3);
	snprintf(r, sizeof r, "%.2f", med * 1e3 / 5.0);
	row("learn one event (median, 1 core)", f, "target 5 ms", r,
	    "<= 1.00");
	printf("    (%d members x %d steps x batch %d, history 1000-1200; "
	       "p90 %.2f ms)\n", p.ensemble, p.steps_per_event, p.batch,
	       t[EVENTS * 9 / 10] * 1e3);
	openblas_set_num_threads(threads);
	free(lib), free(y), free(age), free(t);
	model_free(m);
	return 0;
}

/* ---- (c) full training ---- */

static int bench_train(void)
{
	const int D = 60, N = 10000;
	int threads = openblas_get_num_threads();
	openblas_set_num_threads(1);
	struct model_params p;
	model_params_default(&p, D);
	char err[256];
	struct model *m = model_new(&p, err, sizeof err);
	float *x = malloc(sizeof(float) * N * D);
	float *y = malloc(sizeof(float) * N);
	if (!m || !x || !y) {
		fprintf(stderr, "train: %s\n", m ? "out of memory" : err);
		return 1;
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
	struct model_report rep;
	double t0 = now();
	if (!model_train(m, &d, &rep, err, sizeof err)) {
		fprintf(stderr, "train: %s\n", err);
		return 1;
	}
	double t = now() - t0;
	char f[64], r[64];
	snprintf(f, sizeof f, "%.2f s", t);
	snprintf(r, sizeof r, "%.2f", t / 2.0);
	row("full training, 10k events, 1 core", f, "target 2 s", r,
	    "<= 1.00");
	openblas_set_num_threads(threads);
	printf("    (%d epochs per member; held-out accuracy %.3f, AUC "
	       "%.3f; training accuracy %.3f)\n", rep.epochs,
	       rep.val_accuracy, rep.val_auc, rep.train_accuracy);
	free(x), free(y);
	model_free(m);
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

int main(int argc, char **argv)
{
	struct {
		const char *name;
		int (*fn)(void);
	} parts[] = { { "score", bench_score }, { "learn", bench_learn },
		      { "train", bench_train }, { "cv", bench_cv } };
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
