/* Explanations in words. Every feature is put on a common scale first:
 * (x - library median) / library interquartile range, so "near" and "far"
 * mean the same for tempo in BPM and for a spectral ratio. The words come
 * from a short table of features a listener can name. */
#include "daemon/explain.h"

#include "core/store.h"
#include "core/util.h"
#include "features/table.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Evidence: at most this many liked tracks named per pick. */
#define EVIDENCE 2
/* A liked track farther than this many typical neighbour distances is no
 * evidence: the pick is unlike anything liked. */
#define FAR 2.5
/* A feature is worth a word when liked and skipped tracks differ by this
 * many interquartile ranges, and the pick by at least MIN_OFFSET. */
#define MIN_SEPARATION 0.3
#define MIN_OFFSET 0.4
/* The ensemble's spread above which a pick is called a guess. */
#define UNSURE_SPREAD 0.15
/* Tracks sampled to learn the typical distance to a nearest neighbour. */
#define SAMPLE 400

static const struct explain_word words[] = {
	{ "loudness", "loudness", "louder", "quieter" },
	{ "tempo", "tempo", "faster", "slower" },
	{ "onset_rate", "energy", "busier", "calmer" },
	{ "centroid_mean", "brightness", "brighter", "darker" },
	{ "flatness_mean", "noisiness", "noisier", "more tonal" },
	{ "danceability", "danceability", "more danceable", "less danceable" },
	{ "beat_strength", "beat strength", "more rhythmic", "less rhythmic" },
	{ "loudness_range", "dynamics", "more dynamic", "more even" },
	{ "voiced", "melody", "more melodic", "less melodic" },
	{ "duration", "length", "longer", "shorter" },
};
#define N_WORDS ((int)(sizeof words / sizeof *words))

const struct explain_word *explain_words(int *count)
{
	*count = N_WORDS;
	return words;
}

struct explain {
	const struct store_library *lib;
	int dim;
	double *center, *scale;	/* dim: median and interquartile range */
	signed char *label;	/* n: latest label, -1 none */
	unsigned char *how;	/* n: enum store_kind of the latest like */
	unsigned char *named;	/* n: times named as evidence */
	int *liked;		/* indices of liked tracks */
	int n_liked, n_skipped;
	int word_index[N_WORDS];	/* feature index, -1 absent */
	struct util_index index;	/* uri -> library index */
	double mean_liked[N_WORDS], mean_skipped[N_WORDS];	/* raw units */
	double typical;		/* typical nearest-neighbour distance */
};

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}


/* Median and interquartile range of every feature (a sample of at most
 * 20,000 tracks). */
static bool robust_scale(struct explain *e)
{
	const struct store_library *lib = e->lib;
	int n = lib->n, m = n < 20000 ? n : 20000;
	double *col = malloc((size_t)(m > 0 ? m : 1) * sizeof *col);
	if (!col)
		return false;
	for (int j = 0; j < e->dim; j++) {
		for (int k = 0; k < m; k++) {
			size_t i = (size_t)k * (size_t)n / (size_t)m;
			col[k] = lib->x[i * (size_t)e->dim + (size_t)j];
		}
		qsort(col, (size_t)m, sizeof *col, by_double);
		double med = m ? col[m / 2] : 0;
		double iqr = m ? col[(3 * m) / 4] - col[m / 4] : 0;
		if (!(iqr > 0) && m) {
			/* Mostly constant: the whole range, else 1. */
			iqr = col[m - 1] - col[0];
			if (!(iqr > 0))
				iqr = 1;
		}
		e->center[j] = isfinite(med) ? med : 0;
		e->scale[j] = isfinite(iqr) ? iqr : 1;
	}
	free(col);
	return true;
}

static double z(const struct explain *e, int i, int j)
{
	double v = (e->lib->x[(size_t)i * (size_t)e->dim + (size_t)j] -
		    e->center[j]) / e->scale[j];
	if (!isfinite(v))
		return 0;
	return v > 4 ? 4 : v < -4 ? -4 : v;
}

static double distance(const struct explain *e, int a, int b)
{
	double d = 0;
	for (int j = 0; j < e->dim; j++) {
		double t = z(e, a, j) - z(e, b, j);
		d += t * t;
	}
	return sqrt(d);
}

/* The median distance from a sample of tracks to their nearest neighbour
 * within the sample: what "near" means in this library. */
