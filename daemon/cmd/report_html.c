/* The HTML report, written for a listener who reads it top to bottom:
 * a summary in words; what mpdrec learned (the taste in words, and the
 * nameable features of liked against skipped tracks, with how many tracks
 * each side rests on and whether the difference could be chance); how its
 * picks did over time against its own ranking; where the likes sit in the
 * library; what is uncertain and why; the files it cannot analyse; the
 * last events.
 *
 * Everything is loaded from the store first (struct data), then drawn as
 * inline SVG. Legends are HTML above each plot, never inside it, and every
 * plot's range is robust (the 1st to 99th percentile, padded): a point
 * beyond is drawn on the edge, hollow, so one outlier cannot squash the
 * rest. The page has no script and a Content Security Policy that forbids
 * fetching anything, so opening it reaches no network. */
#include "daemon/cmd/report_html.h"

#include "core/metrics.h"
#include "core/model.h"
#include "core/store.h"
#include "daemon/cmd/cmd.h"
#include "daemon/explain.h"
#include "features/table.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COLOR_LIKED "#2ca02c"
#define COLOR_DISLIKED "#d62728"
#define COLOR_HEARD "#e0a526"
#define COLOR_UNHEARD "#9e9e9e"
#define COLOR_TRAIN "#1f77b4"
#define COLOR_VAL "#ff7f0e"
#define COLOR_RATE "#7b3294"

/* Events listed at the end of the page. */
#define RECENT_EVENTS 15
/* Files that failed, listed. */
#define FAILED_SHOWN 20
/* Above this many tracks the unheard ones of the map are thinned out, and
 * above MAP_TITLES they carry no hover text, to keep the file small. */
#define MAP_POINTS 20000
#define MAP_TITLES 5000
/* Features drawn in "what it learned". */
#define STRIPS 6
/* Library values drawn as ticks behind each strip, at most. */
#define STRIP_TICKS 300
/* A side with fewer tracks than this is called a small sample. */
#define SMALL 10
/* Ensemble spread above which the model is guessing. */
#define UNSURE 0.15
/* Tracks listed as the most uncertain. */
#define UNSURE_SHOWN 6

/* --- escaping ------------------------------------------------------------ */

void report_html_escape(FILE *f, const char *s)
{
	if (!s)
		return;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			if ((*p < 0x20 && *p != '\t' && *p != '\n') ||
			    *p == 0x7f)
				fputs("\xef\xbf\xbd", f);
			else
				fputc(*p, f);
		}
	}
}

/* --- data ---------------------------------------------------------------- */

struct event_copy {
	double time;
	char *uri;
	char *source;
	enum store_kind kind;
	double played, duration;
	int label;
	bool queued_by_us;
};

struct pick_row {
	double time, score;
	int outcome;		/* 1, 0, -1 heard without label, open */
	bool explored;
};

/* Whether the pick was heard and judged (liked or skipped). */
static bool pick_judged(const struct pick_row *p)
{
	return p->outcome == 0 || p->outcome == 1;
}

struct failed_row {
	char *uri, *error;
};

/* Everything the page shows, read before a line is written. */
struct data {
	double now;
	int tracks[4];
	int64_t events, labelled;
	int liked_events, skipped_events;	/* labelled events */
	struct store_training *training;
	int n_training, cap_training;
	struct store_library *lib;
	signed char *label;	/* lib->n: latest label, -1 none */
	unsigned char *heard;	/* lib->n: any event at all */
	struct pick_row *picks;
	int n_picks, cap_picks;
	struct failed_row failed[FAILED_SHOWN];
	int n_failed;
	float *mean, *spread;	/* lib->n scores; NULL without a model */
	struct explain *ex;
	struct event_copy recent[RECENT_EVENTS];
	int n_recent;
	bool oom;
};

