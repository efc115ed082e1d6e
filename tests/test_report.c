/* Tests of daemon/report and `mpdrec report`: the arithmetic behind the
 * plots on data with a known answer, the HTML of a fresh and of a filled
 * store (a real SQLite file in harness_tmpdir()), escaping, the exit codes
 * and the atomic write of the command, and a rendering by headless Chromium
 * whose screenshot must show the plots' colours. */
#include "conf/conf.h"
#include "core/metrics.h"
#include "core/store.h"
#include "daemon/cmd/cmd.h"
#include "daemon/cmd/report_html.h"
#include "features/table.h"
#include "tests/lib/harness.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* --- helpers ------------------------------------------------------------ */

static char *path_for(const char *name)
{
	static char buf[8][4096];
	static int next;
	char *p = buf[next++ % 8];
	snprintf(p, sizeof buf[0], "%s/%s", harness_tmpdir(), name);
	return p;
}

/* A small deterministic generator (xorshift), uniform in [0, 1). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

static double gaussian(void)
{
	double u = uniform(), v = uniform();
	return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static char *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0, got;
	do {
		if (n + 65536 + 1 > cap) {
			cap = 2 * cap + 65536 + 1;
			char *p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = 0;
	if (size)
		*size = n;
	return buf;
}

static bool write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	fputs(text, f);
	return fclose(f) == 0;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Whether a printed NaN ("nan", "-nan", "NaN" as a word) is in html. */
static bool has_nan(const char *html)
{
	for (const char *p = html; *p; p++)
		if (strncasecmp(p, "nan", 3) == 0 &&
		    (p == html || !isalpha((unsigned char)p[-1])) &&
		    !isalpha((unsigned char)p[3]))
			return true;
	return false;
}

/* The report of s as a string the caller frees; NULL (and a failed check)
 * when it could not be made. */
static char *report_string(struct store *s)
{
	char *buf = NULL, err[512] = "";
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (!CHECK(f != NULL))
		return NULL;
	bool ok = report_html_write(f, s, 1700000000.0, err, sizeof err);
	fclose(f);
	if (!CHECK_MSG(ok, "report_html_write: %s", err)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* --- escaping ----------------------------------------------------------- */

static void test_escape(void)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	report_html_escape(f, "<a href=\"x\">Tom & Jerry's</a>");
	report_html_escape(f, NULL);
	fputc('|', f);
	report_html_escape(f, "tab\there\x01\x7f\xc3\xa9");
	fclose(f);
	CHECK_STR(buf, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s"
		       "&lt;/a&gt;|tab\there\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9");
	free(buf);
}

/* --- correlation -------------------------------------------------------- */

/* Textbook one-pass Pearson, for comparison. */
static double pearson(const double *a, const double *b, int n)
{
	double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
	for (int i = 0; i < n; i++) {
		sa += a[i];
		sb += b[i];
		saa += a[i] * a[i];
		sbb += b[i] * b[i];
		sab += a[i] * b[i];
	}
	return (n * sab - sa * sb) /
	       sqrt((n * saa - sa * sa) * (n * sbb - sb * sb));
}

static void test_correlation(void)
{
	enum { N = 50, D = 4, M = D + 1 };
	float x[N * D], y[N];
	double col[M][N];
	for (int i = 0; i < N; i++) {
		double u = gaussian(), v = gaussian();
		col[0][i] = x[i * D + 0] = (float)u;
		col[1][i] = x[i * D + 1] = (float)(3 - 2 * u); /* r = -1 */
		col[2][i] = x[i * D + 2] = 7.25f;		 /* constant */
		col[3][i] = x[i * D + 3] = (float)(u + v);
		col[4][i] = y[i] = u + 0.5 * gaussian() > 0 ? 1.f : 0.f;
	}
	double r[M * M];
	CHECK(metrics_correlation(r, x, y, N, D));
	CHECK_NEAR(r[0 * M + 0], 1, 1e-9);
	CHECK_NEAR(r[0 * M + 1], -1, 1e-6);
	CHECK_NEAR(r[1 * M + 0], -1, 1e-6);
	for (int j = 0; j < M; j++) {
		CHECK_MSG(isnan(r[2 * M + j]) && isnan(r[j * M + 2]),
			  "constant column 2 against %d: %g", j, r[2 * M + j]);
	}
	static const int pairs[][2] = { { 0, 3 }, { 0, 4 }, { 3, 4 },
					{ 1, 4 } };
	for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++) {
		int a = pairs[k][0], b = pairs[k][1];
		double want = pearson(col[a], col[b], N);
		CHECK_NEAR(r[a * M + b], want, 1e-6);
		CHECK_NEAR(r[b * M + a], want, 1e-6);
	}
	/* Without labels: dim × dim, the same values. */
	double r2[D * D];
	CHECK(metrics_correlation(r2, x, NULL, N, D));
	CHECK_NEAR(r2[0 * D + 3], r[0 * M + 3], 1e-12);
	/* Fewer than two rows: undefined everywhere. */
	CHECK(metrics_correlation(r, x, y, 1, D));
	for (int k = 0; k < M * M; k++)
		CHECK(isnan(r[k]));
}

