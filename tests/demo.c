/* make demo: mpdrec on real music. A private MPD plays excerpts of freely
 * licensed game soundtracks that Debian packages (warzone2100-music,
 * hyperrogue-music; `make demo-deps` installs them), the mpdrec daemon
 * watches it, and a scripted listener with a hidden taste — the quieter
 * half of the pieces, by ffmpeg's own loudness meter, which mpdrec is never
 * told — plays what it likes to the end and skips the rest. Every few songs
 * the demo prints how often mpdrec's picks were liked, against what a
 * shuffle would give; then `mpdrec status`, `mpdrec recommend --explain`
 * and the HTML report. It keeps everything it made (the log, the report,
 * the excerpts, reused by the next run) under $MPDREC_DEMO_DIR (make demo:
 * build/demo), ends within three minutes and leaves nothing running. */
#include "tests/lib/listener.h"
#include "tests/lib/mpdtest.h"
#include "tests/lib/proc.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <mpd/client.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Seconds of each excerpt, and two excerpts of every piece: the listener
 * hears a piece in seconds, and a session of ~30 songs repeats none. */
#define EXCERPT_S 4
#define PARTS 2
#define MAX_PIECES 256
/* The listening session: at most this long, or this many songs. */
#define LISTEN_S 95.0
#define MAX_SONGS 32
#define SKIP_AFTER_S 0.5

#define HYPERROGUE "/usr/share/hyperrogue/music"
#define WARZONE "/usr/share/games/warzone2100/music"

struct piece {
	char uri[512];		/* below the music directory */
	char title[256];
	double lufs;		/* ffmpeg's EBU R128 integrated loudness */
	bool broken;		/* a file of the package that won't decode */
};

static struct piece pieces[MAX_PIECES];
static int n_pieces;
static double threshold;	/* the taste: quieter than this is liked */
static double shuffle;		/* % of the library the listener likes */

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "demo: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* Single-quotes s for sh into buf. */
static const char *sh_quote(const char *s, char *buf, size_t size)
{
	size_t n = 0;
	buf[n++] = '\'';
	for (; *s && n + 5 < size; s++) {
		if (*s == '\'') {
			memcpy(buf + n, "'\\''", 4);
			n += 4;
		} else {
			buf[n++] = *s;
		}
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

static void mkdirs(const char *path)
{
	char p[4096];
	snprintf(p, sizeof p, "%s", path);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
}

/* The value of "key": "..." after `from` in a JSON text, into buf. */
static bool json_string(const char *from, const char *key, char *buf,
			size_t size)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\"", key);
	const char *k = strstr(from, pat);
	const char *q = k ? strchr(k + strlen(pat), '"') : NULL;
	const char *e = q ? strchr(q + 1, '"') : NULL;
	if (!e)
		return false;
	snprintf(buf, size, "%.*s", (int)(e - q - 1), q + 1);
	return true;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *s = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&s, &n);
	char buf[4096];
	size_t got;
	while ((got = fread(buf, 1, sizeof buf, f)) > 0)
		fwrite(buf, 1, got, m);
	fclose(f);
	fclose(m);
	return s;
}

/* Tags of a Warzone 2100 track from its album.json (the files carry
 * none): title, artist, album. */
static void warzone_tags(const char *src, char *title, char *artist,
			 char *album, size_t size)
{
	const char *base = strrchr(src, '/') + 1;
	snprintf(title, size, "%s", base);
	snprintf(artist, size, "Warzone 2100");
	snprintf(album, size, "Warzone 2100");
	char json[4200];
	snprintf(json, sizeof json, "%.*s/album.json", (int)(base - src - 1),
		 src);
	char *text = slurp(json);
	if (!text) {
		if (!strcmp(base, "menu.opus"))
			snprintf(title, size, "Menu Theme");
		return;
	}
	json_string(text, "title", album, size);
	char pat[300];
	snprintf(pat, sizeof pat, "\"%s\"", base);
	const char *t = strstr(text, pat);
	if (t) {
		json_string(t, "title", title, size);
		json_string(t, "author", artist, size);
	}
	free(text);
}

