/* The daemon against a real MPD:
 * 1. CPU used over 30 s of paused MPD (target <= 10 ms: it sleeps in
 *    poll()), against a client that polls `status` twice a second, measured
 *    in the same window.
 * 2. The simulated listener's like rate with mpdrec filling the queue
 *    (after 15 songs to learn from), against MPD's shuffle on the same
 *    library. */
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/mpdtest.h"
#include "tests/lib/proc.h"

#include <dirent.h>
#include <mpd/client.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDLE_S 30.0
#define PER_STYLE 20
#define LEARN_SONGS 15
#define JUDGED 30

/* CPU time of every thread of a process, in seconds, and how many times
 * its threads went to sleep voluntarily (wake-ups), from the scheduler's
 * own accounting (/proc/PID/task/TID/sched: se.sum_exec_runtime in ms). */
static double process_cpu(pid_t pid, long *wakeups)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	double total = 0;
	*wakeups = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[400], line[256];
		snprintf(p, sizeof p, "%s/%s/sched", path, e->d_name);
		FILE *f = fopen(p, "r");
		while (f && fgets(line, sizeof line, f)) {
			double v;
			if (sscanf(line, "se.sum_exec_runtime : %lf", &v) == 1)
				total += v * 1e-3;
			long n;
			if (sscanf(line, "nr_voluntary_switches : %ld", &n) == 1)
				*wakeups += n;
		}
		if (f)
			fclose(f);
	}
	closedir(d);
	return total;
}

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static pid_t start_daemon(const struct mpdtest *m, const char *root,
			  const char *name)
{
	char conf[4200], log[4200], data[4200];
	snprintf(conf, sizeof conf, "%s/%s.conf", root, name);
	snprintf(log, sizeof log, "%s/%s.log", root, name);
	snprintf(data, sizeof data, "%s/%s-data", root, name);
	mpdtest_write_mpdrec_conf(m, conf, NULL, data,
				  "feedback = { min_duration = 1.0; };\n"
				  "queue = { ahead = 2; history_hours = 0.01; "
				  "settle_ms = 50.0; };\n");
	char *argv[] = { (char *)proc_mpdrec(), "--config", conf, "run", NULL };
	pid_t pid = proc_spawn(argv, log);
	listener_wait_analysed(data, 2 * PER_STYLE, 60);
	return pid;
}

static void bench_idle(struct mpdtest *m, const char *root)
{
	pid_t pid = start_daemon(m, root, "idle");
	struct mpd_connection *c = mpdtest_connect(m);
	listener_begin(c, "noisy_00.wav");
	listener_wait_queue(c, 3, 10);
	proc_sleep(0.5);
	mpd_run_pause(c, true);
	proc_sleep(1.0);
	long wake0, wake1;
	double before = process_cpu(pid, &wake0);
	/* The baseline: a client without idle, polling status twice a
	 * second, in this thread during the same window. */
	double base0 = thread_cpu();
	double end = proc_now() + IDLE_S;
	int polls = 0;
	while (proc_now() < end) {
		struct mpd_status *st = mpd_run_status(c);
		if (st)
			mpd_status_free(st);
		polls++;
		proc_sleep(0.5);
	}
	double base = thread_cpu() - base0;
	double used = process_cpu(pid, &wake1) - before;
	printf("idle: daemon used %.2f ms of CPU and woke %ld times over %.0f s "
	       "of paused MPD (target <= 10 ms; %.0f ms of CPU since it "
	       "started)\n", used * 1e3, wake1 - wake0, IDLE_S, before * 1e3);
	printf("idle: baseline, a client polling status every 0.5 s: %.2f ms "
	       "(%d polls); ratio %.2f\n", base * 1e3, polls,
	       base > 0 ? used / base : 0.0);
	mpd_run_stop(c);
	mpd_connection_free(c);
	proc_stop(pid, SIGTERM, 5, NULL);
}

struct tally {
	int judged, liked, skip_first;
};

static bool count_song(int n, const char *uri, bool liked, void *ctx)
{
	struct tally *t = ctx;
	(void)uri;
	if (n >= t->skip_first) {
		t->judged++;
		t->liked += liked;
	}
	return t->judged < JUDGED;
}

static void bench_listener(struct mpdtest *m, const char *root)
{
	pid_t pid = start_daemon(m, root, "listen");
	struct mpd_connection *c = mpdtest_connect(m);
	listener_begin(c, "noisy_00.wav");
	struct tally ours = { .skip_first = LEARN_SONGS };
	double t0 = proc_now();
	listener_run(c, 0.3, 240, count_song, &ours);
	double ours_s = proc_now() - t0;
	mpd_run_stop(c);
	proc_stop(pid, SIGTERM, 5, NULL);

	/* Shuffle: the whole library in random order, no learning. */
	mpd_run_clear(c);
	mpd_run_add(c, "/");
	mpd_run_shuffle(c);
	mpd_run_play(c);
	struct tally shuffle = { .skip_first = 0 };
	listener_run(c, 0.3, 240, count_song, &shuffle);
	mpd_run_stop(c);
	mpd_connection_free(c);
	double r1 = ours.judged ? (double)ours.liked / ours.judged : 0;
	double r0 = shuffle.judged ? (double)shuffle.liked / shuffle.judged : 0;
	printf("listener: mpdrec's picks liked %.0f%% of %d songs after %d "
	       "to learn from (%.0f s from a cold start)\n", 100 * r1,
	       ours.judged, LEARN_SONGS, ours_s);
	printf("listener: baseline, MPD's shuffle on the same library: "
	       "%.0f%% of %d; ratio %.2f (target: >= 75%% where shuffle "
	       "gives the base rate)\n", 100 * r0, shuffle.judged,
	       r0 > 0 ? r1 / r0 : 0.0);
}

int main(void)
{
	const char *root = harness_tmpdir();
	char mroot[4200];
	snprintf(mroot, sizeof mroot, "%s/mpd", root);
	struct mpdtest m;
	if (!mpdtest_start(&m, mroot) ||
	    !listener_make_library(m.music, PER_STYLE, 2.5) ||
	    !mpdtest_update(&m)) {
		printf("bench_daemon: skipped: cannot start MPD (make deps)\n");
		mpdtest_stop(&m);
		return 0;
	}
	bench_idle(&m, root);
	bench_listener(&m, root);
	mpdtest_stop(&m);
	return 0;
}
