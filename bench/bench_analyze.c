/* Benchmark of features/analyze on the dev corpus
 * (../shared/tools/dev-corpus.sh, or $MPDREC_CORPUS), each figure printed
 * with its baseline measured in the same run, the ratio and the target:
 *
 *  speed    analysis throughput on one thread (decode + conversion + every
 *           descriptor) against decode-only throughput (the same files,
 *           excerpts and seeks, decoded at the file's own rate and channels,
 *           nothing converted, samples thrown away), and decode +
 *           conversion to mono at DECODE_RATE beside them; the order of the
 *           three rotates from file to file; CPU time of the thread, so
 *           other load on the machine counts less; x real time on the audio
 *           actually analysed (the library's length beside it). Target
 *           >= 0.8.
 *  threads  the whole corpus analysed by two worker threads against one
 *           (wall time, each in a fresh child process). Target >= 1.8.
 *  memory   peak RSS of a child analysing every file with one worker, and
 *           with two, over an idle child that loaded the same libraries;
 *           also one hour of audio analysed whole (max_seconds 0), and
 *           zero-filled .mp3, .flac and .ogg files of 512 MB. Target
 *           <= 50 MB per worker.
 *
 * Exit status 0 unless something could not run; a missing corpus is not an
 * error (it says so and exits 0).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "features/analyze.h"
#include "features/decode.h"
#include "tests/lib/harness.h"

#define MAX_SECONDS 120.0	/* conf's default analysis.max_seconds */
#define TIMEOUT 120.0

static char **files;
static int n_files;

static double now(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool audio_name(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return false;
	const char *ext[] = { ".ogg", ".opus", ".mp3", ".flac", ".wav",
			      ".oga", ".m4a" };
	for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
		if (strcasecmp(dot, ext[i]) == 0)
			return true;
	return false;
}

static void add_files(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < 4) {
			add_files(path, depth + 1);
		} else if (S_ISREG(st.st_mode) && audio_name(e->d_name)) {
			char **f = realloc(files, (size_t)(n_files + 1) *
							  sizeof *f);
			if (!f)
				break;
			files = f;
			files[n_files++] = strdup(path);
		}
	}
	closedir(d);
}

static long long size_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* Largest first, so that two workers do not end with one long file. */
static int cmp_size(const void *a, const void *b)
{
	long long x = size_of(*(char *const *)a);
	long long y = size_of(*(char *const *)b);
	return (x < y) - (x > y);
}

/* The corpus folder: $MPDREC_CORPUS, else what dev-corpus.sh prints. */
static bool find_corpus(char *dir, size_t size)
{
	const char *env = getenv("MPDREC_CORPUS");
	if (env && *env) {
		snprintf(dir, size, "%s", env);
		return true;
	}
	const char *tool = "../shared/tools/dev-corpus.sh";
	if (access(tool, R_OK) != 0)
		tool = "/work/shared/tools/dev-corpus.sh";
	char cmd[512];
	snprintf(cmd, sizeof cmd, "bash %s 2>/dev/null", tool);
	FILE *p = popen(cmd, "r");
	if (!p)
		return false;
	char line[4096] = "";
	while (fgets(line, sizeof line, p))
		snprintf(dir, size, "%s", line);
	int st = pclose(p);
	dir[strcspn(dir, "\n")] = '\0';
	return st == 0 && *dir;
}

/* --- workers ------------------------------------------------------------ */

struct pool {
	_Atomic int next;
	const struct analyze_opts *opts;
	char **files;
	int n;
	_Atomic int ok;
	_Atomic long long audio_ms;	/* audio analysed */
	_Atomic long long track_ms;	/* whole tracks */
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	char err[256];
	float v[FEAT_COUNT];
	double dur;
	struct analyze *a = analyze_new(err, sizeof err);
	if (!a)
		return NULL;
	int i;
	while ((i = atomic_fetch_add(&p->next, 1)) < p->n) {
		if (!analyze_run(a, p->files[i], p->opts, v, &dur, err,
				 sizeof err))
			continue;
		atomic_fetch_add(&p->ok, 1);
		atomic_fetch_add(&p->audio_ms,
				 (long long)(analyze_seconds(a) * 1000));
		atomic_fetch_add(&p->track_ms, (long long)(dur * 1000));
	}
	analyze_free(a);
	return NULL;
}

struct child_report {
	double wall;
	double cpu;		/* user + system, all threads */
	long maxrss_kb;
	int ok;
	double audio_s;
	double track_s;
};

/* Runs `threads` workers over files in a child process (0: only set up
 * one analyser); reports its wall time and peak RSS. */
