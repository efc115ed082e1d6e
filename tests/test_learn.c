/* daemon/learn over a real store: the library grows in rounds without
 * being reloaded (and the filler sees the new tracks), tracks that failed
 * or were banned leave or change in place, full retrains come early (4,
 * 8, 12... labels) in the background, the scores are refreshed in the
 * background, a model another process saved (mpdrec train) is taken
 * rather than overwritten, and `mpdrec train` prints no "nan". */
#include "conf/conf.h"
#include "core/model.h"
#include "core/rank.h"
#include "core/store.h"
#include "core/util.h"
#include "daemon/cmd/cmd.h"
#include "daemon/fill.h"
#include "daemon/learn.h"
#include "daemon/log.h"
#include "features/table.h"
#include "tests/lib/harness.h"

#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct conf conf;
static int dir_seq;

/* A fresh data directory with a store. */
static struct store *new_store(char *dir, size_t size)
{
	snprintf(dir, size, "%s/s%d", harness_tmpdir(), dir_seq++);
	char err[512];
	struct store *s = store_open(dir, err, sizeof err);
	CHECK_MSG(s, "%s", err);
	return s;
}

static void uri_of(int i, char *buf, size_t size)
{
	snprintf(buf, size, "folder%d/track%03d.flac", i % 3, i);
}

/* The vector of track i: its first feature says whether it is liked. */
static void vector_of(int i, float *v)
{
	for (int j = 0; j < FEAT_COUNT; j++)
		v[j] = (float)((i * 37 + j * 11) % 17) / 17.0f;
	v[0] = i % 2 ? 0.9f : 0.1f;
}

/* Lists tracks [0, n) and analyses [from, to) of them. */
static bool add_tracks(struct store *s, int n, int from, int to)
{
	char uri[64], artist[32];
	bool ok = store_sync_begin(s);
	for (int i = 0; ok && i < n; i++) {
		uri_of(i, uri, sizeof uri);
		snprintf(artist, sizeof artist, "Artist %d", i);
		struct store_track_info t = { .uri = uri, .mtime = 1,
					      .artist = artist,
					      .duration = 200 };
		ok = store_sync_track(s, &t);
	}
	ok = ok && store_sync_end(s, NULL);
	float v[FEAT_COUNT];
	for (int i = from; ok && i < to; i++) {
		uri_of(i, uri, sizeof uri);
		vector_of(i, v);
		ok = store_set_features(s, uri, FEATURES_VERSION, v,
					features_count(), 200);
	}
	CHECK_MSG(ok, "%s", store_error(s));
	return ok;
}

static void add_event(struct store *s, int i, double t)
{
	char uri[64];
	uri_of(i, uri, sizeof uri);
	struct store_event e = { .time = t, .uri = uri,
				 .kind = i % 2 ? STORE_KIND_PLAYED
					       : STORE_KIND_SKIPPED,
				 .label = i % 2, .weight = 1,
				 .source = "test" };
	CHECK(store_add_event(s, &e));
}

static bool count_training(const struct store_training *t, void *ctx)
{
	(void)t;
	(*(int *)ctx)++;
	return true;
}

static int trainings(struct store *s)
{
	int n = 0;
	CHECK(store_each_training(s, count_training, &n));
	return n;
}

/* Waits for the learner's pipe and collects, until a retrain was swapped
 * in or timeout_s passed. */
static bool wait_retrain(struct learn *l, int fd, double timeout_s)
{
	for (int waited = 0; waited < timeout_s * 10; waited++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) == 1) {
			char buf[64];
			if (read(fd, buf, sizeof buf) < 0)
				return false;
		}
		if (learn_collect(l))
			return true;
	}
	return false;
}

static void test_retrain_schedule(void)
{
	static const int early[] = { 4, 8, 12, 16, 24, 32, 48, 64, 96, 128,
				     192 };
	int k = 0;
	for (int n = 0; n < 200; n++) {
		bool due = k < (int)(sizeof early / sizeof *early) &&
			   n == early[k];
		CHECK_MSG(learn_retrain_due(n, 200) == due, "n = %d", n);
		k += due;
	}
	/* Then every model.retrain_every after the last early one. */
	CHECK(learn_retrain_due(392, 200));
	CHECK(learn_retrain_due(592, 200));
	CHECK(!learn_retrain_due(400, 200));
	CHECK(learn_retrain_due(16, 20) && !learn_retrain_due(24, 20));
	CHECK(learn_retrain_due(36, 20) && learn_retrain_due(56, 20));
	CHECK(!learn_retrain_due(3, 1000));
}

