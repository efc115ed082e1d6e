/* Tests of core/store against a real SQLite file in harness_tmpdir(): round
 * trips of every record kind, sync rules, migrations, permissions, corrupt
 * and full and read-only databases, and a SIGKILL crash test. */
#include "core/store.h"
#include "tests/lib/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --- helpers ------------------------------------------------------------ */

static char *dir_for(const char *name)
{
	static char buf[8][4096];
	static int next;
	char *d = buf[next++ % 8];
	snprintf(d, sizeof buf[0], "%s/%s", harness_tmpdir(), name);
	return d;
}

static struct store *open_or_fail(const char *dir)
{
	char err[512];
	struct store *s = store_open(dir, err, sizeof err);
	CHECK_MSG(s != NULL, "store_open(%s): %s", dir, err);
	return s;
}

/* A second, plain SQLite connection to look at what the store wrote. */
static sqlite3 *raw_open(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/mpdrec.db", dir);
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		CHECK_MSG(false, "sqlite3_open %s: %s", path,
			  db ? sqlite3_errmsg(db) : "?");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static long long raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -9999;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		CHECK_MSG(false, "%s: %s", sql, sqlite3_errmsg(db));
		return v;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static bool raw_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	CHECK_MSG(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
	sqlite3_free(msg);
	return rc == SQLITE_OK;
}

static bool contains(const char *hay, const char *needle)
{
	return hay && strstr(hay, needle) != NULL;
}

static int file_mode(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

static void sync_tracks(struct store *s, const struct store_track_info *t,
			int n, int *gone)
{
	CHECK(store_sync_begin(s));
	for (int i = 0; i < n; i++)
		CHECK_MSG(store_sync_track(s, &t[i]), "%s", store_error(s));
	CHECK_MSG(store_sync_end(s, gone), "%s", store_error(s));
}

struct strs {
	int n;
	char v[64][128];
};

static bool collect_uri(const char *uri, void *ctx)
{
	struct strs *a = ctx;
	if (a->n < 64)
		snprintf(a->v[a->n++], sizeof a->v[0], "%s", uri);
	return true;
}

static bool stop_after_one(const char *uri, void *ctx)
{
	(void)uri;
	(*(int *)ctx)++;
	return false;
}

/* --- tracks ------------------------------------------------------------- */

static const struct store_track_info lib3[] = {
	{ "a/one.flac", 1000, "Artist A", "Album", "One", "Rock", 200.5 },
	{ "b/two.mp3", 2000, NULL, NULL, NULL, NULL, 0 },
	{ "c/three.ogg", 3000, "Artist C", NULL, "Three", NULL, 61 },
};

static void test_tracks_round_trip(void)
{
	const char *dir = dir_for("tracks");
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	int gone = -1, c[4];
	sync_tracks(s, lib3, 3, &gone);
	CHECK_INT(gone, 0);
	CHECK(store_count_tracks(s, c));
	CHECK_INT(c[STORE_PENDING], 3);
	CHECK_INT(c[STORE_ANALYSED] + c[STORE_FAILED] + c[STORE_GONE], 0);

	struct strs p = { 0 };
	CHECK(store_each_pending(s, 1, collect_uri, &p));
	CHECK_INT(p.n, 3);
	CHECK_STR(p.v[0], "a/one.flac");
	CHECK_STR(p.v[2], "c/three.ogg");
	int calls = 0;
	CHECK(store_each_pending(s, 1, stop_after_one, &calls));
	CHECK_INT(calls, 1);

	const float va[4] = { 1.0f, -2.5f, 3.25e-3f, 1e30f };
	CHECK_MSG(store_set_features(s, "a/one.flac", 1, va, 4, 199.0), "%s",
		  store_error(s));
	CHECK_MSG(store_set_failed(s, "b/two.mp3", "truncated file"), "%s",
		  store_error(s));
	CHECK(!store_set_features(s, "nope", 1, va, 4, 1));
	CHECK(contains(store_error(s), "unknown track nope"));
	CHECK(!store_set_failed(s, "nope", "x"));

	CHECK(store_count_tracks(s, c));
	CHECK_INT(c[STORE_PENDING], 1);
	CHECK_INT(c[STORE_ANALYSED], 1);
	CHECK_INT(c[STORE_FAILED], 1);

	float v[4] = { 0 };
	enum store_status st = STORE_GONE;
	char *error = (char *)"sentinel";
	CHECK(store_get_track(s, "a/one.flac", 1, 4, v, &st, &error));
	CHECK_INT(st, STORE_ANALYSED);
	CHECK(error == NULL);
	CHECK(memcmp(v, va, sizeof v) == 0);
	/* Another version or dim: not analysed as asked, v untouched. */
	float w[4] = { 7, 7, 7, 7 };
	CHECK(store_get_track(s, "a/one.flac", 2, 4, w, &st, NULL));
	CHECK_INT(st, STORE_PENDING);
	CHECK(w[0] == 7 && w[3] == 7);
	CHECK(store_get_track(s, "a/one.flac", 1, 5, NULL, &st, NULL));
	CHECK_INT(st, STORE_PENDING);
	CHECK(store_get_track(s, "b/two.mp3", 1, 4, v, &st, &error));
	CHECK_INT(st, STORE_FAILED);
	CHECK_STR(error, "truncated file");
	free(error);
	CHECK(!store_get_track(s, "missing.mp3", 1, 4, v, &st, NULL));
	CHECK(contains(store_error(s), "unknown track missing.mp3"));

	/* Pending with a version: version 2 re-analyses the analysed one. */
	p.n = 0;
	CHECK(store_each_pending(s, 1, collect_uri, &p));
	CHECK_INT(p.n, 1);
	CHECK_STR(p.v[0], "c/three.ogg");
	p.n = 0;
	CHECK(store_each_pending(s, 2, collect_uri, &p));
	CHECK_INT(p.n, 2);
	CHECK_STR(p.v[0], "a/one.flac");
	CHECK_STR(p.v[1], "c/three.ogg");

	/* The library: only ANALYSED with this version and dim. */
	const float vc[4] = { 4, 5, 6, 7 };
	CHECK(store_set_features(s, "c/three.ogg", 1, vc, 4, 0));
	struct store_library *lib = store_load_library(s, 1, 4);
	if (CHECK_MSG(lib != NULL, "%s", store_error(s))) {
		CHECK_INT(lib->n, 2);
		CHECK_INT(lib->dim, 4);
		CHECK_STR(lib->uri[0], "a/one.flac");
		CHECK_STR(lib->artist[0], "Artist A");
		CHECK_STR(lib->title[0], "One");
		CHECK_NEAR(lib->duration[0], 199.0, 1e-9); /* analysis wins */
		CHECK(memcmp(lib->x, va, sizeof va) == 0);
		CHECK_STR(lib->uri[1], "c/three.ogg");
		CHECK_NEAR(lib->duration[1], 61, 1e-9); /* 0 keeps MPD's */
		CHECK(memcmp(lib->x + 4, vc, sizeof vc) == 0);
		CHECK(!lib->banned[0] && !lib->banned[1]);
	}
	store_library_free(lib);
	lib = store_load_library(s, 1, 5);
	CHECK(lib && lib->n == 0);
	store_library_free(lib);
	lib = store_load_library(s, 2, 4);
	CHECK(lib && lib->n == 0);
	store_library_free(lib);
	store_close(s);

	/* On disk the vector is little-endian float32: 1.0f = 00 00 80 3f. */
	sqlite3 *db = raw_open(dir);
	if (!db)
		return;
	CHECK_INT(raw_int(db, "SELECT length(features) FROM tracks WHERE "
			  "uri = 'a/one.flac'"), 16);
	CHECK_INT(raw_int(db, "SELECT hex(substr(features, 1, 4)) = "
			  "'0000803F' FROM tracks WHERE uri = 'a/one.flac'"),
		  1);
	CHECK_INT(raw_int(db, "SELECT features_dim FROM tracks WHERE "
			  "uri = 'a/one.flac'"), 4);
	sqlite3_close(db);
}

/* A batch of analysis results is one transaction; an unknown track in it
 * does not undo the others; a second connection sees it all at the end. */
static void test_batch_of_results(void)
{
	const char *dir = dir_for("batch");
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	sync_tracks(s, lib3, 3, NULL);
	const float v[4] = { 1, 2, 3, 4 };
	CHECK(store_batch_begin(s));
	CHECK(store_set_features(s, "a/one.flac", 1, v, 4, 10));
	CHECK(!store_set_features(s, "nope", 1, v, 4, 1));
	CHECK(store_set_failed(s, "b/two.mp3", "bad"));
	char err[256];
	struct store *other = store_open(dir, err, sizeof err);
	int c[4];
	CHECK(other && store_count_tracks(other, c));
	CHECK_INT(c[STORE_ANALYSED], 0);	/* not committed yet */
	CHECK_MSG(store_batch_end(s), "%s", store_error(s));
	CHECK(store_count_tracks(other, c));
	CHECK_INT(c[STORE_ANALYSED], 1);
	CHECK_INT(c[STORE_FAILED], 1);
	/* Outside a batch, each result commits on its own again. */
	CHECK(store_set_features(s, "c/three.ogg", 1, v, 4, 10));
	CHECK(store_count_tracks(other, c));
	CHECK_INT(c[STORE_ANALYSED], 2);
	store_close(other);
	store_close(s);
}

static void test_sync_gone_and_mtime(void)
{
	struct store *s = open_or_fail(dir_for("sync"));
	if (!s)
		return;
	int gone = -1, c[4];
	sync_tracks(s, lib3, 3, &gone);
	const float v[2] = { 0.5f, 0.25f };
	CHECK(store_set_features(s, "a/one.flac", 1, v, 2, 0));
	CHECK(store_set_features(s, "b/two.mp3", 1, v, 2, 0));
	CHECK(store_set_failed(s, "c/three.ogg", "not audio"));

	/* b changed, c not seen: b re-pends (vector dropped), c GONE. */
	struct store_track_info next[2] = { lib3[0], lib3[1] };
	next[1].mtime = 2001;
	next[0].title = "One (remaster)";
	sync_tracks(s, next, 2, &gone);
	CHECK_INT(gone, 1);
	CHECK(store_count_tracks(s, c));
	CHECK_INT(c[STORE_ANALYSED], 1);
	CHECK_INT(c[STORE_PENDING], 1);
	CHECK_INT(c[STORE_FAILED], 0);
	CHECK_INT(c[STORE_GONE], 1);
	enum store_status st;
	float got[2];
	CHECK(store_get_track(s, "b/two.mp3", 1, 2, got, &st, NULL));
	CHECK_INT(st, STORE_PENDING);
	CHECK(store_get_track(s, "c/three.ogg", 1, 2, got, &st, NULL));
	CHECK_INT(st, STORE_GONE);
	struct store_library *lib = store_load_library(s, 1, 2);
	if (CHECK(lib && lib->n == 1)) {
		CHECK_STR(lib->uri[0], "a/one.flac");
		CHECK_STR(lib->title[0], "One (remaster)");
	}
	store_library_free(lib);

	/* The same sync again: nothing new is gone. */
	sync_tracks(s, next, 2, &gone);
	CHECK_INT(gone, 0);

	/* c is back with the same mtime: FAILED again, still skipped. */
	sync_tracks(s, lib3, 3, &gone);
	CHECK_INT(gone, 0);
	char *error = NULL;
	CHECK(store_get_track(s, "c/three.ogg", 1, 2, got, &st, &error));
	CHECK_INT(st, STORE_FAILED);
	CHECK_STR(error, "not audio");
	free(error);
	/* (lib3 has b's old mtime: that is a change too.) */
	CHECK(store_set_features(s, "b/two.mp3", 1, v, 2, 0));

	/* a GONE then back with the same mtime keeps its vector. */
	sync_tracks(s, &lib3[1], 2, &gone);
	CHECK_INT(gone, 1);
	sync_tracks(s, lib3, 3, &gone);
	CHECK(store_get_track(s, "a/one.flac", 1, 2, got, &st, NULL));
	CHECK_INT(st, STORE_ANALYSED);
	CHECK(got[0] == 0.5f && got[1] == 0.25f);

	/* A failed track whose file changed is tried again. */
	struct store_track_info c2 = lib3[2];
	c2.mtime = 3001;
	struct store_track_info all[3] = { lib3[0], lib3[1], c2 };
	sync_tracks(s, all, 3, &gone);
	CHECK(store_get_track(s, "c/three.ogg", 1, 2, got, &st, &error));
	CHECK_INT(st, STORE_PENDING);
	CHECK(error == NULL);

	/* An aborted sync changes nothing; other writes wait for its end. */
	CHECK(store_sync_begin(s));
	CHECK(store_sync_track(s, &lib3[0]));
	struct store_event e = { .time = 1, .uri = "x", .label = -1,
				 .weight = 1, .source = "cli" };
	CHECK(!store_add_event(s, &e));
	CHECK(contains(store_error(s), "sync is in progress"));
	store_sync_abort(s);
	CHECK(store_count_tracks(s, c));
	CHECK_INT(c[STORE_GONE], 0);
	CHECK_INT(c[STORE_ANALYSED], 2);
	CHECK(store_add_event(s, &e));
	store_close(s);
}

/* --- events ------------------------------------------------------------- */

struct seen_events {
	int n;
	struct store_event e[16];
	char uri[16][64], source[16][16];
};

static bool collect_event(const struct store_event *e, void *ctx)
{
	struct seen_events *a = ctx;
	if (a->n >= 16)
		return false;
	a->e[a->n] = *e;
	snprintf(a->uri[a->n], sizeof a->uri[0], "%s", e->uri);
	snprintf(a->source[a->n], sizeof a->source[0], "%s",
		 e->source ? e->source : "(null)");
	a->n++;
	return true;
}

static void test_events_round_trip(void)
{
	struct store *s = open_or_fail(dir_for("events"));
	if (!s)
		return;
	int gone;
	sync_tracks(s, lib3, 3, &gone);
	const float va[3] = { 1, 2, 3 }, vb[3] = { -1, -2, -3 };
	CHECK(store_set_features(s, "a/one.flac", 7, va, 3, 0));
	CHECK(store_set_features(s, "b/two.mp3", 7, vb, 3, 0));

	struct store_event ev[] = {
		{ 0, 100.0, "a/one.flac", STORE_KIND_PLAYED, 200, 200.5, 1,
		  1.0, "watch", true },
		{ 0, 101.0, "b/two.mp3", STORE_KIND_SKIPPED, 5, 180, 0, 0.9,
		  "watch", false },
		{ 0, 102.0, "c/three.ogg", STORE_KIND_LIKE, 0, 61, 1, 2.0,
		  "channel", false },	/* not analysed: not an example */
		{ 0, 103.0, "a/one.flac", STORE_KIND_UNLABELLED, 3, 200.5, -1,
		  0, "watch", true },
		{ 0, 99.0, "a/one.flac", STORE_KIND_DISLIKE, 0, 200.5, 0, 2.0,
		  "cli", false },	/* logged late, older */
		{ 0, 104.0, "stream/unknown", STORE_KIND_BAN, 0, 0, 0, 3.0,
		  NULL, false },	/* not a synced track */
	};
	int n = (int)(sizeof ev / sizeof ev[0]);
	int64_t last = 0;
	for (int i = 0; i < n; i++) {
		CHECK_MSG(store_add_event(s, &ev[i]), "%s", store_error(s));
		CHECK(ev[i].id > last);
		last = ev[i].id;
	}
	int64_t all = -1, labelled = -1;
	CHECK(store_count_events(s, &all, &labelled));
	CHECK_INT(all, n);
	CHECK_INT(labelled, n - 1);

	/* Newest first (by time), every field back. */
	struct seen_events got = { 0 };
	CHECK(store_each_recent_event(s, 3, collect_event, &got));
	CHECK_INT(got.n, 3);
	CHECK_INT(got.e[0].id, ev[5].id);
	CHECK_STR(got.source[0], "(null)");
	CHECK_INT(got.e[1].id, ev[3].id);
	CHECK_INT(got.e[2].id, ev[2].id);
	const struct store_event *g = &got.e[1];
	CHECK_STR(got.uri[1], "a/one.flac");
	CHECK_INT(g->kind, STORE_KIND_UNLABELLED);
	CHECK_NEAR(g->time, 103.0, 0);
	CHECK_NEAR(g->played, 3, 0);
	CHECK_NEAR(g->duration, 200.5, 0);
	CHECK_INT(g->label, -1);
	CHECK_NEAR(g->weight, 0, 0);
	CHECK_STR(got.source[1], "watch");
	CHECK(g->queued_by_us);
	got.n = 0;
	CHECK(store_each_recent_event(s, 100, collect_event, &got));
	CHECK_INT(got.n, n);
	CHECK_INT(got.e[n - 1].id, ev[4].id);	/* time 99: oldest */

	/* Bans: a BAN of an unknown URI records it, GONE; LIKE lifts one. */
	bool banned = true;
	CHECK(store_is_banned(s, "a/one.flac", &banned));
	CHECK(!banned);
	CHECK(store_is_banned(s, "never/heard.of", &banned));
	CHECK(!banned);
	CHECK(store_is_banned(s, "stream/unknown", &banned));
	CHECK(banned);
	int c[4];
	CHECK(store_count_tracks(s, c));
	CHECK_INT(c[STORE_GONE], 1);
	struct store_event ban = { 0, 105, "b/two.mp3", STORE_KIND_BAN, 0, 0,
				   0, 3, "channel", false };
	CHECK(store_add_event(s, &ban));
	CHECK(store_is_banned(s, "b/two.mp3", &banned));
	CHECK(banned);
	struct store_library *lib = store_load_library(s, 7, 3);
	if (CHECK(lib && lib->n == 2)) {
		CHECK_STR(lib->uri[1], "b/two.mp3");
		CHECK(!lib->banned[0] && lib->banned[1]);
	}
	store_library_free(lib);
	struct store_event like = { 0, 106, "b/two.mp3", STORE_KIND_LIKE, 0,
				    0, 1, 2, "cli", false };
	CHECK(store_add_event(s, &like));
	CHECK(store_is_banned(s, "b/two.mp3", &banned));
	CHECK(!banned);

	/* Examples: labelled events of analysed tracks, oldest first. */
	struct store_examples *ex = store_load_examples(s, 7, 3);
	if (CHECK_MSG(ex != NULL, "%s", store_error(s))) {
		/* ev4 (99, a, 0), ev0 (100, a, 1), ev1 (101, b, 0),
		 * ban (105, b, 0), like (106, b, 1) */
		CHECK_INT(ex->n, 5);
		CHECK_INT(ex->dim, 3);
		CHECK_NEAR(ex->time[0], 99, 0);
		CHECK_STR(ex->uri[0], "a/one.flac");
		CHECK_NEAR(ex->y[0], 0, 0);
		CHECK_NEAR(ex->w[0], 2.0, 1e-6);
		CHECK(memcmp(ex->x, va, sizeof va) == 0);
		CHECK_NEAR(ex->y[1], 1, 0);
		CHECK_STR(ex->uri[2], "b/two.mp3");
		CHECK(memcmp(ex->x + 6, vb, sizeof vb) == 0);
		CHECK_NEAR(ex->w[2], 0.9, 1e-6);
		CHECK_NEAR(ex->time[4], 106, 0);
		CHECK_NEAR(ex->y[4], 1, 0);
	}
	store_examples_free(ex);
	ex = store_load_examples(s, 8, 3);
	CHECK(ex && ex->n == 0);
	store_examples_free(ex);

	struct strs p = { 0 };
	CHECK(store_each_played_since(s, 102.5, collect_uri, &p));
	CHECK_INT(p.n, 3);	/* a (103), stream (104), b (105, 106) */
	bool a = false, b = false, st = false;
	for (int i = 0; i < p.n; i++) {
		a |= strcmp(p.v[i], "a/one.flac") == 0;
		b |= strcmp(p.v[i], "b/two.mp3") == 0;
		st |= strcmp(p.v[i], "stream/unknown") == 0;
	}
	CHECK(a && b && st);
	store_close(s);
}

/* --- picks, model, training -------------------------------------------- */

static void test_picks(void)
{
	struct store *s = open_or_fail(dir_for("picks"));
	if (!s)
		return;
	int64_t id1 = 0, id2 = 0, id;
	struct store_pick p = { 10, "a", 0.9, 0.1, false, "best score" };
	CHECK(store_add_pick(s, &p, &id1));
	p = (struct store_pick){ 11, "a", 0.4, 0.3, true, "explore" };
	CHECK(store_add_pick(s, &p, &id2));
	CHECK(id2 > id1 && id1 > 0);
	p = (struct store_pick){ 12, "b", 0.5, 0.4, true, "explore" };
	CHECK(store_add_pick(s, &p, NULL));
	p = (struct store_pick){ 13, "c", 0.7, 0.05, false, NULL };
	CHECK(store_add_pick(s, &p, &id));

	int liked = -1, judged = -1;
	CHECK(store_pick_stats(s, 0, false, &liked, &judged));
	CHECK_INT(judged, 0);
	CHECK_INT(liked, 0);

	/* The latest open pick of "a" is the second; then the first. */
	CHECK(store_set_pick_outcome(s, "a", 0));
	CHECK(store_set_pick_outcome(s, "a", 1));
	CHECK(store_set_pick_outcome(s, "a", 1));	/* none open: no-op */
	CHECK(store_set_pick_outcome(s, "zzz", 1));	/* no-op */
	CHECK(store_set_pick_outcome(s, "b", 1));
	CHECK(store_set_pick_outcome(s, "c", -1));	/* heard, no label */

	CHECK(store_pick_stats(s, 0, false, &liked, &judged));
	CHECK_INT(judged, 3);
	CHECK_INT(liked, 2);
	CHECK(store_pick_stats(s, 0, true, &liked, &judged));
	CHECK_INT(judged, 2);	/* a#2 (0), b (1) */
	CHECK_INT(liked, 1);
	CHECK(store_pick_stats(s, 2, false, &liked, &judged));
	CHECK_INT(judged, 2);	/* the last two judged: b (1), a#2 (0) */
	CHECK_INT(liked, 1);
	CHECK(store_pick_stats(s, 1, true, &liked, &judged));
	CHECK_INT(judged, 1);
	CHECK_INT(liked, 1);
	store_close(s);

	sqlite3 *db = raw_open(dir_for("picks"));
	if (!db)
		return;
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT outcome FROM picks WHERE id = %lld",
		 (long long)id1);
	CHECK_INT(raw_int(db, sql), 1);
	snprintf(sql, sizeof sql, "SELECT outcome FROM picks WHERE id = %lld",
		 (long long)id2);
	CHECK_INT(raw_int(db, sql), 0);
	CHECK_INT(raw_int(db, "SELECT count(*) FROM picks WHERE reason = "
			  "'explore' AND explored = 1"), 2);
	sqlite3_close(db);
}

struct seen_training {
	int n;
	struct store_training t[8];
};

static bool collect_training(const struct store_training *t, void *ctx)
{
	struct seen_training *a = ctx;
	if (a->n < 8)
		a->t[a->n++] = *t;
	return true;
}

/* The tags of the analysed tracks, in the library's order. */
struct tags_seen {
	int n;
	char text[8][160];
};

static bool on_tags(const char *uri, const char *artist, const char *album,
		    const char *genre, void *ctx)
{
	struct tags_seen *t = ctx;
	if (t->n < 8)
		snprintf(t->text[t->n++], sizeof t->text[0], "%s %s %s %s",
			 uri, artist ? artist : "-", album ? album : "-",
			 genre ? genre : "-");
	return true;
}

static void test_track_tags(void)
{
	struct store *s = open_or_fail(dir_for("tags"));
	if (!s)
		return;
	/* Tags of the analysed tracks of a version, in the library's order. */
	float v[2] = { 1, 2 };
	struct store_track_info t1 = { "b.ogg", 1, "X", "One", "T", "Rock", 60 };
	struct store_track_info t2 = { "a.ogg", 1, NULL, NULL, NULL, NULL, 60 };
	struct store_track_info t3 = { "c.ogg", 1, "Y", NULL, NULL, "", 60 };
	CHECK(store_sync_begin(s) && store_sync_track(s, &t1) &&
	      store_sync_track(s, &t2) && store_sync_track(s, &t3) &&
	      store_sync_end(s, NULL));
	CHECK(store_set_features(s, "b.ogg", 7, v, 2, 60));
	CHECK(store_set_features(s, "a.ogg", 7, v, 2, 60));
	CHECK(store_set_features(s, "c.ogg", 6, v, 2, 60));
	struct tags_seen t = { 0 };
	CHECK(store_each_track_tags(s, 7, 2, on_tags, &t));
	CHECK_INT(t.n, 2);
	/* In the order of the unsorted library (the table's: b, then a). */
	CHECK_STR(t.text[0], "b.ogg X One Rock");
	CHECK_STR(t.text[1], "a.ogg - - -");
	struct store_library *lib = store_load_library_with(s, 7, 2, 0);
	CHECK(lib && lib->n == 2 && !strcmp(lib->uri[0], "b.ogg") &&
	      !strcmp(lib->uri[1], "a.ogg") && !lib->album && !lib->genre);
	store_library_free(lib);
	/* The same tags loaded with the library, and refreshed with a row. */
	lib = store_load_library_with(s, 7, 2, STORE_LIBRARY_TAGS);
	CHECK(lib && lib->n == 2 && lib->album && lib->genre);
	if (lib && lib->n == 2 && lib->album && lib->genre) {
		CHECK(lib->album[0] >= 0 && lib->genre[0] >= 0);
		CHECK_STR(lib->tags[lib->album[0]], "One");
		CHECK_STR(lib->tags[lib->genre[0]], "Rock");
		CHECK(lib->album[1] < 0 && lib->genre[1] < 0);
		struct store_track_info t4 = { "a.ogg", 1, "Z", "Two", NULL,
					       "Jazz", 60 };
		CHECK(store_sync_begin(s) && store_sync_track(s, &t1) &&
		      store_sync_track(s, &t4) && store_sync_track(s, &t3) &&
		      store_sync_end(s, NULL));
		CHECK(store_library_update(s, lib, 7, "a.ogg", 1) ==
		      STORE_ROW_REFRESHED);
		CHECK(lib->album[1] >= 0 && lib->genre[1] >= 0);
		CHECK_STR(lib->tags[lib->album[1]], "Two");
		CHECK_STR(lib->tags[lib->genre[1]], "Jazz");
		store_library_remove(lib, 0);
		CHECK(lib->n == 1 && lib->album[0] >= 0 &&
		      !strcmp(lib->tags[lib->album[0]], "Two") &&
		      !strcmp(lib->tags[lib->genre[0]], "Jazz"));
	}
	store_library_free(lib);
	store_close(s);
}

static void test_model_and_training(void)
{
	const char *dir = dir_for("model");
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	void *blob = (void *)1;
	size_t size = 1;
	CHECK(store_load_model(s, &blob, &size));
	CHECK(blob == NULL && size == 0);

	unsigned char m1[3000], m2[777];
	for (size_t i = 0; i < sizeof m1; i++)
		m1[i] = (unsigned char)(i * 7 + 3);
	for (size_t i = 0; i < sizeof m2; i++)
		m2[i] = (unsigned char)(255 - i);
	CHECK_MSG(store_save_model(s, m1, sizeof m1), "%s", store_error(s));
	CHECK(store_load_model(s, &blob, &size));
	CHECK(size == sizeof m1 && blob && memcmp(blob, m1, size) == 0);
	free(blob);
	CHECK(store_save_model(s, m2, sizeof m2));
	CHECK(store_load_model(s, &blob, &size));
	CHECK(size == sizeof m2 && blob && memcmp(blob, m2, size) == 0);
	free(blob);

	CHECK(store_add_training(s, 50, 10, 0.8, 0.7, 0.75, 0.6));
	CHECK(store_add_training(s, 40, 5, 0.9, NAN, NAN, NAN));
	struct seen_training t = { 0 };
	CHECK(store_each_training(s, collect_training, &t));
	CHECK_INT(t.n, 2);
	CHECK_NEAR(t.t[0].time, 40, 0);	/* oldest first */
	CHECK_INT(t.t[0].events, 5);
	CHECK_NEAR(t.t[0].train_acc, 0.9, 0);
	CHECK(isnan(t.t[0].val_acc) && isnan(t.t[0].val_auc) &&
	      isnan(t.t[0].val_logloss));
	CHECK_INT(t.t[1].events, 10);
	CHECK_NEAR(t.t[1].val_acc, 0.7, 0);
	CHECK_NEAR(t.t[1].val_auc, 0.75, 0);
	CHECK_NEAR(t.t[1].val_logloss, 0.6, 0);
	store_close(s);

	sqlite3 *db = raw_open(dir);
	if (db) {
		CHECK_INT(raw_int(db, "SELECT count(*) FROM model"), 1);
		sqlite3_close(db);
	}
}

static void test_corrupt_model_refused(void)
{
	const char *dir = dir_for("corrupt");
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	unsigned char m[512];
	for (size_t i = 0; i < sizeof m; i++)
		m[i] = (unsigned char)(i ^ 0x5a);
	CHECK(store_save_model(s, m, sizeof m));
	store_close(s);

	/* One byte flipped in place, size unchanged. */
	sqlite3 *db = raw_open(dir);
	if (!db)
		return;
	sqlite3_stmt *st;
	unsigned char bad[sizeof m];
	memcpy(bad, m, sizeof m);
	bad[100] ^= 0x01;
	CHECK(sqlite3_prepare_v2(db, "UPDATE model SET blob = ?", -1, &st,
				 NULL) == SQLITE_OK);
	sqlite3_bind_blob(st, 1, bad, (int)sizeof bad, SQLITE_STATIC);
	CHECK(sqlite3_step(st) == SQLITE_DONE);
	sqlite3_finalize(st);
	CHECK_INT(raw_int(db, "SELECT length(blob) FROM model"), 512);
	sqlite3_close(db);

	s = open_or_fail(dir);
	if (!s)
		return;
	void *blob = (void *)1;
	size_t size = 1;
	CHECK(!store_load_model(s, &blob, &size));
	CHECK(blob == NULL && size == 0);
	CHECK_MSG(contains(store_error(s), "checksum mismatch"), "%s",
		  store_error(s));
	/* A good save replaces it. */
	CHECK(store_save_model(s, m, sizeof m));
	CHECK(store_load_model(s, &blob, &size));
	CHECK(size == sizeof m && blob && memcmp(blob, m, size) == 0);
	free(blob);
	store_close(s);
}

/* --- open, reopen, migrate --------------------------------------------- */

static void test_reopen_and_two_connections(void)
{
	const char *dir = dir_for("reopen");
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	CHECK_STR(store_path(s), dir_for("reopen/mpdrec.db"));
	int gone;
	sync_tracks(s, lib3, 3, &gone);
	struct store_event e = { 0, 5, "a/one.flac", STORE_KIND_PLAYED, 1, 1,
				 1, 1, "watch", false };
	CHECK(store_add_event(s, &e));
	const float v[2] = { 1, 2 };
	CHECK(store_set_features(s, "a/one.flac", 3, v, 2, 0));
	CHECK(store_save_model(s, v, sizeof v));
	store_close(s);

	s = open_or_fail(dir);
	struct store *t = open_or_fail(dir);	/* a second connection */
	if (!s || !t) {
		store_close(s);
		store_close(t);
		return;
	}
	int64_t all = 0;
	CHECK(store_count_events(s, &all, NULL));
	CHECK_INT(all, 1);
	int c[4];
	CHECK(store_count_tracks(s, c));
	CHECK_INT(c[STORE_ANALYSED], 1);
	CHECK_INT(c[STORE_PENDING], 2);
	void *blob;
	size_t size;
	CHECK(store_load_model(s, &blob, &size));
	CHECK(size == sizeof v && blob && memcmp(blob, v, size) == 0);
	free(blob);

	/* Writes of one connection are seen by the other at once. */
	for (int i = 0; i < 10; i++) {
		struct store *w = i % 2 ? s : t, *r = i % 2 ? t : s;
		CHECK(store_add_event(w, &e));
		CHECK(store_count_events(r, &all, NULL));
		CHECK_INT(all, 2 + i);
	}
	CHECK(store_check_integrity(s));
	store_close(t);
	store_close(s);
}

static void test_migrate_empty_file(void)
{
	const char *dir = dir_for("empty");
	CHECK(mkdir(dir, 0700) == 0);
	char path[4200];
	snprintf(path, sizeof path, "%s/mpdrec.db", dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);

	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	CHECK(store_schema_version() >= 1);
	sqlite3 *db = raw_open(dir);
	if (db) {
		CHECK_INT(raw_int(db, "PRAGMA user_version"),
			  store_schema_version());
		CHECK_INT(raw_int(db, "SELECT count(*) FROM sqlite_master "
				  "WHERE type = 'table' AND name IN ('tracks',"
				  " 'events', 'picks', 'model', 'training')"),
			  5);
		CHECK_INT(raw_int(db, "SELECT count(*) FROM sqlite_master "
				  "WHERE type = 'index' AND name IN "
				  "('events_time', 'events_uri', 'picks_uri')"),
			  3);
		CHECK_INT(raw_int(db, "SELECT journal_mode = 'wal' FROM "
				  "pragma_journal_mode"), 1);
		sqlite3_close(db);
	}
	CHECK(store_check_integrity(s));
	store_close(s);
	/* A second open finds the current version and changes nothing. */
	s = open_or_fail(dir);
	store_close(s);
}

static void test_newer_schema_refused(void)
{
	const char *dir = dir_for("newer");
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	struct store_event e = { 0, 5, "x", STORE_KIND_PLAYED, 1, 1, 1, 1,
				 "watch", false };
	CHECK(store_add_event(s, &e));
	store_close(s);
	int newer = store_schema_version() + 3;
	sqlite3 *db = raw_open(dir);
	if (!db)
		return;
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", newer);
	raw_exec(db, sql);
	sqlite3_close(db);

	char err[512] = "";
	s = store_open(dir, err, sizeof err);
	CHECK(s == NULL);
	store_close(s);
	char want[128];
	snprintf(want, sizeof want, "schema version %d is newer", newer);
	CHECK_MSG(contains(err, want), "error: %s", err);
	snprintf(want, sizeof want, "(%d)", store_schema_version());
	CHECK_MSG(contains(err, want), "error: %s", err);
	CHECK_MSG(contains(err, "mpdrec.db"), "error: %s", err);

	/* Refused, untouched. */
	db = raw_open(dir);
	if (db) {
		CHECK_INT(raw_int(db, "PRAGMA user_version"), newer);
		CHECK_INT(raw_int(db, "SELECT count(*) FROM events"), 1);
		sqlite3_close(db);
	}
}

static void test_not_a_database(void)
{
	const char *dir = dir_for("garbage");
	CHECK(mkdir(dir, 0700) == 0);
	char path[4200];
	snprintf(path, sizeof path, "%s/mpdrec.db", dir);
	FILE *f = fopen(path, "w");
	if (!CHECK(f != NULL))
		return;
	for (int i = 0; i < 4096; i++)
		fputc("not a database!"[i % 15], f);
	fclose(f);
	char err[512] = "";
	struct store *s = store_open(dir, err, sizeof err);
	CHECK(s == NULL);
	store_close(s);
	CHECK_MSG(contains(err, "file is not a database"), "error: %s", err);

	s = store_open("", err, sizeof err);
	CHECK(s == NULL);
	CHECK(err[0] != '\0');
	/* A file where the directory should be. */
	s = store_open(path, err, sizeof err);
	CHECK(s == NULL);
	CHECK_MSG(contains(err, "not a directory"), "error: %s", err);
}

static void test_permissions(void)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", dir_for("perm/deep/data"));
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	struct store_event e = { 0, 5, "x", STORE_KIND_PLAYED, 1, 1, 1, 1,
				 "watch", false };
	CHECK(store_add_event(s, &e));
	CHECK_INT(file_mode(dir_for("perm")), 0700);
	CHECK_INT(file_mode(dir_for("perm/deep")), 0700);
	CHECK_INT(file_mode(dir), 0700);
	char p[4200];
	static const char *const suffix[] = { "", "-wal", "-shm" };
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/mpdrec.db%s", dir, suffix[i]);
		CHECK_MSG(file_mode(p) == 0600, "%s: %o", p, file_mode(p));
	}
	store_close(s);

	/* An existing store made world-readable is made private again. */
	snprintf(p, sizeof p, "%s/mpdrec.db", dir);
	CHECK(chmod(p, 0644) == 0 && chmod(dir, 0755) == 0);
	mode_t old = umask(0);
	s = open_or_fail(dir);
	umask(old);
	CHECK_INT(file_mode(dir), 0700);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/mpdrec.db%s", dir, suffix[i]);
		CHECK_MSG(file_mode(p) == 0600, "%s: %o", p, file_mode(p));
	}
	store_close(s);
}

