/* mpdrec on real music: the daemon (the real binary, $MPDREC_BIN) fills a
 * real MPD's queue for simulated listeners with hidden tastes, on the real
 * library that ../shared/tools/dev-corpus.sh builds (freely licensed game
 * soundtracks; $MPDREC_CORPUS, default /tmp/mpdrec-corpus), analysed once
 * beforehand with `mpdrec analyze`.
 *
 * Only music: tracks of at least MUSIC_S seconds (sound effects would get no
 * label anyway) that FFmpeg can read. So that a session of a hundred songs
 * takes minutes, MPD plays a CLIP_S-second excerpt of each track (from its
 * middle, under the track's own path and mtime), while the features are
 * those of the whole track: the daemon's music_directory is the real
 * library. A listener plays a liked song to its end and skips a disliked one
 * after SKIP_S seconds.
 *
 * Tastes (defined on any library, not tuned to one):
 *  - "folders": likes every track in the folders at even places of the
 *    sorted list of top folders, dislikes the rest (across styles);
 *  - "tempo": within the largest folder, likes the tracks faster than its
 *    median tempo (as analysed), dislikes the others and everything else.
 *
 * Printed per taste, per window of WINDOW songs: the like rate of mpdrec's
 * session beside MPD's shuffle of the same library in the same run (the
 * mean of SHUFFLES shuffles, each played in order with repeat), songs
 * 26-75 against the bar of 0.80 and an all-knowing picker (1.00: it knows
 * the taste and plays the least recently heard liked track), and the share
 * of exploit picks from the model's top 10% of the candidates at the time
 * (from the daemon's log).
 *
 * bench_listen [SONGS]: songs per session (default 125). */
#include "core/store.h"
#include "features/table.h"
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/mpdtest.h"
#include "tests/lib/proc.h"

#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <mpd/client.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MUSIC_S 30.0
#define CLIP_S 3.0
#define SKIP_S 0.5
#define WINDOW 25
#define SHUFFLES 40
#define MAX_TRACKS 4096
#define BAR 0.80

struct track {
	char rel[512];		/* path under the corpus, MPD's URI */
	double duration;
	double tempo;		/* analysed, NaN if unknown */
	bool liked;		/* the current taste */
};

static struct track tracks[MAX_TRACKS];
static int n_tracks;
static const char *corpus;
static char root[4200];

static struct track *find(const char *uri)
{
	for (int i = 0; i < n_tracks; i++)
		if (!strcmp(tracks[i].rel, uri))
			return &tracks[i];
	return NULL;
}

/* The duration of an audio file by ffprobe, or -1 when it cannot read it. */
static double probe(const char *path)
{
	char cmd[4600];
	snprintf(cmd, sizeof cmd, "ffprobe -v error -show_entries "
		 "format=duration -of csv=p=0 '%s' 2>/dev/null", path);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	double d = -1;
	if (fscanf(p, "%lf", &d) != 1)
		d = -1;
	pclose(p);
	return d;
}

static bool is_audio(const char *path)
{
	static const char *const ext[] = { ".ogg", ".opus", ".mp3", ".flac",
					   ".wav", ".oga", ".m4a" };
	const char *dot = strrchr(path, '.');
	for (size_t k = 0; dot && k < sizeof ext / sizeof *ext; k++)
		if (!strcasecmp(dot, ext[k]))
			return true;
	return false;
}

static int on_file(const char *path, const struct stat *st, int type,
		   struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type != FTW_F || !is_audio(path) || n_tracks >= MAX_TRACKS)
		return 0;
	double d = probe(path);
	if (d < MUSIC_S)
		return 0;
	struct track *t = &tracks[n_tracks++];
	snprintf(t->rel, sizeof t->rel, "%s", path + strlen(corpus) + 1);
	t->duration = d;
	t->tempo = NAN;
	return 0;
}

static int by_rel(const void *a, const void *b)
{
	return strcmp(((const struct track *)a)->rel,
		      ((const struct track *)b)->rel);
}

/* An excerpt of CLIP_S seconds from the middle of each track, at its own
 * path under MPD's music directory, with the original's mtime (so the
 * daemon's library sync sees the analysed track unchanged). */
