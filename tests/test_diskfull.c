/* Issue 8, disk full and read-only. The data directory is a small tmpfs
 * (we run as root; where mount is not allowed the tests say "skipped" and
 * do not run):
 *  - it fills up while a listener plays: the daemon logs the error, keeps
 *    running and the music keeps playing (and the queue filled), and once
 *    there is room again it stores the events that waited ("stored N events
 *    that had waited"): nothing lost, nothing stored twice;
 *  - it fills up and the daemon is stopped before there is room: the
 *    events that wait are kept in the reserve (disk set aside in advance)
 *    and stored at the next start; before, SIGTERM lost them ("lost event"
 *    five times, none stored);
 *  - it is read-only (empty, or holding a database): `mpdrec run` and
 *    `mpdrec analyze` stop at once with exit status 1 and an error that
 *    names the directory. */
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <mpd/client.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PER_STYLE 8
#define TRACK_S 1.5
#define TMPFS_SIZE "8m"
#define FULL_FOR_S 8.0		/* how long the disk stays full */

static struct rig rig;
static char mounted[4][4400];
static int n_mounted;

static bool mount_tmpfs(const char *dir)
{
	mkdir(dir, 0700);
	if (mount("tmpfs", dir, "tmpfs", 0, "size=" TMPFS_SIZE ",mode=0700"))
		return false;
	snprintf(mounted[n_mounted++], sizeof mounted[0], "%s", dir);
	return true;
}

static bool remount_ro(const char *dir)
{
	return mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0;
}

static void unmount_all(void)
{
	while (n_mounted > 0)
		umount2(mounted[--n_mounted], MNT_DETACH);
}

/* Whether this machine lets us mount a tmpfs at all. */
static bool can_mount(void)
{
	char probe[4400];
	snprintf(probe, sizeof probe, "%s/probe", harness_tmpdir());
	if (!mount_tmpfs(probe))
		return false;
	unmount_all();
	return true;
}

