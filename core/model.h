/* The model: a quantile scaler (core/scaler: every feature mapped to its
 * rank in [0, 1]) and an ensemble of small dense nets (core/nn) whose first
 * layer reads each scaled feature as `bins` piecewise-linear bins, that
 * learns likes (1) and dislikes (0) from feature vectors.
 *
 * The score of a track is the ensemble's mean probability, its uncertainty
 * the spread (standard deviation) of the members. Each member is trained on
 * its own bootstrap of every batch. Learning is incremental (a few Adam
 * steps per labelled event on the event plus a recency-weighted replay of
 * history) with a periodic full retrain (early stopping of averaged
 * weights on a held-out part). Everything is deterministic for a given seed.
 *
 * A model is not thread-safe: score, learn and explain use scratch memory
 * inside it. Use model_clone() to train a copy in another thread.
 */
#ifndef MPDREC_MODEL_H
#define MPDREC_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#define MODEL_MAX_HIDDEN 4
#define MODEL_MAX_ENSEMBLE 64

/** Hyperparameters. Fill with model_params_default(), then change. */
struct model_params {
	int n_in;			/* features per example */
	int hidden[MODEL_MAX_HIDDEN];	/* hidden layer sizes (64, 32) */
	int n_hidden;			/* 2 */
	int bins;			/* piecewise-linear bins per input of
					   the first layer (8; 1: plain) */
	float learning_rate;		/* Adam step size (1e-3) */
	float l2;			/* L2 on the weights (1e-3) */
	int ensemble;			/* members (5) */
	int steps_per_event;		/* Adam steps per learned event (4) */
	int batch;			/* rows per incremental step (64) */
	float half_life_days;		/* replay weight halves (30) */
	unsigned seed;			/* everything random derives from it */
	/* full training (model_train) */
	int train_batch;		/* minibatch rows (64; more for large
					   data: an epoch is ~50 steps) */
	float train_learning_rate;	/* Adam step size (3e-3) */
	int max_epochs;			/* upper bound (200) */
	int patience;			/* epochs without improvement (20) */
	float val_fraction;		/* held out for early stopping (0.2) */
	long max_train_rows;		/* bound on rows × epochs per member
					   (270000; 0 = none): caps the time
					   of large retrains */
};

/** What a full training reports. Metrics are NaN when not measurable
 *  (no held-out part, one class only). */
struct model_report {
	int n_train, n_val;		/* rows used for each part */
	int epochs;			/* mean epochs run per member */
	double seconds;			/* wall time of model_train */
	double train_accuracy, train_auc, train_logloss;
	double val_accuracy, val_auc, val_logloss;
};

/** Labelled examples, raw (unscaled) features: x (n, n_in), y (n) in
 *  {0, 1}, w (n) weights > 0 (NULL = 1), age_days (n) of each example
 *  (NULL = all 0), for the recency weight w · 0.5^(age / half_life). */
struct model_data {
	const float *x;
	const float *y;
	const float *w;
	const double *age_days;
	int n;
};

struct model;

/** Fills *p with the defaults for n_in features (see the fields; those a
 *  user can set agree with conf/conf.c's option table). */
void model_params_default(struct model_params *p, int n_in);

/** Checks *p; returns false and explains in err when a value is out of
 *  range. */
bool model_params_check(const struct model_params *p, char *err,
			size_t err_size);

/** Creates an untrained model (random weights from the seed, identity
 *  scaler). Returns NULL with err filled for bad parameters or no memory.
 *  Caller frees with model_free(). */
struct model *model_new(const struct model_params *p, char *err,
			size_t err_size);

/** Frees a model; accepts NULL. */
void model_free(struct model *m);

/** A deep copy (weights, Adam state, scaler, random state), or NULL when
 *  out of memory. Caller frees with model_free(). */
struct model *model_clone(const struct model *m);

/** Number of features the model takes. */
int model_inputs(const struct model *m);

