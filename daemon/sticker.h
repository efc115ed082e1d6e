/* MPD stickers, opt-in (feedback.stickers). mpdrec reads myMPD's `like`
 * sticker (0 hate, 1 neutral, 2 love) and `rating` sticker (0-10, 0 or unset:
 * no rating) on songs as explicit labels, and writes each track's score to
 * a `mpdrec_score` sticker ("0.873") so other clients can show it.
 *
 * Three layers: a pure rule (sticker_label), stateless MPD calls
 * (sticker_read_labels, sticker_read_scores, sticker_write_scores), and a
 * small state for the daemon (struct sticker) that remembers which labels
 * were already turned into events and which scores MPD already holds, so
 * that each idle event or fill costs a few lines and bounded MPD traffic.
 *
 * MPD calls return -1 (or false) on any error and leave the error on the
 * connection for the caller (link_check): a server error that clears means
 * this MPD has no sticker database ("unknown command" or "sticker database
 * is disabled" when mpd.conf has no sticker_file). */
#ifndef MPDREC_STICKER_H
#define MPDREC_STICKER_H

#include <stdbool.h>
#include <stddef.h>

struct learn;
struct link;
struct mpd_connection;
struct store;

/** The sticker mpdrec writes its scores to. */
#define STICKER_SCORE_NAME "mpdrec_score"
/** A score is written again only when it moved by at least this much (the
 *  model changes every score a little at every event). */
#define STICKER_SCORE_STEP 0.01f
/** Sticker sets per command list: MPD reads a whole list before running it
 *  and refuses one above its max_command_list_size (2 MiB by default). */
#define STICKER_MAX_PER_LIST 256
/** Scores sticker_after_fill() writes at most per call. */
#define STICKER_PUSH_BUDGET 50
/** Pause the daemon leaves between two such calls while scores are left
 *  to write (a first pass over a large library, a retrained model). */
#define STICKER_PUSH_PAUSE_S 2.0

/** Maps one sticker to a label, as myMPD means it: `like` "2" (love) is 1,
 *  "0" (hate) is 0, "1" (neutral) is -1; `rating` 7 to 10 is 1, 1 to 3 is 0,
 *  0 (unset) and 4 to 6 are -1. The value must be a plain decimal integer
 *  ("7", not " 7", "7.5", "+7" or "0x7"); anything else, and any other
 *  sticker name, is -1 (no label). NULL arguments are -1. */
int sticker_label(const char *name, const char *value);

/** Combines the labels of one song's two stickers: `like` decides when it
 *  says love or hate, else `rating` does (a loved song rated 2 is liked:
 *  love/hate is the deliberate gesture). Returns 1, 0 or -1. */
int sticker_combine(int like_label, int rating_label);

/** Called once per song with a label (1 like, 0 dislike), in URI order.
 *  uri and why ("like=2", "rating=8": the sticker that decided) are
 *  borrowed for the call. Returning false stops the walk. */
typedef bool (*sticker_label_fn)(const char *uri, int label, const char *why,
				 void *ctx);

/** Reads the `like` and `rating` stickers of every song in MPD's database
 *  (`sticker find song "" like`, then `rating`), combines them per song
 *  (sticker_combine) and calls fn for each song with a label. Returns the
 *  number of songs with a label (all of them, even when fn stopped early),
 *  or -1 on an MPD error (left on the connection). */
int sticker_read_labels(struct mpd_connection *c, sticker_label_fn fn,
			void *ctx);

/** Reads every `mpdrec_score` sticker: fn(uri, score, ctx) per song, uri
 *  borrowed; score is NaN when the value is not a number in [0, 1].
 *  Returns the count, or -1 on an MPD error (left on the connection). */
int sticker_read_scores(struct mpd_connection *c,
			void (*fn)(const char *uri, float score, void *ctx),
			void *ctx);

/** Writes scores[i] (clamped to [0, 1], three decimals) as the
 *  `mpdrec_score` sticker of uris[i], for i < n, in command lists of at most
 *  max_per_list sets (1 to STICKER_MAX_PER_LIST). NaN scores are skipped. A
 *  song MPD does not know (gone since) is skipped and the rest written.
 *  `written` (may be NULL; n entries) tells which were written. Returns how
 *  many were written, or -1 on any other MPD error (left on the
 *  connection; some may have been written). Holds MPD's attention for the
 *  whole call: the caller bounds n (see sticker_push_scores). */
