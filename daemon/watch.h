/* The play/skip watcher: a stopwatch of played time that runs only while MPD
 * plays (as mpdscribble's), and the rules that turn a song change into a like,
 * a dislike or nothing (shared/DESIGN.md, "Feedback rules"). Free of I/O: the
 * daemon feeds it observations of MPD's status and stores its verdicts. */
#ifndef MPDREC_WATCH_H
#define MPDREC_WATCH_H

#include <stdbool.h>

/** MPD's player state, as the watcher needs it. */
enum watch_state { WATCH_STOP, WATCH_PLAY, WATCH_PAUSE };

/** The verdict on a song that is over. */
enum watch_kind {
	WATCH_LIKE,		/* played to its end */
	WATCH_SKIP,		/* changed with more than the margin left */
	WATCH_NONE,		/* stop, clear, seek to the end, too short... */
};

/** One look at MPD: the time it was taken (monotonic seconds), the state,
 *  the current song (id -1 and uri NULL when none), its elapsed position and
 *  duration in seconds, and whether the queue is empty (cleared). uri is
 *  borrowed for the call. */
struct watch_obs {
	double now;
	enum watch_state state;
	int song_id;
	const char *uri;
	double elapsed;
	double duration;
	bool cleared;
};

/** What the watcher decided about the song that just ended. uri is borrowed
 *  from the watcher and valid until the next watch_observe()/watch_reset(). */
struct watch_verdict {
	enum watch_kind kind;
	const char *uri;
	double played;		/* seconds heard (stopwatch) */
	double position;	/* where it stopped, seconds */
	double duration;
	double weight;		/* how much the verdict counts, (0, 1] */
	const char *why;	/* in words, for the log ("stopped", "seeked
				   to the end", ...), no parentheses;
				   static */
};

/** Thresholds from the configuration. */
struct watch_rules {
	double end_margin;	/* feedback.end_margin, seconds */
	double min_duration;	/* feedback.min_duration, seconds */
};

struct watch {
	struct watch_rules rules;
	int song_id;		/* -1: no song being watched */
	char *uri;		/* owned */
	char *judged_uri;	/* owned: the uri of the last verdict */
	double duration;
	double played;		/* stopwatch total, seconds */
	double position;	/* elapsed at last_time */
	double last_time;	/* monotonic time of the last observation */
	enum watch_state state;
	bool looking;		/* observed since watch_init/watch_reset */
	bool seeked;		/* the song was seeked forward */
	bool joined_late;	/* first seen well into the song */
};

/** Starts a watcher with no song. Free its memory with watch_reset(). */
void watch_init(struct watch *w, const struct watch_rules *rules);

/** Forgets the current song without a verdict (disconnect, shutdown); frees
 *  what the watcher owns. */
void watch_reset(struct watch *w);

/** Feeds one observation. Returns true and fills *v when the song watched so
 *  far is over (another song, stop, a restart under repeat/single); the new
 *  song, if any, is then watched from this observation on. A song already
 *  under way when the watcher starts (a daemon that comes up mid-song)
 *  counts only what the watcher saw; one that began after the watcher's
 *  last look (a daemon that looks late: a stall, a loaded machine) counts
 *  its elapsed time as heard. Returns false otherwise. */
bool watch_observe(struct watch *w, const struct watch_obs *o,
		   struct watch_verdict *v);

/** The end margin for a track: feedback.end_margin, but never more than a
 *  tenth of the track, so short tracks work too. */
double watch_end_margin(double duration, double margin);

/** Whether a song that stopped at `position` after `played` seconds heard was
 *  played to its end: less than the margin left unheard, and nearly all of
 *  it heard (a forward seek to the end is not a full play). */
bool watch_played_to_end(double played, double position, double duration,
			 double margin);

/** Whether `played` seconds of a song of `duration` make a listen, as
 *  mpdscribble counts one: half the song or 4 minutes. A song left after a
 *  listen is no skip (no dislike). */
bool watch_listened(double played, double duration);

/** The weight of a skip at `position`: it falls with the share heard, so a
 *  skip after 5 s says more than one after 80%. Returns a value in
 *  [0.1, 1]. */
double watch_skip_weight(double position, double duration);

#endif
