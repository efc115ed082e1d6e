#include "daemon/learn.h"

#include "conf/conf.h"
#include "core/model.h"
#include "core/store.h"
#include "core/tempfile.h"
#include "core/util.h"
#include "daemon/log.h"
#include "features/table.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Niceness of the background threads (retrain, rescore): MPD's playback
 * and the daemon's own thread come first on a busy machine. */
#define BACKGROUND_NICE 10

/* Save after this many incremental updates (and at shutdown). */
#define SAVE_EVERY 5

/* The scaler is fitted on at most this many tracks of the library, drawn
 * evenly: its percentiles need no more, and a retrain then costs what its
 * events cost, not what the library holds (a million tracks were 256 MB
 * copied and sorted per retrain). */
#define SCALER_SAMPLE 16384

/* Libraries up to this many tracks are rescored in the calling thread
 * (a few milliseconds); larger ones in the background. The first scores
 * of a library up to FIRST_SYNC_MAX are computed at once (once, well
 * under 0.1 s), so the first picks are informed. */
#define SYNC_SCORE_MAX 4096
#define FIRST_SYNC_MAX 65536

/* The background rescore checks for a cancel request this often (rows). */
#define SCORE_CHUNK 4096

/* Before loading a library, how far back "changed since" looks: the
 * clocks of the processes writing the store are the same machine's, but a
 * row written while the library loads must not be missed. */
#define CHANGED_MARGIN_S 5.0

/* The replay history: labelled events with their features, oldest first. */
struct history {
	int n, cap, dim;
	float *x;
	float *y;
	float *w;
	double *time;
	int *lib_index;		/* index into the library, -1 if none */
};

struct retrain_job {
	struct model_params params;
	float *sample;		/* rows of the library for the scaler */
	int sample_n;
	int lib_n;		/* library size the sample stands for */
	struct history h;	/* copy of the history */
	double now;
	struct model *result;	/* NULL when it failed */
	struct model_report report;
	char err[256];
};

struct score_job {
	struct model *model;	/* a clone: the thread's own */
	unsigned gen;		/* its generation */
	uint64_t stamp;		/* its stamp if it was the saved one, or 0 */
	const float *x;		/* the library's matrix, rows [0, n) */
	int n, dim;
	float *mean, *spread;	/* cap floats each, the result */
	int cap;
	double t0;		/* monotonic start */
	atomic_int cancel;
	bool done_ok;
};

/* A background thread with its job; `done` set by the thread last. */
struct worker {
	pthread_t thread;
	bool running;
	atomic_bool done;
};

/* Starts w's thread on fn(arg); false when it cannot start. */
static bool worker_start(struct worker *w, void *(*fn)(void *), void *arg)
{
	atomic_store(&w->done, false);
	if (pthread_create(&w->thread, NULL, fn, arg) != 0)
		return false;
	w->running = true;
	return true;
}

/* Whether w's thread may be joined: it runs and has finished (or the
 * caller will wait for it). */
static bool worker_joinable(struct worker *w, bool wait)
{
	return w->running && (wait || atomic_load(&w->done));
}

static void worker_join(struct worker *w)
{
	pthread_join(w->thread, NULL);
	w->running = false;
}

struct learn {
	struct store *store;
	struct model_params params;
	struct model *model;
	uint64_t model_stamp;	/* checksum of the blob last loaded or
				 * saved (0: none); another means another
				 * process saved a model */
	struct store_library *lib;
	int dim;
	struct util_index index;	/* uri -> library index */
	struct history h;
	int likes;
	int since_save;
	int since_retrain;
	int retrain_every;
	int scaler_rows;	/* library size the scaler was fitted at */
	bool titles;		/* the library is loaded with titles */
	/* the library was read from SQLite (not library.cache) at this
	 * generation of the store's: kept as library.cache by
	 * keep_library() */
	bool lib_from_rows;
	uint64_t lib_gen;
	bool dirty;
	double changed_since;	/* epoch: learn_reload_library looks from */
	/* Scores of lib's rows, `cap` floats each. `scores_have`: every row
	 * has one; `scores_stale`: the model changed since they were
	 * computed. */
	float *mean, *spread;
	int scores_cap;
	bool scores_have;
	bool scores_stale;
	/* The model's generation (one more at every change), the one the
	 * scores came from and the stamp of that model when it was the saved
	 * one (0: it was not): what the score cache file says. */
	unsigned model_gen, scores_gen;
	uint64_t scores_stamp;
	uint64_t cache_stamp;	/* stamp of the cache file last written */
	double cache_at;	/* monotonic time it was written */
	/* background work */
	int notify_fd;
	struct worker retrain;
	struct retrain_job *job;
	struct worker scorer;
	struct score_job *sjob;
};

int learn_find(const struct learn *l, const char *uri)
{
	return l->lib ? util_index_find(&l->index, l->lib->uri, uri) : -1;
}

static bool background(const struct learn *l)
{
	return l->notify_fd >= 0;
}

static void wake(const struct learn *l, char b)
{
	if (l->notify_fd < 0)
		return;
	ssize_t rc;
	do
		rc = write(l->notify_fd, &b, 1);
	while (rc < 0 && errno == EINTR);
}

