/* The HTML report. Everything is loaded from the store first (struct data),
 * then drawn as inline SVG; the page has no script and a Content Security
 * Policy that forbids fetching anything, so opening it reaches no network. */
#include "daemon/cmd/report_html.h"

#include "core/metrics.h"
#include "core/store.h"
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
#define COLOR_UNHEARD "#9e9e9e"
#define COLOR_TRAIN "#1f77b4"
#define COLOR_VAL "#ff7f0e"
#define COLOR_RATE "#7b3294"
#define COLOR_EXPLORE "#17becf"
#define COLOR_EXPLOIT "#bcbd22"

/* Events listed at the end of the page. */
#define RECENT_EVENTS 25
/* Above this many tracks the unheard ones of the map are thinned out, and
 * above MAP_TITLES they carry no hover text, to keep the file small. */
#define MAP_POINTS 20000
#define MAP_TITLES 5000
/* Features listed by the strength of their correlation with likes. */
#define TOP_FEATURES 12

/* --- arithmetic ---------------------------------------------------------- */

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

/* Everything the page shows, read before a line is written. */
struct data {
	double now;
	int tracks[4];
	int64_t events, labelled;
	struct store_training *training;
	int n_training, cap_training;
	struct store_examples *ex;
	struct store_library *lib;
	int pick_liked, pick_judged;		/* all picks */
	int explore_liked, explore_judged;	/* explored picks only */
	struct event_copy recent[RECENT_EVENTS];
	int n_recent;
	bool oom;
};

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

static void data_free(struct data *d)
{
	free(d->training);
	store_examples_free(d->ex);
	store_library_free(d->lib);
	for (int i = 0; i < d->n_recent; i++) {
		free(d->recent[i].uri);
		free(d->recent[i].source);
	}
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
	else if (!(d->ex = store_load_examples(s, FEATURES_VERSION, dim)))
		what = "load the labelled events";
	else if (!(d->lib = store_load_library(s, FEATURES_VERSION, dim)))
		what = "load the library";
	else if (!store_pick_stats(s, 0, false, &d->pick_liked,
				   &d->pick_judged) ||
		 !store_pick_stats(s, 0, true, &d->explore_liked,
				   &d->explore_judged))
		what = "count the picks";
	else if (!store_each_recent_event(s, RECENT_EVENTS, add_recent, d) &&
		 !d->oom)
		what = "read the recent events";
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

/* Share of likes among the labelled events with features; NaN if none. */
static double base_rate(const struct data *d)
{
	if (!d->ex || d->ex->n == 0)
		return NAN;
	double likes = 0;
	for (int i = 0; i < d->ex->n; i++)
		likes += d->ex->y[i] > 0.5f;
	return likes / d->ex->n;
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

/* How much of a time to show. */
enum time_format { TIME_FULL, TIME_DATE, TIME_SHORT };

/* Writes local time t into buf. */
static void fmt_time(char *buf, size_t size, double t, enum time_format how)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!isfinite(t) || !localtime_r(&tt, &tm)) {
		snprintf(buf, size, "?");
		return;
	}
	if (how == TIME_FULL)
		strftime(buf, size, "%Y-%m-%d %H:%M", &tm);
	else if (how == TIME_DATE)
		strftime(buf, size, "%Y-%m-%d", &tm);
	else
		strftime(buf, size, "%m-%d %H:%M", &tm);
}

/* Formats a fraction as a percentage, or an en dash when unknown. */
static const char *pct(char *buf, size_t size, double v)
{
	if (isfinite(v))
		snprintf(buf, size, "%.1f%%", 100 * v);
	else
		snprintf(buf, size, "\xe2\x80\x93");
	return buf;
}

static const char *num(char *buf, size_t size, double v, int decimals)
{
	if (isfinite(v))
		snprintf(buf, size, "%.*f", decimals, v);
	else
		snprintf(buf, size, "\xe2\x80\x93");
	return buf;
}

