/* Messages on MPD's client-to-client channel "mpdrec": `like`, `dislike`,
 * `ban`, `unlike` or `unban`, for the current song or for a URI given as the
 * rest of the text; `ban-artist`, `ban-album`, `unban-artist` and
 * `unban-album` with a name (none: the current song's)
 * (`mpc sendmessage mpdrec "like some/dir/song.flac"`). Parsing is pure and
 * bounded, so a hostile message is refused, never trusted. */
#ifndef MPDREC_CHANNEL_H
#define MPDREC_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>

#define CHANNEL_NAME "mpdrec"
/** Longest message accepted, in bytes. */
#define CHANNEL_MAX 1024

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

#endif
