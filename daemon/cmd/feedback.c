/* mpdrec like|dislike|ban [URI]: the message on MPD's channel, for the
 * daemon to record. The song is one MPD knows (a URI it does not know is
 * refused, named), or the one playing now; the message names it, so the
 * daemon records the song this command printed even if the next one
 * starts in between. */
#include "conf/conf.h"
#include "daemon/channel.h"
#include "daemon/cmd/cmd.h"

#include <mpd/client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether MPD's database holds the song uri (`find file URI`). Returns 1,
 * 0, or -1 when MPD refused or the connection failed. */
static int known(struct mpd_connection *c, const char *uri)
{
	if (!mpd_search_db_songs(c, true) ||
	    !mpd_search_add_uri_constraint(c, MPD_OPERATOR_DEFAULT, uri) ||
	    !mpd_search_commit(c))
		return -1;
	int found = 0;
	struct mpd_song *s;
	while ((s = mpd_recv_song(c))) {
		found |= strcmp(mpd_song_get_uri(s), uri) == 0;
		mpd_song_free(s);
	}
	return mpd_response_finish(c) ? found : -1;
}

/* What the command did, for the user. */
static void say(enum channel_verb v, const char *uri, bool current)
{
	static const char *const done[] = {
		[CHANNEL_LIKE] = "liked",
		[CHANNEL_DISLIKE] = "disliked",
		[CHANNEL_BAN] = "banned",
	};
	printf("%s %s%s%s\n", done[v], uri, current ? " (playing now)" : "",
	       v == CHANNEL_BAN ? ": mpdrec will not queue it again" : "");
}

/* The URI of the song playing now into *uri (caller frees); 0 when none
 * plays, -1 when MPD failed. */
static int current_uri(struct mpd_connection *c, char **uri)
{
	*uri = NULL;
	struct mpd_song *s = mpd_run_current_song(c);
	if (!s)
		return mpd_connection_get_error(c) == MPD_ERROR_SUCCESS ?
		       0 : -1;
	*uri = strdup(mpd_song_get_uri(s));
	mpd_song_free(s);
	return *uri ? 1 : -1;
}

int cmd_feedback(int argc, char **argv, const struct conf *c)
{
	if (argc > 2) {
		fprintf(stderr, "usage: mpdrec %s [URI]\n", argv[0]);
		return 2;
	}
	const char *verb = argv[0];
	size_t room = CHANNEL_MAX - strlen(verb) - 1;
	if (argc == 2 && strlen(argv[1]) > room) {
		fprintf(stderr, "mpdrec %s: the URI is %zu bytes long; a "
			"channel message holds at most %d bytes, so a URI at "
			"most %zu\n", verb, strlen(argv[1]), CHANNEL_MAX, room);
		return 2;
	}
	char text[CHANNEL_MAX + 1];
	snprintf(text, sizeof text, "%s%s%s", verb, argc == 2 ? " " : "",
		 argc == 2 ? argv[1] : "");
	struct channel_msg m;
	char err[160];
	if (!channel_parse(text, &m, err, sizeof err)) {
		fprintf(stderr, "mpdrec %s: %s\n", verb, err);
		return 2;
	}
	struct mpd_connection *conn = cmd_connect(c);
	if (!conn)
		return 1;
	int rc = 1;
	char *now = NULL;
	int k = m.uri[0] ? known(conn, m.uri) : current_uri(conn, &now);
	if (k < 0)
		fprintf(stderr, "mpdrec %s: MPD refused: %s\n", verb,
			mpd_connection_get_error_message(conn));
	else if (k == 0 && m.uri[0])
		fprintf(stderr, "mpdrec %s: MPD does not know %s (not a song "
			"in its database)\n", verb, m.uri);
	else if (k == 0)
		fprintf(stderr, "mpdrec %s: no song is playing (name one: "
			"mpdrec %s URI)\n", verb, verb);
	else if (now && strlen(now) <= room)
		snprintf(text, sizeof text, "%s %s", verb, now);
	if (k <= 0)
		goto out;
	if (!mpd_run_send_message(conn, CHANNEL_NAME, text)) {
		fprintf(stderr, "mpdrec %s: MPD did not pass the message on: "
			"%s%s\n", verb, mpd_connection_get_error_message(conn),
			mpd_connection_get_error(conn) == MPD_ERROR_SERVER ?
			" (is the mpdrec daemon running?)" : "");
		goto out;
	}
	say(m.verb, now ? now : m.uri, now != NULL);
	rc = 0;
out:
	free(now);
	mpd_connection_free(conn);
	return rc;
}
