/* daemon/sticker: the myMPD label rule on every value, then against a real
 * MPD with a sticker database: labels read (combined per song, URI order),
 * only new labels reported and a restart seeded from the store, scores
 * written in command lists (a gone song skipped, the rest written), read
 * back, pushed in bounded rounds and only when they moved; an MPD without
 * stickers is an error left on the connection, not a crash. */
#include "daemon/sticker.h"

#include <math.h>
#include <mpd/client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "conf/conf.h"
#include "core/store.h"
#include "daemon/learn.h"
#include "daemon/link.h"
#include "features/table.h"
#include "tests/lib/harness.h"
#include "tests/lib/mpdtest.h"

enum { N_SONGS = 12, RATE = 8000 };

static struct mpdtest mpd;
static bool mpd_ok;
static char songs[N_SONGS][24];	/* "s00.wav" ... */

/* --- the rule ---------------------------------------------------------- */

static void test_like_values(void)
{
	CHECK_INT(sticker_label("like", "0"), 0);	/* hate */
	CHECK_INT(sticker_label("like", "1"), -1);	/* neutral */
	CHECK_INT(sticker_label("like", "2"), 1);	/* love */
	static const char *const garbage[] = {
		"3", "10", "-1", "", " 2", "2 ", "2.0", "+2", "0x2", "two",
		"2\n", "1000", "22",
	};
	for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++)
		CHECK_MSG(sticker_label("like", garbage[i]) == -1,
			  "like=\"%s\" gives %d", garbage[i],
			  sticker_label("like", garbage[i]));
	CHECK_INT(sticker_label("like", NULL), -1);
}

static void test_rating_values(void)
{
	/* myMPD: 0 unset; up to 3 dislike, from 7 like, between none. */
	static const int want[11] = { -1, 0, 0, 0, -1, -1, -1, 1, 1, 1, 1 };
	for (int r = 0; r <= 10; r++) {
		char v[16];
		snprintf(v, sizeof v, "%d", r);
		CHECK_MSG(sticker_label("rating", v) == want[r],
			  "rating=%d gives %d, want %d", r,
			  sticker_label("rating", v), want[r]);
	}
	static const char *const garbage[] = {
		"11", "100", "1000", "-3", "", " 7", "7 ", "7.5", "+8", "0x9",
		"nine", "8a",
	};
	for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++)
		CHECK_MSG(sticker_label("rating", garbage[i]) == -1,
			  "rating=\"%s\" gives %d", garbage[i],
			  sticker_label("rating", garbage[i]));
	CHECK_INT(sticker_label("rating", NULL), -1);
}

static void test_other_names(void)
{
	CHECK_INT(sticker_label("Like", "2"), -1);
	CHECK_INT(sticker_label("RATING", "9"), -1);
	CHECK_INT(sticker_label("mpdrec_score", "1"), -1);
	CHECK_INT(sticker_label("playCount", "9"), -1);
	CHECK_INT(sticker_label("", "2"), -1);
	CHECK_INT(sticker_label(NULL, "2"), -1);
}

static void test_combine(void)
{
	/* like decides when it says love or hate, else rating. */
	static const int want[3][3] = {
		/* rating: -1  0   1 */
		{ -1, 0, 1 },	/* like -1 */
		{ 0, 0, 0 },	/* like 0 */
		{ 1, 1, 1 },	/* like 1 */
	};
	for (int l = -1; l <= 1; l++)
		for (int r = -1; r <= 1; r++)
			CHECK_MSG(sticker_combine(l, r) == want[l + 1][r + 1],
				  "combine(%d, %d) = %d", l, r,
				  sticker_combine(l, r));
}

/* --- against MPD ------------------------------------------------------- */

static struct mpd_connection *conn(void)
{
	struct mpd_connection *c = mpdtest_connect(&mpd);
	CHECK_MSG(c != NULL, "cannot connect to the test MPD");
	return c;
}

static void set(struct mpd_connection *c, const char *uri, const char *name,
		const char *value)
{
	if (!mpd_run_sticker_set(c, "song", uri, name, value))
		CHECK_MSG(false, "sticker set %s %s=%s: %s", uri, name, value,
			  mpd_connection_get_error_message(c));
}

static void del(struct mpd_connection *c, const char *uri, const char *name)
{
	if (!mpd_run_sticker_delete(c, "song", uri, name))
		CHECK_MSG(false, "sticker delete %s %s: %s", uri, name,
			  mpd_connection_get_error_message(c));
}

