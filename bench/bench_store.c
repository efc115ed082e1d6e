/* Benchmarks of core/store, each printed as figure, baseline measured in the
 * same run, ratio and target:
 *
 *  event    store_add_event() (one durable transaction each, fsync'd WAL)
 *           against a bare prepared INSERT in BEGIN IMMEDIATE/COMMIT with
 *           the same pragmas: the cost of the store's own code
 *  sync     a library sync of 10,000 tracks (one transaction) against the
 *           same rows inserted by bare SQLite
 *  library  store_load_library() of 10,000 × 40 floats against a bare
 *           SELECT reading the same blobs
 *  lib-fast store_load_library_with(no sort, no titles), the daemon's
 *           load, against reading the feature blobs alone (bench_scale
 *           measures it at 100,000 and 1,000,000 tracks)
 *
 * Runs in $TMPDIR (the figures depend on its file system and disk).
 * Exit status 0 unless something could not run.
 */
#include "core/store.h"
#include "tests/lib/harness.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { EVENTS = 1000, TRACKS = 10000, DIM = 40 };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static sqlite3 *bare_open(const char *path)
{
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return NULL;
	sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
		     "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY "
		     "KEY, time REAL, uri TEXT, kind INTEGER, played REAL, "
		     "duration REAL, label INTEGER, weight REAL, source TEXT, "
		     "queued INTEGER);"
		     "CREATE INDEX IF NOT EXISTS events_time ON events(time);"
		     "CREATE INDEX IF NOT EXISTS events_uri ON events(uri);"
		     "CREATE TABLE IF NOT EXISTS tracks (uri TEXT PRIMARY KEY, "
		     "mtime INTEGER, artist TEXT, title TEXT, duration REAL, "
		     "features BLOB);", NULL, NULL, NULL);
	return db;
}

static void report(const char *name, const char *unit, double figure,
		   double baseline, double target)
{
	printf("%-8s %10.1f %s  baseline %10.1f %s  ratio %.2f  "
	       "(target >= %.2f)\n", name, figure, unit, baseline, unit,
	       figure / baseline, target);
}