/* The frame of a plot with 0..1 on the y axis as percentages. */
static void axes_share(FILE *f, const struct plot *p)
{
	fprintf(f, "<g class=\"axis\">\n");
	for (int k = 0; k <= 5; k++) {
		double v = k / 5.0, y = py(p, v);
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\" class=\"grid\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">"
			"%d%%</text>\n",
			p->x0, y, p->x0 + p->w, y, p->x0 - 6, y + 4, k * 20);
	}
	fprintf(f,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		"class=\"frame\"/>\n</g>\n",
		p->x0, p->y0, p->w, p->h);
}

static void svg_open(FILE *f, int w, int h, const char *label)
{
	fprintf(f,
		"<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
		"role=\"img\" aria-label=\"",
		w, h, w, h);
	report_html_escape(f, label);
	fprintf(f, "\">\n");
}

static void legend_item(FILE *f, double x, double y, const char *color,
			const char *text)
{
	fprintf(f,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" "
		"fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">",
		x, y - 10, color, x + 17, y);
	report_html_escape(f, text);
	fprintf(f, "</text>\n");
}

/* Diverging colour of a correlation: blue (-1), white (0), red (+1); grey
 * when undefined. */
static void corr_color(char *buf, size_t size, double r)
{
	if (!isfinite(r)) {
		snprintf(buf, size, "#dddddd");
		return;
	}
	static const double neg[3] = { 33, 102, 172 }, pos[3] = { 178, 24, 43 };
	const double *end = r < 0 ? neg : pos;
	double a = fabs(r) > 1 ? 1 : fabs(r);
	int c[3];
	for (int k = 0; k < 3; k++)
		c[k] = (int)lround(255 + (end[k] - 255) * a);
	snprintf(buf, size, "#%02x%02x%02x", c[0], c[1], c[2]);
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
		"<title>mpdrec report, %s</title>\n"
		"<style>\n"
		"body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;"
		"max-width:1160px;padding:1em 1.5em;color:#222;"
		"background:#fff}\n"
		"h1{font-size:1.6em;margin:.2em 0}\n"
		"h2{font-size:1.2em;margin:1.6em 0 .4em;border-bottom:1px "
		"solid #ddd}\n"
		".row{display:flex;flex-wrap:wrap;gap:1.5em;"
		"align-items:flex-start}\n"
		"figure{margin:0}figcaption{font-size:.9em;color:#555;"
		"max-width:560px}\n"
		"table{border-collapse:collapse;font-size:.92em}\n"
		"td,th{padding:.15em .7em;text-align:left;"
		"border-bottom:1px solid #eee;vertical-align:top}\n"
		"td.n,th.n{text-align:right;font-variant-numeric:"
		"tabular-nums}\n"
		"td.uri{word-break:break-all}\n"
		".empty{background:#f6f6f6;border-left:4px solid #bbb;"
		"padding:.6em 1em;max-width:700px}\n"
		"svg{font:11px system-ui,sans-serif;background:#fff}\n"
		"svg .grid{stroke:#e6e6e6}svg .frame{fill:none;stroke:#999}\n"
		"svg .axis text{fill:#555}\n"
		".like{color:" COLOR_LIKED "}.dislike{color:" COLOR_DISLIKED
		"}\n"
		"</style>\n</head>\n<body>\n"
		"<h1>mpdrec report</h1>\n<p>Generated %s.</p>\n",
		when, when);
}