/* The value of a sticker into buf, or "" when the song has none. */
static const char *get(struct mpd_connection *c, const char *uri,
		       const char *name, char *buf, size_t size)
{
	buf[0] = '\0';
	if (!mpd_send_sticker_get(c, "song", uri, name))
		return buf;
	struct mpd_pair *p = mpd_recv_sticker(c);
	if (p) {
		snprintf(buf, size, "%s", p->value);
		mpd_return_sticker(c, p);
	}
	if (!mpd_response_finish(c)) {
		/* "no such sticker" is a server error to clear */
		CHECK(mpd_connection_get_error(c) == MPD_ERROR_SERVER);
		CHECK(mpd_connection_clear_error(c));
	}
	return buf;
}

static void clear_all(struct mpd_connection *c)
{
	char buf[64];
	for (int i = 0; i < N_SONGS; i++) {
		static const char *const names[] = { "like", "rating",
						     STICKER_SCORE_NAME };
		for (int j = 0; j < 3; j++)
			if (*get(c, songs[i], names[j], buf, sizeof buf))
				del(c, songs[i], names[j]);
	}
}

/* A connection to the test MPD with no sticker on any song; NULL (the
 * test returns) when MPD did not start or cannot be reached. */
static struct mpd_connection *begin(void)
{
	if (!mpd_ok)
		return NULL;
	struct mpd_connection *c = conn();
	if (c)
		clear_all(c);
	return c;
}

struct seen {
	int n;
	char uri[32][64];
	int label[32];
	char why[32][32];
	int stop_after;		/* fn returns false on this call, 0: never */
};

static bool collect(const char *uri, int label, const char *why, void *ctx)
{
	struct seen *s = ctx;
	if (s->n < 32) {
		snprintf(s->uri[s->n], sizeof s->uri[0], "%s", uri);
		s->label[s->n] = label;
		snprintf(s->why[s->n], sizeof s->why[0], "%s", why);
	}
	s->n++;
	return s->n != s->stop_after;
}

static int find(const struct seen *s, const char *uri)
{
	for (int i = 0; i < s->n && i < 32; i++)
		if (!strcmp(s->uri[i], uri))
			return i;
	return -1;
}

/* myMPD-style stickers on the songs; what each should read as. */
static void set_mympd(struct mpd_connection *c)
{
	set(c, songs[0], "like", "2");		/* love -> like */
	set(c, songs[1], "like", "0");		/* hate -> dislike */
	set(c, songs[2], "like", "1");		/* neutral -> none */
	set(c, songs[3], "rating", "8");	/* -> like */
	set(c, songs[4], "rating", "2");	/* -> dislike */
	set(c, songs[5], "rating", "5");	/* -> none */
	set(c, songs[6], "rating", "0");	/* unset -> none */
	set(c, songs[7], "like", "2");		/* love beats rating 1 */
	set(c, songs[7], "rating", "1");
	set(c, songs[8], "like", "1");		/* neutral: rating 9 decides */
	set(c, songs[8], "rating", "9");
	set(c, songs[9], "like", "yes");	/* garbage -> none */
	set(c, songs[10], "rating", "7.5");	/* garbage -> none */
	set(c, songs[11], STICKER_SCORE_NAME, "0.999");	/* not a label */
}

static void test_read_labels(void)
{
	struct mpd_connection *c = begin();
	if (!c)
		return;
	set_mympd(c);
	struct seen s = { 0 };
	int n = sticker_read_labels(c, collect, &s);
	CHECK_INT(n, 6);
	CHECK_INT(s.n, 6);
	static const struct {
		int song, label;
		const char *why;
	} want[] = {
		{ 0, 1, "like=2" }, { 1, 0, "like=0" }, { 3, 1, "rating=8" },
		{ 4, 0, "rating=2" }, { 7, 1, "like=2" }, { 8, 1, "rating=9" },
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		int k = find(&s, songs[want[i].song]);
		if (!CHECK_MSG(k >= 0, "%s not reported", songs[want[i].song]))
			continue;
		CHECK_INT(s.label[k], want[i].label);
		CHECK_STR(s.why[k], want[i].why);
	}
	/* In URI order. */
	for (int i = 1; i < s.n && i < 32; i++)
		CHECK(strcmp(s.uri[i - 1], s.uri[i]) < 0);
	/* Stopping early still counts them all. */
	struct seen one = { .stop_after = 1 };
	CHECK_INT(sticker_read_labels(c, collect, &one), 6);
	CHECK_INT(one.n, 1);
	CHECK(mpd_connection_get_error(c) == MPD_ERROR_SUCCESS);
	mpd_connection_free(c);
}