/** The parameters the model was built with (borrowed). */
const struct model_params *model_get_params(const struct model *m);

/** Applies new parameters to a model that keeps its weights and its shape
 *  (a reload of the configuration): the learning rate, L2, steps per
 *  event, batch, half-life and the full-training settings take effect at
 *  the next update; the seed is kept. Returns false with err filled, the
 *  model unchanged, when *p is out of range or needs a new model: another
 *  shape (n_in, hidden, bins, ensemble) or a batch above the model's scratch
 *  (model_alloc's capacity, at least 1024 rows). */
bool model_set_params(struct model *m, const struct model_params *p,
		      char *err, size_t err_size);

/** Fits the scaler on x (n, n_in), raw features of the whole library,
 *  reading a uniform sample of at most SCALER_SAMPLE_ROWS rows (so its cost
 *  does not grow with the library). Returns false (err filled) when n < 1
 *  or a row read has a non-finite value.
 *  Until this is called, model_train fits the scaler on its data and
 *  model_learn on its history. */
bool model_fit_scaler(struct model *m, const float *x, int n, char *err,
		      size_t err_size);

/** Whether the scaler has been fitted. */
bool model_scaler_fitted(const struct model *m);

/** Incremental learning of one raw example x (n_in) with label y (0/1) and
 *  weight w > 0: for every member, steps_per_event Adam steps on a batch
 *  of the new example and batch - 1 rows of replay drawn from history
 *  with probability ∝ w · 0.5^(age / half_life), each member its own
 *  draw (a bootstrap). Replayed rows weigh 1; the new one w times a
 *  quarter of the batch, so a like raises its own score. history may be
 *  NULL or empty (then the batch is the new example alone). Deterministic
 *  for a seed. */
void model_learn(struct model *m, const float *x, float y, float w,
		 const struct model_data *history);

/** Full retrain from scratch (new weights from the seed, fresh Adam
 *  state): a stratified val_fraction of d is held out; each member runs
 *  epochs over its own shuffle and bootstrap of every minibatch and keeps
 *  the moving average of its weights (over about five epochs) from the
 *  epoch where that average had the best held-out Brier score (early
 *  stopping). Recency weights apply as in model_learn. Fills *rep when not
 *  NULL. Returns false (err filled, model unchanged) when d has fewer than
 *  2 rows, one class only, or a bad value. */
bool model_train(struct model *m, const struct model_data *d,
		 struct model_report *rep, char *err, size_t err_size);

/** Scores n raw examples x (n, n_in): mean (n) the ensemble's mean
 *  probability of a like, spread (n) the members' standard deviation
 *  (either may be NULL). Arrays are the caller's. */
void model_score(struct model *m, const float *x, int n, float *mean,
		 float *spread);

/** Per-feature contribution to the score of one raw example x (n_in):
 *  contrib[j] = score(x) - score(x with feature j at the library median),
 *  what the feature's value adds to or takes from the score (exact for
 *  each feature alone, so it holds for the piecewise-linear first layer
 *  too). Returns false for a non-finite x. */
bool model_explain(struct model *m, const float *x, float *contrib);

/** Serialises the model (magic, format version, sizes, parameters, scaler,
 *  weights, Adam state, random state, CRC-32) into a malloc'd blob the
 *  caller frees. Returns false (err filled) when out of memory. */
bool model_save(const struct model *m, void **blob, size_t *size, char *err,
		size_t err_size);

/** Rebuilds a model from a blob of model_save(). Returns NULL with a clear
 *  error for a truncated, corrupted or other-version blob; never a
 *  half-loaded model. Caller frees with model_free(). */
struct model *model_load(const void *blob, size_t size, char *err,
			 size_t err_size);

/** Incremental updates (model_learn calls) since creation, kept by
 *  model_save/model_load and by model_train. */
int model_events_seen(const struct model *m);

#endif