int main(void)
{
	char dir[4200], bare[4300], err[512];
	snprintf(dir, sizeof dir, "%s/store", harness_tmpdir());
	snprintf(bare, sizeof bare, "%s/bare.db", harness_tmpdir());
	struct store *s = store_open(dir, err, sizeof err);
	sqlite3 *db = bare_open(bare);
	if (!s || !db) {
		fprintf(stderr, "bench_store: cannot open: %s\n", err);
		return 1;
	}

	/* event: blocks of 50, alternating, so both see the same disk */
	sqlite3_stmt *ins;
	sqlite3_prepare_v2(db, "INSERT INTO events(time, uri, kind, played, "
			   "duration, label, weight, source, queued) "
			   "VALUES(?, ?, 0, 200, 210, 1, 1, 'watch', 1)", -1,
			   &ins, NULL);
	double store_time = 0, bare_time = 0, t0;
	for (int b = 0; b < EVENTS; b += 50) {
		t0 = now();
		for (int i = b; i < b + 50; i++) {
			struct store_event e = {
				0, i, "some/artist/album/track.flac",
				STORE_KIND_PLAYED, 200, 210, 1, 1, "watch",
				true };
			if (!store_add_event(s, &e)) {
				fprintf(stderr, "%s\n", store_error(s));
				return 1;
			}
		}
		store_time += now() - t0;
		t0 = now();
		for (int i = b; i < b + 50; i++) {
			sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
			sqlite3_bind_double(ins, 1, i);
			sqlite3_bind_text(ins, 2, "some/artist/album/track.flac",
					  -1, SQLITE_STATIC);
			sqlite3_step(ins);
			sqlite3_reset(ins);
			sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		}
		bare_time += now() - t0;
	}
	sqlite3_finalize(ins);
	report("event", "ev/s", EVENTS / store_time, EVENTS / bare_time, 0.8);

	/* sync */
	float *v = malloc(DIM * sizeof *v);
	for (int j = 0; j < DIM; j++)
		v[j] = (float)j * 0.25f;
	t0 = now();
	store_sync_begin(s);
	for (int i = 0; i < TRACKS; i++) {
		char uri[64];
		snprintf(uri, sizeof uri, "artist%d/album%d/%05d.flac",
			 i % 300, i % 1000, i);
		struct store_track_info t = { uri, 1600000000 + i, "Artist",
					      "Album", "Title", "Genre", 200 };
		store_sync_track(s, &t);
	}
	int gone;
	if (!store_sync_end(s, &gone)) {
		fprintf(stderr, "%s\n", store_error(s));
		return 1;
	}
	double store_sync = TRACKS / (now() - t0);
	sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO tracks(uri, mtime, "
			   "artist, title, duration, features) VALUES(?, ?, "
			   "'Artist', 'Title', 200, ?)", -1, &ins, NULL);
	t0 = now();
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	for (int i = 0; i < TRACKS; i++) {
		char uri[64];
		snprintf(uri, sizeof uri, "artist%d/album%d/%05d.flac",
			 i % 300, i % 1000, i);
		sqlite3_bind_text(ins, 1, uri, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins, 2, 1600000000 + i);
		sqlite3_bind_blob(ins, 3, v, DIM * 4, SQLITE_STATIC);
		sqlite3_step(ins);
		sqlite3_reset(ins);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	double bare_sync = TRACKS / (now() - t0);
	sqlite3_finalize(ins);
	report("sync", "tr/s", store_sync, bare_sync, 0.5);

	/* library: analyse every track first (one transaction each) */
	t0 = now();
	for (int i = 0; i < TRACKS; i++) {
		char uri[64];
		snprintf(uri, sizeof uri, "artist%d/album%d/%05d.flac",
			 i % 300, i % 1000, i);
		if (!store_set_features(s, uri, 1, v, DIM, 200)) {
			fprintf(stderr, "%s\n", store_error(s));
			return 1;
		}
	}
	double features_rate = TRACKS / (now() - t0);
	t0 = now();
	struct store_library *lib = store_load_library(s, 1, DIM);
	double store_load = now() - t0;
	if (!lib || lib->n != TRACKS) {
		fprintf(stderr, "library: %s\n", lib ? "short" : store_error(s));
		return 1;
	}
	store_library_free(lib);
	sqlite3_stmt *sel;
	sqlite3_prepare_v2(db, "SELECT uri, artist, title, duration, features "
			   "FROM tracks ORDER BY uri", -1, &sel, NULL);
	float *x = malloc((size_t)TRACKS * DIM * sizeof *x);
	t0 = now();
	int n = 0;
	while (sqlite3_step(sel) == SQLITE_ROW && n < TRACKS) {
		free(strdup((const char *)sqlite3_column_text(sel, 0)));
		memcpy(x + (size_t)n * DIM, sqlite3_column_blob(sel, 4),
		       DIM * 4);
		n++;
	}
	double bare_load = now() - t0;
	sqlite3_finalize(sel);
	report("library", "tr/s", TRACKS / store_load, n / bare_load, 0.4);
	/* The daemon's load: in the store's order, no titles, against the
	 * feature blobs alone as SQLite hands them out. */
	t0 = now();
	lib = store_load_library_with(s, 1, DIM, 0);
	double fast_load = now() - t0;
	if (!lib || lib->n != TRACKS) {
		fprintf(stderr, "library: %s\n", lib ? "short" : store_error(s));
		return 1;
	}
	store_library_free(lib);
	char store_db[4300];
	snprintf(store_db, sizeof store_db, "%s/mpdrec.db", dir);
	sqlite3 *raw;
	sqlite3_open(store_db, &raw);
	sqlite3_prepare_v2(raw, "SELECT features FROM tracks", -1, &sel, NULL);
	t0 = now();
	n = 0;
	long bytes = 0;
	while (sqlite3_step(sel) == SQLITE_ROW) {
		bytes += sqlite3_column_bytes(sel, 0);
		n++;
	}
	double blobs = now() - t0;
	sqlite3_finalize(sel);
	sqlite3_close(raw);
	if (bytes != (long)TRACKS * DIM * 4)
		fprintf(stderr, "library: %ld bytes of blobs\n", bytes);
	report("lib-fast", "tr/s", TRACKS / fast_load, n / blobs, 0.3);
	printf("set_features: %.0f tracks/s (one durable transaction each)\n",
	       features_rate);
	free(x);
	free(v);
	sqlite3_close(db);
	store_close(s);
	return 0;
}