static void test_poll_reports_only_new_labels(void)
{
	struct mpd_connection *c = begin();
	if (!c)
		return;
	set_mympd(c);
	struct sticker *st = sticker_new();
	if (!CHECK(st != NULL))
		return;
	struct seen s = { 0 };
	CHECK_INT(sticker_poll_labels(st, c, collect, &s), 6);
	CHECK_INT(s.n, 6);
	s = (struct seen){ 0 };
	CHECK_INT(sticker_poll_labels(st, c, collect, &s), 0);
	CHECK_INT(s.n, 0);

	/* Hate turned to love: a new label. A rating that moves within
	 * "like" is not. */
	set(c, songs[1], "like", "2");
	set(c, songs[3], "rating", "10");
	s = (struct seen){ 0 };
	CHECK_INT(sticker_poll_labels(st, c, collect, &s), 1);
	CHECK_STR(s.uri[0], songs[1]);
	CHECK_INT(s.label[0], 1);

	/* A love taken back is forgotten silently; given again, it counts. */
	del(c, songs[0], "like");
	s = (struct seen){ 0 };
	CHECK_INT(sticker_poll_labels(st, c, collect, &s), 0);
	set(c, songs[0], "like", "2");
	s = (struct seen){ 0 };
	CHECK_INT(sticker_poll_labels(st, c, collect, &s), 1);
	CHECK_STR(s.uri[0], songs[0]);
	/* Neutral is "taken back" too. */
	set(c, songs[0], "like", "1");
	CHECK_INT(sticker_poll_labels(st, c, collect, &s), 0);
	set(c, songs[0], "like", "0");
	s = (struct seen){ 0 };
	CHECK_INT(sticker_poll_labels(st, c, collect, &s), 1);
	CHECK_INT(s.label[0], 0);

	/* A callback that cannot record stops; the rest come next time. */
	struct sticker *fresh = sticker_new();
	struct seen part = { .stop_after = 2 };
	CHECK_INT(sticker_poll_labels(fresh, c, collect, &part), 2);
	CHECK_INT(part.n, 2);
	struct seen rest = { 0 };
	CHECK_INT(sticker_poll_labels(fresh, c, collect, &rest), 5);
	CHECK_INT(find(&rest, part.uri[0]), -1);	/* it was recorded */
	CHECK(find(&rest, part.uri[1]) >= 0);		/* it was not */
	sticker_free(fresh);
	sticker_free(st);
	mpd_connection_free(c);
}

static bool add_event(struct store *db, const char *uri, enum store_kind k,
		      const char *source, double t)
{
	struct store_event e = {
		.time = t, .uri = uri, .kind = k,
		.label = k == STORE_KIND_LIKE ? 1 : 0, .weight = 2,
		.source = source,
	};
	return CHECK_MSG(store_add_event(db, &e), "%s", store_error(db));
}

static void test_seed_from_store(void)
{
	struct mpd_connection *c = begin();
	if (!c)
		return;
	set_mympd(c);
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/data", harness_tmpdir());
	char err[512];
	struct store *db = store_open(dir, err, sizeof err);
	if (!CHECK_MSG(db != NULL, "%s", err))
		return;
	/* Recorded by an earlier run: song 3 liked; song 4 liked, then
	 * disliked (newest counts); song 1 liked (the sticker now says hate);
	 * song 0 liked on the channel (not a sticker event). */
	add_event(db, songs[3], STORE_KIND_LIKE, "sticker", 100);
	add_event(db, songs[4], STORE_KIND_LIKE, "sticker", 101);
	add_event(db, songs[4], STORE_KIND_DISLIKE, "sticker", 102);
	add_event(db, songs[1], STORE_KIND_LIKE, "sticker", 103);
	add_event(db, songs[0], STORE_KIND_LIKE, "channel", 104);
	struct sticker *st = sticker_new();
	CHECK(sticker_seed(st, db));
	struct seen s = { 0 };
	CHECK_INT(sticker_poll_labels(st, c, collect, &s), 4);
	CHECK(find(&s, songs[3]) < 0);
	CHECK(find(&s, songs[4]) < 0);
	CHECK(find(&s, songs[0]) >= 0);
	CHECK(find(&s, songs[7]) >= 0);
	CHECK(find(&s, songs[8]) >= 0);
	int k = find(&s, songs[1]);
	if (CHECK(k >= 0))
		CHECK_INT(s.label[k], 0);
	/* sticker_note_label does the same for one URI. */
	struct sticker *n2 = sticker_new();
	CHECK(sticker_note_label(n2, songs[7], 1));
	CHECK(sticker_note_label(n2, songs[8], 0));	/* now says like */
	s = (struct seen){ 0 };
	CHECK_INT(sticker_poll_labels(n2, c, collect, &s), 5);
	CHECK(find(&s, songs[7]) < 0);
	CHECK(find(&s, songs[8]) >= 0);
	sticker_free(n2);
	sticker_free(st);
	store_close(db);
	mpd_connection_free(c);
}

