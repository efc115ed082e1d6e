/* mpdrec status [--failed]: what mpdrec knows and how well it does, in
 * words: the library and how far its analysis is, the files it cannot
 * analyse and why, the listening history and the taste it shows, like
 * rates by artist, album and folder, how its picks fared, the model's
 * quality (and why a figure is missing), the last events. */
#include "conf/conf.h"
#include "core/store.h"
#include "daemon/cmd/cmd.h"
#include "daemon/explain.h"
#include "features/table.h"

#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Failed files listed without --failed. */
#define FAILED_SHOWN 5
/* Groups listed per kind in the like rates. */
#define GROUPS_SHOWN 4
/* Judged picks needed before their ranking is scored. */
#define MIN_JUDGED 6

/* --- failed files -------------------------------------------------------- */

static bool print_failed(const char *uri, const char *error, void *ctx)
{
	(void)ctx;
	printf("           %s: %s\n", uri, error ? error : "(no reason kept)");
	return true;
}

/* --- like rates by artist, album and folder ------------------------------ */

struct group {
	char *name;
	int liked, labelled;
};

struct groups {
	struct group *g;
	int n, cap;
	bool oom;
};

static void group_add(struct groups *gs, const char *name, bool liked)
{
	for (int i = 0; i < gs->n; i++)
		if (!strcmp(gs->g[i].name, name)) {
			gs->g[i].liked += liked;
			gs->g[i].labelled++;
			return;
		}
	if (gs->n == gs->cap) {
		int cap = gs->cap ? 2 * gs->cap : 32;
		struct group *p = realloc(gs->g, (size_t)cap * sizeof *p);
		if (!p) {
			gs->oom = true;
			return;
		}
		gs->g = p;
		gs->cap = cap;
	}
	char *copy = strdup(name);
	if (!copy) {
		gs->oom = true;
		return;
	}
	gs->g[gs->n++] = (struct group){ copy, liked, 1 };
}

static void groups_free(struct groups *gs)
{
	for (int i = 0; i < gs->n; i++)
		free(gs->g[i].name);
	free(gs->g);
}

static int by_labelled(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	if (x->labelled != y->labelled)
		return y->labelled - x->labelled;
	return strcmp(x->name, y->name);
}

struct history {
	struct groups artist, album, folder;
	int liked, skipped;		/* labelled events */
	int played, liked_said, skipped_seen, disliked_said, banned;
};

static bool on_labelled(const struct store_labelled *e, void *ctx)
{
	struct history *h = ctx;
	bool liked = e->label == 1;
	h->liked += liked;
	h->skipped += !liked;
	switch (e->kind) {
	case STORE_KIND_PLAYED: h->played++; break;
	case STORE_KIND_LIKE: h->liked_said++; break;
	case STORE_KIND_SKIPPED: h->skipped_seen++; break;
	case STORE_KIND_DISLIKE: h->disliked_said++; break;
	case STORE_KIND_BAN: h->banned++; break;
	case STORE_KIND_UNLABELLED: break;
	}
	if (e->artist)
		group_add(&h->artist, e->artist, liked);
	if (e->album)
		group_add(&h->album, e->album, liked);
	const char *slash = strrchr(e->uri, '/');
	char folder[1024];
	snprintf(folder, sizeof folder, "%.*s",
		 slash ? (int)(slash - e->uri) : 1, slash ? e->uri : ".");
	group_add(&h->folder, folder, liked);
	return true;
}

static void print_groups(const char *what, struct groups *gs)
{
	if (gs->n < 2)
		return;	/* one artist (or none): nothing to compare */
	qsort(gs->g, (size_t)gs->n, sizeof *gs->g, by_labelled);
	printf("  by %-7s", what);
	for (int i = 0; i < gs->n && i < GROUPS_SHOWN; i++)
		printf("%s%s %.0f%% of %d", i ? ", " : "", gs->g[i].name,
		       100.0 * gs->g[i].liked / gs->g[i].labelled,
		       gs->g[i].labelled);
	if (gs->n > GROUPS_SHOWN)
		printf(" (and %d more)", gs->n - GROUPS_SHOWN);
	printf("\n");
}