/* --- read-only and full ------------------------------------------------- */

/* Runs store_open(dir) in a child that cannot write what root could (as
 * nobody when we are root); returns its error text, "" if it opened. */
static void open_unprivileged(const char *dir, char *err, size_t err_size)
{
	int fd[2];
	snprintf(err, err_size, "(child failed)");
	if (pipe(fd) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		char e[512] = "";
		if (geteuid() == 0 && (setgroups(0, NULL) != 0 ||
				       setgid(65534) != 0 ||
				       setuid(65534) != 0)) {
			snprintf(e, sizeof e, "setuid: %s", strerror(errno));
		} else {
			struct store *s = store_open(dir, e, sizeof e);
			if (s)
				e[0] = '\0';
			store_close(s);
		}
		ssize_t w = write(fd[1], e, strlen(e) + 1);
		_exit(w > 0 ? 0 : 1);
	}
	close(fd[1]);
	size_t got = 0;
	ssize_t r;
	while (got + 1 < err_size &&
	       (r = read(fd[0], err + got, err_size - 1 - got)) > 0)
		got += (size_t)r;
	err[got] = '\0';
	close(fd[0]);
	waitpid(pid, NULL, 0);
}

static void test_read_only_directory(void)
{
	/* nobody must be able to reach the test directory. */
	CHECK(chmod(harness_tmpdir(), 0711) == 0);
	const char *ro = dir_for("ro");
	CHECK(mkdir(ro, 0555) == 0);
	char err[512];

	open_unprivileged(ro, err, sizeof err);
	CHECK_MSG(contains(err, "cannot create") && contains(err, "mpdrec.db")
		  && contains(err, "Permission denied"), "error: %s", err);

	open_unprivileged(dir_for("ro/sub"), err, sizeof err);
	CHECK_MSG(contains(err, "cannot create directory") &&
		  contains(err, "Permission denied"), "error: %s", err);

	/* An existing store that has become read-only. */
	const char *ro2 = dir_for("ro2");
	struct store *s = open_or_fail(ro2);
	if (!s)
		return;
	struct store_event e = { 0, 5, "x", STORE_KIND_PLAYED, 1, 1, 1, 1,
				 "watch", false };
	CHECK(store_add_event(s, &e));
	store_close(s);
	if (geteuid() == 0)
		CHECK(harness_system("chown -R 65534:65534 '%s'", ro2) == 0);
	char p[4200];
	snprintf(p, sizeof p, "%s/mpdrec.db", ro2);
	CHECK(chmod(p, 0400) == 0 && chmod(ro2, 0500) == 0);
	open_unprivileged(ro2, err, sizeof err);
	CHECK_MSG(contains(err, "cannot open") && contains(err, "mpdrec.db") &&
		  contains(err, "read-only"), "error: %s", err);
	/* A writable database in a read-only directory (no room for -wal). */
	CHECK(chmod(p, 0600) == 0);
	open_unprivileged(ro2, err, sizeof err);
	CHECK_MSG(contains(err, "cannot open") && contains(err, "ro2") &&
		  contains(err, "read-only"), "error: %s", err);
	CHECK(chmod(ro2, 0700) == 0);
	CHECK(chmod(harness_tmpdir(), 0700) == 0);
}

