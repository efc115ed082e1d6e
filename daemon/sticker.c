/* MPD stickers: myMPD's like/rating in, mpdrec_score out. See sticker.h. */
#include "daemon/sticker.h"

#include "core/store.h"
#include "core/util.h"
#include "daemon/learn.h"
#include "daemon/link.h"
#include "daemon/log.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <mpd/client.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* URIs longer than this are skipped (MPD's own limit is the path length). */
#define URI_MAX 4096

/* --- the rule ---------------------------------------------------------- */

/* A plain decimal integer of at most 3 digits, or -1. */
static int small_int(const char *v)
{
	if (!v || !*v || strlen(v) > 3)
		return -1;
	int n = 0;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (*p - '0');
	}
	return n;
}

/* myMPD's rating: 0 unset, 1..10; up to 3 dislike, from 7 like. */
static int rating_to_label(int rating)
{
	if (rating >= 7 && rating <= 10)
		return 1;
	if (rating >= 1 && rating <= 3)
		return 0;
	return -1;
}

int sticker_label(const char *name, const char *value)
{
	if (!name || !value)
		return -1;
	int v = small_int(value);
	if (!strcmp(name, "like"))
		return v == 2 ? 1 : v == 0 ? 0 : -1;
	if (!strcmp(name, "rating"))
		return rating_to_label(v);
	return -1;
}

int sticker_combine(int like_label, int rating_label)
{
	if (like_label == 0 || like_label == 1)
		return like_label;
	if (rating_label == 0 || rating_label == 1)
		return rating_label;
	return -1;
}

/* --- a table of URIs (open addressing, linear probing) ----------------- */

struct entry {
	char *uri;		/* owned; NULL: empty slot */
	float score;		/* what MPD holds, NaN: not known */
	signed char label;	/* last recorded sticker label, -1: none */
	signed char like;	/* while reading: the like sticker's label */
	signed char rating;	/* while reading: the rating (0..10), -1 */
	bool mark;		/* scratch */
};

struct table {
	struct entry *e;	/* n entries, in the order they were added */
	char **uri;		/* n: each entry's uri, the index's keys */
	size_t n, cap;
	struct util_index ix;	/* uri -> entry */
};

static struct entry *table_find(const struct table *t, const char *uri)
{
	int i = util_index_find(&t->ix, t->uri, uri);
	return i < 0 ? NULL : &t->e[i];
}

static bool table_grow(struct table *t)
{
	size_t cap = t->cap ? 2 * t->cap : 64;
	struct entry *e = realloc(t->e, cap * sizeof *e);
	if (e)
		t->e = e;
	char **u = realloc(t->uri, cap * sizeof *u);
	if (u)
		t->uri = u;
	if (!e || !u)
		return false;
	t->cap = cap;
	return true;
}

/* The entry of uri, added (score unknown, no label) if missing; NULL when
 * out of memory. Adding may move the entries: a pointer from an earlier
 * call is then stale. */
static struct entry *table_get(struct table *t, const char *uri)
{
	struct entry *e = table_find(t, uri);
	if (e)
		return e;
	if (t->n == t->cap && !table_grow(t))
		return NULL;
	char *copy = strdup(uri);
	if (!copy)
		return NULL;
	t->uri[t->n] = copy;
	if (!util_index_add(&t->ix, t->uri, (int)t->n)) {
		free(copy);
		return NULL;
	}
	t->e[t->n] = (struct entry){ .uri = copy, .score = NAN, .label = -1,
				     .like = -1, .rating = -1 };
	return &t->e[t->n++];
}

static void table_clear(struct table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->uri[i]);
	free(t->e);
	free(t->uri);
	util_index_free(&t->ix);
	*t = (struct table){ 0 };
}

/* --- reading ----------------------------------------------------------- */

/* Runs `sticker find song "" NAME` and calls fn(uri, value, ctx) for each
 * song. Returns the count, or -1 on an MPD error or when fn failed (out of
 * memory; the response is read to its end either way). */
static int find_each(struct mpd_connection *c, const char *name,
		     bool (*fn)(const char *uri, const char *value, void *ctx),
		     void *ctx)
{
	if (!mpd_send_sticker_find(c, "song", "", name))
		return -1;
	/* mpd_recv_sticker() skips the "file" lines: read the pairs. */
	char uri[URI_MAX];
	uri[0] = '\0';
	size_t name_len = strlen(name);
	int n = 0;
	bool failed = false;
	struct mpd_pair *p;
	while ((p = mpd_recv_pair(c))) {
		if (!strcmp(p->name, "file")) {
			size_t len = strlen(p->value);
			if (len < sizeof uri)
				memcpy(uri, p->value, len + 1);
			else
				uri[0] = '\0';
		} else if (!strcmp(p->name, "sticker") && uri[0]) {
			size_t len;
			const char *v = mpd_parse_sticker(p->value, &len);
			if (v && len == name_len &&
			    !memcmp(p->value, name, len)) {
				if (!failed && !fn(uri, v, ctx))
					failed = true;
				n++;
			}
			uri[0] = '\0';
		}
		mpd_return_pair(c, p);
	}
	if (!mpd_response_finish(c) || failed)
		return -1;
	return n;
}

