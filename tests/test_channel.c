/* Channel messages: the accepted forms and every refusal. */
#include "daemon/channel.h"
#include "tests/lib/harness.h"

#include <string.h>

static void test_verbs_for_current_song(void)
{
	struct channel_msg m;
	char err[128];
	CHECK(channel_parse("like", &m, err, sizeof err));
	CHECK_INT(m.verb, CHANNEL_LIKE);
	CHECK_STR(m.uri, "");
	CHECK(channel_parse("  dislike  ", &m, err, sizeof err));
	CHECK_INT(m.verb, CHANNEL_DISLIKE);
	CHECK_STR(m.uri, "");
	CHECK(channel_parse("ban", &m, err, sizeof err));
	CHECK_INT(m.verb, CHANNEL_BAN);
}

static void test_uri_with_spaces(void)
{
	struct channel_msg m;
	char err[128];
	CHECK(channel_parse("like Some Artist/01 A Song.flac ", &m, err,
			    sizeof err));
	CHECK_INT(m.verb, CHANNEL_LIKE);
	CHECK_STR(m.uri, "Some Artist/01 A Song.flac");
}

static void test_refusals(void)
{
	struct channel_msg m;
	char err[128];
	CHECK(!channel_parse("", &m, err, sizeof err));
	CHECK(strstr(err, "empty") != NULL);
	CHECK(!channel_parse("love", &m, err, sizeof err));
	CHECK(strstr(err, "unknown command 'love'") != NULL);
	CHECK(!channel_parse("likes", &m, err, sizeof err));
	CHECK(!channel_parse("like a\nb", &m, err, sizeof err));
	CHECK(strstr(err, "control character") != NULL);
	char big[CHANNEL_MAX + 10];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big, "like ", 5);
	CHECK(!channel_parse(big, &m, err, sizeof err));
	CHECK(strstr(err, "longer than") != NULL);
	/* Exactly at the bound is accepted. */
	big[CHANNEL_MAX] = '\0';
	CHECK(channel_parse(big, &m, err, sizeof err));
	CHECK_INT(strlen(m.uri), CHANNEL_MAX - 5);
}

/* The undo and group verbs: the rest of the text is the URI or the name,
 * spaces and all. */
static void test_undo_and_group_verbs(void)
{
	struct channel_msg m;
	char err[160];
	static const struct {
		const char *text;
		enum channel_verb verb;
		const char *arg;
	} cases[] = {
		{ "unlike", CHANNEL_UNLIKE, "" },
		{ "unban a/b.flac", CHANNEL_UNBAN, "a/b.flac" },
		{ "ban-artist The Cure", CHANNEL_BAN_ARTIST, "The Cure" },
		{ "ban-album  Disintegration ", CHANNEL_BAN_ALBUM,
		  "Disintegration" },
		{ "unban-artist The Cure", CHANNEL_UNBAN_ARTIST, "The Cure" },
		{ "unban-album X", CHANNEL_UNBAN_ALBUM, "X" },
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		CHECK_MSG(channel_parse(cases[k].text, &m, err, sizeof err),
			  "%s: %s", cases[k].text, err);
		CHECK_INT(m.verb, cases[k].verb);
		CHECK_STR(m.uri, cases[k].arg);
		const char *word = channel_verb_name(m.verb);
		CHECK(!strncmp(cases[k].text, word, strlen(word)));
	}
	CHECK(!channel_parse("ban-genre x", &m, err, sizeof err));
	CHECK(strstr(err, "unban-album") != NULL);
}

int main(void)
{
	RUN(test_verbs_for_current_song);
	RUN(test_undo_and_group_verbs);
	RUN(test_uri_with_spaces);
	RUN(test_refusals);
	return harness_finish();
}
