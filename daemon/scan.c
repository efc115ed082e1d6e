/* The library scan: MPD's database into the store, then new and changed
 * tracks analysed in worker threads. One store connection per pass, used by
 * one thread at a time; results are kept in memory and written a quarter
 * second's worth at a time in one short transaction (one disk flush per
 * batch, not per track, and SQLite's write lock free in between). */
#include "daemon/scan.h"

#include <errno.h>
#include <mpd/client.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/store.h"
#include "core/util.h"
#include "daemon/link.h"
#include "daemon/log.h"
#include "features/analyze.h"
#include "features/path.h"

#define BATCH_SECONDS 0.25
#define LOW_PRIORITY_NICE 10
#define MAX_JOBS 64
/* Above this many songs MPD's database is listed directory by
 * directory. */
#define WALK_ABOVE 50000
/* Songs of MPD's database written to the store per transaction. */
#define LIST_CHUNK 1000
/* Songs of the queue whose neighbours come first at the start of a pass,
 * and when the listener moved on (the current one and a few after). */
#define QUEUE_ANCHORS 1000
#define FOLLOW_ANCHORS 4
/* How often a pass looks at what MPD plays. */
#define FOLLOW_S 2.0

/* --- one pass ----------------------------------------------------------- */

/* A track to analyse. */
struct todo {
	char *uri;
	char *album;		/* NULL when untagged */
	double duration;	/* MPD's, seconds */
	int cls;		/* 0 in the queue, 1 its neighbour, 2 other */
	int rank;		/* place of the queue song it belongs to */
	uint64_t key;		/* a random order among equals */
};

struct pass {
	const struct conf *c;
	const struct scan_options *o;
	struct store *store;
	struct scan_result *r;
	pthread_mutex_t lock;	/* everything below */
	pthread_cond_t cond;	/* a worker ended */

	struct todo *todo;	/* pending tracks, in the order to analyse */
	int n, cap;
	int next;		/* first not taken by a worker */
	int running;		/* workers */
	atomic_int store_broken;

	struct scan_progress prog;
	double analysis_t0;
	struct result *results;	/* analysed, not yet written */
	int n_results, cap_results;
	pthread_mutex_t write_lock;	/* p->store: one writer at a time */

	struct mpd_connection *queue_conn;	/* to follow the listener */
	int queue_song;		/* MPD's id of the song last looked at */
	double queue_at;	/* monotonic time of the next look */
};

static bool stopping(const struct pass *p)
{
	return (p->o->stop && atomic_load(p->o->stop)) ||
	       atomic_load(&p->store_broken);
}

static void report(struct pass *p)
{
	if (p->o->progress)
		p->o->progress(&p->prog, p->o->ctx);
}

/* Called with p->lock held. */
static void store_failure(struct pass *p, const char *what)
{
	if (!atomic_load(&p->store_broken))
		snprintf(p->r->error, sizeof p->r->error, "%s: %s", what,
			 store_error(p->store));
	atomic_store(&p->store_broken, 1);
}

/* One analysis result waiting to be written. */
struct result {
	const char *uri;	/* borrowed from p->todo */
	float v[FEAT_COUNT];
	double duration;
	char *error;		/* NULL when analysed */
};

/* Writes the results that wait, in one short transaction, then tells
 * o->committed. Results are written a batch at a time so the disk is
 * flushed a few times a second, not once a track; and written by one
 * thread, briefly, so that SQLite's write lock is free the rest of the
 * time (a batch held open while results came in kept the daemon's event
 * writes waiting for seconds: SQLite's busy handler polls, and missed the
 * short gaps between batches). Takes p->lock for a moment only. */
static void flush_results(struct pass *p)
{
	pthread_mutex_lock(&p->write_lock);
	pthread_mutex_lock(&p->lock);
	struct result *v = p->results;
	int n = p->n_results;
	p->results = NULL;
	p->n_results = p->cap_results = 0;
	pthread_mutex_unlock(&p->lock);
	const char **done = n ? malloc((size_t)n * sizeof *done) : NULL;
	int n_done = 0;
	bool ok = n == 0 || atomic_load(&p->store_broken) ||
		  store_batch_begin(p->store);
	for (int i = 0; ok && i < n && !atomic_load(&p->store_broken); i++) {
		const struct result *r = &v[i];
		bool w = r->error ? store_set_failed(p->store, r->uri, r->error)
				  : store_set_features(p->store, r->uri,
						       FEATURES_VERSION, r->v,
						       features_count(),
						       r->duration);
		if (!w) {
			pthread_mutex_lock(&p->lock);
			store_failure(p, r->uri);
			pthread_mutex_unlock(&p->lock);
			ok = false;
		} else if (!r->error && done) {
			done[n_done++] = r->uri;
		}
	}
	if (n > 0 && !atomic_load(&p->store_broken)) {
		if (!ok || !store_batch_end(p->store)) {
			pthread_mutex_lock(&p->lock);
			store_failure(p, "storing analysis results");
			pthread_mutex_unlock(&p->lock);
		} else if (p->o->committed && n_done > 0) {
			pthread_mutex_lock(&p->lock);
			p->o->committed(done, n_done, p->o->ctx);
			pthread_mutex_unlock(&p->lock);
		}
	}
	for (int i = 0; i < n; i++)
		free(v[i].error);
	free(v);
	free(done);
	pthread_mutex_unlock(&p->write_lock);
}

