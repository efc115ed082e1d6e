/* The queue filler: keeps queue.ahead songs after the current one, picked
 * by core/rank's policy from the learner's scores and the affinities learned
 * from the library's folders and tags. It lives with the user's habits:
 * it fills only while MPD plays or is paused (or when the queue ran dry
 * during playback: then it starts it again), never a stopped queue; it only
 * appends, so songs the user added count toward `ahead` and are never moved;
 * it crops played songs beyond queue.keep_played, and removes its own
 * picks of a song that was banned. `mpdrec recommend` goes through
 * fill_choose() too: the same rules, the same policy. */
#ifndef MPDREC_FILL_H
#define MPDREC_FILL_H

#include <stdbool.h>

struct conf;
struct store;
struct learn;
struct mpd_connection;
struct rank_pick;

struct fill;

/** A filler over the learner's library: its groups (folders, tags), the
 *  user's include/exclude rules, the bans (of tracks, artists and albums:
 *  the library's banned flags), and the history of what was heard and
 *  liked, read from the store. conf, store and learn are borrowed and
 *  must outlive it (the configuration may be replaced in place: rules are
 *  reapplied when they change). Returns NULL when out of memory. */
struct fill *fill_new(const struct conf *c, struct store *store,
		      struct learn *learn);

/** Frees. Accepts NULL. */
void fill_free(struct fill *f);

/** Takes the configuration *c from now on (a reload); c is borrowed, as
 *  in fill_new(), until the next fill_set_conf() or fill_free(). Changed
 *  include/exclude rules apply at the next choice. */
void fill_set_conf(struct fill *f, const struct conf *c);

/** The library changed (after learn_reload_library): rebuild the groups,
 *  the rules and the history. */
void fill_library_changed(struct fill *f);

/** An event of uri at epoch time `now`: label 1 like, 0 dislike, -1 none,
 *  with its weight; `heard` when it was played (the watcher's verdicts),
 *  not a like or ban sent for a song. uri borrowed. */
void fill_note_event(struct fill *f, const char *uri, int label,
		     double weight, double now, bool heard);

/** uri was banned (the store records it): it is never picked again, and
 *  mpdrec's own queued copies of it after the current song are removed
 *  from MPD's queue at the next fill_run() (the user's own songs never
 *  are). Artist and album bans reload the library instead
 *  (fill_library_changed()). uri borrowed. */
void fill_ban(struct fill *f, const char *uri);

/** Tops the queue up at epoch time `now`, while MPD plays or is paused,
 *  or when playback ran out of songs since the last call (stopped with no
 *  current song and the queue unchanged, or short of the song consume
 *  mode removed): then it starts playback again with its picks. A queue
 *  the user stopped, cleared or edited while stopped is left alone. Crops
 *  played songs first. Returns the number of songs added (0 when none
 *  were needed, in random mode, when stopped, or when there is nothing to
 *  pick), or -1 when an MPD command failed (the caller checks the
 *  connection). */
int fill_run(struct fill *f, struct mpd_connection *c, double now);

/** Chooses up to `need` tracks for a queue that holds the `n_queued` URIs
 *  `queued` (borrowed; the current song first), at epoch time `now`: the
 *  daemon's and `recommend`'s one policy. Fills out[0..n) (the caller's
 *  array of `need`) and returns n. Remembers them as ours, not in the
 *  store (fill_run does that once MPD took them). No MPD traffic. */
int fill_choose(struct fill *f, const char *const *queued, int n_queued,
		double now, int need, struct rank_pick *out);

/** After the learner rescored the library (learn_refresh_scores), off the
 *  fill path: prepares the ranking's sorted orders for those scores, so
 *  that the next fill_choose() reads a few thousand tracks, not the whole
 *  library. */
void fill_prepare(struct fill *f);

/** The URIs of MPD's current song and those after it (all of the queue
 *  when none is current): *out (the caller frees each and the array).
 *  Returns how many, or -1 on an MPD error. */
int fill_list_queue(struct mpd_connection *c, char ***out);

/** Whether mpdrec queued uri (in this run of the daemon). */
bool fill_queued_by_us(const struct fill *f, const char *uri);

#endif
