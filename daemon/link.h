/* The MPD link: connect (TCP or Unix socket, password), reconnect with
 * backoff, and tell fatal errors (drop the connection, reconnect) from
 * clearable ones (log and go on), as libmpdclient distinguishes them. */
#ifndef MPDREC_LINK_H
#define MPDREC_LINK_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct mpd_connection;

struct link_params {
	const char *host;	/* NULL: libmpdclient's default */
	unsigned port;		/* 0: libmpdclient's default */
	const char *password;	/* NULL: none */
	unsigned timeout_ms;
	const char *channel;	/* subscribed on connect, NULL: none */
	const char *role;	/* a second connection's name for the log
				   ("channel"), NULL: the daemon's own */
};

/** Fills *p with the MPD address, password and timeout of *c (borrowed:
 *  valid while *c is); no channel, no role. */
void link_params_from_conf(struct link_params *p, const struct conf *c);

/** Opens one connection now, without retries: connect, send the password,
 *  subscribe to the channel (each when set). Returns the connection, which
 *  the caller frees with mpd_connection_free(), or NULL with the reason in
 *  err ("password refused: ..." for a wrong password); *refused (may be
 *  NULL) tells a refusal by MPD (password, channel) from a failure to
 *  reach it. For the commands and the scan; the daemon's own connection
 *  goes through link_connect(). */
struct mpd_connection *link_open(const struct link_params *p, bool *refused,
				 char *err, size_t err_size);

struct link;

/** A link that is not connected yet. Strings are copied. Returns NULL when
 *  out of memory. Free with link_free(). */
struct link *link_new(const struct link_params *p);

/** Disconnects and frees. Accepts NULL. */
void link_free(struct link *l);

/** Tries to connect now (if not connected). On success logs "connected"
 *  (or "back" after an outage; a link with a role says "ROLE: listening")
 *  and returns true. On failure logs once per outage, schedules the next
 *  try (1 s doubling to 60 s; a wrong password waits 60 s) and returns
 *  false. */
bool link_connect(struct link *l, double now);

/** Whether a connection is up. */
bool link_up(const struct link *l);

/** The connection, borrowed; NULL when down. */
struct mpd_connection *link_conn(struct link *l);

/** The socket to poll, or -1 when down. */
int link_fd(const struct link *l);

/** Makes the next connection attempt due now (a second connection that
 *  follows the daemon's own back after an outage). */
void link_retry_now(struct link *l);

/** Monotonic time of the next connection attempt (meaningful when down). */
double link_next_try(const struct link *l);

/** Checks the connection after a command that failed or may have failed.
 *  Returns true when the connection is usable (no error, or a server error
 *  that was cleared and logged with `what`); false when it was dropped (the
 *  outage is logged and a reconnect scheduled). */
bool link_check(struct link *l, const char *what, double now);

/** Drops the connection (no log line; used at shutdown). */
void link_drop(struct link *l);

/** Drops the connection after a failure the caller saw itself (a raw
 *  read), logs `why` as an outage and schedules a reconnect soon. */
void link_fail(struct link *l, const char *why, double now);

/** Whether *p names the same MPD, password and timeout as the link's. */
bool link_same_params(const struct link *l, const struct link_params *p);

/** The MPD protocol version as "0.23.5", or "" when down; borrowed. */
const char *link_server_version(const struct link *l);

#endif
