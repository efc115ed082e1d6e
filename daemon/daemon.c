/* The daemon. It sleeps in poll() on MPD's socket, the channel's own
 * connection and a self-pipe (signals, background threads), turns song
 * changes into events, learns from them, and keeps the queue filled.
 *
 * One road for the options: the daemon holds one immutable configuration
 * value and hands it to each part (the filler and the learner take it with
 * their *_set_conf, the watcher its rules, the links their parameters, the
 * log its level and file, the scan a copy per pass). A reload parses the
 * file in a thread, so a slow or blocked read never delays a song change,
 * then builds a new value, says what changed and hands it round; an option
 * a reload does not apply (conf.c's table) keeps its running value and the
 * log says so. */
#include "conf/conf.h"
#include "core/store.h"
#include "core/util.h"
#include "daemon/channel.h"
#include "daemon/daemon.h"
#include "daemon/fill.h"
#include "daemon/instance.h"
#include "daemon/learn.h"
#include "daemon/link.h"
#include "daemon/log.h"
#include "daemon/scan.h"
#include "daemon/sticker.h"
#include "daemon/version.h"
#include "daemon/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <mpd/client.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IDLE_MASK (MPD_IDLE_PLAYER | MPD_IDLE_QUEUE | MPD_IDLE_DATABASE | \
		   MPD_IDLE_OPTIONS)
/* Explicit feedback weighs more than what the watcher infers. */
#define EXPLICIT_WEIGHT 2.0
#define BAN_WEIGHT 3.0
/* How often events that could not be stored (full disk) are retried. */
#define RETRY_STORE_S 5.0
#define MAX_PENDING 10000
/* Disk set aside for events a full disk refuses (store_reserve). */
#define RESERVE_BYTES (256 * 1024)
/* A reload still reading the file after this long is reported. */
#define RELOAD_SLOW_S 5.0

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

/* A reload: the file is read in a thread of its own. */
struct reload {
	pthread_t thread;
	atomic_bool done;
	char *path;		/* NULL: the defaults */
	char *mpd_host, *mpd_port;	/* the environment's, copied */
	struct conf fresh;
	bool ok;
	char err[CONF_ERR_SIZE];
	double started;		/* monotonic */
	bool said_slow;
};

struct daemon {
	struct conf *conf;	/* owned, immutable; a reload replaces it */
	struct store *store;
	struct instance *instance;
	struct learn *learn;
	struct fill *fill;
	struct link *link;
	struct channel *channel;
	struct scan *scan;
	struct sticker *sticker;	/* NULL: feedback.stickers off */
	struct watch watch;
	struct reload *reload;	/* being read, NULL none */
	bool reload_again;	/* SIGHUP while one was read */
	bool idle;		/* an idle command is outstanding */
	double fill_at;		/* monotonic time of the next fill, 0 none */
	bool scan_wanted;
	struct pending *pending;
	int n_pending;
	double retry_at;
	bool reserve;		/* a reserve was set aside */
	bool replaying;		/* storing what the reserve held */
	double grow_at;		/* monotonic: next round of library growth */
	bool said_informed;	/* "picks follow the model" was logged */
};

static void schedule_fill(struct daemon *d, double delay_s)
{
	double at = util_mono() + delay_s;
	if (d->fill_at == 0 || at < d->fill_at)
		d->fill_at = at;
}

/* --- events: stored, or kept until there is room ----------------------- */

/* Writes the waiting events into the reserve, so a stop (or a kill) with
 * the disk still full loses none of them. */
