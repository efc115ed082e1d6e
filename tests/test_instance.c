/* Issue 13, starting: one daemon per data directory, pidfiles, and a
 * corrupt saved model.
 *  - Two `mpdrec run` on one data directory both started and stored every
 *    like and skip twice: the second now exits 1 naming the first's pid.
 *  - `run --daemon --pidfile P` twice started two daemons and overwrote P;
 *    `--pidfile /nonexistent/x.pid` exited 0 with no daemon and no word: a
 *    stale pidfile is now taken over, a live one refused (exit 1, named),
 *    and one that cannot be written is an error (exit 1).
 *  - One flipped byte in the model row made run, recommend and train exit
 *    1 ("the model is corrupt"); the shipped unit then restarts forever.
 *    Now the model is set aside (models_rejected) and rebuilt from the
 *    events, and the commands go on. Real MPD. */
#include "core/store.h"
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <mpd/client.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct rig rig;
static bool ready;

static void setup(void)
{
	ready = rig_start_mpd(&rig, harness_tmpdir()) &&
		listener_make_library(rig.mpd.music, 3, 1.5) &&
		mpdtest_update(&rig.mpd) &&
		rig_write_conf(&rig, "feedback = { min_duration = 0.5; };\n"
				     "queue = { settle_ms = 50.0; };");
}

/* Writes a configuration like rig's with another data directory and a
 * log file; returns its path (static per name). */
static const char *other_conf(const char *name, char *path, size_t size)
{
	char data[4400], log[4400];
	snprintf(path, size, "%s/%s.conf", rig.root, name);
	snprintf(data, sizeof data, "%s/%s-data", rig.root, name);
	snprintf(log, sizeof log, "%s/%s.log", rig.root, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fprintf(f, "mpd = { host = \"127.0.0.1\"; port = %u; };\n"
			   "data_directory = \"%s\";\n"
			   "log = { file = \"%s\"; };\n",
			rig.mpd.port, data, log);
		fclose(f);
	}
	return path;
}

/* Runs `mpdrec ARGS` (a shell word list), stderr into `err`; returns the
 * exit status. */
__attribute__((format(printf, 2, 3)))
static int cli(const char *err, const char *fmt, ...)
{
	char args[9000];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	return harness_system("{ timeout 30 '%s' %s 2> '%s'; }", proc_mpdrec(),
			      args, err);
}