/* HyperRogue's titles (its files' own title tags list every piece). */
static const char *hyperrogue_title(const char *stem)
{
	static const char *const names[][2] = {
		{ "hr3-caves", "Living Caves" },
		{ "hr3-crossroads", "Crossroads" },
		{ "hr3-desert", "Desert" },
		{ "hr3-graveyard", "Graveyard" },
		{ "hr3-hell", "Hell" },
		{ "hr3-icyland", "Icy Lands" },
		{ "hr3-jungle", "Jungle" },
		{ "hr3-laboratory", "Laboratory" },
		{ "hr3-mirror", "Land of Mirrors" },
		{ "hr3-motion", "Land of Eternal Motion" },
		{ "hr3-rlyeh", "R'Lyeh" },
		{ "hr-domina-hunting", "Hunting" },
		{ "hr-domina-mountain", "Mountain" },
		{ "hr-savino-palace", "Palace" },
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (!strcmp(stem, names[i][0]))
			return names[i][1];
	return stem;
}

/* A running ffmpeg that cuts one excerpt and measures its loudness. */
struct job {
	FILE *p;
	int piece;
	int src;	/* index of the source file */
};

#define JOBS (2 * PARTS)

/* The source does not decode: the package's file goes into the library
 * as it is, for mpdrec to report, in place of the excerpt. */
static void broken(const char *music, struct piece *p, const char *src)
{
	const char *base = strrchr(src, '/') + 1;
	char *slash = strrchr(p->uri, '/');
	char dir[512];
	snprintf(dir, sizeof dir, "%.*s",
		 slash ? (int)(slash - p->uri) % 100 : 0, p->uri);
	char out[4700], failed[4700];
	snprintf(failed, sizeof failed, "%s/%s", music, p->uri);
	unlink(failed);
	snprintf(p->uri, sizeof p->uri, "%.100s/%.400s", dir, base);
	snprintf(p->title, sizeof p->title, "%.200s", base);
	p->broken = true;
	p->lufs = NAN;
	snprintf(out, sizeof out, "%s/%s", music, p->uri);
	char qs[4200], qo[4800], cmd[9100];
	snprintf(cmd, sizeof cmd, "cp %s %s", sh_quote(src, qs, sizeof qs),
		 sh_quote(out, qo, sizeof qo));
	if (system(cmd) != 0)
		fprintf(stderr, "demo: cannot copy %s\n", src);
}

/* Starts ffmpeg on EXCERPT_S seconds of src from `at` seconds (negative:
 * before its end). */
static bool start_job(struct job *j, int k, const char *src, int at,
		      const char *out, const char *title, const char *artist,
		      const char *album)
{
	char qs[4200], qo[4200], qt[600], qa[600], qb[600], cmd[16000];
	snprintf(cmd, sizeof cmd,
		 "ffmpeg -nostdin -hide_banner -y %s %d -t %d -i %s "
		 "-map 0:a -map_metadata 0:s:0 -metadata title=%s%s%s%s%s "
		 "-c:a libvorbis -q:a 3 -ar 44100 -ac 2 %s "
		 "-map 0:a -af ebur128 -f null - 2>&1",
		 at < 0 ? "-sseof" : "-ss", at, EXCERPT_S,
		 sh_quote(src, qs, sizeof qs),
		 sh_quote(title, qt, sizeof qt),
		 artist ? " -metadata artist=" : "",
		 artist ? sh_quote(artist, qa, sizeof qa) : "",
		 album ? " -metadata album=" : "",
		 album ? sh_quote(album, qb, sizeof qb) : "",
		 sh_quote(out, qo, sizeof qo));
	j->p = popen(cmd, "r");
	j->piece = k;
	return j->p != NULL;
}

/* Reads the loudness from ffmpeg's ebur128 summary ("I: -14.2 LUFS");
 * false when ffmpeg failed (the file does not decode). */
static bool finish_job(struct job *j)
{
	char line[1024];
	bool summary = false, ok = false;
	while (fgets(line, sizeof line, j->p)) {
		if (strstr(line, "Integrated loudness:"))
			summary = true;
		double v;
		if (summary && sscanf(line, " I: %lf LUFS", &v) == 1) {
			pieces[j->piece].lufs = v;
			ok = true;
			summary = false;
		}
	}
	return pclose(j->p) == 0 && ok;
}

/* The sources: every music file of the two packages, sorted. */
static int sources(glob_t *g)
{
	int flags = 0;
	static const char *const pats[] = {
		HYPERROGUE "/*.ogg",
		WARZONE "/*.opus",
		WARZONE "/albums/*/*.opus",
	};
	for (size_t i = 0; i < sizeof pats / sizeof *pats; i++) {
		glob(pats[i], flags, NULL, g);
		flags = GLOB_APPEND;
	}
	return (int)g->gl_pathc;
}

/* Makes the library under music/ (or reads it back from index, made by an
 * earlier run): PARTS excerpts of every piece with their tags and
 * loudness, and the package's files that do not decode, as they are. */
static void make_library(const char *music, const char *index)
{
	FILE *f = fopen(index, "r");
	char line[2048];
	while (f && n_pieces < MAX_PIECES && fgets(line, sizeof line, f)) {
		struct piece *p = &pieces[n_pieces];
		char *a = strtok(line, "\t\n"), *b = strtok(NULL, "\t\n"),
		     *c = strtok(NULL, "\t\n");
		char path[4700];
		if (!a || !b || !c)
			continue;
		snprintf(p->uri, sizeof p->uri, "%s", a);
		p->broken = !strcmp(b, "broken");
		p->lufs = p->broken ? NAN : strtod(b, NULL);
		snprintf(p->title, sizeof p->title, "%s", c);
		snprintf(path, sizeof path, "%s/%s", music, p->uri);
		if (access(path, R_OK) == 0)
			n_pieces++;
	}
	if (f)
		fclose(f);
	if (n_pieces > 0)
		return;

	glob_t g = { 0 };
	int n = sources(&g);
	if (n == 0)
		die("no music from warzone2100-music or hyperrogue-music: run "
		    "'make demo-deps' as root (Debian packages, %s and %s)",
		    WARZONE, HYPERROGUE);
	printf("cutting %d-second excerpts of %d pieces with ffmpeg (once; "
	       "kept for the next run)...", EXCERPT_S, n);
	fflush(stdout);
	double t0 = proc_now();
	struct job jobs[JOBS];
	int running = 0;
	for (int i = 0; i <= n; i++) {
		/* Two pieces (four ffmpeg) at a time: most of each is
		 * starting up. */
		if (running + PARTS > JOBS || (i == n && running)) {
			for (int k = 0; k < running; k++)
				if (!finish_job(&jobs[k]))
					broken(music, &pieces[jobs[k].piece],
					       g.gl_pathv[jobs[k].src]);
			running = 0;
		}
		if (i == n || n_pieces + PARTS >= MAX_PIECES)
			break;
		const char *src = g.gl_pathv[i];
		const char *base = strrchr(src, '/') + 1;
		bool hr = !strncmp(src, HYPERROGUE, strlen(HYPERROGUE));
		const char *dir = hr ? "HyperRogue" : "Warzone 2100";
		char stem[256];
		snprintf(stem, sizeof stem, "%.*s", (int)strcspn(base, "."),
			 base);
		char title[256], artist[256], album[256];
		if (!hr)
			warzone_tags(src, title, artist, album, 256);
		char where[4200];
		snprintf(where, sizeof where, "%s/%s", music, dir);
		mkdirs(where);
		for (int part = 0; part < PARTS; part++) {
			struct piece *p = &pieces[n_pieces];
			snprintf(p->uri, sizeof p->uri, "%s/%.400s-%d.ogg",
				 dir, stem, part + 1);
			snprintf(p->title, sizeof p->title, "%.200s (excerpt "
				 "%d)", hr ? hyperrogue_title(stem) : title,
				 part + 1);
			char out[4700];
			snprintf(out, sizeof out, "%s/%s", music, p->uri);
			/* 25 s in, and 35 s before the end: every piece is
			 * longer than a minute. */
			jobs[running].src = i;
			if (!start_job(&jobs[running++], n_pieces, src,
				       part ? -35 : 25, out, p->title,
				       hr ? NULL : artist, hr ? NULL : album))
				die("cannot run ffmpeg: %s", strerror(errno));
			n_pieces++;
		}
	}
	/* A file that does not decode stays once, as it is. */
	int kept = 0;
	for (int i = 0; i < n_pieces; i++) {
		bool dup = false;
		for (int k = 0; k < kept && pieces[i].broken; k++)
			dup |= !strcmp(pieces[k].uri, pieces[i].uri);
		if (!dup)
			pieces[kept++] = pieces[i];
	}
	n_pieces = kept;
	printf("  (%.0f s)\n", proc_now() - t0);
	globfree(&g);
	f = fopen(index, "w");
	for (int i = 0; f && i < n_pieces; i++) {
		if (pieces[i].broken)
			fprintf(f, "%s\tbroken\t%s\n", pieces[i].uri,
				pieces[i].title);
		else
			fprintf(f, "%s\t%.2f\t%s\n", pieces[i].uri,
				pieces[i].lufs, pieces[i].title);
	}
	if (f)
		fclose(f);
}

static const struct piece *find_piece(const char *uri)
{
	for (int i = 0; i < n_pieces; i++)
		if (!strcmp(pieces[i].uri, uri))
			return &pieces[i];
	return NULL;
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The hidden taste: the quieter half of the library. */
static bool likes(const char *uri, void *ctx)
{
	(void)ctx;
	const struct piece *p = find_piece(uri);
	return p && !p->broken && p->lufs < threshold;
}

struct session {
	int heard, liked;
	int block_heard, block_liked;
	double start;
};

static bool on_song(int n, const char *uri, bool liked, void *ctx)
{
	struct session *s = ctx;
	const struct piece *p = find_piece(uri);
	s->heard++;
	s->liked += liked;
	s->block_heard++;
	s->block_liked += liked;
	printf("  %2d  %-44.44s %6.1f LUFS  %s\n", n + 1,
	       p ? p->title : uri, p ? p->lufs : NAN,
	       liked ? "played to the end" : "skipped");
	if (s->block_heard == 8) {
		printf("      songs %d-%d: %d of 8 liked (%.0f%%); a shuffle "
		       "would give %.0f%%\n", n - 6, n + 1, s->block_liked,
		       100.0 * s->block_liked / 8, shuffle);
		s->block_heard = s->block_liked = 0;
	}
	fflush(stdout);
	return n + 1 < MAX_SONGS;
}

/* Runs mpdrec with the demo's configuration and prints its output,
 * indented. */
static void show(const char *conf, const char *args)
{
	char q[4200], cmd[9000];
	snprintf(cmd, sizeof cmd, "%s --config %s %s 2>&1", proc_mpdrec(),
		 sh_quote(conf, q, sizeof q), args);
	printf("\n$ mpdrec %s\n", args);
	fflush(stdout);
	FILE *p = popen(cmd, "r");
	char line[2048];
	while (p && fgets(line, sizeof line, p))
		printf("  %s", line);
	if (p)
		pclose(p);
	fflush(stdout);
}

int main(void)
{
	double t0 = proc_now();
	const char *env = getenv("MPDREC_DEMO_DIR");
	char root[PATH_MAX];
	snprintf(root, sizeof root, "%s", env && *env ? env : "build/demo");
	mkdirs(root);
	char real[PATH_MAX];
	if (!realpath(root, real))
		die("%s: %s", root, strerror(errno));
	snprintf(root, sizeof root, "%s", real);
	char mroot[PATH_MAX + 16], music[PATH_MAX + 32], data[PATH_MAX + 16],
	     conf[PATH_MAX + 16], log[PATH_MAX + 16], report[PATH_MAX + 16],
	     index[PATH_MAX + 16];
	snprintf(mroot, sizeof mroot, "%s/mpd", root);
	snprintf(music, sizeof music, "%s/music", mroot);
	snprintf(data, sizeof data, "%s/data", root);
	snprintf(conf, sizeof conf, "%s/mpdrec.conf", root);
	snprintf(log, sizeof log, "%s/mpdrec.log", root);
	snprintf(report, sizeof report, "%s/report.html", root);
	snprintf(index, sizeof index, "%s/excerpts.tsv", root);

	printf("mpdrec demo: real music, a listener with a hidden taste.\n\n");
	mkdirs(music);
	make_library(music, index);
	double v[MAX_PIECES];
	int n_good = 0, n_broken = 0;
	for (int i = 0; i < n_pieces; i++) {
		if (pieces[i].broken)
			n_broken++;
		else
			v[n_good++] = pieces[i].lufs;
	}
	if (n_good < 10)
		die("only %d excerpts: run 'make demo-deps' as root", n_good);
	qsort(v, (size_t)n_good, sizeof *v, by_double);
	threshold = (v[n_good / 2 - 1] + v[n_good / 2]) / 2;
	int n_liked = 0;
	for (int i = 0; i < n_pieces; i++)
		n_liked += likes(pieces[i].uri, NULL);
	shuffle = 100.0 * n_liked / n_good;
	printf("The library: %d excerpts (%d s each) of the soundtracks of "
	       "Warzone 2100 and\nHyperRogue (Debian's warzone2100-music and "
	       "hyperrogue-music, CC-BY-SA and GPL),\nplus %d files of the "
	       "package that do not decode.\n"
	       "The listener likes quiet music: pieces quieter than %.1f LUFS "
	       "(ffmpeg's\nloudness meter) play to the end, the others are "
	       "skipped after %.1f s.\nmpdrec is not told: it only sees what "
	       "is played and what is skipped.\nA shuffle would please the "
	       "listener %.0f%% of the time.\n\n",
	       n_good, EXCERPT_S, n_broken, threshold, SKIP_AFTER_S, shuffle);

	/* A fresh start for mpdrec each run; the log is this run's. */
	char q[PATH_MAX + 64], cmd[PATH_MAX + 128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", sh_quote(data, q, sizeof q));
	if (system(cmd) != 0)
		die("cannot remove %s", data);
	unlink(log);
	struct mpdtest mpd;
	if (!mpdtest_start(&mpd, mroot) || !mpdtest_update(&mpd)) {
		mpdtest_stop(&mpd);
		die("cannot start MPD (is Debian's mpd installed? make deps)");
	}
	FILE *f = fopen(conf, "w");
	if (!f)
		die("%s: %s", conf, strerror(errno));
	fprintf(f,
		"# The demo's configuration (tests/demo.c).\n"
		"mpd = { host = \"127.0.0.1\"; port = %u; };\n"
		"music_directory = \"%s\";\n"
		"data_directory = \"%s\";\n"
		"# 4-second excerpts: a second is a long listen.\n"
		"feedback = { min_duration = 1.0; };\n"
		"# Five artists in all: no spacing between the same "
		"artist's songs.\n"
		"queue = { ahead = 2; settle_ms = 50.0; artist_spacing = 0; "
		"};\n"
		"# A full retrain every 8 labels (default 200), so a short "
		"demo has a\n# learning curve.\n"
		"model = { retrain_every = 8; };\n",
		mpd.port, music, data);
	fclose(f);
	char *argv[] = { (char *)proc_mpdrec(), "--config", conf, "run",
			 NULL };
	pid_t daemon = proc_spawn(argv, log);
	double t_start = proc_now();
	int analysed = listener_wait_analysed(data, n_good, 60);
	printf("mpdrec analysed %d excerpts in %.1f s; its log: %s\n\n",
	       analysed, proc_now() - t_start, log);
	listener_set_taste(likes, NULL);
	struct mpd_connection *c = mpdtest_connect(&mpd);
	int rc = 1;
	struct session s = { .start = proc_now() };
	if (c) {
		/* mpdrec fills the queue once the user plays: start with
		 * any song if it did not already. */
		if (!listener_wait_queue(c, 1, 3)) {
			mpd_run_add(c, pieces[0].broken ? pieces[n_pieces - 1]
							  .uri
							: pieces[0].uri);
		}
		mpd_run_play(c);
		printf("  #   song                                         "
		       "loudness    the listener\n");
		listener_run(c, SKIP_AFTER_S, LISTEN_S, on_song, &s);
		mpd_run_stop(c);
		mpd_connection_free(c);
		rc = 0;
	}
	printf("\n%d songs in %.0f s: %d liked (%.0f%%); a shuffle would "
	       "give %.0f%%.\n", s.heard, proc_now() - s.start, s.liked,
	       s.heard ? 100.0 * s.liked / s.heard : 0.0, shuffle);
	/* Stopped, the daemon saves its model for the commands below. */
	proc_stop(daemon, SIGTERM, 10, NULL);
	show(conf, "status");
	show(conf, "recommend -n 5 --explain");
	char args[PATH_MAX + 64];
	snprintf(args, sizeof args, "report --html %s",
		 sh_quote(report, q, sizeof q));
	show(conf, args);
	mpdtest_stop(&mpd);
	printf("\nThe report: %s\nThe daemon's log: %s\nThe configuration: "
	       "%s\nThe demo took %.0f s.\n", report, log, conf,
	       proc_now() - t0);
	return rc;
}
