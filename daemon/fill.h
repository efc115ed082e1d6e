/* The queue filler: keeps queue.ahead songs after the current one, picked
 * by core/rank from the learner's scores. It appends, and removes only its
 * own picks of a song that was banned: songs the user added count toward
 * `ahead` and are never moved or removed. */
#ifndef MPDREC_FILL_H
#define MPDREC_FILL_H

#include <stdbool.h>

struct conf;
struct store;
struct learn;
struct mpd_connection;

struct fill;

/** A filler over the learner's library. store and learn are borrowed and
 *  must outlive it. Returns NULL when out of memory. */
struct fill *fill_new(const struct conf *c, struct store *store,
		      struct learn *learn);

/** Frees. Accepts NULL. */
void fill_free(struct fill *f);

/** Takes the configuration *c from now on (a reload); c is borrowed, as
 *  in fill_new(), until the next fill_set_conf() or fill_free(). */
void fill_set_conf(struct fill *f, const struct conf *c);

/** uri was banned: it is never picked again, and mpdrec's own queued
 *  copies of it after the current song are removed from MPD's queue at
 *  the next fill_run() (the user's own songs never are). uri borrowed. */
void fill_ban(struct fill *f, const char *uri);

/** The library changed (after learn_reload_library): rebuild the index. */
void fill_library_changed(struct fill *f);

/** Notes a song that was heard (for artist spacing and "away from what was
 *  heard lately"). uri borrowed. */
void fill_note_played(struct fill *f, const char *uri);

/** Removes the banned copies fill_ban() asked for, then tops the queue up
 *  at epoch time `now`. `start` allows starting
 *  playback when the queue ran dry while playing. Returns the number of
 *  songs added (0 when none were needed, in random mode, or when there is
 *  nothing to pick), or -1 when an MPD command failed (the caller checks the
 *  connection). */
int fill_run(struct fill *f, struct mpd_connection *c, double now,
	     bool start);

struct rank_pick;

/** Chooses up to `need` tracks for a queue that holds the `n_queued` URIs
 *  `queued` (borrowed), at epoch time `now`: eligibility, then core/rank.
 *  Fills out[0..n) (caller's array of `need`) and returns n. Records them
 *  as picked for artist spacing and "recent", not in the store (fill_run
 *  does that once MPD took them). No MPD traffic: the benchmark's path. */
int fill_choose(struct fill *f, const char *const *queued, int n_queued,
		double now, int need, struct rank_pick *out);

/** Whether mpdrec queued uri (in this run of the daemon). */
bool fill_queued_by_us(const struct fill *f, const char *uri);

#endif
