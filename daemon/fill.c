#include "daemon/fill.h"

#include "conf/conf.h"
#include "core/affinity.h"
#include "core/model.h"
#include "core/rank.h"
#include "core/store.h"
#include "core/util.h"
#include "daemon/learn.h"
#include "daemon/log.h"
#include "features/table.h"

#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <mpd/client.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Below this many labelled events, or with one class only, picks are cold:
 * spread over the feature space. */
#define COLD_EVENTS 4
/* Our picks remembered, to tell the user's songs from ours. */
#define OURS 256
/* Banned URIs whose queued copies wait to be removed. */
#define PURGE_MAX 64

struct fill {
	const struct conf *conf;
	struct store *store;
	struct learn *learn;
	struct affinity *aff;
	struct rank *rank;
	unsigned char *allowed;	/* n: rules, bans, duration */
	int n_allowed;
	uint64_t rules_hash;	/* of the rules `allowed` applies */
	int *banned_now;	/* tracks banned since the library loaded */
	int n_banned_now;
	char *ours[OURS];	/* ring of our picks' URIs */
	int ours_head;
	unsigned our_ids[OURS];	/* ring of the queue ids MPD gave them */
	int ids_head;
	char *purge[PURGE_MAX];	/* banned: our queued copies to remove */
	int n_purge;
	bool said_random;
	bool said_stopped;
	/* What the last fill_run saw: a queue that runs dry under the player
	 * is not one the user cleared. */
	bool seen_playing;
	int seen_left;		/* songs from the current one on */
	unsigned seen_version;	/* MPD's queue version */
	bool said_fallback;	/* the fallback was said in the log */
	uint64_t seed;
	float *rows;		/* scratch for rescoring */
	int rows_cap;
};

/* --- rules --------------------------------------------------------------- */

static uint64_t rules_hash(const struct conf *c)
{
	uint64_t h = util_hash("rules");
	char num[64];
	snprintf(num, sizeof num, "%.17g", c->feedback.min_duration);
	h = h * 31 + util_hash(num);
	for (int k = 0; k < c->queue.n_include; k++)
		h = h * 31 + util_hash(c->queue.include[k]);
	h = h * 37 + 1;
	for (int k = 0; k < c->queue.n_exclude; k++)
		h = h * 31 + util_hash(c->queue.exclude[k]);
	return h;
}

static bool rule_matches(const char *rule, const char *uri,
			 const char *artist, const char *album,
			 const char *genre)
{
	enum conf_rule_field field;
	const char *glob;
	if (!conf_rule_parse(rule, &field, &glob))
		return false;
	switch (field) {
	case CONF_RULE_PATH:
		return fnmatch(glob, uri, 0) == 0;
	case CONF_RULE_ARTIST:
		return artist && fnmatch(glob, artist, FNM_CASEFOLD) == 0;
	case CONF_RULE_ALBUM:
		return album && fnmatch(glob, album, FNM_CASEFOLD) == 0;
	case CONF_RULE_GENRE:
		return genre && fnmatch(glob, genre, FNM_CASEFOLD) == 0;
	}
	return false;
}

/* Whether the user's include and exclude rules let a track be picked. */
static bool allowed_by_rules(const struct fill *f, const char *uri,
			     const char *artist, const char *album,
			     const char *genre)
{
	const struct conf *c = f->conf;
	bool in = c->queue.n_include == 0;
	for (int k = 0; !in && k < c->queue.n_include; k++)
		in = rule_matches(c->queue.include[k], uri, artist, album,
				  genre);
	for (int k = 0; in && k < c->queue.n_exclude; k++)
		in = !rule_matches(c->queue.exclude[k], uri, artist, album,
				   genre);
	return in;
}

struct tags_pass {
	struct fill *f;
	const struct store_library *lib;
	bool groups;		/* place the tracks in their groups too */
	bool oom;
	int excluded;
	int next;		/* the library's order: no lookup needed */
};

/* Track i with its tags (NULL when untagged): its groups, its rules. */
static bool place_track(struct tags_pass *t, int i, const char *uri,
			const char *artist, const char *album,
			const char *genre)
{
	struct fill *f = t->f;
	if (t->groups && !affinity_set_track(f->aff, i, uri, artist, album,
					     genre)) {
		t->oom = true;
		return false;
	}
	if (f->allowed[i] &&
	    !allowed_by_rules(f, uri, artist, album, genre)) {
		f->allowed[i] = 0;
		t->excluded++;
	}
	return true;
}