/* Adds events until the store refuses; returns how many were stored. */
static int fill_until_full(struct store *s, int64_t *ids, int max,
			   const char *pad)
{
	int n = 0;
	for (; n < max; n++) {
		struct store_event e = { 0, n, pad, STORE_KIND_PLAYED, 1, 1,
					 1, 1, "watch", false };
		if (!store_add_event(s, &e))
			break;
		ids[n] = e.id;
	}
	return n;
}

/* Every stored id is there once, and the count is n. */
static void check_ids(struct store *s, const int64_t *ids, int n)
{
	int64_t all = -1;
	CHECK(store_count_events(s, &all, NULL));
	CHECK_INT(all, n);
	for (int i = 1; i < n; i++)
		CHECK(ids[i] > ids[i - 1]);
	CHECK_MSG(store_check_integrity(s), "%s", store_error(s));
}

static void test_full_database(void)
{
	struct store *s = open_or_fail(dir_for("quota"));
	if (!s)
		return;
	CHECK(store_set_max_size(s, 128 * 1024));
	enum { MAX = 4000 };
	static int64_t ids[MAX];
	char pad[600];
	memset(pad, 'u', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	int n = fill_until_full(s, ids, MAX, pad);
	CHECK(n > 10 && n < MAX);
	CHECK_MSG(contains(store_error(s), "add event: database or disk is "
			   "full"), "error: %s", store_error(s));
	check_ids(s, ids, n);
	/* Other writes fail the same way, then work again with room. */
	unsigned char big[80000] = { 1 };
	CHECK(!store_save_model(s, big, sizeof big));
	CHECK(contains(store_error(s), "save model: database or disk is full"));
	CHECK(store_set_max_size(s, 1 << 30));
	int more = fill_until_full(s, ids + n, 5, pad);
	CHECK_INT(more, 5);
	check_ids(s, ids, n + more);
	CHECK(store_save_model(s, big, sizeof big));
	store_close(s);
}

/* A real full disk: a small tmpfs (root only; skipped otherwise). */
static void test_full_disk(void)
{
	const char *dir = dir_for("tmpfs");
	CHECK(mkdir(dir, 0700) == 0);
	if (geteuid() != 0 ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700") != 0) {
		printf("     (skipped: cannot mount a tmpfs: %s)\n",
		       geteuid() ? "not root" : strerror(errno));
		return;
	}
	/* Room to free later, as a user would. */
	char filler[4200];
	snprintf(filler, sizeof filler, "%s/filler", dir);
	CHECK(harness_system("dd if=/dev/zero of='%s' bs=1k count=128",
			     filler) == 0);
	struct store *s = open_or_fail(dir);
	if (s) {
		enum { MAX = 20000 };
		static int64_t ids[MAX];
		char pad[900];
		memset(pad, 'f', sizeof pad - 1);
		pad[sizeof pad - 1] = '\0';
		int n = fill_until_full(s, ids, MAX, pad);
		CHECK(n > 10 && n < MAX);
		CHECK_MSG(contains(store_error(s), "add event:") &&
			  contains(store_error(s), "full"),
			  "error: %s", store_error(s));
		check_ids(s, ids, n);
		CHECK(unlink(filler) == 0);
		int more = fill_until_full(s, ids + n, 5, pad);
		CHECK_MSG(more == 5, "after freeing room: %s",
			  store_error(s));
		check_ids(s, ids, n + more);
		store_close(s);
		/* And everything is still there after a reopen. */
		s = open_or_fail(dir);
		if (s)
			check_ids(s, ids, n + more);
		store_close(s);
		printf("     (tmpfs of 1 MiB full after %d events, none "
		       "lost)\n", n);
	}
	CHECK(umount(dir) == 0);
}

/* --- issue 13: bad schema numbers, unusable -wal/-shm, corrupt models,
 * the reserve ------------------------------------------------------------ */

/* A negative user_version indexed before the migrations array (UBSan). */
static void test_negative_schema_refused(void)
{
	const char *dir = dir_for("negative");
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	store_close(s);
	sqlite3 *db = raw_open(dir);
	if (!db)
		return;
	raw_exec(db, "PRAGMA user_version = -7");
	sqlite3_close(db);
	char err[512] = "";
	s = store_open(dir, err, sizeof err);
	CHECK(s == NULL);
	store_close(s);
	CHECK_MSG(contains(err, "schema version -7 is not one mpdrec writes") &&
		  contains(err, "mpdrec.db"), "error: %s", err);
}

/* As a user without root's powers (root reads any file): a -wal or -shm
 * file made unreadable, or one that is not a file. The error names it. */
static void test_unusable_wal_named(void)
{
	const char *dir = dir_for("walperm");
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	struct store_event e = { 0, 5, "x", STORE_KIND_PLAYED, 1, 1, 1, 1,
				 "watch", false };
	CHECK(store_add_event(s, &e));
	/* Keep -wal and -shm: a second connection holds them open. */
	struct store *keep = open_or_fail(dir);
	store_close(s);
	static const char *const suffix[] = { "-wal", "-shm" };
	for (int i = 0; i < 2; i++) {
		char p[4200];
		snprintf(p, sizeof p, "%s/mpdrec.db%s", dir, suffix[i]);
		struct stat st;
		if (!CHECK_MSG(stat(p, &st) == 0, "%s is missing", p))
			continue;
		int fds[2];
		CHECK(pipe(fds) == 0);
		pid_t pid = fork();
		if (pid == 0) {
			char err[512] = "";
			close(fds[0]);
			/* nobody, owning the directory and the database, but
			 * not this one file. */
			if (geteuid() == 0) {
				chmod(harness_tmpdir(), 0711);
				harness_system("chown -R 65534:65534 '%s'",
					       dir);
				chown(p, 0, 0);
				if (setgroups(0, NULL) != 0 ||
				    setgid(65534) != 0 || setuid(65534) != 0)
					_exit(3);
			}
			chmod(p, 0600);
			struct store *t = store_open(dir, err, sizeof err);
			store_close(t);
			ssize_t w = write(fds[1], err, strlen(err) + 1);
			(void)w;
			_exit(t ? 1 : 0);
		}
		close(fds[1]);
		char err[512] = "";
		ssize_t n = read(fds[0], err, sizeof err - 1);
		err[n > 0 ? n : 0] = '\0';
		close(fds[0]);
		int status;
		waitpid(pid, &status, 0);
		harness_system("chown -R 0:0 '%s'", dir);
		chmod(harness_tmpdir(), 0700);
		chmod(p, 0600);
		CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "%s unreadable: status %d", suffix[i], status);
		CHECK_MSG(contains(err, p) && contains(err, "not readable"),
			  "%s unreadable: %s", suffix[i], err);
	}
	store_close(keep);
	/* A directory where -shm should be. */
	char p[4200];
	snprintf(p, sizeof p, "%s/mpdrec.db-shm", dir);
	unlink(p);
	CHECK(mkdir(p, 0700) == 0);
	char err[512] = "";
	s = store_open(dir, err, sizeof err);
	CHECK(s == NULL);
	store_close(s);
	CHECK_MSG(contains(err, p) && contains(err, "not a regular file"),
		  "%s", err);
	rmdir(p);
}