/* --- the picks ----------------------------------------------------------- */

struct picks {
	double *score;
	signed char *outcome;		/* 1 or 0 */
	int n, cap;
	int open, unlabelled, explored_judged, explored_liked;
	int unscored, unscored_liked;	/* judged cold-start picks */
	bool oom;
};

static bool on_pick(const struct store_pick *p, int outcome, void *ctx)
{
	struct picks *k = ctx;
	if (outcome == STORE_PICK_OPEN) {
		k->open++;
		return true;
	}
	if (outcome < 0) {
		k->unlabelled++;
		return true;
	}
	if (p->explored) {
		k->explored_judged++;
		k->explored_liked += outcome == 1;
	}
	if (!isfinite(p->score)) {
		/* a cold-start pick: no model, no score to rank by */
		k->unscored++;
		k->unscored_liked += outcome == 1;
		return true;
	}
	if (k->n == k->cap) {
		int cap = k->cap ? 2 * k->cap : 64;
		double *s = realloc(k->score, (size_t)cap * sizeof *s);
		if (s)
			k->score = s;
		signed char *o = realloc(k->outcome, (size_t)cap);
		if (o)
			k->outcome = o;
		if (!s || !o) {
			k->oom = true;
			return false;
		}
		k->cap = cap;
	}
	k->score[k->n] = p->score;
	k->outcome[k->n++] = (signed char)outcome;
	return true;
}

static const double *auc_scores;
static int by_auc_score(const void *a, const void *b)
{
	double x = auc_scores[*(const int *)a], y = auc_scores[*(const int *)b];
	return (x > y) - (x < y);
}

/* Area under the ROC curve of scores against outcomes (ties share their
 * rank): the chance that a liked pick was scored above a skipped one. NaN
 * without both. */
static double pick_auc(const struct picks *k)
{
	int pos = 0, neg = 0;
	for (int i = 0; i < k->n; i++) {
		pos += k->outcome[i] == 1;
		neg += k->outcome[i] == 0;
	}
	if (!pos || !neg)
		return NAN;
	int *order = malloc((size_t)k->n * sizeof *order);
	if (!order)
		return NAN;
	for (int i = 0; i < k->n; i++)
		order[i] = i;
	auc_scores = k->score;
	qsort(order, (size_t)k->n, sizeof *order, by_auc_score);
	double rank_sum = 0;
	for (int a = 0; a < k->n;) {
		int b = a;
		while (b + 1 < k->n &&
		       k->score[order[b + 1]] == k->score[order[a]])
			b++;
		double rank = (a + b) / 2.0 + 1;
		for (int c = a; c <= b; c++)
			if (k->outcome[order[c]] == 1)
				rank_sum += rank;
		a = b + 1;
	}
	free(order);
	return (rank_sum - pos * (pos + 1) / 2.0) / ((double)pos * neg);
}

/* Like rate of the judged picks a..b-1. */
static double rate(const struct picks *k, int a, int b)
{
	int liked = 0;
	for (int i = a; i < b; i++)
		liked += k->outcome[i] == 1;
	return b > a ? (double)liked / (b - a) : NAN;
}