static void nice_thread(void)
{
	/* Linux nices threads one by one. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), BACKGROUND_NICE) != 0)
		log_debug("setpriority: %s", strerror(errno));
}

/* --- history ------------------------------------------------------------ */

static void history_free(struct history *h)
{
	free(h->x);
	free(h->y);
	free(h->w);
	free(h->time);
	free(h->lib_index);
	memset(h, 0, sizeof *h);
}

static bool history_push(struct history *h, const float *x, float y, float w,
			 double t, int idx)
{
	if (h->n == h->cap) {
		int cap = h->cap ? h->cap * 2 : 64;
		float *nx = realloc(h->x, (size_t)cap * h->dim * sizeof *nx);
		if (nx)
			h->x = nx;
		float *ny = realloc(h->y, (size_t)cap * sizeof *ny);
		if (ny)
			h->y = ny;
		float *nw = realloc(h->w, (size_t)cap * sizeof *nw);
		if (nw)
			h->w = nw;
		double *nt = realloc(h->time, (size_t)cap * sizeof *nt);
		if (nt)
			h->time = nt;
		int *ni = realloc(h->lib_index, (size_t)cap * sizeof *ni);
		if (ni)
			h->lib_index = ni;
		if (!nx || !ny || !nw || !nt || !ni)
			return false;
		h->cap = cap;
	}
	memcpy(h->x + (size_t)h->n * h->dim, x, (size_t)h->dim * sizeof *x);
	h->y[h->n] = y;
	h->w[h->n] = w;
	h->time[h->n] = t;
	h->lib_index[h->n] = idx;
	h->n++;
	return true;
}

static bool history_copy(struct history *dst, const struct history *src)
{
	memset(dst, 0, sizeof *dst);
	dst->dim = src->dim;
	for (int i = 0; i < src->n; i++)
		if (!history_push(dst, src->x + (size_t)i * src->dim,
				  src->y[i], src->w[i], src->time[i],
				  src->lib_index[i])) {
			history_free(dst);
			return false;
		}
	return true;
}

/* Loads the labelled events with features from the store (events of
 * tracks analysed since the last load join in). */
static bool history_load(struct learn *l, char *err, size_t err_size)
{
	struct store_examples *ex = store_load_examples(l->store,
							FEATURES_VERSION,
							l->dim);
	if (!ex) {
		snprintf(err, err_size, "loading events: %s",
			 store_error(l->store));
		return false;
	}
	struct history h = { .dim = l->dim };
	int likes = 0;
	for (int i = 0; i < ex->n; i++) {
		if (!history_push(&h, ex->x + (size_t)i * ex->dim, ex->y[i],
				  ex->w[i], ex->time[i],
				  learn_find(l, ex->uri[i]))) {
			store_examples_free(ex);
			history_free(&h);
			snprintf(err, err_size, "loading events: out of memory");
			return false;
		}
		likes += ex->y[i] > 0.5f;
	}
	store_examples_free(ex);
	history_free(&l->h);
	l->h = h;
	l->likes = likes;
	return true;
}

/* The model's view of the history, with ages relative to now. */
static struct model_data history_view(const struct history *h, double now,
				      double *age)
{
	for (int i = 0; i < h->n; i++)
		age[i] = (now - h->time[i]) / 86400.0;
	return (struct model_data){ .x = h->x, .y = h->y, .w = h->w,
				    .age_days = age, .n = h->n };
}

void learn_params_from_conf(struct model_params *p, const struct conf *c,
			    int dim)
{
	/* The model's own defaults only for what no option sets; the
	 * options' defaults are the table's, also without a file. */
	model_params_default(p, dim);
	struct conf defaults;
	if (!c) {
		if (!conf_defaults(&defaults))
			return;
		c = &defaults;
	}
	if (c->model.n_hidden >= 0 && c->model.n_hidden <= MODEL_MAX_HIDDEN) {
		p->n_hidden = c->model.n_hidden;
		for (int i = 0; i < c->model.n_hidden; i++)
			p->hidden[i] = c->model.hidden[i];
	}
	p->bins = c->model.bins;
	p->learning_rate = (float)c->model.learning_rate;
	p->l2 = (float)c->model.l2;
	p->ensemble = c->model.ensemble;
	p->steps_per_event = c->model.steps_per_event;
	p->batch = c->model.batch;
	p->half_life_days = (float)c->model.half_life_days;
	p->seed = c->model.seed;
	if (c == &defaults)
		conf_free(&defaults);
}

/* --- the model ---------------------------------------------------------- */

/* Up to SCALER_SAMPLE rows of the library, evenly spaced: a copy the
 * caller frees (NULL with *n 0 for an empty library or no memory). */
static float *scaler_sample(const struct learn *l, int *n)
{
	*n = 0;
	int rows = l->lib ? l->lib->n : 0;
	if (rows == 0)
		return NULL;
	int m = rows < SCALER_SAMPLE ? rows : SCALER_SAMPLE;
	float *s = malloc((size_t)m * l->dim * sizeof *s);
	if (!s)
		return NULL;
	for (int k = 0; k < m; k++) {
		size_t i = (size_t)k * (size_t)rows / (size_t)m;
		memcpy(s + (size_t)k * l->dim, l->lib->x + i * l->dim,
		       (size_t)l->dim * sizeof *s);
	}
	*n = m;
	return s;
}

/* A fresh model with its scaler fitted on x (n rows; none: unfitted). */
static struct model *fresh_model(const struct model_params *p,
				 const float *x, int n, char *err,
				 size_t err_size)
{
	struct model *m = model_new(p, err, err_size);
	if (!m)
		return NULL;
	if (n > 0 && !model_fit_scaler(m, x, n, err, err_size)) {
		model_free(m);
		return NULL;
	}
	return m;
}

/* "validation accuracy 0.812, AUC 0.9" or why they are missing: never a
 * "nan" for a listener to puzzle over. */
static void report_summary(const struct model_report *r, int n, char *buf,
			   size_t size)
{
	int k = snprintf(buf, size, "%d events: ", n);
	if (k < 0 || (size_t)k >= size)
		return;
	if (isnan(r->train_accuracy))
		k += snprintf(buf + k, size - (size_t)k,
			      "training accuracy not measured");
	else
		k += snprintf(buf + k, size - (size_t)k,
			      "training accuracy %.3f", r->train_accuracy);
	if (k < 0 || (size_t)k >= size)
		return;
	if (isnan(r->val_accuracy) && r->n_val == 0)
		snprintf(buf + k, size - (size_t)k,
			 "; no validation: too few labels for a validation "
			 "split");
	else if (isnan(r->val_accuracy) || isnan(r->val_auc) ||
		 isnan(r->val_logloss))
		snprintf(buf + k, size - (size_t)k,
			 "; no validation metrics: the %d held-out labels "
			 "are all of one kind", r->n_val);
	else
		snprintf(buf + k, size - (size_t)k,
			 ", validation accuracy %.3f, AUC %.3f, log-loss "
			 "%.3f", r->val_accuracy, r->val_auc, r->val_logloss);
}

/* Puts model m in place of the current one (scores to refresh). */
static void swap_model(struct learn *l, struct model *m, bool dirty)
{
	model_free(l->model);
	l->model = m;
	l->model_gen++;
	l->scores_stale = true;
	l->dirty = dirty;
	if (!dirty)
		l->since_save = 0;
}

/* Takes a model another process saved (mpdrec train), if any: its stamp
 * differs from the one this learner loaded or saved last. */
static void check_foreign_model(struct learn *l)
{
	uint64_t stamp;
	if (!store_model_stamp(l->store, &stamp) || stamp == 0 ||
	    stamp == l->model_stamp)
		return;
	l->model_stamp = stamp;	/* tried once, whatever happens */
	void *blob = NULL;
	size_t size = 0;
	if (!store_load_model(l->store, &blob, &size) || !blob) {
		log_warning("a model was saved by another process but does "
			    "not load: %s", store_error(l->store));
		return;
	}
	char why[256];
	struct model *m = model_load(blob, size, why, sizeof why);
	l->model_stamp = store_model_checksum(blob, size);
	free(blob);
	if (!m) {
		log_warning("a model saved by another process is not usable "
			    "(%s); keeping this one", why);
		return;
	}
	if (model_inputs(m) != l->dim) {
		log_warning("a model saved by another process takes %d "
			    "features, not %d; keeping this one",
			    model_inputs(m), l->dim);
		model_free(m);
		return;
	}
	swap_model(l, m, false);
	log_info("took the model another process saved (mpdrec train?): "
		 "picks follow it from now on");
}

/* --- the background retrain --------------------------------------------- */

static void *retrain_main(void *arg)
{
	struct learn *l = arg;
	struct retrain_job *j = l->job;
	nice_thread();
	j->result = fresh_model(&j->params, j->sample, j->sample_n, j->err,
				sizeof j->err);
	if (j->result && j->h.n > 0) {
		double *age = malloc((size_t)j->h.n * sizeof *age);
		struct model_data d = history_view(&j->h, j->now, age);
		if (!age || !model_train(j->result, &d, &j->report, j->err,
					 sizeof j->err)) {
			if (!age)
				snprintf(j->err, sizeof j->err, "out of memory");
			model_free(j->result);
			j->result = NULL;
		}
		free(age);
	}
	atomic_store(&l->retrain.done, true);
	wake(l, 'r');
	return NULL;
}

static void job_free(struct retrain_job *j)
{
	if (!j)
		return;
	free(j->sample);
	history_free(&j->h);
	model_free(j->result);
	free(j);
}

/* Whether the history can train a model: both a like and a dislike. */
static bool trainable(const struct learn *l)
{
	return l->h.n >= 2 && l->likes > 0 && l->likes < l->h.n;
}

void learn_retrain_async(struct learn *l)
{
	if (l->retrain.running || !l->lib || l->lib->n == 0)
		return;
	char err[256];
	if (!history_load(l, err, sizeof err))
		log_warning("%s", err);
	if (l->h.n > 0 && !trainable(l)) {
		log_debug("not retraining: the %d labels are all of one kind",
			  l->h.n);
		return;
	}
	struct retrain_job *j = calloc(1, sizeof *j);
	if (!j)
		return;
	j->params = l->params;
	j->lib_n = l->lib->n;
	j->sample = scaler_sample(l, &j->sample_n);
	j->now = util_epoch();
	if (!j->sample || !history_copy(&j->h, &l->h)) {
		job_free(j);
		return;
	}
	l->job = j;
	if (!worker_start(&l->retrain, retrain_main, l)) {
		log_warning("cannot start a background retrain");
		l->job = NULL;
		job_free(j);
		return;
	}
	l->since_retrain = 0;
	log_info("retraining on %d events in the background", l->h.n);
}

/* Swaps a finished retrain in; `wait` joins a running one first. */
static bool collect_retrain(struct learn *l, bool wait)
{
	if (!worker_joinable(&l->retrain, wait))
		return false;
	worker_join(&l->retrain);
	struct retrain_job *j = l->job;
	l->job = NULL;
	bool swapped = false, retrain_again = false;
	if (j->result && j->h.n == 0) {
		/* No labels (all withdrawn): a new model, nothing measured. */
		log_info("new model: no labelled events to train on");
		swap_model(l, j->result, true);
		l->scaler_rows = j->lib_n;
		j->result = NULL;
		swapped = true;
	} else if (j->result) {
		char line[320];
		report_summary(&j->report, j->h.n, line, sizeof line);
		log_info("retrained: %s (%.2f s)", line, j->report.seconds);
		store_add_training(l->store, util_epoch(), j->h.n,
				   j->report.train_accuracy,
				   j->report.val_accuracy, j->report.val_auc,
				   j->report.val_logloss);
		swap_model(l, j->result, true);
		l->scaler_rows = j->lib_n;
		j->result = NULL;
		swapped = true;
		/* The configuration changed while it trained. */
		char why[256];
		if (!model_set_params(l->model, &l->params, why, sizeof why))
			retrain_again = true;
	} else {
		log_warning("retrain failed: %s", j->err);
	}
	job_free(j);
	if (retrain_again)
		learn_retrain_async(l);
	return swapped;
}

bool learn_retrain_now(struct learn *l, char *summary, size_t summary_size)
{
	collect_retrain(l, true);
	char err[256];
	if (!history_load(l, err, sizeof err)) {
		snprintf(summary, summary_size, "%s", err);
		return false;
	}
	int n_sample;
	float *sample = scaler_sample(l, &n_sample);
	struct model_report rep;
	struct model *m = fresh_model(&l->params, sample, n_sample, err,
				      sizeof err);
	free(sample);
	if (!m) {
		snprintf(summary, summary_size, "%s", err);
		return false;
	}
	double *age = malloc(((size_t)l->h.n + 1) * sizeof *age);
	struct model_data d = history_view(&l->h, util_epoch(), age);
	if (!age || !model_train(m, &d, &rep, err, sizeof err)) {
		snprintf(summary, summary_size, "%s",
			 age ? err : "out of memory");
		free(age);
		model_free(m);
		return false;
	}
	free(age);
	report_summary(&rep, l->h.n, summary, summary_size);
	store_add_training(l->store, util_epoch(), l->h.n,
			   rep.train_accuracy, rep.val_accuracy, rep.val_auc,
			   rep.val_logloss);
	swap_model(l, m, true);
	l->scaler_rows = l->lib ? l->lib->n : 0;
	l->since_retrain = 0;
	return true;
}

bool learn_retrain_due(int n, int every)
{
	if (n < 4)
		return false;
	/* 4·2^k and 12·2^k: 4, 8, 12, 16, 24, 32, 48, 64, 96... */
	int last = 0;
	for (int a = 4, b = 12; a < every || b < every; a *= 2, b *= 2) {
		if ((a < every && n == a) || (b < every && n == b))
			return true;
		if (a < every && a > last)
			last = a;
		if (b < every && b > last)
			last = b;
	}
	return every > 0 && n > last && (n - last) % every == 0;
}

/* --- scores ------------------------------------------------------------- */

/* Score arrays with room for the library's capacity. */
static bool scores_reserve(struct learn *l)
{
	int cap = l->lib && l->lib->cap > 0 ? l->lib->cap : 1;
	if (cap <= l->scores_cap)
		return true;
	float *m = realloc(l->mean, (size_t)cap * sizeof *m);
	if (m)
		l->mean = m;
	float *s = realloc(l->spread, (size_t)cap * sizeof *s);
	if (s)
		l->spread = s;
	if (!m || !s)
		return false;
	l->scores_cap = cap;
	return true;
}

static void *score_main(void *arg)
{
	struct learn *l = arg;
	struct score_job *j = l->sjob;
	nice_thread();
	int at = 0;
	while (at < j->n && !atomic_load(&j->cancel)) {
		int c = j->n - at < SCORE_CHUNK ? j->n - at : SCORE_CHUNK;
		model_score(j->model, j->x + (size_t)at * j->dim, c,
			    j->mean + at, j->spread + at);
		at += c;
	}
	j->done_ok = at == j->n;
	atomic_store(&l->scorer.done, true);
	wake(l, 'c');
	return NULL;
}

static void score_job_free(struct score_job *j)
{
	if (!j)
		return;
	model_free(j->model);
	free(j->mean);
	free(j->spread);
	free(j);
}

/* Joins the rescore thread: takes its scores when it finished for the
 * library as it is (`take`), else drops them. Returns whether it took. */
static bool collect_scores(struct learn *l, bool wait, bool take)
{
	if (!worker_joinable(&l->scorer, wait))
		return false;
	if (!take)
		atomic_store(&l->sjob->cancel, 1);
	worker_join(&l->scorer);
	struct score_job *j = l->sjob;
	l->sjob = NULL;
	bool took = take && j->done_ok && l->lib && j->n == l->lib->n &&
		    j->cap >= l->scores_cap;
	if (took) {
		float *m = l->mean, *s = l->spread;
		l->mean = j->mean;
		l->spread = j->spread;
		l->scores_cap = j->cap;
		j->mean = m;
		j->spread = s;
		l->scores_have = true;
		l->scores_gen = j->gen;
		l->scores_stamp = j->stamp;
		log_debug("scores of %d tracks refreshed in %.2f s", j->n,
			  util_mono() - j->t0);
	} else {
		l->scores_stale = true;	/* computed for nothing */
	}
	score_job_free(j);
	return took;
}

/* Stops a running rescore before the library's arrays move. */
static void stop_scorer(struct learn *l)
{
	collect_scores(l, true, false);
}

/* Scores every row in the calling thread. */
static void score_all_now(struct learn *l)
{
	if (!l->lib || l->lib->n == 0 || !scores_reserve(l))
		return;
	model_score(l->model, l->lib->x, l->lib->n, l->mean, l->spread);
	l->scores_have = true;
	l->scores_stale = false;
	l->scores_gen = l->model_gen;
	l->scores_stamp = l->dirty ? 0 : l->model_stamp;
}

/* Starts a rescore of the whole library in the background. */
static void start_scorer(struct learn *l)
{
	if (l->scorer.running || !l->lib || l->lib->n == 0)
		return;
	struct score_job *j = calloc(1, sizeof *j);
	if (!j)
		return;
	j->model = model_clone(l->model);
	j->gen = l->model_gen;
	j->stamp = l->dirty ? 0 : l->model_stamp;
	j->t0 = util_mono();
	j->x = l->lib->x;
	j->n = l->lib->n;
	j->dim = l->dim;
	j->cap = l->lib->cap > l->scores_cap ? l->lib->cap : l->scores_cap;
	j->mean = malloc((size_t)j->cap * sizeof *j->mean);
	j->spread = malloc((size_t)j->cap * sizeof *j->spread);
	atomic_init(&j->cancel, 0);
	if (!j->model || !j->mean || !j->spread) {
		score_job_free(j);
		return;
	}
	l->sjob = j;
	if (!worker_start(&l->scorer, score_main, l)) {
		log_warning("cannot start a background rescore");
		l->sjob = NULL;
		score_job_free(j);
		return;
	}
	/* What it computes is for this model: a later change marks them
	 * stale again. */
	l->scores_stale = false;
}

/* --- the score cache ---------------------------------------------------- */

/* A large library's scores outlive the process in a file beside the
 * store, for the model they came from: the next start (or a command)
 * with that model scores nothing. Rows are keyed by their URI's hash. */
#define CACHE_FILE "scores.cache"
#define CACHE_MAGIC "MPDRSC02"	/* 02: util_hash by words */
/* Written at most this often (a million tracks are 16 MB), and at exit. */
#define CACHE_EVERY_S 300.0

struct cache_head {
	char magic[8];
	uint64_t stamp;
	uint64_t n;
};

struct cache_row {
	uint64_t hash;
	float mean, spread;
};

static bool cache_path(const struct learn *l, char *buf, size_t size,
		       const char *suffix)
{
	const char *db = store_path(l->store);
	const char *slash = strrchr(db, '/');
	int len = slash ? (int)(slash - db) : 0;
	int k = snprintf(buf, size, "%.*s%s%s%s", len, db, slash ? "/" : "",
			 CACHE_FILE, suffix);
	return k > 0 && (size_t)k < size;
}

/* Writes the scores when they are those of the saved model and the file
 * does not hold them yet (`force`: whatever the time since the last). */
static void write_cache(struct learn *l, bool force)
{
	if (!l->scores_have || l->scores_stamp == 0 || !l->lib ||
	    l->lib->n <= FIRST_SYNC_MAX || l->scores_stamp == l->cache_stamp ||
	    (!force && l->cache_at > 0 &&
	     util_mono() - l->cache_at < CACHE_EVERY_S))
		return;
	char path[4200], tmp[4200];
	if (!cache_path(l, path, sizeof path, "") ||
	    !cache_path(l, tmp, sizeof tmp, ".tmp"))
		return;
	/* The daemon and a command may write at once: the one who finds the
	 * temporary file busy leaves it to the other. */
	int fd = tempfile_open(tmp);
	if (fd == TEMPFILE_BUSY)
		return;
	FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
	if (fd >= 0 && !f) {
		unlink(tmp);
		close(fd);
	}
	struct cache_head h = { .stamp = l->scores_stamp,
				.n = (uint64_t)l->lib->n };
	memcpy(h.magic, CACHE_MAGIC, sizeof h.magic);
	bool ok = f && fwrite(&h, sizeof h, 1, f) == 1;
	for (int i = 0; ok && i < l->lib->n; i++) {
		struct cache_row r = { util_hash(l->lib->uri[i]), l->mean[i],
				       l->spread[i] };
		ok = fwrite(&r, sizeof r, 1, f) == 1;
	}
	/* Renamed while still locked, then closed. */
	ok = ok && fflush(f) == 0;
	bool renamed = ok && rename(tmp, path) == 0;
	int e = errno;
	if (f) {
		if (!renamed)
			unlink(tmp);
		fclose(f);
	}
	if (renamed) {
		l->cache_stamp = l->scores_stamp;
		l->cache_at = util_mono();
		log_debug("scores of %d tracks kept in %s", l->lib->n, path);
	} else {
		log_debug("cannot write %s: %s", tmp, strerror(e));
	}
}

/* The row of the cache with `hash`: an open-addressing table of the rows
 * (built on first need in *slot, *cap), or -1. */
static int cache_find(const struct cache_row *rows, int n, int **slot,
		      size_t *cap, uint64_t hash)
{
	if (!*slot) {
		size_t c = 16;
		while (c < 2 * (size_t)n)
			c *= 2;
		if (!(*slot = malloc(c * sizeof **slot)))
			return -1;
		memset(*slot, -1, c * sizeof **slot);
		for (int k = 0; k < n; k++) {
			size_t at = rows[k].hash & (c - 1);
			while ((*slot)[at] >= 0)
				at = (at + 1) & (c - 1);
			(*slot)[at] = k;
		}
		*cap = c;
	}
	for (size_t at = hash & (*cap - 1); (*slot)[at] >= 0;
	     at = (at + 1) & (*cap - 1))
		if (rows[(*slot)[at]].hash == hash)
			return (*slot)[at];
	return -1;
}

/* Takes the scores from the cache file when it holds those of the model
 * loaded (saved, unchanged): rows it lacks (tracks analysed since) are
 * scored. Returns whether the scores are in place. */
static bool read_cache(struct learn *l)
{
	char path[4200];
	if (l->dirty || l->model_stamp == 0 || !l->lib ||
	    l->lib->n <= FIRST_SYNC_MAX ||
	    !cache_path(l, path, sizeof path, ""))
		return false;
	/* Mapped, not read: a million rows copied into fresh pages cost more
	 * than the file's own pages, which are in the page cache already. */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	struct cache_head h;
	const struct cache_row *rows = NULL;
	void *map = MAP_FAILED;
	size_t map_size = 0;
	bool ok = fstat(fd, &st) == 0 && st.st_size > (off_t)sizeof h &&
		  pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
		  !memcmp(h.magic, CACHE_MAGIC, sizeof h.magic) &&
		  h.stamp == l->model_stamp && h.n > 0 &&
		  h.n <= (uint64_t)INT32_MAX &&
		  (uint64_t)st.st_size == sizeof h + h.n * sizeof *rows;
	if (ok) {
		map_size = (size_t)st.st_size;
		map = mmap(NULL, map_size, PROT_READ, MAP_PRIVATE |
			   MAP_POPULATE, fd, 0);
		ok = map != MAP_FAILED && scores_reserve(l);
		if (map != MAP_FAILED)
			rows = (const struct cache_row *)((char *)map +
							  sizeof h);
	}
	close(fd);
	int n = ok ? (int)h.n : 0, missing = 0;
	bool in_order = n == l->lib->n;
	int *slot = NULL;
	size_t cap = 0;
	for (int i = 0; ok && i < l->lib->n; i++) {
		uint64_t hash = util_hash(l->lib->uri[i]);
		/* The file is in the order of the library that wrote it,
		 * most often this one's: then no lookup at all. */
		int k = i < n && rows[i].hash == hash
				? i : cache_find(rows, n, &slot, &cap, hash);
		in_order &= k == i;
		if (k >= 0) {
			l->mean[i] = rows[k].mean;
			l->spread[i] = rows[k].spread;
		} else {
			model_score(l->model, l->lib->x + (size_t)i * l->dim,
				    1, l->mean + i, l->spread + i);
			missing++;
		}
	}
	if (map != MAP_FAILED)
		munmap(map, map_size);
	free(slot);
	if (!ok)
		return false;
	l->scores_have = true;
	l->scores_stale = false;
	l->scores_gen = l->model_gen;
	l->scores_stamp = l->model_stamp;
	/* A file in another library's order (the daemon's, while a command
	 * reads the store's), or with rows scored anew, is written again in
	 * this one's, so that the next reader finds every row in its place
	 * instead of hashing a million uris into a table. */
	l->cache_stamp = in_order ? l->model_stamp : 0;
	log_debug("scores of %d tracks from %s (%d scored anew%s)", l->lib->n,
		  path, missing, in_order ? "" : "; to be kept again in this order");
	return true;
}

void learn_refresh_scores(struct learn *l)
{
	check_foreign_model(l);
	if (!l->lib || l->lib->n == 0)
		return;
	if (l->scores_have && !l->scores_stale)
		return;
	/* Never scored: those of the saved model, when scores.cache holds
	 * them (`recommend` rescored a million tracks at every call). */
	if (!l->scores_have && read_cache(l))
		return;
	if (!background(l) || l->lib->n <= SYNC_SCORE_MAX) {
		if (l->scorer.running)
			stop_scorer(l);
		score_all_now(l);
		return;
	}
	/* Saved first, so the scores belong to a saved model and can be
	 * kept in scores.cache for the next start. */
	char err[256];
	if (!l->scorer.running && l->lib->n > FIRST_SYNC_MAX &&
	    !learn_save(l, err, sizeof err))
		log_warning("saving the model: %s", err);
	start_scorer(l);
}

bool learn_scores(struct learn *l, const float **mean, const float **spread)
{
	if (!l->lib || l->lib->n == 0)
		return false;
	if (!l->scores_have && read_cache(l)) {
		/* the scores of the saved model */
	} else if (!l->scores_have) {
		if (background(l) && l->lib->n > FIRST_SYNC_MAX) {
			start_scorer(l);
			return false;
		}
		score_all_now(l);
		if (!l->scores_have)
			return false;
		write_cache(l, false);
	}
	*mean = l->mean;
	*spread = l->spread;
	return true;
}

bool learn_collect(struct learn *l)
{
	bool any = collect_retrain(l, false);
	if (collect_scores(l, false, true)) {
		any = true;
		write_cache(l, false);
	}
	/* The model changed while the rescore ran: go again. */
	if (l->scores_stale && !l->scorer.running && background(l))
		learn_refresh_scores(l);
	return any;
}

/* --- the library -------------------------------------------------------- */

static bool load_library(struct learn *l, char *err, size_t err_size)
{
	double since = util_epoch() - CHANGED_MARGIN_S;
	/* Titles only name tracks in explanations (a million are 30 MB);
	 * albums and genres place the tracks in the queue filler's
	 * groups. */
	struct store_library *lib = store_load_library_with(
		l->store, FEATURES_VERSION, l->dim, STORE_LIBRARY_TAGS |
		STORE_LIBRARY_CACHE | (l->titles ? STORE_LIBRARY_TITLES : 0));
	if (!lib) {
		snprintf(err, err_size, "loading the library: %s",
			 store_error(l->store));
		return false;
	}
	char why[512];
	bool cached = store_library_cached(l->store, &l->lib_gen, why,
					   sizeof why);
	l->lib_from_rows = !cached;
	if (why[0])
		log_debug("library read from the store (%s)", why);
	else
		log_debug("library read from %s", cached ? "library.cache" :
			  "the store");
	store_library_free(l->lib);
	l->lib = lib;
	l->changed_since = since;
	l->scores_have = false;
	l->scores_stale = true;
	if (!scores_reserve(l) ||
	    !util_index_build_distinct(&l->index, lib->uri, lib->n)) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	return true;
}

/* Refits the scaler when the library doubled since it was fitted (the
 * first analysis grows it from nothing): a new model while there is no
 * history, else a retrain. */
static void maybe_refit(struct learn *l)
{
	if (l->lib->n < 2 * l->scaler_rows || l->lib->n == 0)
		return;
	if (l->h.n == 0) {
		char e[256];
		int n;
		float *sample = scaler_sample(l, &n);
		struct model *m = sample ? fresh_model(&l->params, sample, n,
						       e, sizeof e) : NULL;
		free(sample);
		if (m) {
			swap_model(l, m, true);
			l->scaler_rows = l->lib->n;
			log_debug("scaler fitted on %d tracks", l->lib->n);
		}
	} else if (!l->retrain.running) {
		learn_retrain_async(l);
	}
}

/* Tracks brought up to date in one round: rows to drop are only marked
 * (removing one moves the last row, which would confuse the index while
 * the round goes on), appended rows are scored together at the end. */
struct round {
	struct learn *l;
	int first_new;		/* lib->n when the round began */
	int *drop;		/* rows to drop */
	int n_drop, cap_drop;
	int done;
	bool failed;
	char *err;
	size_t err_size;
};

static bool round_track(struct round *r, const char *uri)
{
	struct learn *l = r->l;
	int i = learn_find(l, uri);
	switch (store_library_update(l->store, l->lib, FEATURES_VERSION, uri,
				     i)) {
	case STORE_ROW_ERROR:
		snprintf(r->err, r->err_size, "updating the library: %s",
			 store_error(l->store));
		return false;
	case STORE_ROW_ABSENT:
		return true;
	case STORE_ROW_STALE:
		if (r->n_drop == r->cap_drop) {
			int cap = r->cap_drop ? 2 * r->cap_drop : 64;
			int *d = realloc(r->drop, (size_t)cap * sizeof *d);
			if (!d) {
				snprintf(r->err, r->err_size, "out of memory");
				return false;
			}
			r->drop = d;
			r->cap_drop = cap;
		}
		r->drop[r->n_drop++] = i;
		return true;
	case STORE_ROW_ADDED:
		if (!scores_reserve(l) ||
		    !util_index_add(&l->index, l->lib->uri, l->lib->n - 1)) {
			store_library_remove(l->lib, l->lib->n - 1);
			snprintf(r->err, r->err_size, "out of memory");
			return false;
		}
		r->done++;
		return true;
	case STORE_ROW_REFRESHED:
		if (i < r->first_new)
			model_score(l->model, l->lib->x + (size_t)i * l->dim,
				    1, l->mean + i, l->spread + i);
		r->done++;
		return true;
	}
	return true;
}

static int by_index_desc(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x < y) - (x > y);
}

