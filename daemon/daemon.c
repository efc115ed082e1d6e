/* The daemon. It sleeps in poll() on MPD's socket and a
 * self-pipe (signals, background threads), turns song changes into events,
 * learns from them, and keeps the queue filled. */
#include "conf/conf.h"
#include "core/store.h"
#include "core/util.h"
#include "daemon/channel.h"
#include "daemon/daemon.h"
#include "daemon/fill.h"
#include "daemon/learn.h"
#include "daemon/link.h"
#include "daemon/log.h"
#include "daemon/scan.h"
#include "daemon/sticker.h"
#include "daemon/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mpd/client.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IDLE_MASK (MPD_IDLE_PLAYER | MPD_IDLE_QUEUE | MPD_IDLE_DATABASE | \
		   MPD_IDLE_OPTIONS | MPD_IDLE_MESSAGE)
/* Explicit feedback weighs more than what the watcher infers. */
#define EXPLICIT_WEIGHT 2.0
#define BAN_WEIGHT 3.0
/* How often events that could not be stored (full disk) are retried. */
#define RETRY_STORE_S 5.0
#define MAX_PENDING 10000

static volatile sig_atomic_t got_term, got_hup;
static int wake_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
	char b = 's';
	ssize_t rc = write(wake_pipe[1], &b, 1);
	(void)rc;
	errno = saved;
}

/* An event that could not be stored yet; strings owned. */
struct pending {
	struct store_event e;
	char *uri;
	char *source;
};

struct daemon {
	struct conf conf;	/* owned; replaced in place on SIGHUP */
	struct store *store;
	struct learn *learn;
	struct fill *fill;
	struct link *link;
	struct scan *scan;
	struct sticker *sticker;	/* NULL: feedback.stickers off */
	struct watch watch;
	bool idle;		/* an idle command is outstanding */
	double fill_at;		/* monotonic time of the next fill, 0 none */
	bool was_playing;
	bool scan_wanted;
	struct pending *pending;
	int n_pending;
	double retry_at;
};

static void schedule_fill(struct daemon *d, double delay_s)
{
	double at = util_mono() + delay_s;
	if (d->fill_at == 0 || at < d->fill_at)
		d->fill_at = at;
}

/* Stores one event durably; on failure (full disk, ...) keeps a copy to
 * store later, so nothing is lost while MPD goes on playing. */
static bool record(struct daemon *d, struct store_event *e)
{
	if (d->n_pending == 0 && store_add_event(d->store, e))
		return true;
	if (d->n_pending == 0)
		log_error("cannot store an event (will retry every %.0f s): %s",
			  RETRY_STORE_S, store_error(d->store));
	if (d->n_pending >= MAX_PENDING) {
		log_error("%d events wait to be stored; dropping %s",
			  d->n_pending, e->uri);
		return false;
	}
	struct pending *p = realloc(d->pending,
				    (size_t)(d->n_pending + 1) * sizeof *p);
	if (!p)
		return false;
	d->pending = p;
	p += d->n_pending++;
	p->e = *e;
	p->uri = strdup(e->uri);
	p->source = strdup(e->source ? e->source : "watch");
	p->e.uri = p->uri;
	p->e.source = p->source;
	if (d->retry_at == 0)
		d->retry_at = util_mono() + RETRY_STORE_S;
	return false;
}

static void retry_pending(struct daemon *d)
{
	int done = 0;
	while (done < d->n_pending &&
	       store_add_event(d->store, &d->pending[done].e)) {
		free(d->pending[done].uri);
		free(d->pending[done].source);
		done++;
	}
	if (done > 0) {
		memmove(d->pending, d->pending + done,
			(size_t)(d->n_pending - done) * sizeof *d->pending);
		d->n_pending -= done;
	}
	if (d->n_pending == 0) {
		if (done > 0)
			log_info("stored %d events that had waited", done);
		d->retry_at = 0;
	} else {
		d->retry_at = util_mono() + RETRY_STORE_S;
	}
}

