/* The audio analysis as a plugin (daemon/plugin/analysis.h, issue 18.3):
 * the real binary analyses through libmpdrec-analysis.so; a daemon maps
 * FFmpeg's libraries only once it has something to analyse (a restart on
 * an analysed library never does); a plugin that cannot be loaded is named
 * plainly, and the tracks stay pending rather than failed. */
#include "core/store.h"
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static struct rig rig;
static bool ready;

/* Whether process pid maps a file whose name contains `name`. */
static bool maps(pid_t pid, const char *name)
{
	char path[64], line[1024];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	bool found = false;
	while (f && !found && fgets(line, sizeof line, f))
		found = strstr(line, name) != NULL;
	if (f)
		fclose(f);
	return found;
}

/* Runs the shell command and returns its exit status, its stderr in err. */
static int sh(char *err, size_t size, const char *cmd)
{
	char out[4400];
	snprintf(out, sizeof out, "%s/stderr.txt", harness_tmpdir());
	char full[13000];
	snprintf(full, sizeof full, "%s 2>'%s'", cmd, out);
	int st = system(full);
	int rc = st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	FILE *f = fopen(out, "r");
	size_t n = f ? fread(err, 1, size - 1, f) : 0;
	err[n] = '\0';
	if (f)
		fclose(f);
	return rc;
}

static void test_show_file_through_the_plugin(void)
{
	char wav[4300], cmd[9000], err[2048];
	snprintf(wav, sizeof wav, "%s/tone.wav", harness_tmpdir());
	static float tone[22050 * 3];
	for (size_t i = 0; i < sizeof tone / sizeof tone[0]; i++)
		tone[i] = 0.3f * (float)((i / 40) % 2 ? 1 : -1);
	CHECK(harness_write_wav(wav, tone, sizeof tone / sizeof tone[0], 1,
				22050));
	snprintf(cmd, sizeof cmd, "'%s' show --file '%s' >/dev/null",
		 proc_mpdrec(), wav);
	int rc = sh(err, sizeof err, cmd);
	CHECK_MSG(rc == 0, "show --file: exit %d: %s", rc, err);
	/* No plugin to be found: named, exit 1. */
	snprintf(cmd, sizeof cmd, "MPDREC_ANALYSIS_PLUGIN=/nonexistent/x.so "
		 "'%s' show --file '%s' >/dev/null", proc_mpdrec(), wav);
	rc = sh(err, sizeof err, cmd);
	CHECK_MSG(rc == 1, "show --file without its plugin: exit %d", rc);
	CHECK_MSG(strstr(err, "cannot load the audio analysis") &&
		  strstr(err, "/nonexistent/x.so"), "said: %s", err);
	/* A file that is not the plugin: refused, not crashed. */
	snprintf(cmd, sizeof cmd, "MPDREC_ANALYSIS_PLUGIN='%s' '%s' show "
		 "--file '%s' >/dev/null", wav, proc_mpdrec(), wav);
	rc = sh(err, sizeof err, cmd);
	CHECK_MSG(rc == 1, "show --file with a WAV for a plugin: exit %d",
		  rc);
}

static void setup(void)
{
	ready = rig_start_mpd(&rig, harness_tmpdir()) &&
		listener_make_library(rig.mpd.music, 2, 3.0) &&
		mpdtest_update(&rig.mpd) &&
		rig_write_conf(&rig, "log = { level = \"debug\"; };");
}

/* Starts the daemon (env: one NAME=value or NULL), waits for its first
 * library scan to end; returns the log's size before it started. */
static long start_and_scan(const char *env)
{
	long from = proc_file_size(rig.log);
	if (env)
		putenv((char *)env);
	bool ok = rig_start_daemon(&rig, 30) &&
		  proc_wait_for(rig.log, "library scan:", from, 60);
	if (env)
		unsetenv("MPDREC_ANALYSIS_PLUGIN");
	CHECK_MSG(ok, "the daemon did not start or scan");
	return from;
}

static void test_daemon_maps_ffmpeg_only_to_analyse(void)
{
	if (!CHECK(ready))
		return;
	/* Without its plugin: the error said, every track still pending. */
	long from = start_and_scan("MPDREC_ANALYSIS_PLUGIN=/nonexistent/x.so");
	CHECK(rig_log_count(rig.log, from, "cannot load the audio analysis")
	      > 0);
	rig_stop_daemon(&rig, SIGTERM, 10);
	int counts[4] = { 0 };
	CHECK(rig_track_counts(rig.data, counts));
	CHECK_MSG(counts[STORE_PENDING] == 4 && counts[STORE_FAILED] == 0,
		  "without the plugin: %d pending, %d failed (want 4, 0)",
		  counts[STORE_PENDING], counts[STORE_FAILED]);

	/* With it: analysed, FFmpeg mapped. */
	start_and_scan(NULL);
	CHECK(rig.pid > 0 && maps(rig.pid, "libavcodec"));
	rig_stop_daemon(&rig, SIGTERM, 10);
	CHECK(rig_track_counts(rig.data, counts));
	CHECK_MSG(counts[STORE_ANALYSED] == 4, "%d analysed (want 4)",
		  counts[STORE_ANALYSED]);

	/* Again, on an analysed library: nothing to analyse, no FFmpeg. */
	start_and_scan(NULL);
	CHECK_MSG(rig.pid > 0 && !maps(rig.pid, "libavcodec") &&
		  !maps(rig.pid, "libaubio") &&
		  !maps(rig.pid, "libmpdrec-analysis"),
		  "a daemon with nothing to analyse mapped FFmpeg or aubio");
	rig_stop_daemon(&rig, SIGTERM, 10);
}

int main(void)
{
	RUN(test_show_file_through_the_plugin);
	setup();
	RUN(test_daemon_maps_ffmpeg_only_to_analyse);
	if (rig.pid > 0)
		rig_stop_daemon(&rig, SIGTERM, 5);
	mpdtest_stop(&rig.mpd);
	return harness_finish();
}