static long long rejected_count(const char *dir)
{
	sqlite3 *db = raw_open(dir);
	long long n = db ? raw_int(db, "SELECT count(*) FROM models_rejected")
			 : -1;
	sqlite3_close(db);
	return n;
}

/* Issue 13: one flipped byte made run, recommend and train exit; now the
 * store tells a corrupt blob from a database error, and sets it aside. */
static void test_corrupt_model_set_aside(void)
{
	const char *dir = dir_for("aside");
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	unsigned char m[256];
	void *blob;
	size_t size;
	for (int round = 0; round < STORE_REJECTED_KEPT + 2; round++) {
		memset(m, round, sizeof m);
		CHECK(store_save_model(s, m, sizeof m));
		sqlite3 *db = raw_open(dir);
		if (!db)
			break;
		raw_exec(db, round % 2 ? "UPDATE model SET checksum = "
			 "checksum + 1" : "UPDATE model SET size = size + 1");
		sqlite3_close(db);
		CHECK(!store_load_model(s, &blob, &size));
		CHECK(store_model_corrupt(s));
		CHECK_MSG(contains(store_error(s), "the model is corrupt"),
			  "%s", store_error(s));
		CHECK(store_reject_model(s, store_error(s)));
		/* The model table is empty: a new model can be saved. */
		CHECK(store_load_model(s, &blob, &size));
		CHECK(blob == NULL && !store_model_corrupt(s));
		long long want = round + 1 < STORE_REJECTED_KEPT ?
				 round + 1 : STORE_REJECTED_KEPT;
		CHECK_INT(rejected_count(dir), want);
	}
	/* The newest rejected blob is kept as it was, with its reason. */
	sqlite3 *db = raw_open(dir);
	if (db) {
		CHECK_INT(raw_int(db, "SELECT length(blob) FROM "
			  "models_rejected ORDER BY id DESC LIMIT 1"),
			  sizeof m);
		CHECK_INT(raw_int(db, "SELECT count(*) FROM models_rejected "
			  "WHERE reason LIKE '%corrupt%'"),
			  STORE_REJECTED_KEPT);
		sqlite3_close(db);
	}
	CHECK(store_save_model(s, m, sizeof m));
	CHECK(store_load_model(s, &blob, &size));
	CHECK(blob && size == sizeof m);
	free(blob);
	store_close(s);
}