static void keep_in_reserve(struct daemon *d)
{
	if (!d->reserve || d->replaying)
		return;
	struct store_event *v = malloc(((size_t)d->n_pending + 1) * sizeof *v);
	int kept = 0;
	if (!v) {
		log_error("the reserve: out of memory");
		return;
	}
	for (int i = 0; i < d->n_pending; i++)
		v[i] = d->pending[i].e;
	if (!store_reserve_write(d->store, v, d->n_pending, &kept))
		log_error("%s", store_error(d->store));
	else if (kept < d->n_pending)
		log_warning("the reserve holds %d of the %d events that wait",
			    kept, d->n_pending);
	free(v);
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
	p += d->n_pending;
	p->e = *e;
	p->uri = strdup(e->uri);
	p->source = strdup(e->source ? e->source : "watch");
	if (!p->uri || !p->source) {
		free(p->uri);
		free(p->source);
		log_error("out of memory: dropping %s", e->uri);
		return false;
	}
	d->n_pending++;
	p->e.uri = p->uri;
	p->e.source = p->source;
	if (d->retry_at == 0)
		d->retry_at = util_mono() + RETRY_STORE_S;
	keep_in_reserve(d);
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
		keep_in_reserve(d);
	}
	if (d->n_pending == 0) {
		if (done > 0)
			log_info("stored %d events that had waited", done);
		d->retry_at = 0;
	} else {
		d->retry_at = util_mono() + RETRY_STORE_S;
	}
}

/* The events a run that stopped on a full disk left in the reserve: stored
 * now (once: one stored before that run stopped is found and skipped), or
 * kept waiting for room. Before the learner loads the history, so it
 * learns from them. */
static void replay_reserve(struct daemon *d)
{
	struct store_event *v = NULL;
	int n = 0, old = 0, stored = 0;
	if (!store_reserve_read(d->store, &v, &n)) {
		log_error("%s", store_error(d->store));
		return;
	}
	d->replaying = true;
	for (int i = 0; i < n; i++) {
		bool has = false;
		if (d->n_pending == 0 &&
		    store_has_event(d->store, &v[i], &has) && has)
			old++;
		else
			stored += record(d, &v[i]);
	}
	d->replaying = false;
	if (n > 0) {
		if (stored > 0)
			log_info("stored %d events that had waited in the "
				 "reserve", stored);
		if (old > 0)
			log_info("%d events of the reserve were stored "
				 "already", old);
		keep_in_reserve(d);
	}
	store_reserve_free(v, n);
}

/* One labelled or unlabelled event: stored first, then learned from.
 * `why`: for an event without a label, the reason in words. */
static void feedback(struct daemon *d, const char *uri, enum store_kind kind,
		     int label, double weight, double played, double duration,
		     const char *source, const char *why)
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
	if (stored && label < 0)
		log_info("event %lld: %s %s (%s)", (long long)e.id,
			 store_kind_name(kind), uri, why ? why : "no label");
	else if (stored)
		log_info("event %lld: %s %s (label %d, weight %.2f)",
			 (long long)e.id, store_kind_name(kind), uri, label,
			 weight);
	if (stored && !store_set_pick_outcome(d->store, uri, label))
		log_warning("pick outcome: %s", store_error(d->store));
	fill_note_event(d->fill, uri, label, weight, e.time,
			!strcmp(source, "watch"));
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
	feedback(d, v->uri, kind, label, v->weight, v->played, v->duration,
		 "watch", v->why);
}

/* --- MPD ---------------------------------------------------------------- */

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
		.cleared = state == MPD_STATE_STOP &&
			   mpd_status_get_queue_length(st) == 0,
	};
	log_debug("player: %s song %d at %.2f of %.2f s",
		  o.state == WATCH_PLAY ? "play" :
		  o.state == WATCH_PAUSE ? "pause" : "stop",
		  o.song_id, o.elapsed, o.duration);
	struct watch_verdict v;
	if (watch_observe(&d->watch, &o, &v))
		on_verdict(d, &v);
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

/* A message of the channel's own connection (channel.c refused the bad
 * ones). A ban reaches the filler at once: never picked again, and our
 * queued copies go at the fill that follows now. */
