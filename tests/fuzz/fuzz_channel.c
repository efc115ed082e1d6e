/* libFuzzer harness: the channel-message parser and the reader of MPD's
 * answer to readmessages (daemon/channel.h).
 *
 * The input, NUL-terminated (it may hold NULs of its own: the parser sees the
 * text up to the first), is one message of the "mpdrec" channel. Whatever it
 * holds, channel_parse() must not crash, must explain a refusal, and must
 * hand back a bounded URI free of control characters. The same bytes, cut
 * in pieces at every 7th byte, are an answer to readmessages: the reader
 * must keep no more than its bound and consume no more than it is given.
 */
#include "daemon/channel.h"
#include "tests/fuzz/fuzz_common.h"

#include <ctype.h>
#include <string.h>

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static void on_text(const char *text, size_t size, void *ctx)
{
	size_t *count = ctx;
	(*count)++;
	if (text)
		FUZZ_CHECK(size <= CHANNEL_LINE_MAX && strlen(text) <= size,
			   "kept a message of %zu bytes", size);
	else
		FUZZ_CHECK(size > CHANNEL_LINE_MAX - 9, "dropped a message of "
			   "%zu bytes", size);
}

static void read_answer(const uint8_t *data, size_t size)
{
	struct channel_reader r;
	channel_reader_init(&r);
	size_t count = 0, at = 0;
	while (at < size && !r.done) {
		size_t piece = size - at < 7 ? size - at : 7;
		size_t used = channel_reader_feed(&r, (const char *)data + at,
						  piece, on_text, &count);
		FUZZ_CHECK(used <= piece, "consumed %zu of %zu", used, piece);
		FUZZ_CHECK(used == piece || r.done, "stopped early");
		FUZZ_CHECK(r.kept <= CHANNEL_LINE_MAX, "kept %zu", r.kept);
		at += used;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_answer(data, size);
	/* An exact-size heap copy, so ASan sees any read past the end. */
	char *text = malloc(size + 1);
	FUZZ_CHECK(text != NULL, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	size_t len = strlen(text);

	struct channel_msg m;
	char err[256];
	err[0] = '\0';
	bool ok = channel_parse(text, &m, err, sizeof err);
	if (!ok) {
		FUZZ_CHECK(err[0] != '\0', "refused without a reason");
		free(text);
		return 0;
	}
	FUZZ_CHECK(len <= CHANNEL_MAX, "accepted %zu bytes (max %d)", len,
		   CHANNEL_MAX);
	FUZZ_CHECK(m.verb >= CHANNEL_LIKE && m.verb <= CHANNEL_UNBAN_ALBUM,
		   "verb %d", (int)m.verb);
	const char *word = channel_verb_name(m.verb);
	FUZZ_CHECK(word != NULL && *word, "no name for verb %d", (int)m.verb);

	size_t ulen = strnlen(m.uri, sizeof m.uri);
	FUZZ_CHECK(ulen < CHANNEL_MAX, "uri not terminated within %d bytes",
		   CHANNEL_MAX);
	/* A tab may sit inside a URI (the parser takes tabs as blanks, and a
	 * file name may hold one); any other control character may not. */
	for (size_t i = 0; i < ulen; i++)
		FUZZ_CHECK(!iscntrl((unsigned char)m.uri[i]) ||
				   m.uri[i] == '\t',
			   "control character 0x%02x at uri byte %zu",
			   (unsigned char)m.uri[i], i);
	if (ulen > 0)
		FUZZ_CHECK(!is_blank(m.uri[0]) && !is_blank(m.uri[ulen - 1]),
			   "uri not trimmed: '%s'", m.uri);

	/* The message is: blanks, the verb's word, then blanks and the URI. */
	const char *p = text;
	while (is_blank(*p))
		p++;
	size_t wlen = strlen(word);
	FUZZ_CHECK(strncmp(p, word, wlen) == 0, "verb '%s' not in '%s'", word,
		   text);
	p += wlen;
	FUZZ_CHECK(*p == '\0' || is_blank(*p), "verb '%s' runs on in '%s'",
		   word, text);
	FUZZ_CHECK(strstr(p, m.uri) != NULL, "uri '%s' not in '%s'", m.uri,
		   text);
	free(text);
	return 0;
}
