/* Offline evaluation of the model: stratified k-fold cross-validation with
 * shuffling and repeats, or the paper's single stratified hold-out split,
 * so results can be compared with published ones. Each fold fits the
 * scaler and trains a fresh model on its training part only, then scores
 * the held-out part; a logistic regression is fitted on the same rows and
 * scored on the same held-out rows, a baseline beside every figure.
 */
#ifndef MPDREC_EVAL_H
#define MPDREC_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct model_params;

/* L2 penalty of the logistic baseline on standardised features: the
 * classic default (scikit-learn's C = 1). */
#define EVAL_LOGISTIC_L2 1.0

/** What a classifier did on one fold (or split). */
struct eval_result {
	double train_accuracy;		/* on its own training part */
	double val_accuracy, val_auc, val_logloss;
	double seconds;			/* time to fit */
};

/** One fold's results: the net and the logistic baseline. */
struct eval_fold {
	int repeat, fold;		/* from 0 */
	int n_train, n_val;
	int epochs;			/* mean epochs per ensemble member */
	/* the net, as in earlier versions */
	double train_accuracy;		/* ensemble on its own training part */
	double val_accuracy, val_auc, val_logloss;
	double seconds;			/* time to fit */
	struct eval_result logistic;
};

/** Mean and sample standard deviation of a quantity over the folds. */
struct eval_stat {
	double mean, sd;
};

/** Summary of one classifier over all folds. */
struct eval_stats {
	struct eval_stat train_accuracy, val_accuracy, val_auc, val_logloss;
	struct eval_stat seconds;
};

/** The summary over all folds of all repeats. */
struct eval_summary {
	int n_folds;			/* folds × repeats */
	/* the net */
	struct eval_stat train_accuracy, val_accuracy, val_auc, val_logloss;
	struct eval_stat seconds;
	struct eval_stats logistic;
};

/** Called after each fold (for progress output); user is passed through. */
typedef void eval_fold_fn(const struct eval_fold *f, void *user);

/** Assigns each of n examples with 0/1 labels y (n) to one of k folds
 *  (fold (n), caller's), stratified by label after shuffling with seed.
 *  Returns false (err filled) when a class has fewer than k examples. */
bool eval_folds(const float *y, int n, int k, uint64_t seed, int *fold,
		char *err, size_t err_size);

/** Cross-validates a model with parameters *p (p->n_in features) on x
 *  (n, n_in), y (n), and the logistic baseline on the same folds:
 *  `repeats` times `folds` folds, repeat r shuffled with seed + r, each
 *  fold's model seeded from p->seed and the fold. Calls on_fold (may be
 *  NULL) after every fold; fills *sum. Returns false (err filled) on bad
 *  input or a failed fold. */
bool eval_cross_validate(const struct model_params *p, const float *x,
			 const float *y, int n, int folds, int repeats,
			 uint64_t seed, eval_fold_fn *on_fold, void *user,
			 struct eval_summary *sum, char *err, size_t err_size);

/** The same, also measuring permutation importance: importance (n_in,
 *  the caller's) gets each feature's mean drop of the net's held-out
 *  accuracy when that feature's values are shuffled among the held-out
 *  rows (0: the model does not use it). */
bool eval_cross_validate_importance(const struct model_params *p,
				    const float *x, const float *y, int n,
				    int folds, int repeats, uint64_t seed,
				    eval_fold_fn *on_fold, void *user,
				    struct eval_summary *sum,
				    double *importance, char *err,
				    size_t err_size);

/** The paper's protocol: one stratified split holding out val_fraction
 *  (0 < f < 1) of the rows, shuffled with seed; fills *f (a fold with
 *  repeat and fold 0) for the net and the baseline, training and
 *  held-out accuracy side by side. Returns false (err filled) on bad
 *  input. */
bool eval_split(const struct model_params *p, const float *x, const float *y,
		int n, double val_fraction, uint64_t seed, struct eval_fold *f,
		char *err, size_t err_size);

/** Mean and sample standard deviation of v (n); sd 0 when n < 2. */
struct eval_stat eval_stat_of(const double *v, int n);

/** A fitted logistic regression (features standardised on its training
 *  rows, L2-penalised, fitted by Newton's method). */
struct eval_logistic;

/** Fits on x (n, d), y (n) in {0, 1} with L2 penalty l2. Returns NULL
 *  (err filled) when n < 2, d < 1 or memory runs out. Caller frees with
 *  eval_logistic_free(). */
struct eval_logistic *eval_logistic_fit(const float *x, const float *y,
					int n, int d, double l2, char *err,
					size_t err_size);

/** p (n) = probabilities of a like for x (n, d); p is the caller's. */
void eval_logistic_predict(const struct eval_logistic *lr, const float *x,
			   int n, float *p);

/** Frees a fitted regression; accepts NULL. */
void eval_logistic_free(struct eval_logistic *lr);

#endif