static int by_uri_key(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

static int lib_index(const struct data *d, const char *uri)
{
	char **hit = bsearch(uri, d->lib->uri, (size_t)d->lib->n,
			     sizeof *d->lib->uri, by_uri_key);
	return hit ? (int)(hit - d->lib->uri) : -1;
}

static bool add_training(const struct store_training *t, void *ctx)
{
	struct data *d = ctx;
	if (d->n_training == d->cap_training) {
		int cap = d->cap_training ? 2 * d->cap_training : 16;
		struct store_training *p =
			realloc(d->training, (size_t)cap * sizeof *p);
		if (!p) {
			d->oom = true;
			return false;
		}
		d->training = p;
		d->cap_training = cap;
	}
	d->training[d->n_training++] = *t;
	return true;
}

static bool add_recent(const struct store_event *e, void *ctx)
{
	struct data *d = ctx;
	if (d->n_recent == RECENT_EVENTS)
		return false;
	struct event_copy *c = &d->recent[d->n_recent];
	*c = (struct event_copy){
		.time = e->time,
		.uri = strdup(e->uri ? e->uri : ""),
		.source = strdup(e->source ? e->source : ""),
		.kind = e->kind,
		.played = e->played,
		.duration = e->duration,
		.label = e->label,
		.queued_by_us = e->queued_by_us,
	};
	d->n_recent++;
	if (!c->uri || !c->source) {
		d->oom = true;
		return false;
	}
	return true;
}

static bool add_labelled(const struct store_labelled *e, void *ctx)
{
	struct data *d = ctx;
	d->liked_events += e->label == 1;
	d->skipped_events += e->label == 0;
	int i = lib_index(d, e->uri);
	if (i >= 0)
		d->label[i] = (signed char)e->label;
	return true;
}

static bool add_heard(const char *uri, void *ctx)
{
	struct data *d = ctx;
	int i = lib_index(d, uri);
	if (i >= 0)
		d->heard[i] = 1;
	return true;
}

static bool add_pick(const struct store_pick *p, int outcome, void *ctx)
{
	struct data *d = ctx;
	if (d->n_picks == d->cap_picks) {
		int cap = d->cap_picks ? 2 * d->cap_picks : 64;
		struct pick_row *r = realloc(d->picks, (size_t)cap * sizeof *r);
		if (!r) {
			d->oom = true;
			return false;
		}
		d->picks = r;
		d->cap_picks = cap;
	}
	d->picks[d->n_picks++] = (struct pick_row){
		p->time, p->score, outcome, p->explored
	};
	return true;
}

static bool add_failed(const char *uri, const char *error, void *ctx)
{
	struct data *d = ctx;
	struct failed_row *r = &d->failed[d->n_failed++];
	r->uri = strdup(uri);
	r->error = strdup(error ? error : "(no reason kept)");
	if (!r->uri || !r->error)
		d->oom = true;
	return !d->oom && d->n_failed < FAILED_SHOWN;
}

static void data_free(struct data *d)
{
	free(d->training);
	free(d->label);
	free(d->heard);
	free(d->picks);
	free(d->mean);
	free(d->spread);
	explain_free(d->ex);
	store_library_free(d->lib);
	for (int i = 0; i < d->n_failed; i++) {
		free(d->failed[i].uri);
		free(d->failed[i].error);
	}
	for (int i = 0; i < d->n_recent; i++) {
		free(d->recent[i].uri);
		free(d->recent[i].source);
	}
}

/* The saved model's scores of every track, when there is a usable model;
 * the page goes without them otherwise. */
static void load_scores(struct data *d, struct store *s)
{
	void *blob = NULL;
	size_t size = 0;
	char why[256];
	if (!d->lib->n || !store_load_model(s, &blob, &size) || !blob)
		return;
	struct model *m = model_load(blob, size, why, sizeof why);
	free(blob);
	if (!m)
		return;
	if (model_inputs(m) == d->lib->dim && model_scaler_fitted(m)) {
		d->mean = malloc((size_t)d->lib->n * sizeof *d->mean);
		d->spread = malloc((size_t)d->lib->n * sizeof *d->spread);
		if (d->mean && d->spread)
			model_score(m, d->lib->x, d->lib->n, d->mean,
				    d->spread);
		else
			d->oom = true;
	}
	model_free(m);
}

static bool data_load(struct data *d, struct store *s, char *err,
		      size_t err_size)
{
	const char *what = NULL;
	int dim = features_count();
	if (!store_count_tracks(s, d->tracks))
		what = "count tracks";
	else if (!store_count_events(s, &d->events, &d->labelled))
		what = "count events";
	else if (!store_each_training(s, add_training, d) && !d->oom)
		what = "read the training reports";
	else if (d->oom)
		what = NULL;
	else if (!(d->lib = store_load_library(s, FEATURES_VERSION, dim)))
		what = "load the library";
	if (!what && !d->oom) {
		size_t n = d->lib->n ? (size_t)d->lib->n : 1;
		d->label = malloc(n);
		d->heard = calloc(n, 1);
		if (!d->label || !d->heard)
			d->oom = true;
		else
			memset(d->label, -1, n);
	}
	if (what || d->oom)
		;
	else if (!store_each_labelled(s, add_labelled, d))
		what = "read the labelled events";
	else if (!store_each_played_since(s, 0, add_heard, d))
		what = "read the played songs";
	else if (!store_each_pick(s, add_pick, d) && !d->oom)
		what = "read the picks";
	else if (!d->oom && !store_each_failed(s, FAILED_SHOWN, add_failed, d)
		 && !d->oom)
		what = "read the failed files";
	else if (!d->oom &&
		 !store_each_recent_event(s, RECENT_EVENTS, add_recent, d) &&
		 !d->oom)
		what = "read the recent events";
	if (!what && !d->oom) {
		char e[256];
		d->ex = explain_new(d->lib, s, e, sizeof e);
		if (!d->ex)
			what = "explain";
		else
			load_scores(d, s);
	}
	if (d->oom) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	if (what) {
		snprintf(err, err_size, "%s: %s", what, store_error(s));
		return false;
	}
	return true;
}

/* --- numbers and words --------------------------------------------------- */

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The q-quantile of v (n values, sorted in place). */
static double quantile(double *v, int n, double q)
{
	if (n == 0)
		return NAN;
	qsort(v, (size_t)n, sizeof *v, by_double);
	double pos = q * (n - 1);
	int a = (int)floor(pos);
	int b = a + 1 < n ? a + 1 : a;
	return v[a] + (v[b] - v[a]) * (pos - a);
}

/* Two-sided p-value of the Mann-Whitney U test (normal approximation,
 * ties share their rank) that a and b come from the same distribution. */
static double mann_whitney_p(const double *a, int na, const double *b, int nb)
{
	if (na < 2 || nb < 2)
		return NAN;
	int n = na + nb;
	struct rv {
		double v;
		int side;
	} *all = malloc((size_t)n * sizeof *all);
	if (!all)
		return NAN;
	for (int i = 0; i < na; i++)
		all[i] = (struct rv){ a[i], 0 };
	for (int i = 0; i < nb; i++)
		all[na + i] = (struct rv){ b[i], 1 };
	/* insertion sort: a few hundred values at most here */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && all[j].v < all[j - 1].v; j--) {
			struct rv t = all[j];
			all[j] = all[j - 1];
			all[j - 1] = t;
		}
	double ra = 0, ties = 0;
	for (int i = 0; i < n;) {
		int j = i;
		while (j + 1 < n && all[j + 1].v == all[i].v)
			j++;
		double rank = (i + j) / 2.0 + 1, t = j - i + 1;
		ties += t * t * t - t;
		for (int k = i; k <= j; k++)
			if (all[k].side == 0)
				ra += rank;
		i = j + 1;
	}
	free(all);
	double u = ra - na * (na + 1) / 2.0, mu = na * (double)nb / 2;
	double var = na * (double)nb / 12 *
		     ((n + 1) - ties / ((double)n * (n - 1)));
	if (!(var > 0))
		return 1;
	double z = (fabs(u - mu) - 0.5) / sqrt(var);
	return z <= 0 ? 1 : erfc(z / sqrt(2));
}

/* A range for plotting n values v[0], v[stride], ... that one outlier
 * cannot stretch: the 1st to 99th percentile, and never beyond three
 * interquartile ranges outside the middle half (with few values the
 * percentiles are the extremes themselves); padded by `pad` of its width.
 * Values beyond are drawn on the edge. */
static void robust_range(const double *v, int n, int stride, double pad,
			 double *lo, double *hi)
{
	double *t = malloc((size_t)(n > 0 ? n : 1) * sizeof *t);
	int m = 0;
	for (int i = 0; t && i < n; i++)
		if (isfinite(v[(size_t)i * (size_t)stride]))
			t[m++] = v[(size_t)i * (size_t)stride];
	if (!t || m == 0) {
		free(t);
		*lo = -1;
		*hi = 1;
		return;
	}
	double q1 = quantile(t, m, 0.25), q3 = quantile(t, m, 0.75);
	double a = fmax(quantile(t, m, 0.01), q1 - 3 * (q3 - q1));
	double b = fmin(quantile(t, m, 0.99), q3 + 3 * (q3 - q1));
	free(t);
	if (!(b > a)) {
		a -= 1;
		b += 1;
	}
	*lo = a - (b - a) * pad;
	*hi = b + (b - a) * pad;
}

/* A round step for about `want` ticks over [lo, hi]. */
static double nice_step(double lo, double hi, int want)
{
	double raw = (hi - lo) / want;
	if (!(raw > 0))
		return 1;
	double mag = pow(10, floor(log10(raw)));
	double r = raw / mag;
	return mag * (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10);
}

/* How much of a time to show. */
enum time_format { TIME_FULL, TIME_DATE, TIME_SHORT };

static void fmt_time(char *buf, size_t size, double t, enum time_format how)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!isfinite(t) || !localtime_r(&tt, &tm)) {
		snprintf(buf, size, "?");
		return;
	}
	strftime(buf, size, how == TIME_FULL ? "%Y-%m-%d %H:%M"
			    : how == TIME_DATE ? "%Y-%m-%d" : "%m-%d %H:%M",
		 &tm);
}