/* Ends a round: scores the appended rows, drops the marked ones (highest
 * first, so that the last row moved into a hole is never one to drop),
 * then rebuilds what indexes rows. Returns false when r failed. */
static bool round_end(struct round *r)
{
	struct learn *l = r->l;
	int n_new = l->lib->n - r->first_new;
	if (n_new > 0)
		model_score(l->model,
			    l->lib->x + (size_t)r->first_new * l->dim, n_new,
			    l->mean + r->first_new, l->spread + r->first_new);
	if (r->n_drop > 0) {
		qsort(r->drop, (size_t)r->n_drop, sizeof *r->drop,
		      by_index_desc);
		for (int k = 0; k < r->n_drop; k++) {
			int i = r->drop[k];
			if (k > 0 && i == r->drop[k - 1])
				continue;
			store_library_remove(l->lib, i);
			l->mean[i] = l->mean[l->lib->n];
			l->spread[i] = l->spread[l->lib->n];
		}
		if (!util_index_build_distinct(&l->index, l->lib->uri,
					       l->lib->n)) {
			snprintf(r->err, r->err_size, "out of memory");
			r->failed = true;
		}
		/* The events' rows moved: their indices again. */
		char e[256];
		if (!history_load(l, e, sizeof e))
			log_warning("%s", e);
		log_debug("library: %d tracks dropped (gone, failed or "
			  "changed)", r->n_drop);
	}
	free(r->drop);
	if (!r->failed)
		maybe_refit(l);
	return !r->failed;
}

