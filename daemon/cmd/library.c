/* What mpdrec knows of the library: show (the named features of one track)
 * and export (every vector as CSV). */
#include "conf/conf.h"
#include "core/store.h"
#include "daemon/cmd/cmd.h"
#include "daemon/scan.h"
#include "features/analyze.h"
#include "features/table.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- show --------------------------------------------------------------- */

static const char *status_name(enum store_status s)
{
	switch (s) {
	case STORE_PENDING:
		return "pending (not analysed yet: run 'mpdrec analyze')";
	case STORE_ANALYSED:
		return "analysed";
	case STORE_FAILED:
		return "failed";
	case STORE_GONE:
		return "gone from MPD's database";
	}
	return "?";
}

static void print_vector(const float *v)
{
	for (int i = 0; i < features_count(); i++) {
		const struct feature_info *f = features_info(i);
		printf("%-18s %12.6g %-5s %s\n", f->name, v[i], f->unit,
		       f->help);
	}
}

static bool print_tags(const struct store_track_info *t, void *ctx)
{
	(void)ctx;
	static const char *const names[] = { "artist", "album", "title",
					     "genre" };
	const char *values[] = { t->artist, t->album, t->title, t->genre };
	for (int k = 0; k < 4; k++)
		printf("%s: %s\n", names[k], values[k] ? values[k]
							: "(no tag)");
	if (t->duration > 0)
		printf("duration: %d:%02d\n", (int)t->duration / 60,
		       (int)t->duration % 60);
	return true;
}

/* Turns what the user typed into a URI of MPD's database: a path to a file
 * under music_directory (absolute, relative to the current directory, or
 * through a symbolic link to the directory) loses that prefix; anything
 * that is not an existing file is taken as a URI. Returns false after
 * printing why when it is a file outside music_directory. */
static bool to_uri(const char *what, const struct conf *c, char *uri,
		   size_t size)
{
	struct stat st;
	bool file = stat(what, &st) == 0 && S_ISREG(st.st_mode);
	if (!file || (what[0] != '/' && !c->music_directory)) {
		snprintf(uri, size, "%s", what);
		return true;
	}
	const char *dir = c->music_directory;
	if (dir) {
		/* As typed: music_directory/...; symlinked files keep the
		 * name MPD knows them by. */
		char abs[4096];
		if (what[0] == '/')
			snprintf(abs, sizeof abs, "%s", what);
		else if (getcwd(abs, sizeof abs))
			snprintf(abs + strlen(abs), sizeof abs - strlen(abs),
				 "/%s", what);
		size_t n = strlen(dir);
		while (n > 1 && dir[n - 1] == '/')
			n--;
		if (!strncmp(abs, dir, n) && abs[n] == '/') {
			snprintf(uri, size, "%s", abs + n + 1);
			return true;
		}
		/* Resolved: the file's directory against the music
		 * directory, both without symbolic links. */
		char real_dir[4096], parent[4096], real_parent[4096];
		snprintf(parent, sizeof parent, "%s", abs);
		char *slash = strrchr(parent, '/');
		if (slash && realpath(dir, real_dir)) {
			*slash = '\0';
			n = strlen(real_dir);
			if (realpath(parent[0] ? parent : "/", real_parent) &&
			    !strncmp(real_parent, real_dir, n) &&
			    (real_parent[n] == '/' || !real_parent[n])) {
				snprintf(uri, size, "%s%s%s",
					 real_parent[n] ? real_parent + n + 1
							: "",
					 real_parent[n] ? "/" : "", slash + 1);
				return true;
			}
		}
	}
	fprintf(stderr, "mpdrec show: %s is not under music_directory (%s): "
		"mpdrec only knows MPD's files; 'mpdrec show --file %s' "
		"analyses any file\n", what, dir ? dir : "unset", what);
	return false;
}

int cmd_show(int argc, char **argv, const struct conf *c)
{
	static const struct option opts[] = {
		{ "file", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	bool file = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (opt == 'f')
			file = true;
		else
			return 2;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: mpdrec show URI | PATH-UNDER-"
				"MUSIC-DIRECTORY\n"
				"       mpdrec show --file PATH  (analyse a "
				"file now, store nothing)\n");
		return 2;
	}
	const char *what = argv[optind];
	float v[FEAT_COUNT];
	char err[512];
	if (file) {
		double dur;
		const struct analyze_opts ao = {
			.max_seconds = c->analysis.max_seconds,
			.timeout_s = SCAN_FILE_TIMEOUT,
		};
		if (!analyze_file(what, &ao, v, &dur, err, sizeof err)) {
			fprintf(stderr, "mpdrec show: %s: %s\n", what, err);
			return 1;
		}
		printf("%s\n", what);
		print_vector(v);
		return 0;
	}
	char uri[4096];
	if (!to_uri(what, c, uri, sizeof uri))
		return 1;
	struct store *s = store_open(c->data_directory, err, sizeof err);
	if (!s) {
		fprintf(stderr, "mpdrec: %s\n", err);
		return 1;
	}
	enum store_status status;
	char *error = NULL;
	int rc = 1;
	if (!store_get_track(s, uri, FEATURES_VERSION, FEAT_COUNT, v, &status,
			     &error)) {
		fprintf(stderr, "mpdrec show: %s is not in mpdrec's library "
			"(a URI of MPD's database, or a file under "
			"music_directory, that 'mpdrec analyze' or the daemon "
			"has seen; 'mpdrec show --file PATH' analyses any "
			"file)\n", uri);
		goto out;
	}
	printf("%s\n", uri);
	store_get_tags(s, uri, print_tags, NULL);
	printf("status: %s\n", status_name(status));
	if (status == STORE_FAILED)
		printf("reason: %s\n", error ? error : "(none recorded)");
	if (status == STORE_ANALYSED) {
		print_vector(v);
		rc = 0;
	}
out:
	free(error);
	store_close(s);
	return rc;
}