static void take(const char *uri, float score, void *ctx);

static void test_write_and_read_scores(void)
{
	struct mpd_connection *c = begin();
	if (!c)
		return;
	const char *uris[] = { songs[0], songs[1], "gone.wav", songs[2],
			       songs[3], songs[4] };
	const float scores[] = { 0.8734f, -0.5f, 0.3f, 1.7f, NAN, 0.25f };
	bool written[6];
	/* Lists of 2: the gone song stops its list after songs[1] (2nd
	 * list holds "gone.wav" and songs[2]); songs[2] is sent again. */
	int n = sticker_write_scores(c, uris, scores, 6, 2, written);
	CHECK_INT(n, 4);
	CHECK(mpd_connection_get_error(c) == MPD_ERROR_SUCCESS);
	static const bool want_w[] = { true, true, false, true, false, true };
	for (int i = 0; i < 6; i++)
		CHECK_MSG(written[i] == want_w[i], "written[%d]", i);
	char buf[64];
	CHECK_STR(get(c, songs[0], STICKER_SCORE_NAME, buf, sizeof buf),
		  "0.873");
	CHECK_STR(get(c, songs[1], STICKER_SCORE_NAME, buf, sizeof buf),
		  "0.000");
	CHECK_STR(get(c, songs[2], STICKER_SCORE_NAME, buf, sizeof buf),
		  "1.000");
	CHECK_STR(get(c, songs[3], STICKER_SCORE_NAME, buf, sizeof buf), "");
	CHECK_STR(get(c, songs[4], STICKER_SCORE_NAME, buf, sizeof buf),
		  "0.250");
	/* One list for all, the gone song in the middle. */
	const char *u2[] = { songs[5], "gone.wav", songs[6] };
	const float s2[] = { 0.5f, 0.1f, 0.625f };
	CHECK_INT(sticker_write_scores(c, u2, s2, 3, STICKER_MAX_PER_LIST,
				       written), 2);
	CHECK(written[0] && !written[1] && written[2]);
	CHECK_STR(get(c, songs[5], STICKER_SCORE_NAME, buf, sizeof buf),
		  "0.500");
	CHECK_STR(get(c, songs[6], STICKER_SCORE_NAME, buf, sizeof buf),
		  "0.625");

	/* Read back, with a value another client spoiled. */
	set(c, songs[7], STICKER_SCORE_NAME, "high");
	set(c, songs[8], STICKER_SCORE_NAME, "1.5");
	float got[N_SONGS];
	for (int i = 0; i < N_SONGS; i++)
		got[i] = -1;
	CHECK_INT(sticker_read_scores(c, take, got), 8);
	static const float want[N_SONGS] = {
		0.873f, 0, 1, -1, 0.25f, 0.5f, 0.625f, NAN, NAN, -1, -1, -1,
	};
	for (int i = 0; i < N_SONGS; i++) {
		if (isnan(want[i]))
			CHECK_MSG(isnan(got[i]), "%s: %g, want NaN", songs[i],
				  (double)got[i]);
		else
			CHECK_NEAR(got[i], want[i], 1e-6);
	}
	mpd_connection_free(c);
}

static void take(const char *uri, float score, void *ctx)
{
	float *got = ctx;
	int i;
	if (sscanf(uri, "s%d.wav", &i) == 1 && i >= 0 && i < N_SONGS)
		got[i] = score;
}

/* Every song with a score of base + step · its number. */
static void every_song(const char **uris, float *scores, float base,
		       float step)
{
	for (int i = 0; i < N_SONGS; i++) {
		uris[i] = songs[i];
		scores[i] = base + step * (float)i;
	}
}

