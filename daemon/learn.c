#include "daemon/learn.h"

#include "conf/conf.h"
#include "core/model.h"
#include "core/store.h"
#include "core/util.h"
#include "daemon/log.h"
#include "features/table.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Niceness of the background retrain thread. */
#define RETRAIN_NICE 10

/* Save after this many incremental updates (and at shutdown). */
#define SAVE_EVERY 5

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
	float *lib_x;		/* copy of the library features */
	int lib_n;
	struct history h;	/* copy of the history */
	double now;
	struct model *result;	/* NULL when it failed */
	struct model_report report;
	char err[256];
};

struct learn {
	struct store *store;
	struct model_params params;
	struct model *model;
	struct store_library *lib;
	int dim;
	struct util_index index;	/* uri -> library index */
	struct history h;
	int likes;
	int since_save;
	int since_retrain;
	int retrain_every;
	bool dirty;
	/* score cache: `scores_valid` when they match the model, `scores_have`
	 * when there are any (possibly from before the last update) */
	float *mean, *spread;
	bool scores_valid;
	bool scores_have;
	/* background retrain */
	int notify_fd;
	pthread_t thread;
	bool running;
	atomic_bool done;
	struct retrain_job *job;
};

int learn_find(const struct learn *l, const char *uri)
{
	return l->lib ? util_index_find(&l->index, l->lib->uri, uri) : -1;
}

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

/* Loads the labelled events with features from the store. */
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
	history_free(&l->h);
	l->h.dim = l->dim;
	l->likes = 0;
	for (int i = 0; i < ex->n; i++) {
		history_push(&l->h, ex->x + (size_t)i * ex->dim, ex->y[i],
			     ex->w[i], ex->time[i], learn_find(l, ex->uri[i]));
		l->likes += ex->y[i] > 0.5f;
	}
	store_examples_free(ex);
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

/* A fresh model with its scaler fitted on the library. */
static struct model *fresh_model(const struct model_params *p,
				 const float *lib_x, int lib_n, char *err,
				 size_t err_size)
{
	struct model *m = model_new(p, err, err_size);
	if (!m)
		return NULL;
	if (lib_n > 0 && !model_fit_scaler(m, lib_x, lib_n, err, err_size)) {
		model_free(m);
		return NULL;
	}
	return m;
}

static void *retrain_main(void *arg)
{
	struct learn *l = arg;
	struct retrain_job *j = l->job;
	/* Background work: MPD's playback and the daemon's own thread come
	 * first on a busy machine (Linux nices threads one by one). */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), RETRAIN_NICE) != 0)
		log_debug("setpriority: %s", strerror(errno));
	j->result = fresh_model(&j->params, j->lib_x, j->lib_n, j->err,
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
	atomic_store(&l->done, true);
	if (l->notify_fd >= 0) {
		char b = 'r';
		ssize_t rc = write(l->notify_fd, &b, 1);
		(void)rc;
	}
	return NULL;
}

static void job_free(struct retrain_job *j)
{
	if (!j)
		return;
	free(j->lib_x);
	history_free(&j->h);
	model_free(j->result);
	free(j);
}

void learn_retrain_async(struct learn *l)
{
	if (l->running || !l->lib || l->lib->n == 0)
		return;
	struct retrain_job *j = calloc(1, sizeof *j);
	if (!j)
		return;
	j->params = l->params;
	j->lib_n = l->lib->n;
	j->lib_x = malloc((size_t)l->lib->n * l->dim * sizeof *j->lib_x);
	j->now = (double)time(NULL);
	if (!j->lib_x || !history_copy(&j->h, &l->h)) {
		job_free(j);
		return;
	}
	memcpy(j->lib_x, l->lib->x, (size_t)l->lib->n * l->dim * sizeof(float));
	l->job = j;
	atomic_store(&l->done, false);
	if (pthread_create(&l->thread, NULL, retrain_main, l) != 0) {
		log_warning("cannot start a background retrain");
		l->job = NULL;
		job_free(j);
		return;
	}
	l->running = true;
	l->since_retrain = 0;
	log_info("retraining on %d events in the background", l->h.n);
}