static void print_picks(const struct picks *k, const struct history *h)
{
	if (k->n + k->unscored == 0) {
		printf("picks:     none heard yet%s\n",
		       k->open ? " (some are queued)" : "");
		return;
	}
	int liked = k->unscored_liked, n = k->n + k->unscored;
	for (int i = 0; i < k->n; i++)
		liked += k->outcome[i] == 1;
	double base = h->liked + h->skipped
			      ? (double)h->liked / (h->liked + h->skipped)
			      : NAN;
	printf("picks:     %d of %d of mpdrec's picks liked (%.0f%%), against "
	       "%.0f%% of everything you played or skipped\n", liked, n,
	       100.0 * liked / n, 100 * base);
	if (k->unscored)
		printf("           %d of them cold-start picks (before there "
		       "was a model, for variety): %d liked\n", k->unscored,
		       k->unscored_liked);
	if (k->n >= 20) {
		int w = k->n / 4 < 10 ? 10 : k->n / 4;
		printf("           first %d scored picks %.0f%% liked, last %d "
		       "%.0f%%\n",
		       w, 100 * rate(k, 0, w), w,
		       100 * rate(k, k->n - w, k->n));
	}
	if (k->explored_judged)
		printf("           exploratory picks (tries outside what you "
		       "like): %d of %d liked\n", k->explored_liked,
		       k->explored_judged);
}

/* --- the model ------------------------------------------------------------ */

struct last_training {
	struct store_training t;
	int count;
};

static bool on_training(const struct store_training *t, void *ctx)
{
	struct last_training *x = ctx;
	x->t = *t;
	x->count++;
	return true;
}

static void print_model(struct store *s, const struct conf *c,
			const struct picks *k, const struct history *h)
{
	/* From the picks: the model's own ranking against what happened. */
	double auc = k->n >= MIN_JUDGED ? pick_auc(k) : NAN;
	if (isfinite(auc))
		printf("model:     of its %d scored picks, it scored the liked "
		       "ones higher %.0f%% of the time (AUC %.2f: %s; 0.5 is "
		       "chance)\n", k->n, 100 * auc, auc, cmd_auc_words(auc));
	else if (k->n >= MIN_JUDGED)
		printf("model:     its %d scored picks were all %s: nothing to "
		       "rank yet\n", k->n,
		       k->outcome[0] == 1 ? "liked" : "skipped");
	else
		printf("model:     %d scored pick%s: too few to tell how well "
		       "it ranks (it takes %d)\n", k->n, k->n == 1 ? "" : "s",
		       MIN_JUDGED);
	struct last_training x = { 0 };
	store_each_training(s, on_training, &x);
	int labels = h->liked + h->skipped;
	if (!x.count) {
		printf("           no full retrain yet: the first comes after "
		       "%d labels (model.retrain_every; %d so far), or now "
		       "with 'mpdrec train'\n", c->model.retrain_every,
		       labels);
		return;
	}
	char when[32];
	time_t t = (time_t)x.t.time;
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
	printf("           last full retrain %s on %d events: ", when,
	       x.t.events);
	if (isfinite(x.t.val_acc)) {
		printf("right on %.0f%% of held-out songs", 100 * x.t.val_acc);
		if (isfinite(x.t.val_auc))
			printf(", AUC %.2f (%s)", x.t.val_auc,
			       cmd_auc_words(x.t.val_auc));
		else
			printf(" (no AUC: the held-out songs were all liked "
			       "or all skipped)");
		if (isfinite(x.t.train_acc) &&
		    x.t.train_acc - x.t.val_acc > 0.15)
			printf("; %.0f%% on the songs it learned from: it "
			       "fits them better than it generalises",
			       100 * x.t.train_acc);
		printf("\n");
	} else {
		printf("%s%.0f%% right on the songs it learned from; no "
		       "validation: %d labels are too few for a validation "
		       "split\n", isfinite(x.t.train_acc) ? "" : "(",
		       isfinite(x.t.train_acc) ? 100 * x.t.train_acc : 0.0,
		       x.t.events);
	}
}

/* --- the taste ------------------------------------------------------------ */