static void read_all(struct mpd_connection *c, float *got)
{
	for (int i = 0; i < N_SONGS; i++)
		got[i] = -1;
	sticker_read_scores(c, take, got);
}

static void test_push_in_rounds(void)
{
	struct mpd_connection *c = begin();
	if (!c)
		return;
	const char *uris[N_SONGS];
	float scores[N_SONGS];
	every_song(uris, scores, 0.05f, 0.07f);
	scores[9] = NAN;	/* not scored: never written */
	struct sticker *st = sticker_new();
	int left = -2;
	/* 11 to write, 5 a round. */
	CHECK_INT(sticker_push_scores(st, c, uris, scores, N_SONGS, 5, &left),
		  5);
	CHECK_INT(left, 6);
	CHECK_INT(sticker_push_scores(st, c, uris, scores, N_SONGS, 5, &left),
		  5);
	CHECK_INT(left, 1);
	CHECK_INT(sticker_push_scores(st, c, uris, scores, N_SONGS, 5, &left),
		  1);
	CHECK_INT(left, 0);
	CHECK_INT(sticker_push_scores(st, c, uris, scores, N_SONGS, 5, &left),
		  0);
	CHECK_INT(left, 0);
	float got[N_SONGS];
	read_all(c, got);
	for (int i = 0; i < N_SONGS; i++) {
		if (i == 9)
			CHECK_NEAR(got[i], -1, 0);
		else
			CHECK_NEAR(got[i], scores[i], 5e-4);
	}
	/* Small moves are not written; a step is. */
	scores[2] += 0.004f;
	scores[4] += 0.02f;
	scores[6] -= 0.011f;
	CHECK_INT(sticker_push_scores(st, c, uris, scores, N_SONGS, 5, &left),
		  2);
	CHECK_INT(left, 0);
	read_all(c, got);
	CHECK_NEAR(got[2], scores[2] - 0.004f, 5e-4);
	CHECK_NEAR(got[4], scores[4], 5e-4);
	CHECK_NEAR(got[6], scores[6], 5e-4);

	/* A new state that read what MPD holds writes nothing; one that did
	 * not writes everything again. */
	struct sticker *again = sticker_new();
	CHECK_INT(sticker_load_scores(again, c), 11);
	CHECK_INT(sticker_push_scores(again, c, uris, scores, N_SONGS, 100,
				      &left), 0);
	/* Another client changed one: after a reload it is put right. */
	set(c, songs[5], STICKER_SCORE_NAME, "0.999");
	CHECK_INT(sticker_load_scores(again, c), 11);
	CHECK_INT(sticker_push_scores(again, c, uris, scores, N_SONGS, 100,
				      &left), 1);
	read_all(c, got);
	CHECK_NEAR(got[5], scores[5], 5e-4);
	struct sticker *blank = sticker_new();
	CHECK_INT(sticker_push_scores(blank, c, uris, scores, N_SONGS, 100,
				      &left), 11);
	/* A budget of 0 writes nothing. */
	CHECK_INT(sticker_push_scores(blank, c, uris, scores, N_SONGS, 0,
				      NULL), 0);
	sticker_free(blank);
	sticker_free(again);
	sticker_free(st);
	mpd_connection_free(c);
}

/* Every song gets its turn although each round stops at the budget and
 * the same few keep changing. */
static void test_push_goes_round(void)
{
	struct mpd_connection *c = begin();
	if (!c)
		return;
	const char *uris[N_SONGS];
	float scores[N_SONGS];
	every_song(uris, scores, 0.5f, 0);
	struct sticker *st = sticker_new();
	int rounds = 0, left = 1;
	while (left > 0 && rounds < 20) {
		int n = sticker_push_scores(st, c, uris, scores, N_SONGS, 3,
					    &left);
		CHECK_MSG(n == (left > 0 ? 3 : n) && n > 0, "wrote %d, %d left",
			  n, left);
		/* the first songs move on every round */
		scores[0] += 0.05f;
		scores[1] += 0.05f;
		rounds++;
	}
	CHECK_MSG(rounds <= 5, "%d rounds", rounds);
	float got[N_SONGS];
	read_all(c, got);
	for (int i = 2; i < N_SONGS; i++)
		CHECK_MSG(got[i] >= 0, "%s never written", songs[i]);
	sticker_free(st);
	mpd_connection_free(c);
}