static void test_library_grows_without_reload(void)
{
	char dir[4200], err[256];
	struct store *s = new_store(dir, sizeof dir);
	if (!s || !add_tracks(s, 8, 0, 3))
		return;
	struct learn *l = learn_new(s, &conf, -1, err, sizeof err);
	if (!CHECK_MSG(l, "%s", err)) {
		store_close(s);
		return;
	}
	const struct store_library *lib = learn_library(l);
	CHECK_INT(lib->n, 3);
	const char *first = lib->uri[0];
	char keep[64];
	snprintf(keep, sizeof keep, "%s", first);

	/* Five more analysed: a round adds them. Track 7 is not analysed:
	 * named, but skipped. */
	add_tracks(s, 8, 3, 7);
	char *uris[5];
	char names[5][64];
	for (int i = 0; i < 5; i++) {
		uri_of(3 + i, names[i], sizeof names[i]);
		uris[i] = names[i];
	}
	CHECK_INT(learn_add_tracks(l, (const char *const *)uris, 5, err,
				   sizeof err), 4);
	lib = learn_library(l);
	CHECK_INT(lib->n, 7);
	/* Appended, not reloaded: the first row's string is the same. */
	CHECK(lib->uri[0] == first);
	CHECK_STR(lib->uri[0], keep);
	CHECK(learn_find(l, names[4]) < 0);
	int i6 = learn_find(l, names[3]);
	if (!CHECK(i6 >= 3))
		goto out;
	/* Scored with the model like any other row. */
	const float *mean, *spread;
	CHECK(learn_scores(l, &mean, &spread));
	float m, sp;
	model_score(learn_model(l), lib->x + (size_t)i6 * lib->dim, 1, &m,
		    &sp);
	CHECK_NEAR(mean[i6], m, 1e-6);
	float v[FEAT_COUNT];
	vector_of(6, v);
	CHECK_NEAR(lib->x[(size_t)i6 * lib->dim + 0], v[0], 1e-7);

	/* A track analysed again gets its new vector in place. */
	v[1] = 123.0f;
	CHECK(store_set_features(s, names[3], FEATURES_VERSION, v,
				 features_count(), 200));
	CHECK_INT(learn_add_tracks(l, (const char *const *)&uris[3], 1, err,
				   sizeof err), 1);
	lib = learn_library(l);
	CHECK_INT(lib->n, 7);
	CHECK_NEAR(lib->x[(size_t)i6 * lib->dim + 1], 123.0, 1e-4);

	/* The filler sees them: seven picks from seven tracks. */
	struct fill *f = fill_new(&conf, s, l);
	if (!CHECK(f))
		goto out;
	fill_library_changed(f);
	struct rank_pick picks[7];
	int n = fill_choose(f, NULL, 0, 1e9, 7, picks);
	CHECK_INT(n, 7);
	bool seen_new = false;
	for (int k = 0; k < n; k++)
		seen_new |= !strcmp(lib->uri[picks[k].index], names[3]);
	CHECK(seen_new);
	fill_free(f);
out:
	learn_free(l);
	store_close(s);
}

static void test_reload_drops_failed_and_marks_bans(void)
{
	char dir[4200], err[256], a[64], b[64], c[64];
	struct store *s = new_store(dir, sizeof dir);
	if (!s || !add_tracks(s, 6, 0, 6))
		return;
	struct learn *l = learn_new(s, &conf, -1, err, sizeof err);
	if (!CHECK_MSG(l, "%s", err)) {
		store_close(s);
		return;
	}
	uri_of(1, a, sizeof a);
	uri_of(2, b, sizeof b);
	uri_of(5, c, sizeof c);
	CHECK(store_set_failed(s, a, "broken"));
	struct store_event e = { .time = 1e9, .uri = b,
				 .kind = STORE_KIND_BAN, .label = 0,
				 .weight = 3, .source = "test" };
	CHECK(store_add_event(s, &e));
	CHECK(learn_reload_library(l, err, sizeof err));
	const struct store_library *lib = learn_library(l);
	CHECK_INT(lib->n, 5);
	CHECK(learn_find(l, a) < 0);
	int ib = learn_find(l, b), ic = learn_find(l, c);
	CHECK(ib >= 0 && lib->banned[ib]);
	/* The index follows the row that moved into the hole. */
	CHECK(ic >= 0 && !strcmp(lib->uri[ic], c));
	for (int i = 0; i < lib->n; i++)
		CHECK_INT(learn_find(l, lib->uri[i]), i);
	learn_free(l);
	store_close(s);
}