/* The first line of `path` from `from` on that holds `text`, into line. */
static void find_line(const char *path, long from, const char *text,
		      char *line, size_t size)
{
	line[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	fseek(f, from, SEEK_SET);
	while (fgets(line, (int)size, f))
		if (strstr(line, text))
			break;
	if (!strstr(line, text))
		line[0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	fclose(f);
}

static bool daemon_alive(void)
{
	int st;
	return rig.pid > 0 && waitpid(rig.pid, &st, WNOHANG) == 0;
}

/* Sums N over "stored N events that had waited" lines. */
static int waited_events(void)
{
	FILE *f = fopen(rig.log, "r");
	if (!f)
		return 0;
	char line[4096];
	int sum = 0;
	while (fgets(line, sizeof line, f)) {
		const char *p = strstr(line, "info: stored ");
		int n;
		if (p && strstr(p, "events that had waited") &&
		    sscanf(p, "info: stored %d", &n) == 1)
			sum += n;
	}
	fclose(f);
	return sum;
}

/* Every logged event is stored once; the store holds exactly the logged
 * ones plus those that waited. */
static void check_nothing_lost(const char *when)
{
	struct rig_logged *logged = NULL;
	int n_logged = 0;
	CHECK(rig_logged_events(rig.log, 0, &logged, &n_logged));
	struct rig_event *ev = NULL;
	int n = 0;
	char err[512];
	if (!CHECK_MSG(rig_store_events(rig.data, &ev, &n, err, sizeof err),
		       "%s: %s", when, err)) {
		free(logged);
		return;
	}
	int missing = 0;
	for (int i = 0; i < n_logged; i++)
		missing += rig_find_event(ev, n, logged[i].id) == NULL;
	CHECK_MSG(missing == 0, "%s: %d logged events missing", when, missing);
	CHECK_MSG(rig_duplicate_events(ev, n) == 0, "%s: events stored twice",
		  when);
	CHECK_MSG(n == n_logged + waited_events(), "%s: %d events stored, "
		  "%d logged + %d that waited", when, n, n_logged,
		  waited_events());
	free(ev);
	free(logged);
}

static void test_disk_full(void)
{
	char root[4400];
	snprintf(root, sizeof root, "%s/full", harness_tmpdir());
	mkdir(root, 0700);
	if (!CHECK(rig_start_mpd(&rig, root)) ||
	    !CHECK(listener_make_library(rig.mpd.music, PER_STYLE, TRACK_S)) ||
	    !CHECK(mpdtest_update(&rig.mpd)) ||
	    !CHECK(mount_tmpfs(rig.data)))
		return;
	if (!CHECK(rig_write_conf(&rig,
		"feedback = { min_duration = 0.5; };\n"
		"queue = { ahead = 2; history_hours = 0.001; "
		"artist_spacing = 0; settle_ms = 50.0; };\n"
		"model = { retrain_every = 10; };\n"
		"analysis = { jobs = 1; };")) ||
	    !CHECK(rig_start_daemon(&rig, 30)))
		return;
	double t0 = proc_now();
	int counts[4] = { 0 };
	while (proc_now() - t0 < 60 && (!rig_track_counts(rig.data, counts) ||
					counts[1] < 2 * PER_STYLE))
		proc_sleep(0.2);
	if (!CHECK_MSG(counts[1] == 2 * PER_STYLE, "%d of %d analysed",
		       counts[1], 2 * PER_STYLE))
		return;
	struct rig_listener *l = rig_listener_start(&rig.mpd, 0.3);
	if (!CHECK(l))
		return;
	while (rig_log_count(rig.log, 0, "info: event ") < 3 &&
	       proc_now() - t0 < 60)
		proc_sleep(0.1);
	int before = rig_log_count(rig.log, 0, "info: event ");

	/* Fill the disk. */
	long from = proc_file_size(rig.log);
	harness_system("dd if=/dev/zero of='%s/filler' bs=64k", rig.data);
	bool failed = proc_wait_for(rig.log, "cannot store an event", from, 30);
	CHECK_MSG(failed, "no event failed to store on a full disk");
	char error_line[1024];
	find_line(rig.log, from, "cannot store an event", error_line,
		  sizeof error_line);
	CHECK(strstr(error_line, "full") != NULL);
	double t_full = proc_now();
	long full_from = proc_file_size(rig.log);
	int heard_full = rig_listener_heard(l);
	/* Full for a while: several events wait, retries fail. */
	bool playing = true;
	int state_checks = 0;
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	while (proc_now() - t_full < FULL_FOR_S) {
		int ahead = 0, state = 0;
		if (c && rig_queue_ahead(c, &ahead, &state)) {
			state_checks++;
			/* The listener presses play at once if MPD stops
			 * between two songs: look again a moment later. */
			if (state != MPD_STATE_PLAY) {
				proc_sleep(0.3);
				rig_queue_ahead(c, &ahead, &state);
			}
			playing = playing && state == MPD_STATE_PLAY;
		}
		CHECK(daemon_alive());
		proc_sleep(0.5);
	}
	if (c)
		mpd_connection_free(c);
	int heard_while_full = rig_listener_heard(l) - heard_full;
	int queued_while_full = rig_log_count(rig.log, full_from, "queued ");
	CHECK_MSG(daemon_alive(), "the daemon died on a full disk");
	CHECK_MSG(playing && state_checks > 0, "MPD stopped playing");
	CHECK_MSG(heard_while_full >= 2, "%d songs while full",
		  heard_while_full);
	CHECK_MSG(queued_while_full >= 1, "the queue was not filled while "
		  "the disk was full");
	CHECK_INT(rig_log_count(rig.log, full_from, "stored "), 0);

	/* Room again. */
	char filler[4400];
	snprintf(filler, sizeof filler, "%s/filler", rig.data);
	CHECK(unlink(filler) == 0);
	double t_free = proc_now();
	bool stored = proc_wait_for(rig.log, "events that had waited",
				    full_from, 20);
	CHECK_MSG(stored, "the waiting events were not stored");
	double catch_up = proc_now() - t_free;
	int waited = waited_events();
	CHECK_MSG(waited >= 2, "only %d events waited", waited);
	check_nothing_lost("after the disk had room again");
	/* And it goes on storing events as they come. */
	long after = proc_file_size(rig.log);
	CHECK(proc_wait_for(rig.log, "info: event ", after, 15));
	rig_listener_stop(l);
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	check_nothing_lost("after the daemon stopped");
	CHECK_INT(rig_log_count(rig.log, 0, "lost event"), 0);
	CHECK_INT(rig_log_count(rig.log, 0, "dropping"), 0);
	printf("disk full: %d events stored before, the %s tmpfs filled; "
	       "for %.0f s the daemon kept running, MPD kept playing (%d "
	       "songs) and %d songs were queued; %d events waited and were "
	       "stored %.1f s after room was made; 0 lost, 0 stored twice\n",
	       before, TMPFS_SIZE, FULL_FOR_S, heard_while_full,
	       queued_while_full, waited, catch_up);
	printf("  the log said: %s\n", error_line);
	mpdtest_stop(&rig.mpd);
	unmount_all();
}

/* Issue 13: disk full, then SIGTERM: the waiting events were lost. */
static void test_stop_while_full(void)
{
	char root[4400];
	snprintf(root, sizeof root, "%s/stop", harness_tmpdir());
	mkdir(root, 0700);
	if (!CHECK(rig_start_mpd(&rig, root)) ||
	    !CHECK(listener_make_library(rig.mpd.music, PER_STYLE, TRACK_S)) ||
	    !CHECK(mpdtest_update(&rig.mpd)) ||
	    !CHECK(mount_tmpfs(rig.data)))
		return;
	if (!CHECK(rig_write_conf(&rig,
		"feedback = { min_duration = 0.5; };\n"
		"queue = { ahead = 2; history_hours = 0.001; "
		"artist_spacing = 0; settle_ms = 50.0; };\n"
		"analysis = { jobs = 1; };")) ||
	    !CHECK(rig_start_daemon(&rig, 30)))
		return;
	int analysed = listener_wait_analysed(rig.data, 2 * PER_STYLE, 60);
	if (!CHECK_MSG(analysed == 2 * PER_STYLE, "%d analysed", analysed))
		return;
	struct rig_listener *l = rig_listener_start(&rig.mpd, 0.3);
	if (!CHECK(l))
		return;
	double t0 = proc_now();
	while (rig_log_count(rig.log, 0, "info: event ") < 2 &&
	       proc_now() - t0 < 30)
		proc_sleep(0.1);
	long from = proc_file_size(rig.log);
	harness_system("dd if=/dev/zero of='%s/filler' bs=64k", rig.data);
	CHECK(proc_wait_for(rig.log, "cannot store an event", from, 30));
	/* A few more songs wait, then the daemon is stopped. */
	int heard = rig_listener_heard(l);
	while (rig_listener_heard(l) < heard + 5 && proc_now() - t0 < 60)
		proc_sleep(0.1);
	proc_sleep(0.5);
	int rc = rig_stop_daemon(&rig, SIGTERM, 15);
	rig_listener_stop(l);
	CHECK_MSG(rc == 0 || rc == 1, "exit status %d", rc);
	int lost = rig_log_count(rig.log, 0, "lost event");
	char line[1024];
	find_line(rig.log, from, "kept in the reserve", line, sizeof line);
	CHECK_INT(lost, 0);
	CHECK_MSG(line[0], "no \"kept in the reserve\" line");
	int kept = 0;
	const char *w = strstr(line, "warning: ");
	if (w)
		sscanf(w, "warning: %d", &kept);
	CHECK_MSG(kept >= 3, "%d events kept", kept);

	/* Room again; the next start stores them, once. */
	char filler[4400];
	snprintf(filler, sizeof filler, "%s/filler", rig.data);
	CHECK(unlink(filler) == 0);
	long restart = proc_file_size(rig.log);
	CHECK(rig_start_daemon(&rig, 30));
	CHECK(rig_log_count(rig.log, restart, "that had waited in the "
			    "reserve") == 1);
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	check_nothing_lost("after a stop on a full disk and a restart");
	CHECK_INT(waited_events(), kept);
	printf("disk full, then SIGTERM: %d events waited; kept in the "
	       "reserve, stored at the next start; %d lost, 0 stored "
	       "twice\n", kept, lost);
	printf("  the log said: %s\n", line);
	mpdtest_stop(&rig.mpd);
	unmount_all();
}

/* Runs `mpdrec run` or `mpdrec analyze` on the configuration, bounded;
 * returns its exit status; its output goes to `log`. */
static int run_cmd(const char *conf, const char *cmd, const char *log,
		   double *secs)
{
	char *argv[] = { (char *)proc_mpdrec(), "--config", (char *)conf,
			 (char *)cmd, NULL };
	pid_t pid = proc_spawn(argv, log);
	if (pid < 0)
		return -1;
	return rig_wait_exit(pid, 15, secs);
}

static void expect_refusal(const char *conf, const char *cmd,
			   const char *dir, const char *what)
{
	char log[4400];
	snprintf(log, sizeof log, "%s/ro-%s-%s.log", harness_tmpdir(), what,
		 cmd);
	double secs;
	int rc = run_cmd(conf, cmd, log, &secs);
	CHECK_MSG(rc == 1, "%s (%s): exit status %d after %.1f s", cmd, what,
		  rc, secs);
	CHECK_MSG(rig_log_count(log, 0, dir) >= 1 &&
		  rig_log_count(log, 0, "ead-only") >= 1,
		  "%s (%s): the error does not name %s as read-only (see %s)",
		  cmd, what, dir, log);
	FILE *f = fopen(log, "r");
	char line[1024] = "";
	if (f) {
		if (!fgets(line, sizeof line, f))
			line[0] = '\0';
		fclose(f);
	}
	line[strcspn(line, "\n")] = '\0';
	printf("read-only (%s), mpdrec %s: exit %d in %.2f s: %s\n", what,
	       cmd, rc, secs, line);
}

static void test_read_only(void)
{
	char root[4400];
	snprintf(root, sizeof root, "%s/ro", harness_tmpdir());
	mkdir(root, 0700);
	if (!CHECK(rig_start_mpd(&rig, root)) ||
	    !CHECK(listener_make_library(rig.mpd.music, 1, 1.0)) ||
	    !CHECK(mpdtest_update(&rig.mpd)))
		return;
	/* An empty read-only directory: nowhere to create the database. */
	if (!CHECK(mount_tmpfs(rig.data)) || !CHECK(remount_ro(rig.data)) ||
	    !CHECK(rig_write_conf(&rig, NULL)))
		return;
	expect_refusal(rig.conf, "run", rig.data, "empty");
	expect_refusal(rig.conf, "analyze", rig.data, "empty");
	unmount_all();

	/* A database that exists, then the directory turns read-only. */
	if (!CHECK(mount_tmpfs(rig.data)) || !CHECK(rig_start_daemon(&rig, 30)))
		return;
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	if (!CHECK(remount_ro(rig.data)))
		return;
	expect_refusal(rig.conf, "run", rig.data, "with a database");
	expect_refusal(rig.conf, "analyze", rig.data, "with a database");
	mpdtest_stop(&rig.mpd);
	unmount_all();
}

int main(void)
{
	harness_tmpdir();
	atexit(unmount_all);	/* before the directory is removed */
	if (!can_mount()) {
		printf("skipped: cannot mount tmpfs (disk-full and read-only "
		       "tests need root and mount(2))\n");
		return harness_finish();
	}
	RUN(test_disk_full);
	if (rig.pid > 0)
		rig_stop_daemon(&rig, SIGTERM, 5);
	mpdtest_stop(&rig.mpd);
	unmount_all();
	RUN(test_stop_while_full);
	if (rig.pid > 0)
		rig_stop_daemon(&rig, SIGTERM, 5);
	mpdtest_stop(&rig.mpd);
	unmount_all();
	RUN(test_read_only);
	if (rig.pid > 0)
		rig_stop_daemon(&rig, SIGTERM, 5);
	mpdtest_stop(&rig.mpd);
	unmount_all();
	return harness_finish();
}