static bool on_tags(const char *uri, const char *artist, const char *album,
		    const char *genre, void *ctx)
{
	struct tags_pass *t = ctx;
	int i = t->next < t->lib->n && !strcmp(t->lib->uri[t->next], uri) ?
		t->next : learn_find(t->f->learn, uri);
	if (i < 0)
		return true;
	t->next = i + 1;
	return place_track(t, i, uri, artist, album, genre);
}

/* A tag as the store hands it to on_tags: NULL when untagged. */
static const char *tag_of(const char *s)
{
	return s && *s ? s : NULL;
}

/* The name of tag number k of lib, or NULL. */
static const char *lib_tag(const struct store_library *lib, int32_t k)
{
	return k >= 0 ? lib->tags[k] : NULL;
}

/* The tags from the library itself when it holds them (the learner loads
 * them with the vectors: one pass over the table, not two), else from the
 * store. */
static bool each_track_tags(struct tags_pass *t)
{
	const struct store_library *lib = t->lib;
	if (!lib->album || !lib->genre)
		return store_each_track_tags(t->f->store, FEATURES_VERSION,
					     lib->dim, on_tags, t);
	for (int i = 0; i < lib->n; i++)
		if (!place_track(t, i, lib->uri[i], tag_of(lib->artist[i]),
				 lib_tag(lib, lib->album[i]),
				 lib_tag(lib, lib->genre[i])))
			break;
	return true;
}

/* Recomputes which tracks may be picked; with `groups`, places every track
 * in its groups as well (one read of the tags for both). */
static bool apply_rules(struct fill *f, bool groups)
{
	const struct store_library *lib = learn_library(f->learn);
	/* The library's banned flags hold the bans of tracks, artists and
	 * albums as loaded; bans since are in banned_now. */
	for (int i = 0; i < lib->n; i++)
		f->allowed[i] = !lib->banned[i] &&
			lib->duration[i] >= f->conf->feedback.min_duration;
	for (int k = 0; k < f->n_banned_now; k++)
		f->allowed[f->banned_now[k]] = 0;
	struct tags_pass t = { .f = f, .lib = lib, .groups = groups };
	if (!each_track_tags(&t) || t.oom) {
		log_warning("reading tags: %s", t.oom ? "out of memory" :
			    store_error(f->store));
		return false;
	}
	f->rules_hash = rules_hash(f->conf);
	f->n_allowed = 0;
	for (int i = 0; i < lib->n; i++)
		f->n_allowed += f->allowed[i];
	if (t.excluded > 0)
		log_info("%d of %d tracks left out by queue.include and "
			 "queue.exclude", t.excluded, lib->n);
	return true;
}

/* --- history ------------------------------------------------------------- */

struct event_copy {
	int index;
	double time, weight;
	int label;
	bool heard;
};

struct history_pass {
	struct fill *f;
	struct event_copy *v;
	int n, cap;
};

static bool is_heard(const struct store_event *e)
{
	return e->kind == STORE_KIND_PLAYED || e->kind == STORE_KIND_SKIPPED ||
	       e->kind == STORE_KIND_UNLABELLED;
}

static bool on_event(const struct store_event *e, void *ctx)
{
	struct history_pass *h = ctx;
	int i = learn_find(h->f->learn, e->uri);
	if (i < 0)
		return true;
	if (h->n == h->cap) {
		int cap = h->cap ? 2 * h->cap : 256;
		struct event_copy *v = realloc(h->v, (size_t)cap * sizeof *v);
		if (!v)
			return false;
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n++] = (struct event_copy){ i, e->time, e->weight, e->label,
					    is_heard(e) };
	return true;
}

/* Replays the stored events, oldest first, into the history and the
 * affinities. */
