/* libFuzzer harness: the channel-message parser (daemon/channel.h).
 *
 * The input, NUL-terminated (it may hold NULs of its own: the parser sees the
 * text up to the first), is one message of the "mpdrec" channel. Whatever it
 * holds, channel_parse() must not crash, must explain a refusal, and must
 * hand back a bounded URI free of control characters.
 */
#include "daemon/channel.h"
#include "tests/fuzz/fuzz_common.h"

#include <ctype.h>
#include <string.h>

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
	FUZZ_CHECK(m.verb == CHANNEL_LIKE || m.verb == CHANNEL_DISLIKE ||
			   m.verb == CHANNEL_BAN,
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