/* A track's name for people: title (and artist), else the file name. */
static void track_name(FILE *f, const struct store_library *lib, int i)
{
	if (lib->title[i] && lib->title[i][0]) {
		report_html_escape(f, lib->title[i]);
		if (lib->artist[i]) {
			fputs(" \xe2\x80\x93 ", f);
			report_html_escape(f, lib->artist[i]);
		}
		return;
	}
	const char *base = strrchr(lib->uri[i], '/');
	report_html_escape(f, base ? base + 1 : lib->uri[i]);
}

/* --- drawing helpers ----------------------------------------------------- */

/* A plot area in SVG units and the data range it shows. */
struct plot {
	double x0, y0, w, h;
	double xmin, xmax, ymin, ymax;
};

static double px(const struct plot *p, double x)
{
	return p->x0 + (x - p->xmin) / (p->xmax - p->xmin) * p->w;
}

static double py(const struct plot *p, double y)
{
	return p->y0 + p->h - (y - p->ymin) / (p->ymax - p->ymin) * p->h;
}

static void svg_open(FILE *f, int w, int h, const char *label)
{
	fprintf(f,
		"<svg class=\"plot\" viewBox=\"0 0 %d %d\" width=\"%d\" "
		"height=\"%d\" role=\"img\" aria-label=\"",
		w, h, w, h);
	report_html_escape(f, label);
	fprintf(f, "\">\n");
}

static void frame(FILE *f, const struct plot *p)
{
	fprintf(f,
		"<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		"height=\"%.1f\"/>\n",
		p->x0, p->y0, p->w, p->h);
}

/* Horizontal grid and labels of a 0..1 y axis as percentages. */
static void y_share(FILE *f, const struct plot *p)
{
	fprintf(f, "<g class=\"axis\">\n");
	for (int k = 0; k <= 4; k++) {
		double v = k / 4.0, y = py(p, v);
		fprintf(f,
			"<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" "
			"x2=\"%.1f\" y2=\"%.1f\"/><text x=\"%.1f\" "
			"y=\"%.1f\" text-anchor=\"end\">%d%%</text>\n",
			p->x0, y, p->x0 + p->w, y, p->x0 - 6, y + 4, k * 25);
	}
	fprintf(f, "</g>\n");
}

/* Labels of an x axis of counts (1..n). */
static void x_counts(FILE *f, const struct plot *p, const char *title)
{
	double step = nice_step(p->xmin, p->xmax, 6);
	if (step < 1)
		step = 1;
	fprintf(f, "<g class=\"axis\">\n");
	for (double v = ceil(p->xmin / step) * step; v <= p->xmax + 1e-9;
	     v += step)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" "
			   "text-anchor=\"middle\">%.0f</text>\n",
			px(p, v), p->y0 + p->h + 15, v);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
		p->x0 + p->w / 2, p->y0 + p->h + 32);
	report_html_escape(f, title);
	fprintf(f, "</text>\n</g>\n");
}

/* An HTML legend: pairs of colour and text, NULL-terminated. */
static void legend(FILE *f, ...)
{
	va_list ap;
	va_start(ap, f);
	fprintf(f, "<div class=\"legend\">");
	const char *color;
	while ((color = va_arg(ap, const char *))) {
		const char *text = va_arg(ap, const char *);
		fprintf(f, "<span><i style=\"background:%s\"></i>", color);
		report_html_escape(f, text);
		fprintf(f, "</span>");
	}
	fprintf(f, "</div>\n");
	va_end(ap);
}

/* A data point; hollow when it lies beyond the plotted range (drawn on its
 * edge). */
static void point(FILE *f, const struct plot *p, double x, double y,
		  const char *color, double r, const char *title)
{
	bool out = x < p->xmin || x > p->xmax || y < p->ymin || y > p->ymax;
	double cx = px(p, fmin(fmax(x, p->xmin), p->xmax));
	double cy = py(p, fmin(fmax(y, p->ymin), p->ymax));
	if (out)
		fprintf(f, "<circle class=\"pt out\" cx=\"%.1f\" cy=\"%.1f\" "
			   "r=\"%.1f\" fill=\"none\" stroke=\"%s\"",
			cx, cy, r, color);
	else
		fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" "
			   "r=\"%.1f\" fill=\"%s\"",
			cx, cy, r, color);
	if (!title) {
		fprintf(f, "/>\n");
		return;
	}
	fprintf(f, "><title>");
	report_html_escape(f, title);
	fprintf(f, "%s</title></circle>\n",
		out ? " (beyond the plotted range)" : "");
}

/* --- sections ------------------------------------------------------------ */

static void head(FILE *f, const struct data *d)
{
	char when[64];
	fmt_time(when, sizeof when, d->now, TIME_FULL);
	fprintf(f,
		"<!DOCTYPE html>\n"
		"<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		"<meta http-equiv=\"Content-Security-Policy\" "
		"content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
		"<meta name=\"viewport\" content=\"width=device-width\">\n"
		"<title>mpdrec: what it learned, %s</title>\n"
		"<style>\n"
		"body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;"
		"max-width:1160px;padding:1em 1.5em;color:#222;"
		"background:#fff}\n"
		"h1{font-size:1.6em;margin:.2em 0}\n"
		"h2{font-size:1.25em;margin:1.8em 0 .5em;border-bottom:1px "
		"solid #ddd}\n"
		"p{max-width:820px}\n"
		".lead{font-size:1.08em}\n"
		".row{display:flex;flex-wrap:wrap;gap:24px;"
		"align-items:flex-start}\n"
		"figure{margin:0}figcaption{font-size:.9em;color:#555;"
		"max-width:560px}\n"
		".legend{font-size:.88em;color:#333;margin:.2em 0 .3em}\n"
		".legend span{margin-right:1.2em;white-space:nowrap}\n"
		".legend i{display:inline-block;width:11px;height:11px;"
		"border-radius:50%%;margin-right:.35em;vertical-align:-1px}\n"
		"table{border-collapse:collapse;font-size:.92em}\n"
		"td,th{padding:.15em .7em;text-align:left;"
		"border-bottom:1px solid #eee;vertical-align:top}\n"
		"td.n,th.n{text-align:right;font-variant-numeric:"
		"tabular-nums}\n"
		"td.uri{word-break:break-all}\n"
		".empty,.note{background:#f6f6f6;border-left:4px solid #bbb;"
		"padding:.6em 1em;max-width:800px}\n"
		"svg{font:11px system-ui,sans-serif;background:#fff;"
		"display:block}\n"
		"svg .grid{stroke:#ececec}svg .frame{fill:none;stroke:#999}\n"
		"svg .axis text{fill:#555}\n"
		".like{color:" COLOR_LIKED "}.dislike{color:" COLOR_DISLIKED
		"}\n"
		"</style>\n</head>\n<body>\n"
		"<h1>What mpdrec learned about your music</h1>\n"
		"<p>Report of %s.</p>\n",
		when, when);
}