static int by_uri(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The labelled tracks as a small library (the taste is told from them, so
 * status stays quick on a large library). Caller frees. */
static struct store_library *labelled_library(struct store *s)
{
	struct store_examples *ex = store_load_examples(s, FEATURES_VERSION,
							FEAT_COUNT);
	if (!ex)
		return NULL;
	struct store_library *lib = calloc(1, sizeof *lib);
	size_t n = ex->n > 0 ? (size_t)ex->n : 1;
	if (lib) {
		lib->dim = ex->dim;
		lib->uri = calloc(n, sizeof *lib->uri);
		lib->artist = calloc(n, sizeof *lib->artist);
		lib->title = calloc(n, sizeof *lib->title);
		lib->duration = calloc(n, sizeof *lib->duration);
		lib->banned = calloc(n, sizeof *lib->banned);
		lib->x = malloc(n * (size_t)ex->dim * sizeof *lib->x);
	}
	char **sorted = malloc(n * sizeof *sorted);
	if (!lib || !lib->uri || !lib->artist || !lib->title ||
	    !lib->duration || !lib->banned || !lib->x || !sorted) {
		free(sorted);
		store_library_free(lib);
		store_examples_free(ex);
		return NULL;
	}
	/* distinct URIs, sorted (explain looks them up), with their vector */
	for (int i = 0; i < ex->n; i++)
		sorted[i] = ex->uri[i];
	qsort(sorted, (size_t)ex->n, sizeof *sorted, by_uri);
	for (int i = 0; i < ex->n; i++) {
		if (lib->n && !strcmp(lib->uri[lib->n - 1], sorted[i]))
			continue;
		int row = -1;
		for (int r = 0; r < ex->n && row < 0; r++)
			if (ex->uri[r] == sorted[i])
				row = r;
		lib->uri[lib->n] = strdup(sorted[i]);
		memcpy(lib->x + (size_t)lib->n * (size_t)ex->dim,
		       ex->x + (size_t)row * (size_t)ex->dim,
		       (size_t)ex->dim * sizeof *lib->x);
		if (lib->uri[lib->n])
			lib->n++;
	}
	free(sorted);
	store_examples_free(ex);
	return lib;
}

static void print_taste(struct store *s)
{
	struct store_library *lib = labelled_library(s);
	char err[256], text[1024];
	struct explain *e = lib ? explain_new(lib, s, err, sizeof err) : NULL;
	if (e)
		printf("taste:     %s\n", explain_taste(e, text, sizeof text));
	explain_free(e);
	store_library_free(lib);
}

/* --- last events --------------------------------------------------------- */

static bool print_event(const struct store_event *e, void *ctx)
{
	(void)ctx;
	time_t t = (time_t)e->time;
	struct tm tm;
	localtime_r(&t, &tm);
	char when[32];
	strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
	printf("  %s  %-8s %5.0f/%-5.0f s  %s%s\n", when, store_kind_name(e->kind),
	       e->played, e->duration, e->uri,
	       e->queued_by_us ? "  (queued by mpdrec)" : "");
	return true;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mpdrec status [--failed]\n"
		   "  --failed  every file mpdrec could not analyse, with "
		   "the reason\n");
}

