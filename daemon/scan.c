/* The library scan: MPD's database into the store, then new and changed
 * tracks analysed in worker threads. One store connection per pass, used by
 * one thread at a time under a mutex; results are grouped into short batch
 * transactions (one disk flush per quarter second, not per track). */
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

/* --- one pass ----------------------------------------------------------- */

struct pass {
	const struct conf *c;
	const struct scan_options *o;
	struct store *store;
	struct scan_result *r;
	pthread_mutex_t lock;

	char **uris;		/* pending tracks */
	int n, cap;
	atomic_int next;
	atomic_int store_broken;

	struct scan_progress prog;
	double analysis_t0;
	bool batch_open;
	double batch_t0;
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

static void end_batch(struct pass *p)
{
	if (p->batch_open && !store_batch_end(p->store))
		store_failure(p, "storing analysis results");
	p->batch_open = false;
}

/* Stores one result and reports progress: `analysed` seconds of the
 * track's `duration` were decoded and analysed. */
static void record(struct pass *p, const char *uri, const float *v,
		   double duration, double analysed, const char *error)
{
	pthread_mutex_lock(&p->lock);
	if (!atomic_load(&p->store_broken)) {
		if (!p->batch_open) {
			if (store_batch_begin(p->store)) {
				p->batch_open = true;
				p->batch_t0 = util_mono();
			} else {
				store_failure(p, "starting a batch");
			}
		}
		bool ok = error ? store_set_failed(p->store, uri, error)
				: store_set_features(p->store, uri,
						     FEATURES_VERSION, v,
						     features_count(),
						     duration);
		if (!ok)
			store_failure(p, uri);
		if (p->batch_open && util_mono() - p->batch_t0 > BATCH_SECONDS)
			end_batch(p);
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

static void *worker(void *arg)
{
	struct pass *p = arg;
	char err[256], path[4096];
	float v[FEAT_COUNT];
	double duration;
	if (p->o->low_priority)
		lower_priority();
	struct analyze *a = analyze_new(err, sizeof err);
	if (!a) {
		log_error("analysis worker: %s", err);
		return NULL;
	}
	const struct analyze_opts opts = {
		.max_seconds = p->c->analysis.max_seconds,
		.timeout_s = SCAN_FILE_TIMEOUT,
		.cancel = p->o->stop,
	};
	int i;
	while (!stopping(p) && (i = atomic_fetch_add(&p->next, 1)) < p->n) {
		const char *uri = p->uris[i];
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
	return NULL;
}

static bool add_pending(const char *uri, void *ctx)
{
	struct pass *p = ctx;
	if (p->n == p->cap) {
		int cap = p->cap ? 2 * p->cap : 256;
		char **u = realloc(p->uris, (size_t)cap * sizeof *u);
		if (!u)
			return false;
		p->uris = u;
		p->cap = cap;
	}
	if (!(p->uris[p->n] = strdup(uri)))
		return false;
	p->n++;
	return true;
}

/* --- listing ------------------------------------------------------------ */

/* MPD's songs are read into memory first and written to the store after,
 * so that the sync transaction (which holds SQLite's write lock, and keeps
 * the daemon's event writes waiting) lasts as long as the inserts only, not
 * as long as MPD takes to answer. */
struct songs {
	struct mpd_song **v;
	int n, cap;
};

static int by_uri(const void *a, const void *b)
{
	return strcmp(mpd_song_get_uri(*(struct mpd_song *const *)a),
		      mpd_song_get_uri(*(struct mpd_song *const *)b));
}

static int uri_vs_song(const void *key, const void *elem)
{
	return strcmp(key, mpd_song_get_uri(*(struct mpd_song *const *)elem));
}

static void songs_clear(struct songs *l)
{
	for (int i = 0; i < l->n; i++)
		mpd_song_free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static bool songs_add(struct pass *p, struct songs *l,
		      const struct mpd_song *song)
{
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 1024;
		struct mpd_song **v = realloc(l->v, (size_t)cap * sizeof *v);
		if (!v)
			return false;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = mpd_song_dup(song)))
		return false;
	l->n++;
	p->prog.listed = l->n;
	if (l->n % 1000 == 0)
		report(p);
	return true;
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
 * memory or asked to stop (the response is then abandoned: the caller
 * drops the connection) or when MPD failed (see the connection). */
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
			if (dirs)
				ok = push_dir(dirs, n_dirs, cap_dirs,
					      mpd_directory_get_path(
						      mpd_entity_get_directory(
							      e)));
			break;
		default:
			break;
		}
		mpd_entity_free(e);
		if (!ok) {
			snprintf(p->r->error, sizeof p->r->error,
				 "listing MPD's database: out of memory");
			return false;
		}
		if (stopping(p))
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

/* Reads every song of MPD's database into l: listallinfo, or lsinfo per
 * directory when asked to, or when MPD refused the whole listing or closed
 * the connection over it (an output buffer too small for the library). */
static bool read_library(struct pass *p, struct songs *l)
{
	struct mpd_connection *m =
		connect_mpd(p->c, p->r->error, sizeof p->r->error);
	if (!m)
		return false;
	bool ok = p->o->walk ? walk(p, m, l) : list_all(p, m, l);
	enum mpd_error e = mpd_connection_get_error(m);
	if (!ok && !p->o->walk && !p->r->error[0] && !stopping(p) &&
	    (e == MPD_ERROR_SERVER || e == MPD_ERROR_CLOSED)) {
		log_info("listallinfo failed (%s); listing directory by "
			 "directory", mpd_connection_get_error_message(m));
		if (e != MPD_ERROR_SERVER || !mpd_connection_clear_error(m)) {
			mpd_connection_free(m);
			m = connect_mpd(p->c, p->r->error, sizeof p->r->error);
			if (!m)
				return false;
		}
		songs_clear(l);
		ok = walk(p, m, l);
	}
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

/* Lists MPD's database into the store (one sync transaction); the songs
 * stay in *out (sorted by URI) for the caller, who clears them. */
static bool list_library(struct pass *p, struct songs *out)
{
	struct songs l = { 0 };
	p->prog.listing = true;
	report(p);
	if (!read_library(p, &l)) {
		songs_clear(&l);
		return false;
	}
	if (!store_sync_begin(p->store)) {
		snprintf(p->r->error, sizeof p->r->error,
			 "starting the library sync: %s",
			 store_error(p->store));
		songs_clear(&l);
		return false;
	}
	for (int i = 0; i < l.n; i++) {
		const struct mpd_song *song = l.v[i];
		const struct store_track_info t = {
			.uri = mpd_song_get_uri(song),
			.mtime = (int64_t)mpd_song_get_last_modified(song),
			.artist = mpd_song_get_tag(song, MPD_TAG_ARTIST, 0),
			.album = mpd_song_get_tag(song, MPD_TAG_ALBUM, 0),
			.title = mpd_song_get_tag(song, MPD_TAG_TITLE, 0),
			.genre = mpd_song_get_tag(song, MPD_TAG_GENRE, 0),
			.duration = mpd_song_get_duration_ms(song) / 1000.0,
		};
		if (!store_sync_track(p->store, &t)) {
			snprintf(p->r->error, sizeof p->r->error,
				 "storing %s: %s", t.uri,
				 store_error(p->store));
			store_sync_abort(p->store);
			songs_clear(&l);
			return false;
		}
	}
	p->r->listed = l.n;
	if (!store_sync_end(p->store, &p->r->gone)) {
		snprintf(p->r->error, sizeof p->r->error,
			 "ending the library sync: %s", store_error(p->store));
		songs_clear(&l);
		return false;
	}
	p->prog.listing = false;
	qsort(l.v, (size_t)l.n, sizeof *l.v, by_uri);
	*out = l;
	return true;
}

/* The audio the pass will analyse, from MPD's durations: what the ETA is
 * reckoned in (a long track costs max_seconds, a sound effect next to
 * nothing). */
static double planned_audio(const struct pass *p, const struct songs *l)
{
	double max = p->c->analysis.max_seconds, sum = 0;
	for (int i = 0; i < p->n; i++) {
		struct mpd_song **hit = bsearch(p->uris[i], l->v, (size_t)l->n,
						sizeof *l->v, uri_vs_song);
		double d = hit ? mpd_song_get_duration_ms(*hit) / 1000.0 : 0;
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

bool scan_run(const struct conf *c, const struct scan_options *o,
	      struct scan_result *r)
{
	static const struct scan_options none = { 0 };
	struct pass p = { .c = c, .o = o ? o : &none, .r = r };
	struct songs songs = { 0 };
	double t0 = util_mono();
	memset(r, 0, sizeof *r);
	pthread_mutex_init(&p.lock, NULL);
	atomic_init(&p.next, 0);
	atomic_init(&p.store_broken, 0);

	if (!c->music_directory) {
		snprintf(r->error, sizeof r->error,
			 "music_directory is not set");
		goto done;
	}
	p.store = store_open(c->data_directory, r->error, sizeof r->error);
	if (!p.store)
		goto done;
	if (!list_library(&p, &songs))
		goto done;
	if (!store_each_pending(p.store, FEATURES_VERSION, add_pending, &p)) {
		snprintf(r->error, sizeof r->error,
			 "reading pending tracks: %s",
			 store_error(p.store));
		goto done;
	}
	p.prog.total = p.n;
	p.prog.audio_total_s = planned_audio(&p, &songs);
	songs_clear(&songs);
	p.analysis_t0 = util_mono();
	report(&p);

	int jobs = worker_count(&p);
	pthread_t threads[MAX_JOBS];
	int started = 0;
	for (int i = 0; i < jobs; i++) {
		int e = pthread_create(&threads[i], NULL, worker, &p);
		if (e) {
			log_error("cannot start an analysis worker: %s",
				  strerror(e));
			break;
		}
		started++;
	}
	if (jobs > 0 && started == 0) {
		snprintf(r->error, sizeof r->error,
			 "cannot start analysis workers");
		goto done;
	}
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_lock(&p.lock);
	end_batch(&p);
	pthread_mutex_unlock(&p.lock);
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
	songs_clear(&songs);
	r->seconds = util_mono() - t0;
	store_close(p.store);
	for (int i = 0; i < p.n; i++)
		free(p.uris[i]);
	free(p.uris);
	pthread_mutex_destroy(&p.lock);
	return r->ok;
}

/* --- the daemon's background scanner ------------------------------------ */

struct scan {
	int notify_fd;
	pthread_t thread;
	bool started;		/* a thread exists and was not joined */
	atomic_int finished;
	atomic_int stop;
	struct conf conf;	/* the pass's own copy */
	struct scan_result result;
};

struct scan *scan_new(int notify_fd)
{
	struct scan *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->notify_fd = notify_fd;
	atomic_init(&s->finished, 0);
	atomic_init(&s->stop, 0);
	return s;
}

static void *background(void *arg)
{
	struct scan *s = arg;
	const struct scan_options o = {
		.low_priority = true,
		.stop = &s->stop,
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
	if (s->notify_fd >= 0) {
		char b = 's';
		ssize_t w;
		do
			w = write(s->notify_fd, &b, 1);
		while (w < 0 && errno == EINTR);
	}
	return NULL;
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
	free(s);
}