static struct link *open_link(void)
{
	struct link_params p = {
		.host = "127.0.0.1", .port = mpd.port, .timeout_ms = 5000,
	};
	struct link *l = link_new(&p);
	if (l && !link_connect(l, 0)) {
		link_free(l);
		l = NULL;
	}
	CHECK_MSG(l != NULL, "no link to the test MPD");
	return l;
}

/* A learner over a store whose library is the test songs (features made
 * up; one song left unanalysed): its scores are what gets written. */
static struct learn *open_learner(struct store **db, struct conf *cf)
{
	char dir[4200], err[512];
	snprintf(dir, sizeof dir, "%s/glue-data", harness_tmpdir());
	*db = store_open(dir, err, sizeof err);
	if (!CHECK_MSG(*db != NULL, "%s", err))
		return NULL;
	CHECK(store_sync_begin(*db));
	for (int i = 0; i < N_SONGS; i++) {
		struct store_track_info t = { .uri = songs[i], .mtime = 1,
					      .duration = 0.1 };
		CHECK(store_sync_track(*db, &t));
	}
	CHECK(store_sync_end(*db, NULL));
	int dim = features_count();
	float *v = malloc((size_t)dim * sizeof *v);
	for (int i = 0; v && i < N_SONGS - 1; i++) {
		for (int j = 0; j < dim; j++)
			v[j] = (float)((i * 7 + j * 3) % 11) - 5.f;
		CHECK(store_set_features(*db, songs[i], FEATURES_VERSION, v,
					 dim, 0.1));
	}
	free(v);
	conf_defaults(cf);
	struct learn *l = learn_new(*db, cf, -1, err, sizeof err);
	CHECK_MSG(l != NULL, "%s", err);
	return l;
}

/* The daemon's three calls: labels on connect and on change, scores after
 * a fill, through the link and the learner. */
static void test_daemon_calls(void)
{
	struct mpd_connection *c = begin();
	if (!c)
		return;
	set_mympd(c);
	set(c, songs[11], STICKER_SCORE_NAME, "0.5");
	struct link *l = open_link();
	struct store *db = NULL;
	struct conf cf = { 0 };
	struct learn *learn = open_learner(&db, &cf);
	struct sticker *st = sticker_new();
	if (!l || !learn || !st)
		goto out;
	struct seen s = { 0 };
	CHECK(sticker_on_connect(st, l, collect, &s));
	CHECK_INT(s.n, 6);
	s = (struct seen){ 0 };
	CHECK(sticker_on_change(st, l, collect, &s));
	CHECK_INT(s.n, 0);
	set(c, songs[5], "rating", "9");
	CHECK(sticker_on_change(st, l, collect, &s));
	CHECK_INT(s.n, 1);
	CHECK_STR(s.uri[0], songs[5]);

	/* Scores: the learner's, for the 11 analysed songs. */
	const float *mean, *spread;
	if (!CHECK(learn_scores(learn, &mean, &spread)))
		goto out;
	const struct store_library *lib = learn_library(learn);
	CHECK_INT(lib->n, N_SONGS - 1);
	CHECK_INT(sticker_after_fill(st, l, learn), 0);
	float got[N_SONGS];
	read_all(c, got);
	for (int i = 0; i < lib->n; i++) {
		int k;
		if (CHECK(sscanf(lib->uri[i], "s%d.wav", &k) == 1 &&
			  k >= 0 && k < N_SONGS))
			CHECK_NEAR(got[k], mean[i], 5e-4);
	}
	/* songs[11] has no vector: its sticker is another client's, kept. */
	CHECK_NEAR(got[11], 0.5, 1e-6);
	CHECK(link_up(l));
out:
	sticker_free(st);
	learn_free(learn);
	store_close(db);
	conf_free(&cf);
	link_free(l);
	mpd_connection_free(c);
}

/* Without a sticker_file MPD has no "sticker" command: every call fails
 * with a server error the caller can clear. */
