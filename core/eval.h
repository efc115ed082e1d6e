/* Offline evaluation of the model: stratified k-fold cross-validation with
 * shuffling and repeats, so results can be compared with published ones.
 * Each fold fits the scaler and trains a fresh model on its training part
 * only, then scores the held-out part.
 */
#ifndef MPDREC_EVAL_H
#define MPDREC_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct model_params;

/** One fold's results. */
struct eval_fold {
	int repeat, fold;		/* from 0 */
	int n_train, n_val;
	int epochs;			/* mean epochs per ensemble member */
	double train_accuracy;		/* ensemble on its own training part */
	double val_accuracy, val_auc, val_logloss;
	double seconds;			/* time to fit */
};

/** Mean and sample standard deviation of a quantity over the folds. */
struct eval_stat {
	double mean, sd;
};

/** The summary over all folds of all repeats. */
struct eval_summary {
	int n_folds;			/* folds × repeats */
	struct eval_stat train_accuracy, val_accuracy, val_auc, val_logloss;
	struct eval_stat seconds;
};

/** Called after each fold (for progress output); user is passed through. */
typedef void eval_fold_fn(const struct eval_fold *f, void *user);

/** Assigns each of n examples with 0/1 labels y (n) to one of k folds
 *  (fold (n), caller's), stratified by label after shuffling with seed.
 *  Returns false (err filled) when a class has fewer than k examples. */
bool eval_folds(const float *y, int n, int k, uint64_t seed, int *fold,
		char *err, size_t err_size);

/** Cross-validates a model with parameters *p (p->n_in features) on x
 *  (n, n_in), y (n): `repeats` times `folds` folds, repeat r shuffled with
 *  seed + r, each fold's model seeded from p->seed and the fold. Calls
 *  on_fold (may be NULL) after every fold; fills *sum. Returns false (err
 *  filled) on bad input or a failed fold. */
bool eval_cross_validate(const struct model_params *p, const float *x,
			 const float *y, int n, int folds, int repeats,
			 uint64_t seed, eval_fold_fn *on_fold, void *user,
			 struct eval_summary *sum, char *err, size_t err_size);

/** Mean and sample standard deviation of v (n); sd 0 when n < 2. */
struct eval_stat eval_stat_of(const double *v, int n);

#endif