static void test_early_retrains_in_the_background(void)
{
	char dir[4200], err[256], uri[64];
	struct store *s = new_store(dir, sizeof dir);
	if (!s || !add_tracks(s, 20, 0, 20))
		return;
	int fds[2];
	if (!CHECK(pipe2(fds, O_NONBLOCK) == 0))
		return;
	struct learn *l = learn_new(s, &conf, fds[1], err, sizeof err);
	if (!CHECK_MSG(l, "%s", err))
		goto out;
	int t0 = trainings(s);
	for (int i = 0; i < 3; i++) {
		uri_of(i, uri, sizeof uri);
		add_event(s, i, 1e9 + i);
		CHECK(learn_event(l, uri, i % 2, 1.0, 1e9 + i));
	}
	CHECK_INT(trainings(s), t0);
	uri_of(3, uri, sizeof uri);
	add_event(s, 3, 1e9 + 3);
	CHECK(learn_event(l, uri, 1, 1.0, 1e9 + 3));
	/* At 4 labels: a retrain, in the background. */
	CHECK_MSG(wait_retrain(l, fds[0], 30), "no retrain at 4 labels");
	CHECK_INT(trainings(s), t0 + 1);
	for (int i = 4; i < 7; i++) {
		uri_of(i, uri, sizeof uri);
		add_event(s, i, 1e9 + i);
		CHECK(learn_event(l, uri, i % 2, 1.0, 1e9 + i));
	}
	CHECK(!wait_retrain(l, fds[0], 0.5));
	CHECK_INT(trainings(s), t0 + 1);
	uri_of(7, uri, sizeof uri);
	add_event(s, 7, 1e9 + 7);
	CHECK(learn_event(l, uri, 1, 1.0, 1e9 + 7));
	CHECK_MSG(wait_retrain(l, fds[0], 30), "no retrain at 8 labels");
	CHECK_INT(trainings(s), t0 + 2);
	int labelled, likes;
	learn_counts(l, &labelled, &likes);
	CHECK_INT(labelled, 8);
	CHECK(learn_informed(l, 4));
out:
	learn_free(l);
	store_close(s);
	close(fds[0]);
	close(fds[1]);
}

static void test_scores_refresh_in_the_background(void)
{
	enum { N = 6000 };	/* above what is rescored at once */
	char dir[4200], err[256], uri[64];
	struct store *s = new_store(dir, sizeof dir);
	if (!s || !add_tracks(s, N, 0, N))
		return;
	for (int i = 0; i < 6; i++)
		add_event(s, i, 1e9 + i);
	int fds[2];
	if (!CHECK(pipe2(fds, O_NONBLOCK) == 0))
		return;
	struct learn *l = learn_new(s, &conf, fds[1], err, sizeof err);
	if (!CHECK_MSG(l, "%s", err))
		goto out;
	const float *mean, *spread;
	CHECK(learn_scores(l, &mean, &spread));
	float before = mean[N - 1];
	uri_of(N - 1, uri, sizeof uri);
	/* (one: a seventh label brings no retrain) */
	CHECK(learn_event(l, uri, 1, 1.0, 2e9));
	learn_refresh_scores(l);
	/* Until the rescore is collected the old scores stand. */
	CHECK(learn_scores(l, &mean, &spread));
	CHECK(mean[N - 1] == before);
	bool fresh = false;
	const struct store_library *lib = learn_library(l);
	for (int waited = 0; waited < 300 && !fresh; waited++) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		poll(&p, 1, 100);
		char buf[64];
		if (read(fds[0], buf, sizeof buf) < 0) {
			/* nothing yet */
		}
		learn_collect(l);
		CHECK(learn_scores(l, &mean, &spread));
		float m;
		model_score(learn_model(l), lib->x + (size_t)(N - 1) * lib->dim,
			    1, &m, NULL);
		fresh = fabsf(mean[N - 1] - m) < 1e-6f && mean[N - 1] != before;
	}
	CHECK_MSG(fresh, "the scores were not refreshed");
