/* Issue 8, security: the data directory is 0700 and its files 0600 after a
 * daemon run (under umask 022, and when they existed with wider modes);
 * the MPD password (MPD runs with one) never appears in the daemon's log,
 * at debug level, through a reconnect, a reload and a refused password, nor
 * in `check-config`, `status` or `like` output, from the file or from
 * MPD_HOST; a URI outside music_directory, sent on the channel or given
 * to the command line, is never opened (inotify watches the file it
 * names), and `mpdrec like` refuses it; channel messages over the bound
 * are refused, and messages far over libmpdclient's 4 kB line, sent again
 * and again, neither make the daemon deaf nor cost the song playing its
 * verdict. Real MPD. */
#include "core/store.h"
#include "features/table.h"
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <arpa/inet.h>
#include <mpd/client.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define PASSWORD "s3cret-pw"
#define WRONG "wr0ng-pw"

static struct rig rig;
static bool ready;
static char outside[4500];	/* a good audio file outside the music */
static const char *outside_uri = "../../outside/secret.wav";

static struct mpd_connection *authed(void)
{
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	if (c && !mpd_run_password(c, PASSWORD)) {
		mpd_connection_free(c);
		c = NULL;
	}
	return c;
}

/* mpdrec.conf for rig.data, with the password, at debug level. */
static bool write_conf(void)
{
	return rig_write_conf(&rig,
			      "feedback = { min_duration = 0.5; };\n"
			      "queue = { settle_ms = 50.0; history_hours = "
			      "0.001; };\n"
			      "log = { level = \"debug\"; };");
}

static void setup(void)
{
	if (!rig_start_mpd(&rig, harness_tmpdir()) ||
	    !listener_make_library(rig.mpd.music, 3, 1.5) ||
	    !mpdtest_update(&rig.mpd))
		return;
	char dir[4400];
	snprintf(dir, sizeof dir, "%s/outside", rig.root);
	mkdir(dir, 0755);
	if (!listener_make_library(dir, 1, 1.5))
		return;
	snprintf(outside, sizeof outside, "%s/secret.wav", dir);
	if (rename(strcat(dir, "/soft_00.wav"), outside) != 0)
		return;
	/* A song long enough to send messages while it plays. */
	enum { RATE = 22050, LONG_S = 6 };
	static float tone[LONG_S * RATE];
	for (int i = 0; i < LONG_S * RATE; i++)
		tone[i] = 0.2f * (float)((i / 40) % 2 ? 1 : -1);
	char long_path[4400];
	snprintf(long_path, sizeof long_path, "%s/long.wav", rig.mpd.music);
	if (!harness_write_track(long_path, tone, LONG_S * RATE, RATE) ||
	    !mpdtest_update(&rig.mpd))
		return;
	/* From now on MPD wants the password for anything but reading. */
	if (!rig_mpd_config(&rig, "password \"" PASSWORD
			    "@read,add,control,admin\"\n"
			    "default_permissions \"read\"\n"))
		return;
	rig.password = PASSWORD;
	ready = write_conf();
}

/* Whether file `path` contains `text` anywhere. */
static bool file_has(const char *path, const char *text)
{
	return rig_log_count(path, 0, text) > 0;
}

/* Runs `mpdrec --config conf ARGS`, output appended to out; returns its
 * exit status. */
static int cli(const char *conf, const char *args, const char *out)
{
	return harness_system("{ '%s' --config '%s' %s >> '%s' 2>&1; }",
			      proc_mpdrec(), conf, args, out);
}