/* --- PCA ---------------------------------------------------------------- */

/* Columns a, 10a + 5 (the same after standardising), a constant and c with
 * zero sample correlation with a: the standardised covariance has
 * eigenvalues 2 (a and 10a + 5 together), 1 (c) and 0; the constant drops
 * out. c_first puts c in column 0 instead of 3, so the components must be
 * found whatever their order. */
static void check_pca_known(bool c_first)
{
	enum { N = 8, D = 4 };
	static const float a[N] = { 1, -1, 1, -1, 1, -1, 1, -1 };
	static const float c[N] = { 1, 1, -1, -1, 1, 1, -1, -1 };
	int ca = c_first ? 1 : 0, cc = c_first ? 0 : 3;
	float x[N * D];
	for (int i = 0; i < N; i++) {
		x[i * D + ca] = a[i];
		x[i * D + ca + 1] = 10 * a[i] + 5;
		x[i * D + 2 + (c_first ? 1 : 0)] = 3;
		x[i * D + cc] = c[i];
	}
	double xy[N * 2], share[2];
	CHECK(metrics_pca(xy, share, x, N, D));
	CHECK_NEAR(share[0], 2.0 / 3, 1e-9);
	CHECK_NEAR(share[1], 1.0 / 3, 1e-9);
	double sd = sqrt(8.0 / 7);	/* sample deviation of ±1 */
	for (int i = 0; i < N; i++) {
		CHECK_NEAR(xy[2 * i], sqrt(2) * a[i] / sd, 1e-6);
		CHECK_NEAR(xy[2 * i + 1], c[i] / sd, 1e-6);
	}
	/* Too little data is refused. */
	CHECK(!metrics_pca(xy, share, x, 1, D));
	CHECK(!metrics_pca(xy, share, x, N, 0));
}

static void test_pca_known(void)
{
	check_pca_known(false);
	check_pca_known(true);
}

/* On correlated random data the first component is the direction of the
 * largest variance: no random direction in the standardised space beats it,
 * the second is uncorrelated with it, and the shares are the variances over
 * the trace. */
static void test_pca_maximises_variance(void)
{
	enum { N = 300, D = 6 };
	static float x[N * D];
	for (int i = 0; i < N; i++) {
		double u = gaussian(), v = gaussian();
		double raw[D] = { u, 2 * u + 0.3 * gaussian(), v,
				  v - u + 0.5 * gaussian(), gaussian(),
				  100 + 50 * (u + v) };
		for (int j = 0; j < D; j++)
			x[i * D + j] = (float)raw[j];
	}
	double xy[N * 2], share[2];
	if (!CHECK(metrics_pca(xy, share, x, N, D)))
		return;
	/* Standardise here, independently. */
	double mean[D] = { 0 }, sd[D] = { 0 };
	for (int j = 0; j < D; j++) {
		for (int i = 0; i < N; i++)
			mean[j] += x[i * D + j];
		mean[j] /= N;
		for (int i = 0; i < N; i++)
			sd[j] += pow(x[i * D + j] - mean[j], 2);
		sd[j] = sqrt(sd[j] / (N - 1));
	}
	double var[2] = { 0, 0 }, cross = 0;
	for (int i = 0; i < N; i++) {
		var[0] += xy[2 * i] * xy[2 * i] / (N - 1);
		var[1] += xy[2 * i + 1] * xy[2 * i + 1] / (N - 1);
		cross += xy[2 * i] * xy[2 * i + 1] / (N - 1);
	}
	CHECK(var[0] >= var[1]);
	CHECK_NEAR(cross / sqrt(var[0] * var[1]), 0, 1e-6);
	CHECK_NEAR(share[0], var[0] / D, 1e-6);
	CHECK_NEAR(share[1], var[1] / D, 1e-6);
	double best_random = 0;
	for (int t = 0; t < 200; t++) {
		double w[D], norm = 0, v = 0;
		for (int j = 0; j < D; j++) {
			w[j] = gaussian();
			norm += w[j] * w[j];
		}
		for (int i = 0; i < N; i++) {
			double p = 0;
			for (int j = 0; j < D; j++)
				p += (x[i * D + j] - mean[j]) / sd[j] * w[j];
			v += p * p / norm / (N - 1);
		}
		best_random = fmax(best_random, v);
	}
	CHECK_MSG(var[0] >= best_random - 1e-9,
		  "first component variance %g < random direction %g", var[0],
		  best_random);
	CHECK_MSG(var[0] > 2.0, "first component variance %g", var[0]);
}

/* --- a filled store ----------------------------------------------------- */

#define TRACKS 60
#define TRICKY_URI "weird/<b>&\"quote\" 'x'.flac"
#define TRICKY_ARTIST "AC<DC & \"Friends\""

/* What the test planted, to compare with the page. */
struct planted {
	int liked_tracks, disliked_tracks;	/* by latest label */
	int explore_liked, explore_judged;
	int exploit_liked, exploit_judged;
	int trainings;
};

/* fill_store adds a track far from all others too. */
static bool plant_outlier;