out:
	learn_free(l);
	store_close(s);
	close(fds[0]);
	close(fds[1]);
}

static bool same_model(struct model *a, struct model *b)
{
	void *x, *y;
	size_t nx, ny;
	char err[256];
	if (!model_save(a, &x, &nx, err, sizeof err))
		return false;
	if (!model_save(b, &y, &ny, err, sizeof err)) {
		free(x);
		return false;
	}
	bool same = nx == ny && memcmp(x, y, nx) == 0;
	free(x);
	free(y);
	return same;
}

static void test_takes_the_model_train_saved(void)
{
	char dir[4200], err[256], uri[64], line[512];
	struct store *s = new_store(dir, sizeof dir);
	if (!s || !add_tracks(s, 12, 0, 12))
		return;
	for (int i = 0; i < 8; i++)
		add_event(s, i, 1e9 + i);
	/* The daemon's learner, then `mpdrec train` in another connection. */
	struct learn *d = learn_new(s, &conf, -1, err, sizeof err);
	struct store *s2 = store_open(dir, err, sizeof err);
	struct learn *t = s2 ? learn_new(s2, &conf, -1, err, sizeof err)
			     : NULL;
	if (!CHECK(d && t))
		goto out;
	add_event(s2, 9, 2e9);	/* t trains on one more than d did */
	CHECK(learn_retrain_now(t, line, sizeof line));
	CHECK(learn_save(t, err, sizeof err));
	CHECK(!same_model(learn_model(d), learn_model(t)));
	/* The daemon's next look takes it. */
	learn_refresh_scores(d);
	CHECK(same_model(learn_model(d), learn_model(t)));
	/* Its save does not overwrite it with an older model. */
	uint64_t stamp_t, stamp;
	CHECK(store_model_stamp(s2, &stamp_t));
	CHECK(learn_save(d, err, sizeof err));
	CHECK(store_model_stamp(s, &stamp));
	CHECK(stamp == stamp_t);
	/* What the daemon learns next is its own, and saved. */
	uri_of(10, uri, sizeof uri);
	CHECK(learn_event(d, uri, 0, 1.0, 2e9));
	CHECK(learn_save(d, err, sizeof err));
	CHECK(store_model_stamp(s, &stamp));
	CHECK(stamp != stamp_t);
out:
	learn_free(t);
	store_close(s2);
	learn_free(d);
	store_close(s);
}

/* A large library's scores are kept for the saved model: the next
 * learner with that model takes them instead of scoring, and one with
 * another model does not. */