static void on_message(const struct channel_msg *m, void *ctx)
{
	struct daemon *d = ctx;
	if (m->verb != CHANNEL_LIKE && m->verb != CHANNEL_DISLIKE &&
	    m->verb != CHANNEL_BAN) {
		on_undo_or_group(d, m);
		return;
	}
	const char *uri = m->uri[0] ? m->uri : d->watch.uri;
	if (!uri) {
		log_warning("channel %s: '%s' but no song is playing",
			    CHANNEL_NAME, channel_verb_name(m->verb));
		return;
	}
	enum store_kind kind = m->verb == CHANNEL_LIKE ? STORE_KIND_LIKE :
			       m->verb == CHANNEL_DISLIKE ? STORE_KIND_DISLIKE :
							    STORE_KIND_BAN;
	feedback(d, uri, kind, m->verb == CHANNEL_LIKE ? 1 : 0,
		 m->verb == CHANNEL_BAN ? BAN_WEIGHT : EXPLICIT_WEIGHT, 0, 0,
		 "channel", NULL);
	if (m->verb == CHANNEL_BAN) {
		fill_ban(d->fill, uri);
		schedule_fill(d, 0);
	}
}

static bool on_sticker(const char *uri, int label, const char *why,
		       void *ctx)
{
	struct daemon *d = ctx;
	log_info("sticker %s on %s", why, uri);
	feedback(d, uri, label ? STORE_KIND_LIKE : STORE_KIND_DISLIKE, label,
		 EXPLICIT_WEIGHT, 0, 0, "sticker", NULL);
	return true;
}