static void track_uri(char *buf, size_t size, int i)
{
	if (i == 7)
		snprintf(buf, size, "%s", TRICKY_URI);
	else
		snprintf(buf, size, "music/artist%d/track%02d.flac", i % 9, i);
}

static bool fill_store(struct store *s, struct planted *p)
{
	int dim = features_count();
	char uri[256];
	memset(p, 0, sizeof *p);
	if (!CHECK(store_sync_begin(s)))
		return false;
	for (int i = 0; i < TRACKS; i++) {
		char artist[64], title[64];
		track_uri(uri, sizeof uri, i);
		snprintf(artist, sizeof artist, "Artist %d", i % 9);
		snprintf(title, sizeof title, "Song %d", i);
		struct store_track_info t = {
			.uri = uri,
			.mtime = 1600000000 + i,
			.artist = i == 7 ? TRICKY_ARTIST : artist,
			.album = "Album",
			.title = title,
			.genre = "Test",
			.duration = 180 + i,
		};
		if (!CHECK(store_sync_track(s, &t)))
			return false;
	}
	/* One track far from all others in every feature: the map must keep
	 * the rest readable and draw it on its edge. */
	struct store_track_info odd = { .uri = "music/outlier.flac",
					.mtime = 1600000999, .title = "Odd",
					.duration = 200 };
	if (plant_outlier && !CHECK(store_sync_track(s, &odd)))
		return false;
	if (!CHECK(store_sync_end(s, NULL)))
		return false;

	/* Features: a hidden taste that loudness follows closely; the rest
	 * noise around plausible values. */
	float *v = malloc((size_t)dim * sizeof *v);
	double taste[TRACKS];
	for (int i = 0; i < TRACKS; i++) {
		taste[i] = gaussian();
		for (int j = 0; j < dim; j++)
			v[j] = (float)(j + gaussian());
		v[FEAT_LOUDNESS] = (float)(-14 + 3 * taste[i] +
					   0.3 * gaussian());
		v[FEAT_TEMPO] = (float)(120 + 20 * gaussian());
		track_uri(uri, sizeof uri, i);
		if (!CHECK(store_set_features(s, uri, FEATURES_VERSION, v, dim,
					      180 + i))) {
			free(v);
			return false;
		}
	}
	for (int j = 0; plant_outlier && j < dim; j++)
		v[j] = (float)(j + 1000);
	if (plant_outlier && !CHECK(store_set_features(s, odd.uri,
			FEATURES_VERSION, v, dim, 200))) {
		free(v);
		return false;
	}
	free(v);

	/* Events on the first 40 tracks, labelled by the taste; track 3 is
	 * liked and later disliked, track 5 liked and later banned, track 7
	 * (the tricky URI) liked. */
	int latest[TRACKS];
	for (int i = 0; i < TRACKS; i++)
		latest[i] = -1;
	double t0 = 1699000000;
	for (int i = 0; i < 40; i++) {
		int like = i == 3 || i == 5 || i == 7 ? 1 : taste[i] > 0;
		track_uri(uri, sizeof uri, i);
		struct store_event e = {
			.time = t0 + 600 * i,
			.uri = uri,
			.kind = like ? STORE_KIND_PLAYED : STORE_KIND_SKIPPED,
			.played = like ? 180 + i : 20,
			.duration = 180 + i,
			.label = like,
			.weight = 1,
			.source = "watch",
			.queued_by_us = i % 2 == 0,
		};
		if (!CHECK(store_add_event(s, &e)))
			return false;
		latest[i] = like;
	}
	struct store_event later[] = {
		{ .time = t0 + 40000, .kind = STORE_KIND_DISLIKE, .label = 0,
		  .weight = 2, .source = "channel" },
		{ .time = t0 + 40100, .kind = STORE_KIND_BAN, .label = 0,
		  .weight = 3, .source = "cli" },
		{ .time = t0 + 40200, .kind = STORE_KIND_UNLABELLED,
		  .label = -1, .weight = 0, .source = "<watch>" },
	};
	int later_track[] = { 3, 5, 50 };
	for (int k = 0; k < 3; k++) {
		track_uri(uri, sizeof uri, later_track[k]);
		later[k].uri = uri;
		later[k].duration = 200;
		if (!CHECK(store_add_event(s, &later[k])))
			return false;
		if (later[k].label >= 0)
			latest[later_track[k]] = later[k].label;
	}
	for (int i = 0; i < TRACKS; i++) {
		p->liked_tracks += latest[i] == 1;
		p->disliked_tracks += latest[i] == 0;
	}

	/* Picks: 12 on tracks 40..51, every third explored; outcomes by a
	 * fixed pattern, the last two heard without a label. */
	for (int k = 0; k < 12; k++) {
		track_uri(uri, sizeof uri, 40 + k);
		bool explored = k % 3 == 0;
		struct store_pick pk = { .time = t0 + 50000 + k, .uri = uri,
					 .score = 0.2 + 0.06 * k,
					 .uncertainty = 0.1,
					 .explored = explored,
					 .reason = "test" };
		if (!CHECK(store_add_pick(s, &pk, NULL)))
			return false;
		int outcome = k >= 10 ? -1 : k % 4 == 1 || k % 3 == 0;
		if (k == 3)
			outcome = 0;
		if (!CHECK(store_set_pick_outcome(s, uri, outcome)))
			return false;
		if (outcome < 0)
			continue;
		if (explored) {
			p->explore_judged++;
			p->explore_liked += outcome;
		} else {
			p->exploit_judged++;
			p->exploit_liked += outcome;
		}
	}

	/* Training reports over five days; one without validation. */
	for (int k = 0; k < 5; k++) {
		double val = k == 2 ? NAN : 0.55 + 0.05 * k;
		if (!CHECK(store_add_training(s, t0 + 86400.0 * k, 10 + 8 * k,
					      0.6 + 0.07 * k, val,
					      0.6 + 0.05 * k, 0.6)))
			return false;
		p->trainings++;
	}
	return true;
}

