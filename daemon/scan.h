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

#include <stdbool.h>

struct conf;

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
 *  notify_fd (or nothing if -1) so the daemon's poll() wakes up. Returns
 *  NULL when out of memory. Free with scan_free(). */
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

/** Stops a running pass (workers finish their current file, at most the
 *  per-file time bound) and frees. Accepts NULL. */
void scan_free(struct scan *s);

#endif
