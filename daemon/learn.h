/* Learning while it plays: the model, the analysed library it scores, and
 * the history it replays. Each labelled event runs the model's incremental
 * update; the model is saved every few events and at shutdown; full
 * retrains run in a background thread, early and often while labels are
 * few (at 4, 8, 12, 16, 24, 32, 48... labelled events), then every
 * model.retrain_every, and are swapped in when done.
 *
 * The library grows while the first analysis runs (learn_add_tracks): rows
 * are appended, never reloaded whole. Scores of the whole library are
 * refreshed in a background thread after the model changed, so a song
 * change never waits for a rescore; they may lag the last event by the
 * time a rescore takes (a second or two at a million tracks).
 *
 * The learner of a daemon (notify_fd >= 0) runs that work in threads; the
 * one of a command (notify_fd -1) does everything in the calling thread. */
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
 *  `notify_fd` (or -1) gets one byte written when a background retrain or
 *  rescore is done, so the daemon's poll() wakes up. Returns NULL with err
 *  filled. Free with learn_free(). */
struct learn *learn_new(struct store *store, const struct conf *c,
			int notify_fd, char *err, size_t err_size);

/** As learn_new(), with the tracks' titles in the library when `titles`
 *  (explanations name tracks by them; a million titles are 30 MB and a
 *  tenth of the loading). */
struct learn *learn_new_with(struct store *store, const struct conf *c,
			     int notify_fd, bool titles, char *err,
			     size_t err_size);

/** Takes the model.* options of *c (borrowed for the call; a reload):
 *  the learning rate, L2, batch, steps per event and half-life apply to the
 *  running model at its next update; another shape (model.hidden,
 *  model.ensemble) starts a retrain in the background; retrain_every and
 *  the seed apply from the next retrain on. */
void learn_set_conf(struct learn *l, const struct conf *c);

/** Waits for running background work, then frees. Accepts NULL. */
void learn_free(struct learn *l);

/** Brings the library up to date with the store without reading it whole:
 *  tracks analysed, failed or gone since the last call (or since
 *  learn_new) are appended, refreshed or dropped, every ban flag (of
 *  tracks, artists, albums) is read again, and the labelled events. One
 *  light pass over the tracks; the feature matrix is never held twice.
 *  Returns false with err filled. */
bool learn_reload_library(struct learn *l, char *err, size_t err_size);

/** Adds the tracks uris[0..n) (borrowed) that were just analysed: a new
 *  track is appended to the library and scored, one already there gets its
 *  new vector; one the store does not hold as analysed is skipped (or
 *  dropped when it was there). Library indices stay valid unless a track
 *  was dropped (then fill_library_changed() must follow anyway). Returns
 *  the number of tracks appended or refreshed, or -1 with err filled. */
int learn_add_tracks(struct learn *l, const char *const *uris, int n,
		     char *err, size_t err_size);

/** Learns one labelled event of uri (label 1 like, 0 dislike) at epoch time
 *  `now`. Returns false when the track has no feature vector yet (the event
 *  still counts at the next full retrain). */
bool learn_event(struct learn *l, const char *uri, int label, double weight,
		 double now);

/** Saves the model if it changed since the last save; a model another
 *  process saved meanwhile (mpdrec train) is taken instead of being
 *  overwritten. Returns false with err filled (the model stays in memory;
 *  the caller retries later). */
bool learn_save(struct learn *l, char *err, size_t err_size);

/** Saves the model when SAVE_EVERY events were learned since the last
 *  save (learn_event() does not: the daemon calls this after filling the
 *  queue). Failures are logged; the next call tries again. */
void learn_save_due(struct learn *l);

/** Takes finished background work, if any (call when notify_fd fired): a
 *  retrain (swapped in) or a rescore. Returns true when a new model or new
 *  scores are in place. */
bool learn_collect(struct learn *l);

/** Starts a full retrain in the background now (no-op if one runs). */
void learn_retrain_async(struct learn *l);

/** Runs a full retrain in the calling thread and swaps it in; fills a
 *  one-line summary of its metrics (a metric that cannot be measured says
 *  why, never "nan"). Returns false with the reason in summary. */
bool learn_retrain_now(struct learn *l, char *summary, size_t summary_size);

/** The analysed library (borrowed; its arrays are valid until the library
 *  changes: learn_add_tracks, learn_reload_library), in no particular
 *  order (learn_find looks a URI up); without titles (lib->title NULL)
 *  unless learn_new_with() asked for them. */
const struct store_library *learn_library(const struct learn *l);

/** The index of uri in the library, or -1. */
int learn_find(const struct learn *l, const char *uri);

/** Scores of every track of the library: mean and spread arrays of
 *  learn_library()->n floats, borrowed, valid until the library changes.
 *  The first call computes them (or takes them from scores.cache); later
 *  ones never rescore: the scores may predate the last model change until
 *  learn_refresh_scores() brought them up to date. Returns false when the
 *  library is empty, or, in a daemon, while the first scores of a large
 *  library are still being computed (in the background). */
bool learn_scores(struct learn *l, const float **mean, const float **spread);

/** The scores as they are, never computing any: those of learn_scores(),
 *  which may predate the last events (the queue filler rescores the few
 *  tracks it considers). Returns false when the library was never scored
 *  (or is empty). Borrowed, like learn_scores()'. */
bool learn_scores_cached(const struct learn *l, const float **mean,
			 const float **spread);

/** After the model changed (or another process saved one): starts a
 *  rescore of the library in the background (a small library, or a
 *  command's learner, is rescored at once). The daemon calls it after
 *  filling the queue. */
void learn_refresh_scores(struct learn *l);

/** Labelled events known so far, and how many of them are likes. */
void learn_counts(const struct learn *l, int *labelled, int *likes);

/** The model (borrowed), e.g. for explanations. */
struct model *learn_model(struct learn *l);

/** Features of the last `k` labelled events (most recent first), as indices
 *  into the library, with their labels; returns how many were written. */
int learn_recent(const struct learn *l, int k, int *idx, int *label);

/** Whether the model has learned from both likes and dislikes of analysed
 *  tracks (at least `min_labels` of them): then picks follow it. */
bool learn_informed(const struct learn *l, int min_labels);

/** The labelled-event counts at which a full retrain runs, for n labelled
 *  events with features and model.retrain_every `every`: 4, 8, 12, 16,
 *  24, 32, 48... while below `every`, then every `every` events after the
 *  last early one. Exposed for the tests. */
bool learn_retrain_due(int n, int every);

#endif