static void summary(FILE *f, const struct data *d)
{
	char a[32], b[32];
	fprintf(f, "<h2>Summary</h2>\n");
	if (d->events == 0)
		fprintf(f,
			"<p class=\"empty\">No events yet. Play music with "
			"<code>mpdrec run</code> watching MPD: a song played "
			"to its end counts as a like, a skip as a dislike "
			"(or send <code>mpc sendmessage mpdrec like</code>). "
			"The plots below fill in as you listen.</p>\n");
	fprintf(f, "<table>\n"
		   "<tr><th>Tracks</th><th class=\"n\">count</th></tr>\n");
	static const char *const status[4] = { "pending analysis",
						"analysed", "failed analysis",
						"gone from MPD" };
	static const int order[4] = { STORE_ANALYSED, STORE_PENDING,
				      STORE_FAILED, STORE_GONE };
	for (int k = 0; k < 4; k++)
		fprintf(f, "<tr><td>%s</td><td class=\"n\">%d</td></tr>\n",
			status[order[k]], d->tracks[order[k]]);
	double rate = base_rate(d);
	fprintf(f,
		"<tr><th>Events</th><th></th></tr>\n"
		"<tr><td>all</td><td class=\"n\">%lld</td></tr>\n"
		"<tr><td>labelled (like or dislike)</td>"
		"<td class=\"n\">%lld</td></tr>\n"
		"<tr><td>like rate of labelled, analysed tracks</td>"
		"<td class=\"n\">%s</td></tr>\n",
		(long long)d->events, (long long)d->labelled,
		pct(a, sizeof a, rate));
	fprintf(f,
		"<tr><th>Model</th><th></th></tr>\n"
		"<tr><td>full trainings</td><td class=\"n\">%d</td></tr>\n",
		d->n_training);
	if (d->n_training) {
		const struct store_training *t =
			&d->training[d->n_training - 1];
		fprintf(f,
			"<tr><td>last validation accuracy / AUC</td>"
			"<td class=\"n\">%s / %s</td></tr>\n",
			pct(a, sizeof a, t->val_acc),
			num(b, sizeof b, t->val_auc, 3));
	}
	fprintf(f, "</table>\n");
}

static void learning_curve(FILE *f, const struct data *d)
{
	const int W = 560, H = 300;
	struct plot p = { 55, 15, W - 75, H - 60, 0, 1, 0, 1 };
	double tmin = INFINITY, tmax = -INFINITY;
	for (int i = 0; i < d->n_training; i++) {
		double t = d->training[i].time;
		if (isfinite(t)) {
			tmin = fmin(tmin, t);
			tmax = fmax(tmax, t);
		}
	}
	if (!(tmin <= tmax)) {
		fprintf(f,
			"<p class=\"empty\">No training yet: the learning "
			"curve appears after the first full retrain "
			"(<code>mpdrec train</code>, or periodically while "
			"the daemon runs).</p>\n");
		return;
	}
	if (tmax - tmin < 60) {
		tmin -= 3600;
		tmax += 3600;
	}
	double pad = (tmax - tmin) * 0.04;
	p.xmin = tmin - pad;
	p.xmax = tmax + pad;
	fprintf(f, "<figure>\n");
	svg_open(f, W, H, "learning curve: training and validation accuracy");
	axes_share(f, &p);
	bool dates = tmax - tmin > 2 * 86400;
	fprintf(f, "<g class=\"axis\">\n");
	for (int k = 0; k <= 4; k++) {
		double t = p.xmin + (p.xmax - p.xmin) * (0.1 + 0.2 * k);
		char lab[64];
		fmt_time(lab, sizeof lab, t, dates ? TIME_DATE : TIME_SHORT);
		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
			"%s</text>\n",
			px(&p, t), p.y0 + p.h + 16, lab);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">time of "
		   "the full retrain</text>\n</g>\n",
		p.x0 + p.w / 2, H - 8);
	static const char *const colors[2] = { COLOR_TRAIN, COLOR_VAL };
	for (int s = 0; s < 2; s++) {
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" "
			   "stroke-width=\"2\" points=\"",
			colors[s]);
		for (int i = 0; i < d->n_training; i++) {
			const struct store_training *t = &d->training[i];
			double v = s ? t->val_acc : t->train_acc;
			if (isfinite(v) && isfinite(t->time))
				fprintf(f, "%.1f,%.1f ", px(&p, t->time),
					py(&p, v));
		}
		fprintf(f, "\"/>\n");
		for (int i = 0; i < d->n_training; i++) {
			const struct store_training *t = &d->training[i];
			double v = s ? t->val_acc : t->train_acc;
			if (!isfinite(v) || !isfinite(t->time))
				continue;
			char when[64], a[32], b[32], c[32];
			fmt_time(when, sizeof when, t->time, TIME_FULL);
			fprintf(f,
				"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" "
				"fill=\"%s\"><title>%s, %d events: training "
				"%s, validation %s, AUC %s</title></circle>\n",
				px(&p, t->time), py(&p, v), colors[s], when,
				t->events, pct(a, sizeof a, t->train_acc),
				pct(b, sizeof b, t->val_acc),
				num(c, sizeof c, t->val_auc, 3));
		}
	}
	legend_item(f, p.x0 + 10, p.y0 + p.h - 26, COLOR_TRAIN,
		    "training accuracy");
	legend_item(f, p.x0 + 10, p.y0 + p.h - 8, COLOR_VAL,
		    "validation accuracy");
	fprintf(f, "</svg>\n<figcaption>Accuracy on the training folds and "
		   "on the held-out folds at each full retrain. A widening "
		   "gap means overfitting; a rising validation curve, that "
		   "more feedback helps.</figcaption>\n</figure>\n");
}