static void start_scan(struct daemon *d)
{
	if (!d->conf->music_directory) {
		log_debug("no music_directory: not analysing files");
		return;
	}
	if (!scan_start(d->scan, d->conf))
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
		schedule_fill(d, d->conf->queue.settle_ms / 1000.0);
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
	observe(d);
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

/* Labelled events of analysed tracks (both kinds) before the filler's
 * picks follow the model rather than spread over the library. */
#define INFORMED_LABELS 4

/* Tracks the scan analysed join the library in rounds while it runs (the
 * first picks come within a second of the first analysis), appended, not
 * reloaded. A round's cost grows with the library (the filler rebuilds
 * its view), so rounds are spaced by twenty times what the last cost. */
static void grow_library(struct daemon *d)
{
	double t0 = util_mono();
	if (t0 < d->grow_at) {
		schedule_fill(d, d->grow_at - t0);	/* do_fill comes back */
		return;
	}
	char **uris;
	int n = scan_take_analysed(d->scan, &uris);
	if (n == 0)
		return;
	int before = learn_library(d->learn)->n;
	char err[256];
	if (learn_add_tracks(d->learn, (const char *const *)uris, n, err,
			     sizeof err) < 0)
		log_error("adding analysed tracks: %s", err);
	for (int i = 0; i < n; i++)
		free(uris[i]);
	free(uris);
	fill_library_changed(d->fill);
	schedule_fill(d, 0);
	int now_n = learn_library(d->learn)->n;
	if (before == 0 && now_n > 0)
		log_info("first tracks analysed: picks come from the %d "
			 "analysed so far, more every second", now_n);
	double cost = util_mono() - t0;
	d->grow_at = util_mono() + (20 * cost > 0.2 ? 20 * cost : 0.2);
	log_debug("library: %d tracks (+%d) in %.1f ms", now_n,
		  now_n - before, cost * 1e3);
}

/* Says once when picks start following what the model learned. */
static void say_informed(struct daemon *d)
{
	if (d->said_informed || !learn_informed(d->learn, INFORMED_LABELS))
		return;
	int labelled, likes;
	learn_counts(d->learn, &labelled, &likes);
	log_info("picks are informed now: the model learned from %d labels "
		 "(%d likes) of %d analysed tracks", labelled, likes,
		 learn_library(d->learn)->n);
	d->said_informed = true;
}

static void do_fill(struct daemon *d)
{
	d->fill_at = 0;
	grow_library(d);
	say_informed(d);
	int n = fill_run(d->fill, link_conn(d->link), util_epoch());
	if (n < 0)
		link_check(d->link, "filling the queue", util_mono());
	/* Catch up with the last events now that the queue is full. */
	learn_refresh_scores(d->learn);
	fill_prepare(d->fill);
	learn_save_due(d->learn);
	/* Scores go out to MPD in small rounds between other work. */
	if (d->sticker && link_up(d->link) &&
	    sticker_after_fill(d->sticker, d->link, d->learn) > 0)
		schedule_fill(d, STICKER_PUSH_PAUSE_S);
}

static void after_scan(struct daemon *d)
{
	grow_library(d);
	struct scan_result r;
	if (!scan_collect(d->scan, &r)) {
		/* The listing is in the store: before anything is analysed
		 * the filler takes tracks from it. */
		if (learn_library(d->learn)->n == 0)
			schedule_fill(d, 0);
		return;
	}
	d->grow_at = 0;
	grow_library(d);
	if (r.listed > 0) {
		/* Tracks gone, failed or back since the library was loaded
		 * (the analysed ones came in rounds). */
		char err[256];
		if (!learn_reload_library(d->learn, err, sizeof err))
			log_error("updating the library: %s", err);
		fill_library_changed(d->fill);
		schedule_fill(d, 0);
	}
	if (d->scan_wanted) {
		d->scan_wanted = false;
		start_scan(d);
	}
}

/* --- reload -------------------------------------------------------------- */

static void *reload_main(void *arg)
{
	struct reload *r = arg;
	r->ok = r->path ? conf_load(&r->fresh, r->path, r->err, sizeof r->err)
			: conf_defaults(&r->fresh);
	if (r->ok)
		r->ok = conf_apply_env(&r->fresh, r->mpd_host, r->mpd_port,
				       r->err, sizeof r->err);
	atomic_store(&r->done, true);
	char b = 'h';
	ssize_t rc = write(wake_pipe[1], &b, 1);
	(void)rc;
	return NULL;
}

static void reload_free(struct reload *r)
{
	if (!r)
		return;
	conf_free(&r->fresh);
	free(r->path);
	free(r->mpd_host);
	free(r->mpd_port);
	free(r);
}

static char *dup_env(const char *name)
{
	const char *v = getenv(name);
	return v ? strdup(v) : NULL;
}

/* SIGHUP: reads the file in a thread; apply_reload() takes the result. */
static void start_reload(struct daemon *d)
{
	got_hup = 0;
	if (d->reload) {
		d->reload_again = true;
		log_info("SIGHUP: a reload is being read; another follows it");
		return;
	}
	struct reload *r = calloc(1, sizeof *r);
	if (!r || (d->conf->path && !(r->path = strdup(d->conf->path)))) {
		log_error("SIGHUP: out of memory");
		reload_free(r);
		return;
	}
	r->mpd_host = dup_env("MPD_HOST");
	r->mpd_port = dup_env("MPD_PORT");
	atomic_init(&r->done, false);
	r->started = util_mono();
	int e = pthread_create(&r->thread, NULL, reload_main, r);
	if (e) {
		log_error("SIGHUP: cannot start a thread: %s", strerror(e));
		reload_free(r);
		return;
	}
	d->reload = r;
}

/* What a reload changed, to say once the log is where it goes now. */
struct changes {
	size_t applied[64];	/* options, by index */
	int n_applied;
	char kept[8][600];	/* "name changed to x: ..." for the others */
	int n_kept;
};

/* Compares `fresh` with the running configuration: an option a reload
 * does not apply, or one the command line set, keeps its running value.
 * Returns false when out of memory. */
static bool merge(const struct conf *old, struct conf *fresh,
		  struct changes *ch)
{
	ch->n_applied = ch->n_kept = 0;
	for (size_t i = 0; i < conf_option_count(); i++) {
		bool cli = old->source[i] == CONF_SOURCE_COMMAND_LINE;
		if (!cli && conf_option_equal(old, fresh, i))
			continue;
		if (!cli && conf_option_live(i)) {
			if (ch->n_applied < 64)
				ch->applied[ch->n_applied++] = i;
			continue;
		}
		const char *name;
		char was[256], now[256];
		conf_option_describe(old, i, &name, NULL, was, sizeof was,
				     NULL);
		conf_option_describe(fresh, i, NULL, NULL, now, sizeof now,
				     NULL);
		if (!cli && !conf_option_equal(old, fresh, i) && ch->n_kept < 8)
			snprintf(ch->kept[ch->n_kept++], sizeof ch->kept[0],
				 "%s changed to %s: it takes effect at the "
				 "next start (%s until then)", name, now, was);
		if (!conf_option_copy(fresh, old, i))
			return false;
	}
	return true;
}

static void log_changes(const struct conf *old, const struct conf *fresh,
			const struct changes *ch)
{
	for (int k = 0; k < ch->n_applied; k++) {
		const char *name;
		char was[256], now[256];
		conf_option_describe(old, ch->applied[k], &name, NULL, was,
				     sizeof was, NULL);
		conf_option_describe(fresh, ch->applied[k], NULL, NULL, now,
				     sizeof now, NULL);
		log_info("SIGHUP: %s: %s -> %s", name, was, now);
	}
	for (int k = 0; k < ch->n_kept; k++)
		log_warning("SIGHUP: %s", ch->kept[k]);
}

/* The log first, so what follows goes where the new configuration says;
 * every reload opens the file again (after logrotate moved it). */
static void apply_log(const struct conf *old, struct conf *fresh)
{
	if (fresh->log.file &&
	    !log_setup((enum log_level)fresh->log.level, fresh->log.file)) {
		log_error("SIGHUP: cannot open log file %s: %s; the log stays "
			  "where it was", fresh->log.file, strerror(errno));
		conf_option_copy(fresh, old,
				 (size_t)conf_option_index("log.file"));
	} else if (!fresh->log.file && old->log.file) {
		log_close();
	}
	log_threshold = (enum log_level)fresh->log.level;
}

static void apply_link(struct daemon *d)
{
	struct link_params lp;
	link_params_from_conf(&lp, d->conf);
	if (!channel_set_params(d->channel, &lp))
		log_error("SIGHUP: out of memory for the channel");
	if (link_same_params(d->link, &lp))
		return;
	struct link *l = link_new(&lp);
	if (!l) {
		log_error("SIGHUP: out of memory for the MPD link");
		return;
	}
	link_free(d->link);
	d->link = l;
	on_disconnected(d);
}

static void apply_stickers(struct daemon *d, bool was_on)
{
	if (d->conf->feedback.stickers == was_on)
		return;
	if (!d->conf->feedback.stickers) {
		sticker_free(d->sticker);
		d->sticker = NULL;
		return;
	}
	if (!(d->sticker = sticker_new()) ||
	    !sticker_seed(d->sticker, d->store))
		log_warning("stickers: %s", d->sticker ? store_error(d->store) :
			    "out of memory");
	if (d->sticker && link_up(d->link))
		sticker_on_connect(d->sticker, d->link, on_sticker, d);
	/* The idle mask changes: ask again. */
	if (d->idle && link_up(d->link)) {
		mpd_run_noidle(link_conn(d->link));
		d->idle = false;
		link_check(d->link, "noidle", util_mono());
	}
}

/* Whether the scan's options changed. */
static bool scan_changed(const struct conf *a, const struct conf *b)
{
	static const char *const names[] = { "music_directory",
					     "analysis.jobs",
					     "analysis.max_seconds" };
	for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
		int i = conf_option_index(names[k]);
		if (!conf_option_equal(a, b, (size_t)i))
			return true;
	}
	return false;
}