static bool same_event(const struct store_event *a,
		       const struct store_event *b)
{
	return a->time == b->time && !strcmp(a->uri, b->uri) &&
	       a->kind == b->kind && a->played == b->played &&
	       a->duration == b->duration && a->label == b->label &&
	       a->weight == b->weight && !strcmp(a->source, b->source) &&
	       a->queued_by_us == b->queued_by_us;
}

/* Issue 13: events that wait for room are written into space set aside in
 * advance, and read back whole after a torn write. */
static void test_reserve(void)
{
	const char *dir = dir_for("reserve");
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	struct store_event *got = NULL;
	int n = -1;
	CHECK(!store_reserve_write(s, NULL, 0, NULL));	/* none set aside */
	CHECK(store_reserve(s, 8192));
	char path[4200];
	snprintf(path, sizeof path, "%s/mpdrec.reserve", dir);
	struct stat st;
	CHECK(stat(path, &st) == 0 && st.st_size == 8192 &&
	      st.st_blocks * 512 >= 8192 && (st.st_mode & 0777) == 0600);
	CHECK(store_reserve_read(s, &got, &n));
	CHECK_INT(n, 0);
	enum { N = 60 };
	struct store_event ev[N];
	char uris[N][64];
	for (int i = 0; i < N; i++) {
		snprintf(uris[i], sizeof uris[i], "dir %d/song\t\"%d\".flac",
			 i, i);
		ev[i] = (struct store_event){
			.time = 1.7e9 + i * 0.123456, .uri = uris[i],
			.kind = (enum store_kind)(i % 6), .played = i * 1.5,
			.duration = 200, .label = i % 3 - 1,
			.weight = 0.25 * (i % 4), .source = i % 2 ? "watch" :
			"channel", .queued_by_us = i % 3 == 0,
		};
	}
	int kept = -1;
	CHECK(store_reserve_write(s, ev, 3, &kept));
	CHECK_INT(kept, 3);
	/* More than a slot holds: the first ones are kept. */
	CHECK(store_reserve_write(s, ev, N, &kept));
	CHECK(kept > 10 && kept < N);
	store_close(s);

	s = open_or_fail(dir);
	if (!s)
		return;
	CHECK(store_reserve(s, 8192));
	CHECK(store_reserve_read(s, &got, &n));
	CHECK_INT(n, kept);
	for (int i = 0; i < n && i < N; i++)
		CHECK_MSG(same_event(&got[i], &ev[i]), "event %d", i);
	store_reserve_free(got, n);

	/* A write torn by a crash: the slot it went to is garbage; the one
	 * before still reads. */
	int first = kept;
	CHECK(store_reserve_write(s, ev + 5, 2, &kept));
	int fd = open(path, O_RDWR);
	char junk[64];
	memset(junk, 0x77, sizeof junk);
	/* The newest slot is the one not holding `kept` events. */
	for (off_t at = 0; at < 8192; at += 4096) {
		unsigned char head[16];
		CHECK(pread(fd, head, sizeof head, at) == sizeof head);
		if (head[12] == 2)
			CHECK(pwrite(fd, junk, sizeof junk, at + 50) ==
			      sizeof junk);
	}
	close(fd);
	store_close(s);
	s = open_or_fail(dir);
	if (!s)
		return;
	CHECK(store_reserve(s, 8192));
	CHECK(store_reserve_read(s, &got, &n));
	CHECK_INT(n, first);	/* the older state */
	CHECK(n > 2 && same_event(&got[0], &ev[0]));
	store_reserve_free(got, n);
	/* Emptied. */
	CHECK(store_reserve_write(s, NULL, 0, &kept));
	CHECK(store_reserve_read(s, &got, &n));
	CHECK_INT(n, 0);
	store_reserve_free(got, n);

	/* An event stored already is found, so a replay stores it once. */
	bool has = true;
	CHECK(store_has_event(s, &ev[7], &has));
	CHECK(!has);
	struct store_event copy = ev[7];
	CHECK(store_add_event(s, &copy));
	CHECK(store_has_event(s, &ev[7], &has));
	CHECK(has);
	store_close(s);
}