static void like_rate_curve(FILE *f, const struct data *d)
{
	int n = d->ex ? d->ex->n : 0;
	if (n < 2) {
		fprintf(f, "<p class=\"empty\">Fewer than two labelled "
			   "events of analysed tracks: no like rate to plot "
			   "yet.</p>\n");
		return;
	}
	const int W = 560, H = 300;
	int win = n / 10;
	win = win < 5 ? 5 : win > 50 ? 50 : win;
	if (win > n)
		win = n;
	struct plot p = { 55, 15, W - 75, H - 60, 1, n, 0, 1 };
	if (p.xmax <= p.xmin)
		p.xmax = p.xmin + 1;
	fprintf(f, "<figure>\n");
	svg_open(f, W, H, "rolling like rate of labelled events");
	axes_share(f, &p);
	fprintf(f, "<g class=\"axis\">\n");
	for (int k = 0; k <= 4; k++) {
		double v = 1 + (n - 1) * k / 4.0;
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
			   "%d</text>\n",
			px(&p, v), p.y0 + p.h + 16, (int)lround(v));
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
		   "labelled event, oldest first</text>\n</g>\n",
		p.x0 + p.w / 2, H - 8);
	double rate = base_rate(d);
	fprintf(f,
		"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		"stroke=\"#888\" stroke-dasharray=\"5 4\"/>\n",
		p.x0, py(&p, rate), p.x0 + p.w, py(&p, rate));
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
		   "points=\"",
		COLOR_RATE);
	double sum = 0;
	for (int i = 0; i < n; i++) {
		sum += d->ex->y[i] > 0.5f;
		if (i >= win)
			sum -= d->ex->y[i - win] > 0.5f;
		int k = i + 1 < win ? i + 1 : win;
		fprintf(f, "%.1f,%.1f ", px(&p, i + 1), py(&p, sum / k));
	}
	fprintf(f, "\"/>\n");
	char lab[64], a[32];
	snprintf(lab, sizeof lab, "likes among the last %d", win);
	legend_item(f, p.x0 + 10, p.y0 + 20, COLOR_RATE, lab);
	snprintf(lab, sizeof lab, "overall %s", pct(a, sizeof a, rate));
	legend_item(f, p.x0 + 10, p.y0 + 38, "#888", lab);
	fprintf(f, "</svg>\n<figcaption>Share of likes among the last %d "
		   "labelled events (played to the end or liked, against "
		   "skipped or disliked).</figcaption>\n</figure>\n",
		win);
}