static void typical_distance(struct explain *e)
{
	int n = e->lib->n, m = n < SAMPLE ? n : SAMPLE;
	e->typical = 1;
	if (m < 2)
		return;
	double *nn = malloc((size_t)m * sizeof *nn);
	if (!nn)
		return;
	for (int a = 0; a < m; a++) {
		int ia = (int)((size_t)a * (size_t)n / (size_t)m);
		nn[a] = INFINITY;
		for (int b = 0; b < m; b++) {
			int ib = (int)((size_t)b * (size_t)n / (size_t)m);
			if (ib != ia)
				nn[a] = fmin(nn[a], distance(e, ia, ib));
		}
	}
	qsort(nn, (size_t)m, sizeof *nn, by_double);
	if (nn[m / 2] > 0 && isfinite(nn[m / 2]))
		e->typical = nn[m / 2];
	free(nn);
}

static bool on_labelled(const struct store_labelled *l, void *ctx)
{
	struct explain *e = ctx;
	const struct store_library *lib = e->lib;
	/* (a hash lookup: the learner's library is not in URI order) */
	int found = util_index_find(&e->index, lib->uri, l->uri);
	if (found >= 0) {
		size_t i = (size_t)found;
		e->label[i] = (signed char)l->label;
		if (l->label == 1)
			e->how[i] = (unsigned char)l->kind;
	}
	return true;
}

static void means(struct explain *e)
{
	const struct store_library *lib = e->lib;
	for (int k = 0; k < N_WORDS; k++) {
		int j = e->word_index[k];
		double sl = 0, ss = 0;
		for (int i = 0; j >= 0 && i < lib->n; i++) {
			double v = lib->x[(size_t)i * (size_t)e->dim +
					  (size_t)j];
			if (!isfinite(v))
				continue;
			if (e->label[i] == 1)
				sl += v;
			else if (e->label[i] == 0)
				ss += v;
		}
		e->mean_liked[k] = e->n_liked ? sl / e->n_liked : NAN;
		e->mean_skipped[k] = e->n_skipped ? ss / e->n_skipped : NAN;
	}
}

struct explain *explain_new(const struct store_library *lib, struct store *s,
			    char *err, size_t err_size)
{
	struct explain *e = calloc(1, sizeof *e);
	size_t n = lib->n > 0 ? (size_t)lib->n : 1;
	if (!e)
		goto oom;
	e->lib = lib;
	e->dim = lib->dim;
	e->center = malloc((size_t)lib->dim * sizeof *e->center);
	e->scale = malloc((size_t)lib->dim * sizeof *e->scale);
	e->label = malloc(n);
	e->how = calloc(n, 1);
	e->named = calloc(n, 1);
	e->liked = malloc(n * sizeof *e->liked);
	if (!e->center || !e->scale || !e->label || !e->how || !e->named ||
	    !e->liked || !robust_scale(e))
		goto oom;
	memset(e->label, -1, n);
	if (!util_index_build(&e->index, lib->uri, lib->n))
		goto oom;
	if (!store_each_labelled(s, on_labelled, e)) {
		snprintf(err, err_size, "%s", store_error(s));
		explain_free(e);
		return NULL;
	}
	for (int i = 0; i < lib->n; i++) {
		if (e->label[i] == 1)
			e->liked[e->n_liked++] = i;
		else if (e->label[i] == 0)
			e->n_skipped++;
	}
	for (int k = 0; k < N_WORDS; k++) {
		int j = features_find(words[k].feature);
		e->word_index[k] = j >= 0 && j < lib->dim ? j : -1;
	}
	means(e);
	typical_distance(e);
	return e;
oom:
	snprintf(err, err_size, "explanations: out of memory");
	explain_free(e);
	return NULL;
}

void explain_free(struct explain *e)
{
	if (!e)
		return;
	free(e->center);
	free(e->scale);
	free(e->label);
	free(e->how);
	free(e->named);
	free(e->liked);
	util_index_free(&e->index);
	free(e);
}

void explain_counts(const struct explain *e, int *liked, int *skipped)
{
	*liked = e->n_liked;
	*skipped = e->n_skipped;
}