/* A fresh store's report says there is nothing yet and still is a page. */
static void test_report_empty(void)
{
	char err[512];
	struct store *s = store_open(path_for("empty"), err, sizeof err);
	if (!CHECK_MSG(s != NULL, "store_open: %s", err))
		return;
	char *html = report_string(s);
	store_close(s);
	if (!html)
		return;
	CHECK(strncmp(html, "<!DOCTYPE html>", 15) == 0);
	CHECK(strstr(html, "</html>\n") != NULL);
	CHECK(strstr(html, "No events yet") != NULL);
	CHECK(strstr(html, "No full retrain yet") != NULL);
	CHECK(strstr(html, "knows 0 analysed tracks") != NULL);
	CHECK(strstr(html, "<script") == NULL);
	CHECK(!has_nan(html));
	free(html);
}

/* The text between the first `from` and the next `to` after it, as a copy
 * the caller frees ("" when absent). */
static char *section(const char *html, const char *from, const char *to)
{
	const char *a = strstr(html, from);
	const char *b = a ? strstr(a, to) : NULL;
	if (!a || !b)
		return strdup("");
	return strndup(a, (size_t)(b - a));
}

static void test_report_full(void)
{
	char err[512];
	struct store *s = store_open(path_for("full"), err, sizeof err);
	if (!CHECK_MSG(s != NULL, "store_open: %s", err))
		return;
	struct planted p;
	bool filled = fill_store(s, &p);
	char *html = filled ? report_string(s) : NULL;
	store_close(s);
	if (!html)
		return;

	/* Self-contained: no scripts, nothing fetched, no URL at all (inline
	 * SVG in HTML needs no xmlns). */
	CHECK(strstr(html, "<script") == NULL);
	CHECK(strstr(html, "src=") == NULL);
	CHECK(strstr(html, "href=") == NULL);
	CHECK(strstr(html, "url(") == NULL);
	CHECK(strstr(html, "@import") == NULL);
	for (const char *q = html; (q = strstr(q, "http")); q += 4)
		CHECK_MSG(strncmp(q, "http-equiv", 10) == 0 ||
			  strncmp(q, "http://www.w3.org/2000/svg", 26) == 0,
			  "a URL in the page: %.40s", q);
	CHECK(strstr(html, "default-src 'none'") != NULL);

	/* A page read top to bottom: these sections, in this order. */
	static const char *const order[] = {
		"<h2>In short</h2>", "<h2>What it learned</h2>",
		"<h2>How its picks did</h2>",
		"<h2>Where your likes sit in the library</h2>",
		"<h2>What is uncertain, and why</h2>",
		"<h2>Recent events</h2>",
	};
	const char *at = html;
	for (size_t k = 0; k < sizeof order / sizeof *order; k++) {
		const char *q = strstr(at, order[k]);
		CHECK_MSG(q != NULL, "%s missing or out of order", order[k]);
		if (q)
			at = q;
	}
	/* Plots: the feature strips, the picks (two), the map, the learning
	 * curve; no 65 × 65 heat map any more. */
	CHECK_INT(count_of(html, "<svg"), 5);
	CHECK_INT(count_of(html, "<svg"), count_of(html, "</svg>"));
	CHECK(count_of(html, "<rect") < 40);
	CHECK(!has_nan(html));

	/* What it learned, in words: the planted taste (liked tracks are
	 * louder), with the sample it rests on. */
	CHECK(strstr(html, "You play to the end music that is louder") != NULL);
	CHECK(strstr(html, "liked: clearly louder") != NULL);
	CHECK(strstr(html, "unlikely to be chance") != NULL);
	char want[160];
	snprintf(want, sizeof want, "between the %d tracks you liked and the "
		 "%d you skipped", p.liked_tracks, p.disliked_tracks);
	CHECK_MSG(strstr(html, want) != NULL, "no '%s'", want);

	/* Learning curve by labels: one point per report and series, minus
	 * the missing validation, which the caption explains. */
	CHECK_INT(count_of(html, "fill=\"#1f77b4\"><title>"), p.trainings);
	CHECK_INT(count_of(html, "fill=\"#ff7f0e\"><title>"),
		  p.trainings - 1);
	CHECK(strstr(html, "1 retrain had too few labels to hold any out")
	      != NULL);

	/* The map: every track once, by its latest label; heard without a
	 * label is not "never heard". */
	char *map = section(html, "aria-label=\"map of the library\"",
			    "</svg>");
	CHECK_INT(count_of(map, "<circle"), TRACKS);
	free(map);
	snprintf(want, sizeof want, "liked (%d)", p.liked_tracks);
	CHECK_MSG(strstr(html, want) != NULL, "no '%s'", want);
	snprintf(want, sizeof want, "skipped or disliked (%d)",
		 p.disliked_tracks);
	CHECK_MSG(strstr(html, want) != NULL, "no '%s'", want);
	CHECK(strstr(html, "heard, no verdict (1)") != NULL);
	snprintf(want, sizeof want, "never heard (%d)",
		 TRACKS - p.liked_tracks - p.disliked_tracks - 1);
	CHECK_MSG(strstr(html, want) != NULL, "no '%s'", want);

	/* The picks: counts, and every judged pick as a point. */
	int judged = p.explore_judged + p.exploit_judged;
	snprintf(want, sizeof want, "%d of its %d judged picks pleased you",
		 p.explore_liked + p.exploit_liked, judged);
	CHECK_MSG(strstr(html, want) != NULL, "no '%s'", want);
	snprintf(want, sizeof want, "%d of them were tries outside what you "
		 "like, %d of those pleased", p.explore_judged,
		 p.explore_liked);
	CHECK_MSG(strstr(html, want) != NULL, "no '%s'", want);
	char *scores = section(html, "aria-label=\"the score of each pick",
			       "</svg>");
	CHECK_INT(count_of(scores, "<circle"), judged);
	free(scores);

	/* Escaping: the tricky URI, artist and source appear only escaped. */
	CHECK(strstr(html, TRICKY_URI) == NULL);
	CHECK(strstr(html, TRICKY_ARTIST) == NULL);
	CHECK(strstr(html, "<watch>") == NULL);
	CHECK(strstr(html, "weird/&lt;b&gt;&amp;&quot;quote&quot; "
			   "&#39;x&#39;.flac") != NULL);
	CHECK(strstr(html, "AC&lt;DC &amp; &quot;Friends&quot;") != NULL);
	CHECK(strstr(html, "&lt;watch&gt;") != NULL);
	CHECK(strstr(html, "<b>") == NULL);
	free(html);
}