/* Reads status's options into *all_failed: 0, or 2 after a usage line. */
static int parse_options(int argc, char **argv, bool *all_failed)
{
	static const struct option opts[] = {
		{ "failed", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt != 'f') {
			usage(stderr);
			return 2;
		}
		*all_failed = true;
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	return 0;
}

/* status --failed: every file that failed, with its reason. The exit code. */
static int list_all_failed(struct store *s, const int counts[4])
{
	if (counts[STORE_FAILED] == 0)
		printf("no file failed to analyse\n");
	else
		printf("%d files mpdrec cannot analyse (each is tried "
		       "again when it changes):\n", counts[STORE_FAILED]);
	bool ok = store_each_failed(s, 0, print_failed, NULL);
	if (!ok)
		fprintf(stderr, "mpdrec: %s\n", store_error(s));
	return ok ? 0 : 1;
}

/* The library's totals, how far its analysis is, the first failed files and
 * how many events there are. */
static void print_library(struct store *s, const int counts[4],
			  int64_t all, int64_t labelled)
{
	printf("data:      %s\n", store_path(s));
	int known = counts[STORE_ANALYSED] + counts[STORE_FAILED] +
		    counts[STORE_PENDING];
	printf("tracks:    %d analysed, %d failed, %d waiting, %d gone "
	       "(library totals)\n", counts[STORE_ANALYSED],
	       counts[STORE_FAILED], counts[STORE_PENDING], counts[STORE_GONE]);
	if (counts[STORE_PENDING] > 0)
		printf("analysis:  %d of %d tracks done (%.0f%%); the daemon "
		       "(or 'mpdrec analyze') works through the %d waiting\n",
		       known - counts[STORE_PENDING], known,
		       100.0 * (known - counts[STORE_PENDING]) / known,
		       counts[STORE_PENDING]);
	else if (known == 0)
		printf("analysis:  no track known yet: the daemon (or 'mpdrec "
		       "analyze') lists MPD's database and analyses it\n");
	if (counts[STORE_FAILED] > 0) {
		printf("failed:    %d file%s mpdrec cannot analyse%s:\n",
		       counts[STORE_FAILED],
		       counts[STORE_FAILED] == 1 ? "" : "s",
		       counts[STORE_FAILED] > FAILED_SHOWN
			       ? " ('mpdrec status --failed' lists all)" : "");
		store_each_failed(s, FAILED_SHOWN, print_failed, NULL);
	}
	printf("events:    %lld, %lld of them labelled\n", (long long)all,
	       (long long)labelled);
}

/* The labelled events in words: how many were liked and why, the taste they
 * show and the like rates by artist, album and folder. */
static void print_history(struct store *s, struct history *h)
{
	if (h->liked + h->skipped == 0)
		return;
	printf("           %d liked (%d played to the end, %d said), "
	       "%d not (%d skipped, %d disliked, %d banned)\n",
	       h->liked, h->played, h->liked_said, h->skipped,
	       h->skipped_seen, h->disliked_said, h->banned);
	print_taste(s);
	if (h->artist.n > 1 || h->album.n > 1 || h->folder.n > 1) {
		printf("like rate:\n");
		print_groups("artist", &h->artist);
		print_groups("album", &h->album);
		print_groups("folder", &h->folder);
	}
}

int cmd_status(int argc, char **argv, const struct conf *c)
{
	bool all_failed = false;
	int rc = parse_options(argc, argv, &all_failed);
	if (rc)
		return rc;
	struct store *s = cmd_open_store(c);
	if (!s)
		return 1;
	int counts[4] = { 0 };
	int64_t all = 0, labelled = 0;
	if (!store_count_tracks(s, counts) ||
	    !store_count_events(s, &all, &labelled)) {
		fprintf(stderr, "mpdrec: %s\n", store_error(s));
		store_close(s);
		return 1;
	}
	if (all_failed) {
		rc = list_all_failed(s, counts);
		store_close(s);
		return rc;
	}
	print_library(s, counts, all, labelled);

	struct history h = { 0 };
	struct picks k = { 0 };
	if (!store_each_labelled(s, on_labelled, &h) ||
	    !store_each_pick(s, on_pick, &k) || h.artist.oom || h.album.oom ||
	    h.folder.oom || k.oom)
		fprintf(stderr, "mpdrec: %s\n", k.oom || h.artist.oom ||
			h.album.oom || h.folder.oom ? "out of memory"
						    : store_error(s));
	else
		print_history(s, &h);
	print_picks(&k, &h);
	print_model(s, c, &k, &h);
	groups_free(&h.artist);
	groups_free(&h.album);
	groups_free(&h.folder);
	free(k.score);
	free(k.outcome);
	if (all > 0) {
		printf("last events:\n");
		store_each_recent_event(s, 8, print_event, NULL);
	}
	store_close(s);
	return 0;
}