static void summary(FILE *f, const struct data *d)
{
	int an = d->tracks[STORE_ANALYSED], failed = d->tracks[STORE_FAILED];
	int pending = d->tracks[STORE_PENDING];
	fprintf(f, "<h2>In short</h2>\n<p class=\"lead\">");
	fprintf(f, "mpdrec knows %d analysed track%s", an, an == 1 ? "" : "s");
	if (pending)
		fprintf(f, " (%d more wait to be analysed)", pending);
	if (failed)
		fprintf(f, "; %d file%s could not be analysed (listed below)",
			failed, failed == 1 ? "" : "s");
	fprintf(f, ". ");
	if (d->events == 0) {
		fprintf(f, "</p>\n<p class=\"empty\">No events yet. Play music "
			   "with <code>mpdrec run</code> watching MPD: a song "
			   "played to its end counts as a like, a skip as a "
			   "dislike (or send <code>mpc sendmessage mpdrec "
			   "like</code>). This page fills in as you "
			   "listen.</p>\n");
		return;
	}
	fprintf(f, "You played %d song%s to the end or liked %s, and skipped "
		   "or disliked %d. ", d->liked_events,
		d->liked_events == 1 ? "" : "s",
		d->liked_events == 1 ? "it" : "them", d->skipped_events);
	char taste[1024];
	report_html_escape(f, explain_taste(d->ex, taste, sizeof taste));
	int judged = 0, liked = 0;
	for (int i = 0; i < d->n_picks; i++) {
		judged += pick_judged(&d->picks[i]);
		liked += d->picks[i].outcome == 1;
	}
	if (judged)
		fprintf(f, " Of mpdrec's picks you heard, %d of %d pleased you "
			   "(%.0f%%).", liked, judged, 100.0 * liked / judged);
	fprintf(f, "</p>\n");
}

/* Values of feature j: of the whole library (a sample), of the liked and
 * of the skipped tracks. */
struct strip {
	int k, j;		/* explain_words index, feature index */
	double *lib, *liked, *skipped;
	int n_lib, n_liked, n_skipped;
	double lo, hi;		/* plotted range */
	double sep, p;
};

static void strip_free(struct strip *s)
{
	free(s->lib);
	free(s->liked);
	free(s->skipped);
}

static bool strip_fill(struct strip *s, const struct data *d)
{
	const struct store_library *lib = d->lib;
	size_t n = lib->n ? (size_t)lib->n : 1;
	s->lib = malloc(n * sizeof *s->lib);
	s->liked = malloc(n * sizeof *s->liked);
	s->skipped = malloc(n * sizeof *s->skipped);
	if (!s->lib || !s->liked || !s->skipped)
		return false;
	for (int i = 0; i < lib->n; i++) {
		double v = lib->x[(size_t)i * (size_t)lib->dim + (size_t)s->j];
		if (!isfinite(v))
			continue;
		s->lib[s->n_lib++] = v;
		if (d->label[i] == 1)
			s->liked[s->n_liked++] = v;
		else if (d->label[i] == 0)
			s->skipped[s->n_skipped++] = v;
	}
	robust_range(s->lib, s->n_lib, 1, 0.06, &s->lo, &s->hi);
	s->p = mann_whitney_p(s->liked, s->n_liked, s->skipped, s->n_skipped);
	return true;
}

static double median_of(double *v, int n)
{
	double *t = malloc((size_t)(n > 0 ? n : 1) * sizeof *t);
	if (!t || n == 0) {
		free(t);
		return NAN;
	}
	memcpy(t, v, (size_t)n * sizeof *t);
	double m = quantile(t, n, 0.5);
	free(t);
	return m;
}

/* A strip's name at its left: what the feature measures, its unit and
 * name. */
static void strip_label(FILE *f, const struct strip *s,
			const struct explain_word *w, int left, int top)
{
	const struct feature_info *fi = features_info(s->j);
	fprintf(f, "<g class=\"axis\"><text x=\"%d\" y=\"%d\" "
		   "text-anchor=\"end\" font-size=\"13\" fill=\"#222\">",
		left - 10, top + 18);
	report_html_escape(f, w[s->k].what);
	fprintf(f, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
		left - 10, top + 33);
	if (fi->unit[0]) {
		report_html_escape(f, fi->unit);
		fprintf(f, ", ");
	}
	report_html_escape(f, fi->name);
	fprintf(f, "</text></g>\n");
}

/* A strip's background: a sample of the library as ticks, and a few round
 * values on the x axis. */
static void strip_library(FILE *f, const struct strip *s,
			  const struct plot *p)
{
	int step = s->n_lib > STRIP_TICKS ? s->n_lib / STRIP_TICKS : 1;
	fprintf(f, "<g stroke=\"#c8c8c8\">");
	for (int i = 0; i < s->n_lib; i += step)
		if (s->lib[i] >= p->xmin && s->lib[i] <= p->xmax)
			fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
				   "y2=\"%.1f\"/>",
				px(p, s->lib[i]), px(p, s->lib[i]),
				py(p, 0.56), py(p, 0.44));
	fprintf(f, "</g>\n");
	double stepv = nice_step(s->lo, s->hi, 4);
	fprintf(f, "<g class=\"axis\">");
	for (double v = ceil(s->lo / stepv) * stepv; v <= s->hi; v += stepv)
		fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" "
			   "text-anchor=\"middle\">%g</text>",
			px(p, v), p->y0 + p->h + 12, fabs(v) < 1e-12 ? 0 : v);
	fprintf(f, "</g>\n");
}

/* A strip's tracks: liked above, skipped below, spread a little, each
 * side's median as a bar. */
static void strip_tracks(FILE *f, const struct strip *s,
			 const struct plot *p)
{
	for (int side = 0; side < 2; side++) {
		const double *v = side ? s->skipped : s->liked;
		int n = side ? s->n_skipped : s->n_liked;
		for (int i = 0; i < n; i++) {
			double jitter = ((i * 37) % 11) / 10.0;
			double y = side ? 0.08 + 0.3 * jitter
					: 0.62 + 0.3 * jitter;
			point(f, p, v[i], y, side ? COLOR_DISLIKED
						  : COLOR_LIKED, 3, NULL);
		}
		double m = median_of((double *)v, n);
		if (isfinite(m) && m >= p->xmin && m <= p->xmax)
			fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
				   "y2=\"%.1f\" stroke=\"%s\" "
				   "stroke-width=\"3\"/>\n",
				px(p, m), px(p, m), py(p, side ? 0 : 1),
				py(p, 0.5), side ? COLOR_DISLIKED
						 : COLOR_LIKED);
	}
}

/* A strip's verdict in words, right of it: how the liked tracks differ and
 * whether that could be chance. */
static void strip_verdict(FILE *f, const struct strip *s,
			  const struct explain_word *w, int right, int top)
{
	double ml = median_of(s->liked, s->n_liked);
	double ms = median_of(s->skipped, s->n_skipped);
	const char *words = fabs(s->sep) >= 1 ? "clearly"
			    : fabs(s->sep) >= 0.5 ? "somewhat"
						  : "slightly";
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">", right + 12,
		top + 15);
	if (isfinite(ml) && isfinite(ms) && fabs(s->sep) >= 0.3) {
		fprintf(f, "liked: %s ", words);
		report_html_escape(f, s->sep > 0 ? w[s->k].more : w[s->k].less);
	} else {
		fprintf(f, "no clear difference");
	}
	fprintf(f, "</text><text x=\"%d\" y=\"%d\" fill=\"#555\">",
		right + 12, top + 30);
	if (!isfinite(s->p))
		fprintf(f, "too few tracks to test");
	else if (s->p < 0.001)
		fprintf(f, "unlikely to be chance (p < 0.001)");
	else if (s->p < 0.05)
		fprintf(f, "unlikely to be chance (p = %.3f)", s->p);
	else
		fprintf(f, "could be chance (p = %.2f)", s->p);
	fprintf(f, "</text>\n");
}