/* One retrain without validation: a note that says why, not a plot of a
 * single dot. */
static void test_report_one_retrain(void)
{
	char err[512];
	struct store *s = store_open(path_for("one"), err, sizeof err);
	if (!CHECK_MSG(s != NULL, "store_open: %s", err))
		return;
	CHECK(store_add_training(s, 1699000000, 12, 0.9, NAN, NAN, NAN));
	char *html = report_string(s);
	store_close(s);
	if (!html)
		return;
	CHECK(strstr(html, "aria-label=\"learning curve\"") == NULL);
	CHECK(strstr(html, "1 full retrain so far, the last on 12 labels")
	      != NULL);
	CHECK(strstr(html, "There is no validation yet") != NULL);
	CHECK(!has_nan(html));
	free(html);
}

/* --- the command -------------------------------------------------------- */

static int run_report(const struct conf *c, const char *a1, const char *a2,
		      const char *a3)
{
	char *argv[5] = { "report", (char *)a1, (char *)a2, (char *)a3, NULL };
	int argc = 1 + (a1 != NULL) + (a1 && a2) + (a1 && a2 && a3);
	argv[argc] = NULL;
	return cmd_report(argc, argv, c);
}

/* Files in dir whose name starts with prefix. */
static int files_starting(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	if (d)
		closedir(d);
	return n;
}

