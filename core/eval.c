/* Cross-validation: see eval.h. */
#include "core/eval.h"

#include "core/metrics.h"
#include "core/model.h"
#include "core/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool eval_folds(const float *y, int n, int k, uint64_t seed, int *fold,
		char *err, size_t err_size)
{
	if (k < 2) {
		snprintf(err, err_size, "%d folds: need at least 2", k);
		return false;
	}
	int *idx = malloc(sizeof(int) * (n > 0 ? n : 1));
	if (!idx) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	uint64_t rng = seed;
	int next = 0;		/* fold the next example goes to */
	for (int c = 1; c >= 0; c--) {
		int m = 0;
		for (int i = 0; i < n; i++)
			if ((y[i] >= 0.5f) == (c == 1))
				idx[m++] = i;
		if (m < k) {
			snprintf(err, err_size,
				 "only %d examples labelled %d: too few for "
				 "%d folds", m, c, k);
			free(idx);
			return false;
		}
		for (int i = m - 1; i > 0; i--) {
			int j = (int)(util_rand_u64(&rng) % (uint64_t)(i + 1));
			int t = idx[i];
			idx[i] = idx[j];
			idx[j] = t;
		}
		/* Dealt round-robin, the second class continuing where the
		 * first stopped, so fold sizes differ by at most one. */
		for (int i = 0; i < m; i++) {
			fold[idx[i]] = next;
			next = (next + 1) % k;
		}
	}
	free(idx);
	return true;
}

struct eval_stat eval_stat_of(const double *v, int n)
{
	struct eval_stat s = { NAN, 0 };
	if (n < 1)
		return s;
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	s.mean = sum / n;
	if (n > 1) {
		double ss = 0;
		for (int i = 0; i < n; i++)
			ss += (v[i] - s.mean) * (v[i] - s.mean);
		s.sd = sqrt(ss / (n - 1));
	}
	return s;
}

/* ---- the logistic baseline ---- */

struct eval_logistic {
	int d;
	double *mu, *sd;	/* (d) standardisation */
	double *w;		/* (d + 1), the intercept last */
};

void eval_logistic_free(struct eval_logistic *lr)
{
	if (!lr)
		return;
	free(lr->mu), free(lr->sd), free(lr->w);
	free(lr);
}