/* The reload thread is done: hands the new value to every part. */
static void apply_reload(struct daemon *d)
{
	struct reload *r = d->reload;
	pthread_join(r->thread, NULL);
	d->reload = NULL;
	struct conf *fresh = malloc(sizeof *fresh);
	struct changes ch;
	if (!r->ok) {
		log_error("SIGHUP: keeping the old configuration: %s", r->err);
	} else if (!fresh || !merge(d->conf, &r->fresh, &ch)) {
		log_error("SIGHUP: out of memory; keeping the old "
			  "configuration");
	} else {
		*fresh = r->fresh;
		memset(&r->fresh, 0, sizeof r->fresh);
		struct conf *old = d->conf;
		apply_log(old, fresh);
		if (fresh->warnings)
			log_warning("%s", fresh->warnings);
		log_changes(old, fresh, &ch);
		d->conf = fresh;
		fresh = NULL;
		d->watch.rules.end_margin = d->conf->feedback.end_margin;
		d->watch.rules.min_duration = d->conf->feedback.min_duration;
		fill_set_conf(d->fill, d->conf);
		learn_set_conf(d->learn, d->conf);
		apply_link(d);
		apply_stickers(d, old->feedback.stickers);
		if (scan_changed(old, d->conf))
			start_scan(d);
		conf_free(old);
		free(old);
		log_info("configuration reloaded from %s",
			 d->conf->path ? d->conf->path : "(defaults)");
		schedule_fill(d, 0);
	}
	free(fresh);
	reload_free(r);
	if (d->reload_again) {
		d->reload_again = false;
		start_reload(d);
	}
}