/* --- the crash test ----------------------------------------------------- */

struct report {
	int64_t k;	/* the child's sequence number */
	int64_t id;	/* events.id, committed */
};

static void fill_model(unsigned char *m, size_t n, int64_t k)
{
	for (size_t i = 0; i < n; i++)
		m[i] = (unsigned char)((uint64_t)k * 131 + i * 7);
}

/* The child: events in a loop, a model every 25; each id reported after
 * store_add_event() returned true. Never returns. */
static void crash_child(const char *dir, int round, int out)
{
	char err[512];
	struct store *s = store_open(dir, err, sizeof err);
	if (!s)
		_exit(3);
	static unsigned char m[32768];
	for (int64_t k = 0;; k++) {
		char uri[64];
		snprintf(uri, sizeof uri, "crash/%d/%lld", round, (long long)k);
		struct store_event e = { 0, (double)k, uri,
					 (enum store_kind)(k % 6), 1, 2,
					 k % 3 - 1, 1, "watch", k & 1 };
		if (!store_add_event(s, &e))
			_exit(4);
		struct report r = { k, e.id };
		if (write(out, &r, sizeof r) != (ssize_t)sizeof r)
			_exit(5);
		if (k % 25 == 24) {
			fill_model(m, sizeof m, k);
			if (!store_save_model(s, m, sizeof m))
				_exit(6);
		}
	}
}