static bool take_like(const char *uri, const char *value, void *ctx)
{
	int label = sticker_label("like", value);
	if (label < 0)
		return true;	/* neutral or garbage: no need to keep it */
	struct entry *e = table_get(ctx, uri);
	if (!e)
		return false;
	e->like = (signed char)label;
	return true;
}

static bool take_rating(const char *uri, const char *value, void *ctx)
{
	int r = small_int(value);
	if (r > 10)
		r = -1;
	if (r <= 0)
		return true;	/* unset or garbage: no need to keep it */
	struct entry *e = table_get(ctx, uri);
	if (!e)
		return false;
	e->rating = (signed char)r;
	return true;
}

static int entry_label(const struct entry *e)
{
	return sticker_combine(e->like, rating_to_label(e->rating));
}

static void entry_why(const struct entry *e, char *why, size_t size)
{
	if (e->like == 0 || e->like == 1)
		snprintf(why, size, "like=%d", e->like ? 2 : 0);
	else
		snprintf(why, size, "rating=%d", e->rating);
}

static int by_uri(const void *a, const void *b)
{
	return strcmp((*(struct entry *const *)a)->uri,
		      (*(struct entry *const *)b)->uri);
}

/* Reads both stickers into *t and lists the songs with a label, sorted by
 * URI, into *out (caller frees). Returns their number, or -1. */
static int read_labelled(struct mpd_connection *c, struct table *t,
			 struct entry ***out)
{
	*out = NULL;
	if (find_each(c, "like", take_like, t) < 0 ||
	    find_each(c, "rating", take_rating, t) < 0)
		return -1;
	struct entry **list = malloc((t->n ? t->n : 1) * sizeof *list);
	if (!list)
		return -1;
	int n = 0;
	for (size_t i = 0; i < t->n; i++)
		if (entry_label(&t->e[i]) >= 0)
			list[n++] = &t->e[i];
	qsort(list, (size_t)n, sizeof *list, by_uri);
	*out = list;
	return n;
}

int sticker_read_labels(struct mpd_connection *c, sticker_label_fn fn,
			void *ctx)
{
	assert(c && fn);
	struct table t = { 0 };
	struct entry **list;
	int n = read_labelled(c, &t, &list);
	for (int i = 0; i < n; i++) {
		char why[32];
		entry_why(list[i], why, sizeof why);
		if (!fn(list[i]->uri, entry_label(list[i]), why, ctx))
			break;
	}
	free(list);
	table_clear(&t);
	return n;
}

struct score_reader {
	void (*fn)(const char *uri, float score, void *ctx);
	void *ctx;
};

static bool take_score(const char *uri, const char *value, void *ctx)
{
	struct score_reader *r = ctx;
	char *end;
	float v = strtof(value, &end);
	if (end == value || *end || !(v >= 0.f && v <= 1.f))
		v = NAN;
	r->fn(uri, v, r->ctx);
	return true;
}

int sticker_read_scores(struct mpd_connection *c,
			void (*fn)(const char *uri, float score, void *ctx),
			void *ctx)
{
	assert(c && fn);
	struct score_reader r = { fn, ctx };
	return find_each(c, STICKER_SCORE_NAME, take_score, &r);
}

/* --- writing ----------------------------------------------------------- */

static void format_score(float v, char *buf, size_t size)
{
	v = v < 0.f ? 0.f : v > 1.f ? 1.f : v;
	snprintf(buf, size, "%.3f", (double)v);
}

