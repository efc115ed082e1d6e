#include "daemon/channel.h"

#include "daemon/link.h"
#include "daemon/log.h"

#include <ctype.h>
#include <errno.h>
#include <mpd/client.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Refused messages logged one by one per minute; the rest are counted. */
#define REFUSALS_LOGGED 10
#define REFUSAL_WINDOW_S 60.0

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

/* --- the answer to readmessages ------------------------------------------ */

void channel_reader_init(struct channel_reader *r)
{
	memset(r, 0, sizeof *r);
}

static bool starts(const char *line, const char *prefix)
{
	return strncmp(line, prefix, strlen(prefix)) == 0;
}

/* A line ended: the end of the answer, a channel's name or a message. */
static void end_line(struct channel_reader *r, channel_text_fn *fn,
		     void *ctx)
{
	bool whole = r->kept == r->size;
	r->line[r->kept] = '\0';
	if (whole && !strcmp(r->line, "OK")) {
		r->done = true;
	} else if (starts(r->line, "ACK ")) {
		snprintf(r->ack, sizeof r->ack, "%.*s",
			 (int)sizeof r->ack - 1, r->line);
		r->done = true;
	} else if (starts(r->line, "channel: ")) {
		r->ours = whole && !strcmp(r->line + 9, CHANNEL_NAME);
	} else if (starts(r->line, "message: ") && r->ours) {
		fn(whole ? r->line + 9 : NULL, r->size - 9, ctx);
	}
	r->kept = 0;
	r->size = 0;
}

size_t channel_reader_feed(struct channel_reader *r, const char *buf,
			   size_t n, channel_text_fn *fn, void *ctx)
{
	size_t i = 0;
	while (i < n && !r->done) {
		const char *nl = memchr(buf + i, '\n', n - i);
		size_t len = (nl ? (size_t)(nl - buf) : n) - i;
		size_t room = CHANNEL_LINE_MAX - r->kept;
		size_t keep = len < room ? len : room;
		memcpy(r->line + r->kept, buf + i, keep);
		r->kept += keep;
		r->size += len;
		i += len;
		if (nl) {
			i++;
			end_line(r, fn, ctx);
		}
	}
	return i;
}

/* --- the daemon's channel connection ------------------------------------ */

struct channel {
	struct link *link;
	unsigned timeout_ms;
	bool idle;		/* an idle command is outstanding */
	double window;		/* start of the refusal-logging window */
	int logged, unlogged;	/* refusals in it logged, and not */
};

static struct link *new_link(const struct link_params *p)
{
	struct link_params q = *p;
	q.channel = CHANNEL_NAME;
	q.role = "channel";
	return link_new(&q);
}

struct channel *channel_new(const struct link_params *p)
{
	struct channel *ch = calloc(1, sizeof *ch);
	if (!ch)
		return NULL;
	ch->link = new_link(p);
	if (!ch->link) {
		free(ch);
		return NULL;
	}
	ch->timeout_ms = p->timeout_ms ? p->timeout_ms : 30000;
	ch->window = -REFUSAL_WINDOW_S;
	return ch;
}

void channel_free(struct channel *ch)
{
	if (!ch)
		return;
	link_free(ch->link);
	free(ch);
}

bool channel_set_params(struct channel *ch, const struct link_params *p)
{
	if (link_same_params(ch->link, p))
		return true;
	struct link *l = new_link(p);
	if (!l)
		return false;
	link_free(ch->link);
	ch->link = l;
	ch->idle = false;
	ch->timeout_ms = p->timeout_ms ? p->timeout_ms : 30000;
	return true;
}

void channel_retry_now(struct channel *ch)
{
	if (!link_up(ch->link))
		link_retry_now(ch->link);
}

double channel_next_try(const struct channel *ch)
{
	return link_next_try(ch->link);
}

int channel_prepare(struct channel *ch, double now)
{
	if (!link_up(ch->link)) {
		ch->idle = false;
		if (now < link_next_try(ch->link) ||
		    !link_connect(ch->link, now))
			return -1;
	}
	if (!ch->idle) {
		if (!mpd_send_idle_mask(link_conn(ch->link),
					MPD_IDLE_MESSAGE)) {
			link_check(ch->link, "idle", now);
			return -1;
		}
		ch->idle = true;
	}
	return link_fd(ch->link);
}

