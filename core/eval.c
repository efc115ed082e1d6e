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

/* Trains on the rows not in fold f, scores the rows in it. */
static bool run_fold(const struct model_params *p, const float *x,
		     const float *y, int n, const int *fold, int f,
		     struct eval_fold *out, float *xt, float *yt, float *xv,
		     float *yv, float *pv, char *err, size_t err_size)
{
	int n_in = p->n_in, nt = 0, nv = 0;
	for (int i = 0; i < n; i++) {
		const float *row = x + (size_t)i * n_in;
		if (fold[i] == f) {
			memcpy(xv + (size_t)nv * n_in, row,
			       sizeof(float) * n_in);
			yv[nv++] = y[i];
		} else {
			memcpy(xt + (size_t)nt * n_in, row,
			       sizeof(float) * n_in);
			yt[nt++] = y[i];
		}
	}
	struct model *m = model_new(p, err, err_size);
	if (!m)
		return false;
	struct model_report rep;
	struct model_data d = { .x = xt, .y = yt, .n = nt };
	bool ok = model_fit_scaler(m, xt, nt, err, err_size) &&
		  model_train(m, &d, &rep, err, err_size);
	if (ok) {
		out->n_train = nt;
		out->n_val = nv;
		out->epochs = rep.epochs;
		out->seconds = rep.seconds;
		model_score(m, xt, nt, pv, NULL);
		out->train_accuracy = metrics_accuracy(pv, yt, nt);
		model_score(m, xv, nv, pv, NULL);
		out->val_accuracy = metrics_accuracy(pv, yv, nv);
		out->val_auc = metrics_auc(pv, yv, nv);
		out->val_logloss = metrics_logloss(pv, yv, nv);
	}
	model_free(m);
	return ok;
}

bool eval_cross_validate(const struct model_params *p, const float *x,
			 const float *y, int n, int folds, int repeats,
			 uint64_t seed, eval_fold_fn *on_fold, void *user,
			 struct eval_summary *sum, char *err, size_t err_size)
{
	if (repeats < 1) {
		snprintf(err, err_size, "%d repeats: need at least 1",
			 repeats);
		return false;
	}
	for (int i = 0; i < n; i++)
		if (y[i] != 0.0f && y[i] != 1.0f) {
			snprintf(err, err_size,
				 "example %d has label %g, not 0 or 1", i,
				 (double)y[i]);
			return false;
		}
	int total = folds * repeats;
	size_t xbytes = sizeof(float) * (size_t)n * p->n_in;
	int *fold = malloc(sizeof(int) * (n > 0 ? n : 1));
	float *xt = malloc(xbytes + 1), *xv = malloc(xbytes + 1);
	float *yt = malloc(sizeof(float) * n + 1);
	float *yv = malloc(sizeof(float) * n + 1);
	float *pv = malloc(sizeof(float) * n + 1);
	double *v = malloc(sizeof(double) * 5 * (total > 0 ? total : 1));
	bool ok = false;
	if (!fold || !xt || !xv || !yt || !yv || !pv || !v) {
		snprintf(err, err_size, "out of memory");
		goto done;
	}
	double *tr = v, *va = v + total, *au = v + 2 * total;
	double *ll = v + 3 * total, *se = v + 4 * total;
	int done_folds = 0;
	for (int r = 0; r < repeats; r++) {
		if (!eval_folds(y, n, folds, seed + (uint64_t)r, fold, err,
				err_size))
			goto done;
		for (int f = 0; f < folds; f++) {
			struct model_params fp = *p;
			fp.seed = p->seed + (unsigned)(r * folds + f);
			struct eval_fold res = { .repeat = r, .fold = f };
			char why[256];
			if (!run_fold(&fp, x, y, n, fold, f, &res, xt, yt, xv,
				      yv, pv, why, sizeof why)) {
				snprintf(err, err_size, "repeat %d, fold %d: "
					 "%s", r + 1, f + 1, why);
				goto done;
			}
			tr[done_folds] = res.train_accuracy;
			va[done_folds] = res.val_accuracy;
			au[done_folds] = res.val_auc;
			ll[done_folds] = res.val_logloss;
			se[done_folds] = res.seconds;
			done_folds++;
			if (on_fold)
				on_fold(&res, user);
		}
	}
	sum->n_folds = total;
	sum->train_accuracy = eval_stat_of(tr, total);
	sum->val_accuracy = eval_stat_of(va, total);
	sum->val_auc = eval_stat_of(au, total);
	sum->val_logloss = eval_stat_of(ll, total);
	sum->seconds = eval_stat_of(se, total);
	ok = true;
done:
	free(fold), free(xt), free(xv), free(yt), free(yv), free(pv), free(v);
	return ok;
}