static void test_cmd_report(void)
{
	struct conf c = { 0 };
	if (!CHECK(conf_defaults(&c)))
		return;
	free(c.data_directory);
	c.data_directory = strdup(path_for("cmd-data"));
	char *out = path_for("cmd-out");
	mkdir(out, 0755);
	char file[4200], missing[4200];
	snprintf(file, sizeof file, "%s/report.html", out);
	snprintf(missing, sizeof missing, "%s/no/such/dir/report.html", out);

	/* Usage errors: 2, nothing written. */
	CHECK_INT(run_report(&c, NULL, NULL, NULL), 2);
	CHECK_INT(run_report(&c, "--html", NULL, NULL), 2);
	CHECK_INT(run_report(&c, "--bogus", file, NULL), 2);
	CHECK_INT(run_report(&c, "--html", file, "extra"), 2);
	CHECK_INT(run_report(&c, "--html", "", NULL), 2);
	CHECK(access(file, F_OK) != 0);

	/* A file that cannot be written: 1. */
	CHECK_INT(run_report(&c, "--html", missing, NULL), 1);
	CHECK_INT(run_report(&c, "--html", out, NULL), 1);	/* a dir */
	CHECK_INT(files_starting(harness_tmpdir(), "cmd-out."), 0);
	CHECK_INT(files_starting(out, "report.html"), 0);

	/* Success, twice (the second replaces the first), with --html=. */
	CHECK(write_text(file, "old contents"));
	mode_t old = umask(022);
	CHECK_INT(run_report(&c, "--html", file, NULL), 0);
	umask(old);
	size_t size = 0;
	char *html = read_file(file, &size);
	CHECK(html && strncmp(html, "<!DOCTYPE html>", 15) == 0);
	CHECK(html && strstr(html, "</html>\n") && size > 1000);
	free(html);
	struct stat st;
	CHECK(stat(file, &st) == 0 && (st.st_mode & 0777) == 0644);
	char eq[4300];
	snprintf(eq, sizeof eq, "--html=%s", file);
	CHECK_INT(run_report(&c, eq, NULL, NULL), 0);
	CHECK_INT(files_starting(out, "report.html."), 0);
	CHECK_INT(files_starting(out, "report.html"), 1);

	/* "-" writes the page to stdout. */
	char *piped = path_for("cmd-stdout.html");
	fflush(stdout);
	int saved = dup(1), fd = open(piped, O_WRONLY | O_CREAT | O_TRUNC,
				      0600);
	if (CHECK(saved >= 0 && fd >= 0)) {
		dup2(fd, 1);
		close(fd);
		int rc = run_report(&c, "--html", "-", NULL);
		fflush(stdout);
		dup2(saved, 1);
		close(saved);
		CHECK_INT(rc, 0);
		html = read_file(piped, NULL);
		CHECK(html && strncmp(html, "<!DOCTYPE html>", 15) == 0 &&
		      strstr(html, "</html>\n"));
		free(html);
	}

	/* A data directory that is a file: the store cannot open, 1, and the
	 * old report stays. */
	char *bad = path_for("cmd-notadir");
	CHECK(write_text(bad, "x"));
	free(c.data_directory);
	c.data_directory = strdup(bad);
	CHECK(write_text(file, "kept"));
	CHECK_INT(run_report(&c, "--html", file, NULL), 1);
	html = read_file(file, NULL);
	CHECK(html && strcmp(html, "kept") == 0);
	free(html);
	CHECK_INT(files_starting(out, "report.html."), 0);
	conf_free(&c);
}

/* --- rendering ---------------------------------------------------------- */

/* The page as a listener sees it: headless Chromium at 1280 px. The page
 * runs no script, so a copy of it (without its Content Security Policy)
 * gets this one, which measures the laid-out page and writes what it found
 * into <pre id="mpdrec-check">, one finding per line: "FAIL ..." for a
 * fault. Chromium's --dump-dom then prints the DOM with it. */
static const char check_js[] =
	"<script>(function(){"
	"var out=[],de=document.documentElement;"
	"function bad(m){out.push('FAIL '+m);}"
	"function inside(b,r,t){return b.left>=r.left-t&&b.right<=r.right+t&&"
	"b.top>=r.top-t&&b.bottom<=r.bottom+t;}"
	"function meet(a,b){return a.left<b.right&&a.right>b.left&&"
	"a.top<b.bottom&&a.bottom>b.top;}"
	"out.push('width '+de.scrollWidth+' of '+de.clientWidth);"
	"if(de.scrollWidth>de.clientWidth||de.scrollWidth>1280)"
	"bad('the page is wider than the window: '+de.scrollWidth);"
	"var svgs=document.querySelectorAll('svg.plot');"
	"out.push('plots '+svgs.length);"
	"svgs.forEach(function(svg,i){"
	"var name=svg.getAttribute('aria-label'),"
	"sb=svg.getBoundingClientRect();"
	"var frames=[].map.call(svg.querySelectorAll('.frame'),"
	"function(f){return f.getBoundingClientRect();});"
	"var pts=svg.querySelectorAll('circle.pt'),outs=0;"
	"pts.forEach(function(c){var b=c.getBoundingClientRect(),"
	"x=(b.left+b.right)/2,y=(b.top+b.bottom)/2;"
	"outs+=c.classList.contains('out');"
	"if(!frames.some(function(r){return x>=r.left-.6&&x<=r.right+.6&&"
	"y>=r.top-.6&&y<=r.bottom+.6;}))"
	"bad(name+': a point at '+x+','+y+' outside the plot');});"
	"var boxes=[].map.call(pts,function(c){"
	"return c.getBoundingClientRect();});"
	"svg.querySelectorAll('text').forEach(function(t){"
	"var tb=t.getBoundingClientRect();"
	"if(!inside(tb,sb,1))bad(name+': text \"'+t.textContent+'\" cut off');"
	"if(boxes.some(function(b){return meet(tb,b);}))"
	"bad(name+': text \"'+t.textContent+'\" over a point');});"
	/* Not squashed: in every panel with 10 points or more, the middle
	 * 80% of them spans at least a sixth of it. */
	"frames.forEach(function(r){var xs=[],ys=[];"
	"pts.forEach(function(c,k){var b=boxes[k],x=(b.left+b.right)/2,"
	"y=(b.top+b.bottom)/2;if(!c.classList.contains('out')&&x>=r.left&&"
	"x<=r.right&&y>=r.top&&y<=r.bottom){xs.push(x);ys.push(y);}});"
	"if(xs.length<10)return;"
	"function span(a){a.sort(function(p,q){return p-q;});var n=a.length;"
	"return a[Math.floor(.9*(n-1))]-a[Math.floor(.1*(n-1))];}"
	"var sx=span(xs)/r.width,sy=span(ys)/r.height;"
	"if(sx<1/6||(r.height>=60&&sy<1/6))bad(name+': '+xs.length+"
	"' points squashed into '+Math.round(100*sx)+'% of the width, '+"
	"Math.round(100*sy)+'% of the height');});"
	"if(sb.right>de.clientWidth)bad(name+': ends at '+sb.right);"
	"out.push('plot '+name+': '+pts.length+' points, '+outs+"
	"' on the edge');"
	"});"
	"document.querySelectorAll('.legend').forEach(function(l){"
	"var b=l.getBoundingClientRect();svgs.forEach(function(svg){"
	"if(meet(b,svg.getBoundingClientRect()))bad('a legend covers '+"
	"svg.getAttribute('aria-label'));});});"
	"var pre=document.createElement('pre');pre.id='mpdrec-check';"
	"pre.textContent=out.join('\\n');document.body.appendChild(pre);"
	"})();</script>";