static void picks(FILE *f, const struct data *d)
{
	fprintf(f, "<h2>Exploration against exploitation</h2>\n");
	int exploit_liked = d->pick_liked - d->explore_liked;
	int exploit_judged = d->pick_judged - d->explore_judged;
	if (d->pick_judged == 0) {
		fprintf(f, "<p class=\"empty\">No pick of mpdrec has been "
			   "heard and judged yet.</p>\n");
		return;
	}
	const int W = 560, H = 260;
	struct plot p = { 55, 15, W - 75, H - 55, 0, 1, 0, 1 };
	double rate[2] = {
		d->explore_judged ? (double)d->explore_liked / d->explore_judged
				  : NAN,
		exploit_judged ? (double)exploit_liked / exploit_judged : NAN,
	};
	int liked[2] = { d->explore_liked, exploit_liked };
	int judged[2] = { d->explore_judged, exploit_judged };
	static const char *const names[2] = { "exploratory picks",
					      "exploiting picks" };
	static const char *const colors[2] = { COLOR_EXPLORE, COLOR_EXPLOIT };
	fprintf(f, "<div class=\"row\"><figure>\n");
	svg_open(f, W, H, "like rate of exploratory and exploiting picks");
	axes_share(f, &p);
	for (int k = 0; k < 2; k++) {
		double bw = p.w / 4, x = p.x0 + p.w * (0.25 + 0.5 * k) - bw / 2;
		char a[32];
		if (isfinite(rate[k]))
			fprintf(f,
				"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				"height=\"%.1f\" fill=\"%s\"/>\n",
				x, py(&p, rate[k]), bw,
				p.y0 + p.h - py(&p, rate[k]), colors[k]);
		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
			"%s (%d of %d)</text>\n"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
			"%s</text>\n",
			x + bw / 2,
			(isfinite(rate[k]) ? py(&p, rate[k]) : p.y0 + p.h) - 6,
			pct(a, sizeof a, rate[k]), liked[k], judged[k],
			x + bw / 2, p.y0 + p.h + 18, names[k]);
	}
	double base = base_rate(d);
	if (isfinite(base))
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
			" stroke=\"#888\" stroke-dasharray=\"5 4\"><title>"
			"like rate of all labelled events</title></line>\n",
			p.x0, py(&p, base), p.x0 + p.w, py(&p, base));
	fprintf(f, "</svg>\n<figcaption>Share of mpdrec's picks that were "
		   "liked, by how they were chosen; the dashed line is the "
		   "like rate of all labelled events. Exploration trades a "
		   "lower rate now for learning where the taste "
		   "ends.</figcaption>\n</figure>\n");
	char a[32], b[32];
	fprintf(f,
		"<table>\n<tr><th>picks</th><th class=\"n\">judged</th>"
		"<th class=\"n\">liked</th><th class=\"n\">rate</th></tr>\n"
		"<tr><td>exploratory</td><td class=\"n\">%d</td>"
		"<td class=\"n\">%d</td><td class=\"n\">%s</td></tr>\n"
		"<tr><td>exploiting</td><td class=\"n\">%d</td>"
		"<td class=\"n\">%d</td><td class=\"n\">%s</td></tr>\n"
		"</table>\n</div>\n",
		d->explore_judged, d->explore_liked, pct(a, sizeof a, rate[0]),
		exploit_judged, exploit_liked, pct(b, sizeof b, rate[1]));
}