static bool read_reports(int fd, struct report **r, int *n, int *cap)
{
	for (;;) {
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 1024;
			*r = realloc(*r, (size_t)*cap * sizeof **r);
			if (!*r)
				return false;
		}
		ssize_t got = read(fd, *r + *n, sizeof **r);
		if (got == (ssize_t)sizeof **r) {
			(*n)++;
			continue;
		}
		return got == 0 || (got < 0 && errno == EAGAIN);
	}
}

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void test_crash_sigkill(void)
{
	const char *dir = dir_for("crash");
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	srand(seed);
	int total = 0, rounds = 20, models = 0;
	double written_ms = 0;
	for (int round = 0; round < rounds; round++) {
		int fd[2];
		if (!CHECK(pipe(fd) == 0))
			return;
		int delay = 3 + rand() % 298;	/* ms */
		pid_t pid = fork();
		if (pid == 0) {
			close(fd[0]);
			crash_child(dir, round, fd[1]);
		}
		close(fd[1]);
		fcntl(fd[0], F_SETFL, O_NONBLOCK);
		struct report *r = NULL;
		int n = 0, cap = 0;
		/* Keep the pipe drained while the child writes. */
		double end = mono_ms() + delay;
		for (double now; (now = mono_ms()) < end;) {
			struct pollfd p = { fd[0], POLLIN, 0 };
			poll(&p, 1, (int)(end - now) + 1);
			if (!read_reports(fd[0], &r, &n, &cap))
				break;
		}
		kill(pid, SIGKILL);
		int status = 0;
		waitpid(pid, &status, 0);
		CHECK_MSG(WIFSIGNALED(status) &&
			  WTERMSIG(status) == SIGKILL,
			  "seed %u round %d: child ended by itself (status "
			  "%d) before the kill", seed, round, status);
		fcntl(fd[0], F_SETFL, 0);
		CHECK(read_reports(fd[0], &r, &n, &cap));
		close(fd[0]);
		total += n;
		written_ms += delay;

		/* Reopen (recovering the WAL), check, keep writing. */
		struct store *s = open_or_fail(dir);
		sqlite3 *db = s ? raw_open(dir) : NULL;
		if (!s || !db) {
			store_close(s);
			sqlite3_close(db);
			free(r);
			return;
		}
		CHECK_MSG(store_check_integrity(s), "seed %u round %d: %s",
			  seed, round, store_error(s));
		sqlite3_stmt *by_id, *by_uri;
		sqlite3_prepare_v2(db, "SELECT uri FROM events WHERE id = ?",
				   -1, &by_id, NULL);
		sqlite3_prepare_v2(db, "SELECT count(*) FROM events WHERE "
				   "uri = ?", -1, &by_uri, NULL);
		int missing = 0, twice = 0;
		for (int i = 0; i < n; i++) {
			char uri[64];
			snprintf(uri, sizeof uri, "crash/%d/%lld", round,
				 (long long)r[i].k);
			sqlite3_bind_int64(by_id, 1, r[i].id);
			const char *u = sqlite3_step(by_id) == SQLITE_ROW ?
				(const char *)sqlite3_column_text(by_id, 0) :
				NULL;
			if (!u || strcmp(u, uri) != 0)
				missing++;
			sqlite3_reset(by_id);
			sqlite3_bind_text(by_uri, 1, uri, -1, SQLITE_STATIC);
			if (sqlite3_step(by_uri) != SQLITE_ROW ||
			    sqlite3_column_int(by_uri, 0) != 1)
				twice++;
			sqlite3_reset(by_uri);
		}
		sqlite3_finalize(by_id);
		sqlite3_finalize(by_uri);
		CHECK_MSG(missing == 0 && twice == 0, "seed %u round %d: %d of "
			  "%d reported events missing, %d not exactly once",
			  seed, round, missing, n, twice);
		/* At most the one the child committed but had not reported. */
		char sql[128];
		snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE "
			 "uri LIKE 'crash/%d/%%'", round);
		long long stored = raw_int(db, sql);
		CHECK_MSG(stored == n || stored == n + 1, "seed %u round %d: "
			  "%lld stored, %d reported", seed, round, stored, n);
		sqlite3_close(db);

		/* The model is whole: the checksum holds. */
		void *blob = NULL;
		size_t size = 0;
		CHECK_MSG(store_load_model(s, &blob, &size), "seed %u round "
			  "%d: %s", seed, round, store_error(s));
		if (blob) {
			models++;
			CHECK_INT(size, 32768);
		}
		free(blob);
		struct store_event e = { 0, 1, "after/crash", STORE_KIND_PLAYED,
					 1, 1, 1, 1, "test", false };
		CHECK_MSG(store_add_event(s, &e), "%s", store_error(s));
		store_close(s);
		free(r);
	}
	printf("     (%d kills, %d events reported as committed and all "
	       "found, %.0f events/s with fsync; model intact after %d "
	       "kills)\n",
	       rounds, total, total / (written_ms / 1e3), models);
}

/* Another process that opens and closes the store while we keep it open must
 * not take the WAL away from us: it deletes the WAL when it thinks it is the
 * last connection, i.e. when it gets an exclusive lock on the database file.
 * Our POSIX locks on that file vanish if this process ever closes *any*
 * descriptor of it (SQLite's "How To Corrupt", 2.2), so store_open() must not
 * open() the file itself once a connection of this process may hold it.
 *
 * The counting process is forked before any connection exists: a child
 * forked with a connection open would share SQLite's in-process lock table
 * and could not see the problem. */
struct counter {
	pid_t pid;
	int cmd, answer;
};