static bool make_clips(const char *music)
{
	for (int i = 0; i < n_tracks; i++) {
		const struct track *t = &tracks[i];
		char dst[5000], src[5000];
		if (snprintf(src, sizeof src, "%s/%s", corpus, t->rel) >=
		    (int)sizeof src ||
		    snprintf(dst, sizeof dst, "%s/%s", music, t->rel) >=
		    (int)sizeof dst)
			return false;
		char *slash = strrchr(dst, '/');
		*slash = '\0';
		harness_system("mkdir -p '%s'", dst);
		*slash = '/';
		const char *ext = strrchr(t->rel, '.');
		const char *codec = !strcasecmp(ext, ".opus") ? "libopus" :
				    !strcasecmp(ext, ".mp3") ? "libmp3lame" :
				    !strcasecmp(ext, ".flac") ? "flac" :
				    !strcasecmp(ext, ".wav") ? "pcm_s16le" :
				    "libvorbis";
		if (harness_system("ffmpeg -nostdin -v error -y -ss %.1f "
				   "-t %.1f -i '%s' -vn -ac 2 -ar 48000 "
				   "-c:a %s '%s'",
				   t->duration * 0.4, CLIP_S, src, codec,
				   dst) != 0) {
			fprintf(stderr, "bench_listen: cannot cut %s\n", src);
			return false;
		}
		struct stat st;
		if (stat(src, &st) == 0) {
			struct timespec ts[2] = { st.st_mtim, st.st_mtim };
			utimensat(AT_FDCWD, dst, ts, 0);
		}
	}
	return true;
}

static bool write_conf(const char *path, const struct mpdtest *m,
		       const char *data)
{
	return mpdtest_write_mpdrec_conf(m, path, corpus, data,
					 "feedback = { min_duration = 1.0; };\n"
					 "queue = { ahead = 2; "
					 "settle_ms = 50.0; };\n");
}

/* Reads the tempo of every track from the analysed store. */
static void read_tempi(const char *data)
{
	int dim = features_count(), j_tempo = -1;
	for (int j = 0; j < dim; j++)
		if (!strcmp(features_info(j)->name, "tempo"))
			j_tempo = j;
	char err[512];
	struct store *s = store_open(data, err, sizeof err);
	if (!s || j_tempo < 0) {
		store_close(s);
		return;
	}
	float *v = malloc((size_t)dim * sizeof *v);
	for (int i = 0; v && i < n_tracks; i++) {
		enum store_status st;
		if (store_get_track(s, tracks[i].rel, FEATURES_VERSION, dim, v,
				    &st, NULL) && st == STORE_ANALYSED)
			tracks[i].tempo = v[j_tempo];
	}
	free(v);
	store_close(s);
}

/* --- tastes -------------------------------------------------------------- */

static void top_folder(const char *rel, char *buf, size_t size)
{
	const char *slash = strchr(rel, '/');
	snprintf(buf, size, "%.*s", slash ? (int)(slash - rel) : 0, rel);
}