/* One strip: the library as ticks, liked tracks above the middle, skipped
 * below, medians as bars. */
static void draw_strip(FILE *f, const struct strip *s, int row, int W)
{
	int nw;
	const struct explain_word *w = explain_words(&nw);
	const int top = 8 + row * 62, H = 40, left = 150, right = W - 230;
	struct plot p = { left, top, right - left, H, s->lo, s->hi, 0, 1 };
	strip_label(f, s, w, left, top);
	frame(f, &p);
	strip_library(f, s, &p);
	strip_tracks(f, s, &p);
	strip_verdict(f, s, w, right, top);
}

static int by_abs_sep(const void *a, const void *b)
{
	double x = fabs(((const struct strip *)a)->sep);
	double y = fabs(((const struct strip *)b)->sep);
	return (x < y) - (x > y);
}

static bool learned(FILE *f, const struct data *d)
{
	fprintf(f, "<h2>What it learned</h2>\n");
	int liked, skipped;
	explain_counts(d->ex, &liked, &skipped);
	char taste[1024];
	fprintf(f, "<p>");
	report_html_escape(f, explain_taste(d->ex, taste, sizeof taste));
	fprintf(f, "</p>\n");
	if (liked == 0 || skipped == 0) {
		fprintf(f, "<p class=\"empty\">The comparison of liked and "
			   "skipped tracks appears once both exist among the "
			   "analysed tracks (%d liked, %d skipped so "
			   "far).</p>\n", liked, skipped);
		return true;
	}
	int nw;
	explain_words(&nw);
	struct strip *st = calloc((size_t)nw, sizeof *st);
	if (!st)
		return false;
	int n = 0;
	bool ok = true;
	for (int k = 0; k < nw && ok; k++) {
		double l, s;
		struct strip *x = &st[n];
		x->k = k;
		x->j = features_find(explain_words(&nw)[k].feature);
		if (x->j < 0 || !explain_contrast(d->ex, k, &l, &s, &x->sep))
			continue;
		ok = strip_fill(x, d);
		n++;
	}
	if (!ok) {
		for (int i = 0; i < n; i++)
			strip_free(&st[i]);
		free(st);
		return false;
	}
	qsort(st, (size_t)n, sizeof *st, by_abs_sep);
	int shown = n < STRIPS ? n : STRIPS;
	const int W = 1100, H = 14 + shown * 62;
	fprintf(f, "<figure>\n");
	legend(f, COLOR_LIKED, "tracks you played to the end or liked "
			       "(bar: their median)",
	       COLOR_DISLIKED, "tracks you skipped or disliked",
	       "#c8c8c8", "the whole library", (const char *)NULL);
	svg_open(f, W, H, "liked against skipped tracks, feature by feature");
	for (int i = 0; i < shown; i++)
		draw_strip(f, &st[i], i, W);
	fprintf(f, "</svg>\n<figcaption style=\"max-width:1000px\">The %d "
		   "features with the largest difference between the %d "
		   "tracks you liked and the %d you skipped, in their own "
		   "units; each axis covers the library without its rare "
		   "extremes (a hollow point lies beyond). "
		   "\xe2\x80\x9c" "Could be chance\xe2\x80\x9d: a Mann-Whitney "
		   "test finds the two groups no further apart than random "
		   "halves of them often are%s</figcaption>\n</figure>\n",
		shown, liked, skipped,
		liked < SMALL || skipped < SMALL
			? "; with fewer than 10 tracks on a side, read every "
			  "difference as a hint."
			: ".");
	for (int i = 0; i < n; i++)
		strip_free(&st[i]);
	free(st);
	return true;
}

/* The like rate of the last win judged picks j[0..n-1] over time, against
 * base, the share liked of all that was played or skipped. */
static void like_rate_plot(FILE *f, const struct pick_row *j, int n, int win,
			   double base)
{
	const int W = 560, H = 290;
	struct plot p = { 48, 12, W - 68, H - 62, 0.5, n + 0.5, 0, 1 };
	fprintf(f, "<figure>\n");
	char lab[96];
	snprintf(lab, sizeof lab, "share liked of the last %d picks", win);
	legend(f, COLOR_RATE, lab, "#888",
	       "all you played or skipped (dashed)", (const char *)NULL);
	svg_open(f, W, H, "like rate of the picks over time");
	y_share(f, &p);
	frame(f, &p);
	x_counts(f, &p, "judged pick, oldest first");
	if (isfinite(base))
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			   "y2=\"%.1f\" stroke=\"#888\" "
			   "stroke-dasharray=\"5 4\"/>\n",
			p.x0, py(&p, base), p.x0 + p.w, py(&p, base));
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\" "
		   "points=\"", COLOR_RATE);
	double sum = 0;
	for (int i = 0; i < n; i++) {
		sum += j[i].outcome;
		if (i >= win)
			sum -= j[i - win].outcome;
		int k = i + 1 < win ? i + 1 : win;
		fprintf(f, "%.1f,%.1f ", px(&p, i + 1), py(&p, sum / k));
	}
	fprintf(f, "\"/>\n</svg>\n<figcaption>Of its last %d picks at each "
		   "point, the share you played to the end or liked. Above "
		   "the dashed line its picks do better than your listening "
		   "as a whole.</figcaption>\n</figure>\n", win);
}

/* The AUC of the scores of the judged picks j[0..n-1] against their
 * outcomes, NaN without both outcomes; *scored and *scored_liked count the
 * picks with a score (those made before there was a model have none). */
static double scored_auc(const struct pick_row *j, int n, int *scored,
			 int *scored_liked)
{
	float *sc = malloc((size_t)n * sizeof *sc), *y = malloc((size_t)n *
								sizeof *y);
	double auc = NAN;
	*scored = *scored_liked = 0;
	for (int i = 0; sc && y && i < n; i++) {
		if (!isfinite(j[i].score))
			continue;
		sc[*scored] = (float)j[i].score;
		y[(*scored)++] = (float)j[i].outcome;
		*scored_liked += j[i].outcome;
	}
	if (*scored_liked > 0 && *scored_liked < *scored)
		auc = metrics_auc(sc, y, *scored);
	free(sc);
	free(y);
	return auc;
}

/* Its ranking: the score it gave each judged pick j[0..n-1] against the
 * outcome, and the AUC in words. */