/* One labelled or unlabelled event: stored first, then learned from. */
static void feedback(struct daemon *d, const char *uri, enum store_kind kind,
		     int label, double weight, double played, double duration,
		     const char *source)
{
	struct store_event e = {
		.time = util_epoch(),
		.uri = uri,
		.kind = kind,
		.played = played,
		.duration = duration,
		.label = label,
		.weight = weight,
		.source = source,
		.queued_by_us = fill_queued_by_us(d->fill, uri),
	};
	bool stored = record(d, &e);
	if (stored)
		log_info("event %lld: %s %s (label %d, weight %.2f)",
			 (long long)e.id, store_kind_name(kind), uri, label,
			 weight);
	if (stored && !store_set_pick_outcome(d->store, uri, label))
		log_warning("pick outcome: %s", store_error(d->store));
	if (label >= 0 && !learn_event(d->learn, uri, label, weight, e.time))
		log_debug("%s is not analysed yet: learned at the next "
			  "retrain", uri);
}

static void on_verdict(struct daemon *d, const struct watch_verdict *v)
{
	enum store_kind kind = v->kind == WATCH_LIKE ? STORE_KIND_PLAYED :
			       v->kind == WATCH_SKIP ? STORE_KIND_SKIPPED :
						       STORE_KIND_UNLABELLED;
	int label = v->kind == WATCH_LIKE ? 1 : v->kind == WATCH_SKIP ? 0 : -1;
	log_debug("%s: %s after %.1f of %.1f s heard", v->uri, v->why,
		  v->played, v->duration);
	fill_note_played(d->fill, v->uri);
	feedback(d, v->uri, kind, label, v->weight, v->played, v->duration,
		 "watch");
}

/* Looks at MPD's player and feeds the watcher. */
static bool observe(struct daemon *d)
{
	struct mpd_connection *c = link_conn(d->link);
	struct mpd_status *st = mpd_run_status(c);
	if (!st)
		return link_check(d->link, "status", util_mono());
	struct mpd_song *song = NULL;
	enum mpd_state state = mpd_status_get_state(st);
	if (state == MPD_STATE_PLAY || state == MPD_STATE_PAUSE) {
		song = mpd_run_current_song(c);
		if (!song && !link_check(d->link, "currentsong", util_mono())) {
			mpd_status_free(st);
			return false;
		}
	}
	struct watch_obs o = {
		.now = util_mono(),
		.state = state == MPD_STATE_PLAY ? WATCH_PLAY :
			 state == MPD_STATE_PAUSE ? WATCH_PAUSE : WATCH_STOP,
		.song_id = song ? (int)mpd_song_get_id(song) : -1,
		.uri = song ? mpd_song_get_uri(song) : NULL,
		.elapsed = mpd_status_get_elapsed_ms(st) / 1000.0,
		.duration = song ? mpd_song_get_duration_ms(song) / 1000.0 : 0,
	};
	log_debug("player: %s song %d at %.2f of %.2f s",
		  o.state == WATCH_PLAY ? "play" :
		  o.state == WATCH_PAUSE ? "pause" : "stop",
		  o.song_id, o.elapsed, o.duration);
	struct watch_verdict v;
	if (watch_observe(&d->watch, &o, &v))
		on_verdict(d, &v);
	d->was_playing = state == MPD_STATE_PLAY ||
			 (d->was_playing && state == MPD_STATE_STOP &&
			  mpd_status_get_queue_length(st) > 0 &&
			  mpd_status_get_song_pos(st) < 0);
	if (song)
		mpd_song_free(song);
	mpd_status_free(st);
	return true;
}

struct tag_copy {
	enum store_group g;
	char *name;
	size_t size;
};