static void test_mpd_without_stickers(void)
{
	if (!mpd_ok)
		return;
	char conf[4200];
	snprintf(conf, sizeof conf, "%s/mpd.conf", mpd.dir);
	if (!CHECK(harness_system("sed -i.orig '/^sticker_file/d' '%s'",
				  conf) == 0))
		return;
	bool up = mpdtest_restart(&mpd);
	CHECK(up);
	struct mpd_connection *c = up ? conn() : NULL;
	if (c) {
		struct seen s = { 0 };
		CHECK_INT(sticker_read_labels(c, collect, &s), -1);
		CHECK(mpd_connection_get_error(c) == MPD_ERROR_SERVER);
		CHECK(mpd_connection_clear_error(c));
		struct sticker *st = sticker_new();
		CHECK_INT(sticker_poll_labels(st, c, collect, &s), -1);
		CHECK(mpd_connection_clear_error(c));
		CHECK_INT(sticker_load_scores(st, c), -1);
		CHECK(mpd_connection_clear_error(c));
		const char *u[] = { songs[0] };
		const float v[] = { 0.5f };
		CHECK_INT(sticker_push_scores(st, c, u, v, 1, 10, NULL), -1);
		CHECK(mpd_connection_get_error(c) == MPD_ERROR_SERVER);
		CHECK(mpd_connection_clear_error(c));
		CHECK_INT(s.n, 0);
		/* The daemon's calls turn stickers off and keep the link. */
		struct link *l = open_link();
		if (l) {
			CHECK(sticker_on_connect(st, l, collect, &s));
			CHECK(link_up(l));
			CHECK(sticker_on_change(st, l, collect, &s));
			CHECK(link_up(l));
			CHECK_INT(s.n, 0);
			link_free(l);
		}
		/* The connection still works. */
		struct mpd_status *status = mpd_run_status(c);
		CHECK(status != NULL);
		if (status)
			mpd_status_free(status);
		sticker_free(st);
		mpd_connection_free(c);
	}
	harness_system("mv '%s.orig' '%s'", conf, conf);
	mpd_ok = mpdtest_restart(&mpd);
}

/* A dropped connection is an error too. */
static void test_closed_connection(void)
{
	if (!mpd_ok)
		return;
	struct mpd_connection *c = conn();
	if (!c)
		return;
	struct link *l = open_link();
	mpdtest_kill(&mpd);
	struct seen s = { 0 };
	if (l) {
		struct sticker *st = sticker_new();
		CHECK(!sticker_on_change(st, l, collect, &s));
		CHECK(!link_up(l));
		sticker_free(st);
		link_free(l);
	}
	CHECK_INT(sticker_read_labels(c, collect, &s), -1);
	CHECK(mpd_connection_get_error(c) != MPD_ERROR_SUCCESS);
	CHECK(!mpd_connection_clear_error(c));
	mpd_connection_free(c);
	mpd_ok = false;
}

static bool start_mpd(void)
{
	char root[4200], path[4500];
	snprintf(root, sizeof root, "%s/mpd", harness_tmpdir());
	mkdir(root, 0700);
	snprintf(path, sizeof path, "%s/music", root);
	mkdir(path, 0700);
	/* Written before MPD starts: its start-up scan finds them whole. */
	float pcm[RATE / 10];
	for (int i = 0; i < N_SONGS; i++) {
		for (int j = 0; j < RATE / 10; j++)
			pcm[j] = 0.3f * sinf(0.05f * (float)(j * (i + 1)));
		snprintf(songs[i], sizeof songs[i], "s%02d.wav", i);
		snprintf(path, sizeof path, "%s/music/%s", root, songs[i]);
		if (!harness_write_wav(path, pcm, RATE / 10, 1, RATE))
			return false;
	}
	if (!mpdtest_start(&mpd, root) || !mpdtest_update(&mpd))
		return false;
	struct mpd_connection *c = mpdtest_connect(&mpd);
	if (!c)
		return false;
	struct mpd_stats *st = mpd_run_stats(c);
	unsigned n = st ? mpd_stats_get_number_of_songs(st) : 0;
	if (st)
		mpd_stats_free(st);
	mpd_connection_free(c);
	return n == N_SONGS;
}

int main(void)
{
	RUN(test_like_values);
	RUN(test_rating_values);
	RUN(test_other_names);
	RUN(test_combine);
	mpd_ok = start_mpd();
	CHECK_MSG(mpd_ok, "no test MPD with %d songs", N_SONGS);
	RUN(test_read_labels);
	RUN(test_poll_reports_only_new_labels);
	RUN(test_seed_from_store);
	RUN(test_write_and_read_scores);
	RUN(test_push_in_rounds);
	RUN(test_push_goes_round);
	RUN(test_daemon_calls);
	RUN(test_mpd_without_stickers);
	RUN(test_closed_connection);
	mpdtest_stop(&mpd);
	return harness_finish();
}