static void test_scores_kept_for_the_saved_model(void)
{
	enum { N = 70000 };	/* above what is scored at once */
	char dir[4200], err[256], uri[64], path[4300];
	struct store *s = new_store(dir, sizeof dir);
	if (!s)
		return;
	bool ok = store_sync_begin(s);
	for (int i = 0; ok && i < N; i++) {
		uri_of(i, uri, sizeof uri);
		struct store_track_info t = { .uri = uri, .mtime = 1,
					      .duration = 200 };
		ok = store_sync_track(s, &t);
	}
	ok = ok && store_sync_end(s, NULL) && store_batch_begin(s);
	float v[FEAT_COUNT];
	for (int i = 0; ok && i < N; i++) {
		uri_of(i, uri, sizeof uri);
		vector_of(i, v);
		v[2] = (float)i / N;
		ok = store_set_features(s, uri, FEATURES_VERSION, v,
					features_count(), 200);
	}
	if (!CHECK_MSG(ok && store_batch_end(s), "%s", store_error(s)))
		return;
	for (int i = 0; i < 8; i++)
		add_event(s, i, 1e9 + i);
	int fds[2];
	if (!CHECK(pipe2(fds, O_NONBLOCK) == 0))
		return;
	/* The daemon's learner: scores in the background, then kept. */
	struct learn *d = learn_new(s, &conf, fds[1], err, sizeof err);
	const float *mean, *spread;
	if (!CHECK_MSG(d, "%s", err))
		goto out;
	CHECK(!learn_scores(d, &mean, &spread));	/* not yet */
	for (int waited = 0; waited < 600 && !learn_scores(d, &mean, &spread);
	     waited++) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		poll(&p, 1, 100);
		char buf[64];
		if (read(fds[0], buf, sizeof buf) < 0) {
			/* nothing yet */
		}
		learn_collect(d);
	}
	CHECK(learn_scores(d, &mean, &spread));
	float m_last = mean[N - 1];
	learn_free(d);
	snprintf(path, sizeof path, "%s/scores.cache", dir);
	CHECK_MSG(access(path, R_OK) == 0, "no %s", path);
	/* Mark one row of the file (header: magic, stamp, count; rows:
	 * hash, mean, spread), to see it taken rather than computed. */
	char marked[64];
	uri_of(5, marked, sizeof marked);
	FILE *f = fopen(path, "r+b");
	struct kept_row { uint64_t hash; float mean, spread; } row;
	bool patched = false;
	if (CHECK(f) && fseek(f, 24, SEEK_SET) == 0) {
		while (!patched && fread(&row, sizeof row, 1, f) == 1)
			if (row.hash == util_hash(marked)) {
				row.mean = 0.123f;
				patched = fseek(f, -(long)sizeof row,
						SEEK_CUR) == 0 &&
					  fwrite(&row, sizeof row, 1, f) == 1;
			}
	}
	/* The rows in reverse: the file of a library in another order (the
	 * daemon's, while a command reads the store's). */
	static struct kept_row rows[N];
	bool reversed = false;
	if (f && fseek(f, 24, SEEK_SET) == 0 &&
	    fread(rows, sizeof *rows, N, f) == N) {
		for (int a = 0, b = N - 1; a < b; a++, b--) {
			row = rows[a];
			rows[a] = rows[b];
			rows[b] = row;
		}
		reversed = fseek(f, 24, SEEK_SET) == 0 &&
			   fwrite(rows, sizeof *rows, N, f) == N;
	}
	if (f)
		fclose(f);
	CHECK(patched && reversed);

	/* A command with the same model: the kept scores at once, the same
	 * as the model's, found by their uris. */
	struct learn *c = learn_new(s, &conf, -1, err, sizeof err);
	if (!CHECK_MSG(c, "%s", err))
		goto out;
	CHECK(learn_scores(c, &mean, &spread));
	int i = learn_find(c, marked);
	CHECK(i >= 0 && mean[i] == 0.123f);
	/* Kept again at the command's end, in its library's order, with
	 * the scores it took. */
	const struct store_library *lib = learn_library(c);
	int n_lib = lib ? lib->n : 0;
	char first[64];
	snprintf(first, sizeof first, "%s", lib ? lib->uri[0] : "");
	learn_free(c);
	f = fopen(path, "rb");
	int in_place = 0, marked_kept = 0;
	if (CHECK(f) && fseek(f, 24, SEEK_SET) == 0 &&
	    CHECK(fread(rows, sizeof *rows, N, f) == N)) {
		CHECK(rows[0].hash == util_hash(first));
		for (int k = 0; k < N; k++)
			marked_kept |= rows[k].hash == util_hash(marked) &&
				       rows[k].mean == 0.123f;
		in_place = rows[0].hash == util_hash(first);
	}
	if (f)
		fclose(f);
	CHECK_MSG(in_place && marked_kept && n_lib == N,
		  "scores.cache after a command that read it reversed: first "
		  "row %s the library's first track, the marked score %s",
		  in_place ? "is" : "is not", marked_kept ? "kept" : "lost");
	c = learn_new(s, &conf, -1, err, sizeof err);
	if (!CHECK_MSG(c, "%s", err))
		goto out;
	CHECK(learn_scores(c, &mean, &spread));
	i = learn_find(c, marked);
	CHECK(i >= 0 && mean[i] == 0.123f);
	i = learn_find(c, uri);
	float m;
	if (CHECK(i >= 0)) {
		model_score(learn_model(c),
			    learn_library(c)->x + (size_t)i * FEAT_COUNT, 1, &m,
			    NULL);
		CHECK_NEAR(mean[i], m, 1e-6);
		CHECK_NEAR(mean[i], m_last, 1e-6);
	}
	learn_free(c);
	/* A file cut short by one row: not taken, every track scored. */
	long size = -1;
	f = fopen(path, "rb");
	if (f && fseek(f, 0, SEEK_END) == 0)
		size = ftell(f);
	if (f)
		fclose(f);
	CHECK(size > 16 && truncate(path, size - 16) == 0);
	c = learn_new(s, &conf, -1, err, sizeof err);
	if (!CHECK_MSG(c, "%s", err))
		goto out;
	CHECK(learn_scores(c, &mean, &spread));
	i = learn_find(c, marked);
	if (CHECK(i >= 0)) {
		model_score(learn_model(c),
			    learn_library(c)->x + (size_t)i * FEAT_COUNT, 1, &m,
			    NULL);
		CHECK_MSG(mean[i] == m && m != 0.123f, "a cut file's row was "
			  "taken: %g, the model's %g", mean[i], m);
	}
	/* Another model saved: the file is not its. */
	uri_of(3, uri, sizeof uri);
	CHECK(learn_event(c, uri, 0, 1.0, 2e9));
	CHECK(learn_save(c, err, sizeof err));
	learn_free(c);
	c = learn_new(s, &conf, -1, err, sizeof err);
	if (!CHECK_MSG(c, "%s", err))
		goto out;
	CHECK(learn_scores(c, &mean, &spread));
	uri_of(N - 1, uri, sizeof uri);
	i = learn_find(c, uri);
	if (CHECK(i >= 0)) {
		model_score(learn_model(c),
			    learn_library(c)->x + (size_t)i * FEAT_COUNT, 1, &m,
			    NULL);
		CHECK_NEAR(mean[i], m, 1e-6);
		CHECK(fabsf(mean[i] - m_last) > 1e-7f);
	}
	learn_free(c);