static bool copy_group_tag(const struct store_track_info *t, void *ctx)
{
	struct tag_copy *c = ctx;
	const char *v = c->g == STORE_GROUP_ARTIST ? t->artist : t->album;
	snprintf(c->name, c->size, "%s", v ? v : "");
	return true;
}

/* unlike, unban and the artist and album bans: a change of the store (the
 * CLI may have made it already; each is idempotent), then the library is
 * read again so the queue follows at once. */
static void on_undo_or_group(struct daemon *d, const struct channel_msg *m)
{
	const char *verb = channel_verb_name(m->verb);
	bool group = m->verb >= CHANNEL_BAN_ARTIST;
	enum store_group g = m->verb == CHANNEL_BAN_ARTIST ||
				     m->verb == CHANNEL_UNBAN_ARTIST
			     ? STORE_GROUP_ARTIST : STORE_GROUP_ALBUM;
	char name[CHANNEL_MAX];
	snprintf(name, sizeof name, "%s", m->uri);
	if (!name[0] && d->watch.uri) {
		if (!group) {
			snprintf(name, sizeof name, "%s", d->watch.uri);
		} else {
			struct tag_copy tc = { g, name, sizeof name };
			store_get_tags(d->store, d->watch.uri, copy_group_tag,
				       &tc);
		}
	}
	if (!name[0]) {
		log_warning("channel %s: '%s' but %s", CHANNEL_NAME, verb,
			    d->watch.uri ? "the song has no such tag"
					 : "no song is playing");
		return;
	}
	int changed = 0;
	bool ok;
	switch (m->verb) {
	case CHANNEL_UNLIKE:
		ok = store_unlike(d->store, name, &changed);
		break;
	case CHANNEL_UNBAN:
		ok = store_unban(d->store, name, &changed);
		break;
	default:
		ok = store_ban_group(d->store, g, name,
				     m->verb == CHANNEL_BAN_ARTIST ||
					     m->verb == CHANNEL_BAN_ALBUM,
				     &changed);
		break;
	}
	if (!ok) {
		log_error("%s %s: %s", verb, name, store_error(d->store));
		return;
	}
	log_info("%s %s", verb, name);
	char err[256];
	if (!learn_reload_library(d->learn, err, sizeof err))
		log_error("reloading the library: %s", err);
	fill_library_changed(d->fill);
	if (m->verb == CHANNEL_UNLIKE)
		learn_retrain_async(d->learn);
	schedule_fill(d, 0);
}

static void on_message(struct daemon *d, const char *text)
{
	struct channel_msg m;
	char err[160];
	if (!channel_parse(text, &m, err, sizeof err)) {
		log_warning("channel %s: ignored message: %s", CHANNEL_NAME,
			    err);
		return;
	}
	if (m.verb != CHANNEL_LIKE && m.verb != CHANNEL_DISLIKE &&
	    m.verb != CHANNEL_BAN) {
		on_undo_or_group(d, &m);
		return;
	}
	const char *uri = m.uri[0] ? m.uri : d->watch.uri;
	if (!uri) {
		log_warning("channel %s: '%s' but no song is playing",
			    CHANNEL_NAME, channel_verb_name(m.verb));
		return;
	}
	enum store_kind kind = m.verb == CHANNEL_LIKE ? STORE_KIND_LIKE :
			       m.verb == CHANNEL_DISLIKE ? STORE_KIND_DISLIKE :
							   STORE_KIND_BAN;
	feedback(d, uri, kind, m.verb == CHANNEL_LIKE ? 1 : 0,
		 m.verb == CHANNEL_BAN ? BAN_WEIGHT : EXPLICIT_WEIGHT, 0, 0,
		 "channel");
	if (m.verb == CHANNEL_BAN)
		fill_library_changed(d->fill);
}

static bool on_sticker(const char *uri, int label, const char *why,
		       void *ctx)
{
	struct daemon *d = ctx;
	log_info("sticker %s on %s", why, uri);
	feedback(d, uri, label ? STORE_KIND_LIKE : STORE_KIND_DISLIKE, label,
		 EXPLICIT_WEIGHT, 0, 0, "sticker");
	return true;
}