int learn_add_tracks(struct learn *l, const char *const *uris, int n,
		     char *err, size_t err_size)
{
	if (n <= 0 || !l->lib)
		return 0;
	stop_scorer(l);		/* the arrays may move */
	struct round r = { .l = l, .first_new = l->lib->n, .err = err,
			   .err_size = err_size };
	for (int k = 0; k < n && !r.failed; k++)
		r.failed = !round_track(&r, uris[k]);
	return round_end(&r) ? r.done : -1;
}

static bool on_changed(const char *uri, void *ctx)
{
	struct round *r = ctx;
	r->failed = !round_track(r, uri);
	return !r->failed;
}

static bool on_banned(const char *uri, void *ctx)
{
	struct learn *l = ctx;
	int i = learn_find(l, uri);
	if (i >= 0)
		l->lib->banned[i] = true;
	return true;
}

bool learn_reload_library(struct learn *l, char *err, size_t err_size)
{
	if (!l->lib)
		return load_library(l, err, err_size);
	stop_scorer(l);
	double since = util_epoch() - CHANGED_MARGIN_S;
	struct round r = { .l = l, .first_new = l->lib->n, .err = err,
			   .err_size = err_size };
	if (!store_each_changed_track(l->store, l->changed_since, on_changed,
				      &r) && !r.failed) {
		snprintf(err, err_size, "reading changed tracks: %s",
			 store_error(l->store));
		r.failed = true;
	}
	if (!round_end(&r))
		return false;
	l->changed_since = since;
	/* Bans of an artist or album, and unbans, leave the rows as they
	 * were: every flag again, from one light pass. */
	bool *keep = malloc((size_t)(l->lib->n ? l->lib->n : 1));
	if (keep)
		memcpy(keep, l->lib->banned, (size_t)l->lib->n);
	memset(l->lib->banned, 0, (size_t)l->lib->n * sizeof *l->lib->banned);
	if (!store_each_banned(l->store, on_banned, l)) {
		if (keep)
			memcpy(l->lib->banned, keep, (size_t)l->lib->n);
		free(keep);
		snprintf(err, err_size, "reading bans: %s",
			 store_error(l->store));
		return false;
	}
	free(keep);
	/* Labels withdrawn (unlike, unban) or of tracks analysed since. */
	return history_load(l, err, err_size);
}

