#include "daemon/fill.h"

#include "conf/conf.h"
#include "core/rank.h"
#include "core/store.h"
#include "daemon/learn.h"
#include "daemon/log.h"

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
/* Tracks remembered as recently heard or picked. */
#define RECENT 32
/* Our picks remembered, to tell the user's songs from ours. */
#define OURS 256
/* Banned URIs whose queued copies wait to be removed. */
#define PURGE_MAX 64

struct fill {
	const struct conf *conf;
	struct store *store;
	struct learn *learn;
	struct rank *rank;
	unsigned char *eligible;
	int recent[RECENT];	/* library indices, most recent first */
	int n_recent;
	char *artists[64];	/* last artists heard or picked, ring */
	int artist_head;
	char *ours[OURS];	/* ring of our picks' URIs */
	int ours_head;
	unsigned our_ids[OURS];	/* ring of the queue ids MPD gave them */
	int ids_head;
	bool *banned;		/* per library track: lib->banned, and bans
				   since the library was loaded */
	char *purge[PURGE_MAX];	/* banned: our queued copies to remove */
	int n_purge;
	bool said_random;
	bool said_fallback;	/* the fallback was said in the log */
	uint64_t seed;
};

static void rebuild(struct fill *f)
{
	rank_free(f->rank);
	f->rank = NULL;
	free(f->eligible);
	f->eligible = NULL;
	free(f->banned);
	f->banned = NULL;
	const struct store_library *lib = learn_library(f->learn);
	if (!lib || lib->n == 0)
		return;
	f->banned = malloc((size_t)lib->n * sizeof *f->banned);
	if (f->banned)
		memcpy(f->banned, lib->banned,
		       (size_t)lib->n * sizeof *f->banned);
	char err[256];
	f->rank = rank_new(lib->x, lib->n, lib->dim, f->seed++, err,
			   sizeof err);
	if (!f->rank)
		log_warning("ranking: %s", err);
	f->eligible = malloc((size_t)lib->n);
	f->n_recent = 0;
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
	rank_free(f->rank);
	free(f->eligible);
	free(f->banned);
	for (int i = 0; i < 64; i++)
		free(f->artists[i]);
	for (int i = 0; i < OURS; i++)
		free(f->ours[i]);
	for (int i = 0; i < f->n_purge; i++)
		free(f->purge[i]);
	free(f);
}

void fill_set_conf(struct fill *f, const struct conf *c)
{
	f->conf = c;
}

void fill_ban(struct fill *f, const char *uri)
{
	int i = learn_find(f->learn, uri);
	if (i >= 0 && f->banned)
		f->banned[i] = true;
	if (f->n_purge < PURGE_MAX && (f->purge[f->n_purge] = strdup(uri)))
		f->n_purge++;
}

void fill_library_changed(struct fill *f)
{
	rebuild(f);
}

static void note_index(struct fill *f, int idx)
{
	if (idx < 0)
		return;
	int n = f->n_recent < RECENT ? f->n_recent : RECENT - 1;
	memmove(f->recent + 1, f->recent, (size_t)n * sizeof *f->recent);
	f->recent[0] = idx;
	f->n_recent = n + 1;
	const struct store_library *lib = learn_library(f->learn);
	/* A track without an artist tag is an artist of its own: it never
	 * blocks others. */
	if (lib->artist[idx]) {
		int slot = f->artist_head++ % 64;
		free(f->artists[slot]);
		f->artists[slot] = strdup(lib->artist[idx]);
	}
}

void fill_note_played(struct fill *f, const char *uri)
{
	if (f->rank)
		note_index(f, learn_find(f->learn, uri));
}

bool fill_queued_by_us(const struct fill *f, const char *uri)
{
	for (int i = 0; i < OURS; i++)
		if (f->ours[i] && !strcmp(f->ours[i], uri))
			return true;
	return false;
}

static bool artist_recent(const struct fill *f, const char *artist)
{
	int spacing = f->conf->queue.artist_spacing;
	if (!artist || spacing <= 0)
		return false;
	if (spacing > 64)
		spacing = 64;
	for (int k = 1; k <= spacing && k <= f->artist_head; k++) {
		const char *a = f->artists[(f->artist_head - k) % 64];
		if (a && !strcasecmp(a, artist))
			return true;
	}
	return false;
}

static bool unflag_played(const char *uri, void *ctx)
{
	struct fill *f = ctx;
	int i = learn_find(f->learn, uri);
	if (i >= 0)
		f->eligible[i] = 0;
	return true;
}

/* Marks the candidates: analysed, not queued, not heard lately, artist not
 * just heard, not banned, long enough. Returns how many. */