bool explain_contrast(const struct explain *e, int k, double *liked,
		      double *skipped, double *separation)
{
	if (k < 0 || k >= N_WORDS || e->word_index[k] < 0 || !e->n_liked ||
	    !e->n_skipped)
		return false;
	*liked = e->mean_liked[k];
	*skipped = e->mean_skipped[k];
	*separation = (*liked - *skipped) / e->scale[e->word_index[k]];
	return isfinite(*separation);
}

/* A growing string in a caller's buffer. */
struct text {
	char *buf;
	size_t size, used;
};

__attribute__((format(printf, 2, 3)))
static void put(struct text *t, const char *fmt, ...)
{
	if (t->used >= t->size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(t->buf + t->used, t->size - t->used, fmt, ap);
	va_end(ap);
	if (r > 0)
		t->used += (size_t)r;
	if (t->used >= t->size)
		t->used = t->size - 1;
}

/* A track's name for people: its title tag, else its file name without
 * the folders and the extension. */
static void put_name(struct text *t, const struct store_library *lib, int i)
{
	if (lib->title && lib->title[i] && lib->title[i][0]) {
		put(t, "\xe2\x80\x9c%s\xe2\x80\x9d", lib->title[i]);
		return;
	}
	const char *base = strrchr(lib->uri[i], '/');
	base = base ? base + 1 : lib->uri[i];
	const char *dot = strrchr(base, '.');
	int len = dot && dot > base ? (int)(dot - base) : (int)strlen(base);
	put(t, "\xe2\x80\x9c%.*s\xe2\x80\x9d", len, base);
}

static const char *how_liked(enum store_kind k)
{
	return k == STORE_KIND_PLAYED ? "you played to the end"
				      : "you said you like";
}

/* The nameable features on which track i sits on the liked side of the
 * skipped tracks (or of the library's middle when nothing was skipped),
 * strongest first: up to `max` indices into words[]. */
static int contrasts(const struct explain *e, int i, int *best, int max)
{
	double score[N_WORDS];
	int out[N_WORDS], n = 0;
	for (int k = 0; k < N_WORDS; k++) {
		int j = e->word_index[k];
		if (j < 0 || !e->n_liked)
			continue;
		double lz = (e->mean_liked[k] - e->center[j]) / e->scale[j];
		double sz = e->n_skipped ? (e->mean_skipped[k] - e->center[j]) /
						   e->scale[j]
					 : 0;
		double sep = lz - sz, off = z(e, i, j) - sz;
		if (!isfinite(sep) || fabs(sep) < MIN_SEPARATION ||
		    off * sep <= 0 || fabs(off) < MIN_OFFSET)
			continue;
		score[k] = fabs(off) * fabs(sep);
		out[n++] = k;
	}
	/* strongest first (a few entries: insertion sort) */
	for (int a = 1; a < n; a++)
		for (int b = a; b > 0 && score[out[b]] > score[out[b - 1]];
		     b--) {
			int t = out[b];
			out[b] = out[b - 1];
			out[b - 1] = t;
		}
	if (n > max)
		n = max;
	memcpy(best, out, (size_t)n * sizeof *best);
	return n;
}

/* The comparative for track i on words[k]: more or less than the skipped
 * tracks' mean (the library's middle without skips). */
static const char *comparative(const struct explain *e, int i, int k)
{
	int j = e->word_index[k];
	double ref = e->n_skipped ? e->mean_skipped[k] : e->center[j];
	double v = e->lib->x[(size_t)i * (size_t)e->dim + (size_t)j];
	return v > ref ? words[k].more : words[k].less;
}

/* Up to EVIDENCE liked tracks near i, those not named yet first. */
static int evidence(struct explain *e, int i, int *out, double *nearest)
{
	*nearest = INFINITY;
	int best[EVIDENCE * 4], nb = 0;
	double bd[EVIDENCE * 4];
	const int keep = EVIDENCE * 4;
	/* the few nearest liked tracks */
	for (int a = 0; a < e->n_liked; a++) {
		int l = e->liked[a];
		if (l == i)
			continue;
		double d = distance(e, i, l);
		int pos = nb < keep ? nb++ : keep;
		if (pos == keep && d >= bd[keep - 1])
			continue;
		if (pos == keep)
			pos = keep - 1;
		while (pos > 0 && bd[pos - 1] > d) {
			bd[pos] = bd[pos - 1];
			best[pos] = best[pos - 1];
			pos--;
		}
		bd[pos] = d;
		best[pos] = l;
	}
	if (nb == 0)
		return 0;
	*nearest = bd[0];
	/* Among those about as near as the nearest, prefer the ones named
	 * least often so far. */
	int n = 0;
	for (int round = 0; round < 256 && n < EVIDENCE; round++) {
		for (int a = 0; a < nb && n < EVIDENCE; a++) {
			if (bd[a] > 1.5 * bd[0] + 1e-9 || e->named[best[a]] !=
								 round)
				continue;
			out[n++] = best[a];
		}
		bool any_left = false;
		for (int a = 0; a < nb; a++)
			any_left |= bd[a] <= 1.5 * bd[0] + 1e-9 &&
				    e->named[best[a]] > round;
		if (!any_left)
			break;
	}
	for (int a = 0; a < n; a++)
		if (e->named[out[a]] < 255)
			e->named[out[a]]++;
	return n;
}

const char *explain_pick(struct explain *e, int i, double spread, char *buf,
			 size_t size)
{
	struct text t = { buf, size, 0 };
	buf[0] = '\0';
	const struct store_library *lib = e->lib;
	if (e->n_liked == 0) {
		put(&t, "No like yet%s: a pick to learn from; play it to the "
		    "end or skip it.", e->n_skipped ? " (only skips)" : "");
		return buf;
	}
	int ev[EVIDENCE];
	double nearest;
	int n = evidence(e, i, ev, &nearest);
	int k[2];
	int nk = contrasts(e, i, k, 2);
	bool near = n > 0 && nearest <= FAR * e->typical;
	if (near) {
		put(&t, "Like ");
		bool same = n < 2 || e->how[ev[0]] == e->how[ev[1]];
		for (int a = 0; a < n; a++) {
			if (a)
				put(&t, same ? " and " : ", and ");
			put_name(&t, lib, ev[a]);
			if (!same)
				put(&t, ", which %s",
				    how_liked((enum store_kind)e->how[ev[a]]));
		}
		if (same)
			put(&t, ", which %s",
			    how_liked((enum store_kind)e->how[ev[0]]));
	} else {
		put(&t, "Unlike anything you liked so far: a try%s",
		    nk ? ", but" : "");
	}
	if (nk) {
		put(&t, "%s%s", near ? "; " : " ", comparative(e, i, k[0]));
		if (nk > 1)
			put(&t, " and %s", comparative(e, i, k[1]));
		put(&t, " than %s", e->n_skipped ? "what you skip"
						 : "most of your library");
	}
	put(&t, ".");
	if (isfinite(spread) && spread > UNSURE_SPREAD)
		put(&t, " The model is unsure about this one.");
	return buf;
}

const char *explain_taste(const struct explain *e, char *buf, size_t size)
{
	struct text t = { buf, size, 0 };
	buf[0] = '\0';
	if (e->n_liked < 2 || e->n_skipped < 2) {
		put(&t, "Too few likes and skips of analysed tracks to tell a "
		    "taste yet (%d liked, %d skipped; it takes 2 of each).",
		    e->n_liked, e->n_skipped);
		return buf;
	}
	int order[N_WORDS], n = 0;
	double sep[N_WORDS];
	for (int k = 0; k < N_WORDS; k++) {
		double l, s;
		if (!explain_contrast(e, k, &l, &s, &sep[k]) ||
		    fabs(sep[k]) < MIN_SEPARATION)
			continue;
		int pos = n++;
		while (pos > 0 && fabs(sep[order[pos - 1]]) < fabs(sep[k])) {
			order[pos] = order[pos - 1];
			pos--;
		}
		order[pos] = k;
	}
	if (n == 0) {
		put(&t, "What you play to the end and what you skip differ in "
		    "no single thing a word names (%d liked, %d skipped): the "
		    "model goes by the timbre as a whole.", e->n_liked,
		    e->n_skipped);
		return buf;
	}
	put(&t, "You play to the end music that is ");
	for (int a = 0; a < n && a < 3; a++)
		put(&t, "%s%s", a == 0 ? "" : a + 1 == (n < 3 ? n : 3) ?
			" and " : ", ",
		    sep[order[a]] > 0 ? words[order[a]].more
				      : words[order[a]].less);
	put(&t, " than what you skip (%d liked, %d skipped tracks).",
	    e->n_liked, e->n_skipped);
	return buf;
}