int sticker_write_scores(struct mpd_connection *c, const char *const *uris,
			 const float *scores, int n, int max_per_list,
			 bool *written)
{
	assert(c && (n == 0 || (uris && scores)));
	assert(max_per_list >= 1 && max_per_list <= STICKER_MAX_PER_LIST);
	if (written)
		memset(written, 0, (size_t)(n > 0 ? n : 0) * sizeof *written);
	int done = 0, i = 0;
	while (i < n) {
		int idx[STICKER_MAX_PER_LIST], k = 0;
		for (; i < n && k < max_per_list; i++)
			if (!isnan(scores[i]))
				idx[k++] = i;
		if (k == 0)
			break;
		if (!mpd_command_list_begin(c, false))
			return -1;
		for (int j = 0; j < k; j++) {
			char value[16];
			format_score(scores[idx[j]], value, sizeof value);
			if (!mpd_send_sticker_set(c, "song", uris[idx[j]],
						  STICKER_SCORE_NAME, value))
				return -1;
		}
		if (!mpd_command_list_end(c))
			return -1;
		int ran = k;
		if (!mpd_response_finish(c)) {
			/* A song gone from MPD's database stops the list at
			 * its place: the ones before it were written. */
			if (mpd_connection_get_error(c) != MPD_ERROR_SERVER ||
			    mpd_connection_get_server_error(c) !=
				    MPD_SERVER_ERROR_NO_EXIST)
				return -1;
			unsigned at =
				mpd_connection_get_server_error_location(c);
			if (at >= (unsigned)k || !mpd_connection_clear_error(c))
				return -1;
			ran = (int)at;
			i = idx[at] + 1;	/* go on after the gone song */
		}
		for (int j = 0; j < ran; j++)
			if (written)
				written[idx[j]] = true;
		done += ran;
	}
	return done;
}

/* --- the daemon's state ------------------------------------------------ */

struct sticker {
	struct table t;		/* URI -> recorded label, score on MPD */
	int cursor;		/* where sticker_push_scores goes on */
	bool off;		/* MPD refused: until the next connect */
};

struct sticker *sticker_new(void)
{
	return calloc(1, sizeof(struct sticker));
}

void sticker_free(struct sticker *s)
{
	if (!s)
		return;
	table_clear(&s->t);
	free(s);
}

bool sticker_note_label(struct sticker *s, const char *uri, int label)
{
	assert(s && uri && label >= -1 && label <= 1);
	struct entry *e = table_get(&s->t, uri);
	if (!e)
		return false;
	e->label = (signed char)label;
	return true;
}

struct seeding {
	struct sticker *s;
	bool oom;
};

static bool seed_event(const struct store_event *ev, void *ctx)
{
	struct seeding *x = ctx;
	if (!ev->source || strcmp(ev->source, "sticker") ||
	    (ev->kind != STORE_KIND_LIKE && ev->kind != STORE_KIND_DISLIKE))
		return true;
	struct entry *e = table_get(&x->s->t, ev->uri);
	if (!e) {
		x->oom = true;
		return false;
	}
	/* Newest first: the first event of a URI is its last label. */
	if (!e->mark) {
		e->mark = true;
		e->label = ev->kind == STORE_KIND_LIKE ? 1 : 0;
	}
	return true;
}

bool sticker_seed(struct sticker *s, struct store *st)
{
	assert(s && st);
	for (size_t i = 0; i < s->t.n; i++)
		s->t.e[i].mark = false;
	struct seeding x = { s, false };
	bool ok = store_each_recent_event(st, INT_MAX, seed_event, &x);
	for (size_t i = 0; i < s->t.n; i++)
		s->t.e[i].mark = false;
	return ok && !x.oom;
}

int sticker_poll_labels(struct sticker *s, struct mpd_connection *c,
			sticker_label_fn fn, void *ctx)
{
	assert(s && c && fn);
	struct table now = { 0 };
	struct entry **list;
	int n = read_labelled(c, &now, &list);
	if (n < 0) {
		table_clear(&now);
		return -1;
	}
	/* Reserve first, so that recording cannot fail half-way. */
	for (int i = 0; i < n; i++) {
		if (!table_get(&s->t, list[i]->uri)) {
			free(list);
			table_clear(&now);
			return -1;
		}
	}
	int fresh = 0;
	for (int i = 0; i < n; i++) {
		struct entry *e = table_find(&s->t, list[i]->uri);
		int label = entry_label(list[i]);
		if (e->label == label)
			continue;
		char why[32];
		entry_why(list[i], why, sizeof why);
		fresh++;
		if (!fn(e->uri, label, why, ctx))
			break;	/* not recorded: comes again next time */
		e->label = (signed char)label;
	}
	/* Stickers gone or neutral: forget, so a new love counts again. */
	for (size_t i = 0; i < s->t.n; i++) {
		struct entry *e = &s->t.e[i];
		if (e->label < 0)
			continue;
		struct entry *cur = table_find(&now, e->uri);
		if (!cur || entry_label(cur) < 0)
			e->label = -1;
	}
	free(list);
	table_clear(&now);
	return fresh;
}

static void learn_score(const char *uri, float score, void *ctx)
{
	struct entry *e = table_get(ctx, uri);
	if (e)
		e->score = score;
}

int sticker_load_scores(struct sticker *s, struct mpd_connection *c)
{
	assert(s && c);
	for (size_t i = 0; i < s->t.n; i++)
		s->t.e[i].score = NAN;
	return sticker_read_scores(c, learn_score, &s->t);
}