static void load_history(struct fill *f)
{
	int64_t all = 0, labelled = 0;
	if (!store_count_events(f->store, &all, &labelled)) {
		log_warning("counting events: %s", store_error(f->store));
		return;
	}
	struct history_pass h = { .f = f };
	if (all > 0 && !store_each_recent_event(f->store,
						all > INT_MAX ? INT_MAX :
						(int)all, on_event, &h))
		log_warning("reading events: %s", store_error(f->store));
	for (int k = h.n - 1; k >= 0; k--) {
		const struct event_copy *e = &h.v[k];
		rank_event(f->rank, e->index, e->time, e->label, e->heard);
		if (e->label == 0 || e->label == 1)
			affinity_add(f->aff, e->index, e->label,
				     e->weight > 0 ? e->weight : 1.0);
	}
	free(h.v);
}

/* --- building ------------------------------------------------------------ */

static void drop(struct fill *f)
{
	rank_free(f->rank);
	f->rank = NULL;
	affinity_free(f->aff);
	f->aff = NULL;
	free(f->allowed);
	f->allowed = NULL;
	free(f->banned_now);
	f->banned_now = NULL;
	f->n_banned_now = 0;
}

static void rebuild(struct fill *f)
{
	drop(f);
	const struct store_library *lib = learn_library(f->learn);
	if (!lib || lib->n == 0)
		return;
	char err[256];
	f->aff = affinity_new(lib->n);
	f->allowed = malloc((size_t)lib->n);
	if (!f->aff || !f->allowed || !apply_rules(f, true)) {
		log_warning("queue: out of memory for %d tracks", lib->n);
		drop(f);
		return;
	}
	f->rank = rank_new(lib->x, lib->n, lib->dim, f->aff, f->seed++, err,
			   sizeof err);
	if (!f->rank) {
		log_warning("ranking: %s", err);
		drop(f);
		return;
	}
	load_history(f);
}

struct fill *fill_new(const struct conf *c, struct store *store,
		      struct learn *learn)
{
	struct fill *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->conf = c;
	f->store = store;
	f->learn = learn;
	f->seed = c->model.seed ? c->model.seed : 1;
	rebuild(f);
	return f;
}

void fill_free(struct fill *f)
{
	if (!f)
		return;
	drop(f);
	for (int i = 0; i < OURS; i++)
		free(f->ours[i]);
	for (int i = 0; i < f->n_purge; i++)
		free(f->purge[i]);
	free(f->rows);
	free(f);
}

void fill_set_conf(struct fill *f, const struct conf *c)
{
	/* New rules are applied at the next choice (their hash changed). */
	f->conf = c;
}

void fill_library_changed(struct fill *f)
{
	rebuild(f);
}

void fill_note_event(struct fill *f, const char *uri, int label,
		     double weight, double now, bool heard)
{
	if (!f->rank)
		return;
	int i = learn_find(f->learn, uri);
	if (i < 0)
		return;
	rank_event(f->rank, i, now, label, heard);
	if (label == 0 || label == 1)
		affinity_add(f->aff, i, label, weight > 0 ? weight : 1.0);
}

void fill_ban(struct fill *f, const char *uri)
{
	if (f->n_purge < PURGE_MAX && (f->purge[f->n_purge] = strdup(uri)))
		f->n_purge++;
	if (!f->rank)
		return;
	int i = learn_find(f->learn, uri);
	if (i < 0)
		return;
	int *v = realloc(f->banned_now, (size_t)(f->n_banned_now + 1) *
			 sizeof *v);
	if (v) {
		f->banned_now = v;
		f->banned_now[f->n_banned_now++] = i;
	}
	f->n_allowed -= f->allowed[i];
	f->allowed[i] = 0;
}

bool fill_queued_by_us(const struct fill *f, const char *uri)
{
	for (int i = 0; i < OURS; i++)
		if (f->ours[i] && !strcmp(f->ours[i], uri))
			return true;
	return false;
}

static void remember_ours(struct fill *f, const char *uri)
{
	int slot = f->ours_head++ % OURS;
	free(f->ours[slot]);
	f->ours[slot] = strdup(uri);
}

/* --- choosing ------------------------------------------------------------ */

/* A fingerprint of the learner's scores: they change all at once when the
 * library is rescored, so a few of them tell. */
static uint64_t scores_stamp(const float *mean, const float *spread, int n)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)n;
	for (int k = 0; k < 64 && n > 0; k++) {
		size_t i = (size_t)k * (size_t)n / 64;
		uint32_t a, b;
		memcpy(&a, &mean[i], 4);
		memcpy(&b, &spread[i], 4);
		h = (h ^ a) * 1099511628211ULL;
		h = (h ^ b) * 1099511628211ULL;
	}
	return h ? h : 1;
}