static void score_plot(FILE *f, const struct pick_row *j, int n)
{
	int scored, scored_liked;
	double auc = scored_auc(j, n, &scored, &scored_liked);
	const int W = 560, H = 290;
	struct plot q = { 48, 12, W - 68, H - 62, 0.5, n + 0.5, 0, 1 };
	fprintf(f, "<figure>\n");
	legend(f, COLOR_LIKED, "pleased you", COLOR_DISLIKED, "skipped",
	       (const char *)NULL);
	svg_open(f, W, H, "the score of each pick and what happened");
	y_share(f, &q);
	frame(f, &q);
	x_counts(f, &q, "judged pick, oldest first");
	fprintf(f, "<text class=\"axis\" transform=\"translate(12 %.1f) "
		   "rotate(-90)\" text-anchor=\"middle\" fill=\"#555\">its "
		   "score (chance of a like)</text>\n", q.y0 + q.h / 2);
	for (int i = 0; i < n; i++) {
		char t[64];
		if (!isfinite(j[i].score))
			continue;
		snprintf(t, sizeof t, "pick %d: score %.2f, %s", i + 1,
			 j[i].score, j[i].outcome ? "liked" : "skipped");
		point(f, &q, i + 1, j[i].score,
		      j[i].outcome ? COLOR_LIKED : COLOR_DISLIKED, 3.5, t);
	}
	fprintf(f, "</svg>\n<figcaption>The chance of a like it gave each "
		   "pick when it queued it. If its ranking means something, "
		   "green points sit above red ones. ");
	if (scored < n)
		fprintf(f, "The %d picks made before there was a model (a "
			   "cold start, chosen for variety) have no score. ",
			n - scored);
	if (isfinite(auc))
		fprintf(f, "It scored a liked pick above a skipped one %.0f%% "
			   "of the time (AUC %.2f: %s; 0.5 is a coin).",
			100 * auc, auc, cmd_auc_words(auc));
	else if (scored == 0)
		fprintf(f, "No pick had a score yet.");
	else
		fprintf(f, "Its ranking cannot be scored yet: every scored "
			   "pick was %s.", scored_liked ? "liked" : "skipped");
	fprintf(f, "</figcaption>\n</figure>\n");
}

static void picks_over_time(FILE *f, const struct data *d)
{
	fprintf(f, "<h2>How its picks did</h2>\n");
	int n_judged = 0;
	for (int i = 0; i < d->n_picks; i++)
		n_judged += pick_judged(&d->picks[i]);
	if (n_judged == 0) {
		fprintf(f, "<p class=\"empty\">No pick of mpdrec has been "
			   "heard and judged yet%s.</p>\n",
			d->n_picks ? " (some are queued)" : "");
		return;
	}
	struct pick_row *j = malloc((size_t)n_judged * sizeof *j);
	if (!j)
		return;
	int n = 0, liked = 0, explored = 0, explored_liked = 0;
	for (int i = 0; i < d->n_picks; i++)
		if (pick_judged(&d->picks[i])) {
			j[n++] = d->picks[i];
			liked += d->picks[i].outcome;
			explored += d->picks[i].explored;
			explored_liked += d->picks[i].explored &&
					  d->picks[i].outcome;
		}
	double base = d->liked_events + d->skipped_events
			      ? (double)d->liked_events /
					(d->liked_events + d->skipped_events)
			      : NAN;
	int win = n / 5 < 5 ? 5 : n / 5 > 20 ? 20 : n / 5;
	if (win > n)
		win = n;
	fprintf(f, "<p>%d of its %d judged picks pleased you (%.0f%%)",
		liked, n, 100.0 * liked / n);
	if (explored)
		fprintf(f, "; %d of them were tries outside what you like, "
			   "%d of those pleased", explored, explored_liked);
	fprintf(f, ".</p>\n<div class=\"row\">\n");
	like_rate_plot(f, j, n, win, base);
	score_plot(f, j, n);
	fprintf(f, "</div>\n");
	free(j);
}


/* Pulls every feature value of lib into its library's robust range (the
 * median ± 4 interquartile ranges), in place, so that one odd track cannot
 * turn the map's main direction into "that track against the rest". The
 * report draws the map last of what needs the raw values. */
static bool clip_outliers(struct store_library *lib)
{
	int n = lib->n, m = n < 20000 ? n : 20000;
	double *col = malloc((size_t)(m > 0 ? m : 1) * sizeof *col);
	if (!col)
		return false;
	for (int j = 0; j < lib->dim; j++) {
		int k = 0;
		for (int s = 0; s < m; s++) {
			double v = lib->x[(size_t)s * (size_t)n / (size_t)m *
					  (size_t)lib->dim + (size_t)j];
			if (isfinite(v))
				col[k++] = v;
		}
		if (k == 0)
			continue;
		double q1 = quantile(col, k, 0.25), q3 = quantile(col, k, 0.75);
		double med = quantile(col, k, 0.5), iqr = q3 - q1;
		if (!(iqr > 0))
			continue;
		float lo = (float)(med - 4 * iqr), hi = (float)(med + 4 * iqr);
		for (int i = 0; i < n; i++) {
			float *v = &lib->x[(size_t)i * (size_t)lib->dim +
					   (size_t)j];
			*v = *v < lo ? lo : *v > hi ? hi : *v;
		}
	}
	free(col);
	return true;
}

/* The map's classes of a track, in the order of its legend. */
enum map_class { MAP_LIKED, MAP_SKIPPED, MAP_HEARD, MAP_UNHEARD };

static enum map_class map_class(const struct data *d, int i)
{
	return d->label[i] == 1	  ? MAP_LIKED
	       : d->label[i] == 0 ? MAP_SKIPPED
	       : d->heard[i]	  ? MAP_HEARD
				  : MAP_UNHEARD;
}

/* Whether point i of xy (x, y pairs) lies beyond the plotted range. */
static bool beyond(const struct plot *p, const double *xy, int i)
{
	return xy[2 * i] < p->xmin || xy[2 * i] > p->xmax ||
	       xy[2 * i + 1] < p->ymin || xy[2 * i + 1] > p->ymax;
}

/* The map's points of one class c (one never-heard track in step), a
 * point beyond the range hollow on its edge, with the track as a title
 * when titles (always for heard tracks). */
static void map_points(FILE *f, const struct data *d, const double *xy,
		       const struct plot *p, enum map_class c, int step,
		       bool titles)
{
	static const char *const colors[4] = { COLOR_LIKED, COLOR_DISLIKED,
					       COLOR_HEARD, COLOR_UNHEARD };
	const struct store_library *lib = d->lib;
	fprintf(f, "<g%s>\n", c == MAP_UNHEARD ? " opacity=\"0.5\"" : "");
	for (int i = 0, seen = 0; i < lib->n; i++) {
		if (map_class(d, i) != c ||
		    (c == MAP_UNHEARD && seen++ % step))
			continue;
		bool out = beyond(p, xy, i);
		fprintf(f, "<circle class=\"pt%s\" cx=\"%.1f\" "
			   "cy=\"%.1f\" r=\"%.1f\" %s=\"%s\"",
			out ? " out" : "",
			px(p, fmin(fmax(xy[2 * i], p->xmin), p->xmax)),
			py(p, fmin(fmax(xy[2 * i + 1], p->ymin), p->ymax)),
			c == MAP_UNHEARD ? 2.5 : 4.5,
			out ? "fill=\"none\" stroke" : "fill", colors[c]);
		if (titles || c != MAP_UNHEARD) {
			fprintf(f, "><title>");
			track_name(f, lib, i);
			fputc('\n', f);
			report_html_escape(f, lib->uri[i]);
			fprintf(f, "%s</title></circle>\n", out ?
				" (beyond the plotted range)" : "");
		} else {
			fprintf(f, "/>\n");
		}
	}
	fprintf(f, "</g>\n");
}

