/* Channel messages: the accepted forms and every refusal; the reader of
 * MPD's answer to readmessages, with lines far past libmpdclient's 4 kB. */
#include "daemon/channel.h"
#include "tests/lib/harness.h"

#include <stdio.h>
#include <stdlib.h>
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

struct seen {
	char text[8][CHANNEL_LINE_MAX + 1];
	size_t size[8];
	int n;
};

static void note(const char *text, size_t size, void *ctx)
{
	struct seen *s = ctx;
	if (s->n < 8) {
		snprintf(s->text[s->n], sizeof s->text[0], "%s",
			 text ? text : "(dropped)");
		s->size[s->n] = size;
	}
	s->n++;
}

/* An answer with a 100,000-byte message between two good ones, and one on
 * another channel: the good ones come through, the long one is drained
 * and reported by size, in pieces of any length. */
static void test_reader_drains_long_lines(void)
{
	size_t big = 100000;
	char *answer = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&answer, &len);
	fprintf(f, "channel: mpdrec\nmessage: like a.flac\n"
		   "channel: mpdrec\nmessage: like ");
	for (size_t i = 0; i < big - 5; i++)
		fputc('x', f);
	fprintf(f, "\nchannel: other\nmessage: ban b.flac\n"
		   "channel: mpdrec\nmessage: dislike\nOK\nchanged: x\n");
	fclose(f);
	size_t pieces[] = { 1, 7, 4096, len };
	for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++) {
		struct channel_reader r;
		struct seen s = { .n = 0 };
		channel_reader_init(&r);
		size_t at = 0;
		while (at < len && !r.done) {
			size_t n = len - at < pieces[k] ? len - at : pieces[k];
			at += channel_reader_feed(&r, answer + at, n, note, &s);
		}
		CHECK(r.done && r.ack[0] == '\0');
		/* Nothing past the answer's OK is consumed. */
		CHECK_INT(at, len - strlen("changed: x\n"));
		CHECK_INT(s.n, 3);
		if (s.n != 3)
			continue;
		CHECK_STR(s.text[0], "like a.flac");
		CHECK_STR(s.text[1], "(dropped)");
		CHECK_INT(s.size[1], big);
		CHECK_STR(s.text[2], "dislike");
		CHECK_INT(s.size[2], 7);
	}
	free(answer);
}

static void test_reader_ack_and_bound(void)
{
	struct channel_reader r;
	struct seen s = { .n = 0 };
	channel_reader_init(&r);
	const char *a = "ACK [5@0] {readmessages} unknown command\n";
	CHECK_INT(channel_reader_feed(&r, a, strlen(a), note, &s), strlen(a));
	CHECK(r.done);
	CHECK_STR(r.ack, "ACK [5@0] {readmessages} unknown command");
	CHECK_INT(s.n, 0);
	/* A message exactly at the bound is kept; one byte more is not. */
	char line[CHANNEL_LINE_MAX + 40];
	for (int extra = 0; extra < 2; extra++) {
		channel_reader_init(&r);
		s.n = 0;
		size_t text = CHANNEL_LINE_MAX - 9 + (size_t)extra;
		int n = snprintf(line, sizeof line,
				 "channel: mpdrec\nmessage: ");
		memset(line + n, 'y', text);
		memcpy(line + n + text, "\nOK\n", 5);
		channel_reader_feed(&r, line, (size_t)n + text + 4, note, &s);
		CHECK(r.done);
		CHECK_INT(s.n, 1);
		CHECK_INT(s.size[0], text);
		CHECK(extra ? !strcmp(s.text[0], "(dropped)") :
			      strlen(s.text[0]) == text);
	}
}

int main(void)
{
	RUN(test_verbs_for_current_song);
	RUN(test_undo_and_group_verbs);
	RUN(test_uri_with_spaces);
	RUN(test_refusals);
	RUN(test_reader_drains_long_lines);
	RUN(test_reader_ack_and_bound);
	return harness_finish();
}
