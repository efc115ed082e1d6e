/* mpdrec ban --artist|--album [NAME], unban [URI | --artist|--album NAME],
 * unlike [URI]: written to the store at once (so they hold even while the
 * daemon is stopped), then told to a running daemon on MPD's channel so
 * its queue follows now. `ban [URI]` alone is feedback (feedback.c). */
#include "conf/conf.h"
#include "core/store.h"
#include "daemon/channel.h"
#include "daemon/cmd/cmd.h"

#include <getopt.h>
#include <mpd/client.h>
#include <stdio.h>
#include <string.h>

/* What one of these commands does. */
struct act {
	enum channel_verb verb;
	const char *what;	/* "artist", "album", "song" */
	char name[CHANNEL_MAX - 32];
};

/* The current song's URI, artist or album from MPD into a->name. */
static bool from_current(const struct conf *c, struct act *a)
{
	struct mpd_connection *m = cmd_connect(c);
	if (!m)
		return false;
	struct mpd_song *song = mpd_run_current_song(m);
	bool ok = false;
	if (!song) {
		fprintf(stderr, "mpdrec: no song is playing: name the %s\n",
			a->what);
	} else {
		const char *v = !strcmp(a->what, "song")
					? mpd_song_get_uri(song)
				: !strcmp(a->what, "artist")
					? mpd_song_get_tag(song, MPD_TAG_ARTIST, 0)
					: mpd_song_get_tag(song, MPD_TAG_ALBUM, 0);
		if (!v)
			fprintf(stderr, "mpdrec: the current song (%s) has no "
				"%s tag\n", mpd_song_get_uri(song), a->what);
		else
			snprintf(a->name, sizeof a->name, "%s", v);
		ok = v != NULL;
		mpd_song_free(song);
	}
	mpd_connection_free(m);
	return ok;
}

/* Tells a running daemon; says so when none listens. */
static void tell_daemon(const struct conf *c, const struct act *a)
{
	char text[CHANNEL_MAX + 1];
	snprintf(text, sizeof text, "%s %s", channel_verb_name(a->verb),
		 a->name);
	bool sent = false;
	/* quietly: the store has it already */
	struct mpd_connection *m = cmd_connect_quiet(c);
	if (m) {
		sent = mpd_run_send_message(m, CHANNEL_NAME, text);
		mpd_connection_free(m);
	}
	if (!sent)
		printf("(no mpdrec daemon was reached through MPD: it reads "
		       "this when it starts)\n");
}

static int apply(const struct conf *c, struct act *a)
{
	struct store *s = cmd_open_store(c);
	if (!s)
		return 1;
	int changed = 0, tracks = 0;
	bool ok;
	enum store_group g = !strcmp(a->what, "artist") ? STORE_GROUP_ARTIST
						       : STORE_GROUP_ALBUM;
	switch (a->verb) {
	case CHANNEL_UNLIKE:
		ok = store_unlike(s, a->name, &changed);
		break;
	case CHANNEL_UNBAN:
		ok = store_unban(s, a->name, &changed);
		break;
	default:
		ok = store_ban_group(s, g, a->name,
				     a->verb == CHANNEL_BAN_ARTIST ||
					     a->verb == CHANNEL_BAN_ALBUM,
				     &changed) &&
		     store_count_group(s, g, a->name, &tracks);
		break;
	}
	if (!ok) {
		fprintf(stderr, "mpdrec: %s\n", store_error(s));
		store_close(s);
		return 1;
	}
	store_close(s);
	switch (a->verb) {
	case CHANNEL_UNLIKE:
		if (changed)
			printf("withdrew %d like%s of %s: the next training "
			       "forgets %s\n", changed, changed == 1 ? "" : "s",
			       a->name, changed == 1 ? "it" : "them");
		else
			printf("%s had no like to withdraw\n", a->name);
		break;
	case CHANNEL_UNBAN:
		printf(changed ? "%s is no longer banned\n"
			       : "%s was not banned\n", a->name);
		break;
	case CHANNEL_BAN_ARTIST:
	case CHANNEL_BAN_ALBUM:
		printf("%s the %s \"%s\" (%d track%s known): mpdrec will not "
		       "queue %s; 'mpdrec unban --%s' undoes it\n",
		       changed ? "banned" : "already banned", a->what, a->name,
		       tracks, tracks == 1 ? "" : "s",
		       tracks == 1 ? "it" : "them", a->what);
		break;
	default:
		printf(changed ? "lifted the ban of the %s \"%s\"\n"
			       : "the %s \"%s\" was not banned\n", a->what,
		       a->name);
		break;
	}
	tell_daemon(c, a);
	return 0;
}

/* Parses [--artist|--album] [NAME]; verbs[0] for a song, [1] artist, [2]
 * album (-1: not allowed). */
static int run_words(int argc, char **argv, const struct conf *c,
		     const int verbs[3], const char *usage)
{
	static const struct option opts[] = {
		{ "artist", no_argument, NULL, 'a' },
		{ "album", no_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	struct act a = { .what = "song" };
	int kind = 0, opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'a' || opt == 'b') {
			kind = opt == 'a' ? 1 : 2;
			a.what = opt == 'a' ? "artist" : "album";
		} else {
			fprintf(stderr, "usage: %s\n", usage);
			return 2;
		}
	}
	if (argc - optind > 1 || verbs[kind] < 0) {
		fprintf(stderr, "usage: %s\n", usage);
		return 2;
	}
	a.verb = (enum channel_verb)verbs[kind];
	if (optind < argc) {
		if (strlen(argv[optind]) >= sizeof a.name || !argv[optind][0]) {
			fprintf(stderr, "mpdrec: the name must have 1 to %zu "
				"bytes\n", sizeof a.name - 1);
			return 2;
		}
		snprintf(a.name, sizeof a.name, "%s", argv[optind]);
	} else if (!from_current(c, &a)) {
		return 1;
	}
	return apply(c, &a);
}

int cmd_ban(int argc, char **argv, const struct conf *c)
{
	bool group = false;
	for (int i = 1; i < argc; i++)
		group |= !strcmp(argv[i], "--artist") ||
			 !strcmp(argv[i], "--album");
	if (!group)
		return cmd_feedback(argc, argv, c);
	static const int verbs[3] = { -1, CHANNEL_BAN_ARTIST,
				      CHANNEL_BAN_ALBUM };
	return run_words(argc, argv, c, verbs,
			 "mpdrec ban [URI] | ban --artist|--album [NAME]");
}

int cmd_unban(int argc, char **argv, const struct conf *c)
{
	static const int verbs[3] = { CHANNEL_UNBAN, CHANNEL_UNBAN_ARTIST,
				      CHANNEL_UNBAN_ALBUM };
	return run_words(argc, argv, c, verbs,
			 "mpdrec unban [URI] | unban --artist|--album [NAME]");
}

int cmd_unlike(int argc, char **argv, const struct conf *c)
{
	static const int verbs[3] = { CHANNEL_UNLIKE, -1, -1 };
	return run_words(argc, argv, c, verbs, "mpdrec unlike [URI]");
}