/* --- open, close -------------------------------------------------------- */

/* A saved model that cannot be used is kept for inspection, not
 * overwritten, and a new one is trained from the events. */
static void set_aside(struct store *store, const char *why)
{
	if (store_reject_model(store, why))
		log_warning("saved model not usable (%s): set aside in the "
			    "models_rejected table; starting a new one", why);
	else
		log_warning("saved model not usable (%s); starting a new one "
			    "(setting it aside failed: %s)", why,
			    store_error(store));
}

/* Takes the saved model into l->model when it can be used: one that is
 * corrupt or unreadable is set aside, one for other features or another
 * shape is dropped (l->model stays NULL). False, with err, only when the
 * store cannot be read. */
static bool load_saved_model(struct learn *l, char *err, size_t err_size)
{
	struct store *store = l->store;
	void *blob = NULL;
	size_t size = 0;
	if (!store_load_model(store, &blob, &size)) {
		if (!store_model_corrupt(store)) {
			snprintf(err, err_size, "loading the model: %s",
				 store_error(store));
			return false;
		}
		set_aside(store, store_error(store));
	}
	if (!blob)
		return true;
	char why[256];
	l->model_stamp = store_model_checksum(blob, size);
	l->model = model_load(blob, size, why, sizeof why);
	free(blob);
	if (!l->model)
		set_aside(store, why);
	else if (model_inputs(l->model) != l->dim) {
		log_info("features changed (%d inputs, now %d); "
			 "starting a new model",
			 model_inputs(l->model), l->dim);
		model_free(l->model);
		l->model = NULL;
	} else if (!model_set_params(l->model, &l->params, why,
				     sizeof why)) {
		/* model.hidden or model.ensemble changed. */
		log_info("the configuration asks for another model "
			 "(%s); starting a new one", why);
		model_free(l->model);
		l->model = NULL;
	}
	return true;
}