static void test_password_never_shown(void)
{
	if (!CHECK(ready) || !CHECK(rig_start_daemon(&rig, 30)))
		return;
	/* Listening: a like, a skip; then MPD restarts (a reconnect with
	 * the password) and the configuration is reloaded. */
	struct mpd_connection *c = authed();
	if (!CHECK(c))
		return;
	CHECK(mpd_run_clear(c) && mpd_run_add(c, "soft_00.wav") &&
	      mpd_run_add(c, "noisy_00.wav") && mpd_run_play_pos(c, 0));
	CHECK(proc_wait_for(rig.log, "info: event ", 0, 10));
	mpd_connection_free(c);
	long from = proc_file_size(rig.log);
	mpdtest_stop(&rig.mpd);
	CHECK(mpdtest_restart(&rig.mpd));
	CHECK(proc_wait_for(rig.log, "is back", from, 15));
	kill(rig.pid, SIGHUP);
	CHECK(proc_wait_for(rig.log, "configuration reloaded", from, 5));
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	CHECK(file_has(rig.log, "debug:"));

	/* A wrong password: refused, and neither password shows. */
	char conf2[4400], log2[4400];
	snprintf(conf2, sizeof conf2, "%s/wrong.conf", rig.root);
	snprintf(log2, sizeof log2, "%s/wrong.log", rig.root);
	CHECK_INT(harness_system("{ sed 's/" PASSWORD "/" WRONG "/' '%s' "
				 "> '%s'; }", rig.conf, conf2), 0);
	char *argv[] = { (char *)proc_mpdrec(), "--config", conf2, "run",
			 NULL };
	pid_t pid = proc_spawn(argv, log2);
	CHECK(proc_wait_for(log2, "password refused", 0, 10));
	CHECK_INT(proc_stop(pid, SIGTERM, 10, NULL), 0);

	/* The password in MPD_HOST, with a file that leaves mpd.host
	 * unset. */
	char conf3[4400], log3[4400], out[4400];
	snprintf(conf3, sizeof conf3, "%s/env.conf", rig.root);
	snprintf(log3, sizeof log3, "%s/env.log", rig.root);
	snprintf(out, sizeof out, "%s/commands.out", rig.root);
	CHECK_INT(harness_system("{ grep -v '^mpd = ' '%s' > '%s'; }", rig.conf,
				 conf3), 0);
	char env[64], port[32];
	snprintf(env, sizeof env, PASSWORD "@127.0.0.1");
	snprintf(port, sizeof port, "%u", rig.mpd.port);
	setenv("MPD_HOST", env, 1);
	setenv("MPD_PORT", port, 1);
	char *argv3[] = { (char *)proc_mpdrec(), "--config", conf3, "-v",
			  "run", NULL };
	pid = proc_spawn(argv3, log3);
	CHECK(proc_wait_for(log3, "connected to MPD", 0, 10));
	CHECK_INT(cli(conf3, "check-config", out), 0);
	CHECK(file_has(out, "mpd.password             = (set)"));
	CHECK_INT(cli(rig.conf, "check-config", out), 0);
	CHECK_INT(cli(conf3, "status", out), 0);
	CHECK_INT(cli(conf3, "like soft_01.wav", out), 0);
	CHECK(file_has(out, "liked soft_01.wav"));
	/* A password MPD refuses, from MPD_HOST. */
	setenv("MPD_HOST", WRONG "@127.0.0.1", 1);
	CHECK(cli(conf3, "like soft_01.wav", out) != 0);
	/* check-config tries MPD: a refused password is an error there. */
	CHECK_INT(cli(conf3, "check-config", out), 2);
	CHECK(file_has(out, "password refused"));
	CHECK_INT(proc_stop(pid, SIGTERM, 10, NULL), 0);
	unsetenv("MPD_HOST");
	unsetenv("MPD_PORT");

	const char *files[] = { rig.log, log2, log3, out };
	const char *names[] = { "daemon log", "wrong-password log",
				"MPD_HOST daemon log", "command output" };
	for (int i = 0; i < 4; i++) {
		CHECK_MSG(!file_has(files[i], PASSWORD),
			  "the password is in the %s (%s)", names[i],
			  files[i]);
		CHECK_MSG(!file_has(files[i], WRONG),
			  "the wrong password is in the %s (%s)", names[i],
			  files[i]);
	}
	long lines = 0;
	for (int i = 0; i < 4; i++)
		lines += rig_log_count(files[i], 0, "");
	printf("password: in none of %ld lines of daemon logs (debug level, "
	       "a reconnect, a reload, a refused password, MPD_HOST) and "
	       "command output (check-config, status, like)\n", lines);
}

static void check_mode(const char *path, mode_t want, const char *when)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return;	/* -wal/-shm come and go */
	CHECK_MSG((st.st_mode & 0777) == want, "%s: %s is %03o, not %03o",
		  when, path, (unsigned)(st.st_mode & 0777), (unsigned)want);
}

static void check_private(const char *when)
{
	char p[4400];
	check_mode(rig.data, 0700, when);
	const char *files[] = { "mpdrec.db", "mpdrec.db-wal", "mpdrec.db-shm" };
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", rig.data, files[i]);
		check_mode(p, 0600, when);
	}
}

