/* library.cache (issue 18.4): a library read through the cache is the
 * library SQLite holds, field by field; any change of what a load reads
 * makes the next load read SQLite again; a scan that changes nothing does
 * not; a torn, cut or changed file is never used; and a library mapped
 * from the file can grow, lose rows and be freed like any other. */
#include "core/store.h"
#include "core/tempfile.h"
#include "tests/lib/harness.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VERSION 7
#define DIM 5
#define TRACKS 300
#define FLAGS (STORE_LIBRARY_TAGS | STORE_LIBRARY_TITLES | STORE_LIBRARY_CACHE)

static char dir[4096], cache[4200];

static void track_info(int i, char *uri, size_t size,
		       struct store_track_info *t)
{
	snprintf(uri, size, "artist%02d/album%03d/%04d-t.ogg", i / 30,
		 i / 10, i);
	static char artist[TRACKS][24], album[TRACKS][24], title[TRACKS][24];
	snprintf(artist[i], sizeof artist[i], "Artist %d", i / 30);
	snprintf(album[i], sizeof album[i], "Album %d", i / 10);
	snprintf(title[i], sizeof title[i], "Title %d", i);
	*t = (struct store_track_info){
		.uri = uri, .mtime = 1000 + i,
		/* Some untagged: NULLs go through the file too. */
		.artist = i % 17 == 3 ? NULL : artist[i],
		.album = i % 13 == 5 ? NULL : album[i],
		.title = i % 11 == 7 ? NULL : title[i],
		.genre = i % 3 ? "Rock" : "Jazz",
		.duration = 100 + i,
	};
}

/* The library's tracks synced and analysed (x[j] = i + j / 10). */
static bool build(struct store *s, int n)
{
	char uri[TRACKS][64];
	struct store_track_info t[TRACKS];
	bool ok = store_sync_begin(s);
	for (int i = 0; ok && i < n; i++) {
		track_info(i, uri[i], sizeof uri[i], &t[i]);
		ok = store_sync_track(s, &t[i]);
	}
	ok = ok && store_sync_end(s, NULL) && store_batch_begin(s);
	for (int i = 0; ok && i < n; i++) {
		float v[DIM];
		for (int j = 0; j < DIM; j++)
			v[j] = (float)i + (float)j / 10;
		ok = store_set_features(s, uri[i], VERSION, v, DIM, 100 + i);
	}
	return store_batch_end(s) && ok;
}