static double sigmoid(double z)
{
	return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

/* Solves a (m, m) · v = b in place by Cholesky (a symmetric positive
 * definite: the penalised Hessian); b becomes v. False when it is not. */
static bool cholesky_solve(double *a, double *b, int m)
{
	for (int j = 0; j < m; j++) {
		double s = a[j * m + j];
		for (int k = 0; k < j; k++)
			s -= a[j * m + k] * a[j * m + k];
		if (!(s > 0))
			return false;
		a[j * m + j] = sqrt(s);
		for (int i = j + 1; i < m; i++) {
			double t = a[i * m + j];
			for (int k = 0; k < j; k++)
				t -= a[i * m + k] * a[j * m + k];
			a[i * m + j] = t / a[j * m + j];
		}
	}
	for (int i = 0; i < m; i++) {		/* L y = b */
		for (int k = 0; k < i; k++)
			b[i] -= a[i * m + k] * b[k];
		b[i] /= a[i * m + i];
	}
	for (int i = m - 1; i >= 0; i--) {	/* Lᵀ v = y */
		for (int k = i + 1; k < m; k++)
			b[i] -= a[k * m + i] * b[k];
		b[i] /= a[i * m + i];
	}
	return true;
}

static void standardise(struct eval_logistic *lr, const float *x, int n)
{
	int d = lr->d;
	for (int j = 0; j < d; j++) {
		double s = 0, ss = 0;
		for (int i = 0; i < n; i++)
			s += x[(size_t)i * d + j];
		lr->mu[j] = s / n;
		for (int i = 0; i < n; i++) {
			double e = x[(size_t)i * d + j] - lr->mu[j];
			ss += e * e;
		}
		lr->sd[j] = ss > 0 ? sqrt(ss / n) : 1;
	}
}

/* One Newton step on the penalised log-likelihood; returns the largest
 * change of a weight, or -1 when the Hessian cannot be solved. */
static double newton_step(struct eval_logistic *lr, const float *x,
			  const float *y, int n, double l2, double *h,
			  double *g, double *row)
{
	int d = lr->d, m = d + 1;
	memset(h, 0, sizeof(double) * m * m);
	for (int j = 0; j < m; j++) {
		g[j] = j < d ? l2 * lr->w[j] : 0;
		h[j * m + j] = j < d ? l2 : 1e-9;
	}
	for (int i = 0; i < n; i++) {
		double z = lr->w[d];
		for (int j = 0; j < d; j++) {
			row[j] = (x[(size_t)i * d + j] - lr->mu[j]) / lr->sd[j];
			z += lr->w[j] * row[j];
		}
		row[d] = 1;
		double p = sigmoid(z), s = p * (1 - p), r = p - y[i];
		for (int j = 0; j < m; j++) {
			g[j] += r * row[j];
			for (int k = 0; k <= j; k++)
				h[j * m + k] += s * row[j] * row[k];
		}
	}
	for (int j = 0; j < m; j++)	/* mirror the lower triangle */
		for (int k = j + 1; k < m; k++)
			h[j * m + k] = h[k * m + j];
	if (!cholesky_solve(h, g, m))
		return -1;
	double most = 0;
	for (int j = 0; j < m; j++) {
		lr->w[j] -= g[j];
		most = fabs(g[j]) > most ? fabs(g[j]) : most;
	}
	return most;
}

struct eval_logistic *eval_logistic_fit(const float *x, const float *y,
					int n, int d, double l2, char *err,
					size_t err_size)
{
	if (n < 2 || d < 1) {
		snprintf(err, err_size, "logistic: %d rows of %d features",
			 n, d);
		return NULL;
	}
	struct eval_logistic *lr = calloc(1, sizeof(*lr));
	double *h = malloc(sizeof(double) * (d + 1) * (d + 1));
	double *g = malloc(sizeof(double) * (d + 1));
	double *row = malloc(sizeof(double) * (d + 1));
	if (lr) {
		lr->d = d;
		lr->mu = malloc(sizeof(double) * d);
		lr->sd = malloc(sizeof(double) * d);
		lr->w = calloc((size_t)d + 1, sizeof(double));
	}
	bool ok = lr && h && g && row && lr->mu && lr->sd && lr->w;
	if (ok) {
		standardise(lr, x, n);
		for (int it = 0; it < 100; it++) {
			double step = newton_step(lr, x, y, n, l2, h, g, row);
			if (step < 1e-8)	/* converged, or singular */
				break;
		}
	}
	free(h), free(g), free(row);
	if (!ok) {
		snprintf(err, err_size, "logistic: out of memory");
		eval_logistic_free(lr);
		return NULL;
	}
	return lr;
}

void eval_logistic_predict(const struct eval_logistic *lr, const float *x,
			   int n, float *p)
{
	int d = lr->d;
	for (int i = 0; i < n; i++) {
		double z = lr->w[d];
		for (int j = 0; j < d; j++)
			z += lr->w[j] * (x[(size_t)i * d + j] - lr->mu[j]) /
			     lr->sd[j];
		p[i] = (float)sigmoid(z);
	}
}

/* ---- folds ---- */

/* The rows of one fold, split into a training and a held-out part, and
 * the scratch to score them: allocated once for all folds. */
struct fold_data {
	int n_in;
	float *xt, *yt, *xv, *yv, *pv, *xperm;
	int nt, nv;
	double *importance;	/* NULL, or (n_in) sums over folds */
};

static void split_rows(struct fold_data *fd, const float *x, const float *y,
		       int n, const int *fold, int f)
{
	int n_in = fd->n_in;
	fd->nt = fd->nv = 0;
	for (int i = 0; i < n; i++) {
		const float *row = x + (size_t)i * n_in;
		bool held = fold[i] == f;
		float *dst = held ? fd->xv + (size_t)fd->nv * n_in
				  : fd->xt + (size_t)fd->nt * n_in;
		memcpy(dst, row, sizeof(float) * n_in);
		if (held)
			fd->yv[fd->nv++] = y[i];
		else
			fd->yt[fd->nt++] = y[i];
	}
}

/* Adds each feature's drop of held-out accuracy, its column shuffled
 * among the held-out rows, into fd->importance. */
static void add_importance(struct fold_data *fd, struct model *m,
			   double acc, uint64_t seed)
{
	int n_in = fd->n_in, nv = fd->nv;
	uint64_t rng = seed;
	for (int j = 0; j < n_in; j++) {
		memcpy(fd->xperm, fd->xv, sizeof(float) * nv * n_in);
		for (int i = nv - 1; i > 0; i--) {
			int k = (int)(util_rand_u64(&rng) % (uint64_t)(i + 1));
			float t = fd->xperm[(size_t)i * n_in + j];
			fd->xperm[(size_t)i * n_in + j] =
				fd->xperm[(size_t)k * n_in + j];
			fd->xperm[(size_t)k * n_in + j] = t;
		}
		model_score(m, fd->xperm, nv, fd->pv, NULL);
		fd->importance[j] += acc - metrics_accuracy(fd->pv, fd->yv,
							    nv);
	}
}

static bool fit_logistic(struct fold_data *fd, struct eval_result *r,
			 char *err, size_t err_size)
{
	double t0 = util_mono();
	struct eval_logistic *lr = eval_logistic_fit(
		fd->xt, fd->yt, fd->nt, fd->n_in, EVAL_LOGISTIC_L2, err,
		err_size);
	if (!lr)
		return false;
	r->seconds = util_mono() - t0;
	eval_logistic_predict(lr, fd->xt, fd->nt, fd->pv);
	r->train_accuracy = metrics_accuracy(fd->pv, fd->yt, fd->nt);
	eval_logistic_predict(lr, fd->xv, fd->nv, fd->pv);
	r->val_accuracy = metrics_accuracy(fd->pv, fd->yv, fd->nv);
	r->val_auc = metrics_auc(fd->pv, fd->yv, fd->nv);
	r->val_logloss = metrics_logloss(fd->pv, fd->yv, fd->nv);
	eval_logistic_free(lr);
	return true;
}

/* Trains the net and the baseline on the rows not in fold f, scores the
 * rows in it. */
static bool run_fold(const struct model_params *p, const float *x,
		     const float *y, int n, const int *fold, int f,
		     struct fold_data *fd, struct eval_fold *out, char *err,
		     size_t err_size)
{
	split_rows(fd, x, y, n, fold, f);
	struct model *m = model_new(p, err, err_size);
	if (!m)
		return false;
	struct model_report rep;
	struct model_data d = { .x = fd->xt, .y = fd->yt, .n = fd->nt };
	bool ok = model_fit_scaler(m, fd->xt, fd->nt, err, err_size) &&
		  model_train(m, &d, &rep, err, err_size);
	if (ok) {
		out->n_train = fd->nt;
		out->n_val = fd->nv;
		out->epochs = rep.epochs;
		out->seconds = rep.seconds;
		model_score(m, fd->xt, fd->nt, fd->pv, NULL);
		out->train_accuracy = metrics_accuracy(fd->pv, fd->yt, fd->nt);
		model_score(m, fd->xv, fd->nv, fd->pv, NULL);
		out->val_accuracy = metrics_accuracy(fd->pv, fd->yv, fd->nv);
		out->val_auc = metrics_auc(fd->pv, fd->yv, fd->nv);
		out->val_logloss = metrics_logloss(fd->pv, fd->yv, fd->nv);
		if (fd->importance)
			add_importance(fd, m, out->val_accuracy, p->seed);
		ok = fit_logistic(fd, &out->logistic, err, err_size);
	}
	model_free(m);
	return ok;
}

static bool check_labels(const float *y, int n, char *err, size_t err_size)
{
	for (int i = 0; i < n; i++)
		if (y[i] != 0.0f && y[i] != 1.0f) {
			snprintf(err, err_size,
				 "example %d has label %g, not 0 or 1", i,
				 (double)y[i]);
			return false;
		}
	return true;
}

static bool fold_data_alloc(struct fold_data *fd, int n, int n_in,
			    bool importance, char *err, size_t err_size)
{
	size_t xbytes = sizeof(float) * (size_t)n * n_in + 1;
	memset(fd, 0, sizeof(*fd));
	fd->n_in = n_in;
	fd->xt = malloc(xbytes), fd->xv = malloc(xbytes);
	fd->yt = malloc(sizeof(float) * n + 1);
	fd->yv = malloc(sizeof(float) * n + 1);
	fd->pv = malloc(sizeof(float) * n + 1);
	fd->xperm = importance ? malloc(xbytes) : NULL;
	fd->importance = importance ? calloc((size_t)n_in, sizeof(double))
				    : NULL;
	if (!fd->xt || !fd->xv || !fd->yt || !fd->yv || !fd->pv ||
	    (importance && (!fd->xperm || !fd->importance))) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	return true;
}

static void fold_data_free(struct fold_data *fd)
{
	free(fd->xt), free(fd->xv), free(fd->yt), free(fd->yv);
	free(fd->pv), free(fd->xperm), free(fd->importance);
}

/* Per-fold values of each summarised quantity, net then baseline. */
enum { Q_TRAIN, Q_VAL, Q_AUC, Q_LL, Q_SEC, Q_N };

static void record(double *v, int total, int k, const struct eval_fold *r)
{
	const struct eval_result *b = &r->logistic;
	double q[2][Q_N] = {
		{ r->train_accuracy, r->val_accuracy, r->val_auc,
		  r->val_logloss, r->seconds },
		{ b->train_accuracy, b->val_accuracy, b->val_auc,
		  b->val_logloss, b->seconds },
	};
	for (int c = 0; c < 2; c++)
		for (int i = 0; i < Q_N; i++)
			v[((size_t)c * Q_N + i) * total + k] = q[c][i];
}

static void summarise(struct eval_summary *sum, const double *v, int total)
{
	struct eval_stat s[2][Q_N];
	for (int c = 0; c < 2; c++)
		for (int i = 0; i < Q_N; i++)
			s[c][i] = eval_stat_of(
				v + ((size_t)c * Q_N + i) * total, total);
	sum->n_folds = total;
	sum->train_accuracy = s[0][Q_TRAIN];
	sum->val_accuracy = s[0][Q_VAL];
	sum->val_auc = s[0][Q_AUC];
	sum->val_logloss = s[0][Q_LL];
	sum->seconds = s[0][Q_SEC];
	sum->logistic = (struct eval_stats){ s[1][Q_TRAIN], s[1][Q_VAL],
					     s[1][Q_AUC], s[1][Q_LL],
					     s[1][Q_SEC] };
}

bool eval_cross_validate(const struct model_params *p, const float *x,
			 const float *y, int n, int folds, int repeats,
			 uint64_t seed, eval_fold_fn *on_fold, void *user,
			 struct eval_summary *sum, char *err, size_t err_size)
{
	return eval_cross_validate_importance(p, x, y, n, folds, repeats,
					      seed, on_fold, user, sum, NULL,
					      err, err_size);
}

bool eval_cross_validate_importance(const struct model_params *p,
				    const float *x, const float *y, int n,
				    int folds, int repeats, uint64_t seed,
				    eval_fold_fn *on_fold, void *user,
				    struct eval_summary *sum,
				    double *importance, char *err,
				    size_t err_size)
{
	if (repeats < 1) {
		snprintf(err, err_size, "%d repeats: need at least 1",
			 repeats);
		return false;
	}
	if (!check_labels(y, n, err, err_size))
		return false;
	int total = folds * repeats;
	struct fold_data fd;
	int *fold = malloc(sizeof(int) * (n > 0 ? n : 1));
	double *v = malloc(sizeof(double) * 2 * Q_N * (total > 0 ? total : 1));
	bool ok = fold_data_alloc(&fd, n, p->n_in, importance != NULL, err,
				  err_size);
	if (ok && (!fold || !v)) {
		snprintf(err, err_size, "out of memory");
		ok = false;
	}
	for (int r = 0, k = 0; ok && r < repeats; r++) {
		ok = eval_folds(y, n, folds, seed + (uint64_t)r, fold, err,
				err_size);
		for (int f = 0; ok && f < folds; f++, k++) {
			struct model_params fp = *p;
			fp.seed = p->seed + (unsigned)(r * folds + f);
			struct eval_fold res = { .repeat = r, .fold = f };
			char why[256];
			ok = run_fold(&fp, x, y, n, fold, f, &fd, &res, why,
				      sizeof why);
			if (!ok) {
				snprintf(err, err_size, "repeat %d, fold %d: "
					 "%s", r + 1, f + 1, why);
				break;
			}
			record(v, total, k, &res);
			if (on_fold)
				on_fold(&res, user);
		}
	}
	if (ok) {
		summarise(sum, v, total);
		for (int j = 0; importance && j < p->n_in; j++)
			importance[j] = fd.importance[j] / total;
	}
	fold_data_free(&fd);
	free(fold), free(v);
	return ok;
}

/* Stratified hold-out: a share val_fraction of each class (at least one
 * row, at most all but one) in fold 1, the rest in fold 0. */
static bool holdout(const float *y, int n, double val_fraction,
		    uint64_t seed, int *fold, char *err, size_t err_size)
{
	uint64_t rng = seed;
	int *idx = malloc(sizeof(int) * (n > 0 ? n : 1));
	if (!idx) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	bool ok = true;
	for (int c = 1; c >= 0 && ok; c--) {
		int m = 0;
		for (int i = 0; i < n; i++)
			if ((y[i] >= 0.5f) == (c == 1))
				idx[m++] = i;
		for (int i = m - 1; i > 0; i--) {
			int j = (int)(util_rand_u64(&rng) % (uint64_t)(i + 1));
			int t = idx[i];
			idx[i] = idx[j];
			idx[j] = t;
		}
		int held = (int)lround(val_fraction * m);
		held = held < 1 ? 1 : held > m - 1 ? m - 1 : held;
		if (m < 2) {
			snprintf(err, err_size, "only %d examples labelled "
				 "%d: too few to split", m, c);
			ok = false;
		}
		for (int i = 0; i < m; i++)
			fold[idx[i]] = i < held;
	}
	free(idx);
	return ok;
}

bool eval_split(const struct model_params *p, const float *x, const float *y,
		int n, double val_fraction, uint64_t seed, struct eval_fold *f,
		char *err, size_t err_size)
{
	if (!(val_fraction > 0 && val_fraction < 1)) {
		snprintf(err, err_size, "split %g: expected between 0 and 1",
			 val_fraction);
		return false;
	}
	if (!check_labels(y, n, err, err_size))
		return false;
	struct fold_data fd;
	int *fold = malloc(sizeof(int) * (n > 0 ? n : 1));
	bool ok = fold_data_alloc(&fd, n, p->n_in, false, err, err_size);
	if (ok && !fold) {
		snprintf(err, err_size, "out of memory");
		ok = false;
	}
	*f = (struct eval_fold){ 0 };
	ok = ok && holdout(y, n, val_fraction, seed, fold, err, err_size) &&
	     run_fold(p, x, y, n, fold, 1, &fd, f, err, err_size);
	fold_data_free(&fd);
	free(fold);
	return ok;
}