static void test_data_private(void)
{
	if (!CHECK(ready))
		return;
	/* The test's umask is 022: a careless daemon makes 0755/0644. */
	snprintf(rig.data, sizeof rig.data, "%s/fresh/data", rig.root);
	if (CHECK(write_conf()) && CHECK(rig_start_daemon(&rig, 30))) {
		struct stat st;
		char db[4400];
		snprintf(db, sizeof db, "%s/mpdrec.db", rig.data);
		CHECK(stat(db, &st) == 0);
		check_private("while running");
		CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
		check_private("after a run");
		/* Opened up by someone: the next run closes them again. */
		chmod(rig.data, 0755);
		chmod(db, 0644);
		CHECK(rig_start_daemon(&rig, 30));
		check_private("wider modes, while running");
		CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
		check_private("wider modes, after a run");
		struct stat d;
		stat(rig.data, &d);
		stat(db, &st);
		printf("data directory %03o, database %03o after a run under "
		       "umask 022 and after modes 755/644\n",
		       (unsigned)(d.st_mode & 0777),
		       (unsigned)(st.st_mode & 0777));
	}
	snprintf(rig.data, sizeof rig.data, "%s/data", rig.root);
	CHECK(write_conf());
}

/* The log holds the listening history too ("event 12: played URI"): a
 * log file the daemon creates is as private as its database. */
static void test_log_file_private(void)
{
	if (!CHECK(ready))
		return;
	char dir[4400], path[4500], conf[4500], out[4500];
	snprintf(dir, sizeof dir, "%s/logs", rig.root);
	mkdir(dir, 0755);
	snprintf(path, sizeof path, "%s/mpdrec.log", dir);
	snprintf(conf, sizeof conf, "%s/logfile.conf", rig.root);
	snprintf(out, sizeof out, "%s/logfile.out", rig.root);
	CHECK_INT(harness_system("{ { grep -v '^log = ' '%s'; echo 'log = { "
				 "file = \"%s\"; };'; } > '%s'; }", rig.conf,
				 path, conf), 0);
	char *argv[] = { (char *)proc_mpdrec(), "--config", conf, "run",
			 NULL };
	pid_t pid = proc_spawn(argv, out);
	CHECK(proc_wait_for(path, "connected to MPD", 0, 10));
	CHECK_INT(proc_stop(pid, SIGTERM, 10, NULL), 0);
	struct stat st;
	if (CHECK(stat(path, &st) == 0)) {
		printf("log file %03o under umask 022\n",
		       (unsigned)(st.st_mode & 0777));
		CHECK_MSG((st.st_mode & 077) == 0, "%s is %03o: others can "
			  "read the listening history", path,
			  (unsigned)(st.st_mode & 0777));
	}
}

/* Opens of the file inotify watches (drained). */
static int opens(int fd)
{
	char buf[4096] __attribute__((aligned(8)));
	int n = 0;
	ssize_t len;
	while ((len = read(fd, buf, sizeof buf)) > 0)
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *e = (struct inotify_event *)p;
			n += (e->mask & (IN_OPEN | IN_ACCESS)) != 0;
			p += sizeof *e + e->len;
		}
	return n;
}