static bool read_messages(struct daemon *d)
{
	struct mpd_connection *c = link_conn(d->link);
	if (!mpd_send_read_messages(c))
		return link_check(d->link, "readmessages", util_mono());
	/* Collect first: the connection is busy until the list ends. */
	char *texts[64];
	int n = 0;
	struct mpd_message *msg;
	while ((msg = mpd_recv_message(c))) {
		if (n < 64 && !strcmp(mpd_message_get_channel(msg),
				      CHANNEL_NAME))
			texts[n++] = strdup(mpd_message_get_text(msg));
		mpd_message_free(msg);
	}
	bool ok = mpd_response_finish(c) ||
		  link_check(d->link, "readmessages", util_mono());
	for (int i = 0; i < n; i++) {
		if (texts[i])
			on_message(d, texts[i]);
		free(texts[i]);
	}
	return ok;
}

static void start_scan(struct daemon *d)
{
	if (!d->conf.music_directory) {
		log_debug("no music_directory: not analysing files");
		return;
	}
	if (!scan_start(d->scan, &d->conf))
		d->scan_wanted = true;	/* one runs: go again after it */
}

static void handle(struct daemon *d, enum mpd_idle mask)
{
	if (mask & MPD_IDLE_PLAYER) {
		if (!observe(d))
			return;
		schedule_fill(d, 0.05);
	}
	if (mask & (MPD_IDLE_QUEUE | MPD_IDLE_OPTIONS))
		schedule_fill(d, d->conf.queue.settle_ms / 1000.0);
	if ((mask & MPD_IDLE_MESSAGE) && !read_messages(d))
		return;
	if ((mask & MPD_IDLE_STICKER) && d->sticker &&
	    !sticker_on_change(d->sticker, d->link, on_sticker, d))
		return;
	if (mask & MPD_IDLE_DATABASE)
		start_scan(d);
}

static void on_connected(struct daemon *d)
{
	d->idle = false;
	/* A daemon that starts mid-song counts only what it sees. */
	watch_reset(&d->watch);
	if (observe(d) && link_up(d->link))
		read_messages(d);
	if (d->sticker && link_up(d->link))
		sticker_on_connect(d->sticker, d->link, on_sticker, d);
	schedule_fill(d, 0);
}

static void on_disconnected(struct daemon *d)
{
	/* No label for the song that was interrupted. */
	watch_reset(&d->watch);
	d->idle = false;
}

static void do_fill(struct daemon *d)
{
	d->fill_at = 0;
	int n = fill_run(d->fill, link_conn(d->link), util_epoch(), d->was_playing);
	if (n < 0)
		link_check(d->link, "filling the queue", util_mono());
	/* Catch up with the last events now that the queue is full. */
	learn_refresh_scores(d->learn);
	/* Scores go out to MPD in small rounds between other work. */
	if (d->sticker && link_up(d->link) &&
	    sticker_after_fill(d->sticker, d->link, d->learn) > 0)
		schedule_fill(d, STICKER_PUSH_PAUSE_S);
}

static void after_scan(struct daemon *d)
{
	struct scan_result r;
	if (!scan_collect(d->scan, &r))
		return;
	if (r.analysed > 0 || r.gone > 0) {
		char err[256];
		if (!learn_reload_library(d->learn, err, sizeof err))
			log_error("reloading the library: %s", err);
		fill_library_changed(d->fill);
		schedule_fill(d, 0);
	}
	if (d->scan_wanted) {
		d->scan_wanted = false;
		start_scan(d);
	}
}

