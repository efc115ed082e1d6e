/* Learning while it plays: the model, the analysed library it scores, and
 * the history it replays. Each labelled event runs the model's incremental
 * update; the model is saved every few events and at shutdown; a full
 * retrain runs in a background thread every model.retrain_every events and
 * is swapped in when done. */
#ifndef MPDREC_LEARN_H
#define MPDREC_LEARN_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct store;
struct model;
struct store_library;

struct learn;
struct model_params;

/** Fills *p for n_in features from the configuration's model.* options
 *  (c NULL: the table's defaults); the model's own defaults only for what
 *  no option sets. */
void learn_params_from_conf(struct model_params *p, const struct conf *c,
			    int n_in);

/** Opens the learner over `store` (borrowed; must outlive it) with the
 *  options of *c (borrowed for the call): loads the analysed library and
 *  the events, and the saved model (a model of another shape or version,
 *  or one that fails its checksum, is set aside in the store and replaced
 *  by a new one trained on the history).
 *  `notify_fd` (or -1) gets one byte written when a background retrain is
 *  done, so the daemon's poll() wakes up. Returns NULL with err filled.
 *  Free with learn_free(). */
struct learn *learn_new(struct store *store, const struct conf *c,
			int notify_fd, char *err, size_t err_size);

/** Takes the model.* options of *c (borrowed for the call; a reload):
 *  the learning rate, L2, batch, steps per event and half-life apply to the
 *  running model at its next update; another shape (model.hidden,
 *  model.ensemble) starts a retrain in the background; retrain_every and
 *  the seed apply from the next retrain on. */
void learn_set_conf(struct learn *l, const struct conf *c);

/** Waits for a running retrain, then frees. Accepts NULL. */
void learn_free(struct learn *l);

/** Reloads the analysed library (after an analysis pass). Returns false
 *  with err filled; the old library stays in place. */
bool learn_reload_library(struct learn *l, char *err, size_t err_size);

/** Learns one labelled event of uri (label 1 like, 0 dislike) at epoch time
 *  `now`. Returns false when the track has no feature vector yet (the event
 *  still counts at the next full retrain). */
bool learn_event(struct learn *l, const char *uri, int label, double weight,
		 double now);

/** Saves the model if it changed since the last save. Returns false with
 *  err filled (the model stays in memory; the caller retries later). */
bool learn_save(struct learn *l, char *err, size_t err_size);

/** Saves the model when SAVE_EVERY events were learned since the last
 *  save (learn_event() does not: the daemon calls this after filling the
 *  queue). Failures are logged; the next call tries again. */
void learn_save_due(struct learn *l);

/** Takes a finished background retrain, if any (call when notify_fd
 *  fired). Returns true when a new model was swapped in. */
bool learn_collect(struct learn *l);

/** Starts a full retrain in the background now (no-op if one runs). */
void learn_retrain_async(struct learn *l);

/** Runs a full retrain in the calling thread and swaps it in; fills a
 *  one-line summary of its metrics. Returns false with err filled. */
bool learn_retrain_now(struct learn *l, char *summary, size_t summary_size);

/** The analysed library (borrowed, valid until learn_reload_library()). */
const struct store_library *learn_library(const struct learn *l);

/** The index of uri in the library, or -1. */
int learn_find(const struct learn *l, const char *uri);

/** Scores of every track of the library: mean and spread arrays of
 *  learn_library()->n floats, borrowed, valid until the library is
 *  reloaded. In a large library they may predate the last update (see
 *  learn_refresh_scores). Returns false when the library is empty. */
bool learn_scores(struct learn *l, const float **mean, const float **spread);

/** The scores as they are, never rescoring: those of learn_scores(), which
 *  may predate the last events (the queue filler rescores the few tracks
 *  it considers). Returns false when the library was never scored. */
bool learn_scores_cached(const struct learn *l, const float **mean,
			 const float **spread);

/** Rescores the whole library if the model changed since the last
 *  scoring; the daemon calls it after filling the queue. */
void learn_refresh_scores(struct learn *l);

/** Labelled events known so far, and how many of them are likes. */
void learn_counts(const struct learn *l, int *labelled, int *likes);

/** The model (borrowed), e.g. for explanations. */
struct model *learn_model(struct learn *l);

/** Features of the last `k` labelled events (most recent first), as indices
 *  into the library, with their labels; returns how many were written. */
int learn_recent(const struct learn *l, int k, int *idx, int *label);

#endif