static void test_uri_outside_music_never_opened(void)
{
	if (!CHECK(ready))
		return;
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (!CHECK(in >= 0) ||
	    !CHECK(inotify_add_watch(in, outside, IN_OPEN | IN_ACCESS) >= 0))
		return;
	if (!CHECK(rig_start_daemon(&rig, 30)))
		return;
	long from = proc_file_size(rig.log);
	struct mpd_connection *c = authed();
	if (!CHECK(c))
		return;
	char abs_uri[4600], file_uri[4600];
	snprintf(abs_uri, sizeof abs_uri, "like %s", outside);
	snprintf(file_uri, sizeof file_uri, "like file://%s", outside);
	const char *msgs[] = {
		"like ../../outside/secret.wav",
		"ban ../../outside/secret.wav",
		"dislike ../../../../../../etc/passwd",
		"like soft_00.wav/../../../outside/secret.wav",
		abs_uri,
		file_uri,
	};
	int n_msgs = (int)(sizeof msgs / sizeof *msgs);
	for (int i = 0; i < n_msgs; i++)
		CHECK(mpd_run_send_message(c, "mpdrec", msgs[i]));
	proc_sleep(0.5);
	/* A library scan (MPD reports a changed database) and a full
	 * analysis pass after them. */
	char touched[4400];
	snprintf(touched, sizeof touched, "%s/soft_01.wav", rig.mpd.music);
	struct timeval tv[2] = { { 1600000000, 0 }, { 1600000000, 0 } };
	CHECK(utimes(touched, tv) == 0);
	CHECK(mpd_run_update(c, NULL));
	mpd_connection_free(c);
	CHECK(proc_wait_for(rig.log, "library scan:", from, 20));
	/* Refused by the command line: not a song MPD knows. */
	char refusal[4400];
	snprintf(refusal, sizeof refusal, "%s/refusal.txt", rig.root);
	CHECK_INT(harness_system("{ '%s' --config '%s' like '%s' 2> '%s'; }",
				 proc_mpdrec(), rig.conf, outside_uri,
				 refusal), 1);
	CHECK(rig_log_count(refusal, 0, "MPD does not know ../../outside/"
			    "secret.wav") == 1);
	CHECK(harness_system("'%s' --config '%s' analyze", proc_mpdrec(),
			     rig.conf) == 0);
	/* show is refused: not a track of the library. */
	CHECK(harness_system("'%s' --config '%s' show '%s'", proc_mpdrec(),
			     rig.conf, outside_uri) != 0);
	CHECK(harness_system("'%s' --config '%s' show ../../../etc/passwd",
			     proc_mpdrec(), rig.conf) != 0);
	proc_sleep(0.5);
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	int seen = opens(in);
	CHECK_MSG(seen == 0, "%s was opened %d times", outside, seen);

	char err[512];
	struct store *s = store_open(rig.data, err, sizeof err);
	if (CHECK_MSG(s, "%s", err)) {
		const char *uris[] = { outside_uri, outside,
				       "../../../../../../etc/passwd" };
		for (int i = 0; i < 3; i++) {
			enum store_status st = STORE_PENDING;
			float v[FEAT_COUNT];
			if (store_get_track(s, uris[i], FEATURES_VERSION,
					    FEAT_COUNT, v, &st, NULL))
				CHECK_MSG(st != STORE_ANALYSED,
					  "%s was analysed", uris[i]);
		}
		store_close(s);
	}
	/* The watch works: our own read is seen. */
	FILE *f = fopen(outside, "rb");
	if (f)
		fclose(f);
	CHECK_MSG(opens(in) > 0, "inotify saw no open at all");
	close(in);
	printf("URIs outside music_directory: %d channel messages, mpdrec "
	       "like, a scan, mpdrec analyze, 2 refused mpdrec show: the "
	       "file was opened 0 times\n", n_msgs);
}

static void test_channel_bound(void)
{
	if (!CHECK(ready) || !CHECK(rig_start_daemon(&rig, 30)))
		return;
	long from = proc_file_size(rig.log);
	struct mpd_connection *c = authed();
	if (!CHECK(c))
		return;
	static char big[4001];
	memcpy(big, "like ", 5);
	memset(big + 5, 'a', sizeof big - 6);
	CHECK(mpd_run_send_message(c, "mpdrec", big));
	big[1025] = '\0';	/* 1,025 bytes: one over */
	CHECK(mpd_run_send_message(c, "mpdrec", big));
	CHECK(proc_wait_for(rig.log, "longer than 1024 bytes", from, 5));
	proc_sleep(0.3);
	CHECK_INT(rig_log_count(rig.log, from, "longer than 1024 bytes"), 2);
	CHECK_INT(rig_log_count(rig.log, from, "info: event "), 0);
	/* Still there and listening to the channel. */
	CHECK(mpd_run_send_message(c, "mpdrec", "like soft_02.wav"));
	CHECK(proc_wait_for(rig.log, "like soft_02.wav", from, 5));
	mpd_connection_free(c);
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	printf("channel: messages of 4,000 and 1,025 bytes refused (bound "
	       "1,024), the daemon listens on\n");
}

/* Sends messages as a hostile client would, on a socket of its own
 * (libmpdclient will not send a line over 4 kB either). Returns how many
 * MPD took ("OK"); MPD drops a client whose line is too long for it. */
static int send_raw(const char *text, int times)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)rig.mpd.port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	FILE *in = fdopen(dup(fd), "r");
	char line[256];
	int ok = 0;
	if (!in || !fgets(line, sizeof line, in))
		goto out;
	dprintf(fd, "password \"%s\"\n", PASSWORD);
	if (!fgets(line, sizeof line, in) || strncmp(line, "OK", 2))
		goto out;
	for (int i = 0; i < times; i++) {
		if (dprintf(fd, "sendmessage mpdrec \"%s\"\n", text) < 0 ||
		    !fgets(line, sizeof line, in) || strncmp(line, "OK", 2))
			break;
		ok++;
	}