static int mark_eligible(struct fill *f, const char *const *queued,
			 int n_queued, double now, bool strict)
{
	const struct store_library *lib = learn_library(f->learn);
	for (int i = 0; i < lib->n; i++)
		f->eligible[i] = !(f->banned ? f->banned : lib->banned)[i] &&
			lib->duration[i] >= f->conf->feedback.min_duration &&
			(!strict || !artist_recent(f, lib->artist[i]));
	for (int k = 0; k < n_queued; k++) {
		int i = learn_find(f->learn, queued[k]);
		if (i >= 0)
			f->eligible[i] = 0;
	}
	double since = now - f->conf->queue.history_hours * 3600.0;
	if (strict &&
	    !store_each_played_since(f->store, since, unflag_played, f))
		log_warning("recent plays: %s", store_error(f->store));
	int n = 0;
	for (int i = 0; i < lib->n; i++)
		n += f->eligible[i];
	return n;
}

static void remember_ours(struct fill *f, const char *uri)
{
	int slot = f->ours_head++ % OURS;
	free(f->ours[slot]);
	f->ours[slot] = strdup(uri);
}

int fill_choose(struct fill *f, const char *const *queued, int n_queued,
		double now, int need, struct rank_pick *out)
{
	if (!f->rank || !f->eligible || need <= 0)
		return 0;
	/* A small library can run out of tracks not heard lately or by
	 * other artists: rather than let the queue run dry, relax those two
	 * rules (never the queue, bans or the minimum duration). */
	if (mark_eligible(f, queued, n_queued, now, true) < need &&
	    mark_eligible(f, queued, n_queued, now, false) > 0)
		log_debug("few candidates: artist spacing and history relaxed");
	int labelled, likes;
	learn_counts(f->learn, &labelled, &likes);
	bool cold = labelled < COLD_EVENTS || likes == 0 || likes == labelled;
	const float *mean = NULL, *spread = NULL;
	if (!cold && !learn_scores(f->learn, &mean, &spread))
		cold = true;
	const struct store_library *lib = learn_library(f->learn);
	int n = 0;
	for (; n < need; n++) {
		struct rank_request q = {
			.mean = mean,
			.spread = spread,
			.eligible = f->eligible,
			.recent = f->recent,
			.n_recent = f->n_recent,
			.cold = cold,
			.temperature = f->conf->queue.temperature,
			.explore_rate = f->conf->queue.explore_rate,
		};
		struct rank_pick *p = &out[n];
		if (!rank_pick(f->rank, &q, p)) {
			log_info("no candidate left to queue (%d analysed, "
				 "all queued, heard lately, banned or "
				 "spaced by artist)", lib->n);
			break;
		}
		f->eligible[p->index] = 0;
		note_index(f, p->index);
		remember_ours(f, lib->uri[p->index]);
		/* The artist rule holds within one round of picks too. */
		const char *artist = lib->artist[p->index];
		for (int i = 0; artist && f->conf->queue.artist_spacing > 0 &&
				i < lib->n; i++)
			if (f->eligible[i] && lib->artist[i] &&
			    !strcasecmp(lib->artist[i], artist))
				f->eligible[i] = 0;
	}
	return n;
}

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

/* The URIs of the current song and those after it (`from` = the current
 * position, 0 when none): songs already played earlier in the queue may
 * come back. Caller frees each and the array. -1 on error. */