/* A new l->model, scaled on the library and trained at once (and saved)
 * when the events allow it; false with err when it cannot be made. */
static bool start_new_model(struct learn *l, char *err, size_t err_size)
{
	int n;
	float *sample = scaler_sample(l, &n);
	l->model = fresh_model(&l->params, sample, n, err, err_size);
	free(sample);
	if (!l->model)
		return false;
	l->dirty = true;
	if (trainable(l)) {
		char line[320];
		if (learn_retrain_now(l, line, sizeof line))
			log_info("trained a new model: %s", line);
		else
			log_warning("training a new model: %s", line);
		/* Saved now: a daemon killed before its next save must not
		 * train again at every start. */
		if (!learn_save(l, line, sizeof line))
			log_warning("saving the model: %s", line);
	}
	return true;
}

struct learn *learn_new(struct store *store, const struct conf *c,
			int notify_fd, char *err, size_t err_size)
{
	return learn_new_with(store, c, notify_fd, false, err, err_size);
}

/* Keeps a library read from SQLite as library.cache for the next load,
 * when the store's is still as it was then. */
static void keep_library(struct learn *l)
{
	if (!l->lib || !l->lib_from_rows)
		return;
	l->lib_from_rows = false;
	double t0 = util_mono();
	int kept = store_keep_library(l->store, l->lib, FEATURES_VERSION,
				      l->lib_gen);
	if (kept > 0)
		log_debug("library.cache kept in %.2f s", util_mono() - t0);
	else if (kept < 0)
		log_warning("%s", store_error(l->store));
}

