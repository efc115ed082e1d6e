#include "daemon/channel.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *const verbs[] = {
	[CHANNEL_LIKE] = "like",
	[CHANNEL_DISLIKE] = "dislike",
	[CHANNEL_BAN] = "ban",
	[CHANNEL_UNLIKE] = "unlike",
	[CHANNEL_UNBAN] = "unban",
	[CHANNEL_BAN_ARTIST] = "ban-artist",
	[CHANNEL_BAN_ALBUM] = "ban-album",
	[CHANNEL_UNBAN_ARTIST] = "unban-artist",
	[CHANNEL_UNBAN_ALBUM] = "unban-album",
};

const char *channel_verb_name(enum channel_verb v)
{
	return verbs[v];
}

bool channel_parse(const char *text, struct channel_msg *m, char *err,
		   size_t err_size)
{
	memset(m, 0, sizeof *m);
	size_t len = strnlen(text, CHANNEL_MAX + 1);
	if (len > CHANNEL_MAX) {
		snprintf(err, err_size, "message longer than %d bytes",
			 CHANNEL_MAX);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (iscntrl((unsigned char)text[i]) && text[i] != '\t') {
			snprintf(err, err_size,
				 "control character at byte %zu", i);
			return false;
		}
	}
	const char *p = text;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t wlen = strcspn(p, " \t");
	if (wlen == 0) {
		snprintf(err, err_size, "empty message");
		return false;
	}
	size_t v;
	for (v = 0; v < sizeof verbs / sizeof *verbs; v++)
		if (strlen(verbs[v]) == wlen && !strncmp(p, verbs[v], wlen))
			break;
	if (v == sizeof verbs / sizeof *verbs) {
		snprintf(err, err_size,
			 "unknown command '%.*s' (expected like, dislike, "
			 "ban, unlike, unban, ban-artist, ban-album, "
			 "unban-artist or unban-album)",
			 (int)(wlen > 32 ? 32 : wlen), p);
		return false;
	}
	m->verb = (enum channel_verb)v;
	p += wlen;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t ulen = strlen(p);
	while (ulen > 0 && (p[ulen - 1] == ' ' || p[ulen - 1] == '\t'))
		ulen--;
	memcpy(m->uri, p, ulen);
	m->uri[ulen] = '\0';
	return true;
}