void fill_prepare(struct fill *f)
{
	const float *mean, *spread;
	if (f->rank && learn_scores_cached(f->learn, &mean, &spread))
		rank_prepare(f->rank, mean, spread,
			     scores_stamp(mean, spread,
					  learn_library(f->learn)->n));
}

/* core/rank's rescore: the shortlist through the model as it is now. */
static void rescore(void *ctx, const int *idx, int k, float *mean,
		    float *spread)
{
	struct fill *f = ctx;
	const struct store_library *lib = learn_library(f->learn);
	if (k > f->rows_cap) {
		float *rows = realloc(f->rows, (size_t)k * lib->dim *
				      sizeof *rows);
		if (!rows) {
			const float *m, *s;
			learn_scores_cached(f->learn, &m, &s);
			for (int e = 0; e < k; e++) {
				mean[e] = m[idx[e]];
				spread[e] = s[idx[e]];
			}
			return;
		}
		f->rows = rows;
		f->rows_cap = k;
	}
	for (int e = 0; e < k; e++)
		memcpy(f->rows + (size_t)e * lib->dim,
		       lib->x + (size_t)idx[e] * lib->dim,
		       (size_t)lib->dim * sizeof *f->rows);
	model_score(learn_model(f->learn), f->rows, k, mean, spread);
}

int fill_choose(struct fill *f, const char *const *queued, int n_queued,
		double now, int need, struct rank_pick *out)
{
	if (!f->rank || need <= 0)
		return 0;
	if (f->rules_hash != rules_hash(f->conf))
		apply_rules(f, false);
	int labelled, likes;
	learn_counts(f->learn, &labelled, &likes);
	bool cold = labelled < COLD_EVENTS || likes == 0 || likes == labelled;
	/* Never a full rescore on this path: the scores as they are, and the
	 * shortlist rescored by rank through rescore(). Only the very first
	 * fill scores the library. */
	const float *mean = NULL, *spread = NULL;
	if (!cold && !learn_scores_cached(f->learn, &mean, &spread)) {
		learn_refresh_scores(f->learn);
		if (!learn_scores_cached(f->learn, &mean, &spread))
			cold = true;
	}
	int *qi = malloc((size_t)(n_queued > 0 ? n_queued : 1) * sizeof *qi);
	if (!qi)
		return 0;
	for (int k = 0; k < n_queued; k++)
		qi[k] = learn_find(f->learn, queued[k]);
	const struct store_library *lib = learn_library(f->learn);
	struct rank_request q = {
		.mean = mean,
		.spread = spread,
		.rescore = rescore,
		.rescore_ctx = f,
		.stamp = mean ? scores_stamp(mean, spread, lib->n) : 0,
		.allowed = f->allowed,
		.n_allowed = f->n_allowed,
		.queued = qi,
		.n_queued = n_queued,
		.now = now,
		.cold = cold,
		.explore_rate = f->conf->queue.explore_rate,
		.artist_spacing = f->conf->queue.artist_spacing,
		.history_s = f->conf->queue.history_hours * 3600.0,
	};
	int n = rank_choose(f->rank, &q, need, out);
	free(qi);
	if (n < need)
		log_info("no candidate left to queue (%d analysed, all queued, "
			 "left out by rules, banned or too short)", lib->n);
	for (int k = 0; k < n; k++)
		remember_ours(f, lib->uri[out[k].index]);
	return n;
}

int fill_list_queue(struct mpd_connection *c, char ***out)
{
	*out = NULL;
	struct mpd_status *st = mpd_run_status(c);
	if (!st)
		return -1;
	int pos = mpd_status_get_song_pos(st);
	mpd_status_free(st);
	char **v = NULL;
	int n = 0, cap = 0;
	if (!mpd_send_list_queue_range_meta(c, (unsigned)(pos > 0 ? pos : 0),
					    UINT_MAX))
		return -1;
	struct mpd_song *song;
	while ((song = mpd_recv_song(c))) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nv = realloc(v, (size_t)cap * sizeof *nv);
			if (!nv) {
				mpd_song_free(song);
				break;
			}
			v = nv;
		}
		v[n] = strdup(mpd_song_get_uri(song));
		n += v[n] != NULL;
		mpd_song_free(song);
	}
	*out = v;
	if (!mpd_response_finish(c)) {
		for (int i = 0; i < n; i++)
			free(v[i]);
		free(v);
		*out = NULL;
		return -1;
	}
	return n;
}