static const char *tag_of(const struct store_library *l, const int32_t *v,
			  int i)
{
	return v[i] < 0 ? "(none)" : l->tags[v[i]];
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Whether a and b hold the same tracks with the same fields (in their own
 * orders), with why in why. */
static bool same_library(const struct store_library *a,
			 const struct store_library *b, char *why,
			 size_t size)
{
	if (a->n != b->n || a->dim != b->dim) {
		snprintf(why, size, "%d and %d tracks", a->n, b->n);
		return false;
	}
	for (int i = 0; i < a->n; i++) {
		int k = 0;
		while (k < b->n && strcmp(b->uri[k], a->uri[i]))
			k++;
		if (k == b->n) {
			snprintf(why, size, "%s missing", a->uri[i]);
			return false;
		}
		bool same = same_text(a->artist[i], b->artist[k]) &&
			    (!a->title || same_text(a->title[i],
						    b->title[k])) &&
			    !strcmp(tag_of(a, a->album, i),
				    tag_of(b, b->album, k)) &&
			    !strcmp(tag_of(a, a->genre, i),
				    tag_of(b, b->genre, k)) &&
			    a->duration[i] == b->duration[k] &&
			    a->banned[i] == b->banned[k] &&
			    !memcmp(a->x + (size_t)i * DIM,
				    b->x + (size_t)k * DIM, DIM * sizeof(float));
		if (!same) {
			snprintf(why, size, "%s differs", a->uri[i]);
			return false;
		}
	}
	return true;
}

/* Loads through the cache (keeping it when read from SQLite), checks it
 * against a load from SQLite alone; returns whether the cache was read. */
static bool load_and_compare(struct store *s, const char *what)
{
	struct store_library *lib = store_load_library_with(s, VERSION, DIM,
							    FLAGS);
	uint64_t gen = 0;
	char why[512] = "";
	bool cached = store_library_cached(s, &gen, why, sizeof why);
	struct store_library *rows = store_load_library_with(
		s, VERSION, DIM, STORE_LIBRARY_TAGS | STORE_LIBRARY_TITLES);
	char diff[256] = "";
	CHECK_MSG(lib && rows && same_library(lib, rows, diff, sizeof diff),
		  "%s: the library %s differs from SQLite's: %s", what,
		  cached ? "read from library.cache" : "read from SQLite",
		  diff);
	if (lib && !cached)
		CHECK_MSG(store_keep_library(s, lib, VERSION, gen) == 1,
			  "%s: not kept: %s", what, store_error(s));
	store_library_free(lib);
	store_library_free(rows);
	return cached;
}

static bool patch_file(const char *path, long at, unsigned char xor_with)
{
	int fd = open(path, O_RDWR);
	unsigned char b = 0;
	bool ok = fd >= 0 && pread(fd, &b, 1, at) == 1;
	b ^= xor_with;
	ok = ok && pwrite(fd, &b, 1, at) == 1;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The whole file, malloc'd (size in *n), or NULL. */
static unsigned char *slurp(const char *path, long *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *v = NULL;
	*n = 0;
	if (f && fseek(f, 0, SEEK_END) == 0 && (*n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (v = malloc((size_t)*n)) &&
	    fread(v, 1, (size_t)*n, f) != (size_t)*n) {
		free(v);
		v = NULL;
	}
	if (f)
		fclose(f);
	return v;
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_read_back_and_invalidated(void)
{
	char err[512];
	struct store *s = store_open(dir, err, sizeof err);
	if (!CHECK_MSG(s, "%s", err) || !CHECK(build(s, TRACKS))) {
		store_close(s);
		return;
	}
	store_set_cache_min(s, 0);
	CHECK_MSG(!load_and_compare(s, "first load"), "a cache before any");
	CHECK_MSG(file_size(cache) > 0, "no %s after a load from SQLite",
		  cache);
	struct stat st;
	CHECK(stat(cache, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_MSG(load_and_compare(s, "second load"), "the cache unused");

	/* A scan that changes nothing keeps it. */
	CHECK(build(s, TRACKS));
	CHECK_MSG(load_and_compare(s, "after a scan of the same tracks"),
		  "a scan that changed nothing dropped the cache");

	/* Each change of what a load reads: SQLite again, then the cache. */
	const char *changes[] = { "a new vector", "an album ban",
				  "a track gone" };
	for (size_t k = 0; k < sizeof changes / sizeof changes[0]; k++) {
		bool ok;
		int changed;
		if (k == 0) {
			float v[DIM] = { 9, 9, 9, 9, 9 };
			char uri[64];
			struct store_track_info t;
			track_info(42, uri, sizeof uri, &t);
			ok = store_set_features(s, uri, VERSION, v, DIM, 142);
		} else if (k == 1) {
			ok = store_ban_group(s, STORE_GROUP_ALBUM, "Album 7",
					     true, &changed);
		} else {
			/* A sync without the last 10 tracks. */
			ok = build(s, TRACKS - 10);
		}
		CHECK_MSG(ok, "%s: %s", changes[k], store_error(s));
		CHECK_MSG(!load_and_compare(s, changes[k]),
			  "the cache was read after %s", changes[k]);
		CHECK_MSG(load_and_compare(s, changes[k]),
			  "the cache was not kept after %s", changes[k]);
	}

	/* A changed byte anywhere, or a file cut short: never read. */
	long size = file_size(cache);
	long at[] = { 100, size / 2, size - 5 };
	for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
		CHECK(patch_file(cache, at[k], 0x20));
		char why[512] = "";
		struct store_library *lib = store_load_library_with(
			s, VERSION, DIM, FLAGS);
		bool cached = store_library_cached(s, NULL, why, sizeof why);
		CHECK_MSG(lib && !cached, "a cache changed at byte %ld of %ld "
			  "was read", at[k], size);
		CHECK_MSG(strstr(why, "changed on disk"), "why: %s", why);
		store_library_free(lib);
		CHECK(patch_file(cache, at[k], 0x20));
		CHECK(load_and_compare(s, "the byte put back"));
	}
	/* A writer killed midway left its temporary file: reused, gone. */
	char tmp[4300];
	snprintf(tmp, sizeof tmp, "%s.tmp", cache);
	FILE *f = fopen(tmp, "w");
	CHECK(f && fputs("a writer was killed here", f) >= 0);
	if (f)
		fclose(f);
	CHECK(truncate(cache, size - 4096) == 0);
	CHECK_MSG(!load_and_compare(s, "a file cut short"),
		  "a file cut short was read");
	CHECK(load_and_compare(s, "after it was kept again"));
	CHECK_MSG(file_size(tmp) < 0, "%s left behind", tmp);

	/* Loaded without titles from a file with them. */
	struct store_library *lib = store_load_library_with(
		s, VERSION, DIM, STORE_LIBRARY_TAGS | STORE_LIBRARY_CACHE);
	CHECK(lib && store_library_cached(s, NULL, NULL, 0) && !lib->title);
	store_library_free(lib);

	/* Below the size from which it is kept, the file goes. */
	store_set_cache_min(s, TRACKS * 2);
	lib = store_load_library_with(s, VERSION, DIM, FLAGS);
	CHECK(lib != NULL);
	store_library_free(lib);
	int changed;
	CHECK(store_ban_group(s, STORE_GROUP_ALBUM, "Album 8", true,
			      &changed));
	lib = store_load_library_with(s, VERSION, DIM, FLAGS);
	uint64_t gen;
	CHECK(lib && !store_library_cached(s, &gen, NULL, 0));
	CHECK(lib && store_keep_library(s, lib, VERSION, gen) == 0);
	CHECK_MSG(file_size(cache) < 0, "a cache kept for %d tracks",
		  lib ? lib->n : -1);
	store_library_free(lib);
	store_close(s);
}

/* A library mapped from the file grows (its arrays move to the heap),
 * loses a row and is freed (AddressSanitizer watches). */
static void test_mapped_library_changes(void)
{
	char err[512];
	struct store *s = store_open(dir, err, sizeof err);
	if (!CHECK_MSG(s, "%s", err))
		return;
	store_set_cache_min(s, 0);
	CHECK(build(s, TRACKS - 1));
	load_and_compare(s, "kept");
	struct store_library *lib = store_load_library_with(s, VERSION, DIM,
							    FLAGS);
	if (!CHECK(lib && store_library_cached(s, NULL, NULL, 0))) {
		store_library_free(lib);
		store_close(s);
		return;
	}
	long n_before, n_after;
	unsigned char *before = slurp(cache, &n_before);
	CHECK(before != NULL);
	/* A ban flag written in place: the file is not. */
	bool was = lib->banned[0];
	lib->banned[0] = !was;
	CHECK(build(s, TRACKS));
	char uri[64];
	struct store_track_info t;
	track_info(TRACKS - 1, uri, sizeof uri, &t);
	CHECK(store_library_update(s, lib, VERSION, uri, -1) ==
	      STORE_ROW_ADDED);
	CHECK(lib->n == TRACKS && !strcmp(lib->uri[TRACKS - 1], uri) &&
	      lib->x[(size_t)(TRACKS - 1) * DIM] == (float)(TRACKS - 1));
	CHECK(lib->banned[0] == !was);
	lib->banned[0] = was;
	store_library_remove(lib, 0);
	CHECK(lib->n == TRACKS - 1 && !strcmp(lib->uri[0], uri) &&
	      lib->x[0] == (float)(TRACKS - 1));
	struct store_library *rows = store_load_library_with(
		s, VERSION, DIM, STORE_LIBRARY_TAGS | STORE_LIBRARY_TITLES);
	CHECK(rows && rows->n == TRACKS);
	store_library_free(rows);
	store_library_free(lib);
	/* The file itself was never written through the map. */
	unsigned char *after = slurp(cache, &n_after);
	CHECK_MSG(before && after && n_before == n_after &&
		  !memcmp(before, after, (size_t)n_before),
		  "library.cache changed through a mapped library");
	free(before);
	free(after);
	CHECK(!load_and_compare(s, "after the append"));
	CHECK(load_and_compare(s, "kept again"));
	store_close(s);
}

/* The temporary file beside library.cache: what a writer killed midway
 * left is taken and emptied; while another holds it, a load goes on
 * without writing the cache; once let go, the next load writes it. */
static void test_temp_file_locked_and_reused(void)
{
	char err[512], tmp[4300];
	snprintf(tmp, sizeof tmp, "%s.tmp", cache);
	struct store *s = store_open(dir, err, sizeof err);
	if (!CHECK_MSG(s, "%s", err) || !CHECK(build(s, TRACKS))) {
		store_close(s);
		return;
	}
	store_set_cache_min(s, 0);
	FILE *f = fopen(tmp, "w");
	if (!CHECK(f))
		goto out;
	fputs("half a library", f);
	fclose(f);
	int fd = tempfile_open(tmp);
	CHECK(fd >= 0 && file_size(tmp) == 0);
	CHECK(tempfile_open(tmp) == TEMPFILE_BUSY);
	unlink(cache);
	CHECK_MSG(!load_and_compare(s, "while the temporary file is held"),
		  "a cache used that was removed");
	CHECK_MSG(file_size(cache) < 0, "library.cache written while "
		  "another writer held its temporary file");
	if (fd >= 0)
		close(fd);	/* a writer killed: the file stays */
	CHECK(!load_and_compare(s, "once let go"));
	CHECK_MSG(file_size(cache) > 0, "no library.cache after the holder "
		  "let go");
	CHECK(load_and_compare(s, "then"));
out:
	store_close(s);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s/data", harness_tmpdir());
	snprintf(cache, sizeof cache, "%s/library.cache", dir);
	RUN(test_read_back_and_invalidated);
	RUN(test_mapped_library_changes);
	RUN(test_temp_file_locked_and_reused);
	return harness_finish();
}