static int compare_uri(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

/* The latest label of each library track (-1 unheard, 0, 1), from the
 * examples (oldest first) and the bans. Caller frees. */
static signed char *latest_labels(const struct data *d)
{
	const struct store_library *lib = d->lib;
	signed char *lab = malloc(lib->n ? (size_t)lib->n : 1);
	if (!lab)
		return NULL;
	memset(lab, -1, lib->n ? (size_t)lib->n : 1);
	for (int i = 0; d->ex && i < d->ex->n; i++) {
		char **hit = bsearch(d->ex->uri[i], lib->uri, (size_t)lib->n,
				     sizeof *lib->uri, compare_uri);
		if (hit)
			lab[hit - lib->uri] = d->ex->y[i] > 0.5f;
	}
	for (int i = 0; i < lib->n; i++)
		if (lib->banned[i])
			lab[i] = 0;
	return lab;
}

static void map_point(FILE *f, const struct plot *p, const double *xy,
		      const struct store_library *lib, int i, const char *color,
		      double radius, bool title)
{
	fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"",
		px(p, xy[0]), py(p, xy[1]), radius, color);
	if (!title) {
		fprintf(f, "/>\n");
		return;
	}
	fprintf(f, "><title>");
	if (lib->artist[i] || lib->title[i]) {
		report_html_escape(f, lib->artist[i] ? lib->artist[i] : "?");
		fprintf(f, " \xe2\x80\x93 ");
		report_html_escape(f, lib->title[i] ? lib->title[i] : "?");
		fprintf(f, "\n");
	}
	report_html_escape(f, lib->uri[i]);
	fprintf(f, "</title></circle>\n");
}

static bool library_map(FILE *f, const struct data *d)
{
	const struct store_library *lib = d->lib;
	fprintf(f, "<h2>The library in two dimensions</h2>\n");
	if (lib->n < 3) {
		fprintf(f, "<p class=\"empty\">%d analysed track%s: too few "
			   "for a map (run <code>mpdrec analyze</code>).</p>\n",
			lib->n, lib->n == 1 ? "" : "s");
		return true;
	}
	double *xy = malloc((size_t)lib->n * 2 * sizeof *xy);
	signed char *lab = latest_labels(d);
	double share[2];
	if (!xy || !lab || !metrics_pca(xy, share, lib->x, lib->n, lib->dim)) {
		free(xy);
		free(lab);
		return false;
	}
	const int W = 620, H = 560;
	struct plot p = { 45, 15, W - 60, H - 60, 0, 0, 0, 0 };
	double lo[2] = { INFINITY, INFINITY }, hi[2] = { -INFINITY, -INFINITY };
	for (int i = 0; i < lib->n; i++)
		for (int c = 0; c < 2; c++) {
			lo[c] = fmin(lo[c], xy[2 * i + c]);
			hi[c] = fmax(hi[c], xy[2 * i + c]);
		}
	for (int c = 0; c < 2; c++) {
		double pad = (hi[c] - lo[c]) * 0.05;
		if (!(pad > 0))
			pad = 1;
		lo[c] -= pad;
		hi[c] += pad;
	}
	p.xmin = lo[0];
	p.xmax = hi[0];
	p.ymin = lo[1];
	p.ymax = hi[1];
	int count[3] = { 0, 0, 0 };	/* unheard, disliked, liked */
	for (int i = 0; i < lib->n; i++)
		count[lab[i] + 1]++;
	int step = count[0] > MAP_POINTS ? (count[0] + MAP_POINTS - 1) /
						   MAP_POINTS
					 : 1;
	bool titles = lib->n <= MAP_TITLES;
	fprintf(f, "<div class=\"row\"><figure>\n");
	svg_open(f, W, H, "PCA map of the library");
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		   "height=\"%.1f\" class=\"frame\"/>\n",
		p.x0, p.y0, p.w, p.h);
	if (p.xmin < 0 && p.xmax > 0)
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			   "y2=\"%.1f\" class=\"grid\"/>\n",
			px(&p, 0), p.y0, px(&p, 0), p.y0 + p.h);
	if (p.ymin < 0 && p.ymax > 0)
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			   "y2=\"%.1f\" class=\"grid\"/>\n",
			p.x0, py(&p, 0), p.x0 + p.w, py(&p, 0));
	fprintf(f, "<g opacity=\"0.55\">\n");
	for (int i = 0, seen = 0; i < lib->n; i++)
		if (lab[i] < 0 && seen++ % step == 0)
			map_point(f, &p, xy + 2 * i, lib, i, COLOR_UNHEARD,
				  2.5, titles);
	fprintf(f, "</g>\n");
	for (int want = 0; want <= 1; want++)
		for (int i = 0; i < lib->n; i++)
			if (lab[i] == want)
				map_point(f, &p, xy + 2 * i, lib, i,
					  want ? COLOR_LIKED : COLOR_DISLIKED,
					  4, true);
	fprintf(f, "<g class=\"axis\"><text x=\"%.1f\" y=\"%d\" "
		   "text-anchor=\"middle\">first component (%.0f%% of the "
		   "variance)</text>\n"
		   "<text transform=\"translate(18 %.1f) rotate(-90)\" "
		   "text-anchor=\"middle\">second component (%.0f%%)</text>"
		   "</g>\n",
		p.x0 + p.w / 2, H - 18, 100 * share[0], p.y0 + p.h / 2,
		100 * share[1]);
	char lab_text[3][64];
	snprintf(lab_text[0], sizeof lab_text[0], "liked (%d)", count[2]);
	snprintf(lab_text[1], sizeof lab_text[1], "disliked (%d)", count[1]);
	snprintf(lab_text[2], sizeof lab_text[2], "unheard (%d)", count[0]);
	legend_item(f, p.x0 + 10, p.y0 + 20, COLOR_LIKED, lab_text[0]);
	legend_item(f, p.x0 + 10, p.y0 + 38, COLOR_DISLIKED, lab_text[1]);
	legend_item(f, p.x0 + 10, p.y0 + 56, COLOR_UNHEARD, lab_text[2]);
	fprintf(f, "</svg>\n<figcaption>Every analysed track placed by the "
		   "first two principal components of its standardised "
		   "features, coloured by its latest label.");
	if (step > 1)
		fprintf(f, " One unheard track in %d is drawn.", step);
	if (titles)
		fprintf(f, " Hover a point for its track.");
	fprintf(f, "</figcaption>\n</figure>\n</div>\n");
	free(xy);
	free(lab);
	return true;
}

