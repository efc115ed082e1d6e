/* A real MPD for integration tests: Debian's `mpd` started on a free loopback
 * port, with a `null` output (sync on: it plays in real time), a temporary
 * music and state directory, and no autostart of anything else. */
#ifndef MPDREC_MPDTEST_H
#define MPDREC_MPDTEST_H

#include <stdbool.h>
#include <sys/types.h>

struct mpd_connection;

struct mpdtest {
	pid_t pid;
	unsigned port;
	char dir[4096];		/* root: music/, mpd.conf, state files */
	char music[4096];	/* music_directory; put tracks here */
};

/** Starts MPD under `root` (made if needed; music in root/music). Waits until
 *  it answers. Returns false with a message on stderr when it cannot. */
bool mpdtest_start(struct mpdtest *t, const char *root);

/** Starts MPD again on the same port and directories (after a stop/kill). */
bool mpdtest_restart(struct mpdtest *t);

/** Stops MPD (SIGTERM, then SIGKILL after 3 s) and waits for it. */
void mpdtest_stop(struct mpdtest *t);

/** Kills MPD with SIGKILL and waits for it. */
void mpdtest_kill(struct mpdtest *t);

/** Connects to it; NULL on failure. Caller frees with mpd_connection_free. */
struct mpd_connection *mpdtest_connect(const struct mpdtest *t);

/** Runs `update` and waits until the database update finished. */
bool mpdtest_update(const struct mpdtest *t);

/** Writes an mpdrec configuration to path for MPD t: its address,
 *  music_directory music (t->music when NULL), data_directory data, then
 *  the printf-formatted libconfig text fmt. Returns false when it cannot
 *  write. */
bool mpdtest_write_mpdrec_conf(const struct mpdtest *t, const char *path,
			       const char *music, const char *data,
			       const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#endif