static void reload(struct daemon *d)
{
	got_hup = 0;
	struct conf fresh = { 0 };
	char err[CONF_ERR_SIZE];
	const char *path = d->conf.path;
	bool ok = path ? conf_load(&fresh, path, err, sizeof err)
		       : conf_defaults(&fresh);
	if (ok)
		ok = conf_apply_env(&fresh, getenv("MPD_HOST"),
				    getenv("MPD_PORT"), err, sizeof err);
	if (!ok) {
		log_error("SIGHUP: keeping the old configuration: %s", err);
		conf_free(&fresh);
		return;
	}
	if (fresh.warnings)
		log_warning("%s", fresh.warnings);
	/* The filler and learner point at d->conf: replace it in place. */
	conf_free(&d->conf);
	d->conf = fresh;
	log_threshold = (enum log_level)d->conf.log.level;
	d->watch.rules.end_margin = d->conf.feedback.end_margin;
	d->watch.rules.min_duration = d->conf.feedback.min_duration;
	log_info("configuration reloaded from %s",
		 d->conf.path ? d->conf.path : "(defaults)");
	schedule_fill(d, 0);
}

/* Runs until SIGTERM/SIGINT. */
static void loop(struct daemon *d)
{
	while (!got_term) {
		double now = util_mono();
		if (!link_up(d->link) && now >= link_next_try(d->link) &&
		    link_connect(d->link, now))
			on_connected(d);
		/* Commands cannot be sent while idle: leave idle first. */
		bool due = d->fill_at && now >= d->fill_at;
		if (link_up(d->link) && d->idle && due) {
			enum mpd_idle mask = mpd_run_noidle(link_conn(d->link));
			d->idle = false;
			if (!link_check(d->link, "noidle", now)) {
				on_disconnected(d);
				continue;
			}
			handle(d, mask);
		}
		if (link_up(d->link) && due && d->fill_at &&
		    util_mono() >= d->fill_at)
			do_fill(d);
		if (!link_up(d->link)) {
			on_disconnected(d);
		} else if (!d->idle) {
			enum mpd_idle mask = IDLE_MASK |
				(d->sticker ? MPD_IDLE_STICKER : 0);
			if (mpd_send_idle_mask(link_conn(d->link), mask))
				d->idle = true;
			else if (!link_check(d->link, "idle", util_mono()))
				on_disconnected(d);
		}

		double wake = 0;
		if (d->fill_at)
			wake = d->fill_at;
		if (!link_up(d->link) &&
		    (!wake || link_next_try(d->link) < wake))
			wake = link_next_try(d->link);
		if (d->retry_at && (!wake || d->retry_at < wake))
			wake = d->retry_at;
		int timeout = -1;
		if (wake) {
			double ms = (wake - util_mono()) * 1000.0;
			timeout = ms < 0 ? 0 : ms > 3.6e6 ? 3600000 : (int)ceil(ms);
		}
		struct pollfd fds[2] = {
			{ .fd = wake_pipe[0], .events = POLLIN },
			{ .fd = d->idle ? link_fd(d->link) : -1,
			  .events = POLLIN },
		};
		int rc = poll(fds, 2, timeout);
		if (rc < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents & POLLIN) {
			char buf[64];
			while (read(wake_pipe[0], buf, sizeof buf) > 0)
				;
			if (got_hup)
				reload(d);
			if (learn_collect(d->learn))
				schedule_fill(d, 0);
			after_scan(d);
		}
		if (d->retry_at && util_mono() >= d->retry_at)
			retry_pending(d);
		if (link_up(d->link) && d->idle &&
		    (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			enum mpd_idle mask = mpd_recv_idle(link_conn(d->link),
							   false);
			d->idle = false;
			if (mask == 0 && !link_check(d->link, "idle", util_mono())) {
				on_disconnected(d);
				continue;
			}
			handle(d, mask);
		}
	}
}

static bool setup_signals(void)
{
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return false;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return true;
}

static bool daemonize(const char *pidfile)
{
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return false;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid > 0)
		_exit(0);
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (!log_file_active())
			dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");
		if (!f)
			return false;
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}
	return true;
}