out:
	store_close(s);
	close(fds[0]);
	close(fds[1]);
}

/* Runs cmd_train with its standard output and error in `out`. */
static int run_train(const char *data, const char *out)
{
	struct conf c = conf;
	c.data_directory = (char *)data;
	fflush(stdout);
	fflush(stderr);
	int so = dup(STDOUT_FILENO), se = dup(STDERR_FILENO);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	optind = 1;
	char *argv[] = { "train", NULL };
	int rc = cmd_train(1, argv, &c);
	fflush(stdout);
	fflush(stderr);
	dup2(so, STDOUT_FILENO);
	dup2(se, STDERR_FILENO);
	close(so);
	close(se);
	return rc;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = calloc(1, 1 << 16);
	if (buf)
		buf[fread(buf, 1, (1 << 16) - 1, f)] = 0;
	fclose(f);
	return buf;
}

static void test_train_says_why_a_metric_is_missing(void)
{
	char dir[4200], out[4300];
	struct store *s = new_store(dir, sizeof dir);
	if (!s || !add_tracks(s, 6, 0, 6))
		return;
	for (int i = 0; i < 3; i++)
		add_event(s, i, 1e9 + i);
	store_close(s);
	snprintf(out, sizeof out, "%s/train.txt", dir);
	CHECK_INT(run_train(dir, out), 0);
	char *text = slurp(out);
	if (!CHECK(text))
		return;
	CHECK_MSG(strstr(text, "trained on 3 events"), "%s", text);
	CHECK_MSG(!strstr(text, "nan"), "%s", text);
	CHECK_MSG(strstr(text, "too few labels"), "%s", text);
	CHECK_MSG(strstr(text, "running daemon"), "%s", text);
	free(text);

	/* Likes only: no model, and the reason. */
	s = new_store(dir, sizeof dir);
	if (!s || !add_tracks(s, 6, 0, 6))
		return;
	add_event(s, 1, 1e9);
	add_event(s, 3, 1e9 + 1);
	store_close(s);
	snprintf(out, sizeof out, "%s/train.txt", dir);
	CHECK_INT(run_train(dir, out), 1);
	text = slurp(out);
	if (!CHECK(text))
		return;
	CHECK_MSG(strstr(text, "all likes") && !strstr(text, "nan"), "%s",
		  text);
	free(text);
}

int main(void)
{
	log_threshold = LOG_WARNING;
	if (!conf_defaults(&conf))
		return 1;
	conf.queue.artist_spacing = 0;
	RUN(test_retrain_schedule);
	RUN(test_library_grows_without_reload);
	RUN(test_reload_drops_failed_and_marks_bans);
	RUN(test_early_retrains_in_the_background);
	RUN(test_scores_refresh_in_the_background);
	RUN(test_takes_the_model_train_saved);
	RUN(test_scores_kept_for_the_saved_model);
	RUN(test_train_says_why_a_metric_is_missing);
	conf_free(&conf);
	return harness_finish();
}