/* --- export ------------------------------------------------------------- */

/* RFC 4180: quoted when it holds a comma, a quote or a line break. */
static void csv_text(FILE *f, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static int by_uri(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads export's options: 0, or 2 after a usage line. */
static int parse_export_options(int argc, char **argv, bool *all)
{
	static const struct option opts[] = {
		{ "csv", no_argument, NULL, 'c' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	bool csv = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'c')
			csv = true;
		else if (opt == 'a')
			*all = true;
		else
			return 2;
	}
	if (!csv || argc - optind > 1) {
		fprintf(stderr, "usage: mpdrec export --csv [--all] [FILE]  "
				"(FILE absent or '-': standard output)\n"
				"  the tracks you liked or skipped, with a "
				"label (1 liked, 0 skipped) that\n"
				"  'mpdrec eval --label label' reads; --all: "
				"every analysed track, the label\n"
				"  empty where there is none\n");
		return 2;
	}
	return 0;
}

/* The label of each library track (1 liked, 0 skipped, -1 none): that of
 * its latest labelled event; examples come oldest first, the library sorted
 * by URI. Caller frees; NULL when out of memory. */
static signed char *latest_labels(const struct store_library *lib,
				  const struct store_examples *ex)
{
	signed char *label = malloc((size_t)(lib->n > 0 ? lib->n : 1));
	if (!label)
		return NULL;
	memset(label, -1, (size_t)(lib->n > 0 ? lib->n : 1));
	for (int i = 0; i < ex->n; i++) {
		char **hit = bsearch(&ex->uri[i], lib->uri, (size_t)lib->n,
				     sizeof *lib->uri, by_uri);
		if (hit)
			label[hit - lib->uri] = ex->y[i] >= 0.5f ? 1 : 0;
	}
	return label;
}

/* Writes the header and a row per labelled track (every track with all) to
 * f. Returns the rows written. */
static int write_csv(FILE *f, const struct store_library *lib,
		     const signed char *label, bool all)
{
	fputs("uri,artist,title", f);
	for (int j = 0; j < features_count(); j++)
		fprintf(f, ",%s", features_info(j)->name);
	fputs(",label\r\n", f);
	int rows = 0;
	for (int i = 0; i < lib->n; i++) {
		/* eval needs a label on every row: unheard tracks only on
		 * request. */
		if (label[i] < 0 && !all)
			continue;
		rows++;
		csv_text(f, lib->uri[i]);
		fputc(',', f);
		csv_text(f, lib->artist[i]);
		fputc(',', f);
		csv_text(f, lib->title[i]);
		for (int j = 0; j < lib->dim; j++)
			fprintf(f, ",%.9g", lib->x[(size_t)i * lib->dim + j]);
		if (label[i] >= 0)
			fprintf(f, ",%d", label[i]);
		else
			fputc(',', f);
		fputs("\r\n", f);
	}
	return rows;
}

int cmd_export(int argc, char **argv, const struct conf *c)
{
	bool all = false;
	int rc = parse_export_options(argc, argv, &all);
	if (rc)
		return rc;
	const char *path = optind < argc ? argv[optind] : "-";
	char err[512];
	struct store *s = store_open(c->data_directory, err, sizeof err);
	if (!s) {
		fprintf(stderr, "mpdrec: %s\n", err);
		return 1;
	}
	rc = 1;
	FILE *f = NULL;
	signed char *label = NULL;
	struct store_library *lib =
		store_load_library(s, FEATURES_VERSION, FEAT_COUNT);
	struct store_examples *ex =
		lib ? store_load_examples(s, FEATURES_VERSION, FEAT_COUNT)
		    : NULL;
	if (!lib || !ex) {
		fprintf(stderr, "mpdrec export: %s\n", store_error(s));
		goto out;
	}
	if (!(label = latest_labels(lib, ex)))
		goto out;
	f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (!f) {
		perror(path);
		goto out;
	}
	int rows = write_csv(f, lib, label, all);
	if (f != stdout ? fclose(f) != 0 : fflush(f) != 0) {
		perror(path);
		f = NULL;
		goto out;
	}
	f = NULL;
	if (strcmp(path, "-") != 0)
		fprintf(stderr, "%d tracks written to %s (%s; %d labelled "
			"events)\n", rows, path,
			all ? "every analysed track" : "those with a label",
			ex->n);
	rc = 0;
out:
	if (f && f != stdout)
		fclose(f);
	free(label);
	store_examples_free(ex);
	store_library_free(lib);
	store_close(s);
	return rc;
}