out:
	if (in)
		fclose(in);
	close(fd);
	return ok;
}

static char *long_message(const char *verb, size_t size)
{
	char *m = malloc(size + 1);
	if (!m)
		return NULL;
	memset(m, 'x', size);
	memcpy(m, verb, strlen(verb));
	m[strlen(verb)] = ' ';
	m[size] = '\0';
	return m;
}

/* Issue 13: a message of about 5,000 bytes exceeds libmpdclient's 4 kB
 * line: the daemon's one connection was dropped, the other messages of the
 * batch lost, and the watcher reset, so the song playing lost its verdict;
 * sent again and again, it kept the daemon deaf. Now the channel has a
 * connection of its own, read in bounded memory. A 5,000-byte and a
 * 100,000-byte message (MPD itself drops a client that sends a line that
 * long) between a like and a full play, then 30 more of 5,000 bytes: the
 * like is recorded, the full play gets its label, the channel still
 * listens, and the daemon's MPD connection never dropped. */
static void test_channel_survives_long_messages(void)
{
	if (!CHECK(ready) || !CHECK(rig_start_daemon(&rig, 30)))
		return;
	long from = proc_file_size(rig.log);
	struct mpd_connection *c = authed();
	if (!CHECK(c))
		return;
	CHECK(mpd_run_clear(c) && mpd_run_add(c, "long.wav") &&
	      mpd_run_play_pos(c, 0));
	CHECK(proc_wait_for(rig.log, "player: play song", from, 5));
	char *m5k = long_message("like", 5000);
	char *m100k = long_message("dislike", 100000);
	if (!CHECK(m5k && m100k))
		goto out;
	CHECK(mpd_run_send_message(c, "mpdrec", "like"));
	CHECK_INT(send_raw(m5k, 1), 1);
	CHECK_MSG(send_raw(m100k, 1) == 0, "MPD passed a 100,000-byte "
		  "message on");
	CHECK(mpd_run_send_message(c, "mpdrec", "dislike soft_02.wav"));
	/* A hostile client, again and again. */
	int sent = send_raw(m5k, 30);
	CHECK_INT(sent, 30);
	CHECK(mpd_run_send_message(c, "mpdrec", "ban soft_01.wav"));
	/* long.wav plays to its end. */
	CHECK(proc_wait_for(rig.log, "played long.wav", from, 15));
	CHECK(proc_wait_for(rig.log, "ban soft_01.wav", from, 5));
	int likes = rig_log_count(rig.log, from, "like long.wav (label 1");
	int played = rig_log_count(rig.log, from, "played long.wav (label 1");
	int refused = rig_log_count(rig.log, from, "longer than 1024 bytes");
	int drops = rig_log_count(rig.log, from, "Response line too large") +
		    rig_log_count(rig.log, from, "retrying in the background") +
		    rig_log_count(rig.log, from, "lost during");
	CHECK_INT(likes, 1);
	CHECK_INT(played, 1);
	CHECK_INT(rig_log_count(rig.log, from, "dislike soft_02.wav (label 0"),
		  1);
	CHECK_MSG(refused >= 10, "%d refusals logged", refused);
	CHECK_INT(drops, 0);
	CHECK_INT(rig_log_count(rig.log, from, "info: event "), 4);
	printf("channel: a like, a 5,000-byte message, a 100,000-byte one "
	       "(MPD dropped its sender), a dislike, %d more of 5,000 bytes "
	       "and a ban: the like, the dislike, the ban and the full play "
	       "recorded (4 events), %d refusals logged, the daemon's MPD "
	       "connection dropped %d times\n", sent, refused, drops);
out:
	mpd_run_stop(c);
	mpd_connection_free(c);
	free(m5k);
	free(m100k);
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
}

int main(void)
{
	umask(022);
	setup();
	RUN(test_password_never_shown);
	RUN(test_data_private);
	RUN(test_log_file_private);
	RUN(test_uri_outside_music_never_opened);
	RUN(test_channel_bound);
	RUN(test_channel_survives_long_messages);
	if (rig.pid > 0)
		rig_stop_daemon(&rig, SIGTERM, 5);
	mpdtest_stop(&rig.mpd);
	return harness_finish();
}
