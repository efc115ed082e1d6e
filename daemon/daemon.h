/* The daemon: it watches MPD, turns song changes into events, learns from
 * them and keeps the queue filled, until SIGTERM or SIGINT; SIGHUP reloads
 * the configuration. The loop sleeps in poll() on MPD's socket, the
 * channel's connection and a self-pipe (signals, background threads). One
 * daemon per data directory (daemon/instance.h). */
#ifndef MPDREC_DAEMON_H
#define MPDREC_DAEMON_H

#include <stdbool.h>

struct conf;

struct daemon_options {
	bool background;	/* fork, detach, stdio to /dev/null */
	const char *pidfile;	/* the pid goes there (a live one is
				   refused, a stale one taken over); NULL:
				   none */
};

/** Runs the daemon on configuration *c (borrowed during the call; the
 *  daemon keeps its own copy, which SIGHUP replaces) until SIGTERM or
 *  SIGINT. Logs what goes wrong. Returns the exit status: 0 after a clean
 *  stop, 1 when it could not start (another daemon runs on the data
 *  directory, the pidfile is taken or cannot be written, ...) or could not
 *  save the model. With o->background the first process exits with that
 *  status for a start that failed, 0 once the daemon runs. */
int daemon_run(const struct conf *c, const struct daemon_options *o);

#endif
