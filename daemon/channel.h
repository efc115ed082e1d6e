/* Messages on MPD's client-to-client channel "mpdrec": `like`, `dislike`,
 * `ban`, `unlike` or `unban`, for the current song or for a URI given as the
 * rest of the text; `ban-artist`, `ban-album`, `unban-artist` and
 * `unban-album` with a name (none: the current song's)
 * (`mpc sendmessage mpdrec "like some/dir/song.flac"`).
 *
 * Three layers: the parser of one message (pure and bounded, so a hostile
 * message is refused, never trusted); the reader of MPD's answer to
 * `readmessages` (pure, bounded memory: a line longer than it keeps is
 * drained and counted, never buffered); and the daemon's channel
 * connection, a second MPD connection of its own that is subscribed to the
 * channel and idles on `message` only. Any failure there (libmpdclient's
 * "Response line too large" on a long message, a dropped connection)
 * reconnects that connection alone: the watcher, the queue and the other
 * messages of the batch never notice. */
#ifndef MPDREC_CHANNEL_H
#define MPDREC_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>

#define CHANNEL_NAME "mpdrec"
/** Longest message accepted, in bytes. */
#define CHANNEL_MAX 1024
/** Longest response line the reader keeps; longer ones are drained. */
#define CHANNEL_LINE_MAX (CHANNEL_MAX + 64)

enum channel_verb {
	CHANNEL_LIKE,
	CHANNEL_DISLIKE,
	CHANNEL_BAN,
	CHANNEL_UNLIKE,		/* withdraw the song's likes */
	CHANNEL_UNBAN,		/* lift the song's ban */
	CHANNEL_BAN_ARTIST,	/* uri holds the artist (empty: current's) */
	CHANNEL_BAN_ALBUM,	/* uri holds the album (empty: current's) */
	CHANNEL_UNBAN_ARTIST,
	CHANNEL_UNBAN_ALBUM,
};

struct channel_msg {
	enum channel_verb verb;
	char uri[CHANNEL_MAX];	/* empty: the current song; for the
				   artist and album verbs, the name */
};

/** Parses one message. Returns false with the reason in err (size
 *  err_size) for an empty, oversized, unknown or malformed message. */
bool channel_parse(const char *text, struct channel_msg *m, char *err,
		   size_t err_size);

/** Returns the word for a verb ("like", "dislike", "ban", "unlike",
 *  "unban", "ban-artist", "ban-album", "unban-artist", "unban-album");
 *  static. */
const char *channel_verb_name(enum channel_verb v);

/* --- the answer to readmessages ------------------------------------------ */

/** Called for every message of channel "mpdrec" in an answer: its text
 *  (borrowed for the call; NULL when the message was too long to keep)
 *  and its length in bytes. */
typedef void channel_text_fn(const char *text, size_t size, void *ctx);

/** A reader of one answer to `readmessages`, in bounded memory. */
struct channel_reader {
	char line[CHANNEL_LINE_MAX + 1];
	size_t kept;		/* bytes of the current line in `line` */
	size_t size;		/* bytes of the current line so far */
	bool ours;		/* the last "channel:" line named ours */
	bool done;		/* the answer ended (OK or ACK) */
	char ack[256];		/* MPD's ACK line, "" when it said OK */
};

/** Starts reading a new answer. */
void channel_reader_init(struct channel_reader *r);

/** Feeds n bytes of the answer; calls fn for each complete message line of
 *  our channel. Stops at the end of the answer (r->done) and returns the
 *  bytes it consumed (n, or fewer when the answer ended inside buf). */
size_t channel_reader_feed(struct channel_reader *r, const char *buf,
			   size_t n, channel_text_fn *fn, void *ctx);

/* --- the daemon's channel connection ------------------------------------ */

struct link_params;
struct channel;

/** Called for every message the daemon acts on (refused ones are logged
 *  by the channel and not passed on); *m is borrowed for the call. */
typedef void channel_msg_fn(const struct channel_msg *m, void *ctx);

/** A channel connection to the MPD of *p (copied; its channel and role are
 *  the channel's own), not connected yet. Returns NULL when out of memory.
 *  Free with channel_free(). */
struct channel *channel_new(const struct link_params *p);

/** Disconnects and frees. Accepts NULL. */
void channel_free(struct channel *ch);

/** Points the channel at another MPD (a reload): reconnects when *p
 *  differs from the current parameters. Returns false when out of memory
 *  (the old connection stays). */
bool channel_set_params(struct channel *ch, const struct link_params *p);

/** Does what is due at monotonic time `now`: connects (with the link's
 *  backoff) and starts waiting for messages. Returns the socket to poll
 *  for input, or -1 when there is none (see channel_next_try). */
int channel_prepare(struct channel *ch, double now);

/** Makes the next connection attempt due now: the daemon's own connection
 *  is about to connect, and the channel comes first, so a client that sees
 *  the daemon connected finds the channel subscribed. */
void channel_retry_now(struct channel *ch);

/** When the next connection attempt is due (meaningful while
 *  channel_prepare returns -1). */
double channel_next_try(const struct channel *ch);

/** The socket was readable: reads the messages waiting and calls fn for
 *  each well-formed one; refused ones (too long, malformed) are logged,
 *  at most a few a minute. A failure drops this connection only. Returns
 *  the number of messages passed to fn. */
int channel_ready(struct channel *ch, double now, channel_msg_fn *fn,
		  void *ctx);

#endif