/* --- filling ------------------------------------------------------------- */

static bool ours_by_id(const struct fill *f, unsigned id)
{
	int n = f->ids_head < OURS ? f->ids_head : OURS;
	for (int i = 0; i < n; i++)
		if (f->our_ids[i] == id)
			return true;
	return false;
}

/* Removes the queued copies of banned tracks that mpdrec added (by queue
 * id: the user may have queued the same song), after position pos.
 * Returns how many, or -1 when an MPD command failed. */
static int purge_banned(struct fill *f, struct mpd_connection *c, int pos,
			int len)
{
	unsigned ids[PURGE_MAX];
	int n = 0;
	if (pos + 1 < len) {
		if (!mpd_send_list_queue_range_meta(c, (unsigned)(pos + 1),
						    UINT_MAX))
			return -1;
		struct mpd_song *song;
		while ((song = mpd_recv_song(c))) {
			unsigned id = mpd_song_get_id(song);
			const char *uri = mpd_song_get_uri(song);
			for (int k = 0; k < f->n_purge && n < PURGE_MAX; k++)
				if (!strcmp(f->purge[k], uri) &&
				    ours_by_id(f, id)) {
					log_info("removed banned %s from the "
						 "queue", f->purge[k]);
					ids[n++] = id;
					break;
				}
			mpd_song_free(song);
		}
		if (!mpd_response_finish(c))
			return -1;
	}
	for (int k = 0; k < n; k++)
		if (!mpd_run_delete_id(c, ids[k]))
			return -1;
	for (int k = 0; k < f->n_purge; k++)
		free(f->purge[k]);
	f->n_purge = 0;
	return n;
}

/* Removes played songs beyond queue.keep_played before the current one (as
 * mpd-sima's Crop). Returns how many, or -1 on an MPD error. */
static int crop(const struct fill *f, struct mpd_connection *c, int pos)
{
	int keep = f->conf->queue.keep_played;
	if (keep < 0 || pos <= keep)
		return 0;
	if (!mpd_run_delete_range(c, 0, (unsigned)(pos - keep)))
		return -1;
	log_info("cropped %d played songs from the queue (queue.keep_played "
		 "%d)", pos - keep, keep);
	return pos - keep;
}

/* Whether playback ran out of songs rather than the user stopping or
 * editing the queue. MPD then stands stopped with no current song, and the
 * queue is as it was while it played (its version unchanged), or, in
 * consume mode, empty after one version step per song that was left (MPD
 * removes each as it is played or skipped). After `mpc clear` or `mpc add`
 * the version moved on otherwise: the queue is the user's. */
static bool ran_dry(const struct fill *f, bool playing, int pos, int len,
		    unsigned version, bool consume)
{
	if (playing || pos >= 0 || !f->seen_playing)
		return false;
	return version == f->seen_version ||
	       (consume && len == 0 &&
		version - f->seen_version == (unsigned)f->seen_left);
}

/* Remembers what a fill saw while MPD played. */
static void seen(struct fill *f, struct mpd_connection *c)
{
	struct mpd_status *st = mpd_run_status(c);
	if (!st)
		return;
	int len = (int)mpd_status_get_queue_length(st);
	int pos = mpd_status_get_song_pos(st);
	enum mpd_state state = mpd_status_get_state(st);
	f->seen_playing = state == MPD_STATE_PLAY || state == MPD_STATE_PAUSE;
	f->seen_left = pos >= 0 ? len - pos : 0;
	f->seen_version = mpd_status_get_queue_version(st);
	mpd_status_free(st);
}

/* --- before anything is analysed --------------------------------------- */

/* A song list for the fallback: URIs, owned. */
struct uris {
	char **v;
	int n, cap;
};

static void uris_free(struct uris *u)
{
	for (int i = 0; i < u->n; i++)
		free(u->v[i]);
	free(u->v);
	memset(u, 0, sizeof *u);
}

