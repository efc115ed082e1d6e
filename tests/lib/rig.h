/* A test rig for the reliability tests: a test MPD, the daemon under test
 * with its configuration and log, a listener who keeps playing in a thread
 * while both are killed and restarted, and what the tests read back (event
 * ids from the log, the store's events, the model, the daemon's memory).
 */
#ifndef MPDREC_RIG_H
#define MPDREC_RIG_H

#include "tests/lib/mpdtest.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct mpd_connection;

struct rig {
	struct mpdtest mpd;
	char root[4096];	/* everything lives below */
	char data[4200];	/* the daemon's data_directory */
	char conf[4200];	/* its mpdrec.conf */
	char log[4200];		/* its stdout and stderr */
	pid_t pid;		/* the daemon, -1 when not running */
	const char *password;	/* MPD's, for rig_write_conf; NULL none */
};

/** Starts MPD under root/mpd (music in r->mpd.music) and fills in the
 *  paths (data in root/data, root/mpdrec.conf, root/mpdrec.log). Returns
 *  false (message on stderr) when MPD does not start. */
bool rig_start_mpd(struct rig *r, const char *root);

/** Appends `text` to MPD's mpd.conf and restarts MPD with it (a state file,
 *  a password). Returns false when MPD does not come back. */
bool rig_mpd_config(struct rig *r, const char *text);

/** Writes r->conf: MPD's address (and r->password), music_directory,
 *  data_directory r->data, then the printf-formatted libconfig text `fmt`
 *  (may be NULL). Returns false when it cannot write. */
bool rig_write_conf(struct rig *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Starts `mpdrec --config r->conf run` with its output appended to r->log
 *  and waits up to timeout_s for it to log that it is connected to MPD.
 *  Returns false (the daemon may still run: see r->pid) when it did not. */
bool rig_start_daemon(struct rig *r, double timeout_s);

/** Sends sig to the daemon and reaps it (SIGKILL after timeout_s); returns
 *  what proc_stop() returns. No-op returning -2 when none runs. */
int rig_stop_daemon(struct rig *r, int sig, double timeout_s);

/** Waits up to timeout_s for child pid to exit by itself. Returns its exit
 *  status, 128+signal when a signal ended it, or -1 on timeout (it is then
 *  killed and reaped). *seconds (may be NULL) receives the time waited. */
int rig_wait_exit(pid_t pid, double timeout_s, double *seconds);

/** Resident memory of process pid in kB (VmRSS), or -1. */
long rig_rss_kb(pid_t pid);

/** Lines of file `path` from byte `from` on that contain `text`. */
int rig_log_count(const char *path, long from, const char *text);

/** One event as the daemon logged it ("event N: KIND URI (label ..."). */
struct rig_logged {
	int64_t id;
	char kind[16];
	char uri[256];
};

/** Appends the events logged in `path` from byte `from` on to *v (realloc'd
 *  array of *n entries; the caller frees *v). Returns false when out of
 *  memory. */
bool rig_logged_events(const char *path, long from, struct rig_logged **v,
		       int *n);

/** The store's events, oldest first (sorted by id). */
struct rig_event {
	int64_t id;
	double time;
	int kind;
	double played;
	char uri[256];
};

/** Reads every event of the store in data_dir into *v (malloc'd, caller
 *  frees) and *n. Returns false (message in err) when the store does not
 *  open or a read fails. */
bool rig_store_events(const char *data_dir, struct rig_event **v, int *n,
		      char *err, size_t err_size);

/** The event with `id` in v (n entries, sorted by id), or NULL. */
const struct rig_event *rig_find_event(const struct rig_event *v, int n,
				       int64_t id);

/** The words the daemon logs for a store_kind: store_kind_name(). */
const char *rig_kind_word(int kind);

/** Number of pairs of events in v that are the same event stored twice
 *  (same time, URI, kind and time heard). */
int rig_duplicate_events(const struct rig_event *v, int n);

/** Opens the store in data_dir, runs PRAGMA integrity_check and loads the
 *  model blob with model_load(). *had_model tells whether a model was
 *  saved. Returns false with the reason in err when the store does not
 *  open, the check fails, or a saved model does not load. */
bool rig_check_store(const char *data_dir, bool *had_model, char *err,
		     size_t err_size);

/** Counts of the store's tracks by enum store_status (index 0..3). */
bool rig_track_counts(const char *data_dir, int counts[4]);

/* --- a listener in a thread --------------------------------------------- */

struct rig_listener;

/** Starts a listener thread on MPD (listener.h's taste: soft_* to the end,
 *  the rest skipped after skip_s): it turns consume mode on, presses play
 *  whenever MPD stands still with songs queued (as a person would after a
 *  restart that lost its place), queues noisy_00.wav and plays when
 *  nothing is queued, and reconnects whenever MPD goes away.
 *  Returns NULL when the thread cannot start. */
struct rig_listener *rig_listener_start(const struct mpdtest *mpd,
					double skip_s);

/** Songs heard so far (a song that started). */
int rig_listener_heard(struct rig_listener *l);

/** Stops and frees the listener; returns the songs it heard. */
int rig_listener_stop(struct rig_listener *l);

/** Songs queued after the current one and MPD's state (enum mpd_state) on
 *  connection c; false when MPD did not answer. */
bool rig_queue_ahead(struct mpd_connection *c, int *ahead, int *state);

#endif