static bool run_child(int threads, char **list, int n,
		      const struct analyze_opts *o, struct child_report *r)
{
	int fd[2];
	if (pipe(fd) != 0)
		return false;
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		close(fd[0]);
		struct child_report c = { 0 };
		struct pool p = { .opts = o, .files = list, .n = n };
		pthread_t t[16];
		double t0 = now(CLOCK_MONOTONIC);
		if (threads == 0) {
			char err[256];
			analyze_free(analyze_new(err, sizeof err));
		}
		for (int i = 0; i < threads; i++)
			pthread_create(&t[i], NULL, worker, &p);
		for (int i = 0; i < threads; i++)
			pthread_join(t[i], NULL);
		c.wall = now(CLOCK_MONOTONIC) - t0;
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		c.maxrss_kb = ru.ru_maxrss;
		c.cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			(double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
		c.ok = p.ok;
		c.audio_s = (double)p.audio_ms / 1000;
		c.track_s = (double)p.track_ms / 1000;
		if (write(fd[1], &c, sizeof c) != (ssize_t)sizeof c)
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	ssize_t got = read(fd[0], r, sizeof *r);
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	return got == (ssize_t)sizeof *r && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

/* --- speed ------------------------------------------------------------- */

enum mode { ANALYSIS, DECODE, CONVERT, N_MODES };

struct tally {
	double cpu[N_MODES], wall[N_MODES];
	double audio, tracks;	/* analysed; whole tracks */
	int ok, failed;
};

/* One file in every mode, the order rotating from file to file. */
static void speed_file(struct analyze *a, const char *path, int i,
		       const struct analyze_opts *o,
		       const struct decode_opts *d, struct tally *t)
{
	char err[256] = "";
	float v[FEAT_COUNT];
	double secs = 0, dur = 0, adur = 0, s2, d2;
	bool ok[N_MODES] = { false };
	for (int k = 0; k < N_MODES; k++) {
		enum mode m = (enum mode)((i + k) % N_MODES);
		double c0 = now(CLOCK_THREAD_CPUTIME_ID);
		double w0 = now(CLOCK_MONOTONIC);
		if (m == ANALYSIS)
			ok[m] = analyze_run(a, path, o, v, &adur, err,
					    sizeof err);
		else if (m == DECODE)
			ok[m] = decode_file(path, d, false, &secs, &dur, err,
					    sizeof err);
		else
			ok[m] = decode_file(path, d, true, &s2, &d2, err,
					    sizeof err);
		t->cpu[m] += now(CLOCK_THREAD_CPUTIME_ID) - c0;
		t->wall[m] += now(CLOCK_MONOTONIC) - w0;
	}
	if (ok[ANALYSIS] && ok[DECODE] && ok[CONVERT]) {
		t->ok++;
		t->audio += analyze_seconds(a);
		t->tracks += dur;
	} else {
		t->failed++;
		printf("  failed (as expected for the corpus' broken files): "
		       "%s: %s\n", path, err);
	}
}

/* Analysis against decode-only on one thread, file by file: the baseline
 * decodes the same excerpts at the file's own rate and channels and
 * converts nothing; decode + conversion to mono at DECODE_RATE shows what
 * the conversion costs. */
static bool speed(const char *dir, const struct analyze_opts *o,
		  const struct decode_opts *d)
{
	char err[256];
	struct analyze *a = analyze_new(err, sizeof err);
	if (!a) {
		fprintf(stderr, "bench_analyze: %s\n", err);
		return false;
	}
	struct tally t = { 0 };
	for (int i = 0; i < n_files; i++)
		speed_file(a, files[i], i, o, d, &t);
	analyze_free(a);
	double an = t.cpu[ANALYSIS], dec = t.cpu[DECODE], conv = t.cpu[CONVERT];
	printf("corpus: %s: %d files, %d analysed, %d failed; %.0f s of "
	       "audio analysed, library length %.0f s (max_seconds %g)\n",
	       dir, n_files, t.ok, t.failed, t.audio, t.tracks, MAX_SECONDS);
	printf("speed    analysis %.0f x real time  baseline decode-only "
	       "(the file's own rate and channels) %.0f x  ratio %.2f  "
	       "(target >= 0.80; CPU time, one thread, x real time on the "
	       "audio analysed)\n",
	       t.audio / an, t.audio / dec, dec / an);
	printf("         decode + conversion to mono %d Hz %.0f x (%.2f of "
	       "decode-only): conversion %.0f%%, descriptors %.0f%% of "
	       "decoding's CPU time\n",
	       DECODE_RATE, t.audio / conv, dec / conv,
	       100 * (conv - dec) / dec, 100 * (an - conv) / dec);
	printf("         wall: analysis %.1f s, decode-only %.1f s, ratio "
	       "%.2f; %.1f tracks/s; %.0f x real time on the audio "
	       "analysed, %.0f x in library length\n",
	       t.wall[ANALYSIS], t.wall[DECODE],
	       t.wall[DECODE] / t.wall[ANALYSIS], t.ok / t.wall[ANALYSIS],
	       t.audio / t.wall[ANALYSIS], t.tracks / t.wall[ANALYSIS]);
	return true;
}

/* --- threads and memory, each in a fresh child -------------------------- */

/* Two workers against one on the whole corpus, and the peak memory per
 * worker over an idle process (its peak in *base, MB). */
static bool threads_memory(const struct analyze_opts *o, double *base)
{
	struct child_report idle, one, two;
	double load_before = 0;
	getloadavg(&load_before, 1);
	if (!run_child(0, files, n_files, o, &idle) ||
	    !run_child(1, files, n_files, o, &one) ||
	    !run_child(2, files, n_files, o, &two)) {
		fprintf(stderr, "bench_analyze: a child failed\n");
		return false;
	}
	printf("threads  2 workers %.1f s (%.1f tracks/s)  baseline 1 worker "
	       "%.1f s (%.1f tracks/s)  ratio %.2f  (target >= 1.80; wall "
	       "time, %ld cores online)\n",
	       two.wall, two.ok / two.wall, one.wall, one.ok / one.wall,
	       one.wall / two.wall, sysconf(_SC_NPROCESSORS_ONLN));
	printf("         CPU time 2 workers %.1f s vs 1 worker %.1f s (%.2f: "
	       "extra work from running side by side), so %.2fx on two idle "
	       "cores; load average before %.2f (other processes compete "
	       "for the cores)\n",
	       two.cpu, one.cpu, two.cpu / one.cpu, 2 * one.cpu / two.cpu,
	       load_before);
	*base = idle.maxrss_kb / 1024.0;
	double w1 = one.maxrss_kb / 1024.0 - *base;
	double w2 = (two.maxrss_kb / 1024.0 - *base) / 2;
	printf("memory   peak per worker %.1f MB (1 worker), %.1f MB (each "
	       "of 2)  baseline idle process %.1f MB  (target <= 50 MB per "
	       "worker)\n",
	       w1, w2, *base);
	return true;
}

/* One hour analysed whole: memory does not follow the length. */
static void hour_memory(double base)
{
	char *hour = NULL;
	if (asprintf(&hour, "%s/hour.wav", harness_tmpdir()) < 0 ||
	    harness_system("ffmpeg -nostdin -v error -y -f lavfi -i "
			   "anoisesrc=r=8000:d=3600:a=0.3 -c:a pcm_u8 '%s'",
			   hour) != 0) {
		printf("memory   one hour: ffmpeg could not make the file\n");
		free(hour);
		return;
	}
	const struct analyze_opts whole = { .max_seconds = 0,
					    .timeout_s = 600 };
	struct child_report h;
	if (run_child(1, &hour, 1, &whole, &h) && h.ok == 1)
		printf("memory   one hour analysed whole: peak %.1f MB over "
		       "idle, %.0f x real time  (target <= 50 MB)\n",
		       h.maxrss_kb / 1024.0 - base, h.audio_s / h.wall);
	else
		printf("memory   one hour: could not analyse\n");
	unlink(hour);
	free(hour);
}

/* Zero-filled files of 512 MB (preallocated, partly downloaded): FFmpeg's
 * MPEG audio parser kept all of an .mp3 in memory (1.09 GB) before reads
 * without audio were bounded. */
static void zero_memory(double base)
{
	const char *ext[] = { "mp3", "flac", "ogg" };
	char *list[3];
	int n = 0;
	for (int i = 0; i < 3; i++) {
		if (asprintf(&list[n], "%s/zeros.%s", harness_tmpdir(),
			     ext[i]) < 0)
			continue;
		FILE *f = fopen(list[n], "wb");
		if (f && fclose(f) == 0 && truncate(list[n], 512L << 20) == 0)
			n++;
		else
			free(list[n]);
	}
	const struct analyze_opts o = { .max_seconds = MAX_SECONDS,
					.timeout_s = TIMEOUT };
	for (int i = 0; i < n; i++) {
		struct child_report z;
		if (run_child(1, &list[i], 1, &o, &z))
			printf("memory   zero-filled 512 MB %s: peak %.1f MB "
			       "over idle, %.2f s  (target <= 50 MB per "
			       "worker; the .mp3 took 1,090 MB)\n",
			       strrchr(list[i], '.'),
			       z.maxrss_kb / 1024.0 - base, z.wall);
		unlink(list[i]);
		free(list[i]);
	}
}

int main(void)
{
	char dir[4096] = "";
	if (!find_corpus(dir, sizeof dir)) {
		printf("bench_analyze: skipped: the dev corpus could not be "
		       "made (needs ../shared/tools/dev-corpus.sh and apt, or "
		       "set MPDREC_CORPUS)\n");
		return 0;
	}
	add_files(dir, 0);
	if (n_files == 0) {
		printf("bench_analyze: skipped: no audio files in %s\n", dir);
		return 0;
	}
	qsort(files, (size_t)n_files, sizeof *files, cmp_size);
	const struct analyze_opts opts = { .max_seconds = MAX_SECONDS,
					   .timeout_s = TIMEOUT };
	const struct decode_opts dopts = { .max_seconds = MAX_SECONDS,
					   .timeout_s = TIMEOUT };

	if (!speed(dir, &opts, &dopts))
		return 1;

	double base;
	if (!threads_memory(&opts, &base))
		return 1;
	hour_memory(base);
	zero_memory(base);
	for (int i = 0; i < n_files; i++)
		free(files[i]);
	free(files);
	return 0;
}