/* The map's axis names (with the share of the variety each direction
 * holds), the end of its SVG and its caption. */
static void map_caption(FILE *f, const struct plot *p, int H,
			const double share[2], int dim, int outside, int step,
			bool titles)
{
	fprintf(f, "<g class=\"axis\"><text x=\"%.1f\" y=\"%d\" "
		   "text-anchor=\"middle\">first direction of difference "
		   "(%.0f%% of the variety)</text>\n"
		   "<text transform=\"translate(12 %.1f) rotate(-90)\" "
		   "text-anchor=\"middle\">second (%.0f%%)</text></g>\n",
		p->x0 + p->w / 2, H - 12, 100 * share[0], p->y0 + p->h / 2,
		100 * share[1]);
	fprintf(f, "</svg>\n<figcaption style=\"max-width:740px\">Every "
		   "analysed track, placed so that tracks that sound alike "
		   "(by all %d features, standardised) lie close: the two "
		   "directions in which the library varies most (principal "
		   "components). Clusters of green show what you like; a "
		   "grey region far from any green is music you have not "
		   "tried.", dim);
	if (outside)
		fprintf(f, " %d unusual track%s lie%s beyond the plotted "
			   "range (which leaves out rare extremes) and %s "
			   "drawn "
			   "hollow on its edge.", outside,
			outside == 1 ? "" : "s", outside == 1 ? "s" : "",
			outside == 1 ? "is" : "are");
	if (step > 1)
		fprintf(f, " One never-heard track in %d is drawn.", step);
	if (titles)
		fprintf(f, " Hover a point for its track.");
	fprintf(f, "</figcaption>\n</figure>\n");
}

static bool library_map(FILE *f, const struct data *d)
{
	const struct store_library *lib = d->lib;
	fprintf(f, "<h2>Where your likes sit in the library</h2>\n");
	if (lib->n < 3) {
		fprintf(f, "<p class=\"empty\">%d analysed track%s: too few "
			   "for a map (run <code>mpdrec analyze</code>).</p>\n",
			lib->n, lib->n == 1 ? "" : "s");
		return true;
	}
	double *xy = malloc((size_t)lib->n * 2 * sizeof *xy);
	double share[2];
	if (!xy || !clip_outliers(d->lib) ||
	    !metrics_pca(xy, share, lib->x, lib->n, lib->dim)) {
		free(xy);
		return false;
	}
	const int W = 760, H = 520;
	struct plot p = { 20, 10, W - 40, H - 44, 0, 0, 0, 0 };
	robust_range(xy, lib->n, 2, 0.08, &p.xmin, &p.xmax);
	robust_range(xy + 1, lib->n, 2, 0.08, &p.ymin, &p.ymax);
	int count[4] = { 0 }, outside = 0;
	for (int i = 0; i < lib->n; i++) {
		count[map_class(d, i)]++;
		outside += beyond(&p, xy, i);
	}
	int step = count[MAP_UNHEARD] > MAP_POINTS
			   ? (count[MAP_UNHEARD] + MAP_POINTS - 1) / MAP_POINTS
			   : 1;
	bool titles = lib->n <= MAP_TITLES;
	char l0[64], l1[64], l2[64], l3[64];
	snprintf(l0, sizeof l0, "liked (%d)", count[MAP_LIKED]);
	snprintf(l1, sizeof l1, "skipped or disliked (%d)", count[MAP_SKIPPED]);
	snprintf(l2, sizeof l2, "heard, no verdict (%d)", count[MAP_HEARD]);
	snprintf(l3, sizeof l3, "never heard (%d)", count[MAP_UNHEARD]);
	fprintf(f, "<figure>\n");
	legend(f, COLOR_LIKED, l0, COLOR_DISLIKED, l1, COLOR_HEARD, l2,
	       COLOR_UNHEARD, l3, (const char *)NULL);
	svg_open(f, W, H, "map of the library");
	frame(f, &p);
	/* never heard first (underneath), then heard, skipped, liked */
	for (int c = MAP_UNHEARD; c >= MAP_LIKED; c--)
		map_points(f, d, xy, &p, (enum map_class)c, step, titles);
	map_caption(f, &p, H, share, lib->dim, outside, step, titles);
	free(xy);
	return true;
}

/* Why there is no learning curve yet: no retrain, or too few with
 * validation; what the last retrain measured. */
static void learning_note(FILE *f, const struct data *d, int with_val)
{
	if (d->n_training == 0) {
		fprintf(f, "<p class=\"note\">No full retrain yet: mpdrec has "
			   "only learned a little from each song. A full "
			   "retrain (every <code>model.retrain_every</code> "
			   "labels, or <code>mpdrec train</code>) measures "
			   "how well it does on songs it did not learn "
			   "from.</p>\n");
		return;
	}
	const struct store_training *last = &d->training[d->n_training - 1];
	fprintf(f, "<p class=\"note\">%d full retrain%s so far, the "
		   "last on %d labels: right on %.0f%% of the songs it "
		   "learned from. ", d->n_training,
		d->n_training == 1 ? "" : "s", last->events,
		isfinite(last->train_acc) ? 100 * last->train_acc : 0.0);
	if (with_val == 0)
		fprintf(f, "There is no validation yet: with so few "
			   "labels none can be held out to test it on "
			   "(a retrain holds out a fifth once there "
			   "are enough), so that figure says little "
			   "about new songs.");
	else
		fprintf(f, "On held-out songs: %.0f%% right.",
			100 * last->val_acc);
	fprintf(f, " A learning curve appears after two retrains "
		   "with validation.</p>\n");
}

/* The learning curve's two lines: the share right on the songs learned
 * from (s 0) and on held-out ones (s 1), a point per retrain. */
static void learning_lines(FILE *f, const struct data *d,
			   const struct plot *p)
{
	static const char *const colors[2] = { COLOR_TRAIN, COLOR_VAL };
	for (int s = 0; s < 2; s++) {
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" "
			   "stroke-width=\"2\" points=\"", colors[s]);
		for (int i = 0; i < d->n_training; i++) {
			const struct store_training *t = &d->training[i];
			double v = s ? t->val_acc : t->train_acc;
			if (isfinite(v))
				fprintf(f, "%.1f,%.1f ", px(p, t->events),
					py(p, v));
		}
		fprintf(f, "\"/>\n");
		for (int i = 0; i < d->n_training; i++) {
			const struct store_training *t = &d->training[i];
			double v = s ? t->val_acc : t->train_acc;
			if (!isfinite(v))
				continue;
			char when[64], title[200];
			fmt_time(when, sizeof when, t->time, TIME_FULL);
			snprintf(title, sizeof title, "%s, %d labels: %.0f%%",
				 when, t->events, 100 * v);
			point(f, p, t->events, v, colors[s], 3.5, title);
		}
	}
}