static bool counter_start(struct counter *c, const char *dir)
{
	int to[2], from[2];
	if (pipe(to) != 0 || pipe(from) != 0)
		return false;
	c->pid = fork();
	if (c->pid == 0) {
		close(to[1]);
		close(from[0]);
		char b;
		while (read(to[0], &b, 1) == 1) {
			char err[256];
			struct store *s = store_open(dir, err, sizeof err);
			int64_t all = -1;
			if (s && !store_count_events(s, &all, NULL))
				all = -1;
			store_close(s);
			if (write(from[1], &all, sizeof all) != sizeof all)
				break;
		}
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	c->cmd = to[1];
	c->answer = from[0];
	return c->pid > 0;
}

/* Events the other process counts (it opens and closes the store). */
static int64_t counter_count(struct counter *c)
{
	int64_t all = -2;
	if (write(c->cmd, "c", 1) != 1 ||
	    read(c->answer, &all, sizeof all) != sizeof all)
		return -2;
	return all;
}

static void counter_stop(struct counter *c)
{
	close(c->cmd);
	close(c->answer);
	waitpid(c->pid, NULL, 0);
}

static bool wal_exists(const char *dir)
{
	char p[4200];
	struct stat st;
	snprintf(p, sizeof p, "%s/mpdrec.db-wal", dir);
	return stat(p, &st) == 0;
}

static void test_other_process_keeps_our_wal(void)
{
	const char *dir = dir_for("sharedwal");
	struct counter c = { -1, -1, -1 };
	if (!CHECK(counter_start(&c, dir)))
		return;
	struct store *s = open_or_fail(dir);
	if (!s) {
		counter_stop(&c);
		return;
	}
	struct store_event e = { .time = 1, .uri = "a", .label = 1,
				 .weight = 1, .source = "test" };
	CHECK(store_add_event(s, &e));
	CHECK_INT(counter_count(&c), 1);
	CHECK(wal_exists(dir));
	CHECK(store_add_event(s, &e));
	CHECK_INT(counter_count(&c), 2);

	/* The same with a second connection of this process (the daemon's
	 * analysis thread) opened and closed meanwhile. */
	struct store *t = open_or_fail(dir);
	CHECK(t && store_add_event(t, &e));
	store_close(t);
	CHECK_INT(counter_count(&c), 3);
	CHECK(wal_exists(dir));
	CHECK(store_add_event(s, &e));
	CHECK_INT(counter_count(&c), 4);
	CHECK(store_check_integrity(s));
	store_close(s);
	CHECK_INT(counter_count(&c), 4);
	counter_stop(&c);
}

/* Writers in two threads and a process at once, each with its own store:
 * busy_timeout and BEGIN IMMEDIATE make them wait for each other instead of
 * failing with "database is locked". */
enum { WRITER_EVENTS = 150 };

struct writer {
	const char *dir;
	int who;
	int failed;
	char error[256];
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	char err[256];
	struct store *s = store_open(w->dir, err, sizeof err);
	if (!s) {
		w->failed = WRITER_EVENTS;
		snprintf(w->error, sizeof w->error, "%s", err);
		return NULL;
	}
	for (int i = 0; i < WRITER_EVENTS; i++) {
		char uri[64];
		snprintf(uri, sizeof uri, "w%d/%d", w->who, i);
		struct store_event e = { 0, i, uri, STORE_KIND_PLAYED, 1, 1, 1,
					 1, "watch", false };
		const float v[2] = { (float)i, (float)w->who };
		bool ok = store_add_event(s, &e);
		if (ok && i % 10 == 0)	/* features too: another table */
			ok = store_set_features(s, "t", 1, v, 2, 0);
		int c[4];
		if (ok && i % 7 == 0)
			ok = store_count_tracks(s, c);
		if (!ok && !w->failed++)
			snprintf(w->error, sizeof w->error, "%s",
				 store_error(s));
	}
	store_close(s);
	return NULL;
}

static void test_concurrent_writers(void)
{
	const char *dir = dir_for("concurrent");
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	const struct store_track_info t = { "t", 1, NULL, NULL, NULL, NULL, 0 };
	sync_tracks(s, &t, 1, NULL);
	store_close(s);

	pid_t pid = fork();
	if (pid == 0) {
		struct writer w = { dir, 2, 0, "" };
		writer_run(&w);
		_exit(w.failed ? 1 : 0);
	}
	struct writer w[2] = { { dir, 0, 0, "" }, { dir, 1, 0, "" } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&th[i], NULL, writer_run, &w[i]) == 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CHECK_MSG(w[i].failed == 0, "thread %d: %d failures, first: "
			  "%s", i, w[i].failed, w[i].error);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the writing process failed (status %d)", status);

	s = open_or_fail(dir);
	if (!s)
		return;
	int64_t all = 0;
	CHECK(store_count_events(s, &all, NULL));
	CHECK_INT(all, 3 * WRITER_EVENTS);
	CHECK(store_check_integrity(s));
	store_close(s);
}

/* --- for the commands --------------------------------------------------- */

struct seen_labelled {
	int n, likes;
	char artist[8][32];
};

static bool collect_labelled(const struct store_labelled *e, void *ctx)
{
	struct seen_labelled *x = ctx;
	if (x->n < 8)
		snprintf(x->artist[x->n], 32, "%s", e->artist ? e->artist : "-");
	x->n++;
	x->likes += e->label == 1;
	return true;
}

static bool count_open(const struct store_pick *p, int outcome, void *ctx)
{
	(void)p;
	*(int *)ctx += outcome == STORE_PICK_OPEN;
	return true;
}

static bool copy_tags(const struct store_track_info *t, void *ctx)
{
	snprintf(ctx, 64, "%s|%s|%s", t->artist ? t->artist : "-",
		 t->album ? t->album : "-", t->title ? t->title : "-");
	return true;
}

static bool failed_pair(const char *uri, const char *error, void *ctx)
{
	snprintf(ctx, 128, "%s: %s", uri, error);
	return true;
}

/* Artist and album bans cover tracks synced later too, and lift; unban
 * withdraws the ban's dislike; unlike withdraws likes, keeping events. */
static void test_group_bans_and_undo(void)
{
	const char *dir = dir_for("groups");
	struct store *s = open_or_fail(dir);
	if (!s)
		return;
	sync_tracks(s, lib3, 3, NULL);
	float v[2] = { 1, 2 };
	for (int i = 0; i < 3; i++)
		CHECK(store_set_features(s, lib3[i].uri, 1, v, 2, 100));
	int changed = -1, tracks = -1;
	CHECK(store_ban_group(s, STORE_GROUP_ARTIST, "Artist A", true,
			      &changed));
	CHECK_INT(changed, 1);
	CHECK(store_ban_group(s, STORE_GROUP_ARTIST, "Artist A", true,
			      &changed));
	CHECK_INT(changed, 0);
	CHECK(store_count_group(s, STORE_GROUP_ARTIST, "Artist A", &tracks));
	CHECK_INT(tracks, 1);
	struct store_library *lib = store_load_library(s, 1, 2);
	if (CHECK(lib && lib->n == 3)) {
		CHECK(lib->banned[0] && !lib->banned[1] && !lib->banned[2]);
	}
	store_library_free(lib);
	/* a track of that artist synced later is banned too */
	struct store_track_info more[4] = { lib3[0], lib3[1], lib3[2],
		{ "d/four.flac", 4000, "Artist A", "Other", "Four", NULL, 90 } };
	sync_tracks(s, more, 4, NULL);
	CHECK(store_set_features(s, "d/four.flac", 1, v, 2, 90));
	CHECK(store_ban_group(s, STORE_GROUP_ALBUM, "Other", true, NULL));
	lib = store_load_library(s, 1, 2);
	if (CHECK(lib && lib->n == 4))
		CHECK(lib->banned[0] && lib->banned[3] && !lib->banned[1]);
	store_library_free(lib);
	CHECK(store_ban_group(s, STORE_GROUP_ARTIST, "Artist A", false,
			      &changed));
	CHECK_INT(changed, 1);
	lib = store_load_library(s, 1, 2);
	if (CHECK(lib && lib->n == 4))	/* the album ban still holds */
		CHECK(!lib->banned[0] && lib->banned[3]);
	store_library_free(lib);

	/* unban: the track's ban and its dislike go */
	struct store_event ban = { .time = 10, .uri = "b/two.mp3",
				   .kind = STORE_KIND_BAN, .label = 0,
				   .weight = 3, .source = "cli" };
	struct store_event like = { .time = 11, .uri = "c/three.ogg",
				    .kind = STORE_KIND_PLAYED, .label = 1,
				    .weight = 1, .source = "watch" };
	struct store_event like2 = like;
	like2.time = 12;
	like2.kind = STORE_KIND_LIKE;
	CHECK(store_add_event(s, &ban) && store_add_event(s, &like) &&
	      store_add_event(s, &like2));
	bool banned = false;
	CHECK(store_is_banned(s, "b/two.mp3", &banned) && banned);
	CHECK(store_unban(s, "b/two.mp3", &changed));
	CHECK_INT(changed, 1);
	CHECK(store_is_banned(s, "b/two.mp3", &banned) && !banned);
	CHECK(store_unlike(s, "c/three.ogg", &changed));
	CHECK_INT(changed, 2);
	int64_t all = 0, labelled = -1;
	CHECK(store_count_events(s, &all, &labelled));
	CHECK_INT(all, 3);
	CHECK_INT(labelled, 0);

	/* the labelled events with their tags, the open picks, tags and
	 * failures */
	struct store_event again = like;
	again.time = 13;
	CHECK(store_add_event(s, &again));
	struct seen_labelled x = { 0 };
	CHECK(store_each_labelled(s, collect_labelled, &x));
	CHECK_INT(x.n, 1);
	CHECK_INT(x.likes, 1);
	CHECK_STR(x.artist[0], "Artist C");
	struct store_pick pk = { .time = 1, .uri = "a/one.flac", .score = 0.5,
				 .reason = "r" };
	CHECK(store_add_pick(s, &pk, NULL));
	int open = 0;
	CHECK(store_each_pick(s, count_open, &open));
	CHECK_INT(open, 1);
	char tags[64] = "", failed[128] = "";
	CHECK(store_get_tags(s, "a/one.flac", copy_tags, tags));
	CHECK_STR(tags, "Artist A|Album|One");
	CHECK(!store_get_tags(s, "no/such.flac", copy_tags, tags));
	CHECK(contains(store_error(s), "unknown track"));
	CHECK(store_set_failed(s, "b/two.mp3", "truncated"));
	CHECK(store_each_failed(s, 0, failed_pair, failed));
	CHECK_STR(failed, "b/two.mp3: truncated");
	store_close(s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(test_tracks_round_trip);
	RUN(test_batch_of_results);
	RUN(test_sync_gone_and_mtime);
	RUN(test_events_round_trip);
	RUN(test_picks);
	RUN(test_group_bans_and_undo);
	RUN(test_track_tags);
	RUN(test_model_and_training);
	RUN(test_corrupt_model_refused);
	RUN(test_reopen_and_two_connections);
	RUN(test_other_process_keeps_our_wal);
	RUN(test_concurrent_writers);
	RUN(test_migrate_empty_file);
	RUN(test_newer_schema_refused);
	RUN(test_not_a_database);
	RUN(test_permissions);
	RUN(test_read_only_directory);
	RUN(test_full_database);
	RUN(test_full_disk);
	RUN(test_negative_schema_refused);
	RUN(test_unusable_wal_named);
	RUN(test_corrupt_model_set_aside);
	RUN(test_reserve);
	RUN(test_crash_sigkill);
	return harness_finish();
}