/* --- the loop ------------------------------------------------------------ */

static void on_wake(struct daemon *d)
{
	char buf[64];
	while (read(wake_pipe[0], buf, sizeof buf) > 0)
		;
	if (got_hup)
		start_reload(d);
	if (d->reload && atomic_load(&d->reload->done))
		apply_reload(d);
	if (learn_collect(d->learn))
		schedule_fill(d, 0);
	after_scan(d);
}

/* A reload that reads for long says so once; the daemon goes on. */
static void watch_reload(struct daemon *d, double now)
{
	struct reload *r = d->reload;
	if (!r || r->said_slow || now < r->started + RELOAD_SLOW_S)
		return;
	r->said_slow = true;
	log_warning("SIGHUP: still reading %s after %.0f s; mpdrec goes on "
		    "with the old configuration meanwhile",
		    r->path ? r->path : "the configuration", RELOAD_SLOW_S);
}

/* Connects, leaves idle for a fill that is due, fills, goes idle. */
static void mpd_work(struct daemon *d, double now)
{
	if (!link_up(d->link) && now >= link_next_try(d->link)) {
		/* The channel first: whoever sees "connected" can send. */
		channel_retry_now(d->channel);
		channel_prepare(d->channel, now);
		if (link_connect(d->link, now))
			on_connected(d);
	}
	/* Commands cannot be sent while idle: leave idle first. */
	bool due = d->fill_at && now >= d->fill_at;
	if (link_up(d->link) && d->idle && due) {
		enum mpd_idle mask = mpd_run_noidle(link_conn(d->link));
		d->idle = false;
		if (!link_check(d->link, "noidle", now)) {
			on_disconnected(d);
			return;
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
}

static double earliest(double a, double b)
{
	return a == 0 || (b != 0 && b < a) ? b : a;
}

/* Runs until SIGTERM/SIGINT. */
static void loop(struct daemon *d)
{
	while (!got_term) {
		double now = util_mono();
		mpd_work(d, now);
		int chfd = channel_prepare(d->channel, util_mono());

		double wake = d->fill_at;
		if (!link_up(d->link))
			wake = earliest(wake, link_next_try(d->link));
		if (chfd < 0)
			wake = earliest(wake, channel_next_try(d->channel));
		wake = earliest(wake, d->retry_at);
		if (d->reload && !d->reload->said_slow)
			wake = earliest(wake, d->reload->started +
					RELOAD_SLOW_S);
		int timeout = -1;
		if (wake) {
			double ms = (wake - util_mono()) * 1000.0;
			timeout = ms < 0 ? 0 :
				  ms > 3.6e6 ? 3600000 : (int)ceil(ms);
		}
		struct pollfd fds[3] = {
			{ .fd = wake_pipe[0], .events = POLLIN },
			{ .fd = d->idle ? link_fd(d->link) : -1,
			  .events = POLLIN },
			{ .fd = chfd, .events = POLLIN },
		};
		int rc = poll(fds, 3, timeout);
		if (rc < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents & POLLIN)
			on_wake(d);
		watch_reload(d, util_mono());
		if (d->retry_at && util_mono() >= d->retry_at)
			retry_pending(d);
		/* Messages before the player's news of the same moment: a
		 * "like" was meant for the song the listener heard. */
		if (fds[2].revents & (POLLIN | POLLHUP | POLLERR))
			channel_ready(d->channel, util_mono(), on_message, d);
		if (link_up(d->link) && d->idle &&
		    (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			enum mpd_idle mask = mpd_recv_idle(link_conn(d->link),
							   false);
			d->idle = false;
			if (mask == 0 &&
			    !link_check(d->link, "idle", util_mono())) {
				on_disconnected(d);
				continue;
			}
			handle(d, mask);
		}
	}
}

/* --- start and stop ------------------------------------------------------ */

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

/* Forks twice and detaches. The first process waits for the daemon to say
 * it started (a byte on a pipe: the lock, the pidfile and the store are
 * its) and exits with 0, or with 1 when the pipe closes without it (the
 * daemon printed why on the terminal, which it keeps until then). Returns
 * the pipe's end to report on, or -1. */
static int daemonize(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		char b = 0;
		ssize_t n;
		do
			n = read(p[0], &b, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 && b == '0' ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	return p[1];
}

/* The daemon started: the first process may exit, and the terminal is let
 * go (stderr too, unless the log goes to a file). */
static void detached(int report_fd)
{
	if (report_fd < 0)
		return;
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (!log_file_active())
			dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	char b = '0';
	ssize_t n = write(report_fd, &b, 1);
	(void)n;
	close(report_fd);
}

/* Lock, pidfile, reserve: what makes this the one daemon of its data
 * directory, and what it left there last time. */
static bool take_data_directory(struct daemon *d, const char *pidfile)
{
	char err[512];
	d->instance = instance_lock(d->conf->data_directory, err, sizeof err);
	if (!d->instance) {
		log_error("%s", err);
		return false;
	}
	if (pidfile && !instance_pidfile(d->instance, pidfile, err,
					 sizeof err)) {
		log_error("%s", err);
		return false;
	}
	d->reserve = store_reserve(d->store, RESERVE_BYTES);
	if (!d->reserve)
		log_warning("no disk set aside for events a full disk would "
			    "refuse: %s", store_error(d->store));
	else
		replay_reserve(d);
	return true;
}

static bool start_parts(struct daemon *d)
{
	char err[512];
	d->learn = learn_new(d->store, d->conf, wake_pipe[1], err, sizeof err);
	if (!d->learn) {
		log_error("%s", err);
		return false;
	}
	d->fill = fill_new(d->conf, d->store, d->learn);
	if (d->conf->feedback.stickers &&
	    (!(d->sticker = sticker_new()) ||
	     !sticker_seed(d->sticker, d->store)))
		log_warning("stickers: %s", d->sticker ? store_error(d->store) :
			    "out of memory");
	d->scan = scan_new(wake_pipe[1]);
	struct link_params lp;
	link_params_from_conf(&lp, d->conf);
	d->link = link_new(&lp);
	d->channel = channel_new(&lp);
	if (!d->fill || !d->scan || !d->link || !d->channel) {
		log_error("out of memory");
		return false;
	}
	struct watch_rules rules = {
		.end_margin = d->conf->feedback.end_margin,
		.min_duration = d->conf->feedback.min_duration,
	};
	watch_init(&d->watch, &rules);
	return true;
}

/* What could not be stored is in the reserve for the next start; only
 * what did not fit there is lost, and named. */
static void stop_events(struct daemon *d)
{
	if (d->n_pending)
		retry_pending(d);
	if (d->n_pending == 0)
		return;
	int kept = 0;
	struct store_event *v = malloc((size_t)d->n_pending * sizeof *v);
	for (int i = 0; v && i < d->n_pending; i++)
		v[i] = d->pending[i].e;
	if (v && d->reserve &&
	    store_reserve_write(d->store, v, d->n_pending, &kept) && kept > 0)
		log_warning("%d events could not be stored (%s): kept in the "
			    "reserve, they are stored at the next start", kept,
			    store_error(d->store));
	free(v);
	for (int i = kept; i < d->n_pending; i++)
		log_error("lost event: %s", d->pending[i].uri);
}

/* Tears down in reverse. Returns false when the model could not be
 * saved. */
static bool stop(struct daemon *d)
{
	bool saved = true;
	if (d->reload && atomic_load(&d->reload->done)) {
		pthread_join(d->reload->thread, NULL);
		reload_free(d->reload);
	} else if (d->reload) {
		/* Blocked in a read: it ends with the process. */
		pthread_detach(d->reload->thread);
	}
	scan_free(d->scan);
	channel_free(d->channel);
	if (d->link) {
		if (d->idle && link_up(d->link))
			mpd_run_noidle(link_conn(d->link));
		link_free(d->link);
	}
	watch_reset(&d->watch);
	if (d->learn) {
		char e[256];
		if (d->store)
			stop_events(d);
		if (!learn_save(d->learn, e, sizeof e)) {
			log_error("saving the model: %s", e);
			saved = false;
		}
	}
	sticker_free(d->sticker);
	fill_free(d->fill);
	learn_free(d->learn);
	for (int i = 0; i < d->n_pending; i++) {
		free(d->pending[i].uri);
		free(d->pending[i].source);
	}
	free(d->pending);
	store_close(d->store);
	instance_free(d->instance);
	if (d->conf)
		conf_free(d->conf);
	free(d->conf);
	return saved;
}

int daemon_run(const struct conf *c, const struct daemon_options *o)
{
	struct daemon d = { 0 };
	int rc = 1, report = -1;
	/* A large library's arrays (megabytes each, made anew when the
	 * library changes) are mapped apart and given back when freed:
	 * glibc raises its threshold after the first such free, and the
	 * arrays made anew then fragment the heap for good. */
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
#endif
	if (!(d.conf = malloc(sizeof *d.conf)) || !conf_copy(d.conf, c)) {
		fprintf(stderr, "mpdrec: out of memory\n");
		free(d.conf);
		return 1;
	}
	if (d.conf->log.file &&
	    !log_setup((enum log_level)d.conf->log.level, d.conf->log.file)) {
		fprintf(stderr, "mpdrec: cannot open log file %s: %s\n",
			d.conf->log.file, strerror(errno));
		goto out;
	}
	/* Until it runs, what goes wrong is shown on the terminal too. */
	log_also_stderr(true);
	if (o->background && (report = daemonize()) < 0) {
		log_error("cannot run in the background: %s", strerror(errno));
		goto out;
	}
	if (!setup_signals()) {
		log_error("self-pipe: %s", strerror(errno));
		goto out;
	}
	char err[512];
	d.store = store_open(d.conf->data_directory, err, sizeof err);
	if (!d.store) {
		log_error("%s", err);
		goto out;
	}
	if (!take_data_directory(&d, o->pidfile))
		goto out;
	log_also_stderr(false);
	detached(report);
	report = -1;
	if (!start_parts(&d))
		goto out;
	log_info("mpdrec %s (pid %ld): %d tracks analysed, data in %s",
		 MPDREC_VERSION, (long)getpid(), learn_library(d.learn)->n,
		 d.conf->data_directory);
	start_scan(&d);

	loop(&d);

	log_info("stopping");
	rc = 0;
out:
	if (report >= 0)
		close(report);
	if (!stop(&d))
		rc = 1;
	return rc;
}