static void learning_curve(FILE *f, const struct data *d)
{
	int with_val = 0;
	for (int i = 0; i < d->n_training; i++)
		with_val += isfinite(d->training[i].val_acc);
	if (d->n_training < 2 || with_val == 0) {
		learning_note(f, d, with_val);
		return;
	}
	const int W = 560, H = 290;
	double emax = 1;
	for (int i = 0; i < d->n_training; i++)
		emax = fmax(emax, d->training[i].events);
	struct plot p = { 48, 12, W - 68, H - 62, 0, emax * 1.05, 0, 1 };
	fprintf(f, "<figure>\n");
	legend(f, COLOR_TRAIN, "right on the songs it learned from",
	       COLOR_VAL, "right on held-out songs", (const char *)NULL);
	svg_open(f, W, H, "learning curve");
	y_share(f, &p);
	frame(f, &p);
	x_counts(f, &p, "labels at the full retrain");
	learning_lines(f, d, &p);
	fprintf(f, "</svg>\n<figcaption>At each full retrain: the share "
		   "of songs it gets right among those it learned from, and "
		   "among songs held out from the training. A widening gap "
		   "means it memorises rather than learns; a rising held-out "
		   "line, that more listening helps.");
	if (with_val < d->n_training)
		fprintf(f, " %d retrain%s had too few labels to hold any out: "
			   "%s no held-out point.", d->n_training - with_val,
			d->n_training - with_val == 1 ? "" : "s",
			d->n_training - with_val == 1 ? "it has" : "they have");
	fprintf(f, "</figcaption>\n</figure>\n");
}

static const float *sort_spread;
static int by_spread(const void *a, const void *b)
{
	float x = sort_spread[*(const int *)a];
	float y = sort_spread[*(const int *)b];
	return (x < y) - (x > y);
}

static void uncertain(FILE *f, const struct data *d)
{
	fprintf(f, "<h2>What is uncertain, and why</h2>\n");
	int liked, skipped;
	explain_counts(d->ex, &liked, &skipped);
	fprintf(f, "<p>Everything above rests on %d liked and %d skipped "
		   "analysed tracks%s.</p>\n", liked, skipped,
		liked + skipped < 2 * SMALL
			? ": a small sample, so read it as first impressions"
			: "");
	fprintf(f, "<div class=\"row\">\n");
	learning_curve(f, d);
	if (!d->mean || !d->spread || !d->lib->n) {
		fprintf(f, "<p class=\"note\">No saved model yet: how sure it "
			   "is of each track shows once the daemon has saved "
			   "one.</p>\n</div>\n");
		return;
	}
	int n = d->lib->n, unsure = 0;
	int *order = malloc((size_t)n * sizeof *order);
	if (!order) {
		fprintf(f, "</div>\n");
		return;
	}
	for (int i = 0; i < n; i++) {
		order[i] = i;
		unsure += d->spread[i] > UNSURE;
	}
	sort_spread = d->spread;
	qsort(order, (size_t)n, sizeof *order, by_spread);
	fprintf(f, "<div><p style=\"max-width:540px\">Its ensemble of small "
		   "nets disagrees about %d of the %d tracks (%.0f%%) by more "
		   "than %.2f: there it is guessing, and its tries outside "
		   "what you like go there. Most uncertain:</p>\n<table>\n"
		   "<tr><th>track</th><th class=\"n\">chance of a like</th>"
		   "<th class=\"n\">disagreement</th></tr>\n",
		unsure, n, 100.0 * unsure / n, UNSURE);
	for (int k = 0; k < n && k < UNSURE_SHOWN; k++) {
		int i = order[k];
		fprintf(f, "<tr><td>");
		track_name(f, d->lib, i);
		fprintf(f, "</td><td class=\"n\">%.0f%%</td><td class=\"n\">"
			   "\xc2\xb1%.2f</td></tr>\n", 100 * d->mean[i],
			d->spread[i]);
	}
	fprintf(f, "</table></div>\n</div>\n");
	free(order);
}

static void failed_files(FILE *f, const struct data *d)
{
	if (d->tracks[STORE_FAILED] == 0)
		return;
	fprintf(f, "<h2>Files it cannot analyse</h2>\n<p>%d file%s could not "
		   "be analysed; each is tried again when it changes.%s</p>\n"
		   "<table>\n<tr><th>file</th><th>why</th></tr>\n",
		d->tracks[STORE_FAILED],
		d->tracks[STORE_FAILED] == 1 ? "" : "s",
		d->tracks[STORE_FAILED] > d->n_failed
			? " The first are listed; <code>mpdrec status "
			  "--failed</code> lists all."
			: "");
	for (int i = 0; i < d->n_failed; i++) {
		fprintf(f, "<tr><td class=\"uri\">");
		report_html_escape(f, d->failed[i].uri);
		fprintf(f, "</td><td>");
		report_html_escape(f, d->failed[i].error);
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table>\n");
}

static void recent_events(FILE *f, const struct data *d)
{
	fprintf(f, "<h2>Recent events</h2>\n");
	if (d->n_recent == 0) {
		fprintf(f, "<p class=\"empty\">No events yet.</p>\n");
		return;
	}
	fprintf(f, "<table>\n<tr><th>time</th><th>event</th><th>label</th>"
		   "<th class=\"n\">heard</th><th>source</th><th>track</th>"
		   "</tr>\n");
	for (int i = 0; i < d->n_recent; i++) {
		const struct event_copy *e = &d->recent[i];
		char when[64];
		fmt_time(when, sizeof when, e->time, TIME_FULL);
		const char *label = e->label == 1   ? "like"
				    : e->label == 0 ? "dislike"
						    : "";
		fprintf(f, "<tr><td>%s</td><td>%s%s</td><td class=\"%s\">%s"
			   "</td><td class=\"n\">",
			when, store_kind_name(e->kind),
			e->queued_by_us ? " (its pick)" : "", label, label);
		if (e->duration > 0)
			fprintf(f, "%d:%02d / %d:%02d",
				(int)(e->played / 60), (int)fmod(e->played, 60),
				(int)(e->duration / 60),
				(int)fmod(e->duration, 60));
		fprintf(f, "</td><td>");
		report_html_escape(f, e->source);
		fprintf(f, "</td><td class=\"uri\">");
		report_html_escape(f, e->uri);
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table>\n");
}

bool report_html_write(FILE *f, struct store *s, double now, char *err,
		       size_t err_size)
{
	assert(f && s && err);
	struct data d = { .now = now };
	if (!data_load(&d, s, err, err_size)) {
		data_free(&d);
		return false;
	}
	head(f, &d);
	summary(f, &d);
	bool ok = learned(f, &d);
	if (ok) {
		picks_over_time(f, &d);
		ok = library_map(f, &d);
	}
	if (ok) {
		uncertain(f, &d);
		failed_files(f, &d);
		recent_events(f, &d);
		fprintf(f, "<p><small>mpdrec report; nothing on this page "
			   "was fetched from the network.</small></p>\n"
			   "</body>\n</html>\n");
	} else {
		snprintf(err, err_size, "out of memory");
	}
	data_free(&d);
	return ok;
}