static const char chromium[] =
	"timeout 60 chromium --headless --no-sandbox --disable-gpu "
	"--disable-background-networking --disable-component-update "
	"--disable-sync --no-first-run --hide-scrollbars "
	"--force-device-scale-factor=1";

/* A copy of the page at html without its CSP and with check_js, laid out
 * by Chromium at 1280 px; returns check_js's findings (caller frees) or
 * NULL after a failed check. */
static char *layout_findings(const char *html, const char *name)
{
	char *page = read_file(html, NULL);
	if (!CHECK(page != NULL))
		return NULL;
	char copy[4200], dom[4200], profile[4200];
	snprintf(copy, sizeof copy, "%s/%s-checked.html", harness_tmpdir(),
		 name);
	snprintf(dom, sizeof dom, "%s/%s-dom.html", harness_tmpdir(), name);
	snprintf(profile, sizeof profile, "%s/%s-profile", harness_tmpdir(),
		 name);
	FILE *f = fopen(copy, "w");
	if (!CHECK(f != NULL)) {
		free(page);
		return NULL;
	}
	char *csp = strstr(page,
			   "<meta http-equiv=\"Content-Security-Policy\"");
	char *csp_end = csp ? strchr(csp, '>') : NULL;
	char *body_end = strstr(page, "</body>");
	if (!CHECK(csp_end && body_end)) {
		fclose(f);
		free(page);
		return NULL;
	}
	fwrite(page, 1, (size_t)(csp - page), f);
	fwrite(csp_end + 1, 1, (size_t)(body_end - csp_end - 1), f);
	fputs(check_js, f);
	fputs(body_end, f);
	fclose(f);
	free(page);
	int rc = harness_system("{ %s --user-data-dir='%s' --window-size=1280,"
				"2000 --dump-dom 'file://%s' > '%s'; }",
				chromium, profile, copy, dom);
	char *out = read_file(dom, NULL);
	const char *a = out ? strstr(out, "<pre id=\"mpdrec-check\">") : NULL;
	const char *b = a ? strstr(a, "</pre>") : NULL;
	if (!CHECK_MSG(rc == 0 && b, "chromium exited %d; no findings in %s",
		       rc, dom)) {
		free(out);
		return NULL;
	}
	a += strlen("<pre id=\"mpdrec-check\">");
	char *findings = strndup(a, (size_t)(b - a));
	free(out);
	return findings;
}

/* Pixels of a screenshot of the page at 1280 px. */
struct shot {
	int colours;		/* distinct colours */
	double ink;		/* share of pixels that are not white */
	int liked, disliked, train, val;	/* pixels of these colours */
};

#define SHOT_W 1280
#define SHOT_H 4200

static bool near_rgb(const unsigned char *px, unsigned rgb)
{
	return abs(px[0] - (int)(rgb >> 16)) <= 3 &&
	       abs(px[1] - (int)((rgb >> 8) & 0xff)) <= 3 &&
	       abs(px[2] - (int)(rgb & 0xff)) <= 3;
}

/* Screenshots html into png with Chromium, decodes it with ffmpeg and
 * describes it. */