/* The value MPD will hold once `v` is written. */
static float quantize(float v)
{
	v = v < 0.f ? 0.f : v > 1.f ? 1.f : v;
	return roundf(v * 1000.f) / 1000.f;
}

int sticker_push_scores(struct sticker *s, struct mpd_connection *c,
			const char *const *uris, const float *scores, int n,
			int budget, int *left)
{
	assert(s && c && (n == 0 || (uris && scores)) && budget >= 0);
	if (left)
		*left = 0;
	if (n <= 0 || budget == 0) {
		if (left && n > 0)
			*left = -1;	/* not looked at */
		return 0;
	}
	const char **u = malloc((size_t)budget * sizeof *u);
	float *v = malloc((size_t)budget * sizeof *v);
	bool *w = malloc((size_t)budget * sizeof *w);
	int rc = -1;
	if (!u || !v || !w)
		goto out;
	int start = s->cursor < n ? s->cursor : 0;
	int m = 0, differ = 0, next = start;
	for (int k = 0; k < n; k++) {
		int i = start + k < n ? start + k : start + k - n;
		if (isnan(scores[i]))
			continue;
		float q = quantize(scores[i]);
		const struct entry *e = table_find(&s->t, uris[i]);
		/* Half a step below, so 3-decimal rounding cannot hide one. */
		if (e && !isnan(e->score) &&
		    fabsf(q - e->score) < STICKER_SCORE_STEP - 5e-4f)
			continue;
		differ++;
		if (m < budget) {
			u[m] = uris[i];
			v[m] = q;
			m++;
			next = i + 1;
		}
	}
	int done = sticker_write_scores(c, u, v, m, m < STICKER_MAX_PER_LIST ?
				       (m ? m : 1) : STICKER_MAX_PER_LIST, w);
	/* Written, or skipped as gone from MPD (not tried again until its
	 * score moves). After an error only the written ones count. */
	int settled = 0;
	for (int j = 0; j < m; j++) {
		if (done < 0 && !w[j])
			continue;
		struct entry *e = table_get(&s->t, u[j]);
		if (e)
			e->score = v[j];
		settled++;
	}
	s->cursor = next < n ? next : 0;
	if (left)
		*left = differ - settled;
	rc = done;
out:
	free(u);
	free(v);
	free(w);
	return rc;
}

/* --- the daemon's calls ------------------------------------------------ */

/* After a call that failed: false when the connection is lost; else MPD
 * refused (link_check logged its words), and stickers go off. */
static bool refused(struct sticker *s, struct link *l, const char *what)
{
	if (!link_check(l, what, util_mono()))
		return false;
	s->off = true;
	log_warning("feedback.stickers: no stickers from this MPD until "
		    "mpdrec reconnects (does mpd.conf set sticker_file?)");
	return true;
}

bool sticker_on_connect(struct sticker *s, struct link *l,
			sticker_label_fn fn, void *ctx)
{
	assert(s && l && fn);
	s->off = false;
	struct mpd_connection *c = link_conn(l);
	if (!c)
		return false;
	int n = sticker_load_scores(s, c);
	if (n < 0)
		return refused(s, l, "reading the mpdrec_score stickers");
	log_debug("MPD holds %d mpdrec_score stickers", n);
	return sticker_on_change(s, l, fn, ctx);
}

bool sticker_on_change(struct sticker *s, struct link *l,
		       sticker_label_fn fn, void *ctx)
{
	assert(s && l && fn);
	struct mpd_connection *c = link_conn(l);
	if (!c)
		return false;
	if (s->off)
		return true;
	int n = sticker_poll_labels(s, c, fn, ctx);
	if (n < 0)
		return refused(s, l, "reading the like and rating stickers");
	if (n > 0)
		log_info("%d new like/rating sticker%s", n, n == 1 ? "" : "s");
	return true;
}

int sticker_after_fill(struct sticker *s, struct link *l,
		       struct learn *learn)
{
	assert(s && l && learn);
	struct mpd_connection *c = link_conn(l);
	if (!c)
		return -1;
	const float *mean, *spread;
	if (s->off || !learn_scores(learn, &mean, &spread))
		return 0;
	const struct store_library *lib = learn_library(learn);
	int left = 0;
	double t0 = util_mono();
	int n = sticker_push_scores(s, c, (const char *const *)lib->uri, mean,
				    lib->n, STICKER_PUSH_BUDGET, &left);
	if (n < 0)
		return refused(s, l, "writing mpdrec_score stickers") ? 0 : -1;
	if (n > 0)
		log_debug("wrote %d mpdrec_score stickers in %.0f ms, %d to go",
			  n, (util_mono() - t0) * 1e3, left);
	return left;
}