int sticker_write_scores(struct mpd_connection *c, const char *const *uris,
			 const float *scores, int n, int max_per_list,
			 bool *written);

/* --- the daemon's state ------------------------------------------------ */

struct sticker;

/** An empty state: no label seen, no score known to be on MPD. Returns NULL
 *  when out of memory. Free with sticker_free(). */
struct sticker *sticker_new(void);

/** Frees. Accepts NULL. */
void sticker_free(struct sticker *s);

/** Seeds the labels already recorded: for each URI, the newest event of
 *  source "sticker" in the store (kind LIKE or DISLIKE), so that a restart
 *  does not record every sticker again. Call once after sticker_new().
 *  Returns false on a store error (store_error says why). */
bool sticker_seed(struct sticker *s, struct store *st);

/** Notes that uri's sticker label `label` (1, 0, or -1: none) is recorded,
 *  as sticker_seed does for one event. uri is copied. Returns false when
 *  out of memory. */
bool sticker_note_label(struct sticker *s, const char *uri, int label);

/** Reads the labels (sticker_read_labels) and calls fn only for songs whose
 *  label differs from the one last recorded: new stickers, and love turned
 *  to hate. A song whose stickers went neutral or away is forgotten without
 *  a call, so loving it again later counts again. Returns the number of new
 *  labels (fn calls), or -1 on an MPD error (left on the connection; the
 *  state is unchanged). */
int sticker_poll_labels(struct sticker *s, struct mpd_connection *c,
			sticker_label_fn fn, void *ctx);

/** Learns which scores MPD already holds (sticker_read_scores) and forgets
 *  what was assumed before, e.g. after a reconnect (MPD may have been
 *  restarted with another sticker file). Returns the count, or -1 on an
 *  MPD error (left on the connection). */
int sticker_load_scores(struct sticker *s, struct mpd_connection *c);

/** Writes the scores of at most `budget` of the n tracks (uris and scores
 *  borrowed, as learn_library()->uri and learn_scores() give them) whose
 *  score differs by STICKER_SCORE_STEP or more from what MPD holds (or is
 *  not known to hold). Goes round the library from where the last call
 *  stopped, so every track gets its turn. `left` (may be NULL) receives how
 *  many still differ after this call. Returns the number written, or -1 on
 *  an MPD error (left on the connection). */
int sticker_push_scores(struct sticker *s, struct mpd_connection *c,
			const char *const *uris, const float *scores, int n,
			int budget, int *left);

/* --- the daemon's three calls (over its link, with logging) ------------ */

/* Each is called while no idle command is outstanding. A server error
 * (MPD has no sticker database, or refuses the command to this client) is
 * logged once and turns stickers off until the next sticker_on_connect();
 * a lost connection is left to the link (link_check dropped it). */

/** After (re)connecting: learns which scores MPD holds, then reports new
 *  labels through fn (see sticker_poll_labels). Returns false when the
 *  connection was lost. */
bool sticker_on_connect(struct sticker *s, struct link *l,
			sticker_label_fn fn, void *ctx);

/** After an idle event with MPD_IDLE_STICKER: reports new labels through
 *  fn. mpdrec's own score writes raise that event too; then nothing is
 *  new, and the cost is two `sticker find` commands. Returns false when
 *  the connection was lost. */
bool sticker_on_change(struct sticker *s, struct link *l,
		       sticker_label_fn fn, void *ctx);

/** After a fill (learn_refresh_scores): writes up to STICKER_PUSH_BUDGET
 *  of the library's scores that moved (sticker_push_scores over
 *  learn_library() and learn_scores()). Returns how many still differ
 *  (> 0: call again in STICKER_PUSH_PAUSE_S), 0, or -1 when the connection
 *  was lost. */
int sticker_after_fill(struct sticker *s, struct link *l,
		       struct learn *learn);

#endif