static bool uris_push(struct uris *u, const char *uri)
{
	if (u->n == u->cap) {
		int cap = u->cap ? 2 * u->cap : 32;
		char **v = realloc(u->v, (size_t)cap * sizeof *v);
		if (!v)
			return false;
		u->v = v;
		u->cap = cap;
	}
	if (!(u->v[u->n] = strdup(uri)))
		return false;
	u->n++;
	return true;
}

static bool push_uri(const char *uri, void *ctx)
{
	return uris_push(ctx, uri);
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the songs of a response into u; false when MPD failed. */
static bool read_songs(struct mpd_connection *c, struct uris *u)
{
	struct mpd_entity *e;
	while ((e = mpd_recv_entity(c))) {
		if (mpd_entity_get_type(e) == MPD_ENTITY_TYPE_SONG)
			uris_push(u, mpd_song_get_uri(mpd_entity_get_song(e)));
		mpd_entity_free(e);
	}
	return mpd_response_finish(c);
}

/* Whether the fallback may queue uri: not in the queue, not queued by us
 * before (a small folder is not played round and round), not banned. */
static bool fallback_ok(struct fill *f, const char *uri,
			const char *const *queued, int n_queued)
{
	for (int k = 0; k < n_queued; k++)
		if (!strcmp(queued[k], uri))
			return false;
	bool banned = false;
	return !fill_queued_by_us(f, uri) &&
	       store_is_banned(f->store, uri, &banned) && !banned;
}

/* How many of cand the fallback may queue. */
static int count_ok(struct fill *f, const struct uris *cand,
		    const char *const *queued, int n_queued)
{
	int n = 0;
	for (int k = 0; k < cand->n; k++)
		n += fallback_ok(f, cand->v[k], queued, n_queued);
	return n;
}

/* The songs of anchor's folder into *cand, sorted, those after the anchor
 * first; false when MPD failed (*cand freed). */
static bool folder_after(struct mpd_connection *c, const char *anchor,
			 struct uris *cand)
{
	char folder[4096];
	const char *slash = strrchr(anchor, '/');
	size_t len = slash ? (size_t)(slash - anchor) : 0;
	if (len >= sizeof folder)
		len = sizeof folder - 1;
	memcpy(folder, anchor, len);
	folder[len] = '\0';
	if (!mpd_send_list_meta(c, folder) || !read_songs(c, cand)) {
		uris_free(cand);
		return false;
	}
	qsort(cand->v, (size_t)cand->n, sizeof *cand->v, by_string);
	int at = 0;
	while (at < cand->n && strcmp(cand->v[at], anchor) <= 0)
		at++;
	/* Rotate so that the tracks after the anchor come first. */
	struct uris rot = { 0 };
	for (int k = 0; k < cand->n; k++)
		uris_push(&rot, cand->v[(at + k) % cand->n]);
	uris_free(cand);
	*cand = rot;
	return true;
}

/* The songs of the album of the queue's song at pos into *cand (none when
 * it has no album tag); false when MPD failed (*cand freed). */
static bool album_at(struct mpd_connection *c, int pos, struct uris *cand)
{
	struct mpd_song *song = NULL;
	if (mpd_send_list_queue_range_meta(c, (unsigned)pos,
					   (unsigned)pos + 1)) {
		song = mpd_recv_song(c);
		if (!mpd_response_finish(c)) {
			if (song)
				mpd_song_free(song);
			return false;
		}
	}
	const char *album = song ? mpd_song_get_tag(song, MPD_TAG_ALBUM, 0)
				 : NULL;
	if (album && *album &&
	    (!mpd_search_db_songs(c, true) ||
	     !mpd_search_add_tag_constraint(c, MPD_OPERATOR_DEFAULT,
					    MPD_TAG_ALBUM, album) ||
	     !mpd_search_commit(c) || !read_songs(c, cand))) {
		mpd_song_free(song);
		uris_free(cand);
		return false;
	}
	if (song)
		mpd_song_free(song);
	return true;
}

/* Queues up to need of cand that the fallback may queue, each stored as a
 * pick that says why ("nothing analysed yet: " why). Returns the songs
 * added; *failed when an add failed (MPD's error stands). */
static int queue_fallback(struct fill *f, struct mpd_connection *c,
			  const struct uris *cand, const char *const *queued,
			  int n_queued, int need, double now, const char *why,
			  bool *failed)
{
	int added = 0;
	*failed = false;
	for (int k = 0; k < cand->n && added < need; k++) {
		const char *uri = cand->v[k];
		if (!fallback_ok(f, uri, queued, n_queued))
			continue;
		if (!mpd_run_add(c, uri)) {
			*failed = true;
			return added;
		}
		added++;
		remember_ours(f, uri);
		char reason[160];
		snprintf(reason, sizeof reason,
			 "nothing analysed yet: %s", why);
		struct store_pick sp = { .time = now, .uri = uri,
					 .score = NAN, .uncertainty = NAN,
					 .reason = reason };
		if (!store_add_pick(f->store, &sp, NULL))
			log_warning("storing a pick: %s",
				    store_error(f->store));
		log_info("queued %s (%s)", uri, reason);
	}
	return added;
}

/* Until the first analysis gives the model anything to pick from, the
 * queue goes on with what a listener would accept: the tracks after the
 * last queued song in its folder, else of its album, else any from MPD's
 * database (never silence while MPD has a library). Said once. Returns the
 * songs added, or -1 when an MPD command failed. */
static int fill_fallback(struct fill *f, struct mpd_connection *c,
			 const char *const *queued, int n_queued, int last_pos,
			 int need, double now)
{
	const char *anchor = n_queued > 0 ? queued[n_queued - 1] : NULL;
	struct uris cand = { 0 };
	const char *why = "tracks from MPD's database";
	if (anchor) {
		if (!folder_after(c, anchor, &cand))
			return -1;
		why = "other tracks of the folder now playing";
	}
	if (count_ok(f, &cand, queued, n_queued) == 0 && anchor &&
	    last_pos >= 0) {
		uris_free(&cand);
		if (!album_at(c, last_pos, &cand))
			return -1;
		why = "other tracks of the album now playing";
	}
	if (count_ok(f, &cand, queued, n_queued) == 0) {
		/* The scan's listing is in the store by now. */
		uris_free(&cand);
		if (!store_sample_tracks(f->store, 4 * need + n_queued,
					 f->seed++ * 0x9e3779b97f4a7c15ULL,
					 push_uri, &cand))
			log_warning("sampling tracks: %s",
				    store_error(f->store));
		why = "tracks from MPD's database";
	}
	bool failed;
	int added = queue_fallback(f, c, &cand, queued, n_queued, need, now,
				   why, &failed);
	uris_free(&cand);
	if (failed)
		return added > 0 ? added : -1;
	if (added > 0 && !f->said_fallback)
		log_info("nothing analysed yet to pick from: the queue goes "
			 "on with %s until the first analysis gives picks",
			 why);
	f->said_fallback = added > 0 || f->said_fallback;
	return added;
}

/* What fill_run reads of MPD's status. */
struct queue_state {
	bool random, consume, playing;
	int len, pos;		/* pos: the current song's, or -1 */
	unsigned version;
};

/* Reads MPD's status into *q; false on an MPD error. */
static bool read_state(struct mpd_connection *c, struct queue_state *q)
{
	struct mpd_status *st = mpd_run_status(c);
	if (!st)
		return false;
	enum mpd_state state = mpd_status_get_state(st);
	q->random = mpd_status_get_random(st);
	q->len = (int)mpd_status_get_queue_length(st);
	q->pos = mpd_status_get_song_pos(st);
	q->playing = state == MPD_STATE_PLAY || state == MPD_STATE_PAUSE;
	q->version = mpd_status_get_queue_version(st);
	q->consume = mpd_status_get_consume(st);
	mpd_status_free(st);
	return true;
}

/* Takes the banned songs out of the queue, if any are waiting, and keeps
 * *q up to date; false on an MPD error. */
static bool purge_state(struct fill *f, struct mpd_connection *c,
			struct queue_state *q)
{
	if (f->n_purge == 0)
		return true;
	int removed = purge_banned(f, c, q->pos, q->len);
	if (removed < 0)
		return false;
	q->len -= removed;
	if (removed > 0) {
		/* Our own edit: the queue's new version is no user's. */
		struct mpd_status *now_st = mpd_run_status(c);
		if (!now_st)
			return false;
		q->version = mpd_status_get_queue_version(now_st);
		mpd_status_free(now_st);
	}
	return true;
}

/* Whether mpdrec may fill the queue: not in random mode (songs ahead mean
 * nothing then), not while the user stopped MPD (unless the queue ran
 * dry). Each refusal is said once. */
static bool may_fill(struct fill *f, const struct queue_state *q, bool dry)
{
	if (q->random) {
		if (!f->said_random)
			log_info("MPD's random mode is on: \"songs ahead\" "
				 "means nothing then, so mpdrec does not fill "
				 "the queue");
		f->said_random = true;
		return false;
	}
	f->said_random = false;
	if (!q->playing && !dry) {
		if (!f->said_stopped)
			log_info("MPD is stopped: the queue is yours; mpdrec "
				 "fills it once you play");
		f->said_stopped = true;
		return false;
	}
	f->said_stopped = false;
	return true;
}

static void free_list(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Adds picks[0..chosen-1] to MPD's queue, each stored as a pick and
 * logged. Returns how many were added (fewer than chosen when MPD
 * failed). */
static int queue_picks(struct fill *f, struct mpd_connection *c,
		       const struct rank_pick *picks, int chosen, double now)
{
	const struct store_library *lib = learn_library(f->learn);
	int added = 0;
	for (int k = 0; k < chosen; k++) {
		const struct rank_pick *p = &picks[k];
		const char *uri = lib->uri[p->index];
		int id = mpd_run_add_id(c, uri);
		if (id < 0)
			break;
		f->our_ids[f->ids_head++ % OURS] = (unsigned)id;
		added++;
		struct store_pick sp = {
			.time = now,
			.uri = uri,
			.score = p->score,
			.uncertainty = p->uncertainty,
			.explored = p->mode == RANK_EXPLORE,
			.reason = p->reason,
		};
		if (!store_add_pick(f->store, &sp, NULL))
			log_warning("storing a pick: %s",
				    store_error(f->store));
		log_info("queued %s (%s)", uri, p->reason);
	}
	return added;
}

int fill_run(struct fill *f, struct mpd_connection *c, double now)
{
	struct queue_state q;
	if (!read_state(c, &q) || !purge_state(f, c, &q))
		return -1;
	bool playing = q.playing;
	int len = q.len, pos = q.pos;
	bool dry = ran_dry(f, playing, pos, len, q.version, q.consume);
	f->seen_playing = playing;
	f->seen_left = playing && pos >= 0 ? len - pos : 0;
	f->seen_version = q.version;
	if (!may_fill(f, &q, dry))
		return 0;
	if (playing && pos > 0) {
		int cropped = crop(f, c, pos);
		if (cropped < 0)
			return -1;
		pos -= cropped;
		len -= cropped;
		if (cropped > 0)
			seen(f, c);
	}
	/* Stopped at the end, nothing is ahead. */
	int ahead = playing && pos >= 0 ? len - pos - 1 : 0;
	int need = f->conf->queue.ahead - ahead;
	if (need <= 0)
		return 0;
	char **queued = NULL;
	int n_queued = playing ? fill_list_queue(c, &queued) : 0;
	if (n_queued < 0)
		return -1;
	struct rank_pick *picks = calloc((size_t)need, sizeof *picks);
	int chosen = picks ? fill_choose(f, (const char *const *)queued,
					 n_queued, now, need, picks) : 0;
	int added;
	if (chosen == 0 && picks && !f->rank) {
		/* Nothing to pick from yet (the first analysis runs). */
		added = fill_fallback(f, c, (const char *const *)queued,
				      n_queued, len - 1, need, now);
		free_list(queued, n_queued);
		free(picks);
		if (added > 0 && !playing &&
		    !mpd_run_play_pos(c, (unsigned)len))
			return -1;
		if (added > 0)
			seen(f, c);
		return added;
	}
	free_list(queued, n_queued);
	added = queue_picks(f, c, picks, chosen, now);
	free(picks);
	if (added < chosen)
		return added > 0 ? added : -1;
	if (added > 0 && !playing) {
		/* The queue ran dry while playing: go on with our picks. */
		log_info("the queue ran out while playing: going on with "
			 "mpdrec's picks");
		if (!mpd_run_play_pos(c, (unsigned)len))
			return -1;
	}
	if (added > 0)
		seen(f, c);	/* our own changes are no user's */
	return added;
}