static void report_summary(const struct model_report *r, int n, char *buf,
			   size_t size)
{
	snprintf(buf, size,
		 "%d events: training accuracy %.3f, validation accuracy "
		 "%.3f, AUC %.3f, log-loss %.3f",
		 n, r->train_accuracy, r->val_accuracy, r->val_auc,
		 r->val_logloss);
}

/* Swaps a finished retrain in; `wait` joins a running one first. */
static bool collect(struct learn *l, bool wait)
{
	if (!l->running || (!wait && !atomic_load(&l->done)))
		return false;
	pthread_join(l->thread, NULL);
	l->running = false;
	struct retrain_job *j = l->job;
	l->job = NULL;
	bool swapped = false, retrain_again = false;
	if (j->result) {
		char line[256];
		report_summary(&j->report, j->h.n, line, sizeof line);
		log_info("retrained: %s", line);
		store_add_training(l->store, (double)time(NULL), j->h.n,
				   j->report.train_accuracy,
				   j->report.val_accuracy, j->report.val_auc,
				   j->report.val_logloss);
		model_free(l->model);
		l->model = j->result;
		j->result = NULL;
		l->scores_valid = false;
		l->dirty = true;
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

bool learn_collect(struct learn *l)
{
	return collect(l, false);
}

bool learn_retrain_now(struct learn *l, char *summary, size_t summary_size)
{
	collect(l, true);
	struct model_report rep;
	char err[256];
	struct model *m = fresh_model(&l->params, l->lib ? l->lib->x : NULL,
				      l->lib ? l->lib->n : 0, err, sizeof err);
	if (!m) {
		snprintf(summary, summary_size, "%s", err);
		return false;
	}
	double *age = malloc(((size_t)l->h.n + 1) * sizeof *age);
	struct model_data d = history_view(&l->h, (double)time(NULL), age);
	if (!age || !model_train(m, &d, &rep, err, sizeof err)) {
		snprintf(summary, summary_size, "%s",
			 age ? err : "out of memory");
		free(age);
		model_free(m);
		return false;
	}
	free(age);
	report_summary(&rep, l->h.n, summary, summary_size);
	store_add_training(l->store, (double)time(NULL), l->h.n,
			   rep.train_accuracy, rep.val_accuracy, rep.val_auc,
			   rep.val_logloss);
	model_free(l->model);
	l->model = m;
	l->scores_valid = false;
	l->dirty = true;
	return true;
}

static bool load_library(struct learn *l, char *err, size_t err_size)
{
	struct store_library *lib = store_load_library(l->store,
						       FEATURES_VERSION,
						       l->dim);
	if (!lib) {
		snprintf(err, err_size, "loading the library: %s",
			 store_error(l->store));
		return false;
	}
	store_library_free(l->lib);
	l->lib = lib;
	l->scores_have = false;
	free(l->mean);
	free(l->spread);
	size_t n = (size_t)(lib->n ? lib->n : 1);
	l->mean = malloc(n * sizeof *l->mean);
	l->spread = malloc(n * sizeof *l->spread);
	l->scores_valid = false;
	if (!l->mean || !l->spread ||
	    !util_index_build(&l->index, lib->uri, lib->n)) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	return true;
}

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

struct learn *learn_new(struct store *store, const struct conf *c,
			int notify_fd, char *err, size_t err_size)
{
	struct learn *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	l->store = store;
	l->notify_fd = notify_fd;
	l->dim = features_count();
	l->retrain_every = c->model.retrain_every;
	learn_params_from_conf(&l->params, c, l->dim);
	if (!load_library(l, err, err_size) || !history_load(l, err, err_size))
		goto fail;

	void *blob = NULL;
	size_t size = 0;
	if (!store_load_model(store, &blob, &size)) {
		if (!store_model_corrupt(store)) {
			snprintf(err, err_size, "loading the model: %s",
				 store_error(store));
			goto fail;
		}
		set_aside(store, store_error(store));
	}
	if (blob) {
		char why[256];
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
	}
	if (!l->model) {
		l->model = fresh_model(&l->params, l->lib->x, l->lib->n, err,
				       err_size);
		if (!l->model)
			goto fail;
		l->dirty = true;
		if (l->h.n > 0) {
			char line[256];
			if (learn_retrain_now(l, line, sizeof line))
				log_info("trained a new model: %s", line);
			else
				log_warning("training a new model: %s", line);
			/* Saved now: a daemon killed before its next save
			 * must not train again at every start. */
			if (!learn_save(l, line, sizeof line))
				log_warning("saving the model: %s", line);
		}
	}
	return l;
fail:
	learn_free(l);
	return NULL;
}

void learn_free(struct learn *l)
{
	if (!l)
		return;
	collect(l, true);
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

bool learn_reload_library(struct learn *l, char *err, size_t err_size)
{
	int before = l->lib ? l->lib->n : 0;
	if (!load_library(l, err, err_size) || !history_load(l, err, err_size))
		return false;
	/* A library that grew a lot deserves a scaler fitted on it. */
	if (l->lib->n > before * 2 && l->lib->n > 0 && l->h.n == 0) {
		char e[256];
		struct model *m = fresh_model(&l->params, l->lib->x,
					      l->lib->n, e, sizeof e);
		if (m) {
			model_free(l->model);
			l->model = m;
			l->dirty = true;
		}
	} else if (l->lib->n > before * 2 && l->lib->n > 0) {
		learn_retrain_async(l);
	}
	return true;
}

bool learn_event(struct learn *l, const char *uri, int label, double weight,
		 double now)
{
	int idx = learn_find(l, uri);
	if (idx < 0)
		return false;
	const float *x = l->lib->x + (size_t)idx * l->dim;
	double *age = malloc(((size_t)l->h.n + 1) * sizeof *age);
	if (!age)
		return false;
	struct model_data d = history_view(&l->h, now, age);
	model_learn(l->model, x, (float)label, (float)weight, &d);
	free(age);
	history_push(&l->h, x, (float)label, (float)weight, now, idx);
	l->likes += label == 1;
	l->scores_valid = false;
	l->dirty = true;
	/* Saved by learn_save_due() once the queue is filled: a disk flush
	 * has no place between a song change and the next pick. */
	l->since_save++;
	if (l->retrain_every > 0 && ++l->since_retrain >= l->retrain_every)
		learn_retrain_async(l);
	return true;
}

bool learn_save(struct learn *l, char *err, size_t err_size)
{
	if (!l->dirty)
		return true;
	void *blob;
	size_t size;
	if (!model_save(l->model, &blob, &size, err, err_size))
		return false;
	bool ok = store_save_model(l->store, blob, size);
	free(blob);
	if (!ok) {
		snprintf(err, err_size, "%s", store_error(l->store));
		return false;
	}
	l->dirty = false;
	l->since_save = 0;
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

const struct store_library *learn_library(const struct learn *l)
{
	return l->lib;
}

/* Below this many tracks, scoring the whole library takes a few
 * milliseconds: scores are always fresh. Above, a pick may use the scores
 * from before the last event, and learn_refresh_scores() catches up after
 * the queue is filled, so a song change never waits for a full rescore. */
#define FRESH_SCORES_MAX 20000

void learn_refresh_scores(struct learn *l)
{
	if (!l->lib || l->lib->n == 0 || l->scores_valid)
		return;
	model_score(l->model, l->lib->x, l->lib->n, l->mean, l->spread);
	l->scores_valid = true;
	l->scores_have = true;
}

bool learn_scores(struct learn *l, const float **mean, const float **spread)
{
	if (!l->lib || l->lib->n == 0)
		return false;
	if (!l->scores_have || l->lib->n <= FRESH_SCORES_MAX)
		learn_refresh_scores(l);
	*mean = l->mean;
	*spread = l->spread;
	return true;
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