static long pid_in(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = 0;
	if (f && fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	if (f)
		fclose(f);
	return pid;
}

static bool gone(long pid, double timeout_s)
{
	for (double end = proc_now() + timeout_s; proc_now() < end;
	     proc_sleep(0.05))
		if (kill((pid_t)pid, 0) != 0)
			return true;
	return false;
}

static void test_second_run_refused(void)
{
	if (!CHECK(ready) || !CHECK(rig_start_daemon(&rig, 30)))
		return;
	char err[4400], want[128];
	snprintf(err, sizeof err, "%s/second.err", rig.root);
	snprintf(want, sizeof want, "another mpdrec (pid %ld) runs",
		 (long)rig.pid);
	/* In the foreground, and in the background. */
	char *argv[] = { (char *)proc_mpdrec(), "--config", rig.conf, "run",
			 NULL };
	pid_t second = proc_spawn(argv, err);
	double secs;
	CHECK_INT(rig_wait_exit(second, 15, &secs), 1);
	CHECK_MSG(rig_log_count(err, 0, want) == 1, "no \"%s\" in %s", want,
		  err);
	CHECK_INT(cli(err, "--config '%s' run --daemon", rig.conf), 1);
	CHECK(rig_log_count(err, 0, want) == 1);
	CHECK_MSG(kill(rig.pid, 0) == 0, "the first daemon died");
	/* The first goes on: one event per song, stored once. */
	long from = proc_file_size(rig.log);
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	if (CHECK(c)) {
		CHECK(mpd_run_send_message(c, "mpdrec", "like soft_01.wav"));
		mpd_connection_free(c);
	}
	CHECK(proc_wait_for(rig.log, "like soft_01.wav", from, 5));
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	printf("a second run on one data directory: exit 1 in %.2f s: %s\n",
	       secs, want);
}

static void test_pidfiles(void)
{
	if (!CHECK(ready))
		return;
	char conf1[4400], conf2[4400], pidfile[4400], err[4400];
	other_conf("bg1", conf1, sizeof conf1);
	other_conf("bg2", conf2, sizeof conf2);
	snprintf(pidfile, sizeof pidfile, "%s/mpdrec.pid", rig.root);
	snprintf(err, sizeof err, "%s/pidfile.err", rig.root);
	/* Stale: the pid of a process that is gone. */
	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	FILE *f = fopen(pidfile, "w");
	if (f) {
		fprintf(f, "%ld\n", (long)dead);
		fclose(f);
	}
	CHECK_INT(cli(err, "--config '%s' run --daemon --pidfile '%s'", conf1,
		      pidfile), 0);
	long pid = pid_in(pidfile);
	CHECK_MSG(pid > 0 && pid != dead && kill((pid_t)pid, 0) == 0,
		  "pidfile holds %ld", pid);
	/* Live: refused, named, and the file stays the first's. */
	CHECK_INT(cli(err, "--config '%s' run --daemon --pidfile '%s'", conf2,
		      pidfile), 1);
	char want[4600];
	snprintf(want, sizeof want, "pidfile %s: a running mpdrec holds it "
		 "(pid %ld)", pidfile, pid);
	CHECK_MSG(rig_log_count(err, 0, want) == 1, "no \"%s\"", want);
	CHECK_INT(pid_in(pidfile), pid);
	/* Its data directory is taken too, whatever the pidfile. */
	char other[4400];
	snprintf(other, sizeof other, "%s/other.pid", rig.root);
	CHECK_INT(cli(err, "--config '%s' run --daemon --pidfile '%s'", conf1,
		      other), 1);
	snprintf(want, sizeof want, "another mpdrec (pid %ld) runs", pid);
	CHECK(rig_log_count(err, 0, want) == 1);
	CHECK(access(other, F_OK) != 0);
	/* A pidfile that cannot be written: exit 1, said, no daemon left. */
	CHECK_INT(cli(err, "--config '%s' run --daemon --pidfile '%s'", conf2,
		      "/nonexistent/x.pid"), 1);
	CHECK(rig_log_count(err, 0, "cannot open the pidfile "
			    "/nonexistent/x.pid: No such file") == 1);
	CHECK_INT(cli(err, "--config '%s' run --pidfile '%s'", conf2,
		      "/nonexistent/x.pid"), 1);
	/* conf2's data directory is free: a daemon starts there. */
	char *argv[] = { (char *)proc_mpdrec(), "--config", conf2, "run",
			 NULL };
	char log2[4400];
	snprintf(log2, sizeof log2, "%s/bg2.log", rig.root);
	long from = proc_file_size(log2);
	pid_t p2 = proc_spawn(argv, err);
	CHECK(proc_wait_for(log2, "connected to MPD", from, 15));
	CHECK_INT(proc_stop(p2, SIGTERM, 10, NULL), 0);
	/* The first stops; its pidfile goes with it. */
	kill((pid_t)pid, SIGTERM);
	CHECK(gone(pid, 10));
	CHECK(access(pidfile, F_OK) != 0);
	printf("pidfiles: a stale one taken over, a live one refused (pid "
	       "%ld named), /nonexistent/x.pid refused with exit 1\n", pid);
}

/* Flips one byte in the middle of the saved model. */
static bool corrupt_model(void)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/mpdrec.db", rig.data);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool ok = sqlite3_open(path, &db) == SQLITE_OK &&
		  sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
		  sqlite3_exec(db, "UPDATE model SET blob = "
			       "substr(blob, 1, length(blob) / 2) || "
			       "x'5a' || substr(blob, length(blob) / 2 + 2)",
			       NULL, NULL, NULL) == SQLITE_OK &&
		  sqlite3_changes(db) == 1;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

static long long rejected(void)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/mpdrec.db", rig.data);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long n = -1;
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM models_rejected", -1,
			       &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void test_corrupt_model_rebuilt(void)
{
	if (!CHECK(ready) || !CHECK(rig_start_daemon(&rig, 30)))
		return;
	if (!CHECK(listener_wait_analysed(rig.data, 6, 60) == 6))
		return;
	/* Labels, so there is a model and events to rebuild it from. */
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	if (!CHECK(c))
		return;
	const char *msgs[] = { "like soft_00.wav", "dislike noisy_00.wav",
			       "like soft_01.wav", "dislike noisy_01.wav",
			       "like soft_02.wav", "dislike noisy_02.wav" };
	long from = proc_file_size(rig.log);
	for (int i = 0; i < 6; i++)
		CHECK(mpd_run_send_message(c, "mpdrec", msgs[i]));
	mpd_connection_free(c);
	CHECK(proc_wait_for(rig.log, "dislike noisy_02.wav", from, 10));
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	char err[4400];
	snprintf(err, sizeof err, "%s/corrupt.err", rig.root);
	const char *cmds[] = { "recommend", "train" };
	for (int i = 0; i < 2; i++) {
		if (!CHECK(corrupt_model()))
			return;
		CHECK_MSG(cli(err, "--config '%s' %s", rig.conf, cmds[i]) == 0,
			  "mpdrec %s on a corrupt model", cmds[i]);
		CHECK_MSG(rig_log_count(err, 0, "set aside in the "
				    "models_rejected table") == 1,
			  "%s: not set aside (see %s)", cmds[i], err);
		CHECK_INT(rejected(), i + 1);
	}
	CHECK(corrupt_model());
	from = proc_file_size(rig.log);
	CHECK(rig_start_daemon(&rig, 30));
	CHECK(rig_log_count(rig.log, from, "checksum mismatch") == 1);
	CHECK(rig_log_count(rig.log, from, "trained a new model") == 1);
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	CHECK_INT(rejected(), 3);
	bool had = false;
	char why[512];
	CHECK_MSG(rig_check_store(rig.data, &had, why, sizeof why), "%s", why);
	CHECK(had);
	printf("a flipped byte in the saved model: recommend, train and run "
	       "went on (exit 0); %lld models set aside, rebuilt from the "
	       "events each time\n", rejected());
}

int main(void)
{
	setup();
	RUN(test_second_run_refused);
	RUN(test_pidfiles);
	RUN(test_corrupt_model_rebuilt);
	if (rig.pid > 0)
		rig_stop_daemon(&rig, SIGTERM, 10);
	mpdtest_stop(&rig.mpd);
	return harness_finish();
}