static int list_queue(struct mpd_connection *c, int from, char ***out)
{
	char **v = NULL;
	int n = 0, cap = 0;
	if (!mpd_send_list_queue_range_meta(c, (unsigned)(from > 0 ? from : 0),
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
		/* The folder, sorted, starting after the anchor. */
		char folder[4096];
		const char *slash = strrchr(anchor, '/');
		size_t len = slash ? (size_t)(slash - anchor) : 0;
		if (len >= sizeof folder)
			len = sizeof folder - 1;
		memcpy(folder, anchor, len);
		folder[len] = '\0';
		if (!mpd_send_list_meta(c, folder) || !read_songs(c, &cand)) {
			uris_free(&cand);
			return -1;
		}
		qsort(cand.v, (size_t)cand.n, sizeof *cand.v, by_string);
		int at = 0;
		while (at < cand.n && strcmp(cand.v[at], anchor) <= 0)
			at++;
		/* Rotate so that the tracks after the anchor come first. */
		struct uris rot = { 0 };
		for (int k = 0; k < cand.n; k++)
			uris_push(&rot, cand.v[(at + k) % cand.n]);
		uris_free(&cand);
		cand = rot;
		why = "other tracks of the folder now playing";
	}
	int ok_count = 0;
	for (int k = 0; k < cand.n; k++)
		ok_count += fallback_ok(f, cand.v[k], queued, n_queued);
	if (ok_count == 0 && anchor && last_pos >= 0) {
		uris_free(&cand);
		struct mpd_song *song = NULL;
		if (mpd_send_list_queue_range_meta(c, (unsigned)last_pos,
						   (unsigned)last_pos + 1)) {
			song = mpd_recv_song(c);
			if (!mpd_response_finish(c)) {
				if (song)
					mpd_song_free(song);
				return -1;
			}
		}
		const char *album = song ? mpd_song_get_tag(song, MPD_TAG_ALBUM,
							    0) : NULL;
		if (album && *album &&
		    (!mpd_search_db_songs(c, true) ||
		     !mpd_search_add_tag_constraint(c, MPD_OPERATOR_DEFAULT,
						    MPD_TAG_ALBUM, album) ||
		     !mpd_search_commit(c) || !read_songs(c, &cand))) {
			mpd_song_free(song);
			uris_free(&cand);
			return -1;
		}
		if (song)
			mpd_song_free(song);
		why = "other tracks of the album now playing";
	}
	ok_count = 0;
	for (int k = 0; k < cand.n; k++)
		ok_count += fallback_ok(f, cand.v[k], queued, n_queued);
	if (ok_count == 0) {
		/* The scan's listing is in the store by now. */
		uris_free(&cand);
		if (!store_sample_tracks(f->store, 4 * need + n_queued,
					 f->seed++ * 0x9e3779b97f4a7c15ULL,
					 push_uri, &cand))
			log_warning("sampling tracks: %s",
				    store_error(f->store));
		why = "tracks from MPD's database";
	}
	int added = 0;
	for (int k = 0; k < cand.n && added < need; k++) {
		const char *uri = cand.v[k];
		if (!fallback_ok(f, uri, queued, n_queued))
			continue;
		if (!mpd_run_add(c, uri)) {
			uris_free(&cand);
			return added > 0 ? added : -1;
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
	if (added > 0 && !f->said_fallback)
		log_info("nothing analysed yet to pick from: the queue goes "
			 "on with %s until the first analysis gives picks",
			 why);
	f->said_fallback = added > 0 || f->said_fallback;
	uris_free(&cand);
	return added;
}

int fill_run(struct fill *f, struct mpd_connection *c, double now,
	     bool start)
{
	struct mpd_status *st = mpd_run_status(c);
	if (!st)
		return -1;
	bool random = mpd_status_get_random(st);
	int len = (int)mpd_status_get_queue_length(st);
	int pos = mpd_status_get_song_pos(st);
	enum mpd_state state = mpd_status_get_state(st);
	mpd_status_free(st);
	if (f->n_purge > 0) {
		int removed = purge_banned(f, c, pos, len);
		if (removed < 0)
			return -1;
		len -= removed;
	}
	if (random) {
		if (!f->said_random)
			log_info("MPD's random mode is on: \"songs ahead\" "
				 "means nothing then, so mpdrec does not fill "
				 "the queue");
		f->said_random = true;
		return 0;
	}
	f->said_random = false;
	int ahead = pos >= 0 ? len - pos - 1 : len;
	int need = f->conf->queue.ahead - ahead;
	if (need <= 0)
		return 0;
	char **queued = NULL;
	int n_queued = list_queue(c, pos, &queued);
	if (n_queued < 0)
		return -1;
	struct rank_pick *picks = calloc((size_t)need, sizeof *picks);
	int chosen = picks ? fill_choose(f, (const char *const *)queued,
					 n_queued, now, need, picks) : 0;
	if (chosen == 0 && picks) {
		/* Nothing to pick from yet (the first analysis runs). */
		int added = fill_fallback(f, c, (const char *const *)queued,
					  n_queued, len - 1, need, now);
		for (int i = 0; i < n_queued; i++)
			free(queued[i]);
		free(queued);
		free(picks);
		if (added > 0 && start && state == MPD_STATE_STOP &&
		    !mpd_run_play_pos(c, (unsigned)len))
			return -1;
		return added;
	}
	for (int i = 0; i < n_queued; i++)
		free(queued[i]);
	free(queued);
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
	free(picks);
	if (added < chosen)
		return added > 0 ? added : -1;
	if (added > 0 && start && state == MPD_STATE_STOP) {
		/* The queue ran dry while playing: go on with our picks. */
		if (!mpd_run_play_pos(c, (unsigned)len))
			return -1;
	}
	return added;
}
