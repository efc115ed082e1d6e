/* The library scan: MPD's database into the store, then analysis of new and
 * changed tracks in worker threads.
 *
 * NOTE for the implementer: daemon/daemon.c (the lead's) already calls
 * scan_new / scan_start / scan_collect / scan_free exactly as declared here;
 * keep these declarations and their semantics (add whatever else you need,
 * e.g. the synchronous pass that `mpdrec analyze` runs with a progress
 * callback). */
#ifndef MPDREC_SCAN_H
#define MPDREC_SCAN_H

#include <stdatomic.h>
#include <stdbool.h>

struct conf;

/** Wall-clock bound on one file's decoding and analysis, in seconds: a
 *  stuck file costs at most this much, then it is stored as failed. */
#define SCAN_FILE_TIMEOUT 120.0

/** What a pass did. */
struct scan_result {
	bool ok;		/* false: the pass failed (see error) */
	char error[256];	/* why it failed (MPD unreachable, store...) */
	int listed;		/* songs in MPD's database */
	int analysed;		/* vectors newly stored */
	int failed;		/* files that failed (stored with reasons) */
	int gone;		/* tracks no longer in MPD's database */
	double seconds;		/* wall time */
};

struct scan;

/** A background scanner. When a pass ends, one byte is written to
 *  notify_fd (or nothing if -1) so the daemon's poll() wakes up; bytes
 *  also come while it runs: when the listing is in the store and when
 *  analysed tracks wait for scan_take_analysed(). Returns NULL when out of
 *  memory. Free with scan_free(). */
struct scan *scan_new(int notify_fd);

/** Starts a pass in a background thread at low priority: its own MPD
 *  connection (c->mpd.*) lists the database into its own store connection
 *  (c->data_directory), then c->analysis.jobs workers (0: one per core)
 *  analyse pending tracks below c->music_directory (c->analysis.max_seconds).
 *  Everything needed is copied from *c. Returns false when a pass is
 *  already running (nothing started). */
bool scan_start(struct scan *s, const struct conf *c);

/** If a pass has finished since the last call: joins it, fills *r and
 *  returns true. Returns false while one runs or when none ran. */
bool scan_collect(struct scan *s, struct scan_result *r);

/** Takes the URIs the running (or last) pass analysed and committed since
 *  the last call: *uris (caller frees each and the array) and the count
 *  (0, *uris NULL, when none). notify_fd gets a byte when a batch is
 *  committed while none waited. */
int scan_take_analysed(struct scan *s, char ***uris);


/** Stops a running pass (the files being analysed are abandoned and stay
 *  pending; a read blocked in the kernel can still take up to the per-file
 *  time bound) and frees. Accepts NULL. */
void scan_free(struct scan *s);

/* --- one pass in the caller's thread (mpdrec analyze) -------------------- */

/** Where a pass stands; passed to the progress callback. */
struct scan_progress {
	bool listing;		/* still reading MPD's database */
	int listed;		/* songs read so far */
	int total;		/* tracks to analyse in this pass */
	int done;		/* of those, finished (analysed or failed) */
	int failed;		/* of those, failed */
	double audio_s;		/* audio analysed so far: what was decoded
				 * (at most analysis.max_seconds a track) */
	double audio_total_s;	/* audio the pass plans to analyse (from
				 * MPD's durations): audio_s / audio_total_s
				 * is the share of the work done */
	double track_s;		/* whole length of the tracks analysed so
				 * far: the library's length */
	double elapsed;		/* wall seconds since the analysis began */
	const char *uri;	/* the track just finished, NULL if none */
	const char *error;	/* why it failed, NULL if it did not */
};

/** The figures a progress line shows. */
struct scan_speed {
	double tracks_per_s;
	double realtime;	/* audio analysed per second of wall time */
	double library_realtime; /* the same in whole-track length: what a
				  * library of that length takes, not what
				  * the machine did */
	double eta_s;		/* seconds left; 0 when done, < 0 unknown */
};

/** Computes them from p (the ETA from the audio still to analyse at the
 *  speed so far). */
struct scan_speed scan_progress_speed(const struct scan_progress *p);

/** Called while listing (every 1,000 songs) and after every track. Calls
 *  are serialised (never two at once) but come from worker threads; the
 *  strings are borrowed for the call. */
typedef void scan_progress_fn(const struct scan_progress *p, void *ctx);

/** Called after each batch of results is committed to the store with the
 *  URIs analysed in it (borrowed for the call), from the pass's threads
 *  (serialised with the progress calls): from then on other connections
 *  read their vectors. */
typedef void scan_committed_fn(const char *const *uris, int n, void *ctx);

struct scan_options {
	int jobs;		/* workers; 0: c->analysis.jobs (0: cores) */
	bool low_priority;	/* nice 10 for the workers (the daemon) */
	bool walk;		/* list with lsinfo per directory instead of
				 * one listallinfo (also the fallback when
				 * MPD refuses or drops that) */
	atomic_int *stop;	/* may be NULL; when set non-zero the pass
				 * ends, abandoning the files being analysed
				 * (they stay pending) */
	scan_progress_fn *progress;	/* may be NULL */
	scan_committed_fn *committed;	/* may be NULL */
	void *ctx;
};

/** Runs one pass: lists MPD's database (c->mpd.*: NULL host and 0 port
 *  mean libmpdclient's defaults) into the store under c->data_directory
 *  (new and changed tracks become pending, vanished ones gone), then
 *  analyses the pending tracks below c->music_directory in worker threads,
 *  storing each vector, or each failure with its reason (a failed file is
 *  not tried again until its mtime changes). Fills *r; returns r->ok. A
 *  stop request ends the pass early with r->ok false and "stopped".
 *
 *  What is most useful now is analysed first: the songs in MPD's queue
 *  (the current one, those after it, then those before), then the other
 *  tracks of their folders and albums, then the rest in a random order
 *  (a sample of the whole library grows, not one corner of it). While the
 *  pass runs it looks at the current song every few seconds: when the
 *  listener moved to a song not analysed yet, it and its folder and album
 *  come next. Results are committed at least every quarter second. */
bool scan_run(const struct conf *c, const struct scan_options *o,
	      struct scan_result *r);

#endif