/* Keeps one result to write and reports progress: `analysed` seconds of
 * the track's `duration` were decoded and analysed. */
static void record(struct pass *p, const char *uri, const float *v,
		   double duration, double analysed, const char *error)
{
	pthread_mutex_lock(&p->lock);
	if (p->n_results == p->cap_results) {
		int cap = p->cap_results ? 2 * p->cap_results : 64;
		struct result *nv = realloc(p->results,
					    (size_t)cap * sizeof *nv);
		if (nv) {
			p->results = nv;
			p->cap_results = cap;
		}
	}
	if (p->n_results < p->cap_results) {
		struct result *r = &p->results[p->n_results++];
		r->uri = uri;
		r->duration = duration;
		r->error = error ? strdup(error) : NULL;
		if (v)
			memcpy(r->v, v, sizeof r->v);
		if (error && !r->error)
			p->n_results--;	/* out of memory: retried later */
	}
	p->prog.done++;
	if (error) {
		p->prog.failed++;
	} else {
		p->prog.audio_s += analysed;
		p->prog.track_s += duration;
	}
	p->prog.elapsed = util_mono() - p->analysis_t0;
	p->prog.uri = uri;
	p->prog.error = error;
	report(p);
	p->prog.uri = p->prog.error = NULL;
	pthread_mutex_unlock(&p->lock);
}

struct scan_speed scan_progress_speed(const struct scan_progress *p)
{
	struct scan_speed s = { .eta_s = -1 };
	if (!(p->elapsed > 0))
		return s;
	s.tracks_per_s = p->done / p->elapsed;
	s.realtime = p->audio_s / p->elapsed;
	s.library_realtime = p->track_s / p->elapsed;
	/* Reckoned in audio to analyse, not in tracks: a library of sound
	 * effects and long mixes would fool a count. */
	double left = p->audio_total_s - p->audio_s;
	if (p->done >= p->total)
		s.eta_s = 0;
	else if (s.realtime > 0)
		s.eta_s = (left > 0 ? left : 0) / s.realtime;
	return s;
}