/* Copies the configuration (the daemon owns and reloads its own). */
static bool own_conf(struct conf *dst, const struct conf *src)
{
	char err[CONF_ERR_SIZE];
	bool ok = src->path ? conf_load(dst, src->path, err, sizeof err)
			    : conf_defaults(dst);
	if (ok)
		ok = conf_apply_env(dst, getenv("MPD_HOST"), getenv("MPD_PORT"),
				    err, sizeof err);
	if (!ok)
		return false;
	/* Keep what the command line changed (the log level). */
	dst->log.level = src->log.level;
	return true;
}

int daemon_run(const struct conf *c, const struct daemon_options *o)
{
	bool background = o->background;
	const char *pidfile = o->pidfile;
	struct daemon d = { 0 };
	int rc = 1;
	if (!own_conf(&d.conf, c)) {
		fprintf(stderr, "mpdrec: the configuration changed while "
				"starting\n");
		return 2;
	}
	if (d.conf.log.file &&
	    !log_setup((enum log_level)d.conf.log.level, d.conf.log.file)) {
		fprintf(stderr, "mpdrec: cannot open log file %s: %s\n",
			d.conf.log.file, strerror(errno));
		goto out;
	}
	if (background && !daemonize(pidfile)) {
		log_error("cannot run in the background: %s", strerror(errno));
		goto out;
	}
	if (!setup_signals()) {
		log_error("self-pipe: %s", strerror(errno));
		goto out;
	}
	char err[512];
	d.store = store_open(d.conf.data_directory, err, sizeof err);
	if (!d.store) {
		log_error("%s", err);
		goto out;
	}
	d.learn = learn_new(d.store, &d.conf, wake_pipe[1], err, sizeof err);
	if (!d.learn) {
		log_error("%s", err);
		goto out;
	}
	d.fill = fill_new(&d.conf, d.store, d.learn);
	if (d.conf.feedback.stickers &&
	    (!(d.sticker = sticker_new()) || !sticker_seed(d.sticker, d.store)))
		log_warning("stickers: %s",
			    d.sticker ? store_error(d.store) : "out of memory");
	d.scan = scan_new(wake_pipe[1]);
	struct link_params lp;
	link_params_from_conf(&lp, &d.conf);
	lp.channel = CHANNEL_NAME;
	d.link = link_new(&lp);
	if (!d.fill || !d.scan || !d.link) {
		log_error("out of memory");
		goto out;
	}
	struct watch_rules rules = {
		.end_margin = d.conf.feedback.end_margin,
		.min_duration = d.conf.feedback.min_duration,
	};
	watch_init(&d.watch, &rules);
	log_info("mpdrec %s: %d tracks analysed, data in %s", MPDREC_VERSION,
		 learn_library(d.learn)->n, d.conf.data_directory);
	start_scan(&d);

	loop(&d);

	log_info("stopping");
	rc = 0;
out:
	if (d.scan)
		scan_free(d.scan);
	if (d.link) {
		if (d.idle && link_up(d.link))
			mpd_run_noidle(link_conn(d.link));
		link_free(d.link);
	}
	watch_reset(&d.watch);
	if (d.learn) {
		char e[256];
		if (d.n_pending)
			retry_pending(&d);
		if (!learn_save(d.learn, e, sizeof e)) {
			log_error("saving the model: %s", e);
			rc = 1;
		}
	}
	sticker_free(d.sticker);
	fill_free(d.fill);
	learn_free(d.learn);
	for (int i = 0; i < d.n_pending; i++) {
		log_error("lost event: %s", d.pending[i].uri);
		free(d.pending[i].uri);
		free(d.pending[i].source);
	}
	free(d.pending);
	store_close(d.store);
	if (pidfile && background)
		unlink(pidfile);
	conf_free(&d.conf);
	return rc;
}