/* Horizontal bars of the features most correlated with likes. */
static void top_features(FILE *f, const double *r, int dim)
{
	int m = dim + 1, order[TOP_FEATURES], k = 0;
	bool *used = calloc((size_t)dim ? (size_t)dim : 1, sizeof *used);
	if (!used)
		return;
	for (; k < TOP_FEATURES && k < dim; k++) {
		int best = -1;
		for (int j = 0; j < dim; j++) {
			double v = r[dim * m + j];
			if (!used[j] && isfinite(v) &&
			    (best < 0 || fabs(v) > fabs(r[dim * m + best])))
				best = j;
		}
		if (best < 0)
			break;
		used[best] = true;
		order[k] = best;
	}
	free(used);
	if (k == 0)
		return;
	const int W = 420, row = 20, H = 30 + k * row;
	double mid = 290, half = 110;
	fprintf(f, "<figure>\n");
	svg_open(f, W, H, "features most correlated with likes");
	fprintf(f, "<line x1=\"%.1f\" y1=\"10\" x2=\"%.1f\" y2=\"%d\" "
		   "stroke=\"#999\"/>\n",
		mid, mid, H - 10);
	for (int i = 0; i < k; i++) {
		double v = r[dim * m + order[i]], y = 15 + i * row;
		char color[16];
		corr_color(color, sizeof color, v > 0 ? 0.85 : -0.85);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
			mid - half - 50, y + 12);
		report_html_escape(f, features_info(order[i])->name);
		fprintf(f, "</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			   "height=\"14\" fill=\"%s\"/>"
			   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">"
			   "%+.2f</text>\n",
			v < 0 ? mid + v * half : mid, y, fabs(v) * half, color,
			v < 0 ? mid + v * half - 4 : mid + v * half + 4,
			y + 12, v < 0 ? "end" : "start", v);
	}
	fprintf(f, "</svg>\n<figcaption>The features whose correlation with "
		   "likes is strongest, with its sign.</figcaption>\n"
		   "</figure>\n");
}