/* Likes the tracks of every other top folder (sorted by name). */
static bool taste_folders(char *desc, size_t size)
{
	char folders[64][512];
	int nf = 0;
	for (int i = 0; i < n_tracks; i++) {
		char f[512];
		top_folder(tracks[i].rel, f, sizeof f);
		int k;
		for (k = 0; k < nf && strcmp(folders[k], f); k++)
			;
		if (k == nf && nf < 64)
			snprintf(folders[nf++], sizeof folders[0], "%s", f);
	}
	if (nf < 2)
		return false;
	qsort(folders, (size_t)nf, sizeof folders[0],
	      (int (*)(const void *, const void *))strcmp);
	for (int i = 0; i < n_tracks; i++) {
		char f[512];
		top_folder(tracks[i].rel, f, sizeof f);
		int k;
		for (k = 0; k < nf && strcmp(folders[k], f); k++)
			;
		tracks[i].liked = k % 2 == 0;
	}
	snprintf(desc, size, "folders: likes every track of %.200s%s (every "
		 "other top folder), skips the rest", folders[0],
		 nf > 2 ? " and others" : "");
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Within the largest top folder, likes the faster half. */
static bool taste_tempo(char *desc, size_t size)
{
	char best[512] = "";
	int best_n = 0;
	for (int i = 0; i < n_tracks; i++) {
		char f[512], g[512];
		top_folder(tracks[i].rel, f, sizeof f);
		int c = 0;
		for (int j = 0; j < n_tracks; j++) {
			top_folder(tracks[j].rel, g, sizeof g);
			c += !strcmp(f, g) && !isnan(tracks[j].tempo);
		}
		if (c > best_n) {
			best_n = c;
			snprintf(best, sizeof best, "%s", f);
		}
	}
	if (best_n < 4)
		return false;
	double tempi[MAX_TRACKS];
	int m = 0;
	for (int i = 0; i < n_tracks; i++) {
		char f[512];
		top_folder(tracks[i].rel, f, sizeof f);
		if (!strcmp(f, best) && !isnan(tracks[i].tempo))
			tempi[m++] = tracks[i].tempo;
	}
	qsort(tempi, (size_t)m, sizeof *tempi, cmp_double);
	double median = tempi[m / 2];
	for (int i = 0; i < n_tracks; i++) {
		char f[512];
		top_folder(tracks[i].rel, f, sizeof f);
		tracks[i].liked = !strcmp(f, best) && tracks[i].tempo >= median;
	}
	snprintf(desc, size, "tempo: within %s, likes the tracks of %.0f BPM "
		 "or more (its median), skips the rest", best, median);
	return true;
}

static bool likes(const char *uri, void *ctx)
{
	(void)ctx;
	const struct track *t = find(uri);
	return t && t->liked;
}

/* --- a session ----------------------------------------------------------- */

struct session {
	int want;
	int heard;
	bool liked[1024];
};

static bool on_song(int n, const char *uri, bool liked, void *ctx)
{
	struct session *s = ctx;
	(void)uri;
	if (n < (int)(sizeof s->liked / sizeof *s->liked))
		s->liked[n] = liked;
	s->heard = n + 1;
	return s->heard < s->want;
}

struct picks {
	int exploit, exploit_top, explore, cold;
};

/* Reads the daemon's "queued URI (exploit: rank R of M ..." lines. */
static void read_picks(const char *log, struct picks *p)
{
	memset(p, 0, sizeof *p);
	FILE *f = fopen(log, "r");
	char line[8192];
	while (f && fgets(line, sizeof line, f)) {
		const char *q = strstr(line, "info: queued ");
		if (!q)
			continue;
		const char *e = strstr(q, "(exploit: rank ");
		int r, m;
		if (e && sscanf(e, "(exploit: rank %d of %d", &r, &m) == 2) {
			p->exploit++;
			p->exploit_top += r <= (int)ceil(0.1 * m);
		} else if (strstr(q, "(explore: ")) {
			p->explore++;
		} else if (strstr(q, "(cold start: ")) {
			p->cold++;
		}
	}
	if (f)
		fclose(f);
}

/* One listening session with the daemon, from a cold start on the
 * analysed library in `base`. Returns false when it could not run. */
static bool run_mpdrec(const struct mpdtest *m, const char *base,
		       const char *name, struct session *s, struct picks *p,
		       int *explored_liked, int *explored_judged)
{
	char data[4400], conf[4400], log[4400];
	snprintf(data, sizeof data, "%s/%s-data", root, name);
	snprintf(conf, sizeof conf, "%s/%s.conf", root, name);
	snprintf(log, sizeof log, "%s/%s.log", root, name);
	if (harness_system("mkdir -p -m 700 '%s' && cp '%s/mpdrec.db' '%s/'",
			   data, base, data) != 0 ||
	    !write_conf(conf, m, data))
		return false;
	char *argv[] = { (char *)proc_mpdrec(), "--config", conf, "run", NULL };
	pid_t pid = proc_spawn(argv, log);
	if (pid < 0 || !proc_wait_for(log, "connected to MPD", 0, 20)) {
		fprintf(stderr, "bench_listen: the daemon did not start; see "
			"%s\n", log);
		if (pid > 0)
			proc_stop(pid, SIGTERM, 5, NULL);
		return false;
	}
	struct mpd_connection *c = mpdtest_connect(m);
	if (!c) {
		proc_stop(pid, SIGTERM, 5, NULL);
		return false;
	}
	/* As a listener starts: a song of their own, then play. */
	mpd_run_clear(c);
	mpd_run_random(c, false);
	mpd_run_repeat(c, false);
	mpd_run_consume(c, false);
	uint64_t h = 1469598103934665603ULL;
	for (const char *q = name; *q; q++)
		h = (h ^ (unsigned char)*q) * 1099511628211ULL;
	mpd_run_add(c, tracks[h % (uint64_t)n_tracks].rel);
	mpd_run_play(c);
	s->heard = 0;
	listener_run_taste(c, SKIP_S, s->want * (CLIP_S + 2.0) + 60, likes,
			   NULL, on_song, s);
	mpd_run_stop(c);
	mpd_run_clear(c);
	mpd_connection_free(c);
	proc_stop(pid, SIGTERM, 10, NULL);
	read_picks(log, p);
	char err[512];
	struct store *st = store_open(data, err, sizeof err);
	*explored_liked = *explored_judged = 0;
	if (st)
		store_pick_stats(st, 0, true, explored_liked, explored_judged);
	store_close(st);
	return true;
}

/* MPD's shuffle of the whole library, played in order with repeat: the
 * like rate at each of `want` songs, averaged over SHUFFLES shuffles. */
static void run_shuffle(const struct mpdtest *m, int want, double *rate)
{
	struct mpd_connection *c = mpdtest_connect(m);
	for (int k = 0; k < want; k++)
		rate[k] = 0;
	for (int r = 0; c && r < SHUFFLES; r++) {
		mpd_run_clear(c);
		mpd_run_add(c, "");
		mpd_run_shuffle(c);
		char *order[MAX_TRACKS];
		int n = 0;
		struct mpd_song *song;
		mpd_send_list_queue_meta(c);
		while ((song = mpd_recv_song(c)) && n < MAX_TRACKS) {
			order[n++] = strdup(mpd_song_get_uri(song));
			mpd_song_free(song);
		}
		mpd_response_finish(c);
		for (int k = 0; n > 0 && k < want; k++)
			rate[k] += likes(order[k % n], NULL) ? 1.0 / SHUFFLES
							     : 0;
		for (int k = 0; k < n; k++)
			free(order[k]);
	}
	if (c) {
		mpd_run_clear(c);
		mpd_connection_free(c);
	}
}

static double share(const bool *liked, int from, int to)
{
	int n = 0, l = 0;
	for (int k = from; k < to; k++, n++)
		l += liked[k];
	return n ? (double)l / n : 0;
}

static double share_rate(const double *rate, int from, int to)
{
	double l = 0;
	for (int k = from; k < to; k++)
		l += rate[k];
	return to > from ? l / (to - from) : 0;
}

static void bench_taste(const struct mpdtest *m, const char *base,
			const char *name, const char *desc, int want)
{
	int n_liked = 0;
	for (int i = 0; i < n_tracks; i++)
		n_liked += tracks[i].liked;
	printf("\ntaste \"%s\" (%d of %d tracks liked)\n", desc, n_liked,
	       n_tracks);
	struct session s = { .want = want };
	struct picks p;
	int el, ej;
	double t0 = proc_now();
	if (!run_mpdrec(m, base, name, &s, &p, &el, &ej)) {
		printf("  skipped: the session did not run\n");
		return;
	}
	double secs = proc_now() - t0;
	double *sh = calloc((size_t)want, sizeof *sh);
	run_shuffle(m, want, sh);
	printf("  %-9s %-7s %-7s %s\n", "songs", "mpdrec", "shuffle",
	       "ratio");
	for (int w = 0; w < s.heard; w += WINDOW) {
		int to = w + WINDOW < s.heard ? w + WINDOW : s.heard;
		double a = share(s.liked, w, to), b = share_rate(sh, w, to);
		printf("  %3d-%-5d %-7.2f %-7.2f %.2f\n", w + 1, to, a, b,
		       b > 0 ? a / b : 0.0);
	}
	if (s.heard >= 75) {
		double a = share(s.liked, 25, 75), b = share_rate(sh, 25, 75);
		printf("  songs 26-75: mpdrec %.2f, shuffle %.2f (ratio %.2f), "
		       "all-knowing picker 1.00; bar %.2f: %s\n", a, b,
		       b > 0 ? a / b : 0.0, BAR, a >= BAR ? "met" : "NOT met");
	}
	printf("  picks: %d exploit, %d explore, %d cold; exploit picks in "
	       "the model's top 10%% of candidates: %.0f%% (%d of %d)\n",
	       p.exploit, p.explore, p.cold,
	       p.exploit ? 100.0 * p.exploit_top / p.exploit : 0.0,
	       p.exploit_top, p.exploit);
	printf("  explored picks judged: %d, liked %d; %d songs in %.0f s\n",
	       ej, el, s.heard, secs);
	free(sh);
}

int main(int argc, char **argv)
{
	int want = argc > 1 ? atoi(argv[1]) : 125;
	if (want < 10 || want > 1000) {
		fprintf(stderr, "usage: bench_listen [SONGS (10 to 1000)]\n");
		return 2;
	}
	corpus = getenv("MPDREC_CORPUS");
	if (!corpus || !*corpus)
		corpus = "/tmp/mpdrec-corpus";
	struct stat st;
	if (stat(corpus, &st) != 0 || !S_ISDIR(st.st_mode)) {
		printf("bench_listen: skipped: no library at %s (build it "
		       "with ../shared/tools/dev-corpus.sh, or set "
		       "MPDREC_CORPUS)\n", corpus);
		return 0;
	}
	if (harness_system("(command -v ffprobe && command -v ffmpeg)") != 0) {
		printf("bench_listen: skipped: ffmpeg and ffprobe are needed "
		       "(make deps)\n");
		return 0;
	}
	nftw(corpus, on_file, 16, 0);
	if (n_tracks < 8) {
		printf("bench_listen: skipped: %d music tracks (>= %.0f s) in "
		       "%s, too few\n", n_tracks, MUSIC_S, corpus);
		return 0;
	}
	qsort(tracks, (size_t)n_tracks, sizeof *tracks, by_rel);
	snprintf(root, sizeof root, "%s", harness_tmpdir());
	char mroot[4400], base[4400], conf[4400];
	snprintf(mroot, sizeof mroot, "%s/mpd", root);
	snprintf(base, sizeof base, "%s/base", root);
	snprintf(conf, sizeof conf, "%s/base.conf", root);
	struct mpdtest m;
	double t0 = proc_now();
	if (!mpdtest_start(&m, mroot)) {
		printf("bench_listen: skipped: cannot start MPD (make deps)\n");
		return 0;
	}
	if (!make_clips(m.music) || !mpdtest_update(&m) ||
	    !write_conf(conf, &m, base)) {
		mpdtest_stop(&m);
		return 1;
	}
	double clips_s = proc_now() - t0;
	t0 = proc_now();
	if (harness_system("'%s' --config '%s' analyze", proc_mpdrec(),
			   conf) != 0 ||
	    listener_analysed(base) < n_tracks) {
		fprintf(stderr, "bench_listen: analysis failed (%d of %d "
			"tracks)\n", listener_analysed(base), n_tracks);
		mpdtest_stop(&m);
		return 1;
	}
	read_tempi(base);
	printf("bench_listen: %d music tracks of %s (%.0f s or longer), "
	       "played as %.0f s excerpts, features of the whole tracks; "
	       "clips in %.0f s, analysed in %.0f s; a like plays to the "
	       "end, a skip after %.1f s; %d songs per session\n", n_tracks,
	       corpus, MUSIC_S, CLIP_S, clips_s, proc_now() - t0, SKIP_S,
	       want);
	char desc[512];
	if (taste_folders(desc, sizeof desc))
		bench_taste(&m, base, "folders", desc, want);
	if (taste_tempo(desc, sizeof desc))
		bench_taste(&m, base, "tempo", desc, want);
	mpdtest_stop(&m);
	return 0;
}