static void lower_priority(void)
{
	/* On Linux a thread id names one thread: only this worker slows. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), LOW_PRIORITY_NICE) != 0)
		log_debug("setpriority: %s", strerror(errno));
}

/* The next track to analyse (borrowed: the string outlives the pass's
 * reordering), or NULL when none is left. */
static const char *take(struct pass *p)
{
	pthread_mutex_lock(&p->lock);
	const char *uri = !stopping(p) && p->next < p->n
				  ? p->todo[p->next++].uri : NULL;
	pthread_mutex_unlock(&p->lock);
	return uri;
}

static void *worker(void *arg)
{
	struct pass *p = arg;
	char err[256], path[4096];
	float v[FEAT_COUNT];
	double duration;
	if (p->o->low_priority)
		lower_priority();
	struct analyze *a = analyze_new(err, sizeof err);
	if (!a)
		log_error("analysis worker: %s", err);
	const struct analyze_opts opts = {
		.max_seconds = p->c->analysis.max_seconds,
		.timeout_s = SCAN_FILE_TIMEOUT,
		.cancel = p->o->stop,
	};
	const char *uri;
	while (a && (uri = take(p))) {
		if (!features_resolve_uri(p->c->music_directory, uri, path,
					  sizeof path, err, sizeof err)) {
			log_warning("not analysing %s: %s", uri, err);
			record(p, uri, NULL, 0, 0, err);
			continue;
		}
		if (analyze_run(a, path, &opts, v, &duration, err,
				sizeof err)) {
			record(p, uri, v, duration, analyze_seconds(a), NULL);
		} else if (stopping(p)) {
			break;	/* cancelled: the track stays pending */
		} else {
			log_info("cannot analyse %s: %s", uri, err);
			record(p, uri, NULL, 0, 0, err);
		}
	}
	analyze_free(a);
	pthread_mutex_lock(&p->lock);
	p->running--;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static bool add_pending(const struct store_track_info *t, void *ctx)
{
	struct pass *p = ctx;
	if (p->n == p->cap) {
		int cap = p->cap ? 2 * p->cap : 256;
		struct todo *v = realloc(p->todo, (size_t)cap * sizeof *v);
		if (!v)
			return false;
		p->todo = v;
		p->cap = cap;
	}
	struct todo *d = &p->todo[p->n];
	*d = (struct todo){ .duration = t->duration, .cls = 2,
			    .key = util_hash(t->uri) };
	if (!(d->uri = strdup(t->uri)) ||
	    (t->album && *t->album && !(d->album = strdup(t->album)))) {
		free(d->uri);
		return false;
	}
	p->n++;
	return true;
}

static void todo_free(struct pass *p)
{
	for (int i = 0; i < p->n; i++) {
		free(p->todo[i].uri);
		free(p->todo[i].album);
	}
	free(p->todo);
}

/* --- what to analyse first ---------------------------------------------- */

/* Songs of MPD's queue, in the order they matter: the current one, those
 * after it, those before. A track in the same folder or with the same
 * album tag as one of them is its neighbour. */
struct anchors {
	char **uri, **folder, **album;	/* n each; album "" untagged */
	int n, cap;
	struct util_index by_uri, by_folder, by_album;
};

static void anchors_free(struct anchors *a)
{
	for (int i = 0; i < a->n; i++) {
		free(a->uri[i]);
		free(a->folder[i]);
		free(a->album[i]);
	}
	free(a->uri);
	free(a->folder);
	free(a->album);
	util_index_free(&a->by_uri);
	util_index_free(&a->by_folder);
	util_index_free(&a->by_album);
	memset(a, 0, sizeof *a);
}

/* The folder of uri ("" at the top) into buf. */
static const char *folder_of(const char *uri, char *buf, size_t size)
{
	const char *slash = strrchr(uri, '/');
	size_t len = slash ? (size_t)(slash - uri) : 0;
	if (len >= size)
		len = size - 1;
	memcpy(buf, uri, len);
	buf[len] = '\0';
	return buf;
}

static bool anchors_add(struct anchors *a, const struct mpd_song *song)
{
	if (a->n == a->cap) {
		int cap = a->cap ? 2 * a->cap : 16;
		char **u = realloc(a->uri, (size_t)cap * sizeof *u);
		if (u)
			a->uri = u;
		char **f = realloc(a->folder, (size_t)cap * sizeof *f);
		if (f)
			a->folder = f;
		char **al = realloc(a->album, (size_t)cap * sizeof *al);
		if (al)
			a->album = al;
		if (!u || !f || !al)
			return false;
		a->cap = cap;
	}
	char buf[4096];
	const char *uri = mpd_song_get_uri(song);
	const char *album = mpd_song_get_tag(song, MPD_TAG_ALBUM, 0);
	a->uri[a->n] = strdup(uri);
	a->folder[a->n] = strdup(folder_of(uri, buf, sizeof buf));
	a->album[a->n] = strdup(album ? album : "");
	if (!a->uri[a->n] || !a->folder[a->n] || !a->album[a->n]) {
		free(a->uri[a->n]);
		free(a->folder[a->n]);
		free(a->album[a->n]);
		return false;
	}
	a->n++;
	return true;
}

/* Reads up to `limit` songs of the queue as anchors, starting with the
 * current song (or, when none is current, with the first). Returns the id
 * of the current song (-1 none) in *current; false when MPD failed. */
static bool read_anchors(struct mpd_connection *m, int limit,
			 struct anchors *a, int *current)
{
	struct mpd_status *st = mpd_run_status(m);
	if (!st)
		return false;
	int pos = mpd_status_get_song_pos(st);
	int len = (int)mpd_status_get_queue_length(st);
	*current = mpd_status_get_song_id(st);
	mpd_status_free(st);
	if (pos < 0)
		pos = 0;
	/* From the current song to the end, then from the start. */
	for (int part = 0; part < 2; part++) {
		unsigned from = part == 0 ? (unsigned)pos : 0;
		unsigned to = part == 0 ? (unsigned)len : (unsigned)pos;
		if (to > from + (unsigned)(limit - a->n))
			to = from + (unsigned)(limit - a->n);
		if (from >= to)
			continue;
		if (!mpd_send_list_queue_range_meta(m, from, to))
			return false;
		struct mpd_song *song;
		while ((song = mpd_recv_song(m))) {
			anchors_add(a, song);
			mpd_song_free(song);
		}
		if (!mpd_response_finish(m))
			return false;
	}
	return util_index_build(&a->by_uri, a->uri, a->n) &&
	       util_index_build(&a->by_folder, a->folder, a->n) &&
	       util_index_build(&a->by_album, a->album, a->n);
}

/* Where t stands with respect to the anchors: in the queue (0), a
 * neighbour (1) or neither (2), and the rank of the anchor. */
static void classify(const struct anchors *a, struct todo *t)
{
	char buf[4096];
	int i = util_index_find(&a->by_uri, a->uri, t->uri);
	if (i >= 0) {
		t->cls = 0;
		t->rank = i;
		return;
	}
	int f = util_index_find(&a->by_folder, a->folder,
				folder_of(t->uri, buf, sizeof buf));
	int b = t->album ? util_index_find(&a->by_album, a->album, t->album)
			 : -1;
	if (f >= 0 || b >= 0) {
		t->cls = 1;
		t->rank = f < 0 ? b : b < 0 ? f : f < b ? f : b;
		return;
	}
	t->cls = 2;
	t->rank = 0;
}

static int by_priority(const void *x, const void *y)
{
	const struct todo *a = x, *b = y;
	if (a->cls != b->cls)
		return a->cls - b->cls;
	if (a->rank != b->rank)
		return a->rank - b->rank;
	return (a->key > b->key) - (a->key < b->key);
}

/* Puts the tracks of [p->next, p->n) that belong to the anchors (in the
 * queue or beside) first, in the anchors' order; the rest keep theirs
 * (all of it sorted when `all`). Called with p->lock held (or before the
 * workers start). Returns how many came first. */
static int reorder(struct pass *p, const struct anchors *a, bool all)
{
	int from = p->next, m = p->n - from, first = 0;
	if (m <= 0)
		return 0;
	for (int i = from; i < p->n; i++) {
		classify(a, &p->todo[i]);
		first += p->todo[i].cls < 2;
	}
	if (all) {
		qsort(p->todo + from, (size_t)m, sizeof *p->todo, by_priority);
		return first;
	}
	if (first == 0)
		return 0;
	struct todo *tmp = malloc((size_t)m * sizeof *tmp);
	if (!tmp)
		return 0;
	int k = 0;
	for (int i = from; i < p->n; i++)
		if (p->todo[i].cls < 2)
			tmp[k++] = p->todo[i];
	qsort(tmp, (size_t)k, sizeof *tmp, by_priority);
	for (int i = from; i < p->n; i++)
		if (p->todo[i].cls == 2)
			tmp[k++] = p->todo[i];
	memcpy(p->todo + from, tmp, (size_t)m * sizeof *tmp);
	free(tmp);
	return first;
}

static struct mpd_connection *connect_mpd(const struct conf *c, char *err,
					  size_t err_size);

/* Orders the pending tracks before the analysis starts: MPD's queue and
 * its neighbours first, then the rest in a random order. */
static void prioritise(struct pass *p)
{
	for (int i = 0; i < p->n; i++)
		p->todo[i].cls = 2;
	char err[256];
	p->queue_conn = p->n > 0 ? connect_mpd(p->c, err, sizeof err) : NULL;
	struct anchors a = { 0 };
	int first = 0;
	if (p->queue_conn && read_anchors(p->queue_conn, QUEUE_ANCHORS, &a,
					  &p->queue_song)) {
		first = reorder(p, &a, true);
	} else {
		if (p->n > 0)
			qsort(p->todo, (size_t)p->n, sizeof *p->todo,
			      by_priority);
		if (p->queue_conn) {
			log_debug("reading MPD's queue: %s",
				  mpd_connection_get_error_message(
					  p->queue_conn));
			mpd_connection_free(p->queue_conn);
			p->queue_conn = NULL;
		}
	}
	if (first > 0)
		log_info("analysing first the %d tracks in MPD's queue or "
			 "beside them (same folder or album)", first);
	anchors_free(&a);
	p->queue_at = util_mono() + FOLLOW_S;
}

/* Every FOLLOW_S while the workers run: when MPD plays a song it did not
 * play at the last look, that song, the few after it and their neighbours
 * come next. Called with p->lock held; unlocks while MPD answers. */
static void follow_listener(struct pass *p)
{
	if (!p->queue_conn || util_mono() < p->queue_at)
		return;
	p->queue_at = util_mono() + FOLLOW_S;
	pthread_mutex_unlock(&p->lock);
	struct mpd_status *st = mpd_run_status(p->queue_conn);
	int id = st ? mpd_status_get_song_id(st) : -1;
	if (st)
		mpd_status_free(st);
	struct anchors a = { 0 };
	int current = -1;
	bool changed = st && id >= 0 && id != p->queue_song;
	bool ok = st != NULL;
	if (changed)
		ok = read_anchors(p->queue_conn, FOLLOW_ANCHORS, &a, &current);
	pthread_mutex_lock(&p->lock);
	if (!ok) {
		log_debug("following MPD's queue: %s",
			  mpd_connection_get_error_message(p->queue_conn));
		mpd_connection_free(p->queue_conn);
		p->queue_conn = NULL;
	} else if (changed) {
		p->queue_song = id;
		int first = reorder(p, &a, false);
		if (first > 0)
			log_debug("the listener moved on: %d tracks in the "
				  "queue or beside come next", first);
	}
	anchors_free(&a);
}

/* --- listing ------------------------------------------------------------ */

/* MPD's songs go to the store a chunk at a time (store_listing: one short
 * transaction each, during which the daemon's event writes wait), so that
 * neither a million songs in memory nor a lock held while MPD answers. */
struct songs {
	struct mpd_song **v;
	int n, cap;
	struct store_listing *listing;
	struct store_track_info *info;	/* cap of them */
};

static void songs_clear(struct songs *l)
{
	for (int i = 0; i < l->n; i++)
		mpd_song_free(l->v[i]);
	l->n = 0;
}

static void songs_free(struct songs *l)
{
	songs_clear(l);
	free(l->v);
	free(l->info);
	store_listing_free(l->listing);
	memset(l, 0, sizeof *l);
}

/* Writes the songs held to the store. */
static bool songs_flush(struct pass *p, struct songs *l)
{
	for (int i = 0; i < l->n; i++) {
		const struct mpd_song *song = l->v[i];
		l->info[i] = (struct store_track_info){
			.uri = mpd_song_get_uri(song),
			.mtime = (int64_t)mpd_song_get_last_modified(song),
			.artist = mpd_song_get_tag(song, MPD_TAG_ARTIST, 0),
			.album = mpd_song_get_tag(song, MPD_TAG_ALBUM, 0),
			.title = mpd_song_get_tag(song, MPD_TAG_TITLE, 0),
			.genre = mpd_song_get_tag(song, MPD_TAG_GENRE, 0),
			.duration = mpd_song_get_duration_ms(song) / 1000.0,
		};
	}
	bool ok = store_listing_add(p->store, l->listing, l->info, l->n);
	if (!ok)
		snprintf(p->r->error, sizeof p->r->error,
			 "storing MPD's database: %s", store_error(p->store));
	songs_clear(l);
	return ok;
}

static bool songs_add(struct pass *p, struct songs *l,
		      const struct mpd_song *song)
{
	if (l->n == LIST_CHUNK && !songs_flush(p, l))
		return false;
	if (!l->v) {
		l->v = malloc(LIST_CHUNK * sizeof *l->v);
		l->info = malloc(LIST_CHUNK * sizeof *l->info);
		if (!l->v || !l->info)
			goto oom;
	}
	if (!(l->v[l->n] = mpd_song_dup(song)))
		goto oom;
	l->n++;
	p->prog.listed++;
	if (p->prog.listed % 1000 == 0)
		report(p);
	return true;
oom:
	snprintf(p->r->error, sizeof p->r->error,
		 "listing MPD's database: out of memory");
	return false;
}

static bool push_dir(char ***dirs, int *n, int *cap, const char *path)
{
	if (*n == *cap) {
		int c = *cap ? 2 * *cap : 64;
		char **d = realloc(*dirs, (size_t)c * sizeof *d);
		if (!d)
			return false;
		*dirs = d;
		*cap = c;
	}
	if (!((*dirs)[*n] = strdup(path)))
		return false;
	(*n)++;
	return true;
}

/* Reads entities until the end of a response: songs into l, directory
 * paths appended to *dirs when dirs is not NULL. Returns false when out of
 * memory, the store failed (p->r->error says which) or asked to stop (the
 * response is then abandoned: the caller drops the connection) or when MPD
 * failed (see the connection). */
static bool read_entities(struct pass *p, struct mpd_connection *m,
			  struct songs *l, char ***dirs, int *n_dirs,
			  int *cap_dirs)
{
	struct mpd_entity *e;
	while ((e = mpd_recv_entity(m))) {
		bool ok = true;
		switch (mpd_entity_get_type(e)) {
		case MPD_ENTITY_TYPE_SONG:
			ok = songs_add(p, l, mpd_entity_get_song(e));
			break;
		case MPD_ENTITY_TYPE_DIRECTORY:
			if (dirs && !push_dir(dirs, n_dirs, cap_dirs,
					      mpd_directory_get_path(
						      mpd_entity_get_directory(
							      e)))) {
				snprintf(p->r->error, sizeof p->r->error,
					 "listing MPD's database: out of "
					 "memory");
				ok = false;
			}
			break;
		default:
			break;
		}
		mpd_entity_free(e);
		if (!ok || stopping(p))
			return false;
	}
	return mpd_response_finish(m);
}

/* listallinfo in one response. */
static bool list_all(struct pass *p, struct mpd_connection *m,
		     struct songs *l)
{
	return mpd_send_list_all_meta(m, NULL) &&
	       read_entities(p, m, l, NULL, NULL, NULL);
}

/* lsinfo directory by directory: slower, but each response is small, for a
 * library whose listallinfo exceeds MPD's max_output_buffer_size. */
static bool walk(struct pass *p, struct mpd_connection *m, struct songs *l)
{
	char **dirs = NULL;
	int n = 0, cap = 0;
	bool ok = mpd_send_list_meta(m, NULL) &&
		  read_entities(p, m, l, &dirs, &n, &cap);
	for (int i = 0; ok && i < n; i++)
		ok = mpd_send_list_meta(m, dirs[i]) &&
		     read_entities(p, m, l, &dirs, &n, &cap);
	for (int i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	return ok;
}

static struct mpd_connection *connect_mpd(const struct conf *c, char *err,
					  size_t err_size)
{
	struct link_params lp;
	link_params_from_conf(&lp, c);
	char why[200];
	struct mpd_connection *m = link_open(&lp, NULL, why, sizeof why);
	if (!m)
		snprintf(err, err_size, "connecting to MPD: %s", why);
	return m;
}

/* Reads every song of MPD's database into the store: listallinfo, or
 * lsinfo per directory when asked to, or when MPD refused the whole
 * listing or closed the connection over it (an output buffer too small for
 * the library). */
static bool read_library(struct pass *p, struct songs *l)
{
	struct mpd_connection *m =
		connect_mpd(p->c, p->r->error, sizeof p->r->error);
	if (!m)
		return false;
	/* A large library in one response keeps MPD from answering anyone
	 * else for seconds (the daemon's status timed out at a million
	 * songs): lsinfo per directory then. */
	bool by_dir = p->o->walk;
	struct mpd_stats *stats = by_dir ? NULL : mpd_run_stats(m);
	if (stats) {
		by_dir = mpd_stats_get_number_of_songs(stats) > WALK_ABOVE;
		mpd_stats_free(stats);
	} else if (!by_dir && !mpd_connection_clear_error(m)) {
		snprintf(p->r->error, sizeof p->r->error,
			 "listing MPD's database: %s",
			 mpd_connection_get_error_message(m));
		mpd_connection_free(m);
		return false;
	}
	bool ok = by_dir ? walk(p, m, l) : list_all(p, m, l);
	enum mpd_error e = mpd_connection_get_error(m);
	if (!ok && !by_dir && !p->r->error[0] && !stopping(p) &&
	    (e == MPD_ERROR_SERVER || e == MPD_ERROR_CLOSED)) {
		log_info("listallinfo failed (%s); listing directory by "
			 "directory", mpd_connection_get_error_message(m));
		if (e != MPD_ERROR_SERVER || !mpd_connection_clear_error(m)) {
			mpd_connection_free(m);
			m = connect_mpd(p->c, p->r->error, sizeof p->r->error);
			if (!m)
				return false;
		}
		/* What was written stays; the walk names it again. */
		songs_clear(l);
		p->prog.listed = 0;
		ok = walk(p, m, l);
	}
	if (ok)
		ok = songs_flush(p, l);
	if (!ok && !p->r->error[0]) {
		if (stopping(p))
			snprintf(p->r->error, sizeof p->r->error, "stopped");
		else
			snprintf(p->r->error, sizeof p->r->error,
				 "listing MPD's database: %s",
				 mpd_connection_get_error_message(m));
	}
	mpd_connection_free(m);
	return ok;
}

/* Lists MPD's database into the store; the tracks it no longer holds
 * become GONE. */
static bool list_library(struct pass *p)
{
	struct songs l = { .listing = store_listing_new() };
	p->prog.listing = true;
	report(p);
	if (!l.listing) {
		snprintf(p->r->error, sizeof p->r->error,
			 "listing MPD's database: out of memory");
		return false;
	}
	bool ok = read_library(p, &l);
	p->r->listed = p->prog.listed;
	int written = 0;
	if (ok && !store_listing_end(p->store, l.listing, &p->r->gone,
				     &written)) {
		snprintf(p->r->error, sizeof p->r->error,
			 "ending the library sync: %s", store_error(p->store));
		ok = false;
	}
	if (ok)
		log_debug("listing: %d songs, %d new or changed, %d gone",
			  p->r->listed, written, p->r->gone);
	songs_free(&l);
	p->prog.listing = false;
	return ok;
}

/* The audio the pass will analyse, from MPD's durations: what the ETA is
 * reckoned in (a long track costs max_seconds, a sound effect next to
 * nothing). */
static double planned_audio(const struct pass *p)
{
	double max = p->c->analysis.max_seconds, sum = 0;
	for (int i = 0; i < p->n; i++) {
		double d = p->todo[i].duration;
		sum += max > 0 && d > max ? max : d;
	}
	return sum;
}

static int worker_count(const struct pass *p)
{
	int jobs = p->o->jobs > 0 ? p->o->jobs : p->c->analysis.jobs;
	if (jobs <= 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = cores > 0 ? (int)cores : 1;
	}
	if (jobs > MAX_JOBS)
		jobs = MAX_JOBS;
	if (jobs > p->n)
		jobs = p->n;
	return jobs;
}

/* While the workers run: writes what they analysed every BATCH_SECONDS
 * (so a slow analysis does not hold results back, and the first picks
 * come within a second of the first analysis) and follows the listener. */
static void supervise(struct pass *p)
{
	double next = util_mono() + BATCH_SECONDS;
	pthread_mutex_lock(&p->lock);
	while (p->running > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		long ns = ts.tv_nsec + (long)(BATCH_SECONDS / 2 * 1e9);
		ts.tv_sec += ns / 1000000000L;
		ts.tv_nsec = ns % 1000000000L;
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
		if (util_mono() >= next && p->n_results > 0) {
			pthread_mutex_unlock(&p->lock);
			flush_results(p);
			pthread_mutex_lock(&p->lock);
			next = util_mono() + BATCH_SECONDS;
		}
		if (!stopping(p))
			follow_listener(p);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Lists the library and queues its pending tracks, most wanted first,
 * with the totals the progress is told in; false with p->r->error set. */
static bool plan_pass(struct pass *p)
{
	if (!list_library(p))
		return false;
	if (!store_each_pending_track(p->store, FEATURES_VERSION, add_pending,
				      p)) {
		snprintf(p->r->error, sizeof p->r->error,
			 "reading pending tracks: %s",
			 store_error(p->store));
		return false;
	}
	prioritise(p);
	p->prog.total = p->n;
	p->prog.audio_total_s = planned_audio(p);
	p->analysis_t0 = util_mono();
	report(p);
	return true;
}

/* Starts up to jobs workers into threads; returns how many started (a
 * failure to start one is logged and ends the starting). */
static int start_workers(struct pass *p, pthread_t *threads, int jobs)
{
	int started = 0;
	for (int i = 0; i < jobs; i++) {
		pthread_mutex_lock(&p->lock);
		p->running++;
		pthread_mutex_unlock(&p->lock);
		int e = pthread_create(&threads[i], NULL, worker, p);
		if (e) {
			pthread_mutex_lock(&p->lock);
			p->running--;
			pthread_mutex_unlock(&p->lock);
			log_error("cannot start an analysis worker: %s",
				  strerror(e));
			break;
		}
		started++;
	}
	return started;
}

/* Frees what a pass holds: its MPD link, store, queue and results. */
static void pass_free(struct pass *p)
{
	if (p->queue_conn)
		mpd_connection_free(p->queue_conn);
	store_close(p->store);
	todo_free(p);
	for (int i = 0; i < p->n_results; i++)
		free(p->results[i].error);
	free(p->results);
	pthread_mutex_destroy(&p->write_lock);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

bool scan_run(const struct conf *c, const struct scan_options *o,
	      struct scan_result *r)
{
	static const struct scan_options none = { 0 };
	struct pass p = { .c = c, .o = o ? o : &none, .r = r };
	double t0 = util_mono();
	memset(r, 0, sizeof *r);
	pthread_mutex_init(&p.lock, NULL);
	pthread_mutex_init(&p.write_lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	atomic_init(&p.store_broken, 0);

	if (!c->music_directory) {
		snprintf(r->error, sizeof r->error,
			 "music_directory is not set");
		goto done;
	}
	p.store = store_open(c->data_directory, r->error, sizeof r->error);
	if (!p.store || !plan_pass(&p))
		goto done;
	int jobs = worker_count(&p);
	pthread_t threads[MAX_JOBS];
	int started = start_workers(&p, threads, jobs);
	if (jobs > 0 && started == 0) {
		snprintf(r->error, sizeof r->error,
			 "cannot start analysis workers");
		goto done;
	}
	supervise(&p);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	flush_results(&p);
	r->analysed = p.prog.done - p.prog.failed;
	r->failed = p.prog.failed;
	if (atomic_load(&p.store_broken))
		goto done;	/* r->error says why */
	if (o && o->stop && atomic_load(o->stop)) {
		snprintf(r->error, sizeof r->error, "stopped");
		goto done;
	}
	r->ok = true;
done:
	r->seconds = util_mono() - t0;
	pass_free(&p);
	return r->ok;
}

/* --- the daemon's background scanner ------------------------------------ */

/* The progress of a long pass is logged every tenth of it, but not more
 * often than PROGRESS_MIN_S, and at least every PROGRESS_LOG_S. */
#define PROGRESS_MIN_S 10.0
#define PROGRESS_LOG_S 60.0

struct scan {
	int notify_fd;
	pthread_t thread;
	bool started;		/* a thread exists and was not joined */
	atomic_int finished;
	atomic_int stop;
	struct conf conf;	/* the pass's own copy */
	struct scan_result result;
	pthread_mutex_t lock;	/* what follows */
	char **ready;		/* analysed and committed, not yet taken */
	int n_ready, cap_ready;
	struct scan_progress prog;	/* uri and error NULL */
	int logged_tenth;
	double logged_at;
};

struct scan *scan_new(int notify_fd)
{
	struct scan *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->notify_fd = notify_fd;
	atomic_init(&s->finished, 0);
	atomic_init(&s->stop, 0);
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

static void notify(const struct scan *s, char b)
{
	if (s->notify_fd < 0)
		return;
	ssize_t w;
	do
		w = write(s->notify_fd, &b, 1);
	while (w < 0 && errno == EINTR);
}

static void on_committed(const char *const *uris, int n, void *ctx)
{
	struct scan *s = ctx;
	pthread_mutex_lock(&s->lock);
	bool was_empty = s->n_ready == 0;
	if (s->n_ready + n > s->cap_ready) {
		int cap = s->cap_ready ? s->cap_ready : 64;
		while (cap < s->n_ready + n)
			cap *= 2;
		char **v = realloc(s->ready, (size_t)cap * sizeof *v);
		if (v) {
			s->ready = v;
			s->cap_ready = cap;
		}
	}
	for (int i = 0; i < n && s->n_ready < s->cap_ready; i++)
		if ((s->ready[s->n_ready] = strdup(uris[i])))
			s->n_ready++;
	pthread_mutex_unlock(&s->lock);
	/* One wake-up for what waits: the daemon takes all at once. */
	if (was_empty)
		notify(s, 'a');
}

/* "about 3 min left" from the audio analysed so far. */
static void eta(const struct scan_progress *p, char *buf, size_t size)
{
	double left = scan_progress_speed(p).eta_s;
	if (left < 0)
		snprintf(buf, size, "time left unknown");
	else if (left <= 0)
		snprintf(buf, size, "nearly done");
	else if (left < 90)
		snprintf(buf, size, "about %.0f s left", left);
	else if (left < 5400)
		snprintf(buf, size, "about %.0f min left", left / 60);
	else
		snprintf(buf, size, "about %.1f h left", left / 3600);
}

static void on_progress(const struct scan_progress *p, void *ctx)
{
	struct scan *s = ctx;
	pthread_mutex_lock(&s->lock);
	bool first = !p->listing && p->total > 0 && s->prog.total == 0;
	s->prog = *p;
	s->prog.uri = s->prog.error = NULL;
	int tenth = p->total > 0 ? 10 * p->done / p->total : 0;
	double since = util_mono() - s->logged_at;
	bool due = !p->listing && p->done > 0 && p->done < p->total &&
		   ((tenth > s->logged_tenth && since > PROGRESS_MIN_S) ||
		    since > PROGRESS_LOG_S);
	if (due) {
		s->logged_tenth = tenth;
		s->logged_at = util_mono();
	}
	pthread_mutex_unlock(&s->lock);
	if (first) {
		log_info("analysing %d tracks (%.0f min of audio); picks come "
			 "from what is analysed as it grows", p->total,
			 p->audio_total_s / 60);
		notify(s, 'l');	/* the listing is in the store */
	}
	if (due) {
		char left[64];
		eta(p, left, sizeof left);
		log_info("analysis: %d of %d tracks (%.0f%%), %d failed, %s",
			 p->done, p->total,
			 p->audio_total_s > 0
				 ? 100.0 * p->audio_s / p->audio_total_s
				 : 100.0 * p->done / p->total,
			 p->failed, left);
	}
}

static void *background(void *arg)
{
	struct scan *s = arg;
	const struct scan_options o = {
		.low_priority = true,
		.stop = &s->stop,
		.progress = on_progress,
		.committed = on_committed,
		.ctx = s,
	};
	/* The listing thread is as unhurried as the workers. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), LOW_PRIORITY_NICE) != 0)
		log_debug("setpriority: %s", strerror(errno));
	log_info("library scan started");
	scan_run(&s->conf, &o, &s->result);
	if (s->result.ok)
		log_info("library scan: %d songs, %d analysed, %d failed, %d "
			 "gone in %.1f s",
			 s->result.listed, s->result.analysed,
			 s->result.failed, s->result.gone, s->result.seconds);
	else
		log_warning("library scan: %s", s->result.error);
	atomic_store(&s->finished, 1);
	notify(s, 's');
	return NULL;
}

int scan_take_analysed(struct scan *s, char ***uris)
{
	pthread_mutex_lock(&s->lock);
	int n = s->n_ready;
	*uris = n ? s->ready : NULL;
	if (n) {
		s->ready = NULL;
		s->n_ready = s->cap_ready = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

bool scan_start(struct scan *s, const struct conf *c)
{
	if (s->started && !atomic_load(&s->finished))
		return false;
	if (s->started) {
		/* Finished but not collected: the result is dropped. */
		pthread_join(s->thread, NULL);
		s->started = false;
	}
	/* The pass reads its own copy: a reload may replace *c meanwhile. */
	conf_free(&s->conf);
	if (!conf_copy(&s->conf, c)) {
		log_error("library scan: out of memory");
		return true;	/* nothing to retry after */
	}
	memset(&s->result, 0, sizeof s->result);
	pthread_mutex_lock(&s->lock);
	memset(&s->prog, 0, sizeof s->prog);
	s->logged_tenth = 0;
	s->logged_at = util_mono();
	pthread_mutex_unlock(&s->lock);
	atomic_store(&s->finished, 0);
	atomic_store(&s->stop, 0);
	int e = pthread_create(&s->thread, NULL, background, s);
	if (e) {
		log_error("cannot start the library scan: %s", strerror(e));
		return true;
	}
	s->started = true;
	return true;
}

bool scan_collect(struct scan *s, struct scan_result *r)
{
	if (!s->started || !atomic_load(&s->finished))
		return false;
	pthread_join(s->thread, NULL);
	s->started = false;
	*r = s->result;
	return true;
}

void scan_free(struct scan *s)
{
	if (!s)
		return;
	if (s->started) {
		atomic_store(&s->stop, 1);
		pthread_join(s->thread, NULL);
	}
	conf_free(&s->conf);
	for (int i = 0; i < s->n_ready; i++)
		free(s->ready[i]);
	free(s->ready);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