struct learn *learn_new_with(struct store *store, const struct conf *c,
			     int notify_fd, bool titles, char *err,
			     size_t err_size)
{
	struct learn *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	l->store = store;
	l->titles = titles;
	l->notify_fd = notify_fd;
	l->dim = features_count();
	l->retrain_every = c->model.retrain_every;
	atomic_init(&l->retrain.done, false);
	atomic_init(&l->scorer.done, false);
	learn_params_from_conf(&l->params, c, l->dim);
	double t0 = util_mono();
	if (!load_library(l, err, err_size))
		goto fail;
	double t1 = util_mono();
	if (!history_load(l, err, err_size))
		goto fail;
	log_debug("library of %d tracks loaded in %.2f s, %d events in %.2f s",
		  l->lib->n, t1 - t0, l->h.n, util_mono() - t1);
	l->scaler_rows = l->lib->n;
	if (!load_saved_model(l, err, err_size))
		goto fail;
	if (!l->model && !start_new_model(l, err, err_size))
		goto fail;
	/* A command keeps the library for the next at once; the daemon at
	 * exit, not on its way to the first fill. */
	if (notify_fd < 0)
		keep_library(l);
	return l;
fail:
	l->lib_from_rows = false;
	learn_free(l);
	return NULL;
}

void learn_free(struct learn *l)
{
	if (!l)
		return;
	stop_scorer(l);
	write_cache(l, true);
	collect_retrain(l, true);
	keep_library(l);
	model_free(l->model);
	store_library_free(l->lib);
	history_free(&l->h);
	util_index_free(&l->index);
	free(l->mean);
	free(l->spread);
	free(l);
}