static void refuse(struct channel *ch, double now, const char *why)
{
	if (now - ch->window >= REFUSAL_WINDOW_S) {
		if (ch->unlogged > 0)
			log_warning("channel %s: %d more messages refused in "
				    "the last minute (not logged one by one)",
				    CHANNEL_NAME, ch->unlogged);
		ch->window = now;
		ch->logged = 0;
		ch->unlogged = 0;
	}
	if (ch->logged++ < REFUSALS_LOGGED)
		log_warning("channel %s: ignored message: %s", CHANNEL_NAME,
			    why);
	else
		ch->unlogged++;
}

struct delivery {
	struct channel *ch;
	double now;
	channel_msg_fn *fn;
	void *ctx;
	int count;
};

static void on_text(const char *text, size_t size, void *arg)
{
	struct delivery *d = arg;
	struct channel_msg m;
	char err[160];
	if (!text)
		snprintf(err, sizeof err, "message of %zu bytes, longer than "
			 "%d bytes", size, CHANNEL_MAX);
	else if (strlen(text) != size)
		snprintf(err, sizeof err, "control character at byte %zu",
			 strlen(text));
	else if (channel_parse(text, &m, err, sizeof err)) {
		d->fn(&m, d->ctx);
		d->count++;
		return;
	}
	refuse(d->ch, d->now, err);
}

/* Asks for the waiting messages and reads the answer from the socket
 * itself: libmpdclient keeps a line in a fixed 4 kB buffer and drops the
 * connection on a longer one ("Response line too large"), which a client
 * can send again and again. Here a long line is drained; nothing stays
 * behind on the socket, so libmpdclient goes on with the next idle. */
static int read_messages(struct channel *ch, double now, channel_msg_fn *fn,
			 void *ctx)
{
	int fd = link_fd(ch->link);
	static const char cmd[] = "readmessages\n";
	struct delivery d = { ch, now, fn, ctx, 0 };
	struct channel_reader r;
	channel_reader_init(&r);
	const char *why = NULL;
	size_t sent = 0;
	while (!why && sent < sizeof cmd - 1) {
		ssize_t w = write(fd, cmd + sent, sizeof cmd - 1 - sent);
		if (w > 0)
			sent += (size_t)w;
		else if (w < 0 && errno != EAGAIN && errno != EINTR)
			why = strerror(errno);
		else if (w < 0 && errno == EAGAIN &&
			 poll(&(struct pollfd){ .fd = fd, .events = POLLOUT },
			      1, (int)ch->timeout_ms) == 0)
			why = "MPD took no command";
	}
	char buf[4096];
	while (!why && !r.done) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rc = poll(&pfd, 1, (int)ch->timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0) {
			why = rc == 0 ? "no answer in time" : strerror(errno);
			break;
		}
		ssize_t got = read(fd, buf, sizeof buf);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got <= 0)
			why = got == 0 ? "MPD closed the connection" :
					 strerror(errno);
		else
			channel_reader_feed(&r, buf, (size_t)got, on_text, &d);
	}
	if (why) {
		char what[200];
		snprintf(what, sizeof what, "lost during readmessages: %s",
			 why);
		link_fail(ch->link, what, now);
	} else if (r.ack[0]) {
		log_warning("channel %s: MPD refused readmessages: %s",
			    CHANNEL_NAME, r.ack);
	}
	return d.count;
}

int channel_ready(struct channel *ch, double now, channel_msg_fn *fn,
		  void *ctx)
{
	if (!link_up(ch->link) || !ch->idle)
		return 0;
	enum mpd_idle mask = mpd_recv_idle(link_conn(ch->link), false);
	ch->idle = false;
	if (mask == 0) {
		link_check(ch->link, "idle", now);
		return 0;
	}
	return mask & MPD_IDLE_MESSAGE ? read_messages(ch, now, fn, ctx) : 0;
}