static bool correlations(FILE *f, const struct data *d)
{
	fprintf(f, "<h2>Correlation of the features with likes</h2>\n");
	int n = d->ex ? d->ex->n : 0, dim = features_count(), m = dim + 1;
	if (n < 3) {
		fprintf(f, "<p class=\"empty\">%d labelled event%s of analysed "
			   "tracks: the correlation matrix needs at least "
			   "three.</p>\n",
			n, n == 1 ? "" : "s");
		return true;
	}
	double *r = malloc((size_t)m * (size_t)m * sizeof *r);
	if (!r || !metrics_correlation(r, d->ex->x, d->ex->y, n, dim)) {
		free(r);
		return false;
	}
	const int cell = 9, left = 130, top = 130;
	const int W = left + m * cell + 70, H = top + m * cell + 10;
	fprintf(f, "<div class=\"row\">\n<figure>\n");
	svg_open(f, W, H, "correlation matrix of the features and likes");
	fprintf(f, "<g font-size=\"8\" class=\"axis\">\n");
	for (int j = 0; j < m; j++) {
		const char *name = j < dim ? features_info(j)->name : "liked";
		double c = j * cell + cell / 2.0 + 3;
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\"%s>",
			left - 4, top + c, j == dim ? " font-weight=\"bold\""
						    : "");
		report_html_escape(f, name);
		fprintf(f, "</text><text transform=\"translate(%.1f %d) "
			   "rotate(-90)\"%s>",
			left + c, top - 4,
			j == dim ? " font-weight=\"bold\"" : "");
		report_html_escape(f, name);
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</g>\n");
	for (int a = 0; a < m; a++)
		for (int b = 0; b < m; b++) {
			char color[16], v[32];
			double rv = r[a * m + b];
			corr_color(color, sizeof color, rv);
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" "
				   "height=\"%d\" fill=\"%s\"><title>",
				left + b * cell, top + a * cell, cell, cell,
				color);
			report_html_escape(f, a < dim ? features_info(a)->name
						 : "liked");
			fprintf(f, " \xc3\x97 ");
			report_html_escape(f, b < dim ? features_info(b)->name
						 : "liked");
			fprintf(f, ": r = %s</title></rect>\n",
				isfinite(rv) ? num(v, sizeof v, rv, 2)
					     : "undefined (constant)");
		}
	/* The "liked" row and column framed, and a colour scale. */
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		   "fill=\"none\" stroke=\"#222\"/>\n"
		   "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		   "fill=\"none\" stroke=\"#222\"/>\n",
		left, top + dim * cell, m * cell, cell, left + dim * cell,
		top, cell, m * cell);
	int sx = left + m * cell + 20;
	for (int k = 0; k <= 20; k++) {
		char color[16];
		corr_color(color, sizeof color, 1 - k / 10.0);
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" "
			   "fill=\"%s\"/>\n",
			sx, top + k * 10, color);
	}
	fprintf(f, "<g class=\"axis\"><text x=\"%d\" y=\"%d\">+1</text>"
		   "<text x=\"%d\" y=\"%d\">0</text>"
		   "<text x=\"%d\" y=\"%d\">\xe2\x88\x92" "1</text></g>\n",
		sx + 18, top + 9, sx + 18, top + 109, sx + 18, top + 209);
	fprintf(f, "</svg>\n<figcaption>Pearson correlation between every "
		   "pair of features and with the label (1 liked, 0 "
		   "disliked) over the %d labelled events of analysed tracks; "
		   "grey where a feature is constant. The framed row and "
		   "column are the correlation with likes.</figcaption>\n"
		   "</figure>\n",
		n);
	top_features(f, r, dim);
	fprintf(f, "</div>\n");
	free(r);
	return true;
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
			e->queued_by_us ? " (our pick)" : "", label, label);
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
	fprintf(f, "<h2>Learning</h2>\n<div class=\"row\">\n");
	learning_curve(f, &d);
	like_rate_curve(f, &d);
	fprintf(f, "</div>\n");
	picks(f, &d);
	bool ok = library_map(f, &d) && correlations(f, &d);
	if (ok) {
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