void learn_set_conf(struct learn *l, const struct conf *c)
{
	struct model_params p;
	learn_params_from_conf(&p, c, l->dim);
	l->retrain_every = c->model.retrain_every;
	if (!memcmp(&p, &l->params, sizeof p))
		return;
	l->params = p;
	char why[256];
	if (model_set_params(l->model, &p, why, sizeof why)) {
		l->dirty = true;
		log_info("learning now: rate %g, L2 %g, batch %d, %d steps per "
			 "event, half-life %g days", (double)p.learning_rate,
			 (double)p.l2, p.batch, p.steps_per_event,
			 (double)p.half_life_days);
	} else {
		log_info("the configuration asks for another model (%s): "
			 "retraining in the background", why);
		learn_retrain_async(l);
	}
}

/* --- events ------------------------------------------------------------- */

bool learn_event(struct learn *l, const char *uri, int label, double weight,
		 double now)
{
	check_foreign_model(l);
	int idx = learn_find(l, uri);
	if (idx < 0)
		return false;
	const float *x = l->lib->x + (size_t)idx * l->dim;
	double *age = malloc(((size_t)l->h.n + 1) * sizeof *age);
	if (!age)
		return false;
	struct model_data d = history_view(&l->h, now, age);
	model_learn(l->model, x, (float)label, (float)weight, &d);
	l->model_gen++;
	free(age);
	history_push(&l->h, x, (float)label, (float)weight, now, idx);
	l->likes += label == 1;
	l->scores_stale = true;
	l->dirty = true;
	/* Saved by learn_save_due() once the queue is filled: a disk flush
	 * has no place between a song change and the next pick. */
	l->since_save++;
	/* Early on a full retrain (to convergence, with early stopping)
	 * learns much more from a handful of labels than a few steps each;
	 * one at a time, a count reached while one runs is skipped. */
	if (learn_retrain_due(l->h.n, l->retrain_every) ||
	    (l->retrain_every > 0 && ++l->since_retrain >= l->retrain_every))
		learn_retrain_async(l);
	return true;
}

bool learn_save(struct learn *l, char *err, size_t err_size)
{
	check_foreign_model(l);
	if (!l->dirty)
		return true;
	void *blob;
	size_t size;
	if (!model_save(l->model, &blob, &size, err, err_size))
		return false;
	bool ok = store_save_model(l->store, blob, size);
	uint64_t stamp = store_model_checksum(blob, size);
	free(blob);
	if (!ok) {
		snprintf(err, err_size, "%s", store_error(l->store));
		return false;
	}
	l->model_stamp = stamp;
	l->dirty = false;
	l->since_save = 0;
	/* Scores of the model as it is now are those of the saved one. */
	if (l->scores_have && l->scores_gen == l->model_gen)
		l->scores_stamp = stamp;
	return true;
}

void learn_save_due(struct learn *l)
{
	if (l->since_save < SAVE_EVERY)
		return;
	char err[256];
	if (!learn_save(l, err, sizeof err))
		log_warning("saving the model: %s", err);
}

/* --- what others read --------------------------------------------------- */

const struct store_library *learn_library(const struct learn *l)
{
	return l->lib;
}

bool learn_scores_cached(const struct learn *l, const float **mean,
			 const float **spread)
{
	if (!l->lib || l->lib->n == 0 || !l->scores_have)
		return false;
	*mean = l->mean;
	*spread = l->spread;
	return true;
}

void learn_counts(const struct learn *l, int *labelled, int *likes)
{
	*labelled = l->h.n;
	*likes = l->likes;
}

bool learn_informed(const struct learn *l, int min_labels)
{
	return l->h.n >= min_labels && l->likes > 0 && l->likes < l->h.n;
}

struct model *learn_model(struct learn *l)
{
	return l->model;
}

int learn_recent(const struct learn *l, int k, int *idx, int *label)
{
	int n = 0;
	for (int i = l->h.n - 1; i >= 0 && n < k; i--) {
		if (l->h.lib_index[i] < 0)
			continue;
		idx[n] = l->h.lib_index[i];
		label[n] = l->h.y[i] > 0.5f;
		n++;
	}
	return n;
}