static bool screenshot(const char *html, const char *png, struct shot *sh)
{
	char rgb[4300], profile[4300];
	snprintf(rgb, sizeof rgb, "%s.rgb", png);
	snprintf(profile, sizeof profile, "%s-profile", png);
	int rc = harness_system("%s --user-data-dir='%s' --screenshot='%s' "
				"--window-size=%d,%d 'file://%s'",
				chromium, profile, png, SHOT_W, SHOT_H, html);
	harness_system("rm -rf '%s'", profile);
	if (!CHECK_MSG(rc == 0 && access(png, F_OK) == 0,
		       "chromium exited %d, screenshot %s", rc, png))
		return false;
	rc = harness_system("ffmpeg -v error -y -i '%s' -f rawvideo "
			    "-pix_fmt rgb24 '%s'", png, rgb);
	if (!CHECK_MSG(rc == 0, "ffmpeg could not decode %s (exit %d)", png,
		       rc))
		return false;
	size_t size = 0;
	unsigned char *px = (unsigned char *)read_file(rgb, &size);
	unlink(rgb);
	if (!CHECK_MSG(px && size == (size_t)SHOT_W * SHOT_H * 3,
		       "%zu bytes of pixels, expected %d", size,
		       SHOT_W * SHOT_H * 3)) {
		free(px);
		return false;
	}
	unsigned char *seen = calloc(1u << 21, 1);	/* 2^24 bits */
	memset(sh, 0, sizeof *sh);
	size_t ink = 0;
	for (size_t i = 0; seen && i < size; i += 3) {
		unsigned c = (unsigned)px[i] << 16 | (unsigned)px[i + 1] << 8 |
			     px[i + 2];
		if (!(seen[c >> 3] & (1u << (c & 7)))) {
			seen[c >> 3] |= (unsigned char)(1u << (c & 7));
			sh->colours++;
		}
		ink += c != 0xffffff;
		sh->liked += near_rgb(px + i, 0x2ca02c);
		sh->disliked += near_rgb(px + i, 0xd62728);
		sh->train += near_rgb(px + i, 0x1f77b4);
		sh->val += near_rgb(px + i, 0xff7f0e);
	}
	sh->ink = (double)ink / (size / 3);
	free(seen);
	free(px);
	return true;
}

/* The finding line that starts with prefix, or NULL. */
static const char *finding(const char *findings, const char *prefix)
{
	for (const char *p = findings; p && *p;) {
		if (!strncmp(p, prefix, strlen(prefix)))
			return p;
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return NULL;
}

static void test_render_chromium(void)
{
	char err[512];
	struct store *s = store_open(path_for("render"), err, sizeof err);
	if (!CHECK_MSG(s != NULL, "store_open: %s", err))
		return;
	struct planted p;
	plant_outlier = true;
	bool filled = fill_store(s, &p);
	plant_outlier = false;
	char *html = filled ? report_string(s) : NULL;
	store_close(s);
	char *file = path_for("render.html");
	if (!html || !CHECK(write_text(file, html))) {
		free(html);
		return;
	}
	free(html);

	/* The layout: nothing wider than the window, every point inside its
	 * plot (the outlier on the edge), no text cut off, no legend over a
	 * plot. */
	char *found = layout_findings(file, "render");
	if (!found)
		return;
	printf("     chromium at 1280 px:\n");
	for (const char *q = found; *q;) {
		const char *eol = strchr(q, '\n');
		int len = eol ? (int)(eol - q) : (int)strlen(q);
		printf("       %.*s\n", len, q);
		q += len + (eol != NULL);
	}
	CHECK_MSG(!strstr(found, "FAIL"), "layout faults:\n%s", found);
	CHECK(finding(found, "plots 5") != NULL);
	/* The outlier on the edge; of the random others, a straggler or two
	 * may be too (how many depends on the draws and on the length of
	 * the feature vector), never many. */
	const char *map = finding(found, "plot map of the library: ");
	int points = 0, edge = 0;
	CHECK_MSG(map && sscanf(map, "plot map of the library: %d points, %d "
				"on the edge", &points, &edge) == 2,
		  "no map in\n%s", found);
	CHECK_INT(points, TRACKS + 1);
	CHECK_MSG(edge >= 1 && edge <= 1 + TRACKS / 20,
		  "%d of %d points on the edge", edge, points);
	free(found);

	/* The screenshot shows the plots' colours; kept where
	 * $MPDREC_SHOTS says, to be looked at. */
	const char *keep = getenv("MPDREC_SHOTS");
	char png[4200];
	snprintf(png, sizeof png, "%s/report-1280.png",
		 keep && *keep ? keep : harness_tmpdir());
	struct shot r;
	if (!screenshot(file, png, &r))
		return;
	if (keep && *keep)
		printf("     screenshot: %s\n", png);
	printf("     screenshot: %d colours, %.1f%% ink, pixels liked %d, "
	       "disliked %d, training %d, validation %d\n",
	       r.colours, 100 * r.ink, r.liked, r.disliked, r.train, r.val);
	CHECK_MSG(r.colours >= 50, "%d colours", r.colours);
	CHECK_MSG(r.ink > 0.02, "%.4f ink", r.ink);
	CHECK_MSG(r.liked >= 20 * p.liked_tracks, "liked pixels %d", r.liked);
	CHECK_MSG(r.disliked >= 20 * p.disliked_tracks, "disliked pixels %d",
		  r.disliked);
	CHECK_MSG(r.train >= 50 && r.val >= 50, "curve pixels %d, %d",
		  r.train, r.val);
}

static bool have(const char *program)
{
	return harness_system("command -v %s", program) == 0;
}

int main(void)
{
	RUN(test_escape);
	RUN(test_correlation);
	RUN(test_pca_known);
	RUN(test_pca_maximises_variance);
	RUN(test_report_empty);
	RUN(test_report_full);
	RUN(test_report_one_retrain);
	RUN(test_cmd_report);
	if (have("chromium"))
		RUN(test_render_chromium);
	else
		printf("skip test_render_chromium: chromium is not installed "
		       "(apt-get install chromium)\n");
	return harness_finish();
}
